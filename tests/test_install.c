/* `make install` for library users: install this build into a staging
 * directory (DESTDIR, prefix /opt/vmsim, as a packager would), then build
 * examples/translate.c against the staged tree twice — with pkg-config and
 * with a CMake project that calls find_package(vmsim) — run it, and check
 * its numbers against a derivation by hand (docs/library.md):
 *
 *   The example writes one word in each of N consecutive pages of a 2 MiB
 *   aligned block, then reads them again, with no TLB and no page-walk cache,
 *   on 4-level x86-64 radix tables (the default geometry).
 *   - accesses = translations = 2N (each access within one page);
 *   - each first write walks, finds no entry, takes a demand-zero write
 *     fault, and walks again: N faults, 2N walks; each read walks once: N;
 *     walks = 3N;
 *   - references: the very first walk stops at the empty root entry (1);
 *     the other N-1 first walks reach the empty level-1 entry (4 each);
 *     every retry and every read walks all 4 levels (4 each, 2N of them):
 *     1 + 4(N-1) + 8N = 12N - 3;
 *   - tables below the root: one of each of levels 3, 2, 1 (the N pages
 *     share one level-1 table): 3 x 4 KiB = 12288 bytes.
 *
 * Also: every installed header compiles on its own with only the installed
 * include directory (no private header leaks into the public API). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define N 100
#define PREFIX "/opt/vmsim"

/* Run a shell command; its stdout and stderr go to *out (free). */
static int sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sh(char **out, const char *fmt, ...)
{
    char cmd[8192], full[8400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char *log = temp_path(".log");
    snprintf(full, sizeof full, "(%s) >%s 2>&1", cmd, log);
    int st = system(full);
    char *text = read_file(log, NULL);
    unlink(log);
    free(log);
    if (out)
        *out = text;
    else
        free(text);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Run a shell command that must succeed; fail with its output if not. */
#define MUST(what, ...)                                                                            \
    do {                                                                                           \
        char *must_out;                                                                            \
        int must_st = sh(&must_out, __VA_ARGS__);                                                  \
        if (must_st != 0) fail_msg("%s: status %d\n%s", what, must_st, must_out ? must_out : "");  \
        free(must_out);                                                                            \
    } while (0)

static void check_output(const char *how, const char *out)
{
    char want[512];
    snprintf(want, sizeof want,
             "accesses %d\ntranslations %d\nfaults %d\ndemand_zero_writes %d\nwalks %d\n"
             "walk_refs %d\npage_table_bytes 12288\ntables_l3_l2_l1 1 1 1\n",
             2 * N, 2 * N, N, N, 3 * N, 12 * N - 3);
    if (strcmp(out, want) != 0)
        fail_msg("%s: translate %d printed\n%s\nexpected\n%s", how, N, out, want);
}

/* Everything the test makes, removed by the teardown even when it fails. */
static char *dest, *bdir, *bdir2, *pdir, *exe;

static int make_paths(void **state)
{
    (void)state;
    dest = temp_path(".destdir");
    bdir = temp_path(".cmake-example");
    bdir2 = temp_path(".cmake-v9");
    pdir = temp_path(".cmake-v9-src");
    exe = temp_path(".translate");
    return 0;
}

static int remove_paths(void **state)
{
    (void)state;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s %s %s %s", dest, bdir, bdir2, pdir, exe);
    int st = system(cmd);
    free(dest);
    free(bdir);
    free(bdir2);
    free(pdir);
    free(exe);
    return st == 0 ? 0 : -1;
}

static void test_install_and_build_example(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(mkdir(dest, 0700), 0);
    MUST("cmake --install", "DESTDIR=%s cmake --install %s --prefix " PREFIX, dest,
         VMSIM_BUILD_DIR);

    char root[512];
    snprintf(root, sizeof root, "%s" PREFIX, dest);
    const char *files[] = {"include/vmsim/vmsim.h",
                           "include/vmsim/event.h",
                           "include/vmsim/types.h",
                           "include/vmsim/version.h",
                           "lib/libvmsim.a",
                           "lib/libvmsim.so",
                           "lib/libvmsim.so.0",
                           "lib/pkgconfig/vmsim.pc",
                           "lib/cmake/vmsim/vmsimConfig.cmake",
                           "lib/cmake/vmsim/vmsimConfigVersion.cmake",
                           "bin/vmsim",
                           "share/man/man1/vmsim.1",
                           "share/bash-completion/completions/vmsim"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", root, files[i]);
        if (access(p, R_OK) != 0)
            fail_msg("not installed: %s", p);
    }

    /* Each public header alone, with nothing but the installed include dir. */
    const char *headers[] = {"vmsim.h", "event.h", "types.h", "version.h"};
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char src[128];
        snprintf(src, sizeof src, "#include <vmsim/%s>\nint main(void) { return 0; }\n",
                 headers[i]);
        char *c = write_temp(src, strlen(src), ".c");
        MUST(headers[i], "%s -std=c11 -Wall -Werror -fsyntax-only -I%s/include %s", VMSIM_CC, root,
             c);
        unlink(c);
        free(c);
    }

    /* One version everywhere: the header's, the library's at run time
     * (vmsim_version, linked into this test), the .pc's. */
    assert_string_equal(vmsim_version(), VMSIM_VERSION_STRING);
    assert_int_equal(sh(&out, "PKG_CONFIG_PATH=%s/lib/pkgconfig pkg-config --modversion vmsim",
                        root), 0);
    assert_string_equal(out, VMSIM_VERSION_STRING "\n");
    free(out);
    /* The shared library's SONAME carries the major version (0.1.0: 0). */
    assert_int_equal(sh(&out, "readelf -d %s/lib/libvmsim.so", root), 0);
    expect_in("readelf -d libvmsim.so", out, "Library soname: [libvmsim.so.0]");
    free(out);

    /* pkg-config: relocatable .pc, found through PKG_CONFIG_PATH. A program
     * that only feeds events links -lvmsim alone: the shared library
     * carries jansson and the compression libraries itself, so neither
     * their -dev packages nor their .pc files are required; --static adds
     * them for libvmsim.a. */
    assert_int_equal(sh(&out, "PKG_CONFIG_PATH=%s/lib/pkgconfig pkg-config --libs vmsim; "
                              "PKG_CONFIG_PATH=%s/lib/pkgconfig pkg-config --print-requires "
                              "--print-requires-private vmsim", root, root), 0);
    char want[1024];
    snprintf(want, sizeof want, "-L%s/lib/pkgconfig/../../lib -lvmsim \n", root);
    if (strcmp(out, want) != 0)
        fail_msg("pkg-config --libs / requires: \"%s\", expected \"%s\"", out, want);
    free(out);
    MUST("pkg-config build (shared)",
         "PKG_CONFIG_PATH=%s/lib/pkgconfig; export PKG_CONFIG_PATH; "
         "%s -std=c11 %s %s/examples/translate.c $(pkg-config --cflags --libs vmsim) -o %s",
         root, VMSIM_CC, VMSIM_EXAMPLE_FLAGS, VMSIM_SOURCE_DIR, exe);
    assert_int_equal(sh(&out, "readelf -d %s", exe), 0);
    expect_in("the example links the shared library", out, "Shared library: [libvmsim.so.0]");
    if (strstr(out, "libz.") || strstr(out, "libzstd") || strstr(out, "liblzma") ||
        strstr(out, "libjansson"))
        fail_msg("the example itself needs a dependency of libvmsim:\n%s", out);
    free(out);
    assert_int_equal(sh(&out, "LD_LIBRARY_PATH=%s/lib %s %d", root, exe, N), 0);
    check_output("pkg-config, shared", out);
    free(out);
    MUST("pkg-config build (static)",
         "PKG_CONFIG_PATH=%s/lib/pkgconfig; export PKG_CONFIG_PATH; "
         "%s -std=c11 %s %s/examples/translate.c $(pkg-config --cflags vmsim) "
         "%s/lib/libvmsim.a $(pkg-config --static --libs vmsim | sed 's/-lvmsim //') -o %s",
         root, VMSIM_CC, VMSIM_EXAMPLE_FLAGS, VMSIM_SOURCE_DIR, root, exe);
    assert_int_equal(sh(&out, "readelf -d %s", exe), 0);
    if (strstr(out, "libvmsim"))
        fail_msg("the static build needs libvmsim.so:\n%s", out);
    free(out);
    assert_int_equal(sh(&out, "%s %d", exe, N), 0);
    check_output("pkg-config, static", out);
    free(out);

    /* CMake: examples/CMakeLists.txt, find_package(vmsim 0.1) -> vmsim::vmsim. */
    MUST("cmake configure examples/",
         "cmake -S %s/examples -B %s -DCMAKE_PREFIX_PATH=%s -DCMAKE_C_COMPILER=%s "
         "-DCMAKE_C_FLAGS='%s' -DCMAKE_EXE_LINKER_FLAGS='%s'",
         VMSIM_SOURCE_DIR, bdir, root, VMSIM_CC, VMSIM_EXAMPLE_FLAGS, VMSIM_EXAMPLE_FLAGS);
    MUST("cmake build examples/", "cmake --build %s", bdir);
    assert_int_equal(sh(&out, "%s/translate %d", bdir, N), 0);
    check_output("cmake find_package", out);
    free(out);

    /* A version the package cannot satisfy is refused (the version file). */
    char proj[] = "cmake_minimum_required(VERSION 3.20)\nproject(v9 LANGUAGES C)\n"
                  "find_package(vmsim 9.0 REQUIRED)\n";
    assert_int_equal(mkdir(pdir, 0700), 0);
    char lists[1024];
    snprintf(lists, sizeof lists, "%s/CMakeLists.txt", pdir);
    FILE *f = fopen(lists, "w");
    assert_non_null(f);
    fputs(proj, f);
    fclose(f);
    int st = sh(&out, "cmake -S %s -B %s -DCMAKE_PREFIX_PATH=%s", pdir, bdir2, root);
    if (st == 0 || !strstr(out, "0.1.0"))
        fail_msg("find_package(vmsim 9.0) should fail naming version 0.1.0: status %d\n%s", st,
                 out);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_install_and_build_example, make_paths, remove_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
