/* khugepaged: the background pass that turns blocks of base pages into
 * huge pages after the fact (Linux, mm/khugepaged.c: the scan of
 * khugepaged_scan_mm_slot and hpage_collapse_scan_pmd, the collapse of
 * collapse_huge_page), as opposed to thp.c's promotion, which collapses a
 * block the moment a write fault completes it.
 *
 * Time is counted in accesses, not wall time, so runs are deterministic:
 * the machine calls khugepaged_scan every cfg.khugepaged.every accesses of
 * the VM, on the CPU of the access that ends the interval.
 *
 * A scan resumes at its cursor (process id, address), takes the processes
 * in id order and each one's blocks (aligned, of the huge size, one leaf
 * table's reach) in address order, and stops when its progress reaches
 * cfg.khugepaged.pages: a block visited adds its entries (512), an
 * ineligible mapping skipped adds 1 (Linux's progress++ per skipped VMA).
 * Only blocks with a base page mapped are visited: vmsim finds them in the
 * page table, Linux walks the VMA's addresses and finds no PMD table there,
 * which it cannot collapse either.
 *
 * A block collapses when it is THP-eligible (thp_eligible: the rule of huge
 * faults) and its entries pass Linux's limits: at most max_ptes_none empty
 * or zero-frame entries; at most max_ptes_swap swapped out, and if any, at
 * least half the entries referenced (accessed bit set; Linux's
 * SCAN_LACK_REFERENCED_PAGE); at most max_ptes_shared entries whose frame
 * another mapping holds too (after a fork; the page cache counts as another
 * holder). Linux swaps the swapped pages in before the collapse; vmsim
 * reads them straight into the huge page (from the swap cache's frame, or
 * the device: swap.reads and their I/O cost), which is the same traffic.
 * Linux also wants one referenced page when none is swapped; vmsim does
 * not ask.
 *
 * The collapse: an order-9 block from the buddy allocator (no reclaim;
 * with cfg.compact, compaction when none is free, as Linux's khugepaged
 * allocates with __GFP_DIRECT_RECLAIM and so compacts; none free after
 * that is collapse_fail_alloc and the mapping stays as it was); the present pages copied, the swapped ones read in, the empty ones
 * zeroed (--verify's stamps follow); every base entry unmapped (a swap
 * entry lets go of its slot) (each frame's reference and reverse-map
 * entry dropped, a shootdown on every CPU that may cache it), which frees
 * the leaf table; the huge entry mapped (writable when the mapping is, as
 * Linux's maybe_pmd_mkwrite), on the replacement list; the walk caches
 * flushed, since they may point to the freed table. A shared frame keeps
 * its other mappings: this process gets the copy, as Linux does.
 *
 * Invariant: the huge entry needs at most the tables the unmaps freed (the
 * leaf table, and those above it that became empty), so mapping it cannot
 * run out of frames. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os/compact.h"
#include "os/kernel.h"
#include "util/kv.h"

#define PROT_ALL (VMSIM_PROT_R | VMSIM_PROT_W | VMSIM_PROT_X)

/* Cycles per base page written by a collapse, when the config does not
 * say: a 4 KiB copy at about 8 bytes per cycle (one core's memcpy
 * bandwidth, some 25 GB/s at 3 GHz) is about 500. */
#define KHP_COPY_CYCLES 500

/* Accesses between scans when the spec does not say. Linux scans every
 * 10 s (scan_sleep_millisecs); at 10^8 to 10^9 memory accesses a second
 * that is beyond the end of most traces, so vmsim scans every 10^6: a
 * trace of 10^7 accesses sees ten scans. */
#define KHP_EVERY 1000000

int vmsim_khugepaged_parse(const char *spec, struct vmsim_config *cfg, char *why, size_t len)
{
    struct vmsim_khugepaged_config c = {KHP_EVERY,         VMSIM_KHP_DEFAULT, VMSIM_KHP_DEFAULT,
                                        VMSIM_KHP_DEFAULT, VMSIM_KHP_DEFAULT, VMSIM_KHP_DEFAULT};
    if (!*spec) {
        if (why)
            snprintf(why, len, "expected on, off or every=N,pages=P,max_ptes_none=K,"
                     "max_ptes_swap=W,max_ptes_shared=S,copy=C (any of them), found nothing");
        return VMSIM_EINVAL;
    }
    if (!strcmp(spec, "off"))
        c.every = 0;
    for (const char *s = spec; s && *s && strcmp(spec, "on") && strcmp(spec, "off");) {
        struct kv kv;
        s = kv_next(s, &kv);
        char buf[32], *end;
        unsigned long long v = 0;
        const bool num = kv_value(&kv, buf, sizeof buf) && buf[0] >= '0' && buf[0] <= '9' &&
                         (v = strtoull(buf, &end, 10), *end == '\0');
        uint32_t *dst = kv_is(&kv, "pages")             ? &c.pages
                        : kv_is(&kv, "max_ptes_none")   ? &c.max_ptes_none
                        : kv_is(&kv, "max_ptes_shared") ? &c.max_ptes_shared
                        : kv_is(&kv, "max_ptes_swap")   ? &c.max_ptes_swap
                        : kv_is(&kv, "copy")            ? &c.copy
                                                        : NULL;
        if (!dst && !kv_is(&kv, "every")) {
            if (why)
                snprintf(why, len, "expected every=, pages=, max_ptes_none=, max_ptes_swap=, "
                         "max_ptes_shared= or copy=, found \"%.*s\"", (int)(kv.len > 40 ? 40 : kv.len), kv.s);
            return VMSIM_EINVAL;
        }
        const unsigned long long max = dst ? UINT32_MAX - 1ull : (unsigned long long)INT64_MAX;
        if (!num || v > max || (v == 0 && (!dst || dst == &c.pages))) {
            if (why)
                snprintf(why, len, "expected a whole number %s after %.*s=, found \"%.*s\"",
                         !dst || dst == &c.pages ? "from 1" : "from 0", (int)kv.klen, kv.s,
                         (int)(kv.vlen > 40 ? 40 : kv.vlen), kv.val ? kv.val : "");
            return VMSIM_EINVAL;
        }
        if (dst)
            *dst = (uint32_t)v;
        else
            c.every = v;
    }
    cfg->khugepaged = c;
    return VMSIM_OK;
}

struct vmsim_khugepaged_config vmsim_khugepaged_resolved(const struct vmsim_config *cfg)
{
    struct vmsim_khugepaged_config c = cfg->khugepaged;
    const struct vmsim_geometry *g = &cfg->geom;
    /* entries of a leaf table: Linux's HPAGE_PMD_NR on x86-64 */
    const uint32_t n = g->levels >= 2 ? 1u << (vmsim_geometry_page_shift(g, 2) - g->page_shift) : 1;
    if (c.pages == VMSIM_KHP_DEFAULT)
        c.pages = 8 * n;
    if (c.max_ptes_none == VMSIM_KHP_DEFAULT)
        c.max_ptes_none = n - 1;
    if (c.max_ptes_shared == VMSIM_KHP_DEFAULT)
        c.max_ptes_shared = n / 2;
    if (c.max_ptes_swap == VMSIM_KHP_DEFAULT)
        c.max_ptes_swap = n / 8;
    if (c.copy == VMSIM_KHP_DEFAULT)
        c.copy = KHP_COPY_CYCLES;
    return c;
}

int khugepaged_init(struct kernel *k)
{
    const struct vmsim_khugepaged_config c = vmsim_khugepaged_resolved(k->cfg);
    struct khugepaged *h = &k->khp;
    if (!c.every)
        return VMSIM_OK;
    /* Collapsing is one leaf table into one entry of the level above. */
    if (k->anon_level != 2 || k->ops->base_only || k->cfg->evict_tables || k->cfg->threads > 1)
        return VMSIM_EINVAL;
    const uint64_t n = 1ull << (k->shift[2] - k->shift[1]);
    h->left = c.every;
    h->c = c;
    if (!c.pages || !(h->ent = calloc(n, sizeof *h->ent)))
        return c.pages ? VMSIM_ENOMEM : VMSIM_EINVAL;
    return VMSIM_OK;
}

void khugepaged_fini(struct kernel *k)
{
    free(k->khp.ent);
    k->khp.ent = NULL;
}

/* ---- finding the next block ---- */

struct first {
    uint64_t mask;       /* block size - 1 */
    vmsim_vaddr_t floor; /* the lowest block there can be */
    vmsim_vaddr_t best;
    bool found;
};

static int first_base(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t e)
{
    struct first *f = ctx;
    (void)e;
    if (level != 1)
        return 0;
    const vmsim_vaddr_t b = va & ~f->mask;
    if (!f->found || b < f->best) {
        f->best = b;
        f->found = true;
    }
    return b <= f->floor; /* none can come lower: stop */
}

/* The lowest block of p holding a base page at or above va: windows of
 * growing size, so that an organization visiting in hash order needs no
 * visit of the whole table when the next block is near, and a radix tree
 * skips empty subtrees. */
static bool next_block(struct kernel *k, struct process *p, vmsim_vaddr_t va, uint64_t size,
                       vmsim_vaddr_t *out)
{
    const unsigned bits = k->cfg->geom.va_bits;
    const vmsim_vaddr_t top = bits >= 64 ? UINT64_MAX : (1ull << bits) - 1; /* last address */
    struct first f = {size - 1, va & ~(size - 1), 0, false};
    for (uint64_t w = size; va <= top; w = w < (1ull << 62) ? 2 * w : w) {
        const vmsim_vaddr_t hi = top - va < w ? top : va + w - 1;
        pt_visit(p->space.pt, p->space.asid, va, hi + 1 ? hi + 1 : UINT64_MAX, first_base, &f);
        if (f.found) {
            *out = f.best;
            return true;
        }
        if (hi == top)
            break;
        va = hi + 1;
    }
    return false;
}

/* ---- the collapse ---- */

enum verdict { KHP_OK, KHP_NONE, KHP_SWAP, KHP_SHARED };

struct gather {
    uint64_t *ent;
    vmsim_vaddr_t lo;
    unsigned ps;
    bool huge; /* a leaf other than a base page (none expected) */
};

static int gather_leaf(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t e)
{
    struct gather *g = ctx;
    if (level != 1) {
        g->huge = true;
        return 1;
    }
    g->ent[(va - g->lo) >> g->ps] = e;
    return 0;
}

/* Judge the n entries of the block by Linux's limits. With pages to read
 * back from swap, half the entries must have been referenced (accessed
 * bit set): Linux's SCAN_LACK_REFERENCED_PAGE, so that a cold block is not
 * read in for nothing. */
static enum verdict judge(struct kernel *k, const uint64_t *ent, uint64_t n)
{
    const struct khugepaged *h = &k->khp;
    uint64_t none = 0, shared = 0, swapped = 0, young = 0;
    for (uint64_t i = 0; i < n; i++) {
        const uint64_t e = ent[i];
        if (e & PTE_SWAP) {
            swapped++;
            continue;
        }
        if (!(e & PTE_P) || (e & PTE_ZERO)) {
            none++;
            continue;
        }
        const struct frame *f = kernel_frame(k, PTE_PFN(e));
        shared += f->refcount > 1 || (f->flags & FRAME_CACHE);
        young += (e & PTE_A) != 0;
    }
    if (none > h->c.max_ptes_none)
        return KHP_NONE;
    if (swapped > h->c.max_ptes_swap || (swapped && young < n / 2))
        return KHP_SWAP;
    return shared > h->c.max_ptes_shared ? KHP_SHARED : KHP_OK;
}

/* The contents (--verify's stamp) of the swapped-out page in slot: from
 * the frame the swap cache still holds, else read from the device
 * (counted, and its cost added to *io). */
static uint64_t swapped_stamp(struct kernel *k, uint64_t slot, uint64_t *io)
{
    const vmsim_pfn_t cached = swapcache_frame(k, slot);
    if (cached != FRAME_NIL)
        return k->cfg->verify ? verify_get(k, cached) : 0;
    k->st->swap_reads++;
    *io += k->cfg->cost.io;
    return k->phys->swap.stamp ? k->phys->swap.stamp[slot] : 0;
}

/* Collapse the block of p at lo (size bytes, level 2) if it qualifies. */
static int collapse(struct kernel *k, struct process *p, vmsim_vaddr_t lo, uint64_t size)
{
    struct khugepaged *h = &k->khp;
    struct vmsim_khugepaged_stats *st = &k->st->khugepaged;
    const unsigned ps = k->phys->page_shift;
    const uint64_t n = size >> ps;
    struct gather g = {h->ent, lo, ps, false};
    memset(h->ent, 0, n * sizeof *h->ent);
    int rc = pt_visit(p->space.pt, p->space.asid, lo, lo + size, gather_leaf, &g);
    if (rc < 0)
        return rc;
    if (g.huge)
        return VMSIM_OK;
    st->pages_scanned += n;
    switch (judge(k, h->ent, n)) {
    case KHP_NONE:
        st->fail_none++;
        return VMSIM_OK;
    case KHP_SWAP:
        st->fail_swap++;
        return VMSIM_OK;
    case KHP_SHARED:
        st->fail_shared++;
        return VMSIM_OK;
    case KHP_OK:
        break;
    }
    vmsim_pfn_t huge;
    const unsigned order = k->shift[2] - ps;
    rc = phys_alloc(k->phys, order, 0, &huge); /* never reclaims: the entries stay */
    if (rc == VMSIM_ENOFRAME && k->cfg->compact && (rc = compact_for_order(k, order)) == 0) {
        /* compaction may have moved this block's own pages: read them again */
        memset(h->ent, 0, n * sizeof *h->ent);
        g = (struct gather){h->ent, lo, ps, false};
        if ((rc = pt_visit(p->space.pt, p->space.asid, lo, lo + size, gather_leaf, &g)) < 0)
            return rc;
        rc = phys_alloc(k->phys, order, 0, &huge);
    }
    if (rc == VMSIM_ENOFRAME) {
        st->fail_alloc++;
        return VMSIM_OK;
    }
    if (rc)
        return rc;
    kernel_frames_written(k, huge, n);
    thp_untouch(k, huge, n);
    uint64_t copied = 0, io = 0;
    for (uint64_t i = 0; i < n; i++) {
        const uint64_t e = h->ent[i];
        const bool data = (e & PTE_P) && !(e & PTE_ZERO), swapped = e & PTE_SWAP;
        const uint64_t stamp = swapped ? swapped_stamp(k, PTE_PFN(e), &io)
                               : data && k->cfg->verify ? verify_get(k, PTE_PFN(e))
                                                        : 0;
        if (k->cfg->verify)
            verify_set(k, huge + i, stamp);
        if (data || swapped) {
            copied++;
            thp_touch(k, huge + i); /* reached as a base page: not internal fragmentation */
        }
        if (e) /* a swapped entry lets go of its slot */
            kernel_unmap_page(k, p, lo + (i << ps));
    }
    const struct vma *v = vma_find(&p->vmas, lo);
    const unsigned prot = v ? v->prot : PROT_ALL;
    const uint64_t bits = PTE_U | PTE_A | PTE_D | ((prot & VMSIM_PROT_W) ? PTE_W : 0) |
                          ((prot & VMSIM_PROT_X) ? PTE_X : 0);
    if ((rc = kernel_map(k, p, lo, 2, ((uint64_t)huge << PTE_PFN_SHIFT) | bits)) != 0) {
        phys_put(k->phys, huge); /* see the invariant at the top: not expected */
        return rc;
    }
    reclaim_add(k, huge); /* evictable, split first (reclaim.c); if it cannot join, it stays */
    mmu_flush_pwc_all(k->mmu); /* the leaf table went */
    st->collapses++;
    st->pages_copied += copied;
    st->cycles += n * h->c.copy + io;
    k->st->cycles += n * h->c.copy + io;
    return VMSIM_OK;
}

/* ---- the scan ---- */

int khugepaged_scan(struct kernel *k)
{
    struct khugepaged *h = &k->khp;
    struct vmsim_khugepaged_stats *st = &k->st->khugepaged;
    const uint64_t size = 1ull << k->shift[2];
    const uint64_t scanned_before = st->pages_scanned;
    h->left = k->cfg->khugepaged.every;
    st->scans++;
    uint64_t progress = 0;
    unsigned heads = 0;
    int rc = VMSIM_OK;
    while (progress < h->c.pages && rc == 0) {
        if (h->proc >= k->nproc) { /* a pass over every process is done */
            h->proc = 0;
            h->va = 0;
            st->full_scans++;
        }
        /* Linux's pass_through_head: a scan starts at most one pass from
         * the first process (the start of the scan counts when it is
         * there), so that one with nothing to find ends */
        if (h->proc == 0 && h->va == 0 && ++heads == 2)
            break;
        struct process *p = k->proc[h->proc];
        vmsim_vaddr_t blk;
        if (!p || !next_block(k, p, h->va, size, &blk)) {
            h->proc++;
            h->va = 0;
            continue;
        }
        const vmsim_vaddr_t end = blk + size;
        /* a mapping none of whose blocks may be huge is skipped whole */
        const struct vma *v = vma_find(&p->vmas, blk);
        if (v) {
            const vmsim_vaddr_t first = (v->start + size - 1) & ~(size - 1);
            if (first < v->start || first + size > v->end || first + size < first ||
                !thp_eligible(k, p, first, first + size)) {
                progress++;
                h->va = v->end > h->va ? v->end : end;
                if (!h->va) /* the end of the address space */
                    h->proc++;
                continue;
            }
        }
        if (thp_eligible(k, p, blk, end)) {
            const uint64_t was = st->pages_scanned;
            rc = collapse(k, p, blk, size);
            progress += st->pages_scanned - was;
        } else {
            progress++;
        }
        h->va = end;
        if (!end)
            h->proc++;
    }
    const uint64_t c = (st->pages_scanned - scanned_before) * k->cfg->cost.pt_ref;
    st->cycles += c;
    k->st->cycles += c;
    return rc;
}
