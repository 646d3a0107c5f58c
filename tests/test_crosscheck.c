/* vmsim crosscheck against valgrind's cachegrind on real programs (issue 11,
 * the external peer), skipped when valgrind is not on PATH except for the
 * checks that need no valgrind.
 *
 * `vmsim crosscheck --keep DIR -- PROGRAM` runs the program under lackey
 * (simulated by vmsim with one data and one instruction TLB) and under
 * cachegrind (D1 and I1 of the same geometry with 4096-byte lines), and
 * prints per side: lackey's accesses, vmsim's lookups, cachegrind's
 * references, both miss counts and their difference. The expected numbers
 * come from a model written here from LRU's definition, sharing no code with
 * src/: it reads the lackey trace the command kept (with sscanf, not vmsim's
 * reader) and runs a set-associative LRU cache of pages (set = page mod
 * sets, the least recently used way evicted) under two counting rules:
 *
 *   vmsim's:      an access touching pages p..q looks up each page in
 *                 address order; each lookup that misses is a miss
 *                 (DESIGN.md, Events: every page touched is translated);
 *   cachegrind's: the same lookups in the same order (cg_sim.c touches both
 *                 lines of a straddling access), but the access counts as
 *                 one reference and one miss when any of its pages missed.
 *
 * The two rules give the same LRU state, so their miss counts differ by
 * exactly the accesses that crossed a page and missed on both pages. The
 * test asserts, for every program, geometry and side:
 *
 *   accesses          = the trace's records of that side (I for i; L S M d)
 *   vmsim-lookups     = the pages those records touch
 *   vmsim-misses      = the model's misses under vmsim's rule (exact)
 *   cachegrind-refs   = accesses (exact: the two runs are one program run,
 *                       same environment, standard streams and descriptors;
 *                       valgrind places the client itself, no ASLR)
 *   cachegrind-misses = the model's misses under cachegrind's rule (exact)
 *   difference        = accesses crossing a page that missed on both pages
 *
 * So the only residual difference between vmsim and cachegrind on these
 * programs is the counting of page-crossing accesses, and the test would
 * fail if vmsim's TLB, the lackey reader, or the pairing of the two runs
 * were wrong. Small geometries (2x1, direct-mapped with two sets) are
 * there to make misses on both pages of a crossing access happen.
 *
 * Time: about 30 s in release on a 2-core machine (lackey's run dominates);
 * the ASan build (VMSIM_SANITIZE) runs /bin/true only. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* ---- the reference model: LRU sets of page numbers -------------------- */

struct lru {
    unsigned sets, ways;
    uint64_t *tag;     /* sets x ways, most recently used first */
    unsigned *filled;  /* ways in use per set */
};

static void lru_init(struct lru *c, unsigned entries, unsigned ways)
{
    c->sets = entries / ways;
    c->ways = ways;
    c->tag = calloc((size_t)entries, sizeof *c->tag);
    c->filled = calloc(c->sets, sizeof *c->filled);
    assert_non_null(c->tag);
    assert_non_null(c->filled);
}

static void lru_free(struct lru *c)
{
    free(c->tag);
    free(c->filled);
}

/* Look page up; true on a miss. Either way it ends most recently used. */
static bool lru_touch(struct lru *c, uint64_t page)
{
    uint64_t *set = c->tag + (size_t)(page % c->sets) * c->ways;
    unsigned *n = &c->filled[page % c->sets];
    unsigned i = 0;
    while (i < *n && set[i] != page)
        i++;
    bool miss = i == *n;
    if (miss) {
        if (*n < c->ways)
            (*n)++;
        i = *n - 1; /* a free way, or the least recently used one */
    }
    memmove(set + 1, set, i * sizeof *set);
    set[0] = page;
    return miss;
}

struct model_side {
    uint64_t accesses, lookups, misses, cg_misses, crossing, both_missed;
};

/* Run the lackey trace at path through the two models (0 = d, 1 = i). */
static void model_run(const char *path, const unsigned geom[2][2], struct model_side out[2])
{
    struct lru c[2];
    for (int s = 0; s < 2; s++)
        lru_init(&c[s], geom[s][0], geom[s][1]);
    memset(out, 0, 2 * sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot read the kept lackey trace %s", path);
    char line[256];
    while (fgets(line, sizeof line, f)) {
        char k;
        uint64_t addr;
        unsigned size;
        int side;
        /* lackey: "I  ADDR,SIZE" for a fetch, " L|S|M ADDR,SIZE" for data */
        if (line[0] == 'I' && sscanf(line, "I %" SCNx64 ",%u", &addr, &size) == 2)
            side = 1;
        else if (line[0] == ' ' && sscanf(line, " %c %" SCNx64 ",%u", &k, &addr, &size) == 3 &&
                 (k == 'L' || k == 'S' || k == 'M'))
            side = 0;
        else
            continue; /* valgrind's own "==PID==" lines */
        struct model_side *m = &out[side];
        uint64_t first = addr / 4096, last = (addr + (size ? size : 1) - 1) / 4096;
        unsigned missed = 0;
        m->accesses++;
        for (uint64_t p = first; p <= last; p++) {
            m->lookups++;
            missed += lru_touch(&c[side], p);
        }
        m->misses += missed;
        m->cg_misses += missed > 0;
        m->crossing += last > first;
        m->both_missed += last > first && missed == last - first + 1;
    }
    fclose(f);
    for (int s = 0; s < 2; s++)
        lru_free(&c[s]);
}

/* ---- the command's output ------------------------------------------------ */

struct row {
    unsigned entries, ways;
    unsigned long long accesses, lookups, refs, misses, cg_misses;
    long long diff;
};

static void parse_rows(const char *out, struct row rows[2])
{
    for (int s = 0; s < 2; s++) {
        char start[4] = {"di"[s], ' ', 0};
        const char *p = out;
        while (p && strncmp(p, start, 2))
            p = (p = strchr(p, '\n')) ? p + 1 : NULL;
        if (!p)
            fail_msg("no row for side %c in:\n%s", "di"[s], out);
        struct row *r = &rows[s];
        if (sscanf(p + 2, " %ux%u %llu %llu %llu %llu %llu %lld", &r->entries, &r->ways,
                   &r->accesses, &r->lookups, &r->refs, &r->misses, &r->cg_misses, &r->diff) != 8)
            fail_msg("cannot parse the row of side %c in:\n%s", "di"[s], out);
    }
}

static char *make_dir(void)
{
    char *d = temp_path(".d");
    assert_int_equal(mkdir(d, 0777), 0);
    return d;
}

static void remove_dir(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Crosscheck `program` at the geometry; assert every rule of the header. */
static void check(const char *program, const unsigned geom[2][2])
{
    char *keep = make_dir();
    struct cmd_result r = run_vmsim("crosscheck --quiet --dtlb %ux%u --itlb %ux%u --keep %s -- %s",
                                    geom[0][0], geom[0][1], geom[1][0], geom[1][1], keep, program);
    if (r.status != 0)
        fail_msg("crosscheck of %s: status %d\n%s%s", program, r.status, r.out, r.err);
    struct row rows[2];
    parse_rows(r.out, rows);
    char trace[4200];
    snprintf(trace, sizeof trace, "%s/lackey.txt", keep);
    struct model_side m[2];
    model_run(trace, geom, m);
    for (int s = 0; s < 2; s++) {
        const struct row *w = &rows[s];
        print_message("%-40s %c %ux%u: accesses %llu (crossing %" PRIu64 "), misses vmsim %llu, "
                      "cachegrind %llu, difference %lld (model: crossing accesses missing "
                      "both pages %" PRIu64 ")\n",
                      program, "di"[s], w->entries, w->ways, w->accesses, m[s].crossing,
                      w->misses, w->cg_misses, w->diff, m[s].both_missed);
        assert_int_equal(w->entries, geom[s][0]);
        assert_int_equal(w->ways, geom[s][1]);
        assert_int_equal(w->accesses, m[s].accesses);
        assert_int_equal(w->lookups, m[s].lookups);
        assert_int_equal(w->misses, m[s].misses);
        assert_int_equal(w->refs, w->accesses);
        assert_int_equal(w->cg_misses, m[s].cg_misses);
        assert_int_equal(w->diff, (long long)m[s].both_missed);
        assert_true(m[s].accesses > 1000); /* a real program ran, under both tools */
    }
    cmd_result_free(&r);
    remove_dir(keep);
    free(keep);
}

static const unsigned skylake[2][2] = {{64, 4}, {128, 8}};
static const unsigned direct2[2][2] = {{2, 1}, {2, 1}};

static void test_true(void **state)
{
    (void)state;
    if (!on_path("valgrind"))
        skip();
    check("/bin/true", skylake);
    check("/bin/true", direct2);
}

#ifndef VMSIM_SANITIZE
static const unsigned small_fa[2][2] = {{8, 8}, {4, 4}}; /* fully associative */

/* The programs' inputs are made here: a file of numbers in scrambled order
 * for sort, 500 lines of text for gzip, a directory of five files for ls. */
static void test_programs(void **state)
{
    (void)state;
    if (!on_path("valgrind"))
        skip();
    char *dir = make_dir();
    char path[4200], cmd[8600];
    snprintf(path, sizeof path, "%s/numbers", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (unsigned i = 1; i <= 300; i++)
        fprintf(f, "%u\n", i * 7919u % 1009u);
    fclose(f);
    snprintf(cmd, sizeof cmd, "sort %s", path);
    check(cmd, skylake);
    check(cmd, small_fa);

    snprintf(path, sizeof path, "%s/text", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    for (unsigned i = 0; i < 500; i++)
        fprintf(f, "line %u of %u\n", i * 2654435761u % 100003u, i);
    fclose(f);
    snprintf(cmd, sizeof cmd, "gzip -c %s", path);
    check(cmd, skylake);

    snprintf(path, sizeof path, "%s/ls", dir);
    assert_int_equal(mkdir(path, 0777), 0);
    for (int i = 0; i < 5; i++) {
        char file[4300];
        snprintf(file, sizeof file, "%s/f%d", path, i);
        f = fopen(file, "w");
        assert_non_null(f);
        fclose(f);
    }
    snprintf(cmd, sizeof cmd, "ls -l %s", path);
    check(cmd, skylake);
    check(cmd, direct2);
    remove_dir(dir);
    free(dir);
}
#endif

/* A failing command: the comparison is still printed, the command's status
 * comes back, and its output is kept. */
static void test_failing_command(void **state)
{
    (void)state;
    if (!on_path("valgrind"))
        skip();
    struct cmd_result r = run_vmsim("crosscheck --quiet -- /bin/sh -c 'exit 3'");
    assert_int_equal(r.status, 3);
    expect_in("stdout", r.out, "cachegrind-misses");
    expect_in("stderr", r.err, "exited with status 3 under lackey and exited with status 3 "
                               "under cachegrind");
    const char *kept = strstr(r.err, "output is kept in ");
    assert_non_null(kept);
    char dir[4096];
    assert_int_equal(sscanf(kept + strlen("output is kept in "), "%4095s", dir), 1);
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    remove_dir(dir);
    cmd_result_free(&r);
}

/* SIGTERM during the lackey run: no comparison, status 143, the command
 * killed and the temporary work directory removed (TMPDIR is a directory of
 * the test's, with no vmsim-crosscheck.* left in it). */
static void test_interrupted(void **state)
{
    (void)state;
    if (!on_path("valgrind"))
        skip();
    char *dir = make_dir(), *tmp = make_dir();
    char path[4200];
    snprintf(path, sizeof path, "%s/numbers", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (unsigned i = 1; i <= 200000; i++) /* minutes under lackey */
        fprintf(f, "%u\n", i * 7919u % 100003u);
    fclose(f);
    /* run_vmsim's redirections would go to `wait`: this one has its own */
    char *out = temp_path(".out"), *err = temp_path(".err");
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "TMPDIR=%s %s crosscheck --quiet -- sort %s >%s 2>%s & p=$!; "
             "sleep 2; kill -TERM $p; wait $p", tmp, VMSIM_BIN, path, out, err);
    int st = system(cmd);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 143);
    char *text = read_file(err, NULL);
    expect_in("stderr", text, "vmsim: crosscheck: interrupted by SIGTERM during the lackey run");
    free(text);
    text = read_file(out, NULL);
    assert_non_null(text);
    assert_null(strstr(text, "cachegrind-misses"));
    free(text);
    /* valgrind, killed, leaves its vgdb pipes in TMPDIR: not vmsim's files */
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s' | grep vmsim-crosscheck)\"", tmp);
    assert_int_equal(system(cmd), 0);
    unlink(out);
    unlink(err);
    free(out);
    free(err);
    remove_dir(dir);
    remove_dir(tmp);
    free(dir);
    free(tmp);
}

static void test_usage_errors(void **state)
{
    (void)state;
    struct cmd_result r = run_vmsim("crosscheck");
    assert_int_equal(r.status, 2);
    expect_in("stderr", r.err, "expected a command after --, found nothing");
    cmd_result_free(&r);
    /* 48 entries / 4 ways = 12 sets: cachegrind refuses it */
    r = run_vmsim("crosscheck --dtlb 48x4 -- /bin/true");
    assert_int_equal(r.status, 2);
    expect_in("stderr", r.err, "--dtlb: expected ENTRIESxWAYS with ENTRIES/WAYS sets a power of "
                               "two (cachegrind needs it), found \"48x4\"");
    cmd_result_free(&r);
    r = run_vmsim("crosscheck --itlb 64x -- /bin/true");
    assert_int_equal(r.status, 2);
    expect_in("stderr", r.err, "--itlb: expected ENTRIESxWAYS");
    cmd_result_free(&r);
    r = run_vmsim("crosscheck --bogus -- /bin/true");
    assert_int_equal(r.status, 2);
    cmd_result_free(&r);
}

static void test_missing_valgrind_or_command(void **state)
{
    (void)state;
    /* run_vmsim runs "VMSIM_BIN ARGS" in the shell: a first harmless command,
     * then the one to test with PATH emptied of valgrind */
    struct cmd_result r = run_vmsim("--version >/dev/null; PATH=/nonexistent %s crosscheck -- "
                                    "/bin/true", VMSIM_BIN);
    assert_int_equal(r.status, 1);
    expect_in("stderr", r.err, "valgrind is not installed (not found on PATH)");
    cmd_result_free(&r);
    if (!on_path("valgrind"))
        return;
    r = run_vmsim("crosscheck -- /nonexistent/program");
    assert_int_equal(r.status, 1);
    expect_in("stderr", r.err, "/nonexistent/program: expected an executable command, found no "
                               "executable file there");
    cmd_result_free(&r);

    /* A wrapper script that execs the program: valgrind (which follows no
     * exec) leaves before cachegrind writes its output. Said, and the work
     * directory kept. */
    static const char wrapper[] = "#!/bin/sh\nexec /bin/true \"$@\"\n";
    char *script = write_temp(wrapper, sizeof wrapper - 1, ".sh");
    assert_int_equal(chmod(script, 0755), 0);
    r = run_vmsim("crosscheck --quiet -- %s", script);
    assert_int_equal(r.status, 1);
    expect_in("stderr", r.err, "expected cachegrind's output, found No such file or directory (a "
                               "command that execs another program");
    const char *kept = strstr(r.err, "the work directory ");
    assert_non_null(kept);
    char dir[4096];
    assert_int_equal(sscanf(kept + strlen("the work directory "), "%4095s", dir), 1);
    remove_dir(dir);
    unlink(script);
    free(script);
    cmd_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_missing_valgrind_or_command),
        cmocka_unit_test(test_true),
#ifndef VMSIM_SANITIZE
        cmocka_unit_test(test_programs),
#endif
        cmocka_unit_test(test_failing_command),
        cmocka_unit_test(test_interrupted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
