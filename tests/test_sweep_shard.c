/* Scaling a sweep out without MPI (docs/cli.md, "Shards and lists"): the
 * shards of a sweep merged give the rows of the sweep run whole; --merge
 * refuses a missing shard, a doubled one and shards of two sweeps; --list
 * prints command lines that a shell runs as they are (a path with a space
 * and a quote), and that compute what the sweep's rows say; the default -j
 * is the CPUs of the affinity mask. */
#define _GNU_SOURCE /* sched_setaffinity */
#include "testutil.h"

#include <jansson.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/plot_data.c"
#include "cli/sweep_spec.c"
#include "sweeptables.h"

/* 3 x 2 x 3 = 18 points, in 4 shards of 5, 5, 4 and 4 points */
#define GRID                                                                                       \
    "--workload 'random:n=3000,size={ws}' --axis ws=1m,4m,16m --axis pt=radix,hashed "             \
    "--axis workload.seed=1..3 --quiet"
#define GRID_POINTS 18

static void test_shards_merged_equal_whole(void **state)
{
    (void)state;
    char *whole = temp_path(".csv"), *wjs = temp_path(".json"), *merged = temp_path(".csv"),
         *mjs = temp_path(".json"), *shard[4];
    struct cmd_result r = run_vmsim("sweep " GRID " -o %s --json %s", whole, wjs);
    assert_int_equal(r.status, 0);
    cmd_result_free(&r);
    for (int i = 0; i < 4; i++) {
        shard[i] = temp_path(".json");
        r = run_vmsim("sweep " GRID " --shard %d/4 --json %s", i, shard[i]);
        if (r.status) fail_msg("shard %d: %s", i, r.err);
        cmd_result_free(&r);
        /* a shard holds the points p with p % 4 == i, in order */
        json_t *doc = json_load_file(shard[i], 0, NULL);
        json_t *rows = json_object_get(doc, "rows");
        assert_int_equal(json_array_size(rows), (size_t)(GRID_POINTS - i + 3) / 4);
        for (size_t k = 0; k < json_array_size(rows); k++)
            assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, k), "point")),
                             (json_int_t)(4 * k + (size_t)i));
        char want[16];
        snprintf(want, sizeof want, "%d/4", i);
        assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "sweep"),
                                                              "shard")),
                            want);
        json_decref(doc);
    }
    /* in any order */
    r = run_vmsim("sweep --merge %s %s %s %s -o %s --json %s", shard[2], shard[0], shard[3],
                  shard[1], merged, mjs);
    if (r.status) fail_msg("merge: %s", r.err);
    cmd_result_free(&r);
    struct plot_table *a = load_table(whole), *b = load_table(merged);
    assert_int_equal(a->nrows, GRID_POINTS);
    assert_same_rows(a, b);
    plot_table_free(a);
    plot_table_free(b);
    /* the JSON too: the same sweep, the same rows but their timing */
    json_t *dw = json_load_file(wjs, 0, NULL), *dm = json_load_file(mjs, 0, NULL);
    json_t *sw = json_object_get(dw, "sweep"), *sm = json_object_get(dm, "sweep");
    json_object_del(sw, "jobs");
    json_object_del(sm, "jobs");
    assert_true(json_equal(sw, sm));
    json_t *rw = json_object_get(dw, "rows"), *rm = json_object_get(dm, "rows");
    assert_int_equal(json_array_size(rm), GRID_POINTS);
    for (size_t p = 0; p < GRID_POINTS; p++) {
        json_t *x = json_array_get(rw, p), *y = json_array_get(rm, p);
        json_object_del(x, "elapsed_s"), json_object_del(x, "cpu_s");
        json_object_del(y, "elapsed_s"), json_object_del(y, "cpu_s");
        if (!json_equal(x, y)) fail_msg("JSON row %zu differs", p);
    }
    assert_int_equal(json_integer_value(json_object_get(dm, "ok")), GRID_POINTS);
    assert_int_equal(json_integer_value(json_object_get(dm, "ran")), GRID_POINTS);
    json_decref(dw);
    json_decref(dm);

    /* a missing shard, a doubled one, another sweep's */
    r = run_vmsim("sweep --merge %s %s %s -o %s", shard[0], shard[1], shard[3], merged);
    assert_int_equal(r.status, 1);
    expect_in("missing shard", r.err, "found 4 missing (the first: point 2;");
    cmd_result_free(&r);
    r = run_vmsim("sweep --merge %s %s %s %s %s -o %s", shard[0], shard[1], shard[2], shard[3],
                  shard[1], merged);
    assert_int_equal(r.status, 1);
    expect_in("doubled shard", r.err, "point 1 is in");
    cmd_result_free(&r);
    char *other = temp_path(".json");
    r = run_vmsim("sweep " GRID " --mem 1g --shard 0/4 --json %s", other);
    assert_int_equal(r.status, 0);
    cmd_result_free(&r);
    r = run_vmsim("sweep --merge %s %s %s %s -o %s", other, shard[1], shard[2], shard[3], merged);
    assert_int_equal(r.status, 1);
    expect_in("two sweeps", r.err, "expected shards of one sweep");
    cmd_result_free(&r);
    r = run_vmsim("sweep --merge %s -o %s", whole, merged); /* a CSV is no shard */
    assert_int_equal(r.status, 1);
    expect_in("not JSON", r.err, "sweep --merge: ");
    cmd_result_free(&r);
    unlink(other);
    free(other);
    for (int i = 0; i < 4; i++) {
        unlink(shard[i]);
        free(shard[i]);
    }
    unlink(whole), unlink(wjs), unlink(merged), unlink(mjs);
    free(whole), free(wjs), free(merged), free(mjs);
}

static void test_shard_usage(void **state)
{
    (void)state;
    static const char *const bad[] = {"4/4", "1", "-1/4", "1/0", "a/b", "1/4x", "19/19"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct cmd_result r = run_vmsim("sweep " GRID " --shard %s", bad[i]);
        if (r.status != 2) fail_msg("--shard %s: status %d: %s", bad[i], r.status, r.err);
        expect_in(bad[i], r.err, "--shard");
        cmd_result_free(&r);
    }
    struct cmd_result r = run_vmsim("sweep --merge");
    assert_int_equal(r.status, 2);
    cmd_result_free(&r);
    r = run_vmsim("sweep --merge --axis pt=radix x.json");
    assert_int_equal(r.status, 2);
    cmd_result_free(&r);
}

/* ---- --list ---------------------------------------------------------------- */

static void test_list_runs_as_is(void **state)
{
    (void)state;
    /* a trace whose path needs quoting: a space and a single quote */
    char dir[] = "/tmp/vmsim-list-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], cmd[1024];
    snprintf(path, sizeof path, "%s/a b'c.txt", dir);
    size_t len;
    char *trace = read_file(VMSIM_TEST_DATA "/trace_lackey_true.txt", &len);
    assert_non_null(trace);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fwrite(trace, 1, len, f);
    fclose(f);
    free(trace);
    char *csv = temp_path(".csv"), *out = temp_path(".txt");
    /* the path, quoted for the test's own shell */
    const char *quoted = "'lackey:%s/a b'\\''c.txt'";
    char q[512];
    snprintf(q, sizeof q, quoted, dir);
    struct cmd_result r = run_vmsim("sweep --trace %s --axis pt=radix,hashed,inverted "
                                    "--axis no-asid=off,on -o %s --quiet",
                                    q, csv);
    if (r.status) fail_msg("sweep: %s", r.err);
    cmd_result_free(&r);
    r = run_vmsim("sweep --trace %s --axis pt=radix,hashed,inverted --axis no-asid=off,on --list",
                  q);
    assert_int_equal(r.status, 0);
    struct plot_table *t = load_table(csv);
    assert_int_equal(t->nrows, 6);
    size_t n = 0;
    for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n"), n++) {
        assert_true(n < 6);
        expect_in("a vmsim run line", line, " run ");
        /* the line as is, with the run's JSON asked for */
        snprintf(cmd, sizeof cmd, "%s --json - --quiet >%s", line, out);
        assert_int_equal(system(cmd), 0);
        char *doc = read_file(out, NULL);
        json_t *j = json_loads(doc, 0, NULL);
        assert_non_null(j);
        free(doc);
        /* what the sweep's row n says */
        uint64_t v;
        assert_true(json_path(j, "walks.refs", &v));
        assert_int_equal(v, strtoull(cell(t, n, "walk_refs"), NULL, 10));
        assert_true(json_path(j, "tlb.misses_all_levels", &v));
        assert_int_equal(v, strtoull(cell(t, n, "tlb_misses"), NULL, 10));
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "config"), "pt")),
                            cell(t, n, "config.pt"));
        assert_int_equal(json_is_true(json_object_get(json_object_get(j, "config"), "asids")),
                         !strcmp(cell(t, n, "config.asids"), "true"));
        json_decref(j);
    }
    assert_int_equal(n, 6);
    cmd_result_free(&r);
    /* with --shard, the shard's lines only */
    r = run_vmsim("sweep --trace %s --axis pt=radix,hashed,inverted --axis no-asid=off,on "
                  "--list --shard 1/4",
                  q);
    assert_int_equal(r.status, 0);
    size_t lines = 0;
    for (const char *c = r.out; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 2); /* points 1 and 5 */
    expect_in("point 1", r.out, "--pt radix --no-asid");
    cmd_result_free(&r);
    plot_table_free(t);
    unlink(path);
    rmdir(dir);
    unlink(csv), unlink(out);
    free(csv), free(out);
}

/* ---- -j from the affinity mask ------------------------------------------- */

static long jobs_with_cpus(int ncpus)
{
    char *js = temp_path(".json");
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int c = 0; c < ncpus; c++)
            CPU_SET(c, &set);
        if (sched_setaffinity(0, sizeof set, &set)) _exit(99);
        execl(VMSIM_BIN, "vmsim", "sweep", "--workload", "seq:n=100", "--axis", "pt=radix",
              "--quiet", "--json", js, (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    json_t *doc = json_load_file(js, 0, NULL);
    const long jobs = (long)json_integer_value(json_object_get(json_object_get(doc, "sweep"),
                                                               "jobs"));
    json_decref(doc);
    unlink(js);
    free(js);
    return jobs;
}

static void test_jobs_from_affinity(void **state)
{
    (void)state;
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    const int mine = CPU_COUNT(&set);
    /* the first CPUs of ours: CPUs 0..k-1 are ours when the mask is whole */
    if (!CPU_ISSET(0, &set)) skip();
    assert_int_equal(jobs_with_cpus(1), 1);
    if (mine >= 2 && CPU_ISSET(1, &set)) assert_int_equal(jobs_with_cpus(2), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shard_usage),
        cmocka_unit_test(test_shards_merged_equal_whole),
        cmocka_unit_test(test_list_runs_as_is),
        cmocka_unit_test(test_jobs_from_affinity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
