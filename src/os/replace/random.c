/* Random: the victim is a uniformly drawn frame of the list (r->slot, from
 * the machine's seeded generator). */
#include "os/replace/replace.h"

static vmsim_pfn_t random_victim(struct kernel *k, uint64_t skip)
{
    struct reclaim *r = &k->rc;
    for (uint64_t tries = 0; tries < 4 * r->count; tries++) {
        vmsim_pfn_t pfn = r->slot[rng_below(k->rng, r->count)];
        if (replace_evictable(k, pfn) && skip-- == 0)
            return pfn;
    }
    return FRAME_NIL;
}

const struct replace_ops replace_random = {
    .slots = true,
    .victim = random_victim,
};
