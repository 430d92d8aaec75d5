/* Durable storage substrate: the SQLite catalog, segmented append-only logs and the
 * group-commit writer thread. See storage/*.c for the on-disk formats.
 *
 * (The store-level entry points below are what the daemon uses; the log, writer and catalog
 * interfaces follow.) */
#ifndef SLUICE_STORAGE_H
#define SLUICE_STORAGE_H

#include <stdint.h>

typedef struct sl_store sl_store;

typedef struct sl_store_stats {
    uint64_t bytes_on_disk;   /* segment files + catalog */
    uint64_t appends;         /* appends made durable since start */
    uint64_t fsyncs;          /* fdatasync calls since start */
    uint64_t batches;         /* group-commit batches since start */
} sl_store_stats;

/* Opens (creating if needed) the store in data_dir: migrates the catalog, recovers logs, starts
 * the writer thread. */
int sl_store_open(const char *data_dir, sl_store **out);
/* Finishes pending writes, stops the writer, closes everything. */
void sl_store_close(sl_store *s);
void sl_store_stats_get(sl_store *s, sl_store_stats *out);

#endif
