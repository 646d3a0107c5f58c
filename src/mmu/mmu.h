/* One CPU's translation hardware: its TLB levels, page-walk caches, memo
 * and LRU clock (struct cpu), and the MMU's entry points (mmu.c): translate
 * an access, switch address spaces, invalidate and flush. The hardware layer
 * of docs/architecture.md: it includes nothing above src/pt, src/tlb and
 * src/phys. */
#ifndef VMSIM_MMU_MMU_H
#define VMSIM_MMU_MMU_H

#include <signal.h>
#include <stdatomic.h>

#include "cache/cache.h"
#include "pt/pt.h"
#include "tlb/tlb.h"
#include "util/rng.h"

struct vmsim;
struct process;

/* What the hardware sees of an address space (CR3 and PCID): the table it
 * walks, the tag its TLB entries carry, and the CPUs that have run it (where
 * its entries may live). The kernel's struct process embeds it as its first
 * member and owns it; the MMU reads it and marks cpumask on a switch. */
struct mmu_space {
    struct pt *pt;
    vmsim_asid_t asid;
    vmsim_pid_t pid;
    uint64_t cpumask;
};

/* The space of a process (its first member: C11 6.7.2.1). */
static inline struct mmu_space *mmu_space_of(struct process *p)
{
    return (struct mmu_space *)(void *)p;
}

/* The machine's exception vector: the only way the MMU reaches software.
 * The machine installs it (machine.c) in every VM it composes; the MMU
 * calls through it on a miss, a fault or a switch, never on a TLB hit,
 * except `touch`, which runs on every translation of a run that must see
 * them all (sim->track: LRU, OPT, --verify, huge pages). */
struct mmu_vector {
    /* A page fault or protection violation of p at va for an access of
     * `kind` after walk w: *fixed when the access may be retried; 0 or a
     * negative code for a host failure (kernel_fault). */
    int (*fault)(struct vmsim *sim, struct process *p, vmsim_vaddr_t va, unsigned kind,
                 const struct walk *w, bool *fixed);
    /* A translation of va succeeded with pte, a page of 2^shift bytes. */
    void (*touch)(struct vmsim *sim, struct process *p, vmsim_vaddr_t va, unsigned kind,
                  unsigned shift, uint64_t pte);
    /* A CPU loads the address space of pid (CR3): its process, created if
     * new; NULL with *err set on failure. */
    struct process *(*space)(struct vmsim *sim, vmsim_pid_t pid, int *err);
    /* p is about to run with ASIDs on: give it a valid one. */
    void (*asid)(struct vmsim *sim, struct process *p);
    /* The hypervisor (nested paging): the host-physical address of gpa as
     * CPU cpu finds it, cycles added to *cyc (an EPT violation backs it). */
    vmsim_paddr_t (*host_translate)(struct vmsim *sim, unsigned cpu, vmsim_paddr_t gpa,
                                    uint64_t *cyc, bool *writable);
    /* Is the host frame of hpa enclave memory? */
    bool (*enclave_host)(const struct vmsim *sim, vmsim_paddr_t hpa);
    /* A write to a page a live migration protects: the trap, its cycles
     * added to *cyc; false when no migration protects it. */
    bool (*migrate_trap)(struct vmsim *sim, vmsim_paddr_t gpa, uint64_t *cyc);
    /* Shadow paging: a VM exit (an address-space switch: pte 0). */
    void (*shadow_exit)(struct vmsim *sim, uint64_t pte);
};

/* An observer and a recording (vmsim_set_observer, vmsim_translate), owned
 * by the machine. While a machine has one, mmu.watch points to it and
 * plain_cpus is 0, so every access leaves the plain path at the test that
 * is there anyway and takes the observed one (mmu.c, access_event_other):
 * the plain path's TLB hits test nothing. */
struct mmu_watch {
    struct vmsim_observer obs;     /* the user's callbacks (NULL members skipped) */
    struct vmsim_translation *rec; /* vmsim_translate's record of one access; NULL: none */
    bool page_done;                /* rec holds the access's first page */
    unsigned fault_kinds;          /* the kinds (bits) of the fault the vector just handled
                                      (the machine reads them off the kernel's counters) */
};

/* One machine's (or VM's) wiring of the translation hardware: what its CPUs
 * were built with, the counters their translations charge, the exception
 * vector. Owned by the machine, which sets it up (machine.c); the CPUs it
 * points to are the machine's, shared by its VMs. */
struct mmu {
    const struct vmsim_config *cfg;
    struct vmsim_stats *cst;  /* cfg->ncpus: this VM's counters of each CPU, charged by that
                                 CPU's translations only (merged when read: machine/stats.c) */
    unsigned nused;           /* cst[nused..] are all zero: no CPU from nused on has run this
                                 VM (sums over the CPUs stop there) */
    struct rng *rng;          /* TLB and PWC replacement draws */
    const unsigned *shift;    /* page shift of a leaf at level k */
    unsigned page_shift;      /* the base page's, read on every access */
    struct phys *phys;        /* the memory walks read (base page, frame flags) */
    struct cpu *cpu;          /* cfg->ncpus CPUs */
    const struct mmu_vector *vec; /* the exception vector */
    struct vmsim *up;         /* the machine the vector's handlers are given */
    bool nested;              /* a guest under nested paging: walks have a host dimension */
    bool track;               /* vec->touch sees every translation: replacement, --verify */
    uint64_t accesses_base;   /* the CPUs' accesses and cycles that statistics resets cleared */
    uint64_t cycles_base;     /* (mmu_reset_stats): mmu_accesses, mmu_cycles go on from there */
    const volatile sig_atomic_t *stop; /* vmsim_set_stop: nonzero ends a long access */
    struct memsys *mem;       /* the data caches and DRAM (--cache); NULL: walks cost pt_ref */
    unsigned plain_cpus;      /* accesses of CPUs below it take the plain path (no data
                                 references): cfg->ncpus, or 0 when mem sees the program's */
    uint64_t mem_tag;         /* or-ed into this VM's physical addresses in the caches: a
                                 guest's VM id in bits 48 to 55 (docs/caches.md) */
    /* A parallel run with --locks seqcount (docs/concurrency.md): a sequence
     * count per lock stripe (mmu_stripe), odd while a fault publishes in it;
     * a walk that overlapped a publication is repeated. NULL: walks read once. */
    atomic_uint *seq;
    /* A native radix machine with nothing but TLBs and walk caches: no host
     * dimension, no tracking, no caches, no sequence counts, no software
     * walk, no enclave (set by the machine's wiring). Its misses take a
     * path compiled for it (mmu.c, translate_slow_bare). */
    bool bare;
    struct mmu_watch *watch; /* an observer or a recording; NULL: none (plain_cpus then decides) */
};

/* A fault of the (current) access, for the observer and the record. */
void mmu_watch_fault(struct mmu_watch *w, unsigned cpu, vmsim_pid_t pid, vmsim_vaddr_t va,
                     unsigned kind, unsigned kinds);

/* The lock stripe (of 2^MMU_STRIPE_BITS) of a parallel run's lock key
 * (pt_ops.lock_key: a leaf table, a bucket): the per-table locks and
 * sequence counts of machine/parallel.c. Two keys may share a stripe; a
 * key never has two. */
#define MMU_STRIPE_BITS 10
static inline unsigned mmu_stripe(uint64_t key)
{
    return (unsigned)((key * 0x9e3779b97f4a7c15ull) >> (64 - MMU_STRIPE_BITS));
}

enum { SIDE_D = 0, SIDE_I = 1 };

/* In a TLB entry only: the host page is write-protected by a live
 * migration (virt/migrate.c), so a write through the entry traps. */
#define PTE_HWP (1ull << 11)

/* The last translation of one side of a CPU, while it is known to sit in
 * the first TLB level of that side as the most recently used entry of its
 * set: repeating it changes no replacement state, so it costs a compare
 * and two counter increments (Cachegrind's same-line fast path). Any flush,
 * invalidation or lookup that could disturb that level resets it. */
struct memo { /* owned by its CPU */
    uint64_t tag; /* va >> shift; UINT64_MAX when empty (memo_reset) */
    unsigned shift;
    unsigned level; /* index of the TLB level (and its stats) */
    unsigned latency;
    bool writable; /* a write may use it too (entry writable and dirty) */
    uint64_t pte;  /* the entry, for page replacement's reference tracking */
};

/* Owned by one CPU: changed only by its own translations and by the
 * invalidations and flushes addressed to it (docs/architecture.md). */
struct cpu {
    bool ready; /* TLBs allocated (on first use) */
    bool ran;   /* has run a process: without ASIDs its entries may still be in the TLBs */
    struct tlb_level tlb[VMSIM_MAX_TLB_LEVELS];
    unsigned path[2][VMSIM_MAX_TLB_LEVELS]; /* levels each side looks up, in order */
    unsigned npath[2];
    bool disturbs[2]; /* a slow lookup of side s touches the other side's first level */
    struct pwc pwc;
    struct memo memo[2];
    struct process *proc;
    struct vmsim_stats *st; /* the counters it charges: its own in the VM whose process it
                               runs (that VM's mmu.cst[i]), set by mmu_switch */
    uint64_t now; /* LRU clock */
    int host_rc;  /* a host failure inside its translation, returned by mmu_access (per CPU:
                     in a parallel run CPUs translate at once) */
};

/* Empty: no va >> 63 (0 or 1) equals the all-ones tag, not even the
 * last byte of the address space. */
static inline void memo_reset(struct memo *m)
{
    m->tag = UINT64_MAX;
    m->shift = 63;
}

int mmu_access(struct mmu *m, const struct vmsim_event *ev);
/* The leading run of ev[0, n) that mmu_access would translate through the
 * memos alone (access events of ev[0]'s CPU and running process, each
 * within one page its memo names, usable for its kind): counted as
 * mmu_access counts them, with each counter written once for the run.
 * Returns the run's length (0: ev[0] needs mmu_access). The caller must
 * not need to see each event (no live migration ticking per event).
 * Inline, the first event's cheap checks, so that a miss pays no call. */
size_t mmu_hit_run(struct mmu *m, const struct vmsim_event *ev, size_t n);
static inline size_t mmu_hits(struct mmu *m, const struct vmsim_event *ev, size_t n)
{
    const struct vmsim_event *e = ev;
    if (e->type != VMSIM_EV_ACCESS || e->cpu >= m->plain_cpus || m->track)
        return 0;
    const struct memo *mo = &m->cpu[e->cpu].memo[(e->kind & 3u) == VMSIM_FETCH ? SIDE_I : SIDE_D];
    if ((e->addr >> mo->shift) != mo->tag)
        return 0;
    return mmu_hit_run(m, ev, n);
}

/* The prefetch distance of run_events (machine.c) and of mmu_bare_run:
 * the leaf entry of the access this many events ahead. */
#define MMU_PREFETCH_AHEAD 8

/* On a bare machine (mmu.bare) with no observer: the leading run of
 * ev[0, n) that are accesses of ev[0]'s CPU and running process, each
 * within one page, translated as mmu_access would translate them one by
 * one (the D side's misses in bare_translate while its levels hold base
 * pages only). With stages 1 or 2, it prefetches as run_events does,
 * from the events of ev[0, avail). A parallel run's worker passes
 * `interrupt`, nonzero while IPIs wait for it: the run then ends before its
 * next access, for the worker to answer them between translations (NULL:
 * none). Returns the run's length; *rc gets the failure of its last access
 * (counted in the run) or VMSIM_OK. */
size_t mmu_bare_run(struct mmu *m, const struct vmsim_event *ev, size_t n, size_t avail,
                    unsigned stages, const atomic_uint *interrupt, int *rc);

int mmu_switch(struct mmu *m, unsigned cpu, vmsim_pid_t pid);
int mmu_cpu_ready(struct mmu *m, unsigned cpu);
/* Remove the page containing va of asid from the TLBs of one CPU. */
void mmu_invalidate(struct mmu *m, unsigned cpu, vmsim_asid_t asid, vmsim_vaddr_t va);
/* Flush every CPU's TLBs and walk caches (the caller counts the flush). */
void mmu_flush_all(struct mmu *m);
/* A process leaves every CPU that runs it (it exited): their memos go,
 * and the CPU's next access loads an address space anew. */
void mmu_forget(struct mmu *m, const struct process *p);
/* Every translation every CPU caches gets `bits` and keeps its place
 * (PTE_HWP: a live migration write-protects the host pages). */
void mmu_protect_all(struct mmu *m, uint64_t bits);
/* This VM's totals over its CPUs' counters, for software that needs the
 * position in the trace or the time (OPT, --verify, a live migration):
 * since the machine started, statistics resets or not. */
uint64_t mmu_accesses(const struct mmu *m);
uint64_t mmu_cycles(const struct mmu *m);
/* Zero this VM's counters of every CPU (vmsim_reset_stats); mmu_accesses
 * and mmu_cycles keep counting from the start. */
void mmu_reset_stats(struct mmu *m);
/* Walks since the last statistics reset: differences within one
 * vmsim_run only (the prefetch heuristic's rate). */
static inline uint64_t mmu_walks(const struct mmu *m)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < m->nused; i++)
        n += m->cst[i].walks;
    return n;
}
void mmu_flush_pwc_all(struct mmu *m);
/* The deepest step of a walk for va the page-walk caches hold: true, with
 * *s set, on a hit. */
static inline bool mmu_pwc_probe(struct pwc *pwc, vmsim_vaddr_t va, vmsim_asid_t asid, uint64_t now,
                                 struct walk_start *s)
{
    /* Deepest level first: the first hit is the longest match, the one
     * Intel's parallel paging-structure-cache lookup uses. */
    for (unsigned i = 0; i < pwc->nprobe; i++) {
        const struct pwc_probe *pr = &pwc->probe[i];
        const uint64_t tag = va >> pr->shift;
        const uint64_t set = tag & pr->c->set_mask;
        const long slot = sac_find(pr->c, set, PWC_KEY(tag, asid, pr->k));
        if (slot >= 0) {
            sac_touch(pr->c, set, slot, now);
            s->level = pr->k - 1u;
            s->table = (void *)(uintptr_t)pr->c->val[slot];
            return true;
        }
    }
    return false;
}

/* Cache the upper-level entries walk w read for va. */
static inline void mmu_pwc_fill(struct pwc *pwc, vmsim_vaddr_t va, vmsim_asid_t asid,
                                const struct walk *w, uint64_t now, struct rng *rng)
{
    /* Cache each upper-level entry the walk read (levels up to top) that
     * led to a table it read too (level k-1 >= where it stopped). All of
     * them lie below the level that hit, so none is cached yet. */
    for (unsigned i = 0; i < pwc->nprobe; i++) {
        const struct pwc_probe *pr = &pwc->probe[i];
        if (pr->k > w->top)
            break;
        if (pr->k <= w->level)
            continue;
        const uint64_t tag = va >> pr->shift;
        uint64_t evicted;
        sac_insert_new(pr->c, tag & pr->c->set_mask, PWC_KEY(tag, asid, pr->k),
                       (uint64_t)(uintptr_t)w->table[pr->k - 1], now, rng, &evicted);
    }
}

#endif
