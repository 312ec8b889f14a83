//! The store interface's specification: the same test bodies run against
//! the sled store (always) and the PostgreSQL store (when
//! `TROUPE_TEST_DATABASE_URL` names a database; each test in a schema of its
//! own, dropped afterwards). A body receives a [`Subject`]: the store, and a
//! second handle on the same data as another process would hold it (on
//! PostgreSQL, a pool of its own connections; sled serves one process, so
//! there it is the same store).

use std::collections::HashSet;
use std::future::Future;

use chrono::{DateTime, Duration, TimeZone, Utc};
use troupe::safety::SafetyEvent;
use troupe::store::postgres::{Database, PG_SCHEMA_VERSION, PgStore, migrate};
use troupe::store::{
    AppendEffects, CallOutcome, DueWindow, Message, MessageKind, Role, SCHEMA_VERSION,
    SessionMarks, Store, StoreBackend, Topic, UsageRecord,
};

use crate::support::postgres::{TestSchema, database_url};

/// The store under test, and a second handle on its data.
struct Subject {
    store: StoreBackend,
    other_process: StoreBackend,
}

/// Runs `body` on a fresh sled store in a temp dir.
async fn on_sled<F, Fut>(body: F)
where
    F: FnOnce(Subject) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let store = StoreBackend::Sled(Store::open(dir.path()).expect("a fresh store opens"));
    body(Subject {
        other_process: store.clone(),
        store,
    })
    .await;
}

/// Runs `body` on PostgreSQL in a fresh schema, dropped afterwards even if
/// the body fails; skipped (and says so) without a test database.
async fn on_postgres<F, Fut>(test: &str, body: F)
where
    F: FnOnce(Subject) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(url) = database_url(test) else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let store = PgStore::open(schema.database()).await.expect("migrated");
    let other = PgStore::open(schema.database()).await.expect("opens again");
    let outcome = tokio::spawn(body(Subject {
        store: StoreBackend::Postgres(store.clone()),
        other_process: StoreBackend::Postgres(other.clone()),
    }))
    .await;
    store.close().await;
    other.close().await;
    schema.drop_all().await;
    if let Err(error) = outcome
        && error.is_panic()
    {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// Declares each body as two tests: `sled::NAME` and `postgres::NAME`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sled {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::on_sled(super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::on_postgres(stringify!($name), super::$name).await;
                }
            )*
        }
    };
}

mod claims_at_once;
mod copy;
mod followups;
mod rights;

conformance!(
    messages_come_back_in_the_order_they_were_appended_with_every_field,
    pages_walk_back_from_the_newest_message_without_gaps_or_overlap,
    concurrent_turns_of_one_user_from_two_processes_are_each_stored_once_in_order,
    an_acknowledged_message_is_read_at_once_by_another_process,
    counters_and_timestamps_follow_every_append,
    append_effects_keep_the_due_window_topics_and_session_in_the_same_transaction,
    a_topic_list_that_changes_or_shrinks_is_stored_as_it_now_is,
    conversations_are_kept_apart_per_user_and_persona,
    a_new_conversation_inherits_the_users_crisis_hold,
    user_settings_are_kept_and_changed_in_place,
    usage_records_are_read_back_from_an_instant_on_oldest_first,
    a_reply_kept_with_its_usage_record_is_read_back_with_it,
    usage_from_the_earliest_and_to_the_latest_representable_instant_is_read_like_any_other,
    safety_events_are_counted_per_day_kind_and_language_only,
    the_store_reports_the_schema_version_it_was_written_with,
);

/// An instant `seconds` after a fixed start (whole milliseconds, which both
/// stores keep exactly; PostgreSQL keeps microseconds, not nanoseconds).
fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0)
        .single()
        .expect("a valid date")
        + Duration::seconds(seconds)
}

async fn append(store: &StoreBackend, user: &str, persona: &str, message: &Message) {
    store
        .append(user, persona, message, &AppendEffects::NONE)
        .await
        .expect("the append is stored");
}

async fn messages_come_back_in_the_order_they_were_appended_with_every_field(subject: Subject) {
    let store = subject.store;
    let mut sent = Vec::new();
    for i in 0..30 {
        let message = if i % 2 == 0 {
            Message::from_user(format!("question {i} — ünïcode ✓"), at(i))
        } else {
            Message {
                kind: if i == 29 {
                    MessageKind::FollowUp
                } else {
                    MessageKind::Chat
                },
                interrupted: i == 5,
                truncated: i == 7,
                disclaimers: if i == 9 {
                    vec!["not medical advice".into()]
                } else {
                    vec![]
                },
                ..Message::reply(format!("answer {i}\nsecond line"), at(i), "model-a")
            }
        };
        append(&store, "ana", "chef", &message).await;
        sent.push(message);
    }
    let conversation = store.conversation("ana", "chef").await.unwrap().unwrap();
    assert_eq!(store.messages(&conversation).await.unwrap(), sent);
    assert_eq!(
        store.recent_messages(&conversation, 3).await.unwrap(),
        sent[27..]
    );
    assert_eq!(
        store.message(&conversation, 9).await.unwrap().as_ref(),
        Some(&sent[9])
    );
    assert_eq!(store.message(&conversation, 30).await.unwrap(), None);
}

async fn pages_walk_back_from_the_newest_message_without_gaps_or_overlap(subject: Subject) {
    let store = subject.store;
    for i in 0..25 {
        append(
            &store,
            "ana",
            "chef",
            &Message::from_user(format!("m{i}"), at(i)),
        )
        .await;
    }
    let conversation = store.conversation("ana", "chef").await.unwrap().unwrap();
    let mut before = None;
    let mut pages = Vec::new();
    loop {
        let page = store
            .messages_page(&conversation, before, 10)
            .await
            .unwrap();
        let Some(first) = page.first() else { break };
        before = Some(first.seq);
        pages.push(page.iter().map(|p| p.seq).collect::<Vec<_>>());
        for paged in &page {
            assert_eq!(paged.message.text, format!("m{}", paged.seq));
        }
    }
    assert_eq!(
        pages,
        [
            (15..25).collect::<Vec<u64>>(),
            (5..15).collect(),
            (0..5).collect()
        ]
    );
    assert!(
        store
            .messages_page(&conversation, Some(0), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn concurrent_turns_of_one_user_from_two_processes_are_each_stored_once_in_order(
    subject: Subject,
) {
    const TASKS: usize = 8;
    const TURNS: usize = 25;
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        // Half the tasks write through each process.
        let store = if task % 2 == 0 {
            subject.store.clone()
        } else {
            subject.other_process.clone()
        };
        tasks.push(tokio::spawn(async move {
            for turn in 0..TURNS {
                let text = format!("task{task} turn{turn}");
                append(
                    &store,
                    "ana",
                    "chef",
                    &Message::from_user(text, at(turn as i64)),
                )
                .await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("every writer finishes");
    }
    let store = subject.store;
    let conversation = store.conversation("ana", "chef").await.unwrap().unwrap();
    assert_eq!(conversation.next_seq, (TASKS * TURNS) as u64);
    assert_eq!(conversation.user_messages, (TASKS * TURNS) as u64);
    let page = store
        .messages_page(&conversation, None, TASKS * TURNS + 10)
        .await
        .unwrap();
    let seqs: Vec<u64> = page.iter().map(|p| p.seq).collect();
    assert_eq!(seqs, (0..(TASKS * TURNS) as u64).collect::<Vec<_>>());
    let texts: HashSet<&str> = page.iter().map(|p| p.message.text.as_str()).collect();
    assert_eq!(texts.len(), TASKS * TURNS, "none lost, none doubled");
    for task in 0..TASKS {
        let prefix = format!("task{task} ");
        let turns: Vec<String> = page
            .iter()
            .filter_map(|p| p.message.text.strip_prefix(&prefix).map(str::to_string))
            .collect();
        let expected: Vec<String> = (0..TURNS).map(|turn| format!("turn{turn}")).collect();
        assert_eq!(
            turns, expected,
            "each writer's turns in the order it sent them"
        );
    }
}

async fn an_acknowledged_message_is_read_at_once_by_another_process(subject: Subject) {
    let stored = subject
        .store
        .append(
            "ana",
            "chef",
            &Message::from_user("kept", at(0)),
            &AppendEffects::NONE,
        )
        .await
        .unwrap();
    let seen = subject
        .other_process
        .conversation("ana", "chef")
        .await
        .unwrap()
        .expect("the other process sees the conversation");
    assert_eq!(seen, stored);
    let messages = subject.other_process.messages(&seen).await.unwrap();
    assert_eq!(messages, [Message::from_user("kept", at(0))]);
}

async fn counters_and_timestamps_follow_every_append(subject: Subject) {
    let store = subject.store;
    append(&store, "ana", "chef", &Message::from_user("hi", at(0))).await;
    append(&store, "ana", "chef", &Message::reply("hello", at(1), "m")).await;
    append(&store, "ana", "chef", &Message::from_user("again", at(2))).await;
    let followup = Message {
        kind: MessageKind::FollowUp,
        ..Message::reply("how was the risotto?", at(3), "m")
    };
    let returned = store
        .append("ana", "chef", &followup, &AppendEffects::NONE)
        .await
        .unwrap();
    let conversation = store.conversation("ana", "chef").await.unwrap().unwrap();
    assert_eq!(returned, conversation, "the append returns what was stored");
    assert_eq!(conversation.started_at, at(0));
    assert_eq!(conversation.started_by, Role::User);
    assert_eq!(conversation.next_seq, 4);
    assert_eq!(
        (conversation.user_messages, conversation.assistant_messages),
        (2, 2)
    );
    assert_eq!(conversation.last_user_at, Some(at(2)));
    assert_eq!(conversation.last_assistant_at, Some(at(3)));
    assert_eq!(conversation.recent_user_times, [at(0), at(2)]);
    assert_eq!(conversation.followups_sent, 1);
    assert_eq!(conversation.last_followup_at, Some(at(3)));
    assert_eq!(conversation.last_followup_seq, Some(3));
    assert!(conversation.followup_unseen);
}

async fn a_topic_list_that_changes_or_shrinks_is_stored_as_it_now_is(subject: Subject) {
    let store = subject.store;
    let topic = |phrase: &str, score: f64| Topic {
        phrase: phrase.to_string(),
        score,
        mentions: 1,
        updated_at: at(0),
        sensitive: false,
    };
    let lists = [
        vec![
            topic("risotto", 1.0),
            topic("saffron", 0.5),
            topic("leeks", 0.2),
        ],
        vec![topic("leeks", 2.0), topic("risotto", 0.9)],
        vec![],
        vec![topic("tarte tatin", 1.0)],
        vec![
            topic("gratin", 0.7),
            topic("tarte tatin", 1.2),
            topic("leeks", 0.3),
        ],
    ];
    let schedule = |_: &troupe::store::Conversation| None;
    for (i, list) in lists.iter().enumerate() {
        let replace = |stored: &mut Vec<Topic>| *stored = list.clone();
        let effects = AppendEffects {
            schedule: &schedule,
            topics: Some(&replace),
            session: None,
        };
        let message = Message::from_user(format!("turn {i}"), at(i as i64));
        store
            .append("ana", "chef", &message, &effects)
            .await
            .unwrap();
        let conversation = store.conversation("ana", "chef").await.unwrap().unwrap();
        let stored = store.topics(&conversation).await.unwrap();
        assert_eq!(&stored, list, "after turn {i}");
    }
}

async fn append_effects_keep_the_due_window_topics_and_session_in_the_same_transaction(
    subject: Subject,
) {
    let store = subject.store;
    let window = DueWindow {
        from: at(3600),
        until: at(7200),
    };
    let marks = SessionMarks {
        last_activity: at(0),
        last_notice: at(0),
        last_break: at(0),
    };
    let schedule = move |_: &troupe::store::Conversation| Some(window);
    let topics = |list: &mut Vec<Topic>| {
        list.push(Topic {
            phrase: format!("saffron risotto {}", list.len()),
            score: 1.5,
            mentions: 2,
            updated_at: at(0),
            sensitive: list.len() == 1,
        })
    };
    let effects = AppendEffects {
        schedule: &schedule,
        topics: Some(&topics),
        session: Some(marks),
    };
    store
        .append(
            "ana",
            "chef",
            &Message::from_user("risotto", at(0)),
            &effects,
        )
        .await
        .unwrap();
    store
        .append("ana", "chef", &Message::from_user("again", at(1)), &effects)
        .await
        .unwrap();
    let conversation = store.conversation("ana", "chef").await.unwrap().unwrap();
    assert_eq!(conversation.due, Some(window));
    let stored = store.topics(&conversation).await.unwrap();
    let phrases: Vec<_> = stored
        .iter()
        .map(|t| (t.phrase.as_str(), t.sensitive))
        .collect();
    assert_eq!(
        phrases,
        [("saffron risotto 0", false), ("saffron risotto 1", true)]
    );
    assert_eq!((stored[0].score, stored[0].mentions), (1.5, 2));
    let user = store.user("ana").await.unwrap().unwrap();
    assert_eq!(user.session, Some(marks));
    assert_eq!(user.created_at, at(0));
}

async fn conversations_are_kept_apart_per_user_and_persona(subject: Subject) {
    let store = subject.store;
    append(&store, "ana", "chef", &Message::from_user("a", at(0))).await;
    append(&store, "ana", "decor", &Message::from_user("b", at(1))).await;
    append(&store, "bob", "chef", &Message::from_user("c", at(2))).await;
    let chef = store.conversation("ana", "chef").await.unwrap().unwrap();
    let decor = store.conversation("ana", "decor").await.unwrap().unwrap();
    assert_ne!(chef.id, decor.id);
    assert_eq!(store.messages(&decor).await.unwrap()[0].text, "b");
    assert!(store.conversation("bob", "decor").await.unwrap().is_none());
    assert!(store.user("carol").await.unwrap().is_none());
    let personas: Vec<String> = store
        .user_conversations("ana")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.persona)
        .collect();
    assert_eq!(personas, ["chef", "decor"]);
}

async fn a_new_conversation_inherits_the_users_crisis_hold(subject: Subject) {
    let store = subject.store;
    append(&store, "ana", "chef", &Message::from_user("hi", at(0))).await;
    store
        .update_user("ana", at(1), &|user| user.hold_until = Some(at(86_400)))
        .await
        .unwrap();
    append(&store, "ana", "decor", &Message::from_user("hello", at(2))).await;
    let decor = store.conversation("ana", "decor").await.unwrap().unwrap();
    assert_eq!(decor.hold_until, Some(at(86_400)));
}

async fn user_settings_are_kept_and_changed_in_place(subject: Subject) {
    let store = subject.store;
    let created = store
        .update_user("ana", at(0), &|user| {
            user.timezone = Some("Europe/Paris".into());
            user.language = Some("fr".into());
            user.display_name = Some("Ana".into());
        })
        .await
        .unwrap();
    assert_eq!(created.created_at, at(0));
    store
        .update_user("ana", at(50), &|user| {
            user.minor = true;
            user.followups_off = true;
        })
        .await
        .unwrap();
    let user = store.user("ana").await.unwrap().unwrap();
    assert_eq!(
        user.created_at,
        at(0),
        "an update keeps the first-seen instant"
    );
    assert_eq!(user.timezone.as_deref(), Some("Europe/Paris"));
    assert_eq!(user.language.as_deref(), Some("fr"));
    assert_eq!(user.display_name.as_deref(), Some("Ana"));
    assert!(user.minor && user.followups_off);
    assert_eq!(
        user,
        created.clone().tap(|u| {
            u.minor = true;
            u.followups_off = true;
        })
    );
}

/// A value changed by `change`, for comparing with an expected record.
trait Tap: Sized {
    fn tap(self, change: impl FnOnce(&mut Self)) -> Self;
}

impl<T> Tap for T {
    fn tap(mut self, change: impl FnOnce(&mut Self)) -> Self {
        change(&mut self);
        self
    }
}

async fn usage_records_are_read_back_from_an_instant_on_oldest_first(subject: Subject) {
    let store = subject.store;
    let record = |seconds: i64, user: Option<&str>, outcome| UsageRecord {
        at: at(seconds),
        user: user.map(str::to_string),
        persona: "chef".into(),
        model: "model-a".into(),
        kind: MessageKind::Chat,
        prompt_tokens: 120,
        completion_tokens: 40 + seconds as u64,
        latency_ms: 900,
        outcome,
    };
    let records = [
        record(30, Some("ana"), CallOutcome::Completed),
        record(10, None, CallOutcome::Failed),
        record(20, Some("bob"), CallOutcome::Interrupted),
    ];
    for r in &records {
        store.record_usage(r).await.unwrap();
    }
    let since = store.usage_since(at(15)).await.unwrap();
    assert_eq!(since, [records[2].clone(), records[0].clone()]);
    assert_eq!(store.usage_since(at(0)).await.unwrap().len(), 3);
}

async fn a_reply_kept_with_its_usage_record_is_read_back_with_it(subject: Subject) {
    let store = subject.store;
    append(&store, "ana", "chef", &Message::from_user("rice?", at(0))).await;
    let usage = UsageRecord {
        at: at(1),
        user: Some("ana".into()),
        persona: "chef".into(),
        model: "model-a".into(),
        kind: MessageKind::Chat,
        prompt_tokens: 12,
        completion_tokens: 34,
        latency_ms: 56,
        outcome: CallOutcome::Completed,
    };
    let reply = Message::reply("Fried rice.", at(1), "model-a");
    let conversation = store
        .append_with_usage("ana", "chef", &reply, &AppendEffects::NONE, &usage)
        .await
        .expect("the reply and its usage are stored");
    assert_eq!(conversation.assistant_messages, 1);
    let recent = store.recent_messages(&conversation, 5).await.unwrap();
    assert_eq!(recent.last(), Some(&reply));
    assert_eq!(store.usage_since(at(0)).await.unwrap(), [usage]);
}

async fn usage_from_the_earliest_and_to_the_latest_representable_instant_is_read_like_any_other(
    subject: Subject,
) {
    let store = subject.store;
    let record = UsageRecord {
        at: at(0),
        user: Some("ana".into()),
        persona: "chef".into(),
        model: "model-a".into(),
        kind: MessageKind::Chat,
        prompt_tokens: 1,
        completion_tokens: 2,
        latency_ms: 3,
        outcome: CallOutcome::Completed,
    };
    store.record_usage(&record).await.unwrap();
    // chrono's earliest instant lies before PostgreSQL's (4714 BC): "all
    // of it" must still read everything, not fail on the range.
    let all = store.usage_since(DateTime::<Utc>::MIN_UTC).await.unwrap();
    assert_eq!(all, [record]);
    let none = store.usage_since(DateTime::<Utc>::MAX_UTC).await.unwrap();
    assert_eq!(none, []);
}

async fn safety_events_are_counted_per_day_kind_and_language_only(subject: Subject) {
    let store = subject.store;
    let event = |seconds: i64, kind: &str, language: &str| SafetyEvent {
        at: at(seconds),
        kind: kind.into(),
        language: language.into(),
    };
    for e in [
        event(86_400, "crisis_referral", "en"),
        event(0, "crisis_referral", "fr"),
        event(10, "crisis_referral", "fr"),
        event(20, "danger_referral", "fr"),
    ] {
        store.record_safety_event(&e).await.unwrap();
    }
    let counts: Vec<(String, String, String, u64)> = store
        .safety_counts()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.day, c.kind, c.language, c.count))
        .collect();
    let row = |day: &str, kind: &str, language: &str, count| {
        (
            day.to_string(),
            kind.to_string(),
            language.to_string(),
            count,
        )
    };
    assert_eq!(
        counts,
        [
            row("2026-11-02", "crisis_referral", "fr", 2),
            row("2026-11-02", "danger_referral", "fr", 1),
            row("2026-11-03", "crisis_referral", "en", 1),
        ]
    );
}

async fn the_store_reports_the_schema_version_it_was_written_with(subject: Subject) {
    let store = subject.store;
    let expected = match store.kind() {
        "sled" => i64::from(SCHEMA_VERSION),
        _ => PG_SCHEMA_VERSION,
    };
    assert_eq!(store.schema_version().await.unwrap(), expected);
}

// --- PostgreSQL only: migrations -------------------------------------------

#[tokio::test]
async fn migrating_twice_applies_each_migration_once() {
    let Some(url) = database_url("migrating_twice_applies_each_migration_once") else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let first = migrate(&schema.database()).await.unwrap();
    let second = migrate(&schema.database()).await.unwrap();
    let recorded = schema.number("SELECT COUNT(*) FROM troupe_schema").await;
    schema.drop_all().await;
    assert_eq!((first.from, first.to), (0, PG_SCHEMA_VERSION));
    assert_eq!(first.applied as i64, PG_SCHEMA_VERSION);
    assert_eq!(
        (second.from, second.to, second.applied),
        (PG_SCHEMA_VERSION, PG_SCHEMA_VERSION, 0)
    );
    assert_eq!(recorded, PG_SCHEMA_VERSION);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_processes_starting_at_once_migrate_once() {
    let Some(url) = database_url("ten_processes_starting_at_once_migrate_once") else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let starts: Vec<_> = (0..10)
        .map(|_| {
            let database = schema.database();
            tokio::spawn(async move { migrate(&database).await })
        })
        .collect();
    let mut applied = 0;
    let mut failures = Vec::new();
    for start in starts {
        match start.await.expect("the task runs") {
            Ok(migrated) => applied += migrated.applied,
            Err(error) => failures.push(error.to_string()),
        }
    }
    let recorded = schema.number("SELECT COUNT(*) FROM troupe_schema").await;
    schema.drop_all().await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(
        applied as i64, PG_SCHEMA_VERSION,
        "each migration applied by one process only"
    );
    assert_eq!(recorded, PG_SCHEMA_VERSION);
}

#[tokio::test]
async fn a_database_from_a_newer_troupe_is_refused_naming_both_versions() {
    let Some(url) = database_url("a_database_from_a_newer_troupe_is_refused_naming_both_versions")
    else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    migrate(&schema.database()).await.unwrap();
    let newer = PG_SCHEMA_VERSION + 1;
    schema
        .execute(format!(
            "INSERT INTO troupe_schema (version, name) VALUES ({newer}, 'from the future')"
        ))
        .await;
    let by_migrate = migrate(&schema.database()).await.unwrap_err().to_string();
    let by_open = PgStore::open_migrated(schema.database())
        .await
        .unwrap_err()
        .to_string();
    let recorded = schema.number("SELECT COUNT(*) FROM troupe_schema").await;
    schema.drop_all().await;
    for error in [by_migrate, by_open] {
        assert!(
            error.contains(&format!("has schema version {newer}, newer than this troupe understands ({PG_SCHEMA_VERSION}); upgrade troupe")),
            "{error}"
        );
    }
    assert_eq!(recorded, PG_SCHEMA_VERSION + 1, "nothing was changed");
}

#[tokio::test]
async fn an_unreachable_database_is_named_without_its_password() {
    let database = Database::parse("postgres://troupe:pw-never-shown@127.0.0.1:1/troupe")
        .expect("a PostgreSQL URL");
    let error = migrate(&database).await.unwrap_err().to_string();
    assert!(
        error.starts_with(
            "could not connect to the PostgreSQL database postgres://troupe@127.0.0.1:1/troupe:"
        ),
        "{error}"
    );
    assert!(!error.contains("pw-never-shown"), "{error}");
}
