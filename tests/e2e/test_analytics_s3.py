"""Analytics reference data from a remote S3-compatible store (moto's server mode), configured
the way Firehose's S3 destination is (SLUICE_FIREHOSE_S3_ENDPOINT and its keys): the object is
fetched with a SigV4-signed GET at start and again when an update touches the reference source.
Records go in through PutRecords (test-only clock for exact ROWTIMEs), joined rows come back
from the output stream. A wrong secret is refused by the server: the table stays empty, the
application keeps running and the failure is logged. DiscoverInputSchema reads an object there
as well."""
import json

import boto3

from analytics_util import (D1_COLS, ROLE, Reader, kinesis_input, kinesis_output, make_stream,
                            start, wait)
from test_firehose_s3 import s3_server  # noqa: F401 (the moto server fixture)

CODE = """CREATE OR REPLACE STREAM ENRICHED (sym VARCHAR(4), company VARCHAR(20), price DOUBLE);
CREATE OR REPLACE PUMP ENRICH_PUMP AS INSERT INTO ENRICHED
  SELECT STREAM q.ticker_symbol, r."name", q.price
  FROM SOURCE_SQL_STREAM_001 AS q
  LEFT OUTER JOIN "Companies" AS r ON q.ticker_symbol = r."sym";"""

REF = {"TableName": "Companies",
       "S3ReferenceDataSource": {"BucketARN": "arn:aws:s3:::refdata",
                                 "FileKey": "tables/companies.csv", "ReferenceRoleARN": ROLE},
       "ReferenceSchema": {
           "RecordFormat": {"RecordFormatType": "CSV", "MappingParameters": {
               "CSVMappingParameters": {"RecordRowDelimiter": "\n",
                                        "RecordColumnDelimiter": ","}}},
           "RecordColumns": [{"Name": "sym", "SqlType": "VARCHAR(4)"},
                             {"Name": "name", "SqlType": "VARCHAR(20)"}]}}


def s3_setup(url):
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id="setup", aws_secret_access_key="setup")
    iam.create_user(UserName="analytics")
    key = iam.create_access_key(UserName="analytics")["AccessKey"]
    iam.put_user_policy(UserName="analytics", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                      aws_access_key_id=key["AccessKeyId"],
                      aws_secret_access_key=key["SecretAccessKey"])
    s3.create_bucket(Bucket="refdata")
    s3.put_object(Bucket="refdata", Key="tables/companies.csv", Body=b"AMZN,Amazon\nTGT,Target\n")
    return s3, key


def gateway(make_gateway, url, key, secret):
    return make_gateway(env={"SLUICE_ANALYTICS_TEST_CLOCK": "partition-key",
                             "SLUICE_FIREHOSE_S3_ENDPOINT": url,
                             "SLUICE_FIREHOSE_S3_ACCESS_KEY_ID": key,
                             "SLUICE_FIREHOSE_S3_SECRET_ACCESS_KEY": secret})


def app(gw, name):
    ka = gw.client("kinesisanalytics")
    kin = gw.client("kinesis")
    make_stream(kin, f"{name}-in")
    make_stream(kin, f"{name}-out")
    ka.create_application(ApplicationName=name, Inputs=[kinesis_input(gw, f"{name}-in", D1_COLS)],
                          Outputs=[kinesis_output(gw, "ENRICHED", f"{name}-out", "CSV")])
    ka.add_application_reference_data_source(ApplicationName=name, CurrentApplicationVersionId=1,
                                             ReferenceDataSource=REF)
    ka.update_application(ApplicationName=name, CurrentApplicationVersionId=2,
                          ApplicationUpdate={"ApplicationCodeUpdate": CODE})
    start(ka, name)
    return ka, kin, Reader(kin, f"{name}-out")


def put(kin, stream, rows):
    r = kin.put_records(StreamName=stream, Records=[
        {"PartitionKey": f"2024-01-15 {t}",
         "Data": json.dumps({"TICKER_SYMBOL": s, "SECTOR": "X", "CHANGE": 0.0, "PRICE": p}).encode()}
        for t, s, p in rows])
    assert r["FailedRecordCount"] == 0


def test_reference_object_from_s3_endpoint(make_gateway, s3_server):  # noqa: F811
    s3, key = s3_setup(s3_server)

    # A wrong secret: the server refuses the GET, the table is empty, the app keeps running.
    wrong = gateway(make_gateway, s3_server, key["AccessKeyId"], "not-the-secret")
    ka, kin, out = app(wrong, "bad")
    put(kin, "bad-in", [("10:00:05.000", "AMZN", 101.5)])
    assert out.until(1) == [b"AMZN,,101.5\n"]
    assert "reference object refdata/tables/companies.csv cannot be read" in wrong.stderr
    assert "403" in wrong.stderr
    assert ka.describe_application(ApplicationName="bad")["ApplicationDetail"][
        "ApplicationStatus"] == "RUNNING"
    assert wrong.stop() == 0

    gw = gateway(make_gateway, s3_server, key["AccessKeyId"], key["SecretAccessKey"])
    ka, kin, out = app(gw, "e9")
    put(kin, "e9-in", [("10:00:05.000", "AMZN", 101.5), ("10:00:12.000", "TGT", 50.0),
                       ("10:00:20.000", "AMZN", 101.0), ("10:00:35.000", "XOM", 80.1)])
    assert out.until(4) == [b"AMZN,Amazon,101.5\n", b"TGT,Target,50.0\n", b"AMZN,Amazon,101.0\n",
                            b"XOM,,80.1\n"]
    assert out.keys == ["2024-01-15 10:00:05.000", "2024-01-15 10:00:12.000",
                        "2024-01-15 10:00:20.000", "2024-01-15 10:00:35.000"]
    # A new object version is read when an update touches the reference source.
    s3.put_object(Bucket="refdata", Key="tables/companies.csv", Body=b"XOM,Exxon\n")
    d = ka.describe_application(ApplicationName="e9")["ApplicationDetail"]
    ka.update_application(
        ApplicationName="e9", CurrentApplicationVersionId=d["ApplicationVersionId"],
        ApplicationUpdate={"ReferenceDataSourceUpdates": [{
            "ReferenceId": d["ReferenceDataSourceDescriptions"][0]["ReferenceId"],
            "TableNameUpdate": "Companies"}]})
    wait(lambda: ka.describe_application(ApplicationName="e9")["ApplicationDetail"]
         ["ApplicationStatus"] == "RUNNING", 30, "RUNNING after the update")
    put(kin, "e9-in", [("10:01:00.000", "XOM", 78.0), ("10:01:10.000", "AMZN", 103.0)])
    assert out.until(6)[4:] == [b"XOM,Exxon,78.0\n", b"AMZN,,103.0\n"]
    # DiscoverInputSchema reads an S3Configuration object from the endpoint too
    r = ka.discover_input_schema(S3Configuration={
        "RoleARN": ROLE, "BucketARN": "arn:aws:s3:::refdata", "FileKey": "tables/companies.csv"})
    assert r["RawInputRecords"] == ["XOM,Exxon\n"]
    assert r["InputSchema"]["RecordFormat"]["RecordFormatType"] == "CSV"
    assert [c["SqlType"] for c in r["InputSchema"]["RecordColumns"]] == ["VARCHAR(4)",
                                                                        "VARCHAR(8)"]
    assert gw.stop() == 0
