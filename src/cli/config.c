/* The machine options shared by every command that builds a simulator. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "pt/pt.h"
#include "report/report.h"
#include "util/kv.h"

/* Print "  OPTION ...   text" with text wrapped at HELP_WIDTH columns under
 * the option's column (lead is the padded option part, HELP_INDENT wide). */
#define HELP_WIDTH 90
#define HELP_INDENT 21
void cli_help_wrap(FILE *out, const char *lead, const char *text)
{
    size_t col = (size_t)fprintf(out, "%-*s", HELP_INDENT, lead);
    bool first = true;
    for (const char *w = text; *w;) {
        while (*w == ' ')
            w++;
        const size_t n = strcspn(w, " ");
        if (!n)
            break;
        if (!first && col + 1 + n > HELP_WIDTH) {
            col = (size_t)fprintf(out, "\n%*s", HELP_INDENT, "") - 1;
            first = true;
        }
        col += (size_t)fprintf(out, "%s%.*s", first ? "" : " ", (int)n, w);
        first = false;
        w += n;
    }
    fputc('\n', out);
}

size_t cli_join(char *buf, size_t len, const char *const *names, const char *last)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; names[i] && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s",
                              i == 0 ? "" : names[i + 1] || !last ? ", " : last, names[i]);
    return n;
}

/* The lists of names come from their tables (vmsim_pt_names,
 * vmsim_geometry_names, vmsim_replace_names), the defaults from
 * vmsim_config_default: adding an entry there changes this help too. */
void cli_config_help(FILE *out)
{
    struct vmsim_config def;
    vmsim_config_default(&def);
    char names[512], text[768];
    fputs("machine options:\n"
          "  --machine NAME     CPU preset: TLBs, page-walk caches, latencies (default skylake;\n"
          "                     `vmsim presets` lists them)\n",
          out);
    cli_join(names, sizeof names, vmsim_pt_names, NULL);
    snprintf(text, sizeof text, "page-table organization: %s (default %s; options: "
             "docs/organizations.md)", names, def.pt);
    cli_help_wrap(out, "  --pt NAME[:OPTS]", text);
    cli_join(names, sizeof names, vmsim_geometry_names, NULL);
    snprintf(text, sizeof text, "geometry preset (%s) or "
             "va=BITS,page=SIZE,bits=B1+B2+...,pte=BYTES,leaves=L1+L2...", names);
    cli_help_wrap(out, "  --geometry G", text);
    fputs("  --tlb SPEC|none    TLB levels in lookup order, NAME=ENTRIESxWAYS[@SIZES][|...][/d|i|u][:CYCLES][:lru|random]\n"
          "                     e.g. l1d=64x4@4k/d,l1i=128x8@4k/i,l2=1536x12@4k+2m/u\n"
          "  --pwc SPEC|none    page-walk caches: l4=2x2,l3=4x4,l2=32x4 (split) or unified=32x4;\n"
          "                     each level once, l2 up to the geometry's levels\n"
          "  --cost SPEC        cycles: access=N,pt_ref=N,fault=N,io=N,pwc=N,trap=N,sw_ref=N,\n"
          "                     vmexit=N\n"
          "  --cache SPEC|NAME|none  data caches and DRAM: walks cost what serves each\n"
          "                     reference, e.g. l1d=64x8x64/d:5,l2=1024x16x64:14,dram=200, or a\n"
          "                     --machine preset's hierarchy (docs/caches.md; default none)\n"
          "  --walker hw|sw     who walks on a TLB miss: hardware (default) or a software\n"
          "                     handler (a trap, sw_ref per reference, no page-walk caches)\n"
          "  --mem SIZE         simulated physical memory, page tables included (default 256g)\n"
          "  --swap SIZE        swap device (default 256g; 0: none, anonymous pages then stay)\n",
          out);
    cli_join(names, sizeof names, vmsim_replace_names, NULL);
    snprintf(text, sizeof text, "page replacement when memory is full: %s (default %s; opt is "
             "Belady's and reads the trace twice)", names, vmsim_replace_names[def.replace]);
    cli_help_wrap(out, "  --replace POLICY", text);
    fputs("  --strict           an access outside every mapping is a segfault (default:\n"
          "                     implicit anonymous memory); `vmsim run` fails (status 1,\n"
          "                     statistics printed) when accesses fall outside the\n"
          "                     geometry's virtual address space (default: a warning)\n"
          "  --verify           check page contents against a shadow model on every read\n"
          "  --evict-tables     page-table pages may be evicted too (process roots stay)\n"
          "  --share-tables     processes mapping a file block alike share its leaf table\n"
          "                     (radix only; docs/kernel.md)\n"
          "  --fault-stack F/S  kernel stack per fault-handler activation / kernel stack size,\n"
          "                     for the nested-fault report (default 2k/6k, seed 000)\n"
          "  --vipt SETSxBLOCK  VIPT L1 data cache geometry for the synonym check, e.g. 64x64\n"
          "  --cpus N           CPUs (default 8; events name them)\n"
          "  --threads N        run the CPUs' accesses on N host threads, CPU c on thread\n"
          "                     c mod N (default 1: one after another, deterministic;\n"
          "                     docs/concurrency.md)\n"
          "  --locks DESIGN     what a parallel run's faults lock: table (default: a lock per\n"
          "                     leaf table), global (one lock), seqcount (table locks, walks\n"
          "                     checked by a sequence count)\n"
          "  --no-asid          no address-space ids: a context switch flushes TLBs and PWCs\n"
          "  --page-size SIZE   page size for anonymous memory (default the base page; 2m, 1g)\n"
          "  --thp POLICY       where anonymous memory gets that size: always (default),\n"
          "                     madvise (where the trace advises), never; without\n"
          "                     --page-size, always/madvise use the smallest huge page\n"
          "  --seed N           seed for random replacement (default 1)\n"
          "  --warmup N         run N accesses, then reset every statistic (TLBs, caches,\n"
          "                     page tables keep their state): report the steady state;\n"
          "                     N as at= of --migrate (250000, 250k, 1.5m); default 0, none\n"
          "virtualization (docs/virtualization.md):\n"
          "  --nested GEOMETRY  run the workload in a guest under nested paging; the nested\n"
          "                     table's geometry (x86-64, x86-64-5l, ...); --mem is then the\n"
          "                     guest's memory\n"
          "  --shadow           the hypervisor uses shadow paging instead: 1D walks of shadow\n"
          "                     tables, a VM exit per guest page-table write and switch\n",
          out);
    snprintf(text, sizeof text, "the nested table's organization (default %s)",
             def.nested.pt[0] ? def.nested.pt : "radix");
    cli_help_wrap(out, "  --host-pt NAME", text);
    fputs("  --host-mem SIZE    host memory (default twice the guest's)\n"
          "  --host-page SIZE   host pages backing guest memory (default the base page; 2m, 1g)\n"
          "  --ntlb ExW|none    nested TLB, guest-physical -> host pages (default none)\n"
          "  --host-pwc SPEC    page-walk caches of the host dimension (default as --pwc)\n"
          "  --enclave PID[:LEVELS]  the guest process PID is an enclave: its pages take one\n"
          "                     more translation (LEVELS, default 1) and are refused to others\n"
          "  --migrate at=N[,link=B/s][,clock=HZ][,downtime=T][,rounds=R]\n"
          "                     live migration by pre-copy after N accesses (defaults: link\n"
          "                     1.25g bytes/s = 10 Gbit/s, clock 2.5g, downtime 300ms, 30 rounds)\n",
          out);
}

int cli_config_init(struct vmsim_config *cfg, int argc, char **argv)
{
    vmsim_config_default(cfg);
    for (int i = 1; i < argc; i++) {
        const char *name = NULL;
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--machine") && i + 1 < argc)
            name = argv[i + 1];
        else if (!strncmp(argv[i], "--machine=", 10))
            name = argv[i] + 10;
        if (name && vmsim_config_machine(cfg, name) != VMSIM_OK) {
            cli_usage("--machine: expected a machine preset (see `vmsim presets`), found \"%s\"",
                      name);
            return 2;
        }
    }
    /* The preset's page-walk caches are for its own geometry (x86-64: l4,
     * l3, l2). With a geometry of fewer levels (--geometry x86-32), the
     * caches of levels it lacks are dropped here, before the options are
     * read; a --pwc level the geometry lacks is then the user's, and
     * cli_config_finish refuses it. The last --geometry wins, as in the
     * option loop, which also reports a bad one. */
    struct vmsim_geometry g = cfg->geom;
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
        const char *spec = !strcmp(argv[i], "--geometry") && i + 1 < argc ? argv[i + 1]
                           : !strncmp(argv[i], "--geometry=", 11)        ? argv[i] + 11
                                                                          : NULL;
        if (spec && vmsim_geometry_parse(spec, &g, NULL, 0) == VMSIM_OK)
            cfg->geom = g;
    }
    for (unsigned k = cfg->geom.levels + 1u; k <= VMSIM_MAX_LEVELS; k++)
        cfg->pwc.level[k] = (struct vmsim_cache_config){0, 0};
    return 0;
}

/* A split page-walk cache for level k caches that level's entries: k from
 * 2 to the geometry's levels. 0, or 2 after saying which level is wrong. */
static int pwc_levels_check(const struct vmsim_pwc_config *p, const struct vmsim_geometry *g,
                            const char *opt)
{
    if (p->unified_mode)
        return 0;
    for (unsigned k = g->levels + 1u; k <= VMSIM_MAX_LEVELS; k++)
        if (p->level[k].entries)
            return cli_usage("%s: level l%u caches entries of page-table level %u, but geometry %s "
                             "has %u levels; expected l2..l%u or unified",
                             opt, k, k, g->name, (unsigned)g->levels, (unsigned)g->levels);
    return 0;
}

static int bad(const char *opt, const char *why)
{
    cli_usage("%s: %s", opt, why);
    return 2;
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
static int parse_count(const char *s, uint64_t *out)
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

/* arg's index in names (NULL-terminated), or -1 after the usage error
 * "OPT: expected a, b or c, found ARG". */
static int name_index(const char *opt, const char *const *names, const char *arg)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(arg, names[i]))
            return i;
    char list[256], why[512];
    cli_join(list, sizeof list, names, " or ");
    snprintf(why, sizeof why, "expected %s, found \"%s\"", list, arg);
    bad(opt, why);
    return -1;
}

int cli_config_option(struct vmsim_config *cfg, int opt, const char *arg)
{
    char why[256] = "";
    uint64_t v;
    switch (opt) {
    case OPT_MACHINE:
        return 0; /* applied by cli_config_init */
    case OPT_WARMUP:
        if (parse_count(arg, &cfg->warmup)) {
            snprintf(why, sizeof why, "expected a number of accesses such as 0, 250000, 250k or "
                     "1.5m, found \"%s\"", arg);
            return bad("--warmup", why);
        }
        return 0;
    case OPT_NESTED:
        if (!strcmp(arg, "none")) {
            cfg->nested.on = false;
            return 0;
        }
        if (vmsim_geometry_parse(arg, &cfg->nested.geom, why, sizeof why))
            return bad("--nested", why);
        cfg->nested.on = true;
        return 0;
    case OPT_SHADOW:
        cfg->nested.shadow = true;
        return 0;
    case OPT_ENCLAVE: {
        char *end;
        const unsigned long pid = strtoul(arg, &end, 10);
        const unsigned long levels = *end == ':' ? strtoul(end + 1, &end, 10) : 1;
        if (!*arg || *end || !pid || pid > UINT32_MAX || !levels || levels > 8) {
            snprintf(why, sizeof why, "expected PID[:LEVELS], a process id and 1 to 8 levels, "
                     "found \"%s\"", arg);
            return bad("--enclave", why);
        }
        cfg->nested.enclave_pid = (uint32_t)pid;
        cfg->nested.enclave_levels = (uint8_t)levels;
        return 0;
    }
    case OPT_MIGRATE:
        return parse_migrate(arg, &cfg->nested.migrate, why, sizeof why) ? bad("--migrate", why) : 0;
    case OPT_HOST_PT: {
        const char *params;
        const struct pt_ops *ops = pt_find(arg, &params);
        if (!ops || strlen(arg) >= sizeof cfg->nested.pt ||
            (ops->check ? ops->check(params, why, sizeof why) != VMSIM_OK : *params != '\0')) {
            if (!ops || !ops->check)
                snprintf(why, sizeof why, "expected an organization as for --pt, found \"%s\"", arg);
            return bad("--host-pt", why);
        }
        snprintf(cfg->nested.pt, sizeof cfg->nested.pt, "%s", arg);
        return 0;
    }
    case OPT_HOST_MEM:
        if (vmsim_parse_size(arg, &v) || v < (1u << 20)) {
            snprintf(why, sizeof why, "expected a size of at least 1m such as 64g, found \"%s\"", arg);
            return bad("--host-mem", why);
        }
        cfg->nested.mem_bytes = v;
        return 0;
    case OPT_HOST_PAGE:
        if (vmsim_parse_size(arg, &v) || v < 1024 || (v & (v - 1))) {
            snprintf(why, sizeof why, "expected a power-of-two page size such as 4k, 2m, 1g, found \"%s\"", arg);
            return bad("--host-page", why);
        }
        cfg->nested.page_shift = (uint8_t)__builtin_ctzll(v);
        return 0;
    case OPT_NTLB: {
        char *x, *end = NULL;
        unsigned long e = strtoul(arg, &x, 10), w = *x == 'x' ? strtoul(x + 1, &end, 10) : 0;
        if (!strcmp(arg, "none")) {
            cfg->nested.tlb = (struct vmsim_cache_config){0, 0};
            return 0;
        }
        if (*x != 'x' || *end || !e || !w || e % w || e > (1ul << 20)) {
            snprintf(why, sizeof why, "expected ENTRIESxWAYS such as 16x4 (ways dividing the entries) or none, found \"%s\"", arg);
            return bad("--ntlb", why);
        }
        cfg->nested.tlb = (struct vmsim_cache_config){(uint32_t)e, (uint32_t)w};
        cfg->nested.tlb_latency = 1;
        return 0;
    }
    case OPT_HOST_PWC: {
        struct vmsim_config tmp = *cfg;
        if (vmsim_pwc_parse(arg, &tmp, why, sizeof why))
            return bad("--host-pwc", why);
        cfg->nested.pwc = tmp.pwc;
        return 0;
    }
    case OPT_PT: {
        const char *params;
        const struct pt_ops *ops = pt_find(arg, &params);
        char names[128];
        cli_join(names, sizeof names, vmsim_pt_names, NULL);
        if (!ops || strlen(arg) >= sizeof cfg->pt) {
            snprintf(why, sizeof why, "expected an organization (%s), found \"%s\"", names, arg);
            return bad("--pt", why);
        }
        if (ops->check ? ops->check(params, why, sizeof why) != VMSIM_OK : *params != '\0') {
            if (!ops->check)
                snprintf(why, sizeof why, "%s takes no options, found \"%s\"", ops->name, params);
            return bad("--pt", why);
        }
        snprintf(cfg->pt, sizeof cfg->pt, "%s", arg);
        return 0;
    }
    case OPT_GEOMETRY:
        return vmsim_geometry_parse(arg, &cfg->geom, why, sizeof why) ? bad("--geometry", why) : 0;
    case OPT_TLB:
        return vmsim_tlb_parse(arg, cfg, why, sizeof why) ? bad("--tlb", why) : 0;
    case OPT_PWC:
        return vmsim_pwc_parse(arg, cfg, why, sizeof why) ? bad("--pwc", why) : 0;
    case OPT_COST:
        return vmsim_cost_parse(arg, cfg, why, sizeof why) ? bad("--cost", why) : 0;
    case OPT_CACHE:
        return vmsim_cache_parse(arg, cfg, why, sizeof why) ? bad("--cache", why) : 0;
    case OPT_MEM:
        if (vmsim_parse_size(arg, &v) || v < (1u << 20)) {
            snprintf(why, sizeof why, "expected a size of at least 1m such as 16g, found \"%s\"", arg);
            return bad("--mem", why);
        }
        cfg->phys_bytes = v;
        return 0;
    case OPT_SWAP:
        if (vmsim_parse_size(arg, &v)) {
            snprintf(why, sizeof why, "expected a size such as 0, 512m or 8g, found \"%s\"", arg);
            return bad("--swap", why);
        }
        cfg->swap_bytes = v;
        return 0;
    case OPT_REPLACE: {
        const int i = name_index("--replace", vmsim_replace_names, arg);
        if (i >= 0)
            cfg->replace = (uint8_t)i;
        return i < 0 ? 2 : 0;
    }
    case OPT_THP: {
        const int i = name_index("--thp", vmsim_thp_names, arg);
        if (i < 0)
            return 2;
        cfg->thp = (uint8_t)i;
        /* without --page-size (before or after), the huge size */
        if (i != VMSIM_THP_NEVER && !cfg->anon_page_shift)
            cfg->anon_page_shift = VMSIM_PAGE_HUGE;
        return 0;
    }
    case OPT_STRICT:
        cfg->strict = true;
        return 0;
    case OPT_VERIFY:
        cfg->verify = true;
        return 0;
    case OPT_WALKER:
        if (strcmp(arg, "hw") != 0 && strcmp(arg, "sw") != 0) {
            snprintf(why, sizeof why, "expected hw or sw, found \"%s\"", arg);
            return bad("--walker", why);
        }
        cfg->sw_walk = arg[0] == 's';
        return 0;
    case OPT_EVICT_TABLES:
        cfg->evict_tables = true;
        return 0;
    case OPT_SHARE_TABLES:
        cfg->share_tables = true;
        return 0;
    case OPT_FAULT_STACK: {
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
            return bad("--fault-stack", why);
        }
        cfg->handler_frame = (uint32_t)f;
        cfg->kernel_stack = (uint32_t)s;
        return 0;
    }
    case OPT_VIPT: {
        char *x, *end;
        unsigned long sets = strtoul(arg, &x, 10), block = *x == 'x' ? strtoul(x + 1, &end, 10) : 0;
        if (*x != 'x' || *end || !sets || !block || (sets & (sets - 1)) || (block & (block - 1)) ||
            sets > (1ul << 20) || block > (1ul << 20)) {
            snprintf(why, sizeof why,
                     "expected SETSxBLOCK, powers of two up to 2^20, e.g. 64x64, found \"%s\"", arg);
            return bad("--vipt", why);
        }
        cfg->vipt_sets = (uint32_t)sets;
        cfg->vipt_block = (uint32_t)block;
        return 0;
    }
    case OPT_CPUS: {
        char *end;
        unsigned long n = strtoul(arg, &end, 10);
        if (*end || !*arg || n < 1 || n > VMSIM_MAX_CPUS) {
            snprintf(why, sizeof why, "expected a number of CPUs from 1 to %d, found \"%s\"",
                     VMSIM_MAX_CPUS, arg);
            return bad("--cpus", why);
        }
        cfg->ncpus = (uint32_t)n;
        return 0;
    }
    case OPT_THREADS: {
        char *end;
        unsigned long n = strtoul(arg, &end, 10);
        if (*end || !*arg || n < 1 || n > VMSIM_MAX_CPUS) {
            snprintf(why, sizeof why, "expected a number of threads from 1 to %d, found \"%s\"",
                     VMSIM_MAX_CPUS, arg);
            return bad("--threads", why);
        }
        cfg->threads = (uint32_t)n;
        return 0;
    }
    case OPT_LOCKS: {
        const int i = name_index("--locks", vmsim_locks_names, arg);
        if (i >= 0)
            cfg->locks = (uint8_t)i;
        return i < 0 ? 2 : 0;
    }
    case OPT_NO_ASID:
        cfg->asids = false;
        return 0;
    case OPT_PAGE_SIZE:
        if (vmsim_parse_size(arg, &v) || v < 1024 || (v & (v - 1))) {
            snprintf(why, sizeof why, "expected a power-of-two page size such as 4k, 2m, 1g, found \"%s\"", arg);
            return bad("--page-size", why);
        }
        cfg->anon_page_shift = (uint8_t)__builtin_ctzll(v);
        return 0;
    case OPT_SEED: {
        /* Up to 2^63 - 1: the JSON report holds signed 64-bit integers, and
         * strtoull alone would take "-1" and clamp 2^64 to 2^64 - 1. */
        char *end;
        errno = 0;
        const unsigned long long seed = strtoull(arg, &end, 0);
        if (*end || !*arg || errno || strchr(arg, '-') || seed > INT64_MAX) {
            snprintf(why, sizeof why, "expected a number from 0 to 2^63 - 1 (%lld), found \"%s\"",
                     (long long)INT64_MAX, arg);
            return bad("--seed", why);
        }
        cfg->seed = seed;
        return 0;
    }
    }
    return 1;
}

int cli_config_finish(struct vmsim_config *cfg)
{
    const struct vmsim_geometry *g = &cfg->geom;
    if (!cfg->nested.on && (cfg->nested.pt[0] || cfg->nested.mem_bytes || cfg->nested.page_shift ||
                            cfg->nested.tlb.entries || cfg->nested.pwc.latency || cfg->nested.shadow ||
                            cfg->nested.migrate.at || cfg->nested.enclave_pid))
        return cli_usage("--shadow, --migrate, --enclave, --host-pt, --host-mem, --host-page, "
                         "--ntlb and --host-pwc describe the host: expected --nested GEOMETRY too");
    if (cfg->nested.shadow && cfg->nested.enclave_pid)
        return cli_usage("--enclave: the enclave level extends the 2D walk, expected nested "
                         "paging, found --shadow");
    if (cfg->nested.shadow && cfg->nested.migrate.at)
        return cli_usage("--migrate: dirty pages are tracked in the nested table, expected nested "
                         "paging, found --shadow");
    if (cfg->nested.on) {
        const struct vmsim_geometry *h = &cfg->nested.geom;
        /* The nested table translates guest-physical addresses: memory
         * above 2^va_bits would wrap onto the low pages (aliased, silently
         * wrong counts), so it is refused. */
        if (h->va_bits < 64 && cfg->phys_bytes > (1ull << h->va_bits)) {
            char have[32], most[32];
            return cli_usage("--mem: the guest's %s of memory is more than the nested geometry %s "
                             "can address with %u-bit guest-physical addresses; expected at most %s",
                             report_bytes(cfg->phys_bytes, have, sizeof have), h->name,
                             (unsigned)h->va_bits,
                             report_bytes(1ull << h->va_bits, most, sizeof most));
        }
        const uint64_t mem = cfg->nested.mem_bytes ? cfg->nested.mem_bytes : 2 * cfg->phys_bytes;
        if ((mem >> h->page_shift) >= UINT32_MAX)
            return cli_usage("--host-mem: expected fewer than 2^32 - 1 host frames, found %llu "
                             "bytes (the default is twice --mem)", (unsigned long long)mem);
        const unsigned ps = cfg->nested.page_shift ? cfg->nested.page_shift : h->page_shift;
        bool leaf = false;
        for (unsigned k = 1; k <= h->levels; k++)
            leaf |= vmsim_geometry_page_shift(h, k) == ps && (k == 1 || (h->leaf_levels >> k & 1));
        if (!leaf)
            return cli_usage("--host-page: %llu bytes is not a page size of the nested geometry %s",
                             1ull << ps, h->name);
        const char *params;
        const struct pt_ops *ops = pt_find(cfg->nested.pt[0] ? cfg->nested.pt : "radix", &params);
        if (ops && ops->base_only && ps != h->page_shift)
            return cli_usage("--host-page: %s holds base pages only, found %llu bytes", ops->name,
                             1ull << ps);
        if (cfg->nested.pwc.latency == 0) { /* no --host-pwc: as the guest's, where it fits */
            cfg->nested.pwc = cfg->pwc;
            for (unsigned k = h->levels + 1u; k <= VMSIM_MAX_LEVELS; k++)
                cfg->nested.pwc.level[k] = (struct vmsim_cache_config){0, 0};
        } else if (pwc_levels_check(&cfg->nested.pwc, h, "--host-pwc")) {
            return 2;
        }
    }
    if (pwc_levels_check(&cfg->pwc, g, "--pwc"))
        return 2;
    if (cfg->share_tables) {
        const struct pt_ops *ops = pt_find(cfg->pt, NULL);
        if (ops && !ops->table_link)
            return cli_usage("--share-tables: only the radix organization has tables to share; "
                             "expected --pt radix, found --pt %s", cfg->pt);
        if (cfg->evict_tables)
            return cli_usage("--share-tables: paged-out page tables (--evict-tables) do not work "
                             "with shared tables yet; expected one of the two");
        if (g->levels < 2)
            return cli_usage("--share-tables: geometry %s has one level, no leaf tables below "
                             "a root to share", g->name);
    }
    const char *refusal = vmsim_threads_refusal(cfg);
    if (refusal)
        return cli_usage("%s", refusal);
    if ((cfg->phys_bytes >> g->page_shift) >= UINT32_MAX)
        return cli_usage("--mem: expected fewer than 2^32 - 1 frames, at most %llu bytes with "
                         "%llu-byte pages, found %llu bytes",
                         (unsigned long long)(((uint64_t)UINT32_MAX - 1) << g->page_shift),
                         1ull << g->page_shift, (unsigned long long)cfg->phys_bytes);
    if ((cfg->swap_bytes >> g->page_shift) > (1ull << 32))
        return cli_usage("--swap: expected at most 2^32 slots, at most %llu bytes with %llu-byte "
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
            return cli_usage("--thp %s: geometry %s has no huge page size", vmsim_thp_names[cfg->thp],
                             g->name);
        cfg->anon_page_shift = (uint8_t)__builtin_ctzll(huge);
    }
    if (cfg->anon_page_shift && !((sizes >> cfg->anon_page_shift) & 1)) {
        char list[128] = "";
        for (unsigned s = 0; s < 64; s++)
            if ((sizes >> s) & 1) {
                char b[32];
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                         list[0] ? ", " : "", report_bytes(1ull << s, b, sizeof b));
            }
        return cli_usage("--page-size: %llu bytes is not a page size of geometry %s; expected one "
                         "of %s",
                         1ull << cfg->anon_page_shift, g->name, list);
    }
    for (unsigned i = 0; i < cfg->ntlb; i++) {
        uint64_t served = 0;
        for (unsigned a = 0; a < cfg->tlb[i].narrays; a++)
            served |= cfg->tlb[i].array[a].page_shifts;
        if (!(served & sizes))
            return cli_usage("--tlb: level %s serves no page size of geometry %s "
                             "(give a TLB spec with its sizes, e.g. @%lluk)",
                             cfg->tlb[i].name, g->name, (1ull << g->page_shift) >> 10);
    }
    return 0;
}

int cli_parse_count(const char *s, uint64_t *out)
{
    return parse_count(s, out);
}
