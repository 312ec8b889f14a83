//! Follow-up claims: a worker's hold on a due conversation while it writes
//! the follow-up, with a lease, so a worker killed mid-way leaves the
//! conversation to another one once the lease expires.
//!
//! A claim records the intent (see [`Store::record_intent`]) and names it
//! with an intent key; delivery ([`Store::deliver_claimed`]) stores the
//! follow-up only while the intent is still there under that key, and held
//! by the same owner or with its lease expired: a second writer holding the
//! same intent finds it gone, and stores nothing.
//!
//! On sled the lease is kept in the `pending` tree beside the intent
//! (`recorded ‖ lease until ‖ owner`). sled serves one process, whose
//! follow-up runs queue on the delivery lock ([`super::lock_deliveries`]),
//! so leases matter there only between runs of that process: an intent an
//! older build left (its entry holds only the instant) counts as expired.
//! The intent key is the conversation's id and the instant the intent was
//! recorded, which a takeover keeps. PostgreSQL keeps the same fields as
//! columns (see [`super::postgres`]), for workers in many processes.

use chrono::{DateTime, Duration, Utc};

use super::followups::Delivery;
use super::records::{Conversation, DueWindow};
use super::{Store, StoreError, decode, keys};

/// A follow-up intent a worker holds: the conversation to write to, and
/// what delivery checks that the intent is still this worker's.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// The conversation, as stored when it was claimed (its
    /// `pending_followup` set, out of the due window).
    pub conversation: Conversation,
    /// The intent's key: the same for every worker that takes the intent
    /// over, so at most one follow-up is stored for it.
    pub intent: String,
    /// The worker holding the intent.
    pub owner: String,
    /// Until when: past it, another worker may take the intent over (the
    /// earliest instant for a sled intent an older build left, held by
    /// nobody).
    pub lease_until: DateTime<Utc>,
    /// Whether this claim took over an intent whose lease had expired (a
    /// worker killed before delivering) rather than a due conversation.
    pub taken_over: bool,
}

/// A sled intent's entry in the `pending` tree, read back.
struct Lease {
    /// Until when it is held (`None`: an entry from an older build, held
    /// by nobody).
    until: Option<DateTime<Utc>>,
    /// Who holds it.
    owner: String,
}

impl Lease {
    /// The entry for an intent recorded at `recorded`, held by `owner`
    /// until `until`.
    fn encode(recorded: DateTime<Utc>, until: DateTime<Utc>, owner: &str) -> Vec<u8> {
        let mut value = keys::instant(recorded).to_vec();
        value.extend_from_slice(&until.timestamp_micros().to_be_bytes());
        value.extend_from_slice(owner.as_bytes());
        value
    }

    /// An entry read back; one holding only the instant is held by nobody.
    fn decode(value: &[u8]) -> Lease {
        let until = value
            .get(8..16)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(i64::from_be_bytes)
            .and_then(DateTime::from_timestamp_micros);
        let owner = value
            .get(16..)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        Lease { until, owner }
    }

    /// Whether nobody holds it at `now`.
    fn expired(&self, now: DateTime<Utc>) -> bool {
        self.until.is_none_or(|until| until <= now)
    }
}

/// The `pending` entry of an intent recorded at `recorded`, held by
/// `owner` until `until`, or by nobody when `until` is `None` (the form an
/// older build wrote): what a copy into sled writes.
pub(super) fn lease_entry(
    recorded: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
    owner: &str,
) -> Vec<u8> {
    match until {
        Some(until) => Lease::encode(recorded, until, owner),
        None => keys::instant(recorded).to_vec(),
    }
}

/// Who holds the intent of a `pending` entry, and until when (`None`:
/// nobody): what a copy out of sled reads.
pub(super) fn lease_holder(value: &[u8]) -> (String, Option<DateTime<Utc>>) {
    let lease = Lease::decode(value);
    (lease.owner, lease.until)
}

/// The intent key of a sled conversation's recorded intent.
fn intent_key(conversation: &Conversation) -> Option<String> {
    let recorded = conversation.pending_followup?;
    Some(format!(
        "{}-{}",
        conversation.id,
        recorded.timestamp_micros()
    ))
}

/// Whether the intent stored (`conversation`, its `pending` entry) is
/// still `claim`'s at `now`: the same intent, held by the same owner or by
/// nobody any more.
fn holds(claim: &Claim, now: DateTime<Utc>, conversation: &Conversation, lease: &[u8]) -> bool {
    let lease = Lease::decode(lease);
    intent_key(conversation).as_deref() == Some(claim.intent.as_str())
        && (lease.owner == claim.owner || lease.expired(now))
}

impl Store {
    /// Claims up to `limit` conversations for `owner` until `now + lease`:
    /// first intents whose lease expired (taken over, same key, without
    /// `still_due`: delivery checks the rules again), then conversations
    /// due by `now` for which `still_due` holds (each recorded as an intent
    /// and taken out of the due index, as [`Store::record_intent`] does).
    pub fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        owner: &str,
        lease: Duration,
        still_due: &(dyn Fn(&Conversation) -> bool + Sync),
    ) -> Result<Vec<Claim>, StoreError> {
        let until = now + lease;
        let mut claims = self.take_over_expired(now, limit, owner, until)?;
        for entry in self.due_entries(now)? {
            if claims.len() >= limit {
                break;
            }
            let (user, persona) = (&entry.conversation.user, &entry.conversation.persona);
            let value = Lease::encode(now, until, owner);
            if let Some(conversation) =
                self.record_intent_as(user, persona, now, &value, still_due)?
                && let Some(intent) = intent_key(&conversation)
            {
                claims.push(Claim {
                    conversation,
                    intent,
                    owner: owner.to_string(),
                    lease_until: until,
                    taken_over: false,
                });
            }
        }
        Ok(claims)
    }

    /// Takes over up to `limit` intents whose lease expired by `now`, each
    /// with a compare-and-swap of its entry, so two callers never both
    /// take one.
    fn take_over_expired(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<Vec<Claim>, StoreError> {
        let mut claims = Vec::new();
        for item in self.pending.iter() {
            if claims.len() >= limit {
                break;
            }
            let (conv_key, old) = item.map_err(|e| self.error(e))?;
            if !Lease::decode(&old).expired(now) {
                continue;
            }
            let Some(conversation) = self.conversation_at(&conv_key)? else {
                continue;
            };
            let (Some(recorded), Some(intent)) =
                (conversation.pending_followup, intent_key(&conversation))
            else {
                continue;
            };
            let new = Lease::encode(recorded, until, owner);
            let swapped = self
                .pending
                .compare_and_swap(&conv_key, Some(&old), Some(new))
                .map_err(|e| self.error(e))?;
            if swapped.is_ok() {
                claims.push(Claim {
                    conversation,
                    intent,
                    owner: owner.to_string(),
                    lease_until: until,
                    taken_over: true,
                });
            }
        }
        if !claims.is_empty() {
            self.flush()?;
        }
        Ok(claims)
    }

    /// Intents whose lease expired by `now`, to resume: what a killed
    /// worker left.
    pub fn pending_claims(&self, now: DateTime<Utc>) -> Result<Vec<Claim>, StoreError> {
        let mut expired = Vec::new();
        for item in self.pending.iter() {
            let (conv_key, value) = item.map_err(|e| self.error(e))?;
            let lease = Lease::decode(&value);
            if !lease.expired(now) {
                continue;
            }
            if let Some(conversation) = self.conversation_at(&conv_key)?
                && let Some(intent) = intent_key(&conversation)
            {
                expired.push(Claim {
                    conversation,
                    intent,
                    lease_until: lease.until.unwrap_or(DateTime::<Utc>::MIN_UTC),
                    owner: lease.owner,
                    taken_over: false,
                });
            }
        }
        Ok(expired)
    }

    /// Delivers the follow-up of `claim` (see [`Store::deliver_followup`])
    /// if the intent is still the claim's at `now`: the same key, held by
    /// the same owner or by nobody any more. Returns whether it was
    /// delivered.
    pub fn deliver_claimed(
        &self,
        claim: &Claim,
        now: DateTime<Utc>,
        delivery: &Delivery<'_>,
    ) -> Result<bool, StoreError> {
        let held = |conversation: &Conversation, lease: Option<&[u8]>| {
            lease.is_some_and(|lease| holds(claim, now, conversation, lease))
        };
        let (user, persona) = (&claim.conversation.user, &claim.conversation.persona);
        self.deliver_if_held(user, persona, &held, delivery)
    }

    /// Drops the intent of `claim` without delivering, rescheduling the
    /// conversation with `schedule`, if it is still that intent; returns
    /// whether it was. The check and the cancel are two steps: sled serves
    /// one process, whose follow-up runs queue on the delivery lock.
    pub fn cancel_claim(
        &self,
        claim: &Claim,
        schedule: &(dyn Fn(&Conversation) -> Option<DueWindow> + Sync),
    ) -> Result<bool, StoreError> {
        let (user, persona) = (&claim.conversation.user, &claim.conversation.persona);
        let current = self.conversation(user, persona)?;
        if current.as_ref().and_then(intent_key).as_deref() != Some(claim.intent.as_str()) {
            return Ok(false);
        }
        self.cancel_intent(user, persona, schedule)?;
        Ok(true)
    }

    /// The conversation stored under `conv_key`, if any.
    fn conversation_at(&self, conv_key: &[u8]) -> Result<Option<Conversation>, StoreError> {
        self.conversations
            .get(conv_key)
            .map_err(|e| self.error(e))?
            .map(|bytes| decode(&bytes).map_err(|d| self.corrupt(&d)))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_reads_back_with_its_owner_and_an_old_entry_is_held_by_nobody() {
        let recorded = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let until = recorded + Duration::minutes(5);
        let lease = Lease::decode(&Lease::encode(recorded, until, "worker-1"));
        assert_eq!(lease.until, Some(until));
        assert_eq!(lease.owner, "worker-1");
        assert!(!lease.expired(recorded));
        assert!(lease.expired(until));
        let old = Lease::decode(&keys::instant(recorded));
        assert!(old.expired(recorded) && old.owner.is_empty());
    }

    #[test]
    fn an_intent_recorded_without_a_lease_is_taken_over_at_once_and_delivered_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let hello = crate::store::Message::from_user("risotto?", now);
        store
            .append("ana", "chef", &hello, &crate::store::AppendEffects::NONE)
            .unwrap();
        store
            .record_intent("ana", "chef", now, &|_| true)
            .unwrap()
            .expect("an intent");
        let claims = store
            .claim_due(now, 10, "worker-1", Duration::minutes(5), &|_| true)
            .unwrap();
        assert_eq!(claims.len(), 1);
        assert!(claims[0].taken_over);
        let message = crate::store::Message {
            kind: crate::store::MessageKind::FollowUp,
            ..crate::store::Message::reply("how did it go?", now, "m")
        };
        let delivery = Delivery {
            message: &message,
            still_valid: &|_| true,
            schedule: &|_| None,
            outbox: &[],
        };
        assert!(store.deliver_claimed(&claims[0], now, &delivery).unwrap());
        assert!(!store.deliver_claimed(&claims[0], now, &delivery).unwrap());
        let conversation = store.conversation("ana", "chef").unwrap().unwrap();
        assert_eq!(conversation.followups_sent, 1);
    }
}
