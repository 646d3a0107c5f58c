/* The data `vmsim plot` draws: a table of named string columns read from a
 * sweep's CSV or JSON or from `vmsim compare --json`, and the figures drawn
 * from it. plot_table_parse is pure (no printing) so the fuzzer
 * (fuzz/fuzz_sweep.c) and the tests call it directly; plot_render is in
 * cmd_plot.c. */
#ifndef VMSIM_CLI_PLOT_DATA_H
#define VMSIM_CLI_PLOT_DATA_H

#include <stdbool.h>
#include <stddef.h>

#define PLOT_MAX_COLS 1024
#define PLOT_MAX_ROWS 1000000

struct plot_table {
    size_t ncols, nrows;
    char **cols;           /* column names */
    char **cells;          /* nrows * ncols, row-major; "" for a missing value */
    size_t naxes;          /* the columns a sweep varied (compare: the --vary key, pt, walker) */
    size_t *axes;          /* their column indices */
    const char *kind_hint; /* "sweep-csv", "sweep-json" or "compare" */
};

/* Parse text of len bytes (a sweep CSV, a sweep JSON document or compare
 * JSON, told apart by content). Adds the column "organization" (config.pt,
 * with "@sw" for software walks) when the data names organizations.
 * Returns 0 and *out, or -1 with err set ("expected ..., found ..."). */
int plot_table_parse(const char *text, size_t len, struct plot_table **out, char *err,
                     size_t errlen);
void plot_table_free(struct plot_table *t);
/* Index of column name, or -1. */
long plot_column(const struct plot_table *t, const char *name);
static inline const char *plot_cell(const struct plot_table *t, size_t row, size_t col)
{
    return t->cells[row * t->ncols + col];
}
/* A number as the tables hold them: a decimal or a size with a binary unit
 * (4k, 2m, 1g, 64GiB). true and *v, or false. */
bool plot_number(const char *s, double *v);

/* What plot_render draws (cmd_plot.c). NULL fields take the kind's default. */
struct plot_options {
    const char *kind;   /* "tlb", "memory", "walks" or NULL/"auto" */
    const char *x, *y;  /* column names */
    const char *series; /* comma-separated column names */
    const char *title;
    const char *output; /* FILE.png, FILE.svg or FILE.pdf */
    unsigned width, height;
    const char *xlabel, *ylabel; /* NULL: from the columns */
    const char *font;            /* gnuplot's "NAME,SIZE"; NULL: sans at the terminal's size */
    const char *script;          /* keep the gnuplot script there too; NULL: no */
    bool logx, logy;             /* force a log axis; false: decided by the values */
};
/* Draw t with gnuplot into opts->output; on failure print why and return
 * 1 (2 for a usage error: unknown column, bad kind or extension). */
int plot_render(const struct plot_table *t, const struct plot_options *opts);

#endif
