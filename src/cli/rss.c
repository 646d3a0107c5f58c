/* vmsim's own memory on the host, kept under a limit (--max-rss), so that a
 * run too large for the machine stops cleanly with its statistics and JSON
 * instead of being killed by the kernel's OOM killer, which loses all.
 *
 * What is measured is the resident set (/proc/self/statm, second field):
 * the memory the kernel would have to find, which is what the OOM killer
 * weighs. It grows with the simulated state (docs/cli.md measures about
 * 100 bytes per resident simulated data page and 4.2 KiB per radix
 * page-table page), so it is read between batches, at most every
 * RSS_PERIOD seconds: reading /proc costs ~10 us, a batch ~0.5 ms, and a
 * clock read per batch ~20 ns. The fastest growth measured, a new
 * page-table page per access, is ~650 MB/s, so a run stops at most ~13 MB
 * past the limit. The default limit is 3/4 of the memory the
 * kernel reported available (MemAvailable) when the run started: what the
 * machine could give vmsim then, less a margin for everything else. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#define RSS_PERIOD 0.02 /* seconds between reads of /proc */

/* MemAvailable from /proc/meminfo in bytes, 0 when unknown. */
static uint64_t mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return (uint64_t)kb << 10;
}

uint64_t cli_rss_default(void) { return mem_available() / 4 * 3; }

uint64_t cli_rss_now(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, resident = 0;
    const bool ok = f && fscanf(f, "%llu %llu", &size, &resident) == 2;
    if (f)
        fclose(f);
    return ok ? (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

bool cli_rss_over(struct cli_rss *r)
{
    if (!r->limit)
        return false;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    const double t = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    if (t < r->next)
        return false;
    r->next = t + RSS_PERIOD;
    r->last = cli_rss_now();
    return r->last > r->limit;
}
