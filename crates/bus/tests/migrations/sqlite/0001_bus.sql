CREATE TABLE outbox (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id     TEXT NOT NULL UNIQUE,
    subject        TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    headers        TEXT NOT NULL,
    payload        BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    lease_until    INTEGER NOT NULL DEFAULT 0,
    attempts       INTEGER NOT NULL DEFAULT 0,
    sent_at        INTEGER
);
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;
CREATE TABLE inbox (
    message_id  TEXT PRIMARY KEY,
    subject     TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE TABLE effects (
    message_id TEXT NOT NULL,
    note       TEXT NOT NULL
);
