/* Combining statistics: the figures of several parts of a machine into
 * the machine's, each statistic by the rule VMSIM_STATS gives it (enum
 * vmsim_combine): the counters of a VM's CPUs, kernel and hypervisor into
 * the VM's (stats_merge), and the VMs into the machine's (stats_combine).
 * This is the only place that combines, so a total can never add what should be the largest, and a
 * new statistic cannot be left without a rule: the column is part of the
 * X-macro. docs/stats.md ("Combining") states each rule and why. */
#include "machine/machine.h"

const char *const vmsim_combine_names[] = {"sum", "max", "same", "first", NULL};

static inline uint64_t combine(enum vmsim_combine rule, uint64_t acc, uint64_t part)
{
    switch (rule) {
    case VMSIM_COMBINE_SUM:
        return acc + part;
    case VMSIM_COMBINE_MAX:
        return part > acc ? part : acc;
    case VMSIM_COMBINE_SAME:
    case VMSIM_COMBINE_FIRST:
        break;
    }
    return acc;
}

/* One value of a part into the total. Within a VM a SAME or FIRST
 * statistic has one producer: the part with a value gives it. Across VMs
 * the first VM's stays. */
static inline uint64_t fold1(enum vmsim_combine rule, uint64_t acc, uint64_t part, bool within)
{
    if (within && (rule == VMSIM_COMBINE_SAME || rule == VMSIM_COMBINE_FIRST))
        return acc ? acc : part;
    return combine(rule, acc, part);
}

static void fold(struct vmsim_stats *acc, const struct vmsim_stats *part, unsigned ntlb,
                 bool within)
{
#define FOLD(f, n, r, d) acc->f = fold1(VMSIM_COMBINE_##r, acc->f, part->f, within);
    VMSIM_STATS(FOLD)
#undef FOLD
    for (unsigned l = 0; l < ntlb && l < VMSIM_MAX_TLB_LEVELS; l++) {
        acc->tlb[l].hits = fold1(VMSIM_COMBINE_SUM, acc->tlb[l].hits, part->tlb[l].hits, within);
        acc->tlb[l].misses =
            fold1(VMSIM_COMBINE_SUM, acc->tlb[l].misses, part->tlb[l].misses, within);
        acc->tlb[l].reach = fold1(VMSIM_COMBINE_MAX, acc->tlb[l].reach, part->tlb[l].reach, within);
    }
    for (unsigned k = 0; k < VMSIM_MAX_LEVELS + 2; k++)
        acc->walk_hist[k] = fold1(VMSIM_COMBINE_SUM, acc->walk_hist[k], part->walk_hist[k], within);
    for (unsigned k = 0; k < VMSIM_WALK_LAT_BUCKETS; k++)
        acc->walk_lat_hist[k] =
            fold1(VMSIM_COMBINE_SUM, acc->walk_lat_hist[k], part->walk_lat_hist[k], within);
    for (unsigned k = 0; k < VMSIM_BUDDY_ORDERS; k++) {
        acc->buddy_free[k] = fold1(VMSIM_COMBINE_SUM, acc->buddy_free[k], part->buddy_free[k], within);
        acc->buddy_fail[k] = fold1(VMSIM_COMBINE_SUM, acc->buddy_fail[k], part->buddy_fail[k], within);
    }
    for (unsigned j = 0; j < VMSIM_MAX_CACHE_LEVELS; j++) {
        struct vmsim_cache_stats *a = &acc->cache[j];
        const struct vmsim_cache_stats *p = &part->cache[j];
        a->hits = fold1(VMSIM_COMBINE_SUM, a->hits, p->hits, within);
        a->misses = fold1(VMSIM_COMBINE_SUM, a->misses, p->misses, within);
        a->pt_hits = fold1(VMSIM_COMBINE_SUM, a->pt_hits, p->pt_hits, within);
        a->pt_misses = fold1(VMSIM_COMBINE_SUM, a->pt_misses, p->pt_misses, within);
        a->data_misses_pt = fold1(VMSIM_COMBINE_SUM, a->data_misses_pt, p->data_misses_pt, within);
        /* SAME: the caches every VM shares, read off the hardware */
        a->lines = fold1(VMSIM_COMBINE_SAME, a->lines, p->lines, within);
        a->pt_lines = fold1(VMSIM_COMBINE_SAME, a->pt_lines, p->pt_lines, within);
    }
    const uint64_t *ps = &part->share.tables;
    uint64_t *as = &acc->share.tables;
    for (size_t i = 0; i < sizeof acc->share / sizeof *as; i++)
        as[i] = fold1(VMSIM_COMBINE_SUM, as[i], ps[i], within);
    const uint64_t *pk = &part->khugepaged.scans;
    uint64_t *ak = &acc->khugepaged.scans;
    for (size_t i = 0; i < sizeof acc->khugepaged / sizeof *ak; i++)
        ak[i] = fold1(VMSIM_COMBINE_SUM, ak[i], pk[i], within);
    const uint64_t *pc = &part->compact.runs;
    uint64_t *ac = &acc->compact.runs;
    for (size_t i = 0; i < sizeof acc->compact / sizeof *ac; i++)
        ac[i] = fold1(VMSIM_COMBINE_SUM, ac[i], pc[i], within);
    /* FIRST: the hypervisor's within a VM; VM 1's (the one migrated) across */
    for (unsigned r = 0; r < VMSIM_MIGRATE_ROUNDS; r++)
        acc->mig_round_pages[r] =
            fold1(VMSIM_COMBINE_FIRST, acc->mig_round_pages[r], part->mig_round_pages[r], within);
}

void stats_merge(struct vmsim_stats *acc, const struct vmsim_stats *part, unsigned ntlb)
{
    fold(acc, part, ntlb, true);
}

void stats_combine(struct vmsim_stats *acc, const struct vmsim_stats *part, unsigned ntlb)
{
    fold(acc, part, ntlb, false);
}

double vmsim_buddy_unusable(const struct vmsim_stats *st, unsigned order)
{
    uint64_t free_frames = 0, usable = 0;
    for (unsigned k = 0; k <= st->buddy_max_order && k < VMSIM_BUDDY_ORDERS; k++) {
        free_frames += st->buddy_free[k] << k;
        if (k >= order)
            usable += st->buddy_free[k] << k;
    }
    return free_frames ? (double)(free_frames - usable) / (double)free_frames : 0.0;
}

double vmsim_thp_coverage(const struct vmsim_stats *st)
{
    const struct vmsim_compact_stats *c = &st->compact;
    return c->anon_bytes ? (double)c->anon_huge_bytes / (double)c->anon_bytes : 0.0;
}
