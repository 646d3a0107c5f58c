/* Page replacement: the list of evictable frames, the policies that pick a
 * victim, and eviction (swap-out, write-back, drop).
 *
 * Evictable frames are base-page data frames: private anonymous pages and
 * page-cache pages (and page tables, below). Zero frames and huge pages
 * stay (Linux splits a huge page before swapping it; vmsim does not).
 * The list is doubly linked through frame->prev/next, oldest first:
 *   FIFO   victim = head (the frame resident longest)
 *   LRU    every reference moves the frame to the tail; victim = head
 *   Clock  the list is the circle; a new page takes its place behind the
 *          hand (where the victim was); the hand sweeps on; a frame any
 *          of whose mappings
 *          has its accessed bit set gets a second chance: the bits are
 *          cleared, with a TLB invalidation each (so the next reference
 *          walks and sets the bit again, as a reference bit would be);
 *          the first frame found unreferenced goes
 *   random victim = a uniformly drawn frame (an array of the frames)
 *   OPT    every reference records when the frame is next used (the plan,
 *          vmsim_plan); victim = the frame used furthest ahead (the top of
 *          a max-heap)
 * Clock thus costs nothing per access, like the hardware it models. LRU
 * and OPT must see every reference, TLB hits included (sim->track): they
 * are the textbook policies, and slow the hit path down.
 *
 * With --evict-tables, page-table pages below the roots are on the list
 * too; the reverse map names the one entry that points to each. Evicting
 * one writes it to swap and marks that entry not present (pt_table_out);
 * a walk that reaches it faults and fault.c brings it back.
 *
 * Evicting a frame unmaps it from every process that maps it (the reverse
 * map), with a TLB shootdown for each. Anonymous pages go to swap: a dirty
 * page (or one without a copy) is written to a new slot, a clean page whose
 * swap copy is still valid is dropped; each mapping's entry becomes a swap
 * entry. Page-cache pages are written back to their file when dirty (to a
 * swap slot for anonymous shared memory) and dropped. */
#include <stdlib.h>
#include <string.h>

#include "machine/machine.h"
#include "util/grow.h"

static int reclaim_one(void *ctx);
static void release(void *ctx, vmsim_pfn_t pfn);

const char *const vmsim_replace_names[] = {"clock", "fifo", "lru", "random", "opt", "none", NULL};

static struct frame *F(struct vmsim *sim, vmsim_pfn_t pfn) { return phys_frame(&sim->phys, pfn); }

int reclaim_init(struct vmsim *sim)
{
    struct reclaim *r = &sim->k.rc;
    memset(r, 0, sizeof *r);
    r->policy = sim->cfg.replace;
    r->track = r->policy == VMSIM_REPLACE_LRU || r->policy == VMSIM_REPLACE_OPT;
    r->head = r->tail = r->hand = FRAME_NIL;
    r->busy = UINT64_MAX;
    sim->phys.reclaim = reclaim_one;
    sim->phys.release = release;
    sim->phys.reclaim_ctx = sim;
    return VMSIM_OK;
}

void reclaim_fini(struct vmsim *sim)
{
    struct reclaim *r = &sim->k.rc;
    free(r->slot);
    free(r->next_use);
    free(r->oracle);
    memset(r, 0, sizeof *r);
}


/* OPT's max-heap of the listed frames by next use, in r->slot; a frame's
 * position is in frame->spare. */
static bool heap_above(struct vmsim *sim, uint32_t a, uint32_t b)
{
    return sim->k.rc.next_use[a] > sim->k.rc.next_use[b];
}

static void heap_set(struct vmsim *sim, uint64_t i, uint32_t pfn)
{
    sim->k.rc.slot[i] = pfn;
    F(sim, pfn)->spare = (uint32_t)i;
}

static void heap_up(struct vmsim *sim, uint64_t i)
{
    uint32_t *h = sim->k.rc.slot;
    const uint32_t x = h[i];
    for (; i > 0 && heap_above(sim, x, h[(i - 1) / 2]); i = (i - 1) / 2)
        heap_set(sim, i, h[(i - 1) / 2]);
    heap_set(sim, i, x);
}

/* Sift down from i in a heap of n entries. */
static void heap_down(struct vmsim *sim, uint64_t i, uint64_t n)
{
    uint32_t *h = sim->k.rc.slot;
    const uint32_t x = h[i];
    for (;;) {
        uint64_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && heap_above(sim, h[c + 1], h[c]))
            c++;
        if (!heap_above(sim, h[c], x))
            break;
        heap_set(sim, i, h[c]);
        i = c;
    }
    heap_set(sim, i, x);
}

int reclaim_add(struct vmsim *sim, vmsim_pfn_t pfn)
{
    struct reclaim *r = &sim->k.rc;
    struct frame *f = F(sim, pfn);
    if (r->policy == VMSIM_REPLACE_RANDOM || r->policy == VMSIM_REPLACE_OPT) {
        uint32_t *s = grow_array(r->slot, &r->slot_cap, r->count, sizeof *s, 1024, 0);
        if (!s)
            return VMSIM_ENOMEM;
        r->slot = s;
        f->spare = (uint32_t)r->count;
        r->slot[r->count] = (uint32_t)pfn;
    }
    if (r->policy == VMSIM_REPLACE_OPT) {
        uint64_t *nu = grow_array(r->next_use, &r->next_cap, pfn, sizeof *nu, 1024, 0);
        if (!nu)
            return VMSIM_ENOMEM;
        r->next_use = nu;
        /* Data: never used again until a reference says otherwise. Page
         * tables see no references of their own: treat them as needed at
         * once, so OPT evicts a table only when no data page can go. */
        r->next_use[pfn] = (f->flags & FRAME_PT) ? 0 : UINT64_MAX;
        heap_up(sim, r->count);
    }
    if (r->policy == VMSIM_REPLACE_CLOCK && r->hand != FRAME_NIL) {
        /* The clock's circle: a page loaded after an eviction takes the
         * victim's place, just behind the hand. */
        struct frame *h = F(sim, r->hand);
        f->next = r->hand;
        f->prev = h->prev;
        if (h->prev != FRAME_NIL)
            F(sim, h->prev)->next = (uint32_t)pfn;
        else
            r->head = (uint32_t)pfn;
        h->prev = (uint32_t)pfn;
    } else {
        f->prev = r->tail;
        f->next = FRAME_NIL;
        if (r->tail != FRAME_NIL)
            F(sim, r->tail)->next = (uint32_t)pfn;
        else
            r->head = (uint32_t)pfn;
        r->tail = (uint32_t)pfn;
    }
    f->flags |= FRAME_RESIDENT;
    r->count++;
    return VMSIM_OK;
}

static void unlink_frame(struct vmsim *sim, struct frame *f)
{
    struct reclaim *r = &sim->k.rc;
    if (f->prev != FRAME_NIL)
        F(sim, f->prev)->next = f->next;
    else
        r->head = f->next;
    if (f->next != FRAME_NIL)
        F(sim, f->next)->prev = f->prev;
    else
        r->tail = f->prev;
}

void reclaim_remove(struct vmsim *sim, vmsim_pfn_t pfn)
{
    struct reclaim *r = &sim->k.rc;
    struct frame *f = F(sim, pfn);
    if (!(f->flags & FRAME_RESIDENT))
        return;
    if (r->hand == pfn)
        r->hand = f->next;
    unlink_frame(sim, f);
    if (r->policy == VMSIM_REPLACE_RANDOM || r->policy == VMSIM_REPLACE_OPT) {
        const uint32_t at = f->spare, last = r->slot[r->count - 1];
        r->slot[at] = last;
        F(sim, last)->spare = at;
        if (r->policy == VMSIM_REPLACE_OPT && at < r->count - 1) {
            heap_up(sim, at);
            heap_down(sim, F(sim, last)->spare, r->count - 1);
        }
    }
    f->flags &= (uint16_t)~FRAME_RESIDENT;
    r->count--;
}

void reclaim_touch(struct vmsim *sim, uint64_t pte)
{
    struct reclaim *r = &sim->k.rc;
    const vmsim_pfn_t pfn = PTE_PFN(pte);
    struct frame *f = F(sim, pfn);
    if (!(f->flags & FRAME_RESIDENT))
        return;
    switch (r->policy) {
    case VMSIM_REPLACE_LRU:
        if (r->tail != pfn) {
            unlink_frame(sim, f);
            f->prev = r->tail;
            f->next = FRAME_NIL;
            F(sim, r->tail)->next = (uint32_t)pfn;
            r->tail = (uint32_t)pfn;
        }
        break;
    case VMSIM_REPLACE_OPT: {
        /* The access being translated is number accesses - 1. */
        uint64_t i = sim->st.accesses - 1;
        r->next_use[pfn] = i < r->noracle ? r->oracle[i] : UINT64_MAX;
        heap_up(sim, f->spare);
        heap_down(sim, f->spare, r->count);
        break;
    }
    default:
        break;
    }
}

/* ---- choosing a victim ---- */

static bool evictable(struct vmsim *sim, vmsim_pfn_t pfn)
{
    return pfn != sim->k.rc.busy && !(F(sim, pfn)->flags & FRAME_PINNED);
}

/* Clock's reference bit: test and clear the accessed bits of every
 * mapping of the frame (page tables have none: never referenced). */
static bool referenced(struct vmsim *sim, vmsim_pfn_t pfn)
{
    struct kernel *k = &sim->k;
    bool any = false;
    if (F(sim, pfn)->flags & FRAME_PT)
        return false;
    for (uint32_t i = F(sim, pfn)->rmap; i; i = k->rmap.e[i].next) {
        const struct rmap_entry *e = &k->rmap.e[i];
        struct process *p = k->proc[e->proc];
        if (kernel_lookup(p, rmap_va(e)) & PTE_A) {
            any = true;
            pt_update(p->pt, p->asid, rmap_va(e), 0, PTE_A);
            kernel_pt_write(sim, p, rmap_va(e), 0);
            kernel_shootdown(sim, p, rmap_va(e));
        }
    }
    return any;
}

/* The policy's victim, or FRAME_NIL. `skip` says how many acceptable
 * candidates to pass over (a victim that could not be evicted, e.g. for
 * want of a swap slot, is skipped on the next try). */
static vmsim_pfn_t victim(struct vmsim *sim, uint64_t skip)
{
    struct reclaim *r = &sim->k.rc;
    if (!r->count)
        return FRAME_NIL;
    switch (r->policy) {
    case VMSIM_REPLACE_RANDOM: {
        for (uint64_t tries = 0; tries < 4 * r->count; tries++) {
            vmsim_pfn_t pfn = r->slot[rng_below(&sim->rng, r->count)];
            if (evictable(sim, pfn) && skip-- == 0)
                return pfn;
        }
        return FRAME_NIL;
    }
    case VMSIM_REPLACE_OPT: {
        if (!skip && evictable(sim, r->slot[0]))
            return r->slot[0]; /* the heap's top: used furthest ahead */
        vmsim_pfn_t best = FRAME_NIL; /* rare: the top is busy */
        uint64_t far = 0;
        for (uint32_t pfn = r->head; pfn != FRAME_NIL; pfn = F(sim, pfn)->next)
            if (evictable(sim, pfn) && (best == FRAME_NIL || r->next_use[pfn] > far)) {
                best = pfn;
                far = r->next_use[pfn];
            }
        return skip ? FRAME_NIL : best;
    }
    case VMSIM_REPLACE_CLOCK:
        /* Two sweeps clear every reference bit; a third finds a victim. */
        for (uint64_t steps = 0; steps < 3 * r->count; steps++) {
            if (r->hand == FRAME_NIL)
                r->hand = r->head;
            vmsim_pfn_t pfn = r->hand;
            struct frame *f = F(sim, pfn);
            r->hand = f->next;
            if (!evictable(sim, pfn))
                continue;
            if (referenced(sim, pfn))
                continue;
            if (skip-- == 0)
                return pfn;
        }
        return FRAME_NIL;
    default: /* FIFO, LRU: the head */
        for (uint32_t pfn = r->head; pfn != FRAME_NIL; pfn = F(sim, pfn)->next)
            if (evictable(sim, pfn) && skip-- == 0)
                return pfn;
        return FRAME_NIL;
    }
}

/* ---- eviction ---- */

vmsim_pfn_t swap_frame(const struct vmsim *sim, uint64_t slot)
{
    return slot < sim->k.swap_frame_cap ? sim->k.swap_frame[slot] : FRAME_NIL;
}

int swap_frame_set(struct vmsim *sim, uint64_t slot, vmsim_pfn_t pfn)
{
    struct kernel *k = &sim->k;
    uint32_t *a = grow_array(k->swap_frame, &k->swap_frame_cap, slot, sizeof *a, 1024, 0xff);
    if (!a)
        return VMSIM_ENOMEM; /* FRAME_NIL is all ones */
    k->swap_frame = a;
    k->swap_frame[slot] = (uint32_t)pfn;
    return VMSIM_OK;
}

static void io(struct vmsim *sim, uint64_t *counter)
{
    (*counter)++;
    sim->st.cycles += sim->cfg.cost.io;
    sim->st.cycles_translation += sim->cfg.cost.io;
}

void kernel_drop_swap_copy(struct vmsim *sim, vmsim_pfn_t pfn)
{
    struct frame *f = F(sim, pfn);
    if (!(f->flags & FRAME_SWAPPED))
        return;
    f->flags &= (uint16_t)~FRAME_SWAPPED;
    swap_frame_set(sim, f->aux, FRAME_NIL); /* the slot is below the array's size */
    swap_put(&sim->phys.swap, f->aux);
}

/* Has any mapping of the frame written it? */
static bool any_dirty(struct vmsim *sim, vmsim_pfn_t pfn)
{
    struct kernel *k = &sim->k;
    for (uint32_t i = F(sim, pfn)->rmap; i; i = k->rmap.e[i].next) {
        const struct rmap_entry *e = &k->rmap.e[i];
        if (kernel_lookup(k->proc[e->proc], rmap_va(e)) & PTE_D)
            return true;
    }
    return (F(sim, pfn)->flags & FRAME_DIRTY) != 0;
}

/* Take the frame out of every address space that maps it: each entry
 * becomes the swap entry swp, in place (no table changes), or with swp 0
 * is removed. The mappings' frame references are dropped; the caller holds
 * one more. */
static void unmap_all(struct vmsim *sim, vmsim_pfn_t pfn, uint64_t swp)
{
    struct kernel *k = &sim->k;
    struct frame *f = F(sim, pfn);
    while (f->rmap) {
        const struct rmap_entry e = k->rmap.e[f->rmap];
        struct process *p = k->proc[e.proc];
        const vmsim_vaddr_t va = rmap_va(&e);
        if (swp) {
            pt_update(p->pt, p->asid, va, swp, ~swp);
            kernel_pt_write(sim, p, va, swp);
            swap_get(&sim->phys.swap, PTE_PFN(swp));
        } else {
            uint64_t old = 0;
            const uint64_t freed = p->pt->tables_freed;
            pt_unmap(p->pt, p->asid, va, &old);
            kernel_pt_write(sim, p, va, 0);
            if (old & PTE_D)
                f->flags |= FRAME_DIRTY;
            if (p->pt->tables_freed != freed)
                mmu_flush_pwc_all(sim); /* no walk cache may point into a freed table */
        }
        rmap_del(&k->rmap, f, e.proc, va);
        f->refcount--;
        kernel_shootdown(sim, p, va);
    }
}

/* Write a page-cache page back if it is dirty and drop it. */
static int evict_cached(struct vmsim *sim, vmsim_pfn_t pfn)
{
    struct kernel *k = &sim->k;
    struct vmsim_stats *st = &sim->st;
    struct frame *f = F(sim, pfn);
    struct pc_entry *pe = &k->pc.e[f->aux];
    const bool shmem = pe->file >= SHMEM_FIRST;
    const bool dirty = any_dirty(sim, pfn);
    uint64_t slot = PC_NONE;
    if (shmem && (dirty || pe->slot == PC_NONE)) {
        int rc = swap_alloc(&sim->phys.swap, &slot);
        if (rc)
            return rc;
    }
    unmap_all(sim, pfn, 0);
    if ((slot != PC_NONE || dirty) && sim->cfg.verify)
        pe->stamp = verify_get(sim, pfn); /* the contents go to swap or the file */
    if (slot != PC_NONE) {
        if (pe->slot != PC_NONE)
            swap_put(&sim->phys.swap, pe->slot);
        pe->slot = slot;
        io(sim, &st->swap_writes);
    } else if (dirty) {
        io(sim, &st->file_writes);
    } else {
        st->evictions_clean++;
    }
    pe->pfn = PC_NONE;
    f->flags &= (uint16_t)~(FRAME_CACHE | FRAME_DIRTY);
    kernel_put_frame(sim, pfn); /* the page cache's reference */
    return VMSIM_OK;
}

/* Swap an anonymous page out: to a new slot when it is dirty or has no
 * copy, else drop it and let its mappings name the valid copy. */
static int evict_anon(struct vmsim *sim, vmsim_pfn_t pfn)
{
    struct vmsim_stats *st = &sim->st;
    struct frame *f = F(sim, pfn);
    uint64_t slot;
    if (!(f->flags & FRAME_SWAPPED) || any_dirty(sim, pfn)) {
        int rc = swap_alloc(&sim->phys.swap, &slot); /* the reference held below */
        if (rc)
            return rc;
        if (sim->phys.swap.stamp)
            sim->phys.swap.stamp[slot] = verify_get(sim, pfn);
        io(sim, &st->swap_writes);
    } else {
        slot = f->aux;
        swap_get(&sim->phys.swap, slot);
        st->evictions_clean++;
    }
    kernel_drop_swap_copy(sim, pfn);
    f->refcount++;
    unmap_all(sim, pfn, (slot << PTE_PFN_SHIFT) | PTE_SWAP | PTE_LEAF);
    swap_put(&sim->phys.swap, slot); /* the mappings hold the slot now */
    f->flags &= (uint16_t)~FRAME_DIRTY;
    kernel_put_frame(sim, pfn);
    return VMSIM_OK;
}

/* phys's release hook: a frame on the list is being freed. */
static void release(void *ctx, vmsim_pfn_t pfn)
{
    struct vmsim *sim = ctx;
    reclaim_remove(sim, pfn);
    if (F(sim, pfn)->flags & FRAME_PT)
        rmap_clear(&sim->k.rmap, F(sim, pfn));
}

void kernel_track_tables(struct vmsim *sim, struct process *p, vmsim_vaddr_t va)
{
    if (!sim->cfg.evict_tables || !sim->k.ops->table_out)
        return;
    struct walk w;
    pt_walk(p->pt, p->asid, va, NULL, &w);
    for (unsigned i = 0; i < w.nrefs && i < WALK_MAX_REFS; i++) {
        const unsigned level = w.ref[i].level;
        const vmsim_pfn_t pfn = w.ref[i].pa >> sim->phys.page_shift;
        struct frame *f = F(sim, pfn);
        if ((f->flags & (FRAME_RESIDENT | FRAME_PINNED)) || !(f->flags & FRAME_PT))
            continue;
        /* the table of `level` covers what one entry of level + 1 maps */
        const vmsim_vaddr_t base = va & ~((1ull << sim->shift[level + 1]) - 1);
        if (reclaim_add(sim, pfn) == 0 && rmap_add(&sim->k.rmap, f, p->id, base, level) != 0)
            reclaim_remove(sim, pfn);
    }
}

/* Write a page-table page to swap; the entry that points to it becomes a
 * swap entry. Walk caches may hold pointers to it: flushed. */
static int evict_table(struct vmsim *sim, vmsim_pfn_t pfn)
{
    struct kernel *k = &sim->k;
    struct frame *f = F(sim, pfn);
    const struct rmap_entry e = k->rmap.e[f->rmap];
    struct process *p = k->proc[e.proc];
    uint64_t slot;
    vmsim_pfn_t out;
    int rc = swap_alloc(&sim->phys.swap, &slot);
    if (rc)
        return rc;
    rc = pt_table_out(p->pt, rmap_va(&e), rmap_level(&e), (slot << PTE_PFN_SHIFT) | PTE_SWAP, &out);
    if (rc) {
        swap_put(&sim->phys.swap, slot);
        return rc;
    }
    io(sim, &sim->st.swap_writes);
    sim->st.tables_evicted++;
    mmu_flush_pwc_all(sim);
    phys_put(&sim->phys, pfn); /* release() takes it off the list */
    return VMSIM_OK;
}

#define RECLAIM_TRIES 64 /* victims that could not go, before giving up */

/* phys's reclaim hook: evict one page. */
static int reclaim_one(void *ctx)
{
    struct vmsim *sim = ctx;
    if (sim->k.rc.policy == VMSIM_REPLACE_NONE)
        return VMSIM_ENOFRAME;
    for (uint64_t skip = 0; skip < RECLAIM_TRIES; skip++) {
        vmsim_pfn_t v = victim(sim, skip);
        if (v == FRAME_NIL)
            return VMSIM_ENOFRAME;
        const uint16_t fl = F(sim, v)->flags;
        int rc = (fl & FRAME_PT)      ? evict_table(sim, v)
                 : (fl & FRAME_CACHE) ? evict_cached(sim, v)
                                      : evict_anon(sim, v);
        if (rc == VMSIM_OK) {
            sim->st.evictions++;
            return VMSIM_OK;
        }
        if (rc != VMSIM_ENOFRAME)
            return rc;
    }
    return VMSIM_ENOFRAME;
}
