/* Helpers shared by the tests: run the vmsim tool and capture its output,
 * write temporary files. */
#ifndef VMSIM_TESTUTIL_H
#define VMSIM_TESTUTIL_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>

#include "vmsim/vmsim.h"

struct cmd_result {
    int status;  /* exit status, or -1 when killed by a signal */
    char *out;   /* stdout, NUL-terminated (free) */
    char *err;   /* stderr, NUL-terminated (free) */
};

/* Run `VMSIM_BIN <args>` through /bin/sh (args is shell text). */
struct cmd_result run_vmsim(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cmd_result_free(struct cmd_result *r);
/* Write len bytes to a fresh temporary file; returns its path (free). */
char *write_temp(const void *data, size_t len, const char *suffix);
/* A fresh temporary path that does not exist yet (free). */
char *temp_path(const char *suffix);
/* Read a whole file (free); *len gets its size. NULL on failure. */
char *read_file(const char *path, size_t *len);
/* Find "key": NUMBER in JSON text (first occurrence) and return the number. */
long long json_number(const char *json, const char *key);
/* The integer at a dotted path of a JSON document ("caches.l1d.hits",
 * "walks.refs_histogram[2]"): false when there is none. */
bool json_path(json_t *root, const char *path, uint64_t *v);
/* Run `vmsim run --trace T --quiet --json - OPTS` on the trace text T and
 * parse standard output, which must be one JSON object (json_decref). */
json_t *run_trace_json(const char *trace, const char *opts);
/* The library's figure for the statistic the JSON output names `name`
 * ("walks.count", "tlb.l1d.hits", "caches.l2.pt_misses",
 * "walks.refs_histogram[2]", "page_tables.tables_by_level[1]",
 * "khugepaged.collapses", "compact.runs" and "thp.anon_bytes" when cfg
 * turns them on), read from
 * st, fp and the configuration cfg that names the levels: false when
 * there is none. */
bool stat_value(const struct vmsim_stats *st, const struct vmsim_pt_footprint *fp,
                const struct vmsim_config *cfg, const char *name, uint64_t *v);
/* An access event of 8 bytes (cpu 0); an OS event of the given fields. */
struct vmsim_event ev_access(unsigned kind, vmsim_pid_t pid, uint64_t addr);
struct vmsim_event ev_os(unsigned type, unsigned kind, vmsim_pid_t pid, uint64_t addr,
                         uint64_t len);
/* vmsim_create, which must succeed. */
struct vmsim *new_machine(const struct vmsim_config *cfg);
/* Is prog an executable in a directory of $PATH? */
bool on_path(const char *prog);

/* Delta debugging: drop chunks of the n items of `size` bytes at a, halving
 * the chunks down to one item, while fails(smaller, m, ctx) says the rest
 * still fails; at most max_tries tries. Returns the new length (a shrunk in
 * place). */
size_t shrink_items(void *a, size_t n, size_t size, unsigned max_tries,
                    bool (*fails)(const void *items, size_t m, void *ctx), void *ctx);
/* Fail with the text (a program's output) when needle is not in it. */
void expect_in(const char *what, const char *text, const char *needle);

#endif
