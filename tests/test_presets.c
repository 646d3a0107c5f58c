/* Machine and geometry presets against docs/presets.md.
 *
 * The tables below are the executable form of the tables in docs/presets.md:
 * they were typed from the sources cited there (Intel/AMD/Arm manuals, the
 * SDM, the RISC-V and Arm architecture manuals), not from the spec strings in
 * src/machine/presets.c, so a typo in either place shows up as a failure here.
 * Every machine preset must parse, and the configuration it produces must
 * match its table row field by field. */
#include "testutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vmsim/vmsim.h"

#define P4K (1ull << 12)
#define P2M (1ull << 21)
#define P4M (1ull << 22)
#define P1G (1ull << 30)

enum { D = VMSIM_SIDE_DATA, I = VMSIM_SIDE_INSN, U = VMSIM_SIDE_UNIFIED };

struct exp_array {
    uint32_t entries, ways;
    uint64_t sizes; /* bit s: pages of 2^s bytes */
};

struct exp_level {
    const char *name;
    uint8_t side;
    uint32_t latency;
    uint8_t narrays;
    struct exp_array a[VMSIM_MAX_TLB_ARRAYS];
};

enum pwc_kind { PWC_NONE, PWC_SPLIT, PWC_UNIFIED };

struct exp_machine {
    const char *name;
    uint32_t ntlb;
    struct exp_level lv[VMSIM_MAX_TLB_LEVELS];
    enum pwc_kind pwc;
    uint32_t l4[2], l3[2], l2[2]; /* entries, ways (split) */
    uint32_t uni[2];              /* entries, ways (unified) */
    uint32_t pwc_latency;
    uint32_t access, pt_ref, fault;
};

/* docs/presets.md, one row per TLB level. */
static const struct exp_machine machines[] = {
    {"skylake",
     3,
     {{"l1d", D, 1, 3, {{64, 4, P4K}, {32, 4, P2M | P4M}, {4, 4, P1G}}},
      {"l1i", I, 1, 2, {{128, 8, P4K}, {8, 8, P2M | P4M}}},
      {"stlb", U, 8, 2, {{1536, 12, P4K | P2M}, {16, 4, P1G}}}},
     PWC_SPLIT,
     {4, 4},
     {8, 4},
     {32, 8},
     {0, 0},
     1,
     4,
     12,
     1000},
    {"golden-cove",
     3,
     {{"l1d", D, 1, 3, {{96, 6, P4K}, {32, 4, P2M | P4M}, {8, 8, P1G}}},
      {"l1i", I, 1, 2, {{256, 8, P4K}, {32, 8, P2M | P4M}}},
      {"stlb", U, 8, 1, {{2048, 16, P4K | P2M | P1G}}}},
     PWC_SPLIT,
     {4, 4},
     {8, 4},
     {32, 8},
     {0, 0},
     1,
     5,
     15,
     1000},
    {"zen2",
     4,
     {{"l1d", D, 1, 1, {{64, 64, P4K | P2M | P1G}}},
      {"l1i", I, 1, 1, {{64, 64, P4K | P2M | P1G}}},
      {"l2d", D, 7, 1, {{2048, 16, P4K | P2M}}},
      {"l2i", I, 7, 1, {{512, 8, P4K | P2M}}}},
     PWC_UNIFIED,
     {0, 0},
     {0, 0},
     {0, 0},
     {16, 16},
     1,
     4,
     12,
     1000},
    {"zen3",
     4,
     {{"l1d", D, 1, 1, {{64, 64, P4K | P2M | P1G}}},
      {"l1i", I, 1, 1, {{64, 64, P4K | P2M | P1G}}},
      {"l2d", D, 7, 1, {{2048, 16, P4K | P2M}}},
      {"l2i", I, 7, 1, {{512, 8, P4K | P2M}}}},
     PWC_UNIFIED,
     {0, 0},
     {0, 0},
     {0, 0},
     {16, 16},
     1,
     4,
     12,
     1000},
    {"zen4",
     4,
     {{"l1d", D, 1, 1, {{72, 72, P4K | P2M | P1G}}},
      {"l1i", I, 1, 1, {{64, 64, P4K | P2M | P1G}}},
      {"l2d", D, 7, 1, {{3072, 24, P4K | P2M}}},
      {"l2i", I, 7, 1, {{512, 8, P4K | P2M}}}},
     PWC_UNIFIED,
     {0, 0},
     {0, 0},
     {0, 0},
     {16, 16},
     1,
     4,
     14,
     1000},
    {"cortex-a76",
     3,
     {{"l1d", D, 1, 1, {{48, 48, P4K | P2M | P1G}}},
      {"l1i", I, 1, 1, {{48, 48, P4K | P2M | P1G}}},
      {"l2", U, 7, 1, {{1280, 5, P4K | P2M | P1G}}}},
     PWC_NONE,
     {0, 0},
     {0, 0},
     {0, 0},
     {0, 0},
     1,
     4,
     9,
     1000},
    {"cortex-a55",
     3,
     {{"l1d", D, 1, 1, {{16, 16, P4K | P2M | P1G}}},
      {"l1i", I, 1, 1, {{15, 15, P4K | P2M | P1G}}},
      {"l2", U, 7, 1, {{1024, 4, P4K | P2M | P1G}}}},
     PWC_SPLIT,
     {0, 0},
     {0, 0},
     {64, 4},
     {0, 0},
     1,
     1,
     30,
     1000},
    {"generic",
     3,
     {{"l1d", D, 1, 1, {{64, 4, P4K}}},
      {"l1i", I, 1, 1, {{64, 4, P4K}}},
      {"l2", U, 7, 1, {{1024, 8, P4K | P2M}}}},
     PWC_SPLIT,
     {4, 4},
     {8, 4},
     {32, 8},
     {0, 0},
     1,
     1,
     30,
     1000},
};

#define NMACHINES (sizeof machines / sizeof machines[0])

static size_t list_len(const char *const *list)
{
    size_t n = 0;
    while (list[n])
        n++;
    return n;
}

static void apply(struct vmsim_config *cfg, const char *name)
{
    vmsim_config_default(cfg);
    int rc = vmsim_config_machine(cfg, name);
    if (rc != VMSIM_OK) fail_msg("preset %s: %s", name, vmsim_strerror(rc));
}

static void check_cache(const char *what, const struct vmsim_cache_config *got,
                        const uint32_t exp[2])
{
    if (got->entries != exp[0] || got->ways != exp[1])
        fail_msg("%s: got %ux%u, expected %ux%u", what, got->entries, got->ways, exp[0], exp[1]);
}

static void check_machine(const struct exp_machine *m)
{
    struct vmsim_config cfg;
    apply(&cfg, m->name);
    assert_string_equal(cfg.machine, m->name);

    assert_int_equal(cfg.ntlb, m->ntlb);
    for (uint32_t i = 0; i < m->ntlb; i++) {
        const struct vmsim_tlb_level_config *got = &cfg.tlb[i];
        const struct exp_level *e = &m->lv[i];
        assert_string_equal(got->name, e->name);
        if (got->side != e->side || got->latency != e->latency || got->narrays != e->narrays ||
            got->repl != VMSIM_REPL_LRU)
            fail_msg("%s %s: side %u latency %u arrays %u repl %u, expected %u %u %u lru", m->name,
                     e->name, got->side, got->latency, got->narrays, got->repl, e->side, e->latency,
                     e->narrays);
        for (unsigned a = 0; a < e->narrays; a++) {
            const struct vmsim_tlb_array_config *ga = &got->array[a];
            const struct exp_array *ea = &e->a[a];
            if (ga->entries != ea->entries || ga->ways != ea->ways || ga->page_shifts != ea->sizes)
                fail_msg("%s %s array %u: %ux%u sizes %#llx, expected %ux%u sizes %#llx", m->name,
                         e->name, a, ga->entries, ga->ways, (unsigned long long)ga->page_shifts,
                         ea->entries, ea->ways, (unsigned long long)ea->sizes);
        }
    }

    static const uint32_t zero[2] = {0, 0};
    char what[64];
    switch (m->pwc) {
    case PWC_NONE:
        assert_false(cfg.pwc.unified_mode && cfg.pwc.unified.entries);
        for (unsigned k = 0; k <= VMSIM_MAX_LEVELS; k++) {
            snprintf(what, sizeof what, "%s pwc l%u", m->name, k);
            check_cache(what, &cfg.pwc.level[k], zero);
        }
        check_cache("unified pwc", &cfg.pwc.unified, zero);
        break;
    case PWC_SPLIT:
        assert_false(cfg.pwc.unified_mode);
        for (unsigned k = 0; k <= VMSIM_MAX_LEVELS; k++) {
            const uint32_t *e = k == 4 ? m->l4 : k == 3 ? m->l3 : k == 2 ? m->l2 : zero;
            snprintf(what, sizeof what, "%s pwc l%u", m->name, k);
            check_cache(what, &cfg.pwc.level[k], e);
        }
        break;
    case PWC_UNIFIED:
        assert_true(cfg.pwc.unified_mode);
        snprintf(what, sizeof what, "%s unified pwc", m->name);
        check_cache(what, &cfg.pwc.unified, m->uni);
        break;
    }
    assert_int_equal(cfg.pwc.latency, m->pwc_latency);

    assert_int_equal(cfg.cost.access, m->access);
    assert_int_equal(cfg.cost.pt_ref, m->pt_ref);
    assert_int_equal(cfg.cost.fault, m->fault);
}

static void test_every_preset_matches_docs(void **state)
{
    (void)state;
    for (size_t i = 0; i < NMACHINES; i++)
        check_machine(&machines[i]);
}

/* Each public name has a table row here, and each row a public name: a preset
 * added without its documented numbers fails. */
static void test_names_match_table(void **state)
{
    (void)state;
    size_t n = list_len(vmsim_machine_names);
    assert_int_equal(n, list_len(vmsim_machine_help));
    assert_int_equal(n, NMACHINES);
    for (size_t i = 0; i < n; i++) {
        const char *name = vmsim_machine_names[i];
        assert_true(strlen(name) > 0 && strlen(name) < VMSIM_NAME_MAX);
        assert_true(strlen(vmsim_machine_help[i]) > 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(name, vmsim_machine_names[j]);
        bool found = false;
        for (size_t j = 0; j < NMACHINES; j++)
            found = found || strcmp(machines[j].name, name) == 0;
        if (!found) fail_msg("preset %s has no row in docs/presets.md / this test", name);
    }
    static const char *const required[] = {"skylake", "golden-cove", "zen2", "zen3", "zen4"};
    for (size_t r = 0; r < sizeof required / sizeof required[0]; r++) {
        bool found = false;
        for (size_t i = 0; i < n; i++)
            found = found || strcmp(vmsim_machine_names[i], required[r]) == 0;
        if (!found) fail_msg("required preset %s missing", required[r]);
    }
}

/* Hierarchy sanity beyond the table: both sides are served, the first level a
 * side meets costs one cycle, and every array has a power-of-two set count. */
static void test_hierarchies_are_well_formed(void **state)
{
    (void)state;
    for (size_t i = 0; vmsim_machine_names[i]; i++) {
        struct vmsim_config cfg;
        apply(&cfg, vmsim_machine_names[i]);
        bool seen_d = false, seen_i = false;
        for (uint32_t l = 0; l < cfg.ntlb; l++) {
            const struct vmsim_tlb_level_config *t = &cfg.tlb[l];
            bool serves_d = t->side != VMSIM_SIDE_INSN, serves_i = t->side != VMSIM_SIDE_DATA;
            if ((serves_d && !seen_d) || (serves_i && !seen_i)) assert_int_equal(t->latency, 1);
            seen_d = seen_d || serves_d;
            seen_i = seen_i || serves_i;
            for (unsigned a = 0; a < t->narrays; a++) {
                uint32_t e = t->array[a].entries, w = t->array[a].ways;
                assert_true(w > 0 && e % w == 0);
                uint32_t sets = e / w;
                assert_true(sets && (sets & (sets - 1)) == 0);
                assert_true(t->array[a].page_shifts != 0);
            }
        }
        assert_true(seen_d && seen_i);
    }
}

static void test_unknown_and_bad_arguments(void **state)
{
    (void)state;
    struct vmsim_config cfg, before;
    vmsim_config_default(&cfg);
    before = cfg;
    assert_int_equal(vmsim_config_machine(&cfg, "pentium-pro"), VMSIM_ENOENT);
    assert_int_equal(vmsim_config_machine(&cfg, ""), VMSIM_ENOENT);
    assert_int_equal(vmsim_config_machine(&cfg, "Skylake"), VMSIM_ENOENT); /* names are exact */
    assert_memory_equal(&cfg, &before, sizeof cfg);
    assert_int_equal(vmsim_config_machine(&cfg, NULL), VMSIM_EINVAL);
    assert_int_equal(vmsim_config_machine(NULL, "skylake"), VMSIM_EINVAL);
    assert_memory_equal(&cfg, &before, sizeof cfg);
}

/* A machine preset replaces TLBs, PWCs and costs only. */
static void test_preset_keeps_other_fields(void **state)
{
    (void)state;
    struct vmsim_config cfg, before;
    vmsim_config_default(&cfg);
    assert_int_equal(vmsim_geometry_preset("x86-64-5l", &cfg.geom), VMSIM_OK);
    cfg.phys_bytes = 1ull << 33;
    cfg.ncpus = 4;
    cfg.asids = false;
    cfg.seed = 12345;
    before = cfg;
    assert_int_equal(vmsim_config_machine(&cfg, "zen4"), VMSIM_OK);
    assert_memory_equal(&cfg.geom, &before.geom, sizeof cfg.geom);
    assert_string_equal(cfg.pt, before.pt);
    assert_int_equal(cfg.phys_bytes, before.phys_bytes);
    assert_int_equal(cfg.ncpus, before.ncpus);
    assert_false(cfg.asids);
    assert_int_equal(cfg.anon_page_shift, before.anon_page_shift);
    assert_int_equal(cfg.seed, before.seed);
    /* Applying a second preset fully replaces the first (no leftover level). */
    assert_int_equal(vmsim_config_machine(&cfg, "skylake"), VMSIM_OK);
    assert_int_equal(cfg.ntlb, 3);
    assert_false(cfg.pwc.unified_mode);
    assert_string_equal(cfg.machine, "skylake");
}

/* ---- geometry presets: the "Geometry presets" table of docs/presets.md ---- */

struct exp_geom {
    const char *name;
    uint8_t va_bits, page_shift, levels, pte_bytes;
    uint8_t bits[VMSIM_MAX_LEVELS]; /* root first */
    uint8_t leaf_levels;            /* bit k: level k may be a leaf */
    unsigned big_level, big_shift;  /* the largest leaf and its page size */
};

#define LV(k) (1u << (k))

static const struct exp_geom geoms[] = {
    /* Intel SDM Vol. 3A ch. 4: 4-level, 5-level (LA57), 32-bit, PAE paging. */
    {"x86-64", 48, 12, 4, 8, {9, 9, 9, 9}, LV(1) | LV(2) | LV(3), 3, 30},
    {"x86-64-5l", 57, 12, 5, 8, {9, 9, 9, 9, 9}, LV(1) | LV(2) | LV(3), 3, 30},
    {"x86-32", 32, 12, 2, 4, {10, 10}, LV(1) | LV(2), 2, 22},
    {"x86-pae", 32, 12, 3, 8, {2, 9, 9}, LV(1) | LV(2), 2, 21},
    /* RISC-V Privileged Architecture, Sv39/Sv48/Sv57: a leaf at any level. */
    {"sv39", 39, 12, 3, 8, {9, 9, 9}, LV(1) | LV(2) | LV(3), 3, 30},
    {"sv48", 48, 12, 4, 8, {9, 9, 9, 9}, LV(1) | LV(2) | LV(3) | LV(4), 4, 39},
    {"sv57", 57, 12, 5, 8, {9, 9, 9, 9, 9}, LV(1) | LV(2) | LV(3) | LV(4) | LV(5), 5, 48},
    /* Arm ARM, VMSAv8-64, 48-bit input addresses, no FEAT_LPA/LPA2. */
    {"arm64-4k", 48, 12, 4, 8, {9, 9, 9, 9}, LV(1) | LV(2) | LV(3), 3, 30},
    {"arm64-16k", 48, 14, 4, 8, {1, 11, 11, 11}, LV(1) | LV(2), 2, 25},
    {"arm64-64k", 48, 16, 3, 8, {6, 13, 13}, LV(1) | LV(2), 2, 29},
};

static void test_geometry_presets_match_docs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof geoms / sizeof geoms[0]; i++) {
        const struct exp_geom *e = &geoms[i];
        struct vmsim_geometry g;
        memset(&g, 0, sizeof g);
        int rc = vmsim_geometry_preset(e->name, &g);
        if (rc != VMSIM_OK) fail_msg("geometry %s: %s", e->name, vmsim_strerror(rc));
        if (g.va_bits != e->va_bits || g.page_shift != e->page_shift || g.levels != e->levels ||
            g.pte_bytes != e->pte_bytes || g.leaf_levels != e->leaf_levels)
            fail_msg("geometry %s: va %u page %u levels %u pte %u leaves %#x, expected "
                     "%u %u %u %u %#x",
                     e->name, g.va_bits, g.page_shift, g.levels, g.pte_bytes, g.leaf_levels,
                     e->va_bits, e->page_shift, e->levels, e->pte_bytes, e->leaf_levels);
        assert_memory_equal(g.bits, e->bits, e->levels);
        assert_int_equal(vmsim_geometry_page_shift(&g, 1), e->page_shift);
        assert_int_equal(vmsim_geometry_page_shift(&g, e->big_level), e->big_shift);
        /* The bits cover the translated address exactly. */
        unsigned sum = e->page_shift;
        for (unsigned l = 0; l < e->levels; l++)
            sum += e->bits[l];
        assert_int_equal(sum, e->va_bits);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_preset_matches_docs),
        cmocka_unit_test(test_names_match_table),
        cmocka_unit_test(test_hierarchies_are_well_formed),
        cmocka_unit_test(test_unknown_and_bad_arguments),
        cmocka_unit_test(test_preset_keeps_other_fields),
        cmocka_unit_test(test_geometry_presets_match_docs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
