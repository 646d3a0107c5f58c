/* The seeded generator the differential suites draw their cases from:
 * splitmix64, written here so that a test's streams depend on no code of
 * src/ (whose generator, util/rng.h, they referee). */
#ifndef VMSIM_TEST_RNG_H
#define VMSIM_TEST_RNG_H

#include <stdbool.h>
#include <stdint.h>

struct test_rng {
    uint64_t s;
};

static inline uint64_t rnd(struct test_rng *g)
{
    uint64_t z = (g->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform-ish in [0, n); 0 when n is 0. */
static inline uint64_t below(struct test_rng *g, uint64_t n) { return n ? rnd(g) % n : 0; }

/* True percent times in 100. */
static inline bool chance(struct test_rng *g, unsigned percent) { return below(g, 100) < percent; }

#endif
