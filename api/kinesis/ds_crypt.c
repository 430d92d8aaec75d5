/* Encryption at rest for Kinesis Data Streams (see ds_crypt.h for the key ring file, the key
 * names and the sealed entry format).
 *
 * The ring is an array of (number, name, key) guarded by one mutex. Lookups by name run on the
 * loop (PutRecord/PutRecords learn the stream's key number), lookups by number on the reader
 * thread and the Firehose/Analytics workers (opening records). New keys are added on the reader
 * thread by StartStreamEncryption: the whole file is written to "kinesis-keys.tmp", fsync'ed,
 * renamed over "kinesis-keys" and the folder fsync'ed before the key is added to memory, so a key
 * that sealed a record is always on disk. Sealing uses OpenSSL's EVP AES-256-GCM with a fresh
 * 96-bit nonce from RAND_bytes per record; key copies on the stack are wiped with
 * OPENSSL_cleanse. */
#include "ds_crypt.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/buf.h"
#include "sluice/err.h"
#include "sluice/log.h"
#include "sluice/storage.h"

#define MAGIC     "SLKEYS01"
#define KEY_BYTES 32
#define NONCE     12
#define AAD_LABEL "sluice-kds-1"

typedef struct ring_key {
    uint32_t no;
    char *name; /* owned */
    uint8_t key[KEY_BYTES];
} ring_key;

struct sl_ds_keyring {
    pthread_mutex_t mu;
    uint64_t id; /* unique per ring opened in this process (per-thread context cache) */
    char *dir;   /* owned */
    ring_key *keys;
    size_t n;
    int broken;
};

static sl_ds_keyring *the_ring;
static _Atomic uint64_t ring_ids;

/* Per-thread cipher contexts, [0] sealing and [1] opening, each remembering the (ring id, key
 * number) whose AES key schedule it holds, so a record costs a nonce change rather than a key
 * expansion and two allocations. Freed by the thread-specific-data destructor. */
typedef struct tl_cache {
    EVP_CIPHER_CTX *c[2];
    uint64_t ring[2];
    uint32_t no[2];
    /* nonces: RAND_bytes output fetched 256 nonces at a time (one RAND_bytes call costs about
     * as much as sealing a 1 KiB record); each byte is used once */
    uint8_t pool[NONCE * 256];
    size_t pool_used;
} tl_cache;

static pthread_key_t tl_key;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;
static int tl_ok;

static void tl_free(void *p)
{
    tl_cache *t = p;
    EVP_CIPHER_CTX_free(t->c[0]);
    EVP_CIPHER_CTX_free(t->c[1]);
    free(t);
}

static void tl_init(void)
{
    tl_ok = pthread_key_create(&tl_key, tl_free) == 0;
}

static tl_cache *tl_get(void)
{
    pthread_once(&tl_once, tl_init);
    if (!tl_ok)
        return NULL;
    tl_cache *t = pthread_getspecific(tl_key);
    if (t)
        return t;
    if (!(t = calloc(1, sizeof(*t))))
        return NULL;
    t->pool_used = sizeof(t->pool);
    t->c[0] = EVP_CIPHER_CTX_new();
    t->c[1] = EVP_CIPHER_CTX_new();
    if (!t->c[0] || !t->c[1] || pthread_setspecific(tl_key, t) != 0) {
        tl_free(t);
        return NULL;
    }
    return t;
}

static int sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
    unsigned int len = 0;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32 ? 0 : SL_EINTERNAL;
}

static void keys_free(ring_key *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(k[i].name);
        OPENSSL_cleanse(k[i].key, KEY_BYTES);
    }
    free(k);
}

/* Parses a whole ring file (key numbers strictly increasing). Returns 0 or SL_ECORRUPT /
 * SL_ENOMEM. */
static int parse_ring(const uint8_t *p, size_t len, ring_key **out, size_t *n_out)
{
    uint8_t sum[32];
    ring_key *k = NULL;
    size_t n = 0, at = 12;
    uint32_t count = 0;
    int rc = SL_ECORRUPT;

    if (len < 12 + 32 || memcmp(p, MAGIC, 8) != 0 || sha256(p, len - 32, sum) != 0 ||
        CRYPTO_memcmp(sum, p + len - 32, 32) != 0)
        goto out;
    count = (uint32_t)sl_get_be(p + 8, 4);
    if (count > 100000)
        goto out;
    if (!(k = calloc(count + 1, sizeof(*k)))) {
        rc = SL_ENOMEM;
        goto out;
    }
    for (; n < count; n++) {
        if (at + 6 > len - 32)
            goto out;
        uint32_t no = (uint32_t)sl_get_be(p + at, 4);
        size_t nl = (size_t)sl_get_be(p + at + 4, 2);
        at += 6;
        if (no == 0 || (n && no <= k[n - 1].no) || nl == 0 || nl >= SL_DS_KEY_NAME_MAX ||
            at + nl + KEY_BYTES > len - 32)
            goto out;
        if (!(k[n].name = strndup((const char *)p + at, nl))) {
            rc = SL_ENOMEM;
            goto out;
        }
        k[n].no = no;
        memcpy(k[n].key, p + at + nl, KEY_BYTES);
        at += nl + KEY_BYTES;
    }
    if (at != len - 32)
        goto out;
    *out = k;
    *n_out = n;
    k = NULL;
    rc = 0;
out:
    if (k)
        keys_free(k, count);
    return rc;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    uint8_t *p = NULL;
    struct stat st;
    int rc = SL_EIO;

    if (fd < 0)
        return errno == ENOENT ? SL_ENOTFOUND : SL_EIO;
    if (fstat(fd, &st) != 0 || st.st_size > (64 << 20))
        goto out;
    if (!(p = malloc((size_t)st.st_size + 1))) {
        rc = SL_ENOMEM;
        goto out;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, p + got, (size_t)st.st_size - got);
        if (r <= 0)
            goto out;
        got += (size_t)r;
    }
    *out = p;
    *len = got;
    p = NULL;
    rc = 0;
out:
    if (p)
        OPENSSL_cleanse(p, (size_t)st.st_size);
    free(p);
    close(fd);
    return rc;
}

int sl_ds_keyring_open(const char *dir, sl_ds_keyring **out)
{
    sl_ds_keyring *kr = calloc(1, sizeof(*kr));
    char path[4096];
    uint8_t *file = NULL;
    size_t len = 0;
    int rc = SL_ENOMEM;

    if (!kr || !(kr->dir = strdup(dir)))
        goto out;
    pthread_mutex_init(&kr->mu, NULL);
    kr->id = ++ring_ids;
    snprintf(path, sizeof(path), "%s/%s", dir, SL_DS_KEYRING_FILE);
    rc = read_file(path, &file, &len);
    if (rc == 0) {
        rc = parse_ring(file, len, &kr->keys, &kr->n);
        if (rc == SL_ECORRUPT) {
            sl_error("kinesis",
                     "the encryption key ring %s is damaged: encrypted streams are unusable until "
                     "it is restored",
                     path);
            kr->broken = 1;
            rc = 0;
        }
    } else if (rc == SL_ENOTFOUND) {
        rc = 0;
    } else if (rc == SL_EIO) {
        sl_error("kinesis", "cannot read the encryption key ring %s", path);
        kr->broken = 1;
        rc = 0;
    }
    if (rc)
        goto out;
    *out = kr;
    kr = NULL;
out:
    if (file)
        OPENSSL_cleanse(file, len);
    free(file);
    if (kr) {
        free(kr->dir);
        free(kr);
    }
    return rc;
}

int sl_ds_keyring_from_bytes(const uint8_t *p, size_t len, sl_ds_keyring **out)
{
    sl_ds_keyring *kr = calloc(1, sizeof(*kr));
    if (!kr)
        return SL_ENOMEM;
    pthread_mutex_init(&kr->mu, NULL);
    kr->id = ++ring_ids;
    int rc = parse_ring(p, len, &kr->keys, &kr->n);
    if (rc == SL_ENOMEM) {
        pthread_mutex_destroy(&kr->mu);
        free(kr);
        return rc;
    }
    kr->broken = rc != 0;
    *out = kr;
    return 0;
}

void sl_ds_keyring_free(sl_ds_keyring *kr)
{
    if (!kr)
        return;
    keys_free(kr->keys, kr->n);
    pthread_mutex_destroy(&kr->mu);
    free(kr->dir);
    free(kr);
}

int sl_ds_keyring_broken(sl_ds_keyring *kr)
{
    pthread_mutex_lock(&kr->mu);
    int b = kr->broken;
    pthread_mutex_unlock(&kr->mu);
    return b;
}

/* ---- key names ---------------------------------------------------------------------------- */

static int is_key_id(const char *s)
{
    size_t n = strlen(s);
    if (strncmp(s, "mrk-", 4) == 0) {
        if (n != 36)
            return 0;
        for (size_t i = 4; i < n; i++)
            if (!isxdigit((unsigned char)s[i]))
                return 0;
        return 1;
    }
    if (n != 36)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return 0;
    }
    return 1;
}

static int is_alias_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 7 || n > 256 || strncmp(s, "alias/", 6) != 0)
        return 0;
    for (size_t i = 6; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '/' && c != '_' && c != '-' && c != ':')
            return 0;
    }
    return 1;
}

int sl_ds_crypt_key_name(const char *key_id, const char *region, const char *account, char *out,
                         sl_ds_err *e)
{
    const char *rest = key_id;
    if (strncmp(key_id, "arn:", 4) == 0) {
        char part[5][64];
        const char *p = key_id + 4;
        /* arn:<partition>:kms:<region>:<account>:<resource> */
        for (int i = 0; i < 4; i++) {
            const char *c = strchr(p, ':');
            if (!c || (size_t)(c - p) >= sizeof(part[i]))
                goto invalid;
            snprintf(part[i], sizeof(part[i]), "%.*s", (int)(c - p), p);
            p = c + 1;
        }
        if (strncmp(part[0], "aws", 3) != 0 || strcmp(part[1], "kms") != 0)
            goto invalid;
        if (strcmp(part[3], account) != 0)
            return sl_ds_err_set(e, SL_EKMS_ACCESS_DENIED, "KMSAccessDeniedException",
                                 "User is not authorized to use the KMS key %s of account %s.",
                                 key_id, part[3]);
        if (strcmp(part[2], region) != 0)
            return sl_ds_err_set(e, SL_EKMS_NOTFOUND, "KMSNotFoundException",
                                 "Key '%s' does not exist in region %s.", key_id, region);
        rest = p;
        if (strncmp(rest, "key/", 4) == 0) {
            if (!is_key_id(rest + 4))
                goto invalid;
            rest += 4;
        } else if (!is_alias_name(rest)) {
            goto invalid;
        }
    } else if (!is_key_id(rest) && !is_alias_name(rest)) {
        goto invalid;
    }
    if (strncmp(rest, "alias/", 6) == 0) {
        snprintf(out, SL_DS_KEY_NAME_MAX, "%s", rest);
    } else {
        size_t n = strlen(rest);
        memcpy(out, "key/", 4);
        for (size_t i = 0; i < n; i++)
            out[4 + i] = (char)tolower((unsigned char)rest[i]);
        out[4 + n] = '\0';
    }
    return 0;
invalid:
    return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException",
                         "Invalid KeyId %.300s: expected a KMS key id, key ARN, alias name "
                         "(alias/...) or alias ARN.",
                         key_id);
}

/* ---- ring lookups and growth -------------------------------------------------------------- */

static const ring_key *by_name(const sl_ds_keyring *kr, const char *name)
{
    for (size_t i = 0; i < kr->n; i++)
        if (strcmp(kr->keys[i].name, name) == 0)
            return &kr->keys[i];
    return NULL;
}

/* Copies key number no into key (caller wipes it). */
static int key_of(sl_ds_keyring *kr, uint32_t no, uint8_t key[KEY_BYTES])
{
    int rc = SL_EKMS_NOTFOUND;
    if (!kr)
        return SL_EKMS_INVALID_STATE;
    pthread_mutex_lock(&kr->mu);
    if (kr->broken) {
        rc = SL_EKMS_INVALID_STATE;
    } else {
        for (size_t i = 0; i < kr->n; i++) {
            if (kr->keys[i].no == no) {
                memcpy(key, kr->keys[i].key, KEY_BYTES);
                rc = 0;
                break;
            }
        }
    }
    pthread_mutex_unlock(&kr->mu);
    return rc;
}

int sl_ds_keyring_find(sl_ds_keyring *kr, const char *name, uint32_t *key_no)
{
    int rc;
    pthread_mutex_lock(&kr->mu);
    const ring_key *k = kr->broken ? NULL : by_name(kr, name);
    rc = kr->broken ? SL_EKMS_INVALID_STATE : k ? 0 : SL_EKMS_NOTFOUND;
    if (k)
        *key_no = k->no;
    pthread_mutex_unlock(&kr->mu);
    return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return SL_EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes keys[0..n) durably as the ring file (mutex held). */
static int write_ring(const sl_ds_keyring *kr, const ring_key *keys, size_t n)
{
    size_t len = 12 + 32;
    for (size_t i = 0; i < n; i++)
        len += 6 + strlen(keys[i].name) + KEY_BYTES;
    uint8_t *p = malloc(len);
    char path[4096], tmp[4100];
    int fd = -1, dfd = -1, rc = SL_ENOMEM;

    if (!p)
        return SL_ENOMEM;
    memcpy(p, MAGIC, 8);
    sl_put_be(p + 8, n, 4);
    size_t at = 12;
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(keys[i].name);
        sl_put_be(p + at, keys[i].no, 4);
        sl_put_be(p + at + 4, nl, 2);
        memcpy(p + at + 6, keys[i].name, nl);
        memcpy(p + at + 6 + nl, keys[i].key, KEY_BYTES);
        at += 6 + nl + KEY_BYTES;
    }
    if ((rc = sha256(p, at, p + at)))
        goto out;
    rc = SL_EIO;
    snprintf(path, sizeof(path), "%s/%s", kr->dir, SL_DS_KEYRING_FILE);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0 || write_all(fd, p, len) != 0 || fsync(fd) != 0)
        goto out;
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto out;
    dfd = open(kr->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0)
        goto out;
    rc = 0;
out:
    if (rc == SL_EIO)
        sl_error("kinesis", "cannot write the encryption key ring in %s: %s", kr->dir,
                 strerror(errno));
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    if (dfd >= 0)
        close(dfd);
    OPENSSL_cleanse(p, len);
    free(p);
    return rc;
}

int sl_ds_keyring_ensure(sl_ds_keyring *kr, const char *name, uint32_t *key_no)
{
    ring_key *grown = NULL;
    int rc;

    if (!*name || strlen(name) >= SL_DS_KEY_NAME_MAX)
        return SL_EINVAL;
    pthread_mutex_lock(&kr->mu);
    const ring_key *k = kr->broken ? NULL : by_name(kr, name);
    if (kr->broken) {
        rc = SL_EKMS_INVALID_STATE;
        goto out;
    }
    if (k) {
        *key_no = k->no;
        rc = 0;
        goto out;
    }
    rc = SL_EIO;
    if (!kr->dir)
        goto out;
    rc = SL_ENOMEM;
    if (!(grown = calloc(kr->n + 1, sizeof(*grown))))
        goto out;
    if (kr->n)
        memcpy(grown, kr->keys, kr->n * sizeof(*grown));
    ring_key *nk = &grown[kr->n];
    nk->no = kr->n ? kr->keys[kr->n - 1].no + 1 : 1;
    if (!(nk->name = strdup(name)))
        goto out;
    if (RAND_bytes(nk->key, KEY_BYTES) != 1) {
        rc = SL_EINTERNAL;
        goto out;
    }
    if ((rc = write_ring(kr, grown, kr->n + 1)))
        goto out;
    free(kr->keys);
    kr->keys = grown;
    kr->n++;
    *key_no = nk->no;
    grown = NULL;
out:
    if (grown) {
        free(grown[kr->n].name);
        OPENSSL_cleanse(grown[kr->n].key, KEY_BYTES);
        free(grown);
    }
    pthread_mutex_unlock(&kr->mu);
    return rc;
}

/* ---- sealing ------------------------------------------------------------------------------ */

int sl_ds_crypt_is_sealed(const void *payload, size_t len)
{
    return len >= SL_DS_CRYPT_OVERHEAD && ((const uint8_t *)payload)[0] == SL_DS_CRYPT_MARKER;
}

static int add_aad(EVP_CIPHER_CTX *c, const char *log_name, int64_t ts_ms, const uint8_t *hdr)
{
    uint8_t ts[8];
    int n;
    sl_put_be(ts, (uint64_t)ts_ms, 8);
    return EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)AAD_LABEL, sizeof(AAD_LABEL)) == 1 &&
                   EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)log_name,
                                    (int)strlen(log_name) + 1) == 1 &&
                   EVP_CipherUpdate(c, NULL, &n, ts, 8) == 1 &&
                   EVP_CipherUpdate(c, NULL, &n, hdr, 5) == 1
               ? 0
               : SL_EINTERNAL;
}

/* A fresh random nonce. Returns 0 or SL_ENOMEM / SL_EINTERNAL. */
static int next_nonce(uint8_t out[NONCE])
{
    tl_cache *t = tl_get();
    if (!t)
        return SL_ENOMEM;
    if (t->pool_used == sizeof(t->pool)) {
        if (RAND_bytes(t->pool, sizeof(t->pool)) != 1)
            return SL_EINTERNAL;
        t->pool_used = 0;
    }
    memcpy(out, t->pool + t->pool_used, NONCE);
    t->pool_used += NONCE;
    return 0;
}

/* This thread's context for direction dir (0 seal, 1 open) keyed with key no of kr and set to
 * nonce. Returns 0 or SL_EKMS_NOTFOUND / SL_EKMS_INVALID_STATE / SL_ENOMEM / SL_EINTERNAL. */
static int ctx_for(sl_ds_keyring *kr, uint32_t no, int dir, const uint8_t *nonce,
                   EVP_CIPHER_CTX **out)
{
    uint8_t key[KEY_BYTES];
    tl_cache *t = tl_get();
    int rc;
    if (!t)
        return SL_ENOMEM;
    if (!kr)
        return SL_EKMS_INVALID_STATE;
    EVP_CIPHER_CTX *c = t->c[dir];
    if (t->ring[dir] == kr->id && t->no[dir] == no) {
        rc = EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, dir ? 0 : 1) == 1 ? 0 : SL_EINTERNAL;
    } else {
        t->ring[dir] = 0;
        if ((rc = key_of(kr, no, key)))
            return rc;
        rc = EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce, dir ? 0 : 1) == 1
                 ? 0
                 : SL_EINTERNAL;
        OPENSSL_cleanse(key, sizeof(key));
        if (rc == 0) {
            t->ring[dir] = kr->id;
            t->no[dir] = no;
        }
    }
    *out = c;
    return rc;
}

int sl_ds_crypt_seal(sl_ds_keyring *kr, uint32_t key_no, const char *log_name, int64_t ts_ms,
                     const struct iovec *iov, int iovcnt, uint8_t **out, size_t *out_len)
{
    EVP_CIPHER_CTX *c = NULL;
    uint8_t *p = NULL;
    size_t pt = 0;
    int rc, n;

    for (int i = 0; i < iovcnt; i++)
        pt += iov[i].iov_len;
    if (!(p = malloc(SL_DS_CRYPT_OVERHEAD + pt)))
        return SL_ENOMEM;
    p[0] = SL_DS_CRYPT_MARKER;
    sl_put_be(p + 1, key_no, 4);
    if ((rc = next_nonce(p + 5)) != 0 || (rc = ctx_for(kr, key_no, 0, p + 5, &c)) != 0)
        goto out;
    rc = SL_EINTERNAL;
    if (add_aad(c, log_name, ts_ms, p) != 0)
        goto out;
    size_t at = SL_DS_CRYPT_HEADER;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len == 0)
            continue;
        if (EVP_EncryptUpdate(c, p + at, &n, iov[i].iov_base, (int)iov[i].iov_len) != 1)
            goto out;
        at += (size_t)n;
    }
    if (EVP_EncryptFinal_ex(c, p + at, &n) != 1)
        goto out;
    at += (size_t)n;
    if (at != SL_DS_CRYPT_HEADER + pt ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, SL_DS_CRYPT_TAG, p + at) != 1)
        goto out;
    *out = p;
    *out_len = at + SL_DS_CRYPT_TAG;
    p = NULL;
    rc = 0;
out:
    free(p);
    return rc;
}

int sl_ds_crypt_open(sl_ds_keyring *kr, const char *log_name, int64_t ts_ms, uint8_t *p,
                     size_t *len)
{
    EVP_CIPHER_CTX *c = NULL;
    int rc, n;

    if (!sl_ds_crypt_is_sealed(p, *len))
        return SL_ECORRUPT;
    size_t ct = *len - SL_DS_CRYPT_OVERHEAD;
    if ((rc = ctx_for(kr, (uint32_t)sl_get_be(p + 1, 4), 1, p + 5, &c)))
        return rc;
    rc = SL_EINTERNAL;
    if (add_aad(c, log_name, ts_ms, p) != 0)
        goto out;
    /* In place (GCM allows out == in), then moved to the front. */
    uint8_t *body = p + SL_DS_CRYPT_HEADER;
    if (ct && EVP_DecryptUpdate(c, body, &n, body, (int)ct) != 1)
        goto out;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SL_DS_CRYPT_TAG,
                            p + SL_DS_CRYPT_HEADER + ct) != 1)
        goto out;
    if (EVP_DecryptFinal_ex(c, body + ct, &n) != 1) {
        OPENSSL_cleanse(body, ct); /* unauthenticated plaintext */
        rc = SL_ECORRUPT;
        goto out;
    }
    memmove(p, body, ct);
    *len = ct;
    rc = 0;
out:
    return rc;
}

size_t sl_ds_crypt_open_items(sl_ds_keyring *kr, sl_log *log, sl_log_item *items, size_t n)
{
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = (uint8_t *)items[i].payload; /* inside the caller's read buffer */
        size_t len = items[i].e.len;
        if (!sl_ds_crypt_is_sealed(p, len))
            continue;
        int rc = sl_ds_crypt_open(kr, sl_log_name(log), items[i].e.ts_ns / 1000000, p, &len);
        if (rc) {
            sl_error("kinesis", "cannot open the encrypted record at %llu of %s: %s",
                     (unsigned long long)items[i].e.offset, sl_log_name(log), sl_err_str(rc));
            len = 0;
            failed++;
        }
        items[i].e.len = (uint32_t)len;
    }
    return failed;
}

/* ---- the service's ring ------------------------------------------------------------------- */

sl_ds_keyring *sl_ds_crypt_ring(void)
{
    return the_ring;
}

int sl_ds_crypt_init(sl_store *store)
{
    sqlite3 *db = NULL;
    char dir[4096];
    int rc;

    if (the_ring)
        return 0;
    /* The store does not publish its folder; its catalog's file name does. */
    if ((rc = sl_catalog_open_reader(store, &db)))
        return rc;
    const char *f = sqlite3_db_filename(db, "main");
    const char *slash = f ? strrchr(f, '/') : NULL;
    if (!slash || (size_t)(slash - f) >= sizeof(dir)) {
        sqlite3_close(db);
        return SL_EIO;
    }
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - f), f);
    sqlite3_close(db);
    return sl_ds_keyring_open(dir, &the_ring);
}

void sl_ds_crypt_shutdown(void)
{
    sl_ds_keyring_free(the_ring);
    the_ring = NULL;
}

void sl_ds_crypt_err(int code, const char *key_id, sl_ds_err *e)
{
    const char *k = key_id ? key_id : "(unknown)";
    if (code == SL_EKMS_NOTFOUND)
        sl_ds_err_set(e, code, "KMSNotFoundException",
                      "The KMS key %.300s is not in this server's key ring.", k);
    else if (code == SL_EKMS_INVALID_STATE)
        sl_ds_err_set(e, code, "KMSInvalidStateException",
                      "The key ring holding KMS key %.300s is damaged or unreadable.", k);
    else if (code == SL_EKMS_ACCESS_DENIED)
        sl_ds_err_set(e, code, "KMSAccessDeniedException",
                      "User is not authorized to use the KMS key %.300s.", k);
    else
        sl_ds_err_set(e, code, "InternalFailure", "Internal Service Failure");
}
