//! `kodiak commit`: record the staged database as a new commit.

use std::io::Write;

use kodiak::history::ops::{self, CommitOptions};

use crate::cli::error::CliResult;
use crate::cli::history::change_line;
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak commit`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The commit message
    #[arg(short, long, value_name = "MESSAGE", required = true)]
    pub message: String,

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
    let outcome = ops::commit(
        &repo,
        &CommitOptions {
            message: args.message.clone(),
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
