/* Fuzz the decompression layer under the readers (src/trace/decompress.c):
 * any bytes, read as they are, must give events or an error, never a
 * crash, an overread or a hang, whether or not they start with a gzip, xz
 * or zstd magic. And, differentially: the same bytes compressed with each
 * codec must read exactly as the plain bytes do, events and error text
 * alike (a text line number is a line of the decompressed stream). */
#include <lzma.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "trace/decompress.h"
#include "trace/formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
    struct vmsim_event *ev;
    size_t n;
    long status;
    struct vmsim_source_error err;
};

static void fuzz_read(const void *data, size_t size, const char *fmt, size_t chunk,
                      struct outcome *o)
{
    struct vmsim_source *src;
    memset(o, 0, sizeof *o);
    o->status = trace_source_open_mem(data, size, fmt, chunk, &src, &o->err);
    if (o->status < 0)
        return;
    size_t cap = 256;
    o->ev = malloc(cap * sizeof *o->ev);
    long got;
    while ((got = vmsim_source_next(src, o->ev + o->n, 1 + o->n % 9)) > 0) {
        o->n += (size_t)got;
        if (cap - o->n < 10)
            o->ev = realloc(o->ev, (cap *= 2) * sizeof *o->ev);
    }
    o->status = got;
    if (got < 0) {
        o->err = *vmsim_source_error(src);
        if (vmsim_source_next(src, o->ev, 1) != got || !o->err.where[0] || !o->err.expected[0])
            abort();
    } else if (vmsim_source_bytes(src) != size) {
        abort(); /* a clean end consumed every (compressed) byte */
    }
    vmsim_source_close(src);
}

static unsigned char *fuzz_compress(int codec, const uint8_t *data, size_t size, size_t *len)
{
    size_t cap = size + size / 2 + 1024;
    unsigned char *out = malloc(cap);
    if (codec == 0) {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            abort();
        z.next_in = (unsigned char *)(uintptr_t)data;
        z.avail_in = (uInt)size;
        z.next_out = out;
        z.avail_out = (uInt)cap;
        if (deflate(&z, Z_FINISH) != Z_STREAM_END)
            abort();
        *len = z.total_out;
        deflateEnd(&z);
    } else if (codec == 1) {
        *len = 0;
        if (lzma_easy_buffer_encode(0, LZMA_CHECK_CRC32, NULL, data, size, out, len, cap) != LZMA_OK)
            abort();
    } else {
        *len = ZSTD_compress(out, cap, data, size, 1);
        if (ZSTD_isError(*len))
            abort();
    }
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t chunk = size % 5 == 0 ? 0 : size % 5 + 2;
    struct outcome plain, packed;
    fuzz_read(data, size, "auto", chunk, &plain);
    free(plain.ev);
    fuzz_read(data, size, "text", chunk, &plain);
    if (decomp_sniff(data, size) == DECOMP_NONE) {
        for (int codec = 0; codec < 3; codec++) {
            size_t len;
            unsigned char *z = fuzz_compress(codec, data, size, &len);
            fuzz_read(z, len, "text", chunk, &packed);
            if (packed.status != plain.status || packed.n != plain.n ||
                memcmp(packed.ev, plain.ev, plain.n * sizeof *plain.ev) != 0)
                abort();
            /* the same error text; only where may differ (bytes vs lines) */
            if (plain.status < 0 && (strcmp(plain.err.expected, packed.err.expected) != 0 ||
                                     strcmp(plain.err.found, packed.err.found) != 0 ||
                                     strcmp(plain.err.where, packed.err.where) != 0))
                abort();
            free(packed.ev);
            free(z);
        }
    }
    free(plain.ev);
    return 0;
}
