/* Error codes shared by every Sluice module.
 *
 * Functions return int: 0 on success, a negative SL_E* code on failure. The codes, their text,
 * and the AWS error they map to at the edge live in errors.def; sl_err_name() and sl_err_str()
 * read that table. Parsers additionally fill a caller-owned sl_diag with the byte offset and a
 * short reason, so a client can be told exactly what was wrong with its input. */
#ifndef SLUICE_ERR_H
#define SLUICE_ERR_H

#include <stddef.h>

enum {
    SL_OK = 0,
    SL_ERR_BASE_ = -1000,
#define SL_ERR(name, msg, aws, status) SL_E##name,
#include "sluice/errors.def"
#undef SL_ERR
    SL_ERR_END_
};

/* "SL_EINVAL"-style name of code; "SL_OK" for 0, "SL_E?" for unknown codes. Static storage. */
const char *sl_err_name(int code);
/* Human-readable message of code. Static storage. */
const char *sl_err_str(int code);
/* AWS error type ("InternalFailure", ...) and HTTP status a code maps to at the edge. */
const char *sl_err_aws_type(int code);
int sl_err_http_status(int code);

/* Where and why a parser refused its input. Caller-owned; parsers fill it on failure. */
typedef struct sl_diag {
    int code;       /* SL_E* */
    size_t offset;  /* byte offset into the input where the problem was found */
    char text[256]; /* short reason, NUL-terminated (room for AWS's longest messages) */
} sl_diag;

/* Fills d (if not NULL) and returns code, so parsers can write `return sl_diag_set(...)`. */
int sl_diag_set(sl_diag *d, int code, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
