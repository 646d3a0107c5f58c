/* The kernel's view of every successful translation, TLB hits included,
 * when something must see each one (the MMU's track): page replacement that
 * watches references (LRU, OPT), the touched bitmap of huge pages (thp.c)
 * and --verify's shadow model (verify.c). */
#include "os/kernel.h"

void kernel_touch(struct kernel *k, struct process *p, vmsim_vaddr_t va, unsigned kind,
                  unsigned shift, uint64_t pte)
{
    if (k->rc.track)
        reclaim_touch(k, pte);
    if (k->huge && shift > k->phys->page_shift)
        thp_touch(k, PTE_PFN(pte) + ((va & ((1ull << shift) - 1)) >> k->phys->page_shift));
    if (k->cfg->verify)
        verify_access(k, p, va, kind, shift, pte);
}
