/* The kernel's view of every successful translation, TLB hits included,
 * when something must see each one (sim->track): page replacement that
 * watches references (LRU, OPT), the touched bitmap of huge pages (thp.c)
 * and --verify's shadow model (verify.c). */
#include "machine/machine.h"

void kernel_touch(struct vmsim *sim, struct process *p, vmsim_vaddr_t va, unsigned kind,
                  unsigned shift, uint64_t pte)
{
    if (sim->k.rc.track)
        reclaim_touch(sim, pte);
    if (sim->k.huge && shift > sim->phys.page_shift)
        thp_touch(sim, PTE_PFN(pte) + ((va & ((1ull << shift) - 1)) >> sim->phys.page_shift));
    if (sim->cfg.verify)
        verify_access(sim, p, va, kind, shift, pte);
}
