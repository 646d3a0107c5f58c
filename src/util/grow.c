/* Growable arrays (see grow.h). grow_big maps its arrays directly: a
 * heap array that grows by realloc beneath malloc's mmap threshold (which
 * glibc raises up to 32 MiB as large blocks are freed) is copied, and its
 * old copies stay resident in the heap; and a new capacity set to zero by
 * memset is resident even where no element is ever written. */
#define _GNU_SOURCE /* mremap */
#include "util/grow.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void *grow_array(void *a, uint64_t *cap, uint64_t i, size_t elem, uint64_t first, int fill)
{
    if (i < *cap)
        return a;
    uint64_t n = *cap ? *cap : first;
    while (n <= i)
        n *= 2;
    unsigned char *b = realloc(a, n * elem);
    if (!b)
        return NULL;
    memset(b + *cap * elem, fill, (n - *cap) * elem);
    *cap = n;
    return b;
}

void *grow_big(void *a, uint64_t *cap, uint64_t i, size_t elem, uint64_t first)
{
    if (i < *cap)
        return a;
    uint64_t n = *cap ? *cap : first;
    while (n <= i)
        n *= 2;
    if (n > SIZE_MAX / elem)
        return NULL;
#if GROW_BIG_MAPPED
    /* Fresh anonymous pages read as zero: the new elements need no memset. */
    void *b = a ? mremap(a, *cap * elem, n * elem, MREMAP_MAYMOVE)
                : mmap(NULL, n * elem, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED)
        return NULL;
#else
    unsigned char *b = realloc(a, n * elem);
    if (!b)
        return NULL;
    memset(b + *cap * elem, 0, (n - *cap) * elem);
#endif
    *cap = n;
    return b;
}

void grow_big_free(void *a, uint64_t cap, size_t elem)
{
    if (!a)
        return;
#if GROW_BIG_MAPPED
    munmap(a, cap * elem);
#else
    (void)cap;
    (void)elem;
    free(a);
#endif
}
