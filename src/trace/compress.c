/* Compression under every trace writer, the mirror of decompress.c: gzip
 * (zlib), xz (liblzma) or zstd (libzstd), chosen by the output file's name
 * (".gz", ".xz", ".zst"), encoded as a stream as output.c flushes its
 * buffer, so memory use stays fixed whatever the length of the trace.
 *
 * The levels are the tools' defaults (gzip -6, xz -6) except zstd, at 3 as
 * `zstd` itself: a 65 MB lackey recording becomes about 2.5 MB at a cost
 * far below lackey's own. The stream is ended (gzip trailer, xz index,
 * zstd frame epilogue) by comp_finish when the output closes; a writer
 * that fails leaves a truncated stream, which every reader reports as such.
 * docs/traces.md, "Compressed traces". */
#include <errno.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "trace/compress.h"
#include "trace/input.h"
#include "vmsim/vmsim.h"

#define COMP_CHUNK (1u << 17) /* compressed bytes written per write(2) at most */

struct comp {
    enum decomp_kind kind;
    union {
        z_stream z;
        lzma_stream x;
        ZSTD_CStream *zs;
    } s;
    unsigned char out[COMP_CHUNK];
};

static const struct {
    const char *suffix;
    enum decomp_kind kind;
} comp_suffixes[] = {{".gz", DECOMP_GZIP}, {".xz", DECOMP_XZ}, {".zst", DECOMP_ZSTD}};

/* Compression formats vmsim does not write, named so that "t.vmt.bz2" is
 * refused rather than written as an uncompressed file under that name. */
static const char *const comp_unsupported[] = {".bz2", ".lz4", ".lzma", ".lz", ".Z", ".zip",
                                               ".7z", ".br", ".zstd", NULL};

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    const size_t k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

int comp_kind_of(const char *path, size_t *stem_len)
{
    const size_t n = path ? strlen(path) : 0;
    *stem_len = n;
    for (size_t i = 0; i < sizeof comp_suffixes / sizeof comp_suffixes[0]; i++)
        if (ends_with(path, n, comp_suffixes[i].suffix)) {
            *stem_len = n - strlen(comp_suffixes[i].suffix);
            return (int)comp_suffixes[i].kind;
        }
    for (const char *const *u = comp_unsupported; n && *u; u++)
        if (ends_with(path, n, *u))
            return VMSIM_EUNSUPPORTED;
    return DECOMP_NONE;
}

struct comp *comp_open(enum decomp_kind kind)
{
    struct comp *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->kind = kind;
    bool ok = false;
    switch (kind) {
    case DECOMP_GZIP:
        /* windowBits 15 + 16: a gzip header and trailer, not zlib's */
        ok = deflateInit2(&c->s.z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
        break;
    case DECOMP_XZ:
        c->s.x = (lzma_stream)LZMA_STREAM_INIT;
        ok = lzma_easy_encoder(&c->s.x, 6, LZMA_CHECK_CRC64) == LZMA_OK;
        break;
    case DECOMP_ZSTD:
        c->s.zs = ZSTD_createCStream();
        ok = c->s.zs && !ZSTD_isError(ZSTD_initCStream(c->s.zs, 3));
        break;
    default: break;
    }
    if (!ok) {
        comp_close(c);
        return NULL;
    }
    return c;
}

void comp_close(struct comp *c)
{
    if (!c)
        return;
    switch (c->kind) {
    case DECOMP_GZIP: deflateEnd(&c->s.z); break;
    case DECOMP_XZ: lzma_end(&c->s.x); break;
    case DECOMP_ZSTD: ZSTD_freeCStream(c->s.zs); break;
    default: break;
    }
    free(c);
}

static int comp_put(int fd, const unsigned char *p, size_t n, int *saved_errno)
{
    while (n) {
        const ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            *saved_errno = w < 0 ? errno : EIO;
            return VMSIM_EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return VMSIM_OK;
}

/* One step of the encoder over in[0, n) into c->out: consumed input, made
 * output, and whether the stream has ended (finish only). */
static int comp_step(struct comp *c, const unsigned char *in, size_t n, bool finish,
                     size_t *used, size_t *made, bool *ended)
{
    *ended = false;
    switch (c->kind) {
    case DECOMP_GZIP: {
        z_stream *z = &c->s.z;
        z->next_in = (Bytef *)(uintptr_t)in;
        z->avail_in = (uInt)n;
        z->next_out = c->out;
        z->avail_out = COMP_CHUNK;
        const int r = deflate(z, finish ? Z_FINISH : Z_NO_FLUSH);
        if (r == Z_STREAM_ERROR)
            return VMSIM_EIO;
        *used = n - z->avail_in;
        *made = COMP_CHUNK - z->avail_out;
        *ended = r == Z_STREAM_END;
        return VMSIM_OK;
    }
    case DECOMP_XZ: {
        lzma_stream *x = &c->s.x;
        x->next_in = in;
        x->avail_in = n;
        x->next_out = c->out;
        x->avail_out = COMP_CHUNK;
        const lzma_ret r = lzma_code(x, finish ? LZMA_FINISH : LZMA_RUN);
        if (r != LZMA_OK && r != LZMA_STREAM_END)
            return r == LZMA_MEM_ERROR ? VMSIM_ENOMEM : VMSIM_EIO;
        *used = n - x->avail_in;
        *made = COMP_CHUNK - x->avail_out;
        *ended = r == LZMA_STREAM_END;
        return VMSIM_OK;
    }
    default: {
        ZSTD_inBuffer zi = {in, n, 0};
        ZSTD_outBuffer zo = {c->out, COMP_CHUNK, 0};
        const size_t r = finish ? ZSTD_endStream(c->s.zs, &zo)
                                : ZSTD_compressStream(c->s.zs, &zo, &zi);
        if (ZSTD_isError(r))
            return VMSIM_EIO;
        *used = zi.pos;
        *made = zo.pos;
        *ended = finish && r == 0;
        return VMSIM_OK;
    }
    }
}

int comp_write(struct comp *c, int fd, const unsigned char *in, size_t n, int *saved_errno)
{
    while (n) {
        size_t used, made;
        bool ended;
        int r = comp_step(c, in, n, false, &used, &made, &ended);
        if (r == VMSIM_OK && made)
            r = comp_put(fd, c->out, made, saved_errno);
        if (r)
            return r;
        in += used;
        n -= used;
    }
    return VMSIM_OK;
}

int comp_finish(struct comp *c, int fd, int *saved_errno)
{
    for (bool ended = false; !ended;) {
        size_t used, made;
        int r = comp_step(c, NULL, 0, true, &used, &made, &ended);
        if (r == VMSIM_OK && made)
            r = comp_put(fd, c->out, made, saved_errno);
        if (r)
            return r;
    }
    return VMSIM_OK;
}
