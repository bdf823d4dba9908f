//! `kodiak snapshot`: save and restore the working state, committed or not.

use std::io::Write;

use clap::Subcommand;
use kodiak::history::snapshot;
use serde_json::json;

use crate::cli::error::CliResult;
use crate::cli::format::rfc3339;
use crate::cli::history::to_json;
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak snapshot`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// Snapshot subcommands.
#[derive(Subcommand, Debug)]
pub enum Action {
    /// Save the current working state as refs/snapshots/NAME
    Create {
        /// The snapshot's name
        name: String,
        /// A message
        #[arg(short, long)]
        message: Option<String>,
    },
    /// List snapshots: name, time, source, tables
    List {
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Make a snapshot's database the working state (HEAD does not move)
    Restore {
        /// The snapshot
        name: String,
        /// Overwrite uncommitted changes
        #[arg(long)]
        force: bool,
    },
    /// Delete a snapshot
    Delete {
        /// The snapshot
        name: String,
    },
}

/// Runs `kodiak snapshot`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    match args.action {
        Action::Create { name, message } => {
            let repo = ctx.open_repo(Access::Write)?;
            let id = snapshot::create(&repo, &name, message.as_deref())?;
            writeln!(out, "Saved snapshot '{name}' ({})", id.short())?;
            repo.close()?;
        }
        Action::List { json } => {
            let repo = ctx.open_repo(Access::Read)?;
            let snaps = snapshot::list(&repo)?;
            if json {
                let v: Vec<_> = snaps
                    .iter()
                    .map(|s| {
                        json!({"name": s.name, "commit": s.commit_id.to_hex(),
                            "time": s.commit.committer.time,
                            "date": rfc3339(s.commit.committer.time, s.commit.committer.tz_offset_min),
                            "source": s.source, "workspace": s.workspace,
                            "message": s.message, "tables": s.tables})
                    })
                    .collect();
                writeln!(out, "{}", to_json(&json!(v))?)?;
            } else {
                for s in snaps {
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}",
                        s.name,
                        rfc3339(s.commit.committer.time, s.commit.committer.tz_offset_min),
                        s.source.strip_prefix("refs/heads/").unwrap_or(&s.source),
                        if s.tables.is_empty() {
                            "(no tables)".to_string()
                        } else {
                            s.tables.join(",")
                        }
                    )?;
                }
            }
        }
        Action::Restore { name, force } => {
            let repo = ctx.open_repo(Access::Write)?;
            snapshot::restore(&repo, &name, force)?;
            writeln!(out, "Restored snapshot '{name}' into the working state")?;
            repo.close()?;
        }
        Action::Delete { name } => {
            let repo = ctx.open_repo(Access::Write)?;
            snapshot::delete(&repo, &name)?;
            writeln!(out, "Deleted snapshot '{name}'")?;
            repo.close()?;
        }
    }
    Ok(())
}
