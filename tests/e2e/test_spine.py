"""The gateway spine end to end: a real sluiced driven by boto3, the AWS CLI, the AWS SDK for
JavaScript v3 (HTTP/2) and raw signed HTTP; authentication refusals; health, metrics, shutdown."""
import datetime
import json
import os
import shutil
import signal
import stat
import subprocess
import urllib.request

import botocore.exceptions
import pytest

import sigv4_client
from conftest import OTHER_ACCESS_KEY, OTHER_SECRET_KEY

HERE = os.path.dirname(os.path.abspath(__file__))
JSON11 = "application/x-amz-json-1.1"


def kinesis_post(gw, target, body=b"{}", when=None, secret=None, access=None, region=None,
                 service="kinesis", headers=None):
    h = {"Content-Type": JSON11, "X-Amz-Target": f"Kinesis_20131202.{target}"}
    h.update(headers or {})
    h = sigv4_client.sign_headers("POST", gw.url + "/", h, body, access or gw.access_key,
                                  secret or gw.secret_key, region or gw.region, service, when)
    return sigv4_client.post(gw.url + "/", h, body)


def test_health(gateway):
    with urllib.request.urlopen(gateway.url + "/health", timeout=10) as r:
        assert r.status == 200
        assert json.loads(r.read())["status"] == "ok"


def test_boto3_lists_kinesis_streams(gateway):
    out = gateway.client("kinesis").list_streams()
    assert out["StreamNames"] == []
    assert out["HasMoreStreams"] is False
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert len(out["ResponseMetadata"]["RequestId"]) == 36


def test_boto3_lists_video_streams(gateway):
    out = gateway.client("kinesisvideo").list_streams()
    assert out["StreamInfoList"] == []


def test_cli_lists_streams(gateway):
    p = gateway.aws("kinesis", "list-streams")
    assert json.loads(p.stdout)["StreamNames"] == []
    p = gateway.aws("kinesisvideo", "list-streams")
    assert json.loads(p.stdout)["StreamInfoList"] == []


def test_second_key_in_credentials_file_works(gateway):
    c = gateway.client("kinesis", access_key=OTHER_ACCESS_KEY, secret_key=OTHER_SECRET_KEY)
    assert c.list_streams()["StreamNames"] == []


def test_js_sdk_v3_over_http2(gateway):
    js = os.path.join(HERE, "js")
    assert os.path.isdir(os.path.join(js, "node_modules", "@aws-sdk", "client-kinesis")), \
        "run `npm ci` in tests/e2e/js (scripts/setup-test-clients.sh does it)"
    p = subprocess.run(["node", "list_streams.mjs", gateway.url, gateway.access_key,
                        gateway.secret_key, gateway.region], cwd=js, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["kinesis"]["StreamNames"] == []
    assert out["video"]["StreamInfoList"] == []
    with urllib.request.urlopen(gateway.url + "/metrics", timeout=10) as r:
        metrics = r.read().decode()
    # The Kinesis client must have come in over HTTP/2 (its default handler).
    assert any(l.startswith("sluice_requests_total") and 'operation="Kinesis.ListStreams"' in l
               and 'http="2"' in l for l in metrics.splitlines()), metrics


def test_unsigned_request_is_refused(gateway):
    status, headers, body = sigv4_client.post(
        gateway.url + "/", {"Content-Type": JSON11, "X-Amz-Target": "Kinesis_20131202.ListStreams",
                            "Host": f"127.0.0.1:{gateway.port}"}, b"{}")
    assert status in (400, 403)
    err = json.loads(body)
    assert err["__type"] == "MissingAuthenticationTokenException"
    assert err["message"] == "Missing Authentication Token"
    assert len(headers["x-amzn-requestid"]) == 36


def test_forged_signature_is_refused(gateway):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        gateway.client("kinesis", secret_key="not-the-secret").list_streams()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert "signature we calculated does not match" in e.value.response["Error"]["Message"]


def test_unknown_key_is_refused(gateway):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        gateway.client("kinesis", access_key="AKIAUNKNOWNKEY000000").list_streams()
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_video_forged_signature_is_refused_with_rest_json_shape(gateway):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        gateway.client("kinesisvideo", secret_key="not-the-secret").list_streams()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"].startswith(
        "InvalidSignatureException")


def test_tampered_body_is_refused(gateway):
    h = {"Content-Type": JSON11, "X-Amz-Target": "Kinesis_20131202.ListStreams"}
    h = sigv4_client.sign_headers("POST", gateway.url + "/", h, b"{}", gateway.access_key,
                                  gateway.secret_key, gateway.region, "kinesis")
    status, _, body = sigv4_client.post(gateway.url + "/", h, b'{"Limit":1}')
    assert json.loads(body)["__type"] == "InvalidSignatureException"
    status, _, body = sigv4_client.post(gateway.url + "/", h, b"{}")
    assert status == 200, body


def test_clock_skew_is_refused(gateway):
    when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
    status, _, body = kinesis_post(gateway, "ListStreams", when=when)
    err = json.loads(body)
    assert err["__type"] == "InvalidSignatureException"
    assert "Signature expired" in err["message"]
    when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
    status, _, body = kinesis_post(gateway, "ListStreams", when=when)
    assert status == 200, body


def test_wrong_service_scope_is_refused(gateway):
    status, _, body = kinesis_post(gateway, "ListStreams", service="firehose")
    assert status in (400, 403)
    assert json.loads(body)["__type"] in ("InvalidSignatureException",
                                          "IncompleteSignatureException")


def test_other_region_is_accepted_and_signed_for(gateway):
    # Like AWS, a key signs for any region; the region of the scope is the request's region.
    assert gateway.client("kinesis", region="eu-west-1").list_streams()["StreamNames"] == []


def test_unknown_operation(gateway):
    status, _, body = kinesis_post(gateway, "NoSuchOperation")
    assert status == 400
    assert json.loads(body)["__type"] == "UnknownOperationException"


def test_malformed_json(gateway):
    status, _, body = kinesis_post(gateway, "ListStreams", body=b"{not json")
    assert status == 400
    assert json.loads(body)["__type"] == "SerializationException"


def test_validation_error_message(gateway):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        gateway.client("kinesis", parameter_validation=False).list_streams(Limit=0)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["Error"]["Message"] == (
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1")


def test_metrics_count_requests(gateway):
    gateway.client("kinesis").list_streams()
    with urllib.request.urlopen(gateway.url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    lines = [l for l in text.splitlines() if l.startswith("sluice_requests_total")
             and 'operation="Kinesis.ListStreams"' in l and 'status="200"' in l]
    assert lines and float(lines[0].rsplit(" ", 1)[1]) >= 1
    assert "sluice_request_duration_seconds_bucket" in text
    assert "sluice_storage_bytes" in text


def test_first_start_generates_credentials(make_gateway):
    gw = make_gateway(credentials=False)
    path = os.path.join(gw.data_dir, "credentials")
    assert os.path.exists(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "AWS_SHARED_CREDENTIALS_FILE" in gw.stderr
    import configparser
    cp = configparser.ConfigParser()
    cp.read(path)
    gw.access_key = cp["default"]["aws_access_key_id"]
    gw.secret_key = cp["default"]["aws_secret_access_key"]
    assert gw.client("kinesis").list_streams()["StreamNames"] == []
    # A restart reuses the same key.
    assert gw.stop() == 0
    gw.start()
    assert gw.client("kinesis").list_streams()["StreamNames"] == []
    assert gw.stop() == 0


def test_auth_none_must_be_explicit_and_is_loud(make_gateway):
    gw = make_gateway("--auth", "none", credentials=False)
    assert "authentication is OFF" in gw.stderr
    status, _, body = sigv4_client.post(
        gw.url + "/", {"Content-Type": JSON11, "X-Amz-Target": "Kinesis_20131202.ListStreams",
                       "Host": f"127.0.0.1:{gw.port}"}, b"{}")
    assert status == 200, body
    assert json.loads(body)["StreamNames"] == []
    assert gw.stop() == 0


def test_sigint_stops_cleanly(make_gateway):
    gw = make_gateway()
    gw.client("kinesis").list_streams()
    assert gw.stop(signal.SIGINT) == 0


def test_bad_flags_are_refused():
    from conftest import sluiced_path
    p = subprocess.run([sluiced_path(), "--listen", "nonsense"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 2
    assert "HOST:PORT" in p.stderr
