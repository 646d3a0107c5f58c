/* The page-fault handler (seed 003's sequence): find the VMA, check the
 * access against it, then by the state of the entry the walk found:
 *
 *   present, write not allowed   write_fault: copy-on-write of the zero
 *                                frame, of a page others share (copy), of a
 *                                page only this process maps (reuse)
 *   swap entry                   swap_in, through the swap cache
 *   empty, file-backed VMA       file_fault, through the page cache
 *   empty, anonymous             anon_fault: demand-zero
 *
 * First, though, the walk may have stopped at a page table that is out
 * (--evict-tables): table_fault brings it back and walks again, in a loop,
 * until the walk reaches the page's own entry: the iterative handler of
 * seed 000, one activation whatever the depth. The depth a recursive
 * handler would have reached (each evicted table one more activation, the
 * page's own fault one more) is recorded with the stack it would need.
 *
 * A fault that cannot be fixed (protection, strict-mode segfault, out of
 * memory) is counted and the access goes on untranslated. */
#include "os/compact.h"
#include "os/kernel.h"

#define PROT_ALL (VMSIM_PROT_R | VMSIM_PROT_W | VMSIM_PROT_X)

static uint64_t prot_bits(unsigned prot)
{
    return PTE_U | ((prot & VMSIM_PROT_W) ? PTE_W : 0) | ((prot & VMSIM_PROT_X) ? PTE_X : 0);
}

static uint64_t frame_pte(vmsim_pfn_t pfn) { return (uint64_t)pfn << PTE_PFN_SHIFT; }

static unsigned order_of(const struct kernel *k, unsigned level)
{
    return k->shift[level] - k->phys->page_shift;
}

/* A new private frame for a page of `level`, on the replacement list (a
 * huge page is split when it is chosen: reclaim.c). With compact set (and
 * cfg.compact), a huge page that finds no free block compacts memory and
 * tries once more (compact.c). */
static int new_frame(struct kernel *k, unsigned level, bool compact, vmsim_pfn_t *pfn)
{
    int rc = phys_alloc(k->phys, order_of(k, level), 0, pfn);
    if (rc == VMSIM_ENOFRAME && level > 1 && compact && k->cfg->compact &&
        (rc = compact_for_order(k, order_of(k, level))) == 0)
        rc = phys_alloc(k->phys, order_of(k, level), 0, pfn);
    if (rc == 0 && (rc = reclaim_add(k, *pfn)) != 0)
        phys_put(k->phys, *pfn);
    if (rc == 0 && level > 1 && k->huge)
        thp_untouch(k, *pfn, 1ull << order_of(k, level));
    return rc;
}

/* Every frame handed out holds what its page must hold before anyone
 * reads it: zeroes (demand-zero, the zero frame), a copy (copy-on-write,
 * promotion), the swap slot or the page-cache entry (swap-in, file read).
 * A frame from the allocator may be a recycled one still holding a freed
 * page's data, so the zero frame, allocated lazily, is filled too. */
int kernel_zero_frame(struct kernel *k, unsigned level, vmsim_pfn_t *pfn)
{
    if (!(k->zero_have & (1u << level))) {
        const uint64_t frames = 1ull << order_of(k, level);
        int rc = phys_alloc(k->phys, order_of(k, level), FRAME_ZERO | FRAME_PINNED,
                            &k->zero[level]);
        if (rc)
            return rc;
        k->zero_have |= 1u << level;
        kernel_frames_written(k, k->zero[level], frames);
        if (k->cfg->verify)
            verify_copy(k, k->zero[level], FRAME_NIL, frames);
    }
    *pfn = k->zero[level];
    return VMSIM_OK;
}

/* Out of simulated memory: counted, the access goes on untranslated. */
static int oom(struct kernel *k, int rc)
{
    if (rc != VMSIM_ENOFRAME)
        return rc;
    k->st->faults_oom++;
    return VMSIM_OK;
}

/* A write to a present entry that does not allow it, in a VMA that does. */
static int write_fault(struct kernel *k, struct process *p, const struct vma *v, vmsim_vaddr_t va,
                       unsigned level, uint64_t pte, bool *fixed)
{
    struct vmsim_stats *st = k->st;
    const uint64_t bits = prot_bits(v->prot) | PTE_A | PTE_D;
    const vmsim_pfn_t old = PTE_PFN(pte);
    int rc;
    /* a private write changes this process's entry alone */
    if (!(v->flags & VMSIM_MAP_SHARED) && (rc = ptshare_private(k, p, va)) != 0)
        return rc;
    if ((v->flags & VMSIM_MAP_SHARED) ||
        (!(pte & PTE_ZERO) && !(kernel_frame(k, old)->flags & FRAME_CACHE) &&
         kernel_frame(k, old)->refcount == 1)) {
        /* Shared memory, or a private page no one else maps: write in place
         * (Linux's wp_page_reuse); a swap copy is stale from now on. */
        if (!(pte & PTE_ZERO))
            kernel_drop_swap_copy(k, old);
        pt_update(p->space.pt, p->space.asid, va, bits, 0);
        kernel_pt_write(k, p, va, 0);
        kernel_shootdown(k, p, va);
        *fixed = true;
        if (v->flags & VMSIM_MAP_SHARED)
            return VMSIM_OK;
        st->faults_cow_reuse++;
        if (level == 1 && k->huge)
            thp_maybe_promote(k, p, va);
        return VMSIM_OK;
    }
    /* Copy: the zero frame, or a frame others map (fork, page cache). */
    vmsim_pfn_t pfn;
    k->rc.busy = old;
    rc = new_frame(k, level, true, &pfn);
    k->rc.busy = UINT64_MAX;
    if (rc == VMSIM_ENOFRAME && level > 1 && thp_split_at(k, p, va) == VMSIM_OK) {
        *fixed = true; /* the retry copies one base page */
        return VMSIM_OK;
    }
    if (rc)
        return oom(k, rc);
    kernel_frames_written(k, pfn, 1ull << order_of(k, level));
    if (k->cfg->verify)
        verify_copy(k, pfn, (pte & PTE_ZERO) ? FRAME_NIL : old, 1ull << order_of(k, level));
    if (!(pte & PTE_ZERO))
        rmap_del(&k->rmap, kernel_frame(k, old), p->id,
                 va & ~((1ull << k->shift[level]) - 1));
    if ((rc = kernel_map(k, p, va, level, frame_pte(pfn) | bits)) != 0) {
        kernel_put_frame(k, pfn);
        return oom(k, rc);
    }
    kernel_shootdown(k, p, va);
    /* the old frame goes after the shootdown: in a parallel run the caller
     * keeps it pinned until the other CPUs acknowledged (seed 003) */
    if (k->defer && !(pte & PTE_ZERO) && k->defer->nput < KERNEL_DEFER_MAX)
        k->defer->put[k->defer->nput++] = old;
    else
        kernel_put_frame(k, old); /* the zero frame is never dropped */
    if (pte & PTE_ZERO)
        st->faults_cow_zero++;
    else
        st->faults_cow_copy++;
    *fixed = true;
    if (level == 1 && k->huge && !v->file)
        thp_maybe_promote(k, p, va);
    return VMSIM_OK;
}

/* The page is in swap slot PTE_PFN(pte). Another mapping may have brought
 * it in already (the swap cache); else read it into a new frame that keeps
 * the slot as a valid copy. It is mapped read-only: a write then goes
 * through write_fault, which reuses or copies it. */
static int swap_in(struct kernel *k, struct process *p, const struct vma *v, vmsim_vaddr_t va,
                   unsigned kind, unsigned level, uint64_t pte, bool *fixed)
{
    const uint64_t slot = PTE_PFN(pte);
    vmsim_pfn_t pfn = swapcache_frame(k, slot);
    int rc;
    if (pfn != FRAME_NIL) {
        kernel_frame(k, pfn)->refcount++;
    } else {
        if ((rc = new_frame(k, level, false, &pfn)) != 0)
            return oom(k, rc);
        if ((rc = swapcache_set(k, slot, pfn)) != 0) {
            kernel_put_frame(k, pfn);
            return rc;
        }
        kernel_frame(k, pfn)->flags |= FRAME_SWAPPED;
        kernel_frame(k, pfn)->aux = slot;
        kernel_frames_written(k, pfn, 1);
        if (k->phys->swap.stamp)
            verify_set(k, pfn, k->phys->swap.stamp[slot]);
        swap_get(&k->phys->swap, slot);
        k->st->swap_reads++;
        k->st->cycles += k->cfg->cost.io;
        k->st->cycles_translation += k->cfg->cost.io;
    }
    k->st->faults_swap_in++;
    const uint64_t ro = frame_pte(pfn) | (prot_bits(v->prot) & ~PTE_W) | PTE_A;
    if ((rc = kernel_map(k, p, va, level, ro)) != 0) {
        kernel_put_frame(k, pfn);
        return oom(k, rc);
    }
    swap_put(&k->phys->swap, slot); /* the entry no longer names the slot */
    /* A write is fixed only if write_fault fixes it: a copy that finds no
     * frame is out of memory, and the access goes on untranslated. */
    *fixed = !(kind & 1u);
    if (kind & 1u)
        return write_fault(k, p, v, va, level, ro | PTE_P, fixed);
    return VMSIM_OK;
}

/* A file page (or anonymous shared memory) through the page cache. */
static int file_fault(struct kernel *k, struct process *p, const struct vma *v, vmsim_vaddr_t va,
                      unsigned kind, bool *fixed)
{
    struct vmsim_stats *st = k->st;
    const bool write = kind & 1u, shared = v->flags & VMSIM_MAP_SHARED;
    unsigned fresh = 0;
    int rc;
    if (k->cfg->share_tables) {
        if ((rc = ptshare_fault(k, p, v, va, &fresh)) != 0)
            return oom(k, rc);
        if (kernel_lookup(p, va) & PTE_P) { /* another sharer faulted it in */
            k->st->faults_pagecache_hit++;
            *fixed = true;
            /* a level-2 table made to reach another's leaf table is registered */
            return fresh ? ptshare_register(k, p, v, va, fresh) : VMSIM_OK;
        }
    }
    struct pc_entry *pe = pc_get(&k->pc, v->file, vma_index(v, va, k->phys->page_shift));
    if (!pe)
        return VMSIM_ENOMEM;
    const uint64_t ei = (uint64_t)(pe - k->pc.e);
    vmsim_pfn_t pfn = pe->pfn;
    if (pfn == PC_NONE) {
        if ((rc = phys_alloc(k->phys, 0, FRAME_CACHE, &pfn)) != 0)
            return oom(k, rc);
        if ((rc = reclaim_add(k, pfn)) != 0) {
            phys_put(k->phys, pfn);
            return rc;
        }
        pe = &k->pc.e[ei];
        pe->pfn = pfn;
        kernel_frame(k, pfn)->aux = ei;
        kernel_frames_written(k, pfn, 1);
        if (k->cfg->verify)
            verify_set(k, pfn, pe->stamp);
        if (pe->file < SHMEM_FIRST || pe->slot != PC_NONE) {
            /* new anonymous shared memory is zero-filled: no read */
            st->cycles += k->cfg->cost.io;
            st->cycles_translation += k->cfg->cost.io;
            if (pe->file < SHMEM_FIRST)
                st->file_reads++;
            else
                st->swap_reads++;
        }
        st->faults_pagecache_miss++;
    } else {
        st->faults_pagecache_hit++;
    }
    kernel_frame(k, pfn)->refcount++; /* the mapping's reference */
    uint64_t bits = prot_bits(v->prot) | PTE_A;
    if (shared && write)
        bits |= PTE_D;
    if (!shared)
        bits &= ~PTE_W; /* private: the first write copies */
    if ((rc = kernel_map(k, p, va, 1, frame_pte(pfn) | bits)) != 0) {
        kernel_put_frame(k, pfn);
        return oom(k, rc);
    }
    *fixed = !(write && !shared); /* a private write: if write_fault fixes it (swap_in) */
    if (fresh && (rc = ptshare_register(k, p, v, va, fresh)) != 0)
        return rc;
    if (write && !shared)
        return write_fault(k, p, v, va, 1, frame_pte(pfn) | bits | PTE_P, fixed);
    return VMSIM_OK;
}

/* The leaf level to use for a new anonymous page at va. */
static unsigned anon_level(struct kernel *k, const struct process *p, vmsim_vaddr_t va)
{
    unsigned level = k->ops->base_only ? 1 : k->anon_level;
    while (level > 1) {
        uint64_t size = 1ull << k->shift[level];
        vmsim_vaddr_t lo = va & ~(size - 1);
        if (thp_eligible(k, p, lo, lo + size))
            break;
        level--;
        while (level > 1 && !(k->cfg->geom.leaf_levels & (1u << level)))
            level--;
    }
    return level;
}

static int any_leaf(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t e)
{
    (void)ctx, (void)va, (void)level, (void)e;
    return 1;
}

/* Does p have no leaf (present or swapped) in the block of `level` at va? */
static bool block_empty(struct kernel *k, struct process *p, vmsim_vaddr_t va, unsigned level)
{
    const uint64_t size = 1ull << k->shift[level];
    const vmsim_vaddr_t lo = va & ~(size - 1);
    return pt_visit(p->space.pt, p->space.asid, lo, lo + size, any_leaf, NULL) == 0;
}

/* Demand-zero: a first read maps the shared zero frame, a first write a
 * new frame. A huge page that finds no room, or smaller pages already in
 * its block, falls back to a base page. */
static int anon_fault(struct kernel *k, struct process *p, const struct vma *v, vmsim_vaddr_t va,
                      unsigned kind, bool *fixed)
{
    const bool write = kind & 1u;
    const uint64_t bits = prot_bits(v->prot) | PTE_A;
    unsigned level = anon_level(k, p, va);
    /* compaction only for a block with no page in it yet: the map would
     * refuse the huge page after all (VMSIM_EEXIST) */
    const bool compact = level > 1 && k->cfg->compact && block_empty(k, p, va, level);
    for (;;) {
        vmsim_pfn_t pfn;
        uint64_t pte;
        int rc;
        if (write) {
            rc = new_frame(k, level, compact, &pfn);
            if (rc == 0)
                kernel_frames_written(k, pfn, 1ull << order_of(k, level));
            if (rc == 0 && k->cfg->verify)
                verify_copy(k, pfn, FRAME_NIL, 1ull << order_of(k, level));
            pte = frame_pte(pfn) | bits | PTE_D;
        } else {
            rc = kernel_zero_frame(k, level, &pfn);
            pte = frame_pte(pfn) | (bits & ~PTE_W) | PTE_ZERO;
        }
        if (rc == 0) {
            rc = kernel_map(k, p, va, level, pte);
            if (rc && write)
                kernel_put_frame(k, pfn);
        }
        if ((rc == VMSIM_ENOFRAME || rc == VMSIM_EEXIST) && level > 1) {
            k->st->thp_fallbacks++;
            level = 1;
            continue;
        }
        if (rc)
            return oom(k, rc);
        break;
    }
    if (write)
        k->st->faults_zero_write++;
    else
        k->st->faults_zero_read++;
    *fixed = true;
    if (write && level == 1 && k->huge)
        thp_maybe_promote(k, p, va);
    return VMSIM_OK;
}

/* The entry at `level` (from a walk) points to a table that is out: bring
 * the table back from its swap slot. */
static int table_fault(struct kernel *k, struct process *p, vmsim_vaddr_t va, unsigned level,
                       uint64_t link)
{
    vmsim_pfn_t pfn;
    int rc = phys_alloc(k->phys, 0, FRAME_PT, &pfn);
    if (rc)
        return rc;
    if ((rc = pt_table_in(p->space.pt, va, level - 1, pfn)) != 0) {
        phys_put(k->phys, pfn);
        return rc;
    }
    swap_put(&k->phys->swap, PTE_PFN(link));
    k->st->faults_table++;
    k->st->swap_reads++;
    k->st->cycles += k->cfg->cost.io;
    k->st->cycles_translation += k->cfg->cost.io;
    kernel_track_tables(k, p, va);
    return VMSIM_OK;
}

/* What a recursive handler would have needed for this access. */
static void record_depth(struct kernel *k, unsigned depth)
{
    struct vmsim_stats *st = k->st;
    const uint64_t need = (uint64_t)depth * k->cfg->handler_frame;
    if (depth > st->nested_max)
        st->nested_max = depth;
    if (depth > 1)
        st->nested_deep++;
    if (need > st->stack_recursive_max)
        st->stack_recursive_max = need;
    if (need > k->cfg->kernel_stack)
        st->stack_overflows++;
    st->stack_iterative_max = k->cfg->handler_frame;
}

bool kernel_entry_allows(uint64_t pte, unsigned kind)
{
    if (!(pte & PTE_P))
        return false;
    if (kind & 1u)
        return (pte & (PTE_W | PTE_ZERO)) == PTE_W;
    return kind != VMSIM_FETCH || (pte & PTE_X);
}

static bool prot_allows(unsigned prot, unsigned kind)
{
    if (kind & 1u)
        return prot & VMSIM_PROT_W;
    if (kind == VMSIM_FETCH)
        return prot & VMSIM_PROT_X;
    return prot & VMSIM_PROT_R;
}

int kernel_fault(struct kernel *k, struct process *p, vmsim_vaddr_t va, unsigned kind,
                 const struct walk *w, bool *fixed)
{
    struct vmsim_stats *st = k->st;
    *fixed = false;
    st->faults_total++;
    unsigned depth = 0;
    struct walk again;
    /* Bounded: under heavy pressure bringing one table in may evict another
     * on the same path. */
    for (unsigned n = 0; (w->pte & PTE_SWAP) && !(w->pte & PTE_LEAF); n++) {
        int rc = n < 4 * VMSIM_MAX_LEVELS ? table_fault(k, p, va, w->level, w->pte) : VMSIM_ENOFRAME;
        if (rc)
            return oom(k, rc);
        depth++;
        pt_walk(p->space.pt, p->space.asid, va, NULL, &again);
        w = &again;
    }
    if (depth && kernel_entry_allows(w->pte, kind)) {
        record_depth(k, depth);
        *fixed = true;
        return VMSIM_OK;
    }
    record_depth(k, depth + 1);
    const struct vma *found = vma_find(&p->vmas, va);
    if (!found && k->cfg->strict) {
        st->faults_segv++;
        return VMSIM_OK;
    }
    const struct vma v = found ? *found : (struct vma){.prot = PROT_ALL};
    if ((v.flags & VMSIM_MAP_SUPERVISOR) || !prot_allows(v.prot, kind)) {
        st->faults_protection++;
        return VMSIM_OK;
    }
    if (w->pte & PTE_P) {
        if (!(kind & 1u)) { /* the VMA allows it, the entry not: nothing to fix */
            st->faults_protection++;
            return VMSIM_OK;
        }
        return write_fault(k, p, &v, va, w->level, w->pte, fixed);
    }
    if (w->pte & PTE_SWAP)
        return swap_in(k, p, &v, va, kind, w->level, w->pte, fixed);
    if (v.file)
        return file_fault(k, p, &v, va, kind, fixed);
    return anon_fault(k, p, &v, va, kind, fixed);
}
