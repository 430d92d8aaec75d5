/* kvssink's MKV packaging, free of GStreamer so it can be byte-checked on its own.
 *
 * Builds what the AWS producer sends (spec video-streams §4) with the writer in common/mkv:
 * the stream header (EBML header, unknown-size Segment, Info with a 1 ms TimecodeScale by
 * default, Tracks with CodecPrivate), unknown-size Clusters with an 8-byte Timecode, SimpleBlocks
 * with 8-byte sizes, and the end-of-fragment Tags the producer appends before closing a body.
 * Also derives CodecPrivate where caps carry none: an AVCDecoderConfigurationRecord from the
 * SPS/PPS inside an AVC (length-prefixed) frame, and the 18-byte WAVEFORMATEX of G.711.
 *
 * Threads: plain functions over caller-owned buffers; reentrant. */
#ifndef SL_KVS_PACK_H
#define SL_KVS_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/mkv.h"

/* Appends EBML header + Segment + Info + Tracks for h (ntracks 1..3) to out. uid: 16 bytes.
 * 0, SL_EINVAL, SL_ENOMEM. */
int sl_kvs_pack_header(sl_buf *out, const sl_mkv_header *h);
/* Fills h's Info fields the way kvssink does (scale in ns, SegmentUID, titles). */
void sl_kvs_pack_info(sl_mkv_header *h, uint64_t timecode_scale_ns, const uint8_t uid[16]);
/* Appends an unknown-size Cluster with Timecode tc. */
int sl_kvs_pack_cluster(sl_buf *out, uint64_t tc);
/* Appends a SimpleBlock. rel is clamped to int16 by the caller. */
int sl_kvs_pack_block(sl_buf *out, unsigned track, int16_t rel, int key, const void *p, size_t n);
/* Appends a level-1 Tags with the empty AWS_KINESISVIDEO_END_OF_FRAGMENT SimpleTag. */
int sl_kvs_pack_eofr(sl_buf *out);

/* Appends fragment metadata: a level-1 Tags with one SimpleTag per (names[i], values[i]), 8-byte
 * sizes as the AWS producer writes them; it goes right before the Cluster it describes. */
int sl_kvs_pack_metadata(sl_buf *out, const char *const *names, const char *const *values,
                         size_t n);

/* Builds an AVCDecoderConfigurationRecord from the first SPS and PPS found in an AVC frame
 * (NALs with 4-byte big-endian lengths). SL_ENOTFOUND if either is missing, SL_EPARSE if a length
 * overruns the frame, SL_ENOMEM. */
int sl_kvs_avcc_from_frame(sl_buf *out, const uint8_t *p, size_t n);
/* 18-byte WAVEFORMATEX (little-endian): tag 6 = A-law, 7 = µ-law; 8 bits per sample. */
void sl_kvs_waveformatex(uint8_t out[18], int mulaw, unsigned channels, unsigned rate);

#endif
