/* The buddy allocator of simulated frames (src/phys/phys.c, docs/kernel.md
 * "Physical memory") on small memories: a hand-made sequence with the free
 * lists derived on paper after each step (splits, merge cascades, the
 * never-used tail cut and given back), failures per order, the free blocks
 * and the unusable free space index of a hand-made fragmented state, and a
 * randomized check against a bitmap of free frames. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phys/phys.h"
#include "testutil.h"

#define PAGE 4096ull

/* The free lists, head first, and the tail: "0:[3] 2:[4] tail 16". Checks
 * the back links and the list counts on the way. */
static const char *lists(const struct phys *p)
{
    static char buf[1024];
    size_t o = 0;
    for (unsigned k = 0; k <= p->max_order; k++) {
        if (p->free_head[k] == FRAME_NIL) {
            assert_false(p->nonempty >> k & 1);
            assert_int_equal(p->nblocks[k], 0);
            continue;
        }
        assert_true(p->nonempty >> k & 1);
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%u:[", k);
        uint32_t prev = FRAME_NIL;
        uint64_t n = 0;
        for (uint32_t b = p->free_head[k]; b != FRAME_NIL; b = p->frame[b].next, n++) {
            assert_int_equal(p->frame[b].prev, prev);
            assert_true(p->frame[b].flags & FRAME_FREE);
            assert_int_equal(p->frame[b].order, k);
            assert_int_equal(p->frame[b].refcount, 0);
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%u", prev == FRAME_NIL ? "" : ",", b);
            prev = b;
        }
        assert_int_equal(p->nblocks[k], n);
        o += (size_t)snprintf(buf + o, sizeof buf - o, "] ");
    }
    snprintf(buf + o, sizeof buf - o, "tail %llu", (unsigned long long)p->next);
    return buf;
}

static vmsim_pfn_t get(struct phys *p, unsigned order)
{
    vmsim_pfn_t pfn = FRAME_NIL;
    assert_int_equal(phys_alloc(p, order, 0, &pfn), VMSIM_OK);
    return pfn;
}

#define STEP(p, want) assert_string_equal(lists(p), want)

static void setup(struct phys *p, uint64_t frames, unsigned max_order)
{
    assert_int_equal(phys_init(p, frames * PAGE, 12), VMSIM_OK);
    phys_set_max_order(p, max_order);
}

/* 64 frames, blocks up to 2^3. Each expected state below is derived by
 * hand from the rules (docs/kernel.md): allocation takes the first block of
 * the smallest non-empty list of order >= k and lists the upper halves;
 * else the first aligned block of the tail, the skipped frames listed as
 * aligned blocks highest first; a free merges with a free buddy of its
 * order (pfn ^ 2^k) below order 3, then is listed first, or moves the tail
 * down when it ends there. */
static void test_by_hand(void **state)
{
    (void)state;
    struct phys p;
    setup(&p, 64, 3);
    /* never freed: bump order */
    assert_int_equal(get(&p, 0), 0);
    assert_int_equal(get(&p, 0), 1);
    assert_int_equal(get(&p, 0), 2);
    STEP(&p, "tail 3");
    /* order 2 from the tail: aligned to 4, frame 3 skipped */
    assert_int_equal(get(&p, 2), 4);
    STEP(&p, "0:[3] tail 8");
    assert_int_equal(get(&p, 3), 8);
    STEP(&p, "0:[3] tail 16");
    /* no list of order >= 1 holds a block: the tail */
    assert_int_equal(get(&p, 1), 16);
    STEP(&p, "0:[3] tail 18");
    assert_int_equal(get(&p, 0), 3);
    STEP(&p, "tail 18");
    assert_int_equal(p.used, 18);

    phys_put(&p, 1); /* buddy 0 in use */
    STEP(&p, "0:[1] tail 18");
    phys_put(&p, 0); /* merges with 1 into [0,2); buddy 2 in use */
    STEP(&p, "1:[0] tail 18");
    phys_put(&p, 2); /* buddy 3 in use */
    STEP(&p, "0:[2] 1:[0] tail 18");
    phys_put(&p, 3); /* cascade: [2,4), then [0,4); buddy [4,8) in use */
    STEP(&p, "2:[0] tail 18");
    phys_put(&p, 16); /* ends at the tail: the tail comes down to 16 */
    STEP(&p, "2:[0] tail 16");
    phys_put(&p, 4); /* [0,4) + [4,8) = [0,8), order 3: no further */
    STEP(&p, "3:[0] tail 16");
    phys_put(&p, 8); /* ends at the tail, and so then does [0,8) */
    STEP(&p, "tail 0");
    assert_int_equal(p.used, 0);

    /* splitting of the tail and of listed blocks */
    assert_int_equal(get(&p, 0), 0);
    assert_int_equal(get(&p, 3), 8); /* skipped [1,8): [4,8), [2,4), [1,2) */
    STEP(&p, "0:[1] 1:[2] 2:[4] tail 16");
    assert_int_equal(get(&p, 0), 1);
    STEP(&p, "1:[2] 2:[4] tail 16");
    assert_int_equal(get(&p, 0), 2); /* [2,4) split: 3 listed */
    STEP(&p, "0:[3] 2:[4] tail 16");
    assert_int_equal(get(&p, 1), 4); /* [4,8) split: [6,8) listed */
    STEP(&p, "0:[3] 1:[6] tail 16");
    phys_put(&p, 2); /* with 3 into [2,4); buddy [0,2) holds frames 0, 1 in use */
    STEP(&p, "1:[2,6] tail 16");
    assert_int_equal(get(&p, 1), 2); /* the last listed first */
    STEP(&p, "1:[6] tail 16");
    for (unsigned k = 0; k < PHYS_ORDERS; k++)
        assert_int_equal(p.fail[k], 0);
    phys_fini(&p);
}

/* A block above max_order comes from the tail and goes back as blocks of
 * max_order; the tail then comes down over every listed block below it. */
static void test_above_max(void **state)
{
    (void)state;
    struct phys p;
    setup(&p, 64, 3);
    assert_int_equal(get(&p, 0), 0);
    assert_int_equal(get(&p, 5), 32); /* [1,32) skipped */
    STEP(&p, "0:[1] 1:[2] 2:[4] 3:[8,16,24] tail 64");
    phys_put(&p, 32); /* [56,64) ... [32,40) end at the tail in turn, then the lists */
    STEP(&p, "tail 1");
    /* a request that cannot fit counts at max_order */
    vmsim_pfn_t pfn;
    assert_int_equal(phys_alloc(&p, 7, 0, &pfn), VMSIM_ENOFRAME);
    assert_int_equal(p.fail[3], 1);
    phys_fini(&p);
}

/* 16 frames, max order 3: failures by order, and a fragmented state whose
 * free blocks and unusable index are derived by hand. */
static void test_fragmented(void **state)
{
    (void)state;
    struct phys p;
    setup(&p, 16, 3);
    assert_int_equal(get(&p, 3), 0);
    assert_int_equal(get(&p, 3), 8);
    vmsim_pfn_t pfn;
    assert_int_equal(phys_alloc(&p, 0, 0, &pfn), VMSIM_ENOFRAME); /* full, no reclaim */
    assert_int_equal(p.fail[0], 1);
    phys_put(&p, 0);
    STEP(&p, "3:[0] tail 16");
    /* eight singles from [0,8): 0 (listing 4, 2, 1), 1, 2 (listing 3), 3,
     * 4 (listing 6, 5), 5, 6 (listing 7), 7 */
    for (vmsim_pfn_t f = 0; f < 8; f++)
        assert_int_equal(get(&p, 0), f);
    STEP(&p, "tail 16");
    for (vmsim_pfn_t f = 0; f < 8; f += 2)
        phys_put(&p, f); /* their buddies 1, 3, 5, 7 are in use */
    STEP(&p, "0:[6,4,2,0] tail 16");
    assert_int_equal(phys_alloc(&p, 1, 0, &pfn), VMSIM_ENOFRAME); /* 4 frames free, no pair */
    assert_int_equal(p.fail[1], 1);
    phys_put(&p, 1); /* with 0 into [0,2) */
    STEP(&p, "0:[6,4,2] 1:[0] tail 16");
    /* free: [0,2) and three singles, 5 frames. Usable for order 1: the 2
     * of [0,2), so the index is 3/5; for order 2 or more, 5/5. */
    uint64_t blocks[PHYS_ORDERS];
    phys_free_blocks(&p, blocks);
    assert_int_equal(blocks[0], 3);
    assert_int_equal(blocks[1], 1);
    assert_int_equal(blocks[2], 0);
    assert_int_equal(blocks[3], 0);
    struct vmsim_stats st;
    memset(&st, 0, sizeof st);
    st.buddy_max_order = 3;
    memcpy(st.buddy_free, blocks, sizeof st.buddy_free);
    assert_true(vmsim_buddy_unusable(&st, 0) == 0.0);
    assert_true(vmsim_buddy_unusable(&st, 1) == 3.0 / 5.0);
    assert_true(vmsim_buddy_unusable(&st, 2) == 1.0);
    assert_true(vmsim_buddy_unusable(&st, 3) == 1.0);
    memset(st.buddy_free, 0, sizeof st.buddy_free);
    assert_true(vmsim_buddy_unusable(&st, 3) == 0.0); /* nothing free */
    phys_fini(&p);
}

/* The never-used tail counted as its largest aligned blocks: 100 frames
 * with blocks up to 8 are 12 blocks of 8 and one of 4; after frame 0 is
 * taken, [1,2), [2,4), [4,8), 11 blocks of 8 and [96,100). */
static void test_tail_blocks(void **state)
{
    (void)state;
    struct phys p;
    setup(&p, 100, 3);
    uint64_t b[PHYS_ORDERS];
    phys_free_blocks(&p, b);
    assert_int_equal(b[0], 0);
    assert_int_equal(b[1], 0);
    assert_int_equal(b[2], 1);
    assert_int_equal(b[3], 12);
    get(&p, 0);
    phys_free_blocks(&p, b);
    assert_int_equal(b[0], 1);
    assert_int_equal(b[1], 1);
    assert_int_equal(b[2], 2);
    assert_int_equal(b[3], 11);
    /* 1000 frames never freed, single frames: 0, 1, 2, ... (bump order) */
    phys_fini(&p);
    setup(&p, 4096, 18);
    for (vmsim_pfn_t f = 0; f < 1000; f++)
        assert_int_equal(get(&p, 0), f);
    phys_fini(&p);
}

/* Huge pages after churn, the reason for the allocator (issue 17): 20
 * processes one after the other, each writing the first byte of 3 huge
 * pages in a 6 MiB private mapping (THP always) and exiting, in 10 MiB of
 * memory (2560 frames). Each process's huge pages and tables come back at
 * its exit and merge (the last blocks freed go back to the never-used
 * memory), so every process finds its three 2 MiB blocks: 60 huge
 * translations (one per write), no fallback, no failure. At the end
 * nothing is in use: 2560 frames free as one block of 2^11 at 0 and one
 * of 2^9 at 2048. (With freed huge pages coming back as single frames, as
 * before this allocator, the first process took [512, 2048), the second
 * the last block [2048, 2560), and every write after fell back: 4 huge
 * translations, 56 fallbacks.) */
static void test_churn(void **state)
{
    (void)state;
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    cfg.phys_bytes = 10ull << 20;
    cfg.anon_page_shift = VMSIM_PAGE_HUGE;
    cfg.thp = VMSIM_THP_ALWAYS;
    struct vmsim *sim;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    struct vmsim_event ev[20 * 6];
    size_t n = 0;
    for (vmsim_pid_t pid = 1; pid <= 20; pid++) {
        ev[n++] = (struct vmsim_event){.type = VMSIM_EV_SPAWN, .pid = pid};
        ev[n++] = (struct vmsim_event){.type = VMSIM_EV_MMAP, .pid = pid, .addr = 0x40000000,
                                       .len = 6ull << 20, .kind = VMSIM_PROT_R | VMSIM_PROT_W};
        for (uint64_t i = 0; i < 3; i++)
            ev[n++] = (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = VMSIM_WRITE, .pid = pid,
                                           .addr = 0x40000000 + (i << 21), .len = 8};
        ev[n++] = (struct vmsim_event){.type = VMSIM_EV_EXIT, .pid = pid};
    }
    assert_int_equal(vmsim_run(sim, ev, n), VMSIM_OK);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_int_equal(st->translations_huge, 60);
    assert_int_equal(st->thp_fallbacks, 0);
    assert_int_equal(st->buddy_max_order, 18);
    assert_int_equal(st->frames_used, 0);
    for (unsigned k = 0; k < VMSIM_BUDDY_ORDERS; k++) {
        assert_int_equal(st->buddy_fail[k], 0);
        assert_int_equal(st->buddy_free[k], k == 11 || k == 9 ? 1 : 0);
    }
    vmsim_destroy(sim);
}

/* ---- randomized, against a bitmap ----------------------------------------
 *
 * The property: for a request of order k <= max_order with no reclaim,
 * phys_alloc succeeds iff some 2^k frames aligned to 2^k are all free. It
 * holds because merging is complete (no two free buddies): by induction on
 * k, an all-free aligned run of 2^k frames lies inside one free block of
 * order >= k (its two halves each lie in a free block; were those exactly
 * the halves, they would be two free buddies). A buddy allocator that
 * missed a merge (across the tail's edge, say) fails it. The model is a
 * bitmap of free frames searched by brute force; it also checks that every
 * block handed out is aligned and was free, and that the free blocks the
 * allocator reports add up to the model's free frames. */

struct model {
    uint64_t n;
    unsigned char free[512];
};

static bool model_fits(const struct model *m, unsigned k)
{
    const uint64_t size = 1ull << k;
    for (uint64_t a = 0; a + size <= m->n; a += size) {
        uint64_t i = 0;
        while (i < size && m->free[a + i])
            i++;
        if (i == size)
            return true;
    }
    return false;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void random_run(uint64_t frames, unsigned max_order, uint64_t seed, unsigned steps)
{
    struct phys p;
    setup(&p, frames, max_order);
    struct model m = {.n = frames};
    memset(m.free, 1, sizeof m.free);
    struct {
        vmsim_pfn_t pfn;
        unsigned order;
    } live[512];
    size_t nlive = 0;
    uint64_t s = seed, fails = 0, oks = 0;
    for (unsigned step = 0; step < steps; step++) {
        if (nlive && rnd(&s) % 100 < 45) {
            const size_t i = rnd(&s) % nlive;
            phys_put(&p, live[i].pfn);
            for (uint64_t f = 0; f < 1ull << live[i].order; f++)
                m.free[live[i].pfn + f] = 1;
            live[i] = live[--nlive];
        } else {
            /* small orders mostly, as real memory asks */
            const unsigned k = rnd(&s) % 3 ? (unsigned)(rnd(&s) % 2) : (unsigned)(rnd(&s) % (max_order + 1));
            const bool fits = model_fits(&m, k);
            vmsim_pfn_t pfn;
            const int rc = phys_alloc(&p, k, 0, &pfn);
            if (!fits) {
                assert_int_equal(rc, VMSIM_ENOFRAME);
                fails++;
                continue;
            }
            assert_int_equal(rc, VMSIM_OK);
            oks++;
            assert_int_equal(pfn & ((1ull << k) - 1), 0);
            for (uint64_t f = 0; f < 1ull << k; f++) {
                assert_true(m.free[pfn + f]);
                m.free[pfn + f] = 0;
            }
            live[nlive].pfn = pfn;
            live[nlive++].order = k;
        }
        uint64_t b[PHYS_ORDERS], sum = 0, free_frames = 0;
        phys_free_blocks(&p, b);
        for (unsigned k = 0; k < PHYS_ORDERS; k++)
            sum += b[k] << k;
        for (uint64_t f = 0; f < frames; f++)
            free_frames += m.free[f];
        assert_int_equal(sum, free_frames);
        assert_int_equal(p.used, frames - free_frames);
        (void)lists(&p); /* links and counts consistent */
    }
    /* the run crossed both sides of the property */
    assert_true(fails > 50 && oks > 500);
    uint64_t counted = 0;
    for (unsigned k = 0; k < PHYS_ORDERS; k++)
        counted += p.fail[k];
    assert_int_equal(counted, fails);
    phys_fini(&p);
}

static void test_random(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        random_run(64, 3, seed, 3000);
        random_run(100, 4, seed * 7919, 3000); /* a memory not a power of two */
        random_run(256, 8, seed * 104729, 3000); /* max order = the whole memory */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_hand),   cmocka_unit_test(test_above_max),
        cmocka_unit_test(test_fragmented), cmocka_unit_test(test_tail_blocks),
        cmocka_unit_test(test_churn),     cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
