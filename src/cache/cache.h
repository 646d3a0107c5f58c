/* The data caches and DRAM (docs/caches.md): what a page-table reference,
 * a load, a store or an instruction fetch costs once it has a physical
 * address. The hardware layer, a peer of src/tlb: it includes nothing
 * above src/util and the public headers.
 *
 * One struct memsys per machine, owned by its first VM: the private levels
 * of each CPU, the shared last
 * level and the DRAM banks. Every array is set-associative with exact LRU
 * over its own references (a per-array clock); a reference looks up the
 * levels of its side in order and fills every level that missed
 * (non-inclusive, non-exclusive). */
#ifndef VMSIM_CACHE_CACHE_H
#define VMSIM_CACHE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pt/pt.h"
#include "vmsim/vmsim.h"

/* One array: a level of one CPU, or the shared level. */
struct cache_array {
    uint64_t *tag;       /* [sets * ways]: line number + 1; 0: empty way */
    uint64_t *stamp;     /* last use (LRU); 0: empty */
    uint8_t *pt;         /* 1: the line was filled by a walk reference */
    uint64_t *ghost;     /* [sets * ways]: data lines (+ 1) walk fills evicted, a ring per set */
    uint32_t *ghost_pos; /* [sets]: the ring's next slot */
    uint32_t sets, ways;
    unsigned line_shift;
    bool pow2;           /* sets is a power of two: the set is a mask away */
    uint64_t now;        /* the array's LRU clock */
    uint64_t last;       /* the key referenced last (0: none): it holds the newest stamp of
                            the array, so of its set, and a hit on it again needs none */
    uint64_t lines, pt_lines; /* valid lines, and of them PT lines */
};

struct memsys {
    const struct vmsim_memory_config *cfg;
    unsigned ncpus;
    unsigned nlev;
    struct cache_array **arr;  /* [ncpus * nlev]: level j of CPU c at c * nlev + j (a
                                  shared level: the same array for every CPU) */
    struct cache_array *shared; /* the shared level's array, or NULL */
    unsigned path[2][VMSIM_MAX_CACHE_LEVELS]; /* levels each side looks up (0: d, 1: i) */
    unsigned npath[2];
    unsigned min_line_shift;   /* references are split at these boundaries */
    unsigned row_shift;        /* log2 of a DRAM row's bytes (row model) */
    uint64_t *open_row;        /* [banks]: row number + 1; 0: none open */
};

enum { MEM_SIDE_D = 0, MEM_SIDE_I = 1 };

/* Parse a cache spec (docs/caches.md) into *mem: "none" clears it. Preset
 * names are resolved above (vmsim_cache_parse, machine/presets.c). */
int cache_spec_parse(const char *spec, struct vmsim_memory_config *mem, char *why, size_t whylen);

/* Set up the hierarchy of cfg (cfg->dram != 0) for ncpus CPUs. */
int memsys_init(struct memsys *ms, const struct vmsim_memory_config *cfg, unsigned ncpus);
void memsys_fini(struct memsys *ms);

/* One reference of CPU cpu, side MEM_SIDE_*, at physical address a, by a
 * walk (pt) or the program: counts it in st (caches[], memory.*) and
 * returns its cycles. */
uint64_t memsys_ref(struct memsys *ms, unsigned cpu, unsigned side, uint64_t a, bool pt,
                   struct vmsim_stats *st);

/* The references of walk w (addresses or-ed with tag), each by
 * memsys_ref; a reference beyond the first WALK_MAX_REFS (a degenerate
 * chain, not recorded) costs a DRAM latency, uncounted. */
uint64_t memsys_walk(struct memsys *ms, unsigned cpu, const struct walk *w, uint64_t tag,
                     struct vmsim_stats *st);

/* Valid lines of level j at the end, over all CPUs' copies, and of them
 * the PT lines. */
void memsys_lines(const struct memsys *ms, unsigned j, uint64_t *lines, uint64_t *pt_lines);

#endif
