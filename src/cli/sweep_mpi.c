/* vmsim sweep across the ranks of an MPI job (docs/cli.md, "Sweeps on a
 * cluster"): `mpirun -np N vmsim sweep ...` or `srun vmsim sweep ...`.
 *
 * Rank 0 is the sweep of one process: it parses the command, reads the
 * journal, runs points itself (-j at a time, 1 by default) and writes the
 * journal and the outputs. The other ranks parse nothing: each asks rank 0
 * for a point whenever one of its -j slots is free, runs it as a child
 * `vmsim run` exactly as -j does, and sends back what the child left
 * (stdout, stderr, wait status, times); rank 0 turns that into the row with
 * the same code as for its own points. Points go out one at a time on
 * request, never split up front, because a point's time varies by orders of
 * magnitude.
 *
 * Messages (all MPI_BYTE, rank 0 <-> rank r):
 *   START  0 -> r   int32 jobs per rank; 0: stop (usage error, --help)
 *   ASK    r -> 0   empty: a slot of r is free
 *   POINT  0 -> r   int64 point (-1: no more) and the JSON array of its args
 *   RESULT r -> 0   struct wire_result, then stdout, then stderr
 *   DONE   r -> 0   empty: r got -1 and its last point is sent; r ends
 * Rank 0 ends once every other rank said DONE, so no rank waits for an
 * answer that never comes.
 *
 * Invariants: only rank 0 writes files; a row exists only once rank 0 has
 * journaled it, so a rank that dies (or an mpirun that is killed, or rank 0
 * itself) loses the points in flight and nothing else: the same command
 * again resumes from the journal. Nothing blocks in MPI while points run:
 * both sides look for messages between polls of their children (1 ms), as
 * Open MPI's blocking calls spin and would take a core from the points. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/sweep.h"

static const char *launcher_env(void)
{
    static const char *const names[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"};
    for (size_t i = 0; i < NELEM(names); i++)
        if (getenv(names[i])) return names[i];
    return NULL;
}

bool sweep_mpi_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--mpi")) return true;
    return launcher_env() != NULL;
}

#ifdef VMSIM_HAVE_MPI

#include <mpi.h>
#include <time.h>

enum { TAG_START = 1, TAG_ASK, TAG_POINT, TAG_RESULT, TAG_DONE };

/* MPI is one per process: so is what we know of it. */
static struct {
    bool on;
    int rank, size;
    unsigned local; /* ranks on this node */
} mpi;

struct wire_result {
    int64_t point;
    int32_t status, pad;
    double elapsed, cpu;
    uint64_t out_len, err_len;
};

int sweep_mpi_init(int *rank, int *size)
{
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) return cli_fail("sweep: MPI_Init failed");
    MPI_Comm_rank(MPI_COMM_WORLD, &mpi.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mpi.size);
    MPI_Comm node;
    int local = 1;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_size(node, &local);
        MPI_Comm_free(&node);
    }
    mpi.local = local > 0 ? (unsigned)local : 1;
    mpi.on = true;
    *rank = mpi.rank;
    *size = mpi.size;
    return 0;
}

unsigned sweep_mpi_local_ranks(void)
{
    return mpi.on ? mpi.local : 1;
}

static void nap(void)
{
    nanosleep(&(struct timespec){0, 1000000}, NULL);
}

/* A message of tag from src (MPI_ANY_SOURCE) if one is there: its bytes
 * (malloc'd, NUL-terminated), length and source. 1, 0 none, -1 no memory. */
static int receive(int src, int tag, char **buf, int *len, int *from)
{
    int flag;
    MPI_Status st;
    MPI_Iprobe(src, tag, MPI_COMM_WORLD, &flag, &st);
    if (!flag) return 0;
    int n;
    MPI_Get_count(&st, MPI_BYTE, &n);
    *buf = malloc((size_t)n + 1);
    if (!*buf) return -1;
    MPI_Recv(*buf, n, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    (*buf)[n] = '\0';
    *len = n;
    if (from) *from = st.MPI_SOURCE;
    return 1;
}

static void send_start(int32_t jobs)
{
    for (int r = 1; r < mpi.size; r++)
        MPI_Send(&jobs, (int)sizeof jobs, MPI_BYTE, r, TAG_START, MPI_COMM_WORLD);
}

void sweep_mpi_stop(void)
{
    if (!mpi.on) return;
    if (mpi.rank == 0) send_start(0);
    sweep_mpi_finalize();
}

void sweep_mpi_finalize(void)
{
    if (!mpi.on) return;
    mpi.on = false;
    MPI_Finalize();
}

/* ---- the other ranks ---------------------------------------------------- */

struct worker {
    bool asked, no_more;
    int wait_ms; /* for the answer: 1, doubling to 8 */
};

static int worker_take(void *ctx, size_t *point, json_t **args)
{
    struct worker *w = ctx;
    if (w->no_more) return 0;
    if (!w->asked) {
        MPI_Send(NULL, 0, MPI_BYTE, 0, TAG_ASK, MPI_COMM_WORLD);
        w->asked = true;
        w->wait_ms = 1;
    }
    char *buf;
    int len;
    const int got = receive(0, TAG_POINT, &buf, &len, NULL);
    if (got < 0) return -cli_fail("sweep: out of memory");
    if (got == 0) return 0;
    w->asked = false;
    int64_t p = -1;
    if ((size_t)len >= sizeof p) memcpy(&p, buf, sizeof p);
    if (p < 0) {
        free(buf);
        w->no_more = true;
        return 0;
    }
    *args = json_loads(buf + sizeof p, 0, NULL);
    free(buf);
    if (!json_is_array(*args)) {
        json_decref(*args);
        return -cli_fail("sweep: rank %d: expected a point's arguments from rank 0, found "
                         "something else",
                         mpi.rank);
    }
    *point = (size_t)p;
    return 1;
}

static int worker_done(void *ctx, size_t point, const struct sweep_result *r)
{
    const struct wire_result h = {(int64_t)point, r->status, 0, r->elapsed, r->cpu, r->out_len,
                                  r->err_len};
    const size_t n = sizeof h + r->out_len + r->err_len;
    if (n > INT32_MAX) return cli_fail("sweep: rank %d: a point's output exceeds 2 GiB", mpi.rank);
    char *buf = malloc(n);
    if (!buf) return cli_fail("sweep: out of memory");
    memcpy(buf, &h, sizeof h);
    if (r->out_len) memcpy(buf + sizeof h, r->out, r->out_len);
    if (r->err_len) memcpy(buf + sizeof h + r->out_len, r->err, r->err_len);
    MPI_Send(buf, (int)n, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD);
    free(buf);
    return 0;
}

static int worker_tick(void *ctx, size_t running, bool *more, int *wait_ms)
{
    struct worker *w = ctx;
    *more = !w->no_more;
    /* Only an answer to ASK needs looking for (the children's output wakes
     * the poll by itself), and rank 0 may take 8 ms to see the question:
     * each look costs a progress round of MPI, a sched_yield when the
     * node is oversubscribed. */
    if (w->asked) {
        *wait_ms = w->wait_ms;
        w->wait_ms = w->wait_ms < 8 ? 2 * w->wait_ms : 8;
    } else {
        *wait_ms = 1000;
    }
    return 0;
}

int sweep_mpi_worker(void)
{
    char *buf = NULL;
    int len, got;
    while ((got = receive(0, TAG_START, &buf, &len, NULL)) == 0)
        nap();
    int32_t jobs = 0;
    if (got > 0 && (size_t)len >= sizeof jobs) memcpy(&jobs, buf, sizeof jobs);
    free(buf);
    if (jobs <= 0) { /* rank 0 will not run the sweep, and says why */
        sweep_mpi_finalize();
        return got < 0 ? 1 : 0;
    }
    /* this node's memory, shared by its ranks' points */
    char max_rss[32] = "";
    const uint64_t avail = cli_rss_default(), together = (uint64_t)jobs * mpi.local;
    if (avail / together >= (16u << 20))
        snprintf(max_rss, sizeof max_rss, "%llu", (unsigned long long)(avail / together));
    struct worker w = {false, false, 1};
    const struct sweep_runner r = {worker_take, worker_done, worker_tick, &w, 1};
    const int rc = sweep_run(&r, (unsigned)jobs, max_rss);
    if (rc > 128) return rc; /* interrupted: the launcher ends the job */
    if (rc == 0) MPI_Send(NULL, 0, MPI_BYTE, 0, TAG_DONE, MPI_COMM_WORLD);
    sweep_mpi_finalize();
    return rc;
}

/* ---- rank 0 --------------------------------------------------------------- */

struct coordinator {
    struct sweep *s;
    size_t remote; /* points running on other ranks */
    int done;      /* ranks that said DONE */
    int wait_ms;   /* 1 after a message, doubling to 8 while none comes */
};

static int coord_take(void *ctx, size_t *point, json_t **args)
{
    const struct coordinator *c = ctx;
    return sweep_take(c->s, point, args);
}

static int coord_done(void *ctx, size_t point, const struct sweep_result *r)
{
    const struct coordinator *c = ctx;
    c->s->rank_points[0]++;
    return sweep_finish(c->s, point, r);
}

/* Hand out a point to rank `to`, or -1. */
static int answer(struct coordinator *c, int to)
{
    size_t p;
    json_t *args = NULL;
    const int t = sweep_take(c->s, &p, &args);
    if (t < 0) return -t;
    char *text = t ? json_dumps(args, JSON_COMPACT) : NULL;
    json_decref(args);
    if (t && !text) return cli_fail("sweep: out of memory");
    const int64_t point = t ? (int64_t)p : -1;
    const size_t n = sizeof point + (text ? strlen(text) : 0);
    char *buf = malloc(n);
    if (!buf) {
        free(text);
        return cli_fail("sweep: out of memory");
    }
    memcpy(buf, &point, sizeof point);
    if (text) memcpy(buf + sizeof point, text, n - sizeof point);
    MPI_Send(buf, (int)n, MPI_BYTE, to, TAG_POINT, MPI_COMM_WORLD);
    free(buf);
    free(text);
    if (t) c->remote++;
    return 0;
}

static int coord_tick(void *ctx, size_t running, bool *more, int *wait_ms)
{
    struct coordinator *c = ctx;
    int rc = 0;
    bool heard = false;
    for (;; heard = true) {
        char *buf;
        int len, from, got;
        if ((got = receive(MPI_ANY_SOURCE, TAG_ASK, &buf, &len, &from)) > 0) {
            free(buf);
            if ((rc = answer(c, from)) != 0) break;
        } else if ((got = receive(MPI_ANY_SOURCE, TAG_RESULT, &buf, &len, &from)) > 0) {
            struct wire_result h;
            if ((size_t)len < sizeof h) {
                free(buf);
                rc = cli_fail("sweep: rank %d sent a result of %d bytes", from, len);
                break;
            }
            memcpy(&h, buf, sizeof h);
            if (h.point < 0 || (size_t)h.point >= c->s->npoints || c->s->rows[h.point] ||
                sizeof h + h.out_len + h.err_len != (size_t)len) {
                free(buf);
                rc = cli_fail("sweep: rank %d sent a result that fits no point it was given",
                              from);
                break;
            }
            const struct sweep_result r = {buf + sizeof h,
                                           buf + sizeof h + h.out_len,
                                           h.out_len,
                                           h.err_len,
                                           h.status,
                                           h.elapsed,
                                           h.cpu};
            c->remote--;
            c->s->rank_points[from]++;
            rc = sweep_finish(c->s, (size_t)h.point, &r);
            free(buf);
            if (rc) break;
        } else if ((got = receive(MPI_ANY_SOURCE, TAG_DONE, &buf, &len, &from)) > 0) {
            free(buf);
            c->done++;
        } else {
            if (got < 0) rc = cli_fail("sweep: out of memory");
            break;
        }
    }
    sweep_progress(c->s, running + c->remote, false);
    *more = c->done < mpi.size - 1;
    /* Messages do not wake poll(): look again soon after one came, less
     * often while none does (an answer waits 8 ms at most, and an idle
     * rank 0 wakes 125 times a second rather than 1000). */
    c->wait_ms = heard ? 1 : (c->wait_ms < 8 ? 2 * c->wait_ms : 8);
    *wait_ms = *more ? c->wait_ms : *wait_ms;
    return rc;
}

int sweep_mpi_run(struct sweep *s, unsigned jobs)
{
    s->rank_points = calloc((size_t)mpi.size, sizeof *s->rank_points);
    if (!s->rank_points) {
        send_start(0);
        return cli_fail("out of memory");
    }
    s->nranks = mpi.size;
    send_start((int32_t)jobs);
    struct coordinator c = {s, 0, 0, 1};
    const struct sweep_runner r = {coord_take, coord_done, coord_tick, &c, 1000};
    const int rc = sweep_run(&r, jobs, s->max_rss);
    sweep_progress(s, 0, true);
    return rc;
}

#else /* built without MPI */

int sweep_mpi_init(int *rank, int *size)
{
    const char *env = launcher_env();
    *rank = 0;
    *size = 1;
    return cli_fail("sweep: %s%s%s: this vmsim was built without MPI (install Open MPI, e.g. "
                    "`apt-get install libopenmpi-dev openmpi-bin`, and build again; or run "
                    "without the launcher and use -j or --shard)",
                    env ? "running under an MPI launcher (" : "--mpi", env ? env : "",
                    env ? " is set)" : "");
}

int sweep_mpi_worker(void)
{
    return 1;
}

void sweep_mpi_stop(void)
{
}

int sweep_mpi_run(struct sweep *s, unsigned jobs)
{
    return sweep_run_all(s, jobs);
}

void sweep_mpi_finalize(void)
{
}

unsigned sweep_mpi_local_ranks(void)
{
    return 1;
}

#endif
