/* Simulated physical memory (see phys.h for the invariants).
 *
 * Frames are allocated by a binary buddy allocator, as Linux's
 * (mm/page_alloc.c: __rmqueue_smallest, expand, __free_one_page):
 *
 * 1. A free block of order k is 2^k frames aligned to 2^k; its first frame
 *    has FRAME_FREE, order k, and links prev/next of the free list of order
 *    k (a free frame is never on the replacement list, the links' other
 *    use). Its other frames have zero metadata.
 * 2. Orders go from 0 to max_order, the largest page size of the geometry
 *    (x86-64: 18, 1 GiB of 4 KiB frames).
 * 3. Allocation of order k takes the first block of the smallest non-empty
 *    list of order >= k and splits it, putting each upper half on the list
 *    of its order (expand); the lower half goes on splitting.
 * 4. A freed block merges with its buddy (pfn ^ 2^k) while the buddy is a
 *    free block of the same order, up to max_order. So no two buddies are
 *    ever both free blocks (merging is complete).
 * 5. Memory never used costs no host memory: the frames from `next` on are
 *    a tail without metadata, free as a whole. When no listed block is large
 *    enough, a block comes from the tail: the first aligned one, the frames
 *    skipped by the alignment going to the lists as the largest aligned
 *    blocks they hold. A block that ends at `next` once freed and merged
 *    goes back to the tail (and so may the listed blocks below it), which
 *    keeps 4 true across the tail's edge. The tail's blocks rank after every
 *    listed block: memory already touched is reused first.
 *
 * Consequences checked by tests/test_buddy.c: order-0 allocations in a
 * memory never freed come in bump order (0, 1, 2, ...); an allocation of
 * order k <= max_order fails iff no 2^k free frames are aligned to 2^k.
 * A block above max_order (a table allocated whole) comes from the tail
 * and is freed as blocks of max_order. */
#include "phys/phys.h"
#include "util/grow.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int phys_init(struct phys *p, uint64_t bytes, unsigned page_shift)
{
    memset(p, 0, sizeof *p);
    p->page_shift = page_shift;
    p->nframes = bytes >> page_shift;
    p->max_order = PHYS_ORDERS - 1;
    for (unsigned k = 0; k < PHYS_ORDERS; k++)
        p->free_head[k] = FRAME_NIL;
    if (p->nframes == 0 || p->nframes >= FRAME_NIL)
        return VMSIM_EINVAL;
    return VMSIM_OK;
}

void phys_set_max_order(struct phys *p, unsigned max_order)
{
    p->max_order = max_order < PHYS_ORDERS ? max_order : PHYS_ORDERS - 1;
}

void phys_fini(struct phys *p)
{
    grow_big_free(p->frame, p->cap, sizeof *p->frame);
    hostmem_fini(&p->host);
    swap_fini(&p->swap);
    memset(p, 0, sizeof *p);
}

static int grow_meta(struct phys *p, uint64_t need)
{
    struct frame *f = grow_big(p->frame, &p->cap, need - 1, sizeof *f, 4096);
    if (!f)
        return VMSIM_ENOMEM;
    p->frame = f;
    return VMSIM_OK;
}

/* ---- free lists ---- */

static void list_push(struct phys *p, vmsim_pfn_t pfn, unsigned order)
{
    struct frame *f = &p->frame[pfn];
    const uint32_t head = p->free_head[order];
    f->flags = FRAME_FREE;
    f->order = (uint8_t)order;
    f->prev = FRAME_NIL;
    f->next = head;
    if (head != FRAME_NIL)
        p->frame[head].prev = (uint32_t)pfn;
    p->free_head[order] = (uint32_t)pfn; /* below nframes, below 2^32 (phys_init) */
    p->nonempty |= 1u << order;
    p->nblocks[order]++;
}

/* Take the free block at pfn off its list; its head's metadata is zero. */
static void list_unlink(struct phys *p, vmsim_pfn_t pfn)
{
    struct frame *f = &p->frame[pfn];
    const unsigned order = f->order;
    if (f->prev != FRAME_NIL)
        p->frame[f->prev].next = f->next;
    else
        p->free_head[order] = f->next;
    if (f->next != FRAME_NIL)
        p->frame[f->next].prev = f->prev;
    if (p->free_head[order] == FRAME_NIL)
        p->nonempty &= ~(1u << order);
    p->nblocks[order]--;
    *f = (struct frame){0};
}

static bool is_free_block(const struct phys *p, vmsim_pfn_t pfn, unsigned order)
{
    const struct frame *f = &p->frame[pfn];
    return (f->flags & FRAME_FREE) && f->order == order;
}

/* The tail grows down over the listed blocks that end where it begins. */
static void lower_tail(struct phys *p)
{
    bool moved = true;
    while (moved && p->next) {
        moved = false;
        for (unsigned k = 0; k <= p->max_order && (1ull << k) <= p->next; k++) {
            const vmsim_pfn_t h = p->next - (1ull << k);
            if ((h & ((1ull << k) - 1)) == 0 && is_free_block(p, h, k)) {
                list_unlink(p, h);
                p->next = h;
                moved = true;
                break;
            }
        }
    }
}

/* Free the block [pfn, pfn + 2^order), order <= max_order, metadata zero:
 * merge it with its buddies, then list it or give it back to the tail. */
static void free_block(struct phys *p, vmsim_pfn_t pfn, unsigned order)
{
    while (order < p->max_order) {
        const vmsim_pfn_t buddy = pfn ^ (1ull << order);
        if (buddy >= p->next || !is_free_block(p, buddy, order))
            break;
        list_unlink(p, buddy);
        pfn &= ~(1ull << order);
        order++;
    }
    if (pfn + (1ull << order) == p->next) {
        p->next = pfn;
        lower_tail(p);
        return;
    }
    list_push(p, pfn, order);
}

/* Free [from, to), metadata zero, as the largest aligned blocks it holds
 * (none above max_order), highest first so that the lowest is used first. */
static void free_range(struct phys *p, uint64_t from, uint64_t to)
{
    while (to > from) {
        unsigned k = to ? (unsigned)__builtin_ctzll(to) : p->max_order;
        if (k > p->max_order)
            k = p->max_order;
        while (to - from < (1ull << k))
            k--;
        to -= 1ull << k;
        free_block(p, to, k);
    }
}

/* A free block of 2^order frames in *pfn, off every list, metadata zero. */
static int take(struct phys *p, unsigned order, vmsim_pfn_t *pfn)
{
    const uint64_t n = 1ull << order;
    if (order <= p->max_order && (p->nonempty >> order)) {
        unsigned k = order + (unsigned)__builtin_ctz(p->nonempty >> order);
        const vmsim_pfn_t b = p->free_head[k];
        list_unlink(p, b);
        while (k > order) { /* expand: the upper halves go back */
            k--;
            list_push(p, b + (1ull << k), k);
        }
        *pfn = b;
        return VMSIM_OK;
    }
    const uint64_t start = (p->next + n - 1) & ~(n - 1);
    if (start < p->next || start + n < start || start + n > p->nframes)
        return VMSIM_ENOFRAME;
    int rc = grow_meta(p, start + n);
    if (rc)
        return rc;
    const uint64_t skipped = p->next;
    p->next = start + n;
    free_range(p, skipped, start);
    *pfn = start;
    return VMSIM_OK;
}

void phys_free_blocks(const struct phys *p, uint64_t blocks[PHYS_ORDERS])
{
    memcpy(blocks, p->nblocks, sizeof p->nblocks);
    for (uint64_t x = p->next; x < p->nframes;) {
        unsigned k = x ? (unsigned)__builtin_ctzll(x) : p->max_order;
        if (k > p->max_order)
            k = p->max_order;
        while (p->nframes - x < (1ull << k))
            k--;
        const uint64_t m = k == p->max_order ? (p->nframes - x) >> k : 1;
        blocks[k] += m;
        x += m << k;
    }
}

/* Page-table memory changes by bytes (up or down), roots too or not. */
static void pt_account(struct phys *p, uint64_t bytes, bool grow, bool root)
{
    if (!grow) {
        p->pt_bytes -= bytes;
        if (!root)
            p->pt_nonroot_bytes -= bytes;
        return;
    }
    p->pt_bytes += bytes;
    if (p->pt_bytes > p->pt_peak)
        p->pt_peak = p->pt_bytes;
    if (root)
        return;
    p->pt_nonroot_bytes += bytes;
    if (p->pt_nonroot_bytes > p->pt_nonroot_peak)
        p->pt_nonroot_peak = p->pt_nonroot_bytes;
}

void phys_pt_outside(struct phys *p, uint64_t bytes, bool grow) { pt_account(p, bytes, grow, false); }

void phys_reset_peaks(struct phys *p)
{
    p->peak = p->used;
    p->pt_peak = p->pt_bytes;
    p->pt_nonroot_peak = p->pt_nonroot_bytes;
    p->swap.peak = p->swap.used;
    memset(p->fail, 0, sizeof p->fail);
}

static void account(struct phys *p, uint64_t n, uint16_t flags)
{
    p->used += n;
    if (p->used > p->peak)
        p->peak = p->used;
    if (flags & FRAME_PT)
        pt_account(p, n << p->page_shift, true, flags & FRAME_ROOT);
}

int phys_alloc(struct phys *p, unsigned order, uint16_t flags, vmsim_pfn_t *out)
{
    vmsim_pfn_t pfn;
    int rc = take(p, order, &pfn);
    if (rc == VMSIM_ENOFRAME && order == 0 && p->reclaim) {
        p->reclaiming++;
        rc = p->reclaim(p->reclaim_ctx);
        p->reclaiming--;
        if (rc == 0)
            rc = take(p, order, &pfn);
    }
    if (rc) {
        if (rc == VMSIM_ENOFRAME)
            p->fail[order < p->max_order ? order : p->max_order]++;
        return rc;
    }
    struct frame *f = &p->frame[pfn];
    f->refcount = 1;
    f->flags = flags;
    f->order = (uint8_t)order;
    account(p, 1ull << order, flags);
    *out = pfn;
    return VMSIM_OK;
}

void phys_split(struct phys *p, vmsim_pfn_t pfn)
{
    struct frame head = p->frame[pfn];
    for (uint64_t i = 0; i < (1ull << head.order); i++)
        p->frame[pfn + i] = (struct frame){.refcount = head.refcount, .flags = head.flags};
}

void phys_put(struct phys *p, vmsim_pfn_t pfn)
{
    struct frame *f = &p->frame[pfn];
    if (f->refcount == 0 || --f->refcount > 0)
        return;
    if ((f->flags & FRAME_RESIDENT) && p->release)
        p->release(p->reclaim_ctx, pfn);
    const unsigned order = f->order;
    const uint64_t n = 1ull << order;
    p->used -= n;
    if (f->flags & FRAME_PT)
        pt_account(p, n << p->page_shift, false, f->flags & FRAME_ROOT);
    memset(&p->frame[pfn], 0, n * sizeof *f);
    if (order <= p->max_order)
        free_block(p, pfn, order);
    else /* from the top, so that the last goes back to the tail first */
        for (uint64_t i = n >> p->max_order; i-- > 0;)
            free_block(p, pfn + (i << p->max_order), p->max_order);
}
