/* The library's errors with a reason: the reason, formatted into the
 * caller's buffer (when it has room), and the code to return (the spec
 * parsers': VMSIM_EPARSE). */
#ifndef VMSIM_UTIL_FAIL_H
#define VMSIM_UTIL_FAIL_H

#include <stddef.h>

int why_fail(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same with the code to return given: a check's VMSIM_EINVAL, ... */
int why_code(char *why, size_t len, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
