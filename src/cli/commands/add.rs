//! `kodiak add`: stage tables for the next commit.

use std::io::Write;

use kodiak::history::ops;

use crate::cli::error::{CliError, CliResult};
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak add`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Tables to stage
    #[arg(value_name = "TABLE")]
    pub tables: Vec<String>,

    /// Stage every change (new, modified and deleted tables)
    #[arg(short = 'A', long = "all", conflicts_with = "tables")]
    pub all: bool,
}

/// Runs `kodiak add`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    if !args.all && args.tables.is_empty() {
        return Err(CliError::usage("nothing specified, nothing added")
            .with_hint("name tables to stage, or use 'kodiak add -A' to stage everything"));
    }
    let repo = ctx.open_repo(Access::Write)?;
    if args.all {
        ops::stage_all(&repo)?;
    } else {
        ops::stage(&repo, &args.tables)?;
    }
    repo.close()?;
    out.flush()?;
    Ok(())
}
