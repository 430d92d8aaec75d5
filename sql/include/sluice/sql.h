/* The streaming SQL engine of Kinesis Data Analytics applications (no I/O).
 *
 * An application's code (CREATE STREAM / CREATE PUMP statements in the SQLstream dialect) is
 * compiled against the streams and reference tables that the API configured (sl_sql_compile)
 * into a graph of in-application streams and pumps. The caller then pushes typed input rows
 * with their ROWTIME (sl_sql_app_push) and heartbeats (sl_sql_app_clock); every row that any
 * pump inserts into a code-defined stream, and every row of the system stream "error_stream",
 * is handed to the sink callback synchronously, before the push returns. Nothing here reads a
 * clock, a file or a socket, so the whole engine is deterministic and unit-testable.
 *
 * Names: API-given names (input streams, reference tables, their columns) are used exactly as
 * given; names in the code fold to upper case unless double-quoted.
 *
 * Values: sl_sql_value carries one typed value. Strings and binaries are borrowed (pointer +
 * length, not NUL-terminated); a value handed to the sink is valid only during the callback.
 * Timestamps/dates are epoch milliseconds (UTC), TIME is milliseconds of the day, INTERVAL is
 * milliseconds. DECIMAL is carried as a double (see docs/analytics.md).
 *
 * Threads: an sl_sql_app is used by one thread at a time (the application's worker). Errors:
 * functions return 0 or a negative SL_E*; compile failures fill an sl_diag whose text reads
 * "line L, column C: reason". */
#ifndef SLUICE_SQL_H
#define SLUICE_SQL_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/err.h"

typedef enum {
    SL_SQL_NULLTYPE = 0, /* the type of a bare NULL literal */
    SL_SQL_BOOLEAN,
    SL_SQL_TINYINT,
    SL_SQL_SMALLINT,
    SL_SQL_INTEGER,
    SL_SQL_BIGINT,
    SL_SQL_DECIMAL,
    SL_SQL_REAL,
    SL_SQL_DOUBLE,
    SL_SQL_CHAR,
    SL_SQL_VARCHAR,
    SL_SQL_DATE,
    SL_SQL_TIME,
    SL_SQL_TIMESTAMP,
    SL_SQL_BINARY,
    SL_SQL_VARBINARY,
    SL_SQL_INTERVAL, /* expressions only */
} sl_sql_type_id;

typedef struct sl_sql_type {
    uint8_t id;       /* sl_sql_type_id */
    uint8_t not_null; /* column declared NOT NULL */
    uint16_t scale;   /* DECIMAL */
    uint32_t len;     /* CHAR/VARCHAR/BINARY length, DECIMAL precision; 0 = unbounded */
} sl_sql_type;

typedef struct sl_sql_value {
    uint8_t type; /* sl_sql_type_id */
    uint8_t is_null;
    uint32_t len; /* strings and binaries: bytes */
    union {
        int64_t i; /* booleans (0/1), exact numbers, DATE/TIME/TIMESTAMP/INTERVAL ms */
        double d;  /* REAL, DOUBLE, DECIMAL */
        const char *s;
    } u;
} sl_sql_value;

typedef struct sl_sql_column {
    const char *name; /* exact (API) or stored (code) spelling */
    sl_sql_type type;
} sl_sql_column;

/* A stream or table known to the code before compilation (configured through the API). */
typedef struct sl_sql_relation {
    const char *name; /* exact, e.g. "SOURCE_SQL_STREAM_001" */
    const sl_sql_column *cols;
    size_t n_cols;
} sl_sql_relation;

typedef struct sl_sql_env {
    const sl_sql_relation *inputs; /* in-application input streams */
    size_t n_inputs;
    const sl_sql_relation *tables; /* reference tables */
    size_t n_tables;
    uint64_t seed; /* randomness of RANDOM_CUT_FOREST etc. (same seed => same output) */
} sl_sql_env;

typedef struct sl_sql_app sl_sql_app;

/* Called for every row inserted into a code-defined stream or error_stream. stream is the
 * index for sl_sql_app_stream(); vals has that stream's column count. Runs on the thread that
 * pushed. */
typedef void (*sl_sql_sink)(void *ud, int stream, int64_t rowtime_ms, const sl_sql_value *vals,
                            size_t n);

/* Compiles code (len bytes, need not be NUL-terminated) against env (copied). On success *out
 * is owned by the caller (sl_sql_app_free). Errors: SL_EPARSE (syntax) or SL_EINVAL (validation:
 * unknown names, types, windows) with d->text "line L, column C: ..." and d->offset; SL_ETOOBIG
 * (code over 102,400 bytes); SL_ENOMEM. */
int sl_sql_compile(const char *code, size_t len, const sl_sql_env *env, sl_sql_app **out,
                   sl_diag *d);
void sl_sql_app_free(sl_sql_app *app);

void sl_sql_app_set_sink(sl_sql_app *app, sl_sql_sink sink, void *ud);

/* Streams of the application: inputs first, then error_stream, then the code's streams in
 * definition order (anonymous internal streams are not listed). Returns the count. */
size_t sl_sql_app_n_streams(const sl_sql_app *app);
/* Name, columns and kind (0 input, 1 error_stream, 2 code stream) of stream i; NULL if out of
 * range. Borrowed for the app's lifetime. */
const sl_sql_relation *sl_sql_app_stream(const sl_sql_app *app, size_t i, int *kind);
/* Index of the stream named exactly name (case-sensitive, as Output.Name), or SL_ENOTFOUND. */
int sl_sql_app_find_stream(const sl_sql_app *app, const char *name);

/* Replaces the rows of reference table t (index into env->tables). rows is n_rows x n_cols
 * values (copied). Returns 0, SL_EINVAL or SL_ENOMEM. */
int sl_sql_app_load_table(sl_sql_app *app, size_t t, const sl_sql_value *rows, size_t n_rows);

/* One input row of input stream `input` with its ROWTIME (must not go backwards; a smaller
 * value is raised to the stream's clock). vals has the input's column count and must match the
 * declared types (NULLs allowed). Returns 0 or SL_ENOMEM / SL_EINVAL. Per-row evaluation
 * errors never fail the push: they become error_stream rows. */
int sl_sql_app_push(sl_sql_app *app, size_t input, int64_t rowtime_ms, const sl_sql_value *vals);
/* The same with the row's APPROXIMATE_ARRIVAL_TIME (sl_sql_app_push uses the ROWTIME). */
int sl_sql_app_push_arrival(sl_sql_app *app, size_t input, int64_t rowtime_ms, int64_t arrival_ms,
                            const sl_sql_value *vals);
/* Heartbeat: every input's clock advances to now_ms (if later), closing windows. */
int sl_sql_app_clock(sl_sql_app *app, int64_t now_ms);
/* An input row that could not be parsed or coerced: an error_stream row (ERROR_NAME name,
 * DATA_ROW = hex of raw, PUMP_NAME NULL). */
int sl_sql_app_input_error(sl_sql_app *app, int64_t rowtime_ms, const char *name,
                           const char *message, const void *raw, size_t raw_len);

/* ---- values, types, text (sql/value.c) --------------------------------------------------- */

const char *sl_sql_type_name(uint8_t id);
/* "VARCHAR(16)", "DECIMAL(19,0)", "INTEGER" into out. */
void sl_sql_type_format(const sl_sql_type *t, char *out, size_t cap);
/* Parses a type name as in CREATE STREAM / the API's SqlType ("VARCHAR(4)", "double",
 * "TIMESTAMP"). Returns 0 or SL_EINVAL. */
int sl_sql_type_parse(const char *s, sl_sql_type *out);
/* "yyyy-MM-dd HH:mm:ss.SSS" of epoch ms (out >= 24 bytes). */
void sl_sql_format_timestamp(int64_t ms, char *out, size_t cap);
/* Parses "1992-02-14", "1992-02-14 18:35:44[.f]" or ISO "…T…[Z]"; fraction cut to ms.
 * Returns 0 or SL_EINVAL. */
int sl_sql_parse_timestamp(const char *s, size_t len, int64_t *ms);
/* Copies n values, strings included, into one malloc'd block (free() it); NULL on ENOMEM. */
sl_sql_value *sl_sql_values_dup(const sl_sql_value *v, size_t n);
/* Whether word (any case) is reserved in the dialect and needs quotes to be a name. */
int sl_sql_reserved_word(const char *word);
/* Whether sl_sql_value type id is numeric / character (for callers outside sql/). */
int sl_sql_type_is_numeric(uint8_t id);
int sl_sql_type_is_string(uint8_t id);

/* ---- output records (sql/format.c) ------------------------------------------------------- */

/* Appends one row as a JSON object (keys = column names in order; DOUBLE shortest round-trip
 * with ".0" for integral values; TIMESTAMP "yyyy-MM-dd HH:mm:ss.SSS"; binary base64), no
 * trailing newline. Returns 0 or SL_ENOMEM. */
int sl_sql_row_json(sl_buf *out, const sl_sql_relation *rel, const sl_sql_value *vals);
/* Appends one row as CSV: fields joined by ',', NULL empty, no quoting, ended by '\n'. */
int sl_sql_row_csv(sl_buf *out, const sl_sql_relation *rel, const sl_sql_value *vals);

#endif
