"""Helpers for the Analytics end-to-end tests: data streams, JSON input schemas, reading an
output stream back, and polling (never a fixed sleep)."""
import json
import time

ROLE = "arn:aws:iam::123456789012:role/analytics"


def stream_arn(gw, name):
    return f"arn:aws:kinesis:{gw.region}:000000000000:stream/{name}"


def make_stream(kin, name, shards=1):
    kin.create_stream(StreamName=name, ShardCount=shards)
    wait(lambda: kin.describe_stream_summary(StreamName=name)
         ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", 30, f"stream {name} active")


def wait(cond, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def json_schema(cols):
    """cols: [(name, sqltype)] mapped from $.<name>."""
    return {
        "RecordFormat": {"RecordFormatType": "JSON",
                         "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
        "RecordEncoding": "UTF-8",
        "RecordColumns": [{"Name": n, "SqlType": t, "Mapping": f"$.{n}"} for n, t in cols],
    }


def kinesis_input(gw, stream, cols, prefix="SOURCE_SQL_STREAM"):
    return {"NamePrefix": prefix,
            "KinesisStreamsInput": {"ResourceARN": stream_arn(gw, stream), "RoleARN": ROLE},
            "InputParallelism": {"Count": 1},
            "InputSchema": json_schema(cols)}


def kinesis_output(gw, name, stream, fmt="JSON"):
    return {"Name": name,
            "KinesisStreamsOutput": {"ResourceARN": stream_arn(gw, stream), "RoleARN": ROLE},
            "DestinationSchema": {"RecordFormatType": fmt}}


class Reader:
    """Reads every shard of a stream from TRIM_HORIZON, remembering where it stopped."""

    def __init__(self, kin, stream):
        self.kin = kin
        shards = kin.list_shards(StreamName=stream)["Shards"]
        self.its = [kin.get_shard_iterator(StreamName=stream, ShardId=s["ShardId"],
                                           ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                    for s in shards]
        self.records = []
        self.keys = []  # partition keys: the rows' ROWTIMEs under the test clock

    def poll(self):
        for i, it in enumerate(self.its):
            r = self.kin.get_records(ShardIterator=it, Limit=1000)
            self.its[i] = r["NextShardIterator"]
            self.records += [x["Data"] for x in r["Records"]]
            self.keys += [x["PartitionKey"] for x in r["Records"]]
        return self.records

    def until(self, n, timeout=30):
        wait(lambda: len(self.poll()) >= n, timeout, f"{n} output records")
        return self.records


def start(ka, name, position="NOW"):
    d = ka.describe_application(ApplicationName=name)["ApplicationDetail"]
    ka.start_application(ApplicationName=name, InputConfigurations=[{
        "Id": d["InputDescriptions"][0]["InputId"],
        "InputStartingPositionConfiguration": {"InputStartingPosition": position}}])
    wait(lambda: ka.describe_application(ApplicationName=name)
         ["ApplicationDetail"]["ApplicationStatus"] == "RUNNING", 30, "RUNNING")


def put_json(kin, stream, docs):
    kin.put_records(StreamName=stream, Records=[
        {"Data": json.dumps(d, separators=(",", ":")).encode(), "PartitionKey": str(i)}
        for i, d in enumerate(docs)])


D1 = [
    ("AMZN", "TECHNOLOGY", 1.50, 101.50), ("TGT", "RETAIL", -0.20, 50.00),
    ("AMZN", "TECHNOLOGY", -0.50, 101.00), ("XOM", "ENERGY", 0.10, 80.10),
    ("TGT", "RETAIL", 0.60, 50.60), ("AMZN", "TECHNOLOGY", 2.00, 103.00),
    ("XOM", "ENERGY", -2.10, 78.00), ("AMZN", "TECHNOLOGY", 0.00, 103.00),
    ("TGT", "RETAIL", -1.60, 49.00), ("AMZN", "TECHNOLOGY", -3.00, 100.00),
    ("XOM", "ENERGY", 0.50, 78.50), ("TGT", "RETAIL", 0.25, 49.25),
]
D1_COLS = [("TICKER_SYMBOL", "VARCHAR(4)"), ("SECTOR", "VARCHAR(16)"), ("CHANGE", "DOUBLE"),
           ("PRICE", "DOUBLE")]


def d1_docs():
    return [{"TICKER_SYMBOL": t, "SECTOR": s, "CHANGE": c, "PRICE": p} for t, s, c, p in D1]
