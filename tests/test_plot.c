/* vmsim plot (docs/cli.md): each kind of figure rendered to PNG from real
 * sweep and compare output, checked as an image (signature, IHDR size,
 * file size); SVG; `vmsim sweep --plot`; the input parser on hand-written
 * CSV and JSON; clear errors for bad input and for a missing gnuplot.
 * gnuplot is a dependency (`make test` installs it): without it the test
 * fails and says so. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The parser is in the command line, not the library: compile it in. */
#include "cli/plot_data.c"
#include "cli/sweep_spec.c"

static char *dir_csv_tlb, *dir_csv_walks, *dir_compare, *dir_sweep_json;

static bool have_gnuplot(void)
{
    const char *path = getenv("PATH");
    char buf[4096];
    for (const char *p = path ? path : ""; *p;) {
        const char *c = strchr(p, ':');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        snprintf(buf, sizeof buf, "%.*s/gnuplot", (int)n, p);
        if (access(buf, X_OK) == 0) return true;
        p += n + (c ? 1 : 0);
    }
    return false;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A PNG of the given size, with a plot's worth of content. */
static void assert_png(const char *path, uint32_t w, uint32_t h)
{
    size_t len;
    unsigned char *data = (unsigned char *)read_file(path, &len);
    if (!data) fail_msg("%s was not written", path);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    assert_true(len > 33);
    assert_memory_equal(data, sig, 8);
    assert_int_equal(be32(data + 8), 13); /* IHDR comes first, 13 bytes */
    assert_memory_equal(data + 12, "IHDR", 4);
    assert_int_equal(be32(data + 16), w);
    assert_int_equal(be32(data + 20), h);
    /* a blank 800x500 image compresses to ~2 KB; axes, text and lines more */
    if (len < 8000 || len > 2000000)
        fail_msg("%s: %zu bytes, expected 8 KB to 2 MB for a drawn figure", path, len);
    assert_memory_equal(data + len - 8, "IEND", 4); /* the last chunk, complete */
    free(data);
}

static int setup(void **state)
{
    (void)state;
    if (!have_gnuplot()) {
        fprintf(stderr, "test_plot: gnuplot is not installed: `make test` installs it (Makefile "
                        "PKGS), or run `apt-get install gnuplot-nox`\n");
        return -1; /* fails every test of the group, with this message */
    }
    /* data: a TLB-size sweep, an organizations sweep, compare --vary */
    dir_csv_tlb = temp_path(".csv");
    struct cmd_result r = run_vmsim("sweep --workload 'random:n=20000,size={sz}' "
                                    "--tlb 'l1d=16x4@4k/d,stlb={entries}x8@4k/u:8' "
                                    "--axis sz=8m,64m --axis entries=64..1024*2 -o %s --quiet",
                                    dir_csv_tlb);
    if (r.status) fprintf(stderr, "sweep: %s\n", r.err);
    int bad = r.status;
    cmd_result_free(&r);
    dir_csv_walks = temp_path(".csv");
    dir_sweep_json = temp_path(".json");
    r = run_vmsim("sweep --workload sparse:n=20000 --axis pt=radix,hashed,cuckoo "
                  "--axis walker=hw,sw -o %s --json %s --quiet",
                  dir_csv_walks, dir_sweep_json);
    if (r.status) fprintf(stderr, "sweep: %s\n", r.err);
    bad |= r.status;
    cmd_result_free(&r);
    dir_compare = temp_path(".json");
    r = run_vmsim("compare --pt radix --pt hashed --workload sparse:n=20000 "
                  "--vary regions=1,4,16,64,256,1024 --json %s",
                  dir_compare);
    if (r.status) fprintf(stderr, "compare: %s\n", r.err);
    bad |= r.status;
    cmd_result_free(&r);
    return bad ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    char *files[] = {dir_csv_tlb, dir_csv_walks, dir_compare, dir_sweep_json};
    for (size_t i = 0; i < 4; i++)
        if (files[i]) {
            unlink(files[i]);
            free(files[i]);
        }
    return 0;
}

static void render(const char *args, const char *input, const char *ext, char **out)
{
    *out = temp_path(ext);
    struct cmd_result r = run_vmsim("plot %s -o %s %s", args, *out, input);
    if (r.status != 0) fail_msg("vmsim plot %s %s: status %d: %s", args, input, r.status, r.err);
    cmd_result_free(&r);
}

static void test_tlb_png(void **state)
{
    (void)state;
    char *png;
    render("", dir_csv_tlb, ".png", &png); /* kind chosen: the TLB-size axis */
    assert_png(png, 800, 500);
    unlink(png);
    free(png);
    render("--kind tlb -y cycles_per_access --size 640x400", dir_csv_tlb, ".png", &png);
    assert_png(png, 640, 400);
    unlink(png);
    free(png);
}

static void test_memory_png(void **state)
{
    (void)state;
    char *png;
    render("--kind memory", dir_compare, ".png", &png);
    assert_png(png, 800, 500);
    unlink(png);
    free(png);
    render("", dir_compare, ".png", &png); /* a numeric axis, two organizations */
    assert_png(png, 800, 500);
    unlink(png);
    free(png);
}

static void test_walks_png(void **state)
{
    (void)state;
    char *png;
    render("", dir_csv_walks, ".png", &png);
    assert_png(png, 800, 500);
    unlink(png);
    free(png);
    render("--kind walks", dir_sweep_json, ".png", &png);
    assert_png(png, 800, 500);
    unlink(png);
    free(png);
    render("--kind walks", dir_compare, ".png", &png);
    assert_png(png, 800, 500);
    unlink(png);
    free(png);
}

static void test_svg(void **state)
{
    (void)state;
    char *svg;
    render("--kind memory --title 'radix \"vs\" hashed'", dir_compare, ".svg", &svg);
    size_t len;
    char *text = read_file(svg, &len);
    assert_non_null(text);
    assert_true(!strncmp(text, "<?xml", 5) || !strncmp(text, "<svg", 4));
    assert_non_null(strstr(text, "</svg>"));
    assert_non_null(strstr(text, "break-even")); /* radix and hashed cross */
    assert_true(len > 5000);
    free(text);
    unlink(svg);
    free(svg);
}

static void test_sweep_plot(void **state)
{
    (void)state;
    char *png = temp_path(".png"), *csv = temp_path(".csv");
    struct cmd_result r = run_vmsim("sweep --workload sparse:n=5000 --axis pt=radix,hashed "
                                    "--axis workload.regions=1,16,256 -o %s --plot %s --quiet",
                                    csv, png);
    if (r.status) fail_msg("sweep --plot: %d: %s", r.status, r.err);
    assert_png(png, 800, 500);
    cmd_result_free(&r);
    unlink(png);
    unlink(csv);
    free(png);
    free(csv);
}

static void test_errors(void **state)
{
    (void)state;
    char *png = temp_path(".png");
    static const char *const bad_csv = "point,status,pt\n0,ok\n";
    char *bad = write_temp(bad_csv, strlen(bad_csv), ".csv");
    const struct {
        const char *env, *args;
        int status;
        const char *msg;
    } cases[] = {
        {"", "/nonexistent.csv", 1, "cannot read /nonexistent.csv"},
        {"", bad, 1, "CSV line 2: expected 3 fields (as the header), found 2"},
        {"", "-y nosuch %s", 2, "-y: expected a column of the input"},
        {"", "--kind pie %s", 2, "--kind: expected tlb, memory or walks"},
        {"VMSIM_GNUPLOT=/nonexistent/gnuplot ", "%s", 1, "install it"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[1024];
        snprintf(args, sizeof args, cases[i].args, dir_compare);
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "%s %s plot -o %s %s", cases[i].env, VMSIM_BIN, png, args);
        char *err = temp_path(".err");
        char full[4096];
        snprintf(full, sizeof full, "%s 2>%s", cmd, err);
        int st = system(full);
        char *text = read_file(err, NULL);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != cases[i].status || !strstr(text, cases[i].msg))
            fail_msg("%s: status %d, stderr \"%s\"; expected %d and \"%s\"", cmd,
                     WIFEXITED(st) ? WEXITSTATUS(st) : -1, text, cases[i].status, cases[i].msg);
        free(text);
        unlink(err);
        free(err);
        assert_int_equal(access(png, F_OK), -1); /* nothing half-drawn left */
    }
    struct cmd_result r = run_vmsim("plot -o fig.eps %s", dir_compare);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "expected a file name ending in .png, .svg or .pdf"));
    cmd_result_free(&r);
    unlink(bad);
    free(bad);
    free(png);
}

/* The parser on hand-written input. */
static void test_parse(void **state)
{
    (void)state;
    struct plot_table *t;
    char err[256];
    const char *csv = "point,status,pt,workload.n,source,config.pt,config.walker,refs_per_walk,"
                      "error\r\n"
                      "0,ok,radix,10,\"workload seq:n=10,x=\"\"q\"\"\",radix,hw,1.5,\r\n"
                      "\n"
                      "1,failed,\"multi\nline\",20,,,,,\"--pt: bad, really\"\n";
    assert_int_equal(plot_table_parse(csv, strlen(csv), &t, err, sizeof err), 0);
    assert_int_equal(t->nrows, 2);
    assert_int_equal(t->naxes, 2); /* between status and source */
    assert_string_equal(t->cols[t->axes[0]], "pt");
    assert_string_equal(t->cols[t->axes[1]], "workload.n");
    assert_string_equal(plot_cell(t, 0, 4), "workload seq:n=10,x=\"q\"");
    assert_string_equal(plot_cell(t, 1, 2), "multi\nline");
    assert_string_equal(plot_cell(t, 1, 8), "--pt: bad, really");
    long org = plot_column(t, "organization");
    assert_true(org >= 0);
    assert_string_equal(plot_cell(t, 0, (size_t)org), "radix");
    plot_table_free(t);

    const char *cmp = "{\"runs\": [{\"vary\": \"tenants=4\", \"pt\": \"radix\", \"walker\": "
                      "\"sw\", \"refs\": 7, \"refs_per_walk\": 1.75}]}";
    assert_int_equal(plot_table_parse(cmp, strlen(cmp), &t, err, sizeof err), 0);
    assert_string_equal(plot_cell(t, 0, (size_t)plot_column(t, "tenants")), "4");
    assert_string_equal(plot_cell(t, 0, (size_t)plot_column(t, "walk_refs")), "7");
    assert_string_equal(plot_cell(t, 0, (size_t)plot_column(t, "organization")), "radix@sw");
    assert_string_equal(plot_cell(t, 0, (size_t)plot_column(t, "status")), "ok");
    assert_int_equal(t->naxes, 3);
    plot_table_free(t);

    double v;
    assert_true(plot_number("2m", &v) && v == 2097152);
    assert_true(plot_number("0.25", &v) && v == 0.25);
    assert_false(plot_number("radix", &v));
    assert_false(plot_number("", &v));

    static const char *const bad[][2] = {
        {"", "found an empty input"},
        {"a,b\n", "found the header alone"},
        {"a,a\n1,2\n", "found \"a\" twice"},
        {"a,b\n1,\"2\n", "expected a closing '\"'"},
        {"a,b\n1,\"2\"x\n", "after a quoted field"},
        {"a,b\n1,2\"3\n", "only around a whole field"},
        {"{\"rows\": 3}", "expected an object with \"rows\""},
        {"{\"rows\": []}", "expected at least one row"},
        {"{\"runs\": [{\"vary\": \"x\"}]}", "expected \"vary\": \"KEY=VALUE\""},
        {"{\"rows\": [1", "expected valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (plot_table_parse(bad[i][0], strlen(bad[i][0]), &t, err, sizeof err) == 0)
            fail_msg("\"%s\" parsed", bad[i][0]);
        assert_null(t);
        if (!strstr(err, bad[i][1]))
            fail_msg("\"%s\": \"%s\" lacks \"%s\"", bad[i][0], err, bad[i][1]);
    }
}

int main(void)
{
    const struct CMUnitTest parse[] = {cmocka_unit_test(test_parse)};
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tlb_png),    cmocka_unit_test(test_memory_png),
        cmocka_unit_test(test_walks_png),  cmocka_unit_test(test_svg),
        cmocka_unit_test(test_sweep_plot), cmocka_unit_test(test_errors),
    };
    int failed = cmocka_run_group_tests_name("plot input", parse, NULL, NULL);
    return failed + cmocka_run_group_tests_name("plot", tests, setup, teardown);
}
