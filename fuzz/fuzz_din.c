/* Fuzz the Dinero IV readers (din and xdin) and auto-detection: any bytes
 * must give events or an error with a line number, never a crash or an
 * overread. Whatever a reader accepts is pid 1 accesses of at least one
 * byte (din: 4-byte words), and it must survive its own writer and reader
 * unchanged except that the writer keeps no modify kind. */
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
        abort(); /* sticky, and says where, what was expected, what was found */
    if (got == 0 && vmsim_source_bytes(src) != size)
        abort(); /* a clean end consumed everything */
    vmsim_source_close(src);
    *out = evs;
    return n;
}

static void fuzz_format(const uint8_t *data, size_t size, const char *fmt, size_t chunk)
{
    struct vmsim_event *evs;
    size_t n = fuzz_read(data, size, fmt, chunk, &evs);
    bool din = strcmp(fmt, "din") == 0;
    for (size_t i = 0; i < n; i++) {
        const struct vmsim_event *e = &evs[i];
        if (e->type != VMSIM_EV_ACCESS || e->pid != 1 || e->cpu != 0 || e->len == 0 ||
            e->kind == VMSIM_MODIFY || (din && (e->len != 4 || e->addr % 4 != 0)))
            abort();
    }
    if (n > 0) {
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
    free(evs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t chunk = size % 5 == 0 ? 0 : size % 5 + 2;
    fuzz_format(data, size, "din", chunk);
    fuzz_format(data, size, "xdin", chunk);
    struct vmsim_event *evs;
    free((fuzz_read(data, size, "auto", chunk, &evs), evs));
    return 0;
}
