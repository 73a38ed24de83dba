-- Service events and statements the area records, and AVI's actions addressed to the area.
CREATE TABLE service_events (
    event_id    TEXT PRIMARY KEY,
    referral_id TEXT NOT NULL REFERENCES incoming_referrals (referral_id),
    kind        INTEGER NOT NULL,
    event_date  TEXT NOT NULL,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX service_events_referral ON service_events (referral_id, event_date);

CREATE TABLE statements (
    statement_id         TEXT PRIMARY KEY,
    referral_id          TEXT NOT NULL REFERENCES incoming_referrals (referral_id),
    subject              TEXT NOT NULL,
    information_received TEXT NOT NULL,
    statement_date       TEXT NOT NULL,
    within_competence    INTEGER NOT NULL,
    recorded_at          INTEGER NOT NULL
);

CREATE TABLE supervisory_actions (
    action_id   TEXT PRIMARY KEY,
    kind        INTEGER NOT NULL,
    payload     BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    answered_at INTEGER
);
