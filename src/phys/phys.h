/* Simulated physical memory: frames, their metadata, a buddy allocator.
 *
 * Invariants: a frame is in use iff its refcount > 0 or it is pinned;
 * frames_used counts frames in use (data, zero, page tables); pt_bytes
 * counts the FRAME_PT ones and the tables outside memory, pt_nonroot_bytes
 * the same less FRAME_ROOT frames; no frame gains or loses either flag
 * after phys_alloc. Metadata is 24 bytes per frame and grows with the
 * highest frame handed out, so a machine with a large simulated memory
 * costs host memory only for what it touches. */
#ifndef VMSIM_PHYS_PHYS_H
#define VMSIM_PHYS_PHYS_H

#include <stdbool.h>

#include "phys/hostmem.h"
#include "phys/swap.h"
#include "vmsim/types.h"

enum frame_flags {
    FRAME_PT = 1u << 0,       /* holds a page-table page (or bucket array) */
    FRAME_ZERO = 1u << 1,     /* the shared zero frame of some size */
    FRAME_PINNED = 1u << 2,   /* never reclaimed (roots, kernel structures) */
    FRAME_CACHE = 1u << 3,    /* a page-cache page: aux = its cache entry (os/pagecache.c) */
    FRAME_RESIDENT = 1u << 4, /* on the replacement list */
    FRAME_ROOT = 1u << 5,     /* with FRAME_PT: a root table (reported apart, the VmPTE rule) */
    FRAME_SWAPPED = 1u << 6,  /* anonymous page with a valid copy in swap slot aux */
    FRAME_DIRTY = 1u << 7,    /* written through a mapping that is gone */
    FRAME_ENCLAVE = 1u << 8,  /* enclave memory: only the enclave may read it (virt/) */
    FRAME_FREE = 1u << 9,     /* first frame of a free block on the free list of its order */
};

/* Orders of the buddy allocator: a frame number is below 2^32 (phys_init),
 * so no block is larger than 2^31 frames. */
#define PHYS_ORDERS 32

#define FRAME_NIL UINT32_MAX /* no frame, in the 32-bit links below */

/* 24 bytes per frame: every resident simulated page has one, so each field
 * counts (docs/architecture.md, "Host memory per resident page"). A frame
 * number fits the 32-bit links: phys_init refuses memories of 2^32 frames
 * or more; aux holds a swap slot (swap_init refuses devices of more than
 * 2^32 slots) or a page-cache entry (32-bit indices). A page-table frame
 * holds no pointer to its table: eviction finds it through the reverse
 * map. */
struct frame {
    uint32_t refcount;
    uint16_t flags;
    uint8_t order;       /* first frame of a block of 2^order frames (in use or FRAME_FREE) */
    uint8_t level;       /* page-table level of a FRAME_PT frame */
    uint32_t aux;        /* FRAME_SWAPPED: swap slot; FRAME_CACHE: cache entry */
    uint32_t rmap;       /* first reverse-map entry (os/rmap.c), 0: none */
    uint32_t prev, next; /* replacement list (os/reclaim.c); a free block's free list */
};
_Static_assert(sizeof(struct frame) == 24, "struct frame grew: host memory per resident page");

/* One memory (a VM's guest-physical, or the host's): owned by whoever
 * composes it (the machine, the hypervisor); the kernel allocates from it. */
struct phys {
    struct frame *frame;  /* metadata for frames [0, cap) */
    uint64_t cap;         /* frames with metadata allocated */
    uint64_t nframes;     /* frames of simulated memory */
    /* Frames >= next are the never-used tail: free, with zero metadata
     * (perhaps none yet). No listed free block ends at next (it would have
     * gone back to the tail), so listed blocks and the tail never hold two
     * free buddies. */
    uint64_t next;
    unsigned max_order;              /* largest block on a free list */
    uint32_t free_head[PHYS_ORDERS]; /* free blocks of each order, most recent first */
    uint32_t nonempty;               /* bit k: free_head[k] holds a block */
    uint64_t nblocks[PHYS_ORDERS];   /* blocks on each free list */
    /* Requests of each order that got no block (VMSIM_ENOFRAME); a request
     * above max_order counts at max_order. Zeroed by phys_reset_peaks. */
    uint64_t fail[PHYS_ORDERS];
    uint64_t used, peak;  /* frames in use, largest ever */
    /* Page-table memory in bytes: the FRAME_PT frames (whole frames) plus
     * tables placed outside simulated memory (phys_pt_outside); all, and
     * without the FRAME_ROOT frames; each with its largest ever. Counted
     * where table memory is allocated and freed (never on a TLB hit), so a
     * run that ends with its processes' exit still reports how large its
     * page tables grew. */
    uint64_t pt_bytes, pt_peak, pt_nonroot_bytes, pt_nonroot_peak;
    unsigned page_shift;  /* base page size */
    struct hostmem host;  /* host memory holding page-table contents */
    struct swap swap;     /* the swap device (set up by the kernel) */
    /* When memory is full: free at least one frame and return 0, or return
     * VMSIM_ENOFRAME (the kernel's page replacement; NULL: none). */
    int (*reclaim)(void *ctx);
    void *reclaim_ctx;
    /* Nonzero while reclaim runs inside an allocation. Page tables must not
     * be freed then: the allocation may be for a table on the very path an
     * eviction would prune (as in Linux, reclaim leaves tables alone). */
    unsigned reclaiming;
    /* Called when a frame on the replacement list (FRAME_RESIDENT) is freed,
     * whoever frees it (a page table pruned by its organization, too). */
    void (*release)(void *ctx, vmsim_pfn_t pfn);
};

/* Blocks of every order up to PHYS_ORDERS - 1 until phys_set_max_order. */
int phys_init(struct phys *p, uint64_t bytes, unsigned page_shift);
/* The largest free block (the largest page size of the geometry), set
 * before the first allocation; clamped to PHYS_ORDERS - 1. */
void phys_set_max_order(struct phys *p, unsigned max_order);
void phys_fini(struct phys *p);
/* Allocate 2^order contiguous frames aligned to their size, refcount 1:
 * the smallest listed free block of order >= order, split, or else a block
 * cut from the never-used tail (above max_order: from the tail only).
 * A single frame may come from reclaim when memory is full. VMSIM_ENOFRAME
 * when no free block is large enough, VMSIM_ENOMEM when the host is out. */
int phys_alloc(struct phys *p, unsigned order, uint16_t flags, vmsim_pfn_t *out);
/* Turn the block at pfn into 2^order single frames, each with the block's
 * flags and reference count (a huge page split into base pages). */
void phys_split(struct phys *p, vmsim_pfn_t pfn);
/* Drop one reference to the block at pfn; frees it at zero, merging it
 * with its free buddies up to max_order. */
void phys_put(struct phys *p, vmsim_pfn_t pfn);
/* Free blocks of each order 0..max_order now: the listed ones plus the
 * never-used tail cut into the largest aligned blocks it holds. */
void phys_free_blocks(const struct phys *p, uint64_t blocks[PHYS_ORDERS]);
/* A page table too large for simulated memory, placed past its end (flat
 * and inverted tables beyond their max=): account its bytes as page-table
 * memory (grow true when it is created, false when it goes). */
void phys_pt_outside(struct phys *p, uint64_t bytes, bool grow);

/* The peaks restart from the current values (a statistics reset: the peak
 * of what follows); the failure counts restart at 0. */
void phys_reset_peaks(struct phys *p);

static inline struct frame *phys_frame(struct phys *p, vmsim_pfn_t pfn) { return &p->frame[pfn]; }
static inline vmsim_paddr_t phys_addr(const struct phys *p, vmsim_pfn_t pfn)
{
    return (vmsim_paddr_t)pfn << p->page_shift;
}

#endif
