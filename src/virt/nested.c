/* Nested paging: the host dimension of the 2D walk (nested.h says what it
 * models). Sources: Bhargava et al., "Accelerating Two-Dimensional Page
 * Walks for Virtualized Systems", ASPLOS 2008 (the 2D walk, nested TLB,
 * page-walk caches of both dimensions); Intel SDM Vol. 3C ch. 29 (EPT:
 * guest-physical addresses, EPT violations); seeds 001 and 002. */
#include <stdlib.h>
#include <string.h>

#include "virt/nested.h"

static int host_init(const struct vmsim_config *vcfg, struct host **out)
{
    const struct vmsim_nested_config *cfg = &vcfg->nested;
    struct host *h = calloc(1, sizeof *h);
    if (!h)
        return VMSIM_ENOMEM;
    *out = h;
    h->ops = pt_find(cfg->pt[0] ? cfg->pt : "radix", &h->params);
    if (!h->ops)
        return VMSIM_ENOENT;
    const struct vmsim_geometry *g = &cfg->geom;
    for (unsigned k = 1; k <= g->levels; k++)
        h->shift[k] = vmsim_geometry_page_shift(g, k);
    h->back_shift = cfg->page_shift ? cfg->page_shift : g->page_shift;
    for (unsigned k = 1; k <= g->levels; k++)
        if (h->shift[k] == h->back_shift && (k == 1 || (g->leaf_levels >> k & 1)))
            h->back_level = k;
    if (!h->back_level || (h->back_level > 1 && h->ops->base_only))
        return VMSIM_EINVAL;
    h->tlb_latency = cfg->tlb_latency;
    const uint64_t mem = cfg->mem_bytes ? cfg->mem_bytes : 2 * vcfg->phys_bytes;
    int rc = phys_init(&h->phys, mem, g->page_shift);
    if (rc)
        return rc;
    unsigned top = g->page_shift; /* the host's buddy blocks: up to its largest page */
    for (unsigned k = 2; k <= g->levels; k++)
        if ((g->leaf_levels >> k & 1) && h->shift[k] > top)
            top = h->shift[k];
    phys_set_max_order(&h->phys, top - g->page_shift);
    h->cpu = calloc(vcfg->ncpus, sizeof *h->cpu);
    if (!h->cpu)
        return VMSIM_ENOMEM;
    for (unsigned i = 0; i < vcfg->ncpus; i++) {
        if (cfg->tlb.entries &&
            (rc = sac_init(&h->cpu[i].tlb, cfg->tlb.entries, cfg->tlb.ways, VMSIM_REPL_LRU)) != 0)
            return rc;
        if ((rc = pwc_init(&h->cpu[i].pwc, &cfg->pwc, g->levels, h->shift)) != 0)
            return rc;
    }
    return VMSIM_OK;
}

static void host_fini(struct host *h, unsigned ncpus)
{
    if (!h)
        return;
    if (h->cpu)
        for (unsigned i = 0; i < ncpus; i++) {
            sac_fini(&h->cpu[i].tlb);
            pwc_fini(&h->cpu[i].pwc);
        }
    free(h->cpu);
    if (h->shared && h->ops->shared_destroy)
        h->ops->shared_destroy(h->shared);
    phys_fini(&h->phys);
    free(h);
}

int nested_init(struct nested **out, const struct nested_env *env, struct host *h, unsigned vmid)
{
    const struct vmsim_nested_config *cfg = &env->cfg->nested;
    *out = NULL;
    if (!cfg->on)
        return VMSIM_OK;
    if (cfg->enclave_pid && (!cfg->enclave_levels || cfg->shadow))
        return VMSIM_EINVAL;
    if (cfg->migrate.at && (!cfg->migrate.link_bytes || !cfg->migrate.clock_hz ||
                            !cfg->migrate.max_rounds || cfg->shadow))
        return VMSIM_EINVAL;
    struct nested *n = calloc(1, sizeof *n);
    if (!n)
        return VMSIM_ENOMEM;
    *out = n;
    n->env = *env;
    n->vmid = vmid;
    n->owns_host = !h;
    int rc = VMSIM_OK;
    if (h)
        n->h = h;
    else if ((rc = host_init(env->cfg, &n->h)) != 0)
        return rc;
    const struct pt_env penv = {&cfg->geom, &n->h->phys, n->h->params, &n->h->shared, vmid,
                               &n->h->counters};
    if ((rc = pt_create(n->h->ops, &penv, &n->pt)) != 0)
        return rc;
    *env->migrating = cfg->migrate.at != 0;
    return VMSIM_OK;
}

/* The nested table goes before the host it lives in (VM 1 owns the host
 * and is destroyed last). */
void nested_fini(struct nested *n)
{
    if (!n)
        return;
    free(n->mig.dirty);
    free(n->mig.dest);
    if (n->pt)
        pt_destroy(n->pt);
    if (n->owns_host)
        host_fini(n->h, n->env.cfg->ncpus);
    free(n);
}

/* A walk of the nested table for gpa, through the CPU's host page-walk
 * caches; counts it and its references. */
static void host_walk(struct nested *n, unsigned cpu, uint64_t now, vmsim_paddr_t gpa,
                      struct walk *w, uint64_t *cyc)
{
    struct nested_cpu *nc = &n->h->cpu[cpu];
    struct memsys *mem = n->env.mmu->mem;
    struct walk_start s = {0, NULL};
    const bool pwc = nc->pwc.nprobe && n->h->ops->tree;
    if (pwc) {
        *cyc += nc->pwc.latency;
        if (mmu_pwc_probe(&nc->pwc, gpa, n->vmid, now, &s))
            n->counters.nested_pwc_hits++;
    }
    pt_walk(n->pt, n->vmid, gpa, &s, w);
    n->counters.nested_walks++;
    n->counters.nested_refs += w->nrefs;
    if (mem) /* host-physical addresses: no VM tag (docs/caches.md) */
        *cyc += memsys_walk(mem, cpu, w, 0, &n->counters);
    else
        *cyc += (uint64_t)w->nrefs * n->env.cfg->cost.pt_ref;
    if (pwc)
        mmu_pwc_fill(&nc->pwc, gpa, n->vmid, w, now, n->env.rng);
}

/* Mark (on) or unmark the host base frames backing guest frames
 * [pfn, pfn + n) that are backed already. */
static void enclave_backed(struct nested *n, vmsim_pfn_t pfn, uint64_t count, bool on)
{
    struct host *h = n->h;
    const unsigned gshift = n->env.guest->page_shift;
    for (uint64_t f = pfn; f < pfn + count; f++) {
        const vmsim_paddr_t gpa = (vmsim_paddr_t)f << gshift;
        const uint64_t e = pt_lookup(n->pt, n->vmid, gpa, NULL);
        if (!(e & PTE_P))
            continue;
        const vmsim_paddr_t hpa =
            ((vmsim_paddr_t)PTE_PFN(e) << h->phys.page_shift) + (gpa & ((1ull << h->back_shift) - 1));
        for (vmsim_paddr_t a = hpa; a < hpa + (1ull << gshift); a += 1ull << h->phys.page_shift) {
            struct frame *hf = phys_frame(&h->phys, a >> h->phys.page_shift);
            hf->flags = on ? hf->flags | FRAME_ENCLAVE : hf->flags & ~FRAME_ENCLAVE;
        }
    }
}

void nested_enclave(struct nested *n, vmsim_pfn_t pfn, uint64_t count, bool on)
{
    if (n && !n->env.cfg->nested.shadow)
        enclave_backed(n, pfn, count, on);
}

bool nested_enclave_host(const struct nested *n, vmsim_paddr_t hpa)
{
    const struct phys *hp = &n->h->phys;
    const vmsim_pfn_t f = hpa >> hp->page_shift;
    return f < hp->next && (hp->frame[f].flags & FRAME_ENCLAVE);
}

/* The hypervisor backs the guest-physical page of gpa with host memory;
 * the enclave's frames among it stay the enclave's. */
static bool back(struct nested *n, vmsim_paddr_t gpa)
{
    struct host *h = n->h;
    struct phys *guest = n->env.guest;
    vmsim_pfn_t pfn;
    if (phys_alloc(&h->phys, h->back_shift - h->phys.page_shift, 0, &pfn) != 0) {
        n->counters.nested_oom++;
        return false;
    }
    const vmsim_paddr_t page = gpa & ~((1ull << h->back_shift) - 1);
    if (pt_map(n->pt, n->vmid, page, h->back_level,
               (uint64_t)pfn << PTE_PFN_SHIFT | PTE_W | PTE_U | PTE_X | PTE_A | PTE_D) != 0) {
        phys_put(&h->phys, pfn);
        n->counters.nested_oom++;
        return false;
    }
    migrate_dirty(n, page, 1ull << h->back_shift); /* new: not sent yet */
    if (n->env.cfg->nested.enclave_pid) {
        const vmsim_pfn_t first = page >> guest->page_shift;
        const uint64_t frames = nested_guest_frames(n, guest->page_shift);
        for (vmsim_pfn_t f = first; f < first + frames && f < guest->next; f++)
            if (phys_frame(guest, f)->flags & FRAME_ENCLAVE)
                enclave_backed(n, f, 1, true);
    }
    return true;
}

void nested_shadow_exit(struct nested *n, uint64_t pte)
{
    struct vmsim_stats *st = &n->counters;
    st->shadow_exits++;
    st->cycles += n->env.cfg->cost.vmexit;
    st->cycles_translation += n->env.cfg->cost.vmexit;
    if ((pte & PTE_P) && !(pte & PTE_SWAP)) {
        const vmsim_paddr_t gpa = PTE_PFN(pte) << n->env.guest->page_shift;
        if (!(pt_lookup(n->pt, n->vmid, gpa, NULL) & PTE_P))
            back(n, gpa); /* inside this exit */
    }
}

vmsim_paddr_t nested_translate(struct nested *n, unsigned cpu, vmsim_paddr_t gpa, uint64_t *cyc,
                               bool *writable)
{
    const struct host *h = n->h;
    struct nested_cpu *nc = &h->cpu[cpu];
    struct vmsim_stats *st = &n->counters;
    const uint64_t now = ++n->env.cpu[cpu].now;
    const unsigned bs = h->back_shift;
    const uint64_t off = gpa & ((1ull << bs) - 1), key = nested_tlb_key(n, gpa);
    long slot = -1;
    if (nc->tlb.key) {
        *cyc += h->tlb_latency;
        const uint64_t set = (gpa >> bs) & nc->tlb.set_mask;
        slot = sac_find(&nc->tlb, set, key);
        if (slot >= 0) {
            st->nested_tlb_hits++;
            sac_touch(&nc->tlb, set, slot, now);
            *writable = nc->tlb.val[slot] & 1;
            return ((nc->tlb.val[slot] >> 1) << h->phys.page_shift) + off;
        }
        st->nested_tlb_misses++;
    }
    struct walk w;
    host_walk(n, cpu, now, gpa, &w, cyc);
    if (!(w.pte & PTE_P)) { /* an EPT violation: a VM exit */
        st->nested_violations++;
        *cyc += n->env.cfg->cost.vmexit;
        if (!back(n, gpa)) {
            *writable = true;
            return gpa;
        }
        host_walk(n, cpu, now, gpa, &w, cyc);
    }
    /* The leaf is of back_level: the nested table holds nothing else. */
    const vmsim_pfn_t pfn = PTE_PFN(w.pte);
    *writable = (w.pte & PTE_W) != 0;
    if (nc->tlb.key) {
        uint64_t evicted;
        sac_insert_new(&nc->tlb, (gpa >> bs) & nc->tlb.set_mask, key, pfn << 1 | *writable, now,
                       n->env.rng, &evicted);
    }
    return ((vmsim_paddr_t)pfn << h->phys.page_shift) + off;
}

void nested_footprint(const struct nested *n, struct vmsim_pt_footprint *fp, uint64_t *host_frames)
{
    memset(fp, 0, sizeof *fp);
    *host_frames = 0;
    if (!n)
        return;
    pt_footprint(n->pt, fp);
    if (n->owns_host && n->h->shared && n->h->ops->shared_footprint)
        n->h->ops->shared_footprint(n->h->shared, fp);
    *host_frames = n->h->phys.used;
}
