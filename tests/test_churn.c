/* The churn workload (src/trace/synth_churn.c; docs/workloads.md,
 * "churn"): its exact stream on a spec small enough to derive by hand, the
 * rules every stream keeps (checked against a model of the mapped regions
 * over a long stream), determinism from the seed, and its errors. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define PAGE 4096ull
#define HEAP (1ull << 40) /* the 48-bit layout's heap */
#define PG2 PAGE /* the second page */

struct stream {
    struct vmsim_event *ev;
    size_t n;
};

static struct stream collect(const char *spec, size_t limit)
{
    struct vmsim_source *src = NULL;
    struct vmsim_source_error err;
    if (vmsim_source_open_workload(spec, &src, &err) != 0)
        fail_msg("%s: expected %s, found %s", spec, err.expected, err.found);
    struct stream s = {malloc(limit * sizeof *s.ev), 0};
    assert_non_null(s.ev);
    long got;
    while (s.n < limit && (got = vmsim_source_next(src, s.ev + s.n, 1000 < limit - s.n ? 1000 : limit - s.n)) > 0)
        s.n += (size_t)got;
    vmsim_source_close(src);
    return s;
}

static void expect_ev(const struct vmsim_event *e, unsigned type, uint64_t addr, uint64_t len)
{
    assert_int_equal(e->type, type);
    assert_int_equal(e->pid, 1);
    assert_int_equal(e->cpu, 0);
    if (type != VMSIM_EV_SPAWN && type != VMSIM_EV_SWITCH) {
        assert_int_equal(e->addr, addr);
        assert_int_equal(e->len, len);
    }
}

/* small = large = 4k, size = 8k, n = 5: every region one page, one access;
 * the arena is 4 x 8 KiB rounded up to 2 MiB. Steps 1 and 2 map the two
 * lowest pages (the lowest gap first); from step 3 on two regions are
 * mapped, so each step unmaps one of them (which one: the seed's draw) and
 * maps the new one in the lowest gap, the page just freed. 2 + 2 x 3 + 3 x
 * 4 = 20 events. */
static void test_by_hand(void **state)
{
    (void)state;
    struct stream s = collect("churn:n=5,small=4k,large=4k,size=8k", 100);
    assert_int_equal(s.n, 20);
    expect_ev(&s.ev[0], VMSIM_EV_SPAWN, 0, 0);
    expect_ev(&s.ev[1], VMSIM_EV_SWITCH, 0, 0);
    expect_ev(&s.ev[2], VMSIM_EV_MMAP, HEAP, PAGE);
    assert_int_equal(s.ev[2].kind, VMSIM_PROT_R | VMSIM_PROT_W);
    expect_ev(&s.ev[3], VMSIM_EV_MADVISE, HEAP, PAGE);
    assert_int_equal(s.ev[3].kind, VMSIM_ADV_HUGEPAGE);
    expect_ev(&s.ev[4], VMSIM_EV_ACCESS, HEAP, 8);
    assert_int_equal(s.ev[4].kind, VMSIM_WRITE);
    expect_ev(&s.ev[5], VMSIM_EV_MMAP, HEAP + PG2, PAGE);
    expect_ev(&s.ev[6], VMSIM_EV_MADVISE, HEAP + PG2, PAGE);
    expect_ev(&s.ev[7], VMSIM_EV_ACCESS, HEAP + PG2, 8);
    for (size_t i = 8; i < 20; i += 4) {
        const uint64_t at = s.ev[i].addr;
        assert_true(at == HEAP || at == HEAP + PG2);
        expect_ev(&s.ev[i], VMSIM_EV_MUNMAP, at, PAGE);
        expect_ev(&s.ev[i + 1], VMSIM_EV_MMAP, at, PAGE);
        expect_ev(&s.ev[i + 2], VMSIM_EV_MADVISE, at, PAGE);
        expect_ev(&s.ev[i + 3], VMSIM_EV_ACCESS, at, 8);
    }
    free(s.ev);
    /* thp=0: no advice, 2 + 2 x 2 + 3 x 3 = 15 */
    s = collect("churn:n=5,small=4k,large=4k,size=8k,thp=0", 100);
    assert_int_equal(s.n, 15);
    for (size_t i = 0; i < s.n; i++)
        assert_int_not_equal(s.ev[i].type, VMSIM_EV_MADVISE);
    free(s.ev);
}

struct region {
    uint64_t addr, len;
};

/* 200,000 accesses of the defaults but size=8m: every mmap is a power of
 * two from 4k to 4m, aligned to its size up to 2 MiB, inside the arena of
 * 4 x 8 MiB from the heap, overlapping nothing mapped; every munmap removes exactly one mapped region; at most
 * 8 MiB is mapped at once; each region's pages are written once, in order, right
 * after its mmap and advice; n accesses in all. */
static void test_rules(void **state)
{
    (void)state;
    enum { N = 200000, MAXR = 2048 };
    const uint64_t size = 8ull << 20;
    struct stream s = collect("churn:n=200000,size=8m", 400000);
    static struct region r[MAXR];
    size_t nr = 0;
    uint64_t live = 0, accesses = 0, expect_page = 0, pages = 0, unmaps = 0, seen[11] = {0};
    uint64_t cur = 0;
    for (size_t i = 2; i < s.n; i++) {
        const struct vmsim_event *e = &s.ev[i];
        switch (e->type) {
        case VMSIM_EV_MUNMAP: {
            size_t j = 0;
            while (j < nr && (r[j].addr != e->addr || r[j].len != e->len))
                j++;
            assert_true(j < nr);
            live -= r[j].len;
            r[j] = r[--nr];
            unmaps++;
            assert_int_equal(expect_page, pages); /* the run before was complete */
            break;
        }
        case VMSIM_EV_MMAP: {
            assert_int_equal(expect_page, pages);
            const unsigned e2 = (unsigned)__builtin_ctzll(e->len);
            assert_true(e->len == 1ull << e2 && e2 >= 12 && e2 <= 22);
            seen[e2 - 12]++;
            assert_int_equal((e->addr - HEAP) % (e->len < (2ull << 20) ? e->len : 2ull << 20), 0);
            assert_true(e->addr >= HEAP && e->addr + e->len <= HEAP + 4 * size);
            for (size_t j = 0; j < nr; j++)
                assert_true(e->addr + e->len <= r[j].addr || r[j].addr + r[j].len <= e->addr);
            assert_true(live + e->len <= size);
            assert_true(nr < MAXR);
            r[nr++] = (struct region){e->addr, e->len};
            live += e->len;
            cur = e->addr;
            pages = e->len / PAGE;
            expect_page = 0;
            break;
        }
        case VMSIM_EV_MADVISE:
            assert_int_equal(e->addr, cur);
            break;
        case VMSIM_EV_ACCESS:
            assert_int_equal(e->kind, VMSIM_WRITE);
            assert_int_equal(e->addr, cur + expect_page * PAGE);
            expect_page++;
            accesses++;
            break;
        default:
            fail_msg("event %zu: type %u", i, e->type);
        }
    }
    assert_int_equal(accesses, N);
    assert_true(unmaps > 100);
    for (unsigned k = 0; k < 11; k++) /* each of the eleven sizes drawn */
        assert_true(seen[k] > 0);
    free(s.ev);
}

/* An munmap happens only when needed: just before the munmaps of a step,
 * the regions mapped plus the new one exceed size; after the last, they fit.
 * Checked step by step on the event sequence. (An munmap may also be for
 * want of a gap in the arena; with an arena of four times size and at most
 * size mapped, this stream never needs one.) */
static void test_unmaps_only_when_needed(void **state)
{
    (void)state;
    const uint64_t size = 8ull << 20;
    struct stream s = collect("churn:n=100000,size=8m,seed=7", 200000);
    uint64_t live = 0;
    for (size_t i = 2; i < s.n; i++) {
        if (s.ev[i].type != VMSIM_EV_MUNMAP && s.ev[i].type != VMSIM_EV_MMAP)
            continue;
        size_t j = i;
        uint64_t freed = 0, last = 0;
        while (s.ev[j].type == VMSIM_EV_MUNMAP) {
            last = s.ev[j].len;
            freed += s.ev[j++].len;
        }
        assert_int_equal(s.ev[j].type, VMSIM_EV_MMAP);
        const uint64_t len = s.ev[j].len;
        if (j > i) {
            assert_true(live + len > size);                 /* the first was needed */
            assert_true(live - freed + last + len > size);  /* so was the last */
        }
        live = live - freed + len;
        assert_true(live <= size);
        i = j;
    }
    free(s.ev);
}

static void test_deterministic(void **state)
{
    (void)state;
    struct stream a = collect("churn:n=50000,size=16m,seed=3", 100000);
    struct stream b = collect("churn:n=50000,size=16m,seed=3", 100000);
    struct stream c = collect("churn:n=50000,size=16m,seed=4", 100000);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.ev, b.ev, a.n * sizeof *a.ev);
    assert_true(a.n != c.n || memcmp(a.ev, c.ev, a.n * sizeof *a.ev) != 0);
    free(a.ev);
    free(b.ev);
    free(c.ev);
}

static void expect_error(const char *spec, const char *expected, const char *found)
{
    struct vmsim_source *src = NULL;
    struct vmsim_source_error err;
    assert_int_equal(vmsim_source_open_workload(spec, &src, &err), VMSIM_EPARSE);
    expect_in("expected", err.expected, expected);
    expect_in("found", err.found, found);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("churn:large=3m", "power of two", "large=3m");
    expect_error("churn:small=12k", "power of two", "small=12k");
    expect_error("churn:small=8m", "large >= small", "small=8m");
    expect_error("churn:size=2m", "size >= large", "size=2m");
    expect_error("churn:size=10000", "multiple of the 4096-byte page", "size=10000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_hand),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_unmaps_only_when_needed),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
