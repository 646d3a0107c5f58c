/* Compression under every trace writer (compress.c), by the output's name:
 * ".gz" gzip, ".xz" xz, ".zst" zstd (level 3). docs/traces.md,
 * "Compressed traces". */
#ifndef VMSIM_TRACE_COMPRESS_H
#define VMSIM_TRACE_COMPRESS_H

#include <stddef.h>

#include "trace/decompress.h"

/* The compression path's name asks for: a decomp_kind (DECOMP_NONE for
 * none), or VMSIM_EUNSUPPORTED for the suffix of a compressor vmsim does
 * not write (".bz2", ".lz4", ...). *stem_len: the length of the name
 * without the compression suffix (".vmt.zst" is a .vmt). */
int comp_kind_of(const char *path, size_t *stem_len);

struct comp;

/* An encoder of kind (not DECOMP_NONE); NULL when out of memory. */
struct comp *comp_open(enum decomp_kind kind);
void comp_close(struct comp *c);
/* Encode in[0, n) and write what it makes to fd; VMSIM_EIO (errno in
 * *saved_errno) when a write fails. */
int comp_write(struct comp *c, int fd, const unsigned char *in, size_t n, int *saved_errno);
/* End the stream (trailer, index, frame end) and write it. */
int comp_finish(struct comp *c, int fd, int *saved_errno);

#endif
