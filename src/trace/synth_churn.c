/* churn: one process that maps, writes and unmaps regions of mixed sizes
 * for a long time in a bounded footprint, so that free physical memory
 * fragments (issue 17: huge pages after churn). One of the OS workloads:
 * synth_os.c has the rules they share and docs/workloads.md this one's
 * exact stream.
 *
 * Each step maps one region of 2^e bytes, e uniform over [log2 small,
 * log2 large], in a slot of its own; first, while the regions mapped and
 * the new one would exceed size bytes, a region drawn uniformly among the
 * mapped ones is unmapped. The new region is advised MADV_HUGEPAGE (thp=1)
 * and every page of it written once, in address order: the step's run.
 * Slots are `large` bytes rounded up to 2 MiB apart from the layout's heap
 * (so a region of 2 MiB or more is 2 MiB-aligned, as Linux aligns large
 * anonymous mappings for THP), and a freed slot is the next one reused
 * (most recent first, as mmap tends to reuse the hole just made). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "trace/synth.h"

#define CHURN_ALIGN (UINT64_C(2) << 20)

struct churn_region {
    uint64_t slot, len;
};

struct churn_state {
    struct churn_region *reg; /* the mapped regions, in no order */
    uint64_t *free_slot;      /* slots free to reuse, the most recent last */
    size_t nreg, nfree;
    uint64_t live;            /* bytes mapped */
    uint64_t slot_bytes;
    unsigned lo, span;        /* e = lo + a draw below span */
    uint64_t base, page;      /* the region being written, its next page */
};

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
    const uint64_t slot_bytes = (a->large + CHURN_ALIGN - 1) & ~(CHURN_ALIGN - 1);
    const uint64_t slots = a->size / a->small; /* at most this many mapped at once */
    if ((rc = space_check(sp, &s->lay, "size", s->lay.heap, slots * slot_bytes)))
        return rc;
    /* a step: spawn, switch, an munmap per mapped region at most, mmap, madvise */
    if ((rc = os_alloc(s, (size_t)slots + 4, 0)))
        return rc;
    struct churn_state *c = calloc(1, sizeof *c);
    s->u.os.regions = c;
    if (!c)
        return VMSIM_ENOMEM;
    c->reg = malloc((size_t)slots * sizeof *c->reg);
    c->free_slot = malloc((size_t)slots * sizeof *c->free_slot);
    if (!c->reg || !c->free_slot)
        return VMSIM_ENOMEM;
    for (uint64_t i = 0; i < slots; i++) /* slot 0 on top: used first */
        c->free_slot[i] = slots - 1 - i;
    c->nfree = (size_t)slots;
    c->slot_bytes = slot_bytes;
    c->lo = log2_exact(a->small);
    c->span = log2_exact(a->large) - c->lo + 1;
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
    while (c->nreg && c->live + len > s->a.size) {
        const size_t i = (size_t)rng_below(&s->rng, c->nreg);
        os_push(o, (struct vmsim_event){.type = VMSIM_EV_MUNMAP,
                                        .pid = 1,
                                        .addr = s->lay.heap + c->reg[i].slot * c->slot_bytes,
                                        .len = c->reg[i].len});
        c->live -= c->reg[i].len;
        c->free_slot[c->nfree++] = c->reg[i].slot;
        c->reg[i] = c->reg[--c->nreg];
    }
    const uint64_t slot = c->free_slot[--c->nfree]; /* size / small slots: never empty here */
    c->reg[c->nreg++] = (struct churn_region){slot, len};
    c->live += len;
    c->base = s->lay.heap + slot * c->slot_bytes;
    c->page = 0;
    os_mmap(o, 0, 1, c->base, len, OS_RW, 0, 0);
    if (s->a.thp)
        os_push(o, (struct vmsim_event){.type = VMSIM_EV_MADVISE,
                                        .kind = VMSIM_ADV_HUGEPAGE,
                                        .pid = 1,
                                        .addr = c->base,
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
        free(c->free_slot);
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
