/* Segmented append-only logs: on-disk format, reads, and the writer-thread side of appends.
 *
 * A log is a folder <data_dir>/logs/<name>/ of segment files named by the logical offset of their
 * first entry, as 20 decimal digits: 00000000000000000000.seg, 00000000000067108896.seg, ...
 * Offsets are logical byte positions: an entry at offset o with an n-byte payload occupies
 * [o, o + 32 + n), the next entry starts at o + 32 + n, and a segment with base b stores the entry
 * at offset o at file position 32 + (o - b). Segments are contiguous: the end of one is the base of
 * the next. All integers are little-endian.
 *
 * Segment header (32 bytes, file position 0):
 *     0   8  magic "SLUSEG01"
 *     8   8  base offset (u64) -- must equal the number in the file name
 *    16   8  creation time, ns since the epoch (i64; informational)
 *    24   4  reserved, 0
 *    28   4  CRC-32C of bytes 0..27
 * Entry (32-byte header + payload):
 *     0   4  magic "SLE1" (bytes 53 4C 45 31)
 *     4   4  payload length n (u32, <= SL_LOG_ENTRY_MAX)
 *     8   8  logical offset of this entry (u64) -- guards against misplaced or stale bytes
 *    16   8  timestamp, ns since the epoch (i64), chosen by the submitter
 *    24   4  flags, 0 (reserved)
 *    28   4  CRC-32C of bytes 0..27 followed by the n payload bytes
 *    32   n  payload
 *
 * Clean-shutdown marker <dir>/clean (48 bytes), written by sl_store_close when storage is healthy
 * and every write has been synced:
 *     0   8  magic "SLCLEAN1"
 *     8   8  base of the tail segment (u64)
 *    16   8  logical end of the tail segment (u64)
 *    24   8  offset of the last entry in it (u64; all ones when it holds none)
 *    32   8  newest timestamp in it (i64)
 *    40   4  reserved, 0
 *    44   4  CRC-32C of bytes 0..43
 * At open it replaces the scan of the tail when its CRC matches and the tail's size still equals
 * the recorded end; it is unlinked at open whatever it says. It is written without fsync: a
 * marker lost or torn by a power cut fails its CRC or is missing (then the tail is scanned), and a
 * marker resurrected from an earlier run can only match a tail of exactly the size it recorded,
 * whose bytes are the synced ones it describes (the tail only grows by appends, and a recovery cut
 * deletes the marker first).
 *
 * Validity and recovery (recover.c): an entry is valid when its magic, offset field, length and
 * CRC match and it lies wholly inside the file. Only the last segment can end in a torn entry,
 * because the writer fdatasyncs a segment before it creates the next one; so recovery checks the
 * sealed segments' headers and sizes only, scans the last segment entry by entry and truncates it
 * at the first invalid byte (the log says how much it cut and why). A trailing segment holding no
 * entry (header only, or a torn header) is removed. Nothing is acknowledged before the fdatasync
 * covering it (and, for a new segment, the fsync of its folder), so a cut never loses an
 * acknowledged entry.
 *
 * Preallocation: the writer keeps the tail segment zero-filled ahead of its written end. An append
 * past a file's end changes its size, so its fdatasync must also write the inode (or commit the
 * journal); an append over zeros already on disk is a plain overwrite, and its fdatasync writes
 * the data and flushes the disk cache only. When a batch writes at most PREALLOC_MAX_WRITE bytes
 * to a log and leaves under PREALLOC_LOW bytes of zeros after its end, zeros are written up to
 * PREALLOC_STEP past the end (never past segment_bytes), in the same batch and before its
 * fdatasync, which makes the new size durable once per step. Larger batches simply append: their
 * data write dwarfs the inode's. A zero byte fails the entry magic, so scans stop at the zeros and
 * recovery cuts them like a torn tail (quietly when everything after the last entry is zero).
 * A segment is cut back to its written end before it is sealed (before the fdatasync that seals
 * it) and at a clean close (before the marker is written), so sealed segments keep their exact
 * sizes and a clean marker still matches only a tail of exactly the size it records.
 *
 * Concurrency: one writer thread appends (sl_log_write_/sync_/publish_). Readers on any thread take
 * the rwlock shared while they pread, so retention and drops (which close fds) wait for them; the
 * writer takes it exclusively only to add a segment. `durable` is published with release order
 * after the fdatasync, and readers refuse offsets at or past it, so bytes written but not yet
 * synced are never returned. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/buf.h"
#include "sluice/err.h"
#include "sluice/log.h"
#include "sluice/time.h"
#include "storage_int.h"

#define MAX_IOV            1024
#define PREALLOC_STEP      (256u << 10)
#define PREALLOC_LOW       (32u << 10)
#define PREALLOC_MAX_WRITE (64u << 10)
#define ZERO_BLOCK         (64u << 10)

static const uint8_t zero_block[ZERO_BLOCK];

void sl_put32_(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void sl_put64_(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t sl_get32_(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint64_t sl_get64_(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void sl_seg_header_encode_(uint8_t out[SEG_HEADER], uint64_t base, int64_t created_ns)
{
    memcpy(out, SEG_MAGIC, 8);
    sl_put64_(out + 8, base);
    sl_put64_(out + 16, (uint64_t)created_ns);
    sl_put32_(out + 24, 0);
    sl_put32_(out + 28, sl_crc32c(0, out, 28));
}

int sl_seg_header_check_(const uint8_t in[SEG_HEADER], uint64_t base)
{
    if (memcmp(in, SEG_MAGIC, 8) != 0 || sl_get64_(in + 8) != base ||
        sl_get32_(in + 28) != sl_crc32c(0, in, 28))
        return SL_ECORRUPT;
    return 0;
}

int sl_entry_header_check_(const uint8_t h[32], uint64_t off, uint32_t *len)
{
    if (sl_get32_(h) != ENTRY_MAGIC || sl_get64_(h + 8) != off)
        return SL_ECORRUPT;
    uint32_t n = sl_get32_(h + 4);
    if (n > SL_LOG_ENTRY_MAX || sl_get32_(h + 24) != 0)
        return SL_ECORRUPT;
    *len = n;
    return 0;
}

void sl_seg_path_(const sl_log *log, uint64_t base, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%020" PRIu64 ".seg", log->dir, base);
}

int sl_log_new_(sl_store *st, const sl_vfs *vfs, const char *data_dir, const char *name,
                uint64_t segment_bytes, _Atomic uint64_t *disk_bytes, sl_log **out)
{
    int rc = SL_ENOMEM;
    sl_log *log = calloc(1, sizeof(*log));
    if (!log)
        goto out;
    log->store = st;
    log->vfs = vfs;
    log->segment_bytes = segment_bytes;
    log->disk_bytes = disk_bytes;
    log->name = strdup(name);
    size_t dl = strlen(data_dir) + strlen(name) + 8;
    log->dir = malloc(dl);
    if (!log->name || !log->dir)
        goto out;
    snprintf(log->dir, dl, "%s/logs/%s", data_dir, name);
    pthread_rwlock_init(&log->lock, NULL);
    pthread_mutex_init(&log->retain_mu, NULL);
    atomic_store(&log->last, UINT64_MAX);
    log->write_last = UINT64_MAX;
    log->tail_fd = -1;
    log->tail_max_ts = INT64_MIN;
    *out = log;
    log = NULL;
    rc = 0;
out:
    if (log) {
        free(log->name);
        free(log->dir);
        free(log);
    }
    return rc;
}

void sl_log_free_(sl_log *log)
{
    if (!log)
        return;
    for (size_t i = 0; i < log->nsegs; i++)
        if (log->segs[i].fd >= 0)
            log->vfs->close(log->segs[i].fd);
    free(log->segs);
    pthread_rwlock_destroy(&log->lock);
    pthread_mutex_destroy(&log->retain_mu);
    free(log->name);
    free(log->dir);
    free(log);
}

long sl_log_find_seg_(const sl_log *log, uint64_t offset)
{
    size_t lo = 0, hi = log->nsegs;
    if (hi == 0 || offset < log->segs[0].base)
        return -1;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->segs[mid].base <= offset)
            lo = mid;
        else
            hi = mid;
    }
    return (long)lo;
}

/* ---- reader side --------------------------------------------------------------------------- */

const char *sl_log_name(const sl_log *log)
{
    return log->name;
}

uint64_t sl_log_first_offset(sl_log *log)
{
    return atomic_load_explicit(&log->first, memory_order_acquire);
}

uint64_t sl_log_end_offset(sl_log *log)
{
    return atomic_load_explicit(&log->durable, memory_order_acquire);
}

int sl_log_last_offset(sl_log *log, uint64_t *out)
{
    uint64_t v = atomic_load_explicit(&log->last, memory_order_acquire);
    if (v == UINT64_MAX || v < sl_log_first_offset(log))
        return SL_ENOTFOUND;
    *out = v;
    return 0;
}

size_t sl_log_segment_count(sl_log *log)
{
    pthread_rwlock_rdlock(&log->lock);
    size_t n = log->nsegs;
    pthread_rwlock_unlock(&log->lock);
    return n;
}

static int pread_full(const sl_vfs *vfs, int fd, void *buf, size_t n, uint64_t pos)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = vfs->pread(fd, p, n, (off_t)pos);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return SL_EIO;
        if (r == 0)
            return SL_ECORRUPT; /* the file is shorter than the durable end says */
        p += r;
        n -= (size_t)r;
        pos += (uint64_t)r;
    }
    return 0;
}

int sl_log_read(sl_log *log, uint64_t offset, sl_log_entry *e, sl_buf *payload)
{
    if (atomic_load(&log->dropped))
        return SL_ENOTFOUND;
    uint64_t durable = sl_log_end_offset(log);
    if (offset >= durable)
        return SL_EAGAIN;
    int rc;
    uint8_t h[32];
    uint32_t len = 0;
    pthread_rwlock_rdlock(&log->lock);
    long i = sl_log_find_seg_(log, offset);
    if (atomic_load(&log->dropped)) {
        rc = SL_ENOTFOUND;
        goto out;
    }
    if (i < 0 || offset < sl_log_first_offset(log)) {
        rc = SL_ERANGE;
        goto out;
    }
    const seg *s = &log->segs[i];
    uint64_t pos = SEG_HEADER + (offset - s->base);
    rc = pread_full(log->vfs, s->fd, h, sizeof(h), pos);
    if (rc)
        goto out;
    rc = sl_entry_header_check_(h, offset, &len);
    if (rc == 0 && offset + SL_LOG_ENTRY_HEADER + len > durable)
        rc = SL_ECORRUPT;
    if (rc)
        goto out;
    if (payload) {
        rc = sl_buf_reserve(payload, len);
        if (rc)
            goto out;
        char *dst = payload->data + payload->len;
        rc = pread_full(log->vfs, s->fd, dst, len, pos + 32);
        if (rc)
            goto out;
        uint32_t crc = sl_crc32c(sl_crc32c(0, h, 28), dst, len);
        if (crc != sl_get32_(h + 28)) {
            sl_warn("storage", "log %s: CRC mismatch in entry at offset %" PRIu64, log->name,
                    offset);
            rc = SL_ECORRUPT;
            goto out;
        }
        payload->len += len;
        payload->data[payload->len] = '\0';
    }
    e->offset = offset;
    e->next_offset = offset + SL_LOG_ENTRY_HEADER + len;
    e->ts_ns = (int64_t)sl_get64_(h + 16);
    e->len = len;
out:
    pthread_rwlock_unlock(&log->lock);
    return rc;
}

int sl_log_read_many(sl_log *log, uint64_t offset, size_t max_bytes, sl_log_item *items,
                     size_t max_items, sl_buf *buf, size_t *n_out)
{
    *n_out = 0;
    sl_buf_reset(buf);
    if (atomic_load(&log->dropped))
        return SL_ENOTFOUND;
    uint64_t durable = sl_log_end_offset(log);
    if (offset >= durable)
        return SL_EAGAIN;
    if (max_items == 0)
        return SL_EINVAL;
    int rc = 0;
    size_t n = 0;
    pthread_rwlock_rdlock(&log->lock);
    long i = sl_log_find_seg_(log, offset);
    if (atomic_load(&log->dropped)) {
        rc = SL_ENOTFOUND;
        goto out;
    }
    if (i < 0 || offset < sl_log_first_offset(log)) {
        rc = SL_ERANGE;
        goto out;
    }
    const seg *s = &log->segs[i];
    uint64_t limit = (size_t)i + 1 < log->nsegs ? log->segs[i + 1].base : durable;
    if (limit > durable)
        limit = durable;
    uint64_t want = limit - offset;
    if (want > max_bytes)
        want = max_bytes < SL_LOG_ENTRY_HEADER ? SL_LOG_ENTRY_HEADER : max_bytes;
    if ((rc = sl_buf_reserve(buf, (size_t)want)) != 0)
        goto out;
    uint64_t pos = SEG_HEADER + (offset - s->base);
    if ((rc = pread_full(log->vfs, s->fd, buf->data, (size_t)want, pos)) != 0)
        goto out;
    size_t have = (size_t)want, at = 0;
    while (n < max_items && at + SL_LOG_ENTRY_HEADER <= have) {
        const uint8_t *h = (const uint8_t *)buf->data + at;
        uint32_t len;
        uint64_t off = offset + at;
        if ((rc = sl_entry_header_check_(h, off, &len)) != 0)
            break;
        size_t frame = SL_LOG_ENTRY_HEADER + len;
        if (off + frame > limit) {
            rc = SL_ECORRUPT;
            break;
        }
        if (at + frame > have) {
            if (n > 0)
                break; /* the next call starts with it */
            /* A first entry larger than max_bytes is read whole. */
            if ((rc = sl_buf_reserve(buf, frame)) != 0 ||
                (rc = pread_full(log->vfs, s->fd, buf->data + have, frame - have, pos + have)) != 0)
                break;
            have = frame;
            h = (const uint8_t *)buf->data;
        }
        uint32_t crc = sl_crc32c(sl_crc32c(0, h, 28), h + 32, len);
        if (crc != sl_get32_(h + 28)) {
            sl_warn("storage", "log %s: CRC mismatch in entry at offset %" PRIu64, log->name, off);
            rc = SL_ECORRUPT;
            break;
        }
        items[n].e = (sl_log_entry){.offset = off,
                                    .next_offset = off + frame,
                                    .ts_ns = (int64_t)sl_get64_(h + 16),
                                    .len = len};
        items[n].payload = NULL;
        n++;
        at += frame;
    }
    if (n > 0)
        rc = 0; /* report what was read; the next call meets the problem first */
    buf->len = at;
    buf->data[at] = '\0';
    for (size_t k = 0; k < n; k++)
        items[k].payload = buf->data + (items[k].e.offset - offset) + SL_LOG_ENTRY_HEADER;
    *n_out = n;
out:
    pthread_rwlock_unlock(&log->lock);
    return rc;
}

/* ---- writer side ----------------------------------------------------------------------------- */

int sl_fsync_dir_(const sl_vfs *vfs, const char *path)
{
    int fd = vfs->open(path, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return SL_EIO;
    int r = vfs->fsync(fd);
    vfs->close(fd);
    return r == 0 ? 0 : SL_EIO;
}

/* Creates the log folder and its missing parents, syncing each parent that gained an entry. */
static int ensure_dir(sl_log *log)
{
    char path[PATH_MAX];
    size_t n = strlen(log->dir);
    if (n >= sizeof(path))
        return SL_EINVAL;
    memcpy(path, log->dir, n + 1);
    /* The part after <data_dir>/logs/ is created component by component. */
    size_t start = n - strlen(log->name);
    for (size_t i = start - 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char c = path[i];
        path[i] = '\0';
        if (log->vfs->mkdir(path, 0755) == 0) {
            char *slash = strrchr(path, '/');
            *slash = '\0';
            int r = sl_fsync_dir_(log->vfs, path);
            *slash = '/';
            if (r) {
                sl_error("storage", "cannot sync folder %s: %s", path, strerror(errno));
                return SL_EIO;
            }
        } else if (errno != EEXIST) {
            sl_error("storage", "cannot create folder %s: %s", path, strerror(errno));
            return SL_EIO;
        }
        path[i] = c;
    }
    log->dir_ready = 1;
    return 0;
}

/* Creates segment `base` with its header and makes it the tail; the previous tail (if any) is
 * sealed in the array with its final end and newest timestamp. Its folder entry is synced by
 * sl_log_sync_ (new_seg flag), before anything in it is acknowledged. */
static int seg_create(sl_log *log, uint64_t base)
{
    char path[PATH_MAX];
    sl_seg_path_(log, base, path, sizeof(path));
    int fd = log->vfs->open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        sl_error("storage", "cannot create segment %s: %s", path, strerror(errno));
        return SL_EIO;
    }
    uint8_t h[SEG_HEADER];
    sl_seg_header_encode_(h, base, sl_time_now_ns());
    struct iovec iov = {h, sizeof(h)};
    if (log->vfs->pwritev(fd, &iov, 1, 0) != (ssize_t)sizeof(h)) {
        sl_error("storage", "cannot write segment header %s: %s", path, strerror(errno));
        log->vfs->close(fd);
        return SL_EIO;
    }
    pthread_rwlock_wrlock(&log->lock);
    if (log->nsegs == log->cap) {
        size_t cap = log->cap ? log->cap * 2 : 8;
        seg *ns = realloc(log->segs, cap * sizeof(*ns));
        if (!ns) {
            pthread_rwlock_unlock(&log->lock);
            log->vfs->close(fd);
            return SL_ENOMEM;
        }
        log->segs = ns;
        log->cap = cap;
    }
    if (log->nsegs > 0) {
        seg *old = &log->segs[log->nsegs - 1];
        old->end = log->write_end;
        old->max_ts_ns = log->tail_max_ts;
        old->ts_known = 1;
    }
    log->segs[log->nsegs++] =
        (seg){.base = base, .end = base, .fd = fd, .ts_known = 0, .max_ts_ns = INT64_MIN};
    pthread_rwlock_unlock(&log->lock);
    log->tail_fd = fd;
    log->tail_base = base;
    log->tail_size = SEG_HEADER;
    log->prealloc_off = 0;
    log->tail_max_ts = INT64_MIN;
    atomic_fetch_add(log->disk_bytes, SEG_HEADER);
    log->dirty = 1;
    log->new_seg = 1;
    return 0;
}

/* Writes iov[0..n) at file position pos, resuming after short writes. Returns 0 or the errno
 * (ENOSPC for a write that makes no progress). */
static int pwritev_all(const sl_vfs *vfs, int fd, struct iovec *iov, int n, uint64_t pos)
{
    while (n > 0) {
        ssize_t w = vfs->pwritev(fd, iov, n, (off_t)pos);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : ENOSPC;
        pos += (uint64_t)w;
        size_t left = (size_t)w;
        while (n > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

static int write_all(sl_log *log, int fd, struct iovec *iov, int n, uint64_t pos)
{
    int err = pwritev_all(log->vfs, fd, iov, n, pos);
    if (err) {
        sl_error("storage", "log %s: write failed: %s", log->name, strerror(err));
        return SL_EIO;
    }
    return 0;
}

/* Zero-fills the tail ahead of its written end (see "Preallocation" above); `batch` is how many
 * bytes this batch wrote to the log. A full disk only stops the preallocation: the file is cut
 * back to what it was, the entries already written stand, and this segment appends from then on.
 * Any other error is the log's. */
static int prealloc_tail(sl_log *log, uint64_t batch)
{
    uint64_t end = SEG_HEADER + (log->write_end - log->tail_base);
    uint64_t cap = SEG_HEADER + log->segment_bytes;
    if (end > log->tail_size)
        log->tail_size = end;
    if (batch > PREALLOC_MAX_WRITE || log->prealloc_off || log->tail_size >= cap ||
        end + PREALLOC_LOW <= log->tail_size)
        return 0;
    uint64_t to = cap - end > PREALLOC_STEP ? end + PREALLOC_STEP : cap;
    struct iovec iov[PREALLOC_STEP / ZERO_BLOCK]; /* to - tail_size <= PREALLOC_STEP */
    int n = 0;
    for (uint64_t p = log->tail_size; p < to; p += ZERO_BLOCK)
        iov[n++] =
            (struct iovec){(void *)zero_block, to - p < ZERO_BLOCK ? (size_t)(to - p) : ZERO_BLOCK};
    int err = pwritev_all(log->vfs, log->tail_fd, iov, n, log->tail_size);
    if (err == 0) {
        log->tail_size = to;
        log->dirty = 1;
        return 0;
    }
    if (err != ENOSPC && err != EDQUOT) {
        sl_error("storage", "log %s: write failed: %s", log->name, strerror(err));
        return SL_EIO;
    }
    if (log->vfs->ftruncate(log->tail_fd, (off_t)log->tail_size) != 0) {
        sl_error("storage", "log %s: cannot cut the tail back after a full disk: %s", log->name,
                 strerror(errno));
        return SL_EIO;
    }
    sl_warn("storage", "log %s: no space to preallocate its tail segment (%s); it appends",
            log->name, strerror(err));
    log->prealloc_off = 1;
    return 0;
}

/* Cuts the tail file back to its written end (before it is sealed, and at a clean close). */
static int trim_tail(sl_log *log)
{
    uint64_t end = SEG_HEADER + (log->write_end - log->tail_base);
    if (log->tail_size <= end)
        return 0;
    if (log->vfs->ftruncate(log->tail_fd, (off_t)end) != 0) {
        sl_error("storage", "log %s: cannot cut the tail to its end: %s", log->name,
                 strerror(errno));
        return SL_EIO;
    }
    log->tail_size = end;
    log->dirty = 1;
    return 0;
}

static int sync_tail(sl_log *log, uint64_t *fsyncs)
{
    if (log->dirty) {
        (*fsyncs)++;
        if (log->vfs->fdatasync(log->tail_fd) != 0) {
            sl_error("storage", "log %s: fdatasync failed: %s", log->name, strerror(errno));
            return SL_EIO;
        }
        log->dirty = 0;
    }
    if (log->new_seg) {
        (*fsyncs)++;
        if (sl_fsync_dir_(log->vfs, log->dir) != 0) {
            sl_error("storage", "log %s: folder fsync failed: %s", log->name, strerror(errno));
            return SL_EIO;
        }
        log->new_seg = 0;
    }
    return 0;
}

int sl_log_write_(sl_log *log, log_pending *p, uint64_t *fsyncs)
{
    struct iovec iov[MAX_IOV];
    int n = 0, rc = 0;
    uint64_t start = log->write_end; /* logical offset of iov[0] */
    uint64_t batch = 0;              /* bytes written to the current tail */
    if (!log->dir_ready && (rc = ensure_dir(log)) != 0)
        return rc;
    if (log->tail_fd < 0 && (rc = seg_create(log, log->write_end)) != 0)
        return rc;
    for (; p; p = p->next_in_log) {
        uint64_t frame = SL_LOG_ENTRY_HEADER + (uint64_t)p->len;
        uint64_t used = log->write_end - log->tail_base;
        if (used > 0 && used + frame > log->segment_bytes) {
            if (n && (rc = write_all(log, log->tail_fd, iov, n,
                                     SEG_HEADER + start - log->tail_base)) != 0)
                return rc;
            n = 0;
            /* The old segment, cut to its end, is durable before the new one exists (see the
             * recovery rules). */
            if ((rc = trim_tail(log)) != 0 || (rc = sync_tail(log, fsyncs)) != 0)
                return rc;
            if ((rc = seg_create(log, log->write_end)) != 0)
                return rc;
            start = log->write_end;
            batch = 0;
        }
        uint64_t off = log->write_end;
        sl_put64_(p->frame + 8, off);
        uint32_t crc = sl_crc32c(sl_crc32c(0, p->frame, 28), p->frame + 32, p->len);
        sl_put32_(p->frame + 28, crc);
        p->entry = (sl_log_entry){
            .offset = off, .next_offset = off + frame, .ts_ns = p->ts_ns, .len = p->len};
        iov[n++] = (struct iovec){p->frame, (size_t)frame};
        log->write_end += frame;
        batch += frame;
        log->write_last = off;
        if (p->ts_ns > log->tail_max_ts)
            log->tail_max_ts = p->ts_ns;
        log->dirty = 1;
        atomic_fetch_add(log->disk_bytes, frame);
        if (n == MAX_IOV) {
            if ((rc = write_all(log, log->tail_fd, iov, n, SEG_HEADER + start - log->tail_base)) !=
                0)
                return rc;
            n = 0;
            start = log->write_end;
        }
    }
    if (n)
        rc = write_all(log, log->tail_fd, iov, n, SEG_HEADER + start - log->tail_base);
    if (rc == 0)
        rc = prealloc_tail(log, batch);
    return rc;
}

int sl_log_sync_(sl_log *log, uint64_t *fsyncs)
{
    if (log->tail_fd < 0)
        return 0;
    return sync_tail(log, fsyncs);
}

void sl_log_publish_(sl_log *log)
{
    atomic_store_explicit(&log->last, log->write_last, memory_order_release);
    atomic_store_explicit(&log->durable, log->write_end, memory_order_release);
}

int sl_log_write_clean_(sl_log *log)
{
    if (log->tail_fd < 0 || atomic_load(&log->dropped))
        return 0;
    if (trim_tail(log) != 0)
        return SL_EIO; /* no marker: the next open scans the tail and cuts its zeros */
    uint8_t m[CLEAN_MARKER];
    char path[PATH_MAX];
    memcpy(m, CLEAN_MAGIC, 8);
    sl_put64_(m + 8, log->tail_base);
    sl_put64_(m + 16, log->write_end);
    sl_put64_(m + 24, log->write_last >= log->tail_base ? log->write_last : UINT64_MAX);
    sl_put64_(m + 32, (uint64_t)log->tail_max_ts);
    sl_put32_(m + 40, 0);
    sl_put32_(m + 44, sl_crc32c(0, m, 44));
    snprintf(path, sizeof(path), "%s/%s", log->dir, CLEAN_NAME);
    int fd = log->vfs->open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return SL_EIO;
    struct iovec iov = {m, sizeof(m)};
    int rc = log->vfs->pwritev(fd, &iov, 1, 0) == (ssize_t)sizeof(m) ? 0 : SL_EIO;
    log->vfs->close(fd);
    return rc;
}

int sl_log_drop_files_(sl_log *log)
{
    int rc = 0;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", log->dir, CLEAN_NAME);
    log->vfs->unlink(path); /* normally absent: it is removed at open */
    pthread_mutex_lock(&log->retain_mu);
    pthread_rwlock_wrlock(&log->lock);
    atomic_store(&log->dropped, 1);
    for (size_t i = 0; i < log->nsegs; i++) {
        seg *s = &log->segs[i];
        uint64_t end = i + 1 == log->nsegs ? log->write_end : s->end;
        sl_seg_path_(log, s->base, path, sizeof(path));
        if (s->fd >= 0)
            log->vfs->close(s->fd);
        s->fd = -1;
        if (log->vfs->unlink(path) != 0 && errno != ENOENT) {
            sl_error("storage", "cannot remove %s: %s", path, strerror(errno));
            rc = SL_EIO;
        }
        atomic_fetch_sub(log->disk_bytes, SEG_HEADER + (end - s->base));
    }
    log->nsegs = 0;
    log->tail_fd = -1;
    pthread_rwlock_unlock(&log->lock);
    pthread_mutex_unlock(&log->retain_mu);
    /* Remove the folder and the parents it leaves empty, up to logs/. */
    size_t stop = strlen(log->dir) - strlen(log->name) - 1;
    snprintf(path, sizeof(path), "%s", log->dir);
    while (strlen(path) > stop && rmdir(path) == 0) {
        char *slash = strrchr(path, '/');
        if (!slash)
            break;
        *slash = '\0';
    }
    /* `path` is now the innermost folder left: syncing it makes the removals durable, so a
     * dropped log does not come back after a power cut. */
    if (sl_fsync_dir_(log->vfs, path) != 0) {
        sl_error("storage", "cannot sync %s: %s", path, strerror(errno));
        rc = SL_EIO;
    }
    if (rc == 0)
        sl_info("storage", "log %s dropped", log->name);
    return rc;
}
