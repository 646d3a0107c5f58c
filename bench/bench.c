/* make bench: vmsim's throughput, each figure beside a minimal loop measured
 * in the same run, so the ratios mean the same on any machine.
 *
 *  1. TLB-hit-dominated: sequential 8-byte loads over 8 MiB, replayed,
 *     through one 64-entry 4-way LRU data TLB, no page-walk caches.
 *     Baseline: a minimal loop with the same geometry (16 sets x 4 ways,
 *     LRU stamps, addresses generated inline): what any simulator of that
 *     TLB must do, and nothing else.
 *  2. Miss-dominated: uniform random 8-byte loads over 64 GiB, 4-level
 *     walks with Skylake's TLBs and paging-structure caches, replayed after
 *     a warm-up pass that takes the page faults. Baseline: the serial floor
 *     -- for every access, a walk of a host radix tree of the same pages
 *     (four 512-entry levels), each level a load that depends on the one
 *     before, one access after another: what a naive simulator pays.
 *     Second baseline: a minimal simulator of the same machine (the same
 *     TLBs and page-walk caches, LRU, the same prefetch) on the same
 *     events: what any simulator of that machine must do, and nothing else;
 *     and a lean one (hash bytes per way, LRU as an order, a second prefetch
 *     stage) that takes the same walks: how fast such a simulator can go.
 *     Then where the time goes: the same stream with no TLB and no
 *     page-walk cache (every access walks: vmsim's pipeline alone) beside
 *     the same walks done independently, so the host overlaps them: the
 *     ceiling the host's memory sets for any prefetching or interleaving.
 *  2a. Uniform random 8-byte loads over 4 GiB read from a din text file:
 *     a fresh machine with a 64x4 TLB, so walks and faults; the reading,
 *     the walks and the faults together, in accesses per second.
 *  2b. Fault-heavy: random 8-byte accesses, half of them writes, over
 *     1 GiB in a machine of 64 MiB with swap (Clock): nearly every access
 *     takes a fault, a swap-in and an eviction, through the kernel (no
 *     baseline does that work: accesses per second alone).
 *  2c. Walks per second for each page-table organization: random 8-byte
 *     loads over 1 GiB with no TLB (every access walks), replayed.
 *  2e. With --cache (a Skylake-like L1D, L2, shared L3): streams 1 and 2
 *     with every walk reference and load through the caches, against the
 *     same streams without (measured in the same run).
 *  2d. Virtualized: stream 2 in a guest under nested paging (4-level guest
 *     on a 4-level host, host page-walk caches as the guest's, no nested
 *     TLB): every walk is a 2D walk. Ratio against stream 2 native.
 *  3. Trace reading: the same 1 M random accesses over 1 GiB as lackey,
 *     din, xdin, pin, vmsim text and binary files (plain), each against
 *     reading the same bytes and counting lines with memchr; the text
 *     formats' target is 1 GB/s, bin's more events/s than any of them.
 *  3b. Every reader, plain and through gzip, xz and zstd: the same 1 M
 *     random accesses in each format (lackey and pin with a fetch before
 *     every fourth access, ChampSim as one record per access), MB/s of the
 *     file, MB/s of the decoded stream and events/s, best of three.
 *  4. Host memory per resident simulated page, beyond the simulated
 *     page-table bytes.
 *  5. --threads: wall-clock throughput of three streams on 8 CPUs against
 *     the same on one thread (bench/threads.c).
 * Times are user CPU seconds (getrusage), the best of three; trace reading
 * counts user + system time, since part of it is read(2). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "bench.h"

#define NEV (1u << 20)
/* A Skylake-like hierarchy for the --cache lines (docs/caches.md). */
#define BENCH_CACHE "l1d=64x8x64/d:5,l2=1024x16x64:14,l3=16384x16x64/shared:50,dram=250"

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6;
}

/* User + system: reading a trace is part read(2), part parsing. */
static double cpu_total(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static struct vmsim_event *gen(const char *spec, size_t n)
{
    struct vmsim_source *src;
    struct vmsim_source_error err;
    if (vmsim_source_open_workload(spec, &src, &err)) {
        fprintf(stderr, "bench: %s: %s %s\n", spec, err.expected, err.found);
        exit(1);
    }
    struct vmsim_event *ev = malloc(n * sizeof *ev);
    size_t got = 0;
    while (got < n) {
        long k = vmsim_source_next(src, ev + got, n - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    vmsim_source_close(src);
    return ev;
}

static volatile uint64_t sink;
static volatile uint64_t zero_mask; /* always 0 */

/* The minimal loop with the measured TLB's geometry: 64 entries, 4-way
 * LRU (16 sets), addresses generated inline: base + 8 i over size bytes,
 * the seq workload's stream. */
static double baseline_sa(uint64_t base, uint64_t size, size_t n, unsigned reps)
{
    enum { WAYS = 4, SETS = 16 };
    double best = 1e9;
    for (int t = 0; t < 3; t++) {
        uint64_t tag[SETS][WAYS], stamp[SETS][WAYS], now = 0, hits = 0;
        memset(tag, 0xff, sizeof tag);
        memset(stamp, 0, sizeof stamp);
        double t0 = cpu_now();
        for (unsigned r = 0; r < reps; r++)
            for (size_t i = 0; i < n; i++) {
                const uint64_t vpn = (base + ((uint64_t)i * 8 & (size - 1))) >> 12;
                uint64_t *tg = tag[vpn & (SETS - 1)], *st = stamp[vpn & (SETS - 1)];
                unsigned w = 0;
                while (w < WAYS && tg[w] != vpn)
                    w++;
                now++;
                if (w < WAYS) {
                    hits++;
                } else {
                    w = 0;
                    for (unsigned v = 1; v < WAYS; v++)
                        w = st[v] < st[w] ? v : w;
                    tg[w] = vpn;
                }
                st[w] = now;
            }
        double dt = cpu_now() - t0;
        sink = hits;
        if (dt < best)
            best = dt;
    }
    return (double)n * reps / best;
}

/* The serial floor of the miss path: a host radix tree (4 levels of 512
 * entries, the x86-64 split of the address) holding the pages the events
 * touch, then, for each access in turn, its walk from the root, every load
 * depending on the one before. Upper levels stay in the host's caches as
 * vmsim's do; the leaf entries are as scattered as vmsim's. */
struct floor_node {
    void *e[512];
};

/* The floor's nodes come from chunks the host backs with huge pages where
 * it can, as vmsim's own page tables do (src/phys/hostmem.c): both then
 * pay the same host TLB misses, and a baseline on small pages would
 * flatter vmsim (measured 2026-12-05: the lean simulator below ran 1.3x
 * faster at 64 GiB on huge pages). One tree lives at a time. */
#define FLOOR_CHUNK (64u << 20)
static struct {
    char *chunk[64];
    unsigned n;
    size_t used; /* in the last chunk */
} floor_mem;

static struct floor_node *floor_node_new(void)
{
    if (!floor_mem.n || floor_mem.used == FLOOR_CHUNK) {
        void *c = mmap(NULL, FLOOR_CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (c == MAP_FAILED || floor_mem.n == 64) {
            fprintf(stderr, "bench: out of memory for the floor's tree\n");
            exit(1);
        }
#ifdef MADV_HUGEPAGE
        madvise(c, FLOOR_CHUNK, MADV_HUGEPAGE); /* a hint: failure is harmless */
#endif
        floor_mem.chunk[floor_mem.n++] = c;
        floor_mem.used = 0;
    }
    struct floor_node *t = (void *)(floor_mem.chunk[floor_mem.n - 1] + floor_mem.used);
    floor_mem.used += sizeof *t; /* zero: fresh anonymous memory */
    return t;
}

/* The floor's tree holding the pages of ev[0, n) (leaf entries: the address, odd). */
static struct floor_node *floor_tree(const struct vmsim_event *ev, size_t n)
{
    struct floor_node *root = floor_node_new();
    for (size_t i = 0; i < n; i++) {
        struct floor_node *t = root;
        for (int l = 3; l >= 1; l--) {
            const unsigned x = (unsigned)(ev[i].addr >> (12 + 9 * l)) & 511;
            if (!t->e[x])
                t->e[x] = floor_node_new();
            t = t->e[x];
        }
        t->e[(ev[i].addr >> 12) & 511] = (void *)(uintptr_t)(ev[i].addr | 1);
    }
    return root;
}

/* The tree's end: every node is in the chunks. */
static void floor_free(void)
{
    for (unsigned i = 0; i < floor_mem.n; i++)
        munmap(floor_mem.chunk[i], FLOOR_CHUNK);
    floor_mem.n = 0;
}

/* Each event's walk from the root of the floor's tree, after a warm-up
 * pass; best of three. Chained: each walk's address depends on the leaf
 * the walk before read (through a mask that is zero, but the compiler
 * cannot know it), so the host cannot overlap them: the serial floor.
 * Independent: nothing chains them, so the host overlaps them: the ceiling
 * its memory sets for any prefetching or interleaving of walks. */
static inline __attribute__((always_inline)) double
floor_walks(const struct vmsim_event *ev, size_t n, unsigned reps, bool chained)
{
    struct floor_node *root = floor_tree(ev, n);
    const uint64_t chain = chained ? zero_mask : 0;
    double best = 1e9;
    for (int t = 0; t < 3; t++) {
        uint64_t sum = 0;
        double t0 = cpu_now();
        for (unsigned r = 0; r < reps; r++)
            for (size_t i = 0; i < n; i++) {
                const uint64_t va = chained ? ev[i].addr ^ (sum & chain) : ev[i].addr;
                const struct floor_node *x = root;
                x = x->e[(va >> 39) & 511];
                x = x->e[(va >> 30) & 511];
                x = x->e[(va >> 21) & 511];
                sum += (uintptr_t)x->e[(va >> 12) & 511];
            }
        double dt = cpu_now() - t0;
        sink = sum;
        if (dt < best)
            best = dt;
    }
    floor_free();
    return (double)n * reps / best;
}

static double baseline_walks(const struct vmsim_event *ev, size_t n, unsigned reps)
{
    return floor_walks(ev, n, reps, true);
}

static double baseline_parallel(const struct vmsim_event *ev, size_t n, unsigned reps)
{
    return floor_walks(ev, n, reps, false);
}

/* ---- a minimal simulator of the default machine's translation ---------- */

/* One LRU set-associative cache of keys (key + 1 stored: 0 is empty) and
 * pointers, stamps for LRU: the least any simulator of these structures
 * must do. The lean variant (ways <= 16) keeps beside each set a byte of
 * each way's key hash, compared eight ways at a time (a miss then costs
 * one or two word compares, not a scan), and the set's LRU order as 4-bit
 * way numbers, most recent first (the victim is the last: no scan); its
 * empty ways start at the end in order, so both variants pick the same
 * victims. */
struct mini_set {
    uint64_t order; /* nibble i: the way i-th most recently used */
    uint8_t fp[16]; /* each way's key hash byte (odd: never 0) */
};

struct mini_cache {
    unsigned sets, ways;
    uint64_t *tag, *stamp;
    void **val;
    struct mini_set *set; /* lean */
};

static void mini_init(struct mini_cache *c, unsigned entries, unsigned ways)
{
    c->sets = entries / ways;
    c->ways = ways;
    c->tag = calloc(entries, sizeof *c->tag);
    c->stamp = calloc(entries, sizeof *c->stamp);
    c->val = calloc(entries, sizeof *c->val);
    c->set = calloc(c->sets, sizeof *c->set);
    for (unsigned i = 0; i < c->sets; i++)
        for (unsigned w = 0; w < ways; w++) /* way 0 last: the first victim */
            c->set[i].order |= (uint64_t)w << (4 * (ways - 1 - w));
}

static void mini_fini(struct mini_cache *c)
{
    free(c->tag);
    free(c->stamp);
    free(c->val);
    free(c->set);
}

#define BYTES_1 0x0101010101010101ull
#define NIBBLES_1 0x1111111111111111ull

static inline uint64_t mini_fp(uint64_t key)
{
    return ((key * 0x9e3779b97f4a7c15ull) >> 56 | 1) * BYTES_1;
}

/* Way w becomes the most recent of set s (lean). */
static inline void mini_touch(struct mini_set *s, unsigned w)
{
    const uint64_t x = s->order ^ (NIBBLES_1 * w);
    const unsigned pos = (unsigned)__builtin_ctzll((x - NIBBLES_1) & ~x & (NIBBLES_1 << 3)) / 4;
    const uint64_t below = (1ull << (4 * pos)) - 1, upto = pos == 15 ? ~0ull : (1ull << (4 * pos + 4)) - 1;
    s->order = (s->order & ~upto) | (s->order & below) << 4 | w;
}

/* Ways of set s whose hash byte matches: bit 8w + 7 for way w. */
static inline uint64_t mini_match(const uint8_t *fp, uint64_t f)
{
    uint64_t word;
    memcpy(&word, fp, 8);
    word ^= f;
    return (word - BYTES_1) & ~word & (BYTES_1 << 7);
}

static inline __attribute__((always_inline)) bool
mini_find(struct mini_cache *c, uint64_t key, uint64_t now, void **val, bool lean)
{
    const size_t set = (size_t)(key & (c->sets - 1)), b = set * c->ways;
    if (lean) {
        struct mini_set *s = &c->set[set];
        const uint64_t f = mini_fp(key);
        for (unsigned half = 0; half < c->ways; half += 8)
            for (uint64_t m = mini_match(s->fp + half, f); m; m &= m - 1) {
                const unsigned w = half + (unsigned)__builtin_ctzll(m) / 8;
                if (w < c->ways && c->tag[b + w] == key + 1) {
                    mini_touch(s, w);
                    *val = c->val[b + w];
                    return true;
                }
            }
        return false;
    }
    for (unsigned w = 0; w < c->ways; w++)
        if (c->tag[b + w] == key + 1) {
            c->stamp[b + w] = now;
            *val = c->val[b + w];
            return true;
        }
    return false;
}

static inline __attribute__((always_inline)) void
mini_fill(struct mini_cache *c, uint64_t key, void *val, uint64_t now, bool lean)
{
    const size_t set = (size_t)(key & (c->sets - 1)), b = set * c->ways;
    unsigned v = 0;
    if (lean) {
        struct mini_set *s = &c->set[set];
        v = (unsigned)(s->order >> (4 * (c->ways - 1))) & 15;
        s->fp[v] = (uint8_t)mini_fp(key);
        mini_touch(s, v);
    } else {
        for (unsigned w = 1; w < c->ways; w++)
            v = c->stamp[b + w] < c->stamp[b + v] ? w : v;
        c->stamp[b + v] = now;
    }
    c->tag[b + v] = key + 1;
    c->val[b + v] = val;
}

/* The default machine's translation of each access, minimally: L1 DTLB
 * (64 entries, 4-way), STLB (1536, 12-way), the page-walk caches of
 * level-2, -3 and -4 entries (32 8-way, 8 4-way, 4 4-way; deepest hit
 * first), the rest of the walk on the floor's tree, the fills, and
 * vmsim's prefetch of the leaf entry 8 accesses ahead: vmsim's work on the
 * same events without statistics, costs, faults, ASIDs or page sizes (it
 * takes the same number of walks: 5,242,405 in five passes of the bench's
 * random stream, vmsim's walks less its faults' retries). After a warm-up
 * pass; best of three. Lean: the lean sets, and a second prefetch stage
 * (the level-2 entry 16 accesses ahead). */
static inline __attribute__((always_inline)) double
mini_simulate(const struct vmsim_event *ev, size_t n, unsigned reps, bool lean, uint64_t *walks)
{
    struct floor_node *root = floor_tree(ev, n);
    double best = 1e9;
    for (int t = 0; t < 3; t++) {
        struct mini_cache l1, l2, pwc[5];
        mini_init(&l1, 64, 4);
        mini_init(&l2, 1536, 12);
        mini_init(&pwc[2], 32, 8);
        mini_init(&pwc[3], 8, 4);
        mini_init(&pwc[4], 4, 4);
        uint64_t now = 0, sum = 0;
        double t0 = 0;
        *walks = 0;
        for (unsigned r = 0; r <= reps; r++) {
            if (r == 1)
                t0 = cpu_now();
            for (size_t i = 0; i < n; i++) {
                if (lean && i + 16 < n) {
                    const uint64_t pa = ev[i + 16].addr;
                    const struct floor_node *q = root->e[(pa >> 39) & 511];
                    q = q->e[(pa >> 30) & 511];
                    __builtin_prefetch(&q->e[(pa >> 21) & 511]);
                }
                if (i + 8 < n) { /* vmsim's prefetch: the leaf entry 8 accesses ahead */
                    const uint64_t pa = ev[i + 8].addr;
                    const struct floor_node *q = root->e[(pa >> 39) & 511];
                    q = q->e[(pa >> 30) & 511];
                    q = q->e[(pa >> 21) & 511];
                    __builtin_prefetch(&q->e[(pa >> 12) & 511]);
                }
                const uint64_t va = ev[i].addr, vpn = va >> 12;
                void *x;
                now++;
                if (mini_find(&l1, vpn, now, &x, lean))
                    continue;
                if (!mini_find(&l2, vpn, now, &x, lean)) {
                    /* the deepest PWC hit: level k's entry names the level k-1 table */
                    unsigned k = 2;
                    while (k <= 4 && !mini_find(&pwc[k], va >> (12 + 9 * (k - 1)), now, &x, lean))
                        k++;
                    struct floor_node *tab = k <= 4 ? x : root;
                    for (unsigned j = k <= 4 ? k - 1 : 4; j >= 2; j--) {
                        struct floor_node *next = tab->e[(va >> (12 + 9 * (j - 1))) & 511];
                        mini_fill(&pwc[j], va >> (12 + 9 * (j - 1)), next, now, lean);
                        tab = next;
                    }
                    x = tab->e[vpn & 511];
                    mini_fill(&l2, vpn, x, now, lean);
                    ++*walks;
                }
                mini_fill(&l1, vpn, x, now, lean);
                sum += (uintptr_t)x;
            }
        }
        double dt = cpu_now() - t0;
        sink = sum;
        if (dt < best)
            best = dt;
        mini_fini(&l1);
        mini_fini(&l2);
        for (int k = 2; k <= 4; k++)
            mini_fini(&pwc[k]);
    }
    floor_free();
    return (double)n * reps / best;
}

static double baseline_mini(const struct vmsim_event *ev, size_t n, unsigned reps,
                            uint64_t *walks)
{
    return mini_simulate(ev, n, reps, false, walks);
}

static double baseline_lean(const struct vmsim_event *ev, size_t n, unsigned reps,
                            uint64_t *walks)
{
    return mini_simulate(ev, n, reps, true, walks);
}

/* A machine to simulate: the default one with what is set changed. */
struct run_spec {
    uint64_t mem;       /* simulated memory (0: the default) */
    const char *pt;     /* page-table organization */
    const char *tlb;    /* --tlb, --pwc, --cache specs */
    const char *pwc;
    const char *cache;
    const char *nested; /* run in a guest over a nested table of this geometry */
    size_t batch;       /* events per vmsim_run call (0: all n at once) */
    bool walks;         /* count walks per second, not accesses */
};

/* Accesses per second (or, with walks, walks per second) of the event
 * buffer replayed reps times on the machine of spec, after a warm-up pass;
 * best of three. */
static double simulate_with(const struct vmsim_event *ev, size_t n, unsigned reps,
                            const struct run_spec *spec)
{
    double best = 1e9;
    uint64_t count = (uint64_t)n * reps;
    const size_t batch = spec->batch ? spec->batch : n;
    for (int t = 0; t < 3; t++) {
        struct vmsim_config cfg;
        struct vmsim *sim;
        char why[128];
        vmsim_config_default(&cfg);
        if (spec->mem)
            cfg.phys_bytes = spec->mem;
        if (spec->pt)
            snprintf(cfg.pt, sizeof cfg.pt, "%s", spec->pt);
        if (spec->nested) {
            cfg.nested.on = true;
            vmsim_geometry_preset(spec->nested, &cfg.nested.geom);
            cfg.nested.pwc = cfg.pwc;
        }
        if ((spec->tlb && vmsim_tlb_parse(spec->tlb, &cfg, why, sizeof why)) ||
            (spec->pwc && vmsim_pwc_parse(spec->pwc, &cfg, why, sizeof why)) ||
            (spec->cache && vmsim_cache_parse(spec->cache, &cfg, why, sizeof why))) {
            fprintf(stderr, "bench: %s\n", why);
            exit(1);
        }
        if (vmsim_create(&cfg, &sim)) {
            fprintf(stderr, "bench: cannot create the simulator\n");
            exit(1);
        }
        vmsim_run(sim, ev, n); /* warm-up: page faults, tables */
        const uint64_t w0 = vmsim_get_stats(sim)->walks;
        double t0 = cpu_now();
        for (unsigned r = 0; r < reps; r++)
            for (size_t i = 0; i < n; i += batch)
                vmsim_run(sim, ev + i, n - i < batch ? n - i : batch);
        double dt = cpu_now() - t0;
        if (spec->walks)
            count = vmsim_get_stats(sim)->walks - w0;
        if (dt < best)
            best = dt;
        vmsim_destroy(sim);
    }
    return (double)count / best;
}

static double simulate(const struct vmsim_event *ev, size_t n, unsigned reps, uint64_t mem)
{
    return simulate_with(ev, n, reps, &(struct run_spec){.mem = mem});
}

static double raw_rate(const char *path, uint64_t *bytes)
{
    double best = 1e9;
    static char buf[1 << 20];
    for (int t = 0; t < 3; t++) {
        double t0 = cpu_total();
        uint64_t lines = 0, total = 0;
        /* ten passes: one pass over a small file can fit in one clock tick */
        for (int pass = 0; pass < 10; pass++) {
            FILE *f = fopen(path, "rb");
            for (size_t k; (k = fread(buf, 1, sizeof buf, f)) > 0;) {
                total += k;
                for (char *p = buf; (p = memchr(p, '\n', (size_t)(buf + k - p))) != NULL; p++)
                    lines++;
            }
            fclose(f);
        }
        double dt = cpu_total() - t0;
        sink = lines;
        *bytes = total;
        if (dt < best)
            best = dt;
    }
    return (double)*bytes / best;
}

/* ---- 3b: every format, plain and compressed ------------------------------ */

/* Write evs in format fmt with vmsim's writer, or by hand for the input-only
 * formats (lackey; ChampSim: one 64-byte input_instr per access, ip in the
 * code range, the access as source or destination operand 0). */
static void bench_write_format(const char *path, const char *fmt, const struct vmsim_event *ev,
                               size_t n)
{
    if (strcmp(fmt, "lackey") == 0 || strcmp(fmt, "champsim") == 0) {
        FILE *f = fopen(path, "wb");
        for (size_t i = 0; f && i < n; i++) {
            uint64_t ip = 0x4000000ull + (i & 4095) * 4;
            if (fmt[0] == 'l') {
                if (i % 4 == 0)
                    fprintf(f, "I  %08llx,3\n", (unsigned long long)ip);
                fprintf(f, " %c %llx,8\n", "LSLM"[i & 3], (unsigned long long)ev[i].addr);
                continue;
            }
            unsigned char r[64] = {0};
            for (int b = 0; b < 8; b++) {
                r[b] = (unsigned char)(ip >> (8 * b));
                r[(i & 1 ? 16 : 32) + b] = (unsigned char)(ev[i].addr >> (8 * b));
            }
            fwrite(r, 1, sizeof r, f);
        }
        if (f)
            fclose(f);
        return;
    }
    struct vmsim_event *mixed = malloc(n * 5 / 4 * sizeof *mixed + sizeof *mixed);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % 4 == 0 && strcmp(fmt, "bin") != 0 && strcmp(fmt, "text") != 0) {
            mixed[m] = ev[i];
            mixed[m].kind = VMSIM_FETCH;
            mixed[m].addr = 0x4000000ull + (i & 4095) * 4;
            mixed[m++].len = 4;
        }
        mixed[m] = ev[i];
        mixed[m++].kind = (uint8_t)(i & 1 ? VMSIM_WRITE : VMSIM_READ);
    }
    struct vmsim_sink *s;
    if (vmsim_sink_open(path, fmt, &s) == 0) {
        vmsim_sink_write(s, mixed, m);
        vmsim_sink_close(s);
    }
    free(mixed);
}

enum { BZ_GZIP, BZ_XZ, BZ_ZSTD };

/* Compress the file at in into out, streaming, with the usual default
 * level of each tool (gzip -6, xz -6 is slow on 100 MB: -1, zstd -3). */
static void bench_compress(int codec, const char *in, const char *out)
{
    FILE *fi = fopen(in, "rb"), *fo = fopen(out, "wb");
    static unsigned char ib[1 << 16], ob[1 << 16];
    if (!fi || !fo)
        goto done;
    if (codec == BZ_GZIP) {
        z_stream z;
        memset(&z, 0, sizeof z);
        deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
        int flush;
        do {
            z.avail_in = (uInt)fread(ib, 1, sizeof ib, fi);
            z.next_in = ib;
            flush = feof(fi) ? Z_FINISH : Z_NO_FLUSH;
            do {
                z.avail_out = sizeof ob;
                z.next_out = ob;
                deflate(&z, flush);
                fwrite(ob, 1, sizeof ob - z.avail_out, fo);
            } while (z.avail_out == 0);
        } while (flush != Z_FINISH);
        deflateEnd(&z);
    } else if (codec == BZ_XZ) {
        lzma_stream x = LZMA_STREAM_INIT;
        lzma_ret r = lzma_easy_encoder(&x, 1, LZMA_CHECK_CRC64);
        while (r == LZMA_OK) {
            if (x.avail_in == 0 && !feof(fi)) {
                x.avail_in = fread(ib, 1, sizeof ib, fi);
                x.next_in = ib;
            }
            x.avail_out = sizeof ob;
            x.next_out = ob;
            r = lzma_code(&x, feof(fi) && x.avail_in == 0 ? LZMA_FINISH : LZMA_RUN);
            fwrite(ob, 1, sizeof ob - x.avail_out, fo);
        }
        lzma_end(&x);
    } else {
        ZSTD_CCtx *c = ZSTD_createCCtx();
        ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 3);
        size_t left;
        do {
            size_t got = fread(ib, 1, sizeof ib, fi);
            ZSTD_EndDirective mode = feof(fi) ? ZSTD_e_end : ZSTD_e_continue;
            ZSTD_inBuffer zi = {ib, got, 0};
            do {
                ZSTD_outBuffer zo = {ob, sizeof ob, 0};
                left = ZSTD_compressStream2(c, &zo, &zi, mode);
                fwrite(ob, 1, zo.pos, fo);
            } while (mode == ZSTD_e_end ? left != 0 : zi.pos < zi.size);
            if (mode == ZSTD_e_end)
                break;
        } while (1);
        ZSTD_freeCCtx(c);
    }
done:
    if (fi)
        fclose(fi);
    if (fo)
        fclose(fo);
}

/* Read the whole trace, best of three: seconds, file bytes, events. */
static double bench_read(const char *path, const char *fmt, uint64_t *file_bytes,
                         uint64_t *events)
{
    double best = 1e9;
    static struct vmsim_event buf[4096];
    *events = 0;
    for (int t = 0; t < 3; t++) {
        struct vmsim_source *src;
        struct vmsim_source_error err;
        double t0 = cpu_total();
        if (vmsim_source_open_trace(path, fmt, &src, &err))
            return 0;
        uint64_t n = 0;
        long k;
        while ((k = vmsim_source_next(src, buf, 4096)) > 0)
            n += (uint64_t)k;
        if (k < 0)
            fprintf(stderr, "bench: %s: expected %s, found %s\n", vmsim_source_error(src)->where,
                    vmsim_source_error(src)->expected, vmsim_source_error(src)->found);
        *file_bytes = vmsim_source_bytes(src);
        vmsim_source_close(src);
        double dt = cpu_total() - t0;
        *events = n;
        if (dt < best)
            best = dt;
    }
    return best;
}

static uint64_t bench_file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n > 0 ? (uint64_t)n : 0;
}

static void bench_formats(const struct vmsim_event *ev, size_t n)
{
    static const char *const fmts[] = {"lackey", "text", "bin", "din", "xdin", "pin", "champsim"};
    static const char *const suffix[] = {"", ".gz", ".xz", ".zst"};
    printf("\n%-28s %10s %12s %14s %12s\n", "reading each format", "file MB", "MB/s file",
           "MB/s decoded", "events/s");
    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
        char plain[64];
        snprintf(plain, sizeof plain, "/tmp/vmsim-bench-%d-%s", (int)getpid(), fmts[f]);
        bench_write_format(plain, fmts[f], ev, n);
        uint64_t decoded = bench_file_size(plain);
        for (int c = 0; c < 4; c++) {
            char path[80];
            snprintf(path, sizeof path, "%s%s", plain, suffix[c]);
            if (c > 0)
                bench_compress(c - 1, plain, path);
            uint64_t bytes = 0, events = 0;
            double dt = bench_read(path, fmts[f], &bytes, &events);
            char name[32];
            snprintf(name, sizeof name, "%s%s", fmts[f], suffix[c]);
            if (dt > 0)
                printf("%-28s %10.1f %12.1f %14.1f %12.3g\n", name, (double)bytes / 1e6,
                       (double)bytes / dt / 1e6, (double)decoded / dt / 1e6,
                       (double)events / dt);
            else
                printf("%-28s %10.1f %12s %14s %12s\n", name, (double)bytes / 1e6, "-", "-", "-");
            if (c > 0)
                unlink(path);
        }
        unlink(plain);
    }
}

/* A trace file read and simulated on a fresh machine with these TLBs
 * and no page-walk caches: accesses per second of user + system time, the
 * reading, walks and faults included; best of three. */
static double simulate_file(const char *path, const char *fmt, const char *tlb)
{
    static struct vmsim_event buf[4096];
    double best = 1e9;
    uint64_t n = 0;
    for (int t = 0; t < 3; t++) {
        struct vmsim_config cfg;
        struct vmsim *sim;
        struct vmsim_source *src;
        struct vmsim_source_error err;
        char why[128];
        vmsim_config_default(&cfg);
        if (vmsim_tlb_parse(tlb, &cfg, why, sizeof why) || vmsim_pwc_parse("none", &cfg, why, sizeof why) ||
            vmsim_create(&cfg, &sim)) {
            fprintf(stderr, "bench: cannot create the simulator\n");
            exit(1);
        }
        double t0 = cpu_total();
        if (vmsim_source_open_trace(path, fmt, &src, &err))
            exit(1);
        n = 0;
        for (long k; (k = vmsim_source_next(src, buf, 4096)) > 0; n += (uint64_t)k)
            vmsim_run(sim, buf, (size_t)k);
        vmsim_source_close(src);
        double dt = cpu_total() - t0;
        vmsim_destroy(sim);
        if (dt < best)
            best = dt;
    }
    return (double)n / best;
}

static uint64_t rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* ---- figures: `vmsim_bench figures` (bench/throughput.sh) ---------------- */

/* Two tables for docs/performance.md's figures, as CSV on stdout:
 * throughput against the events per vmsim_run call (the pipeline looks
 * ahead within a call), and against the working set of the random stream,
 * beside the serial floor on the same events. */
static int figures(void)
{
    struct vmsim_event *seq = gen("seq:n=1048576,size=8m,stride=8", NEV);
    struct vmsim_event *rnd = gen("random:n=1048576,size=64g", NEV);
    printf("table,x,vmsim,floor,lean,independent\n");
    for (size_t batch = 1; batch <= NEV; batch *= 4) {
        printf("batch_random,%zu,%.4g,,,\n", batch,
               simulate_with(rnd, NEV, 2, &(struct run_spec){.batch = batch}));
        printf("batch_seq,%zu,%.4g,,,\n", batch,
               simulate_with(seq, NEV, 10,
                             &(struct run_spec){.tlb = "l1d=64x4/d", .pwc = "none", .batch = batch}));
        fflush(stdout);
    }
    for (unsigned gib = 1; gib <= 256; gib *= 2) {
        char spec[64];
        snprintf(spec, sizeof spec, "random:n=1048576,size=%ug", gib);
        struct vmsim_event *ev = gen(spec, NEV);
        uint64_t walks;
        const double f = baseline_walks(ev, NEV, 2), l = baseline_lean(ev, NEV, 2, &walks),
                     p = baseline_parallel(ev, NEV, 2);
        printf("ws_random,%u,%.4g,%.4g,%.4g,%.4g\n", gib, simulate(ev, NEV, 2, 0), f, l, p);
        fflush(stdout);
        free(ev);
    }
    free(seq);
    free(rnd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "figures") == 0)
        return figures();
    if (argc > 1 && strcmp(argv[1], "threads") == 0)
        return bench_threads(true);
    if (argc > 1 && strcmp(argv[1], "churn") == 0)
        return bench_churn(argc > 2 ? argv[2] : NULL, argc > 3 ? strtoull(argv[3], NULL, 10) : 0);
    if (argc > 1) {
        fprintf(stderr,
                "usage: vmsim_bench [figures|threads|churn]: expected no argument, \"figures\", "
                "\"threads\" or \"churn\", found \"%s\"\n",
                argv[1]);
        return 2;
    }
    printf("vmsim bench: user CPU time, best of 3; ratio = vmsim / baseline doing the same work\n\n");
    printf("%-44s %14s %14s %8s\n", "stream", "vmsim acc/s", "baseline", "ratio");

    struct vmsim_event *seq = gen("seq:n=1048576,size=8m,stride=8", NEV);
    double b = baseline_sa(seq[0].addr, 8ull << 20, NEV, 40);
    double s = simulate_with(seq, NEV, 40, &(struct run_spec){.tlb = "l1d=64x4/d", .pwc = "none"});
    printf("%-44s %14.3g %14.3g %8.2f   (target >= 0.50: %s)\n",
           "sequential 8 B loads, 64x4 TLB (hits)", s, b, s / b, s / b >= 0.5 ? "met" : "MISSED");

    struct vmsim_event *rnd = gen("random:n=1048576,size=64g", NEV);
    b = baseline_walks(rnd, NEV, 4);
    s = simulate(rnd, NEV, 4, 0);
    printf("%-44s %14.3g %14.3g %8.2f   (target >= 3 and >= 30 M/s: %s)\n",
           "random 8 B loads over 64 GiB (walks + PWC)", s, b, s / b,
           s / b >= 3 && s >= 30e6 ? "met" : "MISSED");
    printf("%-44s %14s %14s\n", "", "", "(serial floor)");
    uint64_t mini_walks, lean_walks;
    b = baseline_mini(rnd, NEV, 4, &mini_walks);
    printf("%-44s %14.3g %14.3g %8.2f   (baseline: the same machine, minimally)\n",
           "random over 64 GiB vs a minimal simulator", s, b, s / b);
    b = baseline_lean(rnd, NEV, 4, &lean_walks);
    printf("%-44s %14.3g %14.3g %8.2f   (baseline: the same, lean sets, 2 prefetch stages)\n",
           "random over 64 GiB vs a lean simulator", s, b, s / b);
    if (lean_walks != mini_walks) /* the two must model the same LRU */
        printf("bench: the lean simulator took %llu walks, the minimal one %llu\n",
               (unsigned long long)lean_walks, (unsigned long long)mini_walks);

    /* where the time goes: vmsim with no TLB and no PWC (each access a
     * walk, the pipeline's own cost), against the host's ceiling */
    const double bare = simulate_with(rnd, NEV, 4, &(struct run_spec){.tlb = "none", .pwc = "none"});
    b = baseline_parallel(rnd, NEV, 4);
    printf("%-44s %14.3g %14.3g %8.2f   (baseline: the same walks, independent)\n",
           "random over 64 GiB, no TLB, no PWC", bare, b, bare / b);

    const double v = simulate_with(rnd, NEV, 4, &(struct run_spec){.nested = "x86-64"});
    printf("%-44s %14.3g %14.3g %8.2f   (baseline: the native run above)\n",
           "the same in a guest, nested 4 on 4 (2D)", v, s, v / s);

    /* --cache: every walk reference and every load through three levels */
    const double cs = simulate_with(
        seq, NEV, 10, &(struct run_spec){.tlb = "l1d=64x4/d", .pwc = "none", .cache = BENCH_CACHE});
    const double sref =
        simulate_with(seq, NEV, 10, &(struct run_spec){.tlb = "l1d=64x4/d", .pwc = "none"});
    printf("%-44s %14.3g %14.3g %8.2f   (baseline: the same, no --cache)\n",
           "sequential, with caches (L1D, L2, L3)", cs, sref, cs / sref);
    const double cr = simulate_with(rnd, NEV, 2, &(struct run_spec){.cache = BENCH_CACHE});
    printf("%-44s %14.3g %14.3g %8.2f   (baseline: the native run above)\n",
           "random over 64 GiB, with caches", cr, s, cr / s);

    char din[] = "/tmp/vmsim-bench-din-XXXXXX";
    close(mkstemp(din));
    struct vmsim_event *d4 = gen("random:n=1048576,size=4g", NEV);
    bench_write_format(din, "din", d4, NEV);
    s = simulate_file(din, "din", "l1d=64x4/d");
    printf("%-44s %14.3g %14s %8s   (target >= 30 M/s: %s)\n",
           "random over 4 GiB from din text, 64x4 TLB", s, "-", "-", s >= 30e6 ? "met" : "MISSED");
    unlink(din);
    free(d4);


    struct vmsim_event *flt = gen("random:n=1048576,size=1g,write=0.5", NEV);
    s = simulate(flt, NEV, 2, 64ull << 20);
    printf("%-44s %14.3g %14s %8s\n", "fault-heavy: 1 GiB in 64 MiB, swap (Clock)", s, "-", "-");

    struct vmsim_event *wk = gen("random:n=262144,size=1g", 1u << 18);
    printf("\n%-44s %14s\n", "walks, no TLB, random over 1 GiB", "walks/s");
    for (const char *const *o = vmsim_pt_names; *o; o++)
        printf("%-44s %14.3g\n", *o,
               simulate_with(wk, 1u << 18, 4,
                             &(struct run_spec){.pt = *o, .tlb = "none", .walks = true}));
    free(wk);

    struct vmsim_event *mix = gen("random:n=1048576,size=1g", NEV);
    printf("\n%-44s %14s %14s %8s %12s\n", "trace reading (plain files)", "vmsim MB/s",
           "memchr MB/s", "ratio", "events/s");
    static const char *const rfmts[] = {"lackey", "din", "xdin", "pin", "text", "bin"};
    double text_events = 0;
    for (size_t i = 0; i < sizeof rfmts / sizeof rfmts[0]; i++) {
        char path[64];
        snprintf(path, sizeof path, "/tmp/vmsim-bench-read-%d-%s", (int)getpid(), rfmts[i]);
        bench_write_format(path, rfmts[i], mix, NEV);
        uint64_t nb = 0, rb = 0, events = 0;
        const double dt = bench_read(path, rfmts[i], &nb, &events);
        const double r = dt > 0 ? (double)nb / dt : 0, raw = raw_rate(path, &rb);
        const double eps = dt > 0 ? (double)events / dt : 0;
        const bool bin = strcmp(rfmts[i], "bin") == 0;
        if (!bin && eps > text_events)
            text_events = eps;
        printf("%-44s %14.1f %14.1f %8.2f %12.3g   (target %s: %s)\n", rfmts[i], r / 1e6,
               raw / 1e6, raw ? r / raw : 0, eps,
               bin ? "events/s above every text format" : ">= 1 GB/s",
               (bin ? eps > text_events : r >= 1e9) ? "met" : "MISSED");
        unlink(path);
    }

    bench_formats(mix, NEV);

    /* Host memory: write-touch 2^21 random pages (8 GiB) once. */
    struct vmsim_event *pages = gen("random:n=2097152,size=64g,access=8,write=1", 2u << 20);
    struct vmsim_config cfg;
    struct vmsim *sim;
    vmsim_config_default(&cfg);
    vmsim_create(&cfg, &sim);
    uint64_t before = rss_bytes();
    vmsim_run(sim, pages, 2u << 20);
    uint64_t grew = rss_bytes() - before;
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    struct vmsim_pt_footprint fp;
    vmsim_footprint(sim, &fp);
    uint64_t resident = st->faults_zero_write;
    double per = ((double)grew - (double)(fp.bytes + fp.root_bytes)) / (double)resident;
    printf("\nhost memory: %llu resident simulated pages, %.1f MiB simulated page tables,\n"
           "  host RSS grew %.1f MiB: %.1f bytes per resident page beyond the page tables "
           "(target <= 48: %s)\n",
           (unsigned long long)resident, (double)(fp.bytes + fp.root_bytes) / 1048576.0,
           (double)grew / 1048576.0, per, per <= 48 ? "met" : "MISSED");
    vmsim_destroy(sim);
    free(seq);
    free(rnd);
    free(flt);
    free(mix);
    free(pages);
    return bench_threads(false);
}
