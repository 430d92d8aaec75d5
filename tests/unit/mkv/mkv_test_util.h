/* Helpers shared by the tests/unit/mkv tests (header-only so each test stays one executable):
 * reading a test file, and recording what a reader reports so runs can be compared. */
#ifndef SL_MKV_TEST_UTIL_H
#define SL_MKV_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/mkv.h"

/* Whole file into a malloc'd buffer (free()); NULL if unreadable. */
static inline uint8_t *tu_read_file(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(n > 0 ? (size_t)n : 1);
    if (p && n > 0 && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* A digest of every reader event, so two runs over the same bytes can be compared. */
typedef struct tu_log {
    uint64_t hash; /* FNV-1a over the event stream */
    size_t nframes, nclusters, ntags, nheaders, nraw_bytes;
    size_t nkey;
    size_t frames_by_track[SL_MKV_MAX_TRACKS + 1];
    size_t laced_blocks;
    uint64_t last_block_off;
} tu_log;

static inline void tu_mix(tu_log *l, const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = l->hash ? l->hash : 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    l->hash = h;
}

static inline int tu_on_header(void *ud, const sl_mkv_header *h)
{
    tu_log *l = ud;
    l->nheaders++;
    tu_mix(l, h->bytes.ptr, h->bytes.len);
    tu_mix(l, &h->ntracks, sizeof(h->ntracks));
    return 0;
}

static inline int tu_on_cluster_start(void *ud, const sl_mkv_cluster *c)
{
    tu_log *l = ud;
    tu_mix(l, "C", 1);
    tu_mix(l, &c->offset, sizeof(c->offset));
    tu_mix(l, &c->timecode, sizeof(c->timecode));
    return 0;
}

static inline int tu_on_cluster_end(void *ud, const sl_mkv_cluster *c)
{
    tu_log *l = ud;
    l->nclusters++;
    tu_mix(l, "E", 1);
    tu_mix(l, &c->end_offset, sizeof(c->end_offset));
    return 0;
}

static inline int tu_on_frame(void *ud, const sl_mkv_frame *f)
{
    tu_log *l = ud;
    l->nframes++;
    l->nkey += f->keyframe != 0;
    if (f->track <= SL_MKV_MAX_TRACKS)
        l->frames_by_track[f->track]++;
    if (f->lace_count > 1 && f->lace_index == 0)
        l->laced_blocks++;
    l->last_block_off = f->block_offset;
    tu_mix(l, "F", 1);
    tu_mix(l, &f->track, sizeof(f->track));
    tu_mix(l, &f->timecode, sizeof(f->timecode));
    tu_mix(l, &f->keyframe, sizeof(f->keyframe));
    tu_mix(l, &f->block_offset, sizeof(f->block_offset));
    tu_mix(l, f->data.ptr, f->data.len);
    return 0;
}

static inline int tu_on_tag(void *ud, const sl_mkv_tag *t)
{
    tu_log *l = ud;
    l->ntags++;
    tu_mix(l, "T", 1);
    tu_mix(l, t->name.ptr, t->name.len);
    tu_mix(l, "=", 1);
    tu_mix(l, t->value.ptr, t->value.len);
    return 0;
}

static inline int tu_on_raw(void *ud, uint32_t id, uint64_t off, const uint8_t *p, size_t n)
{
    tu_log *l = ud;
    l->nraw_bytes += n;
    (void)id;
    (void)off;
    (void)p;
    return 0;
}

static inline sl_mkv_callbacks tu_callbacks(void)
{
    sl_mkv_callbacks cb = {.on_header = tu_on_header,
                           .on_cluster_start = tu_on_cluster_start,
                           .on_frame = tu_on_frame,
                           .on_tag = tu_on_tag,
                           .on_cluster_end = tu_on_cluster_end,
                           .on_raw = tu_on_raw};
    return cb;
}

/* Parses p[0..n) fed in pieces; piece(i) gives the size of the i-th piece (≥ 1).
 * Returns the feed/finish result; fills log and diag. */
static inline int tu_parse(const uint8_t *p, size_t n, size_t (*piece)(void *), void *pctx,
                           tu_log *log, sl_diag *diag)
{
    memset(log, 0, sizeof(*log));
    sl_mkv_callbacks cb = tu_callbacks();
    sl_mkv_reader *r = sl_mkv_reader_new(&cb, log, 0);
    if (!r)
        return SL_ENOMEM;
    int rc = 0;
    size_t at = 0;
    while (at < n && rc == 0) {
        size_t k = piece ? piece(pctx) : n;
        if (k > n - at)
            k = n - at;
        rc = sl_mkv_reader_feed(r, p + at, k);
        at += k;
    }
    if (rc == 0)
        rc = sl_mkv_reader_finish(r);
    if (diag)
        *diag = *sl_mkv_reader_diag(r);
    sl_mkv_reader_free(r);
    return rc;
}

#endif
