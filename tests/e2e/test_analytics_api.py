"""Kinesis Analytics (v1) control plane through boto3 and the AWS CLI: every operation, the
status machine, version ids and the error names of spec §1."""
import json

import pytest
from botocore.exceptions import ClientError

from analytics_util import (D1_COLS, ROLE, json_schema, kinesis_input, kinesis_output,
                            make_stream, start, stream_arn, wait)

CODE = """CREATE OR REPLACE STREAM "DEST" (sym VARCHAR(4), price DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
  SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_001";"""


def err(e):
    return e.value.response["Error"]["Code"]


def test_lifecycle(gateway):
    ka = gateway.client("kinesisanalytics")
    kin = gateway.client("kinesis")
    make_stream(kin, "in")
    make_stream(kin, "out")
    r = ka.create_application(ApplicationName="app1", ApplicationDescription="demo",
                              Inputs=[kinesis_input(gateway, "in", D1_COLS)],
                              Outputs=[kinesis_output(gateway, "DEST", "out")],
                              ApplicationCode=CODE, Tags=[{"Key": "team", "Value": "a"}])
    s = r["ApplicationSummary"]
    assert s == {"ApplicationName": "app1", "ApplicationStatus": "READY",
                 "ApplicationARN": "arn:aws:kinesisanalytics:us-east-1:000000000000:"
                                   "application/app1"}
    d = ka.describe_application(ApplicationName="app1")["ApplicationDetail"]
    assert d["ApplicationVersionId"] == 1
    assert d["ApplicationDescription"] == "demo"
    assert d["InputDescriptions"][0]["InputId"] == "1.1"
    assert d["InputDescriptions"][0]["InAppStreamNames"] == ["SOURCE_SQL_STREAM_001"]
    assert d["OutputDescriptions"][0]["OutputId"] == "1.1"
    assert d["OutputDescriptions"][0]["KinesisStreamsOutputDescription"]["ResourceARN"] == \
        stream_arn(gateway, "out")
    assert d["CreateTimestamp"] <= d["LastUpdateTimestamp"]

    with pytest.raises(ClientError) as e:
        ka.create_application(ApplicationName="app1")
    assert err(e) == "ResourceInUseException"

    # a second output, then a wrong version
    ka.add_application_output(ApplicationName="app1", CurrentApplicationVersionId=1,
                              Output=kinesis_output(gateway, "error_stream", "out"))
    with pytest.raises(ClientError) as e:
        ka.add_application_output(ApplicationName="app1", CurrentApplicationVersionId=1,
                                  Output=kinesis_output(gateway, "DEST", "out"))
    assert err(e) == "ConcurrentModificationException"
    d = ka.describe_application(ApplicationName="app1")["ApplicationDetail"]
    assert d["ApplicationVersionId"] == 2
    assert [o["OutputId"] for o in d["OutputDescriptions"]] == ["1.1", "1.2"]
    ka.delete_application_output(ApplicationName="app1", CurrentApplicationVersionId=2,
                                 OutputId="1.2")
    with pytest.raises(ClientError) as e:
        ka.add_application_input(ApplicationName="app1", CurrentApplicationVersionId=3,
                                 Input=kinesis_input(gateway, "in", D1_COLS))
    assert err(e) == "InvalidArgumentException"
    # ids are never reused
    ka.add_application_output(ApplicationName="app1", CurrentApplicationVersionId=3,
                              Output=kinesis_output(gateway, "DEST", "out", "CSV"))
    d = ka.describe_application(ApplicationName="app1")["ApplicationDetail"]
    assert [o["OutputId"] for o in d["OutputDescriptions"]] == ["1.1", "1.3"]
    assert d["ApplicationVersionId"] == 4

    # reference data, CloudWatch options, input processing: stored and echoed
    ka.add_application_reference_data_source(
        ApplicationName="app1", CurrentApplicationVersionId=4,
        ReferenceDataSource={"TableName": "Companies",
                             "S3ReferenceDataSource": {"BucketARN": "arn:aws:s3:::b",
                                                       "FileKey": "c.csv",
                                                       "ReferenceRoleARN": ROLE},
                             "ReferenceSchema": {
                                 "RecordFormat": {"RecordFormatType": "CSV", "MappingParameters": {
                                     "CSVMappingParameters": {"RecordRowDelimiter": "\n",
                                                              "RecordColumnDelimiter": ","}}},
                                 "RecordColumns": [{"Name": "sym", "SqlType": "VARCHAR(4)"},
                                                   {"Name": "name", "SqlType": "VARCHAR(20)"}]}})
    ka.add_application_cloud_watch_logging_option(
        ApplicationName="app1", CurrentApplicationVersionId=5,
        CloudWatchLoggingOption={"LogStreamARN": "arn:aws:logs:us-east-1:123456789012:"
                                                 "log-group:g:log-stream:s", "RoleARN": ROLE})
    ka.add_application_input_processing_configuration(
        ApplicationName="app1", CurrentApplicationVersionId=6, InputId="1.1",
        InputProcessingConfiguration={"InputLambdaProcessor": {
            "ResourceARN": "arn:aws:lambda:us-east-1:123456789012:function:f", "RoleARN": ROLE}})
    d = ka.describe_application(ApplicationName="app1")["ApplicationDetail"]
    assert d["ApplicationVersionId"] == 7
    assert d["ReferenceDataSourceDescriptions"][0]["ReferenceId"] == "1.1"
    assert d["ReferenceDataSourceDescriptions"][0]["TableName"] == "Companies"
    assert d["CloudWatchLoggingOptionDescriptions"][0]["CloudWatchLoggingOptionId"] == "1.1"
    assert d["InputDescriptions"][0]["InputProcessingConfigurationDescription"][
        "InputLambdaProcessorDescription"]["ResourceARN"].endswith(":function:f")
    ka.delete_application_input_processing_configuration(
        ApplicationName="app1", CurrentApplicationVersionId=7, InputId="1.1")
    ka.delete_application_cloud_watch_logging_option(
        ApplicationName="app1", CurrentApplicationVersionId=8, CloudWatchLoggingOptionId="1.1")
    ka.delete_application_reference_data_source(ApplicationName="app1",
                                                CurrentApplicationVersionId=9, ReferenceId="1.1")

    # update the code: bad SQL is a CodeValidationException with line and column
    with pytest.raises(ClientError) as e:
        ka.update_application(ApplicationName="app1", CurrentApplicationVersionId=10,
                              ApplicationUpdate={"ApplicationCodeUpdate":
                                                 "CREATE STREAM X (a INT);\nCREATE PUMP P AS "
                                                 "INSERT INTO X SELECT STREAM nope FROM "
                                                 "SOURCE_SQL_STREAM_001;"})
    assert err(e) == "CodeValidationException"
    assert "line 2, column" in e.value.response["Error"]["Message"]
    ka.update_application(ApplicationName="app1", CurrentApplicationVersionId=10,
                          ApplicationUpdate={"ApplicationCodeUpdate": CODE,
                                             "InputUpdates": [{"InputId": "1.1",
                                                               "InputParallelismUpdate":
                                                                   {"CountUpdate": 1}}]})
    # an update naming an unknown id is ResourceNotFound and changes nothing (not even a part
    # applied before the bad one)
    for upd, code in ((({"OutputUpdates": [{"OutputId": "9.9", "NameUpdate": "X"}]}),
                       "ResourceNotFoundException"),
                      (({"ApplicationCodeUpdate": "", "ReferenceDataSourceUpdates": [
                          {"ReferenceId": "7.7", "TableNameUpdate": "T"}]}),
                       "ResourceNotFoundException"),
                      (({"InputUpdates": [{"InputId": "1.1", "InputSchemaUpdate": {
                          "RecordColumnUpdates": [{"Name": "A", "SqlType": "NOPE(1)",
                                                   "Mapping": "$.A"}]}}]}),
                       "InvalidArgumentException")):
        with pytest.raises(ClientError) as e:
            ka.update_application(ApplicationName="app1", CurrentApplicationVersionId=11,
                                  ApplicationUpdate=upd)
        assert err(e) == code, upd
        d = ka.describe_application(ApplicationName="app1")["ApplicationDetail"]
        assert d["ApplicationVersionId"] == 11 and d["ApplicationCode"] == CODE

    # start / stop; start twice is ResourceInUse; stop/start keep the version
    start(ka, "app1")
    with pytest.raises(ClientError) as e:
        start(ka, "app1")
    assert err(e) == "ResourceInUseException"
    ka.stop_application(ApplicationName="app1")
    d = ka.describe_application(ApplicationName="app1")["ApplicationDetail"]
    assert d["ApplicationStatus"] == "READY"
    assert d["ApplicationVersionId"] == 11

    # tags
    arn = d["ApplicationARN"]
    ka.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "test"}])
    tags = ka.list_tags_for_resource(ResourceARN=arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "test"), ("team", "a")]
    ka.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert ka.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env",
                                                                   "Value": "test"}]
    with pytest.raises(ClientError) as e:
        ka.tag_resource(ResourceARN=arn, Tags=[{"Key": f"k{i}", "Value": "v"}
                                               for i in range(50)])
    assert err(e) == "TooManyTagsException"

    # list, delete
    ka.create_application(ApplicationName="app0")
    ka.create_application(ApplicationName="app2")
    names = [s["ApplicationName"] for s in ka.list_applications()["ApplicationSummaries"]]
    assert names == ["app0", "app1", "app2"]
    r = ka.list_applications(Limit=1, ExclusiveStartApplicationName="app0")
    assert [s["ApplicationName"] for s in r["ApplicationSummaries"]] == ["app1"]
    assert r["HasMoreApplications"] is True
    with pytest.raises(ClientError) as e:
        ka.delete_application(ApplicationName="app1", CreateTimestamp=1)
    assert err(e) == "InvalidArgumentException"
    ka.delete_application(ApplicationName="app1", CreateTimestamp=d["CreateTimestamp"])
    with pytest.raises(ClientError) as e:
        ka.describe_application(ApplicationName="app1")
    assert err(e) == "ResourceNotFoundException"


def test_start_checks(gateway):
    ka = gateway.client("kinesisanalytics")
    kin = gateway.client("kinesis")
    make_stream(kin, "in")
    make_stream(kin, "out")
    # an output Name must match a stream of the code exactly (case-sensitive)
    code = ("CREATE OR REPLACE STREAM \"tech_stream\" (\"sym\" VARCHAR(4));\n"
            "CREATE OR REPLACE PUMP tech_pump AS INSERT INTO \"tech_stream\"\n"
            "  SELECT STREAM ticker_symbol FROM source_sql_stream_001;")
    ka.create_application(ApplicationName="a", ApplicationCode=code,
                          Inputs=[kinesis_input(gateway, "in", D1_COLS)],
                          Outputs=[kinesis_output(gateway, "TECH_STREAM", "out")])
    with pytest.raises(ClientError) as e:
        start(ka, "a")
    assert err(e) == "InvalidApplicationConfigurationException"
    assert ka.describe_application(ApplicationName="a")["ApplicationDetail"][
        "ApplicationStatus"] == "READY"
    # INSERT INTO tech_stream folds to TECH_STREAM: CodeValidationException at create
    with pytest.raises(ClientError) as e:
        ka.create_application(ApplicationName="b", ApplicationCode=code.replace(
            'INSERT INTO "tech_stream"', "INSERT INTO tech_stream"),
            Inputs=[kinesis_input(gateway, "in", D1_COLS)])
    assert err(e) == "CodeValidationException"
    # no input: cannot start
    ka.create_application(ApplicationName="c")
    with pytest.raises(ClientError) as e:
        ka.start_application(ApplicationName="c", InputConfigurations=[{
            "Id": "1.1", "InputStartingPositionConfiguration": {"InputStartingPosition": "NOW"}}])
    assert err(e) == "InvalidApplicationConfigurationException"
    with pytest.raises(ClientError) as e:
        ka.describe_application(ApplicationName="nope")
    assert err(e) == "ResourceNotFoundException"


def test_cli(gateway):
    p = gateway.aws("kinesisanalytics", "create-application", "--application-name", "cli-app")
    assert json.loads(p.stdout)["ApplicationSummary"]["ApplicationStatus"] == "READY"
    p = gateway.aws("kinesisanalytics", "list-applications")
    assert [a["ApplicationName"] for a in json.loads(p.stdout)["ApplicationSummaries"]] == \
        ["cli-app"]
    p = gateway.aws("kinesisanalytics", "describe-application", "--application-name", "cli-app")
    assert json.loads(p.stdout)["ApplicationDetail"]["ApplicationVersionId"] == 1


def test_survives_restart(make_gateway):
    gw = make_gateway()
    ka = gw.client("kinesisanalytics")
    ka.create_application(ApplicationName="keep", ApplicationCode="")
    ka.tag_resource(ResourceARN=ka.describe_application(ApplicationName="keep")
                    ["ApplicationDetail"]["ApplicationARN"], Tags=[{"Key": "a", "Value": "b"}])
    assert gw.stop() == 0
    gw.start()
    ka = gw.client("kinesisanalytics")
    d = ka.describe_application(ApplicationName="keep")["ApplicationDetail"]
    assert d["ApplicationStatus"] == "READY"
    assert ka.list_tags_for_resource(ResourceARN=d["ApplicationARN"])["Tags"] == \
        [{"Key": "a", "Value": "b"}]
    assert gw.stop() == 0
