/* Geometry presets against the formula L = ceil((V - log2 S) / b), where a
 * table fills one page, so b = log2(S / entry size), and the leaf sizes the
 * ISA manuals give. */
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "vmsim/vmsim.h"

static void test_levels_formula(void **state)
{
    for (const char *const *n = vmsim_geometry_names; *n; n++) {
        struct vmsim_geometry g;
        assert_int_equal(vmsim_geometry_preset(*n, &g), VMSIM_OK);
        char why[128];
        assert_int_equal(vmsim_geometry_check(&g, why, sizeof why), VMSIM_OK);
        unsigned b = g.page_shift - (unsigned)log2(g.pte_bytes);
        unsigned expect = (unsigned)ceil((double)(g.va_bits - g.page_shift) / b);
        print_message("%-10s V=%u S=2^%u b=%u -> L=%u\n", *n, g.va_bits, g.page_shift, b, expect);
        assert_int_equal(g.levels, expect);
    }
}

static void expect_levels(const char *name, unsigned levels, unsigned va)
{
    struct vmsim_geometry g;
    assert_int_equal(vmsim_geometry_preset(name, &g), VMSIM_OK);
    assert_int_equal(g.levels, levels);
    assert_int_equal(g.va_bits, va);
}

static void test_known_levels(void **state)
{
    expect_levels("x86-64", 4, 48);
    expect_levels("x86-64-5l", 5, 57);
    expect_levels("x86-32", 2, 32);
    expect_levels("x86-pae", 3, 32);
    expect_levels("sv39", 3, 39);
    expect_levels("sv48", 4, 48);
    expect_levels("sv57", 5, 57);
    expect_levels("arm64-4k", 4, 48);
    expect_levels("arm64-16k", 4, 48);
    expect_levels("arm64-64k", 3, 48);
}

static uint64_t leaf_sizes(const char *name)
{
    struct vmsim_geometry g;
    assert_int_equal(vmsim_geometry_preset(name, &g), VMSIM_OK);
    uint64_t m = 0;
    for (unsigned k = 1; k <= g.levels; k++)
        if (g.leaf_levels & (1u << k))
            m |= 1ull << vmsim_geometry_page_shift(&g, k);
    return m;
}

#define K 1024ull
#define M (1024ull * K)
#define G (1024ull * M)

static void test_leaf_sizes(void **state)
{
    assert_int_equal(leaf_sizes("x86-64"), 4 * K | 2 * M | 1 * G);
    assert_int_equal(leaf_sizes("x86-64-5l"), 4 * K | 2 * M | 1 * G);
    assert_int_equal(leaf_sizes("x86-32"), 4 * K | 4 * M);
    assert_int_equal(leaf_sizes("x86-pae"), 4 * K | 2 * M);
    assert_int_equal(leaf_sizes("sv39"), 4 * K | 2 * M | 1 * G);
    assert_int_equal(leaf_sizes("sv48"), 4 * K | 2 * M | 1 * G | 512 * G);
    assert_int_equal(leaf_sizes("sv57"), 4 * K | 2 * M | 1 * G | 512 * G | 256 * 1024 * G);
    assert_int_equal(leaf_sizes("arm64-4k"), 4 * K | 2 * M | 1 * G);
    assert_int_equal(leaf_sizes("arm64-16k"), 16 * K | 32 * M);
    assert_int_equal(leaf_sizes("arm64-64k"), 64 * K | 512 * M);
}

static void test_custom_parse(void **state)
{
    struct vmsim_geometry g;
    char why[200];
    assert_int_equal(vmsim_geometry_parse("page=4k,bits=10+10,pte=4,leaves=1+2", &g, why, sizeof why),
                     VMSIM_OK);
    assert_int_equal(g.va_bits, 32);
    assert_int_equal(g.levels, 2);
    assert_int_equal(leaf_sizes("x86-32"), (1ull << vmsim_geometry_page_shift(&g, 1)) |
                                               (1ull << vmsim_geometry_page_shift(&g, 2)));
    assert_int_equal(vmsim_geometry_parse("sv39", &g, why, sizeof why), VMSIM_OK);
    assert_string_equal(g.name, "sv39");
    /* errors */
    assert_int_equal(vmsim_geometry_parse("bogus", &g, why, sizeof why), VMSIM_EPARSE);
    assert_non_null(strstr(why, "bogus"));
    assert_int_equal(vmsim_geometry_parse("bits=9+9,va=48", &g, why, sizeof why), VMSIM_EINVAL);
    assert_non_null(strstr(why, "must equal"));
    assert_int_equal(vmsim_geometry_parse("bits=9+x", &g, why, sizeof why), VMSIM_EPARSE);
    assert_int_equal(vmsim_geometry_parse("page=3k,bits=9", &g, why, sizeof why), VMSIM_EPARSE);
    assert_int_equal(vmsim_geometry_parse("bits=9+9+9+9,leaves=7", &g, why, sizeof why),
                     VMSIM_EPARSE);
    assert_int_equal(vmsim_geometry_parse("frob=1", &g, why, sizeof why), VMSIM_EPARSE);
    assert_non_null(strstr(why, "frob"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels_formula),
        cmocka_unit_test(test_known_levels),
        cmocka_unit_test(test_leaf_sizes),
        cmocka_unit_test(test_custom_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
