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
 * A mapping that finds no frame for a table gives back the tables it took
 * (src/pt/radix.c prunes them; docs/kernel.md "Out of memory").
 * A victim that needs a slot when every slot is in use cannot go: it is
 * passed over and the policy asked for its next candidate (FIFO, LRU: the
 * next from the head; Clock: the hand sweeps on; OPT: none), up to 64,
 * then the allocation fails: out of memory (kernel.md "Eviction", "Out of
 * memory"). An event that finds no frame (a root, a fork's table) counts
 * as a fault out of memory but costs no fault cycles.
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
 *          in the circle). Every access to a resident page sets the bit
 *          (a walk sets it before any fault: a write that then runs out
 *          of memory has set it too);
 *          a fault that maps a page sets it too.
 *   OPT    Belady: the frame whose next access lies furthest ahead; a frame
 *          never accessed again counts as furthest. Among frames equally
 *          far (those never accessed again: the next accesses of the
 *          others are distinct events), the one referenced longest ago,
 *          a frame not referenced since it was taken counting from then:
 *          each frame carries the count of the model's takes and
 *          references at its last one (last), the lowest goes.
 *   A frame the fault in progress works on is never the victim (kernel.md
 *   "What can be evicted"): the new page while its tables are taken.
 *
 * Several processes (kernel.md "fork and copy-on-write", "Swap"). fork
 * takes the child's root, then for each page the parent maps (present,
 * zero or swapped, in address order) reads the parent's entry as it is
 * then (taking earlier pages' tables may have evicted it) and takes the
 * child's missing tables: a swap entry is shared (the slot gains a
 * reference), a writable page is write-protected in the parent and mapped
 * read-only in the child (the child's entry a copy of the parent's, its
 * accessed bit included), never evicted while its tables are taken. A
 * write to a frame another mapping shares copies it (cow_copy: a new frame
 * while the old one may not be evicted); one only the writer maps is
 * reused. Evicting a frame turns every mapping of it into a swap entry for
 * one slot. A fault on a swap entry whose slot a resident frame still
 * holds as its copy (the swap cache) maps that frame: a swap_in with no
 * read. Clock's bit is per mapping: a frame any mapping referenced gets
 * another round, all its bits cleared. OPT stamps a frame with the next
 * access of the process that referenced it last (the plan is per process).
 *
 * munmap and exit (kernel.md "Which frame", "Swap", "The life of a
 * page"): each page of the range goes back to never touched: its frame's
 * mapping goes, and the frame is freed with its last mapping (and with it
 * the swap copy it kept), a swap entry gives up its
 * slot, a zero mapping nothing; a table left with no entry (present,
 * zero or swap) is freed, then the level above if that leaves it empty,
 * up to (not including) the root. exit does so for every page and frees
 * every table, the root too; the zero frame stays. A frame freed is free:
 * the next one needed evicts nothing.
 *
 * Files and shared memory (kernel.md "VMAs", "The page cache", "File
 * write-back", "What can be evicted", "Eviction", "Swap"). An mmap (its
 * process made first, as an access makes it) unmaps what the range held,
 * as munmap does, then gives each page of it its backing: anonymous
 * (private), or the page (object, pgoff + page - vpn) of a file or, for
 * shared anonymous memory, of a new object of its own; munmap and exit
 * give the pages back to implicit anonymous memory, fork copies the
 * child's backings from the parent. The page cache holds one frame per
 * (object, page) at most. The first touch of a page backed by an object:
 *   resident in the page cache   pagecache_hit: nothing read
 *   not resident                 pagecache_miss: a data frame taken first
 *                                (none: out of memory, no other kind), one
 *                                file read, or for shared memory one swap
 *                                read when the object's page has a slot
 *                                (zero-filled otherwise, no read)
 * then the tables (the frame may not be the victim; none: out of memory,
 * the page stays cached); a shared mapping maps it writable, a private one
 * read-only, and a write through it is then a cow_copy of it (one fault),
 * or out of memory with the page mapped read-only. A page-cache frame is
 * never reused by a write: it is always copied. Every mapping of the frame
 * is one (process, page) pair, so a process that maps the page at two
 * addresses has two mappings (two shootdowns, two accessed bits). A write
 * through a shared mapping dirties the frame (the entry's dirty bit, kept
 * on the page when the mapping goes), until it is evicted.
 * Evicting a page-cache frame removes every mapping's entry (the page is
 * not present there now; no table goes), then a file page is written to
 * its file when dirty (file.writes), else dropped (dropped_clean); a page
 * of shared memory is written to a slot when dirty or when it has no slot
 * yet (swap.writes; a dirty page's old slot, stale, is let go first, so
 * only a page with no slot needs a free one), else dropped clean, its slot
 * kept.
 * The page-cache entry holds its slot while the object lasts (always).
 * fork skips a page-cache page that taking the child's tables evicted.
 *
 * Shootdowns (kernel.md "The reverse map and TLB shootdowns"): one
 * tlb.invalidations for each write fault fixed (copy, reuse, copy of the
 * zero frame), each private writable page of a fork's parent, each leaf
 * (present, zero or swapped) an munmap or an mmap removes, each mapping of
 * an evicted frame, each mapping whose accessed bit Clock clears; none at
 * exit, none for a fault that maps a page not present.
 *
 * Cost (kernel.md "The cost of I/O"): each page read or written to swap
 * or to a file is one I/O; each fault one fault (the caller turns these
 * into cycles).
 *
 * khugepaged (kernel.md "khugepaged", rm_run_khp; the caller runs vmsim
 * with 2 MiB pages under --thp always, so every block of implicit memory
 * is eligible, and with at most 512 frames, so no huge fault, promotion or
 * collapse ever finds its 512 aligned frames and all of them fall back to
 * what this model does with base pages):
 *   Slots. Each process holds a slot of the kernel's table: a new one
 *   (first access, fork's child) takes the slot freed last, else a new
 *   one at the end; exit frees it, and so does a creation whose root
 *   finds no frame, or a fork that fails.
 *   When. A scan after every `every`-th access that ran out of no memory
 *   (an access that did is dropped and does not count; munmap, exit and
 *   fork do not either).
 *   What. From the cursor (a slot, a 2 MiB block): the lowest block of
 *   that slot's process at or above it holding an entry (present, zero or
 *   swapped) is judged (progress and pages_scanned +512), the cursor goes
 *   to the block after it; none: the next slot, its first block; past the
 *   last slot: a full scan and slot 0. The scan stops when progress
 *   reaches `pages`, or at slot 0 block 0 the second time (where it
 *   started counts).
 *   The rule, in this order: more than max_none entries empty or the zero
 *   frame: fail_none; more than max_swap swapped, or any swapped and fewer
 *   than 256 present pages with their accessed bit set (Clock's bit
 *   here): fail_swap; more than max_shared present pages whose frame
 *   another process maps too: fail_shared; else the allocation of the
 *   huge frame fails: fail_alloc (nothing changes).
 *   Anonymous memory only: no mmap may come with khugepaged (rm_run_khp
 *   returns -1), whose scan of file and shared mappings is not modelled. */
#include "replmodel.h"

#include <stdlib.h>
#include <string.h>

#define NONE_IDX UINT32_MAX
#define NEVER UINT64_MAX
#define NPID (RM_MAX_PID + 1)
#define SHM_FIRST (1ull << 32) /* objects of shared anonymous memory: never a file id */
#define MAXMAP 16              /* mappings of one frame: 2 pages per process at most */

enum pstate { P_NONE, P_ZERO, P_RES, P_SWAP };

/* One page of one process: its entry. */
struct ent {
    uint8_t st;    /* enum pstate */
    bool writable; /* P_RES: the entry allows writes */
    bool ref;      /* Clock's reference bit: the entry's accessed bit */
    uint32_t frame; /* P_RES */
    uint32_t slot;  /* P_SWAP */
};

/* What backs one page of one process (its VMA): obj 0 is anonymous. */
struct back {
    uint64_t obj;  /* a file id, or SHM_FIRST and up: shared anonymous memory */
    uint64_t idx;  /* the object's page */
    bool shared;
};

struct mapping {
    uint8_t pid;
    uint32_t page;
};

struct frame {
    uint32_t page;
    uint8_t nmap;                /* mappings, one per (process, page) */
    struct mapping map[MAXMAP];
    uint32_t copy;         /* the slot holding its contents, NONE_IDX if none */
    uint32_t pc;           /* its page-cache entry, NONE_IDX: anonymous */
    bool dirty;            /* page cache: written through a shared mapping */
    uint64_t next;         /* OPT: the event of its next access, NEVER if none */
    uint64_t last;         /* OPT's ties: the tick of its last reference or take */
};

/* A page of the page cache (never removed). */
struct pce {
    uint64_t obj, idx;
    uint32_t frame; /* resident: its frame, else NONE_IDX */
    uint32_t slot;  /* shared memory: the slot of its contents, NONE_IDX if none */
};

struct slot {
    uint32_t refs;  /* entries naming it, and 1 while a frame keeps it as its copy */
    uint32_t frame; /* that frame (the swap cache), NONE_IDX if none */
};

struct model {
    enum rm_policy pol;
    uint64_t tick; /* frames taken and references made so far */
    uint64_t frames, used, nslots;
    uint64_t *vpn; /* of each page */
    size_t npg;
    struct ent *ent; /* [pid * npg + page] */
    struct back *back; /* [pid * npg + page] */
    struct frame *fr;
    uint32_t *free_fr;
    size_t nfree_fr, nfr;
    struct slot *sl;
    size_t nsl;
    struct pce *pc;
    size_t npc, pc_cap;
    uint64_t shm_next;
    uint64_t *tab; /* tables taken: pid << 60 | level << 56 | the region's number */
    size_t ntab;
    bool zero;
    bool alive[NPID];
    uint32_t *list; /* resident frames, in list order */
    size_t nlist, hand;
    uint64_t slots;
    uint32_t busy; /* a frame that may not be chosen */
    bool nomem;    /* out of host memory */
    struct rm_result *r;
    /* khugepaged: the kernel's table of processes (pid, 0 for a free
     * slot), its free slots (the last freed on top), the cursor */
    const struct rm_khp *khp;
    uint8_t slot_pid[2 * NPID], slot_free[2 * NPID], pid_slot[NPID];
    size_t nslot, nslot_free, cur_slot;
    uint64_t cur_blk, khp_left;
};

static struct ent *E(struct model *m, unsigned pid, uint32_t page)
{
    return &m->ent[(size_t)pid * m->npg + page];
}

static struct back *B(struct model *m, unsigned pid, uint32_t page)
{
    return &m->back[(size_t)pid * m->npg + page];
}

static uint32_t page_of(struct model *m, uint64_t vpn)
{
    for (size_t i = 0; i < m->npg; i++)
        if (m->vpn[i] == vpn)
            return (uint32_t)i;
    return NONE_IDX;
}

/* The page-cache entry of (obj, idx), made when absent; NONE_IDX when the
 * host is out of memory. */
static uint32_t pc_find(struct model *m, uint64_t obj, uint64_t idx)
{
    for (size_t i = 0; i < m->npc; i++)
        if (m->pc[i].obj == obj && m->pc[i].idx == idx)
            return (uint32_t)i;
    if (m->npc == m->pc_cap) {
        const size_t cap = m->pc_cap ? 2 * m->pc_cap : 256;
        struct pce *p = realloc(m->pc, cap * sizeof *p);
        if (!p) {
            m->nomem = true;
            return NONE_IDX;
        }
        m->pc = p;
        m->pc_cap = cap;
    }
    m->pc[m->npc] = (struct pce){obj, idx, NONE_IDX, NONE_IDX};
    return (uint32_t)m->npc++;
}

static void list_remove(struct model *m, size_t i)
{
    memmove(&m->list[i], &m->list[i + 1], (m->nlist - i - 1) * sizeof *m->list);
    m->nlist--;
    if (i < m->hand)
        m->hand--;
}

static void list_remove_frame(struct model *m, uint32_t f)
{
    for (size_t i = 0; i < m->nlist; i++)
        if (m->list[i] == f) {
            list_remove(m, i);
            return;
        }
}

static void list_add(struct model *m, uint32_t f)
{
    size_t at = m->pol == RM_CLOCK ? m->hand : m->nlist;
    memmove(&m->list[at + 1], &m->list[at], (m->nlist - at) * sizeof *m->list);
    m->list[at] = f;
    m->nlist++;
    if (m->pol == RM_CLOCK)
        m->hand++;
}

static void slot_get(struct model *m, uint32_t s)
{
    if (m->sl[s].refs++ == 0 && ++m->slots > m->r->slots_peak)
        m->r->slots_peak = m->slots;
}

static void slot_put(struct model *m, uint32_t s)
{
    if (--m->sl[s].refs == 0)
        m->slots--;
}

/* A slot never used before, with no reference yet. */
static uint32_t new_slot(struct model *m)
{
    const uint32_t s = (uint32_t)m->nsl++;
    m->sl[s] = (struct slot){0, NONE_IDX};
    return s;
}

/* The frame no longer keeps its swap copy. */
static void drop_copy(struct model *m, struct frame *f)
{
    if (f->copy == NONE_IDX)
        return;
    m->sl[f->copy].frame = NONE_IDX;
    slot_put(m, f->copy);
    f->copy = NONE_IDX;
}

static bool is_shm(uint64_t obj) { return obj >= SHM_FIRST; }

/* Does evicting the frame write it to a slot? */
static bool writes_slot(const struct model *m, const struct frame *f)
{
    if (f->pc == NONE_IDX)
        return f->copy == NONE_IDX;
    const struct pce *c = &m->pc[f->pc];
    return is_shm(c->obj) && (f->dirty || c->slot == NONE_IDX);
}

/* Does evicting the frame need a free slot? Not a page of shared memory
 * that has one: a dirty page lets its stale slot go first. */
static bool needs_free_slot(const struct model *m, const struct frame *f)
{
    return writes_slot(m, f) && (f->pc == NONE_IDX || m->pc[f->pc].slot == NONE_IDX);
}

/* Clock: has any mapping referenced the frame? Clears every bit, with a
 * shootdown each. */
static bool referenced(struct model *m, uint32_t f)
{
    const struct frame *fr = &m->fr[f];
    bool any = false;
    for (unsigned i = 0; i < fr->nmap; i++) {
        struct ent *e = E(m, fr->map[i].pid, fr->map[i].page);
        if (e->ref)
            m->r->invalidations++;
        any |= e->ref;
        e->ref = false;
    }
    return any;
}

/* The index in the list of the victim, or nlist when there is none; `tried`
 * candidates were found before and could not go (swap full). */
static size_t victim(struct model *m, unsigned tried)
{
    switch (m->pol) {
    case RM_FIFO:
    case RM_LRU:
        for (size_t i = 0; i < m->nlist; i++)
            if (m->list[i] != m->busy && tried-- == 0)
                return i;
        return m->nlist;
    case RM_CLOCK:
        for (size_t steps = 0; steps < 3 * m->nlist; steps++) {
            if (m->hand >= m->nlist)
                m->hand = 0;
            const size_t i = m->hand++;
            if (m->list[i] == m->busy || referenced(m, m->list[i]))
                continue;
            return i;
        }
        return m->nlist;
    case RM_OPT: {
        size_t best = m->nlist;
        bool tie = false;
        if (tried) /* it gives up at the first that cannot go */
            return m->nlist;
        for (size_t i = 0; i < m->nlist; i++) {
            if (m->list[i] == m->busy)
                continue;
            const struct frame *f = &m->fr[m->list[i]];
            if (best == m->nlist) {
                best = i;
                continue;
            }
            const struct frame *b = &m->fr[m->list[best]];
            if (f->next == b->next)
                tie = true;
            if (f->next > b->next || (f->next == b->next && f->last < b->last)) {
                if (f->next > b->next)
                    tie = false;
                best = i;
            }
        }
        m->r->opt_ties += tie;
        return best;
    }
    }
    return m->nlist;
}

static void free_frame(struct model *m, uint32_t f)
{
    list_remove_frame(m, f);
    drop_copy(m, &m->fr[f]);
    m->free_fr[m->nfree_fr++] = f;
    m->used--;
}

/* Evict a page-cache frame: every mapping's entry goes; the contents go
 * to the file (dirty), to a new slot (shared memory, dirty or no slot
 * yet), or nowhere (clean). */
static void evict_cached(struct model *m, uint32_t f)
{
    struct frame *fr = &m->fr[f];
    struct pce *c = &m->pc[fr->pc];
    const bool to_slot = writes_slot(m, fr);
    for (unsigned i = 0; i < fr->nmap; i++) {
        *E(m, fr->map[i].pid, fr->map[i].page) = (struct ent){.st = P_NONE};
        m->r->invalidations++;
    }
    fr->nmap = 0;
    if (to_slot) {
        if (c->slot != NONE_IDX) /* stale: it goes first */
            slot_put(m, c->slot);
        const uint32_t s = new_slot(m);
        slot_get(m, s);
        c->slot = s;
        m->r->swap_writes++;
    } else if (fr->dirty && !is_shm(c->obj)) {
        m->r->file_writes++;
    } else {
        m->r->dropped_clean++;
    }
    c->frame = NONE_IDX;
}

/* Evict frame f: an anonymous page's mappings become swap entries for one
 * slot; a page-cache page's go (evict_cached). */
static void evict(struct model *m, uint32_t f)
{
    struct frame *fr = &m->fr[f];
    if (fr->pc != NONE_IDX) {
        evict_cached(m, f);
    } else {
        uint32_t s;
        if (writes_slot(m, fr)) {
            s = new_slot(m);
            m->r->swap_writes++;
        } else {
            s = fr->copy;
            m->r->dropped_clean++;
        }
        for (unsigned i = 0; i < fr->nmap; i++) {
            struct ent *e = E(m, fr->map[i].pid, fr->map[i].page);
            e->st = P_SWAP;
            e->slot = s;
            slot_get(m, s);
            m->r->invalidations++;
        }
        fr->nmap = 0;
    }
    m->r->evictions++;
    free_frame(m, f);
}

/* One frame, evicting a page when none is free; false: out of memory. */
static bool take_frame(struct model *m)
{
    if (m->used < m->frames) {
        if (++m->used > m->r->frames_peak)
            m->r->frames_peak = m->used;
        return true;
    }
    for (unsigned tried = 0; tried < 64; tried++) {
        const size_t i = victim(m, tried);
        if (i == m->nlist)
            return false;
        if (needs_free_slot(m, &m->fr[m->list[i]]) && m->slots == m->nslots)
            continue; /* no slot for it: passed over */
        evict(m, m->list[i]);
        m->used++;
        return true;
    }
    return false;
}

static bool have_table(struct model *m, uint64_t key)
{
    for (size_t i = 0; i < m->ntab; i++)
        if (m->tab[i] == key)
            return true;
    return false;
}

static uint64_t table_key(unsigned pid, unsigned level, uint64_t vpn)
{
    return (uint64_t)pid << 60 | (uint64_t)level << 56 | vpn >> (9 * level);
}

static void drop_table(struct model *m, uint64_t key);

/* The tables a mapping of pid at vpn lacks, top-down. When one cannot be
 * had, the ones this mapping took go again (each is empty but for the
 * next, deepest first). */
static bool take_tables(struct model *m, unsigned pid, uint64_t vpn)
{
    unsigned took = 0;
    for (unsigned level = 3; level >= 1; level--) {
        const uint64_t key = table_key(pid, level, vpn);
        if (have_table(m, key))
            continue;
        if (!take_frame(m)) {
            for (unsigned l = level + 1; l <= 3 && took; l++, took--)
                drop_table(m, table_key(pid, l, vpn));
            return false;
        }
        m->tab[m->ntab++] = key;
        took++;
    }
    return true;
}

/* A new data frame for page p, on the list, no mapping yet. */
static uint32_t new_frame(struct model *m, uint32_t p)
{
    if (!take_frame(m))
        return NONE_IDX;
    const uint32_t f = m->free_fr[--m->nfree_fr];
    m->fr[f] = (struct frame){.page = p, .copy = NONE_IDX, .pc = NONE_IDX, .next = NEVER,
                              .last = m->tick++};
    list_add(m, f);
    return f;
}

static void add_map(struct model *m, uint32_t f, unsigned pid, uint32_t page)
{
    struct frame *fr = &m->fr[f];
    if (fr->nmap == MAXMAP) { /* the generator keeps below this */
        m->nomem = true;
        return;
    }
    fr->map[fr->nmap++] = (struct mapping){(uint8_t)pid, page};
}

static void del_map(struct model *m, uint32_t f, unsigned pid, uint32_t page)
{
    struct frame *fr = &m->fr[f];
    for (unsigned i = 0; i < fr->nmap; i++)
        if (fr->map[i].pid == pid && fr->map[i].page == page) {
            fr->map[i] = fr->map[--fr->nmap];
            return;
        }
}

static void reference(struct model *m, struct ent *e, uint64_t next)
{
    e->ref = true;
    m->fr[e->frame].next = next;
    m->fr[e->frame].last = m->tick++;
    if (m->pol == RM_LRU) {
        list_remove_frame(m, e->frame);
        list_add(m, e->frame);
    }
}

/* A write to a present read-only page of pid: reuse or copy (a page-cache
 * page is always copied). */
static uint16_t write_fault(struct model *m, unsigned pid, uint32_t p, struct ent *e)
{
    const uint32_t old = e->frame;
    if (m->fr[old].nmap == 1 && m->fr[old].pc == NONE_IDX) {
        e->writable = true;
        drop_copy(m, &m->fr[old]);
        m->r->cow_reuse++;
        m->r->invalidations++;
        return RM_K_COW_REUSE;
    }
    m->busy = old;
    const uint32_t f = new_frame(m, p);
    m->busy = NONE_IDX;
    if (f == NONE_IDX) {
        m->r->oom++;
        return RM_K_OOM;
    }
    del_map(m, old, pid, p);
    add_map(m, f, pid, p);
    e->frame = f;
    e->writable = true;
    e->ref = true;
    m->r->cow_copy++;
    m->r->invalidations++;
    return RM_K_COW_COPY;
}

static uint16_t oom(struct model *m)
{
    m->r->oom++;
    return RM_K_OOM;
}

static void event_oom(struct model *m);

static void slot_take(struct model *m, unsigned pid)
{
    const size_t s = m->nslot_free ? m->slot_free[--m->nslot_free] : m->nslot++;
    m->slot_pid[s] = (uint8_t)pid;
    m->pid_slot[pid] = (uint8_t)s;
}

static void slot_give(struct model *m, unsigned pid)
{
    m->slot_pid[m->pid_slot[pid]] = 0;
    m->slot_free[m->nslot_free++] = m->pid_slot[pid];
}

static bool ensure_process(struct model *m, unsigned pid)
{
    if (m->alive[pid])
        return true;
    slot_take(m, pid);
    if (!take_frame(m)) { /* its root */
        slot_give(m, pid);
        event_oom(m);
        return false;
    }
    m->alive[pid] = true;
    return true;
}

/* The first touch of page p of pid, backed by an object: through the page
 * cache. */
static uint16_t file_fault(struct model *m, unsigned pid, uint32_t p, bool write)
{
    struct rm_result *r = m->r;
    const struct back b = *B(m, pid, p);
    const uint32_t ci = pc_find(m, b.obj, b.idx);
    if (ci == NONE_IDX)
        return 0;
    uint16_t k;
    uint32_t f = m->pc[ci].frame;
    if (f == NONE_IDX) {
        f = new_frame(m, p);
        if (f == NONE_IDX)
            return oom(m);
        m->fr[f].pc = ci;
        m->pc[ci].frame = f;
        if (!is_shm(b.obj))
            r->file_reads++;
        else if (m->pc[ci].slot != NONE_IDX)
            r->swap_reads++;
        r->pc_miss++;
        k = RM_K_PC_MISS;
    } else {
        r->pc_hit++;
        k = RM_K_PC_HIT;
    }
    m->busy = f;
    const bool ok = take_tables(m, pid, m->vpn[p]);
    m->busy = NONE_IDX;
    if (!ok) /* the page stays cached */
        return k | oom(m);
    add_map(m, f, pid, p);
    struct ent *e = E(m, pid, p);
    *e = (struct ent){.st = P_RES, .writable = b.shared, .ref = true, .frame = f};
    if (write && !b.shared)
        k |= write_fault(m, pid, p, e);
    return k;
}

/* One access; returns its RM_K_* bits. */
static uint16_t access_page(struct model *m, unsigned pid, uint32_t p, bool write, uint64_t next)
{
    struct rm_result *r = m->r;
    if (!ensure_process(m, pid)) /* the event's, before any translation */
        return 0;
    struct ent *e = E(m, pid, p);
    uint16_t k = 0;
    /* The walk (or the TLB entry a walk filled) finds a present entry and
     * sets its accessed bit, even when the access then faults and the
     * fault finds no frame: Clock sees that reference. */
    if (e->st == P_RES)
        e->ref = true;
    switch (e->st) {
    case P_NONE:
        r->faults_total++;
        if (B(m, pid, p)->obj) {
            k = file_fault(m, pid, p, write);
            if (k & RM_K_OOM)
                return k;
        } else if (write) {
            const uint32_t f = new_frame(m, p);
            if (f == NONE_IDX)
                return oom(m);
            m->busy = f;
            const bool ok = take_tables(m, pid, m->vpn[p]);
            m->busy = NONE_IDX;
            if (!ok) { /* the page's frame goes back */
                free_frame(m, f);
                return oom(m);
            }
            add_map(m, f, pid, p);
            *e = (struct ent){.st = P_RES, .writable = true, .frame = f};
            r->zero_write++;
            k = RM_K_ZERO_WRITE;
        } else {
            if (!m->zero) {
                if (!take_frame(m))
                    return oom(m);
                m->zero = true;
            }
            if (!take_tables(m, pid, m->vpn[p]))
                return oom(m);
            *e = (struct ent){.st = P_ZERO};
            r->zero_read++;
            k = RM_K_ZERO_READ;
        }
        break;
    case P_ZERO:
        if (!write)
            return 0;
        r->faults_total++;
        const uint32_t f = new_frame(m, p);
        if (f == NONE_IDX)
            return oom(m);
        add_map(m, f, pid, p);
        *e = (struct ent){.st = P_RES, .writable = true, .frame = f};
        r->cow_zero++;
        r->invalidations++;
        k = RM_K_COW_ZERO;
        break;
    case P_RES:
        if (write && !e->writable) {
            r->faults_total++;
            k = write_fault(m, pid, p, e);
            if (k == RM_K_OOM)
                return k;
        }
        break;
    case P_SWAP: {
        r->faults_total++;
        const uint32_t s = e->slot;
        uint32_t fs = m->sl[s].frame;
        if (fs == NONE_IDX) {
            fs = new_frame(m, p);
            if (fs == NONE_IDX)
                return oom(m);
            m->fr[fs].copy = s;
            m->sl[s].frame = fs;
            slot_get(m, s);
            r->swap_reads++;
        } else {
            r->swapcache_hits++;
        }
        add_map(m, fs, pid, p);
        *e = (struct ent){.st = P_RES, .ref = true, .frame = fs};
        slot_put(m, s);
        r->swap_in++;
        k = RM_K_SWAP_IN;
        if (write) {
            const uint16_t w = write_fault(m, pid, p, e);
            if (w == RM_K_OOM)
                return k | w;
            k |= w;
        }
        break;
    }
    }
    if (e->st == P_RES) {
        if (write && B(m, pid, p)->shared) /* the hardware sets the dirty bit */
            m->fr[e->frame].dirty = true;
        reference(m, e, next);
    }
    return k;
}

/* Is any page (level 1) or table (above) of pid under the table `key`? */
static bool table_used(struct model *m, unsigned pid, uint64_t key)
{
    const unsigned level = (unsigned)(key >> 56 & 15);
    const uint64_t region = key & ((1ull << 56) - 1);
    if (level == 1) {
        for (uint32_t i = 0; i < m->npg; i++)
            if (E(m, pid, i)->st != P_NONE && m->vpn[i] >> 9 == region)
                return true;
        return false;
    }
    for (size_t i = 0; i < m->ntab; i++)
        if (m->tab[i] >> 60 == pid && (m->tab[i] >> 56 & 15) == level - 1 &&
            (m->tab[i] & ((1ull << 56) - 1)) >> 9 == region)
            return true;
    return false;
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

/* Page p of pid goes back to never touched (a page-cache page stays
 * cached). */
static void release(struct model *m, unsigned pid, uint32_t p)
{
    struct ent *e = E(m, pid, p);
    if (e->st == P_RES) {
        del_map(m, e->frame, pid, p);
        if (m->fr[e->frame].nmap == 0 && m->fr[e->frame].pc == NONE_IDX)
            free_frame(m, e->frame);
    } else if (e->st == P_SWAP) {
        slot_put(m, e->slot);
    }
    *e = (struct ent){.st = P_NONE};
}

/* The leaves of pid in [vpn, vpn + pages) go, each with a shootdown, then
 * the tables they leave empty. */
static void unmap_pages(struct model *m, unsigned pid, uint64_t vpn, uint64_t pages)
{
    /* Pages in any order (none of the counts depends on it: Clock's hand
     * ends on the first frame after it that stays), then their tables. */
    bool *gone = calloc(m->npg ? m->npg : 1, sizeof *gone);
    if (!gone) {
        m->nomem = true;
        return;
    }
    for (uint32_t p = 0; p < m->npg; p++)
        if (m->vpn[p] >= vpn && m->vpn[p] - vpn < pages && E(m, pid, p)->st != P_NONE) {
            release(m, pid, p);
            m->r->invalidations++;
            gone[p] = true;
        }
    for (uint32_t p = 0; p < m->npg; p++) {
        if (!gone[p])
            continue;
        for (unsigned level = 1; level <= 3; level++) {
            const uint64_t key = table_key(pid, level, m->vpn[p]);
            if (!have_table(m, key) || table_used(m, pid, key))
                break;
            drop_table(m, key);
        }
    }
    free(gone);
}

static void set_back(struct model *m, unsigned pid, uint64_t vpn, uint64_t pages,
                     struct back b)
{
    for (uint32_t p = 0; p < m->npg; p++)
        if (m->vpn[p] >= vpn && m->vpn[p] - vpn < pages)
            *B(m, pid, p) = (struct back){b.obj, b.obj ? b.idx + (m->vpn[p] - vpn) : 0,
                                          b.obj && b.shared};
}

static void munmap_pages(struct model *m, unsigned pid, uint64_t vpn, uint64_t pages)
{
    if (!m->alive[pid])
        return;
    unmap_pages(m, pid, vpn, pages);
    set_back(m, pid, vpn, pages, (struct back){0}); /* implicit memory again */
}

static void mmap_pages(struct model *m, unsigned pid, const struct rm_access *a)
{
    if (!ensure_process(m, pid))
        return;
    const uint64_t obj = a->file ? a->file : a->shared ? m->shm_next++ : 0;
    unmap_pages(m, pid, a->vpn, a->pages);
    set_back(m, pid, a->vpn, a->pages, (struct back){obj, a->pgoff, a->shared});
}

static void exit_process(struct model *m, unsigned pid)
{
    if (!m->alive[pid])
        return;
    for (uint32_t p = 0; p < m->npg; p++) {
        release(m, pid, p);
        *B(m, pid, p) = (struct back){0};
    }
    for (size_t i = 0; i < m->ntab;)
        if (m->tab[i] >> 60 == pid)
            drop_table(m, m->tab[i]);
        else
            i++;
    m->used--; /* the root */
    m->alive[pid] = false;
    slot_give(m, pid);
}

/* An event that finds no frame: counted as a fault that ran out of
 * memory (stats.md, faults.oom), but it is no access's fault and costs no
 * `fault` cycles. */
static void event_oom(struct model *m)
{
    m->r->oom++;
    m->r->faults_total++;
    m->r->event_oom++;
}

static void fork_process(struct model *m, unsigned parent, unsigned child, const uint32_t *order)
{
    if (!m->alive[parent])
        return;
    if (m->alive[child]) {
        m->r->invalid = true;
        return;
    }
    slot_take(m, child);
    if (!take_frame(m)) {
        slot_give(m, child);
        event_oom(m);
        return;
    }
    m->alive[child] = true;
    bool *had = malloc(m->npg ? m->npg : 1);
    if (!had) {
        m->nomem = true;
        return;
    }
    for (uint32_t p = 0; p < m->npg; p++) { /* the VMAs, the leaves when the fork starts */
        had[p] = E(m, parent, p)->st != P_NONE;
        *B(m, child, p) = *B(m, parent, p);
    }
    for (size_t j = 0; j < m->npg; j++) {
        const uint32_t p = order[j];
        if (!had[p])
            continue;
        struct ent *pe = E(m, parent, p), *ce = E(m, child, p);
        bool ok;
        if (pe->st == P_NONE) { /* a page-cache page the child's tables evicted */
            continue;
        } else if (pe->st == P_SWAP) {
            slot_get(m, pe->slot);
            ok = take_tables(m, child, m->vpn[p]);
            if (ok)
                *ce = (struct ent){.st = P_SWAP, .slot = pe->slot};
            else
                slot_put(m, pe->slot);
        } else if (pe->st == P_ZERO) {
            ok = take_tables(m, child, m->vpn[p]);
            if (ok)
                *ce = (struct ent){.st = P_ZERO, .ref = pe->ref};
        } else {
            if (pe->writable && !B(m, parent, p)->shared) { /* copy-on-write from now on */
                pe->writable = false;
                m->r->invalidations++;
            }
            m->busy = pe->frame;
            ok = take_tables(m, child, m->vpn[p]);
            m->busy = NONE_IDX;
            if (ok) {
                add_map(m, pe->frame, child, p);
                *ce = (struct ent){.st = P_RES, .writable = pe->writable, .frame = pe->frame,
                                   .ref = pe->ref};
            }
        }
        if (!ok) { /* as Linux: no child is left behind */
            event_oom(m);
            exit_process(m, child);
            break;
        }
    }
    free(had);
}

/* ---- khugepaged ---- */

/* Judge block b (its vpn >> 9) of pid by the limits, in their order. */
static void khp_judge(struct model *m, unsigned pid, uint64_t b)
{
    const struct rm_khp *h = m->khp;
    struct rm_result *r = m->r;
    uint64_t none = 512, swapped = 0, young = 0, shared = 0;
    for (uint32_t p = 0; p < m->npg; p++) {
        const struct ent *e = E(m, pid, p);
        if (m->vpn[p] >> 9 != b || e->st == P_NONE || e->st == P_ZERO)
            continue;
        none--;
        if (e->st == P_SWAP) {
            swapped++;
            continue;
        }
        young += e->ref;
        shared += m->fr[e->frame].nmap > 1;
    }
    r->khp_scanned += 512;
    if (none > h->max_none)
        r->khp_fail_none++;
    else if (swapped > h->max_swap || (swapped && young < 256))
        r->khp_fail_swap++;
    else if ((r->khp_swap_passed += swapped != 0, shared > h->max_shared))
        r->khp_fail_shared++;
    else
        r->khp_fail_alloc++;
}

/* The lowest block of pid at or above `from` holding an entry. */
static bool khp_next(struct model *m, unsigned pid, uint64_t from, uint64_t *b)
{
    bool found = false;
    for (uint32_t p = 0; p < m->npg; p++) {
        const uint64_t blk = m->vpn[p] >> 9;
        if (E(m, pid, p)->st != P_NONE && blk >= from && (!found || blk < *b)) {
            *b = blk;
            found = true;
        }
    }
    return found;
}

static void khp_scan(struct model *m)
{
    uint64_t progress = 0;
    unsigned heads = 0;
    m->khp_left = m->khp->every;
    m->r->khp_scans++;
    while (progress < m->khp->pages) {
        if (m->cur_slot >= m->nslot) {
            m->cur_slot = 0;
            m->cur_blk = 0;
            m->r->khp_full++;
        }
        if (m->cur_slot == 0 && m->cur_blk == 0 && ++heads == 2)
            break;
        const unsigned pid = m->slot_pid[m->cur_slot];
        uint64_t b = 0;
        if (!pid || !khp_next(m, pid, m->cur_blk, &b)) {
            m->cur_slot++;
            m->cur_blk = 0;
            continue;
        }
        khp_judge(m, pid, b);
        progress += 512;
        m->cur_blk = b + 1;
    }
}

int rm_run(enum rm_policy policy, uint64_t frames, uint64_t slots, const struct rm_access *a,
           size_t n, struct rm_result *out)
{
    return rm_run_khp(policy, frames, slots, NULL, a, n, out);
}

int rm_run_khp(enum rm_policy policy, uint64_t frames, uint64_t slots, const struct rm_khp *khp,
               const struct rm_access *a, size_t n, struct rm_result *out)
{
    struct model m = {.pol = policy, .frames = frames, .nslots = slots,
                      .busy = NONE_IDX, .shm_next = SHM_FIRST, .r = out};
    memset(out, 0, sizeof *out);
    if (khp && khp->every) {
        if (frames > 512 || !khp->pages)
            return -1;
        for (size_t i = 0; i < n; i++)
            if (a[i].op == RM_MMAP)
                return -1;
        m.khp = khp;
        m.khp_left = khp->every;
    }
    const size_t cap = n ? n : 1;
    uint32_t *idx = malloc(cap * sizeof *idx), *order = malloc(cap * sizeof *order);
    uint64_t *next = malloc(cap * sizeof *next), *last = NULL;
    m.vpn = malloc(cap * sizeof *m.vpn);
    m.tab = malloc((12 * n + 4) * sizeof *m.tab); /* 3 per page per process at most */
    /* data frames: two per access at most (a page-cache page and its copy) */
    m.list = malloc((2 * n + 2) * sizeof *m.list);
    m.fr = malloc((2 * n + 2) * sizeof *m.fr);
    m.free_fr = malloc((2 * n + 2) * sizeof *m.free_fr);
    m.sl = malloc((2 * n + 2) * sizeof *m.sl);
    out->kinds = calloc(cap, sizeof *out->kinds);
    int rc = -1;
    if (!idx || !order || !next || !m.vpn || !m.tab || !m.list || !m.fr || !m.free_fr || !m.sl ||
        !out->kinds)
        goto done;
    for (size_t i = 0; i < n; i++) {
        idx[i] = NONE_IDX;
        if (a[i].op != RM_ACCESS)
            continue;
        idx[i] = page_of(&m, a[i].vpn);
        if (idx[i] == NONE_IDX) {
            idx[i] = (uint32_t)m.npg;
            m.vpn[m.npg++] = a[i].vpn;
        }
    }
    m.ent = calloc((m.npg ? m.npg : 1) * NPID, sizeof *m.ent);
    m.back = calloc((m.npg ? m.npg : 1) * NPID, sizeof *m.back);
    last = malloc((m.npg ? m.npg : 1) * NPID * sizeof *last);
    if (!m.ent || !m.back || !last)
        goto done;
    /* OPT's future, per process: for each access, the next one by the same
     * process to the same page */
    for (size_t i = 0; i < m.npg * NPID; i++)
        last[i] = NEVER;
    for (size_t i = n; i-- > 0;) {
        if (idx[i] == NONE_IDX)
            continue;
        const size_t key = (size_t)(a[i].pid ? a[i].pid : 1) * m.npg + idx[i];
        next[i] = last[key];
        last[key] = i;
    }
    for (uint32_t i = 0; i < m.npg; i++)
        order[i] = i;
    for (size_t i = 1; i < m.npg; i++) /* address order, for fork */
        for (size_t j = i; j > 0 && m.vpn[order[j - 1]] > m.vpn[order[j]]; j--) {
            const uint32_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (size_t i = 0; i < 2 * n + 2; i++)
        m.free_fr[i] = (uint32_t)(2 * n + 1 - i); /* frame 0 first */
    m.nfree_fr = 2 * n + 2;
    for (size_t i = 0; i < n && !out->invalid && !m.nomem; i++) {
        const unsigned pid = a[i].pid ? a[i].pid : 1;
        if (a[i].op == RM_MUNMAP)
            munmap_pages(&m, pid, a[i].vpn, a[i].pages);
        else if (a[i].op == RM_MMAP)
            mmap_pages(&m, pid, &a[i]);
        else if (a[i].op == RM_EXIT)
            exit_process(&m, pid);
        else if (a[i].op == RM_FORK)
            fork_process(&m, pid, a[i].child, order);
        else {
            const uint64_t dropped = out->event_oom;
            out->kinds[i] = access_page(&m, pid, idx[i], a[i].write, next[i]);
            if (m.khp && out->event_oom == dropped && --m.khp_left == 0)
                khp_scan(&m);
        }
    }
    out->frames_used = m.used;
    for (unsigned pid = 1; pid < NPID; pid++) /* the tables at the end, root first */
        out->tables_by_level[0] += m.alive[pid];
    for (size_t i = 0; i < m.ntab; i++)
        out->tables_by_level[4 - (m.tab[i] >> 56 & 15)]++;
    rc = m.nomem ? -1 : 0;
done:
    free(idx), free(order), free(next), free(last), free(m.vpn), free(m.tab), free(m.list);
    free(m.fr), free(m.free_fr), free(m.sl), free(m.ent), free(m.back), free(m.pc);
    if (rc) {
        free(out->kinds);
        out->kinds = NULL;
    }
    return rc;
}
