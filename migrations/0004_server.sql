-- Troupe's PostgreSQL schema, version 4: what `troupe serve` keeps when
-- several servers share the database.

-- End-user access tokens, minted by an operator for one user: only the
-- token's SHA-256 is kept. Erasing the user deletes their tokens.
CREATE TABLE tokens (
    digest bytea PRIMARY KEY,
    user_id text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE INDEX tokens_user ON tokens (user_id);
