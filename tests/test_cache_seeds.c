/* The seeds' walk-latency figures with the data caches on (docs/caches.md,
 * docs/cost-model.md "Walk latency from the caches"): seed 000's full walk
 * of four trips to main memory, and seed 002's garbage-collector scan,
 * native against nested, when the upper levels hit the page-walk caches and
 * the leaf entries the data caches. Every expected number is worked out in
 * the comments from the rules of docs/caches.md. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vmsim/vmsim.h"

#define GB (1ull << 30)

static void parse(int (*fn)(const char *, struct vmsim_config *, char *, size_t), const char *spec,
                  struct vmsim_config *cfg)
{
    char why[256] = "";
    if (fn(spec, cfg, why, sizeof why) != VMSIM_OK)
        fail_msg("%s: %s", spec, why);
}

/* A number of the "walks" object of vmsim's JSON report. */
static long long walks_number(const char *json, const char *key)
{
    const char *w = strstr(json, "\"walks\":");
    assert_non_null(w);
    return json_number(w, key);
}

static struct vmsim_event acc(unsigned kind, uint64_t addr)
{
    return (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = (uint8_t)kind, .pid = 1,
                                .addr = addr, .len = 8};
}

/* Seed 000: "If a trip to main memory takes 70 ns, a full page walk costs
 * 4 x 70 = 280 ns". At 3 GHz, 70 ns = 210 cycles: `--cache dram=210` (no
 * cache level: DRAM serves every reference), no page-walk caches, no TLB,
 * so every access walks. N pages 1 GiB apart, in one 512 GiB region: each
 * needs a page directory and a page table of its own.
 *   Writes (first touch): page 0 finds the root entry empty (1 reference,
 *   210 cycles), faults, walks 4 (840); page i >= 1 finds the root entry
 *   and an empty PDPT entry (2, 420), faults, walks 4 (840).
 *   Reads (tables built): 4 references each, 4 x 210 = 840 cycles = 280 ns.
 * Histogram (bucket b holds [2^(b-1), 2^b)): 210 in 8, 420 in 9, 840 in 10. */
static void test_seed000_full_walk(void **state)
{
    (void)state;
    enum { N = 64 };
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    cfg.ncpus = 1;
    parse(vmsim_tlb_parse, "none", &cfg);
    parse(vmsim_pwc_parse, "none", &cfg);
    parse(vmsim_cache_parse, "dram=210", &cfg);
    struct vmsim *sim;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    struct vmsim_event ev[N];
    for (unsigned i = 0; i < N; i++)
        ev[i] = acc(VMSIM_WRITE, (1ull << 40) + i * GB);
    assert_int_equal(vmsim_run(sim, ev, N), VMSIM_OK);
    struct vmsim_stats a = *vmsim_get_stats(sim);
    assert_int_equal(a.faults_total, N);
    assert_int_equal(a.walks, 2 * N);
    assert_int_equal(a.walk_refs, 1 + 2 * (N - 1) + 4 * N);
    assert_int_equal(a.walk_cycles, 210 + 420 * (N - 1) + 840 * N);
    assert_int_equal(a.walk_lat_hist[8], 1);
    assert_int_equal(a.walk_lat_hist[9], N - 1);
    assert_int_equal(a.walk_lat_hist[10], N);
    for (unsigned i = 0; i < N; i++)
        ev[i].kind = VMSIM_READ;
    assert_int_equal(vmsim_run(sim, ev, N), VMSIM_OK);
    const struct vmsim_stats *b = vmsim_get_stats(sim);
    assert_int_equal(b->walks - a.walks, N);
    assert_int_equal(b->walk_refs - a.walk_refs, 4 * N);
    assert_int_equal(b->walk_cycles - a.walk_cycles, 840 * N); /* 840 per walk: 280 ns at 3 GHz */
    assert_int_equal(b->walk_lat_hist[10] - a.walk_lat_hist[10], N);
    assert_int_equal(b->dram_walk_refs, b->walk_refs);
    vmsim_destroy(sim);
}

/* The same through the command line, on seed 000's sparse address space:
 * `sparse:regions=64,rsize=4k` puts 64 pages in distinct 1 GiB slots. Each
 * page's first access faults: its first walk finds an empty root entry or
 * an empty PDPT entry (1 or 2 references: 210 or 420 cycles, buckets 8 and
 * 9), the retry walks 4. Every other walk is a full walk of 4 references
 * from DRAM: 840 cycles (bucket 10). So bucket 10 = walks - 64, buckets 8
 * and 9 together 64, and walks.cycles = 840 x bucket 10 + 210 x bucket 8 +
 * 420 x bucket 9. */
static void test_seed000_cli(void **state)
{
    (void)state;
    struct cmd_result r = run_vmsim("run --quiet --cpus 1 --tlb none --pwc none --cache dram=210 "
                                    "--workload sparse:regions=64,rsize=4k,n=20000 --json -");
    if (r.status != 0)
        fail_msg("status %d: %s", r.status, r.err);
    const uint64_t walks = (uint64_t)walks_number(r.out, "count");
    const uint64_t faults = (uint64_t)json_number(strstr(r.out, "\"faults\":"), "total");
    assert_int_equal(faults, 64);
    assert_int_equal(walks, 20000 + 64);
    const char *h = strstr(strstr(r.out, "\"walks\":"), "\"latency_histogram\"");
    assert_non_null(h);
    uint64_t b[20];
    h = strchr(h, '[');
    assert_non_null(h);
    for (unsigned i = 0; i < 20; i++) {
        char *end;
        b[i] = strtoull(h + 1, &end, 10);
        h = end;
    }
    assert_int_equal(b[10], walks - 64);
    assert_int_equal(b[8] + b[9], 64);
    assert_int_equal(walks_number(r.out, "cycles"), 840 * b[10] + 210 * b[8] + 420 * b[9]);
    cmd_result_free(&r);
}

/* Seed 002's collector scan with the caches on, scaled down. A heap of C
 * chunks of 2 MiB (512 pages each) at 1 TiB is written once (page tables
 * built, guest memory backed), then read page by page; only the read
 * pass is measured. Machine: the default (Skylake TLBs, paging-structure
 * caches l4=4x4, l3=8x4, l2=32x8, 1 cycle per probe; the host dimension
 * has the same), one CPU, no nested TLB, a Skylake-like hierarchy
 * (L1D 64x8x64 5 cycles, L2 1024x16x64 14, L3 50, DRAM 250) that page-table
 * references alone use (data=off: the program's accesses cost `access`,
 * so what the walks find in the caches depends on the walks only).
 *
 * Every read misses the TLBs (8704 pages in sequence: 68 per STLB set,
 * 12 ways). The guest's PDE cache holds all C regions (C <= 32, at most
 * 5 per set of 8 ways), and the host's all the guest-physical regions
 * (about C + 1), so each guest walk is a probe and 1 reference (the PTE)
 * and each host walk a probe and 1 reference (the host PTE).
 *
 * Native: the PTE lines (8 entries of 64 bytes) are read in order. Each
 * line's first read in the pass comes from L2 (it was filled in the write
 * pass; L1's set saw 17 table lines since, 8 ways; L2 holds every
 * page-table line: a few per set of 16 ways), the other 7 from L1:
 *   walk cycles = P x 1 + P/8 x 14 + 7P/8 x 5.
 * Nested: the guest part is the same (guest lines are tagged with the VM,
 * their own lines). Each walk adds two host walks: for the guest PTE's
 * guest-physical address (its leaf table T_k, the same for 512 pages) and
 * for the data page's (D_p). Which guest frames these are: frames come
 * in the order docs/kernel.md ("Which frame") states: the root first
 * (frame 0); a demand-zero write takes its frame, then the tables its
 * mapping lacks, top-down:
 * D_0 = 1, PDPT 2, PD 3, T_0 4, D_1 ... D_511 = 5 ... 515, then per chunk
 * D_512k, T_k, D_512k+1 ...: frames 1 ... P + C + 2 = 8723 in all. The
 * host PTEs naming them are consecutive entries, 8 to a line: lines 0 to
 * 1090 (frames 0-7 to 8720-8727), each read first from L2 and then from
 * L1 (the line of T_k at every page of chunk k), except line 0: the write
 * pass read it last at page 8192 (a new region: the guest reads its PD
 * entry, frame 3, whose address takes a host walk), and L1's set 0 took at
 * most 4 lines since (T_16's first line, the host lines of frames 8192 and
 * 8704, a host table line), fewer than its 8 ways: it is still in L1.
 * So 1090 host lines come from L2, and
 *   extra cycles = 2P x 1 (probes) + 1090 x 14 + (2P - 1090) x 5.
 * C = 17, P = 8704: native 8704 + 1088 x 14 + 7616 x 5 = 62,016 cycles
 * (7.125 per walk); extra 17,408 + 15,260 + 81,590 = 114,258 cycles,
 * 13.127 per miss. Seed 002's 1100 is 84 times that: it assumes every one
 * of 20 extra references misses to memory; here the page-walk caches leave
 * 2 extra references and the data caches serve 15 of 16 from L1. */
enum { CHUNKS = 17, PAGES = CHUNKS * 512 };

static uint64_t scan_walk_cycles(bool nested, struct vmsim_stats *out)
{
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    cfg.ncpus = 1;
    cfg.phys_bytes = 1ull << 30;
    parse(vmsim_cache_parse, "l1d=64x8x64/d:5,l1i=64x8x64/i:5,l2=1024x16x64:14,"
                             "l3=16384x16x64/shared:50,dram=250,data=off", &cfg);
    cfg.nested.on = nested;
    vmsim_geometry_preset("x86-64", &cfg.nested.geom);
    cfg.nested.pwc = cfg.pwc; /* as the command line's default: --host-pwc as --pwc */
    struct vmsim *sim;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    static struct vmsim_event ev[PAGES];
    for (unsigned i = 0; i < PAGES; i++)
        ev[i] = acc(VMSIM_WRITE, (1ull << 40) + ((uint64_t)i << 12));
    assert_int_equal(vmsim_run(sim, ev, PAGES), VMSIM_OK);
    const struct vmsim_stats a = *vmsim_get_stats(sim);
    for (unsigned i = 0; i < PAGES; i++)
        ev[i].kind = VMSIM_READ;
    assert_int_equal(vmsim_run(sim, ev, PAGES), VMSIM_OK);
    const struct vmsim_stats *b = vmsim_get_stats(sim);
    assert_int_equal(b->faults_total, a.faults_total); /* the read pass takes no fault */
    assert_int_equal(b->tlb_misses_all - a.tlb_misses_all, PAGES);
    assert_int_equal(b->walks - a.walks, PAGES);
    assert_int_equal(b->walk_refs - a.walk_refs, PAGES); /* PDE-cache hits: the PTE only */
    assert_int_equal(b->nested_walks - a.nested_walks, nested ? 2 * PAGES : 0);
    assert_int_equal(b->nested_refs - a.nested_refs, nested ? 2 * PAGES : 0);
    assert_int_equal(b->nested_violations, a.nested_violations);
    const uint64_t cycles = b->walk_cycles - a.walk_cycles;
    *out = *b;
    vmsim_destroy(sim);
    return cycles;
}

static void test_seed002_scan_with_caches(void **state)
{
    (void)state;
    struct vmsim_stats sn, sv;
    const uint64_t native = scan_walk_cycles(false, &sn), nested = scan_walk_cycles(true, &sv);
    const uint64_t lines = (1 + PAGES + CHUNKS + 2 + 7) / 8 - 1; /* frames 0 ... 8723, not line 0 */
    assert_int_equal(native, PAGES * 1 + PAGES / 8 * 14 + 7 * PAGES / 8 * 5);
    assert_int_equal(nested - native, 2 * PAGES * 1 + lines * 14 + (2 * PAGES - lines) * 5);
    print_message("GC scan, %d pages: %.3f cycles per native walk, %.3f extra per miss in the VM; "
                  "2^21 misses: %.4f s at 2.5 GHz\n",
                  PAGES, (double)native / PAGES, (double)(nested - native) / PAGES,
                  (double)(nested - native) / PAGES * (1 << 21) / 2.5e9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed000_full_walk),
        cmocka_unit_test(test_seed000_cli),
        cmocka_unit_test(test_seed002_scan_with_caches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
