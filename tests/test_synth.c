/* Synthetic workload generators (src/trace/synth*.c): every expected number
 * here is derived from the definition of the pattern in docs/workloads.md
 * (addresses by arithmetic, shares from the Zipf formula, counts per gc
 * cycle from size/obj/live), never copied from the program's output. */
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "vmsim/event.h"
#include "vmsim/vmsim.h"

#define BASE UINT64_C(0x10000000000) /* the documented default base, 1 TiB */
#define CODE_BASE UINT64_C(0x400000)
#define PAGE 4096u

struct stream {
    struct vmsim_event *ev;
    size_t n;
};

/* Open spec and read at most limit events in batches of max. */
static struct stream collect(const char *spec, size_t limit, size_t max)
{
    struct vmsim_source *src = NULL;
    struct vmsim_source_error err;
    int rc = vmsim_source_open_workload(spec, &src, &err);
    if (rc != 0)
        fail_msg("%s: %d: expected %s, found %s", spec, rc, err.expected, err.found);
    struct stream s = {malloc((limit + 1) * sizeof *s.ev), 0};
    assert_non_null(s.ev);
    while (s.n < limit) {
        size_t want = limit - s.n < max ? limit - s.n : max;
        long got = vmsim_source_next(src, s.ev + s.n, want);
        assert_true(got >= 0);
        assert_true((size_t)got <= want);
        if (got == 0)
            break;
        s.n += (size_t)got;
    }
    vmsim_source_close(src);
    return s;
}

static uint64_t stream_count_kind(const struct stream *s, int kind)
{
    uint64_t c = 0;
    for (size_t i = 0; i < s->n; i++)
        c += s->ev[i].type == VMSIM_EV_ACCESS && s->ev[i].kind == kind;
    return c;
}

static uint64_t stream_count_type(const struct stream *s, int type)
{
    uint64_t c = 0;
    for (size_t i = 0; i < s->n; i++)
        c += s->ev[i].type == type;
    return c;
}

static bool streams_equal(const struct stream *a, const struct stream *b)
{
    return a->n == b->n && memcmp(a->ev, b->ev, a->n * sizeof *a->ev) == 0;
}

/* ---- seq and stride ---------------------------------------------------------- */

static void test_seq_addresses(void **state)
{
    (void)state;
    struct stream s = collect("seq:n=10,stride=8", 100, 4096);
    assert_int_equal(s.n, 10);
    for (size_t i = 0; i < s.n; i++) {
        assert_int_equal(s.ev[i].type, VMSIM_EV_ACCESS);
        assert_int_equal(s.ev[i].kind, VMSIM_READ);
        assert_int_equal(s.ev[i].cpu, 0);
        assert_int_equal(s.ev[i].pid, 1);
        assert_int_equal(s.ev[i].len, 8);
        assert_int_equal(s.ev[i].addr, BASE + 8 * i);
    }
    free(s.ev);
}

static void test_seq_wraps(void **state)
{
    (void)state;
    /* 32 bytes with stride 8: four accesses, then back to the start */
    struct stream s = collect("seq:n=10,size=32,stride=8,pid=7,access=4,base=0x2000", 100, 3);
    assert_int_equal(s.n, 10);
    for (size_t i = 0; i < s.n; i++) {
        assert_int_equal(s.ev[i].addr, 0x2000 + 8 * (i % 4));
        assert_int_equal(s.ev[i].pid, 7);
        assert_int_equal(s.ev[i].len, 4);
    }
    free(s.ev);
}

static void test_stride_one_per_page(void **state)
{
    (void)state;
    /* 64 MiB / 4096 = 16384 pages: one access each, then the sweep restarts */
    struct stream s = collect("stride:n=16385", 20000, 4096);
    assert_int_equal(s.n, 16385);
    for (size_t i = 0; i < 16384; i++)
        assert_int_equal(s.ev[i].addr, BASE + (uint64_t)PAGE * i);
    assert_int_equal(s.ev[16384].addr, BASE);
    free(s.ev);
}

/* ---- random ------------------------------------------------------------------ */

static void test_random_range_and_uniform(void **state)
{
    (void)state;
    /* 1 MiB = 256 pages; 400 expected hits per page */
    enum { PAGES = 256, PER = 400, N = PAGES * PER };
    struct stream s = collect("random:n=102400,size=1m", N, 4096);
    assert_int_equal(s.n, N);
    unsigned hist[PAGES] = {0};
    for (size_t i = 0; i < s.n; i++) {
        uint64_t a = s.ev[i].addr;
        assert_true(a >= BASE && a + 8 <= BASE + (1u << 20));
        assert_int_equal(a % 8, 0);
        hist[(a - BASE) / PAGE]++;
    }
    /* chi-square with 255 degrees of freedom: mean 255, sd sqrt(510) ~ 22.6;
     * six standard deviations above the mean is a generous bound */
    double chi = 0;
    for (int p = 0; p < PAGES; p++)
        chi += (hist[p] - (double)PER) * (hist[p] - (double)PER) / PER;
    double dof = PAGES - 1;
    assert_true(chi < dof + 6 * sqrt(2 * dof));
    assert_true(chi > dof - 6 * sqrt(2 * dof));
    free(s.ev);

    /* a 64-byte access is 64-byte aligned and inside the region */
    s = collect("random:n=10000,size=8k,access=64,base=0x7000", 10000, 4096);
    for (size_t i = 0; i < s.n; i++) {
        assert_int_equal(s.ev[i].addr % 64, 0);
        assert_true(s.ev[i].addr >= 0x7000 && s.ev[i].addr + 64 <= 0x7000 + 8192);
    }
    free(s.ev);
}

/* ---- zipf ---------------------------------------------------------------------- */

static int cmp_desc(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Zipf(theta) over N pages: rank r has probability r^-theta / H(N, theta). */
static void check_zipf(double theta)
{
    enum { PAGES = 1024, N = 400000 };
    char spec[96];
    snprintf(spec, sizeof spec, "zipf:n=%d,size=4m,theta=%g,seed=3", N, theta);
    struct stream s = collect(spec, N, 4096);
    assert_int_equal(s.n, N);
    static unsigned hist[PAGES];
    memset(hist, 0, sizeof hist);
    for (size_t i = 0; i < s.n; i++) {
        uint64_t a = s.ev[i].addr;
        assert_true(a >= BASE && a + 8 <= BASE + PAGES * PAGE);
        assert_int_equal(a % 8, 0);
        hist[(a - BASE) / PAGE]++;
    }
    double h = 0;
    for (int k = 1; k <= PAGES; k++)
        h += pow(k, -theta);
    unsigned sorted[PAGES];
    memcpy(sorted, hist, sizeof sorted);
    qsort(sorted, PAGES, sizeof sorted[0], cmp_desc);
    for (int r = 1; r <= 2; r++) {
        double p = pow(r, -theta) / h, got = (double)sorted[r - 1] / N;
        double sd = sqrt(p * (1 - p) / N);
        if (fabs(got - p) > 6 * sd + 1e-3)
            fail_msg("theta %g rank %d: share %f, expected %f", theta, r, got, p);
    }
    /* the two hottest pages are scattered, not neighbours */
    if (theta >= 0.5) {
        int first = -1, second = -1;
        for (int p = 0; p < PAGES; p++)
            if (hist[p] == sorted[0] && first < 0)
                first = p;
            else if (hist[p] == sorted[1] && second < 0)
                second = p;
        assert_true(first >= 0 && second >= 0);
        assert_true(abs(first - second) > 1);
    }
    free(s.ev);
}

static void test_zipf_top_share(void **state)
{
    (void)state;
    check_zipf(0.99);
    check_zipf(0.5);
    check_zipf(1.0);
    check_zipf(2.0);
}

static void test_zipf_extremes_terminate(void **state)
{
    (void)state;
    const char *specs[] = {"zipf:n=20000,theta=0", "zipf:n=20000,theta=10",
                           "zipf:n=20000,theta=0.999999", "zipf:n=20000,size=4k",
                           "zipf:n=20000,size=1t,theta=1.3", "zipf:n=1000,size=4k,theta=10"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        struct stream s = collect(specs[i], 20000, 4096);
        assert_true(s.n > 0);
        free(s.ev);
    }
    /* theta=10: rank 1 has 1/zeta(10) ~ 99.9 % of the accesses */
    struct stream s = collect("zipf:n=10000,size=4m,theta=10", 10000, 4096);
    unsigned same = 0;
    for (size_t i = 0; i < s.n; i++)
        same += (s.ev[i].addr & ~(uint64_t)(PAGE - 1)) == (s.ev[0].addr & ~(uint64_t)(PAGE - 1));
    assert_true(same > 9950);
    free(s.ev);
}

/* ---- chase --------------------------------------------------------------------- */

static void check_chase(const char *spec, uint64_t nodes, uint64_t spacing)
{
    struct stream s = collect(spec, 3 * nodes, 4096);
    assert_int_equal(s.n, 3 * nodes);
    unsigned char *seen = calloc(nodes, 1);
    for (size_t i = 0; i < nodes; i++) {
        uint64_t off = s.ev[i].addr - BASE;
        assert_int_equal(off % spacing, 0);
        assert_true(off / spacing < nodes);
        assert_int_equal(seen[off / spacing]++, 0); /* once per cycle */
    }
    /* one cycle: the next rounds repeat the first exactly */
    for (size_t i = nodes; i < s.n; i++)
        assert_int_equal(s.ev[i].addr, s.ev[i - nodes].addr);
    free(seen);
    free(s.ev);
}

static void test_chase_visits_each_node_once(void **state)
{
    (void)state;
    check_chase("chase:n=3072,size=64k", 1024, 64); /* 64 KiB / 64 */
    /* 100 nodes in 64 KiB: 655 bytes each, rounded down to 640 (10 nodes of 64) */
    check_chase("chase:n=300,size=64k,nodes=100", 100, 640);
    check_chase("chase:n=3,size=64,nodes=1", 1, 64);
    check_chase("chase:n=6,size=8k,node=4096", 2, 4096);
}

/* ---- sparse -------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_sparse_regions(void **state)
{
    (void)state;
    /* 64 regions of 2 MiB in distinct 1 GiB slots below 2^47, never slot 0 */
    enum { N = 200000 };
    struct stream s = collect("sparse:n=200000", N, 4096);
    assert_int_equal(s.n, N);
    uint64_t *slot = malloc(N * sizeof *slot);
    for (size_t i = 0; i < s.n; i++) {
        uint64_t a = s.ev[i].addr;
        assert_true(a + 8 <= UINT64_C(1) << 47);
        assert_int_equal(a % 8, 0);
        assert_true((a & ((UINT64_C(1) << 30) - 1)) + 8 <= (2u << 20)); /* inside its region */
        slot[i] = a >> 30;
        assert_true(slot[i] > 0);
    }
    qsort(slot, N, sizeof *slot, cmp_u64);
    size_t distinct = 1;
    for (size_t i = 1; i < N; i++)
        distinct += slot[i] != slot[i - 1];
    assert_int_equal(distinct, 64); /* each region seen ~3125 times */
    free(slot);
    free(s.ev);

    /* every one of the 131071 usable slots, 4 KiB each */
    s = collect("sparse:n=2000000,regions=131071,rsize=4k", 2000000, 4096);
    unsigned char *hit = calloc(UINT64_C(1) << 17, 1);
    for (size_t i = 0; i < s.n; i++) {
        assert_true((s.ev[i].addr & ((UINT64_C(1) << 30) - 1)) < 4096);
        hit[s.ev[i].addr >> 30] = 1;
    }
    assert_int_equal(hit[0], 0);
    size_t used = 0;
    for (size_t i = 0; i < (UINT64_C(1) << 17); i++)
        used += hit[i];
    assert_true(used > 131071 * 9 / 10); /* ~15 hits each: almost all seen */
    free(hit);
    free(s.ev);
}

/* ---- gc -------------------------------------------------------------------------- */

/* One cycle over `objects` objects with `live` of them live: live mark
 * reads of distinct objects, then objects sweep reads in address order, each
 * dead one (not marked) followed by a write of the same header. */
static void check_gc_cycles(const struct vmsim_event *ev, uint64_t cycles, uint64_t objects,
                            uint64_t live, uint64_t obj)
{
    unsigned char *marked = malloc(objects);
    size_t i = 0;
    for (uint64_t c = 0; c < cycles; c++) {
        memset(marked, 0, objects);
        for (uint64_t k = 0; k < live; k++, i++) {
            assert_int_equal(ev[i].kind, VMSIM_READ);
            uint64_t off = ev[i].addr - BASE;
            assert_int_equal(off % obj, 0);
            assert_true(off / obj < objects);
            assert_int_equal(marked[off / obj]++, 0);
        }
        uint64_t reads = 0, writes = 0;
        for (uint64_t o = 0; o < objects; o++) {
            assert_int_equal(ev[i].kind, VMSIM_READ);
            assert_int_equal(ev[i].addr, BASE + o * obj);
            i++, reads++;
            if (!marked[o]) {
                assert_int_equal(ev[i].kind, VMSIM_WRITE);
                assert_int_equal(ev[i].addr, BASE + o * obj);
                i++, writes++;
            }
        }
        assert_int_equal(reads, objects);
        assert_int_equal(writes, objects - live);
    }
    free(marked);
}

static void check_gc(const char *spec, uint64_t objects, uint64_t live, uint64_t obj,
                     int cycles)
{
    uint64_t per_cycle = live + objects + (objects - live);
    assert_int_equal(per_cycle, 2 * objects);
    struct stream s = collect(spec, cycles * per_cycle + 1, 4096);
    assert_int_equal(s.n, (size_t)cycles * per_cycle);
    check_gc_cycles(s.ev, (uint64_t)cycles, objects, live, obj);
    free(s.ev);
}

static void test_gc_counts(void **state)
{
    (void)state;
    /* 1 MiB / 64 = 16384 objects, half live: 8192 + 16384 + 8192 per cycle */
    check_gc("gc:size=1m,n=65536", 16384, 8192, 64, 2);
    /* 1000 objects of 128 bytes, floor(0.3 * 1000) = 300 live */
    check_gc("gc:size=128000,obj=128,live=0.3,n=6000", 1000, 300, 128, 3);
    check_gc("gc:size=64k,live=1,n=2048", 1024, 1024, 64, 1);
    check_gc("gc:size=64k,live=0,n=4096", 1024, 0, 64, 2);
    check_gc("gc:size=64,n=4", 1, 0, 64, 2); /* floor(0.5 * 1) = 0 */
}

static void test_gc_live_set_changes(void **state)
{
    (void)state;
    /* the second cycle marks a different set (objects die and are reborn) */
    struct stream s = collect("gc:size=64k,n=4096", 4096, 4096);
    assert_int_equal(s.n, 4096);
    assert_true(memcmp(s.ev, s.ev + 2048, 512 * sizeof *s.ev) != 0);
    free(s.ev);
}

/* ---- OS workloads: a model that replays the stream --------------------------------- */

/* The model keeps what the stream has done so far: which pids exist, their
 * mappings (a fork copies the parent's), which pid each cpu last switched
 * to, which VMs exist and the VM of each pid. It fails the test at the
 * first event that breaks a rule of the OS workloads (src/trace/synth_os.c):
 * every access inside a mapping of its pid whose protection allows it, a
 * switch before a cpu runs a pid, forks only by live pids and to new pids,
 * exits of live pids only; VM events only before any other event, each
 * creating a new VM 2..255; a spawn into VM 1 (file 0) or a VM created
 * before; a fork's child in its parent's VM; private mappings only, but
 * for smp's shared region (shared_ok). */
#define MODEL_PIDS 8192
#define MODEL_FILES 64

struct vma {
    uint64_t addr, len;
    unsigned prot;
    uint32_t file, pgoff;
};

struct mproc {
    bool seen, live;
    unsigned vm; /* 1 .. 255 */
    struct vma *v;
    size_t nv;
};

struct model {
    unsigned cpus;
    struct mproc *p;
    vmsim_pid_t oncpu[VMSIM_MAX_CPUS];
    uint64_t events, count[VMSIM_EV_NTYPES];
    uint64_t fetch, read, write;
    uint64_t fetch_file[MODEL_FILES]; /* fetches by the file of their mapping */
    uint64_t read_file;               /* reads of file-backed mappings */
    bool vm_made[VMSIM_MAX_VMS];      /* VM 1 is the machine's own */
    uint64_t vm_access[VMSIM_MAX_VMS]; /* accesses by VM */
    const struct vmsim_event *last;
    bool shared_ok;          /* smp: a VMSIM_MAP_SHARED mapping is allowed */
    uint64_t shared_mmaps;   /* mmaps with VMSIM_MAP_SHARED */
};

static void model_init(struct model *m, unsigned cpus)
{
    memset(m, 0, sizeof *m);
    m->cpus = cpus;
    m->p = calloc(MODEL_PIDS, sizeof *m->p);
    assert_non_null(m->p);
    m->vm_made[1] = true;
}

static void model_free(struct model *m)
{
    for (size_t i = 0; i < MODEL_PIDS; i++)
        free(m->p[i].v);
    free(m->p);
}

static struct mproc *model_live(struct model *m, vmsim_pid_t pid, size_t at)
{
    if (pid == 0 || pid >= MODEL_PIDS || !m->p[pid].live)
        fail_msg("event %zu: pid %u is not a live process", at, pid);
    return &m->p[pid];
}

/* The process is the one its cpu last switched to. */
static void model_running(struct model *m, const struct vmsim_event *e, size_t at)
{
    if (e->cpu >= m->cpus)
        fail_msg("event %zu: cpu %u of %u", at, e->cpu, m->cpus);
    if (m->oncpu[e->cpu] != e->pid)
        fail_msg("event %zu (type %u): pid %u on cpu %u, which runs %u", at, e->type, e->pid,
                 e->cpu, m->oncpu[e->cpu]);
}

static const struct vma *model_find(const struct mproc *p, uint64_t addr, uint64_t len)
{
    for (size_t i = 0; i < p->nv; i++)
        if (addr >= p->v[i].addr && addr - p->v[i].addr + len <= p->v[i].len)
            return &p->v[i];
    return NULL;
}

static void model_event(struct model *m, const struct vmsim_event *e, size_t at)
{
    assert_true(e->type < VMSIM_EV_NTYPES);
    m->events++;
    m->count[e->type]++;
    m->last = e;
    struct mproc *p;
    if (e->type == VMSIM_EV_VM && m->events != m->count[VMSIM_EV_VM])
        fail_msg("event %zu: a VM event after other events", at);
    switch (e->type) {
    case VMSIM_EV_VM:
        if (e->addr < 2 || e->addr >= VMSIM_MAX_VMS || m->vm_made[e->addr])
            fail_msg("event %zu: VM %llu, not a new VM id from 2 to 255", at,
                     (unsigned long long)e->addr);
        m->vm_made[e->addr] = true;
        break;
    case VMSIM_EV_SPAWN:
        assert_true(e->pid > 0 && e->pid < MODEL_PIDS);
        if (m->p[e->pid].seen)
            fail_msg("event %zu: spawn of pid %u, used before", at, e->pid);
        if (e->file == 1 || e->file >= VMSIM_MAX_VMS || !m->vm_made[e->file ? e->file : 1])
            fail_msg("event %zu: spawn of pid %u into VM %u, not created", at, e->pid, e->file);
        m->p[e->pid].seen = m->p[e->pid].live = true;
        m->p[e->pid].vm = e->file ? e->file : 1;
        break;
    case VMSIM_EV_FORK: {
        p = model_live(m, e->pid, at);
        model_running(m, e, at);
        if (e->addr == 0 || e->addr >= MODEL_PIDS || m->p[e->addr].seen)
            fail_msg("event %zu: fork to pid %llu, not a new pid", at, (unsigned long long)e->addr);
        struct mproc *c = &m->p[e->addr];
        c->seen = c->live = true;
        c->vm = p->vm;
        c->nv = p->nv;
        c->v = malloc((p->nv + 1) * sizeof *c->v);
        memcpy(c->v, p->v, p->nv * sizeof *c->v);
        break;
    }
    case VMSIM_EV_EXIT:
        p = model_live(m, e->pid, at);
        model_running(m, e, at);
        p->live = false;
        for (unsigned c = 0; c < VMSIM_MAX_CPUS; c++)
            if (m->oncpu[c] == e->pid)
                m->oncpu[c] = 0;
        break;
    case VMSIM_EV_SWITCH:
        model_live(m, e->pid, at);
        assert_true(e->cpu < m->cpus);
        if (m->oncpu[e->cpu] == e->pid)
            fail_msg("event %zu: switch of cpu %u to %u, which it runs", at, e->cpu, e->pid);
        m->oncpu[e->cpu] = e->pid;
        break;
    case VMSIM_EV_MMAP:
        p = model_live(m, e->pid, at);
        model_running(m, e, at);
        assert_true(e->len > 0);
        assert_int_equal(e->addr % PAGE, 0);
        assert_int_equal(e->len % PAGE, 0);
        assert_true(e->addr + e->len <= UINT64_C(1) << 47);
        /* user pages; private mappings but smp's shared region */
        assert_int_equal(e->kind & ~(7u | (m->shared_ok ? VMSIM_MAP_SHARED : 0)), 0);
        m->shared_mmaps += (e->kind & VMSIM_MAP_SHARED) != 0;
        if (e->file == 0)
            assert_int_equal(e->pgoff, 0);
        for (size_t i = 0; i < p->nv; i++)
            if (e->addr < p->v[i].addr + p->v[i].len && p->v[i].addr < e->addr + e->len)
                fail_msg("event %zu: mmap over another mapping of pid %u", at, e->pid);
        p->v = realloc(p->v, (p->nv + 1) * sizeof *p->v);
        p->v[p->nv++] = (struct vma){e->addr, e->len, e->kind, e->file, e->pgoff};
        break;
    case VMSIM_EV_MADVISE:
        p = model_live(m, e->pid, at);
        model_running(m, e, at);
        assert_non_null(model_find(p, e->addr, e->len));
        break;
    case VMSIM_EV_ACCESS: {
        p = model_live(m, e->pid, at);
        model_running(m, e, at);
        assert_true(e->len > 0);
        assert_int_equal(e->addr % e->len, 0);
        const struct vma *v = model_find(p, e->addr, e->len);
        if (!v)
            fail_msg("event %zu: access of pid %u at %#llx outside its mappings", at, e->pid,
                     (unsigned long long)e->addr);
        unsigned need = e->kind == VMSIM_FETCH   ? VMSIM_PROT_X
                        : e->kind == VMSIM_WRITE ? VMSIM_PROT_W
                                                 : VMSIM_PROT_R;
        if (!(v->prot & need))
            fail_msg("event %zu: kind %u in a mapping with prot %u", at, e->kind, v->prot);
        m->vm_access[p->vm]++;
        m->fetch += e->kind == VMSIM_FETCH;
        m->read += e->kind == VMSIM_READ;
        m->write += e->kind == VMSIM_WRITE;
        if (e->kind == VMSIM_FETCH) {
            assert_int_equal(e->len, 4);
            if (v->file < MODEL_FILES)
                m->fetch_file[v->file]++;
        }
        if (e->kind == VMSIM_READ && v->file)
            m->read_file++;
        break;
    }
    default:
        fail_msg("event %zu: type %u", at, e->type);
    }
}

/* Open spec, replay its whole stream through the model (batches of 4096)
 * and return the stream. */
static struct stream model_run(struct model *m, const char *spec, unsigned cpus, size_t limit)
{
    model_init(m, cpus);
    m->shared_ok = strncmp(spec, "smp:", 4) == 0;
    struct stream s = collect(spec, limit, 4096);
    assert_true(s.n < limit); /* the whole stream */
    for (size_t i = 0; i < s.n; i++)
        model_event(m, &s.ev[i], i);
    assert_true(s.n > 0);
    assert_int_equal(s.ev[s.n - 1].type, VMSIM_EV_ACCESS); /* it ends with the n-th access */
    return s;
}

static void expect_counts(const struct model *m, uint64_t access, uint64_t spawn, uint64_t mmap,
                          uint64_t fork, uint64_t exits, uint64_t sw)
{
    assert_int_equal(m->count[VMSIM_EV_ACCESS], access);
    assert_int_equal(m->count[VMSIM_EV_SPAWN], spawn);
    assert_int_equal(m->count[VMSIM_EV_MMAP], mmap);
    assert_int_equal(m->count[VMSIM_EV_FORK], fork);
    assert_int_equal(m->count[VMSIM_EV_EXIT], exits);
    assert_int_equal(m->count[VMSIM_EV_SWITCH], sw);
    assert_int_equal(m->count[VMSIM_EV_MUNMAP] + m->count[VMSIM_EV_MPROTECT], 0);
}

static bool near(double got, double p, uint64_t trials)
{
    return fabs(got - p) <= 6 * sqrt(p * (1 - p) / (double)trials) + 1e-9;
}

/* ---- forkserver ------------------------------------------------------------------ */

#define AREA_BASE UINT64_C(0x7f0000000000)

static void test_forkserver_stream(void **state)
{
    (void)state;
    struct model m;
    /* Master: spawn, switch, mmap code and heap, 16k/4096 = 4 heap writes,
     * forks of pids 2, 3, 4. Then slice j runs worker j % 3 on cpu j % 2;
     * a life of 250 accesses is slices of 100, 100, 50, so slices 0-5 are
     * 100 and 6-8 are 50: 4 + 600 + 150 = 754 accesses. After slice 6
     * worker 2 exits on cpu 0 and the master forks 5 there (switch 0->1);
     * after slice 7 worker 3 exits on cpu 1, the master forks 6 (switch
     * 1->1). Slice 8 (pid 4) ends the stream, so pid 4 never exits.
     * Switches: 1 (master) + 9 slices (each changes its cpu's pid) + 2 of
     * the master = 12. Mmaps: code, heap, an area for 2, 3, 4 = 5 (5 and 6
     * never run). Forks: 3 + 2. */
    struct stream s = model_run(
        &m, "forkserver:workers=3,cpus=2,heap=16k,slice=100,requests=250,n=754", 2, 2000);
    expect_counts(&m, 754, 1, 5, 5, 2, 12);
    assert_int_equal(s.n, 754 + 1 + 5 + 5 + 2 + 12);
    const struct vmsim_event *e = s.ev;
    assert_int_equal(e[0].type, VMSIM_EV_SPAWN);
    assert_int_equal(e[0].pid, 1);
    assert_int_equal(e[1].type, VMSIM_EV_SWITCH);
    assert_int_equal(e[1].cpu, 0);
    assert_int_equal(e[2].type, VMSIM_EV_MMAP);
    assert_int_equal(e[2].addr, CODE_BASE);
    assert_int_equal(e[2].len, 1u << 20);
    assert_int_equal(e[2].kind, VMSIM_PROT_R | VMSIM_PROT_X);
    assert_int_equal(e[2].file, 1);
    assert_int_equal(e[2].pgoff, 0);
    assert_int_equal(e[3].type, VMSIM_EV_MMAP);
    assert_int_equal(e[3].addr, BASE);
    assert_int_equal(e[3].len, 16384);
    assert_int_equal(e[3].kind, VMSIM_PROT_R | VMSIM_PROT_W);
    assert_int_equal(e[3].file, 0);
    for (int i = 0; i < 4; i++) { /* the master writes each heap page */
        assert_int_equal(e[4 + i].type, VMSIM_EV_ACCESS);
        assert_int_equal(e[4 + i].kind, VMSIM_WRITE);
        assert_int_equal(e[4 + i].pid, 1);
        assert_int_equal(e[4 + i].addr, BASE + (uint64_t)PAGE * i);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(e[8 + i].type, VMSIM_EV_FORK);
        assert_int_equal(e[8 + i].pid, 1);
        assert_int_equal(e[8 + i].addr, 2 + i);
    }
    assert_int_equal(e[11].type, VMSIM_EV_SWITCH);
    assert_int_equal(e[11].pid, 2);
    assert_int_equal(e[12].type, VMSIM_EV_MMAP);
    assert_int_equal(e[12].pid, 2);
    assert_int_equal(e[12].addr, AREA_BASE);
    assert_int_equal(e[12].len, 256 * 1024);
    /* the lives: 250 worker accesses each for pids 2, 3, 4; 5, 6 none */
    uint64_t per_pid[8] = {0};
    for (size_t i = 0; i < s.n; i++)
        if (e[i].type == VMSIM_EV_ACCESS)
            per_pid[e[i].pid]++;
    assert_int_equal(per_pid[1], 4);
    for (int p = 2; p <= 4; p++)
        assert_int_equal(per_pid[p], 250);
    assert_int_equal(per_pid[5] + per_pid[6], 0);
    assert_true(m.p[5].live && m.p[6].live && m.p[4].live && !m.p[2].live && !m.p[3].live);
    free(s.ev);
    model_free(&m);

    /* recycle=0: nine slices of 100, no exits, every slice switches */
    s = model_run(&m, "forkserver:workers=3,cpus=2,heap=16k,slice=100,recycle=0,n=904", 2, 2000);
    expect_counts(&m, 904, 1, 5, 3, 0, 10);
    free(s.ev);
    model_free(&m);

    /* as many workers as cpus: each stays on its cpu, 3 switches in all */
    s = model_run(&m, "forkserver:workers=2,cpus=2,heap=4k,slice=10,recycle=0,n=101", 2, 2000);
    expect_counts(&m, 101, 1, 4, 2, 0, 3);
    free(s.ev);
    model_free(&m);

    /* n inside the master's heap writes: the stream stops there */
    s = model_run(&m, "forkserver:heap=64k,n=10", 1, 100);
    expect_counts(&m, 10, 1, 2, 0, 0, 1);
    free(s.ev);
    model_free(&m);
}

static void test_forkserver_recycling_and_mix(void **state)
{
    (void)state;
    struct model m;
    /* 1m of heap = 256 master writes, then 199744 worker accesses = 199
     * slices of 1000 and one of 744. A life is 20 slices, and the four
     * workers go in lockstep: the lives end at slices 76-79 and 156-159,
     * each followed by a slice, so 8 exits and 8 forks after the first 4;
     * 12 workers map an area (gen 3 starts at slice 160). */
    struct stream s =
        model_run(&m, "forkserver:n=200000,workers=4,heap=1m,requests=20000,slice=1000", 4,
                  300000);
    expect_counts(&m, 200000, 1, 2 + 12, 4 + 8, 8, m.count[VMSIM_EV_SWITCH]);
    /* worker accesses: fetch 1/4; area writes 3/4 * 1/4; heap writes 3/4 * 3/4 * 0.02 */
    uint64_t w = 199744, fetch = 0, area = 0, heap = 0, heapw = 0;
    for (size_t i = 0; i < s.n; i++) {
        const struct vmsim_event *e = &s.ev[i];
        if (e->type != VMSIM_EV_ACCESS || e->pid == 1)
            continue;
        if (e->kind == VMSIM_FETCH) {
            fetch++;
            assert_true(e->addr >= CODE_BASE && e->addr < CODE_BASE + (1u << 20));
        } else if (e->addr >= AREA_BASE) {
            area++;
            assert_int_equal(e->kind, VMSIM_WRITE);
        } else {
            heap++;
            heapw += e->kind == VMSIM_WRITE;
            assert_true(e->addr >= BASE && e->addr < BASE + (1u << 20));
        }
    }
    assert_int_equal(fetch + area + heap, w);
    assert_true(near((double)fetch / w, 0.25, w));
    assert_true(near((double)area / w, 0.1875, w));
    assert_true(near((double)heapw / heap, 0.02, heap));
    free(s.ev);
    model_free(&m);

    /* write= changes the kinds of heap accesses, never an address */
    struct stream a = collect("forkserver:n=30000,heap=256k,slice=100", 40000, 4096);
    struct stream b = collect("forkserver:n=30000,heap=256k,slice=100,write=0.7", 40000, 4096);
    assert_int_equal(a.n, b.n);
    uint64_t differ = 0;
    for (size_t i = 0; i < a.n; i++) {
        assert_int_equal(a.ev[i].addr, b.ev[i].addr);
        assert_int_equal(a.ev[i].type, b.ev[i].type);
        differ += a.ev[i].kind != b.ev[i].kind;
    }
    assert_true(differ > 1000);
    free(a.ev);
    free(b.ev);
}

/* ---- sharedlibs ------------------------------------------------------------------- */

static void test_sharedlibs_stream(void **state)
{
    (void)state;
    struct model m;
    /* six slices of 100 over 3 processes and 2 cpus; each process is set
     * up on its first slice: spawn, switch, 2 libraries x 2 + heap + stack
     * = 6 mmaps; every slice switches (pid j % 3 on cpu j % 2) */
    struct stream s = model_run(&m, "sharedlibs:procs=3,libs=2,cpus=2,slice=100,n=600", 2, 2000);
    expect_counts(&m, 600, 3, 18, 0, 0, 6);
    assert_int_equal(s.n, 627);
    /* the same files in every process, at different addresses: text r-x
     * at file page 0, rodata r-- after it (512k of text = page 128) */
    uint64_t text_at[4][3] = {{0}};
    for (vmsim_pid_t pid = 1; pid <= 3; pid++) {
        const struct mproc *p = &m.p[pid];
        assert_int_equal(p->nv, 6);
        for (uint32_t lib = 1; lib <= 2; lib++) {
            const struct vma *t = &p->v[2 * (lib - 1)], *r = &p->v[2 * (lib - 1) + 1];
            assert_int_equal(t->file, lib);
            assert_int_equal(t->pgoff, 0);
            assert_int_equal(t->prot, VMSIM_PROT_R | VMSIM_PROT_X);
            assert_int_equal(t->len, 512 * 1024);
            assert_int_equal(r->file, lib);
            assert_int_equal(r->pgoff, 128);
            assert_int_equal(r->prot, VMSIM_PROT_R);
            assert_int_equal(r->len, 128 * 1024);
            assert_int_equal(r->addr, t->addr + t->len);
            text_at[pid][lib] = t->addr;
        }
        assert_int_equal(p->v[4].len, 16u << 20); /* heap */
        assert_int_equal(p->v[4].file, 0);
        assert_int_equal(p->v[5].len, 256 * 1024); /* stack */
        assert_int_equal(p->v[5].prot, VMSIM_PROT_R | VMSIM_PROT_W);
    }
    assert_true(text_at[1][1] != text_at[2][1] && text_at[2][1] != text_at[3][1] &&
                text_at[1][1] != text_at[3][1]);
    free(s.ev);
    model_free(&m);
}

static void test_sharedlibs_popularity(void **state)
{
    (void)state;
    struct model m;
    /* theta = 1 over 4 libraries: H = 25/12, shares 12/25, 6/25, 4/25, 3/25.
     * Half the accesses fetch; a tenth of the data accesses read rodata;
     * the rest go to heap or stack, 30 % of them writes. */
    enum { N = 400000 };
    struct stream s = model_run(&m, "sharedlibs:procs=2,libs=4,slice=1000,n=400000", 4, N + 100);
    expect_counts(&m, N, 2, 2 * 10, 0, 0, m.count[VMSIM_EV_SWITCH]);
    assert_true(near((double)m.fetch / N, 0.5, N));
    const double share[5] = {0, 12.0 / 25, 6.0 / 25, 4.0 / 25, 3.0 / 25};
    for (int lib = 1; lib <= 4; lib++)
        if (!near((double)m.fetch_file[lib] / m.fetch, share[lib], m.fetch))
            fail_msg("library %d: %llu of %llu fetches", lib,
                     (unsigned long long)m.fetch_file[lib], (unsigned long long)m.fetch);
    uint64_t data = N - m.fetch;
    assert_true(near((double)m.read_file / data, 0.1, data));
    uint64_t anon = data - m.read_file;
    assert_true(near((double)m.write / anon, 0.3, anon));
    /* heap and stack evenly: mappings 8 and 9 of each process */
    uint64_t heap = 0;
    for (size_t i = 0; i < s.n; i++) {
        const struct vmsim_event *e = &s.ev[i];
        const struct vma *h = &m.p[e->pid].v[8];
        heap += e->type == VMSIM_EV_ACCESS && e->addr >= h->addr && e->addr < h->addr + h->len;
    }
    assert_true(near((double)heap / anon, 0.5, anon));
    free(s.ev);
    model_free(&m);

    /* theta = 0: the libraries are equally popular */
    s = model_run(&m, "sharedlibs:procs=1,libs=4,theta=0,fetch=1,n=100000", 4, 100100);
    assert_int_equal(m.fetch, 100000);
    for (int lib = 1; lib <= 4; lib++)
        assert_true(near((double)m.fetch_file[lib] / 100000, 0.25, 100000));
    free(s.ev);
    model_free(&m);
}

/* align=: library bases in steps of align. 2m: every library's text (and
 * rodata, 2 MiB in) starts on a 2 MiB boundary, at file offset 0 (2 MiB):
 * their leaf tables may be shared (--share-tables). 4k, the default's
 * step, draws the same bases: the same stream. */
static void test_sharedlibs_align(void **state)
{
    (void)state;
    struct model m;
    struct stream s = model_run(
        &m, "sharedlibs:procs=8,libs=3,cpus=2,text=2m,rodata=2m,align=2m,slice=10,n=80", 2, 1000);
    for (vmsim_pid_t pid = 1; pid <= 8; pid++)
        for (uint32_t i = 0; i < 6; i++) {
            const struct vma *v = &m.p[pid].v[i];
            assert_int_equal(v->addr % (2u << 20), 0);
            assert_int_equal(v->pgoff, (i % 2) * 512);
        }
    free(s.ev);
    model_free(&m);
    struct stream a = collect("sharedlibs:procs=4,libs=2,slice=50,n=400", 1000, 4096);
    struct stream b = collect("sharedlibs:procs=4,libs=2,slice=50,n=400,align=4k", 1000, 4096);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.ev, b.ev, a.n * sizeof *a.ev);
    free(a.ev);
    free(b.ev);
}

/* ---- bigws ------------------------------------------------------------------------- */

static void test_bigws(void **state)
{
    (void)state;
    struct model m;
    struct stream s = model_run(&m, "bigws:n=1000,size=1m,hotsize=64k", 1, 2000);
    expect_counts(&m, 1000, 1, 1, 0, 0, 1);
    assert_int_equal(s.n, 1003);
    assert_int_equal(s.ev[2].addr, BASE);
    assert_int_equal(s.ev[2].len, 1u << 20);
    assert_int_equal(s.ev[2].kind, VMSIM_PROT_R | VMSIM_PROT_W);
    free(s.ev);
    model_free(&m);
    s = model_run(&m, "bigws:n=1000,size=1m,hotsize=64k,thp=1", 1, 2000);
    assert_int_equal(s.n, 1004);
    assert_int_equal(m.count[VMSIM_EV_MADVISE], 1);
    assert_int_equal(s.ev[3].type, VMSIM_EV_MADVISE);
    assert_int_equal(s.ev[3].kind, VMSIM_ADV_HUGEPAGE);
    assert_int_equal(s.ev[3].addr, BASE);
    assert_int_equal(s.ev[3].len, 1u << 20);
    free(s.ev);
    model_free(&m);

    /* 16 hot pages of 256 take 90 % (11250 each), the 240 others 83 each:
     * the 16 busiest pages are the hot set, and it is not the first 16 */
    enum { N = 200000, PAGES = 256 };
    s = model_run(&m, "bigws:n=200000,size=1m,hotsize=64k,hot=0.9,write=0.25", 1, N + 10);
    unsigned hist[PAGES] = {0};
    for (size_t i = 0; i < s.n; i++)
        if (s.ev[i].type == VMSIM_EV_ACCESS)
            hist[(s.ev[i].addr - BASE) / PAGE]++;
    unsigned sorted[PAGES];
    memcpy(sorted, hist, sizeof sorted);
    qsort(sorted, PAGES, sizeof sorted[0], cmp_desc);
    uint64_t top = 0;
    for (int i = 0; i < 16; i++)
        top += sorted[i];
    assert_true(near((double)top / N, 0.9, N));
    assert_true(sorted[15] > 5000 && sorted[16] < 500 && sorted[PAGES - 1] > 0);
    unsigned first16 = 0;
    for (int i = 0; i < 16; i++)
        first16 += hist[i] > 5000;
    assert_true(first16 < 16);
    assert_true(near((double)m.write / N, 0.25, N));
    free(s.ev);
    model_free(&m);

    /* hotsize = size: uniform over every page */
    s = model_run(&m, "bigws:n=64000,size=64k,hotsize=64k,hot=0", 1, 64010);
    unsigned h16[16] = {0};
    for (size_t i = 0; i < s.n; i++)
        if (s.ev[i].type == VMSIM_EV_ACCESS)
            h16[(s.ev[i].addr - BASE) / PAGE]++;
    for (int i = 0; i < 16; i++)
        assert_true(near(h16[i] / 64000.0, 1.0 / 16, 64000));
    free(s.ev);
    model_free(&m);
}

/* ---- cloud ------------------------------------------------------------------------- */

static void check_cloud_regions(const struct model *m, vmsim_pid_t first, vmsim_pid_t last,
                                size_t regions, uint64_t rsize)
{
    for (vmsim_pid_t pid = first; pid <= last; pid++) {
        const struct mproc *p = &m->p[pid];
        assert_int_equal(p->nv, regions);
        for (size_t i = 0; i < p->nv; i++) {
            assert_int_equal(p->v[i].addr % (UINT64_C(1) << 30), 0); /* a slot's start */
            assert_true(p->v[i].addr >= UINT64_C(1) << 30);         /* never slot 0 */
            assert_int_equal(p->v[i].len, rsize);
            assert_int_equal(p->v[i].prot, VMSIM_PROT_R | VMSIM_PROT_W);
        }
    }
}

static void test_cloud_stream(void **state)
{
    (void)state;
    struct model m;
    /* no churn: tenants 1, 2, 3 set up on slices 0-2 (spawn, switch, 2
     * mmaps), slices 3-5 only switch */
    struct stream s =
        model_run(&m, "cloud:tenants=3,regions=2,cpus=2,slice=100,churn=0,n=600", 2, 2000);
    expect_counts(&m, 600, 3, 6, 0, 0, 6);
    assert_int_equal(s.n, 615);
    check_cloud_regions(&m, 1, 3, 2, 2u << 20);
    free(s.ev);
    model_free(&m);

    /* churn=1: after every slice but the last its tenant exits and a new
     * one takes the slot, so every slice starts a tenant: 6 spawns (pids
     * 1-6), 5 exits, 6 switches (each cpu is idle after an exit), 12 mmaps */
    s = model_run(&m, "cloud:tenants=3,regions=2,cpus=2,slice=100,churn=1,n=600", 2, 2000);
    expect_counts(&m, 600, 6, 12, 0, 5, 6);
    assert_int_equal(s.n, 629);
    check_cloud_regions(&m, 1, 6, 2, 2u << 20);
    for (vmsim_pid_t pid = 1; pid <= 5; pid++)
        assert_false(m.p[pid].live);
    assert_true(m.p[6].live);
    free(s.ev);
    model_free(&m);

    /* churn=0.5: 9999 slice ends, each an exit with probability 1/2 */
    s = model_run(&m, "cloud:tenants=4,regions=3,slice=10,churn=0.5,n=100000,write=0.3", 4,
                  200000);
    assert_int_equal(m.count[VMSIM_EV_ACCESS], 100000);
    assert_true(near((double)m.count[VMSIM_EV_EXIT] / 9999, 0.5, 9999));
    /* each exit's successor spawns on the slot's next turn, except after
     * the last three slices */
    assert_true(m.count[VMSIM_EV_SPAWN] <= 4 + m.count[VMSIM_EV_EXIT]);
    assert_true(m.count[VMSIM_EV_SPAWN] + 3 >= 4 + m.count[VMSIM_EV_EXIT]);
    assert_true(near((double)m.write / 100000, 0.3, 100000));
    free(s.ev);
    model_free(&m);

    /* the most regions, each the largest: distinct slots below 2^47 (the
     * model rejects overlapping mmaps) */
    s = model_run(&m, "cloud:tenants=2,regions=4096,rsize=1g,n=1000,slice=500", 4, 10000);
    check_cloud_regions(&m, 1, 2, 4096, UINT64_C(1) << 30);
    free(s.ev);
    model_free(&m);
}

/* ---- vms ------------------------------------------------------------------------- */

#define VMS_SMALL                                                                          \
    "vms:vms=3,cpus=2,slice=100,gc_heap=64k,db_table=64k,fork_workers=2,fork_heap=16k,"   \
    "fork_requests=250,n=1404"

/* The accesses of pid, in stream order (free). */
static struct vmsim_event *pid_accesses(const struct stream *s, vmsim_pid_t pid, size_t *n)
{
    struct vmsim_event *out = malloc((s->n + 1) * sizeof *out);
    assert_non_null(out);
    *n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->ev[i].type == VMSIM_EV_ACCESS && s->ev[i].pid == pid)
            out[(*n)++] = s->ev[i];
    return out;
}

static void test_vms_stream(void **state)
{
    (void)state;
    struct model m;
    /* docs/workloads.md's example. VM 1 runs the collector (slot 0, pid 1),
     * VM 2 the database (slot 1, pid 2), VM 3 a fork service (master pid 3,
     * worker slots 2 and 3): 4 slots on 2 cpus, so slice j runs slot j % 4
     * on cpu j % 2 and every slice switches. VM events for 2 and 3; spawns
     * of pids 1, 2, 3 on the cpus of slices 0, 1, 2: 0, 1, 0. Slice 0 maps
     * the heap, slice 1 the table. Before slice 2 the master switches to
     * cpu 0, maps code and heap, writes 16k / 4096 = 4 pages and forks
     * pids 4 and 5, which map their areas on slices 2 and 3. A life of 250
     * accesses is slices of 100, 100, 50: slices 10 and 11 (50 each) end
     * the lives of 4 and 5; each exits, and the master, switched to on its
     * cpu, forks 6, then 7. Slice 12 runs pid 1, 13 pid 2, 14 pid 6 (which
     * maps its area); the stream ends there: 4 + 10 x 100 (slices 0-9) +
     * 2 x 50 + 3 x 100 (slices 12-14) = 1404 accesses. Switches: 15
     * slices, the master's setup and two wake-ups = 18. Mmaps: heap,
     * table, code, master heap, areas of 4, 5, 6 = 7. Forks 2 + 2, exits 2. */
    struct stream s = model_run(&m, VMS_SMALL, 2, 3000);
    expect_counts(&m, 1404, 3, 7, 4, 2, 18);
    assert_int_equal(m.count[VMSIM_EV_VM], 2);
    assert_int_equal(s.n, 1404 + 2 + 3 + 7 + 4 + 2 + 18);
    const struct vmsim_event *e = s.ev;
    for (int k = 0; k < 2; k++) { /* VM k + 2, the machine's memory, named by its pid */
        assert_int_equal(e[k].type, VMSIM_EV_VM);
        assert_int_equal(e[k].addr, k + 2);
        assert_int_equal(e[k].len, 0);
        assert_int_equal(e[k].pid, k + 2);
    }
    static const unsigned spawn_file[3] = {0, 2, 3}, spawn_cpu[3] = {0, 1, 0};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(e[2 + k].type, VMSIM_EV_SPAWN);
        assert_int_equal(e[2 + k].pid, k + 1);
        assert_int_equal(e[2 + k].file, spawn_file[k]);
        assert_int_equal(e[2 + k].cpu, spawn_cpu[k]);
    }
    /* accesses by VM: slices 0, 4, 8, 12; slices 1, 5, 9, 13; the master's
     * 4 and slices 2, 3, 6, 7 (400), 10, 11 (100) and 14 (100) */
    assert_int_equal(m.vm_access[1], 400);
    assert_int_equal(m.vm_access[2], 400);
    assert_int_equal(m.vm_access[3], 604);
    /* forked workers stay in the master's VM */
    for (vmsim_pid_t pid = 1; pid <= 7; pid++)
        assert_int_equal(m.p[pid].vm, pid <= 2 ? pid : 3);
    assert_true(m.p[1].live && m.p[2].live && m.p[3].live && m.p[6].live && m.p[7].live);
    assert_false(m.p[4].live || m.p[5].live);
    /* the collector: its heap only; 16 objects of 4096, 8 live: 32 accesses
     * a cycle, so 12 whole cycles in its 400 */
    assert_int_equal(m.p[1].nv, 1);
    assert_int_equal(m.p[1].v[0].addr, BASE);
    assert_int_equal(m.p[1].v[0].len, 65536);
    size_t n;
    struct vmsim_event *gc = pid_accesses(&s, 1, &n);
    assert_int_equal(n, 400);
    check_gc_cycles(gc, 400 / 32, 16, 8, 4096);
    free(gc);
    /* the database: its table only */
    assert_int_equal(m.p[2].nv, 1);
    assert_int_equal(m.p[2].v[0].len, 65536);
    /* the master: code (file 1) and heap, each page written once */
    assert_int_equal(m.p[3].nv, 2);
    assert_int_equal(m.p[3].v[0].addr, CODE_BASE);
    assert_int_equal(m.p[3].v[0].len, 1u << 20);
    assert_int_equal(m.p[3].v[0].file, 1);
    assert_int_equal(m.p[3].v[0].prot, VMSIM_PROT_R | VMSIM_PROT_X);
    assert_int_equal(m.p[3].v[1].len, 16384);
    struct vmsim_event *master = pid_accesses(&s, 3, &n);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(master[i].kind, VMSIM_WRITE);
        assert_int_equal(master[i].addr, BASE + PAGE * i);
    }
    free(master);
    /* the workers: the master's mappings and an area */
    static const size_t life[8] = {0, 0, 0, 0, 250, 250, 100, 0};
    for (vmsim_pid_t pid = 4; pid <= 7; pid++) {
        struct vmsim_event *w = pid_accesses(&s, pid, &n);
        assert_int_equal(n, life[pid]);
        free(w);
    }
    assert_int_equal(m.p[4].nv, 3);
    assert_int_equal(m.p[4].v[2].addr, AREA_BASE);
    assert_int_equal(m.p[4].v[2].len, 256 * 1024);
    free(s.ev);
    model_free(&m);

    /* one VM: no VM events, its process spawned with file 0; one slot on 4
     * cpus, so only the first slice on each cpu switches */
    s = model_run(&m, "vms:vms=1,gc_heap=64k,n=1000,slice=100", 4, 2000);
    expect_counts(&m, 1000, 1, 1, 0, 0, 4);
    assert_int_equal(m.count[VMSIM_EV_VM], 0);
    assert_int_equal(s.ev[0].file, 0);
    free(s.ev);
    model_free(&m);

    /* seven VMs of mixed services, guest memory of their own: services
     * gc, db, fork, gc, db, fork, gc; slots 0, 1, 2-3, 4, 5, 6-7, 8 */
    s = model_run(&m,
                  "vms:vms=7,cpus=3,slice=50,vmmem=64m,gc_heap=32k,gc_obj=64,db_table=256k,"
                  "fork_workers=2,fork_heap=32k,fork_requests=120,n=60000",
                  3, 100000);
    assert_int_equal(m.count[VMSIM_EV_ACCESS], 60000);
    assert_int_equal(m.count[VMSIM_EV_VM], 6);
    assert_int_equal(m.count[VMSIM_EV_SPAWN], 7);
    static const unsigned first_slot[8] = {0, 0, 1, 2, 4, 5, 6, 8};
    for (unsigned k = 1; k <= 7; k++) {
        if (k >= 2) {
            assert_int_equal(s.ev[k - 2].addr, k);
            assert_int_equal(s.ev[k - 2].len, 64u << 20);
        }
        const struct vmsim_event *sp = &s.ev[6 + k - 1];
        assert_int_equal(sp->pid, k);
        assert_int_equal(sp->file, k == 1 ? 0 : k);
        assert_int_equal(sp->cpu, first_slot[k] % 3);
        assert_true(m.vm_access[k] > 0);
    }
    /* workers are forked by the masters (pids 3 and 6) and stay in VMs 3, 6 */
    assert_int_equal(m.count[VMSIM_EV_FORK], 4 + m.count[VMSIM_EV_EXIT]);
    for (vmsim_pid_t pid = 8; pid < 8 + m.count[VMSIM_EV_FORK]; pid++)
        assert_true(m.p[pid].vm == 3 || m.p[pid].vm == 6);
    /* one collector's stream (about 60000 / 9 accesses): whole cycles of
     * 512 objects, 256 live */
    gc = pid_accesses(&s, 4, &n);
    assert_true(n >= 6 * 1024);
    check_gc_cycles(gc, n / 1024, 512, 256, 64);
    free(gc);
    free(s.ev);
    model_free(&m);

    /* every VM a fork service */
    s = model_run(&m, "vms:vms=2,service=fork,fork_workers=3,fork_heap=8k,fork_requests=300,"
                      "slice=100,n=5000",
                  4, 10000);
    expect_counts(&m, 5000, 2, m.count[VMSIM_EV_MMAP], 6 + m.count[VMSIM_EV_EXIT],
                  m.count[VMSIM_EV_EXIT], m.count[VMSIM_EV_SWITCH]);
    assert_true(m.count[VMSIM_EV_EXIT] >= 10);
    assert_true(m.vm_access[1] > 2000 && m.vm_access[2] > 2000);
    free(s.ev);
    model_free(&m);
}

static void test_vms_services(void **state)
{
    (void)state;
    struct model m;
    /* two databases, 1024 pages each at theta 1: the hottest page takes
     * 1 / H(1024, 1) of each one's 100000 accesses, and the two VMs' hot
     * pages lie at different places; 30 % writes */
    enum { N = 200000, PAGES = 1024 };
    struct stream s = model_run(
        &m, "vms:vms=2,service=db,db_table=4m,db_theta=1,db_write=0.3,slice=1000,n=200000", 4,
        N + 100);
    expect_counts(&m, N, 2, 2, 0, 0, m.count[VMSIM_EV_SWITCH]);
    double h = 0;
    for (int k = 1; k <= PAGES; k++)
        h += 1.0 / k;
    static unsigned hist[3][PAGES];
    memset(hist, 0, sizeof hist);
    for (size_t i = 0; i < s.n; i++)
        if (s.ev[i].type == VMSIM_EV_ACCESS)
            hist[s.ev[i].pid][(s.ev[i].addr - BASE) / PAGE]++;
    int hottest[3] = {0, 0, 0};
    for (int pid = 1; pid <= 2; pid++) {
        assert_int_equal(m.vm_access[pid], N / 2);
        for (int p = 0; p < PAGES; p++)
            if (hist[pid][p] > hist[pid][hottest[pid]])
                hottest[pid] = p;
        assert_true(near((double)hist[pid][hottest[pid]] / (N / 2), 1 / h, N / 2));
    }
    assert_true(hottest[1] != hottest[2]);
    assert_true(near((double)m.write / N, 0.3, N));
    free(s.ev);
    model_free(&m);

    /* fork_write: the share of worker heap accesses that write; db_write
     * moves no address */
    struct stream a = collect("vms:vms=2,n=30000,slice=100,fork_heap=256k", 40000, 4096);
    struct stream b =
        collect("vms:vms=2,n=30000,slice=100,fork_heap=256k,db_write=0.9", 40000, 4096);
    assert_int_equal(a.n, b.n);
    uint64_t differ = 0;
    for (size_t i = 0; i < a.n; i++) {
        assert_int_equal(a.ev[i].addr, b.ev[i].addr);
        differ += a.ev[i].kind != b.ev[i].kind;
    }
    assert_true(differ > 1000);
    free(a.ev);
    free(b.ev);
}

/* vmsim run --nested with the example of docs/workloads.md: one entry per
 * VM in the JSON, each with its accesses (400, 400, 604). Without
 * --nested the first VM event is refused. */
static void test_vms_run(void **state)
{
    (void)state;
    struct cmd_result r =
        run_vmsim("run --quiet --nested x86-64 --mem 1g --workload %s --json -", VMS_SMALL);
    if (r.status != 0)
        fail_msg("status %d: %s", r.status, r.err);
    json_error_t jerr;
    json_t *j = json_loads(r.out, 0, &jerr);
    assert_non_null(j);
    json_t *vms = json_object_get(j, "vms");
    assert_int_equal(json_array_size(vms), 3);
    static const long long accesses[] = {400, 400, 604};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_array_get(vms, i);
        assert_int_equal(json_integer_value(json_object_get(v, "vm")), (long long)i + 1);
        assert_int_equal(json_integer_value(json_object_get(v, "accesses")), accesses[i]);
        assert_true(json_integer_value(json_object_get(v, "frames_used")) > 0);
    }
    json_decref(j);
    cmd_result_free(&r);
    r = run_vmsim("run --quiet --workload %s", VMS_SMALL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "event 1: expected a virtualized machine"));
    cmd_result_free(&r);
    /* one VM needs no VM event: a native run works */
    r = run_vmsim("run --quiet --workload vms:vms=1,n=1000");
    assert_int_equal(r.status, 0);
    cmd_result_free(&r);
}

/* ---- smp ------------------------------------------------------------------------- */

#define GIB UINT64_C(0x40000000)

/* Which region addr of an smp stream lies in (48 bits: region c at 1 TiB
 * + c GiB, the shared one after the cpus' ones), or -1. */
static int smp_region_of(uint64_t addr, uint64_t len, unsigned cpus, uint64_t size,
                         uint64_t shared)
{
    for (unsigned c = 0; c <= cpus; c++) {
        const uint64_t lo = BASE + c * GIB, bytes = c < cpus ? size : shared;
        if (addr >= lo && addr - lo + len <= bytes)
            return (int)c;
    }
    return -1;
}

/* Accesses of each cpu after the setup, from the definition: slice j (of
 * `slice` accesses, the last one cut at the n-th access) runs on cpu j mod
 * cpus. */
static void smp_per_cpu(uint64_t accesses, unsigned cpus, uint64_t slice, uint64_t *per)
{
    const uint64_t full = accesses / slice, rest = accesses % slice;
    for (unsigned c = 0; c < cpus; c++)
        per[c] = (full / cpus + (c < full % cpus)) * slice + (c == full % cpus ? rest : 0);
}

static void test_smp_stream(void **state)
{
    (void)state;
    struct model m;
    /* cpus=3, procs=3: regions of 8k (2 pages) at 1 TiB + 0, 1, 2 GiB and
     * the shared 4k at 1 TiB + 3 GiB, MAP_SHARED (there are forks). touch:
     * 3 x 2 + 1 = 7 writes. Then forks of 2 and 3, cpus 1 and 2 switch to
     * them, and 1050 accesses: slices 0-9 of 100 and slice 10 of 50, on
     * cpus 0,1,2,0,...: cpu 0 slices 0,3,6,9 = 400; cpu 1 1,4,7 and 50 of
     * slice 10 = 350; cpu 2 2,5,8 = 300. OS events: 1 spawn, 4 mmaps, 2
     * forks, 3 switches. */
    struct stream s = model_run(
        &m, "smp:cpus=3,procs=3,size=8k,shared=4k,share=0.5,touch=1,slice=100,n=1057", 3, 2000);
    expect_counts(&m, 1057, 1, 4, 2, 0, 3);
    assert_int_equal(m.shared_mmaps, 1);
    assert_int_equal(s.n, 1057 + 10);
    const struct vmsim_event *e = s.ev;
    const unsigned rw = VMSIM_PROT_R | VMSIM_PROT_W;
    assert_int_equal(e[0].type, VMSIM_EV_SPAWN);
    assert_int_equal(e[0].pid, 1);
    assert_int_equal(e[0].cpu, 0);
    assert_int_equal(e[1].type, VMSIM_EV_SWITCH);
    assert_int_equal(e[1].cpu, 0);
    assert_int_equal(e[1].pid, 1);
    for (unsigned c = 0; c < 4; c++) { /* 3 private regions, then the shared one */
        const struct vmsim_event *x = &e[2 + c];
        assert_int_equal(x->type, VMSIM_EV_MMAP);
        assert_int_equal(x->pid, 1);
        assert_int_equal(x->cpu, 0);
        assert_int_equal(x->addr, BASE + c * GIB);
        assert_int_equal(x->len, c < 3 ? 8192 : 4096);
        assert_int_equal(x->kind, c < 3 ? rw : rw | VMSIM_MAP_SHARED);
        assert_int_equal(x->file, 0);
        assert_int_equal(x->pgoff, 0);
    }
    static const uint64_t touched[7] = {0, 4096, GIB, GIB + 4096, 2 * GIB, 2 * GIB + 4096,
                                        3 * GIB};
    for (unsigned i = 0; i < 7; i++) {
        const struct vmsim_event *x = &e[6 + i];
        assert_int_equal(x->type, VMSIM_EV_ACCESS);
        assert_int_equal(x->kind, VMSIM_WRITE);
        assert_int_equal(x->pid, 1);
        assert_int_equal(x->cpu, 0);
        assert_int_equal(x->len, 8);
        assert_int_equal(x->addr, BASE + touched[i]);
    }
    for (unsigned i = 0; i < 2; i++) {
        assert_int_equal(e[13 + i].type, VMSIM_EV_FORK);
        assert_int_equal(e[13 + i].pid, 1);
        assert_int_equal(e[13 + i].cpu, 0);
        assert_int_equal(e[13 + i].addr, 2 + i);
    }
    for (unsigned c = 1; c < 3; c++) {
        assert_int_equal(e[14 + c].type, VMSIM_EV_SWITCH);
        assert_int_equal(e[14 + c].cpu, c);
        assert_int_equal(e[14 + c].pid, c + 1);
    }
    /* the slices: access j after the setup is on cpu (j / 100) mod 3, by
     * its process, inside its own region or the shared one */
    uint64_t per[3] = {0}, want[3], shared = 0;
    for (size_t j = 0; j < 1050; j++) {
        const struct vmsim_event *x = &e[17 + j];
        const unsigned cpu = (unsigned)(j / 100 % 3);
        assert_int_equal(x->type, VMSIM_EV_ACCESS);
        assert_int_equal(x->cpu, cpu);
        assert_int_equal(x->pid, cpu + 1);
        assert_int_equal(x->kind, VMSIM_READ); /* write=0 */
        assert_int_equal(x->addr % 8, 0);
        const int r = smp_region_of(x->addr, x->len, 3, 8192, 4096);
        if (r != (int)cpu && r != 3)
            fail_msg("access %zu of cpu %u at %#llx: region %d", j, cpu,
                     (unsigned long long)x->addr, r);
        shared += r == 3;
        per[cpu]++;
    }
    smp_per_cpu(1050, 3, 100, want);
    assert_int_equal(want[0], 400);
    assert_int_equal(want[1], 350);
    assert_int_equal(want[2], 300);
    for (unsigned c = 0; c < 3; c++)
        assert_int_equal(per[c], want[c]);
    assert_true(near((double)shared / 1050, 0.5, 1050));
    free(s.ev);
    model_free(&m);
}

static void test_smp_processes(void **state)
{
    (void)state;
    struct model m;
    /* procs=1: four threads of process 1, no fork; the shared region is
     * private (nothing to share it with); cpus 1-3 switch to pid 1. No
     * touch: every OS event comes before the first access. */
    struct stream s =
        model_run(&m, "smp:cpus=4,size=16k,shared=8k,share=0.3,slice=10,n=1000", 4, 2000);
    expect_counts(&m, 1000, 1, 5, 0, 0, 4);
    assert_int_equal(m.shared_mmaps, 0);
    assert_int_equal(s.ev[6].type, VMSIM_EV_MMAP);
    assert_int_equal(s.ev[6].addr, BASE + 4 * GIB);
    assert_int_equal(s.ev[6].kind, VMSIM_PROT_R | VMSIM_PROT_W);
    for (size_t i = 0; i < s.n; i++)
        assert_int_equal(s.ev[i].pid, 1);
    assert_int_equal(s.ev[10].type, VMSIM_EV_ACCESS);
    free(s.ev);
    model_free(&m);

    /* procs=2 on 4 cpus: cpu c runs pid c mod 2 + 1 (1, 2, 1, 2); one
     * fork; switches on cpu 0 (to 1), 1 (to 2), 2 (to 1), 3 (to 2) */
    s = model_run(&m, "smp:cpus=4,procs=2,size=16k,slice=10,n=1000", 4, 2000);
    expect_counts(&m, 1000, 1, 4, 1, 0, 4);
    for (size_t i = 0; i < s.n; i++)
        if (s.ev[i].type == VMSIM_EV_ACCESS) {
            assert_int_equal(s.ev[i].pid, s.ev[i].cpu % 2 + 1);
            assert_int_equal(smp_region_of(s.ev[i].addr, s.ev[i].len, 4, 16384, 0),
                             s.ev[i].cpu);
        }
    free(s.ev);
    model_free(&m);

    /* one cpu: spawn, switch, one mmap, the accesses */
    s = model_run(&m, "smp:cpus=1,n=50", 1, 100);
    expect_counts(&m, 50, 1, 1, 0, 0, 1);
    free(s.ev);
    model_free(&m);

    /* n inside the touch pass (2 x 16 pages): the stream stops there,
     * before any fork */
    s = model_run(&m, "smp:cpus=2,procs=2,size=64k,touch=1,n=5", 2, 100);
    expect_counts(&m, 5, 1, 2, 0, 0, 1);
    free(s.ev);
    model_free(&m);
}

/* Region c at the layout's heap + c x size rounded up to a slot: 48 bits
 * 1 TiB + c GiB; 39 bits 2 GiB + c GiB; 32 bits 16 MiB + c x 8 MiB, or c x
 * 16 MiB for a 9 MiB region. */
static void test_smp_layout(void **state)
{
    (void)state;
    static const struct {
        const char *spec;
        unsigned bits;
        uint64_t first, step;
    } c[] = {
        {"smp:cpus=3,size=12k,shared=4k,n=1", 48, BASE, GIB},
        {"smp:cpus=3,size=12k,shared=4k,n=1", 39, UINT64_C(0x80000000), GIB},
        {"smp:cpus=3,size=12k,shared=4k,n=1", 32, UINT64_C(0x1000000), UINT64_C(0x800000)},
        {"smp:cpus=3,size=9m,shared=4k,n=1", 32, UINT64_C(0x1000000), UINT64_C(0x1000000)},
        {"smp:cpus=3,size=1g,shared=4k,n=1", 48, BASE, GIB},
        {"smp:cpus=3,size=1025m,shared=4k,n=1", 48, BASE, 2 * GIB},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        struct vmsim_source *src;
        struct vmsim_event ev[16];
        assert_int_equal(vmsim_source_open_workload_for(c[i].spec, c[i].bits, &src, NULL), 0);
        long got = vmsim_source_next(src, ev, 16);
        unsigned k = 0;
        for (long x = 0; x < got; x++)
            if (ev[x].type == VMSIM_EV_MMAP) {
                if (ev[x].addr != c[i].first + k * c[i].step)
                    fail_msg("%s in %u bits: mmap %u at %#llx", c[i].spec, c[i].bits, k,
                             (unsigned long long)ev[x].addr);
                k++;
            }
        assert_int_equal(k, 4);
        vmsim_source_close(src);
    }
}

static void test_smp_shares(void **state)
{
    (void)state;
    /* 200000 accesses in slices of 256: 781 whole slices and one of 64,
     * slice 781 on cpu 781 mod 4 = 1: cpu 0 has 196 slices (50176), cpu 1
     * 195 and the 64 (49984), cpus 2 and 3 195 each (49920) */
    enum { N = 200000, PAGES = 256 };
    struct stream s = collect(
        "smp:n=200000,cpus=4,procs=4,size=1m,shared=1m,share=0.3,write=0.25,slice=256", N + 100,
        4096);
    struct stream r =
        collect("smp:n=200000,cpus=4,procs=4,size=1m,shared=1m,share=0.3,slice=256", N + 100, 4096);
    assert_int_equal(s.n, r.n);
    uint64_t per[4] = {0}, shared = 0, writes = 0, own0 = 0;
    static unsigned hist[PAGES];
    memset(hist, 0, sizeof hist);
    for (size_t i = 0; i < s.n; i++) {
        const struct vmsim_event *e = &s.ev[i];
        assert_int_equal(e->addr, r.ev[i].addr); /* write= moves no address */
        if (e->type != VMSIM_EV_ACCESS)
            continue;
        const int g = smp_region_of(e->addr, e->len, 4, 1u << 20, 1u << 20);
        assert_true(g == e->cpu || g == 4);
        per[e->cpu]++;
        shared += g == 4;
        writes += e->kind == VMSIM_WRITE;
        if (g == 0) {
            own0++;
            hist[(e->addr - BASE) / PAGE]++;
        }
    }
    const uint64_t want[4] = {50176, 49984, 49920, 49920};
    uint64_t derived[4];
    smp_per_cpu(N, 4, 256, derived);
    for (unsigned c = 0; c < 4; c++) {
        assert_int_equal(per[c], want[c]);
        assert_int_equal(derived[c], want[c]);
    }
    /* binomial: 6 standard deviations */
    assert_true(near((double)shared / N, 0.3, N));
    assert_true(near((double)writes / N, 0.25, N));
    /* cpu 0's own accesses are uniform over its 256 pages: chi-square
     * with 255 degrees of freedom within 6 standard deviations */
    double chi = 0, per_page = (double)own0 / PAGES;
    for (int p = 0; p < PAGES; p++)
        chi += (hist[p] - per_page) * (hist[p] - per_page) / per_page;
    assert_true(fabs(chi - (PAGES - 1)) < 6 * sqrt(2.0 * (PAGES - 1)));
    free(s.ev);
    free(r.ev);
}

/* The simulated kernel under smp: with touch=1, process 1 writes every
 * page (demand-zero writes, or page-cache misses in the MAP_SHARED
 * region), and after the forks the first write to a page of a private
 * region copies it, whoever makes it: the parent's frames are shared with
 * every child. Regions of 4 pages and about 1000 writes per cpu (the
 * chance that a cpu misses one of its pages is 4 x (3/4)^750 < 1e-90), so
 * each private page is copied exactly once; no one writes the original
 * again, so there is no reuse. */
static void test_smp_cow_storm(void **state)
{
    (void)state;
    static const struct {
        const char *spec;
        long long dzw, pcmiss, copy, forks;
    } c[] = {
        /* 16 touched pages, 16 copies (cpu 0's by pid 1, whose pages all
         * three children map too) */
        {"smp:cpus=4,procs=4,size=16k,touch=1,write=1,n=4016", 16, 0, 16, 3},
        /* the shared region's 4 pages come from the page cache and are
         * written in place by every process */
        {"smp:cpus=4,procs=2,size=16k,shared=16k,share=0.25,touch=1,write=1,n=4020", 16, 4, 16, 1},
        /* one process: nothing to copy */
        {"smp:cpus=4,size=16k,shared=16k,share=0.25,touch=1,write=1,n=4020", 20, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        struct cmd_result r = run_vmsim("run --quiet --workload %s --json -", c[i].spec);
        if (r.status != 0)
            fail_msg("%s: status %d: %s", c[i].spec, r.status, r.err);
        json_t *j = json_loads(r.out, 0, NULL);
        assert_non_null(j);
        uint64_t dzw, pcmiss, copy, reuse, total, forks;
        assert_true(json_path(j, "faults.demand_zero_write", &dzw));
        assert_true(json_path(j, "faults.pagecache_miss", &pcmiss));
        assert_true(json_path(j, "faults.cow_copy", &copy));
        assert_true(json_path(j, "faults.cow_reuse", &reuse));
        assert_true(json_path(j, "faults.total", &total));
        assert_true(json_path(j, "forks", &forks));
        if ((long long)dzw != c[i].dzw || (long long)pcmiss != c[i].pcmiss ||
            (long long)copy != c[i].copy || reuse != 0 || (long long)forks != c[i].forks ||
            total != dzw + pcmiss + copy)
            fail_msg("%s: demand-zero writes %llu, page-cache misses %llu, copies %llu, "
                     "reuses %llu, forks %llu, faults %llu",
                     c[i].spec, (unsigned long long)dzw, (unsigned long long)pcmiss,
                     (unsigned long long)copy, (unsigned long long)reuse,
                     (unsigned long long)forks, (unsigned long long)total);
        json_decref(j);
        cmd_result_free(&r);
    }

    /* At scale: 4 regions of 16384 pages, touched (65536 writes), then
     * 134464 writes, 33792, 33600, 33536 and 33536 by cpus 0-3 (slices of
     * 256). Each cpu's m uniform writes reach N (1 - (1 - 1/N)^m) distinct
     * pages on average, each copied once: about 57115 copies in all, with
     * a standard deviation of about 72 (the variance of the distinct count,
     * N e^-l (1 - (1 + l) e^-l), l = m / N, summed over the cpus). */
    struct cmd_result r = run_vmsim(
        "run --quiet --workload smp:cpus=4,procs=4,touch=1,write=1,n=200000 --json -");
    assert_int_equal(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    uint64_t dzw, copy, reuse;
    assert_true(json_path(j, "faults.demand_zero_write", &dzw));
    assert_true(json_path(j, "faults.cow_copy", &copy));
    assert_true(json_path(j, "faults.cow_reuse", &reuse));
    const double pages = 16384;
    const uint64_t m[4] = {33792, 33600, 33536, 33536};
    double mean = 0, var = 0;
    for (int k = 0; k < 4; k++) {
        const double l = (double)m[k] / pages, q = exp(-l);
        mean += pages * (1 - pow(1 - 1 / pages, (double)m[k]));
        var += pages * q * (1 - (1 + l) * q);
    }
    assert_int_equal(dzw, 65536);
    assert_int_equal(reuse, 0);
    if (fabs((double)copy - mean) > 6 * sqrt(var))
        fail_msg("%llu copies, expected %.0f +- %.0f", (unsigned long long)copy, mean,
                 6 * sqrt(var));
    json_decref(j);
    cmd_result_free(&r);
}

/* ---- determinism and batching ----------------------------------------------- */

static const char *const all_specs[] = {
    "seq:n=20000,size=64k,write=0.3,code=8k",
    "stride:n=20000,size=1m,write=0.5,code=4k,fetch_every=3",
    "random:n=20000,write=0.3,code=8k",
    "zipf:n=20000,write=0.3,code=8k,fetch_every=1",
    "chase:n=20000,size=256k,write=0.3,code=12",
    "sparse:n=20000,write=0.3,code=8k",
    "gc:n=20000,size=256k,code=8k,fetch_every=7",
    "forkserver:n=20000,workers=3,cpus=2,heap=64k,slice=97,requests=1000,write=0.3",
    "sharedlibs:n=20000,procs=5,libs=7,cpus=3,slice=101",
    "bigws:n=20000,size=4m,hotsize=256k,thp=1",
    "cloud:n=20000,tenants=5,regions=3,cpus=3,slice=89,churn=0.3",
    "vms:n=20000,vms=4,cpus=3,slice=97,gc_heap=256k,gc_obj=64,db_table=1m,fork_heap=64k,"
    "fork_requests=1000",
    "smp:n=20000,cpus=3,procs=2,size=64k,shared=16k,share=0.2,touch=1,slice=97,write=0.3",
};

static void test_same_seed_same_stream(void **state)
{
    (void)state;
    for (size_t g = 0; g < sizeof all_specs / sizeof all_specs[0]; g++) {
        char spec[160];
        snprintf(spec, sizeof spec, "%s,seed=42", all_specs[g]);
        struct stream a = collect(spec, 30000, 4096), b = collect(spec, 30000, 4096);
        assert_true(streams_equal(&a, &b));
        snprintf(spec, sizeof spec, "%s,seed=43", all_specs[g]);
        struct stream c = collect(spec, 30000, 4096);
        /* the same number of accesses (cloud's churn moves the OS events) */
        assert_int_equal(stream_count_type(&a, VMSIM_EV_ACCESS),
                         stream_count_type(&c, VMSIM_EV_ACCESS));
        if (streams_equal(&a, &c))
            fail_msg("%s: seeds 42 and 43 give the same stream", all_specs[g]);
        free(a.ev);
        free(b.ev);
        free(c.ev);
    }
}

static void test_batching_invisible(void **state)
{
    (void)state;
    for (size_t g = 0; g < sizeof all_specs / sizeof all_specs[0]; g++) {
        struct stream a = collect(all_specs[g], 40000, 4096);
        struct stream b = collect(all_specs[g], 40000, 7);
        struct stream c = collect(all_specs[g], 40000, 1);
        if (!streams_equal(&a, &b) || !streams_equal(&a, &c))
            fail_msg("%s: the stream depends on the batch size", all_specs[g]);
        free(a.ev);
        free(b.ev);
        free(c.ev);
    }
}

/* ---- common parameters --------------------------------------------------------- */

static void test_count_and_end(void **state)
{
    (void)state;
    struct vmsim_source *src;
    assert_int_equal(vmsim_source_open_workload("random:n=12345", &src, NULL), 0);
    struct vmsim_event buf[1000];
    size_t total = 0;
    long got;
    while ((got = vmsim_source_next(src, buf, 1000)) > 0)
        total += (size_t)got;
    assert_int_equal(got, 0);
    assert_int_equal(total, 12345);
    assert_int_equal(vmsim_source_next(src, buf, 1000), 0); /* stays ended */
    assert_int_equal(vmsim_source_bytes(src), 0);
    vmsim_source_close(src);

    struct stream s = collect("seq", 2000000, 65536); /* default n */
    assert_int_equal(s.n, 1000000);
    free(s.ev);
}

/* vmsim_source_total: the access events a spec makes, by the rules of
 * docs/workloads.md (n data accesses plus ceil(n / fetch_every) fetches
 * with code; n of every kind for the OS workloads; 30M for default), and
 * exactly what reading the whole source delivers. */
static void test_total(void **state)
{
    (void)state;
    static const struct {
        const char *spec;
        uint64_t total;
    } cases[] = {
        {"seq:n=1000", 1000},
        {"seq:n=1001,code=4k", 1001 + 251},
        {"stride:n=8,code=4k,fetch_every=4", 8 + 2},
        {"random:n=7,code=64,fetch_every=1", 7 + 7},
        {"zipf:n=3,size=1m,code=4k,fetch_every=100", 3 + 1},
        {"chase:n=999,size=1m,code=4k,fetch_every=3", 999 + 333},
        {"sparse:n=1,code=4", 1 + 1},
        {"gc:n=5000,size=1m,code=8k,fetch_every=7", 5000 + 715},
        {"forkserver:n=100000,workers=4,requests=3000,slice=1000,heap=1m", 100000},
        {"forkserver:n=5000,recycle=0,fetch=1", 5000},
        {"sharedlibs:n=100000,procs=8,libs=4,slice=777", 100000},
        {"bigws:n=50000,size=16m,hotsize=1m,thp=1", 50000},
        {"cloud:n=100000,tenants=8,regions=4,churn=0.5,slice=500", 100000},
        {"vms:n=100000,vms=5,fork_workers=3,fork_requests=5000,slice=700,gc_heap=1m,"
         "db_table=1m,fork_heap=1m",
         100000},
        {"smp:n=100000,cpus=3,procs=3,size=1m,shared=64k,share=0.1,touch=1", 100000},
        {"smp:n=10,touch=1", 10}, /* inside the touch pass */
        {"default", 30000000},
    };
    enum { B = 1000 };
    struct vmsim_event *buf = malloc(B * sizeof *buf);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct vmsim_source *src;
        assert_int_equal(vmsim_source_open_workload(cases[c].spec, &src, NULL), 0);
        uint64_t total = vmsim_source_total(src), accesses = 0;
        long got;
        while ((got = vmsim_source_next(src, buf, B)) > 0)
            for (long i = 0; i < got; i++)
                accesses += buf[i].type == VMSIM_EV_ACCESS;
        assert_int_equal(got, 0);
        if (total != cases[c].total || accesses != total)
            fail_msg("%s: total %llu, documented %llu, delivered %llu", cases[c].spec,
                     (unsigned long long)total, (unsigned long long)cases[c].total,
                     (unsigned long long)accesses);
        assert_int_equal(vmsim_source_total(src), total); /* the same at the end */
        vmsim_source_close(src);
    }
    free(buf);

    /* more than 2^64 - 1: the largest count */
    struct vmsim_source *src;
    assert_int_equal(vmsim_source_open_workload("seq:n=0xffffffffffffffff,code=4", &src, NULL),
                     0);
    assert_int_equal(vmsim_source_total(src), UINT64_MAX);
    vmsim_source_close(src);

    /* a trace file does not know its total */
    static const char text[] = "spawn 1\nR 1 0x1000 8\nW 1 0x2000 8\n";
    char *path = write_temp(text, sizeof text - 1, ".txt");
    struct vmsim_source_error err;
    assert_int_equal(vmsim_source_open_trace(path, "text", &src, &err), 0);
    struct vmsim_event ev[8];
    assert_int_equal(vmsim_source_next(src, ev, 8), 3);
    assert_int_equal(vmsim_source_total(src), 0);
    vmsim_source_close(src);
    unlink(path);
    free(path);
}

static void test_write_fraction(void **state)
{
    (void)state;
    enum { N = 200000 };
    struct stream r = collect("random:n=200000,size=64m", N, 4096);
    struct stream w = collect("random:n=200000,size=64m,write=0.25", N, 4096);
    assert_int_equal(stream_count_kind(&r, VMSIM_WRITE), 0);
    /* binomial(200000, 0.25): sd ~ 194; allow 6 sd */
    double writes = (double)stream_count_kind(&w, VMSIM_WRITE);
    assert_true(fabs(writes - 0.25 * N) < 6 * sqrt(N * 0.25 * 0.75));
    /* the write choice does not move the addresses */
    for (size_t i = 0; i < N; i++)
        assert_int_equal(r.ev[i].addr, w.ev[i].addr);
    free(r.ev);
    free(w.ev);
    struct stream all = collect("seq:n=1000,write=1", 1000, 4096);
    assert_int_equal(stream_count_kind(&all, VMSIM_WRITE), 1000);
    free(all.ev);
}

static void test_fetch_stream(void **state)
{
    (void)state;
    /* code of 8 bytes = two 4-byte fetches, then back; one fetch, then 4 data */
    struct stream s = collect("seq:n=9,code=8,fetch_every=4", 100, 4096);
    assert_int_equal(s.n, 9 + 3); /* n + ceil(n / fetch_every) */
    const int fetch_at[] = {0, 5, 10};
    const uint64_t pc[] = {CODE_BASE, CODE_BASE + 4, CODE_BASE};
    size_t f = 0, d = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (f < 3 && (int)i == fetch_at[f]) {
            assert_int_equal(s.ev[i].kind, VMSIM_FETCH);
            assert_int_equal(s.ev[i].addr, pc[f]);
            assert_int_equal(s.ev[i].len, 4);
            assert_int_equal(s.ev[i].pid, 1);
            f++;
        } else {
            assert_int_equal(s.ev[i].kind, VMSIM_READ);
            assert_int_equal(s.ev[i].addr, BASE + 8 * d++);
        }
    }
    free(s.ev);
    s = collect("seq:n=8,code=4k,code_base=0x1000,fetch_every=1", 100, 4096);
    assert_int_equal(s.n, 16);
    assert_int_equal(s.ev[0].addr, 0x1000);
    assert_int_equal(s.ev[14].addr, 0x1000 + 4 * 7);
    free(s.ev);
}

/* ---- errors ------------------------------------------------------------------- */

struct bad_spec {
    const char *spec;
    const char *found; /* a substring of err.found */
};

static const struct bad_spec bad_specs[] = {
    {"", "end of input"},
    {"nosuch", "nosuch"},
    {"nosuch:n=1", "nosuch"},
    {"SEQ", "SEQ"},
    {"seqq", "seqq"},
    {":n=1", ":n=1"},
    {"seq:", "end of input"},
    {"seq:n", "n"},
    {"seq:=5", "=5"},
    {"seq:n=", "n="},
    {"seq:n=abc", "n=abc"},
    {"seq:n=0", "n=0"},
    {"seq:n=-1", "n=-1"},
    {"seq:n=1.5", "n=1.5"},
    {"seq:n=18446744073709551616", "n=18446744073709551616"},
    {"seq:n=0x", "n=0x"},
    {"seq:n= 5", "n= 5"},
    {"seq:n=1,,size=4k", ",size=4k"},
    {"seq:n=1,", "end of input"},
    {"seq:n=1,n=2", "n=2"},
    {"seq:bogus=1", "bogus=1"},
    {"seq:theta=1", "theta=1"},
    {"seq:size=1001", "size=1001"},
    {"seq:size=0", "size=0"},
    {"seq:size=64q", "size=64q"},
    {"seq:size=99999999999999p", "size=99999999999999p"},
    {"seq:stride=0", "stride=0"},
    {"seq:stride=4,access=8", "stride=4"},
    {"seq:access=8,stride=4", "stride=4"},
    {"seq:access=3,stride=3,size=3", "access=3"},
    {"seq:access=8192", "access=8192"},
    {"seq:access=0", "access=0"},
    {"seq:base=0x1001", "base=0x1001"},
    {"seq:base=0xfffffffffffff000", "base=0xfffffffffffff000"},
    {"seq:base=0xfffffffffffff000,stride=8", "base=0xfffffffffffff000"},
    {"chase:size=16k,base=0xffffffffffffe000", "size=16k"},
    {"gc:base=0xffffffffffffe000", "base=0xffffffffffffe000"},
    {"zipf:base=0xffffffffffffe000", "base=0xffffffffffffe000"},
    {"seq:pid=0", "pid=0"},
    {"seq:pid=4294967296", "pid=4294967296"},
    {"seq:write=1.5", "write=1.5"},
    {"seq:write=-0.1", "write=-0.1"},
    {"seq:write=nan", "write=nan"},
    {"seq:write=inf", "write=inf"},
    {"seq:write=0.5x", "write=0.5x"},
    {"seq:seed=x", "seed=x"},
    {"seq:code=6", "code=6"},
    {"seq:code=4k,code_base=0x401001", "code_base=0x401001"},
    {"seq:code=8k,code_base=0xfffffffffffff000", "code=8k"},
    {"seq:fetch_every=0", "fetch_every=0"},
    {"seq:n=11111111111111111111111111111111111111111111111111111111111111111111111",
     "n=1111111"},
    {"stride:size=5000", "size=5000"},
    {"random:size=1001", "size=1001"},
    {"random:base=0xffffffffffff0000,size=1m", "size=1m"},
    {"zipf:size=5000", "size=5000"},
    {"zipf:theta=-1", "theta=-1"},
    {"zipf:theta=11", "theta=11"},
    {"chase:node=4,access=8", "node=4"},
    {"chase:node=12", "node=12"},
    {"chase:size=32", "size=32"},
    {"chase:size=1m,nodes=20000", "nodes=20000"},
    {"chase:size=64g,node=64", "size=64g"},
    {"chase:nodes=0", "nodes=0"},
    {"sparse:regions=0", "regions=0"},
    {"sparse:regions=131072", "regions=131072"},
    {"sparse:rsize=2g", "rsize=2g"},
    {"sparse:rsize=5000", "rsize=5000"},
    {"sparse:base=0x1000", "base=0x1000"},
    {"gc:write=0.5", "write=0.5"},
    {"gc:obj=4", "obj=4"},
    {"gc:size=1000", "size=1000"},
    {"gc:live=2", "live=2"},
    {"default:n=5", "n=5"},
    {"default:", "end of input"},
    {"forkserver:workers=0", "workers=0"},
    {"forkserver:workers=1025", "workers=1025"},
    {"forkserver:cpus=0", "cpus=0"},
    {"forkserver:cpus=65", "cpus=65"},
    {"forkserver:slice=0", "slice=0"},
    {"forkserver:requests=0", "requests=0"},
    {"forkserver:recycle=2", "recycle=2"},
    {"forkserver:code=5000", "code=5000"},
    {"forkserver:code=2g", "code=2g"},
    {"forkserver:heap=0", "heap=0"},
    {"forkserver:heap=2t", "heap=2t"},
    {"forkserver:area=2g", "area=2g"},
    {"forkserver:area=6k", "area=6k"},
    {"forkserver:fetch=1.5", "fetch=1.5"},
    {"forkserver:area_share=-1", "area_share=-1"},
    {"forkserver:write=2", "write=2"},
    {"forkserver:n=0", "n=0"},
    {"forkserver:access=3", "access=3"},
    {"forkserver:pid=2", "pid=2"},
    {"forkserver:base=0x1000", "base=0x1000"},
    {"forkserver:code_base=0", "code_base=0"},
    {"sharedlibs:procs=0", "procs=0"},
    {"sharedlibs:procs=4097", "procs=4097"},
    {"sharedlibs:libs=0", "libs=0"},
    {"sharedlibs:libs=1025", "libs=1025"},
    {"sharedlibs:text=4097", "text=4097"},
    {"sharedlibs:rodata=0", "rodata=0"},
    {"sharedlibs:align=12k", "align=12k"},
    {"sharedlibs:align=2g", "align=2g"},
    {"sharedlibs:heap=6k", "heap=6k"},
    {"sharedlibs:stack=2g", "stack=2g"},
    {"sharedlibs:theta=11", "theta=11"},
    {"sharedlibs:fetch=2", "fetch=2"},
    {"sharedlibs:ro_share=1.01", "ro_share=1.01"},
    {"sharedlibs:write=x", "write=x"},
    {"bigws:size=5000", "size=5000"},
    {"bigws:size=128t", "size=128t"},
    {"bigws:hotsize=0", "hotsize=0"},
    {"bigws:size=32m", "size=32m"},                   /* below the default hotsize of 64m */
    {"bigws:hotsize=2g", "hotsize=2g"},               /* above the default size of 1g */
    {"bigws:size=1m,hotsize=2m", "hotsize=2m"},
    {"bigws:hot=1.1", "hot=1.1"},
    {"bigws:thp=2", "thp=2"},
    {"bigws:cpus=2", "cpus=2"},
    {"cloud:tenants=0", "tenants=0"},
    {"cloud:tenants=65537", "tenants=65537"},
    {"cloud:regions=0", "regions=0"},
    {"cloud:regions=4097", "regions=4097"},
    {"cloud:rsize=2g", "rsize=2g"},
    {"cloud:rsize=5000", "rsize=5000"},
    {"cloud:rsize=0", "rsize=0"},
    {"cloud:churn=2", "churn=2"},
    {"cloud:slice=0", "slice=0"},
    {"cloud:cpus=65", "cpus=65"},
    {"vms:vms=0", "vms=0"},
    {"vms:vms=256", "vms=256"},
    {"vms:service=web", "service=web"},
    {"vms:service=", "service="},
    {"vms:service=gcx", "service=gcx"},
    {"vms:vmmem=5000", "vmmem=5000"},
    {"vms:vmmem=2t", "vmmem=2t"},
    {"vms:gc_heap=5000", "gc_heap=5000"},
    {"vms:gc_heap=128t", "gc_heap=128t"},
    {"vms:gc_obj=4", "gc_obj=4"},                  /* below access (8) */
    {"vms:gc_obj=12", "gc_obj=12"},                /* not a multiple of access */
    {"vms:gc_heap=12k,gc_obj=8k", "gc_heap=12k"},
    {"vms:gc_obj=3g", "gc_obj=3g"},                /* the default heap is 1g */
    {"vms:gc_live=1.5", "gc_live=1.5"},
    {"vms:db_table=6k", "db_table=6k"},
    {"vms:db_theta=11", "db_theta=11"},
    {"vms:db_write=2", "db_write=2"},
    {"vms:fork_workers=0", "fork_workers=0"},
    {"vms:fork_workers=1025", "fork_workers=1025"},
    {"vms:fork_requests=0", "fork_requests=0"},
    {"vms:fork_heap=2t", "fork_heap=2t"},
    {"vms:fork_write=-1", "fork_write=-1"},
    {"vms:cpus=65", "cpus=65"},
    {"vms:slice=0", "slice=0"},
    {"vms:n=0", "n=0"},
    {"vms:write=0.5", "write=0.5"},
    {"vms:pid=2", "pid=2"},
    {"vms:code=4k", "code=4k"},
    {"vms:access=3", "access=3"},
    {"smp:cpus=0", "cpus=0"},
    {"smp:cpus=65", "cpus=65"},
    {"smp:procs=0", "procs=0"},
    {"smp:procs=5", "procs=5"},                    /* above the default 4 cpus */
    {"smp:cpus=2,procs=3", "procs=3"},
    {"smp:procs=3,cpus=2", "procs=3"},
    {"smp:size=0", "size=0"},
    {"smp:size=5000", "size=5000"},
    {"smp:size=2t", "size=2t"},
    {"smp:shared=6k", "shared=6k"},
    {"smp:shared=2t", "shared=2t"},
    {"smp:share=0.5", "share=0.5"},                /* no shared region */
    {"smp:shared=0,share=0.1", "share=0.1"},
    {"smp:shared=4k,share=1.5", "share=1.5"},
    {"smp:touch=2", "touch=2"},
    {"smp:slice=0", "slice=0"},
    {"smp:n=0", "n=0"},
    {"smp:write=2", "write=2"},
    {"smp:access=3", "access=3"},
    {"smp:pid=2", "pid=2"},
    {"smp:base=0x1000", "base=0x1000"},
    {"smp:code=4k", "code=4k"},
    {"smp:workers=2", "workers=2"},
    {"seq:n=1\n", "n=1"},
    {"seq:\x01=1", "\\x01=1"},
};

static void test_spec_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_specs / sizeof bad_specs[0]; i++) {
        struct vmsim_source *src = (struct vmsim_source *)&src; /* must be reset */
        struct vmsim_source_error err;
        int rc = vmsim_source_open_workload(bad_specs[i].spec, &src, &err);
        if (rc != VMSIM_EPARSE)
            fail_msg("\"%s\": returned %d, not VMSIM_EPARSE", bad_specs[i].spec, rc);
        assert_null(src);
        assert_string_equal(err.where, "workload");
        assert_true(err.expected[0] != '\0');
        if (!strstr(err.found, bad_specs[i].found))
            fail_msg("\"%s\": found %s, expected it to show %s (expected: %s)", bad_specs[i].spec,
                     err.found, bad_specs[i].found, err.expected);
    }
    /* the messages name the choices */
    struct vmsim_source *src;
    struct vmsim_source_error err;
    vmsim_source_open_workload("nosuch", &src, &err);
    assert_non_null(strstr(err.expected, "seq"));
    assert_non_null(strstr(err.expected, "default"));
    vmsim_source_open_workload("seq:bogus=1", &src, &err);
    assert_non_null(strstr(err.expected, "a parameter of seq"));
    assert_non_null(strstr(err.expected, "stride"));
    vmsim_source_open_workload("sharedlibs:bogus=1", &src, &err);
    assert_non_null(strstr(err.expected, "a parameter of sharedlibs: access, seed, n, procs"));
    assert_non_null(strstr(err.expected, ", ...")); /* align= made it one too many */
    vmsim_source_open_workload("forkserver:bogus=1", &src, &err);
    assert_non_null(strstr(err.expected, ", write"));
    /* a list too long for the message ends with whole keys and ", ..." */
    vmsim_source_open_workload("vms:bogus=1", &src, &err);
    assert_non_null(strstr(err.expected, "a parameter of vms: access, seed, n, vms, service"));
    assert_non_null(strstr(err.expected, ", ..."));
    assert_true(strlen(err.expected) < sizeof err.expected);
    assert_int_equal(vmsim_source_open_workload(NULL, &src, &err), VMSIM_EPARSE);
    assert_int_equal(vmsim_source_open_workload("seq", NULL, &err), VMSIM_EINVAL);
}

/* ---- the tables ------------------------------------------------------------------ */

static void test_names_and_defaults(void **state)
{
    (void)state;
    size_t n = 0;
    while (vmsim_workload_names[n]) {
        assert_non_null(vmsim_workload_help[n]);
        assert_true(strlen(vmsim_workload_help[n]) > 10);
        struct vmsim_source *src;
        struct vmsim_source_error err;
        int rc = vmsim_source_open_workload(vmsim_workload_names[n], &src, &err);
        if (rc)
            fail_msg("%s with defaults: %s / %s", vmsim_workload_names[n], err.expected, err.found);
        struct vmsim_event buf[64];
        assert_int_equal(vmsim_source_next(src, buf, 64), 64);
        vmsim_source_close(src);
        n++;
    }
    assert_null(vmsim_workload_help[n]);
    assert_int_equal(n, 15);
}

/* ---- default ------------------------------------------------------------------ */

static void test_default_workload(void **state)
{
    (void)state;
    /* docs/workloads.md: 3 spawns, then 3 processes x 2 phases x (4M data +
     * 1M fetches), in round-robin slices of 500000 events */
    const uint64_t total = 3 + 3 * 2 * 5000000ull;
    struct vmsim_source *src;
    assert_int_equal(vmsim_source_open_workload("default", &src, NULL), 0);
    enum { B = 4096 };
    struct vmsim_event *buf = malloc(B * sizeof *buf);
    uint64_t n = 0, fetch = 0, read = 0, write = 0, per_pid[4] = {0}, switches = 0;
    uint64_t writes_per_pid[4] = {0};
    vmsim_pid_t last = 0;
    long got;
    while ((got = vmsim_source_next(src, buf, B)) > 0) {
        for (long i = 0; i < got; i++, n++) {
            const struct vmsim_event *e = &buf[i];
            if (n < 3) {
                assert_int_equal(e->type, VMSIM_EV_SPAWN);
                assert_int_equal(e->pid, n + 1);
                continue;
            }
            assert_int_equal(e->type, VMSIM_EV_ACCESS);
            assert_int_equal(e->cpu, 0);
            assert_true(e->pid >= 1 && e->pid <= 3);
            per_pid[e->pid]++;
            if (last && e->pid != last)
                switches++;
            last = e->pid;
            fetch += e->kind == VMSIM_FETCH;
            read += e->kind == VMSIM_READ;
            write += e->kind == VMSIM_WRITE;
            writes_per_pid[e->pid] += e->kind == VMSIM_WRITE;
            if (e->kind == VMSIM_FETCH)
                assert_true(e->addr >= CODE_BASE && e->addr < CODE_BASE + 16384);
        }
    }
    assert_int_equal(got, 0);
    assert_int_equal(n, total);
    assert_int_equal(fetch, 6000000);
    assert_int_equal(read + write, 24000000);
    for (int p = 1; p <= 3; p++)
        assert_int_equal(per_pid[p], 10000000);
    assert_int_equal(switches, 3 * 10000000 / 500000 - 1);
    /* expected writes: pid 1 4M*(0.3+0.1), pid 2 4M*(0.2+0.05), pid 3 4M*(0.2+0.2) */
    const double expect[4] = {0, 1.6e6, 1.0e6, 1.6e6};
    for (int p = 1; p <= 3; p++)
        assert_true(fabs((double)writes_per_pid[p] - expect[p]) < 6000);
    free(buf);
    vmsim_source_close(src);

    /* seeded: another seed, another stream; the same seed, the same */
    struct stream a = collect("default:seed=5", 100000, 4096);
    struct stream b = collect("default:seed=5", 100000, 333);
    struct stream c = collect("default", 100000, 4096);
    assert_true(streams_equal(&a, &b));
    assert_false(streams_equal(&a, &c));
    free(a.ev);
    free(b.ev);
    free(c.ev);
}

/* ---- the address-space width (issue 11) ------------------------------------ */

/* Every event of spec, opened for a va_bits space, inside [0, 2^va_bits):
 * accesses [addr, addr + len) and mappings [addr, addr + len). Reads at
 * most max events. Returns the lowest access address. */
static uint64_t all_inside(const char *spec, unsigned va_bits, uint64_t max)
{
    struct vmsim_source *src;
    struct vmsim_source_error err;
    if (vmsim_source_open_workload_for(spec, va_bits, &src, &err) != 0)
        fail_msg("%s in %u bits: expected %s, found %s", spec, va_bits, err.expected, err.found);
    const uint64_t limit = UINT64_C(1) << va_bits;
    enum { B = 4096 };
    struct vmsim_event *buf = malloc(B * sizeof *buf);
    uint64_t n = 0, lowest = UINT64_MAX, accesses = 0;
    long got;
    while (n < max && (got = vmsim_source_next(src, buf, B)) > 0) {
        for (long i = 0; i < got; i++) {
            const struct vmsim_event *e = &buf[i];
            const bool ranged = e->type == VMSIM_EV_ACCESS || e->type == VMSIM_EV_MMAP ||
                                e->type == VMSIM_EV_MUNMAP || e->type == VMSIM_EV_MPROTECT ||
                                e->type == VMSIM_EV_MADVISE;
            if (!ranged)
                continue;
            if (e->addr >= limit || e->len > limit - e->addr)
                fail_msg("%s in %u bits: event %llu (type %u) [%#llx, +%#llx) beyond 2^%u", spec,
                         va_bits, (unsigned long long)(n + (uint64_t)i), e->type,
                         (unsigned long long)e->addr, (unsigned long long)e->len, va_bits);
            if (e->type == VMSIM_EV_ACCESS) {
                accesses++;
                if (e->addr < lowest)
                    lowest = e->addr;
            }
        }
        n += (uint64_t)got;
    }
    assert_true(accesses > 0);
    free(buf);
    vmsim_source_close(src);
    return lowest;
}

/* Every workload, with its defaults, in the sv39 (39-bit) and x86-32
 * (32-bit) spaces and the 48- and 57-bit ones: no event beyond the space. */
static void test_every_workload_inside_the_space(void **state)
{
    (void)state;
    static const unsigned widths[] = {32, 39, 48, 57};
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++)
        for (const char *const *g = vmsim_workload_names; *g; g++) {
            char spec[64];
            if (strcmp(*g, "default") == 0)
                snprintf(spec, sizeof spec, "default");
            else
                snprintf(spec, sizeof spec, "%s:n=200000", *g);
            all_inside(spec, widths[w], 2000000);
        }
}

/* The layout by hand: top = 2^(va_bits - 1), the default base top / 128.
 * 39 bits: 2^38 / 2^7 = 2^31 = 0x80000000; 32 bits: 2^31 / 2^7 = 2^24 =
 * 0x1000000; 48 bits and wider: 2^40 = 0x10000000000, as always. seq's
 * first access is at the base. A va_bits= in the spec wins over the
 * machine's width. */
static void test_layout_by_width(void **state)
{
    (void)state;
    assert_int_equal(all_inside("seq:n=10", 39, 10), UINT64_C(0x80000000));
    assert_int_equal(all_inside("seq:n=10", 32, 10), UINT64_C(0x1000000));
    assert_int_equal(all_inside("seq:n=10", 48, 10), BASE);
    assert_int_equal(all_inside("seq:n=10", 57, 10), BASE);
    assert_int_equal(all_inside("seq:n=10,va_bits=32", 48, 10), UINT64_C(0x1000000));
    assert_int_equal(all_inside("seq:n=10,base=0x2000", 32, 10), 0x2000);
    /* bigws maps its region at the layout's heap: 1 TiB in 48 bits (as
     * docs/workloads.md always said), 2^31 in 39, 2^24 in 32 */
    static const struct {
        unsigned bits;
        uint64_t at;
    } heap[] = {{48, BASE}, {39, UINT64_C(0x80000000)}, {32, UINT64_C(0x1000000)}};
    for (size_t i = 0; i < 3; i++) {
        struct vmsim_source *src;
        struct vmsim_event ev[8];
        assert_int_equal(vmsim_source_open_workload_for("bigws:n=10", heap[i].bits, &src, NULL), 0);
        long got = vmsim_source_next(src, ev, 8);
        long k = 0;
        while (k < got && ev[k].type != VMSIM_EV_MMAP)
            k++;
        assert_true(k < got);
        assert_int_equal(ev[k].addr, heap[i].at);
        vmsim_source_close(src);
    }
}

/* What does not fit is a spec error naming the parameter, not a stream of
 * bad addresses: random's 1 TiB from 2^31 in 39 bits; a base beyond 2^32;
 * bigws's 4 GiB heap from 2^24 in 32 bits; 300 sparse regions where 32 bits
 * have 255 slots; a width below 20. */
static void test_too_big_for_the_space(void **state)
{
    (void)state;
    static const struct {
        const char *spec;
        unsigned va_bits;
        const char *found, *expected;
    } c[] = {
        {"random:size=1t", 39, "size=1t", "within the 39-bit virtual address space"},
        {"seq:base=0x100000000", 32, "base=0x100000000", "within the 32-bit"},
        {"bigws:size=4g", 32, "size=4g", "inside the 32-bit virtual address space"},
        {"sparse:regions=300", 32, "regions=300", "regions at most 255"},
        {"seq", 16, "va_bits=16 (the machine's)", "from 20 to 64"},
        {"seq:va_bits=19", 48, "va_bits=19", "from 20 to 64"},
        /* smp in 32 bits: regions rounded up to 8 MiB slots from 16 MiB,
         * below 2^31 */
        {"smp:size=1g", 32, "size=1g", "below 0x80000000 (the 32-bit user half)"},
        {"smp:cpus=64", 32, "cpus=64",
         "cpus x size (each rounded up to 0x800000) + shared, from 0x1000000, below 0x80000000 "
         "(the 32-bit user half)"},
        {"smp:shared=2g", 32, "shared=2g", "from 0x1000000, below 0x80000000"},
        {"smp:cpus=64,size=4g", 39, "size=4g", "below 0x4000000000"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        struct vmsim_source *src;
        struct vmsim_source_error err;
        assert_int_equal(vmsim_source_open_workload_for(c[i].spec, c[i].va_bits, &src, &err),
                         VMSIM_EPARSE);
        if (!strstr(err.found, c[i].found) || !strstr(err.expected, c[i].expected))
            fail_msg("%s in %u bits: expected %s, found %s", c[i].spec, c[i].va_bits,
                     err.expected, err.found);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_addresses),
        cmocka_unit_test(test_seq_wraps),
        cmocka_unit_test(test_stride_one_per_page),
        cmocka_unit_test(test_random_range_and_uniform),
        cmocka_unit_test(test_zipf_top_share),
        cmocka_unit_test(test_zipf_extremes_terminate),
        cmocka_unit_test(test_chase_visits_each_node_once),
        cmocka_unit_test(test_sparse_regions),
        cmocka_unit_test(test_gc_counts),
        cmocka_unit_test(test_gc_live_set_changes),
        cmocka_unit_test(test_forkserver_stream),
        cmocka_unit_test(test_forkserver_recycling_and_mix),
        cmocka_unit_test(test_sharedlibs_stream),
        cmocka_unit_test(test_sharedlibs_popularity),
        cmocka_unit_test(test_sharedlibs_align),
        cmocka_unit_test(test_bigws),
        cmocka_unit_test(test_cloud_stream),
        cmocka_unit_test(test_vms_stream),
        cmocka_unit_test(test_vms_services),
        cmocka_unit_test(test_vms_run),
        cmocka_unit_test(test_smp_stream),
        cmocka_unit_test(test_smp_processes),
        cmocka_unit_test(test_smp_layout),
        cmocka_unit_test(test_smp_shares),
        cmocka_unit_test(test_smp_cow_storm),
        cmocka_unit_test(test_same_seed_same_stream),
        cmocka_unit_test(test_batching_invisible),
        cmocka_unit_test(test_count_and_end),
        cmocka_unit_test(test_total),
        cmocka_unit_test(test_write_fraction),
        cmocka_unit_test(test_fetch_stream),
        cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_names_and_defaults),
        cmocka_unit_test(test_default_workload),
        cmocka_unit_test(test_every_workload_inside_the_space),
        cmocka_unit_test(test_layout_by_width),
        cmocka_unit_test(test_too_big_for_the_space),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
