/* Fuzz the /proc maps and smaps parsers of `vmsim snapshot`
 * (src/trace/snapshot.c). Any bytes must give mappings or an error naming
 * "file:line" with what was expected and what was found, never a crash or
 * an overread. What maps accepts must be sorted, non-overlapping and
 * page-aligned, and must read back the same after being written out again
 * in the kernel's format. The same bytes also go through the smaps parser,
 * against the mappings maps gave. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(const struct vmsim_source_error *err, const char *file, size_t size)
{
    size_t n = strlen(file);
    if (strncmp(err->where, file, n) != 0 || err->where[n] != ':')
        abort();
    unsigned long line = strtoul(err->where + n + 1, NULL, 10);
    if (line == 0 || line > size + 1 || !err->expected[0] || !err->found[0])
        abort();
}

/* Write the mappings out as the kernel does and parse them again. */
static void round_trip(const struct snapshot *s)
{
    size_t cap = 128 * (s->nvma + 1), len = 0;
    char *text = malloc(cap);
    for (size_t i = 0; i < s->nvma; i++) {
        const struct snapshot_vma *v = &s->vma[i];
        size_t need = len + 128 + strlen(v->name);
        if (need > cap)
            text = realloc(text, cap = 2 * need);
        len += (size_t)snprintf(text + len, cap - len, "%llx-%llx %s %08llx %02x:%02x %llu %s\n",
                                (unsigned long long)v->start, (unsigned long long)v->end, v->perms,
                                (unsigned long long)v->offset, v->dev_major, v->dev_minor,
                                (unsigned long long)v->inode, v->name);
    }
    struct snapshot t;
    struct vmsim_source_error err;
    snapshot_init(&t);
    if (snapshot_parse_maps(&t, text, len, "again", &err) != 0 || t.nvma != s->nvma)
        abort();
    for (size_t i = 0; i < s->nvma; i++) {
        const struct snapshot_vma *a = &s->vma[i], *b = &t.vma[i];
        if (a->start != b->start || a->end != b->end || a->offset != b->offset ||
            a->inode != b->inode || a->dev_major != b->dev_major || a->dev_minor != b->dev_minor ||
            strcmp(a->perms, b->perms) != 0 || strcmp(a->name, b->name) != 0 ||
            a->flags != b->flags)
            abort();
    }
    snapshot_free(&t);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct snapshot s;
    struct vmsim_source_error err;
    snapshot_init(&s);
    memset(&err, 0, sizeof err);
    int rc = snapshot_parse_maps(&s, text, size, "maps", &err);
    if (rc == VMSIM_EPARSE)
        check_error(&err, "maps", size);
    else if (rc != 0)
        abort();
    for (size_t i = 0; i < s.nvma; i++) {
        const struct snapshot_vma *v = &s.vma[i];
        if (v->start >= v->end || ((v->start | v->end) & 4095) ||
            (i > 0 && v->start < s.vma[i - 1].end) || strchr(v->name, '\n'))
            abort();
    }
    if (rc == 0 && s.nvma > 0)
        round_trip(&s);
    memset(&err, 0, sizeof err);
    rc = snapshot_parse_smaps(&s, text, size, "smaps", &err);
    if (rc == VMSIM_EPARSE)
        check_error(&err, "smaps", size);
    else if (rc != 0)
        abort();
    for (size_t i = 0; i < s.nvma; i++)
        if (s.vma[i].page_shift < 12 || s.vma[i].page_shift > 52)
            abort();
    snapshot_free(&s);
    return 0;
}
