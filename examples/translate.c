/* translate: drive libvmsim directly, without the vmsim tool.
 *
 * Builds a machine with no TLB and no page-walk caches (every translation
 * walks the 4-level x86-64 radix tree), feeds it hand-made events — one
 * process that writes one word in each of N consecutive pages, then reads
 * them again — and prints a few statistics, one "name value" per line.
 *
 * What to expect (docs/library.md derives it): 2N accesses and translations;
 * N demand-zero write faults; 3N walks (each first write walks, faults, and
 * walks again; each read walks once); 12N - 3 page-table references; 3 page
 * tables below the root (one each of levels 3, 2 and 1), 12 KiB, for N up
 * to 512 pages inside one aligned 2 MiB block.
 *
 *     cc translate.c $(pkg-config --cflags --libs vmsim) -o translate
 *     ./translate [N]                                     (1 <= N <= 512) */
#include <stdio.h>
#include <stdlib.h>

#include <vmsim/vmsim.h>

#define BASE 0x10000000000ull /* 1 TiB: a 2 MiB-aligned address */
#define PAGE 4096u

static int fail(const char *what, int rc)
{
    fprintf(stderr, "translate: %s: %s\n", what, vmsim_strerror(rc));
    return 1;
}

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
    if (n < 1 || n > 512) {
        fprintf(stderr, "usage: translate [N], 1 <= N <= 512\n");
        return 2;
    }

    /* The defaults (Skylake-like machine, radix x86-64), then switch off
     * what would hide the walks: the TLBs and the page-walk caches. */
    struct vmsim_config cfg;
    char why[256];
    vmsim_config_default(&cfg);
    int rc = vmsim_tlb_parse("none", &cfg, why, sizeof why);
    if (rc == VMSIM_OK)
        rc = vmsim_pwc_parse("none", &cfg, why, sizeof why);
    if (rc != VMSIM_OK) {
        fprintf(stderr, "translate: %s\n", why);
        return 1;
    }
    cfg.ncpus = 1;

    struct vmsim *sim;
    if ((rc = vmsim_create(&cfg, &sim)) != VMSIM_OK)
        return fail("vmsim_create", rc);

    /* Events go in batches; any batch size gives the same result. */
    size_t nev = 1 + 2 * n, k = 0;
    struct vmsim_event *ev = calloc(nev, sizeof *ev);
    if (!ev)
        return fail("events", VMSIM_ENOMEM);
    ev[k++] = (struct vmsim_event){.type = VMSIM_EV_SPAWN, .pid = 1};
    for (unsigned pass = 0; pass < 2; pass++)
        for (unsigned long i = 0; i < n; i++)
            ev[k++] = (struct vmsim_event){.type = VMSIM_EV_ACCESS,
                                           .kind = pass == 0 ? VMSIM_WRITE : VMSIM_READ,
                                           .pid = 1,
                                           .addr = BASE + i * PAGE,
                                           .len = 8};
    if ((rc = vmsim_run(sim, ev, k)) != VMSIM_OK)
        return fail("vmsim_run", rc);

    const struct vmsim_stats *st = vmsim_get_stats(sim);
    struct vmsim_pt_footprint fp;
    vmsim_footprint(sim, &fp);
    printf("accesses %llu\n", (unsigned long long)st->accesses);
    printf("translations %llu\n", (unsigned long long)st->translations);
    printf("faults %llu\n", (unsigned long long)st->faults_total);
    printf("demand_zero_writes %llu\n", (unsigned long long)st->faults_zero_write);
    printf("walks %llu\n", (unsigned long long)st->walks);
    printf("walk_refs %llu\n", (unsigned long long)st->walk_refs);
    printf("page_table_bytes %llu\n", (unsigned long long)fp.bytes);
    printf("tables_l3_l2_l1 %llu %llu %llu\n", (unsigned long long)fp.tables[3],
           (unsigned long long)fp.tables[2], (unsigned long long)fp.tables[1]);

    free(ev);
    vmsim_destroy(sim);
    return 0;
}
