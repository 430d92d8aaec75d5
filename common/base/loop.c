/* Cross-thread task queue into the loop thread.
 *
 * A mutex-protected singly linked FIFO. Producers append and call the wake hook only when the
 * queue goes from empty to non-empty (the loop drains everything it finds, so one wake-up per
 * batch suffices). The loop detaches the whole list under the lock and runs it unlocked, so a
 * task may post further tasks. */
#include <pthread.h>
#include <stdlib.h>

#include "sluice/err.h"
#include "sluice/loop.h"

struct task {
    struct task *next;
    sl_task_fn fn;
    void *arg;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct task *head, *tail;
static sl_loop_hooks hooks;

void sl_loop_set_hooks(const sl_loop_hooks *h)
{
    pthread_mutex_lock(&lock);
    if (h)
        hooks = *h;
    else
        hooks = (sl_loop_hooks){0};
    pthread_mutex_unlock(&lock);
}

int sl_loop_post(sl_task_fn fn, void *arg)
{
    struct task *t = malloc(sizeof(*t));
    if (!t)
        return SL_ENOMEM;
    t->next = NULL;
    t->fn = fn;
    t->arg = arg;
    pthread_mutex_lock(&lock);
    int was_empty = head == NULL;
    if (tail)
        tail->next = t;
    else
        head = t;
    tail = t;
    void (*wake)(void *) = hooks.wake;
    void *ctx = hooks.ctx;
    pthread_mutex_unlock(&lock);
    if (was_empty && wake)
        wake(ctx);
    return 0;
}

int sl_loop_run_posted(void)
{
    int n = 0;
    for (;;) {
        pthread_mutex_lock(&lock);
        struct task *t = head;
        head = tail = NULL;
        pthread_mutex_unlock(&lock);
        if (!t)
            return n;
        while (t) {
            struct task *next = t->next;
            t->fn(t->arg);
            free(t);
            t = next;
            n++;
        }
    }
}

void *sl_loop_timer_add(uint64_t delay_ms, sl_task_fn fn, void *arg)
{
    if (!hooks.timer_add)
        return NULL;
    return hooks.timer_add(hooks.ctx, delay_ms, fn, arg);
}

void sl_loop_timer_cancel(void *handle)
{
    if (handle && hooks.timer_cancel)
        hooks.timer_cancel(hooks.ctx, handle);
}

void sl_loop_shutdown(void)
{
    pthread_mutex_lock(&lock);
    struct task *t = head;
    head = tail = NULL;
    pthread_mutex_unlock(&lock);
    while (t) {
        struct task *next = t->next;
        free(t);
        t = next;
    }
}
