//! `kodiak rollback`: a new commit whose database equals that of an earlier revision.

use std::io::Write;

use kodiak::history::ops;

use crate::cli::error::CliResult;
use crate::cli::history::change_line;
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak rollback`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The revision whose database to restore
    #[arg(value_name = "REV")]
    pub rev: String,

    /// The commit message (default "Rollback to REV (ID)")
    #[arg(short, long, value_name = "MESSAGE")]
    pub message: Option<String>,
}

/// Runs `kodiak rollback`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Write)?;
    let o = ops::rollback(&repo, &args.rev, args.message.as_deref())?;
    writeln!(
        out,
        "[{} {}] {}",
        o.label,
        o.id.short(),
        ops::subject(&o.commit.message)
    )?;
    for (name, c) in &o.changes {
        writeln!(out, " {}", change_line(&repo, name, c, true)?)?;
    }
    repo.close()?;
    Ok(())
}
