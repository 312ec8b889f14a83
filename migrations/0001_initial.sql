-- Troupe's PostgreSQL schema, version 1: the records of src/store/records.rs
-- as tables. Counters are bigint (Rust u64 values stay below 2^63).

CREATE TABLE users (
    id text PRIMARY KEY,
    created_at timestamptz NOT NULL,
    timezone text,
    minor boolean NOT NULL DEFAULT false,
    followups_off boolean NOT NULL DEFAULT false,
    language text,
    -- What personas call the user ({{user}}); none, the persona's default.
    display_name text,
    hold_until timestamptz,
    -- The session marks, all three set or none.
    session_last_activity timestamptz,
    session_last_notice timestamptz,
    session_last_break timestamptz
);

CREATE TABLE conversations (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    persona text NOT NULL,
    started_at timestamptz NOT NULL,
    started_by text NOT NULL CHECK (started_by IN ('user', 'assistant')),
    next_seq bigint NOT NULL DEFAULT 0,
    user_messages bigint NOT NULL DEFAULT 0,
    assistant_messages bigint NOT NULL DEFAULT 0,
    last_user_at timestamptz,
    last_assistant_at timestamptz,
    recent_user_times timestamptz[] NOT NULL DEFAULT '{}',
    opted_out boolean NOT NULL DEFAULT false,
    followups_sent bigint NOT NULL DEFAULT 0,
    last_followup_at timestamptz,
    followup_unseen boolean NOT NULL DEFAULT false,
    last_followup_seq bigint,
    pending_followup timestamptz,
    due_from timestamptz,
    due_until timestamptz,
    hold_until timestamptz,
    UNIQUE (user_id, persona)
);

-- The due index: finding the conversations due now reads only these entries.
CREATE INDEX conversations_due ON conversations (due_from) WHERE due_from IS NOT NULL;

CREATE TABLE messages (
    conversation_id bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    role text NOT NULL CHECK (role IN ('user', 'assistant')),
    kind text NOT NULL,
    text text NOT NULL,
    at timestamptz NOT NULL,
    model text,
    interrupted boolean NOT NULL DEFAULT false,
    truncated boolean NOT NULL DEFAULT false,
    disclaimers text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (conversation_id, seq)
);

CREATE TABLE topics (
    conversation_id bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    position integer NOT NULL,
    phrase text NOT NULL,
    score double precision NOT NULL,
    mentions bigint NOT NULL,
    updated_at timestamptz NOT NULL,
    sensitive boolean NOT NULL DEFAULT false,
    PRIMARY KEY (conversation_id, position)
);

CREATE TABLE usage (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL,
    user_id text,
    persona text NOT NULL,
    model text NOT NULL,
    kind text NOT NULL,
    prompt_tokens bigint NOT NULL,
    completion_tokens bigint NOT NULL,
    latency_ms bigint NOT NULL,
    outcome text NOT NULL
);

CREATE INDEX usage_at ON usage (at, id);

-- Anonymous counts: nothing here points back at a user or a message.
CREATE TABLE safety_events (
    day date NOT NULL,
    kind text NOT NULL,
    language text NOT NULL,
    count bigint NOT NULL,
    PRIMARY KEY (day, kind, language)
);
