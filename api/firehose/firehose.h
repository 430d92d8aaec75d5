/* The Firehose service's start and stop, for api.c: sl_api_init() starts it (so delivery of
 * records accepted before a restart resumes without waiting for a request) and sl_api_shutdown()
 * stops its delivery worker before the store closes.
 *
 * Both run on the loop thread. init blocks on the storage writer (catalog load): start-up only.
 * init returns 0 or SL_E*; it is idempotent, and the Firehose handlers call it on first use too. */
#ifndef SLUICE_FIREHOSE_H
#define SLUICE_FIREHOSE_H

int sl_firehose_service_init(void);
/* Stops the delivery worker (waits for an object being written) and frees the table. */
void sl_firehose_service_shutdown(void);

/* Appends the Firehose metrics in Prometheus text format to out, one sample per delivery stream
 * and CloudWatch metric name:
 *     sluice_firehose{metric="IncomingRecords",region="us-east-1",delivery_stream="orders"} 42
 * Metrics: IncomingRecords, IncomingBytes, IncomingPutRequests, DeliveryToS3.Records,
 * DeliveryToS3.Bytes, DeliveryToS3.Success (successful object writes / attempts, 1 when none),
 * DeliveryToHttpEndpoint.Records / .Bytes / .Success (likewise), ProcessingFailed.Records
 * (Sluice's name). Counters start at 0 when the gateway starts. Loop thread. 0 or SL_ENOMEM.
 * Meant to be called by the gateway's GET /metrics. */
typedef struct sl_buf sl_buf;
int sl_firehose_metrics_render(sl_buf *out);

/* The local object-store folder of store st, the one rule every service that reads or writes
 * the local S3 layout uses (Firehose delivers there; Analytics reads reference data and
 * DiscoverInputSchema samples there): SLUICE_FIREHOSE_S3_DIR, else "s3" next to the catalog
 * (the data folder), else ~/.local/share/sluice/s3. Writes a NUL-terminated path into out. */
typedef struct sl_store sl_store;
void sl_firehose_s3_root_of(sl_store *st, char *out, size_t n);

#endif
