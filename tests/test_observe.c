/* Stepping one access (vmsim_translate) and observing a run
 * (vmsim_set_observer), docs/library.md.
 *
 * - vmsim_translate counts as vmsim_run: a stream stepped one event at a
 *   time gives, statistic for statistic, the document vmsim_run gives in
 *   another machine (vmsim_write_json, byte for byte), on machines that
 *   take the memo runs, the data caches, eviction and huge pages.
 * - The observer's callbacks are called exactly as often as the statistics
 *   count: faults by kind, evictions, walk references.
 * - What one translation says, derived by hand for a 4-level x86-64 radix
 *   table (the walk rules of DESIGN.md, "Validation references"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define BASE 0x10000000000ull /* 1 TiB, 2 MiB-aligned */

/* The JSON document of a machine, in memory (free). */
static char *document(const struct vmsim *sim)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(vmsim_write_json(sim, "stream", f), 0);
    fclose(f);
    return buf;
}

static struct vmsim *machine(const char *const *opts)
{
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    char why[512];
    for (size_t i = 0; opts[i]; i += 2)
        if (vmsim_config_option(&cfg, opts[i], opts[i + 1][0] ? opts[i + 1] : NULL, why,
                                sizeof why))
            fail_msg("%s", why);
    if (vmsim_config_finish(&cfg, why, sizeof why))
        fail_msg("%s", why);
    struct vmsim *sim = NULL;
    if (vmsim_create_why(&cfg, &sim, why, sizeof why))
        fail_msg("%s", why);
    return sim;
}

/* Every event of a workload (free). */
static struct vmsim_event *events(const char *spec, size_t *n)
{
    struct vmsim_source *src;
    struct vmsim_source_error err;
    assert_int_equal(vmsim_source_open_workload(spec, &src, &err), 0);
    size_t cap = 1 << 16;
    struct vmsim_event *ev = malloc(cap * sizeof *ev);
    *n = 0;
    long got;
    while ((got = vmsim_source_next(src, ev + *n, 4096 < cap - *n ? 4096 : cap - *n)) > 0) {
        *n += (size_t)got;
        if (cap - *n < 4096)
            ev = realloc(ev, (cap *= 2) * sizeof *ev);
    }
    assert_int_equal(got, 0);
    vmsim_source_close(src);
    return ev;
}

static void same_as_run(const char *workload, const char *const *opts)
{
    size_t n;
    struct vmsim_event *ev = events(workload, &n);
    struct vmsim *a = machine(opts), *b = machine(opts);
    for (size_t i = 0; i < n; i += 1000)
        assert_int_equal(vmsim_run(a, ev + i, n - i < 1000 ? n - i : 1000), 0);
    uint64_t translated = 0;
    for (size_t i = 0; i < n; i++) {
        struct vmsim_translation t;
        assert_int_equal(vmsim_translate(b, &ev[i], &t), 0);
        translated += t.translated;
    }
    char *da = document(a), *db = document(b);
    if (strcmp(da, db))
        fail_msg("%s: vmsim_translate one by one and vmsim_run differ\nrun:\n%.3000s\n"
                 "translate:\n%.3000s", workload, da, db);
    /* the stream did translate */
    assert_true(translated > 0);
    free(da);
    free(db);
    free(ev);
    vmsim_destroy(a);
    vmsim_destroy(b);
}

static void test_translate_counts_as_run(void **state)
{
    (void)state;
    static const char *const plain[] = {"mem", "64m", NULL};
    same_as_run("seq:n=30000,size=8m,stride=64", plain);
    static const char *const pressure[] = {"mem", "4m", "swap", "64m", "replace", "lru",
                                           "pwc", "unified=8x2", NULL};
    same_as_run("forkserver:workers=3,cpus=2,heap=4m,slice=100,requests=250,n=20000", pressure);
    static const char *const huge[] = {"mem", "64m", "thp", "always", "cpus", "2", NULL};
    same_as_run("bigws:n=20000,size=8m,hotsize=1m,write=0.25", huge);
    static const char *const cached[] = {"mem", "64m", "cache",
                                         "l1d=64x8x64/d:4,l2=1024x8x64:12,dram=200", NULL};
    same_as_run("random:n=20000,size=4m", cached);
    /* vmsim_run takes bare runs here (walks on most accesses), vmsim_translate
     * the observed path: random replacement draws in the same order */
    static const char *const rand_tlb[] = {
        "tlb", "l1d=64x4/d:random,l1i=64x4/i,stlb=1536x12/u:random", NULL};
    same_as_run("random:n=30000,size=1g,write=0.3,code=64k,fetch_every=5", rand_tlb);
}

struct counts {
    uint64_t faults, by_kind[VMSIM_FAULT_OTHER + 1], evicts, evicts_by[3], fills, refs, unknown;
};

static void on_fault(void *ctx, unsigned cpu, vmsim_pid_t pid, vmsim_vaddr_t va, unsigned kind,
                     unsigned kinds)
{
    struct counts *c = ctx;
    c->faults++;
    for (unsigned k = 0; k <= VMSIM_FAULT_OTHER; k++)
        c->by_kind[k] += (kinds >> k) & 1;
}

static void on_evict(void *ctx, vmsim_paddr_t pa, enum vmsim_evict_kind what)
{
    struct counts *c = ctx;
    c->evicts++;
    c->evicts_by[what]++;
}

static void on_fill(void *ctx, unsigned cpu, unsigned level, vmsim_vaddr_t va, unsigned shift)
{
    ((struct counts *)ctx)->fills++;
}

static void on_ref(void *ctx, unsigned cpu, vmsim_paddr_t pa, unsigned level)
{
    struct counts *c = ctx;
    c->refs++;
    c->unknown += pa == VMSIM_PADDR_NONE;
}

/* Under memory pressure with fork and copy-on-write, every callback as
 * often as its statistic, and the run's statistics as without an observer. */
static void test_observer_sees_the_statistics(void **state)
{
    (void)state;
    static const char *const opts[] = {"mem", "4m", "swap", "64m", "evict-tables", "", NULL};
    size_t n;
    struct vmsim_event *ev =
        events("forkserver:workers=3,cpus=2,heap=4m,slice=100,requests=250,n=30000", &n);
    struct vmsim *sim = machine(opts), *plain = machine(opts);
    struct counts c = {0};
    const struct vmsim_observer obs = {&c, on_fault, on_evict, on_fill, on_ref};
    assert_int_equal(vmsim_set_observer(sim, &obs), 0);
    assert_int_equal(vmsim_run(sim, ev, n), 0);
    assert_int_equal(vmsim_run(plain, ev, n), 0);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_true(st->faults_total > 0 && st->evictions > 0 && st->faults_swap_in > 0);
    assert_int_equal(c.faults, st->faults_total);
    assert_int_equal(c.by_kind[VMSIM_FAULT_ZERO_READ], st->faults_zero_read);
    assert_int_equal(c.by_kind[VMSIM_FAULT_ZERO_WRITE], st->faults_zero_write);
    assert_int_equal(c.by_kind[VMSIM_FAULT_COW_ZERO], st->faults_cow_zero);
    assert_int_equal(c.by_kind[VMSIM_FAULT_COW_COPY], st->faults_cow_copy);
    assert_int_equal(c.by_kind[VMSIM_FAULT_COW_REUSE], st->faults_cow_reuse);
    assert_int_equal(c.by_kind[VMSIM_FAULT_SWAP_IN], st->faults_swap_in);
    assert_int_equal(c.by_kind[VMSIM_FAULT_BAD_ADDRESS], st->faults_bad_address);
    assert_int_equal(c.by_kind[VMSIM_FAULT_PROTECTION], st->faults_protection);
    assert_int_equal(c.by_kind[VMSIM_FAULT_PAGECACHE_HIT], st->faults_pagecache_hit);
    assert_int_equal(c.by_kind[VMSIM_FAULT_PAGECACHE_MISS], st->faults_pagecache_miss);
    /* faults.table counts the table pages: one fault may bring back several */
    assert_true(c.by_kind[VMSIM_FAULT_TABLE] > 0 && c.by_kind[VMSIM_FAULT_TABLE] <= st->faults_table);
    assert_int_equal(c.by_kind[VMSIM_FAULT_SEGV], st->faults_segv);
    assert_int_equal(c.evicts, st->evictions);
    assert_int_equal(c.evicts_by[VMSIM_EVICT_TABLE], st->tables_evicted);
    assert_int_equal(c.refs, st->walk_refs);
    assert_int_equal(c.unknown, 0);
    char *da = document(sim), *db = document(plain);
    assert_string_equal(da, db);
    /* removed: nothing more is seen */
    const struct counts before = c;
    assert_int_equal(vmsim_set_observer(sim, NULL), 0);
    const uint64_t faults = vmsim_get_stats(sim)->faults_total;
    for (unsigned i = 0; i < 100; i++) {
        const struct vmsim_event e = ev_access(VMSIM_WRITE, 999, BASE + i * 4096ull);
        assert_int_equal(vmsim_run(sim, &e, 1), 0);
    }
    assert_true(vmsim_get_stats(sim)->faults_total >= faults + 100);
    assert_memory_equal(&before, &c, sizeof c);
    free(da);
    free(db);
    free(ev);
    vmsim_destroy(sim);
    vmsim_destroy(plain);
}

/* One 4-entry TLB level, no page-walk cache. N first writes to N pages:
 * each misses, walks, faults, walks again and fills the one level: N fills.
 * Reading the same N <= 4 pages again hits: no fill. */
static void test_fills_by_hand(void **state)
{
    (void)state;
    static const char *const opts[] = {"tlb", "l1=4x4@4k", "pwc", "none", "mem", "64m", "cpus",
                                       "1", NULL};
    struct vmsim *sim = machine(opts);
    struct counts c = {0};
    const struct vmsim_observer obs = {&c, NULL, NULL, on_fill, NULL};
    assert_int_equal(vmsim_set_observer(sim, &obs), 0);
    struct vmsim_event ev[9];
    ev[0] = ev_os(VMSIM_EV_SPAWN, 0, 1, 0, 0);
    for (unsigned i = 0; i < 4; i++) {
        ev[1 + i] = ev_access(VMSIM_WRITE, 1, BASE + i * 4096ull);
        ev[5 + i] = ev_access(VMSIM_READ, 1, BASE + i * 4096ull);
    }
    assert_int_equal(vmsim_run(sim, ev, 9), 0);
    assert_int_equal(c.fills, 4);
    vmsim_destroy(sim);
}

/* What single translations report, by hand (no TLB level below the one,
 * x86-64 4-level radix):
 *   write BASE: every level misses; the first walk finds the root entry
 *   empty (1 reference), a demand-zero write fault, the retry reads 4:
 *   2 walks, 5 references; a 4 KiB page.
 *   read BASE+8: the TLB's level 0 hits (the memo): no walk; the same
 *   frame, 8 bytes on.
 *   read BASE+4096: misses; the first walk reads 4 entries (the level-1
 *   entry empty), a demand-zero read fault, the retry reads the same 4:
 *   2 walks, 8 references, ref[0..3] == ref[4..7], and ref[0..2] those of
 *   the first page's full walk (the same root, level-3 and level-2 entries).
 *   With split page-walk caches (l4, l3, l2) the second page's walks skip
 *   to the level-1 entry: 1 reference each, pwc_hit. */
static void test_translation_by_hand(void **state)
{
    (void)state;
    for (int with_pwc = 0; with_pwc <= 1; with_pwc++) {
        const char *const opts[] = {"tlb", "l1=4x4@4k", "pwc", with_pwc ? "l4=2x2,l3=2x2,l2=2x2" : "none",
                                    "mem", "64m", "cpus", "1", NULL};
        struct vmsim *sim = machine(opts);
        struct vmsim_translation t, u, v;
        struct vmsim_event e = ev_os(VMSIM_EV_SPAWN, 0, 1, 0, 0);
        assert_int_equal(vmsim_translate(sim, &e, &t), 0);
        assert_false(t.translated);
        assert_int_equal(t.tlb_level, -1);
        assert_int_equal(t.walks, 0);

        e = ev_access(VMSIM_WRITE, 1, BASE);
        assert_int_equal(vmsim_translate(sim, &e, &t), 0);
        assert_true(t.translated);
        assert_int_equal(t.tlb_level, -1);
        assert_int_equal(t.page_shift, 12);
        assert_int_equal(t.walks, 2);
        assert_int_equal(t.nrefs, 5);
        assert_int_equal(t.faults, 1);
        assert_int_equal(t.fault_kinds, 1u << VMSIM_FAULT_ZERO_WRITE);
        assert_false(t.pwc_hit);
        assert_int_equal(t.pa & 4095, 0);

        e = ev_access(VMSIM_READ, 1, BASE + 8);
        assert_int_equal(vmsim_translate(sim, &e, &u), 0);
        assert_true(u.translated);
        assert_int_equal(u.tlb_level, 0);
        assert_int_equal(u.walks, 0);
        assert_int_equal(u.nrefs, 0);
        assert_int_equal(u.faults, 0);
        assert_int_equal(u.fault_kinds, 0);
        assert_int_equal(u.pa, t.pa + 8);

        e = ev_access(VMSIM_READ, 1, BASE + 4096 + 16);
        assert_int_equal(vmsim_translate(sim, &e, &v), 0);
        assert_true(v.translated);
        assert_int_equal(v.tlb_level, -1);
        assert_int_equal(v.walks, 2);
        assert_int_equal(v.faults, 1);
        assert_int_equal(v.fault_kinds, 1u << VMSIM_FAULT_ZERO_READ);
        assert_int_equal(v.pa & 4095, 16);
        if (!with_pwc) {
            assert_int_equal(v.nrefs, 8);
            assert_false(v.pwc_hit);
            for (unsigned i = 0; i < 4; i++)
                assert_int_equal(v.ref[i], v.ref[4 + i]);
            for (unsigned i = 0; i < 3; i++)
                assert_int_equal(v.ref[i], t.ref[1 + i]);
            /* the level-1 entries of neighbouring pages are 8 bytes apart */
            assert_int_equal(v.ref[3], t.ref[4] + 8);
        } else {
            assert_int_equal(v.nrefs, 2);
            assert_true(v.pwc_hit);
            assert_int_equal(v.ref[0], v.ref[1]);
            assert_int_equal(v.ref[0], t.ref[4] + 8);
        }
        /* the statistics say the same: 3 translations; the walks and
         * references of the two misses */
        const struct vmsim_stats *st = vmsim_get_stats(sim);
        assert_int_equal(st->translations, 3);
        assert_int_equal(st->walks, 4);
        assert_int_equal(st->walk_refs, t.nrefs + v.nrefs);
        assert_int_equal(st->faults_total, 2);
        vmsim_destroy(sim);
    }
}

static void test_refusals(void **state)
{
    (void)state;
    static const char *const opts[] = {"mem", "64m", "cpus", "2", "threads", "2", NULL};
    struct vmsim *sim = machine(opts);
    const struct vmsim_observer obs = {0};
    assert_int_equal(vmsim_set_observer(sim, &obs), VMSIM_EUNSUPPORTED);
    struct vmsim_translation t;
    struct vmsim_event e = ev_access(VMSIM_READ, 1, BASE);
    assert_int_equal(vmsim_translate(sim, &e, &t), VMSIM_EUNSUPPORTED);
    vmsim_destroy(sim);
    /* a CPU the machine lacks: vmsim_run's error, and nothing translated */
    static const char *const one[] = {"mem", "64m", "cpus", "1", NULL};
    sim = machine(one);
    e.cpu = 3;
    assert_int_equal(vmsim_translate(sim, &e, &t), VMSIM_ERANGE);
    assert_false(t.translated);
    vmsim_destroy(sim);
}

/* vmsim_read_stats: the full read is vmsim_get_stats' figures; the cheap
 * one differs from it only in the scanned statistics, which it leaves at 0;
 * reading changes nothing (the document before and after is the same).
 * Two processes map one 4 MiB file read-only at 2 MiB-aligned addresses
 * and read every page: 2 leaf tables each, 2 of the 4 shareable (8 KiB).
 * THP leaves huge pages partly untouched; --vipt 64x128 has index bits
 * above a 4 KiB page (log2(64 x 128 / 4096) = 1). */
static void test_read_stats(void **state)
{
    (void)state;
    static const char *const opts[] = {"mem", "256m", "thp", "always", "vipt", "64x128", NULL};
    struct vmsim *sim = machine(opts);
    for (vmsim_pid_t pid = 1; pid <= 2; pid++) {
        struct vmsim_event m = ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R, pid, pid << 30, 4u << 20);
        m.file = 7;
        assert_int_equal(vmsim_run(sim, &m, 1), 0);
        for (uint64_t a = 0; a < (4u << 20); a += 4096) {
            const struct vmsim_event e = ev_access(VMSIM_READ, pid, ((uint64_t)pid << 30) + a);
            assert_int_equal(vmsim_run(sim, &e, 1), 0);
        }
    }
    const struct vmsim_event w = ev_access(VMSIM_WRITE, 3, BASE); /* one 2 MiB page, 4 KiB used */
    assert_int_equal(vmsim_run(sim, &w, 1), 0);
    char *before = document(sim);
    struct vmsim_stats full, cheap;
    vmsim_read_stats(sim, &full, true);
    vmsim_read_stats(sim, &cheap, false);
    const struct vmsim_stats *got = vmsim_get_stats(sim);
    assert_memory_equal(&full, got, sizeof full);
    assert_int_equal(full.pt_shareable, 2 * 4096);
    assert_int_equal(full.synonym_bits, 1);
    assert_int_equal(full.huge_untouched, (2u << 20) - 4096);
#define CHECK_ZERO(f)                                                                              \
    assert_int_equal(cheap.f, 0);                                                                  \
    cheap.f = full.f;
    VMSIM_SCANNED_STATS(CHECK_ZERO)
#undef CHECK_ZERO
    assert_memory_equal(&full, &cheap, sizeof full);
    char *after = document(sim);
    assert_string_equal(before, after);
    free(before);
    free(after);
    vmsim_destroy(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_translate_counts_as_run),
        cmocka_unit_test(test_observer_sees_the_statistics),
        cmocka_unit_test(test_fills_by_hand),
        cmocka_unit_test(test_translation_by_hand),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_read_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
