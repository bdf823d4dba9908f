//! `kodiak workspace`: independent lines of work, each with its own HEAD, staged and working
//! roots.

use std::io::Write;

use clap::Subcommand;
use kodiak::history::WorkState;
use kodiak::history::workspace;

use crate::cli::error::CliResult;
use crate::cli::format::TextOrJson;
use crate::cli::history::to_json;
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak workspace`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// Workspace subcommands.
#[derive(Subcommand, Debug)]
pub enum Action {
    /// Create a workspace starting at a revision (default HEAD); its tip is refs/workspaces/NAME
    Create {
        /// The workspace's name
        name: String,
        /// Where it starts
        #[arg(long, value_name = "REV")]
        from: Option<String>,
    },
    /// Make another workspace current (uncommitted work stays in each workspace)
    Switch {
        /// The workspace
        name: String,
    },
    /// List workspaces: current marker, name, HEAD, state
    List {
        /// Output format
        #[arg(long, value_enum, default_value = "text")]
        format: TextOrJson,
    },
    /// Show one workspace (default: the current one)
    Info {
        /// The workspace
        name: Option<String>,
    },
    /// Bring a workspace's commits into the current HEAD (fast-forward, else a three-way merge)
    Merge {
        /// The workspace
        name: String,
    },
    /// Delete a workspace and its tip ref
    Delete {
        /// The workspace
        name: String,
        /// Discard its uncommitted changes
        #[arg(long)]
        force: bool,
    },
}

fn describe(st: &WorkState) -> String {
    let head = match (&st.head_ref, st.head_commit) {
        (Some(r), Some(c)) => format!("{} {}", r.short(), c.short()),
        (Some(r), None) => format!("{} (no commits)", r.short()),
        (None, Some(c)) => format!("detached {}", c.short()),
        (None, None) => "detached".into(),
    };
    let state = if st.is_dirty() {
        "uncommitted changes"
    } else {
        "clean"
    };
    format!("{head} [{state}]")
}

/// Runs `kodiak workspace`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    match args.action {
        Action::List { format } => {
            let repo = ctx.open_repo(Access::Read)?;
            let list = workspace::list(&repo)?;
            if format == TextOrJson::Json {
                let items: Vec<serde_json::Value> = list
                    .iter()
                    .map(|w| {
                        let st = &w.state;
                        serde_json::json!({
                            "name": st.workspace.as_str(),
                            "current": w.current,
                            "head": st.head_ref.as_ref().map(|r| r.as_str()),
                            "commit": st.head_commit.map(|c| c.to_hex()),
                            "dirty": st.is_dirty(),
                            "merging": st.record.merge.is_some(),
                        })
                    })
                    .collect();
                writeln!(out, "{}", to_json(&serde_json::Value::Array(items))?)?;
                return Ok(());
            }
            for w in list {
                let mark = if w.current { "*" } else { " " };
                writeln!(
                    out,
                    "{mark} {:<16} {}",
                    w.state.workspace.as_str(),
                    describe(&w.state)
                )?;
            }
        }
        Action::Info { name } => {
            let repo = ctx.open_repo(Access::Read)?;
            let ws = match name {
                Some(n) => kodiak::refs::WorkspaceName::new(&n)?,
                None => repo.current_workspace()?,
            };
            let st = WorkState::load_workspace(&repo, &ws)?;
            writeln!(
                out,
                "workspace: {ws}{}",
                if ws == repo.current_workspace()? {
                    " (current)"
                } else {
                    ""
                }
            )?;
            writeln!(out, "HEAD:      {}", st.record.head)?;
            writeln!(
                out,
                "commit:    {}",
                st.head_commit.map_or("(none)".into(), |c| c.to_hex())
            )?;
            writeln!(out, "staged:    {}", st.staged_root.to_hex())?;
            writeln!(out, "working:   {}", st.working_root.to_hex())?;
            writeln!(
                out,
                "state:     {}",
                if st.is_dirty() {
                    "uncommitted changes"
                } else {
                    "clean"
                }
            )?;
            if let Some(m) = &st.record.merge {
                writeln!(
                    out,
                    "merging:   {} ({} conflicts)",
                    m.other.short(),
                    m.conflicts.len()
                )?;
            }
        }
        Action::Create { name, from } => {
            let repo = ctx.open_repo(Access::Write)?;
            let start = workspace::create(&repo, &name, from.as_deref())?;
            match start {
                Some(c) => writeln!(out, "Created workspace '{name}' at {}", c.short())?,
                None => writeln!(out, "Created workspace '{name}' (no commits yet)")?,
            }
            repo.close()?;
        }
        Action::Switch { name } => {
            let repo = ctx.open_repo(Access::Write)?;
            workspace::switch(&repo, &name)?;
            writeln!(out, "Switched to workspace '{name}'")?;
            repo.close()?;
        }
        Action::Merge { name } => {
            let repo = ctx.open_repo(Access::Write)?;
            let label = super::merge::head_label(&repo)?;
            let outcome = workspace::merge(&repo, &name, &Default::default())?;
            let result = super::merge::report(out, &repo, &outcome, &label, "merge");
            repo.close()?;
            result?;
        }
        Action::Delete { name, force } => {
            let repo = ctx.open_repo(Access::Write)?;
            workspace::delete(&repo, &name, force)?;
            writeln!(out, "Deleted workspace '{name}'")?;
            repo.close()?;
        }
    }
    Ok(())
}
