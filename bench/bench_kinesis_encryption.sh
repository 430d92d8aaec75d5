#!/usr/bin/env bash
# Cost of Kinesis encryption at rest: the same loadgen loads against two 4-shard streams of one
# sluiced, "plain" (EncryptionType NONE) and "sealed" (StartStreamEncryption KMS,
# alias/aws/kinesis: every record AES-256-GCM sealed on write and opened on read), then a table
# with the ratios.
#
# Loads:
#   putrecords  PutRecords, 500 records of SIZE bytes (default 100), 8 connections, 8 in flight
#   putrecord   PutRecord, SIZE bytes, 32 connections, 32 in flight
#   getrecords  GetRecords (Limit 10000) over the shards the putrecords run filled
# Loads alternate between the streams (plain, sealed, plain, sealed ... for each load) so a
# neighbour's burst on this shared machine hits both. Besides loadgen's wall-clock rates the
# script reads sluiced's CPU time from /proc around each run and prints CPU microseconds per
# record, the steadier figure.
#
# usage: bench/bench_kinesis_encryption.sh BUILD [-d SECONDS] [-s SIZE] [--loads L,L]
# Needs: BUILD/gateway/sluiced, BUILD/bench/loadgen, /usr/bin/python3 with boto3.
set -euo pipefail

build=${1:?usage: bench_kinesis_encryption.sh BUILD [-d SECONDS] [-s SIZE] [--loads L,L]}
shift
build=$(cd "$build" && pwd)
dur=6
size=100
loads="putrecords,putrecord,getrecords"
while [ $# -gt 0 ]; do
    case "$1" in
    -d) dur=$2; shift 2 ;;
    -s) size=$2; shift 2 ;;
    --loads) loads=$2; shift 2 ;;
    *) echo "bench_kinesis_encryption.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

loadgen=$build/bench/loadgen
sluiced=$build/gateway/sluiced
for f in "$loadgen" "$sluiced"; do
    [ -x "$f" ] || { echo "bench_kinesis_encryption.sh: $f missing" >&2; exit 1; }
done

work=$(mktemp -d /tmp/bench_kinesis_enc.XXXXXX)
spid=""
cleanup() {
    [ -n "$spid" ] && kill "$spid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

cpu_s() {
    awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SLUICE_KINESIS_STATUS_DELAY_MS=0 "$sluiced" --listen "127.0.0.1:$port" --data-dir "$work/sluice" \
    --log-level warn >"$work/sluiced.log" 2>&1 &
spid=$!
for _ in $(seq 1 300); do grep -q '^listening on' "$work/sluiced.log" && break; sleep 0.1; done
grep -q '^listening on' "$work/sluiced.log" || { cat "$work/sluiced.log" >&2; exit 1; }
url="http://127.0.0.1:$port"
ak=$(sed -n 's/^aws_access_key_id = //p' "$work/sluice/credentials")
sk=$(sed -n 's/^aws_secret_access_key = //p' "$work/sluice/credentials")

/usr/bin/python3 - "$url" "$ak" "$sk" <<'EOF'
import sys, time, boto3
url, ak, sk = sys.argv[1:4]
k = boto3.client("kinesis", endpoint_url=url, region_name="us-east-1",
                 aws_access_key_id=ak, aws_secret_access_key=sk)
def active(name):
    deadline = time.time() + 60
    while k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamStatus"] != "ACTIVE":
        if time.time() > deadline:
            sys.exit(f"stream {name} never became ACTIVE")
        time.sleep(0.1)
for name in ("plain", "sealed"):
    k.create_stream(StreamName=name, ShardCount=4)
    active(name)
k.start_stream_encryption(StreamName="sealed", EncryptionType="KMS", KeyId="alias/aws/kinesis")
active("sealed")
assert k.put_record(StreamName="sealed", Data=b"x", PartitionKey="p")["EncryptionType"] == "KMS"
assert k.put_record(StreamName="plain", Data=b"x", PartitionKey="p")["EncryptionType"] == "NONE"
EOF

results=$work/results.txt
: >"$results"
for load in ${loads//,/ }; do
    case "$load" in
    putrecords) args=(-c 8 -i 8 -d "$dur" --kinesis-putrecords "500,$size") ;;
    putrecord) args=(-c 32 -i 32 -d "$dur" --kinesis-putrecord "$size") ;;
    getrecords) args=(-c 4 -i 4 -d "$dur" --kinesis-getrecords 10000) ;;
    *) echo "bench_kinesis_encryption.sh: unknown load $load" >&2; exit 2 ;;
    esac
    for stream in plain sealed; do
        c0=$(cpu_s "$spid")
        out=$("$loadgen" --json --sign --access-key "$ak" --secret-key "$sk" --region us-east-1 \
            --service kinesis --stream "$stream" --timeout 30 "${args[@]}" "$url/") ||
            { echo "$stream $load: loadgen failed" >&2; continue; }
        c1=$(cpu_s "$spid")
        echo "$stream $load $c0 $c1 $out" >>"$results"
        echo "  $stream $load done" >&2
    done
done

/usr/bin/python3 - "$results" "$size" <<'EOF'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    stream, load, c0, c1, js = line.split(" ", 4)
    r = json.loads(js)
    cpu = float(c1) - float(c0)
    recs = r["records_ok"] or r["requests"]
    r["cpu_us_per_record"] = 1e6 * cpu / recs if recs else float("nan")
    r["cpu_pct"] = 100 * cpu / r["wall_s"]
    rows[(stream, load)] = r
print("record size %s B" % sys.argv[2])
print("%-7s %-11s %12s %10s %9s %9s %10s %11s" % (
    "stream", "load", "records/s", "req/s", "p50 ms", "p99 ms", "srv CPU %", "CPU us/rec"))
loads = []
for (s, l) in rows:
    if l not in loads:
        loads.append(l)
for l in loads:
    for s in ("plain", "sealed"):
        r = rows.get((s, l))
        if not r:
            continue
        print("%-7s %-11s %12.0f %10.0f %9.3f %9.3f %10.0f %11.2f" % (
            s, l, r["records_per_s"], r["rps"], r["latency_ms"]["p50"], r["latency_ms"]["p99"],
            r["cpu_pct"], r["cpu_us_per_record"]))
        bad = r["errors_total"] + r["records_failed"] + sum(
            v for k, v in r["status"].items() if not k.startswith("2"))
        if bad:
            print("        ^ errors %d, failed records %d, status %s" % (
                r["errors_total"], r["records_failed"], r["status"]))
print()
print("sealed / plain (wall-clock rates are noisy on a shared machine; CPU per record less so):")
for l in loads:
    a, b = rows.get(("sealed", l)), rows.get(("plain", l))
    if a and b and b["records_per_s"] > 0:
        print("  %-11s records/s x%.2f   CPU per record %+.2f us (x%.2f)" % (
            l, a["records_per_s"] / b["records_per_s"],
            a["cpu_us_per_record"] - b["cpu_us_per_record"],
            a["cpu_us_per_record"] / b["cpu_us_per_record"]))
EOF
