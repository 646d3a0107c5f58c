/* The parts of vmsim_bench (bench/bench.c has the others). */
#ifndef VMSIM_BENCH_BENCH_H
#define VMSIM_BENCH_BENCH_H

#include <stdbool.h>

#include "vmsim/vmsim.h"

/* threads.c: the --threads scaling table (csv: for bench/threads.sh). */
int bench_threads(bool csv);

#endif
