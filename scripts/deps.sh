#!/usr/bin/env bash
# Installs every Debian package Sluice needs to build, test and benchmark.
# The one list used by README.md and .ci/run. Run as root (or with sudo).
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake pkg-config clang clang-format libclang-rt-14-dev git
  # libraries
  libwebsockets-dev libnghttp2-dev libhttp-parser-dev libssl-dev libsqlite3-dev libcjson-dev
  libcmocka-dev libcbor-dev
  # clients used by end-to-end tests and benchmarks
  python3 python3-boto3 python3-pytest python3-h2 python3-cbor2 awscli curl nghttp2-client nginx-light wrk
  sqlite3 procps gzip unzip
  # MKV test data generation and checks (tests/data/mkv/gen.sh, tests/unit/mkv)
  ffmpeg mkvtoolnix
  # kvssink plugin: GStreamer, libcurl, gst-check, RTSP server for the bridge test
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools
  libcurl4-openssl-dev libgstrtspserver-1.0-dev gir1.2-gst-rtsp-server-1.0 check python3-gi
  # Firehose: zlib/Snappy compression, jq queries; openssl for its tests
  libsnappy-dev libjq-dev zlib1g-dev openssl
  # playback: remuxing (HLS/DASH/GetClip), GetImages decoding, browser test of the viewer
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev chromium
)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
if [ "${1:-}" = "--list" ]; then printf '%s\n' "${PACKAGES[@]}"; exit 0; fi
$SUDO apt-get update -qq
# Node.js (for the JavaScript SDK tests) comes with the machine image; Debian's npm conflicts
# with that build, so only fall back to Debian's packages where there is none.
if ! command -v npm >/dev/null 2>&1; then PACKAGES+=(nodejs npm); fi
$SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"
