/* Machine and geometry presets against docs/presets.md.
 *
 * The tables below are the executable form of the tables in docs/presets.md:
 * they were typed from the sources cited there (Intel/AMD/Arm manuals, the
 * SDM, the RISC-V and Arm architecture manuals), not from the spec strings in
 * src/machine/presets.c, so a typo in either place shows up as a failure here.
 * Every machine preset must parse, and the configuration it produces must
 * match its table row field by field; so must each preset's cache hierarchy
 * (vmsim_cache_parse of its name). */
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

/* ---- cache hierarchies: the "Cache hierarchies" tables of docs/presets.md ----
 *
 * Each level is written as the source states it (its capacity in bytes) and
 * as docs/presets.md lays it out (sets x ways x line): the test checks that
 * the two agree, so a slip in the doc's arithmetic fails, and that the
 * preset's spec parses to exactly that. DRAM is written as the doc states
 * it, a fixed part in cycles plus a latency in ns at a clock in MHz, and the
 * expected cycles are computed from them. */

#define KiB 1024ull
#define MiB (1024ull * 1024ull)

struct exp_cache {
    const char *name;
    uint8_t side;
    uint64_t bytes; /* capacity as the source gives it */
    uint32_t sets, ways, line, latency;
    bool shared;
};

struct exp_memory {
    const char *machine;
    unsigned nlevels;
    struct exp_cache lv[VMSIM_MAX_CACHE_LEVELS];
    uint32_t dram_cycles, dram_ns, mhz; /* dram = cycles + ns * mhz / 1000 */
};

static const struct exp_memory memories[] = {
    /* Core i7-6700/6700K (client die): 7-cpu.com, AnandTech, WikiChip, the ORM;
       DRAM 42 cycles + 51 ns at 4.0 GHz (7-cpu.com). */
    {"skylake",
     4,
     {{"l1d", D, 32 * KiB, 64, 8, 64, 4, false},
      {"l1i", I, 32 * KiB, 64, 8, 64, 4, false},
      {"l2", U, 256 * KiB, 1024, 4, 64, 12, false},
      {"l3", U, 8 * MiB, 8192, 16, 64, 42, true}},
     42, 51, 4000},
    /* Core i9-12900K: 48 KiB 12-way L1D, 1.25 MiB 10-way L2, 30 MiB L3 of
       12-way slices; 80 ns at 5.0 GHz. */
    {"golden-cove",
     4,
     {{"l1d", D, 48 * KiB, 64, 12, 64, 5, false},
      {"l1i", I, 32 * KiB, 64, 8, 64, 5, false},
      {"l2", U, 1280 * KiB, 2048, 10, 64, 15, false},
      {"l3", U, 30 * MiB, 40960, 12, 64, 75, true}},
     0, 80, 5000},
    /* Zen 2: 16 MiB L3 per 4-core CCX; 80 ns at 4.0 GHz. */
    {"zen2",
     4,
     {{"l1d", D, 32 * KiB, 64, 8, 64, 4, false},
      {"l1i", I, 32 * KiB, 64, 8, 64, 4, false},
      {"l2", U, 512 * KiB, 1024, 8, 64, 12, false},
      {"l3", U, 16 * MiB, 16384, 16, 64, 39, true}},
     0, 80, 4000},
    /* Zen 3: 32 MiB L3 per 8-core CCX; 80 ns at 4.5 GHz. */
    {"zen3",
     4,
     {{"l1d", D, 32 * KiB, 64, 8, 64, 4, false},
      {"l1i", I, 32 * KiB, 64, 8, 64, 4, false},
      {"l2", U, 512 * KiB, 1024, 8, 64, 12, false},
      {"l3", U, 32 * MiB, 32768, 16, 64, 46, true}},
     0, 80, 4500},
    /* Zen 4: 1 MiB 8-way L2, 32 MiB L3 per CCX; 80 ns at 5.0 GHz. */
    {"zen4",
     4,
     {{"l1d", D, 32 * KiB, 64, 8, 64, 4, false},
      {"l1i", I, 32 * KiB, 64, 8, 64, 4, false},
      {"l2", U, 1 * MiB, 2048, 8, 64, 14, false},
      {"l3", U, 32 * MiB, 32768, 16, 64, 50, true}},
     0, 80, 5000},
    /* Cortex-A76 as in the Agilex 5 HPS: 64 KiB 4-way L1s, 256 KiB 8-way L2,
       2 MiB 16-way DSU L3; 80 ns at 2.0 GHz. */
    {"cortex-a76",
     4,
     {{"l1d", D, 64 * KiB, 256, 4, 64, 4, false},
      {"l1i", I, 64 * KiB, 256, 4, 64, 4, false},
      {"l2", U, 256 * KiB, 512, 8, 64, 9, false},
      {"l3", U, 2 * MiB, 2048, 16, 64, 30, true}},
     0, 80, 2000},
    /* Cortex-A55 as in the Agilex 5 HPS: 32 KiB 4-way L1s, 128 KiB 4-way L2,
       the same DSU L3; 80 ns at 1.5 GHz. */
    {"cortex-a55",
     4,
     {{"l1d", D, 32 * KiB, 128, 4, 64, 4, false},
      {"l1i", I, 32 * KiB, 128, 4, 64, 4, false},
      {"l2", U, 128 * KiB, 512, 4, 64, 9, false},
      {"l3", U, 2 * MiB, 2048, 16, 64, 30, true}},
     0, 80, 1500},
    /* Textbook round numbers; 80 ns at 2.5 GHz. */
    {"generic",
     4,
     {{"l1d", D, 32 * KiB, 64, 8, 64, 4, false},
      {"l1i", I, 32 * KiB, 64, 8, 64, 4, false},
      {"l2", U, 512 * KiB, 1024, 8, 64, 12, false},
      {"l3", U, 16 * MiB, 16384, 16, 64, 40, true}},
     0, 80, 2500},
};

#define NMEMORIES (sizeof memories / sizeof memories[0])

static void check_memory(const struct exp_memory *e)
{
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    char why[256] = "";
    int rc = vmsim_cache_parse(e->machine, &cfg, why, sizeof why);
    if (rc != VMSIM_OK)
        fail_msg("--cache %s: %s (%s)", e->machine, vmsim_strerror(rc), why);
    const struct vmsim_memory_config *m = &cfg.mem;
    assert_int_equal(m->ncaches, e->nlevels);
    for (unsigned j = 0; j < e->nlevels; j++) {
        const struct exp_cache *x = &e->lv[j];
        const struct vmsim_cache_level_config *c = &m->cache[j];
        /* The doc's geometry is the source's capacity. */
        if ((uint64_t)x->sets * x->ways * x->line != x->bytes)
            fail_msg("%s %s: %ux%ux%u is not %llu bytes", e->machine, x->name, x->sets, x->ways,
                     x->line, (unsigned long long)x->bytes);
        assert_string_equal(c->name, x->name);
        if (c->sets != x->sets || c->ways != x->ways || c->line != x->line ||
            c->latency != x->latency || c->side != x->side || c->shared != x->shared)
            fail_msg("%s %s: %ux%ux%u side %u shared %d latency %u, expected %ux%ux%u side %u "
                     "shared %d latency %u",
                     e->machine, x->name, c->sets, c->ways, c->line, c->side, c->shared,
                     c->latency, x->sets, x->ways, x->line, x->side, x->shared, x->latency);
    }
    assert_int_equal(m->dram, e->dram_cycles + e->dram_ns * e->mhz / 1000);
    assert_true(m->data);             /* the program's accesses go through the caches */
    assert_int_equal(m->dram_row_hit, 0); /* no row-buffer model in a preset */
}

static void test_cache_presets_match_docs(void **state)
{
    (void)state;
    for (size_t i = 0; i < NMEMORIES; i++)
        check_memory(&memories[i]);
}

/* Every machine preset has a cache table row and a cache spec, and the
 * public list of specs runs parallel to the names. */
static void test_cache_names_match_table(void **state)
{
    (void)state;
    size_t n = list_len(vmsim_machine_names);
    assert_int_equal(list_len(vmsim_machine_caches), n);
    assert_int_equal(NMEMORIES, n);
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t j = 0; j < NMEMORIES; j++)
            found = found || strcmp(memories[j].machine, vmsim_machine_names[i]) == 0;
        if (!found)
            fail_msg("preset %s has no cache row in docs/presets.md / this test",
                     vmsim_machine_names[i]);
        assert_true(strlen(vmsim_machine_caches[i]) > 0);
    }
}

/* Shape beyond the table: L1D then L1I, a unified shared last level, and
 * along the data path every level slower than the one before and DRAM
 * slower than all (a preset that inverted two latencies would be a typo). */
static void test_cache_hierarchies_are_well_formed(void **state)
{
    (void)state;
    for (size_t i = 0; vmsim_machine_names[i]; i++) {
        struct vmsim_config cfg;
        vmsim_config_default(&cfg);
        char why[256] = "";
        assert_int_equal(vmsim_cache_parse(vmsim_machine_names[i], &cfg, why, sizeof why),
                         VMSIM_OK);
        const struct vmsim_memory_config *m = &cfg.mem;
        assert_true(m->ncaches >= 3);
        assert_int_equal(m->cache[0].side, VMSIM_SIDE_DATA);
        assert_int_equal(m->cache[1].side, VMSIM_SIDE_INSN);
        const struct vmsim_cache_level_config *last = &m->cache[m->ncaches - 1];
        assert_true(last->shared && last->side == VMSIM_SIDE_UNIFIED);
        uint32_t prev = 0;
        for (unsigned j = 0; j < m->ncaches; j++) {
            const struct vmsim_cache_level_config *c = &m->cache[j];
            assert_int_equal(c->line, 64);
            if (c->side == VMSIM_SIDE_INSN)
                continue;
            if (c->latency <= prev)
                fail_msg("%s: %s (%u cycles) is not slower than the level before (%u)",
                         vmsim_machine_names[i], c->name, c->latency, prev);
            prev = c->latency;
        }
        assert_true(m->dram > prev);
    }
}

/* --machine leaves the memory model alone: outputs of runs without --cache
 * stay what they were. */
static void test_machine_does_not_apply_cache(void **state)
{
    (void)state;
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    assert_int_equal(cfg.mem.dram, 0);
    assert_int_equal(cfg.mem.ncaches, 0);
    const struct vmsim_memory_config before = cfg.mem;
    for (size_t i = 0; vmsim_machine_names[i]; i++) {
        assert_int_equal(vmsim_config_machine(&cfg, vmsim_machine_names[i]), VMSIM_OK);
        assert_memory_equal(&cfg.mem, &before, sizeof before);
    }
}

static void test_cache_parse_names_and_errors(void **state)
{
    (void)state;
    struct vmsim_config cfg, before;
    vmsim_config_default(&cfg);
    char why[512];
    assert_int_equal(vmsim_cache_parse("zen3", &cfg, why, sizeof why), VMSIM_OK);
    before = cfg;

    /* A mistyped preset: the error names it and lists the presets; cfg keeps
       the hierarchy it had. */
    static const char *const bad[] = {"skylak", "Skylake", "zen5", "cortex_a76", "nonee"};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        why[0] = '\0';
        assert_int_equal(vmsim_cache_parse(bad[b], &cfg, why, sizeof why), VMSIM_ENOENT);
        char found[64];
        snprintf(found, sizeof found, "found \"%s\"", bad[b]);
        if (!strstr(why, found) || !strstr(why, "expected a machine preset"))
            fail_msg("--cache %s: unclear error \"%s\"", bad[b], why);
        for (size_t i = 0; vmsim_machine_names[i]; i++)
            if (!strstr(why, vmsim_machine_names[i]))
                fail_msg("--cache %s: the error does not list %s: \"%s\"", bad[b],
                         vmsim_machine_names[i], why);
        assert_memory_equal(&cfg, &before, sizeof cfg);
    }
    /* A name inside a spec is not a spec item: the spec grammar's error. */
    why[0] = '\0';
    assert_int_equal(vmsim_cache_parse("skylake,dram=200", &cfg, why, sizeof why), VMSIM_EPARSE);
    assert_true(strstr(why, "skylake") != NULL);
    assert_memory_equal(&cfg, &before, sizeof cfg);
    /* The empty spec is the parser's case too. */
    assert_int_equal(vmsim_cache_parse("", &cfg, why, sizeof why), VMSIM_EPARSE);
    assert_memory_equal(&cfg, &before, sizeof cfg);

    /* A spec still works, and "none" removes the memory model. */
    assert_int_equal(vmsim_cache_parse("l2=1024x16x64:14,dram=250", &cfg, why, sizeof why),
                     VMSIM_OK);
    assert_int_equal(cfg.mem.ncaches, 1);
    assert_int_equal(cfg.mem.dram, 250);
    assert_int_equal(vmsim_cache_parse("none", &cfg, why, sizeof why), VMSIM_OK);
    assert_int_equal(cfg.mem.ncaches, 0);
    assert_int_equal(cfg.mem.dram, 0);

    assert_int_equal(vmsim_cache_parse(NULL, &cfg, why, sizeof why), VMSIM_EINVAL);
    assert_int_equal(vmsim_cache_parse("skylake", NULL, why, sizeof why), VMSIM_EINVAL);
    /* why may be absent. */
    assert_int_equal(vmsim_cache_parse("skylak", &cfg, NULL, 0), VMSIM_ENOENT);
}

/* The spec a table row stands for, written out from the row in the grammar
 * of docs/caches.md. */
static void spec_of(const struct exp_memory *e, char *buf, size_t len)
{
    size_t n = 0;
    for (unsigned j = 0; j < e->nlevels; j++) {
        const struct exp_cache *x = &e->lv[j];
        n += (size_t)snprintf(buf + n, len - n, "%s%s=%ux%ux%u%s%s:%u", j ? "," : "", x->name,
                              x->sets, x->ways, x->line,
                              x->side == D ? "/d" : x->side == I ? "/i" : "",
                              x->shared ? "/shared" : "", x->latency);
        assert_true(n < len);
    }
    n += (size_t)snprintf(buf + n, len - n, ",dram=%u", e->dram_cycles + e->dram_ns * e->mhz / 1000);
    assert_true(n < len);
}

/* `vmsim presets` shows each machine's cache spec on the line after it, and
 * that spec is the documented hierarchy. */
static void test_presets_command_shows_cache_specs(void **state)
{
    (void)state;
    struct cmd_result r = run_vmsim("presets");
    assert_int_equal(r.status, 0);
    for (size_t i = 0; i < NMEMORIES; i++) {
        char spec[512], line[600];
        spec_of(&memories[i], spec, sizeof spec);
        char entry[64];
        snprintf(entry, sizeof entry, "\n  %s ", memories[i].machine); /* the list entry */
        const char *at = strstr(r.out, entry);
        if (!at)
            fail_msg("vmsim presets: no entry for %s", memories[i].machine);
        at++;
        const char *next = strchr(at, '\n');
        assert_non_null(next);
        snprintf(line, sizeof line, "--cache %s\n", spec);
        const char *found = strstr(next + 1, line);
        const char *after = strchr(next + 1, '\n');
        if (!found || found > after)
            fail_msg("vmsim presets: expected \"%s\" on the line after %s", spec,
                     memories[i].machine);
        /* and the documented spec parses to the same configuration */
        struct vmsim_config a, b;
        vmsim_config_default(&a);
        vmsim_config_default(&b);
        char why[256];
        assert_int_equal(vmsim_cache_parse(spec, &a, why, sizeof why), VMSIM_OK);
        assert_int_equal(vmsim_cache_parse(memories[i].machine, &b, why, sizeof why), VMSIM_OK);
        assert_memory_equal(&a.mem, &b.mem, sizeof a.mem);
    }
    cmd_result_free(&r);
}

/* The command line: --cache NAME runs with the preset's hierarchy, a
 * mistyped name stops with status 2 and an error that names it and lists
 * the presets, and no preset name is taken for a spec. */
static void test_cli_cache_names(void **state)
{
    (void)state;
    for (size_t i = 0; i < NMEMORIES; i++) {
        const struct exp_memory *e = &memories[i];
        struct cmd_result r = run_vmsim("run --workload seq:n=200 --cache %s --json -", e->machine);
        char dram[48];
        snprintf(dram, sizeof dram, "\"dram\": %u", e->dram_cycles + e->dram_ns * e->mhz / 1000);
        if (r.status != 0 || !strstr(r.out, dram) || !strstr(r.out, "\"name\": \"l3\""))
            fail_msg("--cache %s: status %d, no %s or l3 in the JSON configuration; stderr \"%s\"",
                     e->machine, r.status, dram, r.err);
        cmd_result_free(&r);
    }
    static const char *const bad[] = {"skylak", "Zen3", "cortex-a78"};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        struct cmd_result r = run_vmsim("run --workload seq:n=10 --cache %s", bad[b]);
        char found[64];
        snprintf(found, sizeof found, "found \"%s\"", bad[b]);
        if (r.status != 2 || !strstr(r.err, "--cache") || !strstr(r.err, found) ||
            !strstr(r.err, "expected a machine preset (skylake, golden-cove,"))
            fail_msg("--cache %s: status %d, stderr \"%s\"", bad[b], r.status, r.err);
        assert_string_equal(r.out, "");
        cmd_result_free(&r);
    }
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
        cmocka_unit_test(test_cache_presets_match_docs),
        cmocka_unit_test(test_cache_names_match_table),
        cmocka_unit_test(test_cache_hierarchies_are_well_formed),
        cmocka_unit_test(test_machine_does_not_apply_cache),
        cmocka_unit_test(test_cache_parse_names_and_errors),
        cmocka_unit_test(test_presets_command_shows_cache_specs),
        cmocka_unit_test(test_cli_cache_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
