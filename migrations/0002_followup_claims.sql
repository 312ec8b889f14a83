-- Troupe's PostgreSQL schema, version 2: follow-up claims with leases, the
-- follow-ups delivered (one per intent), and the webhook outbox.

-- The intent a worker holds on a conversation: pending_followup (version 1)
-- says when it was recorded; these say which intent it is, who holds it,
-- and until when. A worker killed mid-delivery leaves its lease to expire,
-- and another worker takes the intent over (same key).
ALTER TABLE conversations
    ADD COLUMN intent_key text,
    ADD COLUMN intent_owner text,
    ADD COLUMN lease_until timestamptz;

-- Finding the leases that expired reads only conversations with an intent.
CREATE INDEX conversations_leases ON conversations (lease_until)
    WHERE pending_followup IS NOT NULL;

-- One row per delivered follow-up, keyed by its intent: a second writer
-- holding the same intent cannot store a second follow-up.
CREATE TABLE followups (
    intent_key text PRIMARY KEY,
    conversation_id bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    delivered_at timestamptz NOT NULL
);

CREATE INDEX followups_delivered_at ON followups (delivered_at);

-- Follow-ups waiting to be POSTed to each webhook, queued in the
-- transaction that delivers the follow-up.
CREATE TABLE outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook text NOT NULL,
    delivery text NOT NULL,
    user_id text NOT NULL,
    persona text NOT NULL,
    queued_at timestamptz NOT NULL,
    body text NOT NULL
);

CREATE INDEX outbox_webhook ON outbox (webhook, id);
CREATE INDEX outbox_user ON outbox (user_id);
