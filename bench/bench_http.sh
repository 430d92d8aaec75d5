#!/usr/bin/env bash
# bench_http.sh: how fast sluiced answers tiny signed Kinesis calls, next to nginx serving a
# static file, with the same load generator, connections and duration.
#
# Usage: bench/bench_http.sh BUILD_DIR [options]
#   -d, --duration S      seconds measured per run (default 5; each run adds --warmup)
#   -w, --warmup S        seconds run before measuring (default 1)
#   -c, --connections N   keep-alive connections (default 64)
#   -p, --pipeline K      requests in flight per connection (default 1)
#   -t, --threads T       load generator threads (default 1)
#   -r, --rounds R        alternate the targets R times and report medians (default 1)
#       --no-auto         skip the reference run with nginx worker_processes auto
#       --ceiling         also measure loadgen's own ceiling (nginx auto, 256 connections,
#                         pipeline 16, 2 loadgen threads)
#       --json-out FILE   write every run's loadgen JSON there (one object per line)
#
# It builds nothing: BUILD_DIR must hold gateway/sluiced and bench/loadgen. It starts, in a
# private temp folder: sluiced (--listen 127.0.0.1:0, a fresh data folder and a credentials
# file with a known key, waiting for its "listening on http://HOST:PORT" line) and nginx as the
# current user (bench/nginx/nginx.conf.in, one worker, then worker_processes auto) serving a
# 41-byte JSON file, the size of an empty ListStreams answer. Then loadgen drives
#   (a) sluiced: POST / with X-Amz-Target: Kinesis_20131202.ListStreams, body {},
#       Content-Type application/x-amz-json-1.1, SigV4-signed per request (kinesis, us-east-1)
#   (b) nginx, one worker: GET /index.json
#   (b') the same, each GET signed like (a) (nginx ignores the headers): loadgen then does the
#       same work per request as in (a), which matters when client and server share 2 cores
#   (c) nginx, auto workers: GET /index.json
# and prints req/s, p50, p99, errors and the ratio sluiced / nginx (one worker), whose target
# is >= 0.8: sluiced serves from one loop thread, so one nginx worker is its peer. The auto run
# is for reference only (on a 2-core machine its workers compete with loadgen for the CPUs).
# Because this machine kind is small and often shared, each run also records the server's CPU
# time per request (from /proc: sluiced's process, nginx's workers) and how busy the whole
# machine was; CPU per request stays meaningful when other work steals cycles, req/s does not.
# Everything it started is stopped on exit, also on Ctrl-C. Exit status: 0 when every run got
# only 2xx answers and no errors, 1 otherwise (the ratio is reported, not enforced).
set -euo pipefail

usage() { sed -n '4,15p' "$0" | sed 's/^# \{0,1\}//'; }

[ $# -ge 1 ] || { usage >&2; exit 2; }
case "$1" in -h|--help) usage; exit 0;; esac
BUILD=$(cd "$1" && pwd)
shift
DURATION=5 WARMUP=1 CONNS=64 PIPELINE=1 THREADS=1 ROUNDS=1 AUTO=1 CEILING=0 JSON_OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    -d|--duration) DURATION=$2; shift 2;;
    -w|--warmup) WARMUP=$2; shift 2;;
    -c|--connections) CONNS=$2; shift 2;;
    -p|--pipeline) PIPELINE=$2; shift 2;;
    -t|--threads) THREADS=$2; shift 2;;
    -r|--rounds) ROUNDS=$2; shift 2;;
    --no-auto) AUTO=0; shift;;
    --ceiling) CEILING=1; shift;;
    --json-out) JSON_OUT=$2; shift 2;;
    -h|--help) usage; exit 0;;
    *) echo "bench_http.sh: unknown option $1" >&2; usage >&2; exit 2;;
  esac
done

HERE=$(cd "$(dirname "$0")" && pwd)
SLUICED=$BUILD/gateway/sluiced
LOADGEN=$BUILD/bench/loadgen
NGINX=$(command -v nginx || true)
[ -n "$NGINX" ] || NGINX=/usr/sbin/nginx
for f in "$SLUICED" "$LOADGEN" "$NGINX"; do
  [ -x "$f" ] || { echo "bench_http.sh: $f is missing (build sluiced and loadgen first)" >&2; exit 2; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-http.XXXXXX")
SLUICED_PID="" NGINX_PID=""
stop_pid() { # stop_pid PID: TERM, wait up to 5 s, then KILL
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop_pid "$NGINX_PID"; NGINX_PID=""
  stop_pid "$SLUICED_PID"; SLUICED_PID=""
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port_open() { # port_open PORT: true once something accepts on 127.0.0.1:PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# --- sluiced ----------------------------------------------------------------------------------
AK=AKIASLUICEBENCH00001
SK=bench/Secret/Key/For/Loopback/Only0000000
cat > "$TMP/credentials" <<EOF
[default]
aws_access_key_id = $AK
aws_secret_access_key = $SK
EOF
chmod 600 "$TMP/credentials"
mkdir -p "$TMP/data"
"$SLUICED" --listen 127.0.0.1:0 --data-dir "$TMP/data" --credentials "$TMP/credentials" \
  --log-level warn >"$TMP/sluiced.out" 2>"$TMP/sluiced.err" &
SLUICED_PID=$!
SLUICED_URL=""
for i in $(seq 200); do
  SLUICED_URL=$(sed -n 's/^.*listening on \(http:\/\/[^ ]*\).*$/\1/p' "$TMP/sluiced.out" | head -1)
  [ -n "$SLUICED_URL" ] && break
  kill -0 "$SLUICED_PID" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$SLUICED_URL" ]; then
  echo "bench_http.sh: sluiced did not start; its stderr:" >&2
  cat "$TMP/sluiced.err" >&2
  exit 1
fi

# --- nginx ------------------------------------------------------------------------------------
mkdir -p "$TMP/nginx/www" "$TMP/nginx/tmp"
printf '{"HasMoreStreams":false,"StreamNames":[]}' >"$TMP/nginx/www/index.json"
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user $(id -un);"
NGINX_PORT=""
start_nginx() { # start_nginx WORKERS
  stop_pid "$NGINX_PID"; NGINX_PID=""
  NGINX_PORT=$(free_port)
  sed -e "s|@PREFIX@|$TMP/nginx|g" -e "s|@PORT@|$NGINX_PORT|g" -e "s|@WORKERS@|$1|g" \
      -e "s|@USER@|$USER_LINE|g" "$HERE/nginx/nginx.conf.in" >"$TMP/nginx/nginx.conf"
  "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" \
    -g 'daemon off;' 2>>"$TMP/nginx/error.log" &
  NGINX_PID=$!
  local i
  for i in $(seq 100); do
    port_open "$NGINX_PORT" && return 0
    kill -0 "$NGINX_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "bench_http.sh: nginx did not start; its log:" >&2
  cat "$TMP/nginx/error.log" >&2
  exit 1
}

# --- runs -------------------------------------------------------------------------------------
: >"$TMP/results.jsonl"
FAILED=0
proc_ticks() { # proc_ticks PID...: user+system clock ticks of those processes (all threads)
  local t=0 p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] && t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
  done
  echo "$t"
}
machine_ticks() { # "busy idle" clock ticks of the whole machine since boot
  awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat
}
run() { # run LABEL SERVER_PIDS URL loadgen-args...  (SERVER_PIDS: space-separated)
  local label=$1 pids=$2 url=$3; shift 3
  local out s0 s1 b0 i0 b1 i1
  echo "running: $label ($DURATION s + $WARMUP s warm-up)" >&2
  # shellcheck disable=SC2086
  s0=$(proc_ticks $pids); read -r b0 i0 < <(machine_ticks)
  if ! out=$("$LOADGEN" --json -d "$DURATION" -w "$WARMUP" "$@" "$url"); then
    FAILED=1
  fi
  # shellcheck disable=SC2086
  s1=$(proc_ticks $pids); read -r b1 i1 < <(machine_ticks)
  [ -n "$out" ] || { echo "bench_http.sh: loadgen gave no result for $label" >&2; FAILED=1; return; }
  printf '%s\n' "$out" | /usr/bin/python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
label, server_ticks, busy, idle, hz = sys.argv[1], *map(int, sys.argv[2:6])
r["label"] = label
r["server_cpu_s"] = server_ticks / hz  # whole run, warm-up included, like cpu_s
r["machine_busy_pct"] = 100.0 * busy / max(1, busy + idle)
print(json.dumps(r))' "$label" $((s1 - s0)) $((b1 - b0)) $((i1 - i0)) "$(getconf CLK_TCK)" \
    >>"$TMP/results.jsonl"
}
nginx_workers() { pgrep -P "$NGINX_PID" | tr '\n' ' '; }

LOAD=(-c "$CONNS" -p "$PIPELINE" -t "$THREADS")
SIGNED=(--sign --access-key "$AK" --secret-key "$SK" --region us-east-1 --service kinesis
        -X POST -H 'Content-Type: application/x-amz-json-1.1'
        -H 'X-Amz-Target: Kinesis_20131202.ListStreams' -b '{}')
SIGNED_GET=(--sign --access-key "$AK" --secret-key "$SK" --region us-east-1 --service kinesis
            -H 'Content-Type: application/x-amz-json-1.1'
            -H 'X-Amz-Target: Kinesis_20131202.ListStreams')

# A short check first, so a refused signature shows as such and not as a slow server.
check=$("$LOADGEN" --json -n 20 -c 1 "${SIGNED[@]}" "$SLUICED_URL/" || true)
if ! printf '%s' "$check" | /usr/bin/python3 -c '
import json, sys
r = json.loads(sys.stdin.read()); sys.exit(0 if r["status"].get("200") == 20 else 1)' 2>/dev/null; then
  echo "bench_http.sh: sluiced does not answer signed ListStreams with 200: $check" >&2
  command -v curl >/dev/null && curl -sS -i --aws-sigv4 "aws:amz:us-east-1:kinesis" \
    --user "$AK:$SK" -H 'Content-Type: application/x-amz-json-1.1' \
    -H 'X-Amz-Target: Kinesis_20131202.ListStreams' -d '{}' "$SLUICED_URL/" >&2 || true
  echo >&2
  exit 1
fi

for round in $(seq "$ROUNDS"); do
  run "sluiced ListStreams (signed)" "$SLUICED_PID" "$SLUICED_URL/" "${LOAD[@]}" "${SIGNED[@]}"
  start_nginx 1
  run "nginx 1 worker, static GET" "$(nginx_workers)" "http://127.0.0.1:$NGINX_PORT/index.json" \
    "${LOAD[@]}"
  run "nginx 1 worker, GET signed like (a)" "$(nginx_workers)" \
    "http://127.0.0.1:$NGINX_PORT/index.json" "${LOAD[@]}" "${SIGNED_GET[@]}"
  if [ "$AUTO" = 1 ]; then
    start_nginx auto
    run "nginx auto workers, static GET" "$(nginx_workers)" \
      "http://127.0.0.1:$NGINX_PORT/index.json" "${LOAD[@]}"
  fi
  if [ "$CEILING" = 1 ]; then
    [ "$AUTO" = 1 ] || start_nginx auto
    run "loadgen ceiling (nginx auto, 256 c, pipeline 16)" "$(nginx_workers)" \
      "http://127.0.0.1:$NGINX_PORT/index.json" -c 256 -p 16 -t 2
  fi
  stop_pid "$NGINX_PID"; NGINX_PID=""
done
stop_pid "$NGINX_PID"; NGINX_PID=""
stop_pid "$SLUICED_PID"; SLUICED_PID=""

[ -z "$JSON_OUT" ] || cp "$TMP/results.jsonl" "$JSON_OUT"
/usr/bin/python3 - "$TMP/results.jsonl" "$CONNS" "$PIPELINE" "$THREADS" "$(nproc)" "$ROUNDS" \
  <<'EOF' || FAILED=1
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
conns, pipeline, threads, ncpu, rounds = sys.argv[2:7]
labels = list(dict.fromkeys(r["label"] for r in rows))
med = statistics.median

def summary(label):
    rs = [r for r in rows if r["label"] == label]
    # server CPU covers the warm-up too, so divide by every answer of the whole run
    def cpu_us(r):
        return 1e6 * r["server_cpu_s"] / r["answered_all"] if r["answered_all"] else 0.0
    return {
        "rps": med(r["rps"] for r in rs),
        "p50": med(r["latency_ms"]["p50"] for r in rs),
        "p99": med(r["latency_ms"]["p99"] for r in rs),
        "non2xx": sum(v for r in rs for k, v in r["status"].items() if not k.startswith("2")),
        "errors": sum(r["errors_total"] for r in rs),
        "empty": any(r["requests"] == 0 for r in rs),
        "srv_us": med(cpu_us(r) for r in rs),
        "cli": med(r["cpu_pct_of_core"] for r in rs),
        "busy": med(r["machine_busy_pct"] for r in rs),
        "sign": med(r["sign_us_per_req"] for r in rs),
        "sign_pct": med(r["sign_pct_of_cpu"] for r in rs),
    }

print(f"\nconnections {conns}, pipeline {pipeline}, loadgen threads {threads}, {ncpu} CPUs, "
      f"{rounds} round(s) (medians)")
hdr = (f"{'target':<44} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'non2xx':>6} {'errors':>6} "
       f"{'srv us/req':>10} {'client':>6} {'machine':>7}")
print(hdr)
print("-" * len(hdr))
bad, sums = False, {}
for label in labels:
    s = sums[label] = summary(label)
    bad |= s["non2xx"] > 0 or s["errors"] > 0 or s["empty"]
    print(f"{label:<44} {s['rps']:>8.0f} {s['p50']:>7.3f} {s['p99']:>7.3f} {s['non2xx']:>6} "
          f"{s['errors']:>6} {s['srv_us']:>10.1f} {s['cli']:>5.0f}% {s['busy']:>6.0f}%")
print("(srv us/req: server CPU per request; client: loadgen CPU, % of one core; machine: "
      "whole-machine CPU busy during the run)")
s = next((v for k, v in sums.items() if k.startswith("sluiced")), None)
n = sums.get("nginx 1 worker, static GET")
ns = sums.get("nginx 1 worker, GET signed like (a)")
if s and n and n["rps"] > 0:
    ratio = s["rps"] / n["rps"]
    print(f"\nratio sluiced / nginx (1 worker), req/s: {ratio:.2f}  (target >= 0.80: "
          f"{'met' if ratio >= 0.8 else 'NOT met'})")
    if ns and ns["rps"] > 0:
        print(f"ratio sluiced / nginx (1 worker) with the same client work (signed GETs): "
              f"{s['rps'] / ns['rps']:.2f}")
    if s["srv_us"] > 0:
        print(f"ratio by server CPU per request (nginx / sluiced): {n['srv_us'] / s['srv_us']:.2f}")
if s and s["sign"]:
    print(f"client-side SigV4 signing: {s['sign']:.2f} us per request, "
          f"{s['sign_pct']:.0f}% of loadgen's CPU")
busiest = max((v["busy"] for v in sums.values()), default=0)
if busiest > 0:
    print(f"machine CPU busy during runs: up to {busiest:.0f}% "
          f"(loadgen + server alone would leave some idle; more means other work shared the CPUs)")
sys.exit(1 if bad else 0)
EOF
exit "$FAILED"
