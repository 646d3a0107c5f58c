/* Hexadecimal digits in text: the one parser of them, for every trace
 * reader, the /proc maps reader and the workload specs. Inline because the
 * line readers call it per field of every event; no locale, no errno, no
 * NUL needed (a length bounds the text). */
#ifndef VMSIM_UTIL_HEX_H
#define VMSIM_UTIL_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Value of a hexadecimal digit (either case), or -1. */
static inline int hex_digit(unsigned char c)
{
    if ((unsigned)(c - '0') < 10)
        return c - '0';
    c |= 0x20; /* ASCII lower case */
    if ((unsigned)(c - 'a') < 6)
        return c - 'a' + 10;
    return -1;
}

/* The hexadecimal digits at the start of s[0, n) (no prefix): returns how
 * many there are (0: none), *out their value mod 2^64, *over whether it
 * needed more than 64 bits. */
static inline size_t hex_span(const char *s, size_t n, uint64_t *out, bool *over)
{
    uint64_t v = 0;
    unsigned high = 0;
    size_t i = 0;
    for (int d; i < n && (d = hex_digit((unsigned char)s[i])) >= 0; i++) {
        high |= (unsigned)(v >> 60);
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    *over = high != 0;
    return i;
}

#endif
