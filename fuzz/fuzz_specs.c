/* Fuzz the command-line spec parsers (src/tlb/spec.c, src/pt/geometry.c,
 * src/util/util.c, src/cache/spec.c) and the construction of a machine from what they accept.
 *
 * Input: one selector byte, then text.
 *  - selector bit 7 set: the whole text goes to each parser in turn
 *    (vmsim_tlb_parse, vmsim_pwc_parse, vmsim_cost_parse,
 *    vmsim_geometry_parse + vmsim_geometry_check, vmsim_parse_size,
 *    vmsim_cache_parse, vmsim_khugepaged_parse);
 *  - otherwise the text is split on '\n' into TLB, PWC, COST, GEOMETRY,
 *    MEMORY-SIZE and CACHE fields (a missing or empty field keeps the default); when
 *    the TLB, PWC and geometry fields parse, a machine is built on that
 *    config (at most 64 MiB of simulated memory) and a few hundred fixed
 *    events run through it: accesses of every kind, crossing pages, beyond
 *    the address width, on several CPUs and processes, with mmap, mprotect,
 *    munmap and exit mixed in. Then it is destroyed.
 * The other selector bits: 0-1 CPUs - 1, 2 ASIDs on, 3-4 which of the
 * geometry's leaf sizes anonymous memory uses, 5-6 the length of the `why`
 * buffer (0, 1, 9 or 256 bytes).
 *
 * Contracts checked (abort() so that libFuzzer reports them): a failed
 * parse leaves the config untouched and, given room, says why in a
 * NUL-terminated message; an accepted geometry passes vmsim_geometry_check;
 * vmsim_run returns 0 (simulated failures are counted, never returned) and
 * counts every access; faults.total is the sum of its kinds; used frames
 * never exceed memory.
 * TLB and PWC sizes are capped before building (up to 16M entries per array
 * are valid, but 8 levels x 4 arrays of them is gigabytes of host memory).
 * The fuzz build lets UBSan recover: run with UBSAN_OPTIONS=halt_on_error=1
 * so that undefined behaviour counts as a crash. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmsim/vmsim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NFIELDS 6
#define MAX_CACHE_ENTRIES (1u << 16) /* per machine, TLB arrays plus PWCs */

static const size_t why_lengths[] = {0, 1, 9, 256};

/* A broken contract: say which, then abort so that libFuzzer keeps the input. */
static void broken(const char *what, long long detail)
{
    fprintf(stderr, "fuzz_specs: contract broken: %s (%lld)\n", what, detail);
    abort();
}

/* A parse result: on failure cfg must be as before and why, when it has
 * room, a non-empty NUL-terminated message. */
static void check_result(int rc, const void *before, const void *after, size_t n, const char *why,
                         size_t whylen)
{
    if (rc == VMSIM_OK)
        return;
    if (rc > 0)
        broken("a parser failed with a positive code", rc);
    if (memcmp(before, after, n) != 0)
        broken("a failed parse changed the config", rc);
    if (whylen >= 2 && (why[0] == '\0' || memchr(why, '\0', whylen) == NULL))
        broken("a failed parse gave no NUL-terminated reason; why length", (long long)whylen);
}

static int parse_tlb(const char *s, struct vmsim_config *cfg, char *why, size_t wl)
{
    struct vmsim_config before = *cfg;
    int rc = vmsim_tlb_parse(s, cfg, why, wl);
    check_result(rc, &before, cfg, sizeof before, why, wl);
    if (rc == VMSIM_OK && cfg->ntlb > VMSIM_MAX_TLB_LEVELS)
        broken("vmsim_tlb_parse accepted too many levels", cfg->ntlb);
    return rc;
}

static int parse_pwc(const char *s, struct vmsim_config *cfg, char *why, size_t wl)
{
    struct vmsim_config before = *cfg;
    int rc = vmsim_pwc_parse(s, cfg, why, wl);
    check_result(rc, &before, cfg, sizeof before, why, wl);
    return rc;
}

static int parse_cost(const char *s, struct vmsim_config *cfg, char *why, size_t wl)
{
    struct vmsim_config before = *cfg;
    int rc = vmsim_cost_parse(s, cfg, why, wl);
    check_result(rc, &before, cfg, sizeof before, why, wl);
    return rc;
}

static int parse_khugepaged(const char *s, struct vmsim_config *cfg, char *why, size_t wl)
{
    struct vmsim_config before = *cfg;
    int rc = vmsim_khugepaged_parse(s, cfg, why, wl);
    check_result(rc, &before, cfg, sizeof before, why, wl);
    return rc;
}

static int parse_cache(const char *s, struct vmsim_config *cfg, char *why, size_t wl)
{
    struct vmsim_config before = *cfg;
    int rc = vmsim_cache_parse(s, cfg, why, wl);
    check_result(rc, &before, cfg, sizeof before, why, wl);
    if (rc == VMSIM_OK && cfg->mem.ncaches > VMSIM_MAX_CACHE_LEVELS)
        broken("vmsim_cache_parse accepted too many levels", cfg->mem.ncaches);
    return rc;
}

static int parse_geometry(const char *s, struct vmsim_geometry *g, char *why, size_t wl)
{
    struct vmsim_geometry before = *g;
    int rc = vmsim_geometry_parse(s, g, why, wl);
    check_result(rc, &before, g, sizeof before, why, wl);
    if (rc == VMSIM_OK) {
        char why2[256];
        if (vmsim_geometry_check(g, why2, sizeof why2) != VMSIM_OK)
            broken("vmsim_geometry_parse accepted a geometry vmsim_geometry_check refuses", 0);
    }
    return rc;
}

static uint64_t cache_entries(const struct vmsim_config *cfg)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < cfg->ntlb; i++)
        for (unsigned a = 0; a < cfg->tlb[i].narrays && a < VMSIM_MAX_TLB_ARRAYS; a++)
            n += cfg->tlb[i].array[a].entries;
    for (unsigned j = 0; j < cfg->mem.ncaches && j < VMSIM_MAX_CACHE_LEVELS; j++)
        n += (uint64_t)cfg->mem.cache[j].sets * cfg->mem.cache[j].ways;
    if (cfg->pwc.unified_mode)
        n += cfg->pwc.unified.entries;
    else
        for (unsigned k = 0; k <= VMSIM_MAX_LEVELS; k++)
            n += cfg->pwc.level[k].entries;
    return n;
}

static struct vmsim_event access_ev(unsigned kind, unsigned cpu, vmsim_pid_t pid, uint64_t addr,
                                    uint64_t len)
{
    return (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = (uint8_t)kind,
                                .cpu = (uint16_t)cpu, .pid = pid, .addr = addr, .len = len};
}

/* The fixed event stream: runs of accesses over a few regions, crossing
 * pages of every size up to 64 KiB, plus OS events. */
static size_t make_events(struct vmsim_event *ev, size_t max, unsigned ncpus)
{
    static const uint64_t base[] = {0x0,           0x400000,       0x7fff0000,
                                    0x40000000,    0x7ffffffff000, 0xfffff000,
                                    1ull << 47,    UINT64_MAX - 4095};
    size_t n = 0;
    for (unsigned i = 0; n + 4 < max && i < 320; i++) {
        unsigned cpu = i % ncpus;
        vmsim_pid_t pid = 1 + (i / 7) % 3;
        uint64_t addr = base[i % 8] + (uint64_t)(i / 8) * 0x1ff8 + (i % 5) * 0x10000;
        uint64_t len = (i % 11 == 0) ? 0x10001 : (i % 3 == 0) ? 0 : 8u << (i % 4);
        ev[n++] = access_ev(i % 4, cpu, pid, addr, len);
        if (i % 40 == 13)
            ev[n++] = (struct vmsim_event){.type = VMSIM_EV_MMAP, .kind = (uint8_t)(i % 8),
                                           .pid = pid, .addr = base[(i / 8) % 8], .len = 0x12345};
        if (i % 50 == 27)
            ev[n++] = (struct vmsim_event){.type = VMSIM_EV_MPROTECT, .kind = VMSIM_PROT_R,
                                           .pid = pid, .addr = 0x400000, .len = 0x201000};
        if (i % 64 == 45)
            ev[n++] = (struct vmsim_event){.type = VMSIM_EV_MUNMAP, .pid = pid,
                                           .addr = base[i % 8], .len = 0x3000};
        if (i % 100 == 77)
            ev[n++] = (struct vmsim_event){.type = VMSIM_EV_EXIT, .pid = pid};
        if (i % 90 == 31)
            ev[n++] = (struct vmsim_event){.type = VMSIM_EV_SWITCH, .cpu = (uint16_t)cpu,
                                           .pid = pid + 10};
        if (i % 37 == 5) /* fork into a pid that may exist already (an error) */
            ev[n++] = (struct vmsim_event){.type = VMSIM_EV_FORK, .pid = pid, .addr = 20 + i % 9};
        if (i % 45 == 20) /* shared, file-backed, supervisor, private file mappings */
            ev[n++] = (struct vmsim_event){.type = VMSIM_EV_MMAP, .kind = (uint8_t)(i % 32),
                                           .pid = pid, .addr = 0x600000 + (i % 3) * 0x1000,
                                           .len = 0x9000, .file = i % 3, .pgoff = i % 4};
        if (i % 33 == 9)
            ev[n++] = (struct vmsim_event){.type = VMSIM_EV_MADVISE, .kind = (uint8_t)(i % 3),
                                           .pid = pid, .addr = 0x400000, .len = 0x400000};
    }
    return n;
}

static void build_and_run(struct vmsim_config *cfg, uint8_t sel, uint64_t mem)
{
    if (cache_entries(cfg) > MAX_CACHE_ENTRIES)
        return;
    cfg->phys_bytes = mem;
    cfg->ncpus = 1 + (sel & 3);
    cfg->asids = (sel >> 2) & 1;
    /* The kernel's choices, from the memory size's low bits (the selector
     * byte is spent): replacement policy, swap, evicted tables, strict
     * mode, huge-page policy; --verify always, as the oracle. */
    cfg->replace = (uint8_t)(mem % 6);
    cfg->swap_bytes = (mem >> 3) & 1 ? 0 : 1 << 20;
    cfg->evict_tables = (mem >> 4) & 1;
    cfg->strict = (mem >> 5) & 1;
    cfg->thp = (uint8_t)((mem >> 6) % 3);
    cfg->verify = true;
    /* The anonymous page size: the k-th leaf size of the geometry. */
    const struct vmsim_geometry *g = &cfg->geom;
    unsigned want = (sel >> 3) & 3, seen = 0;
    cfg->anon_page_shift = g->page_shift;
    for (unsigned k = 1; k <= g->levels && k < 8; k++)
        if (g->leaf_levels & (1u << k)) {
            if (seen++ == want)
                cfg->anon_page_shift = (uint8_t)vmsim_geometry_page_shift(g, k);
        }

    struct vmsim *sim = NULL;
    int rc = vmsim_create(cfg, &sim);
    if (rc != VMSIM_OK) {
        if (rc > 0)
            broken("vmsim_create failed with a positive code", rc);
        return;
    }
    static struct vmsim_event ev[512];
    size_t n = make_events(ev, sizeof ev / sizeof ev[0], cfg->ncpus);
    if (cfg->replace == VMSIM_REPLACE_OPT && vmsim_plan(sim, ev, n) != VMSIM_OK)
        broken("vmsim_plan failed", 0);
    uint64_t naccess = 0;
    for (size_t i = 0; i < n; i++)
        naccess += ev[i].type == VMSIM_EV_ACCESS;
    /* Event by event: a fork into an existing pid is the trace's error
     * (VMSIM_EEXIST), reported, and the run goes on past it. */
    bool host_failed = false;
    for (size_t i = 0; i < n; i++) {
        rc = vmsim_run(sim, &ev[i], 1);
        if (rc == VMSIM_EEXIST && ev[i].type == VMSIM_EV_FORK)
            continue;
        if (rc != VMSIM_OK && rc != VMSIM_ENOMEM)
            broken("vmsim_run returned a simulated failure", rc);
        host_failed |= rc == VMSIM_ENOMEM;
    }
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    if (!host_failed && st->accesses != naccess)
        broken("accesses differ from the access events run", (long long)st->accesses);
    if (cfg->mem.dram && st->dram_walk_refs > st->dram_refs)
        broken("more walk references from DRAM than references", (long long)st->dram_walk_refs);
    for (unsigned j = 0; cfg->mem.dram && j < cfg->mem.ncaches; j++)
        if (st->cache[j].pt_hits > st->cache[j].hits || st->cache[j].pt_lines > st->cache[j].lines ||
            st->cache[j].lines > (uint64_t)cfg->mem.cache[j].sets * cfg->mem.cache[j].ways *
                                     (cfg->mem.cache[j].shared ? 1 : cfg->ncpus))
            broken("a cache level's counters contradict each other", j);
    if (st->verify_mismatches)
        broken("--verify: a read saw contents the model did not expect",
               (long long)st->verify_mismatches);
    /* every access translates at least one page, or is dropped with an OOM
     * fault when its process could get no page table */
    if (st->translations + st->faults_oom < st->accesses)
        broken("fewer translations than accesses", (long long)st->translations);
    /* A fault may count as two kinds (a swap-in that then copies) or none
     * (evicted tables brought back), but no kind outnumbers the total. */
    const uint64_t kinds[] = {st->faults_zero_read,    st->faults_zero_write,
                              st->faults_cow_zero,     st->faults_cow_copy,
                              st->faults_cow_reuse,    st->faults_pagecache_hit,
                              st->faults_pagecache_miss, st->faults_swap_in,
                              st->faults_protection,   st->faults_bad_address,
                              st->faults_segv};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (kinds[k] > st->faults_total)
            broken("a kind of fault outnumbers faults.total", (long long)kinds[k]);
    if (st->frames_used > (cfg->phys_bytes >> g->page_shift) || st->frames_peak < st->frames_used)
        broken("frames in use exceed memory or the peak", (long long)st->frames_used);
    struct vmsim_pt_footprint fp;
    vmsim_footprint(sim, &fp);
    vmsim_destroy(sim);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    const uint8_t sel = data[0];
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    size_t wl = why_lengths[(sel >> 5) & 3];
    char *why = malloc(wl ? wl : 1);
    if (!why) {
        free(text);
        return 0;
    }
    memset(why, 0, wl ? wl : 1);

    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    if (sel & 0x80) {
        /* every parser on the whole text */
        struct vmsim_config c = cfg;
        uint64_t v;
        parse_tlb(text, &c, why, wl);
        parse_pwc(text, &c, why, wl);
        parse_cost(text, &c, why, wl);
        parse_geometry(text, &c.geom, why, wl);
        (void)vmsim_parse_size(text, &v);
        parse_cache(text, &c, why, wl);
        parse_khugepaged(text, &c, why, wl);
    } else {
        char *field[NFIELDS] = {NULL};
        char *p = text;
        for (unsigned i = 0; i < NFIELDS && p; i++) {
            field[i] = p;
            p = strchr(p, '\n');
            if (p)
                *p++ = '\0';
        }
        int rc = VMSIM_OK;
        if (field[0] && *field[0])
            rc |= parse_tlb(field[0], &cfg, why, wl);
        if (field[1] && *field[1])
            rc |= parse_pwc(field[1], &cfg, why, wl);
        if (field[2] && *field[2])
            parse_cost(field[2], &cfg, why, wl); /* a bad cost keeps the defaults */
        if (field[3] && *field[3])
            rc |= parse_geometry(field[3], &cfg.geom, why, wl);
        uint64_t mem = 64ull << 20, v;
        if (field[4] && *field[4] && vmsim_parse_size(field[4], &v) == VMSIM_OK && v > 0 &&
            v < mem)
            mem = v;
        if (field[5] && *field[5])
            rc |= parse_cache(field[5], &cfg, why, wl);
        if (rc == VMSIM_OK)
            build_and_run(&cfg, sel, mem);
    }
    free(why);
    free(text);
    return 0;
}
