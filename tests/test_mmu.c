/* The machine end to end on hand-made event streams: TLB counting rules,
 * walk lengths with and without page-walk caches, huge pages, ASIDs versus
 * flushing, page-crossing accesses, demand-zero, protection, unmapping and
 * the cost model. Every expected number is worked out in the comments. */
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "testutil.h"
#include "vmsim/vmsim.h"

#define KB 1024ull
#define MB (1024 * KB)
#define GB (1024 * MB)

static struct vmsim_config config(const char *tlb, const char *pwc)
{
    struct vmsim_config cfg;
    char why[256];
    vmsim_config_default(&cfg);
    assert_int_equal(vmsim_tlb_parse(tlb, &cfg, why, sizeof why), VMSIM_OK);
    assert_int_equal(vmsim_pwc_parse(pwc, &cfg, why, sizeof why), VMSIM_OK);
    assert_int_equal(vmsim_cost_parse("access=1,pt_ref=10,fault=100,pwc=0", &cfg, why, sizeof why),
                     VMSIM_OK);
    return cfg;
}

static struct vmsim_event acc(unsigned kind, vmsim_pid_t pid, uint64_t addr, uint64_t len)
{
    return (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = (uint8_t)kind, .pid = pid,
                                .addr = addr, .len = len};
}

/* Run one event; the statistics the tests hold (vmsim_get_stats' struct)
 * are as of the last read, so read them again. */
static void run1(struct vmsim *sim, struct vmsim_event e)
{
    assert_int_equal(vmsim_run(sim, &e, 1), 0);
    vmsim_get_stats(sim);
}

/* Each CPU counts its own translations; the figures read are their sum.
 * No PWC, costs as in test_cold_walks. CPU 0 reads A cold: 2 walks (1 + 4
 * refs), a zero-page fault, one L1 miss, 152 cycles (below). CPU 1 reads A:
 * its own L1 misses, one walk of 4 refs finds the entry: access 1 + lookup
 * 1 + 4 x 10 = 42 cycles. Each reads A + 8 again: a first-level hit each,
 * access 1 + lookup 1. Totals: 4 accesses, 2 hits, 2 misses, 3 walks of
 * 5 + 4 = 9 refs, 152 + 42 + 2 + 2 = 198 cycles, 4 of them not translation. */
static void test_counters_per_cpu(void **state)
{
    struct vmsim_config cfg = config("l1=4x4", "none");
    cfg.ncpus = 2;
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    struct vmsim_event e = acc(VMSIM_READ, 1, 0x400000, 8);
    run1(sim, e);
    e.cpu = 1;
    run1(sim, e);
    assert_int_equal(st->walks, 3);
    assert_int_equal(st->walk_refs, 9);
    assert_int_equal(st->tlb[0].misses, 2);
    assert_int_equal(st->cycles, 152 + 42);
    e.addr += 8;
    run1(sim, e);
    e.cpu = 0;
    run1(sim, e);
    assert_int_equal(st->accesses, 4);
    assert_int_equal(st->translations, 4);
    assert_int_equal(st->tlb[0].hits, 2);
    assert_int_equal(st->tlb[0].misses, 2);
    assert_int_equal(st->faults_zero_read, 1);
    assert_int_equal(st->cycles, 198);
    assert_int_equal(st->cycles_translation, 194);
    assert_int_equal(st->context_switches, 0); /* each CPU's first process */
    assert_int_equal(vmsim_vm_stats(sim, 1)->accesses, 4);
    vmsim_destroy(sim);
    (void)state;
}

/* No PWC. First read of A: the walk finds the root entry empty (1 ref),
 * the kernel maps the zero frame, the retry walks all 4 levels (4 refs).
 * A again: first-level hit. B, the next page: its leaf table exists, so
 * the walk reads 4 entries, finds none, faults, and reads 4 again. */
static void test_cold_walks(void **state)
{
    struct vmsim_config cfg = config("l1=4x4", "none");
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    run1(sim, acc(VMSIM_READ, 1, 0x400000, 8));
    assert_int_equal(st->walks, 2);
    assert_int_equal(st->walk_refs, 5);
    assert_int_equal(st->faults_zero_read, 1);
    assert_int_equal(st->tlb[0].misses, 1);
    assert_int_equal(st->tlb[0].hits, 0);
    /* cycles: access 1 + lookup 1 + (1 + 4) refs x 10 + fault 100 = 152 */
    assert_int_equal(st->cycles, 152);
    assert_int_equal(st->cycles_translation, 151);
    run1(sim, acc(VMSIM_READ, 1, 0x400008, 8));
    assert_int_equal(st->tlb[0].hits, 1);
    assert_int_equal(st->walks, 2);
    assert_int_equal(st->cycles, 152 + 2);
    run1(sim, acc(VMSIM_READ, 1, 0x401000, 8));
    assert_int_equal(st->walks, 4);
    assert_int_equal(st->walk_refs, 5 + 8);
    assert_int_equal(st->tlb[0].misses, 2);
    /* A is still in the TLB (4 entries): a mapped page, caches off, evicted
     * by 4 other pages, then walked: exactly 4 references. */
    for (uint64_t i = 2; i < 6; i++)
        run1(sim, acc(VMSIM_READ, 1, 0x400000 + i * 4096, 8));
    uint64_t refs = st->walk_refs, walks = st->walks;
    run1(sim, acc(VMSIM_READ, 1, 0x400000, 8));
    assert_int_equal(st->walks, walks + 1);
    assert_int_equal(st->walk_refs, refs + 4);
    assert_int_equal(st->faults_total, 6);
    vmsim_destroy(sim);
}

/* Split PWC. B in A's 2 MiB region: the PDE cache gives the leaf table,
 * 1 ref, fault, 1 ref. C in another 2 MiB region of the same 1 GiB: the
 * PDPTE cache gives the PD: 1 ref (empty PD entry), fault, then 2 refs. */
static void test_pwc_warm(void **state)
{
    struct vmsim_config cfg = config("l1=4x4", "l4=2x2,l3=4x4,l2=32x4");
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    run1(sim, acc(VMSIM_READ, 1, 0x40000000, 8));
    assert_int_equal(st->walk_refs, 5);
    assert_int_equal(st->pwc_hits, 0);
    assert_int_equal(st->pwc_misses, 2);
    run1(sim, acc(VMSIM_READ, 1, 0x40001000, 8));
    assert_int_equal(st->walk_refs, 5 + 2);
    assert_int_equal(st->pwc_hits, 2);
    assert_int_equal(st->pwc_levels_skipped, 3 + 3);
    run1(sim, acc(VMSIM_READ, 1, 0x40200000, 8));
    assert_int_equal(st->walk_refs, 7 + 1 + 2);
    assert_int_equal(st->pwc_hits, 4);
    assert_int_equal(st->pwc_levels_skipped, 6 + 2 + 2);
    /* A page 512 GiB away shares only the root: the PML4E cache misses
     * (different tag), so 1 ref for the empty root entry, then 4. */
    run1(sim, acc(VMSIM_READ, 1, 0x40000000 + 512 * GB, 8));
    assert_int_equal(st->walk_refs, 10 + 5);
    vmsim_destroy(sim);
}

/* Unified PWC behaves the same on the same stream. */
static void test_pwc_unified(void **state)
{
    struct vmsim_config cfg = config("l1=4x4", "unified=16x4");
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    run1(sim, acc(VMSIM_READ, 1, 0x40000000, 8));
    run1(sim, acc(VMSIM_READ, 1, 0x40001000, 8));
    run1(sim, acc(VMSIM_READ, 1, 0x40200000, 8));
    assert_int_equal(st->walk_refs, 10);
    vmsim_destroy(sim);
}

/* Anonymous pages of 2 MiB: the retry reads root, PDPT, PD (3 refs); of
 * 1 GiB: 2 refs. One TLB entry covers the whole huge page. */
static void test_huge_pages(void **state)
{
    struct vmsim_config cfg = config("l1=4x4@4k+2m+1g", "none");
    cfg.anon_page_shift = 21;
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    run1(sim, acc(VMSIM_WRITE, 1, 0x40000000, 8));
    assert_int_equal(st->walk_refs, 1 + 3);
    assert_int_equal(st->faults_zero_write, 1);
    run1(sim, acc(VMSIM_WRITE, 1, 0x40000000 + 2 * MB - 8, 8));
    assert_int_equal(st->tlb[0].hits, 1);
    /* an 8-byte access across a 4 KiB boundary inside the 2 MiB page is one
     * translation */
    run1(sim, acc(VMSIM_READ, 1, 0x40000ffc, 8));
    assert_int_equal(st->translations, 3);
    struct vmsim_pt_footprint fp;
    vmsim_footprint(sim, &fp);
    assert_int_equal(fp.tables[1], 0);
    assert_int_equal(fp.pages[2], 1);
    vmsim_get_stats(sim); /* refreshes the memory gauges */
    assert_int_equal(st->frames_used, 3 + 512); /* root, PDPT, PD, the 2 MiB frame */
    vmsim_destroy(sim);

    cfg.anon_page_shift = 30;
    sim = new_machine(&cfg);
    st = vmsim_get_stats(sim);
    run1(sim, acc(VMSIM_READ, 1, 0x40000000, 8));
    assert_int_equal(st->walk_refs, 1 + 2);
    vmsim_destroy(sim);
}

/* Two processes alternate on one CPU, one page each, 10 accesses each.
 * With ASIDs both entries stay: 2 misses, 18 hits. Without, each of the 19
 * switches flushes: 20 misses, each a 4-ref walk once the page is mapped. */
static void test_asids(void **state)
{
    for (int asids = 1; asids >= 0; asids--) {
        struct vmsim_config cfg = config("l1=16x4", "none");
        cfg.asids = asids;
        struct vmsim *sim = new_machine(&cfg);
        const struct vmsim_stats *st = vmsim_get_stats(sim);
        for (int i = 0; i < 20; i++)
            run1(sim, acc(VMSIM_READ, 1 + (i & 1), 0x400000, 8));
        assert_int_equal(st->context_switches, 19);
        if (asids) {
            assert_int_equal(st->tlb[0].misses, 2);
            assert_int_equal(st->tlb[0].hits, 18);
            assert_int_equal(st->tlb_flushes, 0);
        } else {
            assert_int_equal(st->tlb[0].misses, 20);
            assert_int_equal(st->tlb[0].hits, 0);
            assert_int_equal(st->tlb_flushes, 19);
            /* 2 first touches: 5 refs each; 18 re-walks: 4 each */
            assert_int_equal(st->walk_refs, 2 * 5 + 18 * 4);
        }
        vmsim_destroy(sim);
    }
}

/* An access crossing a page boundary translates both pages, in order; a
 * huge span translates every page it touches. */
static void test_page_crossing(void **state)
{
    struct vmsim_config cfg = config("l1=64x4", "none");
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    run1(sim, acc(VMSIM_READ, 1, 0x400ffc, 8));
    assert_int_equal(st->accesses, 1);
    assert_int_equal(st->translations, 2);
    assert_int_equal(st->faults_zero_read, 2);
    run1(sim, acc(VMSIM_READ, 1, 0x500000, 3 * 4096 + 1)); /* 4 pages */
    assert_int_equal(st->translations, 6);
    run1(sim, acc(VMSIM_READ, 1, 0x400ff8, 8)); /* ends exactly at the boundary */
    assert_int_equal(st->translations, 7);
    vmsim_destroy(sim);
}

/* Demand-zero: reads share the zero frame; the first write to a page gets
 * a frame; a write to a zero mapping hits the TLB (counted), faults, is
 * copied, the stale entry is shot down, and the retry walks. M is a write. */
static void test_demand_zero(void **state)
{
    struct vmsim_config cfg = config("l1=64x4", "none");
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    run1(sim, acc(VMSIM_READ, 1, 0x400000, 8));
    run1(sim, acc(VMSIM_READ, 1, 0x401000, 8));
    assert_int_equal(st->faults_zero_read, 2);
    vmsim_get_stats(sim);
    assert_int_equal(st->frames_used, 4 + 1); /* 4 tables + the zero frame */
    run1(sim, acc(VMSIM_WRITE, 1, 0x402000, 8));
    assert_int_equal(st->faults_zero_write, 1);
    vmsim_get_stats(sim);
    assert_int_equal(st->frames_used, 6);
    uint64_t hits = st->tlb[0].hits, walks = st->walks;
    run1(sim, acc(VMSIM_WRITE, 1, 0x400000, 8));
    assert_int_equal(st->tlb[0].hits, hits + 1);
    assert_int_equal(st->faults_cow_zero, 1);
    assert_int_equal(st->tlb_invalidations, 1);
    assert_int_equal(st->walks, walks + 2); /* the walk after the hit, the retry */
    vmsim_get_stats(sim);
    assert_int_equal(st->frames_used, 7);
    run1(sim, acc(VMSIM_MODIFY, 1, 0x403000, 4));
    assert_int_equal(st->faults_zero_write, 2);
    /* writes to the now-private pages hit and fault no more */
    uint64_t faults = st->faults_total;
    run1(sim, acc(VMSIM_WRITE, 1, 0x400010, 8));
    run1(sim, acc(VMSIM_READ, 1, 0x402010, 8));
    assert_int_equal(st->faults_total, faults);
    vmsim_destroy(sim);
}

/* Instruction fetches look up the instruction side only. */
static void test_sides(void **state)
{
    struct vmsim_config cfg = config("l1d=16x4/d,l1i=16x4/i,l2=64x4/u", "none");
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    run1(sim, acc(VMSIM_FETCH, 1, 0x400000, 4));
    assert_int_equal(st->tlb[0].hits + st->tlb[0].misses, 0);
    assert_int_equal(st->tlb[1].misses, 1);
    assert_int_equal(st->tlb[2].misses, 1);
    /* a load of the same page misses l1d, hits the unified l2, fills l1d */
    run1(sim, acc(VMSIM_READ, 1, 0x400000, 4));
    assert_int_equal(st->tlb[0].misses, 1);
    assert_int_equal(st->tlb[2].hits, 1);
    run1(sim, acc(VMSIM_READ, 1, 0x400100, 4));
    assert_int_equal(st->tlb[0].hits, 1);
    run1(sim, acc(VMSIM_FETCH, 1, 0x400004, 4));
    assert_int_equal(st->tlb[1].hits, 1);
    assert_int_equal(st->tlb[2].hits + st->tlb[2].misses, 2);
    vmsim_destroy(sim);
}

/* Explicit mappings: protection is enforced and counted; munmap frees the
 * page and its tables; exit frees the address space. */
static void test_mappings(void **state)
{
    struct vmsim_config cfg = config("l1=64x4", "none");
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    struct vmsim_event mm = {.type = VMSIM_EV_MMAP, .kind = VMSIM_PROT_R, .pid = 1,
                             .addr = 0x10000, .len = 8192};
    run1(sim, mm);
    run1(sim, acc(VMSIM_WRITE, 1, 0x10000, 8));
    assert_int_equal(st->faults_protection, 1);
    run1(sim, acc(VMSIM_FETCH, 1, 0x11000, 4));
    assert_int_equal(st->faults_protection, 2);
    run1(sim, acc(VMSIM_READ, 1, 0x10000, 8));
    assert_int_equal(st->faults_zero_read, 1);
    struct vmsim_event mp = {.type = VMSIM_EV_MPROTECT, .kind = VMSIM_PROT_R | VMSIM_PROT_W,
                             .pid = 1, .addr = 0x10000, .len = 4096};
    run1(sim, mp);
    run1(sim, acc(VMSIM_WRITE, 1, 0x10000, 8));
    assert_int_equal(st->faults_cow_zero, 1);
    struct vmsim_pt_footprint fp;
    vmsim_footprint(sim, &fp);
    assert_int_equal(fp.bytes, 3 * 4096);
    struct vmsim_event un = {.type = VMSIM_EV_MUNMAP, .pid = 1, .addr = 0x10000, .len = 8192};
    run1(sim, un);
    vmsim_footprint(sim, &fp);
    assert_int_equal(fp.bytes, 0);
    vmsim_get_stats(sim);
    assert_int_equal(st->frames_used, 1 + 1); /* root + zero frame */
    /* the page is gone: a read faults again, outside any VMA now: implicit */
    run1(sim, acc(VMSIM_READ, 1, 0x10000, 8));
    assert_int_equal(st->faults_zero_read, 2);
    struct vmsim_event ex = {.type = VMSIM_EV_EXIT, .pid = 1};
    run1(sim, ex);
    vmsim_get_stats(sim);
    assert_int_equal(st->frames_used, 1); /* the zero frame stays */
    vmsim_destroy(sim);
}

static void test_bad_input(void **state)
{
    struct vmsim_config cfg = config("l1=64x4", "none");
    cfg.ncpus = 2;
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    run1(sim, acc(VMSIM_READ, 1, 1ull << 48, 8));
    assert_int_equal(st->faults_bad_address, 1);
    assert_int_equal(st->walks, 0);
    struct vmsim_event e = acc(VMSIM_READ, 1, 0x1000, 8);
    e.cpu = 2;
    assert_int_equal(vmsim_run(sim, &e, 1), VMSIM_ERANGE);
    e.cpu = 1;
    assert_int_equal(vmsim_run(sim, &e, 1), VMSIM_OK);
    e.type = 99;
    assert_int_equal(vmsim_run(sim, &e, 1), VMSIM_EINVAL);
    vmsim_destroy(sim);
    cfg.ncpus = 0;
    struct vmsim *bad;
    assert_int_equal(vmsim_create(&cfg, &bad), VMSIM_EINVAL);
}

/* Out of simulated memory (no swap, so anonymous pages cannot be evicted):
 * counted, never a crash, and the run goes on. */
static void test_oom(void **state)
{
    struct vmsim_config cfg = config("l1=64x4", "none");
    cfg.phys_bytes = 8 * 4096;
    cfg.swap_bytes = 0;
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    for (int i = 0; i < 16; i++)
        run1(sim, acc(VMSIM_WRITE, 1, 0x400000 + (uint64_t)i * 4096, 8));
    /* 1 root + 3 tables + 4 data frames fill the 8 frames */
    assert_int_equal(st->faults_zero_write, 4);
    assert_int_equal(st->faults_oom, 12);
    vmsim_destroy(sim);
}

/* ASIDs are 12 bits: ids 1..4095 serve 4095 processes; the 4096th starts
 * a new generation with one flush of every TLB. A process from the old
 * generation then misses (its entries are gone) and gets a fresh id; the
 * process running on the other CPU keeps its own page, never another's. */
static void test_asid_rollover(void **state)
{
    struct vmsim_config cfg = config("l1=16x4", "none");
    cfg.ncpus = 2;
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    struct vmsim_event e = acc(VMSIM_READ, 9999, 0x800000, 8);
    e.cpu = 1;
    run1(sim, e); /* process 9999 on cpu 1: id 1 */
    for (vmsim_pid_t pid = 1; pid < 4095; pid++) /* ids 2..4095 */
        run1(sim, acc(VMSIM_READ, pid, 0x400000, 8));
    assert_int_equal(st->tlb_flushes, 0);
    run1(sim, acc(VMSIM_READ, 4095, 0x400000, 8)); /* rollover */
    assert_int_equal(st->tlb_flushes, 1);
    uint64_t misses = st->tlb[0].misses;
    run1(sim, acc(VMSIM_READ, 1, 0x400000, 8));
    assert_int_equal(st->tlb[0].misses, misses + 1);
    run1(sim, acc(VMSIM_READ, 1, 0x400000, 8));
    assert_int_equal(st->tlb[0].misses, misses + 1);
    /* cpu 1's process lost its entry in the flush, then refills its own */
    run1(sim, e);
    assert_int_equal(st->tlb[0].misses, misses + 2);
    run1(sim, e);
    assert_int_equal(st->tlb[0].misses, misses + 2);
    vmsim_destroy(sim);
}

/* Seed 003's hardware vs software walks. A software walker traps to a
 * handler that reads the same entries: the cold read of test_cold_walks
 * (a 1-reference walk, a fault, a 4-reference walk) costs, with trap=50
 * and sw_ref=5, access 1 + lookup 1 + (50 + 1 x (10 + 5)) + fault 100 +
 * (50 + 4 x (10 + 5)) = 277 cycles, against 152 in hardware; and the
 * page-walk caches, hardware, are not used (no hits, no misses). */
static void test_software_walks(void **state)
{
    struct vmsim_config cfg = config("l1=4x4", "l4=2x2,l3=4x4,l2=32x4");
    char why[128];
    assert_int_equal(vmsim_cost_parse("trap=50,sw_ref=5", &cfg, why, sizeof why), VMSIM_OK);
    cfg.sw_walk = true;
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    run1(sim, acc(VMSIM_READ, 1, 0x400000, 8));
    assert_int_equal(st->walks, 2);
    assert_int_equal(st->walk_refs, 5);
    assert_int_equal(st->cycles, 277);
    assert_int_equal(st->pwc_hits + st->pwc_misses, 0);
    vmsim_destroy(sim);
}

/* Issue 11's smallest case: a 2-entry fully associative data TLB and the
 * pages A B A B C B. By LRU: A miss, B miss, A hit, B hit; C misses and
 * evicts A (B was used last); B hits. 3 misses, 3 hits. The bug: the memo
 * still named B after A hit, so B's third use skipped its LRU stamp and C
 * evicted B instead. */
static void test_lru_after_first_level_hit(void **state)
{
    struct vmsim_config cfg = config("t=2x2/d", "none");
    struct vmsim *sim = new_machine(&cfg);
    const uint64_t page[] = {0x1000, 0x2000, 0x1000, 0x2000, 0x3000, 0x2000};
    for (unsigned i = 0; i < 6; i++)
        run1(sim, acc(VMSIM_READ, 1, page[i], 1));
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_int_equal(st->tlb[0].misses, 3);
    assert_int_equal(st->tlb[0].hits, 3);
    vmsim_destroy(sim);
    (void)state;
}

/* An 8-entry fully associative TLB: pages 1..7 miss; 1 hits, then 7 hits
 * (its memo was overtaken by 1's hit). LRU order, oldest first: 2 3 4 5 6
 * 1 7 and one empty way. 8 takes the empty way; 9..14 evict 2 3 4 5 6 1;
 * so 7 hits and 1 misses. 15 misses, 3 hits. (Had 7's second use skipped
 * its stamp, 14 would evict 7 instead of 1.) */
static void test_lru_alternating_hits(void **state)
{
    struct vmsim_config cfg = config("t=8x8/d", "none");
    struct vmsim *sim = new_machine(&cfg);
    const uint64_t page[] = {1, 2, 3, 4, 5, 6, 7, 1, 7, 8, 9, 10, 11, 12, 13, 14, 7, 1};
    for (unsigned i = 0; i < sizeof page / sizeof *page; i++)
        run1(sim, acc(VMSIM_READ, 1, page[i] << 12, 1));
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_int_equal(st->tlb[0].misses, 15);
    assert_int_equal(st->tlb[0].hits, 3);
    vmsim_destroy(sim);
    (void)state;
}

/* The last byte of the address space lies beyond a 48-bit geometry: a
 * bad-address fault on a cold machine, never a hit of the empty memo. */
static void test_top_of_address_space(void **state)
{
    struct vmsim_config cfg = config("l1=4x4", "none");
    struct vmsim *sim = new_machine(&cfg);
    run1(sim, acc(VMSIM_READ, 1, UINT64_MAX, 1));
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_int_equal(st->faults_bad_address, 1);
    assert_int_equal(st->tlb[0].hits + st->tlb[0].misses, 0);
    assert_int_equal(st->walks, 0);
    vmsim_destroy(sim);
    (void)state;
}

/* Without ASIDs TLB entries carry no owner. Process 1 writes page A on CPU
 * 0 and exits; process 2 then reads A there: it must not hit 1's entry
 * (its own first touch is a demand-zero read: a miss, a walk, a fault).
 * That is a flush, though no switch (nothing ran when 2 came). CPU 1's
 * first process flushes nothing: an empty TLB. Expected: 1 flush, 0
 * switches, 0 hits, 2 demand-zero reads + 1 write. */
static void test_no_asid_exit_and_first_run(void **state)
{
    struct vmsim_config cfg = config("l1=16x4", "none");
    cfg.asids = false;
    cfg.ncpus = 2;
    struct vmsim *sim = new_machine(&cfg);
    run1(sim, acc(VMSIM_WRITE, 1, 0x400000, 8));
    run1(sim, (struct vmsim_event){.type = VMSIM_EV_EXIT, .pid = 1});
    run1(sim, acc(VMSIM_READ, 2, 0x400000, 8));
    struct vmsim_event e = acc(VMSIM_READ, 3, 0x400000, 8);
    e.cpu = 1;
    run1(sim, e);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_int_equal(st->tlb[0].hits, 0);
    assert_int_equal(st->tlb[0].misses, 3);
    assert_int_equal(st->faults_zero_read, 2);
    assert_int_equal(st->faults_zero_write, 1);
    assert_int_equal(st->tlb_flushes, 1);
    assert_int_equal(st->context_switches, 0);
    vmsim_destroy(sim);
    (void)state;
}

/* An access stops at the end of the 48-bit space: what lies beyond has no
 * pages, and its one bad-address fault stands for all of it (docs/stats.md).
 *  [2^48 - 4 KiB, + 2^63): the last page of the space (a miss, a walk, a
 *    demand-zero read), then 2^48: bad address. 2 translations.
 *  [2^64 - 64 KiB, + 64 KiB): 16 pages, all beyond: 1 translation, 1 fault
 *    (it was 16 before).
 *  [0x1000, + 2^64 - 0x1000) (the issue 11 hang, 2^52 pages): not run,
 *    2^36 pages lie inside; the stop flag below covers such an access. */
static void test_access_ends_at_address_space(void **state)
{
    struct vmsim_config cfg = config("l1=4x4", "none");
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    run1(sim, acc(VMSIM_READ, 1, (1ull << 48) - 4096, 1ull << 63));
    assert_int_equal(st->translations, 2);
    assert_int_equal(st->faults_bad_address, 1);
    assert_int_equal(st->faults_zero_read, 1);
    assert_int_equal(st->tlb[0].misses, 1);
    run1(sim, acc(VMSIM_READ, 1, UINT64_MAX - 0xffff, 0x10000));
    assert_int_equal(st->translations, 3);
    assert_int_equal(st->faults_bad_address, 2);
    assert_int_equal(st->faults_total, 3);
    vmsim_destroy(sim);
    (void)state;
}

static volatile sig_atomic_t alarm_stop;
static void on_alarm(int sig) { alarm_stop = sig; }

/* A stop flag set (by a timer's signal, 50 ms in) while one access of
 * 2^46 bytes (2^34 pages: hours) is under way ends it at a page
 * boundary: VMSIM_EINTR, the access counted, the event not. */
static void test_stop_flag_ends_long_access(void **state)
{
    struct vmsim_config cfg = config("l1=4x4", "none");
    struct vmsim *sim = new_machine(&cfg);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    alarm_stop = 0;
    vmsim_set_stop(sim, &alarm_stop);
    struct sigaction sa = {.sa_handler = on_alarm}, old;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old);
    const struct itimerval t = {{0, 0}, {0, 50000}};
    setitimer(ITIMER_REAL, &t, NULL);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct vmsim_event e = acc(VMSIM_READ, 1, 0x1000, 1ull << 46);
    assert_int_equal(vmsim_run(sim, &e, 1), VMSIM_EINTR);
    vmsim_get_stats(sim);
    clock_gettime(CLOCK_MONOTONIC, &b);
    sigaction(SIGALRM, &old, NULL);
    assert_int_equal(alarm_stop, SIGALRM);
    assert_true((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9 < 10);
    assert_int_equal(st->accesses, 1);
    assert_int_equal(st->events, 0);
    assert_true(st->translations > 1 && st->translations < (1ull << 34));
    /* unset, the flag stops nothing: a two-page access runs whole */
    vmsim_set_stop(sim, NULL);
    const uint64_t before = st->translations;
    run1(sim, acc(VMSIM_READ, 1, 0x1000, 8192));
    assert_int_equal(st->translations - before, 2);
    vmsim_destroy(sim);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_software_walks),
        cmocka_unit_test(test_lru_after_first_level_hit),
        cmocka_unit_test(test_lru_alternating_hits),
        cmocka_unit_test(test_top_of_address_space),
        cmocka_unit_test(test_no_asid_exit_and_first_run),
        cmocka_unit_test(test_access_ends_at_address_space),
        cmocka_unit_test(test_stop_flag_ends_long_access),
        cmocka_unit_test(test_cold_walks),  cmocka_unit_test(test_counters_per_cpu),  cmocka_unit_test(test_pwc_warm),
        cmocka_unit_test(test_pwc_unified), cmocka_unit_test(test_huge_pages),
        cmocka_unit_test(test_asids),       cmocka_unit_test(test_page_crossing),
        cmocka_unit_test(test_demand_zero), cmocka_unit_test(test_sides),
        cmocka_unit_test(test_mappings),    cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_oom),         cmocka_unit_test(test_asid_rollover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
