/* Static descriptions of the AWS services Sluice speaks, generated from shared/aws-models.
 *
 * scripts/gen_api_tables.py reads every service-2.json at build time and writes one C file
 * (build/api/gen/sl_api_tables.c) holding, per service: the operations (name, HTTP method and
 * request URI, input shape, whether an output shape exists, the handler registered for it in
 * api/handlers.def), the input shapes reachable from the operations with their constraints
 * (required members, min/max lengths and values, patterns, enums, nested lists/maps/structures),
 * and the error shapes with their HTTP status. Nothing here is written at run time: all tables
 * are `const` and may be read from any thread.
 *
 * Patterns: the models use Java regular expressions. The generator translates each one that has
 * exactly the same meaning under byte-wise POSIX ERE matching into an anchored ERE (`ere`,
 * compiled once with regcomp by sl_pattern_match); all others (Unicode classes such as \p{L},
 * look-arounds, `.` -- which in Java excludes U+0085/U+2028/U+2029 --, counted non-ASCII atoms)
 * are compiled by the generator into a small program for Sluice's own backtracking matcher
 * (api/wire/pattern.c), which works on Unicode code points decoded from UTF-8. */
#ifndef SLUICE_API_MODEL_H
#define SLUICE_API_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/http.h"

typedef enum {
    SL_SHAPE_STRUCTURE = 0,
    SL_SHAPE_LIST,
    SL_SHAPE_MAP,
    SL_SHAPE_STRING,
    SL_SHAPE_INTEGER,
    SL_SHAPE_LONG,
    SL_SHAPE_DOUBLE,
    SL_SHAPE_FLOAT,
    SL_SHAPE_BOOLEAN,
    SL_SHAPE_BLOB,
    SL_SHAPE_TIMESTAMP,
} sl_shape_type;

/* One instruction of a compiled pattern program (see api/wire/pattern.c). */
typedef enum {
    SL_RX_CLASS = 0, /* current code point in classes[arg] (negated if flag); advance */
    SL_RX_SPLIT,     /* try x first, then y */
    SL_RX_JMP,       /* continue at x */
    SL_RX_BOL,       /* position 0 */
    SL_RX_EOL,       /* end of input */
    SL_RX_LOOK,      /* look-around: sub-program at x; flag bit0 = negative, bit1 = behind,
                        y = fixed length of a look-behind body in code points */
    SL_RX_MATCH,
} sl_rx_op;

typedef struct sl_rx_inst {
    uint8_t op;
    uint8_t flag;
    uint16_t arg;
    int32_t x, y;
} sl_rx_inst;

typedef struct sl_rx_class {
    const uint32_t *ranges; /* n pairs [lo, hi], inclusive, sorted */
    uint32_t n;
} sl_rx_class;

typedef struct sl_pattern_def {
    const char *java;       /* as written in the model; quoted in messages */
    const char *ere;        /* anchored POSIX ERE, or NULL when prog is used */
    const sl_rx_inst *prog; /* own matcher program, or NULL */
    uint32_t n_prog;
    const sl_rx_class *classes; /* classes referenced by prog */
} sl_pattern_def;

typedef struct sl_shape sl_shape;

typedef struct sl_member {
    const char *name;      /* as on the wire ("StreamName") */
    const char *path_name; /* first letter lower-cased ("streamName"), for messages */
    const sl_shape *shape;
    uint8_t required;
} sl_member;

struct sl_shape {
    const char *name;
    uint8_t type; /* sl_shape_type */
    uint8_t has_min;
    uint8_t has_max;
    int64_t min, max; /* lengths for strings (UTF-16 units, as Java counts), blobs (decoded
                         bytes), lists and maps; values for numbers */
    int pattern;      /* index into sl_api_patterns, or -1 */
    const char *const *enums;
    uint32_t n_enums;
    const sl_member *members; /* structures */
    uint32_t n_members;
    const sl_shape *member; /* lists */
    const sl_shape *key;    /* maps */
    const sl_shape *value;  /* maps */
};

typedef struct sl_api_call sl_api_call;
/* A handler for a buffered JSON operation: the body has been decoded and validated against the
 * model. It must answer through the sl_wire_* helpers, now or later (sl_exchange_ref()). */
typedef void (*sl_op_handler)(sl_api_call *call);
/* A handler for a streamed route (PutMedia): the raw sl_route handler. */
typedef void (*sl_stream_handler)(sl_exchange *ex, const sl_http_request *req, void *ud);

typedef struct sl_error_def {
    const char *name;
    int http_status;
    uint8_t lower_message; /* the shape spells its member "message" (sent as well as "Message") */
} sl_error_def;

typedef struct sl_service_def sl_service_def;

typedef struct sl_op_def {
    const char *name;      /* "ListStreams" */
    const char *full_name; /* "Kinesis.ListStreams": metrics, logs, messages */
    const char *method;    /* "POST" */
    const char *uri;       /* "/" for JSON services, "/listStreams" for REST-JSON */
    const sl_shape *input; /* NULL when the operation takes no input */
    uint8_t has_output;    /* 0: answer 200 with an empty body (JSON 1.1) */
    uint8_t streaming;     /* request body streamed (PutMedia; not in the models) */
    sl_op_handler handler; /* NULL: not implemented (501) */
    sl_stream_handler stream_handler;
    const sl_service_def *service;
    /* Output shape, member types only (no constraints); JSON 1.1 services, NULL otherwise or
     * when the operation has no output. The CBOR encoder reads it (api/wire/cbor.c). */
    const sl_shape *output;
} sl_op_def;

struct sl_service_def {
    const char *id;      /* model folder: "kinesis", "kinesis-video-media", ... */
    const char *display; /* "Kinesis", "KinesisVideo", ... */
    sl_wire_proto proto;
    const char *target_prefix; /* "Kinesis_20131202" (JSON), NULL (REST-JSON) */
    const char *signing_name;  /* SigV4 service name */
    size_t max_body;           /* largest request body accepted for its operations */
    const sl_op_def *ops;      /* sorted by name */
    uint32_t n_ops;
    const sl_error_def *errors; /* sorted by name */
    uint32_t n_errors;
};

/* The generated tables. */
extern const sl_service_def *const sl_api_services[];
extern const size_t sl_api_n_services;
extern const sl_pattern_def sl_api_patterns[];
extern const size_t sl_api_n_patterns;

/* Lookups over the generated tables (api/model.c). Pure functions, any thread. */
const sl_service_def *sl_model_service(const char *id);
const sl_service_def *sl_model_service_by_target(const char *prefix, size_t len);
const sl_op_def *sl_model_op(const sl_service_def *svc, const char *name, size_t len);
/* REST-JSON: the operation whose request URI is exactly path (case-sensitive), in any REST
 * service. */
const sl_op_def *sl_model_op_by_uri(const char *path, size_t len);
const sl_error_def *sl_model_error(const sl_service_def *svc, const char *name);
/* Member of a structure shape by wire name, or NULL. */
const sl_member *sl_model_member(const sl_shape *s, const char *name);

#endif
