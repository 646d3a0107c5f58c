/* A hash map from 64-bit keys to 64-bit values: open addressing, linear
 * probing, deletion by backward shift (no tombstones). For bookkeeping off
 * the hot path (the --verify shadow model). */
#ifndef VMSIM_UTIL_U64MAP_H
#define VMSIM_UTIL_U64MAP_H

#include <stdbool.h>
#include <stdint.h>

struct u64map {
    uint64_t *key, *val;
    uint8_t *used;
    uint64_t cap, n; /* cap a power of two (0: empty map) */
};

void u64map_free(struct u64map *m);
/* The value of key, or NULL. */
uint64_t *u64map_get(const struct u64map *m, uint64_t key);
int u64map_put(struct u64map *m, uint64_t key, uint64_t val);
void u64map_del(struct u64map *m, uint64_t key);
int u64map_copy(struct u64map *dst, const struct u64map *src);
/* Delete every key in [lo, hi). */
void u64map_del_range(struct u64map *m, uint64_t lo, uint64_t hi);

#endif
