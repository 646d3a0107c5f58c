/* sharedlibs: many processes mapping the same libraries, one of the OS
 * workloads: synth_os.c has the rules they share and docs/workloads.md
 * this one's exact stream. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/synth.h"

/* Each process maps libraries 1..libs (text r-x from file offset 0, rodata
 * r-- after it in the file) at its own random base, plus a heap and a
 * stack, on its first time slice. Accesses: fetches from library text,
 * reads of library rodata, and heap and stack accesses; the library of a
 * fetch or rodata read is drawn with Zipf(theta) popularity, library 1 the
 * most popular (libc). */
/* Walker's alias method in Vose's form (M. D. Vose, "A linear algorithm
 * for generating random numbers with a given distribution", IEEE TSE
 * 17(9), 1991) for P(i) = (i+1)^-theta / H(n, theta): n columns of equal
 * weight 1/n, column i keeping a P(i)*n share for i and giving the rest to
 * one other index. Columns that keep everything point to themselves, so
 * no rounding of keep can move their draws. */
static int alias_init(struct alias *t, uint64_t n, double theta)
{
    double *p = malloc(n * sizeof *p);
    uint64_t *small = malloc(n * sizeof *small), *large = malloc(n * sizeof *large);
    if (!p || !small || !large) {
        free(p);
        free(small);
        free(large);
        return VMSIM_ENOMEM;
    }
    double total = 0;
    for (uint64_t i = 0; i < n; i++)
        total += p[i] = pow((double)(i + 1), -theta);
    size_t ns = 0, nl = 0;
    for (uint64_t i = 0; i < n; i++) {
        p[i] = p[i] * (double)n / total;
        if (p[i] < 1.0)
            small[ns++] = i;
        else
            large[nl++] = i;
    }
    while (ns && nl) {
        uint64_t lo = small[--ns], hi = large[--nl];
        t[lo].keep = (uint64_t)ldexp(p[lo], 64); /* p < 1 */
        t[lo].other = hi;
        p[hi] -= 1.0 - p[lo];
        if (p[hi] < 1.0)
            small[ns++] = hi;
        else
            large[nl++] = hi;
    }
    /* what is left has weight 1 up to rounding */
    while (nl) {
        uint64_t i = large[--nl];
        t[i].keep = UINT64_MAX;
        t[i].other = i;
    }
    while (ns) {
        uint64_t i = small[--ns];
        t[i].keep = UINT64_MAX;
        t[i].other = i;
    }
    free(p);
    free(small);
    free(large);
    return 0;
}

static int sharedlibs_init(struct synth *s, struct spec *sp)
{
    const struct synth_args *a = &sp->a;
    int rc;
    if ((rc = os_pages(sp, "text", a->text)) || (rc = os_pages(sp, "rodata", a->rodata)) ||
        (rc = os_pages(sp, "heap", a->heap)) || (rc = os_pages(sp, "stack", a->stack)))
        return rc;
    if (a->lib_align & (a->lib_align - 1))
        return spec_fail(sp, "align", "a power of two from 4k to 1g");
    /* the farthest each can reach: its base, the whole ASLR range, its size */
    const struct layout *l = &s->lay;
    const uint64_t aslr = l->aslr_mmap * PAGE_SIZE;
    if (a->libs > UINT64_MAX / (a->text + a->rodata))
        return spec_fail(sp, "libs", "libs x (text + rodata) below 2^64");
    if ((rc = space_check(sp, l, "libs", l->lib, aslr + a->libs * (a->text + a->rodata))) ||
        (rc = space_check(sp, l, "heap", l->heap, aslr + a->heap)))
        return rc;
    if (a->stack + l->aslr_stack * PAGE_SIZE > l->stack_top)
        return spec_fail(sp, "stack", "stack: at most %llu below the %u-bit layout's stack top",
                         (unsigned long long)(l->stack_top - l->aslr_stack * PAGE_SIZE),
                         l->va_bits);
    /* largest step: spawn, switch, two mmaps per library, heap and stack */
    if ((rc = os_alloc(s, 2 * a->libs + 8, a->procs)))
        return rc;
    struct os_state *o = &s->u.os;
    o->fetch = chance_of(a->fetch);
    o->share = chance_of(a->rodata_share);
    o->lib_alias = malloc(a->libs * sizeof *o->lib_alias);
    if (!o->lib_alias || alias_init(o->lib_alias, a->libs, a->theta) != 0)
        return VMSIM_ENOMEM;
    for (size_t j = 0; j < o->nproc; j++)
        o->proc[j].pid = os_new_pid(o);
    return 0;
}

static void sharedlibs_step(struct synth *s)
{
    struct os_state *o = &s->u.os;
    const struct synth_args *a = &s->a;
    uint16_t cpu;
    size_t j = os_next_slice(s, o->nproc, &cpu);
    struct os_proc *p = &o->proc[j];
    if (!p->live) {
        os_push(o, (struct vmsim_event){.type = VMSIM_EV_SPAWN, .cpu = cpu, .pid = p->pid});
        os_switch(o, cpu, p->pid);
        /* ASLR in steps of align (4k: every page, as Linux; 2m: leaf tables may
         * be shared, docs/kernel.md); the draw is the same for 4k */
        const uint64_t steps = s->lay.aslr_mmap / (a->lib_align / PAGE_SIZE);
        p->lib = s->lay.lib + rng_below(&s->rng, steps ? steps : 1) * a->lib_align;
        p->heap = s->lay.heap + rng_below(&s->rng, s->lay.aslr_mmap) * PAGE_SIZE;
        p->stack = s->lay.stack_top - rng_below(&s->rng, s->lay.aslr_stack) * PAGE_SIZE - a->stack;
        const uint64_t stride = a->text + a->rodata;
        for (uint64_t i = 0; i < a->libs; i++) {
            vmsim_vaddr_t at = p->lib + i * stride;
            os_mmap(o, cpu, p->pid, at, a->text, OS_RX, (uint32_t)(i + 1), 0);
            os_mmap(o, cpu, p->pid, at + a->text, a->rodata, VMSIM_PROT_R, (uint32_t)(i + 1),
                    a->text / PAGE_SIZE);
        }
        os_mmap(o, cpu, p->pid, p->heap, a->heap, OS_RW, 0, 0);
        os_mmap(o, cpu, p->pid, p->stack, a->stack, OS_RW, 0, 0);
        p->live = true;
    } else {
        os_switch(o, cpu, p->pid);
    }
    os_run(s, j, cpu, p->pid, a->slice);
}

/* A library index, 0 = the most popular: a uniform column, then a coin
 * between it and its alias (two draws, no loop, no search). */
static inline uint64_t sharedlibs_pick(const struct alias *t, uint64_t libs, struct rng *r)
{
    uint64_t i = rng_below(r, libs);
    return rng_next(r) < t[i].keep ? i : t[i].other;
}

static void sharedlibs_fill(struct synth *s, struct vmsim_event *buf, size_t k)
{
    struct os_state *o = &s->u.os;
    const struct os_proc *p = &o->proc[o->cur];
    const struct vmsim_event t = os_access(s);
    const uint64_t text = s->a.text, rodata = s->a.rodata, libs = s->a.libs;
    const uint64_t stride = text + rodata, heap = s->a.heap, stack = s->a.stack;
    const struct alias *pop = o->lib_alias;
    const unsigned shift = o->shift;
    const struct chance fetch = o->fetch, share = o->share, write = o->write;
    struct rng r = s->rng, w = s->wrng;
    for (size_t i = 0; i < k; i++) {
        buf[i] = t;
        if (chance_draw(&r, fetch)) {
            buf[i].kind = VMSIM_FETCH;
            buf[i].len = FETCH_BYTES;
            buf[i].addr = p->lib + sharedlibs_pick(pop, libs, &r) * stride + os_below(&r, text, 2);
        } else if (chance_draw(&r, share)) {
            buf[i].addr = p->lib + sharedlibs_pick(pop, libs, &r) * stride + text +
                          os_below(&r, rodata, shift);
        } else {
            if (rng_next(&r) >> 63) /* heap or stack, evenly */
                buf[i].addr = p->heap + os_below(&r, heap, shift);
            else
                buf[i].addr = p->stack + os_below(&r, stack, shift);
            if (chance_draw(&w, write))
                buf[i].kind = VMSIM_WRITE;
        }
    }
    s->rng = r;
    s->wrng = w;
}

static long sharedlibs_stream(struct synth *s, struct vmsim_event *buf, size_t max)
{
    return os_stream(s, buf, max, sharedlibs_step);
}

static const struct param sharedlibs_params[] = {
    P_OS_N,
    P_INT("procs", procs, "16", 1, 4096, "a number of processes from 1 to 4096"),
    P_INT("libs", libs, "32", 1, 1024, "a number of libraries from 1 to 1024"),
    P_OS_CPUS,
    P_OS_SLICE,
    P_SIZEM("text", text, "512k", PAGE_SIZE, GIB, "bytes of text per library, 4k to 1g"),
    P_SIZEM("rodata", rodata, "128k", PAGE_SIZE, GIB, "bytes of rodata per library, 4k to 1g"),
    P_SIZEM("align", lib_align, "4k", PAGE_SIZE, GIB, "a power of two from 4k to 1g"),
    P_SIZEM("heap", heap, "16m", PAGE_SIZE, TIB, "bytes of heap per process, 4k to 1t"),
    P_SIZEM("stack", stack, "256k", PAGE_SIZE, GIB, "bytes of stack per process, 4k to 1g"),
    P_REAL("theta", theta, "1", 0.0, ZIPF_MAX_THETA, "a skew from 0 (uniform) to 10"),
    P_FRACTION("fetch", fetch, "0.5"),
    P_FRACTION("ro_share", rodata_share, "0.1"),
    P_FRACTION("write", write, "0.3"),
    P_END,
};

const struct generator gen_sharedlibs = {C_ACCESS | C_SEED | C_VA, sharedlibs_params,
                                                sharedlibs_init, sharedlibs_fill,
                                                sharedlibs_stream, os_fini};
