/* The hashed page table on its own: options, semantics under every option
 * combination, walk references (addresses and counts derived by hand from
 * the layout in src/pt/hashed.c), incremental resizing counters, the
 * seeds' expected-cost formulas for uniform hashing, footprint bytes, out
 * of simulated frames, and a differential test against a list model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "phys/phys.h"
#include "pt/pt.h"
#include "testutil.h"

#define PAGE 4096ull
#define MB2 (1ull << 21)
#define GB1 (1ull << 30)

struct fx {
    struct vmsim_geometry g;
    struct phys phys;
    struct pt_counters c;
    void *shared;
};

static void fx_init(struct fx *f, uint64_t bytes)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(vmsim_geometry_preset("x86-64", &f->g), VMSIM_OK);
    assert_int_equal(phys_init(&f->phys, bytes, 12), VMSIM_OK);
}

static int try_space(struct fx *f, const char *params, uint64_t id, struct pt **out)
{
    const struct pt_env env = {&f->g, &f->phys, params, &f->shared, id, &f->c};
    return pt_create(&pt_hashed_ops, &env, out);
}

static struct pt *space(struct fx *f, const char *params, uint64_t id)
{
    struct pt *p = NULL;
    assert_int_equal(try_space(f, params, id, &p), VMSIM_OK);
    return p;
}

/* Everything freed: no simulated frame is left behind. */
static void fx_fini(struct fx *f)
{
    if (f->shared)
        pt_hashed_ops.shared_destroy(f->shared);
    f->shared = NULL;
    assert_int_equal(f->phys.used, 0);
    phys_fini(&f->phys);
}

static uint64_t leaf(uint64_t pfn) { return (pfn << PTE_PFN_SHIFT) | PTE_W | PTE_U; }

static struct vmsim_pt_footprint fp_of(struct pt *p)
{
    struct vmsim_pt_footprint fp;
    memset(&fp, 0, sizeof fp);
    pt_footprint(p, &fp);
    return fp;
}

static struct vmsim_pt_footprint fp_shared(struct fx *f)
{
    struct vmsim_pt_footprint fp;
    memset(&fp, 0, sizeof fp);
    pt_hashed_ops.shared_footprint(f->shared, &fp);
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

static int count_leaf(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t pte)
{
    (*(unsigned *)ctx)++;
    return 0;
}

static unsigned count_all(struct pt *p)
{
    unsigned n = 0;
    assert_int_equal(pt_visit(p, 0, 0, UINT64_MAX, count_leaf, &n), 0);
    return n;
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- options ---- */

static void test_options(void **state)
{
    static const char *const good[] = {
        "", "collision=probe", "collision=chain,hash=xor,buckets=8,load=2.5,scope=global,step=4",
        "hash=zero", "hash=mod,load=0", "collision=probe,load=0.9", "buckets=1",
        "buckets=4294967296",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        char why[256] = "";
        assert_int_equal(pt_hashed_ops.check(good[i], why, sizeof why), VMSIM_OK);
    }
    /* each bad string and a word its message must contain */
    static const char *const bad[][2] = {
        {"foo=1", "foo"},
        {"collision=open", "chain or probe"},
        {"hash=sha1", "mult, xor, mod or zero"},
        {"buckets=0", "power of two"},
        {"buckets=3", "power of two"},
        {"buckets=-4", "power of two"},
        {"buckets=8x", "power of two"},
        {"buckets=8589934592", "2^32"},
        {"load=-1", "load factor"},
        {"load=abc", "load factor"},
        {"collision=probe,load=1", "below 1"},
        {"load=1.5,collision=probe", "below 1"},
        {"scope=world", "process or global"},
        {"step=0", "step"},
        {"hash=mult,hash=xor", "twice"},
        {"hash", "KEY=VALUE"},
        {",", "empty"},
        {"hash=mult,", "empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char why[256] = "";
        assert_int_equal(pt_hashed_ops.check(bad[i][0], why, sizeof why), VMSIM_EINVAL);
        if (!strstr(why, bad[i][1]))
            fail_msg("\"%s\": message \"%s\" lacks \"%s\"", bad[i][0], why, bad[i][1]);
    }
    /* create refuses them too, and a global table needs the machine's slot */
    struct fx f;
    fx_init(&f, 1ull << 30);
    struct pt *p = NULL;
    assert_int_equal(try_space(&f, "buckets=3", 1, &p), VMSIM_EINVAL);
    const struct pt_env env = {&f.g, &f.phys, "scope=global", NULL, 1, &f.c};
    assert_int_equal(pt_create(&pt_hashed_ops, &env, &p), VMSIM_EINVAL);
    assert_string_equal(pt_hashed_ops.name, "hashed");
    assert_false(pt_hashed_ops.tree);
    fx_fini(&f);
}

/* ---- semantics under every option combination ---- */

static void expect(struct pt *p, vmsim_vaddr_t va, uint64_t pfn, unsigned level)
{
    unsigned k = 99;
    const uint64_t e = pt_lookup(p, 0, va, &k);
    if (!pfn) {
        assert_int_equal(e, 0);
        assert_int_equal(k, 0);
        return;
    }
    assert_true(e & PTE_P);
    assert_true(e & PTE_LEAF);
    assert_int_equal(PTE_PFN(e), pfn);
    assert_int_equal(k, level);
    struct walk w;
    pt_walk(p, 0, va, NULL, &w);
    assert_int_equal(PTE_PFN(w.pte), pfn);
    assert_true(w.pte & PTE_A);
    assert_int_equal(w.level, level);
    assert_int_equal(w.top, 0);
    assert_true(w.nrefs >= 1);
}

/* One address space: 4 KiB, 2 MiB and 1 GiB leaves, a swap entry,
 * replacement, conflicts, update, unmap. `other` (may be NULL) holds the
 * same addresses with pfn + 1000: homonyms. */
static void semantics(struct pt *p, struct pt *other, uint64_t base)
{
    const vmsim_vaddr_t a = 0x1000, b = 0x7f0000003000ull, h2 = 0x40000000ull, h1 = 1ull << 40;
    const vmsim_vaddr_t sw = 0x5000;
    assert_int_equal(pt_map(p, 0, a, 1, leaf(base + 1)), VMSIM_OK);
    assert_int_equal(pt_map(p, 0, b, 1, leaf(base + 2)), VMSIM_OK);
    assert_int_equal(pt_map(p, 0, h2, 2, leaf(base + 512)), VMSIM_OK);
    assert_int_equal(pt_map(p, 0, h1, 3, leaf(base + (1 << 18))), VMSIM_OK);
    assert_int_equal(pt_map(p, 0, sw, 1, (77ull << PTE_PFN_SHIFT) | PTE_SWAP | PTE_W), VMSIM_OK);
    expect(p, a + 0x123, base + 1, 1);
    expect(p, b, base + 2, 1);
    expect(p, h2 + 0x12345, base + 512, 2);
    expect(p, h1 + GB1 - 1, base + (1 << 18), 3);
    /* the swap entry: a leaf, not present; a walk finds it, sets no A */
    unsigned k;
    uint64_t e = pt_lookup(p, 0, sw, &k);
    assert_int_equal(e & (PTE_P | PTE_SWAP | PTE_LEAF), PTE_SWAP | PTE_LEAF);
    assert_int_equal(PTE_PFN(e), 77);
    struct walk w;
    pt_walk(p, 0, sw + 8, NULL, &w);
    assert_int_equal(w.pte & (PTE_P | PTE_A | PTE_SWAP), PTE_SWAP);
    assert_int_equal(w.level, 1);
    /* conflicts: a leaf of another size covers va, or lies inside */
    assert_int_equal(pt_map(p, 0, h2 + 0x1000, 1, leaf(3)), VMSIM_EEXIST);
    assert_int_equal(pt_map(p, 0, 0, 2, leaf(3)), VMSIM_EEXIST);
    assert_int_equal(pt_map(p, 0, 0, 3, leaf(3)), VMSIM_EEXIST);
    assert_int_equal(pt_map(p, 0, h1 + MB2, 2, leaf(3)), VMSIM_EEXIST);
    assert_int_equal(pt_map(p, 0, h1 + 5 * PAGE, 1, leaf(3)), VMSIM_EEXIST);
    /* replacement of the same size; the swap entry comes back present */
    assert_int_equal(pt_map(p, 0, a, 1, leaf(base + 9)), VMSIM_OK);
    expect(p, a, base + 9, 1);
    assert_int_equal(pt_map(p, 0, sw, 1, leaf(base + 78)), VMSIM_OK);
    expect(p, sw, base + 78, 1);
    /* update */
    assert_int_equal(pt_update(p, 0, a, PTE_D, PTE_W), VMSIM_OK);
    e = pt_lookup(p, 0, a, NULL);
    assert_true(e & PTE_D);
    assert_false(e & PTE_W);
    assert_int_equal(pt_update(p, 0, 0x9000, PTE_D, 0), VMSIM_ENOENT);
    assert_int_equal(count_all(p), 5);
    struct vmsim_pt_footprint fp = fp_of(p);
    assert_int_equal(fp.pages[1], 3);
    assert_int_equal(fp.pages[2], 1);
    assert_int_equal(fp.pages[3], 1);
    if (other) { /* the homonyms are untouched */
        expect(other, a, base + 1001, 1);
        expect(other, h2, base + 1512, 2);
    }
    /* unmap: the old entry back, then gone */
    uint64_t old;
    assert_int_equal(pt_unmap(p, 0, a + 5, &old), VMSIM_OK);
    assert_int_equal(PTE_PFN(old), base + 9);
    assert_int_equal(pt_unmap(p, 0, a, &old), VMSIM_ENOENT);
    assert_int_equal(old, 0);
    expect(p, a, 0, 0);
    assert_int_equal(pt_unmap(p, 0, sw, NULL), VMSIM_OK);
    /* nothing small left in [0, 2 MiB): a 2 MiB page fits now */
    assert_int_equal(pt_map(p, 0, 0, 2, leaf(base + 2048)), VMSIM_OK);
    expect(p, 0x1000, base + 2048, 2);
    assert_int_equal(pt_unmap(p, 0, 0x1fffff, &old), VMSIM_OK);
    assert_int_equal(PTE_PFN(old), base + 2048);
    assert_int_equal(pt_unmap(p, 0, b, NULL), VMSIM_OK);
    assert_int_equal(pt_unmap(p, 0, h2 + 7, NULL), VMSIM_OK);
    assert_int_equal(pt_unmap(p, 0, h1 + 7, NULL), VMSIM_OK);
    assert_int_equal(count_all(p), 0);
    fp = fp_of(p);
    assert_int_equal(fp.pages[1] + fp.pages[2] + fp.pages[3], 0);
    if (other)
        expect(other, b, base + 1002, 1);
}

static void test_semantics_all_options(void **state)
{
    static const char *const coll[] = {"chain", "probe"};
    static const char *const hash[] = {"mult", "xor", "mod", "zero"};
    static const char *const scope[] = {"process", "global"};
    static const char *const size[] = {"buckets=1", "buckets=64,load=0", "buckets=2,step=3"};
    for (unsigned c = 0; c < 2; c++)
        for (unsigned h = 0; h < 4; h++)
            for (unsigned s = 0; s < 2; s++)
                for (unsigned z = 0; z < 3; z++) {
                    char params[128];
                    snprintf(params, sizeof params, "collision=%s,hash=%s,scope=%s,%s", coll[c],
                             hash[h], scope[s], size[z]);
                    print_message("%s\n", params);
                    struct fx f;
                    fx_init(&f, 1ull << 32);
                    struct pt *p = space(&f, params, 1), *q = space(&f, params, 2);
                    /* q maps the same addresses first: homonyms of p's */
                    assert_int_equal(pt_map(q, 0, 0x1000, 1, leaf(1001)), VMSIM_OK);
                    assert_int_equal(pt_map(q, 0, 0x7f0000003000ull, 1, leaf(1002)), VMSIM_OK);
                    assert_int_equal(pt_map(q, 0, 0x40000000ull, 2, leaf(1512)), VMSIM_OK);
                    semantics(p, q, 0);
                    pt_destroy(p);
                    expect(q, 0x1000, 1001, 1);
                    assert_int_equal(count_all(q), 3);
                    pt_destroy(q);
                    fx_fini(&f);
                }
}

/* ---- global scope: homonyms, destroy, stale ids ---- */

/* hash=mod ignores the space: the homonyms share bucket 3 (VPN 3 mod 16).
 * A new node goes to the head of its chain, so the later one (space 2) is
 * read first: 1 head + 1 node for it, 1 head + 2 nodes for space 1. */
static void test_global_homonyms(void **state)
{
    struct fx f;
    fx_init(&f, 1ull << 30);
    const char *params = "scope=global,hash=mod,buckets=16,load=0";
    struct pt *a = space(&f, params, 1), *b = space(&f, params, 2);
    assert_int_equal(pt_map(a, 0, 0x3000, 1, leaf(10)), VMSIM_OK);
    assert_int_equal(pt_map(b, 0, 0x3000, 1, leaf(20)), VMSIM_OK);
    struct walk wa, wb;
    pt_walk(a, 0, 0x3000, NULL, &wa);
    pt_walk(b, 0, 0x3000, NULL, &wb);
    assert_int_equal(PTE_PFN(wa.pte), 10);
    assert_int_equal(PTE_PFN(wb.pte), 20);
    assert_int_equal(wb.nrefs, 2);
    assert_int_equal(wa.nrefs, 3);
    assert_int_equal(wa.ref[0].pa, wb.ref[0].pa); /* the same bucket head */
    assert_int_equal(wa.ref[0].pa & 4095, 3 * 8);
    assert_int_equal(wa.ref[1].pa, wb.ref[1].pa); /* b's node, first in the chain */
    /* the shared table is reported once, not per space */
    struct vmsim_pt_footprint fp = fp_of(a);
    assert_int_equal(fp.bytes, 0);
    assert_int_equal(fp.nparts, 0);
    assert_int_equal(fp.pages[1], 1);
    fp = fp_shared(&f);
    assert_int_equal(part(&fp, "entries"), 2 * 24);
    /* destroying b removes its entries; a is intact and pays one node less */
    pt_destroy(b);
    pt_walk(a, 0, 0x3000, NULL, &wa);
    assert_int_equal(PTE_PFN(wa.pte), 10);
    assert_int_equal(wa.nrefs, 2);
    fp = fp_shared(&f);
    assert_int_equal(part(&fp, "entries"), 24);
    /* a new space never matches a dead one's entries (ids are not reused) */
    struct pt *c = space(&f, params, 3);
    assert_int_equal(pt_lookup(c, 0, 0x3000, NULL), 0);
    assert_int_equal(pt_map(c, 0, 0x3000, 1, leaf(30)), VMSIM_OK);
    expect(a, 0x3000, 10, 1);
    expect(c, 0x3000, 30, 1);
    pt_destroy(a);
    pt_destroy(c);
    fp = fp_shared(&f);
    assert_int_equal(part(&fp, "entries"), 0);
    fx_fini(&f);

    /* the same with probing and a real hash, many pages per space */
    fx_init(&f, 1ull << 30);
    params = "scope=global,collision=probe,buckets=8";
    a = space(&f, params, 1);
    b = space(&f, params, 2);
    for (unsigned i = 0; i < 300; i++) {
        assert_int_equal(pt_map(a, 0, (uint64_t)i << 12, 1, leaf(i + 1)), VMSIM_OK);
        assert_int_equal(pt_map(b, 0, (uint64_t)i << 12, 1, leaf(i + 5000)), VMSIM_OK);
    }
    pt_destroy(a);
    for (unsigned i = 0; i < 300; i++)
        expect(b, (uint64_t)i << 12, i + 5000, 1);
    assert_int_equal(count_all(b), 300);
    pt_destroy(b);
    fx_fini(&f);
}

/* ---- walk references ---- */

/* hash=mod: bucket = VPN mod buckets, so the addresses follow from the
 * layout: heads of 8 bytes, nodes of 24 carved from a node frame in order,
 * slots of 16. References are numbered 0, 1, ... in the level field. */
static void test_walk_addresses(void **state)
{
    struct fx f;
    fx_init(&f, 1ull << 30);
    struct pt *p = space(&f, "hash=mod,buckets=16,load=0", 1);
    /* an empty space: no size in use, the walk still reads the 4 KiB bucket */
    struct walk w;
    pt_walk(p, 0, 0x12345abc, NULL, &w);
    assert_int_equal(w.nrefs, 1);
    assert_int_equal(w.ref[0].pa & 4095, 5 * 8);
    assert_int_equal(w.pte, 0);
    assert_int_equal(w.level, 1);
    assert_int_equal(pt_map(p, 0, 0x12345000, 1, leaf(1)), VMSIM_OK); /* bucket 5 */
    pt_walk(p, 0, 0x12345abc, NULL, &w);
    assert_int_equal(w.nrefs, 2);
    assert_int_equal(w.ref[0].pa & 4095, 5 * 8);
    assert_int_equal(w.ref[1].pa & 4095, 0);
    assert_int_equal(w.ref[0].level, 0);
    assert_int_equal(w.ref[1].level, 1);
    assert_int_not_equal(w.ref[0].pa >> 12, w.ref[1].pa >> 12);
    const vmsim_paddr_t heads = w.ref[0].pa - 5 * 8, nodes = w.ref[1].pa;
    assert_int_equal(pt_map(p, 0, 0x6000, 1, leaf(2)), VMSIM_OK); /* bucket 6, node 2 */
    pt_walk(p, 0, 0x6000, NULL, &w);
    assert_int_equal(w.nrefs, 2);
    assert_int_equal(w.ref[0].pa, heads + 6 * 8);
    assert_int_equal(w.ref[1].pa, nodes + 24);
    /* an empty bucket: one reference, nothing found */
    pt_walk(p, 0, 0x9000, NULL, &w);
    assert_int_equal(w.nrefs, 1);
    assert_int_equal(w.ref[0].pa, heads + 9 * 8);
    assert_int_equal(w.pte, 0);
    pt_destroy(p);

    /* Sizes in use only: a 2 MiB page alone costs one probe; with a 4 KiB
     * page mapped too, the 4 KiB probe comes first. 2 MiB page at 1 GiB:
     * VPN 0x200 -> bucket 0; 4 KiB page 0x1000 -> bucket 1. */
    p = space(&f, "hash=mod,buckets=16,load=0", 1);
    assert_int_equal(pt_map(p, 0, 0x40000000, 2, leaf(512)), VMSIM_OK);
    pt_walk(p, 0, 0x40003000, NULL, &w);
    assert_int_equal(w.nrefs, 2);
    assert_int_equal(w.level, 2);
    assert_int_equal(pt_map(p, 0, 0x1000, 1, leaf(1)), VMSIM_OK);
    pt_walk(p, 0, 0x40003000, NULL, &w); /* VPN 0x40003 -> bucket 3, empty; then bucket 0 */
    assert_int_equal(w.nrefs, 3);
    assert_int_equal(w.level, 2);
    assert_int_equal(PTE_PFN(w.pte), 512);
    assert_int_equal(w.ref[0].pa - w.ref[1].pa, 3 * 8);
    pt_walk(p, 0, 0x9000, NULL, &w); /* bucket 9 empty; bucket 0 holds the 2 MiB node */
    assert_int_equal(w.nrefs, 3);
    assert_int_equal(w.pte, 0);
    assert_int_equal(w.level, 2);
    pt_destroy(p);

    /* probing: VPN 0x12345 -> slot 5; VPN 0x15 collides and takes slot 6 */
    p = space(&f, "collision=probe,hash=mod,buckets=16,load=0", 1);
    assert_int_equal(pt_map(p, 0, 0x12345000, 1, leaf(1)), VMSIM_OK);
    assert_int_equal(pt_map(p, 0, 0x15000, 1, leaf(2)), VMSIM_OK);
    pt_walk(p, 0, 0x15000, NULL, &w);
    assert_int_equal(w.nrefs, 2);
    assert_int_equal(w.ref[0].pa & 4095, 5 * 16);
    assert_int_equal(w.ref[1].pa & 4095, 6 * 16);
    assert_int_equal(PTE_PFN(w.pte), 2);
    /* unmapping slot 5 shifts VPN 0x15 back into its home slot */
    assert_int_equal(pt_unmap(p, 0, 0x12345000, NULL), VMSIM_OK);
    pt_walk(p, 0, 0x15000, NULL, &w);
    assert_int_equal(w.nrefs, 1);
    assert_int_equal(w.ref[0].pa & 4095, 5 * 16);
    pt_destroy(p);
    fx_fini(&f);
}

/* hash=zero: every key in one chain. With N entries, a walk of the one
 * mapped first (the tail) reads the head and all N nodes: N + 1; the one
 * mapped last (the head node) 2; a missing key N + 1. Over all keys the
 * mean is 1 + (N + 1) / 2. ref[] keeps the first WALK_MAX_REFS. */
static void test_zero_hash(void **state)
{
    enum { N = 100 };
    struct fx f;
    fx_init(&f, 1ull << 30);
    struct pt *p = space(&f, "hash=zero,load=0", 1);
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(pt_map(p, 0, (uint64_t)i << 12, 1, leaf(i + 1)), VMSIM_OK);
    struct walk w;
    pt_walk(p, 0, 0, NULL, &w);
    assert_int_equal(w.nrefs, N + 1);
    assert_int_equal(PTE_PFN(w.pte), 1);
    assert_int_equal(w.ref[0].pa & 4095, 0); /* bucket 0 */
    for (unsigned i = 1; i < WALK_MAX_REFS; i++) {
        assert_int_equal(w.ref[i].level, i);
        assert_int_not_equal(w.ref[i].pa >> 12, w.ref[0].pa >> 12);
    }
    pt_walk(p, 0, (uint64_t)(N - 1) << 12, NULL, &w);
    assert_int_equal(w.nrefs, 2);
    pt_walk(p, 0, (uint64_t)N << 12, NULL, &w);
    assert_int_equal(w.nrefs, N + 1);
    assert_int_equal(w.pte, 0);
    uint64_t sum = 0;
    for (unsigned i = 0; i < N; i++) {
        pt_walk(p, 0, (uint64_t)i << 12, NULL, &w);
        assert_int_equal(PTE_PFN(w.pte), i + 1);
        sum += w.nrefs;
    }
    assert_int_equal(sum, N + N * (N + 1) / 2); /* N heads + 1 + 2 + ... + N nodes */
    pt_destroy(p);

    /* probing: the k-th key mapped sits in slot k - 1 and costs k probes;
     * a missing key probes up to the first empty slot, N + 1 */
    p = space(&f, "collision=probe,hash=zero,buckets=128,load=0", 1);
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(pt_map(p, 0, (uint64_t)i << 12, 1, leaf(i + 1)), VMSIM_OK);
    for (unsigned i = 0; i < N; i += 9) {
        pt_walk(p, 0, (uint64_t)i << 12, NULL, &w);
        assert_int_equal(w.nrefs, i + 1);
        assert_int_equal(PTE_PFN(w.pte), i + 1);
        if (i < WALK_MAX_REFS)
            assert_int_equal(w.ref[i].pa & 4095, i * 16);
    }
    pt_walk(p, 0, (uint64_t)N << 12, NULL, &w);
    assert_int_equal(w.nrefs, N + 1);
    pt_destroy(p);
    fx_fini(&f);
}

/* ---- incremental resizing ---- */

struct seen {
    uint8_t *hit;
    uint64_t n, stride;
    bool ok;
};

/* Keys are va = i * stride pages with pfn i + 1. */
static int mark(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t pte)
{
    struct seen *s = ctx;
    const uint64_t i = (va >> 12) / s->stride;
    if (level != 1 || (va >> 12) % s->stride || i >= s->n || s->hit[i] ||
        PTE_PFN(pte) != i + 1)
        s->ok = false;
    else
        s->hit[i] = 1;
    return 0;
}

/* Every key in [0, n) is there, found by a scan (which migrates nothing). */
static void all_there(struct pt *p, uint64_t n, uint64_t stride, const uint8_t *gone)
{
    struct seen s = {calloc(n ? n : 1, 1), n, stride, true};
    assert_int_equal(pt_visit(p, 0, 0, UINT64_MAX, mark, &s), 0);
    assert_true(s.ok);
    for (uint64_t i = 0; i < n; i++)
        assert_int_equal(s.hit[i], gone && gone[i] ? 0 : 1);
    free(s.hit);
}

/* Chaining, buckets=1, load=1, step=1, inserts only. A resize from M
 * buckets starts at the insert that makes M + 1 entries and migrates one
 * bucket per operation, so it ends M inserts later, at 2M + 1 entries,
 * whose insert starts the next: resizes start at 2, 3, 5, ..., 2^k + 1
 * entries, and each moves the M + 1 entries present when it began. After
 * 2^K + 1 inserts: K + 1 resizes, sum_{k<K} (2^k + 1) = 2^K - 1 + K moved. */
static void test_resize_chain(void **state)
{
    struct fx f;
    fx_init(&f, 1ull << 32);
    struct pt *p = space(&f, "buckets=1,load=1,step=1", 1);
    const uint64_t stride = 7;
    for (uint64_t i = 0; i < 1025; i++) {
        assert_int_equal(pt_map(p, 0, (i * stride) << 12, 1, leaf(i + 1)), VMSIM_OK);
        if (i % 16 == 0 || i > 1010)
            all_there(p, i + 1, stride, NULL);
    }
    assert_int_equal(f.c.resizes, 11);
    assert_int_equal(f.c.migrated, 1023 + 10);
    /* 1024 -> 2048 has begun; 300 more inserts migrate 300 of its buckets */
    for (uint64_t i = 1025; i < 1325; i++) {
        assert_int_equal(pt_map(p, 0, (i * stride) << 12, 1, leaf(i + 1)), VMSIM_OK);
        all_there(p, i + 1, stride, NULL);
    }
    assert_int_equal(f.c.resizes, 11);
    assert_true(f.c.migrated > 1033 && f.c.migrated < 1033 + 1025);
    /* a prefetch is a hint: it moves nothing */
    const uint64_t moved = f.c.migrated;
    for (uint64_t i = 0; i < 2000; i++)
        pt_prefetch(p, 0, (i * stride) << 12, 1);
    assert_int_equal(f.c.migrated, moved);
    all_there(p, 1325, stride, NULL);
    /* lookups migrate too: 1325 of them finish it; all 1025 entries moved */
    for (uint64_t i = 0; i < 1325; i++)
        assert_int_equal(PTE_PFN(pt_lookup(p, 0, (i * stride) << 12, NULL)), i + 1);
    assert_int_equal(f.c.migrated, 2047 + 11);
    assert_int_equal(f.c.resizes, 11);
    struct vmsim_pt_footprint fp = fp_of(p);
    assert_int_equal(part(&fp, "buckets"), 2048 * 8);
    assert_int_equal(part(&fp, "entries"), 1325 * 24);
    pt_destroy(p);
    fx_fini(&f);
}

/* Probing, buckets=1, default load 0.5. A resize from M starts when the
 * entries pass M / 2 (floor(M / 2) + 1 of them, all moved) and ends before
 * the new table passes its own threshold. 1000 entries: resizes from
 * 1, 2, ..., 1024 (1000 > 512): 11 of them, 2048 slots at the end, and
 * 1 + sum_{k=1..10} (2^(k-1) + 1) = 1034 entries moved. Then unmaps during
 * a resize leave tombstones in the old table: still all correct. */
static void test_resize_probe(void **state)
{
    struct fx f;
    fx_init(&f, 1ull << 32);
    struct pt *p = space(&f, "collision=probe,buckets=1", 1);
    const uint64_t stride = 3, n = 1000;
    for (uint64_t i = 0; i < n; i++) {
        assert_int_equal(pt_map(p, 0, (i * stride) << 12, 1, leaf(i + 1)), VMSIM_OK);
        all_there(p, i + 1, stride, NULL);
    }
    for (uint64_t i = 0; i < n; i++) /* finishes the last resize */
        assert_int_equal(PTE_PFN(pt_lookup(p, 0, (i * stride) << 12, NULL)), i + 1);
    assert_int_equal(f.c.resizes, 11);
    assert_int_equal(f.c.migrated, 1034);
    struct vmsim_pt_footprint fp = fp_of(p);
    assert_int_equal(part(&fp, "entries"), n * 16);
    assert_int_equal(part(&fp, "entries") + part(&fp, "empty slots"), 2048 * 16);
    /* 1025 entries start 2048 -> 4096; unmap every third one meanwhile */
    for (uint64_t i = n; i < 1100; i++)
        assert_int_equal(pt_map(p, 0, (i * stride) << 12, 1, leaf(i + 1)), VMSIM_OK);
    assert_int_equal(f.c.resizes, 12);
    uint8_t gone[1100] = {0};
    for (uint64_t i = 0; i < 1100; i += 3) {
        uint64_t old;
        assert_int_equal(pt_unmap(p, 0, (i * stride) << 12, &old), VMSIM_OK);
        assert_int_equal(PTE_PFN(old), i + 1);
        gone[i] = 1;
        all_there(p, 1100, stride, gone);
    }
    for (uint64_t i = 0; i < 1100; i++)
        assert_int_equal(PTE_PFN(pt_lookup(p, 0, (i * stride) << 12, NULL)), gone[i] ? 0 : i + 1);
    all_there(p, 1100, stride, gone);
    pt_destroy(p);
    fx_fini(&f);
}

/* ---- the seeds' formulas (DESIGN.md, seed 003) ---- */

/* Random distinct 4 KiB pages: uniform hashing needs keys the hash does
 * not line up (Fibonacci hashing spreads consecutive pages better than
 * random, which would beat the formula). */
static double mean_walk(const char *params, uint64_t n)
{
    struct fx f;
    fx_init(&f, 1ull << 34);
    struct pt *p = space(&f, params, 1);
    uint64_t *va = malloc(n * sizeof *va), x = 42;
    for (uint64_t i = 0; i < n;) {
        va[i] = (splitmix(&x) & ((1ull << 36) - 1)) << 12;
        if (pt_lookup(p, 0, va[i], NULL))
            continue; /* drawn twice */
        assert_int_equal(pt_map(p, 0, va[i], 1, leaf(i + 1)), VMSIM_OK);
        i++;
    }
    uint64_t refs = 0;
    for (uint64_t i = 0; i < n; i++) {
        struct walk w;
        pt_walk(p, 0, va[i], NULL, &w);
        assert_int_equal(PTE_PFN(w.pte), i + 1);
        refs += w.nrefs;
    }
    assert_int_equal(f.c.resizes, 0);
    free(va);
    pt_destroy(p);
    fx_fini(&f);
    return (double)refs / (double)n;
}

/* Separate chaining: a successful walk reads the bucket head (1 access)
 * and 1 + a/2 nodes on average (the key's node plus half the others that
 * share its bucket): 2 + a/2 references. N = 2^16 keys over M = N / a
 * buckets, resizing off; within 5 %. */
static void test_formula_chaining(void **state)
{
    static const double alpha[] = {0.25, 0.5, 1, 2, 4};
    const uint64_t n = 1ull << 16;
    for (unsigned i = 0; i < 5; i++) {
        char params[64];
        snprintf(params, sizeof params, "hash=mult,load=0,buckets=%llu",
                 (unsigned long long)(n / alpha[i]));
        const double got = mean_walk(params, n), want = 2 + alpha[i] / 2;
        print_message("chaining a=%.2f: %.4f references per walk, formula %.4f (%+.2f%%)\n",
                      alpha[i], got, want, 100 * (got - want) / want);
        assert_true(fabs(got - want) <= 0.05 * want);
    }
}

/* Linear probing: every slot read is one reference and one probe of the
 * formula (no bucket head), so references = probes; a successful search
 * takes 1/2 (1 + 1/(1 - a)) on average (Knuth 6.4). M = 2^17 slots,
 * N = a M keys, resizing off; within 10 %. */
static void test_formula_probing(void **state)
{
    static const double alpha[] = {0.1, 0.3, 0.5, 0.7, 0.8};
    const uint64_t m = 1ull << 17;
    for (unsigned i = 0; i < 5; i++) {
        char params[80];
        snprintf(params, sizeof params, "collision=probe,hash=mult,load=0,buckets=%llu",
                 (unsigned long long)m);
        const uint64_t n = (uint64_t)(alpha[i] * (double)m + 0.5);
        const double got = mean_walk(params, n), want = 0.5 * (1 + 1 / (1 - alpha[i]));
        print_message("probing a=%.2f: %.4f probes per walk, formula %.4f (%+.2f%%)\n", alpha[i],
                      got, want, 100 * (got - want) / want);
        assert_true(fabs(got - want) <= 0.10 * want);
    }
}

/* ---- footprint ---- */

/* Bytes by hand: heads 8 B, nodes 24 B (170 per 4 KiB frame), slots 16 B;
 * bytes = every frame; slack = frame bytes holding neither. */
static void test_footprint(void **state)
{
    struct fx f;
    fx_init(&f, 1ull << 32);
    struct pt *p = space(&f, "buckets=4,load=0", 1);
    struct vmsim_pt_footprint fp = fp_of(p);
    assert_int_equal(fp.nparts, 3);
    assert_int_equal(part(&fp, "buckets"), 32);
    assert_int_equal(part(&fp, "entries"), 0);
    assert_int_equal(part(&fp, "slack"), 4096 - 32);
    assert_int_equal(fp.bytes, 4096);
    assert_int_equal(fp.root_bytes, 0);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(pt_map(p, 0, (i + 1) * PAGE, 1, leaf(i + 1)), VMSIM_OK);
    assert_int_equal(pt_map(p, 0, 4 * MB2, 2, leaf(1024)), VMSIM_OK);
    fp = fp_of(p);
    assert_int_equal(part(&fp, "entries"), 4 * 24);
    assert_int_equal(part(&fp, "slack"), 8192 - 32 - 96);
    assert_int_equal(fp.bytes, 8192);
    assert_int_equal(fp.pages[1], 3);
    assert_int_equal(fp.pages[2], 1);
    assert_int_equal(f.phys.used, 2);
    pt_destroy(p);

    /* the defaults: 1024 heads = 2 frames; 171 nodes need a second node
     * frame; unmapping the last one frees it again */
    p = space(&f, "", 1);
    for (unsigned i = 0; i < 171; i++)
        assert_int_equal(pt_map(p, 0, (uint64_t)i << 12, 1, leaf(i + 1)), VMSIM_OK);
    fp = fp_of(p);
    assert_int_equal(part(&fp, "buckets"), 8192);
    assert_int_equal(part(&fp, "entries"), 171 * 24);
    assert_int_equal(fp.bytes, 4 * 4096);
    assert_int_equal(part(&fp, "slack"), 4 * 4096 - 8192 - 171 * 24);
    assert_int_equal(f.phys.used, 4);
    assert_int_equal(pt_unmap(p, 0, 170ull << 12, NULL), VMSIM_OK);
    fp = fp_of(p);
    assert_int_equal(fp.bytes, 3 * 4096);
    assert_int_equal(part(&fp, "slack"), 3 * 4096 - 8192 - 170 * 24); /* 16 B */
    assert_int_equal(f.phys.used, 3);
    pt_destroy(p);

    /* probing: 512 slots of 16 B = 2 frames, whatever the entries */
    p = space(&f, "collision=probe,buckets=512,load=0", 1);
    for (unsigned i = 0; i < 10; i++)
        assert_int_equal(pt_map(p, 0, (uint64_t)i << 12, 1, leaf(i + 1)), VMSIM_OK);
    fp = fp_of(p);
    assert_int_equal(part(&fp, "entries"), 160);
    assert_int_equal(part(&fp, "empty slots"), 502 * 16);
    assert_int_equal(part(&fp, "slack"), 0);
    assert_int_equal(fp.bytes, 8192);
    pt_destroy(p);
    p = space(&f, "collision=probe", 1); /* default 1024 slots: 16 KiB */
    assert_int_equal(fp_of(p).bytes, 16384);
    pt_destroy(p);

    /* global: spaces report pages; the table is reported once */
    p = space(&f, "scope=global,buckets=64", 1);
    struct pt *q = space(&f, "scope=global,buckets=64", 2);
    assert_int_equal(pt_map(p, 0, 0x1000, 1, leaf(1)), VMSIM_OK);
    assert_int_equal(pt_map(q, 0, 0x1000, 1, leaf(2)), VMSIM_OK);
    assert_int_equal(pt_map(q, 0, 0x2000, 1, leaf(3)), VMSIM_OK);
    fp = fp_of(p);
    assert_int_equal(fp.bytes, 0);
    assert_int_equal(fp.pages[1], 1);
    pt_footprint(q, &fp);
    assert_int_equal(fp.pages[1], 3);
    pt_hashed_ops.shared_footprint(f.shared, &fp);
    assert_int_equal(part(&fp, "buckets"), 512);
    assert_int_equal(part(&fp, "entries"), 72);
    assert_int_equal(fp.bytes, 8192);
    pt_destroy(p);
    pt_destroy(q);
    fp = fp_shared(&f);
    assert_int_equal(fp.bytes, 4096); /* the empty node frame went back */
    pt_hashed_ops.shared_destroy(f.shared);
    f.shared = NULL;
    p = space(&f, "scope=global", 1); /* default 64 Ki heads: 512 KiB */
    assert_int_equal(fp_shared(&f).bytes, 512 * 1024);
    pt_destroy(p);
    /* deposit: nothing to set aside in a hashed table */
    p = space(&f, "", 1);
    assert_int_equal(pt_deposit(p), VMSIM_OK);
    assert_int_equal(fp_of(p).bytes, 8192);
    pt_destroy(p);
    fx_fini(&f);
}

/* ---- out of simulated frames ---- */

static void test_out_of_frames(void **state)
{
    struct fx f;
    struct pt *p = NULL;
    /* the default bucket array needs 2 frames */
    fx_init(&f, 1 * PAGE);
    assert_int_equal(try_space(&f, "", 1, &p), VMSIM_ENOFRAME);
    assert_int_equal(f.phys.used, 0);
    assert_int_equal(try_space(&f, "scope=global", 1, &p), VMSIM_ENOFRAME);
    assert_null(f.shared);
    fx_fini(&f);

    /* room for the buckets, none for a node frame */
    fx_init(&f, 2 * PAGE);
    p = space(&f, "", 1);
    assert_int_equal(pt_map(p, 0, 0x1000, 1, leaf(1)), VMSIM_ENOFRAME);
    assert_int_equal(f.phys.used, 2);
    assert_int_equal(pt_lookup(p, 0, 0x1000, NULL), 0);
    assert_int_equal(fp_of(p).pages[1], 0);
    assert_int_equal(count_all(p), 0);
    pt_destroy(p);
    fx_fini(&f);

    /* a resize that finds no frame is skipped: the map still succeeds;
     * one node frame holds 170 nodes, the 171st finds no frame */
    fx_init(&f, 2 * PAGE);
    p = space(&f, "buckets=1", 1);
    for (unsigned i = 0; i < 170; i++)
        assert_int_equal(pt_map(p, 0, (uint64_t)i << 12, 1, leaf(i + 1)), VMSIM_OK);
    assert_int_equal(pt_map(p, 0, 170ull << 12, 1, leaf(171)), VMSIM_ENOFRAME);
    assert_int_equal(f.c.resizes, 0);
    assert_int_equal(f.phys.used, 2);
    for (unsigned i = 0; i < 171; i++)
        assert_int_equal(PTE_PFN(pt_lookup(p, 0, (uint64_t)i << 12, NULL)), i < 170 ? i + 1 : 0);
    pt_destroy(p);
    fx_fini(&f);

    /* a resize that gets one of its two frames gives it back: 512 heads
     * (1 frame) + 513 nodes (4 frames) leave 1 frame of 6; 1024 heads need 2 */
    fx_init(&f, 6 * PAGE);
    p = space(&f, "buckets=512", 1);
    for (unsigned i = 0; i < 513; i++)
        assert_int_equal(pt_map(p, 0, (uint64_t)i << 12, 1, leaf(i + 1)), VMSIM_OK);
    assert_int_equal(f.c.resizes, 0);
    assert_int_equal(f.phys.used, 5);
    pt_destroy(p);
    fx_fini(&f);

    /* probing: a full table that may not grow (load=0) refuses the entry;
     * one that cannot get frames to grow too */
    fx_init(&f, 1ull << 30);
    p = space(&f, "collision=probe,buckets=4,load=0", 1);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(pt_map(p, 0, (uint64_t)i << 12, 1, leaf(i + 1)), VMSIM_OK);
    assert_int_equal(pt_map(p, 0, 4ull << 12, 1, leaf(5)), VMSIM_ENOFRAME);
    for (unsigned i = 0; i < 5; i++)
        assert_int_equal(PTE_PFN(pt_lookup(p, 0, (uint64_t)i << 12, NULL)), i < 4 ? i + 1 : 0);
    struct walk w;
    pt_walk(p, 0, 4ull << 12, NULL, &w); /* a full table: a miss reads every slot */
    assert_int_equal(w.nrefs, 4);
    /* deleting from a full table (no empty slot to stop the shift) */
    assert_int_equal(pt_unmap(p, 0, 1ull << 12, NULL), VMSIM_OK);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(PTE_PFN(pt_lookup(p, 0, (uint64_t)i << 12, NULL)), i == 1 ? 0 : i + 1);
    assert_int_equal(pt_map(p, 0, 4ull << 12, 1, leaf(5)), VMSIM_OK);
    assert_int_equal(PTE_PFN(pt_lookup(p, 0, 4ull << 12, NULL)), 5);
    pt_destroy(p);
    fx_fini(&f);
    /* hash=mod, 8 slots, all full, entries displaced around the end: every
     * deletion order leaves the rest findable */
    fx_init(&f, 1ull << 30);
    for (unsigned first = 0; first < 8; first++) {
        p = space(&f, "collision=probe,hash=mod,buckets=8,load=0", 1);
        static const uint64_t vpn[8] = {6, 14, 22, 7, 15, 1, 9, 3}; /* homes 6 6 6 7 7 1 1 3 */
        for (unsigned i = 0; i < 8; i++)
            assert_int_equal(pt_map(p, 0, vpn[i] << 12, 1, leaf(i + 1)), VMSIM_OK);
        for (unsigned d = 0; d < 8; d++) {
            const unsigned gone = (first + d) % 8;
            assert_int_equal(pt_unmap(p, 0, vpn[gone] << 12, NULL), VMSIM_OK);
            for (unsigned i = 0; i < 8; i++) {
                const bool alive = (i + 8 - first) % 8 > d;
                assert_int_equal(PTE_PFN(pt_lookup(p, 0, vpn[i] << 12, NULL)), alive ? i + 1 : 0);
            }
        }
        pt_destroy(p);
    }
    fx_fini(&f);
    fx_init(&f, 1 * PAGE);
    p = space(&f, "collision=probe,buckets=2", 1);
    assert_int_equal(pt_map(p, 0, 0x1000, 1, leaf(1)), VMSIM_OK);
    assert_int_equal(pt_map(p, 0, 0x2000, 1, leaf(2)), VMSIM_OK); /* 2 > 0.5 x 2: no frame */
    assert_int_equal(pt_map(p, 0, 0x3000, 1, leaf(3)), VMSIM_ENOFRAME);
    assert_int_equal(f.c.resizes, 0);
    assert_int_equal(f.phys.used, 1);
    pt_destroy(p);
    fx_fini(&f);
}

/* ---- visit ---- */

struct stop {
    unsigned n, at;
    vmsim_vaddr_t va[8];
};

static int stop_at(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t pte)
{
    struct stop *s = ctx;
    if (s->n < 8)
        s->va[s->n] = va;
    return ++s->n == s->at ? 5 : 0;
}

static void test_visit(void **state)
{
    for (unsigned c = 0; c < 2; c++) {
        struct fx f;
        fx_init(&f, 1ull << 30);
        struct pt *p = space(&f, c ? "collision=probe" : "", 1);
        assert_int_equal(pt_map(p, 0, 0x1000, 1, leaf(1)), VMSIM_OK);
        assert_int_equal(pt_map(p, 0, 0x2000, 1, leaf(2)), VMSIM_OK);
        assert_int_equal(pt_map(p, 0, MB2, 2, leaf(512)), VMSIM_OK);
        assert_int_equal(pt_map(p, 0, GB1, 3, leaf(1 << 18)), VMSIM_OK);
        /* small ranges (probed page by page) */
        struct stop s = {0, 0, {0}};
        assert_int_equal(pt_visit(p, 0, 0x1000, 0x2000, stop_at, &s), 0);
        assert_int_equal(s.n, 1);
        assert_int_equal(s.va[0], 0x1000);
        s.n = 0;
        assert_int_equal(pt_visit(p, 0, 0x1800, MB2 + 1, stop_at, &s), 0);
        assert_int_equal(s.n, 3); /* 0x1000 overlaps, 0x2000, the 2 MiB page */
        s.n = 0;
        assert_int_equal(pt_visit(p, 0, GB1 + 5, GB1 + 6, stop_at, &s), 0);
        assert_int_equal(s.n, 1);
        assert_int_equal(s.va[0], GB1);
        /* large ranges (a scan) */
        s.n = 0;
        assert_int_equal(pt_visit(p, 0, 0, UINT64_MAX, stop_at, &s), 0);
        assert_int_equal(s.n, 4);
        s.n = 0;
        assert_int_equal(pt_visit(p, 0, 0x1800, GB1, stop_at, &s), 0);
        assert_int_equal(s.n, 3);
        /* a callback's positive return stops the visit and is returned */
        s = (struct stop){0, 2, {0}};
        assert_int_equal(pt_visit(p, 0, 0, UINT64_MAX, stop_at, &s), 5);
        assert_int_equal(s.n, 2);
        s = (struct stop){0, 2, {0}};
        assert_int_equal(pt_visit(p, 0, 0, 0x3000, stop_at, &s), 5);
        assert_int_equal(pt_visit(p, 0, 5, 5, stop_at, &s), 0);
        pt_destroy(p);
        fx_fini(&f);
    }
}

/* ---- the hash functions ---- */

/* hash=xor is PowerPC's: VSID xor the page index inside a 256 MiB segment.
 * The pages of one segment therefore map one to one onto buckets (the xor
 * with a constant permutes each aligned block of 2^16 indices): 1024
 * consecutive pages in 1024 buckets each cost exactly a head and a node.
 * Homonyms in a global table get unrelated VSIDs, so they rarely share a
 * bucket (about 1 in 1024 per pair); under hash=mod every pair does, and
 * the space mapped first pays one node more. */
static unsigned shared_buckets(const char *params, unsigned n, uint64_t *refs1, uint64_t *refs2)
{
    struct fx f;
    fx_init(&f, 1ull << 30);
    struct pt *a = space(&f, params, 1), *b = space(&f, params, 2);
    for (unsigned i = 0; i < n; i++) {
        const vmsim_vaddr_t va = 0x10000000ull + ((uint64_t)i << 12);
        assert_int_equal(pt_map(a, 0, va, 1, leaf(i + 1)), VMSIM_OK);
        assert_int_equal(pt_map(b, 0, va, 1, leaf(i + 9000)), VMSIM_OK);
    }
    unsigned same = 0;
    *refs1 = *refs2 = 0;
    for (unsigned i = 0; i < n; i++) {
        struct walk wa, wb;
        pt_walk(a, 0, 0x10000000ull + ((uint64_t)i << 12), NULL, &wa);
        pt_walk(b, 0, 0x10000000ull + ((uint64_t)i << 12), NULL, &wb);
        assert_int_equal(PTE_PFN(wa.pte), i + 1);
        assert_int_equal(PTE_PFN(wb.pte), i + 9000);
        same += wa.ref[0].pa == wb.ref[0].pa;
        *refs1 += wa.nrefs;
        *refs2 += wb.nrefs;
    }
    pt_destroy(a);
    pt_destroy(b);
    fx_fini(&f);
    return same;
}

static void test_hash_functions(void **state)
{
    struct fx f;
    fx_init(&f, 1ull << 30);
    struct pt *p = space(&f, "hash=xor,buckets=1024,load=0", 1);
    for (unsigned i = 0; i < 1024; i++)
        assert_int_equal(pt_map(p, 0, 0x30000000ull + ((uint64_t)i << 12), 1, leaf(i + 1)),
                         VMSIM_OK);
    for (unsigned i = 0; i < 1024; i++) {
        struct walk w;
        pt_walk(p, 0, 0x30000000ull + ((uint64_t)i << 12), NULL, &w);
        assert_int_equal(w.nrefs, 2);
    }
    pt_destroy(p);
    fx_fini(&f);

    uint64_t r1, r2;
    const unsigned n = 512;
    unsigned same = shared_buckets("scope=global,hash=xor,buckets=1024,load=0", n, &r1, &r2);
    print_message("xor: %u of %u homonym pairs share a bucket\n", same, n);
    assert_true(same <= 8);
    same = shared_buckets("scope=global,hash=mult,buckets=1024,load=0", n, &r1, &r2);
    print_message("mult: %u of %u homonym pairs share a bucket\n", same, n);
    assert_true(same <= 8);
    /* mod: VPN mod 1024, 512 consecutive pages, one pair per bucket */
    same = shared_buckets("scope=global,hash=mod,buckets=1024,load=0", n, &r1, &r2);
    assert_int_equal(same, n);
    assert_int_equal(r1, 3 * n); /* head, space 2's node, its own */
    assert_int_equal(r2, 2 * n);
}

/* ---- differential test against a list model ---- */

struct mleaf {
    unsigned level;
    vmsim_vaddr_t va; /* aligned */
    uint64_t pte;
};

struct model {
    struct mleaf l[512];
    unsigned n;
};

static uint64_t size_of(unsigned level) { return 1ull << (12 + 9 * (level - 1)); }

static struct mleaf *model_find(struct model *m, vmsim_vaddr_t va)
{
    for (unsigned i = 0; i < m->n; i++)
        if (va >= m->l[i].va && va - m->l[i].va < size_of(m->l[i].level))
            return &m->l[i];
    return NULL;
}

static int model_map(struct model *m, vmsim_vaddr_t va, unsigned level, uint64_t pte)
{
    const vmsim_vaddr_t lo = va & ~(size_of(level) - 1), hi = lo + size_of(level);
    for (unsigned i = 0; i < m->n; i++) {
        struct mleaf *x = &m->l[i];
        if (x->level == level && x->va == lo) {
            x->pte = pte;
            return VMSIM_OK;
        }
        if (x->va < hi && lo < x->va + size_of(x->level))
            return VMSIM_EEXIST;
    }
    m->l[m->n++] = (struct mleaf){level, lo, pte};
    return VMSIM_OK;
}

static void differential(const char *params, uint64_t seed)
{
    struct fx f;
    fx_init(&f, 1ull << 32);
    struct pt *p[2] = {space(&f, params, 1), space(&f, params, 2)};
    static struct model m[2];
    memset(m, 0, sizeof m);
    uint64_t x = seed;
    for (unsigned op = 0; op < 4000; op++) {
        const unsigned s = splitmix(&x) & 1, r = splitmix(&x) % 100;
        const uint64_t rnd = splitmix(&x);
        /* a few 1 GiB, 2 MiB and 4 KiB pages, so sizes collide often */
        const vmsim_vaddr_t va = ((rnd & 1) << 30) | (((rnd >> 1) & 3) << 21) |
                                 (((rnd >> 3) & 15) << 12) | ((rnd >> 7) & 4095);
        const unsigned level = r % 20 == 0 ? 3 : r % 5 == 0 ? 2 : 1;
        struct mleaf *ml = model_find(&m[s], va);
        if (r < 40 && m[s].n < 500) {
            const bool swap = (rnd >> 20) % 8 == 0;
            const uint64_t pte = swap ? ((op + 1ull) << PTE_PFN_SHIFT) | PTE_SWAP
                                      : leaf(op + 1) | (rnd >> 21 & 1 ? PTE_X : 0);
            const uint64_t stored = swap ? (pte | PTE_LEAF) : pte | PTE_P | PTE_LEAF;
            assert_int_equal(pt_map(p[s], 0, va, level, pte), model_map(&m[s], va, level, stored));
        } else if (r < 65) {
            uint64_t old = 1;
            const int rc = pt_unmap(p[s], 0, va, &old);
            assert_int_equal(rc, ml ? VMSIM_OK : VMSIM_ENOENT);
            assert_int_equal(old, ml ? ml->pte : 0);
            if (ml)
                *ml = m[s].l[--m[s].n];
        } else if (r < 75) {
            const int rc = pt_update(p[s], 0, va, PTE_D, PTE_W);
            assert_int_equal(rc, ml ? VMSIM_OK : VMSIM_ENOENT);
            if (ml)
                ml->pte = (ml->pte | PTE_D) & ~PTE_W;
        } else {
            unsigned k;
            assert_int_equal(pt_lookup(p[s], 0, va, &k), ml ? ml->pte : 0);
            assert_int_equal(k, ml ? ml->level : 0);
            struct walk w;
            pt_walk(p[s], 0, va, NULL, &w);
            if (ml && (ml->pte & PTE_P))
                ml->pte |= PTE_A;
            assert_int_equal(w.pte, ml ? ml->pte : 0);
            if (ml)
                assert_int_equal(w.level, ml->level);
        }
    }
    for (unsigned s = 0; s < 2; s++) {
        assert_int_equal(count_all(p[s]), m[s].n);
        for (unsigned i = 0; i < m[s].n; i++)
            assert_int_equal(pt_lookup(p[s], 0, m[s].l[i].va, NULL), m[s].l[i].pte);
    }
    pt_destroy(p[0]);
    pt_destroy(p[1]);
    fx_fini(&f);
}

static void test_differential(void **state)
{
    static const char *const params[] = {
        "buckets=1",
        "buckets=1,hash=zero",
        "buckets=1,hash=xor,step=3",
        "buckets=2,hash=mod,load=0.25",
        "collision=probe,buckets=1",
        "collision=probe,buckets=1,hash=zero",
        "collision=probe,buckets=1,hash=mod,load=0.9,step=2",
        "collision=probe,buckets=4,hash=xor,load=0.1",
        "scope=global,buckets=1",
        "scope=global,buckets=1,hash=mod,step=2",
        "scope=global,collision=probe,buckets=1",
        "scope=global,collision=probe,buckets=2,hash=xor,load=0.3",
    };
    for (unsigned i = 0; i < sizeof params / sizeof *params; i++)
        for (uint64_t seed = 1; seed <= 3; seed++)
            differential(params[i], seed * 1000 + i);
}


/* The host array of a large bucket table (issue 12): buckets=2^22 heads of
 * 4 bytes are 16 MiB, mapped on their own with transparent huge pages
 * refused (VmFlags "nh" in /proc/self/smaps, where the kernel has THP), so
 * a key that hashes into it costs one 4 KiB host page, not 2 MiB. 512 keys
 * scattered over the table touch at most 512 pages: Rss <= 512 x 4 kB =
 * 2048 kB (with 2 MiB pages it would be the whole 16 MiB). */
static void test_large_table_host_pages(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 256ull << 20); /* 16 MiB of simulated buckets fit */
    struct pt *p = space(&f, "buckets=4194304,load=0", 1);
    for (uint64_t i = 0; i < 512; i++) /* 1 GiB apart: a new bucket page each, likely */
        assert_int_equal(pt_map(p, 0, (i << 30) | 0x1000, 1, leaf(1000 + i)), VMSIM_OK);
    FILE *sm = fopen("/proc/self/smaps", "r");
    if (!sm) {
        pt_destroy(p);
        fx_fini(&f);
        skip();
    }
    char line[512];
    bool in = false, found = false;
    unsigned long long size = 0, rss = 0;
    while (fgets(line, sizeof line, sm)) {
        unsigned long long v;
        if (sscanf(line, "Size: %llu kB", &v) == 1) {
            in = v == 16384;
            size = v;
        } else if (in && sscanf(line, "Rss: %llu kB", &v) == 1) {
            rss = v;
        } else if (in && !strncmp(line, "VmFlags:", 8)) {
            const bool thp = access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0;
            if (thp && !strstr(line, " nh"))
                fail_msg("the 16 MiB bucket array allows huge pages: %s", line);
            found = true;
            break;
        }
    }
    fclose(sm);
    if (!found)
        fail_msg("no 16 MiB mapping for the bucket array (last size %llu kB)", size);
    if (rss > 2048)
        fail_msg("the bucket array holds %llu kB for 512 keys, expected at most 2048", rss);
    pt_destroy(p);
    fx_fini(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options),         cmocka_unit_test(test_semantics_all_options),
        cmocka_unit_test(test_global_homonyms), cmocka_unit_test(test_walk_addresses),
        cmocka_unit_test(test_zero_hash),       cmocka_unit_test(test_resize_chain),
        cmocka_unit_test(test_resize_probe),    cmocka_unit_test(test_formula_chaining),
        cmocka_unit_test(test_formula_probing), cmocka_unit_test(test_footprint),
        cmocka_unit_test(test_out_of_frames),   cmocka_unit_test(test_visit),
        cmocka_unit_test(test_hash_functions),  cmocka_unit_test(test_differential),
        cmocka_unit_test(test_large_table_host_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
