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

enum { OPT_DTLB = 1, OPT_ITLB, OPT_KEEP, OPT_QUIET, OPT_HELP };

static void help(FILE *out)
{
    fprintf(out,
            "usage: vmsim crosscheck [--dtlb ExW] [--itlb ExW] [--keep DIR] [--quiet] [--]\n"
            "                        COMMAND [ARGS...]\n\n"
            "Run COMMAND under valgrind twice: under lackey, simulating its accesses on a\n"
            "machine with one data TLB and one instruction TLB (4 KiB pages, no page-walk\n"
            "caches), and under cachegrind with D1 and I1 of the same geometry and 4096-byte\n"
            "lines. Print both miss counts per side and their difference.\n\n"
            "  --dtlb ExW    data TLB: E entries, W ways (default 64x4, Skylake's L1 dTLB)\n"
            "  --itlb ExW    instruction TLB (default 128x8, Skylake's L1 iTLB); E/W must\n"
            "                be a power of two (cachegrind's sets)\n"
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
        if (cli_progress_due(&pg))
            cli_progress_show(&pg, vmsim_get_stats(sim)->accesses, 0);
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

/* cachegrind's totals: the "events:" line names the columns of "summary:". */
static int read_cachegrind(const char *path, struct side sides[2])
{
    FILE *f = fopen(path, "r");
    /* Valgrind writes it when the program exits; a program that execs
     * another (a shell-script wrapper) leaves valgrind before that. */
    if (!f)
        return cli_fail("crosscheck: %s: expected cachegrind's output, found %s (a command that "
                        "execs another program, such as a wrapper script, leaves valgrind before "
                        "it writes it: give the program itself)", path, strerror(errno));
    static const char *const want[] = {"Ir", "I1mr", "Dr", "D1mr", "Dw", "D1mw"};
    int col[6] = {-1, -1, -1, -1, -1, -1};
    uint64_t val[6] = {0};
    bool events = false, summary = false;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "events:", 7)) {
            events = true;
            int c = 0;
            for (char *save, *t = strtok_r(line + 7, " \t\n", &save); t;
                 t = strtok_r(NULL, " \t\n", &save), c++)
                for (int k = 0; k < 6; k++)
                    if (!strcmp(t, want[k]))
                        col[k] = c;
        } else if (!strncmp(line, "summary:", 8)) {
            summary = true;
            int c = 0;
            for (char *save, *t = strtok_r(line + 8, " \t\n", &save); t;
                 t = strtok_r(NULL, " \t\n", &save), c++)
                for (int k = 0; k < 6; k++)
                    if (col[k] == c)
                        val[k] = strtoull(t, NULL, 10);
        }
    }
    fclose(f);
    for (int k = 0; k < 6; k++)
        if (col[k] < 0 || !summary)
            return cli_fail("crosscheck: %s: expected an \"events:\" line naming Ir I1mr Dr D1mr "
                            "Dw D1mw and a \"summary:\" line, found %s", path,
                            !events ? "no events line" : !summary ? "no summary line"
                                                               : "another set of events");
    sides[1].cg_refs = val[0];
    sides[1].cg_misses = val[1];
    sides[0].cg_refs = val[2] + val[4];
    sides[0].cg_misses = val[3] + val[5];
    return 0;
}

/* The cachegrind run, with the same standard streams and log descriptor
 * number as the lackey run (which simulated `events`). Returns 0 or an
 * exit status. */
static int run_cachegrind(char **cmd, const struct work *w, int devnull, int log_at,
                          uint64_t events, struct side sides[2], int *wstatus)
{
    char d1[64], i1[64], out[4300], outpath[4200], logpath[4200];
    snprintf(d1, sizeof d1, "--D1=%llu,%u,%u",
             (unsigned long long)sides[0].entries * CROSS_PAGE, sides[0].ways, CROSS_PAGE);
    snprintf(i1, sizeof i1, "--I1=%llu,%u,%u",
             (unsigned long long)sides[1].entries * CROSS_PAGE, sides[1].ways, CROSS_PAGE);
    work_path(w, "cachegrind.out", outpath, sizeof outpath);
    work_path(w, "cachegrind.log", logpath, sizeof logpath);
    snprintf(out, sizeof out, "--cachegrind-out-file=%s", outpath);
    /* --cache-sim=yes: the default in valgrind 3.19, not in 3.21 and later. */
    const char *const args[] = {"--tool=cachegrind", "--cache-sim=yes", d1, i1, CROSS_LL, out,
                                NULL};
    struct cli_record_io io = {devnull, open_out(w, "command.stdout"),
                               open_out(w, "command.stderr")};
    int logfd = open_out(w, "cachegrind.log");
    int status = io.out < 0 || io.err < 0 || logfd < 0 ? 1 : 0;
    unlink(outpath); /* a stale file from an earlier --keep run must not count */
    if (status == 0 && (*wstatus = cli_valgrind_run(args, cmd, logfd, log_at, &io)) == -1)
        status = cli_fail("crosscheck: cannot start valgrind: %s", strerror(errno));
    const int opened[] = {io.out, io.err, logfd};
    for (size_t i = 0; i < sizeof opened / sizeof opened[0]; i++)
        if (opened[i] >= 0)
            close(opened[i]);
    keep_output(w, "cachegrind");
    if (status == 0 && cli_interrupted())
        status = interrupted("cachegrind", events);
    if (status == 0)
        status = read_cachegrind(outpath, sides);
    if (status == 1) {
        char errpath[4200];
        work_path(w, "cachegrind.stderr", errpath, sizeof errpath);
        fprintf(stderr, "vmsim: crosscheck: valgrind's messages are in %s and %s\n", logpath,
                errpath);
    }
    return status;
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

int cmd_crosscheck(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dtlb", required_argument, 0, OPT_DTLB}, {"itlb", required_argument, 0, OPT_ITLB},
        {"keep", required_argument, 0, OPT_KEEP}, {"quiet", no_argument, 0, OPT_QUIET},
        {"help", no_argument, 0, OPT_HELP},       {0, 0, 0, 0}};
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

    /* The machine: the two TLBs, nothing else cached, 4 KiB pages. */
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    char spec[128], why[256];
    snprintf(spec, sizeof spec, "d=%ux%u@4k/d,i=%ux%u@4k/i", sides[0].entries, sides[0].ways,
             sides[1].entries, sides[1].ways);
    if (vmsim_tlb_parse(spec, &cfg, why, sizeof why) != 0 ||
        vmsim_pwc_parse("none", &cfg, why, sizeof why) != 0)
        return cli_usage("crosscheck: the TLBs %s: %s", spec, why);
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
    int lk_wstatus = 0, cg_wstatus = 0;
    int status = run_lackey(cmd, &w, devnull, quiet, sim, sides, &rec, &lk_wstatus);
    if (status == 0) {
        const struct vmsim_stats *st = vmsim_get_stats(sim);
        for (int i = 0; i < 2; i++) {
            sides[i].lookups = st->tlb[i].hits + st->tlb[i].misses;
            sides[i].misses = st->tlb[i].misses;
        }
        status = run_cachegrind(cmd, &w, devnull, rec.log_fd, st->events, sides, &cg_wstatus);
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
    fflush(stdout);
    char lk[96], cg[96];
    int lk_status = describe(lk_wstatus, lk, sizeof lk);
    int cg_status = describe(cg_wstatus, cg, sizeof cg);
    if (lk_status || cg_status) {
        fprintf(stderr, "vmsim: crosscheck: %s %s under lackey and %s under cachegrind; its "
                        "output is kept in %s\n", cmd[0], lk, cg, w.dir);
        w.keep = true;
        status = lk_status ? lk_status : cg_status;
    }
    work_remove(&w);
    return status;
}
