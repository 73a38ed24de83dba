CREATE TABLE outbox (
    seq            BIGSERIAL PRIMARY KEY,
    message_id     TEXT NOT NULL UNIQUE,
    subject        TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    headers        TEXT NOT NULL,
    payload        BYTEA NOT NULL,
    created_at     BIGINT NOT NULL,
    lease_until    BIGINT NOT NULL DEFAULT 0,
    attempts       BIGINT NOT NULL DEFAULT 0,
    sent_at        BIGINT
);
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;
CREATE TABLE inbox (
    message_id  TEXT PRIMARY KEY,
    subject     TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE TABLE effects (
    message_id TEXT NOT NULL,
    note       TEXT NOT NULL
);
