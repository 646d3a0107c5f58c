/* The plan for OPT replacement (vmsim_plan): for each access of the run,
 * the number of the next access that touches the same page of the same
 * process (UINT64_MAX: none). Built in one pass over the events before the
 * run; a table maps (pid, base page) to the last access seen there.
 *
 * The time of a reference is the number of the access (0, 1, ...); an
 * access that crosses into a second page counts for its first page. */
#include <stdlib.h>
#include <string.h>

#include "os/kernel.h"
#include "util/grow.h"

struct plan_slot {
    uint64_t vpn;
    uint64_t last; /* access number + 1; 0: empty slot */
    uint32_t pid;
};

struct plan {
    struct plan_slot *slot;
    uint64_t cap, used; /* cap a power of two */
};

static uint64_t hash(uint32_t pid, uint64_t vpn)
{
    return (vpn * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)pid * 0xc2b2ae3d27d4eb4full);
}

static struct plan_slot *find(struct plan *pl, uint32_t pid, uint64_t vpn)
{
    for (uint64_t i = hash(pid, vpn) & (pl->cap - 1);; i = (i + 1) & (pl->cap - 1)) {
        struct plan_slot *s = &pl->slot[i];
        if (!s->last || (s->pid == pid && s->vpn == vpn))
            return s;
    }
}

static int grow(struct plan *pl)
{
    struct plan old = *pl;
    pl->cap = old.cap ? old.cap * 2 : 4096;
    pl->slot = calloc(pl->cap, sizeof *pl->slot);
    if (!pl->slot) {
        *pl = old;
        return VMSIM_ENOMEM;
    }
    for (uint64_t i = 0; i < old.cap; i++)
        if (old.slot[i].last)
            *find(pl, old.slot[i].pid, old.slot[i].vpn) = old.slot[i];
    free(old.slot);
    return VMSIM_OK;
}

void plan_free(struct plan *pl)
{
    if (pl)
        free(pl->slot);
    free(pl);
}

int kernel_plan(struct kernel *k, const struct vmsim_event *ev, size_t n)
{
    struct reclaim *r = &k->rc;
    if (!k->plan && !(k->plan = calloc(1, sizeof *k->plan)))
        return VMSIM_ENOMEM;
    struct plan *pl = k->plan;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].type != VMSIM_EV_ACCESS)
            continue;
        uint64_t *o = grow_array(r->oracle, &r->oracle_cap, r->noracle, sizeof *o, 4096, 0);
        if (!o)
            return VMSIM_ENOMEM;
        r->oracle = o;
        if (2 * (pl->used + 1) > pl->cap && grow(pl))
            return VMSIM_ENOMEM;
        const uint64_t now = r->noracle++;
        r->oracle[now] = UINT64_MAX;
        struct plan_slot *s = find(pl, ev[i].pid, ev[i].addr >> k->phys->page_shift);
        if (s->last)
            r->oracle[s->last - 1] = now;
        else
            pl->used++;
        *s = (struct plan_slot){ev[i].addr >> k->phys->page_shift, now + 1, ev[i].pid};
    }
    return VMSIM_OK;
}
