/* Progress of a long run on a terminal, and stopping it with Ctrl-C.
 *
 * The progress line goes to stderr only when stderr is a terminal (and the
 * command was not given --quiet): accesses done, their rate, and with a
 * known total (the accesses of a synthetic workload, else the bytes of a
 * trace file) the share done and the time left. It is redrawn in place
 * with '\r' about four times per second, first after half a second (short
 * runs print nothing), and erased at the end so that the summary starts on
 * a clean line.
 *
 * SIGINT and SIGTERM set a flag; the command checks it once per batch of
 * events (never per access) and stops there, reporting the statistics of
 * the events consumed so far. The simulator gets the flag too
 * (vmsim_set_stop): an access that crosses page after page (up to 1 GiB
 * from a trace, any size through the library) stops at a page boundary. While a command runs under valgrind for
 * --record, a signal sent to vmsim alone is passed on to it. A second
 * signal while the first is pending kills vmsim at once, for a run stuck
 * in a read. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#define PROGRESS_FIRST 0.5   /* seconds before the first line */
#define PROGRESS_PERIOD 0.25 /* seconds between redraws */

static volatile sig_atomic_t interrupted;
static volatile sig_atomic_t forward_to; /* pid of a recorded command, or 0 */

static void on_signal(int sig, siginfo_t *info, void *ctx)
{
    (void)ctx;
    if (interrupted) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    interrupted = sig;
    /* A signal another process sent (kill; si_code <= 0) reaches vmsim
     * alone: pass it on, so that a command blocked in a system call ends
     * and its pipe closes. Ctrl-C on the terminal (from the kernel) has
     * already reached the whole process group. */
    if (forward_to > 0 && info && info->si_code <= 0)
        kill(forward_to, sig);
}

void cli_interrupt_catch(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_SIGINFO;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void cli_interrupt_forward(pid_t pid) { forward_to = pid; }

int cli_interrupted(void)
{
    return interrupted;
}

const volatile sig_atomic_t *cli_interrupt_flag(void) { return &interrupted; }

int cli_interrupt_report(uint64_t events)
{
    int sig = interrupted;
    fprintf(stderr, "vmsim: interrupted by %s after %llu events; the statistics cover them\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", (unsigned long long)events);
    return 128 + sig;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void cli_progress_begin(struct cli_progress *p, bool quiet, uint64_t total_bytes,
                        uint64_t total_accesses)
{
    memset(p, 0, sizeof *p);
    p->on = !quiet && isatty(STDERR_FILENO);
    p->total_bytes = total_bytes;
    p->total_accesses = total_accesses;
    p->start = now();
    p->next = p->start + PROGRESS_FIRST;
}

bool cli_progress_due(struct cli_progress *p)
{
    if (!p->on)
        return false;
    double t = now();
    if (t < p->next)
        return false;
    p->next = t + PROGRESS_PERIOD;
    return true;
}

/* "1 h 02 min", "3 min 05 s", "12 s" */
static void duration(double s, char *buf, size_t len)
{
    unsigned long t = s < 0 ? 0 : (unsigned long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%lu h %02lu min", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(buf, len, "%lu min %02lu s", t / 60, t % 60);
    else
        snprintf(buf, len, "%lu s", t);
}

/* 12,345,678 */
static void grouped(uint64_t v, char *buf, size_t len)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    size_t j = 0;
    for (int i = 0; i < n && j + 2 < len; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[j++] = ',';
        buf[j++] = digits[i];
    }
    buf[j] = '\0';
}

void cli_progress_show(struct cli_progress *p, uint64_t accesses, uint64_t bytes)
{
    double el = now() - p->start;
    double rate = el > 0 ? (double)accesses / el : 0;
    char count[32], line[160], left[32], took[32];
    grouped(accesses, count, sizeof count);
    duration(el, took, sizeof took);
    int n =
        snprintf(line, sizeof line, "vmsim: %s accesses in %s (%.1f M/s)", count, took, rate / 1e6);
    double done = 0;
    if (p->total_accesses)
        done = accesses <= p->total_accesses ? (double)accesses / (double)p->total_accesses : 0;
    else if (p->total_bytes && bytes <= p->total_bytes)
        done = (double)bytes / (double)p->total_bytes;
    if (done > 0) {
        duration(el * (1 - done) / done, left, sizeof left);
        snprintf(line + n, sizeof line - (size_t)n, ", %.0f%% done, about %s left", 100 * done,
                 left);
    }
    /* \r, the line, then clear what a longer earlier line left behind */
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    p->shown = true;
}

void cli_progress_end(struct cli_progress *p)
{
    if (p->shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    p->shown = false;
    p->on = false;
}
