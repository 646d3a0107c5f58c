/* TLB hierarchies and page-walk caches of one CPU.
 *
 * A TLB level is one or more set-associative arrays probed together, each
 * serving a set of page sizes; a lookup probes, for every size an array
 * serves, the set the page's tag indexes. Entries are tagged by ASID and
 * page size: key = tag << 18 | asid << 6 | page_shift (never 0, since a
 * page shift is at least 10). The value is the leaf entry (pt.h encoding).
 *
 * Page-walk caches hold upper-level entries: split (one cache per level k,
 * Intel's paging-structure caches) or unified (one cache for all levels).
 * A level-k entry is tagged by the address bits that index levels k and
 * above, plus the ASID: key = (va >> shift(k)) << 16 | asid << 4 | k, and
 * holds the host pointer of the level k-1 table it points to. */
#ifndef VMSIM_TLB_TLB_H
#define VMSIM_TLB_TLB_H

#include "tlb/sacache.h"

struct tlb_array {
    struct sac c;
};

/* One (array, page size) pair a lookup probes. live counts the valid
 * entries of that size in that array, so sizes holding nothing are not
 * probed (most runs use one page size). */
struct tlb_probe {
    struct sac *c;
    uint32_t live;
    uint8_t shift;
};

struct tlb_level {
    struct tlb_array arr[VMSIM_MAX_TLB_ARRAYS];
    unsigned narr;
    unsigned latency;
    uint64_t shifts; /* page sizes served: bit s for 2^s bytes */
    struct tlb_probe probe[16];
    unsigned nprobe;
    uint32_t live_mask; /* bit i: probe[i].live > 0 */
    int8_t probe_of[64]; /* page shift -> its probe, -1 when not served */
};

#define TLB_KEY(tag, asid, shift) (((tag) << 18) | ((uint64_t)(asid) << 6) | (shift))

int tlb_level_init(struct tlb_level *l, const struct vmsim_tlb_level_config *cfg);
void tlb_level_fini(struct tlb_level *l);
void tlb_level_flush(struct tlb_level *l);
/* Set bits in the entry of every valid slot (a permission taken away from
 * what the level caches, without dropping it). */
void tlb_level_set_bits(struct tlb_level *l, uint64_t bits);
/* Bytes the level's valid entries map (its reach, as it stands). */
uint64_t tlb_level_reach(const struct tlb_level *l);
/* Remove every entry whose page contains va (any size). */
void tlb_level_invalidate(struct tlb_level *l, vmsim_vaddr_t va, vmsim_asid_t asid);

/* One entry of probe i left the level. */
static inline void tlb_probe_dec(struct tlb_level *l, unsigned i)
{
    if (--l->probe[i].live == 0)
        l->live_mask &= ~(1u << i);
}

/* Probe level l for the page containing va; returns the slot's value
 * pointer (NULL on a miss) and sets *shift to the page size found. */
static inline uint64_t *tlb_lookup(struct tlb_level *l, vmsim_vaddr_t va, vmsim_asid_t asid,
                                   unsigned *shift, uint64_t now)
{
    for (uint32_t m = l->live_mask; m; m &= m - 1) {
        const struct tlb_probe *p = &l->probe[__builtin_ctz(m)];
        const unsigned s = p->shift;
        const uint64_t tag = va >> s;
        const uint64_t set = tag & p->c->set_mask;
        const long slot = sac_find(p->c, set, TLB_KEY(tag, asid, s));
        if (slot >= 0) {
            sac_touch(p->c, set, slot, now);
            *shift = s;
            return &p->c->val[slot];
        }
    }
    return NULL;
}

/* Fill the page (va, shift), absent from l (its lookup just missed), into
 * the array of l that serves shift; returns false when none does. */
static inline bool tlb_fill(struct tlb_level *l, vmsim_vaddr_t va, vmsim_asid_t asid,
                            unsigned shift, uint64_t val, uint64_t now, struct rng *rng)
{
    const int pi = l->probe_of[shift & 63];
    if (pi < 0)
        return false;
    struct tlb_probe *p = &l->probe[pi];
    const uint64_t tag = va >> shift;
    uint64_t evicted;
    sac_insert_new(p->c, tag & p->c->set_mask, TLB_KEY(tag, asid, shift), val, now, rng, &evicted);
    if ((evicted & 63) == shift) /* a page of the same size left: no count changes */
        return true;
    p->live++;
    l->live_mask |= 1u << pi;
    if (evicted) /* the victim held another size of the same array */
        tlb_probe_dec(l, l->probe_of[evicted & 63]);
    return true;
}

/* ---- page-walk caches ---- */

/* One page-walk cache to probe: the cache of level-k entries, tagged by
 * va >> shift (the bits that index levels k and above). */
struct pwc_probe {
    struct sac *c;
    uint8_t k;
    uint8_t shift;
};

struct pwc {
    bool unified;
    struct sac level[VMSIM_MAX_LEVELS + 1]; /* split: index = level k */
    struct sac all;                         /* unified */
    unsigned latency;
    struct pwc_probe probe[VMSIM_MAX_LEVELS]; /* deepest level first */
    unsigned nprobe;                          /* 0: no page-walk caches */
};

#define PWC_KEY(tag, asid, k) (((tag) << 16) | ((uint64_t)(asid) << 4) | (k))

/* shift[k] is the page shift of a leaf at level k of the geometry. */
int pwc_init(struct pwc *p, const struct vmsim_pwc_config *cfg, unsigned levels,
             const unsigned *shift);
void pwc_fini(struct pwc *p);
void pwc_flush(struct pwc *p);

#endif
