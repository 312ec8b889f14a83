//! `troupe followups due` and `explain` (the real binary) answer the same
//! on both stores: on the sled store of a data dir, and on PostgreSQL
//! (`TROUPE_DATABASE_URL` pointing at a test schema; skipped, saying so,
//! without `TROUPE_TEST_DATABASE_URL`).

use chrono::{DateTime, Utc};
use troupe::followup::FollowUpPolicy;
use troupe::persona::Personas;
use troupe::store::postgres::PgStore;
use troupe::store::{AppendEffects, Conversation, Message, Store, StoreBackend};

use crate::support::Troupe;
use crate::support::postgres::{TestSchema, database_url};

/// When the commands run: three days after most conversations went quiet,
/// at noon UTC (outside quiet hours).
const NOW: &str = "2026-11-26T12:00:00Z";

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("a valid instant")
}

/// Five users talk with `chef` as the chat path writes it (five messages
/// each, answered, due windows from the default policy): `ana` and `dan`
/// went quiet on 23 November and are due; `bob` turned follow-ups off,
/// `cy` is a minor; `eve` wrote an hour before [`NOW`].
async fn populate(store: &StoreBackend) {
    let chef = Personas::builtin().get("chef").expect("the built-in chef");
    let policy = FollowUpPolicy::default().for_persona(&chef);
    let schedule = |c: &Conversation| policy.due_window(c);
    let effects = AppendEffects {
        schedule: &schedule,
        topics: None,
        session: None,
    };
    for (user, day) in [
        ("ana", "2026-11-23T10"),
        ("bob", "2026-11-23T10"),
        ("cy", "2026-11-23T10"),
        ("dan", "2026-11-23T11"),
        ("eve", "2026-11-26T10"),
    ] {
        for m in 0..5 {
            let asked = at(&format!("{day}:{m}0:00Z"));
            let question = Message::from_user(format!("risotto, part {m}?"), asked);
            let answer = Message::reply("Stir slowly.", asked + chrono::Duration::seconds(20), "m");
            for message in [question, answer] {
                store
                    .append(user, "chef", &message, &effects)
                    .await
                    .unwrap();
            }
        }
    }
    let now = at(NOW);
    store
        .update_user("bob", now, &|u| u.followups_off = true)
        .await
        .unwrap();
    store
        .update_user("cy", now, &|u| u.minor = true)
        .await
        .unwrap();
}

/// What `due --json`, `explain` for each user, and `explain` of a
/// conversation that does not exist print on the store `troupe` runs on.
fn answers(troupe: &Troupe) -> Vec<(i32, String)> {
    let mut printed = Vec::new();
    let mut run = |args: &[&str]| {
        let mut all = vec!["--now", NOW, "followups"];
        all.extend_from_slice(args);
        let run = troupe.run(&all);
        printed.push((
            run.code,
            if run.code == 0 {
                run.stdout
            } else {
                run.stderr
            },
        ));
    };
    run(&["due", "--json"]);
    run(&["due"]);
    for user in ["ana", "bob", "cy", "dan", "eve"] {
        run(&["explain", "--user", user, "--persona", "chef", "--json"]);
        run(&["explain", "--user", user, "--persona", "chef"]);
    }
    run(&["explain", "--user", "zoe", "--persona", "chef"]);
    printed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_and_explain_answer_the_same_on_sled_and_on_postgresql() {
    let on_sled = Troupe::new();
    let store = StoreBackend::Sled(Store::open(&on_sled.data_dir()).unwrap());
    populate(&store).await;
    drop(store);
    let sled = tokio::task::spawn_blocking(move || answers(&on_sled))
        .await
        .unwrap();
    let due: serde_json::Value = serde_json::from_str(&sled[0].1).unwrap();
    let users: Vec<&str> = due
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["user"].as_str())
        .collect();
    assert_eq!(users, ["ana", "dan"], "{due}");
    assert!(sled[5].1.contains("chef: not due"), "bob: {}", sled[5].1);
    assert_eq!(sled[12].0, 1, "zoe has no conversation: {}", sled[12].1);
    assert!(
        sled[12].1.contains("zoe has no conversation with"),
        "{}",
        sled[12].1
    );
    let Some(url) = database_url("followup_queries::due_and_explain") else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let store = PgStore::open(schema.database()).await.expect("migrated");
    populate(&StoreBackend::Postgres(store.clone())).await;
    store.close().await;
    let mut on_postgres = Troupe::new();
    on_postgres.env("TROUPE_DATABASE_URL", &schema.process_url());
    let postgres = tokio::task::spawn_blocking(move || answers(&on_postgres))
        .await
        .unwrap();
    schema.drop_all().await;
    assert_eq!(postgres, sled);
}
