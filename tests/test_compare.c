/* Seed 003's comparisons of page-table organizations, reproduced through
 * `vmsim compare` and the library; every expected number comes from the
 * layouts in docs/organizations.md, worked out by hand below.
 *
 * The workload: `cloud` with one region of one page per tenant, every
 * access a write (no zero-page sharing), no churn, slices of 100 accesses
 * so that 200,000 accesses give every tenant (at most 2000) its slice.
 * Each tenant thus maps exactly one 4 KiB page, at the start of a 1 GiB
 * slot of its own:
 *   radix (x86-64, 4 levels): root + PDPT + PD + PT = 4 tables = 16 KiB
 *     per tenant;
 *   hashed, per-process (chaining): a 1024-bucket array (8 KiB) and one
 *     node frame (4 KiB) per tenant = 12 KiB;
 *   hashed, global: one 65536-bucket array (512 KiB) and ceil(T / 170)
 *     node frames (24-byte nodes, 170 per frame);
 *   inverted: F frame entries x 16 B + A anchors x 4 B, F = memory / 4 KiB
 *     and A the power of two >= F, whatever the number of tenants. */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine/debug.h"
#include "testutil.h"
#include "vmsim/vmsim.h"

#define CLOUD "cloud:regions=1,rsize=4k,churn=0,write=1,n=200000,slice=100"
#define KIB 1024ll

static json_t *compare_json(const char *args)
{
    struct cmd_result r = run_vmsim("compare %s --json -", args);
    if (r.status != 0)
        fail_msg("vmsim compare %s: status %d\n%s", args, r.status, r.err);
    json_error_t jerr;
    json_t *j = json_loads(r.out, 0, &jerr);
    if (!j)
        fail_msg("compare --json - is not JSON (%s):\n%s", jerr.text, r.out);
    cmd_result_free(&r);
    return j;
}

static long long run_bytes(json_t *j, size_t i)
{
    json_t *run = json_array_get(json_object_get(j, "runs"), i);
    assert_non_null(run);
    return json_integer_value(json_object_get(run, "page_table_bytes"));
}

/* The break-even pair for `what`, as "KEY=LOW" / "KEY=HIGH" values. */
static void expect_break_even(json_t *j, const char *what, const char *low, const char *high)
{
    json_t *pair = json_object_get(json_object_get(j, "break_even"), what);
    if (!json_is_array(pair))
        fail_msg("no break-even in %s", what);
    assert_string_equal(json_string_value(json_array_get(pair, 0)), low);
    assert_string_equal(json_string_value(json_array_get(pair, 1)), high);
}

/* Seed 003: the inverted table's size is fixed by physical memory, while a
 * radix tree and per-process hashed tables grow with the processes; so a
 * break-even exists. With 64 MiB: F = A = 16384, inverted = 16384 x 16 +
 * 16384 x 4 = 320 KiB; radix = 16 KiB x T; they cross at T = 20, between
 * the values 16 and 32 given. */
static void test_inverted_constant(void **state)
{
    (void)state;
    static const long long tenants[] = {1, 2, 4, 8, 16, 32, 64, 128};
    json_t *j = compare_json("--mem 64m --pt radix --pt inverted --pt hashed --workload " CLOUD
                             " --vary tenants=1,2,4,8,16,32,64,128");
    for (size_t v = 0; v < 8; v++) {
        const long long t = tenants[v];
        assert_int_equal(run_bytes(j, 3 * v), 16 * KIB * t);
        assert_int_equal(run_bytes(j, 3 * v + 1), 16384 * 16 + 16384 * 4);
        assert_int_equal(run_bytes(j, 3 * v + 2), 12 * KIB * t);
    }
    expect_break_even(j, "page_table_bytes", "tenants=16", "tenants=32");
    json_decref(j);
}

/* The same break-even as physical memory grows: the inverted table grows
 * with memory (F = A = mem / 4 KiB: 20 B per frame), radix does not (64
 * tenants: 64 x 16 KiB = 1 MiB). Inverted: 32m 160 KiB, 64m 320 KiB,
 * 128m 640 KiB, 256m 1.25 MiB: it passes 1 MiB between 128m and 256m. */
static void test_break_even_memory(void **state)
{
    (void)state;
    static const long long mem[] = {32, 64, 128, 256};
    json_t *j = compare_json("--pt inverted --pt radix --workload " CLOUD
                             ",tenants=64 --vary mem=32m,64m,128m,256m");
    for (size_t v = 0; v < 4; v++) {
        const long long frames = mem[v] * 256;
        assert_int_equal(run_bytes(j, 2 * v), frames * 20);
        assert_int_equal(run_bytes(j, 2 * v + 1), 64 * 16 * KIB);
    }
    expect_break_even(j, "page_table_bytes", "mem=128m", "mem=256m");
    json_decref(j);
}

/* Seed 003, "Per-Process vs. Global Hashed Tables": per-process tables
 * each pay their own fixed part (here a 1024-bucket array and a node frame,
 * 12 KiB), a global one pays its bigger array once (512 KiB) and packs every
 * node together: the difference is T x 12 KiB - (512 KiB + 4 KiB x
 * ceil(T / 170)), negative below T = 43 and positive above. */
static void test_per_process_vs_global(void **state)
{
    (void)state;
    static const long long tenants[] = {1, 8, 32, 64, 128, 256};
    json_t *j = compare_json("--mem 64m --pt hashed --pt hashed:scope=global --workload " CLOUD
                             " --vary tenants=1,8,32,64,128,256");
    for (size_t v = 0; v < 6; v++) {
        const long long t = tenants[v];
        const long long global = 512 * KIB + 4 * KIB * ((t + 169) / 170);
        assert_int_equal(run_bytes(j, 2 * v), 12 * KIB * t);
        assert_int_equal(run_bytes(j, 2 * v + 1), global);
    }
    expect_break_even(j, "page_table_bytes", "tenants=32", "tenants=64");
    json_decref(j);
}

/* Seed 003: a table shared by P address spaces adds ceil(log2 P) bits to
 * each entry: 0 for one space, 1 for 2, 2 for 3, 7 for 128, 8 for 129, 12
 * for 4096. Tables of their own (radix, per-process hashed) need none. */
static void test_space_tag_bits(void **state)
{
    (void)state;
    static const struct {
        unsigned procs, bits;
    } cases[] = {{1, 0}, {2, 1}, {3, 2}, {128, 7}, {129, 8}, {4096, 12}};
    static const struct {
        const char *pt;
        bool shared;
    } orgs[] = {{"inverted", true}, {"hashed:scope=global", true}, {"ppc", true},
                {"radix", false},   {"hashed", false},             {"cuckoo", false}};
    for (size_t o = 0; o < sizeof orgs / sizeof orgs[0]; o++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            struct vmsim_config cfg;
            vmsim_config_default(&cfg);
            cfg.ntlb = 0;
            cfg.phys_bytes = 256ull << 20;
            snprintf(cfg.pt, sizeof cfg.pt, "%s", orgs[o].pt);
            struct vmsim *sim;
            assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
            for (unsigned p = 1; p <= cases[c].procs; p++)
                assert_int_equal(vmsim_map_page(sim, p, 0x400000, 12), VMSIM_OK);
            struct vmsim_pt_footprint fp;
            vmsim_footprint(sim, &fp);
            if (fp.shared_by != (orgs[o].shared ? cases[c].procs : 0) ||
                fp.space_tag_bits != (orgs[o].shared ? cases[c].bits : 0))
                fail_msg("%s, %u processes: shared by %llu, %u tag bits", orgs[o].pt,
                         cases[c].procs, (unsigned long long)fp.shared_by, fp.space_tag_bits);
            vmsim_destroy(sim);
        }
}

/* Write text to dir/name. */
static void put_file(const char *dir, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* One present pagemap entry (bit 63) for the page at va. */
static void put_present(const char *dir, uint64_t va)
{
    char p[512];
    snprintf(p, sizeof p, "%s/pagemap", dir);
    const int fd = open(p, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    const uint64_t e = 1ull << 63;
    assert_int_equal(pwrite(fd, &e, 8, (off_t)(va / 4096 * 8)), 8);
    assert_int_equal(close(fd), 0);
}

/* vmsim compare on a process snapshot (a hand-made /proc directory, the
 * format of docs/snapshot.md): a transparent huge page at 2 MiB (smaps
 * AnonHugePages, 512 present entries), a base page at 4 MiB and one at
 * 0x7f0000000000. Each organization maps the same pages and reads each
 * once: 3 accesses, 3 cold TLB misses, 3 walks. Radix: the root, a PDPT
 * and a PD for each of the two PML4 entries (0 and 254), a PT for each base
 * page and the PT Linux deposits for the huge page: 8 tables, 32 KiB.
 * Hashed (per process): its 8 KiB bucket array and one node frame, 12 KiB.
 * Inverted (base pages only, so the huge page is 512 entries): 320 KiB at
 * 64 MiB as above; it needs no overflow. */
static void test_snapshot_input(void **state)
{
    (void)state;
    char dir[] = "/tmp/vmsim-cmp-XXXXXX";
    assert_non_null(mkdtemp(dir));
    put_file(dir, "maps", "00200000-00600000 rw-p 00000000 00:00 0 \n"
                          "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n");
    put_file(dir, "smaps", "00200000-00600000 rw-p 00000000 00:00 0 \n"
                           "Size:               4096 kB\n"
                           "KernelPageSize:        4 kB\n"
                           "Rss:                2052 kB\n"
                           "AnonHugePages:      2048 kB\n"
                           "Swap:                  0 kB\n"
                           "VmFlags: rd wr mr mw me ac \n"
                           "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n"
                           "Size:                  4 kB\n"
                           "KernelPageSize:        4 kB\n"
                           "Rss:                   4 kB\n"
                           "AnonHugePages:         0 kB\n"
                           "Swap:                  0 kB\n"
                           "VmFlags: rd wr mr mw me ac \n");
    for (uint64_t va = 0x200000; va < 0x400000; va += 4096)
        put_present(dir, va);
    put_present(dir, 0x400000);
    put_present(dir, 0x7f0000000000);
    char args[512];
    snprintf(args, sizeof args,
             "--mem 64m --pt radix --pt hashed --pt inverted --pt cuckoo --pt clustered --proc %s",
             dir);
    json_t *j = compare_json(args);
    assert_int_equal(run_bytes(j, 0), 32 * KIB);
    assert_int_equal(run_bytes(j, 1), 12 * KIB);
    assert_int_equal(run_bytes(j, 2), 320 * KIB);
    for (size_t i = 0; i < 5; i++) {
        json_t *run = json_array_get(json_object_get(j, "runs"), i);
        assert_int_equal(json_integer_value(json_object_get(run, "accesses")), 3);
        assert_int_equal(json_integer_value(json_object_get(run, "walks")), 3);
        assert_int_equal(json_integer_value(json_object_get(run, "faults")), 0);
    }
    json_decref(j);
    /* Only mem varies for a snapshot; two inputs are refused. */
    struct cmd_result r = run_vmsim("compare --pt radix --proc %s --vary tenants=1,2", dir);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "only mem varies"));
    cmd_result_free(&r);
    r = run_vmsim("compare --pt radix --proc %s --workload seq", dir);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "one input"));
    cmd_result_free(&r);
    static const char *const names[] = {"maps", "smaps", "pagemap"};
    for (size_t i = 0; i < 3; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inverted_constant),
        cmocka_unit_test(test_break_even_memory),
        cmocka_unit_test(test_per_process_vs_global),
        cmocka_unit_test(test_space_tag_bits),
        cmocka_unit_test(test_snapshot_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
