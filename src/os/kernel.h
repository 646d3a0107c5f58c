/* The simulated kernel: processes, their address spaces (VMAs and page
 * tables), and the page-fault handler. Minimal for now: implicit anonymous
 * memory, demand-zero with the shared zero frame, explicit mmap/munmap/
 * mprotect when a trace carries them. Copy-on-write fork, sharing,
 * replacement and swap build on this file's fault handler. */
#ifndef VMSIM_OS_KERNEL_H
#define VMSIM_OS_KERNEL_H

#include <stdbool.h>

#include "pt/pt.h"

struct vmsim;

struct vma {
    vmsim_vaddr_t start, end; /* [start, end), page aligned */
    uint8_t prot;             /* VMSIM_PROT_* */
};

struct process {
    vmsim_pid_t pid;
    vmsim_asid_t asid;
    uint64_t asid_gen; /* asid is valid while this equals the kernel's */
    struct pt *pt;
    struct vma *vma;   /* sorted, disjoint */
    size_t nvma;
    struct process *hnext;
};

struct kernel {
    const struct pt_ops *ops;
    struct process **bucket; /* pid hash, chained */
    size_t nbucket;
    vmsim_pfn_t zero[VMSIM_MAX_LEVELS + 1]; /* shared zero frame per leaf level */
    unsigned zero_have;                     /* bit k: zero[k] allocated */
    unsigned asid_next;
    uint64_t asid_gen;
    unsigned anon_level; /* leaf level of implicit anonymous pages */
};

int kernel_init(struct vmsim *sim);
void kernel_fini(struct vmsim *sim);
/* The process pid; created (with an empty address space) when create is set
 * and it does not exist. NULL when absent, or on failure with *err set. */
struct process *kernel_process(struct vmsim *sim, vmsim_pid_t pid, bool create, int *err);
int kernel_exit(struct vmsim *sim, vmsim_pid_t pid);
int kernel_mmap(struct vmsim *sim, vmsim_pid_t pid, vmsim_vaddr_t va, uint64_t len, unsigned prot);
int kernel_munmap(struct vmsim *sim, vmsim_pid_t pid, vmsim_vaddr_t va, uint64_t len);
int kernel_mprotect(struct vmsim *sim, vmsim_pid_t pid, vmsim_vaddr_t va, uint64_t len,
                    unsigned prot);
/* Handle a fault of process p at va for an access of `kind` (vmsim_access_kind)
 * after walk w. Sets *fixed when the access may be retried. Counts the fault
 * by kind. Returns 0 or a negative code for a real (host) failure. */
int kernel_fault(struct vmsim *sim, struct process *p, vmsim_vaddr_t va, unsigned kind,
                 const struct walk *w, bool *fixed);
/* Give p a valid ASID (new generation after a rollover flushes all TLBs). */
void kernel_asid(struct vmsim *sim, struct process *p);

#endif
