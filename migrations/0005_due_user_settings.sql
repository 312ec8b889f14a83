-- Troupe's PostgreSQL schema, version 5: each conversation keeps a copy of
-- its user's settings the follow-up rules read (time zone, minor,
-- follow-ups off, crisis hold), so the due query reads the partial index
-- conversations_due and the conversation rows alone, with no lookup of a
-- user per conversation due. Triggers keep the copies current on every
-- write path: a new conversation takes its user's settings (the user's row
-- exists first, by the foreign key), and a change of a user's settings
-- reaches every conversation of the user in the same transaction.

ALTER TABLE conversations
    ADD COLUMN user_timezone text,
    ADD COLUMN user_minor boolean NOT NULL DEFAULT false,
    ADD COLUMN user_followups_off boolean NOT NULL DEFAULT false,
    ADD COLUMN user_hold_until timestamptz;

UPDATE conversations c
SET user_timezone = u.timezone, user_minor = u.minor,
    user_followups_off = u.followups_off, user_hold_until = u.hold_until
FROM users u
WHERE u.id = c.user_id;

CREATE FUNCTION troupe_conversation_takes_user_settings() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    SELECT u.timezone, u.minor, u.followups_off, u.hold_until
    INTO NEW.user_timezone, NEW.user_minor, NEW.user_followups_off, NEW.user_hold_until
    FROM users u WHERE u.id = NEW.user_id;
    RETURN NEW;
END
$$;

CREATE TRIGGER conversations_user_settings
    BEFORE INSERT OR UPDATE OF user_id ON conversations
    FOR EACH ROW EXECUTE FUNCTION troupe_conversation_takes_user_settings();

CREATE FUNCTION troupe_user_settings_reach_conversations() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE conversations
    SET user_timezone = NEW.timezone, user_minor = NEW.minor,
        user_followups_off = NEW.followups_off, user_hold_until = NEW.hold_until
    WHERE user_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_settings_reach_conversations
    AFTER UPDATE OF timezone, minor, followups_off, hold_until ON users
    FOR EACH ROW
    WHEN ((OLD.timezone, OLD.minor, OLD.followups_off, OLD.hold_until)
          IS DISTINCT FROM (NEW.timezone, NEW.minor, NEW.followups_off, NEW.hold_until))
    EXECUTE FUNCTION troupe_user_settings_reach_conversations();
