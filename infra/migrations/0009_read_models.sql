-- Read models for operators and the region's figures (docs/read_models.md), kept by the
-- projector. Ids, phases, causes and instants only: no personal data, so erasure never
-- has to touch these tables.

-- One row per trajectory: where it is, who coordinates it, its waiting and plan dates.
CREATE TABLE case_list (
    case_id                    text        PRIMARY KEY,
    region                     text        NOT NULL,
    phase                      text        NOT NULL,
    referred_at                timestamptz NOT NULL,
    intake_at                  timestamptz NULL,
    intake_outcome             text        NULL,
    care_started_at            timestamptz NULL,
    coordinator_id             text        NULL,
    team                       text        NULL,
    -- member id -> organisation of the case's professionals, to name the coordinator's team
    team_organisations         jsonb       NOT NULL DEFAULT '{}',
    fgp_status                 text        NOT NULL,
    fgp_offered_at             timestamptz NULL,
    fgp_deadline               timestamptz NULL,
    fgp_skipped_at             timestamptz NULL,
    fgp_skip_ground            text        NULL,
    fgp_lapsed_at              timestamptz NULL,
    fgp_made_at                timestamptz NULL,
    professional_plan_deadline timestamptz NULL,
    first_plan_at              timestamptz NULL,
    plan_version               integer     NOT NULL DEFAULT 0,
    next_evaluation_date       date        NULL,
    closed_at                  timestamptz NULL,
    close_reason               text        NULL,
    aftercare_ends_at          timestamptz NULL,
    reopen_count               integer     NOT NULL DEFAULT 0,
    last_position              bigint      NOT NULL
);
CREATE INDEX case_list_phase ON case_list (phase, referred_at);
CREATE INDEX case_list_coordinator ON case_list (coordinator_id)
    WHERE phase IN ('referred', 'accepted', 'in_care');

-- Each closure of a trajectory, and whether a relapse reopened it (revolving door).
CREATE TABLE case_closures (
    case_id      text        NOT NULL,
    closure_no   integer     NOT NULL,
    closed_at    timestamptz NOT NULL,
    reason       text        NOT NULL,
    reopened_at  timestamptz NULL,
    PRIMARY KEY (case_id, closure_no)
);
CREATE INDEX case_closures_closed_at ON case_closures (closed_at);

-- Each plan version adopted, with its source and whether the young person took part.
CREATE TABLE plan_adoptions (
    case_id                text        NOT NULL,
    plan_version           integer     NOT NULL,
    adopted_at             timestamptz NOT NULL,
    source                 text        NOT NULL,
    young_person_took_part boolean     NULL,
    PRIMARY KEY (case_id, plan_version)
);
CREATE INDEX plan_adoptions_adopted_at ON plan_adoptions (adopted_at);

-- One row per escalation episode: its cause, where on the ladder it is, how it ended.
-- An episode's id is unique within its case only (every case's first is ep-1).
CREATE TABLE escalation_episodes (
    episode_id     text        NOT NULL,
    case_id        text        NOT NULL,
    cause          text        NOT NULL,
    opened_at      timestamptz NOT NULL,
    level          integer     NULL,
    assignee_id    text        NULL,
    assignee_role  text        NULL,
    deadline       timestamptz NULL,
    acknowledged   boolean     NOT NULL DEFAULT false,
    region_alerts  integer     NOT NULL DEFAULT 0,
    status         text        NOT NULL,
    ended_at       timestamptz NULL,
    ended_level    integer     NULL,
    binding        boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (case_id, episode_id)
);
CREATE INDEX escalation_episodes_open ON escalation_episodes (case_id) WHERE status = 'open';
CREATE INDEX escalation_episodes_opened_at ON escalation_episodes (opened_at);

-- An appointment in flight: taken under a per-coordinator lock when the caseload is
-- checked, dropped by the case_list projection once the case's appointment (or its end)
-- is in the read model. Counted with case_list, so two concurrent appointments cannot
-- both see room under the cap (infra/caseload.py).
CREATE TABLE caseload_reservations (
    case_id     text        PRIMARY KEY,
    member_id   text        NOT NULL,
    reserved_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX caseload_reservations_member ON caseload_reservations (member_id);
