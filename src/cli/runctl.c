/* Run control and intervals for `vmsim run` (docs/cli.md, "Run control";
 * docs/formats/interval.md).
 *
 * --skip N and --max N follow Dinero IV's -skipcount and -maxcount: they
 * count access events (records of the input that touch memory), not
 * translations or pages. A skipped access is not simulated at all: no TLB
 * lookup, no walk, no fault, no count. Every other event among the skipped
 * ones (spawn, mmap, fork, switch, ...) is still applied, or the address
 * spaces after the skipped part would not be the input's. After the N-th
 * access that --max lets through, nothing more is read: neither accesses
 * nor the OS events that follow. A --warmup counts from the first access
 * simulated, i.e. after the skipped ones.
 *
 * --interval N writes one line of statistics every N accesses simulated
 * after the warm-up, and one more at the end for the accesses since the
 * last line (so a run shorter than N gives one line). Each line holds the
 * interval's own values: counters as the increase over the interval (their
 * sum over the lines is the final statistic), gauges of state (frames in
 * use, peaks, largest values) as their value at the interval's end. A batch
 * of events is cut at each interval's last access so that a line describes
 * exactly its N accesses. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

size_t cli_runctl_filter(struct cli_runctl *c, struct vmsim_event *ev, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n && !c->done; i++) {
        if (ev[i].type == VMSIM_EV_ACCESS) {
            if (c->skipped < c->skip) {
                c->skipped++;
                continue;
            }
            c->taken++;
            if (c->max && c->taken == c->max)
                c->done = true;
        }
        ev[kept++] = ev[i];
    }
    return kept;
}

/* ---- intervals ------------------------------------------------------------- */

/* Statistics that describe state rather than count events: written as
 * their value at the interval's end. Besides these, every statistic whose
 * combining rule is not SUM (a largest value, a configuration's). */
static const char *const gauges[] = {
    "memory.frames_used", "memory.frames_peak", "swap.slots_peak", "page_tables.peak_bytes",
    "page_tables.peak_bytes_with_roots", "memory.huge_untouched_bytes",
    "page_tables.shareable_bytes", "synonyms.frames", "nested.table_bytes",
    "migration.completed", NULL};

static const struct interval_stat {
    const char *name;
    size_t off;
    enum vmsim_combine rule;
} interval_stats[] = {
#define ISTAT(f, n, r, d) {n, offsetof(struct vmsim_stats, f), VMSIM_COMBINE_##r},
    VMSIM_STATS(ISTAT)
#undef ISTAT
};
#define NSTATS (sizeof interval_stats / sizeof interval_stats[0])

static bool is_gauge(const struct interval_stat *s)
{
    if (s->rule != VMSIM_COMBINE_SUM)
        return true;
    for (const char *const *g = gauges; *g; g++)
        if (!strcmp(*g, s->name))
            return true;
    return false;
}

static uint64_t stat_at(const struct vmsim_stats *st, size_t i)
{
    return *(const uint64_t *)((const char *)st + interval_stats[i].off);
}

int cli_interval_open(struct cli_interval *iv, const char *path, uint64_t every)
{
    const size_t n = strlen(path);
    memset(iv, 0, sizeof *iv);
    if (n >= 4 && !strcmp(path + n - 4, ".csv"))
        iv->csv = true;
    else if (!((n >= 6 && !strcmp(path + n - 6, ".jsonl")) ||
               (n >= 7 && !strcmp(path + n - 7, ".ndjson")) || !strcmp(path, "-")))
        return cli_usage("--interval-out: expected a file name ending in .jsonl (JSON lines), "
                         ".ndjson or .csv, or - (JSON lines on standard output), found \"%s\"",
                         path);
    iv->every = every;
    iv->path = path;
    iv->f = strcmp(path, "-") ? fopen(path, "w") : stdout;
    if (!iv->f)
        return cli_fail("--interval-out: cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* The accesses simulated so far, those of a warm-up included. */
static uint64_t simulated(const struct vmsim *sim)
{
    struct vmsim_warmup w;
    vmsim_get_warmup(sim, &w);
    return w.accesses + vmsim_get_stats(sim)->accesses;
}

/* Before the first line after the warm-up: the boundaries are counted from
 * the warm-up's end, and the statistics restarted from zero there. */
static void interval_sync(struct cli_interval *iv, const struct vmsim *sim)
{
    struct vmsim_warmup w;
    vmsim_get_warmup(sim, &w);
    if (iv->started && !(w.completed && !iv->warm_seen))
        return;
    if (!iv->started) {
        iv->next = w.requested + iv->every;
        iv->started = true;
    }
    if (w.completed && !iv->warm_seen) {
        iv->warm_seen = true;
        memset(iv->prev, 0, sizeof iv->prev);
    }
}

size_t cli_interval_cut(struct cli_interval *iv, const struct vmsim *sim,
                        const struct vmsim_event *ev, size_t n)
{
    if (!iv->f)
        return n;
    interval_sync(iv, sim);
    uint64_t at = simulated(sim);
    for (size_t i = 0; i < n; i++)
        if (ev[i].type == VMSIM_EV_ACCESS && ++at == iv->next)
            return i + 1;
    return n;
}

static void interval_header(struct cli_interval *iv, const struct vmsim_config *cfg)
{
    fputs("interval,access", iv->f);
    for (size_t i = 0; i < NSTATS; i++)
        fprintf(iv->f, ",%s", interval_stats[i].name);
    for (unsigned t = 0; t < cfg->ntlb; t++)
        fprintf(iv->f, ",tlb.%s.hits,tlb.%s.misses,tlb.%s.reach_bytes", cfg->tlb[t].name,
                cfg->tlb[t].name, cfg->tlb[t].name);
    fputs(",cycles_per_access\n", iv->f);
}

/* One line: the interval's values, prev updated to now. */
static void interval_line(struct cli_interval *iv, const struct vmsim *sim)
{
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    const struct vmsim_config *cfg = vmsim_get_config(sim);
    if (iv->csv && iv->lines == 0)
        interval_header(iv, cfg);
    iv->lines++;
    const uint64_t access = simulated(sim);
    fprintf(iv->f, iv->csv ? "%llu,%llu" : "{\"interval\":%llu,\"access\":%llu",
            (unsigned long long)iv->lines, (unsigned long long)access);
    uint64_t d_acc = 0, d_cyc = 0;
    for (size_t i = 0; i < NSTATS; i++) {
        const uint64_t now = stat_at(st, i);
        const uint64_t v = is_gauge(&interval_stats[i]) ? now : now - iv->prev[i];
        if (!strcmp(interval_stats[i].name, "accesses"))
            d_acc = v;
        else if (!strcmp(interval_stats[i].name, "cycles"))
            d_cyc = v;
        iv->prev[i] = now;
        if (iv->csv)
            fprintf(iv->f, ",%llu", (unsigned long long)v);
        else
            fprintf(iv->f, ",\"%s\":%llu", interval_stats[i].name, (unsigned long long)v);
    }
    for (unsigned t = 0; t < cfg->ntlb && t < VMSIM_MAX_TLB_LEVELS; t++) {
        uint64_t *p = &iv->prev[NSTATS + 2 * t];
        const uint64_t h = st->tlb[t].hits - p[0], m = st->tlb[t].misses - p[1];
        p[0] = st->tlb[t].hits;
        p[1] = st->tlb[t].misses;
        if (iv->csv)
            fprintf(iv->f, ",%llu,%llu,%llu", (unsigned long long)h, (unsigned long long)m,
                    (unsigned long long)st->tlb[t].reach);
        else
            fprintf(iv->f, ",\"tlb.%s.hits\":%llu,\"tlb.%s.misses\":%llu,\"tlb.%s.reach_bytes\":%llu",
                    cfg->tlb[t].name, (unsigned long long)h, cfg->tlb[t].name,
                    (unsigned long long)m, cfg->tlb[t].name, (unsigned long long)st->tlb[t].reach);
    }
    const double cpa = d_acc ? (double)d_cyc / (double)d_acc : 0.0;
    fprintf(iv->f, iv->csv ? ",%.6g\n" : ",\"cycles_per_access\":%.6g}\n", cpa);
    iv->last = access;
}

void cli_interval_after(struct cli_interval *iv, const struct vmsim *sim)
{
    if (!iv->f)
        return;
    interval_sync(iv, sim);
    if (simulated(sim) >= iv->next) {
        interval_line(iv, sim);
        iv->next += iv->every;
    }
}

int cli_interval_close(struct cli_interval *iv, const struct vmsim *sim)
{
    if (!iv->f)
        return 0;
    if (sim) {
        interval_sync(iv, sim);
        if (iv->lines == 0 || simulated(sim) > iv->last)
            interval_line(iv, sim);
    }
    bool ok = !ferror(iv->f);
    ok &= (iv->f == stdout ? fflush(iv->f) : fclose(iv->f)) == 0;
    iv->f = NULL;
    return ok ? 0 : cli_fail("--interval-out: writing %s failed", iv->path);
}

_Static_assert(sizeof interval_stats / sizeof interval_stats[0] <= 160,
               "struct cli_interval's prev[] holds every statistic of VMSIM_STATS");
