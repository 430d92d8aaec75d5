/* bench_cbor: the CPU cost of Kinesis's CBOR wire encoding on the hot case, a PutRecords call
 * of 500 records x 100 B (request) and its 500-entry reply, next to the JSON 1.1 path.
 *
 * Measured, each as microseconds per body (best of 5 rounds of N iterations, single thread):
 *   request  json_parse   sl_wire_json_decode of the JSON body (cJSON) -- the JSON path
 *            cbor_decode  sl_wire_cbor_decode of the same body in CBOR (libcbor streaming
 *                         decoder -> the same cJSON tree, byte strings -> base64)
 *            cbor_load    libcbor's item-tree decoder (cbor_load + cbor_decref), for reference:
 *                         it still needs a walk into cJSON afterwards
 *   reply    json_print   cJSON_PrintUnformatted of the reply tree -- the JSON path
 *            cbor_encode  sl_wire_cbor_encode (own writer of definite-length items, by shape)
 *            libcbor_tree the same reply through libcbor's item API (cbor_new_* / cbor_build_*
 *                         + cbor_serialize_alloc), the alternative the writer was chosen over
 *   both     cbor_decode + cbor_encode: what a CBOR PutRecords costs in the wire layer
 * Times are this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), best of 5 rounds, so other load
 * on a shared machine shows less, though caches still suffer from it.
 * Usage: bench_cbor [iterations=400 [name]]: with a name (json_parse, cbor_decode, ...) only that
 * one runs, in one round -- for `perf record` profiles of a single step. (callgrind cannot run
 * anything that links sl_api here: libhwy, under libavcodec, executes rdtscp at load time.) */
#include <cbor.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../api/wire/wire_int.h"
#include "sluice/base64.h"

#define N_RECORDS    500
#define RECORD_BYTES 100

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: less hurt by a busy machine */
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* libcbor item tree of a cJSON reply (strings and non-negative integers are all it holds). */
static cbor_item_t *to_libcbor(const cJSON *v)
{
    if (cJSON_IsObject(v)) {
        cbor_item_t *m = cbor_new_definite_map((size_t)cJSON_GetArraySize(v));
        for (const cJSON *c = v->child; c; c = c->next)
            cbor_map_add(m, (struct cbor_pair){cbor_move(cbor_build_string(c->string)),
                                               cbor_move(to_libcbor(c))});
        return m;
    }
    if (cJSON_IsArray(v)) {
        cbor_item_t *a = cbor_new_definite_array((size_t)cJSON_GetArraySize(v));
        for (const cJSON *c = v->child; c; c = c->next)
            cbor_array_push(a, cbor_move(to_libcbor(c)));
        return a;
    }
    if (cJSON_IsString(v))
        return cbor_build_string(v->valuestring);
    return cbor_build_uint64((uint64_t)v->valuedouble);
}

typedef int (*bench_fn)(void *ctx);

static int rounds = 5;

static double best_us(bench_fn fn, void *ctx, int iters)
{
    double best = 1e300;
    for (int round = 0; round < rounds; round++) {
        double t0 = now_us();
        for (int i = 0; i < iters; i++)
            if (fn(ctx) != 0) {
                fprintf(stderr, "benchmark step failed\n");
                exit(1);
            }
        double per = (now_us() - t0) / iters;
        best = per < best ? per : best;
    }
    return best;
}

typedef struct ctx {
    const uint8_t *json, *cbor;
    size_t json_len, cbor_len;
    cJSON *reply;
    const sl_shape *reply_shape;
} ctx;

static int b_json_parse(void *u)
{
    ctx *c = u;
    cJSON *o = NULL;
    sl_diag d;
    int rc = sl_wire_json_decode(c->json, c->json_len, SIZE_MAX, &o, &d);
    cJSON_Delete(o);
    return rc;
}

static int b_cbor_decode(void *u)
{
    ctx *c = u;
    cJSON *o = NULL;
    sl_diag d;
    int rc = sl_wire_cbor_decode(c->cbor, c->cbor_len, SIZE_MAX, &o, &d);
    cJSON_Delete(o);
    return rc;
}

static int b_cbor_load(void *u)
{
    ctx *c = u;
    struct cbor_load_result r;
    cbor_item_t *it = cbor_load(c->cbor, c->cbor_len, &r);
    if (!it)
        return -1;
    cbor_decref(&it);
    return 0;
}

static int b_json_print(void *u)
{
    ctx *c = u;
    char *s = cJSON_PrintUnformatted(c->reply);
    if (!s)
        return -1;
    free(s);
    return 0;
}

static int b_cbor_encode(void *u)
{
    ctx *c = u;
    sl_buf b = SL_BUF_INIT;
    int rc = sl_wire_cbor_encode(c->reply, c->reply_shape, &b);
    sl_buf_cleanup(&b);
    return rc;
}

static int b_libcbor_tree(void *u)
{
    ctx *c = u;
    cbor_item_t *it = to_libcbor(c->reply);
    unsigned char *buf = NULL;
    size_t cap = 0;
    size_t n = cbor_serialize_alloc(it, &buf, &cap);
    cbor_decref(&it);
    free(buf);
    return n ? 0 : -1;
}

static int b_both(void *u)
{
    int rc = b_cbor_decode(u);
    return rc ? rc : b_cbor_encode(u);
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 400;
    if (iters <= 0)
        iters = 1;
    const sl_service_def *svc = sl_model_service("kinesis");
    const sl_op_def *op = sl_model_op(svc, "PutRecords", 10);
    if (!op || !op->output)
        return 1;

    /* the request as a tree: 500 records of 100 B (base64 in the tree, bytes in CBOR) */
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "StreamName", "bench");
    cJSON *recs = cJSON_AddArrayToObject(req, "Records");
    uint8_t data[RECORD_BYTES];
    char b64[SL_BASE64_LEN(RECORD_BYTES) + 1], pk[32];
    for (int i = 0; i < N_RECORDS; i++) {
        for (int j = 0; j < RECORD_BYTES; j++)
            data[j] = (uint8_t)(i * 31 + j);
        sl_base64_encode(data, RECORD_BYTES, b64);
        snprintf(pk, sizeof(pk), "partition-%d", i);
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "Data", b64);
        cJSON_AddStringToObject(r, "PartitionKey", pk);
        cJSON_AddItemToArray(recs, r);
    }
    char *json = cJSON_PrintUnformatted(req);
    sl_buf cbor = SL_BUF_INIT;
    if (!json || sl_wire_cbor_encode(req, op->input, &cbor) != 0)
        return 1;

    /* the reply: 500 sequence numbers and shard ids */
    cJSON *reply = cJSON_CreateObject();
    cJSON_AddNumberToObject(reply, "FailedRecordCount", 0);
    cJSON *out = cJSON_AddArrayToObject(reply, "Records");
    for (int i = 0; i < N_RECORDS; i++) {
        char seq[64];
        snprintf(seq, sizeof(seq), "4965928138029182936541843091734826745093876%013d", i);
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "SequenceNumber", seq);
        cJSON_AddStringToObject(r, "ShardId", "shardId-000000000000");
        cJSON_AddItemToArray(out, r);
    }
    cJSON_AddStringToObject(reply, "EncryptionType", "NONE");

    ctx c = {(const uint8_t *)json,
             (const uint8_t *)cbor.data,
             strlen(json),
             cbor.len,
             reply,
             op->output};
    static const struct {
        const char *name, *note;
        bench_fn fn;
    } B[] = {
        {"json_parse", "request", b_json_parse},
        {"cbor_decode", "request", b_cbor_decode},
        {"cbor_load", "request (libcbor item tree, not yet cJSON)", b_cbor_load},
        {"json_print", "reply", b_json_print},
        {"cbor_encode", "reply", b_cbor_encode},
        {"libcbor_tree", "reply (libcbor item API + cbor_serialize_alloc)", b_libcbor_tree},
        {"cbor_both", "request decode + reply encode", b_both},
    };
    const char *only = argc > 2 ? argv[2] : NULL;
    if (only)
        rounds = 1;
    else
        printf("PutRecords %d x %d B: request JSON %zu B, CBOR %zu B; best of %d rounds of %d\n",
               N_RECORDS, RECORD_BYTES, c.json_len, c.cbor_len, rounds, iters);
    for (size_t i = 0; i < sizeof(B) / sizeof(B[0]); i++) {
        if (only && strcmp(only, B[i].name) != 0)
            continue;
        printf("%-13s %9.1f us  %s\n", B[i].name, best_us(B[i].fn, &c, iters), B[i].note);
    }
    cJSON_Delete(req);
    cJSON_Delete(reply);
    free(json);
    sl_buf_cleanup(&cbor);
    return 0;
}
