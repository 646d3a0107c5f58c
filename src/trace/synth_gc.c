/* gc: mark-sweep garbage collection cycles over a heap of objects, one
 * process; vms reuses its collector (gc_setup, gc_scan). */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/synth.h"

/* ---- gc: mark-sweep collection cycles ------------------------------------------ */

/* Each cycle draws a fresh bijection P over the objects. The live objects
 * are P(0..live-1); the mark phase reads their headers in that order (a
 * pseudo-random linked structure: P(k) points to P(k+1)), then the sweep
 * reads every header in address order and writes the header of each dead
 * object (P^-1(i) >= live) to link it into a free list. Per cycle: live
 * mark reads, objects sweep reads, objects - live sweep writes. */
static void gc_cycle(struct gc_state *g, struct rng *r)
{
    perm_init(&g->order, g->objects, r);
    g->pos = 0;
    g->marking = g->live > 0;
    g->owe_write = false;
}

/* objects objects, floor(live * objects) of them live, and the first cycle. */
void gc_setup(struct gc_state *g, uint64_t objects, double live_share, struct rng *r)
{
    g->objects = objects;
    double live = floor(live_share * (double)objects);
    g->live = live >= (double)objects ? objects : (uint64_t)live;
    gc_cycle(g, r);
}

static int gc_init(struct synth *s, struct spec *sp)
{
    const struct synth_args *a = &sp->a;
    if (a->obj < a->access || a->obj % a->access)
        return spec_fail(sp, spec_blame(sp, "obj", "access"), "obj a multiple of access (%llu)",
                         (unsigned long long)a->access);
    if (a->size % a->obj)
        return spec_fail(sp, spec_blame(sp, "size", "obj"), "size a multiple of obj (%llu)",
                         (unsigned long long)a->obj);
    int rc = region_check(sp, &s->lay, a->base, a->size);
    if (rc)
        return rc;
    gc_setup(&s->u.gc, a->size / a->obj, a->live, &s->rng);
    return 0;
}

/* k accesses like t of the collector g over objects of obj bytes from
 * base; r draws each new cycle's bijection. */
void gc_scan(struct gc_state *g, struct rng *r, uint64_t base, uint64_t obj,
             struct vmsim_event t, struct vmsim_event *buf, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        buf[i] = t;
        if (g->marking) {
            buf[i].addr = base + perm_fwd(&g->order, g->pos) * obj;
            if (++g->pos == g->live) {
                g->marking = false;
                g->pos = 0;
            }
            continue;
        }
        buf[i].addr = base + g->pos * obj;
        if (g->owe_write) {
            buf[i].kind = VMSIM_WRITE;
            g->owe_write = false;
        } else if (perm_inv(&g->order, g->pos) >= g->live) {
            g->owe_write = true;
            continue;
        }
        if (++g->pos == g->objects)
            gc_cycle(g, r);
    }
}

static void gc_fill(struct synth *s, struct vmsim_event *buf, size_t k)
{
    gc_scan(&s->u.gc, &s->rng, s->a.base, s->a.obj, s->tmpl, buf, k);
}

static const struct param gc_params[] = {
    P_SIZE("size", size, "256m", 1, "bytes in the heap (256m, 8g)"),
    P_SIZE("obj", obj, "64", 1, "bytes per object (64)"),
    P_REAL("live", live, "0.5", 0.0, 1.0, "a fraction of live objects from 0 to 1"),
    P_END,
};

const struct generator gen_gc = {C_ALL & ~C_WRITE, gc_params, gc_init, gc_fill, NULL,
                                        NULL};
