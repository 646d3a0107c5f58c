/* vmsim sweep: run a grid of configurations in parallel and collect one row
 * per point (docs/cli.md, "vmsim sweep").
 *
 * The grid is the cross product of the --axis lists, first axis slowest.
 * Each point is a separate `vmsim run ... --json - --quiet` process (this
 * very binary, /proc/self/exe): points share nothing, so each is as
 * deterministic as a single run, a crash loses one point, and the kernel
 * spreads them over the cores. Up to -j children run at once; the parent
 * polls their stdout (the JSON) and stderr (the error, if any). This file
 * is the command; the grid, the running with its journal and the outputs
 * are files of their own (sweep.h lists them).
 *
 * Invariants:
 *  1. rows[p] is NULL until point p finished, then the row that goes to
 *     the outputs; the outputs are written from rows[] in grid order.
 *  2. The journal holds a header naming the sweep (base options and axes),
 *     then one compact JSON row per finished point, appended and fsync'ed
 *     as each point finishes. A rerun of the same sweep reads it and runs
 *     only the points without an "ok" row; failed points run again. The
 *     journal goes once every point succeeded and the outputs are written.
 *  3. Children die with the sweep (PR_SET_PDEATHSIG), so a killed sweep
 *     leaves no stray runs behind.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <getopt.h>
#include <jansson.h>
#include <sched.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/sweep.h"

enum {
    OPT_WORKLOAD = OPT_CLI_FIRST_FREE,
    OPT_TRACE,
    OPT_AXIS,
    OPT_JSON,
    OPT_JOURNAL,
    OPT_FRESH,
    OPT_PLOT,
    OPT_PLOT_KIND,
    OPT_PLOT_Y,
    OPT_QUIET,
    OPT_MPI,
    OPT_SHARD,
    OPT_LIST,
    OPT_MERGE,
    OPT_HELP
};

static void help(FILE *out)
{
    fprintf(out,
            "usage: vmsim sweep [RUN OPTIONS] [--workload SPEC | --trace [F:]PATH]\n"
            "                   --axis KEY=V1,V2,... [--axis ...] [-j N] [-o FILE.csv]\n"
            "                   [--json FILE] [--plot FIG.png|FIG.svg] [--quiet]\n"
            "                   [--shard I/N] [--list] [--mpi]\n"
            "       vmsim sweep --merge SHARD.json... [-o FILE.csv] [--json FILE]\n\n"
            "Run `vmsim run` once per point of the grid (the cross product of the axes), in\n"
            "parallel, and write one row per point: the axis values, the configuration and\n"
            "the main statistics (docs/cli.md defines every column).\n\n"
            "axes:\n"
            "  --axis KEY=VALUES  KEY: a run option (tlb, pwc, pt, geometry, mem, replace, thp,\n"
            "                     page-size, machine, ...; on/off for flags), workload, trace,\n"
            "                     workload.PARAM (e.g. workload.tenants=1,4,16), or a NAME\n"
            "                     used as {NAME} in other options (--tlb 'l1=64x4,l2={n}x8'\n"
            "                     --axis n=256..4096*2). VALUES: comma-separated, or\n"
            "                     semicolon-separated when values hold commas; A..B, A..B+S,\n"
            "                     A..B*F are ranges of integers (units k, m, g, t)\n"
            "running:\n"
            "  -j, --jobs N       points at once (default: the CPUs this process may run on;\n"
            "                     1 per rank under MPI)\n"
            "  --journal PATH     where finished points are kept for a resume (default:\n"
            "                     the output's name + .journal); a rerun skips them\n"
            "  --fresh            ignore (and replace) an existing journal\n"
            "  --quiet            no progress line and no notes on stderr\n"
            "  --shard I/N        only the points whose number is I modulo N (0 <= I < N);\n"
            "                     `vmsim sweep --merge` joins the shards' --json outputs\n"
            "  --list             print one `vmsim run` command line per point, run nothing\n"
            "  --mpi              one rank of an MPI job (also when mpirun or srun set\n"
            "                     OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK): rank 0 hands\n"
            "                     out the points and writes every output\n"
            "output:\n"
            "  -o, --output PATH  CSV, one row per point (default: standard output)\n"
            "  --json PATH        JSON: the sweep, and per row the full statistics\n"
            "  --plot FIG         draw the results (vmsim plot) into FIG.png or FIG.svg\n"
            "  --plot-kind KIND   tlb, memory or walks (default: chosen from the axes)\n"
            "  --plot-y COLUMN    the y column (default: the kind's)\n\n"
            "--merge FILE...: the --json outputs of the shards of one sweep, checked to be\n"
            "all of it (every point once), written as the sweep would write them.\n\n"
            "Exit status: 0 when every point succeeded, 1 when one failed (its row has\n"
            "status \"failed\" and the error), 2 for a usage error.\n\n"
            "The run options are those of `vmsim run --help`.\n");
}

/* ---- the command -------------------------------------------------------- */

static void sweep_free(struct sweep *s)
{
    for (size_t a = 0; a < s->naxes; a++)
        sweep_axis_free(&s->axes[a]);
    free(s->axes);
    free(s->kinds);
    free(s->units);
    free(s->columns);
    free(s->base);
    if (s->rows)
        for (size_t p = 0; p < s->npoints; p++)
            json_decref(s->rows[p]);
    free(s->rows);
    free(s->resumed);
    free(s->rank_points);
    json_decref(s->header);
    if (s->journal >= 0) close(s->journal);
}

/* The CPUs this process may run on (taskset, cgroups' cpusets, a batch
 * system's binding), not the machine's: the default -j. */
static unsigned affinity_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/* "I/N" with 0 <= I < N; 0, or 2 after printing why. */
static int parse_shard(const char *arg, struct sweep *s)
{
    char *end;
    errno = 0;
    const unsigned long i = strtoul(arg, &end, 10);
    unsigned long n = 0;
    bool ok = end != arg && *end == '/' && arg[0] != '-' && errno == 0;
    if (ok) {
        const char *q = end + 1;
        n = strtoul(q, &end, 10);
        ok = end != q && !*end && *q != '-' && errno == 0 && n >= 1 && n <= SWEEP_MAX_POINTS &&
             i < n;
    }
    if (!ok)
        return cli_usage("--shard: expected I/N with 0 <= I < N <= %d (e.g. 0/8, or "
                         "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT), found \"%s\"",
                         SWEEP_MAX_POINTS, arg);
    s->shard_i = i;
    s->shard_n = n;
    return 0;
}

/* Write arg for a POSIX shell: as is when it holds only characters no
 * shell treats specially, else in single quotes ('\'' for a quote). */
static void shell_quote(FILE *f, const char *arg)
{
    if (*arg && strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                            "_-+./:=,@%") == strlen(arg)) {
        fputs(arg, f);
        return;
    }
    fputc('\'', f);
    for (const char *c = arg; *c; c++)
        if (*c == '\'')
            fputs("'\\''", f);
        else
            fputc(*c, f);
    fputc('\'', f);
}

/* --list: each point of the sweep (shard) as a command line. */
static int list_points(const struct sweep *s)
{
    char self[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0)
        self[n] = '\0';
    else
        snprintf(self, sizeof self, "vmsim");
    for (size_t p = 0; p < s->npoints; p++) {
        if (s->shard_n && p % s->shard_n != s->shard_i) continue;
        const char *why;
        json_t *args = sweep_point_args(s, p, &why);
        if (!args) return cli_fail("sweep: point %zu: cannot build the command line: %s", p, why);
        shell_quote(stdout, self);
        for (size_t i = 0; i < json_array_size(args); i++) {
            fputc(' ', stdout);
            shell_quote(stdout, json_string_value(json_array_get(args, i)));
        }
        fputc('\n', stdout);
        json_decref(args);
    }
    return fflush(stdout) == 0 ? 0 : cli_fail("--list: writing standard output failed");
}

int cmd_sweep(int argc, char **argv)
{
    static const struct option opts[] = {CLI_CONFIG_OPTIONS,
                                         {"workload", required_argument, 0, OPT_WORKLOAD},
                                         {"trace", required_argument, 0, OPT_TRACE},
                                         {"axis", required_argument, 0, OPT_AXIS},
                                         {"jobs", required_argument, 0, 'j'},
                                         {"output", required_argument, 0, 'o'},
                                         {"json", required_argument, 0, OPT_JSON},
                                         {"journal", required_argument, 0, OPT_JOURNAL},
                                         {"fresh", no_argument, 0, OPT_FRESH},
                                         {"plot", required_argument, 0, OPT_PLOT},
                                         {"plot-kind", required_argument, 0, OPT_PLOT_KIND},
                                         {"plot-y", required_argument, 0, OPT_PLOT_Y},
                                         {"quiet", no_argument, 0, OPT_QUIET},
                                         {"mpi", no_argument, 0, OPT_MPI},
                                         {"shard", required_argument, 0, OPT_SHARD},
                                         {"list", no_argument, 0, OPT_LIST},
                                         {"merge", no_argument, 0, OPT_MERGE},
                                         {"help", no_argument, 0, OPT_HELP},
                                         {0, 0, 0, 0}};
    struct sweep s = {.journal = -1};
    const char *output = NULL, *json = NULL, *journal = NULL, *plot = NULL, *plot_kind = NULL,
               *plot_y = NULL;
    bool fresh = false, quiet = false, list = false, merge = false, jobs_given = false;
    unsigned jobs = affinity_cpus();
    char err[512];
    int rc = 0;
    /* Under MPI the ranks but 0 parse nothing: rank 0 sends them what they
     * need (sweep_mpi.c), and alone says what is wrong with a command. */
    bool mpi = false;
    if (sweep_mpi_wanted(argc, argv)) {
        int rank, size;
        if (sweep_mpi_init(&rank, &size) != 0) return 1;
        if (rank != 0) return sweep_mpi_worker();
        mpi = true;
    }
    struct vmsim_config cfg;
    if ((rc = cli_options_begin(&cfg, argc, argv)) != 0) goto out;
    s.base = calloc((size_t)argc, sizeof *s.base);
    s.axes = calloc((size_t)argc, sizeof *s.axes);
    s.kinds = calloc((size_t)argc, sizeof *s.kinds);
    s.units = calloc((size_t)argc, sizeof *s.units);
    s.columns = calloc((size_t)argc, sizeof *s.columns);
    if (!s.base || !s.axes || !s.kinds || !s.units || !s.columns) {
        rc = cli_fail("out of memory");
        goto out;
    }
    for (int o, idx; rc == 0 && (o = cli_getopt(argc, argv, "j:o:", opts, &idx, "sweep")) != -1;) {
        switch (o) {
        case OPT_WORKLOAD:
            s.workload = optarg;
            break;
        case OPT_TRACE:
            s.trace = optarg;
            break;
        case OPT_AXIS: {
            const char *a = optarg;
            while (*a == '-')
                a++; /* --axis --tlb=... works too */
            if (sweep_axis_parse(a, &s.axes[s.naxes], err, sizeof err))
                rc = cli_usage("%s", err);
            else
                s.naxes++;
            break;
        }
        case 'j': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 1024)
                rc = cli_usage("-j: expected a number of parallel runs from 1 to 1024, found "
                               "\"%s\"",
                               optarg);
            jobs = (unsigned)v;
            jobs_given = true;
            break;
        }
        case 'o':
            output = optarg;
            break;
        case OPT_JSON:
            json = optarg;
            break;
        case OPT_JOURNAL:
            journal = optarg;
            break;
        case OPT_FRESH:
            fresh = true;
            break;
        case OPT_PLOT:
            plot = optarg;
            break;
        case OPT_PLOT_KIND:
            plot_kind = optarg;
            break;
        case OPT_PLOT_Y:
            plot_y = optarg;
            break;
        case OPT_QUIET:
            quiet = true;
            break;
        case OPT_MPI:
            break; /* seen above */
        case OPT_SHARD:
            rc = parse_shard(optarg, &s);
            break;
        case OPT_LIST:
            list = true;
            break;
        case OPT_MERGE:
            merge = true;
            break;
        case OPT_HELP:
            help(stdout);
            goto out;
        case '?':
            rc = 2; /* cli_getopt said why */
            break;
        default: /* a machine option: part of the base configuration */
            for (const struct option *c = sweep_config_opts; c->name; c++)
                if (c->val == o)
                    s.base[s.nbase++] = (struct base_opt){c->name, c->has_arg ? optarg : NULL, o};
        }
    }
    if (rc == 0 && merge) {
        if (mpi || list || s.shard_n || s.naxes || s.nbase || s.workload || s.trace || plot)
            rc = cli_usage("sweep --merge: expected only the shards' JSON files, -o and --json, "
                           "found sweep options too");
        else
            rc = sweep_merge(argc - optind, argv + optind, output, json, quiet);
        goto out;
    }
    if (rc == 0 && optind < argc)
        rc = cli_usage("sweep: unexpected argument \"%s\" (see vmsim sweep --help)", argv[optind]);
    if (rc == 0 && s.naxes == 0)
        rc = cli_usage("sweep: expected at least one --axis KEY=V1,V2,... (e.g. --axis "
                       "pt=radix,hashed), found none");
    if (rc == 0 && s.trace) {
        const char *path;
        cli_trace_format(s.trace, &path);
        if (!strcmp(path, "-"))
            rc = cli_usage("sweep: each point reads the input: expected a trace file, found "
                           "standard input");
    }
    if (rc == 0) rc = sweep_check_axes(&s);
    if (rc == 0 && s.shard_n > s.npoints)
        rc = cli_usage("--shard %zu/%zu: expected at most as many shards as points (%zu), found "
                       "%zu",
                       s.shard_i, s.shard_n, s.npoints, s.shard_n);
    if (rc == 0 && list && mpi)
        rc = cli_usage("sweep: --list prints the points and runs none: expected it without MPI");
    /* The base options that no axis replaces and no placeholder fills must
     * be right for every point: check them once, here. */
    for (size_t i = 0; rc == 0 && i < s.nbase; i++) {
        char name[SWEEP_KEY_MAX];
        if (sweep_axis_sets(&s, s.base[i].name) ||
            (s.base[i].value && sweep_placeholder(s.base[i].value, name, sizeof name)))
            continue;
        rc = cli_config_option(&cfg, s.base[i].opt, s.base[i].value);
    }
    if (rc) {
        rc = rc == 1 ? 2 : rc;
        goto out;
    }
    if (list) {
        rc = list_points(&s);
        goto out;
    }
    /* every output, before the first point runs: a sweep of hours must not
     * end in "cannot write" */
    if ((output && cli_output_check("-o", output)) || (json && cli_output_check("--json", json)) ||
        (plot && cli_output_check("--plot", plot))) {
        rc = 1;
        goto out;
    }
    s.rows = calloc(s.npoints, sizeof *s.rows);
    s.resumed = calloc(s.npoints, sizeof *s.resumed);
    s.header = sweep_header(&s);
    if (!s.rows || !s.resumed || !s.header) {
        rc = cli_fail("out of memory");
        goto out;
    }
    /* the journal: next to the output unless told */
    char jpath[PATH_MAX];
    const char *named = output && strcmp(output, "-") ? output
                        : json && strcmp(json, "-")   ? json
                                                      : NULL;
    if (!journal && named) {
        snprintf(jpath, sizeof jpath, "%s.journal", named);
        journal = jpath;
    }
    if (journal && (rc = sweep_journal_open(&s, journal, fresh, quiet)) != 0) goto out;
    /* one rank per core is how mpirun and srun place ranks */
    if (mpi && !jobs_given) jobs = 1;
    const size_t todo = s.shard_n ? (s.npoints - s.shard_i + s.shard_n - 1) / s.shard_n
                                  : s.npoints;
    const uint64_t avail = cli_rss_default(); /* 3/4 of MemAvailable, 0: unknown */
    const uint64_t together =
        (mpi ? (uint64_t)jobs * sweep_mpi_local_ranks() : (jobs < todo ? jobs : (todo ? todo : 1)));
    if (avail / together >= (16u << 20))
        snprintf(s.max_rss, sizeof s.max_rss, "%llu", (unsigned long long)(avail / together));
    s.progress = !quiet && isatty(STDERR_FILENO);
    s.t0 = sweep_now();
    rc = mpi ? sweep_mpi_run(&s, jobs) : sweep_run_all(&s, jobs);
    /* interrupted, or the journal failed: rank 0 ends without MPI_Finalize,
     * and the launcher ends the other ranks */
    mpi = mpi && rc == 0;
    const double wall = sweep_now() - s.t0;
    if (rc > 128) {
        fprintf(stderr, "vmsim: sweep: interrupted after %zu of %zu points%s%s%s\n",
                s.ok + s.failed, todo,
                journal ? "; run the same command again to resume "
                          "from "
                        : "",
                journal ? journal : "", journal ? "" : " (no journal: give -o FILE to resume)");
        goto out;
    }
    int status = rc;
    if (rc == 0) {
        /* the outputs, in grid order */
        const struct sweep_outputs o = {output, json, plot, plot_kind, plot_y};
        status |= sweep_write_outputs(&s, &o, jobs, wall);
        if (s.failed) status = status ? status : 1;
        if (!quiet || s.failed)
            fprintf(stderr,
                    "vmsim: sweep: %zu points: %zu ok (%zu from the journal), %zu failed, "
                    "%.1f s%s\n",
                    todo, s.ok, s.nresumed, s.failed, wall,
                    s.failed ? "; the failed rows say why" : "");
        /* a complete sweep needs no journal; one with failures keeps it so
         * that a rerun retries only those */
        if (status == 0 && journal) {
            close(s.journal);
            s.journal = -1;
            unlink(journal);
        }
    }
    rc = status;
    if (mpi) sweep_mpi_finalize();
    mpi = false;
out:
    if (mpi) sweep_mpi_stop(); /* the sweep did not run: the other ranks stop */
    sweep_free(&s);
    return rc;
}
