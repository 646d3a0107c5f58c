/* Synthetic workloads: seeded generators of access streams behind the
 * source interface, chosen by a spec "NAME[:k=v,...]" (docs/workloads.md).
 * Most model one process's accesses; the OS workloads (forkserver,
 * sharedlibs, bigws, cloud, vms) also emit the process, mapping, fork and
 * context-switch events of several processes on several cpus, and vms the
 * VM events of a nested machine.
 *
 * One table (SYNTH_GENERATORS) lists the generators; each entry is a name,
 * a line of help, its own parameters with defaults, and init/fill
 * functions. Parameters every generator shares (n, pid, base, access,
 * write, seed, and the instruction-fetch stream code, code_base,
 * fetch_every) live in one table; a generator says which of them it takes.
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

#include "trace/source.h"
#include "util/rng.h"
#include "vmsim/vmsim.h"

#define PAGE_SIZE 4096u
#define FETCH_BYTES 4u                 /* one fixed-width instruction per fetch */
#define VA_BITS_DEFAULT 48             /* x86-64 4-level, when no machine says */
#define VA_BITS_MIN 20                 /* room for the smallest layout: 2^12 of heap base */
#define VA_BITS_FULL 48                /* from here up the layout stays x86-64's */
#define CHASE_MAX_NODES (UINT64_C(1) << 26) /* 256 MiB of visiting order */
#define ZIPF_MAX_THETA 10.0
#define MAX_PARAMS 24
#define VALUE_MAX 64                   /* longest accepted value text */

/* ---- the address-space layout ---------------------------------------------- */

/* Where the workloads put things in a va_bits-wide virtual address space
 * (docs/workloads.md, "Address-space width"). The user half [0, top), top
 * = 2^(va_bits - 1), is laid out as Linux lays out x86-64's 48-bit one,
 * scaled: with 48 bits (or more: a wider space keeps the 48-bit layout)
 * every value is the x86-64 one, so 48-bit streams are what they always
 * were; below, each shrinks with the space (sv39: top 256 GiB, heaps at 2
 * GiB; x86-32: top 2 GiB, heaps at 16 MiB). */
struct layout {
    unsigned va_bits;
    uint64_t limit_m1;    /* the last address of the space, 2^va_bits - 1 */
    uint64_t heap;        /* top / 128: heaps, bigws's region, the default base (1 TiB) */
    uint64_t lib;         /* top - top / 8: the lowest library base (0x700000000000) */
    uint64_t area;        /* top - top / 128: per-request areas (0x7f0000000000) */
    uint64_t stack_top;   /* top - 4 KiB: the stack's top before ASLR (0x7ffffffff000) */
    uint64_t aslr_mmap;   /* pages of library and heap ASLR: top / 128 of bytes (2^28) */
    uint64_t aslr_stack;  /* pages of stack ASLR: top / 8192 of bytes (2^22, 16 GiB) */
    unsigned slot_shift;  /* sparse and cloud regions sit in slots of 2^slot_shift */
    uint64_t slot_count;  /* slots in the user half: 1 GiB x 2^17 in 48 bits, else 256 */
};

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

/* ---- parameters ------------------------------------------------------------ */

/* Every parameter of every generator; a generator reads the ones it takes. */
struct synth_args {
    uint64_t n, pid, base, access, seed, code, code_base, fetch_every, va_bits;
    double write;
    uint64_t size, stride, nodes, node, regions, rsize, obj;
    double theta, live;
    /* the OS workloads (forkserver, sharedlibs, bigws, cloud, vms) */
    uint64_t cpus, slice, workers, requests, recycle, procs, libs, tenants, thp;
    uint64_t text, rodata, heap, stack, area, hotsize;
    double fetch, area_share, rodata_share, hot, churn;
    /* vms: the services' own (its fork service also takes workers,
     * requests, heap and write; the collector obj and live; the database
     * theta) */
    uint64_t vms, vmmem, service, gc_heap, db_table;
    double db_write;
};

enum pkind {
    PK_INT,  /* decimal or 0x hex integer */
    PK_SIZE, /* vmsim_parse_size: 4096, 4k, 2m, 1g, 0x1000 */
    PK_REAL, /* decimal fraction */
    PK_WORD, /* one of the words in choices; the field gets its index */
};

/* Which shared parameters a generator takes. */
enum {
    C_N = 1u << 0,
    C_PID = 1u << 1,
    C_BASE = 1u << 2,
    C_ACCESS = 1u << 3,
    C_WRITE = 1u << 4,
    C_SEED = 1u << 5,
    C_CODE = 1u << 6, /* code, code_base, fetch_every */
    C_VA = 1u << 7,   /* va_bits: every generator takes it */
    C_ALL = (1u << 8) - 1,
};

struct param {
    const char *key;
    enum pkind kind;
    size_t off;        /* offsetof(struct synth_args, field): uint64_t or double */
    const char *def;   /* default as spec text; NULL: derived by the generator */
    uint64_t min, max; /* PK_INT, PK_SIZE */
    double lo, hi;     /* PK_REAL */
    unsigned flag;     /* C_* for a shared parameter, 0 for a generator's own */
    const char *what;  /* what a valid value is, for errors */
    const char *const *choices; /* PK_WORD: the words, NULL-terminated */
};

#define ARG(f) offsetof(struct synth_args, f)
#define P_INT(k, f, d, mn, mx, w) {k, PK_INT, ARG(f), d, mn, mx, 0, 0, 0, w, NULL}
#define P_SIZE(k, f, d, mn, w) {k, PK_SIZE, ARG(f), d, mn, UINT64_MAX, 0, 0, 0, w, NULL}
#define P_REAL(k, f, d, l, h, w) {k, PK_REAL, ARG(f), d, 0, 0, l, h, 0, w, NULL}
#define P_WORD(k, f, d, c, w) {k, PK_WORD, ARG(f), d, 0, 0, 0, 0, 0, w, c}
#define P_END {NULL, PK_INT, 0, NULL, 0, 0, 0, 0, 0, NULL, NULL}

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

/* ---- the source --------------------------------------------------------------- */

/* A keyed bijection on [0, n) without a table: a mixing function on the
 * smallest power-of-two domain 2^m >= n, cycle-walked until it lands below n
 * (the format-preserving-encryption trick; expected < 2 steps since
 * n > 2^(m-1)). Each mixing step (add, xorshift by ceil(m/2), multiply by an
 * odd constant) is invertible mod 2^m, so the inverse is the steps reversed. */
struct perm {
    uint64_t n, mask;
    unsigned shift;
    uint64_t add, mul1, mul2, inv1, inv2;
};

struct zipf_state {
    double theta, hx1, hn, s, pages;
    struct perm rank_to_page;
};

struct gc_state {
    uint64_t objects, live; /* live objects per cycle: floor(live fraction * objects) */
    uint64_t pos;           /* mark: order index; sweep: object index */
    bool marking;
    bool owe_write;         /* sweep read a dead header; its write comes next */
    struct perm order;      /* mark order; live set = order of positions < live */
};

#define DEFAULT_PROCS 3
#define DEFAULT_PHASES 2

struct default_state {
    struct vmsim_source *proc[DEFAULT_PROCS]; /* running phase of each process */
    unsigned phase[DEFAULT_PROCS];
    unsigned cur;        /* process on the cpu */
    uint64_t slice_left; /* events left in its time slice */
    unsigned spawned;
};

/* A probability as a threshold on one 64-bit draw; `always` covers 1. */
struct chance {
    uint64_t below;
    bool always;
};

/* One column of Walker's alias table: column i is taken when a draw is
 * below keep, else its alias. */
struct alias {
    uint64_t keep;
    uint64_t other;
};

/* One process slot of an OS workload: a worker, a process or a tenant.
 * When its process exits, a new pid takes the slot. */
struct os_proc {
    vmsim_pid_t pid;
    bool live;     /* spawned or forked (and set up, for sharedlibs and cloud) */
    bool mapped;   /* forkserver, vms: its process has mapped its area (or heap, table) */
    uint64_t used; /* forkserver, vms: accesses made by this worker */
    vmsim_vaddr_t lib, heap, stack; /* sharedlibs: where ASLR put them */
    struct perm regions;            /* cloud: region i is in 1 GiB slot 1 + P(i) */
    size_t vm;                      /* vms: its VM, an index into os_state.vm */
};

/* vms: the service a VM runs. */
enum vms_service { VMS_GC, VMS_DB, VMS_FORK, VMS_NSERVICES };

/* vms: one VM. A collector or a database is one process in one slot; a
 * fork service is its master plus a slot per worker. */
struct os_vm {
    enum vms_service service;
    size_t first;            /* its first slot; its slots are consecutive */
    vmsim_pid_t first_pid;   /* the process spawned into it (the master of a fork service) */
    unsigned setup;          /* fork: 0, 1 once the master's heap is written, 2 once forked */
    struct gc_state gc;      /* the collector's cycle */
    struct zipf_state db;    /* the database's page popularity */
};

/* The OS workloads. The stream is a sequence of steps; a step queues OS
 * events (spawn, mmap, fork, switch, exit, ...) and then starts a run of
 * accesses by one process on one cpu (a time slice). os_stream drains the
 * queue, then the run, then takes the next step; so the step boundaries,
 * not the batch boundaries, decide the stream. */
struct os_state {
    struct vmsim_event *q; /* OS events of the current step, qcap at most */
    size_t qcap, qhead, qlen;
    struct os_proc *proc;
    size_t nproc;
    uint64_t run_left;     /* accesses left in the current run */
    size_t cur;            /* slot of the current run */
    vmsim_pid_t pid;       /* process of the current run */
    uint16_t cpu;          /* and its cpu */
    bool init_run;         /* forkserver, vms: a master writing its heap */
    unsigned phase;        /* setup steps done */
    uint64_t slices;       /* time slices started */
    uint64_t next_pid;     /* the next fresh pid; pids are never reused */
    uint64_t init_page;    /* forkserver, vms: the master's next heap page */
    vmsim_pid_t oncpu[VMSIM_MAX_CPUS]; /* pid each cpu last switched to, 0: none */
    struct chance fetch, share, write, hot, churn;
    unsigned shift;        /* log2(access) */
    struct alias *lib_alias; /* sharedlibs: library popularity */
    uint64_t hot_pages, cold_pages;
    struct perm hot_perm;  /* bigws: pages 0..hot_pages-1 are the hot ones */
    struct os_vm *vm;      /* vms: its VMs */
    size_t nvm;
    struct chance db_write; /* vms: a database access writes */
};

struct synth;
struct spec;

struct generator {
    unsigned common;            /* C_* shared parameters it takes */
    const struct param *params; /* its own, ending with P_END */
    /* Check the parameters beyond their ranges and set up the state; on
     * failure fini (if any) is still called. */
    int (*init)(struct synth *s, struct spec *sp);
    /* Fill exactly k data accesses (kind READ unless the pattern decides). */
    void (*fill)(struct synth *s, struct vmsim_event *buf, size_t k);
    /* Instead of fill: produce the whole stream (a composite workload);
     * init then sets s->base.total, the access events it makes. */
    long (*stream)(struct synth *s, struct vmsim_event *buf, size_t max);
    void (*fini)(struct synth *s);
};

struct synth {
    struct vmsim_source base;
    const struct generator *gen;
    struct synth_args a;
    struct layout lay;       /* from a.va_bits */
    struct vmsim_event tmpl; /* a read of `access` bytes by pid on cpu 0; fill sets addr */
    struct rng rng;          /* addresses */
    struct rng wrng;         /* write choices (invariant 3) */
    uint64_t left;           /* data accesses still to produce */
    uint64_t write_below;    /* a draw below this makes a write */
    bool all_writes;
    vmsim_vaddr_t pc, code_end; /* instruction-fetch stream */
    uint64_t fetch_left;        /* data accesses before the next fetch */
    union {
        struct {
            vmsim_vaddr_t addr, end;
        } seq;
        struct {
            uint64_t slots;
            unsigned shift;
        } random;
        struct zipf_state zipf;
        struct {
            uint32_t *order; /* one random cycle through all nodes, in visiting order */
            uint64_t pos;
            uint64_t spacing;
        } chase;
        struct {
            vmsim_vaddr_t *start;
            uint64_t slots; /* access-sized slots per region */
            unsigned shift;
        } sparse;
        struct gc_state gc;
        struct default_state dflt;
        struct os_state os;
    } u;
};

/* The parse of one spec: the generator, its parameters, what was given. */
struct spec {
    const struct generator *gen;
    const char *name;
    const struct param *p[MAX_PARAMS];
    const char *given[MAX_PARAMS]; /* "k=v" as written; NULL when defaulted */
    size_t given_len[MAX_PARAMS];
    size_t np;
    struct synth_args a;
    struct vmsim_source_error *err;
};

/* ---- spec errors ---------------------------------------------------------------- */

static size_t spec_index(const struct spec *sp, const char *key)
{
    for (size_t i = 0; i < sp->np; i++)
        if (strcmp(sp->p[i]->key, key) == 0)
            return i;
    return sp->np;
}

static bool spec_given(const struct spec *sp, const char *key)
{
    size_t i = spec_index(sp, key);
    return i < sp->np && sp->given[i];
}

/* Of two parameters in a failed constraint, the one to blame: the first
 * the user wrote, else the first. */
static const char *spec_blame(const struct spec *sp, const char *k1, const char *k2)
{
    return spec_given(sp, k1) || !spec_given(sp, k2) ? k1 : k2;
}

/* Fail with found = the "key=value" text as written, or "key=default
 * (default)" when the user left it out. */
static int spec_fail(struct spec *sp, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int spec_fail(struct spec *sp, const char *key, const char *fmt, ...)
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

static int parse_int(const char *s, uint64_t *out)
{
    unsigned radix = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        radix = 16;
        s += 2;
    }
    if (!*s)
        return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (*s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (*s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return -1;
        if (d >= radix || v > (UINT64_MAX - d) / radix)
            return -1;
        v = v * radix + d;
    }
    *out = v;
    return 0;
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

static void perm_init(struct perm *p, uint64_t n, struct rng *r)
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

static inline uint64_t perm_mix(const struct perm *p, uint64_t x)
{
    x = (x + p->add) & p->mask;
    x ^= x >> p->shift;
    x = (x * p->mul1) & p->mask;
    x ^= x >> p->shift;
    x = (x * p->mul2) & p->mask;
    return x ^ (x >> p->shift);
}

static inline uint64_t perm_unmix(const struct perm *p, uint64_t x)
{
    x ^= x >> p->shift;
    x = (x * p->inv2) & p->mask;
    x ^= x >> p->shift;
    x = (x * p->inv1) & p->mask;
    x ^= x >> p->shift;
    return (x - p->add) & p->mask;
}

static inline uint64_t perm_fwd(const struct perm *p, uint64_t i)
{
    do
        i = perm_mix(p, i);
    while (i >= p->n);
    return i;
}

static inline uint64_t perm_inv(const struct perm *p, uint64_t i)
{
    do
        i = perm_unmix(p, i);
    while (i >= p->n);
    return i;
}

/* ---- shared checks ---------------------------------------------------------------- */

/* Does [start, start+len) lie inside the va_bits space? len >= 1. */
static bool inside(const struct layout *l, uint64_t start, uint64_t len)
{
    return start <= l->limit_m1 && len - 1 <= l->limit_m1 - start;
}

/* [start, start+len) (what `key` places) must lie inside the space. */
static int space_check(struct spec *sp, const struct layout *l, const char *key, uint64_t start,
                       uint64_t len)
{
    if (len == 0 || inside(l, start, len))
        return 0;
    return spec_fail(sp, key, "%s: [%#llx, +%#llx) inside the %u-bit virtual address space "
                     "(va_bits)", key, (unsigned long long)start, (unsigned long long)len,
                     l->va_bits);
}

/* [base, base+size) must lie inside the space (so never wrap). */
static int region_check(struct spec *sp, const struct layout *l, uint64_t base, uint64_t size)
{
    if (!inside(l, base, size))
        return spec_fail(sp, spec_blame(sp, "size", "base"),
                         "base + size within the %u-bit virtual address space (va_bits; base "
                         "%#llx)", l->va_bits, (unsigned long long)base);
    return 0;
}

static unsigned log2_exact(uint64_t pow2)
{
    unsigned s = 0;
    while ((UINT64_C(1) << s) < pow2)
        s++;
    return s;
}

/* ---- seq and stride: a sequential sweep ----------------------------------------- */

static int seq_init(struct synth *s, struct spec *sp)
{
    const struct synth_args *a = &sp->a;
    if (a->stride < a->access)
        return spec_fail(sp, spec_blame(sp, "stride", "access"),
                         "stride >= access (%llu): each access inside the region",
                         (unsigned long long)a->access);
    if (a->size % a->stride)
        return spec_fail(sp, spec_blame(sp, "size", "stride"),
                         "size a multiple of stride (%llu)", (unsigned long long)a->stride);
    int rc = region_check(sp, &s->lay, a->base, a->size);
    if (rc)
        return rc;
    s->u.seq.addr = a->base;
    s->u.seq.end = a->base + a->size;
    return 0;
}

static void seq_fill(struct synth *s, struct vmsim_event *buf, size_t k)
{
    vmsim_vaddr_t addr = s->u.seq.addr;
    const vmsim_vaddr_t end = s->u.seq.end, base = s->a.base, stride = s->a.stride;
    const struct vmsim_event t = s->tmpl;
    for (size_t i = 0; i < k; i++) {
        buf[i] = t;
        buf[i].addr = addr;
        addr += stride;
        if (addr == end) /* size is a multiple of stride: lands exactly on end */
            addr = base;
    }
    s->u.seq.addr = addr;
}

/* ---- random: uniform over the region ---------------------------------------------- */

static int random_init(struct synth *s, struct spec *sp)
{
    const struct synth_args *a = &sp->a;
    if (a->size % a->access)
        return spec_fail(sp, spec_blame(sp, "size", "access"),
                         "size a multiple of access (%llu)", (unsigned long long)a->access);
    int rc = region_check(sp, &s->lay, a->base, a->size);
    if (rc)
        return rc;
    s->u.random.shift = log2_exact(a->access);
    s->u.random.slots = a->size >> s->u.random.shift;
    return 0;
}

static void random_fill(struct synth *s, struct vmsim_event *buf, size_t k)
{
    const uint64_t slots = s->u.random.slots, base = s->a.base;
    const unsigned shift = s->u.random.shift;
    const struct vmsim_event t = s->tmpl;
    struct rng r = s->rng; /* a local copy: stores to buf cannot alias it */
    for (size_t i = 0; i < k; i++) {
        buf[i] = t;
        buf[i].addr = base + (rng_below(&r, slots) << shift);
    }
    s->rng = r;
}

/* ---- zipf: skewed page popularity ----------------------------------------------- */

/* Rejection-inversion sampling of Zipf(theta) over ranks 1..N (W. Hörmann,
 * G. Derflinger, "Rejection-inversion to generate variates from monotone
 * discrete distributions", ACM TOMACS 6(3), 1996), in the formulation of
 * Apache Commons RNG's RejectionInversionZipfSampler: O(1) memory, O(1)
 * expected time for any N and theta >= 0. h(x) = x^-theta is the density,
 * H its integral, Hinv the inverse of H; helper1/helper2 are log1p(x)/x and
 * expm1(x)/x, kept accurate near 0 (theta near 1). */
static double zipf_helper1(double x)
{
    return fabs(x) > 1e-8 ? log1p(x) / x : 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}

static double zipf_helper2(double x)
{
    return fabs(x) > 1e-8 ? expm1(x) / x : 1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x));
}

static double zipf_h(double x, double theta) { return exp(-theta * log(x)); }

static double zipf_H(double x, double theta)
{
    double lx = log(x);
    return zipf_helper2((1.0 - theta) * lx) * lx;
}

static double zipf_Hinv(double x, double theta)
{
    double t = x * (1.0 - theta);
    if (t < -1.0)
        t = -1.0;
    return exp(zipf_helper1(t) * x);
}

/* Zipf(theta) over pages, scattered by a bijection drawn from r. */
static void zipf_setup(struct zipf_state *z, uint64_t pages, double theta, struct rng *r)
{
    z->theta = theta;
    z->pages = (double)pages;
    z->hx1 = zipf_H(1.5, z->theta) - 1.0;
    z->hn = zipf_H(z->pages + 0.5, z->theta);
    z->s = 2.0 - zipf_Hinv(zipf_H(2.5, z->theta) - zipf_h(2.0, z->theta), z->theta);
    perm_init(&z->rank_to_page, pages, r);
}

static int zipf_init(struct synth *s, struct spec *sp)
{
    const struct synth_args *a = &sp->a;
    if (a->size % PAGE_SIZE)
        return spec_fail(sp, "size", "size a multiple of the 4096-byte page");
    int rc = region_check(sp, &s->lay, a->base, a->size);
    if (rc)
        return rc;
    zipf_setup(&s->u.zipf, a->size / PAGE_SIZE, a->theta, &s->rng);
    return 0;
}

/* A rank from 1 (the most popular) to N. */
static uint64_t zipf_rank(struct zipf_state *z, struct rng *r)
{
    for (;;) {
        double u = z->hn + rng_double(r) * (z->hx1 - z->hn);
        double x = zipf_Hinv(u, z->theta);
        double k = floor(x + 0.5);
        if (k < 1.0)
            k = 1.0;
        else if (k > z->pages)
            k = z->pages;
        if (k - x <= z->s || u >= zipf_H(k + 0.5, z->theta) - zipf_h(k, z->theta))
            return (uint64_t)k;
    }
}

/* k events like t at Zipf-popular pages from base, each at a uniform
 * offset aligned to t.len. */
static void zipf_scan(struct zipf_state *z, struct rng *rp, uint64_t base, struct vmsim_event t,
                      struct vmsim_event *buf, size_t k)
{
    /* t.len is a power of two <= 4096: these bits pick an aligned offset */
    const uint64_t offmask = PAGE_SIZE - t.len;
    struct rng r = *rp; /* a local copy: stores to buf cannot alias it */
    for (size_t i = 0; i < k; i++) {
        uint64_t page = perm_fwd(&z->rank_to_page, zipf_rank(z, &r) - 1);
        buf[i] = t;
        buf[i].addr = base + page * PAGE_SIZE + (rng_next(&r) & offmask);
    }
    *rp = r;
}

static void zipf_fill(struct synth *s, struct vmsim_event *buf, size_t k)
{
    zipf_scan(&s->u.zipf, &s->rng, s->a.base, s->tmpl, buf, k);
}

/* ---- chase: a pointer chase along one random cycle --------------------------------- */

static int chase_init(struct synth *s, struct spec *sp)
{
    struct synth_args *a = &sp->a;
    if (a->node < a->access || a->node % a->access)
        return spec_fail(sp, spec_blame(sp, "node", "access"),
                         "node a multiple of access (%llu)", (unsigned long long)a->access);
    if (!spec_given(sp, "nodes")) {
        if (a->size < a->node)
            return spec_fail(sp, spec_blame(sp, "size", "node"), "size >= node (%llu)",
                             (unsigned long long)a->node);
        a->nodes = a->size / a->node;
    }
    if (a->nodes > CHASE_MAX_NODES)
        return spec_fail(sp, spec_blame(sp, "nodes", "size"), "at most %llu nodes (nodes = size / node by default)",
                         (unsigned long long)CHASE_MAX_NODES);
    if (a->nodes > a->size / a->node)
        return spec_fail(sp, spec_blame(sp, "nodes", "size"),
                         "nodes * node <= size (%llu)", (unsigned long long)a->size);
    int rc = region_check(sp, &s->lay, a->base, a->size);
    if (rc)
        return rc;
    /* Spread the nodes over the region, node-aligned from base. */
    s->u.chase.spacing = a->size / a->nodes / a->node * a->node;
    uint32_t *order = malloc(a->nodes * sizeof *order);
    if (!order)
        return VMSIM_ENOMEM;
    /* A uniformly random single cycle through all nodes (what Sattolo's
     * algorithm draws) is, read from node 0, node 0 followed by a uniformly
     * random order of the others: so draw that order by Fisher-Yates and
     * store the cycle as its visiting order. fill() then streams the table
     * instead of chasing through it, which keeps the generator itself out
     * of the cache misses it is there to cause in the simulated machine. */
    for (uint64_t i = 0; i < a->nodes; i++)
        order[i] = (uint32_t)i;
    for (uint64_t i = a->nodes - 1; i > 1; i--) {
        uint64_t j = 1 + rng_below(&s->rng, i); /* j in [1, i] */
        uint32_t tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    s->u.chase.order = order;
    s->u.chase.pos = 0;
    return 0;
}

static void chase_fill(struct synth *s, struct vmsim_event *buf, size_t k)
{
    const uint32_t *order = s->u.chase.order;
    uint64_t pos = s->u.chase.pos;
    const uint64_t base = s->a.base, spacing = s->u.chase.spacing, nodes = s->a.nodes;
    const struct vmsim_event t = s->tmpl;
    for (size_t i = 0; i < k; i++) {
        buf[i] = t;
        buf[i].addr = base + order[pos] * spacing;
        if (++pos == nodes)
            pos = 0;
    }
    s->u.chase.pos = pos;
}

static void chase_fini(struct synth *s) { free(s->u.chase.order); }

/* ---- sparse: many small regions over the whole user space ---------------------- */

static int sparse_init(struct synth *s, struct spec *sp)
{
    const struct synth_args *a = &sp->a;
    if (a->rsize % PAGE_SIZE)
        return spec_fail(sp, "rsize", "rsize a multiple of the 4096-byte page");
    const struct layout *l = &s->lay;
    if (a->rsize > (UINT64_C(1) << l->slot_shift))
        return spec_fail(sp, "rsize", "rsize at most %llu (one region per slot of the %u-bit "
                         "layout)", (unsigned long long)1 << l->slot_shift, l->va_bits);
    if (a->regions > l->slot_count - 1)
        return spec_fail(sp, "regions", "regions at most %llu (the slots of the %u-bit layout "
                         "but the first)", (unsigned long long)l->slot_count - 1, l->va_bits);
    uint64_t regions = a->regions;
    vmsim_vaddr_t *start = malloc(regions * sizeof *start);
    if (!start)
        return VMSIM_ENOMEM;
    /* Knuth's selection sampling (Algorithm S): each slot (1 GiB in 48
     * bits) except the first (which holds the code) is taken with
     * probability needed/left, giving a uniform random set of distinct
     * slots in one pass and no table: the regions cannot overlap and all
     * end below the top of the user half (2^47 in 48 bits). */
    uint64_t got = 0;
    for (uint64_t slot = 1; got < regions; slot++) {
        uint64_t left = l->slot_count - slot;
        if (rng_below(&s->rng, left) < regions - got)
            start[got++] = slot << l->slot_shift;
    }
    s->u.sparse.start = start;
    s->u.sparse.shift = log2_exact(a->access);
    s->u.sparse.slots = a->rsize >> s->u.sparse.shift;
    return 0;
}

static void sparse_fill(struct synth *s, struct vmsim_event *buf, size_t k)
{
    const vmsim_vaddr_t *start = s->u.sparse.start;
    const uint64_t regions = s->a.regions, slots = s->u.sparse.slots;
    const unsigned shift = s->u.sparse.shift;
    const struct vmsim_event t = s->tmpl;
    struct rng r = s->rng;
    for (size_t i = 0; i < k; i++) {
        uint64_t region = rng_below(&r, regions);
        buf[i] = t;
        buf[i].addr = start[region] + (rng_below(&r, slots) << shift);
    }
    s->rng = r;
}

static void sparse_fini(struct synth *s) { free(s->u.sparse.start); }

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
static void gc_setup(struct gc_state *g, uint64_t objects, double live_share, struct rng *r)
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
static void gc_scan(struct gc_state *g, struct rng *r, uint64_t base, uint64_t obj,
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

/* ---- OS workloads: processes, mappings, forks and time slices ------------------ */

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
#define OS_CODE_BASE UINT64_C(0x400000)       /* the program's text, as ld places it */
/* The heap, area, library and stack places and the ASLR ranges are the
 * layout's (struct layout): 1 TiB, 0x7f0000000000, 0x700000000000,
 * 0x7ffffffff000, 2^28 and 2^22 pages in 48 bits. */
#define OS_MASTER 1u                          /* forkserver's master pid */
#define OS_RW (VMSIM_PROT_R | VMSIM_PROT_W)
#define OS_RX (VMSIM_PROT_R | VMSIM_PROT_X)

static struct chance chance_of(double p)
{
    struct chance c = {0, p >= 1.0};
    if (!c.always)
        c.below = (uint64_t)ldexp(p, 64); /* p < 1: below 2^64 */
    return c;
}

/* One draw whatever the probability, so the draws never depend on it. */
static inline bool chance_draw(struct rng *r, struct chance c)
{
    uint64_t x = rng_next(r);
    return c.always || x < c.below;
}

static inline uint64_t os_below(struct rng *r, uint64_t n, unsigned shift)
{
    return rng_below(r, n >> shift) << shift; /* an aligned offset in [0, n) */
}

static void os_push(struct os_state *o, struct vmsim_event e)
{
    /* qcap is each generator's largest step (its init says why) */
    o->q[o->qlen++] = e;
}

static void os_mmap(struct os_state *o, uint16_t cpu, vmsim_pid_t pid, vmsim_vaddr_t addr,
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
static void os_switch(struct os_state *o, uint16_t cpu, vmsim_pid_t pid)
{
    if (o->oncpu[cpu] == pid)
        return;
    os_push(o, (struct vmsim_event){.type = VMSIM_EV_SWITCH, .cpu = cpu, .pid = pid});
    o->oncpu[cpu] = pid;
}

static void os_exit(struct os_state *o, uint16_t cpu, vmsim_pid_t pid)
{
    os_push(o, (struct vmsim_event){.type = VMSIM_EV_EXIT, .cpu = cpu, .pid = pid});
    for (unsigned c = 0; c < VMSIM_MAX_CPUS; c++)
        if (o->oncpu[c] == pid)
            o->oncpu[c] = 0;
}

/* The next fresh pid; the caller checked os_pid_left. */
static vmsim_pid_t os_new_pid(struct os_state *o) { return (vmsim_pid_t)o->next_pid++; }

static bool os_pid_left(const struct os_state *o) { return o->next_pid <= UINT32_MAX; }

/* End the step with a run of len >= 1 accesses by slot's process on cpu. */
static void os_run(struct synth *s, size_t slot, uint16_t cpu, vmsim_pid_t pid, uint64_t len)
{
    struct os_state *o = &s->u.os;
    o->cur = slot;
    o->cpu = cpu;
    o->pid = pid;
    o->run_left = len < s->left ? len : s->left;
}

/* The next time slice's slot and cpu (round robin over both). */
static size_t os_next_slice(struct synth *s, size_t slots, uint16_t *cpu)
{
    struct os_state *o = &s->u.os;
    *cpu = (uint16_t)(o->slices % s->a.cpus);
    return (size_t)(o->slices++ % slots);
}

static inline struct vmsim_event os_access(const struct synth *s)
{
    const struct os_state *o = &s->u.os;
    return (struct vmsim_event){.type = VMSIM_EV_ACCESS,
                                .kind = VMSIM_READ,
                                .cpu = o->cpu,
                                .pid = o->pid,
                                .len = s->a.access};
}

/* Check a size parameter: a whole number of pages. */
static int os_pages(struct spec *sp, const char *key, uint64_t v)
{
    return v % PAGE_SIZE ? spec_fail(sp, key, "%s a multiple of the 4096-byte page", key) : 0;
}

/* Allocate the event queue (the largest step) and nproc slots. */
static int os_alloc(struct synth *s, size_t qcap, size_t nproc)
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

static void os_fini(struct synth *s)
{
    free(s->u.os.q);
    free(s->u.os.proc);
    free(s->u.os.lib_alias);
    free(s->u.os.vm);
}

static long os_stream(struct synth *s, struct vmsim_event *buf, size_t max,
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

/* ---- forkserver: a pre-fork server (Apache prefork, PHP-FPM) ---------------------- */

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

static void forkserver_fill(struct synth *s, struct vmsim_event *buf, size_t k)
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

/* ---- sharedlibs: many processes mapping the same libraries -------------------------- */

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
        p->lib = s->lay.lib + rng_below(&s->rng, s->lay.aslr_mmap) * PAGE_SIZE;
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

/* ---- bigws: a working set larger than memory ------------------------------------ */

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

/* ---- cloud: a multi-tenant host ------------------------------------------------ */

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
    if (a->rsize > (UINT64_C(1) << l->slot_shift))
        return spec_fail(sp, "rsize", "rsize at most %llu (one region per slot of the %u-bit "
                         "layout)", (unsigned long long)1 << l->slot_shift, l->va_bits);
    if (a->regions > l->slot_count - 1)
        return spec_fail(sp, "regions", "regions at most %llu (the slots of the %u-bit layout "
                         "but the first)", (unsigned long long)l->slot_count - 1, l->va_bits);
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

/* ---- vms: a host running several VMs, one service each ------------------------------ */

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

/* ---- the table of generators ---------------------------------------------------- */

#define P_REGION_SIZE(d) P_SIZE("size", size, d, 1, "bytes in the region (64m, 1g)")

static const struct param seq_params[] = {
    P_REGION_SIZE("64m"),
    P_SIZE("stride", stride, "8", 1, "bytes between accesses (8, 4k)"),
    P_END,
};
static const struct param stride_params[] = {
    P_REGION_SIZE("64m"),
    P_SIZE("stride", stride, "4096", 1, "bytes between accesses (8, 4k)"),
    P_END,
};
static const struct param random_params[] = {P_REGION_SIZE("1g"), P_END};
static const struct param zipf_params[] = {
    P_REGION_SIZE("1g"),
    P_REAL("theta", theta, "0.99", 0.0, ZIPF_MAX_THETA, "a skew from 0 (uniform) to 10"),
    P_END,
};
static const struct param chase_params[] = {
    P_REGION_SIZE("64m"),
    P_SIZE("node", node, "64", 1, "bytes per node (64)"),
    P_INT("nodes", nodes, NULL, 1, UINT64_MAX, "a number of nodes >= 1"),
    P_END,
};
static const struct param sparse_params[] = {
    P_INT("regions", regions, "64", 1, (UINT64_C(1) << 17) - 1,
          "a number of regions from 1 to 131071 (255 below 48 bits)"),
    P_SIZE("rsize", rsize, "2m", 1, "bytes per region, up to 1g"),
    P_END,
};
static const struct param gc_params[] = {
    P_SIZE("size", size, "256m", 1, "bytes in the heap (256m, 8g)"),
    P_SIZE("obj", obj, "64", 1, "bytes per object (64)"),
    P_REAL("live", live, "0.5", 0.0, 1.0, "a fraction of live objects from 0 to 1"),
    P_END,
};
static const struct param no_params[] = {P_END};

/* The OS workloads: their own n (a default that runs about a second in the
 * simulator) and write (what it applies to differs), cpus and slices. */
#define P_SIZEM(k, f, d, mn, mx, w) {k, PK_SIZE, ARG(f), d, mn, mx, 0, 0, 0, w, NULL}
#define P_OS_N P_INT("n", n, "20000000", 1, UINT64_MAX, "a number of accesses >= 1")
#define P_OS_CPUS P_INT("cpus", cpus, "4", 1, VMSIM_MAX_CPUS, "a number of cpus from 1 to 64")
#define P_OS_SLICE P_INT("slice", slice, "10000", 1, UINT64_MAX, "accesses per time slice, >= 1")
#define P_FRACTION(k, f, d) P_REAL(k, f, d, 0.0, 1.0, "a fraction from 0 to 1")
#define GIB (UINT64_C(1) << 30)
#define TIB (UINT64_C(1) << 40)

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
static const struct param sharedlibs_params[] = {
    P_OS_N,
    P_INT("procs", procs, "16", 1, 4096, "a number of processes from 1 to 4096"),
    P_INT("libs", libs, "32", 1, 1024, "a number of libraries from 1 to 1024"),
    P_OS_CPUS,
    P_OS_SLICE,
    P_SIZEM("text", text, "512k", PAGE_SIZE, GIB, "bytes of text per library, 4k to 1g"),
    P_SIZEM("rodata", rodata, "128k", PAGE_SIZE, GIB, "bytes of rodata per library, 4k to 1g"),
    P_SIZEM("heap", heap, "16m", PAGE_SIZE, TIB, "bytes of heap per process, 4k to 1t"),
    P_SIZEM("stack", stack, "256k", PAGE_SIZE, GIB, "bytes of stack per process, 4k to 1g"),
    P_REAL("theta", theta, "1", 0.0, ZIPF_MAX_THETA, "a skew from 0 (uniform) to 10"),
    P_FRACTION("fetch", fetch, "0.5"),
    P_FRACTION("ro_share", rodata_share, "0.1"),
    P_FRACTION("write", write, "0.3"),
    P_END,
};
static const struct param bigws_params[] = {
    P_OS_N,
    P_SIZEM("size", size, "1g", PAGE_SIZE, BIGWS_MAX_SIZE, "bytes in the region, 4k to 64t"),
    P_SIZEM("hotsize", hotsize, "64m", PAGE_SIZE, BIGWS_MAX_SIZE, "bytes of hot pages, 4k to size"),
    P_FRACTION("hot", hot, "0.9"),
    P_FRACTION("write", write, "0.25"),
    P_INT("thp", thp, "0", 0, 1, "0 or 1 (madvise the region MADV_HUGEPAGE)"),
    P_END,
};
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

static const struct generator gen_seq = {C_ALL, seq_params, seq_init, seq_fill, NULL, NULL};
static const struct generator gen_stride = {C_ALL, stride_params, seq_init, seq_fill, NULL, NULL};
static const struct generator gen_random = {C_ALL, random_params, random_init, random_fill,
                                            NULL, NULL};
static const struct generator gen_zipf = {C_ALL, zipf_params, zipf_init, zipf_fill, NULL, NULL};
static const struct generator gen_chase = {C_ALL, chase_params, chase_init, chase_fill, NULL,
                                           chase_fini};
static const struct generator gen_sparse = {C_ALL & ~C_BASE, sparse_params, sparse_init,
                                            sparse_fill, NULL, sparse_fini};
static const struct generator gen_gc = {C_ALL & ~C_WRITE, gc_params, gc_init, gc_fill, NULL,
                                        NULL};
static const struct generator gen_default = {C_SEED | C_VA, no_params, default_init, NULL,
                                             default_stream, default_fini};
static const struct generator gen_forkserver = {C_ACCESS | C_SEED | C_VA, forkserver_params,
                                                forkserver_init, forkserver_fill,
                                                forkserver_stream, os_fini};
static const struct generator gen_sharedlibs = {C_ACCESS | C_SEED | C_VA, sharedlibs_params,
                                                sharedlibs_init, sharedlibs_fill,
                                                sharedlibs_stream, os_fini};
static const struct generator gen_bigws = {C_ACCESS | C_SEED | C_VA, bigws_params, bigws_init,
                                           bigws_fill, bigws_stream, os_fini};
static const struct generator gen_cloud = {C_ACCESS | C_SEED | C_VA, cloud_params, cloud_init,
                                           cloud_fill, cloud_stream, os_fini};
static const struct generator gen_vms = {C_ACCESS | C_SEED | C_VA, vms_params, vms_init, vms_fill,
                                         vms_stream, os_fini};

/* X(name, help): the one list of generators; names, help and the lookup
 * table below all come from it. */
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
    X(bigws, "hot/cold accesses over size bytes (1g): a working set for --memory below it")     \
    X(cloud, "tenants (64) with sparse regions, churn and round-robin slices on cpus (4)")      \
    X(vms, "VMs (3) for --nested, each running a collector, a database or a fork service")

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
    for (;;) {
        size_t len = strcspn(p, ",");
        const char *eq = memchr(p, '=', len);
        if (!eq || eq == p)
            return spec_fail_item(sp, p, len ? len : strlen(p));
        size_t klen = (size_t)(eq - p), i;
        for (i = 0; i < sp->np; i++)
            if (strlen(sp->p[i]->key) == klen && memcmp(sp->p[i]->key, p, klen) == 0)
                break;
        if (i == sp->np)
            return spec_fail_key(sp, p, len);
        if (sp->given[i])
            return source_fail(sp->err, "each parameter at most once", p, len, "workload");
        sp->given[i] = p;
        sp->given_len[i] = len;
        char value[VALUE_MAX + 1];
        size_t vlen = len - klen - 1;
        if (vlen == 0 || vlen > VALUE_MAX)
            return spec_fail(sp, sp->p[i]->key, "%s: %s", sp->p[i]->key, sp->p[i]->what);
        memcpy(value, eq + 1, vlen);
        value[vlen] = '\0';
        if (param_set(sp->p[i], value, &sp->a) != 0)
            return spec_fail(sp, sp->p[i]->key, "%s: %s", sp->p[i]->key, sp->p[i]->what);
        if (p[len] == '\0')
            return 0;
        p += len + 1;
    }
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
