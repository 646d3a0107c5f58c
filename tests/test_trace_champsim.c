/* The ChampSim binary trace reader (src/trace/champsim.c): records built
 * here byte by byte from `struct input_instr` in ChampSim's
 * inc/trace_instruction.h (ip; is_branch; branch_taken; 2 destination and
 * 4 source register bytes; 2 destination and 4 source memory addresses,
 * little-endian, 64 bytes) give a fetch of ip, a read per nonzero source
 * address and a write per nonzero destination address, in slot order; a
 * cut record and a record that cannot be ChampSim's are errors with their
 * byte offsets; the format is chosen by name, never by content. */
#include <unistd.h>

#include "tracetest.h"

#define N(a) (sizeof a / sizeof a[0])
#define REC 64

struct instr {
    uint64_t ip;
    uint8_t is_branch, taken;
    uint64_t dst[2], src[4];
};

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* The 64 bytes of input_instr, registers filled with junk the reader
 * must ignore. */
static void encode(unsigned char *p, const struct instr *in)
{
    put64(p, in->ip);
    p[8] = in->is_branch;
    p[9] = in->taken;
    p[10] = 25, p[11] = 26;                   /* destination registers */
    p[12] = 6, p[13] = 0, p[14] = 7, p[15] = 255; /* source registers */
    for (int i = 0; i < 2; i++)
        put64(p + 16 + 8 * i, in->dst[i]);
    for (int i = 0; i < 4; i++)
        put64(p + 32 + 8 * i, in->src[i]);
}

static const struct instr instrs[] = {
    {0x401000, 0, 0, {0x7ffd1000, 0}, {0x601040, 0, 0, 0}},
    {0x401004, 1, 1, {0, 0}, {0, 0, 0, 0}},
    {0x401008, 0, 0, {0x3000, 0x4000}, {0, 0x1000, 0, 0x2000}},
    {0xffffffffffffffffull, 1, 0, {0x50, 0x60}, {0x10, 0x20, 0x30, 0x40}},
};

/* By hand from the records above: fetch, loads (source slots), stores
 * (destination slots), each one byte. */
static const struct vmsim_event want[] = {
    ACC(VMSIM_FETCH, 0x401000, 1), ACC(VMSIM_READ, 0x601040, 1), ACC(VMSIM_WRITE, 0x7ffd1000, 1),
    ACC(VMSIM_FETCH, 0x401004, 1),
    ACC(VMSIM_FETCH, 0x401008, 1), ACC(VMSIM_READ, 0x1000, 1), ACC(VMSIM_READ, 0x2000, 1),
    ACC(VMSIM_WRITE, 0x3000, 1), ACC(VMSIM_WRITE, 0x4000, 1),
    ACC(VMSIM_FETCH, 0xffffffffffffffffull, 1), ACC(VMSIM_READ, 0x10, 1),
    ACC(VMSIM_READ, 0x20, 1), ACC(VMSIM_READ, 0x30, 1), ACC(VMSIM_READ, 0x40, 1),
    ACC(VMSIM_WRITE, 0x50, 1), ACC(VMSIM_WRITE, 0x60, 1),
};

static unsigned char trace[N(instrs) * REC];

static void build(void)
{
    for (size_t i = 0; i < N(instrs); i++)
        encode(trace + i * REC, &instrs[i]);
}

static void test_records(void **state)
{
    (void)state;
    build();
    assert_int_equal(N(want), 3 + 1 + 5 + 7);
    tt_expect(trace, sizeof trace, "champsim", want, N(want));
    tt_expect(trace, 0, "champsim", want, 0); /* an empty trace */
}

static void test_errors(void **state)
{
    (void)state;
    build();
    /* two records and 10 bytes of a third: the 4 events of the two, then
     * the cut record reported at the end of the input */
    tt_expect_error(trace, 2 * REC + 10, "champsim", VMSIM_EPARSE, 4, "<memory>: byte 138",
                    "the rest of the 64-byte record that starts at byte 128",
                    "end of input after 10 bytes of it");
    unsigned char bad[2 * REC];
    memcpy(bad, trace, sizeof bad);
    bad[REC + 8] = 2; /* is_branch of the second record */
    tt_expect_error(bad, sizeof bad, "champsim", VMSIM_EPARSE, 3, "<memory>: byte 72",
                    "is_branch and branch_taken 0 or 1", "is_branch 2, branch_taken 1");
    memcpy(bad, trace, sizeof bad);
    bad[9] = 0xff; /* branch_taken of the first */
    tt_expect_error(bad, sizeof bad, "champsim", VMSIM_EPARSE, 0, "<memory>: byte 9", NULL,
                    "branch_taken 255");
}

static void test_by_name(void **state)
{
    (void)state;
    build();
    /* content never says ChampSim */
    assert_string_not_equal(trace_format_sniff(trace, sizeof trace)->name, "champsim");
    /* the conventional name does */
    assert_true(champsim_path("/data/600.perlbench_s-210B.champsimtrace.xz"));
    assert_true(champsim_path("gcc.champsimtrace"));
    assert_false(champsim_path("/x.champsimtrace.d/trace.txt"));
    char *path = temp_path(".champsimtrace");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(trace, 1, sizeof trace, f), sizeof trace);
    fclose(f);
    struct vmsim_source *src;
    struct vmsim_source_error err;
    assert_int_equal(vmsim_source_open_trace(path, NULL, &src, &err), 0);
    struct vmsim_event evs[32];
    long n = vmsim_source_next(src, evs, 32);
    assert_int_equal(n, N(want));
    tt_assert_events(evs, want, N(want));
    assert_int_equal(vmsim_source_next(src, evs, 32), 0);
    vmsim_source_close(src);
    unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
