//! `kodiak pack`: write branches and tags to a `.kdk` bundle file.

use std::io::Write;
use std::path::PathBuf;

use kodiak::pack::{self, PackOptions};

use crate::cli::error::{CliError, CliResult};
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak pack`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bundle file to write (default: <project>.kdk, the project being the repository
    /// directory's name)
    #[arg(short = 'o', long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Pack every branch and tag (the default when no REF is given)
    #[arg(long)]
    pub all: bool,

    /// Make an incremental bundle holding only what REV does not have
    #[arg(long, value_name = "REV")]
    pub since: Option<String>,

    /// Branches or tags to pack
    #[arg(value_name = "REF")]
    pub refs: Vec<String>,
}

/// Runs `kodiak pack`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    if args.all && !args.refs.is_empty() {
        return Err(CliError::usage("give either REF… or --all, not both"));
    }
    let repo = ctx.open_repo(Access::Read)?;
    let path = match &args.out {
        Some(p) => ctx.cwd.join(p),
        None => ctx.cwd.join(pack::default_bundle_name(&repo)),
    };
    let outcome = pack::pack(
        &repo,
        &PackOptions {
            refs: args.refs,
            all: args.all,
            since: args.since,
        },
        &path,
    )?;
    let s = &outcome.summary;
    writeln!(
        out,
        "Packed {} object{} ({} bytes) into {} ({} bytes)",
        s.objects,
        if s.objects == 1 { "" } else { "s" },
        s.object_bytes,
        path.display(),
        s.file_bytes
    )?;
    for r in &outcome.header.refs {
        writeln!(out, "{} {}", r.id, r.name)?;
    }
    for p in &outcome.header.prerequisites {
        writeln!(out, "prerequisite {p}")?;
    }
    Ok(())
}
