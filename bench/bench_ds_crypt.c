/* Cost of Kinesis encryption at rest per record, without the network: seals and opens N records
 * of each size with api/kinesis/ds_crypt.c (AES-256-GCM through OpenSSL EVP, fresh RAND_bytes
 * nonce per record, the per-thread cached key schedule) and prints ns per record for each. Run it
 * under `valgrind --tool=callgrind` for instruction counts, which unlike the wall-clock figures
 * do not depend on what else the machine is doing.
 *
 * usage: bench_ds_crypt [N [SIZE]]   (default 200000 records of each of 100, 1024, 25600 B;
 *                                   25600 B gets N/10) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../api/kinesis/ds_crypt.h"
#include "sluice/time.h"

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    char dir[] = "/tmp/bench-ds-crypt-XXXXXX";
    char path[64];
    sl_ds_keyring *kr = NULL;
    uint32_t no;
    size_t sizes[] = {100, 1024, 25600};
    size_t n_sizes = 3;
    const char *log = "kinesis/us-east-1/1764000000000.bench/0";

    if (argc > 2) {
        sizes[0] = (size_t)atol(argv[2]);
        n_sizes = 1;
    }
    if (!mkdtemp(dir) || sl_ds_keyring_open(dir, &kr) != 0 ||
        sl_ds_keyring_ensure(kr, "alias/aws/kinesis", &no) != 0) {
        fprintf(stderr, "bench_ds_crypt: cannot set up a key ring in %s\n", dir);
        return 1;
    }
    printf("%8s %14s %14s %16s\n", "bytes", "seal ns/rec", "open ns/rec", "seal+open MB/s");
    for (size_t s = 0; s < n_sizes; s++) {
        uint8_t *data = malloc(sizes[s]);
        uint8_t hdr[2] = {0, 8};
        memset(data, 'x', sizes[s]);
        struct iovec iov[3] = {{hdr, 2}, {"pk-00001", 8}, {data, sizes[s]}};
        long reps = sizes[s] > 4096 ? n / 10 : n;
        int64_t t0 = sl_time_mono_ns(), seal_ns = 0, open_ns = 0;
        for (long i = 0; i < reps; i++) {
            uint8_t *out;
            size_t len;
            int64_t a = sl_time_mono_ns();
            if (sl_ds_crypt_seal(kr, no, log, 1764000000000 + i, iov, 3, &out, &len) != 0)
                return 1;
            int64_t b = sl_time_mono_ns();
            if (sl_ds_crypt_open(kr, log, 1764000000000 + i, out, &len) != 0 ||
                len != 10 + sizes[s])
                return 1;
            open_ns += sl_time_mono_ns() - b;
            seal_ns += b - a;
            free(out);
        }
        double total_s = (double)(sl_time_mono_ns() - t0) / 1e9;
        printf("%8zu %14.0f %14.0f %16.1f\n", sizes[s], (double)seal_ns / (double)reps,
               (double)open_ns / (double)reps, (double)reps * (double)sizes[s] / total_s / 1e6);
        free(data);
    }
    sl_ds_keyring_free(kr);
    snprintf(path, sizeof(path), "%s/%s", dir, SL_DS_KEYRING_FILE);
    unlink(path);
    rmdir(dir);
    return 0;
}
