/* The swap device: numbered slots of one base page each, with a reference
 * count per slot (the page-table entries that name it, plus one while a
 * resident frame keeps it as a valid copy: Linux's swap_map). Reads and
 * writes are counted by the caller, which knows why it does them.
 *
 * Slots come from a stack of freed slots (the last freed first), else from
 * a bump pointer; slot numbers start at 0 and fit in a page-table entry's
 * frame field and in 32 bits (a frame's aux names the slot that holds a
 * copy of it: struct frame stays 24 bytes), so a device has at most
 * SWAP_MAX_SLOTS slots. */
#ifndef VMSIM_PHYS_SWAP_H
#define VMSIM_PHYS_SWAP_H

#include <stdbool.h>

#include "vmsim/types.h"

#define SWAP_MAX_SLOTS (1ull << 32)

struct swap {
    uint32_t *ref;     /* [nslots] */
    uint64_t *stamp;   /* [nslots] content stamps, for --verify (NULL when off) */
    uint64_t nslots;
    uint64_t next;     /* slots >= next never used */
    uint64_t cap;      /* slots the arrays have room for */
    bool stamps;
    uint64_t *free;    /* freed slots */
    uint64_t nfree;
    uint64_t used, peak;
};

/* VMSIM_EINVAL for more than SWAP_MAX_SLOTS slots. */
int swap_init(struct swap *s, uint64_t nslots, bool stamps);
void swap_fini(struct swap *s);
/* A free slot with reference count 1; VMSIM_ENOFRAME when the device is full. */
int swap_alloc(struct swap *s, uint64_t *slot);
static inline void swap_get(struct swap *s, uint64_t slot) { s->ref[slot]++; }
/* Drop one reference; the slot is free at zero. */
void swap_put(struct swap *s, uint64_t slot);

#endif
