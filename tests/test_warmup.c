/* --warmup and vmsim_reset_stats (docs/stats.md, "Warm-up"): a run of N
 * access events, then every statistic reset while the machine keeps its
 * state. Hand-derived figures for a small stream; the reset landing at the
 * same place however the events are batched; and, for every statistic, the
 * class docs/stats.md gives it checked against a run without a reset read
 * at the same point (zeroed: the difference; state and kept: the same;
 * peak and largest: bounded by it). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/refmodel.h"
#include "testutil.h"
#include "vmsim/vmsim.h"

static struct vmsim_config config(const char *tlb)
{
    struct vmsim_config cfg;
    char why[256];
    vmsim_config_default(&cfg);
    assert_int_equal(vmsim_tlb_parse(tlb, &cfg, why, sizeof why), VMSIM_OK);
    assert_int_equal(vmsim_pwc_parse("none", &cfg, why, sizeof why), VMSIM_OK);
    assert_int_equal(vmsim_cost_parse("access=1,pt_ref=10,fault=100,pwc=0", &cfg, why, sizeof why),
                     VMSIM_OK);
    return cfg;
}

/* The statistics as of now, copied. */
static struct vmsim_stats stats(const struct vmsim *sim) { return *vmsim_get_stats(sim); }

/* x86-64 radix, one fully associative 4-entry TLB, no page-walk caches;
 * access 1, lookup 1, pt_ref 10, fault 100 cycles. Warm-up of 4 accesses:
 *   1-3. pid 2 writes 0x400000, 0x40000000, 0x80000000 (three 1 GiB
 *        regions): its root, one L3, three L2 and three L1 tables and 3
 *        data frames = 11 frames; 7 tables below the root = 28 KiB.
 *   4.   pid 2 exits: all 11 freed.
 *   5.   pid 1 reads 0x400000 (access 4): root, L3, L2, L1 and the zero
 *        frame = 5 frames; 3 tables below the root, 12 KiB (16 KiB with it).
 * The reset comes here: peaks restart from 5 frames, 12 and 16 KiB
 * (without the warm-up: 11, 28 and 32 KiB).
 *   6.   pid 1 reads 0x400008: the TLB kept A: a hit, 1 + 1 = 2 cycles.
 *   7.   pid 1 reads 0x401000: a miss; the leaf table kept from access 4,
 *        so the walk reads 4 entries, finds none, the fault maps the zero
 *        frame, the retry reads 4: 2 walks, 8 refs; 1 + 1 + 80 + 100 = 182.
 * Measured: 2 events, 2 accesses, 1 hit, 1 miss, 184 cycles (182 of them
 * translating), 1 fault; nothing allocated, so the peaks stay. */
static void test_hand_derived(void **state)
{
    (void)state;
    const struct vmsim_event ev[] = {
        ev_access(VMSIM_WRITE, 2, 0x400000),       ev_access(VMSIM_WRITE, 2, 0x40000000),
        ev_access(VMSIM_WRITE, 2, 0x80000000),     {.type = VMSIM_EV_EXIT, .pid = 2},
        ev_access(VMSIM_READ, 1, 0x400000),        ev_access(VMSIM_READ, 1, 0x400008),
        ev_access(VMSIM_READ, 1, 0x401000),
    };
    for (int warm = 0; warm < 2; warm++) {
        struct vmsim_config cfg = config("l1=4x4");
        cfg.warmup = warm ? 4 : 0;
        struct vmsim *sim;
        assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
        for (size_t i = 0; i < 6; i++)
            assert_int_equal(vmsim_run(sim, &ev[i], 1), VMSIM_OK);
        struct vmsim_stats st = stats(sim);
        if (!warm) { /* the cold start as the statistics see it */
            assert_int_equal(st.frames_peak, 11);
            assert_int_equal(st.pt_peak_bytes, 7 * 4096);
            assert_int_equal(st.pt_peak_all_bytes, 8 * 4096);
            assert_int_equal(st.faults_total, 4);
            assert_int_equal(st.nested_max, 1);
            vmsim_destroy(sim);
            continue;
        }
        /* after event 6: the hit alone; no fault since the reset */
        assert_int_equal(st.events, 1);
        assert_int_equal(st.accesses, 1);
        assert_int_equal(st.tlb[0].hits, 1);
        assert_int_equal(st.tlb[0].misses, 0);
        assert_int_equal(st.walks, 0);
        assert_int_equal(st.cycles, 2);
        assert_int_equal(st.faults_total, 0);
        assert_int_equal(st.processes, 0);
        assert_int_equal(st.nested_max, 0);
        assert_int_equal(st.stack_iterative_max, 0);
        assert_int_equal(st.stack_recursive_max, 0);
        assert_int_equal(st.frames_used, 5);
        assert_int_equal(st.frames_peak, 5);
        assert_int_equal(st.pt_peak_bytes, 3 * 4096);
        assert_int_equal(st.pt_peak_all_bytes, 4 * 4096);
        assert_int_equal(vmsim_run(sim, &ev[6], 1), VMSIM_OK);
        st = stats(sim);
        assert_int_equal(st.events, 2);
        assert_int_equal(st.accesses, 2);
        assert_int_equal(st.translations, 2);
        assert_int_equal(st.tlb[0].hits, 1);
        assert_int_equal(st.tlb[0].misses, 1);
        assert_int_equal(st.tlb_misses_all, 1);
        assert_int_equal(st.walks, 2);
        assert_int_equal(st.walk_refs, 8);
        assert_int_equal(st.walk_hist[4], 2);
        assert_int_equal(st.faults_total, 1);
        assert_int_equal(st.faults_zero_read, 1);
        assert_int_equal(st.cycles, 2 + 182);
        assert_int_equal(st.cycles_translation, 1 + 181);
        assert_int_equal(st.nested_max, 1);
        assert_int_equal(st.stack_iterative_max, 2048);
        assert_int_equal(st.frames_used, 5);
        assert_int_equal(st.frames_peak, 5);
        struct vmsim_warmup w;
        vmsim_get_warmup(sim, &w);
        assert_int_equal(w.requested, 4);
        assert_true(w.completed);
        assert_int_equal(w.accesses, 4);
        assert_int_equal(w.events, 5);
        vmsim_destroy(sim);
    }
}

/* A pseudo-random stream on 2 CPUs and 3 processes, with switches, an
 * munmap and a fork among the accesses, over more pages than memory holds. */
static size_t make_stream(struct vmsim_event *ev, size_t n, uint64_t seed, unsigned npages)
{
    uint64_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        const unsigned r = (unsigned)(x >> 56);
        const vmsim_pid_t pid = 1 + (unsigned)((x >> 40) % 3);
        const uint64_t page = (x >> 20) % npages;
        if (i == n / 3)
            ev[i] = (struct vmsim_event){.type = VMSIM_EV_MUNMAP, .pid = 1,
                                         .addr = 0x10000000, .len = 64 * 4096};
        else if (i == n / 5)
            ev[i] = (struct vmsim_event){.type = VMSIM_EV_FORK, .pid = 2, .addr = 9};
        else if (r < 6)
            ev[i] = (struct vmsim_event){.type = VMSIM_EV_SWITCH, .cpu = (uint16_t)(r & 1),
                                         .pid = pid};
        else
            ev[i] = (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = (uint8_t)(r & 1),
                                         .cpu = (uint16_t)((x >> 33) & 1),
                                         .pid = r < 20 && i > n / 5 ? 9 : pid,
                                         .addr = 0x10000000 + page * 4096 + (x & 0xff8), .len = 8};
    }
    return n;
}

/* The index just after the k-th access event. */
static size_t cut_after(const struct vmsim_event *ev, size_t n, uint64_t k)
{
    size_t i = 0;
    for (; i < n && k; i++)
        k -= ev[i].type == VMSIM_EV_ACCESS;
    assert_int_equal(k, 0);
    return i;
}

static struct vmsim_config small_machine(void)
{
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    cfg.ncpus = 2;
    cfg.phys_bytes = 1ull << 20; /* 256 frames: replacement works */
    cfg.swap_bytes = 16ull << 20;
    return cfg;
}

/* The reset falls between access k and the next event whatever the
 * batches: all events in one call, one at a time, in batches of 7, and
 * run up to the cut then reset by hand: the same statistics, the same
 * record of what was excluded. */
static void test_reset_lands_mid_batch(void **state)
{
    (void)state;
    enum { N = 3000, K = 1234 };
    static struct vmsim_event ev[N];
    make_stream(ev, N, 7, 600);
    const size_t cut = cut_after(ev, N, K);
    struct vmsim_stats st[4];
    struct vmsim_warmup w[4];
    for (int way = 0; way < 4; way++) {
        struct vmsim_config cfg = small_machine();
        cfg.warmup = way < 3 ? K : 0;
        struct vmsim *sim;
        assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
        if (way == 0)
            assert_int_equal(vmsim_run(sim, ev, N), VMSIM_OK);
        for (size_t i = 0; way == 1 && i < N; i++)
            assert_int_equal(vmsim_run(sim, &ev[i], 1), VMSIM_OK);
        for (size_t i = 0; way == 2 && i < N; i += 7)
            assert_int_equal(vmsim_run(sim, &ev[i], N - i < 7 ? N - i : 7), VMSIM_OK);
        if (way == 3) {
            assert_int_equal(vmsim_run(sim, ev, cut), VMSIM_OK);
            assert_int_equal(vmsim_reset_stats(sim), VMSIM_OK);
            assert_int_equal(vmsim_run(sim, ev + cut, N - cut), VMSIM_OK);
        }
        st[way] = stats(sim);
        vmsim_get_warmup(sim, &w[way]);
        vmsim_destroy(sim);
    }
    assert_true(st[0].evictions > 100); /* the stream does press memory */
    for (int way = 1; way < 4; way++)
        assert_memory_equal(&st[way], &st[0], sizeof st[0]);
    for (int way = 0; way < 4; way++) {
        assert_int_equal(w[way].accesses, K);
        assert_int_equal(w[way].events, cut);
        assert_int_equal(st[way].events, N - cut);
        assert_int_equal(w[way].completed, way < 3);
    }
}

/* An event the machine refuses inside the warm-up (a CPU it lacks) stops
 * vmsim_run there, uncounted; fed the rest, the warm-up still ends after
 * the K-th access consumed: as the same stream without that event. */
static void test_refused_event_in_warmup(void **state)
{
    (void)state;
    enum { N = 400, K = 150, BAD = 60 };
    static struct vmsim_event ev[N], clean[N - 1];
    make_stream(ev, N, 3, 100);
    ev[BAD] = (struct vmsim_event){.type = VMSIM_EV_ACCESS, .cpu = 5, .pid = 1, .addr = 0x1000};
    memcpy(clean, ev, BAD * sizeof *ev);
    memcpy(clean + BAD, ev + BAD + 1, (N - BAD - 1) * sizeof *ev);
    struct vmsim_stats st[2];
    for (int c = 0; c < 2; c++) {
        struct vmsim_config cfg = small_machine();
        cfg.warmup = K;
        struct vmsim *sim;
        assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
        if (c) {
            assert_int_equal(vmsim_run(sim, clean, N - 1), VMSIM_OK);
        } else {
            assert_int_equal(vmsim_run(sim, ev, N), VMSIM_ERANGE);
            assert_int_equal(vmsim_get_stats(sim)->events, BAD); /* the next is the bad one */
            assert_int_equal(vmsim_run(sim, ev + BAD + 1, N - BAD - 1), VMSIM_OK);
        }
        st[c] = stats(sim);
        struct vmsim_warmup w;
        vmsim_get_warmup(sim, &w);
        assert_true(w.completed);
        assert_int_equal(w.accesses, K);
        assert_int_equal(w.events, cut_after(clean, N - 1, K));
        vmsim_destroy(sim);
    }
    assert_memory_equal(&st[0], &st[1], sizeof st[0]);
}

/* No warm-up, cfg.warmup 0, and a warm-up set then cancelled before it
 * ended: byte for byte the same statistics, nothing recorded as excluded.
 * A warm-up longer than the stream never resets: the same figures too. */
static void test_zero_changes_nothing(void **state)
{
    (void)state;
    enum { N = 2000 };
    static struct vmsim_event ev[N];
    make_stream(ev, N, 5, 400);
    struct vmsim_stats st[4];
    for (int way = 0; way < 4; way++) {
        struct vmsim_config cfg = small_machine();
        cfg.warmup = way == 3 ? 1000000 : 0;
        struct vmsim *sim;
        assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
        if (way == 1)
            assert_int_equal(vmsim_set_warmup(sim, 0), VMSIM_OK);
        if (way == 2) {
            assert_int_equal(vmsim_set_warmup(sim, 1500), VMSIM_OK);
            assert_int_equal(vmsim_run(sim, ev, 100), VMSIM_OK);
            assert_int_equal(vmsim_set_warmup(sim, 0), VMSIM_OK);
            assert_int_equal(vmsim_run(sim, ev + 100, N - 100), VMSIM_OK);
        } else {
            assert_int_equal(vmsim_run(sim, ev, N), VMSIM_OK);
        }
        st[way] = stats(sim);
        struct vmsim_warmup w;
        vmsim_get_warmup(sim, &w);
        assert_int_equal(w.accesses, 0);
        assert_int_equal(w.events, 0);
        assert_false(w.completed);
        assert_int_equal(w.requested, way == 3 ? 1000000 : 0);
        vmsim_destroy(sim);
    }
    assert_int_equal(st[0].events, N);
    for (int way = 1; way < 4; way++)
        assert_memory_equal(&st[way], &st[0], sizeof st[0]);
}

/* ---- every statistic as docs/stats.md classes it ------------------------ */

enum { W_ZEROED, W_STATE, W_PEAK, W_LARGEST, W_KEPT, W_NCLASSES };
static const char *const class_names[W_NCLASSES] = {"zeroed", "state", "peak", "largest", "kept"};

struct stat_row {
    const char *name;
    size_t off;
    int cls;
};

static struct stat_row rows[] = {
#define ROW(f, n, r, d) {n, offsetof(struct vmsim_stats, f), -1},
    VMSIM_STATS(ROW)
#undef ROW
};
#define NROWS (sizeof rows / sizeof rows[0])

/* Each statistic of VMSIM_STATS is named in exactly one row "| CLASS |
 * ... |" of the Warm-up section of docs/stats.md. */
static void read_classes(void)
{
    size_t len;
    char *doc = read_file(VMSIM_SOURCE_DIR "/docs/stats.md", &len);
    assert_non_null(doc);
    char *sec = strstr(doc, "\n## Warm-up\n");
    assert_non_null(sec);
    char *end = strstr(sec + 1, "\n## ");
    if (end)
        *end = '\0';
    for (size_t i = 0; i < NROWS; i++)
        rows[i].cls = -1;
    for (char *line = sec; line; line = strchr(line + 1, '\n')) {
        char *eol = strchr(line + 1, '\n');
        if (eol)
            *eol = '\0';
        for (int c = 0; c < W_NCLASSES; c++) {
            char lead[32];
            snprintf(lead, sizeof lead, "\n| %s | ", class_names[c]);
            if (strncmp(line, lead, strlen(lead)) != 0)
                continue;
            for (size_t i = 0; i < NROWS; i++) {
                char key[96];
                snprintf(key, sizeof key, "`%s`", rows[i].name);
                if (!strstr(line, key))
                    continue;
                if (rows[i].cls >= 0)
                    fail_msg("docs/stats.md, Warm-up: %s is in two classes", rows[i].name);
                rows[i].cls = c;
            }
        }
        if (eol)
            *eol = '\n';
    }
    for (size_t i = 0; i < NROWS; i++)
        if (rows[i].cls < 0)
            fail_msg("docs/stats.md, Warm-up: no class for %s", rows[i].name);
    free(doc);
}

static uint64_t field(const struct vmsim_stats *st, size_t off)
{
    uint64_t v;
    memcpy(&v, (const char *)st + off, sizeof v);
    return v;
}

struct scenario {
    const char *name;
    struct vmsim_config cfg;
    const struct vmsim_event *ev;
    size_t n;
    uint64_t k;   /* the warm-up */
    bool plan;    /* --replace opt: vmsim_plan first */
};

static struct vmsim *start(const struct scenario *s, uint64_t warmup)
{
    struct vmsim_config cfg = s->cfg;
    cfg.warmup = warmup;
    struct vmsim *sim;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    if (s->plan)
        assert_int_equal(vmsim_plan(sim, s->ev, s->n), VMSIM_OK);
    return sim;
}

/* Run s without a reset, reading the statistics at the cut (at) and at the
 * end (a); and with the warm-up (b). Then each statistic by its class. */
static void check_scenario(const struct scenario *s, struct vmsim_stats *a_out,
                           struct vmsim_stats *b_out)
{
    const size_t cut = cut_after(s->ev, s->n, s->k);
    struct vmsim *sim = start(s, 0);
    assert_int_equal(vmsim_run(sim, s->ev, cut), VMSIM_OK);
    const struct vmsim_stats at = stats(sim);
    assert_int_equal(vmsim_run(sim, s->ev + cut, s->n - cut), VMSIM_OK);
    const struct vmsim_stats a = stats(sim);
    vmsim_destroy(sim);
    sim = start(s, s->k);
    assert_int_equal(vmsim_run(sim, s->ev, s->n), VMSIM_OK);
    const struct vmsim_stats b = stats(sim);
    struct vmsim_warmup w;
    vmsim_get_warmup(sim, &w);
    vmsim_destroy(sim);
    assert_true(w.completed);
    assert_int_equal(w.accesses, s->k);
    assert_int_equal(w.events, cut);
    for (size_t i = 0; i < NROWS; i++) {
        const uint64_t x = field(&at, rows[i].off), y = field(&a, rows[i].off),
                       z = field(&b, rows[i].off);
        bool ok = false;
        switch (rows[i].cls) {
        case W_ZEROED: ok = z == y - x; break;
        case W_STATE:
        case W_KEPT: ok = z == y; break;
        case W_PEAK:
        case W_LARGEST: ok = z <= y; break;
        }
        if (!ok)
            fail_msg("%s: %s (%s): %llu with the warm-up; without it %llu at the reset, %llu at "
                     "the end", s->name, rows[i].name, class_names[rows[i].cls],
                     (unsigned long long)z, (unsigned long long)x, (unsigned long long)y);
    }
    /* a peak of the measured part: at least what was in use when it began
     * and at the end */
    assert_true(b.frames_peak >= at.frames_used && b.frames_peak >= a.frames_used);
    for (unsigned l = 0; l < s->cfg.ntlb; l++) {
        assert_int_equal(b.tlb[l].hits, a.tlb[l].hits - at.tlb[l].hits);
        assert_int_equal(b.tlb[l].misses, a.tlb[l].misses - at.tlb[l].misses);
        assert_int_equal(b.tlb[l].reach, a.tlb[l].reach);
    }
    for (unsigned k = 0; k < VMSIM_MAX_LEVELS + 2; k++)
        assert_int_equal(b.walk_hist[k], a.walk_hist[k] - at.walk_hist[k]);
    for (unsigned k = 0; k < VMSIM_WALK_LAT_BUCKETS; k++)
        assert_int_equal(b.walk_lat_hist[k], a.walk_lat_hist[k] - at.walk_lat_hist[k]);
    for (unsigned l = 0; l < VMSIM_MAX_CACHE_LEVELS; l++) {
        const struct vmsim_cache_stats *ca = &a.cache[l], *ct = &at.cache[l], *cb = &b.cache[l];
        assert_int_equal(cb->hits, ca->hits - ct->hits);
        assert_int_equal(cb->misses, ca->misses - ct->misses);
        assert_int_equal(cb->pt_hits, ca->pt_hits - ct->pt_hits);
        assert_int_equal(cb->pt_misses, ca->pt_misses - ct->pt_misses);
        assert_int_equal(cb->data_misses_pt, ca->data_misses_pt - ct->data_misses_pt);
        assert_int_equal(cb->lines, ca->lines);
        assert_int_equal(cb->pt_lines, ca->pt_lines);
    }
    assert_memory_equal(b.mig_round_pages, a.mig_round_pages, sizeof a.mig_round_pages);
    *a_out = a;
    *b_out = b;
}

/* Native, under memory pressure with swap, --verify on: OPT looks its
 * plan up by the access number, so a reset that moved it would evict
 * other pages; Clock with page tables evicted too; and a hashed table
 * that starts small, so that it resizes before and after the reset (the
 * process forked at event N/5 grows its own after it). */
static void test_classes_native(void **state)
{
    (void)state;
    read_classes();
    enum { N = 20000 };
    static struct vmsim_event ev[N];
    make_stream(ev, N, 11, 700);
    static const char *const name[] = {"opt", "clock, evict-tables", "hashed", "caches"};
    for (int m = 0; m < 4; m++) {
        struct scenario s = {.name = name[m], .ev = ev, .n = N, .k = m == 2 ? 3000 : 6000,
                             .cfg = small_machine(), .plan = m == 0};
        s.cfg.verify = true;
        s.cfg.replace = m == 0 ? VMSIM_REPLACE_OPT : VMSIM_REPLACE_CLOCK;
        s.cfg.evict_tables = m == 1;
        if (m == 2)
            snprintf(s.cfg.pt, sizeof s.cfg.pt, "hashed:buckets=4");
        if (m == 3) /* data caches and DRAM (docs/caches.md): their counters zeroed, their
                       lines the state; a private L1 per CPU and a shared L2 */
            s.cfg.mem = (struct vmsim_memory_config){
                .ncaches = 2, .dram = 200, .data = true,
                .cache = {{.name = "l1d", .sets = 16, .ways = 4, .line = 64, .latency = 4,
                           .side = VMSIM_SIDE_DATA},
                          {.name = "l2", .sets = 64, .ways = 8, .line = 64, .latency = 14,
                           .shared = true}}};
        struct vmsim_stats a, b;
        check_scenario(&s, &a, &b);
        assert_true(b.evictions > 1000);
        assert_true(b.verify_checks > 0);
        assert_int_equal(a.verify_mismatches, 0);
        assert_true(m != 1 || b.faults_table > 0);
        assert_true(m != 2 || (b.pt_resizes > 0 && a.pt_resizes > b.pt_resizes));
        if (m == 3) { /* the caches were at work on both sides of the reset */
            assert_true(b.dram_walk_refs > 0 && b.cache[0].pt_hits > 0 && b.cache[1].hits > 0);
            assert_true(a.cache[0].misses > b.cache[0].misses && b.cache[1].lines > 0);
        }
    }
}

/* Nested paging with a second VM and a live migration that starts during
 * the warm-up (at= counts from the start) and ends after it: its clock,
 * the cycles since the start, must not go back at the reset. */
static void test_classes_nested(void **state)
{
    (void)state;
    read_classes();
    enum { N = 30000 };
    static struct vmsim_event ev[N];
    make_stream(ev, N, 13, 500);
    ev[0] = (struct vmsim_event){.type = VMSIM_EV_VM, .addr = 2, .len = 4ull << 20};
    ev[1] = (struct vmsim_event){.type = VMSIM_EV_SPAWN, .pid = 3, .file = 2};
    struct scenario s = {.name = "nested", .ev = ev, .n = N, .k = 6000, .cfg = small_machine()};
    s.cfg.verify = true;
    s.cfg.nested.on = true;
    s.cfg.nested.mem_bytes = 32ull << 20;
    /* caches: the host dimension's references go through them too */
    s.cfg.mem = (struct vmsim_memory_config){
        .ncaches = 1, .dram = 200, .data = true,
        .cache = {{.name = "l2", .sets = 64, .ways = 8, .line = 64, .latency = 14,
                   .shared = true}}};
    vmsim_geometry_preset("x86-64", &s.cfg.nested.geom);
    s.cfg.nested.migrate = (struct vmsim_migrate_config){
        .at = 2000, .link_bytes = 30000000ull, .clock_hz = 1000000000ull,
        .downtime_ns = 1000000, .max_rounds = 30};
    struct vmsim_stats a, b;
    check_scenario(&s, &a, &b);
    assert_true(b.nested_walks > 0 && b.cache[0].pt_hits > 0);
    assert_true(b.mig_rounds >= 2);
    assert_int_equal(b.mig_done, 1);
    /* the migration was under way at the reset: it had started, not ended */
    struct vmsim *sim = start(&s, 0);
    assert_int_equal(vmsim_run(sim, ev, cut_after(ev, N, s.k)), VMSIM_OK);
    const struct vmsim_stats *at = vmsim_get_stats(sim);
    assert_true(at->mig_rounds >= 1);
    assert_int_equal(at->mig_done, 0);
    vmsim_destroy(sim);
}

/* ---- the reference model ----------------------------------------------------- */

/* The class of a statistic the model names: VMSIM_STATS's from the docs,
 * the others by docs/stats.md's table too (per-level counters and
 * histograms zeroed; reach, lines and live tables the state). */
static int class_of(const char *name)
{
    for (size_t i = 0; i < NROWS; i++)
        if (!strcmp(name, rows[i].name))
            return rows[i].cls;
    static const char *const state[] = {".reach_bytes", ".lines", ".pt_lines", "tables_by_level["};
    for (size_t i = 0; i < sizeof state / sizeof state[0]; i++)
        if (strstr(name, state[i]))
            return W_STATE;
    return W_ZEROED;
}

struct named {
    size_t n;
    char name[400][64];
    uint64_t v[400];
};

static void collect(void *ctx, const char *name, uint64_t v)
{
    struct named *f = ctx;
    assert_true(f->n < 400);
    snprintf(f->name[f->n], sizeof f->name[0], "%s", name);
    f->v[f->n++] = v;
}

/* The independent model (tests/ref, no code shared with src/) knows no
 * reset: it runs the stream once, read at the cut and at the end. vmsim
 * with the warm-up must give, for each statistic the model produces,
 * end - cut for a zeroed one and end for the state. A 2-CPU machine with
 * a TLB, split page-walk caches and a shared data cache. */
static void test_against_reference_model(void **state)
{
    (void)state;
    read_classes();
    enum { N = 12000, K = 5000 };
    static struct vmsim_event ev[N];
    make_stream(ev, N, 17, 800);
    struct ref_machine m = {.ntlb = 1, .pwc_mode = REF_PWC_SPLIT, .pwc_latency = 1,
                            .cost_access = 1, .cost_pt_ref = 10, .cost_fault = 100, .levels = 4,
                            .ncpus = 2, .asids = true, .ncache = 1, .dram = 200, .data = true};
    m.tlb[0] = (struct ref_level){.name = "t", .side = 'u', .latency = 1, .narr = 1};
    m.tlb[0].arr[0] = (struct ref_array){64, 4, 1ull << 12};
    m.pwc_entries[2] = 8, m.pwc_ways[2] = 4;
    m.pwc_entries[3] = 4, m.pwc_ways[3] = 4;
    m.cache[0] = (struct ref_cache){.name = "c0", .side = 'u', .shared = true, .sets = 64,
                                    .ways = 8, .line = 64, .latency = 14};
    const size_t cut = cut_after(ev, N, K);
    struct ref *r = ref_create(&m);
    assert_non_null(r);
    static struct named at, end;
    struct ref_stats rs;
    for (size_t i = 0; i < N; i++) {
        if (i == cut) {
            ref_stats(r, &rs);
            ref_stat_fields(&m, &rs, collect, &at);
        }
        assert_int_equal(ref_event(r, &ev[i]), 0);
    }
    ref_stats(r, &rs);
    ref_stat_fields(&m, &rs, collect, &end);
    ref_destroy(r);
    assert_int_equal(at.n, end.n);

    struct vmsim_config cfg;
    char why[256];
    vmsim_config_default(&cfg);
    assert_int_equal(vmsim_tlb_parse("t=64x4@4k:1", &cfg, why, sizeof why), VMSIM_OK);
    assert_int_equal(vmsim_pwc_parse("l2=8x4,l3=4x4", &cfg, why, sizeof why), VMSIM_OK);
    assert_int_equal(vmsim_cost_parse("access=1,pt_ref=10,fault=100,pwc=1", &cfg, why, sizeof why),
                     VMSIM_OK);
    assert_int_equal(vmsim_cache_parse("c0=64x8x64/shared:14,dram=200", &cfg, why, sizeof why),
                     VMSIM_OK);
    cfg.ncpus = 2;
    cfg.warmup = K;
    struct vmsim *sim;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    assert_int_equal(vmsim_run(sim, ev, N), VMSIM_OK);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    struct vmsim_pt_footprint fp;
    vmsim_footprint(sim, &fp);
    unsigned compared = 0;
    for (size_t i = 0; i < end.n; i++) {
        assert_string_equal(at.name[i], end.name[i]);
        const int cls = class_of(end.name[i]);
        uint64_t v;
        if ((cls != W_ZEROED && cls != W_STATE) || !stat_value(st, &fp, &cfg, end.name[i], &v))
            continue;
        const uint64_t want = cls == W_ZEROED ? end.v[i] - at.v[i] : end.v[i];
        if (v != want)
            fail_msg("%s (%s): vmsim %llu after the warm-up, the model %llu (%llu at the reset, "
                     "%llu at the end)", end.name[i], class_names[cls], (unsigned long long)v,
                     (unsigned long long)want, (unsigned long long)at.v[i],
                     (unsigned long long)end.v[i]);
        compared++;
    }
    assert_true(compared > 50);
    assert_true(st->walks > 0 && st->cache[0].pt_hits > 0 && st->tlb_flushes == 0);
    vmsim_destroy(sim);
}

/* ---- the command line ------------------------------------------------------ */

/* A trace of 2N reads: N pages, then the same N pages again. With
 * --warmup N the TLB holds all N (one per set of a 16-set L1): the measured
 * N accesses all hit, and each costs access 3 + the L1 lookup 2 = 5 cycles. */
static void test_cli_steady_state(void **state)
{
    (void)state;
    enum { N = 16 };
    char trace[2 * N * 32] = "";
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < N; i++)
            snprintf(trace + strlen(trace), sizeof trace - strlen(trace), "R 1 0x%x 8\n",
                     0x400000 + i * 4096);
    char *path = write_temp(trace, strlen(trace), ".txt");
    struct cmd_result r = run_vmsim("run --trace text:%s --tlb l1d=64x4/d:2 --pwc none --cost "
                                    "access=3 --warmup %d --json - --quiet", path, N);
    assert_int_equal(r.status, 0);
    const char *warm = strstr(r.out, "\"warmup\": {");
    assert_non_null(warm);
    assert_int_equal(json_number(warm, "accesses"), N);
    assert_int_equal(json_number(warm, "events"), N);
    assert_int_equal(json_number(warm, "requested"), N);
    expect_in("warmup", warm, "\"completed\": true");
    const char *top = strstr(r.out, "\n  \"events\"");
    assert_non_null(top);
    assert_int_equal(json_number(top, "events"), N);
    assert_int_equal(json_number(top, "accesses"), N);
    assert_int_equal(json_number(top, "misses_all_levels"), 0);
    assert_int_equal(json_number(strstr(top, "\"l1d\""), "misses"), 0);
    assert_int_equal(json_number(strstr(top, "\"l1d\""), "hits"), N);
    assert_int_equal(json_number(strstr(top, "\"walks\""), "count"), 0);
    assert_int_equal(json_number(strstr(top, "\"faults\""), "total"), 0);
    assert_int_equal(json_number(strstr(top, "\n  \"cycles\""), "cycles"), N * (3 + 2));
    cmd_result_free(&r);
    /* the summary's line */
    r = run_vmsim("run --trace text:%s --warmup %d", path, N);
    assert_int_equal(r.status, 0);
    expect_in("summary", r.out,
              "warm-up                the first 16 accesses (16 events) excluded");
    cmd_result_free(&r);
    free(path);
}

/* --warmup 0 is no warm-up: the JSON is the same as without, byte for byte. */
static void test_cli_zero(void **state)
{
    (void)state;
    struct cmd_result a = run_vmsim("run --workload seq:n=3000 --json - --quiet");
    struct cmd_result b = run_vmsim("run --workload seq:n=3000 --warmup 0 --json - --quiet");
    assert_int_equal(a.status, 0);
    assert_int_equal(b.status, 0);
    /* equal but for "argv", the command lines that differ by the option */
    json_t *ja = json_loads(a.out, 0, NULL), *jb = json_loads(b.out, 0, NULL);
    assert_non_null(ja);
    assert_non_null(jb);
    assert_int_equal(json_object_del(ja, "argv"), 0);
    assert_int_equal(json_object_del(jb, "argv"), 0);
    assert_true(json_equal(ja, jb));
    json_decref(ja);
    json_decref(jb);
    assert_null(strstr(a.out, "\"warmup\""));
    cmd_result_free(&a);
    cmd_result_free(&b);
}

/* Longer than the input: nothing excluded, a warning on stderr and in
 * the JSON, and the statistics are the whole run's. */
static void test_cli_longer_than_input(void **state)
{
    (void)state;
    struct cmd_result r = run_vmsim("run --workload seq:n=3000 --warmup 5k --json - --quiet");
    assert_int_equal(r.status, 0);
    expect_in("stderr", r.err, "vmsim: warning: --warmup 5000: the input ended after 3000 "
                               "accesses, before the warm-up did");
    expect_in("warnings", r.out, "--warmup 5000: the input ended after 3000 accesses");
    const char *warm = strstr(r.out, "\"warmup\": {");
    assert_non_null(warm);
    assert_int_equal(json_number(warm, "accesses"), 0);
    assert_int_equal(json_number(warm, "events"), 0);
    expect_in("warmup", warm, "\"completed\": false");
    assert_int_equal(json_number(strstr(r.out, "\n  \"events\""), "accesses"), 3000);
    cmd_result_free(&r);
}

/* Counts as --migrate at= takes them; anything else is a usage error that
 * says what was expected; a snapshot, which makes no accesses, refuses it. */
static void test_cli_values(void **state)
{
    (void)state;
    static const char *const bad[] = {"1.5", "-3", "abc", "", "2x", "1e30", "0.5k1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct cmd_result r = run_vmsim("run --workload seq:n=10 --warmup '%s' --quiet", bad[i]);
        assert_int_equal(r.status, 2);
        expect_in("stderr", r.err, "--warmup: expected a number of accesses such as 0, 250000, "
                                   "250k or 1.5m, found");
        cmd_result_free(&r);
    }
    struct cmd_result r = run_vmsim("run --workload seq:n=3000 --warmup 1.5k --json - --quiet");
    assert_int_equal(r.status, 0);
    assert_int_equal(json_number(strstr(r.out, "\"warmup\": {"), "accesses"), 1500);
    assert_int_equal(json_number(strstr(r.out, "\n  \"events\""), "accesses"), 1500);
    cmd_result_free(&r);
    r = run_vmsim("snapshot --self --warmup 10");
    assert_int_equal(r.status, 2);
    expect_in("stderr", r.err, "snapshot: --warmup: a snapshot rebuilds page tables and makes no "
                               "accesses");
    cmd_result_free(&r);
}

/* vmsim compare takes the machine options, --warmup with them: each
 * organization's accesses are those after the warm-up. */
static void test_cli_compare(void **state)
{
    (void)state;
    struct cmd_result r = run_vmsim("compare --pt radix --pt hashed --workload seq:n=4000 "
                                    "--warmup 2500 --json -");
    assert_int_equal(r.status, 0);
    const char *second = strstr(strstr(r.out, "\"accesses\""), "}");
    assert_int_equal(json_number(r.out, "accesses"), 1500);
    assert_int_equal(json_number(second, "accesses"), 1500);
    cmd_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_derived),
        cmocka_unit_test(test_reset_lands_mid_batch),
        cmocka_unit_test(test_refused_event_in_warmup),
        cmocka_unit_test(test_zero_changes_nothing),
        cmocka_unit_test(test_classes_native),
        cmocka_unit_test(test_classes_nested),
        cmocka_unit_test(test_against_reference_model),
        cmocka_unit_test(test_cli_steady_state),
        cmocka_unit_test(test_cli_zero),
        cmocka_unit_test(test_cli_longer_than_input),
        cmocka_unit_test(test_cli_values),
        cmocka_unit_test(test_cli_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
