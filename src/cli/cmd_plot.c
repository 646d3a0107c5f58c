/* vmsim plot: draw a sweep's or compare's results with gnuplot (docs/cli.md,
 * "vmsim plot"). The table (plot_data.c) gives rows of named columns; a
 * figure is an x column, a y column and series (one line or one bar colour
 * per distinct value of the other varying columns):
 *
 *   tlb     lines: TLB miss rate (or -y cycles_per_access) against a numeric
 *           axis, typically a TLB size
 *   memory  lines: page-table memory against a workload parameter or memory
 *           size, one line per organization, the break-even of the first
 *           two marked
 *   walks   clustered bars: references per walk for each organization
 *
 * The script goes to gnuplot's standard input with the data inline
 * ($data << EOD), so no temporary files; the terminal follows the output's
 * extension (.png: pngcairo, .svg: svg, .pdf: pdfcairo). --script keeps a
 * copy of that script, which redraws the figure alone (`gnuplot FILE`). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/plot_data.h"

enum {
    OPT_KIND = OPT_CLI_FIRST_FREE, OPT_SERIES, OPT_TITLE, OPT_SIZE, OPT_HELP, OPT_XLABEL,
    OPT_YLABEL, OPT_FONT, OPT_SCRIPT, OPT_LOGX, OPT_LOGY
};

/* The output's kind, by its extension. */
enum plot_term { TERM_PNG, TERM_SVG, TERM_PDF };

#define MAX_INPUT (256u << 20)

static void help(FILE *out)
{
    fprintf(out, "usage: vmsim plot [--kind tlb|memory|walks] [-x COLUMN] [-y COLUMN]\n"
                 "                  [--series COLUMN,...] [--title TEXT] [--size WxH]\n"
                 "                  [--xlabel TEXT] [--ylabel TEXT] [--font NAME,SIZE]\n"
                 "                  [--logx] [--logy] [--script FILE.gp]\n"
                 "                  -o FIG.png|FIG.svg|FIG.pdf INPUT\n\n"
                 "Draw the results of `vmsim sweep` (its CSV or --json) or `vmsim compare --json`\n"
                 "(INPUT; - = standard input) with gnuplot:\n"
                 "  tlb     TLB miss rate (-y cycles_per_access: cycles per access) against a\n"
                 "          numeric axis such as a TLB size; a line per other varying axis\n"
                 "  memory  page-table memory against a varied parameter (processes, regions,\n"
                 "          memory), a line per organization, with the break-even marked\n"
                 "  walks   bars: memory references per walk for each organization\n"
                 "Without --kind the axes decide: no numeric axis: walks; a numeric axis and\n"
                 "several organizations: memory, unless a TLB varies; otherwise tlb.\n"
                 "-x, -y and --series name columns (docs/cli.md lists them) to override the\n"
                 "kind's choice (an x that no axis is, such as config.tlb_entries, drops the\n"
                 "axes it is a function of from the series). Also `vmsim run --interval` files.\n"
                 "The output's extension picks PNG, SVG or PDF (gnuplot's pdfcairo); --size\n"
                 "defaults to 800x500 (pixels for PNG, points for SVG, 1/100 inch for PDF).\n"
                 "  --xlabel TEXT, --ylabel TEXT  axis labels (default: from the columns)\n"
                 "  --font NAME,SIZE  e.g. \"Times,12\" (default sans 10, 11 for SVG, 9 for PDF)\n"
                 "  --logx, --logy    log axes (default: when the values span 2 decades, or x\n"
                 "                    holds powers of two spanning 16x)\n"
                 "  --script FILE     also keep the gnuplot script (data inline): `gnuplot FILE`\n"
                 "                    redraws the figure\n");
}

/* ---- choosing what to draw ------------------------------------------- */

static bool row_ok(const struct plot_table *t, size_t r)
{
    long st = plot_column(t, "status");
    return st < 0 || !strcmp(plot_cell(t, r, (size_t)st), "ok");
}

/* Distinct non-empty values of column c among the ok rows (capped at 2
 * when only "varies?" matters: pass cap). */
static size_t distinct(const struct plot_table *t, size_t c, size_t cap)
{
    size_t n = 0;
    const char *seen[64];
    for (size_t r = 0; r < t->nrows && n < cap; r++) {
        if (!row_ok(t, r) || !*plot_cell(t, r, c)) continue;
        bool dup = false;
        for (size_t i = 0; i < n && i < 64 && !dup; i++)
            dup = !strcmp(seen[i], plot_cell(t, r, c));
        if (!dup) {
            if (n < 64) seen[n] = plot_cell(t, r, c);
            n++;
        }
    }
    return n;
}

static bool numeric(const struct plot_table *t, size_t c)
{
    double v;
    size_t n = 0;
    for (size_t r = 0; r < t->nrows; r++) {
        if (!row_ok(t, r) || !*plot_cell(t, r, c)) continue;
        if (!plot_number(plot_cell(t, r, c), &v)) return false;
        n++;
    }
    return n > 0;
}

static bool org_column(const char *name)
{
    return !strcmp(name, "pt") || !strcmp(name, "walker") || !strcmp(name, "organization") ||
           !strncmp(name, "config.", 7);
}

/* Does column c decide the TLB (config.tlb_entries is a function of it that
 * varies)? Then it is the TLB-size axis. */
static bool sets_tlb(const struct plot_table *t, size_t c)
{
    long e = plot_column(t, "config.tlb_entries");
    if (e < 0 || distinct(t, (size_t)e, 2) < 2) return false;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t q = r + 1; q < t->nrows; q++)
            if (row_ok(t, r) && row_ok(t, q) && !strcmp(plot_cell(t, r, c), plot_cell(t, q, c)) &&
                strcmp(plot_cell(t, r, (size_t)e), plot_cell(t, q, (size_t)e)))
                return false;
    return true;
}

static bool is_axis(const struct plot_table *t, size_t c)
{
    for (size_t i = 0; i < t->naxes; i++)
        if (t->axes[i] == c) return true;
    return false;
}

/* Is column x a function of column a over the ok rows (equal a, equal x)? */
static bool determines(const struct plot_table *t, size_t a, size_t x)
{
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t q = r + 1; q < t->nrows; q++)
            if (row_ok(t, r) && row_ok(t, q) && !strcmp(plot_cell(t, r, a), plot_cell(t, q, a)) &&
                strcmp(plot_cell(t, r, x), plot_cell(t, q, x)))
                return false;
    return true;
}

/* The first axis that is numeric and varies, not an organization, and
 * (with tlb) sets the TLB; -1. */
static long numeric_axis(const struct plot_table *t, bool tlb)
{
    for (size_t i = 0; i < t->naxes; i++) {
        const size_t c = t->axes[i];
        if (!org_column(t->cols[c]) && distinct(t, c, 2) >= 2 && numeric(t, c) &&
            (!tlb || sets_tlb(t, c)))
            return (long)c;
    }
    return -1;
}

static bool varies(const struct plot_table *t, const char *name)
{
    long c = plot_column(t, name);
    return c >= 0 && distinct(t, (size_t)c, 2) >= 2;
}

static const char *describe(const char *col)
{
    static const struct {
        const char *col, *text;
    } names[] = {
        {"tlb_miss_rate", "TLB miss rate (translations that missed every level)"},
        {"tlb_misses", "TLB misses (every level)"},
        {"cycles_per_access", "cycles per access"},
        {"page_table_bytes", "page-table memory (roots included)"},
        {"page_table_peak_bytes", "peak page-table memory (roots included)"},
        {"refs_per_walk", "memory references per walk"},
        {"cycles_per_walk", "cycles per walk (average walk latency)"},
        {"walk_refs", "page-walk memory references"},
        {"walks", "page walks"},
        {"faults", "page faults"},
        {"translation_share", "share of cycles spent translating"},
        {"config.tlb_entries", "TLB entries (all levels)"},
        {"workload.tenants", "tenants (processes)"},
        {"tenants", "tenants (processes)"},
        {"workload.regions", "regions (sparsity)"},
        {"regions", "regions (sparsity)"},
        {"organization", "page-table organization"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(col, names[i].col)) return names[i].text;
    return col;
}

/* Sizes: a *_bytes column, or values written with a unit (64m, 1g). */
static bool bytes_column(const struct plot_table *t, size_t c)
{
    const char *col = t->cols[c];
    const size_t n = strlen(col);
    if (n > 6 && !strcmp(col + n - 6, "_bytes")) return true;
    for (size_t r = 0; r < t->nrows; r++) {
        const char *v = plot_cell(t, r, c);
        char *end;
        double d;
        strtod(v, &end);
        if (*v && *end && plot_number(v, &d)) return true;
    }
    return false;
}

/* ---- the script -------------------------------------------------------- */

/* A gnuplot double-quoted string. */
static void gp_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if (*s == '\n')
            fputs("\\n", f);
        else if ((unsigned char)*s >= 0x20)
            fputc(*s, f);
    }
    fputc('"', f);
}

/* A label inside a data block: double-quoted, no quotes or newlines in it. */
static void gp_datum(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++)
        fputc(*s == '"' ? '\'' : (unsigned char)*s < 0x20 ? ' ' : *s, f);
    fputc('"', f);
}

struct point {
    double x, y;
    size_t series, row;
};

static int cmp_point(const void *a, const void *b)
{
    const struct point *p = a, *q = b;
    if (p->series != q->series) return p->series < q->series ? -1 : 1;
    return p->x < q->x ? -1 : p->x > q->x ? 1 : (p->row > q->row) - (p->row < q->row);
}

/* Label of row r's series: the series columns' values joined. */
static void series_label(const struct plot_table *t, size_t r, const long *cols, size_t n,
                         char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < len; i++) {
        const char *name = t->cols[cols[i]], *v = plot_cell(t, r, (size_t)cols[i]);
        int w = org_column(name)
                    ? snprintf(buf + used, len - used, "%s%s", i ? ", " : "", v)
                    : snprintf(buf + used, len - used, "%s%s=%s", i ? ", " : "", name, v);
        used += w > 0 ? (size_t)w : 0;
    }
}

struct figure {
    const char *kind;
    long x, y;
    long series[16];
    size_t nseries_cols;
    char **labels; /* distinct series labels */
    size_t nlabels;
    char xlabel[160];
};

static size_t label_index(struct figure *fig, const char *label)
{
    for (size_t i = 0; i < fig->nlabels; i++)
        if (!strcmp(fig->labels[i], label)) return i;
    char **l = realloc(fig->labels, (fig->nlabels + 1) * sizeof *l);
    if (!l) return (size_t)-1;
    fig->labels = l;
    if (!(l[fig->nlabels] = strdup(label))) return (size_t)-1;
    return fig->nlabels++;
}

static void preamble(FILE *f, const struct plot_options *o, enum plot_term term, const char *title,
                     const char *xlabel, const char *ylabel)
{
    const unsigned w = o->width ? o->width : 800, h = o->height ? o->height : 500;
    static const char *const fonts[] = {"sans,10", "sans,11", "sans,9"};
    const char *font = o->font ? o->font : fonts[term];
    if (term == TERM_SVG)
        fprintf(f, "set terminal svg size %u,%u noenhanced font ", w, h);
    else if (term == TERM_PDF) /* --size in hundredths of an inch: 8in x 5in by default */
        fprintf(f, "set terminal pdfcairo size %gin,%gin noenhanced font ", w / 100.0, h / 100.0);
    else
        fprintf(f, "set terminal pngcairo size %u,%u noenhanced font ", w, h);
    gp_string(f, font);
    fputs(term == TERM_SVG ? " background \"white\"\n" : "\n", f);
    if (o->xlabel)
        xlabel = o->xlabel;
    if (o->ylabel)
        ylabel = o->ylabel;
    fputs("set encoding utf8\nset output ", f);
    gp_string(f, o->output);
    fputs("\nset title ", f);
    gp_string(f, title);
    fputs("\nset xlabel ", f);
    gp_string(f, xlabel);
    fputs("\nset ylabel ", f);
    gp_string(f, ylabel);
    fputs("\nset grid\nset key outside right top vertical\nset datafile missing \"?\"\n", f);
}

/* One unnamed series needs no key. */
static void key_off_if_alone(FILE *f, const struct figure *fig)
{
    if (fig->nlabels == 1 && !fig->labels[0][0]) fputs("set key off\n", f);
}

/* Line figure (tlb, memory). */
static int script_lines(FILE *f, const struct plot_table *t, struct figure *fig,
                        const struct plot_options *o, enum plot_term term, const char *title)
{
    struct point *pts = calloc(t->nrows ? t->nrows : 1, sizeof *pts);
    if (!pts) return cli_fail("plot: out of memory");
    size_t n = 0;
    char label[512];
    for (size_t r = 0; r < t->nrows; r++) {
        double x, y;
        if (!row_ok(t, r) || !plot_number(plot_cell(t, r, (size_t)fig->x), &x) ||
            !plot_number(plot_cell(t, r, (size_t)fig->y), &y))
            continue;
        series_label(t, r, fig->series, fig->nseries_cols, label, sizeof label);
        size_t s = label_index(fig, label);
        if (s == (size_t)-1) {
            free(pts);
            return cli_fail("plot: out of memory");
        }
        pts[n++] = (struct point){x, y, s, r};
    }
    if (n == 0) {
        free(pts);
        return cli_usage("plot: expected rows with numbers in %s and %s, found none",
                         t->cols[fig->x], t->cols[fig->y]);
    }
    qsort(pts, n, sizeof *pts, cmp_point);
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        xmin = fmin(xmin, pts[i].x), xmax = fmax(xmax, pts[i].x);
        ymin = fmin(ymin, pts[i].y), ymax = fmax(ymax, pts[i].y);
    }
    /* Log axes: values that span two decades or more (base 10), or an x of
     * powers of two spanning a factor of 16 (base 2: TLB sizes); --logx,
     * --logy force one where every value is positive. */
    bool pow2 = true;
    for (size_t i = 0; i < n && pow2; i++)
        pow2 = pts[i].x >= 1 && pts[i].x == ldexp(1.0, ilogb(pts[i].x));
    const int logx = xmin <= 0                                  ? 0
                     : pow2 && (xmax / xmin >= 16 || o->logx)   ? 2
                     : xmax / xmin >= 100 || o->logx            ? 10
                                                                : 0;
    const bool logy = ymin > 0 && (ymax / ymin >= 100 || o->logy);
    if ((o->logx && !logx) || (o->logy && !logy)) {
        free(pts);
        return cli_usage("plot: --log%s: expected only positive values of %s, found %g",
                         o->logx && !logx ? "x" : "y",
                         t->cols[o->logx && !logx ? fig->x : fig->y],
                         o->logx && !logx ? xmin : ymin);
    }
    preamble(f, o, term, title, fig->xlabel, describe(t->cols[fig->y]));
    key_off_if_alone(f, fig);
    if (logx) fprintf(f, "set logscale x %d\n", logx);
    if (logy)
        fputs("set logscale y 10\n", f);
    else if (ymin >= 0)
        fputs("set yrange [0:*]\n", f);
    if (bytes_column(t, (size_t)fig->x)) fputs("set format x \"%.0b %BB\"\n", f);
    if (bytes_column(t, (size_t)fig->y)) fputs("set format y \"%.0b %BB\"\n", f);
    /* the break-even of the first two series (memory) */
    if (!strcmp(fig->kind, "memory") && fig->nlabels >= 2) {
        double px = 0, pd = 0;
        bool have = false;
        for (size_t i = 0; i < n; i++) {
            if (pts[i].series != 0) continue;
            for (size_t k = 0; k < n; k++) {
                if (pts[k].series != 1 || pts[k].x != pts[i].x) continue;
                const double d = pts[i].y - pts[k].y;
                if (have && ((pd < 0 && d >= 0) || (pd > 0 && d <= 0))) {
                    const double mid = logx ? sqrt(px * pts[i].x) : (px + pts[i].x) / 2;
                    char text[1200];
                    snprintf(text, sizeof text, "break-even of %s and %s: %s between %g and %g",
                             fig->labels[0], fig->labels[1], t->cols[fig->x], px, pts[i].x);
                    fprintf(f,
                            "set arrow from %.17g, graph 0 to %.17g, graph 1 nohead dt 2 "
                            "lc rgb \"gray40\"\nset label ",
                            mid, mid);
                    gp_string(f, text);
                    fputs(" at graph 0.02, graph 0.96 left\n", f);
                    have = false;
                    i = n; /* the first one only */
                    break;
                }
                px = pts[i].x, pd = d, have = true;
                break;
            }
        }
    }
    for (size_t s = 0; s < fig->nlabels; s++) {
        fprintf(f, "$d%zu << EOD\n", s);
        for (size_t i = 0; i < n; i++)
            if (pts[i].series == s) fprintf(f, "%.17g %.17g\n", pts[i].x, pts[i].y);
        fputs("EOD\n", f);
    }
    fputs("plot ", f);
    for (size_t s = 0; s < fig->nlabels; s++) {
        fprintf(f, "%s$d%zu using 1:2 with linespoints lw 2 pt 7 ps 0.8 title ", s ? ", " : "", s);
        gp_string(f, fig->labels[s][0] ? fig->labels[s] : describe(t->cols[fig->y]));
    }
    fputc('\n', f);
    free(pts);
    return 0;
}

/* Clustered bars (walks): categories = values of x, a bar per series. */
static int script_bars(FILE *f, const struct plot_table *t, struct figure *fig,
                       const struct plot_options *o, enum plot_term term, const char *title)
{
    char **cats = NULL;
    size_t ncats = 0;
    double *val = NULL;
    int rc = 0;
    char label[512];
    /* pass 1: categories and series, in order of first appearance */
    for (size_t r = 0; r < t->nrows; r++) {
        double y;
        if (!row_ok(t, r) || !plot_number(plot_cell(t, r, (size_t)fig->y), &y)) continue;
        const char *c = plot_cell(t, r, (size_t)fig->x);
        size_t i = 0;
        while (i < ncats && strcmp(cats[i], c))
            i++;
        if (i == ncats) {
            char **g = realloc(cats, (ncats + 1) * sizeof *g);
            if (!g) goto nomem;
            cats = g;
            cats[ncats++] = (char *)c;
        }
        series_label(t, r, fig->series, fig->nseries_cols, label, sizeof label);
        if (label_index(fig, label) == (size_t)-1) goto nomem;
    }
    if (ncats == 0) {
        rc = cli_usage("plot: expected rows with a number in %s, found none", t->cols[fig->y]);
        goto out;
    }
    val = malloc(ncats * fig->nlabels * sizeof *val);
    if (!val) goto nomem;
    for (size_t i = 0; i < ncats * fig->nlabels; i++)
        val[i] = NAN;
    for (size_t r = 0; r < t->nrows; r++) {
        double y;
        if (!row_ok(t, r) || !plot_number(plot_cell(t, r, (size_t)fig->y), &y)) continue;
        size_t i = 0;
        while (strcmp(cats[i], plot_cell(t, r, (size_t)fig->x)))
            i++;
        series_label(t, r, fig->series, fig->nseries_cols, label, sizeof label);
        val[i * fig->nlabels + label_index(fig, label)] = y;
    }
    preamble(f, o, term, title, fig->xlabel, describe(t->cols[fig->y]));
    key_off_if_alone(f, fig);
    fputs("set style data histograms\nset style histogram clustered gap 1\n"
          "set style fill solid 0.85 border -1\nset boxwidth 0.9\nset yrange [0:*]\n"
          "set grid noxtics\n",
          f);
    fprintf(f, "set xrange [-0.6:%zu.6]\n", ncats - 1);
    if (ncats > 6) fputs("set xtics rotate by -30\n", f);
    fputs("$d << EOD\n", f); /* no header line: it would be a category */
    for (size_t i = 0; i < ncats; i++) {
        gp_datum(f, cats[i]);
        for (size_t s = 0; s < fig->nlabels; s++)
            if (isnan(val[i * fig->nlabels + s]))
                fputs(" ?", f);
            else
                fprintf(f, " %.17g", val[i * fig->nlabels + s]);
        fputc('\n', f);
    }
    fputs("EOD\nplot ", f);
    for (size_t s = 0; s < fig->nlabels; s++) {
        fprintf(f, "%s$d using %zu%s title ", s ? ", " : "", s + 2, s ? "" : ":xtic(1)");
        gp_string(f, fig->labels[s][0] ? fig->labels[s] : describe(t->cols[fig->y]));
    }
    fputc('\n', f);
    goto out;
nomem:
    rc = cli_fail("plot: out of memory");
out:
    free(cats);
    free(val);
    return rc;
}

/* ---- gnuplot ------------------------------------------------------------ */

/* The gnuplot to run: $VMSIM_GNUPLOT, else `gnuplot` on PATH. */
static bool find_gnuplot(char *path, size_t len)
{
    const char *env = getenv("VMSIM_GNUPLOT");
    if (env && *env) {
        snprintf(path, len, "%s", env);
        return access(path, X_OK) == 0;
    }
    const char *p = getenv("PATH");
    if (!p || !*p) p = "/usr/local/bin:/usr/bin:/bin";
    while (*p) {
        const char *colon = strchr(p, ':');
        const size_t n = colon ? (size_t)(colon - p) : strlen(p);
        if (n && snprintf(path, len, "%.*s/gnuplot", (int)n, p) < (int)len &&
            access(path, X_OK) == 0)
            return true;
        p += n + (colon ? 1 : 0);
    }
    snprintf(path, len, "gnuplot");
    return false;
}

static int run_gnuplot(const char *script, size_t len, const char *output)
{
    char gp[4096];
    if (!find_gnuplot(gp, sizeof gp))
        return cli_fail("plot: expected gnuplot (%s), found none: install it, e.g. `apt-get "
                        "install gnuplot-nox` on Debian and Ubuntu, `dnf install gnuplot` on "
                        "Fedora (`make test` installs it)",
                        getenv("VMSIM_GNUPLOT") && *getenv("VMSIM_GNUPLOT") ? "$VMSIM_GNUPLOT"
                                                                            : "`gnuplot` on PATH");
    int fds[2];
    if (pipe(fds)) return cli_fail("plot: pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[0], 0);
        close(fds[0]);
        close(fds[1]);
        /* The figure goes to `set output`, never to our stdout: gnuplot
         * falls back to standard output when it cannot open the file,
         * which put a PNG on the terminal. Its messages stay on stderr. */
        const int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            close(null);
        }
        execl(gp, "gnuplot", (char *)NULL);
        dprintf(2, "vmsim: plot: cannot run %s: %s\n", gp, strerror(errno));
        _exit(127);
    }
    close(fds[0]);
    if (pid < 0) {
        close(fds[1]);
        return cli_fail("plot: fork: %s", strerror(errno));
    }
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    for (const char *p = script; len;) {
        ssize_t w = write(fds[1], p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break; /* gnuplot stopped reading: its status says why */
        p += w;
        len -= (size_t)w;
    }
    close(fds[1]);
    signal(SIGPIPE, old);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    struct stat sb;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || stat(output, &sb) != 0 ||
        sb.st_size == 0) {
        unlink(output);
        return cli_fail("plot: gnuplot (%s) failed to draw %s (%s %d); its messages are above", gp,
                        output, WIFEXITED(status) ? "exit status" : "signal",
                        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    }
    return 0;
}

int plot_render(const struct plot_table *t, const struct plot_options *o)
{
    const char *dot = o->output ? strrchr(o->output, '.') : NULL;
    if (!dot || (strcasecmp(dot, ".png") && strcasecmp(dot, ".svg") && strcasecmp(dot, ".pdf")))
        return cli_usage("plot: -o: expected a file name ending in .png, .svg or .pdf, found "
                         "\"%s\"",
                         o->output ? o->output : "none");
    const enum plot_term term = !strcasecmp(dot, ".svg")   ? TERM_SVG
                                : !strcasecmp(dot, ".pdf") ? TERM_PDF
                                                           : TERM_PNG;

    struct figure fig = {.kind = o->kind, .x = -1, .y = -1};
    /* the kind */
    if (!fig.kind || !strcmp(fig.kind, "auto")) {
        if (numeric_axis(t, false) < 0 && !o->x)
            fig.kind = "walks";
        else if (numeric_axis(t, true) < 0 && varies(t, "organization"))
            fig.kind = "memory";
        else
            fig.kind = "tlb";
    }
    long numax = -1;
    if (!strcmp(fig.kind, "tlb")) numax = numeric_axis(t, true);
    if (numax < 0) numax = numeric_axis(t, false);
    const char *ydef;
    if (!strcmp(fig.kind, "tlb"))
        ydef = "tlb_miss_rate";
    else if (!strcmp(fig.kind, "memory"))
        ydef = "page_table_bytes";
    else if (!strcmp(fig.kind, "walks"))
        ydef = "refs_per_walk";
    else
        return cli_usage("plot: --kind: expected tlb, memory or walks, found \"%s\"", fig.kind);
    const bool bars = !strcmp(fig.kind, "walks");
    if (bars && (o->logx || o->logy))
        return cli_usage("plot walks: --log%s: expected a line figure (--kind tlb or memory), "
                         "found bars, whose lengths a log axis would misstate",
                         o->logx ? "x" : "y");
    /* y */
    const char *y = o->y ? o->y : ydef;
    if ((fig.y = plot_column(t, y)) < 0)
        return cli_usage("plot: -y: expected a column of the input (e.g. tlb_miss_rate, "
                         "cycles_per_access, page_table_bytes, refs_per_walk), found \"%s\"",
                         y);
    /* x */
    if (o->x) {
        if ((fig.x = plot_column(t, o->x)) < 0)
            return cli_usage("plot: -x: expected a column of the input, found \"%s\"", o->x);
    } else if (bars) {
        fig.x = plot_column(t, "organization");
        if (fig.x < 0 && t->naxes) fig.x = (long)t->axes[0];
        if (fig.x < 0)
            return cli_usage("plot walks: expected an organization column (config.pt) or an "
                             "axis to put on x, found neither; give -x COLUMN");
    } else {
        fig.x = numax;
        if (fig.x < 0 && !strcmp(fig.kind, "tlb") && varies(t, "config.tlb_entries"))
            fig.x = plot_column(t, "config.tlb_entries");
        if (fig.x < 0)
            return cli_usage(
                "plot %s: expected a numeric axis that varies to put on x (%s), "
                "found none; give -x COLUMN",
                fig.kind, !strcmp(fig.kind, "tlb") ? "a TLB size" : "processes, regions or memory");
    }
    if (!bars && !numeric(t, (size_t)fig.x))
        return cli_usage("plot %s: -x %s: expected numbers, found other values; --kind walks "
                         "draws categories",
                         fig.kind, t->cols[fig.x]);
    if (!strcmp(fig.kind, "tlb") && plot_column(t, "config.tlb_entries") != fig.x &&
        sets_tlb(t, (size_t)fig.x))
        snprintf(fig.xlabel, sizeof fig.xlabel, "%.100s (sets the TLB size)", t->cols[fig.x]);
    else
        snprintf(fig.xlabel, sizeof fig.xlabel, "%.150s", describe(t->cols[fig.x]));
    /* series */
    if (o->series) {
        for (const char *p = o->series; *p;) {
            const char *comma = strchr(p, ',');
            const size_t n = comma ? (size_t)(comma - p) : strlen(p);
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(n < 255 ? n : 255), p);
            long c = plot_column(t, name);
            if (c < 0)
                return cli_usage("plot: --series: expected columns of the input, found \"%s\"",
                                 name);
            if (fig.nseries_cols == 16)
                return cli_usage("plot: --series: expected at most 16 columns, found more");
            fig.series[fig.nseries_cols++] = c;
            p += n + (comma ? 1 : 0);
        }
    } else {
        /* A line per value of the other varying axes. When x is derived
         * (a column no axis is, such as config.tlb_entries or a measured
         * figure), the axes it is a function of are what it shows: a line
         * per value of those would be a line per point. */
        const bool derived = !is_axis(t, (size_t)fig.x);
        long org = plot_column(t, "organization");
        if (org >= 0 && org != fig.x && distinct(t, (size_t)org, 2) >= 2 &&
            !(derived && determines(t, (size_t)org, (size_t)fig.x)))
            fig.series[fig.nseries_cols++] = org;
        for (size_t i = 0; i < t->naxes && fig.nseries_cols < 16; i++) {
            const long c = (long)t->axes[i];
            if (c != fig.x && !(org >= 0 && org_column(t->cols[c])) &&
                distinct(t, (size_t)c, 2) >= 2 && !(derived && determines(t, (size_t)c, (size_t)fig.x)))
                fig.series[fig.nseries_cols++] = c;
        }
    }
    /* title: the y against the x, and the input when all rows share it */
    char title[1024];
    long src = plot_column(t, "source");
    if (o->title)
        snprintf(title, sizeof title, "%s", o->title);
    else if (src >= 0 && distinct(t, (size_t)src, 2) == 1 && t->nrows)
        snprintf(title, sizeof title, "%s\n%.200s", describe(t->cols[fig.y]),
                 plot_cell(t, 0, (size_t)src));
    else
        snprintf(title, sizeof title, "%s", describe(t->cols[fig.y]));
    char *script = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&script, &len);
    if (!f) return cli_fail("plot: out of memory");
    int rc =
        bars ? script_bars(f, t, &fig, o, term, title) : script_lines(f, t, &fig, o, term, title);
    fclose(f);
    for (size_t i = 0; i < fig.nlabels; i++)
        free(fig.labels[i]);
    free(fig.labels);
    if (rc == 0 && getenv("VMSIM_PLOT_SCRIPT")) /* for debugging: show the script */
        fwrite(script, 1, len, stderr);
    if (rc == 0 && o->script) {
        FILE *sf = fopen(o->script, "w");
        bool ok = sf && fwrite(script, 1, len, sf) == len;
        if (sf)
            ok &= fclose(sf) == 0;
        if (!ok)
            rc = cli_fail("plot: --script: cannot write %s: %s", o->script, strerror(errno));
    }
    if (rc == 0) rc = run_gnuplot(script, len, o->output);
    free(script);
    return rc;
}

/* ---- the command -------------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) return NULL;
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            char *g = cap < MAX_INPUT ? realloc(buf, cap * 2) : NULL;
            if (!g) {
                free(buf);
                buf = NULL;
                errno = EFBIG;
                break;
            }
            buf = g;
            cap *= 2;
        }
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    if (f != stdin) fclose(f);
    *len = n;
    return buf;
}

int cmd_plot(int argc, char **argv)
{
    static const struct option opts[] = {{"xlabel", required_argument, 0, OPT_XLABEL},
                                         {"ylabel", required_argument, 0, OPT_YLABEL},
                                         {"font", required_argument, 0, OPT_FONT},
                                         {"script", required_argument, 0, OPT_SCRIPT},
                                         {"logx", no_argument, 0, OPT_LOGX},
                                         {"logy", no_argument, 0, OPT_LOGY},
                                         {"kind", required_argument, 0, OPT_KIND},
                                         {"output", required_argument, 0, 'o'},
                                         {"series", required_argument, 0, OPT_SERIES},
                                         {"title", required_argument, 0, OPT_TITLE},
                                         {"size", required_argument, 0, OPT_SIZE},
                                         {"help", no_argument, 0, OPT_HELP},
                                         {0, 0, 0, 0}};
    struct plot_options po = {0};
    cli_options_begin(NULL, argc, argv);
    for (int o; (o = cli_getopt(argc, argv, "o:x:y:", opts, NULL, "plot")) != -1;) {
        switch (o) {
        case OPT_KIND:
            po.kind = optarg;
            break;
        case 'o':
            po.output = optarg;
            break;
        case 'x':
            po.x = optarg;
            break;
        case 'y':
            po.y = optarg;
            break;
        case OPT_SERIES:
            po.series = optarg;
            break;
        case OPT_TITLE:
            po.title = optarg;
            break;
        case OPT_SIZE: {
            unsigned w, h;
            char extra;
            if (sscanf(optarg, "%ux%u%c", &w, &h, &extra) != 2 || w < 100 || h < 100 || w > 10000 ||
                h > 10000)
                return cli_usage("plot: --size: expected WIDTHxHEIGHT from 100 to 10000 each, "
                                 "found \"%s\"",
                                 optarg);
            po.width = w, po.height = h;
            break;
        }
        case OPT_XLABEL: po.xlabel = optarg; break;
        case OPT_YLABEL: po.ylabel = optarg; break;
        case OPT_FONT: {
            const char *comma = strrchr(optarg, ',');
            char *end = NULL;
            const double size = comma ? strtod(comma + 1, &end) : 0;
            if (!*optarg || (comma && (end == comma + 1 || *end || size < 1 || size > 200)))
                return cli_usage("plot: --font: expected NAME, NAME,SIZE or ,SIZE (e.g. "
                                 "\"Times,12\"; SIZE in points, 1 to 200), found \"%s\"",
                                 optarg);
            po.font = optarg;
            break;
        }
        case OPT_SCRIPT: po.script = optarg; break;
        case OPT_LOGX: po.logx = true; break;
        case OPT_LOGY: po.logy = true; break;
        case OPT_HELP:
            help(stdout);
            return 0;
        default:
            return 2; /* cli_getopt said why */
        }
    }
    if (!po.output)
        return cli_usage("plot: expected -o FIG.png, FIG.svg or FIG.pdf, found no -o");
    if (cli_output_check("plot: -o", po.output)) return 1;
    if (po.script && cli_output_check("plot: --script", po.script)) return 1;
    if (optind + 1 != argc)
        return cli_usage("plot: expected one INPUT (a sweep's CSV or JSON, or compare's JSON), "
                         "found %d",
                         argc - optind);
    const char *in = argv[optind];
    size_t len;
    char *text = slurp(in, &len);
    if (!text) return cli_fail("plot: cannot read %s: %s", in, strerror(errno));
    struct plot_table *t;
    char err[512];
    int rc = 0;
    if (plot_table_parse(text, len, &t, err, sizeof err) != 0)
        rc = cli_fail("plot: %s: %s", in, err);
    free(text);
    if (rc) return rc;
    rc = plot_render(t, &po);
    plot_table_free(t);
    return rc;
}
