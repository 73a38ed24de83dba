-- Service events and statements the area records, and AVI's actions addressed to the area.
CREATE TABLE service_events (
    event_id    TEXT PRIMARY KEY,
    referral_id TEXT NOT NULL REFERENCES incoming_referrals (referral_id),
    kind        BIGINT NOT NULL,
    event_date  TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
CREATE INDEX service_events_referral ON service_events (referral_id, event_date);

CREATE TABLE statements (
    statement_id         TEXT PRIMARY KEY,
    referral_id          TEXT NOT NULL REFERENCES incoming_referrals (referral_id),
    subject              TEXT NOT NULL,
    information_received TEXT NOT NULL,
    statement_date       TEXT NOT NULL,
    within_competence    BIGINT NOT NULL,
    recorded_at          BIGINT NOT NULL
);

CREATE TABLE supervisory_actions (
    action_id   TEXT PRIMARY KEY,
    kind        BIGINT NOT NULL,
    payload     BYTEA NOT NULL,
    received_at BIGINT NOT NULL,
    answered_at BIGINT
);
