/* TLS for client connections, done with OpenSSL over memory BIOs.
 *
 * Why not libwebsockets' own TLS: after the handshake lws looks at the ALPN result and, when it
 * is "h2", turns the connection into its own HTTP/2 role (rops_alpn_negotiated_h2), which is
 * exactly the HTTP/2 implementation Sluice avoids (it drops unknown headers). So the socket
 * stays a plain lws raw socket and the bytes are passed through an SSL object here:
 *
 *   socket --RAW_RX--> sl_tls_input: BIO_write(rbio) -> SSL_read -> plaintext to the parser
 *   parser output -> sl_tls_write: SSL_write -> wbio -> sl_tls_take -> lws_write (WRITEABLE)
 *
 * The server offers "h2" and "http/1.1" by ALPN and prefers h2 when the client offers both;
 * without ALPN the connection speaks HTTP/1.1 (or h2 with prior knowledge). Loop thread only. */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "sluice/err.h"
#include "sluice/log.h"

struct sl_tls {
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
    int ready;
    int failed;
};

static const unsigned char alpn_list[] = "\x02h2\x08http/1.1";

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    unsigned char *o = NULL;
    if (SSL_select_next_proto(&o, outlen, alpn_list, sizeof(alpn_list) - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = o;
    return SSL_TLSEXT_ERR_OK;
}

int sl_tls_ctx_new(const char *cert, const char *key, void **out)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return SL_ENOMEM;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        char e[256];
        ERR_error_string_n(ERR_get_error(), e, sizeof(e));
        sl_error("tls", "cannot load %s / %s: %s", cert, key, e);
        SSL_CTX_free(ctx);
        return SL_EINVAL;
    }
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    *out = ctx;
    return 0;
}

void sl_tls_ctx_free(void *ctx)
{
    SSL_CTX_free(ctx);
}

int sl_tls_new(void *ctx, sl_tls **out)
{
    int rc = SL_ENOMEM;
    sl_tls *t = calloc(1, sizeof(*t));
    if (!t)
        goto fail;
    t->ssl = SSL_new(ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        goto fail;
    }
    BIO_set_mem_eof_return(t->rbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_accept_state(t->ssl);
    *out = t;
    return 0;

fail:
    if (t)
        SSL_free(t->ssl);
    free(t);
    return rc;
}

void sl_tls_free(sl_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    free(t);
}

int sl_tls_input(sl_tls *t, const uint8_t *p, size_t n, sl_buf *plain)
{
    if (t->failed)
        return SL_EIO;
    while (n) {
        int w = BIO_write(t->rbio, p, n > INT32_MAX ? INT32_MAX : (int)n);
        if (w <= 0)
            return SL_ENOMEM;
        p += w;
        n -= (size_t)w;
    }
    for (;;) {
        if (!t->ready) {
            int r = SSL_do_handshake(t->ssl);
            if (r != 1) {
                int e = SSL_get_error(t->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                    return 0;
                sl_debug("tls", "handshake failed (%d)", e);
                ERR_clear_error();
                t->failed = 1;
                return SL_EIO;
            }
            t->ready = 1;
        }
        if (sl_buf_reserve(plain, 16384) != 0)
            return SL_ENOMEM;
        int r = SSL_read(t->ssl, plain->data + plain->len, (int)(plain->cap - plain->len - 1));
        if (r > 0) {
            plain->len += (size_t)r;
            plain->data[plain->len] = '\0';
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        ERR_clear_error();
        if (e == SSL_ERROR_ZERO_RETURN)
            return SL_ECLOSED;
        t->failed = 1;
        return SL_EIO;
    }
}

int sl_tls_ready(const sl_tls *t, int *h2)
{
    if (!t->ready)
        return 0;
    const unsigned char *name = NULL;
    unsigned len = 0;
    SSL_get0_alpn_selected(t->ssl, &name, &len);
    *h2 = len == 2 && memcmp(name, "h2", 2) == 0;
    return 1;
}

int sl_tls_write(sl_tls *t, const uint8_t *p, size_t n)
{
    while (n) {
        int w = SSL_write(t->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
        if (w <= 0) {
            ERR_clear_error();
            t->failed = 1;
            return SL_EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

size_t sl_tls_take(sl_tls *t, uint8_t *dst, size_t cap)
{
    int r = BIO_read(t->wbio, dst, cap > INT32_MAX ? INT32_MAX : (int)cap);
    return r > 0 ? (size_t)r : 0;
}

size_t sl_tls_pending_out(const sl_tls *t)
{
    return BIO_ctrl_pending(t->wbio);
}
