#!/usr/bin/env bash
# Test pattern plus a test tone (H.264 + AAC in one stream: track 1 video, track 2 audio).
# Usage: samples/kvssink-av.sh
set -euo pipefail
source "$(dirname "$0")/kvssink-env.sh"
exec gst-launch-1.0 -e \
  videotestsrc is-live=true ! video/x-raw,width=640,height=480,framerate=25/1,format=I420 \
  ! x264enc tune=zerolatency key-int-max=25 bframes=0 \
  ! h264parse ! video/x-h264,stream-format=avc,alignment=au ! kvssink name=sink stream-name="$STREAM" \
  audiotestsrc is-live=true ! audioconvert ! avenc_aac ! aacparse ! sink.audio_0
