/* Fuzz the valgrind lackey reader and the format auto-detection: any bytes
 * must give events or a parse error with a line number, never a crash or
 * an overread. Accepted input is lackey's own shape, so the events must be
 * pid 1 accesses of at least one byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_paths.h"
#include "trace/formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_drain(const uint8_t *data, size_t size, const char *fmt, size_t chunk)
{
    struct vmsim_source *src;
    struct vmsim_source_error err;
    if (trace_source_open_mem(data, size, fmt, chunk, &src, &err) < 0)
        return;
    struct vmsim_event ev[37];
    long got;
    bool lackey = strcmp(fmt, "lackey") == 0;
    while ((got = vmsim_source_next(src, ev, 37)) > 0) {
        for (long i = 0; lackey && i < got; i++)
            if (ev[i].type != VMSIM_EV_ACCESS || ev[i].pid != 1 || ev[i].cpu != 0 ||
                ev[i].len == 0 || ev[i].kind > VMSIM_MODIFY)
                abort();
    }
    if (got < 0 && vmsim_source_next(src, ev, 37) != got)
        abort(); /* errors are sticky */
    if (got == 0 && vmsim_source_bytes(src) != size)
        abort(); /* a clean end consumed everything */
    vmsim_source_close(src);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t chunk = size % 5 == 0 ? 0 : size % 5 + 2;
    fuzz_drain(data, size, "lackey", chunk);
    fuzz_drain(data, size, "auto", chunk);
    fuzz_paths_agree(data, size, "lackey");
    return 0;
}
