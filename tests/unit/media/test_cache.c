/* Tests for the packaged-segment cache (api/media/cache.c) with the real worker pool
 * (worker.c) and a stand-in loop: sl_loop hooks whose wake signals this thread, which then runs
 * the posted completions, as the gateway's loop does.
 * - single flight: three requests for one key while its make() is still running cause one
 *   make(); all three callbacks get the same blob, in request order; a later request is a hit
 * - errors are not cached: a failed make() is retried by the next request
 * - the byte budget (SLUICE_MEDIA_CACHE_MB=1) evicts the least recently used entry */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../api/media/media_int.h"
#include "sluice/loop.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int woken;

static void wake(void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&mu);
    woken = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

/* Runs posted completions until *done reaches want. */
static void run_until(const int *done, int want)
{
    while (*done < want) {
        pthread_mutex_lock(&mu);
        while (!woken)
            pthread_cond_wait(&cv, &mu);
        woken = 0;
        pthread_mutex_unlock(&mu);
        sl_loop_run_posted();
    }
}

typedef struct maker {
    atomic_int calls;
    size_t len;
    int fail;
    pthread_mutex_t gate; /* held by the test to keep make() running */
} maker;

static int make(void *arg, md_blob **out, sl_diag *d)
{
    maker *m = arg;
    atomic_fetch_add(&m->calls, 1);
    pthread_mutex_lock(&m->gate);
    pthread_mutex_unlock(&m->gate);
    if (m->fail)
        return sl_diag_set(d, SL_EMEDIA_FRAME, 0, "refused");
    char *buf = calloc(1, m->len);
    *out = md_blob_new(buf, m->len, "video/mp4");
    free(buf);
    return *out ? 0 : SL_ENOMEM;
}

typedef struct answer {
    int order[8];
    md_blob *blob[8];
    int rc[8];
    int n;
} answer;

static answer ans;
static int done;

static void got(void *arg, md_blob *b, int rc, const sl_diag *d)
{
    (void)d;
    int i = ans.n++;
    ans.order[i] = (int)(intptr_t)arg;
    ans.blob[i] = b ? md_blob_ref(b) : NULL;
    ans.rc[i] = rc;
    done++;
}

static void reset(void)
{
    for (int i = 0; i < ans.n; i++)
        md_blob_unref(ans.blob[i]);
    memset(&ans, 0, sizeof(ans));
    done = 0;
}

static void test_single_flight(void **state)
{
    (void)state;
    maker m = {.len = 1000, .gate = PTHREAD_MUTEX_INITIALIZER};
    pthread_mutex_lock(&m.gate);
    for (int i = 0; i < 3; i++)
        assert_int_equal(md_cache_get("s/1/m4s/1", make, &m, NULL, got, (void *)(intptr_t)i), 0);
    pthread_mutex_unlock(&m.gate);
    run_until(&done, 3);
    assert_int_equal(atomic_load(&m.calls), 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ans.order[i], i);
        assert_int_equal(ans.rc[i], 0);
        assert_ptr_equal(ans.blob[i], ans.blob[0]);
    }
    assert_int_equal(ans.blob[0]->len, 1000);
    reset();
    /* a hit answers inside the call */
    assert_int_equal(md_cache_get("s/1/m4s/1", make, &m, NULL, got, (void *)(intptr_t)9), 0);
    assert_int_equal(done, 1);
    assert_int_equal(atomic_load(&m.calls), 1);
    reset();
}

static void test_errors_not_cached(void **state)
{
    (void)state;
    maker m = {.len = 10, .fail = 1, .gate = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(md_cache_get("s/2/ts/0", make, &m, NULL, got, NULL), 0);
    run_until(&done, 1);
    assert_int_equal(ans.rc[0], SL_EMEDIA_FRAME);
    assert_null(ans.blob[0]);
    reset();
    m.fail = 0;
    assert_int_equal(md_cache_get("s/2/ts/0", make, &m, NULL, got, NULL), 0);
    run_until(&done, 1);
    assert_int_equal(ans.rc[0], 0);
    assert_int_equal(atomic_load(&m.calls), 2);
    reset();
}

static void test_budget_evicts_lru(void **state)
{
    (void)state;
    maker m = {.len = 400 * 1024, .gate = PTHREAD_MUTEX_INITIALIZER};
    const char *keys[] = {"e/a", "e/b", "e/c"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(md_cache_get(keys[i], make, &m, NULL, got, NULL), 0);
        run_until(&done, i + 1);
    }
    /* touch a: b becomes the least recently used */
    assert_int_equal(md_cache_get("e/a", make, &m, NULL, got, NULL), 0);
    assert_int_equal(md_cache_get(keys[2], make, &m, NULL, got, NULL), 0);
    run_until(&done, 4);
    assert_int_equal(atomic_load(&m.calls), 3);
    uint64_t hits, misses, bytes;
    md_cache_stats(&hits, &misses, &bytes);
    assert_true(bytes <= 1024 * 1024);
    reset();
    assert_int_equal(md_cache_get("e/a", make, &m, NULL, got, NULL), 0); /* still there */
    assert_int_equal(done, 1);
    assert_int_equal(md_cache_get("e/b", make, &m, NULL, got, NULL), 0); /* evicted: made */
    run_until(&done, 2);
    assert_int_equal(atomic_load(&m.calls), 4);
    reset();
}

int main(void)
{
    setenv("SLUICE_MEDIA_CACHE_MB", "1", 1);
    sl_loop_hooks hooks = {.wake = wake};
    sl_loop_set_hooks(&hooks);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_flight),
        cmocka_unit_test(test_errors_not_cached),
        cmocka_unit_test(test_budget_evicts_lru),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
