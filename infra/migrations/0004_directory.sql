-- The organisation directory: who is whose manager and who directs each region, for the
-- escalation ladder. Filled by `regie directory import`, which replaces the whole
-- directory from a file. Rows are never deleted: a running escalation may still name
-- someone who left, and the change log must be able to point at them. Anything missing
-- from the latest file is marked inactive instead.
CREATE TABLE directory_organisations (
    id           text    PRIMARY KEY,
    name         text    NOT NULL,
    webhook_url  text    NULL,
    active       boolean NOT NULL DEFAULT true
);

CREATE TABLE directory_professionals (
    id               text    PRIMARY KEY,
    name             text    NOT NULL,
    organisation_id  text    NOT NULL REFERENCES directory_organisations (id),
    -- Another professional's id. Deliberately no foreign key: a file may list a manager
    -- after the people they manage; the import validates the reference instead.
    manager_id       text    NULL,
    email            text    NULL,
    active           boolean NOT NULL DEFAULT true
);
CREATE INDEX directory_professionals_manager ON directory_professionals (manager_id);

CREATE TABLE directory_regions (
    id                   text    PRIMARY KEY,
    name                 text    NOT NULL,
    -- A professional's id, validated by the import (no foreign key, as for managers).
    process_director_id  text    NOT NULL,
    active               boolean NOT NULL DEFAULT true
);

-- Every change an import made, so an operator can tell who was the manager when.
CREATE TABLE directory_changes (
    seq          bigserial   PRIMARY KEY,
    imported_at  timestamptz NOT NULL DEFAULT now(),
    entity       text        NOT NULL CHECK (entity IN ('organisation', 'professional', 'region')),
    entity_id    text        NOT NULL,
    change       text        NOT NULL CHECK (change IN ('added', 'changed', 'removed')),
    before       jsonb       NULL,
    after        jsonb       NULL,
    source       text        NOT NULL,
    CHECK (before IS NOT NULL OR change = 'added'),
    CHECK (after IS NOT NULL)
);
CREATE INDEX directory_changes_entity ON directory_changes (entity, entity_id, seq);
