/* The text grammar of `vmsim sweep` (sweep_spec.h): axes, ranges,
 * workload-parameter edits, placeholders. Everything is bounded: an axis has
 * at most SWEEP_MAX_VALUES values of fewer than SWEEP_VALUE_MAX bytes, and
 * range arithmetic is checked for overflow, so any input string either
 * parses or gets an "expected ..., found ..." message. */
#include "cli/sweep_spec.h"
#include "util/kv.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int spec_error(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int spec_error(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && len) vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -1;
}

void sweep_axis_free(struct sweep_axis *axis)
{
    for (size_t i = 0; i < axis->nvalues; i++)
        free(axis->values[i]);
    free(axis->values);
    axis->values = NULL;
    axis->nvalues = 0;
}

static int push(struct sweep_axis *a, const char *v, size_t len, char *err, size_t errlen)
{
    if (a->nvalues == SWEEP_MAX_VALUES)
        return spec_error(err, errlen, "--axis %s: expected at most %d values, found more", a->key,
                          SWEEP_MAX_VALUES);
    if (len >= SWEEP_VALUE_MAX)
        return spec_error(err, errlen,
                          "--axis %s: expected values shorter than %d bytes, found one of %zu",
                          a->key, SWEEP_VALUE_MAX, len);
    if ((a->nvalues & (a->nvalues - 1)) == 0) { /* grow at powers of two */
        char **grown = realloc(a->values, (a->nvalues ? 2 * a->nvalues : 1) * sizeof *grown);
        if (!grown) return spec_error(err, errlen, "out of memory");
        a->values = grown;
    }
    char *s = malloc(len + 1);
    if (!s) return spec_error(err, errlen, "out of memory");
    memcpy(s, v, len);
    s[len] = '\0';
    a->values[a->nvalues++] = s;
    return 0;
}

/* A range bound: decimal digits with an optional binary unit. Returns 0 and
 * sets *v and *unit (0 when none), or -1. */
static int bound(const char *s, size_t len, uint64_t *v, int *unit)
{
    uint64_t x = 0;
    size_t i = 0;
    for (; i < len && isdigit((unsigned char)s[i]); i++) {
        if (x > (UINT64_MAX - 9) / 10) return -1;
        x = x * 10 + (uint64_t)(s[i] - '0');
    }
    if (i == 0) return -1;
    *unit = 0;
    if (i < len) {
        static const char units[] = "kmgt";
        const char *u = strchr(units, tolower((unsigned char)s[i]));
        if (!u || !*u || i + 1 != len) return -1;
        *unit = (int)(u - units) + 1;
        for (int k = 0; k < *unit; k++) {
            if (x > UINT64_MAX >> 10) return -1;
            x <<= 10;
        }
    }
    *v = x;
    return 0;
}

static void spell(uint64_t v, int unit, char *buf, size_t len)
{
    static const char units[] = "kmgt";
    int u = unit ? 4 : 0;
    while (u > 0 && (v & ((UINT64_C(1) << (10 * u)) - 1)) != 0)
        u--;
    if (u && v)
        snprintf(buf, len, "%" PRIu64 "%c", v >> (10 * u), units[u - 1]);
    else
        snprintf(buf, len, "%" PRIu64, v);
}

/* "A..B", "A..B+S", "A..B*F": 1 and values pushed, 0 when tok is not a
 * range (a plain value), -1 on a malformed one. */
static int range(struct sweep_axis *a, const char *tok, size_t len, char *err, size_t errlen)
{
    /* A range starts with digits, an optional unit and "..": anything else
     * ("../a.vmt", "1.5") is a plain value. */
    size_t i = 0;
    while (i < len && isdigit((unsigned char)tok[i]))
        i++;
    if (i > 0 && i < len && strchr("kmgtKMGT", tok[i])) i++;
    if (i == 0 || i + 1 >= len || tok[i] != '.' || tok[i + 1] != '.') return 0;
    const char *dots = tok + i;
    const char *end = tok + len, *op = NULL;
    for (const char *p = dots + 2; p < end; p++)
        if (*p == '+' || *p == '*') {
            op = p;
            break;
        }
    uint64_t lo, hi, step = 1;
    int ulo, uhi, ustep = 0;
    const char *hi_end = op ? op : end;
    if (bound(tok, (size_t)(dots - tok), &lo, &ulo) ||
        bound(dots + 2, (size_t)(hi_end - dots - 2), &hi, &uhi) ||
        (op && bound(op + 1, (size_t)(end - op - 1), &step, &ustep)) || lo > hi ||
        (op && *op == '*' && (ustep || step < 2 || lo == 0)) || (!(op && *op == '*') && step == 0))
        return spec_error(
            err, errlen,
            "--axis %s: expected a range A..B, A..B+STEP or A..B*FACTOR of integers with "
            "A <= B, STEP >= 1, FACTOR >= 2 and A >= 1 with a FACTOR (units k, m, g, t "
            "allowed on A, B and "
            "STEP), found \"%.*s\"",
            a->key, (int)(len > 200 ? 200 : len), tok);
    const int unit = ulo > uhi ? ulo : uhi;
    for (uint64_t v = lo;;) {
        char buf[32];
        spell(v, unit, buf, sizeof buf);
        if (push(a, buf, strlen(buf), err, errlen)) return -1;
        uint64_t next;
        if (op && *op == '*') {
            if (v > hi / step) break;
            next = v * step;
        } else {
            if (step > hi - v) break;
            next = v + step;
        }
        if (next > hi) break;
        v = next;
    }
    return 1;
}

int sweep_axis_parse(const char *arg, struct sweep_axis *axis, char *err, size_t errlen)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        return spec_error(err, errlen,
                          "--axis: expected KEY=V1,V2,... (e.g. pt=radix,hashed or "
                          "workload.tenants=1..64*4), found \"%.200s\"",
                          arg);
    const size_t klen = (size_t)(eq - arg);
    if (klen >= SWEEP_KEY_MAX)
        return spec_error(err, errlen, "--axis: expected a KEY of at most %d characters, found %zu",
                          SWEEP_KEY_MAX - 1, klen);
    for (size_t i = 0; i < klen; i++)
        if (!isalnum((unsigned char)arg[i]) && !strchr("_.-", arg[i]))
            return spec_error(err, errlen,
                              "--axis: expected a KEY of letters, digits, '_', '.' and '-', found "
                              "\"%.*s\"",
                              (int)klen, arg);
    struct sweep_axis a = {.nvalues = 0, .values = NULL};
    memcpy(a.key, arg, klen);
    a.key[klen] = '\0';
    const char sep = strchr(eq + 1, ';') ? ';' : ',';
    for (const char *v = eq + 1;;) {
        const char *s = strchr(v, sep);
        const size_t len = s ? (size_t)(s - v) : strlen(v);
        if (len == 0) {
            sweep_axis_free(&a);
            return spec_error(err, errlen,
                              "--axis %s: expected a value between separators ('%c'), "
                              "found an empty one in \"%.200s\"",
                              a.key, sep, eq + 1);
        }
        int r = range(&a, v, len, err, errlen);
        if (r == 0) r = push(&a, v, len, err, errlen) ? -1 : 0;
        if (r < 0) {
            sweep_axis_free(&a);
            return -1;
        }
        if (!s) break;
        v = s + 1;
    }
    *axis = a;
    return 0;
}

int sweep_set_param(const char *spec, const char *key, const char *value, char *out, size_t len)
{
    const char *colon = strchr(spec, ':');
    const size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec), klen = strlen(key);
    size_t n = 0;
#define PUT(p, l)                                                                                  \
    do {                                                                                           \
        if (n + (l) >= len) return -1;                                                             \
        memcpy(out + n, (p), (l));                                                                 \
        n += (l);                                                                                  \
    } while (0)
    PUT(spec, nlen);
    PUT(":", 1);
    /* every item but empty ones and key=..., then key=value */
    for (const char *t = colon && colon[1] ? colon + 1 : NULL; t;) {
        struct kv kv;
        t = kv_next(t, &kv);
        if (kv.len && !(kv.val && kv_is(&kv, key))) {
            PUT(kv.s, kv.len);
            PUT(",", 1);
        }
    }
    PUT(key, klen);
    PUT("=", 1);
    PUT(value, strlen(value));
#undef PUT
    out[n] = '\0';
    return 0;
}

int sweep_subst(const char *text, const char *name, const char *value, char *out, size_t len)
{
    const size_t nl = strlen(name), vl = strlen(value);
    size_t n = 0;
    int count = 0;
    if (len == 0) return -1;
    for (const char *p = text; *p;) {
        if (p[0] == '{' && !strncmp(p + 1, name, nl) && p[1 + nl] == '}') {
            if (n + vl >= len) return -1;
            memcpy(out + n, value, vl);
            n += vl;
            p += nl + 2;
            count++;
        } else {
            if (n + 1 >= len) return -1;
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return count;
}

int sweep_is_name(const char *s)
{
    if (!(isalpha((unsigned char)*s) || *s == '_')) return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_')) return 0;
    return 1;
}

int sweep_placeholder(const char *text, char *name, size_t len)
{
    for (const char *p = strchr(text, '{'); p; p = strchr(p + 1, '{')) {
        const char *q = p + 1;
        if (!(isalpha((unsigned char)*q) || *q == '_')) continue;
        while (isalnum((unsigned char)*q) || *q == '_')
            q++;
        if (*q != '}') continue;
        snprintf(name, len, "%.*s", (int)(q - p - 1), p + 1);
        return 1;
    }
    return 0;
}

void sweep_format_real(double v, char *buf, size_t len)
{
    if (isnan(v)) {
        snprintf(buf, len, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, len, v < 0 ? "-inf" : "inf");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}
