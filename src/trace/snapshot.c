/* Snapshot import: rebuild which pages of a real Linux process occupy
 * page-table entries, from /proc, and replay them into a simulator.
 *
 * Sources: Documentation/admin-guide/mm/pagemap.rst (pagemap bits 63
 * present, 62 swapped, 0-54 PFN for root; kpageflags; the PAGEMAP_SCAN
 * ioctl), Documentation/filesystems/proc.rst (maps, smaps, VmFlags, VmPTE),
 * and the kernel code these facts come from: mm/pagewalk.c walk_page_test()
 * (VM_PFNMAP ranges are reported as holes), mm/huge_memory.c
 * __do_huge_pmd_anonymous_page() and set_huge_zero_folio()
 * (pgtable_trans_huge_deposit: one PTE table per PMD-mapped anonymous huge
 * page, counted in mm->pgtables_bytes = VmPTE), fs/proc/task_mmu.c.
 *
 * The rules, whose reasons docs/snapshot.md gives in full:
 *  - a base page occupies an entry when pagemap shows it present or swapped
 *    (swap entries and PTE markers live in the PTEs);
 *  - a 2 MiB-aligned range is one PMD leaf when PAGEMAP_SCAN says
 *    PAGE_IS_HUGE, or, without the ioctl, when kpageflags shows one order-9
 *    folio behind 512 contiguous frames and smaps' PMD-mapped count allows;
 *  - a PMD leaf in a private anonymous mapping carries one deposited table;
 *  - VM_PFNMAP mappings are invisible to pagemap and assumed fully mapped;
 *  - mappings in the kernel half ([vsyscall]) are skipped, and so are, on
 *    the pread path only, PROT_NONE mappings with no pages per smaps.
 *
 * Reading a live process races with it. snapshot_load reads status and maps
 * before and after the pagemap and retries until both agree, reusing its
 * buffers so that reading /proc/self does not itself change the answer.
 * The library part never prints; errors carry file:line, expected, found. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "machine/debug.h"
#include "trace/snapshot.h"
#include "trace/source.h"
#include "util/hex.h"

#define SNAP_BASE_SHIFT 12 /* Linux pagemap is per 4 KiB page on x86-64 */
#define SNAP_PMD_SHIFT 21
#define SNAP_PMD_PAGES (1u << (SNAP_PMD_SHIFT - SNAP_BASE_SHIFT))
/* No user address space reaches 2^57 (x86-64 5-level user space ends at
 * 2^56); anything above is the kernel half, where [vsyscall] lives. */
#define SNAP_USER_LIMIT (1ull << 57)
/* pread chunk: 32 Ki entries (256 KiB), a multiple of SNAP_PMD_PAGES so
 * every 2 MiB block that fits in a mapping is read in one piece. */
#define SNAP_CHUNK_PAGES (1u << 15)
#define SNAP_SCAN_VEC 512

/* The PAGEMAP_SCAN ioctl (Linux 6.7, include/uapi/linux/fs.h), declared
 * here under our own names so older headers still build. */
struct snap_page_region {
    uint64_t start, end, categories;
};
struct snap_pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define SNAP_PAGEMAP_SCAN _IOWR('f', 16, struct snap_pm_scan_arg)
#define SNAP_PAGE_IS_PRESENT (1u << 3)
#define SNAP_PAGE_IS_SWAPPED (1u << 4)
#define SNAP_PAGE_IS_PFNZERO (1u << 5)
#define SNAP_PAGE_IS_HUGE (1u << 6)
#define SNAP_PAGE_IS_GUARD (1u << 8) /* newer kernels; retried without on EINVAL */

/* ---- small helpers -------------------------------------------------------- */

struct buf {
    char *p;
    size_t len, cap;
};

static int buf_reserve(struct buf *b, size_t need)
{
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 16384;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return VMSIM_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

static void fail_errno(struct vmsim_source_error *err, const char *path, const char *expected,
                       int e)
{
    snprintf(err->where, sizeof err->where, "%.240s", path); /* cut long paths */
    snprintf(err->expected, sizeof err->expected, "%s", expected);
    snprintf(err->found, sizeof err->found, "%s", strerror(e));
}

static int errno_code(int e)
{
    return e == ENOENT || e == ESRCH ? VMSIM_ENOENT : e == ENOMEM ? VMSIM_ENOMEM : VMSIM_EIO;
}

/* Read a whole /proc text file (whose stat size is 0) into b. */
static int read_text(const char *path, struct buf *b, struct vmsim_source_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        fail_errno(err, path, "a readable file", e);
        return errno_code(e);
    }
    b->len = 0;
    for (;;) {
        if (buf_reserve(b, b->len + 4096) < 0) {
            close(fd);
            return VMSIM_ENOMEM;
        }
        ssize_t n = read(fd, b->p + b->len, b->cap - b->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            fail_errno(err, path, "a readable file", e);
            return errno_code(e);
        }
        if (n == 0)
            break;
        b->len += (size_t)n;
    }
    close(fd);
    b->p[b->len] = '\0';
    return 0;
}

/* pread until n bytes or the end of the file; returns bytes read or -errno. */
static long long pread_full(int fd, void *dst, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)dst + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -(long long)errno;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (long long)got;
}

static int vma_reserve(struct snapshot *s)
{
    if (s->nvma < s->vma_cap)
        return 0;
    size_t cap = s->vma_cap ? 2 * s->vma_cap : 256;
    struct snapshot_vma *v = realloc(s->vma, cap * sizeof *v);
    if (!v)
        return VMSIM_ENOMEM;
    s->vma = v;
    s->vma_cap = cap;
    return 0;
}

/* Append a run, merging it into the previous one when it continues it. */
static int run_push(struct snapshot *s, vmsim_vaddr_t va, uint64_t npages, unsigned shift,
                    unsigned flags, size_t vma_first_run)
{
    if (s->nrun > vma_first_run) {
        struct snapshot_run *last = &s->run[s->nrun - 1];
        /* Huge pages stay one per run so that one can be demoted alone. */
        if (shift == SNAP_BASE_SHIFT && last->shift == shift && last->flags == flags &&
            last->va + (last->npages << shift) == va) {
            last->npages += npages;
            return 0;
        }
    }
    if (s->nrun == s->run_cap) {
        size_t cap = s->run_cap ? 2 * s->run_cap : 1024;
        struct snapshot_run *r = realloc(s->run, cap * sizeof *r);
        if (!r)
            return VMSIM_ENOMEM;
        s->run = r;
        s->run_cap = cap;
    }
    s->run[s->nrun++] = (struct snapshot_run){va, npages, (uint8_t)shift, (uint8_t)flags};
    return 0;
}

void snapshot_init(struct snapshot *s)
{
    memset(s, 0, sizeof *s);
    s->pid = -1;
    s->vmpte_kb = -1;
}

static void clear_vmas(struct snapshot *s)
{
    for (size_t i = 0; i < s->nvma; i++)
        free(s->vma[i].name);
    s->nvma = 0;
}

void snapshot_free(struct snapshot *s)
{
    clear_vmas(s);
    free(s->vma);
    free(s->run);
    snapshot_init(s);
}

/* ---- maps and smaps text ---------------------------------------------------- */

struct cur {
    const char *p, *end;
};

static size_t tok_len(const struct cur *c)
{
    size_t n = 0;
    while (c->p + n < c->end && c->p[n] != ' ' && c->p[n] != '\t')
        n++;
    return n;
}

static bool skip_spaces(struct cur *c)
{
    const char *p0 = c->p;
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
    return c->p > p0;
}

/* 1 to 16 hex digits. */
static bool parse_hex(struct cur *c, uint64_t *v)
{
    uint64_t x;
    bool over;
    const size_t n = hex_span(c->p, (size_t)(c->end - c->p), &x, &over);
    if (n == 0 || n > 16)
        return false;
    c->p += n;
    *v = x;
    return true;
}

static bool parse_dec(struct cur *c, uint64_t *v)
{
    uint64_t x = 0;
    size_t n = 0;
    while (c->p + n < c->end && c->p[n] >= '0' && c->p[n] <= '9') {
        unsigned d = (unsigned)(c->p[n] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
        n++;
    }
    if (n == 0)
        return false;
    c->p += n;
    *v = x;
    return true;
}

/* Fill err for a bad token at c (where = "file:line"). */
static int bad(struct vmsim_source_error *err, const char *where, uint64_t line, const char *expected,
               const struct cur *c)
{
    size_t n = tok_len(c);
    if (n == 0 && c->p < c->end)
        n = 1; /* a stray separator: show it */
    if (n == 0) {
        snprintf(err->where, sizeof err->where, "%s:%llu", where, (unsigned long long)line);
        snprintf(err->expected, sizeof err->expected, "%s", expected);
        snprintf(err->found, sizeof err->found, "end of line");
        return VMSIM_EPARSE;
    }
    return source_fail(err, expected, c->p, n, "%s:%llu", where, (unsigned long long)line);
}

/* One maps line: START-END PERMS OFFSET MAJOR:MINOR INODE [NAME]. */
struct maps_rec {
    struct snapshot_vma v;
    const char *name;
    size_t namelen;
};

static int parse_maps_line(const char *line, size_t n, const char *where, uint64_t lineno,
                           struct maps_rec *r, struct vmsim_source_error *err)
{
    struct cur c = {line, line + n};
    uint64_t dev;
    memset(r, 0, sizeof *r);
    if (!parse_hex(&c, &r->v.start))
        return bad(err, where, lineno, "start address (1 to 16 hex digits)", &c);
    if (c.p >= c.end || *c.p != '-')
        return bad(err, where, lineno, "'-' between start and end address", &c);
    c.p++;
    struct cur e = c;
    if (!parse_hex(&c, &r->v.end) || (c.p < c.end && *c.p != ' ' && *c.p != '\t'))
        return bad(err, where, lineno, "end address (1 to 16 hex digits)", &e);
    skip_spaces(&c);
    if (c.end - c.p < 4 || (c.p[0] != 'r' && c.p[0] != '-') || (c.p[1] != 'w' && c.p[1] != '-') ||
        (c.p[2] != 'x' && c.p[2] != '-') || (c.p[3] != 'p' && c.p[3] != 's') ||
        (c.end - c.p > 4 && c.p[4] != ' ' && c.p[4] != '\t'))
        return bad(err, where, lineno, "permissions ([r-][w-][x-][ps], e.g. r-xp)", &c);
    memcpy(r->v.perms, c.p, 4);
    c.p += 4;
    skip_spaces(&c);
    struct cur t = c; /* errors show the whole field */
    if (!parse_hex(&c, &r->v.offset) || (c.p < c.end && *c.p != ' ' && *c.p != '\t'))
        return bad(err, where, lineno, "file offset (1 to 16 hex digits)", &t);
    skip_spaces(&c);
    struct cur d = c;
    if (!parse_hex(&c, &dev) || dev > UINT32_MAX || c.p >= c.end || *c.p != ':')
        return bad(err, where, lineno, "device (hex major:minor, e.g. fe:01)", &d);
    r->v.dev_major = (uint32_t)dev;
    c.p++;
    if (!parse_hex(&c, &dev) || dev > UINT32_MAX || (c.p < c.end && *c.p != ' ' && *c.p != '\t'))
        return bad(err, where, lineno, "device (hex major:minor, e.g. fe:01)", &d);
    r->v.dev_minor = (uint32_t)dev;
    skip_spaces(&c);
    t = c;
    if (!parse_dec(&c, &r->v.inode) || (c.p < c.end && *c.p != ' ' && *c.p != '\t'))
        return bad(err, where, lineno, "inode (decimal, below 2^64)", &t);
    skip_spaces(&c);
    r->name = c.p;
    r->namelen = (size_t)(c.end - c.p);
    struct cur a = {line, line + n};
    if (r->v.end <= r->v.start)
        return bad(err, where, lineno, "an end address above the start address", &a);
    if ((r->v.start | r->v.end) & ((1u << SNAP_BASE_SHIFT) - 1))
        return bad(err, where, lineno, "page-aligned addresses (multiples of 4096)", &a);
    return 0;
}

/* Classify a mapping from what maps says. Private mappings of no file are
 * anonymous unless they are one of the kernel's special mappings, whose
 * names are in brackets ([heap], [stack] and [anon:...] are anonymous). */
static void classify(struct snapshot_vma *v)
{
    const char *nm = v->name;
    if (v->perms[3] == 's')
        v->flags |= SNAP_VMA_SHARED;
    if (v->end > SNAP_USER_LIMIT)
        v->flags |= SNAP_VMA_KERNEL;
    bool special = nm[0] == '[' && strcmp(nm, "[heap]") != 0 && strcmp(nm, "[stack]") != 0 &&
                   strncmp(nm, "[anon:", 6) != 0 && strncmp(nm, "[stack:", 7) != 0;
    if (v->inode == 0 && v->dev_major == 0 && v->dev_minor == 0 && v->perms[3] == 'p' && !special)
        v->flags |= SNAP_VMA_ANON;
}

/* Split text into lines; calls fn for each (without '\n'). A final line
 * without '\n' counts; the empty string after a final '\n' does not. */
typedef int (*line_fn)(void *ctx, const char *line, size_t n, uint64_t lineno);

static int for_lines(const char *text, size_t len, line_fn fn, void *ctx)
{
    const char *p = text, *end = text + len;
    uint64_t lineno = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        int r = fn(ctx, p, (size_t)(le - p), ++lineno);
        if (r < 0)
            return r;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

struct parse_ctx {
    struct snapshot *s;
    const char *where;
    struct vmsim_source_error *err;
    struct snapshot_vma *cur; /* smaps: the mapping being described */
    size_t next;              /* smaps: first mapping not yet matched */
    bool header;              /* smaps: a mapping line was seen */
};

static int maps_cb(void *ctx, const char *line, size_t n, uint64_t lineno)
{
    struct parse_ctx *pc = ctx;
    struct snapshot *s = pc->s;
    struct maps_rec r;
    int e = parse_maps_line(line, n, pc->where, lineno, &r, pc->err);
    if (e < 0)
        return e;
    if (s->nvma > 0 && r.v.start < s->vma[s->nvma - 1].end) {
        char exp[128];
        snprintf(exp, sizeof exp,
                 "mappings in address order, not overlapping (the previous ends at %llx)",
                 (unsigned long long)s->vma[s->nvma - 1].end);
        struct cur a = {line, line + n};
        return bad(pc->err, pc->where, lineno, exp, &a);
    }
    if (vma_reserve(s) < 0)
        return VMSIM_ENOMEM;
    r.v.name = malloc(r.namelen + 1);
    if (!r.v.name)
        return VMSIM_ENOMEM;
    memcpy(r.v.name, r.name, r.namelen);
    r.v.name[r.namelen] = '\0';
    r.v.page_shift = SNAP_BASE_SHIFT;
    classify(&r.v);
    s->vma[s->nvma++] = r.v;
    return 0;
}

int snapshot_parse_maps(struct snapshot *out, const char *text, size_t len, const char *where,
                        struct vmsim_source_error *err)
{
    struct parse_ctx pc = {out, where, err, NULL, 0, false};
    return for_lines(text, len, maps_cb, &pc);
}

/* "   1234 kB" -> 1234 (the unit is always kB in smaps). */
static int smaps_kb(struct parse_ctx *pc, struct cur *c, uint64_t lineno, uint64_t *v)
{
    skip_spaces(c);
    if (!parse_dec(c, v))
        return bad(pc->err, pc->where, lineno, "a size in kB (decimal)", c);
    skip_spaces(c);
    if (c->p < c->end && !(c->end - c->p == 2 && memcmp(c->p, "kB", 2) == 0))
        return bad(pc->err, pc->where, lineno, "the unit kB", c);
    return 0;
}

static void smaps_vmflags(struct snapshot_vma *v, struct cur *c)
{
    static const struct {
        char mn[3];
        uint32_t flag;
    } words[] = {{"pf", SNAP_VMA_PFNMAP}, {"io", SNAP_VMA_IO}, {"ht", SNAP_VMA_HUGETLB},
                 {"hg", SNAP_VMA_HG},     {"nh", SNAP_VMA_NH}};
    for (;;) {
        skip_spaces(c);
        size_t n = tok_len(c);
        if (n == 0)
            return;
        for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
            if (n == 2 && memcmp(c->p, words[i].mn, 2) == 0)
                v->flags |= words[i].flag;
        c->p += n;
    }
}

static int smaps_cb(void *ctx, const char *line, size_t n, uint64_t lineno)
{
    struct parse_ctx *pc = ctx;
    struct snapshot *s = pc->s;
    struct cur c = {line, line + n};
    size_t k = tok_len(&c);
    if (k == 0 || line[k - 1] != ':') {
        /* A mapping header: the same line as in maps. */
        struct maps_rec r;
        int e = parse_maps_line(line, n, pc->where, lineno, &r, pc->err);
        if (e < 0)
            return e;
        while (pc->next < s->nvma && s->vma[pc->next].start < r.v.start)
            pc->next++;
        pc->cur = NULL;
        pc->header = true;
        if (pc->next < s->nvma && s->vma[pc->next].start == r.v.start &&
            s->vma[pc->next].end == r.v.end) {
            pc->cur = &s->vma[pc->next++];
            pc->cur->flags |= SNAP_VMA_SMAPS;
        } else {
            s->smaps_unmatched++; /* the process changed between the reads */
        }
        return 0;
    }
    if (!pc->header) {
        struct cur a = {line, line + n};
        return bad(pc->err, pc->where, lineno, "a mapping line before its fields", &a);
    }
    struct snapshot_vma *v = pc->cur;
    struct snapshot_vma scratch;
    if (!v) /* fields of an unmatched mapping are still checked */
        v = &scratch, memset(&scratch, 0, sizeof scratch);
    const char *key = line;
    size_t kl = k - 1;
    c.p += k;
    uint64_t *field = NULL;
    if (kl == 3 && memcmp(key, "Rss", 3) == 0)
        field = &v->rss_kb;
    else if (kl == 4 && memcmp(key, "Swap", 4) == 0)
        field = &v->swap_kb;
    else if (kl == 13 && memcmp(key, "AnonHugePages", 13) == 0)
        field = &v->anon_huge_kb;
    if (field)
        return smaps_kb(pc, &c, lineno, field);
    if ((kl == 14 && memcmp(key, "ShmemPmdMapped", 14) == 0) ||
        (kl == 13 && memcmp(key, "FilePmdMapped", 13) == 0)) {
        uint64_t kb;
        int e = smaps_kb(pc, &c, lineno, &kb);
        v->pmd_mapped_kb += kb;
        return e;
    }
    if (kl == 14 && memcmp(key, "KernelPageSize", 14) == 0) {
        uint64_t kb;
        int e = smaps_kb(pc, &c, lineno, &kb);
        if (e < 0)
            return e;
        unsigned sh = 0;
        while (sh < 40 && (4ull << sh) < kb)
            sh++;
        if ((4ull << sh) != kb) {
            struct cur a = {line, line + n};
            return bad(pc->err, pc->where, lineno, "a power-of-two page size of 4 kB or more", &a);
        }
        v->page_shift = (uint8_t)(SNAP_BASE_SHIFT + sh);
        return 0;
    }
    if (kl == 7 && memcmp(key, "VmFlags", 7) == 0)
        smaps_vmflags(v, &c);
    return 0; /* other fields: not needed */
}

int snapshot_parse_smaps(struct snapshot *out, const char *text, size_t len, const char *where,
                         struct vmsim_source_error *err)
{
    struct parse_ctx pc = {out, where, err, NULL, 0, false};
    return for_lines(text, len, smaps_cb, &pc);
}

/* status: Name, Pid and VmPTE; tolerant, every field optional. */
static void parse_status(struct snapshot *s, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        struct cur c = {p, le};
        uint64_t v;
        if (le - p > 5 && memcmp(p, "Name:", 5) == 0) {
            c.p += 5;
            skip_spaces(&c);
            size_t n = (size_t)(c.end - c.p);
            if (n >= sizeof s->comm)
                n = sizeof s->comm - 1;
            memcpy(s->comm, c.p, n);
            s->comm[n] = '\0';
        } else if (le - p > 4 && memcmp(p, "Pid:", 4) == 0) {
            c.p += 4;
            skip_spaces(&c);
            if (parse_dec(&c, &v) && v < 1ull << 31)
                s->pid = (long)v;
        } else if (le - p > 6 && memcmp(p, "VmPTE:", 6) == 0) {
            c.p += 6;
            skip_spaces(&c);
            if (parse_dec(&c, &v) && v < 1ull << 62)
                s->vmpte_kb = (long long)v;
        }
        p = nl ? nl + 1 : end;
    }
}

/* ---- pagemap ---------------------------------------------------------------- */

struct pm {
    int fd, kpf;
    const char *path;
    uint64_t *ent; /* SNAP_CHUNK_PAGES entries */
    struct snap_page_region *vec;
    uint64_t scan_extra; /* SNAP_PAGE_IS_GUARD while the kernel accepts it */
    bool scan;
};

static int pm_fail(struct pm *pm, struct vmsim_source_error *err, uint64_t off, int e)
{
    snprintf(err->where, sizeof err->where, "%.200s: byte %llu", pm->path, (unsigned long long)off);
    snprintf(err->expected, sizeof err->expected, "readable pagemap entries");
    snprintf(err->found, sizeof err->found, "%s", strerror(e));
    return errno_code(e);
}

static uint64_t kpageflags_of(struct pm *pm, uint64_t pfn)
{
    uint64_t f = 0;
    if (pfn > PM_PFN_MASK || pread_full(pm->kpf, &f, sizeof f, pfn * 8) != (long long)sizeof f)
        return 0;
    return f;
}

/* Is the 2 MiB block e[0..511] (all present) one PMD-sized folio by
 * kpageflags? Returns 0 no, 1 yes, 2 yes and it is the huge zero page,
 * -1 when it cannot tell (no kpageflags or no frame numbers). */
static int thp_by_kpageflags(struct pm *pm, const uint64_t *e)
{
    uint64_t pfn0 = e[0] & PM_PFN_MASK;
    if (pm->kpf < 0 || pfn0 == 0)
        return -1;
    for (unsigned i = 1; i < SNAP_PMD_PAGES; i++)
        if ((e[i] & PM_PFN_MASK) != pfn0 + i)
            return 0;
    uint64_t head = kpageflags_of(pm, pfn0), tail = kpageflags_of(pm, pfn0 + SNAP_PMD_PAGES - 1);
    /* KPF_THP is set for any large anonymous folio (mTHP too): the head at
     * the first frame and a tail at the 512th make it order 9. */
    if (!(head >> KPF_THP & 1) || !(head >> KPF_COMPOUND_HEAD & 1) ||
        !(tail >> KPF_COMPOUND_TAIL & 1))
        return 0;
    return head >> KPF_ZERO_PAGE & 1 ? 2 : 1;
}

/* Read v's pagemap entries with pread and append its runs. */
static int pm_read_vma(struct pm *pm, struct snapshot *s, struct snapshot_vma *v,
                       struct vmsim_source_error *err)
{
    unsigned deposit = v->flags & SNAP_VMA_ANON ? SNAP_RUN_DEPOSIT : 0;
    vmsim_vaddr_t va = v->start;
    if (v->flags & SNAP_VMA_HUGETLB && v->page_shift > SNAP_BASE_SHIFT) {
        /* pagemap repeats a hugetlb page's state for each of its base
         * pages: the first entry of each says it all. */
        uint64_t step = 1ull << v->page_shift;
        for (va = v->start; va < v->end; va += step) {
            uint64_t e = 0, off = (va >> SNAP_BASE_SHIFT) * 8;
            long long r = pread_full(pm->fd, &e, sizeof e, off);
            if (r < 0)
                return pm_fail(pm, err, off, (int)-r);
            if (!(e & (PM_PRESENT | PM_SWAPPED)))
                continue;
            if (e & PM_PFN_MASK)
                s->pfns = true;
            int rc = run_push(s, va, 1, v->page_shift, e & PM_PRESENT ? 0 : SNAP_RUN_SWAPPED,
                              v->run_first);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    while (va < v->end) {
        vmsim_vaddr_t ce = (va + ((uint64_t)SNAP_CHUNK_PAGES << SNAP_BASE_SHIFT)) &
                           ~((1ull << SNAP_PMD_SHIFT) - 1);
        if (ce > v->end || ce <= va)
            ce = v->end;
        size_t n = (size_t)((ce - va) >> SNAP_BASE_SHIFT);
        uint64_t off = (va >> SNAP_BASE_SHIFT) * 8;
        long long got = pread_full(pm->fd, pm->ent, n * 8, off);
        if (got < 0)
            return pm_fail(pm, err, off, (int)-got);
        /* A short file (a test's sparse pagemap) reads as holes. */
        memset((char *)pm->ent + got, 0, n * 8 - (size_t)got);
        for (size_t i = 0; i < n;) {
            vmsim_vaddr_t a = va + ((uint64_t)i << SNAP_BASE_SHIFT);
            uint64_t e = pm->ent[i];
            if (!(a & ((1ull << SNAP_PMD_SHIFT) - 1)) && i + SNAP_PMD_PAGES <= n &&
                (e & (PM_PRESENT | PM_SWAPPED)) == PM_PRESENT) {
                size_t j = 1;
                while (j < SNAP_PMD_PAGES &&
                       (pm->ent[i + j] & (PM_PRESENT | PM_SWAPPED)) == PM_PRESENT)
                    j++;
                if (j == SNAP_PMD_PAGES) {
                    int t = thp_by_kpageflags(pm, &pm->ent[i]);
                    if (e & PM_PFN_MASK)
                        s->pfns = true;
                    if (t != 0) {
                        unsigned f = deposit | (t == 2 ? SNAP_RUN_ZERO : 0) |
                                     (t < 0 ? SNAP_RUN_GUESS : 0);
                        int rc = run_push(s, a, 1, SNAP_PMD_SHIFT, f, v->run_first);
                        if (rc < 0)
                            return rc;
                        i += SNAP_PMD_PAGES;
                        continue;
                    }
                }
            }
            if (e & (PM_PRESENT | PM_SWAPPED)) {
                if (e & PM_PRESENT && e & PM_PFN_MASK)
                    s->pfns = true;
                int rc = run_push(s, a, 1, SNAP_BASE_SHIFT, e & PM_PRESENT ? 0 : SNAP_RUN_SWAPPED,
                                  v->run_first);
                if (rc < 0)
                    return rc;
            }
            i++;
        }
        va = ce;
    }
    return 0;
}

/* Ask the kernel for v's present and swapped ranges with PAGEMAP_SCAN.
 * Returns 1 when the ioctl is not available (then nothing was appended). */
static int pm_scan_vma(struct pm *pm, struct snapshot *s, struct snapshot_vma *v,
                       struct vmsim_source_error *err)
{
    unsigned deposit = v->flags & SNAP_VMA_ANON ? SNAP_RUN_DEPOSIT : 0;
    uint64_t at = v->start;
    while (at < v->end) {
        uint64_t anyof = SNAP_PAGE_IS_PRESENT | SNAP_PAGE_IS_SWAPPED | pm->scan_extra;
        struct snap_pm_scan_arg a = {
            .size = sizeof a, .start = at, .end = v->end,
            .vec = (uint64_t)(uintptr_t)pm->vec, .vec_len = SNAP_SCAN_VEC,
            .category_anyof_mask = anyof,
            .return_mask = anyof | SNAP_PAGE_IS_HUGE | SNAP_PAGE_IS_PFNZERO,
        };
        int r = ioctl(pm->fd, SNAP_PAGEMAP_SCAN, &a);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EINVAL && pm->scan_extra) {
            pm->scan_extra = 0; /* a kernel before PAGE_IS_GUARD */
            continue;
        }
        if (r < 0 && at == v->start && s->nrun == v->run_first &&
            (errno == ENOTTY || errno == EINVAL || errno == EOPNOTSUPP))
            return 1;
        if (r < 0)
            return pm_fail(pm, err, (at >> SNAP_BASE_SHIFT) * 8, errno);
        for (int i = 0; i < r; i++) {
            const struct snap_page_region *g = &pm->vec[i];
            unsigned f = g->categories & SNAP_PAGE_IS_PRESENT ? 0 : SNAP_RUN_SWAPPED;
            unsigned shift = SNAP_BASE_SHIFT;
            if (v->flags & SNAP_VMA_HUGETLB) {
                shift = v->page_shift;
            } else if (g->categories & SNAP_PAGE_IS_HUGE) {
                shift = SNAP_PMD_SHIFT;
                f |= deposit | (g->categories & SNAP_PAGE_IS_PFNZERO ? SNAP_RUN_ZERO : 0);
            }
            uint64_t mask = (1ull << shift) - 1;
            vmsim_vaddr_t lo = g->start & ~mask, hi = (g->end + mask) & ~mask;
            if (shift != SNAP_BASE_SHIFT && (lo != g->start || hi != g->end) &&
                !(v->flags & SNAP_VMA_HUGETLB)) {
                /* Not a whole PMD: cannot be a PMD leaf; count base pages. */
                shift = SNAP_BASE_SHIFT;
                f &= SNAP_RUN_SWAPPED;
                lo = g->start;
                hi = g->end;
            }
            if (shift != SNAP_BASE_SHIFT) {
                for (vmsim_vaddr_t p = lo; p < hi; p += 1ull << shift) {
                    /* hugetlb regions of one page may arrive in pieces */
                    const struct snapshot_run *l = s->nrun > v->run_first ? &s->run[s->nrun - 1] : 0;
                    if (l && l->shift == shift && l->va == p)
                        continue;
                    int rc = run_push(s, p, 1, shift, f, v->run_first);
                    if (rc < 0)
                        return rc;
                }
            } else {
                int rc = run_push(s, lo, (hi - lo) >> SNAP_BASE_SHIFT, shift, f, v->run_first);
                if (rc < 0)
                    return rc;
            }
        }
        if (a.walk_end <= at || a.walk_end > v->end) {
            fail_errno(err, pm->path, "PAGEMAP_SCAN to make progress", EIO);
            return VMSIM_EIO;
        }
        at = a.walk_end;
    }
    return 0;
}

/* After v's runs are in: settle the 2 MiB candidates whose PMD mapping
 * could not be seen directly against smaps' count of PMD-mapped pages
 * (which leaves out the huge zero page), then count what v holds. */
static void settle_vma(struct snapshot *s, struct snapshot_vma *v, bool pread)
{
    bool thp_vma = !(v->flags & SNAP_VMA_HUGETLB);
    bool smaps = v->flags & SNAP_VMA_SMAPS;
    uint64_t cand = 0, guesses = 0;
    for (size_t i = v->run_first; thp_vma && i < s->nrun; i++) {
        const struct snapshot_run *r = &s->run[i];
        if (r->shift == SNAP_PMD_SHIFT && !(r->flags & SNAP_RUN_ZERO)) {
            cand++;
            guesses += (r->flags & SNAP_RUN_GUESS) != 0;
        }
    }
    uint64_t want = smaps ? (v->anon_huge_kb + v->pmd_mapped_kb) >> 11 : 0;
    if (pread && thp_vma) {
        /* Without smaps only kpageflags' verdicts stand. With it, keep as
         * many as it counts; if there were more candidates, which ones are
         * PTE-mapped is unknown (for anonymous memory the table count is the
         * same either way: a leaf table or a deposited one). */
        uint64_t keep = smaps ? (cand < want ? cand : want) : cand - guesses;
        if (smaps && cand > keep)
            s->thp_guessed += keep;
        /* Demote from the end: guesses first, then verified folios. */
        for (int pass = 0; pass < 2 && cand > keep; pass++)
            for (size_t i = s->nrun; i-- > v->run_first && cand > keep;) {
                struct snapshot_run *r = &s->run[i];
                if (r->shift != SNAP_PMD_SHIFT || r->flags & SNAP_RUN_ZERO ||
                    (pass == 0 && !(r->flags & SNAP_RUN_GUESS)))
                    continue;
                *r = (struct snapshot_run){r->va, SNAP_PMD_PAGES, SNAP_BASE_SHIFT, 0};
                cand--;
            }
        for (size_t i = v->run_first; i < s->nrun; i++)
            s->run[i].flags &= (uint8_t)~SNAP_RUN_GUESS;
    }
    if (smaps && thp_vma && want > cand)
        s->thp_unseen += want - cand;
    v->run_count = s->nrun - v->run_first;
    for (size_t i = v->run_first; i < s->nrun; i++) {
        const struct snapshot_run *r = &s->run[i];
        if (r->flags & SNAP_RUN_ASSUMED)
            s->assumed += r->npages << (r->shift - SNAP_BASE_SHIFT);
        else if (!thp_vma && r->shift > SNAP_BASE_SHIFT)
            s->hugetlb += r->npages;
        else if (r->shift == SNAP_PMD_SHIFT)
            v->thp += r->npages;
        else if (r->flags & SNAP_RUN_SWAPPED)
            v->swapped += r->npages;
        else
            v->present += r->npages;
    }
    s->present += v->present;
    s->swapped += v->swapped;
    s->thp += v->thp;
}

static int read_pages(struct snapshot *s, struct pm *pm, struct vmsim_source_error *err)
{
    s->method = SNAP_METHOD_NONE;
    for (size_t i = 0; i < s->nvma; i++) {
        struct snapshot_vma *v = &s->vma[i];
        v->run_first = s->nrun;
        int rc = 0;
        bool pread = false;
        if (v->flags & SNAP_VMA_KERNEL) {
            s->kernel_vmas++;
        } else if (v->flags & SNAP_VMA_PFNMAP) {
            /* Walks skip VM_PFNMAP (walk_page_test), so pagemap shows holes
             * where the kernel may well have PTEs: remap_pfn_range fills
             * them all at mmap time, [vvar] on first touch. */
            rc = run_push(s, v->start, (v->end - v->start) >> SNAP_BASE_SHIFT, SNAP_BASE_SHIFT,
                          SNAP_RUN_ASSUMED, v->run_first);
        } else {
            if (pm->scan) {
                rc = pm_scan_vma(pm, s, v, err);
                if (rc == 1)
                    pm->scan = false; /* not supported here: pread from now on */
                else
                    s->method = SNAP_METHOD_SCAN;
            }
            if (!pm->scan && v->flags & SNAP_VMA_SMAPS && !memcmp(v->perms, "---", 3) &&
                v->rss_kb == 0 && v->swap_kb == 0) {
                /* An address-space reservation (ASan's shadow gap, a JIT's
                 * heap): reading terabytes of holes takes minutes. Rss
                 * leaves out zero-page mappings and Swap PTE markers, so
                 * rw- mappings are read however large (PAGEMAP_SCAN has no
                 * such gap: it skips holes in the kernel). */
                v->flags |= SNAP_VMA_SKIPPED;
                s->skipped_vmas++;
                rc = 0;
            } else if (!pm->scan) {
                s->method = SNAP_METHOD_PAGEMAP;
                pread = true;
                rc = pm_read_vma(pm, s, v, err);
            }
        }
        if (rc < 0)
            return rc;
        settle_vma(s, v, pread);
    }
    return 0;
}

/* ---- loading ------------------------------------------------------------- */

static void reset_counts(struct snapshot *s)
{
    clear_vmas(s);
    s->nrun = 0;
    s->present = s->swapped = s->thp = s->hugetlb = s->assumed = 0;
    s->kernel_vmas = s->skipped_vmas = s->thp_guessed = s->thp_unseen = 0;
    s->smaps_unmatched = 0;
    s->pfns = false;
    s->vmpte_kb = -1;
}

static int load_once(const char *dir, struct snapshot *s, struct pm *pm, struct buf *maps,
                     struct buf *maps2, struct buf *text, bool *stable,
                     struct vmsim_source_error *err)
{
    char path[4096];
    int rc;
    reset_counts(s);
    snprintf(path, sizeof path, "%s/status", dir);
    long long vmpte0 = -1;
    if (read_text(path, text, err) == 0) {
        parse_status(s, text->p, text->len);
        vmpte0 = s->vmpte_kb;
    }
    snprintf(path, sizeof path, "%s/maps", dir);
    if ((rc = read_text(path, maps, err)) < 0)
        return rc;
    if ((rc = snapshot_parse_maps(s, maps->p, maps->len, path, err)) < 0)
        return rc;
    snprintf(path, sizeof path, "%s/smaps", dir);
    if (read_text(path, text, err) == 0 &&
        (rc = snapshot_parse_smaps(s, text->p, text->len, path, err)) < 0)
        return rc;
    if ((rc = read_pages(s, pm, err)) < 0)
        return rc;
    snprintf(path, sizeof path, "%s/status", dir);
    if (read_text(path, text, err) == 0)
        parse_status(s, text->p, text->len);
    snprintf(path, sizeof path, "%s/maps", dir);
    if ((rc = read_text(path, maps2, err)) < 0)
        return rc;
    *stable = vmpte0 == s->vmpte_kb && s->smaps_unmatched == 0 && maps->len == maps2->len &&
              memcmp(maps->p, maps2->p, maps->len) == 0;
    return 0;
}

int snapshot_load(const char *proc_dir, const struct snapshot_opts *opt, struct snapshot *out,
                  struct vmsim_source_error *err)
{
    static const struct snapshot_opts defaults = {0};
    struct buf maps = {0}, maps2 = {0}, text = {0};
    char path[4096];
    int rc;
    if (!opt)
        opt = &defaults;
    snapshot_init(out);
    memset(err, 0, sizeof *err);
    snprintf(path, sizeof path, "%s/pagemap", proc_dir);
    struct pm pm = {.fd = -1, .kpf = -1, .path = path, .scan_extra = SNAP_PAGE_IS_GUARD};
    pm.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (pm.fd < 0) {
        int e = errno;
        fail_errno(err, path, "a readable pagemap", e);
        return errno_code(e);
    }
    pm.scan = !opt->no_scan;
    if (opt->kpageflags) {
        pm.kpf = open(opt->kpageflags, O_RDONLY | O_CLOEXEC);
        out->kpageflags = pm.kpf >= 0;
    }
    pm.ent = malloc((size_t)SNAP_CHUNK_PAGES * sizeof *pm.ent);
    pm.vec = malloc(SNAP_SCAN_VEC * sizeof *pm.vec);
    rc = pm.ent && pm.vec ? 0 : VMSIM_ENOMEM;
    unsigned max = opt->max_attempts ? opt->max_attempts : 5;
    bool kpf = out->kpageflags;
    while (rc == 0 && out->attempts < max) {
        bool stable = false;
        out->attempts++;
        rc = load_once(proc_dir, out, &pm, &maps, &maps2, &text, &stable, err);
        out->stable = stable;
        if (stable)
            break;
    }
    out->kpageflags = kpf && out->method == SNAP_METHOD_PAGEMAP;
    free(pm.ent);
    free(pm.vec);
    free(maps.p);
    free(maps2.p);
    free(text.p);
    if (pm.kpf >= 0)
        close(pm.kpf);
    close(pm.fd);
    return rc;
}

/* ---- replay into a simulator -------------------------------------------- */

struct builder {
    struct vmsim *sim;
    vmsim_pid_t pid;
    const struct vmsim_geometry *g;
    unsigned leaf[VMSIM_MAX_LEVELS + 1]; /* page shifts of the leaf levels, ascending */
    unsigned nleaf;
    vmsim_vaddr_t last; /* last base page mapped for pages smaller than it */
    bool have_last;
    struct snapshot_build_stats st;
};

static bool out_of_range(const struct builder *b, vmsim_vaddr_t va)
{
    return b->g->va_bits < 64 && va >> b->g->va_bits != 0;
}

static int map_one(struct builder *b, vmsim_vaddr_t va, unsigned shift, bool deposit)
{
    unsigned base = b->g->page_shift;
    if (shift < base) { /* a 4 KiB page in a geometry of larger pages */
        vmsim_vaddr_t p = va & ~((1ull << base) - 1);
        if (b->have_last && b->last == p)
            return 0;
        b->last = p;
        b->have_last = true;
        if (out_of_range(b, p)) {
            b->st.out_of_range++;
            return 0;
        }
        b->st.mapped++;
        return vmsim_map_page(b->sim, b->pid, p, base);
    }
    unsigned ls = base;
    for (unsigned i = 0; i < b->nleaf; i++)
        if (b->leaf[i] <= shift)
            ls = b->leaf[i];
    for (uint64_t j = 0; j < 1ull << (shift - ls); j++) {
        vmsim_vaddr_t p = va + (j << ls);
        if (out_of_range(b, p)) {
            b->st.out_of_range++;
            continue;
        }
        int rc = vmsim_map_page(b->sim, b->pid, p, ls);
        if (rc < 0)
            return rc;
        b->st.mapped++;
    }
    /* The deposit belongs to a PMD mapping: only where the huge page is
     * one leaf here too. */
    if (deposit && ls == shift && !out_of_range(b, va)) {
        int rc = vmsim_deposit_table(b->sim, b->pid);
        if (rc < 0)
            return rc;
        b->st.deposited++;
    }
    return 0;
}

int snapshot_build(struct vmsim *sim, vmsim_pid_t pid, const struct snapshot *s,
                   struct snapshot_build_stats *st)
{
    struct builder b = {.sim = sim, .pid = pid, .g = &vmsim_get_config(sim)->geom};
    const unsigned leaves = vmsim_leaf_levels(sim);
    for (unsigned lv = 1; lv <= b.g->levels && lv <= VMSIM_MAX_LEVELS; lv++)
        if (leaves >> lv & 1)
            b.leaf[b.nleaf++] = vmsim_geometry_page_shift(b.g, lv);
    int rc = 0;
    for (size_t i = 0; i < s->nrun && rc == 0; i++) {
        const struct snapshot_run *r = &s->run[i];
        for (uint64_t k = 0; k < r->npages && rc == 0; k++)
            rc = map_one(&b, r->va + (k << r->shift), r->shift, r->flags & SNAP_RUN_DEPOSIT);
    }
    if (st)
        *st = b.st;
    return rc;
}
