/* Internal interface of the trace formats: the one table of formats
 * (formats.c), the entry points each format file provides, the base of the
 * trace writers, the loop the line-oriented readers share, and in-memory
 * sources and sinks for tests and fuzzers.
 * docs/traces.md defines the formats themselves. */
#ifndef VMSIM_TRACE_FORMATS_H
#define VMSIM_TRACE_FORMATS_H

#include <stdbool.h>

#include "trace/input.h"
#include "trace/source.h"
#include "util/hex.h"

#define TRACE_LINE_MAX 4096 /* longest accepted line of a text format, without '\n' */

/* The base of every trace writer, embedded first; vmsim_sink_* in
 * formats.c are the wrappers (sticky errors, flush, free). */
struct sink_ops {
    const char *name;
    /* Encode n events into sink->out; VMSIM_EINVAL for an event the format
     * cannot represent, VMSIM_EIO/ENOMEM from the output. */
    int (*write)(struct vmsim_sink *sink, const struct vmsim_event *ev, size_t n);
    /* Encode a trailer before the output is closed (NULL: none); called
     * only when no write failed. */
    int (*finish)(struct vmsim_sink *sink);
};

struct vmsim_sink {
    const struct sink_ops *ops;
    struct output out;
    int failed;
};

struct trace_format {
    const char *name;
    /* Does the start of an input look like this format? NULL: the fallback
     * when no other format claims the input. */
    bool (*sniff)(const unsigned char *head, size_t len);
    /* Take over *in (moved, even on failure) and make a source of it. */
    int (*open)(struct input *in, struct vmsim_source **out, struct vmsim_source_error *err);
    /* Take over *o and make a writer of it; NULL: the format is input-only. */
    int (*sink_open)(struct output *o, struct vmsim_sink **out);
};

/* Every format, terminated by an entry with name NULL; same order as
 * vmsim_trace_formats[] and vmsim_trace_format_help[] (the help lives only
 * there). */
extern const struct trace_format trace_formats[];
/* The format called name, or NULL. */
const struct trace_format *trace_format_find(const char *name);
/* The format auto-detection picks for an input that starts with head. */
const struct trace_format *trace_format_sniff(const unsigned char *head, size_t len);

/* A source over a memory block (not copied; it must outlive the source),
 * handed to the parser at most chunk bytes at a time (0: no limit), named
 * "<memory>" in errors. fmt as for vmsim_source_open_trace. */
int trace_source_open_mem(const void *data, size_t len, const char *fmt, size_t chunk,
                          struct vmsim_source **out, struct vmsim_source_error *err);
/* A writer into a growing memory buffer; trace_sink_mem shows what was
 * written so far (valid until the next write or close). */
int trace_sink_open_mem(const char *fmt, struct vmsim_sink **out);
const unsigned char *trace_sink_mem(const struct vmsim_sink *sink, size_t *len);

/* The formats' entry points (text.c, bin.c, lackey.c, din.c, pin.c,
 * champsim.c). */
int text_source_open(struct input *in, struct vmsim_source **out, struct vmsim_source_error *err);
int text_sink_open(struct output *o, struct vmsim_sink **out);
bool bin_sniff(const unsigned char *head, size_t len);
int bin_source_open(struct input *in, struct vmsim_source **out, struct vmsim_source_error *err);
int bin_sink_open(struct output *o, struct vmsim_sink **out);
bool lackey_sniff(const unsigned char *head, size_t len);
int lackey_source_open(struct input *in, struct vmsim_source **out,
                       struct vmsim_source_error *err);
bool din_sniff(const unsigned char *head, size_t len);
int din_source_open(struct input *in, struct vmsim_source **out, struct vmsim_source_error *err);
int din_sink_open(struct output *o, struct vmsim_sink **out);
bool xdin_sniff(const unsigned char *head, size_t len);
int xdin_source_open(struct input *in, struct vmsim_source **out, struct vmsim_source_error *err);
int xdin_sink_open(struct output *o, struct vmsim_sink **out);
/* What din, xdin and pin can hold: accesses by pid 1 on cpu 0. */
bool din_event_ok(const struct vmsim_event *ev);
bool pin_sniff(const unsigned char *head, size_t len);
int pin_source_open(struct input *in, struct vmsim_source **out, struct vmsim_source_error *err);
int pin_sink_open(struct output *o, struct vmsim_sink **out);
bool champsim_sniff(const unsigned char *head, size_t len);
int champsim_source_open(struct input *in, struct vmsim_source **out,
                         struct vmsim_source_error *err);
/* Does path name a ChampSim trace by its conventional name ("*.champsimtrace*")?
 * The format has no magic bytes, so auto-detection can go by name only. */
bool champsim_path(const char *path);

/* ---- what the formats can hold -------------------------------------------- */

#define TRACE_PROT_ALL (VMSIM_PROT_R | VMSIM_PROT_W | VMSIM_PROT_X)
#define TRACE_PAGE_SHIFT 12 /* an mmap file offset (pgoff) counts 4 KiB pages */

/* The largest access one record may describe, per format (docs/traces.md,
 * Events). An access translates every page it touches, one by one, so a
 * size near 2^64 would be 2^52 translations: bounded, one record costs at
 * most 2^18 base-page translations. Formats vmsim also writes (text, bin,
 * xdin, pin) share one bound, so that any trace converts to any of them:
 * 1 GiB, the largest page size of the presets, is room for any single
 * access a program makes (and for hand-made block transfers). lackey,
 * input only, records one instruction's access: x86 instructions are at
 * most 15 bytes and its largest data accesses are register-state saves
 * (fxsave: 512 bytes, xsave with AVX: under 1 KiB), so one base page is
 * ample and a larger size is a corrupt line. din's size is fixed at 4,
 * champsim's at 1. */
#define TRACE_ACCESS_MAX (1ull << 30)
#define TRACE_LACKEY_ACCESS_MAX 4096u

/* Can the trace formats hold ev? Both writers refuse (VMSIM_EINVAL) what
 * this refuses, and every reader makes only events it accepts: an access
 * kind 0-3 and a size of 1 to TRACE_ACCESS_MAX; a length of at least 1 on mmap, munmap, mprotect and
 * madvise; prot 0-7 (mmap: plus VMSIM_MAP_FLAGS); a page offset only with
 * a file; a fork child below 2^32 other than the parent; an advice 0-2.
 * Fields an event does not carry are not looked at. */
bool trace_event_valid(const struct vmsim_event *ev);

/* ---- helpers shared by the parsers ---------------------------------------- */

enum { TRACE_NUM_OK = 0, TRACE_NUM_BAD = -1, TRACE_NUM_OVERFLOW = -2 };

/* s[0, n) as hexadecimal digits (no prefix). TRACE_NUM_BAD when empty or
 * not a digit, TRACE_NUM_OVERFLOW when above 2^64 - 1. */
static inline int trace_parse_hex(const char *s, size_t n, uint64_t *out)
{
    uint64_t v;
    bool over;
    if (n == 0 || hex_span(s, n, &v, &over) != n)
        return TRACE_NUM_BAD;
    *out = v;
    return over ? TRACE_NUM_OVERFLOW : TRACE_NUM_OK;
}

/* s[0, n) as decimal digits, or hexadecimal after "0x"/"0X". */
static inline int trace_parse_num(const char *s, size_t n, uint64_t *out)
{
    if (n > 2 && s[0] == '0' && (s[1] | 0x20) == 'x')
        return trace_parse_hex(s + 2, n - 2, out);
    if (n == 0)
        return TRACE_NUM_BAD;
    uint64_t v = 0;
    int over = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)s[i] - (unsigned)'0';
        if (d > 9)
            return TRACE_NUM_BAD;
        over |= v > (UINT64_MAX - d) / 10;
        v = v * 10 + d;
    }
    *out = v;
    return over ? TRACE_NUM_OVERFLOW : TRACE_NUM_OK;
}

/* Write v in decimal / lower-case hexadecimal at p; return the length. */
size_t trace_fmt_dec(char *p, uint64_t v);
size_t trace_fmt_hex(char *p, uint64_t v);

/* ---- the line readers (text, lackey, din, xdin, pin) ---------------------- */

/* The state of a reader that takes its input a line at a time, embedded
 * first in each (din.c adds a field after it). */
struct line_source {
    struct vmsim_source base;
    struct input in;
    uint64_t line; /* number of the line being parsed, from 1 */
};

/* Make a reader of size bytes (a line_source or a struct that embeds it
 * first, zeroed) with ops over *in (moved, even on failure). */
int line_source_open(struct input *in, size_t size, const struct source_ops *ops,
                     struct vmsim_source **out);
void line_source_close(struct vmsim_source *src); /* the close op of every line reader */
/* The where op of every line reader: "NAME:LINE" of the line last parsed. */
void line_source_where(const struct vmsim_source *src, char *buf, size_t len);
/* Record a bad line: "path:LINE", what was expected, what was found (empty
 * or NULL: "end of line"). Returns VMSIM_EPARSE. Cold: it moves the error
 * branches out of the parsers' loops (text reading was 5 % slower without). */
int line_fail(struct line_source *s, const char *expected, const char *found, size_t found_len)
    __attribute__((cold));

/* The fast path of a line reader: the common shape of its lines, parsed
 * from *pp with no search for the end of the line first. At least
 * LINE_FAST_MARGIN bytes of input follow *pp, and a fast path reads fewer
 * (its fields are bounded: 16 hex digits, 7 decimal ones), so the
 * word-wide number parsers of util/hex.h may load past a number and no
 * line it takes can reach the end of the buffer. It returns 1 (*ev
 * filled) or 0 (no event) with *pp moved past the '\n', or -1 to hand the
 * line to the reader's full parser, *pp untouched. Its contract: it takes
 * only lines that the full parser accepts, with the same event; any other
 * shape, every error and every rarity goes to the full parser, which alone
 * says what is wrong. tests/test_trace_fast.c holds both to it. */
#define LINE_FAST_MARGIN 128

/* After a field of the fast path: past the end of the line ('\n', or
 * "\r\n" as the full parsers strip one '\r'), or NULL. */
static inline const unsigned char *line_fast_eol(const unsigned char *q)
{
    if (q[0] == '\n')
        return q + 1;
    if (q[0] == '\r' && q[1] == '\n')
        return q + 2;
    return NULL;
}

/* The loop of every line reader's next op: read lines, count them, refuse
 * one longer than TRACE_LINE_MAX (but skip one that starts with skip, a
 * message line parse would skip anyway: NULL, none), strip a '\r' before
 * the '\n', and hand
 * each to parse, which returns 1 with *ev filled, 0 for a line that makes
 * no event, or a negative VMSIM_E* code with s->base.err filled. An error
 * becomes s->base.pending, delivered after the events before it (source.h).
 * While LINE_FAST_MARGIN bytes are in the buffer, lines go to fast first
 * (NULL: none), which finds their ends itself: no memchr per line, the
 * line number kept in a register; parse gets what fast refuses and the
 * last lines of a buffer. Always inline, with fast and parse constants:
 * the compiler inlines both, and each reader stays one loop with no call
 * per line. */
static inline __attribute__((always_inline)) long
line_source_next(struct line_source *s, struct vmsim_event *buf, size_t max,
                 int (*fast)(const unsigned char **pp, struct vmsim_event *ev),
                 int (*parse)(struct line_source *s, const char *line, size_t len,
                              struct vmsim_event *ev),
                 const char *skip)
{
    size_t n = 0;
    int err = 0;
    while (n < max) {
        if (fast && input_avail(&s->in) >= LINE_FAST_MARGIN) {
            const unsigned char *p = s->in.buf + s->in.pos;
            const unsigned char *const stop = s->in.buf + s->in.end - LINE_FAST_MARGIN;
            uint64_t line = s->line;
            for (int r; n < max && p <= stop && (r = fast(&p, &buf[n])) >= 0; line++)
                n += (size_t)r;
            s->in.pos = (size_t)(p - s->in.buf);
            s->line = line;
            if (n == max)
                break;
        }
        const char *line;
        size_t len;
        int got = input_line(&s->in, TRACE_LINE_MAX, &line, &len);
        if (got == 0)
            break;
        s->line++;
        if (got == VMSIM_ERANGE && skip && !strncmp(line, skip, strlen(skip))) {
            if ((err = input_skip_line(&s->in)) < 0) {
                err = input_fail_io(&s->in, &s->base.err);
                break;
            }
            continue;
        }
        if (got == VMSIM_ERANGE) {
            err = line_fail(s, "a line of at most 4096 bytes", line, 40);
            break;
        }
        if (got < 0) {
            err = input_fail_io(&s->in, &s->base.err);
            break;
        }
        if (len > 0 && line[len - 1] == '\r')
            len--;
        int r = parse(s, line, len, &buf[n]);
        if (r < 0) {
            err = r;
            break;
        }
        n += (size_t)r;
    }
    s->base.bytes = input_consumed(&s->in);
    if (err < 0) {
        /* the parser's message is complete: now see whether the compressed
         * data under it is corrupt, which then replaces it (input.h) */
        if (s->in.dec)
            input_check_rest(&s->in, &s->base.err);
        s->base.pending = err;
    }
    return (long)n;
}

#endif
