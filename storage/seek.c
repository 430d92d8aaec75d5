/* Finding the first entry at or after a timestamp (Kinesis AT_TIMESTAMP, clip starts).
 *
 * Entries carry the submitter's timestamp; for the services these are arrival times, which are
 * non-decreasing per log except when the wall clock steps back. The search therefore skips whole
 * sealed segments whose newest timestamp is older than the target (each segment's newest
 * timestamp is known once sealed in this process, or learned once by a header-only scan, as in
 * retention.c), and then walks the headers of the first remaining segment -- at most one segment,
 * read sequentially in 1 MiB windows, never past the durable end -- for the first entry with
 * ts >= target. With non-monotonic timestamps the result is still an entry at or after every
 * entry of the skipped segments, never one inside them.
 *
 * Locking: retain_mu keeps retention and drops from closing the fds being scanned; the rwlock is
 * taken only to copy a segment's description out and to store a learned timestamp back, so the
 * writer is never held up by a scan. Disk reads: call off the loop thread. */
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>

#include "sluice/err.h"
#include "sluice/log.h"
#include "storage_int.h"

/* Walks entries of one segment from `from` (an entry offset) below `stop`, returning the first
 * with ts >= target in *out (or stop when there is none). */
static int walk(const sl_log *log, const seg *s, uint64_t from, uint64_t stop, int64_t target,
                uint64_t *out)
{
    seg_reader r;
    sl_seg_reader_init_(&r, log->vfs, s->fd);
    int rc = 0;
    uint64_t off = from;
    while (off < stop) {
        const uint8_t *h;
        uint32_t len;
        rc = sl_seg_reader_get_(&r, SEG_HEADER + (off - s->base), SL_LOG_ENTRY_HEADER, &h);
        if (rc == 0)
            rc = sl_entry_header_check_(h, off, &len);
        if (rc) {
            if (rc == SL_EAGAIN)
                rc = SL_ECORRUPT; /* the durable end promised more bytes */
            break;
        }
        if ((int64_t)sl_get64_(h + 16) >= target)
            break;
        off += SL_LOG_ENTRY_HEADER + len;
    }
    sl_seg_reader_cleanup_(&r);
    *out = off < stop ? off : stop;
    return rc;
}

int sl_log_seek_ts(sl_log *log, int64_t ts_ns, uint64_t *out)
{
    int rc = 0;
    pthread_mutex_lock(&log->retain_mu);
    if (atomic_load(&log->dropped)) {
        rc = SL_ENOTFOUND;
        goto out;
    }
    uint64_t durable = sl_log_end_offset(log);
    for (size_t i = 0;; i++) {
        pthread_rwlock_rdlock(&log->lock);
        size_t nsegs = log->nsegs;
        seg s = i < nsegs ? log->segs[i] : (seg){0};
        pthread_rwlock_unlock(&log->lock);
        if (i >= nsegs) {
            *out = durable;
            break;
        }
        /* Sealed in the array with a known newest timestamp: skip it if it is older. The tail
         * (last entry of the array, or any segment starting at/after durable) is walked. */
        int sealed = i + 1 < nsegs;
        if (s.base >= durable) {
            *out = durable;
            break;
        }
        if (sealed && !s.ts_known) {
            uint64_t valid_end, last;
            int reason;
            char why[96];
            rc = sl_seg_scan_(log->vfs, s.fd, s.base, 0, &valid_end, &last, &s.max_ts_ns, &reason,
                              why, sizeof(why));
            if (rc)
                break;
            pthread_rwlock_wrlock(&log->lock);
            if (i < log->nsegs && log->segs[i].base == s.base) {
                log->segs[i].max_ts_ns = s.max_ts_ns;
                log->segs[i].ts_known = 1;
            }
            pthread_rwlock_unlock(&log->lock);
            s.ts_known = 1;
        }
        if (sealed && s.max_ts_ns < ts_ns)
            continue;
        uint64_t stop = sealed ? s.end : durable;
        if (stop > durable)
            stop = durable;
        uint64_t from = s.base;
        uint64_t first = sl_log_first_offset(log);
        if (from < first)
            from = first;
        rc = walk(log, &s, from, stop, ts_ns, out);
        if (rc == 0 && *out == stop && sealed)
            continue; /* not monotonic: nothing here after all, keep looking */
        break;
    }
out:
    pthread_mutex_unlock(&log->retain_mu);
    return rc;
}
