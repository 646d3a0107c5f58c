/* The data caches and DRAM (cache.h; the rules are docs/caches.md's). */
#include "cache/cache.h"

#include <stdlib.h>
#include <string.h>

static int array_init(struct cache_array *a, const struct vmsim_cache_level_config *lc)
{
    const size_t n = (size_t)lc->sets * lc->ways;
    memset(a, 0, sizeof *a);
    a->sets = lc->sets;
    a->ways = lc->ways;
    a->line_shift = (unsigned)__builtin_ctz(lc->line);
    a->pow2 = (lc->sets & (lc->sets - 1)) == 0;
    /* calloc: the host maps large zeroed blocks lazily, so the caches of
     * CPUs that never run cost address space only */
    a->tag = calloc(n, sizeof *a->tag);
    a->stamp = calloc(n, sizeof *a->stamp);
    a->pt = calloc(n, sizeof *a->pt);
    a->ghost = calloc(n, sizeof *a->ghost);
    a->ghost_pos = calloc(lc->sets, sizeof *a->ghost_pos);
    if (!a->tag || !a->stamp || !a->pt || !a->ghost || !a->ghost_pos)
        return VMSIM_ENOMEM;
    return VMSIM_OK;
}

static void array_fini(struct cache_array *a)
{
    if (!a)
        return;
    free(a->tag);
    free(a->stamp);
    free(a->pt);
    free(a->ghost);
    free(a->ghost_pos);
    free(a);
}

int memsys_init(struct memsys *ms, const struct vmsim_memory_config *cfg, unsigned ncpus)
{
    memset(ms, 0, sizeof *ms);
    ms->cfg = cfg;
    ms->ncpus = ncpus;
    ms->nlev = cfg->ncaches;
    ms->min_line_shift = 63;
    for (unsigned j = 0; j < ms->nlev; j++) {
        const struct vmsim_cache_level_config *lc = &cfg->cache[j];
        const unsigned ls = (unsigned)__builtin_ctz(lc->line);
        if (ls < ms->min_line_shift)
            ms->min_line_shift = ls;
        if (lc->side != VMSIM_SIDE_INSN)
            ms->path[MEM_SIDE_D][ms->npath[MEM_SIDE_D]++] = j;
        if (lc->side != VMSIM_SIDE_DATA)
            ms->path[MEM_SIDE_I][ms->npath[MEM_SIDE_I]++] = j;
    }
    if (cfg->dram_row_hit) {
        ms->row_shift = (unsigned)__builtin_ctz(cfg->dram_row);
        ms->open_row = calloc(cfg->dram_banks, sizeof *ms->open_row);
        if (!ms->open_row)
            return VMSIM_ENOMEM;
    }
    if (!ms->nlev)
        return VMSIM_OK;
    ms->arr = calloc((size_t)ncpus * ms->nlev, sizeof *ms->arr);
    if (!ms->arr)
        return VMSIM_ENOMEM;
    for (unsigned j = 0; j < ms->nlev; j++) {
        const struct vmsim_cache_level_config *lc = &cfg->cache[j];
        for (unsigned c = 0; c < ncpus; c++) {
            if (lc->shared && ms->shared) {
                ms->arr[c * ms->nlev + j] = ms->shared;
                continue;
            }
            struct cache_array *a = malloc(sizeof *a);
            if (!a)
                return VMSIM_ENOMEM;
            ms->arr[c * ms->nlev + j] = a;
            if (lc->shared)
                ms->shared = a;
            int rc = array_init(a, lc);
            if (rc)
                return rc;
        }
    }
    return VMSIM_OK;
}

void memsys_fini(struct memsys *ms)
{
    if (ms->arr) {
        for (size_t i = 0; i < (size_t)ms->ncpus * ms->nlev; i++)
            if (ms->arr[i] != ms->shared)
                array_fini(ms->arr[i]);
        array_fini(ms->shared);
    }
    free(ms->arr);
    free(ms->open_row);
    memset(ms, 0, sizeof *ms);
}

static inline uint64_t set_of(const struct cache_array *a, uint64_t line)
{
    return a->pow2 ? (line & (a->sets - 1)) : line % a->sets;
}

/* Forget line (+1 as stored) in the set's ring of data lines walk fills
 * evicted; true if it was there. */
static bool ghost_forget(struct cache_array *a, uint64_t set, uint64_t key)
{
    uint64_t *g = a->ghost + set * a->ways;
    for (uint32_t w = 0; w < a->ways; w++)
        if (g[w] == key) {
            g[w] = 0;
            return true;
        }
    return false;
}

/* Fill key into set: the lowest empty way, else the least recently used.
 * A walk fill that evicts a data line remembers it in the set's ring. */
static void fill(struct cache_array *a, uint64_t set, uint64_t key, bool pt)
{
    const uint64_t base = set * a->ways;
    const uint64_t *st = a->stamp + base;
    uint32_t victim = 0;
    uint64_t best = st[0];
    for (uint32_t w = 1; w < a->ways; w++)
        if (st[w] < best) {
            best = st[w];
            victim = w;
        }
    const uint64_t slot = base + victim;
    if (pt && a->tag[slot] && !a->pt[slot]) {
        a->ghost[base + a->ghost_pos[set]] = a->tag[slot];
        a->ghost_pos[set] = (a->ghost_pos[set] + 1) % a->ways;
    }
    a->lines += !a->tag[slot];
    a->pt_lines += (uint64_t)pt - (a->tag[slot] ? a->pt[slot] : 0);
    a->tag[slot] = key;
    a->stamp[slot] = ++a->now;
    a->pt[slot] = pt;
}

uint64_t memsys_ref(struct memsys *ms, unsigned cpu, unsigned side, uint64_t a, bool pt,
                    struct vmsim_stats *st)
{
    const struct vmsim_memory_config *cfg = ms->cfg;
    struct cache_array *const *arr = ms->arr + (size_t)cpu * ms->nlev;
    const unsigned np = ms->npath[side];
    struct {
        struct cache_array *a;
        uint64_t set, key;
    } missed[VMSIM_MAX_CACHE_LEVELS];
    unsigned nm = 0;
    uint64_t cyc = 0;
    bool served = false;
    for (unsigned i = 0; i < np; i++) {
        const unsigned j = ms->path[side][i];
        struct cache_array *c = arr[j];
        const uint64_t key = (a >> c->line_shift) + 1;
        struct vmsim_cache_stats *cs = &st->cache[j];
        if (key == c->last) { /* the most recent line of its set already: LRU unchanged */
            cs->hits++;
            cs->pt_hits += pt;
            cyc = cfg->cache[j].latency;
            served = true;
            break;
        }
        c->last = key;
        const uint64_t set = set_of(c, key - 1);
        if (i == 0) /* a miss here is likely to look deeper: fetch those sets meanwhile */
            for (unsigned k = 1; k < np; k++) {
                const struct cache_array *d = arr[ms->path[side][k]];
                const uint64_t s = set_of(d, a >> d->line_shift) * d->ways;
                __builtin_prefetch(d->tag + s);
                __builtin_prefetch(d->stamp + s);
            }
        const uint64_t *t = c->tag + set * c->ways;
        uint32_t w = 0;
        while (w < c->ways && t[w] != key)
            w++;
        if (w < c->ways) {
            c->stamp[set * c->ways + w] = ++c->now;
            cs->hits++;
            cs->pt_hits += pt;
            cyc = cfg->cache[j].latency;
            served = true;
            break;
        }
        cs->misses++;
        cs->pt_misses += pt;
        if (ghost_forget(c, set, key) && !pt)
            cs->data_misses_pt++;
        missed[nm].a = c;
        missed[nm].set = set;
        missed[nm].key = key;
        nm++;
    }
    if (!served) {
        st->dram_refs++;
        st->dram_walk_refs += pt;
        cyc = cfg->dram;
        if (ms->open_row) {
            const uint64_t r = a >> ms->row_shift;
            uint64_t *open = &ms->open_row[r % cfg->dram_banks];
            const uint64_t row = r / cfg->dram_banks + 1;
            if (*open == row) {
                st->dram_row_hits++;
                cyc = cfg->dram_row_hit;
            }
            *open = row;
        }
    }
    for (unsigned i = 0; i < nm; i++)
        fill(missed[i].a, missed[i].set, missed[i].key, pt);
    return cyc;
}

uint64_t memsys_walk(struct memsys *ms, unsigned cpu, const struct walk *w, uint64_t tag,
                     struct vmsim_stats *st)
{
    const unsigned n = w->nrefs < WALK_MAX_REFS ? w->nrefs : WALK_MAX_REFS;
    uint64_t cyc = (uint64_t)(w->nrefs - n) * ms->cfg->dram;
    for (unsigned i = 0; i < n; i++)
        cyc += memsys_ref(ms, cpu, MEM_SIDE_D, w->ref[i].pa | tag, true, st);
    return cyc;
}

void memsys_lines(const struct memsys *ms, unsigned j, uint64_t *lines, uint64_t *pt_lines)
{
    *lines = *pt_lines = 0;
    if (j >= ms->nlev)
        return;
    for (unsigned c = 0; c < (ms->cfg->cache[j].shared ? 1 : ms->ncpus); c++) {
        *lines += ms->arr[c * ms->nlev + j]->lines;
        *pt_lines += ms->arr[c * ms->nlev + j]->pt_lines;
    }
}
