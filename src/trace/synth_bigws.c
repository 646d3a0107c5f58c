/* bigws: a working set larger than memory, one of the OS workloads:
 * synth_os.c has the rules they share and docs/workloads.md this one's
 * exact stream. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/synth.h"

/* One process maps size bytes of anonymous memory and makes hot/cold
 * accesses: a `hot` fraction to hotsize bytes of hot pages, the rest to the
 * other pages. The hot pages are scattered by a seeded bijection of the
 * pages (struct perm): page P(i) is hot for i < hot_pages. */
#define BIGWS_MAX_SIZE (UINT64_C(1) << 46) /* 64 TiB from 1 TiB: below 2^47 */

static int bigws_init(struct synth *s, struct spec *sp)
{
    const struct synth_args *a = &sp->a;
    int rc;
    if ((rc = os_pages(sp, "size", a->size)) || (rc = os_pages(sp, "hotsize", a->hotsize)))
        return rc;
    if (a->hotsize > a->size)
        return spec_fail(sp, spec_blame(sp, "hotsize", "size"), "hotsize <= size (%llu)",
                         (unsigned long long)a->size);
    if ((rc = space_check(sp, &s->lay, "size", s->lay.heap, a->size)))
        return rc;
    if ((rc = os_alloc(s, 8, 0))) /* spawn, switch, mmap, madvise */
        return rc;
    struct os_state *o = &s->u.os;
    o->hot_pages = a->hotsize / PAGE_SIZE;
    o->cold_pages = (a->size - a->hotsize) / PAGE_SIZE;
    o->hot = o->cold_pages ? chance_of(a->hot) : chance_of(1.0);
    perm_init(&o->hot_perm, a->size / PAGE_SIZE, &s->rng);
    return 0;
}

static void bigws_step(struct synth *s)
{
    struct os_state *o = &s->u.os;
    os_push(o, (struct vmsim_event){.type = VMSIM_EV_SPAWN, .pid = 1});
    os_switch(o, 0, 1);
    os_mmap(o, 0, 1, s->lay.heap, s->a.size, OS_RW, 0, 0);
    if (s->a.thp)
        os_push(o, (struct vmsim_event){.type = VMSIM_EV_MADVISE,
                                        .kind = VMSIM_ADV_HUGEPAGE,
                                        .pid = 1,
                                        .addr = s->lay.heap,
                                        .len = s->a.size});
    os_run(s, 0, 0, 1, UINT64_MAX); /* one run: every access */
}

static void bigws_fill(struct synth *s, struct vmsim_event *buf, size_t k)
{
    struct os_state *o = &s->u.os;
    const struct vmsim_event t = os_access(s);
    const struct perm *perm = &o->hot_perm;
    const uint64_t hot_pages = o->hot_pages, cold_pages = o->cold_pages;
    const uint64_t offmask = PAGE_SIZE - s->a.access; /* access-aligned offsets */
    const struct chance hot = o->hot, write = o->write;
    struct rng r = s->rng, w = s->wrng;
    for (size_t i = 0; i < k; i++) {
        uint64_t rank = chance_draw(&r, hot) ? rng_below(&r, hot_pages)
                                             : hot_pages + rng_below(&r, cold_pages);
        buf[i] = t;
        buf[i].addr = s->lay.heap + perm_fwd(perm, rank) * PAGE_SIZE + (rng_next(&r) & offmask);
        if (chance_draw(&w, write))
            buf[i].kind = VMSIM_WRITE;
    }
    s->rng = r;
    s->wrng = w;
}

static long bigws_stream(struct synth *s, struct vmsim_event *buf, size_t max)
{
    return os_stream(s, buf, max, bigws_step);
}

static const struct param bigws_params[] = {
    P_OS_N,
    P_SIZEM("size", size, "1g", PAGE_SIZE, BIGWS_MAX_SIZE, "bytes in the region, 4k to 64t"),
    P_SIZEM("hotsize", hotsize, "64m", PAGE_SIZE, BIGWS_MAX_SIZE, "bytes of hot pages, 4k to size"),
    P_FRACTION("hot", hot, "0.9"),
    P_FRACTION("write", write, "0.25"),
    P_INT("thp", thp, "0", 0, 1, "0 or 1 (madvise the region MADV_HUGEPAGE)"),
    P_END,
};

const struct generator gen_bigws = {C_ACCESS | C_SEED | C_VA, bigws_params, bigws_init,
                                           bigws_fill, bigws_stream, os_fini};
