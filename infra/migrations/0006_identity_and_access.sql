-- Identity and access: partner API keys, the access log (NEN 7513) and idempotency keys
-- scoped to the principal. See infra/partner_keys.py, infra/access_log.py and
-- infra/idempotency.py.

-- The directory knows who may read everything (operators, team leads) and which
-- organisation takes in new cases of a region before they have a team.
ALTER TABLE directory_professionals ADD COLUMN operator boolean NOT NULL DEFAULT false;
ALTER TABLE directory_regions ADD COLUMN intake_organisation_id text NULL;

-- A partner organisation's API keys. The key itself is shown once and never stored:
-- only its SHA-256 digest (a key is 256 random bits, so a fast hash is enough; there is
-- nothing to guess). An organisation may hold several keys, so keys can be rotated.
CREATE TABLE partner_keys (
    key_id           text        PRIMARY KEY,
    digest           bytea       NOT NULL UNIQUE,
    organisation_id  text        NOT NULL REFERENCES directory_organisations (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_used_at     timestamptz NULL,
    revoked_at       timestamptz NULL
);
CREATE INDEX partner_keys_organisation ON partner_keys (organisation_id);

-- Every read and write of case data, and every refusal: who, what, which case or
-- person, when, the outcome and the request id. Append-only, like the events.
CREATE TABLE access_log (
    seq              bigserial   PRIMARY KEY,
    at               timestamptz NOT NULL DEFAULT clock_timestamp(),
    principal_kind   text        NOT NULL
        CHECK (principal_kind IN ('partner', 'professional', 'cli', 'anonymous')),
    principal_id     text        NULL,      -- NULL only when nobody was authenticated
    organisation_id  text        NULL,
    credential_id    text        NULL,      -- the partner key id, when a key was used
    action           text        NOT NULL,
    case_id          text        NULL,
    person_id        text        NULL,
    outcome          text        NOT NULL
        CHECK (outcome IN ('allowed', 'refused', 'unauthenticated', 'failed')),
    status           integer     NULL,      -- the HTTP status, for requests
    request_id       text        NOT NULL,
    reason           text        NULL,
    CHECK (principal_id IS NOT NULL OR principal_kind = 'anonymous')
);
CREATE INDEX access_log_case ON access_log (case_id, seq) WHERE case_id IS NOT NULL;
CREATE INDEX access_log_principal ON access_log (principal_id, seq);
CREATE INDEX access_log_at ON access_log (at);

CREATE FUNCTION access_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the access log is append-only: % is not allowed', TG_OP;
END $$;
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_is_append_only();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_is_append_only();

-- Idempotency keys, per principal: two partners that pick the same key never meet.
-- The fingerprint is a digest of the request (method, path, body): the same key with
-- another request is refused. `response` is NULL while the first request is under way.
CREATE TABLE idempotency_keys (
    scope        text        NOT NULL,
    key          text        NOT NULL,
    fingerprint  bytea       NOT NULL,
    status       integer     NULL,
    response     jsonb       NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key),
    CHECK ((status IS NULL) = (response IS NULL))
);
