#!/usr/bin/env bash
# Regenerates the media test files in this folder (needs GStreamer with x264enc, x265enc,
# avenc_aac and matroskamux, and ffmpeg with libvpx; see scripts/deps.sh). matroskamux starts a
# Cluster at each video key frame, as the AWS producer does, so one Cluster = one fragment
# starting with a key frame. tests/unit/media asserts facts of these files (tracks, codecs,
# fragments, frame counts), so rerunning may need those updated.
#   h264-aac.mkv  3 s of 160x120 H.264 (High, 2 B-frames, key frame every 25 frames at 25 fps)
#                 + 48 kHz mono AAC-LC
#   hevc.mkv      2 s of 160x120 H.265 (Main, key frame every 25 frames at 25 fps)
#   vp8.mkv       1 s of VP8 (a codec the archived-media gate refuses)
set -euo pipefail
cd "$(dirname "$0")"
gst="gst-launch-1.0 -q"
$gst videotestsrc num-buffers=75 ! video/x-raw,format=I420,width=160,height=120,framerate=25/1 \
  ! x264enc key-int-max=25 bframes=2 speed-preset=veryfast bitrate=100 ! h264parse ! queue ! mux. \
  audiotestsrc num-buffers=141 samplesperbuffer=1024 ! audio/x-raw,rate=48000,channels=1 \
  ! avenc_aac bitrate=32000 ! aacparse ! queue ! mux. \
  matroskamux name=mux streamable=true ! filesink location=h264-aac.mkv
$gst videotestsrc num-buffers=50 ! video/x-raw,format=I420,width=160,height=120,framerate=25/1 \
  ! x265enc key-int-max=25 speed-preset=ultrafast bitrate=100 option-string=bframes=0:log-level=error \
  ! h265parse ! matroskamux streamable=true ! filesink location=hevc.mkv
ffmpeg -v error -y -f lavfi -i testsrc=size=64x48:rate=10:duration=1 -c:v libvpx -live 1 vp8.mkv
