/* The data caches and DRAM (docs/caches.md) on hand-made event streams:
 * walk latency from the level that served each reference, page-table
 * lines competing with data, the statistics, and the spec's errors. Every
 * expected number is worked out in the comments.
 *
 * Layout used throughout: pid 1's pages at P = 0x400000 (x86-64 4-level).
 * Its walk reads the root entry 0 (line R), the level-3 entry 0 (T), the
 * level-2 entry 2 (D, byte 16 of its table) and the leaf entry 0 (L): four
 * tables, four frames, four lines. P + 4 KiB's leaf entry is entry 1, in
 * line L too (8 entries of 8 bytes a 64-byte line); P + 32 KiB's is entry
 * 8, the next line of the leaf table. vmsim_map_page maps without walking,
 * so the caches start empty. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/debug.h"
#include "testutil.h"
#include "vmsim/vmsim.h"

#define P 0x400000ull

static struct vmsim *machine(const char *tlb, const char *cache)
{
    struct vmsim_config cfg;
    char why[256];
    vmsim_config_default(&cfg);
    assert_int_equal(vmsim_tlb_parse(tlb, &cfg, why, sizeof why), VMSIM_OK);
    assert_int_equal(vmsim_pwc_parse("none", &cfg, why, sizeof why), VMSIM_OK);
    assert_int_equal(vmsim_cost_parse("access=1,pt_ref=10,fault=100", &cfg, why, sizeof why),
                     VMSIM_OK);
    if (vmsim_cache_parse(cache, &cfg, why, sizeof why) != VMSIM_OK)
        fail_msg("%s: %s", cache, why);
    struct vmsim *sim;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    return sim;
}

static const struct vmsim_stats *read1(struct vmsim *sim, uint64_t va)
{
    struct vmsim_event e = {.type = VMSIM_EV_ACCESS, .kind = VMSIM_READ, .pid = 1, .addr = va,
                            .len = 8};
    assert_int_equal(vmsim_run(sim, &e, 1), 0);
    return vmsim_get_stats(sim);
}

/* data=off: only walks use the caches. L1D 64 sets x 8 ways (4 cycles), L2
 * 512 x 8 (12), DRAM 200.
 * - P cold: 4 references, each missing L1D and L2: 4 x 200 = 800 cycles.
 * - P + 4 KiB: R, T, D, L all in L1D now: 4 x 4 = 16.
 * - P + 32 KiB: R, T, D hit L1D (12); its leaf line misses both: 200; 212.
 * walks.cycles 1028; histogram: 800 in [512, 1024) bucket 10, 16 in
 * [16, 32) bucket 5, 212 in [128, 256) bucket 8. L1D: 7 PT hits, 5 PT
 * misses; L2: 5 PT misses; DRAM 5 walk references; no data reference. */
static void test_walk_latency_from_the_caches(void **state)
{
    (void)state;
    struct vmsim *sim = machine("l1=4x4", "l1d=64x8x64/d:4,l2=512x8x64:12,dram=200,data=off");
    for (unsigned i = 0; i < 9; i++)
        assert_int_equal(vmsim_map_page(sim, 1, P + i * 4096, 12), VMSIM_OK);
    const struct vmsim_stats *st = read1(sim, P);
    assert_int_equal(st->walks, 1);
    assert_int_equal(st->walk_cycles, 4 * 200);
    st = read1(sim, P + 4096);
    assert_int_equal(st->walk_cycles, 800 + 4 * 4);
    st = read1(sim, P + 8 * 4096);
    assert_int_equal(st->walk_cycles, 816 + 3 * 4 + 200);
    assert_int_equal(st->walks, 3);
    assert_int_equal(st->walk_lat_hist[10], 1);
    assert_int_equal(st->walk_lat_hist[5], 1);
    assert_int_equal(st->walk_lat_hist[8], 1);
    assert_int_equal(st->cache[0].pt_hits, 7);
    assert_int_equal(st->cache[0].pt_misses, 5);
    assert_int_equal(st->cache[0].hits, 7);
    assert_int_equal(st->cache[0].misses, 5);
    assert_int_equal(st->cache[1].pt_misses, 5);
    assert_int_equal(st->cache[1].hits, 0);
    assert_int_equal(st->dram_walk_refs, 5);
    assert_int_equal(st->dram_refs, 5);
    /* 5 lines in each level, all page-table entries */
    assert_int_equal(st->cache[0].lines, 5);
    assert_int_equal(st->cache[0].pt_lines, 5);
    assert_int_equal(st->cache[1].pt_lines, 5);
    /* cycles: 3 accesses x 1 (data=off: `access`), 3 TLB lookups x 1, walks */
    assert_int_equal(st->cycles, 3 + 3 + 1028);
    vmsim_destroy(sim);
}

/* A leaf line evicted by the program's data misses again. L1D 64 sets x 8
 * ways of 64 bytes: a set is the line's offset in its page / 64, so R, T,
 * D (byte 16), L and P's data at offset 0 all fall in set 0. The data
 * stream reads offset 0 of pages S_i = 0x600000 + (8 + i) x 4 KiB, i = 0..7
 * (their leaf entries 8..15 share a line in set 1; their walks read R, T
 * and D again: D covers PD entries 0..7, and 0x600000 is entry 3).
 * Set 0 after P: R T D L P (3 ways free). S_0 and S_1 refresh R, T, D and
 * fill the free ways; S_2 then evicts the least recently used: L (older
 * than P's data). So P + 4 KiB's walk finds R, T, D (12 cycles) but misses
 * L: 212, where without the stream it cost 16. */
static void test_data_evicts_a_leaf_line(void **state)
{
    (void)state;
    struct vmsim *sim = machine("l1=16x16", "l1d=64x8x64/d:4,dram=200");
    for (unsigned i = 0; i < 2; i++)
        assert_int_equal(vmsim_map_page(sim, 1, P + i * 4096, 12), VMSIM_OK);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(vmsim_map_page(sim, 1, 0x600000 + (8 + i) * 4096ull, 12), VMSIM_OK);
    const struct vmsim_stats *st = read1(sim, P);
    assert_int_equal(st->walk_cycles, 800);
    for (unsigned i = 0; i < 8; i++)
        read1(sim, 0x600000 + (8 + i) * 4096ull);
    /* walk of S_0: R T D hit, leaf line miss (212); S_1..S_7 all hit (16) */
    st = vmsim_get_stats(sim);
    assert_int_equal(st->walk_cycles, 800 + 212 + 7 * 16);
    read1(sim, P + 4096);
    assert_int_equal(st->walk_cycles, 800 + 212 + 7 * 16 + 212);
    vmsim_destroy(sim);
}

/* Page-table fills evict data, and the data misses again: one set of 4
 * ways (every line in the same set), DRAM 100, data=on.
 * 1. read P: walk R T D L, 4 misses (stamps 1-4); P's data line misses and
 *    evicts R (a data fill: nothing remembered). Set: T D L Pd.
 * 2. read P: TLB hit, Pd hits (4 cycles).
 * 3. read Q = P + 4 KiB: its walk misses R (evicts T), T (evicts D), D
 *    (evicts L), L (evicts Pd: a data line a walk fill evicted, so the set
 *    remembers Pd). Qd misses and evicts R. Set: T D L Qd.
 * 4. read P: TLB hit; Pd misses, the set remembers it: data_misses_pt 1;
 *    it evicts T. Set: D L Qd Pd: 4 lines, 2 of them page-table lines.
 * Hits 1; misses 8 walk + 3 data = 11; DRAM 11 (8 walk). Cycles: 4 TLB
 * lookups (1 each), walks 2 x 400, data 100 + 4 + 100 + 100 (no `access`). */
static void test_page_tables_evict_data(void **state)
{
    (void)state;
    struct vmsim *sim = machine("l1=4x4", "c=1x4x64:4,dram=100");
    for (unsigned i = 0; i < 2; i++)
        assert_int_equal(vmsim_map_page(sim, 1, P + i * 4096, 12), VMSIM_OK);
    read1(sim, P);
    read1(sim, P);
    read1(sim, P + 4096);
    const struct vmsim_stats *st = read1(sim, P);
    assert_int_equal(st->cache[0].hits, 1);
    assert_int_equal(st->cache[0].misses, 11);
    assert_int_equal(st->cache[0].pt_misses, 8);
    assert_int_equal(st->cache[0].pt_hits, 0);
    assert_int_equal(st->cache[0].data_misses_pt, 1);
    assert_int_equal(st->cache[0].lines, 4);
    assert_int_equal(st->cache[0].pt_lines, 2);
    assert_int_equal(st->dram_refs, 11);
    assert_int_equal(st->dram_walk_refs, 8);
    assert_int_equal(st->walk_cycles, 800);
    assert_int_equal(st->cycles, 4 + 800 + 304);
    assert_int_equal(st->cycles_translation, 804);
    vmsim_destroy(sim);
}

/* The open-page model with one bank of 4 KiB rows: each frame is a row of
 * its own, a row hit costs 50, a miss 200; no cache level, data=on. P's
 * walk reads four tables in four frames: four row misses (800); P's data,
 * a fifth frame: a miss (200). Reads of P + 8 and P + 64 (TLB hits) find
 * P's row open: two hits (50 each). 7 DRAM references; cycles: 3 TLB
 * lookups, the walk, data 200 + 50 + 50. */
static void test_row_buffer(void **state)
{
    (void)state;
    struct vmsim *sim = machine("l1=4x4", "dram=200,row=1x4k:50,data=on");
    assert_int_equal(vmsim_map_page(sim, 1, P, 12), VMSIM_OK);
    const struct vmsim_stats *st = read1(sim, P);
    assert_int_equal(st->dram_row_hits, 0);
    assert_int_equal(st->walk_cycles, 800);
    st = read1(sim, P + 8);
    st = read1(sim, P + 64);
    assert_int_equal(st->dram_row_hits, 2);
    assert_int_equal(st->dram_refs, 7);
    /* data: 200 + 50 + 50; TLB lookups 3; walk 800 */
    assert_int_equal(st->cycles, 300 + 3 + 800);
    vmsim_destroy(sim);
}

/* With no cache level and data=off every reference costs dram: the run is
 * the flat model with pt_ref = dram, statistic for statistic, in a native
 * run and in a 2D walk with its host dimension (((n + 1)(m + 1) - 1)
 * references a cold walk). Two runs of the tool on the same workload. */
/* The value at a dotted path of a JSON result file (-1: none). */
static long long at(json_t *root, const char *path)
{
    uint64_t v;
    return json_path(root, path, &v) ? (long long)v : -1;
}

static void test_dram_only_is_the_flat_model(void **state)
{
    (void)state;
    static const char *const runs[] = {"--workload gc", "--workload default --nested x86-64"};
    static const char *const keys[] = {"cycles", "cycles_translation", "walks.count",
                                       "walks.refs", "walks.cycles", "nested.host_refs",
                                       "tlb.misses_all_levels", "faults.total"};
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        char *a = temp_path(".json"), *b = temp_path(".json");
        struct cmd_result x = run_vmsim("run %s --cost pt_ref=77 --json %s", runs[r], a);
        struct cmd_result y =
            run_vmsim("run %s --cost pt_ref=5 --cache dram=77,data=off --json %s", runs[r], b);
        assert_int_equal(x.status, 0);
        assert_int_equal(y.status, 0);
        json_error_t err;
        json_t *ja = json_load_file(a, 0, &err), *jb = json_load_file(b, 0, &err);
        assert_non_null(ja);
        assert_non_null(jb);
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            if (at(ja, keys[k]) != at(jb, keys[k]) || at(ja, keys[k]) < 0)
                fail_msg("%s: %s %lld flat, %lld through DRAM", runs[r], keys[k], at(ja, keys[k]),
                         at(jb, keys[k]));
        /* every walk reference went to DRAM, the host dimension's too */
        assert_int_equal(at(jb, "memory.dram_walk_refs"),
                         at(jb, "walks.refs") + at(jb, "nested.host_refs"));
        assert_int_equal(at(jb, "memory.dram_refs"), at(jb, "memory.dram_walk_refs"));
        assert_true(at(jb, "walks.cycles") > 0);
        json_decref(ja);
        json_decref(jb);
        cmd_result_free(&x);
        cmd_result_free(&y);
        remove(a);
        remove(b);
        free(a);
        free(b);
    }
}

/* Bad specs: a clear error naming the item, exit status 2, no crash. */
static void test_spec_errors(void **state)
{
    (void)state;
    static const struct {
        const char *spec, *says;
    } bad[] = {
        {"l1=64x8x64:4", "expected dram=CYCLES"},
        {"l1=64x8:4,dram=100", "expected SETSxWAYSxLINE"},
        {"l1=64x8x48:4,dram=100", "power of two from 8 to 4096"},
        {"l1=64x8x64,dram=100", "expected :LATENCY"},
        {"l1=64x8x64/q:4,dram=100", "expected /d, /i, /u or /shared"},
        {"l1=64x8x64/shared:4,l2=64x8x64:9,dram=100", "only the last level may be /shared"},
        {"l1=64x8x64/d/shared:4,dram=100", "must be unified"},
        {"l1=64x8x64:4,l1=64x8x64:4,dram=100", "comes earlier"},
        {"dram=100,l1=64x8x64:4", "cache levels come before dram="},
        {"dram=0", "expected dram=CYCLES once"},
        {"dram=100,row=3x3000:50", "a DRAM row is a power of two"},
        {"dram=100,row=4x4k", "expected row=BANKSxROWBYTES:HITCYCLES"},
        {"dram=100,data=maybe", "expected data=on or data=off"},
        {"l1=0x8x64:4,dram=100", "at least 1"},
        {"", "found nothing"},
        {"nonsense,dram=100", "expected NAME=SETSxWAYSxLINE:LATENCY, dram=, row= or data="},
        /* a lone word is taken for a mistyped machine preset (test_presets.c) */
        {"nonsense", "expected a machine preset"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct cmd_result r = run_vmsim("run --workload seq:n=10 --cache '%s'", bad[i].spec);
        if (r.status != 2 || !strstr(r.err, "--cache") || !strstr(r.err, bad[i].says))
            fail_msg("--cache '%s': status %d, stderr \"%s\"; expected 2 and \"%s\"", bad[i].spec,
                     r.status, r.err, bad[i].says);
        cmd_result_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk_latency_from_the_caches),
        cmocka_unit_test(test_data_evicts_a_leaf_line),
        cmocka_unit_test(test_page_tables_evict_data),
        cmocka_unit_test(test_row_buffer),
        cmocka_unit_test(test_dram_only_is_the_flat_model),
        cmocka_unit_test(test_spec_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
