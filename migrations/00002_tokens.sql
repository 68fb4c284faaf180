-- Bearer tokens for staff and admins. Only a hash of each token is kept: the
-- token itself is shown once, when it is created.

-- +goose Up
CREATE TABLE tokens (
    id              bigserial   PRIMARY KEY,
    name            text        NOT NULL CHECK (char_length(name) <= 200),
    role            text        NOT NULL CHECK (role IN ('staff', 'admin')),
    -- SHA-256 of the token.
    hash            bytea       NOT NULL UNIQUE CHECK (octet_length(hash) = 32),
    -- The institutions a staff token may act on; ignored for admins.
    institution_ids bigint[]    NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE tokens;
