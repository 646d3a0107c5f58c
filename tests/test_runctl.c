/* vmsim run --skip, --max (Dinero's -skipcount, -maxcount) and --interval,
 * through the real program.
 *
 * The counts are derived by hand from the rules of docs/cli.md ("Run
 * control"): --skip N drops the first N access events and applies every
 * other event among them; --max N stops after N access events, reading
 * nothing after the N-th; the kernel's demand-zero rules (src/os/kernel.c:
 * a first read maps the zero frame, a first write gets a frame) give the
 * faults. --interval's lines are checked against the run's own final JSON
 * (counters: the sum of the lines; gauges: the last line) and against the
 * arithmetic of where the boundaries fall (every N accesses after the
 * warm-up, one more line for the rest). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* Six accesses around an mmap and a fork. */
static const char trace_a[] = "spawn 1\n"
                              "R 1 0x1000 8\n"  /* access 1 */
                              "R 1 0x2000 8\n"  /* access 2 */
                              "mmap 1 0x100000 8192 rw-\n"
                              "R 1 0x3000 8\n"  /* access 3 */
                              "W 1 0x100000 8\n" /* access 4 */
                              "R 1 0x4000 8\n"  /* access 5 */
                              "fork 1 2\n"
                              "R 1 0x1000 8\n"; /* access 6 */

static uint64_t jv(json_t *root, const char *path)
{
    uint64_t v;
    if (!json_path(root, path, &v))
        fail_msg("no integer at %s", path);
    return v;
}

static void expect(json_t *root, const char *path, uint64_t want)
{
    const uint64_t got = jv(root, path);
    if (got != want)
        fail_msg("%s = %llu, expected %llu", path, (unsigned long long)got,
                 (unsigned long long)want);
}

static void test_no_options(void **state)
{
    (void)state;
    json_t *j = run_trace_json(trace_a, "");
    /* 6 accesses + spawn, mmap, fork. Reads of 0x1000, 0x2000, 0x3000,
     * 0x4000 are first reads (zero frame); the write to 0x100000 a first
     * write; the last read finds 0x1000 mapped. */
    expect(j, "accesses", 6);
    expect(j, "events", 9);
    expect(j, "forks", 1);
    expect(j, "faults.demand_zero_read", 4);
    expect(j, "faults.demand_zero_write", 1);
    json_decref(j);
}

static void test_skip_and_max(void **state)
{
    (void)state;
    /* accesses 3 and 4 only; spawn and mmap applied, the fork (after the
     * 2nd simulated access) never read */
    json_t *j = run_trace_json(trace_a, "--skip 2 --max 2");
    expect(j, "accesses", 2);
    expect(j, "events", 4);
    expect(j, "forks", 0);
    expect(j, "faults.demand_zero_read", 1);
    expect(j, "faults.demand_zero_write", 1);
    json_decref(j);
    /* accesses 3-6: 0x1000 was never touched by a simulated access, so its
     * read at the end is a first read too */
    j = run_trace_json(trace_a, "--skip 2");
    expect(j, "accesses", 4);
    expect(j, "events", 7);
    expect(j, "forks", 1);
    expect(j, "faults.demand_zero_read", 3);
    expect(j, "faults.demand_zero_write", 1);
    json_decref(j);
    /* accesses 1-5; the fork comes after the 5th */
    j = run_trace_json(trace_a, "--max 5");
    expect(j, "accesses", 5);
    expect(j, "events", 7);
    expect(j, "forks", 0);
    json_decref(j);
    /* more to skip than the input has: only the OS events run */
    j = run_trace_json(trace_a, "--skip 10");
    expect(j, "accesses", 0);
    expect(j, "events", 3);
    expect(j, "forks", 1);
    expect(j, "faults.total", 0);
    json_decref(j);
    /* a --max beyond the input changes nothing */
    j = run_trace_json(trace_a, "--max 1k");
    expect(j, "accesses", 6);
    expect(j, "events", 9);
    json_decref(j);
}

/* The mmap among the skipped accesses must be applied: under --strict an
 * access outside every mapping is a segv. */
static void test_skipped_os_events_applied(void **state)
{
    (void)state;
    static const char t[] = "spawn 1\n"
                            "R 1 0x1000 8\n"
                            "mmap 1 0x100000 4096 rw-\n"
                            "W 1 0x100000 8\n";
    json_t *j = run_trace_json(t, "--strict");
    expect(j, "faults.segv", 1); /* 0x1000 is not mapped: the rule applies */
    json_decref(j);
    j = run_trace_json(t, "--strict --skip 1");
    expect(j, "faults.segv", 0);
    expect(j, "faults.demand_zero_write", 1);
    expect(j, "accesses", 1);
    expect(j, "events", 3);
    json_decref(j);
}

/* The warm-up counts from the first simulated access. */
static void test_warmup_after_skip(void **state)
{
    (void)state;
    json_t *j = run_trace_json(trace_a, "--skip 2 --warmup 1");
    expect(j, "warmup.accesses", 1); /* access 3 */
    expect(j, "accesses", 3);        /* 4, 5, 6 */
    json_decref(j);
}

/* --record --max N: N accesses simulated, then the command is stopped on
 * purpose: exit status 0, and a note rather than "killed by signal 9". */
static void test_record_max(void **state)
{
    (void)state;
    if (!on_path("valgrind"))
        skip();
    struct cmd_result r =
        run_vmsim("run --record --max 1000 --skip 500 --quiet --json - -- /bin/true");
    if (r.status != 0)
        fail_msg("run --record --max: status %d\n%s", r.status, r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    expect(j, "accesses", 1000);
    expect(j, "events", 1002); /* spawn 1 and exit 1 around them */
    json_decref(j);
    assert_null(strstr(r.err, "killed"));
    cmd_result_free(&r);
    r = run_vmsim("run --record --max 1000 --json /dev/null -- /bin/true");
    assert_int_equal(r.status, 0);
    expect_in("--record --max", r.err, "stopped /bin/true after --max 1000 accesses");
    cmd_result_free(&r);
}

/* ---- intervals ----------------------------------------------------------- */

#define MAXLINES 16

struct lines {
    size_t n;
    json_t *line[MAXLINES];
};

/* Run the workload with --interval into a .jsonl and --json -; parse both. */
static json_t *run_intervals(const char *opts, struct lines *ls)
{
    char *out = temp_path(".jsonl");
    struct cmd_result r = run_vmsim("run --workload stride:n=10000 --tlb l1=4x4 --quiet --json - "
                                    "--interval-out %s %s", out, opts);
    if (r.status != 0)
        fail_msg("vmsim run %s: status %d\n%s", opts, r.status, r.err);
    json_t *final = json_loads(r.out, 0, NULL);
    assert_non_null(final);
    cmd_result_free(&r);
    size_t len;
    char *text = read_file(out, &len);
    assert_non_null(text);
    ls->n = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        assert_true(ls->n < MAXLINES);
        json_error_t e;
        ls->line[ls->n] = json_loads(l, 0, &e);
        if (!ls->line[ls->n])
            fail_msg("line %zu of the interval file is not JSON (%s): %s", ls->n + 1, e.text, l);
        ls->n++;
    }
    free(text);
    unlink(out);
    free(out);
    return final;
}

static void lines_free(struct lines *ls)
{
    for (size_t i = 0; i < ls->n; i++)
        json_decref(ls->line[i]);
}

/* A line's value: its keys are the dotted names themselves (flat). */
static uint64_t lv(json_t *line, const char *key)
{
    json_t *v = json_object_get(line, key);
    if (!json_is_integer(v))
        fail_msg("interval line has no integer \"%s\"", key);
    return (uint64_t)json_integer_value(v);
}

static void expect_line(json_t *line, const char *key, uint64_t want)
{
    if (lv(line, key) != want)
        fail_msg("interval line: %s = %llu, expected %llu", key,
                 (unsigned long long)lv(line, key), (unsigned long long)want);
}

static void expect_lines(const struct lines *ls, size_t n, const uint64_t *access,
                         const uint64_t *accesses)
{
    if (ls->n != n)
        fail_msg("%zu interval lines, expected %zu", ls->n, n);
    for (size_t i = 0; i < n; i++) {
        expect_line(ls->line[i], "interval", i + 1);
        expect_line(ls->line[i], "access", access[i]);
        expect_line(ls->line[i], "accesses", accesses[i]);
    }
}

/* Counters: the lines add up to the final figure; gauges: the last line
 * holds it. */
static void expect_sums(const struct lines *ls, json_t *final)
{
    static const char *const counters[] = {"events", "accesses", "translations",
                                           "tlb.misses_all_levels", "walks.count", "walks.refs",
                                           "faults.total", "faults.demand_zero_read", "cycles",
                                           "tlb.l1.misses", "tlb.l1.hits", NULL};
    for (const char *const *c = counters; *c; c++) {
        uint64_t sum = 0;
        for (size_t i = 0; i < ls->n; i++)
            sum += lv(ls->line[i], *c);
        if (sum != jv(final, *c))
            fail_msg("%s: the lines add up to %llu, the run's JSON says %llu", *c,
                     (unsigned long long)sum, (unsigned long long)jv(final, *c));
    }
    expect_line(ls->line[ls->n - 1], "memory.frames_used", jv(final, "memory.frames_used"));
    expect_line(ls->line[ls->n - 1], "memory.frames_peak", jv(final, "memory.frames_peak"));
}

static void test_interval_sums(void **state)
{
    (void)state;
    struct lines ls;
    /* 10000 accesses by 3000: lines at 3000, 6000, 9000 and the rest at 10000 */
    json_t *f = run_intervals("--interval 3000", &ls);
    expect_lines(&ls, 4, (const uint64_t[]){3000, 6000, 9000, 10000},
                 (const uint64_t[]){3000, 3000, 3000, 1000});
    expect_sums(&ls, f);
    /* one page per access (stride 4096): every access is a first read */
    expect_line(ls.line[1], "faults.demand_zero_read", 3000);
    json_decref(f);
    lines_free(&ls);
    /* a warm-up of 1000: its accesses are in no line; lines at 4000, 7000, 10000 */
    f = run_intervals("--interval 3000 --warmup 1000", &ls);
    expect_lines(&ls, 3, (const uint64_t[]){4000, 7000, 10000},
                 (const uint64_t[]){3000, 3000, 3000});
    expect_sums(&ls, f);
    expect(f, "accesses", 9000);
    json_decref(f);
    lines_free(&ls);
    /* N larger than the run: one line, the whole run */
    f = run_intervals("--interval 20000", &ls);
    expect_lines(&ls, 1, (const uint64_t[]){10000}, (const uint64_t[]){10000});
    expect_sums(&ls, f);
    json_decref(f);
    lines_free(&ls);
    /* --skip 500 --max 2000: 2000 simulated, lines at 1000 and 2000, no
     * empty line after */
    f = run_intervals("--interval 1000 --skip 500 --max 2000", &ls);
    expect_lines(&ls, 2, (const uint64_t[]){1000, 2000}, (const uint64_t[]){1000, 1000});
    expect_sums(&ls, f);
    json_decref(f);
    lines_free(&ls);
}

static void test_interval_csv(void **state)
{
    (void)state;
    char *out = temp_path(".csv");
    struct cmd_result r =
        run_vmsim("run --workload stride:n=2500 --quiet --interval 1000 --interval-out %s", out);
    assert_int_equal(r.status, 0);
    cmd_result_free(&r);
    size_t len;
    char *text = read_file(out, &len);
    assert_non_null(text);
    /* a header and 3 rows: 1000, 2000, 2500 */
    assert_true(!strncmp(text, "interval,access,events,accesses,", 32));
    size_t rows = 0;
    for (char *p = text; (p = strchr(p, '\n')) != NULL; p++)
        rows++;
    assert_int_equal(rows, 4);
    expect_in("interval CSV", text, "\n1,1000,");
    expect_in("interval CSV", text, "\n3,2500,");
    free(text);
    unlink(out);
    free(out);
}

/* vmsim plot draws an interval file, JSON lines or CSV. */
static void test_plot_intervals(void **state)
{
    (void)state;
    if (!on_path("gnuplot"))
        skip();
    static const char *const suffix[] = {".jsonl", ".csv"};
    for (int i = 0; i < 2; i++) {
        char *data = temp_path(suffix[i]), *png = temp_path(".png");
        struct cmd_result r = run_vmsim("run --workload stride:n=3000 --quiet --interval 1000 "
                                        "--interval-out %s && %s plot %s -x access -y "
                                        "cycles_per_access -o %s",
                                        data, VMSIM_BIN, data, png);
        if (r.status != 0)
            fail_msg("plot of %s: status %d\n%s", suffix[i], r.status, r.err);
        size_t len = 0;
        char *img = read_file(png, &len);
        assert_non_null(img);
        assert_true(len > 8 && !memcmp(img, "\x89PNG", 4));
        free(img);
        cmd_result_free(&r);
        unlink(data);
        unlink(png);
        free(data);
        free(png);
    }
}

static void test_bad_options(void **state)
{
    (void)state;
    static const struct {
        const char *args, *says;
    } cases[] = {
        {"--max 0", "--max: expected a number of accesses"},
        {"--max 1.5", "found \"1.5\""},
        {"--skip -1", "--skip: expected a number of accesses"},
        {"--interval 0 --interval-out x.jsonl", "--interval: expected"},
        {"--interval 10", "expected --interval-out FILE"},
        {"--interval-out x.jsonl", "expected --interval N"},
        {"--interval 10 --interval-out x.txt", "found \"x.txt\""},
        {"--skip 1 --replace opt", "cannot be combined with --skip or --max"},
        {"--interval 5 --interval-out - --json -", "both write standard output"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cmd_result r = run_vmsim("run --workload seq:n=10 --quiet %s", cases[i].args);
        if (r.status != 2)
            fail_msg("run %s: status %d, expected 2\n%s", cases[i].args, r.status, r.err);
        expect_in(cases[i].args, r.err, cases[i].says);
        cmd_result_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_options),
        cmocka_unit_test(test_skip_and_max),
        cmocka_unit_test(test_skipped_os_events_applied),
        cmocka_unit_test(test_warmup_after_skip),
        cmocka_unit_test(test_record_max),
        cmocka_unit_test(test_interval_sums),
        cmocka_unit_test(test_interval_csv),
        cmocka_unit_test(test_plot_intervals),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
