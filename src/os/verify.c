/* --verify: data integrity through every path a page takes.
 *
 * Each base frame, swap slot and non-resident page-cache page carries a
 * content stamp; whoever moves contents moves the stamp (zero fill, copy on
 * write, swap-out of a dirty page, swap-in, file read, write-back). Every
 * write gives the page a new stamp; a shadow model records what each
 * process should see: per process for private pages (copied at fork), per
 * page-cache entry for shared ones. Every read compares the frame's stamp
 * with the shadow. A page dropped as clean when it was not, a copy that was
 * skipped, a swap slot shared by mistake: each makes some later read see a
 * stamp the model does not expect.
 *
 * Expected contents when nothing has been written: 0 for anonymous memory,
 * the page-cache entry's (file, page) value for file pages. */
#include <stdlib.h>
#include <string.h>

#include "os/kernel.h"
#include "util/grow.h"

static uint64_t *slot(struct kernel *k, vmsim_pfn_t pfn)
{
    uint64_t *a = grow_array(k->stamp, &k->stamp_cap, pfn, sizeof *a, 4096, 0);
    if (!a)
        return NULL;
    k->stamp = a;
    return &k->stamp[pfn];
}

uint64_t verify_get(struct kernel *k, vmsim_pfn_t pfn)
{
    uint64_t *s = slot(k, pfn);
    return s ? *s : 0;
}

void verify_set(struct kernel *k, vmsim_pfn_t pfn, uint64_t stamp)
{
    uint64_t *s = slot(k, pfn);
    if (s)
        *s = stamp;
}

void verify_copy(struct kernel *k, vmsim_pfn_t dst, vmsim_pfn_t src, uint64_t frames)
{
    for (uint64_t i = 0; i < frames; i++)
        verify_set(k, dst + i, src == FRAME_NIL ? 0 : verify_get(k, src + i));
}

static void mismatch(struct kernel *k, const struct process *p, vmsim_vaddr_t va, uint64_t want,
                     uint64_t got)
{
    if (!k->st->verify_mismatches++)
        k->first_mismatch = (struct vmsim_mismatch){p->space.pid, va, want, got, mmu_accesses(k->mmu)};
}

void verify_access(struct kernel *k, struct process *p, vmsim_vaddr_t va, unsigned kind,
                   unsigned shift, uint64_t pte)
{
    const unsigned ps = k->phys->page_shift;
    const vmsim_pfn_t pfn = PTE_PFN(pte) + ((va & ((1ull << shift) - 1)) >> ps);
    const struct vma *v = vma_find(&p->vmas, va);
    struct pc_entry *pe = v && v->file ? pc_get(&k->pc, v->file, vma_index(v, va, ps)) : NULL;
    const bool shared = v && (v->flags & VMSIM_MAP_SHARED) && pe;
    const uint64_t *mine = shared ? NULL : u64map_get(&p->shadow, va >> ps);
    const uint64_t want = shared ? pe->shadow : mine ? *mine : pe ? pe->shadow : 0;
    if (kind != VMSIM_WRITE) {
        k->st->verify_checks++;
        const uint64_t got = verify_get(k, pfn);
        if (got != want)
            mismatch(k, p, va, want, got);
    }
    if (kind & 1u) {
        const uint64_t s = ++k->stamp_next;
        verify_set(k, pfn, s);
        if (shared)
            pe->shadow = s;
        else
            u64map_put(&p->shadow, va >> ps, s);
    }
}

int verify_first(const struct kernel *k, struct vmsim_mismatch *m)
{
    if (!k->st->verify_mismatches)
        return VMSIM_ENOENT;
    *m = k->first_mismatch;
    return VMSIM_OK;
}

int verify_corrupt(struct kernel *k, vmsim_pid_t pid, vmsim_vaddr_t va)
{
    int rc = 0;
    struct process *p = kernel_process(k, pid, false, &rc);
    if (!p)
        return VMSIM_ENOENT;
    uint64_t e = kernel_lookup(p, va);
    const unsigned ps = k->phys->page_shift;
    if (e & PTE_SWAP) {
        if (!k->phys->swap.stamp)
            return VMSIM_EINVAL;
        k->phys->swap.stamp[PTE_PFN(e)] ^= 1;
        return VMSIM_OK;
    }
    if (!(e & PTE_P) || (e & PTE_ZERO))
        return VMSIM_ENOENT;
    /* the base frame of va inside the page (a huge page spans 2^order) */
    const vmsim_pfn_t head = PTE_PFN(e);
    const uint64_t off = (va >> ps) & ((1ull << phys_frame(k->phys, head)->order) - 1);
    verify_set(k, head + off, verify_get(k, head + off) ^ 1);
    return VMSIM_OK;
}
