/* vmsim record and vmsim run --record, with the real valgrind (skipped when
 * valgrind is not on PATH, except the checks that need no valgrind).
 *
 * The acceptance test (issue 6): a trace recorded from a real program gives
 * the same statistics as the lackey text of the same run read directly.
 * `vmsim record --lackey T.lackey -o T.vmt -- /bin/true` keeps the text
 * valgrind wrote while the trace was encoded from it. Then:
 *
 *  1. The trace is that text, event for event: converted to vmsim text, it
 *     is "spawn 1", then one access per lackey record in order (I -> X,
 *     L -> R, S -> W, M -> M; pid 1, the address and size of the record;
 *     parsed here with sscanf, independently of vmsim's lackey reader), then
 *     "exit 1".
 *  2. `vmsim run` on T.vmt and on lackey:T.lackey report the same value for
 *     every statistic in the JSON, except what the two process events
 *     change, each checked by its own rule:
 *       - events: two more (the spawn and the exit);
 *       - the page tables at the end: none (the only process exited), so
 *         every byte, table and page count under page_tables is 0 except
 *         the cumulative counters (resizes, migrations...), which are equal;
 *       - memory.frames_used at the end: the exit frees the process's own
 *         frames — one per demand-zero write and per copy (cow_zero,
 *         cow_copy) — and every page-table page, roots included.
 *
 * Also: the command's exit status comes back (/bin/false), the default
 * output name (COMMAND.vmt.zst in the current directory), run --record on the
 * same program, and the errors: no command, unknown option, no valgrind,
 * no such command, --record with another input. */
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static json_t *load_json(const char *path)
{
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j)
        fail_msg("%s: %s", path, err.text);
    return j;
}

static json_t *jget(json_t *root, const char *a, const char *b)
{
    json_t *v = json_object_get(root, a);
    return b ? json_object_get(v, b) : v;
}

static long long jint(json_t *root, const char *a, const char *b)
{
    json_t *v = jget(root, a, b);
    if (!json_is_integer(v))
        fail_msg("JSON has no integer %s%s%s", a, b ? "." : "", b ? b : "");
    return (long long)json_integer_value(v);
}

static long long jsum(json_t *arr)
{
    long long s = 0;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) s += (long long)json_integer_value(v);
    return s;
}

/* ---- 1. the trace is the lackey text plus the process events ----------- */

static void check_events(const char *vmt, const char *lackey)
{
    char *txt = temp_path(".txt");
    struct cmd_result r = run_vmsim("convert --to text %s %s", vmt, txt);
    if (r.status != 0)
        fail_msg("convert: status %d\n%s", r.status, r.err);
    cmd_result_free(&r);

    FILE *t = fopen(txt, "r"), *l = fopen(lackey, "r");
    assert_non_null(t);
    assert_non_null(l);
    char tl[512], ll[512];
    /* the text writer's first line is a comment */
    while (fgets(tl, sizeof tl, t) && tl[0] == '#')
        ;
    assert_string_equal(tl, "spawn 1\n");
    uint64_t records = 0;
    unsigned lineno = 0;
    while (fgets(ll, sizeof ll, l)) {
        lineno++;
        if (!strncmp(ll, "==", 2))
            continue;
        char kind;
        uint64_t addr, size;
        if (sscanf(ll, " %c %" SCNx64 ",%" SCNu64, &kind, &addr, &size) != 3)
            fail_msg("%s:%u: not a lackey record: %s", lackey, lineno, ll);
        char want[128];
        const char k = kind == 'I' ? 'X' : kind == 'L' ? 'R' : kind == 'S' ? 'W' : kind;
        snprintf(want, sizeof want, "%c 1 0x%" PRIx64 " %" PRIu64 "\n", k, addr, size);
        if (!fgets(tl, sizeof tl, t))
            fail_msg("trace ends before lackey record %" PRIu64 " (%s:%u)", records + 1, lackey,
                     lineno);
        if (strcmp(tl, want) != 0)
            fail_msg("record %" PRIu64 " (%s:%u): trace has %s, lackey says %s", records + 1,
                     lackey, lineno, tl, want);
        records++;
    }
    assert_non_null(fgets(tl, sizeof tl, t));
    assert_string_equal(tl, "exit 1\n");
    assert_null(fgets(tl, sizeof tl, t));
    assert_true(records > 1000); /* a real program ran */
    fclose(t);
    fclose(l);
    unlink(txt);
    free(txt);
}

/* ---- 2. same statistics ------------------------------------------------- */

static bool is_end_state(const char *path)
{
    static const char *const end[] = {"page_tables.bytes", "page_tables.root_bytes",
                                      "page_tables.tables_by_level", "page_tables.bytes_by_level",
                                      "page_tables.pages_by_level"};
    for (size_t i = 0; i < sizeof end / sizeof end[0]; i++)
        if (!strncmp(path, end[i], strlen(end[i])))
            return true;
    return false;
}

/* Compare rec (the .vmt run) with lac (the lackey run) leaf by leaf. */
static int compare(json_t *rec, json_t *lac, const char *path)
{
    int bad = 0;
    if (!strcmp(path, "source") || !strcmp(path, "argv") || !strcmp(path, "events") || !strcmp(path, "memory.frames_used") ||
        !strncmp(path, "memory.buddy.free_blocks", 24) ||
        !strncmp(path, "memory.buddy.unusable_index", 27))
        return 0; /* own rules, below (argv: the two command lines) */
    if (is_end_state(path)) {
        if (json_is_integer(rec) && json_integer_value(rec) != 0) {
            print_error("%s = %lld after the exit, expected 0\n", path,
                        (long long)json_integer_value(rec));
            return 1;
        }
        if (!json_is_integer(rec)) {
            size_t i;
            json_t *v;
            char sub[256];
            json_array_foreach(rec, i, v)
            {
                snprintf(sub, sizeof sub, "%s[%zu]", path, i);
                bad += compare(v, NULL, sub);
            }
        }
        return bad;
    }
    if (json_is_object(lac)) {
        const char *key;
        json_t *v;
        if (json_object_size(rec) != json_object_size(lac)) {
            print_error("%s: %zu keys against %zu\n", path, json_object_size(rec),
                        json_object_size(lac));
            bad++;
        }
        json_object_foreach(lac, key, v)
        {
            char sub[256];
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key);
            json_t *w = json_object_get(rec, key);
            if (!w) {
                print_error("%s: missing in the recorded run\n", sub);
                bad++;
                continue;
            }
            bad += compare(w, v, sub);
        }
        return bad;
    }
    if (json_is_array(lac)) {
        if (json_array_size(rec) != json_array_size(lac)) {
            print_error("%s: %zu elements against %zu\n", path, json_array_size(rec),
                        json_array_size(lac));
            return 1;
        }
        size_t i;
        json_t *v;
        json_array_foreach(lac, i, v)
        {
            char sub[256];
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            bad += compare(json_array_get(rec, i), v, sub);
        }
        return bad;
    }
    if (!json_equal(rec, lac)) {
        char *a = json_dumps(rec, JSON_ENCODE_ANY), *b = json_dumps(lac, JSON_ENCODE_ANY);
        print_error("%s: recorded %s, lackey %s\n", path, a, b);
        free(a);
        free(b);
        bad++;
    }
    return bad;
}

static void check_stats(const char *vmt, const char *lackey)
{
    char *ja = temp_path(".json"), *jb = temp_path(".json");
    struct cmd_result r = run_vmsim("run --trace bin:%s --json %s --quiet", vmt, ja);
    if (r.status != 0)
        fail_msg("run .vmt: status %d\n%s", r.status, r.err);
    cmd_result_free(&r);
    r = run_vmsim("run --trace lackey:%s --json %s --quiet", lackey, jb);
    if (r.status != 0)
        fail_msg("run lackey: status %d\n%s", r.status, r.err);
    cmd_result_free(&r);
    json_t *rec = load_json(ja), *lac = load_json(jb);

    int bad = compare(rec, lac, "");
    assert_int_equal(jint(rec, "events", NULL), jint(lac, "events", NULL) + 2);
    long long own = jint(lac, "faults", "demand_zero_write") + jint(lac, "faults", "cow_zero") +
                    jint(lac, "faults", "cow_copy");
    long long tables = jsum(jget(lac, "page_tables", "tables_by_level"));
    assert_true(tables >= 4); /* at least one table per level of a 4-level tree */
    assert_int_equal(jint(rec, "memory", "frames_used"),
                     jint(lac, "memory", "frames_used") - own - tables);
    assert_int_equal(jint(rec, "processes", NULL), 1);
    /* The free blocks are the end state too (the recorded run ends with the
     * exit): in each run they hold every frame not in use. */
    json_t *runs[] = {rec, lac};
    for (size_t i = 0; i < 2; i++) {
        json_t *blocks = jget(jget(runs[i], "memory", "buddy"), "free_blocks", NULL);
        long long free_frames = 0;
        size_t k;
        json_t *v;
        json_array_foreach(blocks, k, v) free_frames += (long long)json_integer_value(v) << k;
        const long long page = jint(jget(runs[i], "config", "geometry"), "page_size", NULL);
        assert_int_equal(free_frames, jint(runs[i], "config", "phys_bytes") / page -
                                          jint(runs[i], "memory", "frames_used"));
    }
    assert_int_equal(bad, 0);

    json_decref(rec);
    json_decref(lac);
    unlink(ja);
    unlink(jb);
    free(ja);
    free(jb);
}

static void test_record_true(void **state)
{
    (void)state;
    if (!on_path("valgrind"))
        skip();
    char *vmt = temp_path(".vmt"), *lackey = temp_path(".lackey");
    struct cmd_result r = run_vmsim("record -o %s --lackey %s -- /bin/true", vmt, lackey);
    if (r.status != 0)
        fail_msg("record: status %d\n%s", r.status, r.err);
    expect_in("record's stderr", r.err, "/bin/true exited with status 0");
    expect_in("record's stderr", r.err, "recorded ");
    cmd_result_free(&r);

    check_events(vmt, lackey);
    check_stats(vmt, lackey);

    /* run --record: the same program simulated straight from the pipe. A
     * second run under valgrind need not touch exactly the same addresses,
     * so check its shape: one process, spawned and exited, and an access
     * count within 5% of the recorded one. */
    char *json = temp_path(".json");
    r = run_vmsim("run --quiet --json %s --record -- /bin/true", json);
    if (r.status != 0)
        fail_msg("run --record: status %d\n%s", r.status, r.err);
    cmd_result_free(&r);
    json_t *j = load_json(json);
    r = run_vmsim("run --quiet --json - --trace %s", vmt);
    json_error_t err;
    json_t *k = json_loads(r.out, 0, &err);
    assert_non_null(k);
    cmd_result_free(&r);
    long long a = jint(j, "accesses", NULL), b = jint(k, "accesses", NULL);
    assert_true(a > 1000 && 20 * llabs(a - b) <= b);
    assert_int_equal(jint(j, "events", NULL), a + 2);
    assert_int_equal(jint(j, "processes", NULL), 1);
    assert_int_equal(jint(j, "page_tables", "bytes"), 0);
    json_decref(j);
    json_decref(k);

    unlink(json);
    unlink(vmt);
    unlink(lackey);
    free(json);
    free(vmt);
    free(lackey);
}

/* The command's status comes back; the trace is still written, by default
 * as COMMAND.vmt.zst in the current directory. */
static void test_record_status_and_default_name(void **state)
{
    (void)state;
    if (!on_path("valgrind"))
        skip();
    char *dir = temp_path(".dir");
    assert_int_equal(mkdir(dir, 0700), 0);
    char cmd[1024], path[1024];
    snprintf(cmd, sizeof cmd, "cd %s && %s record -- /bin/false 2>err", dir, VMSIM_BIN);
    int st = system(cmd);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1); /* /bin/false's */
    snprintf(path, sizeof path, "%s/err", dir);
    char *err = read_file(path, NULL);
    expect_in("stderr", err, "/bin/false exited with status 1");
    free(err);
    unlink(path);
    /* COMMAND.vmt.zst: zstd's magic (RFC 8878), then the same bytes as a
     * plain recording once zstd -dc decodes it */
    snprintf(path, sizeof path, "%s/false.vmt.zst", dir);
    size_t len = 0;
    char *zst = read_file(path, &len);
    assert_non_null(zst);
    assert_true(len > 4);
    assert_memory_equal(zst, "\x28\xb5\x2f\xfd", 4);
    free(zst);
    if (!on_path("zstd")) {
        unlink(path);
        rmdir(dir);
        free(dir);
        return;
    }
    snprintf(cmd, sizeof cmd, "cd %s && zstd -q -d false.vmt.zst", dir);
    assert_int_equal(system(cmd), 0);
    unlink(path);
    snprintf(path, sizeof path, "%s/false.vmt", dir);
    char *vmt = read_file(path, &len);
    assert_non_null(vmt);
    assert_true(len > 1000);
    assert_memory_equal(vmt, "VMSIMBT\x01\x81\x01", 10); /* header, spawn 1 */
    assert_memory_equal(vmt + len - 2, "\x82\x01", 2);   /* exit 1 */
    free(vmt);
    unlink(path);
    rmdir(dir);
    free(dir);
}

/* SIGTERM to vmsim alone is passed on to the command (blocked in sleep,
 * writing nothing): the recording stops, the trace is closed with the exit
 * and vmsim exits 143 well before the command would have ended. */
static void test_record_interrupted(void **state)
{
    (void)state;
    if (!on_path("valgrind"))
        skip();
    char *vmt = temp_path(".vmt"), *err = temp_path(".err");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen(err, "w", stderr))
            _exit(126);
        execl(VMSIM_BIN, VMSIM_BIN, "record", "-o", vmt, "--", "/bin/sleep", "30", (char *)NULL);
        _exit(127);
    }
    time_t t0 = time(NULL);
    /* long enough for vmsim to catch SIGTERM and for valgrind to start sleep */
    sleep(2);
    kill(pid, SIGTERM);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(time(NULL) - t0 < 20);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 143);
    char *e = read_file(err, NULL);
    expect_in("stderr", e, "vmsim: interrupted by SIGTERM after ");
    expect_in("stderr", e, "/bin/sleep was killed by signal");
    free(e);
    size_t len = 0;
    char *t = read_file(vmt, &len);
    assert_non_null(t);
    assert_true(len >= 12);
    assert_memory_equal(t, "VMSIMBT\x01\x81\x01", 10); /* header, spawn 1 */
    assert_memory_equal(t + len - 2, "\x82\x01", 2);    /* exit 1 */
    free(t);
    unlink(vmt);
    unlink(err);
    free(vmt);
    free(err);
}

static void expect_usage(const char *args, int status, const char *msg)
{
    struct cmd_result r = run_vmsim("%s", args);
    if (r.status != status)
        fail_msg("vmsim %s: status %d, expected %d\n%s", args, r.status, status, r.err);
    expect_in(args, r.err, msg);
    cmd_result_free(&r);
}

static void test_record_errors(void **state)
{
    (void)state;
    char *vmt = temp_path(".vmt");
    char args[1024];
    expect_usage("record", 2, "record: expected a command after --, found nothing");
    expect_usage("record --", 2, "record: expected a command after --, found nothing");
    expect_usage("record -o", 2, "record: unknown option or missing value");
    expect_usage("record --bogus -- /bin/true", 2,
                 "record: unknown option or missing value: \"--bogus\"");
    expect_usage("run --record", 2, "run: --record: expected a command after --, found nothing");
    expect_usage("run --record --workload seq -- /bin/true", 2,
                 "run: give --record or --workload, not both");
    expect_usage("run --record --replace opt -- /bin/true", 2,
                 "--replace opt reads its input twice");
    snprintf(args, sizeof args, "record -o %s -- /nonexistent/program", vmt);
    expect_usage(args, 1,
                 "record: /nonexistent/program: expected an executable command, found no "
                 "executable file there");
    snprintf(args, sizeof args, "record -o %s -- no-such-command-vmsim", vmt);
    expect_usage(args, 1, "expected an executable command, found none on PATH");
    /* no valgrind: a clear message, nothing run */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "PATH=/nonexistent %s record -o %s -- /bin/true 2>%s.err", VMSIM_BIN,
             vmt, vmt);
    int st = system(cmd);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1);
    snprintf(cmd, sizeof cmd, "%s.err", vmt);
    char *err = read_file(cmd, NULL);
    expect_in("stderr", err, "record: valgrind is not installed (not found on PATH)");
    free(err);
    unlink(cmd);
    unlink(vmt);
    free(vmt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_true),
        cmocka_unit_test(test_record_status_and_default_name),
        cmocka_unit_test(test_record_interrupted),
        cmocka_unit_test(test_record_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
