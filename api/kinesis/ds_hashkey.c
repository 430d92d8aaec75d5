/* Kinesis hash keys (see ds_hashkey.h): MD5 of partition keys via OpenSSL's EVP interface,
 * decimal conversion of 128-bit integers by repeated division, and the even split of the hash
 * space used by CreateStream and UpdateShardCount. */
#include "ds_hashkey.h"

#include <openssl/evp.h>
#include <string.h>

#include "sluice/err.h"

sl_u128 sl_ds_hashkey_of_partition_key(const char *key, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    sl_u128 k = 0;

    /* EVP_Digest only fails on allocation failure; MD5 of nothing is still a key then. */
    if (EVP_Digest(key, len, md, &md_len, EVP_md5(), NULL) != 1 || md_len != 16)
        memset(md, 0, 16);
    for (int i = 0; i < 16; i++)
        k = (k << 8) | md[i];
    return k;
}

size_t sl_ds_hashkey_format(sl_u128 k, char out[SL_DS_HASHKEY_STRLEN])
{
    char tmp[SL_DS_HASHKEY_STRLEN];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + (int)(k % 10));
        k /= 10;
    } while (k);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

int sl_ds_hashkey_parse(const char *s, size_t len, sl_u128 *out)
{
    sl_u128 k = 0;

    if (len == 0 || (len > 1 && s[0] == '0'))
        return SL_EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return SL_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (k > (SL_U128_MAX - d) / 10)
            return SL_ERANGE;
        k = k * 10 + d;
    }
    *out = k;
    return 0;
}

void sl_ds_hashkey_split(uint32_t n, uint32_t i, sl_u128 *start, sl_u128 *end)
{
    /* floor(2^128 / n) without overflowing: 2^128 = (2^128 - 1) + 1. */
    sl_u128 step = SL_U128_MAX / n;
    if (SL_U128_MAX % n == (sl_u128)n - 1)
        step++;
    *start = step * i;
    *end = (i + 1 == n) ? SL_U128_MAX : step * (i + 1) - 1;
}
