//! `kodiak fetch`: bring a bundle's objects and refs into the repository.

use std::io::Write;
use std::path::PathBuf;

use kodiak::pack::{self, FetchOutcome, UpdateKind};

use crate::cli::error::{CliError, CliResult};
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak fetch`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bundle file (default: the bundle the remote was cloned from, remote.NAME.url)
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Remote name: branches land under refs/remotes/NAME/
    #[arg(long, value_name = "NAME", default_value = "origin")]
    pub name: String,
}

/// The bundle path from the argument or the remote's remembered URL.
pub fn bundle_path(
    ctx: &Ctx,
    repo: &kodiak::repo::Repo,
    file: Option<PathBuf>,
    remote: &str,
) -> CliResult<PathBuf> {
    match file {
        Some(f) => Ok(ctx.cwd.join(f)),
        None => pack::remote::remote_url(repo, remote)?.ok_or_else(|| {
            CliError::usage(format!(
                "no bundle given and remote '{remote}' has no remembered bundle"
            ))
            .with_hint("name the bundle file: kodiak fetch <file.kdk>")
        }),
    }
}

/// Prints one line per ref of a fetch, git-style.
pub fn print_updates(out: &mut dyn Write, path: &std::path::Path, f: &FetchOutcome) -> CliResult {
    writeln!(
        out,
        "From {}: {} object{}, {} new",
        path.display(),
        f.objects,
        if f.objects == 1 { "" } else { "s" },
        f.new_objects
    )?;
    for u in &f.updates {
        let src = u
            .source
            .strip_prefix("refs/heads/")
            .or_else(|| u.source.strip_prefix("refs/tags/"))
            .unwrap_or(&u.source);
        let dst = u
            .local
            .as_str()
            .strip_prefix("refs/remotes/")
            .unwrap_or(u.local.short());
        let is_tag = u.source.starts_with("refs/tags/");
        let line = match (u.kind, u.old) {
            (UpdateKind::New, _) if is_tag => format!(" * [new tag]         {src} -> {dst}"),
            (UpdateKind::New, _) => format!(" * [new branch]      {src} -> {dst}"),
            (UpdateKind::UpToDate, _) => format!(" = [up to date]      {src} -> {dst}"),
            (UpdateKind::Rejected, _) => format!(
                " ! [rejected]        {src} -> {dst} (a different local tag exists; kept it)"
            ),
            (UpdateKind::FastForward, Some(o)) => {
                format!("   {}..{}  {src} -> {dst}", o.short(), u.new.short())
            }
            (_, o) => format!(
                " + {}...{} {src} -> {dst} (forced update)",
                o.map(|o| o.short()).unwrap_or_default(),
                u.new.short()
            ),
        };
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Runs `kodiak fetch`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Write)?;
    let path = bundle_path(ctx, &repo, args.file, &args.name)?;
    let f = pack::fetch(&repo, &path, &args.name)?;
    print_updates(out, &path, &f)?;
    repo.close()?;
    Ok(())
}
