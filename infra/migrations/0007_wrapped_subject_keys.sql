-- Envelope encryption of the person keys (infra/key_wrapping.py): a key is stored only
-- wrapped under a key-encryption key (KEK) that lives outside PostgreSQL (Vault transit,
-- an environment secret, or a keyring file on the local stack), with the KEK's id beside
-- it so KEKs can rotate.
--
-- SQL cannot reach the KEK, so the keys stored raw before this migration stay in
-- `raw_key` until the store wraps them at start-up (infra/subject_keys.py,
-- `wrap_raw_keys`), which clears `raw_key` row by row. New keys are only ever written
-- wrapped.
--
-- `key` is renamed, not kept: a process of an older version still running during the
-- upgrade would read a wrapped row's NULL `key` as "erased" (and record new events
-- without the person's data). With the column gone, its queries fail loudly instead and
-- are retried until it is replaced.
ALTER TABLE subject_keys RENAME COLUMN key TO raw_key;
ALTER TABLE subject_keys
    ADD COLUMN wrapped_key bytea NULL,
    ADD COLUMN kek_id      text  NULL;

-- Was: (key IS NULL) = (erased_at IS NOT NULL).
ALTER TABLE subject_keys DROP CONSTRAINT subject_keys_check;
ALTER TABLE subject_keys
    -- A key is held one way at a time: raw (before start-up wrapping) or wrapped.
    ADD CONSTRAINT subject_keys_one_form CHECK (num_nonnulls(raw_key, wrapped_key) <= 1),
    ADD CONSTRAINT subject_keys_kek_named CHECK ((wrapped_key IS NULL) = (kek_id IS NULL)),
    -- Erased means no key in any form.
    ADD CONSTRAINT subject_keys_erased_has_no_key
        CHECK ((erased_at IS NOT NULL) = (raw_key IS NULL AND wrapped_key IS NULL));

-- `regie keys status` and the re-wrapping after a KEK rotation look keys up by KEK.
CREATE INDEX subject_keys_by_kek ON subject_keys (kek_id) WHERE kek_id IS NOT NULL;
-- Every process looks for raw keys at start-up; after the first one, there are none.
CREATE INDEX subject_keys_raw ON subject_keys (subject_id) WHERE raw_key IS NOT NULL;
