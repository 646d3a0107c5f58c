/* Live migration by pre-copy (Clark et al., "Live Migration of Virtual
 * Machines", NSDI 2005; seed 002): the hypervisor sends guest memory while
 * the guest runs and finds the pages written meanwhile by write-protecting
 * them in the nested table; each first write traps (an EPT violation on a
 * write, one VM exit), marks the page dirty and gives the write back.
 *
 * Time is the cost model's: a round that sends P pages of S bytes over a
 * link of B bytes/s lasts P S / B seconds, P S clock / B cycles of the
 * guest's. Round 1 sends every backed page; round k + 1 the pages dirtied
 * during round k. When the dirty pages fit in the downtime target, or the
 * rounds run out, the guest stops and they are sent: the downtime. A page
 * "sent" takes its contents at the start of its round (the page is
 * write-protected at that moment, so any later write dirties it again).
 * With --verify each guest frame's content stamp is recorded when sent, and
 * after the stop-and-copy every backed frame must match the source.
 *
 * The guest never sees any of it: its walks, faults, TLB hits and
 * contents are the same. Write protection takes the write permission out
 * of cached translations (PTE_HWP) without flushing them: a flush would
 * make the guest walk again and set accessed bits. */
#include <stdlib.h>
#include <string.h>

#include "virt/nested.h"

/* The VM's time so far: cycles are charged by its CPUs, its kernel and the
 * hypervisor (docs/stats.md, cycles), since the start: a statistics reset
 * (a warm-up) does not turn the clock back. */
static uint64_t vm_cycles(const struct nested *n)
{
    return mmu_cycles(n->env.mmu) + n->mig.clock_base + n->env.k->counters.cycles +
           n->counters.cycles;
}

void nested_reset_stats(struct nested *n)
{
    n->mig.clock_base += n->env.k->counters.cycles + n->counters.cycles;
    struct vmsim_stats *st = &n->counters;
    const struct vmsim_stats keep = *st;
    memset(st, 0, sizeof *st);
    /* the migration is one event, scheduled by access number (at=): its
     * rounds, pages and traps are reported whole (docs/stats.md, "Warm-up") */
    st->mig_rounds = keep.mig_rounds;
    st->mig_pages = keep.mig_pages;
    st->mig_done = keep.mig_done;
    st->mig_final_pages = keep.mig_final_pages;
    st->mig_downtime_ns = keep.mig_downtime_ns;
    st->mig_traps = keep.mig_traps;
    st->mig_lost = keep.mig_lost;
    memcpy(st->mig_round_pages, keep.mig_round_pages, sizeof st->mig_round_pages);
}

static uint64_t page_index(const struct nested *n, vmsim_paddr_t gpa) { return gpa >> n->h->back_shift; }

static void mark(struct nested *n, uint64_t i)
{
    uint64_t *w = &n->mig.dirty[i >> 6];
    const uint64_t bit = 1ull << (i & 63);
    n->mig.ndirty += !(*w & bit);
    *w |= bit;
}

void migrate_dirty(struct nested *n, vmsim_paddr_t gpa, uint64_t bytes)
{
    if (!n || !n->mig.active || !bytes)
        return;
    for (uint64_t i = page_index(n, gpa); i <= page_index(n, gpa + bytes - 1); i++)
        if (i < n->mig.npages)
            mark(n, i);
}

/* Write protection of one backed page in the nested table, on or off. */
static void protect(struct nested *n, uint64_t i, bool on)
{
    const vmsim_paddr_t gpa = i << n->h->back_shift;
    if (pt_lookup(n->pt, n->vmid, gpa, NULL) & PTE_P)
        pt_update(n->pt, n->vmid, gpa, on ? 0 : PTE_W, on ? PTE_W : 0);
}

bool migrate_trap(struct nested *n, vmsim_paddr_t gpa, uint64_t *cyc)
{
    const uint64_t i = page_index(n, gpa);
    if (!n->mig.active || i >= n->mig.npages ||
        (pt_lookup(n->pt, n->vmid, i << n->h->back_shift, NULL) & PTE_W))
        return false; /* a stale read-only translation: no protection left */
    n->counters.mig_traps++;
    *cyc += n->env.cfg->cost.vmexit;
    mark(n, i);
    protect(n, i, false);
    /* the nested TLBs may cache the page read-only */
    const uint64_t key = nested_tlb_key(n, gpa);
    for (unsigned c = 0; c < n->env.cfg->ncpus; c++) {
        struct sac *t = &n->h->cpu[c].tlb;
        if (t->key) {
            const long slot = sac_find(t, i & t->set_mask, key);
            if (slot >= 0)
                sac_drop(t, slot); /* an empty way again */
        }
    }
    return true;
}

/* Is guest frame f enclave memory, which the hypervisor may not read? */
static bool enclave(const struct nested *n, uint64_t f)
{
    return f < n->env.guest->next && (phys_frame(n->env.guest, f)->flags & FRAME_ENCLAVE);
}

/* Send page i: record what the destination now holds of it (--verify).
 * The hypervisor's reads of enclave frames are refused: they stay behind. */
static void send(struct nested *n, uint64_t i)
{
    const unsigned gshift = n->env.guest->page_shift;
    n->counters.mig_pages++;
    const uint64_t per = nested_guest_frames(n, gshift);
    const uint64_t first = (i << n->h->back_shift) >> gshift;
    for (uint64_t f = first; f < first + per; f++)
        if (enclave(n, f))
            n->counters.enclave_refused++;
        else if (n->mig.dest)
            n->mig.dest[f] = verify_get(n->env.k, f);
}

static int collect(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t pte)
{
    struct nested *n = ctx;
    if (pte & PTE_P)
        mark(n, page_index(n, va));
    (void)level;
    return 0;
}

/* Send the marked pages, write-protect them, clear the marks; the round
 * lasts until the link has carried them. */
static void start_round(struct nested *n)
{
    const struct vmsim_config *cfg = n->env.cfg;
    const struct vmsim_migrate_config *m = &cfg->nested.migrate;
    struct vmsim_stats *st = &n->counters;
    const uint64_t pages = n->mig.ndirty;
    if (st->mig_rounds < VMSIM_MIGRATE_ROUNDS)
        st->mig_round_pages[st->mig_rounds] = pages;
    st->mig_rounds++;
    for (uint64_t w = 0; w < (n->mig.npages + 63) / 64; w++)
        for (uint64_t bits = n->mig.dirty[w]; bits; bits &= bits - 1) {
            const uint64_t i = w * 64 + (uint64_t)__builtin_ctzll(bits);
            send(n, i);
            protect(n, i, true);
        }
    memset(n->mig.dirty, 0, (n->mig.npages + 63) / 64 * sizeof *n->mig.dirty);
    n->mig.ndirty = 0;
    /* Cached translations lose their write permission (PTE_HWP), not their
     * place: a flush would make the guest walk again and set accessed bits
     * its page replacement would see. */
    mmu_protect_all(n->env.mmu, PTE_HWP);
    for (unsigned c = 0; c < cfg->ncpus; c++)
        sac_clear(&n->h->cpu[c].tlb);
    const unsigned __int128 cycles =
        (unsigned __int128)pages * (1ull << n->h->back_shift) * m->clock_hz / m->link_bytes;
    n->mig.deadline = vm_cycles(n) + (uint64_t)cycles;
}

/* The dirty pages go while the guest is stopped; then the destination
 * must hold what the source holds (--verify), and the tracking ends. */
static void stop_and_copy(struct nested *n)
{
    const struct vmsim_migrate_config *m = &n->env.cfg->nested.migrate;
    struct vmsim_stats *st = &n->counters;
    const unsigned gshift = n->env.guest->page_shift;
    const uint64_t pages = n->mig.ndirty;
    st->mig_done = 1;
    st->mig_final_pages = pages;
    st->mig_downtime_ns = (uint64_t)((unsigned __int128)pages * (1ull << n->h->back_shift) *
                                         1000000000u / m->link_bytes);
    for (uint64_t w = 0; w < (n->mig.npages + 63) / 64; w++)
        for (uint64_t bits = n->mig.dirty[w]; bits; bits &= bits - 1)
            send(n, w * 64 + (uint64_t)__builtin_ctzll(bits));
    /* every backed page loses its write protection */
    memset(n->mig.dirty, 0, (n->mig.npages + 63) / 64 * sizeof *n->mig.dirty);
    n->mig.ndirty = 0;
    pt_visit(n->pt, n->vmid, 0, n->mig.npages << n->h->back_shift, collect, n);
    const uint64_t per = nested_guest_frames(n, gshift);
    for (uint64_t w = 0; w < (n->mig.npages + 63) / 64; w++)
        for (uint64_t bits = n->mig.dirty[w]; bits; bits &= bits - 1) {
            const uint64_t i = w * 64 + (uint64_t)__builtin_ctzll(bits);
            const uint64_t first = (i << n->h->back_shift) >> gshift;
            protect(n, i, false);
            if (n->mig.dest)
                for (uint64_t f = first; f < first + per; f++)
                    st->mig_lost += !enclave(n, f) && n->mig.dest[f] != verify_get(n->env.k, f);
        }
    free(n->mig.dirty);
    free(n->mig.dest);
    n->mig.dirty = n->mig.dest = NULL;
    n->mig.active = false;
    *n->env.migrating = false;
}

int migrate_tick(struct nested *n)
{
    const struct vmsim_config *cfg = n->env.cfg;
    const struct vmsim_migrate_config *m = &cfg->nested.migrate;
    const struct vmsim_stats *st = &n->counters;
    const struct phys *guest = n->env.guest;
    if (!n->mig.active) {
        if (mmu_accesses(n->env.mmu) < m->at)
            return VMSIM_OK;
        n->mig.npages = (guest->nframes << guest->page_shift) >> n->h->back_shift;
        n->mig.dirty = calloc((n->mig.npages + 63) / 64, sizeof *n->mig.dirty);
        if (cfg->verify)
            n->mig.dest = calloc(guest->nframes, sizeof *n->mig.dest);
        if (!n->mig.dirty || (cfg->verify && !n->mig.dest)) {
            free(n->mig.dirty);
            n->mig.dirty = NULL;
            return VMSIM_ENOMEM;
        }
        n->mig.active = true;
        pt_visit(n->pt, n->vmid, 0, n->mig.npages << n->h->back_shift, collect, n);
        start_round(n);
        return VMSIM_OK;
    }
    if (vm_cycles(n) < n->mig.deadline)
        return VMSIM_OK;
    const unsigned __int128 ns =
        (unsigned __int128)n->mig.ndirty * (1ull << n->h->back_shift) * 1000000000u / m->link_bytes;
    if (ns <= m->downtime_ns || st->mig_rounds >= m->max_rounds)
        stop_and_copy(n);
    else
        start_round(n);
    return VMSIM_OK;
}
