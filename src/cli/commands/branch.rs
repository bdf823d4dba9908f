//! `kodiak branch`: list, create, delete, rename and copy branches.

use std::io::Write;

use kodiak::history::{WorkState, ops};
use kodiak::id::CommitId;
use kodiak::object::Commit;
use serde_json::json;

use crate::cli::error::{CliError, CliResult};
use crate::cli::format::TextOrJson;
use crate::cli::history::to_json;
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak branch`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Delete a branch (refused if HEAD does not contain its commits)
    #[arg(short = 'd', long = "delete", group = "op")]
    pub delete: bool,

    /// Delete a branch even if it is not merged
    #[arg(short = 'D', group = "op")]
    pub force_delete: bool,

    /// Rename a branch: [OLD] NEW (OLD defaults to the current branch)
    #[arg(short = 'm', long = "move", group = "op")]
    pub rename: bool,

    /// Copy a branch: [OLD] NEW (OLD defaults to the current branch)
    #[arg(short = 'c', long = "copy", group = "op")]
    pub copy: bool,

    /// When listing, show each branch's commit id and subject
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// Listing format
    #[arg(long, value_enum, default_value = "text")]
    pub format: TextOrJson,

    /// Branch name, and a start revision when creating (default HEAD)
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
}

/// Runs `kodiak branch`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let writes =
        args.delete || args.force_delete || args.rename || args.copy || !args.names.is_empty();
    let repo = ctx.open_repo(if writes { Access::Write } else { Access::Read })?;
    if args.delete || args.force_delete {
        if args.names.is_empty() {
            return Err(CliError::usage("branch name required"));
        }
        for n in &args.names {
            let id = ops::delete_branch(&repo, n, args.force_delete)?;
            writeln!(out, "Deleted branch {n} (was {}).", id.short())?;
        }
    } else if args.rename || args.copy {
        let (old, new) = match args.names.as_slice() {
            [new] => (
                WorkState::load(&repo)?
                    .head_ref
                    .map(|r| r.short().to_string())
                    .ok_or_else(|| CliError::user("HEAD is detached: name the branch to rename"))?,
                new.clone(),
            ),
            [old, new] => (old.clone(), new.clone()),
            _ => return Err(CliError::usage("expected [OLD] NEW")),
        };
        ops::rename_branch(&repo, &old, &new, args.copy)?;
    } else {
        match args.names.as_slice() {
            [] => {
                let st = WorkState::load(&repo)?;
                let branches = ops::list_branches(&repo)?;
                if args.format == TextOrJson::Json {
                    let mut items = Vec::new();
                    for (name, id) in branches {
                        let c: Commit = repo.store().get(&CommitId::new(id))?;
                        items.push(json!({
                            "name": name.short(),
                            "ref": name.as_str(),
                            "commit": id.to_hex(),
                            "subject": ops::subject(&c.message),
                            "current": st.head_ref.as_ref() == Some(&name),
                        }));
                    }
                    writeln!(out, "{}", to_json(&serde_json::Value::Array(items))?)?;
                    return Ok(());
                }
                let width = branches
                    .iter()
                    .map(|(n, _)| n.short().chars().count())
                    .max()
                    .unwrap_or(0);
                for (name, id) in branches {
                    let mark = if st.head_ref.as_ref() == Some(&name) {
                        "*"
                    } else {
                        " "
                    };
                    if args.verbose {
                        let c: Commit = repo.store().get(&CommitId::new(id))?;
                        writeln!(
                            out,
                            "{mark} {:width$} {} {}",
                            name.short(),
                            id.short(),
                            ops::subject(&c.message)
                        )?;
                    } else {
                        writeln!(out, "{mark} {}", name.short())?;
                    }
                }
                match (&st.head_ref, st.head_commit) {
                    (None, Some(c)) => writeln!(out, "* (HEAD detached at {})", c.short())?,
                    (Some(r), _) if !r.is_branch() => {
                        writeln!(out, "* (on workspace tip {})", r.short())?
                    }
                    _ => {}
                }
                return Ok(());
            }
            [name] => {
                ops::create_branch(&repo, name, None)?;
            }
            [name, start] => {
                ops::create_branch(&repo, name, Some(start))?;
            }
            _ => return Err(CliError::usage("expected NAME [START]")),
        }
    }
    repo.close()?;
    Ok(())
}
