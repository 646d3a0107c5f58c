/* churn: one process that maps, writes and unmaps regions of mixed sizes
 * for a long time in a bounded footprint, so that free physical memory
 * fragments (issue 17: huge pages after churn). One of the OS workloads:
 * synth_os.c has the rules they share and docs/workloads.md this one's
 * exact stream.
 *
 * Each step maps one region of 2^e bytes, e uniform over [log2 small,
 * log2 large]; first, while the regions mapped and the new one would
 * exceed size bytes, or no gap of the arena holds the new one, a region
 * drawn uniformly among the mapped ones is unmapped. The arena is 4 x size
 * (rounded up to 2 MiB) from the layout's heap; a region goes to the lowest
 * gap that holds it aligned to min(its size, 2 MiB), as Linux aligns large
 * anonymous mappings for THP and reuses the lowest hole that fits. The new
 * region is advised MADV_HUGEPAGE (thp=1) and every page of it written
 * once, in address order: the step's run. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "trace/synth.h"

#define CHURN_ALIGN (UINT64_C(2) << 20)

struct churn_region {
    uint64_t addr, len;
};

struct churn_state {
    struct churn_region *reg; /* the mapped regions, in address order */
    size_t nreg;
    uint64_t live;            /* bytes mapped */
    uint64_t lo_addr, hi_addr; /* the arena */
    unsigned lo, span;        /* e = lo + a draw below span */
    uint64_t base, page;      /* the region being written, its next page */
};

static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

static int churn_init(struct synth *s, struct spec *sp)
{
    const struct synth_args *a = &sp->a;
    int rc;
    if ((rc = os_pages(sp, "small", a->small)) || (rc = os_pages(sp, "size", a->size)))
        return rc;
    if (a->small & (a->small - 1))
        return spec_fail(sp, "small", "small a power of two");
    if (a->large & (a->large - 1))
        return spec_fail(sp, "large", "large a power of two");
    if (a->large < a->small)
        return spec_fail(sp, spec_blame(sp, "large", "small"), "large >= small (%llu)",
                         (unsigned long long)a->small);
    if (a->size < a->large)
        return spec_fail(sp, spec_blame(sp, "size", "large"), "size >= large (%llu)",
                         (unsigned long long)a->large);
    const uint64_t arena = round_up(4 * a->size, CHURN_ALIGN);
    if ((rc = space_check(sp, &s->lay, "size", s->lay.heap, arena)))
        return rc;
    const uint64_t most = a->size / a->small; /* regions mapped at once, at most */
    /* a step: spawn, switch, an munmap per mapped region at most, mmap, madvise */
    if ((rc = os_alloc(s, (size_t)most + 4, 0)))
        return rc;
    struct churn_state *c = calloc(1, sizeof *c);
    s->u.os.regions = c;
    if (!c)
        return VMSIM_ENOMEM;
    c->reg = malloc((size_t)most * sizeof *c->reg);
    if (!c->reg)
        return VMSIM_ENOMEM;
    c->lo_addr = s->lay.heap;
    c->hi_addr = s->lay.heap + arena;
    c->lo = log2_exact(a->small);
    c->span = log2_exact(a->large) - c->lo + 1;
    return 0;
}

/* The lowest address of a gap that holds len bytes aligned to min(len,
 * 2 MiB), and in *at the index the region goes to; 0 when none does. */
static uint64_t first_fit(const struct churn_state *c, uint64_t len, size_t *at)
{
    const uint64_t align = len < CHURN_ALIGN ? len : CHURN_ALIGN;
    uint64_t from = c->lo_addr;
    for (size_t i = 0; i <= c->nreg; i++) {
        const uint64_t to = i < c->nreg ? c->reg[i].addr : c->hi_addr;
        const uint64_t addr = round_up(from, align);
        if (addr + len <= to) {
            *at = i;
            return addr;
        }
        if (i < c->nreg)
            from = c->reg[i].addr + c->reg[i].len;
    }
    return 0;
}

static void churn_step(struct synth *s)
{
    struct os_state *o = &s->u.os;
    struct churn_state *c = o->regions;
    if (o->phase == 0) {
        os_push(o, (struct vmsim_event){.type = VMSIM_EV_SPAWN, .pid = 1});
        os_switch(o, 0, 1);
        o->phase = 1;
    }
    const uint64_t len = UINT64_C(1) << (c->lo + rng_below(&s->rng, c->span));
    size_t at = 0;
    uint64_t addr = 0;
    /* the arena holds len when nothing is mapped (4 x size >= len) */
    while (c->nreg && (c->live + len > s->a.size || !(addr = first_fit(c, len, &at)))) {
        const size_t i = (size_t)rng_below(&s->rng, c->nreg);
        os_push(o, (struct vmsim_event){.type = VMSIM_EV_MUNMAP,
                                        .pid = 1,
                                        .addr = c->reg[i].addr,
                                        .len = c->reg[i].len});
        c->live -= c->reg[i].len;
        for (size_t j = i; j + 1 < c->nreg; j++)
            c->reg[j] = c->reg[j + 1];
        c->nreg--;
    }
    if (!c->nreg)
        addr = first_fit(c, len, &at);
    for (size_t j = c->nreg; j > at; j--)
        c->reg[j] = c->reg[j - 1];
    c->reg[at] = (struct churn_region){addr, len};
    c->nreg++;
    c->live += len;
    c->base = addr;
    c->page = 0;
    os_mmap(o, 0, 1, addr, len, OS_RW, 0, 0);
    if (s->a.thp)
        os_push(o, (struct vmsim_event){.type = VMSIM_EV_MADVISE,
                                        .kind = VMSIM_ADV_HUGEPAGE,
                                        .pid = 1,
                                        .addr = addr,
                                        .len = len});
    os_run(s, 0, 0, 1, len / PAGE_SIZE);
}

static void churn_fill(struct synth *s, struct vmsim_event *buf, size_t k)
{
    struct churn_state *c = s->u.os.regions;
    struct vmsim_event t = os_access(s);
    t.kind = VMSIM_WRITE;
    for (size_t i = 0; i < k; i++) {
        buf[i] = t;
        buf[i].addr = c->base + c->page++ * PAGE_SIZE;
    }
}

static long churn_stream(struct synth *s, struct vmsim_event *buf, size_t max)
{
    return os_stream(s, buf, max, churn_step);
}

static void churn_fini(struct synth *s)
{
    struct churn_state *c = s->u.os.regions;
    if (c) {
        free(c->reg);
        free(c);
    }
    os_fini(s);
}

static const struct param churn_params[] = {
    P_INT("n", n, "1000000", 1, UINT64_MAX, "a number of accesses >= 1"),
    P_SIZEM("size", size, "48m", PAGE_SIZE, UINT64_C(1) << 40, "bytes mapped at once, 4k to 1t"),
    P_SIZEM("small", small, "4k", PAGE_SIZE, UINT64_C(1) << 40, "the smallest region, a power of two >= 4k"),
    P_SIZEM("large", large, "4m", PAGE_SIZE, UINT64_C(1) << 40, "the largest region, a power of two"),
    P_INT("thp", thp, "1", 0, 1, "0 or 1 (madvise each region MADV_HUGEPAGE)"),
    P_END,
};

const struct generator gen_churn = {C_ACCESS | C_SEED | C_VA, churn_params, churn_init,
                                    churn_fill, churn_stream, churn_fini};
