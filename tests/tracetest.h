/* Helpers for the trace reader tests (test_trace_din.c, test_trace_pin.c,
 * test_trace_champsim.c, test_trace_compress.c): read a whole memory block
 * through a reader in odd batch sizes, compare events, and compress a
 * block in memory with zlib, liblzma and libzstd themselves, so a test
 * needs no command-line tool. Header-only: every test is its own program. */
#ifndef VMSIM_TRACETEST_H
#define VMSIM_TRACETEST_H

#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "testutil.h"
#include "trace/formats.h"

#define ACC(k, a, l) {VMSIM_EV_ACCESS, (k), 0, 1, (a), (l), 0, 0}

/* Read everything from a memory block: the event count (events in *out,
 * free) or the error code with *err filled; the events before an error
 * are in *out too, their count in *before. At a clean end every byte
 * must have been consumed. */
static inline long tt_read(const void *data, size_t len, const char *fmt, size_t chunk,
                           struct vmsim_event **out, size_t *before,
                           struct vmsim_source_error *err)
{
    struct vmsim_source *src;
    *out = NULL;
    if (before)
        *before = 0;
    int r = trace_source_open_mem(data, len, fmt, chunk, &src, err);
    if (r < 0)
        return r;
    size_t cap = 64, n = 0;
    struct vmsim_event *evs = malloc(cap * sizeof *evs);
    long got;
    for (;;) {
        if (cap - n < 16) {
            cap *= 2;
            evs = realloc(evs, cap * sizeof *evs);
        }
        got = vmsim_source_next(src, evs + n, 1 + n % 5); /* odd batch sizes */
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    if (got < 0) {
        *err = *vmsim_source_error(src);
        assert_int_equal(vmsim_source_next(src, evs, 4), got); /* sticky */
    } else {
        assert_int_equal(vmsim_source_bytes(src), len);
    }
    vmsim_source_close(src);
    *out = evs;
    if (before)
        *before = n;
    return got < 0 ? got : (long)n;
}

static inline void tt_assert_events(const struct vmsim_event *got, const struct vmsim_event *want,
                                    size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (memcmp(&got[i], &want[i], sizeof got[i]) != 0)
            print_error("event %zu: got type %u kind %u cpu %u pid %u addr %#llx len %llu, "
                        "want kind %u addr %#llx len %llu\n",
                        i, got[i].type, got[i].kind, got[i].cpu, got[i].pid,
                        (unsigned long long)got[i].addr, (unsigned long long)got[i].len,
                        want[i].kind, (unsigned long long)want[i].addr,
                        (unsigned long long)want[i].len);
        assert_memory_equal(&got[i], &want[i], sizeof got[i]);
    }
}

/* Read data as fmt (with every chunk size of a few) and expect exactly
 * want[0, n). */
static inline void tt_expect(const void *data, size_t len, const char *fmt,
                             const struct vmsim_event *want, size_t n)
{
    static const size_t chunks[] = {0, 1, 3, 7, 64};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        struct vmsim_event *evs;
        struct vmsim_source_error err;
        long got = tt_read(data, len, fmt, chunks[c], &evs, NULL, &err);
        if (got < 0)
            print_error("%s: expected %s, found %s\n", err.where, err.expected, err.found);
        assert_int_equal(got, (long)n);
        tt_assert_events(evs, want, n);
        free(evs);
    }
}

/* Read data as fmt and expect an error whose where, expected and found
 * contain the given strings (NULL: not checked), after `before` events. */
static inline void tt_expect_error(const void *data, size_t len, const char *fmt, long code,
                                   size_t before, const char *where, const char *expected,
                                   const char *found)
{
    struct vmsim_event *evs;
    struct vmsim_source_error err;
    size_t n;
    long got = tt_read(data, len, fmt, 5, &evs, &n, &err);
    free(evs);
    if (got >= 0)
        print_error("no error: %ld events\n", got);
    assert_int_equal(got, code);
    if ((where && !strstr(err.where, where)) || (expected && !strstr(err.expected, expected)) ||
        (found && !strstr(err.found, found)) || n != before)
        print_error("got %zu events, then \"%s: expected %s, found %s\"\n", n, err.where,
                    err.expected, err.found);
    assert_int_equal(n, before);
    if (where)
        assert_non_null(strstr(err.where, where));
    if (expected)
        assert_non_null(strstr(err.expected, expected));
    if (found)
        assert_non_null(strstr(err.found, found));
}

/* ---- compression in memory -------------------------------------------------- */

enum tt_codec { TT_GZIP, TT_XZ, TT_ZSTD, TT_NCODECS };
static const char *const tt_codec_names[TT_NCODECS] = {"gzip", "xz", "zstd"};
static const char *const tt_codec_suffix[TT_NCODECS] = {".gz", ".xz", ".zst"};

/* data[0, len) compressed as one gzip member, xz stream or zstd frame
 * (malloc'd, size in *out_len). */
static inline unsigned char *tt_compress(enum tt_codec c, const void *data, size_t len,
                                         size_t *out_len)
{
    size_t cap = len + len / 2 + 1024;
    unsigned char *out = malloc(cap);
    assert_non_null(out);
    switch (c) {
    case TT_GZIP: {
        z_stream z;
        memset(&z, 0, sizeof z);
        assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
        z.next_in = (unsigned char *)(uintptr_t)data;
        z.avail_in = (uInt)len;
        z.next_out = out;
        z.avail_out = (uInt)cap;
        assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
        *out_len = z.total_out;
        deflateEnd(&z);
        break;
    }
    case TT_XZ: {
        size_t pos = 0;
        assert_int_equal(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL, data, len, out, &pos,
                                                 cap),
                         LZMA_OK);
        *out_len = pos;
        break;
    }
    case TT_ZSTD: {
        size_t r = ZSTD_compress(out, cap, data, len, 3);
        assert_false(ZSTD_isError(r));
        *out_len = r;
        break;
    }
    default:
        fail();
    }
    return out;
}

#endif
