/* The u64 hash map (see u64map.h). */
#include <stdlib.h>
#include <string.h>

#include "util/u64map.h"
#include "vmsim/types.h"

static uint64_t slot_of(const struct u64map *m, uint64_t key)
{
    return (key * 0x9e3779b97f4a7c15ull >> 17) & (m->cap - 1);
}

void u64map_free(struct u64map *m)
{
    free(m->key);
    free(m->val);
    free(m->used);
    memset(m, 0, sizeof *m);
}

static uint64_t find(const struct u64map *m, uint64_t key)
{
    uint64_t i = slot_of(m, key);
    while (m->used[i] && m->key[i] != key)
        i = (i + 1) & (m->cap - 1);
    return i;
}

uint64_t *u64map_get(const struct u64map *m, uint64_t key)
{
    if (!m->cap)
        return NULL;
    uint64_t i = find(m, key);
    return m->used[i] ? &m->val[i] : NULL;
}

static int resize(struct u64map *m, uint64_t cap)
{
    struct u64map n = {calloc(cap, 8), calloc(cap, 8), calloc(cap, 1), cap, 0};
    if (!n.key || !n.val || !n.used) {
        u64map_free(&n);
        return VMSIM_ENOMEM;
    }
    for (uint64_t i = 0; i < m->cap; i++)
        if (m->used[i]) {
            uint64_t j = find(&n, m->key[i]);
            n.used[j] = 1;
            n.key[j] = m->key[i];
            n.val[j] = m->val[i];
            n.n++;
        }
    u64map_free(m);
    *m = n;
    return VMSIM_OK;
}

int u64map_put(struct u64map *m, uint64_t key, uint64_t val)
{
    if (2 * (m->n + 1) > m->cap && resize(m, m->cap ? 2 * m->cap : 64))
        return VMSIM_ENOMEM;
    uint64_t i = find(m, key);
    if (!m->used[i]) {
        m->used[i] = 1;
        m->key[i] = key;
        m->n++;
    }
    m->val[i] = val;
    return VMSIM_OK;
}

/* Empty slot i, moving later entries of the probe run back into it. */
static void remove_at(struct u64map *m, uint64_t i)
{
    const uint64_t mask = m->cap - 1;
    m->used[i] = 0;
    m->n--;
    for (uint64_t j = (i + 1) & mask; m->used[j]; j = (j + 1) & mask) {
        uint64_t home = slot_of(m, m->key[j]);
        /* j's entry may move to i when i lies cyclically in [home, j) */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->used[i] = 1;
            m->key[i] = m->key[j];
            m->val[i] = m->val[j];
            m->used[j] = 0;
            i = j;
        }
    }
}

void u64map_del(struct u64map *m, uint64_t key)
{
    if (!m->cap)
        return;
    uint64_t i = find(m, key);
    if (m->used[i])
        remove_at(m, i);
}

int u64map_copy(struct u64map *dst, const struct u64map *src)
{
    memset(dst, 0, sizeof *dst);
    if (!src->cap)
        return VMSIM_OK;
    dst->key = malloc(src->cap * 8);
    dst->val = malloc(src->cap * 8);
    dst->used = malloc(src->cap);
    if (!dst->key || !dst->val || !dst->used) {
        u64map_free(dst);
        return VMSIM_ENOMEM;
    }
    memcpy(dst->key, src->key, src->cap * 8);
    memcpy(dst->val, src->val, src->cap * 8);
    memcpy(dst->used, src->used, src->cap);
    dst->cap = src->cap;
    dst->n = src->n;
    return VMSIM_OK;
}

void u64map_del_range(struct u64map *m, uint64_t lo, uint64_t hi)
{
    /* Backward shift may move an unvisited entry into a visited slot:
     * restart the scan at a removal until a pass removes nothing. */
    for (bool again = true; again;) {
        again = false;
        for (uint64_t i = 0; i < m->cap; i++)
            if (m->used[i] && m->key[i] >= lo && m->key[i] < hi) {
                remove_at(m, i);
                again = true;
            }
    }
}
