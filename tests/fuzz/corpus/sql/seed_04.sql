CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker_symbol VARCHAR(4),
  min_price DOUBLE, max_price DOUBLE, avg_price DOUBLE, n BIGINT);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM ticker_symbol, MIN(price) OVER last_minute, MAX(price) OVER last_minute,
         AVG(price) OVER last_minute, COUNT(*) OVER last_minute
  FROM "SOURCE_SQL_STREAM_001"
  WINDOW last_minute AS (PARTITION BY ticker_symbol RANGE INTERVAL '60' SECOND PRECEDING);