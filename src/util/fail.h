/* The spec parsers' error: the reason, formatted into the caller's buffer
 * (when it has room), and VMSIM_EPARSE to return. */
#ifndef VMSIM_UTIL_FAIL_H
#define VMSIM_UTIL_FAIL_H

#include <stddef.h>

int why_fail(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
