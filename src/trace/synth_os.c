/* What the OS workloads (forkserver, sharedlibs, bigws, cloud, vms) share:
 * the queue of OS events of a step, process slots, pids, cpus and time
 * slices, and the stream that alternates steps and runs. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/synth.h"

/* forkserver, sharedlibs, bigws, cloud and vms emit OS events as well as
 * accesses (docs/workloads.md has each one's exact stream). Common rules:
 *  - n counts access events of every kind (fetches too); the OS events come
 *    on top, and the stream ends with the n-th access.
 *  - A process runs on a cpu only after a switch to it there; its mmap,
 *    fork and exit events carry that cpu. An exit leaves the cpus that ran
 *    the process idle, so the next process there is switched to again.
 *  - Pids are never reused: a new process takes the next fresh one. Every
 *    access lies inside a mapping its process made or inherited by fork,
 *    with a protection that allows it.
 *  - Time slices go round robin: slice j runs slot j mod slots on cpu
 *    j mod cpus. */

struct chance chance_of(double p)
{
    struct chance c = {0, p >= 1.0};
    if (!c.always)
        c.below = (uint64_t)ldexp(p, 64); /* p < 1: below 2^64 */
    return c;
}


void os_push(struct os_state *o, struct vmsim_event e)
{
    /* qcap is each generator's largest step (its init says why) */
    o->q[o->qlen++] = e;
}

void os_mmap(struct os_state *o, uint16_t cpu, vmsim_pid_t pid, vmsim_vaddr_t addr,
             uint64_t len, unsigned prot, uint32_t file, uint64_t pgoff)
{
    os_push(o, (struct vmsim_event){.type = VMSIM_EV_MMAP,
                                    .kind = (uint8_t)prot,
                                    .cpu = cpu,
                                    .pid = pid,
                                    .addr = addr,
                                    .len = len,
                                    .file = file,
                                    .pgoff = (uint32_t)pgoff});
}

/* Switch cpu to pid unless it already runs it. */
void os_switch(struct os_state *o, uint16_t cpu, vmsim_pid_t pid)
{
    if (o->oncpu[cpu] == pid)
        return;
    os_push(o, (struct vmsim_event){.type = VMSIM_EV_SWITCH, .cpu = cpu, .pid = pid});
    o->oncpu[cpu] = pid;
}

void os_exit(struct os_state *o, uint16_t cpu, vmsim_pid_t pid)
{
    os_push(o, (struct vmsim_event){.type = VMSIM_EV_EXIT, .cpu = cpu, .pid = pid});
    for (unsigned c = 0; c < VMSIM_MAX_CPUS; c++)
        if (o->oncpu[c] == pid)
            o->oncpu[c] = 0;
}

/* The next fresh pid; the caller checked os_pid_left. */
vmsim_pid_t os_new_pid(struct os_state *o) { return (vmsim_pid_t)o->next_pid++; }

bool os_pid_left(const struct os_state *o) { return o->next_pid <= UINT32_MAX; }

/* End the step with a run of len >= 1 accesses by slot's process on cpu. */
void os_run(struct synth *s, size_t slot, uint16_t cpu, vmsim_pid_t pid, uint64_t len)
{
    struct os_state *o = &s->u.os;
    o->cur = slot;
    o->cpu = cpu;
    o->pid = pid;
    o->run_left = len < s->left ? len : s->left;
}

/* The next time slice's slot and cpu (round robin over both). */
size_t os_next_slice(struct synth *s, size_t slots, uint16_t *cpu)
{
    struct os_state *o = &s->u.os;
    *cpu = (uint16_t)(o->slices % s->a.cpus);
    return (size_t)(o->slices++ % slots);
}

int os_pages(struct spec *sp, const char *key, uint64_t v)
{
    return v % PAGE_SIZE ? spec_fail(sp, key, "%s a multiple of the 4096-byte page", key) : 0;
}

/* Allocate the event queue (the largest step) and nproc slots. */
int os_alloc(struct synth *s, size_t qcap, size_t nproc)
{
    struct os_state *o = &s->u.os;
    s->base.total = s->a.n; /* n counts the accesses of every kind */
    o->q = malloc(qcap * sizeof *o->q);
    o->proc = nproc ? calloc(nproc, sizeof *o->proc) : NULL;
    if (!o->q || (nproc && !o->proc))
        return VMSIM_ENOMEM;
    o->qcap = qcap;
    o->nproc = nproc;
    o->shift = log2_exact(s->a.access);
    o->write = chance_of(s->a.write);
    o->next_pid = 1;
    return 0;
}

void os_fini(struct synth *s)
{
    free(s->u.os.q);
    free(s->u.os.proc);
    free(s->u.os.lib_alias);
    free(s->u.os.vm);
}

long os_stream(struct synth *s, struct vmsim_event *buf, size_t max,
               void (*step)(struct synth *s))
{
    struct os_state *o = &s->u.os;
    size_t out = 0;
    while (out < max) {
        if (o->qlen) {
            size_t k = o->qlen < max - out ? o->qlen : max - out;
            memcpy(buf + out, o->q + o->qhead, k * sizeof *buf);
            o->qhead += k;
            o->qlen -= k;
            out += k;
            continue;
        }
        if (o->run_left) {
            size_t k = max - out;
            if (k > o->run_left)
                k = (size_t)o->run_left;
            s->gen->fill(s, buf + out, k);
            o->run_left -= k;
            s->left -= k;
            out += k;
            continue;
        }
        if (!s->left)
            break;
        o->qhead = 0;
        step(s);
        if (!o->run_left) /* every step ends with a run; never end in a loop */
            s->left = 0;
    }
    return (long)out;
}
