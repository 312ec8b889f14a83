//! `troupe topics`: what a user talked about with a persona.

use clap::Args;

use super::print_json;
use crate::app::App;
use crate::error::Error;

/// Arguments of `troupe topics`.
#[derive(Debug, Args)]
pub struct TopicsArgs {
    /// The user.
    #[arg(long, value_name = "ID")]
    pub user: String,
    /// The persona.
    #[arg(long, value_name = "ID")]
    pub persona: String,
    /// Print [{"phrase","score","mentions","last_mentioned","sensitive"}].
    #[arg(long)]
    pub json: bool,
}

/// Runs `troupe topics`.
pub async fn run(app: &App, mut args: TopicsArgs) -> Result<i32, Error> {
    let reach = super::reach(app).await?;
    args.user = reach.user_id(&args.user).await?;
    let persona = reach.persona(&args.persona).await?;
    let list = reach.topics(&args.user, &persona).await?;
    if args.json {
        return print_json(&list).map(|_| 0);
    }
    if list.is_empty() {
        outln!("No topics yet for {} with {}.", args.user, persona.name);
    }
    for topic in &list {
        let flag = if topic.sensitive {
            "  (sensitive: never a follow-up hook)"
        } else {
            ""
        };
        outln!(
            "{:>7.2}  {:<32} ×{}{flag}",
            topic.score,
            topic.phrase,
            topic.mentions
        );
    }
    Ok(0)
}
