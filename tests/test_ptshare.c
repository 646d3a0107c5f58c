/* Shared leaf tables (--share-tables, docs/kernel.md "Shared page-table
 * subtrees"): processes mapping the same file block alike point to one
 * leaf table. Every expected number is worked out in the comments from the
 * x86-64 geometry (4 levels of 512 entries of 8 bytes: every table is one
 * 4 KiB frame; a leaf table maps 2 MiB, an L2 table 1 GiB, an L3 table
 * 512 GiB), never from the program's output.
 *
 * One process whose mappings lie in one 1 GiB region holds a root, one L3
 * and one L2 table, plus a leaf table per 2 MiB block it touched:
 * page_tables.bytes (no roots, the VmPTE rule) is 4 KiB x (2 + leaf
 * tables). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vmsim/vmsim.h"

#define PAGE 4096ull
#define MB2 (2ull << 20)
#define GB1 (1ull << 30)
#define FILE_ID 7

static struct vmsim_config config(bool share)
{
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    cfg.phys_bytes = 1ull << 30;
    cfg.share_tables = share;
    return cfg;
}

static void run1(struct vmsim *sim, struct vmsim_event e)
{
    assert_int_equal(vmsim_run(sim, &e, 1), 0);
}

/* pid maps len bytes of FILE_ID from offset 0 at addr with prot. */
static void map_file(struct vmsim *sim, vmsim_pid_t pid, uint64_t addr, uint64_t len, unsigned prot)
{
    struct vmsim_event m = ev_os(VMSIM_EV_MMAP, prot, pid, addr, len);
    m.file = FILE_ID;
    run1(sim, m);
}

/* pid reads (or writes) every page of [addr, addr + len). */
static void touch(struct vmsim *sim, vmsim_pid_t pid, uint64_t addr, uint64_t len, unsigned kind)
{
    for (uint64_t a = addr; a < addr + len; a += PAGE)
        run1(sim, ev_access(kind, pid, a));
}

static uint64_t pt_bytes(const struct vmsim *sim)
{
    struct vmsim_pt_footprint fp;
    vmsim_footprint(sim, &fp);
    return fp.bytes;
}

static uint64_t leaf_tables(const struct vmsim *sim)
{
    struct vmsim_pt_footprint fp;
    vmsim_footprint(sim, &fp);
    return fp.tables[1];
}

static uint64_t leaves(const struct vmsim *sim)
{
    struct vmsim_pt_footprint fp;
    vmsim_footprint(sim, &fp);
    return fp.pages[1];
}

/* N processes map one 64 MiB file read-only, process i at i GiB (2 MiB
 * aligned, offset 0: every block's offset agrees), and read every page.
 * 64 MiB / 2 MiB = 32 leaf tables.
 *   without sharing: N x (L3 + L2 + 32 leaf tables) = N x 34 x 4 KiB
 *   with sharing:    N x (L3 + L2) + 32 = (2N + 32) x 4 KiB
 * N = 1, 2, 10: 139,264 / 139,264; 278,528 / 147,456; 1,392,640 / 212,992.
 * The leaves (pages_by_level) are entries of the tables: 16,384 per
 * table set, N x 16,384 without sharing. Shared: 32 tables, 32 N sharers,
 * 32 (N - 1) links made; frames: 16,384 page-cache pages + N roots + the
 * tables. The processes then exit, the first (whose counts held the shared
 * tables) first: after exit j, (N - j) x 2 + 32 tables while N - j > 0 ...
 * and 0 after the last; the page cache keeps its 16,384 frames. */
static void test_leaf_tables_once(void **state)
{
    static const unsigned ns[] = {1, 2, 10};
    const uint64_t len = 64ull << 20, pages = len / PAGE;
    for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++)
        for (int share = 0; share < 2; share++) {
            const uint64_t n = ns[c];
            struct vmsim_config cfg = config(share);
            struct vmsim *sim = new_machine(&cfg);
            for (vmsim_pid_t pid = 1; pid <= n; pid++) {
                map_file(sim, pid, pid * GB1, len, VMSIM_PROT_R);
                touch(sim, pid, pid * GB1, len, VMSIM_READ);
            }
            const struct vmsim_stats *st = vmsim_get_stats(sim);
            const uint64_t tables = share ? 2 * n + 32 : 34 * n;
            assert_int_equal(pt_bytes(sim), tables * PAGE);
            assert_int_equal(st->pt_peak_bytes, tables * PAGE);
            assert_int_equal(leaf_tables(sim), share ? 32 : 32 * n);
            assert_int_equal(leaves(sim), share ? pages : n * pages);
            assert_int_equal(st->frames_used, pages + n + tables);
            assert_int_equal(st->share.tables, share && n > 1 ? 32 : 0);
            assert_int_equal(st->share.sharers, share && n > 1 ? 32 * n : 0);
            assert_int_equal(st->share.attached, share ? 32 * (n - 1) : 0);
            /* what sharing would still save: nothing once it is done */
            assert_int_equal(st->pt_shareable, share ? 0 : (n - 1) * 32 * PAGE);
            for (vmsim_pid_t pid = 1; pid <= n; pid++) {
                run1(sim, ev_os(VMSIM_EV_EXIT, 0, pid, 0, 0));
                const uint64_t left = n - pid;
                const uint64_t now = share ? (left ? 2 * left + 32 : 0) : 34 * left;
                assert_int_equal(pt_bytes(sim), now * PAGE);
                assert_int_equal(leaves(sim), share ? (left ? pages : 0) : left * pages);
                assert_int_equal(vmsim_get_stats(sim)->frames_used, pages + left + now);
            }
            assert_int_equal(vmsim_get_stats(sim)->share.detached, share ? 32 * (n - 1) : 0);
            vmsim_destroy(sim);
        }
}

/* Two processes share the 32 leaf tables of the 64 MiB file (above:
 * (2 x 2 + 32) x 4 KiB = 147,456 bytes). Process 2 makes one page
 * executable: its leaf table of that block is copied for it, one more
 * table: 151,552 bytes; 31 tables stay shared (62 sharers), one copy
 * made. Process 2's copy maps the same 512 pages (pages_by_level 16,384 +
 * 512). Both still read every page; a fetch of the changed page works in
 * process 2 and is refused in process 1. */
static void test_mprotect_unshares_one(void **state)
{
    const uint64_t len = 64ull << 20, pages = len / PAGE;
    struct vmsim_config cfg = config(true);
    struct vmsim *sim = new_machine(&cfg);
    for (vmsim_pid_t pid = 1; pid <= 2; pid++) {
        map_file(sim, pid, pid * GB1, len, VMSIM_PROT_R);
        touch(sim, pid, pid * GB1, len, VMSIM_READ);
    }
    assert_int_equal(pt_bytes(sim), 36 * PAGE);
    const uint64_t page = 2 * GB1 + 5 * MB2 + 7 * PAGE; /* in the sixth block */
    run1(sim, ev_os(VMSIM_EV_MPROTECT, VMSIM_PROT_R | VMSIM_PROT_X, 2, page, PAGE));
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_int_equal(pt_bytes(sim), 37 * PAGE);
    assert_int_equal(leaf_tables(sim), 33);
    assert_int_equal(leaves(sim), pages + 512);
    assert_int_equal(st->share.tables, 31);
    assert_int_equal(st->share.sharers, 62);
    assert_int_equal(st->share.unshared, 1);
    const uint64_t prot = st->faults_protection, faults = st->faults_total;
    run1(sim, ev_access(VMSIM_FETCH, 2, page));
    run1(sim, ev_access(VMSIM_FETCH, 1, page - GB1));
    st = vmsim_get_stats(sim);
    assert_int_equal(st->faults_protection - prot, 1); /* process 1's */
    assert_int_equal(st->faults_total - faults, 1);
    /* nothing else moved: every page still mapped, no fault on reading */
    touch(sim, 1, GB1, len, VMSIM_READ);
    touch(sim, 2, 2 * GB1, len, VMSIM_READ);
    assert_int_equal(vmsim_get_stats(sim)->faults_total - faults, 1);
    assert_int_equal(pt_bytes(sim), 37 * PAGE);
    vmsim_destroy(sim);
}

/* A walk of a shared table reads the same physical address from every
 * sharer, seen through a data cache that walks fill (one level, 1 MiB,
 * nothing evicted; program data off). Process 1 maps 2 MiB of the file at
 * 1 GiB and reads page 3; process 2 maps it at 2 GiB and reads its page 3.
 * Process 2's access: a cold walk reads its new root's entry (a miss) and
 * stops (nothing mapped): a fault, which points its new L2 entry to the
 * shared table, whose entry for page 3 process 1 filled: fixed. The retry
 * reads the root entry again (a hit), its new L3 and L2 entries (misses)
 * and the leaf entry: the line process 1's walk read, a hit when the table
 * is shared, a miss when process 2 has a table of its own. pt hits 2 and
 * misses 3 with sharing, 1 and 4 without. */
/* Process 1 maps len bytes of the file at 1 GiB and reads page 3; process
 * 2 maps them at 2 GiB and reads its page 3: the page-table lines process
 * 2's access hits and misses in the cache, with and without sharing; the
 * machine is left to the caller's checks (check, NULL: none). */
static void walk_through_cache(uint64_t len, const uint64_t hits[2], const uint64_t misses[2],
                               void (*check)(struct vmsim *sim, int share))
{
    for (int share = 0; share < 2; share++) {
        struct vmsim_config cfg = config(share);
        char why[160];
        assert_int_equal(vmsim_cache_parse("l1=1024x16x64:4,dram=100,data=off", &cfg, why, sizeof why),
                         VMSIM_OK);
        struct vmsim *sim = new_machine(&cfg);
        map_file(sim, 1, GB1, len, VMSIM_PROT_R);
        map_file(sim, 2, 2 * GB1, len, VMSIM_PROT_R);
        run1(sim, ev_access(VMSIM_READ, 1, GB1 + 3 * PAGE));
        const struct vmsim_stats *st = vmsim_get_stats(sim);
        const uint64_t h = st->cache[0].pt_hits, m = st->cache[0].pt_misses;
        run1(sim, ev_access(VMSIM_READ, 2, 2 * GB1 + 3 * PAGE));
        st = vmsim_get_stats(sim);
        assert_int_equal(st->cache[0].pt_hits - h, hits[share]);
        assert_int_equal(st->cache[0].pt_misses - m, misses[share]);
        assert_int_equal(st->cache[0].misses, st->cache[0].pt_misses); /* data off */
        if (check)
            check(sim, share);
        vmsim_destroy(sim);
    }
}

static void test_walk_reads_shared_address(void **state)
{
    walk_through_cache(MB2, (const uint64_t[2]){1, 2}, (const uint64_t[2]){4, 3}, NULL);
}

/* --verify through shared tables. Processes 1 and 2 map 2 MiB of the file
 * shared and writable, one leaf table for both; memory is small enough
 * that the page cache evicts (written back to the file): 2 processes x
 * (root, L3, L2) + the shared leaf table = 7 table frames, and 16 frames
 * for data. Process 1 writes the 512 pages, process 2 reads them: 512
 * checks, each seeing process 1's write. Then processes 3 and 4 map the
 * same file private read-only at other addresses (their own shared
 * table), process 3 makes it writable (its copy) and writes 8 pages
 * (copy-on-write), process 4 reads the 8: the file's contents, not 3's
 * writes; 3 reads them back: its own. No mismatch in 512 + 16 checks. */
static void test_verify_shared_writes(void **state)
{
    struct vmsim_config cfg = config(true);
    cfg.verify = true;
    cfg.phys_bytes = (7 + 16) * PAGE;
    struct vmsim *sim = new_machine(&cfg);
    map_file(sim, 1, GB1, MB2, VMSIM_PROT_R | VMSIM_PROT_W | VMSIM_MAP_SHARED);
    map_file(sim, 2, 2 * GB1, MB2, VMSIM_PROT_R | VMSIM_PROT_W | VMSIM_MAP_SHARED);
    for (uint64_t i = 0; i < 512; i++) {
        run1(sim, ev_access(VMSIM_WRITE, 1, GB1 + i * PAGE));
        run1(sim, ev_access(VMSIM_READ, 2, 2 * GB1 + ((i * 37) % 512) * PAGE));
    }
    touch(sim, 2, 2 * GB1, MB2, VMSIM_READ);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_int_equal(st->verify_mismatches, 0);
    assert_int_equal(st->faults_oom, 0);
    assert_true(st->file_writes > 0); /* dirty pages left through the shared table */
    const uint64_t checks = st->verify_checks;
    run1(sim, ev_os(VMSIM_EV_EXIT, 0, 1, 0, 0));
    run1(sim, ev_os(VMSIM_EV_EXIT, 0, 2, 0, 0));
    cfg.phys_bytes = 1ull << 30;
    vmsim_destroy(sim);

    sim = new_machine(&cfg);
    map_file(sim, 1, GB1, MB2, VMSIM_PROT_R | VMSIM_PROT_W | VMSIM_MAP_SHARED);
    touch(sim, 1, GB1, 8 * PAGE, VMSIM_WRITE);
    map_file(sim, 3, 3 * GB1, MB2, VMSIM_PROT_R);
    map_file(sim, 4, 4 * GB1, MB2, VMSIM_PROT_R);
    touch(sim, 3, 3 * GB1, MB2, VMSIM_READ);
    touch(sim, 4, 4 * GB1, MB2, VMSIM_READ);
    st = vmsim_get_stats(sim);
    assert_int_equal(st->share.tables, 1); /* 3 and 4; 1's is shared-writable, alone */
    run1(sim, ev_os(VMSIM_EV_MPROTECT, VMSIM_PROT_R | VMSIM_PROT_W, 3, 3 * GB1, MB2));
    touch(sim, 3, 3 * GB1, 8 * PAGE, VMSIM_WRITE);
    touch(sim, 4, 4 * GB1, 8 * PAGE, VMSIM_READ);
    touch(sim, 3, 3 * GB1, 8 * PAGE, VMSIM_READ);
    st = vmsim_get_stats(sim);
    assert_int_equal(st->share.unshared, 1);
    assert_int_equal(st->faults_cow_copy, 8);
    assert_int_equal(st->verify_checks, 2 * 512 + 16);
    assert_int_equal(st->verify_mismatches, 0);
    assert_true(checks >= 512);
    vmsim_destroy(sim);
}

/* munmap and exit. Processes 1, 2, 3 map 2 MiB of the file read-only at
 * 1, 2, 3 GiB and read its 512 pages: one leaf table, 3 x 2 + 1 = 7
 * tables (28,672 bytes), 512 leaves.
 * - 1 unmaps the whole block: it lets go (no copy); its L2 and L3 empty
 *   and go: 2 x 2 + 1 = 5 tables; still 512 leaves; detached 1.
 * - 2 unmaps one page: it gets a copy (a new table) and drops the page
 *   from it: 6 tables, 512 + 511 leaves; no table shared any more.
 * - 3 exits: its tables go, the leaf table with them (its last user):
 *   3 tables (2's), 511 leaves. Then 2 exits: 0.
 * frames: 512 page-cache pages stay; plus the tables and the live roots. */
static void test_munmap_and_exit(void **state)
{
    struct vmsim_config cfg = config(true);
    struct vmsim *sim = new_machine(&cfg);
    for (vmsim_pid_t pid = 1; pid <= 3; pid++) {
        map_file(sim, pid, pid * GB1, MB2, VMSIM_PROT_R);
        touch(sim, pid, pid * GB1, MB2, VMSIM_READ);
    }
    assert_int_equal(pt_bytes(sim), 7 * PAGE);
    run1(sim, ev_os(VMSIM_EV_MUNMAP, 0, 1, GB1, MB2));
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_int_equal(pt_bytes(sim), 5 * PAGE);
    assert_int_equal(leaves(sim), 512);
    assert_int_equal(st->share.detached, 1);
    assert_int_equal(st->share.tables, 1);
    assert_int_equal(st->share.sharers, 2);
    assert_int_equal(st->frames_used, 512 + 3 + 5);
    run1(sim, ev_os(VMSIM_EV_MUNMAP, 0, 2, 2 * GB1 + 9 * PAGE, PAGE));
    st = vmsim_get_stats(sim);
    assert_int_equal(pt_bytes(sim), 6 * PAGE);
    assert_int_equal(leaves(sim), 512 + 511);
    assert_int_equal(st->share.unshared, 1);
    assert_int_equal(st->share.tables, 0);
    run1(sim, ev_os(VMSIM_EV_EXIT, 0, 3, 0, 0));
    st = vmsim_get_stats(sim);
    assert_int_equal(pt_bytes(sim), 3 * PAGE);
    assert_int_equal(leaves(sim), 511);
    assert_int_equal(st->frames_used, 512 + 2 + 3);
    /* the page cache can still let every page go: no mapping left behind */
    run1(sim, ev_os(VMSIM_EV_EXIT, 0, 2, 0, 0));
    assert_int_equal(pt_bytes(sim), 0);
    assert_int_equal(vmsim_get_stats(sim)->frames_used, 512 + 1);
    vmsim_destroy(sim);
}

/* fork: process 1 maps 2 MiB of the file shared and writable and writes
 * its 512 pages; its child points to the same leaf table (one link, no
 * leaf copied): 2 x 2 + 1 = 5 tables. The child's writes are the
 * parent's reads (the same frames through the same table). */
static void test_fork_links(void **state)
{
    struct vmsim_config cfg = config(true);
    cfg.verify = true;
    struct vmsim *sim = new_machine(&cfg);
    map_file(sim, 1, GB1, MB2, VMSIM_PROT_R | VMSIM_PROT_W | VMSIM_MAP_SHARED);
    touch(sim, 1, GB1, MB2, VMSIM_WRITE);
    run1(sim, ev_os(VMSIM_EV_FORK, 0, 1, 2, 0));
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_int_equal(pt_bytes(sim), 5 * PAGE);
    assert_int_equal(st->share.attached, 1);
    assert_int_equal(st->share.tables, 1);
    const uint64_t faults = st->faults_total;
    touch(sim, 2, GB1, MB2, VMSIM_WRITE);
    touch(sim, 1, GB1, MB2, VMSIM_READ);
    st = vmsim_get_stats(sim);
    assert_int_equal(st->faults_total, faults); /* every entry already there */
    assert_int_equal(st->verify_checks, 512);
    assert_int_equal(st->verify_mismatches, 0);
    vmsim_destroy(sim);
}

/* An entry of a shared table is a mapping of every sharer: the TLBs of
 * each that may cache it are shot down. Processes 1 and 2 map the file
 * read-only (one shared leaf table), each runs on its own CPU and reads
 * page 0. Memory is then full (FIFO replacement): process 1's read of
 * page 1 evicts page 0, which unmaps it from the one shared entry (the
 * reverse map names only the process that faulted it in): the shootdown
 * must reach both processes, 2 invalidations, as without sharing, where
 * the reverse map names both entries. */
static void test_shootdown_every_sharer(void **state)
{
    uint64_t inval[2];
    for (int share = 0; share < 2; share++) {
        struct vmsim_config cfg = config(share);
        cfg.phys_bytes = ((share ? 7 : 8) + 1) * PAGE; /* 2 x 4 tables (1 fewer shared), a page */
        cfg.replace = VMSIM_REPLACE_FIFO; /* Clock would shoot down to clear accessed bits too */
        struct vmsim *sim = new_machine(&cfg);
        map_file(sim, 1, GB1, MB2, VMSIM_PROT_R);
        map_file(sim, 2, 2 * GB1, MB2, VMSIM_PROT_R);
        struct vmsim_event e = ev_access(VMSIM_READ, 1, GB1);
        e.cpu = 0;
        run1(sim, e);
        e = ev_access(VMSIM_READ, 2, 2 * GB1);
        e.cpu = 1;
        run1(sim, e);
        const uint64_t before = vmsim_get_stats(sim)->tlb_invalidations;
        e = ev_access(VMSIM_READ, 1, GB1 + PAGE); /* evicts page 0: memory is full */
        e.cpu = 0;
        run1(sim, e);
        const struct vmsim_stats *st = vmsim_get_stats(sim);
        assert_int_equal(st->evictions, 1);
        inval[share] = st->tlb_invalidations - before;
        vmsim_destroy(sim);
    }
    assert_int_equal(inval[0], 2);
    assert_int_equal(inval[1], 2);
}

/* A copy made under memory pressure. FIFO, 8 frames: processes 1 and 2
 * map 2 MiB of the file at 1 and 2 GiB and read its first page: root,
 * L3 and L2 each, the shared leaf table and the page: 8 frames, only the
 * page on the replacement list. Process 2 makes the page executable: the
 * frame of its copy of the leaf table comes from evicting that page
 * (clean: dropped), so the copy holds no page and takes no reference
 * to one. Process 2 exits: its root, L3, L2 and copy go, 4 frames left;
 * then process 1: none. */
static void test_copy_under_pressure(void **state)
{
    struct vmsim_config cfg = config(true);
    cfg.replace = VMSIM_REPLACE_FIFO;
    cfg.phys_bytes = 8 * PAGE;
    struct vmsim *sim = new_machine(&cfg);
    map_file(sim, 1, GB1, MB2, VMSIM_PROT_R);
    run1(sim, ev_access(VMSIM_READ, 1, GB1));
    map_file(sim, 2, 2 * GB1, MB2, VMSIM_PROT_R);
    run1(sim, ev_access(VMSIM_READ, 2, 2 * GB1));
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_int_equal(st->frames_used, 8);
    assert_int_equal(st->share.tables, 1);
    run1(sim, ev_os(VMSIM_EV_MPROTECT, VMSIM_PROT_R | VMSIM_PROT_X, 2, 2 * GB1, PAGE));
    st = vmsim_get_stats(sim);
    assert_int_equal(st->evictions_clean, 1);
    assert_int_equal(st->share.unshared, 1);
    assert_int_equal(st->frames_used, 8);
    assert_int_equal(leaves(sim), 0);
    run1(sim, ev_os(VMSIM_EV_EXIT, 0, 2, 0, 0));
    assert_int_equal(vmsim_get_stats(sim)->frames_used, 4);
    run1(sim, ev_os(VMSIM_EV_EXIT, 0, 1, 0, 0));
    assert_int_equal(vmsim_get_stats(sim)->frames_used, 0);
    vmsim_destroy(sim);
}

/* Configurations sharing cannot run with: refused, with the reason. */
static void test_refusals(void **state)
{
    struct vmsim *sim;
    struct vmsim_config cfg = config(true);
    snprintf(cfg.pt, sizeof cfg.pt, "hashed");
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_EINVAL);
    cfg = config(true);
    cfg.threads = 2;
    const char *why = vmsim_threads_refusal(&cfg);
    assert_non_null(why);
    assert_non_null(strstr(why, "--share-tables"));
    struct cmd_result r = run_vmsim("run --share-tables --pt inverted --quiet --workload seq:n=10");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--share-tables: only the radix organization"));
    cmd_result_free(&r);
    /* taken together since the tables one level up (test_evict_keeps_shared) */
    r = run_vmsim("run --share-tables --evict-tables --quiet --workload seq:n=10");
    assert_int_equal(r.status, 0);
    cmd_result_free(&r);
}

/* The page_tables object of `vmsim run OPTS --json` (json_decref it). */
static json_t *run_pt(const char *opts)
{
    char *out = temp_path(".json");
    struct cmd_result r = run_vmsim("run --quiet --json %s %s", out, opts);
    if (r.status != 0)
        fail_msg("vmsim run %s exited %d: %s", opts, r.status, r.err);
    cmd_result_free(&r);
    json_error_t err;
    json_t *root = json_load_file(out, 0, &err);
    assert_non_null(root);
    json_t *pt = json_incref(json_object_get(root, "page_tables"));
    assert_non_null(pt);
    json_decref(root);
    remove(out);
    free(out);
    return pt;
}

/* pt.key, or pt.sharing.key */
static uint64_t pt_get(const json_t *pt, const char *key, bool sharing)
{
    const json_t *o = sharing ? json_object_get(pt, "sharing") : pt;
    const json_t *v = json_object_get(o, key);
    if (!v)
        fail_msg("no page_tables.%s%s", sharing ? "sharing." : "", key);
    return (uint64_t)json_integer_value(v);
}

/* Seed 001: "entire branches of the page table ... that map the library
 * can be shared among many processes, dramatically reducing the total
 * memory footprint". sharedlibs with one library of 2 MiB of text at a
 * 2 MiB-aligned base (align=2m), every access a fetch from it: each of
 * N processes holds a root, an L3, an L2 and the text's leaf table (heap,
 * stack and rodata are mapped, never touched). page_tables.bytes:
 * without sharing 3N x 4 KiB, with it (2N + 1) x 4 KiB; N = 1000:
 * 12,288,000 and 8,196,096. The shared table has N sharers, N - 1 links.
 * Then a run with ordinary libraries (16 of 2 MiB text and 2 MiB rodata,
 * heaps and stacks touched) against the estimate of issue 3
 * (page_tables.shareable_bytes, computed from the VMAs and the separate
 * tables of the run without sharing): the bytes sharing saves are exactly
 * what it predicted. */
static void test_sharedlibs_claim(void **state)
{
    const char *one = "--workload sharedlibs:procs=1000,libs=1,text=2m,rodata=4k,align=2m,"
                      "fetch=1,slice=200,n=200000";
    char with[512];
    json_t *pt = run_pt(one);
    assert_int_equal(pt_get(pt, "bytes", false), 3 * 1000 * PAGE);
    json_decref(pt);
    snprintf(with, sizeof with, "--share-tables %s", one);
    pt = run_pt(with);
    assert_int_equal(pt_get(pt, "bytes", false), (2 * 1000 + 1) * PAGE);
    assert_int_equal(pt_get(pt, "tables", true), 1);
    assert_int_equal(pt_get(pt, "sharers", true), 1000);
    assert_int_equal(pt_get(pt, "attached", true), 999);
    json_decref(pt);
    const char *libs = "--workload sharedlibs:procs=100,libs=16,text=2m,rodata=2m,align=2m,"
                       "heap=1m,stack=64k,slice=2000,n=200000";
    snprintf(with, sizeof with, "--share-tables %s", libs);
    json_t *off = run_pt(libs), *on = run_pt(with);
    const uint64_t predicted = pt_get(off, "shareable_bytes", false);
    assert_true(predicted > 0);
    assert_int_equal(pt_get(off, "bytes", false) - pt_get(on, "bytes", false), predicted);
    assert_int_equal(pt_get(on, "shareable_bytes", false), 0);
    json_decref(off);
    json_decref(on);
}

/* page_tables.bytes + root_bytes of `vmsim run OPTS`: all page-table memory. */
static uint64_t run_pt_all(const char *opts)
{
    json_t *pt = run_pt(opts);
    const uint64_t all = pt_get(pt, "bytes", false) + pt_get(pt, "root_bytes", false);
    json_decref(pt);
    return all;
}

/* The break-even against the inverted table (docs/kernel.md, "Seed 001's
 * claim, measured"): one table for 4 GiB of frames, growing only by its
 * overflow, against per-process trees. At 200 processes of the measured
 * sharedlibs setup, the trees without sharing are past the inverted
 * table (their break-even lies between 140 and 150 processes) and with
 * sharing still below it (between 1500 and 2000). */
static void test_inverted_break_even(void **state)
{
    const char *w = "--mem 4g --workload sharedlibs:procs=200,n=400000,libs=16,text=2m,"
                    "rodata=2m,align=2m,slice=2000,heap=1m,stack=64k";
    char opts[512];
    snprintf(opts, sizeof opts, "--pt inverted %s", w);
    const uint64_t inverted = run_pt_all(opts);
    snprintf(opts, sizeof opts, "--share-tables %s", w);
    const uint64_t shared = run_pt_all(opts), radix = run_pt_all(w);
    if (!(shared < inverted && inverted < radix))
        fail_msg("radix %llu, inverted %llu, radix shared %llu", (unsigned long long)radix,
                 (unsigned long long)inverted, (unsigned long long)shared);
}

/* A random stream attacking the rules together: 6 processes mapping two
 * files in four ways (shared or private, read-only or writable) at
 * 2 MiB-aligned addresses, some one page off (never shared), reading,
 * writing and fetching, with mprotect and munmap of random ranges, forks
 * and exits, in a memory small enough to evict page-cache pages. Whatever
 * happens: --verify sees no wrong contents, and once every process has
 * exited no page table and no sharing is left. */
static uint64_t rnd(uint64_t *x, uint64_t n)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return (*x >> 33) % n;
}

static void test_random_stress(void **state)
{
    uint64_t x = 0x9e3779b97f4a7c15ull, unshared = 0, detached = 0, evictions = 0;
#define RND(n) rnd(&x, (n))
    for (int round = 0; round < 6; round++) {
        struct vmsim_config cfg = config(true);
        cfg.verify = true;
        cfg.phys_bytes = (64 + 16 * (uint64_t)round) * PAGE;
        cfg.swap_bytes = 1024 * PAGE;
        struct vmsim *sim = new_machine(&cfg);
        bool live[7] = {false};
        static const unsigned prots[] = {VMSIM_PROT_R, VMSIM_PROT_R | VMSIM_PROT_X,
                                         VMSIM_PROT_R | VMSIM_PROT_W | VMSIM_MAP_SHARED,
                                         VMSIM_PROT_R | VMSIM_PROT_W};
        for (int i = 0; i < 4000; i++) {
            const vmsim_pid_t pid = (vmsim_pid_t)(1 + RND(6));
            const uint64_t base = pid * GB1 + RND(2) * 4 * MB2;
            const unsigned op = (unsigned)RND(100);
            struct vmsim_event e;
            if (!live[pid] || op < 4) {
                e = ev_os(VMSIM_EV_MMAP, prots[RND(4)], pid, base + (RND(8) ? 0 : PAGE), 2 * MB2);
                e.file = 1 + RND(2);
                live[pid] = true;
            } else if (op < 7) {
                e = ev_os(VMSIM_EV_MPROTECT, prots[RND(4)] & 7u, pid, base + RND(1024) * PAGE,
                       (1 + RND(600)) * PAGE);
            } else if (op < 9) {
                e = ev_os(VMSIM_EV_MUNMAP, 0, pid, base + RND(1024) * PAGE, (1 + RND(700)) * PAGE);
            } else if (op < 11) {
                const vmsim_pid_t child = (vmsim_pid_t)(1 + RND(6));
                if (live[child])
                    continue;
                e = ev_os(VMSIM_EV_FORK, 0, pid, child, 0);
                live[child] = true;
            } else if (op < 12) {
                e = ev_os(VMSIM_EV_EXIT, 0, pid, 0, 0);
                live[pid] = false;
            } else {
                static const unsigned kinds[] = {VMSIM_READ, VMSIM_READ, VMSIM_WRITE, VMSIM_FETCH};
                e = ev_access(kinds[RND(4)], pid, base + RND(1024) * PAGE);
                e.cpu = (uint16_t)RND(4);
            }
            run1(sim, e);
        }
        const struct vmsim_stats *st = vmsim_get_stats(sim);
        if (st->verify_mismatches)
            fail_msg("round %d: %llu mismatches", round, (unsigned long long)st->verify_mismatches);
        assert_true(st->share.attached > 0);
        unshared += st->share.unshared;
        detached += st->share.detached;
        evictions += st->evictions;
        for (vmsim_pid_t pid = 1; pid <= 6; pid++)
            if (live[pid])
                run1(sim, ev_os(VMSIM_EV_EXIT, 0, pid, 0, 0));
        st = vmsim_get_stats(sim);
        assert_int_equal(pt_bytes(sim), 0);
        assert_int_equal(leaves(sim), 0);
        assert_int_equal(st->share.tables, 0);
        vmsim_destroy(sim);
    }
    /* the paths were taken */
    assert_true(unshared > 0 && detached > 0 && evictions > 0);
#undef RND
}

/* ---- one level up: level-2 tables (1 GiB blocks on x86-64) ---- */

#define FILE_2G (2 * GB1)

/* pid reads the first page of every 2 MiB block of [addr, addr + len). */
static void touch_blocks(struct vmsim *sim, vmsim_pid_t pid, uint64_t addr, uint64_t len)
{
    for (uint64_t a = addr; a < addr + len; a += MB2)
        run1(sim, ev_access(VMSIM_READ, pid, a));
}

static uint64_t tables_at(const struct vmsim *sim, unsigned level)
{
    struct vmsim_pt_footprint fp;
    vmsim_footprint(sim, &fp);
    return fp.tables[level];
}

/* N processes map a 2 GiB file read-only, process i at 2i GiB (1 GiB
 * aligned, offset 0: both of its 1 GiB blocks agree), and read the first
 * page of every 2 MiB block: 1024 leaf tables, 1024 page-cache pages.
 *   without sharing: N x (L3 + 2 L2 + 1024 leaf tables) = 1027 N tables
 *   with sharing:    N L3 + 2 L2 + 1024 leaf tables = N + 1026 tables
 * N = 1, 2, 3: 1027 / 1027, 2054 / 1028, 3081 / 1029 x 4 KiB. With
 * sharing, process 1 faults 1024 pages in (misses); every later process
 * faults once per 1 GiB block, pointing its L3 entry to the shared L2
 * table, whose leaf tables and entries are all there already (a hit), and
 * never again: faults 1024 + 2 (N - 1). Level-2 tables: 2 shared by N (N
 * > 1), 2 (N - 1) links; leaf tables: 1024, each reached by all N (1024 N
 * sharers), none linked on its own. Then the processes exit, the first
 * (whose counts held every shared table) first: N - j + 1026 tables left
 * while N - j > 0, and 2 (N - 1) level-2 links let go. */
static void test_upper_tables_once(void **state)
{
    static const unsigned ns[] = {1, 2, 3};
    for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++)
        for (int share = 0; share < 2; share++) {
            const uint64_t n = ns[c];
            struct vmsim_config cfg = config(share);
            struct vmsim *sim = new_machine(&cfg);
            for (vmsim_pid_t pid = 1; pid <= n; pid++) {
                map_file(sim, pid, 2 * pid * GB1, FILE_2G, VMSIM_PROT_R);
                touch_blocks(sim, pid, 2 * pid * GB1, FILE_2G);
            }
            const struct vmsim_stats *st = vmsim_get_stats(sim);
            const uint64_t tables = share ? n + 1026 : 1027 * n;
            assert_int_equal(pt_bytes(sim), tables * PAGE);
            assert_int_equal(tables_at(sim, 2), share ? 2 : 2 * n);
            assert_int_equal(leaf_tables(sim), share ? 1024 : 1024 * n);
            assert_int_equal(leaves(sim), share ? 1024 : 1024 * n);
            assert_int_equal(st->frames_used, 1024 + n + tables);
            assert_int_equal(st->faults_total, share ? 1024 + 2 * (n - 1) : 1024 * n);
            assert_int_equal(st->faults_pagecache_hit, share ? 2 * (n - 1) : 1024 * (n - 1));
            assert_int_equal(st->share.upper_tables, share && n > 1 ? 2 : 0);
            assert_int_equal(st->share.upper_sharers, share && n > 1 ? 2 * n : 0);
            assert_int_equal(st->share.upper_attached, share ? 2 * (n - 1) : 0);
            assert_int_equal(st->share.tables, share && n > 1 ? 1024 : 0);
            assert_int_equal(st->share.sharers, share && n > 1 ? 1024 * n : 0);
            assert_int_equal(st->share.attached, 0);
            assert_int_equal(st->pt_shareable, share ? 0 : (n - 1) * 1024 * PAGE);
            for (vmsim_pid_t pid = 1; pid <= n; pid++) {
                run1(sim, ev_os(VMSIM_EV_EXIT, 0, pid, 0, 0));
                const uint64_t left = n - pid;
                const uint64_t now = share ? (left ? left + 1026 : 0) : 1027 * left;
                assert_int_equal(pt_bytes(sim), now * PAGE);
                assert_int_equal(leaves(sim), share ? (left ? 1024 : 0) : 1024 * left);
                assert_int_equal(vmsim_get_stats(sim)->frames_used, 1024 + left + now);
            }
            st = vmsim_get_stats(sim);
            assert_int_equal(st->share.upper_detached, share ? 2 * (n - 1) : 0);
            assert_int_equal(st->share.detached, 0);
            assert_int_equal(st->share.upper_tables + st->share.tables, 0);
            vmsim_destroy(sim);
        }
}

/* Three processes share the 2 GiB file as above (3 + 1026 = 1029 tables).
 * Process 2 makes one page executable, the page it read in block 5 of its
 * second 1 GiB block. The rule (docs/kernel.md): first its level-2 table
 * of that 1 GiB block is copied (a new table whose 512 entries point to
 * the same leaf tables), then the leaf table of block 5, now reached by
 * its copy and by the shared level-2 table, is copied too: 1031 tables,
 * 3 level-2 and 1025 leaf tables; 1024 + 1 leaves (the copy holds the one
 * page). Level-2 sharing: the first 1 GiB block's table by 3, the
 * second's by 2 (5 sharers), one copy. Leaf tables: all 1024 still
 * shared: block 5's by processes 1 and 3, the others by 3 (3071 sharers),
 * one copy. Process 2 fetches the page without a fault; process 1's fetch
 * of its page is a protection fault; every page reads again without one. */
static void test_upper_mprotect(void **state)
{
    struct vmsim_config cfg = config(true);
    struct vmsim *sim = new_machine(&cfg);
    for (vmsim_pid_t pid = 1; pid <= 3; pid++) {
        map_file(sim, pid, 2 * pid * GB1, FILE_2G, VMSIM_PROT_R);
        touch_blocks(sim, pid, 2 * pid * GB1, FILE_2G);
    }
    assert_int_equal(pt_bytes(sim), 1029 * PAGE);
    const uint64_t off = GB1 + 5 * MB2; /* in the second 1 GiB block */
    run1(sim, ev_os(VMSIM_EV_MPROTECT, VMSIM_PROT_R | VMSIM_PROT_X, 2, 4 * GB1 + off, PAGE));
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_int_equal(pt_bytes(sim), 1031 * PAGE);
    assert_int_equal(tables_at(sim, 2), 3);
    assert_int_equal(leaf_tables(sim), 1025);
    assert_int_equal(leaves(sim), 1025);
    assert_int_equal(st->share.upper_tables, 2);
    assert_int_equal(st->share.upper_sharers, 5);
    assert_int_equal(st->share.upper_unshared, 1);
    assert_int_equal(st->share.tables, 1024);
    assert_int_equal(st->share.sharers, 3071);
    assert_int_equal(st->share.unshared, 1);
    const uint64_t prot = st->faults_protection, faults = st->faults_total;
    run1(sim, ev_access(VMSIM_FETCH, 2, 4 * GB1 + off));
    run1(sim, ev_access(VMSIM_FETCH, 1, 2 * GB1 + off));
    st = vmsim_get_stats(sim);
    assert_int_equal(st->faults_protection - prot, 1);
    assert_int_equal(st->faults_total - faults, 1);
    for (vmsim_pid_t pid = 1; pid <= 3; pid++)
        touch_blocks(sim, pid, 2 * pid * GB1, FILE_2G);
    assert_int_equal(vmsim_get_stats(sim)->faults_total - faults, 1);
    /* process 3 unmaps its whole second 1 GiB block: it lets go of that
     * level-2 table (process 1 keeps it alone) and of the 512 leaf tables'
     * lists, with no copy: its L3 stays (the first block): 1031 tables */
    run1(sim, ev_os(VMSIM_EV_MUNMAP, 0, 3, 6 * GB1 + GB1, GB1));
    st = vmsim_get_stats(sim);
    assert_int_equal(pt_bytes(sim), 1031 * PAGE);
    assert_int_equal(st->share.upper_detached, 1);
    assert_int_equal(st->share.upper_tables, 1);
    assert_int_equal(st->share.upper_sharers, 3);
    /* the second block's leaf tables: block 5's now process 1's alone,
     * the other 511 shared by 1 and 2; the first block's 512 by all 3 */
    assert_int_equal(st->share.tables, 511 + 512);
    assert_int_equal(st->share.sharers, 511 * 2 + 512 * 3);
    vmsim_destroy(sim);
}

/* A walk of a shared level-2 table reads the same physical address from
 * every sharer, through a data cache that walks fill (as
 * test_walk_reads_shared_address). Processes 1 and 2 map 1 GiB of the
 * file at 1 and 2 GiB; process 1 reads page 3. Process 2's read: a cold
 * walk reads its root entry (a miss) and faults; the fault points its new
 * L3 entry to the shared level-2 table, whose leaf entry for page 3 is
 * there. The retry reads the root entry (a hit), its L3 entry (a miss:
 * its own table), the level-2 entry and the leaf entry, the lines process
 * 1's walk read: hits when shared, misses with tables of its own. pt hits
 * 3 and misses 2 with sharing, 1 and 4 without. */
static void upper_linked(struct vmsim *sim, int share)
{
    assert_int_equal(vmsim_get_stats(sim)->share.upper_attached, share ? 1 : 0);
    assert_int_equal(tables_at(sim, 2), share ? 1 : 2);
}

static void test_walk_reads_shared_upper(void **state)
{
    walk_through_cache(GB1, (const uint64_t[2]){1, 3}, (const uint64_t[2]){4, 2}, upper_linked);
}

/* Both levels at once. Process 1 maps only 2 MiB of the file (at 64 GiB)
 * and reads its first page: L3, L2 and a registered leaf table (3
 * tables). Process 2 maps the whole first 1 GiB at 2 GiB and reads its
 * first page: it makes an L3 and an L2 (its level-2 table, registered)
 * and links process 1's leaf table (a leaf link), the page already there.
 * Process 3 maps it at 4 GiB and reads its first page: its L3 points to
 * process 2's level-2 table (a level-2 link): 3 + 2 + 1 = 6 tables; the
 * leaf table shared by 3, the level-2 table by 2. Process 3 then reads the
 * first page of the second 2 MiB block: a new leaf table in the shared
 * level-2 table, registered with both of its processes as sharers (7
 * tables); process 2's read of that page does not fault. Faults: 1 + 1 +
 * 2. Leaf tables shared: 2, by 3 + 2. */
static void test_upper_over_leaf(void **state)
{
    struct vmsim_config cfg = config(true);
    struct vmsim *sim = new_machine(&cfg);
    map_file(sim, 1, 64 * GB1, MB2, VMSIM_PROT_R);
    run1(sim, ev_access(VMSIM_READ, 1, 64 * GB1));
    map_file(sim, 2, 2 * GB1, GB1, VMSIM_PROT_R);
    run1(sim, ev_access(VMSIM_READ, 2, 2 * GB1));
    map_file(sim, 3, 4 * GB1, GB1, VMSIM_PROT_R);
    run1(sim, ev_access(VMSIM_READ, 3, 4 * GB1));
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_int_equal(pt_bytes(sim), 6 * PAGE);
    assert_int_equal(st->share.attached, 1);
    assert_int_equal(st->share.upper_attached, 1);
    assert_int_equal(st->share.tables, 1);
    assert_int_equal(st->share.sharers, 3);
    assert_int_equal(st->share.upper_tables, 1);
    assert_int_equal(st->share.upper_sharers, 2);
    run1(sim, ev_access(VMSIM_READ, 3, 4 * GB1 + MB2));
    run1(sim, ev_access(VMSIM_READ, 2, 2 * GB1 + MB2));
    st = vmsim_get_stats(sim);
    assert_int_equal(pt_bytes(sim), 7 * PAGE);
    assert_int_equal(st->faults_total, 4);
    assert_int_equal(st->share.tables, 2);
    assert_int_equal(st->share.sharers, 5);
    vmsim_destroy(sim);
}

/* The shared-memory figure of docs/kernel.md ("One level up") for N = 10,
 * through the command line and a text trace: 10 processes map a 4 GiB
 * file shared and writable at 4 GiB and read a word in each of its 2,048
 * blocks of 2 MiB. Without sharing each holds an L3, 4 level-2 and 2,048
 * leaf tables: 2,053 x 10 x 4 KiB; with it, 10 L3 + 4 + 2,048 tables. */
static void test_shm_trace(void **state)
{
    size_t cap = 10 * 2049 * 40, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (unsigned pid = 1; pid <= 10; pid++) {
        len += (size_t)snprintf(text + len, cap - len, "mmap %u 0x100000000 0x100000000 rw- shared file=1\n", pid);
        for (uint64_t b = 0; b < 2048; b++)
            len += (size_t)snprintf(text + len, cap - len, "R %u 0x%llx 8\n", pid,
                                    (unsigned long long)(4 * GB1 + b * MB2));
    }
    char *path = write_temp(text, len, ".txt"), opts[256];
    free(text);
    snprintf(opts, sizeof opts, "--mem 16g --trace text:%s", path);
    json_t *pt = run_pt(opts);
    assert_int_equal(pt_get(pt, "bytes", false), 2053ull * 10 * PAGE);
    json_decref(pt);
    snprintf(opts, sizeof opts, "--share-tables --mem 16g --trace text:%s", path);
    pt = run_pt(opts);
    assert_int_equal(pt_get(pt, "bytes", false), (10 + 4 + 2048) * PAGE);
    assert_int_equal(pt_get(pt, "upper_tables", true), 4);
    assert_int_equal(pt_get(pt, "upper_sharers", true), 40);
    assert_int_equal(pt_get(pt, "upper_attached", true), 36);
    assert_int_equal(pt_get(pt, "tables", true), 2048);
    json_decref(pt);
    remove(path);
    free(path);
}

/* --evict-tables with shared tables: a table registered for sharing is
 * never paged out (docs/kernel.md). FIFO, 12 frames:
 * 1. process 1 maps 1 GiB of the file at 1 GiB and reads its first page:
 *    frames root1; the page-cache page pc (joins the list); L3-1, L2, leaf
 *    (join it); L2 and leaf are registered and leave it. List: pc, L3-1.
 * 2. process 2 maps it at 2 GiB and reads its first page: root2, and L3-2
 *    made by the link to the shared L2 (no leaf mapped: not on the list).
 * 3. process 3 writes a page at 8 GiB (anonymous): root3, its page d0,
 *    L3-3, L2-3, leaf-3. 12 frames in use; list: pc, L3-1, d0, L3-3,
 *    L2-3, leaf-3.
 * 4. process 3 writes a page in the next 2 MiB block: its page evicts pc
 *    (clean: dropped, out of the shared leaf table), its leaf table
 *    evicts L3-1 (a table to swap: 1). Without the rule the shared L2
 *    would be next.
 * 5. process 2 reads its first page again: its walk passes L3-2, the
 *    shared L2 and leaf, and faults the page in (d0 evicted to swap for
 *    it): no table fault. L3-2 joins the list, the shared tables do not.
 * 6. process 1 reads its first page: L3-1 is out: a table fault (1),
 *    whose frame evicts L3-3 (tables to swap: 2); the page is there.
 * Then the two sharers read their pages again with no fault at all. */
static void test_evict_keeps_shared(void **state)
{
    struct vmsim_config cfg = config(true);
    cfg.evict_tables = true;
    cfg.replace = VMSIM_REPLACE_FIFO;
    cfg.phys_bytes = 12 * PAGE;
    cfg.swap_bytes = 64 * PAGE;
    cfg.verify = true;
    struct vmsim *sim = new_machine(&cfg);
    map_file(sim, 1, GB1, GB1, VMSIM_PROT_R);
    run1(sim, ev_access(VMSIM_READ, 1, GB1));
    map_file(sim, 2, 2 * GB1, GB1, VMSIM_PROT_R);
    run1(sim, ev_access(VMSIM_READ, 2, 2 * GB1));
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_int_equal(st->frames_used, 7);
    assert_int_equal(st->share.upper_tables, 1);
    run1(sim, ev_access(VMSIM_WRITE, 3, 8 * GB1));
    assert_int_equal(vmsim_get_stats(sim)->frames_used, 12);
    run1(sim, ev_access(VMSIM_WRITE, 3, 8 * GB1 + MB2));
    st = vmsim_get_stats(sim);
    assert_int_equal(st->evictions_clean, 1);
    assert_int_equal(st->tables_evicted, 1);
    run1(sim, ev_access(VMSIM_READ, 2, 2 * GB1));
    st = vmsim_get_stats(sim);
    assert_int_equal(st->faults_table, 0);
    assert_int_equal(st->tables_evicted, 1);
    run1(sim, ev_access(VMSIM_READ, 1, GB1));
    st = vmsim_get_stats(sim);
    assert_int_equal(st->faults_table, 1);
    assert_int_equal(st->tables_evicted, 2);
    const uint64_t faults = st->faults_total;
    run1(sim, ev_access(VMSIM_READ, 1, GB1));
    run1(sim, ev_access(VMSIM_READ, 2, 2 * GB1));
    st = vmsim_get_stats(sim);
    assert_int_equal(st->faults_total, faults);
    assert_int_equal(st->frames_used, 12);
    assert_int_equal(st->verify_mismatches, 0);
    vmsim_destroy(sim);
}

/* The random attack of test_random_stress one level up, with and without
 * paged-out tables: 6 processes map 1 GiB (or 16 MiB) of two files at
 * 1 GiB-aligned addresses (some one page off: never shared), in the four
 * ways, and read,
 * write and fetch in the first 16 MiB of it; mprotect and munmap ranges
 * there or the whole 1 GiB; forks and exits; memory small enough to evict
 * pages (and, every other round, tables). --verify: no wrong contents;
 * after the last exit no table and no sharing is left. */
static void test_random_upper(void **state)
{
    uint64_t x = 0x2545f4914f6cdd1dull, upper[3] = {0}, evicted = 0;
#define RND(n) rnd(&x, (n))
    for (int round = 0; round < 6; round++) {
        struct vmsim_config cfg = config(true);
        cfg.verify = true;
        cfg.evict_tables = round & 1;
        cfg.phys_bytes = (96 + 16 * (uint64_t)round) * PAGE;
        cfg.swap_bytes = 4096 * PAGE;
        struct vmsim *sim = new_machine(&cfg);
        bool live[7] = {false};
        static const unsigned prots[] = {VMSIM_PROT_R, VMSIM_PROT_R | VMSIM_PROT_X,
                                         VMSIM_PROT_R | VMSIM_PROT_W | VMSIM_MAP_SHARED,
                                         VMSIM_PROT_R | VMSIM_PROT_W};
        for (int i = 0; i < 3000; i++) {
            const vmsim_pid_t pid = (vmsim_pid_t)(1 + RND(6));
            const uint64_t base = 2 * pid * GB1;
            const unsigned op = (unsigned)RND(100);
            struct vmsim_event e;
            if (!live[pid] || op < 3) {
                /* a third of them 16 MiB: leaf tables shared under a private level-2 table */
                e = ev_os(VMSIM_EV_MMAP, prots[RND(4)], pid, base + (RND(8) ? 0 : PAGE),
                          RND(3) ? GB1 : 8 * MB2);
                e.file = 1 + RND(2);
                live[pid] = true;
            } else if (op < 6) {
                e = ev_os(VMSIM_EV_MPROTECT, prots[RND(4)] & 7u, pid, base + RND(4096) * PAGE,
                          (1 + RND(1200)) * PAGE);
            } else if (op < 8) {
                const bool whole = RND(3) == 0;
                e = ev_os(VMSIM_EV_MUNMAP, 0, pid, whole ? base : base + RND(4096) * PAGE,
                          whole ? GB1 : (1 + RND(1200)) * PAGE);
            } else if (op < 10) {
                const vmsim_pid_t child = (vmsim_pid_t)(1 + RND(6));
                if (live[child])
                    continue;
                e = ev_os(VMSIM_EV_FORK, 0, pid, child, 0);
                live[child] = true;
            } else if (op < 11) {
                e = ev_os(VMSIM_EV_EXIT, 0, pid, 0, 0);
                live[pid] = false;
            } else {
                static const unsigned kinds[] = {VMSIM_READ, VMSIM_READ, VMSIM_WRITE, VMSIM_FETCH};
                e = ev_access(kinds[RND(4)], pid, base + RND(8) * MB2 + RND(64) * PAGE);
                e.cpu = (uint16_t)RND(4);
            }
            run1(sim, e);
        }
        const struct vmsim_stats *st = vmsim_get_stats(sim);
        if (st->verify_mismatches)
            fail_msg("round %d: %llu mismatches", round, (unsigned long long)st->verify_mismatches);
        upper[0] += st->share.upper_attached;
        upper[1] += st->share.upper_unshared;
        upper[2] += st->share.upper_detached;
        evicted += st->tables_evicted;
        for (vmsim_pid_t pid = 1; pid <= 6; pid++)
            if (live[pid])
                run1(sim, ev_os(VMSIM_EV_EXIT, 0, pid, 0, 0));
        st = vmsim_get_stats(sim);
        assert_int_equal(pt_bytes(sim), 0);
        assert_int_equal(leaves(sim), 0);
        assert_int_equal(st->share.tables + st->share.upper_tables, 0);
        vmsim_destroy(sim);
    }
    /* the paths were taken */
    assert_true(upper[0] > 0 && upper[1] > 0 && upper[2] > 0 && evicted > 0);
#undef RND
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaf_tables_once),
        cmocka_unit_test(test_mprotect_unshares_one),
        cmocka_unit_test(test_walk_reads_shared_address),
        cmocka_unit_test(test_verify_shared_writes),
        cmocka_unit_test(test_munmap_and_exit),
        cmocka_unit_test(test_fork_links),
        cmocka_unit_test(test_shootdown_every_sharer),
        cmocka_unit_test(test_copy_under_pressure),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_sharedlibs_claim),
        cmocka_unit_test(test_inverted_break_even),
        cmocka_unit_test(test_random_stress),
        cmocka_unit_test(test_upper_tables_once),
        cmocka_unit_test(test_upper_mprotect),
        cmocka_unit_test(test_walk_reads_shared_upper),
        cmocka_unit_test(test_upper_over_leaf),
        cmocka_unit_test(test_shm_trace),
        cmocka_unit_test(test_evict_keeps_shared),
        cmocka_unit_test(test_random_upper),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
