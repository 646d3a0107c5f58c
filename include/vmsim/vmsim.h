/* libvmsim: the public API of the simulator.
 *
 * A struct vmsim is one simulated machine: physical memory, CPUs with TLB
 * hierarchies and page-walk caches, one page-table organization, and a
 * minimal kernel. Configure it with plain-data config structs (defaults from
 * vmsim_config_default), feed it batches of events, read its counters.
 * Several simulators may run side by side: there is no global state. */
#ifndef VMSIM_VMSIM_H
#define VMSIM_VMSIM_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "vmsim/event.h"
#include "vmsim/types.h"
#include "vmsim/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- page-table geometry ------------------------------------------------ */

/* A radix geometry. Levels are numbered from the leaf: level 1 holds entries
 * that map base pages, level `levels` is the root. bits[] is listed root
 * first. A leaf at level k maps a page of 2^(page_shift + sum of bits of
 * levels below k) bytes; leaf_levels has bit k set when level k may hold
 * leaves (bit 1 is always set). */
struct vmsim_geometry {
    char name[VMSIM_NAME_MAX];
    uint8_t va_bits;    /* translated virtual-address width, at most 57 */
    uint8_t page_shift; /* log2 of the base page size */
    uint8_t levels;
    uint8_t pte_bytes;  /* size of one entry: 4 or 8 */
    uint8_t bits[VMSIM_MAX_LEVELS]; /* index bits per level, root first */
    uint8_t leaf_levels;            /* bit k: level k may hold a leaf */
};

/* Fill *g from a preset name ("x86-64", "x86-64-5l", "sv39", ...). */
int vmsim_geometry_preset(const char *name, struct vmsim_geometry *g);
/* Parse "va=48,page=4k,bits=9+9+9+9,pte=8,leaves=1+2+3" (custom geometry). */
int vmsim_geometry_parse(const char *spec, struct vmsim_geometry *g, char *why, size_t whylen);
int vmsim_geometry_check(const struct vmsim_geometry *g, char *why, size_t whylen);
/* The names of the geometry presets, NULL-terminated, and a line on each. */
extern const char *const vmsim_geometry_names[];
extern const char *const vmsim_geometry_help[];
/* log2 of the size of a page whose leaf sits at `level`. */
unsigned vmsim_geometry_page_shift(const struct vmsim_geometry *g, unsigned level);

/* ---- TLBs and page-walk caches ----------------------------------------- */

enum vmsim_tlb_side { VMSIM_SIDE_UNIFIED = 0, VMSIM_SIDE_DATA = 1, VMSIM_SIDE_INSN = 2 };
enum vmsim_repl { VMSIM_REPL_LRU = 0, VMSIM_REPL_RANDOM = 1 };

struct vmsim_tlb_array_config {
    uint32_t entries;
    uint32_t ways;         /* ways == entries: fully associative */
    uint64_t page_shifts;  /* bit s set: serves pages of 2^s bytes */
};

/* One TLB level: one or more arrays probed together (e.g. separate arrays
 * for 4 KiB and 2 MiB pages), counted as one lookup. */
struct vmsim_tlb_level_config {
    char name[VMSIM_NAME_MAX];
    uint8_t side;     /* enum vmsim_tlb_side */
    uint8_t repl;     /* enum vmsim_repl */
    uint8_t narrays;
    uint32_t latency; /* cycles charged for a lookup of this level */
    struct vmsim_tlb_array_config array[VMSIM_MAX_TLB_ARRAYS];
};

struct vmsim_cache_config {
    uint32_t entries; /* 0: none */
    uint32_t ways;
};

/* Page-walk caches. Split (Intel paging-structure caches): cache[k] holds
 * entries of level k that point to a table of level k-1, tagged by the
 * virtual-address bits that index levels k and above. Unified: one cache
 * that holds such entries of any level. */
struct vmsim_pwc_config {
    bool unified_mode;
    struct vmsim_cache_config level[VMSIM_MAX_LEVELS + 1]; /* index = level */
    struct vmsim_cache_config unified;
    uint32_t latency; /* cycles per page-walk-cache probe round */
};

/* The cost model, in cycles. Documented in docs/cost-model.md. */
struct vmsim_cost_config {
    uint32_t access;  /* the memory access itself, once per access */
    uint32_t pt_ref;  /* one page-table memory reference during a walk */
    uint32_t fault;   /* one page fault handled by the kernel */
    uint32_t io;      /* one page read or written: swap device or file */
    uint32_t trap;    /* software walks: the trap into the miss handler and back */
    uint32_t sw_ref;  /* software walks: handler instructions per reference */
    uint32_t vmexit;  /* nested paging: one exit to the hypervisor and back (EPT violation) */
};

/* Data caches and memory (docs/caches.md): levels looked up in order by
 * the references of their side, each sets x ways x line bytes with LRU
 * replacement, private to each CPU or (the last level only) shared by all;
 * non-inclusive and non-exclusive (a miss fills every level it looked up,
 * an eviction touches no other level). A reference no level holds is served
 * by DRAM. With a memory configured (dram != 0) page-table references cost
 * the latency of the level that served them instead of pt_ref. */
#define VMSIM_MAX_CACHE_LEVELS 6
struct vmsim_cache_level_config {
    char name[VMSIM_NAME_MAX];
    uint32_t sets;    /* any number: the set is the line number modulo sets */
    uint32_t ways;
    uint32_t line;    /* bytes, a power of two from 8 to 4096 */
    uint32_t latency; /* cycles of a reference this level serves (load to use) */
    uint8_t side;     /* enum vmsim_tlb_side: d (walks, loads, stores), i (fetches), u */
    bool shared;      /* one array for all CPUs: the last level only, unified */
};

struct vmsim_memory_config {
    uint32_t ncaches;
    struct vmsim_cache_level_config cache[VMSIM_MAX_CACHE_LEVELS];
    uint32_t dram;         /* cycles of a reference DRAM serves (a row miss under the row
                              model); 0: no memory model, walks cost pt_ref */
    uint32_t dram_row_hit; /* open-page row-buffer model: cycles of a reference to the row
                              its bank has open; 0: off */
    uint32_t dram_banks;   /* row model: banks (bank = row number modulo banks) */
    uint32_t dram_row;     /* row model: bytes of a row, a power of two */
    bool data;             /* the program's accesses and fetches go through the caches too
                              (they compete with page-table lines), costing the latency of
                              the level that served them instead of `access` */
};

/* Live migration of the guest by pre-copy (docs/virtualization.md): the
 * first round sends all guest memory the host backs while the guest runs;
 * pages written meanwhile (caught by write protection in the nested table)
 * are sent again in the next round, until they fit in the downtime or the
 * rounds run out; then the guest stops and the rest is copied. */
struct vmsim_migrate_config {
    uint64_t at;          /* start after this many accesses; 0: no migration */
    uint64_t link_bytes;  /* bandwidth of the link, bytes per second */
    uint64_t clock_hz;    /* cycles of the cost model per second of the guest */
    uint64_t downtime_ns; /* stop and copy once the dirty pages take no longer */
    uint32_t max_rounds;  /* pre-copy rounds at most (the first included) */
};
#define VMSIM_MIGRATE_ROUNDS 64 /* rounds whose pages the statistics list */

/* Nested paging (docs/virtualization.md): the machine is a guest whose
 * physical memory the hypervisor maps to host memory through a nested
 * page table of its own organization and geometry, filled on demand. Every
 * guest page-table reference and the final guest-physical address of a
 * walk are translated through it: the 2D walk. */
struct vmsim_nested_config {
    bool on;
    /* Shadow paging instead: the hardware walks shadow tables (guest-virtual
     * -> host-physical, one per guest process, the guest tables' shape), so
     * a walk is 1D; every guest page-table write and address-space switch
     * traps to the hypervisor (a VM exit) to keep them in sync. */
    bool shadow;
    char pt[96];                 /* the nested table's organization, "radix" */
    struct vmsim_geometry geom;  /* the nested table's geometry */
    uint64_t mem_bytes;          /* host memory; 0: twice the guest's memory */
    uint8_t page_shift;          /* host pages backing guest memory; 0: the base page */
    struct vmsim_cache_config tlb; /* nested TLB (guest-physical page -> host page); 0: none */
    uint32_t tlb_latency;        /* cycles per nested-TLB lookup */
    struct vmsim_pwc_config pwc; /* page-walk caches of the host dimension */
    struct vmsim_migrate_config migrate;
    /* An enclave (docs/virtualization.md): the guest process enclave_pid's
     * private pages are enclave memory, translated by one more table the
     * processor owns (host-physical -> machine-physical, enclave_levels
     * levels) and refused to every other reader. 0: no enclave. */
    uint32_t enclave_pid;
    uint8_t enclave_levels;
};

/* Page replacement when simulated memory is full (docs/kernel.md). */
enum vmsim_replace {
    VMSIM_REPLACE_CLOCK = 0, /* second chance: a referenced page gets another round */
    VMSIM_REPLACE_FIFO = 1,  /* the page resident longest */
    VMSIM_REPLACE_LRU = 2,   /* the page referenced longest ago (exact) */
    VMSIM_REPLACE_RANDOM = 3,
    VMSIM_REPLACE_OPT = 4,   /* Belady: the page used furthest in the future (vmsim_plan) */
    VMSIM_REPLACE_NONE = 5,  /* never evict: a full memory is out of memory */
};
extern const char *const vmsim_replace_names[]; /* by enum value, NULL-terminated */
extern const char *const vmsim_pt_names[];      /* page-table organizations, NULL-terminated */

/* Where anonymous memory gets pages of anon_page_shift (when that is above
 * the base page), as Linux's transparent huge pages (docs/kernel.md). */
enum vmsim_thp {
    VMSIM_THP_ALWAYS = 0,  /* every aligned block inside one private anonymous region */
    VMSIM_THP_MADVISE = 1, /* only where the trace advised MADV_HUGEPAGE */
    VMSIM_THP_NEVER = 2,
};
extern const char *const vmsim_thp_names[]; /* by enum value, NULL-terminated */

/* khugepaged (docs/kernel.md, "khugepaged"): a scan every `every` accesses
 * of a VM visits up to `pages` base-page entries of the blocks of
 * THP-eligible memory, resuming where the last one stopped, and collapses
 * a block into one huge page when at most max_ptes_none of its entries are
 * empty (or map the zero frame), at most max_ptes_swap are swapped out
 * (read back into the huge page; with any, half the present pages must
 * have been referenced) and at most max_ptes_shared map a frame another
 * mapping shares. every 0: off. The other fields, VMSIM_KHP_DEFAULT:
 * Linux's default for a leaf table of N entries (pages 8N, max_ptes_none
 * N - 1, max_ptes_swap N / 8, max_ptes_shared N / 2), copy 500 cycles.
 * vmsim_khugepaged_parse reads "every=N,pages=P,max_ptes_none=K,
 * max_ptes_swap=W,max_ptes_shared=S,copy=C". */
#define VMSIM_KHP_DEFAULT UINT32_MAX
struct vmsim_khugepaged_config {
    uint64_t every;           /* accesses between two scans; 0: no khugepaged */
    uint32_t pages;           /* base-page entries a scan visits (a block is visited whole) */
    uint32_t max_ptes_none;   /* empty or zero-frame entries a collapsed block may have */
    uint32_t max_ptes_shared; /* entries whose frame others map too (copy-on-write after fork) */
    uint32_t max_ptes_swap;   /* swapped-out entries a collapse reads back in */
    uint32_t copy;            /* cycles per base page of a collapsed block written (copy or zero) */
};

/* What a parallel run's page-table updates lock (docs/concurrency.md). In
 * every design walks take no lock; the kernel's own bookkeeping (frame
 * allocator, reverse map, page cache, its counters) is under one kernel
 * lock. */
enum vmsim_locks {
    VMSIM_LOCKS_TABLE = 0,    /* a lock per leaf page table (Linux's split page-table locks) */
    VMSIM_LOCKS_GLOBAL = 1,   /* one lock for every fault, shootdown included */
    VMSIM_LOCKS_SEQCOUNT = 2, /* per-table locks, and walks checked by a sequence count */
};
extern const char *const vmsim_locks_names[]; /* by enum value, NULL-terminated */
#define VMSIM_PAGE_HUGE 255 /* anon_page_shift: the geometry's smallest huge page */

/* ---- the machine -------------------------------------------------------- */

struct vmsim_config {
    char machine[VMSIM_NAME_MAX]; /* preset the config came from, for reports */
    char pt[96];                  /* page-table organization: "NAME[:k=v,...]", "radix" */
    struct vmsim_geometry geom;
    uint32_t ntlb;
    struct vmsim_tlb_level_config tlb[VMSIM_MAX_TLB_LEVELS];
    struct vmsim_pwc_config pwc;
    struct vmsim_cost_config cost;
    uint64_t phys_bytes;     /* simulated physical memory */
    uint32_t ncpus;
    bool asids;              /* tag TLB/PWC entries by ASID; else flush on switch */
    uint8_t anon_page_shift; /* page size of anonymous memory; 0 = the base page,
                                VMSIM_PAGE_HUGE = the smallest huge page */
    uint8_t thp;             /* enum vmsim_thp: where that page size is used */
    uint64_t seed;           /* for random replacement and generators */
    uint64_t warmup;         /* access events whose statistics a warm-up excludes: the
                                machine resets them after the warmup-th (vmsim_set_warmup);
                                0: none */
    uint64_t swap_bytes;     /* size of the swap device; 0: no swap; at most 2^32 base
                                pages (vmsim_create: VMSIM_EINVAL) */
    uint8_t replace;         /* enum vmsim_replace */
    bool strict;             /* an access outside every mapping is a segfault */
    bool verify;             /* content stamps checked against a shadow model */
    bool evict_tables;       /* page-table pages may be evicted too (roots stay) */
    bool share_tables;       /* processes mapping the same file block alike share its leaf
                                table, and the level-2 table above a whole level-2 block
                                (radix only; docs/kernel.md, "Shared page-table
                                subtrees"); with evict_tables, shared tables stay in memory */
    bool compact;            /* a huge-page allocation that finds no free block migrates
                                movable pages out of one aligned block to make one
                                (docs/kernel.md, "Compaction"); off by default */
    bool sw_walk;            /* TLB misses trap to a software handler (no page-walk caches) */
    uint32_t handler_frame;  /* kernel stack bytes one fault-handler activation takes */
    uint32_t kernel_stack;   /* kernel stack bytes: what a recursive handler may use */
    /* A virtually indexed, physically tagged L1 data cache, for the synonym
     * check (seed 001): sets and block size in bytes; 0 sets = no check. */
    uint32_t vipt_sets, vipt_block;
    struct vmsim_nested_config nested;
    struct vmsim_memory_config mem; /* data caches and DRAM; mem.dram 0: none */
    /* Host threads that run the CPUs' accesses (docs/concurrency.md): 0 or 1,
     * one after another on the caller's thread (deterministic); N > 1: CPU c
     * on thread c mod N, N <= ncpus. vmsim_threads_refusal says which
     * options a parallel run does not take yet. */
    uint32_t threads;
    uint8_t locks; /* enum vmsim_locks: what a parallel run's faults lock */
    struct vmsim_khugepaged_config khugepaged; /* huge pages only; not with --threads,
                                                  --evict-tables */
};

/* Why cfg cannot run on threads (a sentence naming the option), or NULL
 * when it can (or cfg->threads <= 1). vmsim_create refuses such a config
 * with VMSIM_EINVAL. */
const char *vmsim_threads_refusal(const struct vmsim_config *cfg);

/* The defaults: radix x86-64 4-level, the skylake machine preset (TLBs,
 * paging-structure caches, costs), 256 GiB of memory, 8 CPUs, ASIDs on,
 * base pages for anonymous memory. */
void vmsim_config_default(struct vmsim_config *cfg);
/* Apply a machine preset (CPU TLBs, PWCs, latencies; geometry x86-64). */
int vmsim_config_machine(struct vmsim_config *cfg, const char *preset);
extern const char *const vmsim_machine_names[];
extern const char *const vmsim_machine_help[];
/* Each machine preset's CACHE SPEC (docs/caches.md), in the order of
 * vmsim_machine_names; not applied by vmsim_config_machine. */
extern const char *const vmsim_machine_caches[];

/* Set one machine option exactly as `vmsim run --NAME VALUE` does (docs/cli.md):
 * name without the dashes ("tlb", "pwc", "mem", "pt", "geometry",
 * "page-size", "thp", "cpus", "replace", ...: vmsim_config_option_names),
 * value NULL for a flag ("strict", "no-asid", ...). Options apply in the
 * order given, each to what the earlier ones left: give "machine" first (a
 * preset sets TLBs, caches and the geometry), and "geometry" before "pwc"
 * (a geometry drops the page-walk caches of levels it lacks). Returns 0, or
 * VMSIM_ENOENT for a name that is no option, VMSIM_EINVAL for a value it
 * does not take, with why (when not NULL) holding "--NAME: expected ...,
 * found ..."; cfg is then unchanged except for the option's own fields.
 * After the last option call vmsim_config_finish. Thread-safe for distinct
 * configs. */
int vmsim_config_option(struct vmsim_config *cfg, const char *name, const char *value, char *why,
                        size_t whylen);
/* The option names vmsim_config_option takes, NULL-terminated, in the
 * order of docs/cli.md's machine options. */
const char *const *vmsim_config_option_names(void);
/* 1 when option name takes a value, 0 for a flag, VMSIM_ENOENT for no option. */
int vmsim_config_option_takes_value(const char *name);
/* Check the options together and resolve what depends on several of them,
 * as `vmsim run` does after reading its command line: the page sizes
 * against the geometry (VMSIM_PAGE_HUGE becomes the smallest huge page),
 * the host options against --nested (whose page-walk caches default to the
 * guest's), memory and swap sizes, --threads. 0, or VMSIM_EINVAL with why
 * naming the option, what was expected and what was found. */
int vmsim_config_finish(struct vmsim_config *cfg, char *why, size_t whylen);

/* Parse a TLB SPEC (see docs/cli.md) or "none" into cfg->tlb/ntlb. */
int vmsim_tlb_parse(const char *spec, struct vmsim_config *cfg, char *why, size_t whylen);
/* Parse a PWC SPEC ("l4=2x2,l3=4x4,l2=32x4", "unified=32x4", "none"). */
int vmsim_pwc_parse(const char *spec, struct vmsim_config *cfg, char *why, size_t whylen);
/* Parse a CACHE SPEC (docs/caches.md): "l1d=64x8x64/d:4,l2=1024x16x64:14,
 * l3=16384x16x64/shared:42,dram=200[,row=16x8k:100][,data=off]", a machine
 * preset's name (its hierarchy) or "none", into cfg->mem. */
int vmsim_cache_parse(const char *spec, struct vmsim_config *cfg, char *why, size_t whylen);
/* Parse a khugepaged spec (struct vmsim_khugepaged_config; "on": all
 * defaults, "off": none) into cfg->khugepaged. */
int vmsim_khugepaged_parse(const char *spec, struct vmsim_config *cfg, char *why, size_t whylen);
/* cfg->khugepaged with every VMSIM_KHP_DEFAULT replaced by its value for
 * cfg's geometry (what a run uses and reports). */
struct vmsim_khugepaged_config vmsim_khugepaged_resolved(const struct vmsim_config *cfg);
/* Parse "access=1,pt_ref=30,fault=1000". */
int vmsim_cost_parse(const char *spec, struct vmsim_config *cfg, char *why, size_t whylen);
/* Parse a size: "4096", "4k", "2m", "1g", "64GiB". */
int vmsim_parse_size(const char *s, uint64_t *out);
/* Parse a count of events: "250000", "250k", "1.5m" (a whole number below
 * 2^63); 0 on success. */
int vmsim_parse_count(const char *s, uint64_t *out);
/* Read a machine from JSON in the schema of the "config" object that the
 * JSON report writes (docs/library.md, "Configurations as files"): text is
 * that object, or a whole report holding it under "config". Keys left out
 * keep the value *cfg has (start from vmsim_config_default); an unknown key,
 * a wrong type or a value out of range gives VMSIM_EINVAL and, in why, the
 * key's path and what was expected and found ("config.tlb[1].ways: expected
 * a positive integer, found \"x\""); text that is not JSON gives
 * VMSIM_EPARSE with its line and column. On failure *cfg is unchanged. */
int vmsim_config_from_json(const char *text, struct vmsim_config *cfg, char *why, size_t whylen);

/* ---- statistics ----------------------------------------------------------- */

/* How one statistic of several parts of a machine (its VMs; the CPUs of one
 * VM will be parts too) combines into the machine's figure. Every statistic
 * has one (the RULE column of VMSIM_STATS, as VMSIM_COMBINE_##RULE), and
 * every total is made by that one rule (docs/stats.md, "Combining"). */
enum vmsim_combine {
    VMSIM_COMBINE_SUM = 0, /* counters, and gauges of what each part owns alone: added */
    VMSIM_COMBINE_MAX = 1, /* a largest single event (deepest nesting, most stack): the largest */
    VMSIM_COMBINE_SAME = 2, /* the same in every part (the configuration's, or one shared
                               thing's, e.g. the host): the first part's */
    VMSIM_COMBINE_FIRST = 3, /* only the first part has it (VM 1's live migration): the first part's */
};
extern const char *const vmsim_combine_names[]; /* by enum value: "sum", ...; NULL-terminated */

/* The scalar statistics, one list feeding every output format:
 * X(field, "dotted.json.name", RULE, "definition"), RULE one of SUM, MAX,
 * SAME, FIRST (enum vmsim_combine). docs/stats.md defines each. */
#define VMSIM_STATS(X)                                                                   \
    X(events, "events", SUM, "events consumed: accesses and process, mapping, switch events") \
    X(accesses, "accesses", SUM, "memory accesses consumed from the workload")               \
    X(translations, "translations", SUM, "page translations (an access crossing pages makes several)") \
    X(translations_huge, "translations_huge", SUM, "translations served by a page larger than the base page") \
    X(tlb_misses_all, "tlb.misses_all_levels", SUM, "translations that missed every TLB level")   \
    X(walks, "walks.count", SUM, "page-table walks started (including retries after faults)")   \
    X(walk_refs, "walks.refs", SUM, "page-table memory references made by walks")              \
    X(pwc_hits, "pwc.hits", SUM, "walks that a page-walk cache let skip one or more levels")    \
    X(pwc_misses, "pwc.misses", SUM, "walks that found no usable page-walk-cache entry")        \
    X(pwc_levels_skipped, "pwc.levels_skipped", SUM, "page-table references avoided by page-walk caches") \
    X(faults_total, "faults.total", SUM, "page faults handled by the kernel")                  \
    X(faults_zero_read, "faults.demand_zero_read", SUM, "first reads mapped to the shared zero frame") \
    X(faults_zero_write, "faults.demand_zero_write", SUM, "first writes given a new zeroed frame")      \
    X(faults_cow_zero, "faults.cow_zero", SUM, "writes to a zero-frame mapping, copied to a new frame") \
    X(faults_cow_copy, "faults.cow_copy", SUM, "writes to a copy-on-write page others share: copied to a new frame") \
    X(faults_cow_reuse, "faults.cow_reuse", SUM, "writes to a write-protected private page only the writer maps: made writable in place") \
    X(faults_pagecache_hit, "faults.pagecache_hit", SUM, "file-page faults served by a page already in the page cache") \
    X(faults_pagecache_miss, "faults.pagecache_miss", SUM, "file-page faults that read the page in (file, or swap for shared memory)") \
    X(faults_swap_in, "faults.swap_in", SUM, "faults on pages whose contents are in swap") \
    X(faults_segv, "faults.segv", SUM, "accesses outside every mapping in strict mode (not retried)") \
    X(faults_table, "faults.table", SUM, "page-table pages the fault handler brought back from swap") \
    X(nested_max, "faults.nested_max", MAX, "deepest nesting a recursive fault handler would reach on one access") \
    X(nested_deep, "faults.nested", SUM, "faults whose recursive handling would have nested (depth 2 or more)") \
    X(stack_overflows, "faults.stack_overflows", SUM, "accesses whose recursive handler would overflow the kernel stack") \
    X(stack_recursive_max, "faults.stack_recursive_max", MAX, "kernel stack bytes a recursive handler would need at most") \
    X(stack_iterative_max, "faults.stack_iterative_max", MAX, "kernel stack bytes vmsim's iterative handler used at most") \
    X(tables_evicted, "reclaim.tables_evicted", SUM, "page-table pages evicted (written to swap)") \
    X(thp_fallbacks, "thp.fallbacks", SUM, "huge-page faults that got a base page: no free aligned block, or base pages there") \
    X(thp_promotions, "thp.promotions", SUM, "fully populated blocks of base pages collapsed into a huge page") \
    X(thp_splits, "thp.splits", SUM, "huge pages split into base pages (mmap, munmap or mprotect of part of one; a huge copy with no free block)") \
    X(thp_splits_reclaim, "thp.splits_reclaim", SUM, "huge pages split because replacement chose them (counted in thp.splits too)") \
    X(huge_untouched, "memory.huge_untouched_bytes", SUM, "bytes of private huge pages mapped at the end never accessed (internal fragmentation)") \
    X(faults_protection, "faults.protection", SUM, "accesses the mapping's protection forbids (counted, not retried)") \
    X(faults_bad_address, "faults.bad_address", SUM, "accesses beyond the geometry's virtual-address width") \
    X(faults_oom, "faults.oom", SUM, "faults or events that found no free simulated frame (or lost it to eviction again and again)") \
    X(tlb_flushes, "tlb.flushes", SUM, "whole-TLB flushes (context switches without ASIDs, ASID rollover)") \
    X(tlb_invalidations, "tlb.invalidations", SUM, "single-page TLB invalidations (all CPUs)") \
    X(shootdown_ipis, "tlb.shootdown_ipis", SUM, "invalidations sent to other CPUs that may cache a changed page") \
    X(context_switches, "context_switches", SUM, "changes of the running process on a CPU")    \
    X(forks, "forks", SUM, "fork events: processes created as copies of a parent")              \
    X(evictions, "reclaim.evictions", SUM, "pages evicted to make room (written out or dropped)") \
    X(evictions_clean, "reclaim.dropped_clean", SUM, "evicted pages dropped without a write: clean, with a valid copy") \
    X(swap_reads, "swap.reads", SUM, "pages read from the swap device")                        \
    X(swap_writes, "swap.writes", SUM, "pages written to the swap device")                     \
    X(swap_slots_peak, "swap.slots_peak", SUM, "largest number of swap slots in use")           \
    X(file_reads, "file.reads", SUM, "file pages read into the page cache")                     \
    X(file_writes, "file.writes", SUM, "dirty file pages written back on eviction")            \
    X(processes, "processes", SUM, "processes created")                                        \
    X(pt_migrated, "page_tables.migrated", SUM, "entries a resize moved from an old table into a new, larger one (hashed, cuckoo, clustered)") \
    X(pt_resizes, "page_tables.resizes", SUM, "resizes started (hashed, cuckoo elastic resizes and rebuilds, clustered doublings)") \
    X(pt_evicted, "page_tables.evicted_entries", SUM, "ppc: insertions that found both hash groups full and overwrote a primary-group slot") \
    X(pt_shareable, "page_tables.shareable_bytes", SUM, "leaf-table bytes that one table per shared file block, instead of one per process, would save") \
    X(pt_peak_bytes, "page_tables.peak_bytes", SUM, "largest page-table memory without the roots during the run: frames holding page-table pages other than roots, at any one time, x the frame size") \
    X(pt_peak_all_bytes, "page_tables.peak_bytes_with_roots", SUM, "largest page-table memory with the roots during the run: frames holding page-table pages at any one time, x the frame size") \
    X(synonym_bits, "synonyms.index_bits_above_page", SAME, "VIPT L1 index bits above the page offset: log2(S x B / P), 0 when S x B <= P (--vipt)") \
    X(synonym_frames, "synonyms.frames", SUM, "frames mapped at virtual addresses that index different VIPT L1 sets (--vipt)") \
    X(verify_checks, "verify.checks", SUM, "reads checked against the shadow model (--verify)")    \
    X(verify_mismatches, "verify.mismatches", SUM, "reads that saw contents the shadow model did not expect (--verify)") \
    X(verify_raced, "verify.raced", SUM, "reads (--verify --threads) that saw a page's contents from before another CPU's concurrent copy-on-write, through a translation whose shootdown was still in flight") \
    X(conc_phases, "concurrency.phases", SUM, "stretches of accesses the threads ran in parallel between two barriers (--threads)") \
    X(conc_locks, "concurrency.lock_acquisitions", SUM, "page-table locks taken by faults (--threads)") \
    X(conc_contended, "concurrency.lock_contended", SUM, "lock acquisitions that found the lock held and waited (page-table and kernel locks, --threads)") \
    X(conc_revalidated, "concurrency.revalidated", SUM, "faults whose re-validation under the lock found the entry already fixed by another CPU (--threads)") \
    X(conc_cas_retries, "concurrency.cas_retries", SUM, "compare-and-swap publications of an entry that failed (a walk set its accessed bit meanwhile) and were retried (--threads)") \
    X(conc_pins, "concurrency.pins", SUM, "frames a fault kept (pinned) until its shootdown completed, their reference dropped after it (--threads)") \
    X(conc_ipis, "concurrency.ipis", SUM, "invalidations sent to a CPU on another host thread, each acknowledged (--threads)") \
    X(conc_waits, "concurrency.shootdown_waits", SUM, "shootdowns of faults (--threads) whose initiator waited for other CPUs' acknowledgements") \
    X(conc_ack_wait_cycles, "concurrency.ack_wait_cycles", SUM, "simulated cycles initiators waited for acknowledgements: 1000 per shootdown_waits and 200 per IPI (--threads)") \
    X(conc_seq_retries, "concurrency.seq_retries", SUM, "walks repeated because a page-table update overlapped them (--locks seqcount)") \
    X(conc_stale, "concurrency.stale_uses", SUM, "translations used after their shootdown completed (--verify --threads; a correct run has none)") \
    X(frames_used, "memory.frames_used", SUM, "simulated frames in use at the end (data + page tables)") \
    X(frames_peak, "memory.frames_peak", SUM, "largest number of simulated frames in use")     \
    X(buddy_max_order, "memory.buddy.max_order", SAME, "largest order of the buddy allocator's blocks: the largest page of the geometry, in base pages, log2") \
    X(pt_writes, "page_tables.writes", SUM, "page-table entries the kernel changed: a page mapped, unmapped, swapped out, or its protection or accessed bit changed") \
    X(shadow_exits, "shadow.exits", SUM, "shadow paging: VM exits for guest page-table writes and address-space switches") \
    X(nested_refs, "nested.host_refs", SUM, "nested paging: references to the host's nested table (host dimension of the 2D walks)") \
    X(nested_walks, "nested.walks", SUM, "nested paging: walks of the nested table (guest-physical addresses the nested TLB missed)") \
    X(nested_tlb_hits, "nested.tlb_hits", SUM, "nested paging: guest-physical translations the nested TLB served") \
    X(nested_tlb_misses, "nested.tlb_misses", SUM, "nested paging: guest-physical translations the nested TLB missed") \
    X(nested_pwc_hits, "nested.pwc_hits", SUM, "nested paging: host walks that a host page-walk cache let skip levels") \
    X(nested_violations, "nested.violations", SUM, "nested paging: guest-physical pages the hypervisor backed on first touch (EPT violations, VM exits)") \
    X(nested_host_frames, "nested.host_frames", SAME, "nested paging: host frames in use at the end (guest memory backed, and the nested table)") \
    X(nested_table_bytes, "nested.table_bytes", SUM, "nested paging: memory of the nested table at the end, all levels with the root") \
    X(enclave_refs, "enclave.refs", SUM, "enclave: references to the processor's enclave table (one walk of it per address the 2D walk translates)") \
    X(enclave_refused, "enclave.refused", SUM, "enclave: reads of enclave memory refused to other processes and to the hypervisor") \
    X(mig_rounds, "migration.rounds", FIRST, "live migration: pre-copy rounds (the first sends all guest memory the host backs)") \
    X(mig_pages, "migration.pages_sent", FIRST, "live migration: host pages sent, all rounds and the stop-and-copy") \
    X(mig_bytes, "migration.bytes_sent", FIRST, "live migration: bytes sent (pages_sent x the host page size)") \
    X(mig_done, "migration.completed", FIRST, "live migration: 1 once the stop-and-copy is done (0: still in pre-copy at the end of the run)") \
    X(mig_final_pages, "migration.stop_copy_pages", FIRST, "live migration: pages sent while the guest was stopped") \
    X(mig_downtime_ns, "migration.downtime_ns", FIRST, "live migration: the stop-and-copy's time on the link (the downtime estimate)") \
    X(mig_traps, "migration.dirty_traps", FIRST, "live migration: first writes to write-protected pages, each a VM exit") \
    X(mig_lost, "migration.lost_writes", FIRST, "live migration with --verify: guest frames whose contents at the destination differ from the source after the stop-and-copy") \
    X(nested_oom, "nested.oom", SUM, "nested paging: guest-physical pages the hypervisor found no host memory for") \
    X(walk_cycles, "walks.cycles", SUM, "cycles charged to walks: page-walk-cache probes, references (pt_ref each, or the latency of the cache level or DRAM that served it), the host dimension, software-walk traps") \
    X(dram_refs, "memory.dram_refs", SUM, "references DRAM served (--cache): walks' and, with data on, the program's") \
    X(dram_walk_refs, "memory.dram_walk_refs", SUM, "page-table references DRAM served (--cache)") \
    X(dram_row_hits, "memory.dram_row_hits", SUM, "references DRAM served from a row its bank had open (--cache row=)") \
    X(cycles, "cycles", SUM, "total cycles of the cost model")                                 \
    X(cycles_translation, "cycles_translation", SUM, "cycles spent translating (TLB lookups, walks, faults)")

/* One data-cache level's counters (docs/caches.md). Combined as: counters
 * SUM; lines and pt_lines SAME (the caches belong to the CPUs every VM
 * shares: read off the hardware when the statistics are read). */
struct vmsim_cache_stats {
    uint64_t hits, misses;         /* references it served / looked up and missed */
    uint64_t pt_hits, pt_misses;   /* of which page-table references (walks) */
    uint64_t data_misses_pt;       /* program references that missed on a line a
                                      page-table fill recently evicted from this level */
    uint64_t lines;                /* lines it holds at the end (all CPUs' copies) */
    uint64_t pt_lines;             /* of which filled by page-table references */
};
#define VMSIM_BUDDY_ORDERS 32 /* orders of free blocks: a frame number is below 2^32 */
#define VMSIM_WALK_LAT_BUCKETS 20 /* bucket 0: 0 cycles; b: [2^(b-1), 2^b); last: more */

/* Combined as: hits and misses SUM; reach MAX (every VM runs on the same
 * CPUs, so the largest over CPUs is every VM's). */
struct vmsim_tlb_stats {
    uint64_t hits;   /* lookups that found an entry for the page */
    uint64_t misses; /* lookups that found none */
    uint64_t reach;  /* bytes its entries map at the end (largest over CPUs) */
};

/* Shared tables (cfg.share_tables; docs/stats.md, "page_tables.sharing"):
 * reported only when the option is on, so every other run's output keeps its
 * keys. Combined as SUM. */
struct vmsim_share_stats {
    uint64_t tables;   /* state: leaf tables that two or more address spaces point to */
    uint64_t sharers;  /* state: the address spaces pointing to them, summed over them */
    uint64_t attached; /* counter: a process's entry made to point to an existing table */
    uint64_t unshared; /* counter: a shared table copied for the process that changed it */
    uint64_t detached; /* counter: a process let go of a shared table whole (munmap, exit) */
    /* The same for tables one level above the leaf (level 2: 1 GiB on x86-64) */
    uint64_t upper_tables;
    uint64_t upper_sharers;
    uint64_t upper_attached;
    uint64_t upper_unshared;
    uint64_t upper_detached;
};

/* khugepaged (cfg.khugepaged; docs/stats.md, "khugepaged"): reported only
 * when it is on, so every other run's output keeps its keys. Counters,
 * combined as SUM. */
struct vmsim_khugepaged_stats {
    uint64_t scans;         /* scans run (one every cfg.khugepaged.every accesses) */
    uint64_t pages_scanned; /* base-page entries of the blocks the scans visited */
    uint64_t full_scans;    /* passes over every process completed */
    uint64_t collapses;     /* blocks collapsed into one huge page */
    uint64_t fail_alloc;    /* blocks that qualified but found no free huge block */
    uint64_t fail_none;     /* blocks with more than max_ptes_none empty entries */
    uint64_t fail_swap;     /* blocks with more than max_ptes_swap swapped-out entries, or
                               some and fewer than half the entries referenced */
    uint64_t fail_shared;   /* blocks with more than max_ptes_shared shared entries */
    uint64_t pages_copied;  /* base pages copied into the huge pages made (from a frame
                               or from swap) */
    uint64_t cycles;        /* the scans' and collapses' cycles (also in `cycles`) */
};

/* Compaction (cfg.compact; docs/stats.md, "compact" and "thp.coverage"):
 * reported only when the option is on, so every other run's output keeps
 * its keys. The counters are zeroed by a warm-up; the two gauges are read
 * off the frames when the statistics are read (0 while no huge page can be
 * mapped). Combined as SUM. */
struct vmsim_compact_stats {
    uint64_t runs;         /* counter: huge-page allocations that found no free block and compacted */
    uint64_t success;      /* counter: of which assembled a free block */
    uint64_t fail;         /* counter: of which found no block that could be emptied */
    uint64_t pages_moved;  /* counter: in-use base frames migrated out of the chosen blocks */
    uint64_t rmap_updates; /* counter: page-table entries repointed to a moved page's new frame */
    uint64_t shootdowns;   /* counter: TLB shootdowns those updates made */
    uint64_t cycles;       /* counter: the cost model's cycles for the copies and shootdowns */
    uint64_t anon_bytes;      /* state: resident private anonymous memory (each frame once) */
    uint64_t anon_huge_bytes; /* state: of which in huge pages */
};

struct vmsim_stats {
#define VMSIM_STAT_FIELD(f, n, r, d) uint64_t f;
    VMSIM_STATS(VMSIM_STAT_FIELD)
#undef VMSIM_STAT_FIELD
    struct vmsim_share_stats share;                    /* --share-tables: SUM */
    struct vmsim_khugepaged_stats khugepaged;          /* --khugepaged: SUM */
    struct vmsim_compact_stats compact;                /* --compact: SUM */
    struct vmsim_tlb_stats tlb[VMSIM_MAX_TLB_LEVELS]; /* same order as config */
    uint64_t walk_hist[VMSIM_MAX_LEVELS + 2];         /* walks by references made: SUM */
    uint64_t mig_round_pages[VMSIM_MIGRATE_ROUNDS];    /* pages sent by each pre-copy round: FIRST */
    struct vmsim_cache_stats cache[VMSIM_MAX_CACHE_LEVELS]; /* same order as config */
    uint64_t walk_lat_hist[VMSIM_WALK_LAT_BUCKETS];     /* walks by cycles (walks.cycles): SUM */
    /* The buddy allocator of simulated memory, by order 0..buddy_max_order
     * (docs/kernel.md, "Physical memory"): free blocks when the statistics
     * are read, the never-used memory cut into its largest aligned blocks
     * included (SUM); requests that found no free block, a request above
     * buddy_max_order counted at buddy_max_order (SUM). */
    uint64_t buddy_free[VMSIM_BUDDY_ORDERS];
    uint64_t buddy_fail[VMSIM_BUDDY_ORDERS];
};

/* Gorman's unusable free space index of order j from st->buddy_free: the
 * share of free frames in blocks smaller than 2^j (0 when none is free). */
double vmsim_buddy_unusable(const struct vmsim_stats *st, unsigned order);

/* Huge-page coverage from st->compact: the share of resident private
 * anonymous memory that huge pages map (0 when there is none). */
double vmsim_thp_coverage(const struct vmsim_stats *st);

/* Page-table memory (the VmPTE rule: the root is reported apart). Radix
 * trees fill the per-level arrays; other organizations name their parts
 * (bucket arrays, entries, anchor table...) and put everything in bytes. */
#define VMSIM_PT_PARTS 6
struct vmsim_pt_footprint {
    uint64_t tables[VMSIM_MAX_LEVELS + 1];      /* tables of each level (index = level) */
    uint64_t table_bytes[VMSIM_MAX_LEVELS + 1]; /* bytes of each level */
    uint64_t bytes;                             /* all levels except the root */
    uint64_t root_bytes;                        /* the roots */
    uint64_t pages[VMSIM_MAX_LEVELS + 1];       /* leaves mapped at each level */
    struct {
        char name[24];
        uint64_t bytes;
    } part[VMSIM_PT_PARTS];
    unsigned nparts;
    /* A table shared by every address space (inverted, ppc, hashed with
     * scope=global) tells their entries apart by a space tag: shared_by is
     * the number of live address spaces (0 when each has its own table),
     * space_tag_bits = ceil(log2 shared_by), the bits each entry needs for
     * it (seed 003). */
    uint64_t shared_by;
    unsigned space_tag_bits;
};

struct vmsim;

int vmsim_create(const struct vmsim_config *cfg, struct vmsim **out);
/* vmsim_create that says why it refused a configuration: why (when not
 * NULL, whylen > 0) gets a sentence naming the field or option, what was
 * expected and what was found; "" on success. */
int vmsim_create_why(const struct vmsim_config *cfg, struct vmsim **out, char *why, size_t whylen);
void vmsim_destroy(struct vmsim *sim);
/* Consume n events. Returns 0, or a negative code for a real failure (host
 * out of memory, an event naming a CPU the machine lacks); simulated
 * failures are counted, never returned. After a failure, stats.events
 * (plus the events a reset excluded, vmsim_get_warmup) tells how many
 * events were consumed: the failing one is the next. */
int vmsim_run(struct vmsim *sim, const struct vmsim_event *ev, size_t n);
/* A flag (a signal handler's, say) that ends a long access: while an
 * access crosses page after page, a nonzero *flag stops it at the next page
 * boundary and vmsim_run returns VMSIM_EINTR; the counters cover the pages
 * translated so far, and stats.events the events before the stopped one.
 * NULL (the default): never stopped. Events shorter than a page pass
 * unchecked, so the caller checks the flag between calls too. */
void vmsim_set_stop(struct vmsim *sim, const volatile sig_atomic_t *flag);
/* The counters as of this call: what each CPU, kernel and the hypervisor
 * counted, merged (each statistic by its rule), and the memory gauges
 * (frames_*), into *out. Reads the machine and writes nothing else: several
 * threads may read one machine at once between runs. scan false: cheap
 * (no allocation, time independent of the memory simulated), and the
 * statistics that need a pass over frames or tables
 * (VMSIM_SCANNED_STATS) are 0; scan true: those too, as the reports print
 * them (page_tables.shareable_bytes sorts, so it allocates). */
void vmsim_read_stats(const struct vmsim *sim, struct vmsim_stats *out, bool scan);
/* The statistics vmsim_read_stats computes only when asked to scan. */
#define VMSIM_SCANNED_STATS(X)                                                              \
    X(pt_shareable) X(synonym_bits) X(synonym_frames) X(huge_untouched)                     \
    X(nested_host_frames) X(nested_table_bytes) X(compact.anon_bytes) X(compact.anon_huge_bytes)
/* vmsim_read_stats(sim, buffer, true) into a buffer the machine holds, for
 * callers that want a pointer: the same buffer on every call, changed only
 * when this is called again (or vmsim_vm_stats for VM 1), so one thread
 * at a time. */
const struct vmsim_stats *vmsim_get_stats(const struct vmsim *sim);
const struct vmsim_config *vmsim_get_config(const struct vmsim *sim);
/* Page-table memory of all live processes together (of every VM). */
void vmsim_footprint(const struct vmsim *sim, struct vmsim_pt_footprint *fp);
/* The JSON document `vmsim run --json` writes for a run read to its end
 * (docs/stats.md): the statistics as of this call, the configuration, and
 * source (the workload's or trace's name; NULL: none). Returns 0, or
 * VMSIM_EIO when out could not be written, VMSIM_ENOMEM. */
int vmsim_write_json(const struct vmsim *sim, const char *source, FILE *out);

/* ---- stepping and observing ---------------------------------------------- */

/* The kinds of page fault, one per faults.* statistic (docs/stats.md). A
 * fault may be of several (a shared-memory page read back from swap is a
 * page-cache miss and a swap-in): the observer and vmsim_translate give a
 * set, bit 1 << kind for each. */
enum vmsim_fault_kind {
    VMSIM_FAULT_NONE = 0,
    VMSIM_FAULT_ZERO_READ,     /* faults.demand_zero_read */
    VMSIM_FAULT_ZERO_WRITE,    /* faults.demand_zero_write */
    VMSIM_FAULT_COW_ZERO,      /* faults.cow_zero */
    VMSIM_FAULT_COW_COPY,      /* faults.cow_copy */
    VMSIM_FAULT_COW_REUSE,     /* faults.cow_reuse */
    VMSIM_FAULT_PAGECACHE_HIT, /* faults.pagecache_hit */
    VMSIM_FAULT_PAGECACHE_MISS,/* faults.pagecache_miss */
    VMSIM_FAULT_SWAP_IN,       /* faults.swap_in */
    VMSIM_FAULT_SEGV,          /* faults.segv */
    VMSIM_FAULT_PROTECTION,    /* faults.protection */
    VMSIM_FAULT_BAD_ADDRESS,   /* faults.bad_address */
    VMSIM_FAULT_OOM,           /* faults.oom: no frame for it */
    VMSIM_FAULT_TABLE,         /* it brought page-table pages back from swap (faults.table
                                  counts the pages: one fault may bring several) */
    VMSIM_FAULT_OTHER,         /* handled with none of the above counted (a page-table page
                                  brought back was all it needed) */
};
extern const char *const vmsim_fault_names[]; /* by enum value, NULL-terminated */

/* What evict's `what` says was evicted (reclaim.evictions counts each). */
enum vmsim_evict_kind { VMSIM_EVICT_ANON = 0, VMSIM_EVICT_FILE = 1, VMSIM_EVICT_TABLE = 2 };

/* Callbacks with a context pointer, as Linux's mm_walk_ops: each NULL or a
 * function the machine calls as the event happens, inside vmsim_run (or
 * vmsim_translate), on the caller's thread. They must not call back into
 * the machine. Their counts equal the statistics': fault once per
 * faults.total, kind K in its set as often as faults.K counts (but
 * faults.table counts pages), evict once per reclaim.evictions, walk_ref once per
 * walks.refs (pa VMSIM_PADDR_NONE past a walk's first 64 references, which
 * are not recorded); fill once per TLB level that takes an entry (a miss
 * that ends in a usable translation fills every level looked up before the
 * one that hit, or all of them after a walk). */
#define VMSIM_PADDR_NONE UINT64_MAX
struct vmsim_observer {
    void *ctx;
    void (*fault)(void *ctx, unsigned cpu, vmsim_pid_t pid, vmsim_vaddr_t va, unsigned access_kind,
                  unsigned kinds /* bits 1 << enum vmsim_fault_kind */);
    void (*evict)(void *ctx, vmsim_paddr_t pa, enum vmsim_evict_kind what);
    void (*fill)(void *ctx, unsigned cpu, unsigned tlb_level, vmsim_vaddr_t va, unsigned page_shift);
    void (*walk_ref)(void *ctx, unsigned cpu, vmsim_paddr_t pa, unsigned level);
};
/* Install obs (copied; NULL removes it). While one is installed every access
 * takes the observed path, which counts exactly as the plain one (the
 * plain path's TLB hits test nothing: the switch is made once, here).
 * VMSIM_EUNSUPPORTED on a machine with cfg.threads > 1. Not thread-safe:
 * between vmsim_run calls. */
int vmsim_set_observer(struct vmsim *sim, const struct vmsim_observer *obs);

/* What one access did, for the page that holds ev->addr (an access that
 * crosses pages translates the others too, and counts them, but this
 * describes the first). */
#define VMSIM_TRANSLATION_REFS 64
struct vmsim_translation {
    bool translated;          /* a usable translation was found (after any fault) */
    vmsim_paddr_t pa;         /* the physical address of ev->addr (guest-physical in a guest) */
    unsigned page_shift;      /* log2 of the size of the page that served it */
    int tlb_level;            /* the TLB level that hit (index in cfg.tlb), -1: every level missed */
    bool pwc_hit;             /* the last walk skipped levels through a page-walk cache */
    unsigned walks;           /* walks made (a retry after a fault is one more) */
    unsigned nrefs;           /* page-table references of all its walks */
    vmsim_paddr_t ref[VMSIM_TRANSLATION_REFS]; /* their physical addresses, the first
                                                  VMSIM_TRANSLATION_REFS in order */
    unsigned fault_kinds;     /* bits 1 << enum vmsim_fault_kind of the faults taken; 0: none */
    unsigned faults;          /* faults taken */
};
/* Run one event, as vmsim_run(sim, ev, 1) does and counting exactly the
 * same, and say in *out what happened to an access (for any other event
 * *out says nothing happened: translated false, tlb_level -1). Returns what
 * vmsim_run returns. Slower than vmsim_run (every access takes the
 * observed path); an installed observer sees the event too. Not
 * thread-safe: one call at a time per machine. */
int vmsim_translate(struct vmsim *sim, const struct vmsim_event *ev, struct vmsim_translation *out);

/* ---- warm-up: statistics of the steady state ---------------------------------- */

/* Zero every statistic that counts events, of every part of the machine
 * (each VM, each CPU, the kernels, the hypervisor, the page-table
 * organizations); the state stays: TLB, page-walk-cache and cache contents,
 * page tables, frames, processes, replacement and LRU clocks. Gauges of
 * state (memory.frames_used, reach, lines) go on reporting the state; peaks
 * and maxima restart from the current value. A live migration's
 * statistics and --verify's are kept whole. docs/stats.md, "Warm-up",
 * decides each statistic. Positions in the run (OPT's and --verify's access
 * numbers, a migration's at= and clock) count from the start regardless.
 * VMSIM_EINVAL on a VM other than the first. */
int vmsim_reset_stats(struct vmsim *sim);
/* A warm-up: the machine calls vmsim_reset_stats itself right after the
 * n-th access event from now (of any CPU and VM), between that access and
 * the next event, wherever the batches vmsim_run is given split. 0 cancels
 * a warm-up that has not ended. vmsim_create sets cfg.warmup this way. */
int vmsim_set_warmup(struct vmsim *sim, uint64_t n);
/* What the resets excluded from the statistics. */
struct vmsim_warmup {
    uint64_t requested; /* the warm-up asked for, in access events (0: none) */
    bool completed;     /* its reset has happened */
    uint64_t accesses;  /* accesses the resets excluded (the accesses statistic they zeroed) */
    uint64_t events;    /* events consumed before the last reset */
};
void vmsim_get_warmup(const struct vmsim *sim, struct vmsim_warmup *w);

/* ---- several VMs (nested paging) ---------------------------------------- */

/* With cfg.nested.on the machine's first VM is VM 1, where every process
 * runs unless placed elsewhere. This creates VM vmid (2 .. 255) with
 * mem_bytes of guest memory (0: cfg.phys_bytes), the same configuration
 * otherwise, its own guest kernel and nested table, on the same CPUs and
 * host. A VMSIM_EV_SPAWN whose `file` is vmid starts its process there;
 * children of a fork stay in their parent's VM. Process ids are the
 * machine's: each belongs to one VM. Every (VM, process) pair gets its own
 * TLB tag, so no VM hits another's entries. vmsim_get_stats then combines
 * all VMs, each statistic by its rule (enum vmsim_combine). */
int vmsim_vm_create(struct vmsim *sim, unsigned vmid, uint64_t mem_bytes);
/* One VM's own statistics (VM 1: the first), as of this call (as
 * vmsim_get_stats); NULL if there is no such VM. */
const struct vmsim_stats *vmsim_vm_stats(const struct vmsim *sim, unsigned vmid);

/* OPT replacement needs the future: give the simulator every event of the
 * run, in order and in any batches, before running them. Costs 8 bytes per
 * access plus a table of the distinct pages. */
int vmsim_plan(struct vmsim *sim, const struct vmsim_event *ev, size_t n);

/* --verify: the first read that saw contents the shadow model did not
 * expect. VMSIM_ENOENT when there was none. */
struct vmsim_mismatch {
    vmsim_pid_t pid;
    vmsim_vaddr_t va;
    uint64_t expected, found; /* content stamps */
    uint64_t access;          /* number of the access (1-based) */
};
int vmsim_verify_first(const struct vmsim *sim, struct vmsim_mismatch *m);


#ifdef __cplusplus
}
#endif
#endif
