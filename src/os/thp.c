/* Transparent huge pages: where anonymous memory gets huge pages, the
 * promotion of a fully populated block of base pages into one huge page
 * (Linux's khugepaged collapse), the split of a huge page that a munmap
 * or mprotect cuts (split_huge_page), and the bookkeeping behind the
 * statistics seed 000's trade-off asks for: the share of translations
 * served by huge pages (mmu.c), TLB reach (tlb.c) and internal
 * fragmentation, the bytes of huge pages no access ever touched.
 *
 * A copy-on-write of a huge page that finds no free aligned block splits
 * it instead, and the write copies one base page (as Linux falls back).
 *
 * Eligible block: aligned, of the huge size (cfg.anon_page_shift), lying
 * wholly inside one private anonymous VMA (or wholly in implicit memory),
 * and allowed by the policy: always unless advised MADV_NOHUGEPAGE;
 * madvise only where advised MADV_HUGEPAGE; never. File pages and shared
 * memory stay base pages (the page cache holds base pages).
 *
 * Fragmentation needs every base page a huge page serves: while huge pages
 * are in use each translation marks its base frame in a bitmap over
 * frames (kernel_touch), cleared when a huge frame is handed out. */
#include <stdlib.h>
#include <string.h>

#include "os/kernel.h"
#include "util/grow.h"

const char *const vmsim_thp_names[] = {"always", "madvise", "never", NULL};

bool thp_eligible(struct kernel *k, const struct process *p, vmsim_vaddr_t lo, vmsim_vaddr_t hi)
{
    const uint8_t policy = k->cfg->thp;
    if (policy == VMSIM_THP_NEVER || k->ops->base_only)
        return false;
    const struct vma *v = vma_find(&p->vmas, lo);
    if (!v) /* implicit memory: the whole block must be */
        return policy == VMSIM_THP_ALWAYS && vma_uniform(&p->vmas, lo, hi);
    if (hi > v->end || v->file || (v->flags & VMSIM_MAP_SHARED) ||
        v->advice == VMSIM_ADV_NOHUGEPAGE)
        return false;
    return policy == VMSIM_THP_ALWAYS || v->advice == VMSIM_ADV_HUGEPAGE;
}

/* ---- the touched bitmap ---- */

static uint64_t *word(struct kernel *k, vmsim_pfn_t pfn)
{
    uint64_t *a = grow_array(k->touched, &k->touched_cap, pfn >> 6, sizeof *a, 1024, 0);
    if (!a)
        return NULL;
    k->touched = a;
    return &k->touched[pfn >> 6];
}

void thp_touch(struct kernel *k, vmsim_pfn_t pfn)
{
    uint64_t *w = word(k, pfn);
    if (w)
        *w |= 1ull << (pfn & 63);
}

void thp_untouch(struct kernel *k, vmsim_pfn_t pfn, uint64_t frames)
{
    for (uint64_t i = 0; i < frames; i++) {
        uint64_t *w = word(k, pfn + i);
        if (w)
            *w &= ~(1ull << ((pfn + i) & 63));
    }
}

void thp_untouched(const struct kernel *k, struct vmsim_stats *out)
{
    uint64_t bytes = 0;
    for (vmsim_pfn_t pfn = 0; pfn < k->phys->next; pfn++) {
        const struct frame *f = kernel_frame(k, pfn);
        if (!f->order || !f->refcount || (f->flags & (FRAME_ZERO | FRAME_PT)))
            continue;
        for (uint64_t i = 0; i < (1ull << f->order); i++) {
            const vmsim_pfn_t b = pfn + i;
            if ((b >> 6) >= k->touched_cap || !((k->touched[b >> 6] >> (b & 63)) & 1))
                bytes += 1ull << k->phys->page_shift;
        }
        pfn += (1ull << f->order) - 1;
    }
    out->huge_untouched = bytes;
}

/* ---- promotion ---- */

/* Count the leaves of a block that can be collapsed: present, writable
 * base pages (not the zero frame); stop at any other. */
static int collect_base(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t e)
{
    uint64_t *n = ctx;
    if (level != 1 || !(e & PTE_P) || !(e & PTE_W) || (e & PTE_ZERO))
        return 1;
    n[0]++;
    return 0;
}

void thp_maybe_promote(struct kernel *k, struct process *p, vmsim_vaddr_t va)
{
    const unsigned H = k->anon_level, ps = k->phys->page_shift;
    if (H <= 1)
        return;
    const uint64_t size = 1ull << k->shift[H], pages = size >> ps;
    const vmsim_vaddr_t lo = va & ~(size - 1);
    if (!thp_eligible(k, p, lo, lo + size))
        return;
    uint64_t n = 0;
    if (pt_visit(p->space.pt, p->space.asid, lo, lo + size, collect_base, &n) != 0 || n != pages)
        return;
    for (uint64_t i = 0; i < pages; i++) {
        const struct frame *f = kernel_frame(k, PTE_PFN(kernel_lookup(p, lo + (i << ps))));
        if (f->refcount != 1 || (f->flags & FRAME_CACHE))
            return;
    }
    vmsim_pfn_t huge;
    if (phys_alloc(k->phys, k->shift[H] - ps, 0, &huge) != 0)
        return;
    /* Allocation may have evicted some of the pages: check again. */
    n = 0;
    if (pt_visit(p->space.pt, p->space.asid, lo, lo + size, collect_base, &n) != 0 || n != pages) {
        phys_put(k->phys, huge);
        return;
    }
    uint64_t bits = PTE_U | PTE_A | PTE_D | PTE_W;
    kernel_frames_written(k, huge, pages);
    for (uint64_t i = 0; i < pages; i++) {
        const vmsim_vaddr_t a = lo + (i << ps);
        const uint64_t e = kernel_lookup(p, a);
        bits |= e & PTE_X;
        if (k->cfg->verify)
            verify_set(k, huge + i, verify_get(k, PTE_PFN(e)));
        kernel_unmap_page(k, p, a);
    }
    thp_untouch(k, huge, pages);
    for (uint64_t i = 0; i < pages; i++)
        thp_touch(k, huge + i); /* every page was there: each was touched */
    if (kernel_map(k, p, lo, H, ((uint64_t)huge << PTE_PFN_SHIFT) | bits) != 0) {
        phys_put(k->phys, huge);
        return;
    }
    reclaim_add(k, huge); /* evictable, split first (reclaim.c); if it cannot join, it stays */
    mmu_flush_pwc_all(k->mmu); /* the leaf table went */
    k->st->thp_promotions++;
}

/* ---- split ---- */

struct mapper {
    uint32_t proc;
    vmsim_vaddr_t va;
};

/* Split the huge page mapped by leaf e at va (level) of p, in every
 * process that maps it: each huge entry becomes base entries of the same
 * frames; the frames become base frames, evictable. */
static int split(struct kernel *k, struct process *p, vmsim_vaddr_t va, unsigned level, uint64_t e)
{
    const unsigned ps = k->phys->page_shift;
    const uint64_t pages = 1ull << (k->shift[level] - ps);
    const uint64_t bits = e & PTE_FLAGS_MASK & ~PTE_LEAF;
    if (e & PTE_ZERO) { /* the shared zero frame: base zero entries */
        vmsim_pfn_t zero;
        int rc = kernel_zero_frame(k, 1, &zero);
        if (rc)
            return rc;
        kernel_unmap_page(k, p, va);
        for (uint64_t i = 0; i < pages; i++) {
            rc = kernel_map(k, p, va + (i << ps), 1, ((uint64_t)zero << PTE_PFN_SHIFT) | bits);
            if (rc)
                return rc;
        }
        k->st->thp_splits++;
        return VMSIM_OK;
    }
    const vmsim_pfn_t head = PTE_PFN(e);
    struct frame *f = kernel_frame(k, head);
    size_t n = 0;
    for (uint32_t i = f->rmap; i; i = k->rmap.e[i].next)
        n++;
    struct mapper *m = malloc((n ? n : 1) * sizeof *m);
    uint64_t *ent = malloc((n ? n : 1) * sizeof *ent);
    if (!m || !ent) {
        free(m);
        free(ent);
        return VMSIM_ENOMEM;
    }
    n = 0;
    for (uint32_t i = f->rmap; i; i = k->rmap.e[i].next) {
        m[n] = (struct mapper){k->rmap.e[i].proc, rmap_va(&k->rmap.e[i])};
        ent[n] = kernel_lookup(k->proc[m[n].proc], m[n].va);
        n++;
    }
    rmap_clear(&k->rmap, f);
    reclaim_remove(k, head); /* its base frames join the list below */
    phys_split(k->phys, head);
    int rc = VMSIM_OK;
    for (size_t j = 0; j < n; j++) {
        struct process *q = k->proc[m[j].proc];
        uint64_t old;
        pt_unmap(q->space.pt, q->space.asid, m[j].va, &old);
        kernel_pt_write(k, q, m[j].va, 0);
        kernel_shootdown(k, q, m[j].va);
        const uint64_t b = ent[j] & PTE_FLAGS_MASK & ~PTE_LEAF;
        for (uint64_t i = 0; i < pages && rc == 0; i++)
            rc = kernel_map(k, q, m[j].va + (i << ps), 1, ((head + i) << PTE_PFN_SHIFT) | b);
    }
    for (uint64_t i = 0; i < pages && rc == 0; i++)
        rc = reclaim_add(k, head + i);
    free(m);
    free(ent);
    mmu_flush_pwc_all(k->mmu);
    k->st->thp_splits++;
    return rc;
}

int thp_split_at(struct kernel *k, struct process *p, vmsim_vaddr_t va)
{
    unsigned level = 0;
    const uint64_t e = pt_lookup(p->space.pt, p->space.asid, va, &level);
    if (!(e & PTE_P) || level <= 1)
        return VMSIM_ENOENT;
    return split(k, p, va & ~((1ull << k->shift[level]) - 1), level, e);
}

int thp_split_partial(struct kernel *k, struct process *p, vmsim_vaddr_t lo, vmsim_vaddr_t hi)
{
    if (lo >= hi)
        return VMSIM_OK;
    /* Only the huge pages at the two edges can be cut. */
    const vmsim_vaddr_t edge[2] = {lo, hi - 1};
    for (int i = 0; i < 2; i++) {
        unsigned level = 0;
        const uint64_t e = pt_lookup(p->space.pt, p->space.asid, edge[i], &level);
        if (!(e & PTE_P) || level <= 1)
            continue;
        const uint64_t size = 1ull << k->shift[level];
        const vmsim_vaddr_t at = edge[i] & ~(size - 1);
        if (at >= lo && at + size <= hi)
            continue;
        int rc = split(k, p, at, level, e);
        if (rc)
            return rc;
    }
    return VMSIM_OK;
}
