/* vmsim snapshot: /proc parsing and page-table rebuilding.
 *
 * Part 1 feeds hand-made /proc directories (maps, pagemap, smaps, status,
 * kpageflags in a temporary directory) whose table counts are worked out by
 * hand in the comments: x86-64 4-level, a leaf (level-1) table covers 2 MiB,
 * a level-2 table 1 GiB, a level-3 table 512 GiB, one root.
 * Part 2 checks against the real kernel: a forked child maps memory in a
 * known pattern and stops; the rebuilt tables without the root must equal
 * the child's own VmPTE, the kernel's number. Also the test process itself,
 * a `sleep`, and one known divergence (MADV_DONTNEED) measured exactly. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "trace/snapshot.h"

#define KiB 1024ull
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)
#define PAGE 4096ull

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* ---- fake /proc directories --------------------------------------------- */

struct fake {
    char dir[256];
};

static void fake_init(struct fake *f)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(f->dir, sizeof f->dir, "%s/vmsim-snap-XXXXXX", tmp);
    assert_non_null(mkdtemp(f->dir));
}

static void fake_file(struct fake *f, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", f->dir, name);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* Write 8-byte entries into a sparse file at index idx (pagemap: va>>12,
 * kpageflags: pfn). */
static void fake_entries(struct fake *f, const char *name, uint64_t idx, uint64_t n, uint64_t first,
                         uint64_t step)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", f->dir, name);
    int fd = open(p, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t e = first + i * step;
        assert_int_equal(pwrite(fd, &e, 8, (off_t)((idx + i) * 8)), 8);
    }
    close(fd);
}

/* n present pages from va; frames pfn, pfn+1, ... (0: not shown, as for
 * a reader without CAP_SYS_ADMIN). */
static void fake_present(struct fake *f, uint64_t va, uint64_t n, uint64_t pfn)
{
    fake_entries(f, "pagemap", va / PAGE, n, PM_PRESENT | pfn, pfn ? 1 : 0);
}

static void fake_cleanup(struct fake *f)
{
    static const char *const names[] = {"maps", "smaps", "pagemap", "status", "kpageflags"};
    char p[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", f->dir, names[i]);
        unlink(p);
    }
    rmdir(f->dir);
}

struct built {
    struct snapshot s;
    struct vmsim_pt_footprint fp;
    struct snapshot_build_stats st;
};

/* Load dir, rebuild it in a fresh simulator of the given geometry. */
static void build_geom(struct fake *f, const char *geometry, bool kpageflags, struct built *b)
{
    char kpf[512];
    snprintf(kpf, sizeof kpf, "%s/kpageflags", f->dir);
    struct snapshot_opts o = {.kpageflags = kpageflags ? kpf : NULL};
    struct vmsim_source_error err;
    int rc = snapshot_load(f->dir, &o, &b->s, &err);
    if (rc)
        print_error("%s: expected %s, found %s\n", err.where, err.expected, err.found);
    assert_int_equal(rc, 0);
    assert_true(b->s.stable);
    assert_int_not_equal(b->s.method, SNAP_METHOD_SCAN); /* a plain file: no ioctl */
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    assert_int_equal(vmsim_geometry_preset(geometry, &cfg.geom), VMSIM_OK);
    cfg.anon_page_shift = cfg.geom.page_shift;
    struct vmsim *sim;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    assert_int_equal(snapshot_build(sim, 7, &b->s, &b->st), 0);
    vmsim_footprint(sim, &b->fp);
    vmsim_destroy(sim);
}

static void build(struct fake *f, struct built *b) { build_geom(f, "x86-64", false, b); }

static void assert_tables(const struct built *b, uint64_t l4, uint64_t l3, uint64_t l2,
                          uint64_t l1)
{
    assert_int_equal(b->fp.tables[4], l4);
    assert_int_equal(b->fp.tables[3], l3);
    assert_int_equal(b->fp.tables[2], l2);
    assert_int_equal(b->fp.tables[1], l1);
    assert_int_equal(b->fp.bytes, (l3 + l2 + l1) * PAGE);
    assert_int_equal(b->fp.root_bytes, l4 * PAGE);
}

#define ANON(lo, hi) "%012llx-%012llx rw-p 00000000 00:00 0 \n", (unsigned long long)(lo), \
                     (unsigned long long)(hi)

static void fake_maps1(struct fake *f, uint64_t lo, uint64_t hi)
{
    char t[256];
    snprintf(t, sizeof t, ANON(lo, hi));
    fake_file(f, "maps", t);
}

/* One page: one table per level below the root. */
static void test_one_page(void **state)
{
    struct fake f;
    struct built b;
    fake_init(&f);
    fake_maps1(&f, 0x400000, 0x401000);
    fake_present(&f, 0x400000, 1, 0);
    build(&f, &b);
    assert_int_equal(b.s.nvma, 1);
    assert_int_equal(b.s.present, 1);
    assert_tables(&b, 1, 1, 1, 1);
    assert_int_equal(b.st.mapped, 1);
    snapshot_free(&b.s);
    fake_cleanup(&f);
}

/* 512 consecutive pages in one 2 MiB-aligned range: one leaf table. Without
 * smaps or kpageflags nothing says it is a THP, so it stays 512 PTEs. */
static void test_one_leaf_table(void **state)
{
    struct fake f;
    struct built b;
    fake_init(&f);
    fake_maps1(&f, 0x200000, 0x400000);
    fake_present(&f, 0x200000, 512, 0);
    build(&f, &b);
    assert_int_equal(b.s.present, 512);
    assert_int_equal(b.s.thp, 0);
    assert_tables(&b, 1, 1, 1, 1);
    assert_int_equal(b.fp.pages[1], 512);
    snapshot_free(&b.s);
    fake_cleanup(&f);
}

/* Pages 2 MiB apart: a leaf table each, one level-2 and one level-3 table. */
static void test_pages_2m_apart(void **state)
{
    struct fake f;
    struct built b;
    fake_init(&f);
    fake_maps1(&f, 0x40000000, 0x40800000);
    for (int k = 0; k < 4; k++)
        fake_present(&f, 0x40000000 + (uint64_t)k * 2 * MiB + (uint64_t)k * PAGE, 1, 0);
    build(&f, &b);
    assert_int_equal(b.s.present, 4);
    assert_tables(&b, 1, 1, 1, 4);
    snapshot_free(&b.s);
    fake_cleanup(&f);
}

/* Pages at 1 GiB, 2 GiB and 512 GiB: three leaf tables, three level-2
 * tables (three different GiB), two level-3 tables (two 512 GiB regions). */
static void test_gib_and_512gib_apart(void **state)
{
    struct fake f;
    struct built b;
    char t[512];
    fake_init(&f);
    snprintf(t, sizeof t, "%012llx-%012llx rw-p 00000000 00:00 0\n"
                          "%012llx-%012llx rw-p 00000000 00:00 0\n"
                          "%012llx-%012llx rw-p 00000000 00:00 0\n",
             GiB, GiB + PAGE, 2 * GiB, 2 * GiB + PAGE, 512 * GiB, 512 * GiB + PAGE);
    fake_file(&f, "maps", t);
    fake_present(&f, GiB, 1, 0);
    fake_present(&f, 2 * GiB, 1, 0);
    fake_present(&f, 512 * GiB, 1, 0);
    build(&f, &b);
    assert_tables(&b, 1, 2, 3, 3);
    snapshot_free(&b.s);
    fake_cleanup(&f);
}

/* A swapped page keeps its PTE: two leaf tables for a present page and a
 * swapped one 2 MiB apart. */
static void test_swapped(void **state)
{
    struct fake f;
    struct built b;
    fake_init(&f);
    fake_maps1(&f, 0x400000, 0x800000);
    fake_present(&f, 0x400000, 1, 0);
    fake_entries(&f, "pagemap", 0x600000 / PAGE, 1, PM_SWAPPED | 0x1234, 0);
    build(&f, &b);
    assert_int_equal(b.s.present, 1);
    assert_int_equal(b.s.swapped, 1);
    assert_tables(&b, 1, 1, 1, 2);
    snapshot_free(&b.s);
    fake_cleanup(&f);
}

/* A THP known from smaps (AnonHugePages 2048 kB): the first 2 MiB of the
 * mapping is one level-2 leaf, no leaf table, one deposited table; one more
 * page in the second 2 MiB needs a leaf table. Level 1 holds the leaf table
 * and the deposit: 2; bytes (2 + 1 + 1) x 4 KiB. */
static void test_thp_by_smaps(void **state)
{
    struct fake f;
    struct built b;
    fake_init(&f);
    fake_maps1(&f, 0x200000, 0x600000);
    fake_file(&f, "smaps", "000000200000-000000600000 rw-p 00000000 00:00 0 \n"
                           "Size:               4096 kB\n"
                           "KernelPageSize:        4 kB\n"
                           "Rss:                2052 kB\n"
                           "AnonHugePages:      2048 kB\n"
                           "Swap:                  0 kB\n"
                           "THPeligible:    1\n"
                           "VmFlags: rd wr mr mw me ac hg \n");
    fake_present(&f, 0x200000, 512, 0);
    fake_present(&f, 0x400000, 1, 0);
    build(&f, &b);
    assert_int_equal(b.s.thp, 1);
    assert_int_equal(b.s.present, 1);
    assert_int_equal(b.s.thp_guessed, 0);
    assert_true(b.s.vma[0].flags & SNAP_VMA_HG);
    assert_int_equal(b.st.deposited, 1);
    assert_int_equal(b.fp.pages[2], 1);
    assert_int_equal(b.fp.pages[1], 1);
    assert_tables(&b, 1, 1, 1, 2);
    snapshot_free(&b.s);
    fake_cleanup(&f);
}

/* A PMD-mapped page of a file (FilePmdMapped): no leaf table and, on
 * x86-64, no deposit. Only the level-2 and level-3 tables: 8 KiB. */
static void test_file_pmd_no_deposit(void **state)
{
    struct fake f;
    struct built b;
    fake_init(&f);
    fake_file(&f, "maps", "000000200000-000000400000 r-xp 00000000 fe:01 1234   /usr/lib/big.so\n");
    fake_file(&f, "smaps", "000000200000-000000400000 r-xp 00000000 fe:01 1234   /usr/lib/big.so\n"
                           "Rss:                2048 kB\n"
                           "FilePmdMapped:      2048 kB\n");
    fake_present(&f, 0x200000, 512, 0);
    build(&f, &b);
    assert_false(b.s.vma[0].flags & SNAP_VMA_ANON);
    assert_int_equal(b.s.thp, 1);
    assert_int_equal(b.st.deposited, 0);
    assert_tables(&b, 1, 1, 1, 0);
    snapshot_free(&b.s);
    fake_cleanup(&f);
}

/* kpageflags decides: block A's 512 contiguous frames are one order-9 folio
 * (head + THP at the first, tail at the 512th) -> THP; block B starts a
 * folio of 16 pages only (mTHP: no tail at the 512th) -> PTE-mapped; block
 * C is the huge zero page -> PMD-mapped (and also deposited). Level 1: the
 * leaf table of B + deposits of A and C = 3; level 2: 1; level 3: 1. */
static void test_thp_by_kpageflags(void **state)
{
    struct fake f;
    struct built b;
    const uint64_t head = 1ull << KPF_THP | 1ull << KPF_COMPOUND_HEAD,
                   tail = 1ull << KPF_THP | 1ull << KPF_COMPOUND_TAIL;
    fake_init(&f);
    fake_maps1(&f, 0x200000, 0x800000);
    fake_present(&f, 0x200000, 512, 0x10000);
    fake_present(&f, 0x400000, 512, 0x20000);
    fake_present(&f, 0x600000, 512, 0x30000);
    fake_entries(&f, "kpageflags", 0x10000, 1, head, 0);
    fake_entries(&f, "kpageflags", 0x10001, 511, tail, 0);
    fake_entries(&f, "kpageflags", 0x20000, 1, head, 0);
    fake_entries(&f, "kpageflags", 0x20001, 15, tail, 0);
    fake_entries(&f, "kpageflags", 0x30000, 1, head | 1ull << KPF_ZERO_PAGE, 0);
    fake_entries(&f, "kpageflags", 0x30001, 511, tail | 1ull << KPF_ZERO_PAGE, 0);
    build_geom(&f, "x86-64", true, &b);
    assert_true(b.s.pfns);
    assert_int_equal(b.s.thp, 2);
    assert_int_equal(b.s.present, 512);
    assert_int_equal(b.st.deposited, 2);
    assert_int_equal(b.fp.pages[2], 2);
    assert_tables(&b, 1, 1, 1, 3);
    snapshot_free(&b.s);
    /* Without kpageflags (and without smaps) none of them is known to be
     * PMD-mapped: three leaf tables, the same 3 at level 1. */
    build_geom(&f, "x86-64", false, &b);
    assert_int_equal(b.s.thp, 0);
    assert_tables(&b, 1, 1, 1, 3);
    snapshot_free(&b.s);
    fake_cleanup(&f);
}

/* Two fully present blocks, no frame numbers, smaps counts one THP: one of
 * them is kept as the THP, which one is a guess (reported). The count is
 * the same either way for anonymous memory: one leaf + one deposit. */
static void test_thp_guess(void **state)
{
    struct fake f;
    struct built b;
    fake_init(&f);
    fake_maps1(&f, 0x200000, 0x600000);
    fake_file(&f, "smaps", "000000200000-000000600000 rw-p 00000000 00:00 0\n"
                           "AnonHugePages:      2048 kB\n");
    fake_present(&f, 0x200000, 1024, 0);
    build(&f, &b);
    assert_int_equal(b.s.thp, 1);
    assert_int_equal(b.s.thp_guessed, 1);
    assert_int_equal(b.s.present, 512);
    assert_tables(&b, 1, 1, 1, 2);
    snapshot_free(&b.s);
    fake_cleanup(&f);
}

/* A pread chunk ends at a 2 MiB boundary: THPs on either side of it, in a
 * mapping that starts unaligned, are both found. */
static void test_chunk_boundary(void **state)
{
    struct fake f;
    struct built b;
    char t[512];
    fake_init(&f);
    fake_maps1(&f, 0x1000, 0x10001000);
    snprintf(t, sizeof t, "000000001000-000010001000 rw-p 00000000 00:00 0\nAnonHugePages: 4096 kB\n");
    fake_file(&f, "smaps", t);
    fake_present(&f, 0x7e00000, 1024, 0); /* 126 MiB .. 130 MiB */
    fake_present(&f, 0x1000, 1, 0);
    fake_present(&f, 0x10000000, 1, 0);
    build(&f, &b);
    assert_int_equal(b.s.thp, 2);
    assert_int_equal(b.s.present, 2);
    /* leaf tables: 0x0 and 0x10000000 regions; deposits: 2 */
    assert_tables(&b, 1, 1, 1, 4);
    snapshot_free(&b.s);
    fake_cleanup(&f);
}

/* hugetlb with 2 MiB pages (KernelPageSize, VmFlags ht): two huge pages
 * present -> two level-2 leaves, no leaf table, no deposit. */
static void test_hugetlb(void **state)
{
    struct fake f;
    struct built b;
    fake_init(&f);
    fake_file(&f, "maps", "000040000000-000040800000 rw-s 00000000 00:10 77    /anon_hugepage (deleted)\n");
    fake_file(&f, "smaps", "000040000000-000040800000 rw-s 00000000 00:10 77    /anon_hugepage (deleted)\n"
                           "KernelPageSize:     2048 kB\n"
                           "VmFlags: rd wr sh mr mw me ms de ht \n");
    fake_present(&f, 0x40000000, 512, 0);
    fake_present(&f, 0x40400000, 512, 0);
    build(&f, &b);
    assert_int_equal(b.s.hugetlb, 2);
    assert_int_equal(b.s.thp, 0);
    assert_int_equal(b.st.deposited, 0);
    assert_int_equal(b.fp.pages[2], 2);
    assert_tables(&b, 1, 1, 1, 0);
    snapshot_free(&b.s);
    fake_cleanup(&f);
}

/* [vvar] is VM_PFNMAP: pagemap shows nothing, the rule assumes its pages
 * mapped (a leaf table). [vsyscall] is in the kernel half: left out. */
static void test_pfnmap_and_vsyscall(void **state)
{
    struct fake f;
    struct built b;
    fake_init(&f);
    fake_file(&f, "maps", "7f0000000000-7f0000004000 r--p 00000000 00:00 0    [vvar]\n"
                          "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]\n");
    fake_file(&f, "smaps", "7f0000000000-7f0000004000 r--p 00000000 00:00 0    [vvar]\n"
                           "Rss:                   0 kB\n"
                           "VmFlags: rd mr pf io de dd \n"
                           "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]\n"
                           "VmFlags: ex \n");
    fake_file(&f, "pagemap", "");
    build(&f, &b);
    assert_int_equal(b.s.assumed, 4);
    assert_int_equal(b.s.kernel_vmas, 1);
    assert_string_equal(b.s.vma[0].name, "[vvar]");
    assert_false(b.s.vma[0].flags & SNAP_VMA_ANON);
    assert_tables(&b, 1, 1, 1, 1);
    snapshot_free(&b.s);
    fake_cleanup(&f);
}

/* The same pages in other geometries: 5-level has one more table below the
 * root; sv39 cannot hold an address at 2^40; with 16 KiB pages the two 4 KiB
 * pages at 0x400000 and 0x401000 are one page. */
static void test_geometries(void **state)
{
    struct fake f;
    struct built b;
    char t[256];
    fake_init(&f);
    snprintf(t, sizeof t, "000000400000-000000402000 rw-p 00000000 00:00 0\n"
                          "%012llx-%012llx rw-p 00000000 00:00 0\n",
             1ull << 40, (1ull << 40) + PAGE);
    fake_file(&f, "maps", t);
    fake_present(&f, 0x400000, 2, 0);
    fake_present(&f, 1ull << 40, 1, 0);
    build_geom(&f, "x86-64-5l", false, &b);
    /* A level-4 table spans 256 TiB: one for both. A level-3 table spans
     * 512 GiB: 0x400000 and 2^40 (1 TiB) need one each, and so below. */
    assert_int_equal(b.fp.tables[5], 1);
    assert_int_equal(b.fp.tables[4], 1);
    assert_int_equal(b.fp.tables[3], 2);
    assert_int_equal(b.fp.tables[2], 2);
    assert_int_equal(b.fp.tables[1], 2);
    snapshot_free(&b.s);
    build_geom(&f, "sv39", false, &b);
    assert_int_equal(b.st.out_of_range, 1);
    assert_int_equal(b.st.mapped, 2);
    snapshot_free(&b.s);
    build_geom(&f, "arm64-16k", false, &b);
    assert_int_equal(b.st.mapped, 2); /* one 16 KiB page at 0x400000, one at 2^40 */
    assert_int_equal(b.fp.pages[1], 2);
    snapshot_free(&b.s);
    fake_cleanup(&f);
}

static void test_status(void **state)
{
    struct fake f;
    struct built b;
    fake_init(&f);
    fake_maps1(&f, 0x400000, 0x401000);
    fake_present(&f, 0x400000, 1, 0);
    fake_file(&f, "status", "Name:\tfake proc\nUmask:\t0022\nState:\tS (sleeping)\nPid:\t4242\n"
                            "VmPTE:\t      12 kB\nVmSwap:\t       0 kB\n");
    build(&f, &b);
    assert_string_equal(b.s.comm, "fake proc");
    assert_int_equal(b.s.pid, 4242);
    assert_int_equal(b.s.vmpte_kb, 12);
    assert_int_equal(b.fp.bytes, 12 * KiB);
    snapshot_free(&b.s);
    fake_cleanup(&f);
}

/* ---- malformed input ------------------------------------------------------ */

struct bad_case {
    const char *text;
    const char *where_suffix; /* ":LINE" */
    const char *expected;     /* a piece of it */
    const char *found;        /* a piece of it */
};

static void test_maps_errors(void **state)
{
    static const struct bad_case cases[] = {
        {"00400000-00401000 r-xp 00000000 08:01 123 /bin/x\nzz-1000 r--p 0 00:00 0\n", ":2",
         "start address", "\"zz-1000\""},
        {"1000-2000 rwxq 00000000 00:00 0\n", ":1", "permissions", "\"rwxq\""},
        {"1000-2000 r--p 00000000 00:00\n", ":1", "inode", "end of line"},
        {"1000-2000 r--p 00000000 0000 0\n", ":1", "device", "\"0000\""},
        {"1000 r--p 0 00:00 0\n", ":1", "'-'", "\" \""},
        {"1000-2000r--p 0 00:00 0\n", ":1", "end address", "\"2000r--p\""},
        {"1000-2000 r--p 0x0 00:00 0\n", ":1", "file offset", "\"0x0\""},
        {"1000-2000 r--p 0 00:00 12x\n", ":1", "inode", "\"12x\""},
        {"2000-1000 r--p 0 00:00 0\n", ":1", "above the start", "2000-1000"},
        {"1000-2001 r--p 0 00:00 0\n", ":1", "page-aligned", "1000-2001"},
        {"1000-3000 r--p 0 00:00 0\n2000-4000 r--p 0 00:00 0\n", ":2", "address order",
         "2000-4000"},
        {"1000-2000 r--p 0 00:00 0\n\n", ":2", "start address", "end of line"},
        {"10000000000000000-10000000000001000 r--p 0 00:00 0\n", ":1", "start address",
         "\"10000000000000000-"},
        {"1000-2000 r--p 0 00:00 99999999999999999999999\n", ":1", "inode", "\"9999"},
        {"1000-2000 r--p 0 00:00 0 ok\n3000-4000 r--p 0 00:00 0 \x01\xff\n5000-4000 r--p 0 00:00 0", ":3",
         "above the start", "5000-4000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct snapshot s;
        struct vmsim_source_error err;
        snapshot_init(&s);
        memset(&err, 0, sizeof err);
        int rc = snapshot_parse_maps(&s, cases[i].text, strlen(cases[i].text), "t/maps", &err);
        if (rc != VMSIM_EPARSE || !strstr(err.where, cases[i].where_suffix) ||
            !strstr(err.expected, cases[i].expected) || !strstr(err.found, cases[i].found))
            print_error("case %zu: rc %d, where %s, expected %s, found %s\n", i, rc, err.where,
                        err.expected, err.found);
        assert_int_equal(rc, VMSIM_EPARSE);
        char want[32];
        snprintf(want, sizeof want, "t/maps%s", cases[i].where_suffix);
        assert_string_equal(err.where, want);
        assert_non_null(strstr(err.expected, cases[i].expected));
        assert_non_null(strstr(err.found, cases[i].found));
        snapshot_free(&s);
    }
}

static void test_smaps_errors(void **state)
{
    static const struct bad_case cases[] = {
        {"1000-2000 r--p 0 00:00 0\nRss: abc kB\n", ":2", "a size in kB", "\"abc\""},
        {"1000-2000 r--p 0 00:00 0\nRss: 12 MB\n", ":2", "the unit kB", "\"MB\""},
        {"Rss: 12 kB\n", ":1", "a mapping line before", "Rss"},
        {"1000-2000 r--p 0 00:00 0\nKernelPageSize: 12 kB\n", ":2", "power-of-two",
         "KernelPageSize"},
        {"1000-2000 r--p 0 00:00 0\nRss 12 kB\n", ":2", "start address", "\"Rss\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct snapshot s;
        struct vmsim_source_error err;
        snapshot_init(&s);
        memset(&err, 0, sizeof err);
        const char *maps = "1000-2000 r--p 0 00:00 0\n";
        assert_int_equal(snapshot_parse_maps(&s, maps, strlen(maps), "t/maps", &err), 0);
        int rc = snapshot_parse_smaps(&s, cases[i].text, strlen(cases[i].text), "t/smaps", &err);
        if (rc != VMSIM_EPARSE || !strstr(err.where, cases[i].where_suffix) ||
            !strstr(err.expected, cases[i].expected) || !strstr(err.found, cases[i].found))
            print_error("case %zu: rc %d, where %s, expected %s, found %s\n", i, rc, err.where,
                        err.expected, err.found);
        assert_int_equal(rc, VMSIM_EPARSE);
        assert_non_null(strstr(err.where, cases[i].where_suffix));
        assert_non_null(strstr(err.expected, cases[i].expected));
        assert_non_null(strstr(err.found, cases[i].found));
        snapshot_free(&s);
    }
}

static void test_missing_files(void **state)
{
    struct fake f;
    struct snapshot s;
    struct vmsim_source_error err;
    fake_init(&f);
    assert_int_equal(snapshot_load(f.dir, NULL, &s, &err), VMSIM_ENOENT);
    assert_non_null(strstr(err.where, "/pagemap"));
    snapshot_free(&s);
    fake_present(&f, 0x400000, 1, 0);
    assert_int_equal(snapshot_load(f.dir, NULL, &s, &err), VMSIM_ENOENT);
    assert_non_null(strstr(err.where, "/maps"));
    snapshot_free(&s);
    fake_cleanup(&f);
}

/* The command on a fake directory: JSON numbers, and a malformed maps line
 * reported as file:line, expected, found. */
static void test_cli_fake(void **state)
{
    struct fake f;
    fake_init(&f);
    fake_file(&f, "maps", "000000400000-000000401000 rw-p 00000000 00:00 0\n");
    fake_present(&f, 0x400000, 1, 0);
    fake_file(&f, "status", "Name:\tfake\nPid:\t99\nVmPTE:\t      12 kB\n");
    struct cmd_result r = run_vmsim("snapshot --proc %s --json - --check", f.dir);
    assert_int_equal(r.status, 0);
    assert_int_equal(json_number(r.out, "bytes_without_root"), 12288);
    assert_int_equal(json_number(r.out, "kernel_vmpte_bytes"), 12288);
    assert_int_equal(json_number(r.out, "present_pages"), 1);
    assert_non_null(strstr(r.out, "\"agrees\": true"));
    cmd_result_free(&r);
    r = run_vmsim("snapshot --proc %s", f.dir);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "process 99 (fake): 1 VMAs, 1 present pages, 0 swapped, 0 THP\n"
                                  "page tables (x86-64, 4 levels):  level 4 (root): 1   level 3: 1"
                                  "   level 2: 1   level 1: 1\n"
                                  "  without root: 12 KiB    root: 4 KiB\n"));
    assert_non_null(strstr(r.out, "kernel VmPTE: 12 kB  -> agrees\n"));
    cmd_result_free(&r);
    /* a different kernel number: reported, and --check fails */
    fake_file(&f, "status", "Name:\tfake\nPid:\t99\nVmPTE:\t      20 kB\n");
    r = run_vmsim("snapshot --proc %s --check", f.dir);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.out, "differs: the kernel holds 8 kB more"));
    cmd_result_free(&r);
    fake_file(&f, "maps", "000000400000-000000401000 rw-p 00000000 00:00 0\n"
                          "000000500000-000000401000 rw-p 00000000 00:00 0\n");
    r = run_vmsim("snapshot --proc %s", f.dir);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "/maps:2: expected an end address above the start address, "
                                  "found \"000000500000-000000401000"));
    cmd_result_free(&r);
    r = run_vmsim("snapshot --pid 0");
    assert_int_equal(r.status, 2);
    cmd_result_free(&r);
    r = run_vmsim("snapshot");
    assert_int_equal(r.status, 2);
    cmd_result_free(&r);
    fake_cleanup(&f);
}

/* ---- the real kernel -------------------------------------------------------- */

static long long status_vmpte_kb(pid_t pid)
{
    char p[64], *t;
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    assert_non_null(t = read_file(p, NULL));
    char *v = strstr(t, "VmPTE:");
    long long kb = v ? strtoll(v + 6, NULL, 10) : -1;
    free(t);
    return kb;
}

static void touch(volatile char *p) { *p = 1; }
static char peek(volatile char *p) { return *p; }

static char *align_up(char *p, uint64_t a) { return (char *)(((uintptr_t)p + a - 1) & ~(uintptr_t)(a - 1)); }

enum { CHILD_PATTERN, CHILD_DONTNEED };

/* What the child maps before it stops. Returns 0 or an errno. */
static int child_pattern(int mode)
{
    char *r = mmap(NULL, 6 * GiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (r == MAP_FAILED)
        return errno;
    char *a = align_up(r, GiB);
    if (mode == CHILD_DONTNEED) {
        /* A page in a fresh GiB, then MADV_DONTNEED: the kernel keeps the
         * now empty leaf table and the level-2 table above it. One page in
         * the GiB before keeps the level-3 table in use in both counts. */
        touch(a);
        touch(a + GiB);
        return madvise(a + GiB, PAGE, MADV_DONTNEED) ? errno : 0;
    }
    /* 100 written pages, every third, in three 1 GiB-separated regions at
     * different offsets; 50 read-only pages (the zero page) in a fourth. */
    for (int g = 0; g < 3; g++)
        for (int i = 0; i < 100; i++)
            touch(a + (uint64_t)g * GiB + (uint64_t)g * 301 * PAGE + (uint64_t)i * 3 * PAGE);
    for (int i = 0; i < 50; i++)
        (void)peek(a + 3 * GiB + (uint64_t)i * PAGE);
    /* A guard page (MADV_GUARD_INSTALL = 102; older kernels refuse it,
     * which is fine) alone in a fifth GiB:
     * a PTE marker, no page, yet it needs a leaf and a level-2 table. */
    (void)madvise(a + 4 * GiB + PAGE, PAGE, 102);
    /* THP: a 2 MiB-aligned 4 MiB region with MADV_HUGEPAGE, fully written;
     * and a 2 MiB one only read (the huge zero page). */
    char *h = mmap(NULL, 12 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (h == MAP_FAILED)
        return errno;
    char *t = align_up(h, 2 * MiB);
    if (madvise(t, 4 * MiB, MADV_HUGEPAGE) || madvise(t + 6 * MiB, 2 * MiB, MADV_HUGEPAGE))
        return errno;
    memset(t, 0x5a, 4 * MiB);
    (void)peek(t + 6 * MiB + 100);
    /* A private file mapping (this program), read: page-cache pages. */
    int fd = open("/proc/self/exe", O_RDONLY);
    if (fd >= 0) {
        char *x = mmap(NULL, 64 * KiB, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (x != MAP_FAILED)
            for (int i = 0; i < 16; i += 2)
                (void)peek(x + (uint64_t)i * PAGE);
    }
    return 0;
}

struct child {
    pid_t pid;
    int hold; /* closing it lets the child exit */
};

static void child_start(struct child *c, int mode)
{
    int ready[2], hold[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(hold), 0);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        close(ready[0]);
        close(hold[1]);
        unsigned char st = (unsigned char)child_pattern(mode);
        if (write(ready[1], &st, 1) != 1)
            _exit(1);
        while (read(hold[0], &st, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    close(ready[1]);
    close(hold[0]);
    unsigned char st = 0xff;
    assert_int_equal(read(ready[0], &st, 1), 1);
    close(ready[0]);
    assert_int_equal(st, 0);
    c->hold = hold[1];
}

static void child_stop(struct child *c)
{
    close(c->hold);
    int st;
    assert_int_equal(waitpid(c->pid, &st, 0), c->pid);
}

/* Load /proc/PID with the library (scan or pread) and rebuild in x86-64. */
static void kernel_build(const char *dir, bool no_scan, struct built *b)
{
    struct snapshot_opts o = {.kpageflags = "/proc/kpageflags", .no_scan = no_scan};
    struct vmsim_source_error err;
    int rc = snapshot_load(dir, &o, &b->s, &err);
    if (rc)
        print_error("%s: expected %s, found %s\n", err.where, err.expected, err.found);
    assert_int_equal(rc, 0);
    assert_true(b->s.stable);
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    struct vmsim *sim;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    assert_int_equal(snapshot_build(sim, 1, &b->s, &b->st), 0);
    vmsim_footprint(sim, &b->fp);
    vmsim_destroy(sim);
}

static void report(const char *what, const struct built *b, long long kernel_kb)
{
    print_message("[ snapshot ] %-34s %s: vmsim %llu kB (L3 %llu, L2 %llu, L1 %llu incl. %llu "
                  "deposited), kernel VmPTE %lld kB; %llu present, %llu swapped, %llu THP\n",
                  what, b->s.method == SNAP_METHOD_SCAN ? "scan" : "pread",
                  (unsigned long long)b->fp.bytes / 1024, (unsigned long long)b->fp.tables[3],
                  (unsigned long long)b->fp.tables[2], (unsigned long long)b->fp.tables[1],
                  (unsigned long long)b->st.deposited, kernel_kb,
                  (unsigned long long)b->s.present, (unsigned long long)b->s.swapped,
                  (unsigned long long)b->s.thp);
}

static void test_kernel_child(void **state)
{
    struct child c;
    char dir[64];
    child_start(&c, CHILD_PATTERN);
    snprintf(dir, sizeof dir, "/proc/%d", (int)c.pid);
    long long kb = status_vmpte_kb(c.pid);
    for (int no_scan = 0; no_scan <= 1; no_scan++) {
        /* pread over ASan's terabytes of shadow would take minutes */
        if (no_scan && UNDER_ASAN)
            break;
        struct built b;
        kernel_build(dir, no_scan, &b);
        report("forked child (pattern)", &b, kb);
        assert_true(b.s.present >= 300 + 50);
        if (b.s.thp == 0)
            print_message("[ snapshot ] no THP could be allocated (AnonHugePages 0): equality "
                          "checked without them\n");
        assert_int_equal(b.s.vmpte_kb, kb);
        assert_int_equal(b.fp.bytes, (uint64_t)kb * 1024);
        snapshot_free(&b.s);
    }
    struct cmd_result r = run_vmsim("snapshot --pid %d --json - --check", (int)c.pid);
    if (r.status != 0)
        print_error("%s%s", r.out, r.err);
    assert_int_equal(r.status, 0);
    assert_int_equal(json_number(r.out, "bytes_without_root"), kb * 1024);
    assert_int_equal(json_number(r.out, "kernel_vmpte_bytes"), kb * 1024);
    cmd_result_free(&r);
    assert_int_equal(status_vmpte_kb(c.pid), kb); /* the child did not move */
    child_stop(&c);
}

/* The known divergence, measured: after MADV_DONTNEED of the only page in
 * a GiB, the kernel keeps its leaf table and level-2 table (Linux frees
 * page tables on munmap; CONFIG_PT_RECLAIM frees an emptied PTE table only
 * when the call covers its whole 2 MiB). vmsim sees no page there: exactly
 * 8 KiB less. */
static void test_kernel_dontneed_divergence(void **state)
{
    struct child c;
    char dir[64];
    struct built b;
    child_start(&c, CHILD_DONTNEED);
    snprintf(dir, sizeof dir, "/proc/%d", (int)c.pid);
    long long kb = status_vmpte_kb(c.pid);
    kernel_build(dir, false, &b);
    report("child after MADV_DONTNEED", &b, kb);
    assert_int_equal((uint64_t)kb * 1024 - b.fp.bytes, 8192);
    snapshot_free(&b.s);
    child_stop(&c);
}

/* This test process, through the library; then vmsim --self. */
static void test_kernel_self(void **state)
{
    struct built b;
    kernel_build("/proc/self", false, &b);
    report("the test itself", &b, b.s.vmpte_kb);
    assert_true(b.s.vmpte_kb > 0);
    assert_int_equal(b.fp.bytes, (uint64_t)b.s.vmpte_kb * 1024);
    snapshot_free(&b.s);
    struct cmd_result r = run_vmsim("snapshot --self --json - --check");
    if (r.status != 0)
        print_error("%s%s", r.out, r.err);
    assert_int_equal(r.status, 0);
    print_message("[ snapshot ] vmsim --self: vmsim %lld B, kernel VmPTE %lld B\n",
                  json_number(r.out, "bytes_without_root"), json_number(r.out, "kernel_vmpte_bytes"));
    cmd_result_free(&r);
}

/* A `sleep` started here, once it sleeps. */
static void test_kernel_sleep(void **state)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/bin/sleep", "sleep", "60", (char *)NULL);
        _exit(127);
    }
    char p[64], *stat = NULL;
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    for (int i = 0; i < 200; i++) { /* up to 2 s: exec'd and asleep */
        free(stat);
        stat = read_file(p, NULL);
        if (stat && strstr(stat, "(sleep) S"))
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_non_null(strstr(stat, "(sleep) S"));
    free(stat);
    long long kb = status_vmpte_kb(pid);
    struct cmd_result r = run_vmsim("snapshot --pid %d --json - --check", (int)pid);
    if (r.status != 0)
        print_error("%s%s", r.out, r.err);
    assert_int_equal(r.status, 0);
    assert_int_equal(json_number(r.out, "bytes_without_root"), kb * 1024);
    print_message("[ snapshot ] sleep: vmsim %lld B, kernel VmPTE %lld B\n",
                  json_number(r.out, "bytes_without_root"), kb * 1024);
    cmd_result_free(&r);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_page),
        cmocka_unit_test(test_one_leaf_table),
        cmocka_unit_test(test_pages_2m_apart),
        cmocka_unit_test(test_gib_and_512gib_apart),
        cmocka_unit_test(test_swapped),
        cmocka_unit_test(test_thp_by_smaps),
        cmocka_unit_test(test_file_pmd_no_deposit),
        cmocka_unit_test(test_thp_by_kpageflags),
        cmocka_unit_test(test_thp_guess),
        cmocka_unit_test(test_chunk_boundary),
        cmocka_unit_test(test_hugetlb),
        cmocka_unit_test(test_pfnmap_and_vsyscall),
        cmocka_unit_test(test_geometries),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_maps_errors),
        cmocka_unit_test(test_smaps_errors),
        cmocka_unit_test(test_missing_files),
        cmocka_unit_test(test_cli_fake),
        cmocka_unit_test(test_kernel_child),
        cmocka_unit_test(test_kernel_dontneed_divergence),
        cmocka_unit_test(test_kernel_self),
        cmocka_unit_test(test_kernel_sleep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
