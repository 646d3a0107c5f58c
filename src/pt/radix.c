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

#include "pt/radix.h"

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
    t->owner = r;
    t->refs = 1;
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
    t->owner->tables[t->level]--;
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
    if (t->refs > 1) { /* the kernel unlinks shared tables first; never freed under others */
        t->refs--;
        return;
    }
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
        if (t->used || t->tag || t->refs > 1)
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
        t->owner->leaves[level]++; /* a shared table's leaves count once, in its owner */
    }
    pt_entry_publish(&t->e[i], true,
                     (pte & PTE_SWAP) ? (pte | PTE_LEAF) & ~PTE_P : pte | PTE_P | PTE_LEAF, 0, 0);
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
    path[level]->owner->leaves[level]--;
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
    pt_entry_publish(e, false, 0, set, clear);
    return VMSIM_OK;
}

static void radix_walk(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va,
                       const struct walk_start *s, struct walk *w)
{
    (void)asid;
    radix_walk_body(p, va, s, w, true, false);
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
    /* only the entries that reach into [lo, hi): khugepaged looks for its
     * next block through small windows of a large table */
    for (uint64_t i = lo > base ? (lo - base) >> r->shift[k] : 0; i <= r->mask[k]; i++) {
        uint64_t e = t->e[i];
        vmsim_vaddr_t va = base + i * span;
        if (va >= hi)
            break;
        if (!e || va + span <= lo)
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
    (void)asid;
    radix_prefetch_inline(R(p), va, level, false);
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

/* A parallel run's lock of va's entry: its leaf table's (Linux's split
 * page-table lock). */
static uint64_t radix_lock_key(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va)
{
    const struct radix *r = R(p);
    return (uint64_t)(uintptr_t)p * 0xc2b2ae3d27d4eb4full ^ va >> r->shift[r->levels > 1 ? 2 : 1];
}

/* ---- shared tables (--share-tables, docs/kernel.md) ----
 *
 * One table (a leaf table, or one above) may be pointed to by the entries
 * of several address spaces (Linux's hugetlb PMD sharing): refs counts
 * them, owner is the one whose counts (tables, leaves) include it, so that
 * a footprint summed over the trees counts it once; the kernel names
 * another linker (the heir) when the owner lets go, and the heir also
 * takes over the owner's counts of the tables below a shared one. A tagged table (the kernel's record of a shareable
 * table) is never pruned: it stays, empty or not, until the kernel clears
 * the tag or the last linker goes. The kernel keeps the frames and the
 * reverse map; these functions move only tables. */

/* The path to the level-`level` table covering va: path[k], idx[k] for
 * k from level + 1 up; returns that table or NULL (none, or a leaf above).
 * A link that is out (--evict-tables) is followed: the table's contents
 * stay in host memory, and the kernel may edit them (table_out), so a
 * process whose upper table is out still sees which tables it shares. */
static struct rtab *table_path(struct radix *r, vmsim_vaddr_t va, unsigned level,
                               struct rtab **path, uint64_t *idx)
{
    if (level < 1 || level >= r->levels)
        return NULL;
    struct rtab *t = r->root;
    for (unsigned k = r->levels; k > level; k--) {
        const uint64_t i = IDX(r, va, k);
        path[k] = t;
        idx[k] = i;
        const uint64_t e = LOAD(t->e[i]);
        if (!e || (e & PTE_LEAF))
            return NULL;
        t = t->child[i];
    }
    return t;
}

static int radix_table_find(struct pt *p, vmsim_vaddr_t va, unsigned level, struct pt_table *out)
{
    struct rtab *path[VMSIM_MAX_LEVELS + 2];
    uint64_t idx[VMSIM_MAX_LEVELS + 2];
    struct rtab *t = table_path(R(p), va, level, path, idx);
    if (!t)
        return VMSIM_ENOENT;
    *out = (struct pt_table){t, t->pfn, t->refs, t->tag, t->used};
    return VMSIM_OK;
}

static int radix_table_link(struct pt *p, vmsim_vaddr_t va, unsigned level, void *table)
{
    struct radix *r = R(p);
    struct rtab *c = table, *path[VMSIM_MAX_LEVELS + 2];
    uint64_t idx[VMSIM_MAX_LEVELS + 2];
    if (level < 1 || level >= r->levels || c->level != level)
        return VMSIM_EINVAL;
    struct rtab *t = r->root;
    for (unsigned k = r->levels; k > level + 1; k--) {
        const uint64_t i = IDX(r, va, k);
        path[k] = t;
        idx[k] = i;
        const uint64_t e = LOAD(t->e[i]);
        if (!e) {
            struct rtab *n;
            int rc = table_new(r, k - 1, &n);
            if (rc) {
                prune(r, path, idx, k);
                return rc;
            }
            t->child[i] = n;
            STORE(t->e[i], TABLE_PTE(n));
            t->used++;
        } else if (e & PTE_LEAF) {
            prune(r, path, idx, k);
            return VMSIM_EEXIST;
        }
        t = t->child[i]; /* a table that is out is still edited (table_out) */
    }
    const uint64_t i = IDX(r, va, level + 1);
    if (LOAD(t->e[i]))
        return VMSIM_EEXIST;
    t->child[i] = c;
    STORE(t->e[i], TABLE_PTE(c));
    t->used++;
    c->refs++;
    return VMSIM_OK;
}

/* The leaves (present or not) among t's entries. */
static uint64_t table_leaves(const struct radix *r, const struct rtab *t)
{
    if (t->level == 1) /* a leaf table's used entries are its leaves */
        return t->used;
    uint64_t n = 0;
    for (uint64_t i = 0; i <= r->mask[t->level]; i++)
        n += (t->e[i] & PTE_LEAF) != 0;
    return n;
}

/* The owner lets go of shared table t: heir's counts take it over. */
static void table_bequeath(struct rtab *t, struct radix *heir)
{
    struct radix *was = t->owner;
    const uint64_t n = table_leaves(was, t);
    was->tables[t->level]--;
    heir->tables[t->level]++;
    was->leaves[t->level] -= n;
    heir->leaves[t->level] += n;
    t->owner = heir;
}

/* r no longer reaches the tables below t (shared, one level above the
 * leaf): those whose counts r held go to heir, so that the footprint
 * still counts each once. */
static void subtree_bequeath(struct radix *r, struct rtab *t, struct radix *heir)
{
    if (t->owner == r)
        table_bequeath(t, heir);
    if (t->child)
        for (uint64_t i = 0; i <= r->mask[t->level]; i++)
            if (t->child[i])
                subtree_bequeath(r, t->child[i], heir);
}

static int radix_table_copy(struct pt *p, vmsim_vaddr_t va, unsigned level, struct pt *heir)
{
    struct radix *r = R(p);
    struct rtab *path[VMSIM_MAX_LEVELS + 2], *n;
    uint64_t idx[VMSIM_MAX_LEVELS + 2];
    struct rtab *t = table_path(r, va, level, path, idx);
    if (!t || t->refs < 2)
        return VMSIM_EINVAL;
    int rc = table_new(r, level, &n);
    if (rc)
        return rc;
    memcpy(n->e, t->e, ((size_t)r->mask[level] + 1) * sizeof n->e[0]);
    n->used = t->used;
    r->leaves[level] += table_leaves(r, n);
    if (n->child) /* above the leaf: the copy points to the same tables, one more link each */
        for (uint64_t i = 0; i <= r->mask[level]; i++)
            if ((n->child[i] = t->child[i]) != NULL)
                n->child[i]->refs++;
    if (t->owner == r)
        table_bequeath(t, R(heir));
    t->refs--;
    struct rtab *parent = path[level + 1];
    parent->child[idx[level + 1]] = n;
    STORE(parent->e[idx[level + 1]], TABLE_PTE(n));
    r->base.tables_freed++; /* walk caches of p must not keep pointing at t */
    return VMSIM_OK;
}

static int radix_table_unlink(struct pt *p, vmsim_vaddr_t va, unsigned level, struct pt *heir)
{
    struct radix *r = R(p);
    struct rtab *path[VMSIM_MAX_LEVELS + 2];
    uint64_t idx[VMSIM_MAX_LEVELS + 2];
    struct rtab *t = table_path(r, va, level, path, idx);
    if (!t || t->refs < 2)
        return VMSIM_EINVAL;
    subtree_bequeath(r, t, R(heir));
    t->refs--;
    struct rtab *parent = path[level + 1];
    STORE(parent->e[idx[level + 1]], 0);
    parent->child[idx[level + 1]] = NULL;
    parent->used--;
    r->base.tables_freed++;
    prune(r, path, idx, level + 1);
    return VMSIM_OK;
}

static int radix_table_tag(struct pt *p, vmsim_vaddr_t va, unsigned level, uint32_t tag)
{
    struct radix *r = R(p);
    struct rtab *path[VMSIM_MAX_LEVELS + 2];
    uint64_t idx[VMSIM_MAX_LEVELS + 2];
    struct rtab *t = table_path(r, va, level, path, idx);
    if (!t)
        return VMSIM_ENOENT;
    t->tag = tag;
    if (!tag && !t->used && t->refs == 1) { /* kept only for sharing: it goes now */
        path[level] = t;
        prune(r, path, idx, level);
    }
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
    .lock_key = radix_lock_key,
    .table_find = radix_table_find,
    .table_link = radix_table_link,
    .table_copy = radix_table_copy,
    .table_unlink = radix_table_unlink,
    .table_tag = radix_table_tag,
};
