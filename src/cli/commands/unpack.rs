//! `kodiak unpack`: make a repository from a `.kdk` bundle (like clone, the directory
//! defaulting to the bundle's name without `.kdk`).

use std::io::Write;
use std::path::PathBuf;

use crate::cli::Ctx;
use crate::cli::commands::clone::clone_into;
use crate::cli::error::{CliError, CliResult};

/// Arguments of `kodiak unpack`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bundle file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The directory to create (default: the bundle's file name without .kdk)
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Remote name: branches land under refs/remotes/NAME/
    #[arg(long, value_name = "NAME", default_value = "origin")]
    pub name: String,
}

/// Runs `kodiak unpack`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let dir = match args.dir {
        Some(d) => d,
        None => match args.file.file_stem() {
            Some(stem) if !stem.is_empty() => PathBuf::from(stem),
            _ => {
                return Err(CliError::usage(format!(
                    "cannot derive a directory name from '{}'; name one: kodiak unpack <file.kdk> <dir>",
                    args.file.display()
                )));
            }
        },
    };
    clone_into(ctx, &args.file, &dir, &args.name, out)
}
