-- Issue 10: what travels with a referral, and partial/lifted suspensions.
-- The residence basis (149/2023), the TE office's initial interview and the previous job search's
-- end (the 6-month rule, 1381/2021), and the plan that stays binding until revised (24 § 3 mom).
ALTER TABLE referrals ADD COLUMN residence_municipality_code TEXT NOT NULL DEFAULT '';
ALTER TABLE referrals ADD COLUMN decided_by_residence INTEGER NOT NULL DEFAULT 0;
ALTER TABLE referrals ADD COLUMN initial_interview_date TEXT;
ALTER TABLE referrals ADD COLUMN previous_job_search_end TEXT;
ALTER TABLE referrals ADD COLUMN plan_id TEXT;
ALTER TABLE referrals ADD COLUMN plan_kind INTEGER;
ALTER TABLE referrals ADD COLUMN plan_made_on TEXT;
ALTER TABLE referrals ADD COLUMN plan_next_review_on TEXT;
-- A partial suspension's scope (JSON of kokeilu_rules::suspension::Scope; NULL when full), and the
-- day AVI lifted it (22 §), with the lifting action.
ALTER TABLE suspensions ADD COLUMN scope TEXT;
ALTER TABLE suspensions ADD COLUMN lifted_from TEXT;
ALTER TABLE suspensions ADD COLUMN lifted_by TEXT;
