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

#include "machine/machine.h"
#include "util/grow.h"

const char *const vmsim_thp_names[] = {"always", "madvise", "never", NULL};

bool thp_eligible(struct vmsim *sim, const struct process *p, vmsim_vaddr_t lo, vmsim_vaddr_t hi)
{
    const uint8_t policy = sim->cfg.thp;
    if (policy == VMSIM_THP_NEVER || sim->k.ops->base_only)
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

static uint64_t *word(struct vmsim *sim, vmsim_pfn_t pfn)
{
    struct kernel *k = &sim->k;
    uint64_t *a = grow_array(k->touched, &k->touched_cap, pfn >> 6, sizeof *a, 1024, 0);
    if (!a)
        return NULL;
    k->touched = a;
    return &k->touched[pfn >> 6];
}

void thp_touch(struct vmsim *sim, vmsim_pfn_t pfn)
{
    uint64_t *w = word(sim, pfn);
    if (w)
        *w |= 1ull << (pfn & 63);
}

void thp_untouch(struct vmsim *sim, vmsim_pfn_t pfn, uint64_t frames)
{
    for (uint64_t i = 0; i < frames; i++) {
        uint64_t *w = word(sim, pfn + i);
        if (w)
            *w &= ~(1ull << ((pfn + i) & 63));
    }
}

void thp_untouched(struct vmsim *sim)
{
    const struct kernel *k = &sim->k;
    uint64_t bytes = 0;
    for (vmsim_pfn_t pfn = 0; pfn < sim->phys.next; pfn++) {
        const struct frame *f = kernel_frame(sim, pfn);
        if (!f->order || !f->refcount || (f->flags & (FRAME_ZERO | FRAME_PT)))
            continue;
        for (uint64_t i = 0; i < (1ull << f->order); i++) {
            const vmsim_pfn_t b = pfn + i;
            if ((b >> 6) >= k->touched_cap || !((k->touched[b >> 6] >> (b & 63)) & 1))
                bytes += 1ull << sim->phys.page_shift;
        }
        pfn += (1ull << f->order) - 1;
    }
    sim->st.huge_untouched = bytes;
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

void thp_maybe_promote(struct vmsim *sim, struct process *p, vmsim_vaddr_t va)
{
    const unsigned H = sim->k.anon_level, ps = sim->phys.page_shift;
    if (H <= 1)
        return;
    const uint64_t size = 1ull << sim->shift[H], pages = size >> ps;
    const vmsim_vaddr_t lo = va & ~(size - 1);
    if (!thp_eligible(sim, p, lo, lo + size))
        return;
    uint64_t n = 0;
    if (pt_visit(p->space.pt, p->space.asid, lo, lo + size, collect_base, &n) != 0 || n != pages)
        return;
    for (uint64_t i = 0; i < pages; i++) {
        const struct frame *f = kernel_frame(sim, PTE_PFN(kernel_lookup(p, lo + (i << ps))));
        if (f->refcount != 1 || (f->flags & FRAME_CACHE))
            return;
    }
    vmsim_pfn_t huge;
    if (phys_alloc(&sim->phys, sim->shift[H] - ps, 0, &huge) != 0)
        return;
    /* Allocation may have evicted some of the pages: check again. */
    n = 0;
    if (pt_visit(p->space.pt, p->space.asid, lo, lo + size, collect_base, &n) != 0 || n != pages) {
        phys_put(&sim->phys, huge);
        return;
    }
    uint64_t bits = PTE_U | PTE_A | PTE_D | PTE_W;
    kernel_frames_written(sim, huge, pages);
    for (uint64_t i = 0; i < pages; i++) {
        const vmsim_vaddr_t a = lo + (i << ps);
        const uint64_t e = kernel_lookup(p, a);
        bits |= e & PTE_X;
        if (sim->cfg.verify)
            verify_set(sim, huge + i, verify_get(sim, PTE_PFN(e)));
        kernel_unmap_page(sim, p, a);
    }
    thp_untouch(sim, huge, pages);
    for (uint64_t i = 0; i < pages; i++)
        thp_touch(sim, huge + i); /* every page was there: each was touched */
    if (kernel_map(sim, p, lo, H, ((uint64_t)huge << PTE_PFN_SHIFT) | bits) != 0) {
        phys_put(&sim->phys, huge);
        return;
    }
    mmu_flush_pwc_all(&sim->mmu); /* the leaf table went */
    sim->st.thp_promotions++;
}

/* ---- split ---- */

struct mapper {
    uint32_t proc;
    vmsim_vaddr_t va;
};

/* Split the huge page mapped by leaf e at va (level) of p, in every
 * process that maps it: each huge entry becomes base entries of the same
 * frames; the frames become base frames, evictable. */
static int split(struct vmsim *sim, struct process *p, vmsim_vaddr_t va, unsigned level, uint64_t e)
{
    struct kernel *k = &sim->k;
    const unsigned ps = sim->phys.page_shift;
    const uint64_t pages = 1ull << (sim->shift[level] - ps);
    const uint64_t bits = e & PTE_FLAGS_MASK & ~PTE_LEAF;
    if (e & PTE_ZERO) { /* the shared zero frame: base zero entries */
        vmsim_pfn_t zero;
        int rc = kernel_zero_frame(sim, 1, &zero);
        if (rc)
            return rc;
        kernel_unmap_page(sim, p, va);
        for (uint64_t i = 0; i < pages; i++) {
            rc = kernel_map(sim, p, va + (i << ps), 1, ((uint64_t)zero << PTE_PFN_SHIFT) | bits);
            if (rc)
                return rc;
        }
        sim->st.thp_splits++;
        return VMSIM_OK;
    }
    const vmsim_pfn_t head = PTE_PFN(e);
    struct frame *f = kernel_frame(sim, head);
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
    phys_split(&sim->phys, head);
    int rc = VMSIM_OK;
    for (size_t j = 0; j < n; j++) {
        struct process *q = k->proc[m[j].proc];
        uint64_t old;
        pt_unmap(q->space.pt, q->space.asid, m[j].va, &old);
        kernel_pt_write(sim, q, m[j].va, 0);
        kernel_shootdown(sim, q, m[j].va);
        const uint64_t b = ent[j] & PTE_FLAGS_MASK & ~PTE_LEAF;
        for (uint64_t i = 0; i < pages && rc == 0; i++)
            rc = kernel_map(sim, q, m[j].va + (i << ps), 1, ((head + i) << PTE_PFN_SHIFT) | b);
    }
    for (uint64_t i = 0; i < pages && rc == 0; i++)
        rc = reclaim_add(sim, head + i);
    free(m);
    free(ent);
    mmu_flush_pwc_all(&sim->mmu);
    sim->st.thp_splits++;
    return rc;
}

int thp_split_at(struct vmsim *sim, struct process *p, vmsim_vaddr_t va)
{
    unsigned level = 0;
    const uint64_t e = pt_lookup(p->space.pt, p->space.asid, va, &level);
    if (!(e & PTE_P) || level <= 1)
        return VMSIM_ENOENT;
    return split(sim, p, va & ~((1ull << sim->shift[level]) - 1), level, e);
}

int thp_split_partial(struct vmsim *sim, struct process *p, vmsim_vaddr_t lo, vmsim_vaddr_t hi)
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
        const uint64_t size = 1ull << sim->shift[level];
        const vmsim_vaddr_t at = edge[i] & ~(size - 1);
        if (at >= lo && at + size <= hi)
            continue;
        int rc = split(sim, p, at, level, e);
        if (rc)
            return rc;
    }
    return VMSIM_OK;
}
