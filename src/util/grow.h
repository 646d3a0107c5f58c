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
 * of memory (then a and *cap are unchanged). */
void *grow_array(void *a, uint64_t *cap, uint64_t i, size_t elem, uint64_t first, int fill);

#endif
