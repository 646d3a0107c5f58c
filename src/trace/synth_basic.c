/* The one-process access patterns: seq and stride (a sequential sweep),
 * random (uniform), zipf (skewed page popularity), chase (a pointer chase
 * along one random cycle) and sparse (small regions over the whole user
 * space). docs/workloads.md defines each stream. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/synth.h"

/* ---- seq and stride: a sequential sweep ----------------------------------------- */

static int seq_init(struct synth *s, struct spec *sp)
{
    const struct synth_args *a = &sp->a;
    if (a->stride < a->access)
        return spec_fail(sp, spec_blame(sp, "stride", "access"),
                         "stride >= access (%llu): each access inside the region",
                         (unsigned long long)a->access);
    if (a->size % a->stride)
        return spec_fail(sp, spec_blame(sp, "size", "stride"),
                         "size a multiple of stride (%llu)", (unsigned long long)a->stride);
    int rc = region_check(sp, &s->lay, a->base, a->size);
    if (rc)
        return rc;
    s->u.seq.addr = a->base;
    s->u.seq.end = a->base + a->size;
    return 0;
}

static void seq_fill(struct synth *s, struct vmsim_event *buf, size_t k)
{
    vmsim_vaddr_t addr = s->u.seq.addr;
    const vmsim_vaddr_t end = s->u.seq.end, base = s->a.base, stride = s->a.stride;
    const struct vmsim_event t = s->tmpl;
    for (size_t i = 0; i < k; i++) {
        buf[i] = t;
        buf[i].addr = addr;
        addr += stride;
        if (addr == end) /* size is a multiple of stride: lands exactly on end */
            addr = base;
    }
    s->u.seq.addr = addr;
}

/* ---- random: uniform over the region ---------------------------------------------- */

static int random_init(struct synth *s, struct spec *sp)
{
    const struct synth_args *a = &sp->a;
    if (a->size % a->access)
        return spec_fail(sp, spec_blame(sp, "size", "access"),
                         "size a multiple of access (%llu)", (unsigned long long)a->access);
    int rc = region_check(sp, &s->lay, a->base, a->size);
    if (rc)
        return rc;
    s->u.random.shift = log2_exact(a->access);
    s->u.random.slots = a->size >> s->u.random.shift;
    return 0;
}

static void random_fill(struct synth *s, struct vmsim_event *buf, size_t k)
{
    const uint64_t slots = s->u.random.slots, base = s->a.base;
    const unsigned shift = s->u.random.shift;
    const struct vmsim_event t = s->tmpl;
    struct rng r = s->rng; /* a local copy: stores to buf cannot alias it */
    for (size_t i = 0; i < k; i++) {
        buf[i] = t;
        buf[i].addr = base + (rng_below(&r, slots) << shift);
    }
    s->rng = r;
}

/* ---- zipf: skewed page popularity ----------------------------------------------- */

/* Rejection-inversion sampling of Zipf(theta) over ranks 1..N (W. Hörmann,
 * G. Derflinger, "Rejection-inversion to generate variates from monotone
 * discrete distributions", ACM TOMACS 6(3), 1996), in the formulation of
 * Apache Commons RNG's RejectionInversionZipfSampler: O(1) memory, O(1)
 * expected time for any N and theta >= 0. h(x) = x^-theta is the density,
 * H its integral, Hinv the inverse of H; helper1/helper2 are log1p(x)/x and
 * expm1(x)/x, kept accurate near 0 (theta near 1). */
static double zipf_helper1(double x)
{
    return fabs(x) > 1e-8 ? log1p(x) / x : 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}

static double zipf_helper2(double x)
{
    return fabs(x) > 1e-8 ? expm1(x) / x : 1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x));
}

static double zipf_h(double x, double theta) { return exp(-theta * log(x)); }

static double zipf_H(double x, double theta)
{
    double lx = log(x);
    return zipf_helper2((1.0 - theta) * lx) * lx;
}

static double zipf_Hinv(double x, double theta)
{
    double t = x * (1.0 - theta);
    if (t < -1.0)
        t = -1.0;
    return exp(zipf_helper1(t) * x);
}

/* Zipf(theta) over pages, scattered by a bijection drawn from r. */
void zipf_setup(struct zipf_state *z, uint64_t pages, double theta, struct rng *r)
{
    z->theta = theta;
    z->pages = (double)pages;
    z->hx1 = zipf_H(1.5, z->theta) - 1.0;
    z->hn = zipf_H(z->pages + 0.5, z->theta);
    z->s = 2.0 - zipf_Hinv(zipf_H(2.5, z->theta) - zipf_h(2.0, z->theta), z->theta);
    perm_init(&z->rank_to_page, pages, r);
}

static int zipf_init(struct synth *s, struct spec *sp)
{
    const struct synth_args *a = &sp->a;
    if (a->size % PAGE_SIZE)
        return spec_fail(sp, "size", "size a multiple of the 4096-byte page");
    int rc = region_check(sp, &s->lay, a->base, a->size);
    if (rc)
        return rc;
    zipf_setup(&s->u.zipf, a->size / PAGE_SIZE, a->theta, &s->rng);
    return 0;
}

/* A rank from 1 (the most popular) to N. */
static uint64_t zipf_rank(struct zipf_state *z, struct rng *r)
{
    for (;;) {
        double u = z->hn + rng_double(r) * (z->hx1 - z->hn);
        double x = zipf_Hinv(u, z->theta);
        double k = floor(x + 0.5);
        if (k < 1.0)
            k = 1.0;
        else if (k > z->pages)
            k = z->pages;
        if (k - x <= z->s || u >= zipf_H(k + 0.5, z->theta) - zipf_h(k, z->theta))
            return (uint64_t)k;
    }
}

/* k events like t at Zipf-popular pages from base, each at a uniform
 * offset aligned to t.len. */
void zipf_scan(struct zipf_state *z, struct rng *rp, uint64_t base, struct vmsim_event t,
               struct vmsim_event *buf, size_t k)
{
    /* t.len is a power of two <= 4096: these bits pick an aligned offset */
    const uint64_t offmask = PAGE_SIZE - t.len;
    struct rng r = *rp; /* a local copy: stores to buf cannot alias it */
    for (size_t i = 0; i < k; i++) {
        uint64_t page = perm_fwd(&z->rank_to_page, zipf_rank(z, &r) - 1);
        buf[i] = t;
        buf[i].addr = base + page * PAGE_SIZE + (rng_next(&r) & offmask);
    }
    *rp = r;
}

static void zipf_fill(struct synth *s, struct vmsim_event *buf, size_t k)
{
    zipf_scan(&s->u.zipf, &s->rng, s->a.base, s->tmpl, buf, k);
}

/* ---- chase: a pointer chase along one random cycle --------------------------------- */

static int chase_init(struct synth *s, struct spec *sp)
{
    struct synth_args *a = &sp->a;
    if (a->node < a->access || a->node % a->access)
        return spec_fail(sp, spec_blame(sp, "node", "access"),
                         "node a multiple of access (%llu)", (unsigned long long)a->access);
    if (!spec_given(sp, "nodes")) {
        if (a->size < a->node)
            return spec_fail(sp, spec_blame(sp, "size", "node"), "size >= node (%llu)",
                             (unsigned long long)a->node);
        a->nodes = a->size / a->node;
    }
    if (a->nodes > CHASE_MAX_NODES)
        return spec_fail(sp, spec_blame(sp, "nodes", "size"), "at most %llu nodes (nodes = size / node by default)",
                         (unsigned long long)CHASE_MAX_NODES);
    if (a->nodes > a->size / a->node)
        return spec_fail(sp, spec_blame(sp, "nodes", "size"),
                         "nodes * node <= size (%llu)", (unsigned long long)a->size);
    int rc = region_check(sp, &s->lay, a->base, a->size);
    if (rc)
        return rc;
    /* Spread the nodes over the region, node-aligned from base. */
    s->u.chase.spacing = a->size / a->nodes / a->node * a->node;
    uint32_t *order = malloc(a->nodes * sizeof *order);
    if (!order)
        return VMSIM_ENOMEM;
    /* A uniformly random single cycle through all nodes (what Sattolo's
     * algorithm draws) is, read from node 0, node 0 followed by a uniformly
     * random order of the others: so draw that order by Fisher-Yates and
     * store the cycle as its visiting order. fill() then streams the table
     * instead of chasing through it, which keeps the generator itself out
     * of the cache misses it is there to cause in the simulated machine. */
    for (uint64_t i = 0; i < a->nodes; i++)
        order[i] = (uint32_t)i;
    for (uint64_t i = a->nodes - 1; i > 1; i--) {
        uint64_t j = 1 + rng_below(&s->rng, i); /* j in [1, i] */
        uint32_t tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    s->u.chase.order = order;
    s->u.chase.pos = 0;
    return 0;
}

static void chase_fill(struct synth *s, struct vmsim_event *buf, size_t k)
{
    const uint32_t *order = s->u.chase.order;
    uint64_t pos = s->u.chase.pos;
    const uint64_t base = s->a.base, spacing = s->u.chase.spacing, nodes = s->a.nodes;
    const struct vmsim_event t = s->tmpl;
    for (size_t i = 0; i < k; i++) {
        buf[i] = t;
        buf[i].addr = base + order[pos] * spacing;
        if (++pos == nodes)
            pos = 0;
    }
    s->u.chase.pos = pos;
}

static void chase_fini(struct synth *s) { free(s->u.chase.order); }

/* ---- sparse: many small regions over the whole user space ---------------------- */

static int sparse_init(struct synth *s, struct spec *sp)
{
    const struct synth_args *a = &sp->a;
    if (a->rsize % PAGE_SIZE)
        return spec_fail(sp, "rsize", "rsize a multiple of the 4096-byte page");
    const struct layout *l = &s->lay;
    int rc = slots_check(sp, l, a->rsize, a->regions);
    if (rc)
        return rc;
    uint64_t regions = a->regions;
    vmsim_vaddr_t *start = malloc(regions * sizeof *start);
    if (!start)
        return VMSIM_ENOMEM;
    /* Knuth's selection sampling (Algorithm S): each slot (1 GiB in 48
     * bits) except the first (which holds the code) is taken with
     * probability needed/left, giving a uniform random set of distinct
     * slots in one pass and no table: the regions cannot overlap and all
     * end below the top of the user half (2^47 in 48 bits). */
    uint64_t got = 0;
    for (uint64_t slot = 1; got < regions; slot++) {
        uint64_t left = l->slot_count - slot;
        if (rng_below(&s->rng, left) < regions - got)
            start[got++] = slot << l->slot_shift;
    }
    s->u.sparse.start = start;
    s->u.sparse.shift = log2_exact(a->access);
    s->u.sparse.slots = a->rsize >> s->u.sparse.shift;
    return 0;
}

static void sparse_fill(struct synth *s, struct vmsim_event *buf, size_t k)
{
    const vmsim_vaddr_t *start = s->u.sparse.start;
    const uint64_t regions = s->a.regions, slots = s->u.sparse.slots;
    const unsigned shift = s->u.sparse.shift;
    const struct vmsim_event t = s->tmpl;
    struct rng r = s->rng;
    for (size_t i = 0; i < k; i++) {
        uint64_t region = rng_below(&r, regions);
        buf[i] = t;
        buf[i].addr = start[region] + (rng_below(&r, slots) << shift);
    }
    s->rng = r;
}

static void sparse_fini(struct synth *s) { free(s->u.sparse.start); }

/* ---- their table entries ------------------------------------------------------- */

static const struct param seq_params[] = {
    P_REGION_SIZE("64m"),
    P_SIZE("stride", stride, "8", 1, "bytes between accesses (8, 4k)"),
    P_END,
};
static const struct param stride_params[] = {
    P_REGION_SIZE("64m"),
    P_SIZE("stride", stride, "4096", 1, "bytes between accesses (8, 4k)"),
    P_END,
};
static const struct param random_params[] = {P_REGION_SIZE("1g"), P_END};
static const struct param zipf_params[] = {
    P_REGION_SIZE("1g"),
    P_REAL("theta", theta, "0.99", 0.0, ZIPF_MAX_THETA, "a skew from 0 (uniform) to 10"),
    P_END,
};
static const struct param chase_params[] = {
    P_REGION_SIZE("64m"),
    P_SIZE("node", node, "64", 1, "bytes per node (64)"),
    P_INT("nodes", nodes, NULL, 1, UINT64_MAX, "a number of nodes >= 1"),
    P_END,
};
static const struct param sparse_params[] = {
    P_INT("regions", regions, "64", 1, (UINT64_C(1) << 17) - 1,
          "a number of regions from 1 to 131071 (255 below 48 bits)"),
    P_SIZE("rsize", rsize, "2m", 1, "bytes per region, up to 1g"),
    P_END,
};

const struct generator gen_seq = {C_ALL, seq_params, seq_init, seq_fill, NULL, NULL};
const struct generator gen_stride = {C_ALL, stride_params, seq_init, seq_fill, NULL, NULL};
const struct generator gen_random = {C_ALL, random_params, random_init, random_fill,
                                            NULL, NULL};
const struct generator gen_zipf = {C_ALL, zipf_params, zipf_init, zipf_fill, NULL, NULL};
const struct generator gen_chase = {C_ALL, chase_params, chase_init, chase_fill, NULL,
                                           chase_fini};
const struct generator gen_sparse = {C_ALL & ~C_BASE, sparse_params, sparse_init,
                                            sparse_fill, NULL, sparse_fini};
