/* The memory-pressure reference model (replmodel.h). Deliberately plain:
 * arrays scanned from end to end, no heap, no linked lists. The rules,
 * each from the documents named:
 *
 * Memory (kernel.md "What --mem holds"). `frames` frames hold everything:
 * the process's root table (taken when the process first appears), every
 * table below it (one L3 per 512 GiB, one L2 per 1 GiB, one L1 per 2 MiB
 * of address space touched, taken top-down the first time a page there is
 * mapped, never freed by eviction), the zero frame (taken by the first
 * demand-zero read, pinned) and the data frames. One frame needed when
 * none is free: one eviction (no watermark).
 *
 * Faults (kernel.md "The fault handler", "Demand-zero", "Swap"):
 *   never touched, read    demand_zero_read: the zero frame (first time:
 *                          taken now), then the tables; not evictable
 *   never touched, write   demand_zero_write: a data frame first, then the
 *                          tables (which may evict, never this frame)
 *   zero page, write       cow_zero: a new data frame
 *   swapped out            swap_in: a new frame, one swap read, mapped
 *                          read-only and clean, the slot kept as a valid
 *                          copy; a write is also a cow_reuse (one fault)
 *   resident read-only,    cow_reuse: writable, dirty, the swap copy
 *   write                  dropped (its slot freed)
 *
 * Eviction (kernel.md "Eviction", "Swap"): a dirty page, or one with no
 * valid copy, is written to a new slot (swap.writes); a clean page with a
 * copy is dropped (reclaim.dropped_clean). A slot is in use while a page
 * table entry names it or a resident page keeps it as its copy
 * (swap.slots_peak is the most at once).
 *
 * Replacement (kernel.md "Replacement policies"): the list holds the data
 * frames in the order they became resident.
 *   FIFO   the victim is the oldest; references change nothing.
 *   LRU    every reference (hit or the access a fault completes) moves
 *          the frame to the end; the victim is the first.
 *   Clock  the textbook second chance: a circle (the list order), a hand
 *          that starts at the first frame and wraps; a referenced frame
 *          loses its bit and is passed, the first unreferenced one goes and
 *          the hand stays on its successor; a new frame is put just behind
 *          the hand (before the first eviction: at the end, the same place
 *          in the circle). Every access to a resident page sets the bit;
 *          a fault that maps a page sets it too.
 *   OPT    Belady: the frame whose next access lies furthest ahead; a frame
 *          never accessed again counts as furthest. Several frames never
 *          accessed again tie; the documents leave that choice to vmsim's
 *          heap, so the model takes the oldest and says so (opt_tie), or,
 *          asked to, one that is dropped clean first (or one that is
 *          written first). The choice cannot change a later fault (those
 *          pages are not accessed again), only how many are written: the
 *          pages never used again stay so, each is written or not when it
 *          goes whatever happens meanwhile, and one of them goes at every
 *          eviction while there is one; so taking the clean ones first
 *          gives the fewest writes any choice can, the dirty ones first the
 *          most.
 *   A frame the fault in progress works on is never the victim (kernel.md
 *   "What can be evicted"): the new page while its tables are taken.
 *
 * munmap and exit (kernel.md "Which frame", "Swap", "The life of a
 * page"): each page of the range goes back to never touched: its frame is
 * freed (and with it the swap copy it kept), a swap entry gives up its
 * slot, a zero mapping nothing; a table left with no entry (present,
 * zero or swap) is freed, then the level above if that leaves it empty,
 * up to (not including) the root. exit does so for every page and frees
 * every table, the root too; the zero frame stays. A frame freed is free:
 * the next one needed evicts nothing.
 *
 * Cost (kernel.md "The cost of I/O"): each page read or written to swap
 * is one I/O; each fault one fault (the caller turns these into cycles). */
#include "replmodel.h"

#include <stdlib.h>
#include <string.h>

#define NONE_IDX UINT32_MAX
#define NEVER UINT64_MAX

enum pstate { P_NONE, P_ZERO, P_RES, P_SWAP };

struct page {
    uint64_t vpn;
    enum pstate st;
    bool writable; /* P_RES: the entry allows writes */
    bool dirty;    /* P_RES: written since it became resident */
    bool copy;     /* P_RES: its swap slot still holds its contents */
    bool ref;      /* Clock's reference bit */
    uint64_t next; /* OPT: the next access to it, NEVER if none */
    bool gone;     /* munmap: released just now */
};

struct model {
    enum rm_policy pol;
    enum rm_tie tie;
    uint64_t frames, used;
    struct page *pg;
    size_t npg;
    uint64_t *tab; /* tables taken: level << 56 | the region's number */
    size_t ntab;
    bool zero;
    uint32_t *list; /* resident pages, in list order */
    size_t nlist, hand;
    uint64_t slots;
    uint32_t busy; /* a page whose frame may not be chosen */
    bool alive;    /* the process exists (its root table is taken) */
    struct rm_result *r;
};

static uint32_t page_of(struct model *m, uint64_t vpn)
{
    for (size_t i = 0; i < m->npg; i++)
        if (m->pg[i].vpn == vpn)
            return (uint32_t)i;
    return NONE_IDX;
}

static void list_remove(struct model *m, size_t i)
{
    memmove(&m->list[i], &m->list[i + 1], (m->nlist - i - 1) * sizeof *m->list);
    m->nlist--;
    if (i < m->hand)
        m->hand--;
}

static void list_add(struct model *m, uint32_t p)
{
    size_t at = m->pol == RM_CLOCK ? m->hand : m->nlist;
    memmove(&m->list[at + 1], &m->list[at], (m->nlist - at) * sizeof *m->list);
    m->list[at] = p;
    m->nlist++;
    if (m->pol == RM_CLOCK)
        m->hand++;
}

/* The index in the list of the victim, or nlist when there is none. */
static size_t victim(struct model *m)
{
    switch (m->pol) {
    case RM_FIFO:
    case RM_LRU:
        for (size_t i = 0; i < m->nlist; i++)
            if (m->list[i] != m->busy)
                return i;
        return m->nlist;
    case RM_CLOCK:
        for (size_t steps = 0; steps < 3 * m->nlist; steps++) {
            if (m->hand >= m->nlist)
                m->hand = 0;
            const size_t i = m->hand++;
            struct page *p = &m->pg[m->list[i]];
            if (m->list[i] == m->busy)
                continue;
            if (p->ref) {
                p->ref = false;
                continue;
            }
            return i;
        }
        return m->nlist;
    case RM_OPT: {
        size_t best = m->nlist, ties = 0;
        for (size_t i = 0; i < m->nlist; i++) {
            if (m->list[i] == m->busy)
                continue;
            const uint64_t nx = m->pg[m->list[i]].next;
            if (best == m->nlist || nx > m->pg[m->list[best]].next) {
                best = i;
                ties = 1;
            } else if (nx == m->pg[m->list[best]].next) {
                ties++;
                const struct page *b = &m->pg[m->list[best]], *p = &m->pg[m->list[i]];
                const bool bw = b->dirty || !b->copy, pw = p->dirty || !p->copy;
                if ((m->tie == RM_TIE_CLEAN_FIRST && bw && !pw) ||
                    (m->tie == RM_TIE_DIRTY_FIRST && !bw && pw))
                    best = i;
            }
        }
        if (ties > 1)
            m->r->opt_tie = true;
        return best;
    }
    }
    return m->nlist;
}

/* One frame, evicting a page when none is free; false: out of memory. */
static bool take_frame(struct model *m)
{
    if (m->used < m->frames) {
        if (++m->used > m->r->frames_peak)
            m->r->frames_peak = m->used;
        return true;
    }
    const size_t i = victim(m);
    if (i == m->nlist)
        return false;
    struct page *p = &m->pg[m->list[i]];
    list_remove(m, i);
    if (p->dirty || !p->copy) {
        m->r->swap_writes++;
        if (++m->slots > m->r->slots_peak)
            m->r->slots_peak = m->slots;
    } else {
        m->r->dropped_clean++;
    }
    m->r->evictions++;
    p->st = P_SWAP;
    return true;
}

static bool have_table(struct model *m, uint64_t key)
{
    for (size_t i = 0; i < m->ntab; i++)
        if (m->tab[i] == key)
            return true;
    return false;
}

/* The tables a mapping at vpn lacks, top-down. */
static bool take_tables(struct model *m, uint64_t vpn)
{
    for (unsigned level = 3; level >= 1; level--) {
        const uint64_t key = (uint64_t)level << 56 | vpn >> (9 * level);
        if (have_table(m, key))
            continue;
        if (!take_frame(m))
            return false;
        m->tab[m->ntab++] = key;
    }
    return true;
}

/* A data frame for page p, on the list. */
static bool new_data(struct model *m, uint32_t p)
{
    if (!take_frame(m))
        return false;
    m->pg[p].next = NEVER; /* not referenced yet: never, for OPT */
    list_add(m, p);
    return true;
}

static void reference(struct model *m, uint32_t p, uint64_t next)
{
    struct page *pg = &m->pg[p];
    pg->ref = true;
    pg->next = next;
    if (m->pol != RM_LRU)
        return;
    for (size_t i = 0; i < m->nlist; i++)
        if (m->list[i] == p) {
            list_remove(m, i);
            list_add(m, p);
            return;
        }
}

static void write_reuse(struct model *m, struct page *pg)
{
    pg->writable = pg->dirty = true;
    if (pg->copy)
        m->slots--;
    pg->copy = false;
    m->r->cow_reuse++;
}

static void drop_table(struct model *m, uint64_t key)
{
    for (size_t i = 0; i < m->ntab; i++)
        if (m->tab[i] == key) {
            m->tab[i] = m->tab[--m->ntab];
            m->used--;
            return;
        }
}

/* Is any page (level 1) or table (above) under the table `key`? */
static bool table_used(const struct model *m, uint64_t key)
{
    const unsigned level = (unsigned)(key >> 56);
    const uint64_t region = key & ((1ull << 56) - 1);
    if (level == 1) {
        for (size_t i = 0; i < m->npg; i++)
            if (m->pg[i].st != P_NONE && m->pg[i].vpn >> 9 == region)
                return true;
        return false;
    }
    for (size_t i = 0; i < m->ntab; i++)
        if (m->tab[i] >> 56 == level - 1 && (m->tab[i] & ((1ull << 56) - 1)) >> 9 == region)
            return true;
    return false;
}

/* Page p goes back to never touched. */
static void release(struct model *m, uint32_t p)
{
    struct page *pg = &m->pg[p];
    if (pg->st == P_RES) {
        for (size_t i = 0; i < m->nlist; i++)
            if (m->list[i] == p)
                list_remove(m, i);
        m->used--;
        if (pg->copy)
            m->slots--;
    } else if (pg->st == P_SWAP) {
        m->slots--;
    }
    pg->st = P_NONE;
    pg->copy = pg->dirty = pg->writable = pg->ref = false;
}

static void munmap_pages(struct model *m, uint64_t vpn, uint64_t pages)
{
    if (!m->alive)
        return;
    /* Pages in any order (none of the counts depends on it: Clock's hand
     * ends on the first frame after it that stays), then their tables. */
    for (uint32_t p = 0; p < m->npg; p++)
        if (m->pg[p].vpn >= vpn && m->pg[p].vpn - vpn < pages && m->pg[p].st != P_NONE) {
            release(m, p);
            m->pg[p].gone = true;
        }
    for (uint32_t p = 0; p < m->npg; p++) {
        if (!m->pg[p].gone)
            continue;
        m->pg[p].gone = false;
        for (unsigned level = 1; level <= 3; level++) {
            const uint64_t key = (uint64_t)level << 56 | m->pg[p].vpn >> (9 * level);
            if (!have_table(m, key) || table_used(m, key))
                break;
            drop_table(m, key);
        }
    }
}

static void exit_process(struct model *m)
{
    if (!m->alive)
        return;
    for (uint32_t p = 0; p < m->npg; p++)
        release(m, p);
    m->used -= m->ntab + 1; /* every table and the root */
    m->ntab = 0;
    m->alive = false;
}

/* One access; returns its RM_K_* bits. */
static uint8_t access_page(struct model *m, uint32_t p, bool write, uint64_t next)
{
    struct rm_result *r = m->r;
    struct page *pg = &m->pg[p];
    uint8_t k = 0;
    if (!m->alive) { /* a new process: its root first */
        if (!take_frame(m))
            goto oom;
        m->alive = true;
    }
    switch (pg->st) {
    case P_NONE:
        r->faults_total++;
        if (write) {
            if (!new_data(m, p))
                goto oom;
            m->busy = p;
            const bool ok = take_tables(m, pg->vpn);
            m->busy = NONE_IDX;
            if (!ok) { /* the page's frame goes back */
                for (size_t i = 0; i < m->nlist; i++)
                    if (m->list[i] == p)
                        list_remove(m, i);
                m->used--;
                goto oom;
            }
            pg->st = P_RES;
            pg->writable = pg->dirty = true;
            pg->copy = false;
            r->zero_write++;
            k = RM_K_ZERO_WRITE;
        } else {
            if (!m->zero) {
                if (!take_frame(m))
                    goto oom;
                m->zero = true;
            }
            if (!take_tables(m, pg->vpn))
                goto oom;
            pg->st = P_ZERO;
            r->zero_read++;
            k = RM_K_ZERO_READ;
        }
        break;
    case P_ZERO:
        if (!write)
            return 0;
        r->faults_total++;
        if (!new_data(m, p))
            goto oom;
        pg->st = P_RES;
        pg->writable = pg->dirty = true;
        pg->copy = false;
        r->cow_zero++;
        k = RM_K_COW_ZERO;
        break;
    case P_RES:
        if (write && !pg->writable) {
            r->faults_total++;
            write_reuse(m, pg);
            k = RM_K_COW_REUSE;
        }
        break;
    case P_SWAP:
        r->faults_total++;
        if (!new_data(m, p))
            goto oom;
        pg->st = P_RES;
        pg->writable = pg->dirty = false;
        pg->copy = true; /* the slot: from the entry to the frame, still in use */
        r->swap_in++;
        r->swap_reads++;
        k = RM_K_SWAP_IN;
        if (write) {
            write_reuse(m, pg);
            k |= RM_K_COW_REUSE;
        }
        break;
    }
    if (pg->st == P_RES)
        reference(m, p, next);
    return k;
oom:
    r->oom++;
    return RM_K_OOM;
}

int rm_run(enum rm_policy policy, uint64_t frames, const struct rm_access *a, size_t n,
           struct rm_result *out)
{
    return rm_run_tie(policy, RM_TIE_OLDEST, frames, a, n, out);
}

int rm_run_tie(enum rm_policy policy, enum rm_tie tie, uint64_t frames, const struct rm_access *a,
               size_t n, struct rm_result *out)
{
    struct model m = {.pol = policy, .tie = tie, .frames = frames, .busy = NONE_IDX, .r = out};
    memset(out, 0, sizeof *out);
    uint32_t *idx = malloc((n ? n : 1) * sizeof *idx);
    uint64_t *next = malloc((n ? n : 1) * sizeof *next);
    m.pg = calloc(n ? n : 1, sizeof *m.pg);
    m.tab = malloc((3 * n + 1) * sizeof *m.tab);
    m.list = malloc((n + 1) * sizeof *m.list);
    out->kinds = calloc(n ? n : 1, 1);
    if (!idx || !next || !m.pg || !m.tab || !m.list || !out->kinds) {
        free(idx), free(next), free(m.pg), free(m.tab), free(m.list), free(out->kinds);
        out->kinds = NULL;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        idx[i] = NONE_IDX;
        if (a[i].op != RM_ACCESS)
            continue;
        idx[i] = page_of(&m, a[i].vpn);
        if (idx[i] == NONE_IDX) {
            idx[i] = (uint32_t)m.npg;
            m.pg[m.npg++] = (struct page){.vpn = a[i].vpn, .st = P_NONE, .next = NEVER};
        }
    }
    /* OPT's future: for each access, the next one to the same page */
    for (size_t i = 0; i < m.npg; i++)
        m.pg[i].next = NEVER; /* here: the access after the one being scanned */
    for (size_t i = n; i-- > 0;) {
        if (idx[i] == NONE_IDX)
            continue;
        next[i] = m.pg[idx[i]].next;
        m.pg[idx[i]].next = i;
    }
    for (size_t i = 0; i < m.npg; i++)
        m.pg[i].next = NEVER;
    for (size_t i = 0; i < n; i++) {
        if (a[i].op == RM_MUNMAP)
            munmap_pages(&m, a[i].vpn, a[i].pages);
        else if (a[i].op == RM_EXIT)
            exit_process(&m);
        else
            out->kinds[i] = access_page(&m, idx[i], a[i].write, next[i]);
    }
    out->frames_used = m.used;
    out->tables_by_level[0] = m.alive; /* the tables at the end, root first */
    for (size_t i = 0; i < m.ntab; i++)
        out->tables_by_level[4 - (m.tab[i] >> 56)]++;
    free(idx), free(next), free(m.pg), free(m.tab), free(m.list);
    return 0;
}
