#!/usr/bin/env bash
# A V4L2 webcam (default /dev/video0) encoded to H.264 into stream $STREAM.
# Usage: samples/kvssink-webcam.sh [/dev/videoN]
set -euo pipefail
source "$(dirname "$0")/kvssink-env.sh"
DEV="${1:-/dev/video0}"
exec gst-launch-1.0 -e v4l2src device="$DEV" do-timestamp=true ! videoconvert \
  ! video/x-raw,format=I420 ! x264enc tune=zerolatency key-int-max=30 bframes=0 bitrate=2000 \
  ! h264parse ! video/x-h264,stream-format=avc,alignment=au \
  ! kvssink stream-name="$STREAM"
