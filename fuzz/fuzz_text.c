/* Fuzz the vmsim text reader: any bytes, handed over in small chunks, must
 * give events or a parse error, never a crash or an overread. Whatever it
 * accepts must survive a trip through the text writer and back unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_paths.h"
#include "trace/formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read every event (up to a bound) into *out; returns the count. */
static size_t fuzz_read(const void *data, size_t size, const char *fmt, size_t chunk,
                        struct vmsim_event **out, int *status)
{
    struct vmsim_source *src;
    struct vmsim_source_error err;
    *out = NULL;
    *status = trace_source_open_mem(data, size, fmt, chunk, &src, &err);
    if (*status < 0)
        return 0;
    size_t n = 0, cap = 256;
    struct vmsim_event *evs = malloc(cap * sizeof *evs);
    long got;
    while ((got = vmsim_source_next(src, evs + n, cap - n)) > 0) {
        n += (size_t)got;
        if (n == cap)
            evs = realloc(evs, (cap *= 2) * sizeof *evs);
    }
    *status = (int)got;
    if (got < 0 && (!memchr(src->err.where, ':', sizeof src->err.where) || !src->err.expected[0]))
        abort(); /* an error must say where and what */
    vmsim_source_close(src);
    *out = evs;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t chunk = size % 7 == 0 ? 0 : size % 7; /* vary the refill boundaries */
    struct vmsim_event *evs;
    int status;
    size_t n = fuzz_read(data, size, "text", chunk, &evs, &status);
    if (n > 0) {
        struct vmsim_sink *sink;
        if (trace_sink_open_mem("text", &sink) < 0)
            abort();
        if (vmsim_sink_write(sink, evs, n) < 0)
            abort(); /* every event the reader makes, the writer can write */
        size_t len;
        const unsigned char *text = trace_sink_mem(sink, &len);
        struct vmsim_event *back;
        size_t m = fuzz_read(text, len, "auto", 0, &back, &status);
        if (status != 0 || m != n || memcmp(back, evs, n * sizeof *evs) != 0)
            abort();
        free(back);
        vmsim_sink_close(sink);
    }
    free(evs);
    fuzz_paths_agree(data, size, "text");
    return 0;
}
