/* The vmsim command line: one table of subcommands (main.c), one file per
 * subcommand. Argument parsing and printing only; no simulation logic. */
#ifndef VMSIM_CLI_H
#define VMSIM_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "vmsim/vmsim.h"

int cmd_run(int argc, char **argv);
int cmd_presets(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_crosscheck(int argc, char **argv);

/* Split "[FORMAT:]PATH" when the prefix names a trace format: returns the
 * format (or NULL) and sets *path. "auto:" is stripped and gives NULL. */
const char *cli_trace_format(const char *arg, const char **path);
/* Open the trace (when not NULL) or else the workload, laid out for a
 * va_bits-wide address space (the geometry's); on failure print why and
 * return 1, or 2 for a workload spec that does not parse. */
int cli_open_input(const char *trace, const char *workload, unsigned va_bits,
                   struct vmsim_source **src);

struct snapshot;
/* "/proc/PID" for --pid PID in dir; a usage error (2) for anything but a
 * positive process id. */
int cli_proc_dir(const char *pid, char *dir, size_t len);
/* snapshot_load of a /proc directory (kpageflags NULL: the real one for a
 * path under /proc/, none otherwise); on failure print why and return 1.
 * Free *s in every case. */
int cli_snapshot_load(const char *proc, const char *kpageflags, bool no_scan, struct snapshot *s);

/* getopt_long for command cmd (options.c), with whole long-option names
 * only: an abbreviation such as "--tl" for "--tlb" is refused. On an
 * unknown option, a missing value or an abbreviation it prints the usage
 * error itself and returns '?', so the caller just returns 2. longindex may
 * be NULL. */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
               int *longindex, const char *cmd);
/* Every command's prologue (options.c): getopt starts over at argv[1]; with
 * cfg (a command with the machine options) also cli_config_init, so the
 * defaults and --machine come first. 0, or 2 after printing why. */
struct vmsim_config;
int cli_options_begin(struct vmsim_config *cfg, int argc, char **argv);

/* Print "vmsim: <message>" to stderr; returns 2 (usage) for `return cli_usage(...)`. */
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "vmsim: <message>" to stderr; returns 1 (failure). */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Open the --json output ("-" = stdout); NULL after printing an error. */
FILE *cli_output_open(const char *path);
/* Before the run: can path ("-" = stdout) be written? 0, or 1 after
 * printing "OPT: cannot write PATH: <the OS's reason>". A new file is
 * created and removed again; a device or FIFO is not opened. */
int cli_output_check(const char *opt, const char *path);
/* Close it (not stdout); returns 0, or 1 after printing an error when the
 * write (ok = false) or the close failed. */
int cli_output_close(FILE *f, const char *path, bool ok);

/* Machine options shared by the commands that build a simulator
 * (--machine, --pt, --geometry, --tlb, --pwc, --cost, --mem, --cpus,
 * --no-asid, --page-size, --seed, ...; and --warmup, which is the
 * configuration's too, so that every command that runs events honours it).
 * CLI_CONFIG_OPTIONS goes into a getopt_long table; cli_config_option()
 * handles one of them and returns 0, 1 if opt is not a machine option, or
 * 2 after printing an error. */
enum {
    OPT_MACHINE = 1000, OPT_PT, OPT_GEOMETRY, OPT_TLB, OPT_PWC, OPT_COST, OPT_MEM,
    OPT_CPUS, OPT_NO_ASID, OPT_PAGE_SIZE, OPT_SEED, OPT_SWAP, OPT_REPLACE, OPT_STRICT,
    OPT_VERIFY, OPT_VIPT, OPT_EVICT_TABLES, OPT_THP, OPT_FAULT_STACK, OPT_WALKER,
    OPT_NESTED, OPT_SHADOW, OPT_MIGRATE, OPT_ENCLAVE, OPT_HOST_PT, OPT_HOST_MEM, OPT_HOST_PAGE, OPT_NTLB, OPT_HOST_PWC,
    OPT_CACHE, OPT_WARMUP, OPT_THREADS, OPT_LOCKS, OPT_SHARE_TABLES, OPT_COMPACT, OPT_KHUGEPAGED, OPT_CONFIG,
    OPT_CLI_FIRST_FREE
};
#define CLI_CONFIG_OPTIONS                                                                 \
    {"machine", required_argument, 0, OPT_MACHINE}, {"pt", required_argument, 0, OPT_PT},   \
    {"geometry", required_argument, 0, OPT_GEOMETRY}, {"tlb", required_argument, 0, OPT_TLB}, \
    {"pwc", required_argument, 0, OPT_PWC}, {"cost", required_argument, 0, OPT_COST},       \
    {"mem", required_argument, 0, OPT_MEM}, {"cpus", required_argument, 0, OPT_CPUS},       \
    {"no-asid", no_argument, 0, OPT_NO_ASID}, {"page-size", required_argument, 0, OPT_PAGE_SIZE}, \
    {"seed", required_argument, 0, OPT_SEED}, {"swap", required_argument, 0, OPT_SWAP},        \
    {"replace", required_argument, 0, OPT_REPLACE}, {"strict", no_argument, 0, OPT_STRICT},  \
    {"verify", no_argument, 0, OPT_VERIFY}, {"vipt", required_argument, 0, OPT_VIPT},        \
    {"evict-tables", no_argument, 0, OPT_EVICT_TABLES}, {"thp", required_argument, 0, OPT_THP},            \
    {"share-tables", no_argument, 0, OPT_SHARE_TABLES},                                      \
    {"compact", required_argument, 0, OPT_COMPACT},                                          \
    {"khugepaged", required_argument, 0, OPT_KHUGEPAGED},                                    \
    {"fault-stack", required_argument, 0, OPT_FAULT_STACK},                                  \
    {"walker", required_argument, 0, OPT_WALKER},                                            \
    {"nested", required_argument, 0, OPT_NESTED}, {"shadow", no_argument, 0, OPT_SHADOW},       \
    {"host-pt", required_argument, 0, OPT_HOST_PT}, {"migrate", required_argument, 0, OPT_MIGRATE}, \
    {"enclave", required_argument, 0, OPT_ENCLAVE},                                          \
    {"host-mem", required_argument, 0, OPT_HOST_MEM},                                        \
    {"host-page", required_argument, 0, OPT_HOST_PAGE}, {"ntlb", required_argument, 0, OPT_NTLB}, \
    {"host-pwc", required_argument, 0, OPT_HOST_PWC}, {"cache", required_argument, 0, OPT_CACHE}, \
    {"threads", required_argument, 0, OPT_THREADS}, {"locks", required_argument, 0, OPT_LOCKS}, \
    {"warmup", required_argument, 0, OPT_WARMUP}, {"config", required_argument, 0, OPT_CONFIG}
/* The help of the machine options, its lists of names from their tables. */
void cli_config_help(FILE *out);
/* "  --opt ARG" then text, wrapped under the help's text column. */
void cli_help_wrap(FILE *out, const char *lead, const char *text);
/* names (NULL-terminated) joined by ", ", the last by `last` when not
 * NULL ("a, b or c"); returns the length it wanted, as snprintf. */
size_t cli_join(char *buf, size_t len, const char *const *names, const char *last);
int cli_config_option(struct vmsim_config *cfg, int opt, const char *arg);
/* Apply --machine first, whatever the order on the command line: presets set
 * many fields and must not undo a later --tlb. Scans argv before getopt. */
int cli_config_init(struct vmsim_config *cfg, int argc, char **argv);
/* Check the options together (page sizes against the geometry); 0 or 2
 * after printing an error. */
int cli_config_finish(struct vmsim_config *cfg);

/* Ctrl-C (progress.c): SIGINT and SIGTERM set a flag that a command checks
 * once per batch; a second signal kills at once. cli_interrupted() returns
 * the signal or 0; cli_interrupt_report() prints "interrupted after N
 * events" and returns the exit status, 128 + the signal. */
void cli_interrupt_catch(void);
/* Pass a signal sent to vmsim alone on to pid (a recorded command); 0: no one. */
void cli_interrupt_forward(pid_t pid);
int cli_interrupted(void);
int cli_interrupt_report(uint64_t events);
/* The flag itself, for vmsim_set_stop: a long access stops inside vmsim_run. */
const volatile sig_atomic_t *cli_interrupt_flag(void);

/* vmsim's resident memory against --max-rss (rss.c). limit 0: none. Call
 * cli_rss_over() once per batch (it reads /proc at the first call, then
 * every 20 ms); last holds the reading. */
struct cli_rss {
    uint64_t limit, last;
    double next; /* monotonic time of the next reading */
};
uint64_t cli_rss_default(void); /* 3/4 of MemAvailable now; 0 when unknown */
uint64_t cli_rss_now(void);     /* the resident set in bytes; 0 when unknown */
bool cli_rss_over(struct cli_rss *r);

/* The progress line on stderr when it is a terminal and not quiet: call
 * cli_progress_due() per batch (cheap), cli_progress_show() when it says
 * so. The share done and the time left come from total_accesses (a
 * workload's, vmsim_source_total) or else total_bytes (a trace file's
 * size); 0: unknown. */
struct cli_progress {
    bool on, shown;
    double start, next;
    uint64_t total_bytes, total_accesses;
};
void cli_progress_begin(struct cli_progress *p, bool quiet, uint64_t total_bytes,
                        uint64_t total_accesses);
bool cli_progress_due(struct cli_progress *p);
void cli_progress_show(struct cli_progress *p, uint64_t accesses, uint64_t bytes);
void cli_progress_end(struct cli_progress *p); /* erase the line */

/* A command run under valgrind --tool=lackey, its trace read from a pipe
 * (record.c). check: 0, or 1 after printing why it cannot run (no valgrind,
 * no such command). start: check, then run it; lackey_copy keeps the raw
 * text too. source: the lackey reader
 * on the pipe. end: close, kill first when stop, reap; returns the wait
 * status. status: report it ("exited with status N", always when say) and
 * return it as an exit status (128 + signal when killed). */
struct cli_recording {
    pid_t pid, relay;
    int fd;
    int log_fd; /* the descriptor number valgrind's --log-fd named in the command */
    const char *command;
};
/* The command's standard input, output and error: descriptors to put there
 * (-1: inherited from vmsim). */
struct cli_record_io {
    int in, out, err;
};
int cli_record_check(char **cmd);
int cli_record_start(char **cmd, const char *lackey_copy, bool stdout_to_stderr,
                     struct cli_recording *r);
int cli_record_start_io(char **cmd, const char *lackey_copy, const struct cli_record_io *io,
                        struct cli_recording *r);
/* Run `valgrind TOOL_ARGS... --log-fd=N CMD...` (tool_args NULL-terminated)
 * to its end, signals to vmsim passed on to it: valgrind's log goes to
 * logfd, put at descriptor number log_at when that is not -1 (the log_fd
 * of another run, so that the command sees the same descriptors open).
 * Returns the wait status, or -1 when valgrind could not be started. */
int cli_valgrind_run(const char *const *tool_args, char **cmd, int logfd, int log_at,
                     const struct cli_record_io *io);
int cli_record_source(struct cli_recording *r, struct vmsim_source **src);
int cli_record_end(struct cli_recording *r, bool stop);
int cli_record_status(const struct cli_recording *r, int wstatus, bool say);

/* Run control (runctl.c, docs/cli.md "Run control"): --skip N drops the
 * first N access events (OS events among them are still applied), --max N
 * stops after N access events simulated (done is then set: read no
 * further). cli_runctl_filter works in place and returns the events kept. */
struct cli_runctl {
    uint64_t skip, max;      /* 0: none */
    uint64_t skipped, taken; /* access events dropped, and let through */
    bool done;
};
size_t cli_runctl_filter(struct cli_runctl *c, struct vmsim_event *ev, size_t n);

/* --interval N --interval-out FILE (runctl.c, docs/formats/interval.md):
 * open checks the name (.jsonl, .ndjson, .csv or -) and opens the file, 0
 * or 1/2 after printing why. Per batch: feed only the first
 * cli_interval_cut() events (it ends a batch at an interval's last
 * access), then call cli_interval_after(). close writes the last, partial
 * interval (sim NULL: none) and closes; 0 or 1 after printing why. */
struct cli_interval {
    FILE *f;
    const char *path;
    bool csv, started, warm_seen;
    uint64_t every, next, last, lines;
    uint64_t prev[160 + 2 * VMSIM_MAX_TLB_LEVELS]; /* the counters at the last line */
};
int cli_interval_open(struct cli_interval *iv, const char *path, uint64_t every);
size_t cli_interval_cut(struct cli_interval *iv, const struct vmsim *sim,
                        const struct vmsim_event *ev, size_t n);
void cli_interval_after(struct cli_interval *iv, const struct vmsim *sim);
int cli_interval_close(struct cli_interval *iv, const struct vmsim *sim);

#endif
