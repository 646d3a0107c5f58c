/* Simulated CPUs on host threads (--threads, docs/concurrency.md).
 *
 * The sequential run is the reference: where the CPUs share no page, every
 * statistic of a parallel run must equal it exactly, whatever the lock
 * design and thread count; where they share pages, the identities that
 * docs/concurrency.md writes down are checked, each side computed from
 * the stream by the test itself (distinct pages, pages written per
 * process). --verify runs under threads with fork, shared and COW-heavy
 * streams must lose no write and use no translation after its shootdown.
 * The stress case runs more threads than this machine has cores.
 *
 * Built with ThreadSanitizer too (make test's tsan build): a data race
 * fails the run there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vmsim/vmsim.h"

#if defined(VMSIM_PAR_SMALL) /* sanitizer builds: a tenth of the work */
#define SCALE 10
#else
#define SCALE 1
#endif

#define GIB (1ull << 30)
#define PAGE 4096ull

struct stream {
    struct vmsim_event *ev;
    size_t n, cap;
    uint64_t s; /* generator state */
};

static uint64_t rnd(struct stream *s)
{
    uint64_t z = (s->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void push(struct stream *s, struct vmsim_event e)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 4096;
        s->ev = realloc(s->ev, s->cap * sizeof *s->ev);
        assert_non_null(s->ev);
    }
    s->ev[s->n++] = e;
}

static void access_ev(struct stream *s, unsigned cpu, vmsim_pid_t pid, uint64_t addr, unsigned kind)
{
    push(s, (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = (uint8_t)kind,
                                 .cpu = (uint16_t)cpu, .pid = pid, .addr = addr, .len = 8});
}

/* The page-table organization the tests run: radix, unless a hashed case
 * sets it. */
static const char *organization = "radix";

static struct vmsim_config config(unsigned ncpus, unsigned threads, unsigned locks, bool verify)
{
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    snprintf(cfg.pt, sizeof cfg.pt, "%s", organization);
    cfg.ncpus = ncpus;
    cfg.threads = threads;
    cfg.locks = (uint8_t)locks;
    cfg.verify = verify;
    cfg.phys_bytes = 4 * GIB;
    return cfg;
}

/* Run the stream in batches of 10007 events (phases end at batch ends
 * too); the statistics copied out. */
static struct vmsim_stats run(const struct vmsim_config *cfg, const struct stream *s)
{
    struct vmsim *sim = NULL;
    assert_int_equal(vmsim_create(cfg, &sim), VMSIM_OK);
    for (size_t i = 0; i < s->n; i += 10007) {
        const size_t k = s->n - i < 10007 ? s->n - i : 10007;
        assert_int_equal(vmsim_run(sim, s->ev + i, k), VMSIM_OK);
    }
    const struct vmsim_stats st = *vmsim_get_stats(sim);
    vmsim_destroy(sim);
    return st;
}

/* Every statistic but the parallel run's own (concurrency.*, and
 * verify.raced, which only a parallel run can have). */
static void expect_equal_stats(const struct vmsim_stats *seq, const struct vmsim_stats *par,
                               const char *what)
{
#define CMP(f, name, r, d)                                                                      \
    if (strncmp(name, "concurrency.", 12) != 0 && strcmp(name, "verify.raced") != 0 &&          \
        seq->f != par->f)                                                                       \
        fail_msg("%s: %s is %llu in parallel, %llu in sequence", what, name,                    \
                 (unsigned long long)par->f, (unsigned long long)seq->f);
    VMSIM_STATS(CMP)
#undef CMP
    for (unsigned i = 0; i < VMSIM_MAX_TLB_LEVELS; i++)
        if (seq->tlb[i].hits != par->tlb[i].hits || seq->tlb[i].misses != par->tlb[i].misses)
            fail_msg("%s: TLB level %u differs", what, i);
    if (memcmp(seq->walk_hist, par->walk_hist, sizeof seq->walk_hist) ||
        memcmp(seq->walk_lat_hist, par->walk_lat_hist, sizeof seq->walk_lat_hist))
        fail_msg("%s: a walk histogram differs", what);
}

/* Every design and 2, 3 and 4 threads against the sequential run. */
static void expect_exact(unsigned ncpus, const struct stream *s, bool verify)
{
    const struct vmsim_config one = config(ncpus, 1, 0, verify);
    const struct vmsim_stats seq = run(&one, s);
    assert_true(seq.accesses > 0);
    for (unsigned locks = 0; locks <= VMSIM_LOCKS_SEQCOUNT; locks++)
        for (unsigned t = 2; t <= 4 && t <= ncpus; t++) {
            const struct vmsim_config cfg = config(ncpus, t, locks, verify);
            const struct vmsim_stats par = run(&cfg, s);
            char what[64];
            snprintf(what, sizeof what, "%u threads, --locks %s", t, vmsim_locks_names[locks]);
            expect_equal_stats(&seq, &par, what);
            assert_int_equal(par.conc_stale, 0);
            assert_true(par.conc_phases > 0);
            /* one page-table lock per fault the kernel handled (none re-validated here) */
            assert_int_equal(par.conc_locks, par.faults_total);
            assert_int_equal(par.conc_revalidated, 0);
        }
}

/* Four processes, one per CPU, over the same virtual addresses: reads,
 * writes (copy-on-write of zero pages) and fetches; then pid 1 forks and
 * CPU 0 runs the child, which writes the pages it shares (copies). No page
 * is shared between CPUs that run at the same time. */
static void test_processes_exact(void **state)
{
    (void)state;
    struct stream s = {.s = 11};
    for (unsigned round = 0; round < 40 / SCALE + 2; round++) {
        if (round == 20 / SCALE + 1)
            push(&s, (struct vmsim_event){.type = VMSIM_EV_FORK, .pid = 1, .addr = 9});
        for (unsigned c = 0; c < 4; c++) {
            const vmsim_pid_t pid = c == 0 && round > 20 / SCALE + 1 ? 9 : c + 1;
            for (unsigned i = 0; i < 500; i++) {
                const uint64_t r = rnd(&s);
                const unsigned kind = r % 10 < 3 ? VMSIM_WRITE : r % 10 == 9 ? VMSIM_FETCH : VMSIM_READ;
                access_ev(&s, c, pid, 0x10000000 + (r >> 20) % 4096 * PAGE + (r >> 8) % 512 * 8, kind);
            }
        }
    }
    expect_exact(4, &s, false);
    expect_exact(4, &s, true);
    free(s.ev);
}

/* One process on four CPUs (threads of one program), each CPU in its own
 * GiB: page tables are shared, pages are not. A write after a read copies
 * the zero page and shoots down on all four CPUs: IPIs to pages the
 * others never cached. */
static void test_threads_disjoint_exact(void **state)
{
    (void)state;
    struct stream s = {.s = 12};
    for (unsigned round = 0; round < 40 / SCALE + 2; round++)
        for (unsigned c = 0; c < 4; c++)
            for (unsigned i = 0; i < 500; i++) {
                const uint64_t r = rnd(&s);
                access_ev(&s, c, 1, (c + 1) * GIB + (r >> 20) % 2048 * PAGE,
                          r % 10 < 4 ? VMSIM_WRITE : VMSIM_READ);
            }
    expect_exact(4, &s, false);
    const struct vmsim_config cfg = config(4, 4, VMSIM_LOCKS_TABLE, true);
    const struct vmsim_stats par = run(&cfg, &s);
    assert_true(par.conc_ipis > 0); /* the zero-page copies were shot down across threads */
    /* every shootdown here is a fault's: 1000 per wait, 200 per simulated IPI */
    assert_true(par.conc_waits > 0);
    assert_int_equal(par.conc_ack_wait_cycles, 1000 * par.conc_waits + 200 * par.shootdown_ipis);
    assert_true(par.shootdown_ipis <= 3 * par.conc_waits); /* at most the 3 other CPUs */
    assert_int_equal(par.conc_pins, 0); /* the zero frame is never dropped */
    assert_int_equal(par.verify_mismatches, 0);
    free(s.ev);
}

/* Distinct pages of the stream's accesses (pid, page) that are writes /
 * any access; from the events themselves. */
static uint64_t count_pages(const struct stream *s, bool writes_only)
{
    uint64_t *seen = calloc(s->n, sizeof *seen);
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->ev[i].type == VMSIM_EV_ACCESS && (!writes_only || s->ev[i].kind == VMSIM_WRITE))
            seen[k++] = (uint64_t)s->ev[i].pid << 40 | s->ev[i].addr / PAGE;
    uint64_t distinct = 0;
    /* sort-free: a small open-addressing set */
    const size_t cap = 4 * k + 16;
    uint64_t *set = calloc(cap, sizeof *set);
    for (size_t i = 0; i < k; i++) {
        size_t h = (size_t)(seen[i] * 0x9e3779b97f4a7c15ull % cap);
        while (set[h] && set[h] != seen[i] + 1)
            h = (h + 1) % cap;
        if (!set[h]) {
            set[h] = seen[i] + 1;
            distinct++;
        }
    }
    free(set);
    free(seen);
    return distinct;
}

/* Four CPUs of one process writing the same 1024 pages: each page gets
 * exactly one demand-zero fault, by whichever CPU comes first; the others
 * that faulted on it meanwhile find it fixed under the lock. So, against
 * the sequential run: faults.total = sequential faults + re-validations,
 * walks likewise (each re-validated fault retries its walk), and the
 * frames in use are the same. */
static void test_shared_writes(void **state)
{
    (void)state;
    struct stream s = {.s = 13};
    for (unsigned round = 0; round < 100 / SCALE; round++)
        for (unsigned c = 0; c < 4; c++)
            for (unsigned i = 0; i < 200; i++)
                access_ev(&s, c, 1, 0x10000000 + rnd(&s) % 1024 * PAGE, VMSIM_WRITE);
    const uint64_t pages = count_pages(&s, true);
    const struct vmsim_config one = config(4, 1, 0, true);
    const struct vmsim_stats seq = run(&one, &s);
    assert_int_equal(seq.faults_zero_write, pages);
    for (unsigned locks = 0; locks <= VMSIM_LOCKS_SEQCOUNT; locks++) {
        const struct vmsim_config cfg = config(4, 4, locks, true);
        const struct vmsim_stats par = run(&cfg, &s);
        assert_int_equal(par.accesses, seq.accesses);
        assert_int_equal(par.faults_zero_write, pages);
        assert_int_equal(par.faults_total, seq.faults_total + par.conc_revalidated);
        assert_int_equal(par.walks, seq.walks + par.conc_revalidated);
        assert_int_equal(par.conc_locks, par.faults_total);
        assert_int_equal(par.frames_used, seq.frames_used);
        assert_int_equal(par.verify_mismatches, 0);
        assert_int_equal(par.conc_stale, 0);
    }
    free(s.ev);
}

/* Reads and writes of four CPUs on the same pages: who comes first
 * decides whether a page starts as the zero page (then a write copies it)
 * or as a new frame, so only these hold: one demand-zero fault per page
 * touched; every fault the kernel handled is one of those or a zero-page
 * copy; frames in use = pages written + 5 page tables (root, L3, L2 and
 * two leaf tables for 4 MiB at 256 MiB) + the zero frame if any page was
 * read first. --verify: no write lost, no stale translation used. */
static void test_shared_mixed_verify(void **state)
{
    (void)state;
    struct stream s = {.s = 14};
    for (unsigned round = 0; round < 100 / SCALE; round++)
        for (unsigned c = 0; c < 4; c++)
            for (unsigned i = 0; i < 200; i++) {
                const uint64_t r = rnd(&s);
                access_ev(&s, c, 1, 0x10000000 + r % 1024 * PAGE, r >> 60 < 5 ? VMSIM_WRITE : VMSIM_READ);
            }
    const uint64_t touched = count_pages(&s, false), written = count_pages(&s, true);
    for (unsigned locks = 0; locks <= VMSIM_LOCKS_SEQCOUNT; locks++)
        for (unsigned t = 1; t <= 4; t += 3) {
            const struct vmsim_config cfg = config(4, t, locks, true);
            const struct vmsim_stats st = run(&cfg, &s);
            assert_int_equal(st.faults_zero_read + st.faults_zero_write, touched);
            assert_int_equal(st.faults_total - st.conc_revalidated,
                             st.faults_zero_read + st.faults_zero_write + st.faults_cow_zero);
            assert_int_equal(st.frames_used, written + 5 + (st.faults_zero_read > 0));
            assert_int_equal(st.verify_mismatches, 0);
            assert_int_equal(st.conc_stale, 0);
            assert_true(st.verify_checks + st.verify_raced > 0);
        }
    free(s.ev);
}

/* A fork storm: pid 1 writes 1024 pages, forks pids 2-4, and each of the
 * four processes runs on its own CPU, reading and writing those pages.
 * Each process's first write to each page after the fork is one
 * copy-on-write fault, a copy or (the last sharer) a reuse: their sum is
 * the pages each process wrote, whatever the order. --verify: no write
 * lost. */
static void test_fork_cow_verify(void **state)
{
    (void)state;
    struct stream s = {.s = 15};
    for (uint64_t p = 0; p < 1024; p++)
        access_ev(&s, 0, 1, 0x10000000 + p * PAGE, VMSIM_WRITE);
    for (vmsim_pid_t child = 2; child <= 4; child++)
        push(&s, (struct vmsim_event){.type = VMSIM_EV_FORK, .pid = 1, .addr = child});
    const size_t after = s.n;
    for (unsigned round = 0; round < 50 / SCALE; round++)
        for (unsigned c = 0; c < 4; c++)
            for (unsigned i = 0; i < 200; i++) {
                const uint64_t r = rnd(&s);
                access_ev(&s, c, c + 1, 0x10000000 + r % 1024 * PAGE, r >> 61 < 3 ? VMSIM_WRITE : VMSIM_READ);
            }
    const struct stream tail = {.ev = s.ev + after, .n = s.n - after};
    const uint64_t written_after = count_pages(&tail, true);
    for (unsigned locks = 0; locks <= VMSIM_LOCKS_SEQCOUNT; locks++)
        for (unsigned t = 1; t <= 4; t *= 2) {
            const struct vmsim_config cfg = config(4, t, locks, true);
            const struct vmsim_stats st = run(&cfg, &s);
            assert_int_equal(st.faults_zero_write, 1024);
            assert_int_equal(st.faults_cow_copy + st.faults_cow_reuse, written_after);
            assert_int_equal(st.faults_total, 1024 + written_after);
            assert_int_equal(st.verify_mismatches, 0);
            assert_int_equal(st.conc_stale, 0);
            if (t > 1) /* each copy pinned its old frame until the shootdown */
                assert_int_equal(st.conc_pins, st.faults_cow_copy);
        }
    free(s.ev);
}

/* More threads than cores: 8 CPUs of one process write the same 256
 * pages, each in its own rotated order, round after round; an munmap
 * between rounds empties the range, so every round faults every page
 * again, concurrently: over two million faults with table locks (a tenth
 * under the sanitizers), fewer with the other designs and with --verify.
 * Exactly one demand-zero fault per page and round; every other fault was
 * re-validated. */
static void stress(unsigned rounds, unsigned locks, bool verify)
{
    struct stream s = {.s = 16};
    for (unsigned round = 0; round < rounds; round++) {
        for (unsigned i = 0; i < 256; i++)
            for (unsigned c = 0; c < 8; c++)
                access_ev(&s, c, 1, 0x10000000 + (i + 32 * c) % 256 * PAGE, VMSIM_WRITE);
        push(&s, (struct vmsim_event){.type = VMSIM_EV_MUNMAP, .pid = 1, .addr = 0x10000000,
                                      .len = 256 * PAGE});
    }
    const struct vmsim_config cfg = config(8, 8, locks, verify);
    const struct vmsim_stats st = run(&cfg, &s);
    assert_int_equal(st.faults_zero_write, 256ull * rounds);
    assert_int_equal(st.faults_total, st.faults_zero_write + st.conc_revalidated);
    assert_int_equal(st.conc_locks, st.faults_total);
    assert_int_equal(st.verify_mismatches, 0);
    assert_int_equal(st.conc_stale, 0);
    assert_int_equal(st.accesses, 8ull * 256 * rounds);
    free(s.ev);
}

static void test_stress_oversubscribed(void **state)
{
    (void)state;
    stress(8000 / SCALE, VMSIM_LOCKS_TABLE, false);
    stress(400 / SCALE, VMSIM_LOCKS_TABLE, true);
    stress(400 / SCALE, VMSIM_LOCKS_GLOBAL, false);
    stress(400 / SCALE, VMSIM_LOCKS_SEQCOUNT, true);
}

/* The hashed organizations run the sharing streams (whose identities hold
 * whatever the table) and the stress, whose pool of chain nodes grows
 * while the walks of other threads read it: chaining per process, a
 * global table, linear probing. Resizes wait for barriers, so a parallel
 * run's walks differ from the sequential ones' (docs/concurrency.md):
 * no exactness here. */
static void test_hashed(void **state)
{
    const char *const orgs[] = {"hashed", "hashed:scope=global,buckets=64",
                                "hashed:collision=probe,buckets=1024"};
    for (size_t i = 0; i < sizeof orgs / sizeof *orgs; i++) {
        organization = orgs[i];
        test_shared_writes(state);
        test_fork_cow_verify(state);
        stress(400 / SCALE, VMSIM_LOCKS_TABLE, true);
        stress(400 / SCALE, VMSIM_LOCKS_SEQCOUNT, false);
    }
    organization = "radix";
}

/* What a parallel run does not take yet is refused by name, by the
 * library (EINVAL) and the command line (status 2, the reason). */
static void test_refusals(void **state)
{
    (void)state;
    struct vmsim_config cfg = config(4, 2, 0, false);
    assert_null(vmsim_threads_refusal(&cfg));
    cfg.threads = 5;
    assert_non_null(strstr(vmsim_threads_refusal(&cfg), "--cpus"));
    struct vmsim *sim = NULL;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_EINVAL);
    cfg = config(4, 2, 0, false);
    strcpy(cfg.pt, "inverted");
    assert_non_null(strstr(vmsim_threads_refusal(&cfg), "radix and hashed"));
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_EINVAL);
    cfg = config(4, 2, 0, false);
    cfg.evict_tables = true;
    assert_non_null(strstr(vmsim_threads_refusal(&cfg), "--evict-tables"));
    cfg = config(4, 2, 0, false);
    cfg.replace = VMSIM_REPLACE_OPT;
    assert_non_null(strstr(vmsim_threads_refusal(&cfg), "opt"));
    cfg = config(4, 2, 0, false);
    cfg.anon_page_shift = 21;
    assert_non_null(strstr(vmsim_threads_refusal(&cfg), "huge pages"));
    cfg = config(4, 2, 0, false);
    cfg.nested.on = true;
    assert_non_null(strstr(vmsim_threads_refusal(&cfg), "--nested"));
    cfg = config(4, 1, 0, false);
    cfg.evict_tables = true; /* one thread takes everything */
    assert_null(vmsim_threads_refusal(&cfg));

    struct cmd_result r = run_vmsim("run --workload seq:n=1000 --cpus 4 --threads 2 --pt cuckoo");
    assert_int_equal(r.status, 2);
    expect_in("stderr", r.err, "only the radix and hashed organizations");
    cmd_result_free(&r);
    r = run_vmsim("run --workload seq:n=1000 --cpus 2 --threads 3");
    assert_int_equal(r.status, 2);
    expect_in("stderr", r.err, "at most one thread per simulated CPU");
    cmd_result_free(&r);
    r = run_vmsim("run --workload seq:n=1000 --threads 2 --locks ticket");
    assert_int_equal(r.status, 2);
    expect_in("stderr", r.err, "expected table, global or seqcount, found \"ticket\"");
    cmd_result_free(&r);
}

/* `vmsim run ARGS --json FILE --quiet`, which must succeed: the JSON. */
static json_t *run_json(const char *args)
{
    char *path = temp_path(".json");
    struct cmd_result r = run_vmsim("run %s --json %s --quiet", args, path);
    assert_int_equal(r.status, 0);
    cmd_result_free(&r);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    assert_non_null(j);
    remove(path);
    free(path);
    return j;
}

static uint64_t json_stat(json_t *j, const char *name)
{
    uint64_t v = 0;
    if (!json_path(j, name, &v))
        fail_msg("no %s in the JSON", name);
    return v;
}

/* Shared memory between processes (the smp workload: MAP_SHARED anonymous
 * memory inherited by fork, untouched before it): each process's first access to
 * a shared page is one page-cache fault, a miss for the first of all and a
 * hit for the others, whoever comes first: hits + misses and the misses
 * alone are the sequential run's. --verify: nothing lost. */
static void test_shared_memory_verify(void **state)
{
    (void)state;
    const char *spec = "--workload smp:cpus=4,procs=4,size=1m,shared=2m,share=0.6,write=0.3,"
                       "n=200000 --cpus 4 --verify";
    char args[256];
    json_t *ja = run_json(spec);
    snprintf(args, sizeof args, "%s --threads 4", spec);
    json_t *jb = run_json(args);
    const uint64_t hit = json_stat(ja, "faults.pagecache_hit");
    const uint64_t miss = json_stat(ja, "faults.pagecache_miss");
    assert_true(hit > 0);
    assert_int_equal(json_stat(jb, "faults.pagecache_miss"), miss);
    assert_int_equal(json_stat(jb, "faults.pagecache_hit") + json_stat(jb, "faults.pagecache_miss"),
                     hit + miss);
    assert_int_equal(json_stat(jb, "verify.mismatches"), 0);
    assert_int_equal(json_stat(jb, "concurrency.stale_uses"), 0);
    assert_true(json_stat(jb, "verify.checks") > 0);
    json_decref(ja);
    json_decref(jb);
}

/* The command line: a multi-process workload on 4 threads reports what
 * the sequential run reports, and says how it ran. */
static void test_cli(void **state)
{
    (void)state;
    json_t *ja = run_json("--workload cloud:n=300000 --cpus 4");
    json_t *jb = run_json("--workload cloud:n=300000 --cpus 4 --threads 4 --locks global");
    assert_int_equal(json_stat(jb, "config.threads"), 4);
    assert_string_equal(json_string_value(json_object_get(json_object_get(jb, "config"), "locks")),
                        "global");
    const char *keys[] = {"accesses", "walks.count", "faults.total", "tlb.l1d.hits",
                          "memory.frames_used", "cycles", "page_tables.peak_bytes"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (json_stat(ja, keys[i]) != json_stat(jb, keys[i]))
            fail_msg("%s: %llu with threads, %llu without", keys[i],
                     (unsigned long long)json_stat(jb, keys[i]),
                     (unsigned long long)json_stat(ja, keys[i]));
    assert_true(json_stat(jb, "concurrency.phases") > 0);
    json_decref(ja);
    json_decref(jb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_processes_exact),   cmocka_unit_test(test_threads_disjoint_exact),
        cmocka_unit_test(test_shared_writes),     cmocka_unit_test(test_shared_mixed_verify),
        cmocka_unit_test(test_fork_cow_verify),   cmocka_unit_test(test_stress_oversubscribed),
        cmocka_unit_test(test_hashed),            cmocka_unit_test(test_shared_memory_verify),
        cmocka_unit_test(test_refusals),          cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
