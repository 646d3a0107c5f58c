/* vmsim crosscheck against valgrind's cachegrind on real programs (issue 11,
 * the external peer), skipped when valgrind is not on PATH except for the
 * checks that need no valgrind.
 *
 * `vmsim crosscheck --keep DIR -- PROGRAM` runs the program under lackey
 * (simulated by vmsim with one data and one instruction TLB) and under
 * cachegrind (D1 and I1 of the same geometry with 4096-byte lines), and
 * prints per side: lackey's accesses, vmsim's lookups, cachegrind's
 * references, both miss counts and their difference. The expected numbers
 * come from a model written here from LRU's definition, sharing no code with
 * src/: it reads the lackey trace the command kept (with sscanf, not vmsim's
 * reader) and runs a set-associative LRU cache of pages (set = page mod
 * sets, the least recently used way evicted) under two counting rules:
 *
 *   vmsim's:      an access touching pages p..q looks up each page in
 *                 address order; each lookup that misses is a miss
 *                 (DESIGN.md, Events: every page touched is translated);
 *   cachegrind's: the same lookups in the same order (cg_sim.c touches both
 *                 lines of a straddling access), but the access counts as
 *                 one reference and one miss when any of its pages missed.
 *
 * The two rules give the same LRU state, so their miss counts differ by
 * exactly the accesses that crossed a page and missed on both pages. The
 * test asserts, for every program, geometry and side:
 *
 *   accesses          = the trace's records of that side (I for i; L S M d)
 *   vmsim-lookups     = the pages those records touch
 *   vmsim-misses      = the model's misses under vmsim's rule (exact)
 *   cachegrind-refs   = accesses (exact: the two runs are one program run,
 *                       same environment, standard streams and descriptors;
 *                       valgrind places the client itself, no ASLR)
 *   cachegrind-misses = the model's misses under cachegrind's rule (exact)
 *   difference        = accesses crossing a page that missed on both pages
 *
 * So the only residual difference between vmsim and cachegrind on these
 * programs is the counting of page-crossing accesses, and the test would
 * fail if vmsim's TLB, the lackey reader, or the pairing of the two runs
 * were wrong. Small geometries (2x1, direct-mapped with two sets) are
 * there to make misses on both pages of a crossing access happen.
 *
 * With --caches the command also compares data caches; the cache model
 * below (after the TLB model) is the referee for that table.
 *
 * Time: about 35 s in release on a 2-core machine (lackey's run dominates);
 * the ASan build (VMSIM_SANITIZE) runs /bin/true only. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* ---- the reference model: LRU sets of page numbers -------------------- */

struct lru {
    unsigned sets, ways;
    uint64_t *tag;     /* sets x ways, most recently used first */
    unsigned *filled;  /* ways in use per set */
};

static void lru_init(struct lru *c, unsigned entries, unsigned ways)
{
    c->sets = entries / ways;
    c->ways = ways;
    c->tag = calloc((size_t)entries, sizeof *c->tag);
    c->filled = calloc(c->sets, sizeof *c->filled);
    assert_non_null(c->tag);
    assert_non_null(c->filled);
}

static void lru_free(struct lru *c)
{
    free(c->tag);
    free(c->filled);
}

/* Look page up; true on a miss. Either way it ends most recently used. */
static bool lru_touch(struct lru *c, uint64_t page)
{
    uint64_t *set = c->tag + (size_t)(page % c->sets) * c->ways;
    unsigned *n = &c->filled[page % c->sets];
    unsigned i = 0;
    while (i < *n && set[i] != page)
        i++;
    bool miss = i == *n;
    if (miss) {
        if (*n < c->ways)
            (*n)++;
        i = *n - 1; /* a free way, or the least recently used one */
    }
    memmove(set + 1, set, i * sizeof *set);
    set[0] = page;
    return miss;
}

struct model_side {
    uint64_t accesses, lookups, misses, cg_misses, crossing, both_missed;
};

/* Run the lackey trace at path through the two models (0 = d, 1 = i). */
static void model_run(const char *path, const unsigned geom[2][2], struct model_side out[2])
{
    struct lru c[2];
    for (int s = 0; s < 2; s++)
        lru_init(&c[s], geom[s][0], geom[s][1]);
    memset(out, 0, 2 * sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot read the kept lackey trace %s", path);
    char line[256];
    while (fgets(line, sizeof line, f)) {
        char k;
        uint64_t addr;
        unsigned size;
        int side;
        /* lackey: "I  ADDR,SIZE" for a fetch, " L|S|M ADDR,SIZE" for data */
        if (line[0] == 'I' && sscanf(line, "I %" SCNx64 ",%u", &addr, &size) == 2)
            side = 1;
        else if (line[0] == ' ' && sscanf(line, " %c %" SCNx64 ",%u", &k, &addr, &size) == 3 &&
                 (k == 'L' || k == 'S' || k == 'M'))
            side = 0;
        else
            continue; /* valgrind's own "==PID==" lines */
        struct model_side *m = &out[side];
        uint64_t first = addr / 4096, last = (addr + (size ? size : 1) - 1) / 4096;
        unsigned missed = 0;
        m->accesses++;
        for (uint64_t p = first; p <= last; p++) {
            m->lookups++;
            missed += lru_touch(&c[side], p);
        }
        m->misses += missed;
        m->cg_misses += missed > 0;
        m->crossing += last > first;
        m->both_missed += last > first && missed == last - first + 1;
    }
    fclose(f);
    for (int s = 0; s < 2; s++)
        lru_free(&c[s]);
}

/* ---- the data caches (--caches) -------------------------------------------
 *
 * A second model, of the data caches, also written here from the documents
 * (docs/caches.md for vmsim; cachegrind's cg_sim.c and cg_main.c for
 * cachegrind), sharing no code with src/. It runs the kept lackey trace
 * through four hierarchies of I1, D1 and LL at once, each a set-associative
 * LRU cache of line keys, differing in one rule each from the one before:
 *
 *   H_CG    cachegrind's: virtual addresses; an access is one reference,
 *           of at most 64 bytes (cg_main.c clamps larger ones, which only
 *           dirty helpers make, to the smallest line size); when it
 *           straddles two lines both are looked up and it misses when
 *           either does; an L1 miss looks the whole access up in LL
 *           (both lines again);
 *   H_SPLIT vmsim's counting: each piece between line boundaries is one
 *           reference, looked up in LL only when it missed in L1;
 *   H_WALK  and vmsim's walks: each TLB miss (the TLBs modelled as in the
 *           TLB model above) walks the 4-level radix table, whose entries
 *           are side-d references to lines of their own (one table page per
 *           level and prefix); a walk of a page not yet mapped stops at the
 *           first table missing, the kernel maps the page and the walk is
 *           made again; a write to a page mapped read-only (the zero frame)
 *           walks, copies and walks again, and the copy invalidates the
 *           page in both TLBs (docs/kernel.md);
 *   H_VMSIM and vmsim's frames: a page read or fetched before it is written
 *           maps the zero frame, whose data lines are the page's own
 *           (docs/caches.md); written, it has a frame of its own (a page
 *           first written has its own at once), so a copy-on-write moves
 *           the page's lines to new addresses.
 *
 * Caches whose sets x line is at most a page index by page offset alone,
 * so H_VMSIM's I1 and D1 see exactly what vmsim's physically addressed
 * ones see: the test asserts vmsim's I1 and D1 counts (the program's and
 * the walks') equal H_VMSIM's, and cachegrind's equal H_CG's. The LL is
 * indexed by frame bits too, which the model does not know (it gives a page
 * of its own the set of its virtual address): its lookups are exact (the
 * misses of the levels above), its misses only when neither vmsim's LL nor
 * the model's evicted a line, when each is the number of distinct lines.
 * The steps between the hierarchies say how much each rule moves a count. */

enum { H_CG, H_SPLIT, H_WALK, H_VMSIM, NH };
static const char *const hnames[NH] = {"cachegrind", "split", "walks", "vmsim"};

struct ccache { /* one level: an LRU model of line numbers (MRU first) */
    struct lru l;
    unsigned line_shift;
    uint64_t evictions;
};

static void cc_init(struct ccache *c, unsigned sets, unsigned ways, unsigned line)
{
    lru_init(&c->l, sets * ways, ways);
    c->line_shift = (unsigned)__builtin_ctz(line);
    c->evictions = 0;
}

/* Look the line of address a up; true on a miss (then it is filled). */
static bool cc_touch(struct ccache *c, uint64_t a)
{
    const uint64_t line = a >> c->line_shift;
    const bool full = c->l.filled[line % c->l.sets] == c->l.ways;
    const bool miss = lru_touch(&c->l, line);
    c->evictions += miss && full;
    return miss;
}

struct clevel_count {
    uint64_t refs, misses, walk_refs, walk_misses;
};

struct hier {
    struct ccache c[3]; /* i1, d1, ll */
    struct clevel_count n[3];
};

/* One vmsim reference (a piece within a line) of side 0 (d) or 1 (i). */
static void hier_ref(struct hier *h, int side, uint64_t a, bool walk)
{
    const int l1 = side ? 0 : 1;
    struct clevel_count *n1 = &h->n[l1], *nl = &h->n[2];
    *(walk ? &n1->walk_refs : &n1->refs) += 1;
    if (!cc_touch(&h->c[l1], a))
        return;
    *(walk ? &n1->walk_misses : &n1->misses) += 1;
    *(walk ? &nl->walk_refs : &nl->refs) += 1;
    if (cc_touch(&h->c[2], a))
        *(walk ? &nl->walk_misses : &nl->misses) += 1;
}

/* cachegrind's reference of [a, a + size) (size <= a line): both lines
 * looked up when it straddles, a miss when either missed. */
static bool cg_ref_is_miss(struct ccache *c, uint64_t a, unsigned size)
{
    const uint64_t last = a + size - 1;
    bool miss = cc_touch(c, a);
    if ((last >> c->line_shift) != (a >> c->line_shift))
        miss |= cc_touch(c, last);
    return miss;
}

static void hier_cg(struct hier *h, int side, uint64_t a, unsigned size)
{
    const int l1 = side ? 0 : 1;
    h->n[l1].refs++;
    if (!cg_ref_is_miss(&h->c[l1], a, size))
        return;
    h->n[l1].misses++;
    h->n[2].refs++;
    h->n[2].misses += cg_ref_is_miss(&h->c[2], a, size);
}

/* A set of 64-bit keys (pages, table prefixes) with a byte of state. */
struct kset {
    uint64_t *key; /* key + 1; 0: empty */
    uint8_t *val;
    size_t cap, n;
};

static uint8_t *kset_at(struct kset *s, uint64_t k, bool add)
{
    if (add && 2 * (s->n + 1) > s->cap) {
        struct kset old = *s;
        s->cap = old.cap ? 2 * old.cap : 1024;
        s->key = calloc(s->cap, sizeof *s->key);
        s->val = calloc(s->cap, 1);
        assert_non_null(s->key);
        assert_non_null(s->val);
        s->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.key[i])
                *kset_at(s, old.key[i] - 1, true) = old.val[i];
        free(old.key);
        free(old.val);
    }
    if (!s->cap)
        return NULL;
    size_t i = (size_t)((k + 1) * 0x9e3779b97f4a7c15ull >> 20) & (s->cap - 1);
    while (s->key[i] && s->key[i] != k + 1)
        i = (i + 1) & (s->cap - 1);
    if (!s->key[i]) {
        if (!add)
            return NULL;
        s->key[i] = k + 1;
        s->n++;
    }
    return &s->val[i];
}

/* Remove page from an LRU TLB model (a COW's invalidation). */
static void lru_remove(struct lru *c, uint64_t page)
{
    uint64_t *set = c->tag + (size_t)(page % c->sets) * c->ways;
    unsigned *n = &c->filled[page % c->sets];
    for (unsigned i = 0; i < *n; i++)
        if (set[i] == page) {
            memmove(set + i, set + i + 1, (*n - i - 1) * sizeof *set);
            (*n)--;
            return;
        }
}

enum { PG_NONE, PG_ZERO, PG_OWN };
#define ID_ZERO (1ull << 40) /* or-ed into a page's number: its zero-frame lines */
#define ID_TABLE(level, prefix) ((2ull + (level)) << 40 | (prefix))

struct cmodel {
    struct lru tlb[2];
    struct kset pages, tables;
    struct hier h[NH];
    uint64_t walks, cow;
};

/* The address of entry `level` (4 = root .. 1) of va's walk. */
static uint64_t entry_addr(uint64_t va, unsigned level)
{
    const uint64_t prefix = level == 4 ? 0 : va >> (12 + 9 * level);
    const uint64_t index = (va >> (12 + 9 * (level - 1))) & 511;
    return ID_TABLE(level, prefix) * 4096 + index * 8;
}

/* A walk of va: `full`, or stopping at the first missing table. */
static void walk_refs(struct cmodel *m, uint64_t va, bool full)
{
    m->walks++;
    for (unsigned level = 4; level >= 1; level--) {
        const uint64_t a = entry_addr(va, level);
        for (int k = H_WALK; k < NH; k++)
            hier_ref(&m->h[k], 0, a, true);
        if (level > 1 && !full && !kset_at(&m->tables, (uint64_t)(level - 1) << 40 |
                                                          va >> (12 + 9 * (level - 1)), false))
            return;
    }
}

/* Translate page p of side s for an access writing or not. */
static void translate_page(struct cmodel *m, int s, uint64_t p, bool write)
{
    const uint64_t va = p << 12;
    uint8_t *st = kset_at(&m->pages, p, true);
    const bool hit = !lru_touch(&m->tlb[s], p);
    if (*st == PG_NONE) { /* not mapped: the walk stops, the fault maps it */
        walk_refs(m, va, false);
        for (unsigned level = 3; level >= 1; level--)
            *kset_at(&m->tables, (uint64_t)level << 40 | va >> (12 + 9 * level), true) = 1;
        *st = write ? PG_OWN : PG_ZERO;
        walk_refs(m, va, true);
    } else if (*st == PG_ZERO && write) { /* copy-on-write of the zero frame */
        walk_refs(m, va, true);
        *st = PG_OWN;
        m->cow++;
        lru_remove(&m->tlb[0], p);
        lru_remove(&m->tlb[1], p);
        lru_touch(&m->tlb[s], p);
        walk_refs(m, va, true);
    } else if (!hit) {
        walk_refs(m, va, true);
    }
}

static void cmodel_init(struct cmodel *m, const unsigned tlbs[2][2], const unsigned geom[3][3])
{
    memset(m, 0, sizeof *m);
    for (int s = 0; s < 2; s++)
        lru_init(&m->tlb[s], tlbs[s][0], tlbs[s][1]);
    for (int k = 0; k < NH; k++)
        for (int j = 0; j < 3; j++)
            cc_init(&m->h[k].c[j], geom[j][0], geom[j][1], geom[j][2]);
}

static void cmodel_free(struct cmodel *m)
{
    for (int s = 0; s < 2; s++)
        lru_free(&m->tlb[s]);
    for (int k = 0; k < NH; k++)
        for (int j = 0; j < 3; j++) {
            lru_free(&m->h[k].c[j].l);
        }
    free(m->pages.key);
    free(m->pages.val);
    free(m->tables.key);
    free(m->tables.val);
}

/* One lackey record through the four hierarchies. */
static void cmodel_access(struct cmodel *m, int side, bool write, uint64_t addr, unsigned size)
{
    const unsigned ls = m->h[0].c[0].line_shift; /* one line size for all */
    hier_cg(&m->h[H_CG], side, addr, size > (1u << ls) ? 1u << ls : size);
    const uint64_t last = addr + size - 1;
    for (uint64_t p = addr >> 12; p <= last >> 12; p++) {
        translate_page(m, side, p, write);
        const uint64_t lo = p << 12 > addr ? p << 12 : addr;
        const uint64_t hi = ((p + 1) << 12) - 1 < last ? ((p + 1) << 12) - 1 : last;
        const uint8_t st = *kset_at(&m->pages, p, false);
        for (uint64_t line = lo >> ls; line <= hi >> ls; line++) {
            const uint64_t a = line << ls > lo ? line << ls : lo;
            hier_ref(&m->h[H_SPLIT], side, a, false);
            hier_ref(&m->h[H_WALK], side, a, false);
            const uint64_t frame = st == PG_ZERO ? ID_ZERO | p : p;
            hier_ref(&m->h[H_VMSIM], side, frame << 12 | (a & 4095), false);
        }
    }
}

static void cmodel_run(const char *path, struct cmodel *m)
{
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot read the kept lackey trace %s", path);
    char line[256];
    while (fgets(line, sizeof line, f)) {
        char k;
        uint64_t addr;
        unsigned size;
        if (line[0] == 'I' && sscanf(line, "I %" SCNx64 ",%u", &addr, &size) == 2)
            cmodel_access(m, 1, false, addr, size ? size : 1);
        else if (line[0] == ' ' && sscanf(line, " %c %" SCNx64 ",%u", &k, &addr, &size) == 3 &&
                 (k == 'L' || k == 'S' || k == 'M'))
            cmodel_access(m, 0, k != 'L', addr, size ? size : 1);
    }
    fclose(f);
}

/* ---- the command's output ------------------------------------------------ */

struct row {
    unsigned entries, ways;
    unsigned long long accesses, lookups, refs, misses, cg_misses;
    long long diff;
};

static void parse_rows(const char *out, struct row rows[2])
{
    for (int s = 0; s < 2; s++) {
        char start[4] = {"di"[s], ' ', 0};
        const char *p = out;
        while (p && strncmp(p, start, 2))
            p = (p = strchr(p, '\n')) ? p + 1 : NULL;
        if (!p)
            fail_msg("no row for side %c in:\n%s", "di"[s], out);
        struct row *r = &rows[s];
        if (sscanf(p + 2, " %ux%u %llu %llu %llu %llu %llu %lld", &r->entries, &r->ways,
                   &r->accesses, &r->lookups, &r->refs, &r->misses, &r->cg_misses, &r->diff) != 8)
            fail_msg("cannot parse the row of side %c in:\n%s", "di"[s], out);
    }
}

static char *make_dir(void)
{
    char *d = temp_path(".d");
    assert_int_equal(mkdir(d, 0777), 0);
    return d;
}

static void remove_dir(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Crosscheck `program` at the geometry; assert every rule of the header. */
static void check(const char *program, const unsigned geom[2][2])
{
    char *keep = make_dir();
    struct cmd_result r = run_vmsim("crosscheck --quiet --dtlb %ux%u --itlb %ux%u --keep %s -- %s",
                                    geom[0][0], geom[0][1], geom[1][0], geom[1][1], keep, program);
    if (r.status != 0)
        fail_msg("crosscheck of %s: status %d\n%s%s", program, r.status, r.out, r.err);
    struct row rows[2];
    parse_rows(r.out, rows);
    char trace[4200];
    snprintf(trace, sizeof trace, "%s/lackey.txt", keep);
    struct model_side m[2];
    model_run(trace, geom, m);
    for (int s = 0; s < 2; s++) {
        const struct row *w = &rows[s];
        print_message("%-40s %c %ux%u: accesses %llu (crossing %" PRIu64 "), misses vmsim %llu, "
                      "cachegrind %llu, difference %lld (model: crossing accesses missing "
                      "both pages %" PRIu64 ")\n",
                      program, "di"[s], w->entries, w->ways, w->accesses, m[s].crossing,
                      w->misses, w->cg_misses, w->diff, m[s].both_missed);
        assert_int_equal(w->entries, geom[s][0]);
        assert_int_equal(w->ways, geom[s][1]);
        assert_int_equal(w->accesses, m[s].accesses);
        assert_int_equal(w->lookups, m[s].lookups);
        assert_int_equal(w->misses, m[s].misses);
        assert_int_equal(w->refs, w->accesses);
        assert_int_equal(w->cg_misses, m[s].cg_misses);
        assert_int_equal(w->diff, (long long)m[s].both_missed);
        assert_true(m[s].accesses > 1000); /* a real program ran, under both tools */
    }
    cmd_result_free(&r);
    remove_dir(keep);
    free(keep);
}

struct crow {
    unsigned sets, ways, line;
    unsigned long long refs, cg_refs, misses, cg_misses, walk_refs, walk_misses;
    long long diff;
};

static void parse_cache_rows(const char *out, struct crow rows[3])
{
    static const char *const names[3] = {"i1 ", "d1 ", "ll "};
    for (int j = 0; j < 3; j++) {
        const char *p = out;
        while (p && strncmp(p, names[j], 3))
            p = (p = strchr(p, '\n')) ? p + 1 : NULL;
        if (!p)
            fail_msg("no row for cache %s in:\n%s", names[j], out);
        struct crow *r = &rows[j];
        char rel[32];
        if (sscanf(p + 3, " %ux%ux%u %llu %llu %llu %llu %lld %31s %llu %llu", &r->sets,
                   &r->ways, &r->line, &r->refs, &r->cg_refs, &r->misses, &r->cg_misses,
                   &r->diff, rel, &r->walk_refs, &r->walk_misses) != 11)
            fail_msg("cannot parse the row of cache %s in:\n%s", names[j], out);
    }
}

static const char *const lnames[3] = {"i1", "d1", "ll"};

/* The model's counts per hierarchy and level, and each step's change of
 * the program's misses. */
static void cmodel_print(const char *program, const struct cmodel *m)
{
    for (int j = 0; j < 3; j++) {
        print_message("%-40s %s:", program, lnames[j]);
        for (int k = 0; k < NH; k++)
            print_message(" %s %" PRIu64 "/%" PRIu64 "%s", hnames[k], m->h[k].n[j].misses,
                          m->h[k].n[j].refs, k < NH - 1 ? "," : "");
        print_message(" (walk misses %" PRIu64 "/%" PRIu64 "; ll evictions %" PRIu64 ")\n",
                      m->h[H_VMSIM].n[j].walk_misses, m->h[H_VMSIM].n[j].walk_refs,
                      m->h[H_VMSIM].c[2].evictions);
    }
}

/* Crosscheck `program` with --caches geom (i1, d1, ll: sets, ways, line)
 * at TLBs tlbs; assert what the cache model's header says. */
static void check_caches(const char *program, const unsigned tlbs[2][2],
                         const unsigned geom[3][3])
{
    char *keep = make_dir();
    struct cmd_result r = run_vmsim("crosscheck --quiet --dtlb %ux%u --itlb %ux%u --caches "
                                    "%ux%ux%u,%ux%ux%u,%ux%ux%u --keep %s -- %s",
                                    tlbs[0][0], tlbs[0][1], tlbs[1][0], tlbs[1][1], geom[0][0],
                                    geom[0][1], geom[0][2], geom[1][0], geom[1][1], geom[1][2],
                                    geom[2][0], geom[2][1], geom[2][2], keep, program);
    if (r.status != 0)
        fail_msg("crosscheck --caches of %s: status %d\n%s%s", program, r.status, r.out, r.err);
    struct crow rows[3];
    parse_cache_rows(r.out, rows);
    char trace[4200];
    snprintf(trace, sizeof trace, "%s/lackey.txt", keep);
    struct cmodel *m = malloc(sizeof *m);
    assert_non_null(m);
    cmodel_init(m, tlbs, geom);
    cmodel_run(trace, m);
    cmodel_print(program, m);
    const bool ll_exact = strstr(r.out, "note: vmsim's ll evicted nothing") &&
                          m->h[H_VMSIM].c[2].evictions == 0;
    for (int j = 0; j < 3; j++) {
        const struct crow *w = &rows[j];
        const struct clevel_count *cg = &m->h[H_CG].n[j], *vm = &m->h[H_VMSIM].n[j];
        assert_int_equal(w->sets, geom[j][0]);
        assert_int_equal(w->ways, geom[j][1]);
        assert_int_equal(w->line, geom[j][2]);
        assert_int_equal(w->cg_refs, cg->refs);
        assert_int_equal(w->cg_misses, cg->misses);
        assert_int_equal(w->refs, vm->refs);
        assert_int_equal(w->walk_refs, vm->walk_refs);
        if (j < 2 || ll_exact) {
            assert_int_equal(w->misses, vm->misses);
            assert_int_equal(w->walk_misses, vm->walk_misses);
        }
        assert_int_equal(w->diff, (long long)w->misses - (long long)w->cg_misses);
        assert_true(cg->misses > 10); /* the caches were used, under both tools */
    }
    assert_int_equal(rows[0].walk_refs, 0); /* walks are side d */
    cmodel_free(m);
    free(m);
    cmd_result_free(&r);
    remove_dir(keep);
    free(keep);
}

static const unsigned skylake_caches[3][3] = {{64, 8, 64}, {64, 8, 64}, {8192, 16, 64}};
/* small enough that walk lines and data lines fight: 16 sets x 2 ways */
static const unsigned tiny_caches[3][3] = {{16, 2, 64}, {16, 2, 64}, {64, 4, 64}};

static const unsigned skylake[2][2] = {{64, 4}, {128, 8}};
static const unsigned direct2[2][2] = {{2, 1}, {2, 1}};

static void test_true(void **state)
{
    (void)state;
    if (!on_path("valgrind"))
        skip();
    check("/bin/true", skylake);
    check("/bin/true", direct2);
}

static void test_caches_true(void **state)
{
    (void)state;
    if (!on_path("valgrind"))
        skip();
    check_caches("/bin/true", skylake, skylake_caches);
    check_caches("/bin/true", direct2, tiny_caches);
}

#ifndef VMSIM_SANITIZE
static const unsigned small_fa[2][2] = {{8, 8}, {4, 4}}; /* fully associative */

/* The programs' inputs are made here: a file of numbers in scrambled order
 * for sort, 500 lines of text for gzip, a directory of five files for ls. */
static void test_programs(void **state)
{
    (void)state;
    if (!on_path("valgrind"))
        skip();
    char *dir = make_dir();
    char path[4200], cmd[8600];
    snprintf(path, sizeof path, "%s/numbers", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (unsigned i = 1; i <= 300; i++)
        fprintf(f, "%u\n", i * 7919u % 1009u);
    fclose(f);
    snprintf(cmd, sizeof cmd, "sort %s", path);
    check(cmd, skylake);
    check(cmd, small_fa);

    snprintf(path, sizeof path, "%s/text", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    for (unsigned i = 0; i < 500; i++)
        fprintf(f, "line %u of %u\n", i * 2654435761u % 100003u, i);
    fclose(f);
    snprintf(cmd, sizeof cmd, "gzip -c %s", path);
    check(cmd, skylake);

    snprintf(path, sizeof path, "%s/ls", dir);
    assert_int_equal(mkdir(path, 0777), 0);
    for (int i = 0; i < 5; i++) {
        char file[4300];
        snprintf(file, sizeof file, "%s/f%d", path, i);
        f = fopen(file, "w");
        assert_non_null(f);
        fclose(f);
    }
    snprintf(cmd, sizeof cmd, "ls -l %s", path);
    check(cmd, skylake);
    check(cmd, direct2);
    check_caches(cmd, skylake, skylake_caches);
    remove_dir(dir);
    free(dir);
}
#endif

/* A failing command: the comparison is still printed, the command's status
 * comes back, and its output is kept. */
static void test_failing_command(void **state)
{
    (void)state;
    if (!on_path("valgrind"))
        skip();
    struct cmd_result r = run_vmsim("crosscheck --quiet -- /bin/sh -c 'exit 3'");
    assert_int_equal(r.status, 3);
    expect_in("stdout", r.out, "cachegrind-misses");
    expect_in("stderr", r.err, "exited with status 3 under lackey and exited with status 3 "
                               "under cachegrind");
    const char *kept = strstr(r.err, "output is kept in ");
    assert_non_null(kept);
    char dir[4096];
    assert_int_equal(sscanf(kept + strlen("output is kept in "), "%4095s", dir), 1);
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    remove_dir(dir);
    cmd_result_free(&r);
}

/* SIGTERM during the lackey run: no comparison, status 143, the command
 * killed and the temporary work directory removed (TMPDIR is a directory of
 * the test's, with no vmsim-crosscheck.* left in it). */
static void test_interrupted(void **state)
{
    (void)state;
    if (!on_path("valgrind"))
        skip();
    char *dir = make_dir(), *tmp = make_dir();
    char path[4200];
    snprintf(path, sizeof path, "%s/numbers", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (unsigned i = 1; i <= 200000; i++) /* minutes under lackey */
        fprintf(f, "%u\n", i * 7919u % 100003u);
    fclose(f);
    /* run_vmsim's redirections would go to `wait`: this one has its own */
    char *out = temp_path(".out"), *err = temp_path(".err");
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "TMPDIR=%s %s crosscheck --quiet -- sort %s >%s 2>%s & p=$!; "
             "sleep 2; kill -TERM $p; wait $p", tmp, VMSIM_BIN, path, out, err);
    int st = system(cmd);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 143);
    char *text = read_file(err, NULL);
    expect_in("stderr", text, "vmsim: crosscheck: interrupted by SIGTERM during the lackey run");
    free(text);
    text = read_file(out, NULL);
    assert_non_null(text);
    assert_null(strstr(text, "cachegrind-misses"));
    free(text);
    /* valgrind, killed, leaves its vgdb pipes in TMPDIR: not vmsim's files */
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s' | grep vmsim-crosscheck)\"", tmp);
    assert_int_equal(system(cmd), 0);
    unlink(out);
    unlink(err);
    free(out);
    free(err);
    remove_dir(dir);
    remove_dir(tmp);
    free(dir);
    free(tmp);
}

static void test_usage_errors(void **state)
{
    (void)state;
    struct cmd_result r = run_vmsim("crosscheck");
    assert_int_equal(r.status, 2);
    expect_in("stderr", r.err, "expected a command after --, found nothing");
    cmd_result_free(&r);
    /* 48 entries / 4 ways = 12 sets: cachegrind refuses it */
    r = run_vmsim("crosscheck --dtlb 48x4 -- /bin/true");
    assert_int_equal(r.status, 2);
    expect_in("stderr", r.err, "--dtlb: expected ENTRIESxWAYS with ENTRIES/WAYS sets a power of "
                               "two (cachegrind needs it), found \"48x4\"");
    cmd_result_free(&r);
    r = run_vmsim("crosscheck --itlb 64x -- /bin/true");
    assert_int_equal(r.status, 2);
    expect_in("stderr", r.err, "--itlb: expected ENTRIESxWAYS");
    cmd_result_free(&r);
    /* --caches: 48 sets; two line sizes; two levels only */
    static const char *const bad_caches[] = {"48x8x64,64x8x64,8192x16x64",
                                             "64x8x64,64x8x32,8192x16x64", "64x8x64,64x8x64",
                                             "64x8x64,64x8x64,8192x16x64,", "64x8x32,64x8x32,64x8x32"};
    for (size_t i = 0; i < sizeof bad_caches / sizeof *bad_caches; i++) {
        r = run_vmsim("crosscheck --caches %s -- /bin/true", bad_caches[i]);
        assert_int_equal(r.status, 2);
        char want[256];
        snprintf(want, sizeof want, "--caches: expected I1,D1,LL each SETSxWAYSxLINE (sets a "
                 "power of two, as cachegrind needs; ways up to 1024; one line size for the "
                 "three, a power of two from 64 to 4096) or \"default\", found \"%s\"",
                 bad_caches[i]);
        expect_in("stderr", r.err, want);
        cmd_result_free(&r);
    }
    r = run_vmsim("crosscheck --bogus -- /bin/true");
    assert_int_equal(r.status, 2);
    cmd_result_free(&r);
}

static void test_missing_valgrind_or_command(void **state)
{
    (void)state;
    /* run_vmsim runs "VMSIM_BIN ARGS" in the shell: a first harmless command,
     * then the one to test with PATH emptied of valgrind */
    struct cmd_result r = run_vmsim("--version >/dev/null; PATH=/nonexistent %s crosscheck -- "
                                    "/bin/true", VMSIM_BIN);
    assert_int_equal(r.status, 1);
    expect_in("stderr", r.err, "valgrind is not installed (not found on PATH)");
    cmd_result_free(&r);
    if (!on_path("valgrind"))
        return;
    r = run_vmsim("crosscheck -- /nonexistent/program");
    assert_int_equal(r.status, 1);
    expect_in("stderr", r.err, "/nonexistent/program: expected an executable command, found no "
                               "executable file there");
    cmd_result_free(&r);

    /* A wrapper script that execs the program: valgrind (which follows no
     * exec) leaves before cachegrind writes its output. Said, and the work
     * directory kept. */
    static const char wrapper[] = "#!/bin/sh\nexec /bin/true \"$@\"\n";
    char *script = write_temp(wrapper, sizeof wrapper - 1, ".sh");
    assert_int_equal(chmod(script, 0755), 0);
    r = run_vmsim("crosscheck --quiet -- %s", script);
    assert_int_equal(r.status, 1);
    expect_in("stderr", r.err, "expected cachegrind's output, found No such file or directory (a "
                               "command that execs another program");
    const char *kept = strstr(r.err, "the work directory ");
    assert_non_null(kept);
    char dir[4096];
    assert_int_equal(sscanf(kept + strlen("the work directory "), "%4095s", dir), 1);
    remove_dir(dir);
    unlink(script);
    free(script);
    cmd_result_free(&r);
}

/* `test_crosscheck model TRACE ExW ExW I1,D1,LL`: the cache model alone on
 * a kept lackey trace (the TLBs d and i; the caches SETSxWAYSxLINE), for
 * the figures of docs/validation.md on programs too long for the test. */
static int model_main(char **argv)
{
    unsigned tlbs[2][2], geom[3][3];
    if (sscanf(argv[3], "%ux%u", &tlbs[0][0], &tlbs[0][1]) != 2 ||
        sscanf(argv[4], "%ux%u", &tlbs[1][0], &tlbs[1][1]) != 2 ||
        sscanf(argv[5], "%ux%ux%u,%ux%ux%u,%ux%ux%u", &geom[0][0], &geom[0][1], &geom[0][2],
               &geom[1][0], &geom[1][1], &geom[1][2], &geom[2][0], &geom[2][1],
               &geom[2][2]) != 9) {
        fprintf(stderr, "usage: test_crosscheck model TRACE ExW ExW I1,D1,LL\n");
        return 2;
    }
    struct cmodel *m = malloc(sizeof *m);
    if (!m)
        return 1;
    cmodel_init(m, tlbs, geom);
    cmodel_run(argv[2], m);
    cmodel_print(argv[2], m);
    printf("walks %" PRIu64 ", copies of the zero frame %" PRIu64 "\n", m->walks, m->cow);
    cmodel_free(m);
    free(m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "model"))
        return model_main(argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_missing_valgrind_or_command),
        cmocka_unit_test(test_true),
        cmocka_unit_test(test_caches_true),
#ifndef VMSIM_SANITIZE
        cmocka_unit_test(test_programs),
#endif
        cmocka_unit_test(test_failing_command),
        cmocka_unit_test(test_interrupted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
