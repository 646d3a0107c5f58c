/* Clustered page tables (Talluri, Hill & Khalidi, "A New Page Table for
 * 64-bit Address Spaces", SOSP 1995): a hashed page table, one per address
 * space, whose nodes each map an aligned block of `cluster` consecutive
 * virtual pages (a page block) with one tag and one next pointer, so dense
 * regions amortize the 16 bytes of tag and link over many entries while
 * sparse ones waste the empty slots. docs/organizations.md, "Clustered
 * page table".
 *
 * Simulated layout (every byte in frames from phys_alloc(FRAME_PT), so each
 * reference of a walk has a physical address):
 *   bucket array: 8-byte chain heads, 512 per 4 KiB frame, in single frames
 *                 (bucket b at frame[b / per_frame] + (b % per_frame) * 8:
 *                 the allocator does not reuse freed blocks for larger orders);
 *   block node:   tag (8) + next (8) + cluster x 8-byte entries: 144 bytes
 *                 for the default 16, 28 nodes per 4 KiB frame;
 *   huge node:    tag (8) + next (8) + one entry (8) = 24 bytes: a page of
 *                 level k > 1 (2 MiB, 1 GiB) keyed by its own size.
 * Nodes are carved from frames like a slab, one pool per node size; a frame
 * goes back when its last node does. The tag is the page-block number (for
 * a huge node the huge-page number) with the node kind (its level) in the
 * low 3 bits; the table is per address space, so the space is implicit.
 *
 * Hash: the block number (huge-page number for huge nodes) XOR-folded into
 * log2(buckets) bits (hash=fold, the default), or its low bits (hash=mod).
 * New nodes go to the head of their chain.
 *
 * What a walk reads, in order, one reference each: for the block of va, the
 * bucket head, then every node of the chain up to the one whose tag
 * matches (tag and next pointer are one 16-byte read), then the entry slot
 * of va in that node. When no base page maps va, the same for each huge
 * size the space holds, smallest first: bucket, nodes, the node's entry.
 * The space's set of page sizes in use sits in its table header (like a
 * root pointer register) and is not counted. A hit in the first node of
 * its chain costs 3 references. A chain longer than WALK_MAX_REFS allows is
 * recorded up to that many references (pt.h's limit).
 *
 * Invariants:
 *  1. A node's `used` counts its non-zero entries; a stored entry always
 *     has PTE_LEAF. A node with used == 0 exists only when an unmap ran
 *     while the kernel reclaimed memory inside one of our allocations
 *     (phys.h: no page-table memory is freed then); it stays until an
 *     unmap in it empties it again or the space goes.
 *  2. No two leaves of the space overlap (map returns VMSIM_EEXIST); size k
 *     is in use iff leaves[k] > 0.
 *  3. nodes <= load x buckets after every map that could grow (load > 0);
 *     the bucket array doubles all at once (every node rehashed, counted in
 *     counters->migrated, one resize in counters->resizes) and never
 *     shrinks. A growth that cannot get frames is skipped.
 *
 * Sources: Talluri, Hill, Khalidi 1995 (doi:10.1145/224056.224071),
 * sections 3-4 (clustered nodes of a tag, a next pointer and a page block's
 * mapping words, subblock factor 16; superpage nodes); seed 003 (hashed
 * tables, separate chaining). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt/pt.h"


#define CL_HDR_BYTES 16   /* tag + next pointer */
#define CL_PTE_BYTES 8
#define CL_HEAD_BYTES 8   /* one bucket head */
#define CL_MAX_CLUSTER 256
#define CL_MAX_BUCKET_BITS 30
#define CL_GROW_BITS 36
#define CL_KIND_BITS 3    /* the node's level in the tag's low bits */

/* ---- options ---- */

struct clu_opts {
    uint64_t cluster, buckets;
    double load; /* 0: never grow */
    bool mod;    /* hash=mod */
};

static const char clu_usage[] = "clustered takes cluster=N, buckets=N, load=F, hash=fold|mod";


static unsigned log2u(uint64_t v)
{
    unsigned b = 0;
    while (v >> (b + 1))
        b++;
    return b;
}

/* One "key=value" item of n bytes. */
static int clu_item(const char *s, size_t n, void *ctx, char *why, size_t len)
{
    struct clu_opts *o = ctx;
    size_t klen;
    char val[64];
    int rc = pt_opt_split(s, n, clu_usage, &klen, val, why, len);
    if (rc)
        return rc;
    const size_t vlen = strlen(val);
    uint64_t v;
    if (klen == 7 && !strncmp(s, "cluster", 7)) {
        if (vmsim_parse_size(val, &v) || !pt_pow2(v) || v > CL_MAX_CLUSTER)
            return pt_opt_bad(why, len, "cluster: expected a power of two from 1 to 256", val, vlen);
        o->cluster = v;
    } else if (klen == 7 && !strncmp(s, "buckets", 7)) {
        if (vmsim_parse_size(val, &v) || !pt_pow2(v) || v > (1ull << CL_MAX_BUCKET_BITS))
            return pt_opt_bad(why, len, "buckets: expected a power of two from 1 to 2^30", val, vlen);
        o->buckets = v;
    } else if (klen == 4 && !strncmp(s, "load", 4)) {
        char *end;
        double d = strtod(val, &end);
        if (*end || !(d >= 0) || d > 1e6)
            return pt_opt_bad(why, len, "load: expected nodes per bucket, a number >= 0 (0: never grow)",
                       val, vlen);
        o->load = d;
    } else if (klen == 4 && !strncmp(s, "hash", 4)) {
        if (!strcmp(val, "fold"))
            o->mod = false;
        else if (!strcmp(val, "mod"))
            o->mod = true;
        else
            return pt_opt_bad(why, len, "hash: expected fold or mod", val, vlen);
    } else {
        char what[128];
        snprintf(what, sizeof what, "unknown option: %s", clu_usage);
        return pt_opt_bad(why, len, what, s, klen);
    }
    return VMSIM_OK;
}

static int clu_parse(const char *params, struct clu_opts *o, char *why, size_t len)
{
    *o = (struct clu_opts){.cluster = 16, .buckets = 1024, .load = 1.0, .mod = false};
    return pt_opt_each(params, clu_item, o, why, len);
}

static int clu_check(const char *params, char *why, size_t len)
{
    struct clu_opts o;
    return clu_parse(params, &o, why, len);
}

/* ---- nodes and their frames ---- */

struct slab;

struct cnode {
    struct cnode *next;
    uint64_t tag;       /* number << CL_KIND_BITS | level */
    struct slab *slab;  /* the frame holding the node */
    uint32_t slot;      /* its place in the frame */
    uint32_t used;      /* non-zero entries */
    uint64_t e[];       /* cluster entries (block node) or 1 (huge node) */
};

/* A frame carved into nodes of one size. */
struct slab {
    struct slab *prev, *next; /* the pool's list of frames with a free slot */
    vmsim_pfn_t pfn;
    uint32_t used;
    uint64_t map[];           /* slots in use */
};

struct pool {
    unsigned node_bytes; /* simulated bytes of a node */
    unsigned nslots;     /* nodes per frame */
    unsigned nent;       /* entries per node */
    struct slab *partial;
    uint64_t frames, nodes;
};

struct clustered {
    struct pt base;
    struct pt_counters *counters;
    unsigned ps;              /* base page shift */
    unsigned cbits;           /* log2(cluster) */
    unsigned bbits;           /* log2(buckets) */
    bool mod;
    double load;
    struct cnode **head;      /* host chain heads */
    vmsim_pfn_t *bframe;      /* frames of the bucket array */
    uint64_t nbframes;
    struct pool pool[2];      /* 0: block nodes, 1: huge nodes */
    unsigned kshift[VMSIM_MAX_LEVELS + 1]; /* va >> kshift[k]: the number keyed at level k */
    uint64_t leaves[VMSIM_MAX_LEVELS + 1];
    unsigned levels;
};

static struct clustered *C(struct pt *p) { return (struct clustered *)p; }
static struct pool *pool_of(struct clustered *c, unsigned level) { return &c->pool[level > 1]; }
static size_t host_bytes(const struct pool *pl) { return sizeof(struct cnode) + pl->nent * 8; }
static size_t slab_bytes(const struct pool *pl)
{
    return sizeof(struct slab) + (pl->nslots + 63) / 64 * 8;
}

static void slab_unlink(struct pool *pl, struct slab *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        pl->partial = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

static void slab_push(struct pool *pl, struct slab *s)
{
    s->prev = NULL;
    s->next = pl->partial;
    if (pl->partial)
        pl->partial->prev = s;
    pl->partial = s;
}

/* A new zeroed node of `level`, not linked anywhere. May enter reclaim
 * (a new frame): the caller holds no pointer into chains across it. */
static int node_new(struct clustered *c, unsigned level, struct cnode **out)
{
    struct pool *pl = pool_of(c, level);
    struct phys *phys = c->base.phys;
    struct cnode *n = hostmem_alloc(&phys->host, host_bytes(pl));
    if (!n)
        return VMSIM_ENOMEM;
    struct slab *s = pl->partial;
    if (!s) {
        s = calloc(1, slab_bytes(pl));
        if (!s) {
            hostmem_free(&phys->host, n, host_bytes(pl));
            return VMSIM_ENOMEM;
        }
        int rc = phys_alloc(phys, 0, FRAME_PT, &s->pfn);
        if (rc) {
            free(s);
            hostmem_free(&phys->host, n, host_bytes(pl));
            return rc;
        }
        phys_frame(phys, s->pfn)->level = (uint8_t)level;
        pl->frames++;
        /* reclaim inside phys_alloc may have freed a slot meanwhile: fine,
         * this frame is simply used first */
        slab_push(pl, s);
    }
    uint32_t i = 0;
    while (s->map[i / 64] & (1ull << (i % 64)))
        i++;
    s->map[i / 64] |= 1ull << (i % 64);
    if (++s->used == pl->nslots)
        slab_unlink(pl, s);
    n->slab = s;
    n->slot = i;
    pl->nodes++;
    *out = n;
    return VMSIM_OK;
}

static void node_free(struct clustered *c, unsigned level, struct cnode *n)
{
    struct pool *pl = pool_of(c, level);
    struct slab *s = n->slab;
    if (s->used == pl->nslots)
        slab_push(pl, s);
    s->map[n->slot / 64] &= ~(1ull << (n->slot % 64));
    pl->nodes--;
    if (--s->used == 0) {
        slab_unlink(pl, s);
        phys_put(c->base.phys, s->pfn);
        pl->frames--;
        free(s);
    }
    hostmem_free(&c->base.phys->host, n, host_bytes(pl));
}

static unsigned node_level(const struct cnode *n) { return n->tag & ((1u << CL_KIND_BITS) - 1); }
static uint64_t node_number(const struct cnode *n) { return n->tag >> CL_KIND_BITS; }

static vmsim_paddr_t node_pa(const struct clustered *c, const struct cnode *n)
{
    const struct pool *pl = &c->pool[node_level(n) > 1];
    return phys_addr(c->base.phys, n->slab->pfn) + (vmsim_paddr_t)n->slot * pl->node_bytes;
}

static vmsim_paddr_t entry_pa(const struct clustered *c, const struct cnode *n, unsigned i)
{
    return node_pa(c, n) + CL_HDR_BYTES + (vmsim_paddr_t)i * CL_PTE_BYTES;
}

/* ---- the bucket array ---- */

static uint64_t heads_per_frame(const struct clustered *c)
{
    return (1ull << c->ps) / CL_HEAD_BYTES;
}

static uint64_t frames_for(const struct clustered *c, unsigned bbits)
{
    const uint64_t per = heads_per_frame(c), n = 1ull << bbits;
    return (n + per - 1) / per;
}

static vmsim_paddr_t bucket_pa(const struct clustered *c, uint64_t b)
{
    const uint64_t per = heads_per_frame(c);
    return phys_addr(c->base.phys, c->bframe[b / per]) + (b % per) * CL_HEAD_BYTES;
}

/* XOR of the number's log2(buckets)-bit fields. */
static uint64_t fold(uint64_t x, unsigned bits)
{
    if (bits == 0)
        return 0;
    uint64_t h = 0;
    for (; x; x >>= bits)
        h ^= x & ((1ull << bits) - 1);
    return h;
}

static uint64_t bucket_of(const struct clustered *c, unsigned bbits, uint64_t number)
{
    return c->mod ? number & ((1ull << bbits) - 1) : fold(number, bbits);
}

static void frames_put(struct phys *phys, vmsim_pfn_t *f, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        phys_put(phys, f[i]);
}

/* Frames and host heads for 2^bbits buckets. */
static int array_new(struct clustered *c, unsigned bbits, struct cnode ***head,
                     vmsim_pfn_t **frames)
{
    const uint64_t nf = frames_for(c, bbits);
    struct cnode **h = calloc(1ull << bbits, sizeof *h);
    vmsim_pfn_t *f = calloc(nf, sizeof *f);
    if (!h || !f) {
        free(h);
        free(f);
        return VMSIM_ENOMEM;
    }
    for (uint64_t i = 0; i < nf; i++) {
        int rc = phys_alloc(c->base.phys, 0, FRAME_PT | FRAME_PINNED, &f[i]);
        if (rc) {
            frames_put(c->base.phys, f, i);
            free(h);
            free(f);
            return rc;
        }
    }
    *head = h;
    *frames = f;
    return VMSIM_OK;
}

/* Double the buckets when the nodes pass load x buckets: all at once, every
 * node rehashed. */
static void maybe_grow(struct clustered *c)
{
    const uint64_t nodes = c->pool[0].nodes + c->pool[1].nodes;
    if (c->load <= 0 || (double)nodes <= c->load * (double)(1ull << c->bbits) ||
        c->bbits >= CL_GROW_BITS || c->base.phys->reclaiming)
        return;
    struct cnode **head;
    vmsim_pfn_t *frames;
    /* Not while growing the array: new frames may enter reclaim, which may
     * unmap in this very table (chains stay valid: nothing is freed then). */
    if (array_new(c, c->bbits + 1, &head, &frames))
        return;
    const unsigned bbits = c->bbits + 1;
    uint64_t moved = 0;
    for (uint64_t b = 0; b < (1ull << c->bbits); b++)
        for (struct cnode *n = c->head[b], *next; n; n = next) {
            next = n->next;
            const uint64_t nb = bucket_of(c, bbits, node_number(n));
            n->next = head[nb];
            head[nb] = n;
            moved++;
        }
    frames_put(c->base.phys, c->bframe, c->nbframes);
    free(c->bframe);
    free(c->head);
    c->head = head;
    c->bframe = frames;
    c->nbframes = frames_for(c, bbits);
    c->bbits = bbits;
    c->counters->migrated += moved;
    c->counters->resizes++;
}

/* ---- create / destroy ---- */

static int clu_create(const struct pt_env *env, struct pt **out)
{
    struct clu_opts o;
    int rc = clu_parse(env->params, &o, NULL, 0);
    if (rc)
        return rc;
    const struct vmsim_geometry *g = env->geom;
    const unsigned ps = env->phys->page_shift;
    if (CL_HDR_BYTES + o.cluster * CL_PTE_BYTES > (1ull << ps))
        return VMSIM_EINVAL; /* a node must fit a frame */
    struct clustered *c = calloc(1, sizeof *c);
    if (!c)
        return VMSIM_ENOMEM;
    c->base.ops = &pt_clustered_ops;
    c->base.phys = env->phys;
    c->base.geom = g;
    c->counters = env->counters;
    c->ps = ps;
    c->cbits = log2u(o.cluster);
    c->bbits = log2u(o.buckets);
    c->mod = o.mod;
    c->load = o.load;
    c->levels = g->levels;
    c->kshift[1] = ps + c->cbits;
    for (unsigned k = 2; k <= g->levels; k++)
        c->kshift[k] = vmsim_geometry_page_shift(g, k);
    c->pool[0] = (struct pool){.node_bytes = CL_HDR_BYTES + (unsigned)o.cluster * CL_PTE_BYTES,
                               .nent = (unsigned)o.cluster};
    c->pool[1] = (struct pool){.node_bytes = CL_HDR_BYTES + CL_PTE_BYTES, .nent = 1};
    for (unsigned i = 0; i < 2; i++)
        c->pool[i].nslots = (unsigned)((1ull << ps) / c->pool[i].node_bytes);
    if ((rc = array_new(c, c->bbits, &c->head, &c->bframe)) != 0) {
        free(c);
        return rc;
    }
    c->nbframes = frames_for(c, c->bbits);
    *out = &c->base;
    return VMSIM_OK;
}

static void clu_destroy(struct pt *p)
{
    struct clustered *c = C(p);
    for (uint64_t b = 0; b < (1ull << c->bbits); b++)
        for (struct cnode *n = c->head[b], *next; n; n = next) {
            next = n->next;
            node_free(c, node_level(n), n);
        }
    frames_put(p->phys, c->bframe, c->nbframes);
    free(c->bframe);
    free(c->head);
    free(c);
}

/* ---- finding ---- */

/* The node keyed (level, number) in its chain; *prev gets its predecessor
 * (NULL at the head). */
static struct cnode *chain_find(struct clustered *c, unsigned level, uint64_t number,
                                struct cnode **prev)
{
    const uint64_t tag = number << CL_KIND_BITS | level;
    struct cnode *pv = NULL;
    for (struct cnode *n = c->head[bucket_of(c, c->bbits, number)]; n; pv = n, n = n->next)
        if (n->tag == tag) {
            if (prev)
                *prev = pv;
            return n;
        }
    return NULL;
}

static unsigned slot_of(const struct clustered *c, unsigned level, vmsim_vaddr_t va)
{
    return level == 1 ? (unsigned)((va >> c->ps) & ((1u << c->cbits) - 1)) : 0;
}

/* The leaf covering va: its node and slot, level; NULL when none. */
static struct cnode *find_leaf(struct clustered *c, vmsim_vaddr_t va, unsigned *slot,
                               unsigned *level)
{
    for (unsigned k = 1; k <= c->levels; k++) {
        if (k > 1 && !c->leaves[k])
            continue;
        struct cnode *n = chain_find(c, k, va >> c->kshift[k], NULL);
        const unsigned i = slot_of(c, k, va);
        if (n && n->e[i]) {
            *slot = i;
            *level = k;
            return n;
        }
    }
    return NULL;
}

/* Whether a leaf of `level` lies in [lo, hi] (inclusive bounds). */
static bool any_leaf(struct clustered *c, unsigned level, vmsim_vaddr_t lo, vmsim_vaddr_t hi)
{
    if (!c->leaves[level])
        return false;
    const uint64_t first = lo >> c->kshift[level], last = hi >> c->kshift[level];
    for (uint64_t num = first; num <= last; num++) {
        const struct cnode *n = chain_find(c, level, num, NULL);
        if (!n || !n->used)
            continue;
        if (level > 1)
            return true;
        const vmsim_vaddr_t base = num << c->kshift[1];
        for (unsigned i = 0; i < (1u << c->cbits); i++) {
            const vmsim_vaddr_t va = base + ((vmsim_vaddr_t)i << c->ps);
            if (n->e[i] && va >= lo && va <= hi)
                return true;
        }
    }
    return false;
}

/* A leaf of another size than `level` overlapping the page of `level` at va. */
static bool overlaps(struct clustered *c, vmsim_vaddr_t va, unsigned level)
{
    const vmsim_vaddr_t size = 1ull << (level == 1 ? c->ps : c->kshift[level]);
    const vmsim_vaddr_t lo = va & ~(size - 1), hi = lo + size - 1;
    for (unsigned k = 1; k <= c->levels; k++) {
        if (k == level || !c->leaves[k])
            continue;
        /* a larger page covers lo; smaller ones lie anywhere inside */
        if (k > level ? any_leaf(c, k, lo, lo) : any_leaf(c, k, lo, hi))
            return true;
    }
    return false;
}

/* ---- the operations ---- */

static int clu_map(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned level, uint64_t pte)
{
    struct clustered *c = C(p);
    if (level < 1 || level > c->levels || !(p->geom->leaf_levels & (1u << level)))
        return VMSIM_EINVAL;
    if (overlaps(c, va, level))
        return VMSIM_EEXIST;
    const uint64_t number = va >> c->kshift[level];
    struct cnode *n = chain_find(c, level, number, NULL);
    if (!n) {
        int rc = node_new(c, level, &n);
        if (rc)
            return rc;
        /* Reclaim inside node_new only unmaps (nothing is freed): the
         * chain has no node for this key still. */
        const uint64_t b = bucket_of(c, c->bbits, number);
        n->tag = number << CL_KIND_BITS | level;
        n->next = c->head[b];
        c->head[b] = n;
    }
    const unsigned i = slot_of(c, level, va);
    if (!n->e[i]) {
        n->used++;
        c->leaves[level]++;
    }
    n->e[i] = (pte & PTE_SWAP) ? (pte | PTE_LEAF) & ~PTE_P : pte | PTE_P | PTE_LEAF;
    maybe_grow(c);
    return VMSIM_OK;
}

static int clu_unmap(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, uint64_t *old)
{
    struct clustered *c = C(p);
    unsigned i, level;
    struct cnode *n = find_leaf(c, va, &i, &level);
    if (old)
        *old = n ? n->e[i] : 0;
    if (!n)
        return VMSIM_ENOENT;
    n->e[i] = 0;
    n->used--;
    c->leaves[level]--;
    if (n->used == 0 && !p->phys->reclaiming) {
        struct cnode *prev = NULL;
        chain_find(c, level, node_number(n), &prev);
        if (prev)
            prev->next = n->next;
        else
            c->head[bucket_of(c, c->bbits, node_number(n))] = n->next;
        node_free(c, level, n);
    }
    return VMSIM_OK;
}

static int clu_update(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, uint64_t set,
                      uint64_t clear)
{
    unsigned i, level;
    struct cnode *n = find_leaf(C(p), va, &i, &level);
    if (!n)
        return VMSIM_ENOENT;
    n->e[i] = ((n->e[i] | set) & ~clear) | PTE_LEAF;
    return VMSIM_OK;
}

static uint64_t clu_lookup(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned *level)
{
    unsigned i, k = 0;
    const struct cnode *n = find_leaf(C(p), va, &i, &k);
    if (level)
        *level = k;
    return n ? n->e[i] : 0;
}

static void clu_walk(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, const struct walk_start *s,
                     struct walk *w)
{
    struct clustered *c = C(p);
    unsigned n = 0;
#define REF(addr, lvl)                                                                             \
    do {                                                                                           \
        if (n < WALK_MAX_REFS) {                                                                   \
            w->ref[n].pa = (addr);                                                                 \
            w->ref[n].level = (uint8_t)(lvl);                                                      \
        }                                                                                          \
        n++;                                                                                       \
    } while (0)
    w->top = 0;
    for (unsigned k = 1; k <= c->levels; k++) {
        if (k > 1 && !c->leaves[k])
            continue;
        const uint64_t number = va >> c->kshift[k], tag = number << CL_KIND_BITS | k;
        const uint64_t b = bucket_of(c, c->bbits, number);
        REF(bucket_pa(c, b), k);
        for (struct cnode *nd = c->head[b]; nd; nd = nd->next) {
            REF(node_pa(c, nd), k);
            if (nd->tag != tag)
                continue;
            const unsigned i = slot_of(c, k, va);
            const uint64_t e = nd->e[i];
            REF(entry_pa(c, nd, i), k);
            if (e) {
                if ((e & (PTE_P | PTE_A)) == PTE_P)
                    nd->e[i] = e | PTE_A;
                w->pte = (e & PTE_P) ? e | PTE_A : e;
                w->level = k;
                w->nrefs = n;
                return;
            }
            break;
        }
    }
#undef REF
    w->pte = 0;
    w->level = 1;
    w->nrefs = n;
}

/* ---- visit ---- */

struct found {
    vmsim_vaddr_t va;
    unsigned level;
    uint64_t e;
};

struct founds {
    struct found *f;
    size_t n, cap;
};

static int push(struct founds *fs, vmsim_vaddr_t va, unsigned level, uint64_t e)
{
    if (fs->n == fs->cap) {
        size_t cap = fs->cap ? 2 * fs->cap : 64;
        struct found *f = realloc(fs->f, cap * sizeof *f);
        if (!f)
            return VMSIM_ENOMEM;
        fs->f = f;
        fs->cap = cap;
    }
    fs->f[fs->n++] = (struct found){va, level, e};
    return VMSIM_OK;
}

/* The leaves of node nd overlapping [lo, hi). */
static int node_leaves(const struct clustered *c, const struct cnode *nd, vmsim_vaddr_t lo,
                       vmsim_vaddr_t hi, struct founds *fs)
{
    const unsigned k = node_level(nd);
    const unsigned n = k == 1 ? 1u << c->cbits : 1;
    const unsigned span_shift = k == 1 ? c->ps : c->kshift[k];
    const vmsim_vaddr_t base = node_number(nd) << c->kshift[k];
    for (unsigned i = 0; i < n; i++) {
        const vmsim_vaddr_t va = base + ((vmsim_vaddr_t)i << span_shift);
        const vmsim_vaddr_t end = va + (1ull << span_shift);
        if (!nd->e[i] || end <= lo || va >= hi)
            continue;
        int rc = push(fs, va, k, nd->e[i]);
        if (rc)
            return rc;
    }
    return VMSIM_OK;
}

static int by_va(const void *a, const void *b)
{
    const struct found *x = a, *y = b;
    return x->va < y->va ? -1 : x->va > y->va;
}

/* Collect, then call back in address order: by probing each number of the
 * range when there are fewer of them than nodes, else by scanning every
 * chain. */
static int clu_visit(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t lo, vmsim_vaddr_t hi,
                     pt_visit_fn fn, void *ctx)
{
    struct clustered *c = C(p);
    if (hi <= lo)
        return 0;
    struct founds fs = {0};
    const uint64_t nodes = c->pool[0].nodes + c->pool[1].nodes;
    int rc = 0;
    for (unsigned k = 1; k <= c->levels && rc == 0; k++) {
        if (!c->leaves[k])
            continue;
        const uint64_t first = lo >> c->kshift[k], last = (hi - 1) >> c->kshift[k];
        if (last - first >= nodes) {
            for (uint64_t b = 0; b < (1ull << c->bbits) && rc == 0; b++)
                for (const struct cnode *nd = c->head[b]; nd && rc == 0; nd = nd->next)
                    if (node_level(nd) == k)
                        rc = node_leaves(c, nd, lo, hi, &fs);
            continue;
        }
        for (uint64_t num = first; rc == 0; num++) {
            const struct cnode *nd = chain_find(c, k, num, NULL);
            if (nd)
                rc = node_leaves(c, nd, lo, hi, &fs);
            if (num == last)
                break;
        }
    }
    if (rc == 0) {
        if (fs.n > 1)
            qsort(fs.f, fs.n, sizeof *fs.f, by_va);
        for (size_t i = 0; i < fs.n && rc == 0; i++)
            rc = fn(ctx, fs.f[i].va, fs.f[i].level, fs.f[i].e);
    }
    free(fs.f);
    return rc;
}

/* Buckets: 8 bytes each. Nodes: their simulated bytes (the slack at the
 * end of each node frame is not counted). All in fp->bytes: no root. */
static void clu_footprint(const struct pt *p, struct vmsim_pt_footprint *fp)
{
    const struct clustered *c = (const struct clustered *)p;
    const uint64_t buckets = (1ull << c->bbits) * CL_HEAD_BYTES;
    const uint64_t nodes =
        c->pool[0].nodes * c->pool[0].node_bytes + c->pool[1].nodes * c->pool[1].node_bytes;
    pt_fp_part(fp, "buckets", buckets);
    pt_fp_part(fp, "nodes", nodes);
    fp->bytes += buckets + nodes;
    for (unsigned k = 1; k <= c->levels; k++)
        fp->pages[k] += c->leaves[k];
}

const struct pt_ops pt_clustered_ops = {
    .name = "clustered",
    .tree = false,
    .check = clu_check,
    .create = clu_create,
    .destroy = clu_destroy,
    .map = clu_map,
    .unmap = clu_unmap,
    .update = clu_update,
    .lookup = clu_lookup,
    .walk = clu_walk,
    .visit = clu_visit,
    .footprint = clu_footprint,
};
