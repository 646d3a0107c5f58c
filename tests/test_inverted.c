/* The inverted page table on its own: keys (space, page, size), sharing,
 * swap entries, the overflow pool, sizes fixed by physical memory, walk
 * references on hand-made collisions, running out of frames (also with
 * reclaim editing the table in the middle of a map), and a random
 * differential test against a list of mappings.
 *
 * Sizes used below, from the layout in src/pt/inverted.c: 16 bytes per
 * frame entry, 4 per anchor, anchors = the power of two >= frames, 24 bytes
 * per overflow entry, so floor(4096 / 24) = 170 overflow entries per 4 KiB
 * pool frame. */
#include <stdlib.h>
#include <string.h>

#include "phys/phys.h"
#include "pt/pt.h"
#include "testutil.h"
#include "util/rng.h"

extern const struct pt_ops pt_inverted_ops;
extern const struct pt_ops pt_radix_ops;

#define MIB (1ull << 20)
#define PER_PAGE 170 /* overflow entries per 4 KiB frame */

struct fx {
    struct vmsim_geometry g;
    struct phys phys;
    void *shared;
    struct pt_counters counters;
    uint64_t space;
    const char *params;
};

static struct fx *fx_new(const char *geom, uint64_t mem, const char *params)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(vmsim_geometry_preset(geom, &f->g), VMSIM_OK);
    assert_int_equal(phys_init(&f->phys, mem, f->g.page_shift), VMSIM_OK);
    f->params = params;
    return f;
}

/* A new address space sharing the machine's table. */
static struct pt *fx_space(struct fx *f)
{
    const struct pt_env env = {&f->g, &f->phys, f->params, &f->shared, ++f->space, &f->counters};
    struct pt *p = NULL;
    assert_int_equal(pt_create(&pt_inverted_ops, &env, &p), VMSIM_OK);
    return p;
}

static void fx_free(struct fx *f)
{
    if (f->shared)
        pt_inverted_ops.shared_destroy(f->shared);
    assert_int_equal(f->phys.used, 0); /* every table frame went back */
    phys_fini(&f->phys);
    free(f);
}

static uint64_t leaf(uint64_t pfn) { return (pfn << PTE_PFN_SHIFT) | PTE_W | PTE_U; }
/* What map() stores for a present leaf. */
static uint64_t stored(uint64_t pte) { return pte | PTE_P | PTE_LEAF; }

static uint64_t part(const struct vmsim_pt_footprint *fp, const char *name)
{
    for (unsigned i = 0; i < fp->nparts; i++)
        if (!strcmp(fp->part[i].name, name))
            return fp->part[i].bytes;
    fail_msg("no footprint part \"%s\"", name);
    return 0;
}

static struct vmsim_pt_footprint shared_fp(const struct fx *f)
{
    struct vmsim_pt_footprint fp;
    memset(&fp, 0, sizeof fp);
    pt_inverted_ops.shared_footprint(f->shared, &fp);
    return fp;
}

static uint64_t overflow_bytes(const struct fx *f)
{
    const struct vmsim_pt_footprint fp = shared_fp(f);
    return part(&fp, "overflow");
}

/* ---- basics ------------------------------------------------------------ */

/* 64 MiB of 4 KiB frames: F = 16384 frame entries (256 KiB = 64 frames)
 * and 16384 anchors (64 KiB = 16 frames), allocated at the first create
 * (320 KiB <= max=64m): entries at frame 0, anchors at frame 64 (the bump
 * allocator, blocks aligned to their size). */
static void test_map_find_update_unmap(void **state)
{
    struct fx *f = fx_new("x86-64", 64 * MIB, "");
    struct pt *p = fx_space(f);
    assert_int_equal(f->phys.used, 64 + 16);
    const vmsim_vaddr_t va = 0x400000;
    pt_prefetch(p, 0, va, 1); /* no anchors yet: nothing to load */
    assert_int_equal(pt_map(p, 0, va, 1, leaf(100)), VMSIM_OK);
    pt_prefetch(p, 0, va, 1); /* a hint, no effect but on the host's caches */
    unsigned level = 0;
    assert_int_equal(pt_lookup(p, 0, va + 0x123, &level), stored(leaf(100)));
    assert_int_equal(level, 1);
    assert_int_equal(pt_lookup(p, 0, va + 4096, &level), 0);
    /* lookup has no side effects; a walk sets the accessed bit */
    assert_int_equal(pt_lookup(p, 0, va, NULL) & PTE_A, 0);
    struct walk w;
    pt_walk(p, 0, va, NULL, &w);
    assert_int_equal(w.pte, stored(leaf(100)) | PTE_A);
    assert_int_equal(w.level, 1);
    assert_int_equal(w.top, 0);
    /* one entry in the whole table: its anchor, then frame entry 100 */
    assert_int_equal(w.nrefs, 2);
    assert_true(w.ref[0].pa >= 64 * 4096ull && w.ref[0].pa < 64 * 4096ull + 16384 * 4);
    assert_int_equal(w.ref[0].pa % 4, 0);
    assert_int_equal(w.ref[1].pa, 100 * 16);
    assert_int_equal(pt_lookup(p, 0, va, NULL) & PTE_A, PTE_A);
    /* update sets and clears bits */
    assert_int_equal(pt_update(p, 0, va, PTE_D, PTE_W | PTE_A), VMSIM_OK);
    assert_int_equal(pt_lookup(p, 0, va, NULL), (stored(leaf(100)) | PTE_D) & ~PTE_W);
    assert_int_equal(pt_update(p, 0, va + 4096, PTE_D, 0), VMSIM_ENOENT);
    /* replace a same-size leaf */
    assert_int_equal(pt_map(p, 0, va, 1, leaf(101)), VMSIM_OK);
    assert_int_equal(pt_lookup(p, 0, va, NULL), stored(leaf(101)));
    /* unmap returns the old entry */
    uint64_t old = 0;
    assert_int_equal(pt_unmap(p, 0, va, &old), VMSIM_OK);
    assert_int_equal(old, stored(leaf(101)));
    assert_int_equal(pt_lookup(p, 0, va, NULL), 0);
    assert_int_equal(pt_unmap(p, 0, va, &old), VMSIM_ENOENT);
    assert_int_equal(old, 0);
    pt_walk(p, 0, va, NULL, &w);
    assert_int_equal(w.pte, 0);
    assert_int_equal(w.nrefs, 1); /* the empty anchor */
    pt_destroy(p);
    fx_free(f);
}


/* Swap entries have no frame: they live in the overflow pool and stay
 * findable with PTE_SWAP, PTE_LEAF and their slot. An entry that update()
 * turns into a swap entry stays in its frame entry ("parked") until the
 * frame is mapped again. Pool frames come after the table's 80 frames. */
static void test_swap_entries(void **state)
{
    struct fx *f = fx_new("x86-64", 64 * MIB, "");
    struct pt *p = fx_space(f);
    const uint64_t swp = (7ull << PTE_PFN_SHIFT) | PTE_SWAP | PTE_U;
    assert_int_equal(pt_map(p, 0, 0x1000, 1, swp | PTE_P), VMSIM_OK);
    unsigned level = 0;
    assert_int_equal(pt_lookup(p, 0, 0x1000, &level), swp | PTE_LEAF); /* never present */
    assert_int_equal(level, 1);
    struct walk w;
    pt_walk(p, 0, 0x1000, NULL, &w);
    assert_int_equal(w.pte, swp | PTE_LEAF); /* no accessed bit on a swap entry */
    assert_int_equal(w.level, 1);
    assert_int_equal(w.ref[w.nrefs - 1].pa, 80 * 4096); /* overflow entry 0, pool frame 80 */
    assert_int_equal(overflow_bytes(f), 4096);
    assert_int_equal(f->phys.used, 81);

    /* present, then swapped out in place */
    assert_int_equal(pt_map(p, 0, 0x2000, 1, leaf(200)), VMSIM_OK);
    const uint64_t swp2 = (9ull << PTE_PFN_SHIFT) | PTE_SWAP;
    assert_int_equal(pt_update(p, 0, 0x2000, swp2, ~swp2), VMSIM_OK);
    assert_int_equal(pt_lookup(p, 0, 0x2000, NULL), swp2 | PTE_LEAF);
    pt_walk(p, 0, 0x2000, NULL, &w);
    assert_int_equal(w.pte, swp2 | PTE_LEAF);
    assert_int_equal(w.ref[w.nrefs - 1].pa, 200 * 16); /* parked in frame entry 200 */

    /* frame 200 mapped again: the parked entry moves to overflow */
    assert_int_equal(pt_map(p, 0, 0x3000, 1, leaf(200)), VMSIM_OK);
    pt_walk(p, 0, 0x3000, NULL, &w);
    assert_int_equal(w.ref[w.nrefs - 1].pa, 200 * 16);
    pt_walk(p, 0, 0x2000, NULL, &w);
    assert_int_equal(w.pte, swp2 | PTE_LEAF);
    assert_int_equal(w.ref[w.nrefs - 1].pa >> 12, 80);

    /* swap in: the present leaf replaces the swap entry, in frame entry 300 */
    assert_int_equal(pt_map(p, 0, 0x1000, 1, leaf(300)), VMSIM_OK);
    assert_int_equal(pt_lookup(p, 0, 0x1000, NULL), stored(leaf(300)));
    pt_walk(p, 0, 0x1000, NULL, &w);
    assert_int_equal(w.ref[w.nrefs - 1].pa, 300 * 16);
    uint64_t old;
    assert_int_equal(pt_unmap(p, 0, 0x2000, &old), VMSIM_OK);
    assert_int_equal(old, swp2 | PTE_LEAF);
    assert_int_equal(overflow_bytes(f), 0); /* the pool frame went back */
    assert_int_equal(f->phys.used, 80);
    pt_destroy(p);
    fx_free(f);
}

/* Same virtual page in two spaces, different frames: the tag tells them
 * apart, also when both sit on one chain (anchors=1). */
static void test_homonyms(void **state)
{
    const char *params[] = {"", "anchors=1"};
    for (unsigned t = 0; t < 2; t++) {
        struct fx *f = fx_new("x86-64", 64 * MIB, params[t]);
        struct pt *a = fx_space(f), *b = fx_space(f);
        assert_int_equal(pt_map(a, 0, 0x5000, 1, leaf(100)), VMSIM_OK);
        assert_int_equal(pt_map(b, 0, 0x5000, 1, leaf(200)), VMSIM_OK);
        assert_int_equal(pt_lookup(a, 0, 0x5000, NULL), stored(leaf(100)));
        assert_int_equal(pt_lookup(b, 0, 0x5000, NULL), stored(leaf(200)));
        struct walk w;
        pt_walk(a, 0, 0x5000, NULL, &w);
        assert_int_equal(PTE_PFN(w.pte), 100);
        if (t == 1) /* one chain, newest first: anchor, b's entry, a's entry */
            assert_int_equal(w.nrefs, 3);
        pt_walk(b, 0, 0x5000, NULL, &w);
        assert_int_equal(PTE_PFN(w.pte), 200);
        if (t == 1) {
            assert_int_equal(w.nrefs, 2);
            assert_int_equal(w.ref[0].pa, 64 * 4096); /* the 4-byte anchor block */
            assert_int_equal(w.ref[1].pa, 200 * 16);
        }
        uint64_t old;
        assert_int_equal(pt_unmap(a, 0, 0x5000, &old), VMSIM_OK);
        assert_int_equal(PTE_PFN(old), 100);
        assert_int_equal(pt_lookup(a, 0, 0x5000, NULL), 0);
        assert_int_equal(pt_lookup(b, 0, 0x5000, NULL), stored(leaf(200)) | PTE_A); /* walked */
        pt_destroy(a);
        pt_destroy(b);
        fx_free(f);
    }
}

/* Frame 500 mapped by three spaces at different addresses and
 * permissions: one frame entry, two overflow entries (one pool frame).
 * When the frame entry's mapping goes, a sharer moves up into it. */
static void test_frame_shared_by_three(void **state)
{
    struct fx *f = fx_new("x86-64", 64 * MIB, "");
    struct pt *s[3] = {fx_space(f), fx_space(f), fx_space(f)};
    const uint64_t pte[3] = {(500ull << PTE_PFN_SHIFT) | PTE_U | PTE_W,
                             (500ull << PTE_PFN_SHIFT) | PTE_U,
                             (500ull << PTE_PFN_SHIFT) | PTE_U | PTE_X};
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(pt_map(s[i], 0, 0x1000 * (i + 1), 1, pte[i]), VMSIM_OK);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(pt_lookup(s[i], 0, 0x1000 * (i + 1), NULL), stored(pte[i]));
        for (unsigned j = 0; j < 3; j++)
            if (j != i)
                assert_int_equal(pt_lookup(s[i], 0, 0x1000 * (j + 1), NULL), 0);
    }
    assert_int_equal(overflow_bytes(f), 4096);
    struct vmsim_pt_footprint fp = shared_fp(f);
    assert_int_equal(part(&fp, "frame entries"), 16384 * 16);
    assert_int_equal(part(&fp, "anchors"), 16384 * 4);
    struct walk w;
    pt_walk(s[0], 0, 0x1000, NULL, &w);
    assert_int_equal(w.ref[w.nrefs - 1].pa, 500 * 16);
    for (unsigned i = 1; i < 3; i++) { /* overflow entries 0 and 1 of pool frame 80 */
        pt_walk(s[i], 0, 0x1000 * (i + 1), NULL, &w);
        assert_int_equal(w.ref[w.nrefs - 1].pa, 80 * 4096 + (i - 1) * 24);
    }
    uint64_t old;
    assert_int_equal(pt_unmap(s[0], 0, 0x1000, &old), VMSIM_OK);
    unsigned up = 0;
    for (unsigned i = 1; i < 3; i++) {
        pt_walk(s[i], 0, 0x1000 * (i + 1), NULL, &w);
        assert_int_equal(w.pte, stored(pte[i]) | PTE_A);
        up += w.ref[w.nrefs - 1].pa == 500 * 16;
    }
    assert_int_equal(up, 1);
    assert_int_equal(overflow_bytes(f), 4096);
    pt_destroy(s[1]);
    pt_walk(s[2], 0, 0x3000, NULL, &w);
    assert_int_equal(w.ref[w.nrefs - 1].pa, 500 * 16);
    assert_int_equal(overflow_bytes(f), 0);
    assert_int_equal(f->phys.used, 80);
    pt_destroy(s[0]);
    pt_destroy(s[2]);
    fx_free(f);
}

/* The shared zero frame at 1000 addresses (250 in each of 4 spaces): one
 * frame entry and 999 overflow entries, ceil(999 / 170) = 6 pool frames. */
static void test_zero_frame_1000(void **state)
{
    struct fx *f = fx_new("x86-64", 64 * MIB, "");
    struct pt *s[4];
    const uint64_t z = (7ull << PTE_PFN_SHIFT) | PTE_U | PTE_ZERO;
    for (unsigned j = 0; j < 4; j++) {
        s[j] = fx_space(f);
        for (uint64_t i = 0; i < 250; i++)
            assert_int_equal(pt_map(s[j], 0, 0x10000000 + i * 4096, 1, z), VMSIM_OK);
    }
    for (unsigned j = 0; j < 4; j++)
        for (uint64_t i = 0; i < 250; i++)
            assert_int_equal(pt_lookup(s[j], 0, 0x10000000 + i * 4096, NULL), stored(z));
    assert_int_equal(overflow_bytes(f), 6 * 4096);
    assert_int_equal(f->phys.used, 80 + 6);
    /* 500 go: 499 overflow entries, 3 frames */
    for (unsigned j = 0; j < 2; j++)
        for (uint64_t i = 0; i < 250; i++)
            assert_int_equal(pt_unmap(s[j], 0, 0x10000000 + i * 4096, NULL), VMSIM_OK);
    assert_int_equal(overflow_bytes(f), 3 * 4096);
    for (unsigned j = 2; j < 4; j++)
        for (uint64_t i = 0; i < 250; i++)
            assert_int_equal(pt_lookup(s[j], 0, 0x10000000 + i * 4096, NULL), stored(z));
    pt_destroy(s[2]); /* 250 left: 249 overflow entries, 2 frames */
    assert_int_equal(overflow_bytes(f), 2 * 4096);
    for (uint64_t i = 0; i < 250; i++)
        assert_int_equal(pt_lookup(s[3], 0, 0x10000000 + i * 4096, NULL), stored(z));
    pt_destroy(s[0]);
    pt_destroy(s[1]);
    pt_destroy(s[3]);
    assert_int_equal(overflow_bytes(f), 0);
    fx_free(f);
}

static int count_leaf(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t pte)
{
    vmsim_vaddr_t *last = ctx;
    assert_true(last[1] == 0 || va > last[0]); /* address order */
    last[0] = va;
    last[1]++;
    return 0;
}

/* Destroying one space leaves the others' mappings, and its sharers'
 * entries move up into the frame entries it held. */
static void test_destroy_one_space(void **state)
{
    struct fx *f = fx_new("x86-64", 64 * MIB, "");
    struct pt *a = fx_space(f), *b = fx_space(f);
    for (uint64_t i = 0; i < 100; i++)
        assert_int_equal(pt_map(a, 0, 0x10000000 + i * 4096, 1, leaf(1000 + i)), VMSIM_OK);
    for (uint64_t i = 0; i < 10; i++) {
        assert_int_equal(pt_map(a, 0, 0x20000000 + i * 4096, 1, leaf(2000 + i)), VMSIM_OK);
        assert_int_equal(pt_map(b, 0, 0x30000000 + i * 4096, 1, leaf(2000 + i)), VMSIM_OK);
    }
    for (uint64_t i = 0; i < 5; i++)
        assert_int_equal(pt_map(b, 0, 0x40000000 + i * 4096, 1, leaf(3000 + i)), VMSIM_OK);
    assert_int_equal(overflow_bytes(f), 4096);
    pt_destroy(a);
    assert_int_equal(overflow_bytes(f), 0);
    for (uint64_t i = 0; i < 10; i++)
        assert_int_equal(pt_lookup(b, 0, 0x30000000 + i * 4096, NULL), stored(leaf(2000 + i)));
    for (uint64_t i = 0; i < 5; i++)
        assert_int_equal(pt_lookup(b, 0, 0x40000000 + i * 4096, NULL), stored(leaf(3000 + i)));
    assert_int_equal(pt_lookup(b, 0, 0x10000000, NULL), 0);
    vmsim_vaddr_t c[2] = {0, 0};
    assert_int_equal(pt_visit(b, 0, 0, UINT64_MAX, count_leaf, c), 0);
    assert_int_equal(c[1], 15);
    struct vmsim_pt_footprint fp;
    memset(&fp, 0, sizeof fp);
    pt_footprint(b, &fp);
    assert_int_equal(fp.pages[1], 15);
    assert_int_equal(fp.nparts, 0); /* the table's memory is the shared state's */
    pt_destroy(b);
    fx_free(f);
}

/* Seed 003: the inverted table's size is fixed by physical memory. 1 to 50
 * processes, each with 20 private pages and one shared library page: frame
 * entries (16384 * 16) and anchors (16384 * 4) never change; overflow
 * holds the 0..49 second mappings of the shared frame (one pool frame).
 * The same mappings under radix: per process a root and a PDPT, PD and PT
 * for each of the two regions (PML4 slots 0 and 254): 6 * 4 KiB without
 * the root, growing with every process. */
static void test_size_fixed_by_memory(void **state)
{
    struct fx *f = fx_new("x86-64", 64 * MIB, "");
    struct fx *r = fx_new("x86-64", 64 * MIB, "");
    struct pt *inv[50], *rad[50];
    for (unsigned n = 1; n <= 50; n++) {
        inv[n - 1] = fx_space(f);
        const struct pt_env env = {&r->g, &r->phys, "", NULL, n, &r->counters};
        assert_int_equal(pt_create(&pt_radix_ops, &env, &rad[n - 1]), VMSIM_OK);
        for (uint64_t i = 0; i < 20; i++) {
            const uint64_t pte = leaf(100 + 20 * (n - 1) + i);
            assert_int_equal(pt_map(inv[n - 1], 0, 0x400000 + i * 4096, 1, pte), VMSIM_OK);
            assert_int_equal(pt_map(rad[n - 1], 0, 0x400000 + i * 4096, 1, pte), VMSIM_OK);
        }
        assert_int_equal(pt_map(inv[n - 1], 0, 0x7f0000000000, 1, leaf(5000)), VMSIM_OK);
        assert_int_equal(pt_map(rad[n - 1], 0, 0x7f0000000000, 1, leaf(5000)), VMSIM_OK);

        struct vmsim_pt_footprint fp = shared_fp(f);
        const uint64_t over = n >= 2 ? 4096 : 0;
        assert_int_equal(part(&fp, "frame entries"), 262144);
        assert_int_equal(part(&fp, "anchors"), 65536);
        assert_int_equal(part(&fp, "overflow"), over);
        assert_int_equal(fp.bytes, 262144 + 65536 + over);
        for (unsigned i = 0; i < n; i++)
            pt_footprint(inv[i], &fp);
        assert_int_equal(fp.pages[1], 21 * n);
        assert_int_equal(fp.bytes, 262144 + 65536 + over); /* spaces add no bytes */

        struct vmsim_pt_footprint rf;
        memset(&rf, 0, sizeof rf);
        for (unsigned i = 0; i < n; i++)
            pt_footprint(rad[i], &rf);
        assert_int_equal(rf.bytes, 6 * 4096ull * n);
        assert_int_equal(rf.root_bytes, 4096ull * n);
    }
    for (unsigned n = 0; n < 50; n++) {
        pt_destroy(inv[n]);
        pt_destroy(rad[n]);
    }
    fx_free(f);
    fx_free(r);
}

/* References per walk on hand-made collisions: anchors=1 puts every key on
 * one chain, max=0 keeps the table out of simulated frames, so the
 * addresses are the documented reserved region: frame entries at the end
 * of the 64 MiB memory (0x4000000), the anchor right after the 16384 * 16
 * bytes of entries (0x4040000). Chains are newest first. */
static void test_walk_refs_on_collisions(void **state)
{
    struct fx *f = fx_new("x86-64", 64 * MIB, "anchors=1,max=0");
    struct pt *p = fx_space(f);
    assert_int_equal(f->phys.used, 0);
    const vmsim_paddr_t E = 0x4000000, A = 0x4040000;
    for (uint64_t i = 0; i < 5; i++)
        assert_int_equal(pt_map(p, 0, i * 4096, 1, leaf(100 + i)), VMSIM_OK);
    struct walk w;
    for (unsigned k = 0; k < 5; k++) {
        pt_walk(p, 0, k * 4096ull, NULL, &w);
        assert_int_equal(w.nrefs, 1 + (5 - k)); /* anchor + the entries up to the match */
        assert_int_equal(w.ref[0].pa, A);
        for (unsigned j = 1; j < w.nrefs; j++) {
            assert_int_equal(w.ref[j].pa, E + (104 - (j - 1)) * 16);
            assert_int_equal(w.ref[j].level, 1);
        }
        assert_int_equal(PTE_PFN(w.pte), 100 + k);
    }
    pt_walk(p, 0, 100 * 4096, NULL, &w); /* a miss reads the whole chain */
    assert_int_equal(w.nrefs, 6);
    assert_int_equal(w.pte, 0);

    /* a 2 MiB page in frame 512: the base size is tried first (anchor and
     * 6 entries), then the 2 MiB size (anchor and the head entry) */
    assert_int_equal(pt_map(p, 0, 2 * MIB, 2, leaf(512)), VMSIM_OK);
    pt_walk(p, 0, 2 * MIB + 0x2000, NULL, &w);
    assert_int_equal(w.nrefs, 9);
    assert_int_equal(w.ref[1].pa, E + 512 * 16);
    assert_int_equal(w.ref[6].pa, E + 100 * 16);
    assert_int_equal(w.ref[7].pa, A);
    assert_int_equal(w.ref[7].level, 2);
    assert_int_equal(w.ref[8].pa, E + 512 * 16);
    assert_int_equal(w.level, 2);
    assert_int_equal(PTE_PFN(w.pte), 512);

    /* a chain longer than a walk can record: every reference counted (the
     * anchor, the 100 new entries down to the oldest of them), the first
     * WALK_MAX_REFS recorded */
    for (uint64_t i = 0; i < 100; i++)
        assert_int_equal(pt_map(p, 0, 16 * MIB + i * 4096, 1, leaf(1000 + i)), VMSIM_OK);
    pt_walk(p, 0, 16 * MIB, NULL, &w);
    assert_int_equal(w.nrefs, 1 + 100);
    assert_int_equal(w.ref[WALK_MAX_REFS - 1].pa, E + (1000 + 100 - (WALK_MAX_REFS - 1)) * 16);
    assert_int_equal(PTE_PFN(w.pte), 1000);
    struct vmsim_pt_footprint fp = shared_fp(f);
    assert_int_equal(part(&fp, "anchors"), 4);
    assert_int_equal(part(&fp, "frame entries"), 16384 * 16);
    pt_destroy(p);
    fx_free(f);
}

/* The default 256 GiB machine: 2^26 frames, so 1 GiB of frame entries and
 * 256 MiB of anchors, too much to allocate: no frames, references into the
 * region that starts at the end of memory (2^38). */
static void test_reserved_region(void **state)
{
    struct fx *f = fx_new("x86-64", 256ull << 30, "");
    struct pt *p = fx_space(f);
    assert_int_equal(f->phys.used, 0);
    struct vmsim_pt_footprint fp = shared_fp(f);
    assert_int_equal(part(&fp, "frame entries"), 1ull << 30);
    assert_int_equal(part(&fp, "anchors"), 1ull << 28);
    assert_int_equal(part(&fp, "overflow"), 0);
    assert_int_equal(fp.bytes, (1ull << 30) + (1ull << 28));
    assert_int_equal(pt_map(p, 0, 0x1000, 1, leaf(5)), VMSIM_OK);
    struct walk w;
    pt_walk(p, 0, 0x1000, NULL, &w);
    assert_int_equal(w.nrefs, 2);
    const vmsim_paddr_t end = 1ull << 38;
    assert_true(w.ref[0].pa >= end + (1ull << 30) && w.ref[0].pa < end + (1ull << 30) + (1ull << 28));
    assert_int_equal(w.ref[1].pa, end + 5 * 16);
    pt_destroy(p);
    fx_free(f);
}

/* One entry per huge page, keyed with its size; sizes may not overlap. */
static void test_huge_pages(void **state)
{
    struct fx *f = fx_new("x86-64", 64 * MIB, "");
    struct pt *p = fx_space(f);
    assert_int_equal(pt_map(p, 0, 0x200000, 2, leaf(512)), VMSIM_OK);
    unsigned level = 0;
    assert_int_equal(pt_lookup(p, 0, 0x2ff123, &level), stored(leaf(512)));
    assert_int_equal(level, 2);
    struct walk w;
    pt_walk(p, 0, 0x2ff123, NULL, &w);
    assert_int_equal(w.level, 2);
    assert_int_equal(w.ref[w.nrefs - 1].pa, 512 * 16); /* the head frame's entry */
    assert_int_equal(pt_map(p, 0, 0x201000, 1, leaf(7)), VMSIM_EEXIST); /* inside a 2 MiB leaf */
    assert_int_equal(pt_map(p, 0, 0, 3, leaf(0)), VMSIM_EEXIST);        /* a 2 MiB leaf inside */
    assert_int_equal(pt_map(p, 0, 0x400000, 1, leaf(9)), VMSIM_OK);
    assert_int_equal(pt_map(p, 0, 0x400000, 2, leaf(1024)), VMSIM_EEXIST); /* a base page inside */
    assert_int_equal(pt_unmap(p, 0, 0x400000, NULL), VMSIM_OK);
    assert_int_equal(pt_map(p, 0, 0x400000, 2, leaf(1024)), VMSIM_OK);
    assert_int_equal(pt_map(p, 0, 0x200000, 2, leaf(1536)), VMSIM_OK); /* replace */
    assert_int_equal(pt_lookup(p, 0, 0x200000, NULL), stored(leaf(1536)));
    assert_int_equal(pt_map(p, 0, 0x200000, 4, leaf(1536)), VMSIM_EINVAL); /* not a leaf level */
    uint64_t old;
    assert_int_equal(pt_unmap(p, 0, 0x2ff000, &old), VMSIM_OK);
    assert_int_equal(old, stored(leaf(1536)));
    assert_int_equal(pt_lookup(p, 0, 0x200000, NULL), 0);
    assert_int_equal(pt_map(p, 0, 0x201000, 1, leaf(7)), VMSIM_OK);
    struct vmsim_pt_footprint fp;
    memset(&fp, 0, sizeof fp);
    pt_footprint(p, &fp);
    assert_int_equal(fp.pages[1], 1);
    assert_int_equal(fp.pages[2], 1);
    /* a snapshot deposits a leaf table per huge page: none to keep here */
    const uint64_t used = f->phys.used;
    assert_int_equal(pt_deposit(p), VMSIM_OK);
    assert_int_equal(f->phys.used, used);
    pt_destroy(p);
    fx_free(f);
}

struct seen {
    vmsim_vaddr_t va[16];
    unsigned level[16];
    unsigned n, stop;
};

static int record(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t pte)
{
    struct seen *s = ctx;
    s->va[s->n] = va;
    s->level[s->n++] = level;
    return s->stop && s->n == s->stop;
}

/* Visit: this space's leaves only, in address order, in [lo, hi) (a huge
 * leaf counts when it overlaps); a callback's >0 stops it. */
static void test_visit(void **state)
{
    struct fx *f = fx_new("x86-64", 64 * MIB, "anchors=4");
    struct pt *a = fx_space(f), *b = fx_space(f);
    const vmsim_vaddr_t va[] = {0x5000, 0x1000, 0x3000, 0x200000, 0x9000};
    for (unsigned i = 0; i < 5; i++)
        assert_int_equal(pt_map(a, 0, va[i], va[i] == 0x200000 ? 2 : 1, leaf(10 + i)), VMSIM_OK);
    assert_int_equal(pt_map(b, 0, 0x2000, 1, leaf(30)), VMSIM_OK);
    assert_int_equal(pt_map(b, 0, 0x4000, 1, leaf(31)), VMSIM_OK);
    struct seen s = {0};
    assert_int_equal(pt_visit(a, 0, 0, UINT64_MAX, record, &s), 0);
    const vmsim_vaddr_t all[] = {0x1000, 0x3000, 0x5000, 0x9000, 0x200000};
    assert_int_equal(s.n, 5);
    for (unsigned i = 0; i < 5; i++)
        assert_int_equal(s.va[i], all[i]);
    assert_int_equal(s.level[4], 2);
    s = (struct seen){0};
    assert_int_equal(pt_visit(a, 0, 0x2000, 0x6000, record, &s), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.va[0], 0x3000);
    assert_int_equal(s.va[1], 0x5000);
    s = (struct seen){0};
    assert_int_equal(pt_visit(a, 0, 0x201000, 0x202000, record, &s), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.va[0], 0x200000);
    s = (struct seen){.stop = 2};
    assert_int_equal(pt_visit(a, 0, 0, UINT64_MAX, record, &s), 1);
    assert_int_equal(s.n, 2);
    pt_destroy(a);
    pt_destroy(b);
    fx_free(f);
}

/* Shared state is reported once, through shared_footprint; a stand-alone
 * table (no shared slot) owns it and reports it itself. */
static void test_shared_and_standalone(void **state)
{
    struct fx *f = fx_new("x86-64", 64 * MIB, "");
    struct pt *a = fx_space(f), *b = fx_space(f);
    assert_int_equal(f->phys.used, 80); /* created once */
    struct vmsim_pt_footprint fp;
    memset(&fp, 0, sizeof fp);
    pt_footprint(a, &fp);
    pt_footprint(b, &fp);
    assert_int_equal(fp.nparts, 0);
    assert_int_equal(fp.bytes, 0);
    pt_destroy(a);
    pt_destroy(b);
    assert_int_equal(f->phys.used, 80); /* lives until shared_destroy */
    fx_free(f);

    struct fx *g = fx_new("x86-64", 64 * MIB, "");
    static struct pt_counters counters;
    const struct pt_env env = {&g->g, &g->phys, "", NULL, 1, &counters};
    struct pt *p;
    assert_int_equal(pt_create(&pt_inverted_ops, &env, &p), VMSIM_OK);
    memset(&fp, 0, sizeof fp);
    pt_footprint(p, &fp);
    assert_int_equal(part(&fp, "frame entries"), 262144);
    assert_int_equal(fp.bytes, 262144 + 65536);
    pt_destroy(p);
    fx_free(g); /* phys.used == 0: the table went with its only space */
}

/* Out of simulated frames: creating the table, or a pool frame for a
 * second mapping, fails cleanly and changes nothing. 1 MiB of memory: 256
 * frames; the table is one frame of entries (256 * 16) and one of anchors
 * (256 * 4). */
static void test_out_of_frames(void **state)
{
    struct fx *f = fx_new("x86-64", 1 * MIB, "");
    vmsim_pfn_t d[256];
    for (unsigned i = 0; i < 256; i++)
        assert_int_equal(phys_alloc(&f->phys, 0, 0, &d[i]), VMSIM_OK);
    const struct pt_env env = {&f->g, &f->phys, "", &f->shared, 1, &f->counters};
    struct pt *p = NULL;
    assert_int_equal(pt_create(&pt_inverted_ops, &env, &p), VMSIM_ENOFRAME);
    phys_put(&f->phys, d[255]);
    assert_int_equal(pt_create(&pt_inverted_ops, &env, &p), VMSIM_ENOFRAME); /* anchors */
    assert_int_equal(f->phys.used, 255);
    assert_null(f->shared);
    phys_put(&f->phys, d[254]);
    struct pt *a = fx_space(f), *b = fx_space(f);
    assert_int_equal(f->phys.used, 256);
    assert_int_equal(pt_map(a, 0, 0x1000, 1, leaf(d[0])), VMSIM_OK); /* its frame entry */
    assert_int_equal(pt_map(b, 0, 0x1000, 1, leaf(d[0])), VMSIM_ENOFRAME);
    assert_int_equal(pt_lookup(b, 0, 0x1000, NULL), 0);
    assert_int_equal(pt_lookup(a, 0, 0x1000, NULL), stored(leaf(d[0])));
    assert_int_equal(overflow_bytes(f), 0);
    phys_put(&f->phys, d[1]);
    assert_int_equal(pt_map(b, 0, 0x1000, 1, leaf(d[0])), VMSIM_OK);
    assert_int_equal(overflow_bytes(f), 4096);
    assert_int_equal(pt_lookup(b, 0, 0x1000, NULL), stored(leaf(d[0])));
    pt_destroy(a);
    pt_destroy(b);
    for (unsigned i = 0; i < 254; i++)
        if (i != 1)
            phys_put(&f->phys, d[i]);
    fx_free(f);
}

struct reclaimer {
    struct pt *victim;
    struct phys *phys;
    vmsim_pfn_t *d;
    unsigned calls;
};

/* Like the kernel's reclaim: swap one page out in place, drop another and
 * free its frame. It runs inside the map() that asked for a pool frame. */
static int reclaim_two(void *ctx)
{
    struct reclaimer *r = ctx;
    r->calls++;
    const uint64_t swp = (3ull << PTE_PFN_SHIFT) | PTE_SWAP;
    assert_int_equal(pt_update(r->victim, 0, 0x6000, swp, ~swp), VMSIM_OK);
    assert_int_equal(pt_unmap(r->victim, 0, 0x7000, NULL), VMSIM_OK);
    phys_put(r->phys, r->d[6]);
    return VMSIM_OK;
}

static void test_reclaim_inside_map(void **state)
{
    struct fx *f = fx_new("x86-64", 1 * MIB, "");
    struct pt *a = fx_space(f), *b = fx_space(f);
    vmsim_pfn_t d[254];
    for (unsigned i = 0; i < 254; i++)
        assert_int_equal(phys_alloc(&f->phys, 0, 0, &d[i]), VMSIM_OK);
    for (unsigned i = 0; i < 10; i++)
        assert_int_equal(pt_map(a, 0, 0x1000 * (i + 1), 1, leaf(d[i])), VMSIM_OK);
    struct reclaimer r = {a, &f->phys, d, 0};
    f->phys.reclaim = reclaim_two;
    f->phys.reclaim_ctx = &r;
    assert_int_equal(pt_map(b, 0, 0x1000, 1, leaf(d[0])), VMSIM_OK);
    assert_int_equal(r.calls, 1);
    f->phys.reclaim = NULL;
    assert_int_equal(pt_lookup(b, 0, 0x1000, NULL), stored(leaf(d[0])));
    assert_int_equal(pt_lookup(a, 0, 0x6000, NULL), (3ull << PTE_PFN_SHIFT) | PTE_SWAP | PTE_LEAF);
    assert_int_equal(pt_lookup(a, 0, 0x7000, NULL), 0);
    for (unsigned i = 0; i < 10; i++)
        if (i != 5 && i != 6)
            assert_int_equal(pt_lookup(a, 0, 0x1000 * (i + 1), NULL), stored(leaf(d[i])));
    assert_int_equal(overflow_bytes(f), 4096);
    pt_destroy(a);
    pt_destroy(b);
    for (unsigned i = 0; i < 254; i++)
        if (i != 6)
            phys_put(&f->phys, d[i]);
    fx_free(f);
}

static void test_options(void **state)
{
    char why[128];
    assert_int_equal(pt_inverted_ops.check("", why, sizeof why), VMSIM_OK);
    assert_int_equal(pt_inverted_ops.check("anchors=1024,max=1m", why, sizeof why), VMSIM_OK);
    assert_int_equal(pt_inverted_ops.check("anchors=3", why, sizeof why), VMSIM_EINVAL);
    assert_int_equal(pt_inverted_ops.check("anchors=0", why, sizeof why), VMSIM_EINVAL);
    assert_int_equal(pt_inverted_ops.check("anchors=2g", why, sizeof why), VMSIM_OK);
    assert_int_equal(pt_inverted_ops.check("anchors=4g", why, sizeof why), VMSIM_EINVAL);
    assert_int_equal(pt_inverted_ops.check("anchors", why, sizeof why), VMSIM_EINVAL);
    assert_int_equal(pt_inverted_ops.check("max=lots", why, sizeof why), VMSIM_EINVAL);
    assert_int_equal(pt_inverted_ops.check("bogus=1", why, sizeof why), VMSIM_EINVAL);
    assert_non_null(strstr(why, "bogus"));
    struct fx *f = fx_new("x86-64", 64 * MIB, "anchors=5");
    const struct pt_env env = {&f->g, &f->phys, f->params, &f->shared, 1, &f->counters};
    struct pt *p;
    assert_int_equal(pt_create(&pt_inverted_ops, &env, &p), VMSIM_EINVAL);
    fx_free(f);
}

/* ---- differential test ---------------------------------------------- */

/* The trivially correct model: a list of (space, page, size, entry). */
struct rec {
    unsigned sp;
    vmsim_vaddr_t va;
    unsigned level;
    uint64_t pte;
};

struct model {
    struct rec r[4096];
    unsigned n;
};

static uint64_t size_of(unsigned level) { return level == 1 ? 4096 : 2 * MIB; }

static int model_find(const struct model *m, unsigned sp, vmsim_vaddr_t va)
{
    for (unsigned i = 0; i < m->n; i++)
        if (m->r[i].sp == sp && va >= m->r[i].va && va < m->r[i].va + size_of(m->r[i].level))
            return (int)i;
    return -1;
}

static void model_del(struct model *m, unsigned i) { m->r[i] = m->r[--m->n]; }

static int rec_cmp(const void *x, const void *y)
{
    const struct rec *a = x, *b = y;
    return a->va < b->va ? -1 : a->va > b->va;
}

struct collect {
    struct rec r[4096];
    unsigned n;
};

static int collect(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t pte)
{
    struct collect *c = ctx;
    c->r[c->n++] = (struct rec){0, va, level, pte};
    return 0;
}

static void check_all(struct pt **sp, const struct model *m, struct collect *c)
{
    for (unsigned i = 0; i < m->n; i++) {
        unsigned level = 0;
        assert_int_equal(pt_lookup(sp[m->r[i].sp], 0, m->r[i].va, &level), m->r[i].pte);
        assert_int_equal(level, m->r[i].level);
    }
    for (unsigned s = 0; s < 4; s++) {
        struct rec want[4096];
        unsigned n = 0;
        for (unsigned i = 0; i < m->n; i++)
            if (m->r[i].sp == s)
                want[n++] = m->r[i];
        qsort(want, n, sizeof want[0], rec_cmp);
        c->n = 0;
        assert_int_equal(pt_visit(sp[s], 0, 0, UINT64_MAX, collect, c), 0);
        assert_int_equal(c->n, n);
        for (unsigned i = 0; i < n; i++) {
            assert_int_equal(c->r[i].va, want[i].va);
            assert_int_equal(c->r[i].level, want[i].level);
            assert_int_equal(c->r[i].pte, want[i].pte);
        }
    }
}

/* Random map, unmap, update (bits, swap out, swap in), walk and space
 * destruction over 4 spaces, 1024 pages and 2 huge pages each, 48 frames
 * (so frames are shared often) and a small anchor table (long chains),
 * against the model: same entries, same errors, same visits. Every walk
 * reference lies in the table's frames (FRAME_PT, or the first 20 frames:
 * the 16 of entries and the anchor block). */
static void run_differential(const char *params, uint64_t seed)
{
    struct fx *f = fx_new("x86-64", 16 * MIB, params);
    struct pt *sp[4];
    for (unsigned s = 0; s < 4; s++)
        sp[s] = fx_space(f);
    struct model *m = calloc(1, sizeof *m);
    struct collect *c = calloc(1, sizeof *c);
    struct rng rng;
    rng_seed(&rng, seed);
    for (unsigned step = 0; step < 30000; step++) {
        const unsigned s = (unsigned)rng_below(&rng, 4), op = (unsigned)rng_below(&rng, 100);
        const vmsim_vaddr_t va = rng_below(&rng, 1024) << 12;
        const int at = model_find(m, s, va);
        if (op < 45) { /* map */
            const unsigned level = rng_below(&rng, 10) == 0 ? 2 : 1;
            const vmsim_vaddr_t page = level == 1 ? va : rng_below(&rng, 2) << 21;
            uint64_t pte;
            if (rng_below(&rng, 7) == 0)
                pte = (rng_below(&rng, 100) << PTE_PFN_SHIFT) | PTE_SWAP | PTE_U;
            else
                pte = ((3000 + rng_below(&rng, 48)) << PTE_PFN_SHIFT) | PTE_U |
                      (rng_below(&rng, 2) ? PTE_W : 0) | (rng_below(&rng, 2) ? PTE_D : 0);
            const uint64_t want = (pte & PTE_SWAP) ? (pte | PTE_LEAF) & ~PTE_P : pte | PTE_P | PTE_LEAF;
            int clash = 0, same = -1;
            for (unsigned i = 0; i < m->n; i++) {
                const struct rec *r = &m->r[i];
                if (r->sp != s || r->va >= page + size_of(level) || r->va + size_of(r->level) <= page)
                    continue;
                if (r->level == level)
                    same = (int)i;
                else
                    clash = 1;
            }
            const int rc = pt_map(sp[s], 0, page, level, pte);
            if (clash) {
                assert_int_equal(rc, VMSIM_EEXIST);
            } else {
                assert_int_equal(rc, VMSIM_OK);
                if (same >= 0)
                    m->r[same].pte = want;
                else
                    m->r[m->n++] = (struct rec){s, page, level, want};
            }
        } else if (op < 60) { /* unmap */
            uint64_t old = 1;
            const int rc = pt_unmap(sp[s], 0, va, &old);
            if (at < 0) {
                assert_int_equal(rc, VMSIM_ENOENT);
                assert_int_equal(old, 0);
            } else {
                assert_int_equal(rc, VMSIM_OK);
                assert_int_equal(old, m->r[at].pte);
                model_del(m, (unsigned)at);
            }
        } else if (op < 85) { /* update */
            uint64_t set, clear;
            const unsigned kind = (unsigned)rng_below(&rng, 3);
            if (kind == 0) {
                const uint64_t bits[] = {PTE_W, PTE_D, PTE_A, PTE_X};
                set = bits[rng_below(&rng, 4)];
                clear = bits[rng_below(&rng, 4)] & ~set;
            } else if (kind == 1) { /* swap out in place, as reclaim does */
                set = (rng_below(&rng, 100) << PTE_PFN_SHIFT) | PTE_SWAP;
                clear = ~set;
            } else { /* present again, in another frame */
                set = ((3000 + rng_below(&rng, 48)) << PTE_PFN_SHIFT) | PTE_P | PTE_U;
                clear = ~set;
            }
            const int rc = pt_update(sp[s], 0, va, set, clear);
            if (at < 0) {
                assert_int_equal(rc, VMSIM_ENOENT);
            } else {
                assert_int_equal(rc, VMSIM_OK);
                m->r[at].pte = ((m->r[at].pte | set) & ~clear) | PTE_LEAF;
            }
        } else if (op < 99) { /* walk */
            struct walk w;
            const vmsim_vaddr_t a = rng_below(&rng, 8) ? va : rng_below(&rng, 2) << 21;
            const int i = model_find(m, s, a);
            pt_walk(sp[s], 0, a, NULL, &w);
            assert_int_equal(w.top, 0);
            if (i < 0) {
                assert_int_equal(w.pte, 0);
            } else {
                if (m->r[i].pte & PTE_P)
                    m->r[i].pte |= PTE_A;
                assert_int_equal(w.pte, m->r[i].pte);
                assert_int_equal(w.level, m->r[i].level);
            }
            assert_true(w.nrefs >= 1);
            for (unsigned j = 0; j < w.nrefs && j < WALK_MAX_REFS; j++) {
                const vmsim_pfn_t pfn = w.ref[j].pa >> 12;
                assert_true(pfn < 20 || (phys_frame(&f->phys, pfn)->flags & FRAME_PT));
            }
        } else { /* the space ends; a new one takes its place */
            pt_destroy(sp[s]);
            for (unsigned i = m->n; i-- > 0;)
                if (m->r[i].sp == s)
                    model_del(m, i);
            sp[s] = fx_space(f);
        }
        for (unsigned t = 0; t < 4; t++) {
            const int i = model_find(m, t, va);
            assert_int_equal(pt_lookup(sp[t], 0, va, NULL), i < 0 ? 0 : m->r[i].pte);
        }
        if (step % 500 == 0)
            check_all(sp, m, c);
    }
    check_all(sp, m, c);
    for (unsigned s = 0; s < 4; s++)
        pt_destroy(sp[s]);
    assert_int_equal(overflow_bytes(f), 0);
    free(m);
    free(c);
    fx_free(f);
}

static void test_differential(void **state)
{
    run_differential("anchors=8", 1);
    run_differential("", 2);
    run_differential("anchors=1", 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_find_update_unmap),
        cmocka_unit_test(test_swap_entries),
        cmocka_unit_test(test_homonyms),
        cmocka_unit_test(test_frame_shared_by_three),
        cmocka_unit_test(test_zero_frame_1000),
        cmocka_unit_test(test_destroy_one_space),
        cmocka_unit_test(test_size_fixed_by_memory),
        cmocka_unit_test(test_walk_refs_on_collisions),
        cmocka_unit_test(test_reserved_region),
        cmocka_unit_test(test_huge_pages),
        cmocka_unit_test(test_visit),
        cmocka_unit_test(test_shared_and_standalone),
        cmocka_unit_test(test_out_of_frames),
        cmocka_unit_test(test_reclaim_inside_map),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_differential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
