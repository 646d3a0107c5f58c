/* Shared leaf tables (issue 17): with --share-tables they are shared
 * (below the estimate); without, what sharing would save is reported.
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
    out->share.tables = out->share.sharers = 0;
    for (uint32_t i = 0; i < k->share.nrec; i++)
        if (k->share.rec[i].file && k->share.rec[i].n > 1) {
            out->share.tables++;
            out->share.sharers += k->share.rec[i].n;
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
                const uint64_t tid = pt_table_find(p->space.pt, b, 1, &t) ? UINT64_MAX - n : t.pfn;
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
 * huge_pmd_unshare), for leaf tables: a page-cache fault of p in a block
 * of 2^shift(2) bytes that p has no leaf table for, where the mapping is
 * shared or read-only (so never copied on write), covers the whole block
 * and puts the file's offset at the same place within it, looks up the
 * record of (file, block of the file, protection and flags); when another
 * process registered a table for it, p's level-2 entry points to that
 * table (the same frame) and the fault may find its page there already.
 * Else the table the fault makes is registered.
 *
 * Invariants: a record's table is tagged with the record (index + 1), so
 * it is never freed while registered; every process that points to it is
 * in the record's sharer list, at its own block address. An entry of a
 * shared table is one mapping: one frame reference, one reverse-map entry,
 * naming one of the sharers (another takes it over when that one goes).
 * Changes every sharer would see alike go to the table (a page faulted in,
 * evicted, written through a shared mapping) and are shot down on every
 * sharer's CPUs; a change of one process alone (mprotect, munmap of part,
 * a private write) first gives that process a copy (ptshare_private). */

static uint64_t share_span(const struct kernel *k) { return 1ull << k->shift[2]; }

static uint32_t share_mode(const struct vma *v) { return (uint32_t)v->prot | (uint32_t)v->flags << 8; }

static uint64_t share_hash(uint64_t file, uint64_t block, uint32_t mode)
{
    uint64_t h = file * 0x9e3779b97f4a7c15ull ^ block * 0xc2b2ae3d27d4eb4full ^ mode;
    h ^= h >> 31;
    return h * 0x94d049bb133111ebull;
}

/* May p's leaf table for the block at base, in v, be shared? */
static bool share_eligible(const struct kernel *k, const struct vma *v, vmsim_vaddr_t base)
{
    const uint64_t span = share_span(k);
    if (!v->file || (!(v->flags & VMSIM_MAP_SHARED) && (v->prot & VMSIM_PROT_W)))
        return false;
    const uint64_t off = v->pgoff << k->phys->page_shift;
    return (off & (span - 1)) == (v->start & (span - 1)) && base >= v->start && base + span <= v->end;
}

static uint64_t share_block(const struct kernel *k, const struct vma *v, vmsim_vaddr_t base)
{
    return ((v->pgoff << k->phys->page_shift) + (base - v->start)) / share_span(k);
}

static struct ptshare_rec *share_find(struct kernel *k, uint64_t file, uint64_t block, uint32_t mode)
{
    const uint64_t *first = u64map_get(&k->share.index, share_hash(file, block, mode));
    for (uint32_t i = first ? (uint32_t)*first : 0; i; i = k->share.rec[i - 1].next) {
        struct ptshare_rec *r = &k->share.rec[i - 1];
        if (r->file == file && r->block == block && r->mode == mode)
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
    const uint64_t h = share_hash(r->file, r->block, r->mode);
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

static int share_new(struct kernel *k, uint64_t file, uint64_t block, uint32_t mode,
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
    const uint64_t h = share_hash(file, block, mode);
    const uint64_t *first = u64map_get(&sh->index, h);
    *r = (struct ptshare_rec){.file = file, .block = block, .mode = mode,
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

/* The record of p's leaf table covering va, and p's place in its list
 * (a process mapping one block at two addresses is in it twice). */
static struct ptshare_rec *share_of(struct kernel *k, struct process *p, vmsim_vaddr_t va,
                                    uint32_t *at)
{
    struct pt_table t;
    if (pt_table_find(p->space.pt, va, 1, &t) || !t.tag)
        return NULL;
    struct ptshare_rec *r = &k->share.rec[t.tag - 1];
    const vmsim_vaddr_t base = va & ~(share_span(k) - 1);
    for (uint32_t i = 0; i < r->n; i++)
        if (r->s[i].proc == p->id && r->s[i].base == base) {
            *at = i;
            return r;
        }
    return NULL;
}

int ptshare_fault(struct kernel *k, struct process *p, const struct vma *v, vmsim_vaddr_t va,
                  bool *fresh)
{
    *fresh = false;
    const vmsim_vaddr_t base = va & ~(share_span(k) - 1);
    struct pt_table t;
    if (!share_eligible(k, v, base) || pt_table_find(p->space.pt, base, 1, &t) == VMSIM_OK)
        return VMSIM_OK;
    struct ptshare_rec *r = share_find(k, v->file, share_block(k, v, base), share_mode(v));
    if (!r) {
        *fresh = true;
        return VMSIM_OK;
    }
    int rc = share_add(r, p->id, base);
    if (rc)
        return rc;
    if ((rc = pt_table_link(p->space.pt, base, 1, r->table)) != 0) {
        r->n--;
        return rc == VMSIM_EEXIST ? VMSIM_OK : rc;
    }
    kernel_pt_write(k, p, base, 0);
    k->st->share.attached++;
    return VMSIM_OK;
}

int ptshare_register(struct kernel *k, struct process *p, const struct vma *v, vmsim_vaddr_t va)
{
    const vmsim_vaddr_t base = va & ~(share_span(k) - 1);
    struct pt_table t;
    if (pt_table_find(p->space.pt, base, 1, &t) || t.tag || t.refs != 1)
        return VMSIM_OK;
    struct ptshare_rec *r;
    int rc = share_new(k, v->file, share_block(k, v, base), share_mode(v), &r);
    if (rc)
        return rc;
    if ((rc = share_add(r, p->id, base)) != 0) {
        share_drop(k, r);
        return rc;
    }
    r->table = t.table;
    return pt_table_tag(p->space.pt, base, 1, (uint32_t)(r - k->share.rec) + 1);
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

/* Sharer `at` of r lets go: the reverse-map entries naming it go to the
 * heir (another sharer). copy: it keeps a private copy (a second mapping
 * of each page); else its entry goes (shoot: its TLB entries too). */
static int share_leave(struct kernel *k, struct ptshare_rec *r, uint32_t at, bool copy, bool shoot)
{
    struct process *p = k->proc[r->s[at].proc];
    const vmsim_vaddr_t base = r->s[at].base;
    const uint64_t span = share_span(k);
    if (r->n == 1) { /* alone: the table is simply p's own from now on */
        share_drop(k, r);
        return pt_table_tag(p->space.pt, base, 1, 0);
    }
    const struct ptshare_sharer h = r->s[at ? 0 : 1];
    struct process *heir = k->proc[h.proc];
    struct share_leaves *l = malloc(sizeof *l);
    if (!l)
        return VMSIM_ENOMEM;
    l->n = 0;
    pt_visit(p->space.pt, p->space.asid, base, base + span, share_collect, l);
    int rc = copy ? pt_table_copy(p->space.pt, base, 1, heir->space.pt)
                  : pt_table_unlink(p->space.pt, base, 1, heir->space.pt);
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
            rc = rmap_add(&k->rmap, f, heir->id, h.base + (l->va[i] - base), 1);
        if (copy && rc == 0) {
            f->refcount++;
            rc = rmap_add(&k->rmap, f, p->id, l->va[i], 1);
        }
    }
    free(l);
    if (rc)
        return rc;
    mmu_flush_pwc_all(k->mmu); /* p's walk caches may point at the shared table */
    if (copy)
        k->st->share.unshared++;
    else
        k->st->share.detached++;
    r->s[at] = r->s[--r->n];
    return VMSIM_OK;
}

int ptshare_private(struct kernel *k, struct process *p, vmsim_vaddr_t va)
{
    uint32_t at;
    struct ptshare_rec *r = k->cfg->share_tables ? share_of(k, p, va, &at) : NULL;
    return r ? share_leave(k, r, at, true, true) : VMSIM_OK;
}

int ptshare_range(struct kernel *k, struct process *p, vmsim_vaddr_t lo, vmsim_vaddr_t hi, bool unmap)
{
    if (!k->cfg->share_tables)
        return VMSIM_OK;
    const uint64_t span = share_span(k);
    int rc = VMSIM_OK;
    for (uint32_t i = 0; i < k->share.nrec && rc == 0; i++) {
        struct ptshare_rec *r = &k->share.rec[i];
        /* p may be in the list more than once (the block at several addresses) */
        for (uint32_t j = 0; r->file && j < r->n && rc == 0;) {
            const vmsim_vaddr_t b = r->s[j].base;
            if (r->s[j].proc != p->id || b + span <= lo || b >= hi) {
                j++;
                continue;
            }
            rc = share_leave(k, r, j, !(unmap && b >= lo && b + span <= hi), true);
        }
    }
    return rc;
}

bool ptshare_fork(struct kernel *k, struct process *parent, struct process *child,
                  vmsim_vaddr_t va, int *rc)
{
    uint32_t at;
    struct ptshare_rec *r = k->cfg->share_tables ? share_of(k, parent, va, &at) : NULL;
    if (!r)
        return false;
    const vmsim_vaddr_t base = r->s[at].base;
    struct pt_table t;
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
    for (uint32_t i = 0; i < k->share.nrec; i++) {
        struct ptshare_rec *r = &k->share.rec[i];
        for (uint32_t j = 0; r->file && j < r->n;)
            if (r->s[j].proc != p->id || share_leave(k, r, j, false, false) != VMSIM_OK)
                j++;
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
    struct ptshare_rec *r = share_of(k, p, va, &at);
    if (!r)
        return false;
    const uint64_t off = va & (share_span(k) - 1);
    for (uint32_t i = 0; i < r->n; i++)
        kernel_shootdown_space(k, k->proc[r->s[i].proc], r->s[i].base + off);
    return true;
}
