/* Reading a machine back from JSON: the inverse of the "config" object that
 * the JSON report writes (json.c, config_json), so that a run's own result
 * file repeats the run (`vmsim run --config out.json`) and a preset is a
 * file (`vmsim presets --dump NAME`). The schema is the writer's, key for
 * key; docs/library.md and docs/cli.md describe it.
 *
 * Rules:
 *  - The text is either the config object itself or a document that holds
 *    one under "config" (a whole --json output); the rest of such a
 *    document (statistics, provenance) is ignored.
 *  - A key left out keeps the value *cfg had on entry (the caller starts
 *    from vmsim_config_default, or from the options given before); an
 *    array given (tlb, bits, levels of the caches) replaces the whole list.
 *  - An unknown key, a wrong type or a value out of range is an error that
 *    names the key's path from "config" ("config.tlb[1].ways: expected a
 *    positive integer, found \"x\""); *cfg is then unchanged.
 *  - The writer resolves two defaults to numbers: a host memory of twice
 *    the guest's and host pages of the base page. Reading them back maps
 *    those numbers to the defaults again (0), so that a run of several VMs,
 *    each with its own memory, repeats exactly.
 * Checks beyond one key (a page size the geometry lacks, --share-tables
 * with another organization) are left to the CLI's cli_config_finish and
 * to vmsim_create, as for options given on the command line. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt/pt.h"
#include "vmsim/vmsim.h"

#define PATH_MAX_LEN 160

struct rd {
    char *why;
    size_t len;
};

/* "PATH: expected WHAT, found VALUE" into why; returns VMSIM_EINVAL. */
static int fail(struct rd *r, const char *path, const char *what, const json_t *found)
{
    char shown[64] = "nothing";
    if (found) {
        char *s = json_dumps(found, JSON_ENCODE_ANY | JSON_COMPACT);
        if (s) {
            if (strlen(s) > 48)
                snprintf(shown, sizeof shown, "%.44s...", s);
            else
                snprintf(shown, sizeof shown, "%s", s);
        }
        free(s);
    }
    if (r->why && r->len)
        snprintf(r->why, r->len, "%s: expected %s, found %s", path, what, shown);
    return VMSIM_EINVAL;
}

/* out = path.key and out = path[i]: out holds PATH_MAX_LEN bytes, and a
 * path cut short is still a message. */
static void join(char *out, const char *path, const char *key)
{
    const int n = snprintf(out, PATH_MAX_LEN, "%s.%s", path, key);
    if (n < 0 || n >= PATH_MAX_LEN)
        out[PATH_MAX_LEN - 1] = '\0';
}

static void idx(char *out, const char *path, size_t i)
{
    const int n = snprintf(out, PATH_MAX_LEN, "%s[%zu]", path, i);
    if (n < 0 || n >= PATH_MAX_LEN)
        out[PATH_MAX_LEN - 1] = '\0';
}

/* Every key of obj must be one of keys (NULL-terminated). */
static int known_keys(struct rd *r, const json_t *obj, const char *path, const char *const *keys)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], k))
            i++;
        if (keys[i])
            continue;
        char list[400] = "", sub[PATH_MAX_LEN];
        for (size_t j = 0, n = 0; keys[j] && n < sizeof list; j++)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", j ? ", " : "", keys[j]);
        char key[64];
        snprintf(key, sizeof key, "%.60s", k);
        join(sub, path, key);
        if (r->why && r->len)
            snprintf(r->why, r->len, "%s: unknown key; expected one of %s", sub, list);
        return VMSIM_EINVAL;
    }
    return VMSIM_OK;
}

/* An integer from lo to hi under key: 1 when present and set, 0 when
 * absent, negative on error. */
static int get_uint(struct rd *r, const json_t *obj, const char *path, const char *key,
                    uint64_t lo, uint64_t hi, const char *what, uint64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    char sub[PATH_MAX_LEN];
    if (!v)
        return 0;
    join(sub, path, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) < lo || (uint64_t)json_integer_value(v) > hi)
        return fail(r, sub, what, v);
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

#define U32(obj, path, key, lo, what, field)                                                  \
    do {                                                                                      \
        uint64_t x_;                                                                          \
        int rc_ = get_uint(r, obj, path, key, lo, UINT32_MAX, what, &x_);                     \
        if (rc_ < 0)                                                                          \
            return rc_;                                                                       \
        if (rc_)                                                                              \
            (field) = (uint32_t)x_;                                                           \
    } while (0)

static int get_bool(struct rd *r, const json_t *obj, const char *path, const char *key, bool *out)
{
    const json_t *v = json_object_get(obj, key);
    char sub[PATH_MAX_LEN];
    if (!v)
        return 0;
    join(sub, path, key);
    if (!json_is_boolean(v))
        return fail(r, sub, "true or false", v);
    *out = json_is_true(v);
    return 1;
}

static int get_str(struct rd *r, const json_t *obj, const char *path, const char *key, char *buf,
                   size_t size)
{
    const json_t *v = json_object_get(obj, key);
    char sub[PATH_MAX_LEN], what[64];
    if (!v)
        return 0;
    join(sub, path, key);
    snprintf(what, sizeof what, "a string of 1 to %zu characters", size - 1);
    if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) >= size ||
        strlen(json_string_value(v)) != json_string_length(v))
        return fail(r, sub, what, v);
    snprintf(buf, size, "%s", json_string_value(v));
    return 1;
}

/* A level's name (TLB or cache): it becomes part of the statistics' dotted
 * names (tlb.NAME.hits), so letters, digits, '_' and '-' only, as the
 * specs take them. 1 when present and set, negative on error. */
static int get_level_name(struct rd *r, const json_t *obj, const char *path, char *buf, size_t size)
{
    char sub[PATH_MAX_LEN];
    join(sub, path, "name");
    int rc = get_str(r, obj, path, "name", buf, size);
    if (rc <= 0)
        return rc ? rc : fail(r, sub, "the level's name", NULL);
    for (const char *c = buf; *c; c++)
        if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') && !(*c >= '0' && *c <= '9') &&
            *c != '_' && *c != '-')
            return fail(r, sub, "a name of letters, digits, '_' and '-'", json_object_get(obj, "name"));
    return 1;
}

/* One of names (NULL-terminated): its index, or -1 when absent; negative
 * below -1 on error (VMSIM_EINVAL is below -1). */
static int get_name(struct rd *r, const json_t *obj, const char *path, const char *key,
                    const char *const *names)
{
    const json_t *v = json_object_get(obj, key);
    char sub[PATH_MAX_LEN], what[200] = "";
    if (!v)
        return -1;
    for (int i = 0; json_is_string(v) && names[i]; i++)
        if (!strcmp(json_string_value(v), names[i]))
            return i;
    join(sub, path, key);
    for (size_t i = 0, n = 0; names[i] && n < sizeof what; i++)
        n += (size_t)snprintf(what + n, sizeof what - n, "%s\"%s\"", i == 0 ? "" :
                              names[i + 1] ? ", " : " or ", names[i]);
    return fail(r, sub, what, v);
}

/* A power-of-two size in bytes: its log2. */
static int get_shift(struct rd *r, const json_t *obj, const char *path, const char *key,
                     uint64_t lo, unsigned *shift)
{
    uint64_t x = 0;
    char what[80];
    snprintf(what, sizeof what, "a power of two of at least %llu (bytes)", (unsigned long long)lo);
    int rc = get_uint(r, obj, path, key, lo, UINT64_MAX, what, &x);
    if (rc <= 0)
        return rc;
    if (x & (x - 1)) {
        char sub[PATH_MAX_LEN];
        join(sub, path, key);
        return fail(r, sub, what, json_object_get(obj, key));
    }
    *shift = (unsigned)__builtin_ctzll(x);
    return 1;
}

/* An object (or, with nullable, null: returns 2) under key; 0 when absent. */
static int get_obj(struct rd *r, const json_t *obj, const char *path, const char *key,
                   bool nullable, const json_t **out)
{
    const json_t *v = json_object_get(obj, key);
    char sub[PATH_MAX_LEN];
    if (!v)
        return 0;
    if (nullable && json_is_null(v))
        return 2;
    join(sub, path, key);
    if (!json_is_object(v))
        return fail(r, sub, nullable ? "an object or null" : "an object", v);
    *out = v;
    return 1;
}

static int get_array(struct rd *r, const json_t *obj, const char *path, const char *key,
                     size_t lo, size_t hi, const json_t **out)
{
    const json_t *v = json_object_get(obj, key);
    char sub[PATH_MAX_LEN], what[64];
    if (!v)
        return 0;
    join(sub, path, key);
    snprintf(what, sizeof what, "an array of %zu to %zu elements", lo, hi);
    if (!json_is_array(v) || json_array_size(v) < lo || json_array_size(v) > hi)
        return fail(r, sub, what, v);
    *out = v;
    return 1;
}

/* An organization "NAME[:k=v,...]" as --pt takes it. */
static int get_pt(struct rd *r, const json_t *obj, const char *path, const char *key, char *buf,
                  size_t size)
{
    char tmp[96], sub[PATH_MAX_LEN], why[160] = "";
    int rc = get_str(r, obj, path, key, tmp, sizeof tmp < size ? sizeof tmp : size);
    if (rc <= 0)
        return rc;
    const char *params;
    const struct pt_ops *ops = pt_find(tmp, &params);
    join(sub, path, key);
    if (!ops)
        return fail(r, sub, "a page-table organization (radix, hashed, inverted, ...)",
                    json_object_get(obj, key));
    if (ops->check ? ops->check(params, why, sizeof why) != VMSIM_OK : *params != '\0') {
        char what[200];
        snprintf(what, sizeof what, "options %s takes (%s)", ops->name,
                 why[0] ? why : "none");
        return fail(r, sub, what, json_object_get(obj, key));
    }
    snprintf(buf, size, "%s", tmp);
    return 1;
}

static int read_geometry(struct rd *r, const json_t *o, const char *path, struct vmsim_geometry *g)
{
    static const char *const keys[] = {"name", "va_bits", "page_size", "levels", "pte_bytes",
                                       "bits_root_first", "leaf_page_sizes", NULL};
    int rc;
    uint64_t x;
    unsigned shift;
    char sub[PATH_MAX_LEN], why[160] = "";
    if ((rc = known_keys(r, o, path, keys)) != 0)
        return rc;
    if ((rc = get_str(r, o, path, "name", g->name, sizeof g->name)) < 0)
        return rc;
    if ((rc = get_uint(r, o, path, "va_bits", 1, 64, "an integer from 1 to 64", &x)) < 0)
        return rc;
    if (rc)
        g->va_bits = (uint8_t)x;
    if ((rc = get_shift(r, o, path, "page_size", 1, &shift)) < 0)
        return rc;
    if (rc)
        g->page_shift = (uint8_t)shift;
    if ((rc = get_uint(r, o, path, "pte_bytes", 1, 255, "4 or 8", &x)) < 0)
        return rc;
    if (rc)
        g->pte_bytes = (uint8_t)x;
    const json_t *bits = NULL, *leaves = NULL;
    if ((rc = get_array(r, o, path, "bits_root_first", 1, VMSIM_MAX_LEVELS, &bits)) < 0)
        return rc;
    if (bits) {
        g->levels = (uint8_t)json_array_size(bits);
        join(sub, path, "bits_root_first");
        for (size_t i = 0; i < json_array_size(bits); i++) {
            char el[PATH_MAX_LEN];
            const json_t *b = json_array_get(bits, i);
            idx(el, sub, i);
            if (!json_is_integer(b) || json_integer_value(b) < 1 || json_integer_value(b) > 32)
                return fail(r, el, "an integer from 1 to 32 (index bits)", b);
            g->bits[i] = (uint8_t)json_integer_value(b);
        }
        g->leaf_levels &= (uint8_t)((2u << g->levels) - 1); /* no leaf above the root */
    }
    if ((rc = get_uint(r, o, path, "levels", 1, VMSIM_MAX_LEVELS, "an integer from 1 to 6", &x)) < 0)
        return rc;
    if (rc && x != g->levels) {
        char what[80];
        join(sub, path, "levels");
        snprintf(what, sizeof what, "the length of bits_root_first (%u)", (unsigned)g->levels);
        return fail(r, sub, what, json_object_get(o, "levels"));
    }
    if ((rc = get_array(r, o, path, "leaf_page_sizes", 1, VMSIM_MAX_LEVELS, &leaves)) < 0)
        return rc;
    if (leaves) {
        uint8_t mask = 0;
        join(sub, path, "leaf_page_sizes");
        for (size_t i = 0; i < json_array_size(leaves); i++) {
            char el[PATH_MAX_LEN];
            const json_t *s = json_array_get(leaves, i);
            idx(el, sub, i);
            unsigned k = 1;
            while (k <= g->levels && !(json_is_integer(s) && json_integer_value(s) > 0 &&
                                       vmsim_geometry_page_shift(g, k) < 63 &&
                                       (json_int_t)(1ull << vmsim_geometry_page_shift(g, k)) ==
                                           json_integer_value(s)))
                k++;
            if (k > g->levels)
                return fail(r, el, "the page size of a level of this geometry", s);
            mask |= (uint8_t)(1u << k);
        }
        g->leaf_levels = mask;
    }
    g->leaf_levels |= 2; /* level 1 always holds leaves */
    if (vmsim_geometry_check(g, why, sizeof why) != VMSIM_OK) {
        if (r->why && r->len)
            snprintf(r->why, r->len, "%s: %s", path, why);
        return VMSIM_EINVAL;
    }
    return VMSIM_OK;
}

static int read_exw(struct rd *r, const json_t *o, const char *path, struct vmsim_cache_config *c)
{
    static const char *const keys[] = {"entries", "ways", NULL};
    int rc;
    if ((rc = known_keys(r, o, path, keys)) != 0)
        return rc;
    struct vmsim_cache_config n = *c;
    U32(o, path, "entries", 0, "an integer from 0 to 2^32 - 1", n.entries);
    U32(o, path, "ways", 0, "an integer from 0 to 2^32 - 1", n.ways);
    char sub[PATH_MAX_LEN];
    join(sub, path, "ways");
    if (n.entries && (!n.ways || n.entries % n.ways || n.entries > (1u << 24)))
        return fail(r, sub, "ways dividing the entries (at most 16M entries)",
                    json_object_get(o, "ways") ? json_object_get(o, "ways") : json_object_get(o, "entries"));
    *c = n;
    return VMSIM_OK;
}

static int read_pwc(struct rd *r, const json_t *o, const char *path, struct vmsim_pwc_config *p)
{
    static const char *const keys[] = {"mode", "unified", "l2", "l3", "l4", "l5", "l6",
                                       "latency", NULL};
    static const char *const modes[] = {"split", "unified", NULL};
    int rc;
    if ((rc = known_keys(r, o, path, keys)) != 0)
        return rc;
    struct vmsim_pwc_config n = *p;
    if ((rc = get_name(r, o, path, "mode", modes)) < -1)
        return rc;
    if (rc >= 0) {
        /* a mode given is the whole cache: the levels listed, no others */
        const uint32_t lat = n.latency;
        memset(&n, 0, sizeof n);
        n.latency = lat;
        n.unified_mode = rc == 1;
    }
    const json_t *c = NULL;
    char sub[PATH_MAX_LEN];
    for (unsigned k = 1; k <= VMSIM_MAX_LEVELS; k++) {
        char name[8];
        if (k == 1)
            snprintf(name, sizeof name, "unified");
        else
            snprintf(name, sizeof name, "l%u", k);
        if ((rc = get_obj(r, o, path, name, false, &c)) < 0)
            return rc;
        if (!rc)
            continue;
        join(sub, path, name);
        if ((k == 1) != n.unified_mode)
            return fail(r, sub, n.unified_mode ? "no split level with mode \"unified\""
                                               : "no unified cache with mode \"split\"", c);
        if ((rc = read_exw(r, c, sub, k == 1 ? &n.unified : &n.level[k])) != 0)
            return rc;
    }
    U32(o, path, "latency", 0, "a number of cycles", n.latency);
    *p = n;
    return VMSIM_OK;
}

static int read_tlb(struct rd *r, const json_t *a, const char *path, struct vmsim_config *cfg)
{
    static const char *const keys[] = {"name", "side", "replacement", "latency", "arrays", NULL};
    static const char *const akeys[] = {"entries", "ways", "page_sizes", NULL};
    static const char *const sides[] = {"u", "d", "i", NULL};
    static const char *const repls[] = {"lru", "random", NULL};
    struct vmsim_tlb_level_config lv[VMSIM_MAX_TLB_LEVELS];
    memset(lv, 0, sizeof lv);
    int rc;
    for (size_t i = 0; i < json_array_size(a); i++) {
        char p[PATH_MAX_LEN], sub[PATH_MAX_LEN];
        const json_t *o = json_array_get(a, i), *arrays = NULL;
        struct vmsim_tlb_level_config *l = &lv[i];
        idx(p, path, i);
        if (!json_is_object(o))
            return fail(r, p, "an object (a TLB level)", o);
        if ((rc = known_keys(r, o, p, keys)) != 0)
            return rc;
        if ((rc = get_level_name(r, o, p, l->name, sizeof l->name)) < 0)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(lv[j].name, l->name)) {
                join(sub, p, "name");
                return fail(r, sub, "a name no other level has", json_object_get(o, "name"));
            }
        if ((rc = get_name(r, o, p, "side", sides)) < -1)
            return rc;
        l->side = (uint8_t)(rc < 0 ? VMSIM_SIDE_UNIFIED : rc);
        if ((rc = get_name(r, o, p, "replacement", repls)) < -1)
            return rc;
        l->repl = (uint8_t)(rc < 0 ? VMSIM_REPL_LRU : rc);
        U32(o, p, "latency", 0, "a number of cycles", l->latency);
        if ((rc = get_array(r, o, p, "arrays", 1, VMSIM_MAX_TLB_ARRAYS, &arrays)) <= 0) {
            join(sub, p, "arrays");
            return rc ? rc : fail(r, sub, "an array of 1 to 4 arrays", NULL);
        }
        join(sub, p, "arrays");
        l->narrays = (uint8_t)json_array_size(arrays);
        for (size_t j = 0; j < l->narrays; j++) {
            char ap[PATH_MAX_LEN], sp[PATH_MAX_LEN];
            const json_t *ao = json_array_get(arrays, j), *sizes = NULL;
            struct vmsim_tlb_array_config *ac = &l->array[j];
            idx(ap, sub, j);
            if (!json_is_object(ao))
                return fail(r, ap, "an object (entries, ways, page_sizes)", ao);
            if ((rc = known_keys(r, ao, ap, akeys)) != 0)
                return rc;
            U32(ao, ap, "entries", 1, "a positive integer", ac->entries);
            U32(ao, ap, "ways", 1, "a positive integer", ac->ways);
            if (!ac->entries || !ac->ways || ac->entries % ac->ways || ac->entries > (1u << 24)) {
                join(sp, ap, ac->entries ? "ways" : "entries");
                return fail(r, sp, ac->entries ? "ways dividing the entries (at most 16M entries)"
                                               : "a positive integer",
                            json_object_get(ao, ac->entries ? "ways" : "entries"));
            }
            if ((rc = get_array(r, ao, ap, "page_sizes", 1, 64, &sizes)) <= 0) {
                join(sp, ap, "page_sizes");
                return rc ? rc : fail(r, sp, "an array of page sizes", NULL);
            }
            join(sp, ap, "page_sizes");
            for (size_t s = 0; s < json_array_size(sizes); s++) {
                char ep[PATH_MAX_LEN];
                const json_t *z = json_array_get(sizes, s);
                idx(ep, sp, s);
                const json_int_t x = json_is_integer(z) ? json_integer_value(z) : 0;
                if (x < 1024 || (x & (x - 1)))
                    return fail(r, ep, "a power-of-two page size of at least 1024", z);
                ac->page_shifts |= 1ull << __builtin_ctzll((unsigned long long)x);
            }
        }
    }
    memcpy(cfg->tlb, lv, sizeof lv);
    cfg->ntlb = (uint32_t)json_array_size(a);
    return VMSIM_OK;
}

static int read_cost(struct rd *r, const json_t *o, const char *path, struct vmsim_config *cfg)
{
    static const char *const keys[] = {"access", "pt_ref", "fault", "io", "pwc", "trap",
                                       "sw_ref", "vmexit", "walker", NULL};
    static const char *const walkers[] = {"hw", "sw", NULL};
    int rc;
    if ((rc = known_keys(r, o, path, keys)) != 0)
        return rc;
    struct vmsim_cost_config *c = &cfg->cost;
    static const char cyc[] = "a number of cycles";
    U32(o, path, "access", 0, cyc, c->access);
    U32(o, path, "pt_ref", 0, cyc, c->pt_ref);
    U32(o, path, "fault", 0, cyc, c->fault);
    U32(o, path, "io", 0, cyc, c->io);
    U32(o, path, "trap", 0, cyc, c->trap);
    U32(o, path, "sw_ref", 0, cyc, c->sw_ref);
    U32(o, path, "vmexit", 0, cyc, c->vmexit);
    U32(o, path, "pwc", 0, cyc, cfg->pwc.latency); /* the same field as pwc.latency */
    if ((rc = get_name(r, o, path, "walker", walkers)) < -1)
        return rc;
    if (rc >= 0)
        cfg->sw_walk = rc == 1;
    return VMSIM_OK;
}

static int read_kernel(struct rd *r, const json_t *o, const char *path, struct vmsim_config *cfg)
{
    static const char *const keys[] = {"swap_bytes", "replace", "strict", "thp", "evict_tables",
                                       "verify", "handler_frame", "kernel_stack", "vipt_sets",
                                       "vipt_block", "share_tables", "compact", "khugepaged",
                                       NULL};
    int rc;
    uint64_t x;
    char sub[PATH_MAX_LEN];
    if ((rc = known_keys(r, o, path, keys)) != 0)
        return rc;
    if ((rc = get_uint(r, o, path, "swap_bytes", 0, INT64_MAX, "a size in bytes", &cfg->swap_bytes)) < 0)
        return rc;
    if ((rc = get_name(r, o, path, "replace", vmsim_replace_names)) < -1)
        return rc;
    if (rc >= 0)
        cfg->replace = (uint8_t)rc;
    if ((rc = get_name(r, o, path, "thp", vmsim_thp_names)) < -1)
        return rc;
    if (rc >= 0)
        cfg->thp = (uint8_t)rc;
    if ((rc = get_bool(r, o, path, "strict", &cfg->strict)) < 0 ||
        (rc = get_bool(r, o, path, "evict_tables", &cfg->evict_tables)) < 0 ||
        (rc = get_bool(r, o, path, "verify", &cfg->verify)) < 0 ||
        (rc = get_bool(r, o, path, "share_tables", &cfg->share_tables)) < 0 ||
        (rc = get_bool(r, o, path, "compact", &cfg->compact)) < 0)
        return rc;
    const json_t *kh = NULL;
    if ((rc = get_obj(r, o, path, "khugepaged", true, &kh)) < 0)
        return rc;
    if (rc == 2) {
        cfg->khugepaged.every = 0;
    } else if (rc == 1) {
        static const char *const kkeys[] = {"every", "pages", "max_ptes_none", "max_ptes_swap",
                                            "max_ptes_shared", "copy", NULL};
        char kp[PATH_MAX_LEN];
        join(kp, path, "khugepaged");
        if ((rc = known_keys(r, kh, kp, kkeys)) != 0)
            return rc;
        struct vmsim_khugepaged_config k = cfg->khugepaged;
        if (!k.every) /* off before: --khugepaged's defaults for what is left out */
            k = (struct vmsim_khugepaged_config){0, VMSIM_KHP_DEFAULT, VMSIM_KHP_DEFAULT,
                                                 VMSIM_KHP_DEFAULT, VMSIM_KHP_DEFAULT,
                                                 VMSIM_KHP_DEFAULT};
        if ((rc = get_uint(r, kh, kp, "every", 1, INT64_MAX, "a positive number of accesses",
                           &k.every)) <= 0) {
            char ep[PATH_MAX_LEN];
            join(ep, kp, "every");
            if (rc < 0 || !k.every)
                return rc < 0 ? rc : fail(r, ep, "a positive number of accesses", NULL);
        }
        U32(kh, kp, "pages", 1, "a positive number of entries", k.pages);
        U32(kh, kp, "max_ptes_none", 0, "a number of entries", k.max_ptes_none);
        U32(kh, kp, "max_ptes_swap", 0, "a number of entries", k.max_ptes_swap);
        U32(kh, kp, "max_ptes_shared", 0, "a number of entries", k.max_ptes_shared);
        U32(kh, kp, "copy", 0, "a number of cycles", k.copy);
        cfg->khugepaged = k;
    }
    U32(o, path, "handler_frame", 1, "a positive number of bytes", cfg->handler_frame);
    U32(o, path, "kernel_stack", 1, "a positive number of bytes", cfg->kernel_stack);
    for (int i = 0; i < 2; i++) {
        const char *key = i ? "vipt_block" : "vipt_sets";
        if ((rc = get_uint(r, o, path, key, 0, 1u << 20, "0 or a power of two up to 2^20", &x)) < 0)
            return rc;
        if (rc && (x & (x - 1))) {
            join(sub, path, key);
            return fail(r, sub, "0 or a power of two up to 2^20", json_object_get(o, key));
        }
        if (rc)
            *(i ? &cfg->vipt_block : &cfg->vipt_sets) = (uint32_t)x;
    }
    if (!cfg->vipt_sets != !cfg->vipt_block) {
        join(sub, path, "vipt_block");
        return fail(r, sub, "vipt_sets and vipt_block both 0 or both set",
                    json_object_get(o, "vipt_block"));
    }
    return VMSIM_OK;
}

static int read_migrate(struct rd *r, const json_t *o, const char *path, struct vmsim_migrate_config *m)
{
    static const char *const keys[] = {"at", "link_bytes", "clock_hz", "downtime_ns", "max_rounds",
                                       NULL};
    int rc;
    if ((rc = known_keys(r, o, path, keys)) != 0)
        return rc;
    /* the defaults of --migrate for what is left out */
    struct vmsim_migrate_config n = {.link_bytes = 1250000000ull, .clock_hz = 2500000000ull,
                                     .downtime_ns = 300000000ull, .max_rounds = 30};
    char sub[PATH_MAX_LEN];
    if ((rc = get_uint(r, o, path, "at", 1, INT64_MAX, "a positive number of accesses", &n.at)) <= 0) {
        join(sub, path, "at");
        return rc ? rc : fail(r, sub, "a positive number of accesses", NULL);
    }
    if ((rc = get_uint(r, o, path, "link_bytes", 1, INT64_MAX, "bytes per second, positive",
                       &n.link_bytes)) < 0 ||
        (rc = get_uint(r, o, path, "clock_hz", 1, INT64_MAX, "cycles per second, positive",
                       &n.clock_hz)) < 0 ||
        (rc = get_uint(r, o, path, "downtime_ns", 0, INT64_MAX, "nanoseconds", &n.downtime_ns)) < 0)
        return rc;
    U32(o, path, "max_rounds", 1, "a number of rounds from 1 to 1000000", n.max_rounds);
    if (n.max_rounds > 1000000) {
        join(sub, path, "max_rounds");
        return fail(r, sub, "a number of rounds from 1 to 1000000", json_object_get(o, "max_rounds"));
    }
    *m = n;
    return VMSIM_OK;
}

static int read_nested(struct rd *r, const json_t *o, const char *path, struct vmsim_config *cfg)
{
    static const char *const keys[] = {"pt", "shadow", "enclave_pid", "enclave_levels",
                                       "geometry", "host_mem_bytes", "host_page_size", "tlb",
                                       "tlb_latency", "pwc", "migrate", NULL};
    struct vmsim_nested_config *n = &cfg->nested;
    int rc;
    uint64_t x;
    unsigned shift;
    const json_t *c = NULL;
    char sub[PATH_MAX_LEN];
    if ((rc = known_keys(r, o, path, keys)) != 0)
        return rc;
    if (!n->on) { /* as --nested: the host's defaults, the guest's geometry */
        memset(n, 0, sizeof *n);
        n->geom = cfg->geom;
    }
    n->on = true;
    if ((rc = get_pt(r, o, path, "pt", n->pt, sizeof n->pt)) < 0 ||
        (rc = get_bool(r, o, path, "shadow", &n->shadow)) < 0)
        return rc;
    U32(o, path, "enclave_pid", 0, "a process id (0: no enclave)", n->enclave_pid);
    if ((rc = get_uint(r, o, path, "enclave_levels", 0, 255, "an integer from 0 to 255", &x)) < 0)
        return rc;
    if (rc)
        n->enclave_levels = (uint8_t)x;
    if ((rc = get_obj(r, o, path, "geometry", false, &c)) < 0)
        return rc;
    join(sub, path, "geometry");
    if (rc && (rc = read_geometry(r, c, sub, &n->geom)) != 0)
        return rc;
    if ((rc = get_uint(r, o, path, "host_mem_bytes", 1u << 20, INT64_MAX,
                       "a size of at least 1048576 bytes", &x)) < 0)
        return rc;
    if (rc) /* the writer's resolved default: twice each VM's memory */
        n->mem_bytes = x == 2 * cfg->phys_bytes ? 0 : x;
    if ((rc = get_shift(r, o, path, "host_page_size", 1024, &shift)) < 0)
        return rc;
    if (rc)
        n->page_shift = (uint8_t)(shift == n->geom.page_shift ? 0 : shift);
    if ((rc = get_obj(r, o, path, "tlb", false, &c)) < 0)
        return rc;
    join(sub, path, "tlb");
    if (rc && (rc = read_exw(r, c, sub, &n->tlb)) != 0)
        return rc;
    U32(o, path, "tlb_latency", 0, "a number of cycles", n->tlb_latency);
    if ((rc = get_obj(r, o, path, "pwc", false, &c)) < 0)
        return rc;
    join(sub, path, "pwc");
    if (rc && (rc = read_pwc(r, c, sub, &n->pwc)) != 0)
        return rc;
    if ((rc = get_obj(r, o, path, "migrate", true, &c)) < 0)
        return rc;
    join(sub, path, "migrate");
    if (rc == 2)
        memset(&n->migrate, 0, sizeof n->migrate);
    else if (rc == 1 && (rc = read_migrate(r, c, sub, &n->migrate)) != 0)
        return rc;
    return VMSIM_OK;
}

static int read_caches(struct rd *r, const json_t *o, const char *path, struct vmsim_memory_config *m)
{
    static const char *const keys[] = {"levels", "dram", "row", "data", NULL};
    static const char *const lkeys[] = {"name", "sets", "ways", "line", "latency", "side",
                                        "shared", NULL};
    static const char *const rkeys[] = {"banks", "bytes", "hit", NULL};
    static const char *const sides[] = {"u", "d", "i", NULL};
    struct vmsim_memory_config n = *m;
    const json_t *levels = NULL, *row = NULL;
    char sub[PATH_MAX_LEN];
    int rc;
    if ((rc = known_keys(r, o, path, keys)) != 0)
        return rc;
    if ((rc = get_array(r, o, path, "levels", 0, VMSIM_MAX_CACHE_LEVELS, &levels)) < 0)
        return rc;
    if (levels) {
        n.ncaches = (uint32_t)json_array_size(levels);
        memset(n.cache, 0, sizeof n.cache);
    }
    join(sub, path, "levels");
    for (size_t j = 0; levels && j < n.ncaches; j++) {
        char p[PATH_MAX_LEN], kp[PATH_MAX_LEN];
        const json_t *lo = json_array_get(levels, j);
        struct vmsim_cache_level_config *c = &n.cache[j];
        idx(p, sub, j);
        if (!json_is_object(lo))
            return fail(r, p, "an object (a cache level)", lo);
        if ((rc = known_keys(r, lo, p, lkeys)) != 0)
            return rc;
        if ((rc = get_level_name(r, lo, p, c->name, sizeof c->name)) < 0)
            return rc;
        U32(lo, p, "sets", 1, "a number of sets from 1 to 2^24", c->sets);
        U32(lo, p, "ways", 1, "a number of ways from 1 to 1024", c->ways);
        U32(lo, p, "line", 8, "a power-of-two line size from 8 to 4096", c->line);
        U32(lo, p, "latency", 0, "a number of cycles", c->latency);
        if ((rc = get_name(r, lo, p, "side", sides)) < -1)
            return rc;
        c->side = (uint8_t)(rc < 0 ? VMSIM_SIDE_UNIFIED : rc);
        if ((rc = get_bool(r, lo, p, "shared", &c->shared)) < 0)
            return rc;
        const char *bad = !c->sets || c->sets > (1u << 24) ? "sets"
                          : !c->ways || c->ways > 1024     ? "ways"
                          : c->line < 8 || c->line > 4096 || (c->line & (c->line - 1)) ? "line"
                          : c->shared && (j + 1 != n.ncaches || c->side != VMSIM_SIDE_UNIFIED)
                              ? "shared"
                              : NULL;
        if (bad) {
            join(kp, p, bad);
            return fail(r, kp,
                        !strcmp(bad, "sets")   ? "a number of sets from 1 to 2^24"
                        : !strcmp(bad, "ways") ? "a number of ways from 1 to 1024"
                        : !strcmp(bad, "line") ? "a power-of-two line size from 8 to 4096"
                                               : "shared only on the last level, side \"u\"",
                        json_object_get(lo, bad));
        }
    }
    U32(o, path, "dram", 1, "a positive number of cycles", n.dram);
    if ((rc = get_obj(r, o, path, "row", true, &row)) < 0)
        return rc;
    join(sub, path, "row");
    if (rc == 2) {
        n.dram_row_hit = n.dram_banks = n.dram_row = 0;
    } else if (rc == 1) {
        char kp[PATH_MAX_LEN];
        if ((rc = known_keys(r, row, sub, rkeys)) != 0)
            return rc;
        U32(row, sub, "banks", 1, "a positive number of banks", n.dram_banks);
        U32(row, sub, "bytes", 64, "a power-of-two row size of at least 64", n.dram_row);
        U32(row, sub, "hit", 1, "a positive number of cycles", n.dram_row_hit);
        const char *bad = !n.dram_banks                                           ? "banks"
                          : n.dram_row < 64 || (n.dram_row & (n.dram_row - 1)) ? "bytes"
                          : !n.dram_row_hit                                       ? "hit"
                                                                                  : NULL;
        if (bad) {
            join(kp, sub, bad);
            return fail(r, kp, "a positive integer (a power of two of at least 64 for bytes)",
                        json_object_get(row, bad));
        }
    }
    if ((rc = get_bool(r, o, path, "data", &n.data)) < 0)
        return rc;
    if (!n.dram) {
        join(sub, path, "dram");
        return fail(r, sub, "a positive number of cycles", json_object_get(o, "dram"));
    }
    *m = n;
    return VMSIM_OK;
}

static int read_config(struct rd *r, const json_t *o, struct vmsim_config *cfg)
{
    static const char *const keys[] = {"machine", "pt", "geometry", "tlb", "pwc", "cost",
                                       "kernel", "phys_bytes", "cpus", "asids", "anon_page_size",
                                       "seed", "warmup", "nested", "cache", "threads", "locks",
                                       NULL};
    static const char path[] = "config";
    const json_t *c = NULL;
    uint64_t x;
    char sub[PATH_MAX_LEN];
    int rc;
    if (!json_is_object(o))
        return fail(r, path, "an object", o);
    if ((rc = known_keys(r, o, path, keys)) != 0)
        return rc;
    if ((rc = get_str(r, o, path, "machine", cfg->machine, sizeof cfg->machine)) < 0 ||
        (rc = get_pt(r, o, path, "pt", cfg->pt, sizeof cfg->pt)) < 0)
        return rc;
    if ((rc = get_obj(r, o, path, "geometry", false, &c)) < 0)
        return rc;
    if (rc && (rc = read_geometry(r, c, "config.geometry", &cfg->geom)) != 0)
        return rc;
    if ((rc = get_array(r, o, path, "tlb", 0, VMSIM_MAX_TLB_LEVELS, &c)) < 0)
        return rc;
    if (rc && (rc = read_tlb(r, c, "config.tlb", cfg)) != 0)
        return rc;
    /* pwc before cost: cost.pwc is pwc.latency too, and the later wins */
    if ((rc = get_obj(r, o, path, "pwc", false, &c)) < 0)
        return rc;
    const bool have_pwc = rc;
    if (have_pwc && (rc = read_pwc(r, c, "config.pwc", &cfg->pwc)) != 0)
        return rc;
    /* A geometry without page-walk caches: those kept (a preset's) lose the
     * levels it lacks, as with --geometry (cli_config_init). Levels a file
     * gives stay, as a --pwc does: vmsim_config_finish refuses those the
     * geometry lacks. */
    if (!have_pwc && json_object_get(o, "geometry"))
        for (unsigned k = cfg->geom.levels + 1u; k <= VMSIM_MAX_LEVELS; k++)
            cfg->pwc.level[k] = (struct vmsim_cache_config){0, 0};
    if ((rc = get_obj(r, o, path, "cost", false, &c)) < 0)
        return rc;
    if (rc && (rc = read_cost(r, c, "config.cost", cfg)) != 0)
        return rc;
    if ((rc = get_obj(r, o, path, "kernel", false, &c)) < 0)
        return rc;
    if (rc && (rc = read_kernel(r, c, "config.kernel", cfg)) != 0)
        return rc;
    if ((rc = get_uint(r, o, path, "phys_bytes", 1u << 20, INT64_MAX,
                       "a size of at least 1048576 bytes", &cfg->phys_bytes)) < 0)
        return rc;
    U32(o, path, "cpus", 1, "a number of CPUs from 1 to 64", cfg->ncpus);
    if (cfg->ncpus > VMSIM_MAX_CPUS) {
        join(sub, path, "cpus");
        return fail(r, sub, "a number of CPUs from 1 to 64", json_object_get(o, "cpus"));
    }
    if ((rc = get_bool(r, o, path, "asids", &cfg->asids)) < 0)
        return rc;
    if ((rc = get_uint(r, o, path, "anon_page_size", 1, UINT64_MAX,
                       "1 (the base page) or a power-of-two page size", &x)) < 0)
        return rc;
    if (rc) {
        if (x & (x - 1)) {
            join(sub, path, "anon_page_size");
            return fail(r, sub, "1 (the base page) or a power-of-two page size",
                        json_object_get(o, "anon_page_size"));
        }
        cfg->anon_page_shift = (uint8_t)__builtin_ctzll(x); /* 1: shift 0, the base page */
    }
    if ((rc = get_uint(r, o, path, "seed", 0, INT64_MAX, "an integer from 0 to 2^63 - 1",
                       &cfg->seed)) < 0 ||
        (rc = get_uint(r, o, path, "warmup", 0, INT64_MAX, "a number of accesses (0: none)",
                       &cfg->warmup)) < 0)
        return rc;
    if ((rc = get_obj(r, o, path, "nested", true, &c)) < 0)
        return rc;
    if (rc == 2)
        memset(&cfg->nested, 0, sizeof cfg->nested);
    else if (rc == 1 && (rc = read_nested(r, c, "config.nested", cfg)) != 0)
        return rc;
    if ((rc = get_obj(r, o, path, "cache", true, &c)) < 0)
        return rc;
    if (rc == 2)
        memset(&cfg->mem, 0, sizeof cfg->mem);
    else if (rc == 1 && (rc = read_caches(r, c, "config.cache", &cfg->mem)) != 0)
        return rc;
    U32(o, path, "threads", 1, "a number of threads from 1 to 64", cfg->threads);
    if (cfg->threads > VMSIM_MAX_CPUS) {
        join(sub, path, "threads");
        return fail(r, sub, "a number of threads from 1 to 64", json_object_get(o, "threads"));
    }
    if ((rc = get_name(r, o, path, "locks", vmsim_locks_names)) < -1)
        return rc;
    if (rc >= 0)
        cfg->locks = (uint8_t)rc;
    return VMSIM_OK;
}

int vmsim_config_from_json(const char *text, struct vmsim_config *cfg, char *why, size_t whylen)
{
    struct rd r = {why, whylen};
    if (why && whylen)
        why[0] = '\0';
    if (!text || !cfg)
        return VMSIM_EINVAL;
    json_error_t err;
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    if (!doc) {
        if (why && whylen)
            snprintf(why, whylen, "line %d, column %d: expected JSON, found an error: %s",
                     err.line, err.column, err.text);
        return VMSIM_EPARSE;
    }
    /* a whole --json output holds the machine under "config" */
    const json_t *o = json_is_object(doc) && json_is_object(json_object_get(doc, "config"))
                          ? json_object_get(doc, "config")
                          : doc;
    struct vmsim_config n = *cfg;
    int rc = read_config(&r, o, &n);
    json_decref(doc);
    if (rc == VMSIM_OK)
        *cfg = n;
    return rc;
}
