/* The simulated kernel on hand-made event streams: page replacement
 * (Belady's anomaly, the textbook string), swap, fork and copy-on-write, the
 * page cache, shootdowns, strict mode, protection and out-of-memory. Every
 * expected number is worked out in the comments, from the textbook or by
 * hand, never from the program's output.
 *
 * Memory sizes count page-table frames too: one process touching pages in
 * one 2 MiB region holds 4 table frames (root, L3, L2, L1) on x86-64, so a
 * machine of 4 + N frames leaves N frames for data. Replacement tests write
 * every page: a first read would map the shared zero frame and take no
 * frame. */
#include <stdio.h>
#include <string.h>

#include "machine/debug.h"
#include "testutil.h"
#include "vmsim/vmsim.h"

#define PAGE 4096ull
#define MB2 (2ull << 20)
#define TABLES 4 /* table frames of one process with pages in one 2 MiB region */

static struct vmsim_config config(uint64_t frames, unsigned policy, uint64_t swap_pages)
{
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    cfg.phys_bytes = frames * PAGE;
    cfg.replace = (uint8_t)policy;
    cfg.swap_bytes = swap_pages * PAGE;
    return cfg;
}

/* Run one event; the statistics the tests hold (vmsim_get_stats' struct)
 * are as of the last read, so read them again. */
static void run1(struct vmsim *sim, struct vmsim_event e)
{
    assert_int_equal(vmsim_run(sim, &e, 1), 0);
    vmsim_get_stats(sim);
}

/* Page faults of a reference string of page numbers (1-based pages at
 * page * 4 KiB, all writes) with `frames` data frames under a policy. */
static uint64_t faults_of(const int *ref, size_t n, unsigned frames, unsigned policy)
{
    struct vmsim_config cfg = config(TABLES + frames, policy, 64);
    struct vmsim *sim = new_machine(&cfg);
    struct vmsim_event ev[64];
    for (size_t i = 0; i < n; i++)
        ev[i] = ev_access(VMSIM_WRITE, 1, (uint64_t)ref[i] * PAGE);
    if (policy == VMSIM_REPLACE_OPT)
        assert_int_equal(vmsim_plan(sim, ev, n), VMSIM_OK);
    assert_int_equal(vmsim_run(sim, ev, n), VMSIM_OK);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    uint64_t f = st->faults_total;
    /* every fault loaded a page: a first touch or a swap-in, nothing else */
    assert_int_equal(f, st->faults_zero_write + st->faults_swap_in);
    assert_int_equal(st->faults_oom, 0);
    vmsim_destroy(sim);
    return f;
}

/* DESIGN.md and every OS textbook: Belady's anomaly. FIFO on
 * 1 2 3 4 1 2 5 1 2 3 4 5 takes 9 faults with 3 frames, 10 with 4. */
static void test_belady_anomaly(void **state)
{
    static const int ref[] = {1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5};
    assert_int_equal(faults_of(ref, 12, 3, VMSIM_REPLACE_FIFO), 9);
    assert_int_equal(faults_of(ref, 12, 4, VMSIM_REPLACE_FIFO), 10);
}

/* Silberschatz's reference string (7 0 1 2 0 3 0 4 2 3 0 3 2 1 2 0 1 7 0 1)
 * with 3 frames: FIFO 15 faults, LRU 12, OPT 9. Page 0 is placed at page
 * 10 here (address 0 is as good as any, but keeps the pages apart from
 * nothing); the numbers do not depend on where the pages are. */
static void test_textbook_string(void **state)
{
    static const int ref[] = {7, 10, 1, 2, 10, 3, 10, 4, 2, 3, 10, 3, 2, 1, 2, 10, 1, 7, 10, 1};
    assert_int_equal(faults_of(ref, 20, 3, VMSIM_REPLACE_FIFO), 15);
    assert_int_equal(faults_of(ref, 20, 3, VMSIM_REPLACE_LRU), 12);
    assert_int_equal(faults_of(ref, 20, 3, VMSIM_REPLACE_OPT), 9);
}

/* Run accesses (kind, address) under OPT with `frames` data frames and
 * 64 swap slots; the statistics at the end. */
static struct vmsim_stats opt_run(const unsigned *kind, const uint64_t *addr, size_t n,
                                  unsigned frames)
{
    struct vmsim_config cfg = config(TABLES + frames, VMSIM_REPLACE_OPT, 64);
    struct vmsim *sim = new_machine(&cfg);
    struct vmsim_event ev[16];
    for (size_t i = 0; i < n; i++)
        ev[i] = ev_access(kind[i], 1, addr[i]);
    assert_int_equal(vmsim_plan(sim, ev, n), VMSIM_OK);
    assert_int_equal(vmsim_run(sim, ev, n), VMSIM_OK);
    const struct vmsim_stats st = *vmsim_get_stats(sim);
    vmsim_destroy(sim);
    return st;
}

/* OPT's ties (docs/kernel.md, "Replacement policies"): among frames whose
 * next reference is equally far, the one referenced longest ago goes.
 * With 2 data frames, next use in (), the tick of the last reference in
 * [] (the access's number here):
 *   0 W a      a(4)[0]                                    zero-fill
 *   1 W b      a(4)[0] b(3)[1]                            zero-fill
 *   2 W c      a goes (4 > 3), dirty: written (1)         zero-fill
 *              b(3)[1] c(never)[2]
 *   3 R b      hit: b(5)[3]
 *   4 R a      swap-in; c goes (never), dirty: written (2)
 *              b(5)[3] a(never)[4], a clean, its copy kept
 *   5 R b      hit: b(never)[5]
 *   6 W d      a and b are both never used again: a, referenced longest
 *              ago, goes, clean: dropped, no write          zero-fill
 * So 4 zero-fills, 1 swap-in, 3 evictions, 2 swap writes, 1 dropped clean.
 * The frame referenced last (b) would be written instead: 3 writes, none
 * dropped; so would the one resident longest (b, since access 1). */
static void test_opt_ties(void **state)
{
    const unsigned W = VMSIM_WRITE, R = VMSIM_READ;
    const unsigned kind[] = {W, W, W, R, R, R, W};
    const uint64_t a = 1 * PAGE, b = 2 * PAGE, c = 3 * PAGE, d = 4 * PAGE;
    const uint64_t addr[] = {a, b, c, b, a, b, d};
    struct vmsim_stats st = opt_run(kind, addr, 7, 2);
    assert_int_equal(st.faults_zero_write, 4);
    assert_int_equal(st.faults_swap_in, 1);
    assert_int_equal(st.evictions, 3);
    assert_int_equal(st.swap_writes, 2);
    assert_int_equal(st.evictions_clean, 1);
    /* Equal next uses that are not `never`: an access that crosses from
     * page 1 into page 2 counts for page 1 (docs/kernel.md, "OPT needs the
     * future"), so both pages are next used at access 2, the next of page
     * 1. Page 1 is referenced first (pages in address order):
     *   0 W 1|2    1(2)[0] 2(2)[0']                     2 zero-fills
     *   1 W 3      1 and 2 tie: 1 goes, dirty: written   zero-fill
     *   2 R 1      swap-in; 3 (never) goes before 2 (at 2, now): written
     * So 3 zero-fills, 1 swap-in, 2 evictions, 2 writes, none dropped;
     * breaking the tie the other way would keep page 1: no swap-in, one
     * write. */
    const unsigned kind2[] = {W, W, R};
    const uint64_t addr2[] = {2 * PAGE - 4, 3 * PAGE, 1 * PAGE};
    st = opt_run(kind2, addr2, 3, 2);
    assert_int_equal(st.faults_zero_write, 3);
    assert_int_equal(st.faults_swap_in, 1);
    assert_int_equal(st.evictions, 2);
    assert_int_equal(st.swap_writes, 2);
    assert_int_equal(st.evictions_clean, 0);
}

/* Clock (second chance) with 3 frames on 1 2 3 4 1 2 5 1 2 3 4 5, by
 * hand. A reference sets the page's bit (the one that loads it too); the
 * hand clears set bits as it passes and takes the first page found clear;
 * a new page takes the victim's place and the hand moves past it.
 *   1 2 3   [1* 2* 3*] hand at 1                                  3 faults
 *   4       clears 1 2 3, takes 1: [4* 2 3], hand at 2            4
 *   1       takes 2: [4* 1* 3], hand at 3                         5
 *   2       takes 3: [4* 1* 2*], hand at 4                        6
 *   5       clears 4 1 2, takes 4: [5* 1 2], hand at 1            7
 *   1 2     hits: [5* 1* 2*]
 *   3       clears 1 2 5, takes 1: [5 3* 2], hand at 2            8
 *   4       takes 2: [5 3* 4*], hand at 5                         9
 *   5       hit                                                   9 */
static void test_clock(void **state)
{
    static const int ref[] = {1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5};
    assert_int_equal(faults_of(ref, 12, 3, VMSIM_REPLACE_CLOCK), 9);
    /* A string where the victim's place matters (a new page appended at
     * the end instead would give 8):
     *   5 2 (2) 4   [5* 2* 4*]                                  3 faults
     *   3           clears all, takes 5: [3* 2 4], hand at 2    4
     *   (2)         sets 2: [3* 2* 4]
     *   5           clears 2, takes 4: [3* 2 5*], hand at 3     5
     *   (2)         [3* 2* 5*]
     *   4           clears 3 2 5, takes 3: [4* 2 5], hand at 2  6
     *   1           takes 2: [4* 1* 5], hand at 5               7
     *   2           takes 5: [4* 1* 2*], hand at 4              8
     *   3           clears 4 1 2, takes 4: [3* 1 2]             9
     *   (1)         hit                                         9 */
    static const int ref2[] = {5, 2, 2, 4, 3, 2, 5, 2, 4, 1, 2, 3, 1};
    assert_int_equal(faults_of(ref2, 13, 3, VMSIM_REPLACE_CLOCK), 9);
}

/* Clock when the swap is full: a victim that cannot go (dirty, no free
 * slot) is passed over and the next candidate is the next frame the hand
 * finds (docs/kernel.md, "Eviction"). 5 data frames, 5 swap slots, Clock;
 * * marks a reference bit, the hand is after the last victim:
 *   W1..W5      [1* 2* 3* 4* 5*]                                    5 faults
 *   W6          clears all, takes 1 (write, slot a): [6* 2 3 4 5]
 *   R1          takes 2 (slot b), 1 back clean, copy in a: [6* 1* 3 4 5]
 *   W7          takes 3 (slot c): [6* 1* 7* 4 5]
 *   R2          takes 4 (slot d), 2 back clean: [6* 1* 7* 2* 5]
 *   W8          takes 5 (slot e, the last): [6* 1* 7* 2* 8*]           10
 *   W9          clears all, 6 needs a slot: passed over; the next, 1, is
 *               clean with its copy: dropped. [6 9* 7 2 8]            11
 * So 9 zero-fill faults, 2 swap-ins, 6 evictions (5 written, 1 dropped),
 * no out of memory; and R1 then reads 1 back (a swap-in). Counting the
 * candidates already passed again from the hand at each try instead
 * visits 6 7 6 8 8 6 7 ... and never a clean one: out of memory. */
static void test_clock_swap_full(void **state)
{
    struct vmsim_config cfg = config(TABLES + 5, VMSIM_REPLACE_CLOCK, 5);
    struct vmsim *sim = new_machine(&cfg);
    const unsigned W = VMSIM_WRITE, R = VMSIM_READ;
    const unsigned k[] = {W, W, W, W, W, W, R, W, R, W, W, R};
    const int page[] = {1, 2, 3, 4, 5, 6, 1, 7, 2, 8, 9, 1};
    for (int i = 0; i < 11; i++)
        run1(sim, ev_access(k[i], 1, (uint64_t)page[i] * PAGE));
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_int_equal(st->faults_oom, 0);
    assert_int_equal(st->faults_zero_write, 9);
    assert_int_equal(st->faults_swap_in, 2);
    assert_int_equal(st->evictions, 6);
    assert_int_equal(st->swap_writes, 5);
    assert_int_equal(st->evictions_clean, 1);
    run1(sim, ev_access(k[11], 1, (uint64_t)page[11] * PAGE));
    st = vmsim_get_stats(sim);
    assert_int_equal(st->faults_swap_in, 3); /* 1 was the one evicted */
    vmsim_destroy(sim);
}

/* A write through a private file mapping that gets its page into the page
 * cache but finds no frame for its copy: the root and three tables, then
 * the page-cache frame, fill a memory of 4 + 1 frames, and with --replace
 * none nothing can go. One fault (docs/kernel.md, "The fault handler": a
 * fault that cannot be fixed is counted and the access goes on
 * untranslated): a page-cache miss, out of memory, no copy; not a second
 * fault on a retry. */
static void test_private_write_oom(void **state)
{
    struct vmsim_config cfg = config(TABLES + 1, VMSIM_REPLACE_NONE, 0);
    struct vmsim *sim = new_machine(&cfg);
    struct vmsim_event m = ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, 1, 0x400000, PAGE);
    m.file = 7;
    run1(sim, m);
    run1(sim, ev_access(VMSIM_WRITE, 1, 0x400000));
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_int_equal(st->faults_total, 1);
    assert_int_equal(st->faults_pagecache_miss, 1);
    assert_int_equal(st->faults_oom, 1);
    assert_int_equal(st->faults_cow_copy, 0);
    vmsim_destroy(sim);
}

/* Swap traffic, FIFO, 3 data frames; list order is load order.
 *   W1 W2 W3   three zero-fill faults                  [1 2 3]
 *   W4         evicts 1 (dirty): swap write 1          [2 3 4]
 *   R1         evicts 2 (dirty): write 2; reads 1 in:
 *              swap read 1; 1 keeps its slot as a copy  [3 4 1]
 *   W5 W6      evict 3, 4 (dirty): writes 3, 4          [1 5 6]
 *   W7         evicts 1: clean, its copy valid: dropped [5 6 7]
 *   R1         evicts 5 (write 5), reads 1 (read 2)     [6 7 1]
 * Evictions 6, one of them clean; slots in use at most 5 (1 2 3 4 5). */
static void test_swap_traffic(void **state)
{
    struct vmsim_config cfg = config(TABLES + 3, VMSIM_REPLACE_FIFO, 64);
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    const unsigned k[] = {VMSIM_WRITE, VMSIM_WRITE, VMSIM_WRITE, VMSIM_WRITE, VMSIM_READ,
                          VMSIM_WRITE, VMSIM_WRITE, VMSIM_WRITE, VMSIM_READ};
    const int page[] = {1, 2, 3, 4, 1, 5, 6, 7, 1};
    for (int i = 0; i < 9; i++) {
        run1(sim, ev_access(k[i], 1, (uint64_t)page[i] * PAGE));
        if (i == 4) {
            assert_int_equal(st->swap_writes, 2);
            assert_int_equal(st->swap_reads, 1);
        }
    }
    assert_int_equal(st->swap_writes, 5);
    assert_int_equal(st->swap_reads, 2);
    assert_int_equal(st->evictions, 6);
    assert_int_equal(st->evictions_clean, 1);
    assert_int_equal(st->faults_swap_in, 2);
    assert_int_equal(vmsim_get_stats(sim)->swap_slots_peak, 5); /* a gauge: refreshed by the call */
    vmsim_destroy(sim);
}

/* phys/swap.h: a frame names the slot holding its copy in 32 bits, so a
 * device has at most 2^32 slots. 16 TiB of 4 KiB slots is accepted, and the
 * slots it hands out work as in test_swap_traffic (the same 5 writes, 2
 * reads); one slot more is refused with a status, not a crash. */
static void test_swap_slot_limit(void **state)
{
    struct vmsim_config cfg = config(TABLES + 3, VMSIM_REPLACE_FIFO, 1ull << 32);
    struct vmsim *sim = new_machine(&cfg);
    const int page[] = {1, 2, 3, 4, 1, 5, 6, 7, 1};
    for (int i = 0; i < 9; i++)
        run1(sim, ev_access(i == 4 || i == 8 ? VMSIM_READ : VMSIM_WRITE, 1, (uint64_t)page[i] * PAGE));
    assert_int_equal(vmsim_get_stats(sim)->swap_writes, 5);
    assert_int_equal(vmsim_get_stats(sim)->swap_reads, 2);
    vmsim_destroy(sim);
    cfg.swap_bytes += PAGE;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_EINVAL);
}

/* No swap: anonymous pages cannot go, so the fourth page finds no frame
 * (out of memory, counted), and the run goes on. With a policy of none the
 * same happens. */
static void test_out_of_memory(void **state)
{
    for (unsigned policy = VMSIM_REPLACE_CLOCK; policy <= VMSIM_REPLACE_NONE;
         policy += VMSIM_REPLACE_NONE - VMSIM_REPLACE_CLOCK) {
        struct vmsim_config cfg = config(TABLES + 3, policy, 0);
        struct vmsim *sim = new_machine(&cfg);
        const struct vmsim_stats *st = vmsim_get_stats(sim);
        for (int p = 1; p <= 5; p++)
            run1(sim, ev_access(VMSIM_WRITE, 1, (uint64_t)p * PAGE));
        assert_int_equal(st->faults_zero_write, 3);
        assert_int_equal(st->faults_oom, 2);
        assert_int_equal(st->accesses, 5);
        vmsim_destroy(sim);
    }
}

/* fork and copy-on-write. The parent writes pages A, B, C (3 zero-fill
 * faults), forks: 3 writable private pages are write-protected in the
 * parent (3 invalidations). Then:
 *   child writes A     A's frame is shared (2 maps): copy       cow_copy 1
 *   parent writes A    its frame is now its own: reuse          cow_reuse 1
 *   child reads B      present in the child, read-only: no fault
 *   parent writes C    shared: copy                             cow_copy 2
 *   child writes C     its own now: reuse                       cow_reuse 2
 *   child writes B     shared with the parent: copy             cow_copy 3
 * Frames in use: 4 tables x 2 processes + A,A',B,B',C,C' = 14. */
static void test_fork_cow(void **state)
{
    struct vmsim_config cfg = config(1024, VMSIM_REPLACE_CLOCK, 0);
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    const uint64_t A = 0x10000, B = 0x11000, C = 0x12000;
    run1(sim, ev_access(VMSIM_WRITE, 1, A));
    run1(sim, ev_access(VMSIM_WRITE, 1, B));
    run1(sim, ev_access(VMSIM_WRITE, 1, C));
    const uint64_t inval = st->tlb_invalidations;
    run1(sim, ev_os(VMSIM_EV_FORK, 0, 1, 2, 0));
    assert_int_equal(st->forks, 1);
    assert_int_equal(st->tlb_invalidations - inval, 3);
    assert_int_equal(vmsim_get_stats(sim)->frames_used, 2 * TABLES + 3);
    run1(sim, ev_access(VMSIM_WRITE, 2, A));
    run1(sim, ev_access(VMSIM_WRITE, 1, A));
    const uint64_t faults = st->faults_total;
    run1(sim, ev_access(VMSIM_READ, 2, B));
    assert_int_equal(st->faults_total, faults);
    run1(sim, ev_access(VMSIM_WRITE, 1, C));
    run1(sim, ev_access(VMSIM_WRITE, 2, C));
    run1(sim, ev_access(VMSIM_WRITE, 2, B));
    assert_int_equal(st->faults_cow_copy, 3);
    assert_int_equal(st->faults_cow_reuse, 2);
    assert_int_equal(vmsim_get_stats(sim)->frames_used, 2 * TABLES + 6);
    /* The child exits: its 4 tables and its 3 private frames go. */
    run1(sim, ev_os(VMSIM_EV_EXIT, 0, 2, 0, 0));
    assert_int_equal(vmsim_get_stats(sim)->frames_used, TABLES + 3);
    vmsim_destroy(sim);
}

/* A zero-mapped page is inherited as it is: the child's first write is a
 * copy of the zero frame, like the parent's. */
static void test_fork_zero_page(void **state)
{
    struct vmsim_config cfg = config(1024, VMSIM_REPLACE_CLOCK, 0);
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    run1(sim, ev_access(VMSIM_READ, 1, 0x10000));
    run1(sim, ev_os(VMSIM_EV_FORK, 0, 1, 2, 0));
    run1(sim, ev_access(VMSIM_WRITE, 2, 0x10000));
    run1(sim, ev_access(VMSIM_WRITE, 1, 0x10000));
    assert_int_equal(st->faults_zero_read, 1);
    assert_int_equal(st->faults_cow_zero, 2);
    assert_int_equal(st->faults_cow_copy, 0);
    vmsim_destroy(sim);
}

/* Seed 001: a library mapped by a hundred processes is in memory once.
 * 100 processes map file 7 (8 pages, r-x, private) and fetch every page:
 * 8 page-cache misses (file reads), 792 hits; frames = 100 x 4 tables + 8. */
static void test_page_cache_sharing(void **state)
{
    struct vmsim_config cfg = config(4096, VMSIM_REPLACE_CLOCK, 0);
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    for (vmsim_pid_t pid = 1; pid <= 100; pid++) {
        struct vmsim_event m = ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_X, pid, 0x400000, 8 * PAGE);
        m.file = 7;
        run1(sim, m);
        for (int i = 0; i < 8; i++)
            run1(sim, ev_access(VMSIM_FETCH, pid, 0x400000 + i * PAGE));
    }
    assert_int_equal(st->faults_pagecache_miss, 8);
    assert_int_equal(st->faults_pagecache_hit, 792);
    assert_int_equal(st->file_reads, 8);
    assert_int_equal(vmsim_get_stats(sim)->frames_used, 100 * TABLES + 8);
    vmsim_destroy(sim);
}

/* The same file at an offset: process 2 maps file 7 from byte 8192, so its
 * first page is process 1's third. A shared writable mapping writes into
 * the cached page itself (no copy); a private one copies. */
static void test_page_cache_offsets_and_writes(void **state)
{
    struct vmsim_config cfg = config(4096, VMSIM_REPLACE_CLOCK, 0);
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    struct vmsim_event m = ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W | VMSIM_MAP_SHARED, 1,
                              0x400000, 4 * PAGE);
    m.file = 7;
    run1(sim, m);
    m.pid = 2;
    m.pgoff = 2;
    m.kind = VMSIM_PROT_R | VMSIM_PROT_W;
    run1(sim, m);
    run1(sim, ev_access(VMSIM_WRITE, 1, 0x400000 + 2 * PAGE)); /* miss: read page 2 of the file */
    run1(sim, ev_access(VMSIM_READ, 2, 0x400000));             /* hit: the same page */
    assert_int_equal(st->faults_pagecache_miss, 1);
    assert_int_equal(st->faults_pagecache_hit, 1);
    assert_int_equal(st->faults_cow_copy, 0);
    run1(sim, ev_access(VMSIM_WRITE, 2, 0x400000)); /* private: copy */
    assert_int_equal(st->faults_cow_copy, 1);
    vmsim_destroy(sim);
}

/* Eviction of a page-cache page: a dirty one is written back, a clean
 * one dropped, and every process that mapped it faults it back in. FIFO,
 * 10 frames. P1 and P2 map file 3 shared rw- (each mmap creates the
 * process: 2 roots).
 *   P1 W page 0   P1's 3 tables; miss: file read 1          frames 6
 *   P2 R page 0   P2's 3 tables; hit                        frames 9
 *   P1 R page 1   miss: read 2                              frames 10
 *   P1 R page 2   full: evicts page 0, dirty (P1 wrote it): file write 1,
 *                 unmapped from P1 and P2 (2 invalidations); P2's leaf
 *                 table is empty now but stays (reclaim frees no tables,
 *                 as in Linux); read 3                      frames 10
 *   P2 R page 0   full: evicts page 1 (clean: dropped); read 4 */
static void test_page_cache_eviction(void **state)
{
    struct vmsim_config cfg = config(10, VMSIM_REPLACE_FIFO, 0);
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    for (vmsim_pid_t pid = 1; pid <= 2; pid++) {
        struct vmsim_event m = ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W | VMSIM_MAP_SHARED,
                                  pid, 0x400000, 4 * PAGE);
        m.file = 3;
        run1(sim, m);
    }
    run1(sim, ev_access(VMSIM_WRITE, 1, 0x400000));
    run1(sim, ev_access(VMSIM_READ, 2, 0x400000));
    run1(sim, ev_access(VMSIM_READ, 1, 0x401000));
    assert_int_equal(st->file_reads, 2);
    assert_int_equal(st->faults_pagecache_hit, 1);
    assert_int_equal(vmsim_get_stats(sim)->frames_used, 10);
    const uint64_t inval = st->tlb_invalidations;
    run1(sim, ev_access(VMSIM_READ, 1, 0x402000));
    assert_int_equal(st->file_writes, 1);
    assert_int_equal(st->evictions, 1);
    assert_int_equal(st->tlb_invalidations - inval, 2);
    assert_int_equal(vmsim_get_stats(sim)->frames_used, 10);
    run1(sim, ev_access(VMSIM_READ, 2, 0x400000));
    assert_int_equal(st->file_reads, 4);
    assert_int_equal(st->evictions, 2);
    assert_int_equal(st->evictions_clean, 1);
    assert_int_equal(st->file_writes, 1);
    vmsim_destroy(sim);
}

/* A dirty page of shared anonymous memory that holds a slot from an
 * earlier eviction: the slot's contents are stale (docs/kernel.md, "Swap":
 * a slot counts a page of shared memory whose contents are there), so the
 * eviction lets it go before taking a slot, and a full swap does not stop
 * it. FIFO, 5 frames (P1's root and 3 tables, one data frame), 2 slots; P1
 * maps 2 pages of shared anonymous memory rw-.
 *   W A   miss, zero-filled (no read); the root, then A, then 3 tables
 *   W B   miss: evicts A, dirty, no slot: slot 0, swap write 1
 *   R A   miss: evicts B, dirty, no slot: slot 1, swap write 2; A read
 *         back from slot 0 (swap read 1), clean, the slot kept
 *   W A   no fault: the entry is writable; the write sets its dirty bit
 *   R B   miss: evicts A, dirty: slot 0 (stale) goes, a slot is taken
 *         (slot 0 again), swap write 3; B read from slot 1 (swap read 2)
 * So 4 faults, all page-cache misses, 3 evictions, 3 swap writes, 2 swap
 * reads, none dropped clean, none out of memory, at most 2 slots in use,
 * one shootdown per eviction (one mapping each). Taking the new slot first
 * would find none free: A passed over, no other candidate, B out of memory
 * (2 writes, 1 read, 1 fault out of memory). */
static void test_shared_memory_dirty_slot(void **state)
{
    struct vmsim_config cfg = config(5, VMSIM_REPLACE_FIFO, 2);
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    const uint64_t A = 0x400000, B = A + PAGE;
    run1(sim, ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W | VMSIM_MAP_SHARED, 1, A,
                    2 * PAGE));
    run1(sim, ev_access(VMSIM_WRITE, 1, A));
    run1(sim, ev_access(VMSIM_WRITE, 1, B));
    run1(sim, ev_access(VMSIM_READ, 1, A));
    run1(sim, ev_access(VMSIM_WRITE, 1, A));
    assert_int_equal(st->faults_total, 3);
    assert_int_equal(st->swap_writes, 2);
    assert_int_equal(st->swap_reads, 1);
    run1(sim, ev_access(VMSIM_READ, 1, B));
    assert_int_equal(st->faults_total, 4);
    assert_int_equal(st->faults_pagecache_miss, 4);
    assert_int_equal(st->faults_oom, 0);
    assert_int_equal(st->evictions, 3);
    assert_int_equal(st->swap_writes, 3);
    assert_int_equal(st->swap_reads, 2);
    assert_int_equal(st->evictions_clean, 0);
    assert_int_equal(st->swap_slots_peak, 2);
    assert_int_equal(st->tlb_invalidations, 3);
    assert_int_equal(st->frames_used, 5);
    vmsim_destroy(sim);
}

/* Shootdowns reach the CPUs that ran the process. P1 runs on CPUs 0 and 1
 * (and 2 runs P2); unmapping a present page of P1 from CPU 0 invalidates on
 * CPUs 0 and 1: one IPI. Without ASIDs only CPUs running P1 at the time
 * may hold its entries: after CPU 1 switches to P2, none but CPU 0. */
static void test_shootdown_ipis(void **state)
{
    for (int asids = 1; asids >= 0; asids--) {
        struct vmsim_config cfg = config(1024, VMSIM_REPLACE_CLOCK, 0);
        cfg.asids = asids;
        struct vmsim *sim = new_machine(&cfg);
        const struct vmsim_stats *st = vmsim_get_stats(sim);
        struct vmsim_event e = ev_access(VMSIM_WRITE, 1, 0x10000);
        run1(sim, e);
        e.cpu = 1;
        run1(sim, e);
        e.pid = 2;
        e.cpu = 2;
        run1(sim, e);
        struct vmsim_event un = ev_os(VMSIM_EV_MUNMAP, 0, 1, 0x10000, PAGE);
        run1(sim, un);
        assert_int_equal(st->shootdown_ipis, 1);
        /* CPU 1 now runs P2; P1 maps a page again and unmaps it. */
        e = ev_access(VMSIM_WRITE, 2, 0x10000);
        e.cpu = 1;
        run1(sim, e);
        run1(sim, ev_access(VMSIM_WRITE, 1, 0x20000));
        run1(sim, ev_os(VMSIM_EV_MUNMAP, 0, 1, 0x20000, PAGE));
        assert_int_equal(st->shootdown_ipis, asids ? 2 : 1);
        vmsim_destroy(sim);
    }
}

/* Strict mode: an access outside every VMA is a segfault, counted, never
 * retried; inside, demand-zero as usual. Without strict mode the same
 * access is implicit anonymous memory. */
static void test_strict_segfault(void **state)
{
    for (int strict = 0; strict <= 1; strict++) {
        struct vmsim_config cfg = config(1024, VMSIM_REPLACE_CLOCK, 0);
        cfg.strict = strict;
        struct vmsim *sim = new_machine(&cfg);
        const struct vmsim_stats *st = vmsim_get_stats(sim);
        run1(sim, ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, 1, 0x10000, PAGE));
        run1(sim, ev_access(VMSIM_WRITE, 1, 0x10000));
        run1(sim, ev_access(VMSIM_WRITE, 1, 0x11000));
        run1(sim, ev_access(VMSIM_READ, 1, 0x11000));
        assert_int_equal(st->faults_segv, strict ? 2 : 0);
        assert_int_equal(st->faults_zero_write, strict ? 1 : 2);
        vmsim_destroy(sim);
    }
}

/* Permission faults: a write to r--, a fetch from rw-, a read of a
 * supervisor page; each counted once, none retried. */
static void test_permission_faults(void **state)
{
    struct vmsim_config cfg = config(1024, VMSIM_REPLACE_CLOCK, 0);
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    run1(sim, ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R, 1, 0x10000, PAGE));
    run1(sim, ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, 1, 0x20000, PAGE));
    run1(sim, ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W | VMSIM_MAP_SUPERVISOR, 1, 0x30000, PAGE));
    run1(sim, ev_access(VMSIM_WRITE, 1, 0x10000));
    run1(sim, ev_access(VMSIM_FETCH, 1, 0x20000));
    run1(sim, ev_access(VMSIM_READ, 1, 0x30000));
    assert_int_equal(st->faults_protection, 3);
    assert_int_equal(st->faults_total, 3);
    /* A read of the r-- page then maps it (zero frame), and a write to it
     * still faults: through the TLB entry, the VMA says no. */
    run1(sim, ev_access(VMSIM_READ, 1, 0x10000));
    run1(sim, ev_access(VMSIM_WRITE, 1, 0x10000));
    assert_int_equal(st->faults_zero_read, 1);
    assert_int_equal(st->faults_protection, 4);
    vmsim_destroy(sim);
}

/* mprotect must not make a copy-on-write page writable: after a fork,
 * mprotect r-- then rw- in the parent leaves the shared frame read-only,
 * so the parent's write still copies. */
static void test_mprotect_keeps_cow(void **state)
{
    struct vmsim_config cfg = config(1024, VMSIM_REPLACE_CLOCK, 0);
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    run1(sim, ev_access(VMSIM_WRITE, 1, 0x10000));
    run1(sim, ev_os(VMSIM_EV_FORK, 0, 1, 2, 0));
    run1(sim, ev_os(VMSIM_EV_MPROTECT, VMSIM_PROT_R, 1, 0x10000, PAGE));
    run1(sim, ev_os(VMSIM_EV_MPROTECT, VMSIM_PROT_R | VMSIM_PROT_W, 1, 0x10000, PAGE));
    run1(sim, ev_access(VMSIM_WRITE, 1, 0x10000));
    assert_int_equal(st->faults_cow_copy, 1);
    vmsim_destroy(sim);
}

/* A copy-on-write page in swap: both processes' entries name one slot,
 * and the swap cache serves the second fault. FIFO, 9 frames, swap.
 *   P1 W X       root + 3 tables + X                         frames 5
 *   fork         P2: root + 3 tables; X shared read-only     frames 9
 *   P2 W Y       full: evicts X (dirty): swap write 1; both entries
 *                become swap entries for its slot; Y takes the frame
 *   P1 R X       evicts Y (dirty): write 2; reads X: swap read 1
 *   P2 R X       the slot's page is resident: no read        swap-ins 2
 *   P2 W X       shared by both: copy, which needs a frame; X is in use
 *                by the fault and nothing else is resident: out of memory */
static void test_swap_shared_slot(void **state)
{
    struct vmsim_config cfg = config(2 * TABLES + 1, VMSIM_REPLACE_FIFO, 16);
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    run1(sim, ev_access(VMSIM_WRITE, 1, 0x10000));
    run1(sim, ev_os(VMSIM_EV_FORK, 0, 1, 2, 0));
    run1(sim, ev_access(VMSIM_WRITE, 2, 0x11000));
    assert_int_equal(st->swap_writes, 1);
    assert_int_equal(st->evictions, 1);
    run1(sim, ev_access(VMSIM_READ, 1, 0x10000));
    assert_int_equal(st->swap_reads, 1);
    assert_int_equal(st->swap_writes, 2); /* Y was dirty */
    run1(sim, ev_access(VMSIM_READ, 2, 0x10000));
    assert_int_equal(st->swap_reads, 1);
    assert_int_equal(st->faults_swap_in, 2);
    /* The child writes X: parent and child map it: copy, which needs a
     * frame: X itself is busy, Y is in swap, so nothing can go: OOM. */
    run1(sim, ev_access(VMSIM_WRITE, 2, 0x10000));
    assert_int_equal(st->faults_oom, 1);
    vmsim_destroy(sim);
}

/* --verify catches a lost write: write a page, read it (1 check, fine),
 * change its frame behind the model's back, read again: a mismatch, and
 * the first mismatch names the page. The same for a page in swap: FIFO
 * with 3 data frames, pages 1..4 written, so page 1 is in swap when it is
 * corrupted; reading it back swaps in the damaged contents. */
static void test_verify_catches_corruption(void **state)
{
    struct vmsim_config cfg = config(1024, VMSIM_REPLACE_CLOCK, 0);
    cfg.verify = true;
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    struct vmsim_mismatch m;
    run1(sim, ev_access(VMSIM_WRITE, 1, 0x10000));
    run1(sim, ev_access(VMSIM_READ, 1, 0x10008));
    assert_int_equal(st->verify_checks, 1);
    assert_int_equal(st->verify_mismatches, 0);
    assert_int_equal(vmsim_verify_first(sim, &m), VMSIM_ENOENT);
    assert_int_equal(vmsim_debug_corrupt(sim, 1, 0x10000), VMSIM_OK);
    run1(sim, ev_access(VMSIM_READ, 1, 0x10010));
    assert_int_equal(st->verify_checks, 2);
    assert_int_equal(st->verify_mismatches, 1);
    assert_int_equal(vmsim_verify_first(sim, &m), VMSIM_OK);
    assert_int_equal(m.pid, 1);
    assert_true(m.va == 0x10010);
    assert_int_equal(m.access, 3);
    assert_true(m.expected != m.found);
    vmsim_destroy(sim);

    cfg = config(TABLES + 3, VMSIM_REPLACE_FIFO, 64);
    cfg.verify = true;
    sim = new_machine(&cfg);
    st = vmsim_get_stats(sim);
    for (int p = 1; p <= 4; p++)
        run1(sim, ev_access(VMSIM_WRITE, 1, (uint64_t)p * PAGE));
    run1(sim, ev_access(VMSIM_READ, 1, 2 * PAGE)); /* resident: fine */
    assert_int_equal(vmsim_debug_corrupt(sim, 1, 1 * PAGE), VMSIM_OK);
    run1(sim, ev_access(VMSIM_READ, 1, 1 * PAGE));
    assert_int_equal(st->swap_reads, 1);
    assert_int_equal(st->verify_checks, 2);
    assert_int_equal(st->verify_mismatches, 1);
    vmsim_destroy(sim);
}

/* --verify follows contents through fork, COW, the page cache and swap:
 * a parent writes, forks, both write their own values; a shared file page
 * written by one process is seen by the other; all in one 2 MiB region per
 * process (4 tables each) under a memory of 2 data frames, so pages go to
 * swap or back to the file in between. No check
 * may fail, and there must be checks of each kind of page. */
static void test_verify_small_story(void **state)
{
    struct vmsim_config cfg = config(2 * TABLES + 2, VMSIM_REPLACE_LRU, 64);
    cfg.verify = true;
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    struct vmsim_event m = ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W | VMSIM_MAP_SHARED, 1,
                              0x100000, 2 * PAGE);
    m.file = 5;
    run1(sim, m);
    run1(sim, ev_access(VMSIM_WRITE, 1, 0x10000));
    run1(sim, ev_access(VMSIM_WRITE, 1, 0x11000));
    run1(sim, ev_os(VMSIM_EV_FORK, 0, 1, 2, 0));
    for (int round = 0; round < 3; round++) {
        run1(sim, ev_access(VMSIM_WRITE, 2, 0x10000));
        run1(sim, ev_access(VMSIM_READ, 1, 0x10000));
        run1(sim, ev_access(VMSIM_WRITE, 1, 0x100000));
        run1(sim, ev_access(VMSIM_READ, 2, 0x100000));
        run1(sim, ev_access(VMSIM_READ, 2, 0x101000));
        run1(sim, ev_access(VMSIM_MODIFY, 1, 0x11000));
        run1(sim, ev_access(VMSIM_READ, 2, 0x11000));
        run1(sim, ev_access(VMSIM_READ, 1, 0x11000));
    }
    assert_int_equal(st->verify_mismatches, 0);
    assert_int_equal(st->verify_checks, 3 * 6); /* the reads and the modify */
    assert_int_equal(st->faults_oom, 0);
    assert_true(st->swap_writes > 0 && st->file_writes > 0 && st->faults_cow_copy > 0);
    vmsim_destroy(sim);
}

/* Seed 000: a walk whose upper tables are all out. --evict-tables, FIFO,
 * 9 frames, swap. P1 writes X: list [X L3a L2a L1a] (the page is listed
 * when it gets its frame, its tables after they are mapped; P1's root is
 * pinned). P2's first write Y1 takes its root, Y1, L3b, L2b and, memory
 * full, evicts X for L1b; Y2, Y3, Y4 evict L3a, L2a, L1a (the kernel edits
 * an evicted table in place). P1 now reads X: the walk stops at the root
 * entry (L3a out): table fault 1 (evicts Y1), again at L2a: fault 2
 * (evicts L3b), at L1a: fault 3 (evicts L2b), then X itself is in swap: a
 * page fault, swap-in (evicts L1b). A recursive handler would be 4 deep:
 * 4 x 2 KiB = 8 KiB, more than the 6 KiB stack; the iterative one used one
 * 2 KiB frame. Tables evicted: L3a L2a L1a L3b L2b L1b = 6. Swap writes: X,
 * the 3 + 3 tables, Y1 = 8; reads: 3 tables + X = 4. --verify checks that
 * X still holds what P1 wrote. */
static void test_nested_table_faults(void **state)
{
    struct vmsim_config cfg = config(9, VMSIM_REPLACE_FIFO, 64);
    cfg.evict_tables = true;
    cfg.verify = true;
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    run1(sim, ev_access(VMSIM_WRITE, 1, 0x10000));
    for (int i = 1; i <= 4; i++)
        run1(sim, ev_access(VMSIM_WRITE, 2, 0x10000 + (uint64_t)i * PAGE));
    assert_int_equal(st->tables_evicted, 3);
    assert_int_equal(st->faults_table, 0);
    assert_int_equal(st->nested_max, 1);
    run1(sim, ev_access(VMSIM_READ, 1, 0x10000));
    assert_int_equal(st->faults_table, 3);
    assert_int_equal(st->nested_max, 4);
    assert_int_equal(st->nested_deep, 1);
    assert_int_equal(st->stack_recursive_max, 8192);
    assert_int_equal(st->stack_overflows, 1);
    assert_int_equal(st->stack_iterative_max, 2048);
    assert_int_equal(st->tables_evicted, 6);
    assert_int_equal(st->swap_writes, 8);
    assert_int_equal(st->swap_reads, 4);
    assert_int_equal(st->verify_checks, 1);
    assert_int_equal(st->verify_mismatches, 0);
    assert_int_equal(st->faults_oom, 0);
    vmsim_destroy(sim);
}

static struct vmsim_config thp_config(unsigned policy)
{
    struct vmsim_config cfg = config(1u << 20, VMSIM_REPLACE_CLOCK, 0);
    cfg.anon_page_shift = 21;
    cfg.thp = (uint8_t)policy;
    cfg.verify = true;
    return cfg;
}

/* Where huge pages go. P1 maps [2 MiB, 6 MiB) anonymous rw- and advises
 * MADV_HUGEPAGE on the first 2 MiB; writes at 2 MiB and 4 MiB. always: two
 * huge pages; madvise: one (the advised block); never: none. A write to
 * implicit memory at 8 MiB: huge under always only. */
static void test_thp_policies(void **state)
{
    static const uint64_t huge_writes[3] = {3, 1, 0}; /* always, madvise, never */
    for (unsigned policy = 0; policy < 3; policy++) {
        struct vmsim_config cfg = thp_config(policy);
        struct vmsim *sim = new_machine(&cfg);
        const struct vmsim_stats *st = vmsim_get_stats(sim);
        run1(sim, ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, 1, MB2, 2 * MB2));
        run1(sim, ev_os(VMSIM_EV_MADVISE, VMSIM_ADV_HUGEPAGE, 1, MB2, MB2));
        run1(sim, ev_access(VMSIM_WRITE, 1, MB2));
        run1(sim, ev_access(VMSIM_WRITE, 1, 2 * MB2));
        run1(sim, ev_access(VMSIM_WRITE, 1, 4 * MB2));
        assert_int_equal(st->translations_huge, huge_writes[policy]);
        assert_int_equal(st->faults_zero_write, 3);
        vmsim_destroy(sim);
    }
}

/* Internal fragmentation: one write into a huge page leaves 511 of its 512
 * base pages untouched: 511 x 4 KiB = 2,093,056 bytes; a read of another
 * base page, 510; base pages elsewhere do not count. TLB reach: the first
 * level holds the 2 MiB entry, then three 4 KiB ones more. */
static void test_thp_fragmentation_and_reach(void **state)
{
    struct vmsim_config cfg = thp_config(VMSIM_THP_ALWAYS);
    struct vmsim *sim = new_machine(&cfg);
    run1(sim, ev_access(VMSIM_WRITE, 1, MB2 + 100));
    assert_int_equal(vmsim_get_stats(sim)->huge_untouched, 511 * PAGE);
    assert_int_equal(vmsim_get_stats(sim)->tlb[0].reach, MB2);
    run1(sim, ev_access(VMSIM_READ, 1, MB2 + 5 * PAGE));
    run1(sim, ev_access(VMSIM_READ, 1, MB2 + 5 * PAGE + 8));
    assert_int_equal(vmsim_get_stats(sim)->huge_untouched, 510 * PAGE);
    run1(sim, ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, 1, 8 * MB2, 3 * PAGE));
    for (int i = 0; i < 3; i++)
        run1(sim, ev_access(VMSIM_WRITE, 1, 8 * MB2 + (uint64_t)i * PAGE));
    assert_int_equal(vmsim_get_stats(sim)->huge_untouched, 510 * PAGE);
    assert_int_equal(vmsim_get_stats(sim)->tlb[0].reach, MB2 + 3 * PAGE);
    vmsim_destroy(sim);
}

/* Promotion. madvise policy; P1 maps [2 MiB, 4 MiB) and writes its first
 * page before any advice: a base page. After MADV_HUGEPAGE each write to
 * the 511 other pages tries a huge page, finds base pages in the block
 * (a fallback each) and maps a base page; the 512th completes the block,
 * which collapses: one huge page, the leaf table and the 512 base frames
 * freed: frames = root + L3 + L2 + 512. Contents survive (--verify). */
static void test_thp_promotion(void **state)
{
    struct vmsim_config cfg = thp_config(VMSIM_THP_MADVISE);
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    run1(sim, ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, 1, MB2, MB2));
    run1(sim, ev_access(VMSIM_WRITE, 1, MB2));
    run1(sim, ev_os(VMSIM_EV_MADVISE, VMSIM_ADV_HUGEPAGE, 1, MB2, MB2));
    for (uint64_t i = 1; i < 512; i++)
        run1(sim, ev_access(VMSIM_WRITE, 1, MB2 + i * PAGE));
    assert_int_equal(st->thp_fallbacks, 511);
    assert_int_equal(st->thp_promotions, 1);
    assert_int_equal(vmsim_get_stats(sim)->frames_used, 3 + 512);
    const uint64_t huge = st->translations_huge;
    run1(sim, ev_access(VMSIM_READ, 1, MB2 + 77 * PAGE));
    run1(sim, ev_access(VMSIM_READ, 1, MB2));
    assert_int_equal(st->translations_huge - huge, 2);
    assert_int_equal(st->verify_checks, 2);
    assert_int_equal(st->verify_mismatches, 0);
    vmsim_destroy(sim);
}

/* Splitting. always: writes at 2 MiB and 3 MiB make one huge page. munmap
 * of the page at 3 MiB cuts it: split into 512 base entries (a new leaf
 * table), then that one goes: frames = root + L3 + L2 + L1 + 511. The
 * other pages keep their contents; an mprotect of one page of another huge
 * page splits that too. */
static void test_thp_split(void **state)
{
    struct vmsim_config cfg = thp_config(VMSIM_THP_ALWAYS);
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    run1(sim, ev_access(VMSIM_WRITE, 1, MB2));
    run1(sim, ev_access(VMSIM_WRITE, 1, MB2 + MB2 / 2));
    assert_int_equal(vmsim_get_stats(sim)->frames_used, 3 + 512);
    run1(sim, ev_os(VMSIM_EV_MUNMAP, 0, 1, MB2 + MB2 / 2, PAGE));
    assert_int_equal(st->thp_splits, 1);
    assert_int_equal(vmsim_get_stats(sim)->frames_used, 4 + 511);
    run1(sim, ev_access(VMSIM_READ, 1, MB2));
    run1(sim, ev_access(VMSIM_WRITE, 1, 2 * MB2));
    run1(sim, ev_os(VMSIM_EV_MPROTECT, VMSIM_PROT_R, 1, 2 * MB2 + PAGE, PAGE));
    assert_int_equal(st->thp_splits, 2);
    run1(sim, ev_access(VMSIM_READ, 1, 2 * MB2));
    run1(sim, ev_access(VMSIM_WRITE, 1, 2 * MB2 + PAGE)); /* read-only now */
    assert_int_equal(st->faults_protection, 1);
    assert_int_equal(st->verify_checks, 2);
    assert_int_equal(st->verify_mismatches, 0);
    vmsim_destroy(sim);
}

/* A huge page under memory pressure is split and its base pages go to swap.
 * 1536 frames (three 2 MiB blocks), always, FIFO, swap of 1024 pages. P1
 * writes 2 MiB and 4 MiB: huge pages A (frames 512-1023) and B (1024-1535),
 * the root, L3 and L2 in frames 0-2: 509 free. Then every page of [6 MiB,
 * 8 MiB): no aligned block, a fallback each (512); the first also needs the
 * leaf table: 2 + 507 frames take the 509 free ones, so the write of page
 * 508 (the 509th) finds none. FIFO's oldest is A (the list: A, B, the base
 * pages): A needs a leaf table for its split and no frame is free, so a
 * base-page victim goes first, skipping B: 6 MiB + 0 (1 swap write). A is
 * split (thp.splits 1, of them by reclaim 1) and its 512 pages are written
 * to swap: swap.writes = reclaim.evictions = 1 + 512 = 513. Pages 509-511
 * take 3 of A's freed frames; then reading back 100 of A's pages and
 * 6 MiB + 0 brings 101 from swap into the 509 still free: no more eviction,
 * and each read finds what was written (--verify). */
static void test_thp_split_reclaim(void **state)
{
    struct vmsim_config cfg = config(3 * 512, VMSIM_REPLACE_FIFO, 1024);
    cfg.anon_page_shift = 21;
    cfg.thp = VMSIM_THP_ALWAYS;
    cfg.verify = true;
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    run1(sim, ev_access(VMSIM_WRITE, 1, MB2));
    run1(sim, ev_access(VMSIM_WRITE, 1, 2 * MB2));
    assert_int_equal(st->translations_huge, 2);
    for (uint64_t i = 0; i < 512; i++)
        run1(sim, ev_access(VMSIM_WRITE, 1, 3 * MB2 + i * PAGE));
    assert_int_equal(st->thp_fallbacks, 512);
    assert_int_equal(st->thp_splits, 1);
    assert_int_equal(st->thp_splits_reclaim, 1);
    assert_int_equal(st->swap_writes, 513);
    assert_int_equal(st->evictions, 513);
    assert_int_equal(st->faults_swap_in, 0);
    for (uint64_t i = 0; i < 100; i++)
        run1(sim, ev_access(VMSIM_READ, 1, MB2 + i * PAGE));
    run1(sim, ev_access(VMSIM_READ, 1, 3 * MB2));
    assert_int_equal(st->faults_swap_in, 101);
    assert_int_equal(st->evictions, 513);
    assert_int_equal(st->verify_checks, 101);
    assert_int_equal(st->verify_mismatches, 0);
    vmsim_destroy(sim);
}

/* mprotect must not make a swap-cache page writable in place: the slot
 * it came from still holds what another process's swap entry names. As
 * test_swap_shared_slot: P1 writes X, forks, P2's write of Y evicts X (one
 * slot, two swap entries), P1 reads X back (a swap-cache frame, read-only).
 * P1 mprotects X r-- then rw- and writes it: a fault that drops the swap
 * copy (reuse). P2 then reads X: from the slot, P1's write unseen. */
static void test_mprotect_keeps_swap_copy(void **state)
{
    struct vmsim_config cfg = config(2 * TABLES + 1, VMSIM_REPLACE_FIFO, 16);
    cfg.verify = true;
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    run1(sim, ev_access(VMSIM_WRITE, 1, 0x10000));
    run1(sim, ev_os(VMSIM_EV_FORK, 0, 1, 2, 0));
    run1(sim, ev_access(VMSIM_WRITE, 2, 0x11000));
    run1(sim, ev_access(VMSIM_READ, 1, 0x10000));
    run1(sim, ev_os(VMSIM_EV_MPROTECT, VMSIM_PROT_R, 1, 0x10000, PAGE));
    run1(sim, ev_os(VMSIM_EV_MPROTECT, VMSIM_PROT_R | VMSIM_PROT_W, 1, 0x10000, PAGE));
    const uint64_t reuse = st->faults_cow_reuse;
    run1(sim, ev_access(VMSIM_WRITE, 1, 0x10000));
    assert_int_equal(st->faults_cow_reuse - reuse, 1);
    run1(sim, ev_access(VMSIM_READ, 2, 0x10000));
    assert_int_equal(st->verify_checks, 2);
    assert_int_equal(st->verify_mismatches, 0);
    vmsim_destroy(sim);
}

/* Sharing leaf tables: 100 processes map 2 MiB of file 7 read-only at
 * 0x400000 (a 2 MiB-aligned block, offset 0) and fetch one page: each has
 * its own leaf table of 512 x 8 bytes; one table would do: 99 x 4 KiB =
 * 405,504 bytes saved. A writable private mapping (copy-on-write: tables
 * differ after writes), a mapping of only part of the block, or one whose
 * file offset sits elsewhere in its block (one page in) saves nothing. */
static void test_pt_share(void **state)
{
    static const struct {
        unsigned prot;
        uint64_t len, pgoff, saved;
    } cases[] = {{VMSIM_PROT_R | VMSIM_PROT_X, MB2, 0, 99 * PAGE},
                 {VMSIM_PROT_R | VMSIM_PROT_W, MB2, 0, 0},
                 {VMSIM_PROT_R | VMSIM_PROT_W | VMSIM_MAP_SHARED, MB2, 0, 99 * PAGE},
                 {VMSIM_PROT_R, MB2 - PAGE, 0, 0},
                 {VMSIM_PROT_R, MB2, 1, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct vmsim_config cfg = config(4096, VMSIM_REPLACE_CLOCK, 0);
        struct vmsim *sim = new_machine(&cfg);
        for (vmsim_pid_t pid = 1; pid <= 100; pid++) {
            struct vmsim_event m = ev_os(VMSIM_EV_MMAP, cases[c].prot, pid, 0x400000, cases[c].len);
            m.file = 7;
            m.pgoff = (uint32_t)cases[c].pgoff;
            run1(sim, m);
            run1(sim, ev_access(VMSIM_READ, pid, 0x400000 + 3 * PAGE));
        }
        assert_int_equal(vmsim_get_stats(sim)->pt_shareable, cases[c].saved);
        vmsim_destroy(sim);
    }
}

/* Huge pages under every organization: 512 base pages of one 2 MiB block
 * written, then read, with --thp always. Where the organization holds
 * huge pages the block is one huge page from the first write; where it
 * holds base pages only (ppc, flat) the kernel must never try (no huge
 * allocation, no promotion that would unmap the pages it cannot remap).
 * Every read sees its write. */
static void test_thp_every_organization(void **state)
{
    for (const char *const *o = vmsim_pt_names; *o; o++) {
        struct vmsim_config cfg = thp_config(VMSIM_THP_ALWAYS);
        cfg.phys_bytes = 4ull << 30;
        snprintf(cfg.pt, sizeof cfg.pt, "%s", *o);
        struct vmsim *sim = new_machine(&cfg);
        const struct vmsim_stats *st = vmsim_get_stats(sim);
        for (int pass = 0; pass < 2; pass++)
            for (uint64_t i = 0; i < 512; i++)
                run1(sim, ev_access(pass ? VMSIM_READ : VMSIM_WRITE, 1, 0x40000000 + i * PAGE));
        if (st->verify_checks != 512 || st->verify_mismatches || st->faults_oom)
            fail_msg("%s: %llu checks, %llu mismatches, %llu out of memory", *o,
                     (unsigned long long)st->verify_checks,
                     (unsigned long long)st->verify_mismatches,
                     (unsigned long long)st->faults_oom);
        vmsim_destroy(sim);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_belady_anomaly),
        cmocka_unit_test(test_textbook_string),
        cmocka_unit_test(test_opt_ties),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_clock_swap_full),
        cmocka_unit_test(test_private_write_oom),
        cmocka_unit_test(test_swap_traffic),
        cmocka_unit_test(test_swap_slot_limit),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_fork_cow),
        cmocka_unit_test(test_fork_zero_page),
        cmocka_unit_test(test_page_cache_sharing),
        cmocka_unit_test(test_page_cache_offsets_and_writes),
        cmocka_unit_test(test_pt_share),
        cmocka_unit_test(test_page_cache_eviction),
        cmocka_unit_test(test_shared_memory_dirty_slot),
        cmocka_unit_test(test_shootdown_ipis),
        cmocka_unit_test(test_strict_segfault),
        cmocka_unit_test(test_permission_faults),
        cmocka_unit_test(test_mprotect_keeps_cow),
        cmocka_unit_test(test_mprotect_keeps_swap_copy),
        cmocka_unit_test(test_swap_shared_slot),
        cmocka_unit_test(test_verify_catches_corruption),
        cmocka_unit_test(test_verify_small_story),
        cmocka_unit_test(test_nested_table_faults),
        cmocka_unit_test(test_thp_policies),
        cmocka_unit_test(test_thp_fragmentation_and_reach),
        cmocka_unit_test(test_thp_promotion),
        cmocka_unit_test(test_thp_split),
        cmocka_unit_test(test_thp_split_reclaim),
        cmocka_unit_test(test_thp_every_organization),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
