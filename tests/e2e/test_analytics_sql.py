"""Kinesis Analytics applications end to end: records in through PutRecords, rows out read back
from the output data stream (spec §3 examples whose results do not depend on injected
ROWTIMEs: here ROWTIME is the arrival time), the error stream, reference data from the local
S3 layout, DiscoverInputSchema, and LAST_STOPPED_POINT across a stop and a restart."""
import json
import os

import pytest
from botocore.exceptions import ClientError

from analytics_util import (D1_COLS, ROLE, Reader, d1_docs, kinesis_input, kinesis_output,
                            make_stream, put_json, start, stream_arn, wait)

E1 = """CREATE OR REPLACE STREAM BIG_MOVES (sym VARCHAR(4), sector VARCHAR(12), pct DOUBLE);
CREATE OR REPLACE PUMP BIG_MOVES_PUMP AS INSERT INTO BIG_MOVES
  SELECT STREAM ticker_symbol, sector, ABS(change / (price - change)) * 100
  FROM SOURCE_SQL_STREAM_001
  WHERE ABS(change / (price - change)) > 0.01;"""


def setup_app(gw, name, code, outputs, cols=D1_COLS):
    ka = gw.client("kinesisanalytics")
    kin = gw.client("kinesis")
    make_stream(kin, "in")
    for _, stream, _ in outputs:
        try:
            make_stream(kin, stream)
        except ClientError:
            pass
    ka.create_application(ApplicationName=name, ApplicationCode=code,
                          Inputs=[kinesis_input(gw, "in", cols)],
                          Outputs=[kinesis_output(gw, n, s, f) for n, s, f in outputs])
    return ka, kin


def close(a, b):
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def test_e1_filter_json(gateway):
    ka, kin = setup_app(gateway, "e1", E1, [("BIG_MOVES", "out", "JSON")])
    start(ka, "e1")
    put_json(kin, "in", d1_docs())
    recs = [json.loads(r) for r in Reader(kin, "out").until(6)]
    want = [("AMZN", "TECHNOLOGY", 1.5), ("TGT", "RETAIL", 1.2),
            ("AMZN", "TECHNOLOGY", 1.9801980198019802), ("XOM", "ENERGY", 2.6217228464419478),
            ("TGT", "RETAIL", 3.1620553359683794), ("AMZN", "TECHNOLOGY", 2.912621359223301)]
    assert len(recs) == 6
    for r, (sym, sector, pct) in zip(recs, want):
        assert list(r) == ["SYM", "SECTOR", "PCT"]
        assert r["SYM"] == sym and r["SECTOR"] == sector and close(r["PCT"], pct)


def test_e2_quoted_names_csv(gateway):
    code = ('CREATE OR REPLACE STREAM "tech_stream" ("sym" VARCHAR(4), price DOUBLE, '
            '"Pct" DOUBLE);\n'
            'CREATE OR REPLACE PUMP tech_pump AS INSERT INTO "tech_stream"\n'
            '  SELECT STREAM ticker_symbol, price, change / (price - change) * 100\n'
            "  FROM source_sql_stream_001 WHERE sector LIKE 'TECH%' AND change <> 0;")
    ka, kin = setup_app(gateway, "e2", code, [("tech_stream", "out", "JSON"),
                                              ("tech_stream", "csv", "CSV")])
    start(ka, "e2")
    put_json(kin, "in", d1_docs())
    recs = Reader(kin, "out").until(4)
    assert recs[0] == b'{"sym":"AMZN","PRICE":101.5,"Pct":1.5}'
    assert [json.loads(r)["PRICE"] for r in recs] == [101.5, 101.0, 103.0, 100.0]
    assert json.loads(recs[1])["Pct"] == pytest.approx(-0.49261083743842365, rel=1e-9)
    csv = Reader(kin, "csv").until(4)
    assert csv[0] == b"AMZN,101.5,1.5\n"


def test_e12_error_stream(gateway):
    code = ('CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker VARCHAR(4), inv DOUBLE);\n'
            'CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"\n'
            '  SELECT STREAM ticker_symbol, 100 / price FROM "SOURCE_SQL_STREAM_001";')
    ka, kin = setup_app(gateway, "e12", code,
                        [("DESTINATION_SQL_STREAM", "out", "JSON"), ("error_stream", "err", "JSON")],
                        cols=[("TICKER_SYMBOL", "VARCHAR(4)"), ("PRICE", "DOUBLE")])
    start(ka, "e12")
    payloads = [b'{"TICKER_SYMBOL":"AMZN","PRICE":101.5}', b'{"TICKER_SYMBOL":"TGT","PRICE":"n/a"}',
                b'{"TICKER_SYMBOL":"XOM","PRICE":0}', b'{"TICKER_SYMBOL":"BAD"',
                b'{"TICKER_SYMBOL":"AMAZON","PRICE":7}']
    for p in payloads:  # one call each keeps their order
        kin.put_record(StreamName="in", Data=p, PartitionKey="k")
    out = [json.loads(r) for r in Reader(kin, "out").until(2)]
    assert out[0]["TICKER"] == "AMZN" and close(out[0]["INV"], 0.9852216748768473)
    assert out[1]["TICKER"] == "AMAZ" and close(out[1]["INV"], 14.285714285714286)
    errs = [json.loads(r) for r in Reader(kin, "err").until(3)]
    assert [e["ERROR_NAME"] for e in errs] == ["InputCoercionError", "DivisionByZero",
                                               "InputParseError"]
    assert all(e["ERROR_LEVEL"] == "ERROR" and e["MESSAGE"] for e in errs)
    assert bytes.fromhex(errs[0]["DATA_ROW"]) == payloads[1]
    assert errs[0]["PUMP_NAME"] is None
    assert bytes.fromhex(errs[1]["DATA_ROW"]) == b'{"TICKER_SYMBOL":"XOM","PRICE":0.0}'
    assert errs[1]["PUMP_NAME"] == "STREAM_PUMP"
    assert bytes.fromhex(errs[2]["DATA_ROW"]) == payloads[3]


def test_e9_reference_join(make_gateway, tmp_path):
    s3 = tmp_path / "s3"
    (s3 / "refdata").mkdir(parents=True)
    (s3 / "refdata" / "companies.csv").write_text("AMZN,Amazon\nTGT,Target\n")
    gw = make_gateway(env={"SLUICE_FIREHOSE_S3_DIR": str(s3)})
    code = ("CREATE OR REPLACE STREAM ENRICHED (sym VARCHAR(4), company VARCHAR(20), "
            "price DOUBLE);\n"
            "CREATE OR REPLACE PUMP ENRICH_PUMP AS INSERT INTO ENRICHED\n"
            '  SELECT STREAM q.ticker_symbol, r."name", q.price\n'
            "  FROM SOURCE_SQL_STREAM_001 AS q\n"
            '  LEFT OUTER JOIN "Companies" AS r ON q.ticker_symbol = r."sym";')
    ka, kin = setup_app(gw, "e9", "", [("ENRICHED", "out", "CSV")])
    ka.add_application_reference_data_source(
        ApplicationName="e9", CurrentApplicationVersionId=1,
        ReferenceDataSource={
            "TableName": "Companies",
            "S3ReferenceDataSource": {"BucketARN": "arn:aws:s3:::refdata",
                                      "FileKey": "companies.csv", "ReferenceRoleARN": ROLE},
            "ReferenceSchema": {
                "RecordFormat": {"RecordFormatType": "CSV", "MappingParameters": {
                    "CSVMappingParameters": {"RecordRowDelimiter": "\n",
                                             "RecordColumnDelimiter": ","}}},
                "RecordColumns": [{"Name": "sym", "SqlType": "VARCHAR(4)"},
                                  {"Name": "name", "SqlType": "VARCHAR(20)"}]}})
    ka.update_application(ApplicationName="e9", CurrentApplicationVersionId=2,
                          ApplicationUpdate={"ApplicationCodeUpdate": code})
    start(ka, "e9")
    put_json(kin, "in", d1_docs()[:4])
    recs = Reader(kin, "out").until(4)
    assert recs == [b"AMZN,Amazon,101.5\n", b"TGT,Target,50.0\n", b"AMZN,Amazon,101.0\n",
                    b"XOM,,80.1\n"]
    assert gw.stop() == 0


def test_tumbling_counts(gateway):
    code = ('CREATE OR REPLACE STREAM "DEST" (ticker VARCHAR(4), n INTEGER);\n'
            'CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"\n'
            "  SELECT STREAM s.ticker_symbol, COUNT(*) FROM \"SOURCE_SQL_STREAM_001\" AS s\n"
            "  GROUP BY s.ticker_symbol, STEP(s.ROWTIME BY INTERVAL '1' SECOND);")
    ka, kin = setup_app(gateway, "tumble", code, [("DEST", "out", "JSON")])
    start(ka, "tumble")
    put_json(kin, "in", d1_docs())
    reader = Reader(kin, "out")
    # windows close on the heartbeat without new data; totals per ticker must add up
    totals = {}

    def done():
        totals.clear()
        for r in reader.poll():
            j = json.loads(r)
            totals[j["TICKER"]] = totals.get(j["TICKER"], 0) + j["N"]
        return totals == {"AMZN": 5, "TGT": 4, "XOM": 3}

    wait(done, 30, "window counts")


def test_last_stopped_point_and_restart(make_gateway):
    gw = make_gateway()
    ka, kin = setup_app(gw, "resume", E1, [("BIG_MOVES", "out", "JSON")])
    start(ka, "resume")
    put_json(kin, "in", d1_docs()[:6])  # rows 1, 5, 6 pass
    reader = Reader(kin, "out")
    reader.until(3)
    ka.stop_application(ApplicationName="resume")
    put_json(kin, "in", d1_docs()[6:9])  # rows 7, 9 pass, arrive while stopped
    start(ka, "resume", "LAST_STOPPED_POINT")
    recs = reader.until(5)
    assert [json.loads(r)["SYM"] for r in recs] == ["AMZN", "TGT", "AMZN", "XOM", "TGT"]
    # a restart of sluiced resumes the running application from its checkpoint
    assert gw.stop() == 0
    gw.start()
    ka = gw.client("kinesisanalytics")
    kin = gw.client("kinesis")
    assert ka.describe_application(ApplicationName="resume")["ApplicationDetail"][
        "ApplicationStatus"] == "RUNNING"
    put_json(kin, "in", d1_docs()[9:])  # row 10 passes
    reader = Reader(kin, "out")
    recs = reader.until(6)
    assert json.loads(recs[-1])["SYM"] == "AMZN"
    assert gw.stop() == 0


def test_e15_discover(gateway):
    ka = gateway.client("kinesisanalytics")
    kin = gateway.client("kinesis")
    make_stream(kin, "disc")
    pos = {"InputStartingPosition": "TRIM_HORIZON"}
    with pytest.raises(ClientError) as e:
        ka.discover_input_schema(ResourceARN=stream_arn(gateway, "disc"), RoleARN=ROLE,
                                 InputStartingPositionConfiguration=pos)
    assert e.value.response["Error"]["Code"] == "UnableToDetectSchemaException"
    payloads = [b'{"TICKER_SYMBOL":"AMZN","SECTOR":"TECHNOLOGY","CHANGE":1.5,"PRICE":101.5}',
                b'{"TICKER_SYMBOL":"TGT","SECTOR":"RETAIL","CHANGE":-0.2,"PRICE":50.0}',
                b'{"TICKER_SYMBOL":"XOM","SECTOR":"ENERGY","CHANGE":0,"PRICE":80}']
    for p in payloads:
        kin.put_record(StreamName="disc", Data=p, PartitionKey="k")
    r = ka.discover_input_schema(ResourceARN=stream_arn(gateway, "disc"), RoleARN=ROLE,
                                 InputStartingPositionConfiguration=pos)
    s = r["InputSchema"]
    assert s["RecordFormat"]["RecordFormatType"] == "JSON"
    assert s["RecordFormat"]["MappingParameters"]["JSONMappingParameters"][
        "RecordRowPath"] == "$"
    assert s["RecordEncoding"] == "UTF-8"
    assert [(c["Name"], c["SqlType"], c["Mapping"]) for c in s["RecordColumns"]] == [
        ("TICKER_SYMBOL", "VARCHAR(4)", "$.TICKER_SYMBOL"), ("SECTOR", "VARCHAR(16)", "$.SECTOR"),
        ("CHANGE", "REAL", "$.CHANGE"), ("PRICE", "REAL", "$.PRICE")]
    assert r["RawInputRecords"] == [p.decode() for p in payloads]
    assert r["ParsedInputRecords"] == [["AMZN", "TECHNOLOGY", "1.5", "101.5"],
                                       ["TGT", "RETAIL", "-0.2", "50.0"],
                                       ["XOM", "ENERGY", "0", "80"]]
    make_stream(kin, "names")
    kin.put_record(StreamName="names", Data=b'{"user":"x","year":2001,"2nd":1}',
                   PartitionKey="k")
    r = ka.discover_input_schema(ResourceARN=stream_arn(gateway, "names"), RoleARN=ROLE,
                                 InputStartingPositionConfiguration=pos)
    assert [c["Name"] for c in r["InputSchema"]["RecordColumns"]] == ["COL_user", "COL_year",
                                                                      "COL_2nd"]


def test_discover_csv_from_s3(make_gateway, tmp_path):
    s3 = tmp_path / "s3"
    (s3 / "b").mkdir(parents=True)
    (s3 / "b" / "prices.csv").write_text("sym,price,qty\nAMZN,101.5,3\nTGT,50.25,40000\n")
    gw = make_gateway(env={"SLUICE_FIREHOSE_S3_DIR": str(s3)})
    ka = gw.client("kinesisanalytics")
    r = ka.discover_input_schema(S3Configuration={"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::b",
                                                  "FileKey": "prices.csv"})
    s = r["InputSchema"]
    assert s["RecordFormat"]["RecordFormatType"] == "CSV"
    csvp = s["RecordFormat"]["MappingParameters"]["CSVMappingParameters"]
    assert csvp == {"RecordRowDelimiter": "\n", "RecordColumnDelimiter": ","}
    assert [(c["Name"], c["SqlType"]) for c in s["RecordColumns"]] == [
        ("sym", "VARCHAR(4)"), ("price", "REAL"), ("qty", "INTEGER")]
    assert r["ParsedInputRecords"][1] == ["AMZN", "101.5", "3"]
    assert gw.stop() == 0


def test_firehose_input_and_output(make_gateway, tmp_path):
    import glob
    import time
    s3 = tmp_path / "s3"
    gw = make_gateway(env={"SLUICE_FIREHOSE_S3_DIR": str(s3)})
    fh = gw.client("firehose", parameter_validation=False)  # IntervalInSeconds 0: deliver now
    for name, bucket in (("src", "srcb"), ("dst", "outb")):
        fh.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration={
            "RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}})
        wait(lambda: fh.describe_delivery_stream(DeliveryStreamName=name)[
            "DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE", 30, "ACTIVE")
    arn = f"arn:aws:firehose:{gw.region}:000000000000:deliverystream/"
    ka = gw.client("kinesisanalytics")
    inp = kinesis_input(gw, "unused", D1_COLS)
    del inp["KinesisStreamsInput"]
    inp["KinesisFirehoseInput"] = {"ResourceARN": arn + "src", "RoleARN": ROLE}
    ka.create_application(ApplicationName="fh", ApplicationCode=E1, Inputs=[inp], Outputs=[{
        "Name": "BIG_MOVES", "KinesisFirehoseOutput": {"ResourceARN": arn + "dst", "RoleARN": ROLE},
        "DestinationSchema": {"RecordFormatType": "CSV"}}])
    with pytest.raises(ClientError) as e:
        start(ka, "fh", "TRIM_HORIZON")
    assert e.value.response["Error"]["Code"] == "InvalidArgumentException"
    start(ka, "fh")
    fh.put_record_batch(DeliveryStreamName="src", Records=[
        {"Data": json.dumps(d).encode()} for d in d1_docs()])

    def lines():
        out = []
        for p in sorted(glob.glob(str(s3 / "outb" / "**" / "*"), recursive=True)):
            if os.path.isfile(p) and not os.path.basename(p).startswith(".tmp-"):
                out += open(p).read().splitlines()
        return out

    got = wait(lambda: len(lines()) >= 6 and lines(), 30, "delivered rows")
    assert [line.split(",")[0] for line in got] == ["AMZN", "TGT", "AMZN", "XOM", "TGT", "AMZN"]
    assert got[0] == "AMZN,TECHNOLOGY,1.5"
    assert gw.stop() == 0


def test_input_resharded_while_running(gateway):
    ka, kin = setup_app(gateway, "reshard", E1, [("BIG_MOVES", "out", "JSON")])
    start(ka, "reshard")
    put_json(kin, "in", d1_docs()[:6])  # rows 1, 5, 6 pass
    reader = Reader(kin, "out")
    reader.until(3)
    kin.update_shard_count(StreamName="in", TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    wait(lambda: kin.describe_stream_summary(StreamName="in")["StreamDescriptionSummary"]
         ["StreamStatus"] == "ACTIVE", 30, "stream ACTIVE after resharding")
    put_json(kin, "in", d1_docs()[6:])  # rows 7, 9, 10 pass; they land in the child shards
    recs = reader.until(6, timeout=40)
    assert sorted(json.loads(r)["SYM"] for r in recs[3:]) == ["AMZN", "TGT", "XOM"]


def test_update_input_source_while_running(gateway):
    ka, kin = setup_app(gateway, "switch", E1, [("BIG_MOVES", "out", "JSON")])
    make_stream(kin, "in2", shards=2)
    start(ka, "switch")
    put_json(kin, "in", d1_docs()[:6])  # rows 1, 5, 6 pass
    reader = Reader(kin, "out")
    reader.until(3)
    d = ka.describe_application(ApplicationName="switch")["ApplicationDetail"]
    ka.update_application(ApplicationName="switch",
                          CurrentApplicationVersionId=d["ApplicationVersionId"],
                          ApplicationUpdate={"InputUpdates": [{
                              "InputId": "1.1",
                              "KinesisStreamsInputUpdate": {
                                  "ResourceARNUpdate": stream_arn(gateway, "in2")}}]})
    d = ka.describe_application(ApplicationName="switch")["ApplicationDetail"]
    assert d["ApplicationStatus"] == "RUNNING"
    assert d["InputDescriptions"][0]["KinesisStreamsInputDescription"]["ResourceARN"] == \
        stream_arn(gateway, "in2")
    put_json(kin, "in", d1_docs()[6:])   # the old source is no longer read
    put_json(kin, "in2", d1_docs()[6:])  # rows 7, 9, 10 pass
    recs = reader.until(6, timeout=30)
    assert sorted(json.loads(r)["SYM"] for r in recs[3:]) == ["AMZN", "TGT", "XOM"]
    # a marker through the new source arrives; nothing from the old one came before it
    put_json(kin, "in2", [{"TICKER_SYMBOL": "MARK", "SECTOR": "X", "CHANGE": 5.0,
                           "PRICE": 10.0}])
    recs = reader.until(7, timeout=30)
    assert len(recs) == 7 and json.loads(recs[6])["SYM"] == "MARK"


def test_encrypted_input_and_output_streams(gateway):
    """An application reads an input stream encrypted at rest (records opened with the key ring)
    and writes to an encrypted output stream (its rows sealed as PutRecords seals them)."""
    ka, kin = setup_app(gateway, "enc", E1, [("BIG_MOVES", "out", "JSON")])
    for name in ("in", "out"):
        kin.start_stream_encryption(StreamName=name, EncryptionType="KMS",
                                    KeyId="alias/aws/kinesis")
        wait(lambda: kin.describe_stream_summary(StreamName=name)
             ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", 30, f"{name} ACTIVE")
    start(ka, "enc")
    put_json(kin, "in", d1_docs())
    reader = Reader(kin, "out")
    recs = [json.loads(r) for r in reader.until(6)]
    assert [r["SYM"] for r in recs] == ["AMZN", "TGT", "AMZN", "XOM", "TGT", "AMZN"]
    it = kin.get_shard_iterator(StreamName="out", ShardId="shardId-000000000000",
                                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    out = kin.get_records(ShardIterator=it)["Records"]
    assert len(out) == 6 and {r["EncryptionType"] for r in out} == {"KMS"}
    # neither the input nor the output rows are on disk in the clear
    for root, _, files in os.walk(os.path.join(gateway.data_dir, "logs")):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                blob = fh.read()
            assert b"TECHNOLOGY" not in blob, f
