/* The reverse map (see rmap.h). */
#include "os/rmap.h"
#include "util/grow.h"

void rmap_fini(struct rmap *r)
{
    grow_big_free(r->e, r->cap, sizeof *r->e);
    *r = (struct rmap){0};
}

static int rmap_new(struct rmap *r, uint32_t *out)
{
    if (r->free) {
        *out = r->free;
        r->free = r->e[r->free].next;
        return VMSIM_OK;
    }
    if (r->n == 0)
        r->n = 1;
    if (r->n == UINT32_MAX) /* the links are 32-bit */
        return VMSIM_ENOMEM;
    struct rmap_entry *e = grow_big(r->e, &r->cap, r->n, sizeof *e, 4096);
    if (!e)
        return VMSIM_ENOMEM;
    r->e = e;
    *out = r->n++;
    return VMSIM_OK;
}

int rmap_add(struct rmap *r, struct frame *f, uint32_t proc, vmsim_vaddr_t va, unsigned level)
{
    uint32_t i;
    int rc = rmap_new(r, &i);
    if (rc)
        return rc;
    r->e[i] = (struct rmap_entry){proc, f->rmap, (va & ~RMAP_LEVEL_MASK) | level};
    f->rmap = i;
    r->live++;
    return VMSIM_OK;
}

void rmap_clear(struct rmap *r, struct frame *f)
{
    while (f->rmap) {
        uint32_t i = f->rmap;
        f->rmap = r->e[i].next;
        r->e[i].next = r->free;
        r->free = i;
        r->live--;
    }
}

bool rmap_del(struct rmap *r, struct frame *f, uint32_t proc, vmsim_vaddr_t va)
{
    for (uint32_t *pi = &f->rmap; *pi; pi = &r->e[*pi].next) {
        struct rmap_entry *e = &r->e[*pi];
        if (e->proc == proc && rmap_va(e) == (va & ~RMAP_LEVEL_MASK)) {
            uint32_t i = *pi;
            *pi = e->next;
            e->next = r->free;
            r->free = i;
            r->live--;
            return true;
        }
    }
    return false;
}
