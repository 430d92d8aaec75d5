/* Kinesis Data Streams settings kept beside the stream snapshots: resource policies of streams
 * and consumers, the account's MinimumThroughputBillingCommitment, and on-demand streams' warm
 * throughput (ds_policy.c). Private to api/kinesis/ds_*.c.
 *
 * Catalog (component "kinesis_ds_settings", version 1):
 *     ds_settings(k TEXT PRIMARY KEY, owner_ms INTEGER NOT NULL, v TEXT NOT NULL)
 *         k = "policy/<resource ARN>"        v = the policy text as given
 *             "account/<region>"             v = {"status","started_ms","ended_ms","earliest_ms"}
 *             "warm/<region>/<stream>"       v = {"target","current"}
 *         owner_ms = creation ms of the stream the row belongs to (0 for account rows): a row
 *         whose stream was deleted and re-created under the same name is ignored and replaced.
 * Rows are loaded at start-up into memory (the loop thread reads them without disk I/O) and
 * every change is committed through the storage writer before it is answered. */
#ifndef SLUICE_DS_POLICY_H
#define SLUICE_DS_POLICY_H

#include "ds_service.h"

/* Migrates and loads the rows. Blocking: service start-up (sl_ds_service_init). 0 or SL_E*. */
int sl_ds_settings_init(sl_store *store);
void sl_ds_settings_shutdown(void);

/* Adds DescribeStreamSummary's WarmThroughput{TargetMiBps, CurrentMiBps} to d when s has a warm
 * throughput set. Loop thread. Returns 0 or SL_ENOMEM. */
int sl_ds_warm_describe(const sl_ds_model *m, const sl_ds_stream *s, cJSON *d);

#endif
