/* Page-replacement policies behind one ops table (docs/kernel.md,
 * "Replacement"). reclaim.c owns the list of evictable frames and eviction;
 * a policy decides where a new frame joins the list, what a reference does,
 * and which frame goes. One file per policy in this folder, one line per
 * policy in REPLACE_POLICIES; the names (vmsim_replace_names) and the
 * `track` decision are read from the table.
 *
 * The list is doubly linked through frame->prev/next, oldest first; the
 * frames are also in r->slot (in any order) for the policies that set
 * `slots`. */
#ifndef VMSIM_OS_REPLACE_REPLACE_H
#define VMSIM_OS_REPLACE_REPLACE_H

#include "os/kernel.h"

struct replace_ops {
    bool track;       /* must see every reference, TLB hits included (kernel_touch) */
    bool slots;       /* keeps the listed frames in r->slot as well */
    /* Put a new frame (already in r->slot when `slots`) on the list;
     * NULL: at the tail. */
    int (*add)(struct kernel *k, vmsim_pfn_t pfn);
    /* The frame left the list (and r->slot) just now; NULL: nothing to do.
     * at, last: where it was in r->slot and the frame moved there. */
    void (*remove)(struct kernel *k, vmsim_pfn_t pfn, uint32_t at, uint32_t last);
    /* A reference to a listed frame (only when `track`). */
    void (*touch)(struct kernel *k, vmsim_pfn_t pfn);
    /* The victim, passing over `skip` acceptable candidates; FRAME_NIL when
     * none. NULL: the policy never evicts (a full memory is out of memory). */
    vmsim_pfn_t (*victim)(struct kernel *k, uint64_t skip);
};

/* Every policy, in the order of enum vmsim_replace (the index is the
 * value of cfg.replace): adding one is its file and a line here. */
#define REPLACE_POLICIES(X) X(clock) X(fifo) X(lru) X(random) X(opt) X(none)

#define REPLACE_DECLARE(n) extern const struct replace_ops replace_##n;
REPLACE_POLICIES(REPLACE_DECLARE)
#undef REPLACE_DECLARE

/* registry.c: the policy of cfg.replace, NULL when out of range. */
const struct replace_ops *replace_find(unsigned policy);

/* reclaim.c: list helpers for the policies. */
void replace_link_tail(struct kernel *k, vmsim_pfn_t pfn);
void replace_unlink(struct kernel *k, vmsim_pfn_t pfn);
/* May the frame be evicted now (not pinned, not the fault's busy frame)? */
bool replace_evictable(struct kernel *k, vmsim_pfn_t pfn);
/* The first evictable frame from the list's head, after `skip` of them. */
vmsim_pfn_t replace_victim_oldest(struct kernel *k, uint64_t skip);

#endif
