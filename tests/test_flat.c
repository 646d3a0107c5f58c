/* The flat (single-level) page table on its own: one reference per walk at
 * base + vpn * pte_bytes, base pages only, the sizes the seeds give
 * (2^(va - page) entries of pte_bytes), allocated in simulated frames up
 * to max=SIZE and reported but not allocated beyond, and a random
 * differential test against an array of entries. */
#include <stdlib.h>
#include <string.h>

#include "phys/phys.h"
#include "pt/pt.h"
#include "testutil.h"
#include "util/rng.h"

extern const struct pt_ops pt_flat_ops;

#define MIB (1ull << 20)
#define GIB (1ull << 30)

struct fx {
    struct vmsim_geometry g;
    struct phys phys;
    struct pt_counters counters;
    const char *params;
};

static struct fx *fx_new(const char *geom, uint64_t mem, const char *params)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    if (vmsim_geometry_preset(geom, &f->g) != VMSIM_OK) {
        char why[128];
        assert_int_equal(vmsim_geometry_parse(geom, &f->g, why, sizeof why), VMSIM_OK);
    }
    assert_int_equal(phys_init(&f->phys, mem, f->g.page_shift), VMSIM_OK);
    f->params = params;
    return f;
}

static int fx_try(struct fx *f, uint64_t space, struct pt **p)
{
    const struct pt_env env = {&f->g, &f->phys, f->params, NULL, space, &f->counters};
    return pt_create(&pt_flat_ops, &env, p);
}

static struct pt *fx_space(struct fx *f, uint64_t space)
{
    struct pt *p = NULL;
    assert_int_equal(fx_try(f, space, &p), VMSIM_OK);
    return p;
}

static void fx_free(struct fx *f)
{
    assert_int_equal(f->phys.used, 0);
    phys_fini(&f->phys);
    free(f);
}

static uint64_t leaf(uint64_t pfn) { return (pfn << PTE_PFN_SHIFT) | PTE_W | PTE_U; }
static uint64_t stored(uint64_t pte) { return pte | PTE_P | PTE_LEAF; }

static struct vmsim_pt_footprint fp_of(struct pt *p)
{
    struct vmsim_pt_footprint fp;
    memset(&fp, 0, sizeof fp);
    pt_footprint(p, &fp);
    return fp;
}

/* x86-32: 2^20 entries of 4 bytes = 4 MiB, allocated (<= 64m) as 1024
 * frames, frames 0 to 1023 of a fresh memory: entry vpn at vpn * 4. */
static void test_map_find_update_unmap(void **state)
{
    struct fx *f = fx_new("x86-32", 64 * MIB, "");
    struct pt *p = fx_space(f, 1);
    const vmsim_vaddr_t va = 0xbfc01000;
    assert_int_equal(pt_map(p, 0, va, 1, leaf(9)), VMSIM_OK);
    unsigned level = 0;
    assert_int_equal(pt_lookup(p, 0, va + 0xabc, &level), stored(leaf(9)));
    assert_int_equal(level, 1);
    assert_int_equal(pt_lookup(p, 0, va, NULL) & PTE_A, 0); /* no side effects */
    struct walk w;
    pt_walk(p, 0, va + 0xabc, NULL, &w);
    assert_int_equal(w.nrefs, 1);
    assert_int_equal(w.ref[0].pa, 0xbfc01 * 4);
    assert_int_equal(w.ref[0].level, 1);
    assert_int_equal(w.level, 1);
    assert_int_equal(w.top, 0);
    assert_int_equal(w.pte, stored(leaf(9)) | PTE_A);
    assert_int_equal(pt_update(p, 0, va, PTE_D, PTE_W), VMSIM_OK);
    assert_int_equal(pt_lookup(p, 0, va, NULL), (stored(leaf(9)) | PTE_A | PTE_D) & ~PTE_W);
    assert_int_equal(pt_update(p, 0, va + 4096, PTE_D, 0), VMSIM_ENOENT);
    assert_int_equal(pt_map(p, 0, va, 1, leaf(10)), VMSIM_OK); /* replace */
    assert_int_equal(pt_lookup(p, 0, va, NULL), stored(leaf(10)));
    uint64_t old = 0;
    assert_int_equal(pt_unmap(p, 0, va, &old), VMSIM_OK);
    assert_int_equal(old, stored(leaf(10)));
    assert_int_equal(pt_unmap(p, 0, va, &old), VMSIM_ENOENT);
    assert_int_equal(old, 0);
    pt_walk(p, 0, va, NULL, &w);
    assert_int_equal(w.nrefs, 1); /* a miss reads the entry too */
    assert_int_equal(w.pte, 0);
    pt_destroy(p);
    fx_free(f);
}

/* Swap entries: not present, found again with their slot. */
static void test_swap_entries(void **state)
{
    struct fx *f = fx_new("x86-32", 64 * MIB, "");
    struct pt *p = fx_space(f, 1);
    const uint64_t swp = (42ull << PTE_PFN_SHIFT) | PTE_SWAP | PTE_U;
    assert_int_equal(pt_map(p, 0, 0x8000, 1, swp | PTE_P), VMSIM_OK);
    assert_int_equal(pt_lookup(p, 0, 0x8000, NULL), swp | PTE_LEAF);
    struct walk w;
    pt_walk(p, 0, 0x8000, NULL, &w);
    assert_int_equal(w.pte, swp | PTE_LEAF); /* no accessed bit */
    assert_int_equal(pt_map(p, 0, 0x9000, 1, leaf(3)), VMSIM_OK);
    const uint64_t swp2 = (43ull << PTE_PFN_SHIFT) | PTE_SWAP;
    assert_int_equal(pt_update(p, 0, 0x9000, swp2, ~swp2), VMSIM_OK); /* out in place */
    assert_int_equal(pt_lookup(p, 0, 0x9000, NULL), swp2 | PTE_LEAF);
    assert_int_equal(pt_map(p, 0, 0x8000, 1, leaf(4)), VMSIM_OK); /* back in */
    assert_int_equal(pt_lookup(p, 0, 0x8000, NULL), stored(leaf(4)));
    pt_destroy(p);
    fx_free(f);
}

/* A single level has no entry for a huge page: EEXIST, so the kernel maps
 * base pages instead; a level the geometry does not allow is EINVAL, an
 * address outside the space too. */
static void test_base_pages_only(void **state)
{
    struct fx *f = fx_new("x86-64", 64 * MIB, "");
    struct pt *p = fx_space(f, 1);
    assert_int_equal(pt_map(p, 0, 0x200000, 2, leaf(512)), VMSIM_EEXIST);
    assert_int_equal(pt_map(p, 0, 0x40000000, 3, leaf(512)), VMSIM_EEXIST);
    assert_int_equal(pt_map(p, 0, 0, 4, leaf(512)), VMSIM_EINVAL);
    assert_int_equal(pt_map(p, 0, 1ull << 48, 1, leaf(1)), VMSIM_EINVAL);
    assert_int_equal(pt_lookup(p, 0, 0x200000, NULL), 0);
    assert_int_equal(pt_map(p, 0, 0x200000, 1, leaf(512)), VMSIM_OK);
    struct vmsim_pt_footprint fp = fp_of(p);
    assert_int_equal(fp.pages[1], 1);
    assert_int_equal(fp.pages[2], 0);
    assert_int_equal(pt_deposit(p), VMSIM_OK); /* no leaf tables to keep */
    assert_int_equal(f->phys.used, 0);
    pt_destroy(p);
    fx_free(f);
}

static uint64_t part(const struct vmsim_pt_footprint *fp, const char *name)
{
    for (unsigned i = 0; i < fp->nparts; i++)
        if (!strcmp(fp->part[i].name, name))
            return fp->part[i].bytes;
    fail_msg("no footprint part \"%s\"", name);
    return 0;
}

/* The sizes: 2^(va - page) entries * pte bytes.
 *  x86-32:    2^20 * 4 = 4 MiB, allocated: 1024 frames;
 *  x86-64:    2^36 * 8 = 512 GiB (seed 000's 48-bit figure), not allocated;
 *  x86-64-5l: 2^45 * 8 = 256 TiB, not allocated;
 *  64-bit:    2^52 * 8 = 32 PiB (seed 000's figure) by the same formula, on
 *             a geometry vmsim_geometry_check rejects (va stops at 57). */
static void test_sizes(void **state)
{
    struct fx *f = fx_new("x86-32", 64 * MIB, "");
    struct pt *p = fx_space(f, 1);
    assert_int_equal(f->phys.used, 1024);
    struct vmsim_pt_footprint fp = fp_of(p);
    assert_int_equal(part(&fp, "flat table"), 4 * MIB);
    assert_int_equal(fp.bytes, 4 * MIB);
    pt_destroy(p);
    fx_free(f);

    f = fx_new("x86-64", 64 * MIB, "");
    p = fx_space(f, 1);
    assert_int_equal(f->phys.used, 0);
    fp = fp_of(p);
    assert_int_equal(part(&fp, "flat (not allocated)"), 512 * GIB);
    assert_int_equal(fp.bytes, 512 * GIB);
    struct pt *q = fx_space(f, 2);
    pt_footprint(q, &fp); /* per address space: two tables, twice the bytes */
    assert_int_equal(part(&fp, "flat (not allocated)"), 1024 * GIB);
    pt_destroy(q);
    pt_destroy(p);
    fx_free(f);

    f = fx_new("x86-64-5l", 64 * MIB, "");
    p = fx_space(f, 1);
    fp = fp_of(p);
    assert_int_equal(part(&fp, "flat (not allocated)"), 256 * 1024 * GIB);
    pt_destroy(p);
    fx_free(f);

    f = fx_new("x86-64", 64 * MIB, "");
    f->g.va_bits = 64; /* not a geometry vmsim runs: only the formula */
    f->g.bits[0] = 25;
    char why[128];
    assert_int_not_equal(vmsim_geometry_check(&f->g, why, sizeof why), VMSIM_OK);
    p = fx_space(f, 1);
    fp = fp_of(p);
    assert_int_equal(part(&fp, "flat (not allocated)"), 32ull << 50);
    pt_destroy(p);
    fx_free(f);
}

/* Not allocated: space s's table sits at END + (s - 1) * size for walk
 * references, END = the end of the 1 GiB memory. */
static void test_reserved_addresses(void **state)
{
    struct fx *f = fx_new("x86-64", 1 * GIB, "");
    struct pt *a = fx_space(f, 1), *b = fx_space(f, 2);
    const vmsim_vaddr_t va = 0x7f1234567000;
    assert_int_equal(pt_map(a, 0, va, 1, leaf(1)), VMSIM_OK);
    assert_int_equal(pt_map(b, 0, va, 1, leaf(2)), VMSIM_OK); /* homonyms: own tables */
    struct walk w;
    pt_walk(a, 0, va, NULL, &w);
    assert_int_equal(w.nrefs, 1);
    assert_int_equal(w.ref[0].pa, GIB + 0x7f1234567ull * 8);
    assert_int_equal(PTE_PFN(w.pte), 1);
    pt_walk(b, 0, va, NULL, &w);
    assert_int_equal(w.ref[0].pa, GIB + 512 * GIB + 0x7f1234567ull * 8);
    assert_int_equal(PTE_PFN(w.pte), 2);
    pt_destroy(a);
    assert_int_equal(pt_lookup(b, 0, va, NULL), stored(leaf(2)) | PTE_A); /* walked */
    pt_destroy(b);
    fx_free(f);
}

/* max=SIZE moves the line: x86-32 with max=1m is not allocated; a 30-bit
 * custom geometry (2^18 entries * 8 = 2 MiB) is, in 512 frames. */
static void test_max_option(void **state)
{
    struct fx *f = fx_new("x86-32", 64 * MIB, "max=1m");
    struct pt *p = fx_space(f, 1);
    assert_int_equal(f->phys.used, 0);
    struct vmsim_pt_footprint fp = fp_of(p);
    assert_int_equal(part(&fp, "flat (not allocated)"), 4 * MIB);
    struct walk w;
    pt_walk(p, 0, 0x1000, NULL, &w);
    assert_int_equal(w.ref[0].pa, 64 * MIB + 4);
    pt_destroy(p);
    fx_free(f);

    f = fx_new("va=30,page=4k,bits=9+9,pte=8", 64 * MIB, "");
    p = fx_space(f, 1);
    assert_int_equal(f->phys.used, 512);
    fp = fp_of(p);
    assert_int_equal(part(&fp, "flat table"), 2 * MIB);
    pt_destroy(p);
    fx_free(f);
}

/* Out of simulated frames: 4 MiB of table does not fit in 2 MiB (the
 * frames taken are given back); in exactly 4 MiB it does, and takes all. */
static void test_out_of_frames(void **state)
{
    struct fx *f = fx_new("x86-32", 2 * MIB, "");
    struct pt *p = NULL;
    assert_int_equal(fx_try(f, 1, &p), VMSIM_ENOFRAME);
    assert_null(p);
    fx_free(f);
    f = fx_new("x86-32", 4 * MIB, "");
    p = fx_space(f, 1);
    assert_int_equal(f->phys.used, f->phys.nframes);
    pt_destroy(p);
    fx_free(f);
}

struct reclaimer {
    struct phys *phys;
    vmsim_pfn_t *d;
    unsigned calls;
};

static int reclaim_one(void *ctx)
{
    struct reclaimer *r = ctx;
    phys_put(r->phys, r->d[r->calls++]);
    return VMSIM_OK;
}

/* The table's frames need not be adjacent: with every other frame of an
 * 8 MiB memory free (no 4 MiB block anywhere), and then with memory full
 * and reclaim freeing one data frame per call, x86-32's 1024-frame table
 * is still made, each reference in one of its frames. */
static void test_scattered_frames(void **state)
{
    struct fx *f = fx_new("x86-32", 8 * MIB, "");
    vmsim_pfn_t d[2048];
    for (unsigned i = 0; i < 2048; i++)
        assert_int_equal(phys_alloc(&f->phys, 0, 0, &d[i]), VMSIM_OK);
    for (unsigned i = 0; i < 2048; i += 2)
        phys_put(&f->phys, d[i]);
    struct pt *p = fx_space(f, 1);
    assert_int_equal(f->phys.used, 2048);
    for (uint64_t vpn = 0; vpn < (1u << 20); vpn += 4099) {
        assert_int_equal(pt_map(p, 0, vpn << 12, 1, leaf(1)), VMSIM_OK);
        struct walk w;
        pt_walk(p, 0, vpn << 12, NULL, &w);
        const struct frame *fr = phys_frame(&f->phys, w.ref[0].pa >> 12);
        assert_true(fr->flags & FRAME_PT);
        assert_int_equal(fr->refcount, 1);
        assert_int_equal(w.ref[0].pa & 4095, (vpn * 4) & 4095);
    }
    pt_destroy(p);
    assert_int_equal(f->phys.used, 1024);

    vmsim_pfn_t e[1024];
    unsigned n = 0;
    for (unsigned i = 0; i < 2048; i += 2) /* full again */
        assert_int_equal(phys_alloc(&f->phys, 0, 0, &e[n++]), VMSIM_OK);
    struct reclaimer r = {&f->phys, e, 0};
    f->phys.reclaim = reclaim_one;
    f->phys.reclaim_ctx = &r;
    p = fx_space(f, 2);
    assert_int_equal(r.calls, 1024);
    assert_int_equal(f->phys.used, 2048);
    pt_destroy(p);
    for (unsigned i = 1; i < 2048; i += 2)
        phys_put(&f->phys, d[i]);
    fx_free(f);
}

struct seen {
    vmsim_vaddr_t va[16];
    unsigned n, stop;
};

static int record(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t pte)
{
    struct seen *s = ctx;
    assert_int_equal(level, 1);
    s->va[s->n++] = va;
    return s->stop && s->n == s->stop;
}

/* Visit in address order, in [lo, hi), short ranges and long ones. */
static void test_visit(void **state)
{
    struct fx *f = fx_new("x86-64", 64 * MIB, "");
    struct pt *p = fx_space(f, 1);
    const vmsim_vaddr_t va[] = {0x7000, 0x1000, 0x7fff0000, 0x3000, 0x5000};
    for (unsigned i = 0; i < 5; i++)
        assert_int_equal(pt_map(p, 0, va[i], 1, leaf(i)), VMSIM_OK);
    struct seen s = {0};
    assert_int_equal(pt_visit(p, 0, 0, UINT64_MAX, record, &s), 0);
    const vmsim_vaddr_t all[] = {0x1000, 0x3000, 0x5000, 0x7000, 0x7fff0000};
    assert_int_equal(s.n, 5);
    for (unsigned i = 0; i < 5; i++)
        assert_int_equal(s.va[i], all[i]);
    s = (struct seen){0};
    assert_int_equal(pt_visit(p, 0, 0x2000, 0x5800, record, &s), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.va[0], 0x3000);
    assert_int_equal(s.va[1], 0x5000);
    s = (struct seen){.stop = 3};
    assert_int_equal(pt_visit(p, 0, 0, UINT64_MAX, record, &s), 1);
    assert_int_equal(s.n, 3);
    pt_destroy(p);
    fx_free(f);
}

static void test_options(void **state)
{
    char why[128];
    assert_int_equal(pt_flat_ops.check("", why, sizeof why), VMSIM_OK);
    assert_int_equal(pt_flat_ops.check("max=4m", why, sizeof why), VMSIM_OK);
    assert_int_equal(pt_flat_ops.check("max=", why, sizeof why), VMSIM_EINVAL);
    assert_int_equal(pt_flat_ops.check("size=4m", why, sizeof why), VMSIM_EINVAL);
    assert_non_null(strstr(why, "size=4m"));
    struct fx *f = fx_new("x86-32", 64 * MIB, "max=big");
    struct pt *p;
    assert_int_equal(fx_try(f, 1, &p), VMSIM_EINVAL);
    fx_free(f);
}

/* Random map (a quarter of them huge: refused), unmap, update, walk over
 * two spaces of 4096 pages against plain arrays. */
static void test_differential(void **state)
{
    struct fx *f = fx_new("x86-32", 64 * MIB, "");
    struct pt *sp[2] = {fx_space(f, 1), fx_space(f, 2)};
    static uint64_t model[2][4096];
    memset(model, 0, sizeof model);
    struct rng rng;
    rng_seed(&rng, 7);
    for (unsigned step = 0; step < 40000; step++) {
        const unsigned s = (unsigned)rng_below(&rng, 2), op = (unsigned)rng_below(&rng, 100);
        const uint64_t vpn = rng_below(&rng, 4096);
        const vmsim_vaddr_t va = 0x10000000 + (vpn << 12);
        uint64_t *m = &model[s][vpn];
        if (op < 40) {
            const unsigned level = rng_below(&rng, 4) ? 1 : 2;
            const uint64_t pte = rng_below(&rng, 6)
                                     ? leaf(rng_below(&rng, 64))
                                     : (rng_below(&rng, 64) << PTE_PFN_SHIFT) | PTE_SWAP;
            const int rc = pt_map(sp[s], 0, va, level, pte);
            if (level == 2) {
                assert_int_equal(rc, VMSIM_EEXIST);
            } else {
                assert_int_equal(rc, VMSIM_OK);
                *m = (pte & PTE_SWAP) ? pte | PTE_LEAF : stored(pte);
            }
        } else if (op < 60) {
            uint64_t old = 1;
            assert_int_equal(pt_unmap(sp[s], 0, va, &old), *m ? VMSIM_OK : VMSIM_ENOENT);
            assert_int_equal(old, *m);
            *m = 0;
        } else if (op < 80) {
            const uint64_t set = rng_below(&rng, 2) ? PTE_D : PTE_W, clear = PTE_A;
            assert_int_equal(pt_update(sp[s], 0, va, set, clear), *m ? VMSIM_OK : VMSIM_ENOENT);
            if (*m)
                *m = ((*m | set) & ~clear) | PTE_LEAF;
        } else {
            struct walk w;
            pt_walk(sp[s], 0, va, NULL, &w);
            if (*m & PTE_P)
                *m |= PTE_A;
            assert_int_equal(w.pte, *m);
            assert_int_equal(w.nrefs, 1);
            assert_int_equal(w.ref[0].pa >> 22, (uint64_t)s); /* space 1 frames 0-1023, 2 next */
        }
        assert_int_equal(pt_lookup(sp[s], 0, va, NULL), *m);
    }
    for (unsigned s = 0; s < 2; s++) {
        uint64_t n = 0;
        for (unsigned v = 0; v < 4096; v++) {
            assert_int_equal(pt_lookup(sp[s], 0, 0x10000000 + ((uint64_t)v << 12), NULL), model[s][v]);
            n += model[s][v] != 0;
        }
        struct vmsim_pt_footprint fp = fp_of(sp[s]);
        assert_int_equal(fp.pages[1], n);
        pt_destroy(sp[s]);
    }
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_find_update_unmap),
        cmocka_unit_test(test_swap_entries),
        cmocka_unit_test(test_base_pages_only),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_reserved_addresses),
        cmocka_unit_test(test_max_option),
        cmocka_unit_test(test_out_of_frames),
        cmocka_unit_test(test_scattered_frames),
        cmocka_unit_test(test_visit),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_differential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
