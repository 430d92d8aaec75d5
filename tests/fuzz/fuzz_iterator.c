/* libFuzzer target for the shard-iterator decoder (api/kinesis/ds_iterator.c).
 *
 * Feeds arbitrary bytes to sl_ds_token_open under a fixed key. Anything accepted must re-seal
 * and re-open to the same fields (round trip), and a token is only ever accepted if it passes
 * the MAC, so for random input acceptance means a bug: the target aborts then. The corpus holds
 * real sealed tokens (under the same fixed key) plus near-misses. Inputs that start with byte
 * 0xA5 are instead decoded as sequence numbers and hash keys, which shares the one target with
 * the other two small parsers of this module. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../api/kinesis/ds_hashkey.h"
#include "../../api/kinesis/ds_iterator.h"
#include "../../api/kinesis/ds_seqno.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sl_ds_token_key key;
    static int ready;
    if (!ready) {
        uint8_t secret[SL_DS_TOKEN_SECRET_BYTES];
        for (int i = 0; i < SL_DS_TOKEN_SECRET_BYTES; i++)
            secret[i] = (uint8_t)(0x40 + i);
        if (sl_ds_token_key_init(&key, secret) != 0)
            abort();
        ready = 1;
    }
    if (size > 0 && data[0] == 0xA5) {
        sl_ds_seqno q, back;
        char s[SL_DS_SEQNO_STRLEN];
        if (sl_ds_seqno_parse((const char *)data + 1, size - 1, &q) == 0) {
            sl_ds_seqno_format(&q, s);
            if (size - 1 != 56 || memcmp(s, data + 1, 56) != 0 ||
                sl_ds_seqno_parse(s, 56, &back) != 0 || sl_ds_seqno_cmp(&q, &back) != 0)
                abort();
        }
        sl_u128 k;
        char hk[SL_DS_HASHKEY_STRLEN];
        if (sl_ds_hashkey_parse((const char *)data + 1, size - 1, &k) == 0) {
            size_t n = sl_ds_hashkey_format(k, hk);
            if (n != size - 1 || memcmp(hk, data + 1, n) != 0)
                abort();
        }
        return 0;
    }
    sl_ds_token t, back;
    if (sl_ds_token_open(&key, (const char *)data, size, &t) != 0)
        return 0;
    char enc[SL_DS_TOKEN_MAX_CHARS + 1];
    int n = sl_ds_token_seal(&key, &t, enc);
    if (n <= 0 || sl_ds_token_open(&key, enc, (size_t)n, &back) != 0)
        abort();
    if (strcmp(back.stream, t.stream) != 0 || back.position != t.position ||
        back.shard_index != t.shard_index || back.issued_ms != t.issued_ms ||
        back.stream_created_ms != t.stream_created_ms || back.kind != t.kind ||
        back.flags != t.flags)
        abort();
    return 0;
}
