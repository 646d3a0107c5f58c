/* forkserver: a pre-fork server (Apache prefork, PHP-FPM), one of the OS
 * workloads: synth_os.c has the rules they share and docs/workloads.md
 * this one's exact stream. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/synth.h"

/* The master (pid 1) maps its code (file 1) and an anonymous heap, writes
 * every heap page, and forks the workers. Workers run in time slices; each
 * maps a private request area on its first slice, fetches from the code,
 * reads the inherited heap (writes to it, a `write` fraction, are
 * copy-on-write) and writes its request area. With recycle=1 a worker that
 * has made `requests` accesses exits and the master forks its successor. */
static int forkserver_init(struct synth *s, struct spec *sp)
{
    const struct synth_args *a = &sp->a;
    int rc;
    if ((rc = os_pages(sp, "code", a->text)) || (rc = os_pages(sp, "heap", a->heap)) ||
        (rc = os_pages(sp, "area", a->area)))
        return rc;
    if ((rc = space_check(sp, &s->lay, "code", OS_CODE_BASE, a->text)) ||
        (rc = space_check(sp, &s->lay, "heap", s->lay.heap, a->heap)) ||
        (rc = space_check(sp, &s->lay, "area", s->lay.area, a->area)))
        return rc;
    /* largest step: the first fork of all workers, then a switch and an mmap */
    if ((rc = os_alloc(s, a->workers + 8, a->workers)))
        return rc;
    struct os_state *o = &s->u.os;
    o->fetch = chance_of(a->fetch);
    o->share = chance_of(a->area_share);
    o->next_pid = OS_MASTER + 1;
    return 0;
}

static void forkserver_step(struct synth *s)
{
    struct os_state *o = &s->u.os;
    const struct synth_args *a = &s->a;
    if (o->phase == 0) { /* the master starts on cpu 0 and fills its heap */
        os_push(o, (struct vmsim_event){.type = VMSIM_EV_SPAWN, .pid = OS_MASTER});
        os_switch(o, 0, OS_MASTER);
        os_mmap(o, 0, OS_MASTER, OS_CODE_BASE, a->text, OS_RX, 1, 0);
        os_mmap(o, 0, OS_MASTER, s->lay.heap, a->heap, OS_RW, 0, 0);
        o->phase = 1;
        o->init_run = true;
        os_run(s, 0, 0, OS_MASTER, a->heap / PAGE_SIZE);
        return;
    }
    o->init_run = false;
    if (o->phase == 1) { /* still on cpu 0: fork every worker */
        for (size_t j = 0; j < o->nproc; j++) {
            struct os_proc *p = &o->proc[j];
            p->pid = os_new_pid(o);
            p->live = true;
            os_push(o, (struct vmsim_event){
                           .type = VMSIM_EV_FORK, .cpu = 0, .pid = OS_MASTER, .addr = p->pid});
        }
        o->phase = 2;
    } else if (a->recycle && o->proc[o->cur].used >= a->requests && os_pid_left(o)) {
        /* the worker of the last slice is done: it exits there, and the
         * master, woken on that cpu, forks its successor */
        struct os_proc *p = &o->proc[o->cur];
        os_exit(o, o->cpu, p->pid);
        os_switch(o, o->cpu, OS_MASTER);
        p->pid = os_new_pid(o);
        p->mapped = false;
        p->used = 0;
        os_push(o, (struct vmsim_event){
                       .type = VMSIM_EV_FORK, .cpu = o->cpu, .pid = OS_MASTER, .addr = p->pid});
    }
    uint16_t cpu;
    size_t j = os_next_slice(s, o->nproc, &cpu);
    struct os_proc *p = &o->proc[j];
    os_switch(o, cpu, p->pid);
    if (!p->mapped) {
        os_mmap(o, cpu, p->pid, s->lay.area, a->area, OS_RW, 0, 0);
        p->mapped = true;
    }
    uint64_t len = a->slice;
    if (a->recycle && p->used < a->requests && a->requests - p->used < len)
        len = a->requests - p->used; /* the last slice of its life */
    p->used += len;
    os_run(s, j, cpu, p->pid, len);
}

void forkserver_fill(struct synth *s, struct vmsim_event *buf, size_t k)
{
    struct os_state *o = &s->u.os;
    const struct vmsim_event t = os_access(s);
    if (o->init_run) { /* one write at the start of each heap page */
        for (size_t i = 0; i < k; i++) {
            buf[i] = t;
            buf[i].kind = VMSIM_WRITE;
            buf[i].addr = s->lay.heap + o->init_page++ * PAGE_SIZE;
        }
        return;
    }
    const uint64_t code = s->a.text, heap = s->a.heap, area = s->a.area;
    const unsigned shift = o->shift;
    const struct chance fetch = o->fetch, share = o->share, write = o->write;
    struct rng r = s->rng, w = s->wrng;
    for (size_t i = 0; i < k; i++) {
        buf[i] = t;
        if (chance_draw(&r, fetch)) {
            buf[i].kind = VMSIM_FETCH;
            buf[i].len = FETCH_BYTES;
            buf[i].addr = OS_CODE_BASE + os_below(&r, code, 2);
        } else if (chance_draw(&r, share)) {
            buf[i].kind = VMSIM_WRITE;
            buf[i].addr = s->lay.area + os_below(&r, area, shift);
        } else {
            buf[i].addr = s->lay.heap + os_below(&r, heap, shift);
            if (chance_draw(&w, write))
                buf[i].kind = VMSIM_WRITE;
        }
    }
    s->rng = r;
    s->wrng = w;
}

static long forkserver_stream(struct synth *s, struct vmsim_event *buf, size_t max)
{
    return os_stream(s, buf, max, forkserver_step);
}

static const struct param forkserver_params[] = {
    P_OS_N,
    P_INT("workers", workers, "8", 1, 1024, "a number of workers from 1 to 1024"),
    P_INT("requests", requests, "100000", 1, UINT64_MAX, "accesses per worker life, >= 1"),
    P_INT("recycle", recycle, "1", 0, 1, "0 or 1 (re-fork workers after requests accesses)"),
    P_OS_CPUS,
    P_OS_SLICE,
    P_SIZEM("code", text, "1m", PAGE_SIZE, GIB, "bytes of code, 4k to 1g"),
    P_SIZEM("heap", heap, "64m", PAGE_SIZE, TIB, "bytes of the master's heap, 4k to 1t"),
    P_SIZEM("area", area, "256k", PAGE_SIZE, GIB, "bytes of request area per worker, 4k to 1g"),
    P_FRACTION("fetch", fetch, "0.25"),
    P_FRACTION("area_share", area_share, "0.25"),
    P_FRACTION("write", write, "0.02"),
    P_END,
};

const struct generator gen_forkserver = {C_ACCESS | C_SEED | C_VA, forkserver_params,
                                                forkserver_init, forkserver_fill,
                                                forkserver_stream, os_fini};
