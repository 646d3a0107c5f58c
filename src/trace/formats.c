/* The one table of trace formats, and the public entry points that use it:
 * vmsim_source_open_trace (with auto-detection by content) and the
 * vmsim_sink_* writers. Adding a format is one TRACE_FORMATS line plus its
 * file; the names, the help lines and the dispatch table all come from it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "trace/formats.h"
#include "trace/compress.h"

/* X(name, one-line help, sniff or NULL, open source, open sink or NULL).
 * Auto-detection asks the formats with a sniff function in this order and
 * falls back to the one without (text). It sees the decompressed content:
 * compression is below every format (input.c). */
#define TRACE_FORMATS(X)                                                                   \
    X(text, "vmsim text: one event per line, e.g. \"R 1 0x7fff0010 8\"", NULL,                \
      text_source_open, text_sink_open)                                                    \
    X(bin, "vmsim binary (.vmt): tagged varint records, delta-coded addresses", bin_sniff,   \
      bin_source_open, bin_sink_open)                                                      \
    X(lackey, "valgrind --tool=lackey --trace-mem=yes output (input only)", lackey_sniff,    \
      lackey_source_open, NULL)                                                            \
    X(din, "Dinero IV din: \"LABEL ADDR\" lines, 0 read 1 write 2 fetch", din_sniff,         \
      din_source_open, din_sink_open)                                                      \
    X(xdin, "Dinero IV extended din: \"r|w|i|m|c|v ADDR SIZE\" lines", xdin_sniff,           \
      xdin_source_open, xdin_sink_open)                                                    \
    X(pin, "Intel Pin pinatrace: \"IP: R|W ADDR [SIZE]\" lines", pin_sniff, pin_source_open, \
      pin_sink_open)                                                                       \
    X(champsim, "ChampSim binary instruction trace, 64-byte records (input only; by name)",  \
      champsim_sniff, champsim_source_open, NULL)

#define TF_ENTRY(name, help, sniff, open, sink) {#name, sniff, open, sink},
#define TF_NAME(name, ...) #name,
#define TF_HELP(name, help, ...) help,

const struct trace_format trace_formats[] = {TRACE_FORMATS(TF_ENTRY){NULL, NULL, NULL, NULL}};
const char *const vmsim_trace_formats[] = {TRACE_FORMATS(TF_NAME) NULL};
const char *const vmsim_trace_format_help[] = {TRACE_FORMATS(TF_HELP) NULL};

/* Bytes looked at by auto-detection: enough for a long comment header
 * before the first event of a text trace. */
#define TRACE_SNIFF_BYTES (64u << 10)

const struct trace_format *trace_format_find(const char *name)
{
    for (const struct trace_format *f = trace_formats; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

const struct trace_format *trace_format_sniff(const unsigned char *head, size_t len)
{
    const struct trace_format *fallback = NULL;
    for (const struct trace_format *f = trace_formats; f->name; f++) {
        if (!f->sniff)
            fallback = f;
        else if (f->sniff(head, len))
            return f;
    }
    return fallback;
}

static bool trace_fmt_is_auto(const char *fmt) { return !fmt || strcmp(fmt, "auto") == 0; }

static int trace_bad_format(const char *where, const char *fmt, struct vmsim_source_error *err)
{
    char expected[sizeof err->expected];
    size_t n = (size_t)snprintf(expected, sizeof expected, "a trace format: auto");
    for (const struct trace_format *f = trace_formats; f->name && n < sizeof expected; f++)
        n += (size_t)snprintf(expected + n, sizeof expected - n, ", %s", f->name);
    source_fail(err, expected, fmt, strlen(fmt), "%s", where);
    return VMSIM_EINVAL;
}

/* Pick the format (by name, or by looking at the input) and hand it *in. */
static int trace_open_input(struct input *in, const char *fmt, struct vmsim_source **out,
                            struct vmsim_source_error *err)
{
    const struct trace_format *f;
    if (trace_fmt_is_auto(fmt)) {
        long a = input_need(in, TRACE_SNIFF_BYTES);
        if (a < 0 && input_avail(in) == 0) {
            int r = input_fail_io(in, err);
            input_close(in);
            return r;
        }
        /* A failure after some bytes (a cut compressed stream) is the
         * reader's to report, after the events in those bytes: the input
         * repeats it when the reader asks for more. */
        f = trace_format_sniff(in->buf + in->pos, input_avail(in));
    } else {
        f = trace_format_find(fmt);
    }
    return f->open(in, out, err);
}

int vmsim_source_open_trace(const char *path, const char *fmt, struct vmsim_source **out,
                            struct vmsim_source_error *err)
{
    *out = NULL;
    memset(err, 0, sizeof *err);
    if (!trace_fmt_is_auto(fmt) && !trace_format_find(fmt))
        return trace_bad_format(path, fmt, err);
    if (trace_fmt_is_auto(fmt) && champsim_path(path))
        fmt = "champsim"; /* no magic to go by: the conventional name */
    struct input in;
    int r = input_open_file(&in, path, err);
    if (r < 0)
        return r;
    return trace_open_input(&in, fmt, out, err);
}

int trace_source_open_mem(const void *data, size_t len, const char *fmt, size_t chunk,
                          struct vmsim_source **out, struct vmsim_source_error *err)
{
    *out = NULL;
    memset(err, 0, sizeof *err);
    if (!trace_fmt_is_auto(fmt) && !trace_format_find(fmt))
        return trace_bad_format("<memory>", fmt, err);
    struct input in;
    if (input_open_mem(&in, data, len, chunk, "<memory>") < 0) {
        input_close(&in);
        return VMSIM_ENOMEM;
    }
    return trace_open_input(&in, fmt, out, err);
}

/* ---- sinks ------------------------------------------------------------------ */

/* The sink format for fmt, or from path's extension: .vmt is binary, after
 * a compression suffix is taken off (t.vmt.zst is a compressed .vmt). */
static int trace_sink_format(const char *path, const char *fmt, const struct trace_format **f)
{
    if (trace_fmt_is_auto(fmt)) {
        size_t n = 0;
        if (path)
            comp_kind_of(path, &n);
        fmt = n >= 4 && strncmp(path + n - 4, ".vmt", 4) == 0 ? "bin" : "text";
    }
    *f = trace_format_find(fmt);
    if (!*f)
        return VMSIM_EINVAL;
    if (!(*f)->sink_open)
        return VMSIM_EUNSUPPORTED;
    return VMSIM_OK;
}

int vmsim_sink_open(const char *path, const char *fmt, struct vmsim_sink **out)
{
    *out = NULL;
    const struct trace_format *f;
    int r = trace_sink_format(path, fmt, &f);
    if (r < 0)
        return r;
    size_t stem;
    const int kind = strcmp(path, "-") ? comp_kind_of(path, &stem) : DECOMP_NONE;
    if (kind < 0)
        return kind;
    struct output o;
    r = output_open_file(&o, path);
    if (r < 0)
        return r;
    if (kind != DECOMP_NONE && !(o.comp = comp_open((enum decomp_kind)kind))) {
        output_close(&o);
        return VMSIM_ENOMEM;
    }
    return f->sink_open(&o, out);
}

int trace_sink_open_mem(const char *fmt, struct vmsim_sink **out)
{
    *out = NULL;
    const struct trace_format *f;
    int r = trace_sink_format(NULL, fmt, &f);
    if (r < 0)
        return r;
    struct output o;
    if (output_open_mem(&o) < 0) {
        output_close(&o);
        return VMSIM_ENOMEM;
    }
    return f->sink_open(&o, out);
}

const unsigned char *trace_sink_mem(const struct vmsim_sink *sink, size_t *len)
{
    *len = sink->out.len;
    return sink->out.buf;
}

/* errno is how the command line says why a write failed; keep the one of
 * the failed write(2) across our own cleanup. */
static int trace_sink_errno(const struct vmsim_sink *sink, int r)
{
    if (r == VMSIM_EIO && sink->out.saved_errno)
        errno = sink->out.saved_errno;
    return r;
}

int vmsim_sink_write(struct vmsim_sink *sink, const struct vmsim_event *ev, size_t n)
{
    if (sink->failed)
        return trace_sink_errno(sink, sink->failed);
    int r = sink->ops->write(sink, ev, n);
    if (r < 0 && r != VMSIM_EINVAL) /* a rejected event is the caller's to handle */
        sink->failed = r;
    return trace_sink_errno(sink, r);
}

int vmsim_sink_close(struct vmsim_sink *sink)
{
    if (!sink)
        return VMSIM_OK;
    if (!sink->failed && !sink->out.err && sink->ops->finish) {
        int f = sink->ops->finish(sink);
        if (f < 0)
            sink->failed = f;
    }
    int r = output_close(&sink->out);
    int saved = sink->out.saved_errno;
    if (sink->failed)
        r = sink->failed;
    free(sink);
    if (r == VMSIM_EIO && saved)
        errno = saved;
    return r;
}

/* ---- events the formats can hold ------------------------------------------------ */

/* Every format must carry every event type: a new type needs a text_cmds
 * line (text.c), bin_os_fields and bin_type_names entries (bin.c), a case
 * below and its rows in docs/traces.md. */
_Static_assert(VMSIM_EV_NTYPES == 10, "give the new event type a place in every trace format");

bool trace_event_valid(const struct vmsim_event *ev)
{
    switch (ev->type) {
    case VMSIM_EV_ACCESS:
        return ev->kind <= VMSIM_MODIFY && ev->len != 0 && ev->len <= TRACE_ACCESS_MAX;
    case VMSIM_EV_SPAWN:
        return ev->file == 0 || (ev->file >= 2 && ev->file < VMSIM_MAX_VMS);
    case VMSIM_EV_VM:
        return ev->addr >= 2 && ev->addr < VMSIM_MAX_VMS;
    case VMSIM_EV_EXIT:
    case VMSIM_EV_SWITCH:
        return true;
    case VMSIM_EV_FORK:
        return ev->addr <= UINT32_MAX && ev->addr != ev->pid;
    case VMSIM_EV_MMAP:
        return ev->len != 0 && ev->kind <= (TRACE_PROT_ALL | VMSIM_MAP_FLAGS) &&
               (ev->file != 0 || ev->pgoff == 0);
    case VMSIM_EV_MUNMAP:
        return ev->len != 0;
    case VMSIM_EV_MPROTECT:
        return ev->len != 0 && ev->kind <= TRACE_PROT_ALL;
    case VMSIM_EV_MADVISE:
        return ev->len != 0 && ev->kind < VMSIM_ADV_NTYPES;
    }
    return false;
}

/* ---- number formatting for the text writer ------------------------------------ */

size_t trace_fmt_dec(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

size_t trace_fmt_hex(char *p, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[16];
    size_t n = 0;
    do {
        tmp[n++] = digits[v & 15];
        v >>= 4;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

/* ---- the line readers ---------------------------------------------------------- */

int line_source_open(struct input *in, size_t size, const struct source_ops *ops,
                     struct vmsim_source **out)
{
    struct line_source *s = calloc(1, size);
    if (!s) {
        input_close(in);
        return VMSIM_ENOMEM;
    }
    s->base.ops = ops;
    s->in = *in;
    *out = &s->base;
    return VMSIM_OK;
}

void line_source_close(struct vmsim_source *src)
{
    struct line_source *s = (struct line_source *)src;
    input_close(&s->in);
    free(s);
}

void line_source_where(const struct vmsim_source *src, char *buf, size_t len)
{
    const struct line_source *s = (const struct line_source *)src;
    snprintf(buf, len, "%s:%llu", s->in.name, (unsigned long long)s->line);
}

int line_fail(struct line_source *s, const char *expected, const char *found, size_t found_len)
{
    source_fail(&s->base.err, expected, found, found_len, "%s:%llu", s->in.name,
                (unsigned long long)s->line);
    if (!found || found_len == 0)
        snprintf(s->base.err.found, sizeof s->base.err.found, "end of line");
    return VMSIM_EPARSE;
}
