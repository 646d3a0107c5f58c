/* The simulated kernel (see kernel.h).
 *
 * Address space: a process's VMAs say what is mapped and with which
 * protection. An address outside every VMA is implicit anonymous memory,
 * readable, writable and executable (traces without mmap events, such as
 * valgrind's, run this way). Anonymous memory is demand-zero, as in Linux:
 * a first read maps the shared zero frame read-only (PTE_ZERO); a first
 * write, or a write to a zero mapping, gets a fresh zeroed private frame.
 * Implicit anonymous memory uses pages of cfg.anon_page_shift when the
 * aligned block lies wholly inside one VMA or wholly outside all of them,
 * and base pages otherwise.
 *
 * ASIDs: handed out 1..2^12-1 per generation; when they run out a new
 * generation starts with a flush of every TLB (Linux's ASID rollover). */
#include <stdlib.h>
#include <string.h>

#include "mmu/sim.h"

#define PROT_ALL (VMSIM_PROT_R | VMSIM_PROT_W | VMSIM_PROT_X)

int kernel_init(struct vmsim *sim)
{
    struct kernel *k = &sim->k;
    memset(k, 0, sizeof *k);
    k->ops = pt_find(sim->cfg.pt);
    if (!k->ops)
        return VMSIM_ENOENT;
    k->nbucket = 256;
    k->bucket = calloc(k->nbucket, sizeof *k->bucket);
    if (!k->bucket)
        return VMSIM_ENOMEM;
    k->asid_next = 1;
    k->anon_level = 1;
    for (unsigned l = 1; l <= sim->cfg.geom.levels; l++)
        if (sim->shift[l] == sim->cfg.anon_page_shift && (sim->cfg.geom.leaf_levels & (1u << l)))
            k->anon_level = l;
    return VMSIM_OK;
}

static struct process **slot_of(struct kernel *k, vmsim_pid_t pid)
{
    struct process **pp = &k->bucket[(pid * 2654435761u) & (k->nbucket - 1)];
    while (*pp && (*pp)->pid != pid)
        pp = &(*pp)->hnext;
    return pp;
}

struct process *kernel_process(struct vmsim *sim, vmsim_pid_t pid, bool create, int *err)
{
    struct kernel *k = &sim->k;
    struct process **pp = slot_of(k, pid);
    if (*pp || !create)
        return *pp;
    struct process *p = calloc(1, sizeof *p);
    if (!p) {
        *err = VMSIM_ENOMEM;
        return NULL;
    }
    int rc = pt_create(k->ops, &sim->cfg.geom, &sim->phys, &p->pt);
    if (rc) {
        free(p);
        *err = rc;
        return NULL;
    }
    p->pid = pid;
    p->asid_gen = UINT64_MAX;
    *pp = p;
    sim->st.processes++;
    return p;
}

void kernel_asid(struct vmsim *sim, struct process *p)
{
    struct kernel *k = &sim->k;
    if (p->asid_gen == k->asid_gen)
        return;
    if (k->asid_next >= (1u << VMSIM_ASID_BITS)) {
        k->asid_gen++;
        k->asid_next = 1;
        mmu_flush_all(sim);
        /* Processes running elsewhere keep running: they take the first ids
         * of the new generation, so no one else is handed theirs. */
        for (unsigned i = 0; i < sim->cfg.ncpus; i++) {
            struct process *q = sim->cpu[i].proc;
            if (q && q != p && q->asid_gen != k->asid_gen) {
                q->asid = (vmsim_asid_t)k->asid_next++;
                q->asid_gen = k->asid_gen;
            }
        }
    }
    p->asid = (vmsim_asid_t)k->asid_next++;
    p->asid_gen = k->asid_gen;
}

/* Drop the frame a leaf maps (the zero frames are never freed). */
static int put_leaf(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t pte)
{
    struct vmsim *sim = ctx;
    if (!(pte & PTE_ZERO))
        phys_put(&sim->phys, PTE_PFN(pte));
    return 0;
}

static void process_free(struct vmsim *sim, struct process *p)
{
    pt_visit(p->pt, p->asid, 0, UINT64_MAX, put_leaf, sim);
    pt_destroy(p->pt);
    free(p->vma);
    free(p);
}

int kernel_exit(struct vmsim *sim, vmsim_pid_t pid)
{
    struct kernel *k = &sim->k;
    struct process **pp = slot_of(k, pid);
    struct process *p = *pp;
    if (!p)
        return VMSIM_ENOENT;
    *pp = p->hnext;
    for (unsigned i = 0; i < sim->cfg.ncpus; i++)
        if (sim->cpu[i].proc == p) {
            sim->cpu[i].proc = NULL;
            memo_reset(&sim->cpu[i].memo[0]);
            memo_reset(&sim->cpu[i].memo[1]);
        }
    /* Its tables are freed: no walk cache may keep pointing into them. Its
     * TLB entries are harmless: its ASID is not reused before a rollover,
     * and without ASIDs the next switch flushes. */
    mmu_flush_pwc_all(sim);
    process_free(sim, p);
    return VMSIM_OK;
}

void kernel_fini(struct vmsim *sim)
{
    struct kernel *k = &sim->k;
    for (size_t b = 0; k->bucket && b < k->nbucket; b++)
        while (k->bucket[b]) {
            struct process *p = k->bucket[b];
            k->bucket[b] = p->hnext;
            process_free(sim, p);
        }
    free(k->bucket);
    k->bucket = NULL;
}

/* ---- VMAs ---- */

static const struct vma *vma_find(const struct process *p, vmsim_vaddr_t va)
{
    size_t lo = 0, hi = p->nvma;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (va < p->vma[mid].start)
            hi = mid;
        else if (va >= p->vma[mid].end)
            lo = mid + 1;
        else
            return &p->vma[mid];
    }
    return NULL;
}

/* Does [lo, hi) lie inside one VMA, or touch none? (Then one page may
 * cover it.) */
static bool vma_uniform(const struct process *p, vmsim_vaddr_t lo, vmsim_vaddr_t hi)
{
    const struct vma *v = vma_find(p, lo);
    if (v)
        return hi <= v->end;
    for (size_t i = 0; i < p->nvma; i++)
        if (p->vma[i].start < hi && p->vma[i].end > lo)
            return false;
    return true;
}

/* Remove [lo, hi) from the VMA list, splitting VMAs that straddle it. The
 * new list always has room for two more entries (vma_insert adds one). */
static int vma_remove(struct process *p, vmsim_vaddr_t lo, vmsim_vaddr_t hi)
{
    size_t n = 0;
    struct vma *out = malloc((p->nvma + 2) * sizeof *out);
    if (!out)
        return VMSIM_ENOMEM;
    for (size_t i = 0; i < p->nvma; i++) {
        struct vma v = p->vma[i];
        if (v.end <= lo || v.start >= hi) {
            out[n++] = v;
            continue;
        }
        if (v.start < lo)
            out[n++] = (struct vma){v.start, lo, v.prot};
        if (v.end > hi)
            out[n++] = (struct vma){hi, v.end, v.prot};
    }
    free(p->vma);
    p->vma = out;
    p->nvma = n;
    return VMSIM_OK;
}

static int vma_insert(struct process *p, vmsim_vaddr_t lo, vmsim_vaddr_t hi, unsigned prot)
{
    int rc = vma_remove(p, lo, hi);
    if (rc)
        return rc;
    size_t i = 0;
    while (i < p->nvma && p->vma[i].start < lo)
        i++;
    memmove(&p->vma[i + 1], &p->vma[i], (p->nvma - i) * sizeof p->vma[0]);
    p->vma[i] = (struct vma){lo, hi, (uint8_t)prot};
    p->nvma++;
    return VMSIM_OK;
}

/* ---- changing mappings ---- */

struct range_op {
    struct vmsim *sim;
    struct process *p;
    vmsim_vaddr_t *va;
    size_t n, cap;
};

static int collect(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t pte)
{
    struct range_op *op = ctx;
    if (op->n == op->cap) {
        size_t cap = op->cap ? op->cap * 2 : 64;
        vmsim_vaddr_t *v = realloc(op->va, cap * sizeof *v);
        if (!v)
            return VMSIM_ENOMEM;
        op->va = v;
        op->cap = cap;
    }
    op->va[op->n++] = va;
    return 0;
}

/* The page-aligned range [*lo, *hi) covering [va, va + len), clamped at the
 * top of the address space. */
static void page_range(const struct vmsim *sim, vmsim_vaddr_t va, uint64_t len, vmsim_vaddr_t *lo,
                       vmsim_vaddr_t *hi)
{
    const uint64_t mask = (1ull << sim->phys.page_shift) - 1;
    vmsim_vaddr_t end = va + len < va ? UINT64_MAX : va + len;
    *lo = va & ~mask;
    *hi = end > UINT64_MAX - mask ? UINT64_MAX & ~mask : (end + mask) & ~mask;
}

/* Unmap the leaves of p in [lo, hi) (a huge page partly inside goes whole:
 * splitting comes with the huge-page policy). */
static int unmap_range(struct vmsim *sim, struct process *p, vmsim_vaddr_t lo, vmsim_vaddr_t hi)
{
    struct range_op op = {sim, p, NULL, 0, 0};
    int rc = pt_visit(p->pt, p->asid, lo, hi, collect, &op);
    uint64_t freed = p->pt->tables_freed;
    for (size_t i = 0; i < op.n && rc == 0; i++) {
        uint64_t old;
        if (pt_unmap(p->pt, p->asid, op.va[i], &old) == 0) {
            put_leaf(sim, op.va[i], 0, old);
            mmu_shootdown(sim, p->asid, op.va[i]);
        }
    }
    if (p->pt->tables_freed != freed)
        mmu_flush_pwc_all(sim);
    free(op.va);
    return rc;
}

int kernel_mmap(struct vmsim *sim, vmsim_pid_t pid, vmsim_vaddr_t va, uint64_t len, unsigned prot)
{
    int rc = 0;
    struct process *p = kernel_process(sim, pid, true, &rc);
    if (!p)
        return rc;
    vmsim_vaddr_t hi;
    page_range(sim, va, len, &va, &hi);
    /* A new mapping replaces what was there (MAP_FIXED semantics). */
    if ((rc = unmap_range(sim, p, va, hi)) != 0)
        return rc;
    return vma_insert(p, va, hi, prot & PROT_ALL);
}

int kernel_munmap(struct vmsim *sim, vmsim_pid_t pid, vmsim_vaddr_t va, uint64_t len)
{
    int rc = 0;
    struct process *p = kernel_process(sim, pid, false, &rc);
    if (!p)
        return VMSIM_ENOENT;
    vmsim_vaddr_t hi;
    page_range(sim, va, len, &va, &hi);
    if ((rc = unmap_range(sim, p, va, hi)) != 0)
        return rc;
    return vma_remove(p, va, hi);
}

int kernel_mprotect(struct vmsim *sim, vmsim_pid_t pid, vmsim_vaddr_t va, uint64_t len,
                    unsigned prot)
{
    int rc = 0;
    struct process *p = kernel_process(sim, pid, false, &rc);
    if (!p)
        return VMSIM_ENOENT;
    vmsim_vaddr_t hi;
    page_range(sim, va, len, &va, &hi);
    if ((rc = vma_insert(p, va, hi, prot & PROT_ALL)) != 0)
        return rc;
    /* Present pages take the new protection at once (a zero mapping stays
     * read-only: its first write still copies). */
    struct range_op op = {sim, p, NULL, 0, 0};
    rc = pt_visit(p->pt, p->asid, va, hi, collect, &op);
    uint64_t set = ((prot & VMSIM_PROT_W) ? PTE_W : 0) | ((prot & VMSIM_PROT_X) ? PTE_X : 0);
    for (size_t i = 0; i < op.n && rc == 0; i++) {
        pt_update(p->pt, p->asid, op.va[i], set, (PTE_W | PTE_X) & ~set);
        mmu_shootdown(sim, p->asid, op.va[i]);
    }
    free(op.va);
    return rc;
}

/* ---- the fault handler ---- */

static int zero_frame(struct vmsim *sim, unsigned level, vmsim_pfn_t *pfn)
{
    struct kernel *k = &sim->k;
    if (!(k->zero_have & (1u << level))) {
        int rc = phys_alloc(&sim->phys, sim->shift[level] - sim->phys.page_shift,
                            FRAME_ZERO | FRAME_PINNED, &k->zero[level]);
        if (rc)
            return rc;
        k->zero_have |= 1u << level;
    }
    *pfn = k->zero[level];
    return VMSIM_OK;
}

static uint64_t prot_bits(unsigned prot)
{
    return PTE_U | ((prot & VMSIM_PROT_W) ? PTE_W : 0) | ((prot & VMSIM_PROT_X) ? PTE_X : 0);
}

/* The leaf level to use for a new anonymous page at va. */
static unsigned anon_level(struct vmsim *sim, const struct process *p, vmsim_vaddr_t va)
{
    unsigned level = sim->k.anon_level;
    while (level > 1) {
        uint64_t size = 1ull << sim->shift[level];
        vmsim_vaddr_t lo = va & ~(size - 1);
        if (vma_uniform(p, lo, lo + size))
            break;
        level--;
        while (level > 1 && !(sim->cfg.geom.leaf_levels & (1u << level)))
            level--;
    }
    return level;
}

int kernel_fault(struct vmsim *sim, struct process *p, vmsim_vaddr_t va, unsigned kind,
                 const struct walk *w, bool *fixed)
{
    struct vmsim_stats *st = &sim->st;
    const bool write = kind & 1u;
    const struct vma *v = vma_find(p, va);
    const unsigned prot = v ? v->prot : PROT_ALL;
    *fixed = false;
    st->faults_total++;
    if ((write && !(prot & VMSIM_PROT_W)) || (kind == VMSIM_FETCH && !(prot & VMSIM_PROT_X)) ||
        (!write && kind != VMSIM_FETCH && !(prot & VMSIM_PROT_R))) {
        st->faults_protection++;
        return VMSIM_OK;
    }
    const uint64_t bits = prot_bits(prot);
    int rc;
    if (w->pte & PTE_P) {
        /* Present but not allowed: a write to the zero frame (copy on
         * write). The VMA allows the access, so nothing else can be. */
        if (!(w->pte & PTE_ZERO) || !write) {
            st->faults_protection++;
            return VMSIM_OK;
        }
        unsigned level = w->level;
        vmsim_pfn_t pfn;
        rc = phys_alloc(&sim->phys, sim->shift[level] - sim->phys.page_shift, 0, &pfn);
        if (rc == VMSIM_ENOFRAME) {
            st->faults_oom++;
            return VMSIM_OK;
        }
        if (rc)
            return rc;
        rc = pt_map(p->pt, p->asid, va, level, ((uint64_t)pfn << PTE_PFN_SHIFT) | bits | PTE_A | PTE_D);
        if (rc) {
            phys_put(&sim->phys, pfn);
            return rc;
        }
        mmu_shootdown(sim, p->asid, va);
        st->faults_cow_zero++;
        *fixed = true;
        return VMSIM_OK;
    }
    unsigned level = anon_level(sim, p, va);
    for (;;) {
        vmsim_pfn_t pfn;
        uint64_t pte;
        if (write) {
            rc = phys_alloc(&sim->phys, sim->shift[level] - sim->phys.page_shift, 0, &pfn);
            pte = ((uint64_t)pfn << PTE_PFN_SHIFT) | bits | PTE_A | PTE_D;
        } else {
            rc = zero_frame(sim, level, &pfn);
            pte = ((uint64_t)pfn << PTE_PFN_SHIFT) | (bits & ~PTE_W) | PTE_ZERO | PTE_A;
        }
        if (rc == VMSIM_ENOFRAME && level > 1) {
            level = 1; /* no room for a huge page: fall back to a base page */
            continue;
        }
        if (rc == VMSIM_ENOFRAME) {
            st->faults_oom++;
            return VMSIM_OK;
        }
        if (rc)
            return rc;
        rc = pt_map(p->pt, p->asid, va, level, pte);
        if (rc == VMSIM_EEXIST && level > 1) {
            /* Smaller pages already live in this block: use a base page. */
            if (write)
                phys_put(&sim->phys, pfn);
            level = 1;
            continue;
        }
        if (rc == VMSIM_ENOFRAME) {
            if (write)
                phys_put(&sim->phys, pfn);
            st->faults_oom++;
            return VMSIM_OK;
        }
        if (rc) {
            if (write)
                phys_put(&sim->phys, pfn);
            return rc;
        }
        break;
    }
    if (write)
        st->faults_zero_write++;
    else
        st->faults_zero_read++;
    *fixed = true;
    return VMSIM_OK;
}
