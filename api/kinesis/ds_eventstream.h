/* Encoder for AWS event-stream messages (application/vnd.amazon.eventstream), the framing of
 * SubscribeToShard responses (shared/spec/data-streams.md §5).
 *
 * Message layout, big-endian:
 *     u32 total_length | u32 headers_length | u32 CRC-32(bytes 0..7)
 *     headers: u8 name_len | name | u8 type (7 = string) | u16 value_len | value, repeated
 *     payload
 *     u32 CRC-32(everything before it)
 * CRC-32 is the zlib/Ethernet one (reflected 0xEDB88320, init and final XOR 0xFFFFFFFF).
 * Only string headers are written; that is all Kinesis uses. Pure functions, any thread. */
#ifndef SLUICE_DS_EVENTSTREAM_H
#define SLUICE_DS_EVENTSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"

typedef struct sl_ds_es_header {
    const char *name;  /* 1..255 bytes */
    const char *value; /* at most 65535 bytes */
} sl_ds_es_header;

/* CRC-32 of p[0..n) continuing from crc (start with 0). */
uint32_t sl_ds_crc32(uint32_t crc, const void *p, size_t n);

/* Appends one message to out. Returns 0, SL_EINVAL (a name or value too long) or SL_ENOMEM. */
int sl_ds_es_append(sl_buf *out, const sl_ds_es_header *h, size_t n_headers, const void *payload,
                    size_t payload_len);

/* Convenience: an event (`:message-type` event, `:event-type` type, `:content-type`
 * application/json) with a JSON payload. */
int sl_ds_es_event(sl_buf *out, const char *type, const char *json, size_t len);
/* A modelled error (`:message-type` exception, `:exception-type` type) with {"message": msg}. */
int sl_ds_es_exception(sl_buf *out, const char *type, const char *msg);

#endif
