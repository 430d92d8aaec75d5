"""Analytics input preprocessing through a Lambda function (InputProcessingConfiguration.
InputLambdaProcessor), served on a local "function URL" (SLUICE_FIREHOSE_LAMBDA_URLS maps the ARN
to it, as for Firehose). Records go in through PutRecords as CSV text, the function turns them
into the JSON the input schema maps, drops or fails some; rows come back from the output stream
and failures from error_stream. sluiced runs with the test-only clock (see
test_analytics_examples.py), so ROWTIMEs are exact. A function that fails as a whole is retried
until it answers; an ARN without a URL is refused at start."""
import base64
import http.server
import json
import threading

import pytest
from botocore.exceptions import ClientError

from analytics_util import ROLE, Reader, kinesis_input, kinesis_output, make_stream, start, wait

ARN = "arn:aws:lambda:us-east-1:123456789012:function:to-json"
COLS = [("TICKER_SYMBOL", "VARCHAR(4)"), ("PRICE", "DOUBLE")]
CODE = """CREATE OR REPLACE STREAM "DEST" (ticker VARCHAR(4), price DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
  SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_001";"""


def handler(event, context):
    """A preprocessing Lambda: "SYM,price" -> JSON; "drop*" dropped, "fail*" failed."""
    out = []
    for r in event["records"]:
        data = base64.b64decode(r["data"])
        if data.startswith(b"drop"):
            out.append({"recordId": r["recordId"], "result": "Dropped", "data": r["data"]})
        elif data.startswith(b"fail"):
            out.append({"recordId": r["recordId"], "result": "ProcessingFailed",
                        "data": r["data"]})
        else:
            sym, price = data.decode().split(",")
            doc = json.dumps({"TICKER_SYMBOL": sym, "PRICE": float(price)}).encode()
            out.append({"recordId": r["recordId"], "result": "Ok",
                        "data": base64.b64encode(doc).decode()})
    return {"records": out}


class FunctionUrl:
    def __init__(self):
        self.events, self.status = [], 200
        fn = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fn.events.append(event)
                body = json.dumps(handler(event, None)).encode() if fn.status == 200 else b"{}"
                self.send_response(fn.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fn():
    f = FunctionUrl()
    yield f
    f.close()


@pytest.fixture
def gw(make_gateway, fn):
    g = make_gateway(env={"SLUICE_ANALYTICS_TEST_CLOCK": "partition-key",
                          "SLUICE_FIREHOSE_LAMBDA_URLS": f"{ARN}={fn.url}"})
    yield g
    assert g.stop() == 0, g.stderr


def create(g, name, lambda_arn=ARN):
    ka = g.client("kinesisanalytics")
    kin = g.client("kinesis")
    for s in ("in", "out", "err"):
        make_stream(kin, f"{name}-{s}")
    inp = kinesis_input(g, f"{name}-in", COLS)
    inp["InputProcessingConfiguration"] = {
        "InputLambdaProcessor": {"ResourceARN": lambda_arn, "RoleARN": ROLE}}
    ka.create_application(ApplicationName=name, ApplicationCode=CODE, Inputs=[inp],
                          Outputs=[kinesis_output(g, "DEST", f"{name}-out"),
                                   kinesis_output(g, "error_stream", f"{name}-err")])
    return ka, kin


def put(kin, stream, rows):
    r = kin.put_records(StreamName=stream, Records=[
        {"PartitionKey": f"2024-01-15 {t}", "Data": d} for t, d in rows])
    assert r["FailedRecordCount"] == 0


def test_preprocessing_ok_dropped_failed(gw, fn):
    ka, kin = create(gw, "pre")
    start(ka, "pre")
    put(kin, "pre-in", [("10:00:01.000", b"AMZN,101.5"), ("10:00:02.000", b"drop me"),
                        ("10:00:03.000", b"fail me"), ("10:00:04.000", b"TGT,50")])
    out = Reader(kin, "pre-out")
    recs = out.until(2)
    assert [json.loads(r) for r in recs] == [{"TICKER": "AMZN", "PRICE": 101.5},
                                             {"TICKER": "TGT", "PRICE": 50.0}]
    assert out.keys == ["2024-01-15 10:00:01.000", "2024-01-15 10:00:04.000"]
    err = Reader(kin, "pre-err")
    e = json.loads(err.until(1)[0])
    assert e["ERROR_NAME"] == "LambdaProcessingFailed" and e["MESSAGE"]
    assert bytes.fromhex(e["DATA_ROW"]) == b"fail me"
    assert e["DATA_ROWTIME"] == "2024-01-15 10:00:03.000" and e["PUMP_NAME"] is None
    # the event: Firehose's shape, naming the input stream; every record once, base64 data
    seen = [base64.b64decode(r["data"]) for ev in fn.events for r in ev["records"]]
    assert seen == [b"AMZN,101.5", b"drop me", b"fail me", b"TGT,50"]
    ev = fn.events[0]
    assert ev["deliveryStreamArn"].endswith(":stream/pre-in") and ev["invocationId"]
    assert all(set(r) >= {"recordId", "data", "approximateArrivalTimestamp"}
               for r in ev["records"])
    # nothing else arrives later
    assert len(out.poll()) == 2 and len(err.poll()) == 1


def test_failing_function_is_retried(gw, fn):
    ka, kin = create(gw, "retry")
    start(ka, "retry")
    fn.status = 500
    put(kin, "retry-in", [("10:00:01.000", b"AMZN,1")])
    wait(lambda: len(fn.events) >= 2, 60, "a retried invocation")
    out = Reader(kin, "retry-out")
    assert out.poll() == []  # the record is not skipped while the function fails
    fn.status = 200
    assert [json.loads(r) for r in out.until(1)] == [{"TICKER": "AMZN", "PRICE": 1.0}]
    assert out.keys == ["2024-01-15 10:00:01.000"]
    assert Reader(kin, "retry-err").poll() == []


def test_function_without_url_is_refused_at_start(gw):
    ka, kin = create(gw, "nourl", "arn:aws:lambda:us-east-1:123456789012:function:nowhere")
    d = ka.describe_application(ApplicationName="nourl")["ApplicationDetail"]
    assert d["InputDescriptions"][0]["InputProcessingConfigurationDescription"][
        "InputLambdaProcessorDescription"]["ResourceARN"].endswith(":nowhere")
    with pytest.raises(ClientError) as ei:
        ka.start_application(ApplicationName="nourl", InputConfigurations=[{
            "Id": d["InputDescriptions"][0]["InputId"],
            "InputStartingPositionConfiguration": {"InputStartingPosition": "NOW"}}])
    assert ei.value.response["Error"]["Code"] == "InvalidApplicationConfigurationException"
    assert "SLUICE_FIREHOSE_LAMBDA_URLS" in ei.value.response["Error"]["Message"]


def test_discover_through_the_function(gw, fn):
    ka = gw.client("kinesisanalytics")
    kin = gw.client("kinesis")
    make_stream(kin, "disc")
    put(kin, "disc", [("10:00:01.000", b"AMZN,101.5"), ("10:00:02.000", b"drop me"),
                      ("10:00:03.000", b"TGT,50")])
    arn = f"arn:aws:kinesis:{gw.region}:000000000000:stream/disc"
    r = ka.discover_input_schema(
        ResourceARN=arn, RoleARN=ROLE,
        InputStartingPositionConfiguration={"InputStartingPosition": "TRIM_HORIZON"},
        InputProcessingConfiguration={"InputLambdaProcessor": {"ResourceARN": ARN,
                                                               "RoleARN": ROLE}})
    # the schema is learnt from the function's output (JSON), not from the CSV text
    s = r["InputSchema"]
    assert s["RecordFormat"]["RecordFormatType"] == "JSON"
    assert [(c["Name"], c["SqlType"]) for c in s["RecordColumns"]] == [
        ("TICKER_SYMBOL", "VARCHAR(4)"), ("PRICE", "REAL")]
    assert r["RawInputRecords"] == ["AMZN,101.5", "drop me", "TGT,50"]
    assert [json.loads(x) for x in r["ProcessedInputRecords"]] == [
        {"TICKER_SYMBOL": "AMZN", "PRICE": 101.5}, {"TICKER_SYMBOL": "TGT", "PRICE": 50.0}]
    assert r["ParsedInputRecords"] == [["AMZN", "101.5"], ["TGT", "50.0"]]
    # a function that fails: ServiceUnavailable; an ARN without URL: InvalidArgument
    fn.status = 500
    with pytest.raises(ClientError) as ei:
        ka.discover_input_schema(
            ResourceARN=arn, RoleARN=ROLE,
            InputStartingPositionConfiguration={"InputStartingPosition": "TRIM_HORIZON"},
            InputProcessingConfiguration={"InputLambdaProcessor": {"ResourceARN": ARN,
                                                                   "RoleARN": ROLE}})
    assert ei.value.response["Error"]["Code"] == "ServiceUnavailableException"
    with pytest.raises(ClientError) as ei:
        ka.discover_input_schema(
            ResourceARN=arn, RoleARN=ROLE,
            InputStartingPositionConfiguration={"InputStartingPosition": "TRIM_HORIZON"},
            InputProcessingConfiguration={"InputLambdaProcessor": {
                "ResourceARN": ARN + "-other", "RoleARN": ROLE}})
    assert ei.value.response["Error"]["Code"] == "InvalidArgumentException"
