-- Clients who left the area's services: moved to another trial area or back to the TE office.
-- One row per client; nothing is recorded for a transferred client afterwards.
CREATE TABLE transfers (
    referral_id   TEXT PRIMARY KEY REFERENCES incoming_referrals (referral_id),
    destination   TEXT NOT NULL,
    transfer_date TEXT NOT NULL,
    recorded_at   BIGINT NOT NULL
);
