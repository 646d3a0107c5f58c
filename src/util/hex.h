/* Hexadecimal digits in text: the one parser of them, for every trace
 * reader, the /proc maps reader and the workload specs. Inline because the
 * line readers call it per field of every event; no locale, no errno, no
 * NUL needed (a length bounds the text). */
#ifndef VMSIM_UTIL_HEX_H
#define VMSIM_UTIL_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

/* ---- a word at a time --------------------------------------------------------
 * For text in a buffer that has bytes to spare after the number (the line
 * readers' fast path, trace/formats.h): eight bytes (sixteen with SSE2)
 * are loaded and classified at once, the count of digits is the position
 * of the first byte that is not one, and the digits are combined in three
 * steps of lanes doubling in width. No loop over the digits, so no branch
 * whose outcome depends on how long the number is (but one for a decimal
 * of one digit, the usual size or pid). hex_span stays the reference, and
 * the parser of the tail of the input, where no bytes are to spare. */

#define SWAR_ONES 0x0101010101010101ull  /* 1 in every byte */
#define SWAR_HIGHS 0x8080808080808080ull /* the high bit of every byte */

/* Eight bytes at s, s[0] in the low byte whatever the host's byte order. */
static inline uint64_t swar_load(const void *s)
{
    uint64_t w;
    memcpy(&w, s, sizeof w);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* The high bit of every byte of x (each below 0x80) that is >= lo (at most
 * 0x80): x + 0x80 - lo carries into bit 7 exactly then, and never out of
 * the byte (0x7f + 0x80 < 0x100). */
static inline uint64_t swar_ge(uint64_t x, unsigned lo)
{
    return (x + SWAR_ONES * (0x80u - lo)) & SWAR_HIGHS;
}

/* The high bit of every byte of w that is not an ASCII decimal digit. */
static inline uint64_t swar_nondec(uint64_t w)
{
    const uint64_t c = w & ~SWAR_HIGHS;
    const uint64_t dec = swar_ge(c, '0') & ~swar_ge(c, '9' + 1);
    return (~dec | w) & SWAR_HIGHS;
}

/* The high bit of every byte of w that is not a hexadecimal digit. Upper
 * case is folded into lower for the letters only: 0x10-0x19 | 0x20 would
 * pass for digits. */
static inline uint64_t swar_nonhex(uint64_t w)
{
    const uint64_t c = w & ~SWAR_HIGHS, l = c | SWAR_ONES * 0x20;
    const uint64_t dec = swar_ge(c, '0') & ~swar_ge(c, '9' + 1);
    const uint64_t alpha = swar_ge(l, 'a') & ~swar_ge(l, 'f' + 1);
    return (~(dec | alpha) | w) & SWAR_HIGHS;
}

/* Number of bytes before the first flagged one; mask must not be 0. */
static inline unsigned swar_count(uint64_t mask) { return (unsigned)__builtin_ctzll(mask) >> 3; }

/* Eight digit values, one per byte, the most significant in the low byte,
 * as one number in base b (10 or 16). Each step joins neighbouring lanes:
 * high lane value * b^width + low lane value; no lane overflows
 * (99 < 2^8, 9999 < 2^16 for base 10; 255, 65535 for base 16). */
static inline uint64_t swar_combine(uint64_t d, unsigned b)
{
    d = (d & 0x00ff00ff00ff00ffull) * b + (d >> 8 & 0x00ff00ff00ff00ffull);
    d = (d & 0x0000ffff0000ffffull) * (b * b) + (d >> 16 & 0x0000ffff0000ffffull);
    return (d & 0xffffffffull) * (uint64_t)(b * b) * (b * b) + (d >> 32);
}

/* The value of each hexadecimal digit byte of w: the low nibble, plus 9
 * for a letter (bit 6 set: 'A'-'F', 'a'-'f'). */
static inline uint64_t swar_hexvals(uint64_t w)
{
    return (w & SWAR_ONES * 0x0f) + (w >> 6 & SWAR_ONES) * 9;
}

/* The value of the k (1-8) leading digits of w in base b: shifted to the
 * top bytes, with zeros (leading zero digits) below them. */
static inline uint64_t swar_value(uint64_t vals, unsigned k, unsigned b)
{
    return swar_combine(vals << (64 - 8 * k), b);
}

/* The hexadecimal digits at the start of s, which must have 17 readable
 * bytes: their count, 0 to 16, with *out their value; 17 when there are
 * more than 16 digits (then *out is not set: use hex_span). Portable:
 * two words of eight. */
static inline unsigned hex_span_wide_swar(const unsigned char *s, uint64_t *out)
{
    const uint64_t w0 = swar_load(s), m0 = swar_nonhex(w0);
    if (m0) {
        const unsigned k = swar_count(m0);
        *out = k ? swar_value(swar_hexvals(w0), k, 16) : 0;
        return k;
    }
    const uint64_t hi = swar_combine(swar_hexvals(w0), 16);
    const uint64_t w1 = swar_load(s + 8), m1 = swar_nonhex(w1);
    if (m1) {
        const unsigned k = swar_count(m1);
        *out = k ? hi << 4 * k | swar_value(swar_hexvals(w1), k, 16) : hi;
        return 8 + k;
    }
    if (hex_digit(s[16]) >= 0)
        return 17;
    *out = hi << 32 | swar_combine(swar_hexvals(w1), 16);
    return 16;
}

#ifdef __SSE2__
/* The same, 16 bytes at once in the SSE2 every x86-64 has: a digit's value
 * is the smaller of c - '0' and (c | 0x20) - 'a' + 10 (unsigned bytes: the
 * other one wraps high); the 16 values are combined as in swar_combine,
 * two lanes of eight, which leaves the number at the top of 64 bits with
 * whatever followed it below: one shift drops that. */
static inline unsigned hex_span_wide_sse2(const unsigned char *s, uint64_t *out)
{
    const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
    const __m128i d = _mm_sub_epi8(x, _mm_set1_epi8('0'));
    const __m128i l = _mm_sub_epi8(_mm_or_si128(x, _mm_set1_epi8(0x20)), _mm_set1_epi8('a'));
    const __m128i dec = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
    const __m128i alpha = _mm_cmpeq_epi8(_mm_min_epu8(l, _mm_set1_epi8(5)), l);
    const unsigned valid = (unsigned)_mm_movemask_epi8(_mm_or_si128(dec, alpha));
    const unsigned k = (unsigned)__builtin_ctz(~valid); /* 16: all of them */
    if (k == 0 || (k == 16 && hex_digit(s[16]) >= 0))
        return k ? 17 : 0;
    /* the bytes from s[k] on hold junk: cut to a nibble, it is shifted out */
    __m128i v = _mm_min_epu8(d, _mm_add_epi8(l, _mm_set1_epi8(10)));
    v = _mm_and_si128(v, _mm_set1_epi8(0x0f));
    /* pairs of digits: first * 16 + second, in 16-bit lanes */
    v = _mm_add_epi16(_mm_and_si128(_mm_slli_epi16(v, 4), _mm_set1_epi16(0xf0)),
                      _mm_srli_epi16(v, 8));
    /* pairs of pairs in 32-bit lanes: first * 256 + second */
    v = _mm_madd_epi16(v, _mm_set1_epi32(0x00010100));
    /* eight digits in each 64-bit lane: first * 65536 + second */
    v = _mm_add_epi64(_mm_mul_epu32(v, _mm_set1_epi32(0x10000)), _mm_srli_epi64(v, 32));
    const uint64_t hi = (uint64_t)_mm_cvtsi128_si64(v);
    const uint64_t lo = (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(v, v));
    *out = (hi << 32 | lo) >> (4 * (16 - k));
    return k;
}
#endif

/* hex_span_wide_swar's contract, by the fastest way the target has. */
static inline unsigned hex_span_wide(const unsigned char *s, uint64_t *out)
{
#ifdef __SSE2__
    return hex_span_wide_sse2(s, out);
#else
    return hex_span_wide_swar(s, out);
#endif
}

/* The decimal digits at the start of s, which must have 8 readable bytes:
 * their count, 0 to 7, with *out their value; 8 when there are 8 or more
 * (then *out is not set). */
static inline unsigned dec_span_wide(const unsigned char *s, uint64_t *out)
{
    /* One digit first: access sizes, pids and cpus mostly have one, and the
     * word-wide path costs some 30 instructions */
    const unsigned d0 = (unsigned)(s[0] - '0'), d1 = (unsigned)(s[1] - '0');
    if (d1 > 9) {
        *out = d0;
        return d0 <= 9;
    }
    const uint64_t w = swar_load(s), m = swar_nondec(w);
    if (!m)
        return 8;
    const unsigned k = swar_count(m);
    *out = k ? swar_value(w & SWAR_ONES * 0x0f, k, 10) : 0;
    return k;
}

#endif
