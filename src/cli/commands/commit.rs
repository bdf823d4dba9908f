//! `kodiak commit`: record the staged database as a new commit.

use std::io::Write;

use kodiak::history::ops::{self, CommitOptions};

use crate::cli::error::{CliError, CliResult};
use crate::cli::history::change_line;
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak commit`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The commit message (required, except to conclude a merge, revert or cherry-pick,
    /// whose prepared message is the default)
    #[arg(short, long, value_name = "MESSAGE")]
    pub message: Option<String>,

    /// Commit every change in the working state, staged or not
    #[arg(short, long)]
    pub all: bool,

    /// Replace the current commit (same parents and change id) instead of adding one
    #[arg(long)]
    pub amend: bool,

    /// Author, as "Name <email>" (default: the committer)
    #[arg(long, value_name = "AUTHOR")]
    pub author: Option<String>,

    /// Record a commit even if nothing changed
    #[arg(long)]
    pub allow_empty: bool,
}

/// Runs `kodiak commit`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Write)?;
    let author = match &args.author {
        Some(a) => Some(ops::parse_author(a, &repo.signature()?)?),
        None => None,
    };
    let message = match &args.message {
        Some(m) => m.clone(),
        None => match kodiak::history::WorkState::load(&repo)?.record.merge {
            Some(m) => m.message,
            None => {
                return Err(CliError::usage("a commit message is required")
                    .with_hint("give one with -m MESSAGE"));
            }
        },
    };
    let outcome = ops::commit(
        &repo,
        &CommitOptions {
            message,
            all: args.all,
            amend: args.amend,
            author,
            allow_empty: args.allow_empty,
        },
    )?;
    let root = if outcome.root_commit {
        " (root-commit)"
    } else {
        ""
    };
    writeln!(
        out,
        "[{}{root} {}] {}",
        outcome.label,
        outcome.id.short(),
        ops::subject(&outcome.commit.message)
    )?;
    let n = outcome.changes.len();
    writeln!(out, " {n} table{} changed", if n == 1 { "" } else { "s" })?;
    for (name, c) in &outcome.changes {
        writeln!(out, " {}", change_line(&repo, name, c, false)?)?;
    }
    repo.close()?;
    Ok(())
}
