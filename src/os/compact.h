/* Compaction (compact.c): making a free block of 2^order frames by
 * migrating the movable pages out of one aligned block, as Linux's
 * mm/compaction.c does for a huge-page allocation that failed. The fault
 * handler calls it (cfg.compact); a khugepaged-style collapse may too. */
#ifndef VMSIM_OS_COMPACT_H
#define VMSIM_OS_COMPACT_H

struct kernel;
struct vmsim_stats;

/* Empty one aligned block of 2^order frames (docs/kernel.md,
 * "Compaction", says which): 0 when a free block of that order now
 * exists (the caller allocates it), VMSIM_ENOFRAME when none could be
 * made (counted as compact.fail), VMSIM_ENOMEM when the host ran out.
 * Counted in stats.compact whatever the outcome. */
int compact_for_order(struct kernel *k, unsigned order);

/* Fill the gauges stats.compact.anon_bytes and anon_huge_bytes (the
 * huge-page coverage of resident anonymous memory). */
void compact_gauges(const struct kernel *k, struct vmsim_stats *out);

#endif
