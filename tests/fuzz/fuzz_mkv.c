/* libFuzzer target: the MKV reader and the PutMedia fragment cutter over arbitrary bytes.
 *
 * Input layout: the first 8 bytes seed the split pattern (piece sizes 1..4096 drawn from a
 * small LCG), the rest is the MKV body. The body is fed three ways — whole to a reader, in
 * pieces to a second reader, in pieces to a cutter — and then finished. Besides crashes and
 * sanitizer reports, the target aborts when the whole and split readers disagree (result,
 * error offset, event digest): the reader must not depend on where input is split. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/mkv.h"

struct digest {
    uint64_t h;
    uint64_t frames, clusters, tags;
    uint32_t raw_id; /* level-1 label of the last raw bytes, mixed in when it changes */
    uint64_t raw_off;
};

static void mix(struct digest *d, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        d->h ^= b[i];
        d->h *= 1099511628211ull;
    }
}

static int d_header(void *ud, const sl_mkv_header *h)
{
    mix(ud, h->bytes.ptr, h->bytes.len);
    return 0;
}

static int d_cluster(void *ud, const sl_mkv_cluster *c)
{
    struct digest *d = ud;
    d->clusters++;
    mix(d, &c->timecode, sizeof(c->timecode));
    mix(d, &c->offset, sizeof(c->offset));
    return 0;
}

static int d_frame(void *ud, const sl_mkv_frame *f)
{
    struct digest *d = ud;
    d->frames++;
    mix(d, &f->track, sizeof(f->track));
    mix(d, &f->timecode, sizeof(f->timecode));
    mix(d, &f->keyframe, sizeof(f->keyframe));
    mix(d, f->data.ptr, f->data.len);
    return 0;
}

static int d_tag(void *ud, const sl_mkv_tag *t)
{
    struct digest *d = ud;
    d->tags++;
    mix(d, t->name.ptr, t->name.len);
    mix(d, t->value.ptr, t->value.len);
    return 0;
}

static int d_raw(void *ud, uint32_t id, uint64_t off, const uint8_t *p, size_t n)
{
    struct digest *d = ud;
    if (id != d->raw_id || off != d->raw_off) {
        d->raw_id = id;
        d->raw_off = off;
        mix(d, &id, sizeof(id));
        mix(d, &off, sizeof(off));
    }
    mix(d, p, n);
    return 0;
}

static const sl_mkv_callbacks dcb = {.on_header = d_header,
                                     .on_cluster_start = d_cluster,
                                     .on_frame = d_frame,
                                     .on_tag = d_tag,
                                     .on_cluster_end = d_cluster,
                                     .on_raw = d_raw};

static size_t next_piece(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    unsigned r = (unsigned)(*s >> 33);
    return (r & 3) ? 1 + (r >> 2) % 16 : 1 + (r >> 2) % 4096;
}

static int f_frag(void *ud, const sl_mkv_fragment *f)
{
    /* a complete fragment is self-consistent */
    if (f->nframes == 0 || (f->bytes.ptr && f->bytes.len != f->size))
        abort();
    (void)ud;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seed = 0;
    if (size < 8)
        return 0;
    memcpy(&seed, data, 8);
    data += 8;
    size -= 8;

    struct digest whole = {1469598103934665603ull, 0, 0, 0, 0, 0}, split = whole;
    sl_mkv_reader *a = sl_mkv_reader_new(&dcb, &whole, 1 << 20);
    sl_mkv_reader *b = sl_mkv_reader_new(&dcb, &split, 1 << 20);
    sl_mkv_frag_opts o = {.keep_bytes = (int)(seed & 1), .max_fragment_bytes = 1 << 20};
    sl_mkv_frag_callbacks fcb = {.on_fragment = f_frag};
    sl_mkv_frag *f = sl_mkv_frag_new(&o, &fcb, NULL);
    if (!a || !b || !f)
        abort();

    int ra = sl_mkv_reader_feed(a, data, size);
    if (ra == 0)
        ra = sl_mkv_reader_finish(a);

    int rb = 0, rf = 0;
    size_t at = 0;
    uint64_t s = seed;
    while (at < size) {
        size_t k = next_piece(&s);
        if (k > size - at)
            k = size - at;
        if (rb == 0)
            rb = sl_mkv_reader_feed(b, data + at, k);
        if (rf == 0)
            rf = sl_mkv_frag_feed(f, data + at, k);
        at += k;
    }
    if (rb == 0)
        rb = sl_mkv_reader_finish(b);
    if (rf == 0)
        rf = sl_mkv_frag_finish(f);

    if (ra != rb || whole.h != split.h || whole.frames != split.frames ||
        whole.clusters != split.clusters || whole.tags != split.tags)
        abort();
    if (ra != 0 && sl_mkv_reader_diag(a)->offset != sl_mkv_reader_diag(b)->offset)
        abort();
    if ((rf != 0) != (sl_mkv_frag_last_error(f) != NULL))
        abort();

    sl_mkv_reader_free(a);
    sl_mkv_reader_free(b);
    sl_mkv_frag_free(f);
    return 0;
}
