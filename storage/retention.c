/* Retention: removing whole segments from the front of a log.
 *
 * A sealed segment [base, end) may go when end <= before_offset (every entry lies before the
 * offset) or when its newest entry timestamp is older than older_than_ns. Only a prefix of the
 * log is removed -- the first segment that must stay ends the pass -- so the log stays contiguous,
 * and the segment being appended to is never removed, so offsets keep growing after a full trim.
 *
 * Segments recovered at open (other than the last) have an unknown newest timestamp; it is learned
 * here by a header-only scan (no CRC), outside the rwlock: the segment is sealed, so nothing writes
 * it, and retain_mu keeps a concurrent retention or drop from closing its fd (the array itself
 * may move when the writer adds a segment, so entries are copied out under the lock). The removal
 * itself takes the rwlock exclusively (waiting for readers in pread), advances `first`, closes the
 * fds and shifts the array; the files are unlinked after the lock is released, oldest first.
 * Readers that ask for a removed offset get SL_ERANGE. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/err.h"
#include "sluice/log.h"
#include "storage_int.h"

int sl_log_retain(sl_log *log, uint64_t before_offset, int64_t older_than_ns, uint64_t *freed)
{
    int rc = 0;
    size_t cut = 0;
    uint64_t *bases = NULL;
    int *fds = NULL;
    uint64_t bytes = 0;
    pthread_mutex_lock(&log->retain_mu);
    if (atomic_load(&log->dropped)) {
        rc = SL_ENOTFOUND;
        goto out;
    }
    pthread_rwlock_rdlock(&log->lock);
    size_t sealed = log->nsegs ? log->nsegs - 1 : 0;
    pthread_rwlock_unlock(&log->lock);
    /* Decide how many leading segments go. Only retention and drops (both excluded by
     * retain_mu) change sealed segments, but the writer may move the array when it adds a
     * segment, so each one is copied out under the lock and scanned without it. */
    while (cut < sealed) {
        pthread_rwlock_rdlock(&log->lock);
        seg s = log->segs[cut];
        pthread_rwlock_unlock(&log->lock);
        int by_offset = before_offset > 0 && s.end <= before_offset;
        int by_time = 0;
        if (!by_offset && older_than_ns != INT64_MIN) {
            if (!s.ts_known) {
                uint64_t valid_end, last;
                int reason;
                char why[96];
                rc = sl_seg_scan_(log->vfs, s.fd, s.base, 0, &valid_end, &last, &s.max_ts_ns,
                                  &reason, why, sizeof(why));
                if (rc)
                    goto out;
                if (valid_end != s.end) {
                    sl_error("storage", "log %s: sealed segment %020" PRIu64 " is damaged (%s)",
                             log->name, s.base, why);
                    rc = SL_ECORRUPT;
                    goto out;
                }
                pthread_rwlock_wrlock(&log->lock);
                log->segs[cut].max_ts_ns = s.max_ts_ns;
                log->segs[cut].ts_known = 1;
                pthread_rwlock_unlock(&log->lock);
            }
            by_time = s.max_ts_ns < older_than_ns;
        }
        if (!by_offset && !by_time)
            break;
        cut++;
    }
    if (cut == 0)
        goto out;
    bases = malloc(cut * sizeof(*bases));
    fds = malloc(cut * sizeof(*fds));
    if (!bases || !fds) {
        rc = SL_ENOMEM;
        goto out;
    }
    pthread_rwlock_wrlock(&log->lock);
    for (size_t i = 0; i < cut; i++) {
        bases[i] = log->segs[i].base;
        fds[i] = log->segs[i].fd;
        bytes += SEG_HEADER + (log->segs[i].end - log->segs[i].base);
    }
    memmove(log->segs, log->segs + cut, (log->nsegs - cut) * sizeof(*log->segs));
    log->nsegs -= cut;
    atomic_store_explicit(&log->first, log->segs[0].base, memory_order_release);
    pthread_rwlock_unlock(&log->lock);
    for (size_t i = 0; i < cut; i++) {
        char path[PATH_MAX];
        log->vfs->close(fds[i]);
        sl_seg_path_(log, bases[i], path, sizeof(path));
        if (log->vfs->unlink(path) != 0 && errno != ENOENT) {
            sl_error("storage", "cannot remove %s: %s", path, strerror(errno));
            rc = SL_EIO;
        }
    }
    if (sl_fsync_dir_(log->vfs, log->dir) != 0) {
        sl_error("storage", "cannot sync %s: %s", log->dir, strerror(errno));
        rc = SL_EIO;
    }
    atomic_fetch_sub(log->disk_bytes, bytes);
    sl_info("storage",
            "log %s: retention removed %zu segment(s), %" PRIu64 " bytes; first offset %" PRIu64,
            log->name, cut, bytes, atomic_load(&log->first));
    if (freed)
        *freed += bytes;
out:
    pthread_mutex_unlock(&log->retain_mu);
    free(bases);
    free(fds);
    return rc;
}
