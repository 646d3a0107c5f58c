/* Running a command under valgrind's lackey tool, for `vmsim record`,
 * `vmsim run --record` and `vmsim crosscheck` (which also runs it under
 * cachegrind, cli_valgrind_run).
 *
 * valgrind --tool=lackey --trace-mem=yes --log-fd=W COMMAND ARGS... writes
 * one line per memory access of the command to W, the write end of a pipe;
 * vmsim reads the other end with the ordinary lackey reader, so nothing is
 * stored on the way. Valgrind runs the command in its own process: the pid
 * fork() returns is the command's, and its wait status is the command's
 * (valgrind exits with the command's status, or dies of the same signal).
 *
 * With --lackey PATH a relay process sits between the two: it copies every
 * byte valgrind writes both to PATH and to the pipe vmsim reads, so the
 * saved text is exactly what was simulated or converted.
 *
 * Lackey cannot tell processes, threads, mappings or context switches apart
 * (docs/cli.md, "vmsim record"): the trace is one process, pid 1. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"

/* Is prog an executable file, as execvp would find it? */
static bool findable(const char *prog)
{
    if (strchr(prog, '/')) {
        struct stat sb;
        return stat(prog, &sb) == 0 && S_ISREG(sb.st_mode) && access(prog, X_OK) == 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path;;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        char full[4096];
        snprintf(full, sizeof full, "%.*s/%s", (int)len, len ? p : ".", prog);
        struct stat sb;
        if (stat(full, &sb) == 0 && S_ISREG(sb.st_mode) && access(full, X_OK) == 0)
            return true;
        if (!colon)
            return false;
        p = colon + 1;
    }
}

static ssize_t write_all(int fd, const char *buf, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t w = write(fd, buf + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        done += (size_t)w;
    }
    return (ssize_t)len;
}

/* A pipe whose ends close on exec (pipe2 is not POSIX). */
static int cloexec_pipe(int fd[2])
{
    if (pipe(fd) != 0)
        return -1;
    fcntl(fd[0], F_SETFD, FD_CLOEXEC);
    fcntl(fd[1], F_SETFD, FD_CLOEXEC);
    return 0;
}

/* The relay: in -> copy and out, to the end of in. Runs in its own process. */
static _Noreturn void relay(int in, int copy, int out)
{
    static char buf[1 << 16];
    signal(SIGINT, SIG_IGN); /* it stops when valgrind's end of the pipe closes */
    signal(SIGTERM, SIG_IGN);
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(n < 0);
        if (write_all(copy, buf, (size_t)n) < 0 || write_all(out, buf, (size_t)n) < 0)
            _exit(1);
    }
}

static int reap(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return st;
}

int cli_record_check(char **cmd)
{
    if (!findable("valgrind"))
        return cli_fail("record: valgrind is not installed (not found on PATH); install it, e.g. "
                        "`apt-get install valgrind` or `make deps` as root");
    if (!findable(cmd[0]))
        return cli_fail("record: %s: expected an executable command, found %s", cmd[0],
                        strchr(cmd[0], '/') ? "no executable file there" : "none on PATH");
    return 0;
}

/* Fork and exec `valgrind TOOL_ARGS... --log-fd=N CMD...` with valgrind's
 * log on logfd, moved to the descriptor number log_at when that is not -1
 * (so that two runs show their command the same open descriptors), and the
 * command's standard streams as io says. Returns the pid, or -1 (errno). */
static pid_t spawn_valgrind(const char *const *tool_args, char **cmd, int logfd, int log_at,
                            const struct cli_record_io *io)
{
    size_t ntool = 0, n = 0;
    while (tool_args[ntool])
        ntool++;
    while (cmd[n])
        n++;
    int fd = log_at >= 0 ? log_at : logfd;
    char logarg[32];
    snprintf(logarg, sizeof logarg, "--log-fd=%d", fd);
    char **argv = calloc(ntool + n + 3, sizeof *argv);
    if (!argv)
        return -1;
    argv[0] = "valgrind";
    memcpy(argv + 1, tool_args, ntool * sizeof *argv);
    argv[ntool + 1] = logarg;
    memcpy(argv + ntool + 2, cmd, n * sizeof *argv);

    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* The standard streams first: log_at may be the number one of
         * them has in vmsim. Then valgrind's log, which survives the exec
         * (dup2 clears close-on-exec). */
        const int std[3] = {io ? io->in : -1, io ? io->out : -1, io ? io->err : -1};
        for (int i = 0; i < 3; i++)
            if (std[i] >= 0 && std[i] != i)
                dup2(std[i], i);
        if (fd != logfd)
            dup2(logfd, fd);
        else
            fcntl(logfd, F_SETFD, 0);
        execvp("valgrind", argv);
        fprintf(stderr, "vmsim: cannot run valgrind: %s\n", strerror(errno));
        _exit(127);
    }
    int e = errno;
    free(argv);
    errno = e;
    return pid;
}

int cli_record_start(char **cmd, const char *lackey_copy, bool stdout_to_stderr,
                     struct cli_recording *r)
{
    const struct cli_record_io io = {-1, stdout_to_stderr ? STDERR_FILENO : -1, -1};
    return cli_record_start_io(cmd, lackey_copy, &io, r);
}

int cli_record_start_io(char **cmd, const char *lackey_copy, const struct cli_record_io *io,
                        struct cli_recording *r)
{
    static const char *const lackey[] = {"--tool=lackey", "--trace-mem=yes", NULL};
    memset(r, 0, sizeof *r);
    r->fd = -1;
    r->command = cmd[0];
    if (cli_record_check(cmd) != 0)
        return 1;

    int copy = -1;
    if (lackey_copy &&
        (copy = open(lackey_copy, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0)
        return cli_fail("record: --lackey: cannot write %s: %s", lackey_copy, strerror(errno));

    int vg[2] = {-1, -1}, rl[2] = {-1, -1};
    if (cloexec_pipe(vg) != 0 || (copy >= 0 && cloexec_pipe(rl) != 0)) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (vg[i] >= 0)
                close(vg[i]);
        }
        if (copy >= 0)
            close(copy);
        return cli_fail("record: cannot make a pipe: %s", strerror(e));
    }

    r->log_fd = vg[1];
    r->pid = spawn_valgrind(lackey, cmd, vg[1], -1, io);
    close(vg[1]);
    if (r->pid > 0)
        cli_interrupt_forward(r->pid);
    if (r->pid < 0) {
        close(vg[0]);
        if (copy >= 0) {
            close(copy);
            close(rl[0]);
            close(rl[1]);
        }
        return cli_fail("record: cannot start valgrind: %s", strerror(errno));
    }
    r->fd = vg[0];
    if (copy < 0)
        return 0;

    r->relay = fork();
    if (r->relay == 0) {
        close(rl[0]);
        relay(vg[0], copy, rl[1]);
    }
    close(copy);
    close(vg[0]);
    close(rl[1]);
    r->fd = rl[0];
    if (r->relay < 0) {
        r->relay = 0;
        cli_record_end(r, true);
        return cli_fail("record: cannot start the --lackey relay: %s", strerror(errno));
    }
    return 0;
}

int cli_valgrind_run(const char *const *tool_args, char **cmd, int logfd, int log_at,
                     const struct cli_record_io *io)
{
    pid_t pid = spawn_valgrind(tool_args, cmd, logfd, log_at, io);
    if (pid < 0)
        return -1;
    cli_interrupt_forward(pid);
    int st = reap(pid);
    cli_interrupt_forward(0);
    return st;
}

int cli_record_source(struct cli_recording *r, struct vmsim_source **src)
{
    char path[32];
    snprintf(path, sizeof path, "/dev/fd/%d", r->fd);
    struct vmsim_source_error err = {0};
    int rc = vmsim_source_open_trace(path, "lackey", src, &err);
    if (rc == 0)
        return 0;
    if (err.where[0])
        return cli_fail("%s: expected %s, found %s", err.where, err.expected, err.found);
    return cli_fail("record: cannot read valgrind's output: %s", vmsim_strerror(rc));
}

int cli_record_end(struct cli_recording *r, bool stop)
{
    if (stop) {
        kill(r->pid, SIGKILL);
        if (r->relay)
            kill(r->relay, SIGKILL);
    }
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    int st = reap(r->pid);
    cli_interrupt_forward(0);
    if (r->relay)
        reap(r->relay);
    return st;
}

int cli_record_status(const struct cli_recording *r, int wstatus, bool say)
{
    if (WIFEXITED(wstatus)) {
        if (say || WEXITSTATUS(wstatus))
            fprintf(stderr, "vmsim: %s exited with status %d\n", r->command, WEXITSTATUS(wstatus));
        return WEXITSTATUS(wstatus);
    }
    if (WIFSIGNALED(wstatus)) {
        fprintf(stderr, "vmsim: %s was killed by signal %d (%s)\n", r->command, WTERMSIG(wstatus),
                strsignal(WTERMSIG(wstatus)));
        return 128 + WTERMSIG(wstatus);
    }
    return 1;
}
