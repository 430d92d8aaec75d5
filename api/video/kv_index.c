/* The Kinesis Video fragment log is the source of truth; the SQLite index is derived from it.
 *
 * Why. A PERSISTED ack used to wait for two fsyncs per writer batch: the shared fragment log,
 * then the catalog commit of the fragment's index row (synchronous=FULL). Now every fragment is
 * written to the log as TWO adjacent entries of one sl_writer_submit_many -- a small record
 * holding everything its index row needs, then the Cluster bytes exactly as received (what
 * readers serve) -- and PERSISTED goes out after the log fsync alone. Index rows are collected
 * on the loop thread (kv_index_add) and inserted in one SQL step every FLUSH_MS (or every
 * FLUSH_ROWS rows, and at shutdown), together with the log position they cover. At start-up
 * (kv_index_recover, inside the catalog load) the log is read from that position to its end
 * and every record found there is put back into the index: so a kill -9 right after the acks,
 * or a catalog whose WAL was lost or rolled back, still lists and plays every fragment whose
 * PERSISTED was sent.
 *
 * Record formats (payload of one log entry, little-endian integers):
 *
 *   fragment record            the NEXT entry of the log holds the fragment's Cluster bytes
 *     0   4  "KVF1"
 *     4   1  n = length of the stream's skey (1..39)
 *     5   n  skey
 *     +0  8  seq            fragment number
 *     +8  8  producer_ms    (signed)
 *     +16 8  server_ms      (signed)
 *     +24 8  duration_ms
 *     +32 8  size           payload bytes of the Cluster entry that follows
 *     +40 4  header_id      kv_headers id of the session's stream header
 *     +44 4  frames
 *     +48 4  m = bytes of fragment metadata that follow (kv_meta format, see kv.h), <= 64 KiB
 *
 *   header record              a PutMedia session's stream header (EBML + Segment head)
 *     0   4  "KVH1"
 *     4   1  n, 5 n skey (as above)
 *     +0  4  id
 *     +4  .. the header bytes (rest of the entry)
 *
 * Validity: an entry is used only when its CRC checks (sl_log_read) and, for a fragment
 * record, the next entry exists and its length equals `size`; anything else is skipped with a
 * warning (a torn batch was never acknowledged, and log recovery already cut torn tails).
 * Cluster entries (payload starting with the Cluster ID 1F 43 B6 75) and the entries of older
 * versions, which had no records, are skipped. Records of streams that no longer exist (deleted)
 * are skipped; fragments already in the index are not added twice.
 *
 * Position: table kv_index_pos(log, next_offset) says that every record before next_offset is in
 * the index. It moves with each flush, in the same transaction as the rows, so a rolled-back
 * catalog also rolls back its position and the gap is read again. A catalog from before this
 * table starts after the highest indexed fragment (or at the log's first entry).
 *
 * Threads: kv_index_add / kv_index_forget / kv_index_flush on the loop thread; the SQL steps and
 * kv_index_recover on the storage writer thread. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "sluice/buf.h"
#include "sluice/log.h"
#include "sluice/loop.h"

#define FLUSH_MS_DEFAULT 1000
#define FLUSH_ROWS       4096
#define RECORD_READ_MAX  (1u << 20) /* entries larger than this are clusters, not records */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* ---- records --------------------------------------------------------------------------------
 */

static size_t put_skey(uint8_t *p, const char *skey)
{
    size_t n = strlen(skey);
    p[0] = (uint8_t)n;
    memcpy(p + 1, skey, n);
    return 1 + n;
}

int kv_record_frag(const char *skey, const kv_frag *f, uint8_t **out, size_t *len)
{
    size_t n = strlen(skey);
    size_t m = f->meta ? f->meta->len : 0;
    if (n == 0 || n >= 40 || m > KV_META_MAX)
        return SL_EINVAL;
    size_t total = 4 + 1 + n + 52 + m;
    uint8_t *p = malloc(total);
    if (!p)
        return SL_ENOMEM;
    memcpy(p, "KVF1", 4);
    size_t o = 4 + put_skey(p + 4, skey);
    put64(p + o, f->seq);
    put64(p + o + 8, (uint64_t)f->producer_ms);
    put64(p + o + 16, (uint64_t)f->server_ms);
    put64(p + o + 24, f->duration_ms);
    put64(p + o + 32, f->size);
    put32(p + o + 40, f->header_id);
    put32(p + o + 44, f->frames);
    put32(p + o + 48, (uint32_t)m);
    if (m)
        memcpy(p + o + 52, f->meta->data, m);
    *out = p;
    *len = total;
    return 0;
}

int kv_record_header(const char *skey, uint32_t id, const kv_blob *bytes, uint8_t **out,
                     size_t *len)
{
    size_t n = strlen(skey);
    if (n == 0 || n >= 40)
        return SL_EINVAL;
    size_t total = 4 + 1 + n + 4 + bytes->len;
    uint8_t *p = malloc(total);
    if (!p)
        return SL_ENOMEM;
    memcpy(p, "KVH1", 4);
    size_t o = 4 + put_skey(p + 4, skey);
    put32(p + o, id);
    memcpy(p + o + 4, bytes->data, bytes->len);
    *out = p;
    *len = total;
    return 0;
}

/* Reads the skey at p[4..]; returns the offset after it, or 0 when malformed. */
static size_t get_skey(const uint8_t *p, size_t len, char skey[40])
{
    if (len < 5 || p[4] == 0 || p[4] >= 40 || len < 5u + p[4])
        return 0;
    memcpy(skey, p + 5, p[4]);
    skey[p[4]] = '\0';
    return 5u + p[4];
}

int kv_record_parse_frag(const uint8_t *p, size_t len, char skey[40], kv_frag *f)
{
    size_t o;
    if (len < 4 || memcmp(p, "KVF1", 4) != 0 || !(o = get_skey(p, len, skey)) || len < o + 52)
        return SL_ECORRUPT;
    memset(f, 0, sizeof(*f));
    f->seq = get64(p + o);
    f->producer_ms = (int64_t)get64(p + o + 8);
    f->server_ms = (int64_t)get64(p + o + 16);
    f->duration_ms = get64(p + o + 24);
    f->size = get64(p + o + 32);
    f->header_id = get32(p + o + 40);
    f->frames = get32(p + o + 44);
    uint32_t m = get32(p + o + 48);
    if (m > KV_META_MAX || len != o + 52 + m || kv_meta_check(p + o + 52, m) != 0)
        return SL_ECORRUPT;
    if (m && !(f->meta = kv_blob_new(p + o + 52, m)))
        return SL_ENOMEM;
    return 0;
}

int kv_record_parse_header(const uint8_t *p, size_t len, char skey[40], uint32_t *id,
                           kv_blob **bytes)
{
    size_t o;
    if (len < 4 || memcmp(p, "KVH1", 4) != 0 || !(o = get_skey(p, len, skey)) || len < o + 4)
        return SL_ECORRUPT;
    *id = get32(p + o);
    *bytes = kv_blob_new(p + o + 4, len - o - 4);
    return *bytes ? 0 : SL_ENOMEM;
}

/* ---- pending rows and their flush -----------------------------------------------------------
 */

typedef struct flush_job {
    kv_frag_row *rows;
    size_t n;
    uint64_t pos; /* log position covered by these rows */
} flush_job;

static struct {
    kv_frag_row *rows;
    size_t n, cap;
    uint64_t pos;
    void *timer;
    int flush_ms;
    uint64_t flushes, flushed_rows;
} ix = {.flush_ms = -1};

static int flush_ms(void)
{
    if (ix.flush_ms < 0) {
        const char *v = getenv("SLUICE_VIDEO_INDEX_FLUSH_MS"); /* test-only */
        long ms = v && *v ? strtol(v, NULL, 10) : FLUSH_MS_DEFAULT;
        ix.flush_ms = ms > 0 && ms < 86400000 ? (int)ms : FLUSH_MS_DEFAULT;
    }
    return ix.flush_ms;
}

static void rows_free(kv_frag_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kv_blob_unref(rows[i].f.meta);
    free(rows);
}

static int sql_pos(sqlite3 *db, uint64_t pos)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "INSERT INTO kv_index_pos(log, next_offset) VALUES('fragments', ?1)"
                                " ON CONFLICT(log) DO UPDATE SET next_offset ="
                                " max(next_offset, excluded.next_offset)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)pos);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : SL_EIO;
}

static int sql_flush(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    flush_job *j = arg;
    (void)e;
    int rc = kv_sql_insert_frags(db, j->rows, j->n);
    if (rc == 0)
        rc = sql_pos(db, j->pos);
    return rc;
}

static void flush_done(void *arg, int rc, const sl_log_entry *e)
{
    flush_job *j = arg;
    (void)e;
    if (rc)
        sl_warn("video", "fragment index flush of %zu row(s) failed: %s (the log keeps them)", j->n,
                sl_err_str(rc));
    rows_free(j->rows, j->n);
    free(j);
}

static void flush_tick(void *unused)
{
    (void)unused;
    ix.timer = NULL;
    kv_index_flush(0);
}

void kv_index_flush(int wait)
{
    if (ix.n == 0)
        return;
    sl_store *st = kv_store();
    flush_job *j = st ? malloc(sizeof(*j)) : NULL;
    if (!j)
        return;
    *j = (flush_job){.rows = ix.rows, .n = ix.n, .pos = ix.pos};
    sl_append a = {.sql = sql_flush, .done = flush_done, .arg = j};
    sl_writer *w = sl_store_writer(st);
    int rc = wait ? sl_writer_submit_wait(w, &a) : sl_writer_submit(w, &a);
    if (rc) {
        free(j);
        if (rc != SL_EFULL)
            sl_warn("video", "fragment index flush not queued: %s", sl_err_str(rc));
        if (!wait && !ix.timer)
            ix.timer = sl_loop_timer_add((uint64_t)flush_ms(), flush_tick, NULL);
        return;
    }
    ix.flushes++;
    ix.flushed_rows += ix.n;
    ix.rows = NULL;
    ix.n = ix.cap = 0;
}

int kv_index_add(const char *skey, const kv_frag *f)
{
    if (ix.n == ix.cap) {
        size_t cap = ix.cap ? ix.cap * 2 : 256;
        kv_frag_row *g = realloc(ix.rows, cap * sizeof(*g));
        if (!g)
            return SL_ENOMEM;
        ix.rows = g;
        ix.cap = cap;
    }
    kv_frag_row *r = &ix.rows[ix.n++];
    memset(r, 0, sizeof(*r));
    snprintf(r->skey, sizeof(r->skey), "%s", skey);
    r->f = *f;
    r->f.blob = NULL;
    r->f.meta = kv_blob_ref(f->meta);
    uint64_t end = f->log_offset + SL_LOG_ENTRY_HEADER + f->size;
    if (end > ix.pos)
        ix.pos = end;
    if (ix.n >= FLUSH_ROWS)
        kv_index_flush(0);
    else if (!ix.timer)
        ix.timer = sl_loop_timer_add((uint64_t)flush_ms(), flush_tick, NULL);
    return 0;
}

void kv_index_forget(const char *skey)
{
    size_t k = 0;
    for (size_t i = 0; i < ix.n; i++) {
        if (strcmp(ix.rows[i].skey, skey) == 0)
            kv_blob_unref(ix.rows[i].f.meta);
        else
            ix.rows[k++] = ix.rows[i];
    }
    ix.n = k;
}

void kv_index_shutdown(void)
{
    if (ix.timer)
        sl_loop_timer_cancel(ix.timer);
    ix.timer = NULL;
    kv_index_flush(1);
    rows_free(ix.rows, ix.n); /* only when the flush could not be queued */
    ix.rows = NULL;
    ix.n = ix.cap = 0;
    ix.pos = 0;
}

/* ---- recovery -------------------------------------------------------------------------------
 */

static int sql_get_u64(sqlite3 *db, const char *sql, uint64_t *out, int *found)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    *found = 0;
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
            *out = (uint64_t)sqlite3_column_int64(st, 0);
            *found = 1;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : SL_EIO;
}

static kv_stream *find_skey(kv_stream **streams, size_t n, const char *skey)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(streams[i]->skey, skey) == 0)
            return streams[i];
    return NULL;
}

/* Where the scan starts: the stored position, else after the highest indexed fragment. */
static int scan_start(sqlite3 *db, sl_log *log, uint64_t *start)
{
    uint64_t v = 0;
    int found = 0;
    int rc =
        sql_get_u64(db, "SELECT next_offset FROM kv_index_pos WHERE log = 'fragments'", &v, &found);
    if (rc)
        return rc;
    if (found) {
        *start = v;
        return 0;
    }
    *start = sl_log_first_offset(log);
    if ((rc = sql_get_u64(db, "SELECT max(log_offset) FROM kv_fragments", &v, &found)))
        return rc;
    sl_log_entry e;
    if (found && sl_log_read(log, v, &e, NULL) == 0)
        *start = e.next_offset;
    return 0;
}

static int header_add(sqlite3 *db, kv_stream *s, uint32_t id, kv_blob *bytes)
{
    if (kv_header_find(s, id)) {
        kv_blob_unref(bytes);
        return 0;
    }
    kv_header *g = realloc(s->headers, (s->nheaders + 1) * sizeof(*g));
    if (!g) {
        kv_blob_unref(bytes);
        return SL_ENOMEM;
    }
    s->headers = g;
    g[s->nheaders].id = id;
    g[s->nheaders].bytes = bytes;
    s->nheaders++;
    if (id >= s->next_header_id)
        s->next_header_id = id + 1;
    return kv_sql_insert_header(db, s->skey, id, bytes);
}

/* Puts f into s's index at its place; 1 when it was there already. */
static int frag_insert(kv_stream *s, const kv_frag *f)
{
    size_t i = kv_frag_lower_bound(s, f->seq);
    if (i < s->nfrags && s->frags[i].seq == f->seq)
        return 1;
    if (s->nfrags == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        kv_frag *g = realloc(s->frags, cap * sizeof(*g));
        if (!g)
            return SL_ENOMEM;
        s->frags = g;
        s->cap = cap;
    }
    memmove(&s->frags[i + 1], &s->frags[i], (s->nfrags - i) * sizeof(*s->frags));
    s->frags[i] = *f;
    s->nfrags++;
    if (f->seq > s->last_seq)
        s->last_seq = f->seq;
    return 0;
}

int kv_index_recover(sqlite3 *db, sl_log *log, kv_stream **streams, size_t nstreams,
                     size_t *recovered)
{
    sl_buf buf = SL_BUF_INIT;
    uint64_t off = 0, end = sl_log_end_offset(log);
    size_t nfrag = 0, nhdr = 0, skipped = 0;
    int rc = scan_start(db, log, &off);
    if (rc)
        goto out;
    if (off < sl_log_first_offset(log))
        off = sl_log_first_offset(log);
    uint64_t from = off;
    while (rc == 0 && off < end) {
        sl_log_entry e, ce;
        char skey[40];
        sl_buf_reset(&buf);
        int r = sl_log_read(log, off, &e, NULL);
        if (r == 0 && e.len <= RECORD_READ_MAX)
            r = sl_log_read(log, off, &e, &buf);
        if (r) {
            sl_warn("video", "index recovery: log entry at %" PRIu64 " unreadable (%s); stopping",
                    off, sl_err_str(r));
            break;
        }
        off = e.next_offset;
        if (buf.len < 4)
            continue; /* a large cluster, or an empty entry */
        if (memcmp(buf.data, "KVF1", 4) == 0) {
            kv_frag f;
            r = kv_record_parse_frag((const uint8_t *)buf.data, buf.len, skey, &f);
            if (r == SL_ENOMEM) {
                rc = r;
                break;
            }
            if (r || sl_log_read(log, e.next_offset, &ce, NULL) != 0 || ce.len != f.size) {
                if (r == 0)
                    kv_blob_unref(f.meta);
                skipped++;
                continue;
            }
            off = ce.next_offset;
            f.log_offset = e.next_offset;
            kv_stream *s = find_skey(streams, nstreams, skey);
            if (!s || s->retention_hours == 0) {
                kv_blob_unref(f.meta);
                continue;
            }
            r = frag_insert(s, &f);
            if (r == 1) {
                kv_blob_unref(f.meta);
                continue;
            }
            if (r) {
                kv_blob_unref(f.meta);
                rc = r;
                break;
            }
            kv_frag_row row = {.f = f};
            snprintf(row.skey, sizeof(row.skey), "%s", skey);
            rc = kv_sql_insert_frag(db, &row);
            nfrag++;
        } else if (memcmp(buf.data, "KVH1", 4) == 0) {
            uint32_t id;
            kv_blob *hb = NULL;
            r = kv_record_parse_header((const uint8_t *)buf.data, buf.len, skey, &id, &hb);
            if (r) {
                skipped++;
                continue;
            }
            kv_stream *s = find_skey(streams, nstreams, skey);
            if (!s || kv_header_find(s, id)) {
                kv_blob_unref(hb);
                continue;
            }
            rc = header_add(db, s, id, hb);
            nhdr++;
        }
    }
    if (rc == 0 && off > from)
        rc = sql_pos(db, off);
    if (nfrag || nhdr || skipped)
        sl_info("video",
                "index recovery: %zu fragment(s) and %zu header(s) restored from the log "
                "(%" PRIu64 "..%" PRIu64 "), %zu record(s) skipped",
                nfrag, nhdr, from, off, skipped);
    if (recovered)
        *recovered = nfrag;
out:
    sl_buf_cleanup(&buf);
    return rc;
}

/* ---- fragment metadata ----------------------------------------------------------------------
 */

int kv_meta_check(const uint8_t *p, size_t len)
{
    size_t o = 0, n = 0;
    while (o < len) {
        if (len - o < 2)
            return SL_ECORRUPT;
        size_t a = (size_t)p[o] | (size_t)p[o + 1] << 8;
        if (a == 0 || a > 128 || len - o - 2 < a + 2)
            return SL_ECORRUPT;
        o += 2 + a;
        size_t b = (size_t)p[o] | (size_t)p[o + 1] << 8;
        if (b > 256 || len - o - 2 < b)
            return SL_ECORRUPT;
        o += 2 + b;
        if (++n > KV_META_TAGS)
            return SL_ECORRUPT;
    }
    return 0;
}

void kv_meta_foreach(const kv_blob *meta,
                     void (*fn)(void *arg, const char *name, const char *value), void *arg)
{
    char name[129], value[257];
    if (!meta || kv_meta_check(meta->data, meta->len) != 0)
        return;
    for (size_t o = 0; o < meta->len;) {
        size_t a = (size_t)meta->data[o] | (size_t)meta->data[o + 1] << 8;
        memcpy(name, meta->data + o + 2, a);
        name[a] = '\0';
        o += 2 + a;
        size_t b = (size_t)meta->data[o] | (size_t)meta->data[o + 1] << 8;
        memcpy(value, meta->data + o + 2, b);
        value[b] = '\0';
        o += 2 + b;
        fn(arg, name, value);
    }
}

int kv_meta_from_tags(const char *const *names, const char *const *values, size_t n, kv_blob **out)
{
    uint8_t buf[KV_META_MAX];
    size_t o = 0, k = 0;
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(names[i], "AWS_KINESISVIDEO_", 17) == 0)
            continue; /* the service's own tags are not fragment metadata */
        size_t a = strlen(names[i]), b = strlen(values[i]);
        if (a == 0 || a > 128 || b > 256 || ++k > KV_META_TAGS)
            return SL_ETOOBIG;
        buf[o] = (uint8_t)a;
        buf[o + 1] = (uint8_t)(a >> 8);
        memcpy(buf + o + 2, names[i], a);
        o += 2 + a;
        buf[o] = (uint8_t)b;
        buf[o + 1] = (uint8_t)(b >> 8);
        memcpy(buf + o + 2, values[i], b);
        o += 2 + b;
    }
    if (o == 0)
        return 0;
    *out = kv_blob_new(buf, o);
    return *out ? 0 : SL_ENOMEM;
}
