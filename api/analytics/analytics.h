/* Kinesis Data Analytics (SQL applications, API version 2015-08-14): service start-up and
 * shutdown, called by api.c. The operation handlers are listed in api/handlers.def. */
#ifndef SLUICE_ANALYTICS_H
#define SLUICE_ANALYTICS_H

/* Loads the applications from the catalog (component "kinesis_analytics") and restarts the
 * ones that were running, from their last checkpoint. Blocking (catalog reads): start-up only,
 * after the Data Streams service. Idempotent. Returns 0 or SL_E*. */
int sl_ka_service_init(void);
/* Stops every application's worker (saving its positions) and frees the state. Call before
 * sl_ds_service_shutdown and sl_store_close. */
void sl_ka_service_shutdown(void);

#endif
