/* Compaction: when a huge-page allocation finds no free block of its
 * order, empty one aligned block by migrating its pages elsewhere, then
 * let the allocation take it (Linux: mm/compaction.c, mm/migrate.c).
 *
 * Linux runs two scanners over a zone: the migration scanner from the
 * bottom isolates movable pages, the free scanner from the top isolates
 * free pages as their targets, until a block of the order is free. vmsim
 * does in one step what that achieves for one block:
 *
 * 1. Candidate: among the aligned blocks of 2^order frames below the
 *    never-used tail, the one with the fewest frames in use all of which
 *    are movable; the lowest such block on a tie. A block with any
 *    unmovable frame is passed over, as Linux's migration scanner skips a
 *    pageblock it cannot isolate. None: compact.fail.
 * 2. Movable: a base frame (order 0) holding a private anonymous page, a
 *    page-cache page or a swap-cache page, mapped or not, other than the
 *    frame the fault in progress uses (rc.busy). Unmovable: page tables,
 *    zero frames, pinned frames, huge pages, enclave frames, and a frame
 *    nothing names (no reverse-map entry, not in a cache).
 * 3. Enough room: at least 2^order frames must be free in all (the block's
 *    own free frames plus a target for each page moved); else fail before
 *    anything moves.
 * 4. Targets: each page, lowest first, goes to the frame an order-0
 *    allocation returns (the buddy allocator's choice: the smallest free
 *    block, most recently freed first); a frame inside the candidate is
 *    held aside and the allocation repeated. The old frames are freed once
 *    every page has moved, so the block merges to its order at once.
 * 5. Moving a page: its metadata (references, flags, swap slot or cache
 *    entry, reverse-map chain) goes to the new frame; every mapping the
 *    reverse map names is repointed in place (pt_update: no table is
 *    allocated or freed) with a TLB shootdown each (compact.rmap_updates,
 *    compact.shootdowns); a mapping through a shared leaf table is one
 *    entry, repointed once, its shootdown reaching every sharer; the page
 *    cache or swap cache names the new frame; the replacement list puts the
 *    new frame where the old one was (reclaim_move), so the page keeps its
 *    age; --verify's stamp is copied.
 * 6. Cost (docs/cost-model.md, "Compaction"): a page copy is every 64-byte
 *    line read and written at cost.access each; a shootdown 1000 cycles of
 *    round trip plus 200 per IPI, the figures of docs/concurrency.md.
 *
 * Simplifications: no deferral after failures (Linux's compact_defer_shift)
 * and no asynchronous mode: every failed huge allocation compacts, so a
 * memory that cannot be compacted pays a scan each time (no page moves).
 * A parallel run (--threads) never compacts: it maps no huge pages. */
#include <stdlib.h>

#include "os/compact.h"
#include "os/kernel.h"

#define LINE_BYTES 64
#define SHOOTDOWN_CYCLES 1000 /* docs/concurrency.md: one round trip */
#define IPI_CYCLES 200        /* per IPI sent */

/* Whether frame pfn (the first of a block in use) may be migrated. */
static bool movable(struct kernel *k, vmsim_pfn_t pfn)
{
    const struct frame *f = kernel_frame(k, pfn);
    if (pfn == k->rc.busy || f->order != 0 || f->refcount == 0)
        return false;
    if (f->flags & (FRAME_PT | FRAME_ZERO | FRAME_PINNED | FRAME_ENCLAVE))
        return false;
    return f->rmap != 0 || (f->flags & (FRAME_CACHE | FRAME_SWAPPED));
}

/* The frames in use in the block [b, b + n) below the tail; UINT64_MAX when
 * one of them cannot be moved. */
static uint64_t in_use(struct kernel *k, vmsim_pfn_t b, uint64_t n)
{
    const struct phys *ph = k->phys;
    uint64_t used = 0;
    for (vmsim_pfn_t x = b; x < b + n && x < ph->next;) {
        const struct frame *f = kernel_frame(k, x);
        if (f->flags & FRAME_FREE) {
            x += 1ull << f->order;
            continue;
        }
        if (!movable(k, x))
            return UINT64_MAX;
        used++;
        x++;
    }
    return used;
}

/* Repoint every mapping of the page now in frame `to` (it was in from). */
static void repoint(struct kernel *k, vmsim_pfn_t from, vmsim_pfn_t to)
{
    struct vmsim_compact_stats *c = &k->st->compact;
    for (uint32_t i = kernel_frame(k, to)->rmap; i; i = k->rmap.e[i].next) {
        const struct rmap_entry *e = &k->rmap.e[i];
        struct process *q = k->proc[e->proc];
        const vmsim_vaddr_t va = rmap_va(e);
        const uint64_t old = kernel_lookup(q, va);
        c->rmap_updates++;
        if (!(old & PTE_P) || PTE_PFN(old) != from)
            continue; /* a shared table's entry, repointed through another sharer */
        const uint64_t pte = (old & PTE_FLAGS_MASK) | ((uint64_t)to << PTE_PFN_SHIFT);
        pt_update(q->space.pt, q->space.asid, va, pte, ~pte);
        kernel_pt_write(k, q, va, pte);
        kernel_shootdown(k, q, va);
        c->shootdowns++;
    }
}

/* Move the page in frame from to the free frame to (allocated, refcount 1).
 * From keeps one reference and no role: the caller frees it. */
static int move(struct kernel *k, vmsim_pfn_t from, vmsim_pfn_t to)
{
    struct frame *f = kernel_frame(k, from), *t = kernel_frame(k, to);
    const uint16_t flags = f->flags; /* FRAME_RESIDENT too: reclaim_move moves it */
    int rc = reclaim_move(k, from, to);
    if (rc)
        return rc;
    t->refcount = f->refcount;
    t->flags = flags;
    t->aux = f->aux;
    t->rmap = f->rmap;
    if (t->flags & FRAME_CACHE)
        k->pc.e[t->aux].pfn = to;
    if (t->flags & FRAME_SWAPPED)
        swapcache_set(k, t->aux, to); /* the slot is inside the array already */
    if (k->cfg->verify)
        verify_copy(k, to, from, 1);
    kernel_frames_written(k, to, 1);
    *f = (struct frame){.refcount = 1};
    repoint(k, from, to);
    k->st->compact.pages_moved++;
    return VMSIM_OK;
}

/* The candidate block of 2^order frames (rule 1), or UINT64_MAX. */
static vmsim_pfn_t candidate(struct kernel *k, unsigned order)
{
    const struct phys *ph = k->phys;
    const uint64_t n = 1ull << order;
    vmsim_pfn_t best = UINT64_MAX;
    uint64_t fewest = UINT64_MAX;
    for (vmsim_pfn_t b = 0; b < ph->next && b + n <= ph->nframes; b += n) {
        const uint64_t used = in_use(k, b, n);
        if (used < fewest) {
            fewest = used;
            best = b;
        }
    }
    return best;
}

/* Empty block [b, b + n): rule 4. The pages to move are listed first: a
 * target held inside the block is in use too, and must not be moved. */
static int empty_block(struct kernel *k, vmsim_pfn_t b, uint64_t n)
{
    struct phys *ph = k->phys;
    vmsim_pfn_t *page = malloc(2 * n * sizeof *page), *held = page + n;
    if (!page)
        return VMSIM_ENOMEM;
    size_t npage = 0, nheld = 0, done = 0;
    for (vmsim_pfn_t x = b; x < b + n && x < ph->next;) {
        const struct frame *f = kernel_frame(k, x);
        x += (f->flags & FRAME_FREE) ? 1ull << f->order : 1;
        if (!(f->flags & FRAME_FREE))
            page[npage++] = x - 1;
    }
    int rc = VMSIM_OK;
    for (; done < npage && rc == 0; done++) {
        vmsim_pfn_t to;
        while ((rc = phys_alloc(ph, 0, 0, &to)) == 0 && to >= b && to < b + n)
            held[nheld++] = to;
        if (rc == 0 && (rc = move(k, page[done], to)) != 0)
            phys_put(ph, to);
    }
    if (rc) /* the page that failed stays */
        done--;
    for (size_t i = 0; i < done; i++)
        phys_put(ph, page[i]);
    for (size_t i = 0; i < nheld; i++)
        phys_put(ph, held[i]);
    free(page);
    return rc;
}

int compact_for_order(struct kernel *k, unsigned order)
{
    struct vmsim_compact_stats *c = &k->st->compact;
    struct phys *ph = k->phys;
    const uint64_t n = 1ull << order;
    c->runs++;
    vmsim_pfn_t b = UINT64_MAX;
    if (!k->defer && order <= ph->max_order && ph->nframes - ph->used >= n)
        b = candidate(k, order);
    if (b == UINT64_MAX) {
        c->fail++;
        return VMSIM_ENOFRAME;
    }
    const uint64_t moved = c->pages_moved, shot = c->shootdowns, ipis = k->st->shootdown_ipis;
    int rc = empty_block(k, b, n);
    const uint64_t lines = (1ull << ph->page_shift) / LINE_BYTES;
    const uint64_t cycles = (c->pages_moved - moved) * 2 * lines * k->cfg->cost.access +
                            (c->shootdowns - shot) * SHOOTDOWN_CYCLES +
                            (k->st->shootdown_ipis - ipis) * IPI_CYCLES;
    c->cycles += cycles;
    k->st->cycles += cycles;
    k->st->cycles_translation += cycles;
    if (rc) {
        c->fail++;
        return rc;
    }
    c->success++;
    return VMSIM_OK;
}

void compact_gauges(const struct kernel *k, struct vmsim_stats *out)
{
    struct vmsim_compact_stats *c = &out->compact;
    const unsigned ps = k->phys->page_shift;
    c->anon_bytes = c->anon_huge_bytes = 0;
    for (vmsim_pfn_t pfn = 0; pfn < k->phys->next;) {
        const struct frame *f = kernel_frame(k, pfn);
        const uint64_t frames = 1ull << f->order;
        if (f->refcount && !(f->flags & (FRAME_FREE | FRAME_PT | FRAME_ZERO | FRAME_PINNED |
                                         FRAME_CACHE))) {
            c->anon_bytes += frames << ps;
            if (f->order)
                c->anon_huge_bytes += frames << ps;
        }
        pfn += frames;
    }
}
