/* Reporters: they read a simulator's counters and configuration and write
 * them out, as a human summary or as JSON. They never change the machine.
 * Every number written is defined in docs/stats.md. */
#ifndef VMSIM_REPORT_REPORT_H
#define VMSIM_REPORT_REPORT_H

#include <stdio.h>

#include "vmsim/vmsim.h"

/* The human summary. */
void report_text(const struct vmsim *sim, const char *source, FILE *out);
/* The JSON document (statistics and the effective configuration) is the
 * public vmsim_write_json, written here. */
/* How a run ended, for a result file that must say when it is partial:
 * stopped is NULL when the input was read to its end, else why not
 * ("SIGINT", "SIGTERM", "trace error", "event error"); warnings are lines
 * about options that had no effect (docs/stats.md, "How the run ended"). */
struct report_outcome {
    const char *stopped;
    const char *const *warnings;
    unsigned nwarnings;
    /* the command line, written as "argv" (NULL: not written) */
    int argc;
    const char *const *argv;
};
/* The version of the JSON document's layout, "vmsim.schema": raised when a
 * key is renamed or removed or changes meaning or unit (docs/stats.md,
 * "Provenance"); new keys leave it. */
#define REPORT_JSON_SCHEMA 1
/* vmsim_write_json with "complete", "stopped_by" and "warnings"; o may be NULL
 * (complete, no warnings). */
int report_json_outcome(const struct vmsim *sim, const char *source,
                        const struct report_outcome *o, FILE *out);
/* The "config" object of the JSON document alone, as a file that
 * vmsim_config_from_json reads back (`vmsim presets --dump`). */
int report_config_dump(const struct vmsim_config *cfg, FILE *out);
/* Format a byte count as "12 KiB", "1.5 MiB" into buf. */
const char *report_bytes(uint64_t bytes, char *buf, size_t len);

#endif
