#!/usr/bin/env bash
# Kinesis Data Streams throughput: sluiced against kinesalite, the same loadgen loads, one target
# after the other, then a table with the ratios.
#
# Loads (issue 3):
#   putrecords  PutRecords, 500 records of 100 B, 8 connections, 8 requests in flight
#   putrecord   PutRecord, 100 B, 32 connections, 32 in flight
#   getrecords  GetRecords (Limit 10000) on a warm shard filled by the putrecords run (loadgen
#               --kinesis-getrecords: GetShardIterator TRIM_HORIZON, then follows
#               NextShardIterator, starting over at the end of the shard)
# Each target gets a fresh stream "bench" (4 shards, or --shards N). sluiced runs from BUILD with a
# fresh data folder
# (every acknowledged record is fdatasync'd); kinesalite runs from bench/node_modules (npm ci in
# bench/), in memory (its default: no --path), plain HTTP. Besides loadgen's figures the script
# reads the server's CPU time (utime + stime of the whole process from /proc) around each run and
# prints CPU microseconds per request and per record: on a shared machine that figure is far
# steadier than the rates. First it times the disk under the data folder (100 B append +
# fdatasync, one after another) and prints that above the table: a PutRecord waits for the
# group commit running when it arrives and then for its own, and a group commit over several
# shards lasts as long as its slowest fdatasync, so that figure bounds the PutRecord load.
#
# usage: bench/bench_kinesis.sh BUILD [-d SECONDS] [--only sluiced|kinesalite] [--loads L,L]
#                               [--shards N]
# Needs: BUILD/gateway/sluiced, BUILD/bench/loadgen, /usr/bin/python3 with boto3, node + npm
# (bench/node_modules is installed with `npm ci` when missing).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: bench_kinesis.sh BUILD [-d SECONDS] [--only sluiced|kinesalite] [--loads L,L] [--shards N]}
shift
build=$(cd "$build" && pwd)
dur=6
only=""
loads="putrecords,putrecord,getrecords"
shards=4
while [ $# -gt 0 ]; do
    case "$1" in
    -d) dur=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --loads) loads=$2; shift 2 ;;
    --shards) shards=$2; shift 2 ;;
    *) echo "bench_kinesis.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

loadgen=$build/bench/loadgen
sluiced=$build/gateway/sluiced
for f in "$loadgen" "$sluiced"; do
    [ -x "$f" ] || { echo "bench_kinesis.sh: $f missing (build sluiced and loadgen)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/bench_kinesis.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Creates the stream "bench" with $shards shards and waits for ACTIVE. args: URL AK SK
make_stream() {
    /usr/bin/python3 - "$@" "$shards" <<'EOF'
import sys, time, boto3
url, ak, sk, shards = sys.argv[1:5]
k = boto3.client("kinesis", endpoint_url=url, region_name="us-east-1",
                 aws_access_key_id=ak, aws_secret_access_key=sk)
k.create_stream(StreamName="bench", ShardCount=int(shards))
deadline = time.time() + 60
while time.time() < deadline:
    if k.describe_stream_summary(StreamName="bench")["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
        sys.exit(0)
    time.sleep(0.1)
sys.exit("stream bench never became ACTIVE")
EOF
}

# Total CPU seconds (user + system, all threads) of a process.
cpu_s() {
    awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}

results=$work/results.txt
: >"$results"

# The disk under the data folder: 400 appends of 100 B, each followed by fdatasync.
disk=$(/usr/bin/python3 - "$work" <<'EOF'
import os, sys, time
path = os.path.join(sys.argv[1], "disk-probe")
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
lat = []
for _ in range(400):
    t = time.perf_counter()
    os.write(fd, b"x" * 100)
    os.fdatasync(fd)
    lat.append((time.perf_counter() - t) * 1e6)
os.close(fd)
os.unlink(path)
lat.sort()
print("disk: 100 B append + fdatasync, one after another: p50 %.0f us, p90 %.0f us (%d runs)"
      % (lat[len(lat) // 2], lat[len(lat) * 9 // 10], len(lat)))
EOF
)

# args: TARGET PID URL AK SK
run_loads() {
    local target=$1 pid=$2 url=$3 ak=$4 sk=$5
    local lg=("$loadgen" --json --sign --access-key "$ak" --secret-key "$sk" --region us-east-1
        --service kinesis --stream bench --timeout 30)
    local load args c0 c1 out
    for load in ${loads//,/ }; do
        case "$load" in
        putrecords) args=(-c 8 -i 8 -d "$dur" --kinesis-putrecords 500,100) ;;
        putrecord) args=(-c 32 -i 32 -d "$dur" --kinesis-putrecord 100) ;;
        getrecords) args=(-c 4 -i 4 -d "$dur" --kinesis-getrecords 10000) ;;
        *) echo "bench_kinesis.sh: unknown load $load" >&2; exit 2 ;;
        esac
        c0=$(cpu_s "$pid")
        out=$("${lg[@]}" "${args[@]}" "$url") || { echo "$target $load: loadgen failed" >&2; out=""; }
        c1=$(cpu_s "$pid")
        [ -n "$out" ] || continue
        echo "$target $load $c0 $c1 $dur $out" >>"$results"
        echo "  $target $load done" >&2
    done
}

# The putrecords load first fills the shards that getrecords then reads.
if [ "$only" != "kinesalite" ]; then
    port=$(free_port)
    "$sluiced" --listen "127.0.0.1:$port" --data-dir "$work/sluice" --log-level warn \
        >"$work/sluiced.log" 2>&1 &
    spid=$!
    pids+=("$spid")
    for _ in $(seq 1 300); do grep -q '^listening on' "$work/sluiced.log" && break; sleep 0.1; done
    grep -q '^listening on' "$work/sluiced.log" || { cat "$work/sluiced.log" >&2; exit 1; }
    ak=$(sed -n 's/^aws_access_key_id = //p' "$work/sluice/credentials")
    sk=$(sed -n 's/^aws_secret_access_key = //p' "$work/sluice/credentials")
    make_stream "http://127.0.0.1:$port" "$ak" "$sk"
    echo "sluiced on port $port" >&2
    run_loads sluiced "$spid" "http://127.0.0.1:$port/" "$ak" "$sk"
    kill "$spid"
    wait "$spid" 2>/dev/null || true
fi

if [ "$only" != "sluiced" ]; then
    if [ ! -f "$here/node_modules/kinesalite/cli.js" ]; then
        (cd "$here" && npm ci --no-audit --no-fund >&2)
    fi
    port=$(free_port)
    node "$here/node_modules/kinesalite/cli.js" --port "$port" --createStreamMs 0 \
        >"$work/kinesalite.log" 2>&1 &
    kpid=$!
    pids+=("$kpid")
    for _ in $(seq 1 300); do
        /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),1)" \
            2>/dev/null && break
        sleep 0.1
    done
    make_stream "http://127.0.0.1:$port" AKIDBENCH secretbench
    echo "kinesalite on port $port" >&2
    run_loads kinesalite "$kpid" "http://127.0.0.1:$port/" AKIDBENCH secretbench
    kill "$kpid"
    wait "$kpid" 2>/dev/null || true
fi

echo "$disk"
/usr/bin/python3 - "$results" <<'EOF'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    target, load, c0, c1, dur, js = line.split(" ", 5)
    r = json.loads(js)
    cpu = float(c1) - float(c0)
    r["server_cpu_s"] = cpu
    r["cpu_us_per_req"] = 1e6 * cpu / r["requests"] if r["requests"] else float("nan")
    recs = r["records_ok"] or r["requests"]
    r["cpu_us_per_record"] = 1e6 * cpu / recs if recs else float("nan")
    rows[(target, load)] = r
loads = []
for (t, l) in rows:
    if l not in loads:
        loads.append(l)
print("%-10s %-11s %12s %10s %9s %9s %9s %11s %11s %11s" % (
    "target", "load", "records/s", "req/s", "MB/s", "p50 ms", "p99 ms", "srv CPU %",
    "CPU us/req", "CPU us/rec"))
for l in loads:
    for t in ("sluiced", "kinesalite"):
        r = rows.get((t, l))
        if not r:
            continue
        print("%-10s %-11s %12.0f %10.0f %9.2f %9.3f %9.3f %11.0f %11.1f %11.2f" % (
            t, l, r["records_per_s"], r["rps"], r["payload_mb_per_s"], r["latency_ms"]["p50"],
            r["latency_ms"]["p99"], 100 * r["server_cpu_s"] / r["wall_s"], r["cpu_us_per_req"],
            r["cpu_us_per_record"]))
        bad = r["errors_total"] + r["records_failed"] + sum(
            v for k, v in r["status"].items() if not k.startswith("2"))
        if bad:
            print("           ^ errors %d, failed records %d, status %s" % (
                r["errors_total"], r["records_failed"], r["status"]))
both = [l for l in loads if ("sluiced", l) in rows and ("kinesalite", l) in rows]
if both:
    print()
    print("sluiced / kinesalite (wall-clock rates; noisy on a shared machine):")
for l in both:
    a, b = rows.get(("sluiced", l)), rows.get(("kinesalite", l))
    if a and b and b["records_per_s"] > 0:
        print("  %-11s records/s x%.1f   p99 %.3f ms vs %.3f ms   CPU per record x%.1f less" % (
            l, a["records_per_s"] / b["records_per_s"], a["latency_ms"]["p99"],
            b["latency_ms"]["p99"], b["cpu_us_per_record"] / a["cpu_us_per_record"]
            if a["cpu_us_per_record"] > 0 else float("nan")))
EOF
