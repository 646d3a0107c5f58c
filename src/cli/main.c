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
#include "vmsim_gitrev.h" /* VMSIM_GIT_REV, made at build time (cmake/gitrev.cmake) */

#ifndef VMSIM_CLI_VERSION
#define VMSIM_CLI_VERSION "unknown" /* CMake's project version */
#endif

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
    {"plot", cmd_plot, "draw sweep, compare or interval results with gnuplot (PNG, SVG, PDF)"},
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
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "\n`vmsim COMMAND --help` (or -h, or `vmsim help COMMAND`) describes a command;\n"
                 "`vmsim --version` says which vmsim this is; docs/ defines every number.\n");
}

/* Levenshtein distance of a and b (short words: a command name and what
 * was typed), capped at 15 characters of b. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t prev[16], cur[16];
    const size_t nb = strlen(b) < 15 ? strlen(b) : 15;
    for (size_t j = 0; j <= nb; j++)
        prev[j] = j;
    for (size_t i = 1; a[i - 1]; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            const size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            const size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (nb + 1) * sizeof prev[0]);
    }
    return prev[nb];
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name))
            return &commands[i];
    return NULL;
}

/* "unknown command": with the nearest command when it is close (at most
 * 2 edits, or a prefix of one), as git does. */
static int unknown_command(const char *name)
{
    const struct command *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const size_t n = strlen(name);
        const size_t d = n && !strncmp(commands[i].name, name, n) ? 1
                                                                 : edit_distance(commands[i].name, name);
        if (d < best_d) {
            best_d = d;
            best = &commands[i];
        }
    }
    if (best && best_d <= 2 && strlen(name) < 16)
        return cli_usage("unknown command \"%s\"; did you mean \"%s\"? (vmsim --help lists the "
                         "commands)", name, best->name);
    return cli_usage("unknown command \"%s\" (vmsim --help lists the commands)", name);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "help") && argc >= 3) { /* vmsim help CMD: CMD --help */
        const struct command *c = find_command(argv[2]);
        if (!c)
            return unknown_command(argv[2]);
        char *args[] = {argv[2], "--help", NULL};
        return stdout_close(c->run(2, args));
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return stdout_close(0);
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("vmsim %s (%s)\n", VMSIM_CLI_VERSION, VMSIM_GIT_REV);
        return stdout_close(0);
    }
    const struct command *c = find_command(argv[1]);
    if (c)
        return stdout_close(c->run(argc - 1, argv + 1));
    return unknown_command(argv[1]);
}
