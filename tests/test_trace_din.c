/* The Dinero IV readers and writers (src/trace/din.c): hand-written din and
 * extended din files, built from Dinero IV's own readers (tracein_din in
 * din.c: label and address hexadecimal, 0x optional, rest of the line a
 * comment, a 4-byte reference at the address rounded down to a multiple
 * of 4; tracein_xdin in xdinfmt.c: type r w i m c v, address and size
 * hexadecimal), give exactly the events derived by hand below; every
 * malformed line is an error with its line number; auto-detection tells
 * din and xdin from vmsim text; the writers print exactly the bytes the
 * formats define and refuse what they cannot hold. */
#include <unistd.h>

#include "tracetest.h"

static const char din_hand[] = "0 1000\n"
                               "1 7fff0ffe this is a comment\n"
                               "2 400000\n"
                               "3 0x2003\n"                 /* misc: a read */
                               "4 0\n"                      /* flush: skipped */
                               "# a comment line\n"
                               "5 1234\n"                   /* invalidate: skipped */
                               "  0x1\t8009\r\n"            /* blanks, 0x label, tab, CRLF */
                               "0 FFFFFFFFFFFFFFFF\n"
                               "2 3\n";

static const struct vmsim_event din_events[] = {
    ACC(VMSIM_READ, 0x1000, 4),
    ACC(VMSIM_WRITE, 0x7fff0ffc, 4), /* 0x...ffe rounded down to the word */
    ACC(VMSIM_FETCH, 0x400000, 4),
    ACC(VMSIM_READ, 0x2000, 4),
    ACC(VMSIM_WRITE, 0x8008, 4),
    ACC(VMSIM_READ, 0xfffffffffffffffcull, 4),
    ACC(VMSIM_FETCH, 0x0, 4),
};

static const char xdin_hand[] = "r 0x1000 4  # comment for lru policy on a single set\n"
                                "W 7fff0ff8 8\n"
                                "i 400000 0x4\n"
                                "M 2000 10\n"               /* misc: a read of 0x10 bytes */
                                "c 0 0\n"                   /* copy-back: skipped */
                                "v 1000 40\n"               /* invalidate: skipped */
                                "\tI\t0x401000\t2\r\n"
                                "r ffffffffffffffff 40000000\n"; /* the largest size, 2^30 */

static const struct vmsim_event xdin_events[] = {
    ACC(VMSIM_READ, 0x1000, 4),
    ACC(VMSIM_WRITE, 0x7fff0ff8, 8),
    ACC(VMSIM_FETCH, 0x400000, 4),
    ACC(VMSIM_READ, 0x2000, 16),
    ACC(VMSIM_FETCH, 0x401000, 2),
    ACC(VMSIM_READ, 0xffffffffffffffffull, 1ull << 30),
};

#define N(a) (sizeof a / sizeof a[0])

static void test_din_records(void **state)
{
    (void)state;
    tt_expect(din_hand, strlen(din_hand), "din", din_events, N(din_events));
    tt_expect(din_hand, strlen(din_hand), "auto", din_events, N(din_events));
}

static void test_xdin_records(void **state)
{
    (void)state;
    tt_expect(xdin_hand, strlen(xdin_hand), "xdin", xdin_events, N(xdin_events));
    tt_expect(xdin_hand, strlen(xdin_hand), "auto", xdin_events, N(xdin_events));
}

static void test_din_errors(void **state)
{
    (void)state;
    const char *t = "0 10\n6 1000\n";
    tt_expect_error(t, strlen(t), "din", VMSIM_EPARSE, 1, "<memory>:2", "LABEL 0-5", "\"6 1000\"");
    t = "0\n";
    tt_expect_error(t, strlen(t), "din", VMSIM_EPARSE, 0, "<memory>:1", "ADDRESS", "end of line");
    t = "0 10\n1 20\n\n2 30\n";
    tt_expect_error(t, strlen(t), "din", VMSIM_EPARSE, 2, "<memory>:3", "LABEL",
                    "an empty line");
    t = "0 1000x\n";
    tt_expect_error(t, strlen(t), "din", VMSIM_EPARSE, 0, ":1", "ADDRESS", "\"1000x\"");
    t = "0 10000000000000000\n"; /* 17 digits: 2^64 */
    tt_expect_error(t, strlen(t), "din", VMSIM_EPARSE, 0, ":1", "at most 64 bits", NULL);
    t = "R 1000\n";
    tt_expect_error(t, strlen(t), "din", VMSIM_EPARSE, 0, ":1", "LABEL", "\"R 1000\"");
    t = "0,1000\n";
    tt_expect_error(t, strlen(t), "din", VMSIM_EPARSE, 0, ":1", "LABEL", NULL);
    /* a trace cut short: "2 4000" lost its end and its newline; "2 40" is
     * not read as a fetch of 0x40, the line is named (issue 12) */
    t = "2 40\n2 40";
    tt_expect_error(t, strlen(t), "din", VMSIM_EPARSE, 1, "<memory>:2", "newline",
                    "\"2 40\" at the end of the input");
    t = "2";
    tt_expect_error(t, strlen(t), "din", VMSIM_EPARSE, 0, "<memory>:1", "newline", NULL);
}

static void test_xdin_errors(void **state)
{
    (void)state;
    const char *t = "r 10 4\nr 1000\n";
    tt_expect_error(t, strlen(t), "xdin", VMSIM_EPARSE, 1, "<memory>:2", "SIZE", "end of line");
    t = "r 1000 0\n";
    tt_expect_error(t, strlen(t), "xdin", VMSIM_EPARSE, 0, ":1", "SIZE", "\"0\"");
    t = "r 1000 40000001\n"; /* 2^30 + 1: sizes are bounded (docs/traces.md) */
    tt_expect_error(t, strlen(t), "xdin", VMSIM_EPARSE, 0, ":1", "1 to 0x40000000 = 1 GiB", NULL);
    t = "x 1000 4\n";
    tt_expect_error(t, strlen(t), "xdin", VMSIM_EPARSE, 0, ":1", "TYPE", "\"x 1000 4\"");
    t = "rw 1000 4\n";
    tt_expect_error(t, strlen(t), "xdin", VMSIM_EPARSE, 0, ":1", "TYPE", NULL);
    t = "r 1000 4x\n";
    tt_expect_error(t, strlen(t), "xdin", VMSIM_EPARSE, 0, ":1", "SIZE", "\"4x\"");
    t = "w 0xg 4\n";
    tt_expect_error(t, strlen(t), "xdin", VMSIM_EPARSE, 0, ":1", "ADDRESS", "\"0xg 4\"");
    t = "r 1 4\n\n";
    tt_expect_error(t, strlen(t), "xdin", VMSIM_EPARSE, 1, ":2", NULL, "an empty line");
    t = "r 1 4\nr 1000 4"; /* "r 1000 40" cut short, no newline */
    tt_expect_error(t, strlen(t), "xdin", VMSIM_EPARSE, 1, "<memory>:2", "newline",
                    "at the end of the input");
}

/* What auto-detection makes of first lines that look alike. */
static void test_detection(void **state)
{
    (void)state;
    static const struct {
        const char *text, *fmt;
    } cases[] = {
        {"0 1000\n", "din"},
        {"# header\n\n2 400000 fetch\n", "din"},
        {"r 1000 8\n", "xdin"},
        {"R 1000 8\n", "xdin"},          /* three fields: not a text access */
        {"R 1000 8 # a read\n", "xdin"},
        {"R 1 0x1000 8\n", "text"},      /* four fields: vmsim text */
        {"M 1 1000 8 1\n", "text"},
        {"mmap 1 0x400000 8192 r-x\n", "text"},
        {"I  0401ab70,3\n", "lackey"},
        {"0x401000: R 0x7ffd1000\n", "pin"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        const struct trace_format *f =
            trace_format_sniff((const unsigned char *)cases[i].text, strlen(cases[i].text));
        if (strcmp(f->name, cases[i].fmt) != 0)
            print_error("%s -> %s, want %s\n", cases[i].text, f->name, cases[i].fmt);
        assert_string_equal(f->name, cases[i].fmt);
    }
}

static const struct vmsim_event to_write[] = {
    ACC(VMSIM_READ, 0x1000, 8),
    ACC(VMSIM_WRITE, 0x2000, 4),
    ACC(VMSIM_FETCH, 0x400000, 4),
    ACC(VMSIM_MODIFY, 0x3000, 8),
};

static char *write_mem(const char *fmt, const struct vmsim_event *ev, size_t n, int *rc)
{
    struct vmsim_sink *sink;
    assert_int_equal(trace_sink_open_mem(fmt, &sink), 0);
    *rc = vmsim_sink_write(sink, ev, n);
    size_t len;
    const unsigned char *p = trace_sink_mem(sink, &len);
    char *copy = malloc(len + 1);
    memcpy(copy, p, len);
    copy[len] = '\0';
    vmsim_sink_close(sink);
    return copy;
}

static void test_writers(void **state)
{
    (void)state;
    int rc;
    char *s = write_mem("din", to_write, N(to_write), &rc);
    assert_int_equal(rc, 0);
    /* a modify is a write: one translation with write intent */
    assert_string_equal(s, "0 1000\n1 2000\n2 400000\n1 3000\n");
    free(s);
    s = write_mem("xdin", to_write, N(to_write), &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(s, "r 0x1000 0x8\nw 0x2000 0x4\ni 0x400000 0x4\nw 0x3000 0x8\n");
    /* and it reads back: the modify as a write */
    const struct vmsim_event back[] = {
        ACC(VMSIM_READ, 0x1000, 8),
        ACC(VMSIM_WRITE, 0x2000, 4),
        ACC(VMSIM_FETCH, 0x400000, 4),
        ACC(VMSIM_WRITE, 0x3000, 8),
    };
    tt_expect(s, strlen(s), "auto", back, N(back));
    free(s);

    /* what the formats cannot hold: OS events, other processes and CPUs */
    struct vmsim_event bad[3] = {
        {.type = VMSIM_EV_SPAWN, .pid = 1},
        ACC(VMSIM_READ, 0x1000, 8),
        ACC(VMSIM_READ, 0x1000, 8),
    };
    bad[1].pid = 2;
    bad[2].cpu = 1;
    for (int i = 0; i < 3; i++) {
        s = write_mem(i % 2 ? "din" : "xdin", &bad[i], 1, &rc);
        assert_int_equal(rc, VMSIM_EINVAL);
        assert_string_equal(s, "");
        free(s);
    }
}

/* Through the command line: lackey to xdin keeps every access (a modify
 * becomes a write); a trace with process events cannot become din. */
static void test_convert_cli(void **state)
{
    (void)state;
    char *out = temp_path(".xdin");
    struct cmd_result r =
        run_vmsim("convert --to xdin %s/trace_lackey_true.txt %s", VMSIM_TEST_DATA, out);
    assert_int_equal(r.status, 0);
    cmd_result_free(&r);
    size_t len;
    char *text = read_file(out, &len);
    assert_non_null(text);
    /* the excerpt holds 39 I, 2 L, 13 S and 1 M lines (test_trace_lackey.c) */
    size_t count[256] = {0}, lines = 0;
    for (char *p = text; p < text + len; p = strchr(p, '\n') + 1) {
        count[(unsigned char)*p]++;
        lines++;
    }
    assert_int_equal(lines, 39 + 2 + 13 + 1);
    assert_int_equal(count['i'], 39);
    assert_int_equal(count['r'], 2);
    assert_int_equal(count['w'], 13 + 1);
    free(text);
    unlink(out);
    free(out);

    out = temp_path(".din");
    r = run_vmsim("convert --to din %s/trace_text_all.txt %s", VMSIM_TEST_DATA, out);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "the din format cannot hold an event"));
    assert_int_equal(access(out, F_OK), -1); /* no half-written output */
    cmd_result_free(&r);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_din_records),  cmocka_unit_test(test_xdin_records),
        cmocka_unit_test(test_din_errors),   cmocka_unit_test(test_xdin_errors),
        cmocka_unit_test(test_detection),    cmocka_unit_test(test_writers),
        cmocka_unit_test(test_convert_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
