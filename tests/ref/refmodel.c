/* The reference model: what vmsim should count for a stream of events on a
 * radix machine (x86-64 geometry, 4 or 5 levels of 9 bits, 4 KiB base
 * pages) with plenty of simulated memory, or a bounded one that never runs
 * out of base frames (no reclaim, no swap), written
 * from docs/stats.md, cost-model.md, kernel.md, cli.md, organizations.md
 * and DESIGN.md ("Events"), sharing no code with src/. Obviously correct
 * over fast: every structure is an array scanned linearly; there is no
 * memo and no bit trick.
 *
 * Rules, as the docs state them:
 *  - Translations. An access translates every page it touches, in address
 *    order; the next page starts at the end of the page (of its size) that
 *    mapped the address. An address at or above 2^va_bits is a bad-address
 *    fault (counted in faults.total, `fault` cycles), with no TLB lookup.
 *  - TLB. A translation looks up the levels of its side in order (data:
 *    levels marked d or u; fetches: i or u) until one hits; each level
 *    looked up counts one hit or one miss and costs its latency. A level is
 *    one or more arrays of entries x ways (sets = entries / ways, the set
 *    is the page number modulo the sets), each serving a set of page sizes;
 *    entries are tagged by page size and by ASID. A hit whose entry forbids
 *    the access (a write through a read-only entry) is still a hit, and the
 *    translation walks. A hit at a lower level fills the levels above it
 *    that serve the page size; a walk fills every level of the side that
 *    serves it. Default latency: 1 for the first level each side meets, 7
 *    for the others. A fill takes an empty way, else the least recently
 *    used, or in a level marked random the way the machine's generator
 *    draws (cli.md, "TLB SPEC"; gen_way).
 *  - Walks. A walk first probes the page-walk caches (when any exist:
 *    `pwc` cycles), deepest level first; a hit on a level-k entry starts
 *    the walk at level k-1 (levels - (k-1) references skipped). The walk
 *    reads one entry per level until it finds a leaf or an absent entry;
 *    `pt_ref` cycles per reference. A level-k table exists while a leaf of
 *    the process lies beneath it (tables are made when a leaf is mapped
 *    and freed once empty, docs/organizations.md radix, kernel.md munmap).
 *    Afterwards each upper-level entry the walk read that led to a table
 *    it also read is cached (levels above where it stopped, up to where it
 *    started). PWC entries are LRU, tagged by the ASID.
 *  - Faults (kernel.md). An empty entry: a read or fetch maps the zero
 *    frame of the page size read-only (demand_zero_read), a write a new
 *    frame (demand_zero_write). A write to a read-only entry: of the zero
 *    frame, cow_zero; of a frame another mapping shares, cow_copy; else
 *    cow_reuse; each shoots the page down. After the fix the translation
 *    walks again (a second walk). With --page-size 2m, a block of 2 MiB
 *    wholly inside a VMA advised `hugepage` (--thp madvise), or wholly
 *    inside one VMA or wholly in implicit memory (--thp always), takes a
 *    2 MiB page, unless base pages are mapped in it already
 *    (thp.fallbacks); other memory takes base pages.
 *  - Promotion (kernel.md, "Promotion"): after a write fault (demand-zero,
 *    copy-on-write of the zero frame or a copy, and, as src does, a reuse)
 *    that leaves a base page, its block collapses when eligible and all
 *    512 of its pages are base pages, writable, not the zero frame, mapped
 *    once (thp.promotions): a new 2 MiB frame, the base pages unmapped as
 *    munmap unmaps them, the huge leaf (writable; executable when a base
 *    page was) and its tables.
 *  - khugepaged (kernel.md, "khugepaged"; khp_every != 0): a scan after
 *    every khp_every-th access event, on its CPU. The cursor is a slot of
 *    the kernel's process table and an address; a new process takes the
 *    slot freed last, else a new one at the end. From the cursor: the
 *    lowest 2 MiB block holding a base page at or above the address (it
 *    may start below it). If the VMA holding the block's start allows no
 *    huge page (its first aligned block is not eligible, or none fits), the
 *    VMA is skipped (progress 1, the cursor to its end); else an eligible
 *    block is judged (progress and pages_scanned 512), an ineligible one
 *    skipped (progress 1), the cursor to the block's end. No such block:
 *    the next slot at address 0; past the last slot, a full scan and slot
 *    0. The scan ends when progress reaches khp_pages, or at slot 0 address
 *    0 the second time (its start counts). A judged block collapses unless
 *    more than khp_none entries are empty or the zero frame (fail_none) or
 *    more than khp_shared map a frame mapped twice or more (fail_shared);
 *    the collapse is promotion's, the huge leaf taking its VMA's w and x
 *    (implicit memory: both), pages_copied the pages not empty nor zero.
 *    khugepaged.cycles: pt_ref per entry scanned + khp_copy x 512 per
 *    collapse, in cycles, not in cycles_translation. Nothing is swapped
 *    out here, so max_ptes_swap never refuses; a collapse that finds no
 *    2 MiB block (bounded memory), after compaction when on, is
 *    collapse_fail_alloc.
 *  - Bounded memory (mem_frames): a 2 MiB allocation finds no aligned free
 *    block (none listed, none wholly below the bound at the tail). A write
 *    fault in a block with no page yet then compacts (with compact) and
 *    tries again, else falls back to a base page (thp.fallbacks); a read
 *    (the huge zero frame), a fault in a block with base pages and a
 *    promotion do not compact (the read falls back, the promotion does not
 *    happen). The copy of a huge page compacts too; finding no block after
 *    that (a split in vmsim), or a base page finding no frame (faults.oom),
 *    is outside the model: the run is flagged and ref_event fails.
 *  - Compaction (kernel.md, "Compaction"; cost-model.md): room first, 512
 *    frames free in all (listed, or at the tail below the bound); then,
 *    of the aligned 512-frame blocks that start below the tail and end by
 *    the bound, the one with the fewest frames in use, all of them
 *    movable, the lowest on a tie. Movable: the frame of a base page some
 *    live process maps, not a zero frame (roots, tables, zero frames and
 *    huge pages are not). Neither: compact.fail. Its frames in use, lowest
 *    first, each go to the frame a base-page allocation returns, one
 *    inside the block held aside and the allocation repeated; every leaf
 *    naming the old frame is repointed (rmap_updates) with a shootdown.
 *    Then the old frames are freed in that order, then the held ones in
 *    the order taken. compact.cycles: per page 2 x 64 lines x access, per
 *    shootdown 1000, per IPI 200, in cycles and cycles_translation (also
 *    for khugepaged's). thp.anon_bytes: every data frame a live process
 *    maps, once (its page size), anon_huge_bytes those of 2 MiB.
 *  - Protection (kernel.md, the fault handler): a fault first checks the
 *    access against the VMA (reads need r, writes w, fetches x; implicit
 *    memory is rwx); a forbidden access is a protection fault, counted, not
 *    retried, nothing cached. A present entry allows every read, a write
 *    when writable (not the zero frame, not copy-on-write), a fetch when
 *    its VMA had x. A hit that forbids the access still counts as a hit.
 *  - mprotect: the range's VMAs take the protection, implicit memory in it
 *    becomes an explicit VMA; present pages take x at once, and w only
 *    when the frame is their own (not the zero frame, mapped once); each
 *    present page in the range is shot down.
 *  - fork: the child copies the VMAs and every leaf; a writable private
 *    page becomes read-only in the parent (a shootdown each) and is mapped
 *    read-only in the child. exit frees everything and flushes the PWCs of
 *    every CPU; its TLB entries stay (its ASID is never reused here).
 *  - Shootdowns: one tlb.invalidations per changed entry, applied to every
 *    CPU that ran the process (with ASIDs) or runs it now (without); each
 *    such CPU other than the event's counts an IPI.
 *  - Context switches: a CPU that starts running another process counts a
 *    switch when it was running one. Without ASIDs, every entry is tagged
 *    alike, so a CPU flushes its TLBs and PWCs (one tlb.flushes) whenever
 *    it starts running a process other than the last one it ran, also
 *    when that one has exited meanwhile.
 *  - Cycles: access per access, plus everything above (translation).
 *    walks.cycles sums what each walk costs (probe plus references), and
 *    walks.latency_histogram counts walks by it: bucket 0 for 0 cycles,
 *    b >= 1 for [2^(b-1), 2^b), the last bucket everything above.
 *  - Frames (kernel.md, "Which frame"): a buddy allocator. Free blocks of
 *    2^k frames (k <= 18) sit on one list per order, the last put first; a
 *    request takes the first block of the smallest non-empty list of order
 *    >= n, halving it and listing each upper half, else the first aligned
 *    block at the tail (frames from there on never used), listing the
 *    skipped frames as their largest aligned blocks, highest first. A freed
 *    block merges with its free buddy of its order while below 18, then is
 *    listed first, or lowers the tail when it ends there (and the tail goes
 *    on down over listed blocks ending at it). A new
 *    process takes its root; a mapping its missing tables top-down, after
 *    the demand-zero frame (or the first use of a zero frame); a THP
 *    fallback first takes the huge frame and frees it (write) or takes the
 *    huge zero frame (read); copy-on-write of zero or copy one frame. fork:
 *    the child's root, then per parent leaf in address order its missing
 *    tables. munmap, per leaf in address order: the tables left empty,
 *    deepest first, then the frame if that was its last mapping. exit: the
 *    leaves' last-mapped frames in address order, then the tables in
 *    depth-first post-order, the root last.
 *  - Caches (caches.md), with a memory (dram != 0): a walk reads each
 *    entry at table frame x 4096 + index x 8, side d; with data on, each
 *    translated page's part of an access, cut at the smallest line size,
 *    is one data reference at frame x 4096 + offset (side i for fetches;
 *    a page of the zero frame at 2^63 + (pid mod 2^15) x 2^48 + its
 *    virtual address mod 2^48 instead;
 *    with no level, one per page), made right after that page's
 *    translation. A reference looks up the
 *    levels of its side in order; the first that holds the line (address /
 *    line, set = line modulo sets) serves it and makes it most recent;
 *    every level missed before takes the line, into the lowest empty way
 *    else in place of the least recently used, marked PT when a walk
 *    filled it. A walk fill that evicts a data line makes its set
 *    remember that line (the last `ways` such evictions; a forgotten one
 *    still counts among them); a data miss on a remembered line counts
 *    data_misses_pt there; any fill of the line forgets it. Cost: the serving level's latency, else dram (with
 *    row=BxR:H: H when bank (a/R) mod B has row a/R open, else dram and the
 *    row opens). A walk costs its probe plus its references' costs; with
 *    data on an access costs its largest data reference's cost (0 with
 *    none) instead of `access`.
 *
 * Where the docs are silent, src decided and this model follows:
 *  - LRU among entries touched by the same translation: the clock ticks
 *    once per translation, so a walk's PWC fills are equally recent; the
 *    victim is then the lowest-numbered way among the oldest, and an
 *    empty way (lowest-numbered first) is always taken before any other.
 *  - ASIDs are never recycled here (fewer than 4095 processes: no
 *    rollover).
 *  - The CPU of a trace's OS events is the event's cpu field (0 in text
 *    traces); that CPU takes no IPI for the shootdowns those events do.
 */
#include "refmodel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE_SHIFT 12u
#define HUGE_SHIFT 21u
#define REF_ORDERS 19u /* buddy orders 0..18: x86-64's largest page, 1 GiB, is 2^18 frames */

struct tent {
    bool valid;
    uint64_t vpn; /* va >> shift */
    unsigned shift;
    uint32_t asid;
    bool writable, exec;
    uint64_t stamp;
};

struct tarr {
    uint32_t entries, ways, sets;
    uint64_t sizes;
    struct tent *e;
};

struct tlev {
    char side;
    bool random; /* random replacement, else LRU */
    unsigned latency;
    unsigned narr;
    struct tarr arr[REF_MAX_ARR];
};

struct pent {
    bool valid;
    unsigned k;
    uint64_t tag; /* va >> shift(k) */
    uint32_t asid;
    uint64_t stamp;
};

struct pcache {
    uint32_t entries, ways, sets;
    struct pent *e;
};

struct leaf {
    uint64_t va; /* first byte of the page */
    unsigned shift;
    uint64_t frame; /* its first frame: the zero frame of its size when zero */
    bool zero;
    bool writable, exec;
};

struct ptab { /* a page table below the root: level k, covering va >> level_shift(k + 1) */
    unsigned k;
    uint64_t prefix;
    uint64_t frame;
};

struct cline {
    bool valid, pt;
    uint64_t line;
    uint64_t stamp;
};

struct ghost { /* one eviction of a data line by a walk fill */
    uint64_t line;
    bool forgotten; /* a reference or fill of the line came since */
};

struct carray { /* one copy of a cache level */
    struct cline *e;     /* sets x ways */
    struct ghost *ghost; /* per set, its last `ways` such evictions, oldest first */
    uint32_t *nghost;    /* per set */
};

struct vma {
    uint64_t lo, hi;
    bool huge;     /* advised hugepage */
    unsigned prot; /* VMSIM_PROT_* */
};

struct proc {
    bool alive;
    uint32_t pid;
    uint32_t asid; /* with ASIDs: its number among all processes; else 0 */
    size_t slot;   /* its place in the kernel's table (khugepaged's order) */
    uint64_t cpumask;
    struct leaf *leaf;
    size_t nleaf, capleaf;
    struct vma *vma;
    size_t nvma, capvma;
    uint64_t root;
    struct ptab *tab;
    size_t ntab, captab;
};

struct rcpu {
    bool used;          /* has run a process */
    struct proc *cur;   /* running now; NULL after its exit */
    const struct proc *last; /* the last process it ran (processes are never freed) */
    struct tlev tlb[REF_MAX_TLB];
    struct pcache pwc[REF_MAX_LEVELS + 1];
    struct pcache upwc;
};

struct ref {
    struct ref_machine m;
    struct ref_stats st;
    uint64_t now; /* the LRU clock: one tick per translation */
    uint64_t gen[4]; /* the machine's generator (random TLB replacement) */
    uint64_t va_bits;
    struct rcpu cpu[REF_MAX_CPUS];
    struct proc **proc; /* every process ever made, dead ones too */
    size_t nproc, capproc;
    uint64_t *mapcount; /* per frame number: mappings of the page starting there */
    size_t capframe;
    uint64_t tail;       /* frames from here on never used */
    uint64_t *list[REF_ORDERS]; /* free blocks of each order, the first at the end */
    size_t nlist[REF_ORDERS], caplist[REF_ORDERS];
    uint64_t zero[2];    /* zero frames: [0] base, [1] 2 MiB; UINT64_MAX until needed */
    unsigned event_cpu;
    /* The kernel's table of processes: a new process takes the slot freed
     * last, else one past the end. khugepaged visits them in slot order. */
    struct proc **slot;
    size_t nslot, capslot;
    size_t *freed;
    size_t nfreed, capfreed;
    /* khugepaged: accesses to its next scan, and where the scan goes on */
    uint64_t khp_left;
    size_t khp_slot;
    uint64_t khp_va;
    bool unmodelled; /* the stream left what the model knows (refmodel.h, mem_frames) */
    /* the memory model */
    struct carray *carr[REF_MAX_CACHES]; /* ncpus copies, or one when shared */
    uint64_t cnow;       /* LRU clock of the caches: one tick per reference */
    uint64_t *open_row;  /* per bank: open row + 1, 0 for none */
    uint64_t access_max; /* the largest data reference cost of the access */
};

static unsigned level_shift(unsigned k) /* bytes a level-k entry maps: 2^this */
{
    return BASE_SHIFT + 9u * (k - 1u);
}

static void charge(struct ref *r, uint64_t c)
{
    r->st.cycles += c;
    r->st.cycles_translation += c;
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return false;
    memset((char *)q + *cap * elem, 0, (n - *cap) * elem);
    *p = q;
    *cap = n;
    return true;
}

/* ---- frames (kernel.md, "Which frame") ---- */

static void list_put(struct ref *r, uint64_t f, unsigned k)
{
    if (!grow((void **)&r->list[k], &r->caplist[k], r->nlist[k] + 1, sizeof *r->list[k]))
        abort();
    r->list[k][r->nlist[k]++] = f;
}

/* Whether block f is on list k; if so it leaves it (the others keep their
 * order). */
static bool list_take(struct ref *r, uint64_t f, unsigned k)
{
    for (size_t i = 0; i < r->nlist[k]; i++)
        if (r->list[k][i] == f) {
            memmove(&r->list[k][i], &r->list[k][i + 1], (r->nlist[k] - i - 1) * sizeof f);
            r->nlist[k]--;
            return true;
        }
    return false;
}

static void frame_free(struct ref *r, uint64_t f, unsigned order)
{
    while (order < REF_ORDERS - 1 && list_take(r, f ^ (1ull << order), order)) {
        f &= ~(1ull << order);
        order++;
    }
    if (f + (1ull << order) != r->tail) {
        list_put(r, f, order);
        return;
    }
    r->tail = f;
    for (unsigned k = 0; k < REF_ORDERS && r->tail;)
        if (r->tail >= (1ull << k) && list_take(r, r->tail - (1ull << k), k)) {
            r->tail -= 1ull << k;
            k = 0;
        } else {
            k++;
        }
}

/* 2^order frames, mapped once; UINT64_MAX when a bounded memory has no
 * free aligned block of them (beyond_limit: take one from the tail anyway). */
static uint64_t frame_take(struct ref *r, unsigned order, bool beyond_limit)
{
    const uint64_t n = 1ull << order;
    uint64_t f = UINT64_MAX;
    for (unsigned k = order; k < REF_ORDERS && f == UINT64_MAX; k++)
        if (r->nlist[k]) {
            f = r->list[k][--r->nlist[k]];
            while (k > order) {
                k--;
                list_put(r, f + (1ull << k), k);
            }
        }
    if (f == UINT64_MAX) {
        f = (r->tail + n - 1) / n * n;
        if (r->m.mem_frames && f + n > r->m.mem_frames && !beyond_limit)
            return UINT64_MAX;
        /* the skipped frames [tail, f), as aligned blocks from the top */
        for (uint64_t top = f; top > r->tail;) {
            unsigned k = 0;
            while (k + 1 < REF_ORDERS && top % (2ull << k) == 0 && top - (2ull << k) >= r->tail)
                k++;
            top -= 1ull << k;
            list_put(r, top, k);
        }
        r->tail = f + n;
    }
    if (!grow((void **)&r->mapcount, &r->capframe, r->tail > f + n ? r->tail : f + n,
              sizeof *r->mapcount))
        abort();
    r->mapcount[f] = 1;
    return f;
}

/* Frames that must be had: out of a bounded memory is outside the model
 * (vmsim would count faults.oom), so the run is flagged and goes on. */
static uint64_t frame_alloc(struct ref *r, unsigned order)
{
    uint64_t f = frame_take(r, order, false);
    if (f == UINT64_MAX) {
        r->unmodelled = true;
        f = frame_take(r, order, true);
    }
    return f;
}

static uint64_t frame_new(struct ref *r, unsigned shift) { return frame_alloc(r, shift - BASE_SHIFT); }

/* The zero frame of a page size, taken the first time it is needed; the
 * huge one may find no block (UINT64_MAX: the fault falls back). */
static uint64_t zero_frame(struct ref *r, unsigned shift)
{
    const unsigned z = shift != BASE_SHIFT;
    if (r->zero[z] == UINT64_MAX)
        r->zero[z] = z ? frame_take(r, shift - BASE_SHIFT, false) : frame_alloc(r, 0);
    return r->zero[z];
}

/* One mapping of leaf l's frame goes; the frame with it when it was the last. */
static void frame_unmap(struct ref *r, const struct leaf *l)
{
    if (!l->zero && --r->mapcount[l->frame] == 0)
        frame_free(r, l->frame, l->shift - BASE_SHIFT);
}

/* ---- caches: TLB arrays and PWCs, by linear scans ---- */

/* The way to fill in a set: the first empty way, else the first of the
 * least recently used ones. */
static size_t victim(const uint64_t *stamps, const bool *valid, size_t n)
{
    for (size_t w = 0; w < n; w++)
        if (!valid[w])
            return w;
    size_t v = 0;
    for (size_t w = 1; w < n; w++)
        if (stamps[w] < stamps[v])
            v = w;
    return v;
}

/* The machine's generator, as docs/cli.md ("TLB SPEC") defines it:
 * xoshiro256** whose state is the first four outputs of splitmix64 from
 * the seed; a way is the high word of the output times the ways. */
static uint64_t gen_rotl(uint64_t x, unsigned k) { return x << k | x >> (64 - k); }

static void gen_seed(struct ref *r, uint64_t seed)
{
    for (unsigned i = 0; i < 4; i++) {
        seed += 0x9e3779b97f4a7c15ull;
        uint64_t z = seed;
        z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ z >> 27) * 0x94d049bb133111ebull;
        r->gen[i] = z ^ z >> 31;
    }
}

static uint32_t gen_way(struct ref *r, uint32_t ways)
{
    uint64_t *g = r->gen;
    const uint64_t out = gen_rotl(g[1] * 5, 7) * 9, t = g[1] << 17;
    g[2] ^= g[0];
    g[3] ^= g[1];
    g[1] ^= g[2];
    g[0] ^= g[3];
    g[2] ^= t;
    g[3] = gen_rotl(g[3], 45);
    return (uint32_t)(((unsigned __int128)out * ways) >> 64);
}

static struct tent *tarr_find(struct tarr *a, uint64_t va, unsigned shift, uint32_t asid)
{
    const uint64_t vpn = va >> shift;
    struct tent *set = a->e + (vpn % a->sets) * a->ways;
    for (uint32_t w = 0; w < a->ways; w++)
        if (set[w].valid && set[w].vpn == vpn && set[w].shift == shift && set[w].asid == asid)
            return &set[w];
    return NULL;
}

static struct tent *tlev_lookup(struct tlev *l, uint64_t va, uint32_t asid)
{
    for (unsigned a = 0; a < l->narr; a++)
        for (unsigned s = 0; s < 64; s++)
            if ((l->arr[a].sizes >> s) & 1) {
                struct tent *t = tarr_find(&l->arr[a], va, s, asid);
                if (t)
                    return t;
            }
    return NULL;
}

static void tlev_fill(struct ref *r, struct tlev *l, uint64_t va, unsigned shift, uint32_t asid,
                      bool writable, bool exec)
{
    for (unsigned a = 0; a < l->narr; a++) {
        struct tarr *ar = &l->arr[a];
        if (!((ar->sizes >> shift) & 1))
            continue;
        struct tent *t = tarr_find(ar, va, shift, asid);
        if (!t) {
            const uint64_t vpn = va >> shift;
            struct tent *set = ar->e + (vpn % ar->sets) * ar->ways;
            uint64_t stamps[ar->ways];
            bool valid[ar->ways], full = true;
            for (uint32_t w = 0; w < ar->ways; w++) {
                stamps[w] = set[w].stamp;
                valid[w] = set[w].valid;
                full = full && valid[w];
            }
            t = &set[l->random && full ? gen_way(r, ar->ways) : victim(stamps, valid, ar->ways)];
        }
        *t = (struct tent){true, va >> shift, shift, asid, writable, exec, r->now};
        return;
    }
}

static struct pent *pcache_find(struct pcache *c, unsigned k, uint64_t va, uint32_t asid)
{
    const uint64_t tag = va >> level_shift(k);
    struct pent *set = c->e + (tag % c->sets) * c->ways;
    for (uint32_t w = 0; w < c->ways; w++)
        if (set[w].valid && set[w].k == k && set[w].tag == tag && set[w].asid == asid)
            return &set[w];
    return NULL;
}

static void pcache_fill(struct ref *r, struct pcache *c, unsigned k, uint64_t va, uint32_t asid)
{
    struct pent *p = pcache_find(c, k, va, asid);
    const uint64_t tag = va >> level_shift(k);
    if (!p) {
        struct pent *set = c->e + (tag % c->sets) * c->ways;
        uint64_t stamps[c->ways];
        bool valid[c->ways];
        for (uint32_t w = 0; w < c->ways; w++) {
            stamps[w] = set[w].stamp;
            valid[w] = set[w].valid;
        }
        p = &set[victim(stamps, valid, c->ways)];
    }
    *p = (struct pent){true, k, tag, asid, r->now};
}

static struct pcache *pwc_of(struct rcpu *c, const struct ref_machine *m, unsigned k)
{
    if (m->pwc_mode == REF_PWC_UNIFIED)
        return c->upwc.e ? &c->upwc : NULL;
    if (m->pwc_mode == REF_PWC_SPLIT && k <= m->levels)
        return c->pwc[k].e ? &c->pwc[k] : NULL;
    return NULL;
}

static void pwc_flush(struct rcpu *c)
{
    for (unsigned k = 0; k <= REF_MAX_LEVELS; k++)
        for (uint32_t i = 0; i < c->pwc[k].entries; i++)
            c->pwc[k].e[i].valid = false;
    for (uint32_t i = 0; i < c->upwc.entries; i++)
        c->upwc.e[i].valid = false;
}

static void tlb_flush(struct ref *r, struct rcpu *c)
{
    for (unsigned i = 0; i < r->m.ntlb; i++)
        for (unsigned a = 0; a < c->tlb[i].narr; a++)
            for (uint32_t e = 0; e < c->tlb[i].arr[a].entries; e++)
                c->tlb[i].arr[a].e[e].valid = false;
}

/* ---- address spaces ---- */

static struct leaf *leaf_of(struct proc *p, uint64_t va)
{
    for (size_t i = 0; i < p->nleaf; i++)
        if (va >> p->leaf[i].shift == p->leaf[i].va >> p->leaf[i].shift)
            return &p->leaf[i];
    return NULL;
}

/* Does the level-k table covering va exist? (k below the root) */
static bool table_exists(const struct proc *p, unsigned k, uint64_t va)
{
    const unsigned span = level_shift(k + 1);
    for (size_t i = 0; i < p->nleaf; i++) {
        const unsigned leaf_level = p->leaf[i].shift == HUGE_SHIFT ? 2 : 1;
        if (leaf_level <= k && p->leaf[i].va >> span == va >> span)
            return true;
    }
    return false;
}

static void count_tables(const struct ref *r, const struct proc *p, uint64_t *tables)
{
    /* distinct (level, prefix) pairs: quadratic, and obviously so */
    for (unsigned k = 1; k < r->m.levels; k++) {
        const unsigned span = level_shift(k + 1);
        for (size_t i = 0; i < p->nleaf; i++) {
            const unsigned li = p->leaf[i].shift == HUGE_SHIFT ? 2 : 1;
            if (li > k)
                continue;
            bool first = true;
            for (size_t j = 0; j < i && first; j++) {
                const unsigned lj = p->leaf[j].shift == HUGE_SHIFT ? 2 : 1;
                if (lj <= k && p->leaf[j].va >> span == p->leaf[i].va >> span)
                    first = false;
            }
            tables[k] += first;
        }
    }
    tables[r->m.levels]++;
}

static void leaf_add(struct proc *p, struct leaf l)
{
    if (!grow((void **)&p->leaf, &p->capleaf, p->nleaf + 1, sizeof *p->leaf))
        abort();
    p->leaf[p->nleaf++] = l;
}

static unsigned leaf_level(const struct leaf *l) { return l->shift == HUGE_SHIFT ? 2u : 1u; }

/* The frame of the level-k table covering va (the root at k = levels). */
static uint64_t table_frame(const struct ref *r, const struct proc *p, unsigned k, uint64_t va)
{
    if (k == r->m.levels)
        return p->root;
    for (size_t i = 0; i < p->ntab; i++)
        if (p->tab[i].k == k && p->tab[i].prefix == va >> level_shift(k + 1))
            return p->tab[i].frame;
    abort(); /* a walk reached a table the model never made: a model bug */
}

/* The tables a leaf of level `lk` at va needs, made top-down. */
static void tables_make(struct ref *r, struct proc *p, uint64_t va, unsigned lk)
{
    for (unsigned k = r->m.levels - 1; k >= lk && k >= 1; k--) {
        bool have = false;
        for (size_t i = 0; i < p->ntab && !have; i++)
            have = p->tab[i].k == k && p->tab[i].prefix == va >> level_shift(k + 1);
        if (have)
            continue;
        if (!grow((void **)&p->tab, &p->captab, p->ntab + 1, sizeof *p->tab))
            abort();
        p->tab[p->ntab++] = (struct ptab){k, va >> level_shift(k + 1), frame_alloc(r, 0)};
    }
}

/* After a leaf of level `lk` at va went: the tables on its path left
 * without a leaf beneath, deepest first. Whether one went. */
static bool tables_prune(struct ref *r, struct proc *p, uint64_t va, unsigned lk)
{
    bool went = false;
    for (unsigned k = lk; k < r->m.levels; k++) {
        if (table_exists(p, k, va))
            return went;
        for (size_t i = 0; i < p->ntab; i++)
            if (p->tab[i].k == k && p->tab[i].prefix == va >> level_shift(k + 1)) {
                frame_free(r, p->tab[i].frame, 0);
                p->tab[i] = p->tab[--p->ntab];
                went = true;
                break;
            }
    }
    return went;
}

/* Depth-first post-order (each table after the tables below it, entries in
 * address order) is the order of the end of a table's range, then of its
 * level: a table's range ends with its last child's, and the ranges of
 * later subtrees end later. */
static int ptab_postorder_cmp(const void *a, const void *b)
{
    const struct ptab *x = a, *y = b;
    const uint64_t ex = (x->prefix + 1) << level_shift(x->k + 1),
                   ey = (y->prefix + 1) << level_shift(y->k + 1);
    if (ex != ey)
        return ex < ey ? -1 : 1;
    return x->k < y->k ? -1 : x->k > y->k;
}

static int leaf_cmp(const void *a, const void *b)
{
    const struct leaf *x = a, *y = b;
    return x->va < y->va ? -1 : x->va > y->va;
}

static int leaf_frame_cmp(const void *a, const void *b)
{
    const struct leaf *x = a, *y = b;
    return x->frame < y->frame ? -1 : x->frame > y->frame;
}

static const struct vma *vma_of(const struct proc *p, uint64_t va)
{
    for (size_t i = 0; i < p->nvma; i++)
        if (va >= p->vma[i].lo && va < p->vma[i].hi)
            return &p->vma[i];
    return NULL;
}

/* Cut [lo, hi) out of the VMAs (splitting one that straddles). */
static void vma_cut(struct proc *p, uint64_t lo, uint64_t hi)
{
    for (size_t i = 0; i < p->nvma; i++) {
        struct vma v = p->vma[i];
        if (v.hi <= lo || v.lo >= hi)
            continue;
        if (v.lo < lo && v.hi > hi) { /* a hole in the middle */
            p->vma[i].hi = lo;
            if (!grow((void **)&p->vma, &p->capvma, p->nvma + 1, sizeof *p->vma))
                abort();
            p->vma[p->nvma++] = (struct vma){hi, v.hi, v.huge, v.prot};
        } else if (v.lo < lo) {
            p->vma[i].hi = lo;
        } else if (v.hi > hi) {
            p->vma[i].lo = hi;
        } else {
            p->vma[i] = p->vma[--p->nvma];
            i--;
        }
    }
}

static void vma_add(struct proc *p, uint64_t lo, uint64_t hi, bool huge, unsigned prot)
{
    if (!grow((void **)&p->vma, &p->capvma, p->nvma + 1, sizeof *p->vma))
        abort();
    p->vma[p->nvma++] = (struct vma){lo, hi, huge, prot};
}

static struct proc *proc_find(struct ref *r, uint32_t pid)
{
    for (size_t i = 0; i < r->nproc; i++)
        if (r->proc[i]->alive && r->proc[i]->pid == pid)
            return r->proc[i];
    return NULL;
}

static struct proc *proc_new(struct ref *r, uint32_t pid)
{
    struct proc *p = calloc(1, sizeof *p);
    if (!p || !grow((void **)&r->proc, &r->capproc, r->nproc + 1, sizeof *r->proc))
        abort();
    p->alive = true;
    p->pid = pid;
    r->proc[r->nproc++] = p;
    p->asid = r->m.asids ? (uint32_t)r->nproc : 0;
    if (r->nfreed) {
        p->slot = r->freed[--r->nfreed];
    } else {
        if (!grow((void **)&r->slot, &r->capslot, r->nslot + 1, sizeof *r->slot))
            abort();
        p->slot = r->nslot++;
    }
    r->slot[p->slot] = p;
    p->root = frame_alloc(r, 0);
    r->st.processes++;
    return p;
}

static struct proc *proc_get(struct ref *r, uint32_t pid)
{
    struct proc *p = proc_find(r, pid);
    return p ? p : proc_new(r, pid);
}

/* ---- memory: data caches and DRAM (caches.md) ---- */

static struct carray *carr_of(struct ref *r, unsigned i, unsigned cpu)
{
    return &r->carr[i][r->m.cache[i].shared ? 0 : cpu];
}

/* Forget `line` in a set's memory of PT evictions; was it remembered?
 * The memory is the set's last `ways` evictions of data lines by walk
 * fills, less those forgotten since: a forgotten one still counts among
 * the last `ways` (caches.md: "the last W of them"). */
static bool ghost_forget(struct carray *ca, uint32_t ways, uint64_t set, uint64_t line)
{
    struct ghost *g = ca->ghost + set * ways;
    for (uint32_t i = 0; i < ca->nghost[set]; i++)
        if (!g[i].forgotten && g[i].line == line) {
            g[i].forgotten = true;
            return true;
        }
    return false;
}

static void ghost_remember(struct carray *ca, uint32_t ways, uint64_t set, uint64_t line)
{
    struct ghost *g = ca->ghost + set * ways;
    if (ca->nghost[set] == ways) { /* the oldest goes */
        memmove(&g[0], &g[1], (ways - 1) * sizeof *g);
        ca->nghost[set]--;
    }
    g[ca->nghost[set]++] = (struct ghost){line, false};
}

static void cache_fill(struct ref *r, unsigned i, struct carray *ca, uint64_t line, bool walk)
{
    const struct ref_cache *lv = &r->m.cache[i];
    const uint64_t set = line % lv->sets;
    struct cline *w = ca->e + set * lv->ways;
    ghost_forget(ca, lv->ways, set, line);
    uint64_t stamps[lv->ways];
    bool valid[lv->ways];
    for (uint32_t j = 0; j < lv->ways; j++) {
        stamps[j] = w[j].stamp;
        valid[j] = w[j].valid;
    }
    struct cline *v = &w[victim(stamps, valid, lv->ways)];
    if (v->valid && walk && !v->pt)
        ghost_remember(ca, lv->ways, set, v->line);
    *v = (struct cline){true, walk, line, r->cnow};
}

/* One reference at physical address a: its cost. */
static uint64_t mem_ref(struct ref *r, unsigned cpu, uint64_t a, char side, bool walk)
{
    const struct ref_machine *m = &r->m;
    unsigned missed[REF_MAX_CACHES], nmissed = 0;
    r->cnow++;
    for (unsigned i = 0; i < m->ncache; i++) {
        const struct ref_cache *lv = &m->cache[i];
        if (lv->side != 'u' && lv->side != side)
            continue;
        struct carray *ca = carr_of(r, i, cpu);
        const uint64_t line = a / lv->line, set = line % lv->sets;
        struct cline *w = ca->e + set * lv->ways;
        for (uint32_t j = 0; j < lv->ways; j++)
            if (w[j].valid && w[j].line == line) {
                if (!m->inject_cache_no_refresh)
                    w[j].stamp = r->cnow;
                r->st.c_hits[i]++;
                r->st.c_pt_hits[i] += walk;
                for (unsigned n = 0; n < nmissed; n++)
                    cache_fill(r, missed[n], carr_of(r, missed[n], cpu),
                               a / m->cache[missed[n]].line, walk);
                return lv->latency;
            }
        r->st.c_misses[i]++;
        r->st.c_pt_misses[i] += walk;
        if (!walk && ghost_forget(ca, lv->ways, set, line))
            r->st.c_data_misses_pt[i]++;
        missed[nmissed++] = i;
    }
    for (unsigned n = 0; n < nmissed; n++)
        cache_fill(r, missed[n], carr_of(r, missed[n], cpu), a / m->cache[missed[n]].line, walk);
    r->st.dram_refs++;
    r->st.dram_walk_refs += walk;
    if (!m->row_hit)
        return m->dram;
    const uint64_t row = a / m->row_bytes, bank = row % m->row_banks;
    if (r->open_row[bank] == row + 1) {
        r->st.dram_row_hits++;
        return m->row_hit;
    }
    r->open_row[bank] = row + 1;
    return m->dram;
}

/* Where a page's data lines are (caches.md): its frame's address, or for
 * a page of the zero frame an address of its own, 2^63 + (pid mod 2^15) x
 * 2^48 + its virtual address mod 2^48. */
static uint64_t line_base(const struct proc *p, const struct leaf *l)
{
    if (l->zero)
        return 1ull << 63 | (uint64_t)(p->pid % 32768) << 48 | (l->va % (1ull << 48));
    return l->frame << BASE_SHIFT;
}

/* The data references of one translated page's part [va, end] of an
 * access (base: the physical address of the page holding va, of 2^shift
 * bytes): one per piece cut at the smallest line size. */
static void data_refs(struct ref *r, unsigned cpu, uint64_t base, unsigned shift, uint64_t va,
                      uint64_t end, char side)
{
    uint64_t piece = 0;
    for (unsigned i = 0; i < r->m.ncache; i++)
        if (!piece || r->m.cache[i].line < piece)
            piece = r->m.cache[i].line;
    const uint64_t page = va >> shift << shift;
    for (uint64_t x = va;;) {
        const uint64_t c = mem_ref(r, cpu, base + (x - page), side, false);
        if (c > r->access_max)
            r->access_max = c;
        const uint64_t next = piece ? (x / piece + 1) * piece : 0;
        if (!piece || next == 0 || next > end)
            return;
        x = next;
    }
}

/* ---- the hardware ---- */

static void shootdown(struct ref *r, struct proc *p, uint64_t va)
{
    r->st.invalidations++;
    for (unsigned i = 0; i < r->m.ncpus; i++) {
        struct rcpu *c = &r->cpu[i];
        const bool may = r->m.asids ? (p->cpumask >> i) & 1 : c->cur == p;
        if (!may || !c->used)
            continue;
        for (unsigned l = 0; l < r->m.ntlb; l++)
            for (unsigned a = 0; a < c->tlb[l].narr; a++)
                for (uint32_t e = 0; e < c->tlb[l].arr[a].entries; e++) {
                    struct tent *t = &c->tlb[l].arr[a].e[e];
                    if (t->valid && t->asid == p->asid && t->vpn == va >> t->shift)
                        t->valid = false;
                }
        if (i != r->event_cpu)
            r->st.ipis++;
    }
}

static void switch_to(struct ref *r, unsigned cpu, uint32_t pid)
{
    struct rcpu *c = &r->cpu[cpu];
    struct proc *p = proc_get(r, pid);
    if (c->cur == p)
        return;
    if (c->cur)
        r->st.context_switches++;
    /* Without ASIDs the TLBs hold the last process's entries, tagged like
     * anyone's: a different process flushes them. */
    if (!r->m.asids && c->used && c->last != p) {
        tlb_flush(r, c);
        pwc_flush(c);
        r->st.tlb_flushes++;
    }
    c->used = true;
    c->cur = p;
    c->last = p;
    p->cpumask |= 1ull << cpu;
}

/* The page-walk: returns the leaf found (NULL when absent). */
static struct leaf *walk(struct ref *r, struct rcpu *c, struct proc *p, uint64_t va)
{
    const unsigned L = r->m.levels;
    unsigned start = L;
    bool any = false;
    uint64_t cyc = 0;
    for (unsigned k = 2; k <= L; k++)
        any |= pwc_of(c, &r->m, k) != NULL;
    if (any) {
        cyc += r->m.pwc_latency;
        for (unsigned k = 2; k <= L; k++) { /* deepest first */
            struct pcache *pc = pwc_of(c, &r->m, k);
            struct pent *e = pc ? pcache_find(pc, k, va, p->asid) : NULL;
            if (e) {
                e->stamp = r->now;
                start = k - 1;
                break;
            }
        }
        if (start < L) {
            r->st.pwc_hits++;
            r->st.pwc_skipped += L - start;
        } else {
            r->st.pwc_misses++;
        }
    }
    unsigned refs = 0, k = start;
    struct leaf *found = NULL;
    const unsigned cpu = (unsigned)(c - r->cpu);
    for (;; k--) {
        refs++;
        const uint64_t entry = (table_frame(r, p, k, va) << BASE_SHIFT) +
                               ((va >> level_shift(k)) & 511u) * 8u;
        cyc += r->m.dram ? mem_ref(r, cpu, entry, 'd', true) : r->m.cost_pt_ref;
        struct leaf *l = leaf_of(p, va);
        if (l && (l->shift == HUGE_SHIFT ? 2u : 1u) == k) {
            found = l;
            break;
        }
        if (k == 1 || !table_exists(p, k - 1, va))
            break;
    }
    r->st.walks++;
    r->st.walk_refs += refs;
    r->st.walk_hist[refs <= 6 ? refs : 7]++;
    charge(r, cyc);
    r->st.walk_cycles += cyc;
    unsigned b = 0;
    while (b + 1 < REF_LAT_BUCKETS && cyc >= 1ull << b) /* cyc in [2^(b-1), 2^b) */
        b++;
    r->st.walk_lat_hist[b]++;
    /* cache the entries read that led to tables read too */
    for (unsigned j = k + 1; j <= start; j++) {
        struct pcache *pc = j >= 2 ? pwc_of(c, &r->m, j) : NULL;
        if (pc)
            pcache_fill(r, pc, j, va, p->asid);
    }
    return found;
}

/* ---- compaction (kernel.md, "Compaction"; cost-model.md, "Compaction") ---- */

/* Empty one aligned block of 512 frames so that a 2 MiB allocation can take
 * it; whether it did. Room first: 512 frames free in all (listed blocks and
 * the never-used memory up to the bound). The block: of those below the
 * never-used memory (and wholly below the bound), the one with the fewest
 * frames in use, all of them movable, the lowest on a tie. Movable: the
 * frame of a base page some live process maps, not the zero frame (page
 * tables, roots, zero frames and huge pages are not). Its pages, lowest
 * first, each go to the frame a base-page allocation returns, one inside
 * the block held aside and the allocation repeated; every leaf naming the
 * old frame is repointed, a shootdown each. Then the old frames are freed
 * in that order, then the held ones in the order taken. Cycles: per page
 * moved 2 x 64 lines x access, 1000 per shootdown and 200 per IPI. */
static bool compact(struct ref *r)
{
    const uint64_t n = 1ull << (HUGE_SHIFT - BASE_SHIFT), lim = r->m.mem_frames;
    r->st.cmp_runs++;
    bool *free_ = calloc(lim, sizeof *free_), *mov = calloc(lim, sizeof *mov);
    uint64_t *page = calloc(2 * n, sizeof *page), *held = page ? page + n : NULL;
    if (!free_ || !mov || !page)
        abort();
    for (unsigned k = 0; k < REF_ORDERS; k++)
        for (size_t i = 0; i < r->nlist[k]; i++)
            for (uint64_t x = r->list[k][i]; x < r->list[k][i] + (1ull << k); x++)
                free_[x] = true;
    uint64_t nfree = 0;
    for (uint64_t x = 0; x < lim; x++) {
        free_[x] |= x >= r->tail;
        nfree += free_[x];
    }
    for (size_t i = 0; i < r->nproc; i++)
        for (size_t j = 0; r->proc[i]->alive && j < r->proc[i]->nleaf; j++) {
            const struct leaf *l = &r->proc[i]->leaf[j];
            if (l->shift == BASE_SHIFT && !l->zero && l->frame < lim)
                mov[l->frame] = true;
        }
    uint64_t best = UINT64_MAX, fewest = UINT64_MAX;
    for (uint64_t b = 0; nfree >= n && b < r->tail && b + n <= lim; b += n) {
        uint64_t used = 0;
        bool ok = true;
        for (uint64_t x = b; x < b + n; x++)
            if (!free_[x]) {
                ok &= mov[x];
                used++;
            }
        if (ok && used < fewest) {
            fewest = used;
            best = b;
        }
    }
    bool done = best != UINT64_MAX;
    if (done) {
        const uint64_t ipis = r->st.ipis;
        size_t npage = 0, nheld = 0;
        for (uint64_t x = best; x < best + n; x++)
            if (!free_[x])
                page[npage++] = x;
        uint64_t moved = 0, shot = 0;
        for (size_t i = 0; i < npage; i++) {
            uint64_t t;
            while ((t = frame_take(r, 0, false)) != UINT64_MAX && t >= best && t < best + n)
                held[nheld++] = t;
            if (t == UINT64_MAX) { /* room was counted: cannot happen */
                r->unmodelled = true;
                break;
            }
            r->mapcount[t] = r->mapcount[page[i]];
            r->mapcount[page[i]] = 0;
            for (size_t q = 0; q < r->nproc; q++)
                for (size_t j = 0; r->proc[q]->alive && j < r->proc[q]->nleaf; j++) {
                    struct leaf *l = &r->proc[q]->leaf[j];
                    if (l->shift == BASE_SHIFT && !l->zero && l->frame == page[i]) {
                        l->frame = t;
                        r->st.cmp_rmap++;
                        shootdown(r, r->proc[q], l->va);
                        shot++;
                    }
                }
            moved++;
        }
        for (size_t i = 0; i < npage; i++)
            frame_free(r, page[i], 0);
        for (size_t i = 0; i < nheld; i++)
            frame_free(r, held[i], 0);
        const uint64_t c = moved * 2 * ((1ull << BASE_SHIFT) / 64) * r->m.cost_access +
                           shot * 1000 + (r->st.ipis - ipis) * 200;
        r->st.cmp_moved += moved;
        r->st.cmp_shootdowns += shot;
        r->st.cmp_cycles += c;
        charge(r, c);
    }
    if (done)
        r->st.cmp_success++;
    else
        r->st.cmp_fail++;
    free(free_);
    free(mov);
    free(page);
    return done;
}

/* A 2 MiB frame (UINT64_MAX: no free block). may_compact: an allocation
 * that compacts when there is none (a demand-zero write in a block with no
 * page yet, the copy of a huge page, a khugepaged collapse; not a fault in
 * a block that holds base pages, nor a promotion). */
static uint64_t huge_frame(struct ref *r, bool may_compact)
{
    const unsigned order = HUGE_SHIFT - BASE_SHIFT;
    uint64_t f = frame_take(r, order, false);
    if (f == UINT64_MAX && may_compact && r->m.compact && compact(r))
        f = frame_take(r, order, false);
    return f;
}

/* Map a new page for va by the demand-zero rules. */
static void demand_zero(struct ref *r, struct proc *p, uint64_t va, bool write)
{
    unsigned shift = BASE_SHIFT;
    const struct vma *v = vma_of(p, va);
    const bool exec = v ? (v->prot & VMSIM_PROT_X) != 0 : true;
    const uint64_t b = va >> HUGE_SHIFT << HUGE_SHIFT, e = b + (1ull << HUGE_SHIFT);
    bool want = false;
    if (r->m.huge && v) {
        want = (v->huge || r->m.thp_always) && b >= v->lo && e <= v->hi;
    } else if (r->m.huge && r->m.thp_always) { /* a block wholly in implicit memory */
        want = true;
        for (size_t i = 0; i < p->nvma; i++)
            want &= p->vma[i].hi <= b || p->vma[i].lo >= e;
    }
    uint64_t f = UINT64_MAX;
    if (want) {
        bool base_there = false;
        for (size_t i = 0; i < p->nleaf; i++)
            base_there |= p->leaf[i].va >> HUGE_SHIFT == b >> HUGE_SHIFT;
        /* the huge page is tried first (kernel.md, "Which frame"); a write
         * in a block with no page yet compacts when no block is free */
        f = write ? huge_frame(r, !base_there) : zero_frame(r, HUGE_SHIFT);
        if (base_there && write && f != UINT64_MAX) {
            r->mapcount[f] = 0;
            frame_free(r, f, HUGE_SHIFT - BASE_SHIFT);
        }
        if (base_there || f == UINT64_MAX) {
            r->st.thp_fallbacks++;
            f = UINT64_MAX;
        } else {
            shift = HUGE_SHIFT;
        }
    }
    if (write)
        r->st.zero_write++;
    else
        r->st.zero_read++;
    if (f == UINT64_MAX)
        f = write ? frame_new(r, shift) : zero_frame(r, shift);
    const struct leaf l = {va >> shift << shift, shift, f, !write, write, exec};
    leaf_add(p, l);
    tables_make(r, p, l.va, leaf_level(&l));
}

/* ---- blocks of base pages made huge (kernel.md, "Promotion", "khugepaged") ---- */

static void unmap_range(struct ref *r, struct proc *p, uint64_t lo, uint64_t hi);

/* May the 2 MiB block at b be a huge page? demand_zero's rule: wholly
 * inside one VMA advised hugepage (--thp always: any VMA), or (--thp
 * always) wholly in implicit memory. */
static bool block_eligible(const struct ref *r, const struct proc *p, uint64_t b)
{
    const uint64_t e = b + (1ull << HUGE_SHIFT);
    const struct vma *v = vma_of(p, b);
    if (!r->m.huge)
        return false;
    if (v)
        return (v->huge || r->m.thp_always) && e <= v->hi;
    if (!r->m.thp_always)
        return false;
    for (size_t i = 0; i < p->nvma; i++)
        if (p->vma[i].lo < e && p->vma[i].hi > b)
            return false;
    return true;
}

/* Block b of p becomes one huge page, in the new 2 MiB frame f: every
 * base page in it unmapped in address order as munmap unmaps them (the
 * tables left empty, the frames, a shootdown each, the walk caches
 * flushed), then the huge leaf and the tables it needs. */
static void collapse_block(struct ref *r, struct proc *p, uint64_t b, uint64_t f, bool writable,
                           bool exec)
{
    unmap_range(r, p, b, b + (1ull << HUGE_SHIFT));
    const struct leaf l = {b, HUGE_SHIFT, f, false, writable, exec};
    leaf_add(p, l);
    tables_make(r, p, b, leaf_level(&l));
}

/* Promotion: after a write fault that left a base page at va, its block
 * collapses when it is eligible and all 512 of its pages are base pages,
 * writable, not the zero frame, mapped once. The huge page is writable,
 * executable when one of them was. */
static void promote(struct ref *r, struct proc *p, uint64_t va)
{
    const uint64_t b = va >> HUGE_SHIFT << HUGE_SHIFT;
    if (!block_eligible(r, p, b))
        return;
    unsigned n = 0;
    bool exec = false;
    for (size_t i = 0; i < p->nleaf; i++) {
        const struct leaf *l = &p->leaf[i];
        if (l->va >> HUGE_SHIFT != b >> HUGE_SHIFT)
            continue;
        if (l->shift != BASE_SHIFT || !l->writable || l->zero || r->mapcount[l->frame] != 1)
            return;
        n++;
        exec |= l->exec;
    }
    const uint64_t f = n == 512 ? huge_frame(r, false) : UINT64_MAX;
    if (f == UINT64_MAX) /* promotion never compacts */
        return;
    collapse_block(r, p, b, f, true, exec);
    r->st.thp_promotions++;
}

/* khugepaged visits eligible block b of p: 512 entries scanned; it
 * collapses when at most khp_none entries are empty or the zero frame and
 * at most khp_shared map a frame mapped elsewhere too (nothing is ever
 * swapped out here, so khp_swap never refuses). The huge page takes its
 * VMA's w and x (implicit memory: both). */
static void khp_visit(struct ref *r, struct proc *p, uint64_t b)
{
    unsigned data = 0, shared = 0;
    for (size_t i = 0; i < p->nleaf; i++) {
        const struct leaf *l = &p->leaf[i];
        if (l->shift == BASE_SHIFT && l->va >> HUGE_SHIFT == b >> HUGE_SHIFT && !l->zero) {
            data++;
            shared += r->mapcount[l->frame] > 1;
        }
    }
    r->st.khp_scanned += 512;
    if (512 - data > r->m.khp_none) {
        r->st.khp_fail_none++;
        return;
    }
    if (shared > r->m.khp_shared) {
        r->st.khp_fail_shared++;
        return;
    }
    /* no free block: compaction, which may move this block's own pages
     * (their leaves follow), else collapse_fail_alloc */
    const uint64_t f = huge_frame(r, true);
    if (f == UINT64_MAX) {
        r->st.khp_fail_alloc++;
        return;
    }
    const struct vma *v = vma_of(p, b);
    const unsigned prot = v ? v->prot : 7u;
    collapse_block(r, p, b, f, (prot & VMSIM_PROT_W) != 0, (prot & VMSIM_PROT_X) != 0);
    r->st.khp_collapses++;
    r->st.khp_copied += data;
    r->st.khp_cycles += 512ull * r->m.khp_copy;
    r->st.cycles += 512ull * r->m.khp_copy;
}

/* One scan, after every khp_every-th access, on that access's CPU. From
 * the cursor (a slot, an address) on, slot by slot: the lowest block with
 * a base page at or above the address. If the VMA holding the block's
 * start has no eligible block (its first aligned block tested), it is
 * skipped whole: progress 1, the cursor to its end. Else an eligible block
 * is visited (progress 512), an ineligible one skipped (progress 1), and
 * the cursor goes to the block's end. A process with no such block: the
 * next slot from address 0. Past the last slot: a full scan, the first
 * slot again. The scan ends when progress reaches khp_pages, or when it
 * comes to the first slot at address 0 for the second time (counting its
 * start). Cycles: pt_ref per entry scanned. (The cursor never reaches the
 * end of the address space here: addresses stay below 2^57.) */
static void khp_scan(struct ref *r)
{
    const uint64_t size = 1ull << HUGE_SHIFT, before = r->st.khp_scanned;
    uint64_t progress = 0;
    unsigned heads = 0;
    r->khp_left = r->m.khp_every;
    r->st.khp_scans++;
    while (progress < r->m.khp_pages) {
        if (r->khp_slot >= r->nslot) {
            r->khp_slot = 0;
            r->khp_va = 0;
            r->st.khp_full++;
        }
        if (r->khp_slot == 0 && r->khp_va == 0 && ++heads == 2)
            break;
        struct proc *p = r->khp_slot < r->nslot ? r->slot[r->khp_slot] : NULL;
        uint64_t low = UINT64_MAX; /* the lowest base page at or above the cursor */
        for (size_t i = 0; p && i < p->nleaf; i++)
            if (p->leaf[i].shift == BASE_SHIFT && p->leaf[i].va >= r->khp_va && p->leaf[i].va < low)
                low = p->leaf[i].va;
        if (low == UINT64_MAX) {
            r->khp_slot++;
            r->khp_va = 0;
            continue;
        }
        const uint64_t b = low >> HUGE_SHIFT << HUGE_SHIFT, end = b + size;
        const struct vma *v = vma_of(p, b);
        if (v) {
            const uint64_t first = (v->lo + size - 1) / size * size;
            if (first + size > v->hi || !block_eligible(r, p, first)) {
                progress++;
                r->khp_va = v->hi > r->khp_va ? v->hi : end;
                continue;
            }
        }
        if (block_eligible(r, p, b)) {
            khp_visit(r, p, b);
            progress += 512;
        } else {
            progress++;
        }
        r->khp_va = end;
    }
    const uint64_t c = (r->st.khp_scanned - before) * r->m.cost_pt_ref;
    r->st.khp_cycles += c;
    r->st.cycles += c;
}

/* The copy of a copy-on-write: a huge one compacts when no block is free,
 * and finding none after that (vmsim splits the page) is outside the model. */
static uint64_t cow_frame(struct ref *r, unsigned shift)
{
    if (shift == BASE_SHIFT)
        return frame_alloc(r, 0);
    uint64_t f = huge_frame(r, true);
    if (f == UINT64_MAX) {
        r->unmodelled = true;
        f = frame_take(r, shift - BASE_SHIFT, true);
    }
    return f;
}

static void write_fault(struct ref *r, struct proc *p, struct leaf *l)
{
    if (l->zero) {
        r->st.cow_zero++;
        l->frame = cow_frame(r, l->shift);
        l->zero = false;
    } else if (r->mapcount[l->frame] > 1) {
        r->st.cow_copy++;
        const uint64_t old = l->frame;
        l->frame = cow_frame(r, l->shift);
        r->mapcount[old]--;
    } else {
        r->st.cow_reuse++;
    }
    l->writable = true;
    shootdown(r, p, l->va);
}

/* Translate the page holding va: its shift, and in *base the physical
 * address where it starts (UINT64_MAX: not translated). */
static unsigned translate(struct ref *r, unsigned cpu, uint64_t va, unsigned kind, uint64_t *base)
{
    struct rcpu *c = &r->cpu[cpu];
    struct proc *p = c->cur;
    const bool write = kind == VMSIM_WRITE || kind == VMSIM_MODIFY;
    const char side = kind == VMSIM_FETCH ? 'i' : 'd';
    r->st.translations++;
    *base = UINT64_MAX;
    if (r->va_bits < 64 && va >> r->va_bits) {
        r->st.bad_address++;
        r->st.faults_total++;
        charge(r, r->m.cost_fault);
        return BASE_SHIFT;
    }
    r->now++;
    unsigned path[REF_MAX_TLB], np = 0, hitpos = 0;
    struct tent *hit = NULL;
    uint64_t cyc = 0;
    for (unsigned i = 0; i < r->m.ntlb; i++) {
        if (r->m.tlb[i].side != 'u' && r->m.tlb[i].side != side)
            continue;
        path[np++] = i;
        if (hit)
            continue;
        cyc += c->tlb[i].latency;
        hit = tlev_lookup(&c->tlb[i], va, p->asid);
        if (hit) {
            r->st.tlb_hits[i]++;
            if (!(r->m.inject_no_lru_refresh && np == 1))
                hit->stamp = r->now;
            hitpos = np - 1;
        } else {
            r->st.tlb_misses[i]++;
        }
    }
    charge(r, cyc);
    if (hit) {
        if (write ? hit->writable : kind == VMSIM_FETCH ? hit->exec : true) {
            /* (a first write through a clean entry sets the dirty bit
             * without a walk: nothing here counts it) */
            const struct tent e = *hit;
            for (unsigned j = 0; j < hitpos; j++)
                tlev_fill(r, &c->tlb[path[j]], va, e.shift, p->asid, e.writable, e.exec);
            const struct leaf *l = leaf_of(p, va); /* what the entry caches */
            if (l)
                *base = line_base(p, l);
            return e.shift;
        }
    } else {
        r->st.misses_all++;
    }
    struct leaf *l = walk(r, c, p, va);
    while (!l || (write && !l->writable) || (kind == VMSIM_FETCH && !l->exec)) {
        r->st.faults_total++;
        charge(r, r->m.cost_fault);
        /* the access checked against the VMA (implicit memory: rwx) */
        const struct vma *v = vma_of(p, va);
        const unsigned prot = v ? v->prot : 7u;
        const unsigned need = write ? VMSIM_PROT_W : kind == VMSIM_FETCH ? VMSIM_PROT_X : VMSIM_PROT_R;
        if (!(prot & need) || (l && !write)) { /* counted, not retried, nothing cached */
            r->st.protection++;
            return l ? l->shift : BASE_SHIFT;
        }
        if (!l)
            demand_zero(r, p, va, write);
        else
            write_fault(r, p, l);
        l = leaf_of(p, va);
        if (write && l->shift == BASE_SHIFT)
            promote(r, p, va);
        l = walk(r, c, p, va);
    }
    for (unsigned j = 0; j < np; j++)
        tlev_fill(r, &c->tlb[path[j]], va, l->shift, p->asid, l->writable, l->exec);
    *base = line_base(p, l);
    return l->shift;
}

static void access(struct ref *r, const struct vmsim_event *ev)
{
    const bool data = r->m.dram && r->m.data;
    r->st.accesses++;
    if (!data)
        r->st.cycles += r->m.cost_access;
    r->access_max = 0;
    switch_to(r, ev->cpu, ev->pid);
    const unsigned kind = ev->kind & 3u;
    uint64_t va = ev->addr;
    const uint64_t len = ev->len ? ev->len : 1;
    uint64_t last = va + (len - 1);
    if (last < va)
        last = UINT64_MAX;
    for (;;) {
        uint64_t base;
        const unsigned shift = translate(r, ev->cpu, va, kind, &base);
        r->st.translations_huge += shift != BASE_SHIFT;
        const uint64_t next = ((va >> shift) + 1) << shift;
        if (data && base != UINT64_MAX)
            data_refs(r, ev->cpu, base, shift, va, next == 0 || next > last ? last : next - 1,
                      kind == VMSIM_FETCH ? 'i' : 'd');
        if (next == 0 || next > last)
            break;
        va = next;
    }
    if (data)
        r->st.cycles += r->access_max;
}

/* ---- the kernel's events ---- */

static void unmap_range(struct ref *r, struct proc *p, uint64_t lo, uint64_t hi)
{
    bool went = false; /* a table: no walk cache may point into it */
    size_t hits = 0;
    for (size_t i = 0; i < p->nleaf && hits < 2; i++)
        hits += p->leaf[i].va < hi && p->leaf[i].va + (1ull << p->leaf[i].shift) > lo;
    if (hits == 0) /* nothing to unmap */
        return;
    if (hits > 1) /* address order (one leaf needs no sort) */
        qsort(p->leaf, p->nleaf, sizeof *p->leaf, leaf_cmp);
    for (size_t i = 0; i < p->nleaf; i++) {
        struct leaf l = p->leaf[i];
        if (l.va >= hi || l.va + (1ull << l.shift) <= lo)
            continue;
        memmove(&p->leaf[i], &p->leaf[i + 1], (p->nleaf - i - 1) * sizeof *p->leaf);
        p->nleaf--;
        i--;
        went |= tables_prune(r, p, l.va, leaf_level(&l));
        frame_unmap(r, &l);
        shootdown(r, p, l.va);
    }
    for (unsigned i = 0; went && i < r->m.ncpus; i++)
        if (r->cpu[i].used)
            pwc_flush(&r->cpu[i]);
}

static void round_out(uint64_t addr, uint64_t len, uint64_t *lo, uint64_t *hi)
{
    const uint64_t mask = (1ull << BASE_SHIFT) - 1;
    const uint64_t end = addr + len < addr ? UINT64_MAX : addr + len;
    *lo = addr & ~mask;
    *hi = end > UINT64_MAX - mask ? UINT64_MAX & ~mask : (end + mask) & ~mask;
}

static int huge_cut(const struct proc *p, uint64_t lo, uint64_t hi)
{
    for (size_t i = 0; i < p->nleaf; i++) {
        const struct leaf *l = &p->leaf[i];
        const uint64_t end = l->va + (1ull << l->shift);
        if (l->va < hi && end > lo && (l->va < lo || end > hi))
            return -1; /* a split: not modelled */
    }
    return 0;
}

static void fork_proc(struct ref *r, struct proc *parent, uint32_t child_pid)
{
    r->st.forks++;
    struct proc *ch = proc_new(r, child_pid);
    for (size_t i = 0; i < parent->nvma; i++)
        vma_add(ch, parent->vma[i].lo, parent->vma[i].hi, parent->vma[i].huge, parent->vma[i].prot);
    if (parent->nleaf)
        qsort(parent->leaf, parent->nleaf, sizeof *parent->leaf, leaf_cmp);
    for (size_t i = 0; i < parent->nleaf; i++) {
        struct leaf *l = &parent->leaf[i];
        if (l->writable) {
            l->writable = false;
            shootdown(r, parent, l->va);
        }
        if (!l->zero)
            r->mapcount[l->frame]++;
        leaf_add(ch, *l);
        tables_make(r, ch, l->va, leaf_level(l));
    }
}

static void exit_proc(struct ref *r, struct proc *p)
{
    if (p->nleaf)
        qsort(p->leaf, p->nleaf, sizeof *p->leaf, leaf_cmp);
    for (size_t i = 0; i < p->nleaf; i++)
        frame_unmap(r, &p->leaf[i]);
    p->nleaf = 0;
    if (p->ntab)
        qsort(p->tab, p->ntab, sizeof *p->tab, ptab_postorder_cmp);
    for (size_t i = 0; i < p->ntab; i++)
        frame_free(r, p->tab[i].frame, 0);
    p->ntab = 0;
    frame_free(r, p->root, 0);
    p->alive = false;
    r->slot[p->slot] = NULL;
    if (!grow((void **)&r->freed, &r->capfreed, r->nfreed + 1, sizeof *r->freed))
        abort();
    r->freed[r->nfreed++] = p->slot;
    for (unsigned i = 0; i < r->m.ncpus; i++) {
        if (r->cpu[i].cur == p)
            r->cpu[i].cur = NULL;
        if (r->cpu[i].used)
            pwc_flush(&r->cpu[i]);
    }
}

static int vma_lo_cmp(const void *a, const void *b)
{
    const struct vma *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Split the VMAs at lo and hi; the parts inside take `huge` and `prot`
 * where those are not -1 (madvise sets the one, mprotect the other). */
static void vma_retag(struct proc *p, uint64_t lo, uint64_t hi, int huge, int prot)
{
    const size_t n = p->nvma;
    struct vma *old = malloc((n ? n : 1) * sizeof *old);
    if (!old)
        abort();
    if (n)
        memcpy(old, p->vma, n * sizeof *old);
    p->nvma = 0;
    for (size_t i = 0; i < n; i++) {
        const struct vma v = old[i];
        if (v.hi <= lo || v.lo >= hi) {
            vma_add(p, v.lo, v.hi, v.huge, v.prot);
            continue;
        }
        const uint64_t a = v.lo > lo ? v.lo : lo, b = v.hi < hi ? v.hi : hi;
        if (v.lo < a)
            vma_add(p, v.lo, a, v.huge, v.prot);
        vma_add(p, a, b, huge < 0 ? v.huge : huge != 0, prot < 0 ? v.prot : (unsigned)prot);
        if (b < v.hi)
            vma_add(p, b, v.hi, v.huge, v.prot);
    }
    free(old);
}

/* mprotect (kernel.md, VMAs): the VMAs in the range take the protection
 * (implicit memory there becomes an explicit VMA); present pages take the
 * new x at once, and w only where a write needs no copy (a frame of its
 * own: not the zero frame, mapped once); each present page in the range
 * gets a shootdown. */
static void mprotect_range(struct ref *r, struct proc *p, uint64_t lo, uint64_t hi, unsigned prot)
{
    vma_retag(p, lo, hi, -1, (int)prot);
    /* the gaps of [lo, hi): implicit memory made explicit */
    if (p->nvma)
        qsort(p->vma, p->nvma, sizeof *p->vma, vma_lo_cmp);
    uint64_t at = lo;
    const size_t m = p->nvma;
    for (size_t i = 0; i < m && at < hi; i++) {
        if (p->vma[i].hi <= at || p->vma[i].lo >= hi)
            continue;
        if (p->vma[i].lo > at)
            vma_add(p, at, p->vma[i].lo, false, prot);
        at = p->vma[i].hi;
    }
    if (at < hi)
        vma_add(p, at, hi, false, prot);
    for (size_t i = 0; i < p->nleaf; i++) {
        struct leaf *l = &p->leaf[i];
        if (l->va < lo || l->va >= hi)
            continue;
        l->exec = (prot & VMSIM_PROT_X) != 0;
        l->writable = (prot & VMSIM_PROT_W) && !l->zero && r->mapcount[l->frame] == 1;
        shootdown(r, p, l->va);
    }
}

static int event(struct ref *r, const struct vmsim_event *ev);

int ref_event(struct ref *r, const struct vmsim_event *ev)
{
    const int rc = event(r, ev);
    return rc ? rc : r->unmodelled ? -1 : 0;
}

static int event(struct ref *r, const struct vmsim_event *ev)
{
    struct proc *p;
    uint64_t lo, hi;
    if (ev->cpu >= r->m.ncpus)
        return -1;
    r->event_cpu = ev->cpu;
    r->st.events++;
    switch (ev->type) {
    case VMSIM_EV_ACCESS:
        access(r, ev);
        if (r->m.khp_every && --r->khp_left == 0)
            khp_scan(r);
        return 0;
    case VMSIM_EV_SPAWN:
        if (proc_find(r, ev->pid) || ev->file > 1)
            return -1;
        proc_new(r, ev->pid);
        return 0;
    case VMSIM_EV_EXIT:
        if ((p = proc_find(r, ev->pid)))
            exit_proc(r, p);
        return 0;
    case VMSIM_EV_SWITCH:
        switch_to(r, ev->cpu, ev->pid);
        return 0;
    case VMSIM_EV_FORK:
        if (proc_find(r, (uint32_t)ev->addr) || ev->addr == ev->pid)
            return -1;
        if ((p = proc_find(r, ev->pid)))
            fork_proc(r, p, (uint32_t)ev->addr);
        return 0;
    case VMSIM_EV_MMAP:
        if (ev->file || (ev->kind & VMSIM_MAP_FLAGS))
            return -1;
        p = proc_get(r, ev->pid);
        round_out(ev->addr, ev->len, &lo, &hi);
        if (huge_cut(p, lo, hi))
            return -1;
        unmap_range(r, p, lo, hi);
        vma_cut(p, lo, hi);
        vma_add(p, lo, hi, false, ev->kind & 7u);
        return 0;
    case VMSIM_EV_MUNMAP:
        if (!(p = proc_find(r, ev->pid)))
            return 0;
        round_out(ev->addr, ev->len, &lo, &hi);
        if (huge_cut(p, lo, hi))
            return -1;
        unmap_range(r, p, lo, hi);
        vma_cut(p, lo, hi);
        return 0;
    case VMSIM_EV_MPROTECT:
        if (!(p = proc_find(r, ev->pid)))
            return 0;
        round_out(ev->addr, ev->len, &lo, &hi);
        if (huge_cut(p, lo, hi) || (ev->kind & ~7u))
            return -1;
        mprotect_range(r, p, lo, hi, ev->kind & 7u);
        return 0;
    case VMSIM_EV_MADVISE:
        if (!(p = proc_find(r, ev->pid)))
            return 0;
        round_out(ev->addr, ev->len, &lo, &hi);
        vma_retag(p, lo, hi, ev->kind == VMSIM_ADV_HUGEPAGE, -1);
        return 0;
    default:
        return -1;
    }
}

struct ref *ref_create(const struct ref_machine *m)
{
    if (m->ncpus == 0 || m->ncpus > REF_MAX_CPUS || m->ntlb > REF_MAX_TLB || m->levels < 2 ||
        m->levels > REF_MAX_LEVELS || (m->compact && (!m->mem_frames || !m->huge)))
        return NULL;
    struct ref *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->m = *m;
    r->va_bits = BASE_SHIFT + 9u * m->levels;
    gen_seed(r, m->seed ? m->seed : 1);
    r->zero[0] = r->zero[1] = UINT64_MAX;
    r->khp_left = m->khp_every;
    if (m->ncache > REF_MAX_CACHES || (m->row_hit && (!m->row_banks || !m->row_bytes))) {
        free(r);
        return NULL;
    }
    for (unsigned i = 0; i < m->ncache; i++) {
        const struct ref_cache *lv = &m->cache[i];
        const unsigned copies = lv->shared ? 1 : m->ncpus;
        if (!lv->sets || !lv->ways || !lv->line)
            abort();
        r->carr[i] = calloc(copies, sizeof *r->carr[i]);
        for (unsigned c = 0; r->carr[i] && c < copies; c++) {
            r->carr[i][c].e = calloc((size_t)lv->sets * lv->ways, sizeof *r->carr[i][c].e);
            r->carr[i][c].ghost = calloc((size_t)lv->sets * lv->ways, sizeof *r->carr[i][c].ghost);
            r->carr[i][c].nghost = calloc(lv->sets, sizeof *r->carr[i][c].nghost);
            if (!r->carr[i][c].e || !r->carr[i][c].ghost || !r->carr[i][c].nghost)
                abort();
        }
        if (!r->carr[i])
            abort();
    }
    if (m->row_hit && !(r->open_row = calloc(m->row_banks, sizeof *r->open_row)))
        abort();
    bool seen_d = false, seen_i = false;
    unsigned lat[REF_MAX_TLB];
    for (unsigned i = 0; i < m->ntlb; i++) {
        const bool d = m->tlb[i].side != 'i', ins = m->tlb[i].side != 'd';
        const bool first = (d && !seen_d) || (ins && !seen_i);
        lat[i] = m->tlb[i].latency >= 0 ? (unsigned)m->tlb[i].latency : first ? 1u : 7u;
        seen_d |= d;
        seen_i |= ins;
    }
    for (unsigned c = 0; c < m->ncpus; c++) {
        struct rcpu *cpu = &r->cpu[c];
        for (unsigned i = 0; i < m->ntlb; i++) {
            cpu->tlb[i].side = m->tlb[i].side;
            cpu->tlb[i].random = m->tlb[i].random;
            cpu->tlb[i].latency = lat[i];
            cpu->tlb[i].narr = m->tlb[i].narr;
            for (unsigned a = 0; a < m->tlb[i].narr; a++) {
                struct tarr *ar = &cpu->tlb[i].arr[a];
                ar->entries = m->tlb[i].arr[a].entries;
                ar->ways = m->tlb[i].arr[a].ways;
                ar->sets = ar->entries / ar->ways;
                ar->sizes = m->tlb[i].arr[a].sizes;
                ar->e = calloc(ar->entries, sizeof *ar->e);
            }
        }
        if (m->pwc_mode == REF_PWC_SPLIT)
            for (unsigned k = 2; k <= m->levels; k++)
                if (m->pwc_entries[k]) {
                    struct pcache *pc = &cpu->pwc[k];
                    pc->entries = m->pwc_entries[k];
                    pc->ways = m->pwc_ways[k];
                    pc->sets = pc->entries / pc->ways;
                    pc->e = calloc(pc->entries, sizeof *pc->e);
                }
        if (m->pwc_mode == REF_PWC_UNIFIED && m->pwc_uentries) {
            cpu->upwc.entries = m->pwc_uentries;
            cpu->upwc.ways = m->pwc_uways;
            cpu->upwc.sets = m->pwc_uentries / m->pwc_uways;
            cpu->upwc.e = calloc(m->pwc_uentries, sizeof *cpu->upwc.e);
        }
    }
    return r;
}

void ref_destroy(struct ref *r)
{
    if (!r)
        return;
    for (unsigned c = 0; c < r->m.ncpus; c++) {
        for (unsigned i = 0; i < r->m.ntlb; i++)
            for (unsigned a = 0; a < r->cpu[c].tlb[i].narr; a++)
                free(r->cpu[c].tlb[i].arr[a].e);
        for (unsigned k = 0; k <= REF_MAX_LEVELS; k++)
            free(r->cpu[c].pwc[k].e);
        free(r->cpu[c].upwc.e);
    }
    for (size_t i = 0; i < r->nproc; i++) {
        free(r->proc[i]->leaf);
        free(r->proc[i]->vma);
        free(r->proc[i]->tab);
        free(r->proc[i]);
    }
    free(r->proc);
    free(r->slot);
    free(r->freed);
    free(r->mapcount);
    for (unsigned k = 0; k < REF_ORDERS; k++)
        free(r->list[k]);
    for (unsigned i = 0; i < r->m.ncache; i++) {
        for (unsigned c = 0; c < (r->m.cache[i].shared ? 1 : r->m.ncpus); c++) {
            free(r->carr[i][c].e);
            free(r->carr[i][c].ghost);
            free(r->carr[i][c].nghost);
        }
        free(r->carr[i]);
    }
    free(r->open_row);
    free(r);
}

uint64_t ref_free_frames(const struct ref *r)
{
    uint64_t used = r->tail;
    for (unsigned k = 0; k < REF_ORDERS; k++)
        used -= r->nlist[k] << k;
    return r->m.mem_frames > used ? r->m.mem_frames - used : 0;
}

void ref_stats(struct ref *r, struct ref_stats *out)
{
    *out = r->st;
    for (unsigned i = 0; i < r->m.ntlb; i++) {
        uint64_t best = 0;
        for (unsigned c = 0; c < r->m.ncpus; c++) {
            uint64_t sum = 0;
            for (unsigned a = 0; a < r->cpu[c].tlb[i].narr; a++)
                for (uint32_t e = 0; e < r->cpu[c].tlb[i].arr[a].entries; e++)
                    if (r->cpu[c].tlb[i].arr[a].e[e].valid)
                        sum += 1ull << r->cpu[c].tlb[i].arr[a].e[e].shift;
            if (sum > best)
                best = sum;
        }
        out->tlb_reach[i] = best;
    }
    for (unsigned i = 0; i < r->m.ncache; i++) {
        const struct ref_cache *lv = &r->m.cache[i];
        out->c_lines[i] = out->c_pt_lines[i] = 0;
        for (unsigned c = 0; c < (lv->shared ? 1 : r->m.ncpus); c++)
            for (size_t e = 0; e < (size_t)lv->sets * lv->ways; e++) {
                out->c_lines[i] += r->carr[i][c].e[e].valid;
                out->c_pt_lines[i] += r->carr[i][c].e[e].valid && r->carr[i][c].e[e].pt;
            }
    }
    memset(out->tables, 0, sizeof out->tables);
    for (size_t i = 0; i < r->nproc; i++)
        if (r->proc[i]->alive)
            count_tables(r, r->proc[i], out->tables);
    /* resident private anonymous memory: each data frame once, however many
     * leaves name it (the leaves' frames sorted, a frame counted where it
     * first appears) */
    out->anon_bytes = out->anon_huge_bytes = 0;
    size_t n = 0;
    for (size_t i = 0; i < r->nproc; i++)
        n += r->proc[i]->alive ? r->proc[i]->nleaf : 0;
    struct leaf *all = malloc((n ? n : 1) * sizeof *all);
    if (!all)
        abort();
    n = 0;
    for (size_t i = 0; i < r->nproc; i++)
        for (size_t j = 0; r->proc[i]->alive && j < r->proc[i]->nleaf; j++)
            if (!r->proc[i]->leaf[j].zero)
                all[n++] = r->proc[i]->leaf[j];
    if (n)
        qsort(all, n, sizeof *all, leaf_frame_cmp);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || all[i].frame != all[i - 1].frame) {
            out->anon_bytes += 1ull << all[i].shift;
            if (all[i].shift != BASE_SHIFT)
                out->anon_huge_bytes += 1ull << all[i].shift;
        }
    free(all);
}

void ref_stat_fields(const struct ref_machine *m, const struct ref_stats *s,
                     void (*fn)(void *ctx, const char *name, uint64_t v), void *ctx)
{
    char name[64];
    const struct {
        const char *name;
        uint64_t v;
    } scalar[] = {
        {"events", s->events},
        {"accesses", s->accesses},
        {"translations", s->translations},
        {"translations_huge", s->translations_huge},
        {"tlb.misses_all_levels", s->misses_all},
        {"walks.count", s->walks},
        {"walks.refs", s->walk_refs},
        {"pwc.hits", s->pwc_hits},
        {"pwc.misses", s->pwc_misses},
        {"pwc.levels_skipped", s->pwc_skipped},
        {"faults.total", s->faults_total},
        {"faults.demand_zero_read", s->zero_read},
        {"faults.demand_zero_write", s->zero_write},
        {"faults.cow_zero", s->cow_zero},
        {"faults.cow_copy", s->cow_copy},
        {"faults.cow_reuse", s->cow_reuse},
        {"faults.bad_address", s->bad_address},
        {"faults.protection", s->protection},
        {"faults.segv", 0},
        {"faults.oom", 0},
        {"faults.pagecache_hit", 0},
        {"faults.pagecache_miss", 0},
        {"faults.swap_in", 0},
        {"faults.table", 0},
        {"thp.fallbacks", s->thp_fallbacks},
        {"thp.promotions", s->thp_promotions},
        {"thp.splits", 0},
        {"reclaim.evictions", 0},
        {"tlb.flushes", s->tlb_flushes},
        {"tlb.invalidations", s->invalidations},
        {"tlb.shootdown_ipis", s->ipis},
        {"context_switches", s->context_switches},
        {"forks", s->forks},
        {"processes", s->processes},
        {"cycles", s->cycles},
        {"cycles_translation", s->cycles_translation},
        {"walks.cycles", s->walk_cycles},
        {"memory.dram_refs", s->dram_refs},
        {"memory.dram_walk_refs", s->dram_walk_refs},
        {"memory.dram_row_hits", s->dram_row_hits},
    };
    for (size_t i = 0; i < sizeof scalar / sizeof scalar[0]; i++)
        fn(ctx, scalar[i].name, scalar[i].v);
    const struct {
        const char *name;
        uint64_t v;
    } khp[] = {
        {"khugepaged.scans", s->khp_scans},
        {"khugepaged.pages_scanned", s->khp_scanned},
        {"khugepaged.full_scans", s->khp_full},
        {"khugepaged.collapses", s->khp_collapses},
        {"khugepaged.collapse_fail_alloc", s->khp_fail_alloc},
        {"khugepaged.collapse_fail_none", s->khp_fail_none},
        {"khugepaged.collapse_fail_swap", 0},
        {"khugepaged.collapse_fail_shared", s->khp_fail_shared},
        {"khugepaged.pages_copied", s->khp_copied},
        {"khugepaged.cycles", s->khp_cycles},
    };
    for (size_t i = 0; m->khp_every && i < sizeof khp / sizeof khp[0]; i++)
        fn(ctx, khp[i].name, khp[i].v);
    const struct {
        const char *name;
        uint64_t v;
    } cmp[] = {
        {"compact.runs", s->cmp_runs},
        {"compact.success", s->cmp_success},
        {"compact.fail", s->cmp_fail},
        {"compact.pages_moved", s->cmp_moved},
        {"compact.rmap_updates", s->cmp_rmap},
        {"compact.shootdowns", s->cmp_shootdowns},
        {"compact.cycles", s->cmp_cycles},
        {"thp.anon_bytes", s->anon_bytes},
        {"thp.anon_huge_bytes", s->anon_huge_bytes},
    };
    for (size_t i = 0; m->compact && i < sizeof cmp / sizeof cmp[0]; i++)
        fn(ctx, cmp[i].name, cmp[i].v);
    for (unsigned i = 0; i < m->ntlb; i++) {
        snprintf(name, sizeof name, "tlb.%s.hits", m->tlb[i].name);
        fn(ctx, name, s->tlb_hits[i]);
        snprintf(name, sizeof name, "tlb.%s.misses", m->tlb[i].name);
        fn(ctx, name, s->tlb_misses[i]);
        snprintf(name, sizeof name, "tlb.%s.reach_bytes", m->tlb[i].name);
        fn(ctx, name, s->tlb_reach[i]);
    }
    for (unsigned i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "walks.refs_histogram[%u]", i);
        fn(ctx, name, s->walk_hist[i]);
    }
    for (unsigned i = 0; i < m->levels; i++) {
        snprintf(name, sizeof name, "page_tables.tables_by_level[%u]", i);
        fn(ctx, name, s->tables[m->levels - i]);
    }
    for (unsigned i = 0; i < REF_LAT_BUCKETS; i++) {
        snprintf(name, sizeof name, "walks.latency_histogram[%u]", i);
        fn(ctx, name, s->walk_lat_hist[i]);
    }
    for (unsigned i = 0; i < m->ncache; i++) {
        const struct {
            const char *what;
            uint64_t v;
        } c[] = {{"hits", s->c_hits[i]},           {"misses", s->c_misses[i]},
                 {"pt_hits", s->c_pt_hits[i]},     {"pt_misses", s->c_pt_misses[i]},
                 {"data_misses_pt", s->c_data_misses_pt[i]},
                 {"lines", s->c_lines[i]},         {"pt_lines", s->c_pt_lines[i]}};
        for (size_t j = 0; j < sizeof c / sizeof c[0]; j++) {
            snprintf(name, sizeof name, "caches.%s.%s", m->cache[i].name, c[j].what);
            fn(ctx, name, c[j].v);
        }
    }
}

/* ---- lackey ---- */

long ref_read_lackey(const char *path, struct vmsim_event **out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = 0, cap = 0;
    struct vmsim_event *ev = NULL;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '=' && line[1] == '=')
            continue;
        unsigned kind;
        if (!strncmp(line, "I  ", 3))
            kind = VMSIM_FETCH;
        else if (!strncmp(line, " L ", 3))
            kind = VMSIM_READ;
        else if (!strncmp(line, " S ", 3))
            kind = VMSIM_WRITE;
        else if (!strncmp(line, " M ", 3))
            kind = VMSIM_MODIFY;
        else
            goto bad;
        char *comma;
        unsigned long long addr = strtoull(line + 3, &comma, 16);
        if (*comma != ',')
            goto bad;
        unsigned long long size = strtoull(comma + 1, NULL, 10);
        if (!grow((void **)&ev, &cap, n + 1, sizeof *ev))
            goto bad;
        ev[n++] = (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = (uint8_t)kind, .pid = 1,
                                       .addr = addr, .len = size};
    }
    fclose(f);
    *out = ev;
    return (long)n;
bad:
    fclose(f);
    free(ev);
    return -1;
}
