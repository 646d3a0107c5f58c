/* OPT (Belady): the victim is the frame used furthest ahead. Every
 * reference (track) records when its frame is next used, from the plan
 * built before the run (plan.c, vmsim_plan); the frames are kept in a
 * max-heap by next use in r->slot, a frame's position in r->pos. */
#include "os/replace/replace.h"
#include "util/grow.h"

static bool heap_above(struct kernel *k, uint32_t a, uint32_t b)
{
    return k->rc.next_use[a] > k->rc.next_use[b];
}

static void heap_set(struct kernel *k, uint64_t i, uint32_t pfn)
{
    k->rc.slot[i] = pfn;
    k->rc.pos[pfn] = (uint32_t)i;
}

static void heap_up(struct kernel *k, uint64_t i)
{
    uint32_t *h = k->rc.slot;
    const uint32_t x = h[i];
    for (; i > 0 && heap_above(k, x, h[(i - 1) / 2]); i = (i - 1) / 2)
        heap_set(k, i, h[(i - 1) / 2]);
    heap_set(k, i, x);
}

/* Sift down from i in a heap of n entries. */
static void heap_down(struct kernel *k, uint64_t i, uint64_t n)
{
    uint32_t *h = k->rc.slot;
    const uint32_t x = h[i];
    for (;;) {
        uint64_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && heap_above(k, h[c + 1], h[c]))
            c++;
        if (!heap_above(k, h[c], x))
            break;
        heap_set(k, i, h[c]);
        i = c;
    }
    heap_set(k, i, x);
}

static int opt_add(struct kernel *k, vmsim_pfn_t pfn)
{
    struct reclaim *r = &k->rc;
    uint64_t *nu = grow_array(r->next_use, &r->next_cap, pfn, sizeof *nu, 1024, 0);
    if (!nu)
        return VMSIM_ENOMEM;
    r->next_use = nu;
    /* Data: never used again until a reference says otherwise. Page tables
     * see no references of their own: treat them as needed at once, so OPT
     * evicts a table only when no data page can go. */
    r->next_use[pfn] = (kernel_frame(k, pfn)->flags & FRAME_PT) ? 0 : UINT64_MAX;
    heap_up(k, r->count);
    replace_link_tail(k, pfn);
    return VMSIM_OK;
}

static void opt_remove(struct kernel *k, vmsim_pfn_t pfn, uint32_t at, uint32_t last)
{
    struct reclaim *r = &k->rc;
    if (at < r->count - 1) {
        heap_up(k, at);
        heap_down(k, r->pos[last], r->count - 1);
    }
}

static void opt_touch(struct kernel *k, vmsim_pfn_t pfn)
{
    struct reclaim *r = &k->rc;
    /* The access being translated is number accesses - 1 (the VM's,
     * over its CPUs). */
    uint64_t i = mmu_accesses(k->mmu) - 1;
    r->next_use[pfn] = i < r->noracle ? r->oracle[i] : UINT64_MAX;
    heap_up(k, r->pos[pfn]);
    heap_down(k, r->pos[pfn], r->count);
}

static vmsim_pfn_t opt_victim(struct kernel *k, uint64_t skip)
{
    struct reclaim *r = &k->rc;
    if (!skip && replace_evictable(k, r->slot[0]))
        return r->slot[0]; /* the heap's top: used furthest ahead */
    vmsim_pfn_t best = FRAME_NIL; /* rare: the top is busy */
    uint64_t far = 0;
    for (uint32_t pfn = r->head; pfn != FRAME_NIL; pfn = kernel_frame(k, pfn)->next)
        if (replace_evictable(k, pfn) && (best == FRAME_NIL || r->next_use[pfn] > far)) {
            best = pfn;
            far = r->next_use[pfn];
        }
    return skip ? FRAME_NIL : best;
}

const struct replace_ops replace_opt = {
    .track = true,
    .slots = true,
    .add = opt_add,
    .remove = opt_remove,
    .touch = opt_touch,
    .victim = opt_victim,
};
