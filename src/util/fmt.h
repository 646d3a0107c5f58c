/* Text helpers that both the library's messages and the reporters use. */
#ifndef VMSIM_UTIL_FMT_H
#define VMSIM_UTIL_FMT_H

#include <stddef.h>
#include <stdint.h>

/* A byte count as "12 KiB", "1.5 MiB" into buf; returns buf. */
const char *fmt_bytes(uint64_t bytes, char *buf, size_t len);
/* names (NULL-terminated) joined by ", ", the last by `last` when not NULL
 * ("a, b or c"); returns the length it wanted, as snprintf. */
size_t fmt_join(char *buf, size_t len, const char *const *names, const char *last);

#endif
