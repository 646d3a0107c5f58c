/* A set-associative cache of 64-bit keys and 64-bit values: the storage of
 * every TLB array and page-walk cache. Key 0 means an empty way, so callers
 * build keys that are never 0. Keys of a set are contiguous, so a lookup
 * scans one short array. Random replacement draws from the simulator's
 * seeded generator; LRU is exact, by this rule: each way in use has a
 * stamp (now << wbits) | way, now being the clock of the CPU that owns the
 * cache at its last use, an empty way the stamp `way` (wbits: the bits
 * that number the ways), and the victim is the way with the smallest
 * stamp: any empty way (the lowest first) before every way in use, then
 * the oldest use, the lowest way among uses at one now. A cache's clock
 * never goes back. Everything here is inline: it is the per-access hot
 * path.
 *
 * Two representations of that one rule:
 *
 * - With up to 16 ways (every TLB and page-walk cache of the presets) and
 *   SSE2, each set has one host cache line (struct sac_set): a byte of
 *   each way's key hash, so that one vector compare finds the ways that
 *   may hold a key (a miss, the common outcome on the slow path, reads no
 *   key), and each way's place in the set's order by stamp (its rank: 0
 *   the newest), so that the victim is found by one compare and a use
 *   moves a way to the front with two vector operations. Ties need the
 *   set's newest now and how many ways were used then (they hold the
 *   first ranks, the highest way first); a second use at one now is rare
 *   (a unified page-walk cache filling several levels, a walk repeated
 *   after a fault) and takes a slower path.
 * - Otherwise the stamps themselves, the victim their minimum.
 *
 * Ranks replaced stamps in sets on 2026-12-05: +10 % on the random stream
 * over 64 GiB, one host line per set instead of three or four; the nested
 * stream has read 0.93-0.98x since, for reasons not found (docs/
 * performance.md, "A regression left open"). (Tried earlier: the order as
 * 4-bit way numbers in a word, moved in scalar code, which cost more than
 * the minimum of the stamps it saved.) */
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
#define SAC_SETS 1 /* sets of up to 16 ways keep a struct sac_set (see the top) */
#else
#define SAC_SETS 0
#endif

/* One set of up to 16 ways: one host cache line. */
struct sac_set {
    uint8_t fp[16];   /* each way's hash byte (sac_fp), 0 for an empty way */
    uint8_t rank[16]; /* each way's place by stamp, 0 the newest; SAC_NO_WAY beyond the ways */
    uint64_t last;    /* the newest use's now (0: none since the set was emptied) */
    uint32_t tie;     /* the ways used at `last`: ranks 0 to tie - 1 */
} __attribute__((aligned(64)));

/* The rank of a lane beyond the ways: above every rank, and left alone by
 * signed byte compares and saturating adds. */
#define SAC_NO_WAY 0x7f

struct sac {
    uint64_t *key;   /* [sets * ways] */
    uint64_t *val;
    struct sac_set *set; /* [sets] with up to 16 ways (SAC_SETS); NULL: stamps */
    uint64_t *stamp;     /* [sets * ways] without sets: each way's stamp */
    uint32_t ways;
    uint32_t sets;
    uint64_t set_mask;
    uint8_t repl;  /* enum vmsim_repl */
    uint8_t wbits; /* bits that number the ways (stamps) */
};

int sac_init(struct sac *c, uint32_t entries, uint32_t ways, uint8_t repl);
void sac_fini(struct sac *c);

/* Empty every way. */
void sac_clear(struct sac *c);

/* A second use in set s at its newest now (out of line: rare). */
void sac_rank_tie(struct sac_set *s, unsigned way, unsigned ways);

#if SAC_SETS
/* Way w of s was used at now: its rank goes to the front, the ranks it
 * passes back by one. */
static inline void sac_rank_use(struct sac_set *s, unsigned w, unsigned ways, uint64_t now)
{
    if (__builtin_expect(now == s->last, 0)) {
        sac_rank_tie(s, w, ways);
        return;
    }
    const unsigned rw = s->rank[w];
    if (rw) { /* else the newest already: no rank moves */
        const __m128i r = _mm_load_si128((const __m128i *)(const void *)s->rank);
        const __m128i newer = _mm_cmplt_epi8(r, _mm_set1_epi8((char)rw));
        _mm_store_si128((__m128i *)(void *)s->rank, _mm_sub_epi8(r, newer));
        s->rank[w] = 0;
    }
    s->last = now;
    s->tie = 1;
}
#endif

/* The way at slot was used at now (a hit): it becomes its set's newest. */
static inline void sac_touch(struct sac *c, uint64_t set, long slot, uint64_t now)
{
    const unsigned w = (unsigned)(slot - (long)(set * c->ways));
#if SAC_SETS
    if (c->set) {
        sac_rank_use(&c->set[set], w, c->ways, now);
        return;
    }
#endif
    c->stamp[slot] = now << c->wbits | w;
}

/* A way's hash byte: never 0, the byte of an empty way. */
static inline uint8_t sac_fp(uint64_t key)
{
    return (uint8_t)((key * 0x9e3779b97f4a7c15ull) >> 56) | 1;
}

/* The index of the way holding key in set `set`, or -1, fp being the
 * key's hash byte (sac_fp: a caller probing several caches for one key
 * computes it once). With sets, the ways whose hash byte matches; else
 * the keys four at a time with one branch per block: a miss then costs
 * ways/4 branches. */
#if SAC_SETS
/* sac_find_fp in a cache known to have sets. */
static inline long sac_find_set(const struct sac *c, uint64_t set, uint64_t key, uint8_t fp)
{
    const uint64_t base = set * c->ways;
    const uint64_t *k = c->key + base;
    const __m128i f = _mm_load_si128((const __m128i *)(const void *)c->set[set].fp);
    for (unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(f, _mm_set1_epi8((char)fp))); m;
         m &= m - 1)
        if (k[__builtin_ctz(m)] == key)
            return (long)(base + (unsigned)__builtin_ctz(m));
    return -1;
}
#endif

static inline long sac_find_fp(const struct sac *c, uint64_t set, uint64_t key, uint8_t fp)
{
#if SAC_SETS
    if (c->set)
        return sac_find_set(c, set, key, fp);
#endif
    (void)fp;
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

#if SAC_SETS
/* sac_insert_fp's LRU choice in set s (ways ways): the victim holds the
 * last rank; it goes to the front, every other way back by one. fresh
 * (a constant): the caller knows now is not the set's newest use (no tie),
 * and nothing is called. Returns the victim's way. */
static inline __attribute__((always_inline)) unsigned
sac_rank_victim_in(struct sac_set *s, unsigned ways, uint64_t now, bool fresh)
{
    const __m128i r = _mm_load_si128((const __m128i *)(const void *)s->rank);
    const __m128i last = _mm_cmpeq_epi8(r, _mm_set1_epi8((char)(ways - 1)));
    const unsigned victim = (unsigned)__builtin_ctz((unsigned)_mm_movemask_epi8(last));
    if (!fresh && __builtin_expect(now == s->last, 0)) {
        sac_rank_tie(s, victim, ways);
    } else {
        _mm_store_si128((__m128i *)(void *)s->rank,
                        _mm_andnot_si128(last, _mm_adds_epi8(r, _mm_set1_epi8(1))));
        s->last = now;
        s->tie = 1;
    }
    return victim;
}

/* Way `victim` of set `set` takes key (hash byte fp) and val; *evicted
 * gets the key it held. Returns its slot. */
static inline long sac_put(struct sac *c, uint64_t set, unsigned victim, uint64_t key, uint8_t fp,
                           uint64_t val, uint64_t *evicted)
{
    const long slot = (long)(set * c->ways + victim);
    *evicted = c->key[slot];
    c->key[slot] = key;
    c->val[slot] = val;
    c->set[set].fp[victim] = fp;
    return slot;
}

/* sac_insert_fp for a cache known to have sets and LRU replacement (a
 * caller that checked once for many inserts). */
static inline long sac_insert_lru_set(struct sac *c, uint64_t set, uint64_t key, uint8_t fp,
                                      uint64_t val, uint64_t now, uint64_t *evicted)
{
    return sac_put(c, set, sac_rank_victim_in(&c->set[set], c->ways, now, false), key, fp, val,
                   evicted);
}

/* The same, for a caller that knows now is not the set's newest use
 * (now != c->set[set].last): it calls nothing. */
static inline long sac_insert_lru_set_fresh(struct sac *c, uint64_t set, uint64_t key, uint8_t fp,
                                            uint64_t val, uint64_t now, uint64_t *evicted)
{
    return sac_put(c, set, sac_rank_victim_in(&c->set[set], c->ways, now, true), key, fp, val,
                   evicted);
}
#endif

/* Insert key, known to be absent from set (it was just looked up and
 * missed): an empty way if there is one, else the replacement victim.
 * Returns its slot; *evicted gets the key it held (0: it was empty); fp
 * is the key's hash byte (sac_fp). */
static inline long sac_insert_fp(struct sac *c, uint64_t set, uint64_t key, uint8_t fp,
                                 uint64_t val, uint64_t now, struct rng *rng, uint64_t *evicted)
{
#if SAC_SETS
    if (c->set && c->repl != VMSIM_REPL_RANDOM)
        return sac_insert_lru_set(c, set, key, fp, val, now, evicted);
#endif
    const uint64_t base = set * c->ways;
    unsigned victim;
    if (c->repl == VMSIM_REPL_RANDOM) {
        const uint64_t *k = c->key + base;
        victim = c->ways;
        for (uint32_t w = 0; w < c->ways; w++)
            if (k[w] == 0) {
                victim = w;
                break;
            }
        if (victim == c->ways)
            victim = (unsigned)rng_below(rng, c->ways);
        sac_touch(c, set, (long)(base + victim), now);
    } else {
        /* The smallest stamp names the way (see the top). */
        victim = (unsigned)(sac_oldest(c->stamp + base, c->ways) & ((1ull << c->wbits) - 1));
        c->stamp[base + victim] = now << c->wbits | victim;
    }
    const long slot = (long)(base + victim);
    *evicted = c->key[slot];
    c->key[slot] = key;
    c->val[slot] = val;
#if SAC_SETS
    if (c->set)
        c->set[set].fp[victim] = fp;
#else
    (void)fp;
#endif
    return slot;
}

/* sac_insert_fp with fp = sac_fp(key). */
static inline long sac_insert_new(struct sac *c, uint64_t set, uint64_t key, uint64_t val,
                                  uint64_t now, struct rng *rng, uint64_t *evicted)
{
    return sac_insert_fp(c, set, key, sac_fp(key), val, now, rng, evicted);
}

/* Empty one way: it becomes older than every way in use (see the top). */
void sac_drop(struct sac *c, long slot);

#endif
