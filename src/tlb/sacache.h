/* A set-associative cache of 64-bit keys and 64-bit values: the storage of
 * every TLB array and page-walk cache. Key 0 means an empty way, so callers
 * build keys that are never 0. Keys of a set are contiguous, so a lookup
 * scans one short array; LRU keeps a last-use stamp per way (exact LRU:
 * the victim is the way with the oldest stamp; stamps start at 1 and an
 * empty way's stamp is 0), random draws from the
 * simulator's seeded generator. Everything here is inline: it is the
 * per-access hot path. */
#ifndef VMSIM_TLB_SACACHE_H
#define VMSIM_TLB_SACACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/rng.h"
#include "vmsim/vmsim.h"

struct sac {
    uint64_t *key;   /* [sets * ways] */
    uint64_t *val;
    uint64_t *stamp; /* last use, for LRU */
    uint32_t ways;
    uint32_t sets;
    uint64_t set_mask;
    uint8_t repl;    /* enum vmsim_repl */
};

int sac_init(struct sac *c, uint32_t entries, uint32_t ways, uint8_t repl);
void sac_fini(struct sac *c);

static inline void sac_clear(struct sac *c)
{
    if (c->key) {
        memset(c->key, 0, (size_t)c->sets * c->ways * sizeof *c->key);
        memset(c->stamp, 0, (size_t)c->sets * c->ways * sizeof *c->stamp);
    }
}

/* The index of the way holding key in set `set`, or -1. Ways are compared
 * four at a time with one branch per block: a miss, the common outcome
 * on the slow path, then costs ways/4 branches. */
static inline long sac_find(const struct sac *c, uint64_t set, uint64_t key)
{
    const uint64_t base = set * c->ways;
    const uint64_t *k = c->key + base;
    uint32_t w = 0;
    for (; w + 4 <= c->ways; w += 4)
        if ((k[w] == key) | (k[w + 1] == key) | (k[w + 2] == key) | (k[w + 3] == key))
            break;
    for (; w < c->ways; w++)
        if (k[w] == key)
            return (long)(base + w);
    return -1;
}

/* Insert key, known to be absent from set (it was just looked up and
 * missed): an empty way if there is one, else the replacement victim.
 * Returns its slot; *evicted gets the key it held (0: it was empty). */
static inline long sac_insert_new(struct sac *c, uint64_t set, uint64_t key, uint64_t val,
                                  uint64_t now, struct rng *rng, uint64_t *evicted)
{
    const uint64_t base = set * c->ways;
    uint32_t victim = 0;
    if (c->repl == VMSIM_REPL_RANDOM) {
        const uint64_t *k = c->key + base;
        victim = c->ways;
        for (uint32_t w = 0; w < c->ways; w++)
            if (k[w] == 0) {
                victim = w;
                break;
            }
        if (victim == c->ways)
            victim = (uint32_t)rng_below(rng, c->ways);
    } else {
        /* Empty ways have stamp 0 and live ones a stamp >= 1, so the
         * oldest stamp picks an empty way first. Branch-free: the stamps
         * are random data, and mispredicted compares cost more than the
         * scan. */
        const uint64_t *st = c->stamp + base;
        uint64_t best = st[0];
        for (uint32_t w = 1; w < c->ways; w++) {
            uint64_t sw = st[w];
            bool older = sw < best;
            best = older ? sw : best;
            victim = older ? w : victim;
        }
    }
    const long slot = (long)(base + victim);
    *evicted = c->key[slot];
    c->key[slot] = key;
    c->val[slot] = val;
    c->stamp[slot] = now;
    return slot;
}

/* Empty one way (its stamp too, see sac_insert_new). */
static inline void sac_drop(struct sac *c, long slot)
{
    c->key[slot] = 0;
    c->stamp[slot] = 0;
}

#endif
