/* The base of every workload source (trace reader or generator): an ops
 * table plus common state, embedded first in each implementation. Callers go
 * through the vmsim_source_* wrappers in source.c. */
#ifndef VMSIM_TRACE_SOURCE_H
#define VMSIM_TRACE_SOURCE_H

#include <stdarg.h>

#include "vmsim/event.h"

struct source_ops {
    const char *name;
    /* Fill up to max events; return the count (0 at the end). On bad input,
     * fill src->err, set src->pending to the negative VMSIM_E* code and
     * return the events parsed before it: the wrapper delivers them first,
     * then the error. (A negative return is an error at once.) */
    long (*next)(struct vmsim_source *src, struct vmsim_event *buf, size_t max);
    void (*close)(struct vmsim_source *src); /* frees src itself too */
    /* Optional: the place of the last event delivered, as "FILE:LINE"
     * (the line readers) or "FILE: byte N", its record's offset (bin);
     * NULL where a place would mean nothing. */
    void (*where)(const struct vmsim_source *src, char *buf, size_t len);
};

struct vmsim_source {
    const struct source_ops *ops;
    struct vmsim_source_error err;
    uint64_t bytes; /* input bytes consumed */
    uint64_t total; /* access events delivered in all; 0: unknown (set at open) */
    int pending;    /* error found after the events of the last call */
    int failed;     /* sticky: once an error is returned, next() repeats it */
};

/* Record an error: where (printf format), what was expected, what was found
 * (found is made printable and cut to fit). Returns VMSIM_EPARSE. */
int source_fail(struct vmsim_source_error *err, const char *expected, const char *found,
                size_t found_len, const char *where_fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
