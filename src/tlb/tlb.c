/* Construction and maintenance (flush, invalidate) of TLB levels and
 * page-walk caches; the lookups are inline in tlb.h. */
#include "tlb/tlb.h"

int tlb_level_init(struct tlb_level *l, const struct vmsim_tlb_level_config *cfg)
{
    memset(l, 0, sizeof *l);
    memset(l->probe_of, -1, sizeof l->probe_of);
    l->latency = cfg->latency;
    for (unsigned a = 0; a < cfg->narrays; a++) {
        const struct vmsim_tlb_array_config *ac = &cfg->array[a];
        if (ac->page_shifts & l->shifts) { /* a size served twice: ambiguous fill */
            tlb_level_fini(l);
            return VMSIM_EINVAL;
        }
        int rc = sac_init(&l->arr[a].c, ac->entries, ac->ways, cfg->repl);
        if (rc) {
            tlb_level_fini(l);
            return rc;
        }
        l->narr = a + 1;
        l->shifts |= ac->page_shifts;
        for (unsigned s = 10; s < 64; s++)
            if (((ac->page_shifts >> s) & 1) && l->nprobe < 16) {
                l->probe_of[s] = (int8_t)l->nprobe;
                l->probe[l->nprobe++] = (struct tlb_probe){&l->arr[a].c, 0, (uint8_t)s};
            }
    }
    return VMSIM_OK;
}

void tlb_level_fini(struct tlb_level *l)
{
    for (unsigned a = 0; a < l->narr; a++)
        sac_fini(&l->arr[a].c);
    l->narr = 0;
    l->nprobe = 0;
}

void tlb_level_flush(struct tlb_level *l)
{
    for (unsigned a = 0; a < l->narr; a++)
        sac_clear(&l->arr[a].c);
    for (unsigned i = 0; i < l->nprobe; i++)
        l->probe[i].live = 0;
    l->live_mask = 0;
}

void tlb_level_set_bits(struct tlb_level *l, uint64_t bits)
{
    for (unsigned a = 0; a < l->narr; a++) {
        struct sac *c = &l->arr[a].c;
        for (uint64_t i = 0; c->key && i < (uint64_t)c->sets * c->ways; i++)
            if (c->key[i])
                c->val[i] |= bits;
    }
}

uint64_t tlb_level_reach(const struct tlb_level *l)
{
    uint64_t bytes = 0;
    for (unsigned a = 0; a < l->narr; a++) {
        const struct sac *c = &l->arr[a].c;
        for (uint64_t i = 0; c->key && i < (uint64_t)c->sets * c->ways; i++)
            if (c->key[i])
                bytes += 1ull << (c->key[i] & 63);
    }
    return bytes;
}

void tlb_level_invalidate(struct tlb_level *l, vmsim_vaddr_t va, vmsim_asid_t asid)
{
    for (unsigned i = 0; i < l->nprobe; i++) {
        struct tlb_probe *p = &l->probe[i];
        const uint64_t tag = va >> p->shift;
        const long slot = sac_find(p->c, tag & p->c->set_mask, TLB_KEY(tag, asid, p->shift));
        if (slot >= 0) {
            sac_drop(p->c, slot);
            tlb_probe_dec(l, i);
        }
    }
}

int pwc_init(struct pwc *p, const struct vmsim_pwc_config *cfg, unsigned levels,
             const unsigned *shift)
{
    memset(p, 0, sizeof *p);
    p->unified = cfg->unified_mode;
    p->latency = cfg->latency;
    int rc = VMSIM_OK;
    if (p->unified && cfg->unified.entries)
        rc = sac_init(&p->all, cfg->unified.entries, cfg->unified.ways, VMSIM_REPL_LRU);
    for (unsigned k = 2; k <= levels && !rc; k++) {
        struct sac *c = p->unified ? &p->all : &p->level[k];
        if (!p->unified && cfg->level[k].entries)
            rc = sac_init(c, cfg->level[k].entries, cfg->level[k].ways, VMSIM_REPL_LRU);
        if (c->key)
            p->probe[p->nprobe++] = (struct pwc_probe){c, (uint8_t)k, (uint8_t)shift[k]};
    }
    if (rc)
        pwc_fini(p);
    return rc;
}

void pwc_fini(struct pwc *p)
{
    for (unsigned k = 0; k <= VMSIM_MAX_LEVELS; k++)
        sac_fini(&p->level[k]);
    sac_fini(&p->all);
    p->nprobe = 0;
}

void pwc_flush(struct pwc *p)
{
    for (unsigned k = 0; k <= VMSIM_MAX_LEVELS; k++)
        sac_clear(&p->level[k]);
    sac_clear(&p->all);
}
