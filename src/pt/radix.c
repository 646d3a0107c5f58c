/* Multi-level radix page tables (x86-64, RISC-V, Arm64, x86-32/PAE, custom).
 *
 * The tree: level L (the root) down to level 1 (leaf tables). A table of
 * level k has 2^bits(k) entries of pte_bytes each and lives in one simulated
 * frame, so every walk reference has a physical address: frame base + index
 * * entry size. An entry is either empty (0), a leaf (PTE_LEAF; at level
 * k > 1 a huge page of 2^shift(k) bytes, allowed where the geometry says;
 * present with PTE_P, or a swapped-out page with PTE_SWAP), or a pointer to
 * a level k-1 table. Tables are created on demand by map() and
 * freed when their last entry goes (unmap), except the root, which lives as
 * long as the address space (it is pinned).
 *
 * Invariants: t->used counts non-empty entries of t; child[i] != NULL iff
 * e[i] is a table entry (non-empty, not a leaf); the host copy of an entry is the
 * simulated entry in vmsim's own encoding (pt.h), never an ISA's bit layout.
 * Host memory per table: the entries (the simulated bytes, widened to 8
 * bytes each) plus, for levels above 1, a parallel array of child pointers.
 *
 * Concurrency (docs/concurrency.md): in a parallel run walks and lookups
 * take no lock while a fault (under its table's lock and the kernel lock)
 * maps, and other CPUs' walks set accessed and dirty bits. So every entry
 * is read and written whole, atomically: a reader sees the old entry or
 * the new, never a torn one. A new table is complete (child pointer set)
 * before the entry naming it is published (release; walks load entries
 * with acquire), a leaf is published with compare-and-swap, and no table
 * is freed while a parallel run's accesses are under way (phys->reclaiming
 * is set then). On x86-64 these loads and stores are the plain ones.
 *
 * Modelled after xv6's walk()/mappages(). */
#include <stdlib.h>
#include <string.h>

#include "pt/pt.h"

struct rtab {
    vmsim_pfn_t pfn;
    uint32_t used;
    uint32_t level;
    struct rtab **child; /* NULL at level 1 */
    uint64_t e[];
};

struct radix {
    struct pt base;
    struct rtab *root;
    unsigned levels;
    unsigned pte_bytes;
    unsigned shift[VMSIM_MAX_LEVELS + 2]; /* low bit of level k's index */
    uint64_t mask[VMSIM_MAX_LEVELS + 2];  /* index mask of level k */
    uint64_t tables[VMSIM_MAX_LEVELS + 1];
    uint64_t leaves[VMSIM_MAX_LEVELS + 1];
    vmsim_pfn_t *deposit;                 /* detached leaf tables (Linux THP deposit) */
    uint64_t ndeposit, deposit_cap;
};

#define IDX(r, va, k) (((va) >> (r)->shift[k]) & (r)->mask[k])
#define LOAD(e) __atomic_load_n(&(e), __ATOMIC_ACQUIRE)
#define STORE(e, v) __atomic_store_n(&(e), (v), __ATOMIC_RELEASE)

_Thread_local uint64_t pt_cas_retries;

/* Publish a leaf: *e becomes f(old) = (old | set) & ~clear, or `to` when
 * replace is set, by compare-and-swap; a walk setting the accessed or
 * dirty bit in between makes it retry (counted). Returns the old entry. */
static uint64_t publish(uint64_t *e, bool replace, uint64_t to, uint64_t set, uint64_t clear)
{
    uint64_t old = LOAD(*e);
    for (;;) {
        const uint64_t v = replace ? to : ((old | set) & ~clear) | PTE_LEAF;
        if (__atomic_compare_exchange_n(e, &old, v, false, __ATOMIC_RELEASE, __ATOMIC_ACQUIRE))
            return old;
        pt_cas_retries++;
    }
}
#define TABLE_PTE(t) (((uint64_t)(t)->pfn << PTE_PFN_SHIFT) | PTE_P | PTE_W | PTE_U | PTE_X)

static struct radix *R(struct pt *p) { return (struct radix *)p; }

/* Return a table's host memory. */
static void table_release(struct radix *r, struct rtab *t)
{
    struct hostmem *h = &r->base.phys->host;
    size_t n = (size_t)r->mask[t->level] + 1;
    if (t->child)
        hostmem_free(h, t->child, n * sizeof *t->child);
    hostmem_free(h, t, sizeof *t + n * sizeof t->e[0]);
}

static int table_new(struct radix *r, unsigned level, struct rtab **out)
{
    struct hostmem *h = &r->base.phys->host;
    size_t n = (size_t)r->mask[level] + 1;
    struct rtab *t = hostmem_alloc(h, sizeof *t + n * sizeof t->e[0]);
    if (!t)
        return VMSIM_ENOMEM;
    t->level = level;
    if (level > 1 && !(t->child = hostmem_alloc(h, n * sizeof *t->child))) {
        hostmem_free(h, t, sizeof *t + n * sizeof t->e[0]);
        return VMSIM_ENOMEM;
    }
    uint16_t flags = FRAME_PT | (level == r->levels ? FRAME_PINNED | FRAME_ROOT : 0);
    int rc = phys_alloc(r->base.phys, 0, flags, &t->pfn);
    if (rc) {
        table_release(r, t);
        return rc;
    }
    phys_frame(r->base.phys, t->pfn)->level = (uint8_t)level;
    r->tables[level]++;
    *out = t;
    return VMSIM_OK;
}

/* Free table t; `link` is the entry that pointed to it (0 for the root):
 * a table that is out (PTE_SWAP) holds a swap slot, not a frame. */
static void table_free(struct radix *r, struct rtab *t, uint64_t link)
{
    r->tables[t->level]--;
    r->base.tables_freed++;
    if (link & PTE_SWAP)
        swap_put(&r->base.phys->swap, PTE_PFN(link));
    else
        phys_put(r->base.phys, t->pfn);
    table_release(r, t);
}

static int radix_create(const struct pt_env *env, struct pt **out)
{
    const struct vmsim_geometry *g = env->geom;
    if (env->params && *env->params)
        return VMSIM_EINVAL; /* radix takes no options */
    struct radix *r = calloc(1, sizeof *r);
    if (!r)
        return VMSIM_ENOMEM;
    r->base.ops = &pt_radix_ops;
    r->base.phys = env->phys;
    r->base.geom = g;
    r->levels = g->levels;
    r->pte_bytes = g->pte_bytes;
    for (unsigned k = 1; k <= g->levels; k++) {
        r->shift[k] = vmsim_geometry_page_shift(g, k);
        r->mask[k] = (1ull << g->bits[g->levels - k]) - 1;
    }
    int rc = table_new(r, r->levels, &r->root);
    if (rc) {
        free(r);
        return rc;
    }
    *out = &r->base;
    return VMSIM_OK;
}

static void free_tree(struct radix *r, struct rtab *t, uint64_t link)
{
    if (t->child)
        for (uint64_t i = 0; i <= r->mask[t->level]; i++)
            if (t->child[i])
                free_tree(r, t->child[i], t->e[i]);
    table_free(r, t, link);
}

static void radix_destroy(struct pt *p)
{
    struct radix *r = R(p);
    free_tree(r, r->root, 0);
    for (uint64_t i = 0; i < r->ndeposit; i++)
        phys_put(p->phys, r->deposit[i]);
    free(r->deposit);
    free(r);
}

/* Free the empty tables on the path, deepest first. path[k]/idx[k] are the
 * table and index used at level k, for levels from..L. Not while the
 * kernel reclaims memory (phys.h): empty tables then stay until the next
 * unmap in them or the end of the address space. */
static void prune(struct radix *r, struct rtab **path, const uint64_t *idx, unsigned from)
{
    if (r->base.phys->reclaiming)
        return;
    for (unsigned k = from; k < r->levels; k++) {
        struct rtab *t = path[k];
        if (t->used)
            return;
        struct rtab *parent = path[k + 1];
        const uint64_t link = LOAD(parent->e[idx[k + 1]]);
        STORE(parent->e[idx[k + 1]], 0);
        parent->child[idx[k + 1]] = NULL;
        parent->used--;
        table_free(r, t, link);
    }
}

static int radix_map(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned level,
                     uint64_t pte)
{
    struct radix *r = R(p);
    if (level < 1 || level > r->levels || !(p->geom->leaf_levels & (1u << level)))
        return VMSIM_EINVAL;
    struct rtab *path[VMSIM_MAX_LEVELS + 2];
    uint64_t idx[VMSIM_MAX_LEVELS + 2];
    struct rtab *t = r->root;
    for (unsigned k = r->levels; k > level; k--) {
        uint64_t i = IDX(r, va, k);
        path[k] = t;
        idx[k] = i;
        const uint64_t e = LOAD(t->e[i]);
        if (!e) {
            struct rtab *c;
            int rc = table_new(r, k - 1, &c);
            if (rc) {
                prune(r, path, idx, k);
                return rc;
            }
            t->child[i] = c;
            STORE(t->e[i], TABLE_PTE(c)); /* after the child: a walk may follow it at once */
            t->used++;
        } else if (e & PTE_LEAF) {
            prune(r, path, idx, k); /* drops tables this call created */
            return VMSIM_EEXIST;
        }
        t = t->child[i];
    }
    uint64_t i = IDX(r, va, level);
    uint64_t old = LOAD(t->e[i]);
    if (old && !(old & PTE_LEAF))
        return VMSIM_EEXIST;
    if (!old) {
        t->used++;
        r->leaves[level]++;
    }
    publish(&t->e[i], true, (pte & PTE_SWAP) ? (pte | PTE_LEAF) & ~PTE_P : pte | PTE_P | PTE_LEAF,
            0, 0);
    return VMSIM_OK;
}

/* Find the leaf covering va, present or not: its table and index, and the
 * path to it. */
static uint64_t *find_leaf(struct radix *r, vmsim_vaddr_t va, struct rtab **path, uint64_t *idx,
                           unsigned *level)
{
    struct rtab *t = r->root;
    for (unsigned k = r->levels;; k--) {
        uint64_t i = IDX(r, va, k);
        path[k] = t;
        idx[k] = i;
        uint64_t e = LOAD(t->e[i]);
        if (!e)
            return NULL;
        if (e & PTE_LEAF) {
            *level = k;
            return &t->e[i];
        }
        t = t->child[i];
    }
}

static int radix_unmap(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, uint64_t *old)
{
    struct radix *r = R(p);
    struct rtab *path[VMSIM_MAX_LEVELS + 2];
    uint64_t idx[VMSIM_MAX_LEVELS + 2];
    unsigned level;
    uint64_t *e = find_leaf(r, va, path, idx, &level);
    if (old)
        *old = e ? LOAD(*e) : 0;
    if (!e)
        return VMSIM_ENOENT;
    STORE(*e, 0);
    path[level]->used--;
    r->leaves[level]--;
    prune(r, path, idx, level);
    return VMSIM_OK;
}

static int radix_update(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, uint64_t set,
                        uint64_t clear)
{
    struct radix *r = R(p);
    struct rtab *path[VMSIM_MAX_LEVELS + 2];
    uint64_t idx[VMSIM_MAX_LEVELS + 2];
    unsigned level;
    uint64_t *e = find_leaf(r, va, path, idx, &level);
    if (!e)
        return VMSIM_ENOENT;
    publish(e, false, 0, set, clear);
    return VMSIM_OK;
}

static void radix_walk(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va,
                       const struct walk_start *s, struct walk *w)
{
    const struct radix *r = R(p);
    unsigned k = r->levels;
    struct rtab *t = r->root;
    if (s && s->level) {
        k = s->level;
        t = s->table;
    }
    /* Locals, not w->...: the walk stores bytes (ref levels), which may
     * alias anything, and would force every field to be reloaded. */
    const unsigned ps = p->phys->page_shift, pte_bytes = r->pte_bytes;
    unsigned n = 0;
    /* The table's physical address: from its header for the first, then
     * from the entry that led to it (TABLE_PTE: the same frame), so the
     * walk never loads a lower table's header, one cache line fewer per
     * level on the host. */
    vmsim_paddr_t base = (vmsim_paddr_t)t->pfn << ps;
    w->top = k;
    for (;; k--) {
        const uint64_t i = IDX(r, va, k);
        const uint64_t e = LOAD(t->e[i]);
        w->ref[n].pa = base + i * pte_bytes;
        w->ref[n].level = (uint8_t)k;
        w->table[k] = t;
        n++;
        if ((e & (PTE_P | PTE_LEAF)) != PTE_P) {
            /* A leaf, or nothing. Set the accessed bit only when it is
             * clear: a store per walk would dirty every entry's cache line. */
            if ((e & (PTE_P | PTE_A)) == PTE_P)
                __atomic_fetch_or(&t->e[i], PTE_A, __ATOMIC_RELAXED);
            w->pte = (e & PTE_P) ? e | PTE_A : e;
            w->level = k;
            w->nrefs = n;
            return;
        }
        t = t->child[i];
        base = PTE_PFN(e) << ps;
    }
}

static uint64_t radix_lookup(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned *level)
{
    struct rtab *path[VMSIM_MAX_LEVELS + 2];
    uint64_t idx[VMSIM_MAX_LEVELS + 2];
    unsigned k = 0;
    const uint64_t *e = find_leaf(R(p), va, path, idx, &k);
    if (level)
        *level = k;
    return e ? LOAD(*e) : 0;
}

static int visit_tree(struct radix *r, struct rtab *t, vmsim_vaddr_t base, vmsim_vaddr_t lo,
                      vmsim_vaddr_t hi, pt_visit_fn fn, void *ctx)
{
    unsigned k = t->level;
    uint64_t span = 1ull << r->shift[k];
    for (uint64_t i = 0; i <= r->mask[k]; i++) {
        uint64_t e = t->e[i];
        vmsim_vaddr_t va = base + i * span;
        if (!e || va + span <= lo || va >= hi)
            continue;
        int rc = (e & PTE_LEAF) ? fn(ctx, va, k, e) : visit_tree(r, t->child[i], va, lo, hi, fn, ctx);
        if (rc)
            return rc;
    }
    return 0;
}

static int radix_visit(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t lo, vmsim_vaddr_t hi,
                       pt_visit_fn fn, void *ctx)
{
    return visit_tree(R(p), R(p)->root, 0, lo, hi, fn, ctx);
}

static void radix_footprint(const struct pt *p, struct vmsim_pt_footprint *fp)
{
    const struct radix *r = (const struct radix *)p;
    for (unsigned k = 1; k <= r->levels; k++) {
        uint64_t bytes = r->tables[k] * (r->mask[k] + 1) * r->pte_bytes;
        uint64_t n = r->tables[k];
        if (k == 1) {
            n += r->ndeposit;
            bytes += r->ndeposit * (r->mask[1] + 1) * r->pte_bytes;
        }
        fp->tables[k] += n;
        fp->table_bytes[k] += bytes;
        fp->pages[k] += r->leaves[k];
        if (k == r->levels)
            fp->root_bytes += bytes;
        else
            fp->bytes += bytes;
    }
}

static int radix_deposit(struct pt *p)
{
    struct radix *r = R(p);
    if (r->ndeposit == r->deposit_cap) {
        uint64_t cap = r->deposit_cap ? 2 * r->deposit_cap : 16;
        vmsim_pfn_t *d = realloc(r->deposit, cap * sizeof *d);
        if (!d)
            return VMSIM_ENOMEM;
        r->deposit = d;
        r->deposit_cap = cap;
    }
    int rc = phys_alloc(p->phys, 0, FRAME_PT, &r->deposit[r->ndeposit]);
    if (rc)
        return rc;
    r->ndeposit++;
    return VMSIM_OK;
}

/* Follow the host pointers down to the level-`level` entry a walk of va
 * will read and prefetch it (with its child pointer). The caller prefetches
 * the upper levels earlier, so the loads here hit the host's caches. */
static void radix_prefetch(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned level)
{
    struct radix *r = R(p);
    struct rtab *t = r->root;
    unsigned k = r->levels;
    for (; k > level; k--) {
        uint64_t i = IDX(r, va, k);
        if ((LOAD(t->e[i]) & (PTE_P | PTE_LEAF)) != PTE_P)
            return;
        t = t->child[i];
    }
    uint64_t i = IDX(r, va, k);
    __builtin_prefetch(&t->e[i]);
    if (k > 1)
        __builtin_prefetch(&t->child[i]);
}

/* The entry (table and index) that points to the level-`level` table
 * covering va, or NULL when there is no such table. */
static struct rtab *link_of(struct radix *r, vmsim_vaddr_t va, unsigned level, uint64_t *i)
{
    if (level < 1 || level >= r->levels)
        return NULL;
    struct rtab *t = r->root;
    for (unsigned k = r->levels; k > level + 1; k--) {
        t = t->child[IDX(r, va, k)];
        if (!t)
            return NULL;
    }
    *i = IDX(r, va, level + 1);
    return t->child[*i] ? t : NULL;
}

static int radix_table_out(struct pt *p, vmsim_vaddr_t va, unsigned level, uint64_t swp,
                           vmsim_pfn_t *pfn)
{
    uint64_t i;
    struct rtab *t = link_of(R(p), va, level, &i);
    if (!t || !(t->e[i] & PTE_P))
        return VMSIM_ENOENT;
    *pfn = t->child[i]->pfn;
    t->e[i] = (swp | PTE_SWAP) & ~(PTE_P | PTE_LEAF);
    return VMSIM_OK;
}

static int radix_table_in(struct pt *p, vmsim_vaddr_t va, unsigned level, vmsim_pfn_t pfn)
{
    uint64_t i;
    struct rtab *t = link_of(R(p), va, level, &i);
    if (!t || !(t->e[i] & PTE_SWAP))
        return VMSIM_ENOENT;
    struct rtab *c = t->child[i];
    c->pfn = pfn;
    phys_frame(p->phys, pfn)->level = (uint8_t)level;
    t->e[i] = TABLE_PTE(c);
    return VMSIM_OK;
}

const struct pt_ops pt_radix_ops = {
    .name = "radix",
    .tree = true,
    .create = radix_create,
    .destroy = radix_destroy,
    .map = radix_map,
    .unmap = radix_unmap,
    .update = radix_update,
    .lookup = radix_lookup,
    .walk = radix_walk,
    .visit = radix_visit,
    .footprint = radix_footprint,
    .deposit = radix_deposit,
    .prefetch = radix_prefetch,
    .table_out = radix_table_out,
    .table_in = radix_table_in,
};
