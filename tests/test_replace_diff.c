/* Memory pressure, refereed: seeded random page-reference streams (reads
 * and writes over a few hundred pages in up to ~480 regions of 2 MiB, so
 * that page tables take many of the frames too; in half of them munmaps of
 * a few pages, a 2 MiB or a 1 GiB region and exits, in a quarter also forks
 * of up to RM_MAX_PID processes; in three quarters of those that run no
 * khugepaged, and in half as many more cases (seeds from FILE_SEEDS on, no
 * khugepaged), files and shared memory: each new process first mmaps a
 * share of the regions, each
 * mmap a private or shared mapping of one of three files, shared anonymous
 * memory or anonymous memory, and with munmaps some of those regions, or
 * parts of them, are mapped again; a file page lies in two regions at
 * most, so one process may map it at two addresses) run on 1 or 2 MiB of
 * memory, where every policy evicts all the time, through libvmsim's public
 * API and through the reference model of tests/ref/replmodel.c (written
 * from docs/kernel.md, no code shared with src/), compared exactly under
 * FIFO, Clock, LRU and OPT:
 *
 *   - per event, the kinds of fault it took (vmsim_translate), the last
 *     part of every stream being a read of every page in address order, so
 *     the resident set at the end shows as that pass's faults;
 *   - per run (vmsim_run in random batches, the plain per-access path),
 *     faults by kind, evictions, clean drops, swap reads and writes, the
 *     swap slots' peak, frames used and their peak, page tables by level,
 *     page-cache hits and misses, file reads and writes, TLB shootdowns
 *     (tlb.invalidations), and the cycles, with every cost but `fault` and
 *     `io` set to 0 (the TLB, whose size changes from case to case, must
 *     not matter).
 *
 * A third of the streams run with a swap device too small for them, so
 * that victims that need a slot are passed over (and some faults run out
 * of memory).
 *
 * Half the streams (all on 512 frames) also run khugepaged (2 MiB pages, --thp always, limits
 * drawn; draw_khp), and its statistics are compared too: which blocks a
 * scan judges and each block's verdict under pressure, max_ptes_swap and
 * its referenced rule included. With 512 frames or fewer no aligned 2 MiB
 * block is ever free, so nothing collapses (the collapse itself, its swap
 * reads and the swap cache: test_khugepaged, by hand).
 *
 * OPT is compared exactly too, on every stream: its ties (frames never
 * used again) go by the documented rule, the one referenced longest ago,
 * which decides which of them is written to swap and which dropped clean
 * (and, with forks or a small swap, later faults too).
 * Random replacement draws from vmsim's generator in an order the documents
 * do not fix, so it is held to what every policy must give on the same
 * stream: the demand-zero and table counts, evictions = pages brought in -
 * room for them, no fewer swap-ins than OPT.
 *
 * A mismatch is shrunk (delta debugging over events) and printed as a text
 * trace with the `vmsim run` command line that replays it.
 * VMSIM_REPL_SEED and VMSIM_REPL_CASES choose another seed and count (the
 * cases that all map files are VMSIM_REPL_CASES / 2 more, from the seed
 * plus FILE_SEEDS). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/replmodel.h"
#include "test_rng.h"
#include "testutil.h"
#include "vmsim/vmsim.h"

#ifdef VMSIM_REPL_SMALL /* sanitizer builds */
#define DEFAULT_CASES 16
#else
#define DEFAULT_CASES 60
#endif

#define COST "access=0,pt_ref=0,fault=1000,pwc=0,io=100000"
#define COST_FAULT 1000
#define COST_IO 100000
#define BASE_VA 0x10000000000ull /* 1 TiB: L3 index 2 */
#define SWAP_DEFAULT (256ull << 30) /* vmsim's --swap default */
#define UNLIMITED (SWAP_DEFAULT / 4096)
#define KIND_OTHER 0x8000 /* a fault kind the model never takes */
#define FILE_SEEDS 1000000 /* the seeds of the cases that all map files: seed + this */

static const char *const policy_names[] = {"fifo", "clock", "lru", "opt"};
/* TLBs of every size: none, tiny, the default-like two levels. */
static const char *const tlbs[] = {"none", "l1=4x4:0", "l1d=64x4/d:0,l2=1536x12:0"};

/* ---- one case ---- */

struct rcase {
    uint64_t mem;    /* bytes */
    uint64_t swap;   /* bytes */
    const char *tlb;
    uint64_t batch_seed;
    struct rm_access *a;
    size_t n;
    bool os;   /* munmaps and exits among the accesses */
    bool fork; /* and forks: up to RM_MAX_PID processes */
    bool files; /* mmaps of files, shared files and shared anonymous memory */
    struct rm_khp khp; /* khugepaged, every = 0: off */
    char khp_spec[128];
};

static int cmp_u64(const void *x, const void *y)
{
    const uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* Half the cases run khugepaged too, and all of those on 512 frames (its
 * own generator, so the streams stay those of the others): scans every 5 to 124 accesses, of 1 to
 * 6 blocks, limits at their edges (0, Linux's defaults, all 511) or drawn,
 * so that each of collapse_fail_none, _swap, _shared and _alloc is the
 * verdict of many blocks. The streams' blocks hold too few pages to have
 * the 256 referenced that a block with swapped entries needs, so on 512
 * frames (`room` for pages, about) they end with a dense block before the
 * last pass: a block of its own whose pages, about as many as fit, are
 * written, then its newest half read while the scans go round, so that
 * it holds hundreds of young pages and none to a few dozen swapped out
 * when a scan judges it. */
/* Does draw_khp turn khugepaged on? Its first draw, the same. */
static bool khp_drawn(uint64_t seed, bool big)
{
    struct test_rng g = {seed * 0x9e3779b97f4a7c15ull + 11};
    return !(below(&g, 2) && !big);
}

static void draw_khp(uint64_t seed, struct rcase *c, bool big, uint64_t room, uint64_t npages)
{
    struct test_rng g = {seed * 0x9e3779b97f4a7c15ull + 11};
    c->khp = (struct rm_khp){0};
    c->khp_spec[0] = '\0';
    if (below(&g, 2) && !big) /* khp_drawn */
        return;
    const uint32_t none[] = {0, 511, 384, (uint32_t)below(&g, 512)};
    const uint32_t swap[] = {0, 1, 64, (uint32_t)below(&g, 48)};
    const uint32_t shared[] = {0, 256, 511, (uint32_t)below(&g, 16)};
    c->khp = (struct rm_khp){.every = 5 + below(&g, 120), .pages = 1 + below(&g, 3072),
                             .max_none = none[below(&g, 4)], .max_swap = swap[below(&g, 4)],
                             .max_shared = shared[below(&g, 4)]};
    snprintf(c->khp_spec, sizeof c->khp_spec,
             "every=%llu,pages=%llu,max_ptes_none=%u,max_ptes_swap=%u,max_ptes_shared=%u",
             (unsigned long long)c->khp.every, (unsigned long long)c->khp.pages,
             c->khp.max_none, c->khp.max_swap, c->khp.max_shared);
    if (!big || room < 280)
        return;
    const uint64_t dense = room - 24 + below(&g, 64), reads = 300 + below(&g, 600);
    const uint64_t block = (BASE_VA + (2ull << 39)) >> 12; /* an L3 of its own */
    const size_t body = c->n - npages, extra = dense + reads;
    struct rm_access *a = realloc(c->a, (c->n + extra) * sizeof *a);
    assert_non_null(a);
    memmove(&a[body + extra], &a[body], npages * sizeof *a);
    const uint8_t pid = body && a[body - 1].op == RM_ACCESS ? a[body - 1].pid : 1;
    for (size_t j = 0; j < dense; j++) /* the first ones written are the first evicted */
        a[body + j] = (struct rm_access){.vpn = block + j, .write = true, .pid = pid};
    for (size_t j = 0; j < reads; j++) /* while scans go round: the newest half, resident */
        a[body + dense + j] = (struct rm_access){.vpn = block + dense / 2 + j % (dense / 2),
                                                 .pid = pid};
    c->a = a;
    c->n += extra;
}

/* Pages in `regions` regions of 2 MiB spread over up to 4 GiB areas (each
 * its own L2 table) and two 512 GiB areas (two L3 tables); a stream of
 * hot-set, uniform, scan and loop segments; then a read of every page. */
static void make_case(uint64_t seed, struct rcase *c, bool files_only)
{
    struct test_rng g = {seed * 0x2545f4914f6cdd1dull + 7};
    const uint64_t frames = below(&g, 4) ? 256 : 512;
    c->mem = frames * 4096;
    c->tlb = tlbs[below(&g, 3)];
    c->batch_seed = below(&g, 4) ? rnd(&g) | 1 : 0;
    /* tables: the root, up to 2 L3s and 4 L2s, one L1 per region; at
     * least 24 frames left for pages, and 1.3 to 3 times as many pages */
    const unsigned wpct = 30 + (unsigned)below(&g, 65);
    c->os = below(&g, 2);
    c->fork = c->os && below(&g, 2);
    /* with forks, up to 4 processes' tables must fit: no out of memory */
    uint64_t regions = 1 + below(&g, c->fork ? frames / 8 : below(&g, 2) ? frames - 32 : 8);
    const uint64_t room = frames - regions - 13;
    uint64_t npages = (room + room / 3 + below(&g, room * 5 / 3)) * 100 / wpct;
    if (npages > 1500)
        npages = 1500;
    if (regions * 256 < npages)
        regions = npages / 256 + 1;
    if (npages < regions)
        npages = regions;
    /* a third of the cases: a swap device that fills up, so that victims
     * are passed over and some faults run out of memory */
    c->swap = below(&g, 3) ? SWAP_DEFAULT : (room / 2 + below(&g, room * 2)) * 4096;
    uint64_t *vpn = malloc(npages * sizeof *vpn);
    assert_non_null(vpn);
    uint64_t *rbase = malloc(regions * sizeof *rbase);
    assert_non_null(rbase);
    for (uint64_t r = 0; r < regions; r++) {
        const uint64_t l3 = below(&g, 4) ? 0 : 1, l2 = below(&g, 4);
        const uint64_t va = BASE_VA + (l3 << 39) + (l2 << 30) + ((r * 7 + below(&g, 5)) % 512 << 21);
        bool dup = false; /* distinct regions, each its own L1 table */
        for (uint64_t q = 0; q < r && !dup; q++)
            dup = rbase[q] == va >> 12;
        if (dup) {
            r--;
            continue;
        }
        rbase[r] = va >> 12;
    }
    /* Files (three quarters of the cases without khugepaged, whose scan of
     * file mappings the model leaves out): each region may be mapped from
     * one of three files, 2 MiB from its page pgoff, by the k-th region of
     * that file from page 256 k. So a file page lies in two regions at
     * most, partly overlapping: one process may map it at two addresses
     * (one frame, two mappings), every process at the same ones. A region
     * is file-capable with a per-case share; each mmap of it picks its
     * kind. Every draw for files comes from a generator of its own, so the
     * other cases' streams stay what they were. */
    struct test_rng gf = {seed * 0x94d049bb133111ebull + 3};
    c->files = files_only || (!khp_drawn(seed, frames == 512) && below(&gf, 4) != 0);
    bool *filed = calloc(regions, sizeof *filed);
    uint32_t *rfile = calloc(regions, sizeof *rfile), *rpgoff = calloc(regions, sizeof *rpgoff);
    assert_non_null(filed);
    assert_non_null(rfile);
    assert_non_null(rpgoff);
    uint64_t nfiled = 0;
    static const unsigned mixes[][4] = {/* private file, shared file, shared anon, anon */
                                        {40, 30, 20, 10}, {0, 100, 0, 0}, {100, 0, 0, 0},
                                        {0, 0, 100, 0},   {30, 50, 20, 0}};
    const unsigned *mix = mixes[below(&gf, sizeof mixes / sizeof mixes[0])];
    if (c->files) {
        const unsigned share = 30 + (unsigned)below(&gf, 71);
        uint32_t cnt[4] = {0};
        for (uint64_t r = 0; r < regions; r++) {
            if (below(&gf, 100) >= share)
                continue;
            filed[r] = true;
            rfile[r] = 1 + (uint32_t)below(&gf, 3);
            rpgoff[r] = 256 * cnt[rfile[r]]++;
            nfiled++;
        }
    }
    for (uint64_t i = 0; i < npages; i++) {
        for (;;) { /* distinct pages */
            const uint64_t v = rbase[i < regions ? i : below(&g, regions)] + below(&g, 512);
            bool dup = false;
            for (uint64_t j = 0; j < i && !dup; j++)
                dup = vpn[j] == v;
            if (!dup) {
                vpn[i] = v;
                break;
            }
        }
    }
    const size_t body = 1200 + below(&g, 1800);
    c->n = body + npages;
    c->a = malloc(c->n * sizeof *c->a);
    assert_non_null(c->a);
    size_t n = 0;
    bool alive[RM_MAX_PID + 1] = {false};
    /* an mmap of [v, v + pages) inside region r, of a kind drawn from the mix */
#define MMAP_AT(r_, v_, pages_)                                                                    \
    do {                                                                                           \
        const uint64_t kk = below(&gf, 100);                                                       \
        const unsigned kind = kk < mix[0] ? 0 : kk < mix[0] + mix[1] ? 1                           \
                              : kk < mix[0] + mix[1] + mix[2]       ? 2                            \
                                                                    : 3;                           \
        c->a[n++] = (struct rm_access){                                                            \
            .op = RM_MMAP, .vpn = (v_), .pages = (uint32_t)(pages_), .pid = pid,                   \
            .shared = kind == 1 || kind == 2, .file = kind < 2 ? rfile[r_] : 0,                     \
            .pgoff = kind < 2 ? rpgoff[r_] + (uint32_t)((v_) - rbase[r_]) : 0};                     \
    } while (0)
    uint8_t pid = 1; /* the process of the segment */
    while (n < body) {
        uint8_t live[RM_MAX_PID], dead[RM_MAX_PID], nlive = 0, ndead = 0;
        for (uint8_t q = 1; q <= RM_MAX_PID; q++) {
            if (alive[q])
                live[nlive++] = q;
            else
                dead[ndead++] = q;
        }
        if (nlive)
            pid = live[below(&g, nlive)];
        if (c->fork && nlive && ndead && below(&g, 4) == 0) {
            const uint8_t child = dead[below(&g, ndead)];
            c->a[n++] = (struct rm_access){.op = RM_FORK, .pid = pid, .child = child};
            alive[child] = true;
            pid = below(&g, 2) ? child : pid;
        } else if (c->os && nfiled && below(&gf, 6) == 0) { /* an mmap over a file region */
            const uint64_t v = vpn[below(&gf, npages)], base = v & ~511ull;
            uint64_t r = 0;
            while (rbase[r] != base)
                r++;
            if (filed[r]) {
                const uint64_t from = v - base < 4 ? base : v - below(&gf, 4);
                const uint64_t len = below(&gf, 2) ? base + 512 - from : 1 + below(&gf, 64);
                MMAP_AT(r, from, from + len > base + 512 ? base + 512 - from : len);
            }
        } else if (c->os && below(&g, 3) == 0) { /* a few pages, 2 MiB or 1 GiB */
            const uint64_t v = vpn[below(&g, npages)], k = below(&g, 8);
            c->a[n++] = k < 4 ? (struct rm_access){.vpn = v - k, .op = RM_MUNMAP,
                                                   .pages = 1 + (uint32_t)below(&g, 64)}
                        : k < 7 ? (struct rm_access){.vpn = v & ~511ull, .op = RM_MUNMAP,
                                                     .pages = 512}
                                : (struct rm_access){.vpn = v & ~((1ull << 18) - 1),
                                                     .op = RM_MUNMAP, .pages = 1u << 18};
            c->a[n - 1].pid = pid;
        } else if (c->os && below(&g, c->fork ? 6 : 12) == 0) {
            c->a[n++] = (struct rm_access){.op = RM_EXIT, .pid = pid};
            alive[pid] = false; /* its next access makes it anew */
        }
        if (n >= body)
            break;
        if (!alive[pid] && n + nfiled < body) /* a new process maps its files first */
            for (uint64_t r = 0; r < regions; r++)
                if (filed[r])
                    MMAP_AT(r, rbase[r], 512);
        alive[pid] = true; /* its accesses make it, if it is not there */
        const uint64_t kind = below(&g, 4), len = 50 + below(&g, 400);
        const uint64_t hot = 8 + below(&g, 200), from = below(&g, npages);
        for (uint64_t j = 0; j < len && n < body; j++) {
            uint64_t p;
            switch (kind) {
            case 0: p = below(&g, 10) < 8 ? (from + below(&g, hot)) % npages : below(&g, npages); break;
            case 1: p = below(&g, npages); break;
            case 2: p = (from + j) % npages; break;
            default: p = (from + j % hot) % npages; break;
            }
            c->a[n++] = (struct rm_access){.vpn = vpn[p], .write = below(&g, 100) < wpct,
                                           .pid = pid};
        }
    }
#undef MMAP_AT
    free(rbase);
    free(filed);
    free(rfile);
    free(rpgoff);
    qsort(vpn, npages, sizeof *vpn, cmp_u64);
    for (uint64_t i = 0; i < npages; i++)
        c->a[n++] = (struct rm_access){.vpn = vpn[i]};
    c->n = n;
    free(vpn);
    if (files_only) {
        c->khp = (struct rm_khp){0};
        c->khp_spec[0] = '\0';
    } else {
        draw_khp(seed, c, frames == 512, room, npages);
    }
}

#define PID(x) ((x).pid ? (x).pid : 1u)

static struct vmsim_event *events(const struct rm_access *a, size_t n)
{
    struct vmsim_event *ev = malloc((n ? n : 1) * sizeof *ev);
    assert_non_null(ev);
    for (size_t i = 0; i < n; i++) /* somewhere inside the page, never across it */
        ev[i] = a[i].op == RM_MUNMAP ? ev_os(VMSIM_EV_MUNMAP, 0, PID(a[i]), a[i].vpn << 12,
                                             (uint64_t)a[i].pages << 12)
                : a[i].op == RM_MMAP
                    ? ev_os(VMSIM_EV_MMAP,
                            VMSIM_PROT_R | VMSIM_PROT_W | (a[i].shared ? VMSIM_MAP_SHARED : 0),
                            PID(a[i]), a[i].vpn << 12, (uint64_t)a[i].pages << 12)
                : a[i].op == RM_EXIT ? ev_os(VMSIM_EV_EXIT, 0, PID(a[i]), 0, 0)
                : a[i].op == RM_FORK ? ev_os(VMSIM_EV_FORK, 0, PID(a[i]), a[i].child, 0)
                                     : ev_access(a[i].write ? VMSIM_WRITE : VMSIM_READ, PID(a[i]),
                                                 (a[i].vpn << 12) + ((a[i].vpn * 40) & 0xff8));
    for (size_t i = 0; i < n; i++)
        if (a[i].op == RM_MMAP) {
            ev[i].file = a[i].file;
            ev[i].pgoff = a[i].pgoff;
        }
    return ev;
}

static int make_config(const struct rcase *c, const char *policy, struct vmsim_config *cfg)
{
    char why[256], mem[32], swap[32];
    vmsim_config_default(cfg);
    snprintf(mem, sizeof mem, "%llum", (unsigned long long)(c->mem >> 20));
    snprintf(swap, sizeof swap, "%lluk", (unsigned long long)(c->swap >> 10));
    const char *opt[][2] = {{"geometry", "x86-64"}, {"mem", mem},       {"swap", swap},
                            {"replace", policy},    {"tlb", c->tlb},    {"pwc", "none"},
                            {"cost", COST}};
    /* khugepaged: 2 MiB pages for anonymous memory, every block of it
     * eligible; with 512 frames or fewer none of them finds its frames */
    const char *khp[][2] = {{"page-size", "2m"}, {"thp", "always"}, {"khugepaged", c->khp_spec}};
    for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++)
        if (vmsim_config_option(cfg, opt[i][0], opt[i][1], why, sizeof why)) {
            fprintf(stderr, "--%s %s: %s\n", opt[i][0], opt[i][1], why);
            return -1;
        }
    for (size_t i = 0; c->khp.every && i < sizeof khp / sizeof khp[0]; i++)
        if (vmsim_config_option(cfg, khp[i][0], khp[i][1], why, sizeof why)) {
            fprintf(stderr, "--%s %s: %s\n", khp[i][0], khp[i][1], why);
            return -1;
        }
    return vmsim_config_finish(cfg, why, sizeof why);
}

static void command_line(const struct rcase *c, const char *policy, const char *path, char *buf,
                         size_t len)
{
    snprintf(buf, len,
             "vmsim run --trace text:%s --geometry x86-64 --mem %llum --swap %lluk --replace %s "
             "--tlb '%s' --pwc none --cost '%s'%s%s",
             path, (unsigned long long)(c->mem >> 20), (unsigned long long)(c->swap >> 10), policy,
             c->tlb, COST, c->khp.every ? " --page-size 2m --thp always --khugepaged " : "",
             c->khp_spec);
}

/* ---- the library's figures ---- */

static const char *const stat_names[] = {
    "faults.total",    "faults.demand_zero_read", "faults.demand_zero_write",
    "faults.cow_zero", "faults.cow_copy",         "faults.cow_reuse",
    "faults.swap_in",  "faults.oom",              "reclaim.evictions",
    "reclaim.dropped_clean", "swap.reads",        "swap.writes",
    "swap.slots_peak", "memory.frames_used",      "memory.frames_peak",
    "page_tables.tables_by_level[0]", "page_tables.tables_by_level[1]",
    "page_tables.tables_by_level[2]", "page_tables.tables_by_level[3]", "cycles",
    "faults.pagecache_hit", "faults.pagecache_miss", "file.reads", "file.writes",
    "tlb.invalidations",
    "khugepaged.scans", "khugepaged.full_scans", "khugepaged.pages_scanned",
    "khugepaged.collapses", "khugepaged.collapse_fail_none", "khugepaged.collapse_fail_swap",
    "khugepaged.collapse_fail_shared", "khugepaged.collapse_fail_alloc", "khugepaged.pages_copied",
};
#define NSTATS (sizeof stat_names / sizeof stat_names[0])
enum {
    S_TOTAL, S_ZR, S_ZW, S_COWZ, S_COWC, S_REUSE, S_SWAPIN, S_OOM, S_EVICT, S_CLEAN, S_SREAD,
    S_SWRITE, S_SPEAK, S_USED, S_PEAK, S_T0, S_T1, S_T2, S_T3, S_CYCLES, S_PCHIT, S_PCMISS,
    S_FREAD, S_FWRITE, S_INVAL, S_KSCANS, S_KFULL, S_KSCANNED, S_KCOLLAPSES, S_KNONE, S_KSWAP,
    S_KSHARED, S_KALLOC, S_KCOPIED
};

/* vmsim's statistics after the plain run (random batches), and with
 * kinds set, each access's fault kinds from a second run through
 * vmsim_translate, as RM_K_* bits. */
static int run_lib(const struct rcase *c, const char *policy, const struct rm_access *a, size_t n,
                   uint64_t *stats, uint16_t *kinds)
{
    struct vmsim_config cfg;
    if (make_config(c, policy, &cfg))
        return -1;
    struct vmsim_event *ev = events(a, n);
    const bool opt = strcmp(policy, "opt") == 0;
    struct vmsim *sim;
    if (vmsim_create(&cfg, &sim)) {
        free(ev);
        return -1;
    }
    if (opt && n && vmsim_plan(sim, ev, n))
        goto fail;
    struct test_rng g = {c->batch_seed};
    for (size_t i = 0; i < n;) {
        size_t b = c->batch_seed ? 1 + below(&g, below(&g, 2) ? 8 : 1024) : n - i;
        if (b > n - i)
            b = n - i;
        if (vmsim_run(sim, ev + i, b))
            goto fail;
        i += b;
    }
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    struct vmsim_pt_footprint fp;
    memset(&fp, 0, sizeof fp);
    vmsim_footprint(sim, &fp);
    for (size_t i = 0; i < S_KSCANS; i++)
        if (!stat_value(st, &fp, &cfg, stat_names[i], &stats[i]))
            stats[i] = UINT64_MAX; /* no such statistic: a mismatch */
    const struct vmsim_khugepaged_stats *kh = &st->khugepaged; /* not in VMSIM_STATS */
    const uint64_t khs[] = {kh->scans,     kh->full_scans, kh->pages_scanned,
                            kh->collapses, kh->fail_none,  kh->fail_swap,
                            kh->fail_shared, kh->fail_alloc, kh->pages_copied};
    memcpy(&stats[S_KSCANS], khs, sizeof khs);
    vmsim_destroy(sim);
    if (!kinds) {
        free(ev);
        return 0;
    }
    if (vmsim_create(&cfg, &sim)) {
        free(ev);
        return -1;
    }
    if (opt && n && vmsim_plan(sim, ev, n))
        goto fail;
    static const struct {
        unsigned vm, rm;
    } map[] = {{VMSIM_FAULT_ZERO_READ, RM_K_ZERO_READ},   {VMSIM_FAULT_ZERO_WRITE, RM_K_ZERO_WRITE},
               {VMSIM_FAULT_COW_ZERO, RM_K_COW_ZERO},     {VMSIM_FAULT_COW_REUSE, RM_K_COW_REUSE},
               {VMSIM_FAULT_SWAP_IN, RM_K_SWAP_IN},       {VMSIM_FAULT_OOM, RM_K_OOM},
               {VMSIM_FAULT_COW_COPY, RM_K_COW_COPY},     {VMSIM_FAULT_PAGECACHE_HIT, RM_K_PC_HIT},
               {VMSIM_FAULT_PAGECACHE_MISS, RM_K_PC_MISS}};
    for (size_t i = 0; i < n; i++) {
        struct vmsim_translation t;
        if (vmsim_translate(sim, &ev[i], &t))
            goto fail;
        kinds[i] = 0;
        for (size_t j = 0; j < sizeof map / sizeof map[0]; j++)
            if (t.fault_kinds & (1u << map[j].vm))
                kinds[i] |= (uint16_t)map[j].rm;
        if (t.fault_kinds & ~(1u << VMSIM_FAULT_ZERO_READ | 1u << VMSIM_FAULT_ZERO_WRITE |
                              1u << VMSIM_FAULT_COW_ZERO | 1u << VMSIM_FAULT_COW_REUSE |
                              1u << VMSIM_FAULT_SWAP_IN | 1u << VMSIM_FAULT_OOM |
                              1u << VMSIM_FAULT_COW_COPY | 1u << VMSIM_FAULT_PAGECACHE_HIT |
                              1u << VMSIM_FAULT_PAGECACHE_MISS))
            kinds[i] |= KIND_OTHER; /* a kind the model never takes */
    }
    vmsim_destroy(sim);
    free(ev);
    return 0;
fail:
    vmsim_destroy(sim);
    free(ev);
    return -1;
}

/* ---- comparing ---- */

static void add(char *diff, size_t len, const char *fmt, unsigned long long a, unsigned long long b,
                const char *name)
{
    const size_t at = diff ? strlen(diff) : 0;
    if (diff && at < len)
        snprintf(diff + at, len - at, fmt, name, a, b);
}

static const char *kind_text(uint16_t k, char *buf, size_t len)
{
    static const char *const names[16] = {"zero_read", "zero_write", "cow_zero",
                                          "cow_reuse", "swap_in",    "oom",
                                          "cow_copy",  "pagecache_hit", "pagecache_miss",
                                          [15] = "other"};
    buf[0] = '\0';
    for (unsigned b = 0; b < 16; b++)
        if (k & (1u << b))
            snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", buf[0] ? "+" : "",
                     names[b] ? names[b] : "?");
    if (!buf[0])
        snprintf(buf, len, "none");
    return buf;
}

/* Differences between vmsim under `policy` and the model under `as`
 * (the same policy, but for the shrinker's self-test), in diff. */
static int compare_as(const struct rcase *c, const char *policy, enum rm_policy as,
                      const struct rm_access *a, size_t n, char *diff, size_t len)
{
    uint64_t vs[NSTATS];
    uint16_t *vk = malloc((n ? n : 1) * sizeof *vk);
    assert_non_null(vk);
    if (diff)
        diff[0] = '\0';
    int bad = 0;
    struct rm_result r;
    assert_int_equal(rm_run_khp(as, c->mem / 4096, c->swap / 4096, &c->khp, a, n, &r), 0);
    if (r.invalid) { /* a fork onto a live pid (the shrinker made it): not a case */
        free(r.kinds);
        free(vk);
        return -1;
    }
    if (run_lib(c, policy, a, n, vs, vk)) {
        add(diff, len, "%s: vmsim failed (%llu %llu)\n", 0, 0, "run");
        free(r.kinds);
        free(vk);
        return 1;
    }
    const uint64_t want[NSTATS] = {
        [S_TOTAL] = r.faults_total, [S_ZR] = r.zero_read,  [S_ZW] = r.zero_write,
        [S_COWZ] = r.cow_zero,      [S_COWC] = r.cow_copy,          [S_REUSE] = r.cow_reuse,
        [S_SWAPIN] = r.swap_in,     [S_OOM] = r.oom,       [S_EVICT] = r.evictions,
        [S_CLEAN] = r.dropped_clean, [S_SREAD] = r.swap_reads, [S_SWRITE] = r.swap_writes,
        [S_SPEAK] = r.slots_peak,   [S_USED] = r.frames_used, [S_PEAK] = r.frames_peak,
        [S_T0] = r.tables_by_level[0], [S_T1] = r.tables_by_level[1],
        [S_T2] = r.tables_by_level[2], [S_T3] = r.tables_by_level[3],
        [S_CYCLES] = COST_FAULT * (r.faults_total - r.event_oom) +
                     COST_IO * (r.swap_reads + r.swap_writes + r.file_reads + r.file_writes),
        [S_PCHIT] = r.pc_hit, [S_PCMISS] = r.pc_miss, [S_FREAD] = r.file_reads,
        [S_FWRITE] = r.file_writes, [S_INVAL] = r.invalidations,
        [S_KSCANS] = r.khp_scans,   [S_KFULL] = r.khp_full, [S_KSCANNED] = r.khp_scanned,
        [S_KCOLLAPSES] = 0,         [S_KNONE] = r.khp_fail_none, [S_KSWAP] = r.khp_fail_swap,
        [S_KSHARED] = r.khp_fail_shared, [S_KALLOC] = r.khp_fail_alloc, [S_KCOPIED] = 0,
    };
    for (size_t i = 0; i < NSTATS; i++)
        if (vs[i] != want[i]) {
            add(diff, len, "  %s: vmsim %llu, model %llu\n", vs[i], want[i], stat_names[i]);
            bad++;
        }
    size_t shown = 0;
    for (size_t i = 0; i < n; i++)
        if (vk[i] != r.kinds[i]) {
            if (shown++ < 3) {
                char b1[96], b2[96];
                const size_t at = diff ? strlen(diff) : 0;
                if (diff && at < len)
                    snprintf(diff + at, len - at,
                             "  event %zu (%c %u 0x%llx): vmsim faults %s, model %s\n", i + 1,
                             a[i].write ? 'W' : 'R', PID(a[i]), (unsigned long long)a[i].vpn << 12,
                             kind_text(vk[i], b1, sizeof b1), kind_text(r.kinds[i], b2, sizeof b2));
            }
            bad++;
        }
    free(r.kinds);
    free(vk);
    return bad;
}

/* ---- shrinking and printing ---- */

/* What a shrink keeps comparing: the case, vmsim's policy, the model's. */
struct shrink_ctx {
    const struct rcase *c;
    const char *policy;
    enum rm_policy as;
};

static bool accesses_fail(const void *a, size_t n, void *ctx)
{
    const struct shrink_ctx *x = ctx;
    return compare_as(x->c, x->policy, x->as, a, n, NULL, 0) > 0;
}

/* Delta debugging over accesses (shrink_items): the shortest stream found
 * that still mismatches. Returns the new length (a shrunk in place). */
static size_t shrink(const struct rcase *c, const char *policy, enum rm_policy as,
                     struct rm_access *a, size_t n, unsigned max_tries)
{
    struct shrink_ctx x = {c, policy, as};
    return shrink_items(a, n, sizeof *a, max_tries, accesses_fail, &x);
}

/* Shrink a failing case, write it as a text trace, print it, the command
 * line that replays it and the differences. Returns the shrunk length. */
static size_t report_failure(const struct rcase *c, const char *policy, enum rm_policy as,
                             uint64_t seed)
{
    struct rm_access *a = malloc(c->n * sizeof *a);
    assert_non_null(a);
    memcpy(a, c->a, c->n * sizeof *a);
    const size_t n = shrink(c, policy, as, a, c->n, 3000);
    char diff[4096], cmd[512];
    compare_as(c, policy, as, a, n, diff, sizeof diff);
    char *path = temp_path(".txt");
    FILE *f = fopen(path, "w");
    printf("replacement mismatch (case seed %llu, --replace %s), shrunk from %zu to %zu "
           "accesses:\n",
           (unsigned long long)seed, policy, c->n, n);
    if (f)
        fprintf(f, "# vmsim text trace (docs/traces.md)\n");
    for (size_t i = 0; i < n; i++) {
        char line[96];
        const unsigned long long va = (a[i].vpn << 12) + ((a[i].vpn * 40) & 0xff8);
        if (a[i].op == RM_MUNMAP)
            snprintf(line, sizeof line, "munmap %u 0x%llx %llu\n", PID(a[i]),
                     (unsigned long long)a[i].vpn << 12, (unsigned long long)a[i].pages << 12);
        else if (a[i].op == RM_EXIT)
            snprintf(line, sizeof line, "exit %u\n", PID(a[i]));
        else if (a[i].op == RM_FORK)
            snprintf(line, sizeof line, "fork %u %u\n", PID(a[i]), a[i].child);
        else if (a[i].op == RM_MMAP) {
            char file[48] = "";
            if (a[i].file && a[i].pgoff)
                snprintf(file, sizeof file, " file=%u off=%llu", a[i].file,
                         (unsigned long long)a[i].pgoff << 12);
            else if (a[i].file)
                snprintf(file, sizeof file, " file=%u", a[i].file);
            snprintf(line, sizeof line, "mmap %u 0x%llx %llu rw-%s%s\n", PID(a[i]),
                     (unsigned long long)a[i].vpn << 12, (unsigned long long)a[i].pages << 12,
                     a[i].shared ? " shared" : "", file);
        }
        else
            snprintf(line, sizeof line, "%c %u 0x%llx 8\n", a[i].write ? 'W' : 'R', PID(a[i]),
                     va);
        fputs(line, stdout);
        if (f)
            fputs(line, f);
    }
    if (f)
        fclose(f);
    command_line(c, policy, path, cmd, sizeof cmd);
    printf("replay: %s\n%s", cmd, diff);
    free(path);
    free(a);
    return n;
}

/* ---- the tests ---- */

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    return s && *s ? strtoull(s, NULL, 0) : dflt;
}

/* Random: what every policy must give on the same stream. */
static int check_random(const struct rcase *c, uint64_t opt_swap_in, char *diff, size_t len)
{
    uint64_t vs[NSTATS];
    if (run_lib(c, "random", c->a, c->n, vs, NULL))
        return 1;
    struct rm_result r; /* the policy does not matter to these */
    assert_int_equal(rm_run(RM_FIFO, c->mem / 4096, c->swap / 4096, c->a, c->n, &r), 0);
    free(r.kinds);
    const uint64_t tables = r.tables_by_level[0] + r.tables_by_level[1] + r.tables_by_level[2] +
                            r.tables_by_level[3]; /* no munmap or exit: all the tables ever taken */
    const uint64_t room = c->mem / 4096 - tables - (r.zero_read ? 1 : 0);
    /* pages brought in: new, copied, swapped in, read into the page cache */
    const uint64_t in = vs[S_ZW] + vs[S_COWZ] + vs[S_SWAPIN] + vs[S_PCMISS] + vs[S_COWC];
    int bad = 0;
#define WANT(i, v)                                                                                 \
    do {                                                                                           \
        if (vs[i] != (uint64_t)(v)) {                                                              \
            add(diff, len, "  %s: vmsim %llu, expected %llu\n", vs[i], (uint64_t)(v),              \
                stat_names[i]);                                                                    \
            bad++;                                                                                 \
        }                                                                                          \
    } while (0)
    WANT(S_CLEAN, vs[S_EVICT] - vs[S_SWRITE] - vs[S_FWRITE]);
    if (c->swap != SWAP_DEFAULT) /* a full swap: which faults run out of memory varies */
        return bad;
    WANT(S_ZR, r.zero_read);
    WANT(S_ZW, r.zero_write);
    WANT(S_COWZ, r.cow_zero);
    WANT(S_OOM, 0);
    if (!c->os) { /* else what munmap, exit and sharing free or copy depends on it */
        if (!c->files) /* else private file pages are copied */
            WANT(S_COWC, 0);
        WANT(S_EVICT, in > room ? in - room : 0);
        WANT(S_USED, r.frames_used);
    }
    if (!c->fork && !c->files) /* no swap cache without sharing, no shared memory read back */
        WANT(S_SREAD, vs[S_SWAPIN]);
    WANT(S_T0, r.tables_by_level[0]);
    if (!(c->files && c->os)) /* an munmap frees no table that evicting page-cache pages
                                 emptied: which ones those are depends on the policy */
        WANT(S_T3, r.tables_by_level[3]);
    WANT(S_CYCLES, COST_FAULT * vs[S_TOTAL] +
                       COST_IO * (vs[S_SREAD] + vs[S_SWRITE] + vs[S_FREAD] + vs[S_FWRITE]));
#undef WANT
    /* OPT is optimal without munmap and exit (and without page-cache pages,
     * whose eviction costs no swap-in) */
    if (!c->os && !c->files && vs[S_SWAPIN] < opt_swap_in) {
        add(diff, len, "  %s: vmsim %llu, below OPT's %llu\n", vs[S_SWAPIN], opt_swap_in,
            "faults.swap_in");
        bad++;
    }
    return bad;
}

static void test_replace_diff(void **state)
{
    (void)state;
    const uint64_t seed0 = env_u64("VMSIM_REPL_SEED", 1), cases = env_u64("VMSIM_REPL_CASES",
                                                                          DEFAULT_CASES);
    uint64_t failures = 0, evictions[4] = {0}, swap_ins[4] = {0}, ties = 0, tight = 0;
    uint64_t forks = 0, copies = 0, cache_hits = 0, full = 0, ooms = 0; /* under FIFO */
    uint64_t opt_cases = 0, file_cases = 0, pc_hits = 0, pc_misses = 0, file_writes = 0;
    uint64_t inval = 0;
    uint64_t khp_cases = 0, khp[6] = {0}; /* under FIFO: scans, fail_none, _swap, _shared, _alloc,
                                             blocks with swapped entries that passed */
    /* the cases, then half as many more that all map files (FILE_SEEDS on) */
    for (uint64_t i = 0; i < cases + cases / 2; i++) {
        const bool files_only = i >= cases;
        const uint64_t seed = files_only ? seed0 + FILE_SEEDS + (i - cases) : seed0 + i;
        struct rcase c;
        make_case(seed, &c, files_only);
        uint64_t opt_swap_in = 0;
        for (unsigned p = 0; p < 4; p++) {
            char diff[4096];
            opt_cases += p == RM_OPT;
            if (compare_as(&c, policy_names[p], (enum rm_policy)p, c.a, c.n, diff, sizeof diff)) {
                printf("case seed %llu%s, --replace %s:\n%s", (unsigned long long)seed,
                       files_only ? " (files only)" : "", policy_names[p], diff);
                if (failures++ < 2) /* shrinking takes seconds: the first two */
                    report_failure(&c, policy_names[p], (enum rm_policy)p, seed);
            }
            struct rm_result r;
            assert_int_equal(rm_run_khp((enum rm_policy)p, c.mem / 4096, c.swap / 4096, &c.khp, c.a,
                                        c.n, &r),
                             0);
            free(r.kinds);
            evictions[p] += r.evictions;
            if (p == RM_FIFO) {
                full += c.swap != SWAP_DEFAULT;
                ooms += r.oom;
                forks += c.fork;
                copies += r.cow_copy;
                cache_hits += r.swapcache_hits;
                file_cases += c.files;
                pc_hits += r.pc_hit;
                pc_misses += r.pc_miss;
                file_writes += r.file_writes;
                inval += r.invalidations;
                khp_cases += c.khp.every != 0;
                const uint64_t k6[] = {r.khp_scans,       r.khp_fail_none,  r.khp_fail_swap,
                                       r.khp_fail_shared, r.khp_fail_alloc, r.khp_swap_passed};
                for (size_t k = 0; k < 6; k++)
                    khp[k] += k6[k];
            }
            swap_ins[p] += r.swap_in;
            ties += r.opt_ties;
            if (p == RM_OPT)
                opt_swap_in = r.swap_in;
            if (p == 0 && c.mem / 4096 - (r.tables_by_level[0] + r.tables_by_level[1] +
                                          r.tables_by_level[2] + r.tables_by_level[3]) < 100)
                tight++;
        }
        char diff[4096] = "";
        if (check_random(&c, opt_swap_in, diff, sizeof diff)) {
            printf("random replacement (case seed %llu%s) breaks what every policy gives:\n%s",
                   (unsigned long long)seed, files_only ? ", files only" : "", diff);
            failures++;
        }
        free(c.a);
    }
    printf("%llu cases with forks: %llu copy-on-write copies, %llu swap-cache hits; %llu with "
           "a small swap: %llu out of memory (FIFO)\n",
           (unsigned long long)forks, (unsigned long long)copies, (unsigned long long)cache_hits,
           (unsigned long long)full, (unsigned long long)ooms);
    printf("%llu cases with files and shared memory: %llu page-cache hits, %llu misses, %llu "
           "file write-backs; %llu shootdowns (FIFO)\n",
           (unsigned long long)file_cases, (unsigned long long)pc_hits,
           (unsigned long long)pc_misses, (unsigned long long)file_writes,
           (unsigned long long)inval);
    printf("%llu cases and %llu that all map files (%llu with fewer than 100 frames left by the "
           "tables); evictions "
           "fifo %llu clock %llu lru %llu opt %llu; swap-ins fifo %llu clock %llu lru %llu opt "
           "%llu; OPT compared on %llu, %llu victims chosen by its tie rule\n",
           (unsigned long long)cases, (unsigned long long)(cases / 2), (unsigned long long)tight,
           (unsigned long long)evictions[0],
           (unsigned long long)evictions[1], (unsigned long long)evictions[2],
           (unsigned long long)evictions[3], (unsigned long long)swap_ins[0],
           (unsigned long long)swap_ins[1], (unsigned long long)swap_ins[2],
           (unsigned long long)swap_ins[3], (unsigned long long)opt_cases, (unsigned long long)ties);
    printf("%llu cases with khugepaged: %llu scans judged blocks fail_none %llu, fail_swap "
           "%llu, fail_shared %llu, fail_alloc %llu; %llu with swapped entries passed the swap "
           "limits (FIFO)\n",
           (unsigned long long)khp_cases, (unsigned long long)khp[0], (unsigned long long)khp[1],
           (unsigned long long)khp[2], (unsigned long long)khp[3], (unsigned long long)khp[4],
           (unsigned long long)khp[5]);
    /* the suite must put memory under pressure, or it referees nothing */
    if (cases >= 16) { /* the default counts (a soak of a few cases may have none) */
        assert_true(evictions[RM_FIFO] > 100 * cases);
        assert_true(evictions[RM_OPT] > 100 * cases / 2);
        assert_true(ties > 10 * cases); /* the tie rule is refereed, not idle */
        assert_true(copies > 0 && cache_hits > 0 && ooms > 0);
        assert_true(file_cases > 0 && pc_hits > 0 && pc_misses > 0 && file_writes > 0);
        /* every verdict of khugepaged is refereed; the rarest two (forks
         * and a low max_ptes_shared; a dense block on 512 frames) are
         * only sure to occur in the default count of a release build */
        for (size_t k = 0; k < 6; k++)
            assert_true(khp[k] > 0 || (cases < 60 && (k == 3 || k == 5)));
    }
    assert_int_equal(failures, 0);
}

/* The referee can fail: vmsim's LRU against the model's FIFO mismatches on
 * a generated case, and the shrinker brings it down to a short trace that
 * still does. */
static void test_shrinker(void **state)
{
    (void)state;
    struct rcase c;
    make_case(3, &c, false);
    assert_true(compare_as(&c, "lru", RM_FIFO, c.a, c.n, NULL, 0) > 0);
    const size_t n = shrink(&c, "lru", RM_FIFO, c.a, c.n, 3000);
    assert_true(n < c.n / 2);
    assert_true(compare_as(&c, "lru", RM_FIFO, c.a, n, NULL, 0) > 0);
    free(c.a);
}

/* The model itself on the textbook strings, numbers by hand: with 7
 * frames and only writes (no zero frame), the root and one L3, L2 and L1
 * table leave 3 frames for pages. Belady's string 1 2 3 4 1 2 5 1 2 3 4 5
 * under FIFO: 9 faults with 3 frames, 10 with 4 (8 frames); OPT: 7 with 3
 * (Silberschatz's count); Clock on 5 2 2 4 3 2 5 2 4 1 2 3 1: 9
 * (docs/kernel.md, "Where Clock puts a new page"); LRU on Belady's string
 * with 3 frames: 10. Every fault but the first touch of each of the five
 * pages is a swap-in. */
static void test_model_by_hand(void **state)
{
    (void)state;
    static const unsigned belady[] = {1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5};
    static const unsigned clock_str[] = {5, 2, 2, 4, 3, 2, 5, 2, 4, 1, 2, 3, 1};
    struct rm_access a[16];
    struct rm_result r;
    for (size_t i = 0; i < 12; i++)
        a[i] = (struct rm_access){.vpn = (BASE_VA >> 12) + belady[i], .write = true};
    const struct {
        enum rm_policy p;
        uint64_t frames, faults;
    } want[] = {{RM_FIFO, 7, 9}, {RM_FIFO, 8, 10}, {RM_OPT, 7, 7}, {RM_LRU, 7, 10}};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        assert_int_equal(rm_run(want[k].p, want[k].frames, UNLIMITED, a, 12, &r), 0);
        assert_int_equal(r.faults_total, want[k].faults);
        assert_int_equal(r.zero_write, 5);
        assert_int_equal(r.swap_in, want[k].faults - 5);
        assert_int_equal(r.evictions, want[k].faults - (want[k].frames - 4));
        free(r.kinds);
    }
    for (size_t i = 0; i < 13; i++)
        a[i] = (struct rm_access){.vpn = (BASE_VA >> 12) + clock_str[i], .write = true};
    assert_int_equal(rm_run(RM_CLOCK, 7, UNLIMITED, a, 13, &r), 0);
    assert_int_equal(r.faults_total, 9);
    free(r.kinds);
    /* A read first: the zero frame, the root and three tables, so
     * 256 - 5 = 251 written pages fit; the 252nd evicts one page, written
     * (dirty, no copy). */
    struct rm_access b[260];
    for (size_t i = 0; i < 253; i++)
        b[i] = (struct rm_access){.vpn = (BASE_VA >> 12) + i, .write = i > 0};
    assert_int_equal(rm_run(RM_FIFO, 256, UNLIMITED, b, 253, &r), 0);
    assert_int_equal(r.zero_read, 1);
    assert_int_equal(r.zero_write, 252);
    assert_int_equal(r.evictions, 1);
    assert_int_equal(r.swap_writes, 1);
    assert_int_equal(r.frames_used, 256);
    free(r.kinds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_by_hand),
        cmocka_unit_test(test_shrinker),
        cmocka_unit_test(test_replace_diff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
