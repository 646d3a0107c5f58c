/* vmsim sweep, the grid: each --axis classified (a run option, a flag,
 * the input, a workload parameter or a {NAME} variable) and checked with
 * the others; point p's `vmsim run` arguments (the cross product of the
 * axes, first axis slowest, placeholders filled in); and the header that
 * identifies a sweep in its journal. */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/sweep.h"

const struct option sweep_config_opts[] = {CLI_CONFIG_OPTIONS, {0, 0, 0, 0}};

static const struct option *config_option(const char *name)
{
    for (const struct option *o = sweep_config_opts; o->name; o++)
        if (!strcmp(o->name, name)) return o;
    return NULL;
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

/* A plain decimal number: digits, at most one '.', nothing else. */
static bool plain_number(const char *v)
{
    size_t digits = 0, dots = 0;
    for (const char *c = v; *c; c++) {
        if (*c >= '0' && *c <= '9')
            digits++;
        else if (*c == '.')
            dots++;
        else
            return false;
    }
    return digits > 0 && dots <= 1 && digits <= 18;
}

/* A size as the range grammar writes it: digits and an optional binary
 * unit k, m, g or t. 1 with a unit, 0 without, -1 not a size. */
static int size_value(const char *v, uint64_t *bytes)
{
    uint64_t x = 0;
    const char *c = v;
    for (; *c >= '0' && *c <= '9'; c++) {
        if (x > (UINT64_MAX - 9) / 10) return -1;
        x = x * 10 + (uint64_t)(*c - '0');
    }
    if (c == v) return -1;
    if (!*c) {
        *bytes = x;
        return 0;
    }
    const char *u = strchr("kmgt", *c | 0x20);
    if (!u || c[1]) return -1;
    for (int k = 0; k <= u - "kmgt"; k++) {
        if (x > UINT64_MAX >> 10) return -1;
        x <<= 10;
    }
    *bytes = x;
    return 1;
}

/* Axis a's unit and column (docs/cli.md, "The row schema"): sizes with a
 * unit become bytes, in KEY_bytes ('-' as '_'); plain numbers stay KEY.
 * --warmup counts in decimal units (250k), so its values stay text. */
static void classify(struct sweep *s, size_t a)
{
    const struct sweep_axis *ax = &s->axes[a];
    bool numbers = true, sizes = strcmp(ax->key, "warmup") != 0, unit = false;
    for (size_t v = 0; v < ax->nvalues; v++) {
        uint64_t b;
        const int r = size_value(ax->values[v], &b);
        numbers &= plain_number(ax->values[v]);
        sizes &= r >= 0 && b <= INT64_MAX;
        unit |= r == 1;
    }
    if (sizes && unit) {
        s->units[a] = AU_BYTES;
        snprintf(s->columns[a], SWEEP_COLUMN_MAX, "%s_bytes", ax->key);
        for (char *c = s->columns[a]; *c; c++)
            if (*c == '-') *c = '_';
    } else {
        s->units[a] = numbers ? AU_NUMBER : AU_TEXT;
        snprintf(s->columns[a], SWEEP_COLUMN_MAX, "%s", ax->key);
    }
}

json_t *sweep_axis_json(const struct sweep *s, size_t a, size_t p)
{
    const char *v = sweep_axis_value(s, a, p);
    uint64_t b = 0;
    switch (s->units[a]) {
    case AU_BYTES:
        size_value(v, &b);
        return json_integer((json_int_t)b);
    case AU_NUMBER:
        return strchr(v, '.') ? json_real(strtod(v, NULL))
                              : json_integer((json_int_t)strtoll(v, NULL, 10));
    default:
        return json_string(v);
    }
}

int sweep_check_axes(struct sweep *s)
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
        classify(s, a);
        if (sweep_result_column(key) || sweep_result_column(s->columns[a]))
            return cli_usage("--axis %s: expected a KEY whose column is not also a result column "
                             "(point, status, source, error, run_config, config.*, the "
                             "statistics), found \"%s\"",
                             key, s->columns[a]);
        for (size_t b = 0; b < a; b++)
            if (!strcmp(s->columns[b], s->columns[a]))
                return cli_usage("--axis %s and --axis %s: expected a column each, found both "
                                 "in column %s",
                                 s->axes[b].key, key, s->columns[a]);
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

const char *sweep_axis_value(const struct sweep *s, size_t a, size_t p)
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
        if (sweep_subst(a, s->axes[i].key, sweep_axis_value(s, i, p), b, sizeof b) < 0) return NULL;
        memcpy(a, b, strlen(b) + 1);
    }
    return strdup(a);
}

bool sweep_axis_sets(const struct sweep *s, const char *option)
{
    for (size_t a = 0; a < s->naxes; a++)
        if ((s->kinds[a] == AX_OPTION || s->kinds[a] == AX_FLAG) && !strcmp(s->axes[a].key, option))
            return true;
    return false;
}

json_t *sweep_point_args(const struct sweep *s, size_t p, const char **why)
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
        if (sweep_axis_sets(s, s->base[i].name)) continue;
        snprintf(flag, sizeof flag, "--%s", s->base[i].name);
        json_array_append_new(args, json_string(flag));
        if (s->base[i].value) ARG(expand(s, p, s->base[i].value));
    }
    const char *workload = s->workload, *trace = s->trace;
    for (size_t a = 0; a < s->naxes; a++) {
        const char *v = sweep_axis_value(s, a, p);
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
            char *v = expand(s, p, sweep_axis_value(s, a, p));
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

json_t *sweep_header(const struct sweep *s)
{
    json_t *h = json_object(), *base = json_array(), *axes = json_array();
    json_object_set_new(h, "vmsim_sweep_journal", json_integer(SWEEP_JOURNAL_VERSION));
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
        json_object_set_new(ax, "column", json_string(s->columns[a]));
        json_array_append_new(axes, ax);
    }
    json_object_set_new(h, "axes", axes);
    if (s->shard_n) {
        char shard[64];
        snprintf(shard, sizeof shard, "%zu/%zu", s->shard_i, s->shard_n);
        json_object_set_new(h, "shard", json_string(shard));
    }
    return h;
}
