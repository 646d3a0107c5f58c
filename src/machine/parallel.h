/* Simulated CPUs on host threads (--threads N, docs/concurrency.md): the
 * machine's parallel runs. Between two barriers (any event but an access a
 * CPU can make in the address space it runs), CPU c's accesses run on
 * thread c mod N, in trace order per CPU; faults follow seed 003's
 * protocol (par_fault) and shootdowns are IPIs the other threads
 * acknowledge. Part of the machine layer: it composes the MMU and the
 * kernel as machine.c does. */
#ifndef VMSIM_MACHINE_PARALLEL_H
#define VMSIM_MACHINE_PARALLEL_H

#include "machine/machine.h"

struct par;

/* The threads of sim (cfg.threads > 1), started here; joined by par_destroy. */
int par_create(struct vmsim *sim, struct par **out);
void par_destroy(struct par *p);
/* Run ev[0, n), accesses each CPU can make as it is (no switch), on the
 * threads; returns when all are done, with the first host failure. */
int par_phase(struct par *p, const struct vmsim_event *ev, size_t n);
/* Is the calling thread running a phase's accesses? (The exception
 * vector's handlers then take the parallel paths below.) */
bool par_inside(void);
/* The vector's fault and touch handlers inside a phase. */
int par_fault(struct vmsim *sim, struct process *p, vmsim_vaddr_t va, unsigned kind,
              const struct walk *w, bool *fixed);
void par_touch(struct vmsim *sim, struct process *p, vmsim_vaddr_t va, unsigned kind,
               unsigned shift, uint64_t pte);

#endif
