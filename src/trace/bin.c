/* The vmsim binary trace format (.vmt): compact and fast to read, for long
 * traces and for `vmsim convert` output. docs/traces.md has the byte layout.
 *
 * An 8-byte header "VMSIMBT" + version 1, then records. A record is a tag
 * byte and LEB128 varints. Access records are coded against a small state
 * shared by writer and reader (struct bin_state): the current pid and cpu,
 * and per stream (instruction fetches; data accesses) the previous address
 * and size. Tag bits say which of pid, cpu and size changed; the address is
 * either "right after the previous access of the stream" (no bytes) or a
 * zig-zag varint delta from the previous address of the stream. Splitting
 * the streams matters for real traces: fetches and data accesses interleave
 * and live far apart, but each stream on its own moves in small steps.
 * OS events are rare and carry their fields in full; an mmap record has
 * two more fields (file id, page offset) when a bit of its prot says so.
 *
 * There is no trailer: a file cut at a record boundary reads as a shorter
 * valid trace, a file cut inside a record is an error. */
#include <stdio.h>
#include <stdlib.h>

#include "trace/formats.h"

#define BIN_MAGIC "VMSIMBT"
#define BIN_VERSION 1
#define BIN_HEADER_LEN 8

/* Tag byte. Bit 7 clear: an access record. */
#define BIN_OS 0x80       /* set: OS event record, event type in bits 0-6 */
#define BIN_KIND 0x03     /* access kind (enum vmsim_access_kind) */
#define BIN_PID 0x04      /* a new pid follows */
#define BIN_CPU 0x08      /* a new cpu follows */
#define BIN_SIZE 0x10     /* a new size for this stream follows */
#define BIN_SEQ 0x20      /* address = previous address + previous size; no delta */
#define BIN_RESERVED 0x40 /* must be clear in version 1 */

/* The prot varint of an mmap record holds the event's kind (VMSIM_PROT_*
 * and VMSIM_MAP_* bits) and this bit: a file id and a page offset follow. */
#define BIN_MAP_FILE 0x20
#define BIN_MAP_BITS (TRACE_PROT_ALL | VMSIM_MAP_FLAGS | BIN_MAP_FILE)
_Static_assert(((TRACE_PROT_ALL | VMSIM_MAP_FLAGS) & BIN_MAP_FILE) == 0,
               "BIN_MAP_FILE must not collide with an mmap kind bit");

#define BIN_VARINT_MAX 10
#define BIN_RECORD_MAX (1 + 6 * BIN_VARINT_MAX) /* an mmap of a file */
#define BIN_TAG_EXPECTED "a record tag (0x00-0x3f access, 0x81-0x8a OS event)"

/* Fields of the OS event records, in order, 0-terminated. BF_FILE and
 * what follows it are present only when the mmap prot has BIN_MAP_FILE. */
enum {
    BF_END,
    BF_PID,
    BF_CPU,
    BF_ADDR,
    BF_LEN,
    BF_PROT,    /* mprotect: VMSIM_PROT_* */
    BF_MAPPROT, /* mmap: VMSIM_PROT_*, VMSIM_MAP_* and BIN_MAP_FILE */
    BF_CHILD,   /* fork: the child's pid, in ev->addr */
    BF_ADVICE,  /* enum vmsim_advice, in ev->kind */
    BF_FILE,    /* file id, 1 to 2^32-1 */
    BF_PGOFF,   /* offset into the file in 4 KiB pages, below 2^32 */
    BF_VMID,    /* a VM id, 2 to 255: VMSIM_EV_VM's addr, a spawn's file */
    BF_MEM,     /* guest memory in bytes (0: the machine's) */
};
/* A spawn into a VM other than VM 1 has its own tag (0x8a): a spawn
 * record has no room for more fields. */
#define BIN_SPAWN_VM VMSIM_EV_NTYPES
static const uint8_t bin_os_fields[VMSIM_EV_NTYPES + 1][7] = {
    [VMSIM_EV_SPAWN] = {BF_PID},
    [VMSIM_EV_VM] = {BF_VMID, BF_MEM},
    [BIN_SPAWN_VM] = {BF_PID, BF_VMID},
    [VMSIM_EV_EXIT] = {BF_PID},
    [VMSIM_EV_MMAP] = {BF_PID, BF_ADDR, BF_LEN, BF_MAPPROT, BF_FILE, BF_PGOFF},
    [VMSIM_EV_MUNMAP] = {BF_PID, BF_ADDR, BF_LEN},
    [VMSIM_EV_MPROTECT] = {BF_PID, BF_ADDR, BF_LEN, BF_PROT},
    [VMSIM_EV_SWITCH] = {BF_CPU, BF_PID},
    [VMSIM_EV_FORK] = {BF_PID, BF_CHILD},
    [VMSIM_EV_MADVISE] = {BF_PID, BF_ADDR, BF_LEN, BF_ADVICE},
};
static const char *const bin_type_names[VMSIM_EV_NTYPES + 1] = {
    "access", "spawn", "exit", "mmap", "munmap", "mprotect", "switch", "fork", "madvise", "vm",
    "spawn in a VM",
};

/* Coding state; both ends start from bin_state_init. Stream 1 is
 * instruction fetches, stream 0 everything else. */
struct bin_state {
    uint64_t addr[2], size[2];
    vmsim_pid_t pid;
    uint16_t cpu;
};

static void bin_state_init(struct bin_state *st)
{
    memset(st, 0, sizeof *st);
    st->size[0] = st->size[1] = 1;
}

/* Zig-zag: small negative and positive deltas both become small numbers
 * (0, -1, 1, -2 ... -> 0, 1, 2, 3 ...). Unsigned arithmetic throughout. */
static inline uint64_t bin_zigzag(uint64_t d) { return (d << 1) ^ (0 - (d >> 63)); }
static inline uint64_t bin_unzigzag(uint64_t z) { return (z >> 1) ^ (0 - (z & 1)); }

bool bin_sniff(const unsigned char *head, size_t len)
{
    return len >= sizeof BIN_MAGIC - 1 && memcmp(head, BIN_MAGIC, sizeof BIN_MAGIC - 1) == 0;
}

/* ---- reader ---------------------------------------------------------------- */

struct bin_source {
    struct vmsim_source base;
    struct input in;
    struct bin_state st;
    uint64_t last; /* offset of the record last decoded, for bin_where */
};

static int bin_fail(struct bin_source *s, const unsigned char *at, const char *expected,
                    const char *found)
{
    uint64_t off = s->in.base + (uint64_t)(at - s->in.buf);
    char where[sizeof s->base.err.where];
    input_where(&s->in, off, where, sizeof where);
    source_fail(&s->base.err, expected, found, found ? strlen(found) : 0, "%s", where);
    if (found) /* our own wording: no quotes */
        snprintf(s->base.err.found, sizeof s->base.err.found, "%s", found);
    input_check_rest(&s->in, &s->base.err); /* corrupt compressed data, if so, replaces it */
    return VMSIM_EPARSE;
}

enum { BIN_GET_OK = 0, BIN_GET_TRUNC = -1, BIN_GET_LONG = -2, BIN_GET_OVER = -3 };

static inline int bin_get(const unsigned char **pp, const unsigned char *end, uint64_t *v)
{
    const unsigned char *p = *pp;
    uint64_t x = 0;
    for (unsigned i = 0; i < BIN_VARINT_MAX; i++) {
        if (p == end)
            return BIN_GET_TRUNC;
        unsigned b = *p++;
        if (i == BIN_VARINT_MAX - 1 && b > 1) /* only bit 63 is left */
            return b & 0x80 ? BIN_GET_LONG : BIN_GET_OVER;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            *pp = p;
            return BIN_GET_OK;
        }
    }
    return BIN_GET_LONG; /* not reached: the 10th byte has no continuation bit */
}

/* Read one varint field; on failure fill the error. */
static inline int bin_field(struct bin_source *s, const unsigned char **pp,
                            const unsigned char *end, const unsigned char *rec, uint64_t *v)
{
    const unsigned char *p = *pp;
    if (p < end && *p < 0x80) { /* the common one-byte case */
        *v = *p;
        *pp = p + 1;
        return 0;
    }
    int r = bin_get(pp, end, v);
    if (r == BIN_GET_OK)
        return 0;
    char what[128];
    unsigned type = rec[0] & BIN_OS ? rec[0] & 0x7fu : 0;
    switch (r) {
    case BIN_GET_TRUNC:
        snprintf(what, sizeof what, "the rest of the %s record that starts at byte %llu",
                 bin_type_names[type],
                 (unsigned long long)(s->in.base + (uint64_t)(rec - s->in.buf)));
        return bin_fail(s, end, what, NULL);
    case BIN_GET_LONG:
        return bin_fail(s, p, "a varint of at most 10 bytes", "a longer varint");
    default:
        return bin_fail(s, p, "a varint below 2^64", "a larger varint");
    }
}

static int bin_bad_value(struct bin_source *s, const unsigned char *at, const char *expected,
                         uint64_t v)
{
    char found[24];
    snprintf(found, sizeof found, "%llu", (unsigned long long)v);
    return bin_fail(s, at, expected, found);
}

/* Is v a valid value of field? ev holds the fields before it. */
static inline int bin_check(struct bin_source *s, const unsigned char *at, int field, uint64_t v,
                            const struct vmsim_event *ev)
{
    switch (field) {
    case BF_PID:
        if (v > UINT32_MAX)
            return bin_bad_value(s, at, "a pid below 2^32", v);
        break;
    case BF_CPU:
        if (v > UINT16_MAX)
            return bin_bad_value(s, at, "a cpu below 65536", v);
        break;
    case BF_LEN:
        if (v == 0)
            return bin_bad_value(s, at, "a size or length of at least 1", v);
        break;
    case BF_PROT:
        if (v > TRACE_PROT_ALL)
            return bin_bad_value(s, at, "protection bits 0-7", v);
        break;
    case BF_MAPPROT:
        if (v > BIN_MAP_BITS)
            return bin_bad_value(s, at, "mmap prot bits 0-5 (rwx, shared, supervisor, file)", v);
        break;
    case BF_CHILD:
        if (v > UINT32_MAX || v == ev->pid)
            return bin_bad_value(s, at, "a child pid below 2^32, not the parent's", v);
        break;
    case BF_ADVICE:
        if (v >= VMSIM_ADV_NTYPES)
            return bin_bad_value(s, at, "advice 0-2 (normal, hugepage, nohugepage)", v);
        break;
    case BF_FILE:
        if (v == 0 || v > UINT32_MAX)
            return bin_bad_value(s, at, "a file id from 1 to 2^32-1", v);
        break;
    case BF_PGOFF:
        if (v > UINT32_MAX)
            return bin_bad_value(s, at, "a file offset below 2^32 pages", v);
        break;
    case BF_VMID:
        if (v < 2 || v >= VMSIM_MAX_VMS)
            return bin_bad_value(s, at, "a VM id from 2 to 255", v);
        break;
    case BF_MEM:
        break;
    }
    return 0;
}

/* Decode the record at *pp into *ev and advance *pp past it. */
static int bin_decode(struct bin_source *s, const unsigned char **pp, const unsigned char *end,
                      struct vmsim_event *ev)
{
    const unsigned char *rec = *pp, *p = rec + 1, *at;
    unsigned tag = rec[0];
    struct bin_state *st = &s->st;
    uint64_t v;
    memset(ev, 0, sizeof *ev);
    if (!(tag & BIN_OS)) {
        if (tag & BIN_RESERVED) {
            char found[16];
            snprintf(found, sizeof found, "0x%02x", tag);
            return bin_fail(s, rec, BIN_TAG_EXPECTED, found);
        }
        unsigned kind = tag & BIN_KIND, stream = kind == VMSIM_FETCH;
        if (tag & BIN_PID) {
            at = p;
            if (bin_field(s, &p, end, rec, &v) < 0 || bin_check(s, at, BF_PID, v, ev) < 0)
                return VMSIM_EPARSE;
            st->pid = (vmsim_pid_t)v;
        }
        if (tag & BIN_CPU) {
            at = p;
            if (bin_field(s, &p, end, rec, &v) < 0 || bin_check(s, at, BF_CPU, v, ev) < 0)
                return VMSIM_EPARSE;
            st->cpu = (uint16_t)v;
        }
        uint64_t addr = st->addr[stream] + st->size[stream]; /* with the old size */
        if (tag & BIN_SIZE) {
            at = p;
            if (bin_field(s, &p, end, rec, &v) < 0 || bin_check(s, at, BF_LEN, v, ev) < 0)
                return VMSIM_EPARSE;
            if (v > TRACE_ACCESS_MAX)
                return bin_bad_value(s, at, "an access size from 1 to 2^30 (1 GiB)", v);
            st->size[stream] = v;
        }
        if (!(tag & BIN_SEQ)) {
            if (bin_field(s, &p, end, rec, &v) < 0)
                return VMSIM_EPARSE;
            addr = st->addr[stream] + bin_unzigzag(v);
        }
        st->addr[stream] = addr;
        ev->type = VMSIM_EV_ACCESS;
        ev->kind = (uint8_t)kind;
        ev->cpu = st->cpu;
        ev->pid = st->pid;
        ev->addr = addr;
        ev->len = st->size[stream];
        *pp = p;
        return 0;
    }
    unsigned type = tag & 0x7fu;
    if (type == VMSIM_EV_ACCESS || type > BIN_SPAWN_VM) {
        char found[16];
        snprintf(found, sizeof found, "0x%02x", tag);
        return bin_fail(s, rec, BIN_TAG_EXPECTED, found);
    }
    ev->type = (uint8_t)(type == BIN_SPAWN_VM ? VMSIM_EV_SPAWN : type);
    bool file = false;
    for (const uint8_t *f = bin_os_fields[type]; *f != BF_END; f++) {
        if (*f == BF_FILE && !file)
            break;
        at = p;
        if (bin_field(s, &p, end, rec, &v) < 0 || bin_check(s, at, *f, v, ev) < 0)
            return VMSIM_EPARSE;
        switch (*f) {
        case BF_PID: ev->pid = (vmsim_pid_t)v; break;
        case BF_CPU: ev->cpu = (uint16_t)v; break;
        case BF_ADDR: ev->addr = v; break;
        case BF_LEN: ev->len = v; break;
        case BF_PROT: ev->kind = (uint8_t)v; break;
        case BF_MAPPROT:
            ev->kind = (uint8_t)(v & ~(uint64_t)BIN_MAP_FILE);
            file = v & BIN_MAP_FILE;
            break;
        case BF_CHILD: ev->addr = v; break;
        case BF_ADVICE: ev->kind = (uint8_t)v; break;
        case BF_FILE: ev->file = (uint32_t)v; break;
        case BF_PGOFF: ev->pgoff = (uint32_t)v; break;
        case BF_VMID:
            if (type == BIN_SPAWN_VM)
                ev->file = (uint32_t)v;
            else
                ev->addr = v;
            break;
        case BF_MEM: ev->len = v; break;
        }
    }
    *pp = p;
    return 0;
}

/* ---- the fast path ---------------------------------------------------------
 * Access records, decoded while a whole record of the longest kind is in
 * the buffer: varints of up to 8 bytes a word at a time (the bytes up to
 * the first without the continuation bit are kept, their 7-bit groups
 * closed up in three steps), the state kept in locals and stored once.
 * Anything else -- an OS record, a longer varint, a value out of range --
 * goes to bin_decode, which alone reports errors; the fast path leaves
 * the state as it found it for a record it hands over. */

/* The varint at *pp if it has at most 8 bytes: 1 with *v, *pp past it;
 * 0 otherwise (*pp untouched). */
static inline int bin_fast_get(const unsigned char **pp, uint64_t *v)
{
    const uint64_t w = swar_load(*pp), last = ~w & SWAR_HIGHS;
    if (!last)
        return 0;
    const unsigned bits = (unsigned)__builtin_ctzll(last) + 1; /* through the last byte */
    uint64_t x = (bits == 64 ? w : w & ((1ull << bits) - 1)) & ~SWAR_HIGHS;
    x = (x & 0x007f007f007f007full) | (x & 0x7f007f007f007f00ull) >> 1;
    x = (x & 0x00003fff00003fffull) | (x & 0x3fff00003fff0000ull) >> 2;
    x = (x & 0x000000000fffffffull) | (x & 0x0fffffff00000000ull) >> 4;
    *v = x;
    *pp += bits >> 3;
    return 1;
}

/* Decode access records from buf[pos] on while BIN_RECORD_MAX bytes are
 * left: the count made in ev[0, max). */
static size_t bin_fast(struct bin_source *s, struct vmsim_event *ev, size_t max)
{
    const unsigned char *p = s->in.buf + s->in.pos, *rec = p;
    const unsigned char *const stop = s->in.buf + s->in.end - BIN_RECORD_MAX;
    struct bin_state st = s->st;
    size_t n = 0;
    for (; n < max && p <= stop; n++) {
        const unsigned tag = *p;
        const unsigned char *q = p + 1;
        uint64_t pid = st.pid, cpu = st.cpu, v;
        if (tag & (BIN_OS | BIN_RESERVED))
            break;
        const unsigned kind = tag & BIN_KIND, stream = kind == VMSIM_FETCH;
        uint64_t size = st.size[stream], addr = st.addr[stream] + size;
        if ((tag & BIN_PID) && (!bin_fast_get(&q, &pid) || pid > UINT32_MAX))
            break;
        if ((tag & BIN_CPU) && (!bin_fast_get(&q, &cpu) || cpu > UINT16_MAX))
            break;
        if ((tag & BIN_SIZE) && (!bin_fast_get(&q, &size) || size - 1 >= TRACE_ACCESS_MAX))
            break;
        if (!(tag & BIN_SEQ)) {
            if (!bin_fast_get(&q, &v))
                break;
            addr = st.addr[stream] + bin_unzigzag(v);
        }
        st.pid = (vmsim_pid_t)pid;
        st.cpu = (uint16_t)cpu;
        st.size[stream] = size;
        st.addr[stream] = addr;
        ev[n] = (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = (uint8_t)kind,
                                     .cpu = st.cpu, .pid = st.pid, .addr = addr, .len = size};
        rec = p;
        p = q;
    }
    if (n > 0)
        s->last = s->in.base + (uint64_t)(rec - s->in.buf);
    s->in.pos = (size_t)(p - s->in.buf);
    s->st = st;
    return n;
}

static long bin_next(struct vmsim_source *src, struct vmsim_event *buf, size_t max)
{
    struct bin_source *s = (struct bin_source *)src;
    size_t n = 0;
    int err = 0;
    while (n < max) {
        n += bin_fast(s, buf + n, max - n);
        if (n == max)
            break;
        if (input_avail(&s->in) < BIN_RECORD_MAX) {
            long a = input_need(&s->in, BIN_RECORD_MAX);
            if (a < 0) {
                err = input_fail_io(&s->in, &s->base.err);
                break;
            }
            if (a == 0)
                break;
        }
        /* A whole record is in the buffer unless the input ends first, so
         * the decoder only needs `end` to catch truncated files. */
        const unsigned char *p = s->in.buf + s->in.pos, *end = s->in.buf + s->in.end;
        s->last = input_offset(&s->in);
        err = bin_decode(s, &p, end, &buf[n]);
        if (err < 0)
            break;
        s->in.pos = (size_t)(p - s->in.buf);
        n++;
    }
    s->base.bytes = input_consumed(&s->in);
    if (err < 0)
        src->pending = err; /* delivered after the events before it */
    return (long)n;
}

static void bin_close(struct vmsim_source *src)
{
    struct bin_source *s = (struct bin_source *)src;
    input_close(&s->in);
    free(s);
}

/* The record of the last event delivered, by its byte offset. */
static void bin_where(const struct vmsim_source *src, char *buf, size_t len)
{
    const struct bin_source *s = (const struct bin_source *)src;
    input_where(&s->in, s->last, buf, len);
}

static const struct source_ops bin_source_ops = {"bin", bin_next, bin_close, bin_where};

int bin_source_open(struct input *in, struct vmsim_source **out, struct vmsim_source_error *err)
{
    struct bin_source *s = calloc(1, sizeof *s);
    if (!s) {
        input_close(in);
        return VMSIM_ENOMEM;
    }
    s->base.ops = &bin_source_ops;
    s->in = *in;
    bin_state_init(&s->st);
    long a = input_need(&s->in, BIN_HEADER_LEN);
    int r = VMSIM_OK;
    const unsigned char *h = s->in.buf + s->in.pos;
    char where[2][sizeof err->where];
    input_where(&s->in, 0, where[0], sizeof where[0]);
    input_where(&s->in, BIN_HEADER_LEN - 1, where[1], sizeof where[1]);
    if (a < 0) {
        r = input_fail_io(&s->in, err);
    } else if (a < BIN_HEADER_LEN - 1 || memcmp(h, BIN_MAGIC, BIN_HEADER_LEN - 1) != 0) {
        r = source_fail(err, "the vmsim binary header \"VMSIMBT\" + version byte",
                        (const char *)h, a < BIN_HEADER_LEN ? (size_t)a : BIN_HEADER_LEN,
                        "%s", where[0]);
    } else if (a < BIN_HEADER_LEN || h[BIN_HEADER_LEN - 1] != BIN_VERSION) {
        r = source_fail(err, "format version 1", NULL, 0, "%s", where[1]);
        if (a >= BIN_HEADER_LEN)
            snprintf(err->found, sizeof err->found, "version %u", h[BIN_HEADER_LEN - 1]);
    } else {
        s->in.pos += BIN_HEADER_LEN;
        s->base.bytes = input_consumed(&s->in);
    }
    if (r < 0) {
        input_close(&s->in);
        free(s);
        return r;
    }
    *out = &s->base;
    return VMSIM_OK;
}

/* ---- writer ---------------------------------------------------------------- */

struct bin_sink {
    struct vmsim_sink base;
    struct bin_state st;
};

static inline unsigned char *bin_put(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

static int bin_write(struct vmsim_sink *sink, const struct vmsim_event *ev, size_t n)
{
    struct bin_sink *b = (struct bin_sink *)sink;
    struct bin_state *st = &b->st;
    for (size_t i = 0; i < n; i++, ev++) {
        /* Check first: a rejected event must leave the state untouched. */
        if (!trace_event_valid(ev))
            return VMSIM_EINVAL;

        unsigned char *p = output_reserve(&sink->out, BIN_RECORD_MAX);
        if (!p)
            return sink->out.err;
        unsigned char *start = p++;
        if (ev->type == VMSIM_EV_ACCESS) {
            unsigned stream = ev->kind == VMSIM_FETCH;
            unsigned tag = ev->kind;
            if (ev->pid != st->pid) {
                tag |= BIN_PID;
                p = bin_put(p, ev->pid);
                st->pid = ev->pid;
            }
            if (ev->cpu != st->cpu) {
                tag |= BIN_CPU;
                p = bin_put(p, ev->cpu);
                st->cpu = ev->cpu;
            }
            uint64_t next = st->addr[stream] + st->size[stream];
            if (ev->len != st->size[stream]) {
                tag |= BIN_SIZE;
                p = bin_put(p, ev->len);
                st->size[stream] = ev->len;
            }
            if (ev->addr == next)
                tag |= BIN_SEQ;
            else
                p = bin_put(p, bin_zigzag(ev->addr - st->addr[stream]));
            st->addr[stream] = ev->addr;
            *start = (unsigned char)tag;
        } else {
            const unsigned type =
                ev->type == VMSIM_EV_SPAWN && ev->file ? BIN_SPAWN_VM : ev->type;
            *start = (unsigned char)(BIN_OS | type);
            for (const uint8_t *f = bin_os_fields[type]; *f != BF_END; f++) {
                if (*f == BF_FILE && !ev->file)
                    break;
                switch (*f) {
                case BF_PID: p = bin_put(p, ev->pid); break;
                case BF_CPU: p = bin_put(p, ev->cpu); break;
                case BF_ADDR: p = bin_put(p, ev->addr); break;
                case BF_LEN: p = bin_put(p, ev->len); break;
                case BF_PROT: p = bin_put(p, ev->kind); break;
                case BF_MAPPROT: p = bin_put(p, ev->kind | (ev->file ? BIN_MAP_FILE : 0u)); break;
                case BF_CHILD: p = bin_put(p, ev->addr); break;
                case BF_ADVICE: p = bin_put(p, ev->kind); break;
                case BF_FILE: p = bin_put(p, ev->file); break;
                case BF_PGOFF: p = bin_put(p, ev->pgoff); break;
                case BF_VMID: p = bin_put(p, type == BIN_SPAWN_VM ? ev->file : ev->addr); break;
                case BF_MEM: p = bin_put(p, ev->len); break;
                }
            }
        }
        sink->out.len += (size_t)(p - start);
    }
    return VMSIM_OK;
}

static const struct sink_ops bin_sink_ops = {"bin", bin_write, NULL};

int bin_sink_open(struct output *o, struct vmsim_sink **out)
{
    struct bin_sink *b = calloc(1, sizeof *b);
    if (!b) {
        output_close(o);
        return VMSIM_ENOMEM;
    }
    b->base.ops = &bin_sink_ops;
    b->base.out = *o;
    bin_state_init(&b->st);
    unsigned char *p = output_reserve(&b->base.out, BIN_HEADER_LEN);
    if (!p) {
        int e = b->base.out.err;
        output_close(&b->base.out);
        free(b);
        return e;
    }
    memcpy(p, BIN_MAGIC, BIN_HEADER_LEN - 1);
    p[BIN_HEADER_LEN - 1] = BIN_VERSION;
    b->base.out.len += BIN_HEADER_LEN;
    *out = &b->base;
    return VMSIM_OK;
}
