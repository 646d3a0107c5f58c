/* Figures for papers (issue 18, item 10): vmsim plot's --xlabel, --ylabel,
 * --font, PDF output, log axes chosen from the values or forced, --script,
 * and the default series when x is a derived column. Checked on the text
 * of the gnuplot script (--script), whose lines are gnuplot's documented
 * commands, on hand-written sweep CSVs whose value ranges are chosen to sit
 * on either side of each rule (docs/cli.md, "vmsim plot"):
 *   log x: values spanning 100x or more (base 10), or powers of two
 *          spanning 16x or more (base 2); log y: spanning 100x or more. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* A sweep CSV: axes a and b between status and source, then the columns
 * derived from them. rows: "a,b,derived,y" lines. */
static char *sweep_csv(const char *rows)
{
    char text[4096] = "point,status,a,b,source,derived,y\n";
    int point = 0;
    for (const char *p = rows; *p;) {
        const char *nl = strchr(p, '\n');
        const size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char line[256], a[64], b[64], d[64], y[64];
        snprintf(line, sizeof line, "%.*s", (int)n, p);
        assert_int_equal(sscanf(line, "%63[^,],%63[^,],%63[^,],%63s", a, b, d, y), 4);
        const size_t l = strlen(text);
        snprintf(text + l, sizeof text - l, "%d,ok,%s,%s,workload x,%s,%s\n", point++, a, b, d, y);
        p += n + (nl ? 1 : 0);
    }
    return write_temp(text, strlen(text), ".csv");
}

/* Run plot with --script into a temporary file; the script's text (or
 * NULL, with *status set, when plot failed). */
static char *plot_script(const char *csv, const char *out_suffix, const char *opts, int *status,
                         char **err)
{
    char *script = temp_path(".gp"), *fig = temp_path(out_suffix);
    struct cmd_result r = run_vmsim("plot %s --script %s -o %s %s", opts, script, fig, csv);
    *status = r.status;
    char *text = r.status == 0 ? read_file(script, NULL) : NULL;
    if (err)
        *err = strdup(r.err);
    if (r.status == 0) {
        size_t len = 0;
        char *img = read_file(fig, &len);
        assert_non_null(img);
        assert_true(len > 0);
        free(img);
    }
    cmd_result_free(&r);
    unlink(script);
    unlink(fig);
    free(script);
    free(fig);
    return text;
}

static char *plot_ok(const char *csv, const char *suffix, const char *opts)
{
    int status;
    char *err;
    char *text = plot_script(csv, suffix, opts, &status, &err);
    if (status != 0)
        fail_msg("plot %s: status %d\n%s", opts, status, err);
    free(err);
    return text;
}

static void expect_not_in(const char *what, const char *text, const char *needle)
{
    if (strstr(text, needle))
        fail_msg("%s: unexpected \"%s\" in:\n%s", what, needle, text);
}

static void test_pdf_labels_font(void **state)
{
    (void)state;
    if (!on_path("gnuplot"))
        skip();
    char *csv = sweep_csv("1,p,1,5\n2,p,2,6\n3,p,3,7");
    char *s = plot_ok(csv, ".pdf",
                      "-x a -y y --xlabel 'TLB entries' --ylabel 'misses per 1000' "
                      "--font 'Times,12'");
    /* pdfcairo, --size's default 800x500 in 1/100 inch */
    expect_in("pdf", s, "set terminal pdfcairo size 8in,5in noenhanced font \"Times,12\"");
    expect_in("pdf", s, "set xlabel \"TLB entries\"");
    expect_in("pdf", s, "set ylabel \"misses per 1000\"");
    free(s);
    s = plot_ok(csv, ".png", "-x a -y y");
    expect_in("png", s, "set terminal pngcairo size 800,500 noenhanced font \"sans,10\"");
    free(s);
    s = plot_ok(csv, ".svg", "-x a -y y --font ,14");
    expect_in("svg", s, "font \",14\"");
    free(s);
    unlink(csv);
    free(csv);
}

static void test_log_axes(void **state)
{
    (void)state;
    if (!on_path("gnuplot"))
        skip();
    static const struct {
        const char *rows, *opts, *want, *not;
    } cases[] = {
        /* x 1..1000 (3 decades, not all powers of two: 10): base 10 */
        {"1,p,0,1\n10,p,0,2\n100,p,0,3\n1000,p,0,4", "", "set logscale x 10", "set logscale y"},
        /* x 16..1024, powers of two, 64x: base 2 */
        {"16,p,0,1\n64,p,0,2\n256,p,0,3\n1024,p,0,4", "", "set logscale x 2\n", "logscale y"},
        /* x 10..990: 99x, not powers of two: linear */
        {"10,p,0,1\n500,p,0,2\n990,p,0,3", "", "set yrange [0:*]", "set logscale"},
        /* y 1..100: two decades: log y */
        {"1,p,0,1\n2,p,0,10\n3,p,0,100", "", "set logscale y 10", "set logscale x"},
        /* y 1..99: less: linear from 0 */
        {"1,p,0,1\n2,p,0,10\n3,p,0,99", "", "set yrange [0:*]", "set logscale"},
        /* forced: --logx on 3..7 (base 10), --logy on 5..7 */
        {"3,p,0,5\n5,p,0,6\n7,p,0,7", "--logx --logy", "set logscale x 10\nset logscale y 10",
         "yrange"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *csv = sweep_csv(cases[i].rows);
        char opts[128];
        snprintf(opts, sizeof opts, "-x a -y y %s", cases[i].opts);
        char *s = plot_ok(csv, ".png", opts);
        expect_in(cases[i].rows, s, cases[i].want);
        expect_not_in(cases[i].rows, s, cases[i].not);
        free(s);
        unlink(csv);
        free(csv);
    }
    /* a log axis of a value 0 cannot be: a usage error naming it */
    char *csv = sweep_csv("0,p,0,5\n5,p,0,6");
    int status;
    char *err;
    char *s = plot_script(csv, ".png", "-x a -y y --logx", &status, &err);
    assert_null(s);
    assert_int_equal(status, 2);
    expect_in("--logx with 0", err, "--logx: expected only positive values of a, found 0");
    free(err);
    unlink(csv);
    free(csv);
}

/* x = a derived column: the axis it is a function of is not a series. */
static void test_derived_x_series(void **state)
{
    (void)state;
    if (!on_path("gnuplot"))
        skip();
    /* axis a (a spec) determines "derived"; axis b varies independently:
     * one line per b (2), not one per (a, b) (6) */
    char *csv = sweep_csv("l1=16x4,small,64,1\nl1=32x4,small,128,2\nl1=64x4,small,256,3\n"
                          "l1=16x4,big,64,4\nl1=32x4,big,128,5\nl1=64x4,big,256,6");
    char *s = plot_ok(csv, ".png", "-x derived -y y");
    expect_in("derived x", s, "$d0 << EOD\n64 1\n128 2\n256 3\nEOD");
    expect_in("derived x", s, "$d1 << EOD\n64 4\n128 5\n256 6\nEOD");
    expect_not_in("derived x", s, "$d2 ");
    expect_in("derived x", s, "title \"b=small\"");
    free(s);
    /* x derived from neither axis (y is no function of a or of b): every
     * varying axis stays a series, a line per (a, b) */
    s = plot_ok(csv, ".png", "-x y -y derived");
    expect_in("underived x", s, "$d5 << EOD");
    free(s);
    unlink(csv);
    free(csv);
}

static void test_script_unwritable(void **state)
{
    (void)state;
    char *csv = sweep_csv("1,p,1,5\n2,p,2,6");
    struct cmd_result r = run_vmsim("plot -x a -y y --script /nonexistent/x.gp -o /tmp/x.png %s",
                                    csv);
    assert_int_equal(r.status, 1);
    expect_in("--script", r.err, "--script: cannot write /nonexistent/x.gp");
    cmd_result_free(&r);
    r = run_vmsim("plot -x a -y y --font Times,0 -o /tmp/x.png %s", csv);
    assert_int_equal(r.status, 2);
    expect_in("--font", r.err, "--font: expected NAME, NAME,SIZE or ,SIZE");
    cmd_result_free(&r);
    unlink(csv);
    free(csv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pdf_labels_font),
        cmocka_unit_test(test_log_axes),
        cmocka_unit_test(test_derived_x_series),
        cmocka_unit_test(test_script_unwritable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
