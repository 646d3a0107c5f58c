/* vmsim run: build a machine from the options, feed it a workload or a
 * trace in batches, print the summary (and JSON). A bad trace stops the run
 * with the error's place, after printing the statistics gathered so far;
 * so does Ctrl-C (checked between batches, progress.c). With --record the
 * input is a command run under valgrind's lackey tool, read from a pipe
 * (record.c) and framed by the spawn and exit of its process, exactly as
 * `vmsim record` writes it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "report/report.h"

#define BATCH 4096

#define RECORD_PID 1 /* as vmsim record: the lackey reader's pid */

enum {
    OPT_WORKLOAD = OPT_CLI_FIRST_FREE, OPT_TRACE, OPT_JSON, OPT_QUIET, OPT_RECORD, OPT_MAX_RSS,
    OPT_HELP, OPT_SKIP, OPT_MAX, OPT_INTERVAL, OPT_INTERVAL_OUT
};

static void help(FILE *out)
{
    fprintf(out,
            "usage: vmsim run [OPTIONS] [--workload NAME[:k=v,...] | --trace [FORMAT:]PATH]\n"
            "       vmsim run [OPTIONS] --record -- COMMAND [ARGS...]\n\n"
            "Simulate the workload (default: the embedded `default` workload) and print a\n"
            "summary of TLB, page-walk, fault, page-table and cycle statistics. On a terminal\n"
            "a progress line shows on stderr; Ctrl-C stops the run and prints the statistics\n"
            "so far (exit status 130).\n\n"
            "input:\n"
            "  --workload SPEC    synthetic workload, e.g. seq:n=1000000,stride=8 (`vmsim presets`)\n"
            "  --trace [F:]PATH   trace file (- = stdin, gzip/xz/zstd read as they are);\n");
    char names[256], text[320];
    cli_join(names, sizeof names, vmsim_trace_formats, " or ");
    snprintf(text, sizeof text, "F = %s (default: detect)", names);
    cli_help_wrap(out, "", text);
    fprintf(out,
            "  --record           run COMMAND under valgrind's lackey tool and simulate its\n"
            "                     accesses as they come (as `vmsim record`, without a file)\n"
            "run control:\n"
            "  --skip N           do not simulate the first N access events (OS events among\n"
            "                     them are still applied; docs/cli.md, \"Run control\")\n"
            "  --max N            stop after simulating N access events\n"
            "output:\n"
            "  --json PATH|-      also write the statistics and configuration as JSON\n"
            "  --interval N       every N accesses (after --warmup) write the interval's\n"
            "                     statistics as a line to --interval-out\n"
            "  --interval-out F   F.jsonl (JSON lines), F.csv, or - (docs/formats/interval.md)\n"
            "  --quiet            no human summary, no progress line\n"
            "  --max-rss SIZE|none  stop cleanly, with the statistics so far, when vmsim's own\n"
            "                     memory on this machine passes SIZE (default: 3/4 of the\n"
            "                     memory available at the start)\n\n");
    cli_config_help(out);
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

/* Accesses beyond the geometry's address space mean the input was made
 * for another machine: say so on stderr, and under --strict fail the run
 * (its statistics are printed all the same). */
static int bad_address_status(const struct vmsim *sim, const struct vmsim_config *cfg)
{
    const uint64_t bad = vmsim_get_stats(sim)->faults_bad_address;
    if (!bad)
        return 0;
    if (cfg->strict)
        return cli_fail("--strict: %llu accesses outside the %u-bit virtual address space of "
                        "the %s geometry (faults.bad_address)",
                        (unsigned long long)bad, (unsigned)cfg->geom.va_bits, cfg->geom.name);
    fprintf(stderr, "vmsim: warning: %llu accesses outside the %u-bit virtual address space of "
            "the %s geometry (faults.bad_address); each counts as one fault\n",
            (unsigned long long)bad, (unsigned)cfg->geom.va_bits, cfg->geom.name);
    return 0;
}

/* Events and accesses consumed since the start: the statistics count from
 * the warm-up's reset, if there was one. */
static uint64_t all_events(const struct vmsim *sim)
{
    struct vmsim_warmup w;
    struct vmsim_stats st;
    vmsim_get_warmup(sim, &w);
    vmsim_read_stats(sim, &st, false); /* per batch: the cheap read */
    return w.events + st.events;
}

static uint64_t all_accesses(const struct vmsim *sim)
{
    struct vmsim_warmup w;
    struct vmsim_stats st;
    vmsim_get_warmup(sim, &w);
    vmsim_read_stats(sim, &st, false);
    return w.accesses + st.accesses;
}

/* Options that asked for something the input never gave them: say so on
 * stderr (and in the JSON) rather than report a run where nothing
 * happened as if it had. Fills w[] with up to 3 lines; returns the count. */
static unsigned no_effect_warnings(const struct vmsim *sim, char w[][256])
{
    const struct vmsim_config *cfg = vmsim_get_config(sim);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    struct vmsim_warmup warm;
    vmsim_get_warmup(sim, &warm);
    unsigned n = 0;
    /* a warm-up longer than the input: its reset never came, so the
     * statistics are the whole run's (docs/stats.md, "Warm-up") */
    if (warm.requested && !warm.completed)
        snprintf(w[n++], 256,
                 "--warmup %llu: the input ended after %llu accesses, before the warm-up did; "
                 "nothing was excluded, the statistics cover the whole run",
                 (unsigned long long)warm.requested, (unsigned long long)all_accesses(sim));
    /* every translation of the enclave's addresses reads its table, and
     * every access by another process to its memory is refused: neither
     * means the process never ran an access */
    if (cfg->nested.on && cfg->nested.enclave_pid && !st->enclave_refs && !st->enclave_refused)
        snprintf(w[n++], 256,
                 "--enclave %u: process %u made no access in the input; the enclave had no "
                 "effect",
                 (unsigned)cfg->nested.enclave_pid, (unsigned)cfg->nested.enclave_pid);
    if (cfg->nested.on && cfg->nested.migrate.at && !st->mig_rounds)
        snprintf(w[n++], 256,
                 "--migrate at=%llu: the input ended after %llu accesses, before the migration "
                 "was to start; nothing was migrated",
                 (unsigned long long)cfg->nested.migrate.at, (unsigned long long)all_accesses(sim));
    return n;
}

/* The command line for the JSON's "argv": "vmsim" and the command's
 * arguments, set once by cmd_run before anything can finish. */
static const char *const *run_argv;
static int run_argc;

/* The summary and the JSON; stopped says why the input was not read to
 * its end (NULL: it was). */
static int finish(struct vmsim *sim, const char *source, const char *json, bool quiet,
                  struct cli_progress *pg, const char *stopped)
{
    cli_progress_end(pg);
    if (!quiet)
        report_text(sim, source, stdout);
    char w[3][256];
    const char *wp[3] = {w[0], w[1], w[2]};
    const unsigned nw = no_effect_warnings(sim, w);
    for (unsigned i = 0; i < nw; i++)
        fprintf(stderr, "vmsim: warning: %s\n", w[i]);
    int status = 0;
    if (json) {
        const struct report_outcome o = {stopped, wp, nw, run_argc, run_argv};
        FILE *f = cli_output_open(json);
        status = f ? cli_output_close(f, json, report_json_outcome(sim, source, &o, f) == 0) : 1;
    }
    if (bad_address_status(sim, vmsim_get_config(sim)))
        status = 1;
    return verify_status(sim) ? 1 : status;
}

/* The run's resident memory passed --max-rss: say so, with what to do. */
static int rss_stop(const struct cli_rss *rss, uint64_t events, bool given)
{
    char now[32], lim[32];
    return cli_fail("stopped after %llu events: vmsim's memory on this machine (resident set) "
                    "reached %s, above the limit of %s (%s); the statistics cover those "
                    "events. A larger --max-rss, or --max-rss none, lets it go on",
                    (unsigned long long)events, report_bytes(rss->last, now, sizeof now),
                    report_bytes(rss->limit, lim, sizeof lim),
                    given ? "--max-rss" : "the default: 3/4 of the memory available at the start");
}

/* OPT needs the future: read the whole input once for vmsim_plan, then
 * open it again for the run. */
static int plan(struct vmsim *sim, const char *trace, const char *workload, unsigned va_bits,
                struct vmsim_source **src, struct cli_rss *rss, bool rss_given)
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
        if (cli_interrupted()) {
            free(buf);
            return cli_interrupt_report(0);
        }
        if (cli_rss_over(rss)) { /* the plan holds 8 bytes per access */
            free(buf);
            return rss_stop(rss, 0, rss_given);
        }
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
    return cli_open_input(trace, workload, va_bits, src);
}

/* The size of a trace file, for the progress line's share done; 0 when
 * unknown (standard input, a pipe). */
static uint64_t trace_size(const char *trace)
{
    const char *path;
    struct stat sb;
    if (!trace)
        return 0;
    cli_trace_format(trace, &path);
    if (!strcmp(path, "-") || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return 0;
    return (uint64_t)sb.st_size;
}

/* Everything a run reports with, whichever way it ends. */
struct run {
    struct vmsim *sim;
    const struct vmsim_config *cfg;
    const char *source, *json;
    const char *trace; /* --trace, for naming a refused event's line; NULL otherwise */
    bool quiet;
    struct cli_progress pg;
    uint64_t consumed; /* events the machine has taken */
    struct cli_runctl ctl;
    struct cli_interval iv;
};

/* Where event number `nth` (from 1) of the trace is, for a message a person
 * can act on: "FILE:LINE (event N)". The trace is read again up to it (only
 * after a failure, so the cost does not matter), the last call asking for
 * exactly the events left so that the reader's place is that event's line.
 * Just "event N" for a workload, a pipe, or a format without lines. */
static const char *event_place(const char *trace, uint64_t nth, char *buf, size_t len)
{
    snprintf(buf, len, "event %llu", (unsigned long long)nth);
    const char *path;
    struct stat sb;
    if (!trace)
        return buf;
    const char *fmt = cli_trace_format(trace, &path);
    if (!strcmp(path, "-") || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return buf;
    struct vmsim_source *src;
    struct vmsim_source_error err;
    struct vmsim_event *ev = malloc(BATCH * sizeof *ev);
    if (!ev || vmsim_source_open_trace(path, fmt, &src, &err) != 0) {
        free(ev);
        return buf;
    }
    uint64_t left = nth;
    long n = 1;
    while (left && n > 0) {
        n = vmsim_source_next(src, ev, left < BATCH ? (size_t)left : BATCH);
        left -= n > 0 ? (uint64_t)n : 0;
    }
    char where[300];
    if (!left && vmsim_source_where(src, where, sizeof where) == VMSIM_OK)
        snprintf(buf, len, "%s (event %llu)", where, (unsigned long long)nth);
    vmsim_source_close(src);
    free(ev);
    return buf;
}

/* Feed n events; on a real failure print the statistics, then the event
 * at fault, and return 1. */
static int feed(struct run *r, const struct vmsim_event *ev, size_t n)
{
    int rc = vmsim_run(r->sim, ev, n);
    if (rc == 0) {
        r->consumed += n;
        return 0;
    }
    finish(r->sim, r->source, r->json, r->quiet, &r->pg, "event error");
    uint64_t bad = all_events(r->sim); /* index of the failing event */
    if (rc == VMSIM_EINTR) /* SIGINT or SIGTERM inside a long access */
        return cli_interrupt_report(bad);
    const struct vmsim_event *e = &ev[bad - r->consumed];
    char at[400];
    /* the input's numbering counts the accesses --skip dropped */
    event_place(r->trace, bad + 1 + r->ctl.skipped, at, sizeof at);
    const bool vm = e->type == VMSIM_EV_VM || (e->type == VMSIM_EV_SPAWN && e->file);
    if (vm && !r->cfg->nested.on)
        return cli_fail("%s: expected a virtualized machine for VM events (--nested "
                        "GEOMETRY), found a native one", at);
    if (vm && e->type == VMSIM_EV_VM)
        return cli_fail("%s: VM %llu: %s", at,
                        (unsigned long long)e->addr,
                        rc == VMSIM_EEXIST ? "expected a new VM id, found one that exists"
                                           : vmsim_strerror(rc));
    if (vm)
        return cli_fail("%s: spawn of pid %u into VM %u: expected a VM created before "
                        "(a vm event)", at, e->pid, e->file);
    if (rc == VMSIM_ERANGE)
        return cli_fail("%s: cpu %u, but the machine has %u CPUs (--cpus)",
                        at, e->cpu, r->cfg->ncpus);
    if (e->type == VMSIM_EV_FORK && rc == VMSIM_EEXIST)
        return cli_fail("%s: fork of pid %u: expected a new child pid, found %llu, which "
                        "exists",
                        at, e->pid, (unsigned long long)e->addr);
    return cli_fail("%s: %s", at, vmsim_strerror(rc));
}

/* Feed n events, cut at the end of each --interval and its line written
 * after it. */
static int feed_batch(struct run *r, const struct vmsim_event *ev, size_t n)
{
    while (n) {
        const size_t k = cli_interval_cut(&r->iv, r->sim, ev, n);
        const int status = feed(r, ev, k);
        if (status)
            return status;
        cli_interval_after(&r->iv, r->sim);
        ev += k;
        n -= k;
    }
    return 0;
}

/* A count option's value: --skip, --max, --interval. */
static int count_option(const char *opt, const char *arg, bool zero_ok, uint64_t *v)
{
    if (vmsim_parse_count(arg, v) || (!zero_ok && *v == 0))
        return cli_usage("%s: expected a number of accesses such as %s250000, 250k or 1.5m, "
                         "found \"%s\"", opt, zero_ok ? "0, " : "", arg);
    return 0;
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_CONFIG_OPTIONS,
        {"workload", required_argument, 0, OPT_WORKLOAD},
        {"trace", required_argument, 0, OPT_TRACE},
        {"json", required_argument, 0, OPT_JSON},
        {"quiet", no_argument, 0, OPT_QUIET},
        {"record", no_argument, 0, OPT_RECORD},
        {"max-rss", required_argument, 0, OPT_MAX_RSS},
        {"help", no_argument, 0, OPT_HELP},
        {"skip", required_argument, 0, OPT_SKIP},
        {"max", required_argument, 0, OPT_MAX},
        {"interval", required_argument, 0, OPT_INTERVAL},
        {"interval-out", required_argument, 0, OPT_INTERVAL_OUT},
        {0, 0, 0, 0}};
    struct vmsim_config cfg;
    const char *workload = NULL, *trace = NULL, *json = NULL, *interval_out = NULL;
    struct cli_runctl ctl = {0};
    uint64_t interval = 0;
    bool quiet = false, record = false, rss_given = false;
    struct cli_rss rss = {0};
    int rc = cli_options_begin(&cfg, argc, argv);
    if (rc)
        return rc;
    for (int o; (o = cli_getopt(argc, argv, "", opts, NULL, "run")) != -1;) {
        switch (o) {
        case OPT_WORKLOAD: workload = optarg; break;
        case OPT_TRACE: trace = optarg; break;
        case OPT_JSON: json = optarg; break;
        case OPT_QUIET: quiet = true; break;
        case OPT_RECORD: record = true; break;
        case OPT_MAX_RSS:
            rss_given = true;
            if (strcmp(optarg, "none") != 0 &&
                (vmsim_parse_size(optarg, &rss.limit) || rss.limit < (16u << 20)))
                return cli_usage("--max-rss: expected a size of at least 16m such as 8g, or none, "
                                 "found \"%s\"", optarg);
            break;
        case OPT_HELP: help(stdout); return 0;
        case OPT_SKIP:
            if ((rc = count_option("--skip", optarg, true, &ctl.skip)) != 0)
                return rc;
            break;
        case OPT_MAX:
            if ((rc = count_option("--max", optarg, false, &ctl.max)) != 0)
                return rc;
            break;
        case OPT_INTERVAL:
            if ((rc = count_option("--interval", optarg, false, &interval)) != 0)
                return rc;
            break;
        case OPT_INTERVAL_OUT: interval_out = optarg; break;
        case '?':
            return 2; /* cli_getopt said why */
        default:
            if ((rc = cli_config_option(&cfg, o, optarg)) != 0)
                return rc == 1 ? 2 : rc;
        }
    }
    if (record && optind >= argc)
        return cli_usage("run: --record: expected a command after --, found nothing");
    if (!record && optind < argc)
        return cli_usage("run: unexpected argument \"%s\" (see vmsim run --help)", argv[optind]);
    if (workload && trace)
        return cli_usage("run: give --workload or --trace, not both");
    if (record && (workload || trace))
        return cli_usage("run: give --record or %s, not both", workload ? "--workload" : "--trace");
    if ((rc = cli_config_finish(&cfg)) != 0)
        return rc;
    if (interval && !interval_out)
        return cli_usage("run: --interval %llu: expected --interval-out FILE (.jsonl or .csv) "
                         "too, found none", (unsigned long long)interval);
    if (interval_out && !interval)
        return cli_usage("run: --interval-out %s: expected --interval N too, found none",
                         interval_out);
    if (interval_out && json && !strcmp(interval_out, "-") && !strcmp(json, "-"))
        return cli_usage("run: --interval-out - and --json - both write standard output; give "
                         "one of them a file");
    if ((ctl.skip || ctl.max) && cfg.replace == VMSIM_REPLACE_OPT)
        return cli_usage("run: --replace opt plans from the whole input; it cannot be combined "
                         "with --skip or --max");
    if (record && cfg.replace == VMSIM_REPLACE_OPT)
        return cli_usage("run: --replace opt reads its input twice; --record runs the command "
                         "once (record a trace with vmsim record, then run it)");
    if (!rss_given) /* measured before vmsim allocates anything large */
        rss.limit = cli_rss_default();
    /* before simulating: a result must not be lost to an unwritable path */
    if (json && cli_output_check("--json", json))
        return 1;
    if (interval_out && cli_output_check("--interval-out", interval_out))
        return 1;

    struct vmsim_source *src;
    struct cli_recording rec;
    char source[512];
    if (!trace && !workload && !record)
        workload = "default";
    if (record)
        snprintf(source, sizeof source, "record %s", argv[optind]);
    else
        snprintf(source, sizeof source, "%s %s", trace ? "trace" : "workload",
                 trace ? trace : workload);
    cli_interrupt_catch();
    if (record) {
        if ((rc = cli_record_start(argv + optind, NULL, json && !strcmp(json, "-"), &rec)) != 0)
            return rc;
        if ((rc = cli_record_source(&rec, &src)) != 0) {
            cli_record_end(&rec, true);
            return rc;
        }
    } else if ((rc = cli_open_input(trace, workload, cfg.geom.va_bits, &src)) != 0) {
        return rc;
    }
    /* "vmsim" and the command's arguments; NULL (no "argv") without memory */
    const char **cmdline = malloc(((size_t)argc + 1) * sizeof *cmdline);
    if (cmdline) {
        cmdline[0] = "vmsim";
        memcpy(cmdline + 1, argv, (size_t)argc * sizeof *cmdline);
        run_argv = cmdline;
        run_argc = argc + 1;
    }
    struct run r = {.cfg = &cfg, .source = source, .json = json, .trace = trace, .quiet = quiet,
                    .ctl = ctl};
    if ((rc = vmsim_create(&cfg, &r.sim)) != 0) {
        free(cmdline);
        vmsim_source_close(src);
        if (record)
            cli_record_end(&rec, true);
        return cli_fail("cannot build the machine: %s", vmsim_strerror(rc));
    }
    vmsim_set_stop(r.sim, cli_interrupt_flag());
    if (cfg.replace == VMSIM_REPLACE_OPT &&
        (rc = plan(r.sim, trace, workload, cfg.geom.va_bits, &src, &rss, rss_given)) != 0) {
        free(cmdline);
        vmsim_destroy(r.sim);
        vmsim_source_close(src);
        return rc;
    }
    if (interval_out && (rc = cli_interval_open(&r.iv, interval_out, interval)) != 0) {
        free(cmdline);
        vmsim_destroy(r.sim);
        vmsim_source_close(src);
        if (record)
            cli_record_end(&rec, true);
        return rc;
    }
    cli_progress_begin(&r.pg, quiet, trace_size(trace), vmsim_source_total(src));
    /* On threads each batch's end is a barrier: larger batches, fewer of them */
    const size_t batch = cfg.threads > 1 ? 16 * BATCH : BATCH;
    struct vmsim_event *buf = malloc(batch * sizeof *buf);
    const struct vmsim_event spawn = {.type = VMSIM_EV_SPAWN, .pid = RECORD_PID};
    const struct vmsim_event exit_ev = {.type = VMSIM_EV_EXIT, .pid = RECORD_PID};
    int status = 0;
    if (!buf)
        status = cli_fail("out of memory");
    else if (record)
        status = feed(&r, &spawn, 1);
    bool stopped = status != 0; /* the input was not read to its end */
    while (status == 0) {
        if (cli_interrupted()) {
            finish(r.sim, source, json, quiet, &r.pg,
                   cli_interrupted() == SIGTERM ? "SIGTERM" : "SIGINT");
            status = cli_interrupt_report(r.consumed);
            stopped = true;
            break;
        }
        long n = vmsim_source_next(src, buf, batch);
        if (n < 0) {
            const struct vmsim_source_error *e = vmsim_source_error(src);
            finish(r.sim, source, json, quiet, &r.pg, "trace error");
            status = cli_fail("%s: expected %s, found %s (statistics above cover the %llu events "
                              "before it)",
                              e->where, e->expected, e->found, (unsigned long long)r.consumed);
            stopped = true;
            break;
        }
        if (n > 0 && (status = feed_batch(&r, buf, cli_runctl_filter(&r.ctl, buf, (size_t)n))) != 0) {
            stopped = true;
            break;
        }
        if (n == 0 || r.ctl.done) { /* the input's end, or --max's */
            if (!record || (status = feed(&r, &exit_ev, 1)) == 0)
                status = finish(r.sim, source, json, quiet, &r.pg, NULL);
            stopped = r.ctl.done; /* a recorded command is stopped there */
            break;
        }
        if (cli_rss_over(&rss)) {
            finish(r.sim, source, json, quiet, &r.pg, "host memory limit");
            status = rss_stop(&rss, r.consumed, rss_given);
            stopped = true;
            break;
        }
        if (cli_progress_due(&r.pg))
            cli_progress_show(&r.pg, all_accesses(r.sim), vmsim_source_bytes(src));
    }
    free(buf);
    free(cmdline);
    run_argv = NULL;
    if (cli_interval_close(&r.iv, r.sim) && status == 0)
        status = 1;
    vmsim_destroy(r.sim);
    vmsim_source_close(src);
    if (record && r.ctl.done) { /* --max: stopped on purpose, not a failure of the command */
        cli_record_end(&rec, true);
        if (!quiet)
            fprintf(stderr, "vmsim: stopped %s after --max %llu accesses\n", argv[optind],
                    (unsigned long long)r.ctl.max);
    } else if (record) {
        cli_record_status(&rec, cli_record_end(&rec, stopped), !quiet);
    }
    return status;
}
