/* Compaction (--compact, src/os/compact.c; docs/kernel.md, "Compaction"):
 * hand-made layouts whose moves, reverse-map updates, shootdowns and
 * cycles are derived below from the buddy allocator's rules (bump order
 * in never-used memory, docs/kernel.md "Which frame") and the documented
 * candidate rule; a layout that cannot be compacted; and --verify over a
 * stream whose compactions move page-cache and swap-cache pages.
 *
 * The frames of one process that writes pages of a 4 MiB region at
 * 0x40000000 in a fresh memory, in bump order: the root at spawn (0), then
 * per fault the data frame first and the tables its map needs after it:
 * page 0 -> 1, its L3, L2 and L1 tables 2, 3, 4; page i (1..511) -> 4 + i;
 * page 512 -> 516 and the second L1 table 517; page i (513..1023) -> 5 + i.
 * In 1536 frames, blocks A = [0, 512), B = [512, 1024), C = [1024, 1536). */
#include <stdio.h>
#include <stdlib.h>

#include "machine/machine.h"
#include "testutil.h"

#define PAGE 4096ull
#define R 0x40000000ull /* the region of base pages */
#define H 0x80000000ull /* 2 MiB advised MADV_HUGEPAGE */
#define PID 1
#define NA 2048 /* anonymous pages of test_verify_cache_and_swap */

static void run1(struct vmsim *sim, struct vmsim_event e)
{
    assert_int_equal(vmsim_run(sim, &e, 1), 0);
    vmsim_get_stats(sim);
}

static struct vmsim_config config(uint64_t frames, bool compact)
{
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    cfg.phys_bytes = frames * PAGE;
    cfg.replace = VMSIM_REPLACE_FIFO;
    cfg.anon_page_shift = 21;
    cfg.thp = VMSIM_THP_MADVISE;
    cfg.compact = compact;
    cfg.verify = true;
    cfg.cost.access = 4;
    return cfg;
}

/* Spawn PID, map R (4 MiB, base pages) and H (2 MiB, advised). */
static void setup(struct vmsim *sim)
{
    run1(sim, ev_os(VMSIM_EV_SPAWN, 0, PID, 0, 0));
    run1(sim, ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, PID, R, 4ull << 20));
    run1(sim, ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, PID, H, 2ull << 20));
    run1(sim, ev_os(VMSIM_EV_MADVISE, VMSIM_ADV_HUGEPAGE, PID, H, 2ull << 20));
}

static vmsim_pfn_t frame_of(struct vmsim *sim, vmsim_pid_t pid, uint64_t va)
{
    int err = 0;
    struct process *p = kernel_process(&sim->k, pid, false, &err);
    assert_non_null(p);
    const uint64_t e = kernel_lookup(p, va);
    assert_true(e & PTE_P);
    return PTE_PFN(e);
}

/* The replacement list's position of frame pfn (0: the head). */
static uint64_t list_pos(struct vmsim *sim, vmsim_pfn_t pfn)
{
    uint64_t i = 0;
    for (uint32_t f = sim->k.rc.head; f != FRAME_NIL; f = sim->phys.frame[f].next, i++)
        if (f == pfn)
            return i;
    fail_msg("frame %llu is not on the replacement list", (unsigned long long)pfn);
    return 0;
}

/* Pages 0..1023 written: frames 0..1028 in use (above). Pages 100..199
 * unmapped: frames 104..203 free. A fork: the child's five tables (root,
 * L3, L2, two L1) come from those freed frames, the smallest free blocks,
 * all in A; the child's write of page 0 copies it into one more of them.
 * The write to H needs an order-9 block: none is free (C holds pages
 * 1019..1023 in 1024..1028; the never-used frames from 1029 hold no
 * aligned 512), so compaction runs. A holds the tables 0, 2, 3, 4 and B the
 * table 517: unmovable. C holds 5 in-use frames, all private pages mapped
 * by parent and child: 5 pages moved, 2 x 5 entries repointed, 10
 * shootdowns; free frames 1536 - (1029 - 100 + 5 + 1) = 601 >= 512, so
 * there is room. Cost: 5 copies x 2 x 64 lines x 4 cycles + 10 x 1000 (no
 * other CPU ran either process: no IPI) = 12,560 cycles. C's frames go back
 * to the never-used memory and the huge page takes C: frame 1024. Under
 * FIFO each moved page keeps its place: just before the child's copy of
 * page 0, the one page allocated after them before the huge page. */
static void test_moves_counted(void **state)
{
    (void)state;
    struct vmsim_config cfg = config(1536, true);
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    setup(sim);
    for (uint64_t i = 0; i < 1024; i++)
        run1(sim, ev_access(VMSIM_WRITE, PID, R + i * PAGE));
    assert_int_equal(st->frames_used, 1029);
    assert_int_equal(frame_of(sim, PID, R + 1019 * PAGE), 1024);
    assert_int_equal(frame_of(sim, PID, R + 1023 * PAGE), 1028);
    run1(sim, ev_os(VMSIM_EV_MUNMAP, 0, PID, R + 100 * PAGE, 100 * PAGE));
    run1(sim, ev_os(VMSIM_EV_FORK, 0, PID, 2, 0));
    run1(sim, ev_access(VMSIM_WRITE, 2, R));
    const vmsim_pfn_t copy = frame_of(sim, 2, R);
    assert_true(copy >= 104 && copy < 204);
    assert_int_equal(st->frames_used, 1029 - 100 + 5 + 1);
    assert_int_equal(st->compact.runs, 0);

    run1(sim, ev_access(VMSIM_WRITE, PID, H));
    assert_int_equal(st->compact.runs, 1);
    assert_int_equal(st->compact.success, 1);
    assert_int_equal(st->compact.fail, 0);
    assert_int_equal(st->compact.pages_moved, 5);
    assert_int_equal(st->compact.rmap_updates, 10);
    assert_int_equal(st->compact.shootdowns, 10);
    assert_int_equal(st->compact.cycles, 5 * 2 * 64 * 4 + 10 * 1000);
    assert_int_equal(st->thp_fallbacks, 0);
    assert_int_equal(st->buddy_fail[9], 1); /* the request before compaction */
    assert_int_equal(frame_of(sim, PID, H), 1024);
    for (uint64_t i = 1019; i < 1024; i++) {
        const vmsim_pfn_t f = frame_of(sim, PID, R + i * PAGE);
        assert_true(f < 1024);
        assert_int_equal(frame_of(sim, 2, R + i * PAGE), f); /* still shared */
        assert_int_equal(sim->phys.frame[f].refcount, 2);
    }
    const uint64_t last = list_pos(sim, frame_of(sim, PID, R + 1023 * PAGE));
    assert_int_equal(list_pos(sim, copy), last + 1);
    for (uint64_t i = 1019; i < 1023; i++)
        assert_int_equal(list_pos(sim, frame_of(sim, PID, R + i * PAGE)), last - (1023 - i));
    assert_int_equal(list_pos(sim, 1024), last + 2); /* the huge page, newest */
    /* coverage: 2 MiB huge of 4 KiB x (924 + 1) private frames + 2 MiB */
    assert_int_equal(st->compact.anon_huge_bytes, 2ull << 20);
    assert_int_equal(st->compact.anon_bytes, (2ull << 20) + (924 + 1) * PAGE);

    /* every page reads what was written, in both processes */
    const uint64_t checks = st->verify_checks;
    for (uint64_t i = 0; i < 1024; i++) {
        if (i >= 100 && i < 200)
            continue;
        run1(sim, ev_access(VMSIM_READ, PID, R + i * PAGE));
        run1(sim, ev_access(VMSIM_READ, 2, R + i * PAGE));
    }
    assert_int_equal(st->verify_checks - checks, 2 * 924);
    assert_int_equal(st->verify_mismatches, 0);
    vmsim_destroy(sim);
}

/* The same layout without --compact: the write to H falls back to a base
 * page, nothing moves and no compaction statistic counts. */
static void test_off_falls_back(void **state)
{
    (void)state;
    struct vmsim_config cfg = config(1536, false);
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    setup(sim);
    for (uint64_t i = 0; i < 1024; i++)
        run1(sim, ev_access(VMSIM_WRITE, PID, R + i * PAGE));
    run1(sim, ev_os(VMSIM_EV_MUNMAP, 0, PID, R + 100 * PAGE, 100 * PAGE));
    run1(sim, ev_access(VMSIM_WRITE, PID, H));
    assert_int_equal(st->thp_fallbacks, 1);
    assert_int_equal(st->compact.runs, 0);
    assert_int_equal(st->compact.pages_moved, 0);
    assert_int_equal(frame_of(sim, PID, R + 1019 * PAGE), 1024);
    vmsim_destroy(sim);
}

/* 1024 frames: pages 0..512 written (frames 0..517: tables 0, 2, 3, 4 in
 * A and 517 in B), pages 1..400 unmapped (frames 5..404 free: 906 free in
 * all). No order-9 block is free and every block holds a page table:
 * compaction fails (runs 1, fail 1, nothing moved) and the write falls
 * back to a base page. A second write in the same 2 MiB block finds a
 * page there: no compaction is tried (runs stays 1), another fallback. */
static void test_tables_everywhere_fail(void **state)
{
    (void)state;
    struct vmsim_config cfg = config(1024, true);
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    setup(sim);
    for (uint64_t i = 0; i <= 512; i++)
        run1(sim, ev_access(VMSIM_WRITE, PID, R + i * PAGE));
    assert_int_equal(st->frames_used, 518);
    run1(sim, ev_os(VMSIM_EV_MUNMAP, 0, PID, R + PAGE, 400 * PAGE));
    assert_int_equal(st->frames_used, 118);
    run1(sim, ev_access(VMSIM_WRITE, PID, H));
    assert_int_equal(st->compact.runs, 1);
    assert_int_equal(st->compact.fail, 1);
    assert_int_equal(st->compact.success, 0);
    assert_int_equal(st->compact.pages_moved, 0);
    assert_int_equal(st->compact.cycles, 0);
    assert_int_equal(st->thp_fallbacks, 1);
    run1(sim, ev_access(VMSIM_WRITE, PID, H + PAGE));
    assert_int_equal(st->compact.runs, 1);
    assert_int_equal(st->thp_fallbacks, 2);
    assert_int_equal(st->translations_huge, 0);
    vmsim_destroy(sim);
}

/* Fewer than 512 frames free: no block can be emptied whatever its
 * contents, so compaction fails before it looks (nothing moves). 1536
 * frames, pages 0..1023 written: 1029 in use, 507 free < 512; C alone
 * (pages 1019..1023) would otherwise be a candidate. */
static void test_no_room_fails(void **state)
{
    (void)state;
    struct vmsim_config cfg = config(1536, true);
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    setup(sim);
    for (uint64_t i = 0; i < 1024; i++)
        run1(sim, ev_access(VMSIM_WRITE, PID, R + i * PAGE));
    run1(sim, ev_access(VMSIM_WRITE, PID, H));
    assert_int_equal(st->compact.runs, 1);
    assert_int_equal(st->compact.fail, 1);
    assert_int_equal(st->compact.pages_moved, 0);
    assert_int_equal(st->thp_fallbacks, 1);
    vmsim_destroy(sim);
}

/* ---- --verify with page-cache and swap-cache pages ---- */

/* The replacement list is whole: every frame on it is listed once and
 * marked, its links agree both ways, it has rc.count frames, and a policy
 * with slots has each listed frame in the slot its position names. */
static void check_list(struct vmsim *sim)
{
    const struct reclaim *r = &sim->k.rc;
    uint64_t n = 0;
    uint32_t prev = FRAME_NIL;
    for (uint32_t f = r->head; f != FRAME_NIL; prev = f, f = sim->phys.frame[f].next, n++) {
        const struct frame *fr = &sim->phys.frame[f];
        assert_true(fr->flags & FRAME_RESIDENT);
        assert_int_equal(fr->prev, prev);
        if (r->slot)
            assert_int_equal(r->slot[r->pos[f]], f);
        assert_true(n <= r->count);
    }
    assert_int_equal(r->tail, prev);
    assert_int_equal(n, r->count);
}

/* The documented candidate, computed here from the frames' metadata: the
 * aligned block of 512 below the never-used frames with the fewest in-use
 * frames, all base frames of anonymous, page-cache or swap-cache pages
 * (named by the reverse map or a cache); the lowest on a tie. Returns its
 * in-use count and the page-cache and swap-cache frames among them. */
static int64_t expect_candidate(struct vmsim *sim, uint64_t *cache, uint64_t *swapped)
{
    const struct phys *ph = &sim->phys;
    int64_t best = -1;
    for (uint64_t b = 0; b < ph->next && b + 512 <= ph->nframes; b += 512) {
        int64_t used = 0;
        uint64_t c = 0, s = 0;
        bool ok = true;
        for (uint64_t x = b; x < b + 512 && x < ph->next && ok;) {
            const struct frame *f = &ph->frame[x];
            if (f->flags & FRAME_FREE) {
                x += 1ull << f->order;
                continue;
            }
            ok = f->refcount && !f->order &&
                 !(f->flags & (FRAME_PT | FRAME_ZERO | FRAME_PINNED | FRAME_ENCLAVE)) &&
                 (f->rmap || (f->flags & (FRAME_CACHE | FRAME_SWAPPED)));
            used++;
            c += (f->flags & FRAME_CACHE) != 0;
            s += (f->flags & FRAME_SWAPPED) != 0;
            x++;
        }
        if (ok && (best < 0 || used < best)) {
            best = used;
            *cache = c;
            *swapped = s;
        }
    }
    return best;
}

/* Memory of 2048 frames (blocks 0-3) with 1024 pages of swap under FIFO.
 * The page tables are made first (a read of the file's first page, a
 * write of the first page under each leaf table), so that they sit in
 * block 0. Then a file of 256 pages (file 7, private read-only) and 2048
 * anonymous pages are touched in 16 rounds of 32 file reads and 128
 * anonymous writes: the two kinds interleave in memory, and the writes
 * overflow it into swap. Then anonymous pages are unmapped where their
 * frames lie in block 2 (three in four: page index not a multiple of 4)
 * and block 3 (seven in eight), and every fourth page and every file page
 * is read back: evicted ones come back into the holes as swap-cache pages
 * (clean, the slot still valid) and page-cache pages. Then each 2 MiB block
 * of H is written; before each write the test computes the documented
 * candidate itself and after it checks compact.pages_moved grew by the
 * candidate's in-use frames (or by nothing when fewer than 512 frames were
 * free). The candidates together must have held page-cache and swap-cache
 * pages, and reading back every page at the end must find what was
 * written. */
static void cache_and_swap(unsigned policy, bool fifo)
{
    struct vmsim_config cfg = config(2048, true);
    cfg.replace = (uint8_t)policy;
    cfg.swap_bytes = 1024 * PAGE;
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    const uint64_t F = 0x100000000ull, A = 0x200000000ull, HH = 0x300000000ull;
    run1(sim, ev_os(VMSIM_EV_SPAWN, 0, PID, 0, 0));
    struct vmsim_event m = ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R, PID, F, 256 * PAGE);
    m.file = 7;
    run1(sim, m);
    run1(sim, ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, PID, A, NA * PAGE));
    run1(sim, ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, PID, HH, 8ull << 20));
    run1(sim, ev_os(VMSIM_EV_MADVISE, VMSIM_ADV_HUGEPAGE, PID, HH, 8ull << 20));
    /* the tables first, so that they sit in block 0 (bump order) */
    run1(sim, ev_access(VMSIM_READ, PID, F));
    for (uint64_t i = 0; i < NA; i += 512)
        run1(sim, ev_access(VMSIM_WRITE, PID, A + i * PAGE));
    for (uint64_t r = 0; r < 16; r++) {
        for (uint64_t i = 0; i < 32; i++)
            run1(sim, ev_access(VMSIM_READ, PID, F + ((r * 32 + i) % 256) * PAGE));
        for (uint64_t i = 0; i < NA / 16; i++)
            run1(sim, ev_access(VMSIM_WRITE, PID, A + (r * NA / 16 + i) * PAGE));
    }
    assert_true(st->swap_writes > 0);
    int err = 0;
    static bool gone[NA];
    struct process *p = kernel_process(&sim->k, PID, false, &err);
    for (uint64_t i = 0; i < NA; i++) {
        const uint64_t e = kernel_lookup(p, A + i * PAGE);
        gone[i] = (e & PTE_P) && PTE_PFN(e) >= 1024 && (PTE_PFN(e) >= 1536 ? i % 8 : i % 4);
        if (gone[i])
            run1(sim, ev_os(VMSIM_EV_MUNMAP, 0, PID, A + i * PAGE, PAGE));
    }
    for (uint64_t j = 0; j < NA / 4; j++) { /* interleaved: the two kinds share the holes */
        run1(sim, ev_access(VMSIM_READ, PID, A + 4 * j * PAGE));
        if (j < 256)
            run1(sim, ev_access(VMSIM_READ, PID, F + j * PAGE));
    }
    assert_true(st->faults_swap_in > 0);
    uint64_t cache_moved = 0, swap_moved = 0, runs = 0, fails = 0;
    for (uint64_t b = 0; b < 4; b++) {
        uint64_t c = 0, s = 0;
        const uint64_t moved = st->compact.pages_moved, before = st->compact.runs;
        const bool free9 = st->buddy_free[9] || st->buddy_free[10] || st->buddy_free[11];
        const bool room = cfg.phys_bytes / PAGE - st->frames_used >= 512;
        const int64_t want = free9 || !room ? 0 : expect_candidate(sim, &c, &s);
        run1(sim, ev_access(VMSIM_WRITE, PID, HH + (b << 21)));
        if (st->compact.runs == before)
            continue; /* a block was free */
        runs++;
        if (!room || want < 0) { /* fails, nothing moves */
            fails++;
            assert_int_equal(st->compact.pages_moved, moved);
            continue;
        }
        assert_int_equal(st->compact.pages_moved - moved, (uint64_t)want);
        cache_moved += c;
        swap_moved += s;
    }
    assert_int_equal(st->compact.runs, runs);
    assert_int_equal(st->compact.fail, fails);
    assert_true(st->compact.success >= 1);
    if (fifo) { /* the layout above is FIFO's */
        assert_true(cache_moved > 0);
        assert_true(swap_moved > 0);
    }
    check_list(sim);
    /* everything reads what was written: file pages, the pages kept, H */
    for (uint64_t i = 0; i < 256; i++)
        run1(sim, ev_access(VMSIM_READ, PID, F + i * PAGE));
    for (uint64_t i = 0; i < NA; i++)
        if (!gone[i])
            run1(sim, ev_access(VMSIM_READ, PID, A + i * PAGE));
    for (uint64_t b = 0; b < 4; b++)
        run1(sim, ev_access(VMSIM_READ, PID, HH + (b << 21)));
    assert_true(st->verify_checks > 1000);
    assert_int_equal(st->verify_mismatches, 0);
    vmsim_destroy(sim);
}

static void test_verify_cache_and_swap(void **state)
{
    (void)state;
    cache_and_swap(VMSIM_REPLACE_FIFO, true);
}

/* The same stream under the other policies: each keeps its own list
 * state (Clock's hand, the slots of random, OPT's keys, LRU's order)
 * through the moves; no write is lost and the list stays whole. */
static void test_verify_every_policy(void **state)
{
    (void)state;
    static const unsigned policy[] = {VMSIM_REPLACE_CLOCK, VMSIM_REPLACE_LRU,
                                      VMSIM_REPLACE_RANDOM};
    for (size_t i = 0; i < sizeof policy / sizeof *policy; i++)
        cache_and_swap(policy[i], false);
}

/* ---- the churn figure's claim (docs/kernel.md, "Compaction") ---- */

struct coverage {
    double first, last; /* mean huge-page coverage of the first and last 5 samples */
    uint64_t fallbacks;
};

/* churn:n=3000000,size=56m,seed=1 in 64 MiB, 2 MiB pages where advised,
 * coverage sampled after every 100,000 accesses (30 samples). */
static struct coverage churn_coverage(bool compact)
{
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    cfg.phys_bytes = 64ull << 20;
    cfg.anon_page_shift = 21;
    cfg.thp = VMSIM_THP_MADVISE;
    cfg.compact = compact;
    struct vmsim *sim = new_machine(&cfg);
    struct vmsim_source *src;
    struct vmsim_source_error err;
    assert_int_equal(vmsim_source_open_workload("churn:n=3000000,size=56m,seed=1", &src, &err), 0);
    static struct vmsim_event ev[1000];
    double sample[30];
    unsigned ns = 0;
    uint64_t accesses = 0;
    long n;
    while ((n = vmsim_source_next(src, ev, 1000)) > 0) {
        long from = 0; /* run up to each 100,000th access, then sample */
        for (long i = 0; i < n; i++) {
            if (ev[i].type != VMSIM_EV_ACCESS || ++accesses % 100000)
                continue;
            assert_int_equal(vmsim_run(sim, ev + from, (size_t)(i + 1 - from)), 0);
            from = i + 1;
            if (ns < 30)
                sample[ns++] = vmsim_thp_coverage(vmsim_get_stats(sim));
        }
        assert_int_equal(vmsim_run(sim, ev + from, (size_t)(n - from)), 0);
    }
    assert_int_equal(n, 0);
    assert_int_equal(ns, 30);
    struct coverage c = {0, 0, vmsim_get_stats(sim)->thp_fallbacks};
    for (unsigned i = 0; i < 5; i++) {
        c.first += sample[i] / 5;
        c.last += sample[25 + i] / 5;
    }
    assert_int_equal(vmsim_get_stats(sim)->faults_oom, 0);
    vmsim_source_close(src);
    vmsim_destroy(sim);
    return c;
}

/* Regions under 2 MiB never get huge pages, so coverage is at most about
 * (2 MiB + 4 MiB) / (4 KiB + ... + 4 MiB) = 0.75 of the bytes mapped
 * (docs/workloads.md, "churn"). Without compaction fragmentation strands
 * free memory in pieces under 2 MiB and coverage falls as churn goes on;
 * with it, coverage stays near the bound. The thresholds: off falls by
 * more than 0.05 from the first 500,000 accesses to the last; on ends
 * within 0.15 of the bound and at least 0.1 above off; off falls back at
 * least three times as often. */
static void test_churn_coverage(void **state)
{
    (void)state;
    const struct coverage off = churn_coverage(false), on = churn_coverage(true);
    fprintf(stderr, "churn coverage: off %.3f -> %.3f (%llu fallbacks), on %.3f -> %.3f (%llu)\n",
            off.first, off.last, (unsigned long long)off.fallbacks, on.first, on.last,
            (unsigned long long)on.fallbacks);
    assert_true(off.last < off.first - 0.05);
    assert_true(on.last > 0.75 - 0.15);
    assert_true(on.last > off.last + 0.1);
    assert_true(off.fallbacks > 3 * on.fallbacks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moves_counted),
        cmocka_unit_test(test_off_falls_back),
        cmocka_unit_test(test_tables_everywhere_fail),
        cmocka_unit_test(test_no_room_fails),
        cmocka_unit_test(test_verify_cache_and_swap),
        cmocka_unit_test(test_verify_every_policy),
        cmocka_unit_test(test_churn_coverage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
