/* The Intel Pin pinatrace reader and writer (src/trace/pin.c): a file
 * written by hand in the shape of pinatrace.cpp's fprintf formats
 * ("%p: R %p\n", "%p: W %p\n", glibc's "(nil)" for 0, the "#eof" trailer,
 * the optional decimal size of its common variants) gives exactly the
 * events derived by hand; every malformed line is an error with its line
 * number after the events before it; the writer turns fetches into the ip
 * field of the accesses after them and ends the file with #eof. */
#include <unistd.h>

#include "tracetest.h"

#define N(a) (sizeof a / sizeof a[0])

static const char hand[] = "0x7f3c2a1b4e23: W 0x7ffd3a9c8e78\n"
                           "0x7f3c2a1b4e27: R 0x7f3c2a3d3e70\n"
                           "0x401000: R 0x601040 8\n"
                           "# a comment\n"
                           "0x401004: W (nil)\n"
                           "(nil): R 0x10 4\n"
                           "0x401008: R 0xFFFFFFFFFFFFFFFF 16\r\n"
                           "#eof\n";

static const struct vmsim_event hand_events[] = {
    ACC(VMSIM_WRITE, 0x7ffd3a9c8e78, 1), /* no size: 1 byte */
    ACC(VMSIM_READ, 0x7f3c2a3d3e70, 1),
    ACC(VMSIM_READ, 0x601040, 8),
    ACC(VMSIM_WRITE, 0, 1),
    ACC(VMSIM_READ, 0x10, 4),
    ACC(VMSIM_READ, 0xffffffffffffffffull, 16),
};

static void test_records(void **state)
{
    (void)state;
    tt_expect(hand, strlen(hand), "pin", hand_events, N(hand_events));
    tt_expect(hand, strlen(hand), "auto", hand_events, N(hand_events));
    /* a trace cut after a whole line (the program was killed): no #eof */
    const char *cut = "0x401000: R 0x601040\n0x401004: W 0x601048";
    const struct vmsim_event cut_events[] = {ACC(VMSIM_READ, 0x601040, 1),
                                             ACC(VMSIM_WRITE, 0x601048, 1)};
    tt_expect(cut, strlen(cut), "auto", cut_events, 2);
}

static void test_errors(void **state)
{
    (void)state;
    const char *t = "0x1: R 0x10\n0x401000 R 0x10\n";
    tt_expect_error(t, strlen(t), "pin", VMSIM_EPARSE, 1, "<memory>:2", "IP", "\"0x401000 R 0x10\"");
    t = "0x401000: X 0x10\n";
    tt_expect_error(t, strlen(t), "pin", VMSIM_EPARSE, 0, ":1", "' R ' or ' W '", "\" X 0x10\"");
    t = "0x401000:  R 0x10\n";
    tt_expect_error(t, strlen(t), "pin", VMSIM_EPARSE, 0, ":1", "' R ' or ' W '", NULL);
    t = "0x401000: R 10\n";
    tt_expect_error(t, strlen(t), "pin", VMSIM_EPARSE, 0, ":1", "ADDR", "\"10\"");
    t = "0x401000: R 0x10 0\n";
    tt_expect_error(t, strlen(t), "pin", VMSIM_EPARSE, 0, ":1", "SIZE", "\"0\"");
    t = "0x401000: R 0x10 1073741825\n"; /* 2^30 + 1: sizes are bounded (docs/traces.md) */
    tt_expect_error(t, strlen(t), "pin", VMSIM_EPARSE, 0, ":1", "1 to 1073741824 = 1 GiB", NULL);
    t = "0x401000: R 0x10 8 9\n";
    tt_expect_error(t, strlen(t), "pin", VMSIM_EPARSE, 0, ":1", "SIZE", "\"8 9\"");
    t = "0x401000: R 0x10000000000000000\n"; /* 2^64 */
    tt_expect_error(t, strlen(t), "pin", VMSIM_EPARSE, 0, ":1", "ADDR", NULL);
    t = "0x1: R 0x10\n0x2: W 0x20\n\n";
    tt_expect_error(t, strlen(t), "pin", VMSIM_EPARSE, 2, ":3", NULL, "an empty line");
    t = "0x401000: R 0x10 8\n0x401000: R";
    tt_expect_error(t, strlen(t), "pin", VMSIM_EPARSE, 1, ":2", "' R ' or ' W '", NULL);
}

static void test_writer(void **state)
{
    (void)state;
    const struct vmsim_event evs[] = {
        ACC(VMSIM_READ, 0x10, 1),         /* before any fetch: ip 0 */
        ACC(VMSIM_FETCH, 0x401000, 4),    /* becomes the ip of what follows */
        ACC(VMSIM_READ, 0x601040, 8),
        ACC(VMSIM_MODIFY, 0x601050, 4),   /* one W line */
    };
    char *path = temp_path(".pin");
    struct vmsim_sink *sink;
    assert_int_equal(vmsim_sink_open(path, "pin", &sink), 0);
    assert_int_equal(vmsim_sink_write(sink, evs, N(evs)), 0);
    struct vmsim_event bad = {.type = VMSIM_EV_SPAWN, .pid = 1};
    assert_int_equal(vmsim_sink_write(sink, &bad, 1), VMSIM_EINVAL);
    bad = (struct vmsim_event)ACC(VMSIM_READ, 0x10, 1);
    bad.pid = 2;
    assert_int_equal(vmsim_sink_write(sink, &bad, 1), VMSIM_EINVAL);
    assert_int_equal(vmsim_sink_close(sink), 0);
    size_t len;
    char *text = read_file(path, &len);
    assert_non_null(text);
    assert_string_equal(text, "0x0: R 0x10 1\n"
                              "0x401000: R 0x601040 8\n"
                              "0x401000: W 0x601050 4\n"
                              "#eof\n");
    const struct vmsim_event back[] = {
        ACC(VMSIM_READ, 0x10, 1),
        ACC(VMSIM_READ, 0x601040, 8),
        ACC(VMSIM_WRITE, 0x601050, 4),
    };
    tt_expect(text, len, "auto", back, N(back));
    free(text);
    unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
