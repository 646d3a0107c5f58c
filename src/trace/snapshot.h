/* Snapshots of real Linux processes, read from /proc (internal API).
 *
 * snapshot_load() reads /proc/PID/{maps,smaps,pagemap,status} (or a
 * directory of files with those names, for tests) into a list of mappings
 * and of the runs of pages that occupy page-table entries; snapshot_build()
 * replays them into a simulator with vmsim_map_page/vmsim_deposit_table so
 * its page-table footprint can be set against the kernel's VmPTE.
 * docs/snapshot.md states the rules (what counts, the deposit rule, what is
 * skipped) and the known divergences. */
#ifndef VMSIM_TRACE_SNAPSHOT_H
#define VMSIM_TRACE_SNAPSHOT_H

#include <stdbool.h>

#include "vmsim/vmsim.h"

/* What a mapping is, from maps (perms, inode, name) and smaps (VmFlags). */
#define SNAP_VMA_ANON 0x001u    /* private anonymous: a PMD-mapped THP gets a deposit */
#define SNAP_VMA_SHARED 0x002u  /* 's' in the permissions */
#define SNAP_VMA_PFNMAP 0x004u  /* VmFlags pf: invisible to pagemap, assumed mapped */
#define SNAP_VMA_IO 0x008u      /* VmFlags io */
#define SNAP_VMA_HUGETLB 0x010u /* VmFlags ht: pages of KernelPageSize */
#define SNAP_VMA_HG 0x020u      /* VmFlags hg: madvise(MADV_HUGEPAGE) */
#define SNAP_VMA_NH 0x040u      /* VmFlags nh: madvise(MADV_NOHUGEPAGE) */
#define SNAP_VMA_KERNEL 0x080u  /* in the kernel half ([vsyscall]): not in the tables */
#define SNAP_VMA_SMAPS 0x100u   /* smaps described it: the *_kb fields are valid */
#define SNAP_VMA_SKIPPED 0x200u /* pagemap not read: PROT_NONE, no pages per smaps */

struct snapshot_vma {
    vmsim_vaddr_t start, end; /* [start, end), page-aligned */
    uint64_t offset, inode;
    uint32_t dev_major, dev_minor;
    char perms[5];            /* "rw-p" */
    uint32_t flags;           /* SNAP_VMA_* */
    uint8_t page_shift;       /* KernelPageSize (12 unless hugetlb) */
    char *name;               /* path, [tag] or "" (owned) */
    /* from smaps, in KiB (valid with SNAP_VMA_SMAPS) */
    uint64_t rss_kb, swap_kb, anon_huge_kb, pmd_mapped_kb; /* pmd: Shmem+FilePmdMapped */
    /* what the pagemap showed, in base pages and 2 MiB pages */
    uint64_t present, swapped, thp;
    size_t run_first, run_count; /* its runs in snapshot.run */
};

#define SNAP_RUN_SWAPPED 0x01u /* swap (or other non-present) entries, not frames */
#define SNAP_RUN_ASSUMED 0x02u /* a VM_PFNMAP range pagemap cannot see */
#define SNAP_RUN_DEPOSIT 0x04u /* one deposited PTE table per page (anonymous THP) */
#define SNAP_RUN_ZERO 0x08u    /* the huge zero page (not in smaps AnonHugePages) */
#define SNAP_RUN_GUESS 0x10u   /* huge by smaps' count alone (internal) */

/* Pages that occupy page-table entries: npages pages of 2^shift bytes from
 * va. shift 12 are base pages; 21 a PMD-mapped THP; hugetlb pages their own
 * size. Runs are in address order and never overlap. */
struct snapshot_run {
    vmsim_vaddr_t va;
    uint64_t npages;
    uint8_t shift;
    uint8_t flags; /* SNAP_RUN_* */
};

/* How the present pages were found. */
enum snapshot_method {
    SNAP_METHOD_NONE = 0,
    SNAP_METHOD_SCAN,     /* ioctl(PAGEMAP_SCAN): exact PMD-mapped flag (Linux >= 6.7) */
    SNAP_METHOD_PAGEMAP,  /* pread of pagemap; THP from kpageflags and smaps counts */
};

struct snapshot {
    long pid;                /* status Pid:, -1 unknown */
    char comm[64];           /* status Name: */
    long long vmpte_kb;      /* status VmPTE:, -1 unknown */
    struct snapshot_vma *vma;
    size_t nvma, vma_cap;
    struct snapshot_run *run;
    size_t nrun, run_cap;
    /* totals over the mappings in the user half */
    uint64_t present;        /* base pages with a present PTE (PMD-mapped THP not included) */
    uint64_t swapped;        /* base pages with a swap or marker PTE */
    uint64_t thp;            /* PMD-mapped transparent huge pages (2 MiB), incl. huge zero */
    uint64_t hugetlb;        /* hugetlb pages (any size) */
    uint64_t assumed;        /* VM_PFNMAP base pages assumed mapped */
    uint64_t kernel_vmas;    /* mappings in the kernel half, skipped */
    uint64_t skipped_vmas;   /* PROT_NONE mappings with no pages per smaps, not read */
    uint64_t thp_guessed;    /* THP kept by smaps' count among more candidates */
    uint64_t thp_unseen;     /* PMD mappings smaps counts but pagemap did not show */
    uint64_t smaps_unmatched; /* smaps mappings not in maps (the process changed) */
    enum snapshot_method method;
    bool kpageflags;         /* kpageflags was read for THP detection */
    bool pfns;               /* pagemap showed frame numbers (root) */
    bool stable;             /* two reads around the pagemap agreed */
    unsigned attempts;
};

struct snapshot_opts {
    const char *kpageflags; /* path of kpageflags, NULL: do not use */
    bool no_scan;           /* do not try PAGEMAP_SCAN (test the pread path) */
    unsigned max_attempts;  /* re-reads of a process that changes; 0: 5 */
};

/* What snapshot_build did. */
struct snapshot_build_stats {
    uint64_t mapped;        /* vmsim_map_page calls */
    uint64_t deposited;     /* vmsim_deposit_table calls */
    uint64_t out_of_range;  /* pages beyond the geometry's address width, left out */
};

/* Read the snapshot of the process whose /proc directory is proc_dir
 * ("/proc/1234", "/proc/self" or a test directory): maps and pagemap are
 * required, smaps and status optional. Returns 0, or a negative VMSIM_E*
 * code with err filled (file:line, expected, found for malformed text).
 * *out is initialized here; release it with snapshot_free in every case. */
int snapshot_load(const char *proc_dir, const struct snapshot_opts *opt, struct snapshot *out,
                  struct vmsim_source_error *err);

/* Parse maps text (len bytes, any content) into out->vma, appending; where
 * names the file in messages. Fuzzed by fuzz/fuzz_maps.c. */
int snapshot_parse_maps(struct snapshot *out, const char *text, size_t len, const char *where,
                        struct vmsim_source_error *err);
/* Parse smaps text into the matching mappings of out (by start address). */
int snapshot_parse_smaps(struct snapshot *out, const char *text, size_t len, const char *where,
                         struct vmsim_source_error *err);

/* Map every run of s into process pid of sim. Pages that are not a leaf size
 * of the geometry are split (or, below the base page, merged); the deposit
 * applies where the geometry maps 2 MiB leaves. Returns 0 or the first
 * error of vmsim_map_page / vmsim_deposit_table. st may be NULL. */
int snapshot_build(struct vmsim *sim, vmsim_pid_t pid, const struct snapshot *s,
                   struct snapshot_build_stats *st);

void snapshot_init(struct snapshot *s);
void snapshot_free(struct snapshot *s);

/* Pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst). */
#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_PFN_MASK ((1ull << 55) - 1)
/* kpageflags bits (include/uapi/linux/kernel-page-flags.h). */
#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16
#define KPF_THP 22
#define KPF_ZERO_PAGE 24

#endif
