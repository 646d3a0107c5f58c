/* The machine options as `vmsim run` takes them (--NAME VALUE), set one at
 * a time on a struct vmsim_config: one table of names (VMSIM_OPTIONS), one
 * parser per option, and the check of the options together. The command
 * line and the bindings (python/) both come through here, so an option,
 * its values and its error messages exist once (docs/library.md,
 * "Options"). Messages name the option as the command line does
 * ("--mem: expected ..., found ..."). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt/pt.h"
#include "util/fail.h"
#include "util/fmt.h"
#include "util/kv.h"
#include "vmsim/vmsim.h"

/* X(id, "name", takes a value) */
#define VMSIM_OPTIONS(X)                                                                   \
    X(MACHINE, "machine", 1) X(PT, "pt", 1) X(GEOMETRY, "geometry", 1) X(TLB, "tlb", 1)     \
    X(PWC, "pwc", 1) X(COST, "cost", 1) X(CACHE, "cache", 1) X(WALKER, "walker", 1)         \
    X(MEM, "mem", 1) X(SWAP, "swap", 1) X(REPLACE, "replace", 1) X(STRICT, "strict", 0)     \
    X(VERIFY, "verify", 0) X(EVICT_TABLES, "evict-tables", 0)                               \
    X(SHARE_TABLES, "share-tables", 0) X(COMPACT, "compact", 1) X(KHUGEPAGED, "khugepaged", 1) X(FAULT_STACK, "fault-stack", 1) X(VIPT, "vipt", 1)  \
    X(CPUS, "cpus", 1) X(THREADS, "threads", 1) X(LOCKS, "locks", 1)                        \
    X(NO_ASID, "no-asid", 0) X(PAGE_SIZE, "page-size", 1) X(THP, "thp", 1)                  \
    X(SEED, "seed", 1) X(WARMUP, "warmup", 1) X(NESTED, "nested", 1)                        \
    X(SHADOW, "shadow", 0) X(HOST_PT, "host-pt", 1) X(HOST_MEM, "host-mem", 1)              \
    X(HOST_PAGE, "host-page", 1) X(NTLB, "ntlb", 1) X(HOST_PWC, "host-pwc", 1)              \
    X(ENCLAVE, "enclave", 1) X(MIGRATE, "migrate", 1) X(CONFIG, "config", 1)

enum option_id {
#define OPTION_ID(id, name, value) O_##id,
    VMSIM_OPTIONS(OPTION_ID)
#undef OPTION_ID
    O_COUNT
};

static const char *const option_names[O_COUNT + 1] = {
#define OPTION_NAME(id, name, value) name,
    VMSIM_OPTIONS(OPTION_NAME)
#undef OPTION_NAME
    NULL};

static const bool option_value[O_COUNT] = {
#define OPTION_VALUE(id, name, value) value,
    VMSIM_OPTIONS(OPTION_VALUE)
#undef OPTION_VALUE
};

const char *const *vmsim_config_option_names(void) { return option_names; }

int vmsim_config_option_takes_value(const char *name)
{
    for (int i = 0; i < O_COUNT; i++)
        if (!strcmp(name, option_names[i]))
            return option_value[i];
    return VMSIM_ENOENT;
}


static int bad(char *out, size_t outlen, const char *opt, const char *why)
{
    return why_code(out, outlen, VMSIM_EINVAL, "%s: %s", opt, why);
}

/* --config FILE ("-": standard input): the machine in FILE, a run's --json
 * output or its "config" object, over cfg (vmsim_config_from_json; docs/cli.md,
 * "Configurations as files"). Messages name the file. */
#define CONFIG_FILE_MAX (16u << 20) /* a config is a few KiB; a larger file is a mistake */
static int config_file(struct vmsim_config *cfg, const char *path, char *out, size_t outlen)
{
    FILE *f = !strcmp(path, "-") ? stdin : fopen(path, "r");
    if (!f)
        return why_code(out, outlen, VMSIM_EINVAL, "--config: cannot read %s: %s", path, strerror(errno));
    char *text = malloc(CONFIG_FILE_MAX + 1);
    const size_t n = text ? fread(text, 1, CONFIG_FILE_MAX + 1, f) : 0;
    const int err = ferror(f);
    if (f != stdin)
        fclose(f);
    if (!text)
        return VMSIM_ENOMEM;
    int rc = VMSIM_EINVAL;
    char why[512];
    if (err)
        why_code(out, outlen, VMSIM_EINVAL, "--config: cannot read %s", path);
    else if (n > CONFIG_FILE_MAX)
        why_code(out, outlen, VMSIM_EINVAL, "--config: %s: expected a JSON configuration of at most %u bytes, found "
            "a larger file", path, CONFIG_FILE_MAX);
    else if ((text[n] = '\0', strlen(text) != n))
        why_code(out, outlen, VMSIM_EINVAL, "--config: %s: expected JSON text, found a NUL byte", path);
    else if ((rc = vmsim_config_from_json(text, cfg, why, sizeof why)) != VMSIM_OK)
        why_code(out, outlen, VMSIM_EINVAL, "--config: %s: %s", path, why);
    free(text);
    return rc;
}

/* A split page-walk cache for level k caches that level's entries: k from
 * 2 to the geometry's levels. 0, or -1 after saying which level is wrong. */
static int pwc_levels_check(const struct vmsim_pwc_config *p, const struct vmsim_geometry *g,
                            const char *opt, char *out, size_t outlen)
{
    if (p->unified_mode)
        return 0;
    for (unsigned k = g->levels + 1u; k <= VMSIM_MAX_LEVELS; k++)
        if (p->level[k].entries) {
            why_code(out, outlen, VMSIM_EINVAL, "%s: level l%u caches entries of page-table level %u, but geometry %s "
                "has %u levels; expected l2..l%u or unified",
                opt, k, k, g->name, (unsigned)g->levels, (unsigned)g->levels);
            return -1;
        }
    return 0;
}

/* A decimal quantity with an optional k, m, g (10^3, 10^6, 10^9) or, with
 * time, ns, us, ms, s (to nanoseconds) suffix; 0 on success. */
static int parse_decimal(const char *s, size_t n, bool time, uint64_t *out)
{
    char buf[48], *end;
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    const double v = strtod(buf, &end);
    static const struct {
        const char *suffix;
        double scale;
    } units[] = {{"", 1}, {"k", 1e3}, {"m", 1e6}, {"g", 1e9}}, times[] = {
        {"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}};
    const size_t nu = time ? sizeof times / sizeof times[0] : sizeof units / sizeof units[0];
    for (size_t i = 0; i < nu; i++) {
        const char *suffix = time ? times[i].suffix : units[i].suffix;
        const double x = v * (time ? times[i].scale : units[i].scale);
        if (end != buf && !(v < 0) && !strcmp(end, suffix) && x < 1.8e19) {
            *out = (uint64_t)(x + 0.5);
            return 0;
        }
    }
    return -1;
}

/* A count of events: parse_decimal's forms (250000, 250k, 1.5m), a whole
 * number below 2^63 (the JSON report's integers). */
int vmsim_parse_count(const char *s, uint64_t *out)
{
    char *end;
    const double mant = strtod(s, &end);
    const double scale = !strcmp(end, "k")   ? 1e3
                         : !strcmp(end, "m") ? 1e6
                         : !strcmp(end, "g") ? 1e9
                                             : 1;
    if (parse_decimal(s, strlen(s), false, out) || mant * scale != (double)*out ||
        *out > (uint64_t)INT64_MAX)
        return -1;
    return 0;
}

static int parse_migrate(const char *arg, struct vmsim_migrate_config *m, char *why, size_t len)
{
    *m = (struct vmsim_migrate_config){.link_bytes = 1250000000ull, .clock_hz = 2500000000ull,
                                       .downtime_ns = 300000000ull, .max_rounds = 30};
    /* a trailing comma ends the list */
    for (const char *s = arg; s && *s;) {
        struct kv kv;
        s = kv_next(s, &kv);
        const char *v = kv.val;
        const size_t vl = kv.vlen;
        uint64_t x = 0;
        int bad = !v;
        if (!bad && kv_is(&kv, "at"))
            bad = parse_decimal(v, vl, false, &m->at) || !m->at;
        else if (!bad && kv_is(&kv, "link"))
            bad = parse_decimal(v, vl, false, &m->link_bytes) || !m->link_bytes;
        else if (!bad && kv_is(&kv, "clock"))
            bad = parse_decimal(v, vl, false, &m->clock_hz) || !m->clock_hz;
        else if (!bad && kv_is(&kv, "downtime"))
            bad = parse_decimal(v, vl, true, &m->downtime_ns);
        else if (!bad && kv_is(&kv, "rounds"))
            bad = parse_decimal(v, vl, false, &x) || !x || x > 1000000 || !(m->max_rounds = (uint32_t)x);
        else
            bad = 1;
        if (bad) {
            snprintf(why, len,
                     "expected at=ACCESSES (at least 1), link=BYTES/S, clock=HZ, downtime=TIME "
                     "(ns, us, ms, s) or rounds=N, found \"%.*s\"", (int)(kv.len > 40 ? 40 : kv.len),
                     kv.s);
            return -1;
        }
    }
    if (!m->at) {
        snprintf(why, len, "expected at=ACCESSES (when to start), found \"%s\"", arg);
        return -1;
    }
    return 0;
}

/* arg's index in names (NULL-terminated), or -1 after the reason
 * "OPT: expected a, b or c, found ARG". */
static int name_index(char *out, size_t outlen, const char *opt, const char *const *names,
                      const char *arg)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(arg, names[i]))
            return i;
    char list[256];
    fmt_join(list, sizeof list, names, " or ");
    why_code(out, outlen, VMSIM_EINVAL, "%s: expected %s, found \"%s\"", opt, list, arg);
    return -1;
}

int vmsim_config_option(struct vmsim_config *cfg, const char *name, const char *arg, char *out,
                        size_t outlen)
{
    if (out && outlen)
        out[0] = '\0';
    int opt = 0;
    while (opt < O_COUNT && strcmp(name, option_names[opt]))
        opt++;
    if (opt == O_COUNT) {
        char list[1024];
        fmt_join(list, sizeof list, option_names, NULL);
        why_code(out, outlen, VMSIM_EINVAL, "--%s: expected a machine option (%s), found \"%s\"", name, list, name);
        return VMSIM_ENOENT;
    }
    if (option_value[opt] && !arg)
        return why_code(out, outlen, VMSIM_EINVAL, "--%s: expected a value, found none", name);
    if (!option_value[opt] && arg)
        return why_code(out, outlen, VMSIM_EINVAL, "--%s: expected no value (a flag), found \"%s\"", name, arg);
    char why[256] = "";
    uint64_t v;
    switch ((enum option_id)opt) {
    case O_COUNT:
        break;
    case O_MACHINE:
        if (vmsim_config_machine(cfg, arg) != VMSIM_OK)
            return why_code(out, outlen, VMSIM_EINVAL, "--machine: expected a machine preset (see `vmsim presets`), "
                       "found \"%s\"", arg);
        return 0;
    case O_CONFIG:
        return config_file(cfg, arg, out, outlen);
    case O_WARMUP:
        if (vmsim_parse_count(arg, &cfg->warmup)) {
            snprintf(why, sizeof why, "expected a number of accesses such as 0, 250000, 250k or "
                     "1.5m, found \"%s\"", arg);
            return bad(out, outlen, "--warmup", why);
        }
        return 0;
    case O_NESTED:
        if (!strcmp(arg, "none")) {
            cfg->nested.on = false;
            return 0;
        }
        if (vmsim_geometry_parse(arg, &cfg->nested.geom, why, sizeof why))
            return bad(out, outlen, "--nested", why);
        cfg->nested.on = true;
        return 0;
    case O_SHADOW:
        cfg->nested.shadow = true;
        return 0;
    case O_ENCLAVE: {
        char *end;
        const unsigned long pid = strtoul(arg, &end, 10);
        const unsigned long levels = *end == ':' ? strtoul(end + 1, &end, 10) : 1;
        if (!*arg || *end || !pid || pid > UINT32_MAX || !levels || levels > 8) {
            snprintf(why, sizeof why, "expected PID[:LEVELS], a process id and 1 to 8 levels, "
                     "found \"%s\"", arg);
            return bad(out, outlen, "--enclave", why);
        }
        cfg->nested.enclave_pid = (uint32_t)pid;
        cfg->nested.enclave_levels = (uint8_t)levels;
        return 0;
    }
    case O_MIGRATE:
        return parse_migrate(arg, &cfg->nested.migrate, why, sizeof why) ? bad(out, outlen, "--migrate", why) : 0;
    case O_HOST_PT: {
        const char *params;
        const struct pt_ops *ops = pt_find(arg, &params);
        if (!ops || strlen(arg) >= sizeof cfg->nested.pt ||
            (ops->check ? ops->check(params, why, sizeof why) != VMSIM_OK : *params != '\0')) {
            if (!ops || !ops->check)
                snprintf(why, sizeof why, "expected an organization as for --pt, found \"%s\"", arg);
            return bad(out, outlen, "--host-pt", why);
        }
        snprintf(cfg->nested.pt, sizeof cfg->nested.pt, "%s", arg);
        return 0;
    }
    case O_HOST_MEM:
        if (vmsim_parse_size(arg, &v) || v < (1u << 20)) {
            snprintf(why, sizeof why, "expected a size of at least 1m such as 64g, found \"%s\"", arg);
            return bad(out, outlen, "--host-mem", why);
        }
        cfg->nested.mem_bytes = v;
        return 0;
    case O_HOST_PAGE:
        if (vmsim_parse_size(arg, &v) || v < 1024 || (v & (v - 1))) {
            snprintf(why, sizeof why, "expected a power-of-two page size such as 4k, 2m, 1g, found \"%s\"", arg);
            return bad(out, outlen, "--host-page", why);
        }
        cfg->nested.page_shift = (uint8_t)__builtin_ctzll(v);
        return 0;
    case O_NTLB: {
        char *x, *end = NULL;
        unsigned long e = strtoul(arg, &x, 10), w = *x == 'x' ? strtoul(x + 1, &end, 10) : 0;
        if (!strcmp(arg, "none")) {
            cfg->nested.tlb = (struct vmsim_cache_config){0, 0};
            return 0;
        }
        if (*x != 'x' || *end || !e || !w || e % w || e > (1ul << 20)) {
            snprintf(why, sizeof why, "expected ENTRIESxWAYS such as 16x4 (ways dividing the entries) or none, found \"%s\"", arg);
            return bad(out, outlen, "--ntlb", why);
        }
        cfg->nested.tlb = (struct vmsim_cache_config){(uint32_t)e, (uint32_t)w};
        cfg->nested.tlb_latency = 1;
        return 0;
    }
    case O_HOST_PWC: {
        struct vmsim_config tmp = *cfg;
        if (vmsim_pwc_parse(arg, &tmp, why, sizeof why))
            return bad(out, outlen, "--host-pwc", why);
        cfg->nested.pwc = tmp.pwc;
        return 0;
    }
    case O_PT: {
        const char *params;
        const struct pt_ops *ops = pt_find(arg, &params);
        char names[128];
        fmt_join(names, sizeof names, vmsim_pt_names, NULL);
        if (!ops || strlen(arg) >= sizeof cfg->pt) {
            snprintf(why, sizeof why, "expected an organization (%s), found \"%s\"", names, arg);
            return bad(out, outlen, "--pt", why);
        }
        if (ops->check ? ops->check(params, why, sizeof why) != VMSIM_OK : *params != '\0') {
            if (!ops->check)
                snprintf(why, sizeof why, "%s takes no options, found \"%s\"", ops->name, params);
            return bad(out, outlen, "--pt", why);
        }
        snprintf(cfg->pt, sizeof cfg->pt, "%s", arg);
        return 0;
    }
    case O_GEOMETRY: {
        /* The preset's page-walk caches are for its own geometry (x86-64:
         * l4, l3, l2): the caches of levels the new geometry lacks go. A
         * page-walk-cache level given after this one that the geometry
         * lacks is the user's, and vmsim_config_finish refuses it. */
        struct vmsim_geometry g;
        if (vmsim_geometry_parse(arg, &g, why, sizeof why))
            return bad(out, outlen, "--geometry", why);
        cfg->geom = g;
        for (unsigned k = g.levels + 1u; k <= VMSIM_MAX_LEVELS; k++)
            cfg->pwc.level[k] = (struct vmsim_cache_config){0, 0};
        return 0;
    }
    case O_TLB:
        return vmsim_tlb_parse(arg, cfg, why, sizeof why) ? bad(out, outlen, "--tlb", why) : 0;
    case O_PWC:
        return vmsim_pwc_parse(arg, cfg, why, sizeof why) ? bad(out, outlen, "--pwc", why) : 0;
    case O_COST:
        return vmsim_cost_parse(arg, cfg, why, sizeof why) ? bad(out, outlen, "--cost", why) : 0;
    case O_CACHE:
        return vmsim_cache_parse(arg, cfg, why, sizeof why) ? bad(out, outlen, "--cache", why) : 0;
    case O_MEM:
        if (vmsim_parse_size(arg, &v) || v < (1u << 20)) {
            snprintf(why, sizeof why, "expected a size of at least 1m such as 16g, found \"%s\"", arg);
            return bad(out, outlen, "--mem", why);
        }
        cfg->phys_bytes = v;
        return 0;
    case O_SWAP:
        if (vmsim_parse_size(arg, &v)) {
            snprintf(why, sizeof why, "expected a size such as 0, 512m or 8g, found \"%s\"", arg);
            return bad(out, outlen, "--swap", why);
        }
        cfg->swap_bytes = v;
        return 0;
    case O_REPLACE: {
        const int i = name_index(out, outlen, "--replace", vmsim_replace_names, arg);
        if (i >= 0)
            cfg->replace = (uint8_t)i;
        return i < 0 ? VMSIM_EINVAL : 0;
    }
    case O_THP: {
        const int i = name_index(out, outlen, "--thp", vmsim_thp_names, arg);
        if (i < 0)
            return VMSIM_EINVAL;
        cfg->thp = (uint8_t)i;
        /* without --page-size (before or after), the huge size */
        if (i != VMSIM_THP_NEVER && !cfg->anon_page_shift)
            cfg->anon_page_shift = VMSIM_PAGE_HUGE;
        return 0;
    }
    case O_STRICT:
        cfg->strict = true;
        return 0;
    case O_VERIFY:
        cfg->verify = true;
        return 0;
    case O_WALKER:
        if (strcmp(arg, "hw") != 0 && strcmp(arg, "sw") != 0) {
            snprintf(why, sizeof why, "expected hw or sw, found \"%s\"", arg);
            return bad(out, outlen, "--walker", why);
        }
        cfg->sw_walk = arg[0] == 's';
        return 0;
    case O_EVICT_TABLES:
        cfg->evict_tables = true;
        return 0;
    case O_SHARE_TABLES:
        cfg->share_tables = true;
        return 0;
    case O_COMPACT:
        if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0) {
            snprintf(why, sizeof why, "expected on or off, found \"%s\"", arg);
            return bad(out, outlen, "--compact", why);
        }
        cfg->compact = arg[1] == 'n';
        return 0;
    case O_KHUGEPAGED:
        return vmsim_khugepaged_parse(arg, cfg, why, sizeof why) ? bad(out, outlen, "--khugepaged", why)
                                                                 : 0;
    case O_FAULT_STACK: {
        const char *slash = strchr(arg, '/');
        char frame[32];
        uint64_t f, s;
        if (!slash || (size_t)(slash - arg) >= sizeof frame)
            f = 0;
        else {
            memcpy(frame, arg, (size_t)(slash - arg));
            frame[slash - arg] = '\0';
        }
        if (!slash || (size_t)(slash - arg) >= sizeof frame || vmsim_parse_size(frame, &f) ||
            vmsim_parse_size(slash + 1, &s) || !f || !s || f > UINT32_MAX || s > UINT32_MAX) {
            snprintf(why, sizeof why,
                     "expected FRAME/STACK, two sizes from 1 to 4g such as 2k/6k, found \"%s\"", arg);
            return bad(out, outlen, "--fault-stack", why);
        }
        cfg->handler_frame = (uint32_t)f;
        cfg->kernel_stack = (uint32_t)s;
        return 0;
    }
    case O_VIPT: {
        char *x, *end;
        unsigned long sets = strtoul(arg, &x, 10), block = *x == 'x' ? strtoul(x + 1, &end, 10) : 0;
        if (*x != 'x' || *end || !sets || !block || (sets & (sets - 1)) || (block & (block - 1)) ||
            sets > (1ul << 20) || block > (1ul << 20)) {
            snprintf(why, sizeof why,
                     "expected SETSxBLOCK, powers of two up to 2^20, e.g. 64x64, found \"%s\"", arg);
            return bad(out, outlen, "--vipt", why);
        }
        cfg->vipt_sets = (uint32_t)sets;
        cfg->vipt_block = (uint32_t)block;
        return 0;
    }
    case O_CPUS: {
        char *end;
        unsigned long n = strtoul(arg, &end, 10);
        if (*end || !*arg || n < 1 || n > VMSIM_MAX_CPUS) {
            snprintf(why, sizeof why, "expected a number of CPUs from 1 to %d, found \"%s\"",
                     VMSIM_MAX_CPUS, arg);
            return bad(out, outlen, "--cpus", why);
        }
        cfg->ncpus = (uint32_t)n;
        return 0;
    }
    case O_THREADS: {
        char *end;
        unsigned long n = strtoul(arg, &end, 10);
        if (*end || !*arg || n < 1 || n > VMSIM_MAX_CPUS) {
            snprintf(why, sizeof why, "expected a number of threads from 1 to %d, found \"%s\"",
                     VMSIM_MAX_CPUS, arg);
            return bad(out, outlen, "--threads", why);
        }
        cfg->threads = (uint32_t)n;
        return 0;
    }
    case O_LOCKS: {
        const int i = name_index(out, outlen, "--locks", vmsim_locks_names, arg);
        if (i >= 0)
            cfg->locks = (uint8_t)i;
        return i < 0 ? VMSIM_EINVAL : 0;
    }
    case O_NO_ASID:
        cfg->asids = false;
        return 0;
    case O_PAGE_SIZE:
        if (vmsim_parse_size(arg, &v) || v < 1024 || (v & (v - 1))) {
            snprintf(why, sizeof why, "expected a power-of-two page size such as 4k, 2m, 1g, found \"%s\"", arg);
            return bad(out, outlen, "--page-size", why);
        }
        cfg->anon_page_shift = (uint8_t)__builtin_ctzll(v);
        return 0;
    case O_SEED: {
        /* Up to 2^63 - 1: the JSON report holds signed 64-bit integers, and
         * strtoull alone would take "-1" and clamp 2^64 to 2^64 - 1. */
        char *end;
        errno = 0;
        const unsigned long long seed = strtoull(arg, &end, 0);
        if (*end || !*arg || errno || strchr(arg, '-') || seed > INT64_MAX) {
            snprintf(why, sizeof why, "expected a number from 0 to 2^63 - 1 (%lld), found \"%s\"",
                     (long long)INT64_MAX, arg);
            return bad(out, outlen, "--seed", why);
        }
        cfg->seed = seed;
        return 0;
    }
    }
    return VMSIM_ENOENT;
}

int vmsim_config_finish(struct vmsim_config *cfg, char *out, size_t outlen)
{
    const struct vmsim_geometry *g = &cfg->geom;
    if (!cfg->nested.on && (cfg->nested.pt[0] || cfg->nested.mem_bytes || cfg->nested.page_shift ||
                            cfg->nested.tlb.entries || cfg->nested.pwc.latency || cfg->nested.shadow ||
                            cfg->nested.migrate.at || cfg->nested.enclave_pid))
        return why_code(out, outlen, VMSIM_EINVAL, "--shadow, --migrate, --enclave, --host-pt, --host-mem, --host-page, "
                         "--ntlb and --host-pwc describe the host: expected --nested GEOMETRY too");
    if (cfg->nested.shadow && cfg->nested.enclave_pid)
        return why_code(out, outlen, VMSIM_EINVAL, "--enclave: the enclave level extends the 2D walk, expected nested "
                         "paging, found --shadow");
    if (cfg->nested.shadow && cfg->nested.migrate.at)
        return why_code(out, outlen, VMSIM_EINVAL, "--migrate: dirty pages are tracked in the nested table, expected nested "
                         "paging, found --shadow");
    if (cfg->nested.on) {
        const struct vmsim_geometry *h = &cfg->nested.geom;
        /* The nested table translates guest-physical addresses: memory
         * above 2^va_bits would wrap onto the low pages (aliased, silently
         * wrong counts), so it is refused. */
        if (h->va_bits < 64 && cfg->phys_bytes > (1ull << h->va_bits)) {
            char have[32], most[32];
            return why_code(out, outlen, VMSIM_EINVAL, "--mem: the guest's %s of memory is more than the nested geometry %s "
                             "can address with %u-bit guest-physical addresses; expected at most %s",
                             fmt_bytes(cfg->phys_bytes, have, sizeof have), h->name,
                             (unsigned)h->va_bits,
                             fmt_bytes(1ull << h->va_bits, most, sizeof most));
        }
        const uint64_t mem = cfg->nested.mem_bytes ? cfg->nested.mem_bytes : 2 * cfg->phys_bytes;
        if ((mem >> h->page_shift) >= UINT32_MAX)
            return why_code(out, outlen, VMSIM_EINVAL, "--host-mem: expected fewer than 2^32 - 1 host frames, found %llu "
                             "bytes (the default is twice --mem)", (unsigned long long)mem);
        const unsigned ps = cfg->nested.page_shift ? cfg->nested.page_shift : h->page_shift;
        bool leaf = false;
        for (unsigned k = 1; k <= h->levels; k++)
            leaf |= vmsim_geometry_page_shift(h, k) == ps && (k == 1 || (h->leaf_levels >> k & 1));
        if (!leaf)
            return why_code(out, outlen, VMSIM_EINVAL, "--host-page: %llu bytes is not a page size of the nested geometry %s",
                             1ull << ps, h->name);
        const char *params;
        const struct pt_ops *ops = pt_find(cfg->nested.pt[0] ? cfg->nested.pt : "radix", &params);
        if (ops && ops->base_only && ps != h->page_shift)
            return why_code(out, outlen, VMSIM_EINVAL, "--host-page: %s holds base pages only, found %llu bytes", ops->name,
                             1ull << ps);
        if (cfg->nested.pwc.latency == 0) { /* no --host-pwc: as the guest's, where it fits */
            cfg->nested.pwc = cfg->pwc;
            for (unsigned k = h->levels + 1u; k <= VMSIM_MAX_LEVELS; k++)
                cfg->nested.pwc.level[k] = (struct vmsim_cache_config){0, 0};
        } else if (pwc_levels_check(&cfg->nested.pwc, h, "--host-pwc", out, outlen)) {
            return VMSIM_EINVAL;
        }
    }
    if (pwc_levels_check(&cfg->pwc, g, "--pwc", out, outlen))
        return VMSIM_EINVAL;
    if (cfg->share_tables) {
        const struct pt_ops *ops = pt_find(cfg->pt, NULL);
        if (ops && !ops->table_link)
            return why_code(out, outlen, VMSIM_EINVAL, "--share-tables: only the radix organization has tables to share; "
                             "expected --pt radix, found --pt %s", cfg->pt);
        if (g->levels < 2)
            return why_code(out, outlen, VMSIM_EINVAL, "--share-tables: geometry %s has one level, no leaf tables below "
                             "a root to share", g->name);
    }
    if (cfg->compact && (cfg->anon_page_shift == 0 || cfg->anon_page_shift == g->page_shift ||
                         cfg->thp == VMSIM_THP_NEVER))
        return why_code(out, outlen, VMSIM_EINVAL, "--compact: compaction assembles blocks for huge pages; expected "
                         "huge anonymous pages (--page-size 2m or --thp always|madvise), found "
                         "base pages only");
    if (cfg->khugepaged.every) {
        const struct pt_ops *ops = pt_find(cfg->pt, NULL);
        const unsigned huge = g->levels >= 2 ? vmsim_geometry_page_shift(g, 2) : 0;
        char size[32];
        if (ops && ops->base_only)
            return why_code(out, outlen, VMSIM_EINVAL, "--khugepaged: %s holds base pages only; expected an "
                       "organization with huge pages", ops->name);
        if (cfg->evict_tables)
            return why_code(out, outlen, VMSIM_EINVAL, "--khugepaged: paged-out page tables (--evict-tables) do not "
                       "work with collapsing yet; expected one of the two");
        if (cfg->thp == VMSIM_THP_NEVER || !huge || !(g->leaf_levels & 4u) ||
            (cfg->anon_page_shift != VMSIM_PAGE_HUGE && cfg->anon_page_shift != huge))
            return why_code(out, outlen, VMSIM_EINVAL, "--khugepaged: expected huge pages of one leaf table's reach "
                       "for anonymous memory (--page-size %s with --thp always or madvise), "
                       "found %s", huge ? fmt_bytes(1ull << huge, size, sizeof size) : "?",
                       cfg->thp == VMSIM_THP_NEVER || !cfg->anon_page_shift ? "none"
                                                                           : "another page size");
    }
    const char *refusal = vmsim_threads_refusal(cfg);
    if (refusal)
        return why_code(out, outlen, VMSIM_EINVAL, "%s", refusal);
    if ((cfg->phys_bytes >> g->page_shift) >= UINT32_MAX)
        return why_code(out, outlen, VMSIM_EINVAL, "--mem: expected fewer than 2^32 - 1 frames, at most %llu bytes with "
                         "%llu-byte pages, found %llu bytes",
                         (unsigned long long)(((uint64_t)UINT32_MAX - 1) << g->page_shift),
                         1ull << g->page_shift, (unsigned long long)cfg->phys_bytes);
    if ((cfg->swap_bytes >> g->page_shift) > (1ull << 32))
        return why_code(out, outlen, VMSIM_EINVAL, "--swap: expected at most 2^32 slots, at most %llu bytes with %llu-byte "
                         "pages, found %llu bytes",
                         (unsigned long long)(1ull << (32 + g->page_shift)), 1ull << g->page_shift,
                         (unsigned long long)cfg->swap_bytes);
    uint64_t sizes = 0;
    for (unsigned k = 1; k <= g->levels; k++)
        if (g->leaf_levels & (1u << k))
            sizes |= 1ull << vmsim_geometry_page_shift(g, k);
    if (cfg->anon_page_shift == VMSIM_PAGE_HUGE) {
        uint64_t huge = sizes & ~(1ull << g->page_shift);
        if (!huge)
            return why_code(out, outlen, VMSIM_EINVAL, "--thp %s: geometry %s has no huge page size", vmsim_thp_names[cfg->thp],
                             g->name);
        cfg->anon_page_shift = (uint8_t)__builtin_ctzll(huge);
    }
    if (cfg->anon_page_shift && !((sizes >> cfg->anon_page_shift) & 1)) {
        char list[128] = "";
        for (unsigned s = 0; s < 64; s++)
            if ((sizes >> s) & 1) {
                char b[32];
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                         list[0] ? ", " : "", fmt_bytes(1ull << s, b, sizeof b));
            }
        return why_code(out, outlen, VMSIM_EINVAL, "--page-size: %llu bytes is not a page size of geometry %s; expected one "
                         "of %s",
                         1ull << cfg->anon_page_shift, g->name, list);
    }
    for (unsigned i = 0; i < cfg->ntlb; i++) {
        uint64_t served = 0;
        for (unsigned a = 0; a < cfg->tlb[i].narrays; a++)
            served |= cfg->tlb[i].array[a].page_shifts;
        if (!(served & sizes))
            return why_code(out, outlen, VMSIM_EINVAL, "--tlb: level %s serves no page size of geometry %s "
                             "(give a TLB spec with its sizes, e.g. @%lluk)",
                             cfg->tlb[i].name, g->name, (1ull << g->page_shift) >> 10);
    }
    return 0;
}
