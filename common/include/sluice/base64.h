/* Standard base64 (RFC 4648 alphabet, '=' padding) for record data and tokens, shared by the
 * services (Kinesis and Firehose blobs, sealed iterators, Lambda and HTTP delivery bodies).
 *
 * Records' Data travels base64-encoded in JSON; iterators are base64 of sealed bytes. The
 * decoder requires padding and rejects any character outside the alphabet; with `strict` it
 * also rejects non-canonical input (stray bits under the padding), which tokens need so that a
 * token has exactly one spelling. Pure functions, any thread. */
#ifndef SLUICE_BASE64_H
#define SLUICE_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters needed to encode n bytes (without the NUL). */
#define SL_BASE64_LEN(n) (((n) + 2) / 3 * 4)

/* Encodes p[0..n) into out (room for SL_BASE64_LEN(n) + 1); NUL-terminates; returns the length. */
size_t sl_base64_encode(const uint8_t *p, size_t n, char *out);

/* Decodes s[0..len) into out (room for len / 4 * 3 bytes). Returns the byte count, or -1 when s
 * is not valid base64 (length not a multiple of 4, foreign characters, misplaced padding, or --
 * with strict -- non-canonical trailing bits). An empty string decodes to 0 bytes. */
long sl_base64_decode(const char *s, size_t len, uint8_t *out, int strict);

#endif
