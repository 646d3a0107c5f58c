/* Nested paging: the host dimension of the 2D walk (nested.h says what it
 * models). Sources: Bhargava et al., "Accelerating Two-Dimensional Page
 * Walks for Virtualized Systems", ASPLOS 2008 (the 2D walk, nested TLB,
 * page-walk caches of both dimensions); Intel SDM Vol. 3C ch. 29 (EPT:
 * guest-physical addresses, EPT violations); seeds 001 and 002. */
#include <stdlib.h>
#include <string.h>

#include "mmu/sim.h"
#include "virt/nested.h"

int nested_init(struct vmsim *sim)
{
    const struct vmsim_nested_config *cfg = &sim->cfg.nested;
    if (!cfg->on)
        return VMSIM_OK;
    struct nested *n = calloc(1, sizeof *n);
    if (!n)
        return VMSIM_ENOMEM;
    sim->nested = n;
    n->ops = pt_find(cfg->pt[0] ? cfg->pt : "radix", &n->params);
    if (!n->ops)
        return VMSIM_ENOENT;
    const struct vmsim_geometry *g = &cfg->geom;
    for (unsigned k = 1; k <= g->levels; k++)
        n->shift[k] = vmsim_geometry_page_shift(g, k);
    n->back_shift = cfg->page_shift ? cfg->page_shift : g->page_shift;
    for (unsigned k = 1; k <= g->levels; k++)
        if (n->shift[k] == n->back_shift && (k == 1 || (g->leaf_levels >> k & 1)))
            n->back_level = k;
    if (!n->back_level || (n->back_level > 1 && n->ops->base_only))
        return VMSIM_EINVAL;
    n->tlb_latency = cfg->tlb_latency;
    if (cfg->enclave_pid && (!cfg->enclave_levels || cfg->shadow))
        return VMSIM_EINVAL;
    if (cfg->migrate.at) {
        if (!cfg->migrate.link_bytes || !cfg->migrate.clock_hz || !cfg->migrate.max_rounds ||
            cfg->shadow)
            return VMSIM_EINVAL;
        sim->migrating = true;
    }
    const uint64_t mem = cfg->mem_bytes ? cfg->mem_bytes : 2 * sim->cfg.phys_bytes;
    int rc = phys_init(&n->phys, mem, g->page_shift);
    if (rc)
        return rc;
    const struct pt_env env = {g, &n->phys, n->params, &n->shared, VMID, &n->counters};
    if ((rc = pt_create(n->ops, &env, &n->pt)) != 0)
        return rc;
    n->cpu = calloc(sim->cfg.ncpus, sizeof *n->cpu);
    if (!n->cpu)
        return VMSIM_ENOMEM;
    for (unsigned i = 0; i < sim->cfg.ncpus; i++) {
        if (cfg->tlb.entries &&
            (rc = sac_init(&n->cpu[i].tlb, cfg->tlb.entries, cfg->tlb.ways, VMSIM_REPL_LRU)) != 0)
            return rc;
        if ((rc = pwc_init(&n->cpu[i].pwc, &cfg->pwc, g->levels, n->shift)) != 0)
            return rc;
    }
    return VMSIM_OK;
}

void nested_fini(struct vmsim *sim)
{
    struct nested *n = sim->nested;
    if (!n)
        return;
    if (n->cpu)
        for (unsigned i = 0; i < sim->cfg.ncpus; i++) {
            sac_fini(&n->cpu[i].tlb);
            pwc_fini(&n->cpu[i].pwc);
        }
    free(n->cpu);
    free(n->mig.dirty);
    free(n->mig.dest);
    if (n->pt)
        pt_destroy(n->pt);
    if (n->shared && n->ops->shared_destroy)
        n->ops->shared_destroy(n->shared);
    phys_fini(&n->phys);
    free(n);
    sim->nested = NULL;
}

/* A walk of the nested table for gpa, through the CPU's host page-walk
 * caches; counts it and its references. */
static void host_walk(struct vmsim *sim, struct nested_cpu *nc, uint64_t now, vmsim_paddr_t gpa,
                      struct walk *w, uint64_t *cyc)
{
    struct walk_start s = {0, NULL};
    const bool pwc = nc->pwc.nprobe && sim->nested->ops->tree;
    if (pwc) {
        *cyc += nc->pwc.latency;
        if (mmu_pwc_probe(&nc->pwc, gpa, VMID, now, &s))
            sim->st.nested_pwc_hits++;
    }
    pt_walk(sim->nested->pt, VMID, gpa, &s, w);
    sim->st.nested_walks++;
    sim->st.nested_refs += w->nrefs;
    *cyc += (uint64_t)w->nrefs * sim->cfg.cost.pt_ref;
    if (pwc)
        mmu_pwc_fill(&nc->pwc, gpa, VMID, w, now, &sim->rng);
}

/* The hypervisor backs the guest-physical page of gpa with host memory. */
static bool back(struct vmsim *sim, vmsim_paddr_t gpa)
{
    struct nested *n = sim->nested;
    vmsim_pfn_t pfn;
    if (phys_alloc(&n->phys, n->back_shift - n->phys.page_shift, 0, &pfn) != 0) {
        sim->st.nested_oom++;
        return false;
    }
    const vmsim_paddr_t page = gpa & ~((1ull << n->back_shift) - 1);
    if (pt_map(n->pt, VMID, page, n->back_level,
               (uint64_t)pfn << PTE_PFN_SHIFT | PTE_W | PTE_U | PTE_X | PTE_A | PTE_D) != 0) {
        phys_put(&n->phys, pfn);
        sim->st.nested_oom++;
        return false;
    }
    migrate_dirty(sim, page, 1ull << n->back_shift); /* new: not sent yet */
    return true;
}

void nested_shadow_exit(struct vmsim *sim, uint64_t pte)
{
    sim->st.shadow_exits++;
    sim->st.cycles += sim->cfg.cost.vmexit;
    sim->st.cycles_translation += sim->cfg.cost.vmexit;
    if ((pte & PTE_P) && !(pte & PTE_SWAP)) {
        struct nested *n = sim->nested;
        const vmsim_paddr_t gpa = PTE_PFN(pte) << sim->phys.page_shift;
        if (!(pt_lookup(n->pt, VMID, gpa, NULL) & PTE_P))
            back(sim, gpa); /* inside this exit */
    }
}

vmsim_paddr_t nested_translate(struct vmsim *sim, unsigned cpu, vmsim_paddr_t gpa, uint64_t *cyc,
                               bool *writable)
{
    struct nested *n = sim->nested;
    struct nested_cpu *nc = &n->cpu[cpu];
    const uint64_t now = ++sim->cpu[cpu].now;
    const unsigned bs = n->back_shift;
    const uint64_t off = gpa & ((1ull << bs) - 1), key = (gpa >> bs) << 8 | bs;
    long slot = -1;
    if (nc->tlb.key) {
        *cyc += n->tlb_latency;
        slot = sac_find(&nc->tlb, (gpa >> bs) & nc->tlb.set_mask, key);
        if (slot >= 0) {
            sim->st.nested_tlb_hits++;
            nc->tlb.stamp[slot] = now;
            *writable = nc->tlb.val[slot] & 1;
            return ((nc->tlb.val[slot] >> 1) << n->phys.page_shift) + off;
        }
        sim->st.nested_tlb_misses++;
    }
    struct walk w;
    host_walk(sim, nc, now, gpa, &w, cyc);
    if (!(w.pte & PTE_P)) { /* an EPT violation: a VM exit */
        sim->st.nested_violations++;
        *cyc += sim->cfg.cost.vmexit;
        if (!back(sim, gpa)) {
            *writable = true;
            return gpa;
        }
        host_walk(sim, nc, now, gpa, &w, cyc);
    }
    /* The leaf is of back_level: the nested table holds nothing else. */
    const vmsim_pfn_t pfn = PTE_PFN(w.pte);
    *writable = (w.pte & PTE_W) != 0;
    if (nc->tlb.key) {
        uint64_t evicted;
        sac_insert_new(&nc->tlb, (gpa >> bs) & nc->tlb.set_mask, key, pfn << 1 | *writable, now,
                       &sim->rng, &evicted);
    }
    return ((vmsim_paddr_t)pfn << n->phys.page_shift) + off;
}

void nested_footprint(const struct vmsim *sim, struct vmsim_pt_footprint *fp, uint64_t *host_frames)
{
    memset(fp, 0, sizeof *fp);
    *host_frames = 0;
    const struct nested *n = sim->nested;
    if (!n)
        return;
    pt_footprint(n->pt, fp);
    if (n->shared && n->ops->shared_footprint)
        n->ops->shared_footprint(n->shared, fp);
    *host_frames = n->phys.used;
}
