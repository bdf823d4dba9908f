//! `kodiak branch`: list, create, delete, rename and copy branches.

use std::io::Write;

use kodiak::history::{WorkState, ops};

use crate::cli::error::{CliError, CliResult};
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
                for (name, _) in ops::list_branches(&repo)? {
                    let mark = if st.head_ref.as_ref() == Some(&name) {
                        "*"
                    } else {
                        " "
                    };
                    writeln!(out, "{mark} {}", name.short())?;
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
