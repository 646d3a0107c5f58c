/* The whole-pipeline reference model: an independent, deliberately slow
 * re-statement of what vmsim computes for a radix machine with plenty of
 * memory (or a bounded one, for compaction), written from docs/ and DESIGN.md, sharing no code with src/.
 * refmodel.c opens with every rule it implements. */
#ifndef VMSIM_TESTS_REFMODEL_H
#define VMSIM_TESTS_REFMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmsim/event.h"

#define REF_MAX_TLB 8
#define REF_MAX_ARR 4
#define REF_MAX_CPUS 8
#define REF_MAX_LEVELS 5
#define REF_MAX_CACHES 6
#define REF_LAT_BUCKETS 20

/* A machine, described as plain data (not as vmsim's config): the suite
 * prints the spec strings vmsim parses from it, so a parser bug shows as a
 * mismatch. */
struct ref_array {
    uint32_t entries, ways;
    uint64_t sizes; /* bit s: serves pages of 2^s bytes */
};

struct ref_level {
    char name[16];
    char side;         /* 'u', 'd' or 'i' */
    int latency;       /* -1: the documented default */
    bool random;       /* random replacement (:random), else LRU */
    unsigned narr;
    struct ref_array arr[REF_MAX_ARR];
};

enum { REF_PWC_NONE = 0, REF_PWC_SPLIT = 1, REF_PWC_UNIFIED = 2 };

/* A data-cache level (docs/caches.md). */
struct ref_cache {
    char name[24];
    char side;   /* 'u', 'd' or 'i' */
    bool shared; /* one array for all CPUs (the last level) */
    uint32_t sets, ways, line, latency;
};

struct ref_machine {
    unsigned ntlb;
    struct ref_level tlb[REF_MAX_TLB];
    int pwc_mode;
    uint32_t pwc_entries[REF_MAX_LEVELS + 1], pwc_ways[REF_MAX_LEVELS + 1]; /* split, index = level */
    uint32_t pwc_uentries, pwc_uways;                                        /* unified */
    unsigned pwc_latency;
    unsigned cost_access, cost_pt_ref, cost_fault;
    unsigned levels; /* radix levels: 4 (48-bit) or 5 (57-bit), 9 bits each, 4 KiB pages */
    unsigned ncpus;
    uint64_t seed; /* --seed of random TLB replacement; 0: the default, 1 */
    bool asids;
    bool huge; /* --page-size 2m with --thp madvise: 2 MiB pages where advised `hugepage` */
    bool thp_always; /* with huge: --thp always, 2 MiB pages in implicit memory and every VMA too */
    /* khugepaged (with huge; docs/kernel.md "khugepaged"): a scan every khp_every accesses
     * (0: off), its progress khp_pages, the limits none, swap, shared, the cycles per page
     * a collapse writes; --khugepaged every=,pages=,max_ptes_none=,max_ptes_swap=,
     * max_ptes_shared=,copy= */
    uint64_t khp_every;
    uint32_t khp_pages, khp_none, khp_swap, khp_shared, khp_copy;
    /* Bounded memory (--memory mem_frames x 4 KiB, --replace none; 0: plenty) and
     * compaction (--compact on, with huge; docs/kernel.md "Compaction"). A stream
     * that runs a base-page allocation out of memory, or a copy-on-write of a huge
     * page that finds no block even after compaction (a split), is a test bug. */
    uint64_t mem_frames;
    bool compact;
    /* The memory model (--cache): dram 0 means none, walk references cost pt_ref. */
    unsigned ncache;
    struct ref_cache cache[REF_MAX_CACHES];
    unsigned dram;
    unsigned row_banks, row_bytes, row_hit; /* the row-buffer model; row_hit 0: off */
    bool data;                              /* the program's references go through the caches */
    /* Deliberate model errors, for testing the shrinker (never set in the suite). */
    bool inject_no_lru_refresh; /* first-level hits do not refresh LRU (issue 11's bug) */
    bool inject_cache_no_refresh; /* data-cache hits do not refresh LRU */
};

/* Every statistic the model produces, with vmsim's meanings (docs/stats.md). */
struct ref_stats {
    uint64_t events, accesses, translations, translations_huge;
    uint64_t tlb_hits[REF_MAX_TLB], tlb_misses[REF_MAX_TLB], tlb_reach[REF_MAX_TLB];
    uint64_t misses_all, walks, walk_refs, walk_hist[REF_MAX_LEVELS + 3];
    uint64_t pwc_hits, pwc_misses, pwc_skipped;
    uint64_t faults_total, zero_read, zero_write, cow_zero, cow_copy, cow_reuse, bad_address;
    uint64_t protection;
    uint64_t thp_fallbacks, thp_promotions;
    uint64_t khp_scans, khp_scanned, khp_full, khp_collapses, khp_fail_none, khp_fail_shared,
        khp_copied, khp_cycles, khp_fail_alloc;
    uint64_t cmp_runs, cmp_success, cmp_fail, cmp_moved, cmp_rmap, cmp_shootdowns, cmp_cycles;
    uint64_t anon_bytes, anon_huge_bytes; /* thp.anon_bytes, thp.anon_huge_bytes at the end */
    uint64_t tlb_flushes, invalidations, ipis, context_switches, forks, processes;
    uint64_t cycles, cycles_translation;
    uint64_t tables[REF_MAX_LEVELS + 1]; /* live tables per level at the end, roots at [levels] */
    uint64_t walk_cycles, walk_lat_hist[REF_LAT_BUCKETS];
    uint64_t c_hits[REF_MAX_CACHES], c_misses[REF_MAX_CACHES], c_pt_hits[REF_MAX_CACHES],
        c_pt_misses[REF_MAX_CACHES], c_data_misses_pt[REF_MAX_CACHES], c_lines[REF_MAX_CACHES],
        c_pt_lines[REF_MAX_CACHES];
    uint64_t dram_refs, dram_walk_refs, dram_row_hits;
};

struct ref;

/* NULL when the host is out of memory. */
struct ref *ref_create(const struct ref_machine *m);
void ref_destroy(struct ref *r);
/* Consume one event. Events the model does not know (VM, mprotect, file or
 * shared mappings) are a test bug: returns -1. */
int ref_event(struct ref *r, const struct vmsim_event *ev);
/* Frames free now in a bounded memory (listed, or never used below the
 * bound): for a generator that steers a stream to the edge of compaction's
 * room. */
uint64_t ref_free_frames(const struct ref *r);
/* The statistics so far (reach and tables computed now). */
void ref_stats(struct ref *r, struct ref_stats *out);

/* Every statistic of *s, by its JSON name in docs/stats.md
 * ("tlb.NAME.hits", "walks.refs_histogram[2]", "page_tables.tables_by_level[0]"
 * root first...), including those the model knows are 0 here (protection,
 * swap, page cache...). */
void ref_stat_fields(const struct ref_machine *m, const struct ref_stats *s,
                     void (*fn)(void *ctx, const char *name, uint64_t v), void *ctx);

/* A small valgrind lackey reader (docs/traces.md "valgrind lackey"), of its
 * own: one access event per record, pid 1, CPU 0. Returns the number of
 * events put in *out (malloc'd), or -1. */
long ref_read_lackey(const char *path, struct vmsim_event **out);

#endif
