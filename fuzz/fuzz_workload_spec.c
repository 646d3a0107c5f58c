/* Fuzz the workload spec parser (src/trace/synth.c): any byte string, cut at
 * its first NUL, either opens a generator whose first batches can be pulled,
 * or fails with VMSIM_EPARSE / VMSIM_ENOMEM and a filled-in error; what a
 * generator emits is well-formed (a known type, a cpu below VMSIM_MAX_CPUS,
 * a pid, accesses that do not wrap, page-aligned mmaps, and every access
 * and mapping inside the address space it was opened for: a width from 20
 * to 64 bits taken from the input's length, unless the spec sets va_bits
 * itself). Nothing
 * may crash, leak, or read out of bounds; a broken contract aborts so that
 * libFuzzer reports it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmsim/event.h"
#include "vmsim/types.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *spec = malloc(size + 1);
    if (!spec)
        return 0;
    memcpy(spec, data, size);
    spec[size] = '\0';

    struct vmsim_source *src = (struct vmsim_source *)spec; /* must be reset */
    struct vmsim_source_error err;
    const unsigned bits = 20 + (unsigned)(size % 45);
    const uint64_t last = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
    const int own_width = strstr(spec, "va_bits=") != NULL;
    int rc = vmsim_source_open_workload_for(spec, bits, &src, &err);
    if (rc != 0) {
        if (src != NULL || (rc != VMSIM_EPARSE && rc != VMSIM_ENOMEM))
            abort();
        if (rc == VMSIM_EPARSE &&
            (strcmp(err.where, "workload") != 0 || !err.expected[0] || !err.found[0]))
            abort();
        free(spec);
        return 0;
    }
    /* A few batches of awkward sizes; every event must be well-formed. */
    static const size_t sizes[] = {1, 7, 4096, 3};
    static struct vmsim_event buf[4096];
    for (size_t b = 0; b < sizeof sizes / sizeof sizes[0]; b++) {
        long got = vmsim_source_next(src, buf, sizes[b]);
        if (got < 0 || (size_t)got > sizes[b])
            abort();
        for (long i = 0; i < got; i++) {
            const struct vmsim_event *e = &buf[i];
            if (e->type >= VMSIM_EV_NTYPES || e->cpu >= VMSIM_MAX_CPUS || e->pid == 0 ||
                (e->type == VMSIM_EV_ACCESS && (e->len == 0 || e->addr + (e->len - 1) < e->addr)))
                abort();
            /* the OS workloads map whole pages, user, below 2^47; private
             * but for smp's shared region */
            if (e->type == VMSIM_EV_MMAP &&
                (e->len == 0 || (e->addr | e->len) % 4096 ||
                 (e->kind & ~(7u | VMSIM_MAP_SHARED)) ||
                 e->addr + e->len > (UINT64_C(1) << 47) || e->addr + e->len < e->addr))
                abort();
            if (e->type == VMSIM_EV_FORK && (e->addr == 0 || e->addr > UINT32_MAX))
                abort();
            if (!own_width && (e->type == VMSIM_EV_ACCESS || e->type == VMSIM_EV_MMAP) &&
                (e->addr > last || e->len - 1 > last - e->addr))
                abort();
        }
        if (got == 0)
            break;
    }
    vmsim_source_close(src);
    free(spec);
    return 0;
}
