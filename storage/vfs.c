/* The file-I/O table the logs use, and a fault injector for tests.
 *
 * sl_vfs_posix forwards to the system calls. sl_vfs_fault wraps another table and makes the Nth
 * pwritev or fdatasync/fsync fail with EIO (and optionally every later one), which is how the unit
 * tests prove that a failed write or sync is sticky and that no completion reports success for
 * data that was not made durable (the idea of SQLite's test6.c crash VFS). The wrapper finds its
 * sl_vfs_fault from the table pointer, so the table must be used through &f->vfs; one injector
 * can therefore be active per process (kept in a static, set by sl_vfs_fault_init). */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage_int.h"

static int px_open(const char *path, int flags, mode_t mode)
{
    return open(path, flags | O_CLOEXEC, mode);
}

static int px_mkdir(const char *path, mode_t mode)
{
    return mkdir(path, mode);
}

const sl_vfs sl_vfs_posix = {
    .open = px_open,
    .close = close,
    .pread = pread,
    .pwritev = pwritev,
    .fdatasync = fdatasync,
    .fsync = fsync,
    .ftruncate = ftruncate,
    .unlink = unlink,
    .mkdir = px_mkdir,
};

static sl_vfs_fault *_Atomic active;

static int trip(long n, long at, sl_vfs_fault *f)
{
    int fail = (at > 0 && n == at) || (at > 0 && f->sticky && n > at) ||
               (f->sticky && atomic_load(&f->injected) > 0);
    if (fail)
        atomic_fetch_add(&f->injected, 1);
    return fail;
}

static ssize_t ft_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    sl_vfs_fault *f = atomic_load(&active);
    long n = atomic_fetch_add(&f->writes, 1) + 1;
    if (trip(n, f->fail_write_at, f)) {
        errno = EIO;
        return -1;
    }
    return f->base->pwritev(fd, iov, iovcnt, off);
}

static int sync_common(int fd, int data)
{
    sl_vfs_fault *f = atomic_load(&active);
    long n = atomic_fetch_add(&f->syncs, 1) + 1;
    if (trip(n, f->fail_sync_at, f)) {
        errno = EIO;
        return -1;
    }
    return data ? f->base->fdatasync(fd) : f->base->fsync(fd);
}

static int ft_fdatasync(int fd)
{
    return sync_common(fd, 1);
}

static int ft_fsync(int fd)
{
    return sync_common(fd, 0);
}

void sl_vfs_fault_init(sl_vfs_fault *f, const sl_vfs *base)
{
    f->base = base ? base : &sl_vfs_posix;
    f->vfs = *f->base;
    f->vfs.pwritev = ft_pwritev;
    f->vfs.fdatasync = ft_fdatasync;
    f->vfs.fsync = ft_fsync;
    f->fail_write_at = 0;
    f->fail_sync_at = 0;
    f->sticky = 0;
    f->writes = f->syncs = f->injected = 0;
    atomic_store(&active, f);
}
