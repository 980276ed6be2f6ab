-- The notification outbox: written in the same transaction as the events of the step
-- that causes it (infra/event_store.py), so a notification exists if and only if its
-- step was recorded. The dispatcher (infra/outbox.py) delivers each row at least once.
CREATE TABLE outbox (
    id               bigserial   PRIMARY KEY,
    -- A retried append or a redelivered step carries the same key and writes nothing
    -- new (INSERT ... ON CONFLICT DO NOTHING). Receivers deduplicate on it too: it is
    -- sent as the Idempotency-Key header of every POST.
    idempotency_key  text        NOT NULL UNIQUE,
    stream_id        text        NOT NULL,
    event_id         uuid        NULL,      -- the first event of the append that wrote it
    recipient_id     text        NOT NULL,
    role             text        NOT NULL,
    -- Whose webhook receives it. No foreign key to directory_organisations: that table
    -- belongs to the directory, and a notification must outlive an organisation's
    -- removal from it (the dispatcher then falls back to the log).
    organisation_id  text        NULL,
    channel          text        NOT NULL CHECK (channel IN ('log', 'webhook')),
    case_id          text        NOT NULL,
    case_link        text        NOT NULL,
    message          text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz NULL,
    -- Attempts recorded so far; kept equal to the highest attempt in outbox_deliveries
    -- because both are written in the same transaction.
    attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- 'infinity' once the dispatcher gave up: such a row stays undelivered, with
    -- last_error, for operators. Setting it to now() asks for one more attempt.
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text        NULL
);

-- The dispatcher's only scan: due rows that are not delivered yet. Partial, so the index
-- stays as small as the backlog however long the outbox grows.
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE delivered_at IS NULL;
CREATE INDEX outbox_case ON outbox (case_id);

-- Every attempt, one row each, for operators and audits. UNIQUE (outbox_id, attempt):
-- a dispatcher that crashed and whose attempt is redone can never record it twice.
CREATE TABLE outbox_deliveries (
    id           bigserial   PRIMARY KEY,
    outbox_id    bigint      NOT NULL REFERENCES outbox (id),
    attempt      integer     NOT NULL CHECK (attempt >= 1),
    channel      text        NOT NULL CHECK (channel IN ('log', 'webhook')),
    outcome      text        NOT NULL CHECK (outcome IN ('delivered', 'failed')),
    status_code  integer     NULL,
    error        text        NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (outbox_id, attempt)
);

-- At most one 'delivered' record per notification, whatever happens to the dispatcher.
CREATE UNIQUE INDEX outbox_deliveries_one_delivered ON outbox_deliveries (outbox_id)
    WHERE outcome = 'delivered';
