/* Size-class pools on huge-page-backed chunks (see hostmem.h). */
#include "phys/hostmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define CHUNK (2u << 20)

static struct hostmem_class *class_of(struct hostmem *h, size_t size)
{
    for (unsigned i = 0; i < HOSTMEM_CLASSES; i++) {
        if (h->cls[i].size == size)
            return &h->cls[i];
        if (h->cls[i].size == 0) {
            h->cls[i].size = size;
            return &h->cls[i];
        }
    }
    return NULL;
}

static size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }

void *hostmem_alloc(struct hostmem *h, size_t size)
{
    size = round64(size);
    struct hostmem_class *c = size <= CHUNK / 4 ? class_of(h, size) : NULL;
    void *obj;
    if (!c) { /* odd sizes and huge objects: plain heap */
        obj = calloc(1, size);
        return obj;
    }
    if (c->free) {
        obj = c->free;
        c->free = *(void **)obj;
    } else {
        if (!c->cur || (size_t)(c->end - c->cur) < size) { /* no chunk yet, or full */
            if (h->nchunk == h->chunk_cap) {
                size_t cap = h->chunk_cap ? 2 * h->chunk_cap : 16;
                void **n = realloc(h->chunk, cap * sizeof *n);
                if (!n)
                    return NULL;
                h->chunk = n;
                h->chunk_cap = cap;
            }
            char *mem = aligned_alloc(CHUNK, CHUNK);
            if (!mem)
                return NULL;
#ifdef MADV_HUGEPAGE
            madvise(mem, CHUNK, MADV_HUGEPAGE); /* a hint: failure is harmless */
#endif
            h->chunk[h->nchunk++] = mem;
            c->cur = mem;
            c->end = mem + CHUNK;
        }
        obj = c->cur;
        c->cur += size;
    }
    memset(obj, 0, size);
    return obj;
}

void hostmem_free(struct hostmem *h, void *obj, size_t size)
{
    if (!obj)
        return;
    size = round64(size);
    struct hostmem_class *c = NULL;
    if (size <= CHUNK / 4)
        for (unsigned i = 0; i < HOSTMEM_CLASSES && h->cls[i].size; i++)
            if (h->cls[i].size == size)
                c = &h->cls[i];
    if (!c) {
        free(obj);
        return;
    }
    *(void **)obj = c->free;
    c->free = obj;
}

void hostmem_fini(struct hostmem *h)
{
    for (size_t i = 0; i < h->nchunk; i++)
        free(h->chunk[i]);
    free(h->chunk);
    memset(h, 0, sizeof *h);
}
