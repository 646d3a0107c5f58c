/* The clustered page table on its own: entries, swap entries, huge-page
 * nodes, reference counts of hand-built chains, node counts and bytes of
 * dense and sparse layouts, resizing, options, running out of frames, and
 * a differential run against a plain array. Expected numbers come from the
 * layout in clustered.c's header: node = 8 (tag) + 8 (next) + cluster x 8
 * bytes (144 for 16), 28 nodes per 4 KiB frame, 512 bucket heads per frame;
 * a walk reads the bucket, each node of the chain up to the match, then the
 * entry slot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phys/phys.h"
#include "pt/pt.h"
#include "testutil.h"

extern const struct pt_ops pt_clustered_ops;

struct fx {
    struct vmsim_geometry g;
    struct phys phys;
    struct pt_counters counters;
    struct pt *pt;
};

static struct fx *fx_try(const char *params, uint64_t phys_bytes, int *rc)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(vmsim_geometry_preset("x86-64", &f->g), VMSIM_OK);
    assert_int_equal(phys_init(&f->phys, phys_bytes, f->g.page_shift), VMSIM_OK);
    const struct pt_env env = {&f->g, &f->phys, params, NULL, 1, &f->counters};
    *rc = pt_create(&pt_clustered_ops, &env, &f->pt);
    return f;
}

static struct fx *fx_new(const char *params)
{
    int rc;
    struct fx *f = fx_try(params, 1ull << 30, &rc);
    assert_int_equal(rc, VMSIM_OK);
    return f;
}

/* Destroy and check that every frame came back. */
static void fx_free(struct fx *f)
{
    pt_destroy(f->pt);
    assert_int_equal(f->phys.used, 0);
    phys_fini(&f->phys);
    free(f);
}

static uint64_t leaf(uint64_t pfn) { return (pfn << PTE_PFN_SHIFT) | PTE_W | PTE_U; }

static struct vmsim_pt_footprint fp_of(struct fx *f)
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
    return UINT64_MAX;
}

#define BLOCK 0x10000ull /* 16 pages of 4 KiB */

static void test_map_find_update_unmap(void **state)
{
    struct fx *f = fx_new("");
    const vmsim_vaddr_t va = 0x7f1234567000ull;
    assert_int_equal(pt_map(f->pt, 0, va, 1, leaf(42)), VMSIM_OK);
    unsigned level = 0;
    uint64_t e = pt_lookup(f->pt, 0, va + 0x123, &level);
    assert_int_equal(level, 1);
    assert_int_equal(e, leaf(42) | PTE_P | PTE_LEAF);
    assert_int_equal(pt_lookup(f->pt, 0, va + 0x1000, NULL), 0);
    assert_int_equal(pt_lookup(f->pt, 0, va - 0x1000, NULL), 0);
    /* lookup has no side effects; a walk sets the accessed bit */
    assert_int_equal(pt_lookup(f->pt, 0, va, NULL) & PTE_A, 0);
    struct walk w;
    pt_walk(f->pt, 0, va, NULL, &w);
    assert_int_equal(w.pte, leaf(42) | PTE_P | PTE_LEAF | PTE_A);
    assert_int_equal(w.level, 1);
    assert_int_equal(w.top, 0);
    assert_int_equal(w.nrefs, 3); /* bucket, node, slot */
    assert_true(pt_lookup(f->pt, 0, va, NULL) & PTE_A);
    /* update: set D, clear W */
    assert_int_equal(pt_update(f->pt, 0, va, PTE_D, PTE_W), VMSIM_OK);
    e = pt_lookup(f->pt, 0, va, NULL);
    assert_true(e & PTE_D);
    assert_false(e & PTE_W);
    assert_int_equal(pt_update(f->pt, 0, va + 0x1000, PTE_D, 0), VMSIM_ENOENT);
    /* same-size replace */
    assert_int_equal(pt_map(f->pt, 0, va, 1, leaf(43)), VMSIM_OK);
    assert_int_equal(PTE_PFN(pt_lookup(f->pt, 0, va, NULL)), 43);
    assert_int_equal(fp_of(f).pages[1], 1);
    uint64_t old = 0;
    assert_int_equal(pt_unmap(f->pt, 0, va, &old), VMSIM_OK);
    assert_int_equal(old, leaf(43) | PTE_P | PTE_LEAF);
    assert_int_equal(pt_unmap(f->pt, 0, va, &old), VMSIM_ENOENT);
    assert_int_equal(old, 0);
    pt_walk(f->pt, 0, va, NULL, &w);
    assert_int_equal(w.pte, 0);
    assert_int_equal(w.nrefs, 1); /* the node went with its last entry: an empty bucket */
    struct vmsim_pt_footprint fp = fp_of(f);
    assert_int_equal(part(&fp, "nodes"), 0);
    assert_int_equal(fp.pages[1], 0);
    fx_free(f);
}

/* A swap entry is a non-present leaf, kept and found again. */
static void test_swap_entries(void **state)
{
    struct fx *f = fx_new("");
    const vmsim_vaddr_t va = 0x500000;
    const uint64_t swp = (77ull << PTE_PFN_SHIFT) | PTE_SWAP | PTE_W | PTE_U;
    assert_int_equal(pt_map(f->pt, 0, va, 1, swp), VMSIM_OK);
    unsigned level;
    uint64_t e = pt_lookup(f->pt, 0, va, &level);
    assert_int_equal(e, swp | PTE_LEAF);
    assert_false(e & PTE_P);
    struct walk w;
    pt_walk(f->pt, 0, va, NULL, &w);
    assert_int_equal(w.pte, swp | PTE_LEAF); /* no accessed bit on a non-present entry */
    assert_int_equal(w.nrefs, 3);
    assert_int_equal(fp_of(f).pages[1], 1);
    /* it comes back */
    assert_int_equal(pt_map(f->pt, 0, va, 1, leaf(5)), VMSIM_OK);
    assert_int_equal(pt_lookup(f->pt, 0, va, NULL), leaf(5) | PTE_P | PTE_LEAF);
    /* and goes out through update, as the kernel's reclaim does */
    assert_int_equal(pt_update(f->pt, 0, va, swp, ~swp), VMSIM_OK);
    assert_int_equal(pt_lookup(f->pt, 0, va, NULL), swp | PTE_LEAF);
    uint64_t old;
    assert_int_equal(pt_unmap(f->pt, 0, va, &old), VMSIM_OK);
    assert_int_equal(old, swp | PTE_LEAF);
    fx_free(f);
}

/* Tables are per address space: the same page in two spaces maps two
 * frames; destroying one leaves the other whole. */
static void test_homonyms_and_destroy(void **state)
{
    struct fx *f = fx_new("");
    struct pt *other;
    const struct pt_env env = {&f->g, &f->phys, "", NULL, 2, &f->counters};
    assert_int_equal(pt_create(&pt_clustered_ops, &env, &other), VMSIM_OK);
    for (unsigned i = 0; i < 40; i++) {
        assert_int_equal(pt_map(f->pt, 0, 0x400000 + i * 0x1000ull, 1, leaf(100 + i)), VMSIM_OK);
        assert_int_equal(pt_map(other, 0, 0x400000 + i * 0x1000ull, 1, leaf(200 + i)), VMSIM_OK);
    }
    struct walk w;
    pt_walk(other, 0, 0x400000 + 7 * 0x1000, NULL, &w);
    assert_int_equal(PTE_PFN(w.pte), 207);
    pt_destroy(other);
    for (unsigned i = 0; i < 40; i++)
        assert_int_equal(PTE_PFN(pt_lookup(f->pt, 0, 0x400000 + i * 0x1000ull, NULL)), 100 + i);
    fx_free(f);
}

/* hash=mod, 4 buckets: blocks 0, 4 and 8 share bucket 0; new nodes go to
 * the head, so its chain reads 8, 4, 0. Nodes come from one frame, in
 * allocation order: block 0 at +0, block 4 at +144, block 8 at +288. */
static void test_chain_references(void **state)
{
    struct fx *f = fx_new("buckets=4,hash=mod,load=0");
    assert_int_equal(pt_map(f->pt, 0, 0 * BLOCK + 3 * 0x1000, 1, leaf(1)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, 4 * BLOCK + 0 * 0x1000, 1, leaf(2)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, 8 * BLOCK + 15 * 0x1000, 1, leaf(3)), VMSIM_OK);
    struct walk w, w8, w1;
    /* block 0, slot 3: bucket + 3 nodes + slot */
    pt_walk(f->pt, 0, 3 * 0x1000, NULL, &w);
    assert_int_equal(w.nrefs, 5);
    assert_int_equal(PTE_PFN(w.pte), 1);
    const vmsim_paddr_t n0 = w.ref[3].pa, n4 = w.ref[2].pa, n8 = w.ref[1].pa;
    assert_int_equal(n4 - n0, 144);
    assert_int_equal(n8 - n0, 288);
    assert_int_equal(n0 % 4096, 0);
    assert_int_equal(w.ref[4].pa, n0 + 16 + 3 * 8);
    /* block 8 at the head: bucket + node + slot 15 */
    pt_walk(f->pt, 0, 8 * BLOCK + 15 * 0x1000, NULL, &w8);
    assert_int_equal(w8.nrefs, 3);
    assert_int_equal(w8.ref[0].pa, w.ref[0].pa);
    assert_int_equal(w8.ref[2].pa, n8 + 16 + 15 * 8);
    assert_int_equal(PTE_PFN(w8.pte), 3);
    /* block 12 is not there: bucket + the whole chain */
    pt_walk(f->pt, 0, 12 * BLOCK, NULL, &w);
    assert_int_equal(w.nrefs, 4);
    assert_int_equal(w.pte, 0);
    /* block 0's node is there, slot 1 empty: the slot is still read */
    pt_walk(f->pt, 0, 1 * 0x1000, NULL, &w);
    assert_int_equal(w.nrefs, 5);
    assert_int_equal(w.pte, 0);
    /* block 1: bucket 1, the next head, empty */
    pt_walk(f->pt, 0, 1 * BLOCK, NULL, &w1);
    assert_int_equal(w1.nrefs, 1);
    assert_int_equal(w1.ref[0].pa, w8.ref[0].pa + 8);
    /* the middle node goes: the chain is 8, 0 */
    assert_int_equal(pt_unmap(f->pt, 0, 4 * BLOCK, NULL), VMSIM_OK);
    pt_walk(f->pt, 0, 3 * 0x1000, NULL, &w);
    assert_int_equal(w.nrefs, 4);
    assert_int_equal(w.ref[2].pa, n0);
    fx_free(f);
}

/* hash=fold with 4 buckets XORs the block number's 2-bit fields: block 5
 * (01 01) lands with block 0 in bucket 0, block 12 (11 00) with block 3. */
static void test_fold_hash(void **state)
{
    struct fx *f = fx_new("buckets=4,load=0");
    assert_int_equal(pt_map(f->pt, 0, 0 * BLOCK, 1, leaf(1)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, 5 * BLOCK, 1, leaf(2)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, 3 * BLOCK, 1, leaf(3)), VMSIM_OK);
    struct walk w;
    pt_walk(f->pt, 0, 0, NULL, &w);
    assert_int_equal(w.nrefs, 4); /* bucket, node 5, node 0, slot */
    pt_walk(f->pt, 0, 12 * BLOCK, NULL, &w);
    assert_int_equal(w.nrefs, 2); /* bucket 3, node 3 */
    assert_int_equal(w.pte, 0);
    pt_walk(f->pt, 0, 1 * BLOCK, NULL, &w);
    assert_int_equal(w.nrefs, 1);
    fx_free(f);
}

/* Dense blocks amortize the tag, sparse ones waste slots. Defaults: 1024
 * buckets = 8 KiB (two frames), 144-byte nodes. */
static void test_footprint_dense_sparse(void **state)
{
    struct fx *f = fx_new("");
    assert_int_equal(f->phys.used, 2);
    /* 16 consecutive pages of one block: one node */
    for (unsigned i = 0; i < 16; i++)
        assert_int_equal(pt_map(f->pt, 0, 0x10000000 + i * 0x1000ull, 1, leaf(i)), VMSIM_OK);
    struct vmsim_pt_footprint fp = fp_of(f);
    assert_int_equal(part(&fp, "buckets"), 8192);
    assert_int_equal(part(&fp, "nodes"), 144);
    assert_int_equal(fp.bytes, 8192 + 144);
    assert_int_equal(fp.root_bytes, 0);
    assert_int_equal(fp.pages[1], 16);
    assert_int_equal(f->phys.used, 3);
    /* 16 pages 64 KiB apart: a node each, 15 empty slots in each */
    for (unsigned i = 0; i < 16; i++)
        assert_int_equal(pt_map(f->pt, 0, 0x20000000 + i * BLOCK, 1, leaf(i)), VMSIM_OK);
    fp = fp_of(f);
    assert_int_equal(part(&fp, "nodes"), 144 + 16 * 144);
    assert_int_equal(fp.pages[1], 32);
    /* 16 consecutive pages from the middle of a block: two nodes */
    for (unsigned i = 0; i < 16; i++)
        assert_int_equal(pt_map(f->pt, 0, 0x30008000 + i * 0x1000ull, 1, leaf(i)), VMSIM_OK);
    fp = fp_of(f);
    assert_int_equal(part(&fp, "nodes"), 19 * 144);
    /* 19 nodes fit one frame (28 per frame); 10 more need a second */
    assert_int_equal(f->phys.used, 3);
    for (unsigned i = 0; i < 10; i++)
        assert_int_equal(pt_map(f->pt, 0, 0x40000000 + i * BLOCK, 1, leaf(i)), VMSIM_OK);
    assert_int_equal(f->phys.used, 4);
    /* the 29th node's frame goes back with it */
    assert_int_equal(pt_unmap(f->pt, 0, 0x40000000 + 9 * BLOCK, NULL), VMSIM_OK);
    assert_int_equal(f->phys.used, 3);
    fx_free(f);
    /* cluster=4: 16 consecutive pages take 4 nodes of 16 + 4 x 8 = 48 bytes */
    f = fx_new("cluster=4");
    for (unsigned i = 0; i < 16; i++)
        assert_int_equal(pt_map(f->pt, 0, 0x10000000 + i * 0x1000ull, 1, leaf(i)), VMSIM_OK);
    fp = fp_of(f);
    assert_int_equal(part(&fp, "nodes"), 4 * 48);
    fx_free(f);
}

/* Huge pages are nodes of their own: tag, next, one entry (24 bytes),
 * keyed by the huge-page number. */
static void test_huge_pages(void **state)
{
    struct fx *f = fx_new("");
    const vmsim_vaddr_t g1 = 0x40000000;
    assert_int_equal(pt_map(f->pt, 0, g1, 2, leaf(512)), VMSIM_OK);
    unsigned level;
    assert_int_equal(PTE_PFN(pt_lookup(f->pt, 0, g1 + 0x1234, &level)), 512);
    assert_int_equal(level, 2);
    /* base probe: block 0x4000 folds to bucket 16, empty (1); 2 MiB probe:
     * number 512, bucket 512: bucket, node, entry (3) */
    struct walk w;
    pt_walk(f->pt, 0, g1 + 0x1234, NULL, &w);
    assert_int_equal(w.nrefs, 4);
    assert_int_equal(w.level, 2);
    assert_int_equal(w.ref[3].pa, w.ref[2].pa + 16);
    assert_int_equal(w.ref[2].pa % 4096, 0);
    assert_true(w.pte & PTE_A);
    struct vmsim_pt_footprint fp = fp_of(f);
    assert_int_equal(part(&fp, "nodes"), 24);
    assert_int_equal(fp.pages[2], 1);
    /* another size covers the address: refused */
    assert_int_equal(pt_map(f->pt, 0, g1 + 0x5000, 1, leaf(1)), VMSIM_EEXIST);
    assert_int_equal(pt_map(f->pt, 0, g1, 3, leaf(1 << 18)), VMSIM_EEXIST); /* 1 GiB over it */
    /* same size: replaced */
    assert_int_equal(pt_map(f->pt, 0, g1, 2, leaf(1024)), VMSIM_OK);
    assert_int_equal(PTE_PFN(pt_lookup(f->pt, 0, g1, NULL)), 1024);
    assert_int_equal(fp_of(f).pages[2], 1);
    /* base pages in a 2 MiB block keep a huge page out, and a 1 GiB one */
    assert_int_equal(pt_map(f->pt, 0, 0x80000000ull + 0x1f5000, 1, leaf(9)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, 0x80000000ull, 2, leaf(2048)), VMSIM_EEXIST);
    assert_int_equal(pt_map(f->pt, 0, 0x80000000ull, 3, leaf(1 << 18)), VMSIM_EEXIST);
    assert_int_equal(pt_map(f->pt, 0, 0x80200000ull, 2, leaf(2048)), VMSIM_OK);
    /* level 4 is not a leaf level of x86-64 */
    assert_int_equal(pt_map(f->pt, 0, 0, 4, leaf(0)), VMSIM_EINVAL);
    /* unmap through any address inside */
    uint64_t old;
    assert_int_equal(pt_unmap(f->pt, 0, g1 + 0x1ff000, &old), VMSIM_OK);
    assert_int_equal(PTE_PFN(old), 1024);
    assert_int_equal(pt_lookup(f->pt, 0, g1, NULL), 0);
    fp = fp_of(f);
    assert_int_equal(part(&fp, "nodes"), 144 + 24);
    assert_int_equal(fp.pages[2], 1);
    assert_int_equal(fp.pages[1], 1);
    fx_free(f);
}

/* load=1, 2 buckets, hash=mod: the third node doubles the array (3 nodes
 * moved), the fifth doubles it again (5 more). */
static void test_resize(void **state)
{
    struct fx *f = fx_new("buckets=2,load=1,hash=mod");
    for (unsigned b = 0; b < 3; b++)
        assert_int_equal(pt_map(f->pt, 0, b * BLOCK, 1, leaf(b)), VMSIM_OK);
    assert_int_equal(f->counters.resizes, 1);
    assert_int_equal(f->counters.migrated, 3);
    struct vmsim_pt_footprint fp = fp_of(f);
    assert_int_equal(part(&fp, "buckets"), 4 * 8);
    assert_int_equal(pt_map(f->pt, 0, 3 * BLOCK, 1, leaf(3)), VMSIM_OK);
    assert_int_equal(f->counters.resizes, 1);
    assert_int_equal(pt_map(f->pt, 0, 4 * BLOCK, 1, leaf(4)), VMSIM_OK);
    assert_int_equal(f->counters.resizes, 2);
    assert_int_equal(f->counters.migrated, 8);
    fp = fp_of(f);
    assert_int_equal(part(&fp, "buckets"), 8 * 8);
    /* 8 buckets, blocks 0-4: a chain of one each */
    for (unsigned b = 0; b < 5; b++) {
        struct walk w;
        pt_walk(f->pt, 0, b * BLOCK, NULL, &w);
        assert_int_equal(w.nrefs, 3);
        assert_int_equal(PTE_PFN(w.pte), b);
    }
    fx_free(f);
}

/* One bucket: every node in one chain, still correct; the walk reads the
 * whole chain; pt.h's WALK_MAX_REFS limits what is recorded, not counted. */
static void test_one_chain(void **state)
{
    struct fx *f = fx_new("buckets=1,load=0");
    for (unsigned b = 0; b < 100; b++)
        assert_int_equal(pt_map(f->pt, 0, b * BLOCK + 0x2000, 1, leaf(b)), VMSIM_OK);
    struct walk w;
    pt_walk(f->pt, 0, 99 * BLOCK + 0x2000, NULL, &w); /* the newest: at the head */
    assert_int_equal(w.nrefs, 3);
    pt_walk(f->pt, 0, 60 * BLOCK + 0x2000, NULL, &w); /* 40th in the chain */
    assert_int_equal(w.nrefs, 1 + 40 + 1);
    pt_walk(f->pt, 0, 0x2000, NULL, &w); /* 100th: 102 references, 64 recorded */
    assert_int_equal(w.nrefs, 1 + 100 + 1);
    assert_int_equal(PTE_PFN(w.pte), 0);
    for (unsigned b = 0; b < 100; b++)
        assert_int_equal(PTE_PFN(pt_lookup(f->pt, 0, b * BLOCK + 0x2000, NULL)), b);
    fx_free(f);
}

struct seen {
    vmsim_vaddr_t va[64];
    unsigned level[64];
    unsigned n, stop_at;
};

static int record(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t e)
{
    struct seen *s = ctx;
    s->va[s->n] = va;
    s->level[s->n] = level;
    s->n++;
    return s->n == s->stop_at ? 7 : 0;
}

/* Leaves in [lo, hi), in address order, present or not; a huge page
 * partly inside counts. */
static void test_visit(void **state)
{
    struct fx *f = fx_new("buckets=4");
    const vmsim_vaddr_t pages[] = {0x7000, 0x3000, 0x123000, 0x10000, 0x5f000};
    for (unsigned i = 0; i < 5; i++)
        assert_int_equal(pt_map(f->pt, 0, pages[i], 1, leaf(i)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, 0x200000, 2, leaf(512)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, 0x11000, 1, (9ull << PTE_PFN_SHIFT) | PTE_SWAP), VMSIM_OK);
    struct seen s = {.stop_at = 99};
    assert_int_equal(pt_visit(f->pt, 0, 0, UINT64_MAX, record, &s), 0);
    const vmsim_vaddr_t all[] = {0x3000, 0x7000, 0x10000, 0x11000, 0x5f000, 0x123000, 0x200000};
    assert_int_equal(s.n, 7);
    for (unsigned i = 0; i < 7; i++)
        assert_int_equal(s.va[i], all[i]);
    assert_int_equal(s.level[6], 2);
    /* a small range: probed block by block */
    s = (struct seen){.stop_at = 99};
    assert_int_equal(pt_visit(f->pt, 0, 0x7000, 0x11001, record, &s), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.va[0], 0x7000);
    assert_int_equal(s.va[2], 0x11000);
    s = (struct seen){.stop_at = 99};
    assert_int_equal(pt_visit(f->pt, 0, 0x3ff000, 0x400000, record, &s), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.va[0], 0x200000);
    /* a callback's positive return stops the visit and is returned */
    s = (struct seen){.stop_at = 2};
    assert_int_equal(pt_visit(f->pt, 0, 0, UINT64_MAX, record, &s), 7);
    assert_int_equal(s.n, 2);
    fx_free(f);
}

/* 4 frames: the bucket array takes 2, each node frame holds 28 nodes, the
 * 57th node finds no frame; what was mapped stays. */
static void test_out_of_frames(void **state)
{
    int rc;
    struct fx *f = fx_try("load=0", 4 * 4096, &rc);
    assert_int_equal(rc, VMSIM_OK);
    for (unsigned b = 0; b < 56; b++)
        assert_int_equal(pt_map(f->pt, 0, b * BLOCK, 1, leaf(b)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, 56 * BLOCK, 1, leaf(56)), VMSIM_ENOFRAME);
    assert_int_equal(pt_lookup(f->pt, 0, 56 * BLOCK, NULL), 0);
    /* a page in a block that has its node needs no frame */
    assert_int_equal(pt_map(f->pt, 0, 3 * BLOCK + 0x1000, 1, leaf(99)), VMSIM_OK);
    for (unsigned b = 0; b < 56; b++)
        assert_int_equal(PTE_PFN(pt_lookup(f->pt, 0, b * BLOCK, NULL)), b);
    fx_free(f);
    /* a growth that finds no frame is skipped: 2 frames, 2 buckets */
    f = fx_try("buckets=2,load=1", 2 * 4096, &rc);
    assert_int_equal(rc, VMSIM_OK);
    for (unsigned b = 0; b < 28; b++)
        assert_int_equal(pt_map(f->pt, 0, b * BLOCK, 1, leaf(b)), VMSIM_OK);
    assert_int_equal(f->counters.resizes, 0);
    assert_int_equal(pt_map(f->pt, 0, 28 * BLOCK, 1, leaf(28)), VMSIM_ENOFRAME);
    fx_free(f);
    /* no frame for the bucket array: create fails, nothing held */
    f = fx_try("", 1 * 4096, &rc);
    assert_int_equal(rc, VMSIM_ENOFRAME);
    assert_int_equal(f->phys.used, 0);
    phys_fini(&f->phys);
    free(f);
}

static void test_options(void **state)
{
    char why[256];
    const char *good[] = {"", "cluster=32", "cluster=1,buckets=1,load=0,hash=mod",
                          "buckets=4k,load=0.75", "hash=fold"};
    for (unsigned i = 0; i < sizeof good / sizeof *good; i++)
        assert_int_equal(pt_clustered_ops.check(good[i], why, sizeof why), VMSIM_OK);
    const struct {
        const char *params, *says;
    } bad[] = {
        {"cluster=12", "cluster: expected a power of two"},
        {"cluster=512", "cluster: expected a power of two"},
        {"buckets=3", "buckets: expected a power of two"},
        {"load=-1", "load: expected"},
        {"load=x", "load: expected"},
        {"hash=crc", "hash: expected fold or mod"},
        {"size=4", "unknown option: clustered takes"},
        {"cluster", "clustered takes"},
        {"cluster=", "an option value"},
    };
    for (unsigned i = 0; i < sizeof bad / sizeof *bad; i++) {
        why[0] = '\0';
        assert_int_equal(pt_clustered_ops.check(bad[i].params, why, sizeof why), VMSIM_EINVAL);
        if (!strstr(why, bad[i].says))
            fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].params, why, bad[i].says);
    }
    int rc;
    struct fx *f = fx_try("cluster=3", 1ull << 30, &rc);
    assert_int_equal(rc, VMSIM_EINVAL);
    phys_fini(&f->phys);
    free(f);
}

/* Random map/unmap/update/walk against a plain array of entries, with a
 * small table that chains, grows and frees nodes all the time. */
static void test_differential(void **state)
{
    struct fx *f = fx_new("cluster=4,buckets=1,load=2");
    enum { N = 2048 };
    static uint64_t model[N];
    memset(model, 0, sizeof model);
    uint64_t x = 12345;
    for (unsigned step = 0; step < 200000; step++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        const unsigned r = (unsigned)(x >> 33);
        const unsigned i = r % N;
        /* pages spread over four regions far apart */
        const vmsim_vaddr_t va = ((uint64_t)(i & 3) << 36) + (uint64_t)(i >> 2) * 0x1000;
        switch ((r >> 12) % 4) {
        case 0: {
            const uint64_t e =
                (r >> 20) & 1 ? leaf(i + 1) : ((uint64_t)(i + 1) << PTE_PFN_SHIFT) | PTE_SWAP;
            assert_int_equal(pt_map(f->pt, 0, va, 1, e), VMSIM_OK);
            model[i] = (e & PTE_SWAP) ? e | PTE_LEAF : e | PTE_P | PTE_LEAF;
            break;
        }
        case 1: {
            uint64_t old;
            assert_int_equal(pt_unmap(f->pt, 0, va, &old), model[i] ? VMSIM_OK : VMSIM_ENOENT);
            assert_int_equal(old, model[i]);
            model[i] = 0;
            break;
        }
        case 2:
            assert_int_equal(pt_update(f->pt, 0, va, PTE_D, PTE_W),
                             model[i] ? VMSIM_OK : VMSIM_ENOENT);
            if (model[i])
                model[i] = (model[i] | PTE_D) & ~PTE_W;
            break;
        default: {
            struct walk w;
            pt_walk(f->pt, 0, va, NULL, &w);
            if ((model[i] & (PTE_P | PTE_A)) == PTE_P)
                model[i] |= PTE_A;
            assert_int_equal(w.pte, model[i]);
            assert_int_equal(pt_lookup(f->pt, 0, va, NULL), model[i]);
        }
        }
    }
    uint64_t n = 0;
    for (unsigned i = 0; i < N; i++)
        n += model[i] != 0;
    assert_int_equal(fp_of(f).pages[1], n);
    assert_true(f->counters.resizes > 0);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_find_update_unmap),
        cmocka_unit_test(test_swap_entries),
        cmocka_unit_test(test_homonyms_and_destroy),
        cmocka_unit_test(test_chain_references),
        cmocka_unit_test(test_fold_hash),
        cmocka_unit_test(test_footprint_dense_sparse),
        cmocka_unit_test(test_huge_pages),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_one_chain),
        cmocka_unit_test(test_visit),
        cmocka_unit_test(test_out_of_frames),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_differential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
