/* The machine: the composition of CPUs, physical memory, a kernel and the
 * hypervisor's side of a guest (struct vmsim), and the event loop over them
 * (machine.c). Top of the simulation layers (docs/architecture.md). */
#ifndef VMSIM_MACHINE_MACHINE_H
#define VMSIM_MACHINE_MACHINE_H

#include <signal.h>

#include "mmu/mmu.h"
#include "os/kernel.h"
#include "phys/phys.h"
#include "pt/pt.h"
#include "util/rng.h"
#include "util/u64map.h"

/* One machine (or one VM of a machine): owns what it composes; the CPUs
 * and the host are the first VM's (docs/architecture.md, ownership). */
struct vmsim {
    struct vmsim_config cfg;
    struct mmu mmu; /* its wiring of the CPUs: counters, exception vector (mmu.h) */
    struct vmsim_stats st;    /* the machine's own counters: events, dropped events, gauges */
    struct vmsim_stats *cst;  /* cfg.ncpus: this VM's counters of each CPU (mmu.cst) */
    struct vmsim_stats *readout; /* [0] what vmsim_get_stats, [1] what vmsim_vm_stats last
                                    returned: the callers' buffers, held by the machine */
    struct phys phys;
    struct kernel k;
    struct cpu *cpu;
    struct rng rng;
    unsigned shift[VMSIM_MAX_LEVELS + 2]; /* page shift of a leaf at level k */
    struct nested *nested;    /* the hypervisor's side of a guest machine; NULL: native */
    bool migrating;           /* a live migration is to come or under way */
    struct prefetching {      /* run_events' page-table prefetching, decided per chunk of
                                 events from the walks the chunk before took */
        bool on;
        bool deep;            /* the entry above the leaf too (PREFETCH_DEEP_BYTES) */
        bool small;           /* the tables fit the host's caches: a bare run prefetches
                                 nothing (PREFETCH_BYTES) */
        unsigned events;      /* events of the current chunk so far */
        uint64_t walks;       /* mmu_walks when the chunk began */
    } pf;
    struct vmsim *primary;    /* a VM other than the first: the machine's first VM, which owns
                                 the CPUs, the host and the other VMs; NULL for it */
    struct vmsim **vm;        /* the first VM: the others by id (NULL until one exists) */
    unsigned nvms;            /* the first VM: VMs besides itself */
    struct u64map vm_of;      /* the first VM: pid -> VM id, for processes outside VM 1 */
    unsigned vmid;            /* 1 for the first VM */
    struct memsys memsys;     /* the first VM: the data caches and DRAM (cfg.mem.dram != 0) */
    uint64_t warm_left;       /* the first VM: access events before the warm-up's reset; 0:
                                 none to come (vmsim_set_warmup) */
    struct vmsim_warmup warm; /* the first VM: the warm-up asked for, what resets excluded */
    struct par *par;          /* cfg.threads > 1: the threads (parallel.c); NULL: one */
    struct mmu_watch watch;   /* the first VM: the observer and vmsim_translate's record, which
                                 every VM's mmu.watch points to while either is on */
};

/* stats.c: fold one part's statistics into acc (which starts as a copy of
 * the first part's), each by its rule; ntlb TLB levels. */
void stats_combine(struct vmsim_stats *acc, const struct vmsim_stats *part, unsigned ntlb);
/* stats.c: fold the counters of one part of a VM (a CPU, its kernel, the
 * hypervisor) into acc, the VM's. Each statistic is produced by one part,
 * or (cycles) summed over them: as stats_combine, except that a SAME or
 * FIRST statistic is taken from the part that has it. */
void stats_merge(struct vmsim_stats *acc, const struct vmsim_stats *part, unsigned ntlb);

#endif
