//! `kodiak tag`: list, create and delete tags.

use std::io::Write;

use kodiak::history::ops;

use crate::cli::error::{CliError, CliResult};
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak tag`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Make an annotated tag (a tag object with tagger and message)
    #[arg(short = 'a', long)]
    pub annotate: bool,

    /// The annotated tag's message (implies -a)
    #[arg(short = 'm', long, value_name = "MESSAGE")]
    pub message: Option<String>,

    /// Delete tags
    #[arg(short = 'd', long)]
    pub delete: bool,

    /// Replace an existing tag
    #[arg(short = 'f', long)]
    pub force: bool,

    /// Tag name, then the revision to tag (default HEAD)
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
}

/// Runs `kodiak tag`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    if args.names.is_empty() {
        if args.delete || args.annotate || args.message.is_some() {
            return Err(CliError::usage("tag name required"));
        }
        let repo = ctx.open_repo(Access::Read)?;
        for (name, _) in repo.refs().list("refs/tags/")? {
            writeln!(out, "{}", name.short())?;
        }
        return Ok(());
    }
    let repo = ctx.open_repo(Access::Write)?;
    if args.delete {
        for n in &args.names {
            let id = ops::delete_tag(&repo, n)?;
            writeln!(out, "Deleted tag '{n}' (was {})", id.short())?;
        }
    } else {
        let (name, rev) = match args.names.as_slice() {
            [n] => (n, None),
            [n, r] => (n, Some(r.as_str())),
            _ => return Err(CliError::usage("expected NAME [REV]")),
        };
        if args.annotate && args.message.is_none() {
            return Err(CliError::usage(
                "an annotated tag needs a message: use -m <message>",
            ));
        }
        ops::create_tag(&repo, name, rev, args.message.as_deref(), args.force)?;
    }
    repo.close()?;
    Ok(())
}
