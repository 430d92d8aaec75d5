/* Kinesis sequence numbers: 56-digit decimal strings that encode where a record lives.
 *
 * Layout, most significant first, as observed on the real service (47 hex nibbles, 188 bits, so
 * the decimal form always has 56 digits):
 *
 *     nibbles  bits  field
 *     1        4     0x2 (leading marker)
 *     9        36    shard creation time, epoch seconds
 *     1        4     low nibble of the shard index
 *     16       64    per-shard counter
 *     2        8     reserved, 0
 *     9        36    record arrival time, epoch seconds
 *     8        32    shard index
 *     1        4     0x2 (version)
 *
 * Sluice uses the shard log's byte offset of the record plus one as the counter. Offsets are
 * assigned by the storage writer, strictly increase in write order and are never reused, also
 * across restarts (they are recovered from the log tail), so numbers strictly increase within a
 * shard, and a number maps back to its record without an index. Because log entries are at
 * least 32 bytes long, a counter k either names the record at offset k - 1 or -- when no entry
 * starts there -- the position between records at offset k; SubscribeToShard uses the latter as
 * ContinuationSequenceNumber when it has delivered nothing yet. A shard's
 * StartingSequenceNumber uses counter 0 (before every record); a closed shard's
 * EndingSequenceNumber uses SL_DS_SEQNO_COUNTER_END.
 *
 * Pure computation: any thread, no allocation. */
#ifndef SLUICE_DS_SEQNO_H
#define SLUICE_DS_SEQNO_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_ds_seqno {
    uint64_t shard_created_s; /* < 2^36 */
    uint32_t shard_index;
    uint64_t counter;  /* log offset of the record */
    uint64_t record_s; /* < 2^36 */
} sl_ds_seqno;

#define SL_DS_SEQNO_STRLEN      57 /* 56 digits + NUL */
#define SL_DS_SEQNO_COUNTER_END UINT64_C(0x7fffffffffffffff)

/* Writes the 56-digit decimal form of q into out (NUL-terminated); returns 56. Fields wider than
 * their slot are truncated to it (callers keep times below 2^36 s, i.e. before year 4147). */
size_t sl_ds_seqno_format(const sl_ds_seqno *q, char out[SL_DS_SEQNO_STRLEN]);

/* Parses s[0..len). Returns 0 and fills *out, or SL_EINVAL when s is not a decimal number in the
 * layout above (wrong length, non-digits, wrong markers, non-zero reserved bits, or a low
 * nibble that disagrees with the shard index). */
int sl_ds_seqno_parse(const char *s, size_t len, sl_ds_seqno *out);

/* Numeric order of the two numbers: <0, 0, >0. */
int sl_ds_seqno_cmp(const sl_ds_seqno *a, const sl_ds_seqno *b);

#endif
