/* The command line's rough edges (issue 12), end to end through the real
 * program (run_vmsim): input that used to give a silently wrong result now
 * gives an error or the right result, results are never lost to an
 * unwritable output, and the conventions hold everywhere (usage errors exit
 * 2, whole option names only, docs/cli.md's exit-code table).
 *
 * Each case is the bad input from the issue and the status and message the
 * docs promise; the numbers are derived in the comments, never copied from
 * vmsim's output. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static bool contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

/* One run: its status, nothing on stdout when it failed, and stderr holding
 * every needle (NULL-terminated list, at most 4). */
struct edge_case {
    const char *args; /* after "vmsim "; %s is a one-access text trace */
    int status;
    const char *needle[4];
};

static void expect_cases(const struct edge_case *c, size_t n)
{
    const char trace[] = "R 1 0x400000 8\n";
    char *path = write_temp(trace, strlen(trace), ".txt");
    for (size_t i = 0; i < n; i++) {
        char args[1024];
        snprintf(args, sizeof args, c[i].args, path);
        struct cmd_result r = run_vmsim("%s", args);
        if (r.status != c[i].status)
            fail_msg("vmsim %s: status %d, expected %d\nstderr: %s", args, r.status, c[i].status,
                     r.err);
        if (c[i].status != 0 && r.out[0] && c[i].status == 2)
            fail_msg("vmsim %s: a usage error printed on stdout:\n%s", args, r.out);
        for (size_t k = 0; k < 4 && c[i].needle[k]; k++)
            if (!contains(r.err, c[i].needle[k]))
                fail_msg("vmsim %s: stderr lacks \"%s\":\n%s", args, c[i].needle[k], r.err);
        cmd_result_free(&r);
    }
    unlink(path);
    free(path);
}

/* ---- silent wrong results -> errors ------------------------------------ */

/* Nested paging translates guest-physical addresses through the nested
 * geometry: x86-32 has 32-bit addresses, so it reaches 2^32 bytes = 4 GiB of
 * guest memory. 8 GiB (and the default 256 GiB) would alias above 4 GiB;
 * exactly 4 GiB fits. x86-64's 48 bits reach 256 TiB, so 8 GiB runs. */
static void test_nested_memory_the_geometry_cannot_address(void **state)
{
    (void)state;
    static const struct edge_case c[] = {
        {"run --trace %s --quiet --nested x86-32 --mem 8g", 2,
         {"--mem", "8 GiB", "x86-32", "at most 4 GiB"}},
        {"run --trace %s --quiet --nested x86-32", 2, {"--mem", "256 GiB", "at most 4 GiB", NULL}},
        {"run --trace %s --quiet --nested x86-32 --mem 4g", 0, {NULL}},
        {"run --trace %s --quiet --nested x86-64 --mem 8g", 0, {NULL}},
    };
    expect_cases(c, sizeof c / sizeof c[0]);
}

/* --tlb refuses a level name used twice; --pwc must too (the second l4
 * silently replaced the first). A page-walk cache of level K caches that
 * level's entries, so K runs from 2 to the geometry's levels: l5 on
 * 4-level x86-64 and l3 on 2-level x86-32 name levels that do not exist.
 * The preset's own l4/l3 caches are dropped quietly for x86-32 (the
 * preset describes x86-64 hardware); l5 on x86-64-5l is fine. */
static void test_pwc_levels(void **state)
{
    (void)state;
    static const struct edge_case c[] = {
        {"run --trace %s --quiet --tlb l1=4x4,l1=8x8", 2, {"--tlb", "\"l1\"", "twice", NULL}},
        {"run --trace %s --quiet --pwc l4=2x2,l4=4x4", 2, {"--pwc", "\"l4\"", "twice", NULL}},
        {"run --trace %s --quiet --pwc unified=2x2,unified=4x4", 2,
         {"--pwc", "\"unified\"", "twice", NULL}},
        {"run --trace %s --quiet --pwc l5=2x2", 2, {"--pwc", "l5", "x86-64", "4 levels"}},
        {"run --trace %s --quiet --geometry x86-32 --pwc l3=2x2", 2,
         {"--pwc", "l3", "x86-32", "2 levels"}},
        {"run --trace %s --quiet --pwc l3=2x2 --geometry x86-32", 2, {"--pwc", "l3", NULL}},
        {"run --trace %s --quiet --nested x86-32 --mem 1g --host-pwc l4=2x2", 2,
         {"--host-pwc", "l4", "x86-32", NULL}},
        {"run --trace %s --quiet --geometry x86-32", 0, {NULL}},
        {"run --trace %s --quiet --nested x86-32 --mem 1g", 0, {NULL}},
        {"run --trace %s --quiet --pwc l5=2x2 --geometry x86-64-5l", 0, {NULL}},
    };
    expect_cases(c, sizeof c / sizeof c[0]);
}

/* A seed beyond 64 bits was clamped by strtoull and reported as -1 (the
 * JSON integer is signed); "-1" was taken as 2^64 - 1. Both are refused,
 * and 2^63 - 1 = 9223372036854775807, the largest the JSON holds, is
 * reported exactly. */
static void test_seed_range(void **state)
{
    (void)state;
    static const struct edge_case c[] = {
        {"run --trace %s --quiet --seed 99999999999999999999999", 2,
         {"--seed", "\"99999999999999999999999\"", "2^63 - 1", NULL}},
        {"run --trace %s --quiet --seed 18446744073709551615", 2, {"--seed", NULL}},
        {"run --trace %s --quiet --seed -1", 2, {"--seed", "\"-1\"", NULL}},
    };
    expect_cases(c, sizeof c / sizeof c[0]);
    const char trace[] = "R 1 0x400000 8\n";
    char *path = write_temp(trace, strlen(trace), ".txt");
    struct cmd_result r = run_vmsim("run --trace %s --quiet --json - --seed 9223372036854775807", path);
    assert_int_equal(r.status, 0);
    if (!contains(r.out, "\"seed\": 9223372036854775807"))
        fail_msg("the JSON does not hold the seed 2^63 - 1:\n%s", r.out);
    cmd_result_free(&r);
    unlink(path);
    free(path);
}

/* ---- conventions --------------------------------------------------------- */

/* getopt_long takes any unique prefix ("--tl" for "--tlb"); vmsim takes
 * whole names only, in every command, with or without "=VALUE". */
static void test_no_abbreviated_options(void **state)
{
    (void)state;
    static const struct edge_case c[] = {
        {"run --trace %s --quiet --tl l1=4x4", 2, {"\"--tl\"", "--tlb", "abbreviation", NULL}},
        {"run --trace %s --quiet --tl=l1=4x4", 2, {"\"--tl\"", "--tlb", NULL}},
        {"run --trace %s --qui", 2, {"\"--qui\"", "--quiet", NULL}},
        {"compare --trace %s --pt radix --pt hashed --me 1g", 2, {"\"--me\"", "--mem", NULL}},
        {"sweep --trace %s --axis pt=radix --quie", 2, {"\"--quie\"", "--quiet", NULL}},
        {"convert --fro text %s /dev/null", 2, {"\"--fro\"", "--from", NULL}},
        {"plot --kin tlb -o x.png %s", 2, {"\"--kin\"", "--kind", NULL}},
        {"snapshot --sel", 2, {"\"--sel\"", "--self", NULL}},
        {"record --quie true", 2, {"\"--quie\"", "--quiet", NULL}},
        /* crosscheck read its options with getopt_long itself and took this */
        {"crosscheck --dtl 64x4 -- true", 2, {"\"--dtl\"", "--dtlb", "abbreviation", NULL}},
        /* whole names, both spellings, still work */
        {"run --trace %s --quiet --tlb=l1=4x4 --mem 1g", 0, {NULL}},
    };
    expect_cases(c, sizeof c / sizeof c[0]);
}

/* docs/cli.md: 2 for a usage error. A workload spec is part of the command
 * line, so a bad one is a usage error like a bad option (it was 1). A trace
 * that does not exist is a failed run: 1. */
static void test_usage_errors_exit_2(void **state)
{
    (void)state;
    static const struct edge_case c[] = {
        {"run --workload nosuch --quiet", 2, {"nosuch", "workload", NULL}},
        {"run --workload seq:n=abc --quiet", 2, {"abc", NULL}},
        {"compare --workload nosuch --pt radix --pt hashed", 2, {"nosuch", NULL}},
        {"run --trace /nonexistent/t.txt --quiet", 1, {"/nonexistent/t.txt", NULL}},
        /* "va=64" names the limit plainly: at most 57 translated bits */
        {"run --trace %s --geometry va=64,bits=9+9+9+9+9+9+4", 2,
         {"--geometry", "va=64", "57", "64 address bits"}},
        {"run --trace %s --geometry va=64", 2, {"va=64", "57", NULL}},
    };
    expect_cases(c, sizeof c / sizeof c[0]);
}

/* docs/traces.md: "auto (the default) decides from the content", so
 * --trace auto:PATH is PATH detected; it used to look for a file named
 * "auto:PATH". One text access: events 1, accesses 1. */
static void test_trace_auto_prefix(void **state)
{
    (void)state;
    const char trace[] = "R 1 0x400000 8\n";
    char *path = write_temp(trace, strlen(trace), ".txt");
    struct cmd_result r = run_vmsim("run --trace auto:%s --quiet --json -", path);
    if (r.status != 0)
        fail_msg("--trace auto:PATH: status %d\n%s", r.status, r.err);
    assert_int_equal(json_number(r.out, "events"), 1);
    assert_int_equal(json_number(r.out, "accesses"), 1);
    cmd_result_free(&r);
    unlink(path);
    free(path);
}


/* ---- results never lost ------------------------------------------------- */

/* Every output path is tried before anything runs, and the message names
 * the OS's reason (strerror): ENOENT for a missing directory, EISDIR for a
 * directory. Nothing is printed on stdout, since nothing ran. */
static void test_outputs_checked_before_the_run(void **state)
{
    (void)state;
    char *dir = temp_path(".d");
    assert_int_equal(mkdir(dir, 0700), 0);
    char cases[6][512];
    snprintf(cases[0], 512, "run --trace %%s --json /nonexistent/dir/out.json");
    snprintf(cases[1], 512, "run --trace %%s --json %s", dir);
    snprintf(cases[2], 512, "compare --trace %%s --pt radix --pt hashed --json /nonexistent/c.json");
    snprintf(cases[3], 512, "sweep --trace %%s --axis pt=radix,hashed -o /nonexistent/s.csv");
    snprintf(cases[4], 512, "sweep --trace %%s --axis pt=radix,hashed --json /nonexistent/s.json");
    snprintf(cases[5], 512, "snapshot --self --json /nonexistent/snap.json");
    const char *reason[6] = {"No such file or directory", "Is a directory",
                             "No such file or directory", "No such file or directory",
                             "No such file or directory", "No such file or directory"};
    for (size_t i = 0; i < 6; i++) {
        struct edge_case c = {cases[i], 1, {"cannot write", reason[i], NULL}};
        expect_cases(&c, 1);
    }
    /* vmsim record checks that valgrind and the command exist first */
    if (system("command -v valgrind >/dev/null 2>&1") == 0) {
        struct edge_case c = {"record -o /nonexistent/r.vmt -- true", 1,
                              {"cannot write /nonexistent/r.vmt", "No such file or directory",
                               NULL}};
        expect_cases(&c, 1);
    }
    /* stdout stays empty: the summary of a run never started */
    const char trace[] = "R 1 0x400000 8\n";
    char *path = write_temp(trace, strlen(trace), ".txt");
    struct cmd_result r = run_vmsim("run --trace %s --json /nonexistent/dir/out.json", path);
    assert_int_equal(r.status, 1);
    assert_string_equal(r.out, "");
    cmd_result_free(&r);
    unlink(path);
    free(path);
    rmdir(dir);
    free(dir);
}

/* A summary that cannot be written is a failed run: /dev/full takes the
 * open and fails every write with ENOSPC. */
static void test_stdout_write_failure(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0)
        skip();
    char *err = temp_path(".err");
    const char *cmds[] = {"run --workload seq:n=10", "presets", "--help"};
    for (size_t i = 0; i < 3; i++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "%s %s >/dev/full 2>%s", VMSIM_BIN, cmds[i], err);
        const int st = system(cmd);
        char *text = read_file(err, NULL);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 1)
            fail_msg("vmsim %s >/dev/full: status %d, expected 1\n%s", cmds[i],
                     WIFEXITED(st) ? WEXITSTATUS(st) : -1, text);
        if (!contains(text, "No space left on device"))
            fail_msg("vmsim %s >/dev/full: stderr does not say why:\n%s", cmds[i], text);
        free(text);
    }
    unlink(err);
    free(err);
}

/* gnuplot writes to standard output when it cannot open `set output`: the
 * PNG went to the terminal. The path is now checked first (and gnuplot's
 * stdout is /dev/null). Needs no gnuplot: the check comes before it. */
static void test_plot_unwritable(void **state)
{
    (void)state;
    const char csv[] = "pt,accesses\nradix,10\nhashed,20\n";
    char *in = write_temp(csv, strlen(csv), ".csv");
    struct cmd_result r = run_vmsim("plot -o /nonexistent/p.png %s", in);
    assert_int_equal(r.status, 1);
    assert_string_equal(r.out, "");
    if (!contains(r.err, "/nonexistent/p.png") || !contains(r.err, "No such file or directory"))
        fail_msg("plot -o /nonexistent/p.png: %s", r.err);
    cmd_result_free(&r);
    r = run_vmsim("sweep --workload seq:n=10 --axis pt=radix,hashed --quiet --plot "
                  "/nonexistent/p.png");
    assert_int_equal(r.status, 1);
    assert_string_equal(r.out, "");
    if (!contains(r.err, "--plot") || !contains(r.err, "No such file or directory"))
        fail_msg("sweep --plot /nonexistent/p.png: %s", r.err);
    cmd_result_free(&r);
    unlink(in);
    free(in);
}

/* The number of entries in dir other than . and .. */
static int dir_entries(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -A %s | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1)
            n = -1;
        pclose(p);
    }
    return n;
}

/* A conversion that fails (line 2 is malformed) leaves an existing OUT as
 * it was and no temporary file beside it; one that succeeds replaces OUT. */
static void test_convert_keeps_out_on_failure(void **state)
{
    (void)state;
    char *dir = temp_path(".d");
    assert_int_equal(mkdir(dir, 0700), 0);
    char in[600], bad[600], out[600];
    snprintf(in, sizeof in, "%s/in.txt", dir);
    snprintf(bad, sizeof bad, "%s/bad.txt", dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    FILE *f = fopen(in, "w");
    fputs("R 1 0x400000 8\n", f);
    fclose(f);
    f = fopen(bad, "w");
    fputs("R 1 0x400000 8\nR 1 zz 8\n", f);
    fclose(f);
    f = fopen(out, "w");
    fputs("precious\n", f);
    fclose(f);
    struct cmd_result r = run_vmsim("convert %s %s", bad, out);
    assert_int_equal(r.status, 1);
    if (!contains(r.err, "bad.txt:2"))
        fail_msg("convert of a bad trace: %s", r.err);
    cmd_result_free(&r);
    char *text = read_file(out, NULL);
    assert_non_null(text);
    assert_string_equal(text, "precious\n");
    free(text);
    assert_int_equal(dir_entries(dir), 3); /* in, bad, out: no temporary left */
    r = run_vmsim("convert %s %s", in, out);
    assert_int_equal(r.status, 0);
    cmd_result_free(&r);
    text = read_file(out, NULL);
    if (!contains(text, "R 1 0x400000 8"))
        fail_msg("convert did not replace OUT:\n%s", text);
    free(text);
    assert_int_equal(dir_entries(dir), 3);
    unlink(in);
    unlink(bad);
    unlink(out);
    rmdir(dir);
    free(dir);
}

/* ---- warnings for options that had no effect ------------------------------ */

/* seq workloads run process 1 (docs/workloads.md); n=100 accesses. An
 * enclave of pid 77 never sees an access, and a migration at access
 * 1,000,000 never starts: both used to pass in silence. Pid 1 as the
 * enclave and a migration at access 10 do take effect: no warning. A run
 * read to its end is complete and has no stopped_by. */
static void test_options_without_effect_warn(void **state)
{
    (void)state;
    static const struct edge_case c[] = {
        {"run --workload seq:n=100 --quiet --nested x86-64 --mem 1g --enclave 77", 0,
         {"vmsim: warning: --enclave 77", "made no access", NULL}},
        {"run --workload seq:n=100 --quiet --nested x86-64 --mem 1g --migrate at=1000000", 0,
         {"vmsim: warning: --migrate at=1000000", "after 100 accesses", "nothing was migrated",
          NULL}},
    };
    expect_cases(c, sizeof c / sizeof c[0]);
    struct cmd_result r = run_vmsim("run --workload seq:n=100 --quiet --nested x86-64 --mem 1g "
                                    "--enclave 77 --migrate at=1000000 --json -");
    assert_int_equal(r.status, 0);
    json_error_t jerr;
    json_t *j = json_loads(r.out, 0, &jerr);
    if (!j)
        fail_msg("not JSON: %s\n%s", jerr.text, r.out);
    json_t *w = json_object_get(j, "warnings");
    assert_true(json_is_array(w));
    assert_int_equal(json_array_size(w), 2);
    assert_true(contains(json_string_value(json_array_get(w, 0)), "--enclave 77"));
    assert_true(contains(json_string_value(json_array_get(w, 1)), "--migrate at=1000000"));
    assert_true(json_is_true(json_object_get(j, "complete")));
    assert_null(json_object_get(j, "stopped_by"));
    json_decref(j);
    cmd_result_free(&r);
    r = run_vmsim("run --workload seq:n=100 --quiet --nested x86-64 --mem 1g --enclave 1 "
                  "--migrate at=10 --json -");
    assert_int_equal(r.status, 0);
    if (contains(r.err, "warning"))
        fail_msg("an enclave and a migration that took effect warned:\n%s", r.err);
    j = json_loads(r.out, 0, &jerr);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "warnings")), 0);
    json_decref(j);
    cmd_result_free(&r);
}

/* A trace error stops the run part-way: the JSON says so. Line 2 is bad,
 * so the one access before it ran. */
static void test_trace_error_json_is_partial(void **state)
{
    (void)state;
    const char trace[] = "R 1 0x400000 8\nR 1 zz 8\n";
    char *path = write_temp(trace, strlen(trace), ".txt");
    struct cmd_result r = run_vmsim("run --trace %s --quiet --json -", path);
    assert_int_equal(r.status, 1);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_false(json_object_get(j, "complete")));
    assert_string_equal(json_string_value(json_object_get(j, "stopped_by")), "trace error");
    assert_int_equal(json_integer_value(json_object_get(j, "accesses")), 1);
    json_decref(j);
    cmd_result_free(&r);
    unlink(path);
    free(path);
}

/* An event the machine refuses is named by its line: line 1 an access, 2 a
 * comment, 3 blank, 4 an access on cpu 9 of a 2-CPU machine: "FILE:4
 * (event 2)", the second event, on the fourth line (docs/traces.md: '#'
 * comments and blank lines make no event). */
static void test_event_error_names_the_line(void **state)
{
    (void)state;
    const char trace[] = "R 1 0x1000 8\n# a comment\n\nR 1 0x2000 8 9\n";
    char *path = write_temp(trace, strlen(trace), ".txt");
    struct cmd_result r = run_vmsim("run --trace %s --cpus 2 --quiet", path);
    assert_int_equal(r.status, 1);
    char want[600];
    snprintf(want, sizeof want, "%s:4 (event 2): cpu 9", path);
    if (!contains(r.err, want))
        fail_msg("stderr lacks \"%s\":\n%s", want, r.err);
    cmd_result_free(&r);
    /* from standard input the trace cannot be read again: the number only */
    r = run_vmsim("run --trace - --cpus 2 --quiet < %s", path);
    assert_int_equal(r.status, 1);
    if (!contains(r.err, "vmsim: event 2: cpu 9"))
        fail_msg("stdin: %s", r.err);
    cmd_result_free(&r);
    /* The binary format names the record's byte (docs/traces.md, "vmsim
     * binary"): an 8-byte header, then event 1 = tag 0x14 (read, PID,
     * SIZE), pid 1, size 8, zz(0x1000) = 0x2000 in two varint bytes: 5
     * bytes, so event 2 starts at byte 8 + 5 = 13. */
    char *bin = temp_path(".vmt");
    r = run_vmsim("convert %s %s", path, bin);
    assert_int_equal(r.status, 0);
    cmd_result_free(&r);
    r = run_vmsim("run --trace bin:%s --cpus 2 --quiet", bin);
    assert_int_equal(r.status, 1);
    snprintf(want, sizeof want, "%s: byte 13 (event 2): cpu 9", bin);
    if (!contains(r.err, want))
        fail_msg("stderr lacks \"%s\":\n%s", want, r.err);
    cmd_result_free(&r);
    unlink(bin);
    free(bin);
    unlink(path);
    free(path);
}

/* ---- host memory bounded ---------------------------------------------------- */

/* A write every 2 MiB needs a new leaf page table per access: 65,536 of
 * them are 65,536 x 4 KiB = 256 MiB of simulated tables, kept in vmsim's
 * own memory, far past --max-rss 64m. The run must stop cleanly: status 1,
 * the reason on stderr, and a JSON that says it is partial, with fewer
 * accesses than the 65,536 asked for (at least one batch of 4096 runs
 * before the first reading, whatever the build's own footprint). */
static void test_max_rss_stops_cleanly(void **state)
{
    (void)state;
    struct cmd_result r = run_vmsim("run --thp never --workload "
                                    "seq:n=65536,stride=2m,size=128g,write=1 --max-rss 64m "
                                    "--quiet --json -");
    assert_int_equal(r.status, 1);
    if (!contains(r.err, "stopped after") || !contains(r.err, "--max-rss"))
        fail_msg("stderr: %s", r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    if (!j)
        fail_msg("no JSON on stdout:\n%s", r.out);
    assert_true(json_is_false(json_object_get(j, "complete")));
    assert_string_equal(json_string_value(json_object_get(j, "stopped_by")), "host memory limit");
    const long long acc = (long long)json_integer_value(json_object_get(j, "accesses"));
    assert_true(acc >= 4096 && acc < 65536);
    json_decref(j);
    cmd_result_free(&r);
    static const struct edge_case c[] = {
        {"run --workload seq:n=1000 --quiet --max-rss 1k", 2, {"--max-rss", "\"1k\"", NULL}},
        {"run --workload seq:n=1000 --quiet --max-rss none", 0, {NULL}},
        {"run --workload seq:n=1000 --quiet --max-rss 64g", 0, {NULL}},
    };
    expect_cases(c, sizeof c / sizeof c[0]);
}

/* ---- docs/cli.md's exit-status table ------------------------------------- */

/* Start `vmsim ARGS` (split at spaces), wait until it catches sig (SigCgt
 * in /proc/PID/status: the handler is installed), send it, and return the
 * exit status. */
static int status_after_signal(const char *args, int sig)
{
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char *copy = strdup(args), *argv[32], *save = NULL;
        int n = 0;
        argv[n++] = (char *)VMSIM_BIN;
        for (char *a = strtok_r(copy, " ", &save); a && n < 31; a = strtok_r(NULL, " ", &save))
            argv[n++] = a;
        argv[n] = NULL;
        const int null = open("/dev/null", O_WRONLY);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        execv(VMSIM_BIN, argv);
        _exit(127);
    }
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    bool caught = false;
    for (int tries = 0; !caught && tries < 3000; tries++) {
        FILE *f = fopen(path, "r");
        unsigned long long mask = 0;
        while (f && fgets(line, sizeof line, f))
            if (sscanf(line, "SigCgt: %llx", &mask) == 1)
                break;
        if (f)
            fclose(f);
        caught = mask >> (sig - 1) & 1;
        if (!caught)
            usleep(10000);
    }
    kill(pid, sig);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!caught)
        fail_msg("vmsim %s never installed its handler for signal %d", args, sig);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Every row of the table under "Exit status" in docs/cli.md: the status,
 * and an example that is either `vmsim ARGS` (run as is) or "SIGNAL to
 * `vmsim ARGS`". The example must give the row's status, and the table
 * must list 0, 1, 2, 130 and 143, so that a change of either the code or
 * the page fails here. */
static void test_exit_status_table(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/../../docs/cli.md", VMSIM_TEST_DATA); /* tests/data */
    char *doc = read_file(path, NULL);
    if (!doc)
        fail_msg("cannot read %s", path);
    const char *table = strstr(doc, "| status | meaning | example |");
    if (!table)
        fail_msg("docs/cli.md has no exit-status table");
    int seen[5] = {0};
    const int want[5] = {0, 1, 2, 130, 143};
    const char *line = strchr(table, '\n') + 1;
    line = strchr(line, '\n') + 1; /* past |---| */
    for (; line[0] == '|'; line = strchr(line, '\n') + 1) {
        int status;
        if (sscanf(line, "| %d |", &status) != 1)
            fail_msg("a row without a status: %.80s", line);
        /* the third cell: after the third '|', up to the fourth */
        const char *ex = line;
        for (int bar = 0; bar < 2 && ex; bar++) /* line[0] is the first */
            ex = strchr(ex + 1, '|');
        const char *end = ex ? strchr(ex + 1, '|') : NULL;
        if (!end)
            fail_msg("a row without three cells: %.80s", line);
        char cell[512];
        snprintf(cell, sizeof cell, "%.*s", (int)(end - ex - 1), ex + 1);
        const char *tick = strchr(cell, '`');
        char *close = tick ? strchr(tick + 1, '`') : NULL;
        if (!tick || !close || strncmp(tick + 1, "vmsim ", 6) != 0)
            fail_msg("row %d: expected an example `vmsim ...`, found %s", status, cell);
        *close = '\0';
        const char *args = tick + 7;
        int got;
        if (!strncmp(cell, " SIGINT to", 10) || !strncmp(cell, " SIGTERM to", 11)) {
            got = status_after_signal(args, cell[4] == 'I' ? SIGINT : SIGTERM);
        } else {
            struct cmd_result r = run_vmsim("%s", args);
            got = r.status;
            cmd_result_free(&r);
        }
        if (got != status)
            fail_msg("docs/cli.md says %d for `vmsim %s`; vmsim exits %d", status, args, got);
        for (int k = 0; k < 5; k++)
            seen[k] |= want[k] == status;
    }
    for (int k = 0; k < 5; k++)
        if (!seen[k])
            fail_msg("docs/cli.md's exit-status table lacks %d", want[k]);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nested_memory_the_geometry_cannot_address),
        cmocka_unit_test(test_pwc_levels),
        cmocka_unit_test(test_seed_range),
        cmocka_unit_test(test_no_abbreviated_options),
        cmocka_unit_test(test_usage_errors_exit_2),
        cmocka_unit_test(test_trace_auto_prefix),
        cmocka_unit_test(test_outputs_checked_before_the_run),
        cmocka_unit_test(test_stdout_write_failure),
        cmocka_unit_test(test_plot_unwritable),
        cmocka_unit_test(test_convert_keeps_out_on_failure),
        cmocka_unit_test(test_options_without_effect_warn),
        cmocka_unit_test(test_trace_error_json_is_partial),
        cmocka_unit_test(test_event_error_names_the_line),
        cmocka_unit_test(test_max_rss_stops_cleanly),
        cmocka_unit_test(test_exit_status_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
