/* vmsim: the command-line tool. One table of subcommands; each lives in
 * its own file (cmd_*.c) and holds argument parsing and printing only. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
        cli_fail("--json: cannot write %s: %s", path, strerror(errno));
    return f;
}

int cli_output_check(const char *opt, const char *path)
{
    struct stat sb;
    if (!strcmp(path, "-"))
        return 0;
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return cli_fail("%s: cannot write %s: %s", opt, path, strerror(EISDIR));
        /* a device or a FIFO is opened when the results are ready: opening
         * a FIFO now would wait for its reader */
        if (S_ISREG(sb.st_mode) && access(path, W_OK) != 0)
            return cli_fail("%s: cannot write %s: %s", opt, path, strerror(errno));
        return 0;
    }
    /* A new file: create it to learn whether the OS lets us, then remove
     * it, so that a run that fails leaves nothing behind. */
    const int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0)
        return cli_fail("%s: cannot write %s: %s", opt, path, strerror(errno));
    close(fd);
    unlink(path);
    return 0;
}

/* Standard output is written through stdio: a full disk or a closed pipe
 * shows only when the buffer is flushed, after the command has returned.
 * A summary that could not be written is a failed run. */
static int stdout_close(int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        const int e = errno;
        cli_fail("writing standard output failed: %s", strerror(e ? e : EIO));
        return status ? status : 1;
    }
    return status;
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
        return stdout_close(0);
    }
    if (!strcmp(argv[1], "--version")) {
        printf("vmsim 0.1.0\n");
        return stdout_close(0);
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return stdout_close(commands[i].run(argc - 1, argv + 1));
    usage(stderr);
    return cli_usage("unknown command \"%s\"", argv[1]);
}
