/* Reader of ChampSim's binary instruction traces (the DPC-3 / CRC-2 traces,
 * "*.champsimtrace.xz"): a sequence of `struct input_instr` from ChampSim's
 * inc/trace_instruction.h, written by its Pin tracer (tracer/pin/
 * champsim_tracer.cpp) with fwrite, so little-endian and unpadded:
 *
 *   offset size  field
 *        0    8  ip                         instruction address
 *        8    1  is_branch                  0 or 1
 *        9    1  branch_taken               0 or 1
 *       10    2  destination_registers[2]
 *       12    4  source_registers[4]
 *       16   16  destination_memory[2]      addresses stored to, 0 = none
 *       32   32  source_memory[4]           addresses loaded from, 0 = none
 *       64       (next record)
 *
 * What vmsim takes: per record, a fetch of ip, then a read of each nonzero
 * source_memory slot and a write of each nonzero destination_memory slot,
 * in slot order. Sizes are not recorded: every access is 1 byte (it never
 * invents a page crossing). Every event is pid 1 on cpu 0: a ChampSim trace
 * is one thread. The branch and register fields only serve as a sanity
 * check (is_branch and branch_taken must be 0 or 1), which catches a file
 * that is not this format (such as the 80-byte CloudSuite variant) at its
 * first records instead of simulating garbage.
 *
 * The format has no header and no magic number, so it cannot be told from
 * its content: it is chosen by name (champsim:PATH, --from champsim) or by
 * the conventional file name "*.champsimtrace*". A file whose length is not
 * a multiple of 64 ends in a cut record: an error at the end of the file. */
#include <stdio.h>
#include <stdlib.h>

#include "trace/formats.h"

#define CS_PID 1
#define CS_RECORD 64
#define CS_NDST 2
#define CS_NSRC 4
#define CS_MAX_EVENTS (1 + CS_NDST + CS_NSRC)

struct champsim_source {
    struct vmsim_source base;
    struct input in;
    /* The events of a record that did not fit the caller's batch. */
    struct vmsim_event pend[CS_MAX_EVENTS];
    unsigned npend, ipend;
};

static inline uint64_t cs_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int cs_fail(struct champsim_source *s, uint64_t off, const char *expected, const char *found)
{
    char where[sizeof s->base.err.where];
    input_where(&s->in, off, where, sizeof where);
    source_fail(&s->base.err, expected, found, strlen(found), "%s", where);
    snprintf(s->base.err.found, sizeof s->base.err.found, "%s", found); /* our own words */
    input_check_rest(&s->in, &s->base.err); /* corrupt compressed data, if so, replaces it */
    return VMSIM_EPARSE;
}

static inline void cs_access(struct vmsim_event *ev, unsigned kind, uint64_t addr)
{
    *ev = (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = (uint8_t)kind, .pid = CS_PID,
                               .addr = addr, .len = 1};
}

/* The events of the record at r, into ev; their count or an error. */
static inline int cs_decode(struct champsim_source *s, const unsigned char *r,
                            struct vmsim_event *ev)
{
    if (r[8] > 1 || r[9] > 1) {
        uint64_t off = s->in.base + (uint64_t)(r - s->in.buf);
        char found[64];
        snprintf(found, sizeof found, "is_branch %u, branch_taken %u", r[8], r[9]);
        return cs_fail(s, off + (r[8] > 1 ? 8 : 9),
                       "a ChampSim input_instr record (is_branch and branch_taken 0 or 1)",
                       found);
    }
    int n = 0;
    cs_access(&ev[n++], VMSIM_FETCH, cs_le64(r));
    for (int i = 0; i < CS_NSRC; i++) {
        uint64_t a = cs_le64(r + 32 + 8 * i);
        if (a)
            cs_access(&ev[n++], VMSIM_READ, a);
    }
    for (int i = 0; i < CS_NDST; i++) {
        uint64_t a = cs_le64(r + 16 + 8 * i);
        if (a)
            cs_access(&ev[n++], VMSIM_WRITE, a);
    }
    return n;
}

static long champsim_next(struct vmsim_source *src, struct vmsim_event *buf, size_t max)
{
    struct champsim_source *s = (struct champsim_source *)src;
    size_t n = 0;
    int err = 0;
    while (n < max && s->ipend < s->npend)
        buf[n++] = s->pend[s->ipend++];
    while (n < max) {
        if (input_avail(&s->in) < CS_RECORD) {
            long a = input_need(&s->in, CS_RECORD);
            if (a < 0) {
                err = input_fail_io(&s->in, &s->base.err);
                break;
            }
            if (a == 0)
                break;
            if (a < CS_RECORD) {
                char found[80];
                uint64_t off = input_offset(&s->in);
                snprintf(found, sizeof found, "end of input after %ld bytes of it", a);
                char expected[96];
                snprintf(expected, sizeof expected,
                         "the rest of the 64-byte record that starts at byte %llu",
                         (unsigned long long)off);
                err = cs_fail(s, off + (uint64_t)a, expected, found);
                s->in.pos = s->in.end;
                break;
            }
        }
        const unsigned char *r = s->in.buf + s->in.pos;
        if (max - n >= CS_MAX_EVENTS) {
            int k = cs_decode(s, r, buf + n);
            if (k < 0) {
                err = k;
                break;
            }
            n += (size_t)k;
        } else {
            int k = cs_decode(s, r, s->pend);
            if (k < 0) {
                err = k;
                break;
            }
            s->npend = (unsigned)k;
            s->ipend = 0;
            while (n < max && s->ipend < s->npend)
                buf[n++] = s->pend[s->ipend++];
        }
        s->in.pos += CS_RECORD;
    }
    s->base.bytes = input_consumed(&s->in);
    if (err < 0)
        src->pending = err; /* delivered after the events before it */
    return (long)n;
}

static void champsim_close(struct vmsim_source *src)
{
    struct champsim_source *s = (struct champsim_source *)src;
    input_close(&s->in);
    free(s);
}

static const struct source_ops champsim_source_ops = {"champsim", champsim_next, champsim_close,
                                                      NULL};

int champsim_source_open(struct input *in, struct vmsim_source **out,
                         struct vmsim_source_error *err)
{
    struct champsim_source *s = calloc(1, sizeof *s);
    if (!s) {
        input_close(in);
        return VMSIM_ENOMEM;
    }
    s->base.ops = &champsim_source_ops;
    s->in = *in;
    *out = &s->base;
    return VMSIM_OK;
}

/* No magic number: content never says "ChampSim". */
bool champsim_sniff(const unsigned char *head, size_t len) { return false; }

bool champsim_path(const char *path)
{
    const char *base = strrchr(path, '/');
    return strstr(base ? base + 1 : path, ".champsimtrace") != NULL;
}
