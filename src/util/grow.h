/* Growable arrays indexed by frame, slot or access number: the storage
 * grows with the highest index used, so a large simulated machine costs
 * host memory only for what a run touches. */
#ifndef VMSIM_UTIL_GROW_H
#define VMSIM_UTIL_GROW_H

#include <stddef.h>
#include <stdint.h>

/* Make the array a (of *cap elements of elem bytes) hold index i: the
 * capacity doubles from `first`, and new elements get every byte set to
 * `fill`. Returns the array (moved, maybe), or NULL when the host is out
 * of memory (then a and *cap are unchanged). Free it with free(). */
void *grow_array(void *a, uint64_t *cap, uint64_t i, size_t elem, uint64_t first, int fill);

/* The same for the arrays with an element per resident page (frame
 * metadata, reverse-map entries), new elements zero: kept in host pages
 * of their own, apart from the heap, and grown where they lie (mremap)
 * where the host can. Growing then copies nothing and leaves no freed
 * copy behind in the heap, and the capacity past the highest element
 * written costs address space only, never resident memory, so the array
 * costs its elements' bytes whatever the heap did before. Free it with
 * grow_big_free(a, cap, elem). Under AddressSanitizer (and on hosts without
 * mremap) the arrays stay on the heap, where ASan checks every index
 * against the capacity: GROW_BIG_MAPPED is 0 then. */
#if defined(__SANITIZE_ADDRESS__)
#define GROW_BIG_MAPPED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GROW_BIG_MAPPED 0
#endif
#endif
#if !defined(GROW_BIG_MAPPED) && defined(__linux__)
#define GROW_BIG_MAPPED 1
#endif
#ifndef GROW_BIG_MAPPED
#define GROW_BIG_MAPPED 0
#endif

void *grow_big(void *a, uint64_t *cap, uint64_t i, size_t elem, uint64_t first);
void grow_big_free(void *a, uint64_t cap, size_t elem);

#endif
