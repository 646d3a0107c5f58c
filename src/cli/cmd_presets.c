/* vmsim presets: what can be named on the command line. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "report/report.h"

/* names with their help; with caches, each name's cache spec on a line of
 * its own (the specs are too long to share one). */
static void list(const char *title, const char *const *names, const char *const *help,
                 const char *const *caches)
{
    printf("%s:\n", title);
    for (size_t i = 0; names[i]; i++) {
        printf("  %-14s %s\n", names[i], help ? help[i] : "");
        if (caches)
            printf("  %-14s   --cache %s\n", "", caches[i]);
    }
    printf("\n");
}

int cmd_presets(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: vmsim presets\n       vmsim presets --dump NAME\n\nList machine presets (--machine; a preset's name given to "
               "--cache\nselects its data caches), geometry presets (--geometry), synthetic\n"
               "workloads (--workload) and trace formats (--trace).\n\n"
               "--dump NAME prints machine preset NAME as a whole configuration in JSON, the\n"
               "\"config\" object of `vmsim run --json`, which --config FILE reads back.\n");
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "--dump")) {
        if (argc != 3)
            return cli_usage("presets: --dump: expected one machine preset name (see `vmsim "
                             "presets`), found %s", argc < 3 ? "none" : "more");
        struct vmsim_config cfg;
        vmsim_config_default(&cfg);
        if (vmsim_config_machine(&cfg, argv[2]) != VMSIM_OK)
            return cli_usage("presets: --dump: expected a machine preset (see `vmsim presets`), "
                             "found \"%s\"", argv[2]);
        return report_config_dump(&cfg, stdout) == VMSIM_OK ? 0 : cli_fail("cannot write");
    }
    if (argc > 1)
        return cli_usage("presets: unexpected argument \"%s\"", argv[1]);
    list("machines (--machine NAME; --cache NAME for its data caches; sources in "
         "docs/presets.md)",
         vmsim_machine_names, vmsim_machine_help, vmsim_machine_caches);
    list("geometries (--geometry)", vmsim_geometry_names, vmsim_geometry_help, NULL);
    list("workloads (--workload NAME[:k=v,...]; docs/workloads.md)", vmsim_workload_names,
         vmsim_workload_help, NULL);
    list("trace formats (--trace [FORMAT:]PATH; docs/traces.md)", vmsim_trace_formats,
         vmsim_trace_format_help, NULL);
    return 0;
}
