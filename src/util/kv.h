/* "k=v,k=v" lists: the one splitter of them, for page-table organization
 * options, workload specs, sweep axes' workload parameters, --migrate and
 * the custom geometry. It only splits; each caller looks its keys up and
 * checks its values, and says what was wrong in its own words.
 *
 * An item runs to the next ',' or the end; an item without '=' is all key
 * (val NULL), so a caller can say "expected KEY=VALUE" with the item as
 * written. Nothing is copied, nothing allocated. */
#ifndef VMSIM_UTIL_KV_H
#define VMSIM_UTIL_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct kv {
    const char *s;   /* the item as written: s[0, len) */
    size_t len;
    size_t klen;     /* the key: s[0, klen) */
    const char *val; /* the value: val[0, vlen), after the '='; NULL without one */
    size_t vlen;
};

/* Split the item s[0, n). */
static inline void kv_split(const char *s, size_t n, struct kv *kv)
{
    const char *eq = memchr(s, '=', n);
    kv->s = s;
    kv->len = n;
    kv->klen = eq ? (size_t)(eq - s) : n;
    kv->val = eq ? eq + 1 : NULL;
    kv->vlen = eq ? n - kv->klen - 1 : 0;
}

/* The first item of the list at list (NUL-terminated) into *kv; returns
 * the text after its comma, or NULL when it was the last item. "" is one
 * empty item and "a," two items, the second empty: a caller that allows
 * an empty list, or a trailing comma, tests *list before calling. */
static inline const char *kv_next(const char *list, struct kv *kv)
{
    const size_t n = strcspn(list, ",");
    kv_split(list, n, kv);
    return list[n] ? list + n + 1 : NULL;
}

/* Is the item's key exactly key? */
static inline bool kv_is(const struct kv *kv, const char *key)
{
    return strlen(key) == kv->klen && memcmp(kv->s, key, kv->klen) == 0;
}

/* The value, NUL-terminated, into buf[0, len); false when there is none,
 * it is empty, or it does not fit. */
static inline bool kv_value(const struct kv *kv, char *buf, size_t len)
{
    if (!kv->val || kv->vlen == 0 || kv->vlen >= len)
        return false;
    memcpy(buf, kv->val, kv->vlen);
    buf[kv->vlen] = '\0';
    return true;
}

/* The item copied into buf, NUL-terminated, and cut at its '=': buf is
 * then the key, and the result the value (NULL without a '=', buf then
 * the whole item). The caller made sure kv->len < the size of buf. */
static inline char *kv_cut(const struct kv *kv, char *buf)
{
    memcpy(buf, kv->s, kv->len);
    buf[kv->len] = '\0';
    if (!kv->val)
        return NULL;
    buf[kv->klen] = '\0';
    return buf + kv->klen + 1;
}

#endif
