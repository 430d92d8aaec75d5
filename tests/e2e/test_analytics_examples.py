"""The worked examples of the Analytics SQL spec (§3, E1-E14) end to end with their exact
ROWTIMEs: records go in through boto3 PutRecords, rows come back from the output data streams.

sluiced runs with the test-only clock (SLUICE_ANALYTICS_TEST_CLOCK=partition-key, see
api/analytics/ka_runtime.c): each input record's partition key is the ROWTIME the spec's
harness injects ("2024-01-15 10:00:05.000"), a record keyed "clock <time>" is the spec's
`clock T` heartbeat, and each output record carries its row's ROWTIME as its partition key.
Wall-clock time plays no part, so the results are deterministic on a loaded machine; waits
only bound how long the worker may take."""
import json
import statistics

import pytest

from analytics_util import (D1, D1_COLS, ROLE, Reader, kinesis_input, kinesis_output,
                            make_stream, start)

DAY = "2024-01-15"
D1_TIMES = ["10:00:05", "10:00:12", "10:00:20", "10:00:35", "10:00:48", "10:00:59.999",
            "10:01:00", "10:01:10", "10:01:25", "10:01:40", "10:02:00", "10:02:30"]


def T(hms, day=DAY):
    """'10:00:05' -> '2024-01-15 10:00:05.000' (the form output keys and TIMESTAMPs use)."""
    if "." not in hms:
        hms += ".000"
    return f"{day} {hms}"


@pytest.fixture
def tgw(make_gateway, tmp_path):
    s3 = tmp_path / "s3"
    s3.mkdir()
    gw = make_gateway(env={"SLUICE_ANALYTICS_TEST_CLOCK": "partition-key",
                           "SLUICE_FIREHOSE_S3_DIR": str(s3)})
    gw.s3_dir = s3
    yield gw
    assert gw.stop() == 0, gw.stderr


def d1_input():
    rows = [(T(t), {"TICKER_SYMBOL": a, "SECTOR": b, "CHANGE": c, "PRICE": d})
            for t, (a, b, c, d) in zip(D1_TIMES, D1)]
    return rows + [(T("10:03:00"), None)]


def app(gw, name, code, cols, outputs, reference=None):
    """outputs: [(in-app name, format)]; each gets its own one-shard data stream."""
    ka = gw.client("kinesisanalytics")
    kin = gw.client("kinesis")
    make_stream(kin, f"{name}-in")
    for i, _ in enumerate(outputs):
        make_stream(kin, f"{name}-out{i}")
    ka.create_application(ApplicationName=name, ApplicationCode="" if reference else code,
                          Inputs=[kinesis_input(gw, f"{name}-in", cols)],
                          Outputs=[kinesis_output(gw, n, f"{name}-out{i}", f)
                                   for i, (n, f) in enumerate(outputs)])
    if reference:
        ka.add_application_reference_data_source(ApplicationName=name,
                                                 CurrentApplicationVersionId=1,
                                                 ReferenceDataSource=reference)
        ka.update_application(ApplicationName=name, CurrentApplicationVersionId=2,
                              ApplicationUpdate={"ApplicationCodeUpdate": code})
    start(ka, name)
    return kin, [Reader(kin, f"{name}-out{i}") for i in range(len(outputs))]


def feed(kin, name, rows):
    """rows: [(rowtime text, payload dict | bytes | None for a heartbeat)], in one ordered call
    per 500 records (one shard keeps their order)."""
    recs = []
    for t, p in rows:
        if p is None:
            recs.append({"PartitionKey": f"clock {t}", "Data": b"-"})
        else:
            data = p if isinstance(p, bytes) else json.dumps(p, separators=(",", ":")).encode()
            recs.append({"PartitionKey": t, "Data": data})
    for i in range(0, len(recs), 500):
        r = kin.put_records(StreamName=f"{name}-in", Records=recs[i:i + 500])
        assert r["FailedRecordCount"] == 0


def rows_of(reader, n, csv=False, timeout=60):
    recs = reader.until(n, timeout)
    assert len(recs) == n, recs
    vals = [r.decode() if csv else json.loads(r) for r in recs]
    return list(zip(reader.keys, vals))


def approx_row(row):
    return {k: pytest.approx(v, rel=1e-9) if isinstance(v, float) else v for k, v in row.items()}


def check(got, want):
    """got/want: [(rowtime, row dict)]. Same ROWTIME sequence; rows of one ROWTIME compared as a
    multiset (spec §3 conventions); doubles with relative tolerance 1e-9."""
    assert [t for t, _ in got] == [t for t, _ in want]
    i = 0
    while i < len(want):
        j = i
        while j < len(want) and want[j][0] == want[i][0]:
            j += 1
        g = [r for _, r in got[i:j]]
        for _, w in want[i:j]:
            match = [k for k, r in enumerate(g) if r == approx_row(w)]
            assert match, f"{w} not among {g} at {want[i][0]}"
            g.pop(match[0])
        i = j


def test_e1_filter(tgw):
    code = """CREATE OR REPLACE STREAM BIG_MOVES (sym VARCHAR(4), sector VARCHAR(12), pct DOUBLE);
CREATE OR REPLACE PUMP BIG_MOVES_PUMP AS INSERT INTO BIG_MOVES
  SELECT STREAM ticker_symbol, sector, ABS(change / (price - change)) * 100
  FROM SOURCE_SQL_STREAM_001
  WHERE ABS(change / (price - change)) > 0.01;"""
    kin, (out,) = app(tgw, "e1", code, D1_COLS, [("BIG_MOVES", "JSON")])
    feed(kin, "e1", d1_input())
    want = [(1, "AMZN", "TECHNOLOGY", 1.5), (5, "TGT", "RETAIL", 1.2),
            (6, "AMZN", "TECHNOLOGY", 1.9801980198019802), (7, "XOM", "ENERGY", 2.6217228464419478),
            (9, "TGT", "RETAIL", 3.1620553359683794), (10, "AMZN", "TECHNOLOGY", 2.912621359223301)]
    check(rows_of(out, 6), [(T(D1_TIMES[i - 1]), {"SYM": s, "SECTOR": sec, "PCT": p})
                            for i, s, sec, p in want])


def test_e2_case_like_json(tgw):
    code = """CREATE OR REPLACE STREAM "tech_stream" ("sym" VARCHAR(4), price DOUBLE, "Pct" DOUBLE);
CREATE OR REPLACE PUMP tech_pump AS INSERT INTO "tech_stream"
  SELECT STREAM ticker_symbol, price, change / (price - change) * 100
  FROM source_sql_stream_001 WHERE sector LIKE 'TECH%' AND change <> 0;"""
    kin, (out,) = app(tgw, "e2", code, D1_COLS, [("tech_stream", "JSON")])
    feed(kin, "e2", d1_input())
    got = rows_of(out, 4)
    assert out.records[0] == b'{"sym":"AMZN","PRICE":101.5,"Pct":1.5}'
    check(got, [(T("10:00:05"), {"sym": "AMZN", "PRICE": 101.5, "Pct": 1.5}),
                (T("10:00:20"), {"sym": "AMZN", "PRICE": 101.0, "Pct": -0.49261083743842365}),
                (T("10:00:59.999"), {"sym": "AMZN", "PRICE": 103.0, "Pct": 1.9801980198019802}),
                (T("10:01:40"), {"sym": "AMZN", "PRICE": 100.0, "Pct": -2.912621359223301})])


def test_e3_floor_minute_counts(tgw):
    code = """CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM"
  (window_start TIMESTAMP, ticker VARCHAR(4), ticker_count INTEGER);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM FLOOR(s.ROWTIME TO MINUTE), s.ticker_symbol, COUNT(*)
  FROM "SOURCE_SQL_STREAM_001" AS s
  GROUP BY s.ticker_symbol, FLOOR(s.ROWTIME TO MINUTE);"""
    kin, (out,) = app(tgw, "e3", code, D1_COLS, [("DESTINATION_SQL_STREAM", "JSON")])
    rows = d1_input()
    feed(kin, "e3", rows[:6])  # up to 10:00:59.999: the first window is still open
    feed(kin, "e3", rows[6:7])  # row 7 (10:01:00.000) closes it
    first = rows_of(out, 3)

    def r(ws, t, n):
        return {"WINDOW_START": T(ws), "TICKER": t, "TICKER_COUNT": n}

    check(first, [(T("10:01:00"), r("10:00:00", "AMZN", 3)),
                  (T("10:01:00"), r("10:00:00", "TGT", 2)),
                  (T("10:01:00"), r("10:00:00", "XOM", 1))])
    feed(kin, "e3", rows[7:])
    check(rows_of(out, 8), first + [
        (T("10:02:00"), r("10:01:00", "XOM", 1)), (T("10:02:00"), r("10:01:00", "AMZN", 2)),
        (T("10:02:00"), r("10:01:00", "TGT", 1)), (T("10:03:00"), r("10:02:00", "XOM", 1)),
        (T("10:03:00"), r("10:02:00", "TGT", 1))])


def test_e4_step_aggregates_having(tgw):
    code = """CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (win TIMESTAMP, n BIGINT,
  min_p DOUBLE, max_p DOUBLE, sum_chg DOUBLE, avg_p DOUBLE);
CREATE OR REPLACE STREAM "HAVING_OUT" (win TIMESTAMP, n BIGINT,
  min_p DOUBLE, max_p DOUBLE, sum_chg DOUBLE, avg_p DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM STEP(s.ROWTIME BY INTERVAL '30' SECOND), COUNT(*), MIN(price),
         MAX(price), SUM(change), AVG(price)
  FROM "SOURCE_SQL_STREAM_001" AS s GROUP BY STEP(s.ROWTIME BY INTERVAL '30' SECOND);
CREATE OR REPLACE PUMP "HAVING_PUMP" AS INSERT INTO "HAVING_OUT"
  SELECT STREAM STEP(s.ROWTIME BY INTERVAL '30' SECOND), COUNT(*), MIN(price),
         MAX(price), SUM(change), AVG(price)
  FROM "SOURCE_SQL_STREAM_001" AS s GROUP BY STEP(s.ROWTIME BY INTERVAL '30' SECOND)
  HAVING COUNT(*) > 1;"""
    kin, (out, hav) = app(tgw, "e4", code, D1_COLS,
                          [("DESTINATION_SQL_STREAM", "JSON"), ("HAVING_OUT", "JSON")])
    feed(kin, "e4", d1_input())
    want = [("10:00:30", "10:00:00", 3, 50.0, 101.5, 0.8, 84.16666666666667),
            ("10:01:00", "10:00:30", 3, 50.6, 103.0, 2.7, 77.9),
            ("10:01:30", "10:01:00", 3, 49.0, 103.0, -3.7, 76.66666666666667),
            ("10:02:00", "10:01:30", 1, 100.0, 100.0, -3.0, 100.0),
            ("10:02:30", "10:02:00", 1, 78.5, 78.5, 0.5, 78.5),
            ("10:03:00", "10:02:30", 1, 49.25, 49.25, 0.25, 49.25)]
    rows = [(T(rt), {"WIN": T(w), "N": n, "MIN_P": a, "MAX_P": b, "SUM_CHG": c, "AVG_P": d})
            for rt, w, n, a, b, c, d in want]
    check(rows_of(out, 6), rows)
    check(rows_of(hav, 3), rows[:3])


def test_e5_sliding_minute(tgw):
    code = """CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker_symbol VARCHAR(4),
  min_price DOUBLE, max_price DOUBLE, avg_price DOUBLE, n BIGINT);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM ticker_symbol, MIN(price) OVER last_minute, MAX(price) OVER last_minute,
         AVG(price) OVER last_minute, COUNT(*) OVER last_minute
  FROM "SOURCE_SQL_STREAM_001"
  WINDOW last_minute AS (PARTITION BY ticker_symbol RANGE INTERVAL '60' SECOND PRECEDING);"""
    kin, (out,) = app(tgw, "e5", code, D1_COLS, [("DESTINATION_SQL_STREAM", "JSON")])
    feed(kin, "e5", d1_input())
    want = [("AMZN", 101.5, 101.5, 101.5, 1), ("TGT", 50.0, 50.0, 50.0, 1),
            ("AMZN", 101.0, 101.5, 101.25, 2), ("XOM", 80.1, 80.1, 80.1, 1),
            ("TGT", 50.0, 50.6, 50.3, 2), ("AMZN", 101.0, 103.0, 101.83333333333333, 3),
            ("XOM", 78.0, 80.1, 79.05, 2), ("AMZN", 101.0, 103.0, 102.33333333333333, 3),
            ("TGT", 49.0, 50.6, 49.8, 2), ("AMZN", 100.0, 103.0, 102.0, 3),
            ("XOM", 78.0, 78.5, 78.25, 2), ("TGT", 49.25, 49.25, 49.25, 1)]
    got = rows_of(out, 12)
    check(got, [(T(t), {"TICKER_SYMBOL": s, "MIN_PRICE": a, "MAX_PRICE": b, "AVG_PRICE": c,
                        "N": n}) for t, (s, a, b, c, n) in zip(D1_TIMES, want)])


def test_e6_row_windows(tgw):
    code = """CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM"
  (ticker_symbol VARCHAR(4), price DOUBLE, avg_last2 DOUBLE, avg_last4 DOUBLE);
CREATE OR REPLACE PUMP MA_PUMP AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM ticker_symbol, price, AVG(price) OVER w2, AVG(price) OVER w4
  FROM SOURCE_SQL_STREAM_001 WHERE ticker_symbol = 'AMZN'
  WINDOW w2 AS (PARTITION BY ticker_symbol ROWS 1 PRECEDING),
         w4 AS (PARTITION BY ticker_symbol ROWS 3 PRECEDING);"""
    kin, (out,) = app(tgw, "e6", code, D1_COLS, [("DESTINATION_SQL_STREAM", "JSON")])
    feed(kin, "e6", d1_input())
    want = [("10:00:05", 101.5, 101.5, 101.5), ("10:00:20", 101.0, 101.25, 101.25),
            ("10:00:59.999", 103.0, 102.0, 101.83333333333333),
            ("10:01:10", 103.0, 103.0, 102.125), ("10:01:40", 100.0, 101.5, 101.75)]
    check(rows_of(out, 5), [(T(t), {"TICKER_SYMBOL": "AMZN", "PRICE": p, "AVG_LAST2": a,
                                    "AVG_LAST4": b}) for t, p, a, b in want])


def test_e7_stagger_vs_tumbling(tgw):
    code = """CREATE OR REPLACE STREAM "STAGGER_OUT" (event_minute TIMESTAMP, ticker VARCHAR(4), n INTEGER);
CREATE OR REPLACE STREAM "TUMBLE_OUT" (event_minute TIMESTAMP, ticker VARCHAR(4), n INTEGER);
CREATE OR REPLACE PUMP "P_STAGGER" AS INSERT INTO "STAGGER_OUT"
  SELECT STREAM FLOOR(event_time TO MINUTE), ticker_symbol, COUNT(ticker_symbol)
  FROM "SOURCE_SQL_STREAM_001"
  WINDOWED BY STAGGER (PARTITION BY FLOOR(event_time TO MINUTE), ticker_symbol
                       RANGE INTERVAL '1' MINUTE);
CREATE OR REPLACE PUMP "P_TUMBLE" AS INSERT INTO "TUMBLE_OUT"
  SELECT STREAM FLOOR(event_time TO MINUTE), ticker_symbol, COUNT(ticker_symbol)
  FROM "SOURCE_SQL_STREAM_001"
  GROUP BY ticker_symbol, FLOOR(event_time TO MINUTE),
           STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' MINUTE);"""
    cols = [("EVENT_TIME", "TIMESTAMP"), ("TICKER_SYMBOL", "VARCHAR(4)")]
    kin, (stag, tumb) = app(tgw, "e7", code, cols, [("STAGGER_OUT", "JSON"),
                                                     ("TUMBLE_OUT", "JSON")])
    inp = [("11:00:20", "11:00:10", "AMZN"), ("11:00:30", "11:00:20", "AMZN"),
           ("11:00:50", "11:00:45", "TGT"), ("11:01:05", "11:00:55", "AMZN"),
           ("11:01:15", "11:01:05", "AMZN")]
    feed(kin, "e7", [(T(rt), {"EVENT_TIME": f"{DAY}T{et}", "TICKER_SYMBOL": s})
                     for rt, et, s in inp] + [(T("11:03:00"), None)])

    def r(m, t, n):
        return {"EVENT_MINUTE": T(m), "TICKER": t, "N": n}

    check(rows_of(stag, 3), [(T("11:01:20"), r("11:00:00", "AMZN", 3)),
                             (T("11:01:50"), r("11:00:00", "TGT", 1)),
                             (T("11:02:15"), r("11:01:00", "AMZN", 1))])
    check(rows_of(tumb, 4), [(T("11:01:00"), r("11:00:00", "AMZN", 2)),
                             (T("11:01:00"), r("11:00:00", "TGT", 1)),
                             (T("11:02:00"), r("11:00:00", "AMZN", 1)),
                             (T("11:02:00"), r("11:01:00", "AMZN", 1))])


def test_e8_top_k_and_count_distinct(tgw):
    code = """CREATE OR REPLACE STREAM "TOPK" ("TICKER" VARCHAR(4), "MOST_FREQUENT_VALUES" BIGINT);
CREATE OR REPLACE STREAM "DISTINCTS" (n BIGINT);
CREATE OR REPLACE PUMP "P1" AS INSERT INTO "TOPK" SELECT STREAM * FROM TABLE(
  TOP_K_ITEMS_TUMBLING(CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001"), 'TICKER', 3, 60));
CREATE OR REPLACE PUMP "P2" AS INSERT INTO "DISTINCTS" SELECT STREAM * FROM TABLE(
  COUNT_DISTINCT_ITEMS_TUMBLING(CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001"), 'TICKER', 60));"""
    kin, (topk, dist) = app(tgw, "e8", code, [("TICKER", "VARCHAR(4)")],
                            [("TOPK", "JSON"), ("DISTINCTS", "JSON")])
    seq = [("12:00:00", "AMZN"), ("12:00:05", "MSFT"), ("12:00:10", "AMZN"),
           ("12:00:15", "INTC"), ("12:00:20", "AMZN"), ("12:00:25", "MSFT"),
           ("12:00:30", "TBV"), ("12:00:35", "AMZN"), ("12:00:40", "MSFT"),
           ("12:00:45", "INTC"), ("12:01:00", "TBV"), ("12:01:10", "AAPL"),
           ("12:01:20", "TBV"), ("12:01:30", "AMZN"), ("12:01:40", "TBV"), ("12:01:50", "AAPL")]
    feed(kin, "e8", [(T(t), {"TICKER": s}) for t, s in seq] + [(T("12:02:00"), None)])
    got = rows_of(topk, 6)
    want = [("12:01:00", "AMZN", 4), ("12:01:00", "MSFT", 3), ("12:01:00", "INTC", 2),
            ("12:02:00", "TBV", 3), ("12:02:00", "AAPL", 2), ("12:02:00", "AMZN", 1)]
    # by count descending within a window: compare in order, not as a multiset
    assert got == [(T(t), {"TICKER": s, "MOST_FREQUENT_VALUES": n}) for t, s, n in want]
    check(rows_of(dist, 2), [(T("12:01:00"), {"N": 4}), (T("12:02:00"), {"N": 3})])


def test_e9_reference_join(tgw):
    (tgw.s3_dir / "refdata").mkdir()
    (tgw.s3_dir / "refdata" / "companies.csv").write_text("AMZN,Amazon\nTGT,Target\n")
    code = """CREATE OR REPLACE STREAM ENRICHED (sym VARCHAR(4), company VARCHAR(20), price DOUBLE);
CREATE OR REPLACE STREAM INNER_ENRICHED (sym VARCHAR(4), company VARCHAR(20), price DOUBLE);
CREATE OR REPLACE PUMP ENRICH_PUMP AS INSERT INTO ENRICHED
  SELECT STREAM q.ticker_symbol, r."name", q.price
  FROM SOURCE_SQL_STREAM_001 AS q
  LEFT OUTER JOIN "Companies" AS r ON q.ticker_symbol = r."sym";
CREATE OR REPLACE PUMP INNER_PUMP AS INSERT INTO INNER_ENRICHED
  SELECT STREAM q.ticker_symbol, r."name", q.price
  FROM SOURCE_SQL_STREAM_001 AS q
  JOIN "Companies" AS r ON q.ticker_symbol = r."sym";"""
    ref = {"TableName": "Companies",
           "S3ReferenceDataSource": {"BucketARN": "arn:aws:s3:::refdata",
                                     "FileKey": "companies.csv", "ReferenceRoleARN": ROLE},
           "ReferenceSchema": {
               "RecordFormat": {"RecordFormatType": "CSV", "MappingParameters": {
                   "CSVMappingParameters": {"RecordRowDelimiter": "\n",
                                            "RecordColumnDelimiter": ","}}},
               "RecordColumns": [{"Name": "sym", "SqlType": "VARCHAR(4)"},
                                 {"Name": "name", "SqlType": "VARCHAR(20)"}]}}
    kin, (left, inner) = app(tgw, "e9", code, D1_COLS, [("ENRICHED", "JSON"),
                                                         ("INNER_ENRICHED", "JSON")], ref)
    feed(kin, "e9", d1_input()[:4])

    def r(s, c, p):
        return {"SYM": s, "COMPANY": c, "PRICE": p}

    want = [(T("10:00:05"), r("AMZN", "Amazon", 101.5)), (T("10:00:12"), r("TGT", "Target", 50.0)),
            (T("10:00:20"), r("AMZN", "Amazon", 101.0)), (T("10:00:35"), r("XOM", None, 80.1))]
    check(rows_of(left, 4), want)
    check(rows_of(inner, 3), want[:3])


def test_e10_stream_stream_join(tgw):
    code = """CREATE OR REPLACE STREAM "Orders" ("orderId" INTEGER, "custId" INTEGER);
CREATE OR REPLACE STREAM "Shipments" ("orderId" INTEGER);
CREATE OR REPLACE STREAM "OUT" ("orderId" INTEGER, "custId" INTEGER, "shipTime" TIMESTAMP);
CREATE OR REPLACE PUMP "PO" AS INSERT INTO "Orders"
  SELECT STREAM "orderId", "custId" FROM "SOURCE_SQL_STREAM_001" WHERE "kind" = 'O';
CREATE OR REPLACE PUMP "PS" AS INSERT INTO "Shipments"
  SELECT STREAM "orderId" FROM "SOURCE_SQL_STREAM_001" WHERE "kind" = 'S';
CREATE OR REPLACE PUMP "PJ" AS INSERT INTO "OUT"
  SELECT STREAM o."orderId", o."custId", s.ROWTIME
  FROM "Orders" AS o JOIN "Shipments" OVER (RANGE INTERVAL '1' HOUR FOLLOWING) AS s
    ON o."orderId" = s."orderId";"""
    cols = [("kind", "VARCHAR(1)"), ("orderId", "INTEGER"), ("custId", "INTEGER")]
    kin, (out,) = app(tgw, "e10", code, cols, [("OUT", "JSON")])
    inp = [("10:15:00", "O", 100, 501), ("10:25:00", "O", 101, 22), ("10:25:30", "O", 102, 699),
           ("10:30:00", "S", 100, None), ("11:05:00", "S", 102, None),
           ("11:15:00", "S", 101, None), ("11:40:00", "S", 100, None)]
    rows = []
    for t, k, o, c in inp:
        doc = {"kind": k, "orderId": o}
        if c is not None:
            doc["custId"] = c
        rows.append((T(t), doc))
    feed(kin, "e10", rows + [(T("12:00:00"), None)])
    assert rows_of(out, 3) == [
        (T("10:15:00"), {"orderId": 100, "custId": 501, "shipTime": T("10:30:00")}),
        (T("10:25:00"), {"orderId": 101, "custId": 22, "shipTime": T("11:15:00")}),
        (T("10:25:30"), {"orderId": 102, "custId": 699, "shipTime": T("11:05:00")})]


def test_e11_chained_pumps(tgw):
    code = """CREATE OR REPLACE STREAM "ORDERS" ("order_id" INTEGER, "order_price" DOUBLE);
CREATE OR REPLACE PUMP "ORDERS_PUMP" AS INSERT INTO "ORDERS"
  SELECT STREAM "Oid", "Oprice" FROM "SOURCE_SQL_STREAM_001" WHERE "RecordType" = 'Order';
CREATE OR REPLACE STREAM "TRADES" ("trade_id" INTEGER, "order_id" INTEGER,
  "trade_price" DOUBLE, "ticker" VARCHAR(4));
CREATE OR REPLACE PUMP "TRADES_PUMP" AS INSERT INTO "TRADES"
  SELECT STREAM "Tid", "Toid", "Tprice", "Tticker" FROM "SOURCE_SQL_STREAM_001"
  WHERE "RecordType" = 'Trade';
CREATE OR REPLACE STREAM "TRADE_COUNTS" ("ticker" VARCHAR(4), "trades" INTEGER);
CREATE OR REPLACE PUMP "COUNT_PUMP" AS INSERT INTO "TRADE_COUNTS"
  SELECT STREAM t."ticker", COUNT(*) FROM "TRADES" AS t
  GROUP BY FLOOR(t.ROWTIME TO MINUTE), t."ticker";"""
    cols = [("RecordType", "VARCHAR(8)"), ("Oid", "INTEGER"), ("Oprice", "INTEGER"),
            ("Tid", "INTEGER"), ("Toid", "INTEGER"), ("Tprice", "INTEGER"),
            ("Tticker", "VARCHAR(4)")]
    kin, (orders, trades, counts) = app(tgw, "e11", code, cols, [
        ("ORDERS", "JSON"), ("TRADES", "JSON"), ("TRADE_COUNTS", "JSON")])
    feed(kin, "e11", [
        (T("09:00:01"), {"RecordType": "Order", "Oid": 3811, "Oprice": 9047}),
        (T("09:00:10"), {"RecordType": "Trade", "Tid": 1, "Toid": 3811, "Tprice": 2089,
                         "Tticker": "AAAA"}),
        (T("09:00:40"), {"RecordType": "Trade", "Tid": 2, "Toid": 3811, "Tprice": 2090,
                         "Tticker": "AAAA"}),
        (T("09:00:50"), {"RecordType": "Order", "Oid": 3812, "Oprice": 1200}),
        (T("09:01:05"), {"RecordType": "Trade", "Tid": 3, "Toid": 3812, "Tprice": 1199,
                         "Tticker": "BBBB"}),
        (T("09:02:00"), None)])
    assert rows_of(orders, 2) == [(T("09:00:01"), {"order_id": 3811, "order_price": 9047.0}),
                                  (T("09:00:50"), {"order_id": 3812, "order_price": 1200.0})]
    assert orders.records[0] == b'{"order_id":3811,"order_price":9047.0}'
    assert rows_of(trades, 3) == [
        (T("09:00:10"), {"trade_id": 1, "order_id": 3811, "trade_price": 2089.0, "ticker": "AAAA"}),
        (T("09:00:40"), {"trade_id": 2, "order_id": 3811, "trade_price": 2090.0, "ticker": "AAAA"}),
        (T("09:01:05"), {"trade_id": 3, "order_id": 3812, "trade_price": 1199.0, "ticker": "BBBB"})]
    assert rows_of(counts, 2) == [(T("09:01:00"), {"ticker": "AAAA", "trades": 2}),
                                  (T("09:02:00"), {"ticker": "BBBB", "trades": 1})]


def test_e12_error_stream(tgw):
    code = """CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker VARCHAR(4), inv DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM ticker_symbol, 100 / price FROM "SOURCE_SQL_STREAM_001";"""
    kin, (out, err) = app(tgw, "e12", code, [("TICKER_SYMBOL", "VARCHAR(4)"), ("PRICE", "DOUBLE")],
                          [("DESTINATION_SQL_STREAM", "JSON"), ("error_stream", "JSON")])
    payloads = [b'{"TICKER_SYMBOL":"AMZN","PRICE":101.5}', b'{"TICKER_SYMBOL":"TGT","PRICE":"n/a"}',
                b'{"TICKER_SYMBOL":"XOM","PRICE":0}', b'{"TICKER_SYMBOL":"BAD"',
                b'{"TICKER_SYMBOL":"AMAZON","PRICE":7}']
    times = [T(f"10:00:0{i}") for i in range(5)]
    feed(kin, "e12", list(zip(times, payloads)))
    check(rows_of(out, 2), [(times[0], {"TICKER": "AMZN", "INV": 0.9852216748768473}),
                            (times[4], {"TICKER": "AMAZ", "INV": 14.285714285714286})])
    errs = [e for _, e in rows_of(err, 3)]
    assert [e["ERROR_NAME"] for e in errs] == ["InputCoercionError", "DivisionByZero",
                                               "InputParseError"]
    assert [e["DATA_ROWTIME"] for e in errs] == times[1:4]
    assert all(e["ERROR_LEVEL"] == "ERROR" and e["MESSAGE"] for e in errs)
    assert bytes.fromhex(errs[0]["DATA_ROW"]) == payloads[1] and errs[0]["PUMP_NAME"] is None
    assert bytes.fromhex(errs[1]["DATA_ROW"]) == b'{"TICKER_SYMBOL":"XOM","PRICE":0.0}'
    assert errs[1]["PUMP_NAME"] == "STREAM_PUMP"
    assert bytes.fromhex(errs[2]["DATA_ROW"]) == payloads[3] and errs[2]["PUMP_NAME"] is None


def test_e13_string_and_time_functions(tgw):
    code = """CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker VARCHAR(4), et TIMESTAMP,
  et_minus5 TIMESTAMP, unix_ms BIGINT, et_char VARCHAR(20), sec BIGINT, lag_ms BIGINT,
  https VARCHAR(32), company VARCHAR(16), www VARCHAR(3), parsed TIMESTAMP,
  step15 TIMESTAMP);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM ticker, event_time, event_time - INTERVAL '5' MINUTE,
    UNIX_TIMESTAMP(event_time), TIMESTAMP_TO_CHAR('yyyy-MM-dd hh:mm:ss', event_time),
    EXTRACT(SECOND FROM event_time), TSDIFF(s.ROWTIME, event_time),
    REGEX_REPLACE(referrer, 'http://', 'https://', 1, 0),
    SUBSTRING(referrer, 12, POSITION('.com' IN referrer) - POSITION('www.' IN referrer) - 4),
    UPPER(SUBSTRING(referrer FROM 8 FOR 3)),
    CHAR_TO_TIMESTAMP('yyyy-MM-dd HH:mm:ss', '2009-09-16 03:15:24'),
    STEP(event_time BY INTERVAL '15' SECOND)
  FROM "SOURCE_SQL_STREAM_001" AS s;"""
    cols = [("EVENT_TIME", "TIMESTAMP"), ("TICKER", "VARCHAR(4)"), ("REFERRER", "VARCHAR(32)")]
    kin, (out,) = app(tgw, "e13", code, cols, [("DESTINATION_SQL_STREAM", "JSON")])
    at = "2018-05-09 12:50:45.000"
    feed(kin, "e13", [(at, {"EVENT_TIME": "2018-05-09T12:50:41.337510", "TICKER": "AAPL",
                            "REFERRER": "http://www.amazon.com"})])
    assert rows_of(out, 1) == [(at, {
        "TICKER": "AAPL", "ET": "2018-05-09 12:50:41.337", "ET_MINUS5": "2018-05-09 12:45:41.337",
        "UNIX_MS": 1525870241337, "ET_CHAR": "2018-05-09 12:50:41", "SEC": 41, "LAG_MS": 3663,
        "HTTPS": "https://www.amazon.com", "COMPANY": "amazon", "WWW": "WWW",
        "PARSED": "2009-09-16 03:15:24.000", "STEP15": "2018-05-09 12:50:30.000"})]


def test_e14_random_cut_forest(tgw):
    code = """CREATE OR REPLACE STREAM SCORED (hr INTEGER, kind VARCHAR(20), score DOUBLE);
CREATE OR REPLACE STREAM RANKED (hr INTEGER, kind VARCHAR(20), score DOUBLE);
CREATE OR REPLACE PUMP SCORE_PUMP AS INSERT INTO SCORED
  SELECT STREAM f."heartRate", f."rateType", f.ANOMALY_SCORE
  FROM TABLE(RANDOM_CUT_FOREST(
         CURSOR(SELECT STREAM "heartRate", "rateType" FROM SOURCE_SQL_STREAM_001),
         100, 256, 100000, 1)) AS f;
CREATE OR REPLACE PUMP RANK_PUMP AS INSERT INTO RANKED
  SELECT STREAM hr, kind, score FROM SCORED
  ORDER BY FLOOR(SCORED.ROWTIME TO SECOND), score DESC;"""
    cols = [("heartRate", "INTEGER"), ("rateType", "VARCHAR(20)")]
    kin, (scored, ranked) = app(tgw, "e14", code, cols, [("SCORED", "JSON"), ("RANKED", "JSON")])
    rows = []
    for i in range(300):
        hr, kind = (190, "HIGH") if i == 280 else (60 + (7 * i) % 41, "NORMAL")
        rows.append((T(f"00:00:{i // 10:02d}.{i % 10}00"), {"heartRate": hr, "rateType": kind}))
    feed(kin, "e14", rows + [(T("00:00:31"), None)])
    s = rows_of(scored, 300, timeout=120)
    assert [t for t, _ in s] == [t for t, _ in rows]
    assert [(r["HR"], r["KIND"]) for _, r in s] == [(p["heartRate"], p["rateType"])
                                                    for _, p in rows]
    scores = [r["SCORE"] for _, r in s]
    assert all(x >= 0 for x in scores) and all(x == 0 for x in scores[:256])
    tail = scores[256:]
    assert max(tail) == scores[280] and scores[280] >= 2 * statistics.median(tail)
    rk = rows_of(ranked, 300, timeout=120)
    for b in range(30):
        bucket = rk[b * 10:(b + 1) * 10]
        assert {t for t, _ in bucket} == {T(f"00:00:{b + 1:02d}")}
        sc = [r["SCORE"] for _, r in bucket]
        assert sc == sorted(sc, reverse=True)
        assert sorted(r["HR"] for _, r in bucket) == sorted(r["HR"] for _, r in s[b * 10:b * 10 + 10])
