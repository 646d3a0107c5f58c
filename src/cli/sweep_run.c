/* vmsim sweep, the running: each point a child `vmsim run ... --json -
 * --quiet` (this very binary), up to -j at once, their stdout and stderr
 * polled; each finished point's row appended to the journal and fsync'ed,
 * so that a rerun runs only the points without an "ok" row. Invariants 2
 * and 3 of cmd_sweep.c are kept here. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/sweep.h"

struct job {
    pid_t pid;
    size_t point;
    int fd[2]; /* child's stdout, stderr; -1 once closed */
    char *buf[2];
    size_t len[2], cap[2];
    struct timespec start;
};

double sweep_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the journal ------------------------------------------------------ */

static int sweep_journal_append(struct sweep *s, json_t *row)
{
    if (s->journal < 0) return 0;
    char *line = json_dumps(row, JSON_COMPACT);
    if (!line) return cli_fail("--journal: out of memory");
    size_t len = strlen(line);
    line[len++] = '\n'; /* json_dumps leaves room: we replace the NUL */
    const char *p = line;
    int rc = 0;
    for (size_t left = len; left;) {
        ssize_t w = write(s->journal, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            rc = cli_fail("--journal: write failed: %s", strerror(errno));
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    free(line);
    if (rc == 0 && fsync(s->journal) != 0 && errno != EINVAL)
        rc = cli_fail("--journal: fsync failed: %s", strerror(errno));
    return rc;
}

/* A line torn by a kill is dropped when the journal is rewritten. */
int sweep_journal_open(struct sweep *s, const char *path, bool fresh, bool quiet)
{
    size_t kept = 0;
    json_t *lines = json_array();
    FILE *f = fresh ? NULL : fopen(path, "r");
    if (f) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        bool first = true;
        while ((n = getline(&line, &cap, f)) > 0) {
            json_t *row = json_loadb(line, (size_t)n, 0, NULL);
            if (first) {
                first = false;
                const json_int_t version =
                    json_integer_value(json_object_get(row, "vmsim_sweep_journal"));
                if (version && version != SWEEP_JOURNAL_VERSION) {
                    json_decref(row);
                    free(line);
                    fclose(f);
                    json_decref(lines);
                    return cli_usage("--journal %s: expected a journal of format %d, found format "
                                     "%lld (another version of vmsim); delete it or pass --fresh",
                                     path, SWEEP_JOURNAL_VERSION, (long long)version);
                }
                if (!json_equal(row, s->header)) {
                    json_decref(row);
                    free(line);
                    fclose(f);
                    json_decref(lines);
                    return cli_usage("--journal %s: expected the journal of this sweep (the same "
                                     "options, input and axes), found another sweep's; delete it "
                                     "or pass --fresh",
                                     path);
                }
                json_decref(row);
                continue;
            }
            json_t *pt = json_object_get(row, "point");
            const json_int_t p = json_is_integer(pt) ? json_integer_value(pt) : -1;
            const char *st = json_string_value(json_object_get(row, "status"));
            if (p >= 0 && (size_t)p < s->npoints && st && !strcmp(st, "ok") && !s->rows[p]) {
                const char *why;
                json_t *args = sweep_point_args(s, (size_t)p, &why);
                if (args && json_equal(args, json_object_get(row, "args"))) {
                    s->rows[p] = json_incref(row);
                    s->resumed[p] = true;
                    json_array_append(lines, row);
                    kept++;
                }
                json_decref(args);
            }
            json_decref(row);
        }
        free(line);
        fclose(f);
    }
    s->nresumed = kept;
    s->ok = kept;
    if (kept && !quiet)
        fprintf(stderr, "vmsim: sweep: resuming from %s: %zu of %zu points done already\n", path,
                kept, s->npoints);
    /* rewrite: header + kept rows, atomically */
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        json_decref(lines);
        return cli_usage("--journal: expected a shorter path, found \"%s\"", path);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        json_decref(lines);
        return cli_fail("--journal: cannot write %s: %s", tmp, strerror(errno));
    }
    s->journal = fd;
    int rc = sweep_journal_append(s, s->header);
    size_t i;
    json_t *row;
    json_array_foreach(lines, i, row) if (rc == 0) rc = sweep_journal_append(s, row);
    json_decref(lines);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = cli_fail("--journal: cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (rc) {
        close(fd);
        s->journal = -1;
        unlink(tmp);
    }
    return rc;
}

/* ---- running ---------------------------------------------------------- */

static volatile sig_atomic_t interrupted;
static void on_signal(int sig)
{
    interrupted = sig;
}

/* Start point p: fork, and exec `vmsim run ARGS --json - --quiet` with
 * stdout and stderr on pipes. 0, or -1 with errno. */
static int start(struct job *j, size_t p, json_t *args, const char *max_rss)
{
    int out[2], err[2];
    if (pipe(out)) return -1;
    if (pipe(err)) {
        close(out[0]);
        close(out[1]);
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(out[i], F_SETFD, FD_CLOEXEC);
        fcntl(err[i], F_SETFD, FD_CLOEXEC);
    }
    const size_t n = json_array_size(args);
    char **argv = calloc(n + 7, sizeof *argv);
    if (!argv) {
        close(out[0]), close(out[1]), close(err[0]), close(err[1]);
        errno = ENOMEM;
        return -1;
    }
    argv[0] = "vmsim";
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = (char *)json_string_value(json_array_get(args, i));
    argv[n + 1] = "--json";
    argv[n + 2] = "-";
    argv[n + 3] = "--quiet";
    if (max_rss[0]) {
        argv[n + 4] = "--max-rss";
        argv[n + 5] = (char *)max_rss;
    }
    const pid_t parent = getpid();
    clock_gettime(CLOCK_MONOTONIC, &j->start);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        execv("/proc/self/exe", argv);
        dprintf(2, "vmsim: sweep: cannot run /proc/self/exe: %s\n", strerror(errno));
        _exit(127);
    }
    const int saved = errno;
    free(argv);
    close(out[1]);
    close(err[1]);
    if (pid < 0) {
        close(out[0]);
        close(err[0]);
        errno = saved;
        return -1;
    }
    j->pid = pid;
    j->point = p;
    j->fd[0] = out[0];
    j->fd[1] = err[0];
    j->len[0] = j->len[1] = 0;
    return 0;
}

/* Drain what fd i of job j has; closes it at EOF. */
static void drain(struct job *j, int i)
{
    char chunk[65536];
    ssize_t n = read(j->fd[i], chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
        close(j->fd[i]);
        j->fd[i] = -1;
        return;
    }
    if (j->len[i] + (size_t)n + 1 > j->cap[i]) {
        size_t cap = j->cap[i] ? j->cap[i] : 65536;
        while (cap < j->len[i] + (size_t)n + 1)
            cap *= 2;
        char *b = realloc(j->buf[i], cap);
        if (!b) {
            close(j->fd[i]); /* the row will say the output was lost */
            j->fd[i] = -1;
            return;
        }
        j->buf[i] = b;
        j->cap[i] = cap;
    }
    memcpy(j->buf[i] + j->len[i], chunk, (size_t)n);
    j->len[i] += (size_t)n;
    j->buf[i][j->len[i]] = '\0';
}

/* The child's stderr as one line: "vmsim: " prefixes dropped, lines
 * joined with " / ", at most 2000 bytes. */
static void error_text(const char *err, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = err, *end = err + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if (!strncmp(p, "vmsim: ", 7) && p + 7 <= e) p += 7;
        if (e > p && n + 4 < cap)
            n += (size_t)snprintf(out + n, cap - n, "%s%.*s", n ? " / " : "", (int)(e - p), p);
        p = e + 1;
    }
}

void sweep_progress(struct sweep *s, size_t running, bool final)
{
    if (!s->progress || (!final && sweep_now() - s->shown < 0.5)) return;
    s->shown = sweep_now();
    const size_t done = s->ok + s->failed;
    const double t = sweep_now() - s->t0;
    const size_t this_run = done - s->nresumed;
    char eta[64] = "";
    if (this_run && done < s->npoints)
        snprintf(eta, sizeof eta, ", about %.0f s left",
                 t / (double)this_run * (double)(s->npoints - done));
    fprintf(stderr, "\r\033[Kvmsim sweep: %zu/%zu points, %zu failed, %zu running, %.0f s%s%s",
            done, s->npoints, s->failed, running, t, eta, final ? "\n" : "");
    fflush(stderr);
}

/* The row of a point whose command line cannot be spelled. */
static int unspellable(struct sweep *s, size_t p, const char *why)
{
    json_t *a = json_array();
    char e[256];
    snprintf(e, sizeof e, "sweep: cannot build the command line: %s", why);
    s->rows[p] = sweep_row(s, p, a, NULL, e, 0, 0);
    json_decref(a);
    s->failed++;
    fprintf(stderr, "vmsim: sweep: point %zu failed: %s\n", p, e);
    return sweep_journal_append(s, s->rows[p]);
}

int sweep_take(struct sweep *s, size_t *point, json_t **args)
{
    while (s->next < s->npoints) {
        const size_t p = s->next++;
        if (s->rows[p] || (s->shard_n && p % s->shard_n != s->shard_i)) continue;
        const char *why;
        if ((*args = sweep_point_args(s, p, &why)) != NULL) {
            *point = p;
            return 1;
        }
        int rc = unspellable(s, p, why); /* a failed row, and on to the next */
        if (rc) return -rc;
    }
    return 0;
}

int sweep_finish(struct sweep *s, size_t p, const struct sweep_result *r)
{
    char error[2048] = "";
    json_t *doc = NULL;
    error_text(r->err ? r->err : "", r->err_len, error, sizeof error);
    if (WIFSIGNALED(r->status)) {
        char e[sizeof error];
        snprintf(e, sizeof e, "killed by signal %d (%s)%s%.1900s", WTERMSIG(r->status),
                 strsignal(WTERMSIG(r->status)), error[0] ? ": " : "", error);
        memcpy(error, e, sizeof error);
    } else if (WEXITSTATUS(r->status) != 0) {
        if (!error[0]) snprintf(error, sizeof error, "exit status %d", WEXITSTATUS(r->status));
    } else {
        json_error_t je;
        doc = json_loadb(r->out ? r->out : "", r->out_len, 0, &je);
        if (!json_is_object(doc)) {
            json_decref(doc);
            doc = NULL;
            snprintf(error, sizeof error, "the run's JSON is not readable: line %d: %s", je.line,
                     je.text);
        }
    }
    const char *why;
    json_t *args = sweep_point_args(s, p, &why);
    json_t *row = sweep_row(s, p, args, doc, doc ? NULL : error, r->elapsed, r->cpu);
    json_decref(args);
    json_decref(doc);
    s->rows[p] = row;
    s->ran++;
    if (doc) {
        s->ok++;
    } else {
        s->failed++;
        if (s->progress) fputs("\r\033[K", stderr);
        fprintf(stderr, "vmsim: sweep: point %zu (", p);
        for (size_t a = 0; a < s->naxes; a++)
            fprintf(stderr, "%s%s=%s", a ? ", " : "", s->axes[a].key, sweep_axis_value(s, a, p));
        fprintf(stderr, ") failed: %s\n", error);
    }
    return sweep_journal_append(s, row);
}

/* Job j ended with wait status `status`: what it left, to the runner. */
static int finish(const struct sweep_runner *r, struct job *j, int status, const struct rusage *ru)
{
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    const struct sweep_result res = {
        .out = j->buf[0],
        .out_len = j->len[0],
        .err = j->buf[1],
        .err_len = j->len[1],
        .status = status,
        .elapsed = (double)(end.tv_sec - j->start.tv_sec) +
                   1e-9 * (double)(end.tv_nsec - j->start.tv_nsec),
        .cpu = (double)ru->ru_utime.tv_sec + 1e-6 * (double)ru->ru_utime.tv_usec +
               (double)ru->ru_stime.tv_sec + 1e-6 * (double)ru->ru_stime.tv_usec,
    };
    return r->done(r->ctx, j->point, &res);
}

/* The runner of a sweep in one process: points from the grid, rows to it. */
static int local_take(void *ctx, size_t *p, json_t **args)
{
    return sweep_take(ctx, p, args);
}
static int local_done(void *ctx, size_t p, const struct sweep_result *r)
{
    return sweep_finish(ctx, p, r);
}
static int local_tick(void *ctx, size_t running, bool *more, int *wait_ms)
{
    struct sweep *s = ctx;
    sweep_progress(s, running, false);
    *more = false;
    return 0;
}

int sweep_run_all(struct sweep *s, unsigned jobs)
{
    const struct sweep_runner r = {local_take, local_done, local_tick, s, 1000};
    const int rc = sweep_run(&r, jobs, s->max_rss);
    sweep_progress(s, 0, true);
    return rc;
}

int sweep_run(const struct sweep_runner *r, unsigned jobs, const char *max_rss)
{
    struct job *job = calloc(jobs, sizeof *job);
    struct pollfd *pfd = calloc(2 * (size_t)jobs, sizeof *pfd);
    if (!job || !pfd) {
        free(job);
        free(pfd);
        return cli_fail("out of memory");
    }
    for (unsigned i = 0; i < jobs; i++)
        job[i].pid = 0, job[i].fd[0] = job[i].fd[1] = -1;
    size_t running = 0;
    int rc = 0;
    interrupted = 0;
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    for (;;) {
        while (!interrupted && rc == 0 && running < jobs) {
            size_t p;
            json_t *args;
            const int t = r->take(r->ctx, &p, &args);
            if (t < 0) rc = -t;
            if (t <= 0) break;
            unsigned slot = 0;
            while (job[slot].pid)
                slot++;
            if (start(&job[slot], p, args, max_rss) != 0) {
                rc = cli_fail("sweep: cannot start a run: %s", strerror(errno));
                json_decref(args);
                break;
            }
            json_decref(args);
            running++;
        }
        bool more = false;
        int wait_ms = r->poll_ms;
        if (!interrupted && rc == 0) rc = r->tick(r->ctx, running, &more, &wait_ms);
        if (running == 0 && (!more || interrupted || rc)) break;
        /* wait for output (or the runner's next look: the progress line,
         * the other ranks) */
        nfds_t n = 0;
        for (unsigned i = 0; i < jobs; i++)
            for (int k = 0; k < 2; k++)
                if (job[i].pid && job[i].fd[k] >= 0)
                    pfd[n++] = (struct pollfd){.fd = job[i].fd[k], .events = POLLIN};
        if (poll(pfd, n, wait_ms) < 0 && errno != EINTR) {
            rc = cli_fail("sweep: poll failed: %s", strerror(errno));
            interrupted = SIGTERM;
        }
        if (interrupted) {
            for (unsigned i = 0; i < jobs; i++)
                if (job[i].pid) kill(job[i].pid, SIGKILL);
        }
        for (unsigned i = 0; i < jobs; i++) {
            struct job *j = &job[i];
            if (!j->pid) continue;
            for (int k = 0; k < 2; k++)
                if (j->fd[k] >= 0) {
                    for (nfds_t q = 0; q < n; q++)
                        if (pfd[q].fd == j->fd[k] && pfd[q].revents) drain(j, k);
                    if (interrupted && j->fd[k] >= 0) {
                        close(j->fd[k]);
                        j->fd[k] = -1;
                    }
                }
            if (j->fd[0] >= 0 || j->fd[1] >= 0) continue;
            int status;
            struct rusage ru;
            while (wait4(j->pid, &status, 0, &ru) < 0 && errno == EINTR)
                ;
            j->pid = 0;
            running--;
            if (!interrupted && rc == 0) rc = finish(r, j, status, &ru);
        }
    }
    for (unsigned i = 0; i < jobs; i++)
        free(job[i].buf[0]), free(job[i].buf[1]);
    free(job);
    free(pfd);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (interrupted && rc == 0) rc = 128 + interrupted; /* 130 for SIGINT, 143 for SIGTERM */
    return rc;
}
