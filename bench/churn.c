/* vmsim_bench churn: the figure of docs/kernel.md ("Compaction"): huge-page
 * coverage of resident anonymous memory (vmsim_thp_coverage) over a long
 * churn (synth_churn.c), without and with compaction, sampled every
 * CHURN_EVERY accesses of one run each. Not a speed benchmark: the
 * simulated figures only, which are the same on any host.
 *
 * The machine: the default (skylake, radix 4-level) with 64 MiB of memory,
 * 2 MiB pages for anonymous memory where advised (--thp madvise), no swap;
 * the workload maps at most 56 MiB at once (size=56m), so memory is
 * never full and every fallback is fragmentation. */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

#define CHURN_SPEC "churn:n=6000000,size=56m,seed=1"
#define CHURN_EVERY 100000
#define CHURN_MEM (64ull << 20)
#define BATCH 4096

static int churn_run(const char *spec, uint64_t mem, bool compact)
{
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    cfg.phys_bytes = mem;
    cfg.anon_page_shift = 21;
    cfg.thp = VMSIM_THP_MADVISE;
    cfg.compact = compact;
    struct vmsim *sim;
    struct vmsim_source *src;
    struct vmsim_source_error err;
    if (vmsim_create(&cfg, &sim) != 0)
        return 1;
    if (vmsim_source_open_workload(spec, &src, &err) != 0) {
        vmsim_destroy(sim);
        return 1;
    }
    static struct vmsim_event ev[BATCH];
    uint64_t next = CHURN_EVERY;
    long n;
    int rc = 0;
    while (rc == 0 && (n = vmsim_source_next(src, ev, BATCH)) > 0) {
        /* stop each batch at the next sample so samples fall on exact counts */
        size_t i = 0;
        while (i < (size_t)n && rc == 0) {
            const struct vmsim_stats *st = vmsim_get_stats(sim);
            size_t k = (size_t)n - i, a = 0, j = i;
            for (; j < (size_t)n && st->accesses + a < next; j++)
                a += ev[j].type == VMSIM_EV_ACCESS;
            k = j - i;
            if (k && (rc = vmsim_run(sim, ev + i, k)) != 0)
                break;
            i += k;
            st = vmsim_get_stats(sim);
            if (st->accesses >= next) {
                printf("%s,%llu,%.4f,%llu,%llu,%llu,%.4f\n", compact ? "on" : "off",
                       (unsigned long long)st->accesses, vmsim_thp_coverage(st),
                       (unsigned long long)st->thp_fallbacks,
                       (unsigned long long)st->compact.pages_moved,
                       (unsigned long long)st->compact.runs, vmsim_buddy_unusable(st, 9));
                next += CHURN_EVERY;
            }
        }
    }
    vmsim_source_close(src);
    vmsim_destroy(sim);
    return rc || n < 0;
}

int bench_churn(const char *spec, uint64_t mem_mib)
{
    const uint64_t mem = mem_mib ? mem_mib << 20 : CHURN_MEM;
    if (!spec)
        spec = CHURN_SPEC;
    printf("compact,accesses,coverage,thp_fallbacks,pages_moved,compact_runs,unusable_2m\n");
    return churn_run(spec, mem, false) || churn_run(spec, mem, true);
}
