/* The elastic cuckoo page table on its own (src/pt/cuckoo.c): round trips
 * for every page size of every preset, swap entries, kicks and rebuilds
 * forced with tiny tables and a hand-checkable hash, elastic resizing with
 * every entry found during and after it, the cuckoo walk tables cutting a
 * walk to 1 + d references, footprints and frames by hand, running out of
 * frames, visits, options. Expected numbers come from the layout rules in
 * cuckoo.c's header, worked out in the comments here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phys/phys.h"
#include "pt/pt.h"
#include "testutil.h"
#include "util/rng.h"

#define KIB 1024ull
#define PAGE 4096ull
#define M2 (2ull << 20)
#define G1 (1ull << 30)

struct fx {
    struct vmsim_geometry g;
    struct phys phys;
    struct pt_counters counters;
    struct pt *pt;
};

/* A cuckoo table on geometry `geom` with options `params`, in a memory of
 * `frames` frames (0: plenty). */
static struct fx *fx_try(const char *geom, const char *params, uint64_t frames, int *rc)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(vmsim_geometry_preset(geom, &f->g), VMSIM_OK);
    const uint64_t bytes = frames ? frames << f->g.page_shift : 1ull << 40;
    assert_int_equal(phys_init(&f->phys, bytes, f->g.page_shift), VMSIM_OK);
    const struct pt_env env = {&f->g, &f->phys, params, NULL, 1, &f->counters};
    *rc = pt_create(&pt_cuckoo_ops, &env, &f->pt);
    return f;
}

static struct fx *fx_open(const char *geom, const char *params)
{
    int rc;
    struct fx *f = fx_try(geom, params, 0, &rc);
    assert_int_equal(rc, VMSIM_OK);
    return f;
}

/* Destroy: every frame must come back. */
static void fx_close(struct fx *f)
{
    pt_destroy(f->pt);
    assert_int_equal(f->phys.used, 0);
    phys_fini(&f->phys);
    free(f);
}

static uint64_t leaf(uint64_t pfn) { return (pfn << PTE_PFN_SHIFT) | PTE_W | PTE_U; }
/* what map stores for a present entry */
static uint64_t stored(uint64_t pte) { return pte | PTE_P | PTE_LEAF; }

static struct vmsim_pt_footprint fp_of(const struct fx *f)
{
    struct vmsim_pt_footprint fp;
    memset(&fp, 0, sizeof fp);
    pt_footprint(f->pt, &fp);
    return fp;
}

static uint64_t part(const struct vmsim_pt_footprint *fp, const char *name)
{
    for (unsigned i = 0; i < fp->nparts; i++)
        if (!strcmp(fp->part[i].name, name))
            return fp->part[i].bytes;
    fail_msg("no footprint part \"%s\"", name);
    return 0;
}

/* Every reference of a walk reads a page-table frame in use. */
static void check_refs(const struct fx *f, const struct walk *w)
{
    for (unsigned i = 0; i < w->nrefs; i++) {
        const vmsim_pfn_t pfn = w->ref[i].pa >> f->phys.page_shift;
        assert_true(pfn < f->phys.next);
        const struct frame *fr = &f->phys.frame[pfn];
        assert_true(fr->refcount > 0 && (fr->flags & FRAME_PT));
    }
}

static struct walk walk_of(struct fx *f, vmsim_vaddr_t va)
{
    struct walk w;
    memset(&w, 0xa5, sizeof w);
    pt_walk(f->pt, 0, va, NULL, &w);
    assert_int_equal(w.top, 0);
    check_refs(f, &w);
    return w;
}

/* The largest leaf level above 1: the CWT a walk reads first. */
static unsigned top_cwt(const struct vmsim_geometry *g)
{
    for (unsigned k = g->levels; k > 1; k--)
        if (g->leaf_levels & (1u << k))
            return k;
    return 0;
}

/* Map, look up, walk, update, replace and unmap one page of every size of
 * every preset, smallest first. Base pages come first and alone: only
 * their ways exist, no CWT is read, the walk reads their d = 3 slots.
 * Then a huge page, alone in its region: the CWT of the largest huge size
 * names one size and the walk reads 1 + 3 words, the CWT entry and the 3
 * slots of that size. Unmapped, the page leaves its region empty: 3 words
 * without CWT, else the CWT entry alone. */
static void test_round_trip_every_size(void **state)
{
    for (const char *const *n = vmsim_geometry_names; *n; n++) {
        struct fx *f = fx_open(*n, "");
        const unsigned top = top_cwt(&f->g);
        assert_true(top > 1); /* every preset has a huge page size */
        for (unsigned k = 1; k <= f->g.levels; k++) {
            if (k > 1 && !(f->g.leaf_levels & (1u << k)))
                continue;
            const uint64_t size = 1ull << vmsim_geometry_page_shift(&f->g, k);
            const vmsim_vaddr_t va = (uint64_t)k * size * 3;
            assert_true(va + size <= 1ull << f->g.va_bits);
            assert_int_equal(pt_map(f->pt, 0, va, k, leaf(100 + k)), VMSIM_OK);
            unsigned level = 0;
            assert_int_equal(pt_lookup(f->pt, 0, va + size / 2, &level), stored(leaf(100 + k)));
            assert_int_equal(level, k);
            struct walk w = walk_of(f, va + size - 1);
            const unsigned cwt = k > 1; /* CWT entries read */
            assert_int_equal(w.pte, stored(leaf(100 + k)) | PTE_A);
            assert_int_equal(w.level, k);
            assert_int_equal(w.nrefs, cwt + 3);
            if (cwt)
                assert_int_equal(w.ref[0].level, top);
            for (unsigned i = cwt; i < cwt + 3; i++)
                assert_int_equal(w.ref[i].level, k);
            /* the walk set the accessed bit; lookup sees it */
            assert_int_equal(pt_lookup(f->pt, 0, va, NULL), stored(leaf(100 + k)) | PTE_A);
            assert_int_equal(pt_update(f->pt, 0, va + 1, PTE_D, PTE_W), VMSIM_OK);
            assert_int_equal(pt_lookup(f->pt, 0, va, NULL),
                             (stored(leaf(100 + k)) | PTE_A | PTE_D) & ~PTE_W);
            /* same size: replaced in place */
            assert_int_equal(pt_map(f->pt, 0, va, k, leaf(200)), VMSIM_OK);
            assert_int_equal(pt_lookup(f->pt, 0, va, NULL), stored(leaf(200)));
            struct vmsim_pt_footprint fp = fp_of(f);
            assert_int_equal(fp.pages[k], 1);
            uint64_t old = 1;
            assert_int_equal(pt_unmap(f->pt, 0, va + size - 1, &old), VMSIM_OK);
            assert_int_equal(old, stored(leaf(200)));
            assert_int_equal(pt_lookup(f->pt, 0, va, &level), 0);
            assert_int_equal(level, 0);
            assert_int_equal(pt_unmap(f->pt, 0, va, &old), VMSIM_ENOENT);
            assert_int_equal(old, 0);
            assert_int_equal(pt_update(f->pt, 0, va, PTE_D, 0), VMSIM_ENOENT);
            w = walk_of(f, va);
            assert_int_equal(w.pte, 0);
            assert_int_equal(w.nrefs, cwt ? 1 : 3);
            fp = fp_of(f);
            assert_int_equal(fp.pages[k], 0);
        }
        fx_close(f);
    }
}

/* Sizes exclude each other: a page inside a huge one, a huge one over
 * pages, levels that hold no leaf, addresses beyond the space. */
static void test_conflicts(void **state)
{
    struct fx *f = fx_open("x86-64", "");
    assert_int_equal(pt_map(f->pt, 0, 0x200000, 1, leaf(1)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, 0x200000, 2, leaf(512)), VMSIM_EEXIST);
    assert_int_equal(pt_map(f->pt, 0, 0x400000, 2, leaf(1024)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, 0x401000, 1, leaf(2)), VMSIM_EEXIST);
    assert_int_equal(pt_map(f->pt, 0, 0, 3, leaf(1u << 18)), VMSIM_EEXIST);
    assert_int_equal(pt_map(f->pt, 0, G1, 3, leaf(1u << 18)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, G1 + 5 * PAGE, 1, leaf(3)), VMSIM_EEXIST);
    assert_int_equal(pt_map(f->pt, 0, G1 + M2, 2, leaf(1536)), VMSIM_EEXIST);
    assert_int_equal(pt_map(f->pt, 0, 0, 4, leaf(1)), VMSIM_EINVAL);          /* no 512 GiB pages */
    assert_int_equal(pt_map(f->pt, 0, 1ull << 48, 1, leaf(1)), VMSIM_EINVAL); /* beyond 48 bits */
    /* what failed left nothing behind */
    unsigned level;
    assert_int_equal(pt_lookup(f->pt, 0, 0x401000, &level), stored(leaf(1024)));
    assert_int_equal(level, 2);
    assert_int_equal(pt_lookup(f->pt, 0, G1 + 5 * PAGE, &level), stored(leaf(1u << 18)));
    assert_int_equal(level, 3);
    assert_int_equal(pt_lookup(f->pt, 0, 0, NULL), 0);
    /* after the 4 KiB page goes, the 2 MiB page fits */
    assert_int_equal(pt_unmap(f->pt, 0, 0x200000, NULL), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, 0x200000, 2, leaf(512)), VMSIM_OK);
    fx_close(f);
}

/* A swap entry is a non-present leaf that stays findable: lookup and walk
 * return it with PTE_LEAF and without PTE_P (the walk sets no accessed
 * bit on it), at the same cost as a present one: with base pages only,
 * their 3 slots. */
static void test_swap_entries(void **state)
{
    struct fx *f = fx_open("x86-64", "");
    const uint64_t swp = (77ull << PTE_PFN_SHIFT) | PTE_SWAP;
    const uint64_t want = swp | PTE_LEAF;
    assert_int_equal(pt_map(f->pt, 0, 0x7000, 1, swp | PTE_P), VMSIM_OK);
    assert_int_equal(pt_lookup(f->pt, 0, 0x7000, NULL), want);
    struct walk w = walk_of(f, 0x7123);
    assert_int_equal(w.pte, want);
    assert_int_equal(w.level, 1);
    assert_int_equal(w.nrefs, 3);
    assert_int_equal(pt_lookup(f->pt, 0, 0x7000, NULL), want);
    /* a 2 MiB swap entry */
    assert_int_equal(pt_map(f->pt, 0, 0x600000, 2, swp), VMSIM_OK);
    w = walk_of(f, 0x6fffff);
    assert_int_equal(w.pte, want);
    assert_int_equal(w.level, 2);
    /* the kernel edits it in place, then the page comes back */
    assert_int_equal(pt_update(f->pt, 0, 0x7000, PTE_D, 0), VMSIM_OK);
    assert_int_equal(pt_lookup(f->pt, 0, 0x7000, NULL), want | PTE_D);
    assert_int_equal(pt_map(f->pt, 0, 0x7000, 1, leaf(9)), VMSIM_OK);
    assert_int_equal(walk_of(f, 0x7000).pte, stored(leaf(9)) | PTE_A);
    uint64_t old;
    assert_int_equal(pt_unmap(f->pt, 0, 0x600000, &old), VMSIM_OK);
    assert_int_equal(old, want);
    fx_close(f);
}

/* With hash=bits and 4 slots per way, way 0 indexes with bits 0-1 of the
 * page number and way 1 with bits 2-3 (page numbers below 16 have no bits
 * above the two fields). Inserting takes the first empty candidate in way
 * order:
 *   X = vpn 0 (way0[0], way1[0]) -> way0[0]
 *   R = vpn 5 (way0[1], way1[1]) -> way0[1]
 *   Q = vpn 9 (way0[1], way1[2]) -> way0[1] taken -> way1[2]
 *   D = vpn 8 (way0[0], way1[2]) -> both taken: D gets in only by kicking
 * X (whose other slot way1[0] is free) or Q (which kicks R to its free
 * way1[1]). Load 1 keeps the elastic resize out of the way: no resize
 * may happen. A walk of D reads slots way0[0] and way1[2] (base pages
 * only: no CWT read): bytes 0 and (4 + 2) * 16 = 96 of the one frame
 * holding both ways (2 x 4 x 16 B). */
static void test_kicks_by_hand(void **state)
{
    struct fx *f = fx_open("x86-64", "hash=bits,ways=2,slots=4,load=1");
    const uint64_t vpn[4] = {0, 5, 9, 8};
    struct vmsim_pt_footprint fp = fp_of(f);
    assert_int_equal(part(&fp, "ways"), PAGE);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(pt_map(f->pt, 0, vpn[i] * PAGE, 1, leaf(10 + i)), VMSIM_OK);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(pt_lookup(f->pt, 0, vpn[i] * PAGE, NULL), stored(leaf(10 + i)));
    assert_int_equal(f->counters.resizes, 0);
    assert_int_equal(f->counters.migrated, 0);
    fp = fp_of(f);
    assert_int_equal(part(&fp, "ways"), PAGE);
    struct walk w = walk_of(f, 8 * PAGE);
    assert_int_equal(w.nrefs, 2);
    assert_int_equal(w.ref[0].level, 1);
    assert_int_equal(w.ref[0].pa & (PAGE - 1), 0);
    assert_int_equal(w.ref[1].pa & (PAGE - 1), 96);
    assert_int_equal(w.ref[0].pa / PAGE, w.ref[1].pa / PAGE);
    assert_int_equal(w.pte, stored(leaf(13)) | PTE_A);
    fx_close(f);
}

/* One slot per way: every key has the same two candidate slots. A (vpn 0)
 * and B (vpn 1) take them; C (vpn 2) cannot fit, every kick sequence fails
 * and is undone, and the table is rebuilt with scale = 16 slots per way:
 * one resize, the 2 entries there migrated, then C placed (a second
 * failure would need C on the same two slots as A and B, in both ways of
 * the seeded hash). 2 x 16 x 16 B still fit one frame. */
static void test_full_table_rebuilds(void **state)
{
    struct fx *f = fx_open("x86-64", "ways=2,slots=1,load=1,scale=16");
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(pt_map(f->pt, 0, i * PAGE, 1, leaf(10 + i)), VMSIM_OK);
    assert_int_equal(f->counters.resizes, 1);
    assert_int_equal(f->counters.migrated, 2);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(pt_lookup(f->pt, 0, i * PAGE, NULL), stored(leaf(10 + i)));
    struct vmsim_pt_footprint fp = fp_of(f);
    assert_int_equal(part(&fp, "ways"), PAGE);
    struct walk w = walk_of(f, 2 * PAGE);
    assert_int_equal(w.nrefs, 2);
    assert_int_equal(w.ref[0].pa / PAGE, w.ref[1].pa / PAGE);
    assert_int_equal(PTE_PFN(w.pte), 12);
    fx_close(f);
}

/* Elastic resizing, slots=256 (defaults otherwise: 3 ways, load 0.6,
 * scale 2, 4 old slots drained per map). One generation: 3 x 256 x 16 B =
 * 12 KiB; the next 24 KiB. The resize starts when the entries pass
 * 0.6 x 768 = 460.8, at map 461, with 461 entries in the old ways; that
 * map drains 4 old slots, so both generations are there after it (36 KiB).
 * The 768 old slots are all drained by map 461 + 191 = 652 (entries also
 * leave the old ways when kicked, so the old generation may go earlier).
 * The next resize would start past 0.6 x 1536 = 921.6: not within 900
 * maps. Every page is found after every map, and every walk reads one slot
 * per way, 3 words (base pages only: no CWT read), during the resize too. */
static void test_elastic_resize(void **state)
{
    struct fx *f = fx_open("x86-64", "slots=256");
    const unsigned N = 900;
    const vmsim_vaddr_t base = G1; /* one 1 GiB region of base pages */
    for (unsigned n = 1; n <= N; n++) {
        assert_int_equal(pt_map(f->pt, 0, base + (n - 1) * PAGE, 1, leaf(n)), VMSIM_OK);
        const struct vmsim_pt_footprint fp = fp_of(f);
        const uint64_t ways = part(&fp, "ways");
        if (n <= 460) {
            assert_int_equal(ways, 12 * KIB);
            assert_int_equal(f->counters.resizes, 0);
        } else {
            assert_int_equal(f->counters.resizes, 1);
            if (n == 461)
                assert_int_equal(ways, 36 * KIB);
            else if (n >= 652)
                assert_int_equal(ways, 24 * KIB);
            else
                assert_true(ways == 24 * KIB || ways == 36 * KIB);
        }
        for (unsigned i = 1; i <= n; i++)
            assert_int_equal(PTE_PFN(pt_lookup(f->pt, 0, base + (i - 1) * PAGE, NULL)), i);
        if (n % 50 == 0 || (n >= 455 && n <= 470) || n == 600 || n == 652)
            for (unsigned i = 1; i <= n; i++) {
                const struct walk w = walk_of(f, base + (i - 1) * PAGE);
                assert_int_equal(PTE_PFN(w.pte), i);
                assert_int_equal(w.nrefs, 3);
            }
    }
    /* the 461 entries of the old generation moved at least once (maps in
     * between may put more there, and every move counts) */
    assert_true(f->counters.migrated >= 461);
    for (unsigned i = 1; i <= N; i += 2) {
        uint64_t old;
        assert_int_equal(pt_unmap(f->pt, 0, base + (i - 1) * PAGE, &old), VMSIM_OK);
        assert_int_equal(PTE_PFN(old), i);
    }
    for (unsigned i = 1; i <= N; i++)
        assert_int_equal(PTE_PFN(pt_lookup(f->pt, 0, base + (i - 1) * PAGE, NULL)), i % 2 ? 0 : i);
    const struct vmsim_pt_footprint fp = fp_of(f);
    assert_int_equal(fp.pages[1], N / 2);
    assert_int_equal(part(&fp, "ways"), 24 * KIB); /* tables do not shrink */
    fx_close(f);
}

/* migrate=0: no elastic phase; at map 461 all 461 entries are rehashed
 * at once into the 24 KiB generation. */
static void test_resize_at_once(void **state)
{
    struct fx *f = fx_open("x86-64", "slots=256,migrate=0");
    for (unsigned n = 1; n <= 461; n++)
        assert_int_equal(pt_map(f->pt, 0, G1 + (n - 1) * PAGE, 1, leaf(n)), VMSIM_OK);
    const struct vmsim_pt_footprint fp = fp_of(f);
    assert_int_equal(part(&fp, "ways"), 24 * KIB);
    assert_int_equal(f->counters.resizes, 1);
    assert_int_equal(f->counters.migrated, 461);
    for (unsigned n = 1; n <= 461; n++)
        assert_int_equal(PTE_PFN(pt_lookup(f->pt, 0, G1 + (n - 1) * PAGE, NULL)), n);
    fx_close(f);
}

/* Tiny tables make kicks, failed insertions, rebuilds and elastic resizes
 * constant: random maps, unmaps and updates against a plain array. */
static void stress(const char *params)
{
    struct fx *f = fx_open("x86-64", params);
    enum { NPAGE = 1500 };
    static uint64_t model[NPAGE];
    memset(model, 0, sizeof model);
    struct rng r;
    rng_seed(&r, 42);
    /* pages spread over 37 1 GiB regions, 41 2 MiB regions in each */
    for (unsigned op = 0; op < 20000; op++) {
        const unsigned i = (unsigned)rng_below(&r, NPAGE);
        const vmsim_vaddr_t va = (uint64_t)(i % 37) * G1 + (uint64_t)(i / 37) * (M2 + 3 * PAGE);
        const unsigned what = (unsigned)rng_below(&r, 10);
        if (what < 6) {
            const uint64_t pte =
                rng_below(&r, 4) ? leaf(1 + op) : ((1ull + op) << PTE_PFN_SHIFT) | PTE_SWAP;
            assert_int_equal(pt_map(f->pt, 0, va, 1, pte), VMSIM_OK);
            model[i] = (pte & PTE_SWAP) ? pte | PTE_LEAF : stored(pte);
        } else if (what < 9) {
            uint64_t old;
            assert_int_equal(pt_unmap(f->pt, 0, va, &old), model[i] ? VMSIM_OK : VMSIM_ENOENT);
            assert_int_equal(old, model[i]);
            model[i] = 0;
        } else {
            assert_int_equal(pt_update(f->pt, 0, va, PTE_D, PTE_W),
                             model[i] ? VMSIM_OK : VMSIM_ENOENT);
            if (model[i])
                model[i] = ((model[i] | PTE_D) & ~PTE_W) | PTE_LEAF;
        }
        assert_int_equal(pt_lookup(f->pt, 0, va, NULL), model[i]);
        if (op % 2000 == 1999)
            for (unsigned k = 0; k < NPAGE; k++) {
                const vmsim_vaddr_t a =
                    (uint64_t)(k % 37) * G1 + (uint64_t)(k / 37) * (M2 + 3 * PAGE);
                assert_int_equal(pt_lookup(f->pt, 0, a, NULL), model[k]);
                const struct walk w = walk_of(f, a);
                if (model[k] & PTE_P)
                    model[k] |= PTE_A;
                assert_int_equal(w.pte, model[k]);
            }
    }
    assert_true(f->counters.resizes > 0);
    assert_true(f->counters.migrated > 0);
    fx_close(f);
}

static void test_stress_tiny(void **state)
{
    stress("ways=2,slots=2,kicks=4,load=0.9");
    stress("ways=3,slots=1,kicks=0");
    stress("ways=2,slots=4,load=0.5,migrate=1,scale=4");
    stress("ways=4,slots=2,migrate=0");
    stress("hash=bits,ways=2,slots=2");
}

/* The CWT decides what a walk reads (x86-64: CWTs for 1 GiB and 2 MiB
 * regions, d = 3). While base pages are the only size with ways, the walk
 * reads their 3 slots and no CWT. Once another size has ways:
 *   - a 1 GiB region with nothing: the 1 GiB CWT entry is absent: 1;
 *   - one with base pages only: CWT, then the 3 base-page slots: 1 + 3;
 *   - one with a 1 GiB page: CWT, 3 slots of the 1 GiB ways: 1 + 3;
 *   - one with 2 MiB and 4 KiB pages: the 1 GiB entry names two sizes, so
 *     the 2 MiB region's entry is read too: 2 + 3, or 2 when that 2 MiB
 *     region holds nothing.
 * cwt=off: the 3 slots of every size that has ways: 3 x 3 = 9. */
static void test_cwt_cuts_probes(void **state)
{
    struct fx *f = fx_open("x86-64", "");
    struct walk w = walk_of(f, 0x1234000);
    assert_int_equal(w.nrefs, 3);
    assert_int_equal(w.ref[0].level, 1);
    assert_int_equal(w.pte, 0);
    /* region 2: a 2 MiB page and base pages */
    assert_int_equal(pt_map(f->pt, 0, 2 * G1, 2, leaf(512)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, 2 * G1 + M2, 1, leaf(3)), VMSIM_OK);
    w = walk_of(f, 2 * G1 + 0x1234);
    assert_int_equal(w.nrefs, 2 + 3);
    assert_int_equal(w.level, 2);
    assert_int_equal(PTE_PFN(w.pte), 512);
    const unsigned lv2[5] = {3, 2, 2, 2, 2};
    for (unsigned i = 0; i < 5; i++)
        assert_int_equal(w.ref[i].level, lv2[i]);
    w = walk_of(f, 2 * G1 + M2);
    assert_int_equal(w.nrefs, 2 + 3);
    assert_int_equal(w.level, 1);
    const unsigned lv1[5] = {3, 2, 1, 1, 1};
    for (unsigned i = 0; i < 5; i++)
        assert_int_equal(w.ref[i].level, lv1[i]);
    w = walk_of(f, 2 * G1 + 2 * M2);
    assert_int_equal(w.nrefs, 2);
    assert_int_equal(w.pte, 0);
    /* region 0: nothing */
    w = walk_of(f, 0x1234000);
    assert_int_equal(w.nrefs, 1);
    assert_int_equal(w.ref[0].level, 3);
    assert_int_equal(w.pte, 0);
    /* region 1: base pages only */
    assert_int_equal(pt_map(f->pt, 0, G1, 1, leaf(1)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, G1 + PAGE, 1, leaf(2)), VMSIM_OK);
    w = walk_of(f, G1 + PAGE);
    assert_int_equal(w.nrefs, 1 + 3);
    assert_int_equal(PTE_PFN(w.pte), 2);
    assert_int_equal(w.ref[0].level, 3);
    for (unsigned i = 1; i < 4; i++)
        assert_int_equal(w.ref[i].level, 1);
    w = walk_of(f, G1 + M2); /* same region, nothing there */
    assert_int_equal(w.nrefs, 1 + 3);
    assert_int_equal(w.pte, 0);
    /* region 3: a 1 GiB page */
    assert_int_equal(pt_map(f->pt, 0, 3 * G1, 3, leaf(1u << 18)), VMSIM_OK);
    w = walk_of(f, 3 * G1 + 12345 * PAGE);
    assert_int_equal(w.nrefs, 1 + 3);
    assert_int_equal(w.level, 3);
    for (unsigned i = 1; i < 4; i++)
        assert_int_equal(w.ref[i].level, 3);
    /* the 2 MiB page goes: region 2 holds base pages only again */
    assert_int_equal(pt_unmap(f->pt, 0, 2 * G1, NULL), VMSIM_OK);
    assert_int_equal(walk_of(f, 2 * G1 + M2).nrefs, 1 + 3);
    fx_close(f);

    /* without CWTs */
    f = fx_open("x86-64", "cwt=off");
    assert_int_equal(walk_of(f, G1).nrefs, 3); /* only the base-page ways exist */
    assert_int_equal(pt_map(f->pt, 0, G1, 1, leaf(1)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, 2 * G1, 2, leaf(512)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, 3 * G1, 3, leaf(1u << 18)), VMSIM_OK);
    const vmsim_vaddr_t probe[4] = {G1, 2 * G1 + 5, 3 * G1 + 7, 4 * G1};
    const unsigned want[4] = {1, 2, 3, 0};
    for (unsigned i = 0; i < 4; i++) {
        w = walk_of(f, probe[i]);
        assert_int_equal(w.nrefs, 9);
        assert_int_equal(!!w.pte, !!want[i]);
        if (want[i])
            assert_int_equal(w.level, want[i]);
    }
    fx_close(f);

    /* d = 4 */
    f = fx_open("x86-64", "ways=4");
    assert_int_equal(pt_map(f->pt, 0, G1, 1, leaf(1)), VMSIM_OK);
    assert_int_equal(walk_of(f, G1).nrefs, 4);
    assert_int_equal(pt_map(f->pt, 0, 2 * G1, 2, leaf(512)), VMSIM_OK);
    assert_int_equal(walk_of(f, G1).nrefs, 1 + 4);
    fx_close(f);
}

/* Memory by hand. x86-64 (8-byte entries: 16-byte slots), defaults: the
 * base-page ways from the start, 3 x 512 x 16 B = 24 KiB = 6 frames; the
 * CWTs of 1 GiB and 2 MiB regions, 64 buckets of 64 B = one frame each.
 * A 2 MiB or 1 GiB page adds that size's 24 KiB. x86-32 (4-byte entries,
 * 8-byte slots): 3 x 512 x 8 B = 12 KiB, one CWT (4 MiB regions). */
static void test_footprint_by_hand(void **state)
{
    struct fx *f = fx_open("x86-64", "");
    struct vmsim_pt_footprint fp = fp_of(f);
    assert_int_equal(part(&fp, "ways"), 24 * KIB);
    assert_int_equal(part(&fp, "cwt"), 8 * KIB);
    assert_int_equal(fp.bytes, 32 * KIB);
    assert_int_equal(fp.root_bytes, 0);
    assert_int_equal(f->phys.used, 8);
    assert_int_equal(pt_map(f->pt, 0, 0x1000, 1, leaf(1)), VMSIM_OK);
    fp = fp_of(f);
    assert_int_equal(fp.bytes, 32 * KIB);
    assert_int_equal(fp.pages[1], 1);
    assert_int_equal(pt_map(f->pt, 0, 0x400000, 2, leaf(512)), VMSIM_OK);
    fp = fp_of(f);
    assert_int_equal(part(&fp, "ways"), 48 * KIB);
    assert_int_equal(fp.bytes, 56 * KIB);
    assert_int_equal(fp.pages[2], 1);
    assert_int_equal(pt_map(f->pt, 0, G1, 3, leaf(1u << 18)), VMSIM_OK);
    fp = fp_of(f);
    assert_int_equal(part(&fp, "ways"), 72 * KIB);
    assert_int_equal(fp.bytes, 80 * KIB);
    assert_int_equal(f->phys.used, 80 * KIB / PAGE);
    /* the per-machine sum adds up */
    pt_footprint(f->pt, &fp);
    assert_int_equal(fp.bytes, 160 * KIB);
    assert_int_equal(part(&fp, "ways"), 144 * KIB);
    /* 300 2 MiB regions with a base page each: more than the 256 entries
     * a 64-bucket CWT takes (half full), so the 2 MiB CWT at least
     * doubles; the 1 GiB CWT still has one entry */
    for (unsigned i = 0; i < 300; i++)
        assert_int_equal(pt_map(f->pt, 0, 2 * G1 + i * M2, 1, leaf(2 + i)), VMSIM_OK);
    fp = fp_of(f);
    assert_true(part(&fp, "cwt") >= 4 * KIB + 8 * KIB);
    fx_close(f);

    f = fx_open("x86-32", "");
    fp = fp_of(f);
    assert_int_equal(part(&fp, "ways"), 12 * KIB);
    assert_int_equal(part(&fp, "cwt"), 4 * KIB);
    fx_close(f);

    /* 2 x 64 x 16 B = 2 KiB: one frame */
    f = fx_open("x86-64", "ways=2,slots=64");
    fp = fp_of(f);
    assert_int_equal(part(&fp, "ways"), 4 * KIB);
    fx_close(f);

    /* cwt=off: no CWT frames */
    f = fx_open("x86-64", "cwt=off");
    fp = fp_of(f);
    assert_int_equal(fp.bytes, 24 * KIB);
    assert_int_equal(f->phys.used, 6);
    fx_close(f);
}

/* Out of simulated frames. Creating takes 6 + 2 = 8 frames (see above):
 * with 7 it fails and keeps none. With 8, base pages map, a first 2 MiB
 * page needs 6 more frames and fails, changing nothing. With slots=4 a
 * generation is 3 x 4 x 16 B = one frame: 3 frames in all; the elastic
 * resize at map 8 (entries > 0.6 x 12 = 7.2) finds no frame and is
 * skipped; maps go on until an insertion fails and its rebuild finds no
 * frame either: at most 12 pages fit. */
static void test_out_of_frames(void **state)
{
    int rc;
    struct fx *f = fx_try("x86-64", "", 7, &rc);
    assert_int_equal(rc, VMSIM_ENOFRAME);
    assert_int_equal(f->phys.used, 0);
    phys_fini(&f->phys);
    free(f);

    f = fx_try("x86-64", "", 8, &rc);
    assert_int_equal(rc, VMSIM_OK);
    assert_int_equal(f->phys.used, 8);
    assert_int_equal(pt_map(f->pt, 0, 0x1000, 1, leaf(1)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, 0x400000, 2, leaf(512)), VMSIM_ENOFRAME);
    assert_int_equal(f->phys.used, 8);
    assert_int_equal(pt_lookup(f->pt, 0, 0x400000, NULL), 0);
    /* base pages are still the only size with ways: their 3 slots */
    assert_int_equal(walk_of(f, 0x400000).nrefs, 3);
    assert_int_equal(pt_lookup(f->pt, 0, 0x1000, NULL), stored(leaf(1)));
    assert_int_equal(pt_map(f->pt, 0, 0x600000, 1, leaf(2)), VMSIM_OK);
    fx_close(f);

    f = fx_try("x86-64", "slots=4", 3, &rc);
    assert_int_equal(rc, VMSIM_OK);
    unsigned ok = 0;
    for (; ok < 100; ok++) {
        rc = pt_map(f->pt, 0, (ok + 1) * PAGE, 1, leaf(ok + 1));
        if (rc)
            break;
    }
    assert_int_equal(rc, VMSIM_ENOFRAME);
    assert_true(ok >= 8 && ok <= 12);
    assert_int_equal(f->phys.used, 3);
    assert_int_equal(f->counters.resizes, 0);
    for (unsigned i = 0; i <= ok; i++)
        assert_int_equal(pt_lookup(f->pt, 0, (i + 1) * PAGE, NULL),
                         i < ok ? stored(leaf(i + 1)) : 0);
    for (unsigned i = 0; i < ok; i++)
        assert_int_equal(pt_unmap(f->pt, 0, (i + 1) * PAGE, NULL), VMSIM_OK);
    fx_close(f);
}

struct seen {
    vmsim_vaddr_t va[700];
    unsigned level[700];
    unsigned n, stop_at;
    struct pt *unmap_on_first; /* unmap 0x5000 when the first leaf is seen */
};

static int see(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t pte)
{
    struct seen *s = ctx;
    assert_true(s->n < 700);
    s->va[s->n] = va;
    s->level[s->n] = level;
    s->n++;
    if (s->n == 1 && s->unmap_on_first)
        assert_int_equal(pt_unmap(s->unmap_on_first, 0, 0x5000, NULL), VMSIM_OK);
    return s->n == s->stop_at ? 7 : 0;
}

/* Visits report the leaves overlapping the range, at their bases, in
 * address order, whether found by key or by scanning the ways. */
static void test_visit(void **state)
{
    struct fx *f = fx_open("x86-64", "");
    assert_int_equal(pt_map(f->pt, 0, 0x80000000, 1, leaf(5)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, 0x5000, 1, leaf(2)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, G1, 3, leaf(1u << 18)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, 0x400000, 2, leaf(512)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, 0x1000, 1, leaf(1)), VMSIM_OK);
    struct seen s = {0};
    assert_int_equal(pt_visit(f->pt, 0, 0, UINT64_MAX, see, &s), 0);
    const vmsim_vaddr_t va[5] = {0x1000, 0x5000, 0x400000, G1, 0x80000000};
    const unsigned lv[5] = {1, 1, 2, 3, 1};
    assert_int_equal(s.n, 5);
    for (unsigned i = 0; i < 5; i++) {
        assert_int_equal(s.va[i], va[i]);
        assert_int_equal(s.level[i], lv[i]);
    }
    s = (struct seen){0};
    assert_int_equal(pt_visit(f->pt, 0, 0x401000, 0x402000, see, &s), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.va[0], 0x400000);
    s = (struct seen){0};
    assert_int_equal(pt_visit(f->pt, 0, 0x2000, 0x5001, see, &s), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.va[0], 0x5000);
    s = (struct seen){.stop_at = 2};
    assert_int_equal(pt_visit(f->pt, 0, 0, UINT64_MAX, see, &s), 7);
    assert_int_equal(s.n, 2);
    /* the callback changes the table: the leaf it removed is not reported */
    s = (struct seen){.unmap_on_first = f->pt};
    assert_int_equal(pt_visit(f->pt, 0, 0, UINT64_MAX, see, &s), 0);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.va[1], 0x400000);
    fx_close(f);

    /* 600 pages: a whole visit scans the ways, a small range looks keys up */
    f = fx_open("x86-64", "slots=64");
    for (unsigned i = 0; i < 600; i++)
        assert_int_equal(pt_map(f->pt, 0, (599 - i) * 2 * PAGE, 1, leaf(i)), VMSIM_OK);
    s = (struct seen){0};
    assert_int_equal(pt_visit(f->pt, 0, 0, UINT64_MAX, see, &s), 0);
    assert_int_equal(s.n, 600);
    for (unsigned i = 0; i < 600; i++)
        assert_int_equal(s.va[i], i * 2 * PAGE);
    s = (struct seen){0};
    assert_int_equal(pt_visit(f->pt, 0, 10 * PAGE, 20 * PAGE, see, &s), 0);
    assert_int_equal(s.n, 5);
    assert_int_equal(s.va[0], 10 * PAGE);
    fx_close(f);
}

/* Address spaces are told apart by env->space; the asid argument is
 * ignored (it changes at rollover). */
static void test_spaces(void **state)
{
    struct vmsim_geometry g;
    struct phys phys;
    struct pt_counters counters = {0};
    struct pt *a, *b;
    vmsim_geometry_preset("x86-64", &g);
    assert_int_equal(phys_init(&phys, 1ull << 30, 12), VMSIM_OK);
    const struct pt_env ea = {&g, &phys, "slots=8", NULL, 1, &counters};
    const struct pt_env eb = {&g, &phys, "slots=8", NULL, 2, &counters};
    assert_int_equal(pt_create(&pt_cuckoo_ops, &ea, &a), VMSIM_OK);
    assert_int_equal(pt_create(&pt_cuckoo_ops, &eb, &b), VMSIM_OK);
    for (unsigned i = 0; i < 200; i++) {
        assert_int_equal(pt_map(a, 3, i * PAGE, 1, leaf(i)), VMSIM_OK);
        assert_int_equal(pt_map(b, 4, i * PAGE, 1, leaf(1000 + i)), VMSIM_OK);
    }
    for (unsigned i = 0; i < 200; i++) {
        assert_int_equal(pt_lookup(a, 9, i * PAGE, NULL), stored(leaf(i)));
        assert_int_equal(pt_lookup(b, 0, i * PAGE, NULL), stored(leaf(1000 + i)));
    }
    assert_true(counters.resizes >= 2); /* both grew past 0.6 x 24 */
    pt_destroy(a);
    for (unsigned i = 0; i < 200; i++)
        assert_int_equal(pt_lookup(b, 0, i * PAGE, NULL), stored(leaf(1000 + i)));
    pt_destroy(b);
    assert_int_equal(phys.used, 0);
    phys_fini(&phys);
}

/* Options: check() explains, create() refuses without taking frames. */
static void test_options(void **state)
{
    static const struct {
        const char *params, *says;
    } bad[] = {
        {"ways=1", "ways: expected 2 to 8"},
        {"ways=9", "ways"},
        {"slots=300", "power of two"},
        {"slots=0", "slots"},
        {"load=0", "load"},
        {"load=1.5", "load"},
        {"load=x", "load"},
        {"kicks=2000", "kicks"},
        {"scale=3", "scale"},
        {"migrate=-1", "migrate"},
        {"cwt=maybe", "on or off"},
        {"hash=crc", "mul"},
        {"seed=", "seed"},
        {"bogus=1", "unknown cuckoo option \"bogus\""},
        {"ways", "KEY=VALUE"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char why[256] = "";
        assert_int_equal(pt_cuckoo_ops.check(bad[i].params, why, sizeof why), VMSIM_EINVAL);
        if (!strstr(why, bad[i].says))
            fail_msg("\"%s\": message \"%s\" lacks \"%s\"", bad[i].params, why, bad[i].says);
        int rc;
        struct fx *f = fx_try("x86-64", bad[i].params, 0, &rc);
        assert_int_equal(rc, VMSIM_EINVAL);
        assert_int_equal(f->phys.used, 0);
        phys_fini(&f->phys);
        free(f);
    }
    char why[256] = "";
    assert_int_equal(pt_cuckoo_ops.check("", why, sizeof why), VMSIM_OK);
    assert_int_equal(
        pt_cuckoo_ops.check(
            "ways=4,slots=16,load=0.5,kicks=8,scale=4,migrate=0,cwt=off,hash=bits,seed=7", why,
            sizeof why),
        VMSIM_OK);
    assert_int_equal(pt_cuckoo_ops.check("slots=1k", why, sizeof why), VMSIM_OK);
    assert_string_equal(pt_cuckoo_ops.name, "cuckoo");
    assert_false(pt_cuckoo_ops.tree);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_size),
        cmocka_unit_test(test_conflicts),
        cmocka_unit_test(test_swap_entries),
        cmocka_unit_test(test_kicks_by_hand),
        cmocka_unit_test(test_full_table_rebuilds),
        cmocka_unit_test(test_elastic_resize),
        cmocka_unit_test(test_resize_at_once),
        cmocka_unit_test(test_stress_tiny),
        cmocka_unit_test(test_cwt_cuts_probes),
        cmocka_unit_test(test_footprint_by_hand),
        cmocka_unit_test(test_out_of_frames),
        cmocka_unit_test(test_visit),
        cmocka_unit_test(test_spaces),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
