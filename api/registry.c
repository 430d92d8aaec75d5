/* In-memory ordered registries of Kinesis data streams and Kinesis Video streams
 * (sluice/streams.h).
 *
 * Each registry is one array of entries kept sorted by (region, name) with binary-search
 * insertion: listing a page is a binary search plus a linear walk, which is what ListStreams
 * pagination (ExclusiveStartStreamName / NextToken = the last name returned) needs. Stream counts
 * per account are small (AWS limits them to hundreds), so insertion by memmove is cheap.
 * Loop thread only. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/err.h"
#include "sluice/streams.h"

typedef struct {
    void *items;
    size_t n, cap, size;
} reg;

static reg kreg = {NULL, 0, 0, sizeof(sl_kstream_info)};
static reg vreg = {NULL, 0, 0, sizeof(sl_vstream_info)};

/* Both info structs start with region then name (fixed offsets below). */
_Static_assert(offsetof(sl_kstream_info, name) == offsetof(sl_vstream_info, name),
               "registry entries must share the key layout");
static const char *reg_region(const reg *r, size_t i)
{
    return (const char *)r->items + i * r->size;
}

static const char *reg_name(const reg *r, size_t i)
{
    const char *base = (const char *)r->items + i * r->size;
    return base + sizeof(((sl_kstream_info *)0)->region);
}

static int key_cmp(const reg *r, size_t i, const char *region, const char *name)
{
    int c = strcmp(reg_region(r, i), region);
    return c ? c : strcmp(reg_name(r, i), name);
}

/* First index whose key is > (region, name) when strictly, else >= . */
static size_t lower_bound(const reg *r, const char *region, const char *name, int strictly)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = key_cmp(r, mid, region, name);
        if (c < 0 || (strictly && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int reg_put(reg *r, const void *item, const char *region, const char *name)
{
    if (!name[0])
        return SL_EINVAL;
    size_t i = lower_bound(r, region, name, 0);
    if (i < r->n && key_cmp(r, i, region, name) == 0) {
        memcpy((char *)r->items + i * r->size, item, r->size);
        return 0;
    }
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 16;
        void *ni = realloc(r->items, ncap * r->size);
        if (!ni)
            return SL_ENOMEM;
        r->items = ni;
        r->cap = ncap;
    }
    char *base = r->items;
    memmove(base + (i + 1) * r->size, base + i * r->size, (r->n - i) * r->size);
    memcpy(base + i * r->size, item, r->size);
    r->n++;
    return 0;
}

static int reg_remove(reg *r, const char *region, const char *name)
{
    size_t i = lower_bound(r, region, name, 0);
    if (i >= r->n || key_cmp(r, i, region, name) != 0)
        return SL_ENOTFOUND;
    char *base = r->items;
    memmove(base + i * r->size, base + (i + 1) * r->size, (r->n - i - 1) * r->size);
    r->n--;
    return 0;
}

static void reg_clear(reg *r)
{
    free(r->items);
    r->items = NULL;
    r->n = r->cap = 0;
}

static size_t reg_list(const reg *r, const char *region, const char *after, const char *prefix,
                       size_t max, const void **out, int *more)
{
    size_t i = lower_bound(r, region, after ? after : "", after && *after);
    size_t n = 0, plen = prefix ? strlen(prefix) : 0;
    *more = 0;
    for (; i < r->n && strcmp(reg_region(r, i), region) == 0; i++) {
        if (plen && strncmp(reg_name(r, i), prefix, plen) != 0)
            continue;
        if (n == max) {
            *more = 1;
            break;
        }
        out[n++] = (const char *)r->items + i * r->size;
    }
    return n;
}

int sl_kstreams_put(const sl_kstream_info *s)
{
    return reg_put(&kreg, s, s->region, s->name);
}

int sl_kstreams_remove(const char *region, const char *name)
{
    return reg_remove(&kreg, region, name);
}

size_t sl_kstreams_list(const char *region, const char *after, size_t max,
                        const sl_kstream_info **out, int *more)
{
    return reg_list(&kreg, region, after, NULL, max, (const void **)out, more);
}

void sl_kstreams_clear(void)
{
    reg_clear(&kreg);
}

int sl_vstreams_put(const sl_vstream_info *s)
{
    return reg_put(&vreg, s, s->region, s->name);
}

int sl_vstreams_remove(const char *region, const char *name)
{
    return reg_remove(&vreg, region, name);
}

size_t sl_vstreams_list(const char *region, const char *after, const char *prefix, size_t max,
                        const sl_vstream_info **out, int *more)
{
    return reg_list(&vreg, region, after, prefix, max, (const void **)out, more);
}

void sl_vstreams_clear(void)
{
    reg_clear(&vreg);
}
