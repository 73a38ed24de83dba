-- AVI's 22 § process (issue 10): suspensions can be lifted once, and complaints (kantelu) are
-- tracked from receipt to a decision.

-- A SUSPENSION lifted by a LIFT_SUSPENSION action (its id) from a day (YYYY-MM-DD). Set once.
ALTER TABLE actions ADD COLUMN lifted_by TEXT;
ALTER TABLE actions ADD COLUMN lifted_from TEXT;
CREATE INDEX actions_kind ON actions (kind, area_id);

-- A complaint as the API shows it (`payload`: kokeilu.supervisor.v1.Complaint, history
-- included); `status` mirrors the payload's for filtering; `created_at` (microseconds) orders the
-- list.
CREATE TABLE complaints (
    complaint_id TEXT PRIMARY KEY,
    area_id      TEXT NOT NULL,
    status       BIGINT NOT NULL,
    payload      BYTEA NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX complaints_area ON complaints (area_id, created_at);
