//! `kodiak switch`: move HEAD to another branch, bringing uncommitted changes along.

use std::io::Write;

use kodiak::history::ops;

use crate::cli::error::{CliError, CliResult};
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak switch`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Create a new branch with this name and switch to it
    #[arg(short = 'c', long = "create", value_name = "NEW")]
    pub create: Option<String>,

    /// Detach HEAD at the given revision instead of switching to a branch
    #[arg(long, conflicts_with = "create")]
    pub detach: bool,

    /// The branch to switch to, or with -c the start revision (default HEAD)
    #[arg(value_name = "BRANCH")]
    pub target: Option<String>,
}

/// Runs `kodiak switch`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Write)?;
    match (&args.create, &args.target) {
        (None, Some(rev)) if args.detach => {
            let c = ops::switch_detached(&repo, rev)?;
            writeln!(out, "HEAD is now at {} (detached)", c.short())?;
        }
        (None, None) if args.detach => {
            return Err(CliError::usage("--detach needs a revision"));
        }
        (Some(new), start) => {
            ops::switch_new_branch(&repo, new, start.as_deref())?;
            writeln!(out, "Switched to a new branch '{new}'")?;
        }
        (None, Some(b)) => {
            let st = kodiak::history::WorkState::load(&repo)?;
            if st
                .head_ref
                .as_ref()
                .is_some_and(|r| r.is_branch() && r.short() == b)
            {
                writeln!(out, "Already on '{b}'")?;
            } else {
                ops::switch_branch(&repo, b)?;
                writeln!(out, "Switched to branch '{b}'")?;
            }
        }
        (None, None) => return Err(CliError::usage("missing branch to switch to")),
    }
    let st = kodiak::history::WorkState::load(&repo)?;
    if st.is_dirty() {
        let head = st.head(repo.store())?;
        let work = st.working(repo.store())?;
        for (name, c) in kodiak::history::diff_roots(&head, &work) {
            writeln!(out, "{}\t{name}", c.label())?;
        }
    }
    repo.close()?;
    Ok(())
}
