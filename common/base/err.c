/* The error table (errors.def) turned into lookups. */
#include <stdarg.h>
#include <stdio.h>

#include "sluice/err.h"

struct err_row {
    const char *name;
    const char *msg;
    const char *aws;
    int status;
};

static const struct err_row rows[] = {
#define SL_ERR(name, msg, aws, status) {"SL_E" #name, msg, aws, status},
#include "sluice/errors.def"
#undef SL_ERR
};

static const struct err_row *row(int code)
{
    int i = code - SL_ERR_BASE_ - 1;
    if (code >= 0 || i < 0 || (size_t)i >= sizeof(rows) / sizeof(rows[0]))
        return NULL;
    return &rows[i];
}

const char *sl_err_name(int code)
{
    const struct err_row *r = row(code);
    return code == 0 ? "SL_OK" : r ? r->name : "SL_E?";
}

const char *sl_err_str(int code)
{
    const struct err_row *r = row(code);
    return code == 0 ? "success" : r ? r->msg : "unknown error";
}

const char *sl_err_aws_type(int code)
{
    const struct err_row *r = row(code);
    return r ? r->aws : "InternalFailure";
}

int sl_err_http_status(int code)
{
    const struct err_row *r = row(code);
    return code == 0 ? 200 : r ? r->status : 500;
}

int sl_diag_set(sl_diag *d, int code, size_t offset, const char *fmt, ...)
{
    if (d) {
        va_list ap;
        d->code = code;
        d->offset = offset;
        va_start(ap, fmt);
        vsnprintf(d->text, sizeof(d->text), fmt, ap);
        va_end(ap);
    }
    return code;
}
