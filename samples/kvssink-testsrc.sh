#!/usr/bin/env bash
# Test pattern (H.264, 640x480, 25 fps, one-second fragments) into stream $STREAM.
# Usage: samples/kvssink-testsrc.sh [frames]    (default: run until Ctrl-C)
set -euo pipefail
source "$(dirname "$0")/kvssink-env.sh"
N="${1:--1}"
exec gst-launch-1.0 -e videotestsrc is-live=true num-buffers="$N" \
  ! video/x-raw,width=640,height=480,framerate=25/1,format=I420 \
  ! x264enc tune=zerolatency key-int-max=25 bframes=0 \
  ! h264parse ! video/x-h264,stream-format=avc,alignment=au \
  ! kvssink stream-name="$STREAM"
