/* Hashed page tables: a hash table keyed by (address space, virtual page
 * number, page size), with separate chaining or linear probing, four hash
 * functions, load-driven incremental resizing, and a per-process or a
 * global (machine-wide) scope. docs/organizations.md, "Hashed page table".
 *
 * Simulated layout (every byte in frames from phys_alloc(FRAME_PT), so each
 * reference of a walk has a physical address):
 *   chaining: a bucket array of 8-byte heads (512 per 4 KiB frame) and
 *             24-byte entry nodes (tag word, PTE, next: 170 per 4 KiB
 *             frame, carved from node frames like a slab);
 *   probing:  a slot array of 16-byte slots (tag word, PTE: 256 per frame).
 * The tag word packs VPN | page-size level << V | space id << (V + 3), V
 * the geometry's VPN width: the space field is what a global table adds to
 * each entry (ceil(log2 P) bits for P address spaces). Bucket and slot
 * arrays span single frames, not a contiguous block (vmalloc-like; the
 * allocator cannot reuse freed blocks for larger orders): entry b is at
 * frame[b / per_frame] + (b % per_frame) * size.
 *
 * Invariants:
 *  1. A key is in at most one table; an entry is never 0 (PTE_LEAF is set).
 *  2. Not resizing: t[0] is the table. Resizing: t[0] is the old table and
 *     t[1] the new one of twice the buckets; buckets (slots) of t[0] below
 *     rehashidx are migrated; new keys go to t[1] only.
 *  3. Chaining: buckets of t[0] below rehashidx are empty, so a lookup
 *     skips t[0] there. Probing: a migrated or deleted slot of t[0] during a
 *     resize is a tombstone (probe sequences stay intact); otherwise
 *     deletion shifts entries back (Knuth 6.4 Algorithm R), so no table
 *     outside a resize holds tombstones.
 *  4. A space's `sizes` has bit k iff it holds leaves of level k; lookups
 *     probe those sizes only, smallest first. No two leaves of one space
 *     overlap: `inside` counts, per region of each larger leaf size, the
 *     smaller leaves in it (host bookkeeping standing in for the kernel's
 *     knowledge, as radix gets it from its tree).
 *
 * Resizing follows Redis' dict (dict.c): two tables while it runs; every
 * map/unmap/update/lookup/walk first migrates `step` buckets (empty ones
 * count); an insert migrates more when needed so the resize ends before the
 * new table passes its own load threshold (the load stays bounded however
 * small `step` is). Migration is host work: counted in counters->migrated,
 * not as references of a walk. Tables never shrink. A resize that cannot
 * get frames is skipped (tried again at the next insert): growing is an
 * optimization, an insert fails only when its own entry has no room.
 * Nothing is migrated or freed while the kernel reclaims memory inside an
 * allocation of ours (phys.h): nested operations only edit chains/slots.
 *
 * Parallel runs (docs/concurrency.md): walks and lookups take no lock while
 * inserts and updates run under the kernel's. The reader sees whole
 * entries (pt_entry_*), a chain head or slot tag published only after the
 * node or slot it names is complete (release; walks acquire), node chunks
 * that never move, and no migration or free while the run is parallel
 * (phys->reclaiming): a resize waits for the end of the parallel
 * stretch (hashed_quiesce). A parallel run's lock of an entry is its
 * bucket's.
 *
 * Sources: seed 003 (hashed page tables: anchors, chains, (2 + a/2) and
 * 1/2 (1 + 1/(1 - a)), per-process vs global); seed 002; Redis dict.c
 * (incremental rehash); Power ISA Book III, "Hashed Page Table Search", and
 * Linux's vsid_scramble (the XOR hash); Knuth, TAOCP vol. 3, 6.4 (linear
 * probing, Fibonacci hashing, deletion by backward shift). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pt/pt.h"
#include "util/kv.h"
#include "util/u64map.h"

/* ---- options ---- */

enum { COLL_CHAIN, COLL_PROBE };
enum { HASH_MULT, HASH_XOR, HASH_MOD, HASH_ZERO };

struct hopts {
    int collision, hash;
    uint64_t buckets; /* 0: the default for the scope */
    double load;      /* < 0: the default for the collision policy */
    bool global;
    uint64_t step;
};

#define MAX_BUCKETS_BITS 32 /* an option's limit; growth stops at GROW_BITS */
#define GROW_BITS 40

static int opt_fail(char *why, size_t len, const char *fmt, const char *a, size_t alen)
{
    if (why && len)
        snprintf(why, len, fmt, (int)alen, a);
    return VMSIM_EINVAL;
}

/* One k=v item of length n. */
static int parse_item(const char *s, size_t n, struct hopts *o, unsigned *seen, char *why,
                      size_t len)
{
    struct kv kv;
    kv_split(s, n, &kv);
    if (!kv.val)
        return opt_fail(why, len, "hashed: expected KEY=VALUE, found \"%.*s\"", s, n);
    const size_t kn = kv.klen, vn = kv.vlen;
    char v[64];
    if (!kv_value(&kv, v, sizeof v))
        return opt_fail(why, len, "hashed: bad value in \"%.*s\"", s, n);
    static const char *const keys[] = {"collision", "hash", "buckets", "load", "scope", "step"};
    unsigned k = 0;
    while (k < 6 && !kv_is(&kv, keys[k]))
        k++;
    if (k == 6)
        return opt_fail(why, len,
                        "hashed: unknown option \"%.*s\" (expected collision, hash, buckets, "
                        "load, scope or step)",
                        s, kn);
    if (*seen & (1u << k))
        return opt_fail(why, len, "hashed: option \"%.*s\" given twice", s, kn);
    *seen |= 1u << k;
    char *end;
    switch (k) {
    case 0:
        if (!strcmp(v, "chain"))
            o->collision = COLL_CHAIN;
        else if (!strcmp(v, "probe"))
            o->collision = COLL_PROBE;
        else
            return opt_fail(why, len, "hashed: collision=%.*s: expected chain or probe", v, vn);
        return VMSIM_OK;
    case 1: {
        static const char *const names[] = {"mult", "xor", "mod", "zero"};
        for (int i = 0; i < 4; i++)
            if (!strcmp(v, names[i])) {
                o->hash = i;
                return VMSIM_OK;
            }
        return opt_fail(why, len, "hashed: hash=%.*s: expected mult, xor, mod or zero", v, vn);
    }
    case 2: {
        unsigned long long b = strtoull(v, &end, 10);
        if (*end || v[0] == '-' || b == 0 || (b & (b - 1)) || b > (1ull << MAX_BUCKETS_BITS))
            return opt_fail(why, len,
                            "hashed: buckets=%.*s: expected a power of two from 1 to 2^32", v, vn);
        o->buckets = b;
        return VMSIM_OK;
    }
    case 3: {
        double f = strtod(v, &end);
        if (*end || !isfinite(f) || f < 0)
            return opt_fail(why, len,
                            "hashed: load=%.*s: expected a load factor >= 0 (0: never resize)", v,
                            vn);
        o->load = f;
        return VMSIM_OK;
    }
    case 4:
        if (!strcmp(v, "process") || !strcmp(v, "global")) {
            o->global = v[0] == 'g';
            return VMSIM_OK;
        }
        return opt_fail(why, len, "hashed: scope=%.*s: expected process or global", v, vn);
    default: {
        unsigned long long st = strtoull(v, &end, 10);
        if (*end || v[0] == '-' || st == 0 || st > (1ull << 32))
            return opt_fail(why, len, "hashed: step=%.*s: expected a bucket count >= 1", v, vn);
        o->step = st;
        return VMSIM_OK;
    }
    }
}

static int parse_opts(const char *params, struct hopts *o, char *why, size_t len)
{
    *o = (struct hopts){COLL_CHAIN, HASH_MULT, 0, -1.0, false, 1};
    unsigned seen = 0;
    /* "" is no options; an empty item, a trailing comma's too, is refused */
    for (const char *s = params && *params ? params : NULL; s;) {
        struct kv kv;
        s = kv_next(s, &kv);
        if (kv.len == 0)
            return opt_fail(why, len, "hashed: empty option in \"%.*s\"", params, strlen(params));
        int rc = parse_item(kv.s, kv.len, o, &seen, why, len);
        if (rc)
            return rc;
    }
    if (o->collision == COLL_PROBE && o->load >= 1.0) {
        char v[32];
        snprintf(v, sizeof v, "%g", o->load);
        return opt_fail(why, len,
                        "hashed: load=%.*s: linear probing needs a load factor below 1 "
                        "(0: never resize)",
                        v, strlen(v));
    }
    return VMSIM_OK;
}

static int hashed_check(const char *params, char *why, size_t len)
{
    struct hopts o;
    return parse_opts(params, &o, why, len);
}

/* ---- simulated sizes ---- */

#define HEAD_BYTES 8  /* chaining: a bucket head (node address) */
#define NODE_BYTES 24 /* chaining: tag word 8, PTE 8, next 8 */
#define SLOT_BYTES 16 /* probing: tag word 8, PTE 8 */

/* Host copies. A tag (space << 8 | level) is never 0 (levels start at 1):
 * 0 marks an empty slot, TOMB a probing tombstone. */
#define TOMB UINT64_MAX
#define TAG(space, level) (((uint64_t)(space) << 8) | (level))
#define TAG_SPACE(tag) ((tag) >> 8)
#define TAG_LEVEL(tag) ((unsigned)((tag) & 0xff))
#define NIL 0u /* node id 0: no node */

struct hnode {
    uint64_t vpn, tag, pte;
    uint32_t next; /* node id; on a free node: the next free node of its frame */
    uint32_t pad;
};

struct hslot {
    uint64_t vpn, tag, pte;
};

/* ---- the node pool (chaining): nodes carved from frames, a slab ---- */

struct npage {
    vmsim_pfn_t pfn;
    uint32_t used;
    uint32_t free; /* first free node id of this frame, NIL when full */
    uint8_t live;  /* holds a frame */
    uint8_t queued; /* on the avail stack */
};

/* Node id i (from 1) lives in chunk[(i - 1) >> CHUNK_BITS], at (i - 1)
 * & CHUNK_MASK. Chunks never move once made, so a walk on another thread
 * (a parallel run) can follow ids while an insert grows the pool: it
 * loads the chunk and page arrays after the id that led it there, and
 * arrays that growth replaced during a parallel run are kept (retired)
 * until one outside it. */
#define CHUNK_BITS 8
#define CHUNK_MASK ((1u << CHUNK_BITS) - 1)

struct pool {
    struct hnode **chunk; /* by node id = page * per + slot + 1 (above) */
    uint64_t nchunks;
    struct npage *page;
    void **retired;       /* replaced arrays not freed yet */
    uint64_t nretired;
    uint32_t *avail;    /* pages that may have free nodes (lazy: checked on pop) */
    uint32_t *dead;     /* page indices without a frame, for reuse */
    uint64_t npages, cap, navail, ndead;
    uint64_t live_pages, live_nodes;
    unsigned per; /* nodes per frame */
};

static inline struct hnode *NODE(const struct pool *p, uint32_t id)
{
    struct hnode *const *c = __atomic_load_n(&p->chunk, __ATOMIC_ACQUIRE);
    return &c[(id - 1) >> CHUNK_BITS][(id - 1) & CHUNK_MASK];
}

static void retired_free(struct pool *p)
{
    for (uint64_t i = 0; i < p->nretired; i++)
        free(p->retired[i]);
    free(p->retired);
    p->retired = NULL;
    p->nretired = 0;
}

/* A copy of the first `used` bytes of old in a new array of n bytes. */
static void *copy_grown(const void *old, size_t used, size_t n)
{
    void *a = malloc(n);
    if (a && used)
        memcpy(a, old, used);
    return a;
}

/* An array that growth replaced: freed, or kept while walks of a parallel
 * run may still read it (keep: reclaiming, phys.h). room: the retired list
 * has a free slot (retire_room). */
static void retire(struct pool *p, void *old, bool keep)
{
    if (keep)
        p->retired[p->nretired++] = old;
    else
        free(old);
}

static int retire_room(struct pool *p, unsigned n)
{
    void **r = realloc(p->retired, (p->nretired + n) * sizeof *r);
    if (!r)
        return VMSIM_ENOMEM;
    p->retired = r;
    return VMSIM_OK;
}

/* Room for one more page in every host array, so that freeing never
 * allocates. */
static int pool_reserve(struct pool *p, const struct phys *phys)
{
    if (p->npages < p->cap)
        return VMSIM_OK;
    const bool keep = phys->reclaiming;
    if (!keep)
        retired_free(p);
    uint64_t cap = p->cap ? 2 * p->cap : 4;
    if ((cap * p->per + 1) > UINT32_MAX)
        return VMSIM_ENOMEM;
    const uint64_t nchunks = (cap * p->per + CHUNK_MASK) >> CHUNK_BITS;
    struct hnode **chunk = copy_grown(p->chunk, p->nchunks * sizeof *chunk, nchunks * sizeof *chunk);
    struct npage *page = copy_grown(p->page, p->cap * sizeof *page, cap * sizeof *page);
    if (!chunk || !page || (keep && retire_room(p, 2))) {
        free(chunk);
        free(page);
        return VMSIM_ENOMEM;
    }
    for (uint64_t i = p->nchunks; i < nchunks; i++)
        if (!(chunk[i] = malloc(sizeof(struct hnode) << CHUNK_BITS))) {
            while (i-- > p->nchunks)
                free(chunk[i]);
            free(chunk);
            free(page);
            return VMSIM_ENOMEM;
        }
    /* complete before published: a walk may load them at once */
    struct hnode **old_chunk = p->chunk;
    struct npage *old_page = p->page;
    __atomic_store_n(&p->chunk, chunk, __ATOMIC_RELEASE);
    __atomic_store_n(&p->page, page, __ATOMIC_RELEASE);
    retire(p, old_chunk, keep);
    retire(p, old_page, keep);
    p->nchunks = nchunks;
    uint32_t *avail = realloc(p->avail, cap * sizeof *avail);
    if (!avail)
        return VMSIM_ENOMEM;
    p->avail = avail;
    uint32_t *dead = realloc(p->dead, cap * sizeof *dead);
    if (!dead)
        return VMSIM_ENOMEM;
    p->dead = dead;
    p->cap = cap;
    return VMSIM_OK;
}

/* A free node id in *id. May reclaim (phys_alloc): nested operations may
 * then free nodes (never a frame, phys->reclaiming), never allocate them. */
static int pool_alloc(struct pool *p, struct phys *phys, uint32_t *id)
{
    while (p->navail) { /* drop full or dead pages from the top */
        const uint32_t top = p->avail[p->navail - 1];
        if (p->page[top].live && p->page[top].free)
            break;
        p->page[top].queued = 0;
        p->navail--;
    }
    uint64_t i;
    if (p->navail) {
        i = p->avail[p->navail - 1];
    } else {
        int rc = pool_reserve(p, phys);
        if (rc)
            return rc;
        vmsim_pfn_t pfn;
        if ((rc = phys_alloc(phys, 0, FRAME_PT, &pfn)) != 0)
            return rc;
        const bool fresh = !p->ndead;
        i = fresh ? p->npages++ : p->dead[--p->ndead];
        struct npage *pg = &p->page[i];
        const uint8_t queued = fresh ? 0 : pg->queued; /* a dead page may still be stacked */
        const uint32_t first = (uint32_t)(i * p->per + 1);
        for (unsigned s = 0; s < p->per; s++)
            NODE(p, first + s)->next = s + 1 < p->per ? first + s + 1 : NIL;
        *pg = (struct npage){pfn, 0, first, 1, 1};
        if (!queued)
            p->avail[p->navail++] = (uint32_t)i;
        p->live_pages++;
    }
    struct npage *pg = &p->page[i];
    *id = pg->free;
    pg->free = NODE(p, *id)->next;
    pg->used++;
    p->live_nodes++;
    *NODE(p, *id) = (struct hnode){0};
    return VMSIM_OK;
}

static void pool_free(struct pool *p, struct phys *phys, uint32_t id)
{
    const uint64_t i = (id - 1) / p->per;
    struct npage *pg = &p->page[i];
    *NODE(p, id) = (struct hnode){.next = pg->free};
    pg->free = id;
    pg->used--;
    p->live_nodes--;
    if (!pg->used && !phys->reclaiming) {
        phys_put(phys, pg->pfn);
        pg->live = 0;
        pg->free = NIL;
        p->live_pages--;
        p->dead[p->ndead++] = (uint32_t)i;
    } else if (!pg->queued) {
        pg->queued = 1;
        p->avail[p->navail++] = (uint32_t)i;
    }
}

static void pool_fini(struct pool *p, struct phys *phys)
{
    for (uint64_t i = 0; i < p->npages; i++)
        if (p->page[i].live)
            phys_put(phys, p->page[i].pfn);
    for (uint64_t i = 0; i < p->nchunks; i++)
        free(p->chunk[i]);
    free(p->chunk);
    free(p->page);
    retired_free(p);
    free(p->avail);
    free(p->dead);
    memset(p, 0, sizeof *p);
}

/* ---- bucket (slot) arrays ---- */

struct htab {
    uint64_t n, mask, used; /* buckets, n - 1, entries */
    unsigned bits;          /* log2 n */
    vmsim_pfn_t *frame;
    uint64_t nframes;
    uint32_t *head;      /* chaining: first node id per bucket */
    struct hslot *slot;  /* probing */
};

struct hash {
    struct hopts opt; /* defaults resolved */
    struct phys *phys;
    struct pt_counters *counters;
    unsigned vbits;   /* VPN bits of the tag word */
    unsigned ps;      /* base page shift */
    unsigned esize;   /* bytes of a bucket head or slot */
    unsigned per_shift; /* log2 of heads/slots per frame */
    unsigned seg_bits;  /* VA bits above a 256 MiB segment (hash=xor) */
    unsigned shift[VMSIM_MAX_LEVELS + 2]; /* page shift of each level */
    struct htab t[2];
    bool rehashing;
    uint64_t rehashidx;
    uint64_t used; /* entries in both tables */
    struct pool pool;
    uint64_t spaces; /* address spaces using it (global scope) */
};

/* The host arrays behind the buckets are touched where keys hash, that is
 * at random. A large one is mapped on its own with transparent huge pages
 * refused: under THP "always" one touched bucket would make the kernel
 * back its whole 2 MiB, and buckets=2^32 (16 GiB of 4-byte heads) took
 * 17.4 GB of host memory for 100 k accesses. With 4 KiB host pages a
 * touch costs 4 KiB, and untouched buckets cost nothing (anonymous memory
 * reads as zero: empty). Small arrays come from calloc. */
#define HTAB_MMAP_MIN (2u << 20)

static void *htab_zalloc(uint64_t n, size_t size)
{
    if (n > SIZE_MAX / size)
        return NULL;
    const size_t bytes = (size_t)n * size;
    if (bytes < HTAB_MMAP_MIN)
        return calloc(n, size);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    madvise(p, bytes, MADV_NOHUGEPAGE); /* advice: a kernel without THP ignores it */
    return p;
}

static void htab_zfree(void *p, uint64_t n, size_t size)
{
    if (!p)
        return;
    if ((size_t)n * size < HTAB_MMAP_MIN)
        free(p);
    else
        munmap(p, (size_t)n * size);
}

static void htab_free(struct hash *h, struct htab *t)
{
    for (uint64_t i = 0; i < t->nframes; i++)
        phys_put(h->phys, t->frame[i]);
    free(t->frame);
    htab_zfree(t->head, t->n, sizeof *t->head);
    htab_zfree(t->slot, t->n, sizeof *t->slot);
    memset(t, 0, sizeof *t);
}

/* A table of 2^bits empty buckets. May reclaim. */
static int htab_new(struct hash *h, unsigned bits, struct htab *t)
{
    memset(t, 0, sizeof *t);
    t->bits = bits;
    t->n = 1ull << bits;
    t->mask = t->n - 1;
    const uint64_t per = 1ull << h->per_shift;
    const uint64_t nframes = (t->n + per - 1) / per;
    if (h->opt.collision == COLL_CHAIN)
        t->head = htab_zalloc(t->n, sizeof *t->head);
    else
        t->slot = htab_zalloc(t->n, sizeof *t->slot);
    t->frame = malloc(nframes * sizeof *t->frame);
    if (!t->frame || (!t->head && !t->slot)) {
        htab_free(h, t);
        return VMSIM_ENOMEM;
    }
    for (; t->nframes < nframes; t->nframes++) {
        int rc = phys_alloc(h->phys, 0, FRAME_PT, &t->frame[t->nframes]);
        if (rc) {
            htab_free(h, t);
            return rc;
        }
    }
    return VMSIM_OK;
}

static inline vmsim_paddr_t bucket_pa(const struct hash *h, const struct htab *t, uint64_t b)
{
    const uint64_t in_frame = b & ((1ull << h->per_shift) - 1);
    return ((vmsim_paddr_t)t->frame[b >> h->per_shift] << h->ps) + in_frame * h->esize;
}

static inline vmsim_paddr_t node_pa(const struct hash *h, uint32_t id)
{
    const struct pool *p = &h->pool;
    const uint64_t i = (id - 1) / p->per, s = (id - 1) % p->per;
    const struct npage *page = __atomic_load_n(&p->page, __ATOMIC_ACQUIRE);
    return ((vmsim_paddr_t)page[i].pfn << h->ps) + s * NODE_BYTES;
}

/* ---- hashing ---- */

#define FIB 0x9e3779b97f4a7c15ull /* 2^64 / golden ratio (Knuth 6.4) */

/* PowerPC's hash (Power ISA, Book III "Hashed Page Table Search"): the
 * primary hash is VSID xor the page index inside a 256 MiB segment, taken
 * modulo the bucket count. The VSID comes from (address space, segment) the
 * way Linux makes it (vsid_scramble): a proto-VSID times 12538073 modulo
 * 2^37 - 1, so homonyms in different spaces land in unrelated buckets. */
#define SEG_SHIFT 28
#define VSID_BITS 37
#define VSID_MOD ((1ull << VSID_BITS) - 1)
#define VSID_MULTIPLIER 12538073ull

static inline uint64_t mod_vsid(uint64_t x)
{
    while (x >> VSID_BITS)
        x = (x & VSID_MOD) + (x >> VSID_BITS);
    return x == VSID_MOD ? 0 : x;
}

static inline uint64_t ppc_hash(const struct hash *h, uint64_t vpn, uint64_t tag)
{
    const unsigned s = h->shift[TAG_LEVEL(tag)];
    const uint64_t esid = s < SEG_SHIFT ? vpn >> (SEG_SHIFT - s) : vpn << (s - SEG_SHIFT);
    const uint64_t page = s < SEG_SHIFT ? vpn & ((1ull << (SEG_SHIFT - s)) - 1) : 0;
    /* proto-VSID = space << (VA bits - 28) | esid, modulo 2^37 - 1 (where a
     * shift by n is a rotation by n within 37 bits) */
    const uint64_t sp = mod_vsid(TAG_SPACE(tag));
    const unsigned r = h->seg_bits % VSID_BITS;
    const uint64_t rot = r ? ((sp << r) | (sp >> (VSID_BITS - r))) & VSID_MOD : sp;
    const uint64_t vsid = mod_vsid(mod_vsid(rot + mod_vsid(esid)) * VSID_MULTIPLIER);
    return vsid ^ page;
}

static inline uint64_t bucket_of(const struct hash *h, const struct htab *t, uint64_t vpn,
                                 uint64_t tag)
{
    if (!t->bits)
        return 0;
    switch (h->opt.hash) {
    case HASH_MULT: { /* the whole tag word, Fibonacci hashing */
        const uint64_t w = vpn ^ ((uint64_t)TAG_LEVEL(tag) << h->vbits) ^
                           (TAG_SPACE(tag) << (h->vbits + 3));
        return (w * FIB) >> (64 - t->bits);
    }
    case HASH_XOR:
        return ppc_hash(h, vpn, tag) & t->mask;
    case HASH_MOD: /* the VPN alone: homonyms always collide (seed 003) */
        return vpn & t->mask;
    default:
        return 0;
    }
}

/* ---- search, insert, remove ---- */

/* References of a walk: recorded when w is set (the first WALK_MAX_REFS;
 * n counts them all). */
struct rec {
    struct walk *w;
    unsigned n;
};

static inline void record(struct rec *r, vmsim_paddr_t pa)
{
    if (!r)
        return;
    if (r->n < WALK_MAX_REFS) {
        r->w->ref[r->n].pa = pa;
        r->w->ref[r->n].level = (uint8_t)(r->n < 255 ? r->n : 255);
    }
    r->n++;
}

struct loc {
    struct htab *t;
    uint64_t i;     /* bucket (chaining) or slot (probing) */
    uint32_t *link; /* chaining: the head or next field that points to the node */
    uint64_t *pte;
};

static bool find_in(struct hash *h, struct htab *t, uint64_t b, uint64_t vpn, uint64_t tag,
                    struct rec *r, struct loc *l)
{
    if (h->opt.collision == COLL_CHAIN) {
        record(r, bucket_pa(h, t, b));
        uint32_t *link = &t->head[b];
        /* ids acquired before the node they name (chain_put) */
        for (uint32_t id; (id = __atomic_load_n(link, __ATOMIC_ACQUIRE)) != NIL;) {
            struct hnode *nd = NODE(&h->pool, id);
            record(r, node_pa(h, id));
            if (nd->vpn == vpn && nd->tag == tag) {
                *l = (struct loc){t, b, link, &nd->pte};
                return true;
            }
            link = &nd->next;
        }
        return false;
    }
    for (uint64_t c = 0, i = b; c < t->n; c++, i = (i + 1) & t->mask) {
        struct hslot *s = &t->slot[i];
        record(r, bucket_pa(h, t, i));
        const uint64_t st = __atomic_load_n(&s->tag, __ATOMIC_ACQUIRE); /* after vpn (probe_put) */
        if (!st)
            return false;
        if (st == tag && s->vpn == vpn) {
            *l = (struct loc){t, i, NULL, &s->pte};
            return true;
        }
    }
    return false;
}

/* Old table first (most keys are there when a resize starts), as Redis. */
static bool find(struct hash *h, uint64_t vpn, uint64_t tag, struct rec *r, struct loc *l)
{
    struct htab *t0 = &h->t[0];
    const uint64_t b0 = bucket_of(h, t0, vpn, tag);
    if (!h->rehashing)
        return find_in(h, t0, b0, vpn, tag, r, l);
    if ((h->opt.collision == COLL_PROBE || b0 >= h->rehashidx) &&
        find_in(h, t0, b0, vpn, tag, r, l))
        return true;
    return find_in(h, &h->t[1], bucket_of(h, &h->t[1], vpn, tag), vpn, tag, r, l);
}

/* Put an entry into a probing table: false when it is full. */
static bool probe_put(struct hash *h, struct htab *t, uint64_t vpn, uint64_t tag, uint64_t pte)
{
    for (uint64_t c = 0, i = bucket_of(h, t, vpn, tag); c < t->n; c++, i = (i + 1) & t->mask)
        if (!t->slot[i].tag) {
            t->slot[i].vpn = vpn;
            t->slot[i].pte = pte;
            __atomic_store_n(&t->slot[i].tag, tag, __ATOMIC_RELEASE); /* a walk may see it now */
            t->used++;
            return true;
        }
    return false;
}

static void chain_put(struct hash *h, struct htab *t, uint32_t id)
{
    struct hnode *nd = NODE(&h->pool, id);
    const uint64_t b = bucket_of(h, t, nd->vpn, nd->tag);
    nd->next = t->head[b];
    __atomic_store_n(&t->head[b], id, __ATOMIC_RELEASE); /* the node is complete */
    t->used++;
}

/* Empty slot i of a probing table, shifting back the entries after it that
 * may move (their home is not cyclically in (i, j]). In a full table (a
 * resize found no frames, or load=0) the scan ends when it comes round to
 * the hole. */
static void probe_delete(struct hash *h, struct htab *t, uint64_t i)
{
    for (uint64_t j = i;;) {
        j = (j + 1) & t->mask;
        const struct hslot *s = &t->slot[j];
        if (!s->tag || j == i)
            break;
        const uint64_t k = bucket_of(h, t, s->vpn, s->tag);
        const bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            t->slot[i] = *s;
            i = j;
        }
    }
    t->slot[i] = (struct hslot){0};
}

static void remove_at(struct hash *h, const struct loc *l)
{
    struct htab *t = l->t;
    if (h->opt.collision == COLL_CHAIN) {
        const uint32_t id = *l->link;
        *l->link = NODE(&h->pool, id)->next;
        pool_free(&h->pool, h->phys, id);
    } else if (h->rehashing && t == &h->t[0]) {
        t->slot[l->i] = (struct hslot){0, TOMB, 0};
    } else {
        probe_delete(h, t, l->i);
    }
    t->used--;
    h->used--;
}

/* ---- incremental resizing ---- */

static void finish_resize(struct hash *h)
{
    htab_free(h, &h->t[0]);
    h->t[0] = h->t[1];
    memset(&h->t[1], 0, sizeof h->t[1]);
    h->rehashing = false;
    h->rehashidx = 0;
}

/* Move up to n buckets (slots) of the old table to the new one. */
static void migrate(struct hash *h, uint64_t n)
{
    struct htab *o = &h->t[0], *nw = &h->t[1];
    for (; n && h->rehashidx < o->n; n--) {
        const uint64_t i = h->rehashidx++;
        if (h->opt.collision == COLL_CHAIN) {
            for (uint32_t id = o->head[i]; id;) {
                const uint32_t next = NODE(&h->pool, id)->next;
                chain_put(h, nw, id);
                o->used--;
                h->counters->migrated++;
                id = next;
            }
            o->head[i] = NIL;
        } else {
            struct hslot *s = &o->slot[i];
            if (s->tag && s->tag != TOMB) {
                if (!probe_put(h, nw, s->vpn, s->tag, s->pte)) {
                    h->rehashidx--; /* no room (see maybe_grow): both tables stay */
                    return;
                }
                o->used--;
                h->counters->migrated++;
                *s = (struct hslot){0, TOMB, 0};
            }
        }
    }
    if (h->rehashidx == o->n)
        finish_resize(h);
}

/* The work every operation does first. */
static inline void step(struct hash *h)
{
    if (h->rehashing && !h->phys->reclaiming)
        migrate(h, h->opt.step);
}

/* Start a resize when the load passes the threshold. The new table can
 * take everything: a resize from M starts with at most M entries (an
 * insert finishes the previous one before its table passes load < 1 per
 * slot) and lasts at most M operations of one insert each. */
static void maybe_grow(struct hash *h)
{
    const struct htab *t = &h->t[0];
    if (h->rehashing || h->opt.load <= 0 || h->phys->reclaiming || t->bits >= GROW_BITS ||
        (double)h->used <= h->opt.load * (double)t->n)
        return;
    struct htab nw;
    if (htab_new(h, t->bits + 1, &nw) != VMSIM_OK)
        return; /* no frames now: tried again at the next insert */
    h->t[1] = nw;
    h->rehashing = true;
    h->rehashidx = 0;
    h->counters->resizes++;
}

/* Before an insert during a resize: migrate enough that the resize ends
 * before the new table passes its threshold T = floor(load * n). The insert
 * that makes used = T + 1 must find the migration over, so the buckets left
 * when the operation began (left0) are spread over the T + 1 - used inserts
 * to come, this one included; `done` were migrated by step() already. */
static void insert_quota(struct hash *h, uint64_t left0)
{
    if (!h->rehashing || h->phys->reclaiming)
        return;
    const uint64_t T = (uint64_t)(h->opt.load * (double)h->t[1].n);
    const uint64_t left = h->t[0].n - h->rehashidx, done = left0 - left;
    uint64_t need = left0;
    if (T + 1 > h->used) {
        const uint64_t ops = T + 1 - h->used;
        need = (left0 + ops - 1) / ops;
    }
    if (need > done)
        migrate(h, need - done);
}

/* ---- the organization ---- */

struct hashed {
    struct pt base;
    struct hash *h; /* own, or the machine's (global scope) */
    bool global;
    uint64_t space;
    unsigned sizes;  /* bit k: leaves of level k exist */
    unsigned leaf_levels;
    unsigned levels;
    unsigned shift[VMSIM_MAX_LEVELS + 2];
    uint64_t leaves[VMSIM_MAX_LEVELS + 2];
    struct u64map inside; /* (level j, region) -> smaller leaves in it */
};

static struct hashed *HS(struct pt *p) { return (struct hashed *)p; }

static void hash_free(struct hash *h)
{
    if (!h)
        return;
    htab_free(h, &h->t[0]);
    htab_free(h, &h->t[1]);
    pool_fini(&h->pool, h->phys);
    free(h);
}

static int hash_new(const struct pt_env *env, const struct hopts *o, struct hash **out)
{
    struct hash *h = calloc(1, sizeof *h);
    if (!h)
        return VMSIM_ENOMEM;
    h->opt = *o;
    if (!h->opt.buckets)
        h->opt.buckets = o->global ? 65536 : 1024;
    if (h->opt.load < 0)
        h->opt.load = o->collision == COLL_PROBE ? 0.5 : 1.0;
    h->phys = env->phys;
    h->counters = env->counters;
    h->ps = env->phys->page_shift;
    const unsigned vb = env->geom->va_bits - env->geom->page_shift;
    h->vbits = vb < 53 ? vb : 53;
    h->seg_bits = env->geom->va_bits > SEG_SHIFT ? env->geom->va_bits - SEG_SHIFT : 0;
    for (unsigned k = 1; k <= env->geom->levels; k++)
        h->shift[k] = vmsim_geometry_page_shift(env->geom, k);
    h->esize = o->collision == COLL_CHAIN ? HEAD_BYTES : SLOT_BYTES;
    h->per_shift = h->ps - (o->collision == COLL_CHAIN ? 3 : 4);
    h->pool.per = (unsigned)((1ull << h->ps) / NODE_BYTES);
    unsigned bits = 0;
    while ((1ull << bits) < h->opt.buckets)
        bits++;
    int rc = htab_new(h, bits, &h->t[0]);
    if (rc) {
        free(h);
        return rc;
    }
    *out = h;
    return VMSIM_OK;
}

static int hashed_create(const struct pt_env *env, struct pt **out)
{
    struct hopts o;
    int rc = parse_opts(env->params, &o, NULL, 0);
    if (rc)
        return rc;
    const struct vmsim_geometry *g = env->geom;
    if ((o.global && !env->shared) || env->space >> 55 ||
        g->page_shift < 10 || g->va_bits <= g->page_shift)
        return VMSIM_EINVAL;
    struct hashed *hs = calloc(1, sizeof *hs);
    if (!hs)
        return VMSIM_ENOMEM;
    hs->base.ops = &pt_hashed_ops;
    hs->base.phys = env->phys;
    hs->base.geom = g;
    hs->global = o.global;
    hs->space = env->space;
    hs->levels = g->levels;
    for (unsigned k = 1; k <= g->levels; k++) {
        hs->shift[k] = vmsim_geometry_page_shift(g, k);
        if (g->leaf_levels & (1u << k))
            hs->leaf_levels |= 1u << k;
    }
    if (o.global && *env->shared) {
        hs->h = *env->shared;
    } else if ((rc = hash_new(env, &o, &hs->h)) != 0) {
        free(hs);
        return rc;
    } else if (o.global) {
        *env->shared = hs->h;
    }
    hs->h->spaces++;
    *out = &hs->base;
    return VMSIM_OK;
}

/* Remove every entry of one space from a shared table. */
static void remove_space(struct hash *h, uint64_t space)
{
    for (unsigned ti = 0; ti < (h->rehashing ? 2u : 1u); ti++) {
        struct htab *t = &h->t[ti];
        for (uint64_t i = 0; i < t->n; i++) {
            if (h->opt.collision == COLL_CHAIN) {
                uint32_t *link = &t->head[i];
                while (*link) {
                    struct hnode *nd = NODE(&h->pool, *link);
                    if (TAG_SPACE(nd->tag) == space)
                        remove_at(h, &(struct loc){t, i, link, &nd->pte});
                    else
                        link = &nd->next;
                }
                continue;
            }
            /* Backward shift may bring a later entry into slot i: look again. */
            while (t->slot[i].tag && t->slot[i].tag != TOMB && TAG_SPACE(t->slot[i].tag) == space)
                remove_at(h, &(struct loc){t, i, NULL, &t->slot[i].pte});
        }
    }
}

static void hashed_destroy(struct pt *p)
{
    struct hashed *hs = HS(p);
    hs->h->spaces--;
    if (hs->global)
        remove_space(hs->h, hs->space);
    else
        hash_free(hs->h);
    u64map_free(&hs->inside);
    free(hs);
}

static void hashed_shared_destroy(void *shared) { hash_free(shared); }

/* Count (delta +1/-1) a leaf of `level` at va in the regions of every
 * larger leaf size. */
static int inside_add(struct hashed *hs, vmsim_vaddr_t va, unsigned level, int delta)
{
    for (unsigned j = level + 1; j <= hs->levels; j++) {
        if (!(hs->leaf_levels & (1u << j)))
            continue;
        const uint64_t key = ((uint64_t)j << 58) | (va >> hs->shift[j]);
        uint64_t *n = u64map_get(&hs->inside, key);
        if (delta < 0) {
            if (n && --*n == 0)
                u64map_del(&hs->inside, key);
        } else if (n) {
            ++*n;
        } else if (u64map_put(&hs->inside, key, 1) != VMSIM_OK) {
            for (unsigned i = level + 1; i < j; i++) /* undo the larger sizes done */
                if (hs->leaf_levels & (1u << i)) {
                    const uint64_t k2 = ((uint64_t)i << 58) | (va >> hs->shift[i]);
                    uint64_t *m = u64map_get(&hs->inside, k2);
                    if (m && --*m == 0)
                        u64map_del(&hs->inside, k2);
                }
            return VMSIM_ENOMEM;
        }
    }
    return VMSIM_OK;
}

/* The leaf covering va in one of the sizes of mask `sizes`, smallest
 * first. */
static bool find_leaf(struct hashed *hs, unsigned sizes, vmsim_vaddr_t va, struct rec *r,
                      struct loc *l, unsigned *level)
{
    for (unsigned m = sizes; m; m &= m - 1) {
        const unsigned k = (unsigned)__builtin_ctz(m);
        if (level)
            *level = k;
        if (find(hs->h, va >> hs->shift[k], TAG(hs->space, k), r, l))
            return true;
    }
    return false;
}

/* VMSIM_EEXIST when a leaf of another size covers va or lies inside the
 * level page at va. */
static bool overlaps(struct hashed *hs, vmsim_vaddr_t va, unsigned level)
{
    struct loc l;
    for (unsigned m = hs->sizes & ~((2u << level) - 1); m; m &= m - 1) {
        const unsigned j = (unsigned)__builtin_ctz(m);
        if (find(hs->h, va >> hs->shift[j], TAG(hs->space, j), NULL, &l))
            return true;
    }
    if (hs->sizes & ((1u << level) - 1))
        return u64map_get(&hs->inside, ((uint64_t)level << 58) | (va >> hs->shift[level])) != NULL;
    return false;
}

static int hashed_map(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned level,
                      uint64_t pte)
{
    struct hashed *hs = HS(p);
    struct hash *h = hs->h;
    if (level < 1 || level > hs->levels || !(hs->leaf_levels & (1u << level)))
        return VMSIM_EINVAL;
    const uint64_t left0 = h->rehashing ? h->t[0].n - h->rehashidx : 0;
    step(h);
    const uint64_t e = (pte & PTE_SWAP) ? (pte | PTE_LEAF) & ~PTE_P : pte | PTE_P | PTE_LEAF;
    const uint64_t vpn = va >> hs->shift[level], tag = TAG(hs->space, level);
    if (overlaps(hs, va, level))
        return VMSIM_EEXIST;
    struct loc l;
    if (find(h, vpn, tag, NULL, &l)) {
        pt_entry_publish(l.pte, true, e, 0, 0);
        return VMSIM_OK;
    }
    int rc = inside_add(hs, va, level, +1);
    if (rc)
        return rc;
    uint32_t id = NIL;
    if (h->opt.collision == COLL_CHAIN && (rc = pool_alloc(&h->pool, h->phys, &id)) != 0) {
        inside_add(hs, va, level, -1);
        return rc;
    }
    /* pool_alloc may have reclaimed: nested operations edited chains only,
     * so the tables below are still the ones to use. */
    if (left0)
        insert_quota(h, left0);
    struct htab *t = &h->t[h->rehashing ? 1 : 0];
    if (id) {
        *NODE(&h->pool, id) = (struct hnode){vpn, tag, e, NIL, 0};
        chain_put(h, t, id);
    } else if (!probe_put(h, t, vpn, tag, e)) {
        /* Full: only with load=0 or after resizes that found no frames. */
        maybe_grow(h);
        if (!h->rehashing || !probe_put(h, &h->t[1], vpn, tag, e)) {
            inside_add(hs, va, level, -1);
            return VMSIM_ENOFRAME;
        }
    }
    h->used++;
    hs->leaves[level]++;
    __atomic_fetch_or(&hs->sizes, 1u << level, __ATOMIC_RELEASE);
    maybe_grow(h);
    return VMSIM_OK;
}

static int hashed_unmap(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, uint64_t *old)
{
    struct hashed *hs = HS(p);
    step(hs->h);
    struct loc l;
    unsigned level;
    if (!find_leaf(hs, hs->sizes, va, NULL, &l, &level)) {
        if (old)
            *old = 0;
        return VMSIM_ENOENT;
    }
    if (old)
        *old = *l.pte;
    remove_at(hs->h, &l);
    if (--hs->leaves[level] == 0)
        hs->sizes &= ~(1u << level);
    inside_add(hs, va, level, -1);
    return VMSIM_OK;
}

static int hashed_update(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, uint64_t set,
                         uint64_t clear)
{
    struct hashed *hs = HS(p);
    step(hs->h);
    struct loc l;
    if (!find_leaf(hs, __atomic_load_n(&hs->sizes, __ATOMIC_ACQUIRE), va, NULL, &l, NULL))
        return VMSIM_ENOENT;
    pt_entry_publish(l.pte, false, 0, set, clear);
    return VMSIM_OK;
}

/* Layout only changes (migration), never an entry. */
static uint64_t hashed_lookup(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned *level)
{
    struct hashed *hs = HS(p);
    step(hs->h);
    struct loc l;
    unsigned k = 0;
    const bool found = find_leaf(hs, __atomic_load_n(&hs->sizes, __ATOMIC_ACQUIRE), va, NULL, &l, &k);
    if (level)
        *level = found ? k : 0;
    return found ? pt_entry_load(l.pte) : 0;
}

/* Probe each size in use, smallest first; every bucket head, node or slot
 * read is a reference. A space with no leaves still probes its smallest
 * size: a walk always reads memory. No page-walk caches (top = 0). */
static void hashed_walk(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va,
                        const struct walk_start *s, struct walk *w)
{
    struct hashed *hs = HS(p);
    step(hs->h);
    struct rec r = {w, 0};
    struct loc l;
    unsigned k = 1;
    w->top = 0;
    w->pte = 0;
    const unsigned in_use = __atomic_load_n(&hs->sizes, __ATOMIC_ACQUIRE);
    const unsigned sizes = in_use ? in_use : hs->leaf_levels & -hs->leaf_levels;
    if (find_leaf(hs, sizes, va, &r, &l, &k)) {
        const uint64_t e = pt_entry_load(l.pte);
        pt_entry_accessed(l.pte, e);
        w->pte = (e & PTE_P) ? e | PTE_A : e;
    }
    w->level = k;
    w->nrefs = r.n;
}

/* Visit by probing each page of the range (cheap for small ranges, in
 * address order per size, smallest size first) or by scanning the tables
 * (hash order), whichever reads fewer entries. */
static int hashed_visit(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t lo, vmsim_vaddr_t hi,
                        pt_visit_fn fn, void *ctx)
{
    struct hashed *hs = HS(p);
    struct hash *h = hs->h;
    if (hi <= lo || !hs->sizes)
        return 0;
    const uint64_t scan = h->t[0].n + (h->rehashing ? h->t[1].n : 0) + h->used;
    uint64_t pages = 0;
    for (unsigned m = hs->sizes; m; m &= m - 1) {
        const unsigned k = (unsigned)__builtin_ctz(m);
        const uint64_t n = ((hi - 1) >> hs->shift[k]) - (lo >> hs->shift[k]) + 1;
        pages = pages + n < pages ? UINT64_MAX : pages + n;
    }
    struct loc l;
    if (pages <= scan) {
        for (unsigned m = hs->sizes; m; m &= m - 1) {
            const unsigned k = (unsigned)__builtin_ctz(m);
            const uint64_t last = (hi - 1) >> hs->shift[k];
            for (uint64_t v = lo >> hs->shift[k];; v++) {
                if (find(h, v, TAG(hs->space, k), NULL, &l)) {
                    const int rc = fn(ctx, v << hs->shift[k], k, *l.pte);
                    if (rc)
                        return rc;
                }
                if (v == last)
                    break;
            }
        }
        return 0;
    }
    for (unsigned ti = 0; ti < (h->rehashing ? 2u : 1u); ti++) {
        const struct htab *t = &h->t[ti];
        for (uint64_t i = 0; i < t->n; i++) {
            uint32_t id = h->opt.collision == COLL_CHAIN ? t->head[i] : NIL;
            const struct hslot *s = h->opt.collision == COLL_PROBE ? &t->slot[i] : NULL;
            while (id || s) {
                uint64_t vpn, tag, e;
                if (s) {
                    vpn = s->vpn, tag = s->tag, e = s->pte;
                    s = NULL;
                } else {
                    const struct hnode *nd = NODE(&h->pool, id);
                    vpn = nd->vpn, tag = nd->tag, e = nd->pte;
                    id = nd->next;
                }
                if (!tag || tag == TOMB || TAG_SPACE(tag) != hs->space)
                    continue;
                const unsigned k = TAG_LEVEL(tag);
                const vmsim_vaddr_t va = vpn << hs->shift[k];
                if (va + (1ull << hs->shift[k]) <= lo || va >= hi)
                    continue;
                const int rc = fn(ctx, va, k, e);
                if (rc)
                    return rc;
            }
        }
    }
    return 0;
}

/* Start loading the bucket head (slot) a walk of va reads first: the
 * smallest size in use, in each table. No side effects. */
static void hashed_prefetch(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned level)
{
    const struct hashed *hs = (const struct hashed *)p;
    const struct hash *h = hs->h;
    if (!hs->sizes)
        return;
    const unsigned k = (unsigned)__builtin_ctz(hs->sizes);
    const uint64_t vpn = va >> hs->shift[k], tag = TAG(hs->space, k);
    for (unsigned ti = 0; ti < (h->rehashing ? 2u : 1u); ti++) {
        const struct htab *t = &h->t[ti];
        const uint64_t b = bucket_of(h, t, vpn, tag);
        if (t->head)
            __builtin_prefetch(&t->head[b]);
        else
            __builtin_prefetch(&t->slot[b]);
    }
}

/* Parts: chaining "buckets" (heads), "entries" (live nodes), "slack";
 * probing "entries" (used slots), "empty slots", "slack". Slack is frame
 * bytes holding neither (a partly used last frame, free nodes). bytes =
 * every frame. */
static void hash_footprint(const struct hash *h, struct vmsim_pt_footprint *fp)
{
    const uint64_t page = 1ull << h->ps;
    const uint64_t n = h->t[0].n + h->t[1].n;
    const uint64_t frames = h->t[0].nframes + h->t[1].nframes + h->pool.live_pages;
    uint64_t used;
    if (h->opt.collision == COLL_CHAIN) {
        used = n * HEAD_BYTES + h->pool.live_nodes * NODE_BYTES;
        pt_fp_part(fp, "buckets", n * HEAD_BYTES);
        pt_fp_part(fp, "entries", h->pool.live_nodes * NODE_BYTES);
    } else {
        used = n * SLOT_BYTES;
        pt_fp_part(fp, "entries", h->used * SLOT_BYTES);
        pt_fp_part(fp, "empty slots", (n - h->used) * SLOT_BYTES);
    }
    pt_fp_part(fp, "slack", frames * page - used);
    fp->bytes += frames * page;
}

static void hashed_footprint(const struct pt *p, struct vmsim_pt_footprint *fp)
{
    const struct hashed *hs = (const struct hashed *)p;
    for (unsigned k = 1; k <= hs->levels; k++)
        fp->pages[k] += hs->leaves[k];
    if (!hs->global)
        hash_footprint(hs->h, fp);
}

static void hashed_shared_footprint(const void *shared, struct vmsim_pt_footprint *fp)
{
    hash_footprint(shared, fp);
}

/* A parallel run's lock of va's base-page entry: the bucket it hashes to
 * in the table an insert would use (tables do not change during one). */
static uint64_t hashed_lock_key(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va)
{
    const struct hashed *hs = HS(p);
    const struct hash *h = hs->h;
    const struct htab *t = &h->t[h->rehashing ? 1 : 0];
    return (uint64_t)(uintptr_t)h * 0xc2b2ae3d27d4eb4full ^
           bucket_of(h, t, va >> hs->shift[1], TAG(hs->space, 1));
}

/* After a parallel run's accesses (which never resize: lock-free walks
 * must not see entries move): grow if the load asks for it, and finish
 * any resize at once. Counted as resizes and migrated entries. */
static void hashed_quiesce(struct pt *p)
{
    struct hash *h = HS(p)->h;
    if (h->phys->reclaiming)
        return;
    maybe_grow(h);
    if (h->rehashing)
        migrate(h, h->t[0].n);
}

const struct pt_ops pt_hashed_ops = {
    .name = "hashed",
    .tree = false,
    .check = hashed_check,
    .create = hashed_create,
    .destroy = hashed_destroy,
    .shared_footprint = hashed_shared_footprint,
    .shared_destroy = hashed_shared_destroy,
    .map = hashed_map,
    .unmap = hashed_unmap,
    .update = hashed_update,
    .lookup = hashed_lookup,
    .walk = hashed_walk,
    .visit = hashed_visit,
    .footprint = hashed_footprint,
    .prefetch = hashed_prefetch,
    .lock_key = hashed_lock_key,
    .quiesce = hashed_quiesce,
};
