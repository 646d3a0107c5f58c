/* Simulated physical memory (see phys.h for the invariants).
 *
 * Allocation is a bump pointer over never-used frames plus a stack of freed
 * single frames. A block of 2^order frames comes from the bump pointer,
 * aligned; frames skipped by the alignment go to the free stack. Freed
 * blocks are split into single frames. This is enough while nothing
 * fragments memory on purpose; a buddy allocator can replace it behind the
 * same two functions. */
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
    if (p->nframes == 0 || p->nframes >= FRAME_NIL)
        return VMSIM_EINVAL;
    return VMSIM_OK;
}

void phys_fini(struct phys *p)
{
    grow_big_free(p->frame, p->cap, sizeof *p->frame);
    grow_big_free(p->free, p->free_cap, sizeof *p->free);
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

static int push_free(struct phys *p, vmsim_pfn_t pfn)
{
    uint32_t *f = grow_big(p->free, &p->free_cap, p->nfree, sizeof *f, 1024);
    if (!f)
        return VMSIM_ENOMEM;
    p->free = f;
    p->free[p->nfree++] = (uint32_t)pfn; /* below nframes, below 2^32 (phys_init) */
    return VMSIM_OK;
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
    uint64_t n = 1ull << order;
    uint64_t start = (p->next + n - 1) & ~(n - 1);
    const bool room = start + n <= p->nframes && start + n >= start;
    if (order == 0 && !p->nfree && !room && p->reclaim) {
        p->reclaiming++;
        int rc = p->reclaim(p->reclaim_ctx);
        p->reclaiming--;
        if (rc)
            return rc;
    }
    if (order == 0 && p->nfree) {
        pfn = p->free[--p->nfree];
    } else {
        if (!room)
            return VMSIM_ENOFRAME;
        int rc = grow_meta(p, start + n);
        if (rc)
            return rc;
        for (uint64_t f = p->next; f < start; f++)
            if ((rc = push_free(p, f)) != 0)
                return rc;
        p->next = start + n;
        pfn = start;
    }
    struct frame *f = &p->frame[pfn];
    f->refcount = 1;
    f->flags = flags;
    f->order = (uint8_t)order;
    f->level = 0;
    f->aux = 0;
    f->rmap = 0;
    account(p, n, flags);
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
    uint64_t n = 1ull << f->order;
    p->used -= n;
    if (f->flags & FRAME_PT)
        pt_account(p, n << p->page_shift, false, f->flags & FRAME_ROOT);
    for (uint64_t i = 0; i < n; i++) {
        p->frame[pfn + i] = (struct frame){0};
        /* Host memory exhaustion here only loses reuse of the frame. */
        (void)push_free(p, pfn + i);
    }
}
