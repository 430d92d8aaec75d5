/* Token buckets for the per-shard throughput limits of Kinesis (spec §4): writes 1 MiB/s and
 * 1000 records/s, reads 2 MiB/s and 5 GetRecords calls/s, 5 GetShardIterator calls/s.
 *
 * A bucket holds up to `burst` tokens and refills at `rate` tokens per second, continuously; a
 * take succeeds when enough tokens are there. Reads are charged after the fact (the size is
 * known only then), so the read bucket may go negative and refuse calls until it has refilled,
 * which is how a 10 MiB GetRecords blocks the following seconds. Loop thread (no locking). */
#ifndef SLUICE_DS_THROTTLE_H
#define SLUICE_DS_THROTTLE_H

#include <stdint.h>

typedef struct sl_ds_bucket {
    double tokens;
    int64_t last_ms; /* 0: never used (starts full) */
} sl_ds_bucket;

/* Refills b to now_ms, then takes n tokens if at least n are there (or, with allow_debt, if
 * any are). Returns 1 when taken, 0 when refused (nothing taken). */
int sl_ds_bucket_take(sl_ds_bucket *b, double rate, double burst, double n, int64_t now_ms,
                      int allow_debt);
/* Charges n tokens unconditionally (may go below zero). */
void sl_ds_bucket_charge(sl_ds_bucket *b, double rate, double burst, double n, int64_t now_ms);

#define SL_DS_WRITE_BYTES_PER_S    (1024.0 * 1024.0)
#define SL_DS_WRITE_RECORDS_PER_S  1000.0
#define SL_DS_READ_BYTES_PER_S     (2.0 * 1024.0 * 1024.0)
#define SL_DS_READ_CALLS_PER_S     5.0
#define SL_DS_ITERATOR_CALLS_PER_S 5.0

typedef struct sl_ds_shard_limits {
    sl_ds_bucket write_bytes, write_records, read_bytes, read_calls, iterator_calls;
} sl_ds_shard_limits;

#endif
