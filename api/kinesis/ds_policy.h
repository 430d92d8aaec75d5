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

/* The rules warm throughput follows, for UpdateStreamWarmThroughput and CreateStream: an
 * ON_DEMAND stream, the account's commitment in force, 0..10240 MiB/s. 0, or SL_EINVAL with e
 * set (InvalidArgumentException / LimitExceededException). Loop thread. */
int sl_ds_warm_check(const sl_ds_model *m, const char *name, sl_ds_mode mode, double want,
                     sl_ds_err *e);

/* Records target MiB/s for s, for CreateStream and UpdateStreamMode (current: the previous
 * target, 0 for none, until the stream is ACTIVE again): in memory now, and queued to the writer
 * ahead of the stream's own persist, which is what the caller answers after. Loop thread. 0,
 * SL_ENOMEM, or the writer's submit error. */
int sl_ds_warm_store(const sl_ds_model *m, const sl_ds_stream *s, long target);

#endif
