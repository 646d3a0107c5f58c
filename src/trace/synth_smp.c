/* smp: CPUs that run at the same time, one of the OS workloads: synth_os.c
 * has the rules they share and docs/workloads.md this one's exact stream.
 * It is the input of the parallel mode (issue 16): every cpu runs one
 * thread of work from the first slice to the end, so the accesses of
 * different cpus are concurrent work, and the OS events (the setup) all
 * come before them.
 *
 * Process 1 maps one private region per cpu and, with shared > 0, one
 * region every cpu reaches (MAP_SHARED when there are several processes,
 * so that forked children really share it); with touch=1 it writes every
 * page of them once; it forks procs - 1 children, and cpu c runs process
 * (c mod procs) + 1. Then the cpus take turns in round-robin slices: each
 * access goes to the shared region with probability share, else to the
 * cpu's own region.
 *
 * Invariant: region c starts at heap + c * step, step = size rounded up
 * to a whole slot of the layout (1 GiB in 48 bits; at least a page), and
 * the shared region at heap + cpus * step. Slots are aligned, so two cpus'
 * regions never share a leaf page table (2 MiB of x86-64, 4 MiB of
 * x86-32), and in 48 bits not even a directory. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "trace/synth.h"

#define SMP_FIRST 1u /* process 1, which sets up and forks the others */

static vmsim_vaddr_t smp_region(const struct synth *s, uint64_t cpu)
{
    return s->lay.heap + cpu * s->u.os.step;
}

static int smp_init(struct synth *s, struct spec *sp)
{
    const struct synth_args *a = &sp->a;
    int rc;
    if ((rc = os_pages(sp, "size", a->size)) || (rc = os_pages(sp, "shared", a->shared)))
        return rc;
    if (a->procs > a->cpus)
        return spec_fail(sp, spec_blame(sp, "procs", "cpus"), "procs <= cpus (%llu)",
                         (unsigned long long)a->cpus);
    if (a->share > 0 && a->shared == 0)
        return spec_fail(sp, spec_blame(sp, "share", "shared"),
                         "share 0 without a shared region (shared=0), or shared > 0");
    /* Everything in the user half [0, top), as every OS workload: sizes
     * are at most 1 TiB and cpus 64, so nothing here overflows. */
    const uint64_t slot = UINT64_C(1) << s->lay.slot_shift;
    const uint64_t align = slot > PAGE_SIZE ? slot : PAGE_SIZE;
    const uint64_t step = (a->size + align - 1) / align * align;
    const uint64_t top = s->lay.stack_top + PAGE_SIZE, heap = s->lay.heap;
    const uint64_t priv = a->cpus * step;
    if (priv > top - heap || a->shared > top - heap - priv) {
        const char *key = priv <= top - heap && spec_given(sp, "shared")
                              ? "shared"
                              : spec_blame(sp, "size", "cpus");
        return spec_fail(sp, key,
                         "cpus x size (each rounded up to %#llx) + shared, from %#llx, below "
                         "%#llx (the %u-bit user half)",
                         (unsigned long long)align, (unsigned long long)heap,
                         (unsigned long long)top, s->lay.va_bits);
    }
    /* largest step: spawn, switch, cpus + 1 mmaps, procs - 1 forks, cpus -
     * 1 switches (without touch all of them come in the first step) */
    if ((rc = os_alloc(s, 3 * a->cpus + 8, 0)))
        return rc;
    struct os_state *o = &s->u.os;
    o->step = step;
    o->share = chance_of(a->share);
    o->next_pid = a->procs + 1;
    return 0;
}

static void smp_step(struct synth *s)
{
    struct os_state *o = &s->u.os;
    const struct synth_args *a = &s->a;
    if (o->phase == 0) { /* process 1 on cpu 0 maps every region */
        os_push(o, (struct vmsim_event){.type = VMSIM_EV_SPAWN, .pid = SMP_FIRST});
        os_switch(o, 0, SMP_FIRST);
        for (uint64_t c = 0; c < a->cpus; c++)
            os_mmap(o, 0, SMP_FIRST, smp_region(s, c), a->size, OS_RW, 0, 0);
        if (a->shared)
            os_mmap(o, 0, SMP_FIRST, smp_region(s, a->cpus), a->shared,
                    OS_RW | (a->procs > 1 ? VMSIM_MAP_SHARED : 0), 0, 0);
        o->phase = 1;
        if (a->touch) {
            o->init_run = true;
            os_run(s, 0, 0, SMP_FIRST, a->cpus * (a->size / PAGE_SIZE) + a->shared / PAGE_SIZE);
            return;
        }
    }
    if (o->phase == 1) { /* still on cpu 0: fork, then put each cpu on its process */
        o->init_run = false;
        for (uint64_t pid = SMP_FIRST + 1; pid <= a->procs; pid++)
            os_push(o, (struct vmsim_event){
                           .type = VMSIM_EV_FORK, .cpu = 0, .pid = SMP_FIRST, .addr = pid});
        for (uint64_t c = 0; c < a->cpus; c++)
            os_switch(o, (uint16_t)c, (vmsim_pid_t)(c % a->procs + 1));
        o->phase = 2;
    }
    uint16_t cpu;
    size_t slot = os_next_slice(s, a->cpus, &cpu);
    os_run(s, slot, cpu, (vmsim_pid_t)(cpu % a->procs + 1), a->slice);
}

static void smp_fill(struct synth *s, struct vmsim_event *buf, size_t k)
{
    struct os_state *o = &s->u.os;
    const struct vmsim_event t = os_access(s);
    const uint64_t cpus = s->a.cpus, size = s->a.size, shared = s->a.shared;
    const vmsim_vaddr_t common = smp_region(s, cpus);
    if (o->init_run) { /* one write at the start of each page, region by region */
        const uint64_t per = size / PAGE_SIZE;
        for (size_t i = 0; i < k; i++) {
            const uint64_t j = o->init_page++, c = j / per;
            buf[i] = t;
            buf[i].kind = VMSIM_WRITE;
            buf[i].addr = c < cpus ? smp_region(s, c) + j % per * PAGE_SIZE
                                   : common + (j - cpus * per) * PAGE_SIZE;
        }
        return;
    }
    const vmsim_vaddr_t own = smp_region(s, o->cpu);
    const unsigned shift = o->shift;
    const struct chance share = o->share, write = o->write;
    struct rng r = s->rng, w = s->wrng;
    for (size_t i = 0; i < k; i++) {
        buf[i] = t;
        if (chance_draw(&r, share))
            buf[i].addr = common + os_below(&r, shared, shift);
        else
            buf[i].addr = own + os_below(&r, size, shift);
        if (chance_draw(&w, write))
            buf[i].kind = VMSIM_WRITE;
    }
    s->rng = r;
    s->wrng = w;
}

static long smp_stream(struct synth *s, struct vmsim_event *buf, size_t max)
{
    return os_stream(s, buf, max, smp_step);
}

static const struct param smp_params[] = {
    P_OS_CPUS,
    P_INT("procs", procs, "1", 1, VMSIM_MAX_CPUS,
          "a number of processes from 1 to cpus (cpu c runs process c mod procs + 1)"),
    P_SIZEM("size", size, "64m", PAGE_SIZE, TIB, "bytes of each cpu's region, 4k to 1t"),
    P_SIZEM("shared", shared, "0", 0, TIB, "bytes of the shared region, 0 (none) to 1t"),
    P_FRACTION("share", share, "0"),
    P_INT("touch", touch, "0", 0, 1, "0 or 1 (process 1 writes every page before the forks)"),
    P_INT("slice", slice, "256", 1, UINT64_MAX, "accesses per time slice, >= 1"),
    P_END,
};

const struct generator gen_smp = {C_N | C_ACCESS | C_WRITE | C_SEED | C_VA, smp_params, smp_init,
                                  smp_fill, smp_stream, os_fini};
