//! `kodiak revert`: commit the inverse of one commit.

use std::io::Write;

use kodiak::merge::ops;

use super::merge::{Strategy, head_label, report};
use crate::cli::error::CliResult;
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak revert`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The commit to revert
    #[arg(value_name = "REV")]
    pub rev: String,

    /// Decide conflicting cells and rows for one side instead of stopping
    #[arg(long, value_enum, value_name = "SIDE")]
    pub strategy: Option<Strategy>,
}

/// Runs `kodiak revert`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Write)?;
    let label = head_label(&repo)?;
    let outcome = ops::revert(&repo, &args.rev, Strategy::favor(args.strategy))?;
    let result = report(out, &repo, &outcome, &label, "revert");
    repo.close()?;
    result
}
