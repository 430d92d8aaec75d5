/* The packaged-segment cache: a popular live segment is remuxed once, however many players ask.
 *
 * Entries are keyed by text ("<skey>/<fragment>/<kind>/<track>"), hold an immutable refcounted
 * md_blob, and sit on one LRU list; the total of their sizes stays under a byte budget
 * (SLUICE_MEDIA_CACHE_MB, default 256) by evicting from the cold end. An entry is first PENDING:
 * its bytes are being made on a worker and callers that ask meanwhile join its waiter list, so
 * one key is packaged once (single flight); when the worker finishes, every waiter is called
 * in arrival order, then the entry becomes READY (or is removed on error: errors are not cached,
 * so a fragment that arrives later is not masked by an earlier miss).
 *
 * Lookup is a chained hash table (FNV-1a, power-of-two buckets, grown at load 1). Everything
 * runs on the loop thread; only make() runs on a worker and touches nothing here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media_int.h"
#include "sluice/log.h"

md_blob *md_blob_new(const void *p, size_t len, const char *ctype)
{
    md_blob *b = malloc(sizeof(*b) + len + 1);
    if (!b)
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    snprintf(b->ctype, sizeof(b->ctype), "%s", ctype ? ctype : "application/octet-stream");
    if (len)
        memcpy(b->data, p, len);
    b->data[len] = 0;
    return b;
}

md_blob *md_blob_ref(md_blob *b)
{
    atomic_fetch_add(&b->refs, 1);
    return b;
}

void md_blob_unref(md_blob *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1)
        free(b);
}

typedef struct waiter {
    md_cache_cb cb;
    void *arg;
    struct waiter *next;
} waiter;

typedef struct entry {
    char *key;
    uint64_t hash;
    md_blob *blob;  /* NULL while pending */
    waiter *w, *wt; /* pending: callers to answer */
    struct entry *hnext;
    struct entry *prev, *next; /* LRU, ready entries only; head = most recent */
    /* pending job */
    md_make_fn make;
    void *make_arg;
    void (*free_make)(void *);
    md_blob *made;
    int rc;
    sl_diag d;
} entry;

static struct {
    entry **buckets;
    size_t nbuckets, n;
    entry *head, *tail;
    size_t bytes, budget;
    uint64_t hits, misses;
} c;

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static int table_init(void)
{
    if (c.buckets)
        return 0;
    const char *env = getenv("SLUICE_MEDIA_CACHE_MB");
    long mb = env ? strtol(env, NULL, 10) : 256;
    c.budget = (size_t)(mb > 0 ? mb : 0) << 20;
    c.nbuckets = 1024;
    c.buckets = calloc(c.nbuckets, sizeof(*c.buckets));
    return c.buckets ? 0 : SL_ENOMEM;
}

static entry *find(const char *key, uint64_t h)
{
    for (entry *e = c.buckets[h & (c.nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == h && strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

static void grow(void)
{
    size_t nb = c.nbuckets * 2;
    entry **b = calloc(nb, sizeof(*b));
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < c.nbuckets; i++) {
        entry *e = c.buckets[i];
        while (e) {
            entry *nx = e->hnext;
            e->hnext = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = nx;
        }
    }
    free(c.buckets);
    c.buckets = b;
    c.nbuckets = nb;
}

static void unlink_hash(entry *e)
{
    entry **pp = &c.buckets[e->hash & (c.nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    c.n--;
}

static void lru_unlink(entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c.head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c.tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push(entry *e)
{
    e->prev = NULL;
    e->next = c.head;
    if (c.head)
        c.head->prev = e;
    c.head = e;
    if (!c.tail)
        c.tail = e;
}

static void entry_free(entry *e)
{
    md_blob_unref(e->blob);
    free(e->key);
    free(e);
}

static void evict(void)
{
    while (c.bytes > c.budget && c.tail) {
        entry *e = c.tail;
        lru_unlink(e);
        unlink_hash(e);
        c.bytes -= e->blob->len;
        entry_free(e);
    }
}

static void make_work(void *arg)
{
    entry *e = arg;
    memset(&e->d, 0, sizeof(e->d));
    e->rc = e->make(e->make_arg, &e->made, &e->d);
}

static void make_done(void *arg)
{
    entry *e = arg;
    if (e->free_make)
        e->free_make(e->make_arg);
    e->make_arg = NULL;
    waiter *w = e->w;
    e->w = e->wt = NULL;
    if (e->rc == 0 && e->made) {
        e->blob = e->made;
        e->made = NULL;
        c.bytes += e->blob->len;
        lru_push(e);
    } else {
        unlink_hash(e);
        if (e->rc == 0)
            e->rc = SL_EINTERNAL;
    }
    md_blob *b = e->blob ? md_blob_ref(e->blob) : NULL;
    while (w) {
        waiter *nx = w->next;
        w->cb(w->arg, b, b ? 0 : e->rc, &e->d);
        free(w);
        w = nx;
    }
    md_blob_unref(b);
    if (!e->blob)
        entry_free(e);
    else
        evict();
}

int md_cache_get(const char *key, md_make_fn make, void *make_arg, void (*free_make)(void *),
                 md_cache_cb cb, void *arg)
{
    int rc = table_init();
    entry *e = NULL;
    waiter *w = NULL;
    if (rc)
        goto fail;
    uint64_t h = fnv(key);
    e = find(key, h);
    if (e && e->blob) {
        c.hits++;
        lru_unlink(e);
        lru_push(e);
        md_blob *b = md_blob_ref(e->blob);
        if (free_make)
            free_make(make_arg);
        cb(arg, b, 0, NULL);
        md_blob_unref(b);
        return 0;
    }
    w = calloc(1, sizeof(*w));
    if (!w) {
        rc = SL_ENOMEM;
        goto fail;
    }
    w->cb = cb;
    w->arg = arg;
    if (e) { /* pending: wait for the same result */
        c.hits++;
        e->wt->next = w;
        e->wt = w;
        if (free_make)
            free_make(make_arg);
        return 0;
    }
    c.misses++;
    e = calloc(1, sizeof(*e));
    if (!e || !(e->key = strdup(key))) {
        rc = SL_ENOMEM;
        goto fail;
    }
    e->hash = h;
    e->w = e->wt = w;
    e->make = make;
    e->make_arg = make_arg;
    e->free_make = free_make;
    if ((rc = md_work_submit(make_work, make_done, e)))
        goto fail;
    if (c.n >= c.nbuckets)
        grow();
    e->hnext = c.buckets[h & (c.nbuckets - 1)];
    c.buckets[h & (c.nbuckets - 1)] = e;
    c.n++;
    return 0;
fail:
    if (e) {
        free(e->key);
        free(e);
    }
    free(w);
    if (free_make)
        free_make(make_arg);
    return rc;
}

void md_cache_stats(uint64_t *hits, uint64_t *misses, uint64_t *bytes)
{
    *hits = c.hits;
    *misses = c.misses;
    *bytes = c.bytes;
}
