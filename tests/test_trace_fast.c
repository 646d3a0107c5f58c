/* The text readers' fast paths (formats.h, LINE_FAST_MARGIN; util/hex.h's
 * word-at-a-time numbers) against two referees:
 *
 *  - a reference reader per format written here with strspn and strtoull,
 *    sharing no code with src/: the same events, and an error on the same
 *    line after the same events;
 *  - the readers' own full parsers: a memory input handed out one byte at
 *    a time never has LINE_FAST_MARGIN bytes ahead, so it never takes the
 *    fast path; every other chunk size mixes both paths and puts lines
 *    across refills. Events and the whole error (where, expected, found)
 *    must be the same for every chunk size.
 *
 * Inputs are random lines near each format's common shape: 1 to 17 hex
 * digits in either case (17 with and without a leading zero: overflow or
 * not), sizes of 0 to 11 digits, junk bytes, blanks and tabs, "0x" with
 * no digit after it, CRLF and "\r\r\n", comments, a last line without its
 * newline. Also bin: random access records with varints of every length,
 * fast against byte-at-a-time. And hex_span_wide / dec_span_wide against
 * strtoull on every length and case (hex: both the SSE2 and the portable
 * word-wide version). */
#include <errno.h>
#include <stdarg.h>

#include "tracetest.h"
#include "util/hex.h"

/* ---- random lines --------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static unsigned pick(unsigned n) { return (unsigned)(rnd() % n); }

struct text {
    char *p;
    size_t n, cap;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(t->p + t->n, t->cap - t->n, fmt, ap);
        va_end(ap);
        if ((size_t)k < t->cap - t->n) {
            t->n += (size_t)k;
            return;
        }
        t->cap = t->cap * 2 + 256;
        t->p = realloc(t->p, t->cap);
        assert_non_null(t->p);
    }
}

/* Half of the traces are made of good lines only, so that long runs get
 * read; in the others one line in eight may take odd choices, which can
 * make it bad, so that errors come after a stretch of good lines. */
static bool chaos, odd_line;

static bool odd(unsigned n) { return odd_line && pick(n) == 0; }

/* Hex digits: 1-16 of a random value in a random case; now and then 17
 * (with a leading zero: still 64 bits) or, oddly, none or 17 too many. */
static void put_hex(struct text *t)
{
    if (odd(20)) {
        if (pick(2))
            put(t, "1%016llx", (unsigned long long)rnd());
        return;
    }
    if (pick(30) == 0) {
        put(t, "0%016llx", (unsigned long long)rnd());
        return;
    }
    unsigned digits = 1 + pick(16);
    char buf[24];
    uint64_t v = rnd();
    for (unsigned i = 0; i < digits; i++) {
        unsigned d = (unsigned)(v >> (4 * i)) & 15;
        buf[digits - 1 - i] = d < 10 ? (char)('0' + d) : (char)((pick(2) ? 'a' : 'A') + d - 10);
    }
    buf[digits] = '\0';
    put(t, "%s", buf);
}

/* Decimal digits: mostly a small size; oddly 0, long, too large or none. */
static void put_dec(struct text *t)
{
    static const char *const edge[] = {"", "0", "4096", "4097", "1073741824", "1073741825",
                                       "65535", "65536", "9999999", "10000000", "00000008",
                                       "18446744073709551616", "4294967295", "4294967296"};
    if (odd(6))
        put(t, "%s", edge[pick(sizeof edge / sizeof edge[0])]);
    else if (pick(20) == 0)
        put(t, "%s", pick(2) ? "0008" : "4096");
    else
        put(t, "%u", 1u << pick(7));
}

/* Oddly, a junk byte, a blank, a tab or a control byte. */
static void put_junk(struct text *t)
{
    static const char junk[] = " \t,:x#Z\r\x01\x80g";
    if (odd(40))
        put(t, "%c", junk[pick(sizeof junk - 1)]);
}

static void put_eol(struct text *t)
{
    if (odd(10))
        put(t, "%s", pick(2) ? "\r\r\n" : " \n");
    else
        put(t, "%s", pick(6) ? "\n" : "\r\n");
}

static void put_prefix_0x(struct text *t)
{
    if (pick(2))
        put(t, pick(2) ? "0x" : "0X");
    if (odd(20))
        put(t, "0x"); /* a second one: "0x" is no digit */
}

static void gen_lackey(struct text *t)
{
    static const char *const lead[] = {"I  ", " L ", " S ", " M ", " X ", "I ",
                                       "  L", "S  ", "IL ", "==1== x"};
    unsigned l = odd(6) ? pick(10) : pick(50) ? pick(4) : 9;
    put(t, "%s", lead[l]);
    if (l == 9 || odd(60)) {
        put_eol(t);
        return;
    }
    put_hex(t);
    put_junk(t);
    put(t, "%s", odd(40) ? ";" : ",");
    put_dec(t);
    put_junk(t);
    put_eol(t);
}

static void gen_din(struct text *t, bool extended)
{
    static const char xtypes[] = "rwimcvRWIMCVxq";
    if (pick(30) == 0)
        put(t, pick(2) ? " " : "\t");
    if (pick(40) == 0) {
        put(t, "%s", odd(2) ? "" : "# comment");
        put_eol(t);
        return;
    }
    if (extended)
        put(t, "%c", xtypes[odd(5) ? pick(14) : pick(12)]);
    else
        put(t, odd(5) ? "0x%x" : "%x", odd(5) ? pick(8) : pick(6));
    put(t, "%s", pick(20) ? " " : pick(2) ? "\t" : "  ");
    put_prefix_0x(t);
    put_hex(t);
    if (extended) {
        put(t, "%s", odd(20) ? "" : pick(20) ? " " : "\t");
        put_prefix_0x(t);
        if (pick(4))
            put(t, "%x", 1u << pick(5));
        else
            put_hex(t);
    }
    put_junk(t);
    if (pick(30) == 0)
        put(t, " comment");
    put_eol(t);
}

/* A %p: "(nil)" or 0x-hex; oddly with `bad` for the 0x; maybe junk after. */
static void put_pin_ptr(struct text *t, const char *bad)
{
    if (pick(30) == 0) {
        put(t, "(nil)");
    } else {
        put(t, "%s", odd(30) ? bad : "0x");
        put_hex(t);
    }
    put_junk(t);
}

static void gen_pin(struct text *t)
{
    if (pick(40) == 0) {
        put(t, "%s", odd(2) ? "" : "#eof");
        put_eol(t);
        return;
    }
    put_pin_ptr(t, "0");
    put(t, "%s", odd(30) ? ":" : ": ");
    put(t, "%c%s", "RWX"[odd(7) ? 2 : pick(2)], odd(10) ? pick(2) ? "" : "\t" : " ");
    put_pin_ptr(t, "");
    if (pick(2)) {
        put(t, "%s", pick(10) ? " " : "  ");
        put_dec(t);
        if (pick(20) == 0)
            put(t, " ");
    }
    put_junk(t);
    put_eol(t);
}

static void gen_text(struct text *t)
{
    static const char *const kw[] = {"R", "W", "X", "M", "Q", "r"};
    if (pick(40) == 0) {
        put(t, "%s", pick(2) ? "# comment" : pick(2) ? "" : "  ");
        put_eol(t);
        return;
    }
    put(t, "%s ", kw[odd(10) ? pick(6) : pick(4)]);
    if (pick(10) == 0)
        put(t, "0x%x", pick(300));
    else
        put_dec(t);
    put(t, "%s", pick(30) ? " " : "\t");
    put_prefix_0x(t);
    put_hex(t);
    put_junk(t);
    put(t, " ");
    if (pick(10) == 0)
        put(t, "0x%x", 1 + pick(64));
    else
        put_dec(t);
    if (pick(3) == 0) {
        put(t, " ");
        put_dec(t);
    }
    if (pick(30) == 0)
        put(t, " # c");
    put_junk(t);
    put_eol(t);
}

/* ---- the reference readers ------------------------------------------------ */

/* A reference reader sees one line without its '\n' and with one '\r'
 * before it stripped; it returns 1 with *ev, 0 for no event, -1 to reject. */
typedef int (*ref_parse)(const char *line, size_t len, struct vmsim_event *ev);

static const char HEX[] = "0123456789abcdefABCDEF", DEC[] = "0123456789";

/* s[0, n) all of set, at least one, its value below 2^64 in base; -1 if not. */
static int ref_number(const char *s, size_t n, int base, uint64_t *v)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf || strspn(s, base == 16 ? HEX : DEC) < n) {
        /* long runs of zeros would not fit buf: none are generated */
        return -1;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    unsigned long long x = strtoull(buf, NULL, base);
    if (errno == ERANGE)
        return -1;
    *v = x;
    return 0;
}

static struct vmsim_event ref_access(unsigned kind, uint64_t addr, uint64_t len)
{
    struct vmsim_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = VMSIM_EV_ACCESS;
    ev.kind = (uint8_t)kind;
    ev.pid = 1;
    ev.addr = addr;
    ev.len = len;
    return ev;
}

/* lackey: "I  ADDR,SIZE" or " L|S|M ADDR,SIZE", ADDR hex, SIZE decimal 1-4096;
 * "==" lines skipped. */
static int ref_lackey(const char *line, size_t len, struct vmsim_event *ev)
{
    if (len >= 2 && line[0] == '=' && line[1] == '=')
        return 0;
    if (len < 3)
        return -1;
    unsigned kind;
    if (memcmp(line, "I  ", 3) == 0)
        kind = VMSIM_FETCH;
    else if (memcmp(line, " L ", 3) == 0)
        kind = VMSIM_READ;
    else if (memcmp(line, " S ", 3) == 0)
        kind = VMSIM_WRITE;
    else if (memcmp(line, " M ", 3) == 0)
        kind = VMSIM_MODIFY;
    else
        return -1;
    const char *comma = memchr(line + 3, ',', len - 3);
    uint64_t addr, size;
    if (!comma || ref_number(line + 3, (size_t)(comma - line - 3), 16, &addr) < 0 ||
        ref_number(comma + 1, (size_t)(line + len - comma - 1), 10, &size) < 0 || size == 0 ||
        size > 4096)
        return -1;
    *ev = ref_access(kind, addr, size);
    return 1;
}

/* din and xdin fields: hex with an optional 0x before a digit, ended by a
 * blank or the end of the line. */
static int ref_din_hex(const char **pp, const char *e, uint64_t *v)
{
    const char *p = *pp;
    if (e - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && strchr(HEX, p[2]) && p[2])
        p += 2;
    size_t n = 0;
    while (p + n < e && p[n] != ' ' && p[n] != '\t')
        n++;
    if (ref_number(p, n, 16, v) < 0)
        return -1;
    *pp = p + n;
    return 0;
}

static const char *ref_blanks(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static int ref_din_any(const char *line, size_t len, struct vmsim_event *ev, bool extended)
{
    const char *p = ref_blanks(line, line + len), *e = line + len;
    if (p == e)
        return -1;
    if (*p == '#')
        return 0;
    unsigned kind;
    uint64_t label, addr, size = 4;
    if (extended) {
        const char *types = "rwimcvRWIMCV", *c = *p ? strchr(types, *p) : NULL;
        static const int kinds[] = {VMSIM_READ, VMSIM_WRITE, VMSIM_FETCH, VMSIM_READ, -1, -1};
        if (!c || e - p < 2 || (p[1] != ' ' && p[1] != '\t'))
            return -1;
        int k = kinds[(c - types) % 6];
        kind = k < 0 ? 99 : (unsigned)k;
        p++;
    } else {
        static const unsigned kinds[] = {VMSIM_READ, VMSIM_WRITE, VMSIM_FETCH, VMSIM_READ, 99, 99};
        if (ref_din_hex(&p, e, &label) < 0 || label > 5)
            return -1;
        kind = kinds[label];
    }
    p = ref_blanks(p, e);
    if (ref_din_hex(&p, e, &addr) < 0)
        return -1;
    if (extended) {
        p = ref_blanks(p, e);
        if (ref_din_hex(&p, e, &size) < 0 || (kind != 99 && (size == 0 || size > (1u << 30))))
            return -1;
    } else {
        addr -= addr % 4;
    }
    if (kind == 99)
        return 0;
    *ev = ref_access(kind, addr, size);
    return 1;
}

static int ref_din(const char *line, size_t len, struct vmsim_event *ev)
{
    return ref_din_any(line, len, ev, false);
}

static int ref_xdin(const char *line, size_t len, struct vmsim_event *ev)
{
    return ref_din_any(line, len, ev, true);
}

/* pin: "(nil)" or 0x-hex. */
static int ref_pin_ptr(const char **pp, const char *e, uint64_t *v)
{
    const char *p = *pp;
    if (e - p >= 5 && memcmp(p, "(nil)", 5) == 0) {
        *v = 0;
        *pp = p + 5;
        return 0;
    }
    if (e - p < 3 || p[0] != '0' || (p[1] != 'x' && p[1] != 'X'))
        return -1;
    p += 2;
    size_t n = strspn(p, HEX);
    if (p + n > e)
        n = (size_t)(e - p);
    if (ref_number(p, n, 16, v) < 0)
        return -1;
    *pp = p + n;
    return 0;
}

static int ref_pin(const char *line, size_t len, struct vmsim_event *ev)
{
    const char *p = line, *e = line + len;
    uint64_t ip, addr, size = 1;
    if (p < e && *p == '#')
        return 0;
    if (ref_pin_ptr(&p, e, &ip) < 0 || e - p < 4 || p[0] != ':' || p[1] != ' ' ||
        (p[2] != 'R' && p[2] != 'W') || p[3] != ' ')
        return -1;
    unsigned kind = p[2] == 'R' ? VMSIM_READ : VMSIM_WRITE;
    p += 4;
    if (ref_pin_ptr(&p, e, &addr) < 0 || (p < e && *p != ' '))
        return -1;
    while (p < e && *p == ' ')
        p++;
    if (p < e) {
        size_t n = strspn(p, DEC);
        if (p + n > e)
            n = (size_t)(e - p);
        if (ref_number(p, n, 10, &size) < 0 || size == 0 || size > (1u << 30))
            return -1;
        p += n;
        while (p < e && *p == ' ')
            p++;
        if (p != e)
            return -1;
    }
    *ev = ref_access(kind, addr, size);
    return 1;
}

/* text numbers: decimal, or hex after 0x. */
static int ref_text_num(const char *s, size_t n, uint64_t *v)
{
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        return ref_number(s + 2, n - 2, 16, v);
    return ref_number(s, n, 10, v);
}

static int ref_text(const char *line, size_t len, struct vmsim_event *ev)
{
    const char *tok[8];
    size_t tn[8], nt = 0, i = 0;
    while (nt < 8) {
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i == len || line[i] == '#')
            break;
        tok[nt] = line + i;
        while (i < len && line[i] != ' ' && line[i] != '\t')
            i++;
        tn[nt] = (size_t)(line + i - tok[nt]);
        nt++;
    }
    if (nt == 0)
        return 0;
    static const char kinds[] = "RWXM";
    const char *k = tn[0] == 1 ? strchr(kinds, tok[0][0]) : NULL;
    if (!k || !tok[0][0] || nt < 4 || nt > 5)
        return -1;
    uint64_t pid, addr, size, cpu = 0;
    bool x = tn[2] > 2 && tok[2][0] == '0' && (tok[2][1] == 'x' || tok[2][1] == 'X');
    if (ref_text_num(tok[1], tn[1], &pid) < 0 || pid > UINT32_MAX ||
        ref_number(tok[2] + (x ? 2 : 0), tn[2] - (x ? 2 : 0), 16, &addr) < 0 ||
        ref_text_num(tok[3], tn[3], &size) < 0 || size == 0 || size > (1u << 30) ||
        (nt == 5 && (ref_text_num(tok[4], tn[4], &cpu) < 0 || cpu > 65535)))
        return -1;
    *ev = ref_access((unsigned)(k - kinds), addr, size);
    ev->pid = (vmsim_pid_t)pid;
    ev->cpu = (uint16_t)cpu;
    return 1;
}

/* Run the reference over data: the events (*out) up to the first bad
 * line, whose number goes in *bad_line (0: none). din refuses a last line
 * without its newline. */
static size_t ref_read(const char *data, size_t len, ref_parse parse, bool need_nl,
                       struct vmsim_event **out, uint64_t *bad_line)
{
    struct vmsim_event *evs = malloc((len + 1) * sizeof *evs);
    size_t n = 0;
    uint64_t line = 0;
    *bad_line = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - data - pos) : len - pos;
        line++;
        size_t ll = l > 0 && data[pos + l - 1] == '\r' ? l - 1 : l;
        int r = (!nl && need_nl) ? -1 : parse(data + pos, ll, &evs[n]);
        if (r < 0) {
            *bad_line = line;
            break;
        }
        n += (size_t)r;
        pos += l + 1;
    }
    *out = evs;
    return n;
}

/* ---- the comparison ----------------------------------------------------- */

static const size_t chunks[] = {0, 7, 64, 127, 128, 129, 300, 4096};

/* data read in chunks of chunk bytes gives what a byte-at-a-time read
 * gave: r (the count or the error), the events slow[0, nslow) and, after
 * an error, slow_err word for word. */
static void same_read(const void *data, size_t len, const char *fmt, size_t chunk, long r,
                      const struct vmsim_event *slow, size_t nslow,
                      const struct vmsim_source_error *slow_err)
{
    struct vmsim_event *got;
    struct vmsim_source_error err;
    size_t ngot;
    long g = tt_read(data, len, fmt, chunk, &got, &ngot, &err);
    assert_int_equal(g, r);
    assert_int_equal(ngot, nslow);
    tt_assert_events(got, slow, nslow);
    if (g < 0) {
        assert_string_equal(err.where, slow_err->where);
        assert_string_equal(err.expected, slow_err->expected);
        assert_string_equal(err.found, slow_err->found);
    }
    free(got);
}

/* data in format fmt: the reference's events and bad line; the reader's
 * at every chunk size the same, and the same error text as byte by byte. */
static void compare(const char *data, size_t len, const char *fmt, ref_parse parse, bool need_nl)
{
    struct vmsim_event *want;
    uint64_t bad;
    size_t nwant = ref_read(data, len, parse, need_nl, &want, &bad);

    struct vmsim_event *slow;
    struct vmsim_source_error slow_err;
    size_t nslow;
    long r = tt_read(data, len, fmt, 1, &slow, &nslow, &slow_err);
    if ((r < 0) != (bad != 0) || nslow != nwant) {
        print_error("%s: reference: %zu events, bad line %llu; reader: %zu events, %s%s%s%s%s\n",
                    fmt, nwant, (unsigned long long)bad, nslow, r < 0 ? slow_err.where : "no error",
                    r < 0 ? ": expected " : "", r < 0 ? slow_err.expected : "",
                    r < 0 ? ", found " : "", r < 0 ? slow_err.found : "");
        fail();
    }
    tt_assert_events(slow, want, nwant);
    if (bad) {
        char where[64];
        snprintf(where, sizeof where, "<memory>:%llu", (unsigned long long)bad);
        assert_string_equal(slow_err.where, where);
    }
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++)
        same_read(data, len, fmt, chunks[c], r, slow, nslow, &slow_err);
    free(slow);
    free(want);
}

/* Many traces of random lines in each format: short ones (an error early,
 * lines across the margin) and long ones, mostly good lines. */
static void fuzz_format(const char *fmt, void (*gen)(struct text *), ref_parse parse,
                        bool need_nl, unsigned rounds)
{
    struct text t = {NULL, 0, 0};
    put(&t, "%s", "");
    unsigned errors = 0, clean = 0;
    for (unsigned round = 0; round < rounds; round++) {
        t.n = 0;
        chaos = round % 2;
        unsigned lines = 1 + pick(round % 4 == 0 ? 400 : 40);
        for (unsigned i = 0; i < lines; i++) {
            odd_line = chaos && pick(8) == 0;
            gen(&t);
        }
        if (pick(4) == 0 && t.n > 0 && t.p[t.n - 1] == '\n')
            t.n--; /* the last line without its newline */
        compare(t.p, t.n, fmt, parse, need_nl);
        struct vmsim_event *e;
        uint64_t bad;
        free((ref_read(t.p, t.n, parse, need_nl, &e, &bad), e));
        bad ? errors++ : clean++;
    }
    /* both outcomes were exercised */
    assert_true(errors > rounds / 20);
    assert_true(clean > rounds / 20);
    free(t.p);
}

static void gen_din_plain(struct text *t) { gen_din(t, false); }
static void gen_din_x(struct text *t) { gen_din(t, true); }

/* One format's case: its generator, its reference, whether a last line
 * needs its newline, the seed. */
struct fast_case {
    const char *fmt;
    void (*gen)(struct text *);
    ref_parse parse;
    bool need_nl;
    uint64_t seed;
};

static struct fast_case cases[] = {
    {"lackey", gen_lackey, ref_lackey, false, 0x1234567u},
    {"din", gen_din_plain, ref_din, true, 0x2345678u},
    {"xdin", gen_din_x, ref_xdin, true, 0x3456789u},
    {"pin", gen_pin, ref_pin, false, 0x456789au},
    {"text", gen_text, ref_text, false, 0x56789abu},
};

static void test_format(void **state)
{
    const struct fast_case *c = *state;
    rng_state = c->seed;
    fuzz_format(c->fmt, c->gen, c->parse, c->need_nl, 3000);
}

/* The fast path is taken: a long run of common lines read whole gives the
 * same events as byte by byte, with an error far into it on the same
 * line. (The random traces above mostly stay short.) */
static void test_long_runs(void **state)
{
    (void)state;
    rng_state = 0x6789abcu;
    struct text t = {NULL, 0, 0};
    for (unsigned i = 0; i < 20000; i++)
        put(&t, " %c %llx,%u\n", "LSM"[i % 3], (unsigned long long)(rnd() >> pick(64)),
            1u << pick(4));
    compare(t.p, t.n, "lackey", ref_lackey, false);
    put(&t, " L 12345678,0\n");
    compare(t.p, t.n, "lackey", ref_lackey, false);
    free(t.p);
}

/* ---- the number parsers ------------------------------------------------- */

/* Every digit count 0-17 in both cases, each followed by every kind of
 * terminator, at every alignment in a buffer: hex_span_wide and its
 * portable version as strtoull, or 17 for "more than 16"; dec_span_wide
 * likewise up to 8. */
static void test_numbers(void **state)
{
    (void)state;
    rng_state = 0x789abcdu;
    static const char ends[] = ",\n\r :xgG/@`\x80\xff";
    unsigned char buf[64];
    uint64_t v2 = 0;
    for (unsigned round = 0; round < 20000; round++) {
        unsigned digits = pick(18), at = pick(16);
        memset(buf, 'z', sizeof buf);
        for (unsigned i = 0; i < 40; i++)
            buf[at + i] = (unsigned char)HEX[pick(sizeof HEX - 1)]; /* beyond: noise */
        for (unsigned i = 0; i < digits; i++)
            buf[at + i] = (unsigned char)HEX[pick(sizeof HEX - 1)];
        buf[at + digits] = (unsigned char)ends[pick(sizeof ends - 1)];
        char s[32];
        memcpy(s, buf + at, digits);
        s[digits] = '\0';
        uint64_t v = 0;
        unsigned k = hex_span_wide(buf + at, &v), k2 = hex_span_wide_swar(buf + at, &v2);
        assert_int_equal(k2, k);
        if (digits == 17) {
            assert_int_equal(k, 17);
        } else {
            assert_int_equal(k, digits);
            if (digits > 0) {
                assert_int_equal(v, strtoull(s, NULL, 16));
                assert_int_equal(v2, v);
            }
        }
        /* the same places as decimal digits */
        for (unsigned i = 0; i < digits; i++)
            buf[at + i] = (unsigned char)('0' + pick(10));
        memcpy(s, buf + at, digits);
        k = dec_span_wide(buf + at, &v);
        if (digits >= 8) {
            assert_int_equal(k, 8);
        } else {
            assert_int_equal(k, digits);
            if (digits > 0)
                assert_int_equal(v, strtoull(s, NULL, 10));
        }
    }
}

/* ---- bin --------------------------------------------------------------- */

static size_t bin_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    do {
        p[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            p[n] |= 0x80;
        n++;
    } while (v);
    return n;
}

/* A reference decoder of the records test_bin makes (docs/traces.md):
 * the events up to the first bad or cut record; *bad set if there is one. */
static int ref_varint(const unsigned char **pp, const unsigned char *e, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < 10; i++) {
        if (*pp == e)
            return -1;
        unsigned c = *(*pp)++;
        if (i == 9 && c > 1)
            return -1;
        x |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

static size_t ref_bin(const unsigned char *b, size_t len, struct vmsim_event *out, bool *bad)
{
    const unsigned char *p = b + 8, *e = b + len;
    uint64_t addr[2] = {0, 0}, size[2] = {1, 1}, pid = 0, cpu = 0, v;
    size_t n = 0;
    *bad = true;
    while (p < e) {
        unsigned tag = *p++;
        struct vmsim_event ev;
        memset(&ev, 0, sizeof ev);
        if (tag == (0x80 | VMSIM_EV_EXIT)) {
            if (ref_varint(&p, e, &v) < 0 || v > UINT32_MAX)
                return n;
            ev.type = VMSIM_EV_EXIT;
            ev.pid = (vmsim_pid_t)v;
            out[n++] = ev;
            continue;
        }
        if (tag & 0xc0)
            return n;
        unsigned s = (tag & 3) == VMSIM_FETCH;
        if ((tag & 0x04) && (ref_varint(&p, e, &pid) < 0 || pid > UINT32_MAX))
            return n;
        if ((tag & 0x08) && (ref_varint(&p, e, &cpu) < 0 || cpu > 65535))
            return n;
        uint64_t a = addr[s] + size[s];
        if ((tag & 0x10) && (ref_varint(&p, e, &size[s]) < 0 || size[s] == 0 ||
                             size[s] > (1u << 30)))
            return n;
        if (!(tag & 0x20)) {
            if (ref_varint(&p, e, &v) < 0)
                return n;
            a = addr[s] + ((v >> 1) ^ (0 - (v & 1)));
        }
        addr[s] = a;
        ev.type = VMSIM_EV_ACCESS;
        ev.kind = (uint8_t)(tag & 3);
        ev.pid = (vmsim_pid_t)pid;
        ev.cpu = (uint16_t)cpu;
        ev.addr = a;
        ev.len = size[s];
        out[n++] = ev;
    }
    *bad = false;
    return n;
}

/* Random access records with every field and varints of 1 to 10 bytes
 * (some padded with continuation bytes), an exit record now and then, and
 * sometimes a bad value or a cut record: the reader as the reference
 * decoder, and with the same error whole and byte by byte. */
static void test_bin(void **state)
{
    (void)state;
    rng_state = 0x89abcdeu;
    unsigned char *b = malloc(1 << 20);
    struct vmsim_event *want = malloc(4000 * sizeof *want);
    for (unsigned round = 0; round < 300; round++) {
        size_t n = 0;
        memcpy(b, "VMSIMBT\x01", 8);
        n = 8;
        unsigned records = 1 + pick(round % 3 ? 50 : 3000);
        for (unsigned i = 0; i < records; i++) {
            if (pick(50) == 0) { /* exit 7 */
                b[n++] = 0x80 | VMSIM_EV_EXIT;
                b[n++] = 7;
                continue;
            }
            unsigned tag = pick(64) & ~(pick(200) ? 0x40u : 0u);
            b[n++] = (unsigned char)tag;
            if (tag & 0x04)
                n += bin_varint(b + n, pick(100) ? pick(70000) : rnd() >> pick(32));
            if (tag & 0x08)
                n += bin_varint(b + n, pick(100) ? pick(16) : rnd() >> pick(48));
            static const uint64_t edge[] = {0, 1, 1u << 30, (1u << 30) + 1};
            if (tag & 0x10)
                n += bin_varint(b + n, pick(100) ? 1 + pick(64)
                                       : pick(2) ? edge[pick(4)] : rnd() >> pick(64));
            if (!(tag & 0x20)) {
                uint64_t z = rnd() >> pick(64);
                if (pick(30) == 0) { /* a padded varint: 0x80 bytes then 0 */
                    unsigned pad = pick(10);
                    for (unsigned j = 0; j < pad; j++)
                        b[n++] = 0x80;
                    b[n++] = 0;
                } else {
                    n += bin_varint(b + n, z);
                }
            }
        }
        if (pick(5) == 0)
            n -= pick(3); /* cut inside a record, perhaps */
        struct vmsim_event *slow;
        struct vmsim_source_error slow_err;
        size_t nslow;
        bool bad;
        size_t nwant = ref_bin(b, n, want, &bad);
        long r = tt_read(b, n, "bin", 1, &slow, &nslow, &slow_err);
        assert_int_equal(r < 0, bad);
        assert_int_equal(nslow, nwant);
        tt_assert_events(slow, want, nwant);
        same_read(b, n, "bin", 0, r, slow, nslow, &slow_err);
        free(slow);
    }
    free(want);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        {"lackey", test_format, NULL, NULL, &cases[0]},
        {"din", test_format, NULL, NULL, &cases[1]},
        {"xdin", test_format, NULL, NULL, &cases[2]},
        {"pin", test_format, NULL, NULL, &cases[3]},
        {"text", test_format, NULL, NULL, &cases[4]},
        cmocka_unit_test(test_long_runs),
        cmocka_unit_test(test_bin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
