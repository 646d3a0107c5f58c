/* The swap cache: for each swap slot, the frame that holds its contents
 * while both are valid (a page swapped in and not written since), so that
 * a second mapping of the slot finds the page in memory and a clean page
 * can be evicted again without a write. FRAME_SWAPPED on the frame says the
 * link is valid; frame->aux names the slot. */
#include "os/kernel.h"
#include "util/grow.h"

vmsim_pfn_t swapcache_frame(const struct kernel *k, uint64_t slot)
{
    return slot < k->swap_frame_cap ? k->swap_frame[slot] : FRAME_NIL;
}

int swapcache_set(struct kernel *k, uint64_t slot, vmsim_pfn_t pfn)
{
    uint32_t *a = grow_array(k->swap_frame, &k->swap_frame_cap, slot, sizeof *a, 1024, 0xff);
    if (!a)
        return VMSIM_ENOMEM; /* FRAME_NIL is all ones */
    k->swap_frame = a;
    k->swap_frame[slot] = (uint32_t)pfn;
    return VMSIM_OK;
}

void kernel_drop_swap_copy(struct kernel *k, vmsim_pfn_t pfn)
{
    struct frame *f = kernel_frame(k, pfn);
    if (!(f->flags & FRAME_SWAPPED))
        return;
    f->flags &= (uint16_t)~FRAME_SWAPPED;
    swapcache_set(k, f->aux, FRAME_NIL); /* the slot is below the array's size */
    swap_put(&k->phys->swap, f->aux);
}
