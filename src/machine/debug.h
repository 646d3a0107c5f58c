/* The machine's entry points that are not public API: building page tables
 * directly (the /proc snapshot import, src/trace/snapshot.c) and test
 * hooks. Library-internal: not installed, not exported by libvmsim.so
 * (cmake/libvmsim.map); tests include it from src/. They keep the vmsim_
 * prefix because they are the machine's (src/machine/machine.c). */
#ifndef VMSIM_MACHINE_DEBUG_H
#define VMSIM_MACHINE_DEBUG_H

#include "vmsim/vmsim.h"

/* For tests of enclave isolation: a hypervisor that maps one VM's memory
 * into another (as page sharing or an attack would) makes the host frame
 * behind other_pid's page at other_va the one behind victim_pid's page at
 * victim_va, and drops every cached translation. Both pages must be mapped
 * and backed base pages. VMSIM_ENOENT otherwise. */
int vmsim_debug_alias_host(struct vmsim *sim, vmsim_pid_t victim_pid, vmsim_vaddr_t victim_va,
                           vmsim_pid_t other_pid, vmsim_vaddr_t other_va);

/* For tests of --verify: change the contents of the page at va of pid
 * behind the model's back (in its frame, or in swap). */
int vmsim_debug_corrupt(struct vmsim *sim, vmsim_pid_t pid, vmsim_vaddr_t va);

/* ---- building page tables directly (snapshots, tests) --------------------- */

/* Map one page of 2^page_shift bytes at va in process pid (created on first
 * use) to a fresh frame, writable; page_shift must be a leaf size of the
 * machine (vmsim_leaf_levels). Used by `vmsim snapshot` to rebuild a real process's tables. */
int vmsim_map_page(struct vmsim *sim, vmsim_pid_t pid, vmsim_vaddr_t va, unsigned page_shift);
/* The levels (bit k for level k) at which this machine maps leaves: the
 * geometry's leaf levels, or level 1 alone when the page-table organization
 * holds base pages only (inverted, flat). */
unsigned vmsim_leaf_levels(const struct vmsim *sim);
/* Account one extra page-table page for process pid at level 1 without
 * mapping anything: Linux deposits one for each PMD-mapped huge page. */
int vmsim_deposit_table(struct vmsim *sim, vmsim_pid_t pid);

#endif
