/* Kinesis hash keys: the 128-bit space that maps partition keys to shards.
 *
 * A record's hash key is its ExplicitHashKey when given, else MD5 of the partition key's UTF-8
 * bytes read as an unsigned big-endian 128-bit integer. Hash keys travel as decimal strings
 * (pattern 0|([1-9]\d{0,38})); they are held as unsigned __int128 here. A stream created with N
 * shards splits the space evenly: step = floor(2^128 / N), shard i owns [i*step, (i+1)*step - 1]
 * and the last shard ends at 2^128 - 1 (the ranges the real service prints).
 *
 * Everything here is pure computation: any thread, no allocation. */
#ifndef SLUICE_DS_HASHKEY_H
#define SLUICE_DS_HASHKEY_H

#include <stddef.h>
#include <stdint.h>

typedef unsigned __int128 sl_u128;

#define SL_U128_MAX (~(sl_u128)0)
/* Longest decimal form of a 128-bit value (39 digits) plus the NUL. */
#define SL_DS_HASHKEY_STRLEN 40

/* MD5 of key[0..len) as a big-endian 128-bit integer. */
sl_u128 sl_ds_hashkey_of_partition_key(const char *key, size_t len);

/* Writes the decimal form of k (NUL-terminated) into out; returns its length. */
size_t sl_ds_hashkey_format(sl_u128 k, char out[SL_DS_HASHKEY_STRLEN]);

/* Parses a decimal hash key of exactly len bytes. Returns 0 and sets *out; SL_EINVAL when s is
 * empty, holds a non-digit or has a leading zero (the model's pattern 0|([1-9]\d{0,38})); SL_ERANGE
 * when the value is 2^128 or more (AWS: "ExplicitHashKey must be in the range: [0, 2^128-1]"). */
int sl_ds_hashkey_parse(const char *s, size_t len, sl_u128 *out);

/* The hash range of shard i (0-based) of n (n >= 1, i < n) in an even split. */
void sl_ds_hashkey_split(uint32_t n, uint32_t i, sl_u128 *start, sl_u128 *end);

#endif
