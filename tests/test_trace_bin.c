/* The vmsim binary trace format (src/trace/bin.c, docs/traces.md): a
 * hand-encoded byte string decodes to hand-written events and those events
 * encode to exactly those bytes; random streams round-trip; every malformed
 * record is rejected at the right byte offset; a file cut at any byte gives
 * a clean prefix (at record boundaries) or an error, never a crash; a
 * sequential stream costs about one byte per access. */
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

static long read_all(const void *data, size_t len, const char *fmt, size_t chunk,
                     struct vmsim_event **out, struct vmsim_source_error *err)
{
    struct vmsim_source *src;
    *out = NULL;
    int r = trace_source_open_mem(data, len, fmt, chunk, &src, err);
    if (r < 0)
        return r;
    size_t cap = 64, n = 0;
    struct vmsim_event *evs = malloc(cap * sizeof *evs);
    long result;
    for (;;) {
        if (cap - n < 1024) {
            cap *= 2;
            evs = realloc(evs, cap * sizeof *evs);
        }
        long got = vmsim_source_next(src, evs + n, 1 + n % 1000);
        if (got < 0) {
            *err = *vmsim_source_error(src);
            result = got;
            break;
        }
        if (got == 0) {
            assert_int_equal(vmsim_source_bytes(src), len);
            result = (long)n;
            break;
        }
        n += (size_t)got;
    }
    vmsim_source_close(src);
    /* also on error: the n events read before it, then an end mark */
    if (result < 0)
        evs[n].type = 0xff;
    *out = evs;
    return result;
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
        assert_memory_equal(&got[i], &want[i], sizeof got[i]);
    }
}

/* Worked by hand from the layout in docs/traces.md; the comments give the
 * coder state each record is relative to. */
static const struct vmsim_event hand_events[] = {
    EV_ACC(VMSIM_READ, 1, 0x1000, 8, 0),
    EV_ACC(VMSIM_READ, 1, 0x1008, 8, 0),
    EV_ACC(VMSIM_WRITE, 1, 0x1000, 8, 0),
    EV_ACC(VMSIM_FETCH, 1, 0x400000, 4, 0),
    EV(VMSIM_EV_SPAWN, 0, 0, 7, 0, 0),
    EV(VMSIM_EV_SWITCH, 0, 2, 7, 0, 0),
    EV(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W, 0, 7, 0x10000, 4096),
    EV(VMSIM_EV_EXIT, 0, 0, 7, 0, 0),
    EV_ACC(VMSIM_MODIFY, 7, 0x1010, 8, 2),
    EV(VMSIM_EV_MUNMAP, 0, 0, 7, 0x10000, 4096),
    EV(VMSIM_EV_MPROTECT, 0, 0, 7, 0x10000, 4096),
    EV_ACC(VMSIM_FETCH, 7, 0x400004, 4, 2),
    EV_ACC(VMSIM_READ, 7, 0, 8, 2),
    EV_ACC(VMSIM_WRITE, 7, 0xffffffffffffffffull, 1, 2),
    EV_ACC(VMSIM_READ, 7, 0, 1, 2),
    EV(VMSIM_EV_FORK, 0, 0, 7, 8, 0),
    EV(VMSIM_EV_MADVISE, VMSIM_ADV_HUGEPAGE, 0, 7, 0x200000, 0x200000),
    EV_MMAP(VMSIM_PROT_R | VMSIM_PROT_X | VMSIM_MAP_SHARED | VMSIM_MAP_SUPERVISOR, 7, 0x400000,
            8192, 3, 2),
    EV_MMAP(VMSIM_PROT_R | VMSIM_PROT_W | VMSIM_MAP_SHARED, 8, 0x10000, 4096, 0, 0),
    EV_MMAP(VMSIM_PROT_R, 8, 0x10000, 4096, 0xffffffffu, 0xffffffffu),
    EV(VMSIM_EV_MADVISE, VMSIM_ADV_NOHUGEPAGE, 0, 8, 0x10000, 4096),
    EV_ACC(VMSIM_READ, 7, 0x10, 1, 2),
};
#define NHAND (sizeof hand_events / sizeof hand_events[0])

static const unsigned char hand_bytes[] = {
    'V', 'M', 'S', 'I', 'M', 'B', 'T', 1,
    /* start: pid 0 cpu 0; data and fetch streams at address 0, size 1 */
    0x14, 0x01, 0x08, 0x80, 0x40, /* R: new pid 1, new size 8, delta +0x1000 (zz 0x2000) */
    0x20,                         /* R: 0x1000 + 8 = 0x1008, sequential */
    0x01, 0x0f,                   /* W: delta -8 (zz 15) from 0x1008 */
    0x12, 0x04, 0x80, 0x80, 0x80, 0x04, /* X: fetch stream, size 4, delta +0x400000 */
    0x81, 0x07,                   /* spawn 7 */
    0x86, 0x02, 0x07,             /* switch cpu 2 pid 7 */
    0x83, 0x07, 0x80, 0x80, 0x04, 0x80, 0x20, 0x03, /* mmap 7 0x10000 4096 rw- */
    0x82, 0x07,                   /* exit 7 */
    0x0f, 0x07, 0x02, 0x20,       /* M: new pid 7, new cpu 2, delta +0x10 from 0x1000 */
    0x84, 0x07, 0x80, 0x80, 0x04, 0x80, 0x20, /* munmap 7 0x10000 4096 */
    0x85, 0x07, 0x80, 0x80, 0x04, 0x80, 0x20, 0x00, /* mprotect 7 0x10000 4096 --- */
    0x22,                         /* X: 0x400000 + 4, sequential in the fetch stream */
    0x00, 0x9f, 0x40,             /* R: delta -0x1010 (zz 0x201f) */
    0x11, 0x01, 0x01,             /* W: size 1, delta -1 (zz 1): 0xffffffffffffffff */
    0x20,                         /* R: 0xffffffffffffffff + 1 wraps to 0, sequential */
    0x87, 0x07, 0x08,             /* fork 7 8 */
    0x88, 0x07, 0x80, 0x80, 0x80, 0x01, 0x80, 0x80, 0x80, 0x01, 0x01, /* madvise 7 2^21 2^21 huge */
    /* mmap 7 0x400000 8192 r-x shared supervisor file=3 off=8192: prot 5 | 8 | 16 | FILE 32 */
    0x83, 0x07, 0x80, 0x80, 0x80, 0x02, 0x80, 0x40, 0x3d, 0x03, 0x02,
    0x83, 0x08, 0x80, 0x80, 0x04, 0x80, 0x20, 0x0b, /* mmap 8 0x10000 4096 rw- shared: 3 | 8 */
    /* mmap 8 0x10000 4096 r-- file=2^32-1 off=(2^32-1 pages): prot 1 | FILE 32 */
    0x83, 0x08, 0x80, 0x80, 0x04, 0x80, 0x20, 0x21, 0xff, 0xff, 0xff, 0xff, 0x0f, 0xff, 0xff, 0xff,
    0xff, 0x0f,
    0x88, 0x08, 0x80, 0x80, 0x04, 0x80, 0x20, 0x02, /* madvise 8 0x10000 4096 nohugepage */
    0x00, 0x20, /* R: the OS records left pid, cpu, addr and size alone: delta +0x10 (zz 0x20) */
};

static void test_hand_encoding(void **state)
{
    (void)state;
    struct vmsim_sink *sink;
    assert_int_equal(trace_sink_open_mem("bin", &sink), 0);
    assert_int_equal(vmsim_sink_write(sink, hand_events, NHAND), 0);
    size_t len;
    const unsigned char *got = trace_sink_mem(sink, &len);
    assert_int_equal(len, sizeof hand_bytes);
    assert_memory_equal(got, hand_bytes, len);
    assert_int_equal(vmsim_sink_close(sink), 0);

    for (size_t chunk = 0; chunk < 4; chunk++) {
        struct vmsim_event *evs;
        struct vmsim_source_error err;
        assert_int_equal(read_all(hand_bytes, sizeof hand_bytes, chunk ? "bin" : NULL, chunk,
                                  &evs, &err),
                         NHAND);
        assert_events(evs, hand_events, NHAND);
        free(evs);
    }
}

struct bad_case {
    const char *name;
    unsigned char bytes[24]; /* after the header */
    size_t len;
    const char *where, *expected, *found;
};

static const struct bad_case bad_cases[] = {
    {"reserved bit", {0x40}, 1, "<memory>: byte 8", "record tag", "0x40"},
    {"reserved bit 2", {0x7f}, 1, "<memory>: byte 8", "record tag", "0x7f"},
    {"OS type 0", {0x80}, 1, "<memory>: byte 8", "record tag", "0x80"},
    {"OS type 127", {0xff}, 1, "<memory>: byte 8", "record tag", "0xff"},
    {"tag after a good record", {0x20, 0x20, 0x48}, 3, "<memory>: byte 10", "record tag", "0x48"},
    {"11-byte varint", {0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00},
     12, "<memory>: byte 9", "at most 10 bytes", "a longer varint"},
    {"varint above 2^64", {0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02},
     11, "<memory>: byte 9", "below 2^64", "a larger varint"},
    {"pid 2^63", {0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 11,
     "<memory>: byte 9", "pid below 2^32", "9223372036854775808"},
    {"pid 2^32", {0x20, 0x04, 0x80, 0x80, 0x80, 0x80, 0x10}, 7, "<memory>: byte 10",
     "pid below 2^32", "4294967296"},
    {"cpu 65536", {0x86, 0x80, 0x80, 0x04, 0x01}, 5, "<memory>: byte 9", "cpu below 65536",
     "65536"},
    {"access cpu 65536", {0x08, 0x80, 0x80, 0x04, 0x00}, 5, "<memory>: byte 9",
     "cpu below 65536", "65536"},
    {"size 0", {0x10, 0x00, 0x00}, 3, "<memory>: byte 9", "at least 1", "0"},
    {"mmap len 0", {0x83, 0x01, 0x00, 0x00, 0x03}, 5, "<memory>: byte 11", "at least 1", "0"},
    {"mprotect prot 255", {0x85, 0x01, 0x00, 0x01, 0xff, 0x01}, 6, "<memory>: byte 12",
     "protection", "255"},
    {"cut in a varint", {0x14, 0x01, 0x08, 0x80}, 4, "<memory>: byte 12",
     "rest of the access record that starts at byte 8", "end of input"},
    {"cut after the tag", {0x20, 0x81}, 2, "<memory>: byte 10",
     "rest of the spawn record that starts at byte 9", "end of input"},
    {"cut mmap", {0x83, 0x01, 0x00, 0x01}, 4, "<memory>: byte 12",
     "rest of the mmap record that starts at byte 8", "end of input"},
};

#define MAP_PROT "mmap prot bits 0-5 (rwx, shared, supervisor, file)"
#define CHILD "a child pid below 2^32, not the parent's"
#define FILE_ID "a file id from 1 to 2^32-1"

/* fork, madvise, mmap flags and files; expected is matched exactly. */
static const struct bad_case bad_process_cases[] = {
    {"OS type 11", {0x8b}, 1, "<memory>: byte 8",
     "a record tag (0x00-0x3f access, 0x81-0x8a OS event)", "0x8b"},
    {"vm id 1", {0x89, 0x01, 0x00}, 3, "<memory>: byte 9", "a VM id from 2 to 255", "1"},
    {"vm id 256", {0x89, 0x80, 0x02, 0x00}, 4, "<memory>: byte 9", "a VM id from 2 to 255",
     "256"},
    {"cut vm", {0x89, 0x02}, 2, "<memory>: byte 10", "the rest of the vm record that starts at "
     "byte 8", "end of input"},
    {"spawn into VM 0", {0x8a, 0x05, 0x00}, 3, "<memory>: byte 10", "a VM id from 2 to 255",
     "0"},
    {"mmap prot 64", {0x83, 0x01, 0x00, 0x01, 0x40}, 5, "<memory>: byte 12", MAP_PROT, "64"},
    {"mmap prot 128", {0x83, 0x01, 0x00, 0x01, 0x80, 0x01}, 6, "<memory>: byte 12", MAP_PROT,
     "128"},
    {"mprotect shared", {0x85, 0x01, 0x00, 0x01, 0x08}, 5, "<memory>: byte 12",
     "protection bits 0-7", "8"},
    {"fork to itself", {0x87, 0x05, 0x05}, 3, "<memory>: byte 10", CHILD, "5"},
    {"fork child 2^32", {0x87, 0x05, 0x80, 0x80, 0x80, 0x80, 0x10}, 7, "<memory>: byte 10", CHILD,
     "4294967296"},
    {"fork pid 2^32", {0x87, 0x80, 0x80, 0x80, 0x80, 0x10, 0x01}, 7, "<memory>: byte 9",
     "a pid below 2^32", "4294967296"},
    {"madvise advice 3", {0x88, 0x01, 0x00, 0x01, 0x03}, 5, "<memory>: byte 12",
     "advice 0-2 (normal, hugepage, nohugepage)", "3"},
    {"madvise len 0", {0x88, 0x01, 0x00, 0x00, 0x01}, 5, "<memory>: byte 11",
     "a size or length of at least 1", "0"},
    {"mmap file 0", {0x83, 0x01, 0x00, 0x01, 0x20, 0x00, 0x00}, 7, "<memory>: byte 13", FILE_ID,
     "0"},
    {"mmap file 2^32", {0x83, 0x01, 0x00, 0x01, 0x21, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00}, 11,
     "<memory>: byte 13", FILE_ID, "4294967296"},
    {"mmap pgoff 2^32", {0x83, 0x01, 0x00, 0x01, 0x20, 0x01, 0x80, 0x80, 0x80, 0x80, 0x10}, 11,
     "<memory>: byte 14", "a file offset below 2^32 pages", "4294967296"},
    {"cut fork", {0x87, 0x01}, 2, "<memory>: byte 10",
     "the rest of the fork record that starts at byte 8", "end of input"},
    {"cut madvise", {0x20, 0x88, 0x01, 0x00, 0x01}, 5, "<memory>: byte 13",
     "the rest of the madvise record that starts at byte 9", "end of input"},
    {"cut mmap before the file", {0x83, 0x01, 0x00, 0x01, 0x23}, 5, "<memory>: byte 13",
     "the rest of the mmap record that starts at byte 8", "end of input"},
    {"cut mmap before the offset", {0x83, 0x01, 0x00, 0x01, 0x23, 0x05}, 6, "<memory>: byte 14",
     "the rest of the mmap record that starts at byte 8", "end of input"},
    {"cut mmap in the offset", {0x83, 0x01, 0x00, 0x01, 0x23, 0x05, 0x80}, 7, "<memory>: byte 15",
     "the rest of the mmap record that starts at byte 8", "end of input"},
};

static void check_bad_cases(const struct bad_case *cases, size_t ncases, bool exact)
{
    for (size_t i = 0; i < ncases; i++) {
        const struct bad_case *b = &cases[i];
        size_t len = 8 + b->len;
        unsigned char *data = malloc(len); /* exact size: ASan sees any overread */
        memcpy(data, "VMSIMBT\x01", 8);
        memcpy(data + 8, b->bytes, b->len);
        for (size_t chunk = 0; chunk < 3; chunk++) {
            struct vmsim_event *evs;
            struct vmsim_source_error err;
            long n = read_all(data, len, "auto", chunk, &evs, &err);
            bool expected_ok = exact ? strcmp(err.expected, b->expected) == 0
                                     : strstr(err.expected, b->expected) != NULL;
            if (n != VMSIM_EPARSE || strcmp(err.where, b->where) || !expected_ok ||
                strcmp(err.found, b->found))
                print_error("%s: n %ld where %s expected %s found %s\n", b->name, n, err.where,
                            err.expected, err.found);
            assert_int_equal(n, VMSIM_EPARSE);
            assert_string_equal(err.where, b->where);
            assert_true(expected_ok);
            assert_string_equal(err.found, b->found);
            free(evs);
        }
        free(data);
    }
}

static void test_malformed_records(void **state)
{
    (void)state;
    check_bad_cases(bad_cases, sizeof bad_cases / sizeof bad_cases[0], false);
}

static void test_malformed_process_records(void **state)
{
    (void)state;
    check_bad_cases(bad_process_cases, sizeof bad_process_cases / sizeof bad_process_cases[0],
                    true);
}

/* A file written before fork, madvise and the mmap flags existed, bytes by
 * hand: it reads as it always did (no file, no flags), and today's writer
 * still makes exactly these bytes of those events. */
static const unsigned char version1_bytes[] = {
    'V', 'M', 'S', 'I', 'M', 'B', 'T', 1,
    0x81, 0x01,                                     /* spawn 1 */
    0x83, 0x01, 0x80, 0x80, 0x04, 0x80, 0x40, 0x07, /* mmap 1 0x10000 8192 rwx */
    0x15, 0x01, 0x08, 0x80, 0x80, 0x08,             /* W: pid 1, size 8, +0x10000 (zz 0x20000) */
    0x85, 0x01, 0x80, 0x80, 0x04, 0x80, 0x40, 0x01, /* mprotect 1 0x10000 8192 r-- */
    0x84, 0x01, 0x80, 0x80, 0x04, 0x80, 0x40,       /* munmap 1 0x10000 8192 */
    0x82, 0x01,                                     /* exit 1 */
};
static const struct vmsim_event version1_events[] = {
    EV(VMSIM_EV_SPAWN, 0, 0, 1, 0, 0),
    EV(VMSIM_EV_MMAP, VMSIM_PROT_R | VMSIM_PROT_W | VMSIM_PROT_X, 0, 1, 0x10000, 8192),
    EV_ACC(VMSIM_WRITE, 1, 0x10000, 8, 0),
    EV(VMSIM_EV_MPROTECT, VMSIM_PROT_R, 0, 1, 0x10000, 8192),
    EV(VMSIM_EV_MUNMAP, 0, 0, 1, 0x10000, 8192),
    EV(VMSIM_EV_EXIT, 0, 0, 1, 0, 0),
};

static void test_version1_file(void **state)
{
    (void)state;
    size_t n = sizeof version1_events / sizeof version1_events[0];
    struct vmsim_event *evs;
    struct vmsim_source_error err;
    assert_int_equal(read_all(version1_bytes, sizeof version1_bytes, NULL, 0, &evs, &err),
                     (long)n);
    assert_events(evs, version1_events, n);
    free(evs);

    struct vmsim_sink *sink;
    assert_int_equal(trace_sink_open_mem("bin", &sink), 0);
    assert_int_equal(vmsim_sink_write(sink, version1_events, n), 0);
    size_t len;
    const unsigned char *got = trace_sink_mem(sink, &len);
    assert_int_equal(len, sizeof version1_bytes);
    assert_memory_equal(got, version1_bytes, len);
    assert_int_equal(vmsim_sink_close(sink), 0);
}

static void test_bad_header(void **state)
{
    (void)state;
    struct vmsim_source *src;
    struct vmsim_source_error err;
    assert_int_equal(trace_source_open_mem("VMSIMBX\x01\x20", 9, "bin", 0, &src, &err),
                     VMSIM_EPARSE);
    assert_string_equal(err.where, "<memory>: byte 0");
    assert_non_null(strstr(err.expected, "VMSIMBT"));
    assert_string_equal(err.found, "\"VMSIMBX\\x01\"");

    assert_int_equal(trace_source_open_mem("VMSIMBT\x02\x20", 9, "auto", 0, &src, &err),
                     VMSIM_EPARSE);
    assert_string_equal(err.where, "<memory>: byte 7");
    assert_string_equal(err.expected, "format version 1");
    assert_string_equal(err.found, "version 2");

    assert_int_equal(trace_source_open_mem("VMSIMBT", 7, "bin", 0, &src, &err), VMSIM_EPARSE);
    assert_string_equal(err.where, "<memory>: byte 7");
    assert_string_equal(err.found, "end of input");

    assert_int_equal(trace_source_open_mem("", 0, "bin", 0, &src, &err), VMSIM_EPARSE);
    assert_string_equal(err.where, "<memory>: byte 0");
    assert_string_equal(err.found, "end of input");

    /* a header alone is an empty trace */
    assert_int_equal(trace_source_open_mem("VMSIMBT\x01", 8, "auto", 0, &src, &err), 0);
    struct vmsim_event ev;
    assert_int_equal(vmsim_source_next(src, &ev, 1), 0);
    assert_int_equal(vmsim_source_bytes(src), 8);
    vmsim_source_close(src);
}

static void random_events(struct vmsim_event *evs, size_t n, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    uint64_t addr[2] = {0x7fff00000000ull, 0x400000};
    vmsim_pid_t pid = 1;
    for (size_t i = 0; i < n; i++) {
        struct vmsim_event *e = &evs[i];
        memset(e, 0, sizeof *e);
        unsigned pick = (unsigned)rng_below(&r, 100);
        if (pick < 85) { /* accesses: mostly local, sometimes anywhere */
            e->type = VMSIM_EV_ACCESS;
            e->kind = (uint8_t)rng_below(&r, 4);
            unsigned st = e->kind == VMSIM_FETCH;
            unsigned how = (unsigned)rng_below(&r, 10);
            if (how < 5)
                addr[st] += rng_below(&r, 16);
            else if (how < 8)
                addr[st] -= rng_below(&r, 4096);
            else
                addr[st] = rng_next(&r) >> rng_below(&r, 64);
            e->addr = addr[st];
            static const uint64_t sizes[] = {1, 2, 4, 8, 16, 32, 64, 4096};
            e->len = rng_below(&r, 50) ? sizes[rng_below(&r, 8)] : 1 + (rng_next(&r) >> 34); /* to 2^30 */
            if (rng_below(&r, 50) == 0)
                pid = (vmsim_pid_t)(rng_below(&r, 2) ? rng_below(&r, 8) : rng_next(&r));
            e->pid = pid;
            e->cpu = (uint16_t)(rng_below(&r, 20) ? 0 : rng_next(&r));
        } else {
            e->type = (uint8_t)(1 + rng_below(&r, VMSIM_EV_NTYPES - 1));
            e->pid = (vmsim_pid_t)rng_next(&r);
            if (e->type == VMSIM_EV_SWITCH)
                e->cpu = (uint16_t)rng_next(&r);
            if (e->type == VMSIM_EV_FORK) /* any child but the parent */
                e->addr = (vmsim_pid_t)(e->pid + 1 + rng_below(&r, UINT32_MAX));
            if ((e->type >= VMSIM_EV_MMAP && e->type <= VMSIM_EV_MPROTECT) ||
                e->type == VMSIM_EV_MADVISE) {
                e->addr = rng_next(&r) >> rng_below(&r, 64);
                e->len = 1 + (rng_next(&r) >> rng_below(&r, 64) >> 1);
            }
            if (e->type == VMSIM_EV_MMAP || e->type == VMSIM_EV_MPROTECT)
                e->kind = (uint8_t)rng_below(&r, 8);
            if (e->type == VMSIM_EV_MADVISE)
                e->kind = (uint8_t)rng_below(&r, VMSIM_ADV_NTYPES);
            if (e->type == VMSIM_EV_SPAWN && rng_below(&r, 2))
                e->file = (uint32_t)(2 + rng_below(&r, VMSIM_MAX_VMS - 2));
            if (e->type == VMSIM_EV_VM) {
                e->pid = 0; /* not part of the event */
                e->addr = 2 + rng_below(&r, VMSIM_MAX_VMS - 2);
                e->len = rng_next(&r) >> rng_below(&r, 64);
            }
            if (e->type == VMSIM_EV_MMAP) {
                e->kind |= (uint8_t)(rng_below(&r, 4) * VMSIM_MAP_SHARED); /* both flags */
                if (rng_below(&r, 2)) {
                    e->file = (uint32_t)(1 + (rng_below(&r, UINT32_MAX) >> rng_below(&r, 32)));
                    e->pgoff = (uint32_t)(rng_next(&r) >> rng_below(&r, 64));
                }
            }
        }
    }
}

static void test_random_round_trip(void **state)
{
    (void)state;
    size_t n = 300000; /* several MB: records straddle buffer refills */
    struct vmsim_event *evs = malloc(n * sizeof *evs);
    random_events(evs, n, 7);
    struct vmsim_sink *sink;
    assert_int_equal(trace_sink_open_mem("bin", &sink), 0);
    for (size_t i = 0; i < n;) {
        size_t k = 1 + i % 777;
        if (k > n - i)
            k = n - i;
        assert_int_equal(vmsim_sink_write(sink, evs + i, k), 0);
        i += k;
    }
    size_t len;
    const unsigned char *data = trace_sink_mem(sink, &len);
    static const size_t chunks[] = {0, 1, 5, 4096};
    for (size_t c = 0; c < 4; c++) {
        size_t m = chunks[c] == 1 || chunks[c] == 5 ? 20000 : n; /* slow chunks: a prefix */
        struct vmsim_event *back;
        struct vmsim_source_error err;
        /* a prefix at a record boundary: re-encode the first m events */
        struct vmsim_sink *s2;
        assert_int_equal(trace_sink_open_mem("bin", &s2), 0);
        assert_int_equal(vmsim_sink_write(s2, evs, m), 0);
        size_t len2;
        const unsigned char *d2 = trace_sink_mem(s2, &len2);
        assert_true(len2 <= len);
        assert_memory_equal(d2, data, len2);
        assert_int_equal(read_all(d2, len2, NULL, chunks[c], &back, &err), (long)m);
        assert_events(back, evs, m);
        free(back);
        vmsim_sink_close(s2);
    }
    print_message("random stream: %zu events, %.2f bytes/event\n", n,
                  (double)(len - 8) / (double)n);
    assert_int_equal(vmsim_sink_close(sink), 0);
    free(evs);
}

static void test_truncation_everywhere(void **state)
{
    (void)state;
    size_t n = 300;
    struct vmsim_event *evs = malloc((n + NHAND) * sizeof *evs);
    memcpy(evs, hand_events, sizeof hand_events);
    random_events(evs + NHAND, n, 99);
    n += NHAND;
    /* encode one event at a time to learn where each record ends */
    size_t *bound = malloc((n + 1) * sizeof *bound);
    struct vmsim_sink *sink;
    assert_int_equal(trace_sink_open_mem("bin", &sink), 0);
    size_t len;
    trace_sink_mem(sink, &bound[0]);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(vmsim_sink_write(sink, &evs[i], 1), 0);
        trace_sink_mem(sink, &bound[i + 1]);
    }
    const unsigned char *data = trace_sink_mem(sink, &len);
    assert_int_equal(bound[0], 8);

    size_t m = 0; /* records wholly inside the cut */
    for (size_t cut = 0; cut < len; cut++) {
        while (m < n && bound[m + 1] <= cut)
            m++;
        unsigned char *part = malloc(cut ? cut : 1);
        memcpy(part, data, cut);
        struct vmsim_event *back;
        struct vmsim_source_error err;
        long got = read_all(part, cut, "bin", cut % 3 == 0 ? 0 : cut % 7, &back, &err);
        if (cut < 8) {
            assert_int_equal(got, VMSIM_EPARSE);
        } else if (cut == bound[m]) {
            assert_int_equal(got, (long)m); /* a clean, shorter trace */
            assert_events(back, evs, m);
        } else {
            assert_int_equal(got, VMSIM_EPARSE);
            char where[64];
            snprintf(where, sizeof where, "<memory>: byte %zu", cut);
            assert_string_equal(err.where, where);
            assert_string_equal(err.found, "end of input");
            assert_events(back, evs, m); /* the whole records came first */
            assert_int_equal(back[m].type, 0xff);
        }
        free(back);
        free(part);
    }
    assert_int_equal(vmsim_sink_close(sink), 0);
    free(bound);
    free(evs);
}

static size_t encoded_size(const struct vmsim_event *evs, size_t n)
{
    struct vmsim_sink *sink;
    assert_int_equal(trace_sink_open_mem("bin", &sink), 0);
    assert_int_equal(vmsim_sink_write(sink, evs, n), 0);
    size_t len;
    trace_sink_mem(sink, &len);
    vmsim_sink_close(sink);
    return len;
}

static void test_compactness(void **state)
{
    (void)state;
    size_t n = 10000;
    struct vmsim_event *evs = calloc(n, sizeof *evs);
    /* sequential 8-byte reads: the first record carries pid, size and a
     * 7-byte delta (zz 0xfe0000000000 has 48 bits); every other one is a
     * single tag byte with the sequential bit */
    for (size_t i = 0; i < n; i++)
        evs[i] = (struct vmsim_event)EV_ACC(VMSIM_READ, 1, 0x7f0000000000ull + 8 * i, 8, 0);
    size_t len = encoded_size(evs, n);
    assert_int_equal(len, 8 + (1 + 1 + 1 + 7) + (n - 1));
    assert_true((double)(len - 8) / (double)n <= 3.0);
    print_message("sequential 8-byte accesses: %.3f bytes/access\n", (double)(len - 8) / (double)n);

    /* stride 64: tag + 2-byte delta (zz 128) */
    for (size_t i = 0; i < n; i++)
        evs[i].addr = 0x7f0000000000ull + 64 * i;
    len = encoded_size(evs, n);
    assert_int_equal(len, 8 + 10 + 3 * (n - 1));

    /* fetches interleaved with stack accesses: each stream stays local */
    for (size_t i = 0; i < n; i++)
        evs[i] = i % 2 ? (struct vmsim_event)EV_ACC(VMSIM_WRITE, 1,
                                                    0x1fff000700 - 8 * (i / 2 % 64), 8, 0)
                       : (struct vmsim_event)EV_ACC(VMSIM_FETCH, 1, 0x401000 + 4 * (i / 2), 4, 0);
    len = encoded_size(evs, n);
    assert_true((double)(len - 8) / (double)n <= 2.1);
    print_message("interleaved fetch/stack: %.3f bytes/access\n", (double)(len - 8) / (double)n);
    free(evs);
}

static void test_sink_rejects(void **state)
{
    (void)state;
    struct vmsim_sink *sink;
    assert_int_equal(trace_sink_open_mem("bin", &sink), 0);
    struct vmsim_event bad[] = {
        EV_ACC(4, 1, 0, 8, 0),
        EV_ACC(VMSIM_READ, 5, 0x1234, 0, 3), /* would change pid and cpu state */
        EV(VMSIM_EV_NTYPES, 0, 0, 1, 0, 0),
        EV(VMSIM_EV_MMAP, 32, 0, 1, 0, 4096),   /* the file bit is the coder's, not a kind */
        EV_MMAP(VMSIM_PROT_R, 1, 0, 4096, 0, 1), /* an offset without a file */
        EV(VMSIM_EV_MPROTECT, 0, 0, 1, 0, 0),
        EV(VMSIM_EV_MPROTECT, VMSIM_MAP_SUPERVISOR, 0, 1, 0, 4096),
        EV(VMSIM_EV_FORK, 0, 0, 5, 5, 0),
        EV(VMSIM_EV_FORK, 0, 0, 5, 1ull << 32, 0),
        EV(VMSIM_EV_MADVISE, VMSIM_ADV_NTYPES, 0, 1, 0, 4096),
        EV(VMSIM_EV_MADVISE, VMSIM_ADV_HUGEPAGE, 0, 1, 0, 0),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(vmsim_sink_write(sink, &bad[i], 1), VMSIM_EINVAL);
    /* nothing was written and the coder state is untouched */
    assert_int_equal(vmsim_sink_write(sink, hand_events, NHAND), 0);
    size_t len;
    const unsigned char *got = trace_sink_mem(sink, &len);
    assert_int_equal(len, sizeof hand_bytes);
    assert_memory_equal(got, hand_bytes, len);
    assert_int_equal(vmsim_sink_close(sink), 0);
}

static void test_file_round_trip(void **state)
{
    (void)state;
    char *path = temp_path(".vmt");
    struct vmsim_sink *sink;
    assert_int_equal(vmsim_sink_open(path, NULL, &sink), 0); /* .vmt: binary */
    assert_int_equal(vmsim_sink_write(sink, hand_events, NHAND), 0);
    assert_int_equal(vmsim_sink_close(sink), 0);
    size_t len;
    char *bytes = read_file(path, &len);
    assert_int_equal(len, sizeof hand_bytes);
    assert_memory_equal(bytes, hand_bytes, len);
    free(bytes);

    struct vmsim_source *src;
    struct vmsim_source_error err;
    assert_int_equal(vmsim_source_open_trace(path, NULL, &src, &err), 0);
    struct vmsim_event evs[64];
    assert_int_equal(vmsim_source_next(src, evs, 64), NHAND);
    assert_events(evs, hand_events, NHAND);
    assert_int_equal(vmsim_source_next(src, evs, 64), 0);
    assert_int_equal(vmsim_source_bytes(src), sizeof hand_bytes);
    vmsim_source_close(src);
    unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_encoding),
        cmocka_unit_test(test_malformed_records),
        cmocka_unit_test(test_malformed_process_records),
        cmocka_unit_test(test_version1_file),
        cmocka_unit_test(test_bad_header),
        cmocka_unit_test(test_random_round_trip),
        cmocka_unit_test(test_truncation_everywhere),
        cmocka_unit_test(test_compactness),
        cmocka_unit_test(test_sink_rejects),
        cmocka_unit_test(test_file_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
