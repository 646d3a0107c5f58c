/* default: the embedded workload of `make run`, three processes time-sliced
 * on cpu 0, each running two phases that are workloads of their own. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/synth.h"

/* ---- default: the embedded workload of `make run` ----------------------------- */

/* Three processes, each running two phases of 4M data accesses with one
 * instruction fetch per 4 (code=16k), time-sliced round robin on cpu 0 in
 * slices of DEFAULT_SLICE events. docs/workloads.md describes it; change
 * both together. */
#define DEFAULT_SLICE 500000u
#define DEFAULT_PHASE_COMMON "n=4000000,code=16k,fetch_every=4"
static const char *const default_program[DEFAULT_PROCS][DEFAULT_PHASES] = {
    {"seq:size=64m,stride=64,write=0.3", "random:size=256m,write=0.1"},
    {"zipf:size=256m,theta=0.99,write=0.2", "stride:size=256m,write=0.05"},
    {"random:size=256m,write=0.2", "sparse:regions=64,rsize=2m,write=0.2"},
};

static int default_open_phase(struct synth *s, unsigned p)
{
    struct default_state *d = &s->u.dflt;
    char spec[192];
    /* Distinct, reproducible seeds per process and phase. */
    uint64_t x = s->a.seed + 16 * (uint64_t)(p + 1) + d->phase[p];
    snprintf(spec, sizeof spec, "%s,%s,pid=%u,seed=%llu,va_bits=%u", default_program[p][d->phase[p]],
             DEFAULT_PHASE_COMMON, p + 1, (unsigned long long)rng_splitmix(&x), s->lay.va_bits);
    return vmsim_source_open_workload(spec, &d->proc[p], &s->base.err);
}

static int default_init(struct synth *s, struct spec *sp)
{
    struct default_state *d = &s->u.dflt;
    for (unsigned p = 0; p < DEFAULT_PROCS; p++) {
        int rc = default_open_phase(s, p);
        if (rc) {
            *sp->err = s->base.err;
            return rc;
        }
    }
    d->cur = 0;
    d->slice_left = DEFAULT_SLICE;
    /* Every phase has DEFAULT_PHASE_COMMON's n, code and fetch_every, so
     * the total of the first. */
    for (unsigned p = 0; p < DEFAULT_PROCS; p++)
        s->base.total += DEFAULT_PHASES * vmsim_source_total(d->proc[p]);
    return 0;
}

static long default_stream(struct synth *s, struct vmsim_event *buf, size_t max)
{
    struct default_state *d = &s->u.dflt;
    size_t out = 0;
    for (; d->spawned < DEFAULT_PROCS && out < max; d->spawned++)
        buf[out++] = (struct vmsim_event){.type = VMSIM_EV_SPAWN, .pid = d->spawned + 1};
    while (out < max) {
        if (d->slice_left == 0 || !d->proc[d->cur]) {
            /* Round robin over the processes still running; the machine sees
             * the context switch as the change of pid. */
            unsigned p = d->cur, tries = 0;
            do
                p = (p + 1) % DEFAULT_PROCS;
            while (!d->proc[p] && ++tries < DEFAULT_PROCS);
            if (!d->proc[p])
                break;
            d->cur = p;
            d->slice_left = DEFAULT_SLICE;
        }
        size_t want = max - out;
        if (want > d->slice_left)
            want = (size_t)d->slice_left;
        long got = vmsim_source_next(d->proc[d->cur], buf + out, want);
        if (got < 0) {
            s->base.err = *vmsim_source_error(d->proc[d->cur]);
            return got;
        }
        if (got == 0) { /* phase over: the next one continues the slice */
            vmsim_source_close(d->proc[d->cur]);
            d->proc[d->cur] = NULL;
            if (++d->phase[d->cur] < DEFAULT_PHASES) {
                int rc = default_open_phase(s, d->cur);
                if (rc)
                    return rc;
            }
            continue;
        }
        out += (size_t)got;
        d->slice_left -= (uint64_t)got;
    }
    return (long)out;
}

static void default_fini(struct synth *s)
{
    for (unsigned p = 0; p < DEFAULT_PROCS; p++)
        vmsim_source_close(s->u.dflt.proc[p]);
}

static const struct param no_params[] = {P_END};

const struct generator gen_default = {C_SEED | C_VA, no_params, default_init, NULL,
                                             default_stream, default_fini};
