/* Golden outputs: a fixed set of runs (tests/golden/runs.txt) whose every
 * JSON value must stay what it was, so that a refactor that changes
 * behaviour is caught however it does it.
 *
 * The goldens are vmsim's own output at the commit that last changed them:
 * they prove nothing correct (the differential suite, the component tests
 * and docs/validation.md do that); they say "nothing moved". A golden changes
 * only in a commit of its own that says why:
 *     VMSIM_GOLDEN_UPDATE=1 build/release/tests/test_golden
 * rewrites tests/golden/NAME.json for every run. The top-level "source" is
 * not compared (it names the checkout's path), nor are two values of the
 * provenance that differ from run to run without any change in behaviour:
 * "argv" (the temporary --json path and the checkout's data paths) and
 * "vmsim.git" (the revision of the build, new at every commit). The rest of
 * "vmsim" (version, schema) is compared: a new schema is a golden change. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define GOLDEN_DIR VMSIM_SOURCE_DIR "/tests/golden"

struct run {
    char name[64];
    char args[1024];
};

static struct run *runs;
static size_t nruns;

/* runs.txt: "NAME ARGS...", '#' comments; DATA and GOLDEN stand for the
 * test-data and golden folders. */
static void load_runs(void)
{
    FILE *f = fopen(GOLDEN_DIR "/runs.txt", "r");
    if (!f) {
        perror(GOLDEN_DIR "/runs.txt");
        exit(1);
    }
    char line[2048];
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        char name[64];
        int off = 0;
        if (line[0] == '#' || sscanf(line, "%63s %n", name, &off) != 1)
            continue;
        if (nruns == cap) {
            cap = cap ? 2 * cap : 64;
            runs = realloc(runs, cap * sizeof *runs);
        }
        struct run *r = &runs[nruns++];
        snprintf(r->name, sizeof r->name, "%s", name);
        /* expand DATA and GOLDEN, drop the newline */
        size_t o = 0;
        for (const char *p = line + off; *p && *p != '\n' && o + 1 < sizeof r->args;) {
            const char *sub = NULL;
            size_t skip = 0;
            if (!strncmp(p, "DATA", 4))
                sub = VMSIM_TEST_DATA, skip = 4;
            else if (!strncmp(p, "GOLDEN", 6))
                sub = GOLDEN_DIR, skip = 6;
            if (sub) {
                o += (size_t)snprintf(r->args + o, sizeof r->args - o, "%s", sub);
                p += skip;
            } else {
                r->args[o++] = *p++;
            }
        }
        r->args[o < sizeof r->args ? o : sizeof r->args - 1] = 0;
    }
    fclose(f);
}

/* Describe the first difference between a (golden) and b (now) under path. */
static bool differ(const json_t *a, const json_t *b, const char *path, char *why, size_t len)
{
    if (json_typeof(a) != json_typeof(b)) {
        snprintf(why, len, "%s: type changed", path);
        return true;
    }
    char sub[512];
    if (json_is_object(a)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            snprintf(sub, sizeof sub, "%s.%s", path, k);
            const json_t *w = json_object_get(b, k);
            if (!w) {
                snprintf(why, len, "%s: gone", sub);
                return true;
            }
            if (differ(v, w, sub, why, len))
                return true;
        }
        json_object_foreach((json_t *)b, k, v) {
            if (!json_object_get(a, k)) {
                snprintf(why, len, "%s.%s: new", path, k);
                return true;
            }
        }
        return false;
    }
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b)) {
            snprintf(why, len, "%s: %zu elements, golden %zu", path, json_array_size(b),
                     json_array_size(a));
            return true;
        }
        for (size_t i = 0; i < json_array_size(a); i++) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            if (differ(json_array_get(a, i), json_array_get(b, i), sub, why, len))
                return true;
        }
        return false;
    }
    if (json_equal((json_t *)a, (json_t *)b))
        return false;
    char *sa = json_dumps(a, JSON_ENCODE_ANY), *sb = json_dumps(b, JSON_ENCODE_ANY);
    snprintf(why, len, "%s: %s, golden %s", path, sb ? sb : "?", sa ? sa : "?");
    free(sa);
    free(sb);
    return true;
}

static void test_run(void **state)
{
    const struct run *r = *state;
    char *out = temp_path(".json");
    struct cmd_result res = run_vmsim("run --quiet --json %s %s", out, r->args);
    if (res.status != 0)
        fail_msg("%s: vmsim run %s exited %d: %s", r->name, r->args, res.status, res.err);
    cmd_result_free(&res);
    char golden[1024];
    snprintf(golden, sizeof golden, GOLDEN_DIR "/%s.json", r->name);
    json_error_t jerr;
    json_t *now = json_load_file(out, 0, &jerr);
    assert_non_null(now);
    json_object_del(now, "source");
    json_object_del(now, "argv");
    json_object_del(json_object_get(now, "vmsim"), "git");
    if (getenv("VMSIM_GOLDEN_UPDATE")) {
        assert_int_equal(json_dump_file(now, golden, JSON_INDENT(1) | JSON_SORT_KEYS), 0);
    } else {
        json_t *gold = json_load_file(golden, 0, &jerr);
        if (!gold)
            fail_msg("%s: no golden (%s); VMSIM_GOLDEN_UPDATE=1 writes it", r->name, jerr.text);
        char why[1024];
        if (differ(gold, now, r->name, why, sizeof why))
            fail_msg("%s (vmsim run %s) differs from its golden: %s", r->name, r->args, why);
        json_decref(gold);
    }
    json_decref(now);
    remove(out);
    free(out);
}

int main(void)
{
    load_runs();
    struct CMUnitTest *tests = calloc(nruns, sizeof *tests);
    for (size_t i = 0; i < nruns; i++)
        tests[i] = (struct CMUnitTest){runs[i].name, test_run, NULL, NULL, &runs[i]};
    int rc = _cmocka_run_group_tests("golden", tests, nruns, NULL, NULL);
    free(tests);
    free(runs);
    return rc;
}
