/* A set-associative cache of 64-bit keys and 64-bit values: the storage of
 * every TLB array and page-walk cache. Key 0 means an empty way, so callers
 * build keys that are never 0. Keys of a set are contiguous, so a lookup
 * scans one short array; LRU keeps a last-use stamp per way (exact LRU:
 * the victim is the way with the oldest use, the lowest way among equals,
 * an empty way before any other), random draws from the simulator's seeded
 * generator. Everything here is inline: it is the per-access hot path.
 *
 * A stamp packs the use and the way: (now << wbits) | way for a way in
 * use (now >= 1), plain `way` for an empty one, wbits being the bits that
 * number the ways. So the LRU victim is the smallest stamp of the set: the
 * oldest use first, then the lowest way, and any empty way (lowest first)
 * before every way in use. now must stay below 2^(64 - wbits): 2^40 uses
 * even for 2^24 ways.
 *
 * With up to 16 ways (every TLB and page-walk cache of the presets), each
 * set also keeps a byte of each way's key hash in 16 bytes, so that one
 * vector compare finds the ways that may hold a key: a miss, the common
 * outcome on the slow path, then reads no key. (Tried as well, 2026-12-05:
 * keeping the set's LRU order as 4-bit way numbers, so that the victim is
 * read rather than searched for. Moving a way to the front cost more
 * instructions than the branch-free minimum of the stamps it saved.) */
#ifndef VMSIM_TLB_SACACHE_H
#define VMSIM_TLB_SACACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/rng.h"
#include "vmsim/vmsim.h"

#ifdef __SSE2__
#include <emmintrin.h>
#define SAC_FP 1 /* hash bytes (see the top) */
#else
#define SAC_FP 0
#endif

struct sac {
    uint64_t *key;   /* [sets * ways] */
    uint64_t *val;
    uint64_t *stamp; /* last use, for LRU */
    uint8_t *fp;     /* [sets * 16] with up to 16 ways, 16-byte aligned: each way's hash
                        byte (sac_fp), 0 for an empty way; NULL: lookups scan the keys */
    uint32_t ways;
    uint32_t sets;
    uint64_t set_mask;
    uint8_t repl;    /* enum vmsim_repl */
    uint8_t wbits;   /* bits that number the ways (stamps) */
};

int sac_init(struct sac *c, uint32_t entries, uint32_t ways, uint8_t repl);
void sac_fini(struct sac *c);

/* Empty every way. */
void sac_clear(struct sac *c);

/* The way at slot was used at now (a hit): it becomes its set's newest. */
static inline void sac_touch(struct sac *c, uint64_t set, long slot, uint64_t now)
{
    c->stamp[slot] = now << c->wbits | (uint64_t)(slot - (long)(set * c->ways));
}

/* A way's hash byte: never 0, the byte of an empty way. */
static inline uint8_t sac_fp(uint64_t key)
{
    return (uint8_t)((key * 0x9e3779b97f4a7c15ull) >> 56) | 1;
}

/* The index of the way holding key in set `set`, or -1, fp being the
 * key's hash byte (sac_fp: a caller probing several caches for one key
 * computes it once). With hash bytes,
 * the ways whose byte matches; else the keys four at a time with one
 * branch per block: a miss then costs ways/4 branches. */
static inline long sac_find_fp(const struct sac *c, uint64_t set, uint64_t key, uint8_t fp)
{
    const uint64_t base = set * c->ways;
    const uint64_t *k = c->key + base;
#if SAC_FP
    if (c->fp) {
        const __m128i f = _mm_load_si128((const __m128i *)(const void *)(c->fp + set * 16));
        for (unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(f, _mm_set1_epi8((char)fp)));
             m; m &= m - 1)
            if (k[__builtin_ctz(m)] == key)
                return (long)(base + (unsigned)__builtin_ctz(m));
        return -1;
    }
#endif
    uint32_t w = 0;
    for (; w + 4 <= c->ways; w += 4)
        if ((k[w] == key) | (k[w + 1] == key) | (k[w + 2] == key) | (k[w + 3] == key))
            break;
    for (; w < c->ways; w++)
        if (k[w] == key)
            return (long)(base + w);
    return -1;
}

/* sac_find_fp with fp = sac_fp(key). */
static inline long sac_find(const struct sac *c, uint64_t set, uint64_t key)
{
    return sac_find_fp(c, set, key, sac_fp(key));
}

/* The smallest of st[0, ways): two independent minimum chains, branch-free,
 * since stamps are random data and mispredicted compares cost more than
 * the scan. */
static inline uint64_t sac_oldest(const uint64_t *st, uint32_t ways)
{
    uint64_t b0 = st[0], b1 = UINT64_MAX;
    uint32_t w = 1;
    for (; w + 2 <= ways; w += 2) {
        b1 = st[w] < b1 ? st[w] : b1;
        b0 = st[w + 1] < b0 ? st[w + 1] : b0;
    }
    if (w < ways)
        b1 = st[w] < b1 ? st[w] : b1;
    return b0 < b1 ? b0 : b1;
}

/* Insert key, known to be absent from set (it was just looked up and
 * missed): an empty way if there is one, else the replacement victim.
 * Returns its slot; *evicted gets the key it held (0: it was empty); fp
 * is the key's hash byte (sac_fp). */
static inline long sac_insert_fp(struct sac *c, uint64_t set, uint64_t key, uint8_t fp,
                                 uint64_t val, uint64_t now, struct rng *rng, uint64_t *evicted)
{
    const uint64_t base = set * c->ways;
    uint64_t victim = 0;
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
        /* The smallest packed stamp names the way (see the top). */
        victim = sac_oldest(c->stamp + base, c->ways) & ((1ull << c->wbits) - 1);
    }
    const long slot = (long)(base + victim);
    *evicted = c->key[slot];
    c->key[slot] = key;
    c->val[slot] = val;
    if (c->fp)
        c->fp[set * 16 + victim] = fp;
    c->stamp[slot] = now << c->wbits | victim;
    return slot;
}

/* sac_insert_fp with fp = sac_fp(key). */
static inline long sac_insert_new(struct sac *c, uint64_t set, uint64_t key, uint64_t val,
                                  uint64_t now, struct rng *rng, uint64_t *evicted)
{
    return sac_insert_fp(c, set, key, sac_fp(key), val, now, rng, evicted);
}

/* Empty one way (its stamp too, see the top). */
static inline void sac_drop(struct sac *c, long slot)
{
    const uint64_t w = (uint64_t)slot % c->ways;
    c->key[slot] = 0;
    c->stamp[slot] = w;
    if (c->fp)
        c->fp[(uint64_t)slot / c->ways * 16 + w] = 0;
}

#endif
