/* Buffered input and output for the trace readers and writers (input.h).
 * Reads go straight into one large buffer with read(2): no stdio, no copy
 * per line. A memory input hands out its block in chunks so that tests and
 * fuzzers exercise the same refill boundaries as a pipe. The first fill
 * looks at the first bytes for a compression magic; a compressed input is
 * then decoded into the buffer (decompress.c), a plain one read as before. */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include "trace/input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "trace/compress.h"
#include "trace/decompress.h"

#define INPUT_MEM_MIN_BUF (16u << 10)

static void input_name(struct input *in, const char *name)
{
    snprintf(in->name, sizeof in->name, "%s", name);
}

static int input_alloc(struct input *in, size_t cap)
{
    in->cap = cap;
    in->buf = malloc(in->cap);
    return in->buf ? VMSIM_OK : VMSIM_ENOMEM;
}

/* Reading a pipe whose writer is slow (valgrind's lackey writes a few
 * hundred bytes at a time): each write would wake the reader for a few
 * lines, about two context switches per write (1.9 M for a 65 MB
 * recording). After a read that left the pipe empty, wait a little so that
 * the next read takes what many writes left; a 1 MiB pipe lets the writer
 * go on meanwhile. A fast writer fills the pipe and is never waited for. */
#define INPUT_PIPE_SIZE (1 << 20)
#define INPUT_PIPE_WAIT_NS 2000000 /* 2 ms: at lackey's ~10 MB/s, ~20 KB a read */

int input_open_file(struct input *in, const char *path, struct vmsim_source_error *err)
{
    memset(in, 0, sizeof *in);
    in->fd = -1;
    if (strcmp(path, "-") == 0) {
        input_name(in, "<stdin>");
        in->fd = STDIN_FILENO;
    } else {
        input_name(in, path);
        in->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (in->fd < 0) {
            int e = errno;
            snprintf(err->where, sizeof err->where, "%s", path);
            snprintf(err->expected, sizeof err->expected, "a readable trace file");
            snprintf(err->found, sizeof err->found, "%s", strerror(e));
            return e == ENOENT ? VMSIM_ENOENT : VMSIM_EIO;
        }
        in->close_fd = true;
    }
    struct stat sb;
    if (fstat(in->fd, &sb) == 0 && S_ISFIFO(sb.st_mode)) {
        in->fifo = true;
#ifdef F_SETPIPE_SZ
        fcntl(in->fd, F_SETPIPE_SZ, INPUT_PIPE_SIZE); /* best effort: the limit may be lower */
#endif
    }
    if (input_alloc(in, INPUT_BUF_SIZE) < 0) {
        input_close(in);
        snprintf(err->where, sizeof err->where, "%s", path);
        snprintf(err->expected, sizeof err->expected, "memory for the input buffer");
        snprintf(err->found, sizeof err->found, "out of memory");
        return VMSIM_ENOMEM;
    }
    return VMSIM_OK;
}

int input_open_mem(struct input *in, const void *data, size_t len, size_t chunk,
                   const char *name)
{
    memset(in, 0, sizeof *in);
    in->fd = -1;
    in->mem = data;
    in->mem_len = len;
    in->mem_chunk = chunk ? chunk : (size_t)-1;
    input_name(in, name ? name : "<memory>");
    /* Small blocks get a small buffer (fuzzers open thousands a second),
     * still far above the longest line a text reader accepts. */
    size_t cap = len < INPUT_BUF_SIZE ? len + 1 : INPUT_BUF_SIZE;
    return input_alloc(in, cap < INPUT_MEM_MIN_BUF ? INPUT_MEM_MIN_BUF : cap);
}

void input_close(struct input *in)
{
    if (in->close_fd && in->fd >= 0)
        close(in->fd);
    in->fd = -1;
    free(in->buf);
    in->buf = NULL;
    decomp_close(in->dec);
    in->dec = NULL;
}

long input_raw_read(struct input *in, unsigned char *dst, size_t room)
{
    if (in->raw_eof || room == 0)
        return 0;
    if (in->fd < 0) {
        size_t n = in->mem_len < room ? in->mem_len : room;
        if (n > in->mem_chunk)
            n = in->mem_chunk;
        memcpy(dst, in->mem, n);
        in->mem += n;
        in->mem_len -= n;
        in->raw += n;
        if (n == 0)
            in->raw_eof = true;
        return (long)n;
    }
    if (in->fifo && in->fifo_short) {
        /* The writer is slower than we read: let the pipe fill before
         * waking again, rather than once per write (docs/traces.md, "Reading
         * from a pipe") */
        const struct timespec wait = {0, INPUT_PIPE_WAIT_NS};
        nanosleep(&wait, NULL);
    }
    for (;;) {
        ssize_t n = read(in->fd, dst, room);
        if (n > 0) {
            in->raw += (uint64_t)n;
            in->fifo_short = (size_t)n < room && (size_t)n < INPUT_PIPE_SIZE / 4;
            return (long)n;
        }
        if (n == 0) {
            in->raw_eof = true; /* a terminal's ^D is not read past */
            return 0;
        }
        if (errno == EINTR)
            continue;
        in->saved_errno = errno;
        return VMSIM_EIO;
    }
}

/* The first fill: read the first bytes (a pipe or a chunked memory block
 * may hand them out one by one) and decide whether to decode. */
static int input_probe(struct input *in)
{
    unsigned char head[DECOMP_MAGIC_MAX];
    size_t n = 0;
    in->probed = true;
    while (n < sizeof head) {
        long r = input_raw_read(in, head + n, sizeof head - n);
        if (r < 0)
            return in->fail = (int)r;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    enum decomp_kind kind = decomp_sniff(head, n);
    if (kind == DECOMP_NONE) {
        memcpy(in->buf + in->end, head, n); /* the buffer is empty and far larger */
        in->end += n;
        return 0;
    }
    in->dec = decomp_open(kind, head, n);
    if (!in->dec) {
        in->saved_errno = ENOMEM;
        return in->fail = VMSIM_EIO;
    }
    return 0;
}

int input_fill(struct input *in)
{
    if (in->eof)
        return 0;
    if (in->fail)
        return in->fail;
    if (in->pos > 0) {
        size_t keep = in->end - in->pos;
        memmove(in->buf, in->buf + in->pos, keep);
        in->base += in->pos;
        in->pos = 0;
        in->end = keep;
    }
    size_t before = in->end;
    if (!in->probed) {
        int r = input_probe(in);
        if (r < 0)
            return r;
    }
    size_t room = in->cap - in->end;
    if (room == 0)
        return (int)(in->end - before); /* callers never ask for more than the buffer holds */
    long n = in->dec ? decomp_read(in->dec, in, in->buf + in->end, room)
                     : input_raw_read(in, in->buf + in->end, room);
    if (n < 0)
        return in->fail = (int)n;
    in->end += (size_t)n;
    if (in->end == before)
        in->eof = true;
    return (int)(in->end - before);
}

long input_need(struct input *in, size_t n)
{
    if (n > in->cap)
        n = in->cap;
    while (input_avail(in) < n && !in->eof) {
        int r = input_fill(in);
        if (r < 0)
            return r;
    }
    return (long)input_avail(in);
}

int input_fail_io(struct input *in, struct vmsim_source_error *err)
{
    if (in->fail == VMSIM_EPARSE && in->dec) {
        snprintf(err->where, sizeof err->where, "%s: compressed byte %llu", in->name,
                 (unsigned long long)decomp_in_bytes(in->dec));
        snprintf(err->expected, sizeof err->expected, "%s", decomp_expected(in->dec));
        snprintf(err->found, sizeof err->found, "%s", decomp_found(in->dec));
        return VMSIM_EPARSE;
    }
    snprintf(err->where, sizeof err->where, "%s: byte %llu", in->name,
             (unsigned long long)in->raw);
    snprintf(err->expected, sizeof err->expected, "more input");
    snprintf(err->found, sizeof err->found, "read error: %s", strerror(in->saved_errno));
    return VMSIM_EIO;
}

int input_check_rest(struct input *in, struct vmsim_source_error *err)
{
    if (!in->dec)
        return 0;
    struct stat sb;
    if (in->fd >= 0 && (fstat(in->fd, &sb) != 0 || !S_ISREG(sb.st_mode)))
        return 0; /* a pipe: draining it would wait on its writer */
    for (;;) {
        in->pos = in->end; /* discard: only the decoder's verdict matters */
        const int r = input_fill(in);
        if (r < 0)
            return r == VMSIM_EPARSE ? input_fail_io(in, err) : 0;
        if (r == 0 && in->eof)
            return 0;
    }
}

void input_where(const struct input *in, uint64_t off, char *where, size_t size)
{
    snprintf(where, size, "%s: %sbyte %llu", in->name, in->dec ? "decompressed " : "",
             (unsigned long long)off);
}

uint64_t input_consumed(const struct input *in)
{
    return in->dec ? decomp_in_bytes(in->dec) : in->base + in->pos;
}

/* ---- output ------------------------------------------------------------- */

#define OUTPUT_BUF_SIZE (1u << 18)

int output_open_file(struct output *o, const char *path)
{
    memset(o, 0, sizeof *o);
    if (strcmp(path, "-") == 0) {
        o->fd = STDOUT_FILENO;
    } else {
        o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (o->fd < 0)
            return errno == ENOENT ? VMSIM_ENOENT : VMSIM_EIO;
        o->close_fd = true;
    }
    o->cap = OUTPUT_BUF_SIZE;
    o->buf = malloc(o->cap);
    if (!o->buf) {
        output_close(o);
        return VMSIM_ENOMEM;
    }
    return VMSIM_OK;
}

int output_open_mem(struct output *o)
{
    memset(o, 0, sizeof *o);
    o->fd = -1;
    o->cap = 4096;
    o->buf = malloc(o->cap);
    return o->buf ? VMSIM_OK : VMSIM_ENOMEM;
}

int output_flush(struct output *o)
{
    if (o->err || o->fd < 0)
        return o->err;
    if (o->comp) {
        o->err = comp_write(o->comp, o->fd, o->buf, o->len, &o->saved_errno);
        o->len = 0;
        return o->err;
    }
    size_t done = 0;
    while (done < o->len) {
        ssize_t n = write(o->fd, o->buf + done, o->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            o->saved_errno = n < 0 ? errno : EIO;
            o->err = VMSIM_EIO;
            return o->err;
        }
        done += (size_t)n;
    }
    o->len = 0;
    return VMSIM_OK;
}

unsigned char *output_reserve(struct output *o, size_t n)
{
    if (o->err)
        return NULL;
    if (o->cap - o->len >= n)
        return o->buf + o->len;
    if (o->fd >= 0) {
        if (output_flush(o) < 0)
            return NULL;
        return o->buf; /* cap >= OUTPUT_RESERVE_MAX >= n */
    }
    size_t cap = o->cap;
    while (cap - o->len < n)
        cap *= 2;
    unsigned char *b = realloc(o->buf, cap);
    if (!b) {
        o->err = VMSIM_ENOMEM;
        return NULL;
    }
    o->buf = b;
    o->cap = cap;
    return o->buf + o->len;
}

int output_close(struct output *o)
{
    int r = output_flush(o);
    if (o->comp) {
        if (r == VMSIM_OK && o->fd >= 0)
            r = o->err = comp_finish(o->comp, o->fd, &o->saved_errno);
        comp_close(o->comp);
        o->comp = NULL;
    }
    if (o->close_fd && o->fd >= 0 && close(o->fd) < 0 && r == VMSIM_OK) {
        o->saved_errno = errno;
        r = o->err = VMSIM_EIO;
    }
    o->fd = -1;
    free(o->buf);
    o->buf = NULL;
    return r;
}
