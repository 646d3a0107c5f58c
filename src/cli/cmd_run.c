/* vmsim run: build a machine from the options, feed it a workload or a
 * trace in batches, print the summary (and JSON). A bad trace stops the run
 * with the error's place, after printing the statistics gathered so far. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "report/report.h"

#define BATCH 4096

enum { OPT_WORKLOAD = OPT_CLI_FIRST_FREE, OPT_TRACE, OPT_JSON, OPT_QUIET, OPT_HELP };

static void help(FILE *out)
{
    fprintf(out,
            "usage: vmsim run [OPTIONS] [--workload NAME[:k=v,...] | --trace [FORMAT:]PATH]\n\n"
            "Simulate the workload (default: the embedded `default` workload) and print a\n"
            "summary of TLB, page-walk, fault, page-table and cycle statistics.\n\n"
            "input:\n"
            "  --workload SPEC    synthetic workload, e.g. seq:n=1000000,stride=8 (`vmsim presets`)\n"
            "  --trace [F:]PATH   trace file (- = stdin); F = text, bin or lackey (default: detect)\n"
            "output:\n"
            "  --json PATH|-      also write the statistics and configuration as JSON\n"
            "  --quiet            no human summary\n\n%s",
            cli_config_help);
}

/* --verify: a read that saw the wrong contents is a simulator bug; say so
 * on stderr and fail the run. */
static int verify_status(const struct vmsim *sim)
{
    struct vmsim_mismatch m;
    if (vmsim_verify_first(sim, &m) != VMSIM_OK)
        return 0;
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    return cli_fail("--verify: %llu of %llu reads saw contents the shadow model did not expect; "
                    "the first: access %llu, pid %u, address 0x%llx (expected stamp %llu, found %llu)",
                    (unsigned long long)st->verify_mismatches,
                    (unsigned long long)st->verify_checks, (unsigned long long)m.access, m.pid,
                    (unsigned long long)m.va, (unsigned long long)m.expected,
                    (unsigned long long)m.found);
}

static int finish(struct vmsim *sim, const char *source, const char *json, bool quiet)
{
    if (!quiet)
        report_text(sim, source, stdout);
    int status = 0;
    if (json) {
        FILE *f = cli_output_open(json);
        status = f ? cli_output_close(f, json, report_json(sim, source, f) == 0) : 1;
    }
    return verify_status(sim) ? 1 : status;
}

/* OPT needs the future: read the whole input once for vmsim_plan, then
 * open it again for the run. */
static int plan(struct vmsim *sim, const char *trace, const char *workload,
                struct vmsim_source **src)
{
    if (trace) {
        const char *path;
        struct stat sb;
        cli_trace_format(trace, &path);
        if (!strcmp(path, "-") || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            return cli_usage("--replace opt reads the trace twice: expected a regular file, found "
                             "\"%s\"", path);
    }
    struct vmsim_event *buf = malloc(BATCH * sizeof *buf);
    int rc = buf ? 0 : VMSIM_ENOMEM;
    for (long n; rc == 0 && (n = vmsim_source_next(*src, buf, BATCH)) != 0;) {
        if (n < 0) {
            const struct vmsim_source_error *e = vmsim_source_error(*src);
            free(buf);
            return cli_fail("%s: expected %s, found %s", e->where, e->expected, e->found);
        }
        rc = vmsim_plan(sim, buf, (size_t)n);
    }
    free(buf);
    vmsim_source_close(*src);
    *src = NULL;
    if (rc)
        return cli_fail("--replace opt: %s", vmsim_strerror(rc));
    return cli_open_input(trace, workload, src);
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_CONFIG_OPTIONS,
        {"workload", required_argument, 0, OPT_WORKLOAD},
        {"trace", required_argument, 0, OPT_TRACE},
        {"json", required_argument, 0, OPT_JSON},
        {"quiet", no_argument, 0, OPT_QUIET},
        {"help", no_argument, 0, OPT_HELP},
        {0, 0, 0, 0}};
    struct vmsim_config cfg;
    const char *workload = NULL, *trace = NULL, *json = NULL;
    bool quiet = false;
    int rc = cli_config_init(&cfg, argc, argv);
    if (rc)
        return rc;
    optind = 1;
    opterr = 0;
    for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (o) {
        case OPT_WORKLOAD: workload = optarg; break;
        case OPT_TRACE: trace = optarg; break;
        case OPT_JSON: json = optarg; break;
        case OPT_QUIET: quiet = true; break;
        case OPT_HELP: help(stdout); return 0;
        case '?':
            return cli_usage("run: unknown option or missing value: \"%s\" (see vmsim run --help)",
                             argv[optind - 1]);
        default:
            if ((rc = cli_config_option(&cfg, o, optarg)) != 0)
                return rc == 1 ? 2 : rc;
        }
    }
    if (optind < argc)
        return cli_usage("run: unexpected argument \"%s\" (see vmsim run --help)", argv[optind]);
    if (workload && trace)
        return cli_usage("run: give --workload or --trace, not both");
    if ((rc = cli_config_finish(&cfg)) != 0)
        return rc;

    struct vmsim_source *src;
    char source[512];
    if (!trace && !workload)
        workload = "default";
    snprintf(source, sizeof source, "%s %s", trace ? "trace" : "workload", trace ? trace : workload);
    if ((rc = cli_open_input(trace, workload, &src)) != 0)
        return rc;
    struct vmsim *sim;
    if ((rc = vmsim_create(&cfg, &sim)) != 0) {
        vmsim_source_close(src);
        return cli_fail("cannot build the machine: %s", vmsim_strerror(rc));
    }
    if (cfg.replace == VMSIM_REPLACE_OPT && (rc = plan(sim, trace, workload, &src)) != 0) {
        vmsim_destroy(sim);
        return rc;
    }
    struct vmsim_event *buf = malloc(BATCH * sizeof *buf);
    int status = 0;
    uint64_t consumed = 0;
    for (long n; buf;) {
        n = vmsim_source_next(src, buf, BATCH);
        if (n < 0) {
            const struct vmsim_source_error *e = vmsim_source_error(src);
            finish(sim, source, json, quiet);
            status = cli_fail("%s: expected %s, found %s (statistics above cover the %llu events "
                              "before it)",
                              e->where, e->expected, e->found, (unsigned long long)consumed);
            break;
        }
        if (n == 0) {
            status = finish(sim, source, json, quiet);
            break;
        }
        if ((rc = vmsim_run(sim, buf, (size_t)n)) != 0) {
            finish(sim, source, json, quiet);
            uint64_t bad = vmsim_get_stats(sim)->events; /* index of the failing event */
            const struct vmsim_event *e = &buf[bad - consumed];
            if (rc == VMSIM_ERANGE)
                status = cli_fail("event %llu: cpu %u, but the machine has %u CPUs (--cpus)",
                                  (unsigned long long)bad + 1, e->cpu, cfg.ncpus);
            else if (e->type == VMSIM_EV_FORK && rc == VMSIM_EEXIST)
                status = cli_fail("event %llu: fork of pid %u: expected a new child pid, found "
                                  "%llu, which exists",
                                  (unsigned long long)bad + 1, e->pid, (unsigned long long)e->addr);
            else
                status = cli_fail("event %llu: %s", (unsigned long long)bad + 1, vmsim_strerror(rc));
            goto out;
        }
        consumed += (uint64_t)n;
    }
    if (!buf)
        status = cli_fail("out of memory");
out:
    free(buf);
    vmsim_destroy(sim);
    vmsim_source_close(src);
    return status;
}
