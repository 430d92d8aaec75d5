"""Kinesis resource policies, account settings and warm throughput end to end against a real
sluiced, with boto3 and the AWS CLI. Debian's botocore (1.29) predates these operations, so both
clients are pointed at the current model in shared/aws-models through AWS_DATA_PATH (botocore's
own mechanism for extra service models): the requests are still built, signed and parsed by the
unmodified clients.

Covered: Put/Get/DeleteResourcePolicy on a stream and on a consumer ARN (verbatim storage, "{}"
when none, survives a restart, dies with its stream), every modelled error we produce
(ResourceNotFoundException, InvalidArgumentException for bad JSON, too large, bad consumer ARN;
ValidationException from the model's ARN pattern); DescribeAccountSettings /
UpdateAccountSettings through ENABLED -> ENABLED_UNTIL_EARLIEST_ALLOWED_END -> DISABLED;
UpdateStreamWarmThroughput (UPDATING -> ACTIVE, DescribeStreamSummary's WarmThroughput, the
on-demand-only, commitment and 10 GiB/s rules, persistence)."""
import json
import os
import subprocess
import time

import botocore.exceptions
import pytest

import sigv4_client
from aws_models import kinesis_model_dir

ACCOUNT = "000000000000"
REGION = "us-east-1"


MODEL_DIR = kinesis_model_dir()
os.environ["AWS_DATA_PATH"] = MODEL_DIR  # before the first boto3 session of this process


def env(**kw):
    e = {"SLUICE_KINESIS_STATUS_DELAY_MS": "0"}
    e.update(kw)
    return e


def wait_status(k, name, want, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        status = k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamStatus"]
        if status == want:
            return
        assert time.monotonic() < deadline, f"{name} stuck in {status}, wanted {want}"
        time.sleep(0.05)


def make_stream(k, name, **kw):
    k.create_stream(StreamName=name, **kw)
    wait_status(k, name, "ACTIVE")
    return k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


def error_of(excinfo):
    e = excinfo.value.response["Error"]
    return e["Code"], e["Message"]


def raw_call(gw, target, body):
    """A signed JSON 1.1 call without botocore (which checks the model's minimums itself)."""
    data = json.dumps(body).encode()
    h = {"Content-Type": "application/x-amz-json-1.1",
         "X-Amz-Target": f"Kinesis_20131202.{target}"}
    h = sigv4_client.sign_headers("POST", gw.url + "/", h, data, gw.access_key, gw.secret_key,
                                  gw.region, "kinesis")
    status, _, out = sigv4_client.post(gw.url + "/", h, data)
    return status, (json.loads(out) if out else None)


def cli(gw, *args, check=True):
    e = gw.cli_env()
    e["AWS_DATA_PATH"] = MODEL_DIR
    p = subprocess.run(["/usr/bin/aws", "--endpoint-url", gw.url, "--output", "json", *args],
                       env=e, capture_output=True, text=True, timeout=120)
    if check:
        assert p.returncode == 0, p.stderr
    return p


POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Sid": "read", "Effect": "Allow",
                   "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                   "Action": ["kinesis:GetRecords", "kinesis:GetShardIterator"],
                   "Resource": "*"}]}, indent=1)


def test_resource_policies(make_gateway):
    gw = make_gateway(env=env())
    k = gw.client("kinesis")
    arn = make_stream(k, "pol", ShardCount=1)
    assert k.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"

    k.put_resource_policy(ResourceARN=arn, Policy=POLICY)
    assert k.get_resource_policy(ResourceARN=arn)["Policy"] == POLICY  # verbatim

    carn = k.register_stream_consumer(StreamARN=arn, ConsumerName="c1")["Consumer"]["ConsumerARN"]
    assert k.get_resource_policy(ResourceARN=carn)["Policy"] == "{}"
    k.put_resource_policy(ResourceARN=carn, Policy='{"Statement": []}')
    assert k.get_resource_policy(ResourceARN=carn)["Policy"] == '{"Statement": []}'

    # errors
    missing = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/missing"
    for call in (lambda: k.get_resource_policy(ResourceARN=missing),
                 lambda: k.put_resource_policy(ResourceARN=missing, Policy="{}"),
                 lambda: k.delete_resource_policy(ResourceARN=missing),
                 lambda: k.get_resource_policy(ResourceARN=carn.rsplit(":", 1)[0] + ":1"),
                 lambda: k.get_resource_policy(
                     ResourceARN=f"arn:aws:kinesis:{REGION}:111122223333:stream/pol")):
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            call()
        assert error_of(ei)[0] == "ResourceNotFoundException"
    for bad in ("not json", "[1, 2]", "{\"a\": ", "{}" + " " * 20480):
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            k.put_resource_policy(ResourceARN=arn, Policy=bad)
        assert error_of(ei)[0] == "InvalidArgumentException", bad[:20]
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.get_resource_policy(ResourceARN=f"{arn}/consumer/c1:notanumber")
    assert error_of(ei)[0] == "InvalidArgumentException"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.get_resource_policy(ResourceARN="arn:aws:s3:::bucket")
    assert error_of(ei)[0] == "ValidationException"
    assert k.get_resource_policy(ResourceARN=arn)["Policy"] == POLICY  # failed puts changed nothing

    # survives a restart
    assert gw.stop() == 0, gw.stderr
    gw.start()
    k = gw.client("kinesis")
    assert k.get_resource_policy(ResourceARN=arn)["Policy"] == POLICY
    assert k.get_resource_policy(ResourceARN=carn)["Policy"] == '{"Statement": []}'

    # delete; a second delete finds nothing
    k.delete_resource_policy(ResourceARN=carn)
    assert k.get_resource_policy(ResourceARN=carn)["Policy"] == "{}"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.delete_resource_policy(ResourceARN=carn)
    assert error_of(ei)[0] == "ResourceNotFoundException"

    # the AWS CLI
    out = json.loads(cli(gw, "kinesis", "get-resource-policy", "--resource-arn", arn).stdout)
    assert out["Policy"] == POLICY
    cli(gw, "kinesis", "put-resource-policy", "--resource-arn", arn, "--policy",
        '{"Version":"2012-10-17","Statement":[]}')
    out = json.loads(cli(gw, "kinesis", "get-resource-policy", "--resource-arn", arn).stdout)
    assert out["Policy"] == '{"Version":"2012-10-17","Statement":[]}'
    p = cli(gw, "kinesis", "put-resource-policy", "--resource-arn", arn, "--policy", "nope",
            check=False)
    assert p.returncode != 0 and "InvalidArgumentException" in p.stderr
    cli(gw, "kinesis", "delete-resource-policy", "--resource-arn", arn)
    out = json.loads(cli(gw, "kinesis", "get-resource-policy", "--resource-arn", arn).stdout)
    assert out["Policy"] == "{}"

    # a policy dies with its stream: the re-created stream has none
    k.put_resource_policy(ResourceARN=arn, Policy=POLICY)
    k.delete_stream(StreamName="pol", EnforceConsumerDeletion=True)
    deadline = time.monotonic() + 20
    while True:
        try:
            k.describe_stream_summary(StreamName="pol")
        except k.exceptions.ResourceNotFoundException:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert make_stream(k, "pol", ShardCount=1) == arn
    assert k.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"
    assert gw.stop() == 0, gw.stderr


def test_account_settings_and_warm_throughput(make_gateway):
    gw = make_gateway(env=env(SLUICE_KINESIS_COMMITMENT_MS="1500",
                              SLUICE_KINESIS_STATUS_DELAY_MS="2000"))
    k = gw.client("kinesis")
    mt = k.describe_account_settings()["MinimumThroughputBillingCommitment"]
    assert mt == {"Status": "DISABLED"}

    od = make_stream(k, "od", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    make_stream(k, "prov", ShardCount=1)
    # the commitment must be in force first
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.update_stream_warm_throughput(StreamName="od", WarmThroughputMiBps=10)
    assert error_of(ei)[0] == "InvalidArgumentException"

    before = time.time()
    mt = k.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})[
        "MinimumThroughputBillingCommitment"]
    assert mt["Status"] == "ENABLED"
    started = mt["StartedAt"].timestamp()
    assert before - 2 <= started <= time.time() + 2
    assert abs(mt["EarliestAllowedEndAt"].timestamp() - (started + 1.5)) < 0.01
    assert k.describe_account_settings()["MinimumThroughputBillingCommitment"] == mt

    # warm throughput: on-demand only, <= 10 GiB/s, then UPDATING -> ACTIVE
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.update_stream_warm_throughput(StreamName="prov", WarmThroughputMiBps=10)
    assert error_of(ei)[0] == "InvalidArgumentException"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.update_stream_warm_throughput(StreamName="od", WarmThroughputMiBps=10241)
    assert error_of(ei)[0] == "LimitExceededException"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.update_stream_warm_throughput(StreamName="nope", WarmThroughputMiBps=1)
    assert error_of(ei)[0] == "ResourceNotFoundException"
    status, body = raw_call(gw, "UpdateStreamWarmThroughput",
                            {"StreamName": "od", "WarmThroughputMiBps": -1})
    assert status == 400 and body["__type"] == "ValidationException", body
    status, body = raw_call(gw, "UpdateAccountSettings",
                            {"MinimumThroughputBillingCommitment": {"Status": "MAYBE"}})
    assert status == 400 and body["__type"] == "ValidationException", body
    s = k.describe_stream_summary(StreamName="od")["StreamDescriptionSummary"]
    assert "WarmThroughput" not in s

    out = k.update_stream_warm_throughput(StreamARN=od, WarmThroughputMiBps=100)
    assert out["StreamARN"] == od and out["StreamName"] == "od"
    assert out["WarmThroughput"] == {"TargetMiBps": 100, "CurrentMiBps": 0}
    s = k.describe_stream_summary(StreamName="od")["StreamDescriptionSummary"]
    assert s["StreamStatus"] == "UPDATING"  # the status delay is 2 s
    assert s["WarmThroughput"] == {"TargetMiBps": 100, "CurrentMiBps": 0}
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.update_stream_warm_throughput(StreamName="od", WarmThroughputMiBps=200)
    assert error_of(ei)[0] == "ResourceInUseException"
    wait_status(k, "od", "ACTIVE")
    s = k.describe_stream_summary(StreamName="od")["StreamDescriptionSummary"]
    assert s["WarmThroughput"] == {"TargetMiBps": 100, "CurrentMiBps": 100}
    out = json.loads(cli(gw, "kinesis", "update-stream-warm-throughput", "--stream-name", "od",
                         "--warm-throughput-mi-bps", "250").stdout)
    assert out["WarmThroughput"] == {"TargetMiBps": 250, "CurrentMiBps": 100}
    wait_status(k, "od", "ACTIVE")

    # CreateStream takes WarmThroughputMiBps under the same rules, and describes it at once
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.create_stream(StreamName="warmprov", ShardCount=1, WarmThroughputMiBps=10)
    assert error_of(ei)[0] == "InvalidArgumentException"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.create_stream(StreamName="warmbig", StreamModeDetails={"StreamMode": "ON_DEMAND"},
                        WarmThroughputMiBps=10241)
    assert error_of(ei)[0] == "LimitExceededException"
    assert "warmprov" not in k.list_streams()["StreamNames"]
    k.create_stream(StreamName="warm", StreamModeDetails={"StreamMode": "ON_DEMAND"},
                    WarmThroughputMiBps=40)
    s = k.describe_stream_summary(StreamName="warm")["StreamDescriptionSummary"]
    assert s["StreamStatus"] == "CREATING"  # the status delay is 2 s
    assert s["WarmThroughput"] == {"TargetMiBps": 40, "CurrentMiBps": 0}
    wait_status(k, "warm", "ACTIVE")
    s = k.describe_stream_summary(StreamName="warm")["StreamDescriptionSummary"]
    assert s["WarmThroughput"] == {"TargetMiBps": 40, "CurrentMiBps": 40}
    # ...and so does UpdateStreamMode, judged on the mode the stream moves to
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.update_stream_mode(StreamARN=s["StreamARN"],
                             StreamModeDetails={"StreamMode": "PROVISIONED"},
                             WarmThroughputMiBps=5)
    assert error_of(ei)[0] == "InvalidArgumentException"
    prov = k.describe_stream_summary(StreamName="prov")["StreamDescriptionSummary"]["StreamARN"]
    k.update_stream_mode(StreamARN=prov, StreamModeDetails={"StreamMode": "ON_DEMAND"},
                         WarmThroughputMiBps=20)
    s = k.describe_stream_summary(StreamName="prov")["StreamDescriptionSummary"]
    assert s["StreamStatus"] == "UPDATING"
    assert s["WarmThroughput"] == {"TargetMiBps": 20, "CurrentMiBps": 0}
    wait_status(k, "prov", "ACTIVE")
    s = k.describe_stream_summary(StreamName="prov")["StreamDescriptionSummary"]
    assert s["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert s["WarmThroughput"] == {"TargetMiBps": 20, "CurrentMiBps": 20}

    # disabling before the earliest end keeps it in force until then
    mt = k.update_account_settings(MinimumThroughputBillingCommitment={"Status": "DISABLED"})[
        "MinimumThroughputBillingCommitment"]
    if mt["Status"] == "ENABLED_UNTIL_EARLIEST_ALLOWED_END":
        assert mt["EndedAt"] == mt["EarliestAllowedEndAt"]
        deadline = time.monotonic() + 20
        while k.describe_account_settings()["MinimumThroughputBillingCommitment"][
                "Status"] != "DISABLED":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    else:  # a loaded machine took longer than the 1.5 s commitment
        assert mt["Status"] == "DISABLED"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.update_stream_warm_throughput(StreamName="od", WarmThroughputMiBps=10)
    assert error_of(ei)[0] == "InvalidArgumentException"

    # enabled again, then past the commitment a disable takes effect at once (CLI)
    cli(gw, "kinesis", "update-account-settings", "--minimum-throughput-billing-commitment",
        "Status=ENABLED")
    time.sleep(1.6)  # let the 1.5 s commitment run out (a wall-clock rule, not a wait for state)
    out = json.loads(cli(gw, "kinesis", "update-account-settings",
                         "--minimum-throughput-billing-commitment", "Status=DISABLED").stdout)
    assert out["MinimumThroughputBillingCommitment"]["Status"] == "DISABLED"
    assert "EndedAt" in out["MinimumThroughputBillingCommitment"]
    d = json.loads(cli(gw, "kinesis", "describe-account-settings").stdout)
    assert d["MinimumThroughputBillingCommitment"]["Status"] == "DISABLED"

    # everything survives a restart
    assert gw.stop() == 0, gw.stderr
    gw.start()
    k = gw.client("kinesis")
    assert k.describe_account_settings()["MinimumThroughputBillingCommitment"]["Status"] == \
        "DISABLED"
    s = k.describe_stream_summary(StreamName="od")["StreamDescriptionSummary"]
    assert s["WarmThroughput"] == {"TargetMiBps": 250, "CurrentMiBps": 250}
    s = k.describe_stream_summary(StreamName="warm")["StreamDescriptionSummary"]
    assert s["WarmThroughput"] == {"TargetMiBps": 40, "CurrentMiBps": 40}
    assert gw.stop() == 0, gw.stderr
