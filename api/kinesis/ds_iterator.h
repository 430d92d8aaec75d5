/* Shard iterators (and ListShards NextTokens): opaque, tamper-proof, expiring position tokens.
 *
 * A token is the standard base64 (padded) of
 *
 *     offset  size   field
 *     0       8      00 00 00 00 00 00 00 01   (version; what real iterators start with)
 *     8       16     IV, random per token
 *     24      16*k   AES-256-CBC ciphertext of the plaintext below, k >= 6
 *     24+16k  32     HMAC-SHA256 over bytes 0 .. 24+16k-1 (encrypt-then-MAC)
 *
 * so a token decodes to at least 152 bytes and (len - 152) % 16 == 0, the shape the real service
 * produces. Plaintext, big-endian, zero-padded to a multiple of 16 and at least 96 bytes:
 *
 *     u8 kind (SL_DS_TOKEN_*) | u8 n | n bytes stream name | i64 stream creation ms |
 *     u32 shard index | u64 position | i64 issue time ms | u8 flags
 *
 * For a shard iterator `position` is the log offset of the next record to return; for a
 * ListShards token it is the index of the next shard to list and `flags` holds the filter.
 * Encryption and MAC keys are derived with HMAC-SHA256 from one 32-byte secret that the caller
 * keeps in the data folder, so tokens survive restarts. A token older than 300 s is expired
 * (ExpiredIteratorException / ExpiredNextTokenException); anything that fails the MAC or the
 * layout is garbage ("Invalid ShardIterator."). Encoded tokens are at most 512 characters.
 *
 * Thread-safe (keys are read-only after sl_ds_token_key_init). */
#ifndef SLUICE_DS_ITERATOR_H
#define SLUICE_DS_ITERATOR_H

#include <stddef.h>
#include <stdint.h>

#define SL_DS_TOKEN_SECRET_BYTES 32
#define SL_DS_TOKEN_MAX_CHARS    512
#define SL_DS_TOKEN_TTL_MS       300000
#define SL_DS_STREAM_NAME_MAX    128

enum { SL_DS_TOKEN_ITERATOR = 1, SL_DS_TOKEN_LIST_SHARDS = 2, SL_DS_TOKEN_LIST_CONSUMERS = 3 };

typedef struct sl_ds_token_key {
    uint8_t enc[32];
    uint8_t mac[32];
} sl_ds_token_key;

typedef struct sl_ds_token {
    uint8_t kind;
    char stream[SL_DS_STREAM_NAME_MAX + 1]; /* NUL-terminated */
    int64_t stream_created_ms;
    uint32_t shard_index;
    uint64_t position;
    int64_t issued_ms;
    uint8_t flags;
} sl_ds_token;

/* Derives the keys from secret. Returns 0 or SL_ENOMEM / SL_EINTERNAL (crypto failure). */
int sl_ds_token_key_init(sl_ds_token_key *k, const uint8_t secret[SL_DS_TOKEN_SECRET_BYTES]);
/* Wipes k. */
void sl_ds_token_key_cleanup(sl_ds_token_key *k);

/* Seals t into out (NUL-terminated base64, at most SL_DS_TOKEN_MAX_CHARS characters).
 * Returns the length, or SL_EINVAL (stream name empty or too long), SL_EINTERNAL. */
int sl_ds_token_seal(const sl_ds_token_key *k, const sl_ds_token *t,
                     char out[SL_DS_TOKEN_MAX_CHARS + 1]);

/* Opens s[0..len). Returns 0 and fills *t, or SL_EINVAL for anything that is not a token sealed
 * with k (bad base64, wrong size or version, MAC mismatch, malformed plaintext). Does not look
 * at the age; see sl_ds_token_expired. */
int sl_ds_token_open(const sl_ds_token_key *k, const char *s, size_t len, sl_ds_token *t);

/* 1 when a token issued at issued_ms is too old at now_ms (more than SL_DS_TOKEN_TTL_MS). */
int sl_ds_token_expired(int64_t issued_ms, int64_t now_ms);

/* The ExpiredIteratorException text ("Iterator expired. The iterator was created at time Thu Jan
 * 22 01:22:02 UTC 2015 while right now it is ... which is further in the future than the
 * tolerated delay of 300000 milliseconds."), NUL-terminated, truncated to cap. */
void sl_ds_token_expired_message(int64_t issued_ms, int64_t now_ms, char *out, size_t cap);

#endif
