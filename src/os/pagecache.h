/* The page cache: file pages keyed by (file, page index), so every process
 * that maps the same file page shares one frame (seed 001: a library mapped
 * by a hundred processes is in memory once). An entry outlives its frame:
 * when reclaim drops a page, the entry remembers where the contents went
 * (back to the file, or for anonymous shared memory to a swap slot).
 * Entries are never removed; a run's distinct file pages bound them. */
#ifndef VMSIM_OS_PAGECACHE_H
#define VMSIM_OS_PAGECACHE_H

#include "vmsim/types.h"

#define PC_NONE UINT64_MAX

struct pc_entry {
    uint64_t file, index;
    uint64_t pfn;   /* the resident frame, or PC_NONE */
    uint64_t slot;  /* anonymous shared memory: swap slot of the contents, or PC_NONE */
    uint64_t stamp;  /* --verify: contents of the page when not resident */
    uint64_t shadow; /* --verify: the contents a reader should see */
    uint32_t next;  /* hash chain, 0: end */
};

struct pagecache {
    struct pc_entry *e; /* e[0] unused */
    uint32_t n, cap;
    uint32_t *bucket;
    uint32_t nbucket; /* power of two */
};

void pc_fini(struct pagecache *pc);
/* The contents stamp of a file page no one has written: a value of (file,
 * index), never 0; anonymous shared memory starts zeroed (0). */
uint64_t pc_initial(uint64_t file, uint64_t index);
/* The entry of (file, index), created (not resident, no slot; contents
 * pc_initial) when absent.
 * NULL when the host is out of memory. */
struct pc_entry *pc_get(struct pagecache *pc, uint64_t file, uint64_t index);

#endif
