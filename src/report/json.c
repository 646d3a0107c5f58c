/* The JSON report: every statistic of VMSIM_STATS under its dotted name
 * (split into nested objects), the per-level TLB counters, walk and
 * page-table breakdowns, derived ratios, and the effective configuration,
 * so that a result file says exactly what produced it. Uses jansson. */
#include <jansson.h>
#include <string.h>

#include "report/report.h"
#include "vmsim_gitrev.h" /* VMSIM_GIT_REV, made at every build (cmake/gitrev.cmake) */

/* Set obj[a][b]...= v for a dotted name, creating the objects on the way. */
static int set_path(json_t *root, const char *dotted, json_t *v)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", dotted);
    json_t *obj = root;
    char *save = NULL, *part = strtok_r(buf, ".", &save);
    for (char *next; (next = strtok_r(NULL, ".", &save)) != NULL; part = next) {
        json_t *child = json_object_get(obj, part);
        if (!child) {
            child = json_object();
            if (json_object_set_new(obj, part, child))
                return -1;
        }
        obj = child;
    }
    return json_object_set_new(obj, part, v);
}

static json_t *sizes_array(uint64_t shifts)
{
    json_t *a = json_array();
    for (unsigned s = 0; s < 64; s++)
        if ((shifts >> s) & 1)
            json_array_append_new(a, json_integer((json_int_t)(1ull << s)));
    return a;
}

static json_t *cache_json(const struct vmsim_cache_config *c)
{
    return json_pack("{s:I,s:I}", "entries", (json_int_t)c->entries, "ways", (json_int_t)c->ways);
}

static json_t *geometry_json(const struct vmsim_geometry *g)
{
    json_t *bits = json_array(), *leaves = json_array();
    for (unsigned i = 0; i < g->levels; i++)
        json_array_append_new(bits, json_integer(g->bits[i]));
    for (unsigned k = 1; k <= g->levels; k++)
        if (g->leaf_levels & (1u << k))
            json_array_append_new(leaves,
                                  json_integer((json_int_t)(1ull << vmsim_geometry_page_shift(g, k))));
    return json_pack("{s:s,s:i,s:I,s:i,s:i,s:o,s:o}", "name", g->name, "va_bits", g->va_bits,
                     "page_size", (json_int_t)(1ull << g->page_shift), "levels", g->levels,
                     "pte_bytes", g->pte_bytes, "bits_root_first", bits, "leaf_page_sizes", leaves);
}

static json_t *pwc_json(const struct vmsim_pwc_config *c)
{
    json_t *pwc = json_object();
    json_object_set_new(pwc, "mode", json_string(c->unified_mode ? "unified" : "split"));
    if (c->unified_mode) {
        json_object_set_new(pwc, "unified", cache_json(&c->unified));
    } else {
        for (unsigned k = 2; k <= VMSIM_MAX_LEVELS; k++)
            if (c->level[k].entries) {
                char name[8];
                snprintf(name, sizeof name, "l%u", k);
                json_object_set_new(pwc, name, cache_json(&c->level[k]));
            }
    }
    json_object_set_new(pwc, "latency", json_integer(c->latency));
    return pwc;
}

static json_t *config_json(const struct vmsim_config *cfg)
{
    static const char *const sides[] = {"u", "d", "i"};
    json_t *tlb = json_array();
    for (unsigned i = 0; i < cfg->ntlb; i++) {
        const struct vmsim_tlb_level_config *l = &cfg->tlb[i];
        json_t *arrays = json_array();
        for (unsigned a = 0; a < l->narrays; a++)
            json_array_append_new(arrays, json_pack("{s:I,s:I,s:o}", "entries",
                                                    (json_int_t)l->array[a].entries, "ways",
                                                    (json_int_t)l->array[a].ways, "page_sizes",
                                                    sizes_array(l->array[a].page_shifts)));
        json_array_append_new(tlb, json_pack("{s:s,s:s,s:s,s:I,s:o}", "name", l->name, "side",
                                             sides[l->side % 3], "replacement",
                                             l->repl == VMSIM_REPL_RANDOM ? "random" : "lru",
                                             "latency", (json_int_t)l->latency, "arrays", arrays));
    }
    json_t *cost = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s}", "access",
                             (json_int_t)cfg->cost.access, "pt_ref", (json_int_t)cfg->cost.pt_ref,
                             "fault", (json_int_t)cfg->cost.fault, "io", (json_int_t)cfg->cost.io,
                             "pwc", (json_int_t)cfg->pwc.latency, "trap",
                             (json_int_t)cfg->cost.trap, "sw_ref", (json_int_t)cfg->cost.sw_ref,
                             "vmexit", (json_int_t)cfg->cost.vmexit, "walker", cfg->sw_walk ? "sw" : "hw");
    json_t *kernel = json_pack(
        "{s:I,s:s,s:b,s:s,s:b,s:b,s:I,s:I,s:I,s:I}", "swap_bytes", (json_int_t)cfg->swap_bytes,
        "replace", cfg->replace <= VMSIM_REPLACE_NONE ? vmsim_replace_names[cfg->replace] : "?",
        "strict", cfg->strict, "thp", cfg->thp <= VMSIM_THP_NEVER ? vmsim_thp_names[cfg->thp] : "?",
        "evict_tables", cfg->evict_tables, "verify", cfg->verify, "handler_frame",
        (json_int_t)cfg->handler_frame, "kernel_stack", (json_int_t)cfg->kernel_stack, "vipt_sets",
        (json_int_t)cfg->vipt_sets, "vipt_block", (json_int_t)cfg->vipt_block);
    if (cfg->share_tables) /* only then: every other run keeps its keys */
        json_object_set_new(kernel, "share_tables", json_true());
    if (cfg->khugepaged.every) { /* the same: only when on, its defaults resolved */
        const struct vmsim_khugepaged_config kc = vmsim_khugepaged_resolved(cfg);
        json_object_set_new(kernel, "khugepaged",
                            json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "every", (json_int_t)kc.every,
                                      "pages", (json_int_t)kc.pages, "max_ptes_none",
                                      (json_int_t)kc.max_ptes_none, "max_ptes_swap",
                                      (json_int_t)kc.max_ptes_swap, "max_ptes_shared",
                                      (json_int_t)kc.max_ptes_shared, "copy", (json_int_t)kc.copy));
    }
    if (cfg->compact)
        json_object_set_new(kernel, "compact", json_true());
    const struct vmsim_nested_config *n = &cfg->nested;
    const struct vmsim_migrate_config *m = &n->migrate;
    json_t *migrate = n->on && m->at ? json_pack("{s:I,s:I,s:I,s:I,s:I}", "at", (json_int_t)m->at,
                                                 "link_bytes", (json_int_t)m->link_bytes,
                                                 "clock_hz", (json_int_t)m->clock_hz,
                                                 "downtime_ns", (json_int_t)m->downtime_ns,
                                                 "max_rounds", (json_int_t)m->max_rounds)
                                     : json_null();
    json_t *nested = n->on ? json_pack("{s:s,s:b,s:I,s:I,s:o,s:I,s:I,s:o,s:I,s:o,s:o}", "pt", n->pt[0] ? n->pt : "radix",
                                       "shadow", n->shadow, "enclave_pid", (json_int_t)n->enclave_pid,
                                       "enclave_levels", (json_int_t)n->enclave_levels,
                                       "geometry", geometry_json(&n->geom), "host_mem_bytes",
                                       (json_int_t)(n->mem_bytes ? n->mem_bytes : 2 * cfg->phys_bytes),
                                       "host_page_size",
                                       (json_int_t)(1ull << (n->page_shift ? n->page_shift : n->geom.page_shift)),
                                       "tlb", cache_json(&n->tlb), "tlb_latency",
                                       (json_int_t)n->tlb_latency, "pwc", pwc_json(&n->pwc),
                                       "migrate", migrate)
                           : migrate;
    const struct vmsim_memory_config *mc = &cfg->mem;
    json_t *cache = json_null();
    if (mc->dram) {
        json_t *levels = json_array();
        for (unsigned j = 0; j < mc->ncaches; j++) {
            const struct vmsim_cache_level_config *c = &mc->cache[j];
            json_array_append_new(
                levels, json_pack("{s:s,s:I,s:I,s:I,s:I,s:s,s:b}", "name", c->name, "sets",
                                  (json_int_t)c->sets, "ways", (json_int_t)c->ways, "line",
                                  (json_int_t)c->line, "latency", (json_int_t)c->latency, "side",
                                  sides[c->side % 3], "shared", c->shared));
        }
        cache = json_pack("{s:o,s:I,s:o,s:b}", "levels", levels, "dram", (json_int_t)mc->dram, "row",
                          mc->dram_row_hit ? json_pack("{s:I,s:I,s:I}", "banks",
                                                       (json_int_t)mc->dram_banks, "bytes",
                                                       (json_int_t)mc->dram_row, "hit",
                                                       (json_int_t)mc->dram_row_hit)
                                           : json_null(),
                          "data", mc->data);
    }
    json_t *c = json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:I,s:I,s:b,s:I,s:I,s:o,s:o,s:I,s:s}", "machine", cfg->machine,
                     "pt", cfg->pt, "geometry", geometry_json(&cfg->geom), "tlb", tlb, "pwc",
                     pwc_json(&cfg->pwc), "cost", cost,
                     "kernel", kernel, "phys_bytes", (json_int_t)cfg->phys_bytes, "cpus",
                     (json_int_t)cfg->ncpus, "asids", cfg->asids, "anon_page_size",
                     (json_int_t)(1ull << cfg->anon_page_shift), "seed", (json_int_t)cfg->seed,
                     "nested", nested, "cache", cache, "threads",
                     (json_int_t)(cfg->threads > 1 ? cfg->threads : 1), "locks",
                     cfg->locks <= VMSIM_LOCKS_SEQCOUNT ? vmsim_locks_names[cfg->locks] : "?");
    /* only with a warm-up: --warmup 0 is exactly a run without it, no
     * "warmup" key anywhere (docs/cli.md) */
    if (c && cfg->warmup)
        json_object_set_new(c, "warmup", json_integer((json_int_t)cfg->warmup));
    return c;
}

int vmsim_write_json(const struct vmsim *sim, const char *source, FILE *out)
{
    return report_json_outcome(sim, source, NULL, out);
}

int report_json_outcome(const struct vmsim *sim, const char *source,
                        const struct report_outcome *o, FILE *out)
{
    const struct vmsim_stats *st = vmsim_get_stats(sim);
    const struct vmsim_config *cfg = vmsim_get_config(sim);
    json_t *root = json_object();
    if (!root)
        return VMSIM_ENOMEM;
    /* provenance: what made this file, and how to read it (docs/stats.md,
     * "Provenance"); the schema number changes when a key is renamed,
     * removed, or changes its meaning or unit */
    json_object_set_new(root, "vmsim",
                        json_pack("{s:s,s:s,s:i}", "version", VMSIM_LIB_VERSION, "git",
                                  VMSIM_GIT_REV, "schema", REPORT_JSON_SCHEMA));
    if (o && o->argv) {
        json_t *argv = json_array();
        for (int i = 0; i < o->argc; i++)
            json_array_append_new(argv, json_string(o->argv[i]));
        json_object_set_new(root, "argv", argv);
    }
    json_object_set_new(root, "source", json_string(source ? source : ""));
    /* a file read later must say that its numbers cover part of the input */
    json_object_set_new(root, "complete", json_boolean(!o || !o->stopped));
    if (o && o->stopped)
        json_object_set_new(root, "stopped_by", json_string(o->stopped));
    json_t *warn = json_array();
    for (unsigned i = 0; o && i < o->nwarnings; i++)
        json_array_append_new(warn, json_string(o->warnings[i]));
    json_object_set_new(root, "warnings", warn);
    /* what a warm-up (or a reset) left out of every statistic below */
    struct vmsim_warmup w;
    vmsim_get_warmup(sim, &w);
    if (w.requested || w.events)
        json_object_set_new(root, "warmup",
                            json_pack("{s:I,s:I,s:I,s:b}", "accesses", (json_int_t)w.accesses,
                                      "events", (json_int_t)w.events, "requested",
                                      (json_int_t)w.requested, "completed", w.completed));
#define SET(f, name, r, d) set_path(root, name, json_integer((json_int_t)st->f));
    VMSIM_STATS(SET)
#undef SET
    for (unsigned i = 0; i < cfg->ntlb; i++) {
        char name[64];
        snprintf(name, sizeof name, "tlb.%s.hits", cfg->tlb[i].name);
        set_path(root, name, json_integer((json_int_t)st->tlb[i].hits));
        snprintf(name, sizeof name, "tlb.%s.misses", cfg->tlb[i].name);
        set_path(root, name, json_integer((json_int_t)st->tlb[i].misses));
        snprintf(name, sizeof name, "tlb.%s.reach_bytes", cfg->tlb[i].name);
        set_path(root, name, json_integer((json_int_t)st->tlb[i].reach));
    }
    json_t *hist = json_array();
    for (unsigned i = 0; i <= VMSIM_MAX_LEVELS + 1; i++)
        json_array_append_new(hist, json_integer((json_int_t)st->walk_hist[i]));
    set_path(root, "walks.refs_histogram", hist);
    json_t *lat = json_array();
    for (unsigned i = 0; i < VMSIM_WALK_LAT_BUCKETS; i++)
        json_array_append_new(lat, json_integer((json_int_t)st->walk_lat_hist[i]));
    set_path(root, "walks.latency_histogram", lat);
    /* the buddy allocator by order (docs/stats.md, memory.buddy) */
    json_t *bfree = json_array(), *bfail = json_array(), *unusable = json_array();
    for (unsigned j = 0; j <= st->buddy_max_order && j < VMSIM_BUDDY_ORDERS; j++) {
        json_array_append_new(bfree, json_integer((json_int_t)st->buddy_free[j]));
        json_array_append_new(bfail, json_integer((json_int_t)st->buddy_fail[j]));
        json_array_append_new(unusable, json_real(vmsim_buddy_unusable(st, j)));
    }
    set_path(root, "memory.buddy.free_blocks", bfree);
    set_path(root, "memory.buddy.failures", bfail);
    set_path(root, "memory.buddy.unusable_index", unusable);
    for (unsigned j = 0; cfg->mem.dram && j < cfg->mem.ncaches; j++) {
        const struct vmsim_cache_stats *c = &st->cache[j];
        const struct {
            const char *key;
            uint64_t v;
        } f[] = {{"hits", c->hits},       {"misses", c->misses},
                 {"pt_hits", c->pt_hits}, {"pt_misses", c->pt_misses},
                 {"data_misses_pt", c->data_misses_pt}, {"lines", c->lines},
                 {"pt_lines", c->pt_lines}};
        char name[80];
        for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
            snprintf(name, sizeof name, "caches.%s.%s", cfg->mem.cache[j].name, f[k].key);
            set_path(root, name, json_integer((json_int_t)f[k].v));
        }
        snprintf(name, sizeof name, "caches.%s.pt_line_share", cfg->mem.cache[j].name);
        set_path(root, name, json_real(c->lines ? (double)c->pt_lines / (double)c->lines : 0.0));
    }
    json_t *vms = json_array();
    for (unsigned id = 1; cfg->nested.on && id < VMSIM_MAX_VMS; id++) {
        const struct vmsim_stats *v = vmsim_vm_stats(sim, id);
        if (v)
            json_array_append_new(
                vms, json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "vm", (json_int_t)id,
                               "accesses", (json_int_t)v->accesses, "faults",
                               (json_int_t)v->faults_total, "tlb_misses_all_levels",
                               (json_int_t)v->tlb_misses_all, "walks", (json_int_t)v->walks,
                               "walk_refs", (json_int_t)v->walk_refs, "host_refs",
                               (json_int_t)v->nested_refs, "frames_used", (json_int_t)v->frames_used,
                               "cycles", (json_int_t)v->cycles));
    }
    set_path(root, "vms", vms);
    json_t *rounds = json_array();
    for (uint64_t r = 0; r < st->mig_rounds && r < VMSIM_MIGRATE_ROUNDS; r++)
        json_array_append_new(rounds, json_integer((json_int_t)st->mig_round_pages[r]));
    set_path(root, "migration.round_pages", rounds);
    set_path(root, "walks.refs_per_walk",
             json_real(st->walks ? (double)st->walk_refs / (double)st->walks : 0.0));
    set_path(root, "cycles_per_access",
             json_real(st->accesses ? (double)st->cycles / (double)st->accesses : 0.0));
    set_path(root, "translation_share",
             json_real(st->cycles ? (double)st->cycles_translation / (double)st->cycles : 0.0));

    struct vmsim_pt_footprint fp;
    vmsim_footprint(sim, &fp);
    json_t *tables = json_array(), *bytes = json_array(), *pages = json_array();
    for (unsigned k = cfg->geom.levels; k >= 1; k--) {
        json_array_append_new(tables, json_integer((json_int_t)fp.tables[k]));
        json_array_append_new(bytes, json_integer((json_int_t)fp.table_bytes[k]));
        json_array_append_new(pages, json_integer((json_int_t)fp.pages[k]));
    }
    set_path(root, "page_tables.bytes", json_integer((json_int_t)fp.bytes));
    set_path(root, "page_tables.root_bytes", json_integer((json_int_t)fp.root_bytes));
    set_path(root, "page_tables.tables_by_level", tables);
    set_path(root, "page_tables.bytes_by_level", bytes);
    set_path(root, "page_tables.pages_by_level", pages);
    set_path(root, "page_tables.shared_by", json_integer((json_int_t)fp.shared_by));
    set_path(root, "page_tables.space_tag_bits", json_integer((json_int_t)fp.space_tag_bits));
    json_t *parts = json_object();
    for (unsigned i = 0; i < fp.nparts; i++)
        json_object_set_new(parts, fp.part[i].name, json_integer((json_int_t)fp.part[i].bytes));
    set_path(root, "page_tables.parts", parts);
    if (cfg->share_tables) {
        const struct vmsim_share_stats *sh = &st->share;
        set_path(root, "page_tables.sharing.tables", json_integer((json_int_t)sh->tables));
        set_path(root, "page_tables.sharing.sharers", json_integer((json_int_t)sh->sharers));
        set_path(root, "page_tables.sharing.attached", json_integer((json_int_t)sh->attached));
        set_path(root, "page_tables.sharing.unshared", json_integer((json_int_t)sh->unshared));
        set_path(root, "page_tables.sharing.detached", json_integer((json_int_t)sh->detached));
        set_path(root, "page_tables.sharing.upper_tables", json_integer((json_int_t)sh->upper_tables));
        set_path(root, "page_tables.sharing.upper_sharers",
                 json_integer((json_int_t)sh->upper_sharers));
        set_path(root, "page_tables.sharing.upper_attached",
                 json_integer((json_int_t)sh->upper_attached));
        set_path(root, "page_tables.sharing.upper_unshared",
                 json_integer((json_int_t)sh->upper_unshared));
        set_path(root, "page_tables.sharing.upper_detached",
                 json_integer((json_int_t)sh->upper_detached));
    }
    if (cfg->khugepaged.every) {
        const struct vmsim_khugepaged_stats *kh = &st->khugepaged;
        const struct {
            const char *name;
            uint64_t v;
        } khp[] = {{"khugepaged.scans", kh->scans},
                   {"khugepaged.pages_scanned", kh->pages_scanned},
                   {"khugepaged.full_scans", kh->full_scans},
                   {"khugepaged.collapses", kh->collapses},
                   {"khugepaged.collapse_fail_alloc", kh->fail_alloc},
                   {"khugepaged.collapse_fail_none", kh->fail_none},
                   {"khugepaged.collapse_fail_swap", kh->fail_swap},
                   {"khugepaged.collapse_fail_shared", kh->fail_shared},
                   {"khugepaged.pages_copied", kh->pages_copied},
                   {"khugepaged.cycles", kh->cycles}};
        for (size_t i = 0; i < sizeof khp / sizeof khp[0]; i++)
            set_path(root, khp[i].name, json_integer((json_int_t)khp[i].v));
    }
    if (cfg->compact) { /* only then, like sharing */
        const struct vmsim_compact_stats *c = &st->compact;
        set_path(root, "compact.runs", json_integer((json_int_t)c->runs));
        set_path(root, "compact.success", json_integer((json_int_t)c->success));
        set_path(root, "compact.fail", json_integer((json_int_t)c->fail));
        set_path(root, "compact.pages_moved", json_integer((json_int_t)c->pages_moved));
        set_path(root, "compact.rmap_updates", json_integer((json_int_t)c->rmap_updates));
        set_path(root, "compact.shootdowns", json_integer((json_int_t)c->shootdowns));
        set_path(root, "compact.cycles", json_integer((json_int_t)c->cycles));
        set_path(root, "thp.anon_bytes", json_integer((json_int_t)c->anon_bytes));
        set_path(root, "thp.anon_huge_bytes", json_integer((json_int_t)c->anon_huge_bytes));
        set_path(root, "thp.coverage", json_real(vmsim_thp_coverage(st)));
    }
    json_object_set_new(root, "config", config_json(cfg));
    int rc = json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (rc || fputc('\n', out) == EOF)
        return VMSIM_EIO;
    return VMSIM_OK;
}

int report_config_dump(const struct vmsim_config *cfg, FILE *out)
{
    json_t *c = config_json(cfg);
    if (!c)
        return VMSIM_ENOMEM;
    int rc = json_dumpf(c, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(c);
    if (rc || fputc('\n', out) == EOF)
        return VMSIM_EIO;
    return VMSIM_OK;
}
