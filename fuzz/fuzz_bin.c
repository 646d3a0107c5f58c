/* Fuzz the vmsim binary reader: any bytes (as given, and again after a
 * valid header so the fuzzer reaches the record decoder at once) must give
 * events or an error at a byte offset, never a crash or an overread.
 * Whatever it accepts must survive the binary writer and reader unchanged,
 * and re-encoding must be a fixed point. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t fuzz_read(const void *data, size_t size, size_t chunk, struct vmsim_event **out,
                        int *status)
{
    struct vmsim_source *src;
    struct vmsim_source_error err;
    *out = NULL;
    *status = trace_source_open_mem(data, size, "bin", chunk, &src, &err);
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
    if (got < 0 && !strstr(src->err.where, "byte ")) /* "byte N", "(de)compressed byte N" */
        abort();
    if (got == 0 && vmsim_source_bytes(src) != size)
        abort();
    vmsim_source_close(src);
    *out = evs;
    return n;
}

static unsigned char *fuzz_encode(const struct vmsim_event *evs, size_t n, size_t *len)
{
    struct vmsim_sink *sink;
    if (trace_sink_open_mem("bin", &sink) < 0 || vmsim_sink_write(sink, evs, n) < 0)
        abort();
    const unsigned char *p = trace_sink_mem(sink, len);
    unsigned char *copy = malloc(*len);
    memcpy(copy, p, *len);
    vmsim_sink_close(sink);
    return copy;
}

static void fuzz_one(const uint8_t *data, size_t size, size_t chunk)
{
    struct vmsim_event *evs, *back;
    int status;
    size_t n = fuzz_read(data, size, chunk, &evs, &status);
    if (n > 0) {
        size_t len, len2;
        unsigned char *enc = fuzz_encode(evs, n, &len);
        size_t m = fuzz_read(enc, len, 0, &back, &status);
        if (status != 0 || m != n || memcmp(back, evs, n * sizeof *evs) != 0)
            abort();
        unsigned char *enc2 = fuzz_encode(back, m, &len2);
        if (len2 != len || memcmp(enc, enc2, len) != 0)
            abort();
        free(enc2);
        free(back);
        free(enc);
    }
    free(evs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t chunk = size % 6 == 0 ? 0 : size % 6;
    fuzz_one(data, size, chunk);
    unsigned char *with_header = malloc(size + 8);
    memcpy(with_header, "VMSIMBT\x01", 8);
    if (size)
        memcpy(with_header + 8, data, size);
    fuzz_one(with_header, size + 8, chunk);
    free(with_header);
    return 0;
}
