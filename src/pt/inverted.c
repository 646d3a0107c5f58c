/* Inverted page table: one entry per physical frame, found through a hash
 * anchor table (IBM System/38 and RS/6000, HP PA-RISC; seed 003, "Inverted
 * Page Tables"). One table serves every address space of the machine, and
 * its size is fixed by physical memory, not by the number of processes.
 *
 * Layout, in simulated memory, shared by all address spaces (*env->shared):
 *   frame entries  F = phys->nframes entries of 16 bytes; entry f describes
 *                  what frame f holds: a tag (8 bytes: address-space id,
 *                  virtual page number, page size), the control bits (4
 *                  bytes: the PTE flags; the frame number is the index
 *                  itself) and a chain link (4 bytes).
 *   anchors        A = 2^ceil(log2 F) links of 4 bytes (option anchors=N):
 *                  anchor hash(space, vpn, size) holds the first entry of
 *                  the chain of every key that hashes there.
 *   overflow       24-byte entries (the same 16 bytes plus the frame or swap
 *                  slot number, padded) in pool pages allocated on demand,
 *                  for what one entry per frame cannot hold: a second
 *                  mapping of a frame (fork, page cache, the zero frame at
 *                  thousands of addresses) and leaves with no frame
 *                  (PTE_SWAP). It is what sharing and swapping add.
 * A link is a 32-bit slot number: slot s < F is frame entry s, slot F + k
 * overflow entry k; NIL ends a chain. A huge page has one entry, in the
 * slot of its first frame, keyed with its size.
 *
 * Where the table sits: when frame entries and anchors together take at
 * most max=SIZE bytes (default 64m) they are allocated as two blocks of
 * simulated frames (FRAME_PT, pinned) at the first create. Larger (the
 * default 256 GiB machine has 64 Mi frames: 1 GiB of entries, 256 MiB of
 * anchors) they get no frames: walk references point into a region that
 * starts where simulated memory ends (entries at nframes << page_shift,
 * anchors right after them), as if firmware had reserved it, and the
 * footprint still counts their bytes. Host memory follows use either way:
 * frame entries in chunks of 1024 allocated when a frame is first mapped,
 * anchors in a hash map holding the non-empty ones (one 8-byte slot each,
 * anchor and head packed, so a walk's anchor read is one host cache miss).
 *
 * A lookup (walk) of va reads, for the base page size and then each larger
 * size this address space has leaves of (ascending), the anchor and every
 * entry of its chain up to the match: 1 + (position in chain) references
 * per size tried. The per-space mask of sizes in use is what an OS keeps in
 * the process context to steer its handler.
 *
 * Invariants:
 *  1. Every live entry lies on exactly one chain, that of its key's anchor,
 *     and on its address space's list (host only, for visit and destroy).
 *  2. The overflow pool is compact: slots F .. F+nover-1 are live, and
 *     npool = ceil(nover / per_page) except while reclaim runs (freeing
 *     frames then is deferred, as radix defers pruning; phys.h).
 *  3. A present mapping of frame f goes to frame entry f when it is free.
 *     When it holds a present mapping of f already, the new one goes to
 *     overflow and onto f's sharer list (fhead/fnext, host only); when the
 *     first one goes, a sharer moves up, so overflow counts only what
 *     sharing adds. When it holds anything else (an entry that update()
 *     turned into a swap entry stays where it was, "parked", since update
 *     must not allocate: reclaim calls it while memory is full), that entry
 *     moves to overflow.
 *  4. Only map() allocates; it does so before it changes anything, and
 *     checks again afterwards, since an allocation may run reclaim, which
 *     edits this very table (unmap, update).
 *
 * Simplifications: the simulated 16/24-byte entries are widened on the host
 * (56 bytes with the host-only links); an address space is tagged by its
 * vmsim space id, never by a recyclable ASID; a walk records at most
 * WALK_MAX_REFS references (longer chains, which only a degenerate anchor
 * count makes, are searched but not all charged). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt/pt.h"
#include "util/kv.h"
#include "util/u64map.h"

extern const struct pt_ops pt_inverted_ops;

#define NIL UINT32_MAX
#define ENTRY_BYTES 16ull /* a frame entry */
#define OVER_BYTES 24ull  /* an overflow entry: plus the frame number */
#define ANCHOR_BYTES 4ull
#define CHUNK_SHIFT 10   /* frame entries per host chunk: 1024 */
#define CHUNK (1u << CHUNK_SHIFT)
#define DEFAULT_MAX (64ull << 20)

struct inv;

/* The non-empty anchors: open addressing, linear probing, deletion by
 * backward shift; a slot packs (anchor << 32 | head). Anchors are below
 * 2^31, so AMAP_EMPTY is never a slot's value. */
struct amap {
    uint64_t *slot;
    uint64_t cap, n; /* cap a power of two (0: empty) */
    unsigned bits;
};
#define AMAP_EMPTY UINT64_MAX

/* One entry, widened. The simulated fields are owner (the tag's address
 * space), vpn, level, pte and next; the rest is host bookkeeping. */
struct ient {
    struct inv *owner;      /* NULL: a free slot */
    uint64_t vpn;           /* va >> page shift of level */
    uint64_t pte;
    uint32_t next;          /* hash chain */
    uint32_t sprev, snext;  /* the owner's entries */
    uint32_t fprev, fnext;  /* overflow entries sharing one frame (inlist) */
    uint32_t fhead;         /* frame entries: first sharer of this frame */
    uint8_t level;
    uint8_t inlist;
};

struct ishared {
    struct phys *phys;
    uint64_t nframes;       /* F */
    unsigned abits;         /* A = 2^abits */
    bool allocated;         /* entries and anchors in simulated frames */
    vmsim_pfn_t epfn, apfn;
    vmsim_paddr_t ebase, abase;
    struct ient **chunk;    /* frame entries, 1024 per chunk, lazily */
    uint64_t nchunk;
    struct amap anchor;     /* anchor index -> first slot; absent: NIL */
    struct ient *over;      /* overflow entries */
    uint64_t nover, over_cap;
    vmsim_pfn_t *pool;      /* the frames of the overflow pool */
    uint64_t npool, pool_cap;
    unsigned per_page;      /* overflow entries per frame */
    unsigned hold;          /* nonzero inside map(): the pool may not shrink */
};

struct inv {
    struct pt base;
    struct ishared *s;
    struct ishared *own;    /* stand-alone: the shared state is ours */
    uint64_t space;
    uint32_t head;          /* first of this space's entries */
    uint64_t n;             /* leaves */
    uint64_t leaves[VMSIM_MAX_LEVELS + 1];
    unsigned shift[VMSIM_MAX_LEVELS + 2];
    unsigned levels, leaf_levels;
    /* For leaves of a size below a leaf size k: (k << 58 | va >> shift[k])
     * -> how many lie in that page, so a map of size k can refuse in one
     * probe (radix sees a table there). Only when the geometry has huge
     * pages. */
    struct u64map inside;
};

struct params {
    uint64_t anchors; /* 0: the default */
    uint64_t max;
};

static struct inv *INV(struct pt *p) { return (struct inv *)p; }

static unsigned ceil_log2(uint64_t x)
{
    unsigned b = 0;
    while ((1ull << b) < x)
        b++;
    return b;
}

/* ---- options ---------------------------------------------------------- */

static int parse_params(const char *params, struct params *o, char *why, size_t len)
{
    o->anchors = 0;
    o->max = DEFAULT_MAX;
    /* "" is no options, and a trailing comma ends the list */
    for (const char *s = params ? params : ""; s && *s;) {
        struct kv it;
        s = kv_next(s, &it);
        const size_t n = it.len;
        char item[64];
        if (n >= sizeof item) {
            snprintf(why, len, "inverted: option too long");
            return VMSIM_EINVAL;
        }
        memcpy(item, it.s, n);
        item[n] = '\0';
        char *eq = it.val ? item + it.klen : NULL;
        uint64_t v = 0;
        if (!eq || vmsim_parse_size(eq + 1, &v) != VMSIM_OK) {
            snprintf(why, len, "inverted: '%s' is not NAME=NUMBER (anchors=N, max=SIZE)", item);
            return VMSIM_EINVAL;
        }
        *eq = '\0';
        if (!strcmp(item, "anchors")) {
            if (v == 0 || (v & (v - 1)) || v > (1ull << 31)) {
                snprintf(why, len, "inverted: anchors must be a power of two, 1 to 2^31");
                return VMSIM_EINVAL;
            }
            o->anchors = v;
        } else if (!strcmp(item, "max")) {
            o->max = v;
        } else {
            snprintf(why, len, "inverted: unknown option '%s' (anchors=N, max=SIZE)", item);
            return VMSIM_EINVAL;
        }
    }
    return VMSIM_OK;
}

static int inv_check(const char *params, char *why, size_t len)
{
    struct params o;
    return parse_params(params, &o, why, len);
}

/* ---- slots ------------------------------------------------------------ */

/* The entry in slot i; frame entry i must have its chunk. */
static struct ient *E(const struct ishared *s, uint32_t i)
{
    if (i < s->nframes)
        return &s->chunk[i >> CHUNK_SHIFT][i & (CHUNK - 1)];
    return &s->over[i - s->nframes];
}

/* Frame entry f, or NULL when its chunk was never needed (then it is free). */
static struct ient *frame_entry(const struct ishared *s, uint64_t f)
{
    struct ient *c = s->chunk[f >> CHUNK_SHIFT];
    return c ? &c[f & (CHUNK - 1)] : NULL;
}

static int chunk_need(struct ishared *s, uint64_t f)
{
    struct ient **c = &s->chunk[f >> CHUNK_SHIFT];
    if (*c)
        return VMSIM_OK;
    if (!(*c = malloc(CHUNK * sizeof **c)))
        return VMSIM_ENOMEM;
    for (unsigned i = 0; i < CHUNK; i++)
        (*c)[i] = (struct ient){.next = NIL, .sprev = NIL, .snext = NIL, .fprev = NIL,
                                .fnext = NIL, .fhead = NIL};
    return VMSIM_OK;
}

static vmsim_paddr_t slot_pa(const struct ishared *s, uint32_t i)
{
    if (i < s->nframes)
        return s->ebase + (uint64_t)i * ENTRY_BYTES;
    const uint64_t k = i - s->nframes;
    return ((vmsim_paddr_t)s->pool[k / s->per_page] << s->phys->page_shift) +
           (k % s->per_page) * OVER_BYTES;
}

/* The frame a present entry maps, or F when it maps none (swap entry). */
static uint64_t frame_of(const struct ishared *s, uint64_t pte)
{
    if ((pte & (PTE_P | PTE_SWAP)) != PTE_P || PTE_PFN(pte) >= s->nframes)
        return s->nframes;
    return PTE_PFN(pte);
}

/* ---- anchors ---------------------------------------------------------- */

/* murmur3's 64-bit finalizer over the key; the top abits bits index. */
static uint64_t anchor_of(const struct ishared *s, uint64_t space, uint64_t vpn, unsigned level)
{
    if (!s->abits)
        return 0;
    uint64_t x = vpn ^ ((uint64_t)level << 58) ^ (space * 0x9e3779b97f4a7c15ull);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x >> (64 - s->abits);
}

static uint64_t amap_home(const struct amap *m, uint64_t a)
{
    return (a * 0x9e3779b97f4a7c15ull) >> (64 - m->bits);
}

/* The slot of anchor a, or NULL when its chain is empty. */
static uint64_t *amap_find(const struct amap *m, uint64_t a)
{
    if (!m->cap)
        return NULL;
    for (uint64_t i = amap_home(m, a);; i = (i + 1) & (m->cap - 1)) {
        const uint64_t v = m->slot[i];
        if (v == AMAP_EMPTY)
            return NULL;
        if (v >> 32 == a)
            return &m->slot[i];
    }
}

static void amap_insert(struct amap *m, uint64_t v)
{
    uint64_t i = amap_home(m, v >> 32);
    while (m->slot[i] != AMAP_EMPTY)
        i = (i + 1) & (m->cap - 1);
    m->slot[i] = v;
    m->n++;
}

/* Add anchor a (absent) with chain head `head`. */
static int amap_put(struct amap *m, uint64_t a, uint32_t head)
{
    if (2 * (m->n + 1) > m->cap) {
        const struct amap old = *m;
        const uint64_t cap = old.cap ? 2 * old.cap : 64;
        uint64_t *slot = malloc(cap * sizeof *slot);
        if (!slot)
            return VMSIM_ENOMEM;
        memset(slot, 0xff, cap * sizeof *slot);
        *m = (struct amap){slot, cap, 0, ceil_log2(cap)};
        for (uint64_t i = 0; i < old.cap; i++)
            if (old.slot[i] != AMAP_EMPTY)
                amap_insert(m, old.slot[i]);
        free(old.slot);
    }
    amap_insert(m, a << 32 | head);
    return VMSIM_OK;
}

static void amap_del(struct amap *m, uint64_t *at)
{
    const uint64_t mask = m->cap - 1;
    uint64_t i = (uint64_t)(at - m->slot);
    m->slot[i] = AMAP_EMPTY;
    m->n--;
    for (uint64_t j = (i + 1) & mask; m->slot[j] != AMAP_EMPTY; j = (j + 1) & mask) {
        /* j's slot may move to i when i lies cyclically in [home, j) */
        const uint64_t home = amap_home(m, m->slot[j] >> 32);
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->slot[i] = m->slot[j];
            m->slot[j] = AMAP_EMPTY;
            i = j;
        }
    }
}

static uint32_t head_of(const uint64_t *slot) { return slot ? (uint32_t)*slot : NIL; }
static void set_head(uint64_t *slot, uint32_t head) { *slot = (*slot & ~0xffffffffull) | head; }

static uint32_t chain_head(const struct ishared *s, uint64_t a)
{
    return head_of(amap_find(&s->anchor, a));
}

/* The link that points to slot i: its anchor or its predecessor's next. */
static void relink(struct ishared *s, uint32_t i, uint32_t to)
{
    const struct ient *e = E(s, i);
    uint64_t *head = amap_find(&s->anchor, anchor_of(s, e->owner->space, e->vpn, e->level));
    if (head_of(head) == i) {
        set_head(head, to);
        return;
    }
    uint32_t j = head_of(head);
    while (E(s, j)->next != i)
        j = E(s, j)->next;
    E(s, j)->next = to;
}

/* ---- sharer lists ----------------------------------------------------- */

static void flist_unlink(struct ishared *s, uint32_t i)
{
    struct ient *e = E(s, i);
    if (!e->inlist)
        return;
    if (e->fprev != NIL)
        E(s, e->fprev)->fnext = e->fnext;
    else
        frame_entry(s, PTE_PFN(e->pte))->fhead = e->fnext;
    if (e->fnext != NIL)
        E(s, e->fnext)->fprev = e->fprev;
    e->fprev = e->fnext = NIL;
    e->inlist = 0;
}

/* Put overflow entry i on the sharer list of the frame it maps, if any. */
static void flist_link(struct ishared *s, uint32_t i)
{
    struct ient *e = E(s, i);
    const uint64_t f = frame_of(s, e->pte);
    struct ient *fe = f < s->nframes ? frame_entry(s, f) : NULL;
    if (i < s->nframes || e->inlist || !fe)
        return;
    e->fprev = NIL;
    e->fnext = fe->fhead;
    if (fe->fhead != NIL)
        E(s, fe->fhead)->fprev = i;
    fe->fhead = i;
    e->inlist = 1;
}

/* ---- the overflow pool ------------------------------------------------ */

/* Room for one more overflow entry: a pool frame (may run reclaim). */
static int pool_grow(struct ishared *s)
{
    const uint64_t cap = (s->npool + 1) * s->per_page;
    if (s->nframes + cap >= NIL)
        return VMSIM_ENOMEM; /* slot numbers are 32 bits */
    if (cap > s->over_cap) {
        struct ient *o = realloc(s->over, cap * sizeof *o);
        if (!o)
            return VMSIM_ENOMEM;
        s->over = o;
        s->over_cap = cap;
    }
    if (s->npool == s->pool_cap) {
        uint64_t n = s->pool_cap ? 2 * s->pool_cap : 16;
        vmsim_pfn_t *p = realloc(s->pool, n * sizeof *p);
        if (!p)
            return VMSIM_ENOMEM;
        s->pool = p;
        s->pool_cap = n;
    }
    vmsim_pfn_t pfn;
    int rc = phys_alloc(s->phys, 0, FRAME_PT | FRAME_PINNED, &pfn);
    if (rc)
        return rc;
    phys_frame(s->phys, pfn)->level = 1;
    s->pool[s->npool++] = pfn; /* reclaim never shrinks the pool (invariant 2) */
    return VMSIM_OK;
}

static void pool_shrink(struct ishared *s)
{
    if (s->phys->reclaiming || s->hold)
        return;
    while (s->npool && (s->npool - 1) * s->per_page >= s->nover)
        phys_put(s->phys, s->pool[--s->npool]);
}

static uint32_t over_take(struct ishared *s)
{
    const uint32_t i = (uint32_t)(s->nframes + s->nover++);
    *E(s, i) = (struct ient){.next = NIL, .sprev = NIL, .snext = NIL, .fprev = NIL,
                             .fnext = NIL, .fhead = NIL};
    return i;
}

/* Move the live entry in slot `from` to the free slot `to`. */
static void move_entry(struct ishared *s, uint32_t from, uint32_t to)
{
    flist_unlink(s, from);
    relink(s, from, to);
    struct ient *f = E(s, from), *t = E(s, to);
    if (f->sprev != NIL)
        E(s, f->sprev)->snext = to;
    else
        f->owner->head = to;
    if (f->snext != NIL)
        E(s, f->snext)->sprev = to;
    const uint32_t fhead = t->fhead; /* belongs to the slot, not the entry */
    *t = *f;
    t->fhead = fhead;
    t->fprev = t->fnext = NIL;
    f->owner = NULL;
    f->next = f->sprev = f->snext = NIL;
    flist_link(s, to);
}

/* Slot i was emptied: keep the pool compact (invariant 2) and let a sharer
 * take a frame entry that came free (invariant 3). */
static void slot_freed(struct ishared *s, uint32_t i)
{
    if (i < s->nframes) {
        const uint32_t sharer = E(s, i)->fhead;
        if (sharer == NIL)
            return;
        move_entry(s, sharer, i);
        i = sharer;
    }
    const uint32_t last = (uint32_t)(s->nframes + s->nover - 1);
    if (i != last)
        move_entry(s, last, i);
    s->nover--;
    pool_shrink(s);
}

/* ---- shared state ----------------------------------------------------- */

static void shared_free(void *shared)
{
    struct ishared *s = shared;
    if (!s)
        return;
    for (uint64_t c = 0; c < s->nchunk; c++)
        free(s->chunk[c]);
    free(s->chunk);
    free(s->anchor.slot);
    free(s->over);
    for (uint64_t i = 0; i < s->npool; i++)
        phys_put(s->phys, s->pool[i]);
    free(s->pool);
    if (s->allocated) {
        phys_put(s->phys, s->epfn);
        phys_put(s->phys, s->apfn);
    } else {
        phys_pt_outside(s->phys, s->nframes * ENTRY_BYTES + (ANCHOR_BYTES << s->abits), false);
    }
    free(s);
}

/* A block of simulated frames holding `bytes` of table. */
static int table_block(struct phys *phys, uint64_t bytes, vmsim_pfn_t *pfn)
{
    const uint64_t frames = (bytes + (1ull << phys->page_shift) - 1) >> phys->page_shift;
    int rc = phys_alloc(phys, ceil_log2(frames), FRAME_PT | FRAME_PINNED, pfn);
    if (rc == 0)
        phys_frame(phys, *pfn)->level = 1;
    return rc;
}

static int shared_new(const struct pt_env *env, const struct params *o, struct ishared **out)
{
    struct phys *phys = env->phys;
    struct ishared *s = calloc(1, sizeof *s);
    if (!s)
        return VMSIM_ENOMEM;
    s->phys = phys;
    s->nframes = phys->nframes;
    s->abits = ceil_log2(o->anchors ? o->anchors : s->nframes);
    s->per_page = (1u << phys->page_shift) / OVER_BYTES;
    s->nchunk = (s->nframes + CHUNK - 1) >> CHUNK_SHIFT;
    if (!(s->chunk = calloc(s->nchunk, sizeof *s->chunk))) {
        free(s);
        return VMSIM_ENOMEM;
    }
    const uint64_t ebytes = s->nframes * ENTRY_BYTES, abytes = (ANCHOR_BYTES << s->abits);
    if (ebytes + abytes <= o->max) {
        int rc = table_block(phys, ebytes, &s->epfn);
        if (rc == 0 && (rc = table_block(phys, abytes, &s->apfn)) != 0)
            phys_put(phys, s->epfn);
        if (rc) {
            free(s->chunk);
            free(s);
            return rc;
        }
        s->allocated = true;
        s->ebase = phys_addr(phys, s->epfn);
        s->abase = phys_addr(phys, s->apfn);
    } else {
        const uint64_t page = 1ull << phys->page_shift;
        s->ebase = phys_addr(phys, s->nframes);
        s->abase = s->ebase + ((ebytes + page - 1) & ~(page - 1));
        phys_pt_outside(phys, ebytes + abytes, true); /* for the peak: it exists all the same */
    }
    *out = s;
    return VMSIM_OK;
}

static void inv_shared_footprint(const void *shared, struct vmsim_pt_footprint *fp)
{
    const struct ishared *s = shared;
    const uint64_t e = s->nframes * ENTRY_BYTES, a = ANCHOR_BYTES << s->abits,
                   o = s->npool << s->phys->page_shift;
    pt_fp_part(fp, "frame entries", e);
    pt_fp_part(fp, "anchors", a);
    pt_fp_part(fp, "overflow", o);
    fp->bytes += e + a + o;
}

/* ---- address spaces --------------------------------------------------- */

static int inv_create(const struct pt_env *env, struct pt **out)
{
    struct params o;
    char why[128];
    if (parse_params(env->params, &o, why, sizeof why) != VMSIM_OK)
        return VMSIM_EINVAL;
    const struct vmsim_geometry *g = env->geom;
    struct inv *v = calloc(1, sizeof *v);
    if (!v)
        return VMSIM_ENOMEM;
    v->base.ops = &pt_inverted_ops;
    v->base.phys = env->phys;
    v->base.geom = g;
    v->space = env->space;
    v->head = NIL;
    v->levels = g->levels;
    v->leaf_levels = g->leaf_levels;
    for (unsigned k = 1; k <= g->levels; k++)
        v->shift[k] = vmsim_geometry_page_shift(g, k);
    if (env->shared && *env->shared) {
        v->s = *env->shared;
    } else {
        int rc = shared_new(env, &o, &v->s);
        if (rc) {
            free(v);
            return rc;
        }
        if (env->shared)
            *env->shared = v->s;
        else
            v->own = v->s;
    }
    *out = &v->base;
    return VMSIM_OK;
}

static uint64_t inside_key(const struct inv *v, vmsim_vaddr_t va, unsigned k)
{
    return (uint64_t)k << 58 | va >> v->shift[k];
}

/* The leaf sizes above `level` in whose pages a leaf of `level` counts. */
#define FOR_EACH_ABOVE(v, level, k)                                                               \
    for (unsigned k = (level) + 1; k <= (v)->levels; k++)                                        \
        if ((v)->leaf_levels & (1u << k))

/* The slot of (space, vpn of va at level), or NIL. */
static uint32_t find_at(const struct inv *v, vmsim_vaddr_t va, unsigned level)
{
    const struct ishared *s = v->s;
    const uint64_t vpn = va >> v->shift[level];
    for (uint32_t i = chain_head(s, anchor_of(s, v->space, vpn, level)); i != NIL;) {
        const struct ient *e = E(s, i);
        if (e->owner == v && e->vpn == vpn && e->level == level)
            return i;
        i = e->next;
    }
    return NIL;
}

/* The leaf covering va, any size in use: its slot (NIL) and level. */
static uint32_t find(const struct inv *v, vmsim_vaddr_t va, unsigned *level)
{
    for (unsigned k = 1; k <= v->levels; k++) {
        if (!v->leaves[k])
            continue;
        const uint32_t i = find_at(v, va, k);
        if (i != NIL) {
            *level = k;
            return i;
        }
    }
    return NIL;
}

/* Take slot i off every list and free it. keep: leave emptied anchors and
 * zero counts in their maps (map() refills them and must not allocate). */
static void remove_slot(struct inv *v, uint32_t i, bool keep)
{
    struct ishared *s = v->s;
    struct ient *e = E(s, i);
    const uint64_t a = anchor_of(s, v->space, e->vpn, e->level);
    flist_unlink(s, i);
    relink(s, i, e->next);
    uint64_t *slot = amap_find(&s->anchor, a);
    if (!keep && head_of(slot) == NIL)
        amap_del(&s->anchor, slot);
    if (e->sprev != NIL)
        E(s, e->sprev)->snext = e->snext;
    else
        v->head = e->snext;
    if (e->snext != NIL)
        E(s, e->snext)->sprev = e->sprev;
    const vmsim_vaddr_t va = e->vpn << v->shift[e->level];
    FOR_EACH_ABOVE(v, e->level, k) {
        uint64_t *c = u64map_get(&v->inside, inside_key(v, va, k));
        if (c && --*c == 0 && !keep)
            u64map_del(&v->inside, inside_key(v, va, k));
    }
    v->leaves[e->level]--;
    v->n--;
    e->owner = NULL;
    e->next = e->sprev = e->snext = NIL;
    slot_freed(s, i);
}

static void inv_destroy(struct pt *p)
{
    struct inv *v = INV(p);
    while (v->head != NIL)
        remove_slot(v, v->head, false);
    u64map_free(&v->inside);
    shared_free(v->own);
    free(v);
}

/* Does a leaf of another size overlap the page of `level` at va? */
static bool overlaps(const struct inv *v, vmsim_vaddr_t va, unsigned level)
{
    for (unsigned k = level + 1; k <= v->levels; k++)
        if (v->leaves[k] && find_at(v, va, k) != NIL)
            return true;
    const uint64_t *c = level > 1 ? u64map_get(&v->inside, inside_key(v, va, level)) : NULL;
    return c && *c;
}

/* Where a new entry for pte goes, as things stand. */
struct plan {
    uint32_t old;      /* the entry it replaces, or NIL */
    uint64_t frame;    /* the frame it maps, F for none */
    bool need_slot;    /* it may need a free overflow slot */
};

static struct plan plan_map(const struct inv *v, vmsim_vaddr_t va, unsigned level, uint64_t pte)
{
    const struct ishared *s = v->s;
    struct plan pl = {find_at(v, va, level), frame_of(s, pte), true};
    if (pl.frame < s->nframes) {
        const struct ient *fe = frame_entry(s, pl.frame);
        /* free, or held by the very entry it replaces and no sharer */
        if (!fe || !fe->owner || (pl.old == pl.frame && fe->fhead == NIL))
            pl.need_slot = false;
    }
    if (pl.need_slot && pl.old != NIL) {
        /* removing the old entry frees an overflow slot (its own, or that
         * of the sharer taking its frame entry) */
        if (pl.old >= s->nframes || E(s, pl.old)->fhead != NIL)
            pl.need_slot = false;
    }
    return pl;
}

static int inv_map(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned level, uint64_t pte)
{
    struct inv *v = INV(p);
    struct ishared *s = v->s;
    if (level < 1 || level > v->levels || !(v->leaf_levels & (1u << level)))
        return VMSIM_EINVAL;
    if (v->base.geom->va_bits < 64 && (va >> v->base.geom->va_bits))
        return VMSIM_EINVAL;
    va &= ~((1ull << v->shift[level]) - 1);
    pte = (pte & PTE_SWAP) ? (pte | PTE_LEAF) & ~PTE_P : pte | PTE_P | PTE_LEAF;
    /* Allocate first (invariant 4): reclaim may change the table, so plan
     * again until no allocation is needed. */
    struct plan pl;
    for (;;) {
        pl = plan_map(v, va, level, pte);
        if (!pl.need_slot || s->nover < s->npool * s->per_page)
            break;
        int rc = pool_grow(s);
        if (rc)
            return rc;
    }
    int rc = VMSIM_OK;
    if (overlaps(v, va, level))
        rc = VMSIM_EEXIST;
    /* Host memory the insertion needs: the frame entry's chunk, the anchor
     * and the counts of the pages above. Nothing can fail after these. */
    if (rc == 0 && pl.frame < s->nframes)
        rc = chunk_need(s, pl.frame);
    const uint64_t a = anchor_of(s, v->space, va >> v->shift[level], level);
    if (rc == 0 && !amap_find(&s->anchor, a))
        rc = amap_put(&s->anchor, a, NIL);
    FOR_EACH_ABOVE(v, level, k) {
        if (rc == 0 && !u64map_get(&v->inside, inside_key(v, va, k)))
            rc = u64map_put(&v->inside, inside_key(v, va, k), 0);
    }
    if (rc) {
        uint64_t *slot = amap_find(&s->anchor, a);
        if (slot && head_of(slot) == NIL)
            amap_del(&s->anchor, slot);
        pool_shrink(s);
        return rc;
    }
    s->hold++; /* the slot planned for may not go with a pool frame */
    if (pl.old != NIL)
        remove_slot(v, pl.old, true);
    /* Choose the slot (invariant 3). */
    uint32_t i;
    struct ient *fe = pl.frame < s->nframes ? frame_entry(s, pl.frame) : NULL;
    if (fe && !fe->owner) {
        i = (uint32_t)pl.frame;
    } else if (fe && frame_of(s, fe->pte) != pl.frame) {
        move_entry(s, (uint32_t)pl.frame, over_take(s)); /* a parked entry leaves */
        i = (uint32_t)pl.frame;
    } else {
        i = over_take(s);
    }
    struct ient *e = E(s, i);
    uint64_t *head = amap_find(&s->anchor, a);
    e->owner = v;
    e->vpn = va >> v->shift[level];
    e->level = (uint8_t)level;
    e->pte = pte;
    e->next = head_of(head);
    set_head(head, i);
    e->sprev = NIL;
    e->snext = v->head;
    if (v->head != NIL)
        E(s, v->head)->sprev = i;
    v->head = i;
    flist_link(s, i);
    FOR_EACH_ABOVE(v, level, k)
        ++*u64map_get(&v->inside, inside_key(v, va, k));
    v->leaves[level]++;
    v->n++;
    s->hold--;
    pool_shrink(s);
    return VMSIM_OK;
}

static int inv_unmap(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, uint64_t *old)
{
    struct inv *v = INV(p);
    unsigned level;
    const uint32_t i = find(v, va, &level);
    if (old)
        *old = i != NIL ? E(v->s, i)->pte : 0;
    if (i == NIL)
        return VMSIM_ENOENT;
    remove_slot(v, i, false);
    return VMSIM_OK;
}

/* Never allocates (reclaim turns entries into swap entries with it while
 * memory is full): an entry that stops mapping its frame stays parked; an
 * overflow entry that starts mapping a frame moves to its frame entry when
 * that is free, or joins its sharers. */
static int inv_update(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, uint64_t set,
                      uint64_t clear)
{
    struct inv *v = INV(p);
    struct ishared *s = v->s;
    unsigned level;
    const uint32_t i = find(v, va, &level);
    if (i == NIL)
        return VMSIM_ENOENT;
    struct ient *e = E(s, i);
    const uint64_t before = frame_of(s, e->pte);
    const uint64_t pte = ((e->pte | set) & ~clear) | PTE_LEAF;
    const uint64_t after = frame_of(s, pte);
    if (after == before) {
        e->pte = pte;
        return VMSIM_OK;
    }
    flist_unlink(s, i);
    e->pte = pte;
    if (i < s->nframes || after >= s->nframes)
        return VMSIM_OK;
    const struct ient *fe = frame_entry(s, after);
    if (fe && !fe->owner) {
        move_entry(s, i, (uint32_t)after);
        slot_freed(s, i);
    } else {
        flist_link(s, i);
    }
    return VMSIM_OK;
}

static uint64_t inv_lookup(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned *level)
{
    unsigned k = 0;
    const uint32_t i = find(INV(p), va, &k);
    if (level)
        *level = k;
    return i != NIL ? E(INV(p)->s, i)->pte : 0;
}

static void inv_walk(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, const struct walk_start *st,
                     struct walk *w)
{
    struct inv *v = INV(p);
    const struct ishared *s = v->s;
    unsigned n = 0;
    w->top = 0;
    for (unsigned k = 1; k <= v->levels; k++) {
        if (k > 1 && !v->leaves[k])
            continue;
        const uint64_t vpn = va >> v->shift[k], a = anchor_of(s, v->space, vpn, k);
        if (n < WALK_MAX_REFS)
            w->ref[n] = (struct walk_ref){s->abase + a * ANCHOR_BYTES, (uint8_t)k};
        n++;
        for (uint32_t i = chain_head(s, a); i != NIL;) {
            struct ient *e = E(s, i);
            if (n < WALK_MAX_REFS)
                w->ref[n] = (struct walk_ref){slot_pa(s, i), (uint8_t)k};
            n++;
            if (e->owner == v && e->vpn == vpn && e->level == k) {
                /* set the accessed bit only when clear, as radix does */
                if ((e->pte & (PTE_P | PTE_A)) == PTE_P)
                    e->pte |= PTE_A;
                w->pte = e->pte;
                w->level = k;
                w->nrefs = n;
                return;
            }
            i = e->next;
        }
    }
    w->pte = 0;
    w->level = 1;
    w->nrefs = n;
}

/* Start loading the anchor slot a base-page walk of va will read (the
 * MMU calls this some events ahead); its entry needs the anchor first. */
static void inv_prefetch(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned level)
{
    const struct inv *v = INV(p);
    const struct amap *m = &v->s->anchor;
    if (m->cap)
        __builtin_prefetch(&m->slot[amap_home(m, anchor_of(v->s, v->space, va >> v->shift[1], 1))]);
}

/* ---- visit ------------------------------------------------------------ */

struct hit {
    vmsim_vaddr_t va;
    unsigned level;
};

static int hit_cmp(const void *x, const void *y)
{
    const struct hit *a = x, *b = y;
    return a->va < b->va ? -1 : a->va > b->va;
}

static int push_hit(struct hit **h, size_t *n, size_t *cap, vmsim_vaddr_t va, unsigned level)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        struct hit *m = realloc(*h, c * sizeof *m);
        if (!m)
            return VMSIM_ENOMEM;
        *h = m;
        *cap = c;
    }
    (*h)[(*n)++] = (struct hit){va, level};
    return VMSIM_OK;
}

/* Leaves in [lo, hi) in address order. A short range is probed page by
 * page, a long one read from the space's list; the leaves found are then
 * looked up again as fn is called, so fn sees the table as it is. */
static int inv_visit(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t lo, vmsim_vaddr_t hi,
                     pt_visit_fn fn, void *ctx)
{
    struct inv *v = INV(p);
    const struct ishared *s = v->s;
    const unsigned vb = v->base.geom->va_bits;
    if (vb < 64 && hi > (1ull << vb))
        hi = 1ull << vb;
    if (!v->n || lo >= hi)
        return 0;
    struct hit *h = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    if ((hi - lo) >> v->shift[1] <= v->n) {
        for (unsigned k = 1; k <= v->levels && rc == 0; k++) {
            if (!v->leaves[k])
                continue;
            const uint64_t size = 1ull << v->shift[k];
            for (vmsim_vaddr_t a = lo & ~(size - 1); a < hi && rc == 0; a += size) {
                if (find_at(v, a, k) != NIL)
                    rc = push_hit(&h, &n, &cap, a, k);
                if (a + size < a)
                    break;
            }
        }
    } else {
        for (uint32_t i = v->head; i != NIL && rc == 0; i = E(s, i)->snext) {
            const struct ient *e = E(s, i);
            const vmsim_vaddr_t a = e->vpn << v->shift[e->level];
            if (a < hi && a + (1ull << v->shift[e->level]) > lo)
                rc = push_hit(&h, &n, &cap, a, e->level);
        }
    }
    if (rc == 0 && n)
        qsort(h, n, sizeof *h, hit_cmp);
    for (size_t j = 0; j < n && rc == 0; j++) {
        const uint32_t i = find_at(v, h[j].va, h[j].level);
        if (i != NIL)
            rc = fn(ctx, h[j].va, h[j].level, E(s, i)->pte);
    }
    free(h);
    return rc;
}

/* ---- memory ----------------------------------------------------------- */

/* An address space adds its leaves; the table's memory is the shared
 * state's, reported once (here too when the space owns it). */
static void inv_footprint(const struct pt *p, struct vmsim_pt_footprint *fp)
{
    const struct inv *v = (const struct inv *)p;
    for (unsigned k = 1; k <= v->levels; k++)
        fp->pages[k] += v->leaves[k];
    if (v->own)
        inv_shared_footprint(v->own, fp);
}

const struct pt_ops pt_inverted_ops = {
    .name = "inverted",
    .tree = false,
    .check = inv_check,
    .create = inv_create,
    .destroy = inv_destroy,
    .shared_footprint = inv_shared_footprint,
    .shared_destroy = shared_free,
    .map = inv_map,
    .unmap = inv_unmap,
    .update = inv_update,
    .lookup = inv_lookup,
    .walk = inv_walk,
    .visit = inv_visit,
    .footprint = inv_footprint,
    .prefetch = inv_prefetch,
};
