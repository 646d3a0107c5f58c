/* Parsers for the TLB, page-walk-cache and cost specs of the command line
 * and the machine presets (grammar in docs/cli.md):
 *   TLB  NAME=ENTRIESxWAYS[@SIZES][|ENTRIESxWAYS[@SIZES]...][/SIDE][:OPT...]
 *   PWC  l4=ExW,l3=ExW,l2=ExW | unified=ExW | none
 *   cost access=N,pt_ref=N,fault=N,pwc=N
 * Every error says which item was wrong, what was expected, what was found. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fail.h"
#include "util/kv.h"
#include "vmsim/vmsim.h"

#define LAT_UNSET UINT32_MAX

static int parse_u32(const char *s, const char *end, uint32_t *out)
{
    if (s == end || end - s > 10)
        return -1;
    uint64_t v = 0;
    for (const char *p = s; p < end; p++) {
        if (!isdigit((unsigned char)*p))
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* "64x4" -> entries, ways; checks the geometry of the cache. */
static int parse_exw(const char *s, const char *end, struct vmsim_cache_config *c, const char *item,
                     char *why, size_t len)
{
    const char *x = memchr(s, 'x', (size_t)(end - s));
    if (!x || parse_u32(s, x, &c->entries) || parse_u32(x + 1, end, &c->ways))
        return why_fail(why, len, "%s: expected ENTRIESxWAYS (e.g. 64x4), found \"%.*s\"", item,
                        (int)(end - s), s);
    if (c->entries == 0 || c->ways == 0 || c->entries % c->ways || c->entries > (1u << 24))
        return why_fail(
            why, len, "%s: entries must be a non-zero multiple of ways (at most 16M), found %ux%u",
            item, c->entries, c->ways);
    uint32_t sets = c->entries / c->ways;
    if (sets & (sets - 1))
        return why_fail(why, len,
                        "%s: entries/ways must be a power of two number of sets, found %u", item,
                        sets);
    return VMSIM_OK;
}

static int parse_sizes(const char *s, const char *end, uint64_t *mask, const char *item, char *why,
                       size_t len)
{
    *mask = 0;
    while (s < end) {
        const char *plus = memchr(s, '+', (size_t)(end - s));
        const char *e = plus ? plus : end;
        char buf[32];
        uint64_t sz;
        if (e - s >= (long)sizeof buf) return why_fail(why, len, "%s: page size too long", item);
        memcpy(buf, s, (size_t)(e - s));
        buf[e - s] = '\0';
        if (vmsim_parse_size(buf, &sz) || sz < 1024 || (sz & (sz - 1)))
            return why_fail(
                why, len, "%s: expected a power-of-two page size such as 4k, 2m, 1g, found \"%s\"",
                item, buf);
        *mask |= sz;
        s = plus ? plus + 1 : end;
    }
    if (!*mask) return why_fail(why, len, "%s: expected page sizes after '@'", item);
    return VMSIM_OK;
}

static int parse_level(const char *s, const char *end, struct vmsim_tlb_level_config *l,
                       unsigned n, char *why, size_t len)
{
    char item[64];
    snprintf(item, sizeof item, "TLB level %u (\"%.*s\")", n, (int)(end - s > 40 ? 40 : end - s), s);
    memset(l, 0, sizeof *l);
    l->latency = LAT_UNSET;
    const char *eq = memchr(s, '=', (size_t)(end - s));
    if (!eq || eq == s || eq - s >= VMSIM_NAME_MAX)
        return why_fail(why, len, "%s: expected NAME=ENTRIESxWAYS (name 1-%d chars)", item,
                        VMSIM_NAME_MAX - 1);
    for (const char *p = s; p < eq; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
            return why_fail(
                why, len, "%s: level names use letters, digits, '_' and '-', found '%c'", item, *p);
    memcpy(l->name, s, (size_t)(eq - s));
    /* tlb.<NAME>.hits sits beside the hierarchy-wide tlb.* statistics */
    static const char *const reserved[] = {"flushes", "invalidations", "misses_all_levels"};
    for (size_t r = 0; r < sizeof reserved / sizeof reserved[0]; r++)
        if (!strcmp(l->name, reserved[r]))
            return why_fail(why, len,
                            "%s: \"%s\" names a statistic (tlb.%s); choose another level name",
                            item, l->name, l->name);
    const char *p = eq + 1;
    /* options after the first ':' */
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *body_end = colon ? colon : end;
    const char *slash = memchr(p, '/', (size_t)(body_end - p));
    const char *arrays_end = slash ? slash : body_end;
    if (slash) {
        if (body_end - slash != 2 || !strchr("diu", slash[1]))
            return why_fail(why, len, "%s: expected /d, /i or /u after the arrays, found \"%.*s\"",
                            item, (int)(body_end - slash), slash);
        l->side = slash[1] == 'd' ? VMSIM_SIDE_DATA
                  : slash[1] == 'i' ? VMSIM_SIDE_INSN
                                    : VMSIM_SIDE_UNIFIED;
    }
    while (p < arrays_end) {
        if (l->narrays == VMSIM_MAX_TLB_ARRAYS)
            return why_fail(why, len, "%s: at most %d arrays per level", item,
                            VMSIM_MAX_TLB_ARRAYS);
        const char *bar = memchr(p, '|', (size_t)(arrays_end - p));
        const char *ae = bar ? bar : arrays_end;
        const char *at = memchr(p, '@', (size_t)(ae - p));
        struct vmsim_tlb_array_config *a = &l->array[l->narrays];
        struct vmsim_cache_config c;
        int rc = parse_exw(p, at ? at : ae, &c, item, why, len);
        if (rc)
            return rc;
        a->entries = c.entries;
        a->ways = c.ways;
        a->page_shifts = 1ull << 12;
        if (at) {
            /* A power-of-two size 2^s is the mask with bit s set. */
            if ((rc = parse_sizes(at + 1, ae, &a->page_shifts, item, why, len)) != 0)
                return rc;
        }
        for (unsigned j = 0; j < l->narrays; j++)
            if (l->array[j].page_shifts & a->page_shifts)
                return why_fail(why, len,
                                "%s: a page size is served by two arrays (a page fills one)", item);
        l->narrays++;
        p = bar ? bar + 1 : arrays_end;
        if (bar && p == arrays_end)
            return why_fail(why, len, "%s: expected an array after '|'", item);
    }
    if (l->narrays == 0) return why_fail(why, len, "%s: expected ENTRIESxWAYS after '='", item);
    while (colon) {
        const char *o = colon + 1;
        colon = memchr(o, ':', (size_t)(end - o));
        const char *oe = colon ? colon : end;
        uint32_t v;
        if (oe - o == 3 && !memcmp(o, "lru", 3))
            l->repl = VMSIM_REPL_LRU;
        else if (oe - o == 6 && !memcmp(o, "random", 6))
            l->repl = VMSIM_REPL_RANDOM;
        else if (!parse_u32(o, oe, &v))
            l->latency = v;
        else
            return why_fail(why, len,
                            "%s: expected an option (cycles, lru, random), found \"%.*s\"", item,
                            (int)(oe - o), o);
    }
    return VMSIM_OK;
}

int vmsim_tlb_parse(const char *spec, struct vmsim_config *cfg, char *why, size_t len)
{
    struct vmsim_tlb_level_config lv[VMSIM_MAX_TLB_LEVELS] = {0};
    unsigned n = 0;
    if (!spec || !*spec)
        return why_fail(why, len,
                        "TLB spec: expected NAME=ENTRIESxWAYS,... or none, found nothing");
    if (strcmp(spec, "none") != 0) {
        const char *p = spec;
        for (;;) {
            const char *comma = strchr(p, ',');
            const char *e = comma ? comma : p + strlen(p);
            if (n == VMSIM_MAX_TLB_LEVELS)
                return why_fail(why, len, "TLB spec: at most %d levels", VMSIM_MAX_TLB_LEVELS);
            int rc = parse_level(p, e, &lv[n], n + 1, why, len);
            if (rc)
                return rc;
            for (unsigned j = 0; j < n; j++)
                if (!strcmp(lv[j].name, lv[n].name))
                    return why_fail(why, len, "TLB spec: level name \"%s\" used twice", lv[n].name);
            n++;
            if (!comma)
                break;
            p = comma + 1;
        }
    }
    /* Default latencies: 1 cycle for the first level each access side
     * meets, 7 for the levels behind it. */
    bool seen_d = false, seen_i = false;
    for (unsigned i = 0; i < n; i++) {
        bool d = lv[i].side != VMSIM_SIDE_INSN, ins = lv[i].side != VMSIM_SIDE_DATA;
        bool first = (d && !seen_d) || (ins && !seen_i);
        if (lv[i].latency == LAT_UNSET)
            lv[i].latency = first ? 1 : 7;
        seen_d |= d;
        seen_i |= ins;
    }
    memcpy(cfg->tlb, lv, n * sizeof lv[0]);
    cfg->ntlb = n;
    return VMSIM_OK;
}

int vmsim_pwc_parse(const char *spec, struct vmsim_config *cfg, char *why, size_t len)
{
    struct vmsim_pwc_config p = {.latency = cfg->pwc.latency};
    if (!spec || !*spec)
        return why_fail(why, len, "PWC spec: expected lK=ENTRIESxWAYS,..., unified=ExW or none");
    if (strcmp(spec, "none") != 0) {
        const char *s = spec;
        for (;;) {
            const char *comma = strchr(s, ',');
            const char *e = comma ? comma : s + strlen(s);
            const char *eq = memchr(s, '=', (size_t)(e - s));
            char item[48];
            snprintf(item, sizeof item, "PWC item \"%.*s\"", (int)(e - s > 30 ? 30 : e - s), s);
            if (!eq)
                return why_fail(why, len, "%s: expected lK=ENTRIESxWAYS or unified=ENTRIESxWAYS",
                                item);
            struct vmsim_cache_config c;
            int rc = parse_exw(eq + 1, e, &c, item, why, len);
            if (rc)
                return rc;
            /* as --tlb refuses a level name used twice: the second would
             * silently replace the first */
            if ((eq - s == 7 && !memcmp(s, "unified", 7) && p.unified_mode) ||
                (eq - s == 2 && s[0] == 'l' && s[1] >= '2' && s[1] <= '0' + VMSIM_MAX_LEVELS &&
                 p.level[s[1] - '0'].entries))
                return why_fail(why, len, "PWC spec: level name \"%.*s\" used twice", (int)(eq - s),
                                s);
            if (eq - s == 7 && !memcmp(s, "unified", 7)) {
                p.unified_mode = true;
                p.unified = c;
            } else if (eq - s == 2 && s[0] == 'l' && s[1] >= '2' && s[1] <= '0' + VMSIM_MAX_LEVELS) {
                p.level[s[1] - '0'] = c;
            } else {
                return why_fail(why, len,
                                "%s: expected l2..l%d (cache of that level's entries) or unified",
                                item, VMSIM_MAX_LEVELS);
            }
            if (!comma)
                break;
            s = comma + 1;
        }
        if (p.unified_mode)
            for (unsigned k = 0; k <= VMSIM_MAX_LEVELS; k++)
                if (p.level[k].entries)
                    return why_fail(why, len,
                                    "PWC spec: unified and per-level caches are exclusive");
    }
    cfg->pwc = p;
    return VMSIM_OK;
}

int vmsim_cost_parse(const char *spec, struct vmsim_config *cfg, char *why, size_t len)
{
    struct vmsim_cost_config c = cfg->cost;
    uint32_t pwc = cfg->pwc.latency;
    const struct {
        const char *key;
        uint32_t *dst;
    } keys[] = {{"access", &c.access}, {"pt_ref", &c.pt_ref}, {"fault", &c.fault},
                {"io", &c.io},         {"trap", &c.trap},     {"sw_ref", &c.sw_ref},
                {"vmexit", &c.vmexit}, {"pwc", &pwc}};
    /* a trailing comma ends the list, as it always did */
    for (const char *s = spec; s && *s;) {
        struct kv kv;
        s = kv_next(s, &kv);
        uint32_t v, *dst = NULL;
        for (size_t i = 0; kv.val && !dst && i < sizeof keys / sizeof keys[0]; i++)
            if (kv_is(&kv, keys[i].key))
                dst = keys[i].dst;
        if (!dst)
            return why_fail(why, len,
                            "cost spec: expected access=, pt_ref=, fault=, io=, trap=, sw_ref=, "
                            "vmexit= or pwc=, found \"%.*s\"",
                            (int)kv.len, kv.s);
        if (parse_u32(kv.val, kv.val + kv.vlen, &v))
            return why_fail(why, len,
                            "cost spec: expected a number of cycles after %.*s=, found \"%.*s\"",
                            (int)kv.klen, kv.s, (int)kv.vlen, kv.val);
        *dst = v;
    }
    cfg->cost = c;
    cfg->pwc.latency = pwc;
    return VMSIM_OK;
}
