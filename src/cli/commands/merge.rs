//! `kodiak merge`: three-way merge of another revision into HEAD, and `merge --abort`.

use std::collections::BTreeMap;
use std::io::Write;

use kodiak::merge::Favor;
use kodiak::merge::ops::{self, FastForward, MergeOptions, MergeOutcome};

use crate::cli::error::{CliError, CliResult};
use crate::cli::{Access, Ctx};

/// Which side wins conflicts.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Our version of each conflicting cell or row.
    Ours,
    /// Their version of each conflicting cell or row.
    Theirs,
}

impl Strategy {
    /// The library's conflict policy.
    pub fn favor(s: Option<Strategy>) -> Favor {
        match s {
            None => Favor::None,
            Some(Strategy::Ours) => Favor::Ours,
            Some(Strategy::Theirs) => Favor::Theirs,
        }
    }
}

/// Arguments of `kodiak merge`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The revision to merge (branch, tag, commit id, …)
    #[arg(value_name = "REV", required_unless_present = "abort")]
    pub rev: Option<String>,

    /// Always make a merge commit, even when a fast-forward is possible
    #[arg(long, conflicts_with_all = ["ff_only", "squash"])]
    pub no_ff: bool,

    /// Only fast-forward; fail if HEAD and REV have diverged
    #[arg(long, conflicts_with = "squash")]
    pub ff_only: bool,

    /// Stage the merged database without committing or recording REV as a parent
    #[arg(long)]
    pub squash: bool,

    /// The merge commit's message (default "Merge REV into BRANCH")
    #[arg(short, long, value_name = "MESSAGE")]
    pub message: Option<String>,

    /// Decide conflicting cells and rows for one side instead of stopping
    #[arg(long, value_enum, value_name = "SIDE")]
    pub strategy: Option<Strategy>,

    /// Abandon the unfinished merge, restoring the state before it
    #[arg(long, conflicts_with_all = ["rev", "no_ff", "ff_only", "squash", "message", "strategy"])]
    pub abort: bool,
}

fn plural(n: u64, one: &str) -> String {
    format!("{n} {one}{}", if n == 1 { "" } else { "s" })
}

fn write_changed(out: &mut dyn Write, changed: &BTreeMap<String, Option<u64>>) -> CliResult {
    for (name, n) in changed {
        match n {
            Some(n) => writeln!(out, " {name}: {} merged", plural(*n, "row"))?,
            None => writeln!(out, " {name}: taken from the other side")?,
        }
    }
    Ok(())
}

/// Prints what a merge, revert, cherry-pick or workspace merge did; conflicts are an error
/// (exit 1) after the conflicting tables are listed.
///
/// `what` names the operation in the conflict error (`merge`, `revert`, `cherry-pick`).
pub fn report(
    out: &mut dyn Write,
    repo: &kodiak::repo::Repo,
    outcome: &MergeOutcome,
    label: &str,
    what: &str,
) -> CliResult {
    match outcome {
        MergeOutcome::UpToDate => writeln!(out, "Already up to date.")?,
        MergeOutcome::FastForward(c) => writeln!(out, "Fast-forward to {}", c.short())?,
        MergeOutcome::Committed { commit, changed } => {
            let c: kodiak::object::Commit = repo.store().get(commit)?;
            writeln!(
                out,
                "[{label} {}] {}",
                commit.short(),
                kodiak::history::ops::subject(&c.message)
            )?;
            write_changed(out, changed)?;
        }
        MergeOutcome::Staged { changed } => {
            writeln!(
                out,
                "Squash merge: the merged database is staged, HEAD is unchanged"
            )?;
            write_changed(out, changed)?;
        }
        MergeOutcome::Conflicts { tables, changed } => {
            write_changed(out, changed)?;
            for (name, (rows, reason)) in tables {
                if let Some(r) = reason {
                    writeln!(out, "CONFLICT (table): {r}")?;
                }
                if *rows > 0 {
                    writeln!(
                        out,
                        "CONFLICT (rows): {} in table {name}",
                        plural(*rows, "conflicting row")
                    )?;
                }
            }
            out.flush()?;
            return Err(CliError::user(format!(
                "{what} stopped with conflicts in {}; fix them and then commit the result",
                plural(tables.len() as u64, "table")
            ))
            .with_hint(
                "'kodiak conflicts show TABLE' shows them, 'kodiak conflicts resolve TABLE --ours|--theirs|--from-file FILE' resolves them, 'kodiak merge --abort' abandons the operation",
            ));
        }
    }
    Ok(())
}

/// The short name HEAD's commits go to, for `[LABEL id]`.
pub fn head_label(repo: &kodiak::repo::Repo) -> CliResult<String> {
    let st = kodiak::history::WorkState::load(repo)?;
    Ok(match &st.head_ref {
        Some(r) => r.short().to_string(),
        None => "detached HEAD".to_string(),
    })
}

/// Runs `kodiak merge`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Write)?;
    if args.abort {
        ops::abort(&repo)?;
        writeln!(
            out,
            "Merge aborted; the working state is as it was before it"
        )?;
        repo.close()?;
        return Ok(());
    }
    let Some(rev) = args.rev.as_deref() else {
        return Err(CliError::usage("merge needs a revision to merge"));
    };
    let opts = MergeOptions {
        fast_forward: if args.no_ff {
            FastForward::Never
        } else if args.ff_only {
            FastForward::Only
        } else {
            FastForward::Allow
        },
        squash: args.squash,
        message: args.message.clone(),
        favor: Strategy::favor(args.strategy),
    };
    let label = head_label(&repo)?;
    let outcome = ops::merge(&repo, rev, &opts)?;
    let result = report(out, &repo, &outcome, &label, "merge");
    repo.close()?;
    result
}
