/* Fuzz the Intel Pin pinatrace reader and auto-detection: any bytes must
 * give events or an error with a line number, never a crash or an
 * overread. Accepted events are pid 1 reads and writes of at least one
 * byte, and they survive the pin writer and reader unchanged. */
#include "fuzz_paths.h"
#include "fuzz_trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t chunk = size % 5 == 0 ? 0 : size % 5 + 2;
    struct vmsim_event *evs;
    size_t n = fuzz_read(data, size, "pin", chunk, &evs);
    for (size_t i = 0; i < n; i++)
        if (evs[i].type != VMSIM_EV_ACCESS || evs[i].pid != 1 || evs[i].cpu != 0 ||
            evs[i].len == 0 || (evs[i].kind != VMSIM_READ && evs[i].kind != VMSIM_WRITE))
            abort();
    fuzz_round_trip("pin", evs, n);
    fuzz_paths_agree(data, size, "pin");
    free(evs);
    free((fuzz_read(data, size, "auto", chunk, &evs), evs));
    return 0;
}
