/* make bench, part 5: --threads (docs/concurrency.md, "Scaling"). Host
 * accesses per second of wall-clock time, best of three, of four streams on
 * 8 simulated CPUs, for each lock design and 1, 2, 4 and 8 threads; the
 * baseline of each is the same stream on one thread (the sequential run)
 * in the same process, the same machine and geometry (radix, x86-64,
 * Skylake's TLBs and page-walk caches).
 *
 *  procs: 8 processes, one per CPU, each making random 8-byte accesses (a
 *         fifth of them writes) over its own 64 MiB: TLB misses and walks
 *         (timed after a pass that took the faults); nothing shared.
 *  threads: the same in one process of 8 threads, each CPU in its own
 *         64 MiB: the page table is shared (in the first pass every
 *         zero-page copy was shot down on the 7 other CPUs).
 *  cow:   one process, 8 threads, one shared 32 MiB: reads and writes,
 *         half each: zero-page copies shot down on every CPU (IPIs),
 *         faults re-validated when another CPU was first.
 *  fork:  pid 1 writes 64 MiB, forks 7 children, CPU c runs pid c+1 and
 *         writes half of its accesses: copy-on-write copies (pinned old
 *         frames) and reuses, no IPIs.
 * Each CPU's accesses come in slices of 256, CPU after CPU. procs and
 * threads are timed on their second pass (walks and hits: the faults were
 * taken in the first), the storms on their first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "util/rng.h"

#define NCPUS 8
#define SLICE 256

struct stream {
    struct vmsim_event *ev;
    size_t n;
};

static struct stream make(const char *name, size_t accesses)
{
    struct stream s = {calloc(accesses + 16, sizeof(struct vmsim_event)), 0};
    uint64_t g = 42;
    const bool fork = !strcmp(name, "fork"), cow = !strcmp(name, "cow"),
               procs = !strcmp(name, "procs");
    const uint64_t region = fork ? 64ull << 20 : cow ? 32ull << 20 : 64ull << 20;
    size_t made = 0;
    if (fork) {
        for (uint64_t off = 0; off < region; off += 4096, made++)
            s.ev[s.n++] = (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = VMSIM_WRITE,
                                               .pid = 1, .addr = (1ull << 30) + off, .len = 8};
        for (vmsim_pid_t c = 2; c <= NCPUS; c++)
            s.ev[s.n++] = (struct vmsim_event){.type = VMSIM_EV_FORK, .pid = 1, .addr = c};
    }
    for (unsigned cpu = 0; made < accesses; cpu = (cpu + 1) % NCPUS)
        for (unsigned i = 0; i < SLICE && made < accesses; i++, made++) {
            const uint64_t r = rng_splitmix(&g);
            const uint64_t base = cow || fork ? 1ull << 30 : (uint64_t)(cpu + 1) << 30;
            const unsigned write = fork || cow ? r >> 63 : r % 5 == 0;
            s.ev[s.n++] = (struct vmsim_event){
                .type = VMSIM_EV_ACCESS, .kind = write ? VMSIM_WRITE : VMSIM_READ,
                .cpu = (uint16_t)cpu, .pid = fork || procs ? cpu + 1 : 1,
                .addr = base + (r >> 8) % (region / 8) * 8, .len = 8};
        }
    return s;
}

static double wall_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void run_all(struct vmsim *sim, const struct stream *s)
{
    for (size_t i = 0; i < s->n; i += 1u << 16)
        vmsim_run(sim, s->ev + i, s->n - i < (1u << 16) ? s->n - i : 1u << 16);
}

/* Accesses per wall-clock second, best of three, on a fresh machine each
 * time: after a first pass that takes the faults (warm), or with them (the
 * storms, whose faults are the point). *st gets the last run's counters
 * of the timed pass. */
static double rate(const struct stream *s, size_t accesses, bool warm, unsigned threads,
                   unsigned locks, struct vmsim_stats *st)
{
    double best = 1e9;
    for (int t = 0; t < 3; t++) {
        struct vmsim_config cfg;
        struct vmsim *sim;
        vmsim_config_default(&cfg);
        cfg.ncpus = NCPUS;
        cfg.threads = threads;
        cfg.locks = (uint8_t)locks;
        if (vmsim_create(&cfg, &sim)) {
            fprintf(stderr, "bench: cannot create the simulator\n");
            exit(1);
        }
        if (warm) {
            run_all(sim, s);
            vmsim_reset_stats(sim);
        }
        const double t0 = wall_now();
        run_all(sim, s);
        const double dt = wall_now() - t0;
        *st = *vmsim_get_stats(sim);
        vmsim_destroy(sim);
        if (dt < best)
            best = dt;
    }
    return (double)accesses / best;
}

int bench_threads(bool csv)
{
    static const char *const streams[] = {"procs", "threads", "cow", "fork"};
    const size_t accesses = 1u << 20;
    if (csv)
        printf("stream,locks,threads,accesses_per_s,speedup,revalidated,ipis,contended\n");
    else
        printf("\n%-44s %14s %14s %8s\n", "--threads, 8 CPUs (wall clock)", "vmsim acc/s",
               "1 thread", "ratio");
    for (size_t i = 0; i < sizeof streams / sizeof *streams; i++) {
        struct stream s = make(streams[i], accesses);
        struct vmsim_stats st;
        const bool warm = i < 2;
        const double one = rate(&s, accesses, warm, 1, 0, &st);
        for (unsigned locks = 0; vmsim_locks_names[locks]; locks++)
            for (unsigned t = 1; t <= NCPUS; t *= 2) {
                const double r = t == 1 ? one : rate(&s, accesses, warm, t, locks, &st);
                if (csv) {
                    printf("%s,%s,%u,%.4g,%.3f,%llu,%llu,%llu\n", streams[i],
                           vmsim_locks_names[locks], t, r, r / one,
                           (unsigned long long)(t == 1 ? 0 : st.conc_revalidated),
                           (unsigned long long)(t == 1 ? 0 : st.conc_ipis),
                           (unsigned long long)(t == 1 ? 0 : st.conc_contended));
                    fflush(stdout);
                } else if (t > 1) {
                    char name[64];
                    snprintf(name, sizeof name, "%s, --locks %s, %u threads", streams[i],
                             vmsim_locks_names[locks], t);
                    printf("%-44s %14.3g %14.3g %8.2f\n", name, r, one, r / one);
                }
            }
        free(s.ev);
    }
    return 0;
}
