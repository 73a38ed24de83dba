-- trial-area: referrals received from the TE office and the change feed.
CREATE TABLE incoming_referrals (
    referral_id            TEXT PRIMARY KEY,
    area_id                TEXT NOT NULL,
    henkilotunnus          TEXT NOT NULL,
    home_municipality_code TEXT NOT NULL,
    grounds                TEXT NOT NULL,
    job_search_start       TEXT NOT NULL,
    referral_date          TEXT NOT NULL,
    status                 BIGINT NOT NULL,
    received_at            BIGINT NOT NULL,
    decided_at             BIGINT,
    rejection_reason       BIGINT NOT NULL DEFAULT 0,
    rejection_detail       TEXT NOT NULL DEFAULT '',
    issued_message_id      TEXT NOT NULL,
    trace_context          TEXT NOT NULL DEFAULT '[]',
    feed_seq               BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX incoming_status ON incoming_referrals (status, received_at);
CREATE INDEX incoming_by_feed_seq ON incoming_referrals (feed_seq);

-- Every change to an incoming referral, in commit order: the WatchIncomingReferrals feed.
CREATE TABLE incoming_feed (
    seq         BIGSERIAL PRIMARY KEY,
    referral_id TEXT NOT NULL REFERENCES incoming_referrals (referral_id)
);
