/* A reference model of memory pressure (page replacement, swap-out,
 * swap-in, the swap cache, page tables competing with data for frames)
 * for a few processes (fork, munmap, exit) of private anonymous memory,
 * private and shared file mappings and shared anonymous memory (the page
 * cache, file write-back, TLB shootdowns through the reverse map) on a
 * 4-level x86-64 radix machine, written from docs/kernel.md ("Memory
 * pressure", "Swap", "The page cache", "File write-back", "The reverse
 * map and TLB shootdowns", "The cost of I/O", and "khugepaged" for its
 * scan and limits, over anonymous memory) and the textbook algorithms,
 * sharing no code with src/ (nor with refmodel.c).
 * replmodel.c opens with every rule it implements. */
#ifndef VMSIM_TESTS_REPLMODEL_H
#define VMSIM_TESTS_REPLMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rm_policy { RM_FIFO, RM_CLOCK, RM_LRU, RM_OPT };

/* One event of process pid (1 to RM_MAX_PID; 0 means 1): an access to a
 * virtual page, read or write; an munmap of `pages` pages from vpn; its
 * exit (a later access makes it anew); a fork whose child is `child`,
 * a pid no live process has; or an mmap of `pages` pages from vpn, read
 * and write, of file `file` from its page `pgoff` (file 0: anonymous
 * memory, a new shared object when `shared`), private or shared. */
#define RM_MAX_PID 4
enum rm_op { RM_ACCESS = 0, RM_MUNMAP, RM_EXIT, RM_FORK, RM_MMAP };
struct rm_access {
    uint64_t vpn;
    bool write;
    bool shared;    /* RM_MMAP */
    uint8_t op;     /* enum rm_op */
    uint32_t pages; /* RM_MUNMAP, RM_MMAP */
    uint32_t file;  /* RM_MMAP: a file id below 2^32, 0 for anonymous memory */
    uint32_t pgoff; /* RM_MMAP: the file page at vpn */
    uint8_t pid, child;
};

/* What the model says one access did: bits of the fault kinds taken. */
enum {
    RM_K_ZERO_READ = 1u << 0,
    RM_K_ZERO_WRITE = 1u << 1,
    RM_K_COW_ZERO = 1u << 2,
    RM_K_COW_REUSE = 1u << 3,
    RM_K_SWAP_IN = 1u << 4,
    RM_K_OOM = 1u << 5,
    RM_K_COW_COPY = 1u << 6,
    RM_K_PC_HIT = 1u << 7,
    RM_K_PC_MISS = 1u << 8,
};

struct rm_result {
    /* the statistics of docs/stats.md they are named after */
    uint64_t faults_total, zero_read, zero_write, cow_zero, cow_copy, cow_reuse, swap_in, oom;
    uint64_t event_oom; /* of oom: events, not accesses (a fork's tables, a root) */
    uint64_t evictions, dropped_clean, swap_reads, swap_writes, slots_peak;
    uint64_t pc_hit, pc_miss, file_reads, file_writes; /* faults.pagecache_*, file.* */
    uint64_t invalidations; /* tlb.invalidations: one per shootdown */
    uint64_t swapcache_hits; /* of swap_in: served by a frame in the swap cache, no read */
    uint64_t frames_used, frames_peak;
    uint64_t tables_by_level[4]; /* at the end, root first (page_tables.tables_by_level) */
    /* OPT only: victims chosen by the tie rule, among several frames
     * whose next access is equally far (replmodel.c) */
    uint64_t opt_ties;
    uint16_t *kinds; /* per event, RM_K_* bits (caller frees); an access whose
                       process finds no frame for its root counts as an event
                       out of memory (event_oom), with no kind of its own */
    bool invalid;   /* a fork onto a live pid: vmsim stops there */
    /* khugepaged (rm_run_khp): the statistics khugepaged.* of stats.md */
    uint64_t khp_scans, khp_full, khp_scanned, khp_fail_none, khp_fail_swap, khp_fail_shared,
        khp_fail_alloc;
    uint64_t khp_swap_passed; /* of the blocks judged, those with swapped entries that
                                 passed max_swap and the referenced rule (not a statistic) */
};

/* khugepaged's parameters (docs/kernel.md "khugepaged"; every = 0: off).
 * The model knows no physical layout, so it takes at most 512 frames of
 * memory: then no aligned free block of 512 frames exists while a process
 * lives, and every block that passes the limits is collapse_fail_alloc. */
struct rm_khp {
    uint64_t every, pages;
    uint32_t max_none, max_swap, max_shared;
};

/* Run n events with `frames` frames of memory and a swap device of
 * `slots` slots. Returns 0, or -1 when the model is out of host memory. */
int rm_run(enum rm_policy policy, uint64_t frames, uint64_t slots, const struct rm_access *a,
           size_t n, struct rm_result *out);

/* The same with khugepaged scanning (khp may be NULL: off). With khp on
 * and more than 512 frames, or an mmap among the events, it returns -1:
 * outside the model. */
int rm_run_khp(enum rm_policy policy, uint64_t frames, uint64_t slots, const struct rm_khp *khp,
               const struct rm_access *a, size_t n, struct rm_result *out);

#endif
