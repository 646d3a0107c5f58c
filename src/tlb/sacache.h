/* A set-associative cache of 64-bit keys and 64-bit values: the storage of
 * every TLB array and page-walk cache. Key 0 means an empty way, so callers
 * build keys that are never 0. Keys of a set are contiguous, so a lookup
 * scans one short array; LRU keeps a last-use stamp per way (exact LRU:
 * the victim is the way with the oldest stamp), random draws from the
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
    if (c->key)
        memset(c->key, 0, (size_t)c->sets * c->ways * sizeof *c->key);
}

/* The index of the way holding key in set `set`, or -1. */
static inline long sac_find(const struct sac *c, uint64_t set, uint64_t key)
{
    const uint64_t *k = c->key + set * c->ways;
    for (uint32_t w = 0; w < c->ways; w++)
        if (k[w] == key)
            return (long)(set * c->ways + w);
    return -1;
}

/* Insert key, known to be absent from set (it was just looked up and
 * missed): an empty way if there is one, else the replacement victim.
 * Returns its slot. */
static inline long sac_insert_new(struct sac *c, uint64_t set, uint64_t key, uint64_t val,
                                  uint64_t now, struct rng *rng)
{
    long slot;
    {
        uint64_t base = set * c->ways;
        const uint64_t *k = c->key + base;
        uint32_t victim = c->ways;
        for (uint32_t w = 0; w < c->ways; w++)
            if (k[w] == 0) {
                victim = w;
                break;
            }
        if (victim == c->ways) {
            if (c->repl == VMSIM_REPL_RANDOM) {
                victim = (uint32_t)rng_below(rng, c->ways);
            } else {
                victim = 0;
                for (uint32_t w = 1; w < c->ways; w++)
                    if (c->stamp[base + w] < c->stamp[base + victim])
                        victim = w;
            }
        }
        slot = (long)(base + victim);
        c->key[slot] = key;
    }
    c->val[slot] = val;
    c->stamp[slot] = now;
    return slot;
}

/* Insert or refresh key in set; returns its slot. */
static inline long sac_insert(struct sac *c, uint64_t set, uint64_t key, uint64_t val,
                              uint64_t now, struct rng *rng)
{
    long slot = sac_find(c, set, key);
    if (slot < 0)
        return sac_insert_new(c, set, key, val, now, rng);
    c->val[slot] = val;
    c->stamp[slot] = now;
    return slot;
}

#endif
