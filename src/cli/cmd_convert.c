/* `vmsim convert`: read a trace in one format and write it in another,
 * event by event in batches, in constant memory. The formats and their
 * detection live in src/trace/formats.c; this file only parses arguments
 * and reports errors. Called with argv[0] = "convert". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "trace/compress.h"
#include "trace/formats.h"

#define CONVERT_BATCH 4096
/* The formats with a writer (a sink_open in TRACE_FORMATS), "a, b or c". */
static const char *convert_outputs(char *buf, size_t len)
{
    const char *names[16];
    size_t n = 0;
    for (const struct trace_format *f = trace_formats; f->name && n + 1 < 16; f++)
        if (f->sink_open)
            names[n++] = f->name;
    names[n] = NULL;
    cli_join(buf, len, names, " or ");
    return buf;
}

static void convert_help(FILE *f)
{
    fprintf(f,
            "usage: vmsim convert [--from FMT] [--to FMT] [--skip N] [--max N] IN OUT\n"
            "\n"
            "Convert a trace between formats. IN or OUT may be \"-\" (stdin, stdout). OUT\n"
            "ending in .gz, .xz or .zst is written compressed (gzip, xz, zstd -3).\n"
            "  --from FMT  input format: auto (default: decided from the content)");
    for (size_t i = 0; vmsim_trace_formats[i]; i++)
        fprintf(f, ", %s", vmsim_trace_formats[i]);
    char outputs[128];
    fprintf(f, "\n"
               "  --to FMT    output format: %s\n"
               "              (default: bin if OUT ends in .vmt, .vmt.gz, .vmt.xz or\n"
               "              .vmt.zst, else text)\n"
               "  --skip N    leave out the first N access events (keep the other events\n"
               "              among them, as vmsim run --skip)\n"
               "  --max N     stop after N access events\n"
               "  --help      this text\n"
               "\nFormats (docs/traces.md):\n",
            convert_outputs(outputs, sizeof outputs));
    for (size_t i = 0; vmsim_trace_formats[i]; i++)
        fprintf(f, "  %-8s %s\n", vmsim_trace_formats[i], vmsim_trace_format_help[i]);
}

/* Writing OUT truncates it before IN is read: refuse when they are one file. */
static bool convert_same_file(const char *in, const char *out)
{
    struct stat a, b;
    if (strcmp(in, "-") == 0 || strcmp(out, "-") == 0)
        return false;
    return stat(in, &a) == 0 && stat(out, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

static int convert_source_error(const struct vmsim_source_error *e)
{
    return cli_fail("%s: expected %s, found %s", e->where, e->expected, e->found);
}

int cmd_convert(int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, 0, 'f'},
        {"to", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},
        {"skip", required_argument, 0, 's'},
        {"max", required_argument, 0, 'm'},
        {0, 0, 0, 0},
    };
    const char *from = NULL, *to = NULL;
    struct cli_runctl ctl = {0};
    int c;
    cli_options_begin(NULL, argc, argv);
    while ((c = cli_getopt(argc, argv, "+f:t:h", opts, NULL, "convert")) != -1) {
        switch (c) {
        case 'f':
            from = optarg;
            break;
        case 't':
            to = optarg;
            break;
        case 'h':
            convert_help(stdout);
            return 0;
        case 's':
        case 'm':
            if (vmsim_parse_count(optarg, c == 's' ? &ctl.skip : &ctl.max) ||
                (c == 'm' && ctl.max == 0))
                return cli_usage("convert: --%s: expected a number of accesses such as %s250000, "
                                 "250k or 1.5m, found \"%s\"",
                                 c == 's' ? "skip" : "max", c == 's' ? "0, " : "", optarg);
            break;
        default:
            return 2; /* cli_getopt said why */
        }
    }
    if (argc - optind != 2)
        return cli_usage("convert: expected IN and OUT; see `vmsim convert --help`");
    const char *in = argv[optind], *out = argv[optind + 1];

    if (from && strcmp(from, "auto") != 0 && !trace_format_find(from))
        return cli_usage("convert: unknown input format '%s'; see `vmsim convert --help`", from);
    if (to) {
        char outputs[128];
        const struct trace_format *f = trace_format_find(to);
        if (!f)
            return cli_usage("convert: unknown output format '%s' (%s)", to,
                             convert_outputs(outputs, sizeof outputs));
        if (!f->sink_open)
            return cli_usage("convert: %s is an input-only format; --to takes %s", to,
                             convert_outputs(outputs, sizeof outputs));
    }
    if (convert_same_file(in, out))
        return cli_usage("convert: IN and OUT are the same file");
    size_t stem = strlen(out);
    const int comp = strcmp(out, "-") ? comp_kind_of(out, &stem) : DECOMP_NONE;
    if (comp < 0)
        return cli_usage("convert: %s: expected .gz, .xz or .zst for a compressed trace, or "
                         "no compression suffix, found %s (a compression vmsim does not write)",
                         out, strrchr(out, '.'));

    struct vmsim_source_error err;
    struct vmsim_source *src;
    int r = vmsim_source_open_trace(in, from, &src, &err);
    if (r < 0)
        return convert_source_error(&err);
    /* A regular OUT (or a new one) is written as a temporary file beside it
     * and renamed over it only when the conversion succeeded: a failed
     * conversion leaves an existing OUT as it was. The default format
     * follows OUT's name, not the temporary one's (docs/cli.md). */
    struct stat sb;
    const bool exists = strcmp(out, "-") != 0 && stat(out, &sb) == 0;
    const bool via_tmp = strcmp(out, "-") != 0 && (!exists || S_ISREG(sb.st_mode));
    char tmp[4096];
    const char *path = out;
    if (!to || !strcmp(to, "auto")) /* by OUT's name, less a compression suffix */
        to = stem >= 4 && !strncmp(out + stem - 4, ".vmt", 4) ? "bin" : "text";
    if (via_tmp) {
        /* the temporary name ends in OUT's compression suffix, which the
         * writer goes by */
        const char *csuf = out + (comp ? stem : strlen(out));
        if (snprintf(tmp, sizeof tmp, "%s.XXXXXX%s", out, csuf) >= (int)sizeof tmp) {
            vmsim_source_close(src);
            return cli_usage("convert: expected a shorter OUT path, found \"%s\"", out);
        }
        const int fd = mkstemps(tmp, (int)strlen(csuf));
        if (fd < 0) {
            const int e = errno;
            vmsim_source_close(src);
            return cli_fail("cannot write %s: %s", out, strerror(e));
        }
        /* the mode a plain create would give (mkstemp makes 0600), or the
         * existing OUT's */
        const mode_t mask = umask(0);
        umask(mask);
        fchmod(fd, exists ? (sb.st_mode & 07777) : (0666 & ~mask));
        close(fd);
        path = tmp;
    }
    struct vmsim_sink *sink;
    r = vmsim_sink_open(path, to, &sink);
    if (r < 0) {
        int e = errno;
        vmsim_source_close(src);
        if (via_tmp)
            unlink(tmp);
        return cli_fail("cannot write %s: %s", out,
                        r == VMSIM_EIO || r == VMSIM_ENOENT ? strerror(e) : vmsim_strerror(r));
    }

    struct vmsim_event *buf = malloc(CONVERT_BATCH * sizeof *buf);
    int status = 0;
    if (!buf) {
        status = cli_fail("out of memory");
        goto done;
    }
    while (!ctl.done) {
        long n = vmsim_source_next(src, buf, CONVERT_BATCH);
        if (n < 0) {
            status = convert_source_error(vmsim_source_error(src));
            goto done;
        }
        if (n == 0)
            break;
        r = vmsim_sink_write(sink, buf, cli_runctl_filter(&ctl, buf, (size_t)n));
        if (r == VMSIM_EINVAL) {
            status = cli_fail("cannot write %s: the %s format cannot hold an event of %s "
                              "(docs/traces.md says what each format holds)",
                              out, sink->ops->name, in);
            goto done;
        }
        if (r < 0) {
            status = cli_fail("cannot write %s: %s", out,
                              r == VMSIM_EIO ? strerror(errno) : vmsim_strerror(r));
            goto done;
        }
    }
done:
    free(buf);
    vmsim_source_close(src);
    r = vmsim_sink_close(sink);
    if (r < 0 && status == 0)
        status = cli_fail("cannot write %s: %s", out,
                          r == VMSIM_EIO ? strerror(errno) : vmsim_strerror(r));
    if (status == 0 && via_tmp && rename(tmp, out) != 0)
        status = cli_fail("cannot write %s: %s", out, strerror(errno));
    if (status != 0 && via_tmp)
        unlink(tmp); /* no half-converted file left behind; OUT untouched */
    return status;
}
