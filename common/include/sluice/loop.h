/* Handing work to the event-loop thread.
 *
 * Exactly one thread runs the network loop (libwebsockets). Other threads -- the storage writer,
 * worker pools -- finish work off the loop and must deliver the result on it, because only the
 * loop thread may touch connections. sl_loop_post() queues fn(arg) from any thread and wakes the
 * loop through the hook the gateway installs (lws_cancel_service); the loop then calls
 * sl_loop_run_posted(), which runs every queued task in FIFO order on the loop thread.
 *
 * Timers run on the loop thread too; the gateway installs the implementation (lws_sul). Both
 * hooks are set once at start, before any other thread exists. Unit tests may install their own. */
#ifndef SLUICE_LOOP_H
#define SLUICE_LOOP_H

#include <stdint.h>

typedef void (*sl_task_fn)(void *arg);

typedef struct sl_loop_hooks {
    void (*wake)(void *ctx); /* thread-safe; makes the loop call run_posted */
    /* Runs fn(arg) on the loop thread after delay_ms. Returns a handle for cancel, or NULL. */
    void *(*timer_add)(void *ctx, uint64_t delay_ms, sl_task_fn fn, void *arg);
    void (*timer_cancel)(void *ctx, void *handle); /* loop thread only; the fn will not run */
    void *ctx;
} sl_loop_hooks;

void sl_loop_set_hooks(const sl_loop_hooks *hooks);

/* Thread-safe. Queues fn(arg) to run on the loop thread. Returns 0 or SL_ENOMEM. */
int sl_loop_post(sl_task_fn fn, void *arg);
/* Loop thread only. Runs everything posted so far; returns how many tasks ran. */
int sl_loop_run_posted(void);

/* Loop thread only. See sl_loop_hooks.timer_add; returns NULL when no timer hook is installed. */
void *sl_loop_timer_add(uint64_t delay_ms, sl_task_fn fn, void *arg);
void sl_loop_timer_cancel(void *handle);

/* Frees queued tasks without running them (at shutdown, after the loop has stopped). */
void sl_loop_shutdown(void);

#endif
