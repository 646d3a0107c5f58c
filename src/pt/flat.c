/* A flat (single-level, linear) page table: entry i maps virtual page i, so
 * a walk is one reference, at table base + vpn * pte_bytes. The table has
 * an entry for every page of the address space whether it is used or not:
 * 2^(va_bits - page_shift) * pte_bytes bytes per address space (seed 000,
 * "The Tyranny of the Giant Phone Book").
 *
 * Sizes: x86-32 (va 32, 4 KiB pages, 4-byte entries) 2^20 * 4 B = 4 MiB;
 * x86-64 4-level (va 48) 2^36 * 8 B = 512 GiB; LA57 (va 57) 2^45 * 8 B =
 * 256 TiB; the seed's full 64-bit space, 2^52 * 8 B = 32 PiB (vmsim's
 * geometries stop at 57 bits, so it is never run).
 *
 * Where the table sits: when it takes at most max=SIZE bytes (option,
 * default 64m) it is allocated at create in simulated frames (FRAME_PT,
 * pinned) and walk references fall in them. The frames are taken one at a
 * time, so they need not be adjacent: the table is contiguous in the index
 * space the walker uses, as a linear table mapped in virtual memory is
 * (MIPS's in kseg2, VAX's P0/P1 tables), while each of its pages may sit
 * in any frame. (A contiguous 4 MiB block needs 1024 free aligned frames,
 * which a fragmented memory may not have even with the buddy allocator's
 * merging; single frames can also come from reclaim.) Larger, it gets no
 * frames: the entries of address space s sit, for walk references, at
 * END + (s - 1) * size, END = nframes << page_shift (the end of simulated
 * memory; the sum wraps modulo 2^64 past 2^64 / size spaces), and the
 * footprint reports its full size as the part "flat (not allocated)". In
 * both cases the host keeps only the entries in use (a hash map), so even a
 * 256 TiB table costs host memory in proportion to its mapped pages.
 *
 * Base pages only: a single-level table has no entry that could map a
 * larger page, so map() of a huge level returns VMSIM_EEXIST and the
 * kernel falls back to base pages, as it does when smaller pages already
 * fill a huge page's block. Per address space; no shared state.
 *
 * Invariant: the map holds exactly the non-empty entries (a leaf always
 * has PTE_LEAF, so no stored value is 0). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt/pt.h"
#include "util/u64map.h"

extern const struct pt_ops pt_flat_ops;

#define DEFAULT_MAX (64ull << 20)

struct flat {
    struct pt base;
    uint64_t pages;       /* entries: 2^(va_bits - page_shift) */
    uint64_t bytes;       /* pages * pte_bytes */
    unsigned pte_bytes;
    unsigned shift;       /* base page shift */
    bool allocated;
    vmsim_pfn_t *frame;   /* allocated: the frame of each table page */
    uint64_t nframe;
    vmsim_paddr_t base_pa; /* not allocated: where the table would start */
    struct u64map e;      /* vpn -> entry */
};

static struct flat *FL(struct pt *p) { return (struct flat *)p; }

static int parse_params(const char *params, uint64_t *max, char *why, size_t len)
{
    *max = DEFAULT_MAX;
    for (const char *s = params ? params : ""; *s;) {
        const char *end = strchr(s, ',');
        const size_t n = end ? (size_t)(end - s) : strlen(s);
        char item[64];
        if (n >= sizeof item) {
            snprintf(why, len, "flat: option too long");
            return VMSIM_EINVAL;
        }
        memcpy(item, s, n);
        item[n] = '\0';
        if (strncmp(item, "max=", 4) != 0 || vmsim_parse_size(item + 4, max) != VMSIM_OK) {
            snprintf(why, len, "flat: '%s' is not an option (max=SIZE)", item);
            return VMSIM_EINVAL;
        }
        s += n + (end ? 1 : 0);
    }
    return VMSIM_OK;
}

static int flat_check(const char *params, char *why, size_t len)
{
    uint64_t max;
    return parse_params(params, &max, why, len);
}

/* Give back the table's frames (the first n of them). */
static void frames_put(struct flat *f, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        phys_put(f->base.phys, f->frame[i]);
    free(f->frame);
    f->frame = NULL;
}

/* The table's frames, one at a time (each may come from reclaim). */
static int frames_get(struct flat *f)
{
    struct phys *phys = f->base.phys;
    const uint64_t page = 1ull << phys->page_shift;
    f->nframe = (f->bytes + page - 1) / page;
    if (!(f->frame = malloc(f->nframe * sizeof *f->frame)))
        return VMSIM_ENOMEM;
    for (uint64_t i = 0; i < f->nframe; i++) {
        int rc = phys_alloc(phys, 0, FRAME_PT | FRAME_PINNED, &f->frame[i]);
        if (rc) {
            frames_put(f, i);
            return rc;
        }
        phys_frame(phys, f->frame[i])->level = 1;
    }
    return VMSIM_OK;
}

static int flat_create(const struct pt_env *env, struct pt **out)
{
    const struct vmsim_geometry *g = env->geom;
    uint64_t max;
    char why[96];
    if (parse_params(env->params, &max, why, sizeof why) != VMSIM_OK)
        return VMSIM_EINVAL;
    if (g->va_bits <= g->page_shift || g->va_bits - g->page_shift > 60 ||
        (g->pte_bytes != 4 && g->pte_bytes != 8))
        return VMSIM_EINVAL;
    struct flat *f = calloc(1, sizeof *f);
    if (!f)
        return VMSIM_ENOMEM;
    struct phys *phys = env->phys;
    f->base.ops = &pt_flat_ops;
    f->base.phys = phys;
    f->base.geom = g;
    f->shift = g->page_shift;
    f->pte_bytes = g->pte_bytes;
    f->pages = 1ull << (g->va_bits - g->page_shift);
    f->bytes = f->pages * f->pte_bytes; /* at most 2^63: va_bits - page_shift <= 60 */
    if (f->bytes <= max) {
        int rc = frames_get(f);
        if (rc) {
            free(f);
            return rc;
        }
        f->allocated = true;
    } else {
        f->base_pa = phys_addr(phys, phys->nframes) + (env->space - 1) * f->bytes;
        phys_pt_outside(phys, f->bytes, true); /* for the peak: it exists all the same */
    }
    *out = &f->base;
    return VMSIM_OK;
}

static void flat_destroy(struct pt *p)
{
    struct flat *f = FL(p);
    if (f->allocated)
        frames_put(f, f->nframe);
    else
        phys_pt_outside(f->base.phys, f->bytes, false);
    u64map_free(&f->e);
    free(f);
}

/* The base page of va, or false when va lies outside the address space. */
static bool vpn_of(const struct flat *f, vmsim_vaddr_t va, uint64_t *vpn)
{
    *vpn = va >> f->shift;
    return *vpn < f->pages;
}

static int flat_map(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned level,
                    uint64_t pte)
{
    struct flat *f = FL(p);
    uint64_t vpn;
    if (level < 1 || level > p->geom->levels || !(p->geom->leaf_levels & (1u << level)) ||
        !vpn_of(f, va, &vpn))
        return VMSIM_EINVAL;
    if (level != 1)
        return VMSIM_EEXIST; /* no entry maps a huge page: base pages instead */
    pte = (pte & PTE_SWAP) ? (pte | PTE_LEAF) & ~PTE_P : pte | PTE_P | PTE_LEAF;
    return u64map_put(&f->e, vpn, pte);
}

static int flat_unmap(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, uint64_t *old)
{
    struct flat *f = FL(p);
    uint64_t vpn;
    const uint64_t *e = vpn_of(f, va, &vpn) ? u64map_get(&f->e, vpn) : NULL;
    if (old)
        *old = e ? *e : 0;
    if (!e)
        return VMSIM_ENOENT;
    u64map_del(&f->e, vpn);
    return VMSIM_OK;
}

static int flat_update(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, uint64_t set,
                       uint64_t clear)
{
    struct flat *f = FL(p);
    uint64_t vpn;
    uint64_t *e = vpn_of(f, va, &vpn) ? u64map_get(&f->e, vpn) : NULL;
    if (!e)
        return VMSIM_ENOENT;
    *e = ((*e | set) & ~clear) | PTE_LEAF;
    return VMSIM_OK;
}

static uint64_t flat_lookup(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned *level)
{
    struct flat *f = FL(p);
    uint64_t vpn;
    const uint64_t *e = vpn_of(f, va, &vpn) ? u64map_get(&f->e, vpn) : NULL;
    if (level)
        *level = e ? 1 : 0;
    return e ? *e : 0;
}

static void flat_walk(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, const struct walk_start *s,
                      struct walk *w)
{
    struct flat *f = FL(p);
    uint64_t vpn;
    w->top = 0;
    w->level = 1;
    w->pte = 0;
    w->nrefs = 0;
    if (!vpn_of(f, va, &vpn))
        return; /* outside the table: the MMU faults such addresses before */
    const uint64_t off = vpn * f->pte_bytes;
    const unsigned ps = p->phys->page_shift;
    const vmsim_paddr_t pa = f->allocated ? ((vmsim_paddr_t)f->frame[off >> ps] << ps) +
                                                (off & ((1ull << ps) - 1))
                                          : f->base_pa + off;
    w->ref[0] = (struct walk_ref){pa, 1};
    w->nrefs = 1;
    uint64_t *e = u64map_get(&f->e, vpn);
    if (!e)
        return;
    if ((*e & (PTE_P | PTE_A)) == PTE_P)
        *e |= PTE_A; /* only when clear, as radix does */
    w->pte = *e;
}

static int vpn_cmp(const void *x, const void *y)
{
    const uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* Leaves in [lo, hi) in address order: a short range probed page by page,
 * a long one gathered from the map and sorted; each is looked up again as
 * fn is called, so fn sees the table as it is. */
static int flat_visit(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t lo, vmsim_vaddr_t hi,
                      pt_visit_fn fn, void *ctx)
{
    struct flat *f = FL(p);
    uint64_t first = lo >> f->shift, end = hi >> f->shift;
    if (hi & ((1ull << f->shift) - 1))
        end++;
    if (end > f->pages || end < first)
        end = f->pages;
    if (first >= end || !f->e.n)
        return 0;
    if (end - first <= f->e.n) {
        for (uint64_t v = first; v < end; v++) {
            const uint64_t *e = u64map_get(&f->e, v);
            int rc = e ? fn(ctx, v << f->shift, 1, *e) : 0;
            if (rc)
                return rc;
        }
        return 0;
    }
    uint64_t *vpn = malloc(f->e.n * sizeof *vpn);
    if (!vpn)
        return VMSIM_ENOMEM;
    size_t n = 0;
    for (uint64_t i = 0; i < f->e.cap; i++)
        if (f->e.used[i] && f->e.key[i] >= first && f->e.key[i] < end)
            vpn[n++] = f->e.key[i];
    if (n)
        qsort(vpn, n, sizeof *vpn, vpn_cmp);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const uint64_t *e = u64map_get(&f->e, vpn[i]);
        if (e)
            rc = fn(ctx, vpn[i] << f->shift, 1, *e);
    }
    free(vpn);
    return rc;
}

static void flat_footprint(const struct pt *p, struct vmsim_pt_footprint *fp)
{
    const struct flat *f = (const struct flat *)p;
    pt_fp_part(fp, f->allocated ? "flat table" : "flat (not allocated)", f->bytes);
    fp->bytes += f->bytes;
    fp->pages[1] += f->e.n;
}

const struct pt_ops pt_flat_ops = {
    .name = "flat",
    .tree = false,
    .base_only = true,
    .check = flat_check,
    .create = flat_create,
    .destroy = flat_destroy,
    .map = flat_map,
    .unmap = flat_unmap,
    .update = flat_update,
    .lookup = flat_lookup,
    .walk = flat_walk,
    .visit = flat_visit,
    .footprint = flat_footprint,
};
