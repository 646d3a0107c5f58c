/* `vmsim convert` through the real command line: text -> bin -> text gives
 * the canonical text of a hand-written trace, lackey converts, stdin and
 * stdout work, and every misuse gets the right exit status and message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static const char input_text[] = "# hand-written, in every spelling the reader accepts\n"
                                 "spawn 3\n"
                                 "mmap 3 7f0000 0x2000 rw-\n"
                                 "\n"
                                 "R 3 7f0000 8\n"
                                 "W\t3 0x7F0008 8 1\r\n"
                                 "X 3 400000 4 0\n"
                                 "M 3 0x7f0010 4   # comment\n"
                                 "switch 1 3\n"
                                 "mprotect 3 0x7f0000 4096 r--\n"
                                 "munmap 3 0x7f0000 8192\n"
                                 "fork 3 0x4\n"
                                 "mmap 4 0x10000 0x1000 r-- off=0x3000 file=9 private\n"
                                 "mmap 4 20000 4096 rw-\tsupervisor shared\n"
                                 "madvise 4 200000 2097152 hugepage\n"
                                 "madvise 4 0x200000 0x200000 normal\n"
                                 "exit 4\n"
                                 "exit 3";

/* The same events as the text writer spells them (docs/traces.md). */
static const char canonical[] = "# vmsim text trace (docs/traces.md)\n"
                                "spawn 3\n"
                                "mmap 3 0x7f0000 8192 rw-\n"
                                "R 3 0x7f0000 8\n"
                                "W 3 0x7f0008 8 1\n"
                                "X 3 0x400000 4\n"
                                "M 3 0x7f0010 4\n"
                                "switch 1 3\n"
                                "mprotect 3 0x7f0000 4096 r--\n"
                                "munmap 3 0x7f0000 8192\n"
                                "fork 3 4\n"
                                "mmap 4 0x10000 4096 r-- file=9 off=12288\n"
                                "mmap 4 0x20000 4096 rw- shared supervisor\n"
                                "madvise 4 0x200000 2097152 hugepage\n"
                                "madvise 4 0x200000 2097152 normal\n"
                                "exit 4\n"
                                "exit 3\n";

static void test_text_bin_text(void **state)
{
    (void)state;
    char *in = write_temp(input_text, strlen(input_text), ".txt");
    char *bin = temp_path(".vmt");
    char *out = temp_path(".txt");
    struct cmd_result r = run_vmsim("convert %s %s", in, bin);
    if (r.status != 0)
        print_error("%s", r.err);
    assert_int_equal(r.status, 0);
    cmd_result_free(&r);
    size_t len;
    char *b = read_file(bin, &len);
    assert_non_null(b);
    assert_true(len > 8);
    assert_memory_equal(b, "VMSIMBT\x01", 8); /* chosen by the .vmt extension */
    free(b);

    r = run_vmsim("convert %s %s", bin, out);
    assert_int_equal(r.status, 0);
    cmd_result_free(&r);
    char *t = read_file(out, NULL);
    assert_string_equal(t, canonical);
    free(t);

    /* explicit formats, standard output, standard input */
    r = run_vmsim("convert --from bin --to text %s -", bin);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, canonical);
    cmd_result_free(&r);
    r = run_vmsim("convert --to text - - < %s", in);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, canonical);
    cmd_result_free(&r);
    r = run_vmsim("convert --to bin - %s < %s", out, in); /* --to wins over the extension */
    assert_int_equal(r.status, 0);
    cmd_result_free(&r);
    b = read_file(out, &len);
    char *b0 = read_file(bin, NULL);
    assert_memory_equal(b, b0, len);
    free(b);
    free(b0);

    unlink(in);
    unlink(bin);
    unlink(out);
    free(in);
    free(bin);
    free(out);
}

static void test_lackey(void **state)
{
    (void)state;
    char *out = temp_path(".txt");
    struct cmd_result r =
        run_vmsim("convert --from lackey %s/trace_lackey_true.txt %s", VMSIM_TEST_DATA, out);
    assert_int_equal(r.status, 0);
    cmd_result_free(&r);
    char *t = read_file(out, NULL);
    /* the first records of the file: I 0401ab70,3  I 0401ab73,5  S 1fff000708,8 */
    const char *want = "# vmsim text trace (docs/traces.md)\n"
                       "X 1 0x401ab70 3\n"
                       "X 1 0x401ab73 5\n"
                       "W 1 0x1fff000708 8\n";
    assert_memory_equal(t, want, strlen(want));
    size_t lines = 0;
    for (const char *p = t; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 1 + 55);
    free(t);

    r = run_vmsim("convert %s/trace_lackey_true.txt -", VMSIM_TEST_DATA); /* detected */
    assert_int_equal(r.status, 0);
    assert_memory_equal(r.out, want, strlen(want));
    cmd_result_free(&r);
    unlink(out);
    free(out);
}

static void test_misuse(void **state)
{
    (void)state;
    struct cmd_result r = run_vmsim("convert --help");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "usage: vmsim convert"));
    assert_non_null(strstr(r.out, "lackey"));
    cmd_result_free(&r);

    r = run_vmsim("convert only-one-file");
    assert_int_equal(r.status, 2);
    cmd_result_free(&r);

    r = run_vmsim("convert --to lackey %s/trace_text_all.txt /tmp/x.txt", VMSIM_TEST_DATA);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "input-only"));
    cmd_result_free(&r);

    r = run_vmsim("convert --to csv %s/trace_text_all.txt -", VMSIM_TEST_DATA);
    assert_int_equal(r.status, 2);
    cmd_result_free(&r);
    r = run_vmsim("convert --from nosuch %s/trace_text_all.txt -", VMSIM_TEST_DATA);
    assert_int_equal(r.status, 2);
    cmd_result_free(&r);

    char *in = write_temp("R 1 10 8\nR 1 10 8\nQ 1 10 8\n", 27, ".txt");
    r = run_vmsim("convert %s %s", in, in);
    assert_int_equal(r.status, 2); /* would truncate its own input */
    assert_non_null(strstr(r.err, "same file"));
    cmd_result_free(&r);

    /* a malformed input: status 1, where and what, and no half-written output */
    char *out = temp_path(".vmt");
    r = run_vmsim("convert %s %s", in, out);
    assert_int_equal(r.status, 1);
    char want[512];
    snprintf(want, sizeof want, "vmsim: %s:3: expected R, W, X, M", in);
    assert_non_null(strstr(r.err, want));
    assert_non_null(strstr(r.err, "found \"Q\""));
    assert_int_equal(access(out, F_OK), -1);
    cmd_result_free(&r);

    /* the same for the newer lines: a fork to itself */
    char *fork_self = write_temp("spawn 1\nfork 1 1\n", 17, ".txt");
    r = run_vmsim("convert %s %s", fork_self, out);
    assert_int_equal(r.status, 1);
    snprintf(want, sizeof want,
             "vmsim: %s:2: expected CHILD (decimal or 0x-hex, below 2^32, not the forking PID), "
             "found \"1\"",
             fork_self);
    assert_non_null(strstr(r.err, want));
    assert_int_equal(access(out, F_OK), -1);
    cmd_result_free(&r);
    unlink(fork_self);
    free(fork_self);

    r = run_vmsim("convert /nonexistent/in.txt %s", out);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "/nonexistent/in.txt"));
    assert_non_null(strstr(r.err, "No such file"));
    cmd_result_free(&r);

    r = run_vmsim("convert %s /nonexistent/dir/out.vmt", in);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "cannot write /nonexistent/dir/out.vmt"));
    cmd_result_free(&r);

    unlink(in);
    free(in);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_bin_text),
        cmocka_unit_test(test_lackey),
        cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
