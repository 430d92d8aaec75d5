/* Clocks. Wall time for timestamps that leave the process, monotonic time for durations. */
#ifndef SLUICE_TIME_H
#define SLUICE_TIME_H

#include <stdint.h>

/* Nanoseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t sl_time_now_ns(void);
/* Nanoseconds from an arbitrary fixed point (CLOCK_MONOTONIC). */
int64_t sl_time_mono_ns(void);

#endif
