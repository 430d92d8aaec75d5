/* libFuzzer target for Kinesis encryption at rest (api/kinesis/ds_crypt.c): the key ring file
 * parser and the sealed-entry opener, the two places that read bytes from the data folder.
 *
 * Input byte 0 picks the parser. Even: the rest is a key ring file (sl_ds_keyring_from_bytes);
 * a ring that loads must answer lookups and refuse to grow without a folder. Odd: the rest is a
 * log entry opened under a fixed ring (key 1 = bytes 0x00..0x1f, name alias/aws/kinesis) for log
 * "kinesis/us-east-1/1764000000000.fuzz/0" at arrival 1764000000000 ms: whatever opens must
 * re-seal and re-open to the same plaintext. Random input only opens by forging a GCM tag, so
 * the corpus holds real sealed entries (tests/fuzz/corpus/ds_crypt/README) and near-misses.
 * Every input is also sealed as plaintext and must open back unchanged (round trip). */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../api/kinesis/ds_crypt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char LOG_NAME[] = "kinesis/us-east-1/1764000000000.fuzz/0";
#define TS_MS 1764000000000LL

static sl_ds_keyring *fixed_ring(void)
{
    static sl_ds_keyring *kr;
    if (kr)
        return kr;
    static const char name[] = "alias/aws/kinesis";
    uint8_t f[8 + 4 + 6 + sizeof(name) - 1 + 32 + 32];
    size_t at = 0, nl = sizeof(name) - 1;
    unsigned int dl = 0;
    memcpy(f, "SLKEYS01", 8);
    at = 8;
    memcpy(f + at, "\0\0\0\1", 4); /* one key */
    at += 4;
    memcpy(f + at, "\0\0\0\1", 4); /* number 1 */
    f[at + 4] = 0;
    f[at + 5] = (uint8_t)nl;
    at += 6;
    memcpy(f + at, name, nl);
    at += nl;
    for (int i = 0; i < 32; i++)
        f[at + (size_t)i] = (uint8_t)i;
    at += 32;
    if (EVP_Digest(f, at, f + at, &dl, EVP_sha256(), NULL) != 1 ||
        sl_ds_keyring_from_bytes(f, at + 32, &kr) != 0 || sl_ds_keyring_broken(kr))
        abort();
    return kr;
}

static void round_trip(sl_ds_keyring *kr, const uint8_t *p, size_t n)
{
    struct iovec iov = {(void *)p, n};
    uint8_t *sealed;
    size_t len;
    if (sl_ds_crypt_seal(kr, 1, LOG_NAME, TS_MS, &iov, 1, &sealed, &len) != 0)
        abort();
    if (len != n + SL_DS_CRYPT_OVERHEAD || !sl_ds_crypt_is_sealed(sealed, len) ||
        sl_ds_crypt_open(kr, LOG_NAME, TS_MS, sealed, &len) != 0 || len != n ||
        (n && memcmp(sealed, p, n) != 0))
        abort();
    free(sealed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_ds_keyring *fixed = fixed_ring();
    if (size == 0)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    if ((data[0] & 1) == 0) {
        sl_ds_keyring *kr = NULL;
        uint32_t no;
        if (sl_ds_keyring_from_bytes(p, n, &kr) != 0)
            return 0;
        int rc = sl_ds_keyring_find(kr, "alias/aws/kinesis", &no);
        if (sl_ds_keyring_broken(kr) ? rc != SL_EKMS_INVALID_STATE
                                     : rc != 0 && rc != SL_EKMS_NOTFOUND)
            abort();
        if (!sl_ds_keyring_broken(kr) && sl_ds_keyring_ensure(kr, "alias/fuzz-new", &no) == 0 &&
            sl_ds_keyring_find(kr, "alias/fuzz-new", &no) != 0)
            abort(); /* only an existing name may "ensure" without a folder */
        sl_ds_keyring_free(kr);
    } else {
        uint8_t *buf = malloc(n + 1);
        size_t len = n;
        if (!buf)
            return 0;
        memcpy(buf, p, n);
        if (sl_ds_crypt_open(fixed, LOG_NAME, TS_MS, buf, &len) == 0) {
            if (len + SL_DS_CRYPT_OVERHEAD != n)
                abort();
            round_trip(fixed, buf, len);
        }
        free(buf);
    }
    round_trip(fixed, p, n < 4096 ? n : 4096);
    return 0;
}
