/* The line readers' fast paths (trace/formats.h) against their full
 * parsers: a memory input handed out a byte at a time never has
 * LINE_FAST_MARGIN bytes ahead, so it is read by the full parsers alone;
 * read whole, the same bytes go through the fast path wherever it takes
 * them. Both must give the same events and the same error, word for word.
 * Compressed inputs are left out: where a corrupt stream is caught, in
 * compressed bytes, depends on how the input is handed over. Included by
 * the fuzz targets of the line formats. */
#ifndef VMSIM_FUZZ_PATHS_H
#define VMSIM_FUZZ_PATHS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/decompress.h"
#include "trace/formats.h"

/* Read data as fmt in chunks: the events, their count in *n, the error
 * (0: none) with *err. */
static inline struct vmsim_event *fuzz_paths_read(const void *data, size_t size, const char *fmt,
                                                  size_t chunk, size_t *n, long *status,
                                                  struct vmsim_source_error *err)
{
    struct vmsim_source *src;
    *n = 0;
    *status = trace_source_open_mem(data, size, fmt, chunk, &src, err);
    if (*status < 0)
        return NULL;
    size_t cap = 256;
    struct vmsim_event *evs = malloc(cap * sizeof *evs);
    long got;
    while ((got = vmsim_source_next(src, evs + *n, 64)) > 0) {
        *n += (size_t)got;
        if (cap - *n < 64)
            evs = realloc(evs, (cap *= 2) * sizeof *evs);
    }
    *status = got;
    *err = *vmsim_source_error(src);
    vmsim_source_close(src);
    return evs;
}

static inline void fuzz_paths_agree(const uint8_t *data, size_t size, const char *fmt)
{
    size_t n[2];
    long status[2];
    struct vmsim_source_error err[2];
    struct vmsim_event *evs[2];
    if (decomp_sniff(data, size) != DECOMP_NONE)
        return;
    for (int i = 0; i < 2; i++)
        evs[i] = fuzz_paths_read(data, size, fmt, i ? 1 : 0, &n[i], &status[i], &err[i]);
    if (n[0] != n[1] || status[0] != status[1] ||
        (n[0] && memcmp(evs[0], evs[1], n[0] * sizeof *evs[0]) != 0))
        abort();
    if (status[0] < 0 && (strcmp(err[0].where, err[1].where) != 0 ||
                          strcmp(err[0].expected, err[1].expected) != 0 ||
                          strcmp(err[0].found, err[1].found) != 0))
        abort();
    free(evs[0]);
    free(evs[1]);
}

#endif
