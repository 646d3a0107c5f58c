/* What the fuzz targets of the line formats (din, xdin, pin) share: read a
 * whole input, and check that accepted events survive the format's writer
 * and reader unchanged. Included by those targets only. */
#ifndef VMSIM_FUZZ_TRACE_H
#define VMSIM_FUZZ_TRACE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/formats.h"

/* Every event of data in format fmt, handed over chunk bytes at a time,
 * in *out (free it); returns the count. An error must be sticky and say
 * where, what was expected and what was found; a clean end must have
 * consumed every byte. */
static size_t fuzz_read(const void *data, size_t size, const char *fmt, size_t chunk,
                        struct vmsim_event **out)
{
    struct vmsim_source *src;
    struct vmsim_source_error err;
    *out = NULL;
    if (trace_source_open_mem(data, size, fmt, chunk, &src, &err) < 0)
        return 0;
    size_t n = 0, cap = 256;
    struct vmsim_event *evs = malloc(cap * sizeof *evs);
    long got;
    while ((got = vmsim_source_next(src, evs + n, (n % 7) + 1)) > 0) {
        n += (size_t)got;
        if (cap - n < 8)
            evs = realloc(evs, (cap *= 2) * sizeof *evs);
    }
    if (got < 0 && (vmsim_source_next(src, evs, 1) != got || !strchr(src->err.where, ':') ||
                    !src->err.expected[0] || !src->err.found[0]))
        abort(); /* sticky, and says where, what was expected, what was found */
    if (got == 0 && vmsim_source_bytes(src) != size)
        abort(); /* a clean end consumed everything */
    vmsim_source_close(src);
    *out = evs;
    return n;
}

/* The n events written in format fmt and read back are the same. */
static void fuzz_round_trip(const char *fmt, const struct vmsim_event *evs, size_t n)
{
    if (n == 0)
        return;
    struct vmsim_sink *sink;
    if (trace_sink_open_mem(fmt, &sink) < 0 || vmsim_sink_write(sink, evs, n) < 0)
        abort();
    size_t len;
    const unsigned char *p = trace_sink_mem(sink, &len);
    struct vmsim_event *back;
    size_t m = fuzz_read(p, len, fmt, 0, &back);
    if (m != n || memcmp(back, evs, n * sizeof *evs) != 0)
        abort();
    free(back);
    vmsim_sink_close(sink);
}

#endif
