/* Buffered byte input and output for the trace formats.
 *
 * An input reads a file descriptor (or, for tests and fuzzers, a memory
 * block handed out in small chunks to imitate short reads) into one large
 * buffer; readers parse in place from buf[pos, end). Memory use is the buffer,
 * whatever the size of the trace. Invariant: buf[0] is byte `base` of the
 * input, so the offset of buf[i] is base + i; bytes before pos are consumed.
 *
 * A compressed input (gzip, xz, zstd: by its magic bytes, decompress.h) is
 * decoded into the same buffer on the way in, so every reader parses the
 * decompressed stream and offsets count decompressed bytes; input_where
 * says so in messages.
 *
 * An output collects encoded bytes and writes them with write(2) when the
 * buffer fills, or grows in memory for the in-memory sinks of tests. */
#ifndef VMSIM_TRACE_INPUT_H
#define VMSIM_TRACE_INPUT_H

#include <stdbool.h>
#include <string.h>

#include "vmsim/event.h"

#define INPUT_BUF_SIZE (1u << 20)
#define INPUT_NAME_MAX 200

struct input {
    unsigned char *buf; /* cap bytes */
    size_t cap, pos, end;
    uint64_t base;      /* input offset of buf[0] */
    bool eof;           /* no more bytes after buf[end] */
    int fd;             /* -1 for a memory input */
    bool close_fd;      /* false for stdin */
    int saved_errno;    /* of a failed read */
    const unsigned char *mem; /* memory input: the block, what is left, chunk */
    size_t mem_len, mem_chunk;
    bool probed;        /* the first bytes were checked for a compression magic */
    bool raw_eof;       /* the file or memory block has no more bytes */
    bool fifo;          /* a pipe: reads are batched (input.c, input_raw_read) */
    bool fifo_short;    /* the last read from the pipe emptied it */
    uint64_t raw;       /* bytes read from the file or memory block */
    struct decomp *dec; /* NULL: plain input */
    int fail;           /* VMSIM_EIO (read) or VMSIM_EPARSE (corrupt compressed data) */
    char name[INPUT_NAME_MAX]; /* for messages: the path, or "<stdin>" */
};

/* Open path ("-" = standard input). On failure fills err and returns
 * VMSIM_ENOENT, VMSIM_EIO or VMSIM_ENOMEM. */
int input_open_file(struct input *in, const char *path, struct vmsim_source_error *err);
/* Read from memory, at most chunk bytes per refill (0: no limit). data must
 * outlive the input; it is not copied whole, so parsers see the same
 * boundaries as with a file. */
int input_open_mem(struct input *in, const void *data, size_t len, size_t chunk,
                   const char *name);
void input_close(struct input *in);

/* Keep the unconsumed bytes and read more after them. Returns the number of
 * bytes added, 0 at the end of input, VMSIM_EIO on a read error or
 * VMSIM_EPARSE for corrupt compressed data (input_fail_io describes both). */
int input_fill(struct input *in);
/* Make at least n bytes available unless the input ends first (n is cut
 * to the buffer size). Returns the bytes available or VMSIM_EIO. */
long input_need(struct input *in, size_t n);
/* Describe a failed input_fill in err and return its code (VMSIM_EIO, or
 * VMSIM_EPARSE for corrupt compressed data). */
int input_fail_io(struct input *in, struct vmsim_source_error *err);
/* Read up to n bytes of the file or memory block itself (no decoding):
 * the count, 0 at its end, VMSIM_EIO. For decompress.c. */
long input_raw_read(struct input *in, unsigned char *dst, size_t n);
/* After a parse error in a compressed file: was the text bad, or the
 * compressed data? Corrupt data decodes to garbage for a while before the
 * library can tell (gzip's CRC-32 ends the member, xz's check ends the
 * block), so a parser meets the garbage first and would blame a line. This
 * decodes the rest of the file, discarding it: VMSIM_EPARSE with err
 * describing the corrupt (or truncated) data at its compressed byte
 * offset, or 0 when the rest is sound and the parse error stands. Plain
 * inputs, standard input and pipes: 0 at once. The input is used up. */
int input_check_rest(struct input *in, struct vmsim_source_error *err);
/* "NAME: byte OFF", or "NAME: decompressed byte OFF" for a compressed
 * input, into where (the err->where of a byte-offset format). */
void input_where(const struct input *in, uint64_t off, char *where, size_t size);

static inline size_t input_avail(const struct input *in) { return in->end - in->pos; }
/* Offset of the next unparsed byte, in the (decompressed) stream. */
static inline uint64_t input_offset(const struct input *in) { return in->base + in->pos; }
/* Bytes of the file itself consumed, for progress against its size: the
 * offset for a plain input, the compressed bytes decoded so far otherwise. */
uint64_t input_consumed(const struct input *in);

/* The next line, without its '\n' (a '\r' before it is kept: callers strip
 * it). Returns 1 with *line and *len, 0 at the end of input, VMSIM_ERANGE when
 * the line is longer than max bytes (then *line and *len show its start), or
 * VMSIM_EIO. The line stays valid until the next call. Inline: the lackey
 * reader calls it per record and wants memchr over the big buffer only. */
static inline int input_line(struct input *in, size_t max, const char **line, size_t *len)
{
    size_t scanned = 0;
    for (;;) {
        const unsigned char *p = in->buf + in->pos;
        size_t n = in->end - in->pos;
        const unsigned char *nl = memchr(p + scanned, '\n', n - scanned);
        if (nl) {
            *line = (const char *)p;
            *len = (size_t)(nl - p);
            if (*len > max)
                return VMSIM_ERANGE;
            in->pos += *len + 1;
            return 1;
        }
        *line = (const char *)p;
        *len = n;
        if (n > max)
            return VMSIM_ERANGE;
        if (in->eof) {
            in->pos = in->end;
            return n > 0;
        }
        scanned = n;
        int r = input_fill(in);
        if (r < 0)
            return r;
    }
}

/* Discard the rest of the line at in->pos, its '\n' included, however
 * long: 0, or a negative VMSIM_E* code from reading. */
static inline int input_skip_line(struct input *in)
{
    for (;;) {
        const unsigned char *p = in->buf + in->pos;
        const unsigned char *nl = memchr(p, '\n', in->end - in->pos);
        if (nl) {
            in->pos += (size_t)(nl - p) + 1;
            return 0;
        }
        in->pos = in->end;
        if (in->eof)
            return 0;
        int r = input_fill(in);
        if (r < 0)
            return r;
    }
}

struct output {
    unsigned char *buf;
    size_t cap, len;
    int fd;          /* -1: grow in memory instead of writing */
    bool close_fd;   /* false for stdout */
    int err;         /* first error (sticky) */
    int saved_errno; /* of a failed write */
    struct comp *comp; /* compress what is flushed (compress.h); NULL: none */
};

#define OUTPUT_RESERVE_MAX 4096 /* most bytes one output_reserve may ask for */

/* Open path for writing ("-" = standard output); VMSIM_EIO etc. on failure,
 * errno kept. */
int output_open_file(struct output *o, const char *path);
int output_open_mem(struct output *o);
/* Room for n (<= OUTPUT_RESERVE_MAX) bytes at the returned pointer; NULL
 * after an error. Advance with o->len += used. */
unsigned char *output_reserve(struct output *o, size_t n);
int output_flush(struct output *o);
/* Flush, close; returns the first error. */
int output_close(struct output *o);

#endif
