//! `kodiak cherry-pick`: apply the changes of one commit as a new commit.

use std::io::Write;

use kodiak::merge::ops;

use super::merge::{Strategy, head_label, report};
use crate::cli::error::CliResult;
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak cherry-pick`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The commit to apply
    #[arg(value_name = "REV")]
    pub rev: String,

    /// Decide conflicting cells and rows for one side instead of stopping
    #[arg(long, value_enum, value_name = "SIDE")]
    pub strategy: Option<Strategy>,
}

/// Runs `kodiak cherry-pick`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Write)?;
    let label = head_label(&repo)?;
    let outcome = ops::cherry_pick(&repo, &args.rev, Strategy::favor(args.strategy))?;
    let result = report(out, &repo, &outcome, &label, "cherry-pick");
    repo.close()?;
    result
}
