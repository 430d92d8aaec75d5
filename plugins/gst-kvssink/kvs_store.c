/* kvssink content store: a singly linked list of fragments, oldest first, under one mutex.
 *
 * Fragment life: sl_kvs_store_begin opens it (the previous one is closed, "complete"); frames
 * are appended while it is the tail; the uploader copies its bytes out through a cursor (it may
 * read a fragment that is still growing, so the gateway sees frames as soon as they exist); an
 * ack removes it. Ids increase by one per fragment and are never reused, so a cursor names a
 * fragment that may since have been removed, and "removed" is detected by id lookup.
 *
 *   begin() --> OPEN --begin()/end()--> COMPLETE --PERSISTED ack / ERROR ack / drop--> freed
 *
 * Bounds: after each begin/append the head is dropped while the bytes held exceed limit_bytes
 * or the head's timecode is older than the tail's by more than max_age_ms, except the open
 * tail itself. A drop of the fragment a session is reading shows up as SL_KVS_READ_LOST.
 *
 * Acks match a fragment by cluster timecode among the fragments of the current session (ids
 * from cursor.first_id on), as the AWS producer does; timecodes increase within a session. */
#include "kvs_store.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice/err.h"

typedef struct kvs_frag {
    struct kvs_frag *next;
    sl_kvs_header *hdr;
    uint64_t id;
    uint64_t tc;
    sl_buf bytes;
    int complete;
    int64_t first_ns, last_ns;
} kvs_frag;

struct sl_kvs_store {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    uint64_t limit_bytes, max_age_ms;
    kvs_frag *head, *tail;
    uint64_t next_id;
    sl_kvs_header *cur_hdr;
    uint64_t next_generation;
    int ended, cancelled;
    sl_kvs_stats stats;
};

static void header_unref(sl_kvs_header *h)
{
    if (h && --h->refs == 0) {
        sl_buf_cleanup(&h->bytes);
        free(h);
    }
}

static void frag_free(kvs_frag *f)
{
    header_unref(f->hdr);
    sl_buf_cleanup(&f->bytes);
    free(f);
}

static void cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

sl_kvs_store *sl_kvs_store_new(uint64_t limit_bytes, uint64_t max_age_ms)
{
    sl_kvs_store *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    pthread_mutex_init(&st->mu, NULL);
    cond_init_monotonic(&st->cond);
    st->limit_bytes = limit_bytes;
    st->max_age_ms = max_age_ms;
    st->next_id = 1;
    st->next_generation = 1;
    return st;
}

static void clear_locked(sl_kvs_store *st)
{
    kvs_frag *f = st->head;
    while (f) {
        kvs_frag *n = f->next;
        frag_free(f);
        f = n;
    }
    st->head = st->tail = NULL;
    st->stats.bytes_held = st->stats.fragments_held = 0;
}

void sl_kvs_store_free(sl_kvs_store *st)
{
    if (!st)
        return;
    clear_locked(st);
    header_unref(st->cur_hdr);
    pthread_cond_destroy(&st->cond);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

int sl_kvs_store_set_header(sl_kvs_store *st, const void *p, size_t n)
{
    sl_kvs_header *h = calloc(1, sizeof(*h));
    if (!h)
        return SL_ENOMEM;
    h->refs = 1;
    if (sl_buf_append(&h->bytes, p, n) != 0) {
        sl_buf_cleanup(&h->bytes);
        free(h);
        return SL_ENOMEM;
    }
    pthread_mutex_lock(&st->mu);
    h->generation = st->next_generation++;
    header_unref(st->cur_hdr);
    st->cur_hdr = h;
    pthread_mutex_unlock(&st->mu);
    return 0;
}

static void unlink_locked(sl_kvs_store *st, kvs_frag *prev, kvs_frag *f)
{
    if (prev)
        prev->next = f->next;
    else
        st->head = f->next;
    if (st->tail == f)
        st->tail = prev;
    st->stats.bytes_held -= f->bytes.len;
    st->stats.fragments_held--;
    frag_free(f);
}

static uint64_t enforce_bounds_locked(sl_kvs_store *st)
{
    uint64_t dropped = 0;
    while (st->head && st->head != st->tail) {
        kvs_frag *h = st->head;
        int over_bytes = st->limit_bytes && st->stats.bytes_held > st->limit_bytes;
        int over_age =
            st->max_age_ms && st->tail->tc > h->tc && st->tail->tc - h->tc > st->max_age_ms;
        if (!over_bytes && !over_age)
            break;
        st->stats.fragments_dropped++;
        st->stats.bytes_dropped += h->bytes.len;
        unlink_locked(st, NULL, h);
        dropped++;
    }
    return dropped;
}

int sl_kvs_store_begin(sl_kvs_store *st, uint64_t tc, const void *p, size_t n, int64_t now_ns,
                       uint64_t *dropped_out)
{
    int rc = 0;
    kvs_frag *f = NULL;
    uint64_t dropped = 0;

    pthread_mutex_lock(&st->mu);
    if (!st->cur_hdr) {
        rc = SL_EINVAL;
        goto out;
    }
    f = calloc(1, sizeof(*f));
    if (!f || sl_buf_append(&f->bytes, p, n) != 0) {
        rc = SL_ENOMEM;
        goto out;
    }
    f->hdr = st->cur_hdr;
    f->hdr->refs++;
    f->id = st->next_id++;
    f->tc = tc;
    f->first_ns = f->last_ns = now_ns;
    if (st->tail) {
        st->tail->complete = 1;
        st->tail->next = f;
    } else {
        st->head = f;
    }
    st->tail = f;
    st->ended = 0;
    st->stats.fragments_in++;
    st->stats.frames_in++;
    st->stats.bytes_in += n;
    st->stats.bytes_held += n;
    st->stats.fragments_held++;
    f = NULL;
    dropped = enforce_bounds_locked(st);
    pthread_cond_broadcast(&st->cond);
out:
    pthread_mutex_unlock(&st->mu);
    if (f) {
        sl_buf_cleanup(&f->bytes);
        free(f);
    }
    if (dropped_out)
        *dropped_out = dropped;
    return rc;
}

int sl_kvs_store_append(sl_kvs_store *st, const void *p, size_t n, int64_t now_ns,
                        uint64_t *dropped_out)
{
    int rc = 0;
    uint64_t dropped = 0;
    pthread_mutex_lock(&st->mu);
    if (!st->tail || st->tail->complete) {
        rc = SL_EINVAL;
        goto out;
    }
    if (sl_buf_append(&st->tail->bytes, p, n) != 0) {
        rc = SL_ENOMEM;
        goto out;
    }
    st->tail->last_ns = now_ns;
    st->stats.frames_in++;
    st->stats.bytes_in += n;
    st->stats.bytes_held += n;
    dropped = enforce_bounds_locked(st);
    pthread_cond_broadcast(&st->cond);
out:
    pthread_mutex_unlock(&st->mu);
    if (dropped_out)
        *dropped_out = dropped;
    return rc;
}

void sl_kvs_store_end(sl_kvs_store *st)
{
    pthread_mutex_lock(&st->mu);
    if (st->tail)
        st->tail->complete = 1;
    st->ended = 1;
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->mu);
}

void sl_kvs_store_reset(sl_kvs_store *st)
{
    pthread_mutex_lock(&st->mu);
    clear_locked(st);
    st->ended = 0;
    st->cancelled = 0;
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->mu);
}

int sl_kvs_store_session_start(sl_kvs_store *st, sl_kvs_cursor *c)
{
    int have;
    pthread_mutex_lock(&st->mu);
    memset(c, 0, sizeof(*c));
    have = st->head != NULL;
    if (have) {
        c->frag_id = c->first_id = st->head->id;
        c->generation = st->head->hdr->generation;
        c->header_pending = 1;
    } else {
        c->frag_id = c->first_id = st->next_id;
    }
    pthread_mutex_unlock(&st->mu);
    return have;
}

static kvs_frag *find_locked(sl_kvs_store *st, uint64_t id)
{
    for (kvs_frag *f = st->head; f; f = f->next) {
        if (f->id >= id)
            return f;
    }
    return NULL;
}

sl_kvs_read_status sl_kvs_store_read(sl_kvs_store *st, sl_kvs_cursor *c, void *out, size_t max,
                                     size_t *n_out)
{
    sl_kvs_read_status rs = SL_KVS_READ_WAIT;
    size_t n = 0;
    kvs_frag *f;

    pthread_mutex_lock(&st->mu);
    f = find_locked(st, c->frag_id);
    if (f && f->id != c->frag_id) {
        /* The fragment at the cursor is gone: harmless at a fragment boundary, fatal for the
         * session in the middle of one (the gateway would see half a cluster). */
        if (c->offset > 0) {
            rs = SL_KVS_READ_LOST;
            goto out;
        }
        c->frag_id = f->id;
    }
    while (f) {
        if (f->hdr->generation != c->generation) {
            rs = SL_KVS_READ_NEW_HEADER;
            goto out;
        }
        if (c->header_pending) {
            const sl_buf *h = &f->hdr->bytes;
            n = h->len - c->header_offset;
            if (n > max)
                n = max;
            memcpy(out, h->data + c->header_offset, n);
            c->header_offset += n;
            if (c->header_offset == h->len)
                c->header_pending = 0;
            rs = SL_KVS_READ_DATA;
            goto out;
        }
        if (c->offset < f->bytes.len) {
            n = f->bytes.len - c->offset;
            if (n > max)
                n = max;
            memcpy(out, f->bytes.data + c->offset, n);
            c->offset += n;
            rs = SL_KVS_READ_DATA;
            goto out;
        }
        if (!f->complete)
            goto out; /* WAIT for more frames */
        c->frag_id = f->id + 1;
        c->offset = 0;
        f = f->next;
    }
    if (st->ended && c->frag_id >= st->next_id)
        rs = SL_KVS_READ_END;
out:
    pthread_mutex_unlock(&st->mu);
    *n_out = n;
    return rs;
}

int sl_kvs_store_ack(sl_kvs_store *st, const sl_kvs_cursor *c, uint64_t tc, sl_kvs_ack_kind kind,
                     int done_on_received, int64_t now_ns)
{
    int matched = 0;
    kvs_frag *prev = NULL;
    pthread_mutex_lock(&st->mu);
    for (kvs_frag *f = st->head; f; prev = f, f = f->next) {
        if (f->id < c->first_id || f->tc != tc)
            continue;
        matched = 1;
        if (kind == SL_KVS_ACK_PERSISTED || kind == SL_KVS_ACK_ERROR ||
            (kind == SL_KVS_ACK_RECEIVED && done_on_received)) {
            if (kind == SL_KVS_ACK_ERROR) {
                st->stats.fragments_failed++;
            } else {
                int64_t l_last = now_ns - f->last_ns, l_first = now_ns - f->first_ns;
                st->stats.fragments_done++;
                st->stats.lat_count++;
                st->stats.lat_last_ns = l_last;
                st->stats.lat_last_ns_sum += l_last;
                st->stats.lat_first_ns_sum += l_first;
                if (l_last > st->stats.lat_last_ns_max)
                    st->stats.lat_last_ns_max = l_last;
                if (l_first > st->stats.lat_first_ns_max)
                    st->stats.lat_first_ns_max = l_first;
            }
            /* An ack for a fragment still open would cut it short; only the gateway's end of
             * body can do that, and then the fragment is complete anyway. */
            if (f == st->tail && !f->complete)
                f->complete = 1;
            unlink_locked(st, prev, f);
            pthread_cond_broadcast(&st->cond);
        }
        break;
    }
    pthread_mutex_unlock(&st->mu);
    return matched;
}

void sl_kvs_store_release_sent(sl_kvs_store *st, const sl_kvs_cursor *c)
{
    pthread_mutex_lock(&st->mu);
    while (st->head && st->head->complete && st->head->id < c->frag_id) {
        st->stats.fragments_done++;
        unlink_locked(st, NULL, st->head);
    }
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->mu);
}

static void deadline_after(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

int sl_kvs_store_wait_drained(sl_kvs_store *st, int64_t timeout_ms)
{
    struct timespec dl;
    int rc = 0;
    deadline_after(&dl, timeout_ms);
    pthread_mutex_lock(&st->mu);
    while (st->head && !st->cancelled) {
        if (pthread_cond_timedwait(&st->cond, &st->mu, &dl) == ETIMEDOUT)
            break;
    }
    rc = st->head == NULL;
    pthread_mutex_unlock(&st->mu);
    return rc;
}

void sl_kvs_store_cancel(sl_kvs_store *st)
{
    pthread_mutex_lock(&st->mu);
    st->cancelled = 1;
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->mu);
}

int sl_kvs_store_wait_data(sl_kvs_store *st, int64_t timeout_ms)
{
    struct timespec dl;
    int rc;
    deadline_after(&dl, timeout_ms);
    pthread_mutex_lock(&st->mu);
    while (!st->head && !st->ended && !st->cancelled) {
        if (pthread_cond_timedwait(&st->cond, &st->mu, &dl) == ETIMEDOUT)
            break;
    }
    rc = st->head || st->ended || st->cancelled;
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int sl_kvs_store_finished(sl_kvs_store *st)
{
    int rc;
    pthread_mutex_lock(&st->mu);
    rc = st->ended && !st->head;
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int sl_kvs_store_ended(sl_kvs_store *st)
{
    int rc;
    pthread_mutex_lock(&st->mu);
    rc = st->ended;
    pthread_mutex_unlock(&st->mu);
    return rc;
}

void sl_kvs_store_stats(sl_kvs_store *st, sl_kvs_stats *out)
{
    pthread_mutex_lock(&st->mu);
    *out = st->stats;
    pthread_mutex_unlock(&st->mu);
}

int sl_kvs_store_dump(sl_kvs_store *st, sl_buf *out)
{
    pthread_mutex_lock(&st->mu);
    if (st->head)
        sl_buf_append(out, st->head->hdr->bytes.data, st->head->hdr->bytes.len);
    for (kvs_frag *f = st->head; f; f = f->next)
        sl_buf_append(out, f->bytes.data, f->bytes.len);
    pthread_mutex_unlock(&st->mu);
    return out->oom ? SL_ENOMEM : 0;
}
