"""Fixtures for Sluice end-to-end tests.

Each test that needs a gateway gets a real `sluiced` (path in $SLUICED, set by ctest) started on
127.0.0.1:0 with a fresh temporary data folder and a credentials file holding known keys. The
fixture waits for the daemon's "listening on http://HOST:PORT" line (never a fixed sleep), and
stops it with SIGTERM at the end, asserting a clean exit 0.
"""
import os
import re
import signal
import subprocess
import tempfile
import threading

import pytest

ACCESS_KEY = "AKIASLUICETEST000001"
SECRET_KEY = "sluice/test/secret/key/0000000000000000001"
OTHER_ACCESS_KEY = "AKIASLUICETEST000002"
OTHER_SECRET_KEY = "sluice/test/secret/key/0000000000000000002"
REGION = "us-east-1"


def sluiced_path():
    path = os.environ.get("SLUICED")
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(here, "..", "..", "build", "gateway", "sluiced")
    assert os.path.exists(path), f"sluiced not built at {path}"
    return path


class Gateway:
    """A running sluiced process."""

    def __init__(self, args=(), credentials=True, data_dir=None, env=None):
        self.tmp = tempfile.TemporaryDirectory(prefix="sluice-e2e-")
        self.data_dir = data_dir or os.path.join(self.tmp.name, "data")
        self.access_key, self.secret_key, self.region = ACCESS_KEY, SECRET_KEY, REGION
        cmd = [sluiced_path(), "--listen", "127.0.0.1:0", "--data-dir", self.data_dir]
        if credentials:
            self.credentials_file = os.path.join(self.tmp.name, "credentials")
            with open(self.credentials_file, "w") as f:
                f.write(f"[default]\naws_access_key_id = {ACCESS_KEY}\n"
                        f"aws_secret_access_key = {SECRET_KEY}\n\n"
                        f"[other]\naws_access_key_id={OTHER_ACCESS_KEY}\n"
                        f"aws_secret_access_key={OTHER_SECRET_KEY}\n")
            cmd += ["--credentials", self.credentials_file]
        cmd += list(args)
        self.cmd = cmd
        self.env = dict(os.environ, **(env or {}))
        self.start()

    def start(self, timeout=30):
        self.stderr_lines = []
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=self.env)
        self._err_thread = threading.Thread(target=self._drain_stderr, daemon=True)
        self._err_thread.start()
        ready = threading.Event()
        result = {}

        def read_stdout():
            for line in self.proc.stdout:
                m = re.match(r"listening on (https?://\S+)", line)
                if m and not ready.is_set():
                    result["url"] = m.group(1)
                    ready.set()
            ready.set()

        threading.Thread(target=read_stdout, daemon=True).start()
        if not ready.wait(timeout) or "url" not in result:
            self.proc.kill()
            raise RuntimeError("sluiced did not start:\n" + "".join(self.stderr_lines))
        self.url = result["url"]
        self.port = int(self.url.rsplit(":", 1)[1])

    def _drain_stderr(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    @property
    def stderr(self):
        return "".join(self.stderr_lines)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("sluiced did not stop within %ds" % timeout)
        self._err_thread.join(5)
        return self.proc.returncode

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.tmp.cleanup()

    def client(self, service, access_key=None, secret_key=None, region=None, **kw):
        import boto3
        import botocore.config
        cfg = botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5,
                                     read_timeout=30, **kw)
        return boto3.client(service, endpoint_url=self.url, region_name=region or self.region,
                            aws_access_key_id=access_key or self.access_key,
                            aws_secret_access_key=secret_key or self.secret_key, config=cfg)

    def cli_env(self):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("AWS_"):
                del env[k]
        env.update(AWS_ACCESS_KEY_ID=self.access_key, AWS_SECRET_ACCESS_KEY=self.secret_key,
                   AWS_DEFAULT_REGION=self.region, AWS_PAGER="", AWS_CONFIG_FILE="/dev/null",
                   AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        return env

    def aws(self, *args, check=True):
        """Runs Debian's AWS CLI against this gateway; returns CompletedProcess."""
        cmd = ["/usr/bin/aws", "--endpoint-url", self.url, "--output", "json", *args]
        p = subprocess.run(cmd, env=self.cli_env(), capture_output=True, text=True, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(f"{cmd} failed ({p.returncode}): {p.stderr}")
        return p


@pytest.fixture
def gateway():
    gw = Gateway()
    try:
        yield gw
        assert gw.stop() == 0, gw.stderr
    finally:
        gw.close()


@pytest.fixture
def make_gateway():
    made = []

    def make(*args, **kw):
        gw = Gateway(args, **kw)
        made.append(gw)
        return gw

    yield make
    for gw in made:
        gw.close()
