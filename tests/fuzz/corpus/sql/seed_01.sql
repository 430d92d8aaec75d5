CREATE OR REPLACE STREAM "tech_stream" ("sym" VARCHAR(4), price DOUBLE, "Pct" DOUBLE);
CREATE OR REPLACE PUMP tech_pump AS INSERT INTO "tech_stream"
  SELECT STREAM ticker_symbol, price, change / (price - change) * 100
  FROM source_sql_stream_001 WHERE sector LIKE 'TECH%' AND change <> 0;