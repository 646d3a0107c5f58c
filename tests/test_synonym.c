/* The VIPT synonym check (seed 001, src/os/synonym.c): a virtually indexed,
 * physically tagged L1 of S sets and B-byte blocks indexes with address
 * bits [log2 B, log2(S x B)); with base pages of P bytes,
 *     synonym_bits   = log2(S x B / P), 0 when S x B <= P,
 *     color(va)      = (va >> log2 P) mod 2^synonym_bits,
 *     synonym_frames = mapped frames whose mappings do not all share a color.
 * Every expected number is worked out in the comments from these rules
 * and the addresses, never from the program's output.
 *
 * Frames are shared through the page cache (file mappings: every process
 * that maps page k of file F maps the same frame), through fork, and by a
 * process mapping one file twice. Accesses are reads: a read of a file page
 * maps the page-cache frame itself, private or shared. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "vmsim/vmsim.h"

#define PAGE 4096ull
#define RW_SHARED (VMSIM_PROT_R | VMSIM_PROT_W | VMSIM_MAP_SHARED)

/* 4096 frames of 4 KiB (16 MiB): far more than any test maps, no eviction. */
static struct vmsim *make_vipt(uint32_t sets, uint32_t block)
{
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    cfg.phys_bytes = 4096 * PAGE;
    cfg.vipt_sets = sets;
    cfg.vipt_block = block;
    struct vmsim *sim;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    return sim;
}

static void run1(struct vmsim *sim, struct vmsim_event e) { assert_int_equal(vmsim_run(sim, &e, 1), 0); }

static void read1(struct vmsim *sim, vmsim_pid_t pid, uint64_t addr)
{
    run1(sim, (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = VMSIM_READ, .pid = pid,
                                   .addr = addr, .len = 8});
}

static void write1(struct vmsim *sim, vmsim_pid_t pid, uint64_t addr)
{
    run1(sim, (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = VMSIM_WRITE, .pid = pid,
                                   .addr = addr, .len = 8});
}

/* pid maps `pages` pages of file `file` from page `pgoff` at addr, with
 * protection and flags `kind`. */
static void map_file(struct vmsim *sim, vmsim_pid_t pid, uint64_t addr, uint64_t pages,
                     uint32_t file, uint32_t pgoff, unsigned kind)
{
    run1(sim, (struct vmsim_event){.type = VMSIM_EV_MMAP, .kind = (uint8_t)kind, .pid = pid,
                                   .addr = addr, .len = pages * PAGE, .file = file,
                                   .pgoff = pgoff});
}

/* Map and read one page of a file: the frame is then mapped at addr. */
static void alias(struct vmsim *sim, vmsim_pid_t pid, uint64_t addr, uint32_t file, uint32_t pgoff)
{
    map_file(sim, pid, addr, 1, file, pgoff, RW_SHARED);
    read1(sim, pid, addr);
}

static void expect_synonyms(struct vmsim *sim, uint64_t bits, uint64_t frames)
{
    const struct vmsim_stats *st = vmsim_get_stats(sim); /* recomputed on every call */
    assert_int_equal(st->synonym_bits, bits);
    assert_int_equal(st->synonym_frames, frames);
}

/* A 32 KiB 8-way L1 with 64-byte blocks (Skylake's L1D): 32768 / (8 x 64)
 * = 64 sets, and 64 x 64 = 4096 = P. Every index bit is in the page offset:
 * 0 bits, and no alias can be a synonym, whatever its address. Here file 1
 * page 0 is mapped at 0x400000 and 0x401000 (P1), 0x403000 (P2) and
 * 0x7f0005000 (P3); VA bits 12.. differ between all of them. */
static void test_l1_32k_8way_safe(void **state)
{
    struct vmsim *sim = make_vipt(32768 / (8 * 64), 64);
    alias(sim, 1, 0x400000, 1, 0);
    alias(sim, 1, 0x401000, 1, 0);
    alias(sim, 2, 0x403000, 1, 0);
    alias(sim, 3, 0x7f0005000, 1, 0);
    expect_synonyms(sim, 0, 0);
    vmsim_destroy(sim);
}

/* 128 sets x 64 B = 8 KiB = 2 P: one index bit above the page offset, VA
 * bit 12, so the color is the parity of the page number. Two processes
 * map file 1 page 0 at 0x400000 each (page 0x400, color 0): one frame,
 * one color, 0 synonyms. A third alias at 0x402000 (page 0x402, color 0)
 * differs from the others in VA bit 13, which is not an index bit: still 0. */
static void test_one_bit_same_color(void **state)
{
    struct vmsim *sim = make_vipt(128, 64);
    alias(sim, 1, 0x400000, 1, 0);
    alias(sim, 2, 0x400000, 1, 0);
    expect_synonyms(sim, 1, 0);
    alias(sim, 3, 0x402000, 1, 0);
    expect_synonyms(sim, 1, 0);
    vmsim_destroy(sim);
}

/* 128 x 64 again: P1 maps file 1 page 0 at 0x400000 (color 0), P2 at
 * 0x401000 (page 0x401, color 1). The one frame has two colors: 1. A third
 * alias of color 0 (P3 at 0x400000) does not make it count twice: still 1. */
static void test_one_bit_different_color(void **state)
{
    struct vmsim *sim = make_vipt(128, 64);
    alias(sim, 1, 0x400000, 1, 0);
    expect_synonyms(sim, 1, 0); /* mapped once: nothing to disagree with */
    alias(sim, 2, 0x401000, 1, 0);
    expect_synonyms(sim, 1, 1);
    alias(sim, 3, 0x400000, 1, 0);
    expect_synonyms(sim, 1, 1);
    vmsim_destroy(sim);
}

/* One process mapping the same file page twice makes a synonym by itself:
 * 0x400000 (color 0) and 0x401000 (color 1), 128 x 64: 1. A write at
 * 0x410000 first builds the page tables of that 2 MiB region, so the file
 * page's frame is the last one handed out: the walk must reach it. */
static void test_alias_within_one_process(void **state)
{
    struct vmsim *sim = make_vipt(128, 64);
    write1(sim, 1, 0x410000);
    alias(sim, 1, 0x400000, 1, 0);
    alias(sim, 1, 0x401000, 1, 0);
    expect_synonyms(sim, 1, 1);
    vmsim_destroy(sim);
}

/* Several frames, 128 x 64 (1 bit: color = page number & 1). File 1 pages
 * 0..5:
 *   P1 maps pages 0-5 at 0x400000: page k at page 0x400 + k, colors 0 1 0 1 0 1
 *   P2 maps pages 0-3 at 0x501000: page k at 0x501 + k, colors 1 0 1 0,
 *      and reads pages 0, 1 and 2 only (page 3 stays unmapped in P2)
 *   P3 maps pages 2-5 (pgoff 2) at 0x600000: page k at 0x600 + k - 2,
 *      colors of pages 2..5: 0 1 0 1, the same as P1's
 * per frame: page 0 {P1 0, P2 1} counts; page 1 {1, 0} counts; page 2
 * {P1 0, P2 1, P3 0} counts; page 3 {P1 1, P3 1}, page 4 {0, 0}, page 5
 * {1, 1} do not: 3 frames. Frames that are not aliases add nothing: P1
 * writes a private page at 0x10000 (mapped once) and P1 and P2 read
 * anonymous pages at 0x20000 and 0x21000 (colors 0 and 1), which map the
 * shared zero frame, not in the reverse map. When P2 unmaps its window, the
 * aliases of pages 0-2 go with it: 0. */
static void test_mixed_frames(void **state)
{
    struct vmsim *sim = make_vipt(128, 64);
    map_file(sim, 1, 0x400000, 6, 1, 0, RW_SHARED);
    for (uint64_t k = 0; k < 6; k++)
        read1(sim, 1, 0x400000 + k * PAGE);
    map_file(sim, 2, 0x501000, 4, 1, 0, RW_SHARED);
    for (uint64_t k = 0; k < 3; k++)
        read1(sim, 2, 0x501000 + k * PAGE);
    map_file(sim, 3, 0x600000, 4, 1, 2, RW_SHARED);
    for (uint64_t k = 0; k < 4; k++)
        read1(sim, 3, 0x600000 + k * PAGE);
    write1(sim, 1, 0x10000);
    read1(sim, 1, 0x20000);
    read1(sim, 2, 0x21000);
    expect_synonyms(sim, 1, 3);
    run1(sim, (struct vmsim_event){.type = VMSIM_EV_MUNMAP, .pid = 2, .addr = 0x501000,
                                   .len = 4 * PAGE});
    expect_synonyms(sim, 1, 0);
    vmsim_destroy(sim);
}

/* A private file mapping shares the page-cache frame until the first write
 * copies it. 128 x 64: P1 maps file 1 page 0 read-only at 0x400000 (color
 * 0), P2 private rw- at 0x401000 (color 1); both read: one frame, two
 * colors, 1. P2 writes: copy-on-write gives P2 a private frame (mapped
 * once) and leaves the cached frame to P1 alone: 0. */
static void test_private_copy_ends_alias(void **state)
{
    struct vmsim *sim = make_vipt(128, 64);
    map_file(sim, 1, 0x400000, 1, 1, 0, VMSIM_PROT_R);
    map_file(sim, 2, 0x401000, 1, 1, 0, VMSIM_PROT_R | VMSIM_PROT_W);
    read1(sim, 1, 0x400000);
    read1(sim, 2, 0x401000);
    expect_synonyms(sim, 1, 1);
    write1(sim, 2, 0x401000);
    assert_int_equal(vmsim_get_stats(sim)->faults_cow_copy, 1);
    expect_synonyms(sim, 1, 0);
    vmsim_destroy(sim);
}

/* Fork: the child maps the parent's frames at the parent's addresses, so
 * every alias has the parent's color. 128 x 64. P1 writes 3 private pages
 * (0x10000-0x12000), maps file 1 (2 pages, shared) at 0x400000 and
 * anonymous shared memory (2 pages) at 0x500000 and writes those 4; P1 forks P2
 * and P2 touches the same 7 pages by reading: 0 synonyms. A copy-on-write
 * (P2 writes 0x10000) changes nothing. Then P2 maps file 1 page 0 again at
 * 0x601000 (color 1; P1 and P2 map it at 0x400000, color 0): 1. */
static void test_fork_same_addresses(void **state)
{
    struct vmsim *sim = make_vipt(128, 64);
    const uint64_t anon[] = {0x10000, 0x11000, 0x12000};
    for (int i = 0; i < 3; i++)
        write1(sim, 1, anon[i]);
    map_file(sim, 1, 0x400000, 2, 1, 0, RW_SHARED);
    run1(sim, (struct vmsim_event){.type = VMSIM_EV_MMAP, .kind = RW_SHARED, .pid = 1,
                                   .addr = 0x500000, .len = 2 * PAGE});
    const uint64_t shared[] = {0x400000, 0x401000, 0x500000, 0x501000};
    for (int i = 0; i < 4; i++)
        write1(sim, 1, shared[i]);
    run1(sim, (struct vmsim_event){.type = VMSIM_EV_FORK, .pid = 1, .addr = 2});
    for (int i = 0; i < 3; i++)
        read1(sim, 2, anon[i]);
    for (int i = 0; i < 4; i++)
        read1(sim, 2, shared[i]);
    expect_synonyms(sim, 1, 0);
    write1(sim, 2, 0x10000);
    expect_synonyms(sim, 1, 0);
    alias(sim, 2, 0x601000, 1, 0);
    expect_synonyms(sim, 1, 1);
    vmsim_destroy(sim);
}

/* 256 sets x 256 B = 65536 = 2^16 bytes; 2^16 / 2^12: 4 bits, VA bits
 * 12-15, color = page number mod 16.
 *   file 1 page 0: P1 at 0x400000 (page 0x400, color 0), P2 at 0x408000
 *     (page 0x408, color 8): they differ in the highest index bit only: counts
 *   file 2 page 0: P1 at 0x500000 (0x500, color 0), P3 at 0x510000 (0x510,
 *     color 0): they differ in VA bit 16, just above the index: does not count
 *   file 3 page 0: P1 at 0x700000 (color 0), P2 at 0x708000 (color 8), P3
 *     at 0x704000 (color 4): three colors, still one frame: counts once
 * 2 frames. */
static void test_four_bits(void **state)
{
    struct vmsim *sim = make_vipt(256, 256);
    alias(sim, 1, 0x400000, 1, 0);
    alias(sim, 2, 0x408000, 1, 0);
    alias(sim, 1, 0x500000, 2, 0);
    alias(sim, 3, 0x510000, 2, 0);
    expect_synonyms(sim, 4, 1);
    alias(sim, 1, 0x700000, 3, 0);
    alias(sim, 2, 0x708000, 3, 0);
    alias(sim, 3, 0x704000, 3, 0);
    expect_synonyms(sim, 4, 2);
    vmsim_destroy(sim);
}

/* synonym_bits for several geometries, 4 KiB pages: log2(S x B) - 12, at
 * least 0.
 *   64 x 64 = 2^12: 0     32 x 64 = 2^11 (smaller than a page): 0
 *   1 x 4096 = 2^12: 0    1 x 8192 = 2^13: 1 (all index bits are offset
 *                                             bits of the block, still above P)
 *   128 x 64 = 2^13: 1    512 x 64 = 2^15: 3
 *   256 x 256 = 2^16: 4   8192 x 64 = 2^19: 7
 *   2^20 x 2^20 = 2^40 (the CLI's largest): 28 */
static void test_index_bits(void **state)
{
    static const struct {
        uint32_t sets, block;
        uint64_t bits;
    } c[] = {{64, 64, 0},   {32, 64, 0},    {1, 4096, 0},   {1, 8192, 1},
             {128, 64, 1},  {512, 64, 3},   {256, 256, 4},  {8192, 64, 7},
             {1u << 20, 1u << 20, 28}};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        struct vmsim *sim = make_vipt(c[i].sets, c[i].block);
        if (vmsim_get_stats(sim)->synonym_bits != c[i].bits)
            fail_msg("%u x %u: %llu bits, expected %llu", c[i].sets, c[i].block,
                     (unsigned long long)vmsim_get_stats(sim)->synonym_bits,
                     (unsigned long long)c[i].bits);
        expect_synonyms(sim, c[i].bits, 0);
        vmsim_destroy(sim);
    }
}

/* The base page size is P: on arm64 with 16 KiB pages (page shift 14),
 * 128 x 64 = 8 KiB fits in a page (0 bits) and 256 x 256 = 64 KiB has
 * 2^16 / 2^14: 2 bits, VA bits 14-15, color = (va >> 14) mod 4. File 1
 * page 0 at 0x400000 (0x400000 >> 14 = 0x100, color 0), 0x404000 (0x101,
 * color 1) and 0x410000 (0x104, color 0): one frame, two colors: 1. */
static void test_16k_pages(void **state)
{
    for (int big = 0; big <= 1; big++) {
        struct vmsim_config cfg;
        vmsim_config_default(&cfg);
        assert_int_equal(vmsim_geometry_preset("arm64-16k", &cfg.geom), VMSIM_OK);
        char why[256];
        assert_int_equal(vmsim_tlb_parse("l1=64x4@16k/u", &cfg, why, sizeof why), VMSIM_OK);
        cfg.anon_page_shift = 14;
        cfg.phys_bytes = 1024 * 16384ull;
        cfg.vipt_sets = big ? 256 : 128;
        cfg.vipt_block = big ? 256 : 64;
        struct vmsim *sim;
        assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
        alias(sim, 1, 0x400000, 1, 0);
        alias(sim, 2, 0x404000, 1, 0);
        alias(sim, 3, 0x410000, 1, 0);
        if (big)
            expect_synonyms(sim, 2, 1);
        else
            expect_synonyms(sim, 0, 0);
        vmsim_destroy(sim);
    }
}

/* A huge page is judged by its first base page. 2^14 sets x 2^8 B = 4 MiB
 * = 2^22: 10 bits, VA bits 12-21, more than a 2 MiB page's 9, so bit 21
 * of a huge page's address is an index bit. P1 writes anonymous memory at
 * 0x200000 with 2 MiB anonymous pages: one huge page (frames: root, L3 and
 * L2 tables + 512 = 515). P1 forks P2 and P2 reads it: the one huge frame
 * is mapped at 0x200000 twice, color 0x200 both times: 0. File 1 page 0
 * at 0x400000 (P1: page 0x400, color 0x400 mod 1024 = 0) and 0x600000
 * (P2: 0x600 mod 1024 = 0x200) differs in VA bit 21: 1. */
static void test_huge_page_fork(void **state)
{
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    cfg.phys_bytes = 4096 * PAGE;
    cfg.anon_page_shift = 21;
    cfg.vipt_sets = 1u << 14;
    cfg.vipt_block = 1u << 8;
    struct vmsim *sim;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    write1(sim, 1, 0x200000);
    assert_int_equal(vmsim_get_stats(sim)->frames_used, 3 + 512);
    run1(sim, (struct vmsim_event){.type = VMSIM_EV_FORK, .pid = 1, .addr = 2});
    read1(sim, 2, 0x200000);
    read1(sim, 2, 0x3ff000);
    expect_synonyms(sim, 10, 0);
    alias(sim, 1, 0x400000, 1, 0);
    alias(sim, 2, 0x600000, 1, 0);
    expect_synonyms(sim, 10, 1);
    vmsim_destroy(sim);
}

/* With the check off (0 sets) both statistics stay 0, however the frames
 * alias: the aliases of test_one_bit_different_color. */
static void test_off(void **state)
{
    struct vmsim *sim = make_vipt(0, 0);
    alias(sim, 1, 0x400000, 1, 0);
    alias(sim, 2, 0x401000, 1, 0);
    expect_synonyms(sim, 0, 0);
    vmsim_destroy(sim);
}

/* 1 KiB base pages (a custom geometry allows 1 KiB): 2 sets x 1024 B =
 * 2 KiB = 2 P, 1 bit, VA bit 10. P1 maps file 1 at 0x400000 (0x400000 >> 10
 * = 0x1000, color 0), P2 maps it at 0x400400 (0x1001, color 1); both read
 * the file's first 1 KiB page: one frame, two colors, 1. (The reverse map
 * must keep VA bits 10-11 for this.) */
static void test_1k_pages(void **state)
{
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    char why[256];
    assert_int_equal(vmsim_geometry_parse("page=1k,bits=7+7+7+7", &cfg.geom, why, sizeof why),
                     VMSIM_OK);
    assert_int_equal(vmsim_tlb_parse("l1=64x4@1k/u", &cfg, why, sizeof why), VMSIM_OK);
    cfg.anon_page_shift = 10;
    cfg.phys_bytes = 4096 * 1024ull;
    cfg.vipt_sets = 2;
    cfg.vipt_block = 1024;
    struct vmsim *sim;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    run1(sim, (struct vmsim_event){.type = VMSIM_EV_MMAP, .kind = RW_SHARED, .pid = 1,
                                   .addr = 0x400000, .len = 1024, .file = 1});
    run1(sim, (struct vmsim_event){.type = VMSIM_EV_MMAP, .kind = RW_SHARED, .pid = 2,
                                   .addr = 0x400400, .len = 1024, .file = 1});
    read1(sim, 1, 0x400000);
    read1(sim, 2, 0x400400);
    expect_synonyms(sim, 1, 1);
    vmsim_destroy(sim);
}

/* The command line on the worked example of docs/synonyms.md. File 1 page
 * 0 is read by P1 at 0x400000, P2 at 0x7f0001000 and P3 at 0x404000 (page
 * numbers 0x400, 0x7f0001, 0x404); file 2 pages 0 and 1 by P1 at 0x500000
 * (pages 0x500, 0x501) and P2 at 0x502000 (0x502, 0x503). Colors are page
 * numbers mod 2^bits:
 *   --vipt 64x64   4 KiB: 0 bits, 0 frames
 *   --vipt 128x64  8 KiB: 1 bit; file 1: 0 1 0 counts; file 2 page 0:
 *                  0 0, page 1: 1 1 do not: 1 frame
 *   --vipt 256x64  16 KiB: 2 bits; file 1: 0 1 0 counts; file 2 page 0:
 *                  0 2, page 1: 1 3 count: 3 frames */
static void test_cli_worked_example(void **state)
{
    static const char trace[] = "mmap 1 0x400000 4096 r-- file=1\n"
                                "mmap 2 0x7f0001000 4096 r-- file=1\n"
                                "mmap 3 0x404000 4096 r-- file=1\n"
                                "mmap 1 0x500000 8192 rw- shared file=2\n"
                                "mmap 2 0x502000 8192 rw- shared file=2\n"
                                "R 1 0x400000 8\n"
                                "R 2 0x7f0001000 8\n"
                                "R 3 0x404000 8\n"
                                "R 1 0x500000 8\n"
                                "R 1 0x501000 8\n"
                                "R 2 0x502000 8\n"
                                "R 2 0x503000 8\n";
    char *path = write_temp(trace, strlen(trace), ".txt");
    static const struct {
        const char *vipt;
        long long bits, frames;
    } c[] = {{"64x64", 0, 0}, {"128x64", 1, 1}, {"256x64", 2, 3}};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        struct cmd_result r = run_vmsim("run --trace %s --vipt %s --quiet --json -", path, c[i].vipt);
        if (r.status != 0)
            fail_msg("--vipt %s: status %d\n%s", c[i].vipt, r.status, r.err);
        /* both keys occur once in the JSON, under "synonyms" */
        assert_int_equal(json_number(r.out, "index_bits_above_page"), c[i].bits);
        assert_int_equal(json_number(r.out, "frames"), c[i].frames);
        cmd_result_free(&r);
    }
    unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_l1_32k_8way_safe),
        cmocka_unit_test(test_one_bit_same_color),
        cmocka_unit_test(test_one_bit_different_color),
        cmocka_unit_test(test_alias_within_one_process),
        cmocka_unit_test(test_mixed_frames),
        cmocka_unit_test(test_private_copy_ends_alias),
        cmocka_unit_test(test_fork_same_addresses),
        cmocka_unit_test(test_four_bits),
        cmocka_unit_test(test_index_bits),
        cmocka_unit_test(test_16k_pages),
        cmocka_unit_test(test_huge_page_fork),
        cmocka_unit_test(test_off),
        cmocka_unit_test(test_1k_pages),
        cmocka_unit_test(test_cli_worked_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
