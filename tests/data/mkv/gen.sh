#!/usr/bin/env bash
# Regenerates the MKV test files in this folder (needs ffmpeg and mkvtoolnix; see
# scripts/deps.sh). The unit tests in tests/unit/mkv assert counts that ffprobe and mkvinfo
# report for these exact files, so rerunning this may require updating those counts.
#   ffmpeg-av-subs.mkv  H.264 + Vorbis + SRT: known-size Segment/clusters, SeekHead, Void, Tags,
#                       Cues, BlockGroups (subtitles)
#   ffmpeg-live.mkv     H.264 with -live 1: 8-byte unknown-size Segment
#   mkvmerge-laced.mkv  H.264 + Vorbis + AAC + PCM: EBML lacing and fixed lacing
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '1\n00:00:00,000 --> 00:00:00,800\nhello\n\n2\n00:00:01,000 --> 00:00:01,500\nworld\n' \
  >"$tmp/subs.srt"
ff="ffmpeg -v error -y"
$ff -f lavfi -i testsrc=size=64x48:rate=10:duration=2 \
  -f lavfi -i sine=frequency=440:sample_rate=8000:duration=2 -i "$tmp/subs.srt" \
  -map 0 -map 1 -map 2 -c:v libx264 -preset ultrafast -g 5 -pix_fmt yuv420p \
  -c:a libvorbis -q:a 0 -c:s srt -cluster_time_limit 500 ffmpeg-av-subs.mkv
$ff -f lavfi -i testsrc=size=64x48:rate=10:duration=1 -c:v libx264 -preset ultrafast -g 5 \
  -pix_fmt yuv420p -live 1 -f matroska ffmpeg-live.mkv
$ff -f lavfi -i sine=frequency=440:sample_rate=8000:duration=1 -c:a pcm_s16le "$tmp/a.wav"
$ff -f lavfi -i sine=frequency=440:sample_rate=8000:duration=1 -c:a libvorbis "$tmp/vorb.ogg"
$ff -f lavfi -i sine=frequency=440:sample_rate=8000:duration=1 -c:a aac -b:a 16k "$tmp/aac.m4a"
mkvmerge -q -o mkvmerge-laced.mkv ffmpeg-live.mkv "$tmp/vorb.ogg" "$tmp/aac.m4a" "$tmp/a.wav"
