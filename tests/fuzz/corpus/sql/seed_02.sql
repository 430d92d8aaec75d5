CREATE OR REPLACE STREAM "tech_stream" ("sym" VARCHAR(4));
CREATE OR REPLACE PUMP p AS INSERT INTO tech_stream SELECT STREAM ticker_symbol FROM source_sql_stream_001;