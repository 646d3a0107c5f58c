/* The inside of the synthetic workloads (src/trace/synth*.c): what every
 * generator file shares with the table and spec parser in synth.c. One
 * file per workload family (synth_basic.c: seq, stride, random, zipf,
 * chase, sparse; synth_gc.c; synth_default.c; synth_os.c: what the OS
 * workloads share; synth_forkserver.c, synth_sharedlibs.c, synth_bigws.c,
 * synth_cloud.c, synth_vms.c, synth_smp.c, synth_churn.c), each defining its `gen_NAME`
 * and its parameters; synth.c lists them in SYNTH_GENERATORS. The invariants every
 * generator keeps are at the top of synth.c. Private to src/trace. */
#ifndef VMSIM_TRACE_SYNTH_H
#define VMSIM_TRACE_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* ---- parameters ------------------------------------------------------------ */

/* Every parameter of every generator; a generator reads the ones it takes. */
struct synth_args {
    uint64_t n, pid, base, access, seed, code, code_base, fetch_every, va_bits;
    double write;
    uint64_t size, stride, nodes, node, regions, rsize, obj;
    double theta, live;
    /* the OS workloads (forkserver, sharedlibs, bigws, cloud, vms, smp) */
    uint64_t cpus, slice, workers, requests, recycle, procs, libs, tenants, thp;
    uint64_t text, rodata, heap, stack, area, hotsize;
    uint64_t lib_align; /* sharedlibs: the library base's alignment (ASLR granule) */
    double fetch, area_share, rodata_share, hot, churn;
    /* vms: the services' own (its fork service also takes workers,
     * requests, heap and write; the collector obj and live; the database
     * theta) */
    uint64_t vms, vmmem, service, gc_heap, db_table;
    double db_write;
    /* smp: the shared region, the share of accesses to it, the touch pass
     * (it also takes cpus, procs, size and slice) */
    uint64_t shared, touch;
    double share;
    /* churn: region sizes from small to large (powers of two); size bounds
     * the bytes mapped at once */
    uint64_t small, large;
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

/* Parameters several generators share. */
#define P_REGION_SIZE(d) P_SIZE("size", size, d, 1, "bytes in the region (64m, 1g)")
/* The OS workloads: their own n (a default that runs about a second in the
 * simulator) and write (what it applies to differs), cpus and slices. */
#define P_SIZEM(k, f, d, mn, mx, w) {k, PK_SIZE, ARG(f), d, mn, mx, 0, 0, 0, w, NULL}
#define P_OS_N P_INT("n", n, "20000000", 1, UINT64_MAX, "a number of accesses >= 1")
#define P_OS_CPUS P_INT("cpus", cpus, "4", 1, VMSIM_MAX_CPUS, "a number of cpus from 1 to 64")
#define P_OS_SLICE P_INT("slice", slice, "10000", 1, UINT64_MAX, "accesses per time slice, >= 1")
#define P_FRACTION(k, f, d) P_REAL(k, f, d, 0.0, 1.0, "a fraction from 0 to 1")
#define GIB (UINT64_C(1) << 30)
#define TIB (UINT64_C(1) << 40)

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
    uint64_t init_page;    /* forkserver, vms: the master's next heap page; smp: the
                              touch pass's next page */
    uint64_t step;         /* smp: bytes from one cpu's region to the next */
    vmsim_pid_t oncpu[VMSIM_MAX_CPUS]; /* pid each cpu last switched to, 0: none */
    struct chance fetch, share, write, hot, churn;
    unsigned shift;        /* log2(access) */
    struct alias *lib_alias; /* sharedlibs: library popularity */
    uint64_t hot_pages, cold_pages;
    struct perm hot_perm;  /* bigws: pages 0..hot_pages-1 are the hot ones */
    struct os_vm *vm;      /* vms: its VMs */
    size_t nvm;
    struct chance db_write; /* vms: a database access writes */
    struct churn_state *regions; /* churn: its regions (synth_churn.c) */
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

/* ---- spec errors and checks (synth.c) ------------------------------------------ */

bool spec_given(const struct spec *sp, const char *key);
/* Of two parameters in a failed constraint, the one to blame: the first
 * the user wrote, else the first. */
const char *spec_blame(const struct spec *sp, const char *k1, const char *k2);
/* Fail with found = the "key=value" text as written, or "key=default
 * (default)" when the user left it out. */
int spec_fail(struct spec *sp, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* [start, start+len) (what `key` places) must lie inside the space. */
int space_check(struct spec *sp, const struct layout *l, const char *key, uint64_t start,
                uint64_t len);
/* [base, base+size) must lie inside the space (so never wrap). */
int region_check(struct spec *sp, const struct layout *l, uint64_t base, uint64_t size);
/* regions regions of rsize bytes fit one to a slot of the layout, the
 * first slot left out (sparse, cloud). */
int slots_check(struct spec *sp, const struct layout *l, uint64_t rsize, uint64_t regions);
unsigned log2_exact(uint64_t pow2);

/* Does [start, start+len) lie inside the va_bits space? len >= 1. */
static inline bool inside(const struct layout *l, uint64_t start, uint64_t len)
{
    return start <= l->limit_m1 && len - 1 <= l->limit_m1 - start;
}

/* ---- the keyed bijection (struct perm; synth.c) -------------------------------- */

void perm_init(struct perm *p, uint64_t n, struct rng *r);

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

/* ---- patterns the composite workloads reuse ------------------------------------ */

/* Zipf(theta) over pages, scattered by a bijection drawn from r (synth_basic.c). */
void zipf_setup(struct zipf_state *z, uint64_t pages, double theta, struct rng *r);
/* k events like t at Zipf-popular pages from base, each at a uniform
 * offset aligned to t.len. */
void zipf_scan(struct zipf_state *z, struct rng *rp, uint64_t base, struct vmsim_event t,
               struct vmsim_event *buf, size_t k);
/* objects objects, floor(live * objects) of them live, and the first cycle
 * (synth_gc.c). */
void gc_setup(struct gc_state *g, uint64_t objects, double live_share, struct rng *r);
/* k accesses like t of the collector g over objects of obj bytes from
 * base; r draws each new cycle's bijection. */
void gc_scan(struct gc_state *g, struct rng *r, uint64_t base, uint64_t obj,
             struct vmsim_event t, struct vmsim_event *buf, size_t k);
/* forkserver's accesses, which vms's fork service makes too (synth_forkserver.c). */
void forkserver_fill(struct synth *s, struct vmsim_event *buf, size_t k);

/* ---- the OS workloads' shared machinery (synth_os.c) ---------------------------- */

#define OS_CODE_BASE UINT64_C(0x400000)       /* the program's text, as ld places it */
/* The heap, area, library and stack places and the ASLR ranges are the
 * layout's (struct layout): 1 TiB, 0x7f0000000000, 0x700000000000,
 * 0x7ffffffff000, 2^28 and 2^22 pages in 48 bits. */
#define OS_MASTER 1u                          /* forkserver's master pid */
#define OS_RW (VMSIM_PROT_R | VMSIM_PROT_W)
#define OS_RX (VMSIM_PROT_R | VMSIM_PROT_X)

struct chance chance_of(double p);

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

static inline struct vmsim_event os_access(const struct synth *s)
{
    const struct os_state *o = &s->u.os;
    return (struct vmsim_event){.type = VMSIM_EV_ACCESS,
                                .kind = VMSIM_READ,
                                .cpu = o->cpu,
                                .pid = o->pid,
                                .len = s->a.access};
}

void os_push(struct os_state *o, struct vmsim_event e);
void os_mmap(struct os_state *o, uint16_t cpu, vmsim_pid_t pid, vmsim_vaddr_t addr,
             uint64_t len, unsigned prot, uint32_t file, uint64_t pgoff);
/* Switch cpu to pid unless it already runs it. */
void os_switch(struct os_state *o, uint16_t cpu, vmsim_pid_t pid);
void os_exit(struct os_state *o, uint16_t cpu, vmsim_pid_t pid);
/* The next fresh pid; the caller checked os_pid_left. */
vmsim_pid_t os_new_pid(struct os_state *o);
bool os_pid_left(const struct os_state *o);
/* End the step with a run of len >= 1 accesses by slot's process on cpu. */
void os_run(struct synth *s, size_t slot, uint16_t cpu, vmsim_pid_t pid, uint64_t len);
/* The next time slice's slot and cpu (round robin over both). */
size_t os_next_slice(struct synth *s, size_t slots, uint16_t *cpu);
/* Check a size parameter: a whole number of pages. */
int os_pages(struct spec *sp, const char *key, uint64_t v);
/* Allocate the event queue (the largest step) and nproc slots. */
int os_alloc(struct synth *s, size_t qcap, size_t nproc);
void os_fini(struct synth *s);
/* The stream of an OS workload: drain the step's events, then its run
 * (through the generator's fill), then take the next step. */
long os_stream(struct synth *s, struct vmsim_event *buf, size_t max,
               void (*step)(struct synth *s));

#endif
