//! `kodiak reset`: unstage tables, or move HEAD to another commit.

use std::io::Write;

use kodiak::history::{ResetMode, WorkState, ops, resolve_commit};

use crate::cli::error::{CliError, CliResult};
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak reset`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Move HEAD only; keep staged and working changes
    #[arg(long, group = "mode")]
    pub soft: bool,

    /// Move HEAD and unstage everything; keep working changes (the default)
    #[arg(long, group = "mode")]
    pub mixed: bool,

    /// Move HEAD and discard staged and working changes
    #[arg(long, group = "mode")]
    pub hard: bool,

    /// A revision to move to, or tables to unstage
    #[arg(value_name = "REV|TABLE")]
    pub targets: Vec<String>,
}

/// Runs `kodiak reset`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Write)?;
    let mode = if args.soft {
        ResetMode::Soft
    } else if args.hard {
        ResetMode::Hard
    } else {
        ResetMode::Mixed
    };
    let st = WorkState::load(&repo)?;
    let is_table = |t: &str| -> CliResult<bool> {
        Ok(st.head(repo.store())?.tables.contains_key(t)
            || st.staged(repo.store())?.tables.contains_key(t)
            || st.working(repo.store())?.tables.contains_key(t))
    };
    let rev = match args.targets.as_slice() {
        [] => Some("HEAD".to_string()),
        [one] if args.soft || args.hard || args.mixed => Some(one.clone()),
        [one] if !is_table(one)? => Some(one.clone()),
        _ if args.soft || args.hard => {
            return Err(CliError::usage(
                "--soft and --hard take one revision, not tables",
            ));
        }
        _ => None,
    };
    match rev {
        Some(rev) => {
            if rev == "HEAD" && st.head_commit.is_none() {
                // Nothing committed yet: reset means "unstage everything" / "discard all".
                let (staged, working) = match mode {
                    ResetMode::Soft => (st.staged_root, st.working_root),
                    ResetMode::Mixed => (st.head_root, st.working_root),
                    ResetMode::Hard => (st.head_root, st.head_root),
                };
                st.set_roots(&repo, staged, working, "reset: unborn HEAD")?;
            } else {
                resolve_commit(&repo, &rev)?;
                let id = ops::reset(&repo, &rev, mode)?;
                if mode == ResetMode::Hard {
                    let c: kodiak::object::Commit = repo.store().get(&id)?;
                    writeln!(
                        out,
                        "HEAD is now at {} {}",
                        id.short(),
                        ops::subject(&c.message)
                    )?;
                }
            }
        }
        None => ops::unstage(&repo, &args.targets)?,
    }
    repo.close()?;
    Ok(())
}
