/* Matching strings against the AWS models' patterns (Java regular expressions).
 *
 * Every pattern in the generated table (sl_api_patterns, see sluice/api_model.h) comes in one of
 * two forms, chosen by scripts/gen_api_tables.py:
 *   - an anchored POSIX ERE, when byte-wise matching means exactly what the Java pattern means
 *     (ASCII classes, or atoms that accept every non-ASCII code point under * or +). Those are
 *     compiled once with regcomp(REG_EXTENDED | REG_NOSUB) in sl_patterns_init();
 *   - a program for the small backtracking matcher below, for everything else: \p{L} \p{Z} \p{N}
 *     (tables generated from Python's unicodedata), `.` (which excludes Java's line
 *     terminators), [\u0001-\uFFFF], counted non-ASCII atoms and look-arounds.
 * Both forms match the whole input, as Java's Pattern.matches() does.
 *
 * The matcher decodes the UTF-8 input into code points and runs the program with an explicit
 * stack, remembering each (instruction, position) pair it has already tried in a bitmap (the
 * "bit-state" technique): a failed state is never explored twice, so matching is linear in
 * instructions x input length and empty loops terminate. Look-arounds run their sub-program
 * with a fresh bitmap (the result depends on where the sub-match must end). Invalid UTF-8 does
 * not match.
 *
 * Thread-safety: sl_patterns_init() runs once before any match; matches may then run on any
 * thread (regexec is reentrant and the matcher keeps its state on the caller's heap). */
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/api_model.h"
#include "sluice/err.h"
#include "sluice/log.h"
#include "sluice/wire.h"

static regex_t *compiled; /* one per pattern; only those with an ERE are compiled */
static uint8_t *is_compiled;

int sl_patterns_init(void)
{
    int rc = 0;
    if (compiled)
        return 0;
    compiled = calloc(sl_api_n_patterns ? sl_api_n_patterns : 1, sizeof(*compiled));
    is_compiled = calloc(sl_api_n_patterns ? sl_api_n_patterns : 1, 1);
    if (!compiled || !is_compiled) {
        rc = SL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < sl_api_n_patterns; i++) {
        const sl_pattern_def *p = &sl_api_patterns[i];
        if (!p->ere)
            continue;
        int e = regcomp(&compiled[i], p->ere, REG_EXTENDED | REG_NOSUB);
        if (e != 0) {
            char msg[128];
            regerror(e, &compiled[i], msg, sizeof(msg));
            sl_error("api", "pattern %s (ERE %s) does not compile: %s", p->java, p->ere, msg);
            rc = SL_EINTERNAL;
            goto out;
        }
        is_compiled[i] = 1;
    }
out:
    if (rc)
        sl_patterns_cleanup();
    return rc;
}

void sl_patterns_cleanup(void)
{
    if (compiled && is_compiled) {
        for (size_t i = 0; i < sl_api_n_patterns; i++)
            if (is_compiled[i])
                regfree(&compiled[i]);
    }
    free(compiled);
    free(is_compiled);
    compiled = NULL;
    is_compiled = NULL;
}

/* Decodes strict UTF-8 (no overlongs, no surrogates). Returns the number of code points, or -1. */
static long utf8_decode(const char *s, size_t len, uint32_t *out)
{
    const uint8_t *p = (const uint8_t *)s, *end = p + len;
    long n = 0;
    while (p < end) {
        uint32_t c = *p++;
        int extra;
        uint32_t min;
        if (c < 0x80) {
            extra = 0;
            min = 0;
        } else if ((c & 0xE0) == 0xC0) {
            c &= 0x1F;
            extra = 1;
            min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            c &= 0x0F;
            extra = 2;
            min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            c &= 0x07;
            extra = 3;
            min = 0x10000;
        } else {
            return -1;
        }
        if (end - p < extra)
            return -1;
        for (int k = 0; k < extra; k++) {
            if ((*p & 0xC0) != 0x80)
                return -1;
            c = (c << 6) | (*p++ & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return -1;
        if (out)
            out[n] = c;
        n++;
    }
    return n;
}

static int class_has(const sl_rx_class *c, uint32_t cp)
{
    uint32_t lo = 0, hi = c->n;
    while (lo < hi) { /* binary search over the sorted ranges */
        uint32_t mid = (lo + hi) / 2;
        if (cp < c->ranges[2 * mid])
            hi = mid;
        else if (cp > c->ranges[2 * mid + 1])
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

typedef struct {
    const sl_pattern_def *p;
    const uint32_t *cp;
    long n;
} rx_input;

typedef struct {
    struct rx_frame {
        int32_t pc;
        long pos;
    } * f;
    size_t depth, cap;
} rx_stack;

static int rx_push(rx_stack *st, int32_t pc, long pos)
{
    if (st->depth == st->cap) {
        size_t ncap = st->cap ? st->cap * 2 : 64;
        struct rx_frame *nf = realloc(st->f, ncap * sizeof(*nf));
        if (!nf)
            return SL_ENOMEM;
        st->f = nf;
        st->cap = ncap;
    }
    st->f[st->depth].pc = pc;
    st->f[st->depth].pos = pos;
    st->depth++;
    return 0;
}

/* Runs the program from pc at position start; succeeds when a MATCH is reached at position
 * want_end (or anywhere, if want_end < 0). Returns 1, 0, or SL_ENOMEM. */
static int rx_run(const rx_input *in, int32_t pc0, long start, long want_end)
{
    const sl_pattern_def *p = in->p;
    size_t cols = (size_t)in->n + 1;
    size_t bits = (size_t)p->n_prog * cols;
    uint8_t *seen = calloc(bits / 8 + 1, 1);
    rx_stack st = {0};
    int rc = 0;

    if (!seen)
        return SL_ENOMEM;
    if (rx_push(&st, pc0, start) != 0) {
        rc = SL_ENOMEM;
        goto out;
    }
    while (st.depth > 0) {
        st.depth--;
        int32_t pc = st.f[st.depth].pc;
        long pos = st.f[st.depth].pos;
        for (;;) {
            size_t bit = (size_t)pc * cols + (size_t)pos;
            if (seen[bit / 8] & (1u << (bit % 8)))
                break;
            seen[bit / 8] |= (uint8_t)(1u << (bit % 8));
            const sl_rx_inst *ins = &p->prog[pc];
            if (ins->op == SL_RX_CLASS) {
                if (pos >= in->n || !class_has(&p->classes[ins->arg], in->cp[pos]))
                    break;
                pos++;
                pc++;
            } else if (ins->op == SL_RX_SPLIT) {
                if (rx_push(&st, ins->y, pos) != 0) {
                    rc = SL_ENOMEM;
                    goto out;
                }
                pc = ins->x;
            } else if (ins->op == SL_RX_JMP) {
                pc = ins->x;
            } else if (ins->op == SL_RX_BOL) {
                if (pos != 0)
                    break;
                pc++;
            } else if (ins->op == SL_RX_EOL) {
                if (pos != in->n)
                    break;
                pc++;
            } else if (ins->op == SL_RX_LOOK) {
                int negative = ins->flag & 1, behind = ins->flag & 2;
                int r;
                if (behind)
                    r = pos >= ins->y ? rx_run(in, ins->x, pos - ins->y, pos) : 0;
                else
                    r = rx_run(in, ins->x, pos, -1);
                if (r < 0) {
                    rc = r;
                    goto out;
                }
                if (r == negative)
                    break;
                pc++;
            } else { /* SL_RX_MATCH */
                if (want_end < 0 || pos == want_end) {
                    rc = 1;
                    goto out;
                }
                break;
            }
        }
    }
out:
    free(st.f);
    free(seen);
    return rc;
}

int sl_pattern_match(int idx, const char *s, size_t len)
{
    if (idx < 0 || (size_t)idx >= sl_api_n_patterns)
        return SL_EINVAL;
    const sl_pattern_def *p = &sl_api_patterns[idx];
    if (p->ere) {
        if (!compiled || !is_compiled[idx])
            return SL_EINVAL; /* sl_patterns_init() not called */
        if (memchr(s, '\0', len))
            return 0; /* regexec would stop at the NUL; no model pattern accepts U+0000 */
        char stackbuf[512];
        char *z = len < sizeof(stackbuf) ? stackbuf : malloc(len + 1);
        if (!z)
            return SL_ENOMEM;
        memcpy(z, s, len);
        z[len] = '\0';
        int r = regexec(&compiled[idx], z, 0, NULL, 0);
        if (z != stackbuf)
            free(z);
        return r == 0 ? 1 : 0;
    }
    long n = utf8_decode(s, len, NULL);
    if (n < 0)
        return 0;
    uint32_t *cps = malloc(((size_t)n + 1) * sizeof(*cps));
    if (!cps)
        return SL_ENOMEM;
    utf8_decode(s, len, cps);
    rx_input in = {p, cps, n};
    int r = rx_run(&in, 0, 0, n);
    free(cps);
    return r;
}

int sl_pattern_find(const char *java)
{
    for (size_t i = 0; i < sl_api_n_patterns; i++)
        if (strcmp(sl_api_patterns[i].java, java) == 0)
            return (int)i;
    return -1;
}
