/* The PowerPC hashed page table on its own: sizing from physical memory,
 * entries, swap entries, primary and secondary groups, eviction and refill
 * from the backing tables, homonyms in the global table, destroying one
 * space, options, running out of frames, and a differential run against a
 * plain array.
 *
 * Expected numbers by hand: Linux's htab_shift_for_mem_size gives
 * 2^max(ceil(log2 mem) - (page shift + 1) + 7, 18) bytes; groups are 128
 * bytes (8 x 16); the hash of page index p in segment 0 of space s is
 * VSID(s) ^ p with VSID(s) = (s << 21) x 12538073 mod (2^40 - 1):
 * VSID(1) = 1005477429271 and VSID(2) = 911443230767 (computed apart from
 * vmsim), both 3 mod 4. With 4 groups, pages p = 0 mod 4 of either space
 * have primary group 3 ^ 0 = 3 and secondary group 0. The table is the
 * first allocation of a fresh memory: frame 0, so group g, slot i is at
 * physical address g * 128 + i * 16. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phys/phys.h"
#include "pt/pt.h"
#include "testutil.h"

extern const struct pt_ops pt_ppc_ops;

struct fx {
    struct vmsim_geometry g;
    struct phys phys;
    struct pt_counters counters;
    struct pt *pt;
};

static struct fx *fx_geom(const char *geom, const char *params, uint64_t phys_bytes, int *rc)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(vmsim_geometry_preset(geom, &f->g), VMSIM_OK);
    assert_int_equal(phys_init(&f->phys, phys_bytes, f->g.page_shift), VMSIM_OK);
    const struct pt_env env = {&f->g, &f->phys, params, NULL, 1, &f->counters};
    *rc = pt_create(&pt_ppc_ops, &env, &f->pt);
    return f;
}

static struct fx *fx_new(const char *params)
{
    int rc;
    struct fx *f = fx_geom("x86-64", params, 1ull << 30, &rc);
    assert_int_equal(rc, VMSIM_OK);
    return f;
}

static void fx_free(struct fx *f)
{
    pt_destroy(f->pt);
    assert_int_equal(f->phys.used, 0);
    phys_fini(&f->phys);
    free(f);
}

static uint64_t leaf(uint64_t pfn) { return (pfn << PTE_PFN_SHIFT) | PTE_W | PTE_U; }
static vmsim_vaddr_t vpn(uint64_t n) { return n << 12; }

static struct vmsim_pt_footprint fp_of(struct pt *pt)
{
    struct vmsim_pt_footprint fp;
    memset(&fp, 0, sizeof fp);
    pt_footprint(pt, &fp);
    return fp;
}

static uint64_t part(const struct vmsim_pt_footprint *fp, const char *name)
{
    for (unsigned i = 0; i < fp->nparts; i++)
        if (!strcmp(fp->part[i].name, name))
            return fp->part[i].bytes;
    return UINT64_MAX;
}

/* Table bytes for a memory size, by Linux's rule; the frames it takes. */
static void test_sizing(void **state)
{
    const struct {
        const char *geom, *params;
        uint64_t mem, bytes;
    } c[] = {
        {"x86-64", "", 1ull << 30, 16ull << 20},    /* 2^(30-13+7): 1/64 of memory */
        {"x86-64", "", 256ull << 20, 4ull << 20},   /* 2^(28-13+7) */
        {"x86-64", "", 100ull << 20, 2ull << 20},   /* 128 MiB: 2^(27-13+7) */
        {"x86-64", "", 16ull << 20, 256ull << 10},  /* 2^(24-13+7) = 2^18 */
        {"x86-64", "", 8ull << 20, 256ull << 10},   /* 2^17 < the 2^18 minimum */
        {"arm64-64k", "", 1ull << 30, 1ull << 20},  /* 2^(30-17+7): 1/1024 */
        {"x86-64", "size=1m", 1ull << 30, 1ull << 20},
        {"x86-64", "groups=4", 1ull << 30, 512},
    };
    for (unsigned i = 0; i < sizeof c / sizeof *c; i++) {
        int rc;
        struct fx *f = fx_geom(c[i].geom, c[i].params, c[i].mem, &rc);
        assert_int_equal(rc, VMSIM_OK);
        const struct vmsim_pt_footprint fp = fp_of(f->pt);
        if (part(&fp, "hash table") != c[i].bytes)
            fail_msg("%s %s, %llu bytes of memory: table of %llu bytes, expected %llu", c[i].geom,
                     c[i].params, (unsigned long long)c[i].mem,
                     (unsigned long long)part(&fp, "hash table"), (unsigned long long)c[i].bytes);
        /* the table's frames (at least one), plus the backing tables' root */
        const uint64_t frame = 1ull << f->g.page_shift;
        const uint64_t frames = c[i].bytes < frame ? 1 : c[i].bytes / frame;
        assert_int_equal(f->phys.used, frames + 1);
        fx_free(f);
    }
}

static void test_map_find_update_unmap(void **state)
{
    struct fx *f = fx_new("");
    const vmsim_vaddr_t va = 0x7f1234567000ull;
    assert_int_equal(pt_map(f->pt, 0, va, 1, leaf(42)), VMSIM_OK);
    unsigned level = 0;
    assert_int_equal(pt_lookup(f->pt, 0, va + 0x123, &level), leaf(42) | PTE_P | PTE_LEAF);
    assert_int_equal(level, 1);
    assert_int_equal(pt_lookup(f->pt, 0, va + 0x1000, NULL), 0);
    struct walk w;
    pt_walk(f->pt, 0, va, NULL, &w);
    assert_int_equal(w.pte, leaf(42) | PTE_P | PTE_LEAF | PTE_A);
    assert_int_equal(w.level, 1);
    assert_int_equal(w.top, 0);
    assert_int_equal(w.nrefs, 1); /* the first slot of an empty primary group */
    assert_int_equal(w.ref[0].level, 1);
    assert_true(pt_lookup(f->pt, 0, va, NULL) & PTE_A);
    assert_int_equal(pt_update(f->pt, 0, va, PTE_D, PTE_W), VMSIM_OK);
    pt_walk(f->pt, 0, va, NULL, &w);
    assert_int_equal(w.nrefs, 1);
    assert_true(w.pte & PTE_D);
    assert_false(w.pte & PTE_W);
    assert_int_equal(pt_update(f->pt, 0, va + 0x1000, PTE_D, 0), VMSIM_ENOENT);
    assert_int_equal(pt_map(f->pt, 0, va, 1, leaf(43)), VMSIM_OK); /* replaced */
    pt_walk(f->pt, 0, va, NULL, &w);
    assert_int_equal(PTE_PFN(w.pte), 43);
    assert_int_equal(w.nrefs, 1);
    uint64_t old;
    assert_int_equal(pt_unmap(f->pt, 0, va, &old), VMSIM_OK);
    assert_int_equal(PTE_PFN(old), 43);
    assert_int_equal(pt_unmap(f->pt, 0, va, &old), VMSIM_ENOENT);
    assert_int_equal(old, 0);
    /* gone: both groups (16 entries), then the backing tables' root entry
     * (the tree was freed with its last page) */
    pt_walk(f->pt, 0, va, NULL, &w);
    assert_int_equal(w.pte, 0);
    assert_int_equal(w.nrefs, 16 + 1);
    assert_int_equal(w.ref[8].level, 2);
    assert_int_equal(w.ref[16].level, 3);
    fx_free(f);
}

/* Eight pages fill their primary group, eight more their secondary, the
 * seventeenth evicts; a miss in both groups reads the backing tables and
 * refills, evicting the next slot. */
static void test_primary_secondary_eviction(void **state)
{
    struct fx *f = fx_new("groups=4");
    struct walk w;
    for (unsigned j = 0; j < 8; j++)
        assert_int_equal(pt_map(f->pt, 0, vpn(4 * j), 1, leaf(100 + j)), VMSIM_OK);
    for (unsigned j = 0; j < 8; j++) {
        pt_walk(f->pt, 0, vpn(4 * j), NULL, &w);
        assert_int_equal(w.nrefs, j + 1);
        for (unsigned i = 0; i <= j; i++) {
            assert_int_equal(w.ref[i].pa, 3 * 128 + 16 * i);
            assert_int_equal(w.ref[i].level, 1);
        }
        assert_int_equal(PTE_PFN(w.pte), 100 + j);
    }
    for (unsigned j = 0; j < 8; j++)
        assert_int_equal(pt_map(f->pt, 0, vpn(32 + 4 * j), 1, leaf(200 + j)), VMSIM_OK);
    assert_int_equal(f->counters.evicted, 0);
    for (unsigned j = 0; j < 8; j++) {
        pt_walk(f->pt, 0, vpn(32 + 4 * j), NULL, &w);
        assert_int_equal(w.nrefs, 8 + j + 1);
        assert_int_equal(w.ref[8 + j].pa, 0 * 128 + 16 * j);
        assert_int_equal(w.ref[8 + j].level, 2);
        assert_int_equal(PTE_PFN(w.pte), 200 + j);
    }
    /* both full: page 64 takes primary slot 0, page 0's */
    assert_int_equal(pt_map(f->pt, 0, vpn(64), 1, leaf(300)), VMSIM_OK);
    assert_int_equal(f->counters.evicted, 1);
    pt_walk(f->pt, 0, vpn(64), NULL, &w);
    assert_int_equal(w.nrefs, 1);
    assert_int_equal(PTE_PFN(pt_lookup(f->pt, 0, vpn(0), NULL)), 100); /* kept by the backing */
    /* page 0: 16 entries, 4 radix references, refilled over slot 1 (page 4) */
    pt_walk(f->pt, 0, vpn(0), NULL, &w);
    assert_int_equal(w.nrefs, 16 + 4);
    for (unsigned i = 16; i < 20; i++)
        assert_int_equal(w.ref[i].level, 3);
    assert_int_equal(w.pte, leaf(100) | PTE_P | PTE_LEAF | PTE_A);
    assert_int_equal(f->counters.evicted, 2);
    pt_walk(f->pt, 0, vpn(0), NULL, &w);
    assert_int_equal(w.nrefs, 2);
    pt_walk(f->pt, 0, vpn(4), NULL, &w);
    assert_int_equal(w.nrefs, 20);
    assert_int_equal(PTE_PFN(w.pte), 101);
    assert_int_equal(f->counters.evicted, 3); /* page 4 went to slot 2, page 8's */
    /* a free primary slot takes the next insert without eviction */
    assert_int_equal(pt_unmap(f->pt, 0, vpn(12), NULL), VMSIM_OK); /* slot 3 */
    assert_int_equal(pt_map(f->pt, 0, vpn(68), 1, leaf(301)), VMSIM_OK);
    assert_int_equal(f->counters.evicted, 3);
    pt_walk(f->pt, 0, vpn(68), NULL, &w);
    assert_int_equal(w.nrefs, 4);
    /* every page is still there */
    for (unsigned j = 0; j < 8; j++) {
        if (j != 3)
            assert_int_equal(PTE_PFN(pt_lookup(f->pt, 0, vpn(4 * j), NULL)), 100 + j);
        assert_int_equal(PTE_PFN(pt_lookup(f->pt, 0, vpn(32 + 4 * j), NULL)), 200 + j);
    }
    fx_free(f);
}

/* One table for every space: the same page of two spaces, two entries; a
 * destroyed space's entries leave the table, the other's stay. */
static void test_homonyms_and_destroy(void **state)
{
    struct vmsim_geometry g;
    struct phys phys;
    struct pt_counters counters = {0};
    void *shared = NULL;
    assert_int_equal(vmsim_geometry_preset("x86-64", &g), VMSIM_OK);
    assert_int_equal(phys_init(&phys, 1ull << 30, g.page_shift), VMSIM_OK);
    struct pt *a, *b;
    const struct pt_env ea = {&g, &phys, "groups=4", &shared, 1, &counters};
    const struct pt_env eb = {&g, &phys, "groups=4", &shared, 2, &counters};
    assert_int_equal(pt_create(&pt_ppc_ops, &ea, &a), VMSIM_OK);
    assert_non_null(shared);
    assert_int_equal(pt_create(&pt_ppc_ops, &eb, &b), VMSIM_OK);
    assert_int_equal(phys.used, 1 + 2); /* one table, two roots */
    assert_int_equal(pt_map(a, 0, vpn(0), 1, leaf(100)), VMSIM_OK); /* group 3, slot 0 */
    assert_int_equal(pt_map(b, 0, vpn(0), 1, leaf(200)), VMSIM_OK); /* slot 1 */
    assert_int_equal(pt_map(a, 0, vpn(4), 1, leaf(104)), VMSIM_OK); /* slot 2 */
    assert_int_equal(pt_map(a, 0, vpn(8), 1, leaf(108)), VMSIM_OK); /* slot 3 */
    struct walk w;
    pt_walk(b, 0, vpn(0), NULL, &w);
    assert_int_equal(w.nrefs, 2);
    assert_int_equal(w.ref[1].pa, 3 * 128 + 16);
    assert_int_equal(PTE_PFN(w.pte), 200);
    pt_walk(a, 0, vpn(0), NULL, &w);
    assert_int_equal(w.nrefs, 1);
    assert_int_equal(PTE_PFN(w.pte), 100);
    /* the table is counted once, by shared_footprint */
    struct vmsim_pt_footprint fp = fp_of(a);
    assert_int_equal(part(&fp, "hash table"), UINT64_MAX);
    memset(&fp, 0, sizeof fp);
    pt_ppc_ops.shared_footprint(shared, &fp);
    assert_int_equal(part(&fp, "hash table"), 512);
    assert_int_equal(fp.bytes, 512);
    pt_destroy(a); /* slots 0, 2, 3 free again */
    pt_walk(b, 0, vpn(0), NULL, &w);
    assert_int_equal(w.nrefs, 2);
    assert_int_equal(PTE_PFN(w.pte), 200);
    for (unsigned j = 1; j < 8; j++)
        assert_int_equal(pt_map(b, 0, vpn(4 * j), 1, leaf(200 + j)), VMSIM_OK);
    assert_int_equal(counters.evicted, 0);
    pt_walk(b, 0, vpn(4), NULL, &w); /* slot 0 */
    assert_int_equal(w.nrefs, 1);
    pt_walk(b, 0, vpn(28), NULL, &w); /* slot 7 */
    assert_int_equal(w.nrefs, 8);
    assert_int_equal(pt_map(b, 0, vpn(32), 1, leaf(232)), VMSIM_OK); /* secondary, slot 0 */
    pt_walk(b, 0, vpn(32), NULL, &w);
    assert_int_equal(w.nrefs, 9);
    assert_int_equal(w.ref[8].pa, 0);
    assert_int_equal(counters.evicted, 0);
    pt_destroy(b);
    pt_ppc_ops.shared_destroy(shared);
    assert_int_equal(phys.used, 0);
    phys_fini(&phys);
}

/* Swap entries live in the backing tables only: a walk misses both groups
 * and finds them there, without refilling. */
static void test_swap_entries(void **state)
{
    struct fx *f = fx_new("groups=4");
    const uint64_t swp = (77ull << PTE_PFN_SHIFT) | PTE_SWAP | PTE_W | PTE_U;
    assert_int_equal(pt_map(f->pt, 0, vpn(0), 1, swp), VMSIM_OK);
    assert_int_equal(pt_lookup(f->pt, 0, vpn(0), NULL), swp | PTE_LEAF);
    struct walk w;
    for (unsigned k = 0; k < 2; k++) {
        pt_walk(f->pt, 0, vpn(0), NULL, &w);
        assert_int_equal(w.nrefs, 16 + 4);
        assert_int_equal(w.pte, swp | PTE_LEAF);
    }
    assert_int_equal(pt_map(f->pt, 0, vpn(0), 1, leaf(5)), VMSIM_OK);
    pt_walk(f->pt, 0, vpn(0), NULL, &w);
    assert_int_equal(w.nrefs, 1);
    assert_int_equal(PTE_PFN(w.pte), 5);
    /* out again, as the kernel's reclaim does it: the entry leaves the HPT */
    assert_int_equal(pt_update(f->pt, 0, vpn(0), swp, ~swp), VMSIM_OK);
    pt_walk(f->pt, 0, vpn(0), NULL, &w);
    assert_int_equal(w.nrefs, 20);
    assert_int_equal(w.pte, swp | PTE_LEAF);
    uint64_t old;
    assert_int_equal(pt_unmap(f->pt, 0, vpn(0), &old), VMSIM_OK);
    assert_int_equal(old, swp | PTE_LEAF);
    assert_int_equal(f->counters.evicted, 0);
    fx_free(f);
}

/* The accessed bit: set by a walk in the table and in the OS's copy,
 * cleared by update in both. */
static void test_accessed_bit(void **state)
{
    struct fx *f = fx_new("groups=4");
    assert_int_equal(pt_map(f->pt, 0, vpn(1), 1, leaf(9)), VMSIM_OK);
    assert_false(pt_lookup(f->pt, 0, vpn(1), NULL) & PTE_A);
    struct walk w;
    pt_walk(f->pt, 0, vpn(1), NULL, &w);
    assert_true(w.pte & PTE_A);
    assert_true(pt_lookup(f->pt, 0, vpn(1), NULL) & PTE_A);
    assert_int_equal(pt_update(f->pt, 0, vpn(1), 0, PTE_A), VMSIM_OK);
    assert_false(pt_lookup(f->pt, 0, vpn(1), NULL) & PTE_A);
    pt_walk(f->pt, 0, vpn(1), NULL, &w);
    assert_int_equal(w.nrefs, 1);
    assert_true(w.pte & PTE_A);
    assert_true(pt_lookup(f->pt, 0, vpn(1), NULL) & PTE_A);
    fx_free(f);
}

/* Base pages only: a huge page is refused with EEXIST (the kernel falls
 * back), a level that holds no leaves with EINVAL. */
static void test_huge_pages_refused(void **state)
{
    struct fx *f = fx_new("groups=4");
    assert_int_equal(pt_map(f->pt, 0, 0x200000, 2, leaf(512)), VMSIM_EEXIST);
    assert_int_equal(pt_map(f->pt, 0, 0x40000000, 3, leaf(1 << 18)), VMSIM_EEXIST);
    assert_int_equal(pt_map(f->pt, 0, 0, 4, leaf(0)), VMSIM_EINVAL);
    assert_int_equal(pt_map(f->pt, 0, 0, 0, leaf(0)), VMSIM_EINVAL);
    assert_int_equal(pt_lookup(f->pt, 0, 0x200000, NULL), 0);
    fx_free(f);
}

struct seen {
    vmsim_vaddr_t va[16];
    unsigned n;
};

static int record(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t e)
{
    struct seen *s = ctx;
    s->va[s->n++] = va;
    return 0;
}

static void test_visit_and_footprint(void **state)
{
    struct fx *f = fx_new("groups=4");
    assert_int_equal(pt_map(f->pt, 0, vpn(5), 1, leaf(5)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, vpn(1), 1, leaf(1)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, vpn(3), 1, leaf(3)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, vpn(2), 1, (2ull << PTE_PFN_SHIFT) | PTE_SWAP), VMSIM_OK);
    struct seen s = {0};
    assert_int_equal(pt_visit(f->pt, 0, vpn(2), vpn(6), record, &s), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.va[0], vpn(2));
    assert_int_equal(s.va[1], vpn(3));
    assert_int_equal(s.va[2], vpn(5));
    /* a private table: 512 bytes; the backing tree: root + 3 tables */
    const struct vmsim_pt_footprint fp = fp_of(f->pt);
    assert_int_equal(part(&fp, "hash table"), 512);
    assert_int_equal(part(&fp, "backing"), 4 * 4096);
    assert_int_equal(fp.bytes, 512 + 3 * 4096);
    assert_int_equal(fp.root_bytes, 4096);
    assert_int_equal(fp.pages[1], 4);
    for (unsigned k = 1; k <= 4; k++)
        assert_int_equal(fp.tables[k], 1);
    fx_free(f);
}

static void test_out_of_frames(void **state)
{
    int rc;
    /* the table takes the only frame; the backing root finds none */
    struct fx *f = fx_geom("x86-64", "groups=4", 4096, &rc);
    assert_int_equal(rc, VMSIM_ENOFRAME);
    assert_int_equal(f->phys.used, 0);
    phys_fini(&f->phys);
    free(f);
    /* a table larger than memory */
    f = fx_geom("x86-64", "size=64k", 8 * 4096, &rc);
    assert_int_equal(rc, VMSIM_ENOFRAME);
    assert_int_equal(f->phys.used, 0);
    phys_fini(&f->phys);
    free(f);
    /* 3 frames: table, root, and one of the three tables a page needs */
    f = fx_geom("x86-64", "groups=4", 3 * 4096, &rc);
    assert_int_equal(rc, VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, vpn(0), 1, leaf(1)), VMSIM_ENOFRAME);
    assert_int_equal(f->phys.used, 2);
    struct walk w;
    pt_walk(f->pt, 0, vpn(0), NULL, &w);
    assert_int_equal(w.pte, 0);
    assert_int_equal(w.nrefs, 16 + 1);
    fx_free(f);
}

static void test_options(void **state)
{
    char why[256];
    const char *good[] = {"", "size=256k", "groups=2", "size=1m", "groups=1k"};
    for (unsigned i = 0; i < sizeof good / sizeof *good; i++)
        assert_int_equal(pt_ppc_ops.check(good[i], why, sizeof why), VMSIM_OK);
    const struct {
        const char *params, *says;
    } bad[] = {
        {"size=100", "size: expected a power of two"},
        {"size=128", "size: expected a power of two of at least 256"},
        {"groups=3", "groups: expected a power of two"},
        {"groups=1", "groups: expected a power of two of at least 2"},
        {"cluster=4", "unknown option: ppc takes size=BYTES or groups=N"},
        {"size=1m,groups=8", "one of them"},
        {"size", "ppc takes"},
    };
    for (unsigned i = 0; i < sizeof bad / sizeof *bad; i++) {
        why[0] = '\0';
        assert_int_equal(pt_ppc_ops.check(bad[i].params, why, sizeof why), VMSIM_EINVAL);
        if (!strstr(why, bad[i].says))
            fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].params, why, bad[i].says);
    }
    int rc;
    struct fx *f = fx_geom("x86-64", "groups=3", 1ull << 30, &rc);
    assert_int_equal(rc, VMSIM_EINVAL);
    phys_fini(&f->phys);
    free(f);
}

/* Two spaces on a 2-group table (16 entries for up to 2048 pages): every
 * insert evicts and every other walk refills, and translations stay those
 * of a plain array. */
static void test_differential(void **state)
{
    struct vmsim_geometry g;
    struct phys phys;
    struct pt_counters counters = {0};
    void *shared = NULL;
    assert_int_equal(vmsim_geometry_preset("x86-64", &g), VMSIM_OK);
    assert_int_equal(phys_init(&phys, 1ull << 30, g.page_shift), VMSIM_OK);
    struct pt *pt[2];
    for (unsigned s = 0; s < 2; s++) {
        const struct pt_env env = {&g, &phys, "groups=2", &shared, 10 + s, &counters};
        assert_int_equal(pt_create(&pt_ppc_ops, &env, &pt[s]), VMSIM_OK);
    }
    enum { N = 1024 };
    static uint64_t model[2][N];
    memset(model, 0, sizeof model);
    uint64_t x = 777;
    for (unsigned step = 0; step < 200000; step++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        const unsigned r = (unsigned)(x >> 33);
        const unsigned s = r & 1, i = (r >> 1) % N;
        /* three segments: different VSIDs */
        const vmsim_vaddr_t va = ((uint64_t)(i % 3) << 28) + (uint64_t)(i / 3) * 0x1000;
        uint64_t *m = &model[s][i];
        switch ((r >> 12) % 4) {
        case 0: {
            const uint64_t e =
                (r >> 20) & 3 ? leaf(i + 1) : ((uint64_t)(i + 1) << PTE_PFN_SHIFT) | PTE_SWAP;
            assert_int_equal(pt_map(pt[s], 0, va, 1, e), VMSIM_OK);
            *m = (e & PTE_SWAP) ? e | PTE_LEAF : e | PTE_P | PTE_LEAF;
            break;
        }
        case 1: {
            uint64_t old;
            assert_int_equal(pt_unmap(pt[s], 0, va, &old), *m ? VMSIM_OK : VMSIM_ENOENT);
            assert_int_equal(old, *m);
            *m = 0;
            break;
        }
        case 2:
            assert_int_equal(pt_update(pt[s], 0, va, PTE_D, PTE_W | PTE_A),
                             *m ? VMSIM_OK : VMSIM_ENOENT);
            if (*m)
                *m = (*m | PTE_D) & ~(PTE_W | PTE_A);
            break;
        default: {
            struct walk w;
            pt_walk(pt[s], 0, va, NULL, &w);
            if (*m & PTE_P)
                *m |= PTE_A;
            assert_int_equal(w.pte, *m);
            assert_true(w.nrefs >= 1 && w.nrefs <= 16 + 4);
            assert_int_equal(pt_lookup(pt[s], 0, va, NULL), *m);
        }
        }
    }
    assert_true(counters.evicted > 1000);
    pt_destroy(pt[0]);
    for (unsigned i = 0; i < N; i++) {
        const vmsim_vaddr_t va = ((uint64_t)(i % 3) << 28) + (uint64_t)(i / 3) * 0x1000;
        uint64_t e = pt_lookup(pt[1], 0, va, NULL);
        assert_int_equal(e, model[1][i]);
    }
    pt_destroy(pt[1]);
    pt_ppc_ops.shared_destroy(shared);
    assert_int_equal(phys.used, 0);
    phys_fini(&phys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizing),
        cmocka_unit_test(test_map_find_update_unmap),
        cmocka_unit_test(test_primary_secondary_eviction),
        cmocka_unit_test(test_homonyms_and_destroy),
        cmocka_unit_test(test_swap_entries),
        cmocka_unit_test(test_accessed_bit),
        cmocka_unit_test(test_huge_pages_refused),
        cmocka_unit_test(test_visit_and_footprint),
        cmocka_unit_test(test_out_of_frames),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_differential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
