//! `kodiak package`: install, list, inspect, update and uninstall dataset packages.

use std::io::Write;
use std::path::PathBuf;

use kodiak::object::PackageRecord;
use kodiak::package;

use crate::cli::error::CliResult;
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak package`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// Subcommands of `kodiak package`.
#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Install a dataset package from a .kdk bundle or a repository directory.
    ///
    /// The source's tables appear in the working state as NAME.TABLE, protected from ordinary
    /// edits, and the manifest in the database records the name, source, commit and content
    /// hash. Packages the source itself installed are its dependencies: they are installed
    /// too, or the install is refused if another version is installed. Commit to record it.
    Install {
        /// A .kdk bundle or a kodiak repository directory
        #[arg(value_name = "SOURCE")]
        source: PathBuf,
        /// Install under this name (default: the directory name or the bundle's file stem)
        #[arg(long = "as", value_name = "NAME")]
        name: Option<String>,
        /// The source's tag or branch to install, remembered for `package update` (default,
        /// or HEAD: the source's HEAD branch)
        #[arg(long = "ref", value_name = "REF")]
        rev: Option<String>,
    },
    /// List installed packages.
    List,
    /// Show one package's manifest entry.
    Info {
        /// The package
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Re-install a package from SOURCE (default: where it came from); shows what it changes.
    ///
    /// Without --ref it follows the tag or branch recorded at install (or by the last update
    /// with --ref): a tag stays on that tag, a branch brings that branch's newest commit.
    Update {
        /// The package
        #[arg(value_name = "NAME")]
        name: String,
        /// A .kdk bundle or repository directory (default: the recorded source)
        #[arg(value_name = "SOURCE")]
        source: Option<PathBuf>,
        /// Follow this tag or branch of the source from now on (HEAD: the source's HEAD
        /// branch; default: the recorded one)
        #[arg(long = "ref", value_name = "REF")]
        rev: Option<String>,
    },
    /// Remove a package: every table it installed, and nothing else.
    Uninstall {
        /// The package
        #[arg(value_name = "NAME")]
        name: String,
    },
}

/// What a record follows, for humans.
fn followed(r: &PackageRecord) -> String {
    r.source_ref.as_deref().map_or_else(
        || "the source's HEAD branch".to_string(),
        package::describe_ref,
    )
}

fn print_record(out: &mut dyn Write, name: &str, r: &PackageRecord) -> CliResult {
    writeln!(out, "package:      {name}")?;
    writeln!(out, "source:       {}", r.source)?;
    match r.source_ref.as_deref() {
        Some(full) if full.starts_with("refs/") => {
            writeln!(
                out,
                "ref:          {} ({full})",
                package::describe_ref(full)
            )?;
        }
        Some(other) => writeln!(out, "ref:          {}", package::describe_ref(other))?,
        None => writeln!(
            out,
            "ref:          (none: follows the source's HEAD branch)"
        )?,
    }
    writeln!(out, "commit:       {}", r.commit)?;
    writeln!(out, "content hash: {}", r.content_hash)?;
    writeln!(out, "tables:       {}", r.tables.join(", "))?;
    if r.dependencies.is_empty() {
        writeln!(out, "dependencies: (none)")?;
    } else {
        writeln!(out, "dependencies: {}", r.dependencies.join(", "))?;
    }
    Ok(())
}

/// Runs `kodiak package`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    match args.action {
        Action::Install { source, name, rev } => {
            let repo = ctx.open_repo(Access::Write)?;
            let i = package::install(
                &repo,
                &ctx.cwd.join(source),
                name.as_deref(),
                rev.as_deref(),
            )?;
            let from = i
                .record
                .source_ref
                .as_deref()
                .map(|r| format!(" from {}", package::describe_ref(r)))
                .unwrap_or_default();
            writeln!(
                out,
                "Installed package '{}' at {}{from} ({} table{}: {})",
                i.name,
                i.record.commit.id().short(),
                i.record.tables.len(),
                if i.record.tables.len() == 1 { "" } else { "s" },
                i.record.tables.join(", ")
            )?;
            for d in &i.dependencies {
                writeln!(out, "Installed dependency '{d}'")?;
            }
            writeln!(
                out,
                "Commit to record it: kodiak commit -a -m \"install {}\"",
                i.name
            )?;
            repo.close()?;
        }
        Action::List => {
            let repo = ctx.open_repo(Access::Read)?;
            let list = package::list(&repo)?;
            if list.is_empty() {
                writeln!(out, "No packages installed.")?;
            }
            for (name, r) in &list {
                let from = r
                    .source_ref
                    .as_deref()
                    .map(|s| format!(" ({})", package::describe_ref(s)))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{name} {} {} table{} {}{from}",
                    r.commit.id().short(),
                    r.tables.len(),
                    if r.tables.len() == 1 { "" } else { "s" },
                    r.source
                )?;
            }
        }
        Action::Info { name } => {
            let repo = ctx.open_repo(Access::Read)?;
            let r = package::info(&repo, &name)?;
            print_record(out, &name, &r)?;
        }
        Action::Update { name, source, rev } => {
            let repo = ctx.open_repo(Access::Write)?;
            let u = package::update(
                &repo,
                &name,
                source.map(|s| ctx.cwd.join(s)).as_deref(),
                rev.as_deref(),
            )?;
            if u.old.source_ref != u.new.source_ref {
                writeln!(out, "Package '{name}' now follows {}", followed(&u.new))?;
            }
            if u.old.content_hash == u.new.content_hash {
                let at = u
                    .new
                    .source_ref
                    .as_deref()
                    .map(|r| format!(", {}", package::describe_ref(r)))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "Package '{name}' is up to date ({}{at})",
                    u.new.commit.id().short()
                )?;
            } else {
                writeln!(
                    out,
                    "Updated package '{name}' {}..{}",
                    u.old.commit.id().short(),
                    u.new.commit.id().short()
                )?;
                for (t, s) in &u.tables {
                    writeln!(out, " {t}: {}", s.summary())?;
                }
            }
            for d in &u.dependencies {
                writeln!(out, "Installed dependency '{d}'")?;
            }
            repo.close()?;
        }
        Action::Uninstall { name } => {
            let repo = ctx.open_repo(Access::Write)?;
            let r = package::uninstall(&repo, &name)?;
            writeln!(
                out,
                "Uninstalled package '{name}' (removed {})",
                r.tables.join(", ")
            )?;
            repo.close()?;
        }
    }
    Ok(())
}
