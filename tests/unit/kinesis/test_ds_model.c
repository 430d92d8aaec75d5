/* Unit tests for api/kinesis/ds_model.c: stream creation and the shard layout, the status
 * state machine with the real service's error texts, shard lookup by hash key and id, split and
 * merge lineage, retention rules, tags, and the JSON snapshot round trip. Ends with a seeded
 * random walk of splits and merges checking that the open shards always tile the hash space. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "../../../api/kinesis/ds_model.h"
#include "sluice/err.h"

static uint64_t fake_end(void *arg, const sl_ds_shard *sh)
{
    (void)arg;
    return 1000 + sh->index;
}

static void test_create_and_states(void **state)
{
    (void)state;
    sl_ds_model m;
    sl_ds_stream *s;
    sl_ds_err e;
    sl_ds_model_init(&m, "123456789012", "us-east-1");
    assert_int_equal(sl_ds_model_create_stream(&m, "b", 3, SL_DS_PROVISIONED, 5000, &s, &e), 0);
    assert_int_equal(s->status, SL_DS_CREATING);
    assert_int_equal(s->n_shards, 3);
    assert_int_equal(s->retention_hours, 24);
    assert_int_equal(sl_ds_model_create_stream(&m, "b", 1, SL_DS_PROVISIONED, 5000, &s, &e),
                     SL_EEXISTS);
    assert_string_equal(e.type, "ResourceInUseException");
    assert_string_equal(e.msg, "Stream b under account 123456789012 already exists.");
    /* Data ops do not see a CREATING stream. */
    assert_null(sl_ds_model_find_live(&m, "b", &e));
    assert_string_equal(e.type, "ResourceNotFoundException");
    assert_string_equal(e.msg, "Stream b under account 123456789012 not found.");
    /* Reshards and deletes are refused while CREATING. */
    s = sl_ds_model_find(&m, "b");
    assert_int_equal(
        sl_ds_stream_split(&m, s, "shardId-000000000000", "100", 6000, fake_end, NULL, &e),
        SL_EBUSY);
    assert_string_equal(
        e.msg, "Stream b under account 123456789012 not ACTIVE, instead in state CREATING");
    assert_int_equal(sl_ds_model_delete_begin(&m, "b", 0, &e), SL_EBUSY);
    sl_ds_stream_finish(s);
    assert_int_equal(s->status, SL_DS_ACTIVE);
    assert_ptr_equal(sl_ds_model_find_live(&m, "b", &e), s);
    /* On-demand default shard count and name order. */
    assert_int_equal(sl_ds_model_create_stream(&m, "a", 0, SL_DS_ON_DEMAND, 5000, &s, &e), 0);
    assert_int_equal(s->n_shards, 4);
    assert_string_equal(m.streams[0]->name, "a");
    assert_string_equal(m.streams[1]->name, "b");
    assert_int_equal(sl_ds_model_lower_bound(&m, ""), 0);
    assert_int_equal(sl_ds_model_lower_bound(&m, "a"), 1);
    assert_int_equal(sl_ds_model_lower_bound(&m, "b"), 2);
    assert_int_equal(sl_ds_model_open_shards(&m), 7);
    /* Delete. */
    assert_int_equal(sl_ds_model_delete_begin(&m, "b", 0, &e), 0);
    assert_int_equal(sl_ds_model_find(&m, "b")->status, SL_DS_DELETING);
    assert_null(sl_ds_model_find_live(&m, "b", &e));
    assert_int_equal(sl_ds_model_delete_begin(&m, "b", 0, &e), SL_EBUSY);
    sl_ds_model_remove(&m, "b");
    assert_null(sl_ds_model_find(&m, "b"));
    assert_int_equal(sl_ds_model_delete_begin(&m, "zz", 0, &e), SL_ENOTFOUND);
    assert_string_equal(e.msg, "Stream zz under account 123456789012 not found.");
    sl_ds_model_cleanup(&m);
}

static void test_limits(void **state)
{
    (void)state;
    sl_ds_model m;
    sl_ds_stream *s;
    sl_ds_err e;
    sl_ds_model_init(&m, "123456789012", "eu-west-1");
    m.limits.shard_limit = 10;
    assert_int_equal(sl_ds_model_create_stream(&m, "x", 8, SL_DS_PROVISIONED, 1, &s, &e), 0);
    assert_int_equal(sl_ds_model_create_stream(&m, "y", 3, SL_DS_PROVISIONED, 1, &s, &e),
                     SL_ERANGE);
    assert_string_equal(e.type, "LimitExceededException");
    assert_non_null(strstr(e.msg, "This request would exceed the shard limit for the account "
                                  "123456789012 in eu-west-1. Current shard count for the "
                                  "account: 8. Limit: 10. Number of additional shards that would "
                                  "have resulted from this request: 3."));
    m.limits.creating_limit = 1;
    assert_int_equal(sl_ds_model_create_stream(&m, "z", 1, SL_DS_PROVISIONED, 1, &s, &e),
                     SL_ERANGE);
    sl_ds_model_cleanup(&m);
}

static void test_shard_lookup(void **state)
{
    (void)state;
    sl_ds_model m;
    sl_ds_stream *s;
    sl_ds_err e;
    char id[21];
    sl_ds_model_init(&m, "123456789012", "us-east-1");
    assert_int_equal(sl_ds_model_create_stream(&m, "s", 3, SL_DS_PROVISIONED, 1, &s, &e), 0);
    sl_ds_shard *sh = sl_ds_stream_shard_for_hash(s, sl_ds_hashkey_of_partition_key("a", 1));
    assert_int_equal(sh->index, 0);
    sh = sl_ds_stream_shard_for_hash(s, sl_ds_hashkey_of_partition_key("partitionKey-1", 14));
    assert_int_equal(sh->index, 1);
    assert_int_equal(sl_ds_stream_shard_for_hash(s, SL_U128_MAX)->index, 2);
    assert_int_equal(sl_ds_stream_find_shard(s, "shardId-000000000002")->index, 2);
    assert_int_equal(sl_ds_stream_find_shard(s, "shardId-2")->index, 2);
    assert_int_equal(sl_ds_stream_find_shard(s, "1")->index, 1);
    assert_null(sl_ds_stream_find_shard(s, "shardId-000000000003"));
    assert_null(sl_ds_stream_find_shard(s, "shardId-"));
    assert_null(sl_ds_stream_find_shard(s, "shardId--1"));
    assert_null(sl_ds_stream_find_shard(s, "2x"));
    sl_ds_shard_id(7, id);
    assert_string_equal(id, "shardId-000000000007");
    sl_ds_model_cleanup(&m);
}

static void test_split_merge(void **state)
{
    (void)state;
    sl_ds_model m;
    sl_ds_stream *s;
    sl_ds_err e;
    sl_ds_model_init(&m, "123456789012", "us-east-1");
    assert_int_equal(sl_ds_model_create_stream(&m, "s", 2, SL_DS_PROVISIONED, 1, &s, &e), 0);
    sl_ds_stream_finish(s);
    /* Key too small: must exceed StartingHashKey + 1. */
    assert_int_equal(sl_ds_stream_split(&m, s, "shardId-000000000000", "1", 2, fake_end, NULL, &e),
                     SL_EINVAL);
    assert_string_equal(
        e.msg, "NewStartingHashKey 1 used in SplitShard() on shard shardId-000000000000 in stream "
               "s under account 123456789012 is not both greater than one plus the shard's "
               "StartingHashKey 0 and less than the shard's EndingHashKey "
               "170141183460469231731687303715884105727.");
    assert_int_equal(sl_ds_stream_split(&m, s, "shardId-000000000009", "5", 2, fake_end, NULL, &e),
                     SL_ENOTFOUND);
    assert_string_equal(e.msg, "Could not find shard shardId-000000000009 in stream s under "
                               "account 123456789012.");
    assert_int_equal(
        sl_ds_stream_split(&m, s, "shardId-000000000000", "1000", 2, fake_end, NULL, &e), 0);
    assert_int_equal(s->status, SL_DS_UPDATING);
    assert_int_equal(s->n_shards, 4);
    assert_true(s->shards[0].closed_ms == 2);
    assert_true(s->shards[0].end_offset == 1000);
    assert_int_equal(s->shards[2].parent, 0);
    assert_true(s->shards[2].start_hash == 0 && s->shards[2].end_hash == 999);
    assert_true(s->shards[3].start_hash == 1000);
    assert_int_equal(sl_ds_stream_open_shards(s), 3);
    /* UPDATING refuses another reshard. */
    assert_int_equal(sl_ds_stream_merge(&m, s, "2", "3", 3, fake_end, NULL, &e), SL_EBUSY);
    sl_ds_stream_finish(s);
    assert_int_equal(sl_ds_stream_merge(&m, s, "0", "2", 3, fake_end, NULL, &e), SL_EINVAL);
    assert_string_equal(e.msg, "Shard shardId-000000000000 in stream s under account 123456789012 "
                               "has already been merged or split, and thus is not eligible for "
                               "merging or splitting.");
    assert_int_equal(sl_ds_stream_merge(&m, s, "2", "1", 3, fake_end, NULL, &e), SL_EINVAL);
    assert_string_equal(e.msg, "Shards shardId-000000000002 and shardId-000000000001 in stream s "
                               "under account 123456789012 are not an adjacent pair of shards "
                               "eligible for merging");
    assert_int_equal(sl_ds_stream_merge(&m, s, "3", "2", 3, fake_end, NULL, &e), 0);
    assert_int_equal(s->shards[4].parent, 3);
    assert_int_equal(s->shards[4].adjacent_parent, 2);
    assert_true(s->shards[4].start_hash == 0);
    assert_true(s->shards[4].end_hash == s->shards[0].end_hash);
    sl_ds_model_cleanup(&m);
}

static void test_retention_tags_metrics(void **state)
{
    (void)state;
    sl_ds_model m;
    sl_ds_stream *s;
    sl_ds_err e;
    sl_ds_model_init(&m, "123456789012", "us-east-1");
    assert_int_equal(sl_ds_model_create_stream(&m, "s", 1, SL_DS_PROVISIONED, 1, &s, &e), 0);
    assert_int_equal(sl_ds_stream_set_retention(&m, s, 23, 1, &e), SL_EINVAL);
    assert_string_equal(e.msg, "Minimum allowed retention period is 24 hours. Requested "
                               "retention period (23 hours) is too short.");
    assert_int_equal(sl_ds_stream_set_retention(&m, s, 8761, 1, &e), SL_EINVAL);
    assert_int_equal(sl_ds_stream_set_retention(&m, s, 48, 1, &e), 0);
    assert_int_equal(s->retention_hours, 48);
    assert_int_equal(sl_ds_stream_set_retention(&m, s, 30, 1, &e), SL_EINVAL);
    assert_string_equal(e.msg, "Requested retention period (30 hours) for stream s can not be "
                               "shorter than existing retention period (48 hours). Use "
                               "DecreaseRetentionPeriod API.");
    assert_int_equal(sl_ds_stream_set_retention(&m, s, 72, 0, &e), SL_EINVAL);
    assert_string_equal(e.msg, "Requested retention period (72 hours) for stream s can not be "
                               "longer than existing retention period (48 hours). Use "
                               "IncreaseRetentionPeriod API.");
    assert_int_equal(sl_ds_stream_set_retention(&m, s, 48, 0, &e), 0);
    assert_int_equal(sl_ds_stream_set_retention(&m, s, 24, 0, &e), 0);

    const char *k[] = {"b", "a", "c"}, *v[] = {"2", "1", "3"};
    assert_int_equal(sl_ds_stream_add_tags(&m, s, k, v, 3, &e), 0);
    assert_int_equal(s->n_tags, 3);
    assert_string_equal(s->tags[0].key, "a");
    assert_string_equal(s->tags[2].key, "c");
    const char *k2[] = {"a"}, *v2[] = {"new"};
    assert_int_equal(sl_ds_stream_add_tags(&m, s, k2, v2, 1, &e), 0);
    assert_int_equal(s->n_tags, 3);
    assert_string_equal(s->tags[0].value, "new");
    const char *bad[] = {"bad#key"};
    assert_int_equal(sl_ds_stream_add_tags(&m, s, bad, v2, 1, &e), SL_EINVAL);
    assert_string_equal(e.msg, "Some tags contain invalid characters. Valid characters: Unicode "
                               "letters, digits, white space, _ . / = + - % @.");
    m.limits.tags_per_stream = 4;
    const char *k3[] = {"d", "e"}, *v3[] = {"", ""};
    assert_int_equal(sl_ds_stream_add_tags(&m, s, k3, v3, 2, &e), SL_ERANGE);
    assert_string_equal(e.msg, "Failed to add tags to stream s under account 123456789012 because "
                               "a given stream cannot have more than 4 tags associated with it.");
    assert_int_equal(s->n_tags, 3);
    const char *rm[] = {"b", "nope"};
    sl_ds_stream_remove_tags(s, rm, 2);
    assert_int_equal(s->n_tags, 2);
    assert_string_equal(s->tags[1].key, "c");

    assert_int_equal(sl_ds_stream_metrics_change(s, sl_ds_metric_bit("IncomingBytes"), 1), 1);
    assert_int_equal(sl_ds_stream_metrics_change(s, sl_ds_metric_bit("ALL"), 1), 0x7f);
    assert_int_equal(sl_ds_stream_metrics_change(s, sl_ds_metric_bit("IncomingBytes"), 0), 0x7e);
    assert_int_equal(sl_ds_metric_bit("Nope"), 0);
    sl_ds_model_cleanup(&m);
}

static void test_json_round_trip(void **state)
{
    (void)state;
    sl_ds_model m;
    sl_ds_stream *s;
    sl_ds_err e;
    sl_ds_model_init(&m, "123456789012", "us-east-1");
    assert_int_equal(sl_ds_model_create_stream(&m, "js", 3, SL_DS_PROVISIONED, 77, &s, &e), 0);
    sl_ds_stream_finish(s);
    assert_int_equal(sl_ds_stream_split(&m, s, "1", "200000000000000000000000000000000000000", 80,
                                        fake_end, NULL, &e),
                     0);
    const char *k[] = {"team"}, *v[] = {"data"};
    assert_int_equal(sl_ds_stream_add_tags(&m, s, k, v, 1, &e), 0);
    s->retention_hours = 100;
    s->metrics = 5;
    cJSON *j = sl_ds_stream_to_json(s);
    assert_non_null(j);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    cJSON *j2 = cJSON_Parse(text);
    free(text);
    sl_ds_stream *b = sl_ds_stream_from_json(j2);
    cJSON_Delete(j2);
    assert_non_null(b);
    assert_string_equal(b->name, "js");
    assert_true(b->created_ms == 77);
    assert_int_equal(b->status, s->status);
    assert_int_equal(b->retention_hours, 100);
    assert_int_equal(b->metrics, 5);
    assert_int_equal(b->n_shards, s->n_shards);
    for (size_t i = 0; i < s->n_shards; i++) {
        assert_true(b->shards[i].start_hash == s->shards[i].start_hash);
        assert_true(b->shards[i].end_hash == s->shards[i].end_hash);
        assert_int_equal(b->shards[i].parent, s->shards[i].parent);
        assert_int_equal(b->shards[i].adjacent_parent, s->shards[i].adjacent_parent);
        assert_true(b->shards[i].closed_ms == s->shards[i].closed_ms);
        assert_true(b->shards[i].end_offset == s->shards[i].end_offset);
    }
    assert_int_equal(b->n_tags, 1);
    assert_string_equal(b->tags[0].value, "data");
    sl_ds_stream_free(b);
    assert_null(sl_ds_stream_from_json(NULL));
    cJSON *junk = cJSON_Parse("{\"name\":\"x\",\"shards\":[{\"start\":\"5\",\"end\":\"1\"}]}");
    assert_null(sl_ds_stream_from_json(junk));
    cJSON_Delete(junk);
    sl_ds_model_cleanup(&m);
}

/* The shape every UpdateShardCount must leave (shards first_new.. are the change's): the open
 * shards are the even layout of `target`; every new shard has a parent, and its parent and
 * adjacent parent are closed and together cover its range; a shard both made and closed by the
 * change is empty; every shard the change closed has children covering its range. */
static void check_rescale(const sl_ds_stream *s, size_t first_new, uint32_t target, int64_t now)
{
    uint32_t open = 0;
    for (size_t i = 0; i < s->n_shards; i++) {
        const sl_ds_shard *c = &s->shards[i];
        if (!c->closed_ms) { /* open shards do not overlap: `target` matches are all of them */
            int even = 0;
            for (uint32_t k = 0; k < target; k++) {
                sl_u128 a, b;
                sl_ds_hashkey_split(target, k, &a, &b);
                even |= c->start_hash == a && c->end_hash == b;
            }
            assert_true(even);
            open++;
        }
        if (i < first_new)
            continue;
        assert_int_equal(c->created_ms, now);
        assert_int_not_equal(c->parent, SL_DS_NO_PARENT);
        const sl_ds_shard *p = &s->shards[c->parent];
        assert_true(p->closed_ms == now && p->index < c->index);
        sl_u128 lo = p->start_hash, hi = p->end_hash;
        if (c->adjacent_parent != SL_DS_NO_PARENT) {
            const sl_ds_shard *q = &s->shards[c->adjacent_parent];
            assert_true(q->closed_ms == now && q->index < c->index);
            assert_true(p->end_hash + 1 == q->start_hash); /* a merge: left, then right */
            hi = q->end_hash;
            assert_true(lo == c->start_hash && hi == c->end_hash);
        } else {
            assert_true(lo <= c->start_hash && c->end_hash <= hi); /* a split */
        }
        if (c->closed_ms)
            assert_true(c->closed_ms == now && c->end_offset == 0);
    }
    assert_int_equal(open, target);
    for (size_t i = 0; i < s->n_shards; i++) {
        const sl_ds_shard *p = &s->shards[i];
        if (p->closed_ms != now)
            continue;
        sl_u128 covered = p->start_hash;
        int kids = 0;
        for (size_t j = 0; j < s->n_shards; j++) {
            const sl_ds_shard *c = &s->shards[j];
            if (!sl_ds_stream_is_child(s, p, c))
                continue;
            kids++;
            assert_true(c->start_hash <= p->end_hash && p->start_hash <= c->end_hash);
            if (c->start_hash <= covered && c->end_hash >= covered)
                covered = c->end_hash == SL_U128_MAX ? SL_U128_MAX : c->end_hash + 1;
        }
        assert_true(kids >= 1);
        assert_true(covered > p->end_hash || covered == SL_U128_MAX);
    }
}

static void test_update_shard_count(void **state)
{
    (void)state;
    sl_ds_model m;
    sl_ds_stream *s;
    sl_ds_err e;
    sl_ds_model_init(&m, "123456789012", "us-east-1");
    assert_int_equal(sl_ds_model_create_stream(&m, "u", 3, SL_DS_PROVISIONED, 1, &s, &e), 0);
    sl_ds_stream_finish(s);
    assert_int_equal(sl_ds_stream_update_shard_count(&m, s, 7, 2, fake_end, NULL, &e), SL_ERANGE);
    assert_string_equal(e.type, "ValidationException");
    assert_int_equal(sl_ds_stream_update_shard_count(&m, s, 1, 2, fake_end, NULL, &e), SL_ERANGE);
    assert_int_equal(sl_ds_stream_update_shard_count(&m, s, 5, 2, fake_end, NULL, &e), 0);
    assert_int_equal(s->status, SL_DS_UPDATING);
    check_rescale(s, 3, 5, 2);
    /* The old shards' ends come from the log; thirds to fifths splits each old shard once or
     * twice before the merges. */
    for (uint32_t p = 0; p < 3; p++)
        assert_int_equal(s->shards[p].end_offset, 1000 + p);
    /* Not while UPDATING; then down to 3 (>= half of 5). */
    size_t before = s->n_shards;
    assert_int_equal(sl_ds_stream_update_shard_count(&m, s, 3, 3, fake_end, NULL, &e), SL_EBUSY);
    sl_ds_stream_finish(s);
    assert_int_equal(sl_ds_stream_update_shard_count(&m, s, 3, 3, fake_end, NULL, &e), 0);
    check_rescale(s, before, 3, 3);
    /* Grandparents are not parents. */
    for (size_t c = before; c < s->n_shards; c++)
        for (uint32_t p = 0; p < 3; p++)
            assert_false(sl_ds_stream_is_child(s, &s->shards[p], &s->shards[c]));
    /* Uneven: split shard ... then rescale again to the same count: the layout becomes even. */
    sl_ds_stream_finish(s);
    char id[21];
    sl_ds_shard_id(s->shards[s->n_shards - 1].index, id);
    assert_int_equal(sl_ds_stream_split(&m, s, id, "300000000000000000000000000000000000000", 4,
                                        fake_end, NULL, &e),
                     0);
    sl_ds_stream_finish(s);
    before = s->n_shards;
    assert_int_equal(sl_ds_stream_update_shard_count(&m, s, 4, 5, fake_end, NULL, &e), 0);
    check_rescale(s, before, 4, 5);
    sl_ds_model_cleanup(&m);
}

/* A data folder from before UpdateShardCount went through splits and merges: a shard with three
 * parents, two of them recorded. The third is still found by overlap. */
static void test_old_rescale_lineage(void **state)
{
    (void)state;
    const char *j =
        "{\"name\":\"o\",\"created_ms\":1,\"status\":1,\"mode\":0,\"retention_hours\":24,"
        "\"max_record_kib\":1024,\"metrics\":0,\"tags\":{},\"shards\":["
        "{\"parent\":-1,\"adjacent\":-1,\"start\":\"0\",\"end\":\"99\",\"created_ms\":1,"
        "\"closed_ms\":9,\"end_offset\":5},"
        "{\"parent\":-1,\"adjacent\":-1,\"start\":\"100\",\"end\":\"199\",\"created_ms\":1,"
        "\"closed_ms\":9,\"end_offset\":5},"
        "{\"parent\":-1,\"adjacent\":-1,\"start\":\"200\",\"end\":"
        "\"340282366920938463463374607431768211455\",\"created_ms\":1,\"closed_ms\":9,"
        "\"end_offset\":5},"
        "{\"parent\":0,\"adjacent\":2,\"start\":\"0\",\"end\":"
        "\"340282366920938463463374607431768211455\",\"created_ms\":9,\"closed_ms\":0,"
        "\"end_offset\":0}],\"consumers\":[]}";
    cJSON *js = cJSON_Parse(j);
    assert_non_null(js);
    sl_ds_stream *s = sl_ds_stream_from_json(js);
    cJSON_Delete(js);
    assert_non_null(s);
    for (uint32_t p = 0; p < 3; p++)
        assert_true(sl_ds_stream_is_child(s, &s->shards[p], &s->shards[3]));
    sl_ds_stream_free(s);
    /* A parent must be an earlier shard. */
    js = cJSON_Parse("{\"name\":\"x\",\"created_ms\":1,\"status\":1,\"mode\":0,"
                     "\"retention_hours\":24,\"max_record_kib\":1024,\"metrics\":0,\"tags\":{},"
                     "\"shards\":["
                     "{\"parent\":0,\"adjacent\":-1,\"start\":\"0\",\"end\":\"1\","
                     "\"created_ms\":1,\"closed_ms\":0,\"end_offset\":0}]}");
    assert_null(sl_ds_stream_from_json(js));
    cJSON_Delete(js);
}

static void test_consumers(void **state)
{
    (void)state;
    sl_ds_model m;
    sl_ds_stream *s;
    sl_ds_consumer *c;
    sl_ds_err e;
    char name[16];
    sl_ds_model_init(&m, "123456789012", "us-east-1");
    assert_int_equal(sl_ds_model_create_stream(&m, "c", 1, SL_DS_PROVISIONED, 1, &s, &e), 0);
    sl_ds_stream_finish(s);
    assert_int_equal(sl_ds_stream_add_consumer(&m, s, "a", 1000, &c, &e), 0);
    assert_int_equal(c->status, SL_DS_CONSUMER_CREATING);
    assert_int_equal(sl_ds_stream_add_consumer(&m, s, "a", 1000, &c, &e), SL_EEXISTS);
    assert_string_equal(e.type, "ResourceInUseException");
    /* At most five in CREATING at once. */
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        assert_int_equal(sl_ds_stream_add_consumer(&m, s, name, 1000, &c, &e), 0);
    }
    assert_int_equal(sl_ds_stream_add_consumer(&m, s, "x", 1000, &c, &e), SL_ERANGE);
    assert_string_equal(e.type, "LimitExceededException");
    for (size_t i = 0; i < s->n_consumers; i++)
        s->consumers[i].status = SL_DS_CONSUMER_ACTIVE;
    /* A stream with consumers is only deleted with EnforceConsumerDeletion. */
    assert_int_equal(sl_ds_model_delete_begin(&m, "c", 0, &e), SL_EBUSY);
    /* Snapshot round trip keeps them, in order. */
    cJSON *j = sl_ds_stream_to_json(s);
    sl_ds_stream *b = sl_ds_stream_from_json(j);
    cJSON_Delete(j);
    assert_non_null(b);
    assert_int_equal(b->n_consumers, 5);
    assert_string_equal(b->consumers[0].name, "a");
    assert_true(b->consumers[0].created_ms == 1000);
    assert_int_equal(b->consumers[4].status, SL_DS_CONSUMER_ACTIVE);
    sl_ds_stream_free(b);
    sl_ds_stream_remove_consumer(s, "c1");
    sl_ds_stream_remove_consumer(s, "nope");
    assert_int_equal(s->n_consumers, 4);
    assert_null(sl_ds_stream_find_consumer(s, "c1"));
    assert_string_equal(s->consumers[2].name, "c2");
    assert_int_equal(sl_ds_model_delete_begin(&m, "c", 1, &e), 0);
    sl_ds_model_cleanup(&m);
}

/* Random splits and merges; after each step the open shards must tile [0, 2^128-1] exactly. */
static void test_random_reshard(void **state)
{
    (void)state;
    unsigned seed = (unsigned)time(NULL);
    const char *env = getenv("SL_TEST_SEED");
    if (env)
        seed = (unsigned)strtoul(env, NULL, 10);
    printf("# random reshard seed %u (SL_TEST_SEED to replay)\n", seed);
    srand(seed);
    sl_ds_model m;
    sl_ds_stream *s;
    sl_ds_err e;
    sl_ds_model_init(&m, "123456789012", "us-east-1");
    assert_int_equal(sl_ds_model_create_stream(&m, "r", 1 + (uint32_t)(rand() % 5),
                                               SL_DS_PROVISIONED, 1, &s, &e),
                     0);
    for (int step = 0; step < 400; step++) {
        sl_ds_stream_finish(s);
        char id[21], id2[21], key[SL_DS_HASHKEY_STRLEN];
        size_t i = (size_t)rand() % s->n_shards;
        sl_ds_shard_id((uint32_t)i, id);
        if (rand() % 2) {
            sl_u128 span = s->shards[i].end_hash - s->shards[i].start_hash;
            sl_u128 k = s->shards[i].start_hash + 2 + (span > 4 ? span / 2 : 0);
            sl_ds_hashkey_format(k, key);
            int rc = sl_ds_stream_split(&m, s, id, key, step + 1, fake_end, NULL, &e);
            assert_true(rc == 0 || rc == SL_EINVAL);
        } else {
            size_t j = (size_t)rand() % s->n_shards;
            sl_ds_shard_id((uint32_t)j, id2);
            int rc = sl_ds_stream_merge(&m, s, id, id2, step + 1, fake_end, NULL, &e);
            assert_true(rc == 0 || rc == SL_EINVAL);
        }
        /* Check the tiling: walk from 0 following end+1. */
        sl_u128 at = 0;
        uint32_t open = sl_ds_stream_open_shards(s), seen = 0;
        for (;;) {
            sl_ds_shard *sh = sl_ds_stream_shard_for_hash(s, at);
            assert_non_null(sh);
            assert_true(sh->start_hash == at);
            seen++;
            if (sh->end_hash == SL_U128_MAX)
                break;
            at = sh->end_hash + 1;
        }
        assert_int_equal(seen, open);
    }
    sl_ds_model_cleanup(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_states),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_shard_lookup),
        cmocka_unit_test(test_split_merge),
        cmocka_unit_test(test_retention_tags_metrics),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_update_shard_count),
        cmocka_unit_test(test_old_rescale_lineage),
        cmocka_unit_test(test_consumers),
        cmocka_unit_test(test_random_reshard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
