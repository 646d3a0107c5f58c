/* Reading sweep outputs back in the sweep tests (test_sweep, test_sweep_mpi,
 * test_sweep_shard), through the plot's own table reader: include after
 * "cli/plot_data.c". */
#ifndef VMSIM_TESTS_SWEEPTABLES_H
#define VMSIM_TESTS_SWEEPTABLES_H

static inline struct plot_table *load_table(const char *path)
{
    size_t len;
    char *text = read_file(path, &len);
    if (!text)
        fail_msg("%s: not written", path);
    struct plot_table *t;
    char err[256];
    if (plot_table_parse(text, len, &t, err, sizeof err))
        fail_msg("%s: %s", path, err);
    free(text);
    return t;
}

/* Two tables equal in every cell but the timing columns. */
static inline void assert_same_rows(const struct plot_table *a, const struct plot_table *b)
{
    assert_int_equal(a->ncols, b->ncols);
    assert_int_equal(a->nrows, b->nrows);
    for (size_t c = 0; c < a->ncols; c++) {
        assert_string_equal(a->cols[c], b->cols[c]);
        if (!strcmp(a->cols[c], "elapsed_s") || !strcmp(a->cols[c], "cpu_s"))
            continue;
        for (size_t r = 0; r < a->nrows; r++)
            if (strcmp(plot_cell(a, r, c), plot_cell(b, r, c)))
                fail_msg("row %zu, %s: \"%s\" vs \"%s\"", r, a->cols[c], plot_cell(a, r, c),
                         plot_cell(b, r, c));
    }
}

/* The cell of column col in row; fails the test when there is no such column. */
static inline const char *cell(const struct plot_table *t, size_t row, const char *col)
{
    const long c = plot_column(t, col);
    if (c < 0)
        fail_msg("no column %s", col);
    return plot_cell(t, row, (size_t)c);
}

/* Lines of the file at path; 0 when it cannot be read (a journal not yet
 * written). */
static inline size_t count_lines(const char *path)
{
    size_t n = 0, len;
    char *text = read_file(path, &len);
    if (!text)
        return 0;
    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    free(text);
    return n;
}

#endif
