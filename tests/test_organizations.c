/* Every page-table organization against the contract of src/pt/pt.h, and
 * against a reference model and radix.
 *
 * Three parts, each run over every organization in vmsim_pt_names plus the
 * option variants of the table below (a row runs only when pt_find knows
 * its organization, so a new organization is picked up when the registry
 * lists it):
 *
 *  1. Conformance, at the pt_ops level: round trips, swap entries, page
 *     sizes and their conflicts, walks (the entry, its level, references
 *     into memory the organization owns), visits, homonyms across address
 *     spaces with shared state, destroying, frames given back, running out
 *     of simulated frames, and the kernel's reclaim calling back into the
 *     organization from inside one of its own allocations.
 *  2. Differential, at the pt_ops level: a seeded random sequence of maps,
 *     unmaps, updates, walks and visits over three address spaces applied
 *     to the organization and to a model that is a plain hash of (space,
 *     level, virtual page) -> entry; after every operation the lookups must
 *     agree, and every so often whole visits.
 *  3. Whole simulator: the same event streams through vmsim_run with
 *     cfg.pt naming each organization must translate exactly as radix does:
 *     the organization changes the cost of a walk and the memory page
 *     tables take, never what is translated. (Radix itself is refereed by
 *     the reference model of test_differential, not here.)
 *
 * What the suite takes as the contract, beyond the comments of pt.h, comes
 * from how the kernel uses the interface (src/os): it is said where it is
 * checked. In short: an address space is told apart by env->space, never by
 * the asid argument (a process maps with asid 0 before it first runs, and
 * its asid changes at ASID rollover, kernel_asid); map of a page size the
 * organization does not support is VMSIM_EEXIST (anon_fault then falls back
 * to base pages); a walk of a swapped-out leaf returns it with PTE_LEAF
 * (fault.c tells a paged-out table from a swapped page by that bit); unmap
 * and update never need a frame; reclaim may update or unmap any address
 * space from inside an allocation the organization makes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/machine.h"
#include "phys/phys.h"
#include "pt/pt.h"
#include "testutil.h"
#include "util/rng.h"
#include "vmsim/vmsim.h"

#define LV(k) (1u << (k))
#define PAGE 4096ull
#define FLAG_BITS (PTE_W | PTE_U | PTE_X | PTE_A | PTE_D)

/* ---- the organizations ------------------------------------------------------ */

/* A row runs when pt_find knows its organization. leaves: the page sizes
 * (leaf levels) it must map; ALL_LEAVES = every one the geometry has; PROBE
 * = whatever a first map of each size on an empty table says (the other
 * levels must then answer VMSIM_EEXIST). Small options make collisions and
 * resizes happen all the time. sim: the whole-simulator tests run too (not
 * for the degenerate tables whose every walk reads all entries: the
 * pt_ops-level tests cover them). */
#define ALL_LEAVES 0u
#define PROBE 0xffu

struct row {
    const char *spec;
    const char *geom;
    unsigned leaves;
    bool sim;
};

static const struct row rows[] = {
    {"radix", "x86-64", ALL_LEAVES, true},
    {"radix", "x86-32", ALL_LEAVES, true},
    {"hashed", "x86-64", PROBE, true},
    {"hashed:buckets=1", "x86-64", PROBE, true},
    {"hashed:collision=probe,buckets=2", "x86-64", PROBE, true},
    {"hashed:hash=zero", "x86-64", PROBE, false}, /* one chain: every walk reads all */
    {"hashed:scope=global", "x86-64", PROBE, true},
    {"hashed:scope=global,collision=probe,buckets=1,step=1", "x86-64", PROBE, true},
    {"hashed:load=0,buckets=1", "x86-64", PROBE, false}, /* one chain, never resized */
    {"hashed:hash=zero,collision=probe,buckets=1,step=1", "x86-64", PROBE, false},
    {"inverted", "x86-64", PROBE, true},
    {"inverted:anchors=1", "x86-64", PROBE, false},
    {"inverted:max=0", "x86-64", PROBE, true}, /* its table in a reserved region */
    /* flat: one entry per base page of the whole space; base pages only.
     * On x86-32 it takes frames, on x86-64 a reserved region. */
    {"flat", "x86-32", LV(1), true},
    {"flat", "x86-64", LV(1), true},
    {"flat:max=0", "x86-32", LV(1), true},
    {"clustered", "x86-64", PROBE, true},
    {"clustered:cluster=1,buckets=1", "x86-64", PROBE, true},
    {"clustered:buckets=1,load=0,hash=mod", "x86-64", PROBE, false},
    {"clustered:cluster=256", "x86-32", PROBE, true},
    {"cuckoo", "x86-64", PROBE, true},
    {"cuckoo:slots=1,migrate=1", "x86-64", PROBE, true},             /* elastic resizes all along */
    {"cuckoo:ways=2,slots=2,kicks=0,scale=2", "x86-64", PROBE, true}, /* rebuilds all along */
    {"cuckoo:cwt=off,slots=1,load=1", "x86-64", PROBE, true},
    /* PowerPC: the hashed table in front of per-space tables; base pages */
    {"ppc", "x86-64", LV(1), true},
    {"ppc:groups=2", "x86-64", LV(1), true}, /* evicts all the time */
};

struct org {
    char label[160]; /* "hashed:buckets=1 (x86-64)" */
    char spec[96];
    const struct pt_ops *ops;
    const char *params; /* into spec */
    struct vmsim_geometry g;
    unsigned expect;    /* row.leaves, resolved (PROBE stays) */
    unsigned leaves;    /* leaf levels a map works at */
    bool sim;           /* run the whole-simulator tests */
    int level_rc[VMSIM_MAX_LEVELS + 1]; /* first map at level k on an empty table */
    int create_rc;      /* 0, or why no test but test_create runs */
    char why[200];
};

#define MAX_ORGS 64
static struct org orgs[MAX_ORGS];
static unsigned norgs;

static unsigned shift_of(const struct vmsim_geometry *g, unsigned level)
{
    return vmsim_geometry_page_shift(g, level);
}

static bool is_radix(const struct org *o) { return o->ops == &pt_radix_ops && !*o->params; }

/* ---- the reference model: (space, level, vpn) -> entry ------------------------ */

struct mnode {
    struct mnode *next;
    uint64_t space, vpn;
    unsigned level;
    uint64_t e;
};

#define MBUCKETS 4096

struct model {
    struct mnode *b[MBUCKETS];
    size_t n;
};

static size_t mslot(uint64_t space, unsigned level, uint64_t vpn)
{
    uint64_t x = (vpn + 0x9e3779b97f4a7c15ull * space + level) * 0xbf58476d1ce4e5b9ull;
    return (size_t)(x >> 52) % MBUCKETS;
}

static struct mnode *model_get(struct model *m, uint64_t space, unsigned level, uint64_t vpn)
{
    for (struct mnode *n = m->b[mslot(space, level, vpn)]; n; n = n->next)
        if (n->space == space && n->level == level && n->vpn == vpn)
            return n;
    return NULL;
}

static void model_set(struct model *m, uint64_t space, unsigned level, uint64_t vpn, uint64_t e)
{
    struct mnode *n = model_get(m, space, level, vpn);
    if (!n) {
        n = calloc(1, sizeof *n);
        assert_non_null(n);
        *n = (struct mnode){m->b[mslot(space, level, vpn)], space, vpn, level, 0};
        m->b[mslot(space, level, vpn)] = n;
        m->n++;
    }
    n->e = e;
}

static void model_del(struct model *m, uint64_t space, unsigned level, uint64_t vpn)
{
    for (struct mnode **pp = &m->b[mslot(space, level, vpn)]; *pp; pp = &(*pp)->next) {
        struct mnode *n = *pp;
        if (n->space == space && n->level == level && n->vpn == vpn) {
            *pp = n->next;
            free(n);
            m->n--;
            return;
        }
    }
}

static void model_drop_space(struct model *m, uint64_t space)
{
    for (size_t b = 0; b < MBUCKETS; b++)
        for (struct mnode **pp = &m->b[b]; *pp;) {
            struct mnode *n = *pp;
            if (n->space == space) {
                *pp = n->next;
                free(n);
                m->n--;
            } else {
                pp = &n->next;
            }
        }
}

static void model_free(struct model *m)
{
    for (size_t b = 0; b < MBUCKETS; b++)
        while (m->b[b]) {
            struct mnode *n = m->b[b];
            m->b[b] = n->next;
            free(n);
        }
    m->n = 0;
}

/* What a map stores (radix.c, the reference): a present leaf, or with
 * PTE_SWAP a non-present one; PTE_LEAF either way. */
static uint64_t stored(uint64_t pte)
{
    return (pte & PTE_SWAP) ? (pte | PTE_LEAF) & ~PTE_P : pte | PTE_P | PTE_LEAF;
}

/* ---- a world: memory, address spaces, frames to map -------------------------- */

#define NSPACE 4
#define NBASE 256

struct world {
    const struct org *o;
    const struct vmsim_geometry *g;
    struct phys phys;
    void *shared;
    struct pt_counters counters;
    uint64_t next_space;
    struct pt *pt[NSPACE];
    uint64_t id[NSPACE];
    vmsim_asid_t asid[NSPACE];
    uint64_t used0; /* frames in use before any address space */
    vmsim_pfn_t base[NBASE];
    unsigned nbase;
    vmsim_pfn_t block[VMSIM_MAX_LEVELS + 1]; /* a frame block per huge level */
    struct model m;
    struct rng rng;
    uint64_t step;     /* operations so far, for messages */
    uint64_t replaced; /* the entry the last successful map replaced (0: none) */
    uint64_t reserved; /* walk references beyond simulated memory */
    /* Walks that read nothing: counted, reported at the end, so that the
     * rest of a test still runs. */
    uint64_t bad_walks;
    char bad_walk[160];
    /* test_reclaim_reentry */
    vmsim_pfn_t busy;
    vmsim_pfn_t ballast[1024];
    unsigned nballast;
    uint64_t slot;
    unsigned in_map, reclaims, reentries;
};

#define CHECK(w, cond, ...)                                                                  \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            char msg_[512];                                                                  \
            snprintf(msg_, sizeof msg_, __VA_ARGS__);                                        \
            fail_msg("%s, step %llu: %s", (w)->o->label, (unsigned long long)(w)->step, msg_); \
        }                                                                                    \
    } while (0)

static uint64_t rnd(struct world *w, uint64_t n) { return rng_next(&w->rng) % n; }

/* Worlds still open when a check fails (cmocka leaves the test there):
 * freed by the teardown, so that the sanitizer's leak report shows the
 * organization's leaks only. */
static struct world *open_worlds[4];

static void world_track(struct world *w, bool open)
{
    for (unsigned i = 0; i < 4; i++)
        if (open_worlds[i] == (open ? NULL : w)) {
            open_worlds[i] = open ? w : NULL;
            return;
        }
}

static int teardown_worlds(void **state)
{
    for (unsigned i = 0; i < 4; i++) {
        struct world *w = open_worlds[i];
        if (!w)
            continue;
        for (unsigned s = 0; s < NSPACE; s++)
            pt_destroy(w->pt[s]);
        if (w->shared && w->o->ops->shared_destroy)
            w->o->ops->shared_destroy(w->shared);
        model_free(&w->m);
        phys_fini(&w->phys);
        free(w);
        open_worlds[i] = NULL;
    }
    return 0;
}

/* Memory of `frames` frames; blocks: one frame block per huge level of the
 * geometry (biggest first, so alignment wastes nothing), nbase base frames.
 * These are real frames: an organization may look at the frame a leaf
 * names (an inverted table is indexed by it). */
static struct world *world_open(const struct org *o, uint64_t frames, bool blocks, unsigned nbase,
                                uint64_t seed)
{
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->o = o;
    w->g = &o->g;
    w->busy = UINT64_MAX;
    rng_seed(&w->rng, seed);
    assert_int_equal(phys_init(&w->phys, frames << o->g.page_shift, o->g.page_shift), VMSIM_OK);
    for (unsigned k = o->g.levels; blocks && k > 1; k--)
        if (o->g.leaf_levels & LV(k))
            assert_int_equal(
                phys_alloc(&w->phys, shift_of(&o->g, k) - o->g.page_shift, 0, &w->block[k]),
                VMSIM_OK);
    for (w->nbase = 0; w->nbase < nbase; w->nbase++)
        assert_int_equal(phys_alloc(&w->phys, 0, 0, &w->base[w->nbase]), VMSIM_OK);
    w->used0 = w->phys.used;
    world_track(w, true);
    return w;
}

static int world_space(struct world *w, unsigned slot)
{
    const struct pt_env env = {w->g, &w->phys, w->o->params, &w->shared, ++w->next_space,
                               &w->counters};
    struct pt *p = NULL;
    int rc = pt_create(w->o->ops, &env, &p);
    if (rc == 0) {
        CHECK(w, p != NULL, "create succeeded without a table");
        w->pt[slot] = p;
        w->id[slot] = env.space;
    }
    return rc;
}

static void world_drop(struct world *w, unsigned slot)
{
    pt_destroy(w->pt[slot]);
    w->pt[slot] = NULL;
    model_drop_space(&w->m, w->id[slot]);
}

/* Destroy everything; the frames must all be back. */
static void world_close(struct world *w)
{
    for (unsigned s = 0; s < NSPACE; s++)
        if (w->pt[s])
            world_drop(w, s);
    if (w->shared) {
        CHECK(w, w->o->ops->shared_destroy != NULL, "shared state but no shared_destroy");
        w->o->ops->shared_destroy(w->shared);
        w->shared = NULL;
    }
    CHECK(w, w->phys.used == w->used0, "%llu frames in use after destroying everything, %llu before",
          (unsigned long long)w->phys.used, (unsigned long long)w->used0);
    /* The page-table memory count behind page_tables.peak_bytes: every
     * byte an organization accounted (frames and tables outside memory)
     * given back (after failed allocations too). */
    CHECK(w, w->phys.pt_bytes == 0 && w->phys.pt_nonroot_bytes == 0,
          "%llu page-table bytes (%llu without roots) counted after destroying everything",
          (unsigned long long)w->phys.pt_bytes, (unsigned long long)w->phys.pt_nonroot_bytes);
    CHECK(w, w->phys.pt_peak >= w->phys.pt_nonroot_peak,
          "page-table peak %llu, without roots %llu", (unsigned long long)w->phys.pt_peak,
          (unsigned long long)w->phys.pt_nonroot_peak);
    for (unsigned i = 0; i < w->nbase; i++)
        phys_put(&w->phys, w->base[i]);
    for (unsigned k = 0; k <= VMSIM_MAX_LEVELS; k++)
        if (w->block[k])
            phys_put(&w->phys, w->block[k]);
    model_free(&w->m);
    phys_fini(&w->phys);
    CHECK(w, !w->bad_walks, "%llu walks made no memory reference; first: %s",
          (unsigned long long)w->bad_walks, w->bad_walk);
    world_track(w, false);
    free(w);
}

static uint64_t frame_entry(vmsim_pfn_t pfn) { return (uint64_t)pfn << PTE_PFN_SHIFT; }

/* A present entry for a page of `level`: a pool frame, flags at random; a
 * base page is now and then the shared zero frame (PTE_ZERO, read-only),
 * mapped at many places at once. */
static uint64_t data_pte(struct world *w, unsigned level)
{
    uint64_t flags = rng_next(&w->rng) & FLAG_BITS;
    if (level > 1)
        return frame_entry(w->block[level]) | flags;
    if (rnd(w, 8) == 0)
        return frame_entry(w->base[0]) | PTE_ZERO | (flags & ~PTE_W);
    return frame_entry(w->base[1 + rnd(w, w->nbase - 1)]) | flags;
}

/* A swap entry: the slot in the frame field. */
static uint64_t swap_pte(struct world *w)
{
    return frame_entry(1 + rnd(w, 1u << 20)) | PTE_SWAP | (rng_next(&w->rng) & (PTE_W | PTE_U | PTE_X));
}

/* ---- the model's view --------------------------------------------------------- */

static uint64_t model_find(struct world *w, uint64_t space, vmsim_vaddr_t va, unsigned *level)
{
    for (unsigned k = 1; k <= w->g->levels; k++) {
        if (!(w->g->leaf_levels & LV(k)))
            continue;
        struct mnode *n = model_get(&w->m, space, k, va >> shift_of(w->g, k));
        if (n) {
            *level = k;
            return n->e;
        }
    }
    *level = 0;
    return 0;
}

/* A leaf of another size overlaps the page of `level` at va. */
static bool model_conflict(struct world *w, uint64_t space, vmsim_vaddr_t va, unsigned level)
{
    const unsigned s = shift_of(w->g, level);
    for (unsigned k = level + 1; k <= w->g->levels; k++)
        if (model_get(&w->m, space, k, va >> shift_of(w->g, k)))
            return true;
    if (level == 1)
        return false;
    for (size_t b = 0; b < MBUCKETS; b++)
        for (struct mnode *n = w->m.b[b]; n; n = n->next)
            if (n->space == space && n->level < level &&
                (n->vpn << shift_of(w->g, n->level)) >> s == va >> s)
                return true;
    return false;
}

/* ---- checks -------------------------------------------------------------------- */

static void check_lookup(struct world *w, unsigned slot, vmsim_vaddr_t va)
{
    unsigned lw, lg = 0;
    const uint64_t want = model_find(w, w->id[slot], va, &lw);
    const uint64_t got = pt_lookup(w->pt[slot], w->asid[slot], va, &lg);
    CHECK(w, got == want && (!want || lg == lw),
          "lookup(space %llu, va %#llx) = %#llx at level %u, want %#llx at level %u",
          (unsigned long long)w->id[slot], (unsigned long long)va, (unsigned long long)got, lg,
          (unsigned long long)want, lw);
    /* the level pointer is optional (kernel_lookup passes NULL) */
    CHECK(w, pt_lookup(w->pt[slot], w->asid[slot], va, NULL) == want, "lookup without a level");
}

/* The first frame of the block in use that holds frame pfn (a block's
 * metadata sits in its first frame), or pfn when none does. */
static vmsim_pfn_t block_of(const struct phys *phys, vmsim_pfn_t pfn)
{
    for (unsigned o = 0; o < 32; o++) {
        const vmsim_pfn_t h = pfn & ~((1ull << o) - 1);
        const struct frame *f = &phys->frame[h];
        if (f->refcount && h + (1ull << f->order) > pfn)
            return h;
    }
    return pfn;
}

/* A walk reference must read memory the organization owns: a page-table
 * frame in use, or (organizations that document a reserved region) an
 * address beyond simulated memory. Never a data frame, a free frame or a
 * frame that was never allocated. */
static void check_ref(struct world *w, vmsim_paddr_t pa)
{
    const uint64_t pfn = pa >> w->phys.page_shift;
    if (pfn >= w->phys.nframes) {
        w->reserved++;
        return;
    }
    CHECK(w, pfn < w->phys.next, "walk reference %#llx in a frame never allocated",
          (unsigned long long)pa);
    const struct frame *f = phys_frame(&w->phys, block_of(&w->phys, pfn));
    CHECK(w, f->refcount > 0 && (f->flags & FRAME_PT),
          "walk reference %#llx in frame %llu: refcount %u flags %#x, not a page-table frame",
          (unsigned long long)pa, (unsigned long long)pfn, f->refcount, f->flags);
}

/* pt_walk of va against the model: the entry lookup gives, with PTE_A set
 * when present (the walk sets it, and lookup sees it afterwards); its
 * level; at least one reference, each in memory the organization owns;
 * top 0 when the organization is not a tree; the same references when
 * walked again; for a tree, the same leaf from every table the walk
 * passed (a page-walk cache's start). */
static void check_walk(struct world *w, unsigned slot, vmsim_vaddr_t va)
{
    struct pt *p = w->pt[slot];
    const uint64_t space = w->id[slot];
    unsigned lw;
    uint64_t want = model_find(w, space, va, &lw);
    if (want & PTE_P) {
        want |= PTE_A;
        model_set(&w->m, space, lw, va >> shift_of(w->g, lw), want);
    }
    struct walk a, b;
    memset(&a, 0xa5, sizeof a);
    pt_walk(p, w->asid[slot], va, NULL, &a);
    CHECK(w, a.pte == want && (!want || a.level == lw),
          "walk(space %llu, va %#llx): entry %#llx level %u, want %#llx level %u",
          (unsigned long long)space, (unsigned long long)va, (unsigned long long)a.pte, a.level,
          (unsigned long long)want, lw);
    /* More references than struct walk holds is allowed (a chain of N
     * entries costs N: the first WALK_MAX_REFS are recorded); none is not. */
    if (a.nrefs < 1 && !w->bad_walks++)
        snprintf(w->bad_walk, sizeof w->bad_walk, "step %llu: walk(space %llu, %#llx) made %u references",
                 (unsigned long long)w->step, (unsigned long long)space, (unsigned long long)va,
                 a.nrefs);
    for (unsigned i = 0; i < a.nrefs && i < WALK_MAX_REFS; i++)
        check_ref(w, a.ref[i].pa);
    if (w->o->ops->tree)
        CHECK(w, a.top >= 1 && a.top <= w->g->levels && (!want || a.top >= a.level),
              "tree walk top %u", a.top);
    else
        CHECK(w, a.top == 0, "walk top %u: not a tree, must be 0", a.top);
    check_lookup(w, slot, va);

    /* Again, from an empty walk start: the same entry. (The references
     * may differ: an incremental resize migrates entries at every
     * operation, a hashed table in front of others refills on a miss.) */
    const struct walk_start none = {0, NULL};
    memset(&b, 0x5a, sizeof b);
    pt_walk(p, w->asid[slot], va, &none, &b);
    CHECK(w, b.pte == a.pte, "a second walk of %#llx gives %#llx (%u references)",
          (unsigned long long)va, (unsigned long long)b.pte, b.nrefs);
    for (unsigned i = 0; i < b.nrefs && i < WALK_MAX_REFS; i++)
        check_ref(w, b.ref[i].pa);
    if (!w->o->ops->tree || !want)
        return;
    for (unsigned k = a.level; k <= a.top; k++) {
        const struct walk_start s = {k, a.table[k]};
        pt_walk(p, w->asid[slot], va, &s, &b);
        const unsigned n = k - a.level + 1;
        CHECK(w, b.pte == a.pte && b.level == a.level && b.nrefs == n,
              "walk of %#llx from the level-%u table: entry %#llx level %u refs %u",
              (unsigned long long)va, k, (unsigned long long)b.pte, b.level, b.nrefs);
        for (unsigned i = 0; i < n; i++)
            CHECK(w, b.ref[i].pa == a.ref[a.nrefs - n + i].pa, "walk from level %u: reference %u", k, i);
    }
}

struct vleaf {
    uint64_t va;
    unsigned level;
    uint64_t e;
};

struct vlist {
    struct vleaf *v;
    size_t n, cap;
    size_t stop_at; /* return stop_rc at this call (1-based); 0: never */
    int stop_rc;
};

static int collect_leaf(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t pte)
{
    struct vlist *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        assert_non_null(l->v);
    }
    l->v[l->n++] = (struct vleaf){va, level, pte};
    return l->n == l->stop_at ? l->stop_rc : 0;
}

static int vleaf_cmp(const void *a, const void *b)
{
    const struct vleaf *x = a, *y = b;
    if (x->va != y->va)
        return x->va < y->va ? -1 : 1;
    return (int)x->level - (int)y->level;
}

/* pt_visit(lo, hi) reports exactly the model's leaves of the space that
 * overlap [lo, hi) (radix's rule: a huge page reaching into the range
 * counts), each once, at its page's base. Order is free. */
static void check_visit(struct world *w, unsigned slot, vmsim_vaddr_t lo, vmsim_vaddr_t hi)
{
    struct vlist got = {0}, want = {0};
    int rc = pt_visit(w->pt[slot], w->asid[slot], lo, hi, collect_leaf, &got);
    CHECK(w, rc == 0, "visit returned %d", rc);
    for (size_t b = 0; b < MBUCKETS; b++)
        for (struct mnode *n = w->m.b[b]; n; n = n->next) {
            const unsigned s = shift_of(w->g, n->level);
            const uint64_t va = n->vpn << s;
            if (n->space == w->id[slot] && va < hi && va + (1ull << s) - 1 >= lo)
                collect_leaf(&want, va, n->level, n->e);
        }
    if (got.n)
        qsort(got.v, got.n, sizeof *got.v, vleaf_cmp);
    if (want.n)
        qsort(want.v, want.n, sizeof *want.v, vleaf_cmp);
    for (size_t i = 0; i < got.n || i < want.n; i++) {
        if (i < got.n && i < want.n && got.v[i].va == want.v[i].va &&
            got.v[i].level == want.v[i].level && got.v[i].e == want.v[i].e)
            continue;
        char g[96] = "nothing", m[96] = "nothing";
        if (i < got.n)
            snprintf(g, sizeof g, "%#llx level %u entry %#llx", (unsigned long long)got.v[i].va,
                     got.v[i].level, (unsigned long long)got.v[i].e);
        if (i < want.n)
            snprintf(m, sizeof m, "%#llx level %u entry %#llx", (unsigned long long)want.v[i].va,
                     want.v[i].level, (unsigned long long)want.v[i].e);
        CHECK(w, false, "visit(space %llu, [%#llx, %#llx)): leaf %zu of %zu is %s, want %s (of %zu)",
              (unsigned long long)w->id[slot], (unsigned long long)lo, (unsigned long long)hi, i,
              got.n, g, m, want.n);
    }
    free(got.v);
    free(want.v);
}

/* Every leaf of the model through lookup, and whole visits. */
static void check_all(struct world *w)
{
    for (size_t b = 0; b < MBUCKETS; b++)
        for (struct mnode *n = w->m.b[b]; n; n = n->next)
            for (unsigned s = 0; s < NSPACE; s++)
                if (w->pt[s] && w->id[s] == n->space) {
                    const uint64_t va = n->vpn << shift_of(w->g, n->level);
                    check_lookup(w, s, va);
                    check_lookup(w, s, va + (1ull << shift_of(w->g, n->level)) - 1);
                }
    for (unsigned s = 0; s < NSPACE; s++)
        if (w->pt[s])
            check_visit(w, s, 0, UINT64_MAX);
}

/* ---- operations applied to both ------------------------------------------------- */

/* Map and check the return code against the model: VMSIM_EEXIST when a
 * leaf of another size overlaps the page, or at a level the organization
 * does not map (what the probe saw); else done. */
static int do_map(struct world *w, unsigned slot, vmsim_vaddr_t va, unsigned level, uint64_t pte)
{
    const uint64_t space = w->id[slot];
    int want = VMSIM_OK;
    if (!(w->o->leaves & LV(level)))
        want = w->o->level_rc[level];
    else if (model_conflict(w, space, va, level))
        want = VMSIM_EEXIST;
    w->in_map++;
    const int rc = pt_map(w->pt[slot], w->asid[slot], va, level, pte);
    w->in_map--;
    if (rc == VMSIM_ENOFRAME && want == VMSIM_OK)
        return rc; /* the caller decides whether that may happen */
    CHECK(w, rc == want, "map(space %llu, va %#llx, level %u, %#llx) = %d, want %d",
          (unsigned long long)space, (unsigned long long)va, level, (unsigned long long)pte, rc, want);
    if (rc == 0) {
        /* read now: reclaim may have changed it during the map */
        unsigned lw;
        w->replaced = model_find(w, space, va, &lw);
        model_set(&w->m, space, level, va >> shift_of(w->g, level), stored(pte));
    }
    return rc;
}

static uint64_t do_unmap(struct world *w, unsigned slot, vmsim_vaddr_t va)
{
    const uint64_t space = w->id[slot];
    unsigned lw;
    const uint64_t want = model_find(w, space, va, &lw);
    uint64_t old = 0xdeadull;
    const int rc = pt_unmap(w->pt[slot], w->asid[slot], va, &old);
    CHECK(w, rc == (want ? VMSIM_OK : VMSIM_ENOENT) && old == want,
          "unmap(space %llu, va %#llx) = %d, old %#llx, want %#llx", (unsigned long long)space,
          (unsigned long long)va, rc, (unsigned long long)old, (unsigned long long)want);
    if (want)
        model_del(&w->m, space, lw, va >> shift_of(w->g, lw));
    return want;
}

static void do_update(struct world *w, unsigned slot, vmsim_vaddr_t va, uint64_t set, uint64_t clear)
{
    const uint64_t space = w->id[slot];
    unsigned lw;
    const uint64_t e = model_find(w, space, va, &lw);
    const int rc = pt_update(w->pt[slot], w->asid[slot], va, set, clear);
    CHECK(w, rc == (e ? VMSIM_OK : VMSIM_ENOENT),
          "update(space %llu, va %#llx, set %#llx, clear %#llx) = %d on %#llx",
          (unsigned long long)space, (unsigned long long)va, (unsigned long long)set,
          (unsigned long long)clear, rc, (unsigned long long)e);
    if (e)
        model_set(&w->m, space, lw, va >> shift_of(w->g, lw), ((e | set) & ~clear) | PTE_LEAF);
}

/* The kernel's eviction: a present entry becomes the swap entry swp, in
 * place (reclaim.c, unmap_all). */
static uint64_t evict_entry(struct world *w)
{
    return frame_entry(1 + rnd(w, 1u << 20)) | PTE_SWAP | PTE_LEAF;
}

/* ---- organizations: resolve the table ------------------------------------------ */

static bool resolve(struct org *o, const char *spec, const char *geom, unsigned leaves)
{
    memset(o, 0, sizeof *o);
    snprintf(o->spec, sizeof o->spec, "%s", spec);
    o->ops = pt_find(o->spec, &o->params);
    if (!o->ops)
        return false;
    snprintf(o->label, sizeof o->label, "%s (%s)", spec, geom);
    if (vmsim_geometry_preset(geom, &o->g) != VMSIM_OK)
        return false;
    o->expect = leaves == ALL_LEAVES ? o->g.leaf_levels : leaves;
    if (o->ops->check && (o->create_rc = o->ops->check(o->params, o->why, sizeof o->why)) != 0)
        return true;
    /* What a first map at each level of an empty table gives. */
    struct phys phys;
    struct pt_counters counters = {0};
    void *shared = NULL;
    struct pt *p = NULL;
    phys_init(&phys, 4ull << 30, o->g.page_shift);
    vmsim_pfn_t pfn[VMSIM_MAX_LEVELS + 1] = {0};
    for (unsigned k = o->g.levels; k >= 1; k--)
        if (o->g.leaf_levels & LV(k))
            phys_alloc(&phys, shift_of(&o->g, k) - o->g.page_shift, 0, &pfn[k]);
    const struct pt_env env = {&o->g, &phys, o->params, &shared, 1, &counters};
    if ((o->create_rc = pt_create(o->ops, &env, &p)) != 0) {
        snprintf(o->why, sizeof o->why, "create: %s", vmsim_strerror(o->create_rc));
    } else {
        for (unsigned k = 1; k <= o->g.levels; k++) {
            if (!(o->g.leaf_levels & LV(k)))
                continue;
            const vmsim_vaddr_t va = 5ull << shift_of(&o->g, o->g.levels);
            o->level_rc[k] = pt_map(p, 0, va & ((1ull << o->g.va_bits) - 1), k,
                                    frame_entry(pfn[k]) | PTE_W);
            if (o->level_rc[k] == 0) {
                o->leaves |= LV(k);
                pt_unmap(p, 0, va & ((1ull << o->g.va_bits) - 1), NULL);
            }
        }
        pt_destroy(p);
    }
    if (shared && o->ops->shared_destroy)
        o->ops->shared_destroy(shared);
    phys_fini(&phys);
    return true;
}

static void resolve_all(void)
{
    for (size_t r = 0; r < sizeof rows / sizeof rows[0] && norgs < MAX_ORGS; r++)
        if (resolve(&orgs[norgs], rows[r].spec, rows[r].geom, rows[r].leaves)) {
            orgs[norgs].sim = rows[r].sim;
            norgs++;
        }
    /* Organizations the table does not know yet: their defaults on x86-64,
     * or on x86-32 when they cannot take a 48-bit space. */
    for (const char *const *n = vmsim_pt_names; *n && norgs < MAX_ORGS; n++) {
        bool known = false;
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
            known |= !strcmp(rows[r].spec, *n);
        if (known)
            continue;
        if (resolve(&orgs[norgs], *n, "x86-64", PROBE) && orgs[norgs].create_rc) {
            struct org small;
            if (resolve(&small, *n, "x86-32", PROBE) && !small.create_rc) {
                orgs[norgs] = small;
                orgs[norgs].params = orgs[norgs].spec + (small.params - small.spec);
            }
        }
        orgs[norgs].sim = true;
        if (orgs[norgs].ops)
            norgs++;
    }
}

/* ---- 1. conformance --------------------------------------------------------------- */

/* The organization accepts its options and creates an address space; it
 * rejects options it does not know, cleanly; the page sizes it maps are
 * the ones expected, and the others give VMSIM_EEXIST (anon_fault falls
 * back to base pages on exactly that). */
static void test_create(void **state)
{
    const struct org *o = *state;
    if (o->create_rc)
        fail_msg("%s: %s", o->label, o->why);
    struct world *w = world_open(o, 1ull << 20, false, 4, 1);
    assert_int_equal(world_space(w, 0), VMSIM_OK);
    /* unknown options */
    char bad[128];
    snprintf(bad, sizeof bad, "%s%sno-such-option=1", o->params, *o->params ? "," : "");
    if (o->ops->check) {
        char why[160] = "";
        CHECK(w, o->ops->check(bad, why, sizeof why) < 0, "check accepts \"%s\"", bad);
    }
    const struct pt_env env = {w->g, &w->phys, bad, &w->shared, ++w->next_space, &w->counters};
    struct pt *p = NULL;
    const uint64_t used = w->phys.used;
    const int rc = pt_create(o->ops, &env, &p);
    CHECK(w, rc < 0, "create with \"%s\" = %d", bad, rc);
    CHECK(w, w->phys.used == used, "a refused create kept %llu frames",
          (unsigned long long)(w->phys.used - used));
    /* page sizes */
    for (unsigned k = 1; k <= w->g->levels; k++) {
        if (!(w->g->leaf_levels & LV(k)))
            continue;
        if (o->expect != PROBE)
            CHECK(w, !!(o->leaves & LV(k)) == !!(o->expect & LV(k)),
                  "a first map of level %u gives %d (%s)", k, o->level_rc[k],
                  vmsim_strerror(o->level_rc[k]));
        if (!(o->leaves & LV(k)))
            CHECK(w, o->level_rc[k] == VMSIM_EEXIST,
                  "a map at level %u, which it does not map, gives %d, not VMSIM_EEXIST", k,
                  o->level_rc[k]);
    }
    CHECK(w, o->leaves & LV(1), "base pages do not map");
    if (!(o->leaves & ~LV(1)) && (w->g->leaf_levels & ~LV(1)))
        print_message("note: %s maps base pages only\n", o->label);
    world_close(w);
}

/* Map, lookup, update, unmap on one address space: present and swapped
 * leaves, same-size replacement in every direction, the eviction update
 * (present to swap, in place), absent pages, the edges of the space. */
static void test_round_trip(void **state)
{
    const struct org *o = *state;
    struct world *w = world_open(o, 1ull << 20, true, NBASE, 2);
    assert_int_equal(world_space(w, 0), VMSIM_OK);
    w->asid[0] = 3;
    const uint64_t top = (1ull << w->g->va_bits) - PAGE;
    const vmsim_vaddr_t A = 0x7f0000ull & (top - 1), B = A + PAGE;

    CHECK(w, do_map(w, 0, A, 1, frame_entry(w->base[7]) | PTE_W | PTE_U) == 0, "map A");
    check_lookup(w, 0, A);
    check_lookup(w, 0, A + 123);
    check_lookup(w, 0, A + PAGE - 1);
    check_lookup(w, 0, B);
    check_lookup(w, 0, A - 1);
    /* replace: another frame, other flags */
    CHECK(w, do_map(w, 0, A, 1, frame_entry(w->base[8]) | PTE_X | PTE_A) == 0, "replace A");
    check_lookup(w, 0, A);
    do_update(w, 0, A, PTE_D | PTE_W, PTE_X);
    check_lookup(w, 0, A);
    do_update(w, 0, B, PTE_D, 0); /* absent: VMSIM_ENOENT */
    /* a swapped-out page keeps its place and is found */
    CHECK(w, do_map(w, 0, B, 1, frame_entry(77) | PTE_SWAP | PTE_W) == 0, "map swap B");
    check_lookup(w, 0, B);
    CHECK(w, !(pt_lookup(w->pt[0], 3, B, NULL) & PTE_P), "a swap entry is present");
    do_update(w, 0, B, PTE_X, PTE_W); /* mprotect of a swapped page */
    check_lookup(w, 0, B);
    CHECK(w, do_map(w, 0, B, 1, frame_entry(w->base[9]) | PTE_W) == 0, "swap -> present");
    check_lookup(w, 0, B);
    CHECK(w, do_map(w, 0, B, 1, frame_entry(78) | PTE_SWAP) == 0, "present -> swap");
    check_lookup(w, 0, B);
    const uint64_t swp = evict_entry(w);
    do_update(w, 0, A, swp, ~swp); /* eviction: present -> swap, in place */
    check_lookup(w, 0, A);
    CHECK(w, pt_lookup(w->pt[0], 3, A, NULL) == swp, "evicted entry %#llx",
          (unsigned long long)pt_lookup(w->pt[0], 3, A, NULL));
    check_walk(w, 0, A);
    check_walk(w, 0, B);
    do_unmap(w, 0, A);
    do_unmap(w, 0, A); /* absent: VMSIM_ENOENT, old 0 */
    check_lookup(w, 0, A);
    check_lookup(w, 0, B);
    CHECK(w, pt_unmap(w->pt[0], 3, B, NULL) == 0, "unmap without old");
    model_del(&w->m, w->id[0], 1, B >> 12);
    check_lookup(w, 0, B);
    /* the edges: page 0 and the last page of the space */
    for (int i = 0; i < 2; i++) {
        const vmsim_vaddr_t va = i ? top : 0;
        CHECK(w, do_map(w, 0, va, 1, frame_entry(w->base[10 + i]) | PTE_U) == 0, "map %#llx",
              (unsigned long long)va);
        check_walk(w, 0, va);
    }
    check_all(w);
    /* many pages: contiguous runs and scattered ones, then all gone */
    for (unsigned i = 0; i < 600; i++) {
        const vmsim_vaddr_t va = i < 300 ? 0x40000000ull + i * PAGE : (rng_next(&w->rng) & top);
        w->step++;
        if (model_conflict(w, w->id[0], va, 1))
            continue;
        CHECK(w, do_map(w, 0, va, 1, i % 5 ? data_pte(w, 1) : swap_pte(w)) == 0, "map %u", i);
    }
    check_all(w);
    for (size_t b = 0; b < MBUCKETS; b++)
        while (w->m.b[b]) {
            const struct mnode *n = w->m.b[b];
            const vmsim_vaddr_t va = n->vpn << 12;
            w->step++;
            do_unmap(w, 0, va + rnd(w, PAGE));
            check_lookup(w, 0, va);
        }
    check_visit(w, 0, 0, UINT64_MAX);
    world_close(w);
}

/* Page sizes: a huge leaf covers its whole page (lookup, walk, unmap from
 * its middle); a leaf of another size over any part of it is VMSIM_EEXIST
 * and changes nothing, in both directions; the same size replaces. Levels
 * the geometry has no leaves at are refused. */
static void test_page_sizes(void **state)
{
    const struct org *o = *state;
    struct world *w = world_open(o, 1ull << 20, true, NBASE, 3);
    assert_int_equal(world_space(w, 0), VMSIM_OK);
    const struct vmsim_geometry *g = w->g;
    for (unsigned k = 0; k <= g->levels + 1u; k++) {
        if (k >= 1 && k <= g->levels && (g->leaf_levels & LV(k)))
            continue;
        const uint64_t used = w->phys.used;
        const int rc = pt_map(w->pt[0], 0, 0x400000, k, frame_entry(w->base[1]));
        CHECK(w, rc < 0, "map at level %u, not a leaf level of %s, = %d", k, g->name, rc);
        CHECK(w, w->phys.used == used, "a refused map kept frames");
        check_lookup(w, 0, 0x400000);
    }
    for (unsigned k = 2; k <= g->levels; k++) {
        if (!(g->leaf_levels & LV(k)))
            continue;
        const unsigned s = shift_of(g, k);
        const uint64_t size = 1ull << s;
        const vmsim_vaddr_t va = (3ull << shift_of(g, g->levels)) + 2 * size;
        w->step = k * 100;
        if (!(o->leaves & LV(k))) {
            do_map(w, 0, va, k, data_pte(w, k)); /* VMSIM_EEXIST, nothing mapped */
            check_lookup(w, 0, va);
            check_visit(w, 0, 0, UINT64_MAX);
            continue;
        }
        do_map(w, 0, va, k, data_pte(w, k));
        for (uint64_t off = 0; off < size; off += size / 4 - PAGE / 2)
            check_lookup(w, 0, va + off);
        check_lookup(w, 0, va + size - 1);
        check_lookup(w, 0, va + size);
        check_lookup(w, 0, va - 1);
        check_walk(w, 0, va + size / 2 + 8);
        /* smaller and larger pages over it */
        for (unsigned j = 1; j <= g->levels; j++)
            if (j != k && (o->leaves & LV(j))) {
                const vmsim_vaddr_t at = j < k ? va + size - (1ull << shift_of(g, j)) : va;
                do_map(w, 0, at, j, data_pte(w, j));
                check_lookup(w, 0, at);
            }
        do_map(w, 0, va, k, data_pte(w, k)); /* same size: replaces */
        check_lookup(w, 0, va + 5);
        do_map(w, 0, va, k, swap_pte(w)); /* a swapped huge page */
        check_walk(w, 0, va + size - 8);
        check_visit(w, 0, va + size / 2, va + size / 2 + 1); /* a range inside it */
        do_unmap(w, 0, va + size / 3); /* from its middle */
        check_lookup(w, 0, va);
        /* base pages in the block, then the huge page over them */
        do_map(w, 0, va + size - PAGE, 1, data_pte(w, 1));
        do_map(w, 0, va, k, data_pte(w, k)); /* VMSIM_EEXIST */
        check_lookup(w, 0, va);
        check_lookup(w, 0, va + size - PAGE);
        do_unmap(w, 0, va + size - PAGE);
        do_map(w, 0, va, k, data_pte(w, k)); /* now fine */
        check_lookup(w, 0, va + size - PAGE);
        check_all(w);
    }
    world_close(w);
}

/* Walks of present, swapped, zero-frame, huge and absent pages in two
 * address spaces (see check_walk). A walk of a swapped leaf returns it
 * with PTE_LEAF: fault.c takes a walk that ends in PTE_SWAP without
 * PTE_LEAF for a page table that is out. */
static void test_walk(void **state)
{
    const struct org *o = *state;
    struct world *w = world_open(o, 1ull << 20, true, NBASE, 4);
    assert_int_equal(world_space(w, 0), VMSIM_OK);
    assert_int_equal(world_space(w, 1), VMSIM_OK);
    w->asid[1] = 1;
    const vmsim_vaddr_t r = 1ull << (w->g->va_bits - 2);
    check_walk(w, 0, r); /* an empty address space: still a reference */
    for (unsigned s = 0; s < 2; s++) {
        do_map(w, s, r, 1, frame_entry(w->base[3 + s]) | PTE_W | PTE_U); /* no PTE_A yet */
        do_map(w, s, r + PAGE, 1, frame_entry(5 + s) | PTE_SWAP | PTE_W);
        do_map(w, s, r + 2 * PAGE, 1, frame_entry(w->base[0]) | PTE_ZERO | PTE_U);
        for (unsigned k = 2; k <= w->g->levels; k++)
            if (o->leaves & LV(k))
                do_map(w, s, (vmsim_vaddr_t)k << shift_of(w->g, w->g->levels), k,
                       s ? swap_pte(w) : data_pte(w, k) & ~PTE_A);
    }
    CHECK(w, !(pt_lookup(w->pt[0], 0, r, NULL) & PTE_A), "PTE_A before any walk");
    check_walk(w, 0, r + 8);
    CHECK(w, pt_lookup(w->pt[0], 0, r, NULL) & PTE_A, "the walk did not set PTE_A");
    CHECK(w, !(pt_lookup(w->pt[1], 1, r, NULL) & PTE_A), "the walk set PTE_A in the other space");
    struct walk x;
    pt_walk(w->pt[0], 0, r + PAGE, NULL, &x);
    CHECK(w, (x.pte & (PTE_SWAP | PTE_LEAF | PTE_P)) == (PTE_SWAP | PTE_LEAF),
          "a walk of a swapped page gives %#llx", (unsigned long long)x.pte);
    for (unsigned s = 0; s < 2; s++) {
        for (unsigned i = 0; i < 4; i++)
            check_walk(w, s, r + i * PAGE + 16);
        for (unsigned k = 2; k <= w->g->levels; k++)
            if (o->leaves & LV(k)) {
                const vmsim_vaddr_t va = (vmsim_vaddr_t)k << shift_of(w->g, w->g->levels);
                check_walk(w, s, va);
                check_walk(w, s, va + (1ull << shift_of(w->g, k)) - 1);
            }
        check_walk(w, s, 0);
        check_walk(w, s, (1ull << w->g->va_bits) - 1);
    }
    world_close(w);
}

/* Visits: whole space, ranges, partial overlaps, stopping. */
static void test_visit(void **state)
{
    const struct org *o = *state;
    struct world *w = world_open(o, 1ull << 20, true, NBASE, 5);
    for (unsigned s = 0; s < 3; s++)
        assert_int_equal(world_space(w, s), VMSIM_OK);
    const struct vmsim_geometry *g = w->g;
    const unsigned top = shift_of(g, g->levels);
    for (unsigned i = 0; i < 400; i++) {
        const unsigned s = (unsigned)rnd(w, 3);
        unsigned k = 1 + (unsigned)rnd(w, g->levels);
        if (!(o->leaves & LV(k)) || rnd(w, 4))
            k = 1;
        const vmsim_vaddr_t va = (rnd(w, 4) << top) + (rnd(w, 64) << shift_of(g, k));
        w->step++;
        if (!model_conflict(w, w->id[s], va, k))
            do_map(w, s, va, k, rnd(w, 4) ? data_pte(w, k) : swap_pte(w));
    }
    for (unsigned i = 0; i < 200; i++) {
        const unsigned s = (unsigned)rnd(w, 3);
        const vmsim_vaddr_t lo = (rnd(w, 4) << top) + rnd(w, 1ull << 28);
        w->step++;
        check_visit(w, s, lo, lo + 1 + rnd(w, 1ull << (i % 2 ? 16 : 30)));
    }
    check_visit(w, 0, 0, UINT64_MAX);
    check_visit(w, 1, 1ull << top, 2ull << top);
    /* stop: the callback's first nonzero return ends the visit and is its
     * result (thp.c and ptshare.c read it) */
    struct vlist l = {.stop_at = 3, .stop_rc = 7};
    CHECK(w, pt_visit(w->pt[0], 0, 0, UINT64_MAX, collect_leaf, &l) == 7 && l.n == 3,
          "a visit stopped at the 3rd leaf returned after %zu", l.n);
    free(l.v);
    l = (struct vlist){.stop_at = 1, .stop_rc = VMSIM_ENOMEM};
    CHECK(w, pt_visit(w->pt[1], 0, 0, UINT64_MAX, collect_leaf, &l) == VMSIM_ENOMEM && l.n == 1,
          "a visit that failed at the first leaf went on (%zu)", l.n);
    free(l.v);
    world_close(w);
}

/* Homonyms: three address spaces map the same virtual pages to different
 * entries, at different sizes too, all through one asid argument: the
 * kernel passes 0 before a process first runs (fork maps the child then)
 * and the same number to two processes across an ASID rollover, so only
 * env->space tells them apart. Changing a space's asid argument changes
 * nothing. */
static void test_homonyms(void **state)
{
    const struct org *o = *state;
    struct world *w = world_open(o, 1ull << 20, true, NBASE, 6);
    for (unsigned s = 0; s < 3; s++)
        assert_int_equal(world_space(w, s), VMSIM_OK);
    const struct vmsim_geometry *g = w->g;
    const bool huge = o->leaves & LV(2);
    const uint64_t H = 1ull << shift_of(g, 2);
    const vmsim_vaddr_t R = 7 * H;
    for (unsigned i = 0; i < 64; i++)
        for (unsigned s = 0; s < 3; s++) {
            w->step++;
            if (s == 2 && huge && i == 0)
                do_map(w, s, R, 2, data_pte(w, 2)); /* a huge page over the others' pages */
            else if (s != 2 || !huge)
                do_map(w, s, R + i * PAGE, 1, (i + s) % 4 ? data_pte(w, 1) : swap_pte(w));
        }
    check_all(w);
    do_unmap(w, 1, R + 5 * PAGE);
    do_unmap(w, 1, R + 6 * PAGE);
    do_update(w, 0, R + 7 * PAGE, PTE_D, PTE_W);
    check_all(w);
    for (unsigned s = 0; s < 3; s++)
        for (unsigned i = 0; i < 66; i++) {
            check_lookup(w, s, R + i * PAGE);
            check_walk(w, s, R + i * PAGE);
        }
    /* new asid arguments for everyone */
    for (unsigned s = 0; s < 3; s++)
        w->asid[s] = (vmsim_asid_t)(100 + s);
    check_all(w);
    world_close(w);
}

/* Destroying an address space leaves the others as they were; a new space
 * (new id, same asid argument as the dead one) sees none of its entries;
 * with every space gone, new ones start from the same shared state; at
 * the end every frame is back. Enough pages to make tables grow. */
static void test_destroy(void **state)
{
    const struct org *o = *state;
    struct world *w = world_open(o, 1ull << 20, true, NBASE, 7);
    for (unsigned s = 0; s < 3; s++)
        assert_int_equal(world_space(w, s), VMSIM_OK);
    const uint64_t span = 1ull << (w->g->va_bits - 1);
    for (unsigned i = 0; i < 3000; i++) {
        const unsigned s = i % 3;
        const vmsim_vaddr_t va = i < 1500 ? 0x10000000ull + (i / 3) * PAGE : (rng_next(&w->rng) % span) & ~(PAGE - 1);
        w->step++;
        if (!model_conflict(w, w->id[s], va, 1))
            do_map(w, s, va, 1, data_pte(w, 1));
    }
    check_all(w);
    world_drop(w, 1);
    check_all(w);
    assert_int_equal(world_space(w, 1), VMSIM_OK);
    for (unsigned i = 0; i < 100; i++)
        check_lookup(w, 1, 0x10000000ull + i * PAGE);
    world_drop(w, 0);
    world_drop(w, 2);
    check_all(w);
    world_drop(w, 1);
    /* all gone, shared state (if any) still there: start again */
    assert_int_equal(world_space(w, 0), VMSIM_OK);
    for (unsigned i = 0; i < 100; i++)
        do_map(w, 0, 0x10000000ull + i * PAGE, 1, data_pte(w, 1));
    check_all(w);
    world_close(w);
}

/* Out of simulated frames: for every memory size from "nothing fits" to
 * "everything fits", the same script of creates, maps, unmaps and updates.
 * A create or a map may fail with VMSIM_ENOFRAME and must then leave
 * everything as it was; unmap and update never fail for want of a frame
 * (the kernel cannot undo them: kernel_unmap_page, unmap_all); the
 * organization keeps working after a failure; every frame comes back. */
static uint64_t script_no_frames(const struct org *o, uint64_t frames)
{
    struct world *w = world_open(o, frames, false, 8, 8);
    const vmsim_vaddr_t region[3] = {0x400000, 0x40000000, 1ull << (w->g->va_bits - 1)};
    unsigned failures = 0;
    for (unsigned i = 0; i < 400; i++) {
        w->step = i;
        const unsigned s = (unsigned)rnd(w, 2);
        if (!w->pt[s]) {
            const uint64_t used = w->phys.used;
            const bool had_shared = w->shared != NULL;
            const int rc = world_space(w, s);
            CHECK(w, rc == 0 || rc == VMSIM_ENOFRAME, "create = %d", rc);
            if (rc) {
                /* the machine's shared state may stay: it is not the space's */
                CHECK(w, w->phys.used == used || (!had_shared && w->shared),
                      "a failed create kept %llu frames", (unsigned long long)(w->phys.used - used));
                failures++;
                continue;
            }
        }
        const vmsim_vaddr_t va = region[rnd(w, 3)] + rnd(w, 48) * PAGE + (i % 7 == 0) * (1ull << 30);
        const unsigned op = (unsigned)rnd(w, 20);
        if (op < 11) {
            int rc = do_map(w, s, va, 1, op < 9 ? data_pte(w, 1) : swap_pte(w));
            failures += rc == VMSIM_ENOFRAME;
        } else if (op < 17) {
            do_unmap(w, s, va);
        } else {
            do_update(w, s, va, PTE_D, PTE_W);
        }
        for (unsigned t = 0; t < 2; t++)
            if (w->pt[t])
                check_lookup(w, t, va);
    }
    check_all(w);
    const uint64_t peak = w->phys.peak;
    world_close(w);
    return failures ? 0 : peak;
}

static void test_no_frames(void **state)
{
    const struct org *o = *state;
    const uint64_t peak = script_no_frames(o, 1ull << 20);
    assert_true(peak > 0);
    const uint64_t step = peak / 150 + 1;
    for (uint64_t frames = 9; frames <= peak + step; frames += step)
        script_no_frames(o, frames);
    for (uint64_t frames = peak > 12 ? peak - 3 : 9; frames <= peak; frames++)
        script_no_frames(o, frames);
}

/* The kernel's reclaim calls back into page tables from inside an
 * allocation, the organization's own included: a map that needs a frame
 * may find, on return from phys_alloc, that entries of this or any other
 * address space (with a global table, the same table) were turned into
 * swap entries in place or removed (reclaim.c, unmap_all). Data frames
 * here are real: each map takes one, reclaim frees one; memory is kept
 * full, so every allocation of the organization runs reclaim. */
static int reclaim_cb(void *ctx)
{
    struct world *w = ctx;
    const size_t start = (size_t)rnd(w, MBUCKETS);
    if (w->nballast && !rnd(w, 4)) {
        phys_put(&w->phys, w->ballast[--w->nballast]);
        return 0;
    }
    for (size_t i = 0; i < MBUCKETS; i++)
        for (struct mnode *n = w->m.b[(start + i) % MBUCKETS]; n; n = n->next) {
            if (!(n->e & PTE_P) || PTE_PFN(n->e) == w->busy)
                continue;
            unsigned s = 0;
            while (!w->pt[s] || w->id[s] != n->space)
                s++;
            const vmsim_vaddr_t va = n->vpn << w->g->page_shift;
            const vmsim_pfn_t pfn = PTE_PFN(n->e);
            w->reclaims++;
            w->reentries += w->in_map > 0;
            if (rnd(w, 2)) {
                const uint64_t swp = evict_entry(w);
                do_update(w, s, va, swp, ~swp);
            } else {
                do_unmap(w, s, va);
            }
            phys_put(&w->phys, pfn);
            return 0;
        }
    if (w->nballast) {
        phys_put(&w->phys, w->ballast[--w->nballast]);
        return 0;
    }
    return VMSIM_ENOFRAME;
}

/* Keep memory full: every frame nobody uses becomes ballast, so that every
 * allocation an organization makes runs reclaim (which mostly evicts a
 * page, sometimes gives back ballast so that pages can come in). */
static void fill_ballast(struct world *w)
{
    int (*reclaim)(void *) = w->phys.reclaim;
    w->phys.reclaim = NULL;
    vmsim_pfn_t pfn;
    while (w->nballast < sizeof w->ballast / sizeof w->ballast[0] &&
           phys_alloc(&w->phys, 0, 0, &pfn) == 0)
        w->ballast[w->nballast++] = pfn;
    w->phys.reclaim = reclaim;
}

/* Pages of the reclaim script: 64 regions of 4 pages, one leaf table
 * each in a radix tree, so tables empty and come back all the time. */
#define RECLAIM_REGIONS 64
#define RECLAIM_PAGES 4
static vmsim_vaddr_t reclaim_va(const struct world *w, uint64_t region, uint64_t page)
{
    return (1 + region) * 3 * (1ull << shift_of(w->g, 2)) + page * PAGE;
}

static void reclaim_run(struct world *w, unsigned nops)
{
    for (unsigned i = 0; i < nops; i++) {
        w->step = i;
        fill_ballast(w);
        const unsigned s = (unsigned)rnd(w, 3);
        const vmsim_vaddr_t va = reclaim_va(w, rnd(w, RECLAIM_REGIONS), rnd(w, RECLAIM_PAGES));
        const unsigned op = (unsigned)rnd(w, 20);
        if (op < 12) {
            vmsim_pfn_t pfn;
            if (phys_alloc(&w->phys, 0, 0, &pfn) != 0)
                continue;
            w->busy = pfn;
            const uint64_t pte = frame_entry(pfn) | (rng_next(&w->rng) & FLAG_BITS);
            const int rc = do_map(w, s, va, 1, pte);
            w->busy = UINT64_MAX;
            if (rc)
                phys_put(&w->phys, pfn);
            else if (w->replaced & PTE_P)
                phys_put(&w->phys, PTE_PFN(w->replaced));
        } else if (op < 14) {
            if (do_map(w, s, va, 1, swap_pte(w)) == 0 && (w->replaced & PTE_P))
                phys_put(&w->phys, PTE_PFN(w->replaced));
        } else if (op < 18) {
            const uint64_t old = do_unmap(w, s, va);
            if (old & PTE_P)
                phys_put(&w->phys, PTE_PFN(old));
        } else {
            do_update(w, s, va, rng_next(&w->rng) & FLAG_BITS, rng_next(&w->rng) & FLAG_BITS);
        }
        for (unsigned t = 0; t < 3; t++)
            check_lookup(w, t, va);
        if (i % 1000 == 999)
            check_all(w);
    }
    check_all(w);
}

/* Frames the tables of the reclaim script take with every page mapped,
 * in a memory of `frames` (some organizations size themselves from it). */
static uint64_t reclaim_tables(const struct org *o, uint64_t frames)
{
    struct world *w = world_open(o, frames, false, 0, 9);
    for (unsigned s = 0; s < 3; s++)
        assert_int_equal(world_space(w, s), VMSIM_OK);
    for (unsigned s = 0; s < 3; s++)
        for (unsigned r = 0; r < RECLAIM_REGIONS; r++)
            for (unsigned i = 0; i < RECLAIM_PAGES; i++)
                assert_int_equal(pt_map(w->pt[s], 0, reclaim_va(w, r, i), 1, frame_entry(1 + i) | PTE_SWAP),
                                 VMSIM_OK);
    const uint64_t tables = w->phys.peak;
    world_close(w);
    return tables;
}

static void test_reclaim_reentry(void **state)
{
    const struct org *o = *state;
    /* Memory: what the tables take with every page of the script mapped,
     * plus 48 frames for data (found again in that smaller memory until
     * it holds still, for tables sized from memory). */
    uint64_t frames = 1ull << 20;
    for (unsigned i = 0; i < 4; i++) {
        const uint64_t f = reclaim_tables(o, frames) + 48;
        if (f == frames)
            break;
        frames = f;
    }
    struct world *w = world_open(o, frames, false, 0, 10);
    w->phys.reclaim = reclaim_cb;
    w->phys.reclaim_ctx = w;
    for (unsigned s = 0; s < 3; s++)
        assert_int_equal(world_space(w, s), VMSIM_OK);
    reclaim_run(w, 20000);
    print_message("%s: %u reclaims, %u of them inside a map\n", o->label, w->reclaims, w->reentries);
    CHECK(w, w->reclaims > 0, "memory never ran out");
    w->phys.reclaim = NULL;
    while (w->nballast)
        phys_put(&w->phys, w->ballast[--w->nballast]);
    for (size_t b = 0; b < MBUCKETS; b++)
        for (struct mnode *n = w->m.b[b]; n; n = n->next)
            if (n->e & PTE_P)
                phys_put(&w->phys, PTE_PFN(n->e));
    world_close(w);
}

/* ---- 2. differential ------------------------------------------------------------ */

/* Tens of thousands of random operations on three address spaces over the
 * same few regions (homonyms everywhere), every page size the organization
 * maps (and, at levels it does not, the VMSIM_EEXIST it answers), swap
 * entries, the zero frame at many places, unmaps of absent pages, updates
 * of flags and evictions; now and then an address space dies and a new one
 * takes its place, and the asid arguments change (as at rollover). After
 * every operation the pages it touched are looked up in every space; every
 * 500 operations a visit of each space and of a random range; every 5000
 * every leaf of the model. */
static void test_differential(void **state)
{
    const struct org *o = *state;
    struct world *w = world_open(o, 1ull << 20, true, NBASE, 11);
    const struct vmsim_geometry *g = w->g;
    const unsigned L = g->levels, top = shift_of(g, L);
    const uint64_t H2 = 1ull << shift_of(g, 2), vmask = (1ull << g->va_bits) - 1;
    /* regions: blocks of the biggest page, at 0, at the top of the space
     * and at random places */
    vmsim_vaddr_t region[5];
    const uint64_t nblocks = 1ull << (g->va_bits - top);
    region[0] = 0;
    region[1] = (nblocks - 1) << top;
    for (unsigned r = 2; r < 5; r++)
        region[r] = rnd(w, nblocks) << top;
    for (unsigned s = 0; s < 3; s++)
        assert_int_equal(world_space(w, s), VMSIM_OK);
    const unsigned nops = 40000;
    for (unsigned i = 0; i < nops; i++) {
        w->step = i;
        const unsigned s = (unsigned)rnd(w, 3);
        const vmsim_vaddr_t base = (region[rnd(w, 5)] + rnd(w, 4) * H2) & vmask;
        vmsim_vaddr_t va = base + rnd(w, 48) * PAGE + rnd(w, PAGE);
        const unsigned op = (unsigned)rnd(w, 100);
        if (op < 38) {
            do_map(w, s, va, 1, rnd(w, 8) ? data_pte(w, 1) : swap_pte(w));
        } else if (op < 44) {
            /* a huge page of some level: it may or may not be mapped */
            unsigned k = 2 + (unsigned)rnd(w, L - 1);
            if (!(g->leaf_levels & LV(k)))
                k = 2;
            if (g->leaf_levels & LV(k)) {
                va &= ~((1ull << shift_of(g, k)) - 1);
                do_map(w, s, va, k, rnd(w, 6) ? data_pte(w, k) : swap_pte(w));
            }
        } else if (op < 68) {
            do_unmap(w, s, va);
        } else if (op < 80) {
            do_update(w, s, va, rng_next(&w->rng) & FLAG_BITS, rng_next(&w->rng) & FLAG_BITS);
        } else if (op < 84) {
            const uint64_t swp = evict_entry(w);
            unsigned lw;
            if (model_find(w, w->id[s], va, &lw) & PTE_P)
                do_update(w, s, va, swp, ~swp);
        } else if (op < 96) {
            check_walk(w, s, va);
        } else if (op < 97 && i % 7 == 0) {
            w->asid[s] = (vmsim_asid_t)rnd(w, 3);
        } else if (op < 98 && i % 23 == 0) {
            world_drop(w, s);
            assert_int_equal(world_space(w, s), VMSIM_OK);
        } else {
            check_lookup(w, s, (region[rnd(w, 5)] + rnd(w, 1ull << top)) & vmask);
        }
        for (unsigned t = 0; t < 3; t++) {
            check_lookup(w, t, va);
            check_lookup(w, t, base);
        }
        if (i % 500 == 499) {
            for (unsigned t = 0; t < 3; t++)
                check_visit(w, t, 0, UINT64_MAX);
            const vmsim_vaddr_t lo = (region[rnd(w, 5)] + rnd(w, 4 * H2)) & vmask;
            check_visit(w, s, lo, lo + rnd(w, 2 * H2) + 1);
            struct vmsim_pt_footprint fp;
            memset(&fp, 0, sizeof fp);
            for (unsigned t = 0; t < 3; t++)
                pt_footprint(w->pt[t], &fp);
            if (w->shared && o->ops->shared_footprint)
                o->ops->shared_footprint(w->shared, &fp);
            CHECK(w, fp.nparts <= VMSIM_PT_PARTS, "footprint with %u parts", fp.nparts);
        }
        if (i % 5000 == 4999)
            check_all(w);
    }
    check_all(w);
    print_message("%s: %zu leaves at the end; %llu entries migrated in %llu resizes\n", o->label,
                  w->m.n, (unsigned long long)w->counters.migrated,
                  (unsigned long long)w->counters.resizes);
    world_close(w);
}

/* ---- 3. the whole simulator ---------------------------------------------------- */

/* Event streams, made once, shared by every organization. */
struct story {
    const char *name;
    struct vmsim_event *ev;
    size_t n, cap;
};

static void story_push(struct story *s, struct vmsim_event e)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 4096;
        s->ev = realloc(s->ev, s->cap * sizeof *s->ev);
        assert_non_null(s->ev);
    }
    s->ev[s->n++] = e;
}

/* keep(i): which events of the workload to take (i counts from 0). */
static void story_workload(struct story *s, const char *spec, size_t max, size_t keep_every,
                           size_t keep_first)
{
    struct vmsim_source *src;
    struct vmsim_source_error err;
    assert_int_equal(vmsim_source_open_workload(spec, &src, &err), VMSIM_OK);
    struct vmsim_event buf[4096];
    size_t seen = 0;
    long got;
    while (seen < max && (got = vmsim_source_next(src, buf, 4096)) > 0)
        for (long j = 0; j < got && seen < max; j++, seen++)
            if (buf[j].type != VMSIM_EV_ACCESS || !keep_every || seen % keep_every < keep_first)
                story_push(s, buf[j]);
    vmsim_source_close(src);
}

static struct vmsim_event ev_acc(unsigned kind, vmsim_pid_t pid, uint64_t addr, unsigned cpu)
{
    return (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = (uint8_t)kind, .cpu = (uint16_t)cpu,
                                .pid = pid, .addr = addr, .len = 8};
}

/* A fork and swap story below 4 GiB (so 32-bit geometries run it too):
 * process 1 maps anonymous memory, a shared file and private code, writes
 * it all and forks twice; then processes read, write, fork, exit, unmap,
 * remap and mprotect at random, on four CPUs. */
#define ANON 0x10000000ull
#define ANON_PAGES 96
#define SHM 0x20000000ull
#define CODE 0x400000ull
static void story_fork_swap(struct story *s)
{
    struct rng r;
    rng_seed(&r, 42);
    vmsim_pid_t live[8] = {1, 2, 3}, next = 4;
    unsigned nlive = 3;
    struct vmsim_event m = ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, 1, ANON, ANON_PAGES * PAGE);
    story_push(s, m);
    m = ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W | VMSIM_MAP_SHARED, 1, SHM, 16 * PAGE);
    m.file = 3;
    story_push(s, m);
    m = ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_X, 1, CODE, 8 * PAGE);
    m.file = 4;
    story_push(s, m);
    for (unsigned i = 0; i < ANON_PAGES; i++)
        story_push(s, ev_acc(VMSIM_WRITE, 1, ANON + i * PAGE, 0));
    for (unsigned i = 0; i < 16; i++)
        story_push(s, ev_acc(VMSIM_WRITE, 1, SHM + i * PAGE, 0));
    story_push(s, ev_os(VMSIM_EV_FORK, 0, 1, 2, 0));
    story_push(s, ev_os(VMSIM_EV_FORK, 0, 1, 3, 0));
    for (unsigned i = 0; i < 30000; i++) {
        const unsigned c = (unsigned)(rng_next(&r) % 1000);
        const vmsim_pid_t pid = live[rng_next(&r) % nlive];
        const uint64_t page = rng_next(&r) % ANON_PAGES, n = 1 + rng_next(&r) % 4;
        if (c < 6 && nlive < 8) {
            story_push(s, ev_os(VMSIM_EV_FORK, 0, pid, next, 0));
            live[nlive++] = next++;
        } else if (c < 10 && nlive > 2 && pid != 1) {
            story_push(s, ev_os(VMSIM_EV_EXIT, 0, pid, 0, 0));
            unsigned j = 0;
            while (live[j] != pid)
                j++;
            live[j] = live[--nlive];
        } else if (c < 18) {
            story_push(s, ev_os(VMSIM_EV_MUNMAP, 0, pid, ANON + page * PAGE, n * PAGE));
        } else if (c < 26) {
            story_push(s, ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, pid, ANON + page * PAGE, n * PAGE));
        } else if (c < 34) {
            const unsigned prot = VMSIM_PROT_R | (rng_next(&r) % 2 ? VMSIM_PROT_W : 0);
            story_push(s, ev_os(VMSIM_EV_MPROTECT, prot, pid, ANON + page * PAGE, n * PAGE));
        } else {
            const unsigned where = (unsigned)(rng_next(&r) % 10), cpu = (unsigned)(rng_next(&r) % 4);
            const uint64_t off = (rng_next(&r) % (PAGE / 8)) * 8;
            const unsigned k = (unsigned)(rng_next(&r) % 20);
            const unsigned kind = k < 9 ? VMSIM_READ : k < 17 ? VMSIM_WRITE : VMSIM_MODIFY;
            if (where == 0)
                story_push(s, ev_acc(VMSIM_FETCH, pid, CODE + (rng_next(&r) % 8) * PAGE + off, cpu));
            else if (where < 3)
                story_push(s, ev_acc(kind, pid, SHM + (rng_next(&r) % 16) * PAGE + off, cpu));
            else
                story_push(s, ev_acc(kind, pid, ANON + page * PAGE + off, cpu));
        }
    }
}

enum { ST_DEFAULT, ST_FORKSERVER, ST_CHURN, ST_ROLLOVER, ST_FORKSWAP, NSTORIES };
static struct story stories[NSTORIES];

/* Every story starts with a read by a process of its own, so that the
 * shared zero frame comes from memory never used before. A zero frame
 * allocated from a freed frame keeps the stamp the frame's last data left
 * (fault.c's zero_frame sets none), and --verify then reports a mismatch
 * on a first read under every organization alike. */
#define PRIME_PID 0x7fffffffu
static const struct story *story(unsigned id)
{
    struct story *s = &stories[id];
    if (s->n)
        return s;
    story_push(s, ev_os(VMSIM_EV_MMAP, VMSIM_PROT_R, PRIME_PID, 0x1000, PAGE)); /* base pages, THP or not */
    story_push(s, ev_acc(VMSIM_READ, PRIME_PID, 0x1000, 0));
    switch (id) {
    case ST_DEFAULT:
        /* the first 100,000 events of each of the first three 500,000-event
         * slices: three processes, each phase's beginning */
        s->name = "default";
        story_workload(s, "default", 1500003, 500000, 100000);
        break;
    case ST_FORKSERVER:
        s->name = "forkserver";
        story_workload(s, "forkserver:n=120000,workers=6,requests=12000,heap=4m,area=64k,slice=1000,"
                          "cpus=4,code=256k",
                       SIZE_MAX, 0, 0);
        break;
    case ST_CHURN:
        s->name = "cloud (churn)";
        story_workload(s, "cloud:n=120000,tenants=16,regions=8,rsize=512k,churn=0.3,slice=500,cpus=4",
                       SIZE_MAX, 0, 0);
        break;
    case ST_ROLLOVER:
        /* more processes than ASIDs (4095): every one runs again after
         * the rollover and reads what it wrote */
        s->name = "cloud (ASID rollover)";
        story_workload(s, "cloud:n=50000,tenants=4200,regions=1,rsize=16k,slice=5,churn=0,cpus=4,write=0.5",
                       SIZE_MAX, 0, 0);
        break;
    case ST_FORKSWAP:
        s->name = "fork and swap";
        story_fork_swap(s);
        break;
    }
    return s;
}

struct outcome {
    struct vmsim_stats st;
    uint64_t data_frames; /* frames in use at the end that are not page tables */
    uint64_t pt_peak;     /* page-table frames, largest seen between batches */
};

struct run {
    const char *pt;
    const char *geom;
    bool thp;
    uint64_t frames; /* 0: the default memory */
    uint64_t swap_pages;
    unsigned replace;
    bool track; /* sample page-table frames between batches (small memories) */
};

static uint64_t pt_frames(const struct vmsim *sim)
{
    uint64_t n = 0;
    for (uint64_t f = 0; f < sim->phys.next;) {
        const struct frame *fr = &sim->phys.frame[f];
        const uint64_t size = fr->refcount ? 1ull << fr->order : 1;
        if (fr->refcount && (fr->flags & FRAME_PT))
            n += size;
        f += size;
    }
    return n;
}

static void simulate(const struct run *r, const struct story *s, struct outcome *out)
{
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    snprintf(cfg.pt, sizeof cfg.pt, "%s", r->pt);
    assert_int_equal(vmsim_geometry_preset(r->geom, &cfg.geom), VMSIM_OK);
    cfg.verify = true;
    if (r->thp) {
        cfg.anon_page_shift = VMSIM_PAGE_HUGE;
        cfg.thp = VMSIM_THP_ALWAYS;
    }
    if (r->frames)
        cfg.phys_bytes = r->frames * PAGE;
    cfg.swap_bytes = r->swap_pages * PAGE;
    cfg.replace = (uint8_t)r->replace;
    struct vmsim *sim;
    int rc = vmsim_create(&cfg, &sim);
    if (rc)
        fail_msg("vmsim_create with pt \"%s\" on %s: %s", r->pt, r->geom, vmsim_strerror(rc));
    /* A 32-bit space runs the stream folded into it: the same stream for
     * the organization and for radix. */
    const bool fold = cfg.geom.va_bits < 48;
    const uint64_t mask = (1ull << cfg.geom.va_bits) - 1;
    struct vmsim_event buf[256];
    out->pt_peak = 0;
    for (size_t i = 0; i < s->n; i += 256) {
        const size_t n = s->n - i < 256 ? s->n - i : 256;
        memcpy(buf, s->ev + i, n * sizeof *buf);
        for (size_t j = 0; fold && j < n; j++)
            if (buf[j].type != VMSIM_EV_FORK)
                buf[j].addr &= mask;
        rc = vmsim_run(sim, buf, n);
        if (rc)
            fail_msg("%s on %s, %s: vmsim_run failed at event %zu: %s", r->pt, r->geom, s->name, i,
                     vmsim_strerror(rc));
        if (r->track) {
            const uint64_t t = pt_frames(sim);
            if (t > out->pt_peak)
                out->pt_peak = t;
        }
    }
    out->st = *vmsim_get_stats(sim);
    out->data_frames = out->st.frames_used - pt_frames(sim);
    vmsim_destroy(sim);
}

/* The statistics an organization may change: what walks read and cost and
 * what the page tables take. Everything else must be radix's. */
static bool may_differ(const char *name)
{
    static const char *const cost[] = {"walks.refs",       "pwc.hits", "pwc.misses", "pwc.levels_skipped",
                                       "cycles",           "cycles_translation", "walks.cycles",
                                       "memory.dram_refs", "memory.dram_walk_refs", "memory.dram_row_hits",
                                       "page_tables.migrated", "page_tables.resizes",
                                       "page_tables.evicted_entries", "page_tables.shareable_bytes",
                                       "memory.frames_used", "memory.frames_peak",
                                       "page_tables.peak_bytes", "page_tables.peak_bytes_with_roots"};
    for (size_t i = 0; i < sizeof cost / sizeof cost[0]; i++)
        if (!strcmp(name, cost[i]))
            return true;
    return false;
}

static void compare(const char *what, const struct outcome *a, const struct outcome *ref)
{
    char msg[2048] = "";
    size_t len = 0;
#define CMP(f, n, r, d)                                                                            \
    if (!may_differ(n) && a->st.f != ref->st.f && len < sizeof msg - 100)                         \
        len += (size_t)snprintf(msg + len, sizeof msg - len, " %s %llu (radix %llu);", n,          \
                                (unsigned long long)a->st.f, (unsigned long long)ref->st.f);
    VMSIM_STATS(CMP)
#undef CMP
    for (unsigned i = 0; i < VMSIM_MAX_TLB_LEVELS; i++)
        if ((a->st.tlb[i].hits != ref->st.tlb[i].hits || a->st.tlb[i].misses != ref->st.tlb[i].misses ||
             a->st.tlb[i].reach != ref->st.tlb[i].reach) && len < sizeof msg - 100)
            len += (size_t)snprintf(msg + len, sizeof msg - len, " tlb[%u] %llu/%llu (radix %llu/%llu);", i,
                                    (unsigned long long)a->st.tlb[i].hits,
                                    (unsigned long long)a->st.tlb[i].misses,
                                    (unsigned long long)ref->st.tlb[i].hits,
                                    (unsigned long long)ref->st.tlb[i].misses);
    if (a->data_frames != ref->data_frames && len < sizeof msg - 100)
        len += (size_t)snprintf(msg + len, sizeof msg - len, " data frames %llu (radix %llu);",
                                (unsigned long long)a->data_frames, (unsigned long long)ref->data_frames);
    if (len)
        fail_msg("%s differs from radix:%s", what, msg);
}

/* Radix's outcome for a run, computed once. */
struct cached {
    struct run r;
    unsigned story;
    struct outcome out;
};
static struct cached cache[32];
static unsigned ncache;

static const struct outcome *radix_outcome(const struct run *r, unsigned id)
{
    for (unsigned i = 0; i < ncache; i++)
        if (cache[i].story == id && !strcmp(cache[i].r.geom, r->geom) && cache[i].r.thp == r->thp &&
            cache[i].r.frames == r->frames && cache[i].r.swap_pages == r->swap_pages &&
            cache[i].r.replace == r->replace)
            return &cache[i].out;
    assert_true(ncache < sizeof cache / sizeof cache[0]);
    struct cached *c = &cache[ncache];
    c->r = *r;
    c->r.pt = "radix";
    c->story = id;
    simulate(&c->r, story(id), &c->out);
    ncache++;
    return &c->out;
}

/* Run a story under the organization, base pages and (where it maps them)
 * transparent huge pages, and compare with radix on the same geometry. */
static void sim_story(const struct org *o, unsigned id, struct outcome *last)
{
    const struct story *s = story(id);
    for (int thp = 0; thp <= 1; thp++) {
        if (thp && !(o->leaves & LV(2) & o->g.leaf_levels))
            continue;
        const struct run r = {o->spec, o->g.name, thp, 0, 0, VMSIM_REPLACE_CLOCK, false};
        const struct outcome *ref = radix_outcome(&r, id);
        struct outcome out;
        char what[256];
        snprintf(what, sizeof what, "%s, %s%s", o->label, s->name, thp ? ", THP" : "");
        if (is_radix(o)) {
            /* Radix is this part's yardstick: comparing it with itself
             * proves nothing. Its own referee is the reference model
             * (test_differential, test_real_programs); here its runs must
             * still lose no content (--verify) and never run out. */
            out = *ref;
        } else {
            simulate(&r, s, &out);
            compare(what, &out, ref);
        }
        if (out.st.verify_mismatches || out.st.faults_oom)
            fail_msg("%s: %llu verify mismatches, %llu out-of-memory faults", what,
                     (unsigned long long)out.st.verify_mismatches, (unsigned long long)out.st.faults_oom);
        if (!thp && last)
            *last = out;
    }
}

static void test_sim_default(void **state)
{
    struct outcome out;
    sim_story(*state, ST_DEFAULT, &out);
    assert_true(out.st.accesses >= 250000 && out.st.verify_checks > 1000);
}

static void test_sim_fork(void **state)
{
    struct outcome out;
    sim_story(*state, ST_FORKSERVER, &out);
    assert_true(out.st.forks > 6 && out.st.faults_cow_copy > 0);
}

static void test_sim_tenants(void **state)
{
    struct outcome out;
    sim_story(*state, ST_CHURN, &out);
    assert_true(out.st.processes > 16);
    sim_story(*state, ST_ROLLOVER, &out);
    assert_true(out.st.processes == 4201 && out.st.tlb_flushes > 0 && out.st.verify_checks > 1000);
}

/* The fork and swap story: with memory to spare, identical to radix in
 * everything; then under pressure. Page tables take simulated frames and
 * each organization takes a different number, so under pressure the
 * replacement policy sees different memories and may evict differently:
 * there only what must hold for any organization is compared, no content
 * ever lost (verify.mismatches == 0) and, given the frames its own tables
 * need at most plus 40 for data, no fault out of memory, as radix. */
/* The memory of a pressure run: the frames page tables take at most in
 * it, plus 40 for data; measured again in that memory until it holds
 * still (some organizations size their tables from memory). *out gets
 * the run in that memory. */
static void pressure_run(const char *pt, const char *geom, unsigned replace, struct outcome *out)
{
    struct run r = {pt, geom, false, 1u << 16, 4096, replace, true};
    for (unsigned i = 0; i < 6; i++) {
        simulate(&r, story(ST_FORKSWAP), out);
        if (out->pt_peak + 40 == r.frames)
            return;
        r.frames = out->pt_peak + 40;
    }
    simulate(&r, story(ST_FORKSWAP), out);
}

static void test_sim_pressure(void **state)
{
    const struct org *o = *state;
    struct outcome out, ref;
    sim_story(o, ST_FORKSWAP, &out);
    assert_true(out.st.forks > 2 && out.st.verify_checks > 1000);
    for (unsigned replace = VMSIM_REPLACE_CLOCK; replace <= VMSIM_REPLACE_LRU; replace++) {
        pressure_run(o->spec, o->g.name, replace, &out);
        pressure_run("radix", o->g.name, replace, &ref);
        print_message("%s, %s: tables %llu frames at most; %llu evictions (radix %llu), %llu verify "
                      "checks\n",
                      o->label, vmsim_replace_names[replace], (unsigned long long)out.pt_peak,
                      (unsigned long long)out.st.evictions, (unsigned long long)ref.st.evictions,
                      (unsigned long long)out.st.verify_checks);
        if (out.st.verify_mismatches || out.st.faults_oom != ref.st.faults_oom)
            fail_msg("%s under pressure (%s): %llu verify mismatches, %llu out-of-memory faults "
                     "(radix %llu)",
                     o->label, vmsim_replace_names[replace], (unsigned long long)out.st.verify_mismatches,
                     (unsigned long long)out.st.faults_oom, (unsigned long long)ref.st.faults_oom);
        assert_int_equal(ref.st.faults_oom, 0);
        assert_true(out.st.evictions > 100 && ref.st.evictions > 100 && out.st.swap_reads > 0);
    }
}

/* ---- the tests, one per organization and property -------------------------------- */

static const struct {
    const char *name;
    CMUnitTestFunction fn;
} properties[] = {
    {"create", test_create},
    {"round_trip", test_round_trip},
    {"page_sizes", test_page_sizes},
    {"walk", test_walk},
    {"visit", test_visit},
    {"homonyms", test_homonyms},
    {"destroy", test_destroy},
    {"no_frames", test_no_frames},
    {"reclaim_reentry", test_reclaim_reentry},
    {"differential", test_differential},
    {"sim_default", test_sim_default},
    {"sim_fork", test_sim_fork},
    {"sim_tenants", test_sim_tenants},
    {"sim_pressure", test_sim_pressure},
};

/* VMSIM_ORG=TEXT runs only the organizations whose label contains TEXT;
 * VMSIM_SHARD=I/N only rows I, I+N, I+2N... (CTest runs N shards in
 * parallel, each well inside its timeout under ASan). */
int main(void)
{
    resolve_all();
    const char *only = getenv("VMSIM_ORG");
    unsigned shard = 0, nshards = 1;
    const char *sh = getenv("VMSIM_SHARD");
    if (sh && (sscanf(sh, "%u/%u", &shard, &nshards) != 2 || nshards == 0 || shard >= nshards)) {
        fprintf(stderr, "VMSIM_SHARD: expected I/N with I < N, found \"%s\"\n", sh);
        return 2;
    }
    const size_t nprop = sizeof properties / sizeof properties[0];
    struct CMUnitTest *tests = calloc(norgs * nprop, sizeof *tests);
    char(*names)[200] = calloc(norgs * nprop, sizeof *names);
    size_t n = 0;
    for (unsigned i = 0; i < norgs; i++) {
        if ((only && !strstr(orgs[i].label, only)) || i % nshards != shard)
            continue;
        printf("organization %s: leaves at levels", orgs[i].label);
        for (unsigned k = 1; k <= orgs[i].g.levels; k++)
            if (orgs[i].leaves & LV(k))
                printf(" %u", k);
        printf("%s%s\n", orgs[i].create_rc ? "; refused: " : "", orgs[i].create_rc ? orgs[i].why : "");
        for (size_t p = 0; p < nprop; p++) {
            if (orgs[i].create_rc && p > 0)
                break;
            if (!orgs[i].sim && !strncmp(properties[p].name, "sim_", 4))
                continue;
            snprintf(names[n], sizeof names[n], "%s[%s]", properties[p].name, orgs[i].label);
            tests[n] = (struct CMUnitTest){names[n], properties[p].fn, NULL, teardown_worlds, &orgs[i]};
            n++;
        }
    }
    fflush(stdout);
    const int rc = _cmocka_run_group_tests("organizations", tests, n, NULL, NULL);
    for (unsigned i = 0; i < NSTORIES; i++)
        free(stories[i].ev);
    free(tests);
    free(names);
    return rc;
}
