/* Allocation of set-associative caches (see sacache.h). */
#include "tlb/sacache.h"

int sac_init(struct sac *c, uint32_t entries, uint32_t ways, uint8_t repl)
{
    memset(c, 0, sizeof *c);
    if (entries == 0 || ways == 0 || entries % ways)
        return VMSIM_EINVAL;
    uint32_t sets = entries / ways;
    if (sets & (sets - 1))
        return VMSIM_EINVAL;
    c->key = calloc(entries, sizeof *c->key);
    c->val = calloc(entries, sizeof *c->val);
    c->stamp = malloc((size_t)entries * sizeof *c->stamp);
    const bool fp = SAC_FP && ways <= 16;
    if (fp)
        c->fp = aligned_alloc(16, (size_t)sets * 16);
    if (!c->key || !c->val || !c->stamp || (fp && !c->fp)) {
        sac_fini(c);
        return VMSIM_ENOMEM;
    }
    c->ways = ways;
    c->sets = sets;
    c->set_mask = sets - 1;
    c->repl = repl;
    while ((1ull << c->wbits) < ways)
        c->wbits++;
    sac_clear(c);
    return VMSIM_OK;
}

void sac_clear(struct sac *c)
{
    if (!c->key)
        return;
    memset(c->key, 0, (size_t)c->sets * c->ways * sizeof *c->key);
    uint64_t *st = c->stamp;
    for (uint32_t set = 0; set < c->sets; set++)
        for (uint32_t w = 0; w < c->ways; w++)
            *st++ = w;
    if (c->fp)
        memset(c->fp, 0, (size_t)c->sets * 16);
}

void sac_fini(struct sac *c)
{
    free(c->key);
    free(c->val);
    free(c->stamp);
    free(c->fp);
    memset(c, 0, sizeof *c);
}
