/* Encryption at rest for Kinesis Data Streams records: a local key ring standing in for AWS KMS,
 * and AES-256-GCM sealing of shard-log entries.
 *
 * Key ring. StartStreamEncryption names a KMS key (key id, key ARN, alias name, alias ARN); Sluice
 * has no KMS, so each distinct key name maps to a 256-bit key of its own, generated with
 * RAND_bytes the first time the name is used and kept in the file "kinesis-keys" in the data
 * folder (mode 0600). The file is rewritten whole on every new key: write a temporary file,
 * fsync it, rename it over the old one, fsync the folder -- so a crash leaves either the old or
 * the new ring, never a torn one. Keys are never logged. File format (big-endian):
 *
 *     offset  size  field
 *     0       8     "SLKEYS01"
 *     8       4     n, number of keys
 *     12      ...   n entries: u32 key number | u16 name length | name | 32 key bytes
 *     end-32  32    SHA-256 of every byte before it
 *
 * Key numbers start at 1, increase along the file and are never reused; a record names its key by
 * number. A ring whose checksum or layout is wrong is "broken": nothing is loaded, nothing is ever
 * written over it, and every operation needing a key fails with SL_EKMS_INVALID_STATE
 * (KMSInvalidStateException) until an operator restores or removes the file. A key number missing
 * from the ring (the file was lost) fails with SL_EKMS_NOTFOUND (KMSNotFoundException).
 *
 * Key names. KeyId forms and their canonical name (the key ring's lookup key):
 *     1234abcd-12ab-34cd-56ef-1234567890ab / mrk-<32 hex>        -> key/<id, lower case>
 *     arn:aws:kms:<region>:<account>:key/<id>                    -> key/<id>
 *     alias/<name>                                               -> alias/<name>
 *     arn:aws:kms:<region>:<account>:alias/<name>                -> alias/<name>
 * An ARN of another account is KMSAccessDeniedException, of another region KMSNotFoundException,
 * anything else malformed InvalidArgumentException. A key id and an alias never share a key
 * (there is no KMS to say which key an alias points at).
 *
 * Sealed log entry (a plaintext entry starts with the high byte of its u16 partition-key
 * length, at most 0x04 since keys are at most 256 characters, so the first byte tells them apart):
 *
 *     offset  size  field
 *     0       1     0xE5 (sealed, AES-256-GCM, version 1)
 *     1       4     key number, u32 big-endian
 *     5       12    nonce, random per record (RAND_bytes)
 *     17      n     ciphertext of the plaintext entry (u16 key length | key | data)
 *     17+n    16    GCM tag
 *
 * Additional authenticated data: "sluice-kds-1" NUL | log name NUL | i64 BE arrival ms | bytes
 * 0..4 above. The log name holds region, stream, stream creation time and shard index, so a
 * record moved to another stream, stream incarnation or shard, or given another arrival time,
 * fails to open. Not bound: the log offset (the counter part of the sequence number), because
 * the group-commit writer assigns offsets after the entry is sealed; moving a record to another
 * offset of the same shard with the same arrival millisecond is not detected.
 *
 * Threads: every function is thread-safe (one mutex around the ring; sealing and opening copy
 * the key out and wipe the copy). Functions marked "blocking" write the file: never on the loop
 * thread. */
#ifndef SLUICE_DS_CRYPT_H
#define SLUICE_DS_CRYPT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ds_model.h"
#include "ds_service.h"

#define SL_DS_CRYPT_MARKER   0xE5u
#define SL_DS_CRYPT_HEADER   17u
#define SL_DS_CRYPT_TAG      16u
#define SL_DS_CRYPT_OVERHEAD (SL_DS_CRYPT_HEADER + SL_DS_CRYPT_TAG)
#define SL_DS_KEY_NAME_MAX   300
#define SL_DS_KEYRING_FILE   "kinesis-keys"

typedef struct sl_ds_keyring sl_ds_keyring;

/* Loads dir/kinesis-keys (absent: an empty ring; the file is created with the first key).
 * Blocking. *out owned, free with sl_ds_keyring_free. Returns 0 or SL_ENOMEM; a damaged file is
 * not an error here (the ring is marked broken and the damage logged). */
int sl_ds_keyring_open(const char *dir, sl_ds_keyring **out);
void sl_ds_keyring_free(sl_ds_keyring *kr);
/* A ring read from the bytes of a ring file instead of a folder (fuzzing and tests): it cannot
 * grow (sl_ds_keyring_ensure of a new name answers SL_EIO). Damaged bytes give a broken ring.
 * Returns 0 or SL_ENOMEM. */
int sl_ds_keyring_from_bytes(const uint8_t *p, size_t len, sl_ds_keyring **out);
/* 1 when the file on disk could not be read (see above). */
int sl_ds_keyring_broken(sl_ds_keyring *kr);

/* Canonical key name of key_id (see above) into out (SL_DS_KEY_NAME_MAX bytes). region and
 * account are the caller's. Returns 0 or fills e (InvalidArgumentException,
 * KMSAccessDeniedException, KMSNotFoundException). */
int sl_ds_crypt_key_name(const char *key_id, const char *region, const char *account, char *out,
                         sl_ds_err *e);

/* Number of the key called name, without disk I/O: 0 and *key_no, or SL_EKMS_NOTFOUND (no such
 * key yet), SL_EKMS_INVALID_STATE (ring broken). */
int sl_ds_keyring_find(sl_ds_keyring *kr, const char *name, uint32_t *key_no);
/* The same, creating the key (and writing the file durably) when it does not exist. Blocking.
 * Returns 0, SL_EKMS_INVALID_STATE (ring broken), SL_EIO (file not written; nothing changed),
 * SL_ENOMEM, SL_EINTERNAL (no randomness). */
int sl_ds_keyring_ensure(sl_ds_keyring *kr, const char *name, uint32_t *key_no);

/* Whether a log entry payload is sealed. */
int sl_ds_crypt_is_sealed(const void *payload, size_t len);

/* Seals the plaintext entry formed by the iov pieces with key key_no into a new buffer
 * (*out, free()) of SL_DS_CRYPT_OVERHEAD + plaintext bytes. log_name and ts_ms are the entry's
 * log and arrival time (AAD). Returns 0, SL_EKMS_NOTFOUND, SL_EKMS_INVALID_STATE, SL_ENOMEM,
 * SL_EINTERNAL. */
int sl_ds_crypt_seal(sl_ds_keyring *kr, uint32_t key_no, const char *log_name, int64_t ts_ms,
                     const struct iovec *iov, int iovcnt, uint8_t **out, size_t *out_len);
/* Opens a sealed entry in place: on success the first *len bytes of p are the plaintext entry.
 * Returns 0, SL_ECORRUPT (too short, or authentication failed: tampered, moved or wrong key),
 * SL_EKMS_NOTFOUND (key number not in the ring), SL_EKMS_INVALID_STATE, SL_EINTERNAL. On failure
 * p's bytes are unspecified. */
int sl_ds_crypt_open(sl_ds_keyring *kr, const char *log_name, int64_t ts_ms, uint8_t *p,
                     size_t *len);

/* For readers of shard logs through sl_log_read_many (Firehose, Analytics): opens every sealed
 * item of items[0..n) in place, with log's name and the entry times, shrinking items[i].e.len to
 * the plaintext entry. An item that cannot be opened is logged and left with e.len = 0 (which no
 * plaintext entry has: at least the u16 key length), so it reads as malformed and is skipped.
 * Any thread. Returns the number of items that could not be opened. */
typedef struct sl_log_item sl_log_item;
size_t sl_ds_crypt_open_items(sl_ds_keyring *kr, sl_log *log, sl_log_item *items, size_t n);

/* The service's ring (NULL before sl_ds_crypt_init). */
sl_ds_keyring *sl_ds_crypt_ring(void);
/* Opens the service's ring in the data folder of store's catalog. Blocking: start-up. Returns 0
 * or SL_E*. */
typedef struct sl_store sl_store;
int sl_ds_crypt_init(sl_store *store);
void sl_ds_crypt_shutdown(void);

/* Data plane, loop thread: the key number sealing s's new records (0 when s is not encrypted).
 * When the key is unusable answers call (KMSNotFoundException / KMSInvalidStateException) and
 * returns non-zero. ds_encryption.c. */
int sl_ds_stream_key_or_reply(sl_api_call *call, const sl_ds_model *m, const sl_ds_stream *s,
                              uint32_t *key_no);
/* The same without a call to answer (other services' appends, e.g. Analytics output): fills e
 * and returns its SL_E* when the key is unusable. Loop thread. */
int sl_ds_stream_key(const sl_ds_model *m, const sl_ds_stream *s, uint32_t *key_no, sl_ds_err *e);

/* AWS error type and message of a crypt error code (KMS* types; others InternalFailure). */
void sl_ds_crypt_err(int code, const char *key_id, sl_ds_err *e);

#endif
