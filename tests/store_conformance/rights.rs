//! Erasure and retention, on both stores: an erasure removes every row of
//! the user and nothing of anyone else's; a purge removes what is older
//! than the cutoff. On PostgreSQL, the erased text is also looked for in
//! the table files themselves.

use troupe::store::postgres::PgStore;
use troupe::store::{
    AppendEffects, CallOutcome, DueWindow, Message, MessageKind, Purge, StoreBackend, Topic,
    UsageRecord,
};

use super::followups::{append_due, claim, deliver, followups_of};
use super::{Subject, append, at, on_postgres, on_sled};
use crate::support::postgres::{TestSchema, database_url};

conformance!(
    erasure_removes_every_row_of_the_user_and_nothing_of_others,
    a_purge_removes_what_is_older_than_the_cutoff,
);

fn usage(user: &str, seconds: i64) -> UsageRecord {
    UsageRecord {
        at: at(seconds),
        user: Some(user.to_string()),
        persona: "chef".into(),
        model: "model-a".into(),
        kind: MessageKind::Chat,
        prompt_tokens: 10,
        completion_tokens: 5,
        latency_ms: 100,
        outcome: CallOutcome::Completed,
    }
}

/// Gives `user` two conversations (five messages, one a follow-up with
/// its webhook delivery queued) and a usage record; follow-ups are
/// claimed and delivered for every user due.
async fn populate(store: &StoreBackend, users: &[&str]) {
    for user in users {
        append_due(store, user, "chef", 100).await;
        append(store, user, "chef", &Message::reply("a reply", at(10), "m")).await;
        let window = DueWindow {
            from: at(100),
            until: at(1_000),
        };
        store
            .update_conversation(user, "chef", &|_| {}, &|_| Some(window))
            .await
            .unwrap();
        append(
            store,
            user,
            "decor",
            &Message::from_user(format!("{user}'s sofa"), at(20)),
        )
        .await;
        append(store, user, "decor", &Message::reply("velvet", at(30), "m")).await;
        store.record_usage(&usage(user, 40)).await.unwrap();
    }
    for c in claim(store, at(200), 100, "worker-1").await {
        assert!(deliver(store, &c, at(300), &|_| true).await);
    }
}

async fn erasure_removes_every_row_of_the_user_and_nothing_of_others(subject: Subject) {
    let Subject {
        store,
        other_process,
    } = subject;
    populate(&store, &["ana", "bob"]).await;
    // sled's erasure rewrites the store: no other handle may be open.
    drop(other_process);
    let (store, erasure) = store
        .erase_user("ana", &mut troupe::progress::Silent)
        .await
        .unwrap();
    assert_eq!((erasure.conversations, erasure.messages), (2, 5));
    assert!(store.user("ana").await.unwrap().is_none());
    assert!(store.conversation("ana", "chef").await.unwrap().is_none());
    assert!(store.user_conversations("ana").await.unwrap().is_empty());
    let usage_left: Vec<_> = store
        .usage_since(at(-86_400))
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.user)
        .collect();
    assert_eq!(usage_left, [Some("bob".to_string())]);
    assert!(store.user("bob").await.unwrap().is_some());
    assert_eq!(store.user_conversations("bob").await.unwrap().len(), 2);
    assert_eq!(followups_of(&store, "bob", "chef").await, 1);
    let decor = store.conversation("bob", "decor").await.unwrap().unwrap();
    let texts: Vec<String> = store
        .messages(&decor)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts, ["bob's sofa", "velvet"]);
    append(
        &store,
        "ana",
        "chef",
        &Message::from_user("hello again", at(500)),
    )
    .await;
    let fresh = store.conversation("ana", "chef").await.unwrap().unwrap();
    assert_eq!(
        store.messages(&fresh).await.unwrap(),
        [Message::from_user("hello again", at(500))],
        "a user erased starts from nothing"
    );
}

async fn a_purge_removes_what_is_older_than_the_cutoff(subject: Subject) {
    let Subject {
        store,
        other_process,
    } = subject;
    populate(&store, &["ana"]).await;
    let topics = |list: &mut Vec<Topic>| {
        let topic = |phrase: &str, seconds| Topic {
            phrase: phrase.into(),
            score: 1.0,
            mentions: 1,
            updated_at: at(seconds),
            sensitive: false,
        };
        *list = vec![topic("saffron", 0), topic("risotto", 1_000)];
    };
    let effects = AppendEffects {
        schedule: &|_| None,
        topics: Some(&topics),
        session: None,
    };
    let kept = Message::from_user("risotto tonight", at(1_000));
    store.append("ana", "chef", &kept, &effects).await.unwrap();
    store.record_usage(&usage("ana", 2_000)).await.unwrap();
    drop(other_process);
    let (store, purge) = store
        .purge_before(at(500), &mut troupe::progress::Silent)
        .await
        .unwrap();
    assert_eq!(
        purge,
        Purge {
            messages: 5,
            topics: 1,
            usage: 1,
            webhook_deliveries: 1,
            preserved_copies_removed: 0,
        }
    );
    let chef = store.conversation("ana", "chef").await.unwrap().unwrap();
    assert_eq!(store.messages(&chef).await.unwrap(), [kept]);
    assert_eq!(chef.recent_user_times, [at(1_000)]);
    let phrases: Vec<String> = store
        .topics(&chef)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.phrase)
        .collect();
    assert_eq!(phrases, ["risotto"]);
    let decor = store.conversation("ana", "decor").await.unwrap().unwrap();
    assert!(store.messages(&decor).await.unwrap().is_empty());
    let usage_left = store.usage_since(at(-86_400)).await.unwrap();
    assert_eq!(usage_left, [usage("ana", 2_000)]);
    let (_, again) = store
        .purge_before(at(500), &mut troupe::progress::Silent)
        .await
        .unwrap();
    assert_eq!(again, Purge::default(), "nothing is left past the cutoff");
}

// --- PostgreSQL only: the files ---------------------------------------------

/// The files of every table, index and TOAST table of `schema` that hold
/// `text`, read from the server's data directory.
async fn files_holding(schema: &TestSchema, text: &str) -> Vec<String> {
    schema.execute("CHECKPOINT".to_string()).await;
    let name = &schema.name;
    let paths = schema
        .strings(&format!(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c
             WHERE c.relnamespace = '{name}'::regnamespace AND c.relkind IN ('r', 'i')
             UNION ALL
             SELECT pg_relation_filepath(c.reltoastrelid) FROM pg_class c
             WHERE c.relnamespace = '{name}'::regnamespace AND c.reltoastrelid <> 0
             UNION ALL
             SELECT pg_relation_filepath(i.indexrelid) FROM pg_class c
             JOIN pg_index i ON i.indrelid = c.reltoastrelid
             WHERE c.relnamespace = '{name}'::regnamespace"
        ))
        .await;
    let mut holding = Vec::new();
    for path in paths {
        let at = schema
            .number(&format!(
                "SELECT position(convert_to('{text}', 'UTF8') in pg_read_binary_file('{path}'))::bigint"
            ))
            .await;
        if at > 0 {
            holding.push(path);
        }
    }
    holding
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erased_text_is_left_in_no_table_file_of_postgresql() {
    let Some(url) = database_url("erased_text_is_left_in_no_table_file_of_postgresql") else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let pg = PgStore::open(schema.database()).await.expect("migrated");
    let store = StoreBackend::Postgres(pg.clone());
    let secret = "ana-secret-marmalade-7f3k";
    let kept = "bob-kept-quince-9q2w";
    // ana's rows are written last: the nearest the free space of their
    // pages, where a plain VACUUM would leave their bytes.
    for (user, text) in [("bob", kept), ("ana", secret)] {
        append_due(&store, user, "chef", 100).await;
        let topics = |list: &mut Vec<Topic>| {
            *list = vec![Topic {
                phrase: text.to_string(),
                score: 1.0,
                mentions: 1,
                updated_at: at(0),
                sensitive: false,
            }]
        };
        let effects = AppendEffects {
            schedule: &|_| None,
            topics: Some(&topics),
            session: None,
        };
        let message = Message::from_user(format!("my jar of {text}"), at(5));
        store
            .append(user, "chef", &message, &effects)
            .await
            .unwrap();
    }
    let before = files_holding(&schema, secret).await;
    let (store, _) = store
        .erase_user("ana", &mut troupe::progress::Silent)
        .await
        .unwrap();
    let after = files_holding(&schema, secret).await;
    let others = files_holding(&schema, kept).await;
    let bob = store.conversation("bob", "chef").await.unwrap();
    pg.close().await;
    schema.drop_all().await;
    assert!(
        before.len() >= 2,
        "the check sees the text in the files before the erasure: {before:?}"
    );
    assert_eq!(after, Vec::<String>::new(), "the erased text is in no file");
    assert!(others.len() >= 2, "the other user's text stays: {others:?}");
    assert!(bob.is_some());
}
