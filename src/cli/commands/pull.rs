//! `kodiak pull`: fetch a bundle and merge its counterpart of the current branch.

use std::io::Write;
use std::path::PathBuf;

use kodiak::merge::ops::MergeOutcome;
use kodiak::pack;

use crate::cli::commands::fetch::{bundle_path, print_updates};
use crate::cli::commands::merge::{head_label, report};
use crate::cli::error::CliResult;
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak pull`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bundle file (default: the bundle the remote was cloned from, remote.NAME.url)
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Remote name: branches land under refs/remotes/NAME/
    #[arg(long, value_name = "NAME", default_value = "origin")]
    pub name: String,
}

/// Runs `kodiak pull`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Write)?;
    let path = bundle_path(ctx, &repo, args.file, &args.name)?;
    let p = pack::pull(&repo, &path, &args.name)?;
    print_updates(out, &path, &p.fetch)?;
    if let (MergeOutcome::FastForward(new), Some(old)) = (&p.outcome, p.old) {
        writeln!(out, "Updating {}..{}", old.short(), new.short())?;
    }
    let label = head_label(&repo)?;
    let result = report(out, &repo, &p.outcome, &label, "pull");
    repo.close()?;
    result
}
