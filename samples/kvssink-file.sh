#!/usr/bin/env bash
# Uploads a video file (any container GStreamer demuxes with H.264 inside, e.g. .mp4/.mkv) in
# offline mode: fragments are stamped from file-start-time (default: now), not the wall clock,
# and the file is read as fast as the gateway acknowledges it.
# Usage: samples/kvssink-file.sh movie.mp4 [epoch-seconds]
set -euo pipefail
source "$(dirname "$0")/kvssink-env.sh"
FILE="$1"; START="${2:-$(date +%s)}"
exec gst-launch-1.0 -e filesrc location="$FILE" ! decodebin ! videoconvert \
  ! video/x-raw,format=I420 ! x264enc key-int-max=25 bframes=0 \
  ! h264parse ! video/x-h264,stream-format=avc,alignment=au \
  ! kvssink stream-name="$STREAM" streaming-type=offline file-start-time="$START"
