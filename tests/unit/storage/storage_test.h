/* Helpers shared by the storage unit tests: temporary data folders, synchronous appends, file
 * surgery. Header-only (static functions) so each test stays one executable. */
#ifndef SL_STORAGE_TEST_H
#define SL_STORAGE_TEST_H

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/buf.h"
#include "sluice/err.h"
#include "sluice/storage.h"

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static inline void tmp_dir(char *out, size_t cap)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, cap, "%s/sl-storage-XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(out))
        abort();
}

static inline void rm_rf(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Waits for one done callback. */
typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, rc;
    sl_log_entry e;
} waiter;

static inline void waiter_init(waiter *w)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

static inline void waiter_done(void *arg, int rc, const sl_log_entry *e)
{
    waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    if (e)
        w->e = *e;
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static inline int waiter_wait(waiter *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        pthread_cond_wait(&w->cv, &w->mu);
    int rc = w->rc;
    pthread_mutex_unlock(&w->mu);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    return rc;
}

/* Appends (p, n) with timestamp ts and waits until durable; returns the callback's rc. */
static inline int append_sync(sl_store *s, sl_log *log, const void *p, size_t n, int64_t ts,
                              sl_log_entry *e)
{
    waiter w;
    waiter_init(&w);
    struct iovec iov = {(void *)p, n};
    sl_append a = {
        .log = log, .iov = &iov, .iovcnt = 1, .ts_ns = ts, .done = waiter_done, .arg = &w};
    int rc = sl_writer_submit_wait(sl_store_writer(s), &a);
    if (rc) {
        pthread_mutex_destroy(&w.mu);
        pthread_cond_destroy(&w.cv);
        return rc;
    }
    rc = waiter_wait(&w);
    if (e)
        *e = w.e;
    return rc;
}

/* Deterministic payload of entry i: n bytes. */
static inline void fill_payload(char *p, size_t n, unsigned i)
{
    uint32_t x = 2166136261u ^ i;
    for (size_t k = 0; k < n; k++) {
        x = x * 16777619u + (uint32_t)k;
        p[k] = (char)(x >> 24);
    }
}

static inline long file_len(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static inline void seg_path(char *out, size_t cap, const char *dir, const char *log, uint64_t base)
{
    snprintf(out, cap, "%s/logs/%s/%020llu.seg", dir, log, (unsigned long long)base);
}

#endif
