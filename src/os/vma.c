/* Virtual memory areas (see vma.h). */
#include <stdlib.h>
#include <string.h>

#include "os/vma.h"

const struct vma *vma_find(const struct vma_list *l, vmsim_vaddr_t va)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (va < l->v[mid].start)
            hi = mid;
        else if (va >= l->v[mid].end)
            lo = mid + 1;
        else
            return &l->v[mid];
    }
    return NULL;
}

bool vma_uniform(const struct vma_list *l, vmsim_vaddr_t lo, vmsim_vaddr_t hi)
{
    const struct vma *v = vma_find(l, lo);
    if (v)
        return hi <= v->end;
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].start < hi && l->v[i].end > lo)
            return false;
    return true;
}

/* The part [lo, hi) of v, its page offset moved along. */
static struct vma part(struct vma v, vmsim_vaddr_t lo, vmsim_vaddr_t hi, unsigned page_shift)
{
    if (v.file)
        v.pgoff += (lo - v.start) >> page_shift;
    v.start = lo;
    v.end = hi;
    return v;
}

/* Rebuild the list with [lo, hi) cut out of every VMA; the new array always
 * has room for three more entries (a split adds one, an insert one more). */
int vma_remove(struct vma_list *l, vmsim_vaddr_t lo, vmsim_vaddr_t hi, unsigned page_shift)
{
    size_t n = 0;
    struct vma *out = malloc((l->n + 3) * sizeof *out);
    if (!out)
        return VMSIM_ENOMEM;
    for (size_t i = 0; i < l->n; i++) {
        const struct vma v = l->v[i];
        if (v.end <= lo || v.start >= hi) {
            out[n++] = v;
            continue;
        }
        if (v.start < lo)
            out[n++] = part(v, v.start, lo, page_shift);
        if (v.end > hi)
            out[n++] = part(v, hi, v.end, page_shift);
    }
    free(l->v);
    l->v = out;
    l->n = n;
    return VMSIM_OK;
}

static void put_sorted(struct vma_list *l, const struct vma *v)
{
    size_t i = 0;
    while (i < l->n && l->v[i].start < v->start)
        i++;
    memmove(&l->v[i + 1], &l->v[i], (l->n - i) * sizeof l->v[0]);
    l->v[i] = *v;
    l->n++;
}

int vma_insert(struct vma_list *l, const struct vma *v, unsigned page_shift)
{
    int rc = vma_remove(l, v->start, v->end, page_shift);
    if (rc)
        return rc;
    put_sorted(l, v);
    return VMSIM_OK;
}

int vma_change(struct vma_list *l, vmsim_vaddr_t lo, vmsim_vaddr_t hi, unsigned value,
               bool advice_only, unsigned page_shift)
{
    /* The pieces of existing VMAs inside [lo, hi), changed. */
    size_t k = 0;
    struct vma *in = malloc((l->n + 1) * sizeof *in);
    if (!in)
        return VMSIM_ENOMEM;
    for (size_t i = 0; i < l->n; i++) {
        const struct vma v = l->v[i];
        if (v.end <= lo || v.start >= hi)
            continue;
        struct vma p = part(v, v.start > lo ? v.start : lo, v.end < hi ? v.end : hi, page_shift);
        if (advice_only)
            p.advice = (uint8_t)value;
        else
            p.prot = (uint8_t)value;
        in[k++] = p;
    }
    int rc = vma_remove(l, lo, hi, page_shift);
    if (rc == 0 && k > 3) {
        struct vma *v = realloc(l->v, (l->n + k) * sizeof *v);
        if (!v)
            rc = VMSIM_ENOMEM;
        else
            l->v = v;
    }
    for (size_t i = 0; rc == 0 && i < k; i++)
        put_sorted(l, &in[i]);
    free(in);
    return rc;
}

int vma_copy(struct vma_list *dst, const struct vma_list *src)
{
    dst->n = 0;
    dst->v = malloc((src->n + 3) * sizeof *dst->v);
    if (!dst->v)
        return VMSIM_ENOMEM;
    if (src->n)
        memcpy(dst->v, src->v, src->n * sizeof *dst->v);
    dst->n = src->n;
    return VMSIM_OK;
}

void vma_free(struct vma_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
}
