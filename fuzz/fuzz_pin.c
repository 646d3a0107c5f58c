/* Fuzz the Intel Pin pinatrace reader and auto-detection: any bytes must
 * give events or an error with a line number, never a crash or an
 * overread. Accepted events are pid 1 reads and writes of at least one
 * byte, and they survive the pin writer and reader unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
        abort();
    if (got == 0 && vmsim_source_bytes(src) != size)
        abort();
    vmsim_source_close(src);
    *out = evs;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t chunk = size % 5 == 0 ? 0 : size % 5 + 2;
    struct vmsim_event *evs;
    size_t n = fuzz_read(data, size, "pin", chunk, &evs);
    for (size_t i = 0; i < n; i++)
        if (evs[i].type != VMSIM_EV_ACCESS || evs[i].pid != 1 || evs[i].cpu != 0 ||
            evs[i].len == 0 || (evs[i].kind != VMSIM_READ && evs[i].kind != VMSIM_WRITE))
            abort();
    if (n > 0) {
        struct vmsim_sink *sink;
        if (trace_sink_open_mem("pin", &sink) < 0 || vmsim_sink_write(sink, evs, n) < 0)
            abort();
        size_t len;
        const unsigned char *p = trace_sink_mem(sink, &len);
        struct vmsim_event *back;
        size_t m = fuzz_read(p, len, "pin", 0, &back);
        if (m != n || memcmp(back, evs, n * sizeof *evs) != 0)
            abort();
        free(back);
        vmsim_sink_close(sink);
    }
    free(evs);
    free((fuzz_read(data, size, "auto", chunk, &evs), evs));
    return 0;
}
