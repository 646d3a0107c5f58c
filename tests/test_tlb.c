/* TLB arrays and specs: set indexing, exact LRU, random replacement,
 * multi-size arrays, invalidation, and every error of the spec parsers. */
#include <string.h>

#include "testutil.h"
#include "pt/pt.h"
#include "tlb/tlb.h"

static struct vmsim_tlb_level_config level_cfg(const char *spec)
{
    struct vmsim_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char why[256];
    int rc = vmsim_tlb_parse(spec, &cfg, why, sizeof why);
    if (rc)
        print_error("%s\n", why);
    assert_int_equal(rc, VMSIM_OK);
    assert_int_equal(cfg.ntlb, 1);
    return cfg.tlb[0];
}

static bool touch(struct tlb_level *l, uint64_t vpn, uint64_t *now, struct rng *r)
{
    unsigned shift;
    ++*now;
    if (tlb_lookup(l, vpn << 12, 1, &shift, *now))
        return true;
    tlb_fill(l, vpn << 12, 1, 12, vpn << PTE_PFN_SHIFT, *now, r);
    return false;
}

/* 16 entries x 4 ways = 4 sets: pages whose numbers differ by 4 share a
 * set. Stream A B C D A E (same set): E evicts the least recently used, B;
 * then B misses, A, C, D... C was used before D and A, and E came last. */
static void test_lru_set(void **state)
{
    struct vmsim_tlb_level_config c = level_cfg("t=16x4");
    struct tlb_level l;
    struct rng r;
    rng_seed(&r, 1);
    uint64_t now = 0;
    assert_int_equal(tlb_level_init(&l, &c), VMSIM_OK);
    uint64_t A = 0, B = 4, C = 8, D = 12, E = 16;
    assert_false(touch(&l, A, &now, &r));
    assert_false(touch(&l, B, &now, &r));
    assert_false(touch(&l, C, &now, &r));
    assert_false(touch(&l, D, &now, &r));
    assert_true(touch(&l, A, &now, &r));
    assert_false(touch(&l, E, &now, &r)); /* evicts B */
    assert_true(touch(&l, A, &now, &r));
    assert_true(touch(&l, C, &now, &r));
    assert_true(touch(&l, D, &now, &r));
    assert_true(touch(&l, E, &now, &r));
    assert_false(touch(&l, B, &now, &r)); /* evicts A: LRU order now A C D E */
    assert_false(touch(&l, A, &now, &r));
    /* other sets are untouched: 4 more pages in set 1 all fit */
    for (uint64_t v = 1; v < 16; v += 4)
        assert_false(touch(&l, v, &now, &r));
    for (uint64_t v = 1; v < 16; v += 4)
        assert_true(touch(&l, v, &now, &r));
    tlb_level_fini(&l);
}

/* A cyclic stream of ways+1 pages in one set misses every time under LRU;
 * ways pages hit every time after the first round. */
static void test_lru_cyclic(void **state)
{
    struct vmsim_tlb_level_config c = level_cfg("t=64x4");
    struct tlb_level l;
    struct rng r;
    rng_seed(&r, 1);
    uint64_t now = 0;
    assert_int_equal(tlb_level_init(&l, &c), VMSIM_OK);
    unsigned hits = 0;
    for (int round = 0; round < 10; round++)
        for (uint64_t i = 0; i < 5; i++)
            hits += touch(&l, i * 16, &now, &r);
    assert_int_equal(hits, 0);
    tlb_level_flush(&l);
    for (int round = 0; round < 10; round++)
        for (uint64_t i = 0; i < 4; i++)
            hits += touch(&l, i * 16, &now, &r);
    assert_int_equal(hits, 36);
    tlb_level_fini(&l);
}

/* Fully associative (ways = entries): any 8 pages fit in 8 entries. */
static void test_fully_associative(void **state)
{
    struct vmsim_tlb_level_config c = level_cfg("t=8x8:random");
    struct tlb_level l;
    struct rng r;
    rng_seed(&r, 7);
    uint64_t now = 0;
    assert_int_equal(tlb_level_init(&l, &c), VMSIM_OK);
    for (uint64_t i = 0; i < 8; i++)
        assert_false(touch(&l, i * 1000003, &now, &r));
    for (uint64_t i = 0; i < 8; i++)
        assert_true(touch(&l, i * 1000003, &now, &r));
    /* random replacement: a ninth page evicts exactly one of them */
    assert_false(touch(&l, 99, &now, &r));
    unsigned hits = 0;
    for (uint64_t i = 0; i < 8; i++) {
        unsigned shift;
        hits += tlb_lookup(&l, (i * 1000003) << 12, 1, &shift, ++now) != NULL;
    }
    assert_int_equal(hits, 7);
    tlb_level_fini(&l);
}

/* The set-associative store itself against a model of exact LRU written
 * here from the rule (sacache.h): each way's last use (0: empty), the
 * victim the way of the oldest use, the lowest way among equal uses, an
 * empty way (the lowest) before any way in use. For associativities with
 * sets of ranks (up to 16 ways) and with stamps, over random hits, misses,
 * drops and clears, often several at one `now` (a tie): the same slot for
 * every lookup, the same victim for every fill. Keys come from a pool
 * small enough that a set holds some of them, and include pairs whose hash
 * bytes collide. */
static uint32_t model_victim(const uint64_t *used, uint32_t ways)
{
    uint32_t v = 0;
    for (uint32_t w = 1; w < ways; w++)
        if (used[w] < used[v])
            v = w;
    return v;
}

static void test_sac_against_model(void **state)
{
    static const uint32_t assoc[] = {1, 2, 4, 8, 12, 16, 17, 24};
    struct rng r;
    rng_seed(&r, 42);
    for (size_t a = 0; a < sizeof assoc / sizeof assoc[0]; a++) {
        const uint32_t ways = assoc[a], sets = 4;
        struct sac c;
        assert_int_equal(sac_init(&c, ways * sets, ways, VMSIM_REPL_LRU), VMSIM_OK);
        assert_true((c.set != NULL) == (SAC_SETS && ways <= 16));
        /* the model: each way's key and last use (0: empty) */
        uint64_t key[4][24] = {{0}}, used[4][24] = {{0}};
        /* a pool of 3 * ways keys per set, with colliding hash bytes: keys
         * k and k' with sac_fp(k) == sac_fp(k') */
        uint64_t pool[4][72];
        for (uint32_t s = 0; s < sets; s++) {
            uint32_t n = 0;
            for (uint64_t k = 1; n < 3 * ways; k++) {
                const uint64_t cand = (k << 2) | s; /* set = key & 3 */
                if (n && k % 5 == 0) { /* look for a collision with the last one */
                    uint64_t m = cand;
                    while (sac_fp(m) != sac_fp(pool[s][n - 1]))
                        m += 4;
                    pool[s][n++] = m;
                    k = m >> 2;
                } else {
                    pool[s][n++] = cand;
                }
            }
        }
        uint64_t now = 1, ties = 0;
        for (int step = 0; step < 40000; step++) {
            if (rng_below(&r, 3) == 0) /* else a tie with the step before */
                now++;
            else
                ties++;
            if (rng_below(&r, 5000) == 0) {
                sac_clear(&c);
                memset(key, 0, sizeof key);
                memset(used, 0, sizeof used);
                continue;
            }
            const uint32_t s = (uint32_t)rng_below(&r, sets);
            const uint64_t k = pool[s][rng_below(&r, 3 * ways)];
            uint32_t w = ways; /* the model's way holding k, ways: absent */
            for (uint32_t i = 0; i < ways; i++)
                if (key[s][i] == k)
                    w = i;
            const long slot = sac_find(&c, s, k);
            if (w < ways) {
                assert_int_equal(slot, (long)(s * ways + w));
                if (rng_below(&r, 8) == 0) {
                    sac_drop(&c, slot);
                    key[s][w] = 0;
                    used[s][w] = 0;
                } else {
                    sac_touch(&c, s, slot, now);
                    used[s][w] = now;
                }
                continue;
            }
            assert_int_equal(slot, -1);
            uint64_t evicted;
            const long got = sac_insert_new(&c, s, k, k * 3, now, &r, &evicted);
            w = model_victim(used[s], ways);
            assert_int_equal(got, (long)(s * ways + w));
            assert_true(evicted == key[s][w]);
            key[s][w] = k;
            used[s][w] = now;
            assert_true(c.val[got] == k * 3);
        }
        assert_true(ties > 10000);
        sac_fini(&c);
    }
}

/* Two arrays in one level, one per size; ASIDs keep entries apart;
 * invalidation removes the page of any size containing the address. */
static void test_sizes_asids_invalidate(void **state)
{
    struct vmsim_tlb_level_config c = level_cfg("t=16x4@4k|8x8@2m+1g");
    assert_int_equal(c.narrays, 2);
    assert_int_equal(c.array[1].page_shifts, (1ull << 21) | (1ull << 30));
    struct tlb_level l;
    struct rng r;
    rng_seed(&r, 1);
    assert_int_equal(tlb_level_init(&l, &c), VMSIM_OK);
    unsigned shift = 0;
    assert_true(tlb_fill(&l, 0x40000000, 3, 21, 77, 1, &r));
    assert_false(tlb_fill(&l, 0x40000000, 3, 16, 77, 1, &r)); /* 64K: not served */
    uint64_t *v = tlb_lookup(&l, 0x401fffff, 3, &shift, 2);
    assert_non_null(v);
    assert_int_equal(*v, 77);
    assert_int_equal(shift, 21);
    assert_null(tlb_lookup(&l, 0x40200000, 3, &shift, 3)); /* next 2M page */
    assert_null(tlb_lookup(&l, 0x40000000, 4, &shift, 3)); /* other ASID */
    tlb_level_invalidate(&l, 0x40123456, 3);
    assert_null(tlb_lookup(&l, 0x40000000, 3, &shift, 4));
    tlb_level_fini(&l);
}

static void expect_tlb_error(const char *spec, const char *needle)
{
    struct vmsim_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char why[256] = "";
    assert_int_equal(vmsim_tlb_parse(spec, &cfg, why, sizeof why), VMSIM_EPARSE);
    if (!strstr(why, needle))
        print_error("spec \"%s\": message \"%s\" lacks \"%s\"\n", spec, why, needle);
    assert_non_null(strstr(why, needle));
}

static void test_tlb_spec_ok(void **state)
{
    struct vmsim_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char why[256];
    int rc = vmsim_tlb_parse("l1d=64x4@4k/d,l1i=128x8@4k/i,l2=1024x8@4k+2m/u:9:random", &cfg, why,
                             sizeof why);
    assert_int_equal(rc, VMSIM_OK);
    assert_int_equal(cfg.ntlb, 3);
    assert_string_equal(cfg.tlb[0].name, "l1d");
    assert_int_equal(cfg.tlb[0].side, VMSIM_SIDE_DATA);
    assert_int_equal(cfg.tlb[1].side, VMSIM_SIDE_INSN);
    assert_int_equal(cfg.tlb[2].side, VMSIM_SIDE_UNIFIED);
    assert_int_equal(cfg.tlb[0].latency, 1); /* first level of its side */
    assert_int_equal(cfg.tlb[1].latency, 1);
    assert_int_equal(cfg.tlb[2].latency, 9);
    assert_int_equal(cfg.tlb[2].repl, VMSIM_REPL_RANDOM);
    assert_int_equal(cfg.tlb[2].array[0].page_shifts, (1ull << 12) | (1ull << 21));
    assert_int_equal(vmsim_tlb_parse("none", &cfg, why, sizeof why), VMSIM_OK);
    assert_int_equal(cfg.ntlb, 0);
}

static void test_tlb_spec_errors(void **state)
{
    expect_tlb_error("", "found nothing");
    expect_tlb_error("l1", "NAME=ENTRIESxWAYS");
    expect_tlb_error("l1=64", "ENTRIESxWAYS");
    expect_tlb_error("l1=64x3", "multiple of ways");
    expect_tlb_error("l1=96x4", "power of two");
    expect_tlb_error("l1=0x0", "non-zero");
    expect_tlb_error("l1=64x4@3k", "page size");
    expect_tlb_error("l1=64x4@", "page size");
    expect_tlb_error("l1=64x4/q", "/d, /i or /u");
    expect_tlb_error("l1=64x4:fast", "option");
    expect_tlb_error("l1=64x4,l1=64x4", "used twice");
    expect_tlb_error("l1=64x4|", "after '|'");
    expect_tlb_error("l1=64x4@4k+2m|32x4@2m", "two arrays");
    expect_tlb_error("flushes=64x4", "names a statistic");
    expect_tlb_error("l 1=64x4", "letters");
    expect_tlb_error("l1=99999999999x1", "ENTRIESxWAYS");
    expect_tlb_error("a=1x1,b=1x1,c=1x1,d=1x1,e=1x1,f=1x1,g=1x1,h=1x1,i=1x1", "at most");
}

static void test_pwc_cost_spec(void **state)
{
    struct vmsim_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char why[256];
    assert_int_equal(vmsim_pwc_parse("l4=2x2,l3=4x4,l2=32x4", &cfg, why, sizeof why), VMSIM_OK);
    assert_false(cfg.pwc.unified_mode);
    assert_int_equal(cfg.pwc.level[2].entries, 32);
    assert_int_equal(cfg.pwc.level[4].ways, 2);
    assert_int_equal(vmsim_pwc_parse("unified=32x4", &cfg, why, sizeof why), VMSIM_OK);
    assert_true(cfg.pwc.unified_mode);
    assert_int_equal(cfg.pwc.unified.entries, 32);
    assert_int_equal(vmsim_pwc_parse("none", &cfg, why, sizeof why), VMSIM_OK);
    assert_false(cfg.pwc.unified_mode);
    assert_int_equal(cfg.pwc.level[2].entries, 0);
    assert_int_equal(vmsim_pwc_parse("l1=4x4", &cfg, why, sizeof why), VMSIM_EPARSE);
    assert_non_null(strstr(why, "l2.."));
    assert_int_equal(vmsim_pwc_parse("unified=4x4,l2=4x4", &cfg, why, sizeof why), VMSIM_EPARSE);
    assert_int_equal(vmsim_pwc_parse("l2=4x3", &cfg, why, sizeof why), VMSIM_EPARSE);
    assert_int_equal(vmsim_pwc_parse("l2", &cfg, why, sizeof why), VMSIM_EPARSE);

    assert_int_equal(vmsim_cost_parse("access=2,pt_ref=30,fault=5000,pwc=3", &cfg, why, sizeof why),
                     VMSIM_OK);
    assert_int_equal(cfg.cost.access, 2);
    assert_int_equal(cfg.cost.pt_ref, 30);
    assert_int_equal(cfg.cost.fault, 5000);
    assert_int_equal(cfg.pwc.latency, 3);
    assert_int_equal(vmsim_cost_parse("walk=3", &cfg, why, sizeof why), VMSIM_EPARSE);
    assert_non_null(strstr(why, "walk=3"));
    assert_int_equal(vmsim_cost_parse("access=-1", &cfg, why, sizeof why), VMSIM_EPARSE);
    assert_int_equal(cfg.cost.access, 2); /* unchanged on error */
}

static void test_parse_size(void **state)
{
    uint64_t v;
    assert_int_equal(vmsim_parse_size("4096", &v), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(vmsim_parse_size("4k", &v), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(vmsim_parse_size("2MiB", &v), 0);
    assert_int_equal(v, 2u << 20);
    assert_int_equal(vmsim_parse_size("64GiB", &v), 0);
    assert_int_equal(v, 64ull << 30);
    assert_int_equal(vmsim_parse_size("0x1000", &v), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(vmsim_parse_size("4q", &v), VMSIM_EPARSE);
    assert_int_equal(vmsim_parse_size("-4k", &v), VMSIM_EPARSE);
    assert_int_equal(vmsim_parse_size("", &v), VMSIM_EPARSE);
    assert_int_equal(vmsim_parse_size("99999999999p", &v), VMSIM_ERANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lru_set),
        cmocka_unit_test(test_lru_cyclic),
        cmocka_unit_test(test_fully_associative),
        cmocka_unit_test(test_sac_against_model),
        cmocka_unit_test(test_sizes_asids_invalidate),
        cmocka_unit_test(test_tlb_spec_ok),
        cmocka_unit_test(test_tlb_spec_errors),
        cmocka_unit_test(test_pwc_cost_spec),
        cmocka_unit_test(test_parse_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
