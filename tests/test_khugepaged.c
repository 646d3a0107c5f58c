/* khugepaged (src/os/khugepaged.c, docs/kernel.md "khugepaged") on
 * hand-made streams. Every expected number is worked out in the comments
 * from the rule (Linux's mm/khugepaged.c limits), never read off a run.
 *
 * The machine: the default x86-64 radix tree, 2 MiB pages for anonymous
 * memory under --thp madvise, --verify. A process maps [2 MiB, 2 MiB + n x
 * 2 MiB) read-write and writes its pages before advising MADV_HUGEPAGE: the
 * faults find the block ineligible and map base pages (no huge page, no
 * promotion); the advice then makes the blocks eligible for the scan. One
 * process with pages in one 1 GiB region holds root, L3 and L2 tables plus
 * one leaf table per block. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "vmsim/vmsim.h"

#define PAGE 4096ull
#define MB2 (2ull << 20)
#define N 512 /* entries of a leaf table, base pages of a 2 MiB block */

static struct vmsim_config config(uint64_t frames, uint64_t every)
{
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    cfg.phys_bytes = frames * PAGE;
    cfg.swap_bytes = 0;
    cfg.anon_page_shift = 21;
    cfg.thp = VMSIM_THP_MADVISE;
    cfg.verify = true;
    cfg.khugepaged.every = every;
    return cfg;
}

static void run1(struct vmsim *sim, struct vmsim_event e)
{
    assert_int_equal(vmsim_run(sim, &e, 1), VMSIM_OK);
}

static const struct vmsim_stats *stats(struct vmsim *sim) { return vmsim_get_stats(sim); }

static uint64_t leaf_tables(struct vmsim *sim)
{
    struct vmsim_pt_footprint fp;
    vmsim_footprint(sim, &fp);
    return fp.tables[1];
}

/* P1 maps `blocks` blocks from 2 MiB and advises them after `body` wrote
 * into them. */
static void map(struct vmsim *sim, vmsim_pid_t pid, unsigned blocks)
{
    run1(sim, ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, pid, MB2, blocks * MB2));
}

static void advise(struct vmsim *sim, vmsim_pid_t pid, unsigned blocks)
{
    run1(sim, ev_os(VMSIM_EV_MADVISE, VMSIM_ADV_HUGEPAGE, pid, MB2, blocks * MB2));
}

/* The collapse. P1 writes the 512 pages of [2 MiB, 4 MiB) as base pages:
 * frames = root + L3 + L2 + one leaf table + 512 = 516. After the advice,
 * 488 reads bring the accesses to 1000 = every: the scan runs after the
 * 1000th, not before (scans 0 after the 999th). It visits the one block
 * (512 entries scanned), none empty, none shared: one collapse, 512 pages
 * copied. Then: frames = 3 tables + 512 (the leaf table and the 512 base
 * frames freed), no leaf table, page-table bytes down by one 4 KiB table;
 * each of the 512 base entries was shot down (512 invalidations); the
 * walk caches were flushed. The first read after it is one walk that
 * fills the L1 TLB with one 2 MiB entry: its reach is 2 MiB, and reads of
 * five other pages of the block hit it (5 hits, no miss). Every read sees
 * what was written (--verify, 0 mismatches); no byte of the new huge page
 * is untouched (all 512 were mapped). Cycles: 512 entries x pt_ref for
 * the scan, 512 pages x 500 (the default copy cost) for the collapse. */
static void test_collapse(void **state)
{
    struct vmsim_config cfg = config(1u << 20, 1000);
    struct vmsim *sim = new_machine(&cfg);
    map(sim, 1, 1);
    for (uint64_t i = 0; i < N; i++)
        run1(sim, ev_access(VMSIM_WRITE, 1, MB2 + i * PAGE));
    assert_int_equal(stats(sim)->frames_used, 4 + N);
    assert_int_equal(stats(sim)->translations_huge, 0);
    advise(sim, 1, 1);
    struct vmsim_pt_footprint before;
    vmsim_footprint(sim, &before);
    assert_int_equal(before.tables[1], 1);
    for (uint64_t i = 0; i < 487; i++)
        run1(sim, ev_access(VMSIM_READ, 1, MB2 + i * PAGE));
    assert_int_equal(stats(sim)->khugepaged.scans, 0);
    const uint64_t inval = stats(sim)->tlb_invalidations;
    run1(sim, ev_access(VMSIM_READ, 1, MB2 + 487 * PAGE)); /* the 1000th */
    const struct vmsim_stats *st = stats(sim);
    assert_int_equal(st->khugepaged.scans, 1);
    assert_int_equal(st->khugepaged.pages_scanned, N);
    assert_int_equal(st->khugepaged.collapses, 1);
    assert_int_equal(st->khugepaged.pages_copied, N);
    assert_int_equal(st->khugepaged.fail_alloc + st->khugepaged.fail_none +
                         st->khugepaged.fail_swap + st->khugepaged.fail_shared,
                     0);
    assert_int_equal(st->khugepaged.cycles, N * cfg.cost.pt_ref + N * 500);
    assert_int_equal(st->tlb_invalidations - inval, N);
    assert_int_equal(st->frames_used, 3 + N);
    assert_int_equal(st->huge_untouched, 0);
    struct vmsim_pt_footprint after;
    vmsim_footprint(sim, &after);
    assert_int_equal(after.tables[1], 0);
    assert_int_equal(before.bytes - after.bytes, PAGE);
    /* the TLB: one huge entry */
    run1(sim, ev_access(VMSIM_READ, 1, MB2 + 100 * PAGE));
    st = stats(sim);
    assert_int_equal(st->tlb[0].reach, MB2);
    const uint64_t hits = st->tlb[0].hits, misses = st->tlb[0].misses, huge = st->translations_huge;
    for (uint64_t i = 1; i <= 5; i++)
        run1(sim, ev_access(VMSIM_READ, 1, MB2 + i * 64 * PAGE + 8));
    st = stats(sim);
    assert_int_equal(st->tlb[0].hits - hits, 5);
    assert_int_equal(st->tlb[0].misses - misses, 0);
    assert_int_equal(st->translations_huge - huge, 5);
    /* the contents: each page still holds its write */
    for (uint64_t i = 0; i < N; i++)
        run1(sim, ev_access(VMSIM_READ, 1, MB2 + i * PAGE));
    st = stats(sim);
    assert_int_equal(st->verify_checks, 488 + 6 + N);
    assert_int_equal(st->verify_mismatches, 0);
    vmsim_destroy(sim);
}

/* max_ptes_none = K = 16. Block A = [2 MiB, 4 MiB): 495 pages written, one
 * read (the zero frame, which counts as empty), 16 never touched: 17 = K +
 * 1 empty, not collapsed. Block B = [4 MiB, 6 MiB): 496 written, one read,
 * 15 untouched: 16 = K empty, collapsed: 496 pages copied, the 16 others
 * zero-filled and untouched: memory.huge_untouched_bytes = 16 x 4 KiB.
 * Accesses: 496 + 497 = 993, and 7 reads of A to reach every = 1000. The
 * scan (pages = 1024) visits both blocks: 1024 entries. After it, A is
 * still 496 base pages (its leaf table stays: 1 leaf table), B one huge
 * page; frames = 3 + A's table + A's 495 frames + the zero frame (the
 * reads) + 512 = 1012. */
static void test_max_ptes_none(void **state)
{
    struct vmsim_config cfg = config(1u << 20, 1000);
    cfg.khugepaged.max_ptes_none = 16;
    cfg.khugepaged.pages = 1024;
    struct vmsim *sim = new_machine(&cfg);
    map(sim, 1, 2);
    for (uint64_t i = 0; i < 495; i++)
        run1(sim, ev_access(VMSIM_WRITE, 1, MB2 + i * PAGE));
    run1(sim, ev_access(VMSIM_READ, 1, MB2 + 495 * PAGE));
    for (uint64_t i = 0; i < 496; i++)
        run1(sim, ev_access(VMSIM_WRITE, 1, 2 * MB2 + i * PAGE));
    run1(sim, ev_access(VMSIM_READ, 1, 2 * MB2 + 496 * PAGE));
    advise(sim, 1, 2);
    for (uint64_t i = 0; i < 7; i++)
        run1(sim, ev_access(VMSIM_READ, 1, MB2 + i * PAGE));
    const struct vmsim_stats *st = stats(sim);
    assert_int_equal(st->khugepaged.scans, 1);
    assert_int_equal(st->khugepaged.pages_scanned, 2 * N);
    assert_int_equal(st->khugepaged.fail_none, 1);
    assert_int_equal(st->khugepaged.collapses, 1);
    assert_int_equal(st->khugepaged.pages_copied, 496);
    assert_int_equal(st->huge_untouched, 16 * PAGE);
    assert_int_equal(st->frames_used, 3 + 1 + 495 + 1 + N);
    assert_int_equal(leaf_tables(sim), 1);
    const uint64_t huge = st->translations_huge;
    run1(sim, ev_access(VMSIM_READ, 1, MB2 + 3 * PAGE));      /* A: a base page */
    run1(sim, ev_access(VMSIM_READ, 1, 2 * MB2 + 3 * PAGE));  /* B: the huge page */
    run1(sim, ev_access(VMSIM_READ, 1, 2 * MB2 + 500 * PAGE)); /* never written: zeroes */
    st = stats(sim);
    assert_int_equal(st->translations_huge - huge, 2);
    assert_int_equal(st->verify_mismatches, 0);
    vmsim_destroy(sim);
}

/* No free 2 MiB block. 1024 frames (two aligned blocks of 512): P1's 4
 * tables and 512 pages take 516, so 508 are free and no aligned block of
 * 512 is: the collapse finds none (collapse_fail_alloc 1, one more buddy
 * failure at order 9) and the block stays as it was: 516 frames, one leaf
 * table, base translations. The scan started at the first process, so
 * having gone round once it stops (1 full scan) instead of trying the
 * block again. */
static void test_no_free_block(void **state)
{
    struct vmsim_config cfg = config(1024, 1000);
    struct vmsim *sim = new_machine(&cfg);
    map(sim, 1, 1);
    for (uint64_t i = 0; i < N; i++)
        run1(sim, ev_access(VMSIM_WRITE, 1, MB2 + i * PAGE));
    advise(sim, 1, 1);
    const uint64_t fail9 = stats(sim)->buddy_fail[9];
    for (uint64_t i = 0; i < 488; i++)
        run1(sim, ev_access(VMSIM_READ, 1, MB2 + i * PAGE));
    const struct vmsim_stats *st = stats(sim);
    assert_int_equal(st->khugepaged.scans, 1);
    assert_int_equal(st->khugepaged.fail_alloc, 1);
    assert_int_equal(st->khugepaged.full_scans, 1);
    assert_int_equal(st->khugepaged.collapses, 0);
    assert_int_equal(st->khugepaged.pages_copied, 0);
    assert_int_equal(st->buddy_fail[9] - fail9, 1);
    assert_int_equal(st->frames_used, 4 + N);
    assert_int_equal(leaf_tables(sim), 1);
    const uint64_t huge = st->translations_huge;
    run1(sim, ev_access(VMSIM_READ, 1, MB2 + 9 * PAGE));
    st = stats(sim);
    assert_int_equal(st->translations_huge, huge);
    assert_int_equal(st->verify_mismatches, 0);
    vmsim_destroy(sim);
}

/* No free 2 MiB block, but compaction can make one (--compact on: Linux's
 * khugepaged allocates with direct reclaim, so it compacts). 1536 frames
 * (blocks 0, 1, 2 of 512). P1 maps X = [2 MiB, 4 MiB) and W = [4 MiB,
 * 6 MiB) and writes X's 512 pages: root 0, X's first page 1, L3 2, L2 3,
 * X's leaf table 4, its other pages 5-515 (docs/kernel.md, "Which frame").
 * P2 writes one page: root 516, page 517, L3 518, L2 519, leaf 520. P1
 * writes W's 512 pages: the first at 521, W's leaf table 522, page k at
 * 522 + k, so pages 502-511 at 1024-1033, in block 2. Unmapping W's first
 * 20 pages (frames 521, 523-541) leaves 1536 - 1034 + 20 = 522 frames free
 * and no free block: blocks 0 and 1 hold tables, block 2 ten pages. Only X
 * is advised. At access 512 + 1 + 512 + 75 = 1100 = every, the scan finds
 * X collapsible and no block: compaction empties block 2 (the only one
 * whose frames in use are all movable): 10 pages moved, each with one
 * mapping (10 entries repointed, 10 shootdowns); then the collapse takes
 * the block: 512 pages copied, X's 512 base frames and its leaf table
 * freed: 1014 - 513 + 512 = 1013 frames in use. The moved pages still hold
 * what P1 wrote (--verify, 0 mismatches). */
static void test_compact_for_collapse(void **state)
{
    struct vmsim_config cfg = config(1536, 1100);
    cfg.compact = true;
    struct vmsim *sim = new_machine(&cfg);
    map(sim, 1, 2);
    for (uint64_t i = 0; i < N; i++)
        run1(sim, ev_access(VMSIM_WRITE, 1, MB2 + i * PAGE));
    run1(sim, ev_access(VMSIM_WRITE, 2, 1ull << 30));
    for (uint64_t i = 0; i < N; i++)
        run1(sim, ev_access(VMSIM_WRITE, 1, 2 * MB2 + i * PAGE));
    run1(sim, ev_os(VMSIM_EV_MUNMAP, 0, 1, 2 * MB2, 20 * PAGE));
    advise(sim, 1, 1);
    assert_int_equal(stats(sim)->frames_used, 1536 - 522);
    for (uint64_t i = 0; i < 74; i++)
        run1(sim, ev_access(VMSIM_READ, 1, MB2 + i * PAGE));
    assert_int_equal(stats(sim)->khugepaged.scans, 0);
    run1(sim, ev_access(VMSIM_READ, 1, MB2 + 74 * PAGE)); /* the 1100th */
    const struct vmsim_stats *st = stats(sim);
    assert_int_equal(st->khugepaged.scans, 1);
    assert_int_equal(st->compact.runs, 1);
    assert_int_equal(st->compact.success, 1);
    assert_int_equal(st->compact.pages_moved, 10);
    assert_int_equal(st->compact.rmap_updates, 10);
    assert_int_equal(st->compact.shootdowns, 10);
    assert_int_equal(st->khugepaged.collapses, 1);
    assert_int_equal(st->khugepaged.fail_alloc, 0);
    assert_int_equal(st->khugepaged.pages_copied, N);
    assert_int_equal(st->frames_used, 1013);
    const uint64_t checks = st->verify_checks;
    for (uint64_t i = 502; i < N; i++)
        run1(sim, ev_access(VMSIM_READ, 1, 2 * MB2 + i * PAGE));
    st = stats(sim);
    assert_int_equal(st->verify_checks - checks, 10);
    assert_int_equal(st->verify_mismatches, 0);
    vmsim_destroy(sim);
}

/* 1536 frames, FIFO, 64 MiB of swap, khugepaged every 1100 accesses
 * (max_ptes_swap when not 0): process 1 maps len bytes of data at 2 MiB
 * and an advised 2 MiB block at 8 MiB, where C's writes will go. */
static struct vmsim *swap_machine(uint64_t len, unsigned max_ptes_swap)
{
    struct vmsim_config cfg = config(1536, 1100);
    cfg.replace = VMSIM_REPLACE_FIFO;
    cfg.swap_bytes = 64ull << 20;
    if (max_ptes_swap)
        cfg.khugepaged.max_ptes_swap = max_ptes_swap;
    struct vmsim *sim = new_machine(&cfg);
    run1(sim, ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, 1, MB2, len));
    run1(sim, ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, 1, 4 * MB2, MB2));
    run1(sim, ev_os(VMSIM_EV_MADVISE, VMSIM_ADV_HUGEPAGE, 1, 4 * MB2, MB2));
    return sim;
}

/* Swapped-out entries (max_ptes_swap, default 512 / 8 = 64). 1536 frames
 * (three aligned 2 MiB blocks), FIFO, swap. P1 maps A = [2 MiB, 4 MiB), C =
 * [4 MiB, 6 MiB) and D = [8 MiB, 10 MiB), advises D. It writes A's 512 pages
 * (root, L3, L2, A's leaf table: 516 frames), one page of D (a huge page:
 * 1028), then C's 512 pages: C's leaf table leaves 507 frames, so the last 5
 * pages of C each evict the oldest page on the FIFO list: A's pages 0-4 go
 * to swap. munmap of D frees its aligned block; A is advised; 75 reads of
 * A's present pages bring the accesses to every = 1100. A has 5 swapped
 * entries <= 64 and 507 referenced ones >= 256: it collapses, its 5 pages
 * read back from swap (swap.reads + 5, 5 x io cycles) into the huge page
 * with the 507 others (512 pages copied). Frames: 4 tables + C's 512 + the
 * huge page = 1028. Reads of A's pages 0-4 then see their writes, through
 * the huge page, no swap-in fault. With max_ptes_swap = 4 the same block
 * fails (collapse_fail_swap 1), nothing is read, 1024 frames stay in use. */
static void test_swapped_entries(void **state)
{
    for (int limit = 0; limit < 2; limit++) {
        struct vmsim *sim = swap_machine(2 * MB2, limit ? 4 : 0);
        for (uint64_t i = 0; i < N; i++)
            run1(sim, ev_access(VMSIM_WRITE, 1, MB2 + i * PAGE));
        run1(sim, ev_access(VMSIM_WRITE, 1, 4 * MB2));
        assert_int_equal(stats(sim)->frames_used, 4 + N + N);
        for (uint64_t i = 0; i < N; i++)
            run1(sim, ev_access(VMSIM_WRITE, 1, 2 * MB2 + i * PAGE));
        const struct vmsim_stats *st = stats(sim);
        assert_int_equal(st->evictions, 5);
        assert_int_equal(st->swap_writes, 5);
        run1(sim, ev_os(VMSIM_EV_MUNMAP, 0, 1, 4 * MB2, MB2));
        advise(sim, 1, 1);
        const uint64_t reads = stats(sim)->swap_reads;
        for (uint64_t i = 100; i < 175; i++)
            run1(sim, ev_access(VMSIM_READ, 1, MB2 + i * PAGE));
        st = stats(sim);
        assert_int_equal(st->khugepaged.scans, 1);
        if (limit) {
            assert_int_equal(st->khugepaged.fail_swap, 1);
            assert_int_equal(st->khugepaged.collapses, 0);
            assert_int_equal(st->swap_reads - reads, 0);
            assert_int_equal(st->frames_used, 4 + 1 + 507 + N);
            vmsim_destroy(sim);
            continue;
        }
        assert_int_equal(st->khugepaged.fail_swap, 0);
        assert_int_equal(st->khugepaged.collapses, 1);
        assert_int_equal(st->khugepaged.pages_copied, N);
        assert_int_equal(st->swap_reads - reads, 5);
        const struct vmsim_cost_config *cost = &vmsim_get_config(sim)->cost;
        assert_int_equal(st->khugepaged.cycles, N * cost->pt_ref + N * 500 + 5 * cost->io);
        assert_int_equal(st->frames_used, 4 + N + N);
        const uint64_t huge = st->translations_huge, faults = st->faults_total;
        for (uint64_t i = 0; i < 5; i++)
            run1(sim, ev_access(VMSIM_READ, 1, MB2 + i * PAGE));
        st = stats(sim);
        assert_int_equal(st->translations_huge - huge, 5);
        assert_int_equal(st->faults_total, faults);
        assert_int_equal(st->verify_mismatches, 0);
        assert_int_equal(st->verify_checks, 75 + 5);
        vmsim_destroy(sim);
    }
}

/* The referenced rule at its edge: a block with swapped entries needs at
 * least 256 (half its entries) present pages with the accessed bit set;
 * empty entries and swapped ones do not count (FIFO never clears a bit:
 * every page written is referenced). 1536 frames, FIFO, swap. P1 maps A,
 * C, E = [2 MiB, 8 MiB) and D = [8 MiB, 10 MiB), advises D. It writes W
 * pages of A (root, L3, L2, A's leaf table: 4 + W frames, all in the first
 * aligned block), one page of D (a huge page: the second aligned block,
 * 516 + W), C's 512 pages (its leaf table: 1029 + W) and 511 - W pages of
 * E (its leaf table: 1541 frames wanted, 5 more than there are): the last
 * 5 of E's writes each evict the oldest page on the list, A's pages 0-4.
 * munmap of D frees its block; A is advised; 76 reads of A's present
 * pages bring the accesses to W + 1 + 512 + (511 - W) + 76 = 1100 = every.
 * A then has 5 swapped entries (<= 64), 512 - W empty ones (<= 511) and
 * W - 5 present, all referenced: W = 261 leaves exactly 256, which
 * collapses (5 pages read back from swap, 256 + 5 copied); W = 260 leaves
 * 255, which is collapse_fail_swap, and nothing is read. */
static void test_referenced_half(void **state)
{
    for (uint64_t w = 260; w <= 261; w++) {
        struct vmsim *sim = swap_machine(3 * MB2, 0);
        for (uint64_t i = 0; i < w; i++)
            run1(sim, ev_access(VMSIM_WRITE, 1, MB2 + i * PAGE));
        run1(sim, ev_access(VMSIM_WRITE, 1, 4 * MB2));
        assert_int_equal(stats(sim)->frames_used, 4 + w + N);
        for (uint64_t i = 0; i < N; i++)
            run1(sim, ev_access(VMSIM_WRITE, 1, 2 * MB2 + i * PAGE));
        for (uint64_t i = 0; i < 511 - w; i++)
            run1(sim, ev_access(VMSIM_WRITE, 1, 3 * MB2 + i * PAGE));
        const struct vmsim_stats *st = stats(sim);
        assert_int_equal(st->evictions, 5);
        assert_int_equal(st->swap_writes, 5);
        assert_int_equal(st->frames_used, 1536);
        run1(sim, ev_os(VMSIM_EV_MUNMAP, 0, 1, 4 * MB2, MB2));
        advise(sim, 1, 1);
        const uint64_t reads = stats(sim)->swap_reads;
        for (uint64_t i = 100; i < 176; i++)
            run1(sim, ev_access(VMSIM_READ, 1, MB2 + i * PAGE));
        st = stats(sim);
        assert_int_equal(st->khugepaged.scans, 1);
        assert_int_equal(st->khugepaged.fail_swap, w == 260);
        assert_int_equal(st->khugepaged.collapses, w == 261);
        assert_int_equal(st->khugepaged.pages_copied, w == 261 ? w : 0);
        assert_int_equal(st->swap_reads - reads, w == 261 ? 5 : 0);
        assert_int_equal(st->verify_mismatches, 0);
        vmsim_destroy(sim);
    }
}

/* A swapped entry whose slot the swap cache still holds is read from that
 * frame, not from the device. 1536 frames, FIFO, swap. P1 maps A, C, E =
 * [2 MiB, 8 MiB) and D = [8 MiB, 10 MiB), advises D, writes A's pages
 * 0-299 (4 tables + 300 pages, the first aligned block) and forks P2 (its
 * root, L3, L2 and A's leaf table: 308 frames, every page shared). P1
 * writes one page of D (a huge page, the second aligned block: 820), then
 * A's pages 5-299 again: 295 copies (1115), P2 keeping the originals. C's
 * leaf table and 425 pages of C want 1541 frames: the last 5 writes evict
 * the 5 oldest on the list, A's originals 0-4, mapped by both: each
 * mapping becomes a swap entry for one slot (5 swap writes). P2 then reads
 * page 0: a swap-in (1 swap read) that evicts the next oldest, P2's
 * original of page 5 (a 6th swap write), and keeps slot 0 as its copy.
 * munmap of D frees its block; A is advised in P1; 78 reads of P1's
 * present pages bring the accesses to 300 + 1 + 295 + 425 + 1 + 78 = 1100
 * = every. P1's block: 5 swapped (<= 64), 295 present, all referenced (>=
 * 256) and its own (0 shared), 212 empty: it collapses, 300 pages copied.
 * Pages 1-4 are read from the device (4 swap reads, 4 x io cycles), page
 * 0 from P2's frame (no read). P1 then reads pages 0-4 through the huge
 * page, no fault, each as written (--verify). */
static void test_swap_cache_collapse(void **state)
{
    struct vmsim_config cfg = config(1536, 1100);
    cfg.replace = VMSIM_REPLACE_FIFO;
    cfg.swap_bytes = 64ull << 20;
    struct vmsim *sim = new_machine(&cfg);
    run1(sim, ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, 1, MB2, 3 * MB2));
    run1(sim, ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, 1, 4 * MB2, MB2));
    run1(sim, ev_os(VMSIM_EV_MADVISE, VMSIM_ADV_HUGEPAGE, 1, 4 * MB2, MB2));
    for (uint64_t i = 0; i < 300; i++)
        run1(sim, ev_access(VMSIM_WRITE, 1, MB2 + i * PAGE));
    run1(sim, ev_os(VMSIM_EV_FORK, 0, 1, 2, 0));
    assert_int_equal(stats(sim)->frames_used, 308);
    run1(sim, ev_access(VMSIM_WRITE, 1, 4 * MB2));
    for (uint64_t i = 5; i < 300; i++)
        run1(sim, ev_access(VMSIM_WRITE, 1, MB2 + i * PAGE));
    const struct vmsim_stats *st = stats(sim);
    assert_int_equal(st->faults_cow_copy, 295);
    assert_int_equal(st->frames_used, 1115);
    for (uint64_t i = 0; i < 425; i++)
        run1(sim, ev_access(VMSIM_WRITE, 1, 2 * MB2 + i * PAGE));
    st = stats(sim);
    assert_int_equal(st->evictions, 5);
    assert_int_equal(st->swap_writes, 5);
    run1(sim, ev_access(VMSIM_READ, 2, MB2));
    st = stats(sim);
    assert_int_equal(st->faults_swap_in, 1);
    assert_int_equal(st->swap_reads, 1);
    assert_int_equal(st->swap_writes, 6);
    run1(sim, ev_os(VMSIM_EV_MUNMAP, 0, 1, 4 * MB2, MB2));
    advise(sim, 1, 1);
    for (uint64_t i = 100; i < 178; i++)
        run1(sim, ev_access(VMSIM_READ, 1, MB2 + i * PAGE));
    st = stats(sim);
    assert_int_equal(st->khugepaged.scans, 1);
    assert_int_equal(st->khugepaged.collapses, 1);
    assert_int_equal(st->khugepaged.pages_copied, 300);
    assert_int_equal(st->swap_reads, 1 + 4);
    assert_int_equal(st->khugepaged.cycles, N * cfg.cost.pt_ref + N * 500 + 4 * cfg.cost.io);
    const uint64_t faults = st->faults_total;
    for (uint64_t i = 0; i < 5; i++)
        run1(sim, ev_access(VMSIM_READ, 1, MB2 + i * PAGE));
    st = stats(sim);
    assert_int_equal(st->faults_total, faults);
    assert_int_equal(st->verify_mismatches, 0);
    vmsim_destroy(sim);
}

/* Copy-on-write sharing (max_ptes_shared, default 512 / 2 = 256), scans of
 * pages = 1024 (two blocks). P1 writes its 512 pages, advises, forks P2:
 * every frame is mapped by both. 488 reads reach the first scan: each
 * block has 512 shared entries > 256 (collapse_fail_shared 2, one per
 * process). P1 then writes pages 0..299 (300 copies); P1's block has 212
 * shared entries, P2's 212 too. 700 reads (P2 all 512, P1 188) reach the
 * second scan, which resumes after P2's block, finds nothing more there,
 * goes round (one full scan) to P1: P1 collapses, 512 pages copied,
 * dropping its 212 references; P2's block then has no shared entry and
 * collapses too: 2 collapses, 1024 pages copied.
 * Frames: 2 x (3 tables + 512) = 1030. Every read of both processes sees
 * its own process's contents (--verify). */
static void test_shared_after_fork(void **state)
{
    struct vmsim_config cfg = config(1u << 20, 1000);
    cfg.khugepaged.pages = 2 * N;
    struct vmsim *sim = new_machine(&cfg);
    map(sim, 1, 1);
    for (uint64_t i = 0; i < N; i++)
        run1(sim, ev_access(VMSIM_WRITE, 1, MB2 + i * PAGE));
    advise(sim, 1, 1);
    run1(sim, ev_os(VMSIM_EV_FORK, 0, 1, 2, 0));
    for (uint64_t i = 0; i < 488; i++)
        run1(sim, ev_access(VMSIM_READ, 1, MB2 + i * PAGE));
    const struct vmsim_stats *st = stats(sim);
    assert_int_equal(st->khugepaged.scans, 1);
    assert_int_equal(st->khugepaged.fail_shared, 2);
    assert_int_equal(st->khugepaged.collapses, 0);
    for (uint64_t i = 0; i < 300; i++)
        run1(sim, ev_access(VMSIM_WRITE, 1, MB2 + i * PAGE));
    assert_int_equal(stats(sim)->faults_cow_copy, 300);
    for (uint64_t i = 0; i < N; i++)
        run1(sim, ev_access(VMSIM_READ, 2, MB2 + i * PAGE));
    for (uint64_t i = 0; i < 188; i++)
        run1(sim, ev_access(VMSIM_READ, 1, MB2 + i * PAGE));
    st = stats(sim);
    assert_int_equal(st->khugepaged.scans, 2);
    assert_int_equal(st->khugepaged.full_scans, 1);
    assert_int_equal(st->khugepaged.fail_shared, 2);
    assert_int_equal(st->khugepaged.collapses, 2);
    assert_int_equal(st->khugepaged.pages_copied, 2 * N);
    assert_int_equal(st->frames_used, 2 * (3 + N));
    for (vmsim_pid_t pid = 1; pid <= 2; pid++)
        for (uint64_t i = 0; i < N; i++)
            run1(sim, ev_access(VMSIM_READ, pid, MB2 + i * PAGE));
    st = stats(sim);
    assert_int_equal(st->verify_checks, 488 + N + 188 + 2 * N);
    assert_int_equal(st->verify_mismatches, 0);
    vmsim_destroy(sim);
}

/* Resuming. pages = 512: a scan visits one block. Two full blocks at 2
 * MiB and 4 MiB, 1024 writes, then every = 1100 so the first scan comes
 * after 76 reads: it collapses the block at 2 MiB only; the second (1100
 * accesses later) resumes after it and collapses the one at 4 MiB; the
 * third finds no base page after 4 MiB, goes round to the first process
 * (one full scan), finds none there either (a second full scan) and stops
 * there, at the start, as Linux's pass_through_head does: nothing visited.
 * The scans run at accesses 1100, 2200, 3300: at 3299, 2 scans. */
static void test_resume(void **state)
{
    struct vmsim_config cfg = config(1u << 20, 1100);
    cfg.khugepaged.pages = N;
    struct vmsim *sim = new_machine(&cfg);
    map(sim, 1, 2);
    for (uint64_t i = 0; i < 2 * N; i++)
        run1(sim, ev_access(VMSIM_WRITE, 1, MB2 + i * PAGE));
    advise(sim, 1, 2);
    struct vmsim_event rd[1100];
    for (size_t i = 0; i < 1100; i++)
        rd[i] = ev_access(VMSIM_READ, 1, MB2 + (i % (2 * N)) * PAGE);
    assert_int_equal(vmsim_run(sim, rd, 76), VMSIM_OK);
    const struct vmsim_stats *st = stats(sim);
    assert_int_equal(st->khugepaged.scans, 1);
    assert_int_equal(st->khugepaged.collapses, 1);
    assert_int_equal(st->khugepaged.pages_scanned, N);
    assert_int_equal(leaf_tables(sim), 1);
    /* in one batch: the scan comes after its access (vmsim forms no run of
     * memo hits here: huge pages make every translation tracked) */
    assert_int_equal(vmsim_run(sim, rd, 1100), VMSIM_OK);
    st = stats(sim);
    assert_int_equal(st->khugepaged.scans, 2);
    assert_int_equal(st->khugepaged.collapses, 2);
    assert_int_equal(st->khugepaged.pages_scanned, 2 * N);
    assert_int_equal(st->khugepaged.full_scans, 0);
    assert_int_equal(leaf_tables(sim), 0);
    assert_int_equal(vmsim_run(sim, rd, 1099), VMSIM_OK);
    assert_int_equal(stats(sim)->khugepaged.scans, 2);
    run1(sim, rd[0]);
    st = stats(sim);
    assert_int_equal(st->khugepaged.scans, 3);
    assert_int_equal(st->khugepaged.full_scans, 2);
    assert_int_equal(st->khugepaged.pages_scanned, 2 * N);
    assert_int_equal(st->khugepaged.collapses, 2);
    assert_int_equal(st->verify_mismatches, 0);
    vmsim_destroy(sim);
}

/* --verify under churn: three processes (one forked from another) write
 * and read at random in 8 blocks each, advise them part of the time, unmap
 * and remap pieces; two thirds of the way a fourth process writes 6000
 * pages, which brings memory pressure with swap (pages are evicted, and
 * blocks then hold swapped pages); scans every 97 accesses, of
 * 1024 entries, max_ptes_none 64, max_ptes_shared 32. Whatever collapses,
 * splits or is evicted, no read may see anything but its process's last
 * write: 0 mismatches, every read checked, no out-of-memory. Collapses,
 * evictions and the failures for empty, swapped and shared entries must
 * all happen (the stream is fixed: these are checked to be non-zero, so
 * that the test keeps attacking those paths, not as derived numbers). */
static void test_verify_churn(void **state)
{
    struct vmsim_config cfg = config(12 * 1024, 97);
    cfg.swap_bytes = 64ull << 20;
    cfg.khugepaged.pages = 2 * N;
    cfg.khugepaged.max_ptes_none = 64;
    cfg.khugepaged.max_ptes_shared = 32;
    struct vmsim *sim = new_machine(&cfg);
    uint64_t x = 12345;
    for (vmsim_pid_t pid = 1; pid <= 2; pid++)
        map(sim, pid, 8);
    unsigned reads = 0;
    for (unsigned step = 0; step < 60000; step++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        const unsigned r = (unsigned)(x >> 33);
        const vmsim_pid_t pid = 1 + r % 3;
        const uint64_t va = MB2 + (uint64_t)(r >> 2) % (8 * N) * PAGE;
        if (step == 20000)
            run1(sim, ev_os(VMSIM_EV_FORK, 0, 1, 3, 0));
        for (uint64_t i = 0; step == 40000 && i < 6000; i++) /* the pressure */
            run1(sim, ev_access(VMSIM_WRITE, 4, 32 * MB2 + i * PAGE));
        if (pid == 3 && step < 20000)
            continue;
        if (r % 997 == 0)
            advise(sim, pid, 8);
        else if (r % 1499 == 0)
            run1(sim, ev_os(VMSIM_EV_MUNMAP, 0, pid, va, 64 * PAGE));
        else if (r % 1499 == 1)
            run1(sim, ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, pid, va & ~(MB2 - 1), MB2));
        else if ((r >> 8) % 3 == 0) {
            run1(sim, ev_access(VMSIM_READ, pid, va));
            reads++;
        } else
            run1(sim, ev_access(VMSIM_WRITE, pid, va));
    }
    const struct vmsim_stats *st = stats(sim);
    assert_int_equal(st->verify_checks, reads);
    assert_int_equal(st->verify_mismatches, 0);
    assert_int_equal(st->faults_oom, 0);
    if (!st->khugepaged.collapses || !st->khugepaged.fail_none || !st->khugepaged.fail_swap ||
        !st->khugepaged.fail_shared || !st->evictions)
        fail_msg("the stream no longer exercises the paths: %llu collapses, %llu fail_none, "
                 "%llu fail_swap, %llu fail_shared, %llu evictions",
                 (unsigned long long)st->khugepaged.collapses,
                 (unsigned long long)st->khugepaged.fail_none,
                 (unsigned long long)st->khugepaged.fail_swap,
                 (unsigned long long)st->khugepaged.fail_shared,
                 (unsigned long long)st->evictions);
    vmsim_destroy(sim);
}

/* Off by default: the statistics stay 0 and the JSON has no key. The
 * library refuses what it cannot do (base pages only), and so does the
 * CLI, saying what it expected; a bad spec names the item. */
static void test_option(void **state)
{
    struct vmsim_config cfg = config(1u << 20, 0);
    struct vmsim *sim = new_machine(&cfg);
    for (uint64_t i = 0; i < 3000; i++)
        run1(sim, ev_access(VMSIM_WRITE, 1, i * PAGE));
    assert_int_equal(stats(sim)->khugepaged.scans, 0);
    vmsim_destroy(sim);
    cfg = config(1u << 20, 10);
    cfg.anon_page_shift = 12;
    struct vmsim *bad = NULL;
    assert_int_equal(vmsim_create(&cfg, &bad), VMSIM_EINVAL);
    char why[160];
    assert_int_equal(vmsim_khugepaged_parse("every=5,pages=0", &cfg, why, sizeof why), VMSIM_EINVAL);
    assert_int_equal(vmsim_khugepaged_parse("every=5,max_ptes_none=7,copy=9", &cfg, why, sizeof why),
                     VMSIM_OK);
    assert_int_equal(cfg.khugepaged.every, 5);
    assert_int_equal(cfg.khugepaged.max_ptes_none, 7);
    assert_int_equal(cfg.khugepaged.copy, 9);
    assert_int_equal(cfg.khugepaged.pages, VMSIM_KHP_DEFAULT);
    const struct vmsim_khugepaged_config r = vmsim_khugepaged_resolved(&cfg);
    assert_int_equal(r.pages, 8 * N);
    assert_int_equal(r.max_ptes_shared, N / 2);
    assert_int_equal(r.max_ptes_swap, N / 8);
    assert_int_equal(r.max_ptes_none, 7);

    /* the library's option table, as the bindings use it */
    struct vmsim_config o;
    vmsim_config_default(&o);
    assert_int_equal(vmsim_config_option(&o, "khugepaged", "every=10,max_ptes_swap=3", why,
                                         sizeof why), VMSIM_OK);
    assert_int_equal(o.khugepaged.max_ptes_swap, 3);
    assert_int_equal(vmsim_config_finish(&o, why, sizeof why), VMSIM_EINVAL); /* base pages */
    expect_in("why", why, "--khugepaged: expected huge pages");
    assert_int_equal(vmsim_config_option(&o, "page-size", "2m", why, sizeof why), VMSIM_OK);
    assert_int_equal(vmsim_config_finish(&o, why, sizeof why), VMSIM_OK);

    struct cmd_result c = run_vmsim("run --workload seq --khugepaged every=1000,sometimes=2");
    assert_int_equal(c.status, 2);
    expect_in("stderr", c.err, "sometimes=2");
    cmd_result_free(&c);
    c = run_vmsim("run --workload seq --khugepaged on");
    assert_int_equal(c.status, 2);
    expect_in("stderr", c.err, "--khugepaged: expected huge pages");
    cmd_result_free(&c);
    c = run_vmsim("run --workload seq --json - --quiet");
    assert_int_equal(c.status, 0);
    assert_null(strstr(c.out, "khugepaged"));
    cmd_result_free(&c);
    c = run_vmsim("run --workload seq --page-size 2m --thp always --khugepaged every=1000 --json -");
    assert_int_equal(c.status, 0);
    expect_in("stdout", c.out, "\"collapse_fail_alloc\"");
    expect_in("stdout", c.out, "\"max_ptes_none\": 511");
    cmd_result_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collapse),
        cmocka_unit_test(test_max_ptes_none),
        cmocka_unit_test(test_no_free_block),
        cmocka_unit_test(test_compact_for_collapse),
        cmocka_unit_test(test_swapped_entries),
        cmocka_unit_test(test_referenced_half),
        cmocka_unit_test(test_swap_cache_collapse),
        cmocka_unit_test(test_shared_after_fork),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_verify_churn),
        cmocka_unit_test(test_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
