//! `kodiak init`: create an empty repository.

use std::io::Write;
use std::path::PathBuf;

use kodiak::repo::{InitOptions, Repo};

use crate::cli::Ctx;
use crate::cli::error::CliResult;

/// Arguments of `kodiak init`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory to create the repository in
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Name of the branch HEAD starts on
    #[arg(short = 'b', long, value_name = "BRANCH")]
    pub initial_branch: Option<String>,
}

/// Runs `kodiak init`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let dir = match args.dir {
        Some(d) => ctx.cwd.join(d),
        None => ctx.kodiak_dir().unwrap_or_else(|| ctx.cwd.clone()),
    };
    let repo = Repo::init(
        &dir,
        &InitOptions {
            initial_branch: args.initial_branch,
        },
    )?;
    let dot = repo.paths().dot_dir.clone();
    let head = repo.head()?;
    repo.close()?;
    writeln!(
        out,
        "Initialized empty kodiak repository in {}",
        dot.display()
    )?;
    if let kodiak::refs::RefValue::Symbolic(branch) = head {
        writeln!(out, "HEAD -> {branch} (unborn)")?;
    }
    Ok(())
}
