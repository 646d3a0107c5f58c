/* vmsim sweep under mpirun (docs/cli.md, "Sweeps on a cluster"): 4 ranks on
 * a sweep of 64 points give the rows of `-j 1`, in the same order, a failed
 * point's too; the points go out on request (one slow point keeps its rank
 * while the others share the rest, which no split made up front would do);
 * a sweep whose rank 0 is killed resumes from its journal without redoing
 * finished points and ends with the same rows. Skipped when vmsim was built
 * without MPI or mpirun is missing. */
#include "testutil.h"

#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/plot_data.c"
#include "cli/sweep_spec.c"
#include "sweeptables.h"

#define POINTS 64

static bool have_mpi(void)
{
#if defined(VMSIM_HAVE_MPI) && defined(VMSIM_MPIEXEC)
    return access(VMSIM_MPIEXEC, X_OK) == 0;
#else
    return false;
#endif
}

#ifndef VMSIM_MPIEXEC
#define VMSIM_MPIEXEC "mpirun"
#endif
/* As root, Open MPI wants to be told; the points are short, so 4 ranks on
 * fewer cores are fine. */
#define MPIRUN VMSIM_MPIEXEC " --oversubscribe -np 4 "

static int shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int shell(const char *fmt, ...)
{
    char cmd[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    const int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static json_t *load_json_file(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j) fail_msg("%s: %s", path, e.text);
    return j;
}

/* 64 points: point 0 reads 10 M accesses (about a second), the others just
 * 4000, and point 63 fails (a parameter seq does not have). */
static char *slow_first_axis(void)
{
    char *a = malloc(8192);
    size_t n = (size_t)snprintf(a, 8192, "'workload=random:n=10000000,size=8m,seed=1");
    for (int i = 2; i < POINTS; i++)
        n += (size_t)snprintf(a + n, 8192 - n, ";random:n=4000,size=8m,seed=%d", i);
    snprintf(a + n, 8192 - n, ";seq:n=4000,bogus=1'");
    return a;
}

static void test_same_rows_as_j1(void **state)
{
    (void)state;
    if (!have_mpi()) skip();
    char *axis = slow_first_axis();
    char *ref = temp_path(".csv"), *csv = temp_path(".csv"), *js = temp_path(".json");
    /* the failed point: exit status 1 both ways, the same row */
    const int rc1 = shell("%s sweep --axis %s --axis pt=radix -j 1 -o %s --quiet 2>/dev/null",
                          VMSIM_BIN, axis, ref);
    assert_int_equal(rc1, 1);
    const int rc4 = shell(MPIRUN "%s sweep --axis %s --axis pt=radix -o %s --json %s --quiet "
                                 ">/dev/null 2>&1",
                          VMSIM_BIN, axis, csv, js);
    assert_int_equal(rc4, 1);
    struct plot_table *a = load_table(ref), *b = load_table(csv);
    assert_int_equal(a->nrows, POINTS);
    assert_same_rows(a, b);
    const long st = plot_column(b, "status"), er = plot_column(b, "error");
    assert_string_equal(plot_cell(b, POINTS - 1, (size_t)st), "failed");
    expect_in("the failed row", plot_cell(b, POINTS - 1, (size_t)er), "bogus=1");
    assert_string_equal(plot_cell(b, POINTS - 2, (size_t)st), "ok");

    /* every rank ran points, and they were handed out on request: the rank
     * with the slow point 0 (rank 0 starts it first) ran few, the others
     * the rest; an even split up front would give each 16 */
    json_t *doc = load_json_file(js);
    json_t *ranks = json_object_get(doc, "ranks");
    assert_int_equal(json_array_size(ranks), 4);
    json_int_t sum = 0, r0 = json_integer_value(json_array_get(ranks, 0));
    for (size_t r = 0; r < 4; r++) {
        const json_int_t n = json_integer_value(json_array_get(ranks, r));
        print_message("rank %zu ran %lld points\n", r, (long long)n);
        assert_true(n >= 1);
        sum += n;
    }
    assert_int_equal(sum, POINTS);
    assert_true(r0 < POINTS / 4);
    assert_int_equal(json_integer_value(json_object_get(doc, "ran")), POINTS);
    assert_int_equal(json_integer_value(json_object_get(doc, "failed")), 1);
    json_decref(doc);
    plot_table_free(a);
    plot_table_free(b);
    char journal[512];
    snprintf(journal, sizeof journal, "%s.journal", csv); /* kept for the failed point */
    unlink(journal);
    snprintf(journal, sizeof journal, "%s.journal", ref);
    unlink(journal);
    unlink(ref);
    unlink(csv);
    unlink(js);
    free(ref);
    free(csv);
    free(js);
    free(axis);
}

/* ---- a killed sweep resumes ------------------------------------------- */

#define KILL_ARGS "--workload random:n=400000,size=16m --axis pt=radix,hashed --axis workload.seed=1..32 --quiet"
#define KILL_POINTS 64

/* The child of parent whose environment says it is rank 0; 0 if none yet. */
static pid_t rank0_of(pid_t parent)
{
    DIR *d = opendir("/proc");
    pid_t found = 0;
    for (struct dirent *e; d && !found && (e = readdir(d)) != NULL;) {
        const pid_t pid = (pid_t)atoi(e->d_name);
        if (pid <= 0) continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        char *stat = read_file(path, NULL);
        const char *rp = stat ? strrchr(stat, ')') : NULL;
        int ppid = 0;
        if (rp) sscanf(rp + 2, "%*c %d", &ppid);
        free(stat);
        if (ppid != parent) continue;
        size_t len;
        snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
        char *env = read_file(path, &len);
        for (size_t i = 0; env && i < len; i += strlen(env + i) + 1)
            if (!strcmp(env + i, "OMPI_COMM_WORLD_RANK=0")) found = pid;
        free(env);
    }
    if (d) closedir(d);
    return found;
}

static void test_resume_after_rank0_killed(void **state)
{
    (void)state;
    if (!have_mpi()) skip();
    char *csv = temp_path(".csv"), *js = temp_path(".json"), *ref = temp_path(".csv");
    char journal[512], cmd[2048];
    snprintf(journal, sizeof journal, "%s.journal", csv);
    snprintf(cmd, sizeof cmd, "exec " MPIRUN "%s sweep " KILL_ARGS " -o %s --json %s", VMSIM_BIN,
             csv, js);
    const pid_t mpirun = fork();
    assert_true(mpirun >= 0);
    if (mpirun == 0) {
        /* mpirun's banner about the killed rank is expected */
        freopen("/dev/null", "w", stderr);
        freopen("/dev/null", "w", stdout);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    size_t lines = 0;
    for (int i = 0; i < 6000 && (lines = count_lines(journal)) < 1 + 10; i++)
        usleep(5000);
    const pid_t r0 = rank0_of(mpirun);
    assert_true(r0 > 0);
    kill(r0, SIGKILL);
    int st;
    waitpid(mpirun, &st, 0);
    assert_false(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    const size_t done = count_lines(journal) - 1;
    print_message("killed rank 0 with %zu of %d points in the journal\n", done, KILL_POINTS);
    assert_true(done >= 10 && done < KILL_POINTS);
    assert_int_equal(access(csv, F_OK), -1); /* no output yet */

    const int rc = shell(MPIRUN "%s sweep " KILL_ARGS " -o %s --json %s", VMSIM_BIN, csv, js);
    assert_int_equal(rc, 0);
    json_t *doc = load_json_file(js);
    assert_int_equal(json_integer_value(json_object_get(doc, "resumed")), done);
    assert_int_equal(json_integer_value(json_object_get(doc, "ran")), KILL_POINTS - done);
    json_decref(doc);
    assert_int_equal(access(journal, F_OK), -1);

    assert_int_equal(shell("%s sweep " KILL_ARGS " -j 2 -o %s", VMSIM_BIN, ref), 0);
    struct plot_table *a = load_table(csv), *b = load_table(ref);
    assert_int_equal(a->nrows, KILL_POINTS);
    assert_same_rows(a, b);
    plot_table_free(a);
    plot_table_free(b);
    unlink(csv);
    unlink(js);
    unlink(ref);
    free(csv);
    free(js);
    free(ref);
}

int main(void)
{
    /* Open MPI refuses root unless told; its leaks are not ours */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_rows_as_j1),
        cmocka_unit_test(test_resume_after_rank0_killed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
