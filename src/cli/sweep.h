/* What the parts of `vmsim sweep` share (docs/cli.md, "vmsim sweep"):
 * the sweep itself, and the functions each part offers the others.
 *   cmd_sweep.c     the command: options, the order of the steps, exit status
 *   sweep_spec.c    the syntax of an --axis and of {NAME} (no sweep state)
 *   sweep_grid.c    the axes classified and checked, point p's command line,
 *                   the header that identifies the sweep in its journal
 *   sweep_run.c     the children, -j at a time, and the journal
 *   sweep_mpi.c     the same across the ranks of an MPI job (rank 0 hands
 *                   out points and keeps the rows)
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

/* How an axis's values go into the rows (docs/cli.md, "The row schema"). */
enum axis_unit {
    AU_TEXT,   /* as written */
    AU_NUMBER, /* plain decimal numbers: JSON numbers */
    AU_BYTES,  /* sizes with a binary unit (k, m, g, t): bytes, column KEY_bytes */
};
#define SWEEP_COLUMN_MAX (SWEEP_KEY_MAX + 8)

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
    enum axis_unit *units;
    char (*columns)[SWEEP_COLUMN_MAX]; /* each axis's column in the rows */
    size_t naxes, npoints;
    json_t *header; /* the journal's first line: what identifies this sweep */
    json_t **rows;
    bool *resumed;
    size_t ok, failed, ran, nresumed;
    size_t next;           /* the first point sweep_take has not looked at */
    size_t shard_i, shard_n; /* --shard I/N: only points p with p % N == I; N 0: all */
    double shown;          /* when the progress line was last drawn */
    size_t *rank_points;   /* under MPI: the points each rank ran; else NULL */
    int nranks;
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

/* The journal's format: 2 since rows carry numeric axes and run_config. */
#define SWEEP_JOURNAL_VERSION 2

/* The options of `vmsim run` an axis or a base option may name. */
extern const struct option sweep_config_opts[];
/* Classify the axes and check them together; 0 or 2 after printing why. */
int sweep_check_axes(struct sweep *s);
/* The value of axis a at point p as it goes into a row (a number for
 * AU_NUMBER and AU_BYTES axes). */
json_t *sweep_axis_json(const struct sweep *s, size_t a, size_t p);
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

/* What one run of a point left: its stdout (the JSON document), stderr,
 * wait status, wall and CPU seconds. */
struct sweep_result {
    const char *out, *err;
    size_t out_len, err_len;
    int status;
    double elapsed, cpu;
};
/* Where a runner gets its points and leaves their results: the grid itself
 * (sweep_run_all), or rank 0 of an MPI job (sweep_mpi.c). */
struct sweep_runner {
    /* The next point and its `vmsim run` arguments (the runner decrefs
     * them): 1; 0 none now; -status on failure. */
    int (*take)(void *ctx, size_t *point, json_t **args);
    /* Point p ended with r: 0, or a status that stops the runner. */
    int (*done)(void *ctx, size_t point, const struct sweep_result *r);
    /* Once a round, with the points running here; *more: points may still
     * come (or results from elsewhere), so wait even when none runs;
     * *wait_ms: the longest wait for the points' output before the next
     * round (the runner's poll_ms unless changed). */
    int (*tick)(void *ctx, size_t running, bool *more, int *wait_ms);
    void *ctx;
    int poll_ms;
};
/* Run points from r, up to jobs at once, each with --max-rss max_rss
 * ("" none). 0, a status from r, or 128 + the signal (interrupted). */
int sweep_run(const struct sweep_runner *r, unsigned jobs, const char *max_rss);
/* The next point of this sweep (shard) without a row, as a runner's take:
 * points whose command line cannot be spelled get a failed row on the way. */
int sweep_take(struct sweep *s, size_t *point, json_t **args);
/* Point p finished with r: its row built, counted, a failure reported, the
 * row journaled. 0, or 1 when the journal cannot be written. */
int sweep_finish(struct sweep *s, size_t p, const struct sweep_result *r);
/* The progress line on a terminal, at most twice a second unless final. */
void sweep_progress(struct sweep *s, size_t running, bool final);

/* ---- sweep_merge.c ---- */

/* vmsim sweep --merge: the --json outputs of the n shards in files, checked
 * to be one sweep with every point once, written as the sweep would (CSV to
 * csv, standard output when neither is given; JSON to json). The exit
 * status. */
int sweep_merge(int n, char **files, const char *csv, const char *json, bool quiet);

/* ---- sweep_mpi.c ---- */

/* Is this process one rank of an MPI job (--mpi given, or a launcher's
 * environment: OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_RANK)? */
bool sweep_mpi_wanted(int argc, char **argv);
/* Start MPI; *rank and *size. 0, or 1 after printing why (built without
 * MPI, or MPI_Init failed). */
int sweep_mpi_init(int *rank, int *size);
/* A rank other than 0: run the points rank 0 hands out until it says
 * stop; the exit status of the rank. */
int sweep_mpi_worker(void);
/* Rank 0 when the sweep will not run (usage error, --help, nothing to
 * do): tell the other ranks to stop, and end MPI. */
void sweep_mpi_stop(void);
/* Rank 0: run the sweep over every rank, jobs points at once on each;
 * as sweep_run_all. */
int sweep_mpi_run(struct sweep *s, unsigned jobs);
/* The end of MPI after a sweep that ran through (not after an interrupt,
 * which leaves the other ranks to the launcher). */
void sweep_mpi_finalize(void);
/* The ranks on this node (the memory the points here share), 1 without
 * MPI. */
unsigned sweep_mpi_local_ranks(void);

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
