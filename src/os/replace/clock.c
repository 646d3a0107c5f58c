/* Clock (second chance), as in the hardware it models: it costs nothing per
 * access. The list is the circle; a new frame takes its place just behind
 * the hand (where the last victim was); the hand sweeps on, and a frame
 * any of whose mappings has its accessed bit set gets a second chance: the
 * bits are cleared, with a TLB invalidation each (so the next reference
 * walks and sets the bit again, as a reference bit would be); the first
 * frame found unreferenced goes. */
#include "os/replace/replace.h"

static int clock_add(struct kernel *k, vmsim_pfn_t pfn)
{
    struct reclaim *r = &k->rc;
    if (r->hand == FRAME_NIL) {
        replace_link_tail(k, pfn);
        return VMSIM_OK;
    }
    struct frame *f = kernel_frame(k, pfn), *h = kernel_frame(k, r->hand);
    f->next = r->hand;
    f->prev = h->prev;
    if (h->prev != FRAME_NIL)
        kernel_frame(k, h->prev)->next = (uint32_t)pfn;
    else
        r->head = (uint32_t)pfn;
    h->prev = (uint32_t)pfn;
    return VMSIM_OK;
}

static void clock_remove(struct kernel *k, vmsim_pfn_t pfn, uint32_t at, uint32_t last)
{
    struct reclaim *r = &k->rc;
    if (r->hand == pfn)
        r->hand = kernel_frame(k, pfn)->next;
}

/* The reference bit: test and clear the accessed bits of every mapping of
 * the frame (page tables have none: never referenced). */
static bool referenced(struct kernel *k, vmsim_pfn_t pfn)
{
    bool any = false;
    if (kernel_frame(k, pfn)->flags & FRAME_PT)
        return false;
    for (uint32_t i = kernel_frame(k, pfn)->rmap; i; i = k->rmap.e[i].next) {
        const struct rmap_entry *e = &k->rmap.e[i];
        struct process *p = k->proc[e->proc];
        if (kernel_lookup(p, rmap_va(e)) & PTE_A) {
            any = true;
            pt_update(p->space.pt, p->space.asid, rmap_va(e), 0, PTE_A);
            kernel_pt_write(k, p, rmap_va(e), 0);
            kernel_shootdown(k, p, rmap_va(e));
        }
    }
    return any;
}

/* The next candidate: the first unreferenced frame from the hand. A
 * candidate that could not go (skip > 0: no swap slot) is behind the hand
 * already, so the next one is simply the next the hand finds; counting
 * `skip` more from here would pass over frames that could go. */
static vmsim_pfn_t clock_victim(struct kernel *k, uint64_t skip)
{
    struct reclaim *r = &k->rc;
    (void)skip;
    /* Two sweeps clear every reference bit; a third finds a victim. */
    for (uint64_t steps = 0; steps < 3 * r->count; steps++) {
        if (r->hand == FRAME_NIL)
            r->hand = r->head;
        vmsim_pfn_t pfn = r->hand;
        r->hand = kernel_frame(k, pfn)->next;
        if (!replace_evictable(k, pfn))
            continue;
        if (referenced(k, pfn))
            continue;
        return pfn;
    }
    return FRAME_NIL;
}

const struct replace_ops replace_clock = {
    .add = clock_add,
    .remove = clock_remove,
    .victim = clock_victim,
};
