/* The decoding layer between a trace file and the input buffer (input.c):
 * gzip (RFC 1952, zlib), xz (liblzma) and zstd (RFC 8878, libzstd).
 *
 * Invariants: the decoder reads compressed bytes into its own fixed buffer
 * (DECOMP_IN_SIZE) and writes decoded bytes straight into the caller's
 * buffer, so nothing grows with the size of the trace; the only other
 * memory is the library's window (32 KiB for gzip, up to DECOMP_XZ_MEMLIMIT
 * for xz, up to zstd's default 128 MiB window limit), fixed by the file's
 * header. A stream is done only when the library says so: input that ends
 * earlier is "truncated", never a quiet short trace. Concatenated streams
 * (several gzip members, xz streams, zstd frames, as `cat a.gz b.gz`
 * makes) decode as one, like the command-line tools do.
 *
 * Nothing here prints or aborts: corrupt data becomes VMSIM_EPARSE with an
 * expected/found pair, and the caller (input.c) adds where. */
#include "trace/decompress.h"

#include <lzma.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "trace/input.h"

#define DECOMP_IN_SIZE (128u << 10)
/* xz -9 needs a 64 MiB dictionary; a header asking for far more than any
 * preset is more likely corrupt than real. */
#define DECOMP_XZ_MEMLIMIT (512ull << 20)

static const unsigned char gzip_magic[] = {0x1f, 0x8b};
static const unsigned char xz_magic[] = {0xfd, '7', 'z', 'X', 'Z', 0x00};
static const unsigned char zstd_magic[] = {0x28, 0xb5, 0x2f, 0xfd};

struct decomp {
    enum decomp_kind kind;
    unsigned char *in; /* DECOMP_IN_SIZE bytes; [in_pos, in_len) not yet decoded */
    size_t in_pos, in_len;
    bool raw_eof;   /* the compressed input has ended */
    bool done;      /* the last stream ended cleanly with nothing after it */
    bool between;   /* gzip: a member ended; another may follow */
    bool frame_end; /* zstd: the last call finished a frame */
    int pending;    /* an error found in the call that also made output */
    uint64_t in_total, out_total;
    union {
        z_stream z;
        lzma_stream x;
        ZSTD_DStream *zs;
    } s;
    char expected[96];
    char found[128];
};

enum decomp_kind decomp_sniff(const unsigned char *head, size_t len)
{
    if (len >= sizeof gzip_magic && memcmp(head, gzip_magic, sizeof gzip_magic) == 0)
        return DECOMP_GZIP;
    if (len >= sizeof xz_magic && memcmp(head, xz_magic, sizeof xz_magic) == 0)
        return DECOMP_XZ;
    if (len >= sizeof zstd_magic && memcmp(head, zstd_magic, sizeof zstd_magic) == 0)
        return DECOMP_ZSTD;
    return DECOMP_NONE;
}

static const char *decomp_name(enum decomp_kind kind)
{
    switch (kind) {
    case DECOMP_GZIP: return "gzip";
    case DECOMP_XZ: return "xz";
    case DECOMP_ZSTD: return "zstd";
    case DECOMP_NONE: break;
    }
    return "plain";
}

struct decomp *decomp_open(enum decomp_kind kind, const unsigned char *head, size_t len)
{
    struct decomp *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->kind = kind;
    d->in = malloc(DECOMP_IN_SIZE);
    if (!d->in)
        goto fail;
    memcpy(d->in, head, len); /* len <= DECOMP_MAGIC_MAX */
    d->in_len = len;
    switch (kind) {
    case DECOMP_GZIP:
        /* 15 + 16: a 32 KiB window, gzip header and trailer (not zlib's) */
        if (inflateInit2(&d->s.z, 15 + 16) != Z_OK)
            goto fail;
        break;
    case DECOMP_XZ:
        d->s.x = (lzma_stream)LZMA_STREAM_INIT;
        if (lzma_stream_decoder(&d->s.x, DECOMP_XZ_MEMLIMIT, LZMA_CONCATENATED) != LZMA_OK)
            goto fail;
        break;
    case DECOMP_ZSTD:
        d->s.zs = ZSTD_createDStream();
        if (!d->s.zs)
            goto fail;
        break;
    case DECOMP_NONE:
        goto fail;
    }
    return d;
fail:
    free(d->in);
    free(d);
    return NULL;
}

void decomp_close(struct decomp *d)
{
    if (!d)
        return;
    switch (d->kind) {
    case DECOMP_GZIP: inflateEnd(&d->s.z); break;
    case DECOMP_XZ: lzma_end(&d->s.x); break;
    case DECOMP_ZSTD: ZSTD_freeDStream(d->s.zs); break;
    case DECOMP_NONE: break;
    }
    free(d->in);
    free(d);
}

uint64_t decomp_in_bytes(const struct decomp *d) { return d->in_total; }
const char *decomp_expected(const struct decomp *d) { return d->expected; }
const char *decomp_found(const struct decomp *d) { return d->found; }

static long decomp_corrupt(struct decomp *d, const char *what)
{
    snprintf(d->expected, sizeof d->expected, "valid %s data", decomp_name(d->kind));
    snprintf(d->found, sizeof d->found, "corrupt data (%s) after %llu decompressed bytes", what,
             (unsigned long long)d->out_total);
    return VMSIM_EPARSE;
}

static long decomp_truncated(struct decomp *d)
{
    snprintf(d->expected, sizeof d->expected, "the rest of the %s stream", decomp_name(d->kind));
    snprintf(d->found, sizeof d->found,
             "end of input (the compressed data is cut short after %llu decompressed bytes)",
             (unsigned long long)d->out_total);
    return VMSIM_EPARSE;
}

/* An error e found by a call that also decoded made bytes: those bytes
 * first (the reader gets the events before the error), e on the next call. */
static long decomp_fail_after(struct decomp *d, size_t made, long e)
{
    if (made == 0)
        return e;
    d->pending = (int)e;
    return (long)made;
}

/* Make compressed bytes available unless the input has ended: 0, or a
 * read error. */
static int decomp_refill(struct decomp *d, struct input *in)
{
    if (d->in_pos < d->in_len || d->raw_eof)
        return 0;
    long n = input_raw_read(in, d->in, DECOMP_IN_SIZE);
    if (n < 0)
        return (int)n;
    d->in_pos = 0;
    d->in_len = (size_t)n;
    if (n == 0)
        d->raw_eof = true;
    return 0;
}

/* One decoding step of each library: bytes produced (maybe 0), or an
 * error. Sets d->done at the clean end. */
static long decomp_step_gzip(struct decomp *d, unsigned char *dst, size_t cap)
{
    z_stream *z = &d->s.z;
    if (d->between) {
        if (d->in_pos == d->in_len) {
            if (d->raw_eof)
                d->done = true;
            return 0;
        }
        if (d->in[d->in_pos] != gzip_magic[0]) {
            snprintf(d->expected, sizeof d->expected,
                     "another gzip member (1f 8b) or the end of input");
            snprintf(d->found, sizeof d->found, "byte 0x%02x after %llu decompressed bytes",
                     d->in[d->in_pos], (unsigned long long)d->out_total);
            return VMSIM_EPARSE;
        }
        if (inflateReset(z) != Z_OK)
            return decomp_corrupt(d, "inflateReset failed");
        d->between = false;
    }
    z->next_in = d->in + d->in_pos;
    z->avail_in = (uInt)(d->in_len - d->in_pos);
    z->next_out = dst;
    z->avail_out = (uInt)(cap > UINT32_MAX ? UINT32_MAX : cap);
    int r = inflate(z, Z_NO_FLUSH);
    size_t used = (size_t)(z->next_in - (d->in + d->in_pos));
    size_t made = (size_t)(z->next_out - dst);
    d->out_total += made;
    d->in_pos += used;
    d->in_total += used;
    switch (r) {
    case Z_OK:
        return (long)made;
    case Z_STREAM_END:
        d->between = true;
        return (long)made;
    case Z_BUF_ERROR: /* no progress possible: needs input */
        if (d->raw_eof && d->in_pos == d->in_len)
            return decomp_truncated(d);
        return (long)made;
    case Z_MEM_ERROR:
        return decomp_fail_after(d, made, decomp_corrupt(d, "out of memory"));
    default:
        return decomp_fail_after(d, made, decomp_corrupt(d, z->msg ? z->msg : "zlib error"));
    }
}

static long decomp_step_xz(struct decomp *d, unsigned char *dst, size_t cap)
{
    lzma_stream *x = &d->s.x;
    x->next_in = d->in + d->in_pos;
    x->avail_in = d->in_len - d->in_pos;
    x->next_out = dst;
    x->avail_out = cap;
    lzma_ret r = lzma_code(x, d->raw_eof ? LZMA_FINISH : LZMA_RUN);
    size_t used = (size_t)(x->next_in - (d->in + d->in_pos));
    size_t made = (size_t)(x->next_out - dst);
    d->out_total += made;
    d->in_pos += used;
    d->in_total += used;
    switch (r) {
    case LZMA_OK:
        return (long)made;
    case LZMA_STREAM_END:
        d->done = true;
        return (long)made;
    case LZMA_BUF_ERROR:
        if (d->raw_eof)
            return decomp_fail_after(d, made, decomp_truncated(d));
        return (long)made;
    case LZMA_MEM_ERROR:
        return decomp_fail_after(d, made, decomp_corrupt(d, "out of memory"));
    case LZMA_MEMLIMIT_ERROR:
        return decomp_fail_after(
            d, made, decomp_corrupt(d, "the stream asks for more than 512 MiB of decoder memory"));
    case LZMA_FORMAT_ERROR:
        return decomp_fail_after(d, made, decomp_corrupt(d, "not the xz format"));
    case LZMA_OPTIONS_ERROR:
        return decomp_fail_after(d, made, decomp_corrupt(d, "unsupported options"));
    case LZMA_DATA_ERROR:
        return decomp_fail_after(d, made, decomp_corrupt(d, "data error"));
    default:
        return decomp_fail_after(d, made, decomp_corrupt(d, "liblzma error"));
    }
}

static long decomp_step_zstd(struct decomp *d, unsigned char *dst, size_t cap)
{
    bool drained = d->in_pos == d->in_len && d->raw_eof;
    if (drained && d->frame_end) {
        d->done = true;
        return 0;
    }
    /* Called even without input: the decoder may still hold output. */
    ZSTD_inBuffer zi = {d->in, d->in_len, d->in_pos};
    ZSTD_outBuffer zo = {dst, cap, 0};
    size_t r = ZSTD_decompressStream(d->s.zs, &zo, &zi);
    d->in_total += zi.pos - d->in_pos;
    d->in_pos = zi.pos;
    d->out_total += zo.pos;
    if (ZSTD_isError(r))
        return decomp_fail_after(d, zo.pos, decomp_corrupt(d, ZSTD_getErrorName(r)));
    d->frame_end = r == 0; /* a frame is complete and flushed */
    if (zo.pos == 0 && drained && !d->frame_end)
        return decomp_truncated(d);
    return (long)zo.pos;
}

long decomp_read(struct decomp *d, struct input *in, unsigned char *dst, size_t cap)
{
    unsigned stuck = 0;
    if (d->pending)
        return d->pending;
    while (!d->done) {
        int e = decomp_refill(d, in);
        if (e < 0)
            return e;
        size_t before_in = d->in_pos;
        bool before_between = d->between;
        long made;
        switch (d->kind) {
        case DECOMP_GZIP: made = decomp_step_gzip(d, dst, cap); break;
        case DECOMP_XZ: made = decomp_step_xz(d, dst, cap); break;
        default: made = decomp_step_zstd(d, dst, cap); break;
        }
        if (made < 0)
            return made;
        if (made > 0)
            return made;
        if (d->in_pos != before_in || d->between != before_between || d->in_pos == d->in_len) {
            stuck = 0; /* progress, or more input to fetch */
            if (d->raw_eof && d->in_pos == d->in_len && d->in_pos == before_in && !d->done &&
                !d->between && d->kind != DECOMP_ZSTD)
                return decomp_truncated(d); /* no more input will come */
        } else if (++stuck > 2) {
            return decomp_corrupt(d, "the decoder makes no progress");
        }
    }
    return 0;
}
