/* The one list of page-table organizations. Adding one is an entry here
 * plus its file. */
#include <string.h>

#include "pt/pt.h"

static const struct pt_ops *const organizations[] = {
    &pt_radix_ops, &pt_hashed_ops, &pt_ppc_ops,  &pt_inverted_ops,
    &pt_clustered_ops, &pt_cuckoo_ops, &pt_flat_ops,
};

const char *const vmsim_pt_names[] = {"radix",     "hashed", "ppc",  "inverted",
                                      "clustered", "cuckoo", "flat", NULL};

const struct pt_ops *pt_find(const char *spec, const char **params)
{
    const char *colon = strchr(spec, ':');
    const size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    for (size_t i = 0; i < sizeof organizations / sizeof organizations[0]; i++)
        if (strlen(organizations[i]->name) == n && !strncmp(organizations[i]->name, spec, n)) {
            if (params)
                *params = colon ? colon + 1 : "";
            return organizations[i];
        }
    return NULL;
}

void pt_fp_part(struct vmsim_pt_footprint *fp, const char *name, uint64_t bytes)
{
    unsigned i = 0;
    while (i < fp->nparts && strcmp(fp->part[i].name, name) != 0)
        i++;
    if (i == fp->nparts) {
        if (i == VMSIM_PT_PARTS)
            return;
        fp->nparts++;
        strncpy(fp->part[i].name, name, sizeof fp->part[i].name - 1);
    }
    fp->part[i].bytes += bytes;
}
