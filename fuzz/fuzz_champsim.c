/* Fuzz the ChampSim binary trace reader: any bytes must give events or an
 * error at a byte offset, never a crash or an overread. Each whole record
 * of a valid prefix gives 1 to 7 events, a fetch first; a clean end of a
 * plain input means its size was a multiple of 64. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/decompress.h"
#include "trace/formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t chunk = size % 5 == 0 ? 0 : size % 5 + 2;
    struct vmsim_source *src;
    struct vmsim_source_error err;
    if (trace_source_open_mem(data, size, "champsim", chunk, &src, &err) < 0)
        return 0;
    struct vmsim_event ev[11];
    long got;
    size_t fetches = 0, n = 0;
    while ((got = vmsim_source_next(src, ev, 1 + n % 11)) > 0) {
        for (long i = 0; i < got; i++) {
            if (ev[i].type != VMSIM_EV_ACCESS || ev[i].pid != 1 || ev[i].len != 1 ||
                ev[i].kind == VMSIM_MODIFY || (n == 0 && ev[i].kind != VMSIM_FETCH))
                abort();
            if (ev[i].kind == VMSIM_FETCH)
                fetches++;
            else if (ev[i].addr == 0)
                abort(); /* a zero operand is an empty slot */
            n++;
        }
    }
    if (got < 0 && (vmsim_source_next(src, ev, 1) != got || !strstr(src->err.where, "byte ")))
        abort();
    if (got == 0 && vmsim_source_bytes(src) != size)
        abort();
    bool plain = decomp_sniff(data, size) == DECOMP_NONE; /* else records are decompressed bytes */
    if (got == 0 && plain && (size % 64 != 0 || fetches != size / 64))
        abort();
    if (n > fetches * 7)
        abort();
    vmsim_source_close(src);
    return 0;
}
