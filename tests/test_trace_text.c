/* The vmsim text trace format (src/trace/text.c): hand-written inputs give
 * hand-written events; every malformed shape is rejected with its line and
 * a sensible expected/found; the writer prints exactly the documented form
 * and reads back; chunked input (1 byte at a time) changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "trace/formats.h"
#include "util/rng.h"

#define EV_ACC(k, p, a, l, c) {VMSIM_EV_ACCESS, (k), (c), (p), (a), (l), 0, 0}
#define EV(t, k, c, p, a, l) {(t), (k), (c), (p), (a), (l), 0, 0}
#define EV_MMAP(k, p, a, l, file, pgoff) {VMSIM_EV_MMAP, (k), 0, (p), (a), (l), (file), (pgoff)}

/* Read every event from a memory block; returns the count, or the error
 * (then *err says where). */
static long read_all(const void *data, size_t len, const char *fmt, size_t chunk,
                     struct vmsim_event **out, struct vmsim_source_error *err)
{
    struct vmsim_source *src;
    int r = trace_source_open_mem(data, len, fmt, chunk, &src, err);
    if (r < 0)
        return r;
    size_t cap = 64, n = 0;
    struct vmsim_event *evs = malloc(cap * sizeof *evs);
    for (;;) {
        if (cap - n < 16) {
            cap *= 2;
            evs = realloc(evs, cap * sizeof *evs);
        }
        long got = vmsim_source_next(src, evs + n, 1 + n % 13); /* odd batch sizes */
        if (got < 0) {
            *err = *vmsim_source_error(src);
            vmsim_source_close(src);
            free(evs);
            return got;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    assert_int_equal(vmsim_source_bytes(src), len);
    vmsim_source_close(src);
    *out = evs;
    return (long)n;
}

static void assert_events(const struct vmsim_event *got, const struct vmsim_event *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (memcmp(&got[i], &want[i], sizeof got[i]) != 0)
            print_error("event %zu: got type %u kind %u cpu %u pid %u addr %#llx len %llu "
                        "file %u pgoff %u\n",
                        i, got[i].type, got[i].kind, got[i].cpu, got[i].pid,
                        (unsigned long long)got[i].addr, (unsigned long long)got[i].len,
                        got[i].file, got[i].pgoff);
        assert_int_equal(got[i].type, want[i].type);
        assert_int_equal(got[i].kind, want[i].kind);
        assert_int_equal(got[i].cpu, want[i].cpu);
        assert_int_equal(got[i].pid, want[i].pid);
        assert_int_equal(got[i].addr, want[i].addr);
        assert_int_equal(got[i].len, want[i].len);
        assert_int_equal(got[i].file, want[i].file);
        assert_int_equal(got[i].pgoff, want[i].pgoff);
    }
}

static const char all_kinds[] =
    "# every line shape of the vmsim text format\n"
    "\n"
    "spawn 1\n"
    "mmap 1 0x400000 8192 r-x\n"
    "mmap 1 7fff0000 0x10000 rw-   # hex address without 0x, hex length\n"
    "   \t  \n"
    "R 1 0x7fff0010 8\n"
    "W\t1\t7FFF0018\t4\t3\n"
    "X 1 0x400000 0x10 0\n"
    "M 1 0x7fff0020 1 65535\r\n"
    "  switch 2 1\n"
    "mprotect 1 0x7fff0000 4096 ---\n"
    "munmap 1 0x400000 8192\n"
    "R 4294967295 0xffffffffffffffff 1073741824\n"
    "exit 1"; /* no final newline */

static const struct vmsim_event all_kinds_events[] = {
    EV(VMSIM_EV_SPAWN, 0, 0, 1, 0, 0),
    EV(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_X, 0, 1, 0x400000, 8192),
    EV(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, 0, 1, 0x7fff0000, 0x10000),
    EV_ACC(VMSIM_READ, 1, 0x7fff0010, 8, 0),
    EV_ACC(VMSIM_WRITE, 1, 0x7fff0018, 4, 3),
    EV_ACC(VMSIM_FETCH, 1, 0x400000, 16, 0),
    EV_ACC(VMSIM_MODIFY, 1, 0x7fff0020, 1, 65535),
    EV(VMSIM_EV_SWITCH, 0, 2, 1, 0, 0),
    EV(VMSIM_EV_MPROTECT, 0, 0, 1, 0x7fff0000, 4096),
    EV(VMSIM_EV_MUNMAP, 0, 0, 1, 0x400000, 8192),
    EV_ACC(VMSIM_READ, 4294967295u, 0xffffffffffffffffull, 1ull << 30, 0), /* the largest */
    EV(VMSIM_EV_EXIT, 0, 0, 1, 0, 0),
};
#define NALL (sizeof all_kinds_events / sizeof all_kinds_events[0])

static void test_every_line_shape(void **state)
{
    (void)state;
    static const size_t chunks[] = {0, 1, 2, 7, 64};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        struct vmsim_event *evs;
        struct vmsim_source_error err;
        long n = read_all(all_kinds, strlen(all_kinds), "text", chunks[c], &evs, &err);
        if (n < 0)
            print_error("%s: expected %s, found %s\n", err.where, err.expected, err.found);
        assert_int_equal(n, NALL);
        assert_events(evs, all_kinds_events, NALL);
        free(evs);
        /* auto-detection picks text for it */
        n = read_all(all_kinds, strlen(all_kinds), NULL, chunks[c], &evs, &err);
        assert_int_equal(n, NALL);
        free(evs);
    }
}

static void test_data_file(void **state)
{
    (void)state;
    struct vmsim_source *src;
    struct vmsim_source_error err;
    assert_int_equal(vmsim_source_open_trace(VMSIM_TEST_DATA "/trace_text_all.txt", "auto", &src,
                                             &err),
                     0);
    struct vmsim_event evs[64];
    long n = vmsim_source_next(src, evs, 64);
    assert_int_equal(n, NALL);
    assert_events(evs, all_kinds_events, NALL);
    assert_int_equal(vmsim_source_next(src, evs, 64), 0);
    vmsim_source_close(src);
}

/* fork, madvise and the mmap options, in the spellings the reader takes. */
static const char process_lines[] =
    "fork 1 2\n"
    "fork 0x10 4294967295\n"
    "madvise 1 0x200000 2097152 hugepage\n"
    "madvise 2 200000 0x1000 nohugepage   # hex address without 0x, hex length\n"
    "madvise 2 0x200000 4096 normal\n"
    "mmap 1 0x400000 8192 r-x shared supervisor file=3 off=8192\n"
    "mmap 1 0x400000 8192 r-x off=0x2000 file=0x3 supervisor shared   # any order\n"
    "mmap 1 0x10000 4096 rw- private   # the default, said out loud\n"
    "mmap 1 0x10000 4096 rw- shared    # anonymous shared memory\n"
    "mmap 2 0x20000 4096 --- supervisor\tprivate\n"
    "mmap 2 0x30000 4096 r-- file=4294967295 off=17592186040320\n"
    "mmap 2 0x30000 4096 r-- file=1 off=0\n"
    "mmap 2 0x30000 4096 r-- file=1";

#define R_X (VMSIM_PROT_R | VMSIM_PROT_X)
#define RW_ (VMSIM_PROT_R | VMSIM_PROT_W)
static const struct vmsim_event process_events[] = {
    EV(VMSIM_EV_FORK, 0, 0, 1, 2, 0),
    EV(VMSIM_EV_FORK, 0, 0, 16, 4294967295u, 0),
    EV(VMSIM_EV_MADVISE, VMSIM_ADV_HUGEPAGE, 0, 1, 0x200000, 2097152),
    EV(VMSIM_EV_MADVISE, VMSIM_ADV_NOHUGEPAGE, 0, 2, 0x200000, 4096),
    EV(VMSIM_EV_MADVISE, VMSIM_ADV_NORMAL, 0, 2, 0x200000, 4096),
    EV_MMAP(R_X | VMSIM_MAP_SHARED | VMSIM_MAP_SUPERVISOR, 1, 0x400000, 8192, 3, 2),
    EV_MMAP(R_X | VMSIM_MAP_SHARED | VMSIM_MAP_SUPERVISOR, 1, 0x400000, 8192, 3, 2),
    EV_MMAP(RW_, 1, 0x10000, 4096, 0, 0),
    EV_MMAP(RW_ | VMSIM_MAP_SHARED, 1, 0x10000, 4096, 0, 0),
    EV_MMAP(VMSIM_MAP_SUPERVISOR, 2, 0x20000, 4096, 0, 0),
    EV_MMAP(VMSIM_PROT_R, 2, 0x30000, 4096, 4294967295u, 4294967295u), /* 2^44 - 4096 bytes */
    EV_MMAP(VMSIM_PROT_R, 2, 0x30000, 4096, 1, 0),
    EV_MMAP(VMSIM_PROT_R, 2, 0x30000, 4096, 1, 0),
};
#define NPROC (sizeof process_events / sizeof process_events[0])

/* The writer's spelling of process_events: options in one order, each only
 * when set, private never. */
static const char process_canonical[] =
    "# vmsim text trace (docs/traces.md)\n"
    "fork 1 2\n"
    "fork 16 4294967295\n"
    "madvise 1 0x200000 2097152 hugepage\n"
    "madvise 2 0x200000 4096 nohugepage\n"
    "madvise 2 0x200000 4096 normal\n"
    "mmap 1 0x400000 8192 r-x shared supervisor file=3 off=8192\n"
    "mmap 1 0x400000 8192 r-x shared supervisor file=3 off=8192\n"
    "mmap 1 0x10000 4096 rw-\n"
    "mmap 1 0x10000 4096 rw- shared\n"
    "mmap 2 0x20000 4096 --- supervisor\n"
    "mmap 2 0x30000 4096 r-- file=4294967295 off=17592186040320\n"
    "mmap 2 0x30000 4096 r-- file=1\n"
    "mmap 2 0x30000 4096 r-- file=1\n";

static void test_fork_madvise_mmap_options(void **state)
{
    (void)state;
    static const size_t chunks[] = {0, 1, 3, 64};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        struct vmsim_event *evs;
        struct vmsim_source_error err;
        long n = read_all(process_lines, strlen(process_lines), "auto", chunks[c], &evs, &err);
        if (n < 0)
            print_error("%s: expected %s, found %s\n", err.where, err.expected, err.found);
        assert_int_equal(n, NPROC);
        assert_events(evs, process_events, NPROC);
        free(evs);
    }

    struct vmsim_sink *sink;
    assert_int_equal(trace_sink_open_mem("text", &sink), 0);
    assert_int_equal(vmsim_sink_write(sink, process_events, NPROC), 0);
    size_t len;
    const unsigned char *got = trace_sink_mem(sink, &len);
    assert_int_equal(len, strlen(process_canonical));
    assert_memory_equal(got, process_canonical, len);
    assert_int_equal(vmsim_sink_close(sink), 0);

    /* the canonical form reads back to the same events */
    struct vmsim_event *evs;
    struct vmsim_source_error err;
    assert_int_equal(read_all(process_canonical, strlen(process_canonical), "text", 0, &evs, &err),
                     NPROC);
    assert_events(evs, process_events, NPROC);
    free(evs);
}

struct bad_case {
    const char *input;
    const char *where;    /* exact */
    const char *expected; /* substring */
    const char *found;    /* exact */
};

static const struct bad_case bad_cases[] = {
    {"Q 1 0x10 8\n", "<memory>:1", "spawn", "\"Q\""},
    {"r 1 0x10 8\n", "<memory>:1", "R, W, X, M", "\"r\""},
    {"Read 1 0x10 8\n", "<memory>:1", "mprotect", "\"Read\""},
    {"R 1 0x10\n", "<memory>:1", "SIZE", "end of line"},
    {"R 1\n", "<memory>:1", "ADDR", "end of line"},
    {"R\n", "<memory>:1", "PID", "end of line"},
    {"R 1 0x10 8 0 9\n", "<memory>:1", "end of line", "\"9\""},
    {"R 1 0x10 0\n", "<memory>:1", "SIZE", "\"0\""},
    {"R 1 0x10 0x0\n", "<memory>:1", "1 to 2^30 = 1 GiB", "\"0x0\""},
    /* sizes are bounded (docs/traces.md): 2^30 + 1, and the issue 11 hang */
    {"R 1 0x10 1073741825\n", "<memory>:1", "1 to 2^30 = 1 GiB", "\"1073741825\""},
    {"R 1 0x1000 0xffffffffffffffff\n", "<memory>:1", "SIZE", "\"0xffffffffffffffff\""},
    {"R 1 0x10000000000000000 8\n", "<memory>:1", "64 bits", "\"0x10000000000000000\""},
    {"R 1 10000000000000000 8\n", "<memory>:1", "ADDR", "\"10000000000000000\""},
    {"R 1 10 18446744073709551616\n", "<memory>:1", "SIZE", "\"18446744073709551616\""},
    {"R 1 10 0x10000000000000000\n", "<memory>:1", "SIZE", "\"0x10000000000000000\""},
    {"R 4294967296 10 8\n", "<memory>:1", "below 2^32", "\"4294967296\""},
    {"R 1 10 8 65536\n", "<memory>:1", "below 65536", "\"65536\""},
    {"R 1 10 8 -1\n", "<memory>:1", "CPU", "\"-1\""},
    {"R 1 0xg0 8\n", "<memory>:1", "hexadecimal", "\"0xg0\""},
    {"R 1 0x 8\n", "<memory>:1", "ADDR", "\"0x\""},
    {"R 1 -10 8\n", "<memory>:1", "ADDR", "\"-10\""},
    {"R 1 10 8x\n", "<memory>:1", "SIZE", "\"8x\""},
    {"R 1 10 +8\n", "<memory>:1", "SIZE", "\"+8\""},
    {"R 1 10 0x\n", "<memory>:1", "SIZE", "\"0x\""},
    {"R 0x 10 8\n", "<memory>:1", "PID", "\"0x\""},
    {"R 1,2 10 8\n", "<memory>:1", "PID", "\"1,2\""},
    {"R 1 1\0010 8\n", "<memory>:1", "ADDR", "\"1\\x010\""},
    {"spawn\n", "<memory>:1", "PID", "end of line"},
    {"spawn 1 2\n", "<memory>:1", "end of line", "\"2\""},
    {"exit 1 # ok\nexit x\n", "<memory>:2", "PID", "\"x\""},
    {"switch 1\n", "<memory>:1", "PID", "end of line"},
    {"switch 65536 1\n", "<memory>:1", "CPU", "\"65536\""},
    {"switch 1 2 3\n", "<memory>:1", "end of line", "\"3\""},
    {"mmap 1 0x1000 4096\n", "<memory>:1", "PROT", "end of line"},
    {"mmap 1 0x1000 4096 rwx-\n", "<memory>:1", "PROT", "\"rwx-\""},
    {"mmap 1 0x1000 4096 rw\n", "<memory>:1", "PROT", "\"rw\""},
    {"mmap 1 0x1000 4096 wr-\n", "<memory>:1", "PROT", "\"wr-\""},
    {"mmap 1 0x1000 4096 RW-\n", "<memory>:1", "PROT", "\"RW-\""},
    {"mmap 1 0x1000 0 rw-\n", "<memory>:1", "LEN", "\"0\""},
    {"mmap 1 0x1000 4096 rw- 0\n", "<memory>:1", "end of line", "\"0\""},
    {"munmap 1 0x1000\n", "<memory>:1", "LEN", "end of line"},
    {"mprotect 1 0x1000 4096 r-X\n", "<memory>:1", "PROT", "\"r-X\""},
    /* the line number counts comments, blank lines and CRLF lines */
    {"# c\n\nR 1 10 8\r\nW 1 10\n", "<memory>:4", "SIZE", "end of line"},
    {"R 1 10 8\nR 1 10 8\nR 1 10 8\nR 1 10 8\nR 1 10 8 1 2", "<memory>:5", "end of line", "\"2\""},
    /* a carriage return anywhere but before the newline is not blank */
    {"R 1 10 8\r\r\n", "<memory>:1", "SIZE", "\"8\\x0d\""},
    {"R 1 10\r 8\n", "<memory>:1", "ADDR", "\"10\\x0d\""},
};

#define CHILD "CHILD (decimal or 0x-hex, below 2^32, not the forking PID)"
#define ADVICE "ADVICE (normal, hugepage or nohugepage)"
#define OPTION "end of line or an mmap option (shared, private, supervisor, file=ID, off=BYTES)"
#define FILE_ID "file=ID (decimal or 0x-hex, 1 to 2^32-1)"
#define OFF "off=BYTES (decimal or 0x-hex, a multiple of 4096 below 2^44)"
#define ONCE "each mmap option at most once"

/* fork, madvise and the mmap options; expected is matched exactly. */
static const struct bad_case bad_process_cases[] = {
    {"fork 1\n", "<memory>:1", CHILD, "end of line"},
    {"fork 7 7\n", "<memory>:1", CHILD, "\"7\""},
    {"fork 7 0x7\n", "<memory>:1", CHILD, "\"0x7\""},
    {"fork 1 4294967296\n", "<memory>:1", CHILD, "\"4294967296\""},
    {"fork 1 -2\n", "<memory>:1", CHILD, "\"-2\""},
    {"fork 1 2 3\n", "<memory>:1", "end of line", "\"3\""},
    {"fork\n", "<memory>:1", "PID (decimal or 0x-hex, below 2^32)", "end of line"},
    {"madvise 1 0x1000 4096\n", "<memory>:1", ADVICE, "end of line"},
    {"madvise 1 0x1000 4096 huge\n", "<memory>:1", ADVICE, "\"huge\""},
    {"madvise 1 0x1000 4096 HUGEPAGE\n", "<memory>:1", ADVICE, "\"HUGEPAGE\""},
    {"madvise 1 0x1000 4096 1\n", "<memory>:1", ADVICE, "\"1\""},
    {"madvise 1 0x1000 0 normal\n", "<memory>:1", "LEN in bytes (decimal or 0x-hex, 1 to 2^64-1)",
     "\"0\""},
    {"madvise 1 0x1000 4096 normal shared\n", "<memory>:1", "end of line", "\"shared\""},
    {"mmap 1 0x1000 4096 rw- shared shared\n", "<memory>:1", ONCE, "\"shared\""},
    {"mmap 1 0x1000 4096 rw- private private\n", "<memory>:1", ONCE, "\"private\""},
    {"mmap 1 0x1000 4096 rw- file=1 supervisor file=2\n", "<memory>:1", ONCE, "\"file=2\""},
    {"mmap 1 0x1000 4096 rw- file=1 off=0 off=4096\n", "<memory>:1", ONCE, "\"off=4096\""},
    {"mmap 1 0x1000 4096 rw- shared private\n", "<memory>:1", "shared or private, not both",
     "\"private\""},
    {"mmap 1 0x1000 4096 rw- private supervisor shared\n", "<memory>:1",
     "shared or private, not both", "\"shared\""},
    {"mmap 1 0x1000 4096 rw- off=4096\n", "<memory>:1", "off=BYTES only together with file=ID",
     "\"off=4096\""},
    {"mmap 1 0x1000 4096 rw- off=0 shared\n", "<memory>:1",
     "off=BYTES only together with file=ID", "\"off=0\""},
    {"mmap 1 0x1000 4096 rw- file=1 off=100\n", "<memory>:1", OFF, "\"off=100\""},
    {"mmap 1 0x1000 4096 rw- file=1 off=0x1001\n", "<memory>:1", OFF, "\"off=0x1001\""},
    {"mmap 1 0x1000 4096 rw- file=1 off=17592186044416\n", "<memory>:1", OFF,
     "\"off=17592186044416\""},
    {"mmap 1 0x1000 4096 rw- file=1 off=\n", "<memory>:1", OFF, "\"off=\""},
    {"mmap 1 0x1000 4096 rw- file=0\n", "<memory>:1", FILE_ID, "\"file=0\""},
    {"mmap 1 0x1000 4096 rw- file=0x0 off=4096\n", "<memory>:1", FILE_ID, "\"file=0x0\""},
    {"mmap 1 0x1000 4096 rw- file=4294967296\n", "<memory>:1", FILE_ID, "\"file=4294967296\""},
    {"mmap 1 0x1000 4096 rw- file=\n", "<memory>:1", FILE_ID, "\"file=\""},
    {"mmap 1 0x1000 4096 rw- file=-1\n", "<memory>:1", FILE_ID, "\"file=-1\""},
    {"mmap 1 0x1000 4096 rw- file 1\n", "<memory>:1", OPTION, "\"file\""},
    {"mmap 1 0x1000 4096 rw- Shared\n", "<memory>:1", OPTION, "\"Shared\""},
    {"mmap 1 0x1000 4096 rw- sharedx\n", "<memory>:1", OPTION, "\"sharedx\""},
    {"mmap 1 0x1000 4096 rw- offset=4096\n", "<memory>:1", OPTION, "\"offset=4096\""},
    {"mmap 1 0x1000 4096 rw- 0\n", "<memory>:1", OPTION, "\"0\""},
    /* five options always hold a repeat or a clash, however long the line */
    {"mmap 1 0x1000 4096 rw- shared supervisor file=1 off=0 private\n", "<memory>:1",
     "shared or private, not both", "\"private\""},
    {"mmap 1 0x1000 4096 rw- shared supervisor file=1 off=0 shared x y\n", "<memory>:1", ONCE,
     "\"shared\""},
    {"spawn 1\nmprotect 1 0x1000 4096 rw- shared\n", "<memory>:2", "end of line",
     "\"shared\""},
};

static void check_bad_cases(const struct bad_case *cases, size_t ncases, bool exact)
{
    for (size_t i = 0; i < ncases; i++) {
        const struct bad_case *b = &cases[i];
        for (size_t chunk = 0; chunk < 4; chunk += 3) {
            struct vmsim_event *evs;
            struct vmsim_source_error err;
            long n = read_all(b->input, strlen(b->input), "text", chunk, &evs, &err);
            bool expected_ok = exact ? strcmp(err.expected, b->expected) == 0
                                     : strstr(err.expected, b->expected) != NULL;
            if (n != VMSIM_EPARSE || strcmp(err.where, b->where) != 0 || !expected_ok ||
                strcmp(err.found, b->found) != 0)
                print_error("case %zu \"%s\": n %ld, where %s, expected %s, found %s\n", i,
                            b->input, n, err.where, err.expected, err.found);
            assert_int_equal(n, VMSIM_EPARSE);
            assert_string_equal(err.where, b->where);
            assert_true(expected_ok);
            assert_string_equal(err.found, b->found);
        }
    }
}

static void test_malformed_lines(void **state)
{
    (void)state;
    check_bad_cases(bad_cases, sizeof bad_cases / sizeof bad_cases[0], false);
}

static void test_malformed_process_lines(void **state)
{
    (void)state;
    check_bad_cases(bad_process_cases, sizeof bad_process_cases / sizeof bad_process_cases[0],
                    true);
}

static void test_long_lines(void **state)
{
    (void)state;
    /* A 4096-byte line is accepted, a 4097-byte one is not, and a huge one
     * is an error rather than a crash or an unbounded buffer. */
    size_t big = 3u << 20;
    char *t = malloc(big + 32);
    memset(t, '#', 4096);
    memcpy(t + 4096, "\nR 1 10 8\n", 10);
    struct vmsim_event *evs;
    struct vmsim_source_error err;
    assert_int_equal(read_all(t, 4106, "text", 0, &evs, &err), 1);
    free(evs);

    memset(t, ' ', 4097);
    memcpy(t + 4097, "\nR 1 10 8\n", 10);
    assert_int_equal(read_all(t, 4107, "text", 0, &evs, &err), VMSIM_EPARSE);
    assert_string_equal(err.where, "<memory>:1");
    assert_non_null(strstr(err.expected, "4096"));

    memcpy(t, "R 1 10 8\nR 1 10 8\n", 18);
    memset(t + 18, 'R', big - 18);
    for (size_t chunk = 0; chunk <= 4096; chunk += 4096) {
        struct vmsim_source *src;
        assert_int_equal(trace_source_open_mem(t, big, "text", chunk, &src, &err), 0);
        struct vmsim_event ev[8];
        assert_int_equal(vmsim_source_next(src, ev, 8), 2); /* the good lines first */
        assert_int_equal(vmsim_source_next(src, ev, 8), VMSIM_EPARSE);
        assert_int_equal(vmsim_source_next(src, ev, 8), VMSIM_EPARSE); /* sticky */
        assert_string_equal(vmsim_source_error(src)->where, "<memory>:3");
        assert_string_equal(vmsim_source_error(src)->found,
                            "\"RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR\"");
        vmsim_source_close(src);
    }
    free(t);
}

static void test_empty_and_comment_only(void **state)
{
    (void)state;
    static const char *const inputs[] = {"", "\n", "# only a comment", "\r\n\r\n", " \t \n#x\n"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        struct vmsim_event *evs;
        struct vmsim_source_error err;
        assert_int_equal(read_all(inputs[i], strlen(inputs[i]), "text", 1, &evs, &err), 0);
        free(evs);
    }
}

static void test_writer_exact_text(void **state)
{
    (void)state;
    struct vmsim_sink *sink;
    assert_int_equal(trace_sink_open_mem("text", &sink), 0);
    assert_int_equal(vmsim_sink_write(sink, all_kinds_events, NALL), 0);
    static const char want[] = "# vmsim text trace (docs/traces.md)\n"
                               "spawn 1\n"
                               "mmap 1 0x400000 8192 r-x\n"
                               "mmap 1 0x7fff0000 65536 rw-\n"
                               "R 1 0x7fff0010 8\n"
                               "W 1 0x7fff0018 4 3\n"
                               "X 1 0x400000 16\n"
                               "M 1 0x7fff0020 1 65535\n"
                               "switch 2 1\n"
                               "mprotect 1 0x7fff0000 4096 ---\n"
                               "munmap 1 0x400000 8192\n"
                               "R 4294967295 0xffffffffffffffff 1073741824\n"
                               "exit 1\n";
    size_t len;
    const unsigned char *got = trace_sink_mem(sink, &len);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(got, want, len);

    /* events the format cannot hold are refused, and nothing is written */
    struct vmsim_event bad[] = {
        EV_ACC(4, 1, 0, 8, 0),
        EV_ACC(VMSIM_READ, 1, 0, 0, 0),
        EV(VMSIM_EV_NTYPES, 0, 0, 1, 0, 0),
        EV(VMSIM_EV_MMAP, 32, 0, 1, 0, 4096),               /* a kind bit above the flags */
        EV_MMAP(VMSIM_PROT_R, 1, 0, 4096, 0, 1),            /* an offset without a file */
        EV(VMSIM_EV_MPROTECT, VMSIM_MAP_SHARED, 0, 1, 0, 4096), /* flags are mmap's only */
        EV(VMSIM_EV_MUNMAP, 0, 0, 1, 0, 0),
        EV(VMSIM_EV_FORK, 0, 0, 5, 5, 0),                   /* its own child */
        EV(VMSIM_EV_FORK, 0, 0, 5, 1ull << 32, 0),
        EV(VMSIM_EV_MADVISE, VMSIM_ADV_NTYPES, 0, 1, 0, 4096),
        EV(VMSIM_EV_MADVISE, VMSIM_ADV_NORMAL, 0, 1, 0, 0),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(vmsim_sink_write(sink, &bad[i], 1), VMSIM_EINVAL);
        trace_sink_mem(sink, &len);
        assert_int_equal(len, strlen(want));
    }
    assert_int_equal(vmsim_sink_close(sink), 0);
}

static void test_random_round_trip(void **state)
{
    (void)state;
    struct rng r;
    rng_seed(&r, 42);
    size_t n = 20000;
    struct vmsim_event *evs = calloc(n, sizeof *evs);
    for (size_t i = 0; i < n; i++) {
        struct vmsim_event *e = &evs[i];
        e->type = (uint8_t)(rng_below(&r, 4) ? VMSIM_EV_ACCESS
                                              : 1 + rng_below(&r, VMSIM_EV_NTYPES - 1));
        uint64_t big = rng_next(&r) >> rng_below(&r, 64);
        switch (e->type) {
        case VMSIM_EV_ACCESS:
            e->kind = (uint8_t)rng_below(&r, 4);
            e->cpu = (uint16_t)(rng_below(&r, 2) ? 0 : rng_next(&r));
            e->pid = (vmsim_pid_t)rng_next(&r);
            e->addr = rng_next(&r);
            e->len = big ? 1 + big % (1ull << 30) : 1; /* 1 .. 2^30 */
            break;
        case VMSIM_EV_SWITCH:
            e->cpu = (uint16_t)rng_next(&r);
            e->pid = (vmsim_pid_t)rng_next(&r);
            break;
        case VMSIM_EV_SPAWN:
            e->pid = (vmsim_pid_t)rng_next(&r);
            e->file = rng_below(&r, 2) ? 0 : (uint32_t)(2 + rng_below(&r, VMSIM_MAX_VMS - 2));
            break;
        case VMSIM_EV_VM:
            e->addr = 2 + rng_below(&r, VMSIM_MAX_VMS - 2);
            e->len = big;
            break;
        case VMSIM_EV_EXIT:
            e->pid = (vmsim_pid_t)rng_next(&r);
            break;
        case VMSIM_EV_FORK:
            e->pid = (vmsim_pid_t)rng_next(&r);
            e->addr = (vmsim_pid_t)(e->pid + 1 + rng_below(&r, UINT32_MAX)); /* not pid */
            break;
        default:
            e->kind = (uint8_t)rng_below(&r, 8);
            if (e->type == VMSIM_EV_MUNMAP)
                e->kind = 0;
            if (e->type == VMSIM_EV_MADVISE)
                e->kind = (uint8_t)rng_below(&r, VMSIM_ADV_NTYPES);
            if (e->type == VMSIM_EV_MMAP) {
                e->kind |= (uint8_t)(rng_below(&r, 4) * VMSIM_MAP_SHARED); /* both flags */
                e->file = rng_below(&r, 2) ? 0 : (uint32_t)(1 + rng_below(&r, UINT32_MAX));
                e->pgoff = e->file && rng_below(&r, 2) ? (uint32_t)rng_next(&r) : 0;
            }
            e->pid = (vmsim_pid_t)rng_next(&r);
            e->addr = rng_next(&r) >> rng_below(&r, 64);
            e->len = big ? big : 1;
            break;
        }
    }
    struct vmsim_sink *sink;
    assert_int_equal(trace_sink_open_mem("text", &sink), 0);
    for (size_t i = 0; i < n; i += 1000)
        assert_int_equal(vmsim_sink_write(sink, evs + i, 1000), 0);
    size_t len;
    const unsigned char *text = trace_sink_mem(sink, &len);
    struct vmsim_event *back;
    struct vmsim_source_error err;
    assert_int_equal(read_all(text, len, "auto", 0, &back, &err), (long)n);
    assert_events(back, evs, n);
    free(back);
    assert_int_equal(vmsim_sink_close(sink), 0);
    free(evs);
}

static void test_open_errors(void **state)
{
    (void)state;
    struct vmsim_source *src = (struct vmsim_source *)1;
    struct vmsim_source_error err;
    assert_int_equal(vmsim_source_open_trace("/nonexistent/trace.txt", NULL, &src, &err),
                     VMSIM_ENOENT);
    assert_null(src);
    assert_string_equal(err.where, "/nonexistent/trace.txt");
    assert_non_null(strstr(err.found, "No such file"));

    assert_int_equal(vmsim_source_open_trace(VMSIM_TEST_DATA "/trace_text_all.txt", "nosuch",
                                             &src, &err),
                     VMSIM_EINVAL);
    assert_non_null(strstr(err.expected, "auto, text, bin, lackey, din, xdin, pin, champsim"));
    assert_string_equal(err.found, "\"nosuch\"");

    /* a directory opens but cannot be read */
    assert_int_equal(vmsim_source_open_trace(VMSIM_TEST_DATA, "auto", &src, &err), VMSIM_EIO);
    assert_non_null(strstr(err.found, "read error"));

    /* the format list names every format, NULL-terminated */
    assert_string_equal(vmsim_trace_formats[0], "text");
    assert_string_equal(vmsim_trace_formats[1], "bin");
    assert_string_equal(vmsim_trace_formats[2], "lackey");
    assert_string_equal(vmsim_trace_formats[3], "din");
    assert_string_equal(vmsim_trace_formats[4], "xdin");
    assert_string_equal(vmsim_trace_formats[5], "pin");
    assert_string_equal(vmsim_trace_formats[6], "champsim");
    assert_null(vmsim_trace_formats[7]);
    assert_non_null(vmsim_trace_format_help[2]);
}

static void test_file_sink(void **state)
{
    (void)state;
    char *path = temp_path(".txt");
    struct vmsim_sink *sink;
    assert_int_equal(vmsim_sink_open(path, NULL, &sink), 0); /* not .vmt: text */
    assert_int_equal(vmsim_sink_write(sink, all_kinds_events, NALL), 0);
    assert_int_equal(vmsim_sink_close(sink), 0);
    struct vmsim_source *src;
    struct vmsim_source_error err;
    assert_int_equal(vmsim_source_open_trace(path, NULL, &src, &err), 0);
    struct vmsim_event evs[64];
    assert_int_equal(vmsim_source_next(src, evs, 64), NALL);
    assert_events(evs, all_kinds_events, NALL);
    vmsim_source_close(src);
    unlink(path);
    free(path);

    assert_int_equal(vmsim_sink_open("/nonexistent/dir/x.txt", "text", &sink), VMSIM_ENOENT);
    assert_int_equal(vmsim_sink_open("x.txt", "lackey", &sink), VMSIM_EUNSUPPORTED);
    assert_int_equal(vmsim_sink_open("x.txt", "nope", &sink), VMSIM_EINVAL);
    assert_null(sink);
    assert_int_equal(vmsim_sink_close(NULL), 0);
}

/* VM lines (docs/traces.md): "vm VMID MEMORY" creates a VM, "spawn PID
 * vm=VMID" starts a process in one; both read back as written, and the
 * ids outside 2..255 are refused with the field expected. */
static void test_vm_lines(void **state)
{
    (void)state;
    static const char in[] = "vm 2 1073741824\nvm 255 0\nspawn 7 vm=2\nspawn 8\n";
    struct vmsim_event *evs;
    struct vmsim_source_error err;
    assert_int_equal(read_all(in, sizeof in - 1, "text", 0, &evs, &err), 4);
    assert_int_equal(evs[0].type, VMSIM_EV_VM);
    assert_int_equal(evs[0].addr, 2);
    assert_int_equal(evs[0].len, 1ull << 30);
    assert_int_equal(evs[1].addr, 255);
    assert_int_equal(evs[1].len, 0);
    assert_int_equal(evs[2].type, VMSIM_EV_SPAWN);
    assert_int_equal(evs[2].pid, 7);
    assert_int_equal(evs[2].file, 2);
    assert_int_equal(evs[2].addr, 0);
    assert_int_equal(evs[3].file, 0);
    struct vmsim_sink *sink;
    assert_int_equal(trace_sink_open_mem("text", &sink), 0);
    assert_int_equal(vmsim_sink_write(sink, evs, 4), 0);
    size_t len;
    const unsigned char *got = trace_sink_mem(sink, &len);
    static const char want[] = "# vmsim text trace (docs/traces.md)\n"
                               "vm 2 1073741824\nvm 255 0\nspawn 7 vm=2\nspawn 8\n";
    assert_int_equal(len, strlen(want));
    assert_memory_equal(got, want, len);
    vmsim_sink_close(sink);
    free(evs);
    static const struct {
        const char *line, *expected, *found;
    } bad[] = {{"vm 1 0\n", "VMID (decimal or 0x-hex, 2 to 255)", "1"},
               {"vm 256 0\n", "VMID (decimal or 0x-hex, 2 to 255)", "256"},
               {"vm 2\n", "MEMORY in bytes (decimal or 0x-hex; 0: the machine's)", "end of line"},
               {"spawn 7 vm=1\n", "VMID (decimal or 0x-hex, 2 to 255)", "1"},
               {"spawn 7 vmx\n", "end of line or vm=VMID", "vmx"},
               {"spawn 7 vm=2 9\n", "end of line", "9"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(read_all(bad[i].line, strlen(bad[i].line), "text", 0, &evs, &err),
                         VMSIM_EPARSE);
        if (strcmp(err.expected, bad[i].expected) || strstr(err.found, bad[i].found) == NULL)
            fail_msg("\"%s\": expected %s, found %s", bad[i].line, err.expected, err.found);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_line_shape),
        cmocka_unit_test(test_data_file),
        cmocka_unit_test(test_fork_madvise_mmap_options),
        cmocka_unit_test(test_malformed_lines),
        cmocka_unit_test(test_malformed_process_lines),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_empty_and_comment_only),
        cmocka_unit_test(test_writer_exact_text),
        cmocka_unit_test(test_vm_lines),
        cmocka_unit_test(test_random_round_trip),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_file_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
