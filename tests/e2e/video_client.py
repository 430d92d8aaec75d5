"""A small signed PutMedia client for the Kinesis Video end-to-end tests and benchmarks.

PutMedia is not in botocore, so this speaks it the way the AWS producer does: HTTP/1.1 POST
/putMedia with a chunked body, SigV4 over the x-amzn-* headers with the payload hash of the
empty string (sigv4_client.sign_headers with body b""), and a reader thread that collects the
ACK stream (one JSON event per HTTP chunk) while the body is still being sent. Every received
chunk is kept with its arrival time (time.monotonic()) so tests can check "one event per chunk"
and measure latencies."""
import json
import socket
import threading
import time
import urllib.parse

from sigv4_client import sign_headers


def clusters(data):
    """Byte offsets of level-1 Cluster IDs (1F43B675) in an MKV file (naive scan, good enough
    for pacing)."""
    out, i = [], data.find(b"\x1f\x43\xb6\x75")
    while i >= 0:
        out.append(i)
        i = data.find(b"\x1f\x43\xb6\x75", i + 4)
    return out


class PutMedia:
    def __init__(self, url, stream, access_key, secret_key, region, tc_type="ABSOLUTE",
                 start_ts=None, stream_arn=None, extra_headers=None):
        u = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        hdrs = {
            "x-amzn-fragment-acknowledgment-required": "1",
            "x-amzn-fragment-timecode-type": tc_type,
            "x-amzn-producer-start-timestamp": "%.3f" % (start_ts or time.time()),
            "transfer-encoding": "chunked",
            "connection": "keep-alive",
        }
        if stream_arn:
            hdrs["x-amzn-stream-arn"] = stream_arn
        else:
            hdrs["x-amzn-stream-name"] = stream
        hdrs.update(extra_headers or {})
        signed = sign_headers("POST", url.rstrip("/") + "/putMedia", hdrs, b"", access_key,
                              secret_key, region, "kinesisvideo")
        head = "POST /putMedia HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in signed.items())
        head += "Content-Type: application/json\r\n\r\n"
        self.sock.sendall(head.encode())
        self.status = None
        self.headers = {}
        self.chunks = []  # (monotonic time, bytes) per response chunk
        self.done = threading.Event()
        self.error = None
        self._rbuf = b""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    # ---- sending ----
    def send(self, data):
        if data:
            self.sock.sendall(b"%x\r\n" % len(data) + data + b"\r\n")

    def finish(self):
        self.sock.sendall(b"0\r\n\r\n")

    def send_paced(self, data, seconds, piece=4096):
        """Sends data in pieces spread evenly over `seconds` (real-time pace)."""
        t0 = time.monotonic()
        n = len(data)
        for off in range(0, n, piece):
            due = t0 + seconds * off / n
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self.send(data[off:off + piece])

    # ---- receiving ----
    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self._rbuf += d

    def _line(self):
        while b"\r\n" not in self._rbuf:
            self._fill()
        line, self._rbuf = self._rbuf.split(b"\r\n", 1)
        return line.decode()

    def _exact(self, n):
        while len(self._rbuf) < n:
            self._fill()
        d, self._rbuf = self._rbuf[:n], self._rbuf[n:]
        return d

    def _read(self):
        try:
            while True:
                status = self._line()
                hdrs = {}
                while True:
                    line = self._line()
                    if not line:
                        break
                    k, v = line.split(":", 1)
                    hdrs[k.strip().lower()] = v.strip()
                code = int(status.split()[1])
                if code == 100:
                    continue
                self.status, self.headers = code, hdrs
                break
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                while True:
                    size = int(self._line().split(";")[0], 16)
                    if size == 0:
                        self._line()
                        break
                    self.chunks.append((time.monotonic(), self._exact(size)))
                    self._exact(2)
            else:
                n = int(self.headers.get("content-length", "0"))
                self.chunks.append((time.monotonic(), self._exact(n)))
        except Exception as e:  # noqa: BLE001 -- recorded for the test to inspect
            self.error = e
        finally:
            self.done.set()

    def wait(self, timeout=60):
        assert self.done.wait(timeout), "PutMedia response did not end"
        return self

    def events(self):
        return [json.loads(c) for _, c in self.chunks if self.status == 200]

    def timed_events(self):
        return [(t, json.loads(c)) for t, c in self.chunks]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def put_file(url, stream, data, access_key, secret_key, region, seconds=0.0, **kw):
    """Uploads data as one PutMedia session (paced over `seconds` if > 0); returns the client
    after the ACK stream ended."""
    c = PutMedia(url, stream, access_key, secret_key, region, **kw)
    try:
        if seconds > 0:
            c.send_paced(data, seconds)
        else:
            for off in range(0, len(data), 65536):
                c.send(data[off:off + 65536])
        c.finish()
        c.wait()
    finally:
        c.close()
    return c


def cluster_timecodes(data):
    """Timecodes of the producer-style clusters (ID, unknown size 0xFF, Timecode E7 88 + 8
    bytes) in data."""
    out = []
    for off in clusters(data):
        p = off + 5
        if data[p] == 0xE7 and data[p + 1] == 0x88:
            out.append(int.from_bytes(data[p + 2:p + 10], "big"))
    return out


def media_request(url, path, payload, access_key, secret_key, region, timeout=30):
    """Signed REST-JSON POST whose response is streamed (GetMedia, GetMediaForFragmentList);
    returns (connection, response) with the body unread."""
    import http.client
    body = json.dumps(payload).encode()
    u = urllib.parse.urlsplit(url)
    h = sign_headers("POST", url.rstrip("/") + path, {"Content-Type": "application/json"}, body,
                     access_key, secret_key, region, "kinesisvideo")
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    conn.request("POST", path, body, {k: v for k, v in h.items() if k != "Host"})
    return conn, conn.getresponse()


TOKEN_TAG = b"AWS_KINESISVIDEO_CONTINUATION_TOKEN"


def read_fragments(resp, n, timeout=30):
    """Reads a GetMedia body until n fragments (their trailing continuation-token tags) arrived.
    Returns (bytes, [monotonic arrival time of each fragment's end])."""
    out, times, deadline = b"", [], time.monotonic() + timeout
    while len(times) < n and time.monotonic() < deadline:
        d = resp.read1(65536)
        if not d:
            break
        out += d
        while out.count(TOKEN_TAG) > len(times):
            times.append(time.monotonic())
    return out, times
