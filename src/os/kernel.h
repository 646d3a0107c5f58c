/* The simulated kernel: processes and their address spaces (VMAs and page
 * tables), fork with copy-on-write, the page cache, the reverse map, page
 * replacement with a swap device, and the page-fault handler.
 *
 *   kernel.c   processes, fork, exit, mmap/munmap/mprotect/madvise, ASIDs
 *   fault.c    the page-fault handler: demand-zero, copy-on-write,
 *              page-cache faults, swap-in, protection and segfaults
 *   reclaim.c  the replacement list, eviction, swap-out
 *   replace/   the replacement policies, one file each behind an ops table
 *   khugepaged.c the background pass collapsing blocks of base pages
 *   swapcache.c  swap slot -> the frame still holding its contents
 *   touch.c    the hook that sees every translation when one must (track)
 *   vma.c, rmap.c, pagecache.c   the data structures
 *
 * docs/kernel.md draws the states of a page and names the function that
 * moves it between them. */
#ifndef VMSIM_OS_KERNEL_H
#define VMSIM_OS_KERNEL_H

#include <stdbool.h>

#include "os/pagecache.h"
#include "os/rmap.h"
#include "os/vma.h"
#include "mmu/mmu.h"
#include "util/u64map.h"
#include "pt/pt.h"

struct vmsim;
struct replace_ops;
struct kernel;

/* The metadata of frame pfn of the kernel's memory: the one spelling of
 * what four files each called F(). */
#define kernel_frame(k, pfn) phys_frame((k)->phys, (pfn))

#define SHMEM_FIRST (1ull << 32) /* page-cache ids of anonymous shared memory */

/* A process: owned by its kernel. */
struct process {
    struct mmu_space space; /* first: what the MMU sees (pt, asid, pid, cpumask) */
    uint32_t id;       /* index in the kernel's process table (rmap entries) */
    uint64_t asid_gen; /* space.asid is valid while this equals the kernel's */
    struct vmsim *owner; /* the VM whose kernel runs it */
    struct vma_list vmas;
    struct u64map shadow; /* --verify: private pages' expected contents, by base page */
    struct process *hnext;
};

/* Page replacement: which resident page goes when memory is full. Owned by
 * the kernel. */
struct reclaim {
    const struct replace_ops *ops; /* the policy (os/replace/), cfg.replace's */
    bool track;           /* the policy needs every reference (LRU, OPT) */
    uint32_t head, tail;  /* the list, oldest first (FRAME_NIL: empty) */
    uint32_t hand;        /* Clock: the hand; OPT: the first frame never used again */
    uint64_t count;       /* frames on the list */
    uint32_t *slot;       /* random: the frames on the list, in any order */
    uint64_t slot_cap;
    uint32_t *pos;        /* policies with slots: per frame on the list, its index in slot */
    uint64_t pos_cap;
    uint64_t heap;        /* OPT: slot[0, heap) is its heap, the frames used again */
    uint64_t *next_use;   /* OPT: per frame, the time of its next reference */
    uint64_t *last_use;   /* OPT: per frame, the tick of its last reference or join */
    uint64_t next_cap, last_cap;
    uint64_t ticks;       /* OPT: frames joined and references seen so far */
    uint64_t *oracle;     /* OPT: per access, when its page is next used (plan.c) */
    uint64_t noracle, oracle_cap;
    vmsim_pfn_t busy;     /* a frame the fault in progress uses: never the victim */
    unsigned splitting;   /* a huge victim awaits its split's tables: no huge victim */
};

/* A fault in a parallel run (machine/parallel.c) leaves two steps of seed
 * 003's sequence to its caller, who does them after the kernel lock is
 * released: the shootdowns of the entries it changed, and dropping the
 * old frames, which stay pinned until those shootdowns complete. */
#define KERNEL_DEFER_MAX 4
struct kernel_defer {
    struct process *p[KERNEL_DEFER_MAX]; /* shoot down va[i] of p[i] */
    vmsim_vaddr_t va[KERNEL_DEFER_MAX];
    unsigned nshoot;
    vmsim_pfn_t put[KERNEL_DEFER_MAX]; /* then drop these frames (kernel_put_frame) */
    unsigned nput;
};

/* Shared tables (--share-tables, ptshare.c): one record per table (leaf,
 * or level 2) that processes mapping the same file block alike may point
 * to, with the processes that reach it (each at its own block address). */
struct ptshare_sharer {
    uint32_t proc;       /* process id (kernel's process table) */
    vmsim_vaddr_t base;  /* the block's address in that process */
};
struct ptshare_rec {
    uint64_t file;       /* page-cache object; 0: a free record */
    uint64_t block;      /* the file's block of 2^shift(level + 1) bytes */
    uint32_t mode;       /* the mappings' protection and flags: sharers map alike */
    uint32_t level;      /* of the table: 1 (leaf) or 2 (the level above it) */
    uint32_t next;       /* next record of the same hash, or of the free list (index + 1) */
    void *table;         /* the table (pt_table.table) */
    struct ptshare_sharer *s;
    uint32_t n;
    uint64_t cap;        /* of s (grow_array) */
};
struct ptshare {
    struct ptshare_rec *rec;
    uint32_t nrec;
    uint64_t cap;        /* of rec (grow_array) */
    uint32_t free;       /* free records, chained through next (index + 1) */
    struct u64map index; /* hash of (file, block, mode) -> first record (index + 1) */
};

/* khugepaged (khugepaged.c): the configuration with its defaults resolved,
 * and where the next scan starts. */
struct khugepaged {
    uint64_t left;       /* accesses until the next scan (0: khugepaged is off) */
    struct vmsim_khugepaged_config c; /* cfg.khugepaged, defaults resolved */
    uint32_t proc;       /* the next scan starts in process id proc ... */
    vmsim_vaddr_t va;    /* ... at this address */
    uint64_t *ent;       /* one block's entries */
};

/* A kernel instance: owned by itself (one per VM); the machine composes it. */
struct kernel {
    /* what it runs on (struct kernel_env, given to kernel_init) */
    struct vmsim *vm;
    const struct vmsim_config *cfg;
    struct vmsim_stats *st;  /* &counters: what the kernel counts, merged by the machine when read */
    struct phys *phys;
    const unsigned *shift;
    struct rng *rng;
    struct mmu *mmu;
    struct kernel *asids;
    const bool *migrating;
    const struct kernel_traps *traps;
    const struct pt_ops *ops;
    const char *pt_params;   /* the organization's options (in cfg.pt) */
    void *pt_shared;         /* its state shared by every address space */
    uint64_t space_next;     /* address-space ids handed out */
    struct pt_counters pt_counters;
    struct process **bucket; /* pid hash, chained */
    size_t nbucket;
    struct process **proc;   /* by id */
    uint32_t nproc, proc_cap;
    uint32_t *free_id;
    uint32_t nfree_id;
    vmsim_pfn_t zero[VMSIM_MAX_LEVELS + 1]; /* shared zero frame per leaf level */
    unsigned zero_have;                     /* bit k: zero[k] allocated */
    unsigned asid_next;
    uint64_t asid_gen;
    unsigned anon_level; /* leaf level of implicit anonymous pages */
    uint64_t shmem_next; /* next anonymous shared object id */
    unsigned cur_cpu;    /* the CPU whose access is being handled */
    struct rmap rmap;
    struct pagecache pc;
    struct ptshare share; /* --share-tables */
    struct khugepaged khp; /* --khugepaged */
    uint32_t *swap_frame; /* per slot: the frame holding its contents, or FRAME_NIL */
    uint64_t swap_frame_cap;
    struct reclaim rc;
    struct plan *plan;    /* plan.c: building the OPT oracle */
    uint64_t *touched;    /* thp.c: base frames an access has touched, a bit each */
    uint64_t touched_cap; /* words */
    bool huge;            /* huge pages may be mapped: translations mark touched */
    uint64_t *stamp;      /* --verify: contents of each base frame */
    uint64_t stamp_cap, stamp_next;
    struct vmsim_mismatch first_mismatch;
    struct vmsim_stats counters; /* its own: faults, reclaim, fork, shootdowns (docs/stats.md) */
    struct kernel_defer *defer;  /* a parallel run's fault in progress, under the kernel lock:
                                    where its shootdowns and old frames go; NULL: done at once */
};

/* What the kernel's own actions trap to in the hypervisor when it is a
 * guest: the machine installs them (kernel_init), so that the kernel calls
 * nothing above it. Each is called only in the mode that needs it. */
struct kernel_traps {
    /* shadow paging: a trapped write of a page-table entry (a VM exit) */
    void (*pt_write)(struct vmsim *vm, uint64_t pte);
    /* a live migration: bytes of guest-physical memory from gpa written */
    void (*dirty)(struct vmsim *vm, vmsim_paddr_t gpa, uint64_t bytes);
    /* --enclave: guest frames [pfn, pfn + n) became enclave memory (on),
     * or were freed and are no longer (off) */
    void (*enclave)(struct vmsim *vm, vmsim_pfn_t pfn, uint64_t n, bool on);
};

/* What a kernel runs on, given by the machine that composes it. */
struct kernel_env {
    struct vmsim *vm;                 /* the VM it is the kernel of: what the traps are given */
    const struct vmsim_config *cfg;
    struct phys *phys;                /* the memory it manages */
    const unsigned *shift;            /* page shift of a leaf at level k */
    struct rng *rng;
    struct mmu *mmu;                  /* the CPUs it runs on: invalidations, flushes */
    struct kernel *asids;             /* the kernel that hands out ASIDs (VM 1's); NULL: itself */
    const bool *migrating;            /* the hypervisor's: a live migration is to come or under way */
    const struct kernel_traps *traps; /* to the hypervisor */
};

/* A page evicted (counted in reclaim.evictions): the observer's evict,
 * when the machine has one (vmsim_set_observer). */
static inline void kernel_evicted(struct kernel *k, vmsim_pfn_t pfn, enum vmsim_evict_kind what)
{
    const struct mmu_watch *w = k->mmu->watch;
    if (__builtin_expect(w != NULL, 0) && w->obs.evict)
        w->obs.evict(w->obs.ctx, (vmsim_paddr_t)pfn << k->phys->page_shift, what);
}

int kernel_init(struct kernel *k, const struct kernel_env *env);
void kernel_fini(struct kernel *k);
/* Zero the kernel's counters and its organization's (vmsim_reset_stats),
 * all but --verify's. */
void kernel_reset_stats(struct kernel *k);
/* The process pid; created (with an empty address space) when create is set
 * and it does not exist. NULL when absent, or on failure with *err set. */
struct process *kernel_process(struct kernel *k, vmsim_pid_t pid, bool create, int *err);
int kernel_exit(struct kernel *k, vmsim_pid_t pid);
int kernel_fork(struct kernel *k, vmsim_pid_t parent, vmsim_pid_t child);
int kernel_mmap(struct kernel *k, const struct vmsim_event *ev);
int kernel_munmap(struct kernel *k, vmsim_pid_t pid, vmsim_vaddr_t va, uint64_t len);
int kernel_mprotect(struct kernel *k, vmsim_pid_t pid, vmsim_vaddr_t va, uint64_t len,
                    unsigned prot);
int kernel_madvise(struct kernel *k, vmsim_pid_t pid, vmsim_vaddr_t va, uint64_t len,
                   unsigned advice);
/* Give p a valid ASID (new generation after a rollover flushes all TLBs). */
void kernel_asid(struct kernel *k, struct process *p);

/* fault.c: handle a fault of process p at va for an access of `kind`
 * (vmsim_access_kind) after walk w. Sets *fixed when the access may be
 * retried. Counts the fault by kind. Returns 0 or a negative code for a
 * real (host) failure. */
int kernel_fault(struct kernel *k, struct process *p, vmsim_vaddr_t va, unsigned kind,
                 const struct walk *w, bool *fixed);
/* kernel.c: map frame pfn at va in p (a leaf of `level`) and enter it in the reverse
 * map; the caller holds the reference the mapping takes. */
int kernel_map(struct kernel *k, struct process *p, vmsim_vaddr_t va, unsigned level,
               uint64_t pte);
/* The shared zero frame of pages of `level`, allocated (and zero-filled:
 * it may be a recycled frame) on first use. */
int kernel_zero_frame(struct kernel *k, unsigned level, vmsim_pfn_t *pfn);
/* Remove p's leaf at va (present or swapped), dropping what it held, and
 * shoot down its TLB entries; returns the old entry. */
uint64_t kernel_unmap_page(struct kernel *k, struct process *p, vmsim_vaddr_t va);
/* Drop one reference to a data frame (zero frames are never dropped). */
void kernel_put_frame(struct kernel *k, vmsim_pfn_t pfn);
/* Remove the page at va of p from the TLBs of every CPU that ran p
 * (kernel_may_cache); counted now, recorded in k->defer when there is one. */
void kernel_shootdown(struct kernel *k, struct process *p, vmsim_vaddr_t va);
/* May CPU cpu's TLBs hold entries of p? */
bool kernel_may_cache(const struct kernel *k, const struct process *p, unsigned cpu);
/* fault.c: may an access of `kind` use the leaf entry pte as it is? */
bool kernel_entry_allows(uint64_t pte, unsigned kind);
/* Count one write of p's page-table entry for va (pte: the new entry);
 * under shadow paging it traps to the hypervisor, during a live migration
 * it dirties the tables on the path (virt/). */
void kernel_pt_write(struct kernel *k, struct process *p, vmsim_vaddr_t va, uint64_t pte);
/* The kernel wrote frames [pfn, pfn + n) (zeroed, copied, read in): a live
 * migration must send them again. */
void kernel_frames_written(struct kernel *k, vmsim_pfn_t pfn, uint64_t n);

void plan_free(struct plan *pl);
/* plan.c: vmsim_plan for this kernel (OPT's oracle). */
int kernel_plan(struct kernel *k, const struct vmsim_event *ev, size_t n);

/* The leaf entry of p at va, present or swapped; 0 when none. */
uint64_t kernel_lookup(struct process *p, vmsim_vaddr_t va);

/* verify.c: contents stamps (--verify); vmsim_verify_first and
 * vmsim_debug_corrupt for this kernel. */
int verify_first(const struct kernel *k, struct vmsim_mismatch *m);
int verify_corrupt(struct kernel *k, vmsim_pid_t pid, vmsim_vaddr_t va);
uint64_t verify_get(struct kernel *k, vmsim_pfn_t pfn);
void verify_set(struct kernel *k, vmsim_pfn_t pfn, uint64_t stamp);
/* Copy `frames` stamps from src (FRAME_NIL: zeroes) to dst. */
void verify_copy(struct kernel *k, vmsim_pfn_t dst, vmsim_pfn_t src, uint64_t frames);
void verify_access(struct kernel *k, struct process *p, vmsim_vaddr_t va, unsigned kind,
                   unsigned shift, uint64_t pte);
/* touch.c: a translation of va succeeded with pte (a page of 2^shift
 * bytes): the hook for page replacement's reference tracking, the huge
 * pages' touched bitmap and --verify. */
void kernel_touch(struct kernel *k, struct process *p, vmsim_vaddr_t va, unsigned kind,
                  unsigned shift, uint64_t pte);

/* thp.c */
bool thp_eligible(struct kernel *k, const struct process *p, vmsim_vaddr_t lo, vmsim_vaddr_t hi);
/* After a base-page fault at va: collapse its block if it is complete. */
void thp_maybe_promote(struct kernel *k, struct process *p, vmsim_vaddr_t va);
/* Split the huge page mapped at va of p (in every process that maps it). */
int thp_split_at(struct kernel *k, struct process *p, vmsim_vaddr_t va);
/* Split the huge pages that [lo, hi) cuts (munmap, mprotect). */
int thp_split_partial(struct kernel *k, struct process *p, vmsim_vaddr_t lo, vmsim_vaddr_t hi);
/* The touched bitmap behind memory.huge_untouched_bytes. */
void thp_touch(struct kernel *k, vmsim_pfn_t pfn);
void thp_untouch(struct kernel *k, vmsim_pfn_t pfn, uint64_t frames);
/* Fill out->huge_untouched: a pass over the frames (the statistics read). */
void thp_untouched(const struct kernel *k, struct vmsim_stats *out);

/* khugepaged.c: set up from cfg.khugepaged (VMSIM_EINVAL: a geometry or
 * option it cannot work with); a scan, which the machine runs every
 * cfg.khugepaged.every accesses. */
int khugepaged_init(struct kernel *k);
void khugepaged_fini(struct kernel *k);
int khugepaged_scan(struct kernel *k);

/* ptshare.c: fill out->pt_shareable (a scan of the tables, allocating) and
 * the gauges of out->share (a pass over the records). */
void kernel_pt_share(const struct kernel *k, struct vmsim_stats *out, bool scan);
/* ptshare.c, --share-tables (docs/kernel.md, "Shared page-table subtrees").
 * ptshare_fault: before a page-cache fault of p at va in v maps, point p to
 * the registered tables of its blocks when there are (level 2, then the
 * leaf; the entry may then be there already); *fresh, a bit per level: the
 * tables the fault is about to make are to be registered afterwards
 * (ptshare_register). */
int ptshare_fault(struct kernel *k, struct process *p, const struct vma *v, vmsim_vaddr_t va,
                  unsigned *fresh);
int ptshare_register(struct kernel *k, struct process *p, const struct vma *v, vmsim_vaddr_t va,
                     unsigned fresh);
/* May the page-table frame of `level` that p reaches at va be paged out
 * (--evict-tables)? Not while registered for sharing. */
bool ptshare_evictable(struct kernel *k, struct process *p, vmsim_vaddr_t va, unsigned level);
/* p's tables covering va become its own before p changes it alone (the
 * one above the leaf first, then the leaf table): copied when others
 * share them, else just no longer registered. */
int ptshare_private(struct kernel *k, struct process *p, vmsim_vaddr_t va);
/* The same for every shared table of p in [lo, hi); with unmap, a table
 * whose whole block is in the range is let go of instead (no copy). */
int ptshare_range(struct kernel *k, struct process *p, vmsim_vaddr_t lo, vmsim_vaddr_t hi,
                  bool unmap);
/* fork: the child points to the parent's registered table covering va;
 * true when there is one (its leaves are then not copied one by one). */
bool ptshare_fork(struct kernel *k, struct process *parent, struct process *child,
                  vmsim_vaddr_t va, int *rc);
/* p exits: it lets go of every table it shares. */
void ptshare_exit(struct kernel *k, struct process *p);
void ptshare_fini(struct kernel *k);
/* kernel_shootdown for an entry of a shared table: every sharer's CPUs;
 * false when p's table covering va is not shared. */
bool ptshare_shootdown(struct kernel *k, struct process *p, vmsim_vaddr_t va);
/* The shootdown of one address space only (kernel_shootdown's core). */
void kernel_shootdown_space(struct kernel *k, struct process *p, vmsim_vaddr_t va);

/* synonym.c: fill stats synonym_bits and synonym_frames from the frames
 * mapped now and the VIPT geometry of the config. */
void kernel_synonyms(const struct kernel *k, struct vmsim_stats *out);

/* reclaim.c: phys_alloc evicts through it when memory is full. */
int reclaim_init(struct kernel *k);
void reclaim_fini(struct kernel *k);
/* --evict-tables: put the page tables on the path to va on the
 * replacement list (the ones not there yet). */
void kernel_track_tables(struct kernel *k, struct process *p, vmsim_vaddr_t va);
/* swapcache.c: forget a frame's swap copy (it is written, or freed). */
void kernel_drop_swap_copy(struct kernel *k, vmsim_pfn_t pfn);
/* Put a data frame on the replacement list / take it off. */
int reclaim_add(struct kernel *k, vmsim_pfn_t pfn);
void reclaim_remove(struct kernel *k, vmsim_pfn_t pfn);
/* Frame `to` takes frame `from`'s place on the replacement list (compaction
 * moved its page): the same neighbours, Clock's hand, slot and OPT key, so
 * the page keeps its age under every policy. Nothing when from is not
 * listed; VMSIM_ENOMEM (nothing changed) when the host is out of memory. */
int reclaim_move(struct kernel *k, vmsim_pfn_t from, vmsim_pfn_t to);
/* A reference to the page of a present entry (policies with track set). */
void reclaim_touch(struct kernel *k, uint64_t pte);
/* swapcache.c: the frame a swap slot's contents are in, if any. */
vmsim_pfn_t swapcache_frame(const struct kernel *k, uint64_t slot);
int swapcache_set(struct kernel *k, uint64_t slot, vmsim_pfn_t pfn);

#endif
