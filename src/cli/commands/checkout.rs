//! `kodiak checkout <rev> -- <table>…`: restore tables from a revision into the working state.

use std::io::Write;

use kodiak::history::ops;

use crate::cli::error::CliResult;
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak checkout`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The revision to take the tables from
    #[arg(value_name = "REV")]
    pub rev: String,

    /// Tables to restore, after `--`
    #[arg(value_name = "TABLE", last = true, required = true)]
    pub tables: Vec<String>,
}

/// Runs `kodiak checkout`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Write)?;
    ops::checkout_tables(&repo, &args.rev, &args.tables)?;
    let n = args.tables.len();
    writeln!(
        out,
        "Updated {n} table{} from {}",
        if n == 1 { "" } else { "s" },
        args.rev
    )?;
    repo.close()?;
    Ok(())
}
