/* Declarations shared by the files of api/wire only. */
#ifndef SL_WIRE_INT_H
#define SL_WIRE_INT_H

#include "sluice/wire.h"

/* REST-JSON error reply (api/wire/rest_json.c). */
int sl_restjson_reply_error(sl_exchange *ex, const sl_service_def *svc, int status,
                            const char *type, const char *message, int with_message);
/* REST-JSON success reply with a JSON body (NULL: "{}"). */
int sl_restjson_reply_ok(sl_exchange *ex, int status, const cJSON *body);

#endif
