/* OPT (Belady): the victim is the frame used furthest ahead. Every
 * reference (track) records when its frame is next used, from the plan
 * built before the run (plan.c, vmsim_plan).
 *
 * Ties (docs/kernel.md, "Replacement policies"): among frames whose next
 * use is equally far, never counting as furthest, the victim is the one
 * referenced longest ago, a frame not referenced since it joined the list
 * counting from when it joined: the frame LRU would take among them. Each
 * join and each reference takes the next tick of r->ticks, so no two
 * frames tie twice: the victim is fixed by the references alone, and so is
 * which frame never used again is written to swap and which dropped clean.
 *
 * The frames never used again are the victims while there are any, and
 * they go in the order their last ticks came: a queue, not a heap.
 *   - The list holds the frames used again first (in any order), then
 *     those never used again, by their last tick, oldest first; r->hand
 *     is the first of these (FRAME_NIL: none). A frame's last reference
 *     sends it to the tail; the victim is r->hand, in O(1).
 *   - r->slot holds the frames used again first, slot[0, r->heap), as a
 *     max-heap by next use (a frame's position in r->pos), then the
 *     frames never used again, in any order (reclaim.c keeps every listed
 *     frame in r->slot). Equal next uses in the heap (page tables, needed
 *     at once; the two pages of an access that crosses a page boundary,
 *     which share its first page's) go by the lower tick, r->last_use.
 * So no sift ever passes a frame never used again: keeping them in the
 * heap, under one key with their ticks as a second, made every sift
 * through them run to the bottom (sifting took 44 % more instructions
 * on random:n=2000000,size=1g,write=0.5 in 64 MiB). */
#include "os/replace/replace.h"
#include "util/grow.h"

#define NEVER UINT64_MAX

/* Does frame a, next used at na, come before frame b, next used at nb, in
 * the heap? The ticks are read only on equal next uses. */
static inline bool heap_above(const struct reclaim *r, uint32_t a, uint64_t na, uint32_t b,
                              uint64_t nb)
{
    if (na != nb)
        return na > nb;
    return r->last_use[a] < r->last_use[b];
}

static void slot_set(struct reclaim *r, uint64_t i, uint32_t pfn)
{
    r->slot[i] = pfn;
    r->pos[pfn] = (uint32_t)i;
}

static void heap_up(struct reclaim *r, uint64_t i)
{
    const uint64_t *nu = r->next_use;
    const uint32_t x = r->slot[i];
    const uint64_t xn = nu[x];
    for (; i > 0; i = (i - 1) / 2) {
        const uint32_t p = r->slot[(i - 1) / 2];
        if (!heap_above(r, x, xn, p, nu[p]))
            break;
        slot_set(r, i, p);
    }
    slot_set(r, i, x);
}

static void heap_down(struct reclaim *r, uint64_t i)
{
    const uint64_t *nu = r->next_use;
    const uint64_t n = r->heap;
    const uint32_t x = r->slot[i];
    const uint64_t xn = nu[x];
    for (;;) {
        uint64_t c = 2 * i + 1;
        if (c >= n)
            break;
        uint32_t y = r->slot[c];
        uint64_t yn = nu[y];
        if (c + 1 < n) {
            const uint32_t z = r->slot[c + 1];
            const uint64_t zn = nu[z];
            if (heap_above(r, z, zn, y, yn)) {
                c++;
                y = z;
                yn = zn;
            }
        }
        if (!heap_above(r, y, yn, x, xn))
            break;
        slot_set(r, i, y);
        i = c;
    }
    slot_set(r, i, x);
}

/* The frame at i, in the heap, changed its key (or arrived there). */
static void heap_fix(struct reclaim *r, uint64_t i)
{
    const uint32_t x = r->slot[i];
    heap_up(r, i);
    heap_down(r, r->pos[x]);
}

/* Exchange the frames at slot positions i and j. */
static void slot_swap(struct reclaim *r, uint64_t i, uint64_t j)
{
    const uint32_t a = r->slot[i], b = r->slot[j];
    slot_set(r, i, b);
    slot_set(r, j, a);
}

/* The frame at i, in the heap, is never used again now: it leaves the
 * heap for the first place after it. */
static void heap_leave(struct reclaim *r, uint64_t i)
{
    r->heap--;
    if (i < r->heap) {
        slot_swap(r, i, r->heap);
        heap_fix(r, i);
    }
}

/* The frame at i, after the heap, is used again now: it joins the heap. */
static void heap_join(struct reclaim *r, uint64_t i)
{
    slot_swap(r, i, r->heap);
    heap_up(r, r->heap++);
}

/* Put a frame used again at the list's head, before every frame never
 * used again. */
static void link_head(struct kernel *k, vmsim_pfn_t pfn)
{
    struct reclaim *r = &k->rc;
    struct frame *f = kernel_frame(k, pfn);
    f->prev = FRAME_NIL;
    f->next = r->head;
    if (r->head != FRAME_NIL)
        kernel_frame(k, r->head)->prev = (uint32_t)pfn;
    else
        r->tail = (uint32_t)pfn;
    r->head = (uint32_t)pfn;
}

/* Put a frame never used again at the tail: its tick is the newest. */
static void link_never(struct kernel *k, vmsim_pfn_t pfn)
{
    replace_link_tail(k, pfn);
    if (k->rc.hand == FRAME_NIL)
        k->rc.hand = (uint32_t)pfn;
}

/* Take a listed frame off the list, keeping r->hand on the first frame
 * never used again. */
static void opt_unlink(struct kernel *k, vmsim_pfn_t pfn)
{
    if (k->rc.hand == pfn)
        k->rc.hand = kernel_frame(k, pfn)->next;
    replace_unlink(k, pfn);
}

static int opt_add(struct kernel *k, vmsim_pfn_t pfn)
{
    struct reclaim *r = &k->rc;
    uint64_t *nu = grow_array(r->next_use, &r->next_cap, pfn, sizeof *nu, 1024, 0);
    if (!nu)
        return VMSIM_ENOMEM;
    r->next_use = nu;
    uint64_t *lu = grow_array(r->last_use, &r->last_cap, pfn, sizeof *lu, 1024, 0);
    if (!lu)
        return VMSIM_ENOMEM;
    r->last_use = lu;
    r->last_use[pfn] = r->ticks++;
    /* Data: never used again until a reference says otherwise (it is at
     * slot[count], after the heap, already). Page tables see no references
     * of their own: treat them as needed at once, so OPT evicts a table
     * only when no data page can go. */
    if (kernel_frame(k, pfn)->flags & FRAME_PT) {
        r->next_use[pfn] = 0;
        link_head(k, pfn);
        heap_join(r, r->count);
    } else {
        r->next_use[pfn] = NEVER;
        link_never(k, pfn);
    }
    return VMSIM_OK;
}

/* reclaim.c has unlinked the frame (its next is still there) and moved
 * the last of r->slot, `last`, to its place, `at`. */
static void opt_remove(struct kernel *k, vmsim_pfn_t pfn, uint32_t at, uint32_t last)
{
    struct reclaim *r = &k->rc;
    (void)last;
    if (r->hand == pfn)
        r->hand = kernel_frame(k, pfn)->next;
    if (at >= r->heap)
        return; /* one never used again replaced by another (or by none) */
    r->heap--;
    if (r->heap < r->count - 1) /* `last` is never used again: to the heap's end, */
        slot_swap(r, at, r->heap); /* and the heap's last in the hole */
    if (at < r->heap)
        heap_fix(r, at);
}

static void opt_touch(struct kernel *k, vmsim_pfn_t pfn)
{
    struct reclaim *r = &k->rc;
    /* The access being translated is number accesses - 1 (the VM's,
     * over its CPUs). */
    const uint64_t i = mmu_accesses(k->mmu) - 1;
    const uint64_t next = i < r->noracle ? r->oracle[i] : NEVER;
    const bool was_never = r->next_use[pfn] == NEVER;
    r->next_use[pfn] = next;
    r->last_use[pfn] = r->ticks++;
    if (next == NEVER) { /* its last reference, or another one by a second process */
        opt_unlink(k, pfn);
        link_never(k, pfn);
        if (!was_never)
            heap_leave(r, r->pos[pfn]);
    } else if (was_never) { /* used again after all (a second process) */
        opt_unlink(k, pfn);
        link_head(k, pfn);
        heap_join(r, r->pos[pfn]);
    } else {
        heap_fix(r, r->pos[pfn]);
    }
}

static vmsim_pfn_t opt_victim(struct kernel *k, uint64_t skip)
{
    struct reclaim *r = &k->rc;
    if (skip) /* it gives up at the first victim that cannot go */
        return FRAME_NIL;
    for (uint32_t pfn = r->hand; pfn != FRAME_NIL; pfn = kernel_frame(k, pfn)->next)
        if (replace_evictable(k, pfn))
            return pfn; /* never used again, referenced longest ago */
    if (r->heap && replace_evictable(k, r->slot[0]))
        return r->slot[0]; /* the heap's top: used furthest ahead */
    vmsim_pfn_t best = FRAME_NIL; /* rare: the top is busy */
    for (uint32_t pfn = r->head; pfn != r->hand; pfn = kernel_frame(k, pfn)->next)
        if (replace_evictable(k, pfn) &&
            (best == FRAME_NIL || heap_above(r, pfn, r->next_use[pfn], best, r->next_use[best])))
            best = pfn;
    return best;
}

const struct replace_ops replace_opt = {
    .track = true,
    .slots = true,
    .add = opt_add,
    .remove = opt_remove,
    .touch = opt_touch,
    .victim = opt_victim,
};
