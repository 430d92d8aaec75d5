/* Kinesis sequence numbers (layout in ds_seqno.h). The 188-bit value is held in four 64-bit
 * limbs (least significant first), its fields placed at fixed shifts (format) or shifted out
 * from the bottom (parse); decimal conversion
 * divides 32-bit limbs by 10^9 repeatedly (format) or multiplies by 10 and adds (parse). */
#include "ds_seqno.h"

#include <string.h>

#include "sluice/err.h"

#define MASK(bits) (((uint64_t)1 << (bits)) - 1)

typedef struct wide {
    uint64_t w[4]; /* w[0] least significant */
} wide;

/* Returns the low `bits` bits of x and shifts x right by bits (bits <= 64). */
static uint64_t pop(wide *x, int bits)
{
    uint64_t v = bits == 64 ? x->w[0] : x->w[0] & MASK(bits);
    for (int i = 0; i < 4; i++) {
        uint64_t next = i < 3 ? x->w[i + 1] : 0;
        x->w[i] = bits == 64 ? next : (x->w[i] >> bits) | (next << (64 - bits));
    }
    return v;
}

static int is_zero(const wide *x)
{
    return !(x->w[0] | x->w[1] | x->w[2] | x->w[3]);
}

/* "00".."99": two digits per table lookup. */
static const char digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

/* Writes r (< 10^9) as exactly 9 digits ending just before end. */
static void nine_digits(char *end, uint32_t r)
{
    for (int i = 0; i < 4; i++) {
        uint32_t two = r % 100;
        r /= 100;
        end -= 2;
        memcpy(end, digits2 + 2 * two, 2);
    }
    end[-1] = (char)('0' + r);
}

/* Decimal conversion runs on 32-bit limbs: each step divides a 64-bit value by the constant 10^9,
 * which compiles to a multiply, where 128-bit divisions by a variable cost a library call each
 * (28 of them per number, the largest cost of a PutRecords reply). */
size_t sl_ds_seqno_format(const sl_ds_seqno *q, char out[SL_DS_SEQNO_STRLEN])
{
    uint32_t limb[8]; /* limb[0] least significant */
    char tmp[72];     /* 8 groups of 9 digits, filled from the end */
    char *p = tmp + sizeof(tmp);
    uint64_t rec = q->record_s & MASK(36), created = q->shard_created_s & MASK(36);
    /* The layout of ds_seqno.h from bit 0 up: version 2 (4 bits), shard index (32), record
     * time (36), reserved (8), counter (64), index nibble (4), shard creation time (36), 2 (4). */
    wide x = {{2 | (uint64_t)q->shard_index << 4 | rec << 36, rec >> 28 | q->counter << 16,
               q->counter >> 48 | (uint64_t)(q->shard_index & 0xf) << 16 | created << 20 |
                   (uint64_t)2 << 56,
               0}};
    for (int i = 0; i < 4; i++) {
        limb[2 * i] = (uint32_t)x.w[i];
        limb[2 * i + 1] = (uint32_t)(x.w[i] >> 32);
    }
    int top = 7; /* highest limb that may be non-zero */
    while (top > 0 && limb[top] == 0)
        top--;
    do {
        uint64_t rem = 0;
        for (int i = top; i >= 0; i--) {
            uint64_t cur = (rem << 32) | limb[i];
            limb[i] = (uint32_t)(cur / 1000000000u);
            rem = cur % 1000000000u;
        }
        nine_digits(p, (uint32_t)rem);
        p -= 9;
        while (top > 0 && limb[top] == 0)
            top--;
    } while (top > 0 || limb[0] != 0);
    while (p < tmp + sizeof(tmp) - 1 && *p == '0')
        p++;
    size_t n = (size_t)(tmp + sizeof(tmp) - p);
    memcpy(out, p, n);
    out[n] = '\0';
    return n;
}

int sl_ds_seqno_parse(const char *s, size_t len, sl_ds_seqno *out)
{
    wide x = {{0}};

    if (len != SL_DS_SEQNO_STRLEN - 1)
        return SL_EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return SL_EINVAL;
        /* x = x * 10 + digit; 56 digits stay below 2^187 * 10 < 2^256, so no overflow. */
        unsigned __int128 carry = (unsigned)(s[i] - '0');
        for (int k = 0; k < 4; k++) {
            unsigned __int128 cur = (unsigned __int128)x.w[k] * 10 + carry;
            x.w[k] = (uint64_t)cur;
            carry = cur >> 64;
        }
    }
    if (x.w[3] >> 60 != 0) /* more than 188 bits */
        return SL_EINVAL;
    if (pop(&x, 4) != 2)
        return SL_EINVAL;
    uint32_t index = (uint32_t)pop(&x, 32);
    uint64_t record_s = pop(&x, 36);
    if (pop(&x, 8) != 0)
        return SL_EINVAL;
    uint64_t counter = pop(&x, 64);
    if (pop(&x, 4) != (index & 0xf))
        return SL_EINVAL;
    uint64_t created = pop(&x, 36);
    if (pop(&x, 4) != 2 || !is_zero(&x))
        return SL_EINVAL;
    out->shard_created_s = created;
    out->shard_index = index;
    out->counter = counter;
    out->record_s = record_s;
    return 0;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return (a > b) - (a < b);
}

int sl_ds_seqno_cmp(const sl_ds_seqno *a, const sl_ds_seqno *b)
{
    /* Field order = bit order, so this is the numeric order. */
    int c;
    if ((c = cmp_u64(a->shard_created_s & MASK(36), b->shard_created_s & MASK(36))))
        return c;
    if ((c = cmp_u64(a->shard_index & 0xf, b->shard_index & 0xf)))
        return c;
    if ((c = cmp_u64(a->counter, b->counter)))
        return c;
    if ((c = cmp_u64(a->record_s & MASK(36), b->record_s & MASK(36))))
        return c;
    return cmp_u64(a->shard_index, b->shard_index);
}
