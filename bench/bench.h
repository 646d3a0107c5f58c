/* The parts of vmsim_bench (bench/bench.c has the others). */
#ifndef VMSIM_BENCH_BENCH_H
#define VMSIM_BENCH_BENCH_H

#include <stdbool.h>

#include "vmsim/vmsim.h"

/* threads.c: the --threads scaling table (csv: for bench/threads.sh). */
int bench_threads(bool csv);
/* churn.c: huge-page coverage over churn, compaction off and on (csv);
 * spec NULL and mem_mib 0: the figure's. */
int bench_churn(const char *spec, uint64_t mem_mib);

#endif
