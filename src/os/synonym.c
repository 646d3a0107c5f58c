/* Cache synonyms (seed 001, "the synonym problem"): a virtually indexed,
 * physically tagged L1 data cache of S sets and B-byte blocks takes its set
 * index from address bits [log2 B, log2(S x B)). When S x B <= P, the base
 * page size, every index bit lies in the page offset, which is the same in
 * every virtual alias of a frame: aliases index one set and the cache is
 * safe by construction. Otherwise log2(S x B / P) index bits come from the
 * virtual page number, and two aliases of one frame may index different
 * sets: the same physical line could sit in the cache twice.
 *
 * The check is static: it looks at the mappings present when the
 * statistics are read, not at the accesses. The "color" of a mapping is the
 * value of those index bits above the page offset,
 *     color(va) = (va >> page_shift) mod 2^bits,
 * and a frame counts when its reverse-map entries do not all have the same
 * color. Aliases of one color are harmless: that is what an OS arranges
 * on machines whose caches alias (Linux aligns shared mappings to SHMLBA
 * there).
 *
 * Huge pages are judged by the color of their first base page. A leaf of
 * 2^h base pages is aligned, so its base page j sits at color
 * (va / P + j) mod 2^bits in every mapping; two mappings agree on every j
 * iff they agree on j = 0. A huge page is one frame block with one chain,
 * counted once. Only data frames carry chains: the zero frames are mapped
 * without rmap entries and page-table frames are never mapped by a leaf.
 *
 * Cost: one pass over the frames handed out and their chains, no
 * allocation; it runs at each full read of the statistics (vmsim_read_stats with
 * scan, vmsim_get_stats) with the check on. */
#include "os/kernel.h"

/* log2 of x rounded up (x > 0): the address bits that hold S x B bytes. */
static unsigned log2_ceil(uint64_t x) { return x <= 1 ? 0 : 64u - (unsigned)__builtin_clzll(x - 1); }

void kernel_synonyms(const struct kernel *k, struct vmsim_stats *out)
{
    struct vmsim_stats *st = out;
    const unsigned page_shift = k->phys->page_shift;
    const uint64_t span = (uint64_t)k->cfg->vipt_sets * k->cfg->vipt_block; /* S x B, < 2^64 */
    const unsigned span_bits = log2_ceil(span);
    const unsigned bits = span_bits > page_shift ? span_bits - page_shift : 0;
    st->synonym_bits = bits;
    st->synonym_frames = 0;
    if (!bits)
        return; /* every index bit in the page offset: no synonym possible */
    const uint64_t color_mask = (1ull << bits) - 1; /* bits <= 64 - 10 */
    const struct rmap_entry *e = k->rmap.e;
    for (vmsim_pfn_t pfn = 0; pfn < k->phys->next; pfn++) {
        const struct frame *f = phys_frame(k->phys, pfn);
        if (!f->rmap || (f->flags & (FRAME_ZERO | FRAME_PT)))
            continue;
        const uint64_t color = (rmap_va(&e[f->rmap]) >> page_shift) & color_mask;
        for (uint32_t i = e[f->rmap].next; i; i = e[i].next)
            if (((rmap_va(&e[i]) >> page_shift) & color_mask) != color) {
                st->synonym_frames++;
                break;
            }
    }
}
