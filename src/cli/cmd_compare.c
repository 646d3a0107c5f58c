/* vmsim compare: one workload or trace under several page-table
 * organizations (and walkers), side by side: page-table memory, references
 * per walk, cycles per access; with --vary, the same over a growing
 * parameter and where two organizations break even (issue 4, seed 002). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "report/report.h"
#include "trace/snapshot.h"

#define BATCH 4096
#define MAX_PT 8
#define MAX_VARY 32

enum {
    OPT_WORKLOAD = OPT_CLI_FIRST_FREE,
    OPT_TRACE,
    OPT_JSON,
    OPT_VARY,
    OPT_PID,
    OPT_SELF,
    OPT_PROC,
    OPT_HELP
};

struct result {
    char vary[64];
    const char *pt;
    bool sw;
    uint64_t pt_bytes, walks, refs, cycles, accesses, faults;
    unsigned tag_bits; /* space-tag bits per entry of a shared table */
    double translating; /* share of cycles */
};

static void help(FILE *out)
{
    fprintf(out,
            "usage: vmsim compare [OPTIONS] --pt SPEC[@sw] --pt SPEC[@sw] ... [--workload SPEC |\n"
            "                     --trace [FORMAT:]PATH | --pid PID | --self | --proc DIR]\n"
            "                     [--vary KEY=V1,V2,...] [--json PATH|-]\n\n"
            "Run the same input under each page-table organization (@sw: walked by a software\n"
            "handler) and print page-table memory, references per walk and cycles per access.\n"
            "--pid, --self and --proc take a live process's pages (as vmsim snapshot does),\n"
            "map them under each organization and read each mapped page once.\n"
            "--vary repeats it for each value of KEY, a parameter of the workload (e.g.\n"
            "tenants=1,4,16 for `cloud`) or mem (physical memory), and reports where the\n"
            "first two organizations break even on page-table memory and on cycles.\n\n");
    cli_config_help(out);
}

/* The workload spec with key=value set (replacing a value already given). */
static int with_param(const char *spec, const char *key, const char *value, char *out, size_t len)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", spec);
    char *colon = strchr(buf, ':');
    char rest[512] = "";
    if (colon) {
        *colon = '\0';
        const size_t kl = strlen(key);
        for (char *tok = strtok(colon + 1, ","); tok; tok = strtok(NULL, ","))
            if (!(strncmp(tok, key, kl) == 0 && tok[kl] == '='))
                snprintf(rest + strlen(rest), sizeof rest - strlen(rest), "%s,", tok);
    }
    int n = snprintf(out, len, "%s:%s%s=%s", buf, rest, key, value);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* A snapshot's pages, one read of each mapped page (of its size), in
 * address order; *pos walks the runs (run, page within it). */
static size_t scan_events(const struct snapshot *s, vmsim_pid_t pid, size_t pos[2],
                          struct vmsim_event *buf, size_t max)
{
    size_t n = 0;
    while (n < max && pos[0] < s->nrun) {
        const struct snapshot_run *r = &s->run[pos[0]];
        if (pos[1] == r->npages) {
            pos[0]++;
            pos[1] = 0;
            continue;
        }
        buf[n++] = (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = VMSIM_READ, .pid = pid,
                                        .addr = r->va + ((uint64_t)pos[1]++ << r->shift), .len = 1};
    }
    return n;
}

/* One run, of a trace, a workload or a snapshot; on failure prints why
 * and returns nonzero. */
static int run_one(const struct vmsim_config *base, const char *pt, bool sw, const char *trace,
                   const char *workload, const struct snapshot *snap, struct result *r)
{
    struct vmsim_config cfg = *base;
    snprintf(cfg.pt, sizeof cfg.pt, "%.95s", pt);
    cfg.sw_walk = sw;
    struct vmsim_source *src = NULL;
    int rc = snap ? 0 : cli_open_input(trace, workload, cfg.geom.va_bits, &src);
    if (rc)
        return rc;
    struct vmsim *sim;
    if ((rc = vmsim_create(&cfg, &sim)) != 0) {
        vmsim_source_close(src);
        return cli_fail("--pt %s: cannot build the machine: %s", pt, vmsim_strerror(rc));
    }
    struct vmsim_event *buf = malloc(BATCH * sizeof *buf);
    int status = buf ? 0 : cli_fail("out of memory");
    const vmsim_pid_t spid = snap && snap->pid > 0 ? (vmsim_pid_t)snap->pid : 1;
    if (status == 0 && snap && (rc = snapshot_build(sim, spid, snap, NULL)) != 0)
        status = cli_fail("--pt %s: rebuilding the process's page tables: %s%s", pt,
                          vmsim_strerror(rc),
                          rc == VMSIM_ENOFRAME ? " (the simulated memory is too small: --mem)" : "");
    size_t pos[2] = {0, 0};
    for (long n; status == 0 && (n = snap ? (long)scan_events(snap, spid, pos, buf, BATCH)
                                          : vmsim_source_next(src, buf, BATCH)) != 0;) {
        if (n < 0) {
            const struct vmsim_source_error *e = vmsim_source_error(src);
            status = cli_fail("%s: expected %s, found %s", e->where, e->expected, e->found);
        } else if ((rc = vmsim_run(sim, buf, (size_t)n)) != 0) {
            struct vmsim_warmup w; /* the events a warm-up excluded were consumed too */
            vmsim_get_warmup(sim, &w);
            status = cli_fail("--pt %s: event %llu: %s", pt,
                              (unsigned long long)(w.events + vmsim_get_stats(sim)->events + 1),
                              vmsim_strerror(rc));
        }
    }
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    struct vmsim_pt_footprint fp;
    vmsim_footprint(sim, &fp);
    r->pt = pt;
    r->sw = sw;
    r->pt_bytes = fp.bytes + fp.root_bytes;
    r->tag_bits = fp.space_tag_bits;
    r->walks = st->walks;
    r->refs = st->walk_refs;
    r->cycles = st->cycles;
    r->accesses = st->accesses;
    r->faults = st->faults_total;
    r->translating = st->cycles ? (double)st->cycles_translation / (double)st->cycles : 0;
    free(buf);
    vmsim_destroy(sim);
    vmsim_source_close(src);
    return status;
}

static double per(uint64_t a, uint64_t b) { return b ? (double)a / (double)b : 0; }

static void print_table(const struct result *r, size_t n, bool vary)
{
    char b[32];
    printf("%-*s%-28s %14s %10s %14s %12s\n", vary ? 18 : 0, vary ? "vary" : "", "organization",
           "page tables", "refs/walk", "cycles/access", "translating");
    for (size_t i = 0; i < n; i++) {
        char name[112];
        snprintf(name, sizeof name, "%s%s", r[i].pt, r[i].sw ? " (sw walks)" : "");
        printf("%-*s%-28s %14s %10.2f %14.2f %11.1f%%\n", vary ? 18 : 0, vary ? r[i].vary : "",
               name, report_bytes(r[i].pt_bytes, b, sizeof b), per(r[i].refs, r[i].walks),
               per(r[i].cycles, r[i].accesses), 100 * r[i].translating);
    }
}

/* Where A - B changes sign between consecutive values of the parameter
 * (results come in groups of npt, A first, B second); -1 if never. */
static long break_even(const struct result *r, size_t nvary, size_t npt, bool cycles)
{
    double prev = 0;
    for (size_t v = 0; v < nvary; v++) {
        const struct result *a = &r[v * npt], *b = a + 1;
        const double d = cycles ? per(a->cycles, a->accesses) - per(b->cycles, b->accesses)
                                : (double)a->pt_bytes - (double)b->pt_bytes;
        if (v && ((prev < 0 && d >= 0) || (prev > 0 && d <= 0)))
            return (long)v;
        prev = d;
    }
    return -1;
}

static int write_json(const char *path, const struct result *r, size_t n, const char *key,
                      long be_bytes, long be_cycles, size_t npt)
{
    FILE *f = cli_output_open(path);
    if (!f)
        return 1;
    fprintf(f, "{\n  \"runs\": [\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f,
                "    {\"vary\": \"%s\", \"pt\": \"%s\", \"walker\": \"%s\", \"page_table_bytes\": "
                "%llu, \"walks\": %llu, \"refs\": %llu, \"refs_per_walk\": %.4f, \"accesses\": %llu, "
                "\"cycles\": %llu, \"cycles_per_access\": %.4f, \"faults\": %llu, \"space_tag_bits\": "
                "%u}%s\n",
                r[i].vary, r[i].pt, r[i].sw ? "sw" : "hw", (unsigned long long)r[i].pt_bytes,
                (unsigned long long)r[i].walks, (unsigned long long)r[i].refs,
                per(r[i].refs, r[i].walks), (unsigned long long)r[i].accesses,
                (unsigned long long)r[i].cycles, per(r[i].cycles, r[i].accesses),
                (unsigned long long)r[i].faults, r[i].tag_bits, i + 1 < n ? "," : "");
    fprintf(f, "  ]");
    if (key) {
        fprintf(f, ",\n  \"break_even\": {\"parameter\": \"%s\"", key);
        const long be[2] = {be_bytes, be_cycles};
        const char *what[2] = {"page_table_bytes", "cycles_per_access"};
        for (int k = 0; k < 2; k++)
            if (be[k] < 0)
                fprintf(f, ", \"%s\": null", what[k]);
            else
                fprintf(f, ", \"%s\": [\"%s\", \"%s\"]", what[k], r[(size_t)(be[k] - 1) * npt].vary,
                        r[(size_t)be[k] * npt].vary);
        fprintf(f, "}");
    }
    fprintf(f, "\n}\n");
    return cli_output_close(f, path, !ferror(f));
}

int cmd_compare(int argc, char **argv)
{
    static const struct option opts[] = {CLI_CONFIG_OPTIONS,
                                         {"workload", required_argument, 0, OPT_WORKLOAD},
                                         {"trace", required_argument, 0, OPT_TRACE},
                                         {"json", required_argument, 0, OPT_JSON},
                                         {"vary", required_argument, 0, OPT_VARY},
                                         {"pid", required_argument, 0, OPT_PID},
                                         {"self", no_argument, 0, OPT_SELF},
                                         {"proc", required_argument, 0, OPT_PROC},
                                         {"help", no_argument, 0, OPT_HELP},
                                         {0, 0, 0, 0}};
    struct vmsim_config cfg;
    const char *workload = NULL, *trace = NULL, *json = NULL, *vary = NULL, *proc = NULL;
    char dir[64];
    int nproc = 0;
    char pts[MAX_PT][96];
    bool sw[MAX_PT];
    size_t npt = 0;
    int rc = cli_options_begin(&cfg, argc, argv);
    if (rc)
        return rc;
    for (int o; (o = cli_getopt(argc, argv, "", opts, NULL, "compare")) != -1;) {
        switch (o) {
        case OPT_WORKLOAD: workload = optarg; break;
        case OPT_TRACE: trace = optarg; break;
        case OPT_JSON: json = optarg; break;
        case OPT_VARY: vary = optarg; break;
        case OPT_PID:
            if ((rc = cli_proc_dir(optarg, dir, sizeof dir)) != 0)
                return rc;
            proc = dir;
            nproc++;
            break;
        case OPT_SELF: proc = "/proc/self"; nproc++; break;
        case OPT_PROC: proc = optarg; nproc++; break;
        case OPT_HELP: help(stdout); return 0;
        case OPT_PT: {
            if (npt == MAX_PT)
                return cli_usage("compare: at most %d --pt, found more", MAX_PT);
            char spec[96];
            const size_t len = strlen(optarg);
            sw[npt] = len > 3 && !strcmp(optarg + len - 3, "@sw");
            snprintf(spec, sizeof spec, "%.*s", (int)(sw[npt] ? len - 3 : len), optarg);
            if ((rc = cli_config_option(&cfg, OPT_PT, spec)) != 0) /* checks the spec */
                return rc;
            snprintf(pts[npt++], sizeof pts[0], "%.95s", spec);
            break;
        }
        case '?':
            return 2; /* cli_getopt said why */
        default:
            if ((rc = cli_config_option(&cfg, o, optarg)) != 0)
                return rc == 1 ? 2 : rc;
        }
    }
    if (optind < argc)
        return cli_usage("compare: unexpected argument \"%s\"", argv[optind]);
    if (npt < 1)
        return cli_usage("compare: expected --pt SPEC at least once (e.g. --pt radix --pt "
                         "radix@sw), found none");
    if (!!workload + !!trace + nproc > 1)
        return cli_usage("compare: give one input: --workload, --trace, or one of --pid, --self "
                         "and --proc");
    if (trace && !strcmp(trace, "-"))
        return cli_usage("compare: reads the input once per run: expected a file, found "
                         "standard input");
    if (!trace && !workload && !proc)
        workload = "default";
    if ((rc = cli_config_finish(&cfg)) != 0)
        return rc;
    if (json && cli_output_check("--json", json)) /* before the runs, not after */
        return 1;

    /* --vary KEY=V1,V2,... */
    char key[32] = "", values[MAX_VARY][32];
    size_t nvary = 1;
    values[0][0] = '\0';
    if (vary) {
        const char *eq = strchr(vary, '=');
        if (!eq || eq == vary || (size_t)(eq - vary) >= sizeof key || !eq[1])
            return cli_usage("--vary: expected KEY=V1,V2,... (e.g. tenants=1,4,16 or "
                             "mem=1g,4g), found \"%s\"", vary);
        snprintf(key, sizeof key, "%.*s", (int)(eq - vary), vary);
        nvary = 0;
        for (const char *v = eq + 1; *v;) {
            const char *comma = strchr(v, ',');
            const size_t l = comma ? (size_t)(comma - v) : strlen(v);
            if (!l || l >= sizeof values[0] || nvary == MAX_VARY)
                return cli_usage("--vary: expected up to %d values of at most 31 characters, "
                                 "found \"%s\"", MAX_VARY, eq + 1);
            snprintf(values[nvary++], sizeof values[0], "%.*s", (int)l, v);
            v += l + (comma ? 1 : 0);
        }
        if ((trace || proc) && strcmp(key, "mem") != 0)
            return cli_usage("--vary %s: a %s has no parameters; only mem varies", key,
                             trace ? "trace" : "process snapshot");
    }
    struct snapshot snap;
    snapshot_init(&snap);
    if (proc && (rc = cli_snapshot_load(proc, NULL, false, &snap)) != 0) {
        snapshot_free(&snap);
        return rc;
    }

    struct result *res = calloc(nvary * npt, sizeof *res);
    if (!res)
        return cli_fail("out of memory");
    int status = 0;
    size_t done = 0;
    for (size_t v = 0; v < nvary && status == 0; v++) {
        struct vmsim_config c = cfg;
        char spec[512];
        const char *wl = workload;
        if (vary && !strcmp(key, "mem")) {
            uint64_t bytes;
            if (vmsim_parse_size(values[v], &bytes) || bytes < (1u << 20)) {
                status = cli_usage("--vary mem: expected sizes of at least 1m, found \"%s\"",
                                   values[v]);
                break;
            }
            c.phys_bytes = bytes;
        } else if (vary) {
            if (with_param(workload, key, values[v], spec, sizeof spec)) {
                status = cli_usage("--vary: the workload spec grows too long");
                break;
            }
            wl = spec;
        }
        for (size_t i = 0; i < npt && status == 0; i++) {
            struct result *r = &res[v * npt + i];
            if (vary)
                snprintf(r->vary, sizeof r->vary, "%.31s=%.31s", key, values[v]);
            if ((status = run_one(&c, pts[i], sw[i], trace, wl, proc ? &snap : NULL, r)) == 0)
                done++;
        }
    }
    /* What was computed is printed, even after a failure (the table goes
     * unless the JSON takes standard output); nothing when the first run
     * failed (a bad workload spec), so that an error prints no empty table. */
    const bool table = done && (!json || strcmp(json, "-") != 0);
    if (table) {
        if (proc)
            printf("vmsim compare: the process of %s%s%s%s, each mapped page read once\n\n",
                   proc, snap.comm[0] ? " (" : "", snap.comm, snap.comm[0] ? ")" : "");
        else
            printf("vmsim compare: %s %s\n\n", trace ? "trace" : "workload",
                   trace ? trace : workload);
        print_table(res, done, vary != NULL);
    }
    long be_bytes = -1, be_cycles = -1;
    if (vary && npt >= 2 && done == nvary * npt) {
        be_bytes = break_even(res, nvary, npt, false);
        be_cycles = break_even(res, nvary, npt, true);
    }
    if (table && vary && npt >= 2 && done == nvary * npt) {
        const char *what[2] = {"page-table memory", "cycles per access"};
        const long be[2] = {be_bytes, be_cycles};
        char a[112], b[112];
        snprintf(a, sizeof a, "%.95s%s", pts[0], sw[0] ? "@sw" : "");
        snprintf(b, sizeof b, "%.95s%s", pts[1], sw[1] ? "@sw" : "");
        for (int k = 0; k < 2; k++) {
            if (be[k] < 0)
                printf("\nno break-even in %s between %s and %s over %s", what[k], a, b, key);
            else
                printf("\nbreak-even in %s between %s and %s: %s between %s and %s", what[k], a,
                       b, key, values[be[k] - 1], values[be[k]]);
        }
        printf("\n");
    }
    if (json && done) {
        int js = write_json(json, res, done, vary ? key : NULL, be_bytes, be_cycles, npt);
        if (!status)
            status = js;
    }
    free(res);
    snapshot_free(&snap);
    return status;
}
