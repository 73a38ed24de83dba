-- Suspensions of trial areas ordered by AVI (1269/2020 22 §): referrals stop from effective_from.
CREATE TABLE suspensions (
    action_id      TEXT PRIMARY KEY,
    area_id        TEXT NOT NULL,
    effective_from TEXT NOT NULL,
    partial        BIGINT NOT NULL,
    text           TEXT NOT NULL,
    received_at    BIGINT NOT NULL
);
CREATE INDEX suspensions_area ON suspensions (area_id, effective_from);
