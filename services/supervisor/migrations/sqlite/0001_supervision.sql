-- supervisor (AVI): pseudonymised cases, deadlines, compliance events (the subscription feed),
-- supervisory actions, answers to information requests and the log of access to them.
CREATE TABLE cases (
    referral_id          TEXT PRIMARY KEY,
    area_id              TEXT NOT NULL,
    client_pseudonym     TEXT NOT NULL,
    municipality_code    TEXT NOT NULL,
    referral_date        TEXT NOT NULL,
    job_search_start     TEXT NOT NULL,
    grounds              TEXT NOT NULL,
    acknowledged_on      TEXT,
    rejected_on          TEXT,
    initial_interview_on TEXT,
    created_at           INTEGER NOT NULL
);
CREATE INDEX cases_area_month ON cases (area_id, referral_date);

CREATE TABLE deadlines (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    referral_id      TEXT NOT NULL REFERENCES cases (referral_id),
    area_id          TEXT NOT NULL,
    client_pseudonym TEXT NOT NULL,
    kind             INTEGER NOT NULL,
    due              TEXT NOT NULL,
    required         INTEGER NOT NULL,
    done             INTEGER NOT NULL DEFAULT 0,
    status           INTEGER NOT NULL,
    met_on           TEXT,
    rule             TEXT NOT NULL,
    -- Events count towards the deadline from this day (half-yearly discussions).
    opens            TEXT
);
CREATE INDEX deadlines_open ON deadlines (status, due);
CREATE INDEX deadlines_referral ON deadlines (referral_id, kind);

CREATE TABLE compliance_events (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id         TEXT NOT NULL UNIQUE,
    kind             INTEGER NOT NULL,
    area_id          TEXT NOT NULL,
    referral_id      TEXT NOT NULL,
    client_pseudonym TEXT NOT NULL,
    deadline_kind    INTEGER NOT NULL,
    due              TEXT NOT NULL,
    event_date       TEXT NOT NULL,
    detail           TEXT NOT NULL,
    rule             TEXT NOT NULL,
    detected_at      INTEGER NOT NULL
);
CREATE INDEX compliance_events_area ON compliance_events (area_id, seq);

CREATE TABLE actions (
    action_id TEXT PRIMARY KEY,
    kind      INTEGER NOT NULL,
    area_id   TEXT NOT NULL,
    payload   BLOB NOT NULL,
    issued_at INTEGER NOT NULL
);

-- Identifying details reach AVI only here, as answers to logged information requests.
CREATE TABLE information_answers (
    action_id   TEXT PRIMARY KEY,
    area_id     TEXT NOT NULL,
    payload     BLOB NOT NULL,
    received_at INTEGER NOT NULL
);

CREATE TABLE access_log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    action_id TEXT NOT NULL,
    area_id   TEXT NOT NULL,
    what      TEXT NOT NULL,
    purpose   TEXT NOT NULL,
    at        INTEGER NOT NULL
);
