/* vmsim sweep --merge (docs/cli.md, "Shards"): the --json outputs of the
 * shards of one sweep (--shard I/N, run by a Slurm array, GNU parallel or
 * by hand) joined into the outputs the sweep would have written in one go.
 *
 * A shard's JSON names its sweep (base options, input, axes, the number of
 * points) and its shard; the files must name the same sweep, and their rows
 * must hold every point exactly once: a missing shard, a shard given twice
 * or shards of two sweeps are errors that name the files and the points. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/sweep.h"

/* The sweep object of a shard without what differs between shards. */
static json_t *identity(json_t *sweep)
{
    json_t *id = json_deep_copy(sweep);
    json_object_del(id, "shard");
    json_object_del(id, "jobs");
    return id;
}

int sweep_merge(int n, char **files, const char *csv, const char *json, bool quiet)
{
    if (n < 1)
        return cli_usage("sweep --merge: expected the --json outputs of the shards, found no "
                         "file");
    struct sweep s = {.journal = -1};
    json_t *id = NULL, **docs = calloc((size_t)n, sizeof *docs);
    size_t *from = NULL; /* the file that gave each point */
    int rc = 0;
    json_int_t jobs = 0;
    double wall = 0;
    if (!docs) return cli_fail("out of memory");
    for (int f = 0; f < n && rc == 0; f++) {
        json_error_t e;
        docs[f] = json_load_file(files[f], 0, &e);
        if (!docs[f]) {
            rc = cli_fail("sweep --merge: %s: line %d: %s", files[f], e.line, e.text);
            break;
        }
        json_t *sw = json_object_get(docs[f], "sweep"), *rows = json_object_get(docs[f], "rows");
        const json_t *points = json_object_get(sw, "points");
        if (!json_is_object(sw) || !json_is_array(rows) || !json_is_integer(points) ||
            json_integer_value(points) < 1 || json_integer_value(points) > SWEEP_MAX_POINTS) {
            rc = cli_fail("sweep --merge: %s: expected the --json output of `vmsim sweep` (an "
                          "object with \"sweep\" and \"rows\"), found something else",
                          files[f]);
            break;
        }
        json_t *this = identity(sw);
        if (!id) {
            id = this;
            s.npoints = (size_t)json_integer_value(points);
            s.rows = calloc(s.npoints, sizeof *s.rows);
            from = calloc(s.npoints, sizeof *from);
            if (!s.rows || !from) rc = cli_fail("out of memory");
        } else {
            const bool same = json_equal(id, this);
            json_decref(this);
            if (!same) {
                rc = cli_fail("sweep --merge: %s and %s: expected shards of one sweep (the same "
                              "options, input and axes), found two sweeps",
                              files[0], files[f]);
                break;
            }
        }
        const json_int_t j = json_integer_value(json_object_get(sw, "jobs"));
        jobs = j > jobs ? j : jobs;
        const double w = json_number_value(json_object_get(docs[f], "wall_s"));
        wall = w > wall ? w : wall;
        s.ran += (size_t)json_integer_value(json_object_get(docs[f], "ran"));
        s.nresumed += (size_t)json_integer_value(json_object_get(docs[f], "resumed"));
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row)
        {
            const json_t *pt = json_object_get(row, "point");
            const json_int_t p = json_is_integer(pt) ? json_integer_value(pt) : -1;
            if (p < 0 || (size_t)p >= s.npoints) {
                rc = cli_fail("sweep --merge: %s: row %zu: expected a point from 0 to %zu, "
                              "found %s",
                              files[f], i, s.npoints - 1, json_is_integer(pt) ? "another" : "none");
                break;
            }
            if (s.rows[p]) {
                rc = cli_fail("sweep --merge: point %lld is in %s and in %s: expected each "
                              "point once (a shard given twice?)",
                              (long long)p, files[from[p]], files[f]);
                break;
            }
            s.rows[p] = json_incref(row);
            from[p] = (size_t)f;
            const char *st = json_string_value(json_object_get(row, "status"));
            if (st && !strcmp(st, "ok"))
                s.ok++;
            else
                s.failed++;
        }
    }
    if (rc == 0) {
        size_t missing = 0, first = 0;
        for (size_t p = s.npoints; p-- > 0;)
            if (!s.rows[p]) missing++, first = p;
        if (missing)
            rc = cli_fail("sweep --merge: expected every one of the %zu points, found %zu "
                          "missing (the first: point %zu; a shard left out, or one that did "
                          "not finish?)",
                          s.npoints, missing, first);
    }
    if (rc == 0) {
        s.header = json_incref(id);
        const struct sweep_outputs o = {csv, json, NULL, NULL, NULL};
        rc = sweep_write_outputs(&s, &o, (unsigned)jobs, wall);
        if (rc == 0 && s.failed) rc = 1;
        if (!quiet || s.failed)
            fprintf(stderr, "vmsim: sweep --merge: %d files, %zu points: %zu ok, %zu failed\n", n,
                    s.npoints, s.ok, s.failed);
    }
    if (s.rows)
        for (size_t p = 0; p < s.npoints; p++)
            json_decref(s.rows[p]);
    free(s.rows);
    free(from);
    json_decref(s.header);
    json_decref(id);
    for (int f = 0; f < n; f++)
        json_decref(docs[f]);
    free(docs);
    return rc;
}
