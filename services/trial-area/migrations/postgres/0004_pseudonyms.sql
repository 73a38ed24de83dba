-- The client's pseudonym as the TE office computed it and sent it with the referral, and the id of
-- the TE office's key that made it. The area names the client by it in every fact it reports to
-- AVI; the area never holds the key. (Referrals stored before this migration have none.)
ALTER TABLE incoming_referrals ADD COLUMN client_pseudonym TEXT NOT NULL DEFAULT '';
ALTER TABLE incoming_referrals ADD COLUMN pseudonym_key_id TEXT NOT NULL DEFAULT '';
