-- The open statistics as published: one row per closed month, computed once when the month is
-- first published and never recomputed, so that queries at different times cannot be
-- differenced (docs/statistics.md). `body` is the month's published figures (JSON, suppressed
-- cells already null).
CREATE TABLE published_statistics (
    month        TEXT PRIMARY KEY,
    published_at BIGINT NOT NULL,
    body         TEXT NOT NULL
);
