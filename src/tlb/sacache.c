/* Allocation of set-associative caches, and their rare operations (see
 * sacache.h). */
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
    if (SAC_SETS && ways <= 16)
        c->set = aligned_alloc(sizeof *c->set, (size_t)sets * sizeof *c->set);
    else
        c->stamp = malloc((size_t)entries * sizeof *c->stamp);
    if (!c->key || !c->val || (!c->set && !c->stamp)) {
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
    for (uint32_t set = 0; set < c->sets; set++)
        for (uint32_t w = 0; w < c->ways; w++)
            if (c->set) /* empty: way 0 the oldest */
                c->set[set].rank[w] = (uint8_t)(c->ways - 1 - w);
            else
                c->stamp[(size_t)set * c->ways + w] = w;
    for (uint32_t set = 0; c->set && set < c->sets; set++) {
        struct sac_set *s = &c->set[set];
        memset(s->fp, 0, sizeof s->fp);
        memset(s->rank + c->ways, SAC_NO_WAY, sizeof s->rank - c->ways);
        s->last = 0;
        s->tie = 0;
    }
}

void sac_fini(struct sac *c)
{
    free(c->key);
    free(c->val);
    free(c->set);
    free(c->stamp);
    memset(c, 0, sizeof *c);
}

/* Way w's stamp becomes (s->last << wbits) | w, with other ways used at
 * s->last already: they hold ranks 0 to tie - 1, the highest way first,
 * and w goes after those of a higher number (unless it is one of them:
 * its stamp then stays). */
void sac_rank_tie(struct sac_set *s, unsigned w, unsigned ways)
{
    const unsigned rw = s->rank[w];
    if (rw < s->tie)
        return;
    unsigned p = 0;
    for (unsigned x = w + 1; x < ways; x++)
        p += s->rank[x] < s->tie;
    for (unsigned x = 0; x < ways; x++)
        if (s->rank[x] >= p && s->rank[x] < rw)
            s->rank[x]++;
    s->rank[w] = (uint8_t)p;
    s->tie++;
}

void sac_drop(struct sac *c, long slot)
{
    const uint32_t w = (uint32_t)((uint64_t)slot % c->ways);
    const uint64_t set = (uint64_t)slot / c->ways;
    c->key[slot] = 0;
    if (!c->set) {
        c->stamp[slot] = w;
        return;
    }
    /* Out of its place; then after every way in use and before the empty
     * ways of a lower number. */
    struct sac_set *s = &c->set[set];
    const uint64_t *k = c->key + set * c->ways;
    const unsigned rw = s->rank[w];
    if (rw < s->tie)
        s->tie--;
    unsigned p = 0;
    for (unsigned x = 0; x < c->ways; x++) {
        if (s->rank[x] > rw)
            s->rank[x]--;
        p += x != w && (k[x] != 0 || x > w);
    }
    for (unsigned x = 0; x < c->ways; x++)
        if (x != w && s->rank[x] >= p)
            s->rank[x]++;
    s->rank[w] = (uint8_t)p;
    s->fp[w] = 0;
}
