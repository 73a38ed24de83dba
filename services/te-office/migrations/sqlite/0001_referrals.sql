-- te-office: referrals, their status history (also the WatchReferrals feed).
CREATE TABLE referrals (
    referral_id            TEXT PRIMARY KEY,
    idempotency_key        TEXT NOT NULL UNIQUE,
    request_hash           TEXT NOT NULL,
    henkilotunnus          TEXT NOT NULL,
    home_municipality_code TEXT NOT NULL,
    area_id                TEXT NOT NULL,
    grounds                TEXT NOT NULL,
    job_search_start       TEXT NOT NULL,
    referral_date          TEXT NOT NULL,
    status                 INTEGER NOT NULL,
    rejection_reason       INTEGER NOT NULL DEFAULT 0,
    issued_message_id      TEXT NOT NULL,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);
-- One live (not rejected) referral per person.
CREATE UNIQUE INDEX referrals_live_person ON referrals (henkilotunnus) WHERE status <> 4;
CREATE INDEX referrals_listing ON referrals (created_at DESC, referral_id DESC);
CREATE INDEX referrals_area_status ON referrals (area_id, status, created_at);

CREATE TABLE referral_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    referral_id TEXT NOT NULL REFERENCES referrals (referral_id),
    area_id     TEXT NOT NULL,
    status      INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX referral_events_referral ON referral_events (referral_id, seq);
