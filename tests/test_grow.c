/* Growable arrays (util/grow.h). grow_big holds the arrays with an element
 * per resident page; what it promises is checked here: the elements
 * written survive every growth (the array may move), new elements read as
 * zero, the capacity doubles from `first`, and capacity no element was
 * written to is not resident (mincore), which is where its host memory per
 * page comes from (docs/architecture.md, "Host memory per resident page"). */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testutil.h"
#include "util/grow.h"

struct elem { /* 24 bytes, as struct frame */
    uint64_t a, b, c;
};

static void test_grow_keeps_and_zeroes(void **state)
{
    (void)state;
    struct elem *e = NULL;
    uint64_t cap = 0;
    const uint64_t n = 200000;
    for (uint64_t i = 0; i < n; i++) {
        e = grow_big(e, &cap, i, sizeof *e, 16);
        assert_non_null(e);
        assert_true(i < cap);
        if (e[i].a || e[i].b || e[i].c)
            fail_msg("element %llu is not zero when new", (unsigned long long)i);
        e[i] = (struct elem){i, ~i, 3 * i};
    }
    /* 16 doubled until above index 199999: 16 * 2^14 */
    assert_int_equal(cap, 262144);
    for (uint64_t i = 0; i < n; i++)
        if (e[i].a != i || e[i].b != ~i || e[i].c != 3 * i)
            fail_msg("element %llu lost in a growth", (unsigned long long)i);
    for (uint64_t i = n; i < cap; i++)
        if (e[i].a || e[i].b || e[i].c)
            fail_msg("unwritten element %llu is not zero", (unsigned long long)i);
    /* an index below the capacity changes nothing */
    assert_ptr_equal(grow_big(e, &cap, cap - 1, sizeof *e, 16), e);
    assert_int_equal(cap, 262144);
    grow_big_free(e, cap, sizeof *e);
    grow_big_free(NULL, 0, sizeof *e);
}

/* One jump to index 2^20 of 16-byte elements: a capacity of 2^21 (4096
 * doubled), 32 MiB of address space. Two elements written (the first and
 * the last asked for) make at most two host pages resident; a huge page
 * per touch if the host backs anonymous memory with them. Filling the
 * capacity (memset, as grow_array does) would make all 8192 resident.
 * The sanitized build keeps these arrays on the heap (grow.h): skipped. */
static void test_grow_capacity_not_resident(void **state)
{
    (void)state;
    if (!GROW_BIG_MAPPED)
        skip();
    uint64_t cap = 0;
    uint64_t(*e)[2] = grow_big(NULL, &cap, 1u << 20, sizeof *e, 4096);
    assert_non_null(e);
    assert_int_equal(cap, 1u << 21);
    e[0][0] = 1;
    e[1u << 20][1] = 2;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), bytes = cap * sizeof *e;
    const size_t pages = (bytes + page - 1) / page;
    unsigned char *vec = malloc(pages);
    assert_non_null(vec);
    assert_int_equal(mincore(e, bytes, vec), 0);
    size_t resident = 0;
    for (size_t i = 0; i < pages; i++)
        resident += vec[i] & 1;
    free(vec);
    if (resident < 2 || resident > 2 * ((2u << 20) / page))
        fail_msg("%zu of %zu pages resident after writing two elements", resident, pages);
    assert_int_equal(e[0][0], 1);
    assert_int_equal(e[1u << 20][1], 2);
    grow_big_free(e, cap, sizeof *e);
}

/* A capacity whose bytes overflow size_t: NULL, the array unchanged. */
static void test_grow_overflow(void **state)
{
    (void)state;
    uint64_t cap = 0;
    assert_null(grow_big(NULL, &cap, 4, SIZE_MAX / 2, 1));
    assert_int_equal(cap, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow_keeps_and_zeroes),
        cmocka_unit_test(test_grow_capacity_not_resident),
        cmocka_unit_test(test_grow_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
