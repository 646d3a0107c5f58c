/* Synthetic workloads: seeded generators of access streams behind the
 * source interface, chosen by a spec "NAME[:k=v,...]" (docs/workloads.md).
 * Most model one process's accesses; the OS workloads (forkserver,
 * sharedlibs, bigws, cloud, vms, smp, churn) also emit the process, mapping, fork
 * and context-switch events of several processes on several cpus, and vms
 * the VM events of a nested machine.
 *
 * One table (SYNTH_GENERATORS) lists the generators; each entry is a name,
 * a line of help, its own parameters with defaults, and init/fill
 * functions. Parameters every generator shares (n, pid, base, access,
 * write, seed, and the instruction-fetch stream code, code_base,
 * fetch_every) live in one table; a generator says which of them it takes.
 * This file holds the table, the spec parser, the shared parameters and
 * helpers and the source wrapper; each workload family is a file of its
 * own (synth_*.c, listed in synth.h) that defines its gen_NAME.
 *
 * Invariants:
 *  1. A stream is a pure function of the spec: every random choice comes
 *     from the source's own seeded generators, never from global state.
 *  2. fill() produces exactly the k accesses it is asked for; the wrapper
 *     (synth_next) owns the count n, the instruction fetches and the
 *     read/write choice, so batch boundaries never change the stream. A
 *     generator with its own stream() (default, the OS workloads) owns them
 *     itself; the OS workloads take their steps at points the stream fixes
 *     (queue drained, run over), never where a batch ends.
 *  3. Write choices use a second random stream, so adding write= to a spec
 *     changes the kinds of accesses but never their addresses.
 *  4. Memory is O(1) per source except the tables a pattern needs: the
 *     chase cycle (4 bytes per node), the sparse region starts, and for an
 *     OS workload its process slots (and VMs) and the events of its largest
 *     step.
 *  5. The spec parser never trusts its input: every error is VMSIM_EPARSE
 *     with where = "workload", what was expected, and the text at fault.
 *
 * Simplifications: the one-process generators run on cpu 0; instruction
 * fetches are FETCH_BYTES long (a fixed-width ISA) and sweep the code
 * region in order (uniform over it in the OS workloads). */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/formats.h"
#include "trace/synth.h"
#include "util/kv.h"

static void layout_init(struct layout *l, unsigned va_bits)
{
    const unsigned w = va_bits < VA_BITS_FULL ? va_bits : VA_BITS_FULL;
    const uint64_t top = UINT64_C(1) << (w - 1);
    l->va_bits = va_bits;
    l->limit_m1 = va_bits >= 64 ? UINT64_MAX : (UINT64_C(1) << va_bits) - 1;
    l->heap = top / 128;
    l->lib = top - top / 8;
    l->area = top - top / 128;
    l->stack_top = top - 4096;
    l->aslr_mmap = (top / 128) >> 12;
    l->aslr_stack = top / 8192 >> 12 ? top / 8192 >> 12 : 1;
    l->slot_shift = w - 1 - 8 < 30 ? w - 1 - 8 : 30;
    l->slot_count = top >> l->slot_shift;
}

static const struct param common_params[] = {
    {"n", PK_INT, ARG(n), "1000000", 1, UINT64_MAX, 0, 0, C_N, "a number of accesses >= 1",
     NULL},
    {"pid", PK_INT, ARG(pid), "1", 1, UINT32_MAX, 0, 0, C_PID,
     "a process id from 1 to 4294967295", NULL},
    {"base", PK_SIZE, ARG(base), NULL, 0, UINT64_MAX, 0, 0, C_BASE,
     "an address (0x10000000000, 1t; default: the layout's heap, 1t in 48 bits)", NULL},
    {"access", PK_SIZE, ARG(access), "8", 1, PAGE_SIZE, 0, 0, C_ACCESS,
     "bytes per access, a power of two from 1 to 4096", NULL},
    {"write", PK_REAL, ARG(write), "0", 0, 0, 0.0, 1.0, C_WRITE, "a fraction from 0 to 1", NULL},
    {"seed", PK_INT, ARG(seed), "1", 0, UINT64_MAX, 0, 0, C_SEED, "an unsigned 64-bit integer",
     NULL},
    {"code", PK_SIZE, ARG(code), "0", 0, UINT64_MAX, 0, 0, C_CODE,
     "bytes of code, a multiple of 4 (0: no fetches)", NULL},
    {"code_base", PK_SIZE, ARG(code_base), "0x400000", 0, UINT64_MAX, 0, 0, C_CODE,
     "an address (0x400000)", NULL},
    {"fetch_every", PK_INT, ARG(fetch_every), "4", 1, UINT32_MAX, 0, 0, C_CODE,
     "data accesses per instruction fetch, >= 1", NULL},
    {"va_bits", PK_INT, ARG(va_bits), NULL, VA_BITS_MIN, 64, 0, 0, C_VA,
     "a virtual-address width from 20 to 64 bits (default: the machine's geometry, else 48)",
     NULL},
    P_END,
};

/* ---- spec errors ---------------------------------------------------------------- */

static size_t spec_index(const struct spec *sp, const char *key)
{
    for (size_t i = 0; i < sp->np; i++)
        if (strcmp(sp->p[i]->key, key) == 0)
            return i;
    return sp->np;
}

bool spec_given(const struct spec *sp, const char *key)
{
    size_t i = spec_index(sp, key);
    return i < sp->np && sp->given[i];
}

/* Of two parameters in a failed constraint, the one to blame: the first
 * the user wrote, else the first. */
const char *spec_blame(const struct spec *sp, const char *k1, const char *k2)
{
    return spec_given(sp, k1) || !spec_given(sp, k2) ? k1 : k2;
}

/* Fail with found = the "key=value" text as written, or "key=default
 * (default)" when the user left it out. */
int spec_fail(struct spec *sp, const char *key, const char *fmt, ...)
{
    char expected[sizeof sp->err->expected];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(expected, sizeof expected, fmt, ap);
    va_end(ap);
    size_t i = spec_index(sp, key);
    if (i < sp->np && sp->given[i])
        return source_fail(sp->err, expected, sp->given[i], sp->given_len[i], "workload");
    char found[96];
    const char *def = i < sp->np && sp->p[i]->def ? sp->p[i]->def : "derived";
    snprintf(found, sizeof found, "%s=%s (default)", key, def);
    return source_fail(sp->err, expected, found, strlen(found), "workload");
}

/* ---- values ----------------------------------------------------------------------- */

/* Decimal, or hexadecimal after 0x: the trace readers' rule. */
static int parse_int(const char *s, uint64_t *out)
{
    return trace_parse_num(s, strlen(s), out) == TRACE_NUM_OK ? 0 : -1;
}

/* Parse text (NUL-terminated) as the value of pr into *a; -1 if malformed
 * or out of the parameter's range. */
static int param_set(const struct param *pr, const char *text, struct synth_args *a)
{
    char *field = (char *)a + pr->off;
    if (pr->kind == PK_REAL) {
        /* strtod would skip leading blanks and take "inf"; isfinite and the
         * first-character test keep only plain numbers. */
        if (!((text[0] >= '0' && text[0] <= '9') || text[0] == '.'))
            return -1;
        char *end;
        double v = strtod(text, &end);
        if (*end || !isfinite(v) || v < pr->lo || v > pr->hi)
            return -1;
        memcpy(field, &v, sizeof v);
        return 0;
    }
    uint64_t v;
    if (pr->kind == PK_WORD) {
        for (v = 0; pr->choices[v] && strcmp(pr->choices[v], text) != 0; v++)
            ;
        if (!pr->choices[v])
            return -1;
        memcpy(field, &v, sizeof v);
        return 0;
    }
    if (pr->kind == PK_INT ? parse_int(text, &v) != 0 : vmsim_parse_size(text, &v) != VMSIM_OK)
        return -1;
    if (v < pr->min || v > pr->max)
        return -1;
    memcpy(field, &v, sizeof v);
    return 0;
}

/* ---- the keyed bijection (struct perm) ---------------------------------------- */

static uint64_t odd_inverse(uint64_t a)
{
    uint64_t x = a; /* correct to 3 bits for odd a; each Newton step doubles that */
    for (int i = 0; i < 5; i++)
        x *= 2 - a * x;
    return x;
}

void perm_init(struct perm *p, uint64_t n, struct rng *r)
{
    unsigned m = 1;
    while (m < 64 && (UINT64_C(1) << m) < n)
        m++;
    p->n = n;
    p->mask = m == 64 ? UINT64_MAX : (UINT64_C(1) << m) - 1;
    p->shift = (m + 1) / 2; /* 2*shift >= m: each xorshift is its own inverse */
    p->add = rng_next(r);
    p->mul1 = rng_next(r) | 1;
    p->mul2 = rng_next(r) | 1;
    p->inv1 = odd_inverse(p->mul1);
    p->inv2 = odd_inverse(p->mul2);
}

/* ---- shared checks ---------------------------------------------------------------- */

/* [start, start+len) (what `key` places) must lie inside the space. */
int space_check(struct spec *sp, const struct layout *l, const char *key, uint64_t start,
                uint64_t len)
{
    if (len == 0 || inside(l, start, len))
        return 0;
    return spec_fail(sp, key, "%s: [%#llx, +%#llx) inside the %u-bit virtual address space "
                     "(va_bits)", key, (unsigned long long)start, (unsigned long long)len,
                     l->va_bits);
}

/* [base, base+size) must lie inside the space (so never wrap). */
int region_check(struct spec *sp, const struct layout *l, uint64_t base, uint64_t size)
{
    if (!inside(l, base, size))
        return spec_fail(sp, spec_blame(sp, "size", "base"),
                         "base + size within the %u-bit virtual address space (va_bits; base "
                         "%#llx)", l->va_bits, (unsigned long long)base);
    return 0;
}

int slots_check(struct spec *sp, const struct layout *l, uint64_t rsize, uint64_t regions)
{
    if (rsize > (UINT64_C(1) << l->slot_shift))
        return spec_fail(sp, "rsize", "rsize at most %llu (one region per slot of the %u-bit "
                         "layout)", (unsigned long long)1 << l->slot_shift, l->va_bits);
    if (regions > l->slot_count - 1)
        return spec_fail(sp, "regions", "regions at most %llu (the slots of the %u-bit layout "
                         "but the first)", (unsigned long long)l->slot_count - 1, l->va_bits);
    return 0;
}

unsigned log2_exact(uint64_t pow2)
{
    unsigned s = 0;
    while ((UINT64_C(1) << s) < pow2)
        s++;
    return s;
}

#define SYNTH_GENERATORS(X)                                                                     \
    X(seq, "sequential sweep over size bytes (64m) with stride (8), wrapping")                  \
    X(stride, "like seq with stride 4096: one access per page")                                 \
    X(random, "uniform random aligned accesses over size bytes (1g)")                           \
    X(zipf, "pages of size bytes (1g) drawn with Zipf(theta=0.99) popularity, scattered")       \
    X(chase, "pointer chase along one random cycle through nodes of node bytes (64)")           \
    X(sparse, "uniform accesses over regions (64) of rsize bytes (2m) scattered in 47 bits")    \
    X(gc, "mark-sweep garbage collection cycles over a heap of size bytes (256m)")              \
    X(default, "the built-in demo: 3 processes, 30M events of mixed phases and fetches")        \
    X(forkserver, "pre-fork server: a master forks workers (8) sharing its heap copy-on-write") \
    X(sharedlibs, "processes (16) mapping the same libraries (32) at ASLR addresses")           \
    X(bigws, "hot/cold accesses over size bytes (1g): a working set for --mem below it")     \
    X(cloud, "tenants (64) with sparse regions, churn and round-robin slices on cpus (4)")      \
    X(vms, "VMs (3) for --nested, each running a collector, a database or a fork service")      \
    X(smp, "cpus (4) running at once, each in its own region (64m), with a shared one (0)")   \
    X(churn, "one process maps and unmaps regions of 4k to 4m, at most size (48m) at once")

#define SYNTH_DECL(g, h) extern const struct generator gen_##g; /* in its synth_*.c */
SYNTH_GENERATORS(SYNTH_DECL)

#define SYNTH_NAME(g, h) #g,
#define SYNTH_HELP(g, h) h,
#define SYNTH_GEN(g, h) &gen_##g,
const char *const vmsim_workload_names[] = {SYNTH_GENERATORS(SYNTH_NAME) NULL};
const char *const vmsim_workload_help[] = {SYNTH_GENERATORS(SYNTH_HELP) NULL};
static const struct generator *const generators[] = {SYNTH_GENERATORS(SYNTH_GEN)};
#define NGENERATORS (sizeof generators / sizeof generators[0])

/* ---- the source wrapper ------------------------------------------------------- */

/* Turn reads into writes with probability `write` (invariant 3). */
static void choose_kinds(struct synth *s, struct vmsim_event *buf, size_t k)
{
    if (s->all_writes) {
        for (size_t i = 0; i < k; i++)
            buf[i].kind = VMSIM_WRITE;
    } else if (s->write_below) {
        struct rng r = s->wrng;
        for (size_t i = 0; i < k; i++)
            buf[i].kind = rng_next(&r) < s->write_below ? VMSIM_WRITE : VMSIM_READ;
        s->wrng = r;
    }
}

static long synth_next(struct vmsim_source *src, struct vmsim_event *buf, size_t max)
{
    struct synth *s = (struct synth *)src;
    if (max > LONG_MAX)
        max = LONG_MAX;
    if (s->gen->stream)
        return s->gen->stream(s, buf, max);
    size_t out = 0;
    while (out < max && s->left) {
        size_t k = max - out;
        if (s->a.code) {
            /* The stream is: fetch, fetch_every data accesses, fetch, ... */
            if (s->fetch_left == 0) {
                buf[out] = s->tmpl;
                buf[out].kind = VMSIM_FETCH;
                buf[out].addr = s->pc;
                buf[out].len = FETCH_BYTES;
                s->pc += FETCH_BYTES;
                if (s->pc == s->code_end)
                    s->pc = s->a.code_base;
                s->fetch_left = s->a.fetch_every;
                out++;
                continue;
            }
            if (k > s->fetch_left)
                k = (size_t)s->fetch_left;
        }
        if (k > s->left)
            k = (size_t)s->left;
        s->gen->fill(s, buf + out, k);
        choose_kinds(s, buf + out, k);
        out += k;
        s->left -= k;
        if (s->a.code)
            s->fetch_left -= k;
    }
    return (long)out;
}

static void synth_close(struct vmsim_source *src)
{
    struct synth *s = (struct synth *)src;
    if (s->gen->fini)
        s->gen->fini(s);
    free(s);
}

static const struct source_ops synth_ops = {"workload", synth_next, synth_close, NULL};

/* Access events of a generator that fills (no stream() of its own): n data
 * accesses and, with code, a fetch before every fetch_every of them, so
 * n + ceil(n / fetch_every) (docs/workloads.md); UINT64_MAX if more. */
static uint64_t synth_total(const struct synth_args *a)
{
    uint64_t fetches = a->code ? (a->n - 1) / a->fetch_every + 1 : 0; /* n >= 1 */
    return a->n > UINT64_MAX - fetches ? UINT64_MAX : a->n + fetches;
}

/* ---- the spec parser ---------------------------------------------------------- */

static int spec_fail_name(struct spec *sp, const char *spec, size_t len)
{
    char expected[sizeof sp->err->expected];
    size_t j = (size_t)snprintf(expected, sizeof expected, "a workload name:");
    for (size_t g = 0; g < NGENERATORS && j < sizeof expected; g++)
        j += (size_t)snprintf(expected + j, sizeof expected - j, "%s %s", g ? "," : "",
                              vmsim_workload_names[g]);
    return source_fail(sp->err, expected, spec, len, "workload");
}

static int spec_fail_key(struct spec *sp, const char *item, size_t len)
{
    char expected[sizeof sp->err->expected];
    static const char more[] = ", ...";
    size_t j = (size_t)snprintf(expected, sizeof expected, "a parameter of %s:", sp->name);
    /* va_bits, last, is every workload's and rarely written: not listed */
    const size_t np = sp->np && sp->p[sp->np - 1]->flag == C_VA ? sp->np - 1 : sp->np;
    for (size_t i = 0; i < np; i++) {
        /* a long list ends with whole keys and ", ..." */
        size_t room = sizeof expected - j - (i + 1 < np ? sizeof more - 1 : 0);
        if (strlen(sp->p[i]->key) + 2 >= room) {
            snprintf(expected + j, sizeof expected - j, "%s", more);
            break;
        }
        j += (size_t)snprintf(expected + j, sizeof expected - j, "%s %s", i ? "," : "",
                              sp->p[i]->key);
    }
    return source_fail(sp->err, expected, item, len, "workload");
}

static int spec_fail_item(struct spec *sp, const char *item, size_t len)
{
    char expected[sizeof sp->err->expected];
    snprintf(expected, sizeof expected, "key=value after \"%s:\", e.g. n=1000", sp->name);
    return source_fail(sp->err, expected, item, len, "workload");
}

/* Parse "k=v,k=v" (the text after the colon) into sp->a. */
static int spec_parse_items(struct spec *sp, const char *p)
{
    /* every item must be k=v: "seq:" and "seq:n=1," fail on an empty one */
    for (const char *next; p; p = next) {
        struct kv kv;
        next = kv_next(p, &kv);
        if (!kv.val || kv.klen == 0)
            return spec_fail_item(sp, p, kv.len ? kv.len : strlen(p));
        size_t i = 0;
        while (i < sp->np && !kv_is(&kv, sp->p[i]->key))
            i++;
        if (i == sp->np)
            return spec_fail_key(sp, p, kv.len);
        if (sp->given[i])
            return source_fail(sp->err, "each parameter at most once", p, kv.len, "workload");
        sp->given[i] = p;
        sp->given_len[i] = kv.len;
        char value[VALUE_MAX + 1];
        if (!kv_value(&kv, value, sizeof value) || param_set(sp->p[i], value, &sp->a) != 0)
            return spec_fail(sp, sp->p[i]->key, "%s: %s", sp->p[i]->key, sp->p[i]->what);
    }
    return 0;
}

/* Checks on the shared parameters, whichever generator takes them. */
static int spec_check_common(struct spec *sp)
{
    const struct synth_args *a = &sp->a;
    unsigned c = sp->gen->common;
    if ((c & C_BASE) && a->base % PAGE_SIZE)
        return spec_fail(sp, "base", "base: a page-aligned (4096) address");
    if ((c & C_ACCESS) && (a->access & (a->access - 1)))
        return spec_fail(sp, "access", "access: a power of two from 1 to 4096");
    if (c & C_CODE) {
        if (a->code % FETCH_BYTES)
            return spec_fail(sp, "code", "code: a multiple of 4 bytes (0: no fetches)");
        if (a->code_base % PAGE_SIZE)
            return spec_fail(sp, "code_base", "code_base: a page-aligned (4096) address");
        struct layout l;
        layout_init(&l, (unsigned)a->va_bits);
        if (a->code && !inside(&l, a->code_base, a->code))
            return spec_fail(sp, spec_blame(sp, "code", "code_base"),
                             "code_base + code within the %u-bit virtual address space "
                             "(va_bits)", l.va_bits);
    }
    return 0;
}

int vmsim_source_open_workload(const char *spec, struct vmsim_source **out,
                               struct vmsim_source_error *err)
{
    return vmsim_source_open_workload_for(spec, VA_BITS_DEFAULT, out, err);
}

int vmsim_source_open_workload_for(const char *spec, unsigned va_bits,
                                   struct vmsim_source **out, struct vmsim_source_error *err)
{
    struct vmsim_source_error scratch;
    if (!err)
        err = &scratch;
    memset(err, 0, sizeof *err);
    if (!out)
        return VMSIM_EINVAL;
    *out = NULL;
    struct spec sp;
    memset(&sp, 0, sizeof sp);
    sp.err = err;
    if (!spec)
        return source_fail(err, "a workload spec NAME[:k=v,...]", NULL, 0, "workload");

    size_t nlen = strcspn(spec, ":");
    size_t g;
    for (g = 0; g < NGENERATORS; g++)
        if (strlen(vmsim_workload_names[g]) == nlen &&
            memcmp(vmsim_workload_names[g], spec, nlen) == 0)
            break;
    if (g == NGENERATORS)
        return spec_fail_name(&sp, spec, nlen ? nlen : strlen(spec));
    sp.gen = generators[g];
    sp.name = vmsim_workload_names[g];

    /* The parameters it takes, each set to its default (parsed like input,
     * so the defaults obey the same rules). */
    for (const struct param *pr = common_params; pr->key; pr++)
        if (sp.gen->common & pr->flag & ~C_VA)
            sp.p[sp.np++] = pr;
    for (const struct param *pr = sp.gen->params; pr->key; pr++)
        sp.p[sp.np++] = pr;
    for (const struct param *pr = common_params; pr->key; pr++)
        if (pr->flag == C_VA) /* last: every generator has it, the machine sets it */
            sp.p[sp.np++] = pr;
    for (size_t i = 0; i < sp.np; i++)
        if (sp.p[i]->def && param_set(sp.p[i], sp.p[i]->def, &sp.a) != 0)
            return spec_fail(&sp, sp.p[i]->key, "a valid default (internal error)");

    int rc = 0;
    if (spec[nlen] == ':')
        rc = spec_parse_items(&sp, spec + nlen + 1);
    if (rc)
        return rc;
    if (!spec_given(&sp, "va_bits")) { /* the machine's width */
        if (va_bits < VA_BITS_MIN || va_bits > 64) {
            char found[48];
            snprintf(found, sizeof found, "va_bits=%u (the machine's)", va_bits);
            return source_fail(err, "a virtual-address width from 20 to 64 bits", found,
                               strlen(found), "workload");
        }
        sp.a.va_bits = va_bits;
    }
    struct layout lay;
    layout_init(&lay, (unsigned)sp.a.va_bits);
    if (!spec_given(&sp, "base"))
        sp.a.base = lay.heap;
    if ((rc = spec_check_common(&sp)) != 0)
        return rc;

    struct synth *s = calloc(1, sizeof *s);
    if (!s)
        return VMSIM_ENOMEM;
    s->base.ops = &synth_ops;
    s->gen = sp.gen;
    s->a = sp.a;
    s->lay = lay;
    uint64_t x = sp.a.seed;
    rng_seed(&s->rng, rng_splitmix(&x));
    rng_seed(&s->wrng, rng_splitmix(&x));
    rc = sp.gen->init(s, &sp);
    if (rc) {
        if (sp.gen->fini)
            sp.gen->fini(s);
        free(s);
        return rc;
    }
    /* init may derive parameters (chase's nodes); keep its view. */
    s->a = sp.a;
    s->tmpl = (struct vmsim_event){.type = VMSIM_EV_ACCESS,
                                   .kind = VMSIM_READ,
                                   .cpu = 0,
                                   .pid = (vmsim_pid_t)sp.a.pid,
                                   .len = sp.a.access};
    s->left = sp.a.n;
    s->all_writes = sp.a.write >= 1.0;
    s->write_below = s->all_writes ? 0 : (uint64_t)ldexp(sp.a.write, 64);
    s->pc = sp.a.code_base;
    s->code_end = sp.a.code_base + sp.a.code;
    s->fetch_left = 0; /* a stream with code starts with a fetch */
    if (!sp.gen->stream) /* those with a stream() set it in init */
        s->base.total = synth_total(&sp.a);
    *out = &s->base;
    return VMSIM_OK;
}
