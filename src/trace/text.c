/* The vmsim text trace format: one event per line, for people to write and
 * read (docs/traces.md defines it). One table, text_cmds, names every line
 * shape and its fields in order; the reader and the writer both follow it,
 * so the two cannot disagree. An mmap line may end in options (shared,
 * supervisor, file=, off=: text_options), which the reader takes in any
 * order and the writer prints in table order.
 *
 * Reader invariants: each line is parsed in place from the input buffer; no
 * line longer than TRACE_LINE_MAX is accepted (the buffer is far larger, so
 * a line is always whole in memory when parsed); every rejected line leaves
 * "path:LINE", what was expected and what was found in the error. */
#include <stdio.h>
#include <stdlib.h>

#include "trace/formats.h"

enum text_field { TF_PID, TF_CPU, TF_ADDR, TF_SIZE, TF_LEN, TF_PROT, TF_CHILD, TF_ADVICE, TF_VMID, TF_MEM };

static const char *const text_field_expected[] = {
    [TF_PID] = "PID (decimal or 0x-hex, below 2^32)",
    [TF_CPU] = "CPU (decimal or 0x-hex, below 65536)",
    [TF_ADDR] = "ADDR (hexadecimal, 0x optional, at most 64 bits)",
    [TF_SIZE] = "SIZE in bytes (decimal or 0x-hex, 1 to 2^30 = 1 GiB)",
    [TF_LEN] = "LEN in bytes (decimal or 0x-hex, 1 to 2^64-1)",
    [TF_PROT] = "PROT (three characters [r-][w-][x-], e.g. rw- or r-x)",
    [TF_CHILD] = "CHILD (decimal or 0x-hex, below 2^32, not the forking PID)",
    [TF_ADVICE] = "ADVICE (normal, hugepage or nohugepage)",
    [TF_VMID] = "VMID (decimal or 0x-hex, 2 to 255)",
    [TF_MEM] = "MEMORY in bytes (decimal or 0x-hex; 0: the machine's)",
};

static const char *const text_advice[VMSIM_ADV_NTYPES] = {
    [VMSIM_ADV_NORMAL] = "normal",
    [VMSIM_ADV_HUGEPAGE] = "hugepage",
    [VMSIM_ADV_NOHUGEPAGE] = "nohugepage",
};

/* What may follow the required fields of a line. */
enum text_tail {
    TT_NONE,
    TT_CPU, /* an optional CPU (accesses) */
    TT_MAP, /* mmap options, in any order, each at most once */
    TT_VM,  /* an optional vm=VMID (spawn) */
};

struct text_cmd {
    const char *word;
    uint8_t type, kind;
    uint8_t nfields; /* required fields after the keyword */
    uint8_t tail;    /* enum text_tail */
    uint8_t field[4];
};

/* The accesses come first, indexed by their kind. */
static const struct text_cmd text_cmds[] = {
    {"R", VMSIM_EV_ACCESS, VMSIM_READ, 3, TT_CPU, {TF_PID, TF_ADDR, TF_SIZE}},
    {"W", VMSIM_EV_ACCESS, VMSIM_WRITE, 3, TT_CPU, {TF_PID, TF_ADDR, TF_SIZE}},
    {"X", VMSIM_EV_ACCESS, VMSIM_FETCH, 3, TT_CPU, {TF_PID, TF_ADDR, TF_SIZE}},
    {"M", VMSIM_EV_ACCESS, VMSIM_MODIFY, 3, TT_CPU, {TF_PID, TF_ADDR, TF_SIZE}},
    {"spawn", VMSIM_EV_SPAWN, 0, 1, TT_VM, {TF_PID}},
    {"exit", VMSIM_EV_EXIT, 0, 1, TT_NONE, {TF_PID}},
    {"switch", VMSIM_EV_SWITCH, 0, 2, TT_NONE, {TF_CPU, TF_PID}},
    {"mmap", VMSIM_EV_MMAP, 0, 4, TT_MAP, {TF_PID, TF_ADDR, TF_LEN, TF_PROT}},
    {"munmap", VMSIM_EV_MUNMAP, 0, 3, TT_NONE, {TF_PID, TF_ADDR, TF_LEN}},
    {"mprotect", VMSIM_EV_MPROTECT, 0, 4, TT_NONE, {TF_PID, TF_ADDR, TF_LEN, TF_PROT}},
    {"fork", VMSIM_EV_FORK, 0, 2, TT_NONE, {TF_PID, TF_CHILD}},
    {"madvise", VMSIM_EV_MADVISE, 0, 4, TT_NONE, {TF_PID, TF_ADDR, TF_LEN, TF_ADVICE}},
    {"vm", VMSIM_EV_VM, 0, 2, TT_NONE, {TF_VMID, TF_MEM}},
};
#define TEXT_NCMDS (sizeof text_cmds / sizeof text_cmds[0])
#define TEXT_KEYWORDS "R, W, X, M, spawn, exit, switch, mmap, munmap, mprotect, fork, madvise or vm"

/* The mmap options, in the order the writer prints them. "private" is the
 * default: the writer leaves it out, a person may write it. */
enum text_option { TO_SHARED, TO_SUPERVISOR, TO_FILE, TO_OFF, TO_PRIVATE, TO_N };

static const struct {
    const char *word; /* ends in '=' when a value follows */
    const char *expected;
} text_options[TO_N] = {
    [TO_SHARED] = {"shared", NULL},
    [TO_SUPERVISOR] = {"supervisor", NULL},
    [TO_FILE] = {"file=", "file=ID (decimal or 0x-hex, 1 to 2^32-1)"},
    [TO_OFF] = {"off=", "off=BYTES (decimal or 0x-hex, a multiple of 4096 below 2^44)"},
    [TO_PRIVATE] = {"private", NULL},
};
#define TEXT_OPTIONS                                                                               \
    "end of line or an mmap option (shared, private, supervisor, file=ID, off=BYTES)"

struct tok {
    const char *p;
    size_t n;
};
/* keyword + 4 fields + 4 mmap options + one extra to report. Of five mmap
 * options at least one repeats or clashes (shared with private), so the
 * error is always among the tokens kept. */
#define TEXT_MAX_TOKS 10

/* found NULL: the line ended before it. */
static int text_fail(struct line_source *s, const char *expected, const struct tok *found)
{
    return line_fail(s, expected, found ? found->p : NULL, found ? found->n : 0);
}

static int text_field(struct line_source *s, enum text_field f, const struct tok *t,
                      struct vmsim_event *ev)
{
    const char *expected = text_field_expected[f];
    uint64_t v = 0;
    int r;
    switch (f) {
    case TF_ADVICE:
        for (unsigned a = 0; a < VMSIM_ADV_NTYPES; a++) {
            if (strlen(text_advice[a]) == t->n && memcmp(text_advice[a], t->p, t->n) == 0) {
                ev->kind = (uint8_t)a;
                return 0;
            }
        }
        return text_fail(s, expected, t);
    case TF_PROT:
        if (t->n != 3 || (t->p[0] != 'r' && t->p[0] != '-') ||
            (t->p[1] != 'w' && t->p[1] != '-') || (t->p[2] != 'x' && t->p[2] != '-'))
            return text_fail(s, expected, t);
        ev->kind = (uint8_t)((t->p[0] == 'r' ? VMSIM_PROT_R : 0) |
                             (t->p[1] == 'w' ? VMSIM_PROT_W : 0) |
                             (t->p[2] == 'x' ? VMSIM_PROT_X : 0));
        return 0;
    case TF_ADDR:
        if (t->n > 2 && t->p[0] == '0' && (t->p[1] | 0x20) == 'x')
            r = trace_parse_hex(t->p + 2, t->n - 2, &v);
        else
            r = trace_parse_hex(t->p, t->n, &v);
        break;
    default:
        r = trace_parse_num(t->p, t->n, &v);
        break;
    }
    if (r != TRACE_NUM_OK)
        return text_fail(s, expected, t);
    switch (f) {
    case TF_PID:
        if (v > UINT32_MAX)
            return text_fail(s, expected, t);
        ev->pid = (vmsim_pid_t)v;
        break;
    case TF_CPU:
        if (v > UINT16_MAX)
            return text_fail(s, expected, t);
        ev->cpu = (uint16_t)v;
        break;
    case TF_ADDR:
        ev->addr = v;
        break;
    case TF_CHILD: /* the PID field comes first */
        if (v > UINT32_MAX || v == ev->pid)
            return text_fail(s, expected, t);
        ev->addr = v;
        break;
    case TF_SIZE:
        if (v == 0 || v > TRACE_ACCESS_MAX)
            return text_fail(s, expected, t);
        ev->len = v;
        break;
    case TF_LEN:
        if (v == 0)
            return text_fail(s, expected, t);
        ev->len = v;
        break;
    case TF_VMID:
        if (v < 2 || v >= VMSIM_MAX_VMS)
            return text_fail(s, expected, t);
        ev->addr = v;
        break;
    case TF_MEM:
        ev->len = v;
        break;
    case TF_PROT:
    case TF_ADVICE:
        break;
    }
    return 0;
}

/* Which mmap option t names (its value, if any, after the '='), or TO_N. */
static enum text_option text_option_of(const struct tok *t)
{
    for (unsigned o = 0; o < TO_N; o++) {
        size_t n = strlen(text_options[o].word);
        bool valued = text_options[o].word[n - 1] == '=';
        if ((valued ? t->n >= n : t->n == n) && memcmp(t->p, text_options[o].word, n) == 0)
            return (enum text_option)o;
    }
    return TO_N;
}

/* The value of file= or off= in t into ev. */
static int text_option_value(struct line_source *s, enum text_option o, const struct tok *t,
                             struct vmsim_event *ev)
{
    size_t skip = strlen(text_options[o].word);
    uint64_t v;
    if (trace_parse_num(t->p + skip, t->n - skip, &v) != TRACE_NUM_OK)
        return text_fail(s, text_options[o].expected, t);
    if (o == TO_FILE) {
        if (v == 0 || v > UINT32_MAX)
            return text_fail(s, text_options[o].expected, t);
        ev->file = (uint32_t)v;
    } else {
        if (v % (1u << TRACE_PAGE_SHIFT) != 0 || v >> TRACE_PAGE_SHIFT > UINT32_MAX)
            return text_fail(s, text_options[o].expected, t);
        ev->pgoff = (uint32_t)(v >> TRACE_PAGE_SHIFT);
    }
    return 0;
}

/* The n tokens after the PROT of an mmap line: options, each at most once.
 * off= needs file=, which may come before or after it. */
static int text_map_options(struct line_source *s, const struct tok *t, size_t n,
                            struct vmsim_event *ev)
{
    unsigned seen = 0;
    const struct tok *off = NULL;
    for (size_t i = 0; i < n; i++) {
        enum text_option o = text_option_of(&t[i]);
        if (o == TO_N)
            return text_fail(s, TEXT_OPTIONS, &t[i]);
        if (seen & 1u << o)
            return text_fail(s, "each mmap option at most once", &t[i]);
        seen |= 1u << o;
        if ((seen & 1u << TO_SHARED) && (seen & 1u << TO_PRIVATE))
            return text_fail(s, "shared or private, not both", &t[i]);
        if (o == TO_SHARED)
            ev->kind |= VMSIM_MAP_SHARED;
        if (o == TO_SUPERVISOR)
            ev->kind |= VMSIM_MAP_SUPERVISOR;
        if (o == TO_OFF)
            off = &t[i];
        if ((o == TO_FILE || o == TO_OFF) && text_option_value(s, o, &t[i], ev) < 0)
            return VMSIM_EPARSE;
    }
    if (off && !ev->file)
        return text_fail(s, "off=BYTES only together with file=ID", off);
    return 0;
}

/* Parse one line (no '\r\n'): 1 with *ev filled, 0 for a blank or comment
 * line, or an error. */
static int text_parse_line(struct line_source *s, const char *line, size_t len,
                           struct vmsim_event *ev)
{
    struct tok t[TEXT_MAX_TOKS];
    size_t nt = 0, i = 0;
    while (nt < TEXT_MAX_TOKS) {
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i == len || line[i] == '#')
            break;
        t[nt].p = line + i;
        while (i < len && line[i] != ' ' && line[i] != '\t')
            i++;
        t[nt].n = (size_t)(line + i - t[nt].p);
        nt++;
    }
    if (nt == 0)
        return 0;

    const struct text_cmd *c = NULL;
    for (size_t k = 0; k < TEXT_NCMDS; k++) {
        if (strlen(text_cmds[k].word) == t[0].n && memcmp(text_cmds[k].word, t[0].p, t[0].n) == 0) {
            c = &text_cmds[k];
            break;
        }
    }
    if (!c)
        return text_fail(s, TEXT_KEYWORDS, &t[0]);

    memset(ev, 0, sizeof *ev);
    ev->type = c->type;
    ev->kind = c->kind;
    size_t f;
    for (f = 0; f < c->nfields; f++) {
        if (1 + f >= nt)
            return text_fail(s, text_field_expected[c->field[f]], NULL);
        int r = text_field(s, c->field[f], &t[1 + f], ev);
        if (r < 0)
            return r;
    }
    if (c->tail == TT_MAP) {
        int r = text_map_options(s, &t[1 + f], nt - 1 - f, ev);
        return r < 0 ? r : 1;
    }
    if (c->tail == TT_VM && 1 + f < nt) {
        const struct tok *vm = &t[1 + f];
        const struct tok id = {vm->p + 3, vm->n - 3};
        if (vm->n <= 3 || memcmp(vm->p, "vm=", 3) != 0)
            return text_fail(s, "end of line or vm=VMID", vm);
        int r = text_field(s, TF_VMID, &id, ev);
        if (r < 0)
            return r;
        ev->file = (uint32_t)ev->addr;
        ev->addr = 0;
        f++;
    }
    if (c->tail == TT_CPU && 1 + f < nt) {
        int r = text_field(s, TF_CPU, &t[1 + f], ev);
        if (r < 0)
            return r;
        f++;
    }
    if (1 + f < nt)
        return text_fail(s, "end of line", &t[1 + f]);
    return 1;
}

/* The fast path (formats.h): an access as the writer prints it, "K PID
 * ADDR SIZE" or "K PID ADDR SIZE CPU", single spaces, PID and SIZE in
 * decimal of 1 to 7 digits, ADDR of 1 to 16 hex digits ("0x" optional),
 * CPU of 1 to 5 decimal digits. Indexed by the first byte: the kind + 1. */
static const uint8_t text_fast_kind[256] = {['R'] = VMSIM_READ + 1, ['W'] = VMSIM_WRITE + 1,
                                            ['X'] = VMSIM_FETCH + 1, ['M'] = VMSIM_MODIFY + 1};

static inline int text_fast(const unsigned char **pp, struct vmsim_event *ev)
{
    const unsigned char *p = *pp;
    const unsigned kind = text_fast_kind[p[0]];
    uint64_t pid, addr, size, cpu = 0;
    if (!kind || p[1] != ' ')
        return -1;
    unsigned d = dec_span_wide(p + 2, &pid);
    if (d - 1 >= 7 || p[2 + d] != ' ')
        return -1;
    p += 3 + d;
    if (p[0] == '0' && (p[1] | 0x20) == 'x') /* as text_field: "0x" then digits */
        p += 2;
    const unsigned k = hex_span_wide(p, &addr);
    if (k - 1 >= 16 || p[k] != ' ')
        return -1;
    p += k + 1;
    d = dec_span_wide(p, &size);
    if (d - 1 >= 7 || size == 0)
        return -1;
    p += d;
    if (*p == ' ') {
        d = dec_span_wide(p + 1, &cpu);
        if (d - 1 >= 5 || cpu > UINT16_MAX)
            return -1;
        p += 1 + d;
    }
    if (!(p = line_fast_eol(p)))
        return -1;
    *ev = (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = (uint8_t)(kind - 1),
                               .cpu = (uint16_t)cpu, .pid = (vmsim_pid_t)pid, .addr = addr,
                               .len = size};
    *pp = p;
    return 1;
}

static long text_next(struct vmsim_source *src, struct vmsim_event *buf, size_t max)
{
    return line_source_next((struct line_source *)src, buf, max, text_fast, text_parse_line, NULL);
}

static const struct source_ops text_source_ops = {"text", text_next, line_source_close,
                                                  line_source_where};

int text_source_open(struct input *in, struct vmsim_source **out, struct vmsim_source_error *err)
{
    return line_source_open(in, sizeof(struct line_source), &text_source_ops, out);
}

/* ---- writer ---------------------------------------------------------------- */

/* Longest line the writer makes: "mmap", a pid, a 64-bit address and
 * length, PROT and every option at their widest, and the newline: 113. */
#define TEXT_OUT_MAX 128

static char *text_put(char *p, const char *word)
{
    size_t n = strlen(word);
    memcpy(p, word, n);
    return p + n;
}

static char *text_put_field(char *p, enum text_field f, const struct vmsim_event *ev)
{
    *p++ = ' ';
    switch (f) {
    case TF_PID:
        return p + trace_fmt_dec(p, ev->pid);
    case TF_CPU:
        return p + trace_fmt_dec(p, ev->cpu);
    case TF_ADDR:
        *p++ = '0';
        *p++ = 'x';
        return p + trace_fmt_hex(p, ev->addr);
    case TF_SIZE:
    case TF_LEN:
        return p + trace_fmt_dec(p, ev->len);
    case TF_PROT:
        *p++ = ev->kind & VMSIM_PROT_R ? 'r' : '-';
        *p++ = ev->kind & VMSIM_PROT_W ? 'w' : '-';
        *p++ = ev->kind & VMSIM_PROT_X ? 'x' : '-';
        return p;
    case TF_CHILD:
        return p + trace_fmt_dec(p, ev->addr);
    case TF_ADVICE:
        return text_put(p, text_advice[ev->kind]);
    case TF_VMID:
        return p + trace_fmt_dec(p, ev->addr);
    case TF_MEM:
        return p + trace_fmt_dec(p, ev->len);
    }
    return p;
}

static char *text_put_option(char *p, enum text_option o)
{
    *p++ = ' ';
    return text_put(p, text_options[o].word);
}

/* The mmap options that are set, in text_options order. */
static char *text_put_options(char *p, const struct vmsim_event *ev)
{
    if (ev->kind & VMSIM_MAP_SHARED)
        p = text_put_option(p, TO_SHARED);
    if (ev->kind & VMSIM_MAP_SUPERVISOR)
        p = text_put_option(p, TO_SUPERVISOR);
    if (ev->file) {
        p = text_put_option(p, TO_FILE);
        p += trace_fmt_dec(p, ev->file);
    }
    if (ev->pgoff) {
        p = text_put_option(p, TO_OFF);
        p += trace_fmt_dec(p, (uint64_t)ev->pgoff << TRACE_PAGE_SHIFT);
    }
    return p;
}

static int text_write(struct vmsim_sink *sink, const struct vmsim_event *ev, size_t n)
{
    for (size_t i = 0; i < n; i++, ev++) {
        if (!trace_event_valid(ev))
            return VMSIM_EINVAL;
        const struct text_cmd *c = NULL;
        if (ev->type == VMSIM_EV_ACCESS) {
            c = &text_cmds[ev->kind];
        } else {
            for (size_t k = 0; k < TEXT_NCMDS; k++)
                if (text_cmds[k].type == ev->type)
                    c = &text_cmds[k];
        }
        char *p = (char *)output_reserve(&sink->out, TEXT_OUT_MAX);
        if (!p)
            return sink->out.err;
        char *start = p;
        p = text_put(p, c->word);
        for (size_t f = 0; f < c->nfields; f++)
            p = text_put_field(p, c->field[f], ev);
        if (c->tail == TT_CPU && ev->cpu != 0)
            p = text_put_field(p, TF_CPU, ev);
        if (c->tail == TT_MAP)
            p = text_put_options(p, ev);
        if (c->tail == TT_VM && ev->file) {
            p = text_put(p, " vm=");
            p += trace_fmt_dec(p, ev->file);
        }
        *p++ = '\n';
        sink->out.len += (size_t)(p - start);
    }
    return VMSIM_OK;
}

static const struct sink_ops text_sink_ops = {"text", text_write, NULL};

int text_sink_open(struct output *o, struct vmsim_sink **out)
{
    struct vmsim_sink *sink = calloc(1, sizeof *sink);
    if (!sink) {
        output_close(o);
        return VMSIM_ENOMEM;
    }
    sink->ops = &text_sink_ops;
    sink->out = *o;
    static const char header[] = "# vmsim text trace (docs/traces.md)\n";
    unsigned char *p = output_reserve(&sink->out, sizeof header - 1);
    if (!p) {
        int e = sink->out.err;
        output_close(&sink->out);
        free(sink);
        return e;
    }
    memcpy(p, header, sizeof header - 1);
    sink->out.len += sizeof header - 1;
    *out = sink;
    return VMSIM_OK;
}
