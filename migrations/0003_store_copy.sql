-- Troupe's PostgreSQL schema, version 3: the mark `troupe store copy`
-- leaves in the database it copies into, naming the store copied, so a
-- copy interrupted and run again resumes, and a copy of another store is
-- refused. At most one row.
CREATE TABLE store_copy (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    source text NOT NULL,
    started_at timestamptz NOT NULL,
    finished_at timestamptz
);
