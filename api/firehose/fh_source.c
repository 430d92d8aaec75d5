/* Kinesis Data Streams as a Firehose source: the small internal bridge between the Data Streams
 * model (api/kinesis, loop thread only, no locks) and the delivery worker (its own thread).
 *
 * The Data Streams model belongs to the loop thread, so the worker never looks at it. Instead,
 * a loop timer (every 200 ms, and at once on start) copies, for every Kinesis-sourced delivery
 * stream, the source stream's shards -- index, parents, closed flag, end offset at close, log --
 * into sl_fh_stream.shards under sl_fh_lock(). The worker reads that snapshot and the shard logs
 * (sl_log reads are thread-safe; a log object stays valid until the store closes, even when the
 * stream is deleted). If the source stream disappears, or is re-created under the same name (a
 * different creation time), source_missing is set and delivery from it stops: like AWS, the
 * delivery stream then has nothing to read.
 *
 * This reads api/kinesis/ds_service.h / ds_model.h directly: Data Streams offers no public
 * header for other services yet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kinesis/ds_service.h"
#include "fh.h"
#include "sluice/log.h"
#include "sluice/loop.h"

#define TICK_MS 200

static void *timer;

int sl_fh_source_check(const char *arn, const char *account, char *region, size_t rcap, char *name,
                       size_t ncap, char *msg, size_t cap)
{
    char acct[16];
    int off = 0;
    if (sscanf(arn, "arn:aws:kinesis:%31[^:]:%15[^:]:stream/%n", region, acct, &off) != 2 ||
        off == 0 || !arn[off] || strchr(arn + off, '/') || strlen(arn + off) >= ncap || rcap < 32) {
        snprintf(msg, cap, "KinesisStreamARN %s is not a Kinesis stream ARN.", arn);
        return SL_EINVAL;
    }
    snprintf(name, ncap, "%s", arn + off);
    if (strcmp(acct, account) != 0) {
        snprintf(msg, cap, "Stream %s under account %s not found.", name, acct);
        return SL_ENOTFOUND;
    }
    sl_ds_model *m = sl_ds_service_init() == 0 ? sl_ds_model_of(region) : NULL;
    sl_ds_stream *s = m ? sl_ds_model_find(m, name) : NULL;
    if (!s || s->status == SL_DS_DELETING) {
        snprintf(msg, cap, "Stream %s under account %s not found.", name, account);
        return SL_ENOTFOUND;
    }
    return 0;
}

static void refresh(sl_fh_stream *f)
{
    sl_ds_model *m = sl_ds_model_of(f->source_region);
    sl_ds_stream *s = m ? sl_ds_model_find(m, f->source_name) : NULL;
    sl_fh_shard *shards = NULL;
    int missing = !s || s->status == SL_DS_DELETING ||
                  (f->source_created_ms && s->created_ms != f->source_created_ms);
    size_t n = 0;
    if (!missing) {
        shards = calloc(s->n_shards ? s->n_shards : 1, sizeof(*shards));
        if (!shards)
            return;
        for (size_t i = 0; i < s->n_shards; i++) {
            const sl_ds_shard *sh = &s->shards[i];
            if (!sh->log)
                continue;
            shards[n++] = (sl_fh_shard){sh->index,          sh->parent,     sh->adjacent_parent,
                                        sh->closed_ms != 0, sh->end_offset, sh->log};
        }
    }
    sl_fh_lock();
    if (!missing && !f->source_created_ms)
        f->source_created_ms = s->created_ms;
    if (missing && !f->source_missing)
        sl_warn("firehose", "%s: source stream %s is gone; nothing more will be delivered", f->name,
                f->source_name);
    f->source_missing = missing;
    if (!missing) {
        free(f->shards);
        f->shards = shards;
        f->n_shards = n;
    }
    sl_fh_unlock();
}

static void tick(void *unused)
{
    size_t n;
    (void)unused;
    timer = NULL;
    sl_fh_stream **all = sl_fh_streams(&n);
    for (size_t i = 0; i < n; i++) {
        if (all[i]->kinesis_source)
            refresh(all[i]);
    }
    timer = sl_loop_timer_add(TICK_MS, tick, NULL);
}

void sl_fh_source_start(void)
{
    if (!timer)
        tick(NULL);
}

void sl_fh_source_stop(void)
{
    if (timer)
        sl_loop_timer_cancel(timer);
    timer = NULL;
}
