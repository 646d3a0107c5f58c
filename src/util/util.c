/* Small shared helpers: error names, size parsing, the spec parsers'
 * error. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fail.h"
#include "util/fmt.h"
#include "vmsim/vmsim.h"

const char *vmsim_strerror(int err)
{
    switch (err) {
    case VMSIM_OK: return "success";
    case VMSIM_ENOMEM: return "out of host memory";
    case VMSIM_EINVAL: return "invalid argument";
    case VMSIM_EPARSE: return "malformed input";
    case VMSIM_EIO: return "input/output error";
    case VMSIM_ENOENT: return "not found";
    case VMSIM_EEXIST: return "already exists";
    case VMSIM_ERANGE: return "value out of range";
    case VMSIM_ENOFRAME: return "simulated physical memory exhausted";
    case VMSIM_EUNSUPPORTED: return "not supported";
    case VMSIM_EINTR: return "stopped";
    }
    return "unknown error";
}

/* "4096", "4k", "4K", "4KiB", "2m", "1g", "64GiB", "0x1000": binary units. */
int vmsim_parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-' || isspace((unsigned char)*s))
        return VMSIM_EPARSE;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s)
        return VMSIM_EPARSE;
    unsigned shift = 0;
    switch (tolower((unsigned char)*end)) {
    case 'k': shift = 10; break;
    case 'm': shift = 20; break;
    case 'g': shift = 30; break;
    case 't': shift = 40; break;
    case 'p': shift = 50; break;
    case '\0': break;
    default: return VMSIM_EPARSE;
    }
    if (shift) {
        end++;
        if (*end == 'i' || *end == 'I')
            end++;
        if (*end == 'b' || *end == 'B')
            end++;
        if (*end)
            return VMSIM_EPARSE;
        if (v > (UINT64_MAX >> shift))
            return VMSIM_ERANGE;
        v <<= shift;
    }
    *out = v;
    return VMSIM_OK;
}

static int why_va(char *why, size_t len, int code, const char *fmt, va_list ap)
{
    if (why && len)
        vsnprintf(why, len, fmt, ap);
    return code;
}

int why_fail(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const int rc = why_va(why, len, VMSIM_EPARSE, fmt, ap);
    va_end(ap);
    return rc;
}

int why_code(char *why, size_t len, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const int rc = why_va(why, len, code, fmt, ap);
    va_end(ap);
    return rc;
}

const char *fmt_bytes(uint64_t bytes, char *buf, size_t len)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    unsigned u = 0;
    double v = (double)bytes;
    while (v >= 1024 && u < 6) {
        v /= 1024;
        u++;
    }
    if (u == 0 || v == (double)(uint64_t)v)
        snprintf(buf, len, "%.0f %s", v, unit[u]);
    else
        snprintf(buf, len, "%.1f %s", v, unit[u]);
    return buf;
}

size_t fmt_join(char *buf, size_t len, const char *const *names, const char *last)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; names[i] && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s",
                              i == 0 ? "" : names[i + 1] || !last ? ", " : last, names[i]);
    return n;
}

const char *vmsim_version(void) { return VMSIM_VERSION_STRING; }
