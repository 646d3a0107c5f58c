/* The human summary printed by `vmsim run`: one table, figures with
 * thousands separators, the definitions in docs/stats.md. */
#include <inttypes.h>
#include <string.h>

#include "report/report.h"
#include "util/fmt.h"

static const char *num(uint64_t v, char *buf)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    int j = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            buf[j++] = ',';
        buf[j++] = tmp[i];
    }
    buf[j] = '\0';
    return buf;
}

const char *report_bytes(uint64_t bytes, char *buf, size_t len)
{
    return fmt_bytes(bytes, buf, len);
}

static double pct(uint64_t a, uint64_t b) { return b ? 100.0 * (double)a / (double)b : 0.0; }

void report_text(const struct vmsim *sim, const char *source, FILE *out)
{
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    const struct vmsim_config *cfg = vmsim_get_config(sim);
    char a[32], b[32], c[32];
    static const char *const sides[] = {"u", "d", "i"};

    fprintf(out, "vmsim: %s\n", source ? source : "");
    fprintf(out, "machine %s, page table %s %s (%u levels, %u-bit), ASIDs %s\n", cfg->machine,
            cfg->pt, cfg->geom.name, cfg->geom.levels, cfg->geom.va_bits, cfg->asids ? "on" : "off");
    fprintf(out, "%-22s %s accesses, %s translations, %s processes, %s context switches\n",
            "workload", num(st->accesses, a), num(st->translations, b), num(st->processes, c),
            num(st->context_switches, (char[32]){0}));
    struct vmsim_warmup warm;
    vmsim_get_warmup(sim, &warm);
    if (warm.requested && !warm.completed)
        fprintf(out, "%-22s %s accesses asked for, the run ended after %s: nothing excluded\n",
                "warm-up", num(warm.requested, a), num(warm.accesses + st->accesses, b));
    else if (warm.events)
        fprintf(out, "%-22s the first %s accesses (%s events) excluded: the figures below are "
                "the rest\n", "warm-up", num(warm.accesses, a), num(warm.events, b));
    fprintf(out, "\n");

    fprintf(out, "%-10s %-4s %16s %16s %16s %9s\n", "TLB level", "side", "lookups", "hits",
            "misses", "hit rate");
    for (unsigned i = 0; i < cfg->ntlb; i++) {
        const struct vmsim_tlb_stats *t = &st->tlb[i];
        fprintf(out, "%-10s %-4s %16s %16s %16s %8.2f%%\n", cfg->tlb[i].name,
                sides[cfg->tlb[i].side % 3], num(t->hits + t->misses, a), num(t->hits, b),
                num(t->misses, c), pct(t->hits, t->hits + t->misses));
    }
    fprintf(out, "%-27s %16s  (%.3f%% of translations)\n\n", "missed every level",
            num(st->tlb_misses_all, a), pct(st->tlb_misses_all, st->translations));

    fprintf(out, "%-22s %s walks, %s page-table references (%.2f per walk)\n", "page walks",
            num(st->walks, a), num(st->walk_refs, b),
            st->walks ? (double)st->walk_refs / (double)st->walks : 0.0);
    if (st->pwc_hits + st->pwc_misses)
        fprintf(out, "%-22s %s hits, %s misses, %s references skipped\n", "page-walk caches",
                num(st->pwc_hits, a), num(st->pwc_misses, b), num(st->pwc_levels_skipped, c));
    if (cfg->mem.dram) {
        fprintf(out, "%-22s %.1f cycles on average (walks.cycles / walks.count)\n\n",
                "walk latency", st->walks ? (double)st->walk_cycles / (double)st->walks : 0.0);
        fprintf(out, "%-10s %-4s %16s %16s %9s %16s %9s %9s\n", "cache", "side", "references",
                "misses", "hit rate", "walk refs", "walk hit", "PT lines");
        for (unsigned j = 0; j < cfg->mem.ncaches; j++) {
            const struct vmsim_cache_stats *k = &st->cache[j];
            fprintf(out, "%-10s %-4s %16s %16s %8.2f%% %16s %8.2f%% %8.2f%%\n",
                    cfg->mem.cache[j].name, sides[cfg->mem.cache[j].side % 3],
                    num(k->hits + k->misses, a), num(k->misses, b), pct(k->hits, k->hits + k->misses),
                    num(k->pt_hits + k->pt_misses, c), pct(k->pt_hits, k->pt_hits + k->pt_misses),
                    pct(k->pt_lines, k->lines));
        }
        fprintf(out, "%-15s %16s references, %s of them walks'", "DRAM", num(st->dram_refs, a),
                num(st->dram_walk_refs, b));
        if (cfg->mem.dram_row_hit)
            fprintf(out, ", %s row hits", num(st->dram_row_hits, c));
        fputs("\n\n", out);
    }
    if (cfg->nested.on) {
        const double w = st->walks ? (double)st->walks : 1;
        fprintf(out, "%-22s %.2f references per walk: %.2f guest + %.2f host; %s host walks, "
                "%s host page-walk-cache hits\n", "2D walks",
                (double)(st->walk_refs + st->nested_refs) / w, (double)st->walk_refs / w,
                (double)st->nested_refs / w, num(st->nested_walks, a), num(st->nested_pwc_hits, b));
        fprintf(out, "%-22s nested TLB %s hits, %s misses; %s EPT violations (VM exits); %s host "
                "frames, nested table %s\n", "hypervisor", num(st->nested_tlb_hits, a),
                num(st->nested_tlb_misses, b), num(st->nested_violations, c),
                num(st->nested_host_frames, (char[32]){0}),
                report_bytes(st->nested_table_bytes, (char[32]){0}, 32));
    }
    for (unsigned id = 2; cfg->nested.on && id < VMSIM_MAX_VMS; id++) {
        const struct vmsim_stats *v = vmsim_vm_stats(sim, id);
        if (!v)
            continue;
        if (id == 2) {
            const struct vmsim_stats *one = vmsim_vm_stats(sim, 1);
            fprintf(out, "%-22s VM 1: %s accesses, %s faults, %s frames\n", "VMs",
                    num(one->accesses, a), num(one->faults_total, b), num(one->frames_used, c));
        }
        fprintf(out, "%-22s VM %u: %s accesses, %s faults, %s frames\n", "", id,
                num(v->accesses, a), num(v->faults_total, b), num(v->frames_used, c));
    }
    if (cfg->nested.enclave_pid)
        fprintf(out, "%-22s process %u: %s enclave-table references (%.2f per walk); %s reads "
                "refused to others\n", "enclave", (unsigned)cfg->nested.enclave_pid,
                num(st->enclave_refs, a), st->walks ? (double)st->enclave_refs / (double)st->walks : 0.0,
                num(st->enclave_refused, b));
    if (cfg->nested.shadow)
        fprintf(out, "%-22s %s VM exits (guest page-table writes and address-space switches)\n",
                "shadow paging", num(st->shadow_exits, a));
    if (st->mig_rounds) {
        char rounds[160] = "";
        for (uint64_t r = 0; r < st->mig_rounds && r < VMSIM_MIGRATE_ROUNDS; r++)
            snprintf(rounds + strlen(rounds), sizeof rounds - strlen(rounds), "%s%llu",
                     r ? ", " : "", (unsigned long long)st->mig_round_pages[r]);
        if (st->mig_done)
            fprintf(out, "%-22s %llu pre-copy rounds sending %s pages; stop-and-copy %s pages, "
                    "downtime %.3f ms; %s in all; %s dirty-page traps\n", "live migration",
                    (unsigned long long)st->mig_rounds, rounds, num(st->mig_final_pages, a),
                    (double)st->mig_downtime_ns / 1e6, report_bytes(st->mig_bytes, b, sizeof b),
                    num(st->mig_traps, c));
        else
            fprintf(out, "%-22s unfinished at the end of the run: %llu pre-copy rounds sending %s "
                    "pages so far; %s in all; %s dirty-page traps\n", "live migration",
                    (unsigned long long)st->mig_rounds, rounds,
                    report_bytes(st->mig_bytes, b, sizeof b), num(st->mig_traps, c));
    }
    fprintf(out, "%-22s %s total: demand-zero read %s, write %s, COW of zero %s", "page faults",
            num(st->faults_total, a), num(st->faults_zero_read, b), num(st->faults_zero_write, c),
            num(st->faults_cow_zero, (char[32]){0}));
    /* The other kinds, each when it happened. */
    const struct {
        const char *name;
        uint64_t n;
    } kinds[] = {{"COW copy", st->faults_cow_copy},     {"COW reuse", st->faults_cow_reuse},
                 {"page cache hit", st->faults_pagecache_hit},
                 {"page cache miss", st->faults_pagecache_miss},
                 {"swap-in", st->faults_swap_in},       {"page table", st->faults_table},
                 {"protection", st->faults_protection}, {"bad address", st->faults_bad_address},
                 {"out of memory", st->faults_oom},     {"segfault", st->faults_segv}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].n)
            fprintf(out, ", %s %s", kinds[i].name, num(kinds[i].n, a));
    fprintf(out, "\n");
    /* Addresses the machine cannot have: a workload or trace made for a
     * wider space. Never silent (docs/stats.md). */
    if (st->faults_bad_address)
        fprintf(out, "%-22s %s accesses outside the %u-bit virtual address space of %s "
                "(faults.bad_address)\n", "WARNING", num(st->faults_bad_address, a),
                (unsigned)cfg->geom.va_bits, cfg->geom.name);
    if (st->tlb_flushes || st->tlb_invalidations) {
        fprintf(out, "%-22s %s full flushes, %s page invalidations", "TLB maintenance",
                num(st->tlb_flushes, a), num(st->tlb_invalidations, b));
        if (st->shootdown_ipis)
            fprintf(out, ", %s shootdown IPIs", num(st->shootdown_ipis, a));
        fprintf(out, "\n");
    }
    if (st->forks)
        fprintf(out, "%-22s %s\n", "forks", num(st->forks, a));
    if (cfg->verify)
        fprintf(out, "%-22s %s reads checked, %s mismatches\n", "verify", num(st->verify_checks, a),
                num(st->verify_mismatches, b));
    if (cfg->threads > 1) { /* docs/concurrency.md */
        fprintf(out, "%-22s %u threads, --locks %s, %s phases; %s faults locked (%s waited), %s "
                "re-validated, %s CAS retries, %s pinned, %s IPIs\n",
                "concurrency", (unsigned)cfg->threads,
                cfg->locks <= VMSIM_LOCKS_SEQCOUNT ? vmsim_locks_names[cfg->locks] : "?",
                num(st->conc_phases, a), num(st->conc_locks, b), num(st->conc_contended, c),
                num(st->conc_revalidated, (char[32]){0}), num(st->conc_cas_retries, (char[32]){0}),
                num(st->conc_pins, (char[32]){0}), num(st->conc_ipis, (char[32]){0}));
        if (cfg->verify)
            fprintf(out, "%-22s %s reads raced a copy (not checked), %s stale translations used\n",
                    "", num(st->verify_raced, a), num(st->conc_stale, b));
    }
    if (cfg->vipt_sets)
        fprintf(out, "%-22s %u index bits above the page offset, %s frames with aliases in "
                "different sets\n", "VIPT synonyms", (unsigned)st->synonym_bits,
                num(st->synonym_frames, a));
    if (st->evictions || st->swap_reads || st->file_reads)
        fprintf(out, "%-22s %s evicted (%s clean, dropped); swap %s reads, %s writes, peak %s "
                "slots; file %s reads, %s writes\n", "reclaim and I/O", num(st->evictions, a),
                num(st->evictions_clean, b), num(st->swap_reads, c), num(st->swap_writes, (char[32]){0}),
                num(st->swap_slots_peak, (char[32]){0}), num(st->file_reads, (char[32]){0}),
                num(st->file_writes, (char[32]){0}));

    struct vmsim_pt_footprint fp;
    vmsim_footprint(sim, &fp);
    fprintf(out, "%-22s", "page tables");
    if (fp.nparts) /* an organization other than a tree: its parts */
        for (unsigned i = 0; i < fp.nparts; i++)
            fprintf(out, "%s %s %s", i ? "," : "", fp.part[i].name,
                    report_bytes(fp.part[i].bytes, a, sizeof a));
    else
        for (unsigned k = cfg->geom.levels; k >= 1; k--)
            fprintf(out, " L%u%s: %s", k, k == cfg->geom.levels ? " (root)" : "",
                    num(fp.tables[k], a));
    /* The end alone says nothing about a trace that ends with its processes'
     * exit (a recorded program): the peak stands beside it. */
    fprintf(out, "\n%-22s %s without roots, %s of roots at the end; peak %s without roots, %s with",
            "", report_bytes(fp.bytes, a, sizeof a), report_bytes(fp.root_bytes, b, sizeof b),
            report_bytes(st->pt_peak_bytes, c, sizeof c),
            report_bytes(st->pt_peak_all_bytes, (char[32]){0}, 32));
    if (st->pt_shareable)
        fprintf(out, "; %s would be saved by sharing leaf tables",
                report_bytes(st->pt_shareable, a, sizeof a));
    if (fp.shared_by)
        fprintf(out, "; one table for %s address spaces: %u-bit space tags",
                num(fp.shared_by, a), fp.space_tag_bits);
    fprintf(out, "\n");
    if (cfg->share_tables)
        fprintf(out, "%-22s %s leaf tables shared by %s address spaces; %s links made, %s copies "
                "on a change of one, %s let go\n", "shared tables", num(st->share.tables, a),
                num(st->share.sharers, b), num(st->share.attached, c),
                num(st->share.unshared, (char[32]){0}), num(st->share.detached, (char[32]){0}));
    if (cfg->khugepaged.every) {
        const struct vmsim_khugepaged_stats *kh = &st->khugepaged;
        fprintf(out, "%-22s %s scans, %s entries scanned, %s collapses (%s pages copied); not "
                "collapsed: %s no free block, %s too many empty, %s swapped, %s shared\n",
                "khugepaged", num(kh->scans, a), num(kh->pages_scanned, b), num(kh->collapses, c),
                num(kh->pages_copied, (char[32]){0}), num(kh->fail_alloc, (char[32]){0}),
                num(kh->fail_none, (char[32]){0}), num(kh->fail_swap, (char[32]){0}),
                num(kh->fail_shared, (char[32]){0}));
    }
    if (cfg->compact)
        fprintf(out, "%-22s %s runs (%s assembled a block, %s failed): %s pages moved, %s "
                "entries repointed, %s shootdowns, %s cycles; huge pages map %.1f%% of %s "
                "resident anonymous memory\n", "compaction", num(st->compact.runs, a),
                num(st->compact.success, b), num(st->compact.fail, c),
                num(st->compact.pages_moved, (char[32]){0}),
                num(st->compact.rmap_updates, (char[32]){0}),
                num(st->compact.shootdowns, (char[32]){0}), num(st->compact.cycles, (char[32]){0}),
                100.0 * vmsim_thp_coverage(st),
                report_bytes(st->compact.anon_bytes, (char[32]){0}, 32));
    if (cfg->share_tables && (st->share.upper_attached || st->share.upper_tables))
        fprintf(out, "%-22s %s level-2 tables shared by %s address spaces; %s links made, %s copies "
                "on a change of one, %s let go\n", "shared upper tables",
                num(st->share.upper_tables, a), num(st->share.upper_sharers, b),
                num(st->share.upper_attached, c), num(st->share.upper_unshared, (char[32]){0}),
                num(st->share.upper_detached, (char[32]){0}));
    fprintf(out, "%-22s %s frames in use (%s), peak %s\n\n", "memory", num(st->frames_used, a),
            report_bytes(st->frames_used << cfg->geom.page_shift, b, sizeof b),
            num(st->frames_peak, c));

    fprintf(out, "%-22s %s (%.2f per access), %.1f%% translating\n", "cycles", num(st->cycles, a),
            st->accesses ? (double)st->cycles / (double)st->accesses : 0.0,
            pct(st->cycles_translation, st->cycles));
}
