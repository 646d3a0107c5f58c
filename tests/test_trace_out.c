/* Traces out: vmsim convert and vmsim record write gzip, xz or zstd by the
 * output's name (docs/cli.md, "vmsim convert"; docs/traces.md, "Compressed
 * traces"), refuse a compression they do not write, and convert's --skip
 * and --max.
 *
 * Every compressed file is checked three ways: its magic bytes (RFC 1952's
 * 1f 8b, xz's fd 37 7a 58 5a 00, RFC 8878's 28 b5 2f fd), the system's own
 * decompressor (gzip, xz, zstd: code that shares nothing with vmsim) giving
 * exactly the bytes of the plain conversion, and vmsim reading it back
 * to the same events. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "vmsim/event.h"

static const struct {
    const char *suffix, *tool;
    unsigned char magic[6];
    size_t magic_len;
} comps[] = {
    {".gz", "gzip", {0x1f, 0x8b}, 2},
    {".xz", "xz", {0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00}, 6},
    {".zst", "zstd", {0x28, 0xb5, 0x2f, 0xfd}, 4},
};

static char *input_trace(void)
{
    char *path = malloc(4096);
    snprintf(path, 4096, "%s/trace_text_all.txt", VMSIM_TEST_DATA);
    return path;
}

static char *slurp(const char *path, size_t *len)
{
    char *s = read_file(path, len);
    if (!s)
        fail_msg("cannot read %s", path);
    return s;
}

static void convert_ok(const char *args)
{
    struct cmd_result r = run_vmsim("convert %s", args);
    if (r.status != 0)
        fail_msg("vmsim convert %s: status %d\n%s", args, r.status, r.err);
    cmd_result_free(&r);
}

/* OUT.vmt.C and OUT.txt.C for each compression C: magic, the system tool's
 * decompression equals the plain file, vmsim reads them back. */
static void test_convert_roundtrip(void **state)
{
    (void)state;
    char *in = input_trace();
    char *plain_bin = temp_path(".vmt"), *plain_txt = temp_path(".txt");
    char args[8192];
    snprintf(args, sizeof args, "%s %s", in, plain_bin);
    convert_ok(args);
    snprintf(args, sizeof args, "%s %s", in, plain_txt);
    convert_ok(args);
    size_t bin_len, txt_len;
    char *bin = slurp(plain_bin, &bin_len), *txt = slurp(plain_txt, &txt_len);
    assert_true(bin_len > 8 && !memcmp(bin, "VMSIMBT", 7)); /* .vmt: the binary format */
    for (size_t i = 0; i < sizeof comps / sizeof comps[0]; i++) {
        for (int text = 0; text < 2; text++) {
            char suffix[16];
            snprintf(suffix, sizeof suffix, "%s%s", text ? ".txt" : ".vmt", comps[i].suffix);
            char *out = temp_path(suffix);
            snprintf(args, sizeof args, "%s %s", in, out);
            convert_ok(args);
            size_t len;
            char *data = slurp(out, &len);
            if (len < comps[i].magic_len || memcmp(data, comps[i].magic, comps[i].magic_len))
                fail_msg("%s does not start with %s's magic", out, comps[i].tool);
            free(data);
            /* the system's decompressor gives the plain file's bytes */
            if (on_path(comps[i].tool)) {
                char *back = temp_path(text ? ".txt" : ".vmt"), cmd[8300];
                snprintf(cmd, sizeof cmd, "%s -dc < %s > %s", comps[i].tool, out, back);
                assert_int_equal(system(cmd), 0);
                size_t blen;
                char *b = slurp(back, &blen);
                const char *want = text ? txt : bin;
                const size_t want_len = text ? txt_len : bin_len;
                if (blen != want_len || memcmp(b, want, blen))
                    fail_msg("%s -dc %s differs from the plain conversion", comps[i].tool, out);
                free(b);
                unlink(back);
                free(back);
            }
            /* vmsim reads it back: converted to text, the same text */
            char *again = temp_path(".txt");
            snprintf(args, sizeof args, "%s %s", out, again);
            convert_ok(args);
            size_t alen;
            char *a = slurp(again, &alen);
            if (alen != txt_len || memcmp(a, txt, alen))
                fail_msg("%s read back differs from the input", out);
            free(a);
            unlink(again);
            free(again);
            unlink(out);
            free(out);
        }
    }
    free(bin);
    free(txt);
    unlink(plain_bin);
    unlink(plain_txt);
    free(plain_bin);
    free(plain_txt);
    free(in);
}

/* A compression vmsim does not write: a usage error and no file, from the
 * command and from the library. */
static void test_unknown_compression_refused(void **state)
{
    (void)state;
    char *in = input_trace();
    static const char *const bad[] = {".vmt.bz2", ".txt.lz4", ".vmt.zstd"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out = temp_path(bad[i]);
        struct cmd_result r = run_vmsim("convert %s %s", in, out);
        assert_int_equal(r.status, 2);
        expect_in("convert", r.err, "expected .gz, .xz or .zst");
        expect_in("convert", r.err, strrchr(bad[i], '.'));
        assert_int_not_equal(access(out, F_OK), 0);
        cmd_result_free(&r);
        struct vmsim_sink *sink = NULL;
        assert_int_equal(vmsim_sink_open(out, "bin", &sink), VMSIM_EUNSUPPORTED);
        assert_null(sink);
        assert_int_not_equal(access(out, F_OK), 0);
        free(out);
    }
    free(in);
}

/* The library writes by the name too: events written to t.vmt.zst come
 * back the same. */
static void test_library_sink(void **state)
{
    (void)state;
    struct vmsim_event ev[3] = {ev_os(VMSIM_EV_SPAWN, 0, 7, 0, 0),
                                ev_access(VMSIM_WRITE, 7, 0x12345678),
                                ev_os(VMSIM_EV_EXIT, 0, 7, 0, 0)};
    for (size_t i = 0; i < sizeof comps / sizeof comps[0]; i++) {
        char suffix[16];
        snprintf(suffix, sizeof suffix, ".vmt%s", comps[i].suffix);
        char *path = temp_path(suffix);
        struct vmsim_sink *sink;
        assert_int_equal(vmsim_sink_open(path, NULL, &sink), 0);
        assert_int_equal(vmsim_sink_write(sink, ev, 3), 0);
        assert_int_equal(vmsim_sink_close(sink), 0);
        struct vmsim_source *src;
        struct vmsim_source_error err;
        assert_int_equal(vmsim_source_open_trace(path, NULL, &src, &err), 0);
        struct vmsim_event back[4];
        assert_int_equal(vmsim_source_next(src, back, 4), 3);
        for (int k = 0; k < 3; k++) {
            assert_int_equal(back[k].type, ev[k].type);
            assert_int_equal(back[k].pid, ev[k].pid);
            assert_int_equal(back[k].addr, ev[k].addr);
        }
        vmsim_source_close(src);
        unlink(path);
        free(path);
    }
}

/* --skip 2 --max 2 of a trace: by hand, the two accesses after the first
 * two, and every OS event before the last of them. */
static void test_convert_skip_max(void **state)
{
    (void)state;
    static const char t[] = "spawn 1\n"
                            "R 1 0x1000 8\n"
                            "R 1 0x2000 8\n"
                            "mmap 1 0x100000 8192 rw-\n"
                            "R 1 0x3000 8\n"
                            "W 1 0x100000 8\n"
                            "R 1 0x4000 8\n"
                            "exit 1\n";
    char *in = write_temp(t, strlen(t), ".txt");
    struct cmd_result r = run_vmsim("convert --skip 2 --max 2 %s -", in);
    assert_int_equal(r.status, 0);
    const char *body = strchr(r.out, '\n'); /* after the header comment */
    assert_non_null(body);
    assert_string_equal(body + 1, "spawn 1\nmmap 1 0x100000 8192 rw-\nR 1 0x3000 8\n"
                                  "W 1 0x100000 8\n");
    cmd_result_free(&r);
    r = run_vmsim("convert --max 0 %s -", in);
    assert_int_equal(r.status, 2);
    expect_in("convert --max 0", r.err, "--max: expected a number of accesses");
    cmd_result_free(&r);
    unlink(in);
    free(in);
}

/* vmsim record writes COMMAND.vmt.zst by default; -o NAME.vmt is plain. */
static void test_record_default_compressed(void **state)
{
    (void)state;
    if (!on_path("valgrind"))
        skip();
    char dir[] = "/tmp/vmsim_rec_XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct cmd_result r = run_vmsim("--version >/dev/null; cd %s && %s record --quiet -- "
                                    "/bin/true && %s record --quiet -o plain.vmt -- /bin/true",
                                    dir, VMSIM_BIN, VMSIM_BIN);
    if (r.status != 0)
        fail_msg("record: status %d\n%s", r.status, r.err);
    cmd_result_free(&r);
    char path[256];
    snprintf(path, sizeof path, "%s/true.vmt.zst", dir);
    size_t len;
    char *z = slurp(path, &len);
    assert_true(len > 4 && !memcmp(z, comps[2].magic, 4));
    free(z);
    char plain[256];
    snprintf(plain, sizeof plain, "%s/plain.vmt", dir);
    char *p = slurp(plain, &len);
    assert_true(len > 8 && !memcmp(p, "VMSIMBT", 7));
    free(p);
    /* the same accesses in both (the two runs of /bin/true are alike) */
    r = run_vmsim("run --trace %s --quiet --json - --tlb l1=4x4", path);
    struct cmd_result q = run_vmsim("run --trace %s --quiet --json - --tlb l1=4x4", plain);
    assert_int_equal(r.status, 0);
    assert_int_equal(q.status, 0);
    assert_true(json_number(r.out, "accesses") > 1000);
    assert_int_equal(json_number(r.out, "accesses"), json_number(q.out, "accesses"));
    cmd_result_free(&r);
    cmd_result_free(&q);
    unlink(path);
    unlink(plain);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_convert_roundtrip),
        cmocka_unit_test(test_unknown_compression_refused),
        cmocka_unit_test(test_library_sink),
        cmocka_unit_test(test_convert_skip_max),
        cmocka_unit_test(test_record_default_compressed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
