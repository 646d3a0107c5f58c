/* vmsim: the command-line tool. One table of subcommands; each lives in
 * its own file (cmd_*.c) and holds argument parsing and printing only. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"run", cmd_run, "simulate a workload or trace and report the statistics"},
    {"presets", cmd_presets, "list machine and geometry presets, workloads, trace formats"},
    {"convert", cmd_convert, "convert a trace between formats"},
    {"snapshot", cmd_snapshot, "rebuild a live process's page tables from /proc and report them"},
    {"compare", cmd_compare, "run one input under several page-table organizations, side by side"},
    {"sweep", cmd_sweep, "run a grid of configurations in parallel; one CSV/JSON row per point"},
    {"plot", cmd_plot, "draw sweep or compare results with gnuplot (PNG, SVG)"},
    {"record", cmd_record, "record a command's memory accesses under valgrind into a .vmt trace"},
    {"crosscheck", cmd_crosscheck, "compare vmsim's TLB misses on a command with valgrind's cachegrind"},
};

static void vmessage(const char *fmt, va_list ap)
{
    fputs("vmsim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int cli_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    return 2;
}

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    return 1;
}

FILE *cli_output_open(const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;
    if (!f)
        cli_fail("--json: cannot write %s", path);
    return f;
}

int cli_output_close(FILE *f, const char *path, bool ok)
{
    if (f != stdout)
        ok &= fclose(f) == 0;
    else
        ok &= fflush(f) == 0;
    return ok ? 0 : cli_fail("--json: writing %s failed", path);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: vmsim COMMAND [OPTIONS]\n\n"
                 "vmsim simulates virtual-memory address translation: TLBs, page-walk caches,\n"
                 "page tables and the kernel's page faults, driven by traces or synthetic\n"
                 "workloads.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "\n`vmsim COMMAND --help` describes a command; docs/ defines every number.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("vmsim 0.1.0\n");
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    usage(stderr);
    return cli_usage("unknown command \"%s\"", argv[1]);
}
