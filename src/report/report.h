/* Reporters: they read a simulator's counters and configuration and write
 * them out, as a human summary or as JSON. They never change the machine.
 * Every number written is defined in docs/stats.md. */
#ifndef VMSIM_REPORT_REPORT_H
#define VMSIM_REPORT_REPORT_H

#include <stdio.h>

#include "vmsim/vmsim.h"

/* The human summary. */
void report_text(const struct vmsim *sim, const char *source, FILE *out);
/* The JSON document: statistics and the effective configuration. Returns
 * 0 or VMSIM_EIO / VMSIM_ENOMEM. */
int report_json(const struct vmsim *sim, const char *source, FILE *out);
/* Format a byte count as "12 KiB", "1.5 MiB" into buf. */
const char *report_bytes(uint64_t bytes, char *buf, size_t len);

#endif
