#!/bin/sh
# Kinesis Video PutMedia benchmark: starts a sluiced (--auth none, fresh data folder), runs
# bench_putmedia against it for each stream count at real-time pace (2 Mbit/s per stream by
# default), then one session at full speed, and prints one result line per run.
#
# Usage: bench/bench_putmedia.sh BUILD_DIR [STREAM_COUNTS] [SECONDS]
#   BUILD_DIR      a build with sluiced and bench_putmedia (Release recommended)
#   STREAM_COUNTS  space-separated, default "50 100 200 300 400 500"
#   SECONDS        per run, default 15
# Environment: SHARED_DIR (default ../shared next to the source tree) for the MKV capture,
#   RATE_BPS (default 2000000).
set -eu
BUILD=${1:?usage: bench_putmedia.sh BUILD_DIR [STREAM_COUNTS] [SECONDS]}
COUNTS=${2:-"50 100 200 300 400 500"}
SECS=${3:-15}
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${SHARED_DIR:-$HERE/../../shared}
FILE=$SHARED/captures/kvssink-putmedia.mkv
RATE=${RATE_BPS:-2000000}
DATA=$(mktemp -d)
OUT=$(mktemp)
ulimit -n 65536 2>/dev/null || true
"$BUILD/gateway/sluiced" --listen 127.0.0.1:0 --data-dir "$DATA" --auth none \
    --log-level warn >"$OUT" 2>"$DATA.log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA" "$DATA.log" "$OUT"' EXIT
for _ in $(seq 100); do
    grep -q "listening on" "$OUT" && break
    sleep 0.1
done
PORT=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$OUT")
echo "sluiced pid $PID port $PORT; file $(basename "$FILE"); $(nproc) cores"
for n in $COUNTS; do
    "$BUILD/bench/bench_putmedia" --port "$PORT" --file "$FILE" --streams "$n" \
        --rate-bps "$RATE" --seconds "$SECS" --pid "$PID" || true
done
"$BUILD/bench/bench_putmedia" --port "$PORT" --file "$FILE" --streams 1 --full-speed \
    --seconds "$SECS" --pid "$PID" || true
