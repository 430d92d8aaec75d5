"""Runs a Kinesis client script written for the AWS SDK for JavaScript v3 (node, from
tests/e2e/js/node_modules) against a gateway.

The script is an ES module that gets argv [url, access key, secret key, region, *args], creates
its client as `k`, opens `try {` and prints one JSON object as its last step; TAIL closes the
try, so a failure exits non-zero with its name and message and the client is always destroyed."""
import json
import os
import subprocess

import pytest

JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")

TAIL = r"""
} catch (e) {
  console.error(`${e.name}: ${e.message}`);
  process.exitCode = 1;
} finally {
  k.destroy();
  process.exit();  // do not wait for an aborted HTTP/2 stream to wind down
}
"""


def require_sdk():
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "@aws-sdk", "client-kinesis")):
        pytest.fail("run `npm ci` in tests/e2e/js (scripts/setup-test-clients.sh does it)")


def run(gw, script, *args, timeout):
    """Runs script + TAIL; returns the JSON object it printed."""
    require_sdk()
    p = subprocess.run(["node", "--input-type=module", "-e", script + TAIL, gw.url, gw.access_key,
                        gw.secret_key, gw.region, *args], cwd=JS_DIR, capture_output=True,
                       text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr + gw.stderr
    return json.loads(p.stdout)
