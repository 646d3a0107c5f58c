/* Host memory behind simulated page-table frames: fixed-size objects carved
 * from 2 MiB chunks that the kernel is asked to back with transparent huge
 * pages. A walk over a large simulated page table touches host memory at
 * random; with 4 KiB host pages every such touch also misses the host's
 * TLB (and under a hypervisor pays a 2D walk of its own), which dominated
 * the cost of miss-heavy runs. Freed objects go to a per-size free list;
 * chunks return to the host when the pool is destroyed. */
#ifndef VMSIM_PHYS_HOSTMEM_H
#define VMSIM_PHYS_HOSTMEM_H

#include <stddef.h>

#define HOSTMEM_CLASSES 8

struct hostmem_class {
    size_t size;     /* object size, a multiple of 64 */
    void *free;      /* free list, linked through the first word */
    char *cur, *end; /* carving position in the newest chunk */
};

struct hostmem {
    struct hostmem_class cls[HOSTMEM_CLASSES];
    void **chunk;
    size_t nchunk, chunk_cap;
};

/* Zeroed object of `size` bytes, or NULL when the host is out of memory. */
void *hostmem_alloc(struct hostmem *h, size_t size);
void hostmem_free(struct hostmem *h, void *obj, size_t size);
void hostmem_fini(struct hostmem *h);

#endif
