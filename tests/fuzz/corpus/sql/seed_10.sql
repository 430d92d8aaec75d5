CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker VARCHAR(4), et TIMESTAMP,
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
  FROM "SOURCE_SQL_STREAM_001" AS s;