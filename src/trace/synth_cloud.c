/* cloud: a multi-tenant host, one of the OS workloads: synth_os.c has the
 * rules they share and docs/workloads.md this one's exact stream. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/synth.h"

/* `tenants` processes, each with `regions` regions of rsize bytes in
 * distinct 1 GiB slots of the 47-bit space (slot 0 never, as in sparse),
 * chosen by a per-tenant seeded bijection of the 131071 usable slots; a
 * tenant is set up (spawn, switch, mmaps) on its first slice. After each
 * slice its tenant exits with probability churn, and a new tenant with a
 * fresh pid takes its place in the rotation. */
#define CLOUD_MAX_REGIONS 4096u

static int cloud_init(struct synth *s, struct spec *sp)
{
    const struct synth_args *a = &sp->a;
    int rc;
    if ((rc = os_pages(sp, "rsize", a->rsize)))
        return rc;
    const struct layout *l = &s->lay;
    if ((rc = slots_check(sp, l, a->rsize, a->regions)))
        return rc;
    /* largest step: exit, spawn, switch, one mmap per region */
    if ((rc = os_alloc(s, a->regions + 8, a->tenants)))
        return rc;
    struct os_state *o = &s->u.os;
    o->churn = chance_of(a->churn);
    for (size_t j = 0; j < o->nproc; j++)
        o->proc[j].pid = os_new_pid(o);
    return 0;
}

static void cloud_step(struct synth *s)
{
    struct os_state *o = &s->u.os;
    const struct synth_args *a = &s->a;
    if (o->slices && chance_draw(&s->rng, o->churn) && os_pid_left(o)) {
        struct os_proc *p = &o->proc[o->cur];
        os_exit(o, o->cpu, p->pid);
        p->pid = os_new_pid(o);
        p->live = false;
    }
    uint16_t cpu;
    size_t j = os_next_slice(s, o->nproc, &cpu);
    struct os_proc *p = &o->proc[j];
    if (!p->live) {
        os_push(o, (struct vmsim_event){.type = VMSIM_EV_SPAWN, .cpu = cpu, .pid = p->pid});
        os_switch(o, cpu, p->pid);
        perm_init(&p->regions, s->lay.slot_count - 1, &s->rng);
        for (uint64_t i = 0; i < a->regions; i++)
            os_mmap(o, cpu, p->pid, (1 + perm_fwd(&p->regions, i)) << s->lay.slot_shift, a->rsize,
                    OS_RW, 0, 0);
        p->live = true;
    } else {
        os_switch(o, cpu, p->pid);
    }
    os_run(s, j, cpu, p->pid, a->slice);
}

static void cloud_fill(struct synth *s, struct vmsim_event *buf, size_t k)
{
    struct os_state *o = &s->u.os;
    const struct perm *regions = &o->proc[o->cur].regions;
    const struct vmsim_event t = os_access(s);
    const uint64_t nregions = s->a.regions, rsize = s->a.rsize;
    const unsigned shift = o->shift;
    const struct chance write = o->write;
    struct rng r = s->rng, w = s->wrng;
    for (size_t i = 0; i < k; i++) {
        uint64_t slot = 1 + perm_fwd(regions, rng_below(&r, nregions));
        buf[i] = t;
        buf[i].addr = (slot << s->lay.slot_shift) + os_below(&r, rsize, shift);
        if (chance_draw(&w, write))
            buf[i].kind = VMSIM_WRITE;
    }
    s->rng = r;
    s->wrng = w;
}

static long cloud_stream(struct synth *s, struct vmsim_event *buf, size_t max)
{
    return os_stream(s, buf, max, cloud_step);
}

static const struct param cloud_params[] = {
    P_OS_N,
    P_INT("tenants", tenants, "64", 1, 65536, "a number of tenants from 1 to 65536"),
    P_INT("regions", regions, "16", 1, CLOUD_MAX_REGIONS, "regions per tenant, 1 to 4096"),
    P_SIZEM("rsize", rsize, "2m", PAGE_SIZE, UINT64_MAX, "bytes per region, up to 1g"),
    P_FRACTION("churn", churn, "0.01"),
    P_OS_CPUS,
    P_OS_SLICE,
    P_FRACTION("write", write, "0.3"),
    P_END,
};

const struct generator gen_cloud = {C_ACCESS | C_SEED | C_VA, cloud_params, cloud_init,
                                           cloud_fill, cloud_stream, os_fini};
