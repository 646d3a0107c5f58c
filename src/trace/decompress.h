/* Transparent decompression under every trace reader: gzip (zlib), xz
 * (liblzma) and zstd (libzstd), recognised by their magic bytes, never by
 * the file name, and decoded as a stream into the input buffer (input.c),
 * so memory use stays a fixed few hundred KiB plus the decoder's window
 * whatever the size of the trace. docs/traces.md, "Compressed traces". */
#ifndef VMSIM_TRACE_DECOMPRESS_H
#define VMSIM_TRACE_DECOMPRESS_H

#include <stddef.h>
#include <stdint.h>

struct input;

enum decomp_kind { DECOMP_NONE, DECOMP_GZIP, DECOMP_XZ, DECOMP_ZSTD };

#define DECOMP_MAGIC_MAX 6 /* bytes decomp_sniff needs to decide (xz's magic) */

/* The compression the first len bytes of an input show, or DECOMP_NONE.
 * A prefix shorter than a magic never matches. */
enum decomp_kind decomp_sniff(const unsigned char *head, size_t len);

struct decomp;

/* A decoder of kind whose first compressed bytes are head[0, len) (the
 * bytes decomp_sniff looked at); it reads the rest with input_raw_read.
 * NULL when out of memory. */
struct decomp *decomp_open(enum decomp_kind kind, const unsigned char *head, size_t len);
void decomp_close(struct decomp *d);

/* Decode into dst[0, cap): the number of bytes produced (at least 1), 0 at
 * the clean end of the compressed data, VMSIM_EIO when a read fails (errno
 * in in->saved_errno) or VMSIM_EPARSE for corrupt or truncated data (then
 * decomp_fail describes it). */
long decomp_read(struct decomp *d, struct input *in, unsigned char *dst, size_t cap);

/* Compressed bytes the decoder has taken so far. */
uint64_t decomp_in_bytes(const struct decomp *d);

/* After VMSIM_EPARSE: what was expected and what was found, for the error
 * of the reader above (where comes from the input). */
const char *decomp_expected(const struct decomp *d);
const char *decomp_found(const struct decomp *d);

#endif
