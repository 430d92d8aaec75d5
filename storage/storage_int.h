/* Declarations shared by the storage files (log.c, recover.c, retention.c, writer.c, catalog.c,
 * store.c, crc32c.c, vfs.c); nothing here is visible outside storage/. */
#ifndef SLUICE_STORAGE_INT_H
#define SLUICE_STORAGE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "sluice/storage.h"

/* ---- crc32c.c: CRC-32C (Castagnoli), hardware instruction when the CPU has it. */
uint32_t sl_crc32c(uint32_t crc, const void *p, size_t n);

/* ---- log.c: segment files and entries (format at the top of log.c). */
#define SEG_HEADER   32u
#define SEG_MAGIC    "SLUSEG01"
#define ENTRY_MAGIC  0x31454c53u /* bytes "SLE1" little-endian */
#define CLEAN_NAME   "clean"
#define CLEAN_MAGIC  "SLCLEAN1"
#define CLEAN_MARKER 48u

typedef struct seg {
    uint64_t base; /* logical offset of the first entry */
    uint64_t end;  /* logical end of the bytes written (writer side for the tail) */
    int fd;
    int ts_known;      /* max_ts_ns valid (scanned, or every entry seen by this process) */
    int64_t max_ts_ns; /* newest entry timestamp; INT64_MIN when empty */
} seg;

struct sl_log {
    sl_store *store;
    const sl_vfs *vfs;
    char *name;
    char *dir; /* <data_dir>/logs/<name> */
    uint64_t segment_bytes;
    pthread_rwlock_t lock; /* guards segs/nsegs and their fds; readers share it */
    seg *segs;
    size_t nsegs, cap;
    _Atomic uint64_t first;   /* first retained offset */
    _Atomic uint64_t durable; /* durable end */
    _Atomic uint64_t last;    /* offset of the last durable entry, UINT64_MAX if none */
    _Atomic int dropped;
    /* The tail segment as the writer sees it. Writer-thread fields, never in the shared array
     * (retention moves array entries under the lock while the writer appends): the array's last
     * entry gets its end and max_ts copied in only when it is sealed (seg_create). */
    int tail_fd; /* -1: no segment yet */
    uint64_t tail_base;
    int64_t tail_max_ts;
    uint64_t write_end;           /* writer thread: end including written-not-yet-synced */
    uint64_t tail_size;           /* writer thread: the tail file's size; zeros past write_end */
    int prealloc_off;             /* writer thread: the disk was full; no zeros for this tail */
    uint64_t write_last;          /* writer thread: offset of the last written entry */
    int dir_ready;                /* writer thread: folder exists on disk */
    int dirty;                    /* writer thread: tail written since the last fdatasync */
    uint64_t batch_gen;           /* writer thread: batch that last touched this log */
    size_t batch_slot;            /* writer thread: its slot in that batch */
    int new_seg;                  /* writer thread: a segment was created; folder needs fsync */
    pthread_mutex_t retain_mu;    /* one retention at a time */
    _Atomic uint64_t *disk_bytes; /* the store's counter of segment bytes */
};

/* Allocates an empty log object (no I/O). */
int sl_log_new_(sl_store *st, const sl_vfs *vfs, const char *data_dir, const char *name,
                uint64_t segment_bytes, _Atomic uint64_t *disk_bytes, sl_log **out);
void sl_log_free_(sl_log *log);
/* Recovery (recover.c): opens the segments found in log->dir, checks the sealed ones' sizes and
 * headers, scans the last one and truncates a torn tail. */
int sl_log_recover_(sl_log *log);

/* Writer-thread side of appends. One pending entry: frame = 32-byte header (magic, length, ts
 * and flags filled at submit; offset and CRC by sl_log_write_) followed by the payload. */
typedef struct log_pending {
    struct log_pending *next_in_log;
    uint8_t *frame;
    uint32_t len;
    int64_t ts_ns;
    sl_log_entry entry; /* filled by sl_log_write_ */
} log_pending;

/* Writes the chain of entries (in order) to the log's tail, rolling segments as needed; each entry
 * gets its offset and rc. Returns 0 or the first error (SL_EIO: storage is then failed). */
int sl_log_write_(sl_log *log, log_pending *first, uint64_t *fsyncs);
/* fdatasync of the tail segment if it was written; SL_EIO on failure. */
int sl_log_sync_(sl_log *log, uint64_t *fsyncs);
/* Opens folder `path` and fsyncs it (new or removed entries become durable). 0 or SL_EIO. */
int sl_fsync_dir_(const sl_vfs *vfs, const char *path);
/* Makes everything written durable-visible (after a successful sync). */
void sl_log_publish_(sl_log *log);
/* Writes the clean-shutdown marker of the tail (see log.c). Only after every write of the log
 * was synced and the writer has stopped. */
int sl_log_write_clean_(sl_log *log);
/* Closes fds, unlinks every file and the folder. Writer thread. */
int sl_log_drop_files_(sl_log *log);

/* Encode/decode helpers (little-endian). */
void sl_put32_(uint8_t *p, uint32_t v);
void sl_put64_(uint8_t *p, uint64_t v);
uint32_t sl_get32_(const uint8_t *p);
uint64_t sl_get64_(const uint8_t *p);
void sl_seg_header_encode_(uint8_t out[SEG_HEADER], uint64_t base, int64_t created_ns);
int sl_seg_header_check_(const uint8_t in[SEG_HEADER], uint64_t base);
void sl_seg_path_(const sl_log *log, uint64_t base, char *out, size_t cap);
/* Checks an entry header found at logical offset `off`: magic, offset field, length bound. */
int sl_entry_header_check_(const uint8_t h[32], uint64_t off, uint32_t *len);
/* Index of the segment holding offset (lock held), or -1. */
long sl_log_find_seg_(const sl_log *log, uint64_t offset);

/* Sequential buffered reader over one segment (recovery, timestamp scans). */
typedef struct seg_reader {
    const sl_vfs *vfs;
    int fd;
    uint8_t *buf;
    size_t cap;
    uint64_t buf_pos; /* file position of buf[0] */
    size_t buf_len;
} seg_reader;
void sl_seg_reader_init_(seg_reader *r, const sl_vfs *vfs, int fd);
void sl_seg_reader_cleanup_(seg_reader *r);
/* Points *p at n bytes from file position pos. 0, SL_EAGAIN (file ends first), SL_EIO, NOMEM. */
int sl_seg_reader_get_(seg_reader *r, uint64_t pos, size_t n, const uint8_t **p);
/* Walks the entries of segment s; on_entry may be NULL. Stops at the first invalid entry and
 * reports where (*valid_end, logical) and why (reason: 0 clean end, else SL_ECORRUPT/SL_EAGAIN).
 * Fills max_ts. verify_crc: check payload CRCs. */
int sl_seg_scan_(const sl_vfs *vfs, int fd, uint64_t base, int verify_crc, uint64_t *valid_end,
                 uint64_t *last_entry, int64_t *max_ts, int *reason, char *why, size_t why_cap);

/* ---- writer.c */
int sl_writer_new_(sl_store *st, sqlite3 *db, size_t max_bytes, size_t max_ops, sl_writer **out);
/* Drains everything pending, stops and joins the thread, frees w (db is not closed). Returns 0,
 * or SL_ESTORAGE_FAILED when storage failed at any time. */
int sl_writer_free_(sl_writer *w);
int sl_writer_submit_drop_(sl_writer *w, sl_log *log, sl_done_fn done, void *arg);
void sl_writer_counters_(sl_writer *w, uint64_t *appends, uint64_t *fsyncs, uint64_t *batches);

/* ---- catalog.c */
/* Opens (creating) the writing connection and migrates the core schema. */
int sl_catalog_open_(const char *path, sqlite3 **out);
int sl_catalog_open_reader_path_(const char *path, sqlite3 **out);

/* ---- store.c */
const char *sl_store_dir_(sl_store *s);

#endif
