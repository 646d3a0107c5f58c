/* Fuzz the configuration reader (src/report/config_read.c,
 * vmsim_config_from_json: `vmsim run --config FILE`).
 *
 * Input: one selector byte, then JSON text. The selector's low two bits
 * choose the length of the `why` buffer (0, 1, 9 or 512 bytes).
 *
 * Contracts checked (abort() so that libFuzzer reports them):
 *  - a failed read leaves the config untouched and, given room, says why
 *    in a NUL-terminated, non-empty message that names a place: the key
 *    path ("config...") or, for text that is not JSON, "line N";
 *  - an accepted config passes vmsim_geometry_check (guest and host);
 *  - writing it out (report_config_dump, the JSON report's config object)
 *    and reading that back is accepted and is a fixed point: the second
 *    write is the first, byte for byte. This is the round trip that
 *    `vmsim run --config out.json` relies on, for any value the reader
 *    lets in. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "vmsim/vmsim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* report_config_dump into a string (free). */
static char *dump(const struct vmsim_config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        abort();
    if (report_config_dump(cfg, f) != VMSIM_OK)
        abort();
    fclose(f);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 64 * 1024)
        return 0;
    static const size_t whylens[] = {0, 1, 9, 512};
    const size_t whylen = whylens[data[0] & 3];
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    struct vmsim_config cfg, was;
    vmsim_config_default(&cfg);
    was = cfg;
    char why[512];
    memset(why, 'x', sizeof why);
    const int rc = vmsim_config_from_json(text, &cfg, whylen ? why : NULL, whylen);
    if (rc != VMSIM_OK) {
        if (memcmp(&cfg, &was, sizeof cfg))
            abort();
        if (whylen && !memchr(why, '\0', whylen))
            abort();
        if (whylen == sizeof why && (!why[0] || (strncmp(why, "config", 6) && strncmp(why, "line ", 5))))
            abort();
        free(text);
        return 0;
    }
    char gwhy[160];
    if (vmsim_geometry_check(&cfg.geom, gwhy, sizeof gwhy) ||
        (cfg.nested.on && vmsim_geometry_check(&cfg.nested.geom, gwhy, sizeof gwhy)))
        abort();
    char *first = dump(&cfg);
    struct vmsim_config again;
    vmsim_config_default(&again);
    if (vmsim_config_from_json(first, &again, why, sizeof why) != VMSIM_OK) {
        fprintf(stderr, "its own output refused: %s\n%s\n", why, first);
        abort();
    }
    char *second = dump(&again);
    if (strcmp(first, second)) {
        fprintf(stderr, "not a fixed point:\n%s\n---\n%s\n", first, second);
        abort();
    }
    free(first);
    free(second);
    free(text);
    return 0;
}
