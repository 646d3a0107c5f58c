/* The radix page table on its own: walk lengths, reference addresses,
 * table counts and bytes for hand-computed layouts, freeing. */
#include <stdlib.h>
#include <string.h>

#include "phys/phys.h"
#include "pt/pt.h"
#include "testutil.h"

struct fixture {
    struct vmsim_geometry g;
    struct phys phys;
    struct pt *pt;
};

static struct fixture *setup_geom(const char *name)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_int_equal(vmsim_geometry_preset(name, &f->g), VMSIM_OK);
    assert_int_equal(phys_init(&f->phys, 1ull << 40, f->g.page_shift), VMSIM_OK);
    static struct pt_counters counters;
    const struct pt_env env = {&f->g, &f->phys, "", NULL, 1, &counters};
    assert_int_equal(pt_create(&pt_radix_ops, &env, &f->pt), VMSIM_OK);
    return f;
}

static void teardown_geom(struct fixture *f)
{
    pt_destroy(f->pt);
    phys_fini(&f->phys);
    free(f);
}

static uint64_t leaf(uint64_t pfn) { return (pfn << PTE_PFN_SHIFT) | PTE_W | PTE_U; }

/* A cold walk of an L-level tree reads L entries; a leaf at level k skips
 * k-1 levels. For every preset and every leaf level it allows. */
static void test_walk_lengths(void **state)
{
    for (const char *const *n = vmsim_geometry_names; *n; n++) {
        struct fixture *f = setup_geom(*n);
        unsigned L = f->g.levels;
        for (unsigned k = 1; k <= L; k++) {
            if (!(f->g.leaf_levels & (1u << k)) || k == L)
                continue;
            /* a distinct, aligned address per level: region k of the space */
            uint64_t size = 1ull << vmsim_geometry_page_shift(&f->g, k);
            vmsim_vaddr_t va = (uint64_t)k * size * 3;
            assert_int_equal(pt_map(f->pt, 0, va, k, leaf(100 + k)), VMSIM_OK);
            struct walk w;
            pt_walk(f->pt, 0, va + size / 2, NULL, &w);
            assert_true(w.pte & PTE_P);
            assert_int_equal(w.level, k);
            assert_int_equal(w.nrefs, L - (k - 1));
            assert_int_equal(PTE_PFN(w.pte), 100 + k);
        }
        teardown_geom(f);
    }
}

/* The reference addresses: table base + index * entry size, indices from
 * the SDM's split of a 48-bit address into 9-bit fields above bit 12. */
static void test_walk_addresses(void **state)
{
    struct fixture *f = setup_geom("x86-64");
    vmsim_vaddr_t va = 0x00007f1234567abcull;
    assert_int_equal(pt_map(f->pt, 0, va, 1, leaf(7)), VMSIM_OK);
    struct walk w;
    pt_walk(f->pt, 0, va, NULL, &w);
    assert_int_equal(w.nrefs, 4);
    uint64_t idx[5] = {0, (va >> 12) & 511, (va >> 21) & 511, (va >> 30) & 511, (va >> 39) & 511};
    for (unsigned i = 0; i < 4; i++) {
        unsigned level = 4 - i;
        assert_int_equal(w.ref[i].level, level);
        assert_int_equal(w.ref[i].pa & 4095, idx[level] * 8);
    }
    /* root, then tables allocated in walk order: all distinct frames */
    assert_int_not_equal(w.ref[0].pa >> 12, w.ref[1].pa >> 12);
    assert_int_not_equal(w.ref[2].pa >> 12, w.ref[3].pa >> 12);
    /* x86-32: 4-byte entries, 10-bit indices */
    struct fixture *g = setup_geom("x86-32");
    va = 0xbfc01234;
    assert_int_equal(pt_map(g->pt, 0, va, 1, leaf(9)), VMSIM_OK);
    pt_walk(g->pt, 0, va, NULL, &w);
    assert_int_equal(w.nrefs, 2);
    assert_int_equal(w.ref[0].pa & 4095, (va >> 22) * 4);
    assert_int_equal(w.ref[1].pa & 4095, ((va >> 12) & 1023) * 4);
    teardown_geom(g);
    teardown_geom(f);
}

static struct vmsim_pt_footprint fp_of(struct fixture *f)
{
    struct vmsim_pt_footprint fp;
    memset(&fp, 0, sizeof fp);
    pt_footprint(f->pt, &fp);
    return fp;
}

/* One page: one table per level; bytes without the root = 3 x 4 KiB. */
static void test_bytes_one_page(void **state)
{
    struct fixture *f = setup_geom("x86-64");
    assert_int_equal(pt_map(f->pt, 0, 0x400000, 1, leaf(1)), VMSIM_OK);
    struct vmsim_pt_footprint fp = fp_of(f);
    for (unsigned k = 1; k <= 4; k++)
        assert_int_equal(fp.tables[k], 1);
    assert_int_equal(fp.bytes, 3 * 4096);
    assert_int_equal(fp.root_bytes, 4096);
    teardown_geom(f);
}

/* 512 contiguous pages in one 2 MiB-aligned block: still one leaf table. */
static void test_bytes_contiguous(void **state)
{
    struct fixture *f = setup_geom("x86-64");
    for (unsigned i = 0; i < 512; i++)
        assert_int_equal(pt_map(f->pt, 0, 0x40000000ull + i * 4096ull, 1, leaf(i)), VMSIM_OK);
    struct vmsim_pt_footprint fp = fp_of(f);
    assert_int_equal(fp.tables[1], 1);
    assert_int_equal(fp.pages[1], 512);
    assert_int_equal(fp.bytes, 3 * 4096);
    /* one more page past the block needs a second leaf table */
    assert_int_equal(pt_map(f->pt, 0, 0x40000000ull + 512 * 4096ull, 1, leaf(600)), VMSIM_OK);
    fp = fp_of(f);
    assert_int_equal(fp.tables[1], 2);
    assert_int_equal(fp.bytes, 4 * 4096);
    teardown_geom(f);
}

/* n pages 2 MiB apart inside one 1 GiB region: n leaf tables, one PD, one
 * PDPT: (n + 2) x 4 KiB. Then 1 GiB apart: a PD per page too. */
static void test_bytes_spread(void **state)
{
    struct fixture *f = setup_geom("x86-64");
    for (unsigned i = 0; i < 10; i++)
        assert_int_equal(pt_map(f->pt, 0, (uint64_t)i << 21, 1, leaf(i)), VMSIM_OK);
    struct vmsim_pt_footprint fp = fp_of(f);
    assert_int_equal(fp.tables[1], 10);
    assert_int_equal(fp.tables[2], 1);
    assert_int_equal(fp.tables[3], 1);
    assert_int_equal(fp.bytes, 12 * 4096);
    teardown_geom(f);

    f = setup_geom("x86-64");
    for (unsigned i = 0; i < 10; i++)
        assert_int_equal(pt_map(f->pt, 0, (uint64_t)i << 30, 1, leaf(i)), VMSIM_OK);
    fp = fp_of(f);
    assert_int_equal(fp.tables[1], 10);
    assert_int_equal(fp.tables[2], 10);
    assert_int_equal(fp.tables[3], 1);
    assert_int_equal(fp.bytes, 21 * 4096);
    teardown_geom(f);
}

/* Huge pages need no leaf table; a 1 GiB page needs no PD either. */
static void test_bytes_huge(void **state)
{
    struct fixture *f = setup_geom("x86-64");
    assert_int_equal(pt_map(f->pt, 0, 0x200000, 2, leaf(512)), VMSIM_OK);
    struct vmsim_pt_footprint fp = fp_of(f);
    assert_int_equal(fp.tables[1], 0);
    assert_int_equal(fp.bytes, 2 * 4096);
    assert_int_equal(pt_map(f->pt, 0, 1ull << 40, 3, leaf(1 << 18)), VMSIM_OK);
    fp = fp_of(f);
    assert_int_equal(fp.tables[2], 1);
    assert_int_equal(fp.tables[3], 2);
    assert_int_equal(fp.pages[2], 1);
    assert_int_equal(fp.pages[3], 1);
    /* a base page inside the 2 MiB page's block conflicts */
    assert_int_equal(pt_map(f->pt, 0, 0x201000, 1, leaf(3)), VMSIM_EEXIST);
    /* and a 2 MiB page over an existing leaf table too */
    assert_int_equal(pt_map(f->pt, 0, 0x400000, 1, leaf(4)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, 0x400000, 2, leaf(1024)), VMSIM_EEXIST);
    /* deposit adds one level-1 table */
    fp = fp_of(f);
    uint64_t before = fp.bytes;
    assert_int_equal(pt_deposit(f->pt), VMSIM_OK);
    fp = fp_of(f);
    assert_int_equal(fp.bytes, before + 4096);
    teardown_geom(f);
}

/* Unmapping frees tables that become empty, down to the root; frames
 * return to physical memory. */
static void test_unmap_frees(void **state)
{
    struct fixture *f = setup_geom("x86-64");
    uint64_t base_used = f->phys.used; /* the root */
    assert_int_equal(base_used, 1);
    assert_int_equal(pt_map(f->pt, 0, 0x1000, 1, leaf(1)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, 0x2000, 1, leaf(2)), VMSIM_OK);
    assert_int_equal(f->phys.used, 4);
    uint64_t old;
    assert_int_equal(pt_unmap(f->pt, 0, 0x1000, &old), VMSIM_OK);
    assert_int_equal(PTE_PFN(old), 1);
    assert_int_equal(f->phys.used, 4);
    assert_int_equal(pt_unmap(f->pt, 0, 0x2000, &old), VMSIM_OK);
    assert_int_equal(f->phys.used, 1);
    assert_int_equal(pt_unmap(f->pt, 0, 0x2000, &old), VMSIM_ENOENT);
    struct vmsim_pt_footprint fp = fp_of(f);
    assert_int_equal(fp.bytes, 0);
    assert_int_equal(fp.root_bytes, 4096);
    struct walk w;
    pt_walk(f->pt, 0, 0x2000, NULL, &w);
    assert_int_equal(w.nrefs, 1);
    assert_int_equal(w.pte, 0);
    teardown_geom(f);
}

/* update changes flags in place; visit sees every leaf once. */
static int count_leaf(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t pte)
{
    (*(unsigned *)ctx)++;
    return 0;
}

static void test_update_visit(void **state)
{
    struct fixture *f = setup_geom("sv39");
    assert_int_equal(pt_map(f->pt, 0, 0x5000, 1, leaf(5)), VMSIM_OK);
    assert_int_equal(pt_map(f->pt, 0, 1ull << 30, 3, leaf(1 << 18)), VMSIM_OK);
    assert_int_equal(pt_update(f->pt, 0, 0x5000, PTE_D, PTE_W), VMSIM_OK);
    struct walk w;
    pt_walk(f->pt, 0, 0x5000, NULL, &w);
    assert_true(w.pte & PTE_D);
    assert_false(w.pte & PTE_W);
    unsigned n = 0;
    assert_int_equal(pt_visit(f->pt, 0, 0, UINT64_MAX, count_leaf, &n), 0);
    assert_int_equal(n, 2);
    n = 0;
    assert_int_equal(pt_visit(f->pt, 0, 0, 0x6000, count_leaf, &n), 0);
    assert_int_equal(n, 1);
    teardown_geom(f);
}

/* Out of simulated frames: a clean error, nothing leaked. */
static void test_out_of_frames(void **state)
{
    struct vmsim_geometry g;
    struct phys phys;
    struct pt *pt;
    vmsim_geometry_preset("x86-64", &g);
    assert_int_equal(phys_init(&phys, 3 * 4096, 12), VMSIM_OK);
    struct pt_counters counters = {0};
    const struct pt_env env = {&g, &phys, "", NULL, 1, &counters};
    assert_int_equal(pt_create(&pt_radix_ops, &env, &pt), VMSIM_OK);
    assert_int_equal(pt_map(pt, 0, 0x1000, 1, leaf(1)), VMSIM_ENOFRAME);
    assert_int_equal(phys.used, 1);
    pt_destroy(pt);
    assert_int_equal(phys.used, 0);
    phys_fini(&phys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk_lengths),    cmocka_unit_test(test_walk_addresses),
        cmocka_unit_test(test_bytes_one_page),  cmocka_unit_test(test_bytes_contiguous),
        cmocka_unit_test(test_bytes_spread),    cmocka_unit_test(test_bytes_huge),
        cmocka_unit_test(test_unmap_frees),     cmocka_unit_test(test_update_visit),
        cmocka_unit_test(test_out_of_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
