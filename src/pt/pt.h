/* The page-table interface: one ops table per organization (radix, hashed,
 * ppc, inverted, clustered, cuckoo, flat; listed in registry.c).
 *
 * An organization is a data structure only: it maps (asid, virtual page,
 * page size) to an entry, stores itself in simulated frames, and says which
 * memory a lookup reads. TLBs, page-walk caches, costs and faults live
 * outside. Callers use the pt_* wrappers, never p->ops->... directly. */
#ifndef VMSIM_PT_PT_H
#define VMSIM_PT_PT_H

#include "phys/phys.h"
#include "vmsim/vmsim.h"

/* Entry bits, common to every organization (an internal encoding, not an
 * ISA's): the frame number sits above PTE_PFN_SHIFT. */
#define PTE_P (1ull << 0)    /* present */
#define PTE_W (1ull << 1)    /* writable */
#define PTE_U (1ull << 2)    /* user accessible */
#define PTE_X (1ull << 3)    /* executable */
#define PTE_A (1ull << 5)    /* accessed */
#define PTE_D (1ull << 6)    /* dirty */
#define PTE_LEAF (1ull << 7) /* maps a page (at level > 1: a huge page) */
#define PTE_ZERO (1ull << 9) /* maps the shared zero frame: copy on write */
#define PTE_SWAP (1ull << 10) /* not present: the page is in swap, slot in the frame field */
#define PTE_PFN_SHIFT 12
#define PTE_FLAGS_MASK ((1ull << PTE_PFN_SHIFT) - 1)
#define PTE_PFN(e) ((e) >> PTE_PFN_SHIFT)

struct pt;

/* One memory reference of a walk. */
struct walk_ref {
    vmsim_paddr_t pa;
    uint8_t level;
};

/* A walk counts every memory reference it makes in nrefs (the statistics
 * and the cost model charge them all) and records the first WALK_MAX_REFS
 * of them in ref[]: only a degenerate chain reads more. */
#define WALK_MAX_REFS 64

/* Where a walk may start: a page-walk cache hit gives the table of level
 * `level` (opaque to the MMU). level 0 = from the root. */
struct walk_start {
    unsigned level;
    void *table;
};

struct walk {
    unsigned nrefs; /* references made; ref[] holds min(nrefs, WALK_MAX_REFS) */
    unsigned level;   /* level of the leaf found, or where the walk stopped */
    uint64_t pte;     /* the leaf entry; 0 when not present */
    struct walk_ref ref[WALK_MAX_REFS];
    /* For page-walk-cache fills: table[k] is the level-k table the walk
     * read, for k from `level` up to `top`; top = 0 when the organization
     * has no tables to cache. */
    unsigned top;
    void *table[VMSIM_MAX_LEVELS + 1];
};

/* A table as table_find sees it (shared tables, below). */
struct pt_table {
    void *table;      /* opaque: what table_link takes */
    vmsim_pfn_t pfn;  /* its frame */
    uint32_t refs;    /* address spaces pointing to it */
    uint32_t tag;     /* the kernel's mark (table_tag) */
    uint32_t used;    /* entries in use */
};

/* Called for each leaf by pt_visit; return 0 to go on, >0 to stop. */
typedef int (*pt_visit_fn)(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t pte);

/* Work an organization does besides lookups, reported in the statistics
 * (page_tables.*); one per machine, shared by its address spaces. */
struct pt_counters {
    uint64_t migrated; /* entries moved by (incremental) resizing */
    uint64_t resizes;  /* resizes started */
    uint64_t evicted;  /* entries an organization dropped for room (PowerPC groups) */
};

/* What an address space's page table is created with. */
struct pt_env {
    const struct vmsim_geometry *geom;
    struct phys *phys;
    const char *params; /* the organization's options, "k=v,..." ("" for none) */
    /* One slot per machine for state every address space shares (a global
     * hashed table, the inverted table); NULL when used stand-alone. */
    void **shared;
    uint64_t space;     /* this address space's id: unique in the machine, never reused */
    struct pt_counters *counters; /* never NULL */
};

struct pt_ops {
    const char *name;
    /* A radix tree of tables: page-walk caches, paged-out page tables and
     * leaf-table sharing apply only to such organizations. */
    bool tree;
    /* Holds base pages only (a map above level 1 returns VMSIM_EEXIST): the
     * kernel then never tries huge pages (no allocation, no promotion). */
    bool base_only;
    /* Optional: validate params without creating anything (the command
     * line's early error); NULL when the organization takes none. */
    int (*check)(const char *params, char *why, size_t len);
    int (*create)(const struct pt_env *env, struct pt **out);
    void (*destroy)(struct pt *p); /* frees tables only, not the mapped frames */
    /* Optional, with shared state: its memory (added once per machine) and
     * its end, after the last address space is destroyed. */
    void (*shared_footprint)(const void *shared, struct vmsim_pt_footprint *fp);
    void (*shared_destroy)(void *shared);
    /* Map the page of `level` containing va; replaces an existing leaf of the
     * same level. VMSIM_EEXIST when a leaf of another level covers va. The
     * entry becomes a present leaf, or with PTE_SWAP a non-present leaf that
     * keeps its place (and its tables) until the page comes back. */
    int (*map)(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned level, uint64_t pte);
    /* Remove the leaf covering va, present or not; *old gets it (0 if
     * none). Frees tables that become empty. */
    int (*unmap)(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, uint64_t *old);
    int (*update)(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, uint64_t set, uint64_t clear);
    /* The leaf entry covering va, present or not (0: none), and its level;
     * no side effects (a walk sets accessed bits). */
    uint64_t (*lookup)(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned *level);
    void (*walk)(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, const struct walk_start *s,
                 struct walk *w);
    int (*visit)(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t lo, vmsim_vaddr_t hi, pt_visit_fn fn,
                 void *ctx);
    void (*footprint)(const struct pt *p, struct vmsim_pt_footprint *fp); /* adds to *fp */
    /* Optional: account one detached leaf table (Linux deposits one per
     * PMD-mapped huge page so that a split needs no frame). NULL: the
     * organization has no leaf tables to set aside, and a deposit does
     * nothing. */
    int (*deposit)(struct pt *p);
    /* Optional: start loading the host memory a walk for va will read at
     * `level`, following the (already cached) levels above it. */
    void (*prefetch)(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned level);
    /* Optional: paging out page tables. table_out: the table of `level`
     * (below the root) covering va leaves memory; the entry pointing to it
     * becomes swp (PTE_SWAP, not present: a walk stops there), and *pfn
     * gets the frame it occupied, for the caller to free. The table's
     * contents stay where the organization keeps them, so the kernel may
     * still edit its entries (as if it read, changed and wrote it back).
     * table_in: it comes back, in frame pfn (allocated with FRAME_PT). A
     * freed table that is out gives its swap slot back to phys->swap. */
    int (*table_out)(struct pt *p, vmsim_vaddr_t va, unsigned level, uint64_t swp, vmsim_pfn_t *pfn);
    int (*table_in)(struct pt *p, vmsim_vaddr_t va, unsigned level, vmsim_pfn_t pfn);
    /* Optional, for parallel runs (docs/concurrency.md): which lock guards
     * the base-page entry for va, as a key: entries with the same key
     * share a lock (radix: the leaf table; hashed: the bucket). NULL: the
     * organization does not run on threads (vmsim_threads_refusal). Its
     * lookups and walks then take no lock while map and update run under
     * the kernel's: entries are read and written whole (pt_entry_*). */
    uint64_t (*lock_key)(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va);
    /* Optional: shared tables (--share-tables, docs/kernel.md): one table
     * of `level` pointed to by the entries of several address spaces, as
     * Linux's hugetlb PMD sharing; reference-counted, counted once in the
     * footprint. table_find: the table of `level` covering va (ENOENT: none).
     * table_link: p, which has no such table, points to `table` (upper
     * tables made as needed). table_copy: p's shared table is replaced by a
     * private copy of it (same entries, a new frame; above the leaf the
     * copy points to the same tables, one link more each). table_unlink: p's
     * entry no longer points to its shared table (nor p to what is below
     * it). heir: another address
     * space that points to it, whose counts take it over when p's held it.
     * table_tag: the kernel's mark (0: none); a marked table is never
     * freed when it empties, and an empty table of p alone unmarked goes. */
    int (*table_find)(struct pt *p, vmsim_vaddr_t va, unsigned level, struct pt_table *out);
    int (*table_link)(struct pt *p, vmsim_vaddr_t va, unsigned level, void *table);
    int (*table_copy)(struct pt *p, vmsim_vaddr_t va, unsigned level, struct pt *heir);
    int (*table_unlink)(struct pt *p, vmsim_vaddr_t va, unsigned level, struct pt *heir);
    int (*table_tag)(struct pt *p, vmsim_vaddr_t va, unsigned level, uint32_t tag);
    /* Optional: a parallel run's accesses stopped (a barrier): do what was
     * put off while they ran (hashed: a resize). */
    void (*quiesce)(struct pt *p);
};

/* This thread's failed compare-and-swaps publishing an entry (a walk set
 * an accessed or dirty bit in between): pt_entry_publish counts them, a parallel
 * run's fault reads them (docs/concurrency.md). */
extern _Thread_local uint64_t pt_cas_retries;

/* Entries that walks of other threads may read or set bits in: loaded
 * and stored whole (on x86-64 the plain moves), published by
 * compare-and-swap so that a bit a walk set in between is not lost. */
static inline uint64_t pt_entry_load(const uint64_t *e)
{
    return __atomic_load_n(e, __ATOMIC_ACQUIRE);
}
static inline void pt_entry_store(uint64_t *e, uint64_t v)
{
    __atomic_store_n(e, v, __ATOMIC_RELEASE);
}
/* A walk's accessed bit: set only when clear (a store per walk would
 * dirty every entry's cache line). */
static inline void pt_entry_accessed(uint64_t *e, uint64_t seen)
{
    if ((seen & (PTE_P | PTE_A)) == PTE_P)
        __atomic_fetch_or(e, PTE_A, __ATOMIC_RELAXED);
}
/* *e becomes `to` (replace) or ((old | set) & ~clear) | PTE_LEAF; failed
 * compare-and-swaps counted in pt_cas_retries. Returns the old entry. */
static inline uint64_t pt_entry_publish(uint64_t *e, bool replace, uint64_t to, uint64_t set,
                                        uint64_t clear)
{
    uint64_t old = pt_entry_load(e);
    for (;;) {
        const uint64_t v = replace ? to : ((old | set) & ~clear) | PTE_LEAF;
        if (__atomic_compare_exchange_n(e, &old, v, false, __ATOMIC_RELEASE, __ATOMIC_ACQUIRE))
            return old;
        pt_cas_retries++;
    }
}

/* The base of every organization, embedded first. */
struct pt {
    const struct pt_ops *ops;
    struct phys *phys;
    const struct vmsim_geometry *geom;
    uint64_t tables_freed; /* bumps when a table is freed: walk caches must drop it */
};

/* The table of organizations. pt_find takes "NAME" or "NAME:params" and
 * sets *params to what follows the colon ("" when nothing does). */
const struct pt_ops *pt_find(const char *spec, const char **params);
extern const struct pt_ops pt_radix_ops, pt_hashed_ops, pt_ppc_ops, pt_inverted_ops,
    pt_clustered_ops, pt_cuckoo_ops, pt_flat_ops;

static inline int pt_create(const struct pt_ops *ops, const struct pt_env *env, struct pt **out)
{
    return ops->create(env, out);
}

/* ---- options ("KEY=VALUE,...", after the organization's name) ---- */

static inline bool pt_pow2(uint64_t v) { return v && !(v & (v - 1)); }
/* Fill why with "what, found "val"" and return VMSIM_EINVAL. */
int pt_opt_bad(char *why, size_t len, const char *what, const char *val, size_t n);
/* The item s[0, n) as KEY=VALUE: *klen, and the value NUL-terminated in
 * val (shorter than 64 bytes). usage is the message for an item without
 * '='. */
int pt_opt_split(const char *s, size_t n, const char *usage, size_t *klen, char val[64],
                 char *why, size_t len);
/* item() for each comma-separated item of params (NULL: none); the first
 * error stops it. */
int pt_opt_each(const char *params, int (*item)(const char *s, size_t n, void *ctx, char *why,
                                                size_t len),
                void *ctx, char *why, size_t len);

/* Add bytes to the footprint part called name (a new part if needed). */
void pt_fp_part(struct vmsim_pt_footprint *fp, const char *name, uint64_t bytes);
static inline void pt_destroy(struct pt *p)
{
    if (p)
        p->ops->destroy(p);
}
static inline int pt_map(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned level,
                         uint64_t pte)
{
    return p->ops->map(p, asid, va, level, pte);
}
static inline int pt_unmap(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, uint64_t *old)
{
    return p->ops->unmap(p, asid, va, old);
}
static inline int pt_update(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, uint64_t set,
                            uint64_t clear)
{
    return p->ops->update(p, asid, va, set, clear);
}
static inline void pt_walk(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va,
                           const struct walk_start *s, struct walk *w)
{
    p->ops->walk(p, asid, va, s, w);
}
static inline int pt_visit(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t lo, vmsim_vaddr_t hi,
                           pt_visit_fn fn, void *ctx)
{
    return p->ops->visit(p, asid, lo, hi, fn, ctx);
}
static inline void pt_footprint(const struct pt *p, struct vmsim_pt_footprint *fp)
{
    p->ops->footprint(p, fp);
}
static inline int pt_deposit(struct pt *p)
{
    return p->ops->deposit ? p->ops->deposit(p) : VMSIM_OK;
}
static inline uint64_t pt_lookup(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va,
                                 unsigned *level)
{
    return p->ops->lookup(p, asid, va, level);
}
static inline int pt_table_out(struct pt *p, vmsim_vaddr_t va, unsigned level, uint64_t swp,
                               vmsim_pfn_t *pfn)
{
    return p->ops->table_out ? p->ops->table_out(p, va, level, swp, pfn) : VMSIM_EUNSUPPORTED;
}
static inline int pt_table_in(struct pt *p, vmsim_vaddr_t va, unsigned level, vmsim_pfn_t pfn)
{
    return p->ops->table_in ? p->ops->table_in(p, va, level, pfn) : VMSIM_EUNSUPPORTED;
}
static inline int pt_table_find(struct pt *p, vmsim_vaddr_t va, unsigned level,
                                struct pt_table *out)
{
    return p->ops->table_find ? p->ops->table_find(p, va, level, out) : VMSIM_ENOENT;
}
static inline int pt_table_link(struct pt *p, vmsim_vaddr_t va, unsigned level, void *table)
{
    return p->ops->table_link ? p->ops->table_link(p, va, level, table) : VMSIM_EUNSUPPORTED;
}
static inline int pt_table_copy(struct pt *p, vmsim_vaddr_t va, unsigned level, struct pt *heir)
{
    return p->ops->table_copy ? p->ops->table_copy(p, va, level, heir) : VMSIM_EUNSUPPORTED;
}
static inline int pt_table_unlink(struct pt *p, vmsim_vaddr_t va, unsigned level, struct pt *heir)
{
    return p->ops->table_unlink ? p->ops->table_unlink(p, va, level, heir) : VMSIM_EUNSUPPORTED;
}
static inline int pt_table_tag(struct pt *p, vmsim_vaddr_t va, unsigned level, uint32_t tag)
{
    return p->ops->table_tag ? p->ops->table_tag(p, va, level, tag) : VMSIM_EUNSUPPORTED;
}
static inline void pt_prefetch(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned level)
{
    if (p->ops->prefetch)
        p->ops->prefetch(p, asid, va, level);
}

#endif
