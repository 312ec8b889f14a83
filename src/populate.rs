//! Synthetic but realistic conversations, for demos and benchmarks
//! (`troupe dev populate`).
//!
//! Users, in time zones around the world, talk to every persona about
//! topics that fit it, at times spread around the clock's now. About `due_percent` of the conversations are due
//! for a follow-up now; the others are not, for the reasons real ones are
//! not: too few messages, a user who wrote recently, an unanswered follow-up,
//! a conversation that went cold weeks ago, or a user who said STOP.

use std::sync::Arc;

use chrono::{DateTime, Duration, Timelike, Utc};
use chrono_tz::Tz;

use crate::followup::policy::{FollowUpPolicy, in_quiet_hours};
use crate::followup::topics;
use crate::persona::{Persona, Personas};
use crate::progress::{Progress, steps};
use crate::store::postgres::PgStore;
use crate::store::{
    Conversation, Message, MessageKind, Role, Store, StoreError, SyntheticConversation, User,
};

/// Conversations loaded per batch (one flush each on sled, one
/// transaction on PostgreSQL).
const BATCH: usize = 5_000;

/// What to build.
#[derive(Debug, Clone, Copy)]
pub struct PopulateOptions {
    /// How many conversations.
    pub conversations: usize,
    /// Roughly this percentage of them is due now.
    pub due_percent: f64,
    /// Store the messages and topics too (off: conversation records and the
    /// due index only, for large benchmark stores).
    pub with_messages: bool,
    /// Seed of the generator, so runs are reproducible.
    pub seed: u64,
}

/// What was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PopulateReport {
    /// Conversations written.
    pub conversations: usize,
    /// Of which built to be due now.
    pub due: usize,
    /// Messages written.
    pub messages: usize,
}

/// A small deterministic generator (SplitMix64): no dependency, same store
/// for the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: f64) -> bool {
        (self.next() % 1_000_000) as f64 / 10_000.0 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Time zones synthetic users live in.
const ZONES: &[&str] = &[
    "UTC",
    "Europe/Paris",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Africa/Lagos",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
];

fn pick_shape(rng: &mut Rng, due_percent: f64) -> Shape {
    if rng.chance(due_percent) {
        Shape::Due
    } else {
        *rng.pick(&[
            Shape::TooFewMessages,
            Shape::RecentlyActive,
            Shape::Unanswered,
            Shape::Cold,
            Shape::OptedOut,
        ])
    }
}

/// Why a generated conversation is not due.
#[derive(Clone, Copy)]
enum Shape {
    Due,
    TooFewMessages,
    RecentlyActive,
    Unanswered,
    Cold,
    OptedOut,
}

/// Fills `store` with synthetic conversations around `now`.
pub fn populate(
    store: &Store,
    personas: &Personas,
    policy: &FollowUpPolicy,
    now: DateTime<Utc>,
    options: PopulateOptions,
    progress: &mut dyn Progress,
) -> Result<PopulateReport, StoreError> {
    if personas.iter().next().is_none() {
        return Ok(PopulateReport::default());
    }
    // The index of an empty store, or of one built under this policy, is
    // current once these are loaded; any other is recomputed by the next
    // due query.
    let fingerprint = policy.index_fingerprint(personas);
    let index_current = store.user_count()? == 0
        || store.due_index_policy()?.as_deref() == Some(fingerprint.as_str());
    // New users are numbered after the existing ones, so populating twice adds.
    let mut generator = Generator::new(personas, policy, now, options, store.user_count()?);
    progress.begin("creating conversations", Some(steps(options.conversations)));
    while let Some(batch) = generator.next_batch() {
        load(store, personas, policy, now, batch)?;
        progress.advance(steps(generator.report.conversations));
    }
    if index_current {
        store.set_due_index_policy(&fingerprint)?;
    }
    progress.advance(steps(options.conversations));
    Ok(generator.report)
}

/// Fills the PostgreSQL store `store` with the same synthetic
/// conversations [`populate`] writes to sled, a batch at a time, each
/// batch one transaction of `COPY`s.
pub async fn populate_postgres(
    store: &PgStore,
    personas: &Personas,
    policy: &FollowUpPolicy,
    now: DateTime<Utc>,
    options: PopulateOptions,
    progress: &mut dyn Progress,
) -> Result<PopulateReport, StoreError> {
    if personas.iter().next().is_none() {
        return Ok(PopulateReport::default());
    }
    let first_user = store.user_count().await?;
    let mut generator = Generator::new(personas, policy, now, options, first_user);
    progress.begin("creating conversations", Some(steps(options.conversations)));
    let schedule = |c: &Conversation| schedule(personas, policy, now, c);
    while let Some(batch) = generator.next_batch() {
        store.load_synthetic(batch, &schedule).await?;
        progress.advance(steps(generator.report.conversations));
    }
    progress.advance(steps(options.conversations));
    Ok(generator.report)
}

/// Builds the synthetic conversations a batch at a time: one user per
/// group of conversations (one with each persona), so a user never
/// straddles two batches.
struct Generator {
    /// The personas, in the order each user talks to them.
    personas: Vec<Arc<Persona>>,
    /// The generator.
    rng: Rng,
    /// Every time zone users live in.
    zones: Vec<Tz>,
    /// Those outside quiet hours now: due users live there.
    awake: Vec<Tz>,
    /// The instant conversations are built around.
    now: DateTime<Utc>,
    /// What to build.
    options: PopulateOptions,
    /// The number of the first user this run creates.
    first_user: usize,
    /// Users created so far.
    users: usize,
    /// What has been built so far.
    report: PopulateReport,
}

impl Generator {
    fn new(
        personas: &Personas,
        policy: &FollowUpPolicy,
        now: DateTime<Utc>,
        options: PopulateOptions,
        first_user: usize,
    ) -> Self {
        let zones: Vec<Tz> = ZONES.iter().filter_map(|z| z.parse().ok()).collect();
        let awake = zones
            .iter()
            .copied()
            .filter(|tz| {
                !in_quiet_hours(
                    now.with_timezone(tz).hour(),
                    (policy.quiet_hours_start, policy.quiet_hours_end),
                )
            })
            .collect();
        Self {
            personas: personas.iter().cloned().collect(),
            rng: Rng(options.seed),
            zones,
            awake,
            now,
            options,
            first_user,
            users: 0,
            report: PopulateReport::default(),
        }
    }

    /// The next [`BATCH`] conversations or so; `None` once all are built.
    fn next_batch(&mut self) -> Option<Vec<SyntheticConversation>> {
        let wanted = self.options.conversations;
        if self.report.conversations >= wanted || self.personas.is_empty() {
            return None;
        }
        let mut batch = Vec::with_capacity(BATCH + self.personas.len());
        while self.report.conversations < wanted && batch.len() < BATCH {
            self.add_user(&mut batch);
        }
        Some(batch)
    }

    /// One user and their conversations with the first personas (all of
    /// them, but for the last user of a run).
    fn add_user(&mut self, batch: &mut Vec<SyntheticConversation>) {
        let rng = &mut self.rng;
        let group = self
            .personas
            .len()
            .min(self.options.conversations - self.report.conversations);
        let shapes: Vec<Shape> = (0..group)
            .map(|_| pick_shape(rng, self.options.due_percent))
            .collect();
        let any_due = shapes.iter().any(|s| matches!(s, Shape::Due));
        let pool = if any_due && !self.awake.is_empty() {
            &self.awake
        } else {
            &self.zones
        };
        let timezone = pool
            .get(rng.below(pool.len() as u64) as usize)
            .map(|tz| tz.name().to_string());
        let user = format!("user{:07}", self.first_user + self.users);
        for (persona, shape) in self.personas.iter().zip(shapes) {
            let with_messages = self.options.with_messages;
            let mut item = conversation(rng, &user, persona, shape, self.now, with_messages);
            item.user.timezone = timezone.clone();
            self.report.conversations += 1;
            self.report.due += usize::from(matches!(shape, Shape::Due));
            self.report.messages += item.messages.len();
            batch.push(item);
        }
        self.users += 1;
    }
}

/// The due window a synthetic conversation gets, as the policy places it.
fn schedule(
    personas: &Personas,
    policy: &FollowUpPolicy,
    now: DateTime<Utc>,
    c: &Conversation,
) -> Option<crate::store::DueWindow> {
    let persona = personas.get(&c.persona).ok()?;
    policy
        .for_persona(&persona)
        .due_window(c)
        .filter(|w| w.until >= now)
}

fn load(
    store: &Store,
    personas: &Personas,
    policy: &FollowUpPolicy,
    now: DateTime<Utc>,
    batch: Vec<SyntheticConversation>,
) -> Result<(), StoreError> {
    store.load_synthetic(batch, &|c: &Conversation| {
        schedule(personas, policy, now, c)
    })
}

/// Topics that fit each shipped persona, and generic ones for others.
fn subjects(persona: &Persona) -> &'static [&'static str] {
    match persona.id.as_str() {
        "chef" => &[
            "saffron risotto",
            "sourdough bread",
            "weeknight pasta",
            "tarte tatin",
            "leftover rice",
            "paella",
            "mushroom ramen",
            "lasagna",
        ],
        "decor" => &[
            "salon lumineux",
            "vert sauge",
            "petite cuisine",
            "mobilier de seconde main",
            "éclairage de la chambre",
            "plantes d'intérieur",
        ],
        "creator" => &[
            "night trains",
            "hut-to-hut hike",
            "packing list",
            "budget trip to Portugal",
            "filming on a phone",
            "camping gear",
        ],
        _ => &["your project", "the next step", "a new idea"],
    }
}

fn user_line(rng: &mut Rng, persona: &Persona, subject: &str) -> String {
    let french: &[&str] = &[
        "Je voudrais refaire mon {}",
        "Des idées pour {} ?",
        "J'hésite encore pour {}",
        "Merci pour {} !",
    ];
    let english: &[&str] = &[
        "I'd love to try {} this week",
        "Any tips for {}?",
        "How do I get {} right?",
        "Thanks, {} sounds great!",
    ];
    let templates = if persona.language.starts_with("fr") {
        french
    } else {
        english
    };
    rng.pick(templates).replace("{}", subject)
}

/// One synthetic conversation of the given shape.
fn conversation(
    rng: &mut Rng,
    user: &str,
    persona: &Persona,
    shape: Shape,
    now: DateTime<Utc>,
    with_messages: bool,
) -> SyntheticConversation {
    let hours = |h: u64| Duration::hours(h as i64);
    let (user_messages, last_ago) = match shape {
        Shape::Due | Shape::Unanswered | Shape::OptedOut => {
            (5 + rng.below(5), hours(26 + rng.below(24 * 4)))
        }
        Shape::TooFewMessages => (1 + rng.below(4), hours(30 + rng.below(24 * 5))),
        Shape::RecentlyActive => (
            5 + rng.below(8),
            Duration::minutes(5 + rng.below(60 * 20) as i64),
        ),
        Shape::Cold => (5 + rng.below(5), hours(24 * 20 + rng.below(24 * 40))),
    };
    let subject = *rng.pick(subjects(persona));
    let last = now - last_ago;
    let mut messages = Vec::new();
    for n in (0..user_messages).rev() {
        let at = last - Duration::minutes((n * (3 + rng.below(9))) as i64);
        messages.push(Message::from_user(user_line(rng, persona, subject), at));
        let reply = format!(
            "{}: {}",
            persona.name,
            persona.expertise.first().map_or(subject, String::as_str)
        );
        messages.push(Message::reply(
            reply,
            at + Duration::seconds(20),
            "synthetic",
        ));
    }
    if matches!(shape, Shape::Unanswered) {
        let mut followup = Message::reply(
            format!("How did {subject} go?"),
            last + hours(25),
            "synthetic",
        );
        followup.kind = MessageKind::FollowUp;
        messages.push(followup);
    }
    let mut conversation = Conversation::new(0, user, &persona.id, &messages[0]);
    let mut topic_list = Vec::new();
    for message in &messages {
        conversation.record(message);
        if with_messages && message.role == Role::User {
            topics::fold(
                &mut topic_list,
                &topics::extract(&message.text, &persona.expertise),
                false,
                message.at,
            );
        }
    }
    conversation.opted_out = matches!(shape, Shape::OptedOut);
    conversation.followup_unseen = false;
    SyntheticConversation {
        user: User::new(user, conversation.started_at),
        conversation,
        messages: if with_messages { messages } else { Vec::new() },
        topics: topic_list,
    }
}
