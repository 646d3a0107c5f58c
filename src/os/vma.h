/* Virtual memory areas: what a process has mapped, with which protection,
 * and what backs it. A process keeps its VMAs sorted and disjoint in one
 * array (processes have tens of them, and lookups are on the fault path
 * only). */
#ifndef VMSIM_OS_VMA_H
#define VMSIM_OS_VMA_H

#include <stdbool.h>
#include <stddef.h>

#include "vmsim/event.h"

struct vma {
    vmsim_vaddr_t start, end; /* [start, end), page aligned */
    uint8_t prot;             /* VMSIM_PROT_* */
    uint8_t flags;            /* VMSIM_MAP_SHARED, VMSIM_MAP_SUPERVISOR */
    uint8_t advice;           /* VMSIM_ADV_* (madvise) */
    /* What backs it: 0 = private anonymous memory; otherwise a page-cache
     * object (a trace's file id, or an anonymous shared object numbered
     * from 2^32 up), of which `start` maps base page pgoff. */
    uint64_t file;
    uint64_t pgoff;
};

struct vma_list {
    struct vma *v; /* sorted by start, disjoint */
    size_t n;
};

const struct vma *vma_find(const struct vma_list *l, vmsim_vaddr_t va);
/* Does [lo, hi) lie inside one VMA, or touch none? */
bool vma_uniform(const struct vma_list *l, vmsim_vaddr_t lo, vmsim_vaddr_t hi);
/* Remove [lo, hi), splitting VMAs that straddle it; page_shift turns byte
 * offsets into the page offsets of the parts that remain. */
int vma_remove(struct vma_list *l, vmsim_vaddr_t lo, vmsim_vaddr_t hi, unsigned page_shift);
/* Insert v, replacing whatever overlapped it. */
int vma_insert(struct vma_list *l, const struct vma *v, unsigned page_shift);
/* Set prot (or, with advice_only, the advice) on [lo, hi), splitting VMAs at
 * the edges. Parts of [lo, hi) outside every VMA stay unmapped. */
int vma_change(struct vma_list *l, vmsim_vaddr_t lo, vmsim_vaddr_t hi, unsigned value,
               bool advice_only, unsigned page_shift);
int vma_copy(struct vma_list *dst, const struct vma_list *src);
void vma_free(struct vma_list *l);
/* The page-cache index of va in v (base pages). */
static inline uint64_t vma_index(const struct vma *v, vmsim_vaddr_t va, unsigned page_shift)
{
    return v->pgoff + ((va - v->start) >> page_shift);
}

#endif
