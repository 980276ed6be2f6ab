-- Read model for operators: one row per trajectory, kept by the projector.
CREATE TABLE trajectory_overview (
    case_id          text        PRIMARY KEY,
    status           text        NOT NULL,
    referred_at      timestamptz NOT NULL,
    referral_count   integer     NOT NULL,
    organisations    text[]      NOT NULL,
    stream_version   integer     NOT NULL,
    last_position    bigint      NOT NULL
);
