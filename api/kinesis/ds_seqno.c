/* Kinesis sequence numbers (layout in ds_seqno.h). The 188-bit value is assembled in four 64-bit
 * limbs (least significant first) by shifting each field in from the top; decimal conversion
 * divides the limbs by 10^9 repeatedly (format) or multiplies by 10 and adds (parse). */
#include "ds_seqno.h"

#include <string.h>

#include "sluice/err.h"

#define MASK(bits) (((uint64_t)1 << (bits)) - 1)

typedef struct wide {
    uint64_t w[4]; /* w[0] least significant */
} wide;

/* x = (x << bits) | v, bits <= 64. */
static void push(wide *x, uint64_t v, int bits)
{
    if (bits < 64)
        v &= MASK(bits);
    for (int i = 3; i >= 0; i--) {
        uint64_t carry_in = i > 0 ? x->w[i - 1] : 0;
        x->w[i] = bits == 64 ? carry_in : (x->w[i] << bits) | (carry_in >> (64 - bits));
    }
    x->w[0] = bits == 64 ? v : x->w[0] | v;
}

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

/* Divides x by d in place; returns the remainder. */
static uint32_t divmod(wide *x, uint32_t d)
{
    unsigned __int128 rem = 0;
    for (int i = 3; i >= 0; i--) {
        unsigned __int128 cur = (rem << 64) | x->w[i];
        x->w[i] = (uint64_t)(cur / d);
        rem = cur % d;
    }
    return (uint32_t)rem;
}

static int is_zero(const wide *x)
{
    return !(x->w[0] | x->w[1] | x->w[2] | x->w[3]);
}

size_t sl_ds_seqno_format(const sl_ds_seqno *q, char out[SL_DS_SEQNO_STRLEN])
{
    wide x = {{0}};
    char tmp[80];
    size_t n = 0;

    push(&x, 2, 4);
    push(&x, q->shard_created_s, 36);
    push(&x, q->shard_index & 0xf, 4);
    push(&x, q->counter, 64);
    push(&x, 0, 8);
    push(&x, q->record_s, 36);
    push(&x, q->shard_index, 32);
    push(&x, 2, 4);
    while (!is_zero(&x)) {
        uint32_t r = divmod(&x, 1000000000u);
        for (int i = 0; i < 9; i++) {
            tmp[n++] = (char)('0' + r % 10);
            r /= 10;
        }
    }
    while (n > 1 && tmp[n - 1] == '0')
        n--;
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
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
