/* The radix organization's tables, for the callers that inline its walk
 * (radix.c itself and the MMU's bare runs, src/mmu/mmu.c): the layout is
 * radix.c's, described there. */
#ifndef VMSIM_PT_RADIX_H
#define VMSIM_PT_RADIX_H

#include "pt/pt.h"

struct rtab {
    vmsim_pfn_t pfn;
    uint32_t used;
    uint32_t level;
    struct rtab **child; /* NULL at level 1 */
    struct radix *owner; /* the tree whose counts (tables, leaves) include it */
    uint32_t refs;       /* entries of address spaces that point to it: 1 unless shared */
    uint32_t tag;        /* the kernel's sharing record (0: none): never pruned while set */
    uint64_t e[];
};

struct radix {
    struct pt base;
    struct rtab *root;
    unsigned levels;
    unsigned pte_bytes;
    unsigned shift[VMSIM_MAX_LEVELS + 2]; /* low bit of level k's index */
    uint64_t mask[VMSIM_MAX_LEVELS + 2];  /* index mask of level k */
    uint64_t tables[VMSIM_MAX_LEVELS + 1];
    uint64_t leaves[VMSIM_MAX_LEVELS + 1];
    vmsim_pfn_t *deposit; /* detached leaf tables (Linux THP deposit) */
    uint64_t ndeposit, deposit_cap;
};

#define IDX(r, va, k) (((va) >> (r)->shift[k]) & (r)->mask[k])
#define LOAD(e) pt_entry_load(&(e))
#define STORE(e, v) pt_entry_store(&(e), (v))
#define TABLE_PTE(t) (((uint64_t)(t)->pfn << PTE_PFN_SHIFT) | PTE_P | PTE_W | PTE_U | PTE_X)

static inline struct radix *R(struct pt *p)
{
    return (struct radix *)p;
}

/* The common shape of tree, compiled apart by the callers that inline the
 * walk (std, a compile-time constant): four levels of 512 entries over 4
 * KiB pages (x86-64, Arm64 with 4 KiB granules, RISC-V Sv48), so that
 * each level's index is a constant shift and mask. */
static inline bool radix_std(const struct radix *r)
{
    if (r->levels != 4)
        return false;
    for (unsigned k = 1; k <= 4; k++)
        if (r->shift[k] != 3 + 9 * k || r->mask[k] != 511)
            return false;
    return true;
}
#define RADIX_IDX(r, va, k, std) ((std) ? ((va) >> (3 + 9 * (k))) & 511 : IDX(r, va, k))

/* The walk, with or without its list of references (refs), in a tree of
 * the common shape or not (std: radix_std). */
static inline __attribute__((always_inline)) void radix_walk_body(struct pt *p, vmsim_vaddr_t va,
                                                                  const struct walk_start *s,
                                                                  struct walk *w, bool refs,
                                                                  bool std)
{
    const struct radix *r = R(p);
    unsigned k = std ? 4 : r->levels;
    struct rtab *t = r->root;
    if (s && s->level) {
        k = s->level;
        t = s->table;
    }
    /* Locals, not w->...: the walk stores bytes (ref levels), which may
     * alias anything, and would force every field to be reloaded. */
    const unsigned ps = p->phys->page_shift, pte_bytes = r->pte_bytes;
    unsigned n = 0;
    /* The table's physical address: from its header for the first, then
     * from the entry that led to it (TABLE_PTE: the same frame), so the
     * walk never loads a lower table's header, one cache line fewer per
     * level on the host. */
    vmsim_paddr_t base = (vmsim_paddr_t)t->pfn << ps;
    w->top = k;
    for (;; k--) {
        const uint64_t i = RADIX_IDX(r, va, k, std);
        const uint64_t e = LOAD(t->e[i]);
        if (refs) {
            w->ref[n].pa = base + i * pte_bytes;
            w->ref[n].level = (uint8_t)k;
        }
        w->table[k] = t;
        n++;
        if ((e & (PTE_P | PTE_LEAF)) != PTE_P) {
            /* A leaf, or nothing. Set the accessed bit only when it is
             * clear: a store per walk would dirty every entry's cache line. */
            pt_entry_accessed(&t->e[i], e);
            w->pte = (e & PTE_P) ? e | PTE_A : e;
            w->level = k;
            w->nrefs = n;
            return;
        }
        t = t->child[i];
        if (refs)
            base = PTE_PFN(e) << ps;
    }
}

/* A hint: the level-`level` entry covering va, and at levels above 1 its
 * child pointer, into the host's caches (std: radix_std). */
static inline __attribute__((always_inline)) void
radix_prefetch_inline(const struct radix *r, vmsim_vaddr_t va, unsigned level, bool std)
{
    const struct rtab *t = r->root;
    unsigned k = std ? 4 : r->levels;
    for (; k > level; k--) { /* child[i] is NULL unless e[i] names a table */
        t = __atomic_load_n(&t->child[RADIX_IDX(r, va, k, std)], __ATOMIC_RELAXED);
        if (!t)
            return;
    }
    uint64_t i = RADIX_IDX(r, va, k, std);
    __builtin_prefetch(&t->e[i]);
    if (k > 1)
        __builtin_prefetch(&t->child[i]);
}

#endif
