/* Radix page-table geometries: the presets of real ISAs and a parser for
 * custom ones. Sources, per preset, are in docs/presets.md:
 *  - Intel SDM Vol. 3A ch. 4: 32-bit paging (2 levels of 10 bits, 4-byte
 *    entries, 4 MiB pages with PSE), PAE (2+9+9 bits, 8-byte entries, 2 MiB
 *    pages), 4-level (9x4, 48-bit, 2 MiB and 1 GiB pages), 5-level / LA57
 *    (9x5, 57-bit, no 512 GiB pages).
 *  - RISC-V Privileged Architecture, Sv39/Sv48/Sv57: 9 bits per level,
 *    8-byte entries, a leaf at any level.
 *  - Arm ARM, VMSAv8-64, 48-bit input: 4 KiB granule 9x4 (2 MiB and 1 GiB
 *    blocks), 16 KiB granule 1+11x3 (32 MiB blocks), 64 KiB granule 6+13+13
 *    (512 MiB blocks; 4 TiB level-1 blocks need LPA, not modelled). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/kv.h"
#include "vmsim/vmsim.h"

#define LV(k) (1u << (k)) /* leaf_levels bit for level k */

struct geometry_preset {
    struct vmsim_geometry g;
    const char *help;
};

static const struct geometry_preset presets[] = {
    {{"x86-64", 48, 12, 4, 8, {9, 9, 9, 9}, LV(1) | LV(2) | LV(3)},
     "x86-64 4-level paging, 48-bit, 4K/2M/1G pages"},
    {{"x86-64-5l", 57, 12, 5, 8, {9, 9, 9, 9, 9}, LV(1) | LV(2) | LV(3)},
     "x86-64 5-level paging (LA57), 57-bit, 4K/2M/1G pages"},
    {{"x86-32", 32, 12, 2, 4, {10, 10}, LV(1) | LV(2)},
     "x86 32-bit paging, 2 levels, 4-byte entries, 4K/4M (PSE) pages"},
    {{"x86-pae", 32, 12, 3, 8, {2, 9, 9}, LV(1) | LV(2)},
     "x86 PAE paging, 3 levels, 8-byte entries, 4K/2M pages"},
    {{"sv39", 39, 12, 3, 8, {9, 9, 9}, LV(1) | LV(2) | LV(3)},
     "RISC-V Sv39, 3 levels, 4K/2M/1G pages"},
    {{"sv48", 48, 12, 4, 8, {9, 9, 9, 9}, LV(1) | LV(2) | LV(3) | LV(4)},
     "RISC-V Sv48, 4 levels, 4K/2M/1G/512G pages"},
    {{"sv57", 57, 12, 5, 8, {9, 9, 9, 9, 9}, LV(1) | LV(2) | LV(3) | LV(4) | LV(5)},
     "RISC-V Sv57, 5 levels, 4K/2M/1G/512G/256T pages"},
    {{"arm64-4k", 48, 12, 4, 8, {9, 9, 9, 9}, LV(1) | LV(2) | LV(3)},
     "Arm64 4 KiB granule, 48-bit, 4 levels, 4K pages, 2M/1G blocks"},
    {{"arm64-16k", 48, 14, 4, 8, {1, 11, 11, 11}, LV(1) | LV(2)},
     "Arm64 16 KiB granule, 48-bit, 4 levels, 16K pages, 32M blocks"},
    {{"arm64-64k", 48, 16, 3, 8, {6, 13, 13}, LV(1) | LV(2)},
     "Arm64 64 KiB granule, 48-bit, 3 levels, 64K pages, 512M blocks"},
};
#define NPRESETS (sizeof presets / sizeof presets[0])

const char *const vmsim_geometry_names[] = {
    "x86-64", "x86-64-5l", "x86-32", "x86-pae", "sv39", "sv48", "sv57",
    "arm64-4k", "arm64-16k", "arm64-64k", NULL};
const char *const vmsim_geometry_help[] = {
    "x86-64 4-level paging, 48-bit, 4K/2M/1G pages",
    "x86-64 5-level paging (LA57), 57-bit, 4K/2M/1G pages",
    "x86 32-bit paging, 2 levels, 4-byte entries, 4K/4M (PSE) pages",
    "x86 PAE paging, 3 levels, 8-byte entries, 4K/2M pages",
    "RISC-V Sv39, 3 levels, 4K/2M/1G pages",
    "RISC-V Sv48, 4 levels, 4K/2M/1G/512G pages",
    "RISC-V Sv57, 5 levels, 4K/2M/1G/512G/256T pages",
    "Arm64 4 KiB granule, 48-bit, 4 levels, 4K pages, 2M/1G blocks",
    "Arm64 16 KiB granule, 48-bit, 4 levels, 16K pages, 32M blocks",
    "Arm64 64 KiB granule, 48-bit, 3 levels, 64K pages, 512M blocks",
    NULL};

int vmsim_geometry_preset(const char *name, struct vmsim_geometry *g)
{
    for (size_t i = 0; i < NPRESETS; i++)
        if (strcmp(presets[i].g.name, name) == 0) {
            *g = presets[i].g;
            return VMSIM_OK;
        }
    return VMSIM_ENOENT;
}

unsigned vmsim_geometry_page_shift(const struct vmsim_geometry *g, unsigned level)
{
    unsigned s = g->page_shift;
    for (unsigned k = 1; k < level; k++)
        s += g->bits[g->levels - k];
    return s;
}

int vmsim_geometry_check(const struct vmsim_geometry *g, char *why, size_t whylen)
{
    if (g->levels < 1 || g->levels > VMSIM_MAX_LEVELS) {
        snprintf(why, whylen, "levels must be 1..%d, found %u", VMSIM_MAX_LEVELS, g->levels);
        return VMSIM_EINVAL;
    }
    if (g->page_shift < 10 || g->page_shift > 30) {
        snprintf(why, whylen, "page size must be 1 KiB..1 GiB, found 2^%u", g->page_shift);
        return VMSIM_EINVAL;
    }
    if (g->pte_bytes != 4 && g->pte_bytes != 8) {
        snprintf(why, whylen, "entry size must be 4 or 8 bytes, found %u", g->pte_bytes);
        return VMSIM_EINVAL;
    }
    unsigned sum = g->page_shift;
    for (unsigned i = 0; i < g->levels; i++) {
        if (g->bits[i] < 1 || g->bits[i] > 16) {
            snprintf(why, whylen, "bits per level must be 1..16, found %u", g->bits[i]);
            return VMSIM_EINVAL;
        }
        sum += g->bits[i];
    }
    if (g->va_bits > 57 || sum != g->va_bits) {
        snprintf(why, whylen,
                 "page bits plus index bits (%u) must equal the address width va (%u), at most 57",
                 sum, g->va_bits);
        return VMSIM_EINVAL;
    }
    if (!(g->leaf_levels & LV(1)) || (g->leaf_levels >> (g->levels + 1))) {
        snprintf(why, whylen, "leaf levels must include 1 and lie within 1..%u", g->levels);
        return VMSIM_EINVAL;
    }
    return VMSIM_OK;
}

/* "va=48,page=4k,bits=9+9+9+9,pte=8,leaves=1+2+3"; unspecified va is derived
 * from the bits; unspecified leaves = level 1 only. */
int vmsim_geometry_parse(const char *spec, struct vmsim_geometry *g, char *why, size_t whylen)
{
    if (vmsim_geometry_preset(spec, g) == VMSIM_OK)
        return VMSIM_OK;
    struct vmsim_geometry r = {.page_shift = 12, .pte_bytes = 8, .leaf_levels = LV(1)};
    snprintf(r.name, sizeof r.name, "custom");
    char buf[256];
    if (strlen(spec) >= sizeof buf) {
        snprintf(why, whylen, "geometry spec too long");
        return VMSIM_EPARSE;
    }
    unsigned va = 0;
    /* empty items (",,", a leading or trailing comma) are skipped */
    for (const char *s = spec; s && *s;) {
        struct kv item;
        s = kv_next(s, &item);
        if (!item.len)
            continue;
        char *kv = buf; /* the key, or the whole item without '=' */
        char *val = kv_cut(&item, buf), *end;
        if (!val) {
            snprintf(why, whylen,
                     "expected a geometry preset or key=value (va, page, bits, pte, leaves), found \"%s\"",
                     kv);
            return VMSIM_EPARSE;
        }
        if (strcmp(kv, "va") == 0) {
            const unsigned long v = strtoul(val, &end, 10);
            if (*end || !*val)
                goto bad;
            /* Said first and plainly: "va=64" is the natural guess for a
             * 64-bit machine, but no page table translates all 64 bits. */
            if (v > 57 || v == 0) {
                snprintf(why, whylen,
                         "va=%s: expected a translated address width of 1 to 57 bits; hardware "
                         "translates at most 57 of the 64 address bits (5-level x86-64, Sv57), "
                         "the rest must copy the top bit",
                         val);
                return VMSIM_EINVAL;
            }
            va = (unsigned)v;
        } else if (strcmp(kv, "page") == 0) {
            uint64_t sz;
            if (vmsim_parse_size(val, &sz) || sz == 0 || (sz & (sz - 1)))
                goto bad;
            r.page_shift = (uint8_t)__builtin_ctzll(sz);
        } else if (strcmp(kv, "pte") == 0) {
            r.pte_bytes = (uint8_t)strtoul(val, &end, 10);
            if (*end || !*val)
                goto bad;
        } else if (strcmp(kv, "bits") == 0 || strcmp(kv, "leaves") == 0) {
            int is_bits = kv[0] == 'b';
            unsigned n = 0;
            uint8_t leaves = 0;
            for (char *p = val;;) {
                unsigned long x = strtoul(p, &end, 10);
                if (end == p || x > 63 || n >= VMSIM_MAX_LEVELS)
                    goto bad;
                if (is_bits)
                    r.bits[n] = (uint8_t)x;
                else if (x >= 1 && x <= VMSIM_MAX_LEVELS)
                    leaves |= (uint8_t)LV(x);
                else
                    goto bad;
                n++;
                if (*end == '\0')
                    break;
                if (*end != '+')
                    goto bad;
                p = end + 1;
            }
            if (is_bits)
                r.levels = (uint8_t)n;
            else
                r.leaf_levels = leaves;
        } else {
            snprintf(why, whylen, "expected a geometry key (va, page, bits, pte, leaves), found \"%s\"",
                     kv);
            return VMSIM_EPARSE;
        }
        continue;
    bad:
        snprintf(why, whylen, "bad value for geometry key %s: \"%s\"", kv, val);
        return VMSIM_EPARSE;
    }
    if (r.levels == 0) {
        snprintf(why, whylen, "a custom geometry needs bits=B1+B2+... (root first)");
        return VMSIM_EPARSE;
    }
    unsigned sum = r.page_shift;
    for (unsigned i = 0; i < r.levels; i++)
        sum += r.bits[i];
    r.va_bits = (uint8_t)(va ? va : sum);
    int rc = vmsim_geometry_check(&r, why, whylen);
    if (rc)
        return rc;
    *g = r;
    return VMSIM_OK;
}
