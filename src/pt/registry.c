/* The one list of page-table organizations (PT_ORGANIZATIONS). Adding one
 * is its file plus one X() entry here. Also the helpers every
 * organization's option parser shares, and the count of failed entry
 * publications (pt.h) those that run on threads share. */
#include <stdio.h>
#include <string.h>

#include "pt/pt.h"
#include "util/kv.h"

/* X(name): the organization whose ops are pt_NAME_ops, named NAME (its
 * ops->name says the same; test_registries checks it). The lookup table
 * and vmsim_pt_names both come from this list. */
#define PT_ORGANIZATIONS(X) X(radix) X(hashed) X(ppc) X(inverted) X(clustered) X(cuckoo) X(flat)

#define PT_DECL(n) extern const struct pt_ops pt_##n##_ops; /* in its own file */
PT_ORGANIZATIONS(PT_DECL)

#define PT_OPS(n) &pt_##n##_ops,
#define PT_NAME(n) #n,
static const struct pt_ops *const organizations[] = {PT_ORGANIZATIONS(PT_OPS)};
const char *const vmsim_pt_names[] = {PT_ORGANIZATIONS(PT_NAME) NULL};

_Thread_local uint64_t pt_cas_retries;

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

int pt_opt_bad(char *why, size_t len, const char *what, const char *val, size_t n)
{
    if (why && len)
        snprintf(why, len, "%s, found \"%.*s\"", what, (int)n, val);
    return VMSIM_EINVAL;
}

int pt_opt_split(const char *s, size_t n, const char *usage, size_t *klen, char val[64],
                 char *why, size_t len)
{
    struct kv kv;
    kv_split(s, n, &kv);
    if (!kv.val)
        return pt_opt_bad(why, len, usage, s, n);
    *klen = kv.klen;
    if (!kv_value(&kv, val, 64))
        return pt_opt_bad(why, len, "an option value", s, n);
    return VMSIM_OK;
}

int pt_opt_each(const char *params, int (*item)(const char *s, size_t n, void *ctx, char *why,
                                                size_t len),
                void *ctx, char *why, size_t len)
{
    /* "" is no options, and a trailing comma ends the list */
    for (const char *s = params ? params : ""; s && *s;) {
        struct kv kv;
        const char *next = kv_next(s, &kv);
        const int rc = item(kv.s, kv.len, ctx, why, len);
        if (rc)
            return rc;
        s = next;
    }
    return VMSIM_OK;
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
