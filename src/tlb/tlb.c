/* Construction and maintenance (flush, invalidate) of TLB levels and
 * page-walk caches; the lookups are inline in tlb.h. */
#include "tlb/tlb.h"

int tlb_level_init(struct tlb_level *l, const struct vmsim_tlb_level_config *cfg)
{
    memset(l, 0, sizeof *l);
    l->latency = cfg->latency;
    for (unsigned a = 0; a < cfg->narrays; a++) {
        const struct vmsim_tlb_array_config *ac = &cfg->array[a];
        struct tlb_array *arr = &l->arr[a];
        int rc = sac_init(&arr->c, ac->entries, ac->ways, cfg->repl);
        if (rc) {
            tlb_level_fini(l);
            return rc;
        }
        l->narr = a + 1;
        for (unsigned s = 10; s < 64 && arr->nshift < 8; s++)
            if ((ac->page_shifts >> s) & 1)
                arr->shift[arr->nshift++] = (uint8_t)s;
        l->shifts |= ac->page_shifts;
    }
    return VMSIM_OK;
}

void tlb_level_fini(struct tlb_level *l)
{
    for (unsigned a = 0; a < l->narr; a++)
        sac_fini(&l->arr[a].c);
    l->narr = 0;
}

void tlb_level_flush(struct tlb_level *l)
{
    for (unsigned a = 0; a < l->narr; a++) {
        sac_clear(&l->arr[a].c);
        memset(l->arr[a].live, 0, sizeof l->arr[a].live);
    }
}

void tlb_level_invalidate(struct tlb_level *l, vmsim_vaddr_t va, vmsim_asid_t asid)
{
    for (unsigned a = 0; a < l->narr; a++) {
        struct tlb_array *arr = &l->arr[a];
        for (unsigned i = 0; i < arr->nshift; i++) {
            unsigned s = arr->shift[i];
            uint64_t tag = va >> s;
            long slot = sac_find(&arr->c, tag & arr->c.set_mask, TLB_KEY(tag, asid, s));
            if (slot >= 0) {
                sac_drop(&arr->c, slot);
                arr->live[i]--;
            }
        }
    }
}

int pwc_init(struct pwc *p, const struct vmsim_pwc_config *cfg, unsigned levels)
{
    memset(p, 0, sizeof *p);
    p->unified = cfg->unified_mode;
    p->latency = cfg->latency;
    int rc = VMSIM_OK;
    if (p->unified) {
        if (cfg->unified.entries)
            rc = sac_init(&p->all, cfg->unified.entries, cfg->unified.ways, VMSIM_REPL_LRU);
        p->enabled = cfg->unified.entries > 0;
    } else {
        for (unsigned k = 2; k <= levels && !rc; k++)
            if (cfg->level[k].entries) {
                rc = sac_init(&p->level[k], cfg->level[k].entries, cfg->level[k].ways,
                              VMSIM_REPL_LRU);
                p->enabled = true;
            }
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
    p->enabled = false;
}

void pwc_flush(struct pwc *p)
{
    for (unsigned k = 0; k <= VMSIM_MAX_LEVELS; k++)
        sac_clear(&p->level[k]);
    sac_clear(&p->all);
}
