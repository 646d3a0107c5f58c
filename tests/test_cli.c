/* The vmsim command line end to end, through the real program (run_vmsim):
 * help and presets, every kind of bad option (status, message naming what
 * was expected and what was found, no crash, no output), a trace error that
 * keeps the statistics computed so far, the JSON report's shape, and its
 * numbers on small hand-made traces.
 *
 * Every expected number is derived in the comments from the rules, not
 * copied from the program: DESIGN.md "Events" (one lookup per translation
 * per level; the retry after a fault is charged to walks and faults only),
 * src/os/kernel.c (demand-zero: a first read maps the zero frame read-only,
 * a first write gets a frame, a write to a zero mapping copies), the radix
 * walk (an L-level tree reads one entry per level and stops at the first
 * empty one) and docs/cost-model.md (access + TLB latencies + pt_ref per
 * reference + fault per fault, including failed ones). Most cases use
 *     --tlb l1=4x4 --pwc none --cost access=1,pt_ref=10,fault=100,pwc=0
 * (one fully associative 4-entry level of 4 KiB pages, latency 1 as the
 * first level of its side, no walk caches) so the arithmetic stays small. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "vmsim/event.h"
#include "vmsim/vmsim.h"

#define SIMPLE "--tlb l1=4x4 --pwc none --cost access=1,pt_ref=10,fault=100,pwc=0"

/* ---- helpers ------------------------------------------------------------ */

static bool contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

/* obj["a"]["b"]... for a dotted path; NULL when any step is missing. */
static json_t *jget(json_t *root, const char *dotted)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", dotted);
    json_t *v = root;
    char *save = NULL;
    for (char *part = strtok_r(buf, ".", &save); part && v; part = strtok_r(NULL, ".", &save))
        v = json_is_object(v) ? json_object_get(v, part) : NULL;
    return v;
}

static long long jint(json_t *root, const char *dotted)
{
    json_t *v = jget(root, dotted);
    if (!json_is_integer(v))
        fail_msg("JSON has no integer at %s", dotted);
    return (long long)json_integer_value(v);
}

/* The integer at a dotted path must be want; the message names the key. */
static void expect_int(json_t *root, const char *dotted, long long want)
{
    long long got = jint(root, dotted);
    if (got != want)
        fail_msg("%s = %lld, expected %lld", dotted, got, want);
}

static const char *jstr(json_t *root, const char *dotted)
{
    json_t *v = jget(root, dotted);
    if (!json_is_string(v))
        fail_msg("JSON has no string at %s", dotted);
    return json_string_value(v);
}

/* The integers of an array at a dotted path, into out[0..max); returns the
 * array's length. */
static size_t jints(json_t *root, const char *dotted, long long *out, size_t max)
{
    json_t *a = jget(root, dotted);
    if (!json_is_array(a))
        fail_msg("JSON has no array at %s", dotted);
    size_t n = json_array_size(a);
    for (size_t i = 0; i < n && i < max; i++) {
        json_t *e = json_array_get(a, i);
        assert_true(json_is_integer(e));
        out[i] = (long long)json_integer_value(e);
    }
    return n;
}

static void expect_faults(json_t *j, long long zr, long long zw, long long cow, long long prot,
                          long long bad, long long oom)
{
    expect_int(j, "faults.demand_zero_read", zr);
    expect_int(j, "faults.demand_zero_write", zw);
    expect_int(j, "faults.cow_zero", cow);
    expect_int(j, "faults.protection", prot);
    expect_int(j, "faults.bad_address", bad);
    expect_int(j, "faults.oom", oom);
    expect_int(j, "faults.total", zr + zw + cow + prot + bad + oom);
}

/* ---- help, presets, commands ------------------------------------------- */

static void test_help(void **state)
{
    (void)state;
    struct cmd_result r = run_vmsim("--help");
    assert_int_equal(r.status, 0);
    static const char *const cmds[] = {"run", "presets", "convert", "snapshot"};
    for (size_t i = 0; i < 4; i++)
        expect_in("vmsim --help", r.out, cmds[i]);
    cmd_result_free(&r);

    r = run_vmsim("run --help");
    assert_int_equal(r.status, 0);
    static const char *const run_opts[] = {"--workload", "--trace", "--json", "--quiet",
                                           "--machine", "--pt", "--geometry", "--tlb", "--pwc",
                                           "--cost", "--mem", "--cpus", "--no-asid",
                                           "--page-size", "--seed"};
    for (size_t i = 0; i < sizeof run_opts / sizeof run_opts[0]; i++)
        expect_in("vmsim run --help", r.out, run_opts[i]);
    cmd_result_free(&r);

    r = run_vmsim("convert --help");
    assert_int_equal(r.status, 0);
    expect_in("vmsim convert --help", r.out, "--from");
    expect_in("vmsim convert --help", r.out, "--to");
    cmd_result_free(&r);

    r = run_vmsim("snapshot --help");
    assert_int_equal(r.status, 0);
    static const char *const snap_opts[] = {"--pid", "--self", "--proc", "--json", "--geometry"};
    for (size_t i = 0; i < sizeof snap_opts / sizeof snap_opts[0]; i++)
        expect_in("vmsim snapshot --help", r.out, snap_opts[i]);
    cmd_result_free(&r);

    r = run_vmsim("presets --help");
    assert_int_equal(r.status, 0);
    expect_in("vmsim presets --help", r.out, "--machine");
    cmd_result_free(&r);

    /* no command, an unknown command: usage status, a message, no output */
    r = run_vmsim("%s", "");
    assert_int_equal(r.status, 2);
    assert_true(strlen(r.err) > 0);
    assert_string_equal(r.out, "");
    cmd_result_free(&r);
    r = run_vmsim("bogus");
    assert_int_equal(r.status, 2);
    expect_in("stderr of vmsim bogus", r.err, "bogus");
    assert_string_equal(r.out, "");
    cmd_result_free(&r);
}

/* The lists come from the brief and docs (presets.md, workloads.md,
 * traces.md), written out here rather than read from the library. */
static void test_presets(void **state)
{
    (void)state;
    struct cmd_result r = run_vmsim("presets");
    assert_int_equal(r.status, 0);
    static const char *const names[] = {
        "skylake", "golden-cove", "zen2", "zen3", "zen4",                               /* CPUs */
        "x86-64", "x86-64-5l", "x86-32", "x86-pae", "sv39", "sv48", "sv57", "arm64-4k", /* geom */
        "arm64-16k", "arm64-64k",
        "seq", "stride", "random", "zipf", "chase", "sparse", "gc", "default", /* workloads */
        "text", "bin", "lackey"};                                              /* formats */
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char word[32];
        snprintf(word, sizeof word, "  %s ", names[i]); /* as a list entry, not a substring */
        expect_in("vmsim presets", r.out, word);
    }
    cmd_result_free(&r);
    r = run_vmsim("presets extra");
    assert_int_equal(r.status, 2);
    expect_in("stderr", r.err, "extra");
    cmd_result_free(&r);
}

/* ---- bad command lines ------------------------------------------------- */

struct bad_case {
    const char *args; /* after "run"; %s is a valid one-line trace */
    const char *needle[3];
};

/* Each must fail with status 1 or 2 (not a signal), print nothing on
 * stdout (no run took place), and name the offending input and what was
 * expected on stderr. */
static void test_bad_options(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"--trace %s --tlb l1=64x3", {"--tlb", "64x3", "multiple of ways"}},
        {"--trace %s --tlb l1=64x4@3k", {"--tlb", "3k", "power-of-two"}},
        {"--trace %s --pwc l1=4x4", {"--pwc", "l1=4x4", "l2"}},
        {"--trace %s --cost walk=3", {"--cost", "walk=3", "pt_ref"}},
        {"--trace %s --geometry bogus", {"--geometry", "bogus", "preset"}},
        {"--trace %s --machine bogus", {"--machine", "bogus", "preset"}},
        {"--trace %s --mem 1", {"--mem", "at least", NULL}},
        /* 16 TiB + 4 KiB: one slot more than a frame can name (phys/swap.h) */
        {"--trace %s --swap 17592186048512", {"--swap", "2^32 slots", "found 17592186048512"}},
        {"--trace %s --fault-stack 2k", {"--fault-stack", "FRAME/STACK", "\"2k\""}},
        {"--trace %s --fault-stack 0/6k", {"--fault-stack", "\"0/6k\"", NULL}},
        {"--trace %s --replace mru", {"--replace", "\"mru\"", NULL}},
        {"--trace %s --thp sometimes", {"--thp", "\"sometimes\"", NULL}},
        {"--trace %s --cpus 0", {"--cpus", "\"0\"", "1 to 64"}},
        {"--trace %s --cpus 65", {"--cpus", "\"65\"", "1 to 64"}},
        {"--trace %s --cpus 4x", {"--cpus", "\"4x\"", "1 to 64"}},
        {"--trace %s --page-size 3k", {"--page-size", "power-of-two", NULL}},
        /* 2 MiB is a leaf of x86-64, not of the 64 KiB granule (64K, 512M);
         * the TLB serves 64k so that only the page size is wrong */
        {"--trace %s --page-size 2m --geometry arm64-64k --tlb l1=4x4@64k",
         {"--page-size", "arm64-64k", "not a page size"}},
        /* the default skylake TLBs hold 4K/2M/4M/1G pages: none of 64K/512M */
        {"--trace %s --geometry arm64-64k", {"--tlb", "arm64-64k", "serves no page size"}},
        {"--trace %s --bogus", {"--bogus", NULL, NULL}},
        {"--trace %s --tlb", {"--tlb", "missing value", NULL}},
        {"--workload nosuch", {"nosuch", "workload", NULL}},
        {"--workload seq:n=abc", {"abc", "n", NULL}},
        {"--trace /nonexistent/trace.txt", {"/nonexistent/trace.txt", NULL, NULL}},
        {"--trace %s --workload seq", {"--workload", "--trace", NULL}},
        {"--trace %s extra", {"extra", NULL, NULL}},
        {"--trace %s --pt hashed-nosuch", {"--pt", "hashed-nosuch", "radix"}},
        {"--trace %s --seed x", {"--seed", "number", NULL}},
        {"--trace text:/nonexistent/t.txt", {"/nonexistent/t.txt", NULL, NULL}},
    };
    const char trace[] = "R 1 0x400000 8\n";
    char *path = write_temp(trace, strlen(trace), ".txt");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[512];
        snprintf(args, sizeof args, cases[i].args, path);
        struct cmd_result r = run_vmsim("run %s", args);
        if (r.status != 1 && r.status != 2)
            fail_msg("vmsim run %s: status %d, expected 1 or 2\nstderr: %s", args, r.status,
                     r.err);
        if (r.out[0])
            fail_msg("vmsim run %s printed on stdout:\n%s", args, r.out);
        if (strncmp(r.err, "vmsim: ", 7) != 0)
            fail_msg("vmsim run %s: stderr does not start with \"vmsim: \":\n%s", args, r.err);
        for (size_t k = 0; k < 3 && cases[i].needle[k]; k++)
            if (!contains(r.err, cases[i].needle[k]))
                fail_msg("vmsim run %s: stderr lacks \"%s\":\n%s", args, cases[i].needle[k],
                         r.err);
        cmd_result_free(&r);
    }
    unlink(path);
    free(path);
}

/* DESIGN.md: "Only the CLI prints errors: ... what was expected, what was
 * found". The neighbouring options (--cpus, --pt) quote the value found;
 * --mem and --page-size must say what they were given too. */
static void test_bad_options_name_found_value(void **state)
{
    (void)state;
    const char trace[] = "R 1 0x400000 8\n";
    char *path = write_temp(trace, strlen(trace), ".txt");
    struct cmd_result r = run_vmsim("run --trace %s --mem 1", path);
    assert_int_equal(r.status, 2);
    if (!contains(r.err, "\"1\"") && !contains(r.err, "found 1"))
        fail_msg("--mem 1: the message does not say what was found:\n%s", r.err);
    cmd_result_free(&r);
    r = run_vmsim("run --trace %s --page-size 3k", path);
    assert_int_equal(r.status, 2);
    if (!contains(r.err, "3k"))
        fail_msg("--page-size 3k: the message does not say what was found:\n%s", r.err);
    cmd_result_free(&r);
    unlink(path);
    free(path);
}

/* docs/cli.md: --page-size is "a leaf size of the geometry". 4 KiB is not
 * one of arm64-64k (64K, 512M), so saying it explicitly must be refused,
 * like 2m is, and not silently replaced by 64 KiB pages. */
static void test_page_size_4k_not_in_geometry(void **state)
{
    (void)state;
    const char trace[] = "R 1 0x400000 8\n";
    char *path = write_temp(trace, strlen(trace), ".txt");
    struct cmd_result r = run_vmsim("run --trace %s --quiet --json - --geometry arm64-64k "
                                    "--tlb l1=4x4@64k --page-size 4k",
                                    path);
    if (r.status == 0)
        fail_msg("--page-size 4k --geometry arm64-64k was accepted (anon_page_size %lld)",
                 json_number(r.out, "anon_page_size"));
    assert_int_equal(r.status, 2);
    expect_in("stderr", r.err, "not a page size");
    cmd_result_free(&r);
    unlink(path);
    free(path);
}

/* --json to a place that cannot be written: failure status, a message
 * naming the path (the summary itself was printed before). */
static void test_json_unwritable(void **state)
{
    (void)state;
    const char trace[] = "R 1 0x400000 8\n";
    char *path = write_temp(trace, strlen(trace), ".txt");
    struct cmd_result r = run_vmsim("run --trace %s --json /nonexistent/dir/out.json", path);
    assert_int_equal(r.status, 1);
    expect_in("stderr", r.err, "/nonexistent/dir/out.json");
    cmd_result_free(&r);
    unlink(path);
    free(path);
}

/* ---- a trace error keeps what was computed -------------------------------- */

/* Line 3 is malformed. The two events before it run: a read of 0x400000 (a
 * zero-read fault) and a write of 0x401000 (a zero-write fault); the run
 * stops with "FILE:3" on stderr, and both the summary and the JSON file
 * hold those 2 accesses. */
static void test_trace_error_keeps_stats(void **state)
{
    (void)state;
    const char trace[] = "R 1 0x400000 8\n"
                         "W 1 0x401000 8\n"
                         "R 1 zz 8\n"
                         "R 1 0x402000 8\n";
    char *path = write_temp(trace, strlen(trace), ".txt");
    char *json = temp_path(".json");
    struct cmd_result r = run_vmsim("run --trace %s --json %s " SIMPLE, path, json);
    assert_true(r.status == 1);
    char where[300];
    snprintf(where, sizeof where, "%s:3", path);
    expect_in("stderr", r.err, where);
    expect_in("stderr", r.err, "zz");
    expect_in("summary", r.out, " 2 accesses, 2 translations");
    expect_in("summary", r.out, "demand-zero read 1, write 1");
    cmd_result_free(&r);

    char *text = read_file(json, NULL);
    assert_non_null(text);
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (!j)
        fail_msg("%s is not valid JSON: %s\n%s", json, jerr.text, text);
    expect_int(j, "accesses", 2);
    expect_int(j, "translations", 2);
    expect_faults(j, 1, 1, 0, 0, 0, 0);
    json_decref(j);
    free(text);
    unlink(json);
    unlink(path);
    free(json);
    free(path);
}

/* An event naming a CPU the machine does not have (--cpus 2, cpu 2) stops
 * the run with status 1, names the event and the option, and keeps the
 * statistics of the one access before it. */
static void test_event_on_missing_cpu(void **state)
{
    (void)state;
    const char trace[] = "R 1 0x400000 8\nR 1 0x400000 8 2\n";
    char *path = write_temp(trace, strlen(trace), ".txt");
    struct cmd_result r = run_vmsim("run --trace %s --cpus 2 " SIMPLE, path);
    assert_int_equal(r.status, 1);
    expect_in("stderr", r.err, "event 2");
    expect_in("stderr", r.err, "cpu 2");
    expect_in("stderr", r.err, "--cpus");
    expect_in("summary", r.out, " 1 accesses, 1 translations");
    cmd_result_free(&r);
    unlink(path);
    free(path);
}

/* The trace on standard input (--trace -) gives the numbers of test_reads
 * below: 4 accesses, 21 walk references, 518 cycles. */
static void test_trace_from_stdin(void **state)
{
    (void)state;
    const char trace[] = "R 1 0x400000 8\nR 1 0x401000 8\nR 1 0x402000 8\nR 1 0x400000 8\n";
    char *path = write_temp(trace, strlen(trace), ".txt");
    struct cmd_result r = run_vmsim("run --trace - --quiet --json - " SIMPLE " < %s", path);
    if (r.status != 0)
        fail_msg("status %d: %s", r.status, r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    expect_int(j, "accesses", 4);
    expect_int(j, "walks.refs", 21);
    expect_int(j, "cycles", 518);
    json_decref(j);
    cmd_result_free(&r);
    unlink(path);
    free(path);
}

/* ---- the JSON report ------------------------------------------------------ */

/* The fields every result file has, on the default machine (skylake: levels
 * l1d, l1i, stlb) and default geometry (x86-64: 4 levels). One fetch and
 * one read of the same page: the fetch looks up l1i, stlb; the read l1d and
 * stlb, which the fetch's walk filled: hit. */
static void test_json_shape(void **state)
{
    (void)state;
    json_t *j = run_trace_json("X 1 0x400000 4\nR 1 0x400000 8\n", "");
    static const char *const ints[] = {
        "accesses", "translations", "walks.count", "walks.refs", "faults.total",
        "faults.demand_zero_read", "faults.demand_zero_write", "faults.cow_zero",
        "faults.protection", "faults.bad_address", "faults.oom", "page_tables.bytes",
        "page_tables.root_bytes", "cycles", "tlb.l1d.hits", "tlb.l1d.misses", "tlb.l1i.hits",
        "tlb.l1i.misses", "tlb.stlb.hits", "tlb.stlb.misses", "config.cost.access",
        "config.cost.pt_ref", "config.cost.fault", "config.cost.pwc"};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        jint(j, ints[i]);
    expect_int(j, "tlb.l1i.misses", 1);
    expect_int(j, "tlb.l1i.hits", 0);
    expect_int(j, "tlb.l1d.misses", 1);
    expect_int(j, "tlb.stlb.misses", 1);
    expect_int(j, "tlb.stlb.hits", 1);
    expect_faults(j, 1, 0, 0, 0, 0, 0);
    long long t[8];
    assert_int_equal(jints(j, "page_tables.tables_by_level", t, 8), 4);
    assert_string_equal(jstr(j, "config.machine"), "skylake");
    assert_string_equal(jstr(j, "config.geometry.name"), "x86-64");
    json_t *tlb = jget(j, "config.tlb");
    assert_true(json_is_array(tlb));
    assert_int_equal(json_array_size(tlb), 3);
    static const char *const lv[] = {"l1d", "l1i", "stlb"};
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(tlb, i), "name")),
                            lv[i]);
    assert_true(json_is_object(jget(j, "config.pwc")));
    assert_true(json_is_object(jget(j, "config.cost")));
    json_decref(j);

    /* Sv39 has 3 levels: one read walks 1 ref (empty root entry), then 3;
     * the tables are root, one of level 2, one of level 1. */
    j = run_trace_json("R 1 0x400000 8\n", SIMPLE " --geometry sv39");
    assert_int_equal(jints(j, "page_tables.tables_by_level", t, 8), 3);
    assert_int_equal(t[0], 1);
    assert_int_equal(t[1], 1);
    assert_int_equal(t[2], 1);
    expect_int(j, "walks.refs", 1 + 3);
    expect_int(j, "page_tables.bytes", 2 * 4096);
    expect_int(j, "page_tables.root_bytes", 4096);
    assert_string_equal(jstr(j, "config.geometry.name"), "sv39");
    json_decref(j);
}

/* --machine is applied first whatever its place (cli.h): a --tlb before it
 * still wins over the preset's TLBs. */
static void test_machine_then_tlb(void **state)
{
    (void)state;
    json_t *j = run_trace_json("R 1 0x400000 8\n", "--tlb l1=4x4 --machine zen2");
    assert_string_equal(jstr(j, "config.machine"), "zen2");
    json_t *tlb = jget(j, "config.tlb");
    assert_int_equal(json_array_size(tlb), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tlb, 0), "name")), "l1");
    expect_int(j, "tlb.l1.misses", 1);
    json_decref(j);
}

/* A TLB level may be named anything the grammar allows (letters, digits,
 * '_' and '-'); its counters must still appear as tlb.NAME.hits/.misses,
 * even when NAME is also the name of a scalar TLB statistic (tlb.flushes,
 * tlb.invalidations) -- or the name must be refused. Stream: A, B, C, A
 * (4 KiB pages) through "flushes=4x4": 1 hit, 3 misses. */
static void test_json_level_named_like_a_stat(void **state)
{
    (void)state;
    const char trace[] = "R 1 0x400000 8\nR 1 0x401000 8\nR 1 0x402000 8\nR 1 0x400000 8\n";
    static const char *const names[] = {"flushes", "invalidations", "misses_all_levels"};
    for (size_t i = 0; i < 3; i++) {
        char *path = write_temp(trace, strlen(trace), ".txt");
        struct cmd_result r =
            run_vmsim("run --trace %s --quiet --json - --pwc none --tlb %s=4x4", path, names[i]);
        if (r.status == 0) {
            json_t *j = json_loads(r.out, 0, NULL);
            assert_non_null(j);
            char key[64];
            snprintf(key, sizeof key, "tlb.%s.hits", names[i]);
            json_t *h = jget(j, key);
            if (!json_is_integer(h)) {
                char *tlb = json_dumps(jget(j, "tlb"), JSON_COMPACT);
                fail_msg("--tlb %s=4x4 runs, but the JSON has no %s: \"tlb\": %s", names[i], key,
                         tlb ? tlb : "(none)");
            }
            assert_int_equal(json_integer_value(h), 1);
            snprintf(key, sizeof key, "tlb.%s.misses", names[i]);
            assert_int_equal(jint(j, key), 3);
            json_decref(j);
        } else {
            assert_int_equal(r.status, 2);
            expect_in("stderr", r.err, names[i]);
        }
        cmd_result_free(&r);
        unlink(path);
        free(path);
    }
}

/* ---- numbers on hand-made traces -------------------------------------- */

/* Reads of pages A = 0x400000, B = 0x401000, C = 0x402000 (one 2 MiB
 * region), then A again.
 *  A: l1 miss; walk 1 ref (root entry empty); zero-read fault; retry 4.
 *  B: miss; walk 4 refs (the leaf table exists, its entry is empty);
 *     fault; retry 4. C: the same, 8 refs.
 *  A again: hit (3 entries in a 4-entry level).
 * accesses 4, translations 4, hits 1, misses 3, walks 6,
 * refs 5 + 8 + 8 = 21, faults 3 zero reads.
 * Tables: root + one each of levels 3, 2, 1 = [1,1,1,1], 3 x 4 KiB without
 * the root. Frames: 4 tables + the zero frame = 5.
 * cycles = 4 x access(1) + 4 lookups x 1 + 21 x 10 + 3 x 100 = 518;
 * translation = 518 - 4 = 514. */
static void test_reads(void **state)
{
    (void)state;
    json_t *j = run_trace_json("R 1 0x400000 8\nR 1 0x401000 8\nR 1 0x402000 8\nR 1 0x400000 8\n",
                         SIMPLE);
    expect_int(j, "accesses", 4);
    expect_int(j, "translations", 4);
    expect_int(j, "tlb.l1.hits", 1);
    expect_int(j, "tlb.l1.misses", 3);
    expect_int(j, "tlb.misses_all_levels", 3);
    expect_int(j, "walks.count", 6);
    expect_int(j, "walks.refs", 21);
    expect_faults(j, 3, 0, 0, 0, 0, 0);
    expect_int(j, "page_tables.bytes", 3 * 4096);
    expect_int(j, "page_tables.root_bytes", 4096);
    long long t[8];
    assert_int_equal(jints(j, "page_tables.tables_by_level", t, 8), 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(t[i], 1);
    expect_int(j, "memory.frames_used", 5);
    expect_int(j, "cycles", 518);
    expect_int(j, "cycles_translation", 514);
    expect_int(j, "processes", 1);
    expect_int(j, "context_switches", 0);
    json_decref(j);
}

/* A write after a read of the same page: copy-on-write of the zero frame.
 *  R A: miss; 1 ref; zero-read fault; 4 refs; l1 holds A -> zero frame.
 *  W A: the entry is read-only: l1 hit (counted); walk 4 refs finds the
 *       zero mapping; COW fault (new frame, A's entry shot down: 1
 *       invalidation); retry 4 refs.
 * translations 2, hits 1, misses 1, walks 4, refs 13, faults 2 (1 zero
 * read, 1 COW). Frames: 4 tables + zero frame + A's copy = 6.
 * cycles = 2 + 2 x 1 + 13 x 10 + 2 x 100 = 334. */
static void test_write_after_read(void **state)
{
    (void)state;
    json_t *j = run_trace_json("R 1 0x400000 8\nW 1 0x400000 8\n", SIMPLE);
    expect_int(j, "accesses", 2);
    expect_int(j, "translations", 2);
    expect_int(j, "tlb.l1.hits", 1);
    expect_int(j, "tlb.l1.misses", 1);
    expect_int(j, "tlb.misses_all_levels", 1);
    expect_int(j, "walks.count", 4);
    expect_int(j, "walks.refs", 13);
    expect_faults(j, 1, 0, 1, 0, 0, 0);
    expect_int(j, "tlb.invalidations", 1);
    expect_int(j, "memory.frames_used", 6);
    expect_int(j, "cycles", 334);
    json_decref(j);

    /* M (read-modify-write) on a fresh page is one translation with write
     * intent: a zero-write fault, not a read then a COW. 1 + 4 refs. */
    j = run_trace_json("M 1 0x400000 4\n", SIMPLE);
    expect_int(j, "translations", 1);
    expect_int(j, "walks.refs", 5);
    expect_faults(j, 0, 1, 0, 0, 0, 0);
    expect_int(j, "cycles", 1 + 1 + 50 + 100);
    json_decref(j);
}

/* Anonymous pages of 2 MiB (--page-size 2m), a level serving 4K and 2M.
 *  W 0x400000: miss; 1 ref; zero-write fault maps a 2 MiB frame at level
 *    2; retry reads root, PDPT, PD: 3 refs.
 *  R 0x5ff000: same 2 MiB page [0x400000, 0x600000): hit.
 *  R 0x600000: next 2 MiB page: miss; 3 refs (the PD entry is empty);
 *    zero-read fault (the 2 MiB zero frame); retry 3 refs.
 *  R 0x4ffffc, 8 bytes: crosses 0x500000, a 4 KiB boundary but not a
 *    2 MiB one: one translation, a hit.
 * translations 4, hits 2, misses 2, walks 4, refs 1+3+3+3 = 10, faults 2.
 * Tables: root, PDPT, PD; none of level 1: [1,1,1,0], 2 x 4 KiB without
 * the root; leaves: 2 of level 2. Frames: 3 tables + 512 (the 2 MiB data
 * frame) + 512 (the 2 MiB zero frame) = 1027.
 * cycles = 4 + 4 x 1 + 10 x 10 + 2 x 100 = 308. */
static void test_huge_pages(void **state)
{
    (void)state;
    json_t *j = run_trace_json("W 1 0x400000 8\nR 1 0x5ff000 8\nR 1 0x600000 8\nR 1 0x4ffffc 8\n",
                         "--tlb l1=4x4@4k+2m --pwc none --cost access=1,pt_ref=10,fault=100,pwc=0 "
                         "--page-size 2m");
    expect_int(j, "accesses", 4);
    expect_int(j, "translations", 4);
    expect_int(j, "tlb.l1.hits", 2);
    expect_int(j, "tlb.l1.misses", 2);
    expect_int(j, "walks.count", 4);
    expect_int(j, "walks.refs", 10);
    expect_faults(j, 1, 1, 0, 0, 0, 0);
    long long t[8];
    assert_int_equal(jints(j, "page_tables.tables_by_level", t, 8), 4);
    assert_int_equal(t[0], 1);
    assert_int_equal(t[1], 1);
    assert_int_equal(t[2], 1);
    assert_int_equal(t[3], 0);
    assert_int_equal(jints(j, "page_tables.pages_by_level", t, 8), 4);
    assert_int_equal(t[2], 2);
    assert_int_equal(t[3], 0);
    expect_int(j, "page_tables.bytes", 2 * 4096);
    expect_int(j, "page_tables.root_bytes", 4096);
    expect_int(j, "memory.frames_used", 3 + 512 + 512);
    expect_int(j, "config.anon_page_size", 2 * 1024 * 1024);
    expect_int(j, "cycles", 308);
    json_decref(j);
}

/* Processes 1 and 2 alternate on CPU 0, three reads each of 0x400000
 * (1, 2, 1, 2, 1, 2): 5 context switches, 2 processes.
 * With ASIDs: both entries live side by side: misses 2 (each first
 *   touch: 1 + 4 refs and a zero-read fault), hits 4. walks 4, refs 10,
 *   cycles = 6 + 6 + 100 + 200 = 312, no flush.
 * Without (--no-asid): each switch flushes (5 flushes), so every read
 *   misses: 6 misses; the 2 first touches as above, the 4 others walk the
 *   mapped page, 4 refs: walks 2 + 2 + 4 = 8, refs 10 + 16 = 26,
 *   cycles = 6 + 6 + 260 + 200 = 472.
 * Both: two address spaces, [2,2,2,2] tables, 2 roots (8 KiB), 6 x 4 KiB
 * without roots; frames 8 tables + the shared zero frame = 9. */
static void test_two_processes(void **state)
{
    (void)state;
    const char trace[] = "R 1 0x400000 8\nR 2 0x400000 8\nR 1 0x400000 8\n"
                         "R 2 0x400000 8\nR 1 0x400000 8\nR 2 0x400000 8\n";
    for (int asid = 1; asid >= 0; asid--) {
        json_t *j = run_trace_json(trace, asid ? SIMPLE : SIMPLE " --no-asid");
        expect_int(j, "accesses", 6);
        expect_int(j, "processes", 2);
        expect_int(j, "context_switches", 5);
        expect_faults(j, 2, 0, 0, 0, 0, 0);
        long long t[8];
        assert_int_equal(jints(j, "page_tables.tables_by_level", t, 8), 4);
        for (int i = 0; i < 4; i++)
            assert_int_equal(t[i], 2);
        expect_int(j, "page_tables.root_bytes", 2 * 4096);
        expect_int(j, "page_tables.bytes", 6 * 4096);
        expect_int(j, "memory.frames_used", 9);
        assert_true(json_is_boolean(jget(j, "config.asids")));
        assert_int_equal(json_is_true(jget(j, "config.asids")), asid);
        if (asid) {
            expect_int(j, "tlb.l1.misses", 2);
            expect_int(j, "tlb.l1.hits", 4);
            expect_int(j, "tlb.flushes", 0);
            expect_int(j, "walks.count", 4);
            expect_int(j, "walks.refs", 10);
            expect_int(j, "cycles", 312);
        } else {
            expect_int(j, "tlb.l1.misses", 6);
            expect_int(j, "tlb.l1.hits", 0);
            expect_int(j, "tlb.flushes", 5);
            expect_int(j, "walks.count", 8);
            expect_int(j, "walks.refs", 26);
            expect_int(j, "cycles", 472);
        }
        json_decref(j);
    }
}

/* A run that ends with its process's exit has no page tables left; the
 * peaks say how large they grew (docs/stats.md, "Peaks"). x86-64 radix,
 * 4 KiB tables: writes at 0x40000000, 0x40200000 and 0x40400000 lie in one
 * 1 GiB region (one L3 table below the root, one L2 table) and in three
 * 2 MiB regions (three L1 tables): 5 tables, 20 KiB without the root, 24
 * KiB with it; frames 6 tables + 3 pages = 9 at the peak. At the end: 0 B
 * and no frame. */
static void test_pt_peak_after_exit(void **state)
{
    (void)state;
    const char trace[] = "spawn 1\nW 1 0x40000000 8\nW 1 0x40200000 8\nW 1 0x40400000 8\n"
                         "exit 1\n";
    json_t *j = run_trace_json(trace, SIMPLE);
    expect_int(j, "page_tables.bytes", 0);
    expect_int(j, "page_tables.root_bytes", 0);
    expect_int(j, "page_tables.peak_bytes", 5 * 4096);
    expect_int(j, "page_tables.peak_bytes_with_roots", 6 * 4096);
    expect_int(j, "memory.frames_used", 0);
    expect_int(j, "memory.frames_peak", 9);
    json_decref(j);
    char *path = write_temp(trace, sizeof trace - 1, ".txt");
    struct cmd_result r = run_vmsim("run --trace %s " SIMPLE, path);
    assert_int_equal(r.status, 0);
    expect_in("summary", r.out,
              "0 B without roots, 0 B of roots at the end; peak 20 KiB without roots, 24 KiB with");
    cmd_result_free(&r);
    unlink(path);
    free(path);
}

/* The same for a trace as `vmsim record` writes it (docs/cli.md: spawn 1,
 * the command's accesses, exit 1; binary .vmt, made here by vmsim convert):
 * a fetch at 0x401000 and a write at 0x601000 (one L3, one L2 table; L2
 * indexes 2 and 3: two L1 tables) and a stack read at 0x7ffd12345000 (L4
 * index 255: its own L3, L2 and L1 tables): 7 tables, 28 KiB without the
 * root, 32 KiB with it. Frames at the peak: 8 tables, the shared zero frame
 * (the fetch and the read) and the written page: 10. After the exit the
 * zero frame is the 1 frame in use the issue saw; the tables are gone. */
static void test_pt_peak_recorded(void **state)
{
    (void)state;
    const char text[] = "spawn 1\nX 1 0x401000 4\nR 1 0x7ffd12345000 8\nW 1 0x601000 8\nexit 1\n";
    char *in = write_temp(text, sizeof text - 1, ".txt");
    char *vmt = temp_path(".vmt");
    struct cmd_result r = run_vmsim("convert %s %s", in, vmt);
    if (r.status != 0)
        fail_msg("convert: status %d: %s", r.status, r.err);
    cmd_result_free(&r);
    r = run_vmsim("run --quiet --trace %s --json - " SIMPLE, vmt);
    if (r.status != 0)
        fail_msg("run: status %d: %s", r.status, r.err);
    json_error_t jerr;
    json_t *j = json_loads(r.out, 0, &jerr);
    assert_non_null(j);
    expect_int(j, "processes", 1);
    expect_int(j, "page_tables.bytes", 0);
    expect_int(j, "page_tables.peak_bytes", 7 * 4096);
    expect_int(j, "page_tables.peak_bytes_with_roots", 8 * 4096);
    expect_int(j, "memory.frames_peak", 10);
    expect_int(j, "memory.frames_used", 1);
    json_decref(j);
    cmd_result_free(&r);
    unlink(in);
    unlink(vmt);
    free(in);
    free(vmt);
}

/* Every organization: the peak of a run that ends in an exit is the
 * page-table memory the same run has just before the exit, as the
 * footprint (a separate computation, from the organization's own
 * structures) reports it at the end of a run without the exit. Equal
 * wherever the tables fill their frames; clustered's nodes do not (its
 * peak counts whole frames: at least the footprint, less than a frame
 * more per node pool and bucket array). Every organization's structures
 * here are nonzero at the peak. */
static void test_pt_peak_organizations(void **state)
{
    (void)state;
    /* in 32 bits, the high write goes below 2 GiB instead */
    static const char *const bodies[] = {
        "spawn 1\nW 1 0x40000000 8\nW 1 0x40200000 8\nW 1 0x7f0000400000 8\nR 1 0x40201000 8\n",
        "spawn 1\nW 1 0x40000000 8\nW 1 0x40200000 8\nW 1 0x7f400000 8\nR 1 0x40201000 8\n"};
    static const char *const orgs[] = {"radix", "hashed", "hashed:scope=global", "cuckoo",
                                       "clustered", "inverted", "ppc", "flat"};
    static const char *const geoms[] = {"x86-64", "x86-32"};
    for (size_t g = 0; g < 2; g++)
        for (size_t o = 0; o < sizeof orgs / sizeof orgs[0]; o++) {
            const char *body = bodies[g];
            char with_exit[256];
            snprintf(with_exit, sizeof with_exit, "%sexit 1\n", body);
            char opts[128];
            snprintf(opts, sizeof opts, SIMPLE " --pt %s --geometry %s", orgs[o], geoms[g]);
            json_t *a = run_trace_json(body, opts), *b = run_trace_json(with_exit, opts);
            const long long bytes = jint(a, "page_tables.bytes"),
                            all = bytes + jint(a, "page_tables.root_bytes");
            const long long peak = jint(b, "page_tables.peak_bytes"),
                            peak_all = jint(b, "page_tables.peak_bytes_with_roots");
            assert_true(bytes > 0);
            if (!strncmp(orgs[o], "clustered", 9)) {
                if (peak < bytes || peak >= bytes + 2 * 4096)
                    fail_msg("%s %s: peak %lld, footprint %lld", orgs[o], geoms[g], peak, bytes);
            } else if (peak != bytes || peak_all != all) {
                fail_msg("%s %s: peak %lld / %lld with roots, footprint before the exit %lld / %lld",
                         orgs[o], geoms[g], peak, peak_all, bytes, all);
            }
            /* the run without the exit: its peak is its end (nothing was freed) */
            if (strncmp(orgs[o], "clustered", 9))
                expect_int(a, "page_tables.peak_bytes", bytes);
            json_decref(a);
            json_decref(b);
        }
}

/* Accesses crossing page boundaries translate every page they touch, in
 * address order.
 *  R 0x400ffc, 8 bytes: pages A = 0x400000 and B = 0x401000.
 *    A: miss; 1 + 4 refs; zero read. B: miss; 4 + 4 refs; zero read.
 *  W 0x401ffe, 4 bytes: pages B and C = 0x402000.
 *    B: l1 hit on the zero mapping (counted), walk 4, COW fault, retry 4.
 *    C: miss; 4 refs, zero-write fault, 4 refs.
 *  R 0x402ff8, 8 bytes: ends exactly at a boundary: one page, C, in l1
 *    and writable: a hit.
 * accesses 3, translations 5, hits 2, misses 3, walks 8,
 * refs 5 + 8 + 8 + 8 = 29, faults 2 zero reads, 1 COW, 1 zero write;
 * 1 invalidation (B's stale entry). Frames: 4 tables + zero frame + B's
 * copy + C = 7. cycles = 3 x 1 + 5 lookups x 1 + 29 x 10 + 4 x 100 = 698. */
static void test_page_crossing(void **state)
{
    (void)state;
    json_t *j = run_trace_json("R 1 0x400ffc 8\nW 1 0x401ffe 4\nR 1 0x402ff8 8\n", SIMPLE);
    expect_int(j, "accesses", 3);
    expect_int(j, "translations", 5);
    expect_int(j, "tlb.l1.hits", 2);
    expect_int(j, "tlb.l1.misses", 3);
    expect_int(j, "walks.count", 8);
    expect_int(j, "walks.refs", 29);
    expect_faults(j, 2, 1, 1, 0, 0, 0);
    expect_int(j, "tlb.invalidations", 1);
    expect_int(j, "memory.frames_used", 7);
    expect_int(j, "cycles", 698);
    json_decref(j);
}

/* --fault-stack sets the nested-fault report's sizes: one ordinary fault
 * is one activation, so the iterative and the recursive handler both used
 * one 1 KiB frame, and nothing overflowed the 3 KiB stack. */
static void test_fault_stack(void **state)
{
    (void)state;
    json_t *j = run_trace_json("W 1 0x1000 8\n", SIMPLE " --fault-stack 1k/3k");
    expect_int(j, "config.kernel.handler_frame", 1024);
    expect_int(j, "config.kernel.kernel_stack", 3072);
    expect_int(j, "faults.nested_max", 1);
    expect_int(j, "faults.stack_iterative_max", 1024);
    expect_int(j, "faults.stack_recursive_max", 1024);
    expect_int(j, "faults.stack_overflows", 0);
    json_decref(j);
}

/* vmsim compare: the same input under radix walked by hardware and by
 * software. The page tables are the same (the walker does not change
 * them); a software walk has no page-walk caches, so every walk of this
 * one-region sequential workload reads all 4 levels except the very first,
 * which finds the root entry empty: refs = 4 x walks - 3. Hardware walks
 * read fewer (the caches skip levels). --vary mem repeats it per memory
 * size; radix never breaks even with itself: null. */
static void test_compare(void **state)
{
    (void)state;
    struct cmd_result r = run_vmsim("compare --pt radix --pt radix@sw --workload "
                                    "seq:n=100000 --vary mem=1g,2g --json -");
    if (r.status != 0)
        fail_msg("compare: status %d\n%s", r.status, r.err);
    json_error_t jerr;
    json_t *j = json_loads(r.out, 0, &jerr);
    if (!j)
        fail_msg("compare --json - is not JSON (%s):\n%s", jerr.text, r.out);
    json_t *runs = json_object_get(j, "runs");
    assert_int_equal(json_array_size(runs), 4);
    for (size_t i = 0; i < 4; i += 2) {
        json_t *hw = json_array_get(runs, i), *sw = json_array_get(runs, i + 1);
        assert_string_equal(json_string_value(json_object_get(sw, "walker")), "sw");
        assert_int_equal(json_integer_value(json_object_get(hw, "page_table_bytes")),
                         json_integer_value(json_object_get(sw, "page_table_bytes")));
        const long long walks = json_integer_value(json_object_get(sw, "walks"));
        assert_int_equal(json_integer_value(json_object_get(sw, "refs")), 4 * walks - 3);
        assert_true(json_integer_value(json_object_get(hw, "refs")) < 4 * walks - 3);
    }
    assert_true(json_is_null(json_object_get(json_object_get(j, "break_even"), "page_table_bytes")));
    json_decref(j);
    cmd_result_free(&r);
    r = run_vmsim("compare --workload seq:n=10");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--pt SPEC"));
    cmd_result_free(&r);
    r = run_vmsim("compare --pt radix --vary tenants");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "KEY=V1,V2"));
    cmd_result_free(&r);
}

/* An address beyond the 48-bit width: a bad-address fault, no lookup, no
 * walk. cycles = access 1 + fault 100. */
static void test_bad_address(void **state)
{
    (void)state;
    json_t *j = run_trace_json("R 1 0x1000000000000 8\n", SIMPLE);
    expect_int(j, "translations", 1);
    assert_int_equal(jint(j, "tlb.l1.hits") + jint(j, "tlb.l1.misses"), 0);
    expect_int(j, "walks.count", 0);
    expect_faults(j, 0, 0, 0, 0, 1, 0);
    expect_int(j, "cycles", 101);
    json_decref(j);
}

/* docs/cost-model.md charges `fault` "per page fault handled (including
 * failed ones)": a protection fault and an out-of-memory fault too.
 *  Protection: mmap r-- then W: miss (1), walk 1 ref (root entry empty),
 *    protection fault (not retried): 1 + 1 + 10 + 100 = 112.
 *  OOM: --mem 1m --swap 0 is 256 frames of 4 KiB and nowhere to evict
 *    anonymous pages to. Writes to 254 pages of one 2 MiB
 *    region: root + 3 tables take 4 frames, 252 pages get frames, the last
 *    2 find none. Walks: the first page 1 + 4 refs, pages 2..252 4 + 4,
 *    pages 253, 254 4 refs each and no retry: 2 + 251 x 2 + 2 = 506 walks,
 *    5 + 251 x 8 + 2 x 4 = 2021 refs. 254 misses, 254 faults.
 *    cycles = 254 + 254 + 20210 + 254 x 100 = 46118. */
static void test_cost_of_failed_faults(void **state)
{
    (void)state;
    json_t *j = run_trace_json("mmap 1 0x10000 4096 r--\nW 1 0x10000 8\n", SIMPLE);
    expect_int(j, "walks.refs", 1);
    expect_faults(j, 0, 0, 0, 1, 0, 0);
    long long prot_cycles = jint(j, "cycles");
    json_decref(j);

    char *trace = malloc(254 * 32);
    size_t n = 0;
    for (unsigned i = 0; i < 254; i++)
        n += (size_t)sprintf(trace + n, "W 1 0x%x 8\n", 0x400000u + i * 4096u);
    j = run_trace_json(trace, SIMPLE " --mem 1m --swap 0");
    free(trace);
    expect_int(j, "walks.count", 506);
    expect_int(j, "walks.refs", 2021);
    expect_int(j, "tlb.l1.misses", 254);
    expect_faults(j, 0, 252, 0, 0, 0, 2);
    expect_int(j, "memory.frames_used", 256);
    long long oom_cycles = jint(j, "cycles");
    json_decref(j);
    /* both checked before failing, so one run shows both */
    if (prot_cycles != 112 || oom_cycles != 46118)
        fail_msg("cycles: protection fault %lld (expected 112), OOM run %lld (expected 46118)",
                 prot_cycles, oom_cycles);
}

/* vmsim.h: vmsim_run returns only real (host) failures, "simulated
 * failures are counted, never returned"; docs/stats.md on faults.oom: "the
 * run goes on". Processes 1..70 each read 0x400000 with --mem 1m (256
 * frames of 4 KiB): process 1 takes root + 3 tables + the zero frame (5),
 * processes 2..63 take 4 each (253 in all), process 64 gets its root and
 * part of its tables, then memory is full. Every access must still be
 * consumed and the run must end normally: status 0, accesses 70, 63 zero
 * reads; the later processes' failures are counted as faults, so
 * faults.total = 70 and faults.oom = 7. */
static void test_out_of_frames_for_new_processes(void **state)
{
    (void)state;
    char trace[70 * 24];
    size_t n = 0;
    for (unsigned pid = 1; pid <= 70; pid++)
        n += (size_t)sprintf(trace + n, "R %u 0x400000 8\n", pid);
    char *path = write_temp(trace, n, ".txt");
    struct cmd_result r = run_vmsim("run --trace %s --quiet --json - --mem 1m " SIMPLE, path);
    unlink(path);
    free(path);
    if (r.status != 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "status %d (accesses %lld of 70): %s", r.status,
                 json_number(r.out, "accesses"), r.err);
        cmd_result_free(&r);
        fail_msg("%s", msg);
    }
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    expect_int(j, "accesses", 70);
    expect_int(j, "faults.demand_zero_read", 63);
    expect_int(j, "faults.total", 70);
    json_decref(j);
    cmd_result_free(&r);
}

/* ---- the default workload ---------------------------------------------- */

/* No input: the built-in `default` workload (3 processes, DESIGN: the demo)
 * and the summary on stdout. About 30 M events: run once. */
static void test_default_workload(void **state)
{
    (void)state;
    char *json = temp_path(".json");
    struct cmd_result r = run_vmsim("run --json %s", json);
    if (r.status != 0)
        fail_msg("vmsim run: status %d\n%s", r.status, r.err);
    expect_in("summary", r.out, "workload default");
    expect_in("summary", r.out, "TLB level");
    expect_in("summary", r.out, "page faults");
    expect_in("summary", r.out, "cycles");
    cmd_result_free(&r);
    char *text = read_file(json, NULL);
    assert_non_null(text);
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    expect_int(j, "processes", 3);
    assert_true(jint(j, "accesses") > 1000000);
    assert_true(jint(j, "translations") >= jint(j, "accesses"));
    assert_string_equal(jstr(j, "source"), "workload default");
    json_decref(j);
    free(text);
    unlink(json);
    free(json);
}

/* ---- convert round trip ---------------------------------------------------- */

static size_t read_events(const char *path, struct vmsim_event *ev, size_t max)
{
    struct vmsim_source *src;
    struct vmsim_source_error err;
    if (vmsim_source_open_trace(path, "text", &src, &err) != 0)
        fail_msg("%s: expected %s, found %s", err.where, err.expected, err.found);
    size_t n = 0;
    for (long got; (got = vmsim_source_next(src, ev + n, max - n)) != 0; n += (size_t)got)
        if (got < 0) {
            const struct vmsim_source_error *e = vmsim_source_error(src);
            fail_msg("%s: expected %s, found %s", e->where, e->expected, e->found);
        }
    vmsim_source_close(src);
    return n;
}

/* tests/data/cli_roundtrip.txt -> bin -> text: the final text, parsed,
 * gives the same events as the original, field by field. */
static void test_convert_round_trip(void **state)
{
    (void)state;
    const char *orig = VMSIM_TEST_DATA "/cli_roundtrip.txt";
    char *bin = temp_path(".vmt");
    char *back = temp_path(".txt");
    struct cmd_result r = run_vmsim("convert --to bin %s %s", orig, bin);
    if (r.status != 0)
        fail_msg("convert to bin: %s", r.err);
    cmd_result_free(&r);
    r = run_vmsim("convert --from bin --to text %s %s", bin, back);
    if (r.status != 0)
        fail_msg("convert to text: %s", r.err);
    cmd_result_free(&r);

    struct vmsim_event a[64], b[64];
    size_t na = read_events(orig, a, 64), nb = read_events(back, b, 64);
    assert_int_equal(na, 21); /* the events of the data file, counted by hand */
    assert_int_equal(nb, na);
    for (size_t i = 0; i < na; i++) {
        if (a[i].type != b[i].type || a[i].kind != b[i].kind || a[i].cpu != b[i].cpu ||
            a[i].pid != b[i].pid || a[i].addr != b[i].addr || a[i].len != b[i].len)
            fail_msg("event %zu differs: type %u/%u kind %u/%u cpu %u/%u pid %u/%u addr "
                     "%#llx/%#llx len %llu/%llu",
                     i + 1, a[i].type, b[i].type, a[i].kind, b[i].kind, a[i].cpu, b[i].cpu,
                     a[i].pid, b[i].pid, (unsigned long long)a[i].addr,
                     (unsigned long long)b[i].addr, (unsigned long long)a[i].len,
                     (unsigned long long)b[i].len);
    }
    /* A few events checked against the file by hand. */
    assert_int_equal(a[0].type, VMSIM_EV_SPAWN);
    assert_int_equal(a[0].pid, 7);
    assert_int_equal(a[19].type, VMSIM_EV_ACCESS);
    assert_int_equal(a[19].pid, 4294967295u);
    assert_true(a[19].addr == UINT64_MAX);
    assert_true(a[19].len == 1ull << 30); /* the largest access size */
    assert_int_equal(a[19].cpu, 65535);
    unlink(bin);
    unlink(back);
    free(bin);
    free(back);
}

/* Every workload on the sv39 (39-bit) and x86-32 (32-bit) geometries: the
 * run tells the workload the width, so no access is a bad address (they
 * all were, with bases at 1 TiB and up), and nothing warns. */
static void test_workloads_inside_small_spaces(void **state)
{
    (void)state;
    static const char *const geoms[] = {"sv39", "x86-32"};
    for (size_t g = 0; g < 2; g++)
        for (const char *const *w = vmsim_workload_names; *w; w++) {
            const bool vms = strcmp(*w, "vms") == 0, dflt = strcmp(*w, "default") == 0;
            /* nested x86-32 addresses 4 GiB of guest memory at most */
            struct cmd_result r = run_vmsim("run --geometry %s%s%s --workload %s%s --quiet --json -",
                                            geoms[g], vms ? " --mem 2g --nested " : "",
                                            vms ? geoms[g] : "", *w, dflt ? "" : ":n=100000");
            if (r.status != 0)
                fail_msg("%s on %s: status %d\n%s", *w, geoms[g], r.status, r.err);
            json_error_t jerr;
            json_t *j = json_loads(r.out, 0, &jerr);
            assert_non_null(j);
            if (jint(j, "faults.bad_address") != 0 || contains(r.err, "warning"))
                fail_msg("%s on %s: %lld bad addresses\n%s", *w, geoms[g],
                         jint(j, "faults.bad_address"), r.err);
            assert_true(jint(j, "accesses") > 0);
            json_decref(j);
            cmd_result_free(&r);
        }
}

/* A hand-made trace with two addresses beyond sv39's 2^39 (2^39 itself and
 * the last byte of the 64-bit space) and one inside: 2 bad addresses. The
 * summary and stderr say so with the count, status 0; under --strict the
 * run fails (1) and still prints its statistics. */
static void test_out_of_space_warns(void **state)
{
    (void)state;
    const char *t = "spawn 1\nR 1 0x1000 8\nR 1 0x8000000000 8\nR 1 0xffffffffffffffff 1\n";
    char *path = write_temp(t, strlen(t), ".txt");
    struct cmd_result r = run_vmsim("run --geometry sv39 --trace %s", path);
    assert_int_equal(r.status, 0);
    expect_in("summary", r.out, "bad address 2");
    expect_in("summary", r.out, "WARNING                2 accesses outside the 39-bit virtual address "
                           "space of sv39 (faults.bad_address)");
    expect_in("stderr", r.err, "vmsim: warning: 2 accesses outside the 39-bit virtual address space "
                           "of the sv39 geometry");
    cmd_result_free(&r);
    r = run_vmsim("run --geometry sv39 --strict --trace %s", path);
    assert_int_equal(r.status, 1);
    expect_in("summary under --strict", r.out, "page walks");
    expect_in("stderr", r.err, "vmsim: --strict: 2 accesses outside the 39-bit virtual address space");
    cmd_result_free(&r);
    unlink(path);
    free(path);
}

/* The issue 11 hangs: a size of 2^64 - 1 in a lackey and in a text trace
 * meant 2^52 page translations. Now each is a parse error at its line,
 * naming the bound (docs/traces.md), at once: status 1, no hang. */
static void test_huge_size_refused(void **state)
{
    (void)state;
    static const struct {
        const char *trace, *fmt, *expected;
    } c[] = {
        {" S 1000,18446744073709551615\n", "lackey", ":1: expected SIZE from 1 to 4096"},
        {"R 1 0x1000 0xffffffffffffffff\n", "text", ":1: expected SIZE in bytes (decimal or 0x-hex, 1 to 2^30 = 1 GiB), found \"0xffffffffffffffff\""},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char *path = write_temp(c[i].trace, strlen(c[i].trace), ".txt");
        struct cmd_result r = run_vmsim("run --quiet --trace %s:%s", c[i].fmt, path);
        assert_int_equal(r.status, 1);
        if (!strstr(r.err, c[i].expected))
            fail_msg("%s: stderr lacks \"%s\":\n%s", c[i].fmt, c[i].expected, r.err);
        cmd_result_free(&r);
        unlink(path);
        free(path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_bad_options_name_found_value),
        cmocka_unit_test(test_page_size_4k_not_in_geometry),
        cmocka_unit_test(test_json_unwritable),
        cmocka_unit_test(test_trace_error_keeps_stats),
        cmocka_unit_test(test_event_on_missing_cpu),
        cmocka_unit_test(test_trace_from_stdin),
        cmocka_unit_test(test_json_shape),
        cmocka_unit_test(test_machine_then_tlb),
        cmocka_unit_test(test_json_level_named_like_a_stat),
        cmocka_unit_test(test_reads),
        cmocka_unit_test(test_write_after_read),
        cmocka_unit_test(test_huge_pages),
        cmocka_unit_test(test_two_processes),
        cmocka_unit_test(test_pt_peak_after_exit),
        cmocka_unit_test(test_pt_peak_recorded),
        cmocka_unit_test(test_pt_peak_organizations),
        cmocka_unit_test(test_page_crossing),
        cmocka_unit_test(test_bad_address),
        cmocka_unit_test(test_huge_size_refused),
        cmocka_unit_test(test_workloads_inside_small_spaces),
        cmocka_unit_test(test_out_of_space_warns),
        cmocka_unit_test(test_fault_stack),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_cost_of_failed_faults),
        cmocka_unit_test(test_out_of_frames_for_new_processes),
        cmocka_unit_test(test_default_workload),
        cmocka_unit_test(test_convert_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
