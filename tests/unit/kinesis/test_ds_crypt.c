/* Unit tests for api/kinesis/ds_crypt.c: sealed records round-trip (also empty and 1 MiB ones),
 * the sealed form holds no plaintext, and opening fails cleanly with another log name (stream or
 * shard), another arrival time, another key, a flipped byte anywhere or a truncation. The key
 * ring file: created with mode 0600 on the first key, reloaded with the same keys, never
 * overwritten once damaged (every operation then says KMSInvalidStateException), and a record
 * whose key vanished with the file says KMSNotFoundException. KeyId forms map to canonical names
 * with the documented errors. A ring and a sealed entry made by Python's cryptography package
 * load and open. sl_ds_crypt_open_items opens entries read through a real store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../../api/kinesis/ds_crypt.h"
#include "sluice/buf.h"
#include "sluice/err.h"
#include "sluice/storage.h"

static const char LOG_A[] = "kinesis/us-east-1/1764000000123.orders/0";
static const char LOG_B[] = "kinesis/us-east-1/1764000000123.orders/1";

static char dir[256];
static char path[300];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/sl-test-ds-crypt-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/%s", dir, SL_DS_KEYRING_FILE);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char tmp[320];
    unlink(path);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    unlink(tmp);
    rmdir(dir);
    return 0;
}

static sl_ds_keyring *fresh_ring(void)
{
    sl_ds_keyring *kr = NULL;
    unlink(path);
    assert_int_equal(sl_ds_keyring_open(dir, &kr), 0);
    assert_non_null(kr);
    return kr;
}

/* Seals "u16 len | pk | data" like PutRecord does. */
static void seal(sl_ds_keyring *kr, uint32_t no, const char *log, int64_t ts, const char *pk,
                 const uint8_t *data, size_t len, uint8_t **out, size_t *out_len)
{
    size_t pl = strlen(pk);
    uint8_t hdr[2] = {(uint8_t)(pl >> 8), (uint8_t)pl};
    struct iovec iov[3] = {{hdr, 2}, {(void *)pk, pl}, {(void *)data, len}};
    assert_int_equal(sl_ds_crypt_seal(kr, no, log, ts, iov, 3, out, out_len), 0);
    assert_int_equal(*out_len, SL_DS_CRYPT_OVERHEAD + 2 + pl + len);
    assert_true(sl_ds_crypt_is_sealed(*out, *out_len));
}

static void test_round_trip(void **state)
{
    (void)state;
    sl_ds_keyring *kr = fresh_ring();
    uint32_t no = 0;
    assert_int_equal(sl_ds_keyring_ensure(kr, "alias/aws/kinesis", &no), 0);
    assert_int_equal(no, 1);
    size_t sizes[] = {0, 1, 15, 16, 17, 1000, 1 << 20};
    for (size_t t = 0; t < sizeof(sizes) / sizeof(sizes[0]); t++) {
        uint8_t *data = malloc(sizes[t] + 1), *sealed = NULL;
        size_t len = 0;
        for (size_t i = 0; i < sizes[t]; i++)
            data[i] = (uint8_t)('a' + i % 26);
        seal(kr, no, LOG_A, 1764000000999, "pk-1", data, sizes[t], &sealed, &len);
        if (sizes[t] >= 16) /* the plaintext run must not survive sealing */
            assert_null(memmem(sealed, len, data, 16));
        assert_int_equal(sl_ds_crypt_open(kr, LOG_A, 1764000000999, sealed, &len), 0);
        assert_int_equal(len, 2 + 4 + sizes[t]);
        assert_int_equal(sealed[0], 0);
        assert_int_equal(sealed[1], 4);
        assert_memory_equal(sealed + 2, "pk-1", 4);
        if (sizes[t])
            assert_memory_equal(sealed + 6, data, sizes[t]);
        free(sealed);
        free(data);
    }
    /* a plaintext entry is not mistaken for a sealed one */
    uint8_t plain[40] = {0, 4, 'p', 'k'};
    assert_false(sl_ds_crypt_is_sealed(plain, sizeof(plain)));
    sl_ds_keyring_free(kr);
}

static void test_nonces_differ(void **state)
{
    (void)state;
    sl_ds_keyring *kr = fresh_ring();
    uint32_t no;
    uint8_t *a, *b;
    size_t la, lb;
    assert_int_equal(sl_ds_keyring_ensure(kr, "key/1234abcd-12ab-34cd-56ef-1234567890ab", &no), 0);
    seal(kr, no, LOG_A, 5, "k", (const uint8_t *)"same", 4, &a, &la);
    seal(kr, no, LOG_A, 5, "k", (const uint8_t *)"same", 4, &b, &lb);
    assert_memory_not_equal(a + 5, b + 5, 12);
    assert_memory_not_equal(a + 17, b + 17, la - 17);
    free(a);
    free(b);
    sl_ds_keyring_free(kr);
}

static void test_wrong_aad_or_key_fails(void **state)
{
    (void)state;
    sl_ds_keyring *kr = fresh_ring();
    uint32_t k1, k2;
    uint8_t *s, *c;
    size_t len, l2;
    const uint8_t data[] = "secret payload 0123456789";
    assert_int_equal(sl_ds_keyring_ensure(kr, "alias/one", &k1), 0);
    assert_int_equal(sl_ds_keyring_ensure(kr, "alias/two", &k2), 0);
    assert_int_not_equal(k1, k2);
    seal(kr, k1, LOG_A, 1000, "p", data, sizeof(data), &s, &len);
    c = malloc(len);

    /* another shard's log */
    memcpy(c, s, len), l2 = len;
    assert_int_equal(sl_ds_crypt_open(kr, LOG_B, 1000, c, &l2), SL_ECORRUPT);
    /* another arrival time */
    memcpy(c, s, len), l2 = len;
    assert_int_equal(sl_ds_crypt_open(kr, LOG_A, 1001, c, &l2), SL_ECORRUPT);
    /* the header says key 2: wrong key (and the header is authenticated) */
    memcpy(c, s, len), l2 = len;
    c[4] = (uint8_t)k2;
    assert_int_equal(sl_ds_crypt_open(kr, LOG_A, 1000, c, &l2), SL_ECORRUPT);
    /* a key number the ring does not have */
    memcpy(c, s, len), l2 = len;
    c[4] = 99;
    assert_int_equal(sl_ds_crypt_open(kr, LOG_A, 1000, c, &l2), SL_EKMS_NOTFOUND);
    /* every single flipped byte after the marker */
    for (size_t i = 1; i < len; i++) {
        memcpy(c, s, len), l2 = len;
        c[i] ^= 0x01;
        int rc = sl_ds_crypt_open(kr, LOG_A, 1000, c, &l2);
        if (rc != SL_ECORRUPT && rc != SL_EKMS_NOTFOUND)
            fail_msg("byte %zu flipped: rc %d", i, rc);
    }
    /* truncated */
    memcpy(c, s, len), l2 = len - 1;
    assert_int_equal(sl_ds_crypt_open(kr, LOG_A, 1000, c, &l2), SL_ECORRUPT);
    l2 = SL_DS_CRYPT_OVERHEAD - 1;
    assert_int_equal(sl_ds_crypt_open(kr, LOG_A, 1000, c, &l2), SL_ECORRUPT);
    /* untouched still opens */
    memcpy(c, s, len), l2 = len;
    assert_int_equal(sl_ds_crypt_open(kr, LOG_A, 1000, c, &l2), 0);
    free(c);
    free(s);
    sl_ds_keyring_free(kr);
}

static void test_ring_file(void **state)
{
    (void)state;
    sl_ds_keyring *kr = fresh_ring();
    struct stat st;
    uint32_t no, again;
    uint8_t *s;
    size_t len;

    assert_int_equal(sl_ds_keyring_find(kr, "alias/aws/kinesis", &no), SL_EKMS_NOTFOUND);
    assert_int_equal(stat(path, &st), -1); /* created on first use only */
    assert_int_equal(sl_ds_keyring_ensure(kr, "alias/aws/kinesis", &no), 0);
    assert_int_equal(sl_ds_keyring_ensure(kr, "alias/aws/kinesis", &again), 0);
    assert_int_equal(no, again);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    seal(kr, no, LOG_A, 7, "pk", (const uint8_t *)"hello", 5, &s, &len);
    sl_ds_keyring_free(kr);

    /* reloaded: same number, same key */
    assert_int_equal(sl_ds_keyring_open(dir, &kr), 0);
    assert_false(sl_ds_keyring_broken(kr));
    assert_int_equal(sl_ds_keyring_find(kr, "alias/aws/kinesis", &again), 0);
    assert_int_equal(again, no);
    size_t l2 = len;
    uint8_t *c = malloc(len);
    memcpy(c, s, len);
    assert_int_equal(sl_ds_crypt_open(kr, LOG_A, 7, c, &l2), 0);
    assert_memory_equal(c + 4, "hello", 5);
    sl_ds_keyring_free(kr);

    /* damaged: one byte of the file flipped */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 20, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, 20, SEEK_SET);
    fputc(ch ^ 0x40, f);
    fclose(f);
    assert_int_equal(stat(path, &st), 0);
    off_t size = st.st_size;
    assert_int_equal(sl_ds_keyring_open(dir, &kr), 0);
    assert_true(sl_ds_keyring_broken(kr));
    memcpy(c, s, len), l2 = len;
    assert_int_equal(sl_ds_crypt_open(kr, LOG_A, 7, c, &l2), SL_EKMS_INVALID_STATE);
    assert_int_equal(sl_ds_keyring_ensure(kr, "alias/new", &again), SL_EKMS_INVALID_STATE);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, size); /* not overwritten */
    sl_ds_keyring_free(kr);

    /* lost: the ring is empty, the record's key is not found */
    unlink(path);
    assert_int_equal(sl_ds_keyring_open(dir, &kr), 0);
    memcpy(c, s, len), l2 = len;
    assert_int_equal(sl_ds_crypt_open(kr, LOG_A, 7, c, &l2), SL_EKMS_NOTFOUND);
    sl_ds_keyring_free(kr);
    free(c);
    free(s);
}

static void test_key_names(void **state)
{
    (void)state;
    char out[SL_DS_KEY_NAME_MAX];
    sl_ds_err e;
    const char *acct = "000000000000", *region = "us-east-1";
    assert_int_equal(sl_ds_crypt_key_name("alias/aws/kinesis", region, acct, out, &e), 0);
    assert_string_equal(out, "alias/aws/kinesis");
    assert_int_equal(sl_ds_crypt_key_name("arn:aws:kms:us-east-1:000000000000:alias/aws/kinesis",
                                          region, acct, out, &e),
                     0);
    assert_string_equal(out, "alias/aws/kinesis");
    assert_int_equal(
        sl_ds_crypt_key_name("1234ABCD-12ab-34cd-56ef-1234567890ab", region, acct, out, &e), 0);
    assert_string_equal(out, "key/1234abcd-12ab-34cd-56ef-1234567890ab");
    assert_int_equal(sl_ds_crypt_key_name("arn:aws:kms:us-east-1:000000000000:key/"
                                          "1234abcd-12ab-34cd-56ef-1234567890ab",
                                          region, acct, out, &e),
                     0);
    assert_string_equal(out, "key/1234abcd-12ab-34cd-56ef-1234567890ab");
    assert_int_equal(
        sl_ds_crypt_key_name("mrk-1234abcd12ab34cd56ef1234567890ab", region, acct, out, &e), 0);
    assert_int_equal(
        sl_ds_crypt_key_name("arn:aws:kms:us-east-1:111111111111:alias/x", region, acct, out, &e),
        SL_EKMS_ACCESS_DENIED);
    assert_string_equal(e.type, "KMSAccessDeniedException");
    assert_int_equal(
        sl_ds_crypt_key_name("arn:aws:kms:eu-west-1:000000000000:alias/x", region, acct, out, &e),
        SL_EKMS_NOTFOUND);
    assert_string_equal(e.type, "KMSNotFoundException");
    const char *bad[] = {"",
                         "nope",
                         "alias/",
                         "alias/a b",
                         "1234abcd-12ab-34cd-56ef-1234567890a",
                         "arn:aws:kms:us-east-1:000000000000:key/zz",
                         "arn:aws:s3:::bucket"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (sl_ds_crypt_key_name(bad[i], region, acct, out, &e) != SL_EINVAL)
            fail_msg("KeyId '%s' accepted", bad[i]);
        assert_string_equal(e.type, "InvalidArgumentException");
    }
}

static int noop_sql(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    (void)db;
    (void)arg;
    (void)e;
    return 0;
}

/* Through a real store: a sealed and a plaintext entry read back with sl_log_read_many, opened in
 * place by sl_ds_crypt_open_items; a record of another log fails and is emptied. */
static void test_open_items(void **state)
{
    (void)state;
    char sdir[300];
    snprintf(sdir, sizeof(sdir), "%s/store", dir);
    sl_ds_keyring *kr = fresh_ring();
    sl_store *store = NULL;
    sl_log *log = NULL;
    uint32_t no;
    uint8_t *sealed, *foreign;
    size_t slen, flen;
    assert_int_equal(sl_ds_keyring_ensure(kr, "alias/aws/kinesis", &no), 0);
    assert_int_equal(sl_store_open(sdir, &store), 0);
    assert_int_equal(sl_store_log_open(store, "kinesis/us-east-1/1.s/0", &log), 0);
    seal(kr, no, sl_log_name(log), 1000, "pk", (const uint8_t *)"sealed-data", 11, &sealed, &slen);
    seal(kr, no, LOG_B, 1000, "pk", (const uint8_t *)"other-log", 9, &foreign, &flen);
    uint8_t plain[] = {0, 2, 'p', 'k', 'c', 'l', 'e', 'a', 'r'};
    struct iovec iov[3] = {{sealed, slen}, {plain, sizeof(plain)}, {foreign, flen}};
    for (int i = 0; i < 3; i++) {
        sl_append a = {.log = log, .iov = &iov[i], .iovcnt = 1, .ts_ns = 1000 * 1000000LL};
        assert_int_equal(sl_writer_submit_wait(sl_store_writer(store), &a), 0);
    }
    assert_int_equal(sl_writer_run_sync(sl_store_writer(store), noop_sql, NULL), 0);
    sl_log_item items[8];
    sl_buf buf = SL_BUF_INIT;
    size_t n = 0;
    assert_int_equal(sl_log_read_many(log, 0, 1 << 20, items, 8, &buf, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(sl_ds_crypt_open_items(kr, log, items, n), 1);
    assert_int_equal(items[0].e.len, 2 + 2 + 11);
    assert_memory_equal(items[0].payload + 4, "sealed-data", 11);
    assert_int_equal(items[1].e.len, sizeof(plain));
    assert_memory_equal(items[1].payload, plain, sizeof(plain));
    assert_int_equal(items[2].e.len, 0);
    sl_buf_cleanup(&buf);
    sl_store_close(store);
    free(sealed);
    free(foreign);
    sl_ds_keyring_free(kr);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sdir);
    assert_int_equal(system(cmd), 0);
}

static uint8_t *slurp(const char *name, size_t *len)
{
    char file[512];
    snprintf(file, sizeof(file), "%s/tests/fuzz/corpus/ds_crypt/%s", SL_SOURCE_DIR, name);
    FILE *f = fopen(file, "rb");
    assert_non_null(f);
    uint8_t *p = malloc(1 << 16);
    *len = fread(p, 1, 1 << 16, f);
    fclose(f);
    return p;
}

/* Interoperability: a ring file and a sealed entry written by an independent implementation
 * (Python's hashlib and cryptography AESGCM, see the fuzz corpus README) load and open here. */
static void test_independent_vectors(void **state)
{
    (void)state;
    size_t rl, sl;
    uint8_t *ring = slurp("ring_one", &rl), *sealed = slurp("sealed_ok", &sl);
    sl_ds_keyring *kr = NULL;
    uint32_t no;
    assert_int_equal(sl_ds_keyring_from_bytes(ring + 1, rl - 1, &kr), 0);
    assert_false(sl_ds_keyring_broken(kr));
    assert_int_equal(sl_ds_keyring_find(kr, "alias/aws/kinesis", &no), 0);
    assert_int_equal(no, 1);
    size_t len = sl - 1;
    assert_int_equal(sl_ds_crypt_open(kr, "kinesis/us-east-1/1764000000000.fuzz/0", 1764000000000,
                                      sealed + 1, &len),
                     0);
    assert_int_equal(len, 2 + 3 + 18);
    assert_memory_equal(sealed + 1, "\0\3pk1hello sealed world", len);
    assert_int_equal(sl_ds_keyring_ensure(kr, "alias/new", &no), SL_EIO); /* no folder */
    sl_ds_keyring_free(kr);
    free(ring);
    free(sealed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_nonces_differ),
        cmocka_unit_test(test_wrong_aad_or_key_fails),
        cmocka_unit_test(test_ring_file),
        cmocka_unit_test(test_key_names),
        cmocka_unit_test(test_open_items),
        cmocka_unit_test(test_independent_vectors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
