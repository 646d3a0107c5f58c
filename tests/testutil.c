#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

char *temp_path(const char *suffix)
{
    static int counter;
    char *p = malloc(256);
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(p, 256, "%s/vmsim-test-%d-%d%s", dir, (int)getpid(), counter++, suffix ? suffix : "");
    unlink(p);
    return p;
}

char *write_temp(const void *data, size_t len, const char *suffix)
{
    char *p = temp_path(suffix);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    return p;
}

struct cmd_result run_vmsim(const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *o = temp_path(".out"), *e = temp_path(".err");
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s", VMSIM_BIN, args, o, e);
    int st = system(cmd);
    struct cmd_result r;
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = read_file(o, NULL);
    r.err = read_file(e, NULL);
    unlink(o);
    unlink(e);
    free(o);
    free(e);
    return r;
}

void cmd_result_free(struct cmd_result *r)
{
    free(r->out);
    free(r->err);
}

long long json_number(const char *json, const char *key)
{
    char pat[256];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    return strtoll(p, NULL, 10);
}

bool on_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char *copy = strdup(path), *save = NULL;
    bool found = false;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", *dir ? dir : ".", prog);
        found = access(full, X_OK) == 0;
    }
    free(copy);
    return found;
}

void expect_in(const char *what, const char *text, const char *needle)
{
    if (!text || !strstr(text, needle))
        fail_msg("%s does not contain \"%s\":\n%s", what, needle, text ? text : "(null)");
}

/* The value at a dotted JSON path ("caches.l1d.hits", "walks.refs_histogram[2]"). */
bool json_path(json_t *root, const char *path, uint64_t *v)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *o = root;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save)) {
        char *br = strchr(tok, '[');
        if (br) {
            *br = '\0';
            o = json_array_get(json_object_get(o, tok), strtoul(br + 1, NULL, 10));
        } else {
            o = json_object_get(o, tok);
        }
    }
    if (!json_is_integer(o))
        return false;
    *v = (uint64_t)json_integer_value(o);
    return true;
}

bool stat_value(const struct vmsim_stats *st, const struct vmsim_pt_footprint *fp,
                const struct vmsim_config *cfg, const char *name, uint64_t *v)
{
#define VM_FIELD(f, json, r, d) \
    if (!strcmp(name, json)) {  \
        *v = st->f;             \
        return true;            \
    }
    VMSIM_STATS(VM_FIELD)
#undef VM_FIELD
    char buf[64];
    for (unsigned i = 0; i < cfg->ntlb; i++) {
        snprintf(buf, sizeof buf, "tlb.%s.hits", cfg->tlb[i].name);
        if (!strcmp(name, buf))
            return *v = st->tlb[i].hits, true;
        snprintf(buf, sizeof buf, "tlb.%s.misses", cfg->tlb[i].name);
        if (!strcmp(name, buf))
            return *v = st->tlb[i].misses, true;
        snprintf(buf, sizeof buf, "tlb.%s.reach_bytes", cfg->tlb[i].name);
        if (!strcmp(name, buf))
            return *v = st->tlb[i].reach, true;
    }
    for (unsigned i = 0; i < cfg->mem.ncaches; i++) {
        const struct vmsim_cache_stats *cs = &st->cache[i];
        const struct {
            const char *what;
            uint64_t v;
        } c[] = {{"hits", cs->hits},           {"misses", cs->misses},
                 {"pt_hits", cs->pt_hits},     {"pt_misses", cs->pt_misses},
                 {"data_misses_pt", cs->data_misses_pt},
                 {"lines", cs->lines},         {"pt_lines", cs->pt_lines}};
        for (size_t j = 0; j < sizeof c / sizeof c[0]; j++) {
            snprintf(buf, sizeof buf, "caches.%s.%s", cfg->mem.cache[i].name, c[j].what);
            if (!strcmp(name, buf))
                return *v = c[j].v, true;
        }
    }
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
    for (size_t j = 0; cfg->khugepaged.every && j < sizeof khp / sizeof khp[0]; j++)
        if (!strcmp(name, khp[j].name))
            return *v = khp[j].v, true;
    const struct vmsim_compact_stats *cs = &st->compact;
    const struct {
        const char *name;
        uint64_t v;
    } cmp[] = {{"compact.runs", cs->runs},
               {"compact.success", cs->success},
               {"compact.fail", cs->fail},
               {"compact.pages_moved", cs->pages_moved},
               {"compact.rmap_updates", cs->rmap_updates},
               {"compact.shootdowns", cs->shootdowns},
               {"compact.cycles", cs->cycles},
               {"thp.anon_bytes", cs->anon_bytes},
               {"thp.anon_huge_bytes", cs->anon_huge_bytes}};
    for (size_t j = 0; cfg->compact && j < sizeof cmp / sizeof cmp[0]; j++)
        if (!strcmp(name, cmp[j].name))
            return *v = cmp[j].v, true;
    unsigned i;
    if (sscanf(name, "walks.refs_histogram[%u]", &i) == 1 && i < VMSIM_MAX_LEVELS + 2)
        return *v = st->walk_hist[i], true;
    if (sscanf(name, "walks.latency_histogram[%u]", &i) == 1 && i < VMSIM_WALK_LAT_BUCKETS)
        return *v = st->walk_lat_hist[i], true;
    if (sscanf(name, "page_tables.tables_by_level[%u]", &i) == 1 && i < cfg->geom.levels)
        return *v = fp->tables[cfg->geom.levels - i], true;
    return false;
}

struct vmsim_event ev_access(unsigned kind, vmsim_pid_t pid, uint64_t addr)
{
    return (struct vmsim_event){.type = VMSIM_EV_ACCESS, .kind = (uint8_t)kind, .pid = pid,
                                .addr = addr, .len = 8};
}

struct vmsim_event ev_os(unsigned type, unsigned kind, vmsim_pid_t pid, uint64_t addr,
                         uint64_t len)
{
    return (struct vmsim_event){.type = (uint8_t)type, .kind = (uint8_t)kind, .pid = pid,
                                .addr = addr, .len = len};
}

struct vmsim *new_machine(const struct vmsim_config *cfg)
{
    struct vmsim *sim;
    assert_int_equal(vmsim_create(cfg, &sim), VMSIM_OK);
    return sim;
}

json_t *run_trace_json(const char *trace, const char *opts)
{
    char *path = write_temp(trace, strlen(trace), ".txt");
    struct cmd_result r = run_vmsim("run --trace %s --quiet --json - %s", path, opts);
    if (r.status != 0)
        fail_msg("vmsim run %s: status %d\n%s", opts, r.status, r.err);
    json_error_t jerr;
    json_t *root = json_loads(r.out, 0, &jerr);
    if (!root)
        fail_msg("--json - is not valid JSON (%s, line %d):\n%s", jerr.text, jerr.line, r.out);
    assert_true(json_is_object(root));
    cmd_result_free(&r);
    unlink(path);
    free(path);
    return root;
}

size_t shrink_items(void *a, size_t n, size_t size, unsigned max_tries,
                    bool (*fails)(const void *items, size_t m, void *ctx), void *ctx)
{
    char *items = a, *tmp = malloc(n * size);
    assert_non_null(tmp);
    unsigned tries = 0;
    for (size_t chunk = n / 2 ? n / 2 : 1; chunk >= 1 && tries < max_tries;) {
        bool progress = false;
        for (size_t start = 0; start < n && tries < max_tries;) {
            const size_t end = start + chunk < n ? start + chunk : n;
            const size_t m = n - (end - start);
            memcpy(tmp, items, start * size);
            memcpy(tmp + start * size, items + end * size, (n - end) * size);
            tries++;
            if (m > 0 && fails(tmp, m, ctx)) {
                memcpy(items, tmp, m * size);
                n = m;
                progress = true;
            } else {
                start = end;
            }
        }
        if (!progress) {
            if (chunk == 1)
                break;
            chunk /= 2;
        }
    }
    free(tmp);
    return n;
}
