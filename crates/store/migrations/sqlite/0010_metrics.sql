-- CloudWatch metrics at one-minute resolution (ignis-metrics aggregates them in memory and
-- merges its minutes in here in batches). A series is one (namespace, metric name, dimension
-- set, unit); `dimensions` is its canonical form: a JSON array of [name, value] pairs sorted by
-- name. `last_ms` is when a datapoint last arrived (ListMetrics' RecentlyActive).
CREATE TABLE metric_series (
    id           INTEGER PRIMARY KEY,
    namespace    TEXT NOT NULL,
    metric_name  TEXT NOT NULL,
    dimensions   TEXT NOT NULL,
    unit         TEXT NOT NULL,
    last_ms      BIGINT NOT NULL,
    UNIQUE (namespace, metric_name, dimensions, unit)
);
-- One minute of one series: its statistics and the distribution percentiles are read from
-- (ignis-metrics' histogram encoding). Minutes older than 15 days are deleted.
CREATE TABLE metric_minutes (
    series_id    BIGINT NOT NULL REFERENCES metric_series (id) ON DELETE CASCADE,
    minute_ms    BIGINT NOT NULL,
    sample_count DOUBLE PRECISION NOT NULL,
    sum          DOUBLE PRECISION NOT NULL,
    minimum      DOUBLE PRECISION NOT NULL,
    maximum      DOUBLE PRECISION NOT NULL,
    histogram    BLOB NOT NULL,
    PRIMARY KEY (series_id, minute_ms)
);
CREATE INDEX metric_minutes_by_time ON metric_minutes (minute_ms);
