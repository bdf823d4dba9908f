//! `kodiak bundle`: check a bundle file or list its refs.

use std::io::Write;
use std::path::PathBuf;

use kodiak::pack;
use kodiak::repo::Repo;

use crate::cli::error::CliResult;
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak bundle`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// Subcommands of `kodiak bundle`.
#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Check a bundle completely, then list its refs.
    ///
    /// Checks the BLAKE3 checksum of the whole file, every object's hash and encoding, and that
    /// every object the bundle's refs need is in it or is a prerequisite. Inside a repository,
    /// the prerequisites (and anything the bundle leaves to them) must be in the repository.
    Verify {
        /// The bundle file
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// List the refs a bundle carries (reads only its header).
    ListRefs {
        /// The bundle file
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// The repository the command runs in, if there is one.
fn try_repo(ctx: &Ctx) -> CliResult<Option<Repo>> {
    match ctx.repo_paths() {
        Ok(_) => Ok(Some(ctx.open_repo(Access::Read)?)),
        Err(_) => Ok(None),
    }
}

/// Runs `kodiak bundle`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    match args.action {
        Action::Verify { file } => {
            let path = ctx.cwd.join(file);
            let repo = try_repo(ctx)?;
            let v = pack::verify_file(&path, repo.as_ref().map(|r| r.store()))?;
            writeln!(
                out,
                "{} is okay: {} object{} ({} bytes of object data), checksum {}",
                path.display(),
                v.summary.objects,
                if v.summary.objects == 1 { "" } else { "s" },
                v.summary.object_bytes,
                kodiak::id::hex_encode(&v.summary.checksum)
            )?;
            if v.assumed > 0 {
                writeln!(
                    out,
                    "{} object{} the bundle needs {} left to the prerequisites or stored as deltas against them ({} delta{}): checked only inside a repository that has the prerequisites.",
                    v.assumed,
                    if v.assumed == 1 { "" } else { "s" },
                    if v.assumed == 1 { "is" } else { "are" },
                    v.summary.unresolved.len(),
                    if v.summary.unresolved.len() == 1 {
                        ""
                    } else {
                        "s"
                    },
                )?;
            }
            if v.header.prerequisites.is_empty() {
                writeln!(out, "The bundle records a complete history.")?;
            } else {
                writeln!(
                    out,
                    "The bundle requires {} prerequisite commit{}{}:",
                    v.header.prerequisites.len(),
                    if v.header.prerequisites.len() == 1 {
                        ""
                    } else {
                        "s"
                    },
                    if repo.is_some() {
                        " (all present in this repository)"
                    } else {
                        ""
                    }
                )?;
                for p in &v.header.prerequisites {
                    writeln!(out, "prerequisite {p}")?;
                }
            }
            let c = &v.header.creator;
            writeln!(
                out,
                "Created by {} ({}) at {}",
                c.who,
                c.tool,
                crate::cli::format::rfc3339(c.time, 0)
            )?;
            for r in &v.header.refs {
                writeln!(out, "{} {}", r.id, r.name)?;
            }
            if let Some(h) = &v.header.head {
                writeln!(out, "HEAD -> {h}")?;
            }
        }
        Action::ListRefs { file } => {
            let path = ctx.cwd.join(file);
            let header = pack::read_header_file(&path)?;
            for r in &header.refs {
                writeln!(out, "{} {}", r.id, r.name)?;
            }
            if let Some(h) = &header.head {
                writeln!(out, "HEAD -> {h}")?;
            }
        }
    }
    Ok(())
}
