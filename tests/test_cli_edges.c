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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nested_memory_the_geometry_cannot_address),
        cmocka_unit_test(test_pwc_levels),
        cmocka_unit_test(test_seed_range),
        cmocka_unit_test(test_no_abbreviated_options),
        cmocka_unit_test(test_usage_errors_exit_2),
        cmocka_unit_test(test_trace_auto_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
