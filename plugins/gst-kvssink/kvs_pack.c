/* kvssink MKV packaging on top of common/mkv's writer; see kvs_pack.h.
 *
 * AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.2.4.1), as written here:
 *   u8 configurationVersion = 1, u8 AVCProfileIndication = sps[1], u8 profile_compatibility =
 *   sps[2], u8 AVCLevelIndication = sps[3], u8 0xFF (6 reserved bits + lengthSizeMinusOne = 3),
 *   u8 0xE1 (3 reserved bits + one SPS), u16 spsLength, sps, u8 1 (one PPS), u16 ppsLength, pps.
 * WAVEFORMATEX: u16 wFormatTag, u16 nChannels, u32 nSamplesPerSec, u32 nAvgBytesPerSec,
 *   u16 nBlockAlign, u16 wBitsPerSample, u16 cbSize = 0 -- all little-endian. */
#include "kvs_pack.h"

#include <string.h>

#include "sluice/err.h"

int sl_kvs_pack_header(sl_buf *out, const sl_mkv_header *h)
{
    sl_mkv_writer w;
    if (h->ntracks < 1 || h->ntracks > SL_MKV_FRAG_MAX_TRACKS)
        return SL_EINVAL;
    sl_mkv_writer_init(&w, out);
    sl_mkv_write_stream_header(&w, h);
    return sl_mkv_writer_error(&w);
}

void sl_kvs_pack_info(sl_mkv_header *h, uint64_t timecode_scale_ns, const uint8_t uid[16])
{
    h->timecode_scale_ns = timecode_scale_ns;
    memcpy(h->segment_uid, uid, 16);
    h->segment_uid_len = 16;
    strcpy(h->doctype, "matroska");
    strcpy(h->title, "Kinesis Video SDK");
    strcpy(h->muxing_app, "Sluice kvssink 0.1.0");
    strcpy(h->writing_app, "Sluice kvssink 0.1.0");
}

int sl_kvs_pack_cluster(sl_buf *out, uint64_t tc)
{
    sl_mkv_writer w;
    sl_mkv_writer_init(&w, out);
    sl_mkv_write_cluster(&w, tc);
    return sl_mkv_writer_error(&w);
}

int sl_kvs_pack_block(sl_buf *out, unsigned track, int16_t rel, int key, const void *p, size_t n)
{
    sl_mkv_writer w;
    sl_mkv_writer_init(&w, out);
    sl_mkv_write_simple_block(&w, track, rel, key, p, n);
    return sl_mkv_writer_error(&w);
}

int sl_kvs_pack_eofr(sl_buf *out)
{
    static const char *const names[1] = {"AWS_KINESISVIDEO_END_OF_FRAGMENT"};
    static const char *const values[1] = {""};
    sl_mkv_writer w;
    sl_mkv_writer_init(&w, out);
    sl_mkv_write_tags(&w, names, values, 1, 8);
    return sl_mkv_writer_error(&w);
}

int sl_kvs_pack_metadata(sl_buf *out, const char *const *names, const char *const *values, size_t n)
{
    sl_mkv_writer w;
    sl_mkv_writer_init(&w, out);
    sl_mkv_write_tags(&w, names, values, n, 8);
    return sl_mkv_writer_error(&w);
}

int sl_kvs_avcc_from_frame(sl_buf *out, const uint8_t *p, size_t n)
{
    const uint8_t *sps = NULL, *pps = NULL;
    size_t sps_len = 0, pps_len = 0, off = 0;
    uint8_t hdr[8];

    while (off + 4 <= n) {
        size_t len =
            (size_t)p[off] << 24 | (size_t)p[off + 1] << 16 | (size_t)p[off + 2] << 8 | p[off + 3];
        off += 4;
        if (len > n - off)
            return SL_EPARSE;
        if (len > 0) {
            unsigned type = p[off] & 0x1F;
            if (type == 7 && !sps && len >= 4 && len <= 0xFFFF) {
                sps = p + off;
                sps_len = len;
            } else if (type == 8 && !pps && len <= 0xFFFF) {
                pps = p + off;
                pps_len = len;
            }
        }
        off += len;
    }
    if (!sps || !pps)
        return SL_ENOTFOUND;
    hdr[0] = 1;
    hdr[1] = sps[1];
    hdr[2] = sps[2];
    hdr[3] = sps[3];
    hdr[4] = 0xFF;
    hdr[5] = 0xE1;
    hdr[6] = (uint8_t)(sps_len >> 8);
    hdr[7] = (uint8_t)sps_len;
    sl_buf_append(out, hdr, 8);
    sl_buf_append(out, sps, sps_len);
    hdr[0] = 1;
    hdr[1] = (uint8_t)(pps_len >> 8);
    hdr[2] = (uint8_t)pps_len;
    sl_buf_append(out, hdr, 3);
    sl_buf_append(out, pps, pps_len);
    return out->oom ? SL_ENOMEM : 0;
}

static void le16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
    le16(p, v & 0xFFFF);
    le16(p + 2, v >> 16);
}

void sl_kvs_waveformatex(uint8_t out[18], int mulaw, unsigned channels, unsigned rate)
{
    le16(out, mulaw ? 7 : 6);
    le16(out + 2, channels);
    le32(out + 4, rate);
    le32(out + 8, rate * channels);
    le16(out + 12, channels);
    le16(out + 14, 8);
    le16(out + 16, 0);
}
