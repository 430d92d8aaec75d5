/* Checking a decoded JSON request against its model shape, with AWS's exact messages.
 *
 * Two passes, in the order the real services run them:
 *   1. Types (AWS's JSON deserializer): the first member whose JSON type does not fit its shape
 *      stops everything with a SerializationException whose Message is the Java-flavoured text
 *      the service sends (shared/spec/data-streams.md §1.2). Blobs must be valid, padded,
 *      standard base64. Unknown members and nulls are ignored (null = absent); a null
 *      structure inside a list is checked as {} in pass 2.
 *   2. Constraints (AWS's validator): every violation is collected, up to 10, into
 *        "N validation error(s) detected: Value '<v>' at '<path>' failed to satisfy
 *         constraint: <rule>; ..."
 *      Paths lower-case the first letter of each member and dot them; list items are 1-based
 *      followed by ".member" (records.1.member.partitionKey). Lists and maps of scalars are
 *      reported once, on the list/map, as "Member must satisfy constraint: [<element rules>]" /
 *      "Map keys ..." / "Map value must satisfy constraint: [...]" as AWS does. Values print
 *      as Java would: strings bare, blobs as java.nio.HeapByteBuffer[pos=0 lim=n cap=n], lists
 *      as [a, b], maps as {k=v}, structures as ShapeName(member=value, ...).
 * Lengths are counted like Java's String.length(): UTF-16 code units.
 *
 * Pure functions over const data: any thread, after sl_patterns_init(). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/wire.h"

#define MAX_ERRORS 10

static const cJSON no_members = {.type = cJSON_Object}; /* {} */

typedef struct {
    sl_buf *msg; /* output */
    int n;       /* violations recorded */
    int fail;    /* SL_ENOMEM or SL_EINVAL from a pattern */
    sl_wire_proto proto;
    sl_buf scratch;
    sl_buf path; /* where the walk is, e.g. "Records.3.member.Data": grown and cut back in place */
} vctx;

/* Appends ".<seg>" (or "<seg>" at the top) to the walk's path; returns the mark to cut back to.
 * Paths are only read when a violation is written, so building them must not cost an allocation
 * per member on bodies that are valid (PutRecords: 500 records). */
static size_t path_push(vctx *c, const char *seg, size_t seg_len)
{
    size_t mark = c->path.len;
    if (mark)
        sl_buf_append_byte(&c->path, '.');
    sl_buf_append(&c->path, seg, seg_len);
    if (c->path.oom)
        c->fail = SL_ENOMEM;
    return mark;
}

static void path_cut(vctx *c, size_t mark)
{
    if (c->path.data && mark <= c->path.len) {
        c->path.len = mark;
        c->path.data[mark] = '\0';
    }
}

static const char *path_str(const vctx *c)
{
    return c->path.data ? c->path.data : "";
}

/* ---- helpers ------------------------------------------------------------------------------- */

static size_t utf16_len(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) == 0x80)
            continue;
        n += (*p >= 0xF0) ? 2 : 1; /* 4-byte sequences are surrogate pairs in Java */
    }
    return n;
}

static int b64_val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Checks standard padded base64; fills *decoded_len. Returns 0, or writes the Message. */
static int check_base64(const char *s, sl_buf *m, size_t *decoded_len)
{
    size_t len = strlen(s), u16 = utf16_len(s);
    if (u16 % 4) {
        sl_buf_printf(m,
                      "'%s' can not be converted to a Blob: Base64 encoded length is expected a "
                      "multiple of 4 bytes but found: %zu",
                      s, u16);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((b64_val(c) < 0 && c != '=') || (c == '=' && i + 1 < len && s[i + 1] != '=')) {
            if (c >= 0x80) {
                size_t k = 1;
                while (i + k < len && ((unsigned char)s[i + k] & 0xC0) == 0x80)
                    k++;
                sl_buf_printf(
                    m, "'%s' can not be converted to a Blob: Invalid Base64 character: '%.*s'", s,
                    (int)k, s + i);
            } else {
                sl_buf_printf(
                    m, "'%s' can not be converted to a Blob: Invalid Base64 character: '%c'", s, c);
            }
            return -1;
        }
    }
    size_t pad = 0;
    while (pad < len && s[len - 1 - pad] == '=')
        pad++;
    int bad = pad > 2;
    if (!bad && pad > 0) { /* the bits after the last full byte must be zero */
        int v = b64_val((unsigned char)s[len - pad - 1]);
        bad = v < 0 || (pad == 2 ? (v & 0x0F) : (v & 0x03)) != 0;
    }
    if (bad) {
        sl_buf_printf(m,
                      "'%s' can not be converted to a Blob: Invalid last non-pad Base64 "
                      "character dectected",
                      s);
        return -1;
    }
    *decoded_len = len / 4 * 3 - pad;
    return 0;
}

static size_t blob_len(const char *s)
{
    size_t len = strlen(s), pad = 0;
    while (pad < len && pad < 2 && s[len - 1 - pad] == '=')
        pad++;
    return len / 4 * 3 - pad;
}

/* ISO-8601 "2024-01-02T03:04:05(.fff)(Z|+hh:mm)" -- accepted for REST-JSON timestamps. */
static int parse_iso8601(const char *s)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return -1;
    const char *p = s + n;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'Z' && p[1] == '\0')
        return 0;
    if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
        p[3] == ':' && isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5]) && !p[6])
        return 0;
    return -1;
}

static int is_numeric_string(const char *s)
{
    char *end;
    if (!*s)
        return 0;
    strtod(s, &end);
    return *end == '\0';
}

static const char *java_type_name(const sl_shape *s)
{
    switch (s->type) {
    case SL_SHAPE_INTEGER:
        return "Integer";
    case SL_SHAPE_LONG:
        return "Long";
    case SL_SHAPE_DOUBLE:
        return "Double";
    case SL_SHAPE_FLOAT:
        return "Float";
    case SL_SHAPE_BOOLEAN:
        return "Boolean";
    default:
        return "String";
    }
}

#define NUMBER_CLASS "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"

/* ---- pass 1: types --------------------------------------------------------------------------- */

static int type_error(sl_buf *m, const char *text)
{
    sl_buf_append_str(m, text);
    return -1;
}

static int check_types(const sl_shape *s, const cJSON *v, sl_wire_proto proto, sl_buf *m);

static int check_struct_types(const sl_shape *s, const cJSON *v, sl_wire_proto proto, sl_buf *m)
{
    for (uint32_t i = 0; i < s->n_members; i++) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, s->members[i].name);
        if (check_types(s->members[i].shape, c, proto, m) != 0)
            return -1;
    }
    return 0;
}

static int check_types(const sl_shape *s, const cJSON *v, sl_wire_proto proto, sl_buf *m)
{
    if (!v || cJSON_IsNull(v))
        return 0;
    int is_arr = cJSON_IsArray(v), is_obj = cJSON_IsObject(v);
    switch (s->type) {
    case SL_SHAPE_STRUCTURE:
        if (is_arr)
            return type_error(m, "Start of list found where not expected");
        if (!is_obj)
            return type_error(m, "Expected null");
        return check_struct_types(s, v, proto, m);
    case SL_SHAPE_LIST: {
        if (is_obj)
            return type_error(m, "Start of structure or map found where not expected.");
        if (!is_arr)
            return type_error(m, "Expected list or null");
        const cJSON *e;
        cJSON_ArrayForEach(e, v)
        {
            if (check_types(s->member, e, proto, m) != 0)
                return -1;
        }
        return 0;
    }
    case SL_SHAPE_MAP: {
        if (is_arr)
            return type_error(m, "Start of list found where not expected");
        if (!is_obj)
            return type_error(m, "Expected map or null");
        const cJSON *e;
        cJSON_ArrayForEach(e, v)
        {
            if (check_types(s->value, e, proto, m) != 0)
                return -1;
        }
        return 0;
    }
    default:
        break;
    }
    /* scalars */
    if (is_arr)
        return type_error(m, "Start of list found where not expected");
    if (is_obj)
        return type_error(m, "Start of structure or map found where not expected.");
    switch (s->type) {
    case SL_SHAPE_STRING:
        if (cJSON_IsBool(v))
            return type_error(m, "class java.lang.Boolean can not be converted to an String");
        if (cJSON_IsNumber(v))
            return type_error(m, NUMBER_CLASS " can not be converted to an String");
        return 0;
    case SL_SHAPE_INTEGER:
    case SL_SHAPE_LONG:
    case SL_SHAPE_DOUBLE:
    case SL_SHAPE_FLOAT:
        if (cJSON_IsBool(v)) {
            sl_buf_printf(m, "class java.lang.Boolean can not be converted to an %s",
                          java_type_name(s));
            return -1;
        }
        if (cJSON_IsString(v)) {
            sl_buf_printf(m, "class java.lang.String can not be converted to an %s",
                          java_type_name(s));
            return -1;
        }
        return 0;
    case SL_SHAPE_BOOLEAN:
        if (cJSON_IsNumber(v))
            return type_error(m, NUMBER_CLASS " can not be converted to an Boolean");
        if (cJSON_IsString(v)) {
            sl_buf_append_byte(m, '\'');
            for (const char *p = v->valuestring; *p; p++)
                sl_buf_append_byte(m, (uint8_t)toupper((unsigned char)*p));
            sl_buf_append_str(m, "' can not be converted to an Boolean");
            return -1;
        }
        return 0;
    case SL_SHAPE_BLOB: {
        size_t n;
        if (cJSON_IsBool(v))
            return type_error(m, "class java.lang.Boolean can not be converted to a Blob");
        if (cJSON_IsNumber(v))
            return type_error(m, NUMBER_CLASS " can not be converted to a Blob");
        return check_base64(v->valuestring, m, &n);
    }
    case SL_SHAPE_TIMESTAMP:
        if (cJSON_IsBool(v))
            return type_error(
                m, "class java.lang.Boolean can not be converted to milliseconds since epoch");
        if (cJSON_IsString(v)) {
            if (proto == SL_PROTO_REST_JSON &&
                (parse_iso8601(v->valuestring) == 0 || is_numeric_string(v->valuestring)))
                return 0;
            return type_error(
                m, "class java.lang.String can not be converted to milliseconds since epoch");
        }
        return 0;
    default:
        return 0;
    }
}

/* ---- pass 2: constraints -------------------------------------------------------------------- */

static void print_number(sl_buf *b, const sl_shape *s, double d)
{
    if (s && (s->type == SL_SHAPE_INTEGER || s->type == SL_SHAPE_LONG))
        sl_buf_printf(b, "%.0f", floor(d));
    else if (d == floor(d) && fabs(d) < 1e15)
        sl_buf_printf(b, "%.1f", d); /* Java's Double.toString(1) is "1.0" */
    else
        sl_buf_printf(b, "%.17g", d);
}

/* Appends v as the Java value string AWS prints for it. */
static void print_value(sl_buf *b, const sl_shape *s, const cJSON *v)
{
    if (!v || cJSON_IsNull(v)) {
        sl_buf_append_str(b, "null");
        return;
    }
    switch (s->type) {
    case SL_SHAPE_BLOB: {
        size_t n = blob_len(v->valuestring);
        sl_buf_printf(b, "java.nio.HeapByteBuffer[pos=0 lim=%zu cap=%zu]", n, n);
        return;
    }
    case SL_SHAPE_LIST: {
        const cJSON *e;
        int first = 1;
        sl_buf_append_byte(b, '[');
        cJSON_ArrayForEach(e, v)
        {
            if (!first)
                sl_buf_append_str(b, ", ");
            first = 0;
            print_value(b, s->member, e);
        }
        sl_buf_append_byte(b, ']');
        return;
    }
    case SL_SHAPE_MAP: {
        const cJSON *e;
        int first = 1;
        sl_buf_append_byte(b, '{');
        cJSON_ArrayForEach(e, v)
        {
            if (!first)
                sl_buf_append_str(b, ", ");
            first = 0;
            sl_buf_printf(b, "%s=", e->string);
            print_value(b, s->value, e);
        }
        sl_buf_append_byte(b, '}');
        return;
    }
    case SL_SHAPE_STRUCTURE: {
        sl_buf_printf(b, "%s(", s->name);
        for (uint32_t i = 0; i < s->n_members; i++) {
            if (i)
                sl_buf_append_str(b, ", ");
            sl_buf_printf(b, "%s=", s->members[i].path_name);
            print_value(b, s->members[i].shape,
                        cJSON_GetObjectItemCaseSensitive(v, s->members[i].name));
        }
        sl_buf_append_byte(b, ')');
        return;
    }
    default:
        break;
    }
    if (cJSON_IsString(v))
        sl_buf_append_str(b, v->valuestring);
    else if (cJSON_IsNumber(v))
        print_number(b, s, v->valuedouble);
    else if (cJSON_IsBool(v))
        sl_buf_append_str(b, cJSON_IsTrue(v) ? "true" : "false");
}

static void add_violation(vctx *c, const sl_shape *s, const cJSON *v, const char *path,
                          const char *rule)
{
    if (c->n >= MAX_ERRORS)
        return;
    sl_buf *b = &c->scratch;
    if (c->n > 0)
        sl_buf_append_str(b, "; ");
    sl_buf_append_str(b, "Value ");
    if (!v || cJSON_IsNull(v)) {
        sl_buf_append_str(b, "null");
    } else {
        sl_buf_append_byte(b, '\'');
        print_value(b, s, v);
        sl_buf_append_byte(b, '\'');
    }
    sl_buf_printf(b, " at '%s' failed to satisfy constraint: %s", path, rule);
    c->n++;
}

static int is_scalar(const sl_shape *s)
{
    return s->type != SL_SHAPE_STRUCTURE && s->type != SL_SHAPE_LIST && s->type != SL_SHAPE_MAP;
}

/* Length of v as the shape's length constraints count it. */
static int64_t shape_length(const sl_shape *s, const cJSON *v)
{
    switch (s->type) {
    case SL_SHAPE_STRING:
        return (int64_t)utf16_len(v->valuestring);
    case SL_SHAPE_BLOB:
        return (int64_t)blob_len(v->valuestring);
    case SL_SHAPE_LIST:
    case SL_SHAPE_MAP:
        return cJSON_GetArraySize(v);
    default:
        return -1;
    }
}

/* Appends each rule of s that v breaks (or every rule of s when all_rules), comma-separated,
 * to out; returns how many rules were broken. */
static int scalar_rules(vctx *c, const sl_shape *s, const cJSON *v, sl_buf *out, int all_rules,
                        int *n_written)
{
    int broken = 0;
    int64_t len = shape_length(s, v);
    double num = cJSON_IsNumber(v) ? v->valuedouble : 0;
    if ((s->type == SL_SHAPE_INTEGER || s->type == SL_SHAPE_LONG) && cJSON_IsNumber(v))
        num = floor(num);
    char rule[160];
#define RULE(cond, ...)                                                                            \
    do {                                                                                           \
        int bad_ = (cond);                                                                         \
        broken += bad_;                                                                            \
        if (bad_ || all_rules) {                                                                   \
            snprintf(rule, sizeof(rule), __VA_ARGS__);                                             \
            if ((*n_written)++)                                                                    \
                sl_buf_append_str(out, ", ");                                                      \
            sl_buf_append_str(out, rule);                                                          \
        }                                                                                          \
    } while (0)
    if (len >= 0) {
        if (s->has_max)
            RULE(len > s->max, "Member must have length less than or equal to %lld",
                 (long long)s->max);
        if (s->has_min)
            RULE(len < s->min, "Member must have length greater than or equal to %lld",
                 (long long)s->min);
    } else if (cJSON_IsNumber(v)) {
        if (s->has_max)
            RULE(num > (double)s->max, "Member must have value less than or equal to %lld",
                 (long long)s->max);
        if (s->has_min)
            RULE(num < (double)s->min, "Member must have value greater than or equal to %lld",
                 (long long)s->min);
    }
    if (s->pattern >= 0 && cJSON_IsString(v)) {
        const char *str = v->valuestring;
        int r = sl_pattern_match(s->pattern, str, strlen(str));
        if (r < 0) {
            c->fail = r;
            r = 0;
        }
        /* Long patterns would not fit `rule`: written straight to out. */
        int bad = !r;
        broken += bad;
        if (bad || all_rules) {
            if ((*n_written)++)
                sl_buf_append_str(out, ", ");
            sl_buf_append_str(out, "Member must satisfy regular expression pattern: ");
            sl_buf_append_str(out, sl_api_patterns[s->pattern].java);
        }
    }
    if (s->n_enums && cJSON_IsString(v)) {
        int found = 0;
        for (uint32_t i = 0; i < s->n_enums && !found; i++)
            found = strcmp(s->enums[i], v->valuestring) == 0;
        broken += !found;
        if (!found || all_rules) {
            if ((*n_written)++)
                sl_buf_append_str(out, ", ");
            sl_buf_append_str(out, "Member must satisfy enum value set: [");
            for (uint32_t i = 0; i < s->n_enums; i++) {
                if (i)
                    sl_buf_append_str(out, ", ");
                sl_buf_append_str(out, s->enums[i]);
            }
            sl_buf_append_byte(out, ']');
        }
    }
#undef RULE
    return broken;
}

static void check_value(vctx *c, const sl_shape *s, const cJSON *v);

static void check_struct(vctx *c, const sl_shape *s, const cJSON *v)
{
    for (uint32_t i = 0; i < s->n_members && c->n < MAX_ERRORS && !c->fail; i++) {
        const sl_member *m = &s->members[i];
        const cJSON *mv = cJSON_GetObjectItemCaseSensitive(v, m->name);
        if (!mv || cJSON_IsNull(mv)) {
            if (m->required) {
                size_t mark = path_push(c, m->path_name, strlen(m->path_name));
                add_violation(c, m->shape, NULL, path_str(c), "Member must not be null");
                path_cut(c, mark);
            }
            continue;
        }
        size_t mark = path_push(c, m->path_name, strlen(m->path_name));
        check_value(c, m->shape, mv);
        path_cut(c, mark);
    }
}

/* One violation on a list or map for its scalar elements / keys / values. */
static void check_elements(vctx *c, const sl_shape *holder, const cJSON *v, const sl_shape *elem,
                           int keys, const char *lead)
{
    const cJSON *e;
    int broken = 0;
    cJSON_ArrayForEach(e, v)
    {
        sl_buf none = SL_BUF_INIT;
        int w = 0;
        if (keys) {
            cJSON *k = cJSON_CreateString(e->string);
            if (!k) {
                c->fail = SL_ENOMEM;
                return;
            }
            broken += scalar_rules(c, elem, k, &none, 0, &w) > 0;
            cJSON_Delete(k);
        } else if (!cJSON_IsNull(e)) {
            broken += scalar_rules(c, elem, e, &none, 0, &w) > 0;
        }
        sl_buf_cleanup(&none);
        if (broken)
            break;
    }
    if (!broken)
        return;
    sl_buf rule = SL_BUF_INIT;
    int w = 0;
    sl_buf_append_str(&rule, lead);
    sl_buf_append_str(&rule, " must satisfy constraint: [");
    /* A representative value decides which rule kinds apply (length vs value). */
    const cJSON *rep = NULL;
    cJSON *key_rep = NULL;
    if (keys) {
        key_rep = cJSON_CreateString(v->child ? v->child->string : "");
        rep = key_rep;
    } else {
        cJSON_ArrayForEach(e, v)
        {
            if (!cJSON_IsNull(e)) {
                rep = e;
                break;
            }
        }
    }
    if (rep)
        scalar_rules(c, elem, rep, &rule, 1, &w);
    sl_buf_append_byte(&rule, ']');
    if (rule.oom)
        c->fail = SL_ENOMEM;
    else
        add_violation(c, holder, v, path_str(c), rule.data);
    cJSON_Delete(key_rep);
    sl_buf_cleanup(&rule);
}

static void check_value(vctx *c, const sl_shape *s, const cJSON *v)
{
    const char *path = path_str(c); /* read before any deeper push can move the buffer */
    sl_buf rules = SL_BUF_INIT;
    int w = 0;
    /* constraints on this value itself, each its own violation */
    if (s->type != SL_SHAPE_STRUCTURE) {
        int64_t len = shape_length(s, v);
        char rule[96];
        if (len >= 0 && s->has_max && len > s->max) {
            snprintf(rule, sizeof(rule), "Member must have length less than or equal to %lld",
                     (long long)s->max);
            add_violation(c, s, v, path, rule);
        }
        if (len >= 0 && s->has_min && len < s->min) {
            snprintf(rule, sizeof(rule), "Member must have length greater than or equal to %lld",
                     (long long)s->min);
            add_violation(c, s, v, path, rule);
        }
        if (len < 0 && cJSON_IsNumber(v)) {
            double num = v->valuedouble;
            if (s->type == SL_SHAPE_INTEGER || s->type == SL_SHAPE_LONG)
                num = floor(num);
            if (s->has_max && num > (double)s->max) {
                snprintf(rule, sizeof(rule), "Member must have value less than or equal to %lld",
                         (long long)s->max);
                add_violation(c, s, v, path, rule);
            }
            if (s->has_min && num < (double)s->min) {
                snprintf(rule, sizeof(rule), "Member must have value greater than or equal to %lld",
                         (long long)s->min);
                add_violation(c, s, v, path, rule);
            }
        }
        if (cJSON_IsString(v) && s->pattern >= 0) {
            sl_buf_reset(&rules);
            w = 0;
            const sl_shape only_pattern = {.type = s->type, .pattern = s->pattern};
            if (scalar_rules(c, &only_pattern, v, &rules, 0, &w) && !rules.oom)
                add_violation(c, s, v, path, rules.data);
        }
        if (cJSON_IsString(v) && s->n_enums) {
            sl_buf_reset(&rules);
            w = 0;
            const sl_shape only_enum = {
                .type = s->type, .pattern = -1, .enums = s->enums, .n_enums = s->n_enums};
            if (scalar_rules(c, &only_enum, v, &rules, 0, &w) && !rules.oom)
                add_violation(c, s, v, path, rules.data);
        }
    }
    sl_buf_cleanup(&rules);

    if (s->type == SL_SHAPE_STRUCTURE) {
        check_struct(c, s, v);
    } else if (s->type == SL_SHAPE_LIST) {
        if (is_scalar(s->member)) {
            check_elements(c, s, v, s->member, 0, "Member");
            return;
        }
        const cJSON *e;
        int i = 0;
        cJSON_ArrayForEach(e, v)
        {
            i++;
            if (c->n >= MAX_ERRORS)
                break;
            if (cJSON_IsNull(e)) {
                /* A null structure in a list has none of its members, so its required ones
                 * are reported missing (a handler must never see a record without them). */
                if (s->member->type != SL_SHAPE_STRUCTURE)
                    continue;
                e = &no_members;
            }
            char seg[24];
            int sn = snprintf(seg, sizeof(seg), "%d.member", i);
            size_t mark = path_push(c, seg, (size_t)sn);
            check_value(c, s->member, e);
            path_cut(c, mark);
        }
    } else if (s->type == SL_SHAPE_MAP) {
        check_elements(c, s, v, s->key, 1, "Map keys");
        if (is_scalar(s->value)) {
            check_elements(c, s, v, s->value, 0, "Map value");
            return;
        }
        const cJSON *e;
        cJSON_ArrayForEach(e, v)
        {
            if (c->n >= MAX_ERRORS)
                break;
            if (cJSON_IsNull(e))
                continue;
            size_t mark = path_push(c, e->string, strlen(e->string));
            sl_buf_append_str(&c->path, ".member");
            check_value(c, s->value, e);
            path_cut(c, mark);
        }
    }
}

int sl_validate(const sl_shape *shape, const cJSON *input, sl_wire_proto proto, sl_buf *msg)
{
    vctx c = {.msg = msg, .proto = proto, .scratch = SL_BUF_INIT, .path = SL_BUF_INIT};
    int rc = 0;
    if (!shape)
        goto out;
    if (check_types(shape, input, proto, msg) != 0) {
        rc = msg->oom ? SL_ENOMEM : SL_EPARSE;
        goto out;
    }
    if (!input || cJSON_IsNull(input)) {
        static const cJSON empty = {.type = cJSON_Object};
        input = &empty; /* no body: required members are reported missing */
    }
    check_struct(&c, shape, input);
    if (c.fail) {
        rc = c.fail == SL_ENOMEM ? SL_ENOMEM : SL_EINTERNAL;
        goto out;
    }
    if (c.n > 0) {
        sl_buf_printf(msg, "%d validation error%s detected: ", c.n, c.n > 1 ? "s" : "");
        sl_buf_append(msg, c.scratch.data, c.scratch.len);
        rc = (msg->oom || c.scratch.oom) ? SL_ENOMEM : SL_ERANGE;
    }
out:
    sl_buf_cleanup(&c.scratch);
    sl_buf_cleanup(&c.path);
    return rc;
}
