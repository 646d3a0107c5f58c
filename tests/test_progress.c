/* The progress line and Ctrl-C, through the real program.
 *
 * Interrupt: a run of 4 billion accesses (minutes even in a release build)
 * gets SIGINT (or SIGTERM) once it has installed its handler (seen in
 * /proc/PID/status, SigCgt) and run a little; it must exit with 128 + the
 * signal (130, 143), print the summary and write the JSON of the events so
 * far, with 0 < accesses < n, and say on stderr how many events it took —
 * the JSON's "events".
 *
 * Progress: under a pseudo-terminal (forkpty) the line "vmsim: N accesses
 * in T (R M/s)" appears on stderr, redrawn with '\r' and erased with
 * "\r\033[K" before the summary; with a known total it also gives the share
 * done and the time left: for a workload from the accesses it will make
 * (vmsim_source_total), for a trace file from its size; not for a trace
 * read from a FIFO, whose total is unknown. Not when stderr is a pipe, nor
 * with --quiet on a terminal. Runs are cut short with SIGINT as soon as
 * what is checked has shown, so the test takes a few seconds. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <jansson.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define HUGE_N "4000000000"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Wait until pid catches sig (its handler is installed). */
static void wait_handler(pid_t pid, int sig)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    for (double end = now() + 30; now() < end; sleep_s(0.01)) {
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        unsigned long long mask = 0;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "SigCgt: %llx", &mask) == 1)
                break;
        fclose(f);
        if (mask >> (sig - 1) & 1)
            return;
    }
    fail_msg("pid %d never caught signal %d", (int)pid, sig);
}

/* exec VMSIM_BIN with args split at spaces (no quoting needed here), so
 * that the child's pid is vmsim's own. */
static _Noreturn void exec_vmsim(const char *args)
{
    char *copy = strdup(args), *argv[64], *save = NULL;
    int n = 0;
    argv[n++] = (char *)VMSIM_BIN;
    for (char *a = strtok_r(copy, " ", &save); a && n < 63; a = strtok_r(NULL, " ", &save))
        argv[n++] = a;
    argv[n] = NULL;
    execv(VMSIM_BIN, argv);
    _exit(127);
}

/* Start vmsim ARGS with stdout and stderr going to files. */
static pid_t spawn(const char *args, const char *out, const char *err)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0)
            _exit(126);
        dup2(o, STDOUT_FILENO);
        dup2(e, STDERR_FILENO);
        exec_vmsim(args);
    }
    return pid;
}

static int wait_status(pid_t pid)
{
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st))
        fail_msg("vmsim did not exit normally (wait status 0x%x)", st);
    return WEXITSTATUS(st);
}

static void interrupt_run(int sig, int want_status, const char *signame)
{
    char *out = temp_path(".out"), *err = temp_path(".err"), *json = temp_path(".json");
    char args[1024];
    snprintf(args, sizeof args,
             "run --workload seq:n=" HUGE_N ",stride=64,size=1g --cpus 1 --json %s", json);
    pid_t pid = spawn(args, out, err);
    wait_handler(pid, sig);
    sleep_s(0.3);
    kill(pid, sig);
    assert_int_equal(wait_status(pid), want_status);

    char *o = read_file(out, NULL), *e = read_file(err, NULL);
    if (!strstr(o, "page walks") || !strstr(o, "workload seq:n=" HUGE_N))
        fail_msg("no summary on stdout:\n%s", o);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "vmsim: interrupted by %s after ", signame);
    const char *p = strstr(e, prefix);
    if (!p)
        fail_msg("stderr lacks \"%s\":\n%s", prefix, e);
    long long said = strtoll(p + strlen(prefix), NULL, 10);

    json_error_t jerr;
    json_t *j = json_load_file(json, 0, &jerr);
    if (!j)
        fail_msg("%s: %s", json, jerr.text);
    long long accesses = (long long)json_integer_value(json_object_get(j, "accesses"));
    long long events = (long long)json_integer_value(json_object_get(j, "events"));
    assert_true(accesses > 0);
    assert_true(accesses < 4000000000LL);
    assert_int_equal(events, said);
    assert_int_equal(events % 4096, 0); /* stopped between batches of 4096 */
    /* the file says it is partial (docs/stats.md, "How the run ended") */
    assert_true(json_is_false(json_object_get(j, "complete")));
    assert_string_equal(json_string_value(json_object_get(j, "stopped_by")), signame);
    json_decref(j);
    free(o);
    free(e);
    unlink(out);
    unlink(err);
    unlink(json);
    free(out);
    free(err);
    free(json);
}

static void test_sigint(void **state)
{
    (void)state;
    interrupt_run(SIGINT, 130, "SIGINT");
}

static void test_sigterm(void **state)
{
    (void)state;
    interrupt_run(SIGTERM, 143, "SIGTERM");
}

/* SIGTERM inside one long access (issue 11): a trace of 1 GiB reads, the
 * largest a record may ask for, each 2^18 page translations (tens of ms):
 * 1,000 of them fit in one batch of 4096 events, so only the simulator's
 * own check of the flag, per page crossed, can stop the run before the
 * batch ends. It must end within 5 s with 143 and the statistics, having
 * finished fewer than the 1,001 events (spawn + 1,000 reads); the access
 * under way is counted in "accesses" but not in "events". */
static void test_sigterm_inside_access(void **state)
{
    (void)state;
    const char *line = "R 1 0x40000000 1073741824\n";
    size_t n = 1000, len = strlen(line);
    char *text = malloc(8 + n * len + 1), *p = text;
    p += sprintf(p, "spawn 1\n");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s", line);
    char *trace = write_temp(text, (size_t)(p - text), ".txt");
    char *out = temp_path(".out"), *err = temp_path(".err"), *json = temp_path(".json");
    char args[1024];
    snprintf(args, sizeof args, "run --trace text:%s --cpus 1 --json %s", trace, json);
    pid_t pid = spawn(args, out, err);
    wait_handler(pid, SIGTERM);
    sleep_s(0.3);
    const double sent = now();
    kill(pid, SIGTERM);
    assert_int_equal(wait_status(pid), 143);
    assert_true(now() - sent < 5);
    char *o = read_file(out, NULL), *e = read_file(err, NULL);
    if (!strstr(o, "page walks"))
        fail_msg("no summary on stdout:\n%s", o);
    if (!strstr(e, "vmsim: interrupted by SIGTERM after "))
        fail_msg("stderr lacks the interruption:\n%s", e);
    json_error_t jerr;
    json_t *j = json_load_file(json, 0, &jerr);
    if (!j)
        fail_msg("%s: %s", json, jerr.text);
    long long accesses = (long long)json_integer_value(json_object_get(j, "accesses"));
    long long events = (long long)json_integer_value(json_object_get(j, "events"));
    assert_true(events >= 1 && events < 1001);
    assert_int_equal(accesses, events); /* events - the spawn + the access stopped */
    json_decref(j);
    free(o);
    free(e);
    unlink(out);
    unlink(err);
    unlink(json);
    unlink(trace);
    free(out);
    free(err);
    free(json);
    free(trace);
    free(text);
}

/* Run vmsim ARGS on a pseudo-terminal; read what it writes until `until`
 * shows (or for `secs` seconds when until is NULL), then SIGINT it and read
 * to the end. Returns everything it wrote; *status gets its exit status. */
static char *run_on_pty(const char *args, const char *until, double secs, int *status)
{
    int master;
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    assert_true(pid >= 0);
    if (pid == 0)
        exec_vmsim(args);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    bool sent = false;
    double start = now(), limit = start + 60;
    wait_handler(pid, SIGINT);
    for (;;) {
        if (!sent && (until ? (buf[len] = '\0', strstr(buf, until) != NULL)
                            : now() - start >= secs)) {
            kill(pid, SIGINT);
            sent = true;
        }
        if (now() > limit) {
            kill(pid, SIGKILL);
            fail_msg("vmsim on a terminal: nothing like \"%s\" within 60 s:\n%.*s",
                     until ? until : "", (int)len, buf);
        }
        struct pollfd pfd = {master, POLLIN, 0};
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        if (len + 4096 > cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        ssize_t n = read(master, buf + len, cap - len);
        if (n <= 0)
            break; /* EIO once the child has closed the terminal */
        len += (size_t)n;
    }
    buf[len] = '\0';
    close(master);
    *status = wait_status(pid);
    return buf;
}

static void test_progress_on_terminal(void **state)
{
    (void)state;
    int st;
    char *o = run_on_pty("run --workload seq:n=" HUGE_N ",stride=64,size=1g --cpus 1",
                         " left\033[K", 0, &st);
    assert_int_equal(st, 130);
    const char *line = strstr(o, "\rvmsim: ");
    if (!line || !strstr(line, " accesses in ") || !strstr(line, " M/s), "))
        fail_msg("no progress line:\n%s", o);
    /* erased before the summary, which starts on a clean line */
    const char *erase = strstr(o, "\r\033[Kvmsim: workload seq:");
    if (!erase)
        fail_msg("progress line not erased before the summary:\n%s", o);
    free(o);
}

/* The share done of a workload is its accesses so far over the total it
 * makes, fetches included (vmsim_source_total): each line "N accesses ...
 * P% done" has P the rounded share of N in 3 * 10^8 (10^8 fetches on top
 * of 2 * 10^8 data accesses). Some line must also be far enough along
 * that the total without the fetches would give another P, so the check
 * tells the two apart. */
static void test_progress_share_of_workload(void **state)
{
    (void)state;
    const double total = 3e8, without_fetches = 2e8;
    int st;
    char *o = run_on_pty("run --workload seq:n=200000000,stride=64,size=1g,code=4k,fetch_every=2 "
                         "--cpus 1",
                         NULL, 2.5, &st);
    if (st != 130 && st != 0) /* interrupted, or finished first on a fast machine */
        fail_msg("status %d:\n%s", st, o);
    int lines = 0, telling = 0;
    for (const char *line = strstr(o, "\rvmsim: "); line; line = strstr(line + 1, "\rvmsim: ")) {
        char count[64];
        unsigned pct;
        if (sscanf(line, "\rvmsim: %63[0-9,] accesses in %*[^(](%*[^)]), %u%% done, about ", count,
                   &pct) != 2)
            fail_msg("no share done in the progress line:\n%s", o);
        double n = 0;
        for (const char *c = count; *c; c++)
            if (*c != ',')
                n = n * 10 + (*c - '0');
        if (fabs(100 * n / total - pct) > 0.5 + 1e-9)
            fail_msg("%.0f of %.0f accesses is %.2f%%, the line says %u%%:\n%s", n, total,
                     100 * n / total, pct, o);
        lines++;
        telling += fabs(100 * n / without_fetches - pct) > 0.5 + 1e-9;
    }
    if (lines == 0 || telling == 0)
        fail_msg("%d progress lines, none far enough along to show the fetches count:\n%s",
                 lines, o);
    free(o);
}

/* A text trace through a FIFO (the size of its input is unknown): a writer
 * process sends accesses until vmsim stops reading. */
static void test_progress_no_share_of_fifo(void **state)
{
    (void)state;
    char *fifo = temp_path(".fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    pid_t writer = fork();
    assert_true(writer >= 0);
    if (writer == 0) {
        signal(SIGPIPE, SIG_IGN);
        int fd = open(fifo, O_WRONLY);
        if (fd < 0)
            _exit(1);
        static char chunk[1 << 16];
        size_t len = 0;
        const char line[] = "R 1 0x1000 8\n";
        while (len + sizeof line - 1 <= sizeof chunk) {
            memcpy(chunk + len, line, sizeof line - 1);
            len += sizeof line - 1;
        }
        while (write(fd, chunk, len) > 0)
            ;
        _exit(0); /* EPIPE: vmsim closed the FIFO */
    }
    char args[1024];
    snprintf(args, sizeof args, "run --trace text:%s --cpus 1", fifo);
    int st;
    char *o = run_on_pty(args, " M/s)\033[K", 0, &st);
    assert_int_equal(st, 130);
    if (!strstr(o, "\rvmsim: ") || !strstr(o, " accesses in "))
        fail_msg("no progress line:\n%s", o);
    assert_null(strstr(o, "% done"));
    assert_int_equal(wait_status(writer), 0);
    free(o);
    unlink(fifo);
    free(fifo);
}

/* A binary trace (docs/traces.md) of n writes of 8 bytes, each to a new
 * page at a pseudo-random place in 64 GiB: slow to simulate (a fault per
 * access), so the run lasts long enough to show its share done. */
static char *slow_trace(unsigned n)
{
    size_t cap = 16 + (size_t)n * 12, len = 0;
    unsigned char *b = malloc(cap);
    memcpy(b, "VMSIMBT\x01", 8);
    len = 8;
    uint64_t prev = 0, x = 88172645463325252ull;
    for (unsigned i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint64_t addr = (x % (1ull << 24)) << 12;                 /* a page in 64 GiB */
        b[len++] = i == 0 ? 0x01 | 0x04 | 0x10 : 0x01;            /* write [PID 1, SIZE 8] */
        if (i == 0)
            b[len++] = 1, b[len++] = 8;
        int64_t d = (int64_t)(addr - prev);
        uint64_t z = ((uint64_t)d << 1) ^ (uint64_t)(d >> 63);   /* zig-zag */
        do {
            b[len++] = (unsigned char)((z & 0x7f) | (z > 0x7f ? 0x80 : 0));
            z >>= 7;
        } while (z);
        prev = addr;
    }
    char *path = write_temp(b, len, ".vmt");
    free(b);
    return path;
}

static void test_progress_share_of_trace(void **state)
{
    (void)state;
    char *trace = slow_trace(3000000);
    char args[1024];
    snprintf(args, sizeof args, "run --trace bin:%s --cpus 1", trace);
    int st;
    char *o = run_on_pty(args, " left\033[K", 0, &st);
    /* interrupted, or finished first on a fast machine */
    if (st != 130 && st != 0)
        fail_msg("status %d:\n%s", st, o);
    const char *p = strstr(o, "% done, about ");
    if (!p)
        fail_msg("no share done in the progress line:\n%s", o);
    free(o);
    unlink(trace);
    free(trace);
}

static void test_no_progress_when_piped(void **state)
{
    (void)state;
    char *out = temp_path(".out"), *err = temp_path(".err");
    pid_t pid = spawn("run --workload seq:n=" HUGE_N ",stride=64,size=1g --cpus 1", out, err);
    wait_handler(pid, SIGINT);
    sleep_s(1.2); /* past the first progress line on a terminal (0.5 s) */
    kill(pid, SIGINT);
    assert_int_equal(wait_status(pid), 130);
    char *e = read_file(err, NULL);
    if (strstr(e, "accesses in") || strchr(e, '\r'))
        fail_msg("progress on a pipe:\n%s", e);
    if (strncmp(e, "vmsim: interrupted by SIGINT after ", 35) != 0)
        fail_msg("stderr should hold only the interrupt line:\n%s", e);
    free(e);
    unlink(out);
    unlink(err);
    free(out);
    free(err);
}

static void test_no_progress_when_quiet(void **state)
{
    (void)state;
    char *json = temp_path(".json");
    char args[1024];
    snprintf(args, sizeof args,
             "run --quiet --json %s --workload seq:n=" HUGE_N ",stride=64,size=1g --cpus 1", json);
    int st;
    char *o = run_on_pty(args, NULL, 1.2, &st);
    assert_int_equal(st, 130);
    if (strstr(o, "accesses in") || strstr(o, "page walks"))
        fail_msg("--quiet on a terminal printed more than the interrupt line:\n%s", o);
    if (!strstr(o, "vmsim: interrupted by SIGINT after "))
        fail_msg("no interrupt line:\n%s", o);
    /* the statistics so far still went to --json */
    size_t len;
    char *j = read_file(json, &len);
    assert_non_null(j);
    assert_true(json_number(j, "accesses") > 0);
    free(j);
    free(o);
    unlink(json);
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigint),
        cmocka_unit_test(test_sigterm),
        cmocka_unit_test(test_sigterm_inside_access),
        cmocka_unit_test(test_progress_on_terminal),
        cmocka_unit_test(test_progress_share_of_workload),
        cmocka_unit_test(test_progress_share_of_trace),
        cmocka_unit_test(test_progress_no_share_of_fifo),
        cmocka_unit_test(test_no_progress_when_piped),
        cmocka_unit_test(test_no_progress_when_quiet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
