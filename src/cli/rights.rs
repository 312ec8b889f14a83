//! `troupe export` and `troupe erase`: a user's data, all of it, out or
//! gone; from the files, or through the server holding the data dir.

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;

use super::print_json;
use super::progress::Bar;
use super::user::no_user;
use crate::app::App;
use crate::error::Error;
use crate::report::Erased;

/// Arguments of `troupe export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The user whose data to export.
    #[arg(long, value_name = "ID")]
    pub user: String,
    /// Print JSON: the export is JSON either way (the flag is accepted so
    /// that every read command takes it).
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `troupe erase`.
#[derive(Debug, Args)]
pub struct EraseArgs {
    /// The user whose data to erase.
    #[arg(long, value_name = "ID")]
    pub user: String,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Show no progress bar while the store is rewritten.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print {"user","conversations","messages","preserved_copies_removed"}, as DELETE /v1/users/ID.
    #[arg(long)]
    pub json: bool,
}

/// Runs `troupe export`.
pub async fn export(app: &App, mut args: ExportArgs) -> Result<i32, Error> {
    let reach = super::reach(app).await?;
    args.user = reach.user_id(&args.user).await?;
    let export = reach
        .export(&args.user)
        .await?
        .ok_or_else(|| no_user(app, &args.user))?;
    print_json(&export)?;
    Ok(0)
}

/// Runs `troupe erase`. The confirmation is asked here, on the terminal,
/// whether the erasure then runs here or in the server; nothing holds the
/// data dir while the question waits for an answer.
pub async fn erase(app: &App, mut args: EraseArgs) -> Result<i32, Error> {
    let reach = super::reach(app).await?;
    let typed = args.user.clone();
    args.user = reach.user_id(&args.user).await?;
    // Earlier releases named the file as the id was typed.
    let legacy = [&args.user, &typed]
        .map(|user| crate::console::legacy_history_file(&app.data_dir, user))
        .into_iter()
        .find(|file| file.exists())
        .unwrap_or_else(|| crate::console::legacy_history_file(&app.data_dir, &args.user));
    let Some(view) = reach.user(&args.user).await? else {
        if legacy.exists() {
            remove(&legacy)?;
            if args.json {
                print_json(&Erased {
                    user: args.user,
                    conversations: 0,
                    messages: 0,
                    preserved_copies_removed: 0,
                })?;
            } else {
                outln!("erased {}: their old console line history", args.user);
            }
            return Ok(0);
        }
        return Err(no_user(app, &args.user));
    };
    if !args.yes && !confirm(&args.user, view.conversations.len())? {
        errln!("troupe: nothing was erased");
        return Ok(1);
    }
    let mut bar = Bar::new(args.quiet);
    let erased = reach.erase(&args.user, &mut bar).await;
    bar.finish();
    let erased = erased?.ok_or_else(|| no_user(app, &args.user))?;
    if legacy.exists() {
        remove(&legacy)?;
    }
    if args.json {
        print_json(&Erased::new(args.user, &erased))?;
        return Ok(0);
    }
    outln!(
        "erased {}: {} conversation(s), {} message(s); the store was rewritten without them{}",
        args.user,
        erased.conversations,
        erased.messages,
        copies_removed(erased.preserved_copies_removed, "erased")
    );
    Ok(0)
}

/// What an erasure or a purge says about the copies of the store kept after
/// a crash or damage that it removed (`removed` of them; nothing when
/// none), which held the `what` ("erased", "purged") text.
pub(super) fn copies_removed(removed: usize, what: &str) -> String {
    match removed {
        0 => String::new(),
        1 => format!(
            "; also removed 1 copy kept after a crash or damage, which still held the {what} text"
        ),
        n => format!(
            "; also removed {n} copies kept after a crash or damage, which still held the {what} text"
        ),
    }
}

/// Removes a file, saying which on failure.
fn remove(path: &std::path::Path) -> Result<(), Error> {
    std::fs::remove_file(path)
        .map_err(|e| Error::Terminal(format!("could not remove {}: {e}", path.display())))
}

/// Asks on the terminal; without one, refuses unless `--yes` was given.
fn confirm(user: &str, conversations: usize) -> Result<bool, Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "erasing {user} cannot be undone; run it on a terminal to confirm, or pass --yes"
        )));
    }
    let mut err = std::io::stderr();
    let _ = write!(
        err,
        "Erase everything about {user} ({conversations} conversation(s))? This cannot be undone. Type the user id to confirm: "
    );
    let _ = err.flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::Terminal(e.to_string()))?;
    Ok(answer.trim() == user)
}
