/* Reader of valgrind lackey memory traces: the output of
 * `valgrind --tool=lackey --trace-mem=yes PROGRAM`. Lackey's lk_main.c
 * prints one line per guest memory access with the formats
 *     "I  %08lx,%lu\n"   instruction fetch
 *     " L %08lx,%lu\n"   data load
 *     " S %08lx,%lu\n"   data store
 *     " M %08lx,%lu\n"   data modify (load and store of the same bytes)
 * i.e. hexadecimal address without 0x (at least 8 digits) and decimal size;
 * valgrind's own messages, which share the stream, start with "==PID==".
 *
 * Simplifications: lackey does not say which process or thread made an
 * access, so every event is pid 1 on cpu 0. A modify is one event of kind
 * VMSIM_MODIFY (one translation with write intent), as DESIGN.md asks.
 *
 * This reader is the hot path for big traces (gigabytes): the record shapes
 * are parsed straight from the big input buffer by a fast path (formats.h)
 * that reads the numbers a word at a time and finds the end of the line
 * as it goes; anything else goes to lackey_parse, line by line. No sscanf
 * or strtoull per field. */
#include <stdio.h>

#include "trace/formats.h"

#define LACKEY_PID 1

#define LACKEY_SHAPE "a lackey line: \"I  ADDR,SIZE\", \" L ADDR,SIZE\", \" S ADDR,SIZE\", " \
                     "\" M ADDR,SIZE\" or a \"==PID==\" message"

/* Parse one line (without '\r\n'): 1 with *ev, 0 for a skipped line, or an error. */
static inline int lackey_parse(struct line_source *s, const char *line, size_t len,
                               struct vmsim_event *ev)
{
    const unsigned char *p = (const unsigned char *)line, *e = p + len;
    unsigned kind;
    if (e - p >= 3 && p[2] == ' ' && p[0] == 'I' && p[1] == ' ') {
        kind = VMSIM_FETCH;
    } else if (e - p >= 3 && p[2] == ' ' && p[0] == ' ' &&
               (p[1] == 'L' || p[1] == 'S' || p[1] == 'M')) {
        kind = p[1] == 'L' ? VMSIM_READ : p[1] == 'S' ? VMSIM_WRITE : VMSIM_MODIFY;
    } else if (e - p >= 2 && p[0] == '=' && p[1] == '=') {
        return 0;
    } else {
        line_fail(s, LACKEY_SHAPE, line, len);
        if (e == p)
            snprintf(s->base.err.found, sizeof s->base.err.found, "an empty line");
        return VMSIM_EPARSE;
    }
    p += 3;

    const unsigned char *a0 = p;
    uint64_t addr;
    bool over;
    p += hex_span((const char *)p, (size_t)(e - p), &addr, &over);
    if (p == a0 || p == e || *p != ',')
        return line_fail(s, "ADDR (hexadecimal digits) then ','", (const char *)a0,
                         (size_t)(e - a0));
    if (over)
        return line_fail(s, "ADDR of at most 64 bits", (const char *)a0, (size_t)(p - a0));
    p++;

    const unsigned char *s0 = p;
    uint64_t size = 0;
    over = 0;
    while (p < e && (unsigned)(*p - '0') < 10) {
        unsigned dd = (unsigned)(*p - '0');
        over |= size > (UINT64_MAX - dd) / 10;
        size = size * 10 + dd;
        p++;
    }
    if (p == s0 || p != e)
        return line_fail(s, "SIZE (decimal digits) then the end of the line", (const char *)s0,
                         (size_t)(e - s0));
    if (over || size == 0 || size > TRACE_LACKEY_ACCESS_MAX)
        return line_fail(s, "SIZE from 1 to 4096 (lackey records one instruction's access)",
                         (const char *)s0, (size_t)(e - s0));

    *ev = (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = (uint8_t)kind, .pid = LACKEY_PID,
                               .addr = addr, .len = size};
    return 1;
}

/* The fast path (formats.h): the four record shapes, up to 16 address
 * digits and 4 size digits, the shape lackey prints. Indexed by the second
 * byte of a line: the kind + 1, and the byte that must come first. */
static const uint8_t lackey_fast_kind[256] = {
    [' '] = VMSIM_FETCH + 1, ['L'] = VMSIM_READ + 1, ['S'] = VMSIM_WRITE + 1,
    ['M'] = VMSIM_MODIFY + 1};
static const char lackey_fast_lead[256] = {[' '] = 'I', ['L'] = ' ', ['S'] = ' ', ['M'] = ' '};

static inline int lackey_fast(const unsigned char **pp, struct vmsim_event *ev)
{
    const unsigned char *p = *pp;
    const unsigned kind = lackey_fast_kind[p[1]];
    if (!kind || p[0] != (unsigned char)lackey_fast_lead[p[1]] || p[2] != ' ')
        return -1;
    uint64_t addr, size;
    const unsigned k = hex_span_wide(p + 3, &addr);
    if (k - 1 >= 16 || p[3 + k] != ',')
        return -1;
    p += 4 + k;
    const unsigned d = dec_span_wide(p, &size);
    if (d - 1 >= 4 || size - 1 >= TRACE_LACKEY_ACCESS_MAX || !(p = line_fast_eol(p + d)))
        return -1;
    *ev = (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = (uint8_t)(kind - 1),
                               .pid = LACKEY_PID, .addr = addr, .len = size};
    *pp = p;
    return 1;
}

static long lackey_next(struct vmsim_source *src, struct vmsim_event *buf, size_t max)
{
    return line_source_next((struct line_source *)src, buf, max, lackey_fast, lackey_parse, "==");
}

static const struct source_ops lackey_source_ops = {"lackey", lackey_next, line_source_close,
                                                    line_source_where};

int lackey_source_open(struct input *in, struct vmsim_source **out,
                       struct vmsim_source_error *err)
{
    return line_source_open(in, sizeof(struct line_source), &lackey_source_ops, out);
}

/* Lackey if the first line that is neither blank nor a '#' comment is a
 * valgrind message or has the exact shape of a lackey record. */
bool lackey_sniff(const unsigned char *head, size_t len)
{
    const unsigned char *p = head, *end = head + len;
    while (p < end) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
        const unsigned char *e = nl ? nl : end;
        const unsigned char *q = p;
        while (q < e && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q == e || *q == '#') {
            p = e + 1;
            continue;
        }
        if (e > p && e[-1] == '\r')
            e--;
        if (e - p >= 2 && p[0] == '=' && p[1] == '=')
            return true;
        if (e - p < 3 || p[2] != ' ' ||
            !((p[0] == 'I' && p[1] == ' ') ||
              (p[0] == ' ' && (p[1] == 'L' || p[1] == 'S' || p[1] == 'M'))))
            return false;
        q = p + 3;
        const unsigned char *a0 = q;
        while (q < e && hex_digit(*q) >= 0)
            q++;
        if (q == a0 || q == e || *q != ',')
            return false;
        const unsigned char *s0 = ++q;
        while (q < e && (unsigned)(*q - '0') < 10)
            q++;
        return q > s0 && q == e;
    }
    return false;
}
