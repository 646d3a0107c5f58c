/* The statistics table (VMSIM_STATS): every statistic has a combining rule,
 * docs/stats.md states the same rule for it, and stats_combine applies
 * each rule as docs/stats.md ("Combining: several VMs") defines it. The
 * expected values below come from those definitions (sum: a + b, max: the
 * larger, same and first: the first part's), not from the code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/machine.h"
#include "testutil.h"
#include "vmsim/vmsim.h"

struct stat_row {
    const char *name;
    int rule; /* as the table's RULE column, through the public enum */
};

static const struct stat_row rows[] = {
#define ROW(f, n, r, d) {n, VMSIM_COMBINE_##r},
    VMSIM_STATS(ROW)
#undef ROW
};
#define NROWS (sizeof rows / sizeof rows[0])

/* Every rule names one of the four and has a name; no JSON name twice. */
static void test_every_statistic_has_a_rule(void **state)
{
    (void)state;
    assert_true(NROWS > 60);
    for (size_t i = 0; i < NROWS; i++) {
        if (rows[i].rule < VMSIM_COMBINE_SUM || rows[i].rule > VMSIM_COMBINE_FIRST)
            fail_msg("%s: rule %d is none of sum, max, same, first", rows[i].name, rows[i].rule);
        assert_non_null(vmsim_combine_names[rows[i].rule]);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(rows[i].name, rows[j].name))
                fail_msg("%s is in VMSIM_STATS twice", rows[i].name);
    }
    assert_null(vmsim_combine_names[VMSIM_COMBINE_FIRST + 1]);
}

/* docs/stats.md is written by hand: each statistic of the table must have
 * a row "| `NAME` | UNIT | RULE | ..." whose RULE is the table's, and every
 * other row's VMs column must say something a reader can use. */
static void test_docs_state_the_rule(void **state)
{
    (void)state;
    size_t len;
    char *doc = read_file(VMSIM_SOURCE_DIR "/docs/stats.md", &len);
    assert_non_null(doc);
    for (size_t i = 0; i < NROWS; i++) {
        char key[128];
        snprintf(key, sizeof key, "\n| `%s` | ", rows[i].name);
        const char *row = strstr(doc, key);
        if (!row)
            fail_msg("docs/stats.md has no row for %s", rows[i].name);
        const char *unit_end = strstr(row + strlen(key), " | ");
        assert_non_null(unit_end);
        const char *rule = unit_end + 3;
        const char *name = vmsim_combine_names[rows[i].rule];
        if (strncmp(rule, name, strlen(name)) || strncmp(rule + strlen(name), " | ", 3))
            fail_msg("docs/stats.md gives %s the rule \"%.10s\", the table %s", rows[i].name, rule,
                     name);
    }
    /* Rows outside the table (per-level TLB figures, arrays, ratios). */
    static const char *const ok[] = {"sum", "max", "same", "first", "ratio", "per VM"};
    unsigned seen = 0;
    for (const char *p = strstr(doc, "\n| `"); p; p = strstr(p + 1, "\n| `")) {
        const char *unit_end = strstr(strstr(p + 4, "` | ") + 4, " | ");
        assert_non_null(unit_end);
        const char *rule = unit_end + 3;
        bool found = false;
        for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++)
            found |= !strncmp(rule, ok[k], strlen(ok[k])) && !strncmp(rule + strlen(ok[k]), " | ", 3);
        if (!found)
            fail_msg("docs/stats.md: a row with no rule: %.60s", p + 1);
        seen++;
    }
    assert_true(seen >= NROWS);
    free(doc);
}

/* Two parts whose every field differs, combined: each statistic as its
 * rule says, the per-level TLB figures (hits and misses sum, reach max),
 * the walk histogram (sum) and the migration rounds (first). */
static void test_combine_follows_the_rules(void **state)
{
    (void)state;
    struct vmsim_stats a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    /* part a: 100 + i; part b: 7 * i + 1, larger than a's from i = 17 */
    uint64_t *fa = (uint64_t *)&a, *fb = (uint64_t *)&b;
    for (size_t i = 0; i < NROWS; i++) {
        fa[i] = 100 + i;
        fb[i] = 7 * i + 1;
    }
    for (unsigned l = 0; l < VMSIM_MAX_TLB_LEVELS; l++) {
        a.tlb[l] = (struct vmsim_tlb_stats){.hits = 10, .misses = 20, .reach = 4096};
        b.tlb[l] = (struct vmsim_tlb_stats){.hits = 1, .misses = 2, .reach = 2u << 20};
    }
    for (unsigned k = 0; k < VMSIM_MAX_LEVELS + 2; k++) {
        a.walk_hist[k] = k;
        b.walk_hist[k] = 100;
    }
    a.mig_round_pages[0] = 5;
    b.mig_round_pages[0] = 9;
    struct vmsim_stats t = a;
    stats_combine(&t, &b, 2);
    const uint64_t *ft = (const uint64_t *)&t;
    for (size_t i = 0; i < NROWS; i++) {
        const uint64_t x = 100 + i, y = 7 * i + 1;
        uint64_t want = x;
        if (rows[i].rule == VMSIM_COMBINE_SUM)
            want = x + y;
        else if (rows[i].rule == VMSIM_COMBINE_MAX)
            want = y > x ? y : x;
        if (ft[i] != want)
            fail_msg("%s (%s): %llu, expected %llu", rows[i].name,
                     vmsim_combine_names[rows[i].rule], (unsigned long long)ft[i],
                     (unsigned long long)want);
    }
    for (unsigned l = 0; l < 2; l++) {
        assert_int_equal(t.tlb[l].hits, 11);
        assert_int_equal(t.tlb[l].misses, 22);
        assert_int_equal(t.tlb[l].reach, 2u << 20);
    }
    /* levels the machine lacks are left alone */
    assert_int_equal(t.tlb[2].hits, 10);
    for (unsigned k = 0; k < VMSIM_MAX_LEVELS + 2; k++)
        assert_int_equal(t.walk_hist[k], k + 100);
    assert_int_equal(t.mig_round_pages[0], 5);
}

int main(void)
{
    /* The scalar fields lead struct vmsim_stats in table order, which the
     * indexing above relies on. */
    _Static_assert(offsetof(struct vmsim_stats, events) == 0, "events first");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_statistic_has_a_rule),
        cmocka_unit_test(test_docs_state_the_rule),
        cmocka_unit_test(test_combine_follows_the_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
