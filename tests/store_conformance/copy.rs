//! What `troupe store copy` asks of each store, on both: pages written are
//! read back as they were, in key order; writing a page twice leaves what
//! writing it once did; a conversation keeps the source's id unless
//! another conversation has it; the copy's mark is kept.

use chrono::Duration;
use troupe::store::copy::{CopiedConversation, CopyMarker, IntentHold};
use troupe::store::{
    CallOutcome, Conversation, DueWindow, Message, MessageKind, PagedMessage, Role, StoreBackend,
    Topic, UsageRecord, User,
};

use super::{Subject, at, on_postgres, on_sled};

conformance!(
    pages_of_conversations_are_read_back_as_written_in_key_order_and_rewritten_in_place,
    a_copied_conversation_whose_id_is_taken_gets_another_and_mixes_nothing,
    the_mark_of_a_copy_is_kept_and_an_empty_store_holds_no_records,
    usage_pages_end_on_a_whole_millisecond_and_a_page_written_again_replaces_it,
);

/// A conversation of `user` with `persona`, as a copy reads it: a question,
/// a reply with disclaimers and a follow-up (numbered from 3, as after a
/// purge), a topic, a due window and, with `intent`, an intent held by
/// a worker.
fn copied(user: &str, persona: &str, id: u64, intent: bool) -> CopiedConversation {
    let question = Message::from_user(format!("{user} asks {persona}"), at(10));
    let reply = Message {
        disclaimers: vec!["I am an AI.".into()],
        ..Message::reply("Stir.", at(11), "model-a")
    };
    let followup = Message {
        kind: MessageKind::FollowUp,
        ..Message::reply("How was it?", at(12), "model-a")
    };
    let messages: Vec<PagedMessage> = [question, reply, followup]
        .into_iter()
        .enumerate()
        .map(|(i, message)| PagedMessage {
            seq: 3 + i as u64,
            message,
        })
        .collect();
    let conversation = Conversation {
        id,
        user: user.into(),
        persona: persona.into(),
        started_at: at(0),
        started_by: Role::User,
        next_seq: 6,
        user_messages: 2,
        assistant_messages: 4,
        last_user_at: Some(at(10)),
        last_assistant_at: Some(at(12)),
        recent_user_times: vec![at(0), at(10)],
        opted_out: false,
        followups_sent: 1,
        last_followup_at: Some(at(12)),
        followup_unseen: true,
        last_followup_seq: Some(5),
        pending_followup: intent.then(|| at(20)),
        due: (!intent).then(|| DueWindow {
            from: at(100),
            until: at(100) + Duration::days(3),
        }),
        hold_until: None,
    };
    CopiedConversation {
        conversation,
        intent: intent.then(|| IntentHold {
            owner: "worker-a".into(),
            lease_until: Some(at(20) + Duration::minutes(2)),
        }),
        messages,
        topics: vec![Topic {
            phrase: "saffron risotto".into(),
            score: 1.5,
            mentions: 2,
            updated_at: at(10),
            sensitive: false,
        }],
    }
}

/// Every conversation of the store, read a page of `size` at a time.
async fn read_all(store: &StoreBackend, size: usize) -> Vec<CopiedConversation> {
    let mut all: Vec<CopiedConversation> = Vec::new();
    loop {
        let after = all
            .last()
            .map(|c| (c.conversation.user.clone(), c.conversation.persona.clone()));
        let cursor = after.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
        let page = store.conversations_after(cursor, size).await.unwrap();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

async fn pages_of_conversations_are_read_back_as_written_in_key_order_and_rewritten_in_place(
    subject: Subject,
) {
    let store = subject.store;
    let users: Vec<User> = ["bob", "ana", "ana-b"]
        .iter()
        .map(|id| User::new(id, at(0)))
        .collect();
    store.put_users(&users).await.unwrap();
    let written = [
        copied("bob", "chef", 40, false),
        copied("ana", "decor", 41, true),
        copied("ana", "chef", 42, false),
        copied("ana-b", "chef", 43, false),
    ];
    for page in written.chunks(3) {
        store.put_conversations(page).await.unwrap();
    }
    store.put_conversations(&written[..2]).await.unwrap();
    let read = read_all(&store, 2).await;
    let order: Vec<(&str, &str)> = read
        .iter()
        .map(|c| {
            (
                c.conversation.user.as_str(),
                c.conversation.persona.as_str(),
            )
        })
        .collect();
    // Byte order: "ana" < "ana-b" < "bob", then the persona.
    assert_eq!(
        order,
        [
            ("ana", "chef"),
            ("ana", "decor"),
            ("ana-b", "chef"),
            ("bob", "chef")
        ]
    );
    for c in &read {
        let original = written
            .iter()
            .find(|w| {
                w.conversation.user == c.conversation.user
                    && w.conversation.persona == c.conversation.persona
            })
            .unwrap();
        assert_eq!(c, original, "read back as written, id included");
    }
    let first: Vec<String> = store
        .users_after(None, 2)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(first, ["ana", "ana-b"]);
    let rest = store.users_after(Some("ana-b"), 10).await.unwrap();
    assert_eq!(rest, [users[0].clone()]);
}

async fn a_copied_conversation_whose_id_is_taken_gets_another_and_mixes_nothing(subject: Subject) {
    let store = subject.store;
    store
        .put_conversations(&[copied("ana", "chef", 7, false)])
        .await
        .unwrap();
    store
        .put_conversations(&[copied("bob", "chef", 7, false)])
        .await
        .unwrap();
    let ana = store.conversation("ana", "chef").await.unwrap().unwrap();
    let bob = store.conversation("bob", "chef").await.unwrap().unwrap();
    assert_eq!(ana.id, 7, "the source's id, free here");
    assert_ne!(bob.id, 7, "7 is ana's");
    let texts =
        |messages: Vec<Message>| -> Vec<String> { messages.into_iter().map(|m| m.text).collect() };
    assert_eq!(
        texts(store.messages(&ana).await.unwrap())[0],
        "ana asks chef"
    );
    assert_eq!(
        texts(store.messages(&bob).await.unwrap())[0],
        "bob asks chef"
    );
    assert_eq!(store.messages(&ana).await.unwrap().len(), 3);
    let newcomer = store
        .append(
            "cy",
            "chef",
            &Message::from_user("new", at(50)),
            &troupe::store::AppendEffects::NONE,
        )
        .await
        .unwrap();
    assert!(newcomer.id > 7 && newcomer.id != bob.id, "{}", newcomer.id);
}

async fn the_mark_of_a_copy_is_kept_and_an_empty_store_holds_no_records(subject: Subject) {
    let store = subject.store;
    assert_eq!(store.copy_marker().await.unwrap(), None);
    assert!(!store.holds_records().await.unwrap());
    let marker = CopyMarker {
        source: "sled data dir /srv/troupe".into(),
        started_at: at(0),
        finished_at: None,
    };
    store.set_copy_marker(&marker).await.unwrap();
    let finished = CopyMarker {
        finished_at: Some(at(60)),
        ..marker
    };
    store.set_copy_marker(&finished).await.unwrap();
    assert_eq!(
        subject.other_process.copy_marker().await.unwrap(),
        Some(finished)
    );
    assert!(!store.holds_records().await.unwrap(), "a mark is no record");
    store.put_users(&[User::new("ana", at(0))]).await.unwrap();
    assert!(store.holds_records().await.unwrap());
}

async fn usage_pages_end_on_a_whole_millisecond_and_a_page_written_again_replaces_it(
    subject: Subject,
) {
    let store = subject.store;
    let record = |seconds: i64, micros: i64, tokens: u64| UsageRecord {
        at: at(seconds) + Duration::microseconds(micros),
        user: Some("ana".into()),
        persona: "chef".into(),
        model: "model-a".into(),
        kind: MessageKind::Chat,
        prompt_tokens: tokens,
        completion_tokens: 1,
        latency_ms: 2,
        outcome: CallOutcome::Completed,
    };
    // Three records in one millisecond (at 1 s), one before, one after.
    let records = [
        record(0, 0, 1),
        record(1, 0, 2),
        record(1, 100, 3),
        record(1, 900, 4),
        record(2, 0, 5),
    ];
    store.put_usage(&records).await.unwrap();
    let first = store.usage_after(None, 2).await.unwrap();
    assert_eq!(
        first,
        records[..4],
        "the page runs on to the end of its millisecond"
    );
    let after = first.last().map(|r| r.at.timestamp_millis());
    let rest = store.usage_after(after, 2).await.unwrap();
    assert_eq!(rest, records[4..]);
    store.put_usage(&records[1..4]).await.unwrap();
    store.put_usage(&records[1..4]).await.unwrap();
    assert_eq!(store.usage_after(None, 100).await.unwrap(), records);
}
