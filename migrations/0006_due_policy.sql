-- Troupe's PostgreSQL schema, version 6: the fingerprint of the follow-up
-- policy the conversations' due windows were computed under, so a process
-- that finds the policy changed (a `[followups]` setting, a persona's, the
-- set of personas) recomputes them, as sled does for its due index. At
-- most one row.
CREATE TABLE due_policy (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    fingerprint text NOT NULL
);
