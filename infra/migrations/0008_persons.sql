-- Persons and families, for matching referrals (infra/persons.py). Regie issues its own
-- person and case ids; a partner's references are kept as references only.

-- A person Regie knows, by its own opaque id.
CREATE TABLE persons (
    person_id   text        PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- How a person is recognised, as keyed pseudonyms: HMAC-SHA256 over the normalised BSN,
-- or over the normalised name and birth date, with a secret that is not in the
-- database. Never the BSN itself. Erasing the person deletes these rows.
CREATE TABLE person_pseudonyms (
    pseudonym   bytea       PRIMARY KEY,
    person_id   text        NOT NULL REFERENCES persons (person_id) ON DELETE CASCADE,
    kind        text        NOT NULL CHECK (kind IN ('bsn', 'name_birth_date'))
);
CREATE INDEX person_pseudonyms_person ON person_pseudonyms (person_id);

-- Who belongs to which trajectory, in which role: where a referral's persons already
-- are. Written before the referral reaches the trajectory (the case id is reserved).
CREATE TABLE case_members (
    case_id     text        NOT NULL,
    person_id   text        NOT NULL REFERENCES persons (person_id) ON DELETE CASCADE,
    role        text        NOT NULL CHECK (role IN ('parent', 'child', 'other')),
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, person_id)
);
CREATE INDEX case_members_person ON case_members (person_id);
