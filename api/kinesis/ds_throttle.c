/* Token buckets (see ds_throttle.h). Continuous refill from the elapsed milliseconds; a fresh
 * bucket starts full so the first second of traffic is not refused. */
#include "ds_throttle.h"

static void refill(sl_ds_bucket *b, double rate, double burst, int64_t now_ms)
{
    if (b->last_ms == 0) {
        b->tokens = burst;
    } else if (now_ms > b->last_ms) {
        b->tokens += rate * (double)(now_ms - b->last_ms) / 1000.0;
        if (b->tokens > burst)
            b->tokens = burst;
    }
    if (now_ms > b->last_ms)
        b->last_ms = now_ms;
}

int sl_ds_bucket_take(sl_ds_bucket *b, double rate, double burst, double n, int64_t now_ms,
                      int allow_debt)
{
    refill(b, rate, burst, now_ms);
    if (b->tokens >= n || (allow_debt && b->tokens > 0)) {
        b->tokens -= n;
        return 1;
    }
    return 0;
}

void sl_ds_bucket_charge(sl_ds_bucket *b, double rate, double burst, double n, int64_t now_ms)
{
    refill(b, rate, burst, now_ms);
    b->tokens -= n;
}
