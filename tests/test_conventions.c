/* Command-line conventions (issue 18, item 11): --version with the git
 * revision, -h/--help on every command and `vmsim help CMD`, "unknown
 * command" with a suggestion, `vmsim presets` naming real options, the man
 * page generated at build time holding every option of the option tables,
 * and bash completion listing every command, options and preset names.
 *
 * What "every" means is read from the sources, not from vmsim's output: the
 * commands from main.c's table ({"NAME", cmd_...}), the options from every
 * getopt table in src/cli ({"NAME", no_argument|required_argument...}). */
#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define MAXN 256

/* Every match of pattern's first group in the files, deduplicated. */
static size_t source_names(const char *const *files, const char *pattern, char names[][64])
{
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED), 0);
    size_t n = 0;
    for (const char *const *f = files; *f; f++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", VMSIM_SOURCE_DIR, *f);
        char *text = read_file(path, NULL);
        if (!text)
            fail_msg("cannot read %s", path);
        regmatch_t m[2];
        for (const char *p = text; regexec(&re, p, 2, m, 0) == 0; p += m[0].rm_eo) {
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(m[1].rm_eo - m[1].rm_so), p + m[1].rm_so);
            bool dup = false;
            for (size_t i = 0; i < n && !dup; i++)
                dup = !strcmp(names[i], name);
            if (!dup && n < MAXN)
                snprintf(names[n++], 64, "%s", name);
        }
        free(text);
    }
    regfree(&re);
    return n;
}

static size_t commands(char names[][64])
{
    static const char *const files[] = {"src/cli/main.c", NULL};
    const size_t n = source_names(files, "\\{\"([a-z]+)\", cmd_[a-z]+,", names);
    assert_true(n >= 9);
    return n;
}

static size_t options(char names[][64])
{
    static const char *const files[] = {
        "src/cli/cli.h",       "src/cli/cmd_run.c",     "src/cli/cmd_presets.c",
        "src/cli/cmd_convert.c", "src/cli/cmd_snapshot.c", "src/cli/cmd_compare.c",
        "src/cli/cmd_sweep.c", "src/cli/cmd_plot.c",    "src/cli/cmd_record.c",
        "src/cli/cmd_crosscheck.c", NULL};
    const size_t n =
        source_names(files, "\\{\"([a-z0-9-]+)\", *(no|required|optional)_argument", names);
    assert_true(n >= 50);
    return n;
}

static void test_version(void **state)
{
    (void)state;
    struct cmd_result r = run_vmsim("--version");
    assert_int_equal(r.status, 0);
    expect_in("--version", r.out, "vmsim 0.1.0 (");
    /* the revision names a commit of the source tree's history (the build
     * may be older than the last commit: it is refreshed when built) */
    const char *open = strchr(r.out, '('), *close = open ? strchr(open, ')') : NULL;
    assert_non_null(close);
    char rev[128];
    snprintf(rev, sizeof rev, "%.*s", (int)(close - open - 1), open + 1);
    char *dirty = strstr(rev, "-dirty");
    if (dirty)
        *dirty = '\0';
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "git -C %s rev-parse --git-dir >/dev/null 2>&1", VMSIM_SOURCE_DIR);
    if (system(cmd) == 0) { /* a git checkout: the revision must be one of its commits */
        assert_true(strlen(rev) >= 7);
        for (const char *c = rev; *c; c++)
            assert_true(strchr("0123456789abcdef", *c) != NULL);
        snprintf(cmd, sizeof cmd, "git -C %s merge-base --is-ancestor %s HEAD", VMSIM_SOURCE_DIR,
                 rev);
        if (system(cmd) != 0)
            fail_msg("--version names %s, which is not a commit of %s's history", rev,
                     VMSIM_SOURCE_DIR);
    } else {
        assert_string_equal(rev, "unknown");
    }
    cmd_result_free(&r);
}

static void test_help_everywhere(void **state)
{
    (void)state;
    char names[MAXN][64];
    const size_t n = commands(names);
    for (size_t i = 0; i < n; i++) {
        struct cmd_result a = run_vmsim("%s --help", names[i]);
        struct cmd_result b = run_vmsim("%s -h", names[i]);
        struct cmd_result c = run_vmsim("help %s", names[i]);
        if (a.status || b.status || c.status)
            fail_msg("%s: --help %d, -h %d, help CMD %d", names[i], a.status, b.status, c.status);
        char usage[96];
        snprintf(usage, sizeof usage, "vmsim %s", names[i]);
        expect_in(names[i], a.out, usage);
        assert_string_equal(a.out, b.out);
        assert_string_equal(a.out, c.out);
        cmd_result_free(&a);
        cmd_result_free(&b);
        cmd_result_free(&c);
    }
    /* -h after a command's own argument is the command's, not vmsim's */
    if (on_path("valgrind")) {
        struct cmd_result r = run_vmsim("record --quiet -o - -- /bin/ls -h /nonexistent >/dev/null");
        assert_int_not_equal(r.status, 0); /* ls's status: ls took -h */
        assert_false(strstr(r.out, "usage: vmsim record"));
        cmd_result_free(&r);
    }
}

static void test_unknown_command(void **state)
{
    (void)state;
    static const struct {
        const char *typed, *suggest;
    } cases[] = {{"rnu", "run"}, {"conver", "convert"}, {"sweeep", "sweep"},
                 {"plto", "plot"}, {"presets2", "presets"}, {"rec", "record"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cmd_result r = run_vmsim("%s", cases[i].typed);
        assert_int_equal(r.status, 2);
        char want[128];
        snprintf(want, sizeof want, "unknown command \"%s\"; did you mean \"%s\"?", cases[i].typed,
                 cases[i].suggest);
        expect_in(cases[i].typed, r.err, want);
        cmd_result_free(&r);
    }
    struct cmd_result r = run_vmsim("xyzzyq");
    assert_int_equal(r.status, 2);
    expect_in("xyzzyq", r.err, "unknown command \"xyzzyq\" (vmsim --help");
    assert_null(strstr(r.err, "did you mean"));
    cmd_result_free(&r);
    r = run_vmsim("help nosuch");
    assert_int_equal(r.status, 2);
    expect_in("help nosuch", r.err, "unknown command \"nosuch\"");
    cmd_result_free(&r);
}

/* Every --option `vmsim presets` mentions is one of vmsim's (bigws used
 * to say --memory, where the option is --mem). */
static void test_presets_name_real_options(void **state)
{
    (void)state;
    char names[MAXN][64];
    const size_t n = options(names);
    struct cmd_result r = run_vmsim("presets");
    assert_int_equal(r.status, 0);
    for (const char *p = r.out; (p = strstr(p, "--")) != NULL;) {
        p += 2;
        size_t len = 0;
        while (isalnum((unsigned char)p[len]) || p[len] == '-')
            len++;
        /* valgrind's own, in the lackey format's line */
        bool known = !strncmp(p, "tool=lackey", 11) || !strncmp(p, "trace-mem=", 10);
        for (size_t i = 0; i < n && !known; i++)
            known = strlen(names[i]) == len && !strncmp(names[i], p, len);
        if (!known)
            fail_msg("vmsim presets mentions --%.*s, which no command takes", (int)len, p);
    }
    expect_in("presets", r.out, "a working set for --mem below it");
    cmd_result_free(&r);
}

static void test_man_page(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/vmsim.1", VMSIM_BUILD_DIR);
    char *man = read_file(path, NULL);
    if (!man)
        fail_msg("no man page at %s (the vmsim_man target makes it)", path);
    expect_in("vmsim.1", man, ".TH VMSIM 1");
    char names[MAXN][64], want[96];
    size_t n = options(names);
    for (size_t i = 0; i < n; i++) {
        /* roff: a hyphen written \- prints as an ASCII minus */
        snprintf(want, sizeof want, "\\-\\-");
        for (const char *c = names[i]; *c; c++) {
            const size_t l = strlen(want);
            if (*c == '-')
                snprintf(want + l, sizeof want - l, "\\-");
            else
                snprintf(want + l, sizeof want - l, "%c", *c);
        }
        if (!strstr(man, want))
            fail_msg("the man page lacks --%s (%s)", names[i], want);
    }
    n = commands(names);
    for (size_t i = 0; i < n; i++) {
        snprintf(want, sizeof want, ".SS vmsim %s\n", names[i]);
        expect_in("vmsim.1", man, want);
    }
    free(man);
    /* man -l formats it */
    if (on_path("man")) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "MANWIDTH=100 MANPAGER=cat man -l %s 2>&1 | grep -c -- --interval-out",
                 path);
        FILE *p = popen(cmd, "r");
        int count = 0;
        assert_int_equal(fscanf(p, "%d", &count), 1);
        pclose(p);
        assert_true(count >= 1);
    }
}

/* Complete `vmsim <words>` with the completion script; the candidates. */
static char *complete(const char *words)
{
    char script[2048];
    snprintf(script, sizeof script,
             "bash -c 'source %s/contrib/bash-completion/vmsim; COMP_WORDS=(%s %s); "
             "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _vmsim; printf \"%%s\\n\" \"${COMPREPLY[@]}\"' "
             "2>&1",
             VMSIM_SOURCE_DIR, VMSIM_BIN, words);
    FILE *p = popen(script, "r");
    assert_non_null(p);
    char *out = calloc(1, 1 << 16);
    size_t len = fread(out, 1, (1 << 16) - 1, p);
    out[len] = '\0';
    pclose(p);
    return out;
}

static void expect_line(const char *what, const char *text, const char *line)
{
    char want[128];
    snprintf(want, sizeof want, "\n%s\n", line);
    char *framed = malloc(strlen(text) + 3);
    sprintf(framed, "\n%s", text);
    if (!strstr(framed, want))
        fail_msg("%s: \"%s\" not among the candidates:\n%s", what, line, text);
    free(framed);
}

static void test_bash_completion(void **state)
{
    (void)state;
    if (!on_path("bash"))
        skip();
    char names[MAXN][64];
    size_t n = commands(names);
    char *c = complete("\"\"");
    for (size_t i = 0; i < n; i++)
        expect_line("vmsim <TAB>", c, names[i]);
    free(c);
    c = complete("help \"\"");
    for (size_t i = 0; i < n; i++)
        expect_line("vmsim help <TAB>", c, names[i]);
    free(c);
    /* options of run, from its table: the machine options and its own */
    c = complete("run --");
    static const char *const run_opts[] = {"--tlb", "--mem", "--skip", "--max", "--interval",
                                           "--interval-out", "--workload", "--json"};
    for (size_t i = 0; i < sizeof run_opts / sizeof run_opts[0]; i++)
        expect_line("vmsim run --<TAB>", c, run_opts[i]);
    free(c);
    c = complete("run --machine \"\"");
    expect_line("--machine", c, "skylake");
    expect_line("--machine", c, "zen4");
    free(c);
    c = complete("sweep --workload b");
    expect_line("--workload", c, "bigws");
    free(c);
    c = complete("convert --to \"\"");
    expect_line("--to", c, "bin");
    expect_line("--to", c, "text");
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_help_everywhere),
        cmocka_unit_test(test_unknown_command),
        cmocka_unit_test(test_presets_name_real_options),
        cmocka_unit_test(test_man_page),
        cmocka_unit_test(test_bash_completion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
