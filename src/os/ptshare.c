/* Shared page tables (issue 17): with --share-tables leaf tables and the
 * tables one level above them are shared (below the estimate); without,
 * what sharing leaf tables would save is reported.
 *
 * What sharing would save (issue 3, item 3): a leaf
 * table maps one aligned block of 2^shift(2) bytes (2 MiB on x86-64).
 * Where several processes map the same block of the same file, at the
 * same offset within the block, through a mapping that covers the whole
 * block and is shared or read-only (so never copied on write: library
 * text), their leaf tables hold the same entries and one table
 * could serve them all, as the PTE sharing proposed for Linux hugetlbfs
 * and shared memory does. vmsim keeps one table per process and reports
 * the bytes such sharing would save: for each (file, block) mapped that
 * way by n processes that each have the leaf table, n - 1 tables.
 *
 * Computed when the statistics are read with scan (vmsim_read_stats):
 * O(processes x VMAs + tables). */
#include <stdlib.h>
#include <string.h>

#include "os/kernel.h"
#include "util/grow.h"

/* Stop at the first leaf of level 1: the block has its own leaf table. */
static int base_leaf(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t e)
{
    return level == 1;
}

struct candidate {
    uint64_t file, block; /* block = index of the file's aligned block */
    uint64_t table;       /* its leaf table's frame (with --share-tables, one for sharers) */
};

static int by_key(const void *a, const void *b)
{
    const struct candidate *x = a, *y = b;
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    return x->block < y->block ? -1 : x->block > y->block;
}

static int by_table(const void *a, const void *b)
{
    const struct candidate *x = a, *y = b;
    int c = by_key(a, b);
    return c ? c : x->table < y->table ? -1 : x->table > y->table;
}

static void share_gauges(const struct kernel *k, struct vmsim_stats *out)
{
    struct vmsim_share_stats *s = &out->share;
    s->tables = s->sharers = s->upper_tables = s->upper_sharers = 0;
    for (uint32_t i = 0; i < k->share.nrec; i++) {
        const struct ptshare_rec *r = &k->share.rec[i];
        if (!r->file || r->n < 2)
            continue;
        *(r->level == 1 ? &s->tables : &s->upper_tables) += 1;
        *(r->level == 1 ? &s->sharers : &s->upper_sharers) += r->n;
    }
}

void kernel_pt_share(const struct kernel *k, struct vmsim_stats *out, bool scan)
{
    const unsigned ps = k->phys->page_shift, L = k->cfg->geom.levels;
    out->pt_shareable = 0;
    share_gauges(k, out);
    if (!scan || L < 2 || !k->ops->tree)
        return;
    const uint64_t span = 1ull << k->shift[2];
    const uint64_t table_bytes = (1ull << k->cfg->geom.bits[L - 1]) * k->cfg->geom.pte_bytes;
    size_t n = 0, cap = 0;
    struct candidate *c = NULL;
    for (uint32_t id = 0; id < k->nproc; id++) {
        struct process *p = k->proc[id];
        for (size_t i = 0; p && i < p->vmas.n; i++) {
            const struct vma *v = &p->vmas.v[i];
            if (!v->file || (!(v->flags & VMSIM_MAP_SHARED) && (v->prot & VMSIM_PROT_W)))
                continue;
            /* the file offset of v->start, in bytes, must sit at the same
             * place in its block as v->start does in its own */
            const uint64_t off = v->pgoff << ps;
            if ((off & (span - 1)) != (v->start & (span - 1)))
                continue;
            for (vmsim_vaddr_t b = (v->start + span - 1) & ~(span - 1); b + span <= v->end && b >= v->start;
                 b += span) {
                if (pt_visit(p->space.pt, p->space.asid, b, b + span, base_leaf, NULL) != 1)
                    continue;
                if (n == cap) {
                    cap = cap ? 2 * cap : 64;
                    struct candidate *m = realloc(c, cap * sizeof *c);
                    if (!m) {
                        free(c);
                        return;
                    }
                    c = m;
                }
                struct pt_table t = {0};
                const uint64_t tid = pt_table_find(p->space.pt, b, 1, &t) ? UINT64_MAX - n
                                                                          : (uint64_t)(uintptr_t)t.table;
                c[n++] = (struct candidate){v->file, (off + (b - v->start)) / span, tid};
            }
        }
    }
    /* n tables of one block, fewer where processes share one already:
     * every distinct table but the first would go */
    if (n)
        qsort(c, n, sizeof *c, by_table);
    for (size_t i = 1; i < n; i++)
        if (!by_key(&c[i], &c[i - 1]) && c[i].table != c[i - 1].table)
            out->pt_shareable += table_bytes;
    free(c);
}

/* ---- sharing them (--share-tables) ----
 *
 * As Linux's hugetlb PMD sharing (mm/hugetlb.c: huge_pmd_share,
 * huge_pmd_unshare), for leaf tables and for the tables one level above
 * (level 2: a 1 GiB block on x86-64; any radix geometry with a level-2
 * table below its root). A page-cache fault of p in a block of
 * 2^shift(level + 1) bytes that p has no table of `level` for, where the
 * mapping is shared or read-only (so never copied on write), covers the
 * whole block and puts the file's offset at the same place within it,
 * looks up the record of (level, file, block of the file, protection and
 * flags); when another process registered a table for it, p's entry
 * points to that table (the same frame) and the fault may find its page
 * there already. Else the table the fault makes is registered. Level 2
 * is tried first: a process pointing to a shared level-2 table reaches
 * every leaf table below it.
 *
 * Invariants: a record's table is tagged with the record (index + 1), so
 * it is never freed while registered; every process that reaches it is in
 * the record's sharer list, at its own block address: for a leaf table,
 * the processes pointing to it and those pointing to a shared level-2
 * table above it (so a leaf table below a shared level-2 table is in a
 * record that lists them all, and is tagged). An entry of a shared table
 * is one mapping: one frame reference, one reverse-map entry, naming one
 * of the sharers (another takes it over when that one goes). Changes
 * every sharer would see alike go to the table (a page faulted in,
 * evicted, written through a shared mapping) and are shot down on every
 * sharer's CPUs; a change of one process alone (mprotect, munmap of part,
 * a private write) first gives that process a copy (ptshare_private):
 * of the level-2 table when it shares one (its entries point to the same
 * leaf tables, which stay shared), then of the leaf table of the block
 * the change is in, when that is shared.
 *
 * With --evict-tables a registered table is never paged out (Linux pages
 * out no page table; a table others point to would need every sharer's
 * entry changed): it leaves the replacement list when registered and may
 * join it again once it is one process's own. */

static uint64_t share_span(const struct kernel *k, unsigned level)
{
    return 1ull << k->shift[level + 1];
}

/* Level-2 tables are shared when they are not the root. */
static bool share_upper(const struct kernel *k) { return k->cfg->geom.levels > 2; }

static uint32_t share_mode(const struct vma *v) { return (uint32_t)v->prot | (uint32_t)v->flags << 8; }

static uint64_t share_hash(uint64_t file, uint64_t block, uint32_t mode, unsigned level)
{
    uint64_t h = file * 0x9e3779b97f4a7c15ull ^ block * 0xc2b2ae3d27d4eb4full ^ mode ^
                 (uint64_t)level << 40;
    h ^= h >> 31;
    return h * 0x94d049bb133111ebull;
}

/* May p's table of `level` for the block at base, in v, be shared? */
static bool share_eligible(const struct kernel *k, const struct vma *v, vmsim_vaddr_t base,
                           unsigned level)
{
    const uint64_t span = share_span(k, level);
    if (!v->file || (!(v->flags & VMSIM_MAP_SHARED) && (v->prot & VMSIM_PROT_W)))
        return false;
    const uint64_t off = v->pgoff << k->phys->page_shift;
    return (off & (span - 1)) == (v->start & (span - 1)) && base >= v->start && base + span <= v->end;
}

static uint64_t share_block(const struct kernel *k, const struct vma *v, vmsim_vaddr_t base,
                            unsigned level)
{
    return ((v->pgoff << k->phys->page_shift) + (base - v->start)) / share_span(k, level);
}

static struct ptshare_rec *share_find(struct kernel *k, unsigned level, uint64_t file,
                                      uint64_t block, uint32_t mode)
{
    const uint64_t *first = u64map_get(&k->share.index, share_hash(file, block, mode, level));
    for (uint32_t i = first ? (uint32_t)*first : 0; i; i = k->share.rec[i - 1].next) {
        struct ptshare_rec *r = &k->share.rec[i - 1];
        if (r->file == file && r->block == block && r->mode == mode && r->level == level)
            return r;
    }
    return NULL;
}

static int share_add(struct ptshare_rec *r, uint32_t proc, vmsim_vaddr_t base)
{
    struct ptshare_sharer *s = grow_array(r->s, &r->cap, r->n, sizeof *s, 4, 0);
    if (!s)
        return VMSIM_ENOMEM;
    r->s = s;
    r->s[r->n++] = (struct ptshare_sharer){proc, base};
    return VMSIM_OK;
}

/* Forget record r (its table untagged by the caller). */
static void share_drop(struct kernel *k, struct ptshare_rec *r)
{
    const uint32_t me = (uint32_t)(r - k->share.rec) + 1;
    const uint64_t h = share_hash(r->file, r->block, r->mode, r->level);
    uint64_t *first = u64map_get(&k->share.index, h);
    if (first && *first == me) {
        if (r->next)
            *first = r->next;
        else
            u64map_del(&k->share.index, h);
    } else {
        for (uint32_t i = first ? (uint32_t)*first : 0; i; i = k->share.rec[i - 1].next)
            if (k->share.rec[i - 1].next == me) {
                k->share.rec[i - 1].next = r->next;
                break;
            }
    }
    free(r->s);
    *r = (struct ptshare_rec){.next = k->share.free};
    k->share.free = me;
}

/* A new record; moves the records (pointers to them go stale). */
static int share_new(struct kernel *k, unsigned level, uint64_t file, uint64_t block, uint32_t mode,
                     struct ptshare_rec **out)
{
    struct ptshare *sh = &k->share;
    uint32_t i = sh->free;
    if (i) {
        sh->free = sh->rec[i - 1].next;
    } else {
        struct ptshare_rec *a = grow_array(sh->rec, &sh->cap, sh->nrec, sizeof *a, 64, 0);
        if (!a)
            return VMSIM_ENOMEM;
        sh->rec = a;
        i = ++sh->nrec;
    }
    struct ptshare_rec *r = &sh->rec[i - 1];
    const uint64_t h = share_hash(file, block, mode, level);
    const uint64_t *first = u64map_get(&sh->index, h);
    *r = (struct ptshare_rec){.file = file, .block = block, .mode = mode, .level = level,
                              .next = first ? (uint32_t)*first : 0};
    int rc = u64map_put(&sh->index, h, i);
    if (rc) {
        *r = (struct ptshare_rec){.next = sh->free};
        sh->free = i;
        return rc;
    }
    *out = r;
    return VMSIM_OK;
}

/* The record of p's table of `level` covering va, and p's place in its
 * list (a process mapping one block at two addresses is in it twice). */
static struct ptshare_rec *share_of(struct kernel *k, struct process *p, vmsim_vaddr_t va,
                                    unsigned level, uint32_t *at)
{
    struct pt_table t;
    if (pt_table_find(p->space.pt, va, level, &t) || !t.tag)
        return NULL;
    struct ptshare_rec *r = &k->share.rec[t.tag - 1];
    const vmsim_vaddr_t base = va & ~(share_span(k, level) - 1);
    for (uint32_t i = 0; i < r->n; i++)
        if (r->s[i].proc == p->id && r->s[i].base == base) {
            *at = i;
            return r;
        }
    return NULL;
}

/* p now reaches leaf table r at base: p and, when p's level-2 table
 * above it is shared, every process pointing to that one join r's list. */
static int share_add_viewers(struct kernel *k, struct ptshare_rec *r, struct process *p,
                             vmsim_vaddr_t base)
{
    uint32_t at;
    const struct ptshare_rec *u = share_upper(k) ? share_of(k, p, base, 2, &at) : NULL;
    if (!u || u->n < 2)
        return share_add(r, p->id, base);
    const vmsim_vaddr_t off = base - u->s[at].base;
    int rc = VMSIM_OK;
    for (uint32_t i = 0; i < u->n && rc == 0; i++)
        rc = share_add(r, u->s[i].proc, u->s[i].base + off);
    return rc;
}

/* A table registered for sharing leaves the replacement list
 * (--evict-tables): its reverse-map entry names one process of many. */
static void share_pin(struct kernel *k, vmsim_pfn_t pfn)
{
    struct frame *f = kernel_frame(k, pfn);
    if (!(f->flags & FRAME_RESIDENT))
        return;
    reclaim_remove(k, pfn);
    rmap_clear(&k->rmap, f);
}

bool ptshare_evictable(struct kernel *k, struct process *p, vmsim_vaddr_t va, unsigned level)
{
    struct pt_table t;
    return pt_table_find(p->space.pt, va, level, &t) != VMSIM_OK || (!t.tag && t.refs < 2);
}

/* p, which has no level-2 table at base, points to u's: it reaches every
 * leaf table below, so it joins their lists too. */
static int share_attach(struct kernel *k, struct ptshare_rec *u, struct process *p,
                        vmsim_vaddr_t base)
{
    int rc = pt_table_link(p->space.pt, base, 2, u->table);
    if (rc)
        return rc == VMSIM_EEXIST ? VMSIM_OK : rc;
    kernel_pt_write(k, p, base, 0);
    k->st->share.upper_attached++;
    const uint64_t span = share_span(k, 1);
    for (vmsim_vaddr_t b = base; b < base + share_span(k, 2) && rc == 0; b += span) {
        struct pt_table t;
        if (pt_table_find(p->space.pt, b, 1, &t) == VMSIM_OK && t.tag)
            rc = share_add(&k->share.rec[t.tag - 1], p->id, b);
    }
    return rc ? rc : share_add(u, p->id, base);
}

int ptshare_fault(struct kernel *k, struct process *p, const struct vma *v, vmsim_vaddr_t va,
                  unsigned *fresh)
{
    *fresh = 0;
    struct pt_table t;
    int rc;
    if (share_upper(k)) {
        const vmsim_vaddr_t b2 = va & ~(share_span(k, 2) - 1);
        if (share_eligible(k, v, b2, 2) && pt_table_find(p->space.pt, b2, 2, &t) != VMSIM_OK) {
            struct ptshare_rec *u = share_find(k, 2, v->file, share_block(k, v, b2, 2), share_mode(v));
            if (!u)
                *fresh |= 1u << 2;
            else if ((rc = share_attach(k, u, p, b2)) != 0)
                return rc;
        }
    }
    const vmsim_vaddr_t base = va & ~(share_span(k, 1) - 1);
    if (!share_eligible(k, v, base, 1) || pt_table_find(p->space.pt, base, 1, &t) == VMSIM_OK)
        return VMSIM_OK;
    struct ptshare_rec *r = share_find(k, 1, v->file, share_block(k, v, base, 1), share_mode(v));
    if (!r) {
        *fresh |= 1u << 1;
        return VMSIM_OK;
    }
    if ((rc = pt_table_link(p->space.pt, base, 1, r->table)) != 0)
        return rc == VMSIM_EEXIST ? VMSIM_OK : rc;
    kernel_pt_write(k, p, base, 0);
    k->st->share.attached++;
    return share_add_viewers(k, r, p, base);
}

/* Register p's new table of `level` covering va. */
static int share_register(struct kernel *k, struct process *p, const struct vma *v,
                          vmsim_vaddr_t va, unsigned level)
{
    const vmsim_vaddr_t base = va & ~(share_span(k, level) - 1);
    struct pt_table t;
    if (pt_table_find(p->space.pt, base, level, &t) || t.tag || t.refs != 1)
        return VMSIM_OK;
    struct ptshare_rec *r;
    int rc = share_new(k, level, v->file, share_block(k, v, base, level), share_mode(v), &r);
    if (rc)
        return rc;
    if ((rc = level == 1 ? share_add_viewers(k, r, p, base) : share_add(r, p->id, base)) != 0) {
        share_drop(k, r);
        return rc;
    }
    r->table = t.table;
    share_pin(k, t.pfn);
    return pt_table_tag(p->space.pt, base, level, (uint32_t)(r - k->share.rec) + 1);
}

int ptshare_register(struct kernel *k, struct process *p, const struct vma *v, vmsim_vaddr_t va,
                     unsigned fresh)
{
    int rc = VMSIM_OK;
    for (unsigned level = 1; level <= 2 && rc == 0; level++)
        if (fresh & 1u << level)
            rc = share_register(k, p, v, va, level);
    return rc;
}

/* The leaves of p's view of the block at base. */
struct share_leaves {
    vmsim_vaddr_t va[1024];
    uint64_t e[1024];
    unsigned n;
};

static int share_collect(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t e)
{
    struct share_leaves *l = ctx;
    if (l->n == sizeof l->va / sizeof l->va[0])
        return 1;
    l->va[l->n] = va;
    l->e[l->n++] = e;
    return 0;
}

/* The reverse-map entries of the leaves of p's view of leaf table r at
 * sharer `at` go to heir h (another sharer). copy: p keeps a private copy
 * (a second mapping of each page); else its entry goes (shoot: its TLB
 * entries too). */
static int share_hand_over(struct kernel *k, struct ptshare_rec *r, uint32_t at,
                           const struct ptshare_sharer h, const struct share_leaves *l, bool copy,
                           bool shoot)
{
    struct process *p = k->proc[r->s[at].proc];
    const vmsim_vaddr_t base = r->s[at].base;
    int rc = VMSIM_OK;
    for (unsigned i = 0; i < l->n && rc == 0; i++) {
        const uint64_t e = l->e[i];
        if (e & PTE_SWAP) {
            if (copy)
                swap_get(&k->phys->swap, PTE_PFN(e));
            continue;
        }
        if (!(e & PTE_P))
            continue;
        if (!copy && shoot)
            kernel_shootdown_space(k, p, l->va[i]);
        if (e & PTE_ZERO)
            continue;
        struct frame *f = kernel_frame(k, PTE_PFN(e));
        if (rmap_del(&k->rmap, f, p->id, l->va[i]))
            rc = rmap_add(&k->rmap, f, h.proc, h.base + (l->va[i] - base), 1);
        if (copy && rc == 0) {
            f->refcount++;
            rc = rmap_add(&k->rmap, f, p->id, l->va[i], 1);
        }
    }
    return rc;
}

/* Sharer `at` of leaf table r lets go: the reverse-map entries naming it
 * go to the heir (another sharer). copy: it keeps a private copy; else its
 * entry goes. viewed: p reached r only through a shared level-2 table it
 * is letting go of: no table of p changes here. */
static int share_leave(struct kernel *k, struct ptshare_rec *r, uint32_t at, bool copy, bool shoot,
                       bool viewed)
{
    struct process *p = k->proc[r->s[at].proc];
    const vmsim_vaddr_t base = r->s[at].base;
    if (r->n == 1) { /* alone: the table is simply p's own from now on */
        if (viewed) /* never: the others of the level-2 table reach it too */
            return VMSIM_OK;
        share_drop(k, r);
        return pt_table_tag(p->space.pt, base, 1, 0);
    }
    const struct ptshare_sharer h = r->s[at ? 0 : 1];
    struct process *heir = k->proc[h.proc];
    struct share_leaves *l = malloc(sizeof *l);
    if (!l)
        return VMSIM_ENOMEM;
    l->n = 0;
    /* The leaves as the copy holds them: its frame may come from reclaim,
     * which can evict pages of the shared table first (so collected after
     * the copy, never before). Unlinking allocates nothing. */
    int rc = copy && !viewed ? pt_table_copy(p->space.pt, base, 1, heir->space.pt) : VMSIM_OK;
    if (rc == 0)
        pt_visit(p->space.pt, p->space.asid, base, base + share_span(k, 1), share_collect, l);
    if (rc == 0 && !copy && !viewed)
        rc = pt_table_unlink(p->space.pt, base, 1, heir->space.pt);
    if (rc == 0)
        rc = share_hand_over(k, r, at, h, l, copy, shoot);
    free(l);
    if (rc)
        return rc;
    if (!viewed) {
        mmu_flush_pwc_all(k->mmu); /* p's walk caches may point at the shared table */
        if (copy)
            k->st->share.unshared++;
        else
            k->st->share.detached++;
    }
    r->s[at] = r->s[--r->n];
    return VMSIM_OK;
}

/* Sharer `at` of level-2 table u lets go: copy, it gets a copy pointing
 * to the same leaf tables (it stays in their lists); else its entry goes,
 * and it leaves the lists of the leaf tables below. */
static int upper_leave(struct kernel *k, struct ptshare_rec *u, uint32_t at, bool copy, bool shoot)
{
    struct process *p = k->proc[u->s[at].proc];
    const vmsim_vaddr_t base = u->s[at].base;
    if (u->n == 1) {
        share_drop(k, u);
        return pt_table_tag(p->space.pt, base, 2, 0);
    }
    struct process *heir = k->proc[u->s[at ? 0 : 1].proc];
    int rc = VMSIM_OK;
    if (!copy) {
        const uint64_t span = share_span(k, 1);
        for (vmsim_vaddr_t b = base; b < base + share_span(k, 2) && rc == 0; b += span) {
            uint32_t j;
            struct ptshare_rec *r = share_of(k, p, b, 1, &j);
            if (r)
                rc = share_leave(k, r, j, false, shoot, true);
        }
    }
    if (rc == 0)
        rc = copy ? pt_table_copy(p->space.pt, base, 2, heir->space.pt)
                  : pt_table_unlink(p->space.pt, base, 2, heir->space.pt);
    if (rc)
        return rc;
    mmu_flush_pwc_all(k->mmu);
    if (copy)
        k->st->share.upper_unshared++;
    else
        k->st->share.upper_detached++;
    u->s[at] = u->s[--u->n];
    return VMSIM_OK;
}

int ptshare_private(struct kernel *k, struct process *p, vmsim_vaddr_t va)
{
    if (!k->cfg->share_tables)
        return VMSIM_OK;
    uint32_t at;
    int rc;
    struct ptshare_rec *u = share_upper(k) ? share_of(k, p, va, 2, &at) : NULL;
    if (u && (rc = upper_leave(k, u, at, true, true)) != 0)
        return rc;
    struct ptshare_rec *r = share_of(k, p, va, 1, &at);
    return r ? share_leave(k, r, at, true, true, false) : VMSIM_OK;
}

int ptshare_range(struct kernel *k, struct process *p, vmsim_vaddr_t lo, vmsim_vaddr_t hi, bool unmap)
{
    if (!k->cfg->share_tables)
        return VMSIM_OK;
    int rc = VMSIM_OK;
    /* the level above first: p's leaf tables are then its own to change */
    for (unsigned level = share_upper(k) ? 2 : 1; level >= 1 && rc == 0; level--) {
        const uint64_t span = share_span(k, level);
        for (uint32_t i = 0; i < k->share.nrec && rc == 0; i++) {
            struct ptshare_rec *r = &k->share.rec[i];
            /* p may be in the list more than once (the block at several addresses) */
            for (uint32_t j = 0; r->file && r->level == level && j < r->n && rc == 0;) {
                const vmsim_vaddr_t b = r->s[j].base;
                if (r->s[j].proc != p->id || b + span <= lo || b >= hi) {
                    j++;
                    continue;
                }
                const bool copy = !(unmap && b >= lo && b + span <= hi);
                rc = level == 2 ? upper_leave(k, r, j, copy, true)
                                : share_leave(k, r, j, copy, true, false);
            }
        }
    }
    return rc;
}

bool ptshare_fork(struct kernel *k, struct process *parent, struct process *child,
                  vmsim_vaddr_t va, int *rc)
{
    if (!k->cfg->share_tables)
        return false;
    uint32_t at;
    struct pt_table t;
    struct ptshare_rec *u = share_upper(k) ? share_of(k, parent, va, 2, &at) : NULL;
    if (u) {
        const vmsim_vaddr_t base = u->s[at].base;
        if (pt_table_find(child->space.pt, base, 2, &t) != VMSIM_OK)
            *rc = share_attach(k, u, child, base);
        return true; /* linked at an earlier leaf, or now */
    }
    struct ptshare_rec *r = share_of(k, parent, va, 1, &at);
    if (!r)
        return false;
    const vmsim_vaddr_t base = r->s[at].base;
    if (pt_table_find(child->space.pt, base, 1, &t) == VMSIM_OK)
        return true; /* linked at an earlier leaf */
    if ((*rc = share_add(r, child->id, base)) != 0)
        return true;
    if ((*rc = pt_table_link(child->space.pt, base, 1, r->table)) != 0) {
        r->n--;
        return true;
    }
    kernel_pt_write(k, child, base, 0);
    k->st->share.attached++;
    return true;
}

void ptshare_exit(struct kernel *k, struct process *p)
{
    if (!k->cfg->share_tables)
        return;
    for (unsigned level = 2; level >= 1; level--)
        for (uint32_t i = 0; i < k->share.nrec; i++) {
            struct ptshare_rec *r = &k->share.rec[i];
            for (uint32_t j = 0; r->file && r->level == level && j < r->n;) {
                const int rc = r->s[j].proc != p->id ? VMSIM_EINVAL
                               : level == 2          ? upper_leave(k, r, j, false, false)
                                                     : share_leave(k, r, j, false, false, false);
                if (rc != VMSIM_OK)
                    j++;
            }
        }
}

void ptshare_fini(struct kernel *k)
{
    for (uint32_t i = 0; i < k->share.nrec; i++)
        free(k->share.rec[i].s);
    free(k->share.rec);
    u64map_free(&k->share.index);
    k->share = (struct ptshare){0};
}

bool ptshare_shootdown(struct kernel *k, struct process *p, vmsim_vaddr_t va)
{
    uint32_t at;
    struct ptshare_rec *r = share_of(k, p, va, 1, &at);
    if (!r)
        return false;
    const uint64_t off = va & (share_span(k, 1) - 1);
    for (uint32_t i = 0; i < r->n; i++)
        kernel_shootdown_space(k, k->proc[r->s[i].proc], r->s[i].base + off);
    return true;
}
