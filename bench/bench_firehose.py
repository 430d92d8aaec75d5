#!/usr/bin/env python3
"""Firehose benchmarks against a real sluiced (run with Debian's /usr/bin/python3).

  bench_firehose.py --sluiced build/gateway/sluiced --loadgen build/bench/loadgen [--seconds 10]

Measures, each on a fresh data folder (--auth none, loopback):
  1. DirectPut -> local folder with GZIP: loadgen sends PutRecordBatch (500 x 100 B records) on
     16 connections for --seconds; accepted records/s at the API, then how long the worker takes
     to deliver every accepted record (objects gunzipped and counted), i.e. delivered records/s.
  2. DirectPut -> HTTP endpoint (a local HTTPS receiver, Python, 8 threads): the same load; the
     receiver counts records; delivered records/s.
  3. Delivery latency at the minimum buffer interval (IntervalInSeconds 0): PutRecord ack ->
     object visible in the folder, and ack -> request at the HTTP receiver; p50/p99 of 50.
  4. Memory per delivery stream: RSS of sluiced before and after creating 200 delivery streams
     holding one buffered record each (interval 900 s), divided by 200.
Prints one JSON object with every figure.
"""
import argparse
import base64
import glob
import gzip
import http.server
import json
import os
import signal
import ssl
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request

ROLE = "arn:aws:iam::123456789012:role/bench"


class Gateway:
    def __init__(self, sluiced, env=None):
        self.tmp = tempfile.TemporaryDirectory(prefix="fh-bench-")
        self.data = os.path.join(self.tmp.name, "data")
        self.proc = subprocess.Popen([sluiced, "--listen", "127.0.0.1:0", "--data-dir", self.data,
                                      "--auth", "none", "--log", "warn"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env=dict(os.environ, **(env or {})))
        line = self.proc.stdout.readline()
        self.url = line.split()[-1]

    def call(self, op, body):
        req = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Firehose_20150804." + op})
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read() or b"{}")

    def create(self, name, **dest):
        self.call("CreateDeliveryStream", dict(DeliveryStreamName=name, **dest))
        while self.call("DescribeDeliveryStream", {"DeliveryStreamName": name})[
                "DeliveryStreamDescription"]["DeliveryStreamStatus"] != "ACTIVE":
            time.sleep(0.02)

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        self.tmp.cleanup()


class Receiver:
    """HTTPS Firehose receiver that counts records and notes arrival times."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="fh-bench-recv-")
        self.cert = os.path.join(self.tmp.name, "c.pem")
        key = os.path.join(self.tmp.name, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", self.cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        self.records, self.arrivals, self.lock = 0, [], threading.Lock()
        recv = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with recv.lock:
                    recv.records += len(body["records"])
                    recv.arrivals.append((time.time(), body["records"]))
                out = json.dumps({"requestId": body["requestId"],
                                  "timestamp": int(time.time() * 1000)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.tmp.cleanup()


def load(loadgen, gw, name, seconds):
    recs = [{"Data": base64.b64encode(os.urandom(100)).decode()} for _ in range(500)]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"DeliveryStreamName": name, "Records": recs}, f)
    out = subprocess.run([loadgen, "-c", "16", "-t", "2", "-d", str(seconds), "-X", "POST",
                          "-H", "Content-Type: application/x-amz-json-1.1",
                          "-H", "X-Amz-Target: Firehose_20150804.PutRecordBatch",
                          "--body-file", f.name, "--json", gw.url + "/"],
                         check=True, capture_output=True, text=True).stdout
    os.unlink(f.name)
    res = json.loads(out)
    ok = res.get("status", {}).get("200", 0) if isinstance(res.get("status"), dict) else None
    return res, ok


_counted = {}


def count_gz(root):
    """Records (100 bytes each) in the delivered objects; objects never change once visible."""
    for p in glob.glob(os.path.join(root, "**", "*.gz"), recursive=True):
        if p not in _counted:
            with gzip.open(p, "rb") as f:
                _counted[p] = len(f.read()) // 100
    return sum(v for k, v in _counted.items() if k.startswith(root))


def wait_for(fn, want, timeout=300):
    end = time.time() + timeout
    while time.time() < end:
        got = fn()
        if got >= want:
            return time.time(), got
        time.sleep(0.05)
    return time.time(), fn()


def s3_dest(bucket, interval, size=64, comp="GZIP"):
    return {"ExtendedS3DestinationConfiguration": {
        "RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}", "CompressionFormat": comp,
        "BufferingHints": {"SizeInMBs": size, "IntervalInSeconds": interval}}}


def http_dest(url, interval, size=64):
    return {"HttpEndpointDestinationConfiguration": {
        "EndpointConfiguration": {"Url": url}, "RoleARN": ROLE,
        "BufferingHints": {"SizeInMBs": size, "IntervalInSeconds": interval},
        "S3Configuration": {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::failed"}}}


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluiced", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--seconds", type=int, default=10)
    a = ap.parse_args()
    fig = {}

    # 1. DirectPut -> folder, GZIP.
    gw = Gateway(a.sluiced)
    gw.create("gz", **s3_dest("gz", 5, size=16))
    res, ok = load(a.loadgen, gw, "gz", a.seconds)
    accepted = (ok if ok is not None else res["requests"]) * 500
    t0 = time.time()
    t1, got = wait_for(lambda: count_gz(os.path.join(gw.data, "s3", "gz")), accepted)
    fig["s3_gzip"] = {"api_records_per_s": round(accepted / a.seconds),
                      "accepted": accepted, "delivered": got,
                      "drain_s_after_load": round(t1 - t0, 2),
                      "delivered_records_per_s": round(got / (a.seconds + t1 - t0)),
                      "loadgen": {k: res.get(k) for k in ("requests", "latency_ms", "status")}}
    gw.stop()

    # 2. DirectPut -> HTTP endpoint.
    recv = Receiver()
    gw = Gateway(a.sluiced, env={"SLUICE_FIREHOSE_HTTP_CA_FILE": recv.cert})
    gw.create("h", **http_dest(recv.url, 1, size=4))
    res, ok = load(a.loadgen, gw, "h", a.seconds)
    accepted = (ok if ok is not None else res["requests"]) * 500
    t0 = time.time()
    t1, got = wait_for(lambda: recv.records, accepted)
    fig["http"] = {"api_records_per_s": round(accepted / a.seconds), "accepted": accepted,
                   "delivered": got, "drain_s_after_load": round(t1 - t0, 2),
                   "delivered_records_per_s": round(got / (a.seconds + t1 - t0))}
    gw.stop()

    # 3. Latency at IntervalInSeconds 0.
    gw = Gateway(a.sluiced, env={"SLUICE_FIREHOSE_HTTP_CA_FILE": recv.cert})
    gw.create("lat", **s3_dest("lat", 0, size=1, comp="UNCOMPRESSED"))
    gw.create("lath", **http_dest(recv.url, 0, size=1))
    s3_lat, http_lat = [], []
    root = os.path.join(gw.data, "s3", "lat")
    for i in range(50):
        before = len(glob.glob(os.path.join(root, "**", "lat-*"), recursive=True))
        gw.call("PutRecord", {"DeliveryStreamName": "lat",
                              "Record": {"Data": base64.b64encode(b"x").decode()}})
        t = time.time()
        while len(glob.glob(os.path.join(root, "**", "lat-*"), recursive=True)) == before:
            time.sleep(0.0005)
        s3_lat.append((time.time() - t) * 1000)
        n = len(recv.arrivals)
        gw.call("PutRecord", {"DeliveryStreamName": "lath",
                              "Record": {"Data": base64.b64encode(b"y").decode()}})
        t = time.time()
        while len(recv.arrivals) == n:
            time.sleep(0.0005)
        http_lat.append((recv.arrivals[-1][0] - t) * 1000)
    fig["latency_ms_interval0"] = {
        "s3_folder": {"p50": round(statistics.median(s3_lat), 1), "p99": round(pct(s3_lat, 99), 1)},
        "http": {"p50": round(statistics.median(http_lat), 1), "p99": round(pct(http_lat, 99), 1)}}
    gw.stop()
    recv.close()

    # 4. Memory per delivery stream.
    gw = Gateway(a.sluiced, env={"SLUICE_FIREHOSE_MAX_STREAMS": "1000",
                                 "SLUICE_FIREHOSE_STATUS_DELAY_MS": "0"})
    gw.create("warm", **s3_dest("m", 900, size=5))
    gw.call("PutRecord", {"DeliveryStreamName": "warm", "Record": {"Data": "eA=="}})
    time.sleep(0.5)
    base = gw.rss_kib()
    for i in range(200):
        gw.create(f"m{i}", **s3_dest("m", 900, size=5))
        gw.call("PutRecord", {"DeliveryStreamName": f"m{i}",
                              "Record": {"Data": base64.b64encode(b"z" * 100).decode()}})
    time.sleep(1)
    fig["memory_per_stream_kib"] = round((gw.rss_kib() - base) / 200, 1)
    gw.stop()
    print(json.dumps(fig, indent=2))


if __name__ == "__main__":
    main()
