-- What the TE office sends with a referral since issue 10: the residence and whether it decided
-- the area (149/2023), the TE office's initial interview of this job search, the end of the
-- previous job search (the 6-month rule) and the employment plan that travels with the client
-- (1269/2020 24 § 3 mom: it binds until the area revises it). `employment_plan` is the plan as
-- JSON (id, PlanKind number, made_on, next_review_on), NULL when none came; `plan_revised_on` is the day the area
-- first recorded an employment plan of its own. Referrals stored before this have none of these.
ALTER TABLE incoming_referrals ADD COLUMN residence_municipality_code TEXT NOT NULL DEFAULT '';
ALTER TABLE incoming_referrals ADD COLUMN decided_by_residence BIGINT NOT NULL DEFAULT 0;
ALTER TABLE incoming_referrals ADD COLUMN te_office_interview TEXT;
ALTER TABLE incoming_referrals ADD COLUMN previous_job_search_end TEXT;
ALTER TABLE incoming_referrals ADD COLUMN employment_plan TEXT;
ALTER TABLE incoming_referrals ADD COLUMN plan_revised_on TEXT;
-- AVI's suspensions and their lifts are read from the actions as received, by kind.
CREATE INDEX supervisory_actions_kind ON supervisory_actions (kind);
