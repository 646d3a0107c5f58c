/* The MMU: translate an access through the TLB levels of its side, the
 * page-walk caches and the page-table walk, calling the kernel on a fault.
 *
 * Counting rules (DESIGN.md, Events): each translation looks up the levels
 * of its side in order until one hits; each looked-up level counts one hit
 * or one miss, even when the access then takes a protection fault. A
 * retry after the kernel fixed a fault is charged to walks and faults only.
 * A hit at a lower level fills the levels above it that serve the page
 * size; a walk fills every level of the side that serves it.
 *
 * Cost model (docs/cost-model.md): each looked-up TLB level costs its
 * latency; a walk costs the PWC probe latency (when PWCs exist) plus pt_ref
 * per page-table reference (a software walk: no PWCs, plus a trap and
 * sw_ref per reference for the handler's instructions); a fault costs `fault`; the access itself costs
 * `access`. Everything but `access` is translation.
 *
 * Software is reached only through the exception vector the machine
 * installs (m->vec, struct mmu_vector in mmu.h): faults, switches, the
 * host dimension of a guest, migration traps.
 *
 * Hot path: the memo compare (mmu.h) handles repeated hits in the first
 * level with no call, no allocation and no indirect call; a first-level
 * hit without the memo is an inline set scan; indirection (the page-table
 * organization's walk) only happens on a miss in every level. */
#include <string.h>

#include "mmu/mmu.h"
#include "pt/radix.h"

#define WRITE_INTENT(kind) ((kind) & 1u) /* VMSIM_WRITE and VMSIM_MODIFY */

static inline void charge(struct vmsim_stats *st, uint64_t cyc)
{
    st->cycles += cyc;
    st->cycles_translation += cyc;
}

/* Is the entry usable for this access, permissions-wise? */
static inline bool allowed(uint64_t pte, unsigned kind)
{
    if (WRITE_INTENT(kind))
        return (pte & (PTE_W | PTE_ZERO | PTE_HWP)) == PTE_W;
    if (kind == VMSIM_FETCH)
        return pte & PTE_X;
    return true;
}

static void set_memo(struct cpu *c, unsigned side, vmsim_vaddr_t va, unsigned shift, uint64_t pte)
{
    struct memo *m = &c->memo[side];
    unsigned first = c->path[side][0];
    m->tag = va >> shift;
    m->shift = shift;
    m->level = first;
    m->latency = c->tlb[first].latency;
    m->writable = (pte & (PTE_W | PTE_D | PTE_ZERO | PTE_HWP)) == (PTE_W | PTE_D);
    m->pte = pte;
}

/* Fill levels path[0..upto) of side with the page; set the memo when the
 * first level took it. */
static inline __attribute__((always_inline)) void fill(struct mmu *m, struct cpu *c,
                                                       unsigned side, unsigned upto,
                                                       vmsim_vaddr_t va, vmsim_asid_t asid,
                                                       unsigned shift, uint64_t pte, bool watched)
{
    bool first = false;
    for (unsigned i = 0; i < upto; i++) {
        bool took = tlb_fill(&c->tlb[c->path[side][i]], va, asid, shift, pte, c->now, m->rng);
        if (i == 0)
            first = took;
        if (watched && took && m->watch->obs.fill)
            m->watch->obs.fill(m->watch->obs.ctx, (unsigned)(c - m->cpu), c->path[side][i], va,
                               shift);
    }
    if (first)
        set_memo(c, side, va, shift, pte);
}

/* What the host dimension says of the page a walk found. */
enum { HOST_RO = 1, HOST_ENCLAVE = 2 };

/* The host dimension of guest walk w (nested paging): every guest-physical
 * address it read, and the one it found, through the hypervisor's
 * host_translate (nested_translate); an
 * enclave's chain then goes on into machine memory. Adds the cycles to
 * *cyc; returns HOST_RO when the host maps the page found read-only (a
 * live migration's write protection) and HOST_ENCLAVE when its host frame
 * is enclave memory. */
static unsigned walk_2d(struct mmu *m, struct cpu *c, const struct mmu_space *as,
                        vmsim_vaddr_t va, const struct walk *w, uint64_t *cyc)
{
    const unsigned cpu = (unsigned)(c - m->cpu);
    bool writable = true, ignored;
    unsigned translated = 0, host = 0;
    for (unsigned i = 0; i < w->nrefs && i < WALK_MAX_REFS; i++, translated++)
        m->vec->host_translate(m->up, cpu, w->ref[i].pa, cyc, &ignored);
    if (w->pte & PTE_P) {
        const unsigned shift = m->shift[w->level];
        const vmsim_paddr_t hpa = m->vec->host_translate(
            m->up, cpu, (PTE_PFN(w->pte) << m->page_shift) + (va & ((1ull << shift) - 1)),
            cyc, &writable);
        if (m->cfg->nested.enclave_pid && m->vec->enclave_host(m->up, hpa))
            host |= HOST_ENCLAVE;
        translated++;
    }
    if (as->pid == m->cfg->nested.enclave_pid) {
        /* each host-physical address the 2D walk produced takes a walk of
         * the processor's enclave table */
        const uint64_t refs = (uint64_t)translated * m->cfg->nested.enclave_levels;
        c->st->enclave_refs += refs;
        *cyc += refs * m->cfg->cost.pt_ref;
    }
    return host | (writable ? 0 : HOST_RO);
}

/* The cycles of walk w's references: pt_ref each, or through the data
 * caches the latency of what served each (memsys_walk). */
static uint64_t refs_cost(struct mmu *m, struct cpu *c, const struct walk *w)
{
    if (!m->mem)
        return (uint64_t)w->nrefs * m->cfg->cost.pt_ref;
    return memsys_walk(m->mem, (unsigned)(c - m->cpu), w, m->mem_tag, c->st);
}

/* walks.latency_histogram's bucket of a walk of cyc cycles: 0 for 0,
 * b for [2^(b-1), 2^b), the last for everything above. */
static inline unsigned latency_bucket(uint64_t cyc)
{
    const unsigned b = cyc ? 64u - (unsigned)__builtin_clzll(cyc) : 0;
    return b < VMSIM_WALK_LAT_BUCKETS ? b : VMSIM_WALK_LAT_BUCKETS - 1;
}

/* A walk checked by its stripe's sequence count (--locks seqcount): one
 * that began while a fault was publishing, or overlapped one, is repeated
 * (each repetition counted). The publisher holds the count odd only while
 * it changes entries, never while it waits for other CPUs. */
static __attribute__((noinline)) void walk_seq(struct mmu *m, struct cpu *c,
                                               const struct mmu_space *as, vmsim_vaddr_t va,
                                               const struct walk_start *s, struct walk *w)
{
    atomic_uint *seq = &m->seq[mmu_stripe(as->pt->ops->lock_key(as->pt, as->asid, va))];
    for (;;) {
        const unsigned s0 = atomic_load_explicit(seq, memory_order_acquire);
        if (!(s0 & 1)) {
            pt_walk(as->pt, as->asid, va, s, w);
            atomic_thread_fence(memory_order_acquire);
            if (atomic_load_explicit(seq, memory_order_relaxed) == s0)
                return;
        }
        c->st->conc_seq_retries++;
    }
}

/* Walk the page table of p for va, through the page-walk caches; in a
 * guest, in two dimensions (walk_2d: a guest page-walk cache hit skips the
 * host walks of the levels it skips). Returns walk_2d's HOST_* bits. */
/* The observer's walk_ref per reference of w and vmsim_translate's record. */
static __attribute__((noinline)) void watch_walk(struct mmu *m, struct cpu *c,
                                                 const struct walk *w, bool pwc_hit)
{
    struct mmu_watch *wa = m->watch;
    struct vmsim_translation *r = wa->page_done ? NULL : wa->rec;
    for (unsigned i = 0; i < w->nrefs; i++) {
        const vmsim_paddr_t pa = i < WALK_MAX_REFS ? w->ref[i].pa : VMSIM_PADDR_NONE;
        if (wa->obs.walk_ref)
            wa->obs.walk_ref(wa->obs.ctx, (unsigned)(c - m->cpu), pa,
                             i < WALK_MAX_REFS ? w->ref[i].level : 0);
        if (r && r->nrefs + i < VMSIM_TRANSLATION_REFS)
            r->ref[r->nrefs + i] = pa;
    }
    if (r) {
        r->walks++;
        r->nrefs += w->nrefs;
        r->pwc_hit = pwc_hit;
    }
}

static inline __attribute__((always_inline)) unsigned walk(struct mmu *m, struct cpu *c,
                                                           const struct mmu_space *as,
                                                           vmsim_vaddr_t va, struct walk *w,
                                                           bool watched, bool bare)
{
    bool pwc_hit = false;
    unsigned host = 0;
    struct walk_start s = {0, NULL};
    struct pwc *pwc = &c->pwc;
    const unsigned L = m->cfg->geom.levels;
    uint64_t cyc = 0;
    const bool use_pwc =
        pwc->nprobe && (bare || (as->pt->ops->tree && !m->cfg->sw_walk)); /* radix: a tree */
    if (use_pwc) {
        cyc += pwc->latency;
        if (mmu_pwc_probe(pwc, va, as->asid, c->now, &s)) {
            pwc_hit = true;
            c->st->pwc_hits++;
            c->st->pwc_levels_skipped += L - s.level;
        } else {
            c->st->pwc_misses++;
        }
    }
    if (bare)
        radix_walk_body(as->pt, va, &s, w, false, false); /* nothing bare reads w->ref */
    else if (__builtin_expect(m->seq != NULL, 0))
        walk_seq(m, c, as, va, &s, w);
    else
        pt_walk(as->pt, as->asid, va, &s, w);
    c->st->walks++;
    c->st->walk_refs += w->nrefs;
    c->st->walk_hist[w->nrefs <= VMSIM_MAX_LEVELS ? w->nrefs : VMSIM_MAX_LEVELS + 1]++;
    if (watched)
        watch_walk(m, c, w, pwc_hit);
    if (bare) {
        cyc += (uint64_t)w->nrefs * m->cfg->cost.pt_ref; /* refs_cost without caches */
    } else {
        cyc += refs_cost(m, c, w);
        if (m->cfg->sw_walk) /* seed 003: a trap, then the handler's instructions per reference */
            cyc += m->cfg->cost.trap + (uint64_t)w->nrefs * m->cfg->cost.sw_ref;
        if (m->nested && !m->cfg->nested.shadow)
            host = walk_2d(m, c, as, va, w, &cyc);
    }
    charge(c->st, cyc);
    c->st->walk_cycles += cyc;
    c->st->walk_lat_hist[latency_bucket(cyc)]++;
    if (use_pwc)
        mmu_pwc_fill(pwc, va, as->asid, w, c->now, m->rng);
    return host;
}

/* The rest of a translation whose lookups missed (or hit an entry the
 * access may not use: hit) after its first walk w: faults and walks again
 * until the entry is usable, then the dirty bit and the fills. */
static inline __attribute__((always_inline)) unsigned
translate_walked(struct mmu *m, struct cpu *c, unsigned side, vmsim_vaddr_t va, unsigned kind,
                 uint64_t *used, struct walk *w, unsigned host, bool hit, bool watched, bool bare)
{
    struct process *p = c->proc;
    const struct mmu_space *as = mmu_space_of(p);
    const vmsim_asid_t asid = as->asid;
    const unsigned np = c->npath[side];
    unsigned shift;
    for (int tries = 0; !(w->pte & PTE_P) || !allowed(w->pte, kind); tries++) {
        bool fixed = false;
        if (tries == 2 + VMSIM_MAX_LEVELS) { /* evictions during faults undid the fix */
            c->st->faults_oom++;
            return m->page_shift;
        }
        int rc = m->vec->fault(m->up, p, va, kind, w, &fixed);
        charge(c->st, m->cfg->cost.fault); /* a fault costs its trap, fixed or not */
        if (watched)
            mmu_watch_fault(m->watch, (unsigned)(c - m->cpu), as->pid, va, kind,
                            m->watch->fault_kinds);
        if (rc != 0)
            c->host_rc = rc; /* out of host memory: mmu_access returns it */
        if (rc != 0 || !fixed)
            return (w->pte & PTE_P) ? m->shift[w->level] : m->page_shift;
        host = walk(m, c, as, va, w, watched, bare);
    }
    shift = m->shift[w->level];
    if (!bare && m->cfg->nested.enclave_pid && as->pid != m->cfg->nested.enclave_pid &&
        ((host & HOST_ENCLAVE) ||
         (phys_frame(m->phys, PTE_PFN(w->pte))->flags & FRAME_ENCLAVE))) {
        /* enclave memory read by someone else, in this VM or another: the
         * processor refuses it, and nothing is cached */
        c->st->enclave_refused++;
        charge(c->st, m->cfg->cost.fault);
        return shift;
    }
    if (!bare && (host & HOST_RO)) {
        uint64_t trap = 0;
        if (!WRITE_INTENT(kind) ||
            !m->vec->migrate_trap(
                m->up, (PTE_PFN(w->pte) << m->page_shift) + (va & ((1ull << shift) - 1)),
                          &trap))
            w->pte |= PTE_HWP; /* cached read-only for the host's sake */
        charge(c->st, trap);
    }
    if (WRITE_INTENT(kind) && !(w->pte & PTE_D)) {
        pt_update(as->pt, asid, va, PTE_D, 0);
        w->pte |= PTE_D;
    }
    if (hit) {
        /* The refill replaces the entry the lookup found unusable. One
         * after another, the fault's shootdown has removed it already
         * (this changes nothing); in a parallel run another CPU may have
         * fixed the page since, with its IPI still queued for this CPU,
         * and two entries for one page must not sit side by side (the
         * IPI would remove one). Linux flushes a spurious fault's entry
         * likewise (flush_tlb_fix_spurious_fault). */
        for (unsigned j = 0; j < np; j++)
            tlb_level_invalidate(&c->tlb[c->path[side][j]], va, asid);
    }
    fill(m, c, side, np, va, asid, shift, w->pte, watched);
    if (!bare && m->track)
        m->vec->touch(m->up, p, va, kind, shift, w->pte);
    *used = w->pte;
    return shift;
}

/* Everything but a hit in the memo: returns the page shift of va, and in
 * *used the entry the translation used (0: none). */
static inline __attribute__((always_inline)) unsigned
translate_slow_body(struct mmu *m, struct cpu *c, vmsim_vaddr_t va, unsigned kind, uint64_t *used,
                    bool watched, bool bare)
{
    const unsigned side = kind == VMSIM_FETCH ? SIDE_I : SIDE_D;
    struct process *p = c->proc;
    const struct mmu_space *as = mmu_space_of(p);
    const vmsim_asid_t asid = as->asid;
    const unsigned np = c->npath[side];
    uint64_t cyc = 0;
    unsigned i, shift = m->page_shift;
    uint64_t *hit = NULL;

    *used = 0;
    if (va >> m->cfg->geom.va_bits) {
        c->st->faults_bad_address++;
        c->st->faults_total++;
        charge(c->st, m->cfg->cost.fault);
        if (watched)
            mmu_watch_fault(m->watch, (unsigned)(c - m->cpu), as->pid, va, kind,
                            1u << VMSIM_FAULT_BAD_ADDRESS);
        return shift;
    }
    c->now++;
    if (c->disturbs[side])
        memo_reset(&c->memo[side ^ 1]);
    for (i = 0; i < np; i++) {
        struct tlb_level *l = &c->tlb[c->path[side][i]];
        cyc += l->latency;
        hit = tlb_lookup(l, va, asid, &shift, c->now);
        if (hit) {
            c->st->tlb[c->path[side][i]].hits++;
            if (watched && m->watch->rec && !m->watch->page_done)
                m->watch->rec->tlb_level = (int)c->path[side][i];
            break;
        }
        c->st->tlb[c->path[side][i]].misses++;
    }
    charge(c->st, cyc);
    if (hit) {
        uint64_t pte = *hit;
        if (!bare && (pte & PTE_HWP) && WRITE_INTENT(kind) && allowed(pte & ~PTE_HWP, kind)) {
            /* a write to a page a live migration protects: it traps, and
             * the hardware refetches the translation, writable now */
            uint64_t trap = 0;
            m->vec->migrate_trap(
                m->up, (PTE_PFN(pte) << m->page_shift) + (va & ((1ull << shift) - 1)),
                         &trap);
            charge(c->st, trap);
            pte &= ~PTE_HWP;
            *hit = pte;
        }
        if (allowed(pte, kind)) {
            if (WRITE_INTENT(kind) && !(pte & PTE_D)) {
                /* First write through a clean entry: the hardware sets the
                 * dirty bit in the page table (an assist, not a walk). */
                pt_update(as->pt, asid, va, PTE_D, 0);
                pte |= PTE_D;
                *hit = pte;
            }
            /* A first-level hit made this page the most recently used of
             * its set, so the memo must name it: a memo still naming the
             * previous page would let that page's next use skip its LRU
             * stamp. Below the first level, fill sets the memo. */
            if (i == 0)
                set_memo(c, side, va, shift, pte);
            else
                fill(m, c, side, i, va, asid, shift, pte, watched);
            if (!bare && m->track)
                m->vec->touch(m->up, p, va, kind, shift, pte);
            *used = pte;
            return shift;
        }
        /* A hit that the access may not use still refreshed its stamp */
        if (i == 0)
            memo_reset(&c->memo[side]);
    } else {
        c->st->tlb_misses_all++;
    }

    struct walk w;
    const unsigned host = walk(m, c, as, va, &w, watched, bare);
    return translate_walked(m, c, side, va, kind, used, &w, host, hit != NULL, watched, bare);
}

/* The general path, the observed one and the bare one (mmu.bare): one
 * body, the observer's hooks compiled into the second only, and in the
 * third everything a bare machine lacks folded away at compile time. */
static unsigned translate_slow(struct mmu *m, struct cpu *c, vmsim_vaddr_t va, unsigned kind,
                               uint64_t *used)
{
    return translate_slow_body(m, c, va, kind, used, false, false);
}

static unsigned translate_slow_bare(struct mmu *m, struct cpu *c, vmsim_vaddr_t va, unsigned kind,
                                    uint64_t *used)
{
    return translate_slow_body(m, c, va, kind, used, false, true);
}

static __attribute__((noinline)) unsigned translate_slow_watched(struct mmu *m, struct cpu *c,
                                                                 vmsim_vaddr_t va, unsigned kind,
                                                                 uint64_t *used)
{
    return translate_slow_body(m, c, va, kind, used, true, false);
}

/* Translate one page: returns the shift of the page containing va, and
 * when pte is not NULL (--cache, an observer) the entry used, 0 for none. */
static inline __attribute__((always_inline)) unsigned translate(struct mmu *m, struct cpu *c,
                                                                vmsim_vaddr_t va, unsigned kind,
                                                                uint64_t *pte, bool watched)
{
    const unsigned side = kind == VMSIM_FETCH ? SIDE_I : SIDE_D;
    const struct memo *mo = &c->memo[side];
    c->st->translations++;
    if ((va >> mo->shift) == mo->tag && (mo->writable || !WRITE_INTENT(kind))) {
        c->st->tlb[mo->level].hits++;
        charge(c->st, mo->latency);
        if (m->track)
            m->vec->touch(m->up, c->proc, va, kind, mo->shift, mo->pte);
        if (pte)
            *pte = mo->pte;
        if (watched && m->watch->rec && !m->watch->page_done)
            m->watch->rec->tlb_level = (int)mo->level;
        return mo->shift;
    }
    uint64_t used;
    const unsigned shift = watched   ? translate_slow_watched(m, c, va, kind, &used)
                           : m->bare ? translate_slow_bare(m, c, va, kind, &used)
                                     : translate_slow(m, c, va, kind, &used);
    if (pte)
        *pte = used;
    return shift;
}

/* Bit 63 of a cache line address: a page mapped to the zero frame, by
 * process and virtual address (docs/caches.md). */
#define ZERO_LINES (1ull << 63)

/* The data references of one translated page's part [va, last] of an
 * access (docs/caches.md): one per piece between the smallest line
 * size's boundaries. Returns the largest cost. */
static uint64_t data_refs(struct mmu *m, struct cpu *c, vmsim_vaddr_t va, vmsim_vaddr_t last,
                          unsigned kind, unsigned shift, uint64_t pte)
{
    struct memsys *ms = m->mem;
    const unsigned cpu = (unsigned)(c - m->cpu);
    const unsigned side = kind == VMSIM_FETCH ? MEM_SIDE_I : MEM_SIDE_D;
    const uint64_t mask = (1ull << shift) - 1;
    uint64_t base = (PTE_PFN(pte) << m->page_shift) | m->mem_tag;
    if (pte & PTE_ZERO) { /* the zero frame: a line address of the page's own (docs/caches.md) */
        const uint64_t space = (mmu_space_of(c->proc)->pid ^ m->mem_tag >> 40) & 0x7fff;
        base = ZERO_LINES | space << 48 | (va & ~mask & ((1ull << 48) - 1));
    }
    const unsigned ls = ms->min_line_shift;
    uint64_t worst = 0;
    for (uint64_t line = va >> ls;; line++) {
        const vmsim_vaddr_t at = line << ls > va ? line << ls : va;
        const uint64_t cyc = memsys_ref(ms, cpu, side, base + (at & mask), false, c->st);
        worst = cyc > worst ? cyc : worst;
        if (line == last >> ls)
            break;
    }
    return worst;
}

/* Translate the pages of an access; with `cached` (--cache, data=on,
 * a constant in each call, so the plain loop stays as it was) make its
 * data references too, and charge the slowest of them instead of
 * `access`. */
static inline __attribute__((always_inline)) void access_pages(struct mmu *m, struct cpu *c, const struct vmsim_event *ev,
                                bool cached, bool watched)
{
    const unsigned kind = ev->kind & 3u;
    vmsim_vaddr_t va = ev->addr;
    uint64_t len = ev->len ? ev->len : 1;
    vmsim_vaddr_t last = va + (len - 1);
    uint64_t worst = 0;
    if (!cached)
        c->st->cycles += m->cfg->cost.access;
    if (last < va)
        last = UINT64_MAX;
    for (;;) {
        uint64_t pte = 0;
        unsigned shift = translate(m, c, va, kind, cached || watched ? &pte : NULL, watched);
        c->st->translations_huge += shift != m->page_shift;
        if (watched && m->watch->rec && !m->watch->page_done) {
            struct vmsim_translation *r = m->watch->rec;
            r->page_shift = shift;
            r->translated = pte != 0;
            r->pa = pte ? (PTE_PFN(pte) << m->page_shift) + (va & ((1ull << shift) - 1)) : 0;
            m->watch->page_done = true;
        }
        vmsim_vaddr_t next = ((va >> shift) + 1) << shift;
        const bool end = next == 0 || next > last;
        if (cached && pte) {
            const uint64_t cyc = data_refs(m, c, va, end ? last : next - 1, kind, shift, pte);
            worst = cyc > worst ? cyc : worst;
        }
        if (end)
            break;
        /* Only an access that crosses a page gets here. The part beyond
         * the geometry's address space has no pages: the bad-address
         * fault just counted stands for all of it (docs/stats.md). */
        if (va >> m->cfg->geom.va_bits)
            break;
        if (m->stop && *m->stop) { /* a huge access, stopped by the caller */
            c->host_rc = VMSIM_EINTR;
            break;
        }
        va = next;
    }
    c->st->cycles += worst;
}

/* One access event of a CPU the machine has: the CPU loads the address
 * space first if needed. */
static inline __attribute__((always_inline)) int access_event(struct mmu *m,
                                                              const struct vmsim_event *ev,
                                                              bool cached, bool watched)
{
    struct cpu *c = &m->cpu[ev->cpu];
    if (!c->proc || mmu_space_of(c->proc)->pid != ev->pid) {
        int rc = mmu_switch(m, ev->cpu, ev->pid);
        if (rc) { /* the access still counts, in this VM */
            m->cst[ev->cpu].accesses++;
            m->cst[ev->cpu].cycles += m->cfg->cost.access;
            return rc;
        }
    }
    /* c runs a process of this VM now: c->st is this VM's counters of c */
    c->st->accesses++;
    access_pages(m, c, ev, cached, watched);
    if (__builtin_expect(c->host_rc != 0, 0)) {
        int rc = c->host_rc;
        c->host_rc = 0;
        return rc;
    }
    return VMSIM_OK;
}

/* What the plain path does not take: a CPU the machine lacks, or any
 * access when the program's references go through the caches. Out of
 * line, so that the plain path keeps the hot loop's registers. */
static __attribute__((noinline)) int access_event_other(struct mmu *m,
                                                        const struct vmsim_event *ev)
{
    if (ev->cpu >= m->cfg->ncpus)
        return VMSIM_ERANGE;
    if (m->watch)
        return m->mem && m->cfg->mem.data ? access_event(m, ev, true, true)
                                          : access_event(m, ev, false, true);
    return access_event(m, ev, true, false);
}

void mmu_watch_fault(struct mmu_watch *w, unsigned cpu, vmsim_pid_t pid, vmsim_vaddr_t va,
                     unsigned kind, unsigned kinds)
{
    if (w->obs.fault)
        w->obs.fault(w->obs.ctx, cpu, pid, va, kind, kinds);
    if (w->rec && !w->page_done) {
        w->rec->fault_kinds |= kinds;
        w->rec->faults++;
    }
}

/* The first 8 bytes of an access event (type, kind, cpu, pid) as one
 * word, so that a run of accesses is recognised with one compare per
 * event; built from the struct, so byte order does not matter. */
static inline uint64_t event_head(const struct vmsim_event *e)
{
    uint64_t h;
    memcpy(&h, e, sizeof h);
    return h;
}

size_t mmu_hit_run(struct mmu *m, const struct vmsim_event *ev, size_t n)
{
    const unsigned cpu = ev[0].cpu;
    struct cpu *c = &m->cpu[cpu];
    if (!c->proc)
        return 0;
    const struct vmsim_event want = {
        .type = VMSIM_EV_ACCESS, .cpu = (uint16_t)cpu, .pid = mmu_space_of(c->proc)->pid};
    const struct vmsim_event kind_byte = {.kind = 0xff};
    const uint64_t head = event_head(&want), ignore = ~event_head(&kind_byte);
    const struct memo md = c->memo[SIDE_D], mi = c->memo[SIDE_I];
    uint64_t hi = 0; /* the run's fetches: counters in registers */
    size_t k = 0;
    for (; k < n; k++) {
        const struct vmsim_event *e = &ev[k];
        if ((event_head(e) & ignore) != head)
            break;
        const unsigned kind = e->kind & 3u;
        const bool fetch = kind == VMSIM_FETCH;
        const struct memo *mo = fetch ? &mi : &md;
        const vmsim_vaddr_t last = e->addr + (e->len ? e->len - 1 : 0);
        /* the whole access in the memo's page (no wrap past the top), and
         * a write only through a writable, dirty entry */
        if ((e->addr >> mo->shift) != mo->tag || (last >> mo->shift) != mo->tag ||
            last < e->addr || (WRITE_INTENT(kind) && !mo->writable))
            break;
        hi += fetch;
    }
    const uint64_t hd = k - hi;
    if (k) { /* what translate and access_pages count for each memo hit */
        struct vmsim_stats *st = c->st;
        const uint64_t lat = hd * md.latency + hi * mi.latency;
        st->accesses += k;
        st->translations += k;
        st->tlb[md.level].hits += hd;
        st->tlb[mi.level].hits += hi;
        st->cycles += lat + k * m->cfg->cost.access;
        st->cycles_translation += lat;
        st->translations_huge += (md.shift != m->page_shift ? hd : 0) +
                                 (mi.shift != m->page_shift ? hi : 0);
    }
    return k;
}

/* A TLB level of a bare run's D side, while it holds base pages only. */
struct bare_level {
    struct tlb_level *l;
    struct sac *c;        /* the array serving the base page */
    struct tlb_probe *p;  /* its probe for the base page */
    uint32_t bit;         /* its bit in l->live_mask */
    unsigned idx;         /* the level's index (its statistics) */
    unsigned latency;
};

/* The D-side levels of c as bare levels; false when one of them serves
 * no base page or holds pages of another size (a level's live mask then
 * names more than the base page's probe). */
static bool bare_levels(const struct mmu *m, struct cpu *c, struct bare_level *lv)
{
    for (unsigned i = 0; i < c->npath[SIDE_D]; i++) {
        struct tlb_level *l = &c->tlb[c->path[SIDE_D][i]];
        const int pi = l->probe_of[m->page_shift];
        if (pi < 0 || (l->live_mask & ~(1u << pi)))
            return false;
        lv[i] = (struct bare_level){.l = l, .c = l->probe[pi].c, .p = &l->probe[pi],
                                    .bit = 1u << pi, .idx = c->path[SIDE_D][i],
                                    .latency = l->latency};
    }
    return c->npath[SIDE_D] > 0;
}

/* Do the bare levels lv[0, np) still hold base pages only (after the
 * general path ran, which may have filled other sizes)? */
static inline bool bare_still(const struct bare_level *lv, unsigned np)
{
    for (unsigned i = 0; i < np; i++)
        if (lv[i].l->live_mask & ~lv[i].bit)
            return false;
    return true;
}

/* The sacache operations of a bare run: when SETS (a constant), every
 * cache it touches is known to have sets and LRU replacement (checked
 * once per run: mmu_bare_run), so the tests of each operation go. */
static inline long bare_find(const struct sac *c, uint64_t set, uint64_t key, uint8_t fp,
                             bool SETS)
{
#if SAC_SETS
    if (SETS)
        return sac_find_set(c, set, key, fp);
#endif
    return sac_find_fp(c, set, key, fp);
}

static inline void bare_touch(struct sac *c, uint64_t set, long slot, uint64_t now, bool SETS)
{
#if SAC_SETS
    if (SETS) {
        sac_rank_use(&c->set[set], (unsigned)(slot - (long)(set * c->ways)), c->ways, now);
        return;
    }
#endif
    sac_touch(c, set, slot, now);
}

static inline void bare_insert(struct sac *c, uint64_t set, uint64_t key, uint8_t fp,
                               uint64_t val, uint64_t now, struct rng *rng, uint64_t *evicted,
                               bool SETS)
{
#if SAC_SETS
    if (SETS) {
        sac_insert_lru_set(c, set, key, fp, val, now, evicted);
        return;
    }
#endif
    sac_insert_fp(c, set, key, fp, val, now, rng, evicted);
}

/* A fill of bare level lv that evicted `evicted` (0: took an empty way)
 * keeps the level's live counts. */
static inline void bare_took(const struct bare_level *lv, uint64_t evicted)
{
    if (!evicted) { /* else a base page left: no count changes */
        lv->p->live++;
        lv->l->live_mask |= lv->bit;
    }
}

/* tlb_fill of a base page into bare level lv, its key, hash byte and set
 * known. */
static inline __attribute__((always_inline)) void
bare_fill_body(const struct bare_level *lv, uint64_t set, uint64_t key, uint8_t fp, uint64_t pte,
               uint64_t now, struct rng *rng, bool SETS)
{
    uint64_t evicted;
    bare_insert(lv->c, set, key, fp, pte, now, rng, &evicted, SETS);
    bare_took(lv, evicted);
}

/* Out of line, one for each kind of cache: inlined into the run's loop
 * the fills make it spill more than their calls cost (docs/
 * performance.md), and one function for both kinds would take SETS as a
 * run-time argument, with the registers of the longer kind. The fill of
 * a set whose newest use is not at now (always, in a bare run: each of
 * its translations uses a TLB set once) calls nothing, so it saves no
 * registers; a tie takes the general form, out of line. */
static __attribute__((noinline)) void bare_fill_tie(const struct bare_level *lv, uint64_t set,
                                                  uint64_t key, uint8_t fp, uint64_t pte,
                                                  uint64_t now)
{
    bare_fill_body(lv, set, key, fp, pte, now, NULL, true);
}

static void bare_fill_sets(const struct bare_level *lv, uint64_t set, uint64_t key, uint8_t fp,
                           uint64_t pte, uint64_t now)
{
    if (__builtin_expect(now == lv->c->set[set].last, 0)) { /* a tie */
        bare_fill_tie(lv, set, key, fp, pte, now);
        return;
    }
    uint64_t evicted;
    sac_insert_lru_set_fresh(lv->c, set, key, fp, pte, now, &evicted);
    bare_took(lv, evicted);
}

static void bare_fill_any(const struct bare_level *lv, uint64_t set, uint64_t key, uint8_t fp,
                          uint64_t pte, uint64_t now, struct rng *rng)
{
    bare_fill_body(lv, set, key, fp, pte, now, rng, false);
}

static inline __attribute__((always_inline)) void
bare_fill(const struct bare_level *lv, uint64_t set, uint64_t key, uint8_t fp, uint64_t pte,
          uint64_t now, struct rng *rng, bool SETS)
{
    if (SETS)
        bare_fill_sets(lv, set, key, fp, pte, now);
    else
        bare_fill_any(lv, set, key, fp, pte, now, rng);
}

/* Any count (the shapes of bare_run_body). */
#define BARE_ANY 0xffu

/* walk() on a bare machine: each page-walk cache's key, set and hash
 * byte made once, for its probe and for its fill; NPWC the number of
 * probes when known at compile time, else BARE_ANY. Three probes of a
 * tree of the common shape (STD) are those of levels 2, 3 and 4, in that
 * order (pwc_init), so their levels and shifts are constants. */
static inline __attribute__((always_inline)) void bare_walk(struct mmu *m, struct cpu *c,
                                                            const struct mmu_space *as,
                                                            vmsim_vaddr_t va, struct walk *w,
                                                            unsigned NPWC, bool SETS, bool STD)
{
    struct pwc *pwc = &c->pwc;
    struct vmsim_stats *st = c->st;
    struct walk_start s = {0, NULL};
    const unsigned np = NPWC != BARE_ANY ? NPWC : pwc->nprobe;
    uint64_t cyc = 0, set[VMSIM_MAX_LEVELS], key[VMSIM_MAX_LEVELS];
    uint8_t fp[VMSIM_MAX_LEVELS];
    const bool known = STD && NPWC == 3;
#define PROBE_K(i) (known ? (i) + 2u : pwc->probe[i].k)
    unsigned i = 0;
    if (np) {
        cyc = pwc->latency;
        for (; i < np; i++) { /* deepest first: mmu_pwc_probe */
            const struct pwc_probe *pr = &pwc->probe[i];
            const uint64_t tag = va >> (known ? 3 + 9 * PROBE_K(i) : pr->shift);
            set[i] = tag & pr->c->set_mask;
            key[i] = PWC_KEY(tag, as->asid, PROBE_K(i));
            fp[i] = sac_fp(key[i]);
            const long slot = bare_find(pr->c, set[i], key[i], fp[i], SETS);
            if (slot >= 0) {
                bare_touch(pr->c, set[i], slot, c->now, SETS);
                s.level = PROBE_K(i) - 1u;
                s.table = (void *)(uintptr_t)pr->c->val[slot];
                break;
            }
        }
        if (i < np) {
            st->pwc_hits++;
            st->pwc_levels_skipped += (STD ? 4 : m->cfg->geom.levels) - s.level;
        } else {
            st->pwc_misses++;
        }
    }
    radix_walk_body(as->pt, va, &s, w, false, STD);
    st->walks++;
    st->walk_refs += w->nrefs;
    st->walk_hist[w->nrefs <= VMSIM_MAX_LEVELS ? w->nrefs : VMSIM_MAX_LEVELS + 1]++;
    cyc += (uint64_t)w->nrefs * m->cfg->cost.pt_ref;
    charge(st, cyc);
    st->walk_cycles += cyc;
    st->walk_lat_hist[latency_bucket(cyc)]++;
    /* mmu_pwc_fill: the levels the walk read below the hit, all probed
     * and missed above */
    for (unsigned j = 0; j < i; j++) {
        if (PROBE_K(j) > w->top)
            break;
        if (PROBE_K(j) <= w->level)
            continue;
        uint64_t evicted;
        bare_insert(pwc->probe[j].c, set[j], key[j], fp[j],
                    (uint64_t)(uintptr_t)w->table[PROBE_K(j) - 1], c->now, m->rng, &evicted, SETS);
    }
#undef PROBE_K
}

/* translate_slow_body of a D-side access on a bare machine whose levels
 * lv hold base pages only, for the outcomes that need no fault, no dirty
 * bit and no huge page: the page's key and hash byte made once for every
 * level, the lookups done before anything changes. Any other outcome
 * goes the general way, from where nothing has changed yet or from the
 * first walk (translate_walked). Returns the page shift; *lean is cleared
 * when the levels may hold other sizes now. */
static inline __attribute__((always_inline)) unsigned
bare_translate(struct mmu *m, struct cpu *c, struct bare_level *lv, vmsim_vaddr_t va,
               unsigned kind, bool *lean, unsigned NP, unsigned NPWC, bool SETS, bool STD)
{
    const struct mmu_space *as = mmu_space_of(c->proc);
    struct vmsim_stats *st = c->st;
    const unsigned ps = STD ? 12 : m->page_shift, np = NP != BARE_ANY ? NP : c->npath[SIDE_D];
    const uint64_t tag = va >> ps, key = TLB_KEY(tag, as->asid, ps);
    const uint8_t fp = sac_fp(key);
    if (c->disturbs[SIDE_D]) /* as translate_slow_body does first (twice changes nothing) */
        memo_reset(&c->memo[SIDE_I]);
    uint64_t set[VMSIM_MAX_TLB_LEVELS], cyc = 0, used;
    long slot = -1;
    unsigned i;
    for (i = 0; i < np; i++) {
        set[i] = tag & lv[i].c->set_mask;
        if (lv[i].l->live_mask && (slot = bare_find(lv[i].c, set[i], key, fp, SETS)) >= 0)
            break;
    }
    if (slot >= 0) {
        const uint64_t pte = lv[i].c->val[slot];
        if (!allowed(pte, kind) || (WRITE_INTENT(kind) && !(pte & PTE_D))) {
            const unsigned shift = translate_slow_body(m, c, va, kind, &used, false, true);
            *lean = bare_still(lv, np);
            return shift;
        }
        const uint64_t now = ++c->now;
        bare_touch(lv[i].c, set[i], slot, now, SETS);
        for (unsigned j = 0; j < i; j++) {
            st->tlb[lv[j].idx].misses++;
            cyc += lv[j].latency;
        }
        st->tlb[lv[i].idx].hits++;
        charge(st, cyc + lv[i].latency);
        for (unsigned j = 0; j < i; j++)
            bare_fill(&lv[j], set[j], key, fp, pte, now, m->rng, SETS);
        set_memo(c, SIDE_D, va, ps, pte);
        return ps;
    }
    c->now++;
    for (i = 0; i < np; i++) {
        st->tlb[lv[i].idx].misses++;
        cyc += lv[i].latency;
    }
    charge(st, cyc);
    st->tlb_misses_all++;
    struct walk w;
    bare_walk(m, c, as, va, &w, NPWC, SETS, STD);
    if ((w.pte & PTE_P) && allowed(w.pte, kind) && m->shift[w.level] == ps &&
        (!WRITE_INTENT(kind) || (w.pte & PTE_D))) {
        for (i = 0; i < np; i++)
            bare_fill(&lv[i], set[i], key, fp, w.pte, c->now, m->rng, SETS);
        set_memo(c, SIDE_D, va, ps, w.pte);
        return ps;
    }
    const unsigned shift = translate_walked(m, c, SIDE_D, va, kind, &used, &w, 0, false, false, true);
    *lean = bare_still(lv, np);
    return shift;
}

/* mmu_bare_run for a CPU with NP D-side TLB levels and NPWC page-walk
 * cache probes, each a compile-time constant or BARE_ANY; SETS: its
 * caches have sets and LRU (bare_sets); STD: its tree has the common
 * shape (radix_std). */
static inline __attribute__((always_inline)) size_t
bare_run_body(struct mmu *m, struct cpu *c, const struct vmsim_event *ev, size_t n, size_t avail,
              unsigned stages, const atomic_uint *interrupt, int *rc, unsigned NP, unsigned NPWC,
              bool SETS, bool STD)
{
    const struct vmsim_event *e = ev;
    const struct mmu_space *as = mmu_space_of(c->proc);
    const struct vmsim_event want = {.type = VMSIM_EV_ACCESS, .cpu = e->cpu, .pid = as->pid};
    const struct vmsim_event kind_byte = {.kind = 0xff};
    const uint64_t head = event_head(&want), ignore = ~event_head(&kind_byte);
    /* the common tree: 4 KiB pages, 48-bit addresses */
    const unsigned ps = STD ? 12 : m->page_shift, va_bits = STD ? 48 : m->cfg->geom.va_bits;
    const uint64_t access = m->cfg->cost.access;
    struct vmsim_stats *st = c->st;
    const struct radix *rt = R(as->pt);
    struct bare_level lv[VMSIM_MAX_TLB_LEVELS];
    bool lean = bare_levels(m, c, lv);
    /* run_events' prefetch, known to be radix: a hint, so the address of
     * whatever event comes is prefetched in this process's tree, without
     * telling accesses of the run's CPU and process from the rest (the
     * radix index masks any address into its tables); its stages run
     * while k is below these */
    const size_t pf1 = stages && avail > MMU_PREFETCH_AHEAD ? avail - MMU_PREFETCH_AHEAD : 0;
    const size_t pf2 = stages > 1 && avail > 2 * MMU_PREFETCH_AHEAD ? avail - 2 * MMU_PREFETCH_AHEAD
                                                                    : 0;
    size_t k = 0;
    for (; k < n; k++) {
        if (k < pf2)
            radix_prefetch_inline(rt, ev[k + 2 * MMU_PREFETCH_AHEAD].addr, 2, STD);
        if (k < pf1)
            radix_prefetch_inline(rt, ev[k + MMU_PREFETCH_AHEAD].addr, 1, STD);
        e = &ev[k];
        if ((event_head(e) & ignore) != head ||
            (interrupt && k && atomic_load_explicit(interrupt, memory_order_relaxed)))
            break;
        const unsigned kind = e->kind & 3u, side = kind == VMSIM_FETCH ? SIDE_I : SIDE_D;
        const vmsim_vaddr_t va = e->addr, last = va + (e->len ? e->len - 1 : 0);
        /* one page, in the address space */
        if (last < va || (va >> ps) != (last >> ps) || (va >> va_bits))
            break;
        st->accesses++;
        st->cycles += access;
        st->translations++;
        const struct memo *mo = &c->memo[side];
        if ((va >> mo->shift) == mo->tag && (mo->writable || !WRITE_INTENT(kind))) {
            st->tlb[mo->level].hits++;
            charge(st, mo->latency);
            st->translations_huge += mo->shift != ps;
            continue;
        }
        uint64_t used;
        unsigned shift;
        if (side == SIDE_D && lean) {
            shift = bare_translate(m, c, lv, va, kind, &lean, NP, NPWC, SETS, STD);
        } else { /* the I side (it may fill a level the D side shares), or sizes mixed */
            shift = translate_slow_body(m, c, va, kind, &used, false, true);
            lean = lean && bare_still(lv, c->npath[SIDE_D]);
        }
        st->translations_huge += shift != ps;
        if (__builtin_expect(c->host_rc != 0, 0)) {
            *rc = c->host_rc;
            c->host_rc = 0;
            return k + 1;
        }
    }
    return k;
}

/* Does every cache a bare run of c touches on the D side have sets and
 * LRU replacement (the D-side levels' arrays for the base page, the walk
 * caches)? Random replacement, which takes the general forms, is refereed
 * by test_differential and test_observe (a run against the observed
 * path). */
static bool bare_sets(const struct mmu *m, const struct cpu *c)
{
    if (!SAC_SETS)
        return false;
    for (unsigned i = 0; i < c->npath[SIDE_D]; i++) {
        const struct tlb_level *l = &c->tlb[c->path[SIDE_D][i]];
        const int pi = l->probe_of[m->page_shift];
        if (pi >= 0 && (!l->probe[pi].c->set || l->probe[pi].c->repl != VMSIM_REPL_LRU))
            return false;
    }
    for (unsigned i = 0; i < c->pwc.nprobe; i++) /* walk caches are LRU (pwc_init) */
        if (!c->pwc.probe[i].c->set)
            return false;
    return true;
}

size_t mmu_bare_run(struct mmu *m, const struct vmsim_event *ev, size_t n, size_t avail,
                    unsigned stages, const atomic_uint *interrupt, int *rc)
{
    *rc = VMSIM_OK;
    if (!m->bare || ev->type != VMSIM_EV_ACCESS || ev->cpu >= m->plain_cpus)
        return 0;
    struct cpu *c = &m->cpu[ev->cpu];
    if (!c->proc)
        return 0;
    /* the shapes compiled with their counts known (loops unrolled) and
     * a tree of the common shape: the default machine's (two D-side
     * levels, three walk caches) and a lone TLB's; any other takes the
     * general one */
    const unsigned np = c->npath[SIDE_D], npwc = c->pwc.nprobe;
    const bool std = radix_std(R(mmu_space_of(c->proc)->pt)) && m->page_shift == 12 &&
                     m->cfg->geom.va_bits == 48; /* bare_run_body's constants for it */
    if (np == 2 && npwc == 3 && std && bare_sets(m, c))
        return bare_run_body(m, c, ev, n, avail, stages, interrupt, rc, 2, 3, true, true);
    if (np == 1 && npwc == 0 && std)
        return bare_run_body(m, c, ev, n, avail, stages, interrupt, rc, 1, 0, false, true);
    return bare_run_body(m, c, ev, n, avail, stages, interrupt, rc, BARE_ANY, BARE_ANY, false,
                         false);
}

int mmu_access(struct mmu *m, const struct vmsim_event *ev)
{
    /* one compare for both: plain_cpus is 0 when the caches see data */
    if (__builtin_expect(ev->cpu >= m->plain_cpus, 0))
        return access_event_other(m, ev);
    return access_event(m, ev, false, false);
}

int mmu_cpu_ready(struct mmu *m, unsigned cpu)
{
    struct cpu *c = &m->cpu[cpu];
    if (c->ready)
        return VMSIM_OK;
    const struct vmsim_config *cfg = m->cfg;
    for (unsigned i = 0; i < cfg->ntlb; i++) {
        int rc = tlb_level_init(&c->tlb[i], &cfg->tlb[i]);
        if (rc)
            return rc;
        const uint8_t sd = cfg->tlb[i].side;
        if (sd != VMSIM_SIDE_INSN)
            c->path[SIDE_D][c->npath[SIDE_D]++] = i;
        if (sd != VMSIM_SIDE_DATA)
            c->path[SIDE_I][c->npath[SIDE_I]++] = i;
    }
    for (unsigned s = 0; s < 2; s++) {
        c->disturbs[s] = false;
        if (c->npath[s ^ 1])
            for (unsigned i = 0; i < c->npath[s]; i++)
                if (c->path[s][i] == c->path[s ^ 1][0])
                    c->disturbs[s] = true;
        memo_reset(&c->memo[s]);
    }
    int rc = pwc_init(&c->pwc, &cfg->pwc, cfg->geom.levels, m->shift);
    if (rc)
        return rc;
    c->ready = true;
    return VMSIM_OK;
}

static void cpu_flush(struct mmu *m, struct cpu *c)
{
    for (unsigned i = 0; i < m->cfg->ntlb; i++)
        tlb_level_flush(&c->tlb[i]);
    pwc_flush(&c->pwc);
    memo_reset(&c->memo[0]);
    memo_reset(&c->memo[1]);
}

int mmu_switch(struct mmu *m, unsigned cpu, vmsim_pid_t pid)
{
    if (cpu >= m->cfg->ncpus)
        return VMSIM_ERANGE;
    if (cpu >= m->nused) /* its counters in this VM may change from here */
        m->nused = cpu + 1;
    int rc = mmu_cpu_ready(m, cpu);
    if (rc)
        return rc;
    struct cpu *c = &m->cpu[cpu];
    struct vmsim_stats *st = &m->cst[cpu];
    struct process *p = m->vec->space(m->up, pid, &rc);
    if (!p)
        return rc;
    if (c->proc == p)
        return VMSIM_OK;
    if (c->proc)
        st->context_switches++;
    if (m->nested && m->cfg->nested.shadow) /* the guest's CR3 write traps */
        m->vec->shadow_exit(m->up, 0);
    c->proc = p;
    c->st = st; /* its translations charge this VM's counters of it from here */
    mmu_space_of(p)->cpumask |= 1ull << cpu;
    memo_reset(&c->memo[0]);
    memo_reset(&c->memo[1]);
    if (m->cfg->asids) {
        m->vec->asid(m->up, p);
    } else if (c->ran) {
        /* Without ASIDs every entry belongs to the last process this CPU
         * ran, whether it still runs (a switch) or has exited since (proc
         * is NULL then): another process must not hit them. A CPU's first
         * process has nothing to flush. */
        cpu_flush(m, c);
        st->tlb_flushes++;
    }
    c->ran = true;
    return VMSIM_OK;
}

void mmu_invalidate(struct mmu *m, unsigned cpu, vmsim_asid_t asid, vmsim_vaddr_t va)
{
    struct cpu *c = &m->cpu[cpu];
    for (unsigned j = 0; j < m->cfg->ntlb; j++)
        tlb_level_invalidate(&c->tlb[j], va, asid);
    memo_reset(&c->memo[0]);
    memo_reset(&c->memo[1]);
}

void mmu_flush_all(struct mmu *m)
{
    for (unsigned i = 0; i < m->cfg->ncpus; i++)
        if (m->cpu[i].ready)
            cpu_flush(m, &m->cpu[i]);
}

void mmu_forget(struct mmu *m, const struct process *p)
{
    for (unsigned i = 0; i < m->cfg->ncpus; i++)
        if (m->cpu[i].proc == p) {
            m->cpu[i].proc = NULL;
            memo_reset(&m->cpu[i].memo[0]);
            memo_reset(&m->cpu[i].memo[1]);
        }
}

void mmu_protect_all(struct mmu *m, uint64_t bits)
{
    for (unsigned i = 0; i < m->cfg->ncpus; i++) {
        struct cpu *c = &m->cpu[i];
        for (unsigned l = 0; c->ready && l < m->cfg->ntlb; l++)
            tlb_level_set_bits(&c->tlb[l], bits);
        memo_reset(&c->memo[0]);
        memo_reset(&c->memo[1]);
    }
}

void mmu_flush_pwc_all(struct mmu *m)
{
    for (unsigned i = 0; i < m->cfg->ncpus; i++)
        if (m->cpu[i].ready)
            pwc_flush(&m->cpu[i].pwc);
}

uint64_t mmu_accesses(const struct mmu *m)
{
    uint64_t n = m->accesses_base;
    for (unsigned i = 0; i < m->nused; i++)
        n += m->cst[i].accesses;
    return n;
}

uint64_t mmu_cycles(const struct mmu *m)
{
    uint64_t n = m->cycles_base;
    for (unsigned i = 0; i < m->nused; i++)
        n += m->cst[i].cycles;
    return n;
}

void mmu_reset_stats(struct mmu *m)
{
    m->accesses_base = mmu_accesses(m);
    m->cycles_base = mmu_cycles(m);
    memset(m->cst, 0, m->cfg->ncpus * sizeof *m->cst);
}
