/* Exact LRU: every reference, TLB hits included (track), moves its frame
 * to the list's tail, so the head is the frame referenced longest ago. The
 * textbook policy; watching every reference slows the hit path down. */
#include "os/replace/replace.h"

static void lru_touch(struct kernel *k, vmsim_pfn_t pfn)
{
    struct reclaim *r = &k->rc;
    if (r->tail != pfn) {
        replace_unlink(k, pfn);
        replace_link_tail(k, pfn);
    }
}

const struct replace_ops replace_lru = {
    .track = true,
    .touch = lru_touch,
    .victim = replace_victim_oldest,
};
