/* vmsim presets: what can be named on the command line. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void list(const char *title, const char *const *names, const char *const *help)
{
    printf("%s:\n", title);
    for (size_t i = 0; names[i]; i++)
        printf("  %-14s %s\n", names[i], help ? help[i] : "");
    printf("\n");
}

int cmd_presets(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: vmsim presets\n\nList machine presets (--machine), geometry presets "
               "(--geometry),\nsynthetic workloads (--workload) and trace formats (--trace).\n");
        return 0;
    }
    if (argc > 1)
        return cli_usage("presets: unexpected argument \"%s\"", argv[1]);
    list("machines (--machine; sources in docs/presets.md)", vmsim_machine_names,
         vmsim_machine_help);
    list("geometries (--geometry)", vmsim_geometry_names, vmsim_geometry_help);
    list("workloads (--workload NAME[:k=v,...]; docs/workloads.md)", vmsim_workload_names,
         vmsim_workload_help);
    list("trace formats (--trace [FORMAT:]PATH; docs/traces.md)", vmsim_trace_formats,
         vmsim_trace_format_help);
    return 0;
}
