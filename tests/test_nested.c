/* Nested paging: the 2D walk (docs/virtualization.md). Every expected count
 * is worked out by hand from the rule DESIGN.md states: a guest walk of n
 * levels reads n guest entries, each at a guest-physical address that a
 * host walk of m levels translates, and the guest-physical address it
 * finds takes one more host walk: n + n m + m = (n + 1)(m + 1) - 1
 * references with every cache off. A huge page cuts its own dimension:
 * a 2 MiB guest page makes n one less, a 2 MiB host page m one less. */
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine/debug.h"
#include "testutil.h"
#include "vmsim/vmsim.h"

/* The default machine, a guest with mem bytes under a 4-level nested
 * table (x86-64); every other host option at its default. */
static void nested_config(struct vmsim_config *cfg, uint64_t mem)
{
    vmsim_config_default(cfg);
    cfg->phys_bytes = mem;
    cfg->nested.on = true;
    vmsim_geometry_preset("x86-64", &cfg->nested.geom);
}

/* 64 MiB of guest memory, process 1 an enclave with one level. */
static void enclave_config(struct vmsim_config *cfg)
{
    nested_config(cfg, 64ull << 20);
    cfg->nested.enclave_pid = 1;
    cfg->nested.enclave_levels = 1;
}

struct setup {
    const char *guest, *host;
    unsigned guest_page, host_page; /* page shifts; 0: base pages */
    unsigned enclave;               /* levels of the enclave table for pid 1; 0: none */
};

/* A machine with no TLB, no page-walk caches and no nested TLB: every
 * access walks, and every walk reads everything. */
static struct vmsim *machine(const struct setup *s, struct vmsim_config *cfg)
{
    vmsim_config_default(cfg);
    assert_int_equal(vmsim_geometry_preset(s->guest, &cfg->geom), VMSIM_OK);
    cfg->ntlb = 0;
    memset(&cfg->pwc, 0, sizeof cfg->pwc);
    cfg->phys_bytes = 1ull << 30;
    cfg->nested.on = true;
    assert_int_equal(vmsim_geometry_preset(s->host, &cfg->nested.geom), VMSIM_OK);
    cfg->nested.page_shift = (uint8_t)s->host_page;
    if (s->guest_page) {
        cfg->anon_page_shift = (uint8_t)s->guest_page;
        cfg->thp = VMSIM_THP_ALWAYS;
    }
    cfg->nested.enclave_pid = s->enclave ? 1 : 0;
    cfg->nested.enclave_levels = (uint8_t)s->enclave;
    struct vmsim *sim;
    assert_int_equal(vmsim_create(cfg, &sim), VMSIM_OK);
    return sim;
}

static void touch(struct vmsim *sim, unsigned kind, uint64_t va)
{
    const struct vmsim_event ev = {
        .type = VMSIM_EV_ACCESS, .kind = (uint8_t)kind, .pid = 1, .addr = va, .len = 8};
    assert_int_equal(vmsim_run(sim, &ev, 1), VMSIM_OK);
}

/* Guest and host references of one walk of a page already mapped (the
 * first write faults it in; the second access is measured). */
static void warm_walk(const struct setup *s, uint64_t *guest, uint64_t *host, uint64_t *cycles,
                      uint64_t *enclave)
{
    struct vmsim_config cfg;
    struct vmsim *sim = machine(s, &cfg);
    const uint64_t va = 0x40000000;
    touch(sim, VMSIM_WRITE, va);
    const struct vmsim_stats before = *vmsim_get_stats(sim);
    touch(sim, VMSIM_READ, va + 64);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_int_equal(st->walks - before.walks, 1);
    *guest = st->walk_refs - before.walk_refs;
    *host = st->nested_refs - before.nested_refs;
    if (enclave)
        *enclave = st->enclave_refs - before.enclave_refs;
    if (cycles)
        *cycles = st->cycles - before.cycles;
    assert_int_equal(st->nested_violations, before.nested_violations);
    vmsim_destroy(sim);
}

/* (n + 1)(m + 1) - 1: 24 for 4 on 4, 29 for 4 on 5, 35 for 5 on 5, 19 for
 * Sv39 (3) on 4; guest n and host n m + m. */
static void test_cold_2d_walk(void **state)
{
    (void)state;
    static const struct {
        const char *guest, *host;
        unsigned n, m;
    } c[] = {{"x86-64", "x86-64", 4, 4},
             {"x86-64", "x86-64-5l", 4, 5},
             {"x86-64-5l", "x86-64-5l", 5, 5},
             {"sv39", "x86-64", 3, 4},
             {"x86-64-5l", "x86-64", 5, 4}};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        const struct setup s = {c[i].guest, c[i].host, 0, 0, 0};
        uint64_t guest, host;
        warm_walk(&s, &guest, &host, NULL, NULL);
        if (guest != c[i].n || host != c[i].n * c[i].m + c[i].m)
            fail_msg("%s on %s: %llu guest + %llu host references, expected %u + %u",
                     c[i].guest, c[i].host, (unsigned long long)guest, (unsigned long long)host,
                     c[i].n, c[i].n * c[i].m + c[i].m);
        assert_int_equal(guest + host, (c[i].n + 1) * (c[i].m + 1) - 1);
    }
}

/* Huge pages shorten the dimension they are in: x86-64 on x86-64 with a
 * 2 MiB guest page: n = 3, 3 + 3 x 4 + 4 = 19; with 2 MiB host pages:
 * m = 3, 4 + 4 x 3 + 3 = 19; 1 GiB host pages: m = 2, 4 + 8 + 2 = 14;
 * both 2 MiB: 3 + 9 + 3 = 15. */
static void test_huge_pages(void **state)
{
    (void)state;
    static const struct {
        struct setup s;
        uint64_t guest, host;
    } c[] = {{{"x86-64", "x86-64", 21, 0, 0}, 3, 16},
             {{"x86-64", "x86-64", 0, 21, 0}, 4, 15},
             {{"x86-64", "x86-64", 0, 30, 0}, 4, 10},
             {{"x86-64", "x86-64", 21, 21, 0}, 3, 12}};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        uint64_t guest, host;
        warm_walk(&c[i].s, &guest, &host, NULL, NULL);
        if (guest != c[i].guest || host != c[i].host)
            fail_msg("guest page 2^%u, host page 2^%u: %llu + %llu references, expected %llu + %llu",
                     c[i].s.guest_page, c[i].s.host_page, (unsigned long long)guest,
                     (unsigned long long)host, (unsigned long long)c[i].guest,
                     (unsigned long long)c[i].host);
    }
}

/* The cost model (the skylake preset: access 4, pt_ref 12): the warm
 * 4-on-4 access costs 4 + 24 x 12 = 292 cycles; the first one also pays a VM exit (1000) for each
 * guest-physical page the hypervisor backs: the guest's root, its three
 * lower tables and the data page, 5. */
static void test_cost_and_violations(void **state)
{
    (void)state;
    const struct setup s = {"x86-64", "x86-64", 0, 0, 0};
    uint64_t guest, host, cycles;
    warm_walk(&s, &guest, &host, &cycles, NULL);
    assert_int_equal(cycles, 4 + 24 * 12);
    struct vmsim_config cfg;
    struct vmsim *sim = machine(&s, &cfg);
    touch(sim, VMSIM_WRITE, 0x40000000);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_int_equal(st->nested_violations, 5);
    assert_int_equal(st->nested_oom, 0);
    /* 5 backed pages plus the nested table: a root and one table per
     * lower level on the path of guest-physical frames 0..4 */
    assert_int_equal(st->nested_host_frames, 5 + 4);
    assert_int_equal(st->nested_table_bytes, 4 * 4096);
    vmsim_destroy(sim);
}

/* A nested TLB (guest-physical page -> host page) serves the second walk
 * entirely: its 4 guest entries' pages and the data page are cached, so
 * no host walk: 4 references, 5 nested-TLB hits. Host page-walk caches
 * instead (the guest's frames all lie in the first 2 MiB of guest-physical
 * memory): each of the 5 host walks starts at the cached level-2 entry
 * and reads 1 reference: 4 + 5 = 9. */
static void test_nested_caches(void **state)
{
    (void)state;
    for (int pwc = 0; pwc < 2; pwc++) {
        const struct setup s = {"x86-64", "x86-64", 0, 0, 0};
        struct vmsim_config cfg;
        vmsim_config_default(&cfg);
        struct vmsim *sim = machine(&s, &cfg);
        vmsim_destroy(sim);
        if (pwc) {
            cfg.nested.pwc.level[2] = (struct vmsim_cache_config){32, 4};
            cfg.nested.pwc.level[3] = (struct vmsim_cache_config){4, 4};
            cfg.nested.pwc.level[4] = (struct vmsim_cache_config){2, 2};
            cfg.nested.pwc.latency = 1;
        } else {
            cfg.nested.tlb = (struct vmsim_cache_config){16, 4};
            cfg.nested.tlb_latency = 1;
        }
        assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
        touch(sim, VMSIM_WRITE, 0x40000000);
        const struct vmsim_stats before = *vmsim_get_stats(sim);
        touch(sim, VMSIM_READ, 0x40000040);
        const struct vmsim_stats *st = vmsim_get_stats(sim);
        assert_int_equal(st->walk_refs - before.walk_refs, 4);
        if (pwc) {
            assert_int_equal(st->nested_refs - before.nested_refs, 5);
            assert_int_equal(st->nested_pwc_hits - before.nested_pwc_hits, 5);
        } else {
            assert_int_equal(st->nested_refs - before.nested_refs, 0);
            assert_int_equal(st->nested_tlb_hits - before.nested_tlb_hits, 5);
            assert_int_equal(st->nested_tlb_misses - before.nested_tlb_misses, 0);
        }
        vmsim_destroy(sim);
    }
}

/* The guest sees the same machine with and without nesting: translations,
 * faults, frames and its own walk references are identical on a mixed
 * workload; nesting only adds host references and cycles. */
static void test_guest_unchanged(void **state)
{
    (void)state;
    struct vmsim_event ev[4000];
    uint64_t x = 7;
    for (size_t i = 0; i < 4000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        ev[i] = (struct vmsim_event){.type = VMSIM_EV_ACCESS,
                                     .kind = (uint8_t)((x >> 60) & 1),
                                     .pid = 1 + (uint32_t)((x >> 50) & 1),
                                     .cpu = (uint16_t)((x >> 40) & 1),
                                     .addr = ((x >> 8) & 0xffffff000ull) | 0x10000000000ull,
                                     .len = 8};
    }
    struct vmsim_stats st[2];
    for (int nested = 0; nested < 2; nested++) {
        struct vmsim_config cfg;
        vmsim_config_default(&cfg);
        cfg.phys_bytes = 1ull << 30;
        cfg.nested.on = nested;
        vmsim_geometry_preset("x86-64-5l", &cfg.nested.geom);
        cfg.nested.pwc = cfg.pwc;
        struct vmsim *sim;
        assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
        assert_int_equal(vmsim_run(sim, ev, 4000), VMSIM_OK);
        st[nested] = *vmsim_get_stats(sim);
        vmsim_destroy(sim);
    }
    assert_int_equal(st[0].walks, st[1].walks);
    assert_int_equal(st[0].walk_refs, st[1].walk_refs);
    assert_int_equal(st[0].faults_total, st[1].faults_total);
    assert_int_equal(st[0].frames_used, st[1].frames_used);
    assert_int_equal(st[0].tlb_misses_all, st[1].tlb_misses_all);
    assert_int_equal(st[0].nested_refs, 0);
    assert_true(st[1].nested_refs > 0);
    assert_true(st[1].cycles > st[0].cycles);
}

/* Seed 002's garbage-collector example: a mark-sweep scans an 8 GiB heap
 * page by page; every page is a TLB miss, and in a VM each miss costs
 * about 1100 cycles more, which "can add nearly a second" of pause. The
 * closed form: 8 GiB / 4 KiB = 2^21 misses x 1100 cycles = 2,306,867,200
 * cycles, 0.92 s at 2.5 GHz (the clock this reproduction assumes). In the
 * model a miss walks 4 entries natively and 24 nested (caches off, as
 * the seed's worst case), so the 20 extra references cost 1100 cycles at
 * pt_ref = 55. The heap is touched once first (page tables built, so the
 * scan takes no faults), then scanned; only the scan is measured. */
static uint64_t scan_cycles(bool nested)
{
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    memset(&cfg.pwc, 0, sizeof cfg.pwc);
    cfg.cost.pt_ref = 55;
    cfg.phys_bytes = 1ull << 30;
    cfg.nested.on = nested;
    vmsim_geometry_preset("x86-64", &cfg.nested.geom);
    struct vmsim *sim;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    enum { PAGES = 1 << 21, BATCH = 4096 };
    static struct vmsim_event ev[BATCH];
    uint64_t start = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            start = vmsim_get_stats(sim)->cycles;
        for (uint64_t p = 0; p < PAGES; p += BATCH) {
            for (unsigned i = 0; i < BATCH; i++)
                ev[i] = (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = VMSIM_READ, .pid = 1,
                                             .addr = (1ull << 40) + ((p + i) << 12), .len = 8};
            assert_int_equal(vmsim_run(sim, ev, BATCH), VMSIM_OK);
        }
    }
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_int_equal(st->faults_total, PAGES); /* the first pass only */
    const uint64_t cycles = st->cycles - start;
    vmsim_destroy(sim);
    return cycles;
}

static void test_gc_pause(void **state)
{
    (void)state;
    const uint64_t native = scan_cycles(false), nested = scan_cycles(true);
    const uint64_t extra = nested - native;
    print_message("GC scan of 8 GiB: %llu extra cycles in the VM, %.3f s at 2.5 GHz\n",
                  (unsigned long long)extra, (double)extra / 2.5e9);
    assert_int_equal(extra, (1ull << 21) * 1100);
    assert_true((double)extra / 2.5e9 > 0.9 && (double)extra / 2.5e9 < 1.0);
}

/* The command line: one write to each of 2 pages 4 KiB apart, every cache
 * off: each page faults (walk, fault, walk). Guest references: page 1
 * finds the root entry empty (1), then walks 4; page 2 finds its L1 entry
 * empty (4), then 4: 13. EPT violations: the root on the first walk, then
 * the 3 new tables and the data page on the second, then page 2's data
 * page: 6. Options that describe a host need --nested. */
static void test_cli(void **state)
{
    (void)state;
    struct cmd_result r = run_vmsim("run --quiet --nested x86-64 --tlb none --pwc none --host-pwc "
                                    "none --workload seq:n=2,stride=4096,write=1 --json -");
    if (r.status != 0)
        fail_msg("status %d: %s", r.status, r.err);
    assert_int_equal(json_number(r.out, "violations"), 5 + 1);
    assert_int_equal(json_number(r.out, "refs"), (1 + 4) + (4 + 4));
    cmd_result_free(&r);
    r = run_vmsim("run --host-pt hashed --workload seq:n=10");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "expected --nested GEOMETRY"));
    cmd_result_free(&r);
    r = run_vmsim("run --nested x86-64 --host-page 8k --workload seq:n=10");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "not a page size of the nested geometry"));
    cmd_result_free(&r);
    r = run_vmsim("run --nested x86-64 --ntlb 10x4 --workload seq:n=10");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "ENTRIESxWAYS"));
    cmd_result_free(&r);
}

/* Shadow paging against nested paging on a hand-made trace of guest
 * page-table writes. Shadow paging write-protects the guest's tables and
 * traps every entry the guest kernel writes, and every address-space
 * switch (CR3 load), one VM exit each. The trace, on cpu 0:
 *   switch to 1                         1 exit (CR3)
 *   pid 1 writes A, writes B            2 maps (demand-zero writes)
 *   pid 1 reads C                       1 map (the zero frame)
 *   pid 1 writes C                      1 map (copy of the zero frame)
 *   mprotect A..C+4K read-only          3 protection changes
 *   munmap B                            1 unmap
 *   switch to 2, pid 2 writes A         1 exit (CR3) + 1 map
 *   switch to 1                         1 exit (CR3)
 * page_tables.writes = 2 + 1 + 1 + 3 + 1 + 1 = 9 in every mode; shadow
 * exits 9 + 3 = 12, none under nested paging (no EPT violation either:
 * shadow paging backs memory inside the exits). Shadow walks read the
 * guest's shape only: the same references as native, no host walk. */
static void test_shadow_exits(void **state)
{
    (void)state;
    const uint64_t A = 0x10000000, B = A + 4096, C = B + 4096;
    const struct vmsim_event ev[] = {
        {.type = VMSIM_EV_SWITCH, .cpu = 0, .pid = 1},
        {.type = VMSIM_EV_MMAP, .pid = 1, .addr = A, .len = 3 * 4096,
         .kind = VMSIM_PROT_R | VMSIM_PROT_W},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_WRITE, .pid = 1, .addr = A, .len = 8},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_WRITE, .pid = 1, .addr = B, .len = 8},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_READ, .pid = 1, .addr = C, .len = 8},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_WRITE, .pid = 1, .addr = C, .len = 8},
        {.type = VMSIM_EV_MPROTECT, .pid = 1, .addr = A, .len = 3 * 4096, .kind = VMSIM_PROT_R},
        {.type = VMSIM_EV_MUNMAP, .pid = 1, .addr = B, .len = 4096},
        {.type = VMSIM_EV_SWITCH, .cpu = 0, .pid = 2},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_WRITE, .pid = 2, .addr = A, .len = 8},
        {.type = VMSIM_EV_SWITCH, .cpu = 0, .pid = 1},
    };
    const size_t n = sizeof ev / sizeof ev[0];
    struct vmsim_stats st[3]; /* native, nested, shadow */
    for (int mode = 0; mode < 3; mode++) {
        struct vmsim_config cfg;
        vmsim_config_default(&cfg);
        cfg.phys_bytes = 1ull << 30;
        cfg.nested.on = mode > 0;
        cfg.nested.shadow = mode == 2;
        vmsim_geometry_preset("x86-64", &cfg.nested.geom);
        struct vmsim *sim;
        assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
        assert_int_equal(vmsim_run(sim, ev, n), VMSIM_OK);
        st[mode] = *vmsim_get_stats(sim);
        vmsim_destroy(sim);
    }
    for (int mode = 0; mode < 3; mode++)
        assert_int_equal(st[mode].pt_writes, 9);
    assert_int_equal(st[0].shadow_exits, 0);
    assert_int_equal(st[1].shadow_exits, 0);
    assert_int_equal(st[2].shadow_exits, 12);
    assert_int_equal(st[2].nested_violations, 0);
    assert_true(st[1].nested_violations > 0);
    assert_int_equal(st[2].walk_refs, st[0].walk_refs);
    assert_int_equal(st[2].nested_refs, 0);
    assert_true(st[1].nested_refs > 0);
    /* the exits' cost: 12 x vmexit on top of the native cycles */
    assert_int_equal(st[2].cycles - st[0].cycles, 12 * 1000);
}

/* Live migration on a hand-made dirtying pattern. The cost model is
 * reduced to 1 cycle per access (every other constant 0, no TLB), so
 * cycles count accesses; the guest clock is 1 GHz and the link carries
 * 4096 bytes per microsecond, so a 4 KiB page takes 1000 cycles to send,
 * and the downtime target is 20 pages' time (20 us).
 *   accesses 0-99: write pages 0..99 (a page each). Backed: the 100 data
 *     pages, the guest's 4 tables: 104.
 *   access 100: round 1 sends 104 pages: 104,000 cycles, to access
 *     104,100. The guest reads pages 0..49, writes them (50 traps), then
 *     reads page 99.
 *   round 2 sends those 50: 50,000 cycles, to 154,100. Reads and writes
 *     0..29.
 *   round 3 sends 30: 30,000 cycles, to 184,100. Reads and writes 0..9.
 *   10 pages fit in 20 us: stop and copy 10, downtime 10 us.
 * Sent: 104 + 50 + 30 + 10 = 194 pages, 794,624 bytes; 90 dirty traps.
 * With --verify the destination holds every write (0 lost), and the guest
 * sees the same faults and contents as without migration. Run once with
 * no TLB and once with one (latency 0): a cached translation must not let
 * a write escape the write protection. */
static void migration_run(bool migrate, bool tlb, struct vmsim_stats *out)
{
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    char why[128];
    if (tlb)
        assert_int_equal(vmsim_tlb_parse("l1=64x4@4k:0", &cfg, why, sizeof why), VMSIM_OK);
    else
        cfg.ntlb = 0;
    memset(&cfg.pwc, 0, sizeof cfg.pwc);
    cfg.cost = (struct vmsim_cost_config){.access = 1};
    cfg.phys_bytes = 64ull << 20;
    cfg.verify = true;
    cfg.nested.on = true;
    vmsim_geometry_preset("x86-64", &cfg.nested.geom);
    if (migrate)
        cfg.nested.migrate = (struct vmsim_migrate_config){
            .at = 100, .link_bytes = 4096000000ull, .clock_hz = 1000000000ull,
            .downtime_ns = 20000, .max_rounds = 30};
    struct vmsim *sim;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    const uint64_t base = 0x10000000;
    struct vmsim_event ev = {.type = VMSIM_EV_ACCESS, .pid = 1, .len = 8};
    static const uint64_t round_end[] = {104100, 154100, 184100};
    static const unsigned writes[] = {50, 30, 10};
    for (uint64_t i = 0; i < 190000; i++) {
        unsigned r = 0;
        while (r < 3 && i >= round_end[r])
            r++;
        const uint64_t start = r ? round_end[r - 1] : 100;
        if (i < 100) {
            ev.kind = VMSIM_WRITE;
            ev.addr = base + (i << 12);
        } else if (r < 3 && i - start < 2 * writes[r]) {
            /* read the pages first: cached translations, then writes */
            const uint64_t k = i - start;
            ev.kind = k < writes[r] ? VMSIM_READ : VMSIM_WRITE;
            ev.addr = base + ((k % writes[r]) << 12);
        } else {
            ev.kind = VMSIM_READ;
            ev.addr = base + (99ull << 12);
        }
        assert_int_equal(vmsim_run(sim, &ev, 1), VMSIM_OK);
    }
    *out = *vmsim_get_stats(sim);
    vmsim_destroy(sim);
}

static void test_migration(void **state)
{
    (void)state;
    for (int tlb = 0; tlb < 2; tlb++) {
        struct vmsim_stats with, without;
        migration_run(true, tlb, &with);
        migration_run(false, tlb, &without);
        assert_int_equal(with.mig_rounds, 3);
        assert_int_equal(with.mig_done, 1);
        assert_int_equal(with.mig_round_pages[0], 104);
        assert_int_equal(with.mig_round_pages[1], 50);
        assert_int_equal(with.mig_round_pages[2], 30);
        assert_int_equal(with.mig_final_pages, 10);
        assert_int_equal(with.mig_pages, 194);
        assert_int_equal(with.mig_bytes, 194 * 4096);
        assert_int_equal(with.mig_downtime_ns, 10000);
        assert_int_equal(with.mig_traps, 90);
        assert_int_equal(with.mig_lost, 0);
        assert_int_equal(without.mig_rounds, 0);
        /* the guest does not notice */
        assert_int_equal(with.faults_total, without.faults_total);
        assert_int_equal(with.walks, without.walks);
        assert_int_equal(with.tlb_misses_all, without.tlb_misses_all);
        assert_int_equal(with.translations, without.translations);
        assert_int_equal(with.frames_used, without.frames_used);
        assert_true(with.verify_checks > 0);
        assert_int_equal(with.verify_mismatches, 0);
        assert_int_equal(without.verify_mismatches, 0);
    }
}

/* An enclave's translations end in machine memory: each of the n + 1
 * host-physical addresses a 2D walk produces (the n guest entries' and the
 * data's) takes a walk of the processor's e-level enclave table:
 * (n + 1)(m + 1) - 1 + (n + 1) e = (n + 1)(m + e + 1) - 1 references.
 * Seed 002: one level adds 5 to a 4 x 4 walk (24 -> 29). 4 x 5, e = 1:
 * 29 + 5 = 34; 4 x 4, e = 2: 24 + 10 = 34; 5 x 5, e = 1: 35 + 6 = 41. */
static void test_enclave_level(void **state)
{
    (void)state;
    static const struct {
        struct setup s;
        uint64_t total, enclave;
    } c[] = {{{"x86-64", "x86-64", 0, 0, 1}, 29, 5},
             {{"x86-64", "x86-64-5l", 0, 0, 1}, 34, 5},
             {{"x86-64", "x86-64", 0, 0, 2}, 34, 10},
             {{"x86-64-5l", "x86-64-5l", 0, 0, 1}, 41, 6}};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        uint64_t guest, host, enclave;
        warm_walk(&c[i].s, &guest, &host, NULL, &enclave);
        if (guest + host + enclave != c[i].total || enclave != c[i].enclave)
            fail_msg("%s on %s, %u enclave levels: %llu + %llu + %llu references, expected %llu "
                     "(%llu enclave)", c[i].s.guest, c[i].s.host, c[i].s.enclave,
                     (unsigned long long)guest, (unsigned long long)host,
                     (unsigned long long)enclave, (unsigned long long)c[i].total,
                     (unsigned long long)c[i].enclave);
    }
}

/* Isolation: the enclave (pid 1) writes a page, then forks; the child
 * shares the frame copy-on-write, but its reads of it are refused, every
 * time (nothing is cached for it), while the enclave reads on. A live
 * migration starts after the third access; its link is so fast that the
 * first round ends at once, with nothing dirtied, so the stop-and-copy
 * follows at the next event. The hypervisor is refused the enclave's
 * frame each time it sends it: once, in round 1. */
static void test_enclave_isolation(void **state)
{
    (void)state;
    struct vmsim_config cfg;
    enclave_config(&cfg);
    cfg.nested.migrate = (struct vmsim_migrate_config){
        .at = 3, .link_bytes = 1ull << 50, .clock_hz = 1000000000ull, .downtime_ns = 1000000000ull,
        .max_rounds = 30};
    struct vmsim *sim;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    const uint64_t X = 0x10000000;
    const struct vmsim_event ev[] = {
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_WRITE, .pid = 1, .addr = X, .len = 8},
        {.type = VMSIM_EV_FORK, .pid = 1, .addr = 2},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_READ, .pid = 2, .addr = X, .len = 8},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_READ, .pid = 2, .addr = X + 8, .len = 8},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_READ, .pid = 1, .addr = X, .len = 8},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_READ, .pid = 1, .addr = X, .len = 8},
    };
    assert_int_equal(vmsim_run(sim, ev, 4), VMSIM_OK);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_int_equal(st->enclave_refused, 2);
    assert_int_equal(vmsim_run(sim, ev + 4, 2), VMSIM_OK);
    st = vmsim_get_stats(sim);
    assert_int_equal(st->mig_done, 1);
    assert_int_equal(st->enclave_refused, 2 + 1);
    vmsim_destroy(sim);
}

/* A freed enclave page stops being enclave memory. The enclave (pid 1)
 * writes X and X + 4 KiB (frames A and A + 1: no table is needed between
 * them), then unmaps X: A goes first on the order-0 free list (its buddy
 * is in use: A + 1, or the leaf table before it). pid 2, whose tables
 * already cover Z + 4 KiB, writes there and takes A (docs/kernel.md,
 * "Which frame"): a page of its own, which it reads, and is served. The
 * enclave's own read of X + 4 KiB is served too. Nothing is refused. */
static void test_enclave_frame_freed(void **state)
{
    (void)state;
    struct vmsim_config cfg;
    enclave_config(&cfg);
    struct vmsim *sim;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    const uint64_t X = 0x10000000, Z = 0x20000000;
    const struct vmsim_event ev[] = {
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_WRITE, .pid = 2, .addr = Z, .len = 8},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_WRITE, .pid = 1, .addr = X, .len = 8},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_WRITE, .pid = 1, .addr = X + 4096, .len = 8},
        {.type = VMSIM_EV_MUNMAP, .pid = 1, .addr = X, .len = 4096},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_WRITE, .pid = 2, .addr = Z + 4096, .len = 8},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_READ, .pid = 2, .addr = Z + 4096, .len = 8},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_READ, .pid = 1, .addr = X + 4096, .len = 8},
    };
    assert_int_equal(vmsim_run(sim, ev, sizeof ev / sizeof ev[0]), VMSIM_OK);
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_int_equal(st->enclave_refused, 0);
    assert_true(st->enclave_refs > 0); /* the enclave did walk */
    vmsim_destroy(sim);
}

/* Two VMs on one CPU: pid 1 in VM 1 (the default), pid 2 spawned into VM
 * 2, which has guest memory of its own. Both write, then read, the same
 * virtual address, taking turns on cpu 0 (TLB on):
 *   - each VM's first access faults in its own memory and misses every TLB
 *     level, even though the other VM's entry for that address is cached:
 *     1 fault and 1 all-level miss per VM; each second access hits (its
 *     entry survived the other VM's turn: tagged, not flushed);
 *   - switches: pid 1 -> 2 -> 1 -> 2 on a CPU that ran nothing before: 3,
 *     2 counted by VM 2 (it is switched to twice) and 1 by VM 1;
 *   - each VM backs its root, 3 lower tables and the data page: 5 EPT
 *     violations each, 5 guest frames each; the host holds 10 backed pages
 *     and two nested tables of 4 tables each: 18 host frames;
 *   - a fork in VM 2 stays there; a spawn into a VM that does not exist is
 *     refused. */
static void test_two_vms(void **state)
{
    (void)state;
    struct vmsim_config cfg;
    nested_config(&cfg, 64ull << 20);
    struct vmsim *sim;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    assert_int_equal(vmsim_vm_create(sim, 2, 32ull << 20), VMSIM_OK);
    assert_int_equal(vmsim_vm_create(sim, 2, 0), VMSIM_EEXIST);
    assert_int_equal(vmsim_vm_create(sim, 1, 0), VMSIM_ERANGE);
    assert_int_equal(vmsim_vm_create(sim, VMSIM_MAX_VMS, 0), VMSIM_ERANGE);
    const uint64_t X = 0x10000000;
    const struct vmsim_event ev[] = {
        {.type = VMSIM_EV_SPAWN, .pid = 2, .file = 2},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_WRITE, .pid = 1, .addr = X, .len = 8},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_WRITE, .pid = 2, .addr = X, .len = 8},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_READ, .pid = 1, .addr = X, .len = 8},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_READ, .pid = 2, .addr = X, .len = 8},
    };
    assert_int_equal(vmsim_run(sim, ev, 5), VMSIM_OK);
    for (unsigned vm = 1; vm <= 2; vm++) {
        const struct vmsim_stats *v = vmsim_vm_stats(sim, vm);
        assert_non_null(v);
        assert_int_equal(v->accesses, 2);
        assert_int_equal(v->faults_total, 1);
        assert_int_equal(v->tlb_misses_all, 1);
        assert_int_equal(v->nested_violations, 5);
        assert_int_equal(v->frames_used, 5);
        assert_int_equal(v->context_switches, vm == 1 ? 1 : 2);
    }
    assert_null(vmsim_vm_stats(sim, 3));
    const struct vmsim_stats *t = vmsim_get_stats(sim);
    assert_int_equal(t->accesses, 4);
    assert_int_equal(t->faults_total, 2);
    assert_int_equal(t->context_switches, 3);
    assert_int_equal(t->frames_used, 10);
    assert_int_equal(t->nested_violations, 10);
    assert_int_equal(t->nested_host_frames, 10 + 8);
    const struct vmsim_event more[] = {
        {.type = VMSIM_EV_FORK, .pid = 2, .addr = 3},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_READ, .pid = 3, .addr = X, .len = 8},
    };
    assert_int_equal(vmsim_run(sim, more, 2), VMSIM_OK);
    assert_int_equal(vmsim_vm_stats(sim, 2)->forks, 1);
    assert_int_equal(vmsim_vm_stats(sim, 2)->processes, 2);
    assert_int_equal(vmsim_vm_stats(sim, 1)->processes, 1);
    const struct vmsim_event bad = {.type = VMSIM_EV_SPAWN, .pid = 9, .file = 9};
    assert_int_equal(vmsim_run(sim, &bad, 1), VMSIM_EINVAL);
    vmsim_destroy(sim);
    /* a native machine has no VMs */
    vmsim_config_default(&cfg);
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    assert_int_equal(vmsim_vm_create(sim, 2, 0), VMSIM_EINVAL);
    vmsim_destroy(sim);
}

/* Three VMs, each one process that writes one page at 0x10000000 and
 * reads it back, with --vipt 128x64 (docs/stats.md, "Combining: several
 * VMs"). Each VM, by hand: 2 accesses; 1 fault (a demand-zero write), so
 * the handler ran once at depth 1: nested_max 1, recursive and iterative
 * stacks one handler_frame, 2048 bytes; its guest memory holds the root, 3
 * tables and the page, 5 frames, each backed on first touch (5 EPT
 * violations); its page tables peak at 3 tables (12 KiB) without the root,
 * 16 KiB with it; the VIPT cache indexes 128 x 64 = 8 KiB with 4 KiB pages:
 * log2(8192 / 4096) = 1 bit above the page offset. The machine: counters
 * and what each VM owns alone add up (6 accesses, 3 faults, 15 frames, 15
 * violations, 36 and 48 KiB of page tables); the largest stack and the
 * deepest nesting stay one VM's (2048, 1); the index bits are the
 * configuration's (1); the host's frames are the one host's: 15 backed
 * guest pages and 3 nested tables of 4 tables (the guest frames lie in the
 * first 2 MiB of guest-physical memory), 27. Summed, the old total gave
 * 3 bits and 6144 bytes. */
static void test_vms_combine(void **state)
{
    (void)state;
    struct vmsim_config cfg;
    nested_config(&cfg, 64ull << 20);
    cfg.vipt_sets = 128;
    cfg.vipt_block = 64;
    struct vmsim *sim;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    assert_int_equal(vmsim_vm_create(sim, 2, 0), VMSIM_OK);
    assert_int_equal(vmsim_vm_create(sim, 3, 0), VMSIM_OK);
    const uint64_t X = 0x10000000;
    struct vmsim_event ev[8] = {
        {.type = VMSIM_EV_SPAWN, .pid = 2, .file = 2},
        {.type = VMSIM_EV_SPAWN, .pid = 3, .file = 3},
    };
    for (unsigned p = 1; p <= 3; p++) {
        ev[p + 1] = (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = VMSIM_WRITE, .pid = p,
                                         .addr = X, .len = 8};
        ev[p + 4] = (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = VMSIM_READ, .pid = p,
                                         .addr = X, .len = 8};
    }
    assert_int_equal(vmsim_run(sim, ev, 8), VMSIM_OK);
    struct vmsim_stats vm[4];
    for (unsigned id = 1; id <= 3; id++) {
        vm[id] = *vmsim_vm_stats(sim, id);
        assert_int_equal(vm[id].accesses, 2);
        assert_int_equal(vm[id].faults_total, 1);
        assert_int_equal(vm[id].faults_zero_write, 1);
        assert_int_equal(vm[id].frames_used, 5);
        assert_int_equal(vm[id].nested_violations, 5);
        assert_int_equal(vm[id].nested_max, 1);
        assert_int_equal(vm[id].stack_recursive_max, 2048);
        assert_int_equal(vm[id].stack_iterative_max, 2048);
        assert_int_equal(vm[id].synonym_bits, 1);
        assert_int_equal(vm[id].pt_peak_bytes, 3 * 4096);
        assert_int_equal(vm[id].pt_peak_all_bytes, 4 * 4096);
        assert_int_equal(vm[id].nested_host_frames, 27);
    }
    const struct vmsim_stats *t = vmsim_get_stats(sim);
    assert_int_equal(t->accesses, 6);
    assert_int_equal(t->faults_total, 3);
    assert_int_equal(t->faults_zero_write, 3);
    assert_int_equal(t->tlb_misses_all, 3);
    assert_int_equal(t->processes, 3);
    assert_int_equal(t->frames_used, 15);
    assert_int_equal(t->frames_peak, 15);
    assert_int_equal(t->nested_violations, 15);
    assert_int_equal(t->pt_peak_bytes, 36 * 1024);
    assert_int_equal(t->pt_peak_all_bytes, 48 * 1024);
    assert_int_equal(t->nested_max, 1);
    assert_int_equal(t->stack_recursive_max, 2048);
    assert_int_equal(t->stack_iterative_max, 2048);
    assert_int_equal(t->synonym_bits, 1);
    assert_int_equal(t->nested_host_frames, 27);
    /* and every statistic as its rule says, from the three VMs' own */
    static const struct {
        const char *name;
        size_t off;
        int rule;
    } rule[] = {
#define RULE(f, n, r, d) {n, offsetof(struct vmsim_stats, f), VMSIM_COMBINE_##r},
        VMSIM_STATS(RULE)
#undef RULE
    };
    for (size_t i = 0; i < sizeof rule / sizeof rule[0]; i++) {
        uint64_t v[4], want;
        for (unsigned id = 1; id <= 3; id++)
            memcpy(&v[id], (const char *)&vm[id] + rule[i].off, sizeof v[id]);
        if (rule[i].rule == VMSIM_COMBINE_SUM)
            want = v[1] + v[2] + v[3];
        else if (rule[i].rule == VMSIM_COMBINE_MAX)
            want = v[1] > v[2] ? (v[1] > v[3] ? v[1] : v[3]) : (v[2] > v[3] ? v[2] : v[3]);
        else
            want = v[1];
        if (rule[i].rule == VMSIM_COMBINE_SAME && (v[2] != v[1] || v[3] != v[1]))
            fail_msg("%s differs between VMs (%llu, %llu, %llu): not the same in every VM",
                     rule[i].name, (unsigned long long)v[1], (unsigned long long)v[2],
                     (unsigned long long)v[3]);
        if (rule[i].rule == VMSIM_COMBINE_FIRST && (v[2] || v[3]))
            fail_msg("%s is not VM 1's alone", rule[i].name);
        uint64_t got;
        memcpy(&got, (const char *)t + rule[i].off, sizeof got);
        if (got != want)
            fail_msg("%s: %llu, expected %llu", rule[i].name, (unsigned long long)got,
                     (unsigned long long)want);
    }
    vmsim_destroy(sim);

    /* One inverted host table serves every VM: sized by host memory (2 x
     * 64 MiB = 32768 frames), 16-byte frame entries and 4-byte anchors,
     * 32768 x 20 = 655360 bytes, once for the three VMs (VM 1's figure). */
    nested_config(&cfg, 64ull << 20);
    strcpy(cfg.nested.pt, "inverted");
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    assert_int_equal(vmsim_vm_create(sim, 2, 0), VMSIM_OK);
    assert_int_equal(vmsim_vm_create(sim, 3, 0), VMSIM_OK);
    assert_int_equal(vmsim_run(sim, ev, 8), VMSIM_OK);
    assert_int_equal(vmsim_get_stats(sim)->nested_table_bytes, 32768 * (16 + 4));
    assert_int_equal(vmsim_vm_stats(sim, 1)->nested_table_bytes, 32768 * (16 + 4));
    assert_int_equal(vmsim_vm_stats(sim, 2)->nested_table_bytes, 0);
    vmsim_destroy(sim);
}

/* The guest does not notice a migration under memory pressure either:
 * 1 MiB of guest memory (256 frames) under Clock replacement with swap,
 * random reads and writes over 2 MiB, --verify, a migration starting at
 * access 2000 with a slow link (rounds of thousands of accesses). Page
 * replacement reads the accessed bits, so the migration must not set any
 * (it write-protects cached translations instead of flushing them): the
 * faults, evictions, swap traffic, walks and TLB misses are the same with
 * and without it, and no read sees unexpected contents. */
static void test_migration_pressure(void **state)
{
    (void)state;
    enum { N = 60000 };
    static struct vmsim_event ev[N];
    uint64_t x = 11;
    for (size_t i = 0; i < N; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        ev[i] = (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = (uint8_t)((x >> 62) & 1),
                                     .pid = 1, .addr = 0x10000000 + ((x >> 20) % 512) * 4096,
                                     .len = 8};
    }
    struct vmsim_stats st[2];
    for (int m = 0; m < 2; m++) {
        struct vmsim_config cfg;
        vmsim_config_default(&cfg);
        cfg.phys_bytes = 1ull << 20;
        cfg.swap_bytes = 16ull << 20;
        cfg.verify = true;
        cfg.nested.on = true;
        vmsim_geometry_preset("x86-64", &cfg.nested.geom);
        if (m)
            cfg.nested.migrate = (struct vmsim_migrate_config){
                .at = 2000, .link_bytes = 100000000ull, .clock_hz = 1000000000ull,
                .downtime_ns = 1000000, .max_rounds = 30};
        struct vmsim *sim;
        assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
        assert_int_equal(vmsim_run(sim, ev, N), VMSIM_OK);
        st[m] = *vmsim_get_stats(sim);
        vmsim_destroy(sim);
    }
    assert_true(st[0].evictions > 1000);
    assert_true(st[1].mig_rounds >= 2);
    assert_true(st[1].mig_traps > 0);
    assert_int_equal(st[1].faults_total, st[0].faults_total);
    assert_int_equal(st[1].evictions, st[0].evictions);
    assert_int_equal(st[1].swap_reads, st[0].swap_reads);
    assert_int_equal(st[1].swap_writes, st[0].swap_writes);
    assert_int_equal(st[1].walks, st[0].walks);
    assert_int_equal(st[1].tlb_misses_all, st[0].tlb_misses_all);
    assert_int_equal(st[1].verify_mismatches, 0);
    assert_int_equal(st[1].mig_lost, 0);
}

/* VMs from a text trace (docs/traces.md: "vm", "spawn PID vm=ID"): pid 1
 * in VM 1, pids 2 and 3 in VMs 2 and 3 (32 MiB). Each writes its page at
 * 0x10000000 (1 fault: root, 3 tables, the page: 5 frames, 5 EPT
 * violations); pids 1 and 2 read it again (no fault); pid 3 reads
 * 0x20000000, 256 MiB on: a new leaf table and the zero frame (2 faults, 7
 * frames, 7 violations). 17 violations; the host holds them and 3 nested
 * tables of 4 tables: 29 frames. The same trace on a native machine is
 * refused at its first event. */
static void test_cli_vms(void **state)
{
    (void)state;
    static const char trace[] = "vm 2 0\nvm 3 33554432\nspawn 2 vm=2\nspawn 3 vm=3\n"
                                "W 1 0x10000000 8\nW 2 0x10000000 8\nW 3 0x10000000 8\n"
                                "R 1 0x10000000 8\nR 2 0x10000000 8\nR 3 0x20000000 8\n";
    char *path = write_temp(trace, sizeof trace - 1, ".txt");
    struct cmd_result r =
        run_vmsim("run --quiet --nested x86-64 --mem 64m --trace %s --json -", path);
    if (r.status != 0)
        fail_msg("status %d: %s", r.status, r.err);
    json_error_t jerr;
    json_t *j = json_loads(r.out, 0, &jerr);
    assert_non_null(j);
    json_t *vms = json_object_get(j, "vms");
    assert_int_equal(json_array_size(vms), 3);
    static const long long faults[] = {1, 1, 2}, frames[] = {5, 5, 7};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_array_get(vms, i);
        assert_int_equal(json_integer_value(json_object_get(v, "vm")), (long long)i + 1);
        assert_int_equal(json_integer_value(json_object_get(v, "accesses")), 2);
        assert_int_equal(json_integer_value(json_object_get(v, "faults")), faults[i]);
        assert_int_equal(json_integer_value(json_object_get(v, "frames_used")), frames[i]);
    }
    json_t *nested = json_object_get(j, "nested");
    assert_int_equal(json_integer_value(json_object_get(nested, "violations")), 17);
    assert_int_equal(json_integer_value(json_object_get(nested, "host_frames")), 29);
    json_decref(j);
    cmd_result_free(&r);
    r = run_vmsim("run --trace %s", path);
    assert_int_equal(r.status, 1);
    /* named by its line in the trace (issue 12) */
    assert_non_null(strstr(r.err, ":1 (event 1): expected a virtualized machine"));
    cmd_result_free(&r);
    unlink(path);
    free(path);
}

/* Guest and host organizations may differ. Whatever a guest walk reads (g
 * references), the host translates each of them and the final address:
 * (g + 1) host walks. A hashed guest (its one entry: bucket head and node,
 * g = 2) over a 4-level radix host: 2 guest references, 4 x 3 = 12 host
 * ones. A radix guest over a hashed host whose
 * walk reads h references (bucket head and node for a lone entry, h = 2,
 * Knuth's chaining): 4 guest references and 5 h = 10 host ones. */
static void test_mixed_organizations(void **state)
{
    (void)state;
    for (int hashed_host = 0; hashed_host < 2; hashed_host++) {
        struct vmsim_config cfg;
        vmsim_config_default(&cfg);
        cfg.ntlb = 0;
        memset(&cfg.pwc, 0, sizeof cfg.pwc);
        cfg.phys_bytes = 1ull << 30;
        cfg.nested.on = true;
        vmsim_geometry_preset("x86-64", &cfg.nested.geom);
        snprintf(hashed_host ? cfg.nested.pt : cfg.pt, sizeof cfg.pt, "hashed");
        struct vmsim *sim;
        assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
        touch(sim, VMSIM_WRITE, 0x40000000);
        const struct vmsim_stats before = *vmsim_get_stats(sim);
        touch(sim, VMSIM_READ, 0x40000040);
        const struct vmsim_stats *st = vmsim_get_stats(sim);
        const uint64_t g = st->walk_refs - before.walk_refs, h = st->nested_refs - before.nested_refs;
        if (hashed_host) {
            assert_int_equal(g, 4);
            assert_int_equal(h, 5 * 2);
        } else {
            assert_int_equal(g, 2); /* the only entry: bucket head and node */
            assert_int_equal(h, 4 * (2 + 1));
        }
        vmsim_destroy(sim);
    }
}

/* Another guest cannot read enclave memory either. VM 1 runs the enclave
 * (pid 1), VM 2 a process of its own (pid 2); each writes a page. Reading
 * its own page, pid 2 is served. Then the hypervisor maps pid 1's host
 * frame into VM 2 behind pid 2's page (vmsim_debug_alias_host, as page
 * sharing or an attack would): pid 2's next two reads reach an enclave
 * frame through its own guest tables and are refused, both (nothing is
 * cached for them), while the enclave's own read is served: 2 refusals,
 * counted in VM 2. */
static void test_enclave_other_vm(void **state)
{
    (void)state;
    struct vmsim_config cfg;
    enclave_config(&cfg);
    struct vmsim *sim;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    const uint64_t X = 0x10000000, Y = 0x20000000;
    const struct vmsim_event setup[] = {
        {.type = VMSIM_EV_VM, .addr = 2},
        {.type = VMSIM_EV_SPAWN, .pid = 2, .file = 2},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_WRITE, .pid = 1, .addr = X, .len = 8},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_WRITE, .pid = 2, .addr = Y, .len = 8},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_READ, .pid = 2, .addr = Y, .len = 8},
    };
    assert_int_equal(vmsim_run(sim, setup, 5), VMSIM_OK);
    assert_int_equal(vmsim_get_stats(sim)->enclave_refused, 0);
    assert_int_equal(vmsim_debug_alias_host(sim, 1, X, 2, Y), VMSIM_OK);
    assert_int_equal(vmsim_debug_alias_host(sim, 1, X, 2, Y + 4096), VMSIM_ENOENT);
    const struct vmsim_event after[] = {
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_READ, .pid = 2, .addr = Y, .len = 8},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_READ, .pid = 2, .addr = Y + 8, .len = 8},
        {.type = VMSIM_EV_ACCESS, .kind = VMSIM_READ, .pid = 1, .addr = X, .len = 8},
    };
    assert_int_equal(vmsim_run(sim, after, 3), VMSIM_OK);
    assert_int_equal(vmsim_vm_stats(sim, 2)->enclave_refused, 2);
    assert_int_equal(vmsim_vm_stats(sim, 1)->enclave_refused, 0);
    assert_int_equal(vmsim_get_stats(sim)->enclave_refused, 2);
    vmsim_destroy(sim);
}

/* Host pages smaller than the guest's: a 16 KiB-page guest (arm64-16k) on
 * a 4 KiB-page host. The hypervisor backs a guest frame 4 KiB at a time,
 * as walks touch it. 100 guest pages 16 KiB apart are written at their
 * start: one host page each; the leaf table's entries 0..99 (800 bytes),
 * the level-2 entry 8 (0x10000000 >> 25) and the entries 0 of the upper
 * levels each lie in the first 4 KiB of their table: one host page per
 * table. Round 1 sends those 104 host pages; the link is so fast that it
 * ends at once with nothing dirtied: stop-and-copy 0, nothing lost. */
static void test_migration_small_host_pages(void **state)
{
    (void)state;
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    assert_int_equal(vmsim_geometry_preset("arm64-16k", &cfg.geom), VMSIM_OK);
    cfg.ntlb = 0;
    memset(&cfg.pwc, 0, sizeof cfg.pwc);
    cfg.phys_bytes = 64ull << 20;
    cfg.verify = true;
    cfg.nested.on = true;
    vmsim_geometry_preset("x86-64", &cfg.nested.geom);
    cfg.nested.migrate = (struct vmsim_migrate_config){.at = 100, .link_bytes = 1ull << 50,
                                                       .clock_hz = 1000000000ull,
                                                       .downtime_ns = 1000, .max_rounds = 30};
    struct vmsim *sim;
    assert_int_equal(vmsim_create(&cfg, &sim), VMSIM_OK);
    struct vmsim_event ev = {.type = VMSIM_EV_ACCESS, .kind = VMSIM_WRITE, .pid = 1, .len = 8};
    for (uint64_t i = 0; i < 102; i++) {
        ev.addr = 0x10000000 + (i % 100) * 16384;
        ev.kind = i < 100 ? VMSIM_WRITE : VMSIM_READ;
        assert_int_equal(vmsim_run(sim, &ev, 1), VMSIM_OK);
    }
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    assert_int_equal(st->mig_done, 1);
    assert_int_equal(st->mig_round_pages[0], 104);
    assert_int_equal(st->mig_final_pages, 0);
    assert_int_equal(st->mig_lost, 0);
    assert_int_equal(st->verify_mismatches, 0);
    vmsim_destroy(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cold_2d_walk),        cmocka_unit_test(test_huge_pages),
        cmocka_unit_test(test_cost_and_violations), cmocka_unit_test(test_nested_caches),
        cmocka_unit_test(test_guest_unchanged),     cmocka_unit_test(test_gc_pause),
        cmocka_unit_test(test_cli),                 cmocka_unit_test(test_shadow_exits),
        cmocka_unit_test(test_migration),           cmocka_unit_test(test_migration_pressure),
        cmocka_unit_test(test_enclave_level),
        cmocka_unit_test(test_enclave_isolation),
        cmocka_unit_test(test_enclave_frame_freed),   cmocka_unit_test(test_two_vms),
        cmocka_unit_test(test_cli_vms),             cmocka_unit_test(test_mixed_organizations),
        cmocka_unit_test(test_vms_combine),
        cmocka_unit_test(test_enclave_other_vm),    cmocka_unit_test(test_migration_small_host_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
