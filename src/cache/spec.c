/* The cache spec (docs/caches.md):
 *   NAME=SETSxWAYSxLINE[/SIDE][/shared]:LATENCY, ..., dram=N[,row=BxR:H][,data=on|off]
 * or "none". Every error says which item was wrong, what was expected and
 * what was found. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "util/fail.h"
#include "util/kv.h"

/* A decimal number in s[0, n), 1 .. max. */
static bool number(const char *s, size_t n, uint64_t max, uint32_t *out)
{
    if (n == 0 || n > 10)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* "SxWxL" in s[0, n). */
static int geometry(const char *s, size_t n, struct vmsim_cache_level_config *c, const char *item,
                    char *why, size_t len)
{
    const char *x1 = memchr(s, 'x', n);
    const char *x2 = x1 ? memchr(x1 + 1, 'x', n - (size_t)(x1 + 1 - s)) : NULL;
    if (!x2 || !number(s, (size_t)(x1 - s), 1u << 24, &c->sets) ||
        !number(x1 + 1, (size_t)(x2 - x1 - 1), 1024, &c->ways) ||
        !number(x2 + 1, n - (size_t)(x2 + 1 - s), 4096, &c->line))
        return why_fail(
            why, len,
            "%s: expected SETSxWAYSxLINE (e.g. 64x8x64; sets up to 16M, ways up to 1024, "
            "line up to 4096), found \"%.*s\"",
            item, (int)n, s);
    if (!c->sets || !c->ways)
        return why_fail(why, len, "%s: sets and ways must be at least 1, found %ux%u", item,
                        c->sets, c->ways);
    if (c->line < 8 || (c->line & (c->line - 1)))
        return why_fail(why, len,
                        "%s: the line must be a power of two from 8 to 4096 bytes, found %u", item,
                        c->line);
    return VMSIM_OK;
}

static int level(const struct kv *kv, struct vmsim_memory_config *m, char *why, size_t len)
{
    char item[64];
    snprintf(item, sizeof item, "cache level %u (\"%.*s\")", m->ncaches + 1,
             (int)(kv->len > 40 ? 40 : kv->len), kv->s);
    if (m->ncaches == VMSIM_MAX_CACHE_LEVELS)
        return why_fail(why, len, "%s: at most %d cache levels", item, VMSIM_MAX_CACHE_LEVELS);
    struct vmsim_cache_level_config *c = &m->cache[m->ncaches];
    memset(c, 0, sizeof *c);
    if (kv->klen == 0 || kv->klen >= VMSIM_NAME_MAX)
        return why_fail(why, len, "%s: expected NAME=SETSxWAYSxLINE:LATENCY (name 1-%d chars)",
                        item, VMSIM_NAME_MAX - 1);
    for (size_t i = 0; i < kv->klen; i++)
        if (!isalnum((unsigned char)kv->s[i]) && kv->s[i] != '_' && kv->s[i] != '-')
            return why_fail(why, len,
                            "%s: level names use letters, digits, '_' and '-', found '%c'", item,
                            kv->s[i]);
    memcpy(c->name, kv->s, kv->klen);
    for (unsigned j = 0; j < m->ncaches; j++)
        if (!strcmp(m->cache[j].name, c->name))
            return why_fail(why, len, "%s: a level named \"%s\" comes earlier", item, c->name);
    const char *p = kv->val, *end = kv->val + kv->vlen;
    const char *colon = memchr(p, ':', kv->vlen);
    if (!colon)
        return why_fail(why, len, "%s: expected :LATENCY (cycles) after the geometry", item);
    if (!number(colon + 1, (size_t)(end - colon - 1), 1u << 20, &c->latency))
        return why_fail(why, len,
                        "%s: expected a latency in cycles (0 to 1048576) after ':', found \"%.*s\"",
                        item, (int)(end - colon - 1), colon + 1);
    const char *slash = memchr(p, '/', (size_t)(colon - p));
    int rc = geometry(p, (size_t)((slash ? slash : colon) - p), c, item, why, len);
    if (rc)
        return rc;
    c->side = VMSIM_SIDE_UNIFIED;
    bool sided = false;
    while (slash) {
        const char *o = slash + 1;
        const char *next = memchr(o, '/', (size_t)(colon - o));
        const size_t on = (size_t)((next ? next : colon) - o);
        if (on == 1 && strchr("diu", *o) && !sided) {
            c->side = *o == 'd' ? VMSIM_SIDE_DATA : *o == 'i' ? VMSIM_SIDE_INSN : VMSIM_SIDE_UNIFIED;
            sided = true;
        } else if (on == 6 && !memcmp(o, "shared", 6) && !c->shared) {
            c->shared = true;
        } else {
            return why_fail(why, len,
                            "%s: expected /d, /i, /u or /shared (each once), found \"/%.*s\"", item,
                            (int)on, o);
        }
        slash = next;
    }
    m->ncaches++;
    return VMSIM_OK;
}

/* "row=BxR:H" */
static int row(const struct kv *kv, struct vmsim_memory_config *m, char *why, size_t len)
{
    const char *v = kv->val, *end = kv->val + kv->vlen;
    const char *x = memchr(v, 'x', kv->vlen);
    const char *colon = x ? memchr(x, ':', (size_t)(end - x)) : NULL;
    char buf[32];
    uint64_t bytes;
    if (!colon || !number(v, (size_t)(x - v), 1u << 16, &m->dram_banks) || !m->dram_banks ||
        (size_t)(colon - x - 1) >= sizeof buf ||
        !number(colon + 1, (size_t)(end - colon - 1), 1u << 20, &m->dram_row_hit) ||
        !m->dram_row_hit)
        return why_fail(
            why, len,
            "cache spec: expected row=BANKSxROWBYTES:HITCYCLES (e.g. row=16x8k:100; banks "
            "1 to 65536, a hit of 1 or more cycles), found \"%.*s\"",
            (int)kv->len, kv->s);
    memcpy(buf, x + 1, (size_t)(colon - x - 1));
    buf[colon - x - 1] = '\0';
    if (vmsim_parse_size(buf, &bytes) || bytes < 64 || bytes > (1u << 30) || (bytes & (bytes - 1)))
        return why_fail(
            why, len,
            "cache spec: a DRAM row is a power of two from 64 bytes to 1 GiB, found \"%s\"", buf);
    m->dram_row = (uint32_t)bytes;
    return VMSIM_OK;
}

int cache_spec_parse(const char *spec, struct vmsim_memory_config *out, char *why, size_t len)
{
    if (!spec || !out)
        return VMSIM_EINVAL;
    struct vmsim_memory_config m;
    memset(&m, 0, sizeof m);
    if (!strcmp(spec, "none")) {
        *out = m;
        return VMSIM_OK;
    }
    m.data = true;
    bool data_seen = false;
    if (!*spec)
        return why_fail(why, len,
                        "cache spec: expected levels and dram=CYCLES, or none; found nothing");
    for (const char *p = spec; p;) {
        struct kv kv;
        p = kv_next(p, &kv);
        int rc = VMSIM_OK;
        if (!kv.val || kv.vlen == 0) {
            return why_fail(
                why, len,
                "cache spec: expected NAME=SETSxWAYSxLINE:LATENCY, dram=, row= or data=, "
                "found \"%.*s\"",
                (int)kv.len, kv.s);
        } else if (kv_is(&kv, "dram")) {
            if (m.dram || !number(kv.val, kv.vlen, 1u << 24, &m.dram) || !m.dram)
                return why_fail(
                    why, len,
                    "cache spec: expected dram=CYCLES once (1 to 16777216), found \"%.*s\"",
                    (int)kv.len, kv.s);
        } else if (kv_is(&kv, "row")) {
            if (m.dram_row_hit) return why_fail(why, len, "cache spec: row= given twice");
            rc = row(&kv, &m, why, len);
        } else if (kv_is(&kv, "data")) {
            const bool on = kv.vlen == 2 && !memcmp(kv.val, "on", 2);
            const bool off = kv.vlen == 3 && !memcmp(kv.val, "off", 3);
            if ((!on && !off) || data_seen)
                return why_fail(why, len,
                                "cache spec: expected data=on or data=off once, found \"%.*s\"",
                                (int)kv.len, kv.s);
            m.data = on;
            data_seen = true;
        } else {
            if (m.dram)
                return why_fail(
                    why, len, "cache spec: cache levels come before dram=, found \"%.*s\" after it",
                    (int)kv.len, kv.s);
            rc = level(&kv, &m, why, len);
        }
        if (rc)
            return rc;
    }
    if (!m.dram)
        return why_fail(why, len, "cache spec: expected dram=CYCLES (the latency of memory)");
    for (unsigned j = 0; j < m.ncaches; j++) {
        const struct vmsim_cache_level_config *c = &m.cache[j];
        if (c->shared && (j + 1 != m.ncaches || c->side != VMSIM_SIDE_UNIFIED))
            return why_fail(
                why, len,
                "cache spec: only the last level may be /shared, and it must be unified; "
                "found %s, level %u of %u%s",
                c->name, j + 1, m.ncaches, c->side != VMSIM_SIDE_UNIFIED ? ", not /u" : "");
    }
    *out = m;
    return VMSIM_OK;
}
