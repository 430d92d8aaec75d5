/* Event-stream message encoder (format in ds_eventstream.h). The message is built in place:
 * the prelude is reserved, headers and payload appended, then the prelude and both CRCs are
 * filled in, so no intermediate copy is made. */
#include "ds_eventstream.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/err.h"

static uint32_t crc_table[256];
static int crc_ready;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    crc_ready = 1;
}

uint32_t sl_ds_crc32(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;
    if (!crc_ready) /* idempotent: racing threads compute the same table */
        crc_init();
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int sl_ds_es_append(sl_buf *out, const sl_ds_es_header *h, size_t n_headers, const void *payload,
                    size_t payload_len)
{
    size_t hdr_len = 0;
    for (size_t i = 0; i < n_headers; i++) {
        size_t nl = strlen(h[i].name), vl = strlen(h[i].value);
        if (nl == 0 || nl > 255 || vl > 65535)
            return SL_EINVAL;
        hdr_len += 1 + nl + 1 + 2 + vl;
    }
    size_t total = 12 + hdr_len + payload_len + 4;
    if (total > UINT32_MAX)
        return SL_EINVAL;
    size_t start = out->len;
    if (sl_buf_reserve(out, total) != 0)
        return SL_ENOMEM;
    uint8_t prelude[12];
    put32(prelude, (uint32_t)total);
    put32(prelude + 4, (uint32_t)hdr_len);
    put32(prelude + 8, sl_ds_crc32(0, prelude, 8));
    sl_buf_append(out, prelude, 12);
    for (size_t i = 0; i < n_headers; i++) {
        size_t nl = strlen(h[i].name), vl = strlen(h[i].value);
        uint8_t b[3] = {7, (uint8_t)(vl >> 8), (uint8_t)vl};
        sl_buf_append_byte(out, (uint8_t)nl);
        sl_buf_append(out, h[i].name, nl);
        sl_buf_append(out, b, 3);
        sl_buf_append(out, h[i].value, vl);
    }
    sl_buf_append(out, payload, payload_len);
    uint8_t crc[4];
    put32(crc, sl_ds_crc32(0, out->data + start, total - 4));
    sl_buf_append(out, crc, 4);
    return out->oom ? SL_ENOMEM : 0;
}

int sl_ds_es_event(sl_buf *out, const char *type, const char *json, size_t len)
{
    sl_ds_es_header h[3] = {
        {":message-type", "event"},
        {":event-type", type},
        {":content-type", "application/json"},
    };
    return sl_ds_es_append(out, h, 3, json, len);
}

int sl_ds_es_exception(sl_buf *out, const char *type, const char *msg)
{
    sl_ds_es_header h[3] = {
        {":message-type", "exception"},
        {":exception-type", type},
        {":content-type", "application/json"},
    };
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    int rc = SL_ENOMEM;
    if (o && cJSON_AddStringToObject(o, "message", msg) && (text = cJSON_PrintUnformatted(o)))
        rc = sl_ds_es_append(out, h, 3, text, strlen(text));
    free(text);
    cJSON_Delete(o);
    return rc;
}
