/* The machine options shared by every command that builds a simulator. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/fmt.h"

/* Print "  OPTION ...   text" with text wrapped at HELP_WIDTH columns under
 * the option's column (lead is the padded option part, HELP_INDENT wide). */
#define HELP_WIDTH 90
#define HELP_INDENT 21
void cli_help_wrap(FILE *out, const char *lead, const char *text)
{
    size_t col = (size_t)fprintf(out, "%-*s", HELP_INDENT, lead);
    bool first = true;
    for (const char *w = text; *w;) {
        while (*w == ' ')
            w++;
        const size_t n = strcspn(w, " ");
        if (!n)
            break;
        if (!first && col + 1 + n > HELP_WIDTH) {
            col = (size_t)fprintf(out, "\n%*s", HELP_INDENT, "") - 1;
            first = true;
        }
        col += (size_t)fprintf(out, "%s%.*s", first ? "" : " ", (int)n, w);
        first = false;
        w += n;
    }
    fputc('\n', out);
}

size_t cli_join(char *buf, size_t len, const char *const *names, const char *last)
{
    return fmt_join(buf, len, names, last);
}

/* The lists of names come from their tables (vmsim_pt_names,
 * vmsim_geometry_names, vmsim_replace_names), the defaults from
 * vmsim_config_default: adding an entry there changes this help too. */
void cli_config_help(FILE *out)
{
    struct vmsim_config def;
    vmsim_config_default(&def);
    char names[512], text[768];
    fputs("machine options:\n"
          "  --machine NAME     CPU preset: TLBs, page-walk caches, latencies (default skylake;\n"
          "                     `vmsim presets` lists them)\n"
          "  --config FILE      the machine from a JSON file: a run's --json output or\n"
          "                     `vmsim presets --dump NAME`; options after it override it\n",
          out);
    cli_join(names, sizeof names, vmsim_pt_names, NULL);
    snprintf(text, sizeof text, "page-table organization: %s (default %s; options: "
             "docs/organizations.md)", names, def.pt);
    cli_help_wrap(out, "  --pt NAME[:OPTS]", text);
    cli_join(names, sizeof names, vmsim_geometry_names, NULL);
    snprintf(text, sizeof text, "geometry preset (%s) or "
             "va=BITS,page=SIZE,bits=B1+B2+...,pte=BYTES,leaves=L1+L2...", names);
    cli_help_wrap(out, "  --geometry G", text);
    fputs("  --tlb SPEC|none    TLB levels in lookup order, NAME=ENTRIESxWAYS[@SIZES][|...][/d|i|u][:CYCLES][:lru|random]\n"
          "                     e.g. l1d=64x4@4k/d,l1i=128x8@4k/i,l2=1536x12@4k+2m/u\n"
          "  --pwc SPEC|none    page-walk caches: l4=2x2,l3=4x4,l2=32x4 (split) or unified=32x4;\n"
          "                     each level once, l2 up to the geometry's levels\n"
          "  --cost SPEC        cycles: access=N,pt_ref=N,fault=N,io=N,pwc=N,trap=N,sw_ref=N,\n"
          "                     vmexit=N\n"
          "  --cache SPEC|NAME|none  data caches and DRAM: walks cost what serves each\n"
          "                     reference, e.g. l1d=64x8x64/d:5,l2=1024x16x64:14,dram=200, or a\n"
          "                     --machine preset's hierarchy (docs/caches.md; default none)\n"
          "  --walker hw|sw     who walks on a TLB miss: hardware (default) or a software\n"
          "                     handler (a trap, sw_ref per reference, no page-walk caches)\n"
          "  --mem SIZE         simulated physical memory, page tables included (default 256g)\n"
          "  --swap SIZE        swap device (default 256g; 0: none, anonymous pages then stay)\n",
          out);
    cli_join(names, sizeof names, vmsim_replace_names, NULL);
    snprintf(text, sizeof text, "page replacement when memory is full: %s (default %s; opt is "
             "Belady's and reads the trace twice)", names, vmsim_replace_names[def.replace]);
    cli_help_wrap(out, "  --replace POLICY", text);
    fputs("  --strict           an access outside every mapping is a segfault (default:\n"
          "                     implicit anonymous memory); `vmsim run` fails (status 1,\n"
          "                     statistics printed) when accesses fall outside the\n"
          "                     geometry's virtual address space (default: a warning)\n"
          "  --verify           check page contents against a shadow model on every read\n"
          "  --evict-tables     page-table pages may be evicted too (process roots stay)\n"
          "  --share-tables     processes mapping a file block alike share its leaf table,\n"
          "                     and the table above it for a whole 1 GiB block (radix\n"
          "                     only; docs/kernel.md)\n"
          "  --compact on|off   a huge page that finds no free block migrates pages to make\n"
          "                     one (default off; docs/kernel.md, \"Compaction\")\n"
          "  --fault-stack F/S  kernel stack per fault-handler activation / kernel stack size,\n"
          "                     for the nested-fault report (default 2k/6k, seed 000)\n"
          "  --vipt SETSxBLOCK  VIPT L1 data cache geometry for the synonym check, e.g. 64x64\n"
          "  --cpus N           CPUs (default 8; events name them)\n"
          "  --threads N        run the CPUs' accesses on N host threads, CPU c on thread\n"
          "                     c mod N (default 1: one after another, deterministic;\n"
          "                     docs/concurrency.md)\n"
          "  --locks DESIGN     what a parallel run's faults lock: table (default: a lock per\n"
          "                     leaf table), global (one lock), seqcount (table locks, walks\n"
          "                     checked by a sequence count)\n"
          "  --no-asid          no address-space ids: a context switch flushes TLBs and PWCs\n"
          "  --page-size SIZE   page size for anonymous memory (default the base page; 2m, 1g)\n"
          "  --thp POLICY       where anonymous memory gets that size: always (default),\n"
          "                     madvise (where the trace advises), never; without\n"
          "                     --page-size, always/madvise use the smallest huge page\n"
          "  --khugepaged SPEC  collapse blocks of base pages into huge pages in the\n"
          "                     background: on, or every=ACCESSES,pages=P,max_ptes_none=K,\n"
          "                     max_ptes_swap=W,max_ptes_shared=S,copy=CYCLES (defaults\n"
          "                     1000000, 4096, 511, 64, 256, 500; docs/kernel.md)\n"
          "  --seed N           seed for random replacement (default 1)\n"
          "  --warmup N         run N accesses, then reset every statistic (TLBs, caches,\n"
          "                     page tables keep their state): report the steady state;\n"
          "                     N as at= of --migrate (250000, 250k, 1.5m); default 0, none\n"
          "virtualization (docs/virtualization.md):\n"
          "  --nested GEOMETRY  run the workload in a guest under nested paging; the nested\n"
          "                     table's geometry (x86-64, x86-64-5l, ...); --mem is then the\n"
          "                     guest's memory\n"
          "  --shadow           the hypervisor uses shadow paging instead: 1D walks of shadow\n"
          "                     tables, a VM exit per guest page-table write and switch\n",
          out);
    snprintf(text, sizeof text, "the nested table's organization (default %s)",
             def.nested.pt[0] ? def.nested.pt : "radix");
    cli_help_wrap(out, "  --host-pt NAME", text);
    fputs("  --host-mem SIZE    host memory (default twice the guest's)\n"
          "  --host-page SIZE   host pages backing guest memory (default the base page; 2m, 1g)\n"
          "  --ntlb ExW|none    nested TLB, guest-physical -> host pages (default none)\n"
          "  --host-pwc SPEC    page-walk caches of the host dimension (default as --pwc)\n"
          "  --enclave PID[:LEVELS]  the guest process PID is an enclave: its pages take one\n"
          "                     more translation (LEVELS, default 1) and are refused to others\n"
          "  --migrate at=N[,link=B/s][,clock=HZ][,downtime=T][,rounds=R]\n"
          "                     live migration by pre-copy after N accesses (defaults: link\n"
          "                     1.25g bytes/s = 10 Gbit/s, clock 2.5g, downtime 300ms, 30 rounds)\n",
          out);
}

/* Has a --config file been read in this command's options? Then --machine
 * and --geometry after it apply where they stand, so that every option
 * after --config overrides the file (docs/cli.md, "Configurations as
 * files"); before it, and without one, they apply first (cli_config_init). */
static bool config_file_read;

/* The option's long name in the CLI_CONFIG_OPTIONS table, or NULL. */
static const char *config_option_name(int opt)
{
    static const struct option table[] = {CLI_CONFIG_OPTIONS, {0, 0, 0, 0}};
    for (const struct option *o = table; o->name; o++)
        if (o->val == opt)
            return o->name;
    return NULL;
}

static int apply(struct vmsim_config *cfg, const char *name, const char *arg)
{
    char why[1024];
    if (vmsim_config_option(cfg, name, arg, why, sizeof why) != VMSIM_OK)
        return cli_usage("%s", why);
    return 0;
}

/* --machine first, whatever its place: a preset sets many fields and must
 * not undo a later --tlb. Then the last valid --geometry, so that the
 * preset's page-walk caches of levels it lacks go before --pwc is read (a
 * --pwc level the geometry lacks is then the user's, and
 * vmsim_config_finish refuses it); the option loop reports a bad one. */
int cli_config_init(struct vmsim_config *cfg, int argc, char **argv)
{
    vmsim_config_default(cfg);
    config_file_read = false;
    for (int i = 1; i < argc; i++) {
        const char *name = NULL;
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--machine") && i + 1 < argc)
            name = argv[i + 1];
        else if (!strncmp(argv[i], "--machine=", 10))
            name = argv[i] + 10;
        if (name && apply(cfg, "machine", name))
            return 2;
    }
    const char *last = NULL;
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
        const char *spec = !strcmp(argv[i], "--geometry") && i + 1 < argc ? argv[i + 1]
                           : !strncmp(argv[i], "--geometry=", 11)        ? argv[i] + 11
                                                                          : NULL;
        struct vmsim_config tmp = *cfg;
        if (spec && vmsim_config_option(&tmp, "geometry", spec, NULL, 0) == VMSIM_OK)
            last = spec;
    }
    if (last)
        vmsim_config_option(cfg, "geometry", last, NULL, 0);
    return 0;
}

int cli_config_option(struct vmsim_config *cfg, int opt, const char *arg)
{
    const char *name = config_option_name(opt);
    if (!name)
        return 1;
    if (opt == OPT_CONFIG) { /* the library reads the file */
        const int rc = apply(cfg, name, arg);
        config_file_read |= rc == 0;
        return rc;
    }
    if (config_file_read && (opt == OPT_MACHINE || opt == OPT_GEOMETRY))
        return apply(cfg, name, arg);
    if (opt == OPT_MACHINE)
        return 0; /* applied by cli_config_init */
    if (opt == OPT_GEOMETRY) { /* applied by cli_config_init: only its errors here */
        struct vmsim_config tmp = *cfg;
        return apply(&tmp, name, arg);
    }
    return apply(cfg, name, arg);
}

int cli_config_finish(struct vmsim_config *cfg)
{
    char why[1024];
    if (vmsim_config_finish(cfg, why, sizeof why) != VMSIM_OK)
        return cli_usage("%s", why);
    return 0;
}
