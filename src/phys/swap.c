/* The swap device (see swap.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "phys/swap.h"

int swap_init(struct swap *s, uint64_t nslots, bool stamps)
{
    memset(s, 0, sizeof *s);
    if (nslots > SWAP_MAX_SLOTS)
        return VMSIM_EINVAL;
    s->nslots = nslots;
    s->stamps = stamps;
    return VMSIM_OK;
}

/* The per-slot arrays grow with the highest slot used, so a large device
 * costs host memory only for what a run puts in it. */
static int grow(struct swap *s)
{
    uint64_t cap = s->cap ? s->cap * 2 : 1024;
    if (cap > s->nslots)
        cap = s->nslots;
    uint32_t *ref = realloc(s->ref, cap * sizeof *ref);
    if (ref)
        s->ref = ref;
    uint64_t *fr = realloc(s->free, cap * sizeof *fr);
    if (fr)
        s->free = fr;
    uint64_t *st = s->stamps ? realloc(s->stamp, cap * sizeof *st) : NULL;
    if (st)
        s->stamp = st;
    if (!ref || !fr || (s->stamps && !st))
        return VMSIM_ENOMEM;
    memset(ref + s->cap, 0, (cap - s->cap) * sizeof *ref);
    if (st)
        memset(st + s->cap, 0, (cap - s->cap) * sizeof *st);
    s->cap = cap;
    return VMSIM_OK;
}

void swap_fini(struct swap *s)
{
    free(s->ref);
    free(s->free);
    free(s->stamp);
    memset(s, 0, sizeof *s);
}

int swap_alloc(struct swap *s, uint64_t *slot)
{
    if (s->nfree)
        *slot = s->free[--s->nfree];
    else if (s->next < s->nslots) {
        if (s->next == s->cap && grow(s))
            return VMSIM_ENOMEM;
        *slot = s->next++;
    } else
        return VMSIM_ENOFRAME;
    s->ref[*slot] = 1;
    if (++s->used > s->peak)
        s->peak = s->used;
    return VMSIM_OK;
}

void swap_put(struct swap *s, uint64_t slot)
{
    if (s->ref[slot] == 0 || --s->ref[slot] > 0)
        return;
    s->used--;
    s->free[s->nfree++] = slot;
}
