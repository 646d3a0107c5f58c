/* What sharing page-table subtrees would save (issue 3, item 3): a leaf
 * table maps one aligned block of 2^shift(2) bytes (2 MiB on x86-64).
 * Where several processes map the same block of the same file, at the
 * same offset within the block, through a mapping that covers the whole
 * block and is shared or read-only (so never copied on write: library
 * text), their leaf tables hold the same entries and one table
 * could serve them all, as the PTE sharing proposed for Linux hugetlbfs
 * and shared memory does. vmsim keeps one table per process and reports
 * the bytes such sharing would save: for each (file, block) mapped that
 * way by n processes that each have the leaf table, n - 1 tables.
 *
 * Computed when the statistics are read: O(processes x VMAs + tables). */
#include <stdlib.h>
#include <string.h>

#include "os/kernel.h"

/* Stop at the first leaf of level 1: the block has its own leaf table. */
static int base_leaf(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t e)
{
    return level == 1;
}

struct candidate {
    uint64_t file, block; /* block = index of the file's aligned block */
};

static int by_key(const void *a, const void *b)
{
    const struct candidate *x = a, *y = b;
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    return x->block < y->block ? -1 : x->block > y->block;
}

void kernel_pt_share(struct kernel *k)
{
    const unsigned ps = k->phys->page_shift, L = k->cfg->geom.levels;
    k->st->pt_shareable = 0;
    if (L < 2 || !k->ops->tree)
        return;
    const uint64_t span = 1ull << k->shift[2];
    const uint64_t table_bytes = (1ull << k->cfg->geom.bits[L - 1]) * k->cfg->geom.pte_bytes;
    size_t n = 0, cap = 0;
    struct candidate *c = NULL;
    for (uint32_t id = 0; id < k->nproc; id++) {
        struct process *p = k->proc[id];
        for (size_t i = 0; p && i < p->vmas.n; i++) {
            const struct vma *v = &p->vmas.v[i];
            if (!v->file || (!(v->flags & VMSIM_MAP_SHARED) && (v->prot & VMSIM_PROT_W)))
                continue;
            /* the file offset of v->start, in bytes, must sit at the same
             * place in its block as v->start does in its own */
            const uint64_t off = v->pgoff << ps;
            if ((off & (span - 1)) != (v->start & (span - 1)))
                continue;
            for (vmsim_vaddr_t b = (v->start + span - 1) & ~(span - 1); b + span <= v->end && b >= v->start;
                 b += span) {
                if (pt_visit(p->space.pt, p->space.asid, b, b + span, base_leaf, NULL) != 1)
                    continue;
                if (n == cap) {
                    cap = cap ? 2 * cap : 64;
                    struct candidate *m = realloc(c, cap * sizeof *c);
                    if (!m) {
                        free(c);
                        return;
                    }
                    c = m;
                }
                c[n++] = (struct candidate){v->file, (off + (b - v->start)) / span};
            }
        }
    }
    if (n)
        qsort(c, n, sizeof *c, by_key);
    for (size_t i = 1; i < n; i++)
        if (!by_key(&c[i], &c[i - 1]))
            k->st->pt_shareable += table_bytes;
    free(c);
}
