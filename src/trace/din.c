/* Readers and writers of the Dinero IV cache simulator's ASCII trace
 * formats (Jan Edler and Mark D. Hill, Dinero IV release 7, 1997-1998):
 *
 *   din  (`dineroIV -informat d`, the Dinero III format): "LABEL ADDRESS"
 *        per line, LABEL 0 read, 1 write, 2 instruction fetch, 3 misc
 *        (Dinero III: escape, unknown access type), 4 copy-back (Dinero
 *        III: escape, flush the cache), 5 invalidate (Dinero IV only);
 *        both numbers hexadecimal, "0x" optional; the rest of the line is a
 *        comment. Dinero IV's reader (tracein_din) makes every din record a
 *        4-byte reference at the address rounded down to a multiple of 4
 *        ("dineroIII is pretty much word-oriented"); so does vmsim.
 *   xdin (`dineroIV -informat D`, "extended din", xdinfmt.c): "TYPE
 *        ADDRESS SIZE" per line, TYPE one of r w i m c v (either case):
 *        read, write, instruction fetch, misc, copy-back, invalidate;
 *        ADDRESS and SIZE hexadecimal, "0x" optional; the rest of the line
 *        is a comment.
 *
 * vmsim simulates translation, not caches: misc becomes a read (it is a
 * data reference of no known kind, which Dinero treats like a read), and
 * the cache-control records (copy-back, invalidate, flush) say nothing
 * about translation, so they are skipped. Neither format names a process
 * or a CPU: every event is pid 1 on cpu 0, as for lackey.
 *
 * The parsers work in place on the input buffer, like lackey.c: a fast
 * path for the usual line (one blank between fields, no comment), the
 * full parser for the rest. Dinero rejects a blank line ("short line");
 * so does vmsim. It also rejects a line that starts with '#'; vmsim skips
 * it as a comment, since people put such headers on traces and no record
 * starts with '#'.
 * A last line without its newline is refused: it is how a trace cut short
 * (a full disk, a killed writer) ends, and its number may be cut too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/formats.h"

#define DIN_PID 1
#define DIN_SKIP 0xff /* a record that is not an access */

struct din_source {
    struct line_source ls;
    bool extended; /* xdin */
};

/* found up to end: what the parser met (end itself: "end of line"). */
static int din_fail(struct line_source *s, const char *expected, const unsigned char *found,
                    const unsigned char *end)
{
    return line_fail(s, expected, (const char *)found, (size_t)(end - found));
}

static inline bool din_blank(unsigned char c) { return c == ' ' || c == '\t'; }

/* A hexadecimal number with optional 0x at *pp, ended by a blank or the end
 * of the line; *pp moves past it. TRACE_NUM_* */
static inline int din_hex(const unsigned char **pp, const unsigned char *e, uint64_t *out)
{
    const unsigned char *p = *pp;
    if (e - p > 2 && p[0] == '0' && (p[1] | 0x20) == 'x' && hex_digit(p[2]) >= 0)
        p += 2;
    uint64_t v;
    bool over;
    const size_t k = hex_span((const char *)p, (size_t)(e - p), &v, &over);
    p += k;
    if (k == 0 || (p < e && !din_blank(*p)))
        return TRACE_NUM_BAD;
    *pp = p;
    *out = v;
    return over ? TRACE_NUM_OVERFLOW : TRACE_NUM_OK;
}

static inline const unsigned char *din_skip_blanks(const unsigned char *p, const unsigned char *e)
{
    while (p < e && din_blank(*p))
        p++;
    return p;
}

/* Dinero's labels and types, in vmsim's terms. */
static const uint8_t din_label_kind[6] = {VMSIM_READ, VMSIM_WRITE, VMSIM_FETCH,
                                          VMSIM_READ, DIN_SKIP,    DIN_SKIP};

/* xdin's types (either case), kind + 1; a table, not a switch: the fast
 * path looks one up per line, and types mix unpredictably. */
#define DIN_XTYPE(c, kind) [c] = (kind) + 1, [(c) - 'a' + 'A'] = (kind) + 1
static const uint16_t din_xtypes[256] = {
    DIN_XTYPE('r', VMSIM_READ),
    DIN_XTYPE('w', VMSIM_WRITE),
    DIN_XTYPE('i', VMSIM_FETCH),
    DIN_XTYPE('m', VMSIM_READ), /* misc: a data reference of no known kind */
    DIN_XTYPE('c', DIN_SKIP),   /* copy-back */
    DIN_XTYPE('v', DIN_SKIP),   /* invalidate */
};

static inline int din_xtype(unsigned char c) { return (int)din_xtypes[c] - 1; }

#define DIN_LABEL "LABEL 0-5 (hexadecimal: 0 read, 1 write, 2 fetch, 3 misc, 4 flush/copy-back, " \
                  "5 invalidate)"
#define DIN_ADDR "ADDRESS (hexadecimal, 0x optional, at most 64 bits)"
#define XDIN_TYPE "TYPE r, w, i, m, c or v, then a blank"
#define XDIN_SIZE "SIZE (hexadecimal, 0x optional, 1 to 0x40000000 = 1 GiB)"

/* One line (no '\r\n'): 1 with *ev, 0 for a skipped record, or an error. */
static inline int din_parse(struct line_source *s, const char *line, size_t len,
                            struct vmsim_event *ev)
{
    const bool extended = ((struct din_source *)s)->extended;
    const unsigned char *p = (const unsigned char *)line, *e = p + len;
    /* The input ended inside this line: Dinero's tools write whole lines,
     * so a last line without its newline is a trace cut short, and "2 40"
     * may be the start of "2 40001c". Refused, not read as 0x40. */
    if (__builtin_expect(s->in.eof && s->in.pos == s->in.end, 0) && s->in.end > 0 &&
        s->in.buf[s->in.end - 1] != '\n') {
        din_fail(s, "a line ended by a newline (a din trace's last line without one was cut short)",
                 p, e);
        const size_t l = strlen(s->base.err.found);
        snprintf(s->base.err.found + l, sizeof s->base.err.found - l, " at the end of the input");
        return VMSIM_EPARSE;
    }
    p = din_skip_blanks(p, e);
    if (p == e) {
        din_fail(s, extended ? XDIN_TYPE : DIN_LABEL, p, e);
        snprintf(s->base.err.found, sizeof s->base.err.found, "an empty line");
        return VMSIM_EPARSE;
    }
    if (*p == '#')
        return 0; /* not Dinero's, but no record starts with '#' */
    int kind;
    uint64_t v, addr, size = 4;
    if (extended) {
        kind = din_xtype(*p);
        if (kind < 0 || e - p < 2 || !din_blank(p[1]))
            return din_fail(s, XDIN_TYPE, p, e);
        p++;
    } else {
        const unsigned char *l0 = p;
        int r = din_hex(&p, e, &v);
        if (r != TRACE_NUM_OK || v >= sizeof din_label_kind)
            return din_fail(s, DIN_LABEL, l0, e);
        kind = din_label_kind[v];
    }
    p = din_skip_blanks(p, e);
    const unsigned char *a0 = p;
    int r = din_hex(&p, e, &addr);
    if (r != TRACE_NUM_OK)
        return din_fail(s, DIN_ADDR, a0, e);
    if (extended) {
        p = din_skip_blanks(p, e);
        const unsigned char *s0 = p;
        r = din_hex(&p, e, &size);
        if (r != TRACE_NUM_OK || (kind != DIN_SKIP && (size == 0 || size > TRACE_ACCESS_MAX)))
            return din_fail(s, XDIN_SIZE, s0, e);
    } else {
        addr &= ~(uint64_t)3; /* Dinero IV: a 4-byte word reference */
    }
    if (kind == DIN_SKIP)
        return 0;
    *ev = (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = (uint8_t)kind, .pid = DIN_PID,
                               .addr = addr, .len = size};
    return 1;
}

/* The fast path (formats.h): a hexadecimal number, "0x" optional, 1 to 16
 * digits, at q, into *v: the byte after it, or NULL for any other shape. */
static inline const unsigned char *din_fast_hex(const unsigned char *q, uint64_t *v)
{
    if (q[0] == '0' && (q[1] | 0x20) == 'x')
        q += 2; /* no digit after it: not taken here, din_hex decides */
    const unsigned k = hex_span_wide(q, v);
    return k - 1 < 16 ? q + k : NULL;
}

/* din's common line: a one-digit label, one space, the address, the end. */
static inline int din_fast(const unsigned char **pp, struct vmsim_event *ev)
{
    const unsigned char *p = *pp;
    const unsigned label = (unsigned)(p[0] - '0');
    uint64_t addr;
    if (label >= sizeof din_label_kind || p[1] != ' ' || !(p = din_fast_hex(p + 2, &addr)) ||
        !(p = line_fast_eol(p)))
        return -1;
    *pp = p;
    const unsigned kind = din_label_kind[label];
    if (kind == DIN_SKIP)
        return 0;
    *ev = (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = (uint8_t)kind, .pid = DIN_PID,
                               .addr = addr & ~(uint64_t)3, .len = 4};
    return 1;
}

/* xdin's common line: a type letter, one space, the address, one space,
 * the size, the end. */
static inline int xdin_fast(const unsigned char **pp, struct vmsim_event *ev)
{
    const unsigned char *p = *pp;
    const int kind = din_xtype(p[0]);
    uint64_t addr, size;
    if (kind < 0 || p[1] != ' ' || !(p = din_fast_hex(p + 2, &addr)) || *p != ' ')
        return -1;
    p += 1 + (p[1] == '0' && (p[2] | 0x20) == 'x') * 2; /* as din_fast_hex */
    const int d0 = hex_digit(p[0]);
    unsigned k = 1;
    if (d0 >= 0 && hex_digit(p[1]) < 0) /* sizes mostly have one digit */
        size = (unsigned)d0;
    else if ((k = hex_span_wide(p, &size)) - 1 >= 16)
        return -1;
    p += k;
    if (!(p = line_fast_eol(p)))
        return -1;
    if (kind == DIN_SKIP) {
        *pp = p;
        return 0;
    }
    if (size - 1 >= TRACE_ACCESS_MAX)
        return -1;
    *ev = (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = (uint8_t)kind, .pid = DIN_PID,
                               .addr = addr, .len = size};
    *pp = p;
    return 1;
}

static long din_next(struct vmsim_source *src, struct vmsim_event *buf, size_t max)
{
    return line_source_next((struct line_source *)src, buf, max, din_fast, din_parse, NULL);
}

static long xdin_next(struct vmsim_source *src, struct vmsim_event *buf, size_t max)
{
    return line_source_next((struct line_source *)src, buf, max, xdin_fast, din_parse, NULL);
}

static const struct source_ops din_source_ops = {"din", din_next, line_source_close,
                                                 line_source_where};
static const struct source_ops xdin_source_ops = {"xdin", xdin_next, line_source_close,
                                                  line_source_where};

static int din_open(struct input *in, struct vmsim_source **out, bool extended)
{
    int rc = line_source_open(in, sizeof(struct din_source),
                              extended ? &xdin_source_ops : &din_source_ops, out);
    if (rc == VMSIM_OK)
        ((struct din_source *)*out)->extended = extended;
    return rc;
}

int din_source_open(struct input *in, struct vmsim_source **out, struct vmsim_source_error *err)
{
    return din_open(in, out, false);
}

int xdin_source_open(struct input *in, struct vmsim_source **out, struct vmsim_source_error *err)
{
    return din_open(in, out, true);
}

/* ---- auto-detection ------------------------------------------------------- */

/* The first line that is neither blank nor a '#' comment, or NULL. */
static const unsigned char *din_first_line(const unsigned char *head, size_t len,
                                           const unsigned char **end)
{
    const unsigned char *p = head, *stop = head + len;
    while (p < stop) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(stop - p));
        const unsigned char *e = nl ? nl : stop;
        if (e > p && e[-1] == '\r')
            e--;
        const unsigned char *q = din_skip_blanks(p, e);
        if (q < e && *q != '#') {
            *end = e;
            return q;
        }
        p = (nl ? nl : stop) + 1;
    }
    return NULL;
}

/* din if the first line is "LABEL ADDRESS ..." with a label of 0-5. No other
 * format starts a line with a digit. */
bool din_sniff(const unsigned char *head, size_t len)
{
    const unsigned char *e, *p = din_first_line(head, len, &e);
    uint64_t v;
    if (!p || din_hex(&p, e, &v) != TRACE_NUM_OK || v >= sizeof din_label_kind || p == e)
        return false;
    p = din_skip_blanks(p, e);
    return din_hex(&p, e, &v) == TRACE_NUM_OK;
}

/* xdin if the first line is "TYPE ADDRESS SIZE". A vmsim text access
 * ("R PID ADDR SIZE") has the same start, so an upper-case R, W or M counts
 * only when nothing but a '#' comment follows the three fields; lower-case
 * types and i, c, v are never text. */
bool xdin_sniff(const unsigned char *head, size_t len)
{
    const unsigned char *e, *p = din_first_line(head, len, &e);
    uint64_t v;
    if (!p || din_xtype(*p) < 0 || e - p < 2 || !din_blank(p[1]))
        return false;
    bool text_like = *p == 'R' || *p == 'W' || *p == 'M';
    p = din_skip_blanks(p + 1, e);
    if (din_hex(&p, e, &v) != TRACE_NUM_OK)
        return false;
    p = din_skip_blanks(p, e);
    if (din_hex(&p, e, &v) != TRACE_NUM_OK)
        return false;
    p = din_skip_blanks(p, e);
    return !text_like || p == e || *p == '#';
}

/* ---- writers -------------------------------------------------------------- */

struct din_sink {
    struct vmsim_sink base;
    bool extended;
};

/* What both Dinero formats can hold: accesses of one process on one CPU,
 * as their readers make them (pid 1, cpu 0). */
bool din_event_ok(const struct vmsim_event *ev)
{
    return ev->type == VMSIM_EV_ACCESS && trace_event_valid(ev) && ev->pid == DIN_PID &&
           ev->cpu == 0;
}

static int din_write(struct vmsim_sink *sink, const struct vmsim_event *ev, size_t n)
{
    bool x = ((struct din_sink *)sink)->extended;
    /* read, write, fetch, modify (a write: one translation with write intent) */
    static const char labels[] = "0121", types[] = "rwiw";
    for (size_t i = 0; i < n; i++, ev++) {
        if (!din_event_ok(ev))
            return VMSIM_EINVAL;
        char *p = (char *)output_reserve(&sink->out, 64);
        if (!p)
            return sink->out.err;
        char *start = p;
        *p++ = x ? types[ev->kind] : labels[ev->kind];
        *p++ = ' ';
        if (x) {
            *p++ = '0';
            *p++ = 'x';
        }
        p += trace_fmt_hex(p, ev->addr);
        if (x) {
            memcpy(p, " 0x", 3);
            p += 3;
            p += trace_fmt_hex(p, ev->len);
        }
        *p++ = '\n';
        sink->out.len += (size_t)(p - start);
    }
    return VMSIM_OK;
}

static const struct sink_ops din_sink_ops = {"din", din_write, NULL};
static const struct sink_ops xdin_sink_ops = {"xdin", din_write, NULL};

static int din_sink_new(struct output *o, struct vmsim_sink **out, bool extended)
{
    struct din_sink *d = calloc(1, sizeof *d);
    if (!d) {
        output_close(o);
        return VMSIM_ENOMEM;
    }
    d->base.ops = extended ? &xdin_sink_ops : &din_sink_ops;
    d->base.out = *o;
    d->extended = extended;
    *out = &d->base;
    return VMSIM_OK;
}

int din_sink_open(struct output *o, struct vmsim_sink **out)
{
    return din_sink_new(o, out, false);
}

int xdin_sink_open(struct output *o, struct vmsim_sink **out)
{
    return din_sink_new(o, out, true);
}
