//! `troupe history`: print a stored conversation (from the files, or from
//! the server holding the data dir).

use clap::Args;

use super::print_json;
use crate::app::App;
use crate::chat::view::HistoryPage;
use crate::console::history_line;
use crate::error::Error;

/// Arguments of `troupe history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The user whose conversation to print.
    #[arg(long, value_name = "ID")]
    pub user: String,
    /// The persona they talked to.
    #[arg(long, value_name = "ID")]
    pub persona: String,
    /// Print {"messages":[{"seq","role","kind","text","at",…}],"before":null}, as GET /v1/conversations/USER/PERSONA/messages.
    #[arg(long)]
    pub json: bool,
}

/// Runs `troupe history`.
pub async fn run(app: &App, mut args: HistoryArgs) -> Result<i32, Error> {
    let reach = super::reach(app).await?;
    args.user = reach.user_id(&args.user).await?;
    let persona = reach.persona(&args.persona).await?;
    let messages = reach.history(&args.user, &persona).await?;
    if args.json {
        // The whole conversation is one page: nothing comes before it.
        print_json(&HistoryPage {
            messages,
            before: None,
        })?;
    } else if messages.is_empty() {
        outln!(
            "{} has no conversation with {} yet.",
            args.user,
            persona.name
        );
    } else {
        for message in &messages {
            outln!("{}", history_line(&message.message, &persona.name));
        }
    }
    Ok(0)
}
