/* vms: a host running several VMs, one service each, one of the OS
 * workloads: synth_os.c has the rules they share and docs/workloads.md
 * this one's exact stream. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/synth.h"

/* VMs 1..vms (VM 1 is the machine's own; 2..vms are created by VM events
 * at the start) each run a service: a garbage collector (gc's mark-sweep
 * cycles over a heap), a database (Zipf-popular pages of a table) or a
 * fork-heavy service (forkserver's master and recycled workers, with
 * forkserver's default code, request area and mix). Each VM's first
 * process is spawned into it at the start (a VM event carries that
 * process's pid, so no event has pid 0); forked workers stay in their
 * master's VM. The slots (the collector's, the database's, a fork
 * service's workers) are numbered VM by VM and take time slices round
 * robin, as in every OS workload. */
#define VMS_CODE (UINT64_C(1) << 20)  /* a fork service's code, file 1 */
#define VMS_AREA (UINT64_C(256) << 10) /* a worker's request area */
#define VMS_FETCH 0.25                /* a worker's fetches, as forkserver's */
#define VMS_AREA_SHARE 0.25           /* its data accesses to the request area */
#define VMS_MAX_VMS 255u
#define VMS_MAX_BYTES (UINT64_C(1) << 46) /* a heap or table from 1 TiB stays below 2^47 */

static const char *const vms_service_names[] = {"mix", "gc", "db", "fork", NULL};

static int vms_init(struct synth *s, struct spec *sp)
{
    struct synth_args *a = &sp->a;
    int rc;
    if ((rc = os_pages(sp, "vmmem", a->vmmem)) || (rc = os_pages(sp, "gc_heap", a->gc_heap)) ||
        (rc = os_pages(sp, "db_table", a->db_table)) ||
        (rc = os_pages(sp, "fork_heap", a->heap)))
        return rc;
    if (a->obj < a->access || a->obj % a->access)
        return spec_fail(sp, spec_blame(sp, "gc_obj", "access"),
                         "gc_obj a multiple of access (%llu)", (unsigned long long)a->access);
    if (a->gc_heap % a->obj)
        return spec_fail(sp, spec_blame(sp, "gc_heap", "gc_obj"),
                         "gc_heap a multiple of gc_obj (%llu)", (unsigned long long)a->obj);
    a->text = VMS_CODE; /* what forkserver_fill reads */
    a->area = VMS_AREA;
    if ((rc = space_check(sp, &s->lay, "gc_heap", s->lay.heap, a->gc_heap)) ||
        (rc = space_check(sp, &s->lay, "db_table", s->lay.heap, a->db_table)) ||
        (rc = space_check(sp, &s->lay, "fork_heap", s->lay.heap, a->heap)) ||
        (rc = space_check(sp, &s->lay, "va_bits", s->lay.area, VMS_AREA)) ||
        (rc = space_check(sp, &s->lay, "va_bits", OS_CODE_BASE, VMS_CODE)))
        return rc;
    size_t slots = 0;
    for (uint64_t k = 0; k < a->vms; k++) {
        enum vms_service sv = a->service ? (enum vms_service)(a->service - 1)
                                         : (enum vms_service)(k % VMS_NSERVICES);
        slots += sv == VMS_FORK ? a->workers : 1;
    }
    /* largest step: the first, a VM event and a spawn per VM and a setup;
     * or an exit, a switch and the forks of all workers, a switch and an mmap */
    if ((rc = os_alloc(s, 2 * a->vms + a->workers + 8, slots)))
        return rc;
    struct os_state *o = &s->u.os;
    o->vm = calloc(a->vms, sizeof *o->vm);
    if (!o->vm)
        return VMSIM_ENOMEM;
    o->nvm = a->vms;
    o->fetch = chance_of(VMS_FETCH);
    o->share = chance_of(VMS_AREA_SHARE);
    o->db_write = chance_of(a->db_write); /* o->write, fork_write, is os_alloc's */
    size_t slot = 0;
    for (size_t k = 0; k < o->nvm; k++) {
        struct os_vm *v = &o->vm[k];
        v->service = a->service ? (enum vms_service)(a->service - 1)
                                : (enum vms_service)(k % VMS_NSERVICES);
        v->first = slot;
        v->first_pid = os_new_pid(o); /* pids 1..vms, VM by VM */
        size_t n = v->service == VMS_FORK ? a->workers : 1;
        for (size_t j = slot; j < slot + n; j++) {
            o->proc[j].vm = k;
            if (v->service != VMS_FORK) /* the worker slots get pids as they are forked */
                o->proc[j].pid = v->first_pid;
        }
        slot += n;
        if (v->service == VMS_GC)
            gc_setup(&v->gc, a->gc_heap / a->obj, a->live, &s->rng);
        else if (v->service == VMS_DB)
            zipf_setup(&v->db, a->db_table / PAGE_SIZE, a->theta, &s->rng);
    }
    return 0;
}

static void vms_step(struct synth *s)
{
    struct os_state *o = &s->u.os;
    const struct synth_args *a = &s->a;
    const bool after_master = o->init_run;
    o->init_run = false;
    if (o->phase == 0) { /* the VMs, then a process in each on its first slice's cpu */
        for (size_t k = 1; k < o->nvm; k++)
            os_push(o, (struct vmsim_event){.type = VMSIM_EV_VM,
                                            .pid = o->vm[k].first_pid,
                                            .addr = k + 1,
                                            .len = a->vmmem});
        for (size_t k = 0; k < o->nvm; k++)
            os_push(o, (struct vmsim_event){.type = VMSIM_EV_SPAWN,
                                            .cpu = (uint16_t)(o->vm[k].first % a->cpus),
                                            .pid = o->vm[k].first_pid,
                                            .file = k ? (uint32_t)(k + 1) : 0});
        o->phase = 1;
    } else if (!after_master) {
        /* a worker whose life ended with the last slice exits there, and
         * its master, woken on that cpu, forks its successor */
        struct os_proc *p = &o->proc[o->cur];
        const struct os_vm *v = &o->vm[p->vm];
        if (v->service == VMS_FORK && p->used >= a->requests && os_pid_left(o)) {
            os_exit(o, o->cpu, p->pid);
            os_switch(o, o->cpu, v->first_pid);
            p->pid = os_new_pid(o);
            p->mapped = false;
            p->used = 0;
            os_push(o, (struct vmsim_event){.type = VMSIM_EV_FORK,
                                            .cpu = o->cpu,
                                            .pid = v->first_pid,
                                            .addr = p->pid});
        }
    }
    /* the next slice; a fork service's first one is preceded by its master's setup */
    uint16_t cpu = (uint16_t)(o->slices % a->cpus);
    size_t j = (size_t)(o->slices % o->nproc);
    struct os_vm *v = &o->vm[o->proc[j].vm];
    if (v->service == VMS_FORK && v->setup == 0) {
        os_switch(o, cpu, v->first_pid);
        os_mmap(o, cpu, v->first_pid, OS_CODE_BASE, VMS_CODE, OS_RX, 1, 0);
        os_mmap(o, cpu, v->first_pid, s->lay.heap, a->heap, OS_RW, 0, 0);
        v->setup = 1;
        o->init_run = true;
        o->init_page = 0;
        os_run(s, j, cpu, v->first_pid, a->heap / PAGE_SIZE);
        return;
    }
    if (v->service == VMS_FORK && v->setup == 1) { /* the master is still on cpu */
        for (size_t w = v->first; w < v->first + a->workers; w++) {
            o->proc[w].pid = os_new_pid(o);
            o->proc[w].live = true;
            os_push(o, (struct vmsim_event){
                           .type = VMSIM_EV_FORK, .cpu = cpu, .pid = v->first_pid,
                           .addr = o->proc[w].pid});
        }
        v->setup = 2;
    }
    j = os_next_slice(s, o->nproc, &cpu); /* the slice looked at above */
    struct os_proc *p = &o->proc[j];
    os_switch(o, cpu, p->pid);
    if (!p->mapped) {
        if (v->service == VMS_GC)
            os_mmap(o, cpu, p->pid, s->lay.heap, a->gc_heap, OS_RW, 0, 0);
        else if (v->service == VMS_DB)
            os_mmap(o, cpu, p->pid, s->lay.heap, a->db_table, OS_RW, 0, 0);
        else
            os_mmap(o, cpu, p->pid, s->lay.area, VMS_AREA, OS_RW, 0, 0);
        p->mapped = true;
    }
    uint64_t len = a->slice;
    if (v->service == VMS_FORK) {
        if (p->used < a->requests && a->requests - p->used < len)
            len = a->requests - p->used; /* the last slice of its life */
        p->used += len;
    }
    os_run(s, j, cpu, p->pid, len);
}

static void vms_fill(struct synth *s, struct vmsim_event *buf, size_t k)
{
    struct os_state *o = &s->u.os;
    struct os_vm *v = &o->vm[o->proc[o->cur].vm];
    if (o->init_run || v->service == VMS_FORK) { /* the master's heap writes, or a worker */
        forkserver_fill(s, buf, k);
        return;
    }
    const struct vmsim_event t = os_access(s);
    if (v->service == VMS_GC) {
        gc_scan(&v->gc, &s->rng, s->lay.heap, s->a.obj, t, buf, k);
        return;
    }
    zipf_scan(&v->db, &s->rng, s->lay.heap, t, buf, k);
    const struct chance write = o->db_write;
    struct rng w = s->wrng;
    for (size_t i = 0; i < k; i++)
        if (chance_draw(&w, write))
            buf[i].kind = VMSIM_WRITE;
    s->wrng = w;
}

static long vms_stream(struct synth *s, struct vmsim_event *buf, size_t max)
{
    return os_stream(s, buf, max, vms_step);
}

static const struct param vms_params[] = {
    P_OS_N,
    P_INT("vms", vms, "3", 1, VMS_MAX_VMS, "a number of VMs from 1 to 255"),
    P_WORD("service", service, "mix", vms_service_names, "mix, gc, db or fork"),
    P_OS_CPUS,
    P_OS_SLICE,
    P_SIZEM("vmmem", vmmem, "0", 0, TIB, "bytes of guest memory per VM, 0 (--mem) to 1t"),
    P_SIZEM("gc_heap", gc_heap, "1g", PAGE_SIZE, VMS_MAX_BYTES, "bytes of heap, 4k to 64t"),
    P_SIZE("gc_obj", obj, "4096", 1, "bytes per object (4096)"),
    P_REAL("gc_live", live, "0.5", 0.0, 1.0, "a fraction of live objects from 0 to 1"),
    P_SIZEM("db_table", db_table, "1g", PAGE_SIZE, VMS_MAX_BYTES, "bytes of table, 4k to 64t"),
    P_REAL("db_theta", theta, "0.99", 0.0, ZIPF_MAX_THETA, "a skew from 0 (uniform) to 10"),
    P_FRACTION("db_write", db_write, "0.2"),
    P_INT("fork_workers", workers, "4", 1, 1024, "a number of workers from 1 to 1024"),
    P_INT("fork_requests", requests, "100000", 1, UINT64_MAX, "accesses per worker life, >= 1"),
    P_SIZEM("fork_heap", heap, "64m", PAGE_SIZE, TIB, "bytes of the master's heap, 4k to 1t"),
    P_FRACTION("fork_write", write, "0.02"),
    P_END,
};

const struct generator gen_vms = {C_ACCESS | C_SEED | C_VA, vms_params, vms_init, vms_fill,
                                         vms_stream, os_fini};
