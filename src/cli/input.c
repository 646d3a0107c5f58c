/* Opening a command's input: a trace file ("[FORMAT:]PATH") or a
 * synthetic workload, with the parser's error printed on failure. */
#include <string.h>

#include "cli/cli.h"

/* Split "[FORMAT:]PATH" when the prefix names a format. */
const char *cli_trace_format(const char *arg, const char **path)
{
    static char fmt[16];
    const char *colon = strchr(arg, ':');
    *path = arg;
    if (!colon || colon - arg >= (long)sizeof fmt)
        return NULL;
    if (colon - arg == 4 && !strncmp(arg, "auto", 4)) { /* docs/traces.md: detect */
        *path = colon + 1;
        return NULL;
    }
    for (const char *const *f = vmsim_trace_formats; *f; f++)
        if ((size_t)(colon - arg) == strlen(*f) && !strncmp(arg, *f, strlen(*f))) {
            memcpy(fmt, arg, (size_t)(colon - arg));
            fmt[colon - arg] = '\0';
            *path = colon + 1;
            return fmt;
        }
    return NULL;
}

/* Open the trace or the workload; on failure print why and return 1 (2
 * for a bad workload spec). */
int cli_open_input(const char *trace, const char *workload, unsigned va_bits,
                   struct vmsim_source **src)
{
    struct vmsim_source_error err = {0};
    int rc;
    if (trace) {
        const char *path;
        const char *fmt = cli_trace_format(trace, &path);
        rc = vmsim_source_open_trace(path, fmt, src, &err);
    } else {
        rc = vmsim_source_open_workload_for(workload, va_bits, src, &err);
    }
    if (rc == 0)
        return 0;
    /* A workload spec is part of the command line: its errors are usage
     * errors (2); a trace that cannot be read is a failed run (1). */
    if (err.where[0] && !trace)
        return cli_usage("%s: expected %s, found %s", err.where, err.expected, err.found);
    if (err.where[0])
        return cli_fail("%s: expected %s, found %s", err.where, err.expected, err.found);
    return cli_fail("cannot open %s: %s", trace ? trace : workload, vmsim_strerror(rc));
}

