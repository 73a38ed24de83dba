-- kokeilu-bus: the transactional outbox and the consumers' inbox (DESIGN.md §3). Dead letters
-- live on NATS (`kokeilu.v1.dlq.<consumer>`), not in SQL. `IF NOT EXISTS`: databases created
-- before the bus shipped its own migrations already have these tables.
CREATE TABLE IF NOT EXISTS outbox (
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
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;

CREATE TABLE IF NOT EXISTS inbox (
    message_id  TEXT PRIMARY KEY,
    subject     TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
