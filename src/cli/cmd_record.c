/* vmsim record: run a command under valgrind's lackey tool and write its
 * memory accesses as a vmsim binary trace (.vmt), streaming: lackey's text
 * comes through a pipe (record.c) and each batch is encoded as it arrives.
 *
 * The trace is: spawn 1, the accesses in lackey's order (pid 1, cpu 0, as
 * the lackey reader gives them), exit 1. The exit is written however the
 * command ended (it has ended: normally, by a signal, or killed by vmsim
 * after an interrupt). Exit status: the command's, unless recording failed
 * (1, 2 for usage) or was interrupted (128 + the signal). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define BATCH 4096
#define RECORD_PID 1 /* the lackey reader's pid: lackey cannot name processes */

enum { OPT_LACKEY = 1, OPT_QUIET, OPT_HELP };

static void help(FILE *out)
{
    fprintf(out,
            "usage: vmsim record [-o FILE] [--lackey PATH] [--quiet] [--] COMMAND [ARGS...]\n\n"
            "Run COMMAND under valgrind --tool=lackey --trace-mem=yes and write its memory\n"
            "accesses as a vmsim binary trace, streaming (no temporary file). The trace holds\n"
            "spawn 1, every access of the command (pid 1, cpu 0), and exit 1.\n\n"
            "  -o, --output FILE  the trace (- = standard output; the command's standard\n"
            "                     output then goes to standard error); default\n"
            "                     COMMAND.vmt.zst in the current directory. The name decides\n"
            "                     the compression: .zst (zstd -3), .xz, .gz, or none for a\n"
            "                     plain .vmt (-o COMMAND.vmt)\n"
            "  --lackey PATH      also keep lackey's text output as it was read\n"
            "  --quiet            no progress line and no summary\n\n"
            "Exit status: the command's (128 + N when signal N killed it); 1 when the\n"
            "recording failed, 2 for a usage error, 130 after Ctrl-C. Needs valgrind.\n");
}

/* Default output: the command's base name + ".vmt.zst" (zstd -3: a lackey
 * recording shrinks about 25 times), in the current directory. */
static void default_output(const char *cmd, char *buf, size_t len)
{
    const char *base = strrchr(cmd, '/');
    base = base ? base + 1 : cmd;
    snprintf(buf, len, "%s.vmt.zst", *base ? base : "trace");
}

int cmd_record(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},
        {"lackey", required_argument, 0, OPT_LACKEY},
        {"quiet", no_argument, 0, OPT_QUIET},
        {"help", no_argument, 0, OPT_HELP},
        {0, 0, 0, 0}};
    const char *out = NULL, *lackey = NULL;
    bool quiet = false;
    cli_options_begin(NULL, argc, argv);
    /* "+": the first non-option is the command; its options are its own. */
    for (int o; (o = cli_getopt(argc, argv, "+o:", opts, NULL, "record")) != -1;) {
        switch (o) {
        case 'o': out = optarg; break;
        case OPT_LACKEY: lackey = optarg; break;
        case OPT_QUIET: quiet = true; break;
        case OPT_HELP: help(stdout); return 0;
        default:
            return 2; /* cli_getopt said why */
        }
    }
    if (optind >= argc)
        return cli_usage("record: expected a command after --, found nothing (see vmsim record "
                         "--help)");
    char **cmd = argv + optind;
    char defout[4096];
    if (!out) {
        default_output(cmd[0], defout, sizeof defout);
        out = defout;
    }

    /* Before creating the output: a command that cannot run leaves no file. */
    if (cli_record_check(cmd) != 0)
        return 1;
    struct vmsim_sink *sink;
    int rc = vmsim_sink_open(out, "bin", &sink);
    if (rc == VMSIM_EUNSUPPORTED)
        return cli_usage("record: %s: expected .zst, .xz or .gz for a compressed trace, or no "
                         "compression suffix, found %s (a compression vmsim does not write)",
                         out, strrchr(out, '.'));
    if (rc) /* the OS's reason when it has one (formats.c keeps errno) */
        return cli_fail("record: cannot write %s: %s", out,
                        rc == VMSIM_EIO || rc == VMSIM_ENOENT ? strerror(errno)
                                                              : vmsim_strerror(rc));
    struct vmsim_event *buf = malloc(BATCH * sizeof *buf);
    if (!buf) {
        vmsim_sink_close(sink);
        return cli_fail("out of memory");
    }

    cli_interrupt_catch();
    struct cli_recording rec;
    struct vmsim_source *src = NULL;
    if ((rc = cli_record_start(cmd, lackey, !strcmp(out, "-"), &rec)) != 0) {
        free(buf);
        vmsim_sink_close(sink);
        return rc;
    }
    int status = -1; /* set on failure or interrupt */
    if (cli_record_source(&rec, &src) != 0)
        status = 1;

    struct cli_progress pg;
    cli_progress_begin(&pg, quiet, 0, 0);
    const struct vmsim_event spawn = {.type = VMSIM_EV_SPAWN, .pid = RECORD_PID};
    const struct vmsim_event exit_ev = {.type = VMSIM_EV_EXIT, .pid = RECORD_PID};
    uint64_t accesses = 0;
    rc = vmsim_sink_write(sink, &spawn, 1);
    while (src && rc == 0 && status < 0) {
        if (cli_interrupted()) {
            status = cli_interrupted() + 128;
            break;
        }
        long n = vmsim_source_next(src, buf, BATCH);
        if (n == 0)
            break;
        if (n < 0) {
            const struct vmsim_source_error *e = vmsim_source_error(src);
            cli_progress_end(&pg);
            status = cli_fail("record: valgrind's output, %s: expected %s, found %s", e->where,
                              e->expected, e->found);
            break;
        }
        rc = vmsim_sink_write(sink, buf, (size_t)n);
        accesses += (uint64_t)n;
        if (cli_progress_due(&pg))
            cli_progress_show(&pg, accesses, 0);
    }
    cli_progress_end(&pg);
    if (rc == 0)
        rc = vmsim_sink_write(sink, &exit_ev, 1);
    int wrc = vmsim_sink_close(sink);
    if (rc == 0)
        rc = wrc;
    vmsim_source_close(src);
    int wstatus = cli_record_end(&rec, status >= 0 || rc != 0);

    if (rc != 0)
        status = cli_fail("record: writing %s failed: %s", out, vmsim_strerror(rc));
    else if (status > 128)
        status = cli_interrupt_report(accesses + 1);
    if (!quiet && status < 0)
        fprintf(stderr, "vmsim: recorded %llu accesses of %s in %s\n", (unsigned long long)accesses,
                cmd[0], out);
    int cmd_status = cli_record_status(&rec, wstatus, !quiet);
    free(buf);
    return status >= 0 ? status : cmd_status;
}
