-- Caseload per coordinator comes from the overview: who coordinates which open case.
ALTER TABLE trajectory_overview ADD COLUMN coordinator_id text NULL;
ALTER TABLE trajectory_overview ADD COLUMN reopen_count integer NOT NULL DEFAULT 0;
ALTER TABLE trajectory_overview ADD COLUMN first_plan_at timestamptz NULL;
ALTER TABLE trajectory_overview ADD COLUMN closed_at timestamptz NULL;
CREATE INDEX trajectory_overview_coordinator ON trajectory_overview (coordinator_id)
    WHERE status IN ('referred', 'accepted', 'in_care');
