/* Nested paging (EPT/NPT): the hypervisor's half of a guest machine.
 *
 * A machine created with cfg.nested.on is a guest. Its simulated memory
 * (struct phys, the kernel's frames) is guest-physical memory; the
 * hypervisor backs it with host memory of its own, one host page (of
 * nested.page_shift) at a time on first touch (an EPT violation: a VM exit
 * charged cost.vmexit), mapped in the nested table: a page-table
 * organization of its own geometry over host memory, one address space
 * (the VM's). The MMU translates every guest-physical address a walk reads
 * (each guest page-table reference, then the page found) through
 * nested_translate: the nested TLB, then the host page-walk caches and a
 * walk of the nested table. docs/virtualization.md. */
#ifndef VMSIM_VIRT_NESTED_H
#define VMSIM_VIRT_NESTED_H

#include "mmu/mmu.h"
#include "os/kernel.h"
#include "phys/phys.h"
#include "pt/pt.h"
#include "tlb/tlb.h"

#define NESTED_MAX_VMS 256 /* VM ids 1..255: the tag in the host-side caches */

struct nested_cpu { /* owned by one CPU, kept in the host */
    struct sac tlb; /* (VM, guest-physical page) -> host frame; no key when off */
    struct pwc pwc; /* host-dimension page-walk caches, tagged by VM */
};

/* The host: its memory, the nested tables' organization, the host-side
 * caches of every CPU. One per machine, shared by its VMs; owned by the
 * hypervisor. */
struct host {
    struct phys phys; /* host memory */
    const struct pt_ops *ops;
    const char *params;
    void *shared;
    struct pt_counters counters;
    unsigned shift[VMSIM_MAX_LEVELS + 2]; /* host page shift of a leaf at level k */
    unsigned back_level, back_shift;      /* host pages backing guest memory */
    unsigned tlb_latency;
    struct nested_cpu *cpu;
};

/* What the hypervisor runs on for one VM, given by the machine that
 * composes it (as struct kernel_env is for a kernel). */
struct nested_env {
    const struct vmsim_config *cfg;
    struct mmu *mmu;        /* the VM's CPUs: its accesses and time so far (a migration's
                               clock); a migration write-protects their TLBs through it */
    struct phys *guest;     /* the guest's memory: its size, enclave frames */
    struct cpu *cpu;        /* cfg->ncpus CPUs: their LRU clocks, which the nested TLB shares */
    struct rng *rng;        /* nested TLB replacement draws */
    struct kernel *k;       /* the guest kernel: --verify stamps of the frames a migration sends */
    bool *migrating;        /* the machine's: a live migration is to come or under way */
};

/* One VM's side: its nested table (an address space of the host's
 * organization, id = the VM id) and its live migration. Owned by the
 * hypervisor; its functions (nested.c, migrate.c) take it, not the machine. */
struct nested {
    struct nested_env env;
    struct vmsim_stats counters; /* its own: nested walks, VM exits, migration (docs/stats.md) */
    struct host *h;   /* the machine's (owned by VM 1) */
    bool owns_host;   /* VM 1's: frees the host */
    unsigned vmid;
    struct pt *pt;    /* guest-physical -> host-physical */
    struct {                /* live migration (migrate.c) */
        uint64_t clock_base; /* the VM's kernel and hypervisor cycles that statistics
                                resets cleared: its clock goes on (nested_reset_stats) */
        bool active;
        uint64_t deadline;  /* cycles at which the current round ends */
        uint64_t npages;    /* host pages that guest memory spans */
        uint64_t *dirty;    /* bit per host page: to send next */
        uint64_t ndirty;
        uint64_t *dest;     /* --verify: per guest frame, the stamp the destination has */
    } mig;
};

/* The nested-TLB key of gpa's host page in VM n (never 0). */
static inline uint64_t nested_tlb_key(const struct nested *n, vmsim_paddr_t gpa)
{
    return (gpa >> n->h->back_shift) << 16 | (uint64_t)n->vmid << 8 | n->h->back_shift;
}

/* Set up *out from env->cfg->nested (NULL when off): VM vmid, on host h
 * (NULL: create the host, owned by this VM). On failure *out may be set
 * and is freed by nested_fini. */
int nested_init(struct nested **out, const struct nested_env *env, struct host *h, unsigned vmid);
void nested_fini(struct nested *n);
/* The host-physical address of guest-physical gpa as CPU cpu finds it:
 * nested TLB, host page-walk caches, nested walk, and on a first touch the
 * hypervisor's backing. Adds the cycles to *cyc. Without host memory left
 * the page stays unbacked (nested.oom) and gpa is returned. */
vmsim_paddr_t nested_translate(struct nested *n, unsigned cpu, vmsim_paddr_t gpa, uint64_t *cyc,
                               bool *writable);
/* The guest frames a host page at gpa covers (one when host pages are
 * smaller than the guest's). */
static inline uint64_t nested_guest_frames(const struct nested *n, unsigned guest_shift)
{
    return n->h->back_shift > guest_shift ? 1ull << (n->h->back_shift - guest_shift) : 1;
}

/* Guest frames [pfn, pfn + count) became enclave memory: so do the host frames
 * that back them (now, or when they are backed), which the processor then
 * refuses to anyone but the enclave, whichever VM asks. */
void nested_enclave(struct nested *n, vmsim_pfn_t pfn, uint64_t count, bool on);
/* Is the host frame holding host-physical address hpa enclave memory? */
bool nested_enclave_host(const struct nested *n, vmsim_paddr_t hpa);
/* Shadow paging: one VM exit for a trapped guest page-table write (pte:
 * the entry written; a present one gets its guest-physical page backed, as
 * the hypervisor mirrors it into the shadow table) or address-space switch
 * (pte 0). */
void nested_shadow_exit(struct nested *n, uint64_t pte);
/* Zero the hypervisor's counters of this VM (vmsim_reset_stats), all but
 * the live migration's, which are reported whole; the migration's clock
 * keeps the cycles cleared. Call it before the guest kernel's reset: the
 * clock takes the kernel's cycles too. */
void nested_reset_stats(struct nested *n);
/* migrate.c. Before each event while a migration is configured and not
 * over: start it, or end a round. */
int migrate_tick(struct nested *n);
/* The guest kernel wrote bytes of guest-physical memory from gpa (zeroed,
 * copied or read a page in): dirty for the migration. */
void migrate_dirty(struct nested *n, vmsim_paddr_t gpa, uint64_t bytes);
/* A guest write hit a page the migration write-protected: the trap (a VM
 * exit, its cost added to *cyc) marks it dirty and lifts the protection.
 * False when no migration protects it. */
bool migrate_trap(struct nested *n, vmsim_paddr_t gpa, uint64_t *cyc);
/* Host memory in use, the nested table's footprint. A host organization
 * with one table for every VM (inverted, ppc, global hashed) has it added
 * to the first VM's footprint only, so that the VMs' figures add up to the
 * host's memory (docs/stats.md, nested.table_bytes). */
void nested_footprint(const struct nested *n, struct vmsim_pt_footprint *fp, uint64_t *host_frames);

#endif
