/* Fuzz the text parsers of `vmsim sweep` and `vmsim plot`
 * (src/cli/sweep_spec.c, src/cli/plot_data.c). They live with the command
 * line, outside the library this target links, so their sources are
 * compiled in here. The first byte picks the parser:
 *   'A'  an --axis argument: it parses into 1..SWEEP_MAX_VALUES non-empty
 *        values shorter than SWEEP_VALUE_MAX, or fails with a message;
 *   'S'  a workload spec edit and a {NAME} substitution into small buffers:
 *        NUL-terminated output within the buffer, or -1;
 *   else a plot input (sweep CSV or JSON, compare JSON): a table of at least
 *        one row whose every cell is a string and whose axes are columns,
 *        or a failure with a message.
 * Nothing may crash, leak, or read out of bounds; a broken contract aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/plot_data.c"
#include "cli/sweep_spec.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_axis(const char *s)
{
    struct sweep_axis a;
    char err[256] = "";
    if (sweep_axis_parse(s, &a, err, sizeof err) != 0) {
        if (!err[0]) abort();
        return;
    }
    if (!a.key[0] || a.nvalues == 0 || a.nvalues > SWEEP_MAX_VALUES) abort();
    for (size_t i = 0; i < a.nvalues; i++)
        if (!a.values[i][0] || strlen(a.values[i]) >= SWEEP_VALUE_MAX) abort();
    sweep_axis_free(&a);
}

static void check_edit(const char *s)
{
    /* "SPEC\nKEY\nVALUE" */
    char buf[3][256] = {"", "", ""};
    int part = 0;
    size_t n = 0;
    for (const char *p = s; *p && part < 3; p++) {
        if (*p == '\n') {
            part++;
            n = 0;
        } else if (n < 255) {
            buf[part][n++] = *p;
            buf[part][n] = '\0';
        }
    }
    char out[64];
    memset(out, 'x', sizeof out);
    if (sweep_set_param(buf[0], buf[1], buf[2], out, sizeof out) == 0 &&
        !memchr(out, 0, sizeof out))
        abort();
    memset(out, 'x', sizeof out);
    int r = sweep_subst(buf[0], buf[1], buf[2], out, sizeof out);
    if (r >= 0 && !memchr(out, 0, sizeof out)) abort();
    char name[16];
    if (sweep_placeholder(buf[0], name, sizeof name) && !memchr(name, 0, sizeof name)) abort();
    (void)sweep_is_name(buf[1]);
}

static void check_table(const char *s, size_t len)
{
    struct plot_table *t = NULL;
    char err[256] = "";
    if (plot_table_parse(s, len, &t, err, sizeof err) != 0) {
        if (t || !err[0]) abort();
        return;
    }
    if (!t || t->nrows == 0 || t->ncols == 0) abort();
    for (size_t i = 0; i < t->naxes; i++)
        if (t->axes[i] >= t->ncols) abort();
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            double v;
            const char *cell = plot_cell(t, r, c);
            if (!cell) abort();
            (void)plot_number(cell, &v);
        }
    for (size_t c = 0; c < t->ncols; c++)
        if (plot_column(t, t->cols[c]) > (long)c) abort();
    plot_table_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    char *s = malloc(size);
    if (!s) return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    if (data[0] == 'A')
        check_axis(s);
    else if (data[0] == 'S')
        check_edit(s);
    else
        check_table(s, size - 1);
    free(s);
    return 0;
}
