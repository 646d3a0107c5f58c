/* Simulated CPUs on host threads: phases, seed 003's fault protocol, and
 * shootdowns by IPI (docs/concurrency.md has the protocol step by step).
 *
 * Threads. Thread 0 is the caller's; threads 1..N-1 wait for a phase on a
 * condition variable. A phase is a stretch of accesses between barriers:
 * every thread scans it and runs the accesses of its CPUs (c mod N == id)
 * in order. A thread that is done says so (finished) and sleeps until all
 * are: an invalidation for one of its CPUs is then done by the initiator
 * itself, under the CPU's mailbox lock, as no translation of that CPU can
 * be under way.
 *
 * Ownership. A CPU's TLBs, walk caches, memo and counters are touched only
 * by its thread (an invalidation another CPU asks for is done by the
 * target's thread when it drains its mailbox). Page tables are read
 * without locks (radix.c says how entries stay whole). Everything else
 * the kernel owns is changed under the kernel lock, which is never held
 * while waiting for another CPU: so waiting for it needs no draining.
 *
 * Locks that may be held while their holder waits for acknowledgements
 * (the page-table locks) are waited for while draining the mailbox, as a
 * CPU spinning on a lock with interrupts on still takes IPIs: two faults
 * that each wait for the other's acknowledgement both make progress. */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "machine/parallel.h"

/* What a shootdown's initiator waits, in simulated cycles (docs/
 * concurrency.md, "Shootdowns and their cost"): each IPI it sends, and one
 * round trip (delivery, the targets' invalidation, their acknowledgements,
 * in parallel) for the wait. By the simulated CPUs, not the host threads. */
#define IPI_SEND_CYCLES 200
#define ACK_WAIT_CYCLES 1000

struct spin {
    atomic_uint held;
};

static bool spin_try(struct spin *s)
{
    return !atomic_load_explicit(&s->held, memory_order_relaxed) &&
           !atomic_exchange_explicit(&s->held, 1, memory_order_acquire);
}

static void spin_unlock(struct spin *s) { atomic_store_explicit(&s->held, 0, memory_order_release); }

/* One round of waiting: a pause, and now and then the host CPU for others
 * (more threads than cores: the holder may be descheduled). */
static void relax(unsigned *spins)
{
    if (++*spins % 64 == 0)
        sched_yield();
#if defined(__x86_64__) || defined(__i386__)
    else
        __builtin_ia32_pause();
#endif
}

/* An invalidation one CPU asks of another. */
struct ipi {
    vmsim_asid_t asid;
    vmsim_vaddr_t va;
    atomic_uint *ack; /* the initiator's count of acknowledgements */
};

/* One CPU's mailbox (its local APIC): requests queue under the lock. A
 * cache line each: other threads write it. */
struct mbox {
    struct spin lock;
    atomic_uint pending; /* nonzero: q holds requests */
    unsigned n;
    struct ipi *q;       /* room for every thread's outstanding requests */
} __attribute__((aligned(64)));

struct worker {
    struct par *par;
    unsigned id;
    pthread_t tid;
    bool started;
    unsigned cpu;               /* the CPU whose access it runs */
    int rc;                     /* the phase's first host failure */
    atomic_uint acks;           /* acknowledgements of the shootdown it waits for */
    _Atomic uint64_t inflight;  /* the page whose shootdown it has under way (key); 0: none */
    uint64_t gen;               /* the phase it runs */
    _Atomic uint64_t finished;  /* the last phase whose accesses it has all run */
    atomic_uint pending;        /* nonzero: an IPI may wait in one of its CPUs' mailboxes
                                   (ends its bare runs: mmu_bare_run) */
} __attribute__((aligned(64)));

struct par {
    struct vmsim *sim;
    unsigned n;       /* threads */
    unsigned ncpus;
    unsigned locks;   /* enum vmsim_locks */
    struct worker *w;
    struct mbox *mbox; /* by CPU */
    struct spin kernel; /* the kernel's bookkeeping */
    struct spin global; /* --locks global: every fault */
    struct spin stripe[1u << MMU_STRIPE_BITS]; /* per leaf table (mmu_stripe) */
    atomic_uint seq[1u << MMU_STRIPE_BITS];    /* --locks seqcount: the walks' check */
    pthread_mutex_t mu;
    pthread_cond_t go, end;
    uint64_t gen; /* phases started */
    uint64_t done; /* completions of phases by threads: gen * n when idle (under mu) */
    bool quit;
    const struct vmsim_event *ev; /* the phase's accesses */
    size_t nev;
};

static _Thread_local struct worker *self;

bool par_inside(void) { return self != NULL; }

static inline bool mine(const struct par *P, const struct worker *w, unsigned cpu)
{
    return cpu % P->n == w->id;
}

/* ---- IPIs ------------------------------------------------------------------ */

static void drain_cpu(struct par *P, unsigned cpu)
{
    struct mbox *mb = &P->mbox[cpu];
    unsigned spins = 0;
    while (!spin_try(&mb->lock)) /* held only to queue or drain: never long */
        relax(&spins);
    for (unsigned i = 0; i < mb->n; i++) {
        mmu_invalidate(&P->sim->mmu, cpu, mb->q[i].asid, mb->q[i].va);
        atomic_fetch_add_explicit(mb->q[i].ack, 1, memory_order_release);
    }
    mb->n = 0;
    atomic_store_explicit(&mb->pending, 0, memory_order_relaxed);
    spin_unlock(&mb->lock);
}

/* Answer the IPIs queued for w's CPUs. Only between translations (or
 * while waiting for a lock or acknowledgements): a translation in progress
 * finishes with what it found, as an instruction does before the
 * interrupt is taken. */
static void drain(struct worker *w)
{
    struct par *P = w->par;
    /* cleared first, and before the mailboxes are read (seq_cst: the
     * store may not wait behind those loads): a request queued from here
     * on sets it again */
    if (atomic_load_explicit(&w->pending, memory_order_relaxed))
        atomic_store_explicit(&w->pending, 0, memory_order_seq_cst);
    for (unsigned c = w->id; c < P->ncpus; c += P->n)
        if (atomic_load_explicit(&P->mbox[c].pending, memory_order_acquire))
            drain_cpu(P, c);
}

/* Ask CPU cpu to invalidate: queued, or done here when its thread has
 * finished the phase (returns false: no acknowledgement to wait for). */
static bool send(struct par *P, unsigned cpu, vmsim_asid_t asid, vmsim_vaddr_t va,
                 atomic_uint *ack, uint64_t gen)
{
    struct mbox *mb = &P->mbox[cpu];
    unsigned spins = 0;
    while (!spin_try(&mb->lock))
        relax(&spins);
    const bool queued =
        atomic_load_explicit(&P->w[cpu % P->n].finished, memory_order_acquire) != gen;
    if (queued) {
        mb->q[mb->n++] = (struct ipi){asid, va, ack};
        atomic_store_explicit(&mb->pending, 1, memory_order_release);
        atomic_store_explicit(&P->w[cpu % P->n].pending, 1, memory_order_release);
    } else {
        mmu_invalidate(&P->sim->mmu, cpu, asid, va);
    }
    spin_unlock(&mb->lock);
    return queued;
}

/* Take lock s, counting a wait as contended. A lock whose holder may wait
 * for acknowledgements (a page-table lock) is waited for answering IPIs;
 * the kernel lock's holder never waits for anyone, so it needs no
 * answering (answer false). */
static void lock(struct worker *w, struct spin *s, struct vmsim_stats *st, bool answer)
{
    if (spin_try(s))
        return;
    st->conc_contended++;
    for (unsigned spins = 0; !spin_try(s);) {
        if (answer)
            drain(w);
        relax(&spins);
    }
}

/* ---- phases -------------------------------------------------------------------- */

static void run_share(struct worker *w, const struct vmsim_event *ev, size_t n, uint64_t gen)
{
    struct par *P = w->par;
    struct mmu *m = &P->sim->mmu;
    self = w;
    w->gen = gen;
    w->rc = VMSIM_OK;
    for (size_t i = 0; i < n;) {
        const struct vmsim_event *e = &ev[i];
        if (!mine(P, w, e->cpu)) {
            i++;
            continue;
        }
        drain(w);
        w->cpu = e->cpu;
        size_t h = mmu_hits(m, e, n - i);
        if (h) {
            i += h;
            continue;
        }
        int rc;
        /* a bare machine's run of this CPU's accesses, ended by an IPI */
        if (m->bare && (h = mmu_bare_run(m, e, n - i, n - i, 0, &w->pending, &rc)) != 0) {
            if (rc && !w->rc)
                w->rc = rc;
            i += h;
            continue;
        }
        rc = mmu_access(m, e);
        if (rc && !w->rc)
            w->rc = rc;
        i++;
    }
    /* Finished: from now on initiators invalidate for it (send); what
     * they queued before is answered here, under each mailbox's lock. */
    atomic_store_explicit(&w->finished, gen, memory_order_release);
    for (unsigned c = w->id; c < P->ncpus; c += P->n)
        drain_cpu(P, c);
    self = NULL;
    pthread_mutex_lock(&P->mu);
    if (++P->done == gen * P->n)
        pthread_cond_broadcast(&P->end);
    while (P->done < gen * P->n)
        pthread_cond_wait(&P->end, &P->mu);
    pthread_mutex_unlock(&P->mu);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct par *P = w->par;
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&P->mu);
        while (P->gen == seen && !P->quit)
            pthread_cond_wait(&P->go, &P->mu);
        if (P->quit) {
            pthread_mutex_unlock(&P->mu);
            return NULL;
        }
        seen = P->gen;
        const struct vmsim_event *ev = P->ev;
        const size_t n = P->nev;
        pthread_mutex_unlock(&P->mu);
        run_share(w, ev, n, seen);
    }
}

int par_phase(struct par *P, const struct vmsim_event *ev, size_t n)
{
    struct phys *ph = &P->sim->phys;
    /* No eviction and no table freed while accesses run in parallel
     * (phys.h: reclaiming); a full memory is out of memory. */
    int (*reclaim)(void *) = ph->reclaim;
    ph->reclaim = NULL;
    ph->reclaiming++;
    pthread_mutex_lock(&P->mu);
    P->ev = ev;
    P->nev = n;
    const uint64_t gen = ++P->gen;
    pthread_cond_broadcast(&P->go);
    pthread_mutex_unlock(&P->mu);
    run_share(&P->w[0], ev, n, gen);
    ph->reclaiming--;
    ph->reclaim = reclaim;
    /* what the organizations put off while the threads ran */
    const struct kernel *k = &P->sim->k;
    if (k->ops->quiesce)
        for (size_t b = 0; b < k->nbucket; b++)
            for (struct process *q = k->bucket[b]; q; q = q->hnext)
                k->ops->quiesce(q->space.pt);
    P->sim->st.conc_phases++;
    for (unsigned i = 0; i < P->n; i++)
        if (P->w[i].rc)
            return P->w[i].rc;
    return VMSIM_OK;
}

/* ---- seed 003's fault protocol ------------------------------------------------- */

/* Which page a shootdown is for, as one word (never 0). */
static uint64_t page_key(const struct par *P, vmsim_asid_t asid, vmsim_vaddr_t va)
{
    return 1ull << 63 | (uint64_t)(asid & 0x1ff) << 54 |
           (va >> P->sim->cfg.geom.page_shift & ((1ull << 54) - 1));
}

int par_fault(struct vmsim *sim, struct process *p, vmsim_vaddr_t va, unsigned kind,
              const struct walk *w, bool *fixed)
{
    (void)w; /* found before the lock: re-validated below */
    struct par *P = sim->par;
    struct worker *me = self;
    struct kernel *k = &sim->k;
    struct vmsim_stats *cs = sim->cpu[me->cpu].st;
    struct pt *pt = p->space.pt;
    const vmsim_asid_t asid = p->space.asid;
    const unsigned stripe = mmu_stripe(pt->ops->lock_key(pt, asid, va));
    const bool seqcount = P->locks == VMSIM_LOCKS_SEQCOUNT;
    /* 1. the lock of the entry's table (or the one global lock) */
    struct spin *tl = P->locks == VMSIM_LOCKS_GLOBAL ? &P->global : &P->stripe[stripe];
    lock(me, tl, cs, true);
    cs->conc_locks++;
    /* 2. re-validate: another CPU may have fixed it since our walk */
    struct walk now;
    pt_walk(pt, asid, va, NULL, &now);
    if (kernel_entry_allows(now.pte, kind)) {
        cs->conc_revalidated++;
        cs->faults_total++;
        *fixed = true;
        spin_unlock(tl);
        return VMSIM_OK;
    }
    /* 3-5. pin the old frame, allocate and copy, publish by CAS: the
     * kernel's handler, with its shootdowns and frame drops deferred */
    atomic_store_explicit(&me->inflight, page_key(P, asid, va), memory_order_release);
    lock(me, &P->kernel, cs, false);
    if (seqcount)
        atomic_fetch_add_explicit(&P->seq[stripe], 1, memory_order_acq_rel);
    struct kernel_defer d = {.nshoot = 0};
    k->defer = &d;
    k->cur_cpu = me->cpu;
    pt_cas_retries = 0;
    const int rc = kernel_fault(k, p, va, kind, &now, fixed);
    cs->conc_cas_retries += pt_cas_retries;
    k->defer = NULL;
    if (seqcount)
        atomic_fetch_add_explicit(&P->seq[stripe], 1, memory_order_release);
    spin_unlock(&P->kernel);
    /* 6. shoot down: invalidate on this thread's CPUs, IPIs to the others',
     * and wait for every acknowledgement */
    unsigned sent = 0, ipis = 0; /* queued ones wait for their acknowledgement */
    for (unsigned j = 0; j < d.nshoot; j++) {
        unsigned others = 0; /* the simulated IPIs: every other CPU that may cache it */
        for (unsigned c = 0; c < P->ncpus; c++) {
            if (!kernel_may_cache(k, d.p[j], c))
                continue;
            others += c != me->cpu;
            if (mine(P, me, c)) {
                mmu_invalidate(&sim->mmu, c, d.p[j]->space.asid, d.va[j]);
            } else {
                ipis++;
                sent += send(P, c, d.p[j]->space.asid, d.va[j], &me->acks, me->gen);
            }
        }
        if (others) {
            cs->conc_waits++;
            cs->conc_ack_wait_cycles += ACK_WAIT_CYCLES + (uint64_t)others * IPI_SEND_CYCLES;
        }
    }
    cs->conc_ipis += ipis;
    if (sent) {
        for (unsigned spins = 0; atomic_load_explicit(&me->acks, memory_order_acquire) < sent;) {
            drain(me);
            relax(&spins);
        }
        atomic_store_explicit(&me->acks, 0, memory_order_relaxed);
    }
    atomic_store_explicit(&me->inflight, 0, memory_order_release);
    /* 7. unpin: drop the old frames' references; 8. unlock */
    if (d.nput) {
        lock(me, &P->kernel, cs, false);
        for (unsigned j = 0; j < d.nput; j++)
            kernel_put_frame(k, d.put[j]);
        spin_unlock(&P->kernel);
        cs->conc_pins += d.nput;
    }
    spin_unlock(tl);
    return rc;
}

/* Is a shootdown of key under way on any thread? */
static bool in_flight(const struct par *P, uint64_t key)
{
    for (unsigned i = 0; i < P->n; i++)
        if (atomic_load_explicit(&P->w[i].inflight, memory_order_acquire) == key)
            return true;
    return false;
}

void par_touch(struct vmsim *sim, struct process *p, vmsim_vaddr_t va, unsigned kind,
               unsigned shift, uint64_t pte)
{
    struct par *P = sim->par;
    struct vmsim_stats *cs = sim->cpu[self->cpu].st;
    lock(self, &P->kernel, cs, false);
    if (sim->cfg.verify) {
        /* A translation whose entry has changed since (another frame, or
         * no longer writable) may be used only while the change's
         * shootdown is under way: this access then comes before the
         * other CPU's, and its contents are not checked. */
        const uint64_t now = kernel_lookup(p, va);
        if (!(now & PTE_P) || PTE_PFN(now) != PTE_PFN(pte) || ((pte & PTE_W) && !(now & PTE_W))) {
            if (in_flight(P, page_key(P, p->space.asid, va)) && !(kind & 1u)) {
                sim->k.st->verify_raced++; /* the kernel's: kept by a reset, as verify.* */
                spin_unlock(&P->kernel);
                return;
            }
            sim->k.st->conc_stale++;
        }
    }
    kernel_touch(&sim->k, p, va, kind, shift, pte);
    spin_unlock(&P->kernel);
}

/* ---- set-up ---------------------------------------------------------------------- */

const char *const vmsim_locks_names[] = {"table", "global", "seqcount", NULL};

const char *vmsim_threads_refusal(const struct vmsim_config *cfg)
{
    if (cfg->threads <= 1)
        return NULL;
    if (cfg->threads > cfg->ncpus)
        return "--threads: expected at most one thread per simulated CPU (--cpus)";
    if (cfg->locks > VMSIM_LOCKS_SEQCOUNT)
        return "--locks: expected table, global or seqcount";
    const struct pt_ops *ops = pt_find(cfg->pt, NULL);
    if (ops && !ops->lock_key)
        return "--threads: only the radix and hashed organizations are made thread-safe so far; "
               "the inverted, clustered, cuckoo, ppc and flat tables are not";
    if (cfg->nested.on)
        return "--threads: virtualization (--nested, --shadow, --migrate, --enclave) is not "
               "thread-safe yet";
    if (cfg->mem.dram)
        return "--threads: the data caches (--cache) are not thread-safe yet";
    if (cfg->evict_tables)
        return "--threads: paged-out page tables (--evict-tables) are not thread-safe yet";
    if (cfg->share_tables)
        return "--threads: shared page tables (--share-tables) are not thread-safe yet: a fault "
               "would link, copy or drop a table other CPUs' walks are reading";
    if (cfg->replace == VMSIM_REPLACE_OPT)
        return "--threads: opt needs the position in one trace order, which a parallel run does "
               "not have; expected another --replace";
    if (cfg->anon_page_shift && cfg->anon_page_shift != cfg->geom.page_shift)
        return "--threads: huge pages (--page-size) are not thread-safe yet";
    for (unsigned i = 0; i < cfg->ntlb; i++)
        if (cfg->tlb[i].repl == VMSIM_REPL_RANDOM)
            return "--threads: random TLB replacement draws from one generator; expected lru";
    return NULL;
}

int par_create(struct vmsim *sim, struct par **out)
{
    const unsigned n = sim->cfg.threads, ncpus = sim->cfg.ncpus;
    struct par *P = calloc(1, sizeof *P);
    if (!P)
        return VMSIM_ENOMEM;
    pthread_mutex_init(&P->mu, NULL);
    pthread_cond_init(&P->go, NULL);
    pthread_cond_init(&P->end, NULL);
    P->sim = sim;
    P->n = n;
    P->ncpus = ncpus;
    P->locks = sim->cfg.locks;
    /* a cache line each (aligned types): other threads write them */
    P->w = aligned_alloc(64, n * sizeof *P->w);
    P->mbox = aligned_alloc(64, ncpus * sizeof *P->mbox);
    if (!P->w || !P->mbox) {
        par_destroy(P);
        return VMSIM_ENOMEM;
    }
    memset(P->w, 0, n * sizeof *P->w);
    memset(P->mbox, 0, ncpus * sizeof *P->mbox);
    for (unsigned c = 0; c < ncpus; c++)
        if (!(P->mbox[c].q = calloc((size_t)n * KERNEL_DEFER_MAX, sizeof *P->mbox[c].q))) {
            par_destroy(P);
            return VMSIM_ENOMEM;
        }
    for (unsigned i = 0; i < n; i++) {
        P->w[i].par = P;
        P->w[i].id = i;
        if (i && pthread_create(&P->w[i].tid, NULL, worker_main, &P->w[i]) != 0) {
            par_destroy(P);
            return VMSIM_ENOMEM;
        }
        P->w[i].started = i != 0;
    }
    if (P->locks == VMSIM_LOCKS_SEQCOUNT) {
        sim->mmu.seq = P->seq;
        sim->mmu.bare = false; /* its walks check the sequence counts */
    }
    *out = P;
    return VMSIM_OK;
}

void par_destroy(struct par *P)
{
    if (!P)
        return;
    if (P->w) {
        pthread_mutex_lock(&P->mu);
        P->quit = true;
        pthread_cond_broadcast(&P->go);
        pthread_mutex_unlock(&P->mu);
        for (unsigned i = 1; i < P->n; i++)
            if (P->w[i].started)
                pthread_join(P->w[i].tid, NULL);
    }
    for (unsigned c = 0; P->mbox && c < P->ncpus; c++)
        free(P->mbox[c].q);
    free(P->mbox);
    free(P->w);
    pthread_mutex_destroy(&P->mu);
    pthread_cond_destroy(&P->go);
    pthread_cond_destroy(&P->end);
    free(P);
}
