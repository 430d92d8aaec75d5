/* Durable storage substrate: the SQLite catalog, segmented append-only logs and the
 * group-commit writer thread. The on-disk formats are specified in storage/log.c and
 * storage/catalog.c.
 *
 * Layout of a data folder:
 *     <data_dir>/catalog.db (+ -wal, -shm)   SQLite catalog, WAL mode, synchronous=FULL
 *     <data_dir>/logs/<name>/<20-digit first offset>.seg   segment files of log <name>
 *
 * Threads. One writer thread per store owns every write: segment appends, fdatasync, and the one
 * writing SQLite connection. Any thread submits work to it (sl_writer_submit), normally the loop
 * thread; completions run ON THE WRITER THREAD, after the fsync that covers them and after the
 * SQL of the same batch has committed -- the API layer posts them to the loop with sl_loop_post.
 * Reads (sl_log_read*) are plain preads and may run on any thread concurrently with appends, but
 * they are disk reads: keep large or cold reads off the loop thread.
 *
 * Failure is sticky: once a segment write, fsync or catalog commit has failed, every pending and
 * every future submission completes with SL_ESTORAGE_FAILED until the process restarts (fsync is
 * never retried: after a failed fsync the kernel may have dropped the dirty pages). */
#ifndef SLUICE_STORAGE_H
#define SLUICE_STORAGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef struct sl_store sl_store;
typedef struct sl_log sl_log;
typedef struct sl_writer sl_writer;
typedef struct sqlite3 sqlite3; /* same typedef as sqlite3.h */
typedef struct sl_buf sl_buf;   /* sluice/buf.h */

/* ---------------------------------------------------------------------------------------------
 * File I/O table. Every file operation of the logs goes through one of these, so tests can fail
 * the Nth write or fsync (see sl_vfs_fault below). All functions follow the POSIX contract of the
 * call they are named after (return -1 and set errno on failure). */
typedef struct sl_vfs {
    int (*open)(const char *path, int flags, mode_t mode);
    int (*close)(int fd);
    ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
    ssize_t (*pwritev)(int fd, const struct iovec *iov, int iovcnt, off_t off);
    int (*fdatasync)(int fd);
    int (*fsync)(int fd); /* used for directories */
    int (*ftruncate)(int fd, off_t len);
    int (*unlink)(const char *path);
    int (*mkdir)(const char *path, mode_t mode);
} sl_vfs;

/* The real system calls. */
extern const sl_vfs sl_vfs_posix;

/* Fault injector wrapping another table: the Nth pwritev / fdatasync (1-based, counted from
 * sl_vfs_fault_init) fails with EIO, and so does every later one when `sticky` is set. Set the
 * fail_* fields before the table is used; the counters are atomic, so any thread may use it. `vfs`
 * is the table to give to the store; it must stay at this address while in use. */
typedef struct sl_vfs_fault {
    sl_vfs vfs;            /* hand &f->vfs to sl_store_options.vfs */
    const sl_vfs *base;    /* borrowed */
    long fail_write_at;    /* 0: never */
    long fail_sync_at;     /* 0: never; counts fdatasync and fsync */
    int sticky;            /* after the first injected failure, fail every later call too */
    _Atomic long writes;   /* pwritev calls seen so far */
    _Atomic long syncs;    /* fdatasync + fsync calls seen so far */
    _Atomic long injected; /* failures injected so far */
} sl_vfs_fault;

void sl_vfs_fault_init(sl_vfs_fault *f, const sl_vfs *base);

/* ---------------------------------------------------------------------------------------------
 * Store. */
typedef struct sl_store_stats {
    uint64_t bytes_on_disk; /* segment files + catalog */
    uint64_t appends;       /* appends made durable since start */
    uint64_t fsyncs;        /* fdatasync calls since start */
    uint64_t batches;       /* group-commit batches since start */
} sl_store_stats;

typedef struct sl_store_options {
    uint64_t segment_bytes; /* roll a segment past this many bytes; 0: 64 MiB */
    size_t queue_max_bytes; /* writer queue budget in payload bytes; 0: 64 MiB */
    size_t queue_max_ops;   /* writer queue budget in submissions; 0: 65536 */
    const sl_vfs *vfs;      /* borrowed, outlives the store; NULL: sl_vfs_posix */
} sl_store_options;

/* Opens (creating if needed) the store in data_dir: migrates the catalog, recovers logs, starts
 * the writer thread. Blocking disk I/O: call at startup, not from the loop. */
int sl_store_open(const char *data_dir, sl_store **out);
/* The same with explicit options (o may be NULL). Errors: SL_EIO (folder or catalog unusable),
 * SL_ECORRUPT (a log has a gap or a damaged sealed segment), SL_EUNSUPPORTED (catalog written by
 * a newer Sluice), SL_ENOMEM. */
int sl_store_open_with(const char *data_dir, const sl_store_options *o, sl_store **out);
/* Finishes pending writes (their completions run), stops the writer, writes each log's
 * clean-shutdown marker (when storage is healthy; it lets the next open skip the tail scans),
 * closes everything. Every sl_log pointer obtained from s becomes invalid. No other thread may
 * use s any more. */
void sl_store_close(sl_store *s);
/* Thread-safe and cheap: atomic counters plus two stat() calls for the catalog's size. */
void sl_store_stats_get(sl_store *s, sl_store_stats *out);

/* The store's writer. Borrowed, valid until sl_store_close. */
sl_writer *sl_store_writer(sl_store *s);

/* Finds or creates the log called `name` ("kinesis/<stream>/<shard>": 1-8 components of
 * [A-Za-z0-9_.-], none "." or "..", at most 200 bytes). Logs present on disk were opened and
 * recovered by sl_store_open; a new log only gets an in-memory object here -- its folder and first
 * segment are created by the writer with its first append -- so this does no disk I/O and is safe
 * on the loop thread. *out is borrowed and stays valid until sl_store_close (also after a drop).
 * Thread-safe. Errors: SL_EINVAL (bad name), SL_ENOMEM. */
int sl_store_log_open(sl_store *s, const char *name, sl_log **out);

/* Calls fn for each live log, in no particular order, under the registry lock (fn must not call
 * back into the registry). Thread-safe. */
void sl_store_log_foreach(sl_store *s, void (*fn)(void *arg, sl_log *log), void *arg);

/* ---------------------------------------------------------------------------------------------
 * Logs: reader side. Offsets are logical byte positions in the log (an entry at offset o with
 * payload length n is followed by the entry at o + 32 + n), starting at 0. An acknowledged
 * offset is never handed out again (after a restart a log continues after its last durable
 * entry; only a dropped and re-created log starts over at 0). An entry becomes readable once it
 * is durable. All functions are thread-safe. */
typedef struct sl_log_entry {
    uint64_t offset;      /* of this entry */
    uint64_t next_offset; /* of the following entry (= end offset if this is the last) */
    int64_t ts_ns;        /* timestamp stored with the entry */
    uint32_t len;         /* payload bytes */
} sl_log_entry;

#define SL_LOG_ENTRY_HEADER 32u
#define SL_LOG_ENTRY_MAX    (64u << 20) /* payload bytes per entry */

const char *sl_log_name(const sl_log *log);
/* First retained offset (entries before it were removed by retention). */
uint64_t sl_log_first_offset(sl_log *log);
/* Durable end: every entry below it is durable and readable; the next append lands here. */
uint64_t sl_log_end_offset(sl_log *log);
/* Offset of the last durable entry in *out. SL_ENOTFOUND when the log holds no entry. */
int sl_log_last_offset(sl_log *log, uint64_t *out);
/* Reads the entry at `offset`, verifies its CRC, fills *e and appends the payload to `payload`
 * (which may be NULL to read only the header; no CRC check then). Iterate with
 * e->next_offset. Errors: SL_EAGAIN (offset >= durable end: nothing there yet), SL_ERANGE (offset
 * before the first retained entry), SL_ENOTFOUND (log dropped), SL_ECORRUPT (no entry starts
 * there, or its CRC does not match), SL_EIO, SL_ENOMEM. */
int sl_log_read(sl_log *log, uint64_t offset, sl_log_entry *e, sl_buf *payload);
/* One entry of a sl_log_read_many result. */
typedef struct sl_log_item {
    sl_log_entry e;
    const char *payload; /* e.len bytes inside the caller's buffer; valid until it changes */
} sl_log_item;

/* Reads consecutive entries from `offset` with one pread: at most max_items entries and about
 * max_bytes bytes (always at least one whole entry, whatever its size), never past the durable
 * end or the end of the segment holding `offset` (so a call may return fewer entries than exist:
 * continue at items[n-1].e.next_offset). Every CRC is verified. `buf` is reset and receives the
 * raw frames; items[i].payload points into it. *n_out = number of items filled. Errors as
 * sl_log_read, returned only when no entry could be read (SL_EAGAIN: nothing at `offset` yet). */
int sl_log_read_many(sl_log *log, uint64_t offset, size_t max_bytes, sl_log_item *items,
                     size_t max_items, sl_buf *buf, size_t *n_out);
/* Removes whole segments from the front of the log: a segment goes when every entry in it lies
 * before `before_offset` or every entry has ts_ns < `older_than_ns` (pass 0 / INT64_MIN to
 * disable either rule). The segment being appended to is never removed. Unlinks files and may
 * read sealed segments to learn their newest timestamp: call off the loop thread. Concurrent
 * readers of removed entries get SL_ERANGE. Adds the freed bytes to *freed (may be NULL). */
int sl_log_retain(sl_log *log, uint64_t before_offset, int64_t older_than_ns, uint64_t *freed);
/* Offset of the first entry with ts_ns >= ts_ns in *out (the durable end when there is none),
 * for timestamps that grow along the log (arrival times): whole segments whose newest entry is
 * older are skipped, then at most one segment's headers are read. Disk reads (up to one segment):
 * call off the loop thread. Errors: SL_ENOTFOUND (dropped), SL_ECORRUPT, SL_EIO, SL_ENOMEM. */
int sl_log_seek_ts(sl_log *log, int64_t ts_ns, uint64_t *out);
/* Number of segment files (for tests and metrics). */
size_t sl_log_segment_count(sl_log *log);

/* ---------------------------------------------------------------------------------------------
 * Writer: group commit. One submission = optionally one log entry + optionally one SQL step.
 *
 * A batch is everything pending when the writer wakes. For a batch the writer (1) writes each
 * touched log's entries with as few pwritev calls as possible (rolling segments as needed: the old
 * segment is fdatasync'ed before the new one is created), (2) fdatasyncs each touched segment
 * once, (3) publishes the new durable ends (entries become readable), (4) runs every SQL step in
 * ONE transaction on the catalog (each step inside its own savepoint: a step returning an error
 * is rolled back alone), commits, and (5) runs the done callbacks in submission order.
 *
 * Ownership: the payload iovecs are copied once during submit; the caller may reuse them when
 * submit returns. `arg` stays the caller's; it is handed back to sql and done. */
typedef int (*sl_sql_fn)(sqlite3 *db, void *arg, const sl_log_entry *e);
typedef void (*sl_done_fn)(void *arg, int rc, const sl_log_entry *e);

typedef struct sl_append {
    sl_log *log;             /* NULL: no log entry (SQL only) */
    const struct iovec *iov; /* payload pieces (total <= SL_LOG_ENTRY_MAX) */
    int iovcnt;
    int64_t ts_ns;   /* stored with the entry; 0: sl_time_now_ns() at submit */
    sl_sql_fn sql;   /* optional; writer thread, after the fsync; e NULL when no log */
    sl_done_fn done; /* optional; writer thread, once, with rc and e (NULL when no log;
                        e->offset valid only when the entry was written) */
    void *arg;
} sl_append;

/* Queues a. Thread-safe, never blocks on disk. rc passed to done: 0; SL_ESTORAGE_FAILED (this or
 * an earlier batch failed to write/sync/commit; entry not durable); SL_ENOTFOUND (log dropped);
 * or the sql step's own error (the entry, if any, IS durable then). Returns 0 (done will be
 * called exactly once), or without queuing anything: SL_EFULL (budget exceeded: apply
 * back-pressure and retry after a completion; an entry larger than the whole budget is accepted
 * when the queue is empty), SL_ESTORAGE_FAILED, SL_ECLOSED (writer stopping), SL_EINVAL,
 * SL_ETOOBIG, SL_ENOMEM. */
int sl_writer_submit(sl_writer *w, const sl_append *a);
/* Like sl_writer_submit but waits for room instead of SL_EFULL. Never call on the loop thread.
 * Called on the writer thread (from a callback) it does not wait: SL_EFULL instead. */
int sl_writer_submit_wait(sl_writer *w, const sl_append *a);
/* Queues n submissions at once, all or nothing (e.g. the records of one PutRecords): they enter
 * the queue together, in array order, so they share a batch unless the writer is mid-batch.
 * wait = 0 behaves like sl_writer_submit (SL_EFULL when the whole set does not fit), wait = 1
 * like sl_writer_submit_wait. On error nothing was queued and no done callback will run. */
int sl_writer_submit_many(sl_writer *w, const sl_append *a, size_t n, int wait);
/* SQL-only submission: fn(db, arg, NULL) runs in the next batch's transaction, then done. */
int sl_writer_submit_fn(sl_writer *w, sl_sql_fn fn, sl_done_fn done, void *arg);
/* Runs fn in a batch and waits for the commit; returns fn's result or the batch error. Blocks:
 * for startup and worker threads only, never the loop thread; SL_EINVAL on the writer thread. */
int sl_writer_run_sync(sl_writer *w, sl_sql_fn fn, void *arg);
/* 0, or SL_ESTORAGE_FAILED once storage has failed. Thread-safe. */
int sl_writer_status(sl_writer *w);

/* Removes log `log` (all its files) on the writer thread, ordered after every earlier submission;
 * then done(arg, rc, NULL). Later appends to it complete with SL_ENOTFOUND and reads return
 * SL_ENOTFOUND; sl_store_log_open of the same name afterwards gives a fresh empty log. */
int sl_store_log_drop(sl_store *s, sl_log *log, sl_done_fn done, void *arg);

/* ---------------------------------------------------------------------------------------------
 * Catalog (SQLite, catalog.db). The core schema version is PRAGMA user_version; the store refuses
 * to open a catalog whose version is newer than this build knows. Core schema v1: table
 * meta(key TEXT PRIMARY KEY, value TEXT) with 'store_id' (32 hex digits) and 'created_ms'.
 * Service modules keep their own tables under their own version numbers in table
 * component_version(component TEXT PRIMARY KEY, version INTEGER). */
#define SL_CATALOG_VERSION 1

/* Brings `component`'s tables up to version n_steps by running steps[v] for every version v
 * the catalog does not have yet (steps[0] creates version 1), all on the writer thread in one
 * transaction, and records the version. Blocks until committed: call at startup, not on the loop.
 * Returns 0, SL_EUNSUPPORTED when the catalog has a newer version of the component than n_steps,
 * SL_EIO on SQL errors (logged with the failing step), SL_ESTORAGE_FAILED. */
int sl_store_migrate(sl_store *s, const char *component, const char *const *steps, int n_steps);
/* The same for use inside an sl_sql_fn (db = the writer connection). */
int sl_catalog_migrate(sqlite3 *db, const char *component, const char *const *steps, int n_steps);
/* Opens a read-only connection to the catalog for the calling thread (WAL readers never block the
 * writer). Close it with sqlite3_close. Errors: SL_EIO, SL_ENOMEM. */
int sl_catalog_open_reader(sl_store *s, sqlite3 **out);
/* Value of meta key `key` copied into buf (NUL-terminated). SL_ENOTFOUND / SL_ETOOBIG / SL_EIO.
 * Reads through a reader connection of its own; any thread but the loop. */
int sl_store_meta_get(sl_store *s, const char *key, char *buf, size_t cap);

#endif
