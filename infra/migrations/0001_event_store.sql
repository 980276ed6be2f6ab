-- The event store: one append-only table, the source of truth for every case.
CREATE TABLE events (
    -- Global position in commit order. Writers hold an EXCLUSIVE table lock while they
    -- insert (see infra/event_store.py), so positions become visible strictly in order
    -- and a reader never passes over a position that a slower transaction fills in later.
    position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id       text        NOT NULL,
    stream_version  integer     NOT NULL CHECK (stream_version >= 1),
    event_id        uuid        NOT NULL UNIQUE,
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL CHECK (schema_version >= 1),
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    metadata        jsonb       NOT NULL,
    data            jsonb       NOT NULL,
    UNIQUE (stream_id, stream_version)
);

-- Events are facts: once written they are never changed or removed. Erasure of personal
-- data happens by destroying keys (subject_keys), never by touching this table.
CREATE FUNCTION events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % is not allowed', TG_OP;
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_append_only();

-- One AES-256-GCM key per person (data subject). Erasure sets key to NULL.
CREATE TABLE subject_keys (
    subject_id  text        PRIMARY KEY,
    key         bytea       NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    erased_at   timestamptz NULL,
    CHECK ((key IS NULL) = (erased_at IS NOT NULL))
);

-- Catch-up subscriptions: how far each subscriber has applied the global log.
CREATE TABLE subscription_checkpoints (
    subscriber  text        PRIMARY KEY,
    position    bigint      NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
