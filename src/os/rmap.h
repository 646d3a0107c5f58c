/* The reverse map: for each data frame, the (process, virtual page) pairs
 * that map it, so the kernel can unmap a frame from every address space at
 * once (reclaim) and shoot down every TLB that may cache it. Linux finds
 * them through anon_vma and address_space trees; vmsim keeps a chain of
 * 16-byte entries per frame, the first in frame->rmap. */
#ifndef VMSIM_OS_RMAP_H
#define VMSIM_OS_RMAP_H

#include <stdbool.h>

#include "phys/phys.h"

struct rmap_entry {
    uint32_t proc; /* process id (kernel's process table) */
    uint32_t next; /* next entry of the frame, 0: end */
    uint64_t va;   /* page address | leaf level in the low bits (RMAP_LEVEL_MASK) */
};

struct rmap {
    struct rmap_entry *e; /* e[0] unused: index 0 ends a chain (util/grow.h: grow_big) */
    uint64_t cap;
    uint32_t n;
    uint32_t free; /* chain of free entries */
    uint64_t live;
};

void rmap_fini(struct rmap *r);
int rmap_add(struct rmap *r, struct frame *f, uint32_t proc, vmsim_vaddr_t va, unsigned level);
/* Remove every entry of f. */
void rmap_clear(struct rmap *r, struct frame *f);
/* Remove the entry (proc, va); returns whether there was one. */
bool rmap_del(struct rmap *r, struct frame *f, uint32_t proc, vmsim_vaddr_t va);
/* Pages are at least 1 KiB (geometry.c), so the low 10 bits of a page
 * address are free for the level (at most VMSIM_MAX_LEVELS). */
#define RMAP_LEVEL_MASK 0x3ffull
static inline vmsim_vaddr_t rmap_va(const struct rmap_entry *e) { return e->va & ~RMAP_LEVEL_MASK; }
static inline unsigned rmap_level(const struct rmap_entry *e) { return (unsigned)(e->va & RMAP_LEVEL_MASK); }

#endif
