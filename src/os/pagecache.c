/* The page cache (see pagecache.h). */
#include <stdlib.h>

#include "os/pagecache.h"

void pc_fini(struct pagecache *pc)
{
    free(pc->e);
    free(pc->bucket);
    *pc = (struct pagecache){0};
}

static uint32_t hash(const struct pagecache *pc, uint64_t file, uint64_t index)
{
    uint64_t h = (file * 0x9e3779b97f4a7c15ull) ^ (index * 0xc2b2ae3d27d4eb4full);
    return (uint32_t)(h >> 32) & (pc->nbucket - 1);
}

/* Double the table (entries and buckets) and rehash. */
static int grow(struct pagecache *pc)
{
    uint32_t cap = pc->cap ? pc->cap * 2 : 1024;
    if (cap <= pc->cap)
        return VMSIM_ENOMEM;
    struct pc_entry *e = realloc(pc->e, (size_t)cap * sizeof *e);
    if (!e)
        return VMSIM_ENOMEM;
    pc->e = e;
    uint32_t *b = calloc(cap, sizeof *b);
    if (!b)
        return VMSIM_ENOMEM;
    free(pc->bucket);
    pc->bucket = b;
    pc->nbucket = cap;
    pc->cap = cap;
    if (pc->n == 0)
        pc->n = 1;
    for (uint32_t i = 1; i < pc->n; i++) {
        uint32_t h = hash(pc, e[i].file, e[i].index);
        e[i].next = b[h];
        b[h] = i;
    }
    return VMSIM_OK;
}

uint64_t pc_initial(uint64_t file, uint64_t index)
{
    if (file >= (1ull << 32))
        return 0;
    return ((file * 0x9e3779b97f4a7c15ull) ^ (index * 0xc2b2ae3d27d4eb4full)) | 1;
}

struct pc_entry *pc_get(struct pagecache *pc, uint64_t file, uint64_t index)
{
    if (pc->nbucket) {
        for (uint32_t i = pc->bucket[hash(pc, file, index)]; i; i = pc->e[i].next)
            if (pc->e[i].file == file && pc->e[i].index == index)
                return &pc->e[i];
    }
    if (pc->n + 1 >= pc->cap && grow(pc))
        return NULL;
    uint32_t i = pc->n++, h = hash(pc, file, index);
    const uint64_t init = pc_initial(file, index);
    pc->e[i] = (struct pc_entry){file, index, PC_NONE, PC_NONE, init, init, pc->bucket[h]};
    pc->bucket[h] = i;
    return &pc->e[i];
}
