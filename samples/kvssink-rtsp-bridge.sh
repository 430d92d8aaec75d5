#!/usr/bin/env bash
# RTSP camera bridge: records an H.264 RTSP camera into stream $STREAM without re-encoding.
# Usage: samples/kvssink-rtsp-bridge.sh rtsp://user:pass@camera/stream
# No camera at hand? Start samples/rtsp_test_server.py --port 8554 and use
# rtsp://127.0.0.1:8554/test.
set -euo pipefail
source "$(dirname "$0")/kvssink-env.sh"
URL="$1"
exec gst-launch-1.0 -e rtspsrc location="$URL" latency=200 protocols=tcp \
  ! rtph264depay ! h264parse ! video/x-h264,stream-format=avc,alignment=au \
  ! kvssink stream-name="$STREAM"
