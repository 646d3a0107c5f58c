/* Elastic cuckoo page tables, per address space: Skarlatos, Kokolis, Xu,
 * Torrellas, "Elastic Cuckoo Page Tables: Rethinking Virtual Memory
 * Translation for Parallelism", ASPLOS 2020.
 *
 * Layout. For every page size the geometry allows, a d-ary cuckoo hash
 * table (ways=d): d ways of N slots each (slots=N, a power of two). Way i
 * has its own hash h_i of (address space, virtual page number): seeded
 * multiplicative hashing, the seeds drawn per address space, page size,
 * generation and way (hash=bits: a hand-checkable hash for tests, see
 * way_hash). A slot is a tag word (the virtual page number) and an entry
 * word, 2 x pte_bytes. The d ways of a table are consecutive in simulated
 * frames (FRAME_PT); the base-page table exists from create() on, the
 * others from the first page of their size. A key lives in exactly one of
 * its d candidate slots, so a lookup reads d slots: hardware issues the d
 * reads in parallel, vmsim records each of them (the cost model charges
 * per reference, so a probe costs d references where the hardware pays
 * about one memory latency).
 *
 * Insertion. An empty candidate slot takes the entry (in the newest
 * generation first, see below); else a random walk of at most kicks=K
 * kicks: the entry takes the slot of a random way and the occupant moves
 * to one of its own other ways, and so on. A walk that finds no empty slot
 * is undone, and the table is rebuilt: every entry rehashed at once into
 * ways `scale` times larger with new seeds (the paper rehashes when an
 * insertion fails, too). Rebuilding is the fallback; resizing is elastic:
 *
 * Elastic resizing. When the entries pass load=F of the d x N slots, a new
 * generation of d ways, scale=S times larger (new seeds), is allocated and
 * the old one is drained gradually: each map and unmap rehashes the next
 * migrate=M old slots, the ways in turn (migrate=0: everything at once, no
 * elastic phase). Way i of the old generation has a rehashing pointer
 * ptr[i]: its slots below ptr[i] are empty, and a key k whose old hash
 * h_i(k) lies below ptr[i] lives, in way i, at the new generation's
 * h'_i(k); at or above ptr[i], in the old way. So a lookup still reads
 * exactly one slot per way during a resize. The old generation is freed
 * when it holds nothing. Every entry moved from an old generation counts
 * in pt_counters.migrated, every resize started (elastic or rebuild) in
 * .resizes. A resize never starts while one runs: that one is finished
 * first, at once.
 *
 * Cuckoo walk tables (CWT). For every huge page size (leaf levels k >= 2)
 * a table with one entry per region of that size that holds pages: a
 * bitmap of the page sizes present there (and, host side only, a count per
 * size). A page of level j is recorded in the regions of every CWT level
 * k >= j that contain it. A walk reads the CWT of the largest size first:
 * no entry, nothing is mapped there, the walk ends; one size present, the
 * walk probes only that size's d ways; several, it reads the entry of the
 * next smaller CWT level (the sub-region of va) and decides again. The
 * smallest CWT level always settles it (a huge page there excludes every
 * smaller page). So a walk in a region of base pages only reads 1 + d
 * words. While only one size has ways (the walker knows from their base
 * registers), there is nothing to narrow: the walk reads just its d
 * slots. A CWT is a hash table with one hash and buckets of 8 eight-byte
 * entries, one 64-byte line each: reading a CWT entry is one reference.
 * A bucket that fills, or a CWT more than half full, doubles the CWT (all
 * at once; it is small). cwt=off keeps the counts host side for map's
 * checks but allocates nothing, and a walk then probes the ways of every
 * size that has a table, in parallel: d references per size.
 *
 * Invariants: every entry sits at loc(k, i) for one way i (loc: the
 * rehashing rule above); a slot is empty iff its entry word is 0 (stored
 * entries always carry PTE_LEAF); gen->used counts the entries of a
 * generation, ctab->entries those of a size; a CWT entry of level k for
 * region R has bit j set iff R holds pages of level j, and exists iff the
 * bitmap is not empty; old slots below ptr[i] are empty.
 *
 * Reentrancy: phys_alloc may run the kernel's reclaim, which updates or
 * unmaps entries of any address space, this one included. Frames are
 * therefore allocated before anything is changed, nothing read before an
 * allocation is trusted after it, and no migration runs while reclaiming
 * (phys->reclaiming).
 *
 * Simplifications: one entry per slot and one region per CWT entry
 * (ECPT implementations pack the entries of 8 consecutive pages under one
 * tag, and many regions into a CWT entry); a CWT entry records page sizes
 * only, and the MMU's caches of CWT entries (the paper's CWCs) are not
 * modelled: every walk reads the CWT from memory; the hardware needs each
 * way physically contiguous, vmsim's allocator gives blocks only from
 * never-used memory, so a generation is a list of frames (the addresses
 * within a frame are exact); tables never shrink.
 *
 * Options (params "k=v,..."): ways=3, slots=512, load=0.6, kicks=32,
 * scale=2, migrate=4, cwt=on, hash=mul, seed=1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pt/pt.h"
#include "util/kv.h"
#include "util/rng.h"

#define CK_MAX_WAYS 8
#define CK_MAX_KICKS 1024
#define CK_MAX_BITS 40     /* slots per way stop at 2^40 */
#define CK_MAX_SLOTS_BITS 24 /* slots= at most 2^24 */
#define CWT_LINE 64        /* bytes of a CWT bucket: one cache line */
#define CWT_ASSOC 8        /* entries per bucket */
#define CWT_MAX_BITS 40

struct ck_opts {
    unsigned ways;
    unsigned slots_bits; /* log2 of slots= */
    double load;
    unsigned kicks;
    unsigned scale_bits; /* log2 of scale= */
    unsigned migrate;
    bool cwt;
    bool bits_hash; /* hash=bits */
    uint64_t seed;
};

/* A slot, host side; empty when pte == 0. */
struct slot {
    uint64_t vpn;
    uint64_t pte;
};

/* One generation of d ways. */
struct gen {
    unsigned bits; /* log2 of slots per way */
    bool fields;   /* hash=bits: index by bit fields (see way_hash) */
    uint64_t slots;
    uint64_t used;
    uint64_t seed[CK_MAX_WAYS], mul[CK_MAX_WAYS];
    struct slot *s; /* way i, index h: s[i * slots + h] */
    vmsim_pfn_t *pfn;
    uint64_t nframes;
};

/* The cuckoo table of one page size. */
struct ctab {
    unsigned level;
    struct gen *cur; /* the newest generation */
    struct gen *old; /* being drained into cur, or NULL */
    uint64_t ptr[CK_MAX_WAYS]; /* rehashing pointers into old's ways */
    unsigned rr;               /* the way to drain next */
    uint64_t entries;
};

struct cwt_ent {
    uint64_t region;
    uint32_t mask; /* bit j: pages of level j present; 0: empty entry */
    uint64_t n[VMSIM_MAX_LEVELS + 1];
};

/* A cuckoo walk table: buckets of CWT_ASSOC entries. */
struct cwt {
    unsigned level;
    unsigned bits; /* log2 of buckets */
    uint64_t entries, seed;
    struct cwt_ent *e; /* bucket b: e[b * CWT_ASSOC ...] */
    vmsim_pfn_t *pfn;  /* NULL with cwt=off */
    uint64_t nframes;
};

struct cuckoo {
    struct pt base;
    struct ck_opts o;
    struct pt_counters *counters;
    unsigned slot_bytes, ps;
    unsigned nsize, size[VMSIM_MAX_LEVELS];     /* leaf levels, largest first */
    unsigned ncwt, cwt_level[VMSIM_MAX_LEVELS]; /* CWT levels, largest first */
    unsigned shift[VMSIM_MAX_LEVELS + 1];
    struct ctab *tab[VMSIM_MAX_LEVELS + 1];
    unsigned ntab; /* sizes that have ways */
    struct cwt cwt[VMSIM_MAX_LEVELS + 1];
    uint64_t seeds; /* splitmix state for hash seeds */
    struct rng rng; /* kick choices */
};

/* A slot of a table, where loc() says a key lives in a way. */
struct pos {
    struct gen *g;
    uint64_t idx; /* i * slots + h */
};

static struct cuckoo *C(struct pt *p) { return (struct cuckoo *)p; }

/* ---- options ---------------------------------------------------------------- */

#define CK_KEYS "ways, slots, load, kicks, scale, migrate, cwt, hash, seed"

static int parse_u64(const char *v, uint64_t *out)
{
    char *end;
    if (*v < '0' || *v > '9')
        return -1;
    errno = 0;
    *out = strtoull(v, &end, 10);
    return *end || errno ? -1 : 0;
}

static int ck_parse(const char *params, struct ck_opts *o, char *why, size_t len)
{
    *o = (struct ck_opts){.ways = 3, .slots_bits = 9, .load = 0.6, .kicks = 32, .scale_bits = 1,
                          .migrate = 4, .cwt = true, .seed = 1};
    char buf[256];
    if (!params)
        params = "";
    if (strlen(params) >= sizeof buf) {
        snprintf(why, len, "cuckoo options too long (at most %zu characters)", sizeof buf - 1);
        return VMSIM_EINVAL;
    }
    /* empty items (",,", a leading or trailing comma) are skipped */
    for (const char *s = params; s && *s;) {
        struct kv item;
        s = kv_next(s, &item);
        if (!item.len)
            continue;
        char *kv = buf; /* the key, or the whole item without '=' */
        const char *v = kv_cut(&item, buf), *expect;
        if (!v) {
            snprintf(why, len, "expected a cuckoo option KEY=VALUE (" CK_KEYS "), found \"%s\"",
                     kv);
            return VMSIM_EINVAL;
        }
        uint64_t x;
        if (!strcmp(kv, "ways")) {
            expect = "2 to 8";
            if (parse_u64(v, &x) || x < 2 || x > CK_MAX_WAYS)
                goto bad;
            o->ways = (unsigned)x;
        } else if (!strcmp(kv, "slots")) {
            expect = "a power of two from 1 to 16m (slots per way)";
            if (vmsim_parse_size(v, &x) || !pt_pow2(x) || x > (1ull << CK_MAX_SLOTS_BITS))
                goto bad;
            o->slots_bits = (unsigned)__builtin_ctzll(x);
        } else if (!strcmp(kv, "load")) {
            expect = "an occupancy above 0 and at most 1, such as 0.6";
            char *end;
            const double f = strtod(v, &end);
            if (end == v || *end || !(f > 0 && f <= 1))
                goto bad;
            o->load = f;
        } else if (!strcmp(kv, "kicks")) {
            expect = "0 to 1024";
            if (parse_u64(v, &x) || x > CK_MAX_KICKS)
                goto bad;
            o->kicks = (unsigned)x;
        } else if (!strcmp(kv, "scale")) {
            expect = "2, 4, 8 or 16";
            if (parse_u64(v, &x) || !pt_pow2(x) || x < 2 || x > 16)
                goto bad;
            o->scale_bits = (unsigned)__builtin_ctzll(x);
        } else if (!strcmp(kv, "migrate")) {
            expect = "0 (all at once) to 65536 (old slots per map or unmap)";
            if (parse_u64(v, &x) || x > 65536)
                goto bad;
            o->migrate = (unsigned)x;
        } else if (!strcmp(kv, "cwt")) {
            expect = "on or off";
            if (strcmp(v, "on") && strcmp(v, "off"))
                goto bad;
            o->cwt = !strcmp(v, "on");
        } else if (!strcmp(kv, "hash")) {
            expect = "mul (seeded multiplicative) or bits (bit fields of the page number, "
                     "first generation only)";
            if (strcmp(v, "mul") && strcmp(v, "bits"))
                goto bad;
            o->bits_hash = !strcmp(v, "bits");
        } else if (!strcmp(kv, "seed")) {
            expect = "an unsigned integer";
            if (parse_u64(v, &x))
                goto bad;
            o->seed = x;
        } else {
            snprintf(why, len, "unknown cuckoo option \"%s\" (expected " CK_KEYS ")", kv);
            return VMSIM_EINVAL;
        }
        continue;
    bad:
        snprintf(why, len, "cuckoo option %s: expected %s, found \"%s\"", kv, expect, v);
        return VMSIM_EINVAL;
    }
    return VMSIM_OK;
}

static int ck_check(const char *params, char *why, size_t len)
{
    struct ck_opts o;
    return ck_parse(params, &o, why, len);
}

/* ---- frames ------------------------------------------------------------------- */

static void frames_free(struct cuckoo *c, vmsim_pfn_t *pfn, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        phys_put(c->base.phys, pfn[i]);
    free(pfn);
}

/* n page-table frames for a structure of level `level`. May run reclaim
 * (which may call back into this table). All or nothing. */
static int frames_alloc(struct cuckoo *c, uint64_t n, unsigned level, vmsim_pfn_t **out)
{
    struct phys *ph = c->base.phys;
    if (n > ph->nframes)
        return VMSIM_ENOFRAME;
    vmsim_pfn_t *pfn = malloc((n ? n : 1) * sizeof *pfn);
    if (!pfn)
        return VMSIM_ENOMEM;
    for (uint64_t i = 0; i < n; i++) {
        int rc = phys_alloc(ph, 0, FRAME_PT, &pfn[i]);
        if (rc) {
            frames_free(c, pfn, i);
            return rc;
        }
        phys_frame(ph, pfn[i])->level = (uint8_t)level;
    }
    *out = pfn;
    return VMSIM_OK;
}

/* The simulated address of byte `off` of a structure spread over frames. */
static inline vmsim_paddr_t frame_pa(const struct cuckoo *c, const vmsim_pfn_t *pfn, uint64_t off)
{
    return ((vmsim_paddr_t)pfn[off >> c->ps] << c->ps) | (off & ((1ull << c->ps) - 1));
}

/* Zeroed host memory for slot and CWT arrays. Large ones come straight
 * from the kernel, asked for transparent huge pages: a walk reads d
 * random slots, and on 4 KiB host pages each read would miss the host's
 * TLB too (see phys/hostmem.h). */
#define HOST_BIG (2ull << 20)

static void *host_alloc(size_t bytes)
{
    if (bytes < HOST_BIG)
        return calloc(1, bytes ? bytes : 1);
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(m, bytes, MADV_HUGEPAGE); /* a hint: failure is harmless */
#endif
    return m;
}

static void host_free(void *m, size_t bytes)
{
    if (!m)
        return;
    if (bytes < HOST_BIG)
        free(m);
    else
        munmap(m, bytes);
}

/* ---- generations and hashing ------------------------------------------------------ */

/* Way i's slot for vpn in generation g: seeded multiplicative hashing
 * (xor the seed, multiply, fold, multiply by an odd per-way factor; the
 * top bits index). With hash=bits, the first generation of a table has
 * way i take bit field i of the page number (bits i*b to i*b + b - 1,
 * b = log2 of the slots), xor a multiplicative hash of the bits above the
 * d fields: for page numbers below 2^(d*b) the slots can be worked out by
 * hand. Clustered pages leave most fields constant, so such a table soon
 * fails an insertion; the generations that resizes make use the seeded
 * hash. */
static inline uint64_t way_hash(const struct cuckoo *c, const struct gen *g, unsigned i,
                                uint64_t vpn)
{
    if (!g->bits)
        return 0;
    if (g->fields) {
        const unsigned lo = i * g->bits, hi = c->o.ways * g->bits;
        uint64_t h = lo < 64 ? vpn >> lo : 0;
        const uint64_t above = hi < 64 ? vpn >> hi : 0;
        if (above)
            h ^= (above * g->mul[i]) >> (64 - g->bits);
        return h & (g->slots - 1);
    }
    uint64_t x = (vpn ^ g->seed[i]) * 0x9e3779b97f4a7c15ull;
    x ^= x >> 29;
    x *= g->mul[i];
    return x >> (64 - g->bits);
}

static void gen_free(struct cuckoo *c, struct gen *g)
{
    if (!g)
        return;
    frames_free(c, g->pfn, g->nframes);
    host_free(g->s, c->o.ways * g->slots * sizeof *g->s);
    free(g);
}

/* A generation of d ways of 2^bits slots, empty, with fresh seeds. */
static int gen_new(struct cuckoo *c, unsigned level, unsigned bits, bool fields, struct gen **out)
{
    const unsigned d = c->o.ways;
    struct gen *g = calloc(1, sizeof *g);
    if (!g)
        return VMSIM_ENOMEM;
    g->bits = bits;
    g->fields = fields;
    g->slots = 1ull << bits;
    for (unsigned i = 0; i < d; i++) {
        g->seed[i] = rng_splitmix(&c->seeds);
        g->mul[i] = rng_splitmix(&c->seeds) | 1;
    }
    const uint64_t bytes = d * g->slots * c->slot_bytes;
    g->nframes = (bytes + (1ull << c->ps) - 1) >> c->ps;
    if (g->nframes > c->base.phys->nframes) {
        free(g);
        return VMSIM_ENOFRAME;
    }
    g->s = host_alloc(d * g->slots * sizeof *g->s);
    if (!g->s) {
        free(g);
        return VMSIM_ENOMEM;
    }
    int rc = frames_alloc(c, g->nframes, level, &g->pfn);
    if (rc) {
        host_free(g->s, d * g->slots * sizeof *g->s);
        free(g);
        return rc;
    }
    *out = g;
    return VMSIM_OK;
}

/* Where key vpn lives in way i: the old generation at or above the
 * rehashing pointer, the new one below it. */
static inline struct pos loc(const struct cuckoo *c, const struct ctab *t, unsigned i,
                             uint64_t vpn)
{
    const struct gen *o = t->old;
    if (o) {
        const uint64_t h = way_hash(c, o, i, vpn);
        if (h >= t->ptr[i])
            return (struct pos){t->old, i * o->slots + h};
    }
    return (struct pos){t->cur, i * t->cur->slots + way_hash(c, t->cur, i, vpn)};
}

static inline struct slot *slot_at(struct pos p) { return &p.g->s[p.idx]; }

static bool find(const struct cuckoo *c, const struct ctab *t, uint64_t vpn, struct pos *out)
{
    if (!t)
        return false;
    for (unsigned i = 0; i < c->o.ways; i++) {
        const struct pos p = loc(c, t, i, vpn);
        const struct slot *s = slot_at(p);
        if (s->pte && s->vpn == vpn) {
            *out = p;
            return true;
        }
    }
    return false;
}

/* Put e into one of its candidate slots, an empty one in the newest
 * generation first (it will not move again), else kicking occupants along
 * a random walk of at most o.kicks kicks. On failure every kick is undone
 * and the table is as it was. Allocates nothing. */
static bool place(struct cuckoo *c, struct ctab *t, struct slot e)
{
    struct slot *path[CK_MAX_KICKS];
    const unsigned d = c->o.ways;
    unsigned from = d, n = 0;
    for (;;) {
        struct pos p[CK_MAX_WAYS];
        for (unsigned i = 0; i < d; i++)
            p[i] = loc(c, t, i, e.vpn);
        for (unsigned pass = 0; pass < 2; pass++)
            for (unsigned i = 0; i < d; i++)
                if (!slot_at(p[i])->pte && (pass || p[i].g == t->cur)) {
                    *slot_at(p[i]) = e;
                    p[i].g->used++;
                    return true;
                }
        if (n == c->o.kicks)
            break;
        /* a random way other than the one the carried entry came from */
        unsigned i = (unsigned)rng_below(&c->rng, from < d ? d - 1 : d);
        if (from < d && i >= from)
            i++;
        struct slot *s = slot_at(p[i]);
        const struct slot victim = *s;
        *s = e;
        e = victim;
        path[n++] = s;
        from = i;
    }
    while (n--) {
        const struct slot v = *path[n];
        *path[n] = e;
        e = v;
    }
    return false;
}

/* ---- resizing ------------------------------------------------------------------------ */

static void drop_old(struct cuckoo *c, struct ctab *t)
{
    gen_free(c, t->old);
    t->old = NULL;
    memset(t->ptr, 0, sizeof t->ptr);
    t->rr = 0;
}

/* Rehash the old slot at way i's pointer. -1 when its occupant finds no
 * place (then nothing changed). */
static int migrate_one(struct cuckoo *c, struct ctab *t, unsigned i)
{
    struct gen *o = t->old;
    struct slot *s = &o->s[i * o->slots + t->ptr[i]];
    const struct slot e = *s;
    t->ptr[i]++;
    if (!e.pte)
        return 0;
    *s = (struct slot){0};
    o->used--;
    if (place(c, t, e)) {
        c->counters->migrated++;
        return 0;
    }
    *s = e;
    o->used++;
    t->ptr[i]--;
    return -1;
}

/* Drain up to `budget` old slots, the ways in turn; frees the old
 * generation once empty. -1 when every way is stuck. */
static int migrate(struct cuckoo *c, struct ctab *t, uint64_t budget)
{
    const unsigned d = c->o.ways;
    unsigned stuck = 0, done = 0;
    while (t->old) {
        /* every pointer at the end leaves the old ways empty, too */
        if (!t->old->used || done == d) {
            drop_old(c, t);
            break;
        }
        if (!budget)
            break;
        const unsigned i = t->rr;
        t->rr = (i + 1) % d;
        if (t->ptr[i] == t->old->slots) {
            done++;
            continue;
        }
        done = 0;
        if (migrate_one(c, t, i) == 0) {
            budget--;
            stuck = 0;
        } else if (++stuck == d) {
            return -1;
        }
    }
    return 0;
}

/* Stop the world: every entry rehashed into a new generation `scale`
 * times larger than the newest (larger again while one does not fit). */
static int rebuild(struct cuckoo *c, struct ctab *t)
{
    for (unsigned bits = t->cur->bits + c->o.scale_bits;; bits += c->o.scale_bits) {
        if (bits > CK_MAX_BITS)
            return VMSIM_ENOMEM;
        struct gen *g;
        int rc = gen_new(c, t->level, bits, false, &g);
        if (rc)
            return rc;
        /* read t only now: reclaim may have changed it during gen_new */
        struct ctab n = {.level = t->level, .cur = g};
        struct gen *src[2] = {t->old, t->cur};
        bool ok = true;
        for (unsigned k = 0; k < 2 && ok; k++)
            for (uint64_t x = 0; src[k] && x < c->o.ways * src[k]->slots && ok; x++)
                if (src[k]->s[x].pte)
                    ok = place(c, &n, src[k]->s[x]);
        if (ok) {
            c->counters->resizes++;
            c->counters->migrated += g->used;
            drop_old(c, t);
            gen_free(c, t->cur);
            t->cur = g;
            return VMSIM_OK;
        }
        gen_free(c, g);
    }
}

/* Finish a running resize at once. */
static int finish(struct cuckoo *c, struct ctab *t)
{
    return migrate(c, t, UINT64_MAX) == 0 ? VMSIM_OK : rebuild(c, t);
}

/* Insert an entry that is not in the table. */
static int insert(struct cuckoo *c, struct ctab *t, struct slot e)
{
    while (!place(c, t, e)) {
        int rc = t->old ? finish(c, t) : rebuild(c, t);
        if (rc)
            return rc;
    }
    t->entries++;
    return VMSIM_OK;
}

/* After an insertion: past the load threshold of the newest generation,
 * start an elastic resize. Without frames for it the table stays as it is
 * (an insertion that then fails rebuilds, or reports the error). */
static void maybe_grow(struct cuckoo *c, struct ctab *t)
{
    const double cap = (double)c->o.ways * (double)t->cur->slots;
    if ((double)t->entries <= c->o.load * cap + 1e-9)
        return;
    if (t->old && finish(c, t))
        return;
    if (t->cur->bits + c->o.scale_bits > CK_MAX_BITS)
        return;
    if (!c->o.migrate) { /* no elastic phase: everything at once */
        rebuild(c, t);
        return;
    }
    struct gen *g;
    if (gen_new(c, t->level, t->cur->bits + c->o.scale_bits, false, &g))
        return;
    /* reclaim during gen_new only updates or removes entries */
    t->old = t->cur;
    t->cur = g;
    memset(t->ptr, 0, sizeof t->ptr);
    t->rr = 0;
    c->counters->resizes++;
}

/* The elastic part of a map or unmap: drain a few old slots. */
static void step(struct cuckoo *c, struct ctab *t)
{
    if (t && t->old && !c->base.phys->reclaiming)
        migrate(c, t, c->o.migrate);
}

static int ctab_new(struct cuckoo *c, unsigned level)
{
    struct ctab *t = calloc(1, sizeof *t);
    if (!t)
        return VMSIM_ENOMEM;
    t->level = level;
    int rc = gen_new(c, level, c->o.slots_bits, c->o.bits_hash, &t->cur);
    if (rc) {
        free(t);
        return rc;
    }
    c->tab[level] = t;
    c->ntab++;
    return VMSIM_OK;
}

static void ctab_free(struct cuckoo *c, struct ctab *t)
{
    if (!t)
        return;
    gen_free(c, t->old);
    gen_free(c, t->cur);
    free(t);
}

/* ---- cuckoo walk tables ----------------------------------------------------------------- */

static inline uint64_t cwt_hash(const struct cwt *w, uint64_t region)
{
    if (!w->bits)
        return 0;
    uint64_t x = (region ^ w->seed) * 0x9e3779b97f4a7c15ull;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    return x >> (64 - w->bits);
}

static struct cwt_ent *cwt_find(const struct cwt *w, uint64_t region, uint64_t *bucket)
{
    const uint64_t b = cwt_hash(w, region);
    if (bucket)
        *bucket = b;
    struct cwt_ent *e = &w->e[b * CWT_ASSOC];
    for (unsigned i = 0; i < CWT_ASSOC; i++)
        if (e[i].mask && e[i].region == region)
            return &e[i];
    return NULL;
}

static void cwt_release(struct cuckoo *c, struct cwt *w)
{
    if (w->pfn)
        frames_free(c, w->pfn, w->nframes);
    if (w->e)
        host_free(w->e, ((uint64_t)CWT_ASSOC << w->bits) * sizeof *w->e);
    w->pfn = NULL;
    w->e = NULL;
}

/* Put entry x into bucket b of w; false when the bucket is full. */
static bool cwt_put(struct cwt *w, uint64_t b, const struct cwt_ent *x)
{
    struct cwt_ent *e = &w->e[b * CWT_ASSOC];
    for (unsigned i = 0; i < CWT_ASSOC; i++)
        if (!e[i].mask) {
            e[i] = *x;
            w->entries++;
            return true;
        }
    return false;
}

/* Make w 2^bits buckets (more while some bucket overflows), rehashing its
 * entries. The frames come first: reclaim may edit w meanwhile. */
static int cwt_resize(struct cuckoo *c, struct cwt *w, unsigned bits)
{
    for (;; bits++) {
        if (bits > CWT_MAX_BITS)
            return VMSIM_ENOMEM;
        struct cwt n = {.level = w->level, .bits = bits, .seed = w->seed};
        const uint64_t nb = 1ull << bits;
        if (c->o.cwt) {
            n.nframes = (nb * CWT_LINE + (1ull << c->ps) - 1) >> c->ps;
            int rc = frames_alloc(c, n.nframes, w->level, &n.pfn);
            if (rc)
                return rc;
        }
        n.e = host_alloc(nb * CWT_ASSOC * sizeof *n.e);
        if (!n.e) {
            cwt_release(c, &n);
            return VMSIM_ENOMEM;
        }
        bool ok = true;
        for (uint64_t x = 0; w->e && x < ((uint64_t)CWT_ASSOC << w->bits) && ok; x++)
            if (w->e[x].mask)
                ok = cwt_put(&n, cwt_hash(&n, w->e[x].region), &w->e[x]);
        if (ok) {
            cwt_release(c, w);
            *w = n;
            return VMSIM_OK;
        }
        cwt_release(c, &n);
    }
}

/* One more page of level j in region. */
static int cwt_add(struct cuckoo *c, struct cwt *w, uint64_t region, unsigned j)
{
    for (;;) {
        uint64_t b;
        struct cwt_ent *e = cwt_find(w, region, &b);
        if (e) {
            if (!e->n[j]++)
                e->mask |= 1u << j;
            return VMSIM_OK;
        }
        struct cwt_ent x = {.region = region, .mask = 1u << j};
        x.n[j] = 1;
        if (w->entries < ((uint64_t)CWT_ASSOC / 2) << w->bits && cwt_put(w, b, &x))
            return VMSIM_OK;
        int rc = cwt_resize(c, w, w->bits + 1);
        if (rc)
            return rc;
    }
}

/* One page of level j fewer in region. */
static void cwt_del(struct cwt *w, uint64_t region, unsigned j)
{
    struct cwt_ent *e = cwt_find(w, region, NULL);
    if (!e || !e->n[j] || --e->n[j])
        return;
    e->mask &= ~(1u << j);
    if (!e->mask) {
        *e = (struct cwt_ent){0};
        w->entries--;
    }
}

/* Record (add) or forget a page of level j at va in every CWT level >= j.
 * Adding may fail for want of a frame, and then records nothing. */
static int cwt_record(struct cuckoo *c, vmsim_vaddr_t va, unsigned j, bool add)
{
    for (unsigned x = 0; x < c->ncwt; x++) {
        const unsigned k = c->cwt_level[x];
        if (k < j)
            break;
        if (!add) {
            cwt_del(&c->cwt[k], va >> c->shift[k], j);
            continue;
        }
        int rc = cwt_add(c, &c->cwt[k], va >> c->shift[k], j);
        if (rc) {
            while (x--)
                cwt_del(&c->cwt[c->cwt_level[x]], va >> c->shift[c->cwt_level[x]], j);
            return rc;
        }
    }
    return VMSIM_OK;
}

/* ---- the organization ---------------------------------------------------------------------- */

static void ck_destroy(struct pt *p)
{
    struct cuckoo *c = C(p);
    for (unsigned k = 0; k <= VMSIM_MAX_LEVELS; k++) {
        ctab_free(c, c->tab[k]);
        cwt_release(c, &c->cwt[k]);
    }
    free(c);
}

static int ck_create(const struct pt_env *env, struct pt **out)
{
    const struct vmsim_geometry *g = env->geom;
    struct ck_opts o;
    char why[256];
    if (ck_parse(env->params, &o, why, sizeof why))
        return VMSIM_EINVAL;
    struct cuckoo *c = calloc(1, sizeof *c);
    if (!c)
        return VMSIM_ENOMEM;
    c->base.ops = &pt_cuckoo_ops;
    c->base.phys = env->phys;
    c->base.geom = g;
    c->o = o;
    c->counters = env->counters;
    c->slot_bytes = 2u * g->pte_bytes;
    c->ps = env->phys->page_shift;
    uint64_t s = o.seed ^ (env->space * 0xd1b54a32d192ed03ull);
    c->seeds = rng_splitmix(&s);
    rng_seed(&c->rng, rng_splitmix(&s));
    for (unsigned k = g->levels; k >= 1; k--) {
        c->shift[k] = vmsim_geometry_page_shift(g, k);
        if (k > 1 && !(g->leaf_levels & (1u << k)))
            continue;
        c->size[c->nsize++] = k;
        if (k > 1) {
            c->cwt_level[c->ncwt++] = k;
            c->cwt[k].level = k;
            c->cwt[k].seed = rng_splitmix(&s);
        }
    }
    /* The base-page ways and the CWTs exist from the start, so that a walk
     * always has something to read (the paper creates them with the
     * process); huge-page ways come with the first page of their size. */
    int rc = ctab_new(c, 1);
    for (unsigned x = 0; x < c->ncwt && !rc; x++)
        rc = cwt_resize(c, &c->cwt[c->cwt_level[x]], c->ps > 6 ? c->ps - 6 : 0);
    if (rc) {
        ck_destroy(&c->base);
        return rc;
    }
    *out = &c->base;
    return VMSIM_OK;
}

/* The leaf covering va, any size. */
static bool find_leaf(const struct cuckoo *c, vmsim_vaddr_t va, unsigned *level, struct pos *p)
{
    for (unsigned x = 0; x < c->nsize; x++) {
        const unsigned j = c->size[x];
        if (find(c, c->tab[j], va >> c->shift[j], p)) {
            *level = j;
            return true;
        }
    }
    return false;
}

static int ck_map(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned level, uint64_t pte)
{
    struct cuckoo *c = C(p);
    const struct vmsim_geometry *g = p->geom;
    if (level < 1 || level > g->levels || !(level == 1 || (g->leaf_levels & (1u << level))) ||
        (va >> g->va_bits))
        return VMSIM_EINVAL;
    const uint64_t e = (pte & PTE_SWAP) ? (pte | PTE_LEAF) & ~PTE_P : pte | PTE_P | PTE_LEAF;
    const uint64_t vpn = va >> c->shift[level];
    struct pos at;
    if (find(c, c->tab[level], vpn, &at)) {
        slot_at(at)->pte = e;
        return VMSIM_OK;
    }
    /* a larger page covering va, or smaller pages inside the new one */
    for (unsigned x = 0; x < c->nsize; x++) {
        const unsigned j = c->size[x];
        if (j > level && find(c, c->tab[j], va >> c->shift[j], &at))
            return VMSIM_EEXIST;
    }
    if (level > 1) {
        const struct cwt_ent *r = cwt_find(&c->cwt[level], vpn, NULL);
        if (r && (r->mask & ((1u << level) - 1)))
            return VMSIM_EEXIST;
    }
    /* a failed map leaves everything as it was: a table it created goes */
    const bool created = !c->tab[level];
    int rc = created ? ctab_new(c, level) : VMSIM_OK;
    if (rc)
        return rc;
    struct ctab *t = c->tab[level];
    if ((rc = cwt_record(c, va, level, true)) == 0) {
        if ((rc = insert(c, t, (struct slot){vpn, e})) == 0) {
            maybe_grow(c, t);
            step(c, t);
            return VMSIM_OK;
        }
        cwt_record(c, va, level, false);
    }
    if (created) {
        ctab_free(c, t);
        c->tab[level] = NULL;
        c->ntab--;
    }
    return rc;
}

static int ck_unmap(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, uint64_t *old)
{
    struct cuckoo *c = C(p);
    unsigned level;
    struct pos at;
    const bool found = find_leaf(c, va, &level, &at);
    if (old)
        *old = found ? slot_at(at)->pte : 0;
    if (!found)
        return VMSIM_ENOENT;
    *slot_at(at) = (struct slot){0};
    at.g->used--;
    c->tab[level]->entries--;
    cwt_record(c, va, level, false);
    step(c, c->tab[level]);
    return VMSIM_OK;
}

static int ck_update(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, uint64_t set,
                     uint64_t clear)
{
    unsigned level;
    struct pos at;
    if (!find_leaf(C(p), va, &level, &at))
        return VMSIM_ENOENT;
    struct slot *s = slot_at(at);
    s->pte = ((s->pte | set) & ~clear) | PTE_LEAF;
    return VMSIM_OK;
}

static uint64_t ck_lookup(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned *level)
{
    unsigned k = 0;
    struct pos at;
    const uint64_t e = find_leaf(C(p), va, &k, &at) ? slot_at(at)->pte : 0;
    if (level)
        *level = e ? k : 0;
    return e;
}

/* What a walk reads: the CWT entries from the largest region down until
 * one page size is left, then the d slots of that size (all d, though
 * hardware reads them in parallel). Without CWTs, or while only one size
 * has ways (the walker knows which sizes have ways from their base
 * registers, so a CWT could not narrow anything), the d slots of every
 * size that has ways. Reference levels: a CWT read gives its region's
 * level, a probe the level of the size it probes. */
static void ck_walk(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, const struct walk_start *st,
                    struct walk *w)
{
    struct cuckoo *c = C(p);
    unsigned n = 0, stop = 1, np = 0, probe[VMSIM_MAX_LEVELS];
    if (c->o.cwt && c->ntab > 1) {
        for (unsigned x = 0; x < c->ncwt; x++) {
            const unsigned k = c->cwt_level[x];
            const struct cwt *t = &c->cwt[k];
            uint64_t b;
            const struct cwt_ent *e = cwt_find(t, va >> c->shift[k], &b);
            w->ref[n].pa = frame_pa(c, t->pfn, b * CWT_LINE);
            w->ref[n].level = (uint8_t)k;
            n++;
            stop = k;
            if (!e)
                break;
            if (!(e->mask & (e->mask - 1))) {
                probe[np++] = (unsigned)__builtin_ctz(e->mask);
                break;
            }
        }
    } else {
        for (unsigned x = 0; x < c->nsize; x++)
            if (c->tab[c->size[x]])
                probe[np++] = c->size[x];
    }
    struct slot *hit = NULL;
    unsigned found = 0;
    const unsigned d = c->o.ways;
    for (unsigned y = 0; y < np; y++) {
        const unsigned j = probe[y];
        const struct ctab *t = c->tab[j];
        const uint64_t vpn = va >> c->shift[j];
        struct pos q[CK_MAX_WAYS];
        /* the d host reads are independent: start them all first (they
         * miss the host's caches on a large table) */
        for (unsigned i = 0; i < d; i++) {
            q[i] = loc(c, t, i, vpn);
            __builtin_prefetch(slot_at(q[i]));
        }
        stop = j;
        for (unsigned i = 0; i < d; i++) {
            struct slot *s = slot_at(q[i]);
            w->ref[n].pa = frame_pa(c, q[i].g->pfn, q[i].idx * c->slot_bytes);
            w->ref[n].level = (uint8_t)j;
            n++;
            if (s->pte && s->vpn == vpn) {
                hit = s;
                found = j;
            }
        }
    }
    w->top = 0;
    w->pte = 0;
    if (hit) {
        const uint64_t e = hit->pte;
        /* set the accessed bit only when clear (as radix does) */
        if ((e & (PTE_P | PTE_A)) == PTE_P)
            hit->pte = e | PTE_A;
        w->pte = (e & PTE_P) ? e | PTE_A : e;
        stop = found;
    }
    w->level = stop;
    w->nrefs = n;
}

struct vleaf {
    vmsim_vaddr_t va;
    unsigned level;
};

static int vleaf_cmp(const void *a, const void *b)
{
    const struct vleaf *x = a, *y = b;
    return x->va < y->va ? -1 : x->va > y->va;
}

struct vlist {
    struct vleaf *v;
    size_t n, cap;
};

static int vlist_add(struct vlist *l, vmsim_vaddr_t va, unsigned level)
{
    if (l->n == l->cap) {
        const size_t cap = l->cap ? 2 * l->cap : 64;
        struct vleaf *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return VMSIM_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (struct vleaf){va, level};
    return VMSIM_OK;
}

/* The leaves overlapping [lo, hi), in address order: per size, by key
 * when the range holds fewer pages than the table entries, else by a scan
 * of the ways. Each entry is read again just before fn sees it, so fn may
 * change the table. */
static int ck_visit(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t lo, vmsim_vaddr_t hi,
                    pt_visit_fn fn, void *ctx)
{
    struct cuckoo *c = C(p);
    const vmsim_vaddr_t end = 1ull << p->geom->va_bits;
    if (hi > end)
        hi = end;
    if (lo >= hi)
        return 0;
    struct vlist l = {0};
    int rc = 0;
    for (unsigned x = 0; x < c->nsize && !rc; x++) {
        const unsigned j = c->size[x], s = c->shift[j];
        const struct ctab *t = c->tab[j];
        if (!t || !t->entries)
            continue;
        const uint64_t first = lo >> s, last = (hi - 1) >> s;
        struct pos at;
        if (last - first < t->entries) {
            for (uint64_t v = first; v <= last && !rc; v++)
                if (find(c, t, v, &at))
                    rc = vlist_add(&l, v << s, j);
            continue;
        }
        const struct gen *src[2] = {t->old, t->cur};
        for (unsigned k = 0; k < 2; k++)
            for (uint64_t y = 0; src[k] && y < c->o.ways * src[k]->slots && !rc; y++) {
                const struct slot *e = &src[k]->s[y];
                if (e->pte && e->vpn >= first && e->vpn <= last)
                    rc = vlist_add(&l, e->vpn << s, j);
            }
    }
    if (!rc && l.n)
        qsort(l.v, l.n, sizeof *l.v, vleaf_cmp);
    for (size_t i = 0; i < l.n && !rc; i++) {
        struct pos at;
        const unsigned j = l.v[i].level;
        if (find(c, c->tab[j], l.v[i].va >> c->shift[j], &at))
            rc = fn(ctx, l.v[i].va, j, slot_at(at)->pte);
    }
    free(l.v);
    return rc;
}

static void ck_footprint(const struct pt *p, struct vmsim_pt_footprint *fp)
{
    const struct cuckoo *c = (const struct cuckoo *)p;
    uint64_t ways = 0, cwt = 0;
    for (unsigned k = 1; k <= VMSIM_MAX_LEVELS; k++) {
        const struct ctab *t = c->tab[k];
        if (t) {
            ways += (t->cur->nframes + (t->old ? t->old->nframes : 0)) << c->ps;
            fp->pages[k] += t->entries;
        }
        cwt += c->cwt[k].nframes << c->ps;
    }
    fp->bytes += ways + cwt;
    pt_fp_part(fp, "ways", ways);
    if (c->o.cwt)
        pt_fp_part(fp, "cwt", cwt);
}

const struct pt_ops pt_cuckoo_ops = {
    .name = "cuckoo",
    .tree = false,
    .check = ck_check,
    .create = ck_create,
    .destroy = ck_destroy,
    .map = ck_map,
    .unmap = ck_unmap,
    .update = ck_update,
    .lookup = ck_lookup,
    .walk = ck_walk,
    .visit = ck_visit,
    .footprint = ck_footprint,
};
