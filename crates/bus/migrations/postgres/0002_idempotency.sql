-- kokeilu-bus: idempotency keys of mutating RPCs (`kokeilu_bus::idempotency`). A key is claimed
-- in the same transaction as the call's effect and holds the first response, returned to a retry.
CREATE TABLE idempotency (
    method      TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    response    BYTEA,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (method, key)
);
