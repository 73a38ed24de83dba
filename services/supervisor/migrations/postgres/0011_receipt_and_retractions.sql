-- Issue 10: deadlines from the area's receipt (1269/2020 24 §), the residence basis (149/2023),
-- retractions of events a later on-time fact disproved, facts parked until their referral
-- arrives, and facts counted once by their id.

-- What the referral said (REFERRAL_ISSUED) and when the area received it (REFERRAL_RECEIVED).
-- deadlines_from_receipt: the case's deadlines open at receipt (cases recorded before this
-- migration opened theirs at the referral and keep them).
ALTER TABLE cases ADD COLUMN residence_municipality_code TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN decided_by_residence BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE cases ADD COLUMN te_interview_on TEXT;
ALTER TABLE cases ADD COLUMN previous_job_search_end TEXT;
ALTER TABLE cases ADD COLUMN employment_plan_on TEXT;
ALTER TABLE cases ADD COLUMN received_at BIGINT;
ALTER TABLE cases ADD COLUMN received_on TEXT;
ALTER TABLE cases ADD COLUMN deadlines_from_receipt BOOLEAN NOT NULL DEFAULT FALSE;

-- The client's municipality; the deadline an event is about; a retraction's target, and whether
-- a later retraction withdrew the event.
ALTER TABLE compliance_events ADD COLUMN municipality_code TEXT NOT NULL DEFAULT '';
ALTER TABLE compliance_events ADD COLUMN deadline_id BIGINT;
ALTER TABLE compliance_events ADD COLUMN retracts_event_id TEXT NOT NULL DEFAULT '';
ALTER TABLE compliance_events ADD COLUMN retracted BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX compliance_events_deadline ON compliance_events (deadline_id);

-- Facts about a referral AVI has not seen yet (or whose receipt it has not seen yet), applied
-- in order when it arrives.
CREATE TABLE parked_facts (
    seq         BIGSERIAL PRIMARY KEY,
    referral_id TEXT NOT NULL,
    payload     BYTEA NOT NULL,
    parked_at   BIGINT NOT NULL
);
CREATE INDEX parked_facts_referral ON parked_facts (referral_id, seq);

-- The reporting party's fact ids already counted (a repeated id counts once).
CREATE TABLE counted_facts (
    area_id    TEXT NOT NULL,
    kind       BIGINT NOT NULL,
    fact_id    TEXT NOT NULL,
    counted_at BIGINT NOT NULL,
    PRIMARY KEY (area_id, kind, fact_id)
);
