/* One table per kind (issue 13): every list of names the tool shows comes
 * from the table that defines the kind, and the docs that spell a list by
 * hand (docs/cli.md) keep up with it.
 *
 *  - vmsim_pt_names is generated from PT_ORGANIZATIONS in src/pt/registry.c;
 *    each name must find the organization whose ops->name it is.
 *  - `vmsim run --help` lists every organization, geometry, replacement
 *    policy and trace format; `vmsim presets` every machine, geometry,
 *    workload and trace format.
 *  - docs/cli.md names each of them in its --pt, --replace and --trace
 *    entries (in backticks), so an entry added to a table and not to the
 *    docs fails here.
 * The expected names are the tables themselves: the test checks that each
 * output holds every one, which a hand-written list in the code would
 * fail as soon as a table grows. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt/pt.h"
#include "testutil.h"
#include "vmsim/event.h"
#include "vmsim/vmsim.h"

static void expect_all(const char *where, const char *text, const char *const *names,
                       const char *fmt)
{
    for (size_t i = 0; names[i]; i++) {
        char needle[128];
        snprintf(needle, sizeof needle, fmt, names[i]);
        if (!strstr(text, needle))
            fail_msg("%s: expected %s, not found", where, needle);
    }
}

static void test_pt_names_from_registry(void **state)
{
    (void)state;
    size_t n = 0;
    for (; vmsim_pt_names[n]; n++) {
        const char *params = NULL;
        const struct pt_ops *ops = pt_find(vmsim_pt_names[n], &params);
        assert_non_null(ops);
        assert_string_equal(ops->name, vmsim_pt_names[n]);
        assert_string_equal(params, "");
    }
    assert_true(n >= 1);
    assert_null(pt_find("nosuch", NULL));
}

/* names joined by ", ", the last by `last` ("a, b or c"), as a help
 * list reads once its line breaks are undone. */
static void join(char *buf, size_t len, const char *const *names, const char *last)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; names[i]; i++) {
        const char *sep = i == 0 ? "" : names[i + 1] ? ", " : last;
        n += (size_t)snprintf(buf + n, len - n, "%s%s", sep, names[i]);
        assert_true(n < len);
    }
}

/* text with every run of blanks and newlines made one space. */
static void squeeze(char *text)
{
    char *o = text;
    for (const char *p = text; *p; p++) {
        if (*p == ' ' || *p == '\n') {
            if (o == text || o[-1] != ' ')
                *o++ = ' ';
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
}

static void expect_list(const char *where, const char *text, const char *const *names,
                        const char *last)
{
    char list[1024];
    join(list, sizeof list, names, last);
    if (!strstr(text, list))
        fail_msg("%s: expected the list \"%s\", not found", where, list);
}

static void test_help_lists_tables(void **state)
{
    (void)state;
    struct cmd_result r = run_vmsim("run --help");
    assert_int_equal(r.status, 0);
    squeeze(r.out);
    expect_list("vmsim run --help", r.out, vmsim_pt_names, ", ");
    expect_list("vmsim run --help", r.out, vmsim_geometry_names, ", ");
    expect_list("vmsim run --help", r.out, vmsim_replace_names, ", ");
    expect_list("vmsim run --help", r.out, vmsim_trace_formats, " or ");
    cmd_result_free(&r);
    r = run_vmsim("presets");
    assert_int_equal(r.status, 0);
    expect_all("vmsim presets", r.out, vmsim_machine_names, "\n  %s ");
    expect_all("vmsim presets", r.out, vmsim_geometry_names, "\n  %s ");
    expect_all("vmsim presets", r.out, vmsim_workload_names, "\n  %s ");
    expect_all("vmsim presets", r.out, vmsim_trace_formats, "\n  %s ");
    cmd_result_free(&r);
    /* the errors name the same lists */
    r = run_vmsim("run --replace nosuch --workload seq:n=1");
    assert_int_equal(r.status, 2);
    expect_list("vmsim run --replace nosuch", r.err, vmsim_replace_names, " or ");
    cmd_result_free(&r);
    r = run_vmsim("run --pt nosuch --workload seq:n=1");
    assert_int_equal(r.status, 2);
    expect_list("vmsim run --pt nosuch", r.err, vmsim_pt_names, ", ");
    cmd_result_free(&r);
}

/* The line of docs/cli.md's table (or paragraph) that starts with prefix. */
static char *doc_line(const char *doc, const char *prefix)
{
    const char *p = strstr(doc, prefix);
    if (!p)
        fail_msg("docs/cli.md: no line with %s", prefix);
    const char *end = strchr(p, '\n');
    return strndup(p, end ? (size_t)(end - p) : strlen(p));
}

static void test_docs_name_every_entry(void **state)
{
    (void)state;
    size_t len;
    char *doc = read_file(VMSIM_SOURCE_DIR "/docs/cli.md", &len);
    assert_non_null(doc);
    char *line = doc_line(doc, "| `--pt NAME[:OPTS]` |");
    expect_all("docs/cli.md --pt", line, vmsim_pt_names, "`%s`");
    free(line);
    line = doc_line(doc, "| `--replace POLICY` |");
    expect_all("docs/cli.md --replace", line, vmsim_replace_names, "`%s`");
    free(line);
    line = doc_line(doc, "Converts between trace formats");
    char list[512];
    join(list, sizeof list, vmsim_trace_formats, "|");
    for (char *c = list; *c; c++) /* "a, b|c" -> "a|b|c" */
        if (*c == ',')
            memmove(c, c + 1, strlen(c)), *c = '|';
    if (!strstr(line, list))
        fail_msg("docs/cli.md convert: expected --from %s", list);
    free(line);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pt_names_from_registry),
        cmocka_unit_test(test_help_lists_tables),
        cmocka_unit_test(test_docs_name_every_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
