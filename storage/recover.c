/* Opening a log that exists on disk: find its segments, check them, cut a torn tail.
 *
 * The rules follow from the format in log.c. Segment files are sorted by the base offset in their
 * names. Every sealed (non-last) segment must have a valid header and must end exactly where the
 * next one begins (size - 32 == next base - base); otherwise the log has a gap or a damaged file
 * and the open fails with SL_ECORRUPT rather than silently losing data. The last segment is read
 * entry by entry with CRC checks; at the first invalid entry (short header, short payload, bad
 * magic, wrong offset field, bad CRC) the file is truncated there and fdatasync'ed, and the cut
 * is logged at WARN with its size and reason -- at DEBUG when every byte cut is zero: that is the
 * writer's preallocated space (see log.c), not a torn write. A last segment with a torn header, or
 * with no entry at all while an earlier segment exists, is deleted (the writer creates a segment
 * only after syncing the previous one, so it cannot hold acknowledged data); when it is the only
 * segment left (retention removed the earlier ones) its header is rewritten instead, so that the
 * log's offsets keep growing and are never handed out twice. Scanning also yields the newest
 * timestamp and the last entry's offset.
 *
 * seg_reader is a sequential, buffered pread window used by the scans here and in retention.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/err.h"
#include "sluice/log.h"
#include "sluice/time.h"
#include "storage_int.h"

#define READ_WINDOW (1u << 20)

void sl_seg_reader_init_(seg_reader *r, const sl_vfs *vfs, int fd)
{
    *r = (seg_reader){.vfs = vfs, .fd = fd};
}

void sl_seg_reader_cleanup_(seg_reader *r)
{
    free(r->buf);
    r->buf = NULL;
}

int sl_seg_reader_get_(seg_reader *r, uint64_t pos, size_t n, const uint8_t **p)
{
    if (pos >= r->buf_pos && pos + n <= r->buf_pos + r->buf_len) {
        *p = r->buf + (pos - r->buf_pos);
        return 0;
    }
    size_t want = n > READ_WINDOW ? n : READ_WINDOW;
    if (want > r->cap) {
        uint8_t *nb = realloc(r->buf, want);
        if (!nb)
            return SL_ENOMEM;
        r->buf = nb;
        r->cap = want;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t k = r->vfs->pread(r->fd, r->buf + got, want - got, (off_t)(pos + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return SL_EIO;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    r->buf_pos = pos;
    r->buf_len = got;
    if (got < n)
        return SL_EAGAIN;
    *p = r->buf;
    return 0;
}

int sl_seg_scan_(const sl_vfs *vfs, int fd, uint64_t base, int verify_crc, uint64_t *valid_end,
                 uint64_t *last_entry, int64_t *max_ts, int *reason, char *why, size_t why_cap)
{
    seg_reader r;
    sl_seg_reader_init_(&r, vfs, fd);
    uint64_t off = base, last = UINT64_MAX;
    int64_t mts = INT64_MIN;
    int rc = 0, bad = 0;
    const uint8_t *h, *e;
    why[0] = '\0';
    for (;;) {
        uint64_t pos = SEG_HEADER + (off - base);
        uint32_t len;
        int g = sl_seg_reader_get_(&r, pos, 32, &h);
        if (g == SL_EAGAIN) {
            /* Clean end when nothing follows; otherwise half a header. */
            const uint8_t *one;
            if (sl_seg_reader_get_(&r, pos, 1, &one) == SL_EAGAIN)
                break;
            bad = SL_EAGAIN;
            snprintf(why, why_cap, "partial entry header");
            break;
        }
        if (g) {
            rc = g;
            break;
        }
        if (sl_entry_header_check_(h, off, &len) != 0) {
            bad = SL_ECORRUPT;
            snprintf(why, why_cap, "invalid entry header");
            break;
        }
        int64_t ts = (int64_t)sl_get64_(h + 16);
        if (verify_crc) {
            g = sl_seg_reader_get_(&r, pos, 32 + (size_t)len, &e);
            if (g == SL_EAGAIN) {
                bad = SL_EAGAIN;
                snprintf(why, why_cap, "partial payload (%" PRIu32 " bytes announced)", len);
                break;
            }
            if (g) {
                rc = g;
                break;
            }
            uint32_t crc = sl_crc32c(sl_crc32c(0, e, 28), e + 32, len);
            if (crc != sl_get32_(e + 28)) {
                bad = SL_ECORRUPT;
                snprintf(why, why_cap, "CRC mismatch");
                break;
            }
        } else if (len > 0) {
            /* Without CRC checks only make sure the payload's last byte exists. */
            g = sl_seg_reader_get_(&r, pos + 32 + len - 1, 1, &e);
            if (g == SL_EAGAIN) {
                bad = SL_EAGAIN;
                snprintf(why, why_cap, "partial payload");
                break;
            }
            if (g) {
                rc = g;
                break;
            }
        }
        if (ts > mts)
            mts = ts;
        last = off;
        off += 32 + (uint64_t)len;
    }
    sl_seg_reader_cleanup_(&r);
    *valid_end = off;
    *last_entry = last;
    *max_ts = mts;
    *reason = bad;
    return rc;
}

/* Uses and removes the clean-shutdown marker (format in log.c). Returns 1 when it vouches for
 * the tail segment t as it is on disk now, filling *last and *max_ts; 0 means "scan". */
static int take_marker(sl_log *log, const seg *t, uint64_t *last, int64_t *max_ts)
{
    char path[PATH_MAX];
    uint8_t m[CLEAN_MARKER];
    snprintf(path, sizeof(path), "%s/%s", log->dir, CLEAN_NAME);
    int fd = log->vfs->open(path, O_RDONLY, 0);
    if (fd < 0)
        return 0;
    ssize_t r = log->vfs->pread(fd, m, sizeof(m), 0);
    log->vfs->close(fd);
    /* Gone before anything new is written, so it never describes a later state. */
    log->vfs->unlink(path);
    if (r != (ssize_t)sizeof(m) || memcmp(m, CLEAN_MAGIC, 8) != 0 ||
        sl_get32_(m + 44) != sl_crc32c(0, m, 44))
        return 0;
    uint64_t base = sl_get64_(m + 8), end = sl_get64_(m + 16), lo = sl_get64_(m + 24);
    if (base != t->base || end != t->end)
        return 0; /* the tail changed since (appends or a cut after a later crash) */
    if (lo == UINT64_MAX ? end != base : (lo < base || lo + SL_LOG_ENTRY_HEADER > end))
        return 0;
    *last = lo;
    *max_ts = (int64_t)sl_get64_(m + 32);
    return 1;
}

/* 1 when the file's bytes [from, to) are all zero (0 on a read error: the cut is then reported). */
static int all_zero(const sl_vfs *vfs, int fd, uint64_t from, uint64_t to)
{
    uint8_t buf[16384];
    while (from < to) {
        size_t n = to - from < sizeof(buf) ? (size_t)(to - from) : sizeof(buf);
        ssize_t r = vfs->pread(fd, buf, n, (off_t)from);
        if (r <= 0)
            return 0;
        for (ssize_t i = 0; i < r; i++)
            if (buf[i])
                return 0;
        from += (uint64_t)r;
    }
    return 1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Lists the bases of the *.seg files in dir (sorted) into *out. */
static int list_segments(const char *dir, uint64_t **out, size_t *n)
{
    DIR *d = opendir(dir);
    uint64_t *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    if (!d)
        return errno == ENOENT ? 0 : SL_EIO;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (strlen(nm) != 24 || strcmp(nm + 20, ".seg") != 0 || strspn(nm, "0123456789") != 20)
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *nv = realloc(v, cap * sizeof(*v));
            if (!nv) {
                rc = SL_ENOMEM;
                goto out;
            }
            v = nv;
        }
        v[cnt++] = strtoull(nm, NULL, 10);
    }
    qsort(v, cnt, sizeof(*v), cmp_u64);
    *out = v;
    *n = cnt;
    v = NULL;
out:
    free(v);
    closedir(d);
    return rc;
}

static int remove_segment(sl_log *log, uint64_t base, int fd, const char *why)
{
    char path[PATH_MAX];
    sl_seg_path_(log, base, path, sizeof(path));
    sl_warn("storage", "log %s: removing trailing segment %020" PRIu64 ".seg (%s)", log->name, base,
            why);
    if (fd >= 0)
        log->vfs->close(fd);
    if (log->vfs->unlink(path) != 0)
        return SL_EIO;
    int dfd = log->vfs->open(log->dir, O_RDONLY | O_DIRECTORY, 0);
    if (dfd < 0)
        return SL_EIO;
    int r = log->vfs->fsync(dfd);
    log->vfs->close(dfd);
    return r == 0 ? 0 : SL_EIO;
}

int sl_log_recover_(sl_log *log)
{
    uint64_t *bases = NULL;
    size_t n = 0;
    int rc = list_segments(log->dir, &bases, &n);
    if (rc)
        goto out;
    log->dir_ready = 1;
    log->segs = calloc(n ? n : 1, sizeof(*log->segs));
    if (!log->segs) {
        rc = SL_ENOMEM;
        goto out;
    }
    log->cap = n ? n : 1;
    char path[PATH_MAX];
    for (size_t i = 0; i < n; i++) {
        sl_seg_path_(log, bases[i], path, sizeof(path));
        int fd = log->vfs->open(path, O_RDWR, 0);
        struct stat st;
        uint8_t h[SEG_HEADER];
        if (fd < 0 || fstat(fd, &st) != 0) {
            sl_error("storage", "cannot open %s: %s", path, strerror(errno));
            if (fd >= 0)
                log->vfs->close(fd);
            rc = SL_EIO;
            goto out;
        }
        int hdr_ok = st.st_size >= (off_t)SEG_HEADER &&
                     log->vfs->pread(fd, h, SEG_HEADER, 0) == (ssize_t)SEG_HEADER &&
                     sl_seg_header_check_(h, bases[i]) == 0;
        if (!hdr_ok && i + 1 == n && log->nsegs == 0) {
            /* The only segment (its predecessors went to retention): rewrite its header rather
             * than remove it, so the log keeps its offsets instead of restarting at 0. */
            sl_warn("storage", "log %s: rewriting torn header of %s", log->name, path);
            sl_seg_header_encode_(h, bases[i], sl_time_now_ns());
            struct iovec iov = {h, SEG_HEADER};
            if (log->vfs->ftruncate(fd, 0) != 0 ||
                log->vfs->pwritev(fd, &iov, 1, 0) != (ssize_t)SEG_HEADER ||
                log->vfs->fdatasync(fd) != 0) {
                log->vfs->close(fd);
                rc = SL_EIO;
                goto out;
            }
            st.st_size = SEG_HEADER;
            hdr_ok = 1;
        }
        if (!hdr_ok) {
            if (i + 1 == n) {
                rc = remove_segment(log, bases[i], fd, "torn segment header");
                if (rc)
                    goto out;
                break;
            }
            sl_error("storage", "log %s: damaged header in sealed segment %s", log->name, path);
            log->vfs->close(fd);
            rc = SL_ECORRUPT;
            goto out;
        }
        log->segs[log->nsegs++] = (seg){.base = bases[i],
                                        .end = bases[i] + (uint64_t)st.st_size - SEG_HEADER,
                                        .fd = fd,
                                        .ts_known = 0,
                                        .max_ts_ns = INT64_MIN};
        atomic_fetch_add(log->disk_bytes, (uint64_t)st.st_size);
    }
    /* Scan the last segment; drop it when it holds nothing and an earlier one exists. After a
     * clean shutdown the marker stands in for the scan. */
    int marked = log->nsegs > 0;
    while (log->nsegs > 0) {
        seg *t = &log->segs[log->nsegs - 1];
        uint64_t valid_end, last;
        int64_t mts;
        int reason;
        char why[96];
        if (marked && take_marker(log, t, &last, &mts) && (last != UINT64_MAX || log->nsegs == 1)) {
            t->ts_known = 1;
            t->max_ts_ns = mts;
            log->write_last = last;
            sl_debug("storage", "log %s: clean shutdown marker, tail not scanned", log->name);
            break;
        }
        marked = 0;
        rc = sl_seg_scan_(log->vfs, t->fd, t->base, 1, &valid_end, &last, &mts, &reason, why,
                          sizeof(why));
        if (rc)
            goto out;
        if (valid_end < t->end) {
            if (all_zero(log->vfs, t->fd, SEG_HEADER + valid_end - t->base,
                         SEG_HEADER + t->end - t->base))
                sl_debug("storage",
                         "log %s: cut %" PRIu64 " preallocated zero bytes at offset %" PRIu64,
                         log->name, t->end - valid_end, valid_end);
            else
                sl_warn("storage",
                        "log %s: recovery cut %" PRIu64 " bytes at offset %" PRIu64 " (%s)",
                        log->name, t->end - valid_end, valid_end, why);
            if (log->vfs->ftruncate(t->fd, (off_t)(SEG_HEADER + valid_end - t->base)) != 0 ||
                log->vfs->fdatasync(t->fd) != 0) {
                rc = SL_EIO;
                goto out;
            }
            atomic_fetch_sub(log->disk_bytes, t->end - valid_end);
            t->end = valid_end;
        }
        if (last == UINT64_MAX && log->nsegs > 1) {
            atomic_fetch_sub(log->disk_bytes, SEG_HEADER);
            rc = remove_segment(log, t->base, t->fd, "no entry");
            t->fd = -1;
            log->nsegs--;
            if (rc)
                goto out;
            continue;
        }
        t->ts_known = 1;
        t->max_ts_ns = mts;
        log->write_last = last;
        break;
    }
    for (size_t i = 0; i + 1 < log->nsegs; i++) {
        if (log->segs[i].end != log->segs[i + 1].base) {
            sl_error("storage",
                     "log %s: segment %020" PRIu64 " ends at %" PRIu64 " but the next begins at "
                     "%" PRIu64,
                     log->name, log->segs[i].base, log->segs[i].end, log->segs[i + 1].base);
            rc = SL_ECORRUPT;
            goto out;
        }
    }
    if (log->nsegs > 0) {
        seg *t = &log->segs[log->nsegs - 1];
        log->write_end = t->end;
        log->tail_size = SEG_HEADER + (t->end - t->base);
        log->tail_fd = t->fd;
        log->tail_base = t->base;
        log->tail_max_ts = t->max_ts_ns;
        atomic_store(&log->first, log->segs[0].base);
    }
    sl_log_publish_(log);
    sl_debug("storage", "log %s: %zu segment(s), offsets [%" PRIu64 ", %" PRIu64 ")", log->name,
             log->nsegs, atomic_load(&log->first), log->write_end);
out:
    free(bases);
    return rc;
}
