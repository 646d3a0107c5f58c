/* vmsim sweep: run a grid of configurations in parallel and collect one row
 * per point (docs/cli.md, "vmsim sweep").
 *
 * The grid is the cross product of the --axis lists, first axis slowest.
 * Each point is a separate `vmsim run ... --json - --quiet` process (this
 * very binary, /proc/self/exe): points share nothing, so each is as
 * deterministic as a single run, a crash loses one point, and the kernel
 * spreads them over the cores. Up to -j children run at once; the parent
 * polls their stdout (the JSON) and stderr (the error, if any).
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
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/plot_data.h"
#include "cli/sweep_spec.h"

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
    OPT_HELP
};

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

struct job {
    pid_t pid;
    size_t point;
    int fd[2]; /* child's stdout, stderr; -1 once closed */
    char *buf[2];
    size_t len[2], cap[2];
    struct timespec start;
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

static const struct option config_opts[] = {CLI_CONFIG_OPTIONS, {0, 0, 0, 0}};

/* The statistics columns: name, then where in `vmsim run --json` (a
 * dotted path), and how: copied, the sum of two paths, or their ratio.
 * docs/cli.md defines each; docs/stats.md the counters behind them. */
enum stat_how { COPY, SUM, RATIO };
static const struct stat_col {
    const char *name, *path, *path2;
    enum stat_how how;
} stat_cols[] = {
    {"accesses", "accesses", NULL, COPY},
    {"translations", "translations", NULL, COPY},
    {"tlb_misses", "tlb.misses_all_levels", NULL, COPY},
    {"tlb_miss_rate", "tlb.misses_all_levels", "translations", RATIO},
    {"walks", "walks.count", NULL, COPY},
    {"walk_refs", "walks.refs", NULL, COPY},
    {"refs_per_walk", "walks.refs_per_walk", NULL, COPY},
    {"pwc_hits", "pwc.hits", NULL, COPY},
    {"pwc_misses", "pwc.misses", NULL, COPY},
    {"faults", "faults.total", NULL, COPY},
    {"evictions", "reclaim.evictions", NULL, COPY},
    {"swap_writes", "swap.writes", NULL, COPY},
    {"frames_peak", "memory.frames_peak", NULL, COPY},
    {"page_table_bytes", "page_tables.bytes", "page_tables.root_bytes", SUM},
    {"page_table_peak_bytes", "page_tables.peak_bytes_with_roots", NULL, COPY},
    {"cycles", "cycles", NULL, COPY},
    {"cycles_translation", "cycles_translation", NULL, COPY},
    {"cycles_per_access", "cycles_per_access", NULL, COPY},
    {"translation_share", "translation_share", NULL, COPY},
};

/* The configuration columns, from the "config" object of the run's JSON;
 * config.tlb and config.pwc are rebuilt as specs, below. */
static const struct cfg_col {
    const char *name, *path;
} cfg_cols[] = {
    {"config.machine", "machine"},
    {"config.pt", "pt"},
    {"config.walker", "cost.walker"},
    {"config.geometry", "geometry.name"},
    {"config.page_size", "geometry.page_size"},
    {"config.levels", "geometry.levels"},
    {"config.tlb", NULL},
    {"config.tlb_entries", NULL},
    {"config.pwc", NULL},
    {"config.phys_bytes", "phys_bytes"},
    {"config.swap_bytes", "kernel.swap_bytes"},
    {"config.replace", "kernel.replace"},
    {"config.thp", "kernel.thp"},
    {"config.cpus", "cpus"},
    {"config.asids", "asids"},
    {"config.anon_page_size", "anon_page_size"},
    {"config.seed", "seed"},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void help(FILE *out)
{
    fprintf(out,
            "usage: vmsim sweep [RUN OPTIONS] [--workload SPEC | --trace [F:]PATH]\n"
            "                   --axis KEY=V1,V2,... [--axis ...] [-j N] [-o FILE.csv]\n"
            "                   [--json FILE] [--plot FIG.png|FIG.svg] [--quiet]\n\n"
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
            "  -j, --jobs N       points at once (default: the number of CPUs online)\n"
            "  --journal PATH     where finished points are kept for a resume (default:\n"
            "                     the output's name + .journal); a rerun skips them\n"
            "  --fresh            ignore (and replace) an existing journal\n"
            "  --quiet            no progress line and no notes on stderr\n"
            "output:\n"
            "  -o, --output PATH  CSV, one row per point (default: standard output)\n"
            "  --json PATH        JSON: the sweep, and per row the full statistics\n"
            "  --plot FIG         draw the results (vmsim plot) into FIG.png or FIG.svg\n"
            "  --plot-kind KIND   tlb, memory or walks (default: chosen from the axes)\n"
            "  --plot-y COLUMN    the y column (default: the kind's)\n\n"
            "Exit status: 0 when every point succeeded, 1 when one failed (its row has\n"
            "status \"failed\" and the error), 2 for a usage error.\n\n"
            "The run options are those of `vmsim run --help`.\n");
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the grid --------------------------------------------------------- */

static const struct option *config_option(const char *name)
{
    for (const struct option *o = config_opts; o->name; o++)
        if (!strcmp(o->name, name)) return o;
    return NULL;
}

static bool reserved_column(const char *key)
{
    static const char *const fixed[] = {"point",     "status", "source",       "error", "config",
                                        "elapsed_s", "cpu_s",  "organization", "args",  "stats"};
    for (size_t i = 0; i < NELEM(fixed); i++)
        if (!strcmp(key, fixed[i])) return true;
    for (size_t i = 0; i < NELEM(stat_cols); i++)
        if (!strcmp(key, stat_cols[i].name)) return true;
    return !strncmp(key, "config.", 7);
}

static int flag_value(const char *v)
{
    static const char *const on[] = {"on", "yes", "true", "1"}, *const off[] = {"off", "no",
                                                                                "false", "0"};
    for (size_t i = 0; i < NELEM(on); i++) {
        if (!strcmp(v, on[i])) return 1;
        if (!strcmp(v, off[i])) return 0;
    }
    return -1;
}

/* Does any base value, input or other axis's value hold {name}? */
static bool placeholder_used(const struct sweep *s, const char *name)
{
    char pat[SWEEP_KEY_MAX + 2];
    snprintf(pat, sizeof pat, "{%s}", name);
    for (size_t i = 0; i < s->nbase; i++)
        if (s->base[i].value && strstr(s->base[i].value, pat)) return true;
    if ((s->workload && strstr(s->workload, pat)) || (s->trace && strstr(s->trace, pat)))
        return true;
    for (size_t a = 0; a < s->naxes; a++)
        for (size_t v = 0; v < s->axes[a].nvalues; v++)
            if (strstr(s->axes[a].values[v], pat)) return true;
    return false;
}

static bool has_var(const struct sweep *s, const char *name)
{
    for (size_t a = 0; a < s->naxes; a++)
        if (s->kinds[a] == AX_VAR && !strcmp(s->axes[a].key, name)) return true;
    return false;
}

/* Classify the axes and check them together; 0 or 2 after printing why. */
static int check_axes(struct sweep *s)
{
    bool input_trace = s->trace != NULL, input_workload = s->workload != NULL;
    for (size_t a = 0; a < s->naxes; a++) {
        const char *key = s->axes[a].key;
        const struct option *o;
        for (size_t b = 0; b < a; b++)
            if (!strcmp(s->axes[b].key, key))
                return cli_usage("--axis %s: expected each KEY once, found it twice", key);
        if (!strcmp(key, "workload")) {
            s->kinds[a] = AX_WORKLOAD;
            input_workload = true;
        } else if (!strcmp(key, "trace")) {
            s->kinds[a] = AX_TRACE;
            input_trace = true;
            for (size_t v = 0; v < s->axes[a].nvalues; v++) {
                const char *path;
                cli_trace_format(s->axes[a].values[v], &path);
                if (!strcmp(path, "-"))
                    return cli_usage("--axis trace: each point reads its input: expected files, "
                                     "found standard input");
            }
        } else if (!strncmp(key, "workload.", 9) && key[9]) {
            s->kinds[a] = AX_PARAM;
        } else if ((o = config_option(key)) != NULL) {
            s->kinds[a] = o->has_arg == no_argument ? AX_FLAG : AX_OPTION;
            for (size_t v = 0; s->kinds[a] == AX_FLAG && v < s->axes[a].nvalues; v++)
                if (flag_value(s->axes[a].values[v]) < 0)
                    return cli_usage("--axis %s: --%s is a flag: expected on or off, found "
                                     "\"%.100s\"",
                                     key, key, s->axes[a].values[v]);
        } else if (sweep_is_name(key) && placeholder_used(s, key)) {
            s->kinds[a] = AX_VAR;
        } else {
            return cli_usage("--axis %s: expected a `vmsim run` option name (e.g. tlb, pwc, pt, "
                             "geometry, mem, replace, thp, page-size), workload, trace, "
                             "workload.PARAM, or a NAME written {NAME} in another option, found "
                             "\"%s\"",
                             key, key);
        }
        if (reserved_column(key))
            return cli_usage("--axis %s: expected a KEY that is not also a result column "
                             "(point, status, source, error, config.*, the statistics), found "
                             "\"%s\"",
                             key, key);
    }
    if (input_trace && input_workload)
        return cli_usage("sweep: give --workload or --trace (as options or axes), not both");
    for (size_t a = 0; a < s->naxes; a++)
        if (s->kinds[a] == AX_PARAM && input_trace)
            return cli_usage("--axis %s: a trace has no parameters: expected --workload, found "
                             "--trace",
                             s->axes[a].key);
    /* every {NAME} must name an axis */
    char name[SWEEP_KEY_MAX];
    for (size_t i = 0; i < s->nbase; i++)
        if (s->base[i].value && sweep_placeholder(s->base[i].value, name, sizeof name) &&
            !has_var(s, name))
            return cli_usage("--%s %s: expected {%s} to name an --axis, found no --axis %s=...",
                             s->base[i].name, s->base[i].value, name, name);
    const char *inputs[2] = {s->workload, s->trace};
    for (int i = 0; i < 2; i++)
        if (inputs[i] && sweep_placeholder(inputs[i], name, sizeof name) && !has_var(s, name))
            return cli_usage("--%s %s: expected {%s} to name an --axis, found no --axis %s=...",
                             i ? "trace" : "workload", inputs[i], name, name);
    s->npoints = 1;
    for (size_t a = 0; a < s->naxes; a++) {
        if (s->npoints > SWEEP_MAX_POINTS / s->axes[a].nvalues)
            return cli_usage("sweep: expected at most %d points, found more (the axes multiply)",
                             SWEEP_MAX_POINTS);
        s->npoints *= s->axes[a].nvalues;
    }
    return 0;
}

/* The value of axis a at point p (first axis slowest). */
static const char *axis_value(const struct sweep *s, size_t a, size_t p)
{
    size_t stride = 1;
    for (size_t b = a + 1; b < s->naxes; b++)
        stride *= s->axes[b].nvalues;
    return s->axes[a].values[(p / stride) % s->axes[a].nvalues];
}

/* text with every {VAR} of point p replaced; NULL when too long. */
static char *expand(const struct sweep *s, size_t p, const char *text)
{
    char a[4096], b[4096];
    if (snprintf(a, sizeof a, "%s", text) >= (int)sizeof a) return NULL;
    for (size_t i = 0; i < s->naxes; i++) {
        if (s->kinds[i] != AX_VAR) continue;
        if (sweep_subst(a, s->axes[i].key, axis_value(s, i, p), b, sizeof b) < 0) return NULL;
        memcpy(a, b, strlen(b) + 1);
    }
    return strdup(a);
}

static bool axis_sets(const struct sweep *s, const char *option)
{
    for (size_t a = 0; a < s->naxes; a++)
        if ((s->kinds[a] == AX_OPTION || s->kinds[a] == AX_FLAG) && !strcmp(s->axes[a].key, option))
            return true;
    return false;
}

/* The arguments of point p after "vmsim run" (without the output options)
 * as a JSON array of strings; NULL (and *why) when a value grows too long. */
static json_t *point_args(const struct sweep *s, size_t p, const char **why)
{
    json_t *args = json_array();
    char flag[SWEEP_KEY_MAX + 3];
    *why = "a value grows beyond 4 KiB once placeholders are filled in";
#define ARG(str)                                                                                   \
    do {                                                                                           \
        char *x_ = (str);                                                                          \
        if (!x_) goto fail;                                                                        \
        json_array_append_new(args, json_string(x_));                                              \
        free(x_);                                                                                  \
    } while (0)
    json_array_append_new(args, json_string("run"));
    for (size_t i = 0; i < s->nbase; i++) {
        if (axis_sets(s, s->base[i].name)) continue;
        snprintf(flag, sizeof flag, "--%s", s->base[i].name);
        json_array_append_new(args, json_string(flag));
        if (s->base[i].value) ARG(expand(s, p, s->base[i].value));
    }
    const char *workload = s->workload, *trace = s->trace;
    for (size_t a = 0; a < s->naxes; a++) {
        const char *v = axis_value(s, a, p);
        switch (s->kinds[a]) {
        case AX_OPTION:
            snprintf(flag, sizeof flag, "--%s", s->axes[a].key);
            json_array_append_new(args, json_string(flag));
            ARG(expand(s, p, v));
            break;
        case AX_FLAG:
            snprintf(flag, sizeof flag, "--%s", s->axes[a].key);
            if (flag_value(v) == 1) json_array_append_new(args, json_string(flag));
            break;
        case AX_WORKLOAD:
            workload = v;
            break;
        case AX_TRACE:
            trace = v;
            break;
        default:
            break;
        }
    }
    if (trace) {
        json_array_append_new(args, json_string("--trace"));
        ARG(expand(s, p, trace));
    } else {
        char *spec = expand(s, p, workload ? workload : "default");
        char next[4096];
        for (size_t a = 0; spec && a < s->naxes; a++) {
            if (s->kinds[a] != AX_PARAM) continue;
            char *v = expand(s, p, axis_value(s, a, p));
            if (!v || sweep_set_param(spec, s->axes[a].key + 9, v, next, sizeof next)) {
                free(v);
                free(spec);
                spec = NULL;
                break;
            }
            free(v);
            free(spec);
            spec = strdup(next);
        }
        json_array_append_new(args, json_string("--workload"));
        ARG(spec);
    }
#undef ARG
    for (size_t i = 0; i < json_array_size(args); i++)
        if (!json_is_string(json_array_get(args, i))) {
            *why = "a value is not valid UTF-8";
            goto fail;
        }
    return args;
fail:
    json_decref(args);
    return NULL;
}

/* ---- rows ------------------------------------------------------------- */

static json_t *get_path(json_t *obj, const char *path)
{
    char part[64];
    for (const char *p = path; obj && *p;) {
        const char *dot = strchr(p, '.');
        const size_t n = dot ? (size_t)(dot - p) : strlen(p);
        snprintf(part, sizeof part, "%.*s", (int)n, p);
        obj = json_object_get(obj, part);
        p += n + (dot ? 1 : 0);
    }
    return obj;
}

static void size_text(json_int_t v, char *buf, size_t len)
{
    static const char units[] = "kmgt";
    int u = 4;
    while (u > 0 && (v == 0 || v % ((json_int_t)1 << (10 * u)) != 0))
        u--;
    if (u)
        snprintf(buf, len, "%lld%c", (long long)(v >> (10 * u)), units[u - 1]);
    else
        snprintf(buf, len, "%lld", (long long)v);
}

/* Append to a fixed buffer; *n past the end marks an overflow. */
static void put(char *buf, size_t cap, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
    if (*n >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    *n = w < 0 ? cap : *n + (size_t)w;
}

/* config.tlb as a --tlb spec ("none" for no levels), and the total entries. */
static json_t *tlb_spec(json_t *tlb, json_int_t *entries)
{
    char buf[2048] = "";
    size_t n = 0, i, j, k;
    json_t *lvl, *arr, *sz;
    *entries = 0;
    json_array_foreach(tlb, i, lvl)
    {
        const char *name = json_string_value(json_object_get(lvl, "name"));
        put(buf, sizeof buf, &n, "%s%s=", i ? "," : "", name ? name : "?");
        json_array_foreach(json_object_get(lvl, "arrays"), j, arr)
        {
            const json_int_t e = json_integer_value(json_object_get(arr, "entries"));
            *entries += e;
            put(buf, sizeof buf, &n, "%s%lldx%lld@", j ? "|" : "", (long long)e,
                (long long)json_integer_value(json_object_get(arr, "ways")));
            json_array_foreach(json_object_get(arr, "page_sizes"), k, sz)
            {
                char t[32];
                size_text(json_integer_value(sz), t, sizeof t);
                put(buf, sizeof buf, &n, "%s%s", k ? "+" : "", t);
            }
        }
        const char *side = json_string_value(json_object_get(lvl, "side"));
        const char *repl = json_string_value(json_object_get(lvl, "replacement"));
        put(buf, sizeof buf, &n, "/%s:%lld:%s", side ? side : "u",
            (long long)json_integer_value(json_object_get(lvl, "latency")), repl ? repl : "lru");
    }
    if (n >= sizeof buf) return json_null();
    return json_string(json_array_size(tlb) ? buf : "none");
}

/* config.pwc as a --pwc spec: "l2=32x8,l3=8x4", "unified=32x4" or "none". */
static json_t *pwc_spec(json_t *pwc)
{
    char buf[512] = "";
    size_t n = 0;
    const char *key;
    json_t *v;
    json_object_foreach(pwc, key, v)
    {
        if (json_is_object(v))
            put(buf, sizeof buf, &n, "%s%s=%lldx%lld", n ? "," : "", key,
                (long long)json_integer_value(json_object_get(v, "entries")),
                (long long)json_integer_value(json_object_get(v, "ways")));
    }
    if (n >= sizeof buf) return json_null();
    return json_string(n ? buf : "none");
}

/* The row of point p: from the run's JSON document (doc, NULL if it
 * failed) or the error. Keys in column order; "config" and "stats" (the
 * whole document but its config) last, and "args". */
static json_t *make_row(const struct sweep *s, size_t p, json_t *args, json_t *doc,
                        const char *error, double elapsed, double cpu)
{
    json_t *row = json_object();
    json_object_set_new(row, "point", json_integer((json_int_t)p));
    json_object_set_new(row, "status", json_string(doc ? "ok" : "failed"));
    for (size_t a = 0; a < s->naxes; a++)
        json_object_set_new(row, s->axes[a].key, json_string(axis_value(s, a, p)));
    json_t *cfg = doc ? json_object_get(doc, "config") : NULL;
    json_t *source = doc ? json_object_get(doc, "source") : NULL;
    json_object_set(row, "source", source ? source : json_null());
    for (size_t i = 0; i < NELEM(cfg_cols); i++) {
        json_t *v = NULL;
        if (!cfg)
            v = json_null();
        else if (!strcmp(cfg_cols[i].name, "config.tlb") ||
                 !strcmp(cfg_cols[i].name, "config.tlb_entries")) {
            json_int_t entries;
            json_t *spec = tlb_spec(json_object_get(cfg, "tlb"), &entries);
            if (!strcmp(cfg_cols[i].name, "config.tlb")) {
                v = spec;
            } else {
                json_decref(spec);
                v = json_integer(entries);
            }
        } else if (!strcmp(cfg_cols[i].name, "config.pwc")) {
            v = pwc_spec(json_object_get(cfg, "pwc"));
        } else {
            v = get_path(cfg, cfg_cols[i].path);
            v = v ? json_deep_copy(v) : json_null();
        }
        json_object_set_new(row, cfg_cols[i].name, v);
    }
    for (size_t i = 0; i < NELEM(stat_cols); i++) {
        const struct stat_col *c = &stat_cols[i];
        json_t *a = doc ? get_path(doc, c->path) : NULL,
               *b = c->path2 ? get_path(doc, c->path2) : NULL;
        json_t *v = json_null();
        if (a && c->how == COPY)
            v = json_deep_copy(a);
        else if (json_is_integer(a) && json_is_integer(b) && c->how == SUM)
            v = json_integer(json_integer_value(a) + json_integer_value(b));
        else if (json_is_number(a) && json_is_number(b) && c->how == RATIO)
            v = json_real(json_number_value(b) ? json_number_value(a) / json_number_value(b) : 0);
        json_object_set_new(row, c->name, v);
    }
    json_object_set_new(row, "error", error ? json_string(error) : json_null());
    json_object_set_new(row, "elapsed_s", json_real(elapsed));
    json_object_set_new(row, "cpu_s", json_real(cpu));
    json_object_set(row, "config", cfg ? cfg : json_null());
    if (doc) {
        json_t *stats = json_deep_copy(doc);
        json_object_del(stats, "config");
        json_object_set_new(row, "stats", stats);
    } else {
        json_object_set_new(row, "stats", json_null());
    }
    json_object_set(row, "args", args);
    return row;
}

/* The CSV columns, in order: the row's keys but "stats" and "args". */
static void write_csv_field(FILE *f, json_t *v)
{
    char buf[64];
    const char *text = "";
    char *dumped = NULL;
    switch (json_typeof(v)) {
    case JSON_STRING:
        text = json_string_value(v);
        break;
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        text = buf;
        break;
    case JSON_REAL:
        sweep_format_real(json_real_value(v), buf, sizeof buf);
        text = buf;
        break;
    case JSON_TRUE:
        text = "true";
        break;
    case JSON_FALSE:
        text = "false";
        break;
    case JSON_OBJECT:
    case JSON_ARRAY:
        text = dumped = json_dumps(v, JSON_COMPACT);
        break;
    default:
        break;
    }
    if (!text) text = "";
    if (strpbrk(text, ",\"\r\n") || (*text && (text[0] == ' ' || text[strlen(text) - 1] == ' '))) {
        fputc('"', f);
        for (const char *c = text; *c; c++) {
            if (*c == '"') fputc('"', f);
            fputc(*c, f);
        }
        fputc('"', f);
    } else {
        fputs(text, f);
    }
    free(dumped);
}

static bool csv_column(const char *key)
{
    return strcmp(key, "stats") && strcmp(key, "args");
}

static void write_csv(FILE *f, const struct sweep *s)
{
    /* the header from a row's keys (every row has the same keys) */
    json_t *first = s->rows[0];
    const char *key;
    json_t *v;
    bool comma = false;
    json_object_foreach(first, key, v)
    {
        if (!csv_column(key)) continue;
        if (comma) fputc(',', f);
        json_t *name = json_string(key);
        write_csv_field(f, name);
        json_decref(name);
        comma = true;
    }
    fputc('\n', f);
    for (size_t p = 0; p < s->npoints; p++) {
        comma = false;
        json_object_foreach(first, key, v)
        {
            if (!csv_column(key)) continue;
            if (comma) fputc(',', f);
            write_csv_field(f, json_object_get(s->rows[p], key));
            comma = true;
        }
        fputc('\n', f);
    }
}

static json_t *result_doc(const struct sweep *s, unsigned jobs, double wall)
{
    json_t *doc = json_object(), *sw = json_deep_copy(s->header), *rows = json_array();
    json_object_del(sw, "vmsim_sweep_journal");
    json_object_set_new(sw, "points", json_integer((json_int_t)s->npoints));
    json_object_set_new(sw, "jobs", json_integer(jobs));
    json_object_set_new(doc, "sweep", sw);
    json_object_set_new(doc, "ok", json_integer((json_int_t)s->ok));
    json_object_set_new(doc, "failed", json_integer((json_int_t)s->failed));
    json_object_set_new(doc, "ran", json_integer((json_int_t)s->ran));
    json_object_set_new(doc, "resumed", json_integer((json_int_t)s->nresumed));
    json_object_set_new(doc, "wall_s", json_real(wall));
    for (size_t p = 0; p < s->npoints; p++)
        json_array_append(rows, s->rows[p]);
    json_object_set_new(doc, "rows", rows);
    return doc;
}

/* Write through a temporary file and rename, so a reader never sees half
 * an output; "-" is standard output. 0 or 1 after printing why. */
static int write_output(const char *path, const char *what, const char *text, size_t len)
{
    if (!strcmp(path, "-"))
        return fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0
                   ? 0
                   : cli_fail("%s: writing standard output failed", what);
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return cli_fail("%s: expected a shorter path, found \"%s\"", what, path);
    FILE *f = fopen(tmp, "w");
    if (!f) return cli_fail("%s: cannot write %s: %s", what, tmp, strerror(errno));
    bool ok = fwrite(text, 1, len, f) == len;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return cli_fail("%s: writing %s failed: %s", what, path, strerror(errno));
    }
    return 0;
}

/* ---- the journal ------------------------------------------------------ */

static int journal_append(struct sweep *s, json_t *row)
{
    if (s->journal < 0) return 0;
    char *line = json_dumps(row, JSON_COMPACT);
    if (!line) return cli_fail("--journal: out of memory");
    size_t len = strlen(line);
    line[len++] = '\n'; /* json_dumps leaves room: we replace the NUL */
    const char *p = line;
    int rc = 0;
    for (size_t left = len; left;) {
        ssize_t w = write(s->journal, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            rc = cli_fail("--journal: write failed: %s", strerror(errno));
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    free(line);
    if (rc == 0 && fsync(s->journal) != 0 && errno != EINVAL)
        rc = cli_fail("--journal: fsync failed: %s", strerror(errno));
    return rc;
}

/* Read the journal (if any) and keep the "ok" rows of this very sweep;
 * then rewrite it with them (dropping a line torn by a kill) and open it
 * for appending. 0, 1 or 2 after printing why. */
static int journal_open(struct sweep *s, const char *path, bool fresh, bool quiet)
{
    size_t kept = 0;
    json_t *lines = json_array();
    FILE *f = fresh ? NULL : fopen(path, "r");
    if (f) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        bool first = true;
        while ((n = getline(&line, &cap, f)) > 0) {
            json_t *row = json_loadb(line, (size_t)n, 0, NULL);
            if (first) {
                first = false;
                if (!json_equal(row, s->header)) {
                    json_decref(row);
                    free(line);
                    fclose(f);
                    json_decref(lines);
                    return cli_usage("--journal %s: expected the journal of this sweep (the same "
                                     "options, input and axes), found another sweep's; delete it "
                                     "or pass --fresh",
                                     path);
                }
                json_decref(row);
                continue;
            }
            json_t *pt = json_object_get(row, "point");
            const json_int_t p = json_is_integer(pt) ? json_integer_value(pt) : -1;
            const char *st = json_string_value(json_object_get(row, "status"));
            if (p >= 0 && (size_t)p < s->npoints && st && !strcmp(st, "ok") && !s->rows[p]) {
                const char *why;
                json_t *args = point_args(s, (size_t)p, &why);
                if (args && json_equal(args, json_object_get(row, "args"))) {
                    s->rows[p] = json_incref(row);
                    s->resumed[p] = true;
                    json_array_append(lines, row);
                    kept++;
                }
                json_decref(args);
            }
            json_decref(row);
        }
        free(line);
        fclose(f);
    }
    s->nresumed = kept;
    s->ok = kept;
    if (kept && !quiet)
        fprintf(stderr, "vmsim: sweep: resuming from %s: %zu of %zu points done already\n", path,
                kept, s->npoints);
    /* rewrite: header + kept rows, atomically */
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        json_decref(lines);
        return cli_usage("--journal: expected a shorter path, found \"%s\"", path);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        json_decref(lines);
        return cli_fail("--journal: cannot write %s: %s", tmp, strerror(errno));
    }
    s->journal = fd;
    int rc = journal_append(s, s->header);
    size_t i;
    json_t *row;
    json_array_foreach(lines, i, row) if (rc == 0) rc = journal_append(s, row);
    json_decref(lines);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = cli_fail("--journal: cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (rc) {
        close(fd);
        s->journal = -1;
        unlink(tmp);
    }
    return rc;
}

/* ---- running ---------------------------------------------------------- */

static volatile sig_atomic_t interrupted;
static void on_signal(int sig)
{
    interrupted = sig;
}

/* Start point p: fork, and exec `vmsim run ARGS --json - --quiet` with
 * stdout and stderr on pipes. 0, or -1 with errno. */
static int start(struct job *j, size_t p, json_t *args, const char *max_rss)
{
    int out[2], err[2];
    if (pipe(out)) return -1;
    if (pipe(err)) {
        close(out[0]);
        close(out[1]);
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(out[i], F_SETFD, FD_CLOEXEC);
        fcntl(err[i], F_SETFD, FD_CLOEXEC);
    }
    const size_t n = json_array_size(args);
    char **argv = calloc(n + 7, sizeof *argv);
    if (!argv) {
        close(out[0]), close(out[1]), close(err[0]), close(err[1]);
        errno = ENOMEM;
        return -1;
    }
    argv[0] = "vmsim";
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = (char *)json_string_value(json_array_get(args, i));
    argv[n + 1] = "--json";
    argv[n + 2] = "-";
    argv[n + 3] = "--quiet";
    if (max_rss[0]) {
        argv[n + 4] = "--max-rss";
        argv[n + 5] = (char *)max_rss;
    }
    const pid_t parent = getpid();
    clock_gettime(CLOCK_MONOTONIC, &j->start);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        execv("/proc/self/exe", argv);
        dprintf(2, "vmsim: sweep: cannot run /proc/self/exe: %s\n", strerror(errno));
        _exit(127);
    }
    const int saved = errno;
    free(argv);
    close(out[1]);
    close(err[1]);
    if (pid < 0) {
        close(out[0]);
        close(err[0]);
        errno = saved;
        return -1;
    }
    j->pid = pid;
    j->point = p;
    j->fd[0] = out[0];
    j->fd[1] = err[0];
    j->len[0] = j->len[1] = 0;
    return 0;
}

/* Drain what fd i of job j has; closes it at EOF. */
static void drain(struct job *j, int i)
{
    char chunk[65536];
    ssize_t n = read(j->fd[i], chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
        close(j->fd[i]);
        j->fd[i] = -1;
        return;
    }
    if (j->len[i] + (size_t)n + 1 > j->cap[i]) {
        size_t cap = j->cap[i] ? j->cap[i] : 65536;
        while (cap < j->len[i] + (size_t)n + 1)
            cap *= 2;
        char *b = realloc(j->buf[i], cap);
        if (!b) {
            close(j->fd[i]); /* the row will say the output was lost */
            j->fd[i] = -1;
            return;
        }
        j->buf[i] = b;
        j->cap[i] = cap;
    }
    memcpy(j->buf[i] + j->len[i], chunk, (size_t)n);
    j->len[i] += (size_t)n;
    j->buf[i][j->len[i]] = '\0';
}

/* The child's stderr as one line: "vmsim: " prefixes dropped, lines
 * joined with " / ", at most 2000 bytes. */
static void error_text(const char *err, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = err, *end = err + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if (!strncmp(p, "vmsim: ", 7) && p + 7 <= e) p += 7;
        if (e > p && n + 4 < cap)
            n += (size_t)snprintf(out + n, cap - n, "%s%.*s", n ? " / " : "", (int)(e - p), p);
        p = e + 1;
    }
}

static void progress(const struct sweep *s, size_t running, bool final)
{
    if (!s->progress) return;
    const size_t done = s->ok + s->failed;
    const double t = now() - s->t0;
    const size_t this_run = done - s->nresumed;
    char eta[64] = "";
    if (this_run && done < s->npoints)
        snprintf(eta, sizeof eta, ", about %.0f s left",
                 t / (double)this_run * (double)(s->npoints - done));
    fprintf(stderr, "\r\033[Kvmsim sweep: %zu/%zu points, %zu failed, %zu running, %.0f s%s%s",
            done, s->npoints, s->failed, running, t, eta, final ? "\n" : "");
    fflush(stderr);
}

/* Point j->point finished: build its row, journal it. */
static int finish(struct sweep *s, struct job *j, int status, const struct rusage *ru)
{
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    const double elapsed =
        (double)(end.tv_sec - j->start.tv_sec) + 1e-9 * (double)(end.tv_nsec - j->start.tv_nsec);
    const double cpu = (double)ru->ru_utime.tv_sec + 1e-6 * (double)ru->ru_utime.tv_usec +
                       (double)ru->ru_stime.tv_sec + 1e-6 * (double)ru->ru_stime.tv_usec;
    char error[2048] = "";
    json_t *doc = NULL;
    error_text(j->buf[1] ? j->buf[1] : "", j->len[1], error, sizeof error);
    if (WIFSIGNALED(status)) {
        char e[sizeof error];
        snprintf(e, sizeof e, "killed by signal %d (%s)%s%.1900s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)), error[0] ? ": " : "", error);
        memcpy(error, e, sizeof error);
    } else if (WEXITSTATUS(status) != 0) {
        if (!error[0]) snprintf(error, sizeof error, "exit status %d", WEXITSTATUS(status));
    } else {
        json_error_t je;
        doc = json_loadb(j->buf[0] ? j->buf[0] : "", j->len[0], 0, &je);
        if (!json_is_object(doc)) {
            json_decref(doc);
            doc = NULL;
            snprintf(error, sizeof error, "the run's JSON is not readable: line %d: %s", je.line,
                     je.text);
        }
    }
    const char *why;
    json_t *args = point_args(s, j->point, &why);
    json_t *row = make_row(s, j->point, args, doc, doc ? NULL : error, elapsed, cpu);
    json_decref(args);
    json_decref(doc);
    s->rows[j->point] = row;
    s->ran++;
    if (doc) {
        s->ok++;
    } else {
        s->failed++;
        if (s->progress) fputs("\r\033[K", stderr);
        fprintf(stderr, "vmsim: sweep: point %zu (", j->point);
        for (size_t a = 0; a < s->naxes; a++)
            fprintf(stderr, "%s%s=%s", a ? ", " : "", s->axes[a].key, axis_value(s, a, j->point));
        fprintf(stderr, ") failed: %s\n", error);
    }
    return journal_append(s, row);
}

/* Run every point without a row, -j at a time. 0, 1 (journal trouble) or
 * 128 + the signal (interrupted). */
static int run_all(struct sweep *s, unsigned jobs)
{
    struct job *job = calloc(jobs, sizeof *job);
    struct pollfd *pfd = calloc(2 * (size_t)jobs, sizeof *pfd);
    if (!job || !pfd) {
        free(job);
        free(pfd);
        return cli_fail("out of memory");
    }
    for (unsigned i = 0; i < jobs; i++)
        job[i].pid = 0, job[i].fd[0] = job[i].fd[1] = -1;
    size_t next = 0, running = 0;
    int rc = 0;
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    double last = 0;
    for (;;) {
        while (!interrupted && rc == 0 && running < jobs && next < s->npoints) {
            if (s->rows[next]) {
                next++;
                continue;
            }
            unsigned slot = 0;
            while (job[slot].pid)
                slot++;
            const char *why;
            json_t *args = point_args(s, next, &why);
            if (!args) {
                /* this point cannot even be spelled: a failed row */
                json_t *a = json_array();
                char e[256];
                snprintf(e, sizeof e, "sweep: cannot build the command line: %s", why);
                s->rows[next] = make_row(s, next, a, NULL, e, 0, 0);
                json_decref(a);
                s->failed++;
                fprintf(stderr, "vmsim: sweep: point %zu failed: %s\n", next, e);
                rc = journal_append(s, s->rows[next]);
                next++;
                continue;
            }
            if (start(&job[slot], next, args, s->max_rss) != 0) {
                rc = cli_fail("sweep: cannot start a run: %s", strerror(errno));
                json_decref(args);
                break;
            }
            json_decref(args);
            next++;
            running++;
        }
        if (running == 0) break;
        if (now() - last >= 0.5) {
            progress(s, running, false);
            last = now();
        }
        /* wait for output (or a second, for the progress line) */
        nfds_t n = 0;
        for (unsigned i = 0; i < jobs; i++)
            for (int k = 0; k < 2; k++)
                if (job[i].pid && job[i].fd[k] >= 0)
                    pfd[n++] = (struct pollfd){.fd = job[i].fd[k], .events = POLLIN};
        if (n && poll(pfd, n, 1000) < 0 && errno != EINTR) {
            rc = cli_fail("sweep: poll failed: %s", strerror(errno));
            interrupted = SIGTERM;
        }
        if (interrupted) {
            for (unsigned i = 0; i < jobs; i++)
                if (job[i].pid) kill(job[i].pid, SIGKILL);
        }
        for (unsigned i = 0; i < jobs; i++) {
            struct job *j = &job[i];
            if (!j->pid) continue;
            for (int k = 0; k < 2; k++)
                if (j->fd[k] >= 0) {
                    for (nfds_t q = 0; q < n; q++)
                        if (pfd[q].fd == j->fd[k] && pfd[q].revents) drain(j, k);
                    if (interrupted && j->fd[k] >= 0) {
                        close(j->fd[k]);
                        j->fd[k] = -1;
                    }
                }
            if (j->fd[0] >= 0 || j->fd[1] >= 0) continue;
            int status;
            struct rusage ru;
            while (wait4(j->pid, &status, 0, &ru) < 0 && errno == EINTR)
                ;
            j->pid = 0;
            running--;
            if (!interrupted && rc == 0) rc = finish(s, j, status, &ru);
        }
    }
    for (unsigned i = 0; i < jobs; i++)
        free(job[i].buf[0]), free(job[i].buf[1]);
    free(job);
    free(pfd);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    progress(s, 0, true);
    if (interrupted && rc == 0) rc = 128 + interrupted; /* 130 for SIGINT, 143 for SIGTERM */
    return rc;
}

/* ---- the command -------------------------------------------------------- */

static void sweep_free(struct sweep *s)
{
    for (size_t a = 0; a < s->naxes; a++)
        sweep_axis_free(&s->axes[a]);
    free(s->axes);
    free(s->kinds);
    free(s->base);
    if (s->rows)
        for (size_t p = 0; p < s->npoints; p++)
            json_decref(s->rows[p]);
    free(s->rows);
    free(s->resumed);
    json_decref(s->header);
    if (s->journal >= 0) close(s->journal);
}

static json_t *make_header(const struct sweep *s)
{
    json_t *h = json_object(), *base = json_array(), *axes = json_array();
    json_object_set_new(h, "vmsim_sweep_journal", json_integer(1));
    for (size_t i = 0; i < s->nbase; i++) {
        json_t *o = json_array();
        json_array_append_new(o, json_string(s->base[i].name));
        if (s->base[i].value) json_array_append_new(o, json_string(s->base[i].value));
        json_array_append_new(base, o);
    }
    json_object_set_new(h, "base", base);
    json_object_set_new(h, "workload", s->workload ? json_string(s->workload) : json_null());
    json_object_set_new(h, "trace", s->trace ? json_string(s->trace) : json_null());
    for (size_t a = 0; a < s->naxes; a++) {
        json_t *ax = json_object(), *vals = json_array();
        for (size_t v = 0; v < s->axes[a].nvalues; v++)
            json_array_append_new(vals, json_string(s->axes[a].values[v]));
        json_object_set_new(ax, "key", json_string(s->axes[a].key));
        json_object_set_new(ax, "values", vals);
        json_array_append_new(axes, ax);
    }
    json_object_set_new(h, "axes", axes);
    return h;
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
                                         {"help", no_argument, 0, OPT_HELP},
                                         {0, 0, 0, 0}};
    struct sweep s = {.journal = -1};
    const char *output = NULL, *json = NULL, *journal = NULL, *plot = NULL, *plot_kind = NULL,
               *plot_y = NULL;
    bool fresh = false, quiet = false;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned jobs = ncpu > 0 ? (unsigned)ncpu : 1;
    char err[512];
    int rc = 0;
    struct vmsim_config cfg;
    if ((rc = cli_config_init(&cfg, argc, argv)) != 0) return rc;
    s.base = calloc((size_t)argc, sizeof *s.base);
    s.axes = calloc((size_t)argc, sizeof *s.axes);
    s.kinds = calloc((size_t)argc, sizeof *s.kinds);
    if (!s.base || !s.axes || !s.kinds) {
        sweep_free(&s);
        return cli_fail("out of memory");
    }
    optind = 1;
    opterr = 0;
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
        case OPT_HELP:
            help(stdout);
            sweep_free(&s);
            return 0;
        case '?':
            rc = 2; /* cli_getopt said why */
            break;
        default: /* a machine option: part of the base configuration */
            for (const struct option *c = config_opts; c->name; c++)
                if (c->val == o)
                    s.base[s.nbase++] = (struct base_opt){c->name, c->has_arg ? optarg : NULL, o};
        }
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
    if (rc == 0) rc = check_axes(&s);
    /* The base options that no axis replaces and no placeholder fills must
     * be right for every point: check them once, here. */
    for (size_t i = 0; rc == 0 && i < s.nbase; i++) {
        char name[SWEEP_KEY_MAX];
        if (axis_sets(&s, s.base[i].name) ||
            (s.base[i].value && sweep_placeholder(s.base[i].value, name, sizeof name)))
            continue;
        rc = cli_config_option(&cfg, s.base[i].opt, s.base[i].value);
    }
    if (rc) {
        sweep_free(&s);
        return rc == 1 ? 2 : rc;
    }
    /* every output, before the first point runs: a sweep of hours must not
     * end in "cannot write" */
    if ((output && cli_output_check("-o", output)) || (json && cli_output_check("--json", json)) ||
        (plot && cli_output_check("--plot", plot))) {
        sweep_free(&s);
        return 1;
    }
    s.rows = calloc(s.npoints, sizeof *s.rows);
    s.resumed = calloc(s.npoints, sizeof *s.resumed);
    s.header = make_header(&s);
    if (!s.rows || !s.resumed || !s.header) {
        sweep_free(&s);
        return cli_fail("out of memory");
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
    if (journal && (rc = journal_open(&s, journal, fresh, quiet)) != 0) {
        sweep_free(&s);
        return rc;
    }
    const uint64_t avail = cli_rss_default(); /* 3/4 of MemAvailable, 0: unknown */
    const uint64_t together = jobs < s.npoints ? jobs : (s.npoints ? s.npoints : 1);
    if (avail / together >= (16u << 20))
        snprintf(s.max_rss, sizeof s.max_rss, "%llu", (unsigned long long)(avail / together));
    s.progress = !quiet && isatty(STDERR_FILENO);
    s.t0 = now();
    rc = run_all(&s, jobs);
    const double wall = now() - s.t0;
    if (rc > 128) {
        fprintf(stderr, "vmsim: sweep: interrupted after %zu of %zu points%s%s%s\n",
                s.ok + s.failed, s.npoints,
                journal ? "; run the same command again to resume "
                          "from "
                        : "",
                journal ? journal : "", journal ? "" : " (no journal: give -o FILE to resume)");
        sweep_free(&s);
        return rc;
    }
    int status = rc;
    if (rc == 0) {
        /* the outputs, in grid order */
        char *csv = NULL;
        size_t csv_len = 0;
        FILE *mem = open_memstream(&csv, &csv_len);
        if (!mem) {
            sweep_free(&s);
            return cli_fail("out of memory");
        }
        write_csv(mem, &s);
        fclose(mem);
        if (output || !json) status |= write_output(output ? output : "-", "-o", csv, csv_len);
        if (json) {
            json_t *doc = result_doc(&s, jobs, wall);
            char *text = json_dumps(doc, JSON_INDENT(2));
            json_decref(doc);
            if (text) {
                const size_t n = strlen(text);
                text[n] = '\n'; /* json_dumps' NUL becomes the final newline */
                status |= write_output(json, "--json", text, n + 1);
            } else {
                status |= cli_fail("--json: out of memory");
            }
            free(text);
        }
        if (plot) {
            struct plot_table *t;
            if (plot_table_parse(csv, csv_len, &t, err, sizeof err) != 0) {
                status |= cli_fail("--plot: %s", err);
            } else {
                struct plot_options po = {.kind = plot_kind, .y = plot_y, .output = plot};
                int prc = plot_render(t, &po);
                status = status ? status : prc;
                plot_table_free(t);
            }
        }
        free(csv);
        if (s.failed) status = status ? status : 1;
        if (!quiet || s.failed)
            fprintf(stderr,
                    "vmsim: sweep: %zu points: %zu ok (%zu from the journal), %zu failed, "
                    "%.1f s%s\n",
                    s.npoints, s.ok, s.nresumed, s.failed, wall,
                    s.failed ? "; the failed rows say why" : "");
        /* a complete sweep needs no journal; one with failures keeps it so
         * that a rerun retries only those */
        if (status == 0 && journal) {
            close(s.journal);
            s.journal = -1;
            unlink(journal);
        }
    }
    sweep_free(&s);
    return status;
}
