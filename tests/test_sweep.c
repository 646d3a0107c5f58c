/* vmsim sweep (docs/cli.md): the axis grammar; a 60-point grid that runs
 * in parallel (wall time well under the sum of the points' times) and
 * whose rows equal single `vmsim run --json` runs; a sweep killed half-way
 * that resumes without redoing finished points and ends with the same CSV;
 * failed points; usage errors. */
#include "testutil.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The parsers are in the command line, not the library: compile them in. */
#include "cli/plot_data.c"
#include "cli/sweep_spec.c"
#include "sweeptables.h"

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static json_t *load_json(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j) fail_msg("JSON: %s (line %d)", e.text, e.line);
    return j;
}

static json_t *path_get(json_t *j, const char *path)
{
    char part[64];
    for (const char *p = path; j && *p;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        snprintf(part, sizeof part, "%.*s", (int)n, p);
        j = json_object_get(j, part);
        p += n + (dot ? 1 : 0);
    }
    return j;
}

/* ---- the grammar --------------------------------------------------------- */

static void expect_values(const char *arg, const char *const *want, size_t n)
{
    struct sweep_axis a;
    char err[256];
    if (sweep_axis_parse(arg, &a, err, sizeof err)) fail_msg("%s: %s", arg, err);
    assert_int_equal(a.nvalues, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(a.values[i], want[i]);
    sweep_axis_free(&a);
}

static void test_axis_grammar(void **state)
{
    (void)state;
    expect_values("pt=radix,hashed", (const char *[]){"radix", "hashed"}, 2);
    expect_values("workload.tenants=1..64*4", (const char *[]){"1", "4", "16", "64"}, 4);
    expect_values("mem=64m..1g*4", (const char *[]){"64m", "256m", "1g"}, 3);
    expect_values("n=1..10+3", (const char *[]){"1", "4", "7", "10"}, 4);
    expect_values("n=3..5", (const char *[]){"3", "4", "5"}, 3);
    expect_values("n=1..100*10,7", (const char *[]){"1", "10", "100", "7"}, 4);
    expect_values("mem=512k..2m*2", (const char *[]){"512k", "1m", "2m"}, 3);
    /* a semicolon in the list: values may hold commas */
    expect_values("tlb=l1=64x4,l2=512x4;none", (const char *[]){"l1=64x4,l2=512x4", "none"}, 2);
    /* "..": only digits before it make a range */
    expect_values("trace=../a.vmt,../b.vmt", (const char *[]){"../a.vmt", "../b.vmt"}, 2);
    expect_values("x=1.5,2.5", (const char *[]){"1.5", "2.5"}, 2);

    static const char *const bad[][2] = {
        {"pt", "expected KEY=V1,V2,..."},
        {"=radix", "expected KEY=V1,V2,..."},
        {"pt=", "expected KEY=V1,V2,..."},
        {"pt=radix,,hashed", "found an empty one"},
        {"n=5..1", "expected a range"},
        {"n=1..8*1", "expected a range"},
        {"n=0..8*2", "expected a range"},
        {"n=1..8+0", "expected a range"},
        {"n=1..99999999999999999999", "expected a range"},
        {"n=1..100000", "at most 4096 values"},
        {"a b=1", "expected a KEY of letters"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sweep_axis a;
        char err[512] = "";
        if (sweep_axis_parse(bad[i][0], &a, err, sizeof err) == 0) fail_msg("%s parsed", bad[i][0]);
        if (!strstr(err, bad[i][1])) fail_msg("%s: \"%s\" lacks \"%s\"", bad[i][0], err, bad[i][1]);
    }

    char out[128];
    assert_int_equal(sweep_set_param("cloud:tenants=4,n=100", "tenants", "16", out, sizeof out), 0);
    assert_string_equal(out, "cloud:n=100,tenants=16");
    assert_int_equal(sweep_set_param("seq", "n", "5", out, sizeof out), 0);
    assert_string_equal(out, "seq:n=5");
    assert_int_equal(sweep_set_param("seq", "n", "5", out, 7), -1);
    assert_int_equal(sweep_subst("l1={n}x4,l2={n}x8", "n", "128", out, sizeof out), 2);
    assert_string_equal(out, "l1=128x4,l2=128x8");
    char name[16];
    assert_int_equal(sweep_placeholder("a{1}b{x_2}", name, sizeof name), 1);
    assert_string_equal(name, "x_2");
    sweep_format_real(0.1, out, sizeof out);
    assert_string_equal(out, "0.1");
    sweep_format_real(1.0003173773429916, out, sizeof out);
    assert_true(strtod(out, NULL) == 1.0003173773429916);
}

/* ---- a 60-point grid ------------------------------------------------------ */

#define BASE "random:n=150000"

/* The statistics columns and where `vmsim run --json` has them, written out
 * here independently of the sweep's own table. */
static const struct {
    const char *col, *path, *path2;
    char how; /* '=' copy, '+' sum, '/' ratio */
} stats[] = {
    {"accesses", "accesses", NULL, '='},
    {"translations", "translations", NULL, '='},
    {"tlb_misses", "tlb.misses_all_levels", NULL, '='},
    {"tlb_miss_rate", "tlb.misses_all_levels", "translations", '/'},
    {"walks", "walks.count", NULL, '='},
    {"walk_refs", "walks.refs", NULL, '='},
    {"refs_per_walk", "walks.refs_per_walk", NULL, '='},
    {"walk_cycles", "walks.cycles", NULL, '='},
    {"cycles_per_walk", "walks.cycles", "walks.count", '/'},
    {"pwc_hits", "pwc.hits", NULL, '='},
    {"pwc_misses", "pwc.misses", NULL, '='},
    {"faults", "faults.total", NULL, '='},
    {"evictions", "reclaim.evictions", NULL, '='},
    {"swap_writes", "swap.writes", NULL, '='},
    {"frames_peak", "memory.frames_peak", NULL, '='},
    {"page_table_bytes", "page_tables.bytes", "page_tables.root_bytes", '+'},
    {"page_table_peak_bytes", "page_tables.peak_bytes_with_roots", NULL, '='},
    {"cycles", "cycles", NULL, '='},
    {"cycles_translation", "cycles_translation", NULL, '='},
    {"cycles_per_access", "cycles_per_access", NULL, '='},
    {"translation_share", "translation_share", NULL, '='},
};

/* Every name json_normalize would give a member nested in obj (prefix its
 * path) must not be a key of the row itself. */
static void assert_no_flat_collision(json_t *row, json_t *obj, const char *prefix)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        char name[512];
        snprintf(name, sizeof name, "%s%s", prefix, k);
        if (*prefix && json_object_get(row, name))
            fail_msg("row key %s is also a nested member's flattened name", name);
        if (json_is_object(v)) {
            strcat(name, ".");
            assert_no_flat_collision(row, v, name);
        }
    }
}

static void test_grid_parallel_and_exact(void **state)
{
    (void)state;
    char *csv = temp_path(".csv"), *js = temp_path(".json");
    /* 2 organizations x 5 sizes x 6 seeds = 60 points */
    const double t0 = wall_now();
    struct cmd_result r = run_vmsim("sweep --workload " BASE " --axis pt=radix,hashed "
                                    "--axis workload.size=4m..64m*2 --axis workload.seed=1..6 "
                                    "--mem 1g -o %s --json %s --quiet",
                                    csv, js);
    const double wall = wall_now() - t0;
    if (r.status != 0) fail_msg("sweep: status %d: %s", r.status, r.err);
    struct plot_table *t = load_table(csv);
    assert_int_equal(t->nrows, 60);
    /* grid order: the last axis fastest */
    assert_string_equal(cell(t, 0, "pt"), "radix");
    /* a size axis is a number of bytes, its column says so (4m = 4 x 2^20) */
    assert_string_equal(cell(t, 0, "workload.size_bytes"), "4194304");
    assert_string_equal(cell(t, 0, "workload.seed"), "1");
    assert_string_equal(cell(t, 1, "workload.seed"), "2");
    assert_string_equal(cell(t, 6, "workload.size_bytes"), "8388608");
    assert_string_equal(cell(t, 30, "pt"), "hashed");
    assert_string_equal(cell(t, 59, "workload.size_bytes"), "67108864");

    /* every statistics column is one this test checks */
    long from = plot_column(t, "config.seed"), to = plot_column(t, "error");
    assert_true(from > 0 && to > from);
    assert_int_equal((size_t)(to - from - 1), sizeof stats / sizeof stats[0]);
    for (long c = from + 1; c < to; c++)
        assert_string_equal(t->cols[c], stats[c - from - 1].col);

    /* parallel: the wall time is well under the sum of the points' times */
    double sum = 0;
    for (size_t i = 0; i < t->nrows; i++) {
        assert_string_equal(cell(t, i, "status"), "ok");
        sum += strtod(cell(t, i, "elapsed_s"), NULL);
    }
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    print_message("60-point sweep: wall %.2f s, sum of points %.2f s (%.2fx), %ld CPUs\n", wall,
                  sum, sum / wall, ncpu);
    if (ncpu >= 2 && !(wall < 0.75 * sum))
        fail_msg("expected the wall time (%.2f s) well under the sum of the points (%.2f s) "
                 "with %ld CPUs",
                 wall, sum, ncpu);

    /* rows equal single runs of the same points, column for column */
    static const size_t check[] = {0, 13, 31, 47, 59};
    for (size_t k = 0; k < sizeof check / sizeof check[0]; k++) {
        const size_t p = check[k];
        /* the size as the axis wrote it, so that "source" reads the same */
        char size_m[32];
        snprintf(size_m, sizeof size_m, "%llum",
                 strtoull(cell(t, p, "workload.size_bytes"), NULL, 10) >> 20);
        struct cmd_result one = run_vmsim("run --mem 1g --pt %s --workload %s,size=%s,seed=%s "
                                          "--json - --quiet",
                                          cell(t, p, "pt"), BASE, size_m,
                                          cell(t, p, "workload.seed"));
        assert_int_equal(one.status, 0);
        json_t *doc = load_json(one.out);
        for (size_t s = 0; s < sizeof stats / sizeof stats[0]; s++) {
            json_t *a = path_get(doc, stats[s].path),
                   *b = stats[s].path2 ? path_get(doc, stats[s].path2) : NULL;
            assert_non_null(a);
            double want = json_number_value(a);
            if (stats[s].how == '+')
                want += json_number_value(b);
            else if (stats[s].how == '/')
                want = json_number_value(b) ? want / json_number_value(b) : 0;
            const double got = strtod(cell(t, p, stats[s].col), NULL);
            if (got != want)
                fail_msg("point %zu, %s: sweep %.17g, vmsim run %.17g", p, stats[s].col, got, want);
        }
        assert_string_equal(cell(t, p, "config.pt"), json_string_value(path_get(doc, "config.pt")));
        assert_string_equal(cell(t, p, "source"), json_string_value(path_get(doc, "source")));
        /* the full configuration is in the row too */
        json_t *cfg = load_json(cell(t, p, "run_config"));
        assert_true(json_equal(cfg, json_object_get(doc, "config")));
        json_decref(cfg);
        json_decref(doc);
        cmd_result_free(&one);
    }

    /* the JSON output: the same rows, with every statistic */
    size_t len;
    char *text = read_file(js, &len);
    json_t *doc = load_json(text);
    json_t *rows = json_object_get(doc, "rows");
    assert_int_equal(json_array_size(rows), 60);
    assert_int_equal(json_integer_value(json_object_get(doc, "ran")), 60);
    assert_int_equal(json_integer_value(json_object_get(doc, "failed")), 0);
    size_t i;
    json_t *row = json_array_get(rows, 13);
    assert_int_equal(json_integer_value(json_object_get(row, "point")), 13);
    assert_int_equal(json_integer_value(json_object_get(row, "accesses")), 150000);
    assert_non_null(path_get(json_object_get(row, "stats"), "walks.refs_histogram"));
    /* axis values are JSON numbers (text only where they are words) */
    assert_int_equal(json_integer_value(json_object_get(row, "workload.size_bytes")), 16 << 20);
    /* point 13 = (pt 0, size 13 / 6 = 2: 16m, seed 13 % 6 = 1: 2) */
    assert_int_equal(json_integer_value(json_object_get(row, "workload.seed")), 2);
    assert_string_equal(json_string_value(json_object_get(row, "pt")), "radix");
    /* pandas' json_normalize names a nested member PARENT.MEMBER: no such
     * name may be a key of the row already (config.tlb was, twice) */
    json_array_foreach(rows, i, row) assert_no_flat_collision(row, row, "");
    json_decref(doc);
    free(text);
    /* a complete sweep leaves no journal */
    char jpath[512];
    snprintf(jpath, sizeof jpath, "%s.journal", csv);
    assert_int_equal(access(jpath, F_OK), -1);
    plot_table_free(t);
    unlink(csv);
    unlink(js);
    free(csv);
    free(js);
    cmd_result_free(&r);
}

/* ---- resume --------------------------------------------------------------- */

#define RESUME_ARGS                                                                                \
    "--workload random:n=150000,size=32m --axis pt=radix,hashed,cuckoo "                           \
    "--axis workload.seed=1..12 -j 2 --quiet"
#define RESUME_POINTS 36

static void test_resume_after_kill(void **state)
{
    (void)state;
    char *csv = temp_path(".csv"), *js = temp_path(".json"), *ref = temp_path(".csv");
    char journal[512], cmd[2048];
    snprintf(journal, sizeof journal, "%s.journal", csv);
    snprintf(cmd, sizeof cmd, "exec %s sweep " RESUME_ARGS " -o %s --json %s", VMSIM_BIN, csv, js);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    /* kill it once the journal holds some points (header + rows) */
    size_t lines = 0;
    for (int i = 0; i < 6000 && (lines = count_lines(journal)) < 1 + 8; i++)
        usleep(5000);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFSIGNALED(st));
    usleep(100000); /* its children die with it (PR_SET_PDEATHSIG) */
    lines = count_lines(journal);
    const size_t done = lines - 1;
    print_message("killed the sweep with %zu of %d points in the journal\n", done, RESUME_POINTS);
    assert_true(done >= 8 && done < RESUME_POINTS);
    assert_int_equal(access(csv, F_OK), -1); /* no output yet */

    /* the points done, and when they were timed */
    size_t len;
    char *text = read_file(journal, &len);
    json_t *first[RESUME_POINTS] = {0};
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *row = json_loads(line, 0, NULL);
        json_t *p = json_object_get(row, "point");
        if (json_is_integer(p) && !strcmp(json_string_value(json_object_get(row, "status")), "ok"))
            first[json_integer_value(p)] = json_incref(row);
        json_decref(row);
    }
    free(text);

    /* resume */
    struct cmd_result r = run_vmsim("sweep " RESUME_ARGS " -o %s --json %s", csv, js);
    if (r.status != 0) fail_msg("resumed sweep: status %d: %s", r.status, r.err);
    text = read_file(js, &len);
    json_t *doc = load_json(text);
    free(text);
    assert_int_equal(json_integer_value(json_object_get(doc, "resumed")), done);
    assert_int_equal(json_integer_value(json_object_get(doc, "ran")), RESUME_POINTS - done);
    /* the journal's points were not run again: their rows are the journal's,
     * timing included */
    json_t *rows = json_object_get(doc, "rows");
    size_t same = 0;
    for (size_t p = 0; p < RESUME_POINTS; p++)
        if (first[p]) {
            json_t *row = json_array_get(rows, p);
            assert_true(json_equal(json_object_get(row, "elapsed_s"),
                                   json_object_get(first[p], "elapsed_s")));
            assert_true(json_equal(row, first[p]));
            same++;
            json_decref(first[p]);
        }
    assert_int_equal(same, done);
    json_decref(doc);
    assert_int_equal(access(journal, F_OK), -1);

    /* the same CSV as a sweep that ran through */
    struct cmd_result r2 = run_vmsim("sweep " RESUME_ARGS " -o %s", ref);
    assert_int_equal(r2.status, 0);
    struct plot_table *a = load_table(csv), *b = load_table(ref);
    assert_int_equal(a->nrows, RESUME_POINTS);
    assert_same_rows(a, b);
    plot_table_free(a);
    plot_table_free(b);
    cmd_result_free(&r);
    cmd_result_free(&r2);
    unlink(csv);
    unlink(js);
    unlink(ref);
    free(csv);
    free(js);
    free(ref);
}

/* ---- failures --------------------------------------------------------------- */

static void test_failed_point(void **state)
{
    (void)state;
    char *csv = temp_path(".csv"), *js = temp_path(".json");
    char journal[512];
    snprintf(journal, sizeof journal, "%s.journal", csv);
    struct cmd_result r = run_vmsim("sweep --workload seq:n=5000 --axis pt=radix,bogus,hashed "
                                    "--axis workload.n=1000,2000 -o %s --json %s --quiet",
                                    csv, js);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "point 2 (pt=bogus, workload.n=1000) failed"));
    assert_non_null(strstr(r.err, "\"bogus\""));
    assert_non_null(strstr(r.err, "2 failed"));
    struct plot_table *t = load_table(csv);
    assert_int_equal(t->nrows, 6);
    for (size_t i = 0; i < 6; i++) {
        const bool bad = i == 2 || i == 3;
        assert_string_equal(cell(t, i, "status"), bad ? "failed" : "ok");
        if (bad) {
            assert_non_null(strstr(cell(t, i, "error"), "--pt: expected an organization"));
            assert_string_equal(cell(t, i, "accesses"), "");
        } else {
            assert_string_equal(cell(t, i, "error"), "");
            assert_string_equal(cell(t, i, "accesses"), i % 2 ? "2000" : "1000");
        }
    }
    plot_table_free(t);
    /* the journal stays; a rerun runs only the failed points */
    assert_int_equal(access(journal, F_OK), 0);
    struct cmd_result r2 = run_vmsim("sweep --workload seq:n=5000 --axis pt=radix,bogus,hashed "
                                     "--axis workload.n=1000,2000 -o %s --json %s",
                                     csv, js);
    assert_int_equal(r2.status, 1);
    assert_non_null(strstr(r2.err, "resuming from"));
    char *text = read_file(js, NULL);
    json_t *doc = load_json(text);
    assert_int_equal(json_integer_value(json_object_get(doc, "resumed")), 4);
    assert_int_equal(json_integer_value(json_object_get(doc, "ran")), 2);
    json_decref(doc);
    free(text);
    /* another sweep on the same output is refused, --fresh starts over */
    struct cmd_result r3 =
        run_vmsim("sweep --workload seq:n=5000 --axis pt=radix -o %s --quiet", csv);
    assert_int_equal(r3.status, 2);
    assert_non_null(strstr(r3.err, "--fresh"));
    struct cmd_result r4 = run_vmsim("sweep --workload seq:n=5000 --axis pt=radix -o %s --quiet "
                                     "--fresh",
                                     csv);
    assert_int_equal(r4.status, 0);
    assert_int_equal(access(journal, F_OK), -1);
    cmd_result_free(&r);
    cmd_result_free(&r2);
    cmd_result_free(&r3);
    cmd_result_free(&r4);
    unlink(csv);
    unlink(js);
    free(csv);
    free(js);
}

static void test_usage_errors(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"sweep --workload seq:n=10", "expected at least one --axis"},
        {"sweep --axis pt", "expected KEY=V1,V2,..."},
        {"sweep --axis foo=1,2", "--axis foo: expected a `vmsim run` option name"},
        {"sweep --axis pt=radix --axis pt=hashed", "expected each KEY once"},
        {"sweep --trace x.vmt --axis workload.n=1,2", "a trace has no parameters"},
        {"sweep --axis no-asid=maybe", "expected on or off"},
        {"sweep --tlb 'l1={n}x4' --axis pt=radix", "expected {n} to name an --axis"},
        {"sweep --tlb bogus --axis pt=radix", "--tlb"},
        {"sweep --axis pt=radix -j 0", "-j: expected a number"},
        {"sweep --axis pt=radix --bogus", "unknown option"},
        {"sweep --axis n=1..100000", "at most 4096 values"},
        {"sweep --workload 'seq:n={accesses}' --axis accesses=1,2", "not also a result column"},
        /* page_table=1m,2m would be column page_table_bytes, a statistic */
        {"sweep --workload 'random:n=10,size={page_table}' --axis page_table=1m,2m",
         "not also a result column"},
        {"sweep --workload random:n=10 --axis workload.size=1m,2m --axis workload.size_bytes=3,4",
         "found both in column workload.size_bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cmd_result r = run_vmsim("%s", cases[i][0]);
        if (r.status != 2 || !strstr(r.err, cases[i][1]))
            fail_msg("vmsim %s: status %d, stderr \"%s\"; expected 2 and \"%s\"", cases[i][0],
                     r.status, r.err, cases[i][1]);
        cmd_result_free(&r);
    }
}

/* A {NAME} axis fills placeholders; flags take on/off; CSV to stdout. */
static void test_placeholders_and_flags(void **state)
{
    (void)state;
    struct cmd_result r = run_vmsim("sweep --workload seq:n=2000 --tlb 'l1d=8x2@4k/d,stlb={n}x4' "
                                    "--axis n=16..64*2 --axis no-asid=off,on --quiet");
    if (r.status != 0) fail_msg("status %d: %s", r.status, r.err);
    struct plot_table *t;
    char err[256];
    if (plot_table_parse(r.out, strlen(r.out), &t, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(t->nrows, 6);
    assert_string_equal(cell(t, 0, "n"), "16");
    assert_string_equal(cell(t, 0, "config.tlb_entries"), "24");
    assert_string_equal(cell(t, 5, "config.tlb_entries"), "72");
    assert_string_equal(cell(t, 0, "config.asids"), "true");
    assert_string_equal(cell(t, 1, "config.asids"), "false");
    assert_int_equal(t->naxes, 2);
    plot_table_free(t);
    cmd_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_axis_grammar),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_placeholders_and_flags),
        cmocka_unit_test(test_failed_point),
        cmocka_unit_test(test_grid_parallel_and_exact),
        cmocka_unit_test(test_resume_after_kill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
