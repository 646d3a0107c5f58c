/* Page replacement: the list of evictable frames, the policies that pick a
 * victim, and eviction (swap-out, write-back, drop).
 *
 * Evictable frames are data frames: private anonymous pages (base and
 * huge) and page-cache pages (and page tables, below). Zero frames stay.
 * A huge page joins the list as one frame, its head, where the policy puts
 * a new frame. Chosen as the victim, it is split first, as Linux's
 * shrink_folio_list does before add_to_swap: every mapping becomes base
 * entries (thp.c), the base frames join the list where the policy puts new
 * frames, and all of them are evicted at once, as Linux reclaims the split
 * folios on the same list (thp.splits_reclaim; reclaim.evictions counts each
 * base page). The split needs one leaf table per mapping: a frame for each is
 * made free first, by evicting a base-page victim if none is free (no other
 * huge page is split for it); if none can be, the huge page rejoins the list
 * (at the policy's place for a new frame) and the next victim is tried.
 * Linux never needs this: it deposits a leaf table with each huge page at
 * fault time (pgtable_trans_huge_deposit); vmsim does not, so a memory of
 * nothing but huge pages and tables is out of memory, as before.
 * The list is doubly linked through frame->prev/next, oldest first; the
 * policies (src/os/replace/, one file each) decide where a frame joins it,
 * what a reference does and which frame goes. Policies that must see
 * every reference, TLB hits included (the MMU's track: LRU, OPT), slow the hit
 * path down; Clock costs nothing per access, like the hardware it models.
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

#include "os/replace/replace.h"
#include "util/grow.h"

static int reclaim_one(void *ctx);
static void release(void *ctx, vmsim_pfn_t pfn);

int reclaim_init(struct kernel *k)
{
    struct reclaim *r = &k->rc;
    memset(r, 0, sizeof *r);
    r->ops = replace_find(k->cfg->replace);
    r->track = r->ops->track;
    r->head = r->tail = r->hand = FRAME_NIL;
    r->busy = UINT64_MAX;
    k->phys->reclaim = reclaim_one;
    k->phys->release = release;
    k->phys->reclaim_ctx = k;
    return VMSIM_OK;
}

void reclaim_fini(struct kernel *k)
{
    struct reclaim *r = &k->rc;
    free(r->slot);
    free(r->pos);
    free(r->next_use);
    free(r->last_use);
    free(r->oracle);
    memset(r, 0, sizeof *r);
}


void replace_link_tail(struct kernel *k, vmsim_pfn_t pfn)
{
    struct reclaim *r = &k->rc;
    struct frame *f = kernel_frame(k, pfn);
    f->prev = r->tail;
    f->next = FRAME_NIL;
    if (r->tail != FRAME_NIL)
        kernel_frame(k, r->tail)->next = (uint32_t)pfn;
    else
        r->head = (uint32_t)pfn;
    r->tail = (uint32_t)pfn;
}

void replace_unlink(struct kernel *k, vmsim_pfn_t pfn)
{
    struct reclaim *r = &k->rc;
    const struct frame *f = kernel_frame(k, pfn);
    if (f->prev != FRAME_NIL)
        kernel_frame(k, f->prev)->next = f->next;
    else
        r->head = f->next;
    if (f->next != FRAME_NIL)
        kernel_frame(k, f->next)->prev = f->prev;
    else
        r->tail = f->prev;
}

int reclaim_add(struct kernel *k, vmsim_pfn_t pfn)
{
    struct reclaim *r = &k->rc;
    struct frame *f = kernel_frame(k, pfn);
    if (r->ops->slots) {
        uint32_t *s = grow_array(r->slot, &r->slot_cap, r->count, sizeof *s, 1024, 0);
        if (!s)
            return VMSIM_ENOMEM;
        r->slot = s;
        uint32_t *at = grow_array(r->pos, &r->pos_cap, pfn, sizeof *at, 1024, 0);
        if (!at)
            return VMSIM_ENOMEM;
        r->pos = at;
        r->pos[pfn] = (uint32_t)r->count;
        r->slot[r->count] = (uint32_t)pfn;
    }
    if (r->ops->add) {
        int rc = r->ops->add(k, pfn);
        if (rc)
            return rc;
    } else {
        replace_link_tail(k, pfn);
    }
    f->flags |= FRAME_RESIDENT;
    r->count++;
    return VMSIM_OK;
}

void reclaim_remove(struct kernel *k, vmsim_pfn_t pfn)
{
    struct reclaim *r = &k->rc;
    struct frame *f = kernel_frame(k, pfn);
    if (!(f->flags & FRAME_RESIDENT))
        return;
    replace_unlink(k, pfn);
    uint32_t at = 0, last = 0;
    if (r->ops->slots) {
        at = r->pos[pfn];
        last = r->slot[r->count - 1];
        r->slot[at] = last;
        r->pos[last] = at;
    }
    if (r->ops->remove)
        r->ops->remove(k, pfn, at, last);
    f->flags &= (uint16_t)~FRAME_RESIDENT;
    r->count--;
}

int reclaim_move(struct kernel *k, vmsim_pfn_t from, vmsim_pfn_t to)
{
    struct reclaim *r = &k->rc;
    struct frame *f = kernel_frame(k, from), *t = kernel_frame(k, to);
    if (!(f->flags & FRAME_RESIDENT))
        return VMSIM_OK;
    /* room first: nothing changes when the host is out of memory */
    if (r->ops->slots) {
        uint32_t *at = grow_array(r->pos, &r->pos_cap, to, sizeof *at, 1024, 0);
        if (!at)
            return VMSIM_ENOMEM;
        r->pos = at;
    }
    if (r->next_use) {
        uint64_t *nu = grow_array(r->next_use, &r->next_cap, to, sizeof *nu, 1024, 0);
        if (!nu)
            return VMSIM_ENOMEM;
        r->next_use = nu;
        uint64_t *lu = grow_array(r->last_use, &r->last_cap, to, sizeof *lu, 1024, 0);
        if (!lu)
            return VMSIM_ENOMEM;
        r->last_use = lu;
        r->next_use[to] = r->next_use[from]; /* OPT's heap keys: the heap stays valid */
        r->last_use[to] = r->last_use[from];
    }
    t->prev = f->prev;
    t->next = f->next;
    if (f->prev != FRAME_NIL)
        kernel_frame(k, f->prev)->next = (uint32_t)to;
    else
        r->head = (uint32_t)to;
    if (f->next != FRAME_NIL)
        kernel_frame(k, f->next)->prev = (uint32_t)to;
    else
        r->tail = (uint32_t)to;
    if (r->hand == from) /* Clock's hand, OPT's first frame never used again */
        r->hand = (uint32_t)to;
    if (r->ops->slots) {
        r->pos[to] = r->pos[from];
        r->slot[r->pos[to]] = (uint32_t)to;
    }
    t->flags |= FRAME_RESIDENT;
    f->flags &= (uint16_t)~FRAME_RESIDENT;
    return VMSIM_OK;
}

void reclaim_touch(struct kernel *k, uint64_t pte)
{
    const vmsim_pfn_t pfn = PTE_PFN(pte);
    if (kernel_frame(k, pfn)->flags & FRAME_RESIDENT)
        k->rc.ops->touch(k, pfn); /* track is set only for policies with touch */
}

/* ---- choosing a victim ---- */

bool replace_evictable(struct kernel *k, vmsim_pfn_t pfn)
{
    return pfn != k->rc.busy && !(kernel_frame(k, pfn)->flags & FRAME_PINNED);
}

vmsim_pfn_t replace_victim_oldest(struct kernel *k, uint64_t skip)
{
    for (uint32_t pfn = k->rc.head; pfn != FRAME_NIL; pfn = kernel_frame(k, pfn)->next)
        if (replace_evictable(k, pfn) && skip-- == 0)
            return pfn;
    return FRAME_NIL;
}

/* ---- eviction ---- */

static void io(struct kernel *k, uint64_t *counter)
{
    (*counter)++;
    k->st->cycles += k->cfg->cost.io;
    k->st->cycles_translation += k->cfg->cost.io;
}

/* Has any mapping of the frame written it? */
static bool any_dirty(struct kernel *k, vmsim_pfn_t pfn)
{
    for (uint32_t i = kernel_frame(k, pfn)->rmap; i; i = k->rmap.e[i].next) {
        const struct rmap_entry *e = &k->rmap.e[i];
        if (kernel_lookup(k->proc[e->proc], rmap_va(e)) & PTE_D)
            return true;
    }
    return (kernel_frame(k, pfn)->flags & FRAME_DIRTY) != 0;
}

/* Take the frame out of every address space that maps it: each entry
 * becomes the swap entry swp, in place (no table changes), or with swp 0
 * is removed. The mappings' frame references are dropped; the caller holds
 * one more. */
static void unmap_all(struct kernel *k, vmsim_pfn_t pfn, uint64_t swp)
{
    struct frame *f = kernel_frame(k, pfn);
    while (f->rmap) {
        const struct rmap_entry e = k->rmap.e[f->rmap];
        struct process *p = k->proc[e.proc];
        const vmsim_vaddr_t va = rmap_va(&e);
        if (swp) {
            pt_update(p->space.pt, p->space.asid, va, swp, ~swp);
            kernel_pt_write(k, p, va, swp);
            swap_get(&k->phys->swap, PTE_PFN(swp));
        } else {
            uint64_t old = 0;
            const uint64_t freed = p->space.pt->tables_freed;
            pt_unmap(p->space.pt, p->space.asid, va, &old);
            kernel_pt_write(k, p, va, 0);
            if (old & PTE_D)
                f->flags |= FRAME_DIRTY;
            if (p->space.pt->tables_freed != freed)
                mmu_flush_pwc_all(k->mmu); /* no walk cache may point into a freed table */
        }
        rmap_del(&k->rmap, f, e.proc, va);
        f->refcount--;
        kernel_shootdown(k, p, va);
    }
}

/* Write a page-cache page back if it is dirty and drop it. */
static int evict_cached(struct kernel *k, vmsim_pfn_t pfn)
{
    struct vmsim_stats *st = k->st;
    struct frame *f = kernel_frame(k, pfn);
    struct pc_entry *pe = &k->pc.e[f->aux];
    const bool shmem = pe->file >= SHMEM_FIRST;
    const bool dirty = any_dirty(k, pfn);
    uint64_t slot = PC_NONE;
    if (shmem && (dirty || pe->slot == PC_NONE)) {
        /* A dirty page's slot holds stale contents: it goes first (so a
         * full swap still takes the page back), and the slot taken is
         * that one again, the most recently freed. */
        if (pe->slot != PC_NONE) {
            swap_put(&k->phys->swap, pe->slot);
            pe->slot = PC_NONE;
        }
        int rc = swap_alloc(&k->phys->swap, &slot);
        if (rc)
            return rc;
    }
    unmap_all(k, pfn, 0);
    if ((slot != PC_NONE || dirty) && k->cfg->verify)
        pe->stamp = verify_get(k, pfn); /* the contents go to swap or the file */
    if (slot != PC_NONE) {
        pe->slot = slot;
        io(k, &st->swap_writes);
    } else if (dirty) {
        io(k, &st->file_writes);
    } else {
        st->evictions_clean++;
    }
    pe->pfn = PC_NONE;
    f->flags &= (uint16_t)~(FRAME_CACHE | FRAME_DIRTY);
    kernel_put_frame(k, pfn); /* the page cache's reference */
    return VMSIM_OK;
}

/* Swap an anonymous page out: to a new slot when it is dirty or has no
 * copy, else drop it and let its mappings name the valid copy. */
static int evict_anon(struct kernel *k, vmsim_pfn_t pfn)
{
    struct vmsim_stats *st = k->st;
    struct frame *f = kernel_frame(k, pfn);
    uint64_t slot;
    if (!(f->flags & FRAME_SWAPPED) || any_dirty(k, pfn)) {
        int rc = swap_alloc(&k->phys->swap, &slot); /* the reference held below */
        if (rc)
            return rc;
        if (k->phys->swap.stamp)
            k->phys->swap.stamp[slot] = verify_get(k, pfn);
        io(k, &st->swap_writes);
    } else {
        slot = f->aux;
        swap_get(&k->phys->swap, slot);
        st->evictions_clean++;
    }
    kernel_drop_swap_copy(k, pfn);
    f->refcount++;
    unmap_all(k, pfn, (slot << PTE_PFN_SHIFT) | PTE_SWAP | PTE_LEAF);
    swap_put(&k->phys->swap, slot); /* the mappings hold the slot now */
    f->flags &= (uint16_t)~FRAME_DIRTY;
    kernel_put_frame(k, pfn);
    return VMSIM_OK;
}

/* phys's release hook: a frame on the list is being freed. */
static void release(void *ctx, vmsim_pfn_t pfn)
{
    struct kernel *k = ctx;
    reclaim_remove(k, pfn);
    if (kernel_frame(k, pfn)->flags & FRAME_PT)
        rmap_clear(&k->rmap, kernel_frame(k, pfn));
}

void kernel_track_tables(struct kernel *k, struct process *p, vmsim_vaddr_t va)
{
    if (!k->cfg->evict_tables || !k->ops->table_out)
        return;
    struct walk w;
    pt_walk(p->space.pt, p->space.asid, va, NULL, &w);
    for (unsigned i = 0; i < w.nrefs && i < WALK_MAX_REFS; i++) {
        const unsigned level = w.ref[i].level;
        const vmsim_pfn_t pfn = w.ref[i].pa >> k->phys->page_shift;
        struct frame *f = kernel_frame(k, pfn);
        if ((f->flags & (FRAME_RESIDENT | FRAME_PINNED)) || !(f->flags & FRAME_PT))
            continue;
        if (k->cfg->share_tables && !ptshare_evictable(k, p, va, level))
            continue;
        /* the table of `level` covers what one entry of level + 1 maps */
        const vmsim_vaddr_t base = va & ~((1ull << k->shift[level + 1]) - 1);
        if (reclaim_add(k, pfn) == 0 && rmap_add(&k->rmap, f, p->id, base, level) != 0)
            reclaim_remove(k, pfn);
    }
}

/* Write a page-table page to swap; the entry that points to it becomes a
 * swap entry. Walk caches may hold pointers to it: flushed. */
static int evict_table(struct kernel *k, vmsim_pfn_t pfn)
{
    struct frame *f = kernel_frame(k, pfn);
    const struct rmap_entry e = k->rmap.e[f->rmap];
    struct process *p = k->proc[e.proc];
    uint64_t slot;
    vmsim_pfn_t out;
    int rc = swap_alloc(&k->phys->swap, &slot);
    if (rc)
        return rc;
    rc = pt_table_out(p->space.pt, rmap_va(&e), rmap_level(&e), (slot << PTE_PFN_SHIFT) | PTE_SWAP,
                      &out);
    if (rc) {
        swap_put(&k->phys->swap, slot);
        return rc;
    }
    io(k, &k->st->swap_writes);
    k->st->tables_evicted++;
    mmu_flush_pwc_all(k->mmu);
    phys_put(k->phys, pfn); /* release() takes it off the list */
    return VMSIM_OK;
}

/* Split a huge victim and evict its base pages (the header). Nested
 * reclaims, for the split's tables, never choose it: it is off the list. */
static int evict_huge(struct kernel *k, vmsim_pfn_t head)
{
    struct frame *f = kernel_frame(k, head);
    const uint64_t pages = 1ull << f->order;
    uint64_t n = 0;
    for (uint32_t i = f->rmap; i; i = k->rmap.e[i].next)
        n++;
    if (n == 0)
        return VMSIM_ENOFRAME;
    const struct rmap_entry e = k->rmap.e[f->rmap];
    reclaim_remove(k, head);
    /* A free frame for each mapping's leaf table, so that the split itself
     * never reclaims: taken, then given back just before. */
    vmsim_pfn_t *spare = malloc(n * sizeof *spare);
    if (!spare)
        return VMSIM_ENOMEM;
    uint64_t got = 0;
    int rc = VMSIM_OK;
    k->rc.splitting++;
    while (got < n && (rc = phys_alloc(k->phys, 0, 0, &spare[got])) == VMSIM_OK)
        got++;
    k->rc.splitting--;
    for (uint64_t i = 0; i < got; i++)
        phys_put(k->phys, spare[i]);
    free(spare);
    if (rc) {
        int back = reclaim_add(k, head);
        return back ? back : rc;
    }
    rc = thp_split_at(k, k->proc[e.proc], rmap_va(&e));
    if (rc)
        return rc;
    k->st->thp_splits_reclaim++;
    uint64_t evicted = 0;
    for (uint64_t i = 0; i < pages; i++) {
        const vmsim_pfn_t b = head + i;
        if (!(kernel_frame(k, b)->flags & FRAME_RESIDENT) || !replace_evictable(k, b))
            continue;
        if ((rc = evict_anon(k, b)) != VMSIM_OK)
            break; /* swap full: the rest stay, as base pages */
        k->st->evictions++;
        kernel_evicted(k, b, VMSIM_EVICT_ANON);
        evicted++;
    }
    return evicted ? VMSIM_OK : (rc ? rc : VMSIM_ENOFRAME);
}

#define RECLAIM_TRIES 64 /* victims that could not go, before giving up */

/* phys's reclaim hook: evict one page (all the base pages of a huge victim). */
static int reclaim_one(void *ctx)
{
    struct kernel *k = ctx;
    const struct reclaim *r = &k->rc;
    if (!r->ops->victim)
        return VMSIM_ENOFRAME;
    for (uint64_t skip = 0; skip < RECLAIM_TRIES; skip++) {
        vmsim_pfn_t v = r->count ? r->ops->victim(k, skip) : FRAME_NIL;
        if (v == FRAME_NIL)
            return VMSIM_ENOFRAME;
        const uint16_t fl = kernel_frame(k, v)->flags;
        if (kernel_frame(k, v)->order) {
            if (r->splitting)
                continue;
            int rc = evict_huge(k, v);
            if (rc == VMSIM_OK)
                return VMSIM_OK; /* evictions counted there, one per base page */
            if (rc != VMSIM_ENOFRAME)
                return rc;
            continue;
        }
        int rc = (fl & FRAME_PT)      ? evict_table(k, v)
                 : (fl & FRAME_CACHE) ? evict_cached(k, v)
                                      : evict_anon(k, v);
        if (rc == VMSIM_OK) {
            k->st->evictions++;
            kernel_evicted(k, v, (fl & FRAME_PT)      ? VMSIM_EVICT_TABLE
                                 : (fl & FRAME_CACHE) ? VMSIM_EVICT_FILE
                                                      : VMSIM_EVICT_ANON);
            return VMSIM_OK;
        }
        if (rc != VMSIM_ENOFRAME)
            return rc;
    }
    return VMSIM_ENOFRAME;
}
