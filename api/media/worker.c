/* The packaging worker pool: remuxing and image decoding never run on the loop thread.
 *
 * A fixed number of threads (SLUICE_MEDIA_WORKERS, default 2 = this machine's cores) take jobs
 * from one FIFO under a mutex and condition variable; each job's work() runs on a worker and
 * its done() is handed back to the loop with sl_loop_post (libuv's threadpool design). The pool
 * starts on first use; sl_media_shutdown() (from sl_api_shutdown, after the server stopped)
 * lets the workers finish the queued jobs and joins them, before the logs they read are
 * closed. Completions posted after the loop stopped are dropped with the loop. The queue is bounded
 * (MD_QUEUE_MAX jobs): a full queue answers SL_EFULL so callers shed load instead of growing
 * memory. */
#include <pthread.h>
#include <stdlib.h>

#include "media_int.h"
#include "sluice/log.h"
#include "sluice/loop.h"

#define MD_MAX_WORKERS 16
#define MD_QUEUE_MAX   4096

typedef struct job {
    void (*work)(void *);
    void (*done)(void *);
    void *arg;
    struct job *next;
} job;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail;
    size_t queued;
    int started, stop;
    size_t nthreads;
    pthread_t thr[MD_MAX_WORKERS];
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *worker_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (!pool.head && !pool.stop)
            pthread_cond_wait(&pool.cv, &pool.mu);
        if (!pool.head)
            break;
        job *j = pool.head;
        pool.head = j->next;
        if (!pool.head)
            pool.tail = NULL;
        pool.queued--;
        pthread_mutex_unlock(&pool.mu);
        j->work(j->arg);
        if (sl_loop_post(j->done, j->arg) != 0)
            sl_error("media", "cannot post a packaging completion: out of memory");
        free(j);
        pthread_mutex_lock(&pool.mu);
    }
    pthread_mutex_unlock(&pool.mu);
    return NULL;
}

/* Caller holds pool.mu. */
static int start_locked(void)
{
    const char *env = getenv("SLUICE_MEDIA_WORKERS");
    long n = env ? strtol(env, NULL, 10) : 2;
    if (n < 1)
        n = 1;
    if (n > MD_MAX_WORKERS)
        n = MD_MAX_WORKERS;
    for (long i = 0; i < n; i++) {
        if (pthread_create(&pool.thr[pool.nthreads], NULL, worker_main, NULL) != 0)
            break;
        pool.nthreads++;
    }
    pool.started = 1;
    return pool.nthreads ? 0 : SL_ENOMEM;
}

void sl_media_shutdown(void)
{
    pthread_mutex_lock(&pool.mu);
    pool.stop = 1;
    pthread_cond_broadcast(&pool.cv);
    size_t n = pool.nthreads;
    pthread_mutex_unlock(&pool.mu);
    for (size_t i = 0; i < n; i++)
        pthread_join(pool.thr[i], NULL);
    pthread_mutex_lock(&pool.mu);
    pool.nthreads = 0;
    pthread_mutex_unlock(&pool.mu);
}

int md_work_submit(void (*work)(void *arg), void (*done)(void *arg), void *arg)
{
    job *j = malloc(sizeof(*j));
    if (!j)
        return SL_ENOMEM;
    *j = (job){work, done, arg, NULL};
    int rc = 0;
    pthread_mutex_lock(&pool.mu);
    if (!pool.started)
        rc = start_locked();
    if (rc == 0 && pool.stop)
        rc = SL_ECLOSED;
    if (rc == 0 && pool.queued >= MD_QUEUE_MAX)
        rc = SL_EFULL;
    if (rc == 0) {
        if (pool.tail)
            pool.tail->next = j;
        else
            pool.head = j;
        pool.tail = j;
        pool.queued++;
        pthread_cond_signal(&pool.cv);
    }
    pthread_mutex_unlock(&pool.mu);
    if (rc)
        free(j);
    return rc;
}
