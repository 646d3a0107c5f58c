/* Reader and writer of the memory traces of Intel Pin's example tool
 * pinatrace (source/tools/ManualExamples/pinatrace.cpp in the Pin kit).
 * For every memory operand of every executed instruction it prints
 *     fprintf(trace, "%p: R %p\n", ip, addr);    (RecordMemRead)
 *     fprintf(trace, "%p: W %p\n", ip, addr);    (RecordMemWrite)
 * and, when the program ends, "#eof\n" (Fini). A read-modify-write operand
 * gives an R line and a W line. With glibc, %p prints "0x" and lower-case
 * hex digits, or "(nil)" for 0. Many copies of the tool add the operand
 * size (IARG_MEMORYREAD_SIZE) as a decimal third field; vmsim accepts it.
 *
 * What vmsim takes: the data address and R/W, and the size when present
 * (1 byte otherwise: the address is known, its width is not, and 1 never
 * invents a page crossing). The instruction address is not made into a
 * fetch: pinatrace lists only instructions that touch memory, once per
 * operand, so its ips are a biased sample of the instruction stream. Lines
 * starting with '#' (the #eof trailer) are skipped; a trace without #eof
 * (the program was killed) reads up to its last whole line. Every event
 * is pid 1 on cpu 0: pinatrace does not record threads.
 *
 * The writer prints "IP: R|W ADDR SIZE" lines and "#eof"; the IP of a data
 * access is the address of the last instruction fetch written before it
 * (so lackey's I lines become the ip field and are not written otherwise);
 * a modify is one W line (one translation with write intent). */
#include <stdio.h>
#include <stdlib.h>

#include "trace/formats.h"

#define PIN_PID 1

/* found up to end: what the parser met (end itself: "end of line"). */
static int pin_fail(struct line_source *s, const char *expected, const unsigned char *found,
                    const unsigned char *end)
{
    return line_fail(s, expected, (const char *)found, (size_t)(end - found));
}

/* %p: "0x" and hex digits, or "(nil)". *pp moves past it. TRACE_NUM_* */
static inline int pin_ptr(const unsigned char **pp, const unsigned char *e, uint64_t *out)
{
    const unsigned char *p = *pp;
    if (e - p >= 5 && memcmp(p, "(nil)", 5) == 0) {
        *pp = p + 5;
        *out = 0;
        return TRACE_NUM_OK;
    }
    if (e - p < 3 || p[0] != '0' || (p[1] | 0x20) != 'x')
        return TRACE_NUM_BAD;
    p += 2;
    uint64_t v;
    bool over;
    const size_t k = hex_span((const char *)p, (size_t)(e - p), &v, &over);
    if (k == 0)
        return TRACE_NUM_BAD;
    p += k;
    *pp = p;
    *out = v;
    return over ? TRACE_NUM_OVERFLOW : TRACE_NUM_OK;
}

#define PIN_IP "IP (0x-hex or (nil)) then ':'"
#define PIN_KIND "' R ' or ' W ' after the ':'"
#define PIN_ADDR "ADDR (0x-hex or (nil), at most 64 bits)"
#define PIN_SIZE "end of line or SIZE (decimal, 1 to 1073741824 = 1 GiB)"

/* One line (no '\r\n'): 1 with *ev, 0 for a skipped line, or an error. */
static inline int pin_parse(struct line_source *s, const char *line, size_t len,
                            struct vmsim_event *ev)
{
    const unsigned char *p = (const unsigned char *)line, *e = p + len;
    if (p < e && *p == '#')
        return 0; /* #eof, or a comment */
    const unsigned char *f = p;
    uint64_t ip, addr, size = 1;
    int r = pin_ptr(&p, e, &ip);
    if (r != TRACE_NUM_OK || p == e || *p != ':') {
        if (f == e) {
            pin_fail(s, PIN_IP, f, e);
            snprintf(s->base.err.found, sizeof s->base.err.found, "an empty line");
            return VMSIM_EPARSE;
        }
        return pin_fail(s, r == TRACE_NUM_OVERFLOW ? "IP of at most 64 bits" : PIN_IP, f, e);
    }
    p++;
    if (e - p < 3 || p[0] != ' ' || (p[1] != 'R' && p[1] != 'W') || p[2] != ' ')
        return pin_fail(s, PIN_KIND, p, e);
    unsigned kind = p[1] == 'R' ? VMSIM_READ : VMSIM_WRITE;
    p += 3;
    f = p;
    r = pin_ptr(&p, e, &addr);
    if (r != TRACE_NUM_OK || (p < e && *p != ' '))
        return pin_fail(s, PIN_ADDR, f, e);
    while (p < e && *p == ' ')
        p++;
    if (p < e) {
        f = p;
        uint64_t v = 0;
        unsigned over = 0;
        while (p < e && (unsigned)(*p - '0') < 10) {
            unsigned d = (unsigned)(*p - '0');
            over |= v > (UINT64_MAX - d) / 10;
            v = v * 10 + d;
            p++;
        }
        while (p < e && *p == ' ')
            p++;
        if (p != e || over || v == 0 || v > TRACE_ACCESS_MAX)
            return pin_fail(s, PIN_SIZE, f, e);
        size = v;
    }
    *ev = (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = (uint8_t)kind, .pid = PIN_PID,
                               .addr = addr, .len = size};
    return 1;
}

/* The fast path (formats.h): "0x" and 1 to 16 hex digits at q, into *v:
 * the byte after them, or NULL. */
static inline const unsigned char *pin_fast_ptr(const unsigned char *q, uint64_t *v)
{
    if (q[0] != '0' || (q[1] | 0x20) != 'x')
        return NULL;
    const unsigned k = hex_span_wide(q + 2, v);
    return k - 1 < 16 ? q + 2 + k : NULL;
}

/* pinatrace's line: "IP: R|W ADDR", then the end or one space and a size
 * of 1 to 7 digits. */
static inline int pin_fast(const unsigned char **pp, struct vmsim_event *ev)
{
    const unsigned char *p = *pp;
    uint64_t ip, addr, size = 1;
    if (!(p = pin_fast_ptr(p, &ip)) || p[0] != ':' || p[1] != ' ' ||
        (p[2] != 'R' && p[2] != 'W') || p[3] != ' ')
        return -1;
    const unsigned kind = p[2] == 'R' ? VMSIM_READ : VMSIM_WRITE;
    if (!(p = pin_fast_ptr(p + 4, &addr)))
        return -1;
    if (*p == ' ') {
        const unsigned d = dec_span_wide(p + 1, &size);
        if (d - 1 >= 7 || size == 0)
            return -1;
        p += 1 + d;
    }
    if (!(p = line_fast_eol(p)))
        return -1;
    *ev = (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = (uint8_t)kind, .pid = PIN_PID,
                               .addr = addr, .len = size};
    *pp = p;
    return 1;
}

static long pin_next(struct vmsim_source *src, struct vmsim_event *buf, size_t max)
{
    return line_source_next((struct line_source *)src, buf, max, pin_fast, pin_parse, NULL);
}

static const struct source_ops pin_source_ops = {"pin", pin_next, line_source_close,
                                                 line_source_where};

int pin_source_open(struct input *in, struct vmsim_source **out, struct vmsim_source_error *err)
{
    return line_source_open(in, sizeof(struct line_source), &pin_source_ops, out);
}

/* pinatrace if the first line that is neither blank nor '#' starts with
 * "IP: R " or "IP: W " and a pointer. */
bool pin_sniff(const unsigned char *head, size_t len)
{
    const unsigned char *p = head, *stop = head + len;
    while (p < stop) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(stop - p));
        const unsigned char *e = nl ? nl : stop;
        if (e > p && e[-1] == '\r')
            e--;
        if (p == e || *p == '#') {
            p = (nl ? nl : stop) + 1;
            continue;
        }
        uint64_t v;
        if (pin_ptr(&p, e, &v) != TRACE_NUM_OK || e - p < 4 || p[0] != ':' || p[1] != ' ' ||
            (p[2] != 'R' && p[2] != 'W') || p[3] != ' ')
            return false;
        p += 4;
        return pin_ptr(&p, e, &v) == TRACE_NUM_OK;
    }
    return false;
}

/* ---- writer ---------------------------------------------------------------- */

struct pin_sink {
    struct vmsim_sink base;
    uint64_t ip; /* the last instruction fetch */
};

static int pin_write(struct vmsim_sink *sink, const struct vmsim_event *ev, size_t n)
{
    struct pin_sink *ps = (struct pin_sink *)sink;
    for (size_t i = 0; i < n; i++, ev++) {
        if (!din_event_ok(ev))
            return VMSIM_EINVAL;
        if (ev->kind == VMSIM_FETCH) {
            ps->ip = ev->addr;
            continue;
        }
        char *p = (char *)output_reserve(&sink->out, 80);
        if (!p)
            return sink->out.err;
        char *start = p;
        *p++ = '0';
        *p++ = 'x';
        p += trace_fmt_hex(p, ps->ip);
        memcpy(p, ev->kind == VMSIM_READ ? ": R 0x" : ": W 0x", 6);
        p += 6;
        p += trace_fmt_hex(p, ev->addr);
        *p++ = ' ';
        p += trace_fmt_dec(p, ev->len);
        *p++ = '\n';
        sink->out.len += (size_t)(p - start);
    }
    return VMSIM_OK;
}

static int pin_finish(struct vmsim_sink *sink)
{
    unsigned char *p = output_reserve(&sink->out, 5);
    if (!p)
        return sink->out.err;
    memcpy(p, "#eof\n", 5);
    sink->out.len += 5;
    return VMSIM_OK;
}

static const struct sink_ops pin_sink_ops = {"pin", pin_write, pin_finish};

int pin_sink_open(struct output *o, struct vmsim_sink **out)
{
    struct pin_sink *ps = calloc(1, sizeof *ps);
    if (!ps) {
        output_close(o);
        return VMSIM_ENOMEM;
    }
    ps->base.ops = &pin_sink_ops;
    ps->base.out = *o;
    *out = &ps->base;
    return VMSIM_OK;
}
