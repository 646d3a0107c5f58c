/* vmsim crosscheck: an external referee for the TLB counts. The command runs
 * twice under valgrind: under lackey, whose trace vmsim simulates on a
 * machine with a data TLB and an instruction TLB and nothing else in front
 * of the walk, and under cachegrind, whose D1 and I1 caches with 4096-byte
 * lines and the same entries and ways are the same two TLBs simulated by
 * another program (LRU, and a store allocates like a load, as a TLB fills
 * on any miss). The two miss counts are printed side by side.
 *
 * The two runs are made one program run seen twice: both get vmsim's
 * environment, /dev/null as standard input, regular files in the work
 * directory as standard output and error (a program may behave differently
 * on /dev/null, a pipe or a terminal), and valgrind's log at the same
 * descriptor number. Valgrind lays out the client's memory itself, so
 * address-space randomization does not reach the program.
 *
 * One difference is in the counting, not the runs (docs/validation.md): an
 * access that crosses a page boundary is one vmsim lookup per page (each
 * page is translated) but one cachegrind reference, with one miss when
 * either page misses. So lookups - accesses shows how many crossed.
 *
 * With --caches the same machine also has data caches (docs/caches.md):
 * an I1, a D1 and a unified LL, and a third valgrind run, cachegrind with
 * the same three caches (64-byte lines, say), gives the other program's
 * misses per level. Only the program's references are compared (vmsim's
 * walk references go through D1 and LL too, and are printed apart); the
 * differences that remain by design (physical addresses, copies on write,
 * walk lines evicting data lines, straddling accesses, cachegrind's clamp
 * of large accesses) are docs/validation.md's.
 *
 * Like every command this one holds no simulation: the library simulates,
 * the lackey reader reads, and the command counts the accesses of each side
 * as they pass and reads cachegrind's totals from its output file. */
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

#define BATCH 4096
#define CROSS_PID 1        /* the lackey reader's pid, as vmsim record */
#define CROSS_PAGE 4096u   /* the page size, and cachegrind's line size */
/* cachegrind's LL must be legal (sets a power of two, the same line size)
 * but plays no part: 2048 lines of 4 KiB, 16 ways. */
#define CROSS_LL "--LL=8388608,16,4096"

/* --caches default: Skylake's 32 KiB 8-way L1s and an 8 MiB 16-way LL */
#define CROSS_CACHES "64x8x64,64x8x64,8192x16x64"

enum { OPT_DTLB = 1, OPT_ITLB, OPT_CACHES, OPT_KEEP, OPT_QUIET, OPT_HELP };

static void help(FILE *out)
{
    fprintf(out,
            "usage: vmsim crosscheck [--dtlb ExW] [--itlb ExW] [--caches I1,D1,LL] [--keep DIR]\n"
            "                        [--quiet] [--] COMMAND [ARGS...]\n\n"
            "Run COMMAND under valgrind twice: under lackey, simulating its accesses on a\n"
            "machine with one data TLB and one instruction TLB (4 KiB pages, no page-walk\n"
            "caches), and under cachegrind with D1 and I1 of the same geometry and 4096-byte\n"
            "lines. Print both miss counts per side and their difference.\n\n"
            "  --dtlb ExW    data TLB: E entries, W ways (default 64x4, Skylake's L1 dTLB)\n"
            "  --itlb ExW    instruction TLB (default 128x8, Skylake's L1 iTLB); E/W must\n"
            "                be a power of two (cachegrind's sets)\n"
            "  --caches I1,D1,LL  also compare data caches: each SETSxWAYSxLINE (sets a\n"
            "                power of two, one line size of 64 to 4096 bytes), or `default'\n"
            "                (" CROSS_CACHES "); vmsim's machine gets them, and\n"
            "                cachegrind runs once more with --I1, --D1 and --LL of that\n"
            "                geometry; per level both miss counts of the program's references\n"
            "  --keep DIR    keep lackey's trace, cachegrind's output and the command's\n"
            "                output in DIR (default: a temporary directory, removed)\n"
            "  --quiet       no progress line\n\n"
            "The command reads /dev/null as standard input; its output goes to files in the\n"
            "work directory. Exit status: 0; the command's status when it failed (the\n"
            "comparison is still printed); 1 when the crosscheck failed; 2 for a usage\n"
            "error; 130 after Ctrl-C. Needs valgrind. docs/validation.md explains the\n"
            "differences.\n");
}

struct side {
    const char *name, *option;
    unsigned entries, ways;
    uint64_t accesses;         /* lackey's access records of this side */
    uint64_t lookups, misses;  /* vmsim's TLB level */
    uint64_t cg_refs, cg_misses;
};

/* "ExW" with E/W a power of two: the TLBs cachegrind can be. */
static int parse_geometry(const char *arg, struct side *s)
{
    char *end;
    errno = 0;
    unsigned long e = strtoul(arg, &end, 10), w = 0;
    bool ok = end != arg && *end == 'x' && arg[0] >= '0' && arg[0] <= '9' && !errno;
    if (ok) {
        const char *p = end + 1;
        w = strtoul(p, &end, 10);
        ok = end != p && *end == '\0' && p[0] >= '0' && p[0] <= '9' && !errno;
    }
    ok = ok && e > 0 && w > 0 && e <= 1u << 20 && w <= e && e % w == 0 &&
         ((e / w) & (e / w - 1)) == 0;
    if (!ok)
        return cli_usage("crosscheck: %s: expected ENTRIESxWAYS with ENTRIES/WAYS sets a power "
                         "of two (cachegrind needs it), found \"%s\"", s->option, arg);
    s->entries = (unsigned)e;
    s->ways = (unsigned)w;
    return 0;
}

/* A data-cache level of --caches: i1, d1, ll (vmsim's names, in that
 * order), with vmsim's counters split into the program's references and
 * the walks', and cachegrind's. */
struct level {
    const char *name;
    unsigned sets, ways, line;
    uint64_t refs, misses;         /* vmsim: the program's references (data, fetches) */
    uint64_t walk_refs, walk_misses;
    uint64_t lines;                /* vmsim: valid lines at the end */
    uint64_t cg_refs, cg_misses;
};

/* "I1,D1,LL", each SETSxWAYSxLINE with the sets a power of two (cachegrind
 * needs it) and one line size of 64 to 4096 bytes, or "default". */
static int parse_caches(const char *arg, struct level lv[3])
{
    const char *spec = strcmp(arg, "default") ? arg : CROSS_CACHES;
    const char *p = spec;
    for (int j = 0; j < 3; j++) {
        unsigned long v[3];
        for (int k = 0; k < 3; k++) {
            char *end;
            errno = 0;
            v[k] = *p >= '0' && *p <= '9' ? strtoul(p, &end, 10) : 0;
            if (!v[k] || errno || v[k] > (1ul << 24) ||
                *end != (k < 2 ? 'x' : j < 2 ? ',' : '\0'))
                goto bad;
            p = end + 1;
        }
        if ((v[0] & (v[0] - 1)) || v[1] > 1024 || (v[2] & (v[2] - 1)) || v[2] < 64 ||
            v[2] > 4096 || (j && v[2] != lv[0].line))
            goto bad;
        lv[j].sets = (unsigned)v[0];
        lv[j].ways = (unsigned)v[1];
        lv[j].line = (unsigned)v[2];
    }
    return 0;
bad:
    return cli_usage("crosscheck: --caches: expected I1,D1,LL each SETSxWAYSxLINE (sets a "
                     "power of two, as cachegrind needs; ways up to 1024; one line size for "
                     "the three, a power of two from 64 to 4096) or \"default\", found \"%s\"",
                     arg);
}

/* Paths of the work directory's files. */
struct work {
    char dir[4096];
    bool keep;
};

static void work_path(const struct work *w, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", w->dir, name);
}

static const char *const work_files[] = {"lackey.txt", "lackey.stdout", "lackey.stderr",
                                         "cachegrind.out", "cachegrind.log",
                                         "cachegrind.stdout", "cachegrind.stderr",
                                         "cachegrind-caches.out", "cachegrind-caches.log",
                                         "cachegrind-caches.stdout", "cachegrind-caches.stderr",
                                         "command.stdout", "command.stderr", NULL};

/* Remove the temporary directory (never a --keep one). */
static void work_remove(const struct work *w)
{
    if (w->keep || !w->dir[0])
        return;
    char path[4200];
    for (const char *const *f = work_files; *f; f++) {
        work_path(w, *f, path, sizeof path);
        unlink(path);
    }
    rmdir(w->dir);
}

/* The command's output goes to command.stdout and command.stderr, the
 * same paths in both runs (a program may print where its output goes),
 * renamed after each run to TOOL.stdout and TOOL.stderr. */
static void keep_output(const struct work *w, const char *tool)
{
    static const char *const streams[] = {"stdout", "stderr"};
    for (int i = 0; i < 2; i++) {
        char from[4200], to[4200], name[64];
        snprintf(name, sizeof name, "command.%s", streams[i]);
        work_path(w, name, from, sizeof from);
        snprintf(name, sizeof name, "%s.%s", tool, streams[i]);
        work_path(w, name, to, sizeof to);
        rename(from, to);
    }
}

static int open_out(const struct work *w, const char *name)
{
    char path[4200];
    work_path(w, name, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        cli_fail("crosscheck: cannot write %s: %s", path, strerror(errno));
    return fd;
}

/* Ctrl-C or SIGTERM: nothing to compare; the exit status 128 + the signal. */
static int interrupted(const char *during, uint64_t events)
{
    int sig = cli_interrupted();
    fprintf(stderr, "vmsim: crosscheck: interrupted by %s during the %s run, after %llu events "
                    "simulated; no comparison\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", during, (unsigned long long)events);
    return 128 + sig;
}

/* The lackey run, simulated as it comes: spawn, the accesses, exit. The
 * accesses of each side are counted on the way. Returns 0 or an exit
 * status; *wstatus gets the command's wait status. */
static int run_lackey(char **cmd, const struct work *w, int devnull, bool quiet,
                      struct vmsim *sim, struct side sides[2], struct cli_recording *rec,
                      int *wstatus)
{
    struct cli_record_io io = {devnull, open_out(w, "command.stdout"),
                               open_out(w, "command.stderr")};
    char copy[4200];
    work_path(w, "lackey.txt", copy, sizeof copy);
    int status = io.out < 0 || io.err < 0 ? 1 : 0;
    if (status == 0)
        status = cli_record_start_io(cmd, w->keep ? copy : NULL, &io, rec);
    if (io.out >= 0)
        close(io.out);
    if (io.err >= 0)
        close(io.err);
    if (status != 0) {
        keep_output(w, "lackey");
        return status;
    }

    struct vmsim_source *src = NULL;
    struct vmsim_event *buf = malloc(BATCH * sizeof *buf);
    if (!buf)
        status = cli_fail("out of memory");
    else if (cli_record_source(rec, &src) != 0)
        status = 1;
    const struct vmsim_event spawn = {.type = VMSIM_EV_SPAWN, .pid = CROSS_PID};
    const struct vmsim_event exit_ev = {.type = VMSIM_EV_EXIT, .pid = CROSS_PID};
    int rc = status == 0 ? vmsim_run(sim, &spawn, 1) : 0;
    struct cli_progress pg;
    cli_progress_begin(&pg, quiet, 0, 0);
    uint64_t events = 1;
    while (status == 0 && rc == 0) {
        if (cli_interrupted()) {
            cli_progress_end(&pg);
            status = interrupted("lackey", events);
            break;
        }
        long n = vmsim_source_next(src, buf, BATCH);
        if (n == 0) {
            rc = vmsim_run(sim, &exit_ev, 1);
            break;
        }
        if (n < 0) {
            const struct vmsim_source_error *e = vmsim_source_error(src);
            cli_progress_end(&pg);
            status = cli_fail("crosscheck: valgrind lackey's output, %s: expected %s, found %s",
                              e->where, e->expected, e->found);
            break;
        }
        for (long i = 0; i < n; i++)
            if (buf[i].type == VMSIM_EV_ACCESS)
                sides[buf[i].kind == VMSIM_FETCH].accesses++;
        rc = vmsim_run(sim, buf, (size_t)n);
        events += (uint64_t)n;
        if (cli_progress_due(&pg)) {
            struct vmsim_stats st;
            vmsim_read_stats(sim, &st, false); /* the cheap read */
            cli_progress_show(&pg, st.accesses, 0);
        }
    }
    cli_progress_end(&pg);
    if (status == 0 && rc != 0)
        status = cli_fail("crosscheck: simulating the lackey trace: %s", vmsim_strerror(rc));
    vmsim_source_close(src);
    free(buf);
    *wstatus = cli_record_end(rec, status != 0);
    keep_output(w, "lackey");
    return status;
}

/* cachegrind's totals of the n events named: the "events:" line names the
 * columns of "summary:". */
static int read_summary(const char *path, const char *const *want, int n, uint64_t *val)
{
    FILE *f = fopen(path, "r");
    /* Valgrind writes it when the program exits; a program that execs
     * another (a shell-script wrapper) leaves valgrind before that. */
    if (!f)
        return cli_fail("crosscheck: %s: expected cachegrind's output, found %s (a command that "
                        "execs another program, such as a wrapper script, leaves valgrind before "
                        "it writes it: give the program itself)", path, strerror(errno));
    int col[16];
    for (int k = 0; k < n; k++) {
        col[k] = -1;
        val[k] = 0;
    }
    bool events = false, summary = false;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        const bool ev = !strncmp(line, "events:", 7), sum = !strncmp(line, "summary:", 8);
        if (!ev && !sum)
            continue;
        events |= ev;
        summary |= sum;
        int c = 0;
        for (char *save, *t = strtok_r(line + (ev ? 7 : 8), " \t\n", &save); t;
             t = strtok_r(NULL, " \t\n", &save), c++)
            for (int k = 0; k < n; k++)
                if (ev && !strcmp(t, want[k]))
                    col[k] = c;
                else if (sum && col[k] == c)
                    val[k] = strtoull(t, NULL, 10);
    }
    fclose(f);
    for (int k = 0; k < n; k++)
        if (col[k] < 0 || !summary) {
            char names[256] = "";
            for (int j = 0; j < n; j++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                         j ? " " : "", want[j]);
            return cli_fail("crosscheck: %s: expected an \"events:\" line naming %s and a "
                            "\"summary:\" line, found %s", path, names,
                            !events ? "no events line" : !summary ? "no summary line"
                                                               : "another set of events");
        }
    return 0;
}

/* The TLB run's totals: D1 and I1 are the two TLBs. */
static int read_cachegrind(const char *path, struct side sides[2])
{
    static const char *const want[] = {"Ir", "I1mr", "Dr", "D1mr", "Dw", "D1mw"};
    uint64_t val[6];
    int rc = read_summary(path, want, 6, val);
    if (rc)
        return rc;
    sides[1].cg_refs = val[0];
    sides[1].cg_misses = val[1];
    sides[0].cg_refs = val[2] + val[4];
    sides[0].cg_misses = val[3] + val[5];
    return 0;
}

/* The caches run's totals: per level the references it saw and its misses
 * (the LL sees the misses of I1 and D1). */
static int read_caches(const char *path, struct level lv[3])
{
    static const char *const want[] = {"Ir", "I1mr", "ILmr", "Dr", "D1mr", "DLmr",
                                       "Dw", "D1mw", "DLmw"};
    uint64_t v[9];
    int rc = read_summary(path, want, 9, v);
    if (rc)
        return rc;
    lv[0].cg_refs = v[0];
    lv[0].cg_misses = v[1];
    lv[1].cg_refs = v[3] + v[6];
    lv[1].cg_misses = v[4] + v[7];
    lv[2].cg_refs = v[1] + v[4] + v[7];
    lv[2].cg_misses = v[2] + v[5] + v[8];
    return 0;
}

/* A cachegrind run, with the same standard streams and log descriptor
 * number as the lackey run (which simulated `events`): its caches are
 * given by caches[] (--I1, --D1, --LL), its files are named after tool
 * (TOOL.out, TOOL.log, TOOL.stdout, TOOL.stderr), and read reads its
 * totals. Returns 0 or an exit status. */
static int run_cachegrind(char **cmd, const struct work *w, int devnull, int log_at,
                          uint64_t events, const char *tool, const char *const caches[3],
                          int (*read)(const char *path, void *ctx), void *ctx, int *wstatus)
{
    char out[4300], outpath[4200], logpath[4200], name[64];
    snprintf(name, sizeof name, "%s.out", tool);
    work_path(w, name, outpath, sizeof outpath);
    snprintf(name, sizeof name, "%s.log", tool);
    work_path(w, name, logpath, sizeof logpath);
    snprintf(out, sizeof out, "--cachegrind-out-file=%s", outpath);
    /* --cache-sim=yes: the default in valgrind 3.19, not in 3.21 and later. */
    const char *const args[] = {"--tool=cachegrind", "--cache-sim=yes", caches[0], caches[1],
                                caches[2], out, NULL};
    struct cli_record_io io = {devnull, open_out(w, "command.stdout"),
                               open_out(w, "command.stderr")};
    int logfd = open_out(w, name);
    int status = io.out < 0 || io.err < 0 || logfd < 0 ? 1 : 0;
    unlink(outpath); /* a stale file from an earlier --keep run must not count */
    if (status == 0 && (*wstatus = cli_valgrind_run(args, cmd, logfd, log_at, &io)) == -1)
        status = cli_fail("crosscheck: cannot start valgrind: %s", strerror(errno));
    const int opened[] = {io.out, io.err, logfd};
    for (size_t i = 0; i < sizeof opened / sizeof opened[0]; i++)
        if (opened[i] >= 0)
            close(opened[i]);
    keep_output(w, tool);
    if (status == 0 && cli_interrupted())
        status = interrupted(tool, events);
    if (status == 0)
        status = read(outpath, ctx);
    if (status == 1) {
        char errpath[4200];
        snprintf(name, sizeof name, "%s.stderr", tool);
        work_path(w, name, errpath, sizeof errpath);
        fprintf(stderr, "vmsim: crosscheck: valgrind's messages are in %s and %s\n", logpath,
                errpath);
    }
    return status;
}

static int read_tlbs(const char *path, void *sides) { return read_cachegrind(path, sides); }
static int read_levels(const char *path, void *lv) { return read_caches(path, lv); }

/* The TLB run: D1 and I1 with 4096-byte lines are the two TLBs. */
static int run_tlbs(char **cmd, const struct work *w, int devnull, int log_at, uint64_t events,
                    struct side sides[2], int *wstatus)
{
    char d1[64], i1[64];
    snprintf(d1, sizeof d1, "--D1=%llu,%u,%u",
             (unsigned long long)sides[0].entries * CROSS_PAGE, sides[0].ways, CROSS_PAGE);
    snprintf(i1, sizeof i1, "--I1=%llu,%u,%u",
             (unsigned long long)sides[1].entries * CROSS_PAGE, sides[1].ways, CROSS_PAGE);
    const char *const caches[3] = {i1, d1, CROSS_LL};
    return run_cachegrind(cmd, w, devnull, log_at, events, "cachegrind", caches, read_tlbs,
                          sides, wstatus);
}

/* The caches run: cachegrind's I1, D1 and LL of the geometry of lv. */
static int run_caches(char **cmd, const struct work *w, int devnull, int log_at, uint64_t events,
                      struct level lv[3], int *wstatus)
{
    static const char *const opt[3] = {"--I1", "--D1", "--LL"};
    char arg[3][64];
    const char *caches[3];
    for (int j = 0; j < 3; j++) {
        snprintf(arg[j], sizeof arg[j], "%s=%llu,%u,%u", opt[j],
                 (unsigned long long)lv[j].sets * lv[j].ways * lv[j].line, lv[j].ways,
                 lv[j].line);
        caches[j] = arg[j];
    }
    return run_cachegrind(cmd, w, devnull, log_at, events, "cachegrind-caches", caches,
                          read_levels, lv, wstatus);
}

/* "exited with status 2", "was killed by signal 9 (Killed)"; the exit
 * status that stands for it (0 for a clean exit). */
static int describe(int wstatus, char *buf, size_t len)
{
    if (WIFEXITED(wstatus)) {
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(wstatus));
        return WEXITSTATUS(wstatus);
    }
    if (WIFSIGNALED(wstatus)) {
        snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(wstatus),
                 strsignal(WTERMSIG(wstatus)));
        return 128 + WTERMSIG(wstatus);
    }
    snprintf(buf, len, "ended with wait status %d", wstatus);
    return 1;
}

static void print_table(char **cmd, const struct side sides[2])
{
    printf("crosscheck of");
    for (char **a = cmd; *a; a++)
        printf(" %s", *a);
    printf(": vmsim on valgrind lackey's trace against valgrind cachegrind, 4 KiB pages\n");
    printf("%-5s %-10s %12s %14s %16s %13s %18s %11s %10s\n", "side", "TLB", "accesses",
           "vmsim-lookups", "cachegrind-refs", "vmsim-misses", "cachegrind-misses", "difference",
           "relative");
    for (int i = 0; i < 2; i++) {
        const struct side *s = &sides[i];
        char geom[32], rel[32];
        snprintf(geom, sizeof geom, "%ux%u", s->entries, s->ways);
        long long diff = (long long)s->misses - (long long)s->cg_misses;
        if (s->cg_misses)
            snprintf(rel, sizeof rel, "%+.4f%%", 100.0 * (double)diff / (double)s->cg_misses);
        else
            snprintf(rel, sizeof rel, "%s", diff ? "n/a" : "+0.0000%");
        printf("%-5s %-10s %12llu %14llu %16llu %13llu %18llu %+11lld %10s\n", s->name, geom,
               (unsigned long long)s->accesses, (unsigned long long)s->lookups,
               (unsigned long long)s->cg_refs, (unsigned long long)s->misses,
               (unsigned long long)s->cg_misses, diff, rel);
    }
    printf("vmsim-lookups - accesses: accesses crossing a page boundary (vmsim translates each "
           "page;\ncachegrind counts one reference, and one miss when either page misses)\n");
    for (int i = 0; i < 2; i++)
        if (sides[i].accesses != sides[i].cg_refs)
            printf("note: side %s: lackey saw %llu accesses, cachegrind %llu references: the two "
                   "runs differ (docs/validation.md)\n", sides[i].name,
                   (unsigned long long)sides[i].accesses, (unsigned long long)sides[i].cg_refs);
}

/* The caches' table: the program's references and misses per level, and
 * the walks' apart (vmsim's walks go through D1 and LL; cachegrind has
 * none). */
static void print_caches(const struct level lv[3])
{
    printf("\ndata caches, %u-byte lines: the program's references in vmsim (walks apart) "
           "against cachegrind\n", lv[0].line);
    printf("%-5s %-11s %12s %16s %13s %18s %11s %10s %10s %12s\n", "level", "cache",
           "vmsim-refs", "cachegrind-refs", "vmsim-misses", "cachegrind-misses", "difference",
           "relative", "walk-refs", "walk-misses");
    for (int j = 0; j < 3; j++) {
        const struct level *l = &lv[j];
        char geom[48], rel[32];
        snprintf(geom, sizeof geom, "%ux%ux%u", l->sets, l->ways, l->line);
        long long diff = (long long)l->misses - (long long)l->cg_misses;
        if (l->cg_misses)
            snprintf(rel, sizeof rel, "%+.2f%%", 100.0 * (double)diff / (double)l->cg_misses);
        else
            snprintf(rel, sizeof rel, "%s", diff ? "n/a" : "+0.00%");
        printf("%-5s %-11s %12llu %16llu %13llu %18llu %+11lld %10s %10llu %12llu\n", l->name,
               geom, (unsigned long long)l->refs, (unsigned long long)l->cg_refs,
               (unsigned long long)l->misses, (unsigned long long)l->cg_misses, diff, rel,
               (unsigned long long)l->walk_refs, (unsigned long long)l->walk_misses);
    }
    printf("vmsim's caches are physically addressed (a page written after it was read moves "
           "to\nnew lines), split accesses at line boundaries, and hold walk lines too "
           "(docs/validation.md)\n");
    if (lv[2].lines == lv[2].misses + lv[2].walk_misses)
        printf("note: vmsim's ll evicted nothing (%llu lines): its misses are the distinct "
               "lines, wherever they are placed\n", (unsigned long long)lv[2].lines);
}

int cmd_crosscheck(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dtlb", required_argument, 0, OPT_DTLB}, {"itlb", required_argument, 0, OPT_ITLB},
        {"caches", required_argument, 0, OPT_CACHES},
        {"keep", required_argument, 0, OPT_KEEP}, {"quiet", no_argument, 0, OPT_QUIET},
        {"help", no_argument, 0, OPT_HELP},       {0, 0, 0, 0}};
    struct level lv[3] = {{.name = "i1"}, {.name = "d1"}, {.name = "ll"}};
    bool caches = false;
    struct side sides[2] = {{.name = "d", .option = "--dtlb", .entries = 64, .ways = 4},
                            {.name = "i", .option = "--itlb", .entries = 128, .ways = 8}};
    struct work w = {.keep = false};
    bool quiet = false;
    cli_options_begin(NULL, argc, argv);
    /* "+": the first non-option is the command; its options are its own. */
    for (int o; (o = cli_getopt(argc, argv, "+", opts, NULL, "crosscheck")) != -1;) {
        int rc = 0;
        switch (o) {
        case OPT_DTLB: rc = parse_geometry(optarg, &sides[0]); break;
        case OPT_ITLB: rc = parse_geometry(optarg, &sides[1]); break;
        case OPT_CACHES:
            rc = parse_caches(optarg, lv);
            caches = true;
            break;
        case OPT_KEEP:
            if (snprintf(w.dir, sizeof w.dir, "%s", optarg) >= (int)sizeof w.dir || !*optarg)
                return cli_usage("crosscheck: --keep: expected a directory, found \"%s\"",
                                 optarg);
            w.keep = true;
            break;
        case OPT_QUIET: quiet = true; break;
        case OPT_HELP: help(stdout); return 0;
        default:
            return 2; /* cli_getopt said why */
        }
        if (rc)
            return rc;
    }
    if (optind >= argc)
        return cli_usage("crosscheck: expected a command after --, found nothing (see vmsim "
                         "crosscheck --help)");
    char **cmd = argv + optind;
    if (cli_record_check(cmd) != 0)
        return 1;

    /* The machine: the two TLBs, nothing else cached, 4 KiB pages; with
     * --caches, data caches too (the latencies play no part). */
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    char spec[256], why[256];
    snprintf(spec, sizeof spec, "d=%ux%u@4k/d,i=%ux%u@4k/i", sides[0].entries, sides[0].ways,
             sides[1].entries, sides[1].ways);
    if (vmsim_tlb_parse(spec, &cfg, why, sizeof why) != 0 ||
        vmsim_pwc_parse("none", &cfg, why, sizeof why) != 0)
        return cli_usage("crosscheck: the TLBs %s: %s", spec, why);
    if (caches) {
        snprintf(spec, sizeof spec, "i1=%ux%ux%u/i:4,d1=%ux%ux%u/d:4,ll=%ux%ux%u:40,dram=200",
                 lv[0].sets, lv[0].ways, lv[0].line, lv[1].sets, lv[1].ways, lv[1].line,
                 lv[2].sets, lv[2].ways, lv[2].line);
        if (vmsim_cache_parse(spec, &cfg, why, sizeof why) != 0)
            return cli_usage("crosscheck: the caches %s: %s", spec, why);
    }
    struct vmsim *sim;
    int rc = vmsim_create(&cfg, &sim);
    if (rc)
        return cli_fail("crosscheck: cannot build the machine: %s", vmsim_strerror(rc));

    if (w.keep) {
        if (mkdir(w.dir, 0777) != 0 && errno != EEXIST) {
            vmsim_destroy(sim);
            return cli_fail("crosscheck: --keep: cannot make %s: %s", w.dir, strerror(errno));
        }
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(w.dir, sizeof w.dir, "%s/vmsim-crosscheck.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(w.dir)) {
            vmsim_destroy(sim);
            return cli_fail("crosscheck: cannot make a directory %s: %s", w.dir, strerror(errno));
        }
    }
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0) {
        vmsim_destroy(sim);
        work_remove(&w);
        return cli_fail("crosscheck: cannot open /dev/null: %s", strerror(errno));
    }

    cli_interrupt_catch();
    struct cli_recording rec;
    int lk_wstatus = 0, cg_wstatus = 0, cc_wstatus = 0;
    int status = run_lackey(cmd, &w, devnull, quiet, sim, sides, &rec, &lk_wstatus);
    if (status == 0) {
        const struct vmsim_stats *st = vmsim_get_stats(sim);
        for (int i = 0; i < 2; i++) {
            sides[i].lookups = st->tlb[i].hits + st->tlb[i].misses;
            sides[i].misses = st->tlb[i].misses;
        }
        for (int j = 0; caches && j < 3; j++) {
            const struct vmsim_cache_stats *cs = &st->cache[j];
            lv[j].walk_refs = cs->pt_hits + cs->pt_misses;
            lv[j].walk_misses = cs->pt_misses;
            lv[j].refs = cs->hits + cs->misses - lv[j].walk_refs;
            lv[j].misses = cs->misses - cs->pt_misses;
            lv[j].lines = cs->lines;
        }
        status = run_tlbs(cmd, &w, devnull, rec.log_fd, st->events, sides, &cg_wstatus);
        if (status == 0 && caches)
            status = run_caches(cmd, &w, devnull, rec.log_fd, st->events, lv, &cc_wstatus);
    }
    close(devnull);
    vmsim_destroy(sim);
    if (status != 0) {
        if (!w.keep && status == 1)
            w.keep = true; /* what went wrong is in there */
        if (status == 1)
            fprintf(stderr, "vmsim: crosscheck: the work directory %s is kept\n", w.dir);
        work_remove(&w);
        return status;
    }

    print_table(cmd, sides);
    if (caches)
        print_caches(lv);
    fflush(stdout);
    char lk[96], cg[96], cc[160] = "";
    int lk_status = describe(lk_wstatus, lk, sizeof lk);
    int cg_status = describe(cg_wstatus, cg, sizeof cg);
    int cc_status = 0;
    if (caches) {
        char d[96];
        cc_status = describe(cc_wstatus, d, sizeof d);
        snprintf(cc, sizeof cc, ", and %s under cachegrind with the caches", d);
    }
    if (lk_status || cg_status || cc_status) {
        fprintf(stderr, "vmsim: crosscheck: %s %s under lackey and %s under cachegrind%s; its "
                        "output is kept in %s\n", cmd[0], lk, cg, cc, w.dir);
        w.keep = true;
        status = lk_status ? lk_status : cg_status ? cg_status : cc_status;
    }
    work_remove(&w);
    return status;
}
