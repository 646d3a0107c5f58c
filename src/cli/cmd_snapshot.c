/* vmsim snapshot: rebuild a live process's page tables from /proc in a
 * simulator and set their size against the kernel's own VmPTE.
 *
 * Argument parsing and printing only: reading /proc is snapshot_load, the
 * replay is snapshot_build (src/trace/snapshot.c); docs/snapshot.md defines
 * every number printed and the rules behind them. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "report/report.h"
#include "trace/snapshot.h"

enum {
    OPT_PID = OPT_CLI_FIRST_FREE, OPT_SELF, OPT_PROC, OPT_KPAGEFLAGS, OPT_NO_SCAN, OPT_CHECK,
    OPT_JSON, OPT_HELP
};

static void help(FILE *out)
{
    fprintf(out,
            "usage: vmsim snapshot (--pid PID | --self | --proc DIR) [OPTIONS]\n\n"
            "Read a process's mappings and present pages from /proc (maps, smaps, pagemap,\n"
            "status; kpageflags where readable), map the same pages in a simulated machine,\n"
            "and print its page tables per level. With the x86-64 4-level geometry and the\n"
            "radix organization, compare their size without the root with the kernel's\n"
            "VmPTE. docs/snapshot.md gives the rules and the known divergences.\n\n"
            "process:\n"
            "  --pid PID          the process /proc/PID (another user's needs privileges)\n"
            "  --self             this vmsim process\n"
            "  --proc DIR         a directory holding maps, pagemap[, smaps, status] instead\n"
            "  --kpageflags PATH  kpageflags file (default /proc/kpageflags; none with --proc)\n"
            "  --no-scan          read pagemap with pread only, not the PAGEMAP_SCAN ioctl\n"
            "output:\n"
            "  --json PATH|-      also write the result as JSON\n"
            "  --check            exit 1 unless the kernel's VmPTE was compared and agrees\n\n");
    cli_config_help(out);
}

/* The kernel's VmPTE is about x86-64 4-level radix tables: compare only a
 * geometry with that shape (whatever its name). */
static bool comparable(const struct vmsim_config *cfg)
{
    struct vmsim_geometry ref;
    const struct vmsim_geometry *g = &cfg->geom;
    if (strcmp(cfg->pt, "radix") != 0 || vmsim_geometry_preset("x86-64", &ref) != VMSIM_OK)
        return false;
    return g->va_bits == ref.va_bits && g->page_shift == ref.page_shift &&
           g->levels == ref.levels && g->pte_bytes == ref.pte_bytes &&
           g->leaf_levels == ref.leaf_levels && memcmp(g->bits, ref.bits, ref.levels) == 0;
}

struct result {
    const struct snapshot *s;
    const struct vmsim_config *cfg;
    struct vmsim_pt_footprint fp;
    struct snapshot_build_stats st;
    bool comparable;
    long long kernel_bytes; /* -1 unknown */
};

static void print_text(const struct result *r, FILE *out)
{
    const struct snapshot *s = r->s;
    const struct vmsim_geometry *g = &r->cfg->geom;
    char a[32], b[32];
    fprintf(out, "process %ld (%s): %llu VMAs, %llu present pages, %llu swapped, %llu THP", s->pid,
            s->comm[0] ? s->comm : "?", (unsigned long long)(s->nvma - s->kernel_vmas),
            (unsigned long long)s->present, (unsigned long long)s->swapped,
            (unsigned long long)s->thp);
    if (s->hugetlb)
        fprintf(out, ", %llu hugetlb pages", (unsigned long long)s->hugetlb);
    fprintf(out, "\npage tables (%s, %u levels):", g->name, g->levels);
    for (unsigned lv = g->levels; lv >= 1; lv--)
        fprintf(out, "%slevel %u%s: %llu", lv == g->levels ? "  " : "   ", lv,
                lv == g->levels ? " (root)" : "", (unsigned long long)r->fp.tables[lv]);
    fprintf(out, "\n  without root: %s    root: %s\n", report_bytes(r->fp.bytes, a, sizeof a),
            report_bytes(r->fp.root_bytes, b, sizeof b));
    if (r->st.deposited)
        fprintf(out, "  deposited: %llu level-1 tables (one per PMD-mapped anonymous THP)\n",
                (unsigned long long)r->st.deposited);
    if (s->assumed) {
        fprintf(out, "  assumed mapped: %llu pages of VM_PFNMAP mappings pagemap cannot show (",
                (unsigned long long)s->assumed);
        const char *sep = "";
        for (size_t i = 0; i < s->nvma; i++)
            if (s->vma[i].flags & SNAP_VMA_PFNMAP) {
                fprintf(out, "%s%s", sep, s->vma[i].name[0] ? s->vma[i].name : "anonymous");
                sep = ", ";
            }
        fprintf(out, ")\n");
    }
    if (s->kernel_vmas)
        fprintf(out, "  left out: %llu mapping(s) in the kernel half ([vsyscall])\n",
                (unsigned long long)s->kernel_vmas);
    if (s->skipped_vmas)
        fprintf(out, "  left out: %llu PROT_NONE mapping(s) with no pages per smaps (not read)\n",
                (unsigned long long)s->skipped_vmas);
    if (r->st.out_of_range)
        fprintf(out, "  left out: %llu pages beyond the geometry's %u-bit address space\n",
                (unsigned long long)r->st.out_of_range, g->va_bits);
    if (s->thp_guessed)
        fprintf(out, "  note: %llu THP placed by smaps' count among more 2 MiB candidates\n",
                (unsigned long long)s->thp_guessed);
    if (s->thp_unseen)
        fprintf(out, "  note: smaps counts %llu PMD mappings the pagemap did not show\n",
                (unsigned long long)s->thp_unseen);
    if (!s->stable)
        fprintf(out, "  note: the process kept changing over %u reads; numbers may not match\n",
                s->attempts);
    if (r->kernel_bytes < 0) {
        fprintf(out, "kernel VmPTE: unknown (no VmPTE in status)\n");
    } else if (!r->comparable) {
        fprintf(out, "kernel VmPTE: %lld kB  (compared only with --geometry x86-64 --pt radix)\n",
                r->kernel_bytes / 1024);
    } else if ((uint64_t)r->kernel_bytes == r->fp.bytes) {
        fprintf(out, "kernel VmPTE: %lld kB  -> agrees\n", r->kernel_bytes / 1024);
    } else {
        long long d = r->kernel_bytes - (long long)r->fp.bytes;
        fprintf(out,
                "kernel VmPTE: %lld kB  -> differs: the kernel holds %s%lld kB %s "
                "(docs/snapshot.md: known divergences)\n",
                r->kernel_bytes / 1024, d > 0 ? "" : "-", (d > 0 ? d : -d) / 1024,
                d > 0 ? "more" : "less");
    }
}

static json_t *result_json(const struct result *r)
{
    const struct snapshot *s = r->s;
    const struct vmsim_geometry *g = &r->cfg->geom;
    json_t *tables = json_object();
    for (unsigned lv = 1; lv <= g->levels; lv++) {
        char k[8];
        snprintf(k, sizeof k, "%u", lv);
        json_object_set_new(tables, k, json_integer((json_int_t)r->fp.tables[lv]));
    }
    json_t *o = json_pack(
        "{s:I,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:s,s:i,s:o,s:I,s:I,s:I,s:s,s:b,s:I,s:I,s:I,s:I}",
        "pid", (json_int_t)s->pid, "comm", s->comm, "vmas", (json_int_t)(s->nvma - s->kernel_vmas),
        "present_pages", (json_int_t)s->present, "swapped_pages", (json_int_t)s->swapped,
        "thp_pmd_mapped", (json_int_t)s->thp, "hugetlb_pages", (json_int_t)s->hugetlb,
        "pfnmap_pages_assumed", (json_int_t)s->assumed, "geometry", g->name, "pt", r->cfg->pt,
        "levels", g->levels, "tables", tables, "deposited_tables", (json_int_t)r->st.deposited,
        "bytes_without_root", (json_int_t)r->fp.bytes, "root_bytes", (json_int_t)r->fp.root_bytes,
        "method", s->method == SNAP_METHOD_SCAN ? "pagemap_scan" : "pagemap_read", "stable",
        s->stable, "thp_guessed", (json_int_t)s->thp_guessed, "thp_unseen",
        (json_int_t)s->thp_unseen, "kernel_vmas_skipped", (json_int_t)s->kernel_vmas,
        "out_of_range_pages", (json_int_t)r->st.out_of_range);
    if (!o)
        return NULL;
    json_object_set_new(o, "kernel_vmpte_bytes",
                        r->kernel_bytes < 0 ? json_null() : json_integer(r->kernel_bytes));
    json_object_set_new(o, "comparable", json_boolean(r->comparable && r->kernel_bytes >= 0));
    json_object_set_new(o, "agrees", r->comparable && r->kernel_bytes >= 0
                                         ? json_boolean((uint64_t)r->kernel_bytes == r->fp.bytes)
                                         : json_null());
    return o;
}

static int write_json(const struct result *r, const char *path)
{
    json_t *o = result_json(r);
    if (!o)
        return cli_fail("--json: out of memory");
    FILE *f = cli_output_open(path);
    if (!f) {
        json_decref(o);
        return 1;
    }
    bool ok = json_dumpf(o, f, JSON_INDENT(2)) == 0 && fputc('\n', f) != EOF;
    json_decref(o);
    return cli_output_close(f, path, ok);
}

int cmd_snapshot(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_CONFIG_OPTIONS,
        {"pid", required_argument, 0, OPT_PID},
        {"self", no_argument, 0, OPT_SELF},
        {"proc", required_argument, 0, OPT_PROC},
        {"kpageflags", required_argument, 0, OPT_KPAGEFLAGS},
        {"no-scan", no_argument, 0, OPT_NO_SCAN},
        {"check", no_argument, 0, OPT_CHECK},
        {"json", required_argument, 0, OPT_JSON},
        {"help", no_argument, 0, OPT_HELP},
        {0, 0, 0, 0}};
    struct vmsim_config cfg;
    const char *json = NULL, *proc = NULL, *kpf = NULL;
    char dir[64];
    bool check = false, tlb_given = false, no_scan = false;
    int nsel = 0;
    int rc = cli_options_begin(&cfg, argc, argv);
    if (rc)
        return rc;
    for (int o; (o = cli_getopt(argc, argv, "", opts, NULL, "snapshot")) != -1;) {
        switch (o) {
        case OPT_PID:
            if ((rc = cli_proc_dir(optarg, dir, sizeof dir)) != 0)
                return rc;
            proc = dir;
            nsel++;
            break;
        case OPT_SELF: proc = "/proc/self"; nsel++; break;
        case OPT_PROC: proc = optarg; nsel++; break;
        case OPT_KPAGEFLAGS: kpf = optarg; break;
        case OPT_NO_SCAN: no_scan = true; break;
        case OPT_CHECK: check = true; break;
        case OPT_JSON: json = optarg; break;
        case OPT_HELP: help(stdout); return 0;
        case '?':
            return 2; /* cli_getopt said why */
        default:
            tlb_given |= o == OPT_TLB;
            if ((rc = cli_config_option(&cfg, o, optarg)) != 0)
                return rc == 1 ? 2 : rc;
        }
    }
    if (optind < argc)
        return cli_usage("snapshot: unexpected argument \"%s\" (see vmsim snapshot --help)",
                         argv[optind]);
    if (nsel != 1)
        return cli_usage("snapshot: give one of --pid PID, --self or --proc DIR");
    if (cfg.warmup)
        return cli_usage("snapshot: --warmup: a snapshot rebuilds page tables and makes no "
                         "accesses; expected no --warmup, found --warmup %llu",
                         (unsigned long long)cfg.warmup);
    /* A snapshot translates nothing: the default TLBs, which serve only
     * the x86 page sizes, must not stop --geometry arm64-16k. */
    if (!tlb_given)
        cfg.ntlb = 0;
    if ((rc = cli_config_finish(&cfg)) != 0)
        return rc;
    if (json && cli_output_check("--json", json))
        return 1;
    struct snapshot s;
    snapshot_init(&s);
    if ((rc = cli_snapshot_load(proc, kpf, no_scan, &s)) != 0) {
        snapshot_free(&s);
        return rc;
    }
    struct vmsim *sim;
    if ((rc = vmsim_create(&cfg, &sim)) != 0) {
        snapshot_free(&s);
        return cli_fail("cannot build the machine: %s", vmsim_strerror(rc));
    }
    struct result r = {.s = &s, .cfg = vmsim_get_config(sim), .comparable = comparable(&cfg)};
    vmsim_pid_t spid = s.pid > 0 ? (vmsim_pid_t)s.pid : 1;
    rc = snapshot_build(sim, spid, &s, &r.st);
    if (rc < 0) {
        vmsim_destroy(sim);
        snapshot_free(&s);
        if (rc == VMSIM_ENOFRAME)
            return cli_fail("the simulated memory is too small for the process's pages (--mem)");
        return cli_fail("rebuilding the page tables: %s", vmsim_strerror(rc));
    }
    vmsim_footprint(sim, &r.fp);
    r.kernel_bytes = s.vmpte_kb >= 0 ? s.vmpte_kb * 1024 : -1;
    int status = 0;
    if (!json || strcmp(json, "-") != 0)
        print_text(&r, stdout);
    if (json)
        status = write_json(&r, json);
    if (status == 0 && check) {
        if (!r.comparable || r.kernel_bytes < 0)
            status = cli_fail("--check: nothing to compare (needs VmPTE and --geometry x86-64)");
        else if ((uint64_t)r.kernel_bytes != r.fp.bytes)
            status = cli_fail("--check: %llu bytes of page tables, the kernel's VmPTE is %lld",
                              (unsigned long long)r.fp.bytes, r.kernel_bytes);
    }
    vmsim_destroy(sim);
    snapshot_free(&s);
    return status;
}

int cli_proc_dir(const char *pid, char *dir, size_t len)
{
    char *end;
    const long n = strtol(pid, &end, 10);
    if (*pid == '\0' || *end != '\0' || n <= 0 || n > INT_MAX)
        return cli_usage("--pid: expected a process id (a positive decimal), found \"%s\"", pid);
    snprintf(dir, len, "/proc/%ld", n);
    return 0;
}

int cli_snapshot_load(const char *proc, const char *kpageflags, bool no_scan, struct snapshot *s)
{
    /* The real kpageflags belongs with a real process only. */
    const struct snapshot_opts opt = {
        .kpageflags = kpageflags                           ? kpageflags
                      : strncmp(proc, "/proc/", 6) == 0 ? "/proc/kpageflags"
                                                          : NULL,
        .no_scan = no_scan};
    struct vmsim_source_error err;
    const int rc = snapshot_load(proc, &opt, s, &err);
    if (rc >= 0)
        return 0;
    if (err.where[0])
        return cli_fail("%s: expected %s, found %s", err.where, err.expected, err.found);
    return cli_fail("snapshot of %s: %s", proc, vmsim_strerror(rc));
}
