//! The follow-up bookkeeping, on both stores: the due query, claims with
//! leases, exactly-once delivery, STOP and crisis holds between claim and
//! delivery. The rules passed in are plain closures over the record: the
//! policy itself is tested with the follow-up service.

use chrono::{DateTime, Duration, Utc};
use troupe::store::{AppendEffects, Claim, Conversation, DueWindow, Message, MessageKind};
use troupe::store::{OutboxEntry, StoreBackend};

use super::{Subject, at, on_postgres, on_sled};

conformance!(
    the_due_query_returns_exactly_the_due_conversations_earliest_first,
    a_claimed_conversation_is_not_claimed_again_while_its_lease_holds,
    an_expired_lease_is_taken_over_and_the_follow_up_is_delivered_once,
    two_writers_delivering_the_same_intent_store_one_follow_up,
    stop_between_claim_and_delivery_cancels_the_follow_up,
    a_crisis_hold_keeps_a_conversation_from_being_claimed,
    a_cancelled_intent_goes_back_to_the_due_window_it_is_given,
);

/// How long a claim is held in these tests.
pub(super) const LEASE: i64 = 300;

/// Appends a user message to `user`'s conversation with `persona`, due
/// from `from` seconds for a day.
pub(super) async fn append_due(store: &StoreBackend, user: &str, persona: &str, from: i64) {
    let window = DueWindow {
        from: at(from),
        until: at(from + 86_400),
    };
    let schedule = move |_: &Conversation| Some(window);
    let effects = AppendEffects {
        schedule: &schedule,
        topics: None,
        session: None,
    };
    store
        .append(
            user,
            persona,
            &Message::from_user(format!("{user} talks to {persona}"), at(0)),
            &effects,
        )
        .await
        .expect("the append is stored");
}

/// A follow-up written at `now`.
pub(super) fn followup(text: &str, now: DateTime<Utc>) -> Message {
    Message {
        kind: MessageKind::FollowUp,
        ..Message::reply(text, now, "model-a")
    }
}

/// Claims for `owner` at `now`, every due conversation passing.
pub(super) async fn claim(
    store: &StoreBackend,
    now: DateTime<Utc>,
    limit: usize,
    owner: &str,
) -> Vec<Claim> {
    store
        .claim_due(now, limit, owner, Duration::seconds(LEASE), &|_| true)
        .await
        .expect("the claim is stored")
}

/// Delivers `claim`'s follow-up at `now` under `still_valid`, with one
/// webhook delivery queued.
pub(super) async fn deliver(
    store: &StoreBackend,
    claim: &Claim,
    now: DateTime<Utc>,
    still_valid: &(dyn Fn(&Conversation) -> bool + Sync),
) -> bool {
    let user = &claim.conversation.user;
    let outbox = [OutboxEntry {
        delivery: format!("d-{}", claim.intent),
        webhook: "crm".into(),
        user: user.clone(),
        persona: claim.conversation.persona.clone(),
        queued_at: now,
        body: format!("{{\"user\":\"{user}\"}}"),
    }];
    store
        .deliver_followup(
            claim,
            now,
            &followup(&format!("how are you, {user}?"), now),
            still_valid,
            &|_| None,
            &outbox,
        )
        .await
        .expect("the delivery is stored")
}

/// The follow-ups stored in `user`'s conversation with `persona`.
pub(super) async fn followups_of(store: &StoreBackend, user: &str, persona: &str) -> usize {
    let conversation = store
        .conversation(user, persona)
        .await
        .unwrap()
        .expect("the conversation exists");
    let messages = store.messages(&conversation).await.unwrap();
    let stored = messages
        .iter()
        .filter(|m| m.kind == MessageKind::FollowUp)
        .count();
    assert_eq!(
        conversation.followups_sent as usize, stored,
        "the record counts what is stored"
    );
    stored
}

fn who(conversations: &[Conversation]) -> Vec<(&str, &str)> {
    conversations
        .iter()
        .map(|c| (c.user.as_str(), c.persona.as_str()))
        .collect()
}

fn claimed(claims: &[Claim]) -> Vec<(&str, &str)> {
    claims
        .iter()
        .map(|c| {
            (
                c.conversation.user.as_str(),
                c.conversation.persona.as_str(),
            )
        })
        .collect()
}

async fn the_due_query_returns_exactly_the_due_conversations_earliest_first(subject: Subject) {
    let store = subject.store;
    append_due(&store, "ana", "chef", 100).await;
    append_due(&store, "bob", "chef", 50).await;
    append_due(&store, "ana", "decor", 150).await;
    append_due(&store, "cy", "chef", 500).await;
    super::append(
        &store,
        "dee",
        "chef",
        &Message::from_user("no window", at(0)),
    )
    .await;
    let due = store.due(at(200), 10).await.unwrap();
    assert_eq!(
        who(&due),
        [("bob", "chef"), ("ana", "chef"), ("ana", "decor")]
    );
    assert_eq!(
        due[0].due,
        Some(DueWindow {
            from: at(50),
            until: at(86_450)
        })
    );
    assert_eq!(
        who(&store.due(at(200), 2).await.unwrap()),
        [("bob", "chef"), ("ana", "chef")]
    );
    assert_eq!(
        who(&store.due(at(100), 10).await.unwrap()),
        [("bob", "chef"), ("ana", "chef")],
        "a window opening at `now` is due"
    );
    assert!(store.due(at(49), 10).await.unwrap().is_empty());
}

async fn a_claimed_conversation_is_not_claimed_again_while_its_lease_holds(subject: Subject) {
    append_due(&subject.store, "ana", "chef", 100).await;
    append_due(&subject.store, "bob", "chef", 50).await;
    append_due(&subject.store, "cy", "chef", 400).await;
    let now = at(200);
    let first = claim(&subject.store, now, 10, "worker-1").await;
    assert_eq!(claimed(&first), [("bob", "chef"), ("ana", "chef")]);
    assert_ne!(first[0].intent, first[1].intent, "one key per intent");
    for c in &first {
        assert_eq!(c.owner, "worker-1");
        assert_eq!(c.lease_until, now + Duration::seconds(LEASE));
        assert!(!c.taken_over);
        assert_eq!(c.conversation.pending_followup, Some(now));
        assert_eq!(c.conversation.due, None, "out of the due window");
    }
    let stored = subject
        .store
        .conversation("bob", "chef")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, first[0].conversation, "the claim is what is stored");
    assert!(subject.store.due(now, 10).await.unwrap().is_empty());
    let later = now + Duration::seconds(100);
    assert!(
        claim(&subject.other_process, later, 10, "worker-2")
            .await
            .is_empty(),
        "another worker finds nothing to claim while the leases hold"
    );
    assert!(
        subject
            .other_process
            .pending_intents(later)
            .await
            .unwrap()
            .is_empty()
    );
    let cy = claim(&subject.other_process, at(400), 10, "worker-2").await;
    assert_eq!(
        claimed(&cy),
        [("cy", "chef")],
        "what became due since is claimed, the held ones are not"
    );
}

async fn an_expired_lease_is_taken_over_and_the_follow_up_is_delivered_once(subject: Subject) {
    append_due(&subject.store, "ana", "chef", 100).await;
    let now = at(200);
    let [killed] = <[Claim; 1]>::try_from(claim(&subject.store, now, 10, "worker-1").await)
        .expect("one claim");
    // worker-1 dies before delivering; its lease runs out.
    let expired = now + Duration::seconds(LEASE);
    let pending = subject
        .other_process
        .pending_intents(expired)
        .await
        .unwrap();
    assert_eq!(claimed(&pending), [("ana", "chef")]);
    assert_eq!(pending[0].intent, killed.intent);
    let [taken] =
        <[Claim; 1]>::try_from(claim(&subject.other_process, expired, 10, "worker-2").await)
            .expect("the expired intent is taken over");
    assert!(taken.taken_over);
    assert_eq!(taken.intent, killed.intent, "the same intent, the same key");
    assert_eq!(taken.owner, "worker-2");
    assert_eq!(taken.lease_until, expired + Duration::seconds(LEASE));
    assert!(
        claim(
            &subject.store,
            expired + Duration::seconds(1),
            10,
            "worker-3"
        )
        .await
        .is_empty(),
        "a taken-over intent is held again"
    );
    let late = expired + Duration::seconds(10);
    assert!(
        !deliver(&subject.store, &killed, late, &|_| true).await,
        "the first worker, come back, no longer holds the intent"
    );
    assert!(deliver(&subject.other_process, &taken, late, &|_| true).await);
    assert!(!deliver(&subject.other_process, &taken, late, &|_| true).await);
    assert!(
        !deliver(&subject.store, &killed, late + Duration::hours(1), &|_| {
            true
        })
        .await
    );
    assert_eq!(followups_of(&subject.store, "ana", "chef").await, 1);
    let conversation = subject
        .store
        .conversation("ana", "chef")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conversation.pending_followup, None);
    assert!(
        subject
            .store
            .pending_intents(late + Duration::days(1))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn two_writers_delivering_the_same_intent_store_one_follow_up(subject: Subject) {
    append_due(&subject.store, "ana", "chef", 100).await;
    let now = at(200);
    let claims = claim(&subject.store, now, 10, "worker-1").await;
    let intent = claims[0].clone();
    let writers: Vec<_> = [subject.store.clone(), subject.other_process.clone()]
        .into_iter()
        .flat_map(|store| [store.clone(), store])
        .map(|store| {
            let intent = intent.clone();
            tokio::spawn(async move { deliver(&store, &intent, at(210), &|_| true).await })
        })
        .collect();
    let mut delivered = 0;
    for writer in writers {
        delivered += usize::from(writer.await.expect("the writer finishes"));
    }
    assert_eq!(delivered, 1, "one writer delivers, the others find it done");
    assert_eq!(followups_of(&subject.store, "ana", "chef").await, 1);
}

async fn stop_between_claim_and_delivery_cancels_the_follow_up(subject: Subject) {
    append_due(&subject.store, "ana", "chef", 100).await;
    let claims = claim(&subject.store, at(200), 10, "worker-1").await;
    let stopped = subject
        .other_process
        .update_conversation("ana", "chef", &|c| c.opted_out = true, &|_| None)
        .await
        .unwrap()
        .expect("the conversation exists");
    assert!(stopped.opted_out);
    let not_opted_out = |c: &Conversation| !c.opted_out;
    assert!(!deliver(&subject.store, &claims[0], at(210), &not_opted_out).await);
    assert_eq!(followups_of(&subject.store, "ana", "chef").await, 0);
    let conversation = subject
        .store
        .conversation("ana", "chef")
        .await
        .unwrap()
        .unwrap();
    assert!(conversation.opted_out);
    assert_eq!(
        conversation.pending_followup, None,
        "the intent is cancelled"
    );
    assert_eq!(conversation.due, None);
    assert!(
        subject
            .store
            .pending_intents(at(210) + Duration::days(1))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_crisis_hold_keeps_a_conversation_from_being_claimed(subject: Subject) {
    let store = subject.store;
    append_due(&store, "ana", "chef", 100).await;
    append_due(&store, "bob", "chef", 100).await;
    append_due(&store, "cy", "chef", 100).await;
    let hold = at(86_400);
    store.hold_user("ana", at(150), hold).await.unwrap();
    let ana = store.conversation("ana", "chef").await.unwrap().unwrap();
    assert_eq!(ana.hold_until, Some(hold));
    assert_eq!(
        ana.due,
        Some(DueWindow {
            from: hold,
            until: at(86_500)
        }),
        "the window starts when the hold ends"
    );
    assert_eq!(
        store.user("ana").await.unwrap().unwrap().hold_until,
        Some(hold)
    );
    // cy's hold is on the record only: the rule checked on the locked row
    // keeps it out.
    let window = DueWindow {
        from: at(100),
        until: at(86_500),
    };
    store
        .update_conversation("cy", "chef", &|c| c.hold_until = Some(hold), &|_| {
            Some(window)
        })
        .await
        .unwrap();
    let now = at(200);
    assert_eq!(
        who(&store.due(now, 10).await.unwrap()),
        [("bob", "chef"), ("cy", "chef")]
    );
    let not_on_hold = |c: &Conversation| c.hold_until.is_none_or(|until| until <= now);
    let claims = store
        .claim_due(now, 10, "worker-1", Duration::seconds(LEASE), &not_on_hold)
        .await
        .unwrap();
    assert_eq!(claimed(&claims), [("bob", "chef")]);
    let cy = store.conversation("cy", "chef").await.unwrap().unwrap();
    assert_eq!(
        (cy.pending_followup, cy.due),
        (None, Some(window)),
        "left as it was"
    );
}

async fn a_cancelled_intent_goes_back_to_the_due_window_it_is_given(subject: Subject) {
    append_due(&subject.store, "ana", "chef", 100).await;
    let claims = claim(&subject.store, at(200), 10, "worker-1").await;
    let window = DueWindow {
        from: at(1_000),
        until: at(2_000),
    };
    assert!(
        subject
            .other_process
            .cancel_intent(&claims[0], at(210), &|_| Some(window))
            .await
            .unwrap()
    );
    assert!(
        !subject
            .store
            .cancel_intent(&claims[0], at(210), &|_| None)
            .await
            .unwrap(),
        "cancelled once"
    );
    assert!(!deliver(&subject.store, &claims[0], at(220), &|_| true).await);
    let conversation = subject
        .store
        .conversation("ana", "chef")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (conversation.pending_followup, conversation.due),
        (None, Some(window))
    );
    assert_eq!(followups_of(&subject.store, "ana", "chef").await, 0);
}
