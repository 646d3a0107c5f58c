/* What the parts of `vmsim sweep` share (docs/cli.md, "vmsim sweep"):
 * the sweep itself, and the functions each part offers the others.
 *   cmd_sweep.c     the command: options, the order of the steps, exit status
 *   sweep_spec.c    the syntax of an --axis and of {NAME} (no sweep state)
 *   sweep_grid.c    the axes classified and checked, point p's command line,
 *                   the header that identifies the sweep in its journal
 *   sweep_run.c     the children, -j at a time, and the journal
 *   sweep_output.c  a point's row, and the CSV, JSON and plot of all rows */
#ifndef VMSIM_CLI_SWEEP_H
#define VMSIM_CLI_SWEEP_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "cli/sweep_spec.h"

/* How an axis reaches a point's command line. */
enum axis_kind {
    AX_OPTION,   /* --KEY VALUE */
    AX_FLAG,     /* --KEY when the value is on */
    AX_WORKLOAD, /* --workload VALUE */
    AX_TRACE,    /* --trace VALUE */
    AX_PARAM,    /* workload.P: P=VALUE in the workload spec */
    AX_VAR,      /* {KEY} in other options' values */
};

struct base_opt {
    const char *name;  /* without "--" */
    const char *value; /* NULL for a flag */
    int opt;
};

struct sweep {
    struct base_opt *base;
    size_t nbase;
    const char *workload, *trace;
    struct sweep_axis *axes;
    enum axis_kind *kinds;
    size_t naxes, npoints;
    json_t *header; /* the journal's first line: what identifies this sweep */
    json_t **rows;
    bool *resumed;
    size_t ok, failed, ran, nresumed;
    int journal; /* fd, or -1 */
    bool progress;
    double t0;
    /* --max-rss for each point: the share of one job of the memory available
     * at the start, so that the points running together stay within it
     * (each `vmsim run` alone would assume the whole default); "" none */
    char max_rss[32];
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- sweep_grid.c ---- */

/* The options of `vmsim run` an axis or a base option may name. */
extern const struct option sweep_config_opts[];
/* Classify the axes and check them together; 0 or 2 after printing why. */
int sweep_check_axes(struct sweep *s);
/* The value of axis a at point p (first axis slowest). */
const char *sweep_axis_value(const struct sweep *s, size_t a, size_t p);
/* Does an axis set the run option `option`? */
bool sweep_axis_sets(const struct sweep *s, const char *option);
/* The arguments of point p after "vmsim run" (without the output options)
 * as a JSON array of strings; NULL (and *why) when a value grows too long. */
json_t *sweep_point_args(const struct sweep *s, size_t p, const char **why);
/* The journal's first line: the base options, input and axes. */
json_t *sweep_header(const struct sweep *s);

/* ---- sweep_run.c ---- */

double sweep_now(void);
/* Read the journal (if any) and keep the "ok" rows of this very sweep;
 * then rewrite it with them and open it for appending. 0, 1 or 2 after
 * printing why. */
int sweep_journal_open(struct sweep *s, const char *path, bool fresh, bool quiet);
/* Run every point without a row, -j at a time. 0, 1 (journal trouble) or
 * 128 + the signal (interrupted). */
int sweep_run_all(struct sweep *s, unsigned jobs);

/* ---- sweep_output.c ---- */

/* Is key a column of every row (so no axis may take it)? */
bool sweep_result_column(const char *key);
/* The row of point p: from the run's JSON document (doc, NULL if it
 * failed) or the error. */
json_t *sweep_row(const struct sweep *s, size_t p, json_t *args, json_t *doc,
                  const char *error, double elapsed, double cpu);
/* The outputs, from the rows in grid order: CSV to output (standard
 * output when neither output nor json is given), JSON to json, the plot
 * to plot; each may be NULL. 0, or nonzero after printing why. */
struct sweep_outputs {
    const char *csv, *json, *plot, *plot_kind, *plot_y;
};
int sweep_write_outputs(const struct sweep *s, const struct sweep_outputs *o, unsigned jobs,
                        double wall);

#endif
