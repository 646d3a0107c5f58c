/* Machine presets: the TLB hierarchy, page-walk caches, cost line and data
 * caches of real CPU cores, as one table of spec strings.
 *
 * A preset is four strings in the grammar the command line accepts (--tlb,
 * --pwc, --cost, --cache; see docs/cli.md and docs/caches.md), so a preset is
 * nothing more than a named command line. Applying one (--machine) replaces
 * cfg->tlb/ntlb, cfg->pwc and cfg->cost and records the name in
 * cfg->machine; the geometry, memory size, CPU count and the other fields
 * stay as the caller set them (x86-64 4-level by default, whose 4K/2M/1G
 * leaves are the page sizes the presets list). The cache hierarchy is not
 * part of applying a preset: a run without --cache keeps the flat cost model
 * and its outputs; `--cache NAME` (vmsim_cache_parse) asks for it.
 *
 * docs/presets.md gives the source of every number, says which ones are
 * approximations (non-power-of-two sets, 1 GiB pages split into 2 MiB TLB
 * entries, PDEs kept inside the AMD L2 TLB, separate store TLBs) and which
 * are commonly quoted but unconfirmed. tests/test_presets.c checks the parsed
 * configuration against that document's tables, independently of these
 * strings: change all three together. */
#include <stdio.h>
#include <string.h>

#include "cache/cache.h"
#include "vmsim/vmsim.h"

struct machine_preset {
    const char *name;
    const char *help;
    const char *tlb;   /* TLB SPEC */
    const char *pwc;   /* PWC SPEC */
    const char *cost;  /* COST SPEC */
    const char *cache; /* CACHE SPEC: the data caches and DRAM, for --cache NAME */
};

/* Intel does not publish the sizes of its paging-structure caches (SDM Vol.
 * 3A 4.10.3: "a processor may or may not implement any of" them); the Intel
 * presets use the ChampSim simulator's page-structure caches (PML4E 1 set x 4,
 * PDPTE 2 sets x 4, PDE 4 sets x 8), a model rather than a measurement. */
#define INTEL_PSC "l4=4x4,l3=8x4,l2=32x8"

/* AMD keeps page-directory entries in the L2 DTLB (Software Optimization Guide
 * for family 17h) and does not say how many; the unified cache is the 16-entry
 * Page Directory Cache of the family 16h guide, the last AMD document that
 * gives a size. */
#define AMD_PWC "unified=16x16"

/* The one list: X(name, help, TLB SPEC, PWC SPEC, COST SPEC, CACHE SPEC). The
 * Arm presets assume the 4 KiB granule, whose shape (48 bits, 4 x 9 bits,
 * 8-byte entries, 2M/1G blocks) is that of the default x86-64 geometry.
 * "generic" is not a real core but a textbook hierarchy with round numbers.
 *
 * Cache specs: every level has 64-byte lines; latencies are load-to-use core
 * cycles; the last level is one /shared array for all simulated CPUs (vmsim
 * has no clusters: a CCX, a ring or a DynamIQ cluster is "all CPUs"), indexed
 * by line number modulo sets where the real one hashes over slices. L1I
 * latency is the L1D's (no vendor gives a fetch latency). DRAM is a stated
 * latency in ns times a stated clock: Skylake 42 cycles + 51 ns at 4.0 GHz
 * (7-cpu.com); the others 80 ns at the clock named below. */
#define MACHINE_PRESETS(X)                                                                         \
    X("skylake", "Intel Skylake client/server core (6th-10th gen Core, Xeon SP 1st/2nd gen)",      \
      "l1d=64x4@4k|32x4@2m+4m|4x4@1g/d:1,"                                                         \
      "l1i=128x8@4k|8x8@2m+4m/i:1,"                                                                \
      "stlb=1536x12@4k+2m|16x4@1g/u:8",                                                            \
      INTEL_PSC, "access=4,pt_ref=12,fault=1000,pwc=1",                                            \
      /* client die (i7-6700/6700K): 256 KiB 4-way L2, 8 MiB 16-way L3 */                          \
      "l1d=64x8x64/d:4,l1i=64x8x64/i:4,l2=1024x4x64:12,l3=8192x16x64/shared:42,dram=246")          \
    X("golden-cove", "Intel Golden Cove core (Alder Lake P-core, Sapphire Rapids)",                \
      "l1d=96x6@4k|32x4@2m+4m|8x8@1g/d:1,"                                                         \
      "l1i=256x8@4k|32x8@2m+4m/i:1,"                                                               \
      "stlb=2048x16@4k+2m+1g/u:8",                                                                 \
      INTEL_PSC, "access=5,pt_ref=15,fault=1000,pwc=1",                                            \
      /* i9-12900K: 1.25 MiB 10-way L2; 30 MiB of 12-way L3 slices; 5.0 GHz */                     \
      "l1d=64x12x64/d:5,l1i=64x8x64/i:5,l2=2048x10x64:15,l3=40960x12x64/shared:75,dram=400")       \
    X("zen2", "AMD Zen 2 core (Ryzen 3000, EPYC 7002 Rome)",                                       \
      "l1d=64x64@4k+2m+1g/d:1,"                                                                    \
      "l1i=64x64@4k+2m+1g/i:1,"                                                                    \
      "l2d=2048x16@4k+2m/d:7,"                                                                     \
      "l2i=512x8@4k+2m/i:7",                                                                       \
      AMD_PWC, "access=4,pt_ref=12,fault=1000,pwc=1",                                              \
      /* 16 MiB L3 per 4-core CCX, modelled as one array; 4.0 GHz */                               \
      "l1d=64x8x64/d:4,l1i=64x8x64/i:4,l2=1024x8x64:12,l3=16384x16x64/shared:39,dram=320")         \
    X("zen3", "AMD Zen 3 core (Ryzen 5000, EPYC 7003 Milan)",                                      \
      "l1d=64x64@4k+2m+1g/d:1,"                                                                    \
      "l1i=64x64@4k+2m+1g/i:1,"                                                                    \
      "l2d=2048x16@4k+2m/d:7,"                                                                     \
      "l2i=512x8@4k+2m/i:7",                                                                       \
      AMD_PWC, "access=4,pt_ref=12,fault=1000,pwc=1",                                              \
      /* 32 MiB L3 per 8-core CCX (the default 8 CPUs); 4.5 GHz */                                 \
      "l1d=64x8x64/d:4,l1i=64x8x64/i:4,l2=1024x8x64:12,l3=32768x16x64/shared:46,dram=360")         \
    X("zen4", "AMD Zen 4 core (Ryzen 7000, EPYC 9004 Genoa)",                                      \
      "l1d=72x72@4k+2m+1g/d:1,"                                                                    \
      "l1i=64x64@4k+2m+1g/i:1,"                                                                    \
      "l2d=3072x24@4k+2m/d:7,"                                                                     \
      "l2i=512x8@4k+2m/i:7",                                                                       \
      AMD_PWC, "access=4,pt_ref=14,fault=1000,pwc=1",                                              \
      /* 1 MiB 8-way L2, 32 MiB L3 per 8-core CCX; 5.0 GHz */                                      \
      "l1d=64x8x64/d:4,l1i=64x8x64/i:4,l2=2048x8x64:14,l3=32768x16x64/shared:50,dram=400")         \
    X("cortex-a76", "Arm Cortex-A76 core, 4 KiB granule (no walk cache in its TRM)",               \
      "l1d=48x48@4k+2m+1g/d:1,"                                                                    \
      "l1i=48x48@4k+2m+1g/i:1,"                                                                    \
      "l2=1280x5@4k+2m+1g/u:7",                                                                    \
      "none", "access=4,pt_ref=9,fault=1000,pwc=1",                                                \
      /* Agilex 5 HPS: 64 KiB 4-way L1s, 256 KiB 8-way L2, 2 MiB DSU L3; 2.0 GHz */                \
      "l1d=256x4x64/d:4,l1i=256x4x64/i:4,l2=512x8x64:9,l3=2048x16x64/shared:30,dram=160")          \
    X("cortex-a55", "Arm Cortex-A55 core, 4 KiB granule (64-entry walk cache)",                    \
      "l1d=16x16@4k+2m+1g/d:1,"                                                                    \
      "l1i=15x15@4k+2m+1g/i:1,"                                                                    \
      "l2=1024x4@4k+2m+1g/u:7",                                                                    \
      "l2=64x4", "access=1,pt_ref=30,fault=1000,pwc=1",                                            \
      /* Agilex 5 HPS: 32 KiB 4-way L1s, 128 KiB 4-way L2, the same DSU; 1.5 GHz */                \
      "l1d=128x4x64/d:4,l1i=128x4x64/i:4,l2=512x4x64:9,l3=2048x16x64/shared:30,dram=120")          \
    X("generic", "simple two-level TLB: 64x4 L1 per side, 1024x8 unified L2",                      \
      "l1d=64x4@4k/d:1,"                                                                           \
      "l1i=64x4@4k/i:1,"                                                                           \
      "l2=1024x8@4k+2m/u:7",                                                                       \
      INTEL_PSC, "access=1,pt_ref=30,fault=1000,pwc=1",                                            \
      "l1d=64x8x64/d:4,l1i=64x8x64/i:4,l2=1024x8x64:12,l3=16384x16x64/shared:40,dram=200")

#define PRESET_ENTRY(n, h, t, p, c, m) {n, h, t, p, c, m},
#define PRESET_NAME(n, h, t, p, c, m) n,
#define PRESET_HELP(n, h, t, p, c, m) h,
#define PRESET_CACHE(n, h, t, p, c, m) m,

static const struct machine_preset presets[] = {MACHINE_PRESETS(PRESET_ENTRY)};

#define NPRESETS (sizeof presets / sizeof presets[0])

const char *const vmsim_machine_names[] = {MACHINE_PRESETS(PRESET_NAME) NULL};
const char *const vmsim_machine_help[] = {MACHINE_PRESETS(PRESET_HELP) NULL};
const char *const vmsim_machine_caches[] = {MACHINE_PRESETS(PRESET_CACHE) NULL};

static const struct machine_preset *preset_find(const char *name)
{
    for (size_t i = 0; i < NPRESETS; i++)
        if (strcmp(presets[i].name, name) == 0) return &presets[i];
    return NULL;
}

/* Apply a preset to a copy first so that cfg is either fully updated or left
 * untouched: a half-applied machine would be worse than an error. The order
 * matters: the cost line sets the PWC probe latency, so it comes after the
 * PWC spec, which may reset the PWC fields. */
int vmsim_config_machine(struct vmsim_config *cfg, const char *preset)
{
    if (!cfg || !preset) return VMSIM_EINVAL;
    const struct machine_preset *p = preset_find(preset);
    if (!p) return VMSIM_ENOENT;

    struct vmsim_config tmp = *cfg;
    char why[160];
    int rc = vmsim_tlb_parse(p->tlb, &tmp, why, sizeof why);
    if (rc == VMSIM_OK) rc = vmsim_pwc_parse(p->pwc, &tmp, why, sizeof why);
    if (rc == VMSIM_OK) rc = vmsim_cost_parse(p->cost, &tmp, why, sizeof why);
    if (rc != VMSIM_OK) return rc; /* a preset that does not parse is a bug the test catches */

    snprintf(tmp.machine, sizeof tmp.machine, "%s", p->name);
    *cfg = tmp;
    return VMSIM_OK;
}

/* A preset's name gives its hierarchy; anything else is a spec or "none",
 * which cache_spec_parse reads. A single word (no '=' or ',') that names no
 * preset is most likely a mistyped preset, so the error says that and lists
 * the presets instead of explaining the spec grammar. */
int vmsim_cache_parse(const char *spec, struct vmsim_config *cfg, char *why, size_t whylen)
{
    if (!spec || !cfg)
        return VMSIM_EINVAL;
    const struct machine_preset *p = preset_find(spec);
    if (p)
        return cache_spec_parse(p->cache, &cfg->mem, why, whylen);
    if (*spec && strcmp(spec, "none") != 0 && !strpbrk(spec, "=,")) {
        char list[256];
        size_t n = 0;
        list[0] = '\0';
        for (size_t i = 0; i < NPRESETS && n < sizeof list; i++)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", presets[i].name);
        if (why && whylen)
            snprintf(why, whylen,
                     "expected a machine preset (%s), none, or a cache spec such as "
                     "l1d=64x8x64/d:4,dram=200; found \"%s\"",
                     list, spec);
        return VMSIM_ENOENT;
    }
    return cache_spec_parse(spec, &cfg->mem, why, whylen);
}
