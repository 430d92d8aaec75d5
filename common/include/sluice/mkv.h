/* Matroska (MKV/WebM) for Kinesis Video: a push-based EBML reader, the PutMedia fragment
 * cutter built on it, and a writer for kvssink and GetMedia.
 *
 * Reader (sl_mkv_reader, ebml_read.c): bytes go in as they arrive, split anywhere
 * (sl_mkv_reader_feed), and come out as callbacks: the stream header once EBML header, Segment,
 * Info and Tracks are complete; cluster start/end; one call per frame (SimpleBlock, or
 * BlockGroup/Block with Xiph, EBML or fixed lacing decoded); one call per SimpleTag; and a raw
 * tap that hands every consumed byte back, labelled with the level-1 element it belongs to.
 * Memory is bounded: a fixed stack of SL_MKV_MAX_DEPTH open elements, small leaves copied up to
 * their limits, block payloads passed as slices of the caller's buffer when a block lies whole
 * in one feed and otherwise accumulated as bytes arrive (never allocated from a declared size),
 * up to max_block_bytes. No recursion. Malformed input stops the reader with an sl_diag (byte
 * offset + reason) and a Kinesis Video ErrorId (4006 unless more specific).
 *
 * Fragment cutter (sl_mkv_frag, mkv_frag.c): PutMedia's semantics on top of the reader. One
 * Cluster is one fragment; it completes when the cluster ends (next level-1 element such as the
 * next Cluster or a Tags holding AWS_KINESISVIDEO_END_OF_FRAGMENT, the declared end of a
 * known-size cluster, or the end of input). Reports BUFFERING when a cluster's Timecode is read,
 * streams the cluster's bytes verbatim, and reports each complete fragment with its metadata.
 * Errors carry the AWS ErrorId/ErrorCode of the PutMedia ack.
 *
 * Writer (sl_mkv_writer, ebml_write.c; GetMedia tags in mkv_tags.c): appends EBML to an sl_buf;
 * the first failure is latched and every later call is a no-op returning it.
 *
 * Threads: every object here is used by one thread at a time; nothing blocks or does I/O. */
#ifndef SLUICE_MKV_H
#define SLUICE_MKV_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/err.h"

/* ---- Element IDs (with their length marker bits, as written on the wire) ---- */
#define SL_MKV_ID_EBML              0x1A45DFA3u
#define SL_MKV_ID_EBML_VERSION      0x4286u
#define SL_MKV_ID_EBML_READ_VERSION 0x42F7u
#define SL_MKV_ID_EBML_MAX_ID_LEN   0x42F2u
#define SL_MKV_ID_EBML_MAX_SIZE_LEN 0x42F3u
#define SL_MKV_ID_DOCTYPE           0x4282u
#define SL_MKV_ID_DOCTYPE_VERSION   0x4287u
#define SL_MKV_ID_DOCTYPE_READ_VER  0x4285u
#define SL_MKV_ID_VOID              0xECu
#define SL_MKV_ID_CRC32             0xBFu
#define SL_MKV_ID_SEGMENT           0x18538067u
#define SL_MKV_ID_SEEKHEAD          0x114D9B74u
#define SL_MKV_ID_INFO              0x1549A966u
#define SL_MKV_ID_TIMECODE_SCALE    0x2AD7B1u
#define SL_MKV_ID_DURATION          0x4489u
#define SL_MKV_ID_SEGMENT_UID       0x73A4u
#define SL_MKV_ID_TITLE             0x7BA9u
#define SL_MKV_ID_MUXING_APP        0x4D80u
#define SL_MKV_ID_WRITING_APP       0x5741u
#define SL_MKV_ID_TRACKS            0x1654AE6Bu
#define SL_MKV_ID_TRACK_ENTRY       0xAEu
#define SL_MKV_ID_TRACK_NUMBER      0xD7u
#define SL_MKV_ID_TRACK_UID         0x73C5u
#define SL_MKV_ID_TRACK_TYPE        0x83u
#define SL_MKV_ID_NAME              0x536Eu
#define SL_MKV_ID_CODEC_ID          0x86u
#define SL_MKV_ID_CODEC_PRIVATE     0x63A2u
#define SL_MKV_ID_DEFAULT_DURATION  0x23E383u
#define SL_MKV_ID_CONTENT_ENCODINGS 0x6D80u
#define SL_MKV_ID_VIDEO             0xE0u
#define SL_MKV_ID_PIXEL_WIDTH       0xB0u
#define SL_MKV_ID_PIXEL_HEIGHT      0xBAu
#define SL_MKV_ID_AUDIO             0xE1u
#define SL_MKV_ID_SAMPLING_FREQ     0xB5u
#define SL_MKV_ID_CHANNELS          0x9Fu
#define SL_MKV_ID_BIT_DEPTH         0x6264u
#define SL_MKV_ID_CLUSTER           0x1F43B675u
#define SL_MKV_ID_TIMECODE          0xE7u
#define SL_MKV_ID_SIMPLE_BLOCK      0xA3u
#define SL_MKV_ID_BLOCK_GROUP       0xA0u
#define SL_MKV_ID_BLOCK             0xA1u
#define SL_MKV_ID_BLOCK_DURATION    0x9Bu
#define SL_MKV_ID_REFERENCE_BLOCK   0xFBu
#define SL_MKV_ID_CUES              0x1C53BB6Bu
#define SL_MKV_ID_CHAPTERS          0x1043A770u
#define SL_MKV_ID_ATTACHMENTS       0x1941A469u
#define SL_MKV_ID_TAGS              0x1254C367u
#define SL_MKV_ID_TAG               0x7373u
#define SL_MKV_ID_TARGETS           0x63C0u
#define SL_MKV_ID_SIMPLE_TAG        0x67C8u
#define SL_MKV_ID_TAG_NAME          0x45A3u
#define SL_MKV_ID_TAG_STRING        0x4487u

/* ---- Limits ---- */
#define SL_MKV_MAX_DEPTH         8                   /* open elements, EBML/Segment included */
#define SL_MKV_MAX_TRACKS        16                  /* the reader's table; PutMedia allows 3 */
#define SL_MKV_MAX_CODEC_PRIVATE (1024 * 1024)       /* CodecPrivate bytes per track */
#define SL_MKV_MAX_TAG_STRING    4096                /* TagName / TagString bytes */
#define SL_MKV_MAX_HEADER_BYTES  (4 * 1024 * 1024)   /* rebuilt stream header */
#define SL_MKV_MAX_LACED_FRAMES  256                 /* a lace holds 1..256 frames */
#define SL_MKV_DEFAULT_MAX_BLOCK (50u * 1000 * 1000) /* one block; = PutMedia fragment limit */

/* Kinesis Video PutMedia ErrorIds the cutter produces (spec video-streams §3.1). */
enum {
    SL_KVS_MAX_FRAGMENT_SIZE_REACHED = 4001,
    SL_KVS_MAX_FRAGMENT_DURATION_REACHED = 4002,
    SL_KVS_FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS = 4004,
    SL_KVS_INVALID_MKV_DATA = 4006,
    SL_KVS_INVALID_PRODUCER_TIMESTAMP = 4007,
    SL_KVS_FRAGMENT_METADATA_LIMIT_REACHED = 4009,
    SL_KVS_TRACK_NUMBER_MISMATCH = 4010,
    SL_KVS_FRAMES_MISSING_FOR_TRACK = 4011,
    SL_KVS_MORE_THAN_ALLOWED_TRACKS_FOUND = 4012,
    SL_KVS_INTERNAL_ERROR = 5000,
};

/* "INVALID_MKV_DATA" for 4006 etc.; every id of the spec's table (4000-4012, 4500-4507,
 * 5000, 5001); NULL for others. Static storage. */
const char *sl_mkv_kvs_error_code(int error_id);

/* ---- What the reader reports ---- */

typedef struct sl_mkv_track {
    uint64_t number;              /* TrackNumber (≥ 1, unique) */
    uint64_t uid;                 /* TrackUID, 0 if absent */
    uint64_t type;                /* TrackType: 1 video, 2 audio, 17 subtitle, ... */
    char name[256];               /* Name, "" if absent */
    char codec_id[64];            /* CodecID, e.g. "V_MPEG4/ISO/AVC" */
    const uint8_t *codec_private; /* owned by whoever filled the struct; NULL if absent */
    size_t codec_private_len;
    uint64_t default_duration_ns;       /* 0 if absent */
    uint64_t pixel_width, pixel_height; /* Video; 0 if absent */
    double sampling_hz;                 /* Audio; 0 if absent */
    uint64_t channels, bit_depth;       /* Audio; 0 if absent */
} sl_mkv_track;

typedef struct sl_mkv_header {
    uint64_t timecode_scale_ns; /* Info/TimecodeScale, 1000000 if absent */
    double duration;            /* Info/Duration in TimecodeScale units, 0 if absent */
    uint8_t segment_uid[16];
    size_t segment_uid_len; /* 0 if absent */
    char title[256], muxing_app[256], writing_app[256];
    char doctype[16]; /* "matroska" or "webm" */
    size_t ntracks;
    sl_mkv_track tracks[SL_MKV_MAX_TRACKS];
    /* The stream header a self-contained fragment starts with: the EBML header as received,
     * the Segment ID with an unknown size (0xFF; a known size is rewritten to it), then Info
     * and Tracks exactly as received. For the AWS producer that is the input up to the first
     * Cluster byte for byte. */
    sl_slice bytes;
} sl_mkv_header;

typedef struct sl_mkv_cluster {
    uint64_t offset;     /* input offset of the Cluster ID */
    uint64_t timecode;   /* Cluster/Timecode as received */
    uint64_t end_offset; /* set at cluster end: offset one past its last byte */
} sl_mkv_cluster;

typedef struct sl_mkv_frame {
    uint64_t track;       /* TrackNumber, declared in Tracks */
    size_t track_index;   /* index into sl_mkv_header.tracks */
    int64_t timecode;     /* cluster timecode + block relative timecode (+ lace position ×
                             DefaultDuration), TimecodeScale units */
    int16_t rel_timecode; /* as in the block */
    int keyframe;         /* SimpleBlock flag 0x80, or a BlockGroup without ReferenceBlock */
    int invisible, discardable;
    uint64_t duration; /* BlockDuration, else DefaultDuration in TimecodeScale units, else 0 */
    unsigned lace_index, lace_count; /* position within a laced block; 0 of 1 if unlaced */
    uint64_t block_offset;           /* input offset of the SimpleBlock / Block ID */
    sl_slice data;                   /* borrowed: valid only during the callback */
} sl_mkv_frame;

typedef struct sl_mkv_tag {
    uint64_t tags_offset; /* input offset of the enclosing level-1 Tags ID */
    sl_slice name, value; /* borrowed: valid only during the callback; NUL-terminated */
} sl_mkv_tag;

/* Callbacks run on the thread calling feed/finish, in input order. Return 0 to go on; a
 * negative SL_E* stops the reader, which latches it and returns it from feed/finish. Any
 * pointer may be NULL. */
typedef struct sl_mkv_callbacks {
    int (*on_header)(void *ud, const sl_mkv_header *h); /* h valid until the reader is freed */
    int (*on_cluster_start)(void *ud, const sl_mkv_cluster *c); /* when its Timecode is read */
    int (*on_frame)(void *ud, const sl_mkv_frame *f);
    int (*on_tag)(void *ud, const sl_mkv_tag *t); /* at each SimpleTag's end */
    int (*on_cluster_end)(void *ud, const sl_mkv_cluster *c);
    /* Every consumed byte, once, in order. level1_id is the level-1 element the bytes belong to
     * (Cluster, Tags, Info, ...), or the root element (EBML, Segment) for their own headers.
     * level1_offset is that element's input offset. Bytes are borrowed for the call only. */
    int (*on_raw)(void *ud, uint32_t level1_id, uint64_t level1_offset, const uint8_t *p, size_t n);
    /* Once, when the reader refuses its input (not when a callback refused): d is the reason,
     * error_id the Kinesis ErrorId. Nothing else is called afterwards. */
    void (*on_error)(void *ud, const sl_diag *d, int error_id);
} sl_mkv_callbacks;

typedef struct sl_mkv_reader sl_mkv_reader;

/* Creates a reader. cb is copied; ud is passed back to every callback. max_block_bytes caps one
 * SimpleBlock/Block (0 = SL_MKV_DEFAULT_MAX_BLOCK). Returns NULL when out of memory. Free with
 * sl_mkv_reader_free. */
sl_mkv_reader *sl_mkv_reader_new(const sl_mkv_callbacks *cb, void *ud, size_t max_block_bytes);
void sl_mkv_reader_free(sl_mkv_reader *r);

/* Consumes n bytes (borrowed; not kept after return except copies of what the reader needs).
 * Callbacks run inside. Returns 0, or the latched error: SL_EPARSE for malformed input,
 * SL_ETOOBIG for a size over a limit, SL_ENOMEM, or a callback's code. After an error every
 * call returns it again. */
int sl_mkv_reader_feed(sl_mkv_reader *r, const void *p, size_t n);
/* Declares the end of input: closes unknown-size elements (firing cluster end). Fails with
 * SL_EPARSE if the input stopped inside an element of known size or before a complete header
 * (an input of zero bytes is fine and reports nothing). */
int sl_mkv_reader_finish(sl_mkv_reader *r);

/* Why the reader stopped (offset + text), its Kinesis ErrorId (4006, 4010, ...), bytes consumed,
 * and the header once reported (NULL before). Pointers are valid until the reader is freed. */
const sl_diag *sl_mkv_reader_diag(const sl_mkv_reader *r);
int sl_mkv_reader_error_id(const sl_mkv_reader *r);
uint64_t sl_mkv_reader_offset(const sl_mkv_reader *r);
const sl_mkv_header *sl_mkv_reader_header(const sl_mkv_reader *r);

/* ---- Fragment cutter (PutMedia) ---- */

#define SL_MKV_FRAG_MAX_TRACKS 3
#define SL_MKV_FRAG_MAX_META   10
#define SL_MKV_META_NAME_MAX   128
#define SL_MKV_META_VALUE_MAX  256

typedef struct sl_mkv_frag_opts {
    int relative;                      /* x-amzn-fragment-timecode-type: RELATIVE (else ABSOLUTE) */
    int64_t producer_start_ms;         /* x-amzn-producer-start-timestamp, for RELATIVE */
    uint64_t max_fragment_bytes;       /* 0 = 50,000,000 (4001) */
    uint64_t max_fragment_duration_ms; /* 0 = 10,000 (4002) */
    int keep_bytes;                    /* collect the cluster bytes into sl_mkv_fragment.bytes */
} sl_mkv_frag_opts;

typedef struct sl_mkv_meta {
    char name[SL_MKV_META_NAME_MAX + 1];
    char value[SL_MKV_META_VALUE_MAX + 1];
} sl_mkv_meta;

typedef struct sl_mkv_fragment {
    uint64_t index;         /* 0-based, in this session */
    uint64_t timecode;      /* Cluster Timecode exactly as received (the ack's FragmentTimecode) */
    int64_t producer_ts_ms; /* ABSOLUTE: timecode × scale; RELATIVE: start + that */
    uint64_t duration_ms;   /* see mkv_frag.c: frame span plus the last frame's duration */
    uint64_t offset;        /* input offset of the Cluster ID */
    uint64_t size;          /* cluster bytes so far (final in on_fragment) */
    uint32_t frames[SL_MKV_FRAG_MAX_TRACKS]; /* per track, in header.tracks order */
    uint32_t nframes;
    int has_keyframe, first_is_keyframe;
    size_t nmeta; /* fragment metadata: level-1 Tags before this cluster */
    sl_mkv_meta meta[SL_MKV_FRAG_MAX_META];
    sl_slice bytes; /* keep_bytes only: the cluster verbatim; valid during the call */
} sl_mkv_fragment;

typedef struct sl_mkv_frag_error {
    int error_id;           /* SL_KVS_* (4006 for malformed input) */
    const char *error_code; /* "INVALID_MKV_DATA", ... */
    int has_timecode;       /* 1 if the error belongs to a fragment whose Timecode was read */
    uint64_t timecode;
    sl_diag diag; /* offset + reason */
} sl_mkv_frag_error;

typedef struct sl_mkv_frag_callbacks {
    int (*on_header)(void *ud, const sl_mkv_header *h);
    int (*on_buffering)(void *ud, const sl_mkv_fragment *f); /* timecode known, nothing else */
    int (*on_data)(void *ud, const sl_mkv_fragment *f, const uint8_t *p, size_t n); /* cluster
                                                                        bytes, verbatim, in order */
    int (*on_fragment)(void *ud, const sl_mkv_fragment *f); /* complete and valid */
    /* Once, when the cutter stops on an error (what an ERROR ack needs). */
    void (*on_error)(void *ud, const sl_mkv_frag_error *e);
} sl_mkv_frag_callbacks;

typedef struct sl_mkv_frag sl_mkv_frag;

/* Creates a cutter; opts may be NULL for defaults. Free with sl_mkv_frag_free. */
sl_mkv_frag *sl_mkv_frag_new(const sl_mkv_frag_opts *opts, const sl_mkv_frag_callbacks *cb,
                             void *ud);
void sl_mkv_frag_free(sl_mkv_frag *f);
/* Feeds request-body bytes / declares the body's end. Completed fragments are reported inside
 * these calls, before any error found later in the input. Returns 0 or a negative SL_E* (then
 * sl_mkv_frag_last_error describes it, and the cutter refuses further input). */
int sl_mkv_frag_feed(sl_mkv_frag *f, const void *p, size_t n);
int sl_mkv_frag_finish(sl_mkv_frag *f);
const sl_mkv_frag_error *sl_mkv_frag_last_error(const sl_mkv_frag *f); /* NULL if none */
const sl_mkv_header *sl_mkv_frag_header(const sl_mkv_frag *f);         /* NULL before the header */

/* ---- Writer ---- */

typedef struct sl_mkv_writer {
    sl_buf *out; /* borrowed */
    int err;     /* first failure, latched */
    size_t depth;
    size_t open_at[SL_MKV_MAX_DEPTH];     /* offset of each open master's size field */
    uint8_t open_width[SL_MKV_MAX_DEPTH]; /* its width; 0 = unknown size, nothing to patch */
} sl_mkv_writer;

/* Binds w to out (borrowed; must outlive w). */
void sl_mkv_writer_init(sl_mkv_writer *w, sl_buf *out);
/* The latched error: 0, SL_ENOMEM, SL_EINVAL (bad nesting or a value that does not fit). */
int sl_mkv_writer_error(const sl_mkv_writer *w);

/* Low level. width is the size vint's byte count (1..8) or 0 for the shortest. */
int sl_mkv_write_id(sl_mkv_writer *w, uint32_t id);
int sl_mkv_write_size(sl_mkv_writer *w, uint64_t size, unsigned width);
int sl_mkv_write_uint(sl_mkv_writer *w, uint32_t id, uint64_t v); /* shortest */
int sl_mkv_write_uint_n(sl_mkv_writer *w, uint32_t id, uint64_t v, unsigned nbytes);
int sl_mkv_write_float(sl_mkv_writer *w, uint32_t id, double v); /* 8 bytes */
int sl_mkv_write_string(sl_mkv_writer *w, uint32_t id, const char *s, unsigned width);
int sl_mkv_write_binary(sl_mkv_writer *w, uint32_t id, const void *p, size_t n, unsigned width);
/* Opens a master element whose size is patched at close (width 1..8), or of unknown size
 * (width 0: one byte 0xFF, never patched). Closes nest; at most SL_MKV_MAX_DEPTH open. */
int sl_mkv_write_open(sl_mkv_writer *w, uint32_t id, unsigned width);
int sl_mkv_write_close(sl_mkv_writer *w);

/* High level, shaped like the AWS producer's output (spec video-streams §4.1). */
/* EBML header + unknown-size Segment + Info + Tracks from h (h->bytes is ignored). */
int sl_mkv_write_stream_header(sl_mkv_writer *w, const sl_mkv_header *h);
/* Unknown-size Cluster + 8-byte Timecode. The cluster is not left open in w: it ends where
 * the next level-1 element starts. */
int sl_mkv_write_cluster(sl_mkv_writer *w, uint64_t timecode);
/* SimpleBlock (8-byte size) for track number track (1..127), no lacing. */
int sl_mkv_write_simple_block(sl_mkv_writer *w, uint64_t track, int16_t rel_timecode, int keyframe,
                              const void *p, size_t n);
/* Level-1 Tags → Tag → one SimpleTag per (names[i], values[i]); every size a vint of width
 * bytes (4 for the service's tags, 8 for the producer's). */
int sl_mkv_write_tags(sl_mkv_writer *w, const char *const *names, const char *const *values,
                      size_t n, unsigned width);

/* GetMedia framing (mkv_tags.c), appended to out; return 0 or SL_ENOMEM / SL_EINVAL.
 * Prefix: header bytes (sl_mkv_header.bytes), then service Tags FRAGMENT_NUMBER,
 * SERVER_TIMESTAMP, PRODUCER_TIMESTAMP (epoch seconds with 3 decimals). The stored cluster
 * follows it, then the suffix: Tags MILLIS_BEHIND_NOW, CONTINUATION_TOKEN. */
int sl_mkv_getmedia_prefix(sl_buf *out, sl_slice header, const char *fragment_number,
                           int64_t server_ts_ms, int64_t producer_ts_ms);
int sl_mkv_getmedia_suffix(sl_buf *out, int64_t millis_behind_now, const char *continuation_token);
/* Error end of a GetMedia stream: Tags FRAGMENT_NUMBER, ERROR_CODE, ERROR_ID. */
int sl_mkv_getmedia_error(sl_buf *out, const char *fragment_number, int error_id,
                          const char *error_code);

#endif
