//! `kodiak status`: what is staged, what is not, and any merge in progress.

use std::io::Write;

use kodiak::history::{TableChange, WorkState, diff_roots};
use kodiak::workingset::MergeKind;
use serde_json::json;

use crate::cli::error::CliResult;
use crate::cli::format::TextOrJson;
use crate::cli::history::{change_json, change_line, to_json};
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak status`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    pub format: TextOrJson,
}

fn changes_json(
    repo: &kodiak::repo::Repo,
    changes: &std::collections::BTreeMap<String, TableChange>,
) -> CliResult<serde_json::Value> {
    let mut out = Vec::new();
    for (name, c) in changes {
        out.push(change_json(repo, name, c)?);
    }
    Ok(serde_json::Value::Array(out))
}

/// Runs `kodiak status`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Read)?;
    let st = WorkState::load(&repo)?;
    let store = repo.store();
    let head = st.head(store)?;
    let staged = st.staged(store)?;
    let working = st.working(store)?;
    let to_commit = diff_roots(&head, &staged);
    let not_staged = diff_roots(&staged, &working);
    if args.format == TextOrJson::Json {
        let merge = st.record.merge.as_ref().map(|m| {
            json!({
                "other": m.other.to_hex(),
                "base": m.base.map(|b| b.to_hex()),
                "message": m.message,
                "conflicts": m.conflicts.keys().collect::<Vec<_>>(),
                "kind": match m.kind {
                    MergeKind::Merge => "merge",
                    MergeKind::Squash => "squash",
                    MergeKind::Revert => "revert",
                    MergeKind::CherryPick => "cherry-pick",
                },
            })
        });
        let v = json!({
            "workspace": st.workspace.as_str(),
            "head": st.head_ref.as_ref().map(|r| r.as_str()),
            "detached": st.head_ref.is_none(),
            "commit": st.head_commit.map(|c| c.to_hex()),
            "staged": changes_json(&repo, &to_commit)?,
            "unstaged": changes_json(&repo, &not_staged)?,
            "merge": merge,
            "clean": !st.is_dirty(),
        });
        writeln!(out, "{}", to_json(&v)?)?;
        return Ok(());
    }
    if st.workspace.as_str() != kodiak::refs::DEFAULT_WORKSPACE {
        writeln!(out, "Workspace {}", st.workspace)?;
    }
    match (&st.head_ref, st.head_commit) {
        (Some(r), _) if r.is_branch() => writeln!(out, "On branch {}", r.short())?,
        (Some(r), _) => writeln!(out, "On workspace tip {}", r.short())?,
        (None, Some(c)) => writeln!(out, "HEAD detached at {}", c.short())?,
        (None, None) => writeln!(out, "HEAD detached")?,
    }
    if st.head_commit.is_none() {
        writeln!(out, "\nNo commits yet")?;
    }
    if let Some(m) = &st.record.merge {
        let what = match m.kind {
            MergeKind::Merge => "a merge",
            MergeKind::Squash => "a squash merge",
            MergeKind::Revert => "a revert",
            MergeKind::CherryPick => "a cherry-pick",
        };
        writeln!(
            out,
            "\nYou are in the middle of {what} of {}.",
            m.other.short()
        )?;
        if m.conflicts.is_empty() {
            writeln!(
                out,
                "  (all conflicts fixed: run \"kodiak commit\" to conclude the merge)"
            )?;
        } else {
            writeln!(
                out,
                "  (see them with \"kodiak conflicts show <table>\", resolve them with \"kodiak conflicts resolve <table>\", then run \"kodiak commit\")"
            )?;
            writeln!(out, "  (use \"kodiak merge --abort\" to abort)")?;
            writeln!(out, "\nUnmerged tables:")?;
            for (t, id) in &m.conflicts {
                let set = kodiak::merge::ConflictSet::read(store, *id)?;
                let mut what = Vec::new();
                if set.table.is_some() {
                    what.push("table conflict".to_string());
                }
                let rows = set.rows.len();
                if rows > 0 {
                    what.push(format!(
                        "{rows} conflicting row{}",
                        if rows == 1 { "" } else { "s" }
                    ));
                }
                writeln!(out, "\tboth modified:  {t} ({})", what.join(", "))?;
            }
        }
    }
    if !to_commit.is_empty() {
        writeln!(out, "\nChanges to be committed:")?;
        writeln!(out, "  (use \"kodiak reset <table>...\" to unstage)")?;
        for (name, c) in &to_commit {
            writeln!(out, "\t{}", change_line(&repo, name, c, true)?)?;
        }
    }
    if !not_staged.is_empty() {
        writeln!(out, "\nChanges not staged for commit:")?;
        writeln!(
            out,
            "  (use \"kodiak add <table>...\" to stage, \"kodiak checkout HEAD -- <table>...\" to discard)"
        )?;
        for (name, c) in &not_staged {
            writeln!(out, "\t{}", change_line(&repo, name, c, true)?)?;
        }
    }
    if to_commit.is_empty() && not_staged.is_empty() {
        if st.head_commit.is_none() && head.tables.is_empty() {
            writeln!(
                out,
                "\nnothing to commit (import or create a table to start)"
            )?;
        } else {
            writeln!(out, "\nnothing to commit, working state clean")?;
        }
    } else if to_commit.is_empty() {
        writeln!(
            out,
            "\nno changes added to commit (use \"kodiak add\" or \"kodiak commit -a\")"
        )?;
    }
    Ok(())
}
