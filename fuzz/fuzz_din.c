/* Fuzz the Dinero IV readers (din and xdin) and auto-detection: any bytes
 * must give events or an error with a line number, never a crash or an
 * overread. Whatever a reader accepts is pid 1 accesses of at least one
 * byte (din: 4-byte words), and it must survive its own writer and reader
 * unchanged except that the writer keeps no modify kind. */
#include "fuzz_paths.h"
#include "fuzz_trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_format(const uint8_t *data, size_t size, const char *fmt, size_t chunk)
{
    struct vmsim_event *evs;
    size_t n = fuzz_read(data, size, fmt, chunk, &evs);
    bool din = strcmp(fmt, "din") == 0;
    for (size_t i = 0; i < n; i++) {
        const struct vmsim_event *e = &evs[i];
        if (e->type != VMSIM_EV_ACCESS || e->pid != 1 || e->cpu != 0 || e->len == 0 ||
            e->kind == VMSIM_MODIFY || (din && (e->len != 4 || e->addr % 4 != 0)))
            abort();
    }
    fuzz_round_trip(fmt, evs, n);
    free(evs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t chunk = size % 5 == 0 ? 0 : size % 5 + 2;
    fuzz_format(data, size, "din", chunk);
    fuzz_format(data, size, "xdin", chunk);
    fuzz_paths_agree(data, size, "din");
    fuzz_paths_agree(data, size, "xdin");
    struct vmsim_event *evs;
    free((fuzz_read(data, size, "auto", chunk, &evs), evs));
    return 0;
}
