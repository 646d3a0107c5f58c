/* The simulator object: configuration defaults, creation, the event loop,
 * statistics. The event loop dispatches each event to the MMU (accesses)
 * or the kernel (process and mapping events); see mmu/mmu.c and os/kernel.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/machine.h"
#include "machine/debug.h"
#include "machine/parallel.h"
#include "os/compact.h"
#include "util/fail.h"
#include "virt/nested.h"

void vmsim_config_default(struct vmsim_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->pt, "radix");
    cfg->khugepaged = (struct vmsim_khugepaged_config){
        0, VMSIM_KHP_DEFAULT, VMSIM_KHP_DEFAULT, VMSIM_KHP_DEFAULT, VMSIM_KHP_DEFAULT,
        VMSIM_KHP_DEFAULT};
    vmsim_geometry_preset("x86-64", &cfg->geom);
    cfg->cost = (struct vmsim_cost_config){
        .access = 4, .pt_ref = 20, .fault = 1000, .io = 100000, .trap = 50, .sw_ref = 8,
        .vmexit = 1000};
    cfg->pwc.latency = 1;
    cfg->phys_bytes = 256ull << 30;
    cfg->swap_bytes = 256ull << 30;
    cfg->handler_frame = 2048; /* seed 000: 2 KiB per activation, a 6 KiB stack */
    cfg->kernel_stack = 6144;
    cfg->ncpus = 8;
    cfg->asids = true;
    cfg->anon_page_shift = 0;
    cfg->seed = 1;
    vmsim_config_machine(cfg, "skylake");
}

/* The exception vector: the MMU's faults, switches and host-dimension
 * lookups go up to this VM's kernel and the hypervisor through it; and the
 * kernel's traps to the hypervisor. The machine is the one layer that
 * knows both sides. */
static struct process *space(struct vmsim *sim, vmsim_pid_t pid, int *err)
{
    return kernel_process(&sim->k, pid, true, err);
}

/* The hypervisor's functions take its own state, struct nested: these give
 * it the VM's. */
static void shadow_exit(struct vmsim *sim, uint64_t pte) { nested_shadow_exit(sim->nested, pte); }

static void dirty(struct vmsim *sim, vmsim_paddr_t gpa, uint64_t bytes)
{
    migrate_dirty(sim->nested, gpa, bytes);
}

static void enclave(struct vmsim *sim, vmsim_pfn_t pfn, uint64_t n, bool on)
{
    nested_enclave(sim->nested, pfn, n, on);
}

static vmsim_paddr_t host_translate(struct vmsim *sim, unsigned cpu, vmsim_paddr_t gpa,
                                    uint64_t *cyc, bool *writable)
{
    return nested_translate(sim->nested, cpu, gpa, cyc, writable);
}

static bool enclave_host(const struct vmsim *sim, vmsim_paddr_t hpa)
{
    return nested_enclave_host(sim->nested, hpa);
}

static bool mig_trap(struct vmsim *sim, vmsim_paddr_t gpa, uint64_t *cyc)
{
    return migrate_trap(sim->nested, gpa, cyc);
}

static const struct kernel_traps traps = {
    .pt_write = shadow_exit,
    .dirty = dirty,
    .enclave = enclave,
};

/* With threads: the parallel paths inside a phase, the kernel's at a
 * barrier. Out of line, so that a run without threads pays one test. */
static __attribute__((noinline)) int fault_threads(struct vmsim *sim, struct process *p,
                                                   vmsim_vaddr_t va, unsigned kind,
                                                   const struct walk *w, bool *fixed)
{
    if (par_inside())
        return par_fault(sim, p, va, kind, w, fixed);
    return kernel_fault(&sim->k, p, va, kind, w, fixed);
}

/* An observed machine's fault: its kinds, for the observer, are the
 * faults.* counters the kernel's handler raised (it raises faults.total
 * once per fault). */
static __attribute__((noinline)) int fault_watched(struct vmsim *sim, struct process *p,
                                                   vmsim_vaddr_t va, unsigned kind,
                                                   const struct walk *w, bool *fixed)
{
    static const struct {
        size_t off;
        enum vmsim_fault_kind kind;
    } kinds[] = {
#define KIND(f, k) {offsetof(struct vmsim_stats, f), VMSIM_FAULT_##k}
        KIND(faults_zero_read, ZERO_READ),   KIND(faults_zero_write, ZERO_WRITE),
        KIND(faults_cow_zero, COW_ZERO),     KIND(faults_cow_copy, COW_COPY),
        KIND(faults_cow_reuse, COW_REUSE),   KIND(faults_pagecache_hit, PAGECACHE_HIT),
        KIND(faults_pagecache_miss, PAGECACHE_MISS), KIND(faults_swap_in, SWAP_IN),
        KIND(faults_segv, SEGV),             KIND(faults_protection, PROTECTION),
        KIND(faults_oom, OOM),               KIND(faults_table, TABLE),
#undef KIND
    };
    enum { NKINDS = sizeof kinds / sizeof kinds[0] };
    const char *st = (const char *)sim->k.st;
    uint64_t before[NKINDS];
    for (size_t i = 0; i < NKINDS; i++)
        memcpy(&before[i], st + kinds[i].off, sizeof before[i]);
    const int rc = kernel_fault(&sim->k, p, va, kind, w, fixed);
    unsigned set = 0;
    for (size_t i = 0; i < NKINDS; i++) {
        uint64_t now;
        memcpy(&now, st + kinds[i].off, sizeof now);
        if (now != before[i])
            set |= 1u << kinds[i].kind;
    }
    sim->mmu.watch->fault_kinds = set ? set : 1u << VMSIM_FAULT_OTHER;
    return rc;
}

static int fault(struct vmsim *sim, struct process *p, vmsim_vaddr_t va, unsigned kind,
                 const struct walk *w, bool *fixed)
{
    if (__builtin_expect(sim->par != NULL, 0))
        return fault_threads(sim, p, va, kind, w, fixed);
    if (__builtin_expect(sim->mmu.watch != NULL, 0))
        return fault_watched(sim, p, va, kind, w, fixed);
    return kernel_fault(&sim->k, p, va, kind, w, fixed);
}

static __attribute__((noinline)) void touch_threads(struct vmsim *sim, struct process *p,
                                                    vmsim_vaddr_t va, unsigned kind,
                                                    unsigned shift, uint64_t pte)
{
    if (par_inside())
        par_touch(sim, p, va, kind, shift, pte);
    else
        kernel_touch(&sim->k, p, va, kind, shift, pte);
}

static void touch(struct vmsim *sim, struct process *p, vmsim_vaddr_t va, unsigned kind,
                  unsigned shift, uint64_t pte)
{
    if (__builtin_expect(sim->par != NULL, 0))
        touch_threads(sim, p, va, kind, shift, pte);
    else
        kernel_touch(&sim->k, p, va, kind, shift, pte);
}

static void asid(struct vmsim *sim, struct process *p) { kernel_asid(&sim->k, p); }

static const struct mmu_vector vector = {
    .fault = fault,
    .touch = touch,
    .space = space,
    .asid = asid,
    .host_translate = host_translate,
    .enclave_host = enclave_host,
    .migrate_trap = mig_trap,
    .shadow_exit = shadow_exit,
};

/* Connect a VM (the machine, or another VM) to the CPUs: the counters its
 * translations charge, the exception vector, what it was built with.
 * Called before its parts are built (they may flush TLBs) and again after,
 * when the hypervisor and the replacement policy have decided nested and
 * track. */
static void wire(struct vmsim *sim)
{
    struct mmu *m = &sim->mmu;
    m->cfg = &sim->cfg;
    m->cst = sim->cst;
    m->rng = &sim->rng;
    m->shift = sim->shift;
    m->page_shift = sim->cfg.geom.page_shift;
    m->phys = &sim->phys;
    m->cpu = sim->cpu;
    m->vec = &vector;
    m->up = sim;
    m->nested = sim->nested != NULL;
    m->track = sim->k.rc.track || sim->cfg.verify || sim->k.huge;
    const struct vmsim *first = sim->primary ? sim->primary : sim;
    m->mem = first->cfg.mem.dram ? (struct memsys *)&first->memsys : NULL;
    m->watch = first->mmu.watch;
    /* an observed machine's accesses all take the observed path (mmu.h) */
    m->plain_cpus = (m->mem && first->cfg.mem.data) || m->watch ? 0 : sim->cfg.ncpus;
    /* a guest's own addresses are guest-physical: tagged by its VM */
    m->mem_tag = sim->cfg.nested.on ? (uint64_t)sim->vmid << 48 : 0;
    m->bare = !m->nested && !m->track && !m->mem && !m->seq && !sim->cfg.sw_walk &&
             !sim->cfg.nested.enclave_pid && pt_find(sim->cfg.pt, NULL) == &pt_radix_ops;
}

/* Build the kernel of a VM over its memory and the machine's CPUs. */
static int kernel_start(struct vmsim *sim)
{
    const struct kernel_env env = {
        .vm = sim, .cfg = &sim->cfg, .phys = &sim->phys, .shift = sim->shift,
        .rng = &sim->rng, .mmu = &sim->mmu, .asids = sim->primary ? &sim->primary->k : NULL,
        .migrating = &sim->migrating, .traps = &traps};
    return kernel_init(&sim->k, &env);
}

/* The hypervisor's side of a VM (nothing unless cfg.nested.on), on host h
 * (NULL: VM 1, which creates and owns it). */
static int hypervisor_start(struct vmsim *sim, struct host *h, unsigned vmid)
{
    const struct nested_env env = {
        .cfg = &sim->cfg, .mmu = &sim->mmu, .guest = &sim->phys, .cpu = sim->cpu,
        .rng = &sim->rng, .k = &sim->k, .migrating = &sim->migrating};
    return nested_init(&sim->nested, &env, h, vmid);
}


/* What cache_spec_parse guarantees, for a configuration built by hand. */
static int check_memory(const struct vmsim_memory_config *m)
{
    if (m->ncaches > VMSIM_MAX_CACHE_LEVELS)
        return VMSIM_EINVAL;
    for (unsigned j = 0; j < m->ncaches; j++) {
        const struct vmsim_cache_level_config *c = &m->cache[j];
        if (!c->sets || c->sets > (1u << 24) || !c->ways || c->ways > 1024 || c->line < 8 ||
            c->line > 4096 || (c->line & (c->line - 1)) || c->side > VMSIM_SIDE_INSN ||
            (c->shared && (j + 1 != m->ncaches || c->side != VMSIM_SIDE_UNIFIED)))
            return VMSIM_EINVAL;
    }
    if (m->dram_row_hit && (!m->dram_banks || m->dram_row < 64 || (m->dram_row & (m->dram_row - 1))))
        return VMSIM_EINVAL;
    return VMSIM_OK;
}

/* Whether cfg can build a machine; VMSIM_OK, or the code with a sentence
 * naming the field (as its command-line option), what was expected and
 * what was found. */
static int check_config(const struct vmsim_config *cfg, char *why, size_t len)
{
    char sub[160];
    if (vmsim_geometry_check(&cfg->geom, sub, sizeof sub))
        return why_code(why, len, VMSIM_EINVAL, "geometry (--geometry): %s", sub);
    if (cfg->ncpus == 0 || cfg->ncpus > VMSIM_MAX_CPUS)
        return why_code(why, len, VMSIM_EINVAL, "ncpus (--cpus): expected 1 to %d CPUs, found %u",
                   VMSIM_MAX_CPUS, (unsigned)cfg->ncpus);
    if (cfg->ntlb > VMSIM_MAX_TLB_LEVELS)
        return why_code(why, len, VMSIM_EINVAL, "ntlb (--tlb): expected at most %d TLB levels, found %u",
                   VMSIM_MAX_TLB_LEVELS, (unsigned)cfg->ntlb);
    const char *params;
    const struct pt_ops *ops = pt_find(cfg->pt, &params);
    if (!ops)
        return why_code(why, len, VMSIM_ENOENT, "pt (--pt): expected a page-table organization, "
                   "found \"%s\"", cfg->pt);
    if (ops->check ? ops->check(params, sub, sizeof sub) != VMSIM_OK : *params != '\0')
        return why_code(why, len, VMSIM_EINVAL, "pt (--pt): %s",
                   ops->check ? sub : "the organization takes no options");
    for (unsigned i = 0; i < cfg->ntlb; i++)
        if (cfg->tlb[i].narrays == 0 || cfg->tlb[i].narrays > VMSIM_MAX_TLB_ARRAYS)
            return why_code(why, len, VMSIM_EINVAL, "tlb[%u].narrays (--tlb): expected 1 to %d arrays, "
                       "found %u", i, VMSIM_MAX_TLB_ARRAYS, (unsigned)cfg->tlb[i].narrays);
    const uint64_t sets = cfg->vipt_sets, block = cfg->vipt_block;
    if (sets && (!block || (sets & (sets - 1)) || (block & (block - 1))))
        return why_code(why, len, VMSIM_EINVAL, "vipt_sets, vipt_block (--vipt): expected powers of "
                   "two, found %llux%llu", (unsigned long long)sets, (unsigned long long)block);
    if (cfg->replace > VMSIM_REPLACE_NONE)
        return why_code(why, len, VMSIM_EINVAL, "replace (--replace): expected 0 to %d, found %u",
                   VMSIM_REPLACE_NONE, (unsigned)cfg->replace);
    const char *refusal = vmsim_threads_refusal(cfg);
    if (refusal)
        return why_code(why, len, VMSIM_EINVAL, "%s", refusal);
    if (cfg->share_tables && !ops->table_link)
        return why_code(why, len, VMSIM_EINVAL, "share_tables (--share-tables): expected --pt radix, "
                   "found --pt %s", cfg->pt);
    if (cfg->khugepaged.every &&
        (ops->base_only || cfg->evict_tables || !cfg->khugepaged.pages ||
         cfg->thp == VMSIM_THP_NEVER || !cfg->anon_page_shift ||
         cfg->anon_page_shift == cfg->geom.page_shift))
        return why_code(why, len, VMSIM_EINVAL, "khugepaged (--khugepaged): expected huge pages for "
                   "anonymous memory (anon_page_shift, thp), an organization that holds them, "
                   "no evict_tables and pages of 1 or more");
    if (cfg->share_tables && cfg->geom.levels < 2)
        return why_code(why, len, VMSIM_EINVAL, "share_tables (--share-tables): expected a geometry "
                   "of two levels or more, found %s with one", cfg->geom.name);
    if (cfg->mem.dram && check_memory(&cfg->mem))
        return why_code(why, len, VMSIM_EINVAL, "mem (--cache): expected levels as docs/caches.md "
                   "describes (sets 1 to 2^24, ways 1 to 1024, lines a power of two from 8 to "
                   "4096, only the last level shared and unified; a row model with banks and a "
                   "power-of-two row of 64 bytes or more), found a level or row model outside that");
    if (cfg->nested.on) {
        const struct pt_ops *hops = pt_find(cfg->nested.pt[0] ? cfg->nested.pt : "radix", &params);
        if (!hops)
            return why_code(why, len, VMSIM_ENOENT, "nested.pt (--host-pt): expected a page-table "
                       "organization, found \"%s\"", cfg->nested.pt);
        if (hops->check ? hops->check(params, sub, sizeof sub) != VMSIM_OK : *params != '\0')
            return why_code(why, len, VMSIM_EINVAL, "nested.pt (--host-pt): %s",
                       hops->check ? sub : "the organization takes no options");
        if (vmsim_geometry_check(&cfg->nested.geom, sub, sizeof sub))
            return why_code(why, len, VMSIM_EINVAL, "nested.geom (--nested): %s", sub);
    }
    return VMSIM_OK;
}

/* One VM's memory: its buddy allocator's blocks go up to the largest page
 * of the geometry (docs/kernel.md, "Physical memory"). */
static int memory_init(struct vmsim *sim)
{
    const struct vmsim_geometry *g = &sim->cfg.geom;
    int rc = phys_init(&sim->phys, sim->cfg.phys_bytes, g->page_shift);
    if (rc)
        return rc;
    unsigned top = g->page_shift;
    for (unsigned k = 2; k <= g->levels; k++)
        if ((g->leaf_levels >> k & 1) && sim->shift[k] > top)
            top = sim->shift[k];
    phys_set_max_order(&sim->phys, top - g->page_shift);
    return VMSIM_OK;
}

int vmsim_create(const struct vmsim_config *cfg, struct vmsim **out)
{
    return vmsim_create_why(cfg, out, NULL, 0);
}

int vmsim_create_why(const struct vmsim_config *cfg, struct vmsim **out, char *why, size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
    int rc = check_config(cfg, why, whylen);
    if (rc)
        return rc;
    struct vmsim *sim = calloc(1, sizeof *sim);
    if (!sim)
        return why_code(why, whylen, VMSIM_ENOMEM, "building the machine: %s",
                   vmsim_strerror(VMSIM_ENOMEM));
    sim->cfg = *cfg;
    sim->vmid = 1;
    rng_seed(&sim->rng, cfg->seed);
    for (unsigned k = 1; k <= cfg->geom.levels; k++)
        sim->shift[k] = vmsim_geometry_page_shift(&cfg->geom, k);
    /* The anonymous page size must be a leaf size of the geometry. */
    if (!sim->cfg.anon_page_shift)
        sim->cfg.anon_page_shift = cfg->geom.page_shift;
    if (sim->cfg.anon_page_shift == VMSIM_PAGE_HUGE)
        for (unsigned k = cfg->geom.levels; k >= 2; k--)
            if (cfg->geom.leaf_levels & (1u << k))
                sim->cfg.anon_page_shift = (uint8_t)sim->shift[k];
    bool ok = false;
    for (unsigned k = 1; k <= cfg->geom.levels; k++)
        ok |= sim->shift[k] == sim->cfg.anon_page_shift && (cfg->geom.leaf_levels & (1u << k));
    if (!ok) {
        const unsigned shift = sim->cfg.anon_page_shift;
        free(sim);
        return why_code(why, whylen, VMSIM_EINVAL, "anon_page_shift (--page-size): expected a page "
                   "size of geometry %s, found 2^%u bytes", cfg->geom.name, shift);
    }
    sim->cpu = calloc(cfg->ncpus, sizeof *sim->cpu);
    sim->cst = calloc(cfg->ncpus, sizeof *sim->cst);
    sim->readout = calloc(2, sizeof *sim->readout);
    if (!sim->cpu || !sim->cst || !sim->readout) {
        free(sim->cpu);
        free(sim->cst);
        free(sim->readout);
        free(sim);
        return why_code(why, whylen, VMSIM_ENOMEM, "building the machine: %s",
                   vmsim_strerror(VMSIM_ENOMEM));
    }
    wire(sim);
    if ((cfg->mem.dram && (rc = memsys_init(&sim->memsys, &sim->cfg.mem, cfg->ncpus)) != 0) ||
        (rc = memory_init(sim)) != 0 || (rc = kernel_start(sim)) != 0 || (rc = mmu_cpu_ready(&sim->mmu, 0)) != 0 ||
        (rc = hypervisor_start(sim, NULL, 1)) != 0) {
        vmsim_destroy(sim);
        return why_code(why, whylen, rc, "building the machine: %s", vmsim_strerror(rc));
    }
    wire(sim);
    if (cfg->threads > 1 && (rc = par_create(sim, &sim->par)) != 0) {
        vmsim_destroy(sim);
        return why_code(why, whylen, rc, "building the machine: %s", vmsim_strerror(rc));
    }
    vmsim_set_warmup(sim, cfg->warmup);
    *out = sim;
    return VMSIM_OK;
}

/* A VM besides the first: a guest machine of its own (memory, kernel,
 * nested table) on the first VM's CPUs and host. */
int vmsim_vm_create(struct vmsim *sim, unsigned vmid, uint64_t mem_bytes)
{
    if (!sim->nested || sim->primary)
        return VMSIM_EINVAL;
    if (vmid < 2 || vmid >= VMSIM_MAX_VMS)
        return VMSIM_ERANGE;
    if (!sim->vm && !(sim->vm = calloc(VMSIM_MAX_VMS, sizeof *sim->vm)))
        return VMSIM_ENOMEM;
    if (sim->vm[vmid])
        return VMSIM_EEXIST;
    struct vmsim *v = calloc(1, sizeof *v);
    if (!v)
        return VMSIM_ENOMEM;
    v->cfg = sim->cfg;
    if (mem_bytes)
        v->cfg.phys_bytes = mem_bytes;
    v->cfg.nested.migrate.at = 0; /* the migration is VM 1's */
    v->primary = sim;
    v->vmid = vmid;
    v->mmu.stop = sim->mmu.stop;
    v->cpu = sim->cpu;
    v->cst = calloc(v->cfg.ncpus, sizeof *v->cst);
    v->readout = calloc(2, sizeof *v->readout);
    if (!v->cst || !v->readout) {
        free(v->cst);
        free(v->readout);
        free(v);
        return VMSIM_ENOMEM;
    }
    memcpy(v->shift, sim->shift, sizeof v->shift);
    rng_seed(&v->rng, sim->cfg.seed + vmid);
    int rc;
    wire(v);
    if ((rc = memory_init(v)) != 0 || (rc = kernel_start(v)) != 0 || (rc = hypervisor_start(v, sim->nested->h, vmid)) != 0) {
        vmsim_destroy(v);
        return rc;
    }
    wire(v);
    sim->vm[vmid] = v;
    sim->nvms++;
    return VMSIM_OK;
}

void vmsim_destroy(struct vmsim *sim)
{
    if (!sim)
        return;
    par_destroy(sim->par); /* first: its threads use everything below */
    for (unsigned i = 0; sim->vm && i < VMSIM_MAX_VMS; i++)
        vmsim_destroy(sim->vm[i]);
    free(sim->vm);
    u64map_free(&sim->vm_of);
    kernel_fini(&sim->k);
    nested_fini(sim->nested);
    sim->nested = NULL;
    free(sim->cst);
    free(sim->readout);
    if (sim->primary) { /* the CPUs are the first VM's */
        phys_fini(&sim->phys);
        free(sim);
        return;
    }
    for (unsigned i = 0; i < sim->cfg.ncpus; i++) {
        for (unsigned j = 0; j < sim->cfg.ntlb; j++)
            tlb_level_fini(&sim->cpu[i].tlb[j]);
        pwc_fini(&sim->cpu[i].pwc);
    }
    free(sim->cpu);
    memsys_fini(&sim->memsys);
    phys_fini(&sim->phys);
    free(sim);
}

static inline __attribute__((always_inline)) int run_one(struct vmsim *sim,
                                                           const struct vmsim_event *e)
{
    int rc = VMSIM_OK;
    sim->k.cur_cpu = e->cpu; /* shootdowns from here need no IPI */
    switch (e->type) {
    case VMSIM_EV_ACCESS:
        return mmu_access(&sim->mmu, e);
    case VMSIM_EV_SPAWN:
        if (!kernel_process(&sim->k, e->pid, true, &rc) && rc == 0)
            rc = VMSIM_ENOMEM;
        return rc;
    case VMSIM_EV_EXIT:
        rc = kernel_exit(&sim->k, e->pid);
        break;
    case VMSIM_EV_MMAP:
        return kernel_mmap(&sim->k, e);
    case VMSIM_EV_MUNMAP:
        rc = kernel_munmap(&sim->k, e->pid, e->addr, e->len);
        break;
    case VMSIM_EV_MPROTECT:
        rc = kernel_mprotect(&sim->k, e->pid, e->addr, e->len, e->kind);
        break;
    case VMSIM_EV_SWITCH:
        return mmu_switch(&sim->mmu, e->cpu, e->pid);
    case VMSIM_EV_FORK:
        if (e->addr > UINT32_MAX)
            return VMSIM_EINVAL;
        rc = kernel_fork(&sim->k, e->pid, (vmsim_pid_t)e->addr);
        break;
    case VMSIM_EV_MADVISE:
        rc = kernel_madvise(&sim->k, e->pid, e->addr, e->len, e->kind);
        break;
    default:
        return VMSIM_EINVAL;
    }
    /* exiting, forking, unmapping or protecting in an unknown process
     * changes nothing */
    return rc == VMSIM_ENOENT ? VMSIM_OK : rc;
}

/* The VM pid runs in: the pid map's, else VM 1. */
static struct vmsim *vm_of_pid(const struct vmsim *sim, vmsim_pid_t pid)
{
    const uint64_t *id = sim->nvms ? u64map_get(&sim->vm_of, pid) : NULL;
    return id ? sim->vm[*id] : (struct vmsim *)sim;
}

/* The VM an event belongs to: its process's. A running process is found
 * through its CPU; others through the pid map (VM 1 when not there). A
 * spawn into another VM and a fork in one record their pids. */
static struct vmsim *vm_of(struct vmsim *sim, const struct vmsim_event *e)
{
    if (e->type == VMSIM_EV_ACCESS && e->cpu < sim->cfg.ncpus) {
        const struct process *p = sim->cpu[e->cpu].proc;
        if (p && p->space.pid == e->pid)
            return p->owner;
    }
    if (e->type == VMSIM_EV_SPAWN && e->file > 1)
        return e->file < VMSIM_MAX_VMS && sim->vm[e->file] &&
                       u64map_put(&sim->vm_of, e->pid, e->file) == 0
                   ? sim->vm[e->file]
                   : NULL;
    struct vmsim *v = vm_of_pid(sim, e->pid);
    if (e->type == VMSIM_EV_FORK && v != sim &&
        u64map_put(&sim->vm_of, e->addr, v->nested->vmid) != 0)
        return NULL;
    return v;
}

int vmsim_debug_alias_host(struct vmsim *sim, vmsim_pid_t victim_pid, vmsim_vaddr_t victim_va,
                           vmsim_pid_t other_pid, vmsim_vaddr_t other_va)
{
    if (!sim->nested || sim->cfg.nested.shadow)
        return VMSIM_EINVAL;
    const vmsim_pid_t pid[2] = {victim_pid, other_pid};
    const vmsim_vaddr_t va[2] = {victim_va, other_va};
    vmsim_paddr_t gpa[2];
    struct vmsim *vm[2];
    uint64_t host[2];
    for (int i = 0; i < 2; i++) {
        vm[i] = vm_of_pid(sim, pid[i]);
        int rc = 0;
        struct process *p = kernel_process(&vm[i]->k, pid[i], false, &rc);
        const uint64_t e = p ? kernel_lookup(p, va[i]) : 0;
        if (!(e & PTE_P))
            return VMSIM_ENOENT;
        gpa[i] = PTE_PFN(e) << vm[i]->phys.page_shift;
        host[i] = pt_lookup(vm[i]->nested->pt, vm[i]->nested->vmid, gpa[i], NULL);
        if (!(host[i] & PTE_P))
            return VMSIM_ENOENT;
    }
    const struct host *h = sim->nested->h;
    int rc = pt_map(vm[1]->nested->pt, vm[1]->nested->vmid, gpa[1] & ~((1ull << h->back_shift) - 1),
                    h->back_level, host[0] & ~(PTE_P | PTE_LEAF));
    if (rc)
        return rc;
    mmu_flush_all(&sim->mmu);
    sim->st.tlb_flushes++;
    for (unsigned c = 0; c < sim->cfg.ncpus; c++) {
        sac_clear(&h->cpu[c].tlb);
        pwc_flush(&h->cpu[c].pwc);
    }
    return VMSIM_OK;
}

/* n more accesses of the VM: khugepaged's scan when its interval ends
 * (runs of hits are cut there: run_events). */
static int khugepaged_tick(struct vmsim *sim, uint64_t n)
{
    if ((sim->k.khp.left -= n) != 0)
        return VMSIM_OK;
    return khugepaged_scan(&sim->k);
}

/* Simulated memory running out is a result, not a failure: an event that
 * needed a frame (a new process's root table, a table for a mapping) and
 * found none is counted and dropped, and the run goes on. */
static inline int event_rc(struct vmsim *sim, int rc)
{
    if (rc != VMSIM_ENOFRAME)
        return rc;
    sim->st.faults_oom++;
    sim->st.faults_total++;
    return VMSIM_OK;
}

static inline __attribute__((always_inline)) int run_event(struct vmsim *sim,
                                                             const struct vmsim_event *e)
{
    if (e->type == VMSIM_EV_VM)
        return e->addr < VMSIM_MAX_VMS ? vmsim_vm_create(sim, (unsigned)e->addr, e->len)
                                       : VMSIM_ERANGE;
    if (e->type == VMSIM_EV_SPAWN && e->file > 1 && !sim->nvms)
        return VMSIM_EINVAL; /* a VM that does not exist */
    if (sim->nvms && !(sim = vm_of(sim, e)))
        return VMSIM_EINVAL;
    int rc = run_one(sim, e);
    if (__builtin_expect(sim->k.khp.left != 0, 0) && e->type == VMSIM_EV_ACCESS && rc == 0)
        rc = khugepaged_tick(sim, 1);
    return event_rc(sim, rc);
}

/* While walks are frequent, start loading what the translation of the
 * access PREFETCH_AHEAD events later will read: its leaf page-table entry.
 * Walks then overlap their host memory latency instead of paying it one
 * after another; only the host's caches change, so the results are those
 * of one access after another. Decided per chunk of events from the
 * previous chunk's walk count, so the TLB-hit path is untouched.
 * Measured on random streams (docs/performance.md): without it, 0.5-0.6x;
 * distances 4 and 16 lose 3-4 % against 8; a second stage starting the
 * entry above the leaf 16 events ahead gains 6 % at 64 GiB but loses 14 %
 * at 2 GiB, so it runs only while the tables outgrow the host's caches
 * (PREFETCH_DEEP_BYTES: +3 % at 64 GiB, +7 % at 128 GiB, nothing below);
 * prefetching the TLB sets too loses. */
#define PREFETCH_AHEAD MMU_PREFETCH_AHEAD
#define CHUNK 64

/* The deep stage: while the page tables hold at least this many bytes
 * (too many for the host's caches), the entry above the leaf is started
 * 2 * PREFETCH_AHEAD events ahead as well. */
#define PREFETCH_DEEP_BYTES (32ull << 20)

/* Below this many bytes of page tables a bare run prefetches nothing: the
 * host's caches serve its walks, and the prefetches' own instructions
 * cost more than they hide (measured: 0.89x with them at 256 MiB, 0.93x at
 * 1 GiB, 2 MiB of tables; 1.23x at 2 GiB, 4 MiB). */
#define PREFETCH_BYTES (3ull << 20)

static void prefetch(struct vmsim *sim, const struct vmsim_event *e, unsigned level)
{
    if (e->type != VMSIM_EV_ACCESS || e->cpu >= sim->cfg.ncpus)
        return;
    const struct cpu *c = &sim->cpu[e->cpu];
    const struct process *p = c->proc;
    if (!p || p->space.pid != e->pid || (e->addr >> sim->cfg.geom.va_bits))
        return;
    pt_prefetch(p->space.pt, p->space.asid, e->addr, level);
}

void vmsim_set_stop(struct vmsim *sim, const volatile sig_atomic_t *flag)
{
    sim->mmu.stop = flag;
    for (unsigned i = 0; sim->vm && i < VMSIM_MAX_VMS; i++)
        if (sim->vm[i])
            sim->vm[i]->mmu.stop = flag;
}

/* May an access run in a parallel phase? Its CPU must run its process
 * already: loading an address space is a barrier (it may create the
 * process), as is every other event. */
static bool parallel_access(const struct vmsim *sim, const struct vmsim_event *e)
{
    if (e->type != VMSIM_EV_ACCESS || e->cpu >= sim->cfg.ncpus)
        return false;
    const struct process *p = sim->cpu[e->cpu].proc;
    return p && p->space.pid == e->pid;
}

/* A parallel run (--threads): phases of accesses between barriers, each
 * barrier run here alone, in trace order. */
static int run_parallel(struct vmsim *sim, const struct vmsim_event *ev, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && parallel_access(sim, &ev[j]))
            j++;
        if (j > i) {
            const int rc = par_phase(sim->par, ev + i, j - i);
            sim->st.events += j - i;
            if (rc)
                return rc;
            i = j;
            continue;
        }
        /* An access on a CPU that must load its address space first: the
         * load is the barrier, the access joins the next phase. */
        sim->k.cur_cpu = ev[i].cpu;
        if (ev[i].type == VMSIM_EV_ACCESS && ev[i].cpu < sim->cfg.ncpus &&
            mmu_switch(&sim->mmu, ev[i].cpu, ev[i].pid) == VMSIM_OK)
            continue;
        const int rc = run_event(sim, &ev[i]);
        if (rc)
            return rc;
        sim->st.events++;
        i++;
    }
    return VMSIM_OK;
}

static int run_events(struct vmsim *sim, const struct vmsim_event *ev, size_t n)
{
    if (sim->par)
        return run_parallel(sim, ev, n);
    struct prefetching *pf = &sim->pf;
    /* runs of memo hits in one go, unless each event must be seen (a live
     * migration ticks per event) or an event's VM must be looked up */
    const bool runs = !sim->nvms && !sim->migrating;
    for (size_t i = 0; i < n;) {
        /* chunks go on across calls, so that a caller handing over few
         * events at a time gets the prefetching too */
        const size_t end = n - i > CHUNK - pf->events ? i + (CHUNK - pf->events) : n;
        pf->events += (unsigned)(end - i);
        for (; i < end; i++) {
            if (runs && !pf->on) { /* while walks are frequent, runs are short */
                /* khugepaged's next scan ends a run. (Today no run forms while it is
                 * on: it needs huge pages, and they make every translation tracked,
                 * wire(); the cut keeps it right if that changes.) */
                const uint64_t left = sim->k.khp.left;
                const size_t h = mmu_hits(&sim->mmu, ev + i, left && left < end - i ? left : end - i);
                if (h) {
                    sim->k.cur_cpu = ev[i].cpu;
                    sim->st.events += h;
                    int rc = left ? khugepaged_tick(sim, h) : VMSIM_OK;
                    if (rc)
                        return rc;
                    if ((i += h) == end)
                        break;
                }
            }
            if (runs && pf->on && sim->mmu.bare && !sim->k.khp.left) {
                /* a bare machine's run of misses and hits, in one loop */
                int rc;
                sim->k.cur_cpu = ev[i].cpu; /* before its faults: run_one */
                const size_t h = mmu_bare_run(&sim->mmu, ev + i, end - i, n - i,
                                              pf->small ? 0 : pf->deep ? 2 : 1, NULL, &rc);
                if (h) {
                    rc = event_rc(sim, rc);
                    sim->st.events += h - (rc != VMSIM_OK);
                    if (rc)
                        return rc;
                    if ((i += h) == end)
                        break;
                }
            }
            if (pf->on && i + PREFETCH_AHEAD < n) {
                if (pf->deep && i + 2 * PREFETCH_AHEAD < n)
                    prefetch(sim, &ev[i + 2 * PREFETCH_AHEAD], 2);
                prefetch(sim, &ev[i + PREFETCH_AHEAD], 1);
            }
            int rc = sim->migrating ? migrate_tick(sim->nested) : VMSIM_OK;
            if (rc == VMSIM_OK)
                rc = run_event(sim, &ev[i]);
            if (rc)
                return rc;
            sim->st.events++;
        }
        if (pf->events == CHUNK) { /* once per chunk: mmu_walks sums over the CPUs */
            const uint64_t now = mmu_walks(&sim->mmu);
            pf->on = now >= pf->walks && now - pf->walks >= CHUNK / 4;
            pf->deep = pf->on && sim->phys.pt_bytes >= PREFETCH_DEEP_BYTES;
            pf->small = sim->phys.pt_bytes < PREFETCH_BYTES;
            pf->walks = now;
            pf->events = 0;
        }
    }
    return VMSIM_OK;
}

/* One VM's part of a reset. The hypervisor's first: its migration clock
 * reads the kernel's cycles. */
static void vm_reset_stats(struct vmsim *v)
{
    if (v->nested)
        nested_reset_stats(v->nested);
    kernel_reset_stats(&v->k);
    mmu_reset_stats(&v->mmu);
    memset(&v->st, 0, sizeof v->st);
    phys_reset_peaks(&v->phys);
}

int vmsim_reset_stats(struct vmsim *sim)
{
    if (sim->primary)
        return VMSIM_EINVAL;
    sim->warm.events += sim->st.events;
    for (unsigned i = 1; i < VMSIM_MAX_VMS; i++) {
        struct vmsim *v = i == 1 ? sim : sim->vm ? sim->vm[i] : NULL;
        if (!v)
            continue;
        sim->warm.accesses += mmu_accesses(&v->mmu) - v->mmu.accesses_base;
        vm_reset_stats(v);
    }
    return VMSIM_OK;
}

int vmsim_set_warmup(struct vmsim *sim, uint64_t n)
{
    if (sim->primary)
        return VMSIM_EINVAL;
    sim->warm.requested = n;
    sim->warm.completed = false;
    sim->warm_left = n;
    return VMSIM_OK;
}

void vmsim_get_warmup(const struct vmsim *sim, struct vmsim_warmup *w) { *w = sim->warm; }

static size_t count_accesses(const struct vmsim_event *ev, size_t n)
{
    size_t a = 0;
    for (size_t i = 0; i < n; i++)
        a += ev[i].type == VMSIM_EV_ACCESS;
    return a;
}

/* A warm-up to end within these events: run them up to its last access,
 * reset, run the rest. Only batches that reach into the warm-up pay for
 * looking at each event's type; the loop itself is the same. Out of line
 * (cold), so that vmsim_run without a warm-up is one test and a jump. */
__attribute__((cold, noinline)) static int run_warming(struct vmsim *sim,
                                                       const struct vmsim_event *ev, size_t n)
{
    size_t cut = 0;
    for (uint64_t left = sim->warm_left; cut < n && left; cut++)
        left -= ev[cut].type == VMSIM_EV_ACCESS;
    const uint64_t before = sim->st.events;
    const int rc = run_events(sim, ev, cut);
    /* the access events consumed: all up to the cut, or those before a
     * failing event */
    sim->warm_left -= count_accesses(ev, (size_t)(sim->st.events - before));
    if (rc)
        return rc;
    if (sim->warm_left == 0) {
        vmsim_reset_stats(sim);
        sim->warm.completed = true;
    }
    return cut < n ? run_events(sim, ev + cut, n - cut) : VMSIM_OK;
}

int vmsim_run(struct vmsim *sim, const struct vmsim_event *ev, size_t n)
{
    if (__builtin_expect(sim->warm_left != 0, 0))
        return run_warming(sim, ev, n);
    return run_events(sim, ev, n);
}

_Static_assert(PHYS_ORDERS == VMSIM_BUDDY_ORDERS, "the statistics hold every order");

/* One VM's figures into *out: its own counters and the gauges read off its
 * memory, then what its kernel, the hypervisor and each CPU counted, each
 * by its rule; with scan, the statistics that need a pass over frames or
 * tables too (VMSIM_SCANNED_STATS). Reads the machine only: no allocation
 * unless scan (pt_shareable sorts its candidates). */
static void vm_read(const struct vmsim *sim, struct vmsim_stats *out, bool scan)
{
    const unsigned ntlb = sim->cfg.ntlb;
    *out = sim->st;
    out->frames_used = sim->phys.used;
    out->frames_peak = sim->phys.peak;
    out->swap_slots_peak = sim->phys.swap.peak;
    out->pt_peak_bytes = sim->phys.pt_nonroot_peak;
    out->pt_peak_all_bytes = sim->phys.pt_peak;
    out->buddy_max_order = sim->phys.max_order;
    phys_free_blocks(&sim->phys, out->buddy_free);
    memcpy(out->buddy_fail, sim->phys.fail, sizeof out->buddy_fail);
    out->pt_migrated = sim->k.pt_counters.migrated;
    out->pt_resizes = sim->k.pt_counters.resizes;
    out->pt_evicted = sim->k.pt_counters.evicted;
    if (sim->nested)
        out->mig_bytes = sim->nested->counters.mig_pages << sim->nested->h->back_shift;
    for (unsigned i = 0; i < ntlb; i++) {
        out->tlb[i].reach = 0;
        for (unsigned c = 0; c < sim->cfg.ncpus; c++)
            if (sim->cpu[c].ready && tlb_level_reach(&sim->cpu[c].tlb[i]) > out->tlb[i].reach)
                out->tlb[i].reach = tlb_level_reach(&sim->cpu[c].tlb[i]);
    }
    const struct vmsim *first = sim->primary ? sim->primary : sim;
    for (unsigned j = 0; j < sim->cfg.mem.ncaches && sim->cfg.mem.dram; j++)
        memsys_lines(&first->memsys, j, &out->cache[j].lines, &out->cache[j].pt_lines);
    stats_merge(out, &sim->k.counters, ntlb);
    if (sim->nested)
        stats_merge(out, &sim->nested->counters, ntlb);
    for (unsigned c = 0; c < sim->cfg.ncpus; c++)
        stats_merge(out, &sim->cst[c], ntlb);
    /* produced by the read alone (no part counts them): set, not merged */
    kernel_pt_share(&sim->k, out, scan);
    if (!scan)
        return;
    if (sim->cfg.vipt_sets)
        kernel_synonyms(&sim->k, out);
    if (sim->k.huge) {
        thp_untouched(&sim->k, out);
        compact_gauges(&sim->k, out);
    }
    if (sim->nested) {
        struct vmsim_pt_footprint fp;
        nested_footprint(sim->nested, &fp, &out->nested_host_frames);
        out->nested_table_bytes = fp.bytes + fp.root_bytes;
    }
}

void vmsim_read_stats(const struct vmsim *sim, struct vmsim_stats *out, bool scan)
{
    vm_read(sim, out, scan);
    for (unsigned i = 2; sim->nvms && i < VMSIM_MAX_VMS; i++)
        if (sim->vm[i]) {
            struct vmsim_stats v;
            vm_read(sim->vm[i], &v, scan);
            stats_combine(out, &v, sim->cfg.ntlb);
        }
}

const struct vmsim_stats *vmsim_vm_stats(const struct vmsim *sim, unsigned vmid)
{
    const struct vmsim *v = vmid == 1                                 ? sim
                            : vmid < VMSIM_MAX_VMS && sim->vm ? sim->vm[vmid]
                                                              : NULL;
    if (!v)
        return NULL;
    vm_read(v, &v->readout[1], true);
    return &v->readout[1];
}

const struct vmsim_stats *vmsim_get_stats(const struct vmsim *sim)
{
    vmsim_read_stats(sim, sim->readout, true);
    return sim->readout;
}

const struct vmsim_config *vmsim_get_config(const struct vmsim *sim) { return &sim->cfg; }

/* Add one VM's page tables to *fp; returns the address spaces of its
 * table shared by all of them (0: tables of their own). */
static uint64_t vm_footprint(const struct vmsim *sim, struct vmsim_pt_footprint *fp)
{
    const struct kernel *k = &sim->k;
    uint64_t spaces = 0;
    for (size_t b = 0; b < k->nbucket; b++)
        for (const struct process *p = k->bucket[b]; p; p = p->hnext, spaces++)
            pt_footprint(p->space.pt, fp);
    if (!k->pt_shared || !k->ops->shared_footprint)
        return 0;
    k->ops->shared_footprint(k->pt_shared, fp);
    fp->shared_by += spaces;
    return spaces;
}

void vmsim_footprint(const struct vmsim *sim, struct vmsim_pt_footprint *fp)
{
    memset(fp, 0, sizeof *fp);
    /* each VM's guest kernel has a shared table of its own: a tag tells the
     * spaces of one table apart, so the largest table sets the bits */
    uint64_t most = vm_footprint(sim, fp);
    for (unsigned i = 2; sim->vm && i < VMSIM_MAX_VMS; i++)
        if (sim->vm[i]) {
            const uint64_t n = vm_footprint(sim->vm[i], fp);
            most = n > most ? n : most;
        }
    while (fp->space_tag_bits < 64 && (1ull << fp->space_tag_bits) < most)
        fp->space_tag_bits++;
}

unsigned vmsim_leaf_levels(const struct vmsim *sim)
{
    return sim->k.ops->base_only ? 1u << 1 : sim->cfg.geom.leaf_levels | 1u << 1;
}

int vmsim_map_page(struct vmsim *sim, vmsim_pid_t pid, vmsim_vaddr_t va, unsigned page_shift)
{
    unsigned level = 0;
    for (unsigned k = 1; k <= sim->cfg.geom.levels; k++)
        if (sim->shift[k] == page_shift && (vmsim_leaf_levels(sim) & (1u << k)))
            level = k;
    if (!level || (va >> sim->cfg.geom.va_bits))
        return VMSIM_EINVAL;
    int rc = 0;
    struct process *p = kernel_process(&sim->k, pid, true, &rc);
    if (!p)
        return rc;
    vmsim_pfn_t pfn;
    if ((rc = phys_alloc(&sim->phys, page_shift - sim->phys.page_shift, 0, &pfn)) != 0)
        return rc;
    /* The frame may be a recycled one: the page starts with what --verify
     * expects of memory nobody has written, zeroes. */
    const uint64_t frames = 1ull << (page_shift - sim->phys.page_shift);
    kernel_frames_written(&sim->k, pfn, frames);
    if (sim->cfg.verify)
        verify_copy(&sim->k, pfn, FRAME_NIL, frames);
    rc = kernel_map(&sim->k, p, va, level,
                    ((uint64_t)pfn << PTE_PFN_SHIFT) | PTE_W | PTE_U | PTE_X | PTE_A | PTE_D);
    if (rc)
        phys_put(&sim->phys, pfn);
    return rc;
}

int vmsim_deposit_table(struct vmsim *sim, vmsim_pid_t pid)
{
    int rc = 0;
    struct process *p = kernel_process(&sim->k, pid, true, &rc);
    return p ? pt_deposit(p->space.pt) : rc;
}

int vmsim_plan(struct vmsim *sim, const struct vmsim_event *ev, size_t n)
{
    return kernel_plan(&sim->k, ev, n);
}

int vmsim_verify_first(const struct vmsim *sim, struct vmsim_mismatch *m)
{
    return verify_first(&sim->k, m);
}

int vmsim_debug_corrupt(struct vmsim *sim, vmsim_pid_t pid, vmsim_vaddr_t va)
{
    return verify_corrupt(&sim->k, pid, va);
}

/* ---- observing and stepping ---- */

const char *const vmsim_fault_names[] = {
    "none", "demand_zero_read", "demand_zero_write", "cow_zero", "cow_copy", "cow_reuse",
    "pagecache_hit", "pagecache_miss", "swap_in", "segv", "protection", "bad_address", "oom",
    "table", "other", NULL};

/* Point every VM's MMU at the first VM's watch (on) or at nothing. */
static void watch_set(struct vmsim *sim, bool on)
{
    sim->mmu.watch = on ? &sim->watch : NULL;
    wire(sim);
    for (unsigned i = 2; sim->vm && i < VMSIM_MAX_VMS; i++)
        if (sim->vm[i])
            wire(sim->vm[i]);
}

int vmsim_set_observer(struct vmsim *sim, const struct vmsim_observer *obs)
{
    if (sim->par || sim->primary)
        return sim->par ? VMSIM_EUNSUPPORTED : VMSIM_EINVAL;
    sim->watch.obs = obs ? *obs : (struct vmsim_observer){0};
    watch_set(sim, obs != NULL);
    return VMSIM_OK;
}

int vmsim_translate(struct vmsim *sim, const struct vmsim_event *ev, struct vmsim_translation *out)
{
    memset(out, 0, sizeof *out);
    out->tlb_level = -1;
    if (sim->par || sim->primary)
        return sim->par ? VMSIM_EUNSUPPORTED : VMSIM_EINVAL;
    const bool observed = sim->mmu.watch != NULL;
    sim->watch.rec = out;
    sim->watch.page_done = false;
    if (!observed)
        watch_set(sim, true);
    const int rc = vmsim_run(sim, ev, 1);
    sim->watch.rec = NULL;
    if (!observed)
        watch_set(sim, false);
    return rc;
}
