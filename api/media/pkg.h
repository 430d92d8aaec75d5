/* Media packaging for archived-media playback: stored MKV fragments in, HLS/DASH/clip/image
 * bytes out, with libavformat (remux, never re-encode) and libavcodec + libswscale (images).
 *
 * Input is always one self-contained MKV in memory: a stored stream header (EBML header,
 * Segment, Info, Tracks) followed by one or more stored Clusters, concatenated by the caller.
 * The functions open it with the Matroska demuxer over a memory AVIOContext and write through a
 * seekable memory AVIOContext into an sl_buf, so nothing here touches a file or a socket.
 *
 * Codec gate (shared/spec/video-streams.md §5.3): the first track is H.264 or H.265 video (or
 * AAC audio alone), an optional second track is AAC; every track needs CodecPrivate
 * (SL_EMEDIA_NO_CPD) that parses for its codec (SL_EMEDIA_BAD_CPD). Anything else is
 * SL_EMEDIA_UNSUPPORTED.
 *
 * Timestamps. Matroska gives presentation times in milliseconds and no decode times. Video
 * decode times are rebuilt per fragment (sorted presentation times, shifted back just enough
 * that no frame decodes after it is shown: dts = pts for streams without B-frames; frames of
 * overlapping fragments that share a time get decode times one tick apart); AAC times are
 * rebuilt as first-frame time + 1024 samples per frame so audio has no rounding jitter, except
 * that a jump of more than two frames (a gap between fragments of a clip) restarts at the
 * input's time, so audio after a gap stays with its video.
 * Output keeps the producer's time line (video timescale 90 kHz, audio = sample rate): an fMP4
 * media fragment's tfdt and a TS segment's PTS are the fragment's producer time, so segments
 * packaged independently, in any order, on any thread, line up in a player. Clips (classic MP4)
 * start at zero instead.
 *
 * Threads: every function is reentrant and blocking (CPU only); call them from a worker, never
 * from the loop thread. */
#ifndef SL_MEDIA_PKG_H
#define SL_MEDIA_PKG_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/err.h"

#define SL_PKG_MAX_TRACKS 3

typedef enum sl_pkg_codec {
    SL_PKG_CODEC_H264 = 1,
    SL_PKG_CODEC_H265,
    SL_PKG_CODEC_AAC,
} sl_pkg_codec;

typedef struct sl_pkg_track {
    uint64_t number; /* MKV TrackNumber */
    sl_pkg_codec codec;
    int is_video;
    char codecs[48]; /* RFC 6381: "avc1.64001f", "hvc1.1.6.L93.B0", "mp4a.40.2" */
    int width, height;
    int sample_rate, channels;
} sl_pkg_track;

typedef struct sl_pkg_info {
    size_t ntracks;
    sl_pkg_track tracks[SL_PKG_MAX_TRACKS];
} sl_pkg_info;

typedef enum sl_pkg_kind {
    SL_PKG_FMP4_INIT,  /* ftyp + moov of one track */
    SL_PKG_FMP4_MEDIA, /* moof + mdat of one track, tfdt = producer time */
    SL_PKG_TS,         /* MPEG-TS of all tracks (PAT, PMT, PES), PTS = producer time */
    SL_PKG_MP4_CLIP,   /* classic MP4 (moov at the end) of all tracks, starting at 0 */
} sl_pkg_kind;

typedef struct sl_pkg_opts {
    sl_pkg_kind kind;
    uint64_t track; /* MKV TrackNumber for FMP4_*; ignored otherwise */
    /* When set, output times are shifted so the input's earliest frame lands at start_ms (the
     * fragment's producer timestamp: RELATIVE-timecode producers store session-relative
     * clusters). */
    int has_start;
    int64_t start_ms;
    /* When > 0, the last frame of each track lasts until this producer time (end of the
     * fragment); otherwise as long as the frame before it. */
    int64_t end_ms;
    uint32_t mp4_sequence; /* mfhd sequence number for FMP4_MEDIA (0 = 1) */
} sl_pkg_opts;

/* Reads the tracks of mkv[0..len) (only the header is needed) and applies the codec gate.
 * Fills *info. Returns 0, SL_EMEDIA_UNSUPPORTED, SL_EMEDIA_NO_CPD, SL_EMEDIA_BAD_CPD,
 * SL_EPARSE (not readable as MKV), SL_ENOMEM; d (may be NULL) gets the reason. */
int sl_pkg_probe(const uint8_t *mkv, size_t len, sl_pkg_info *info, sl_diag *d);

/* Remuxes mkv[0..len) as o says, appending the bytes to out (caller-owned). Returns 0, the
 * errors of sl_pkg_probe, SL_ENOTFOUND (o->track is not a track of the input, or the input holds
 * no frame of it (any kind but FMP4_INIT)), SL_EMEDIA_FRAME (the muxer refused the frames),
 * SL_ENOMEM. */
int sl_pkg_remux(const uint8_t *mkv, size_t len, const sl_pkg_opts *o, sl_buf *out, sl_diag *d);

typedef enum sl_pkg_image_format {
    SL_PKG_JPEG,
    SL_PKG_PNG,
} sl_pkg_image_format;

/* The largest picture sl_pkg_image decodes (H.264 level 6.2's MaxFS, 139264 macroblocks, and
 * H.265 level 6.2's MaxLumaPs are both 35651584 luma samples), and the largest side it derives
 * from the source's aspect ratio when one of width/height is given (GetImages' own limits on
 * WidthPixels / HeightPixels). */
#define SL_PKG_MAX_PIXELS  35651584
#define SL_PKG_IMAGE_MAX_W 3840
#define SL_PKG_IMAGE_MAX_H 2160

typedef struct sl_pkg_image_opts {
    int64_t at_ms; /* time wanted: the key frame nearest it is decoded */
    int relative;  /* at_ms counts from the input's first frame (else: MKV time, in ms) */
    sl_pkg_image_format format;
    /* 0 = keep the source's; one given: the other keeps the aspect ratio, capped at
     * SL_PKG_IMAGE_MAX_W / _H */
    int width, height;
    int jpeg_quality;   /* 1..100, 0 = 80 */
    int64_t max_pixels; /* largest picture decoded; 0 = SL_PKG_MAX_PIXELS */
} sl_pkg_image_opts;

/* Decodes the key frame of mkv's video track whose time is nearest o->at_ms (times as in the
 * input, after the has_start shift of sl_pkg_remux is NOT applied), scales it and encodes it as
 * JPEG or PNG into out. *frame_ms (may be NULL) gets that frame's time (relative: from the
 * first frame). Returns 0, SL_ENOTFOUND
 * (no video key frame), SL_EMEDIA_FRAME (it does not decode), the probe errors, SL_ENOMEM. */
int sl_pkg_image(const uint8_t *mkv, size_t len, const sl_pkg_image_opts *o, sl_buf *out,
                 int64_t *frame_ms, sl_diag *d);

#endif
