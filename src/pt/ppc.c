/* The PowerPC hashed page table (HPT): one table for the whole machine, of
 * groups (PTEGs) of 8 entries of 16 bytes, searched by a primary hash and
 * its ones' complement, sized from physical memory as Linux sizes it; in
 * front of the OS's own page tables, as Linux on hash-MMU POWER keeps it.
 * docs/organizations.md, "PowerPC hashed page table".
 *
 * The model:
 *  - The HPT is one contiguous block of simulated frames aligned to its size
 *    (the architecture's HTABORG/HTABSIZE), shared by every address space
 *    (state in *env->shared; private when used stand-alone). Entry i of
 *    group g is at base + g * 128 + i * 16. Host copies of groups are
 *    allocated when first written, so a large table costs host memory only
 *    for the groups in use.
 *  - Hash: a virtual segment id (VSID) per (address space, 256 MiB
 *    segment), scrambled as Linux's vsid_scramble does: protovsid =
 *    context << 21 | ESID (low 19 and 21 bits), VSID = protovsid x 12538073
 *    mod (2^40 - 1). Primary hash = VSID XOR page index (the page's number
 *    inside its segment), mod groups; secondary = its ones' complement, mod
 *    groups. An entry in its secondary group has the H bit set.
 *  - Insert (map of a present page, or a refill): replace the key's entry
 *    if it has one; else the first free slot of the primary group, else of
 *    the secondary (H = 1), else evict a slot of the primary group chosen
 *    round-robin. (Linux's hpte_insert_repeating evicts from the primary or
 *    the secondary group by the timebase's low bit, and hpte_remove takes
 *    the first unbolted entry from a timebase-chosen slot; vmsim keeps no
 *    clock there and stays deterministic.) Evictions count in
 *    counters->evicted. An update never inserts: the next walk refills.
 *  - The backing store is the OS's own page table, a radix tree per address
 *    space in simulated frames (Linux's page tables: the HPT is a cache of
 *    them, filled by hash_page/hash_preload). It holds every mapping of the
 *    space, present or swapped; the HPT holds a copy of present ones when
 *    it has room. lookup and visit read the backing tables; map, update and
 *    unmap change both; a walk that sets the accessed bit sets it in both.
 *  - Huge pages: base pages only. A map of a level > 1 returns
 *    VMSIM_EEXIST, so the kernel falls back to base pages (Linux maps
 *    larger pages into the HPT as several entries or not at all,
 *    depending on the processor: not modelled).
 *
 * What a walk reads, one reference per 16-byte entry (the hardware reads
 * them in slot order and stops at a match): the primary group's entries up
 * to the match (ref level 1), then the secondary group's (level 2), then,
 * when neither holds the key, the radix walk of the backing tables (level
 * 3; L references cold for an L-level geometry). A mapping found there is
 * re-inserted into the HPT (which may evict another); the write is not
 * counted. Hit in slot i of the primary group: i + 1 references; of the
 * secondary: 8 + i + 1; miss in both: 16 + the radix walk.
 *
 * Sizing (options size=BYTES or groups=N override it): Linux's
 * htab_shift_for_mem_size (arch/powerpc/mm/book3s64/hash_utils.c): round
 * memory up to a power of two, aim for 2 pages per PTEG (groups = memory /
 * page size / 2), at least 2^11 groups of 128 bytes (2^18 bytes, the
 * minimum the architecture permits): with 4 KiB pages, 1/64 of memory.
 *
 * Footprint: part "hash table" (the HPT, once per machine, through
 * shared_footprint) and part "backing" (the radix tables, per space, their
 * root in root_bytes): both occupy simulated frames, so both are counted.
 *
 * Sources: PowerPC Operating Environment Architecture (Book III), "Page
 * Table" and "Page Table Search" (PTEGs of 8 PTEs, primary/secondary hash,
 * H bit); IBM, "PowerPC Microprocessor Family: The Programming
 * Environments", ch. 7 (hashed page tables); Linux arch/powerpc:
 * htab_shift_for_mem_size() and hpte_insert_repeating() in
 * mm/book3s64/hash_utils.c, native_hpte_insert/remove in hash_native.c,
 * vsid_scramble() in include/asm/book3s/64/mmu-hash.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt/pt.h"


#define PPC_SLOTS 8             /* entries per group (PTEG) */
#define PPC_HPTE_BYTES 16
#define PPC_GROUP_BYTES (PPC_SLOTS * PPC_HPTE_BYTES)
#define PPC_MIN_SHIFT 18        /* Linux: 2^11 groups of 128 bytes at least */
#define PPC_MAX_GROUP_BITS 36
#define PPC_SID_SHIFT 28        /* 256 MiB segments */
#define VSID_MULTIPLIER 12538073ull /* Linux VSID_MULTIPLIER_256M, a 24-bit prime */
#define VSID_BITS 40
#define VSID_MODULUS ((1ull << VSID_BITS) - 1)
#define CONTEXT_BITS 19
#define ESID_BITS 21
#define CHUNK_GROUPS 512        /* groups per host chunk */

/* Host copy of one HPTE: the V word (vpn << 2 | H | V) and the space id
 * stand for the architecture's AVPN/VSID doubleword, r for the RPN and
 * flags doubleword (here the vmsim entry). */
struct hpte {
    uint64_t v, space, r;
};
#define HPTE_V 1ull
#define HPTE_H 2ull

struct htab {
    struct phys *phys;
    uint64_t groups, mask;
    vmsim_pfn_t pfn;     /* first frame of the table */
    unsigned order;      /* it spans 2^order frames */
    struct hpte **chunk; /* groups / CHUNK_GROUPS host chunks, NULL until written */
    uint64_t nchunks;
    uint64_t valid;      /* entries in use */
    unsigned rotor;      /* the next victim slot */
};

struct ppc {
    struct pt base;
    struct htab *h;
    bool own;        /* a private table (no shared slot) */
    uint64_t space;
    struct pt *backing;
    struct pt_counters *counters;
};

static struct ppc *P(struct pt *p) { return (struct ppc *)p; }

/* ---- options and sizing ---- */

struct ppc_opts {
    uint64_t size;   /* table bytes; 0: from memory */
    uint64_t groups; /* 0: from size or memory */
};

static const char ppc_usage[] = "ppc takes size=BYTES or groups=N";

static int ppc_item(const char *s, size_t n, void *ctx, char *why, size_t len)
{
    struct ppc_opts *o = ctx;
    size_t klen;
    char val[64];
    int rc = pt_opt_split(s, n, ppc_usage, &klen, val, why, len);
    if (rc)
        return rc;
    const size_t vlen = strlen(val);
    uint64_t v;
    if (klen == 4 && !strncmp(s, "size", 4)) {
        if (vmsim_parse_size(val, &v) || !pt_pow2(v) || v < 2 * PPC_GROUP_BYTES ||
            v > ((uint64_t)PPC_GROUP_BYTES << PPC_MAX_GROUP_BITS))
            return pt_opt_bad(why, len, "size: expected a power of two of at least 256 bytes (2 groups), "
                                 "such as 256k", val, vlen);
        o->size = v;
    } else if (klen == 6 && !strncmp(s, "groups", 6)) {
        if (vmsim_parse_size(val, &v) || !pt_pow2(v) || v < 2 || v > (1ull << PPC_MAX_GROUP_BITS))
            return pt_opt_bad(why, len, "groups: expected a power of two of at least 2", val, vlen);
        o->groups = v;
    } else {
        char what[96];
        snprintf(what, sizeof what, "unknown option: %s", ppc_usage);
        return pt_opt_bad(why, len, what, s, klen);
    }
    return VMSIM_OK;
}

static int ppc_parse(const char *params, struct ppc_opts *o, char *why, size_t len)
{
    *o = (struct ppc_opts){0};
    const int rc = pt_opt_each(params, ppc_item, o, why, len);
    if (rc)
        return rc;
    if (o->size && o->groups) {
        if (why && len)
            snprintf(why, len,
                     "size and groups both give the table's size: one of them, found \"%s\"",
                     params);
        return VMSIM_EINVAL;
    }
    return VMSIM_OK;
}

static int ppc_check(const char *params, char *why, size_t len)
{
    struct ppc_opts o;
    return ppc_parse(params, &o, why, len);
}

/* Linux's htab_shift_for_mem_size: log2 of the table's bytes for a memory
 * of mem bytes and base pages of 2^pshift bytes. */
static unsigned htab_shift(uint64_t mem, unsigned pshift)
{
    unsigned memshift = 0;
    while ((memshift < 63) && (1ull << memshift) < mem)
        memshift++; /* rounded up to a power of two */
    const int pteg_shift = (int)memshift - (int)(pshift + 1); /* 2 pages per group */
    return pteg_shift + 7 > PPC_MIN_SHIFT ? (unsigned)pteg_shift + 7 : PPC_MIN_SHIFT;
}

static uint64_t groups_for(const struct ppc_opts *o, const struct phys *phys)
{
    if (o->groups)
        return o->groups;
    if (o->size)
        return o->size / PPC_GROUP_BYTES;
    const uint64_t mem = phys->nframes << phys->page_shift;
    return (1ull << htab_shift(mem, phys->page_shift)) / PPC_GROUP_BYTES;
}

/* ---- the table ---- */

static void htab_free(struct htab *h)
{
    if (!h)
        return;
    for (uint64_t i = 0; i < h->nchunks; i++)
        if (h->chunk[i])
            hostmem_free(&h->phys->host, h->chunk[i],
                         CHUNK_GROUPS * PPC_SLOTS * sizeof(struct hpte));
    free(h->chunk);
    phys_put(h->phys, h->pfn);
    free(h);
}

static int htab_new(struct phys *phys, uint64_t groups, struct htab **out)
{
    const uint64_t bytes = groups * PPC_GROUP_BYTES;
    const uint64_t frame = 1ull << phys->page_shift;
    const uint64_t frames = (bytes + frame - 1) / frame;
    unsigned order = 0;
    while ((1ull << order) < frames)
        order++;
    struct htab *h = calloc(1, sizeof *h);
    if (!h)
        return VMSIM_ENOMEM;
    h->phys = phys;
    h->groups = groups;
    h->mask = groups - 1;
    h->order = order;
    h->nchunks = (groups + CHUNK_GROUPS - 1) / CHUNK_GROUPS;
    if (!(h->chunk = calloc(h->nchunks, sizeof *h->chunk))) {
        free(h);
        return VMSIM_ENOMEM;
    }
    int rc = phys_alloc(phys, order, FRAME_PT | FRAME_PINNED, &h->pfn);
    if (rc) {
        free(h->chunk);
        free(h);
        return rc;
    }
    *out = h;
    return VMSIM_OK;
}

/* Slot i of group g, NULL when its chunk was never written. */
static struct hpte *slot_peek(const struct htab *h, uint64_t g, unsigned i)
{
    struct hpte *c = h->chunk[g / CHUNK_GROUPS];
    return c ? &c[(g % CHUNK_GROUPS) * PPC_SLOTS + i] : NULL;
}

/* Group g's slots for writing (its chunk made on demand), or NULL. */
static struct hpte *group_get(struct htab *h, uint64_t g)
{
    struct hpte **c = &h->chunk[g / CHUNK_GROUPS];
    if (!*c)
        *c = hostmem_alloc(&h->phys->host, CHUNK_GROUPS * PPC_SLOTS * sizeof(struct hpte));
    return *c ? &(*c)[(g % CHUNK_GROUPS) * PPC_SLOTS] : NULL;
}

static vmsim_paddr_t hpte_pa(const struct htab *h, uint64_t g, unsigned i)
{
    return phys_addr(h->phys, h->pfn) + g * PPC_GROUP_BYTES + (vmsim_paddr_t)i * PPC_HPTE_BYTES;
}

/* The VSID of (space, segment): Linux's vsid_scramble. protovsid is below
 * 2^40, so the product stays below 2^64. */
static uint64_t vsid_of(uint64_t space, uint64_t esid)
{
    const uint64_t proto = (space & ((1ull << CONTEXT_BITS) - 1)) << ESID_BITS |
                           (esid & ((1ull << ESID_BITS) - 1));
    return proto * VSID_MULTIPLIER % VSID_MODULUS;
}

struct key {
    uint64_t space, vpn;
    uint64_t group[2]; /* primary, secondary */
};

static struct key key_of(const struct ppc *c, vmsim_vaddr_t va)
{
    const unsigned ps = c->base.phys->page_shift;
    const uint64_t pidx = ps < PPC_SID_SHIFT ? (va & ((1ull << PPC_SID_SHIFT) - 1)) >> ps : 0;
    const uint64_t hash = vsid_of(c->space, va >> PPC_SID_SHIFT) ^ pidx;
    return (struct key){c->space, va >> ps, {hash & c->h->mask, ~hash & c->h->mask}};
}

static bool matches(const struct hpte *e, const struct key *k, unsigned which)
{
    return e && (e->v & HPTE_V) && e->space == k->space && (e->v >> 2) == k->vpn &&
           ((e->v & HPTE_H) != 0) == (which == 1);
}

/* The key's HPTE, or NULL. */
static struct hpte *hpte_find(struct htab *h, const struct key *k)
{
    for (unsigned which = 0; which < 2; which++)
        for (unsigned i = 0; i < PPC_SLOTS; i++) {
            struct hpte *e = slot_peek(h, k->group[which], i);
            if (matches(e, k, which))
                return e;
        }
    return NULL;
}

static void hpte_drop(struct htab *h, const struct key *k)
{
    struct hpte *e = hpte_find(h, k);
    if (e) {
        *e = (struct hpte){0};
        h->valid--;
    }
}

/* Put the key's entry r in the table: in place, in a free slot of the
 * primary then the secondary group, else over a victim of the primary.
 * Host memory exhaustion leaves it out: the backing tables still have it. */
static void hpte_insert(struct ppc *c, const struct key *k, uint64_t r)
{
    struct htab *h = c->h;
    struct hpte *e = hpte_find(h, k);
    if (e) {
        e->r = r;
        return;
    }
    for (unsigned which = 0; which < 2; which++) {
        struct hpte *g = group_get(h, k->group[which]);
        if (!g)
            return;
        for (unsigned i = 0; i < PPC_SLOTS; i++)
            if (!(g[i].v & HPTE_V)) {
                g[i] = (struct hpte){k->vpn << 2 | (which ? HPTE_H : 0) | HPTE_V, k->space, r};
                h->valid++;
                return;
            }
    }
    struct hpte *g = group_get(h, k->group[0]);
    const unsigned i = h->rotor++ % PPC_SLOTS;
    g[i] = (struct hpte){k->vpn << 2 | HPTE_V, k->space, r};
    c->counters->evicted++;
}

/* ---- create / destroy ---- */

static int ppc_create(const struct pt_env *env, struct pt **out)
{
    struct ppc_opts o;
    int rc = ppc_parse(env->params, &o, NULL, 0);
    if (rc)
        return rc;
    struct ppc *c = calloc(1, sizeof *c);
    if (!c)
        return VMSIM_ENOMEM;
    c->base.ops = &pt_ppc_ops;
    c->base.phys = env->phys;
    c->base.geom = env->geom;
    c->space = env->space;
    c->counters = env->counters;
    c->own = !env->shared;
    if (env->shared && *env->shared) {
        c->h = *env->shared;
    } else {
        if ((rc = htab_new(env->phys, groups_for(&o, env->phys), &c->h)) != 0) {
            free(c);
            return rc;
        }
        if (env->shared)
            *env->shared = c->h;
    }
    /* The backing tables: a radix tree of the machine's geometry. */
    struct pt_env renv = *env;
    renv.params = "";
    renv.shared = NULL;
    if ((rc = pt_create(&pt_radix_ops, &renv, &c->backing)) != 0) {
        if (c->own)
            htab_free(c->h);
        free(c);
        return rc;
    }
    *out = &c->base;
    return VMSIM_OK;
}

static int drop_leaf(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t e)
{
    struct ppc *c = ctx;
    if (e & PTE_P) {
        const struct key k = key_of(c, va);
        hpte_drop(c->h, &k);
    }
    return 0;
}

/* The space's entries leave the shared table: found through its backing
 * tables, which list them. */
static void ppc_destroy(struct pt *p)
{
    struct ppc *c = P(p);
    if (c->own) {
        htab_free(c->h);
    } else {
        pt_visit(c->backing, 0, 0, UINT64_MAX, drop_leaf, c);
    }
    pt_destroy(c->backing);
    free(c);
}

static void ppc_shared_destroy(void *shared) { htab_free(shared); }

/* ---- the operations ---- */

static int ppc_map(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned level, uint64_t pte)
{
    struct ppc *c = P(p);
    if (level < 1 || level > p->geom->levels || !(p->geom->leaf_levels & (1u << level)))
        return VMSIM_EINVAL;
    if (level > 1)
        return VMSIM_EEXIST; /* base pages only: the kernel falls back */
    int rc = pt_map(c->backing, 0, va, 1, pte);
    if (rc)
        return rc;
    const struct key k = key_of(c, va);
    const uint64_t e = pt_lookup(c->backing, 0, va, NULL);
    if (e & PTE_P)
        hpte_insert(c, &k, e); /* Linux's hash_preload after a fault */
    else
        hpte_drop(c->h, &k);
    return VMSIM_OK;
}

static int ppc_unmap(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, uint64_t *old)
{
    struct ppc *c = P(p);
    int rc = pt_unmap(c->backing, 0, va, old);
    if (rc == 0) {
        const struct key k = key_of(c, va);
        hpte_drop(c->h, &k);
    }
    return rc;
}

static int ppc_update(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, uint64_t set,
                      uint64_t clear)
{
    struct ppc *c = P(p);
    int rc = pt_update(c->backing, 0, va, set, clear);
    if (rc)
        return rc;
    const struct key k = key_of(c, va);
    struct hpte *e = hpte_find(c->h, &k);
    if (!e)
        return VMSIM_OK;
    const uint64_t now = pt_lookup(c->backing, 0, va, NULL);
    if (now & PTE_P) {
        e->r = now;
    } else {
        *e = (struct hpte){0};
        c->h->valid--;
    }
    return VMSIM_OK;
}

static uint64_t ppc_lookup(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, unsigned *level)
{
    return pt_lookup(P(p)->backing, 0, va, level);
}

static void ppc_walk(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t va, const struct walk_start *s,
                     struct walk *w)
{
    struct ppc *c = P(p);
    struct htab *h = c->h;
    const struct key k = key_of(c, va);
    unsigned n = 0;
    w->top = 0;
    w->level = 1;
    for (unsigned which = 0; which < 2; which++)
        for (unsigned i = 0; i < PPC_SLOTS; i++) {
            w->ref[n].pa = hpte_pa(h, k.group[which], i);
            w->ref[n].level = (uint8_t)(which + 1);
            n++;
            struct hpte *e = slot_peek(h, k.group[which], i);
            if (!matches(e, &k, which))
                continue;
            if (!(e->r & PTE_A)) {
                e->r |= PTE_A; /* the R bit; the OS's copy follows */
                pt_update(c->backing, 0, va, PTE_A, 0);
            }
            w->pte = e->r;
            w->nrefs = n;
            return;
        }
    /* Neither group: the OS's tables (Linux's hash_page), then a refill. */
    struct walk bw;
    pt_walk(c->backing, 0, va, NULL, &bw);
    for (unsigned i = 0; i < bw.nrefs; i++, n++)
        if (n < WALK_MAX_REFS && i < WALK_MAX_REFS)
            w->ref[n] = (struct walk_ref){bw.ref[i].pa, 3};
    w->nrefs = n;
    w->pte = bw.pte;
    if (bw.pte & PTE_P)
        hpte_insert(c, &k, bw.pte);
}

static int ppc_visit(struct pt *p, vmsim_asid_t asid, vmsim_vaddr_t lo, vmsim_vaddr_t hi,
                     pt_visit_fn fn, void *ctx)
{
    return pt_visit(P(p)->backing, 0, lo, hi, fn, ctx);
}

static void table_footprint(const struct htab *h, struct vmsim_pt_footprint *fp)
{
    const uint64_t bytes = h->groups * PPC_GROUP_BYTES;
    pt_fp_part(fp, "hash table", bytes);
    fp->bytes += bytes;
}

/* The backing tables' levels, pages and bytes, plus the table when it is
 * private (a shared one is added once, by shared_footprint). */
static void ppc_footprint(const struct pt *p, struct vmsim_pt_footprint *fp)
{
    const struct ppc *c = (const struct ppc *)p;
    struct vmsim_pt_footprint r;
    memset(&r, 0, sizeof r);
    pt_footprint(c->backing, &r);
    for (unsigned k = 0; k <= VMSIM_MAX_LEVELS; k++) {
        fp->tables[k] += r.tables[k];
        fp->table_bytes[k] += r.table_bytes[k];
        fp->pages[k] += r.pages[k];
    }
    fp->bytes += r.bytes;
    fp->root_bytes += r.root_bytes;
    if (c->own)
        table_footprint(c->h, fp);
    pt_fp_part(fp, "backing", r.bytes + r.root_bytes);
}

static void ppc_shared_footprint(const void *shared, struct vmsim_pt_footprint *fp)
{
    table_footprint(shared, fp);
}

/* Linux deposits a leaf table per PMD-mapped huge page in its own tables. */
static int ppc_deposit(struct pt *p) { return pt_deposit(P(p)->backing); }

const struct pt_ops pt_ppc_ops = {
    .name = "ppc",
    .tree = false,
    .base_only = true,
    .check = ppc_check,
    .create = ppc_create,
    .destroy = ppc_destroy,
    .shared_footprint = ppc_shared_footprint,
    .shared_destroy = ppc_shared_destroy,
    .map = ppc_map,
    .unmap = ppc_unmap,
    .update = ppc_update,
    .lookup = ppc_lookup,
    .walk = ppc_walk,
    .visit = ppc_visit,
    .footprint = ppc_footprint,
    .deposit = ppc_deposit,
};
