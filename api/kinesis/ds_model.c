/* Kinesis Data Streams state (see ds_model.h for the state machine and threading).
 *
 * Streams live in a name-sorted array of pointers (binary search; ListStreams pages in name
 * order). Each stream owns a shard array indexed by shard index and a key-sorted tag array.
 * Every refusal fills sl_ds_err with the AWS error type and the real service's wording, taken
 * from shared/spec/data-streams.md. */
#include "ds_model.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/err.h"

const char *const sl_ds_metric_names[7] = {
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
};

int sl_ds_err_set(sl_ds_err *e, int code, const char *type, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        e->code = code;
        e->type = type;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *sl_ds_status_name(sl_ds_status s)
{
    switch (s) {
    case SL_DS_CREATING:
        return "CREATING";
    case SL_DS_DELETING:
        return "DELETING";
    case SL_DS_ACTIVE:
        return "ACTIVE";
    case SL_DS_UPDATING:
        return "UPDATING";
    }
    return "ACTIVE";
}

void sl_ds_model_init(sl_ds_model *m, const char *account, const char *region)
{
    memset(m, 0, sizeof(*m));
    m->limits.shard_limit = 500;
    m->limits.on_demand_limit = 50;
    m->limits.creating_limit = 5;
    m->limits.tags_per_stream = 50;
    m->limits.on_demand_shards = 4;
    m->limits.consumers_per_stream = 20;
    m->limits.consumers_creating = 5;
    snprintf(m->account, sizeof(m->account), "%s", account);
    snprintf(m->region, sizeof(m->region), "%s", region);
}

void sl_ds_stream_free(sl_ds_stream *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_tags; i++) {
        free(s->tags[i].key);
        free(s->tags[i].value);
    }
    free(s->tags);
    free(s->consumers);
    free(s->shards);
    free(s->key_id);
    free(s);
}

void sl_ds_model_cleanup(sl_ds_model *m)
{
    for (size_t i = 0; i < m->n_streams; i++)
        sl_ds_stream_free(m->streams[i]);
    free(m->streams);
    m->streams = NULL;
    m->n_streams = m->cap = 0;
}

size_t sl_ds_model_lower_bound(const sl_ds_model *m, const char *after)
{
    size_t lo = 0, hi = m->n_streams;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(m->streams[mid]->name, after) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Position of name: index of the match, or where it would be inserted (*found = 0). */
static size_t find_pos(const sl_ds_model *m, const char *name, int *found)
{
    size_t lo = 0, hi = m->n_streams;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->streams[mid]->name, name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

sl_ds_stream *sl_ds_model_find(sl_ds_model *m, const char *name)
{
    int found;
    size_t i = find_pos(m, name, &found);
    return found ? m->streams[i] : NULL;
}

sl_ds_stream *sl_ds_model_find_live(sl_ds_model *m, const char *name, sl_ds_err *e)
{
    sl_ds_stream *s = sl_ds_model_find(m, name);
    if (!s || (s->status != SL_DS_ACTIVE && s->status != SL_DS_UPDATING)) {
        sl_ds_err_set(e, SL_ENOTFOUND, "ResourceNotFoundException",
                      "Stream %s under account %s not found.", name, m->account);
        return NULL;
    }
    return s;
}

uint32_t sl_ds_stream_open_shards(const sl_ds_stream *s)
{
    uint32_t n = 0;
    for (size_t i = 0; i < s->n_shards; i++)
        n += s->shards[i].closed_ms == 0;
    return n;
}

uint32_t sl_ds_model_open_shards(const sl_ds_model *m)
{
    uint32_t n = 0;
    for (size_t i = 0; i < m->n_streams; i++)
        n += sl_ds_stream_open_shards(m->streams[i]);
    return n;
}

static int shard_limit_check(const sl_ds_model *m, uint32_t adding, sl_ds_err *e)
{
    uint32_t cur = sl_ds_model_open_shards(m);
    if ((uint64_t)cur + adding <= m->limits.shard_limit)
        return 0;
    return sl_ds_err_set(
        e, SL_ERANGE, "LimitExceededException",
        "This request would exceed the shard limit for the account %s in %s. Current shard count "
        "for the account: %u. Limit: %u. Number of additional shards that would have resulted "
        "from this request: %u. Refer to the AWS Service Limits page "
        "(http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current "
        "limits and how to request higher limits.",
        m->account, m->region, cur, m->limits.shard_limit, adding);
}

/* Appends a new shard; returns it or NULL on ENOMEM. */
static sl_ds_shard *add_shard(sl_ds_stream *s, sl_u128 start, sl_u128 end, uint32_t parent,
                              uint32_t adjacent, int64_t now_ms)
{
    if (s->n_shards == s->cap_shards) {
        size_t cap = s->cap_shards ? s->cap_shards * 2 : 4;
        sl_ds_shard *p = realloc(s->shards, cap * sizeof(*p));
        if (!p)
            return NULL;
        s->shards = p;
        s->cap_shards = cap;
    }
    sl_ds_shard *sh = &s->shards[s->n_shards];
    memset(sh, 0, sizeof(*sh));
    sh->index = (uint32_t)s->n_shards;
    sh->parent = parent;
    sh->adjacent_parent = adjacent;
    sh->start_hash = start;
    sh->end_hash = end;
    sh->created_ms = now_ms;
    s->n_shards++;
    return sh;
}

static int reserve_streams(sl_ds_model *m)
{
    if (m->n_streams < m->cap)
        return 0;
    size_t cap = m->cap ? m->cap * 2 : 8;
    sl_ds_stream **p = realloc(m->streams, cap * sizeof(*p));
    if (!p)
        return SL_ENOMEM;
    m->streams = p;
    m->cap = cap;
    return 0;
}

int sl_ds_model_insert(sl_ds_model *m, sl_ds_stream *s, sl_ds_err *e)
{
    int found;
    size_t pos = find_pos(m, s->name, &found);
    if (found)
        return sl_ds_err_set(e, SL_EEXISTS, "ResourceInUseException",
                             "Stream %s under account %s already exists.", s->name, m->account);
    if (reserve_streams(m))
        return sl_ds_err_set(e, SL_ENOMEM, "InternalFailure", "Internal Service Failure");
    memmove(&m->streams[pos + 1], &m->streams[pos], (m->n_streams - pos) * sizeof(*m->streams));
    m->streams[pos] = s;
    m->n_streams++;
    return 0;
}

int sl_ds_model_create_stream(sl_ds_model *m, const char *name, uint32_t shard_count,
                              sl_ds_mode mode, int64_t now_ms, sl_ds_stream **out, sl_ds_err *e)
{
    sl_ds_stream *s = NULL;
    int rc;

    if (strlen(name) == 0 || strlen(name) > 128)
        return sl_ds_err_set(e, SL_EINVAL, "ValidationException", "bad stream name");
    if (sl_ds_model_find(m, name))
        return sl_ds_err_set(e, SL_EEXISTS, "ResourceInUseException",
                             "Stream %s under account %s already exists.", name, m->account);
    if (shard_count == 0)
        shard_count = m->limits.on_demand_shards;
    uint32_t creating = 0, on_demand = 0;
    for (size_t i = 0; i < m->n_streams; i++) {
        creating += m->streams[i]->status == SL_DS_CREATING;
        on_demand += m->streams[i]->mode == SL_DS_ON_DEMAND;
    }
    if (creating >= m->limits.creating_limit)
        return sl_ds_err_set(e, SL_ERANGE, "LimitExceededException",
                             "Rate exceeded for account %s: too many streams in CREATING state "
                             "(limit %u).",
                             m->account, m->limits.creating_limit);
    if (mode == SL_DS_ON_DEMAND && on_demand >= m->limits.on_demand_limit)
        return sl_ds_err_set(e, SL_ERANGE, "LimitExceededException",
                             "This request would exceed the on-demand stream limit for the "
                             "account %s in %s. Limit: %u.",
                             m->account, m->region, m->limits.on_demand_limit);
    if ((rc = shard_limit_check(m, shard_count, e)))
        return rc;

    s = calloc(1, sizeof(*s));
    if (!s)
        goto oom;
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->created_ms = now_ms;
    s->status = SL_DS_CREATING;
    s->mode = mode;
    s->retention_hours = 24;
    s->max_record_kib = 1024;
    for (uint32_t i = 0; i < shard_count; i++) {
        sl_u128 a, b;
        sl_ds_hashkey_split(shard_count, i, &a, &b);
        if (!add_shard(s, a, b, SL_DS_NO_PARENT, SL_DS_NO_PARENT, now_ms))
            goto oom;
    }
    if ((rc = sl_ds_model_insert(m, s, e))) {
        sl_ds_stream_free(s);
        return rc;
    }
    *out = s;
    return 0;
oom:
    sl_ds_stream_free(s);
    return sl_ds_err_set(e, SL_ENOMEM, "InternalFailure", "Internal Service Failure");
}

static int not_active(const sl_ds_model *m, const sl_ds_stream *s, sl_ds_err *e)
{
    return sl_ds_err_set(e, SL_EBUSY, "ResourceInUseException",
                         "Stream %s under account %s not ACTIVE, instead in state %s", s->name,
                         m->account, sl_ds_status_name(s->status));
}

int sl_ds_model_delete_begin(sl_ds_model *m, const char *name, int enforce_consumer_deletion,
                             sl_ds_err *e)
{
    sl_ds_stream *s = sl_ds_model_find(m, name);
    if (!s)
        return sl_ds_err_set(e, SL_ENOTFOUND, "ResourceNotFoundException",
                             "Stream %s under account %s not found.", name, m->account);
    if (s->status != SL_DS_ACTIVE && s->status != SL_DS_UPDATING)
        return not_active(m, s, e);
    if (s->n_consumers && !enforce_consumer_deletion)
        return sl_ds_err_set(e, SL_EBUSY, "ResourceInUseException",
                             "Stream %s under account %s has registered consumers.", name,
                             m->account);
    s->status = SL_DS_DELETING;
    return 0;
}

void sl_ds_model_remove(sl_ds_model *m, const char *name)
{
    int found;
    size_t pos = find_pos(m, name, &found);
    if (!found)
        return;
    sl_ds_stream_free(m->streams[pos]);
    memmove(&m->streams[pos], &m->streams[pos + 1], (m->n_streams - pos - 1) * sizeof(*m->streams));
    m->n_streams--;
}

void sl_ds_stream_finish(sl_ds_stream *s)
{
    if (s->status == SL_DS_CREATING || s->status == SL_DS_UPDATING)
        s->status = SL_DS_ACTIVE;
}

sl_ds_shard *sl_ds_stream_shard_for_hash(sl_ds_stream *s, sl_u128 k)
{
    for (size_t i = 0; i < s->n_shards; i++) {
        sl_ds_shard *sh = &s->shards[i];
        if (sh->closed_ms == 0 && sh->start_hash <= k && k <= sh->end_hash)
            return sh;
    }
    return NULL;
}

void sl_ds_shard_id(uint32_t index, char out[21])
{
    snprintf(out, 21, "shardId-%012u", index);
}

sl_ds_shard *sl_ds_stream_find_shard(sl_ds_stream *s, const char *id)
{
    const char *p = id;
    if (strncmp(p, "shardId-", 8) == 0)
        p += 8;
    if (*p < '0' || *p > '9')
        return NULL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    if (*end || errno || v >= s->n_shards)
        return NULL;
    return &s->shards[v];
}

static int shard_for_reshard(const sl_ds_model *m, sl_ds_stream *s, const char *id,
                             sl_ds_shard **out, sl_ds_err *e)
{
    sl_ds_shard *sh = sl_ds_stream_find_shard(s, id);
    if (!sh)
        return sl_ds_err_set(e, SL_ENOTFOUND, "ResourceNotFoundException",
                             "Could not find shard %s in stream %s under account %s.", id, s->name,
                             m->account);
    if (sh->closed_ms) {
        char sid[21];
        sl_ds_shard_id(sh->index, sid);
        return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException",
                             "Shard %s in stream %s under account %s has already been merged or "
                             "split, and thus is not eligible for merging or splitting.",
                             sid, s->name, m->account);
    }
    *out = sh;
    return 0;
}

static int reserve_shards(sl_ds_stream *s, size_t extra)
{
    if (s->n_shards + extra <= s->cap_shards)
        return 0;
    size_t cap = (s->n_shards + extra) * 2;
    sl_ds_shard *p = realloc(s->shards, cap * sizeof(*p));
    if (!p)
        return SL_ENOMEM;
    s->shards = p;
    s->cap_shards = cap;
    return 0;
}

int sl_ds_stream_split(sl_ds_model *m, sl_ds_stream *s, const char *shard_id, const char *new_key,
                       int64_t now_ms, sl_ds_end_offset_fn eo, void *arg, sl_ds_err *e)
{
    sl_ds_shard *sh;
    sl_u128 k;
    int rc;

    if (s->status != SL_DS_ACTIVE)
        return not_active(m, s, e);
    if ((rc = shard_for_reshard(m, s, shard_id, &sh, e)))
        return rc;
    if (sl_ds_hashkey_parse(new_key, strlen(new_key), &k) != 0 || k <= sh->start_hash + 1 ||
        k >= sh->end_hash) {
        char sid[21], a[SL_DS_HASHKEY_STRLEN], b[SL_DS_HASHKEY_STRLEN];
        sl_ds_shard_id(sh->index, sid);
        sl_ds_hashkey_format(sh->start_hash, a);
        sl_ds_hashkey_format(sh->end_hash, b);
        return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException",
                             "NewStartingHashKey %s used in SplitShard() on shard %s in stream %s "
                             "under account %s is not both greater than one plus the shard's "
                             "StartingHashKey %s and less than the shard's EndingHashKey %s.",
                             new_key, sid, s->name, m->account, a, b);
    }
    if ((rc = shard_limit_check(m, 1, e)))
        return rc;
    uint32_t parent = sh->index;
    if (reserve_shards(s, 2))
        return sl_ds_err_set(e, SL_ENOMEM, "InternalFailure", "Internal Service Failure");
    sh = &s->shards[parent]; /* the array may have moved */
    sh->end_offset = eo ? eo(arg, sh) : 0;
    sh->closed_ms = now_ms;
    sl_u128 start = sh->start_hash, end = sh->end_hash;
    add_shard(s, start, k - 1, parent, SL_DS_NO_PARENT, now_ms);
    add_shard(s, k, end, parent, SL_DS_NO_PARENT, now_ms);
    s->status = SL_DS_UPDATING;
    return 0;
}

int sl_ds_stream_merge(sl_ds_model *m, sl_ds_stream *s, const char *shard_id,
                       const char *adjacent_id, int64_t now_ms, sl_ds_end_offset_fn eo, void *arg,
                       sl_ds_err *e)
{
    sl_ds_shard *a, *b;
    int rc;

    if (s->status != SL_DS_ACTIVE)
        return not_active(m, s, e);
    if ((rc = shard_for_reshard(m, s, shard_id, &a, e)) ||
        (rc = shard_for_reshard(m, s, adjacent_id, &b, e)))
        return rc;
    int contiguous = (a->end_hash != SL_U128_MAX && a->end_hash + 1 == b->start_hash) ||
                     (b->end_hash != SL_U128_MAX && b->end_hash + 1 == a->start_hash);
    if (a == b || !contiguous) {
        char ia[21], ib[21];
        sl_ds_shard_id(a->index, ia);
        sl_ds_shard_id(b->index, ib);
        return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException",
                             "Shards %s and %s in stream %s under account %s are not an adjacent "
                             "pair of shards eligible for merging",
                             ia, ib, s->name, m->account);
    }
    uint32_t ai = a->index, bi = b->index;
    if (reserve_shards(s, 1))
        return sl_ds_err_set(e, SL_ENOMEM, "InternalFailure", "Internal Service Failure");
    a = &s->shards[ai];
    b = &s->shards[bi];
    sl_u128 start = a->start_hash < b->start_hash ? a->start_hash : b->start_hash;
    sl_u128 end = a->end_hash > b->end_hash ? a->end_hash : b->end_hash;
    a->end_offset = eo ? eo(arg, a) : 0;
    b->end_offset = eo ? eo(arg, b) : 0;
    a->closed_ms = b->closed_ms = now_ms;
    add_shard(s, start, end, ai, bi, now_ms);
    s->status = SL_DS_UPDATING;
    return 0;
}

/* Closes shard o in a reshard at now_ms. A shard opened by the same change is closed at once and
 * holds nothing (one of UpdateShardCount's short-lived shards). */
static void close_for_reshard(sl_ds_shard *o, int born_now, int64_t now_ms, sl_ds_end_offset_fn eo,
                              void *arg)
{
    o->end_offset = born_now || !eo ? 0 : eo(arg, o);
    o->closed_ms = now_ms;
}

int sl_ds_stream_update_shard_count(sl_ds_model *m, sl_ds_stream *s, uint32_t target,
                                    int64_t now_ms, sl_ds_end_offset_fn eo, void *arg, sl_ds_err *e)
{
    uint32_t open = sl_ds_stream_open_shards(s);
    int rc;

    if (s->status != SL_DS_ACTIVE)
        return not_active(m, s, e);
    if (target > 2 * (uint64_t)open)
        return sl_ds_err_set(e, SL_ERANGE, "ValidationException",
                             "UpdateShardCount failed for stream %s under account %s. Cannot "
                             "scale up over double your current open shard count. Current open "
                             "shard count: %u Target shard count: %u",
                             s->name, m->account, open, target);
    if (target == 0 || 2 * (uint64_t)target < open)
        return sl_ds_err_set(e, SL_ERANGE, "ValidationException",
                             "UpdateShardCount failed for stream %s under account %s. Cannot "
                             "scale down below half your current open shard count. Current open "
                             "shard count: %u Target shard count: %u",
                             s->name, m->account, open, target);
    if (target > open && (rc = shard_limit_check(m, target - open, e)))
        return rc;
    /* At most 2 shards per target boundary from splits, and one per merge: fewer merges than
     * open shards. Reserved up front so the change cannot stop half way. */
    if (reserve_shards(s, 2 * (size_t)target + open))
        return sl_ds_err_set(e, SL_ENOMEM, "InternalFailure", "Internal Service Failure");
    size_t first_new = s->n_shards;
    /* Splits: every boundary of the even layout that falls inside an open shard. */
    for (uint32_t i = 1; i < target; i++) {
        sl_u128 a, b;
        sl_ds_hashkey_split(target, i, &a, &b);
        for (size_t j = 0; j < s->n_shards; j++) {
            sl_ds_shard *o = &s->shards[j];
            if (o->closed_ms || !(o->start_hash < a && a <= o->end_hash))
                continue;
            sl_u128 lo = o->start_hash, hi = o->end_hash;
            close_for_reshard(o, j >= first_new, now_ms, eo, arg);
            add_shard(s, lo, a - 1, (uint32_t)j, SL_DS_NO_PARENT, now_ms);
            add_shard(s, a, hi, (uint32_t)j, SL_DS_NO_PARENT, now_ms);
            break;
        }
    }
    /* Merges: the open pieces of each even shard, left to right, into one. */
    for (uint32_t i = 0; i < target; i++) {
        sl_u128 a, b;
        sl_ds_hashkey_split(target, i, &a, &b);
        for (;;) {
            size_t left = SIZE_MAX, right = SIZE_MAX;
            for (size_t j = 0; j < s->n_shards; j++) {
                const sl_ds_shard *o = &s->shards[j];
                if (o->closed_ms || o->start_hash < a || o->end_hash > b)
                    continue;
                if (o->start_hash == a)
                    left = j;
            }
            if (left == SIZE_MAX || s->shards[left].end_hash == b)
                break; /* already one shard (or, impossibly, no piece: leave it) */
            for (size_t j = 0; j < s->n_shards; j++) {
                const sl_ds_shard *o = &s->shards[j];
                if (!o->closed_ms && o->start_hash == s->shards[left].end_hash + 1)
                    right = j;
            }
            if (right == SIZE_MAX)
                break;
            sl_u128 lo = s->shards[left].start_hash, hi = s->shards[right].end_hash;
            close_for_reshard(&s->shards[left], left >= first_new, now_ms, eo, arg);
            close_for_reshard(&s->shards[right], right >= first_new, now_ms, eo, arg);
            add_shard(s, lo, hi, (uint32_t)left, (uint32_t)right, now_ms);
        }
    }
    s->status = SL_DS_UPDATING;
    return 0;
}

/* Whether c's recorded parent (and adjacent parent, next to it) span all of c's hash range. */
static int parents_cover(const sl_ds_stream *s, const sl_ds_shard *c)
{
    const sl_ds_shard *a = &s->shards[c->parent];
    sl_u128 lo = a->start_hash, hi = a->end_hash;
    if (c->adjacent_parent != SL_DS_NO_PARENT) {
        const sl_ds_shard *b = &s->shards[c->adjacent_parent];
        if (hi != SL_U128_MAX && hi + 1 == b->start_hash)
            hi = b->end_hash;
        else if (b->end_hash != SL_U128_MAX && b->end_hash + 1 == lo)
            lo = b->start_hash;
        else
            return 0; /* a gap between them */
    }
    return lo <= c->start_hash && c->end_hash <= hi;
}

int sl_ds_stream_is_child(const sl_ds_stream *s, const sl_ds_shard *p, const sl_ds_shard *c)
{
    if (c == p || !p->closed_ms || c->index < p->index)
        return 0;
    if (c->parent == p->index || c->adjacent_parent == p->index)
        return 1;
    /* Data folders written before UpdateShardCount went through splits and merges hold shards
     * that took over more than their two recorded parents' ranges: such a shard is also the
     * child of every shard closed by the same change under the rest of its range. A shard whose
     * recorded parents cover it (every shard made since) has no other parent. */
    if (c->parent == SL_DS_NO_PARENT || parents_cover(s, c))
        return 0;
    return c->created_ms == p->closed_ms && c->start_hash <= p->end_hash &&
           p->start_hash <= c->end_hash && s->shards[c->parent].closed_ms == p->closed_ms;
}

int sl_ds_stream_set_retention(const sl_ds_model *m, sl_ds_stream *s, long hours, int increase,
                               sl_ds_err *e)
{
    if (hours < 24)
        return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException",
                             "Minimum allowed retention period is 24 hours. Requested retention "
                             "period (%ld hours) is too short.",
                             hours);
    if (hours > 8760)
        return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException",
                             "Maximum allowed retention period is 8760 hours. Requested "
                             "retention period (%ld hours) is too long.",
                             hours);
    if (increase && hours < (long)s->retention_hours)
        return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException",
                             "Requested retention period (%ld hours) for stream %s can not be "
                             "shorter than existing retention period (%u hours). Use "
                             "DecreaseRetentionPeriod API.",
                             hours, s->name, s->retention_hours);
    if (!increase && hours > (long)s->retention_hours)
        return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException",
                             "Requested retention period (%ld hours) for stream %s can not be "
                             "longer than existing retention period (%u hours). Use "
                             "IncreaseRetentionPeriod API.",
                             hours, s->name, s->retention_hours);
    (void)m;
    s->retention_hours = (uint32_t)hours;
    return 0;
}

static int tag_key_ok(const char *k)
{
    if (strncmp(k, "aws:", 4) == 0)
        return 0;
    for (const unsigned char *p = (const unsigned char *)k; *p; p++) {
        /* Bytes >= 0x80 belong to UTF-8 sequences: Unicode letters are allowed. */
        if (*p >= 0x80 || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || strchr(" \t\n_./=+-%@", *p))
            continue;
        return 0;
    }
    return 1;
}

static const char *const TAG_CHARS_MSG = "Some tags contain invalid characters. Valid characters: "
                                         "Unicode letters, digits, white space, _ . / = + - % @.";

static sl_ds_tag *find_tag(sl_ds_stream *s, const char *key, size_t *pos)
{
    size_t lo = 0, hi = s->n_tags;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->tags[mid].key, key);
        if (c == 0) {
            *pos = mid;
            return &s->tags[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return NULL;
}

int sl_ds_stream_add_tags(const sl_ds_model *m, sl_ds_stream *s, const char *const *keys,
                          const char *const *values, size_t n, sl_ds_err *e)
{
    size_t new_keys = 0, pos;
    for (size_t i = 0; i < n; i++) {
        if (!tag_key_ok(keys[i]) || !tag_key_ok(values[i] ? values[i] : ""))
            return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException", "%s", TAG_CHARS_MSG);
        int dup = 0;
        for (size_t j = 0; j < i; j++)
            dup |= strcmp(keys[j], keys[i]) == 0;
        if (!dup && !find_tag(s, keys[i], &pos))
            new_keys++;
    }
    if (s->n_tags + new_keys > m->limits.tags_per_stream)
        return sl_ds_err_set(e, SL_ERANGE, "LimitExceededException",
                             "Failed to add tags to stream %s under account %s because a given "
                             "stream cannot have more than %u tags associated with it.",
                             s->name, m->account, m->limits.tags_per_stream);
    sl_ds_tag *grown = realloc(s->tags, (s->n_tags + new_keys + 1) * sizeof(*grown));
    if (!grown)
        return sl_ds_err_set(e, SL_ENOMEM, "InternalFailure", "Internal Service Failure");
    s->tags = grown;
    for (size_t i = 0; i < n; i++) {
        char *v = strdup(values[i] ? values[i] : "");
        if (!v)
            return sl_ds_err_set(e, SL_ENOMEM, "InternalFailure", "Internal Service Failure");
        sl_ds_tag *t = find_tag(s, keys[i], &pos);
        if (t) {
            free(t->value);
            t->value = v;
            continue;
        }
        char *k = strdup(keys[i]);
        if (!k) {
            free(v);
            return sl_ds_err_set(e, SL_ENOMEM, "InternalFailure", "Internal Service Failure");
        }
        memmove(&s->tags[pos + 1], &s->tags[pos], (s->n_tags - pos) * sizeof(*s->tags));
        s->tags[pos].key = k;
        s->tags[pos].value = v;
        s->n_tags++;
    }
    return 0;
}

void sl_ds_stream_remove_tags(sl_ds_stream *s, const char *const *keys, size_t n)
{
    size_t pos;
    for (size_t i = 0; i < n; i++) {
        sl_ds_tag *t = find_tag(s, keys[i], &pos);
        if (!t)
            continue;
        free(t->key);
        free(t->value);
        memmove(&s->tags[pos], &s->tags[pos + 1], (s->n_tags - pos - 1) * sizeof(*s->tags));
        s->n_tags--;
    }
}

const char *sl_ds_consumer_status_name(sl_ds_consumer_status st)
{
    switch (st) {
    case SL_DS_CONSUMER_CREATING:
        return "CREATING";
    case SL_DS_CONSUMER_DELETING:
        return "DELETING";
    case SL_DS_CONSUMER_ACTIVE:
        return "ACTIVE";
    }
    return "ACTIVE";
}

sl_ds_consumer *sl_ds_stream_find_consumer(sl_ds_stream *s, const char *name)
{
    for (size_t i = 0; i < s->n_consumers; i++) {
        if (strcmp(s->consumers[i].name, name) == 0)
            return &s->consumers[i];
    }
    return NULL;
}

int sl_ds_stream_add_consumer(const sl_ds_model *m, sl_ds_stream *s, const char *name,
                              int64_t now_ms, sl_ds_consumer **out, sl_ds_err *e)
{
    size_t creating = 0;
    if (strlen(name) == 0 || strlen(name) > 128)
        return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException", "Invalid ConsumerName.");
    if (sl_ds_stream_find_consumer(s, name))
        return sl_ds_err_set(e, SL_EEXISTS, "ResourceInUseException",
                             "Consumer %s under stream %s already exists for account %s.", name,
                             s->name, m->account);
    for (size_t i = 0; i < s->n_consumers; i++)
        creating += s->consumers[i].status == SL_DS_CONSUMER_CREATING;
    if (s->n_consumers >= m->limits.consumers_per_stream)
        return sl_ds_err_set(e, SL_ERANGE, "LimitExceededException",
                             "Stream %s under account %s cannot have more than %u consumers.",
                             s->name, m->account, m->limits.consumers_per_stream);
    if (creating >= m->limits.consumers_creating)
        return sl_ds_err_set(e, SL_ERANGE, "LimitExceededException",
                             "Stream %s under account %s already has %zu consumers in CREATING "
                             "state.",
                             s->name, m->account, creating);
    sl_ds_consumer *g = realloc(s->consumers, (s->n_consumers + 1) * sizeof(*g));
    if (!g)
        return sl_ds_err_set(e, SL_ENOMEM, "InternalFailure", "Internal Service Failure");
    s->consumers = g;
    sl_ds_consumer *c = &s->consumers[s->n_consumers++];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->created_ms = now_ms;
    c->status = SL_DS_CONSUMER_CREATING;
    *out = c;
    return 0;
}

void sl_ds_stream_remove_consumer(sl_ds_stream *s, const char *name)
{
    sl_ds_consumer *c = sl_ds_stream_find_consumer(s, name);
    if (!c)
        return;
    size_t i = (size_t)(c - s->consumers);
    memmove(&s->consumers[i], &s->consumers[i + 1], (s->n_consumers - i - 1) * sizeof(*c));
    s->n_consumers--;
}

uint32_t sl_ds_metric_bit(const char *name)
{
    if (strcmp(name, "ALL") == 0)
        return SL_DS_METRICS_ALL;
    for (uint32_t i = 0; i < 7; i++) {
        if (strcmp(name, sl_ds_metric_names[i]) == 0)
            return 1u << i;
    }
    return 0;
}

uint32_t sl_ds_stream_metrics_change(sl_ds_stream *s, uint32_t metrics, int enable)
{
    if (enable)
        s->metrics |= metrics & SL_DS_METRICS_ALL;
    else
        s->metrics &= ~metrics;
    return s->metrics;
}

/* ---- JSON snapshot ----------------------------------------------------------------------- */

static int add_u128(cJSON *o, const char *name, sl_u128 v)
{
    char buf[SL_DS_HASHKEY_STRLEN];
    sl_ds_hashkey_format(v, buf);
    return cJSON_AddStringToObject(o, name, buf) ? 0 : -1;
}

static int add_num(cJSON *o, const char *name, double v)
{
    return cJSON_AddNumberToObject(o, name, v) ? 0 : -1;
}

cJSON *sl_ds_stream_to_json(const sl_ds_stream *s)
{
    cJSON *j = cJSON_CreateObject(), *shards, *tags;
    int bad = !j;
    if (bad)
        return NULL;
    bad |= !cJSON_AddStringToObject(j, "name", s->name);
    bad |= add_num(j, "created_ms", (double)s->created_ms);
    bad |= add_num(j, "status", s->status);
    bad |= add_num(j, "mode", s->mode);
    bad |= add_num(j, "retention_hours", s->retention_hours);
    bad |= add_num(j, "max_record_kib", s->max_record_kib);
    bad |= add_num(j, "metrics", s->metrics);
    if (s->kms && s->key_id)
        bad |= !cJSON_AddStringToObject(j, "key_id", s->key_id);
    bad |= !(shards = cJSON_AddArrayToObject(j, "shards"));
    for (size_t i = 0; !bad && i < s->n_shards; i++) {
        const sl_ds_shard *sh = &s->shards[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(shards, o)) {
            cJSON_Delete(o);
            bad = 1;
            break;
        }
        bad |= add_num(o, "parent", sh->parent == SL_DS_NO_PARENT ? -1.0 : sh->parent);
        bad |= add_num(o, "adjacent",
                       sh->adjacent_parent == SL_DS_NO_PARENT ? -1.0 : sh->adjacent_parent);
        bad |= add_u128(o, "start", sh->start_hash);
        bad |= add_u128(o, "end", sh->end_hash);
        bad |= add_num(o, "created_ms", (double)sh->created_ms);
        bad |= add_num(o, "closed_ms", (double)sh->closed_ms);
        bad |= add_num(o, "end_offset", (double)sh->end_offset);
    }
    cJSON *cons = cJSON_AddArrayToObject(j, "consumers");
    bad |= !cons;
    for (size_t i = 0; !bad && i < s->n_consumers; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(cons, o)) {
            cJSON_Delete(o);
            bad = 1;
            break;
        }
        bad |= !cJSON_AddStringToObject(o, "name", s->consumers[i].name);
        bad |= add_num(o, "created_ms", (double)s->consumers[i].created_ms);
        bad |= add_num(o, "status", s->consumers[i].status);
    }
    bad |= !(tags = cJSON_AddObjectToObject(j, "tags"));
    for (size_t i = 0; !bad && i < s->n_tags; i++)
        bad |= !cJSON_AddStringToObject(tags, s->tags[i].key, s->tags[i].value);
    if (bad) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static int get_num(const cJSON *o, const char *name, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsNumber(v))
        return -1;
    *out = v->valuedouble;
    return 0;
}

static int get_u128(const cJSON *o, const char *name, sl_u128 *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsString(v))
        return -1;
    return sl_ds_hashkey_parse(v->valuestring, strlen(v->valuestring), out) ? -1 : 0;
}

sl_ds_stream *sl_ds_stream_from_json(const cJSON *j)
{
    sl_ds_stream *s = calloc(1, sizeof(*s));
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(j, "shards");
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(j, "tags");
    const cJSON *key_id = cJSON_GetObjectItemCaseSensitive(j, "key_id");
    const cJSON *it;
    double v[6];

    if (!s || !cJSON_IsString(name) || strlen(name->valuestring) == 0 ||
        strlen(name->valuestring) > 128 || !cJSON_IsArray(shards) || !cJSON_IsObject(tags))
        goto bad;
    snprintf(s->name, sizeof(s->name), "%s", name->valuestring);
    if (get_num(j, "created_ms", &v[0]) || get_num(j, "status", &v[1]) ||
        get_num(j, "mode", &v[2]) || get_num(j, "retention_hours", &v[3]) ||
        get_num(j, "max_record_kib", &v[4]) || get_num(j, "metrics", &v[5]))
        goto bad;
    s->created_ms = (int64_t)v[0];
    s->status = (sl_ds_status)(v[1] >= 0 && v[1] <= 3 ? (int)v[1] : SL_DS_ACTIVE);
    s->mode = v[2] == 1 ? SL_DS_ON_DEMAND : SL_DS_PROVISIONED;
    s->retention_hours = (uint32_t)v[3];
    s->max_record_kib = (uint32_t)v[4];
    s->metrics = (uint32_t)v[5] & SL_DS_METRICS_ALL;
    if (cJSON_IsString(key_id)) {
        s->kms = 1;
        if (!(s->key_id = strdup(key_id->valuestring)))
            goto bad;
    }
    cJSON_ArrayForEach(it, shards)
    {
        double p, a, c, cl, eo;
        sl_u128 start, end;
        if (get_num(it, "parent", &p) || get_num(it, "adjacent", &a) ||
            get_num(it, "created_ms", &c) || get_num(it, "closed_ms", &cl) ||
            get_num(it, "end_offset", &eo) || get_u128(it, "start", &start) ||
            get_u128(it, "end", &end) || start > end)
            goto bad;
        /* A parent is an earlier shard of the stream. */
        if (p >= (double)s->n_shards || a >= (double)s->n_shards)
            goto bad;
        sl_ds_shard *sh = add_shard(s, start, end, p < 0 ? SL_DS_NO_PARENT : (uint32_t)p,
                                    a < 0 ? SL_DS_NO_PARENT : (uint32_t)a, (int64_t)c);
        if (!sh)
            goto bad;
        sh->closed_ms = (int64_t)cl;
        sh->end_offset = (uint64_t)eo;
    }
    const cJSON *cons = cJSON_GetObjectItemCaseSensitive(j, "consumers");
    cJSON_ArrayForEach(it, cons)
    {
        const cJSON *cn = cJSON_GetObjectItemCaseSensitive(it, "name");
        double created, status;
        if (!cJSON_IsString(cn) || strlen(cn->valuestring) > 128 ||
            get_num(it, "created_ms", &created) || get_num(it, "status", &status))
            goto bad;
        sl_ds_consumer *g = realloc(s->consumers, (s->n_consumers + 1) * sizeof(*g));
        if (!g)
            goto bad;
        s->consumers = g;
        sl_ds_consumer *c = &s->consumers[s->n_consumers++];
        memset(c, 0, sizeof(*c));
        snprintf(c->name, sizeof(c->name), "%s", cn->valuestring);
        c->created_ms = (int64_t)created;
        c->status =
            status >= 0 && status <= 2 ? (sl_ds_consumer_status)(int)status : SL_DS_CONSUMER_ACTIVE;
    }
    cJSON_ArrayForEach(it, tags)
    {
        const char *k = it->string, *val = cJSON_IsString(it) ? it->valuestring : "";
        sl_ds_tag *grown = realloc(s->tags, (s->n_tags + 1) * sizeof(*grown));
        if (!grown)
            goto bad;
        s->tags = grown;
        s->tags[s->n_tags].key = strdup(k);
        s->tags[s->n_tags].value = strdup(val);
        s->n_tags++;
        if (!s->tags[s->n_tags - 1].key || !s->tags[s->n_tags - 1].value)
            goto bad;
    }
    return s;
bad:
    sl_ds_stream_free(s);
    return NULL;
}
