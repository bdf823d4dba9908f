//! `kodiak clone`: make a repository from a `.kdk` bundle.

use std::io::Write;
use std::path::PathBuf;

use kodiak::pack;

use crate::cli::Ctx;
use crate::cli::commands::fetch::print_updates;
use crate::cli::error::CliResult;

/// Arguments of `kodiak clone`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bundle file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The directory to create (must not exist, or be empty)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// Remote name: branches land under refs/remotes/NAME/
    #[arg(long, value_name = "NAME", default_value = "origin")]
    pub name: String,
}

/// Clones `file` into `dir` and reports it.
pub fn clone_into(
    ctx: &Ctx,
    file: &std::path::Path,
    dir: &std::path::Path,
    remote: &str,
    out: &mut dyn Write,
) -> CliResult {
    let path = ctx.cwd.join(file);
    let c = pack::clone_bundle(&path, &ctx.cwd.join(dir), remote)?;
    writeln!(out, "Cloned {} into {}", path.display(), c.dir.display())?;
    print_updates(out, &path, &c.fetch)?;
    match &c.branch {
        Some(b) => writeln!(out, "Switched to branch '{b}' (tracking {remote}/{b})")?,
        None => writeln!(
            out,
            "The bundle has no branches: HEAD is on an unborn branch"
        )?,
    }
    Ok(())
}

/// Runs `kodiak clone`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    clone_into(ctx, &args.file, &args.dir, &args.name, out)
}
