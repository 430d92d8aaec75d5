/* AWS CBOR 1.1 (application/x-amz-cbor-1.1), the encoding the AWS SDKs for Java (and so the KPL
 * and KCL) use for Kinesis by default. CBOR is only a wire encoding here: a request body is
 * decoded into the same cJSON tree the JSON 1.1 path makes, so validation and every handler run
 * unchanged, and a reply tree is encoded back to CBOR using the operation's output shape.
 *
 * Mapping (shared/spec/data-streams.md §1.4):
 *   CBOR                                 cJSON (request)            CBOR (reply, by shape)
 *   map (definite or indefinite)         object                     definite map
 *   array (definite or indefinite)       array                     definite array
 *   text string (definite or chunked)    string                    text string
 *   byte string (definite or chunked)    string, standard base64   blob: byte string
 *   unsigned / negative int, any width   number                    integer/long: int
 *   half / single / double float         number                    double/float: float64
 *   tag 1 around an int or a float       number, value / 1000      timestamp: tag 1 + int ms
 *   true / false / null / undefined      true / false / null       as given
 * AWS's tag 1 holds epoch MILLISECONDS (RFC 8949 says seconds; the Java SDKs and Kinesis use
 * ms both ways), so a tag-1 value is divided by 1000 into the epoch seconds JSON 1.1 uses, and a
 * timestamp member of a reply (epoch seconds in the tree) goes out as tag 1 + round(s * 1000).
 * Any byte string becomes base64 on the way in whatever member it is in: only blobs travel as
 * byte strings, and validation then checks the member's type as for JSON. Tag 55799
 * ("self-described CBOR") is skipped; any other tag is refused, as are map keys that are not
 * text strings, text strings holding NUL (a cJSON string cannot), non-finite floats, a body
 * whose top item is not a map, and anything after that map.
 *
 * Decoding is libcbor's streaming decoder (cbor_stream_decode): it reports one item head at a
 * time through callbacks and hands out a definite string only once all of its bytes are in the
 * buffer, so nothing is ever allocated from an untrusted length. The callbacks build the tree
 * with an explicit stack of open collections capped at SL_CBOR_MAX_DEPTH (no recursion); a
 * definite collection's announced count is only counted down, never used to size anything, so a
 * lying count ends as "truncated". Chunks of an indefinite string are joined in a buffer that
 * grows with bytes actually present. The body size is capped by the caller (the service's
 * max_body).
 *
 * Encoding is a small writer of definite-length items into an sl_buf (heads of 1, 2, 3, 5 or 9
 * bytes, RFC 8949 §3). A blob's base64 is decoded straight into the output buffer. The writer
 * recurses over the reply tree -- built by Sluice, not by the client -- and stops at the same
 * depth cap. libcbor's item-tree encoder (cbor_new_* + cbor_serialize_alloc) was measured
 * against it in bench/bench_cbor.c: it allocates one item per value and copies every string
 * twice, for no gain on definite-length output.
 *
 * Replies: a request is CBOR when its Content-Type media type is application/x-amz-cbor-1.1
 * (sl_wire_is_cbor, the same test api/api.c dispatches on); then success replies, and every
 * error the JSON 1.1 reply functions of aws_json.c make, go out as CBOR maps with that
 * Content-Type. Operations without an output answer 200 with an empty body, as in JSON 1.1.
 *
 * Pure functions over memory (any thread), except the reply functions (loop thread). */
#include <cbor.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/base64.h"
#include "sluice/log.h"
#include "wire_int.h"

/* ---- decoding ------------------------------------------------------------------------------ */

typedef struct frame {
    cJSON *node;
    uint64_t left; /* definite: items (arrays) or pairs (maps) still to come */
    uint8_t indef;
    uint8_t is_map;
} frame;

typedef struct dec {
    frame stack[SL_CBOR_MAX_DEPTH];
    int depth;
    cJSON *root;
    int have_key; /* the top map has read a key and waits for its value */
    int tag;      /* a tag 1 waits for its number */
    int istr;     /* 2: joining an indefinite byte string, 3: text string; 0: none */
    char *key;    /* the key waiting for its value (cJSON_malloc, handed to the item) */
    sl_buf join;  /* chunks of the indefinite string */
    size_t off;   /* offset of the item being decoded */
    int err;
    sl_diag *d;
} dec;

static int fail(dec *c, int code, const char *what)
{
    if (!c->err)
        c->err = sl_diag_set(c->d, code, c->off, "%s at byte %zu", what, c->off);
    return 0;
}

static int key_pos(const dec *c)
{
    return c->depth > 0 && c->stack[c->depth - 1].is_map && !c->have_key;
}

/* Common entry check of an item callback: 1 to go on. */
static int enter(dec *c)
{
    if (c->err)
        return 0;
    if (c->istr)
        return fail(c, SL_EPARSE,
                    "indefinite-length string chunk that is not a definite string "
                    "of the same type");
    if (c->root && c->depth == 0)
        return fail(c, SL_EPARSE, "data after the CBOR map");
    return 1;
}

/* Pops every definite collection that has all its items. */
static void settle(dec *c)
{
    while (c->depth > 0) {
        frame *f = &c->stack[c->depth - 1];
        if (f->indef || f->left > 0)
            break;
        c->depth--;
    }
}

/* Attaches item (ownership taken) to the open collection, or makes it the root. Returns 1 if it
 * was attached. */
static int put(dec *c, cJSON *item)
{
    if (!item) {
        fail(c, SL_ENOMEM, "out of memory");
        return 0;
    }
    if (c->tag) {
        cJSON_Delete(item);
        return fail(c, SL_EPARSE, "tag 1 (timestamp) around something other than a number");
    }
    if (c->depth == 0) {
        if (!cJSON_IsObject(item)) {
            cJSON_Delete(item);
            return fail(c, SL_EPARSE, "body is not a CBOR map");
        }
        c->root = item;
        return 1;
    }
    frame *f = &c->stack[c->depth - 1];
    if (f->is_map) {
        if (!c->have_key) {
            cJSON_Delete(item);
            return fail(c, SL_EPARSE, "map key is not a text string");
        }
        item->string = c->key; /* what cJSON_AddItemToObject would strdup */
        c->key = NULL;
        cJSON_AddItemToArray(f->node, item); /* objects and arrays share the child list */
        c->have_key = 0;
    } else if (!cJSON_AddItemToArray(f->node, item)) {
        cJSON_Delete(item);
        return fail(c, SL_ENOMEM, "out of memory");
    }
    if (!f->indef)
        f->left--;
    return 1;
}

static void leaf(dec *c, cJSON *item)
{
    if (put(c, item))
        settle(c);
}

static void number(dec *c, double v)
{
    if (!enter(c))
        return;
    if (key_pos(c)) {
        fail(c, SL_EPARSE, "map key is not a text string");
        return;
    }
    if (!isfinite(v)) {
        fail(c, SL_EPARSE, "number is not finite");
        return;
    }
    if (c->tag) {
        c->tag = 0;
        v /= 1000.0; /* AWS: tag 1 holds epoch milliseconds; JSON 1.1 uses seconds */
    }
    leaf(c, cJSON_CreateNumber(v));
}

/* A complete string: a map key, or a value (byte strings as base64). Both are written once,
 * straight into memory from cJSON's allocator that the tree then owns (item->valuestring,
 * item->string), instead of a scratch copy that cJSON would copy again. */
static void string(dec *c, const uint8_t *p, size_t n, int bytes)
{
    int key = key_pos(c);
    if (key && (bytes || c->tag)) {
        fail(c, SL_EPARSE, "map key is not a text string");
        return;
    }
    if (!bytes && memchr(p, 0, n)) {
        fail(c, SL_EPARSE, "text string holds a NUL character");
        return;
    }
    char *s = cJSON_malloc(bytes ? SL_BASE64_LEN(n) + 1 : n + 1);
    if (!s) {
        fail(c, SL_ENOMEM, "out of memory");
        return;
    }
    if (bytes) {
        sl_base64_encode(p, n, s);
    } else {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    if (key) {
        cJSON_free(c->key);
        c->key = s;
        c->have_key = 1;
        return;
    }
    cJSON *item = cJSON_CreateNull();
    if (!item) {
        cJSON_free(s);
        fail(c, SL_ENOMEM, "out of memory");
        return;
    }
    item->type = cJSON_String;
    item->valuestring = s;
    leaf(c, item);
}

static void open_coll(dec *c, int is_map, int indef, uint64_t count)
{
    if (!enter(c))
        return;
    if (key_pos(c)) {
        fail(c, SL_EPARSE, "map key is not a text string");
        return;
    }
    if (c->depth >= SL_CBOR_MAX_DEPTH) {
        char msg[64];
        snprintf(msg, sizeof(msg), "nesting deeper than %d levels", SL_CBOR_MAX_DEPTH);
        fail(c, SL_EPARSE, msg);
        return;
    }
    cJSON *node = is_map ? cJSON_CreateObject() : cJSON_CreateArray();
    if (!put(c, node)) /* owned by the tree from here (freed by put on failure) */
        return;
    c->stack[c->depth++] = (frame){node, count, (uint8_t)indef, (uint8_t)is_map};
    settle(c); /* an empty definite collection is complete at once */
}

/* libcbor callbacks (0.8 names: byte_string_start / string_start / indef_*_start are the
 * indefinite forms; byte_string / string / *_start with a size are the definite ones). */
static void cb_uint8(void *u, uint8_t v)
{
    number(u, v);
}
static void cb_uint16(void *u, uint16_t v)
{
    number(u, v);
}
static void cb_uint32(void *u, uint32_t v)
{
    number(u, v);
}
static void cb_uint64(void *u, uint64_t v)
{
    number(u, (double)v);
}
static void cb_negint8(void *u, uint8_t v)
{
    number(u, -1.0 - v);
}
static void cb_negint16(void *u, uint16_t v)
{
    number(u, -1.0 - v);
}
static void cb_negint32(void *u, uint32_t v)
{
    number(u, -1.0 - v);
}
static void cb_negint64(void *u, uint64_t v)
{
    /* -1 - v rounded once: in double arithmetic, (double)v and the subtraction each round, and
     * above 2^53 the two roundings can land one step off the nearest double (the encoder writes
     * an integral double d as -(d + 1), which must decode back to d). Every -1 - v fits a long
     * double's 64-bit significand exactly. */
    number(u, (double)(-1.0L - (long double)v));
}
static void cb_float(void *u, float v)
{
    number(u, v);
}
static void cb_double(void *u, double v)
{
    number(u, v);
}

static void definite_string(dec *c, const uint8_t *p, size_t n, int type)
{
    if (c->err)
        return;
    if (c->istr) {
        if (c->istr != type) {
            fail(c, SL_EPARSE, "indefinite-length string chunk of another string type");
            return;
        }
        if (sl_buf_append(&c->join, p, n) != 0)
            fail(c, SL_ENOMEM, "out of memory");
        return;
    }
    if (!enter(c))
        return;
    string(c, p, n, type == 2);
}

static void cb_bytes(void *u, cbor_data p, size_t n)
{
    definite_string(u, p, n, 2);
}
static void cb_text(void *u, cbor_data p, size_t n)
{
    definite_string(u, p, n, 3);
}

static void indef_string(dec *c, int type)
{
    if (!enter(c))
        return;
    if (c->tag) {
        fail(c, SL_EPARSE, "tag 1 (timestamp) around something other than a number");
        return;
    }
    if (type == 2 && key_pos(c)) {
        fail(c, SL_EPARSE, "map key is not a text string");
        return;
    }
    c->istr = type;
    sl_buf_reset(&c->join);
}

static void cb_bytes_indef(void *u)
{
    indef_string(u, 2);
}
static void cb_text_indef(void *u)
{
    indef_string(u, 3);
}
static void cb_array(void *u, size_t n)
{
    open_coll(u, 0, 0, n);
}
static void cb_array_indef(void *u)
{
    open_coll(u, 0, 1, 0);
}
static void cb_map(void *u, size_t n)
{
    open_coll(u, 1, 0, n);
}
static void cb_map_indef(void *u)
{
    open_coll(u, 1, 1, 0);
}

static void cb_tag(void *u, uint64_t tag)
{
    dec *c = u;
    if (!enter(c))
        return;
    if (tag == 55799) /* self-described CBOR: no meaning */
        return;
    if (tag != 1) {
        char msg[64];
        snprintf(msg, sizeof(msg), "unsupported tag %llu", (unsigned long long)tag);
        fail(c, SL_EPARSE, msg);
        return;
    }
    if (c->tag || key_pos(c)) {
        fail(c, SL_EPARSE, c->tag ? "tag 1 around another tag" : "map key is not a text string");
        return;
    }
    c->tag = 1;
}

static void simple(dec *c, cJSON *item)
{
    if (!enter(c) || key_pos(c)) {
        if (!c->err)
            fail(c, SL_EPARSE, "map key is not a text string");
        cJSON_Delete(item);
        return;
    }
    leaf(c, item);
}

static void cb_null(void *u)
{
    simple(u, cJSON_CreateNull());
}
static void cb_bool(void *u, bool v)
{
    simple(u, cJSON_CreateBool(v));
}

static void cb_break(void *u)
{
    dec *c = u;
    if (c->err)
        return;
    if (c->istr) {
        int type = c->istr;
        c->istr = 0;
        if (sl_buf_append_byte(&c->join, 0) != 0) { /* keeps data non-NULL when empty */
            fail(c, SL_ENOMEM, "out of memory");
            return;
        }
        string(c, (const uint8_t *)c->join.data, c->join.len - 1, type == 2);
        return;
    }
    if (!enter(c))
        return;
    if (c->depth == 0 || !c->stack[c->depth - 1].indef) {
        fail(c, SL_EPARSE, "break outside an indefinite-length item");
        return;
    }
    if (c->tag || c->have_key) {
        fail(c, SL_EPARSE, c->tag ? "tag 1 without its number" : "map key without a value");
        return;
    }
    c->depth--;
    settle(c);
}

static const struct cbor_callbacks CALLBACKS = {
    .uint8 = cb_uint8,
    .uint16 = cb_uint16,
    .uint32 = cb_uint32,
    .uint64 = cb_uint64,
    .negint8 = cb_negint8,
    .negint16 = cb_negint16,
    .negint32 = cb_negint32,
    .negint64 = cb_negint64,
    .byte_string_start = cb_bytes_indef,
    .byte_string = cb_bytes,
    .string = cb_text,
    .string_start = cb_text_indef,
    .indef_array_start = cb_array_indef,
    .array_start = cb_array,
    .indef_map_start = cb_map_indef,
    .map_start = cb_map,
    .tag = cb_tag,
    .float2 = cb_float,
    .float4 = cb_float,
    .float8 = cb_double,
    .undefined = cb_null,
    .null = cb_null,
    .boolean = cb_bool,
    .indef_break = cb_break,
};

int sl_wire_cbor_decode(const uint8_t *body, size_t len, size_t max_bytes, cJSON **out, sl_diag *d)
{
    dec c = {.join = SL_BUF_INIT, .d = d};
    *out = NULL;
    if (len > max_bytes) {
        c.err = sl_diag_set(d, SL_ETOOBIG, max_bytes, "body larger than %zu bytes", max_bytes);
        goto out;
    }
    if (len == 0 || !body) {
        c.err = sl_diag_set(d, SL_EPARSE, 0, "empty body");
        goto out;
    }
    size_t pos = 0;
    while (pos < len && !c.err) {
        c.off = pos;
        struct cbor_decoder_result r = cbor_stream_decode(body + pos, len - pos, &CALLBACKS, &c);
        if (c.err)
            break;
        if (r.status == CBOR_DECODER_NEDATA) {
            c.err = sl_diag_set(d, SL_EPARSE, pos,
                                "truncated CBOR item at byte %zu (%zu more "
                                "bytes needed)",
                                pos, r.required > len - pos ? r.required - (len - pos) : 1);
            break;
        }
        if (r.status != CBOR_DECODER_FINISHED || r.read == 0) {
            c.err = sl_diag_set(d, SL_EPARSE, pos,
                                "malformed CBOR item at byte %zu (initial "
                                "byte 0x%02x)",
                                pos, body[pos]);
            break;
        }
        pos += r.read;
    }
    if (!c.err && (!c.root || c.depth > 0 || c.istr || c.tag)) {
        c.off = len;
        fail(&c, SL_EPARSE, "truncated CBOR body: an item is not complete");
    }
    if (!c.err) {
        *out = c.root;
        c.root = NULL;
    }
out:
    cJSON_Delete(c.root);
    cJSON_free(c.key);
    sl_buf_cleanup(&c.join);
    return c.err;
}

/* ---- encoding ------------------------------------------------------------------------------ */

static void head(sl_buf *b, unsigned major, uint64_t v)
{
    uint8_t h[9];
    size_t n;
    uint8_t m = (uint8_t)(major << 5);
    if (v < 24) {
        h[0] = (uint8_t)(m | v);
        n = 1;
    } else if (v <= 0xFF) {
        h[0] = m | 24;
        h[1] = (uint8_t)v;
        n = 2;
    } else if (v <= 0xFFFF) {
        h[0] = m | 25;
        h[1] = (uint8_t)(v >> 8);
        h[2] = (uint8_t)v;
        n = 3;
    } else if (v <= 0xFFFFFFFFu) {
        h[0] = m | 26;
        for (int i = 0; i < 4; i++)
            h[1 + i] = (uint8_t)(v >> (24 - 8 * i));
        n = 5;
    } else {
        h[0] = m | 27;
        for (int i = 0; i < 8; i++)
            h[1 + i] = (uint8_t)(v >> (56 - 8 * i));
        n = 9;
    }
    sl_buf_append(b, h, n);
}

static void text(sl_buf *b, const char *s)
{
    size_t n = strlen(s);
    head(b, 3, n);
    sl_buf_append(b, s, n);
}

static void integer(sl_buf *b, int64_t v)
{
    if (v >= 0)
        head(b, 0, (uint64_t)v);
    else
        head(b, 1, (uint64_t)(-(v + 1)));
}

static void float64(sl_buf *b, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    uint8_t h[9] = {0xFB};
    for (int i = 0; i < 8; i++)
        h[1 + i] = (uint8_t)(bits >> (56 - 8 * i));
    sl_buf_append(b, h, sizeof(h));
}

/* Whether v is an integer that int64_t holds exactly. */
static int integral(double v)
{
    return v >= -9223372036854775808.0 && v < 9223372036854775808.0 && v == floor(v);
}

/* Decoded length of padded base64 s (length a multiple of 4), or -1. */
static long b64_len(const char *s, size_t n)
{
    if (n % 4)
        return -1;
    long len = (long)(n / 4 * 3);
    if (n && s[n - 1] == '=')
        len--;
    if (n > 1 && s[n - 2] == '=')
        len--;
    return len;
}

static int encode(sl_buf *b, const cJSON *v, const sl_shape *s, int depth)
{
    if (depth > SL_CBOR_MAX_DEPTH)
        return SL_EINVAL;
    uint8_t t = s ? s->type : 0xFF;
    if (cJSON_IsObject(v)) {
        uint64_t n = 0;
        for (const cJSON *ch = v->child; ch; ch = ch->next)
            n++;
        head(b, 5, n);
        for (const cJSON *ch = v->child; ch; ch = ch->next) {
            const sl_shape *ms = NULL;
            if (t == SL_SHAPE_STRUCTURE) {
                const sl_member *m = sl_model_member(s, ch->string);
                ms = m ? m->shape : NULL;
            } else if (t == SL_SHAPE_MAP) {
                ms = s->value;
            }
            text(b, ch->string ? ch->string : "");
            int rc = encode(b, ch, ms, depth + 1);
            if (rc)
                return rc;
        }
    } else if (cJSON_IsArray(v)) {
        uint64_t n = 0;
        for (const cJSON *ch = v->child; ch; ch = ch->next)
            n++;
        head(b, 4, n);
        for (const cJSON *ch = v->child; ch; ch = ch->next) {
            int rc = encode(b, ch, t == SL_SHAPE_LIST ? s->member : NULL, depth + 1);
            if (rc)
                return rc;
        }
    } else if (cJSON_IsString(v)) {
        const char *str = v->valuestring;
        size_t n = strlen(str);
        long bn;
        if (t == SL_SHAPE_BLOB && (bn = b64_len(str, n)) >= 0) {
            head(b, 2, (uint64_t)bn);
            if (sl_buf_reserve(b, (size_t)bn + 3) != 0)
                return SL_ENOMEM;
            long got = sl_base64_decode(str, n, (uint8_t *)b->data + b->len, 0);
            if (got != bn)
                return SL_EINVAL; /* a handler put something other than base64 in a blob */
            b->len += (size_t)bn;
        } else if (t == SL_SHAPE_BLOB) {
            return SL_EINVAL;
        } else {
            head(b, 3, n);
            sl_buf_append(b, str, n);
        }
    } else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        double ms = d * 1000.0;
        if (t == SL_SHAPE_TIMESTAMP && ms > -9.2e18 && ms < 9.2e18) {
            sl_buf_append_byte(b, 0xC1);
            integer(b, (int64_t)llround(ms));
        } else if (t == SL_SHAPE_DOUBLE || t == SL_SHAPE_FLOAT || !integral(d)) {
            float64(b, d);
        } else {
            integer(b, (int64_t)d);
        }
    } else if (cJSON_IsBool(v)) {
        sl_buf_append_byte(b, cJSON_IsTrue(v) ? 0xF5 : 0xF4);
    } else if (cJSON_IsNull(v)) {
        sl_buf_append_byte(b, 0xF6);
    } else {
        return SL_EINVAL; /* raw or invalid items are not data */
    }
    return b->oom ? SL_ENOMEM : 0;
}

int sl_wire_cbor_encode(const cJSON *v, const sl_shape *shape, sl_buf *out)
{
    if (!v)
        return SL_EINVAL;
    return encode(out, v, shape, 0);
}

/* ---- replies ------------------------------------------------------------------------------- */

int sl_wire_is_cbor(const sl_exchange *ex)
{
    static const char want[] = SL_CT_AMZ_CBOR;
    sl_slice ct = sl_http_header_get(sl_exchange_request(ex), "content-type");
    size_t k = 0;
    for (size_t i = 0; i < ct.len && ct.ptr[i] != ';'; i++) {
        char ch = ct.ptr[i];
        if (ch == ' ' || ch == '\t')
            continue;
        ch = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
        if (k >= sizeof(want) - 1 || want[k] != ch)
            return 0;
        k++;
    }
    return k == sizeof(want) - 1;
}

static int respond_cbor(sl_exchange *ex, int status, const sl_buf *b)
{
    sl_http_header h[1] = {{SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT(SL_CT_AMZ_CBOR)}};
    return sl_exchange_respond(ex, status, h, 1, b->data ? b->data : "", b->len);
}

int sl_wire_cbor_reply_ok(sl_exchange *ex, const sl_op_def *op, const cJSON *body)
{
    sl_buf b = SL_BUF_INIT;
    int rc = body ? sl_wire_cbor_encode(body, op->output, &b) : 0;
    if (rc == 0) {
        rc = respond_cbor(ex, 200, &b);
    } else {
        sl_error("wire", "%s: CBOR reply not encodable: %s", op->full_name, sl_err_str(rc));
        sl_buf_reset(&b);
        if (sl_wire_cbor_error_body_key(&b, "InternalFailure", NULL, "message") == 0)
            respond_cbor(ex, 500, &b);
    }
    sl_buf_cleanup(&b);
    return rc;
}

int sl_wire_cbor_error_body_key(sl_buf *out, const char *type, const char *message,
                                const char *message_key)
{
    sl_buf_append_byte(out, message ? 0xA2 : 0xA1); /* definite map, 2 or 1 pairs */
    text(out, "__type");
    text(out, type);
    if (message) {
        text(out, message_key);
        text(out, message);
    }
    return out->oom ? SL_ENOMEM : 0;
}

int sl_wire_cbor_error_body(sl_buf *out, const char *type, const char *message)
{
    return sl_wire_cbor_error_body_key(out, type, message, "message");
}

int sl_wire_reply_cbor_error_key(sl_exchange *ex, int status, const char *type, const char *message,
                                 const char *message_key)
{
    sl_buf b = SL_BUF_INIT;
    int rc = sl_wire_cbor_error_body_key(&b, type, message, message_key);
    if (rc == 0)
        rc = respond_cbor(ex, status, &b);
    sl_buf_cleanup(&b);
    return rc;
}

int sl_wire_reply_cbor_error(sl_exchange *ex, int status, const char *type, const char *message)
{
    return sl_wire_reply_cbor_error_key(ex, status, type, message, "message");
}
