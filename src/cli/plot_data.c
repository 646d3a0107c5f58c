/* Reading the data `vmsim plot` draws (plot_data.h) into one table of
 * string columns, whatever it came from:
 *
 *   sweep CSV    RFC 4180: a header line, then one record per point; quoted
 *                fields may hold commas, doubled quotes and newlines. The
 *                axes are the columns between "status" and "source".
 *   sweep JSON   {"sweep": {"axes": [{"key": ...}, ...]}, "rows": [{...}]}:
 *                the scalar members of each row; "config" as compact JSON.
 *   compare JSON {"runs": [{"vary": "KEY=V", "pt": ..., "refs": ...}]}: the
 *                same names as a sweep's (refs -> walk_refs, pt ->
 *                config.pt, "KEY=V" -> column KEY), axes KEY, pt, walker.
 *
 * Every cell is its own NUL-terminated string; a table never holds a NUL
 * inside a cell (such input is refused). Errors name the line or member. */
#include "cli/plot_data.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sweep_spec.h"
#include "vmsim/vmsim.h"

static int table_error(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int table_error(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && len) vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -1;
}

void plot_table_free(struct plot_table *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->ncols; i++)
        free(t->cols[i]);
    for (size_t i = 0; i < t->ncols * t->nrows; i++)
        free(t->cells[i]);
    free(t->cols);
    free(t->cells);
    free(t->axes);
    free(t);
}

long plot_column(const struct plot_table *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (!strcmp(t->cols[i], name)) return (long)i;
    return -1;
}

bool plot_number(const char *s, double *v)
{
    char *end;
    if (!*s || isspace((unsigned char)*s)) return false;
    double d = strtod(s, &end);
    if (end != s && *end == '\0') {
        *v = d;
        return true;
    }
    uint64_t b;
    if (vmsim_parse_size(s, &b) == 0) {
        *v = (double)b;
        return true;
    }
    return false;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Append a column (cells "" in every row); its index or -1 (no memory, or
 * too many). The table is row-major, so this rebuilds it: used once per
 * column before rows exist, and for "organization". */
static long add_column(struct plot_table *t, const char *name)
{
    if (t->ncols == PLOT_MAX_COLS) return -1;
    char **cols = realloc(t->cols, (t->ncols + 1) * sizeof *cols);
    if (!cols) return -1;
    t->cols = cols;
    char **cells = calloc(t->nrows * (t->ncols + 1) + 1, sizeof *cells);
    char *nm = strdup(name);
    if (!cells || !nm) {
        free(cells);
        free(nm);
        return -1;
    }
    for (size_t r = 0; r < t->nrows; r++) {
        memcpy(cells + r * (t->ncols + 1), t->cells + r * t->ncols, t->ncols * sizeof *cells);
        if (!(cells[r * (t->ncols + 1) + t->ncols] = strdup(""))) {
            for (size_t q = 0; q < r; q++)
                free(cells[q * (t->ncols + 1) + t->ncols]);
            free(cells);
            free(nm);
            return -1;
        }
    }
    free(t->cells);
    t->cells = cells;
    t->cols[t->ncols] = nm;
    return (long)t->ncols++;
}

/* Append a row of "" cells; 0 or -1. */
static int add_row(struct plot_table *t, size_t *cap)
{
    if (t->nrows == PLOT_MAX_ROWS) return -1;
    if ((t->nrows + 1) * t->ncols > *cap) {
        size_t n = *cap ? 2 * *cap : 64 * (t->ncols ? t->ncols : 1);
        while (n < (t->nrows + 1) * t->ncols)
            n *= 2;
        char **cells = realloc(t->cells, n * sizeof *cells);
        if (!cells) return -1;
        t->cells = cells;
        *cap = n;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t c = 0; c < t->ncols; c++)
        if (!(row[c] = strdup(""))) {
            while (c--)
                free(row[c]);
            return -1;
        }
    t->nrows++;
    return 0;
}

static int set_cell(struct plot_table *t, size_t row, size_t col, const char *s, size_t n)
{
    char *d = dup_n(s, n);
    if (!d) return -1;
    free(t->cells[row * t->ncols + col]);
    t->cells[row * t->ncols + col] = d;
    return 0;
}

static int add_axis(struct plot_table *t, size_t col)
{
    for (size_t i = 0; i < t->naxes; i++)
        if (t->axes[i] == col) return 0;
    size_t *a = realloc(t->axes, (t->naxes + 1) * sizeof *a);
    if (!a) return -1;
    t->axes = a;
    t->axes[t->naxes++] = col;
    return 0;
}

/* ---- CSV ---------------------------------------------------------------- */

/* One field starting at *p (line counted in *line); its text in buf. Sets
 * *eol at the end of a record. 0, or -1 with err. */
static int csv_field(const char **p, const char *end, size_t *line, char **buf, size_t *cap,
                     size_t *len, bool *eol, char *err, size_t errlen)
{
    const char *s = *p;
    *len = 0;
#define PUTC(ch)                                                                                   \
    do {                                                                                           \
        if (*len + 1 >= *cap) {                                                                    \
            size_t nc = *cap ? 2 * *cap : 256;                                                     \
            char *nb = realloc(*buf, nc);                                                          \
            if (!nb) return table_error(err, errlen, "out of memory");                             \
            *buf = nb;                                                                             \
            *cap = nc;                                                                             \
        }                                                                                          \
        (*buf)[(*len)++] = (ch);                                                                   \
    } while (0)
    if (*cap == 0) {
        if (!(*buf = malloc(256))) return table_error(err, errlen, "out of memory");
        *cap = 256;
    }
    if (s < end && *s == '"') {
        const size_t start = *line;
        for (s++;; s++) {
            if (s == end)
                return table_error(err, errlen,
                                   "CSV line %zu: expected a closing '\"' for the quoted "
                                   "field opened there, found the end of the input",
                                   start);
            if (*s == '"') {
                if (s + 1 < end && s[1] == '"') {
                    PUTC('"');
                    s++;
                    continue;
                }
                s++;
                break;
            }
            if (*s == '\0')
                return table_error(err, errlen, "CSV line %zu: expected text, found a NUL byte",
                                   *line);
            if (*s == '\n') ++*line;
            PUTC(*s);
        }
        if (s < end && *s == '\r' && s + 1 < end && s[1] == '\n') s++;
        if (s < end && *s != ',' && *s != '\n')
            return table_error(err, errlen,
                               "CSV line %zu: expected ',' or the end of the line after a "
                               "quoted field, found '%c'",
                               *line, isprint((unsigned char)*s) ? *s : '?');
    } else {
        for (; s < end && *s != ',' && *s != '\n'; s++) {
            if (*s == '\0')
                return table_error(err, errlen, "CSV line %zu: expected text, found a NUL byte",
                                   *line);
            if (*s == '"')
                return table_error(err, errlen,
                                   "CSV line %zu: expected '\"' only around a whole field, "
                                   "found one inside a field",
                                   *line);
            if (*s == '\r' && (s + 1 == end || s[1] == '\n')) continue;
            PUTC(*s);
        }
    }
#undef PUTC
    (*buf)[*len] = '\0';
    *eol = s == end || *s == '\n';
    if (s < end) {
        if (*s == '\n') ++*line;
        s++;
    }
    *p = s;
    return 0;
}

static int parse_csv(const char *text, size_t len, struct plot_table *t, char *err, size_t errlen)
{
    const char *p = text, *end = text + len;
    size_t line = 1, cap = 0, bcap = 0, flen;
    char *buf = NULL;
    bool eol;
    int rc = 0;
    /* the header */
    do {
        if ((rc = csv_field(&p, end, &line, &buf, &bcap, &flen, &eol, err, errlen)) != 0) goto out;
        if (flen == 0) {
            rc = table_error(err, errlen,
                             "CSV line 1: expected a header of column names, found an "
                             "empty name in column %zu",
                             t->ncols + 1);
            goto out;
        }
        if (plot_column(t, buf) >= 0) {
            rc = table_error(err, errlen,
                             "CSV line 1: expected distinct column names, found \"%.100s\" "
                             "twice",
                             buf);
            goto out;
        }
        if (add_column(t, buf) < 0) {
            rc = table_error(err, errlen,
                             "CSV line 1: expected at most %d columns, found more (or out "
                             "of memory)",
                             PLOT_MAX_COLS);
            goto out;
        }
    } while (!eol);
    while (p < end) {
        const size_t rline = line;
        if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')) { /* blank line */
            p += *p == '\r' ? 2 : 1;
            line++;
            continue;
        }
        if (add_row(t, &cap)) {
            rc = table_error(err, errlen,
                             "CSV line %zu: expected at most %d rows, found more (or out of "
                             "memory)",
                             rline, PLOT_MAX_ROWS);
            goto out;
        }
        size_t c = 0;
        do {
            if ((rc = csv_field(&p, end, &line, &buf, &bcap, &flen, &eol, err, errlen)) != 0)
                goto out;
            if (c < t->ncols && set_cell(t, t->nrows - 1, c, buf, flen)) {
                rc = table_error(err, errlen, "out of memory");
                goto out;
            }
            c++;
        } while (!eol);
        if (c != t->ncols) {
            rc = table_error(err, errlen,
                             "CSV line %zu: expected %zu fields (as the header), found %zu", rline,
                             t->ncols, c);
            goto out;
        }
    }
    if (t->nrows == 0) {
        rc = table_error(err, errlen, "CSV: expected a header and at least one row, found %s",
                         "the header alone");
        goto out;
    }
    /* a sweep's axes sit between "status" and "source" */
    long st = plot_column(t, "status"), so = plot_column(t, "source");
    if (st >= 0 && so > st)
        for (long c = st + 1; c < so; c++)
            if (add_axis(t, (size_t)c)) {
                rc = table_error(err, errlen, "out of memory");
                goto out;
            }
    t->kind_hint = "sweep-csv";
out:
    free(buf);
    return rc;
}

/* ---- JSON --------------------------------------------------------------- */

/* A scalar as a cell's text into buf; false for arrays and objects. */
static bool scalar_text(const json_t *v, char *buf, size_t len)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        snprintf(buf, len, "%s", json_string_value(v));
        return true;
    case JSON_INTEGER:
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
        return true;
    case JSON_REAL:
        sweep_format_real(json_real_value(v), buf, len);
        return true;
    case JSON_TRUE:
        snprintf(buf, len, "true");
        return true;
    case JSON_FALSE:
        snprintf(buf, len, "false");
        return true;
    case JSON_NULL:
        buf[0] = '\0';
        return true;
    default:
        return false;
    }
}

/* Column name for member key of a compare run. */
static const char *compare_name(const char *key)
{
    return !strcmp(key, "refs") ? "walk_refs" : key;
}

/* JSON lines (`vmsim run --interval-out F.jsonl`): one object per line,
 * read as the rows of a sweep's JSON. NULL, with je set, when the text is
 * not a sequence of JSON values. */
static json_t *load_json_lines(const char *text, size_t len, json_error_t *je)
{
    json_t *rows = json_array();
    size_t pos = 0, line = 1;
    while (rows) {
        while (pos < len && isspace((unsigned char)text[pos]))
            line += text[pos++] == '\n';
        if (pos == len)
            return json_pack("{s:o}", "rows", rows);
        json_t *v = json_loadb(text + pos, len - pos,
                               JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, je);
        if (!v || json_array_append_new(rows, v)) {
            je->line += (int)line - 1;
            break;
        }
        pos += je->position;
    }
    json_decref(rows);
    return NULL;
}

static int parse_json(const char *text, size_t len, struct plot_table *t, char *err, size_t errlen)
{
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        doc = load_json_lines(text, len, &je);
    if (!doc)
        return table_error(err, errlen, "JSON line %d: expected valid JSON, found an error: %.200s",
                           je.line, je.text);
    int rc = -1;
    char cell[SWEEP_VALUE_MAX], vkey[64] = "";
    json_t *rows = json_object_get(doc, "rows");
    const bool compare = !rows && json_object_get(doc, "runs");
    if (compare) rows = json_object_get(doc, "runs");
    if (!json_is_object(doc) || !json_is_array(rows)) {
        table_error(err, errlen,
                    "JSON: expected an object with \"rows\" (vmsim sweep --json) or \"runs\" "
                    "(vmsim compare --json), found neither");
        goto out;
    }
    if (json_array_size(rows) == 0) {
        table_error(err, errlen, "JSON: expected at least one row in \"%s\", found none",
                    compare ? "runs" : "rows");
        goto out;
    }
    if (json_array_size(rows) > PLOT_MAX_ROWS) {
        table_error(err, errlen, "JSON: expected at most %d rows, found %zu", PLOT_MAX_ROWS,
                    json_array_size(rows));
        goto out;
    }
    /* pass 1: the columns, in order of first appearance */
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (!json_is_object(row)) {
            table_error(err, errlen, "JSON: expected row %zu to be an object, found another type",
                        i);
            goto out;
        }
        const char *k;
        json_t *v;
        json_object_foreach(row, k, v)
        {
            if (!strcmp(k, "config") && json_is_object(v)) {
                /* compact JSON text as one column */
            } else if (!scalar_text(v, cell, sizeof cell)) {
                continue;
            }
            if (!*k) continue;
            if (compare && !strcmp(k, "vary")) {
                const char *s = json_string_value(v), *eq = s ? strchr(s, '=') : NULL;
                if (!eq || eq == s || (size_t)(eq - s) >= sizeof vkey) {
                    if (s && !*s) continue; /* compare without --vary */
                    table_error(err, errlen,
                                "JSON: run %zu: expected \"vary\": \"KEY=VALUE\", found "
                                "\"%.100s\"",
                                i, s ? s : "(not a string)");
                    goto out;
                }
                if (vkey[0] && (strncmp(s, vkey, (size_t)(eq - s)) || vkey[eq - s])) {
                    table_error(err, errlen,
                                "JSON: run %zu: expected \"vary\" to set %s like the runs "
                                "before, found \"%.100s\"",
                                i, vkey, s);
                    goto out;
                }
                snprintf(vkey, sizeof vkey, "%.*s", (int)(eq - s), s);
            }
            /* (k itself must not change: it drives json_object_foreach) */
            const char *name = compare && !strcmp(k, "vary") ? vkey : k;
            const char *names[2] = {compare ? compare_name(name) : name, NULL};
            if (compare && (!strcmp(k, "pt") || !strcmp(k, "walker")))
                names[1] = !strcmp(k, "pt") ? "config.pt" : "config.walker";
            for (int n = 0; n < 2 && names[n]; n++)
                if (plot_column(t, names[n]) < 0 && add_column(t, names[n]) < 0) {
                    table_error(err, errlen, "JSON: expected at most %d columns, found more",
                                PLOT_MAX_COLS);
                    goto out;
                }
        }
    }
    if (compare && plot_column(t, "status") < 0 && add_column(t, "status") < 0) goto nomem;
    if (t->ncols == 0) {
        table_error(err, errlen, "JSON: expected rows with numbers or strings, found none");
        goto out;
    }
    /* pass 2: the cells */
    size_t cap = 0;
    json_array_foreach(rows, i, row)
    {
        if (add_row(t, &cap)) goto nomem;
        const char *k;
        json_t *v;
        json_object_foreach(row, k, v)
        {
            const char *val = cell;
            char *dumped = NULL;
            if (!strcmp(k, "config") && json_is_object(v)) {
                if (!(dumped = json_dumps(v, JSON_COMPACT))) goto nomem;
                val = dumped;
            } else if (!scalar_text(v, cell, sizeof cell)) {
                continue;
            }
            const char *names[2] = {compare ? compare_name(k) : k, NULL};
            if (compare && !strcmp(k, "vary")) {
                const char *eq = strchr(cell, '=');
                if (!eq) {
                    free(dumped);
                    continue;
                }
                names[0] = vkey;
                val = eq + 1;
            }
            if (compare && (!strcmp(k, "pt") || !strcmp(k, "walker")))
                names[1] = !strcmp(k, "pt") ? "config.pt" : "config.walker";
            int bad = 0;
            for (int n = 0; n < 2 && names[n]; n++) {
                long c = plot_column(t, names[n]);
                if (c >= 0) bad |= set_cell(t, i, (size_t)c, val, strlen(val));
            }
            free(dumped);
            if (bad) goto nomem;
        }
        if (compare && set_cell(t, i, (size_t)plot_column(t, "status"), "ok", 2)) goto nomem;
    }
    /* the axes */
    if (compare) {
        const char *ax[3] = {vkey[0] ? vkey : NULL, "pt", "walker"};
        for (int a = 0; a < 3; a++) {
            long c = ax[a] ? plot_column(t, ax[a]) : -1;
            if (c >= 0 && add_axis(t, (size_t)c)) goto nomem;
        }
        t->kind_hint = "compare";
    } else {
        json_t *axes = json_object_get(json_object_get(doc, "sweep"), "axes"), *a;
        json_array_foreach(axes, i, a)
        {
            /* the axis's column ("mem_bytes" for mem=1g,2g), else its key */
            const char *key = json_string_value(json_object_get(a, "column"));
            if (!key) key = json_string_value(json_object_get(a, "key"));
            long c = key ? plot_column(t, key) : -1;
            if (c >= 0 && add_axis(t, (size_t)c)) goto nomem;
        }
        t->kind_hint = "sweep-json";
    }
    rc = 0;
    goto out;
nomem:
    table_error(err, errlen, "out of memory");
out:
    json_decref(doc);
    return rc;
}

int plot_table_parse(const char *text, size_t len, struct plot_table **out, char *err,
                     size_t errlen)
{
    *out = NULL;
    struct plot_table *t = calloc(1, sizeof *t);
    if (!t) return table_error(err, errlen, "out of memory");
    size_t i = 0;
    while (i < len && isspace((unsigned char)text[i]))
        i++;
    if (i == len) {
        free(t);
        return table_error(err, errlen,
                           "expected a sweep's CSV or JSON or compare's JSON, found %s",
                           len ? "only white space" : "an empty input");
    }
    int rc = text[i] == '{' ? parse_json(text, len, t, err, errlen)
                            : parse_csv(text, len, t, err, errlen);
    /* organization = config.pt, "@sw" for software walks */
    long pt = plot_column(t, "config.pt"), wk = plot_column(t, "config.walker");
    if (rc == 0 && pt >= 0 && plot_column(t, "organization") < 0) {
        long org = add_column(t, "organization");
        if (org < 0) rc = table_error(err, errlen, "out of memory");
        for (size_t r = 0; rc == 0 && r < t->nrows; r++) {
            char name[SWEEP_VALUE_MAX + 4];
            const bool sw = wk >= 0 && !strcmp(plot_cell(t, r, (size_t)wk), "sw");
            snprintf(name, sizeof name, "%.*s%s", SWEEP_VALUE_MAX - 1, plot_cell(t, r, (size_t)pt),
                     sw ? "@sw" : "");
            if (set_cell(t, r, (size_t)org, name, strlen(name)))
                rc = table_error(err, errlen, "out of memory");
        }
    }
    if (rc) {
        plot_table_free(t);
        return -1;
    }
    *out = t;
    return 0;
}
