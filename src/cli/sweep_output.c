/* vmsim sweep, the results: a point's row (its axis values, the
 * configuration columns rebuilt from the run's JSON, the statistics
 * columns, and the whole document), and the outputs written from the rows
 * in grid order: CSV, JSON, a plot. docs/cli.md defines every column. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/plot_data.h"
#include "cli/sweep.h"

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
    {"walk_cycles", "walks.cycles", NULL, COPY},
    {"cycles_per_walk", "walks.cycles", "walks.count", RATIO},
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

bool sweep_result_column(const char *key)
{
    static const char *const fixed[] = {"point",  "status",    "source", "error",
                                        "config", "run_config", "elapsed_s", "cpu_s",
                                        "organization", "args", "stats"};
    for (size_t i = 0; i < NELEM(fixed); i++)
        if (!strcmp(key, fixed[i])) return true;
    for (size_t i = 0; i < NELEM(stat_cols); i++)
        if (!strcmp(key, stat_cols[i].name)) return true;
    return !strncmp(key, "config.", 7);
}

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

/* Keys in column order; "run_config" (the run's config object) and
 * "stats" (the whole document but its config) last, and "args". */
json_t *sweep_row(const struct sweep *s, size_t p, json_t *args, json_t *doc,
                        const char *error, double elapsed, double cpu)
{
    json_t *row = json_object();
    json_object_set_new(row, "point", json_integer((json_int_t)p));
    json_object_set_new(row, "status", json_string(doc ? "ok" : "failed"));
    for (size_t a = 0; a < s->naxes; a++)
        json_object_set_new(row, s->columns[a], sweep_axis_json(s, a, p));
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
    /* not "config": json_normalize would make config.tlb of it, the name of
     * a column above */
    json_object_set(row, "run_config", cfg ? cfg : json_null());
    if (doc) {
        json_t *stats = json_deep_copy(doc);
        json_object_del(stats, "config");
        /* the row's own command line is "args"; the run's argv adds the
         * sweep's plumbing (--json -, --quiet, a --max-rss share that
         * depends on the jobs) */
        json_object_del(stats, "argv");
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

static void sweep_write_csv(FILE *f, const struct sweep *s)
{
    /* the header from a row's keys (every row has the same keys); a
     * shard has rows of its points only */
    json_t *first = NULL;
    for (size_t p = 0; p < s->npoints && !first; p++)
        first = s->rows[p];
    if (!first) return;
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
        if (!s->rows[p]) continue;
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

static json_t *sweep_result_doc(const struct sweep *s, unsigned jobs, double wall)
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
    if (s->rank_points) {
        json_t *ranks = json_array();
        for (int r = 0; r < s->nranks; r++)
            json_array_append_new(ranks, json_integer((json_int_t)s->rank_points[r]));
        json_object_set_new(doc, "ranks", ranks);
    }
    for (size_t p = 0; p < s->npoints; p++)
        if (s->rows[p]) json_array_append(rows, s->rows[p]);
    json_object_set_new(doc, "rows", rows);
    return doc;
}

/* Write through a temporary file and rename, so a reader never sees half
 * an output; "-" is standard output. 0 or 1 after printing why. */
static int sweep_write_output(const char *path, const char *what, const char *text, size_t len)
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

int sweep_write_outputs(const struct sweep *s, const struct sweep_outputs *o, unsigned jobs,
                        double wall)
{
    int status = 0;
    char *csv = NULL;
    size_t csv_len = 0;
    FILE *mem = open_memstream(&csv, &csv_len);
    if (!mem) return cli_fail("out of memory");
    sweep_write_csv(mem, s);
    fclose(mem);
    if (o->csv || !o->json) status |= sweep_write_output(o->csv ? o->csv : "-", "-o", csv, csv_len);
    if (o->json) {
        json_t *doc = sweep_result_doc(s, jobs, wall);
        char *text = json_dumps(doc, JSON_INDENT(2));
        json_decref(doc);
        if (text) {
            const size_t n = strlen(text);
            text[n] = '\n'; /* json_dumps' NUL becomes the final newline */
            status |= sweep_write_output(o->json, "--json", text, n + 1);
        } else {
            status |= cli_fail("--json: out of memory");
        }
        free(text);
    }
    if (o->plot) {
        struct plot_table *t;
        char err[512];
        if (plot_table_parse(csv, csv_len, &t, err, sizeof err) != 0) {
            status |= cli_fail("--plot: %s", err);
        } else {
            struct plot_options po = {.kind = o->plot_kind, .y = o->plot_y, .output = o->plot};
            int prc = plot_render(t, &po);
            status = status ? status : prc;
            plot_table_free(t);
        }
    }
    free(csv);
    return status;
}
