/* Declarations private to sql/: the compile arena, tokens, the syntax tree (annotated in place
 * by the planner), the compiled application graph and the evaluator.
 *
 * Pipeline: lexer.c turns code into tokens; parser.c builds statements of nodes; plan.c
 * resolves names and types against the streams in scope, rewrites sub-queries and CURSOR
 * arguments into anonymous internal streams with their own pumps, and decides each pump's
 * mode (projection, tumbling GROUP BY, stagger, sliding OVER, table function); exec.c runs the
 * graph row by row; window.c keeps window state; func.c evaluates scalar expressions. */
#ifndef SL_SQL_INT_H
#define SL_SQL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/sql.h"

/* ---- arena ------------------------------------------------------------------------------- */

typedef struct sl_arena_chunk sl_arena_chunk;
typedef struct sl_arena {
    sl_arena_chunk *head;
    int oom;
} sl_arena;

void *sl_arena_alloc(sl_arena *a, size_t n); /* zeroed; NULL (and a->oom) on failure */
char *sl_arena_strndup(sl_arena *a, const char *s, size_t n);
void sl_arena_reset(sl_arena *a); /* keeps the newest chunk */
void sl_arena_free(sl_arena *a);

/* ---- tokens (lexer.c) ------------------------------------------------------------------- */

typedef enum {
    T_EOF = 0,
    T_IDENT,  /* text: folded (unquoted) or exact (quoted) */
    T_NUMBER, /* text: as written */
    T_STRING, /* text: unescaped */
    T_HEX,    /* text: hex digits of X'..' */
    T_OP,     /* text: "(", ")", ",", ";", ".", "*", "+", "-", "/", "||", "=", "<>", ... */
} sl_tok_kind;

typedef struct sl_tok {
    uint8_t kind;
    uint8_t quoted;
    uint32_t pos; /* byte offset */
    uint32_t len; /* text length */
    char *text;   /* arena */
} sl_tok;

/* Tokenises code into an arena array ending with T_EOF. Returns 0, SL_EPARSE (d) or SL_ENOMEM. */
int sl_sql_lex(const char *code, size_t len, sl_arena *a, sl_tok **out, size_t *n, sl_diag *d);
/* Fills d with "line L, column C: msg" for byte offset pos. Returns code. */
int sl_sql_diag(sl_diag *d, int code, const char *code_text, size_t code_len, size_t pos,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));
int sl_sql_is_reserved(const char *upper);

/* ---- syntax tree (parser.c) ------------------------------------------------------------- */

typedef enum {
    N_LIT = 1,
    N_COL,     /* names[0..n_names): s.ROWTIME, ticker, t.REC.COLUMN1 */
    N_STAR,    /* '*' in COUNT(*) */
    N_UNARY,   /* op: '-', '+', 'N' (NOT) */
    N_BINARY,  /* op: B_* */
    N_CALL,    /* names[0] = function; kids = args; over = window */
    N_CASE,    /* kids: [operand or NULL], when, then, when, then, ..., [else]; flags bit0 has
                  operand, bit1 has else */
    N_CAST,    /* kids[0], cast_type */
    N_IS,      /* op: 'N' NULL, 'T' TRUE, 'F' FALSE, 'U' UNKNOWN; neg */
    N_BETWEEN, /* kids: x, lo, hi; neg */
    N_IN,      /* kids: x, list...; neg */
    N_LIKE,    /* kids: x, pattern, [escape]; neg; op 'L' LIKE, 'S' SIMILAR */
    N_EXTRACT, /* unit, kids[0] */
    N_FLOOR,   /* kids[0], unit (0: numeric floor) */
    N_CEIL,
    N_STEP, /* kids[0], kids[1] (interval or number) */
    N_POSITION,
    N_SUBSTRING, /* kids: s, from, [for] */
    N_TRIM,      /* op: 'B' 'L' 'T'; kids: s, [chars] */
    N_OVERLAY,   /* kids: s, r, from, [for] */
    /* planner-produced */
    N_REF,     /* column idx of input side `side` */
    N_ROWTIME, /* side: input row's ROWTIME (0/1), -1 the output row's, 2 the input row's
                  APPROXIMATE_ARRIVAL_TIME */
    N_KEY,     /* group key idx */
    N_AGG,     /* aggregate slot idx */
} sl_node_kind;

enum {
    B_ADD = 1,
    B_SUB,
    B_MUL,
    B_DIV,
    B_CONCAT,
    B_EQ,
    B_NE,
    B_LT,
    B_LE,
    B_GT,
    B_GE,
    B_AND,
    B_OR,
};

/* Time units: also used for EXTRACT/FLOOR/INTERVAL qualifiers. */
enum { U_NONE = 0, U_YEAR, U_MONTH, U_DAY, U_HOUR, U_MINUTE, U_SECOND, U_MILLISECOND };

typedef struct sl_wspec sl_wspec;
typedef struct sl_node sl_node;
struct sl_node {
    uint16_t kind;
    uint16_t op;
    uint32_t pos;
    sl_node **kids;
    uint32_t n_kids;
    uint8_t neg, unit, flags, distinct;
    char **names; /* N_COL parts, N_CALL name (upper) */
    uint32_t n_names;
    sl_sql_value lit;      /* N_LIT (strings in the arena) */
    sl_sql_type cast_type; /* N_CAST */
    sl_wspec *over;        /* N_CALL ... OVER */
    char *over_name;       /* OVER w */
    /* planner annotations */
    sl_sql_type type;
    int32_t idx;
    int32_t side;
    void *aux; /* compiled regex etc. */
};

/* WINDOW spec: PARTITION BY + frame. */
struct sl_wspec {
    sl_node **partition;
    uint32_t n_partition;
    uint8_t rows;      /* ROWS n PRECEDING, else RANGE interval */
    uint8_t following; /* RANGE ... FOLLOWING (joins only) */
    int64_t size;      /* rows count or range ms */
    uint32_t pos;
};

typedef struct sl_sel_item {
    sl_node *expr;   /* NULL for '*' or 'q.*' */
    char *alias;     /* stored name, or NULL */
    char *star_qual; /* q.* qualifier */
    uint32_t pos;
} sl_sel_item;

typedef struct sl_query sl_query;

typedef enum { F_NAMED = 1, F_SUBQUERY, F_TABLEFN } sl_from_kind;
typedef struct sl_from {
    uint8_t kind;
    char *name; /* F_NAMED: relation; F_TABLEFN: function (upper) */
    char *alias;
    sl_wspec *over; /* stream-stream join window */
    char *over_name;
    sl_query *sub;  /* F_SUBQUERY, or the CURSOR query */
    sl_node **args; /* F_TABLEFN: arguments after the cursor */
    uint32_t n_args;
    uint32_t pos;
} sl_from;

typedef struct sl_named_window {
    char *name;
    sl_wspec *spec;
} sl_named_window;

typedef struct sl_order_item {
    sl_node *expr;
    uint8_t desc;
} sl_order_item;

struct sl_query {
    uint8_t is_stream, distinct;
    sl_sel_item *items;
    uint32_t n_items;
    sl_from from;
    uint8_t has_join, join_left;
    sl_from join;
    sl_node *on;
    sl_node *where;
    sl_node **group;
    uint32_t n_group;
    sl_node **stagger; /* WINDOWED BY STAGGER partition keys */
    uint32_t n_stagger;
    int64_t stagger_ms;
    sl_node *having;
    sl_named_window *windows;
    uint32_t n_windows;
    sl_order_item *order;
    uint32_t n_order;
    sl_query *union_next; /* UNION ALL chain */
    uint32_t pos;
};

typedef struct sl_col_def {
    char *name;
    sl_sql_type type;
    uint32_t pos;
} sl_col_def;

typedef struct sl_stmt {
    uint8_t is_pump; /* else CREATE STREAM */
    uint8_t replace;
    char *name;
    uint32_t pos, name_pos;
    sl_col_def *cols; /* stream */
    uint32_t n_cols;
    char *target; /* pump */
    uint32_t target_pos;
    char **target_cols;
    uint32_t n_target_cols;
    sl_query *query;
} sl_stmt;

/* Parses the whole application code. Returns 0, SL_EPARSE (d) or SL_ENOMEM. */
int sl_sql_parse(const char *code, size_t len, sl_arena *a, sl_stmt **out, size_t *n, sl_diag *d);
/* Parses one SQL type name from tokens (shared with sl_sql_type_parse). */
int sl_sql_parse_type_text(const char *s, sl_sql_type *out);

/* ---- compiled graph (plan.c, exec.c, window.c) ------------------------------------------ */

typedef struct sl_pump sl_pump;
typedef struct sl_stream sl_stream;

struct sl_stream {
    sl_sql_relation rel; /* name + cols (owned by the app arena) */
    int kind;            /* 0 input, 1 error_stream, 2 code stream, 3 anonymous */
    int public_idx;      /* index for the sink, -1 for anonymous */
    sl_pump **readers;
    size_t n_readers;
    sl_pump **writers;
    size_t n_writers;
    int64_t clock; /* greatest ROWTIME promised */
    int64_t last_rowtime;
};

typedef enum {
    P_PROJECT = 1, /* WHERE + projection, OVER aggregates, table joins */
    P_TUMBLE,      /* GROUP BY with a ROWTIME-based key, or DISTINCT */
    P_STAGGER,
    P_TOPK,
    P_CDISTINCT,
    P_RCF,
    P_HOTSPOTS,
    P_ORDER,    /* streaming ORDER BY */
    P_SJOIN,    /* stream-to-stream windowed join (driving side = source) */
    P_JOINSIDE, /* helper reader of the windowed stream of a P_SJOIN (peer) */
} sl_pump_mode;

typedef enum {
    A_COUNT_STAR = 1,
    A_COUNT,
    A_SUM,
    A_AVG,
    A_MIN,
    A_MAX,
    A_FIRST, /* FIRST_VALUE: first non-NULL in arrival order */
    A_LAST,  /* LAST_VALUE */
    A_STDDEV_POP,
    A_STDDEV_SAMP,
    A_VAR_POP,
    A_VAR_SAMP,
    A_LAG,       /* LAG(x[, k]) OVER w: x of the row k rows back in the frame (default 1) */
    A_NTH_VALUE, /* NTH_VALUE(x, k) OVER w: x of the k-th row of the frame */
    A_EXP_AVG,   /* EXP_AVG(x, interval): weights halve per interval of age (k = interval ms) */
} sl_agg_fn;

typedef struct sl_agg_slot {
    uint8_t fn;
    sl_sql_type type; /* result */
    sl_node *arg;     /* NULL for COUNT(*) */
    int window;       /* OVER: index into pump->windows, else -1 */
    int64_t k;        /* LAG / NTH_VALUE offset; EXP_AVG half-life in ms */
} sl_agg_slot;

typedef struct sl_window_state sl_window_state;
typedef struct sl_group_state sl_group_state;
typedef struct sl_fn_state sl_fn_state;

typedef struct sl_table {
    sl_sql_relation rel;
    sl_sql_value *rows; /* n_rows x n_cols, deep copies */
    size_t n_rows;
    void *blob; /* owned storage of rows */
} sl_table;

struct sl_pump {
    char *name; /* NULL for internal pumps */
    sl_stream *source;
    sl_stream *target;
    int mode;
    /* the query */
    sl_table *table; /* joined reference table, or NULL */
    uint8_t left_join;
    sl_node *on;
    sl_node *where;
    sl_node **items; /* target column i <- items[i] */
    uint32_t n_items;
    sl_node *having;
    sl_node *promote;     /* item AS ROWTIME, or NULL */
    int64_t promoted_max; /* greatest ROWTIME promoted so far */
    sl_node **keys;       /* group keys (P_TUMBLE/P_STAGGER), non-monotonic ones */
    uint32_t n_keys;
    sl_node *mono; /* the ROWTIME-based key (tumbling), NULL for stagger */
    int mono_pos;  /* index of the mono key among the original group keys */
    int64_t stagger_ms;
    sl_agg_slot *aggs;
    uint32_t n_aggs;
    sl_wspec **windows; /* OVER windows */
    uint32_t n_windows;
    sl_order_item *order;
    uint32_t n_order;
    /* table functions */
    int fn_col; /* column of the source that the function counts */
    int64_t fn_k, fn_window_ms;
    double fn_params[6];
    /* run time */
    int64_t clock;
    sl_group_state *groups;
    sl_window_state **wstate;
    sl_fn_state *fstate;
    struct sl_order_state *ostate;
    struct rcf_state *rcf;
    struct hotspots_state *hot;
    /* stream-to-stream joins */
    sl_stream *right; /* the windowed stream */
    sl_wspec *jwin;
    sl_pump *peer; /* P_JOINSIDE: the join it feeds */
    struct sl_join_state *jstate;
    sl_arena scratch;
};

struct sl_sql_app {
    sl_arena arena;
    sl_stream **streams; /* all, including anonymous */
    size_t n_streams;
    sl_stream **pub; /* public order */
    size_t n_pub;
    sl_pump **pumps;
    size_t n_pumps;
    sl_table *tables;
    size_t n_tables;
    sl_stream *error_stream;
    sl_sql_sink sink;
    void *sink_ud;
    uint64_t seed;
    int depth;
    int64_t cur_arrival; /* arrival time of the input row being pushed */
    void **regexes;      /* compiled patterns (regex_t *), freed with the app */
    size_t n_regexes;
    void **logparsers; /* sl_logparse *, freed with the app */
    size_t n_logparsers;
};

/* ---- evaluation (func.c) ---------------------------------------------------------------- */

typedef struct sl_eval {
    const sl_sql_value *row;  /* side 0 columns */
    int64_t rowtime;          /* side 0 ROWTIME */
    const sl_sql_value *jrow; /* side 1 columns (NULL: all NULL) */
    int64_t jrowtime;
    const sl_sql_value *keys;
    const sl_sql_value *aggs;
    int64_t out_rowtime;
    int64_t arrival; /* APPROXIMATE_ARRIVAL_TIME of the input row (input streams) */
    sl_arena *scratch;
    /* error of the last failed evaluation */
    const char *err_name;
    char err_msg[256];
} sl_eval;

/* Evaluates n into *out. Returns 0, or -1 with ev->err_name / err_msg set (a row error). */
int sl_sql_eval(sl_eval *ev, const sl_node *n, sl_sql_value *out);
/* Converts v to type t as an assignment (CAST semantics with truncation of strings);
 * returns 0 or -1 with ev's error set. */
int sl_sql_assign(sl_eval *ev, const sl_sql_value *v, const sl_sql_type *t, sl_sql_value *out);
int sl_sql_cast(sl_eval *ev, const sl_sql_value *v, const sl_sql_type *t, sl_sql_value *out,
                int assignment);
/* Type helpers. */
int sl_sql_type_is_numeric(uint8_t id);
int sl_sql_type_is_exact(uint8_t id);
int sl_sql_type_is_string(uint8_t id);
int sl_sql_type_is_datetime(uint8_t id);
/* Whether an ERE is safe to hand to regcomp (no blow-up); see func.c. */
int sl_sql_regex_ok(const char *re);
/* Three-way comparison of two non-NULL values of comparable types. */
int sl_sql_compare(const sl_sql_value *a, const sl_sql_value *b);
uint64_t sl_sql_hash(const sl_sql_value *v, uint64_t h);
int sl_sql_equal(const sl_sql_value *a, const sl_sql_value *b); /* NULL == NULL for grouping */
/* Text of v for CAST to VARCHAR and CSV: into out, arena for long strings. */
int sl_sql_value_text(const sl_sql_value *v, sl_arena *a, const char **s, size_t *len);
void sl_sql_format_double(double d, char *out, size_t cap);
/* Civil time. */
void sl_sql_civil(int64_t ms, int64_t *y, unsigned *mo, unsigned *d, unsigned *h, unsigned *mi,
                  unsigned *s, unsigned *milli);
int64_t sl_sql_make_ts(int64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s,
                       unsigned milli);
int64_t sl_sql_floor_ts(int64_t ms, int unit);
int64_t sl_sql_add_unit(int64_t ms, int unit, int64_t n);
int64_t sl_sql_unit_ms(int unit);

/* Copies n values (strings included) into one malloc'd block; NULL on ENOMEM. */
sl_sql_value *sl_sql_values_dup(const sl_sql_value *v, size_t n);

/* ---- hash table of value tuples (window.c) ---------------------------------------------- */

typedef struct sl_gent sl_gent;
struct sl_gent {
    sl_gent *next; /* bucket chain */
    uint64_t hash;
    sl_sql_value *keys; /* owned (sl_sql_values_dup) */
};

typedef struct sl_gtab {
    sl_gent **buckets;
    size_t n_buckets, n;
    uint32_t n_keys;
} sl_gtab;

uint64_t sl_gtab_hash(const sl_sql_value *keys, uint32_t n);
/* The entry with these keys, or NULL. */
sl_gent *sl_gtab_find(sl_gtab *t, const sl_sql_value *keys, uint64_t h);
/* Links e (keys/hash set by the caller). Returns 0 or SL_ENOMEM. */
int sl_gtab_insert(sl_gtab *t, sl_gent *e);
void sl_gtab_remove(sl_gtab *t, sl_gent *e);
void sl_gtab_clear(sl_gtab *t); /* unlinks all (entries are freed by their owner) */
void sl_gtab_free(sl_gtab *t);

/* ---- planning and running (plan.c, exec.c) ---------------------------------------------- */

int sl_sql_plan(sl_sql_app *app, const char *code, size_t len, sl_stmt *stmts, size_t n,
                const sl_sql_env *env, sl_diag *d);
/* A row into stream s (dispatch to readers and the sink). */
void sl_sql_stream_insert(sl_sql_app *app, sl_stream *s, int64_t rowtime, const sl_sql_value *vals);
/* Advances s's clock and lets its readers close windows. */
void sl_sql_stream_advance(sl_sql_app *app, sl_stream *s, int64_t clock);
/* An error_stream row for an evaluation error in pump p on its input row. */
void sl_sql_pump_error(sl_sql_app *app, sl_pump *p, int64_t rowtime, const sl_sql_value *row,
                       const sl_eval *ev);

/* window.c: the stateful pump modes. */
/* One joined, filtered row of a P_TUMBLE / P_STAGGER pump. Returns 0, -1 (ev error) or
 * SL_ENOMEM. */
int sl_sql_group_row(sl_sql_app *app, sl_pump *p, sl_eval *ev);
void sl_sql_window_advance(sl_sql_app *app, sl_pump *p, int64_t clock);
/* P_ORDER: buffers one output row (n_items values followed by n_order key values). */
int sl_sql_order_row(sl_sql_app *app, sl_pump *p, const sl_sql_value *vals);
void sl_sql_window_free(sl_pump *p);
/* For P_PROJECT with OVER: adds the row to each window and computes the agg values. */
int sl_sql_over_row(sl_sql_app *app, sl_pump *p, sl_eval *ev, sl_sql_value *aggs);

/* join.c: stream-to-stream joins. */
void sl_sql_join_left_row(sl_sql_app *app, sl_pump *p, int64_t rowtime, const sl_sql_value *row);
void sl_sql_join_right_row(sl_sql_app *app, sl_pump *p, int64_t rowtime, const sl_sql_value *row);
/* Progress of either side; returns the clock the join may promise downstream. */
int64_t sl_sql_join_progress(sl_sql_app *app, sl_pump *p, int64_t left_clock, int64_t right_clock);
void sl_sql_join_free(sl_pump *p);
/* exec.c: WHERE, then projection and insert (used by joins for each matched pair). */
void sl_sql_pump_stage(sl_sql_app *app, sl_pump *p, sl_eval *ev, const sl_sql_value *row);

/* rcf.c: RANDOM_CUT_FOREST state (one per pump). */
struct rcf_state;
void sl_sql_rcf_free(struct rcf_state *s);
/* Scores one input row (and updates the forest). */
double sl_sql_rcf_score(struct rcf_state *s, const sl_sql_value *row);
/* The last score's explanation: {"col":{["DIRECTION":"HIGH","STRENGTH":"0.1234",]
 * "ATTRIBUTION_SCORE":"0.5678"},...}; attributions add up to the score. */
int sl_sql_rcf_explain(const struct rcf_state *s, const sl_sql_relation *in, int directional,
                       sl_buf *out);

/* hotspots.c: HOTSPOTS state (one per pump). */
struct hotspots_state;
struct hotspots_state *sl_sql_hotspots_new(int window, double radius, int min_pts,
                                           const sl_sql_relation *in);
void sl_sql_hotspots_free(struct hotspots_state *s);
/* Adds the row to the window and appends the HOTSPOTS_RESULT JSON to out. */
int sl_sql_hotspots_row(struct hotspots_state *s, const sl_sql_value *row, sl_buf *out);

/* logparse.c: the log-parsing functions (a row per call; plan.c expands a call used as a
 * select item into one column per field). */
typedef struct sl_logparse sl_logparse;
int sl_sql_is_log_parser(const char *name);
/* Reads the literal arguments of fn(args...) (args[0] is the string to parse). Returns 0,
 * SL_ENOMEM, or SL_EINVAL with err and *err_pos (the offending argument) set. */
int sl_sql_logparse_compile(const char *fn, sl_node **args, uint32_t n_args, sl_logparse **out,
                            uint32_t *err_pos, char *err, size_t cap);
size_t sl_sql_logparse_n_cols(const sl_logparse *lp);
const char *sl_sql_logparse_col_name(const sl_logparse *lp, size_t k);
sl_sql_type sl_sql_logparse_col_type(const sl_logparse *lp, size_t k);
/* Field col of in (parsed once per distinct input); strings go to ev->scratch. Returns 0 or
 * -1 with ev's error set (a field that does not convert to its declared type). */
int sl_sql_logparse_eval(sl_logparse *lp, sl_eval *ev, const sl_sql_value *in, size_t col,
                         sl_sql_value *out);
void sl_sql_logparse_free(sl_logparse *lp);
/* The scalar function id plan.c gives the expanded column nodes (func.c). */
int sl_sql_fn_logparse_id(void);

/* analytic.c: table functions. */
int sl_sql_fn_row(sl_sql_app *app, sl_pump *p, int64_t rowtime, const sl_sql_value *row);
void sl_sql_fn_advance(sl_sql_app *app, sl_pump *p, int64_t clock);
void sl_sql_fn_free(sl_pump *p);

#endif
