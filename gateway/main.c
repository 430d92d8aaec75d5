/* sluiced: command line, start-up and shutdown.
 *
 * Start-up order: parse flags -> data folder -> credentials (load, or generate on first start)
 * -> storage (catalog migrations, log recovery, writer thread) -> services -> listener. The
 * "listening on http://HOST:PORT" line is printed (and flushed) only once the port accepts
 * connections; tests and scripts wait for it. SIGTERM/SIGINT stop accepting, let in-flight
 * exchanges and writes finish, and exit 0. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "server.h"
#include "sluice/api.h"
#include "sluice/err.h"
#include "sluice/log.h"
#include "sluice/storage.h"

#define DEFAULT_HOST    "127.0.0.1"
#define DEFAULT_PORT    4567
#define DEFAULT_REGION  "us-east-1"
#define DEFAULT_ACCOUNT "000000000000"

static sl_server *the_server;

static void on_signal(int sig)
{
    (void)sig;
    if (the_server)
        sl_server_stop(the_server);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sluiced [options]\n"
            "  --listen HOST:PORT     address to serve on (default %s:%d; port 0 = any free)\n"
            "  --data-dir DIR         data folder (default $SLUICE_DATA_DIR, else\n"
            "                         $HOME/.local/share/sluice, else ./sluice-data)\n"
            "  --credentials FILE     AWS shared-credentials file with the accepted keys\n"
            "                         (default DIR/credentials, generated on first start)\n"
            "  --auth sigv4|none      require SigV4 signatures (default) or accept anything\n"
            "  --region REGION        default region (default %s)\n"
            "  --account-id ID        12-digit account id used in ARNs (default %s)\n"
            "  --tls-cert FILE        PEM certificate: serve HTTPS (HTTP/1.1 and h2 by ALPN)\n"
            "  --tls-key FILE         PEM private key for --tls-cert\n"
            "  --log-level LEVEL      debug, info, warn, error (default info)\n"
            "  --version, --help\n",
            DEFAULT_HOST, DEFAULT_PORT, DEFAULT_REGION, DEFAULT_ACCOUNT);
}

static int parse_listen(const char *s, char *host, size_t host_len, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return -1;
    size_t hl = (size_t)(colon - s);
    if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') { /* [::1]:port */
        s++;
        hl -= 2;
    }
    if (hl >= host_len)
        return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
        return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static void default_data_dir(char *out, size_t n)
{
    const char *env = getenv("SLUICE_DATA_DIR");
    const char *home = getenv("HOME");
    if (env && *env)
        snprintf(out, n, "%s", env);
    else if (home && *home)
        snprintf(out, n, "%s/.local/share/sluice", home);
    else
        snprintf(out, n, "sluice-data");
}

/* Request bodies, reply buffers and record batches are tens to hundreds of KiB each, allocated
 * and freed at every request. With glibc's defaults those sizes cross the mmap threshold or
 * trim the heap top back to the kernel between requests, and every next request page-faults the
 * memory in again (7 % of the loop's time under PutRecords load). Keeping up to 64 MiB of free
 * heap and serving blocks below 16 MiB from the heap: PutRecords 3.58 -> 3.12 CPU us per record
 * (bench/bench_kinesis.sh). GLIBC_TUNABLES still override these. */
static void tune_malloc(void)
{
    if (!getenv("GLIBC_TUNABLES")) {
        mallopt(M_MMAP_THRESHOLD, 16 << 20);
        mallopt(M_TRIM_THRESHOLD, 64 << 20);
    }
}

int main(int argc, char **argv)
{
    enum {
        O_LISTEN = 1,
        O_DATA,
        O_CREDS,
        O_AUTH,
        O_REGION,
        O_ACCOUNT,
        O_CERT,
        O_KEY,
        O_LOG,
        O_VERSION,
        O_HELP
    };
    static const struct option opts[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"data-dir", required_argument, NULL, O_DATA},
        {"credentials", required_argument, NULL, O_CREDS},
        {"auth", required_argument, NULL, O_AUTH},
        {"region", required_argument, NULL, O_REGION},
        {"account-id", required_argument, NULL, O_ACCOUNT},
        {"tls-cert", required_argument, NULL, O_CERT},
        {"tls-key", required_argument, NULL, O_KEY},
        {"log-level", required_argument, NULL, O_LOG},
        {"version", no_argument, NULL, O_VERSION},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    char host[256] = DEFAULT_HOST;
    int port = DEFAULT_PORT;
    char data_dir[PATH_MAX];
    const char *creds = NULL, *region = DEFAULT_REGION, *account = DEFAULT_ACCOUNT;
    const char *cert = NULL, *key = NULL;
    int auth_on = 1, c, rc = 1;
    sl_auth *auth = NULL;
    sl_store *store = NULL;
    int api_up = 0;

    tune_malloc();
    default_data_dir(data_dir, sizeof(data_dir));
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_LISTEN:
            if (parse_listen(optarg, host, sizeof(host), &port) != 0) {
                fprintf(stderr, "sluiced: --listen wants HOST:PORT, got '%s'\n", optarg);
                return 2;
            }
            break;
        case O_DATA:
            snprintf(data_dir, sizeof(data_dir), "%s", optarg);
            break;
        case O_CREDS:
            creds = optarg;
            break;
        case O_AUTH:
            if (strcmp(optarg, "none") == 0)
                auth_on = 0;
            else if (strcmp(optarg, "sigv4") == 0)
                auth_on = 1;
            else {
                fprintf(stderr, "sluiced: --auth is sigv4 or none\n");
                return 2;
            }
            break;
        case O_REGION:
            region = optarg;
            break;
        case O_ACCOUNT:
            if (strlen(optarg) != 12 || strspn(optarg, "0123456789") != 12) {
                fprintf(stderr, "sluiced: --account-id wants 12 digits\n");
                return 2;
            }
            account = optarg;
            break;
        case O_CERT:
            cert = optarg;
            break;
        case O_KEY:
            key = optarg;
            break;
        case O_LOG: {
            int lvl = sl_log_level_parse(optarg);
            if (lvl < 0) {
                fprintf(stderr, "sluiced: unknown log level '%s'\n", optarg);
                return 2;
            }
            sl_log_set_level((sl_log_level)lvl);
            break;
        }
        case O_VERSION:
            printf("sluiced 0.1.0\n");
            return 0;
        case O_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc || (!cert) != (!key)) {
        usage(stderr);
        return 2;
    }

    if (mkdir_p(data_dir) != 0) {
        sl_error("main", "cannot create data folder %s: %s", data_dir, strerror(errno));
        return 1;
    }

    if (auth_on) {
        char path[PATH_MAX + 16];
        int e = sl_auth_new(&auth);
        if (e == 0 && creds) {
            e = sl_auth_load_file(auth, creds);
            if (e)
                sl_error("main", "cannot load credentials from %s: %s", creds, sl_err_str(e));
        } else if (e == 0) {
            snprintf(path, sizeof(path), "%s/credentials", data_dir);
            if (access(path, F_OK) == 0) {
                e = sl_auth_load_file(auth, path);
                if (e)
                    sl_error("main", "cannot load credentials from %s: %s", path, sl_err_str(e));
            } else {
                e = sl_auth_generate_file(auth, path);
                if (e)
                    sl_error("main", "cannot write credentials to %s: %s", path, sl_err_str(e));
                else
                    fprintf(stderr,
                            "sluiced: first start: generated an access key in %s\n"
                            "  use it with:  export AWS_SHARED_CREDENTIALS_FILE=%s\n"
                            "  or copy its [default] section into ~/.aws/credentials\n",
                            path, path);
            }
        }
        if (e)
            goto out;
        sl_info("main", "SigV4 authentication on, %zu key(s)", sl_auth_key_count(auth));
    } else {
        sl_warn("main", "*** --auth none: EVERY REQUEST IS ACCEPTED WITHOUT A SIGNATURE ***");
        fprintf(stderr,
                "sluiced: WARNING: authentication is OFF (--auth none); anyone who can "
                "reach %s can read and write every stream\n",
                host);
    }

    int e = sl_store_open(data_dir, &store);
    if (e) {
        sl_error("main", "cannot open storage in %s: %s", data_dir, sl_err_str(e));
        goto out;
    }

    sl_server_config scfg = {
        .host = host,
        .port = port,
        .tls_cert = cert,
        .tls_key = key,
        .route = sl_api_route,
        .metrics_extra = sl_api_metrics_render,
        .auth = auth,
        .store = store,
        .region = region,
    };
    e = sl_server_new(&scfg, &the_server);
    if (e) {
        sl_error("main", "cannot listen on %s:%d: %s", host, port, sl_err_str(e));
        goto out;
    }
    char base_url[300];
    if (strchr(host, ':')) /* IPv6 literal */
        snprintf(base_url, sizeof(base_url), "%s://[%s]:%d", cert ? "https" : "http", host,
                 sl_server_port(the_server));
    else
        snprintf(base_url, sizeof(base_url), "%s://%s:%d", cert ? "https" : "http", host,
                 sl_server_port(the_server));
    sl_api_config acfg = {
        .region = region,
        .account_id = account,
        .base_url = base_url,
        .store = store,
    };
    e = sl_api_init(&acfg);
    if (e) {
        sl_error("main", "cannot start services: %s", sl_err_str(e));
        goto out;
    }
    api_up = 1;

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    printf("listening on %s\n", base_url);
    fflush(stdout);
    rc = sl_server_run(the_server) == 0 ? 0 : 1;
    /* Tear-down from here: a second SIGTERM/SIGINT must not reach the server's loop (its
     * handler wakes lws, whose context is about to be destroyed). The drain is bounded. */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    sl_info("main", "stopped");

out:
    /* Services first: they cancel their timers through the server's loop hooks. */
    if (api_up)
        sl_api_shutdown();
    if (the_server) {
        sl_server_free(the_server);
        the_server = NULL;
    }
    if (store)
        sl_store_close(store);
    sl_auth_free(auth);
    return rc;
}
