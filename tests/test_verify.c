/* A long randomized --verify run: processes fork, exit, remap and protect
 * memory and read and write private anonymous, implicit, shared file,
 * private file and shared anonymous pages on four CPUs, under a memory far
 * smaller than what they touch, so pages keep moving between frames, swap
 * and the page cache, through copy-on-write and the swap cache (and, in
 * the last two runs, page tables go to swap too). Under
 * every replacement policy no read may see contents the shadow model does
 * not expect; and the run must really have exercised those paths. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/debug.h"
#include "testutil.h"
#include "vmsim/vmsim.h"

#define PAGE 4096ull
#define MAXPROC 8

enum { ANON, SHARED_FILE, PRIVATE_FILE, SHMEM, IMPLICIT, NREGIONS };
static const uint64_t region_base[NREGIONS] = {0x10000000, 0x20000000, 0x30000000, 0x40000000,
                                               0x50000000};
static const uint64_t region_pages[NREGIONS] = {256, 64, 64, 32, 64};

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

struct gen {
    uint64_t seed;
    vmsim_pid_t alive[MAXPROC];
    unsigned nalive;
    vmsim_pid_t next_pid;
};

/* The first process and its mappings. */
static size_t start(struct gen *g, struct vmsim_event *ev, uint64_t anon_bytes)
{
    size_t n = 0;
    const unsigned rw = VMSIM_PROT_R | VMSIM_PROT_W;
    ev[n++] = ev_os(VMSIM_EV_SPAWN, 0, 1, 0, 0);
    ev[n++] = ev_os(VMSIM_EV_MMAP, rw, 1, region_base[ANON], anon_bytes);
    ev[n] = ev_os(VMSIM_EV_MMAP, rw | VMSIM_MAP_SHARED, 1, region_base[SHARED_FILE],
                  region_pages[SHARED_FILE] * PAGE);
    ev[n++].file = 1;
    ev[n] = ev_os(VMSIM_EV_MMAP, rw, 1, region_base[PRIVATE_FILE], region_pages[PRIVATE_FILE] * PAGE);
    ev[n++].file = 2;
    ev[n++] = ev_os(VMSIM_EV_MMAP, rw | VMSIM_MAP_SHARED, 1, region_base[SHMEM],
                    region_pages[SHMEM] * PAGE);
    g->alive[0] = 1;
    g->nalive = 1;
    g->next_pid = 2;
    return n;
}

/* One random event (an access most of the time). */
static struct vmsim_event step(struct gen *g)
{
    const unsigned r = (unsigned)(rnd(&g->seed) % 1000);
    const unsigned who = (unsigned)(rnd(&g->seed) % g->nalive);
    const vmsim_pid_t pid = g->alive[who];
    if (r < 12 && g->nalive < MAXPROC) {
        g->alive[g->nalive++] = g->next_pid;
        return ev_os(VMSIM_EV_FORK, 0, pid, g->next_pid++, 0);
    }
    if (r < 20 && g->nalive > 1) {
        g->alive[who] = g->alive[--g->nalive];
        return ev_os(VMSIM_EV_EXIT, 0, pid, 0, 0);
    }
    const uint64_t chunk = region_base[ANON] + (rnd(&g->seed) % 32) * 8 * PAGE;
    if (r < 24) /* fresh anonymous memory over 8 pages */
        return ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, pid, chunk, 8 * PAGE);
    if (r < 26)
        return ev_os(VMSIM_EV_MPROTECT, VMSIM_PROT_R, pid, chunk, 8 * PAGE);
    if (r < 30)
        return ev_os(VMSIM_EV_MPROTECT, VMSIM_PROT_R | VMSIM_PROT_W, pid, chunk, 8 * PAGE);
    const unsigned reg = (unsigned)(rnd(&g->seed) % NREGIONS);
    const uint64_t page = rnd(&g->seed) % region_pages[reg];
    static const unsigned kinds[] = {VMSIM_READ, VMSIM_READ, VMSIM_WRITE, VMSIM_MODIFY};
    struct vmsim_event e = {.type = VMSIM_EV_ACCESS,
                            .kind = (uint8_t)kinds[rnd(&g->seed) % 4],
                            .cpu = (uint16_t)(rnd(&g->seed) % 4),
                            .pid = pid,
                            .addr = region_base[reg] + page * PAGE + (rnd(&g->seed) % 512) * 8,
                            .len = 8};
    return e;
}

/* Fail with --verify's first mismatch, if any, saying which run (what). */
static void expect_no_mismatch(const struct vmsim *sim, const char *what)
{
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    struct vmsim_mismatch m;
    if (vmsim_verify_first(sim, &m) == VMSIM_OK)
        fail_msg("%s: %llu mismatches of %llu checks; first: pid %u va 0x%llx access %llu "
                 "expected %llx found %llx",
                 what, (unsigned long long)st->verify_mismatches,
                 (unsigned long long)st->verify_checks, m.pid, (unsigned long long)m.va,
                 (unsigned long long)m.access, (unsigned long long)m.expected,
                 (unsigned long long)m.found);
}

/* Build the whole stream, then run it (after planning, for OPT). */
enum mode { PLAIN, TABLES, HUGE };

static void run_policy(unsigned policy, size_t n, uint64_t seed, enum mode mode)
{
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    cfg.phys_bytes = 160 * PAGE; /* tables of 8 processes take up to 72 */
    cfg.swap_bytes = 16384 * PAGE;
    cfg.replace = (uint8_t)policy;
    cfg.verify = true;
    cfg.evict_tables = mode == TABLES;
    if (mode == HUGE) {
        /* Room for 10 huge pages, which are never evicted: the buddy
         * allocator merges freed blocks again, so only a memory this tight
         * makes some huge copies find no free block (and split). */
        cfg.phys_bytes = 5120 * PAGE;
        cfg.anon_page_shift = 21;
    }
    struct vmsim *sim;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    struct gen g = {.seed = seed};
    struct vmsim_event *ev = malloc(n * sizeof *ev);
    assert_non_null(ev);
    /* With huge pages the anonymous VMA spans two whole 2 MiB blocks (the
     * remaps and protections cut the first); the implicit block is one. */
    size_t k = start(&g, ev, mode == HUGE ? 4 << 20 : region_pages[ANON] * PAGE);
    while (k < n)
        ev[k++] = step(&g);
    if (policy == VMSIM_REPLACE_OPT)
        assert_int_equal(vmsim_plan(sim, ev, n), VMSIM_OK);
    assert_int_equal(vmsim_run(sim, ev, n), VMSIM_OK);
    char what[32];
    snprintf(what, sizeof what, "policy %u", policy);
    expect_no_mismatch(sim, what);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    /* The run went through every path it is meant to test. */
    assert_true(st->verify_checks > n / 2);
    if (mode == HUGE) {
        /* Huge pages are few: a split (remap, protection, or a huge copy
         * that finds no aligned block) ends one for every process sharing
         * it. Enough to cross every path: huge translations, huge copies,
         * splits. */
        assert_true(st->translations_huge > 1000 && st->thp_splits >= 2 && st->forks > 100);
        assert_true(st->faults_cow_copy > 1000);
        free(ev);
        vmsim_destroy(sim);
        return;
    }
    assert_true(st->forks > 100 && st->faults_cow_copy > 1000 && st->faults_cow_reuse > 100);
    assert_true(st->swap_reads > 1000 && st->swap_writes > 1000 && st->evictions_clean > 100);
    assert_true(st->file_reads > 1000 && st->file_writes > 100);
    assert_true(st->faults_pagecache_hit > 1000);
    if (mode == TABLES)
        assert_true(st->tables_evicted > 1000 && st->faults_table > 1000 && st->nested_max >= 2);
    free(ev);
    vmsim_destroy(sim);
}

static void test_fifo(void **state) { run_policy(VMSIM_REPLACE_FIFO, 600000, 1, PLAIN); }
static void test_lru(void **state) { run_policy(VMSIM_REPLACE_LRU, 600000, 2, PLAIN); }
static void test_clock(void **state) { run_policy(VMSIM_REPLACE_CLOCK, 600000, 3, PLAIN); }
static void test_random(void **state) { run_policy(VMSIM_REPLACE_RANDOM, 600000, 4, PLAIN); }
static void test_opt(void **state) { run_policy(VMSIM_REPLACE_OPT, 300000, 5, PLAIN); }
/* Page tables evicted too: walks meet tables that are out. */
static void test_clock_tables(void **state) { run_policy(VMSIM_REPLACE_CLOCK, 600000, 6, TABLES); }
static void test_fifo_tables(void **state) { run_policy(VMSIM_REPLACE_FIFO, 600000, 7, TABLES); }
/* Transparent huge pages: huge COW after fork, splits by remaps and
 * protection changes of part of a huge page. */
static void test_huge(void **state) { run_policy(VMSIM_REPLACE_CLOCK, 600000, 8, HUGE); }

/* ---- frames handed out recycled (issue 11) -------------------------------
 *
 * Each case frees a frame whose stamp is a write's (nonzero), so that the
 * allocator hands that very frame to the path under test next (from its
 * order-0 free list, last in, first out, or from the never-used memory it
 * rejoined at its edge: docs/kernel.md, "Which frame"); a read of memory
 * nobody wrote must then still see stamp 0. Before the fix each read found
 * the freed page's stamp. */

/* Run ev on a --verify machine with organization pt; expect `checks` reads
 * checked and none mismatched. */
static struct vmsim *run_checked(struct vmsim_config *cfg, const char *pt,
                                 const struct vmsim_event *ev, size_t n, uint64_t checks)
{
    snprintf(cfg->pt, sizeof cfg->pt, "%s", pt);
    cfg->verify = true;
    struct vmsim *sim;
    assert_int_equal(vmsim_create(cfg, &sim), VMSIM_OK);
    assert_int_equal(vmsim_run(sim, ev, n), VMSIM_OK);
    char what[128];
    snprintf(what, sizeof what, "--pt %s", pt);
    expect_no_mismatch(sim, what);
    assert_int_equal(vmsim_get_stats(sim)->verify_checks, checks);
    return sim;
}

/* The two traces under every organization: the first read of a
 * page maps the shared zero frame, allocated then; the frame just freed
 * (by munmap, or by the exit of the process that wrote it) is what the
 * allocator gives it. One read each, expected stamp 0. */
static void test_zero_frame_recycled(void **state)
{
    (void)state;
    const struct vmsim_event unmap[] = {
        ev_os(VMSIM_EV_SPAWN, 0, 1, 0, 0), ev_access(VMSIM_WRITE, 1, 0x10000000),
        ev_os(VMSIM_EV_MUNMAP, 0, 1, 0x10000000, PAGE), ev_access(VMSIM_READ, 1, 0x20000000)};
    const struct vmsim_event exited[] = {
        ev_os(VMSIM_EV_SPAWN, 0, 1, 0, 0), ev_access(VMSIM_WRITE, 1, 0x10000000),
        ev_os(VMSIM_EV_EXIT, 0, 1, 0, 0), ev_os(VMSIM_EV_SPAWN, 0, 2, 0, 0),
        ev_access(VMSIM_READ, 2, 0x10000000)};
    for (unsigned i = 0; vmsim_pt_names[i]; i++) {
        struct vmsim_config cfg;
        vmsim_config_default(&cfg);
        vmsim_destroy(run_checked(&cfg, vmsim_pt_names[i], unmap, 4, 1));
        vmsim_config_default(&cfg);
        struct vmsim *sim = run_checked(&cfg, vmsim_pt_names[i], exited, 5, 1);
        assert_int_equal(vmsim_get_stats(sim)->faults_zero_read, 1);
        vmsim_destroy(sim);
    }
}

/* A huge zero page split by an mprotect of its first base page becomes
 * base zero entries: the base zero frame, allocated at that moment, takes
 * the frame munmap freed. The writes at 0x10000000 get a 2 MiB page too
 * (implicit memory is anonymous), which the munmap of its first base page
 * splits (split 1) and whose first frame, holding the write's stamp, it
 * frees; its neighbour keeps the leaf table alive, so no table frame is
 * freed after it. The mprotect is split 2. Reads: 0x40000000 (huge zero
 * page) and 0x40001000 (base zero page), both stamp 0. */
static void test_split_zero_recycled(void **state)
{
    (void)state;
    const unsigned rw = VMSIM_PROT_R | VMSIM_PROT_W;
    const struct vmsim_event ev[] = {
        ev_os(VMSIM_EV_SPAWN, 0, 1, 0, 0),
        ev_os(VMSIM_EV_MMAP, rw, 1, 0x40000000, 4 << 20),
        ev_access(VMSIM_READ, 1, 0x40000000),
        ev_access(VMSIM_WRITE, 1, 0x10000000),
        ev_access(VMSIM_WRITE, 1, 0x10001000),
        ev_os(VMSIM_EV_MUNMAP, 0, 1, 0x10000000, PAGE),
        ev_os(VMSIM_EV_MPROTECT, VMSIM_PROT_R, 1, 0x40000000, PAGE),
        ev_access(VMSIM_READ, 1, 0x40001000)};
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    cfg.anon_page_shift = 21;
    struct vmsim *sim = run_checked(&cfg, "radix", ev, sizeof ev / sizeof *ev, 2);
    assert_int_equal(vmsim_get_stats(sim)->thp_splits, 2);
    vmsim_destroy(sim);
}

/* vmsim_map_page (snapshots) gives the page a fresh frame: the one munmap
 * freed. Nobody wrote the page: one read, stamp 0. */
static void test_map_page_recycled(void **state)
{
    (void)state;
    const struct vmsim_event before[] = {
        ev_os(VMSIM_EV_SPAWN, 0, 1, 0, 0), ev_access(VMSIM_WRITE, 1, 0x10000000),
        ev_access(VMSIM_WRITE, 1, 0x10001000), ev_os(VMSIM_EV_MUNMAP, 0, 1, 0x10000000, PAGE)};
    const struct vmsim_event after = ev_access(VMSIM_READ, 1, 0x20000000);
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    struct vmsim *sim = run_checked(&cfg, "radix", before, 4, 0);
    assert_int_equal(vmsim_map_page(sim, 1, 0x20000000, 12), VMSIM_OK);
    assert_int_equal(vmsim_run(sim, &after, 1), VMSIM_OK);
    assert_int_equal(vmsim_get_stats(sim)->verify_checks, 1);
    assert_int_equal(vmsim_get_stats(sim)->verify_mismatches, 0);
    assert_int_equal(vmsim_get_stats(sim)->faults_total, 0 + 2); /* the two writes only */
    vmsim_destroy(sim);
}

/* Huge pages under memory pressure (issue 17): replacement splits huge
 * victims and evicts their base pages (docs/kernel.md). P1 maps 8 MiB at
 * 1 GiB, advised MADV_HUGEPAGE, and writes the first byte of each 2 MiB
 * block: 4 huge pages, 2048 of the 3072 frames. It forks (the child shares
 * them) and both then read, write and modify random pages there and in
 * 16 MiB of base pages at 2 GiB (4096 pages, more than memory holds);
 * in the second quarter only the base pages, so that even LRU finds the
 * huge pages the oldest; then both areas again (swap-ins). Under
 * every policy huge pages are split by reclaim (2 here, for each policy),
 * nothing runs out of memory, and no read finds other than the last write. */
static void test_huge_pressure(void **state)
{
    (void)state;
    enum { N = 40000 };
    const uint64_t A = 1ull << 30, B = 2ull << 30, MB8 = 8ull << 20;
    struct vmsim_event *ev = malloc(N * sizeof *ev);
    assert_non_null(ev);
    for (unsigned policy = VMSIM_REPLACE_CLOCK; policy <= VMSIM_REPLACE_OPT; policy++) {
        size_t n = 0;
        ev[n++] = ev_os(VMSIM_EV_SPAWN, 0, 1, 0, 0);
        ev[n++] = ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, 1, A, MB8);
        ev[n++] = ev_os(VMSIM_EV_MADVISE, VMSIM_ADV_HUGEPAGE, 1, A, MB8);
        ev[n++] = ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, 1, B, 2 * MB8);
        for (uint64_t i = 0; i < 4; i++)
            ev[n++] = ev_access(VMSIM_WRITE, 1, A + i * (2ull << 20));
        ev[n++] = ev_os(VMSIM_EV_FORK, 0, 1, 2, 0);
        uint64_t seed = 17;
        static const unsigned kinds[] = {VMSIM_READ, VMSIM_READ, VMSIM_WRITE, VMSIM_MODIFY};
        while (n < N) {
            const bool cold = n > N / 4 && n < N / 2; /* the huge pages go cold */
            const uint64_t base = !cold && rnd(&seed) % 2 ? A : B;
            const uint64_t pages = (base == A ? MB8 : 2 * MB8) / PAGE;
            struct vmsim_event e = ev_access(kinds[rnd(&seed) % 4], (vmsim_pid_t)(1 + rnd(&seed) % 2),
                                       base + (rnd(&seed) % pages) * PAGE);
            ev[n++] = e;
        }
        struct vmsim_config cfg;
        vmsim_config_default(&cfg);
        cfg.phys_bytes = 3072 * PAGE;
        cfg.swap_bytes = 16384 * PAGE;
        cfg.replace = (uint8_t)policy;
        cfg.anon_page_shift = 21;
        cfg.thp = VMSIM_THP_MADVISE;
        cfg.verify = true;
        struct vmsim *sim;
        assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
        if (policy == VMSIM_REPLACE_OPT)
            assert_int_equal(vmsim_plan(sim, ev, n), VMSIM_OK);
        assert_int_equal(vmsim_run(sim, ev, n), VMSIM_OK);
        char what[32];
        snprintf(what, sizeof what, "policy %u", policy);
        expect_no_mismatch(sim, what);
        const struct vmsim_stats *st = vmsim_get_stats(sim);
        assert_true(st->thp_splits_reclaim >= 1 && st->verify_checks > N / 4);
        assert_int_equal(st->faults_oom, 0);
        vmsim_destroy(sim);
    }
    free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo), cmocka_unit_test(test_lru), cmocka_unit_test(test_clock),
        cmocka_unit_test(test_random), cmocka_unit_test(test_opt),
        cmocka_unit_test(test_clock_tables), cmocka_unit_test(test_fifo_tables),
        cmocka_unit_test(test_huge), cmocka_unit_test(test_huge_pressure),
        cmocka_unit_test(test_zero_frame_recycled),
        cmocka_unit_test(test_split_zero_recycled), cmocka_unit_test(test_map_page_recycled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
