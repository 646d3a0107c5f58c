/* Wrappers around the source ops table: the one place that enforces the
 * contract (sticky errors, byte counts), so implementations stay simple. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "trace/source.h"

long vmsim_source_next(struct vmsim_source *src, struct vmsim_event *buf, size_t max)
{
    if (src->failed)
        return src->failed;
    if (max == 0)
        return 0;
    long n = src->ops->next(src, buf, max);
    if (n < 0) {
        src->failed = (int)n;
        return n;
    }
    if (src->pending) {
        /* the events before the error now, the error on the next call */
        src->failed = src->pending;
        if (n == 0)
            return src->failed;
    }
    return n;
}

const struct vmsim_source_error *vmsim_source_error(const struct vmsim_source *src)
{
    return &src->err;
}

uint64_t vmsim_source_bytes(const struct vmsim_source *src) { return src->bytes; }

uint64_t vmsim_source_total(const struct vmsim_source *src) { return src->total; }

int vmsim_source_where(const struct vmsim_source *src, char *buf, size_t len)
{
    if (!src->ops->where)
        return VMSIM_EUNSUPPORTED;
    src->ops->where(src, buf, len);
    return VMSIM_OK;
}

void vmsim_source_close(struct vmsim_source *src)
{
    if (src)
        src->ops->close(src);
}

int source_fail(struct vmsim_source_error *err, const char *expected, const char *found,
                size_t found_len, const char *where_fmt, ...)
{
    va_list ap;
    va_start(ap, where_fmt);
    vsnprintf(err->where, sizeof err->where, where_fmt, ap);
    va_end(ap);
    snprintf(err->expected, sizeof err->expected, "%s", expected);
    size_t j = 0;
    if (!found || found_len == 0) {
        snprintf(err->found, sizeof err->found, "end of input");
        return VMSIM_EPARSE;
    }
    err->found[j++] = '"';
    for (size_t i = 0; i < found_len && j + 6 < sizeof err->found; i++) {
        unsigned char c = (unsigned char)found[i];
        if (c == '\n')
            break;
        if (isprint(c) && c != '"' && c != '\\')
            err->found[j++] = (char)c;
        else
            j += (size_t)snprintf(err->found + j, sizeof err->found - j, "\\x%02x", c);
    }
    err->found[j++] = '"';
    err->found[j] = '\0';
    return VMSIM_EPARSE;
}
