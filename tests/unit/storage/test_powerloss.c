/* Power-loss test: a VFS shim remembers every byte range written since the last fdatasync of its
 * file and every file whose folder entry was not fsync'ed yet. At a random moment it "cuts the
 * power": from then on every write and sync fails (the store turns read-only), and after the
 * store is closed the shim damages what a real power cut could lose -- each unsynced range is
 * kept, zeroed, filled with garbage or cut off, and files created without a folder fsync vanish.
 * After reopening, every entry whose completion reported success must be intact. This is the
 * check kill -9 cannot make (the page cache survives a process crash), in the spirit of SQLite's
 * test6.c crash simulation. Prints its seed; rerun with SL_SEED=<n>. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <time.h>

#include "sluice/log.h"
#include "storage_test.h"

#define MAXF 2048
#define MAXR 4096

typedef struct range {
    uint64_t off, len;
} range;

typedef struct tfile {
    int fd;
    char path[512];
    int is_dir;
    int dirent_synced; /* created before the round, or its folder was fsync'ed since */
    range r[MAXR];
    int nr;
    int overflow;
} tfile;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static tfile files[MAXF];
static int nfiles;
static _Atomic int power_off;
static _Atomic long syncs_left; /* the power fails at this fdatasync (0: by the clock only) */
static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static tfile *by_fd(int fd)
{
    for (int i = 0; i < nfiles; i++)
        if (files[i].fd == fd)
            return &files[i];
    return NULL;
}

static int t_open(const char *path, int flags, mode_t mode)
{
    int existed = access(path, F_OK) == 0;
    int fd = sl_vfs_posix.open(path, flags, mode);
    if (fd < 0)
        return fd;
    pthread_mutex_lock(&mu);
    tfile *f = NULL;
    for (int i = 0; i < nfiles; i++)
        if (strcmp(files[i].path, path) == 0)
            f = &files[i];
    if (!f && nfiles == MAXF) {
        fprintf(stderr, "power-loss shim: more than %d files\n", MAXF);
        abort(); /* an untracked file would make the simulation wrong */
    }
    if (!f) {
        f = &files[nfiles++];
        memset(f, 0, sizeof(*f));
        snprintf(f->path, sizeof(f->path), "%s", path);
        f->dirent_synced = existed;
    }
    if (f) {
        f->fd = fd;
        f->is_dir = (flags & O_DIRECTORY) != 0;
    }
    pthread_mutex_unlock(&mu);
    return fd;
}

static int t_close(int fd)
{
    pthread_mutex_lock(&mu);
    tfile *f = by_fd(fd);
    if (f)
        f->fd = -1;
    pthread_mutex_unlock(&mu);
    return close(fd);
}

static ssize_t t_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    if (atomic_load(&power_off)) {
        errno = EIO;
        return -1;
    }
    ssize_t w = pwritev(fd, iov, n, off);
    if (w > 0) {
        pthread_mutex_lock(&mu);
        tfile *f = by_fd(fd);
        if (f && f->nr < MAXR)
            f->r[f->nr++] = (range){(uint64_t)off, (uint64_t)w};
        else if (f)
            f->overflow = 1;
        pthread_mutex_unlock(&mu);
    }
    return w;
}

static int t_fdatasync(int fd)
{
    if (atomic_load(&syncs_left) > 0 && atomic_fetch_sub(&syncs_left, 1) == 1)
        atomic_store(&power_off, 1); /* the cut lands between a write and its sync */
    if (atomic_load(&power_off)) {
        errno = EIO;
        return -1;
    }
    int r = fdatasync(fd);
    if (r == 0) {
        pthread_mutex_lock(&mu);
        tfile *f = by_fd(fd);
        if (f) {
            f->nr = 0;
            f->overflow = 0;
        }
        pthread_mutex_unlock(&mu);
    }
    return r;
}

static int t_fsync(int fd)
{
    if (atomic_load(&power_off)) {
        errno = EIO;
        return -1;
    }
    int r = fsync(fd);
    if (r == 0) {
        pthread_mutex_lock(&mu);
        tfile *d = by_fd(fd);
        if (d && d->is_dir) {
            size_t dl = strlen(d->path);
            for (int i = 0; i < nfiles; i++) {
                const char *p = files[i].path;
                if (strncmp(p, d->path, dl) == 0 && p[dl] == '/' && !strchr(p + dl + 1, '/'))
                    files[i].dirent_synced = 1;
            }
        } else if (d) {
            d->nr = 0;
        }
        pthread_mutex_unlock(&mu);
    }
    return r;
}

static const sl_vfs shadow = {
    .open = t_open,
    .close = t_close,
    .pread = pread,
    .pwritev = t_pwritev,
    .fdatasync = t_fdatasync,
    .fsync = t_fsync,
    .ftruncate = ftruncate,
    .unlink = unlink,
    .mkdir = mkdir,
};

/* What a power cut may do to unsynced state. */
static void cut_power(unsigned *ranges, unsigned *damaged, unsigned *vanished)
{
    for (int i = 0; i < nfiles; i++) {
        tfile *f = &files[i];
        if (f->is_dir)
            continue;
        if (!f->dirent_synced) {
            unlink(f->path);
            (*vanished)++;
            continue;
        }
        if (f->overflow)
            fail_msg("too many unsynced ranges in %s", f->path);
        int fd = open(f->path, O_RDWR);
        if (fd < 0)
            continue;
        for (int k = 0; k < f->nr; k++) {
            range r = f->r[k];
            (*ranges)++;
            char junk[4096];
            switch (rnd(4)) {
            case 0: /* made it to disk */
                break;
            case 1: /* never reached the disk: cut the file there */
                if (ftruncate(fd, (off_t)r.off) != 0)
                    fail_msg("ftruncate");
                break;
            default: /* torn: zeros or garbage over part of the range */
                for (uint64_t p = r.off + rnd((uint32_t)r.len); p < r.off + r.len;) {
                    size_t n = sizeof(junk);
                    if (n > r.off + r.len - p)
                        n = (size_t)(r.off + r.len - p);
                    for (size_t j = 0; j < n; j++)
                        junk[j] = (char)(rnd(2) ? 0 : rnd(256));
                    if (pwrite(fd, junk, n, (off_t)p) != (ssize_t)n)
                        fail_msg("pwrite");
                    p += n;
                }
                (*damaged)++;
            }
        }
        close(fd);
        f->nr = 0;
    }
}

/* ---- load */
typedef struct acked {
    unsigned log, id;
    uint64_t off;
    uint32_t len;
} acked;

#define MAXA 400000
static acked acks[MAXA];
static _Atomic size_t nacks;

typedef struct req {
    unsigned log, id;
    uint32_t len;
} req;

static void on_done(void *arg, int rc, const sl_log_entry *e)
{
    req *r = arg;
    if (rc == 0) {
        size_t i = atomic_fetch_add(&nacks, 1);
        if (i < MAXA)
            acks[i] = (acked){r->log, r->id, e->offset, r->len};
    }
    free(r);
}

typedef struct loader {
    sl_store *s;
    sl_log *log;
    unsigned log_no, base_id, count;
} loader;

static void *load(void *arg)
{
    loader *l = arg;
    char buf[3000];
    for (unsigned i = 0; i < l->count && !atomic_load(&power_off); i++) {
        unsigned id = l->base_id + i;
        uint32_t len = 1 + (id * 7919u) % 2900;
        fill_payload(buf, len, id);
        req *r = malloc(sizeof(*r));
        *r = (req){l->log_no, id, len};
        struct iovec iov = {buf, len};
        sl_append a = {.log = l->log, .iov = &iov, .iovcnt = 1, .done = on_done, .arg = r};
        if (sl_writer_submit_wait(sl_store_writer(l->s), &a) != 0) {
            free(r);
            break;
        }
    }
    return NULL;
}

static void test_power_loss(void **state)
{
    const char *env = getenv("SL_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    rng = seed * 0x9E3779B97F4A7C15ull + 7;
    print_message("power-loss seed %llu (rerun with SL_SEED=%llu)\n", (unsigned long long)seed,
                  (unsigned long long)seed);
    char dir[256];
    tmp_dir(dir, sizeof(dir));
    sl_store_options o = {.segment_bytes = 4 << 20, .queue_max_bytes = 256 << 10, .vfs = &shadow};
    const char *names[2] = {"p/a", "p/b"};
    unsigned ranges = 0, damaged = 0, vanished = 0, rounds = 12;
    sl_buf b = SL_BUF_INIT;
    char want[3000];
    for (unsigned round = 0; round < rounds; round++) {
        nfiles = 0;
        atomic_store(&power_off, 0);
        /* Small segments make cuts land in rolls (new files), large ones inside a segment. */
        o.segment_bytes = round % 3 == 0 ? 64 << 10 : 4 << 20;
        sl_store *s = NULL;
        assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
        /* Everything acknowledged so far survived earlier cuts. */
        size_t na = atomic_load(&nacks);
        for (size_t i = 0; i < na && i < MAXA; i++) {
            sl_log *log;
            sl_log_entry e;
            assert_int_equal(sl_store_log_open(s, names[acks[i].log], &log), 0);
            sl_buf_reset(&b);
            int rc = sl_log_read(log, acks[i].off, &e, &b);
            if (rc)
                fail_msg("round %u: acknowledged entry %u at %s@%llu lost: %s", round, acks[i].id,
                         names[acks[i].log], (unsigned long long)acks[i].off, sl_err_name(rc));
            fill_payload(want, acks[i].len, acks[i].id);
            assert_int_equal(e.len, acks[i].len);
            assert_memory_equal(b.data, want, acks[i].len);
        }
        if (round + 1 == rounds) {
            sl_store_close(s);
            break;
        }
        loader l[2];
        pthread_t th[2];
        for (unsigned k = 0; k < 2; k++) {
            l[k] =
                (loader){.s = s, .log_no = k, .base_id = round * 100000 + k * 50000, .count = 8000};
            assert_int_equal(sl_store_log_open(s, names[k], &l[k].log), 0);
            pthread_create(&th[k], NULL, load, &l[k]);
        }
        /* Half of the rounds cut at a random fdatasync, the others at a random time. */
        if (round % 2) {
            atomic_store(&syncs_left, 1 + rnd(25));
            for (int t = 0; t < 3000 && !atomic_load(&power_off); t++)
                usleep(1000);
        } else {
            usleep(1000 * (20 + rnd(300)));
        }
        atomic_store(&power_off, 1);
        atomic_store(&syncs_left, 0);
        for (unsigned k = 0; k < 2; k++)
            pthread_join(th[k], NULL);
        sl_store_close(s); /* everything still queued fails */
        cut_power(&ranges, &damaged, &vanished);
    }
    print_message("%zu acknowledged entries checked after %u power cuts (%u unsynced ranges, %u "
                  "of them torn; %u unsynced files vanished)\n",
                  atomic_load(&nacks), rounds - 1, ranges, damaged, vanished);
    assert_true(atomic_load(&nacks) > 0);
    sl_buf_cleanup(&b);
    rm_rf(dir);
}

int main(void)
{
    sl_log_set_level(SL_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_power_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
