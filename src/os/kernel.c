/* The simulated kernel: processes, address spaces, fork (see kernel.h).
 *
 * Address space: a process's VMAs say what is mapped, with which
 * protection, and what backs it. Without strict mode an address outside
 * every VMA is implicit anonymous memory, readable, writable and executable
 * (traces without mmap events, such as valgrind's, run this way). Implicit
 * anonymous memory uses pages of cfg.anon_page_shift when the aligned block
 * lies wholly inside one VMA or wholly outside all of them, and base pages
 * otherwise.
 *
 * fork copies the VMAs and every leaf entry: shared mappings share the
 * frame; private writable pages are write-protected in parent and child
 * (copy-on-write, resolved by fault.c); swapped pages share the slot.
 *
 * ASIDs: handed out 1..2^12-1 per generation; when they run out a new
 * generation starts with a flush of every TLB (Linux's ASID rollover). */
#include <stdlib.h>
#include <string.h>

#include "os/kernel.h"

#define PROT_ALL (VMSIM_PROT_R | VMSIM_PROT_W | VMSIM_PROT_X)

int kernel_init(struct kernel *k, const struct kernel_env *env)
{
    memset(k, 0, sizeof *k);
    k->vm = env->vm;
    k->cfg = env->cfg;
    k->st = &k->counters;
    k->phys = env->phys;
    k->shift = env->shift;
    k->rng = env->rng;
    k->mmu = env->mmu;
    k->asids = env->asids;
    k->migrating = env->migrating;
    k->traps = env->traps;
    k->ops = pt_find(k->cfg->pt, &k->pt_params);
    if (!k->ops)
        return VMSIM_ENOENT;
    k->nbucket = 256;
    k->bucket = calloc(k->nbucket, sizeof *k->bucket);
    if (!k->bucket)
        return VMSIM_ENOMEM;
    k->asid_next = 1;
    k->anon_level = 1;
    k->shmem_next = SHMEM_FIRST;
    k->huge = k->cfg->anon_page_shift > k->phys->page_shift && k->cfg->thp != VMSIM_THP_NEVER &&
              !k->ops->base_only;
    for (unsigned l = 1; l <= k->cfg->geom.levels; l++)
        if (k->shift[l] == k->cfg->anon_page_shift && (k->cfg->geom.leaf_levels & (1u << l)))
            k->anon_level = l;
    int rc = swap_init(&k->phys->swap, k->cfg->swap_bytes >> k->phys->page_shift, k->cfg->verify);
    if (rc == 0)
        rc = khugepaged_init(k);
    return rc ? rc : reclaim_init(k);
}

static struct process **slot_of(struct kernel *k, vmsim_pid_t pid)
{
    struct process **pp = &k->bucket[(pid * 2654435761u) & (k->nbucket - 1)];
    while (*pp && (*pp)->space.pid != pid)
        pp = &(*pp)->hnext;
    return pp;
}

/* A process id for the reverse map: a freed one first. */
static int take_id(struct kernel *k, struct process *p)
{
    if (k->nfree_id) {
        p->id = k->free_id[--k->nfree_id];
    } else {
        if (k->nproc == k->proc_cap) {
            uint32_t cap = k->proc_cap ? k->proc_cap * 2 : 64;
            struct process **a = realloc(k->proc, cap * sizeof *a);
            uint32_t *f = realloc(k->free_id, cap * sizeof *f);
            if (a)
                k->proc = a;
            if (f)
                k->free_id = f;
            if (!a || !f)
                return VMSIM_ENOMEM;
            k->proc_cap = cap;
        }
        p->id = k->nproc++;
    }
    k->proc[p->id] = p;
    return VMSIM_OK;
}

struct process *kernel_process(struct kernel *k, vmsim_pid_t pid, bool create, int *err)
{
    struct process **pp = slot_of(k, pid);
    if (*pp || !create)
        return *pp;
    struct process *p = calloc(1, sizeof *p);
    if (!p) {
        *err = VMSIM_ENOMEM;
        return NULL;
    }
    int rc = take_id(k, p);
    const struct pt_env env = {&k->cfg->geom, k->phys, k->pt_params, &k->pt_shared,
                               ++k->space_next, &k->pt_counters};
    if (rc == 0 && (rc = pt_create(k->ops, &env, &p->space.pt)) != 0) {
        k->proc[p->id] = NULL;
        k->free_id[k->nfree_id++] = p->id;
    }
    if (rc) {
        free(p);
        *err = rc;
        return NULL;
    }
    p->space.pid = pid;
    p->owner = k->vm;
    p->asid_gen = UINT64_MAX;
    *pp = p;
    k->st->processes++;
    return p;
}

void kernel_asid(struct kernel *k, struct process *p)
{
    /* One tag space for the machine: every VM's processes take their tags
     * from the first VM's kernel, so no two VMs ever share one. */
    struct kernel *a = k->asids ? k->asids : k;
    if (p->asid_gen == a->asid_gen)
        return;
    if (a->asid_next >= (1u << VMSIM_ASID_BITS)) {
        a->asid_gen++;
        a->asid_next = 1;
        mmu_flush_all(k->mmu);
        k->st->tlb_flushes++;
        /* Processes running elsewhere keep running: they take the first ids
         * of the new generation, so no one else is handed theirs. */
        for (unsigned i = 0; i < k->cfg->ncpus; i++) {
            struct process *q = k->mmu->cpu[i].proc;
            if (q && q != p && q->asid_gen != a->asid_gen) {
                q->space.asid = (vmsim_asid_t)a->asid_next++;
                q->asid_gen = a->asid_gen;
            }
        }
    }
    p->space.asid = (vmsim_asid_t)a->asid_next++;
    p->asid_gen = a->asid_gen;
}

bool kernel_may_cache(const struct kernel *k, const struct process *p, unsigned cpu)
{
    /* Without ASIDs a switch flushes: only CPUs running p hold its entries. */
    const bool may = k->cfg->asids ? (p->space.cpumask >> cpu) & 1 : k->mmu->cpu[cpu].proc == p;
    return may && k->mmu->cpu[cpu].ready;
}

void kernel_shootdown(struct kernel *k, struct process *p, vmsim_vaddr_t va)
{
    /* an entry of a shared table is mapped by every sharer */
    if (k->cfg->share_tables && ptshare_shootdown(k, p, va))
        return;
    kernel_shootdown_space(k, p, va);
}

void kernel_shootdown_space(struct kernel *k, struct process *p, vmsim_vaddr_t va)
{
    k->st->tlb_invalidations++;
    struct kernel_defer *d = k->defer;
    if (d && d->nshoot < KERNEL_DEFER_MAX) {
        d->p[d->nshoot] = p;
        d->va[d->nshoot++] = va;
    }
    for (unsigned i = 0; i < k->cfg->ncpus; i++) {
        if (!kernel_may_cache(k, p, i))
            continue;
        if (!d)
            mmu_invalidate(k->mmu, i, p->space.asid, va);
        if (i != k->cur_cpu)
            k->st->shootdown_ipis++;
    }
}

/* ---- frames and leaves ---- */

void kernel_put_frame(struct kernel *k, vmsim_pfn_t pfn)
{
    struct frame *f = kernel_frame(k, pfn);
    if (f->flags & FRAME_ZERO)
        return;
    if (f->refcount == 1) {
        reclaim_remove(k, pfn);
        kernel_drop_swap_copy(k, pfn);
        if (f->flags & FRAME_ENCLAVE) /* the host frames under it stop being the enclave's */
            k->traps->enclave(k->vm, pfn, 1ull << f->order, false);
    }
    phys_put(k->phys, pfn);
}

/* Drop what a leaf entry of p at va held: its frame reference and reverse
 * map entry, or its swap slot. */
static void release_leaf(struct kernel *k, struct process *p, vmsim_vaddr_t va, uint64_t e)
{
    if (e & PTE_SWAP) {
        swap_put(&k->phys->swap, PTE_PFN(e));
        return;
    }
    if (!(e & PTE_P) || (e & PTE_ZERO))
        return;
    struct frame *f = kernel_frame(k, PTE_PFN(e));
    if ((e & PTE_D) && (f->flags & FRAME_CACHE))
        f->flags |= FRAME_DIRTY; /* written back when the page cache lets it go */
    rmap_del(&k->rmap, f, p->id, va);
    kernel_put_frame(k, PTE_PFN(e));
}

void kernel_pt_write(struct kernel *k, struct process *p, vmsim_vaddr_t va, uint64_t pte)
{
    k->st->pt_writes++;
    if (k->mmu->nested && k->cfg->nested.shadow)
        k->traps->pt_write(k->vm, pte);
    if (*k->migrating) {
        /* the tables on the path; a walk sets the accessed bit, which the
         * guest's replacement must not see set by the migration */
        const uint64_t e = pt_lookup(p->space.pt, p->space.asid, va, NULL);
        struct walk w;
        pt_walk(p->space.pt, p->space.asid, va, NULL, &w);
        if ((e & (PTE_P | PTE_A)) == PTE_P)
            pt_update(p->space.pt, p->space.asid, va, 0, PTE_A);
        for (unsigned i = 0; i < w.nrefs && i < WALK_MAX_REFS; i++)
            k->traps->dirty(k->vm, w.ref[i].pa, 1);
    }
}

void kernel_frames_written(struct kernel *k, vmsim_pfn_t pfn, uint64_t n)
{
    if (*k->migrating)
        k->traps->dirty(k->vm, (vmsim_paddr_t)pfn << k->phys->page_shift,
                            n << k->phys->page_shift);
}

/* The one place a leaf enters a page table and the reverse map, with
 * what comes with it: the busy mark, the trapped write, the enclave's
 * pages, --evict-tables. */
int kernel_map(struct kernel *k, struct process *p, vmsim_vaddr_t va, unsigned level,
               uint64_t pte)
{
    const vmsim_pfn_t pfn = PTE_PFN(pte);
    const vmsim_vaddr_t page = va & ~((1ull << k->shift[level]) - 1);
    k->rc.busy = pfn; /* tables pt_map allocates may evict, but not this frame */
    int rc = pt_map(p->space.pt, p->space.asid, page, level, pte);
    k->rc.busy = UINT64_MAX;
    if (rc)
        return rc;
    kernel_pt_write(k, p, page, pte | PTE_P);
    if (p->space.pid == k->cfg->nested.enclave_pid && k->cfg->nested.enclave_pid &&
        !(pte & PTE_ZERO) && !(kernel_frame(k, pfn)->flags & FRAME_CACHE) &&
        kernel_frame(k, pfn)->refcount == 1)
    {
        kernel_frame(k, pfn)->flags |= FRAME_ENCLAVE; /* the enclave's own page */
        k->traps->enclave(k->vm, pfn, 1ull << (k->shift[level] - k->phys->page_shift), true);
    }
    kernel_track_tables(k, p, page);
    return (pte & PTE_ZERO) ? VMSIM_OK
                            : rmap_add(&k->rmap, kernel_frame(k, pfn), p->id, page, level);
}

uint64_t kernel_unmap_page(struct kernel *k, struct process *p, vmsim_vaddr_t va)
{
    uint64_t old = 0;
    if (pt_unmap(p->space.pt, p->space.asid, va, &old) == 0) {
        kernel_pt_write(k, p, va, 0);
        release_leaf(k, p, va, old);
        kernel_shootdown(k, p, va);
    }
    return old;
}

struct leaf {
    vmsim_vaddr_t va;
    unsigned level;
    uint64_t e;
};

struct leaves {
    struct leaf *l;
    size_t n, cap;
};

static int collect(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t e)
{
    struct leaves *op = ctx;
    if (op->n == op->cap) {
        size_t cap = op->cap ? op->cap * 2 : 64;
        struct leaf *l = realloc(op->l, cap * sizeof *l);
        if (!l)
            return VMSIM_ENOMEM;
        op->l = l;
        op->cap = cap;
    }
    op->l[op->n++] = (struct leaf){va, level, e};
    return 0;
}

/* The leaves of p in [lo, hi), present or swapped. */
static int leaves_of(struct process *p, vmsim_vaddr_t lo, vmsim_vaddr_t hi, struct leaves *out)
{
    *out = (struct leaves){0};
    return pt_visit(p->space.pt, p->space.asid, lo, hi, collect, out);
}

uint64_t kernel_lookup(struct process *p, vmsim_vaddr_t va)
{
    return pt_lookup(p->space.pt, p->space.asid, va, NULL);
}

/* ---- process lifetime ---- */

static int free_leaf(void *ctx, vmsim_vaddr_t va, unsigned level, uint64_t e)
{
    void **a = ctx;
    release_leaf(a[0], a[1], va, e);
    return 0;
}

static void process_free(struct kernel *k, struct process *p)
{
    void *ctx[2] = {k, p};
    pt_visit(p->space.pt, p->space.asid, 0, UINT64_MAX, free_leaf, ctx);
    pt_destroy(p->space.pt);
    vma_free(&p->vmas);
    u64map_free(&p->shadow);
    k->proc[p->id] = NULL;
    k->free_id[k->nfree_id++] = p->id;
    free(p);
}

int kernel_exit(struct kernel *k, vmsim_pid_t pid)
{
    struct process **pp = slot_of(k, pid);
    struct process *p = *pp;
    if (!p)
        return VMSIM_ENOENT;
    *pp = p->hnext;
    mmu_forget(k->mmu, p);
    /* Its tables are freed: no walk cache may keep pointing into them. Its
     * TLB entries are harmless: its ASID is not reused before a rollover,
     * and without ASIDs the next switch flushes. */
    mmu_flush_pwc_all(k->mmu);
    ptshare_exit(k, p); /* the tables others share stay theirs */
    process_free(k, p);
    return VMSIM_OK;
}

void kernel_reset_stats(struct kernel *k)
{
    /* --verify judges the simulator over the whole run: a mismatch in the
     * warm-up must still fail it (docs/stats.md, "Warm-up") */
    const struct vmsim_stats was = k->counters;
    memset(&k->counters, 0, sizeof k->counters);
    k->counters.verify_checks = was.verify_checks;
    k->counters.verify_mismatches = was.verify_mismatches;
    k->counters.verify_raced = was.verify_raced;
    k->counters.conc_stale = was.conc_stale;
    k->pt_counters = (struct pt_counters){0};
}

void kernel_fini(struct kernel *k)
{
    for (size_t b = 0; k->bucket && b < k->nbucket; b++)
        while (k->bucket[b]) {
            struct process *p = k->bucket[b];
            k->bucket[b] = p->hnext;
            ptshare_exit(k, p);
            process_free(k, p);
        }
    free(k->bucket);
    free(k->proc);
    free(k->free_id);
    free(k->swap_frame);
    free(k->stamp);
    free(k->touched);
    rmap_fini(&k->rmap);
    ptshare_fini(k);
    khugepaged_fini(k);
    pc_fini(&k->pc);
    reclaim_fini(k);
    plan_free(k->plan);
    if (k->pt_shared && k->ops->shared_destroy)
        k->ops->shared_destroy(k->pt_shared);
    k->pt_shared = NULL;
    k->plan = NULL;
    k->bucket = NULL;
}

/* Copy one leaf of the parent into the child. A private writable page
 * becomes copy-on-write in both: write-protected, the frame shared. */
static int fork_leaf(struct kernel *k, struct process *parent, struct process *child,
                     const struct leaf *l)
{
    /* Read the entry now, not from the list: mapping earlier leaves into the
     * child allocates tables, which may have evicted this page since. */
    uint64_t e = kernel_lookup(parent, l->va);
    if (!e)
        return VMSIM_OK;
    if (e & PTE_SWAP) {
        swap_get(&k->phys->swap, PTE_PFN(e));
        int rc = pt_map(child->space.pt, child->space.asid, l->va, l->level, e);
        if (rc) {
            swap_put(&k->phys->swap, PTE_PFN(e));
        } else {
            kernel_pt_write(k, child, l->va, e);
            kernel_track_tables(k, child, l->va);
        }
        return rc;
    }
    const struct vma *v = vma_find(&parent->vmas, l->va);
    const bool shared = v && (v->flags & VMSIM_MAP_SHARED);
    if (!shared && (e & PTE_W)) {
        int rc = ptshare_private(k, parent, l->va); /* the parent's entry changes alone */
        if (rc)
            return rc;
        e &= ~PTE_W;
        pt_update(parent->space.pt, parent->space.asid, l->va, 0, PTE_W);
        kernel_pt_write(k, parent, l->va, e);
        kernel_shootdown(k, parent, l->va);
    }
    if (!(e & PTE_ZERO))
        kernel_frame(k, PTE_PFN(e))->refcount++;
    int rc = kernel_map(k, child, l->va, l->level, e);
    if (rc && !(e & PTE_ZERO))
        kernel_put_frame(k, PTE_PFN(e));
    return rc;
}

int kernel_fork(struct kernel *k, vmsim_pid_t parent_pid, vmsim_pid_t child_pid)
{
    int rc = 0;
    struct process *parent = kernel_process(k, parent_pid, false, &rc);
    if (!parent)
        return VMSIM_ENOENT;
    if (*slot_of(k, child_pid))
        return VMSIM_EEXIST;
    struct process *child = kernel_process(k, child_pid, true, &rc);
    if (!child)
        return rc;
    k->st->forks++;
    struct leaves ls = {0};
    if ((rc = vma_copy(&child->vmas, &parent->vmas)) == 0 && k->cfg->verify)
        rc = u64map_copy(&child->shadow, &parent->shadow);
    if (rc == 0)
        rc = leaves_of(parent, 0, UINT64_MAX, &ls);
    for (size_t i = 0; i < ls.n && rc == 0; i++)
        if (!ptshare_fork(k, parent, child, ls.l[i].va, &rc))
            rc = fork_leaf(k, parent, child, &ls.l[i]);
    free(ls.l);
    if (rc) /* as Linux: a fork that fails leaves no child behind */
        kernel_exit(k, child_pid);
    return rc;
}

/* ---- changing mappings ---- */

/* The page-aligned range [*lo, *hi) covering [va, va + len), clamped at the
 * top of the address space. */
static void page_range(const struct kernel *k, vmsim_vaddr_t va, uint64_t len, vmsim_vaddr_t *lo,
                       vmsim_vaddr_t *hi)
{
    const uint64_t mask = (1ull << k->phys->page_shift) - 1;
    vmsim_vaddr_t end = va + len < va ? UINT64_MAX : va + len;
    *lo = va & ~mask;
    *hi = end > UINT64_MAX - mask ? UINT64_MAX & ~mask : (end + mask) & ~mask;
}

/* Unmap the leaves of p in [lo, hi) (a huge page partly inside goes whole:
 * splitting comes with the huge-page policy). */
static int unmap_range(struct kernel *k, struct process *p, vmsim_vaddr_t lo, vmsim_vaddr_t hi)
{
    struct leaves ls = {0};
    int rc = ptshare_range(k, p, lo, hi, true);
    if (rc == 0)
        rc = thp_split_partial(k, p, lo, hi);
    if (rc == 0)
        rc = leaves_of(p, lo, hi, &ls);
    uint64_t freed = p->space.pt->tables_freed;
    for (size_t i = 0; i < ls.n && rc == 0; i++)
        kernel_unmap_page(k, p, ls.l[i].va);
    if (p->space.pt->tables_freed != freed)
        mmu_flush_pwc_all(k->mmu);
    free(ls.l);
    /* --verify: what the range held is gone; new memory there starts anew */
    u64map_del_range(&p->shadow, lo >> k->phys->page_shift, hi >> k->phys->page_shift);
    return rc;
}

int kernel_mmap(struct kernel *k, const struct vmsim_event *ev)
{
    int rc = 0;
    struct process *p = kernel_process(k, ev->pid, true, &rc);
    if (!p)
        return rc;
    struct vma v = {.prot = ev->kind & PROT_ALL, .flags = ev->kind & VMSIM_MAP_FLAGS};
    page_range(k, ev->addr, ev->len, &v.start, &v.end);
    if (ev->file) {
        v.file = ev->file;
        v.pgoff = ((uint64_t)ev->pgoff << 12) >> k->phys->page_shift; /* rounded down */
    } else if (v.flags & VMSIM_MAP_SHARED) {
        v.file = k->shmem_next++; /* a new shared object; fork passes it on */
    }
    /* A new mapping replaces what was there (MAP_FIXED semantics). */
    if ((rc = unmap_range(k, p, v.start, v.end)) != 0)
        return rc;
    return vma_insert(&p->vmas, &v, k->phys->page_shift);
}

/* The process of a range event and the page-aligned range; NULL when the
 * process does not exist (the event then changes nothing). */
static struct process *range_of(struct kernel *k, vmsim_pid_t pid, vmsim_vaddr_t *va,
                                uint64_t len, vmsim_vaddr_t *hi)
{
    int rc = 0;
    struct process *p = kernel_process(k, pid, false, &rc);
    if (p)
        page_range(k, *va, len, va, hi);
    return p;
}

int kernel_munmap(struct kernel *k, vmsim_pid_t pid, vmsim_vaddr_t va, uint64_t len)
{
    vmsim_vaddr_t hi;
    struct process *p = range_of(k, pid, &va, len, &hi);
    if (!p)
        return VMSIM_ENOENT;
    int rc;
    if ((rc = unmap_range(k, p, va, hi)) != 0)
        return rc;
    return vma_remove(&p->vmas, va, hi, k->phys->page_shift);
}

/* May the present entry e of a VMA with new protection be writable now?
 * Only where a write needs no copy: shared memory, or a private page that
 * this process alone maps (not the zero frame, not a page-cache page). */
static bool writable_now(struct kernel *k, const struct vma *v, uint64_t e)
{
    if (v->flags & VMSIM_MAP_SHARED)
        return true;
    if (e & PTE_ZERO)
        return false;
    const struct frame *f = kernel_frame(k, PTE_PFN(e));
    /* a swap-cache frame is also the contents other mappings' swap
     * entries will find: a write must drop that copy (write_fault) */
    return !(f->flags & (FRAME_CACHE | FRAME_SWAPPED)) && f->refcount == 1;
}

/* Give the parts of [lo, hi) outside every VMA an implicit anonymous VMA. */
static int fill_gaps(struct kernel *k, struct process *p, vmsim_vaddr_t lo, vmsim_vaddr_t hi)
{
    struct vma *gap = malloc((p->vmas.n + 1) * sizeof *gap);
    if (!gap)
        return VMSIM_ENOMEM;
    size_t n = 0;
    vmsim_vaddr_t at = lo;
    for (size_t i = 0; i < p->vmas.n && at < hi; i++) {
        const struct vma *v = &p->vmas.v[i];
        if (v->end <= at || v->start >= hi)
            continue;
        if (v->start > at)
            gap[n++] = (struct vma){.start = at, .end = v->start, .prot = PROT_ALL};
        at = v->end;
    }
    if (at < hi)
        gap[n++] = (struct vma){.start = at, .end = hi, .prot = PROT_ALL};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = vma_insert(&p->vmas, &gap[i], k->phys->page_shift);
    free(gap);
    return rc;
}

int kernel_mprotect(struct kernel *k, vmsim_pid_t pid, vmsim_vaddr_t va, uint64_t len,
                    unsigned prot)
{
    int rc = 0;
    vmsim_vaddr_t hi;
    struct process *p = range_of(k, pid, &va, len, &hi);
    if (!p)
        return VMSIM_ENOENT;
    /* Implicit memory in the range becomes an explicit anonymous mapping, so
     * the new protection holds for pages touched later too. */
    if (!k->cfg->strict)
        rc = fill_gaps(k, p, va, hi);
    if (rc == 0)
        rc = vma_change(&p->vmas, va, hi, prot & PROT_ALL, false, k->phys->page_shift);
    if (rc == 0)
        rc = thp_split_partial(k, p, va, hi);
    if (rc == 0) /* the new protection is p's alone */
        rc = ptshare_range(k, p, va, hi, false);
    struct leaves ls;
    if (rc == 0)
        rc = leaves_of(p, va, hi, &ls);
    if (rc)
        return rc;
    for (size_t i = 0; i < ls.n; i++) {
        const struct leaf *l = &ls.l[i];
        const struct vma *v = vma_find(&p->vmas, l->va);
        if (!v || !(l->e & PTE_P))
            continue;
        uint64_t set = (v->prot & VMSIM_PROT_X) ? PTE_X : 0;
        if ((v->prot & VMSIM_PROT_W) && writable_now(k, v, l->e))
            set |= PTE_W;
        pt_update(p->space.pt, p->space.asid, l->va, set, (PTE_W | PTE_X) & ~set);
        kernel_pt_write(k, p, l->va, l->e);
        kernel_shootdown(k, p, l->va);
    }
    free(ls.l);
    return VMSIM_OK;
}

int kernel_madvise(struct kernel *k, vmsim_pid_t pid, vmsim_vaddr_t va, uint64_t len,
                   unsigned advice)
{
    vmsim_vaddr_t hi;
    struct process *p = range_of(k, pid, &va, len, &hi);
    if (!p)
        return VMSIM_ENOENT;
    if (advice >= VMSIM_ADV_NTYPES)
        return VMSIM_EINVAL;
    return vma_change(&p->vmas, va, hi, advice, true, k->phys->page_shift);
}
