//! `kodiak tag`: list, create and delete tags.

use std::io::Write;

use kodiak::history::ops;
use kodiak::history::revision::peel_to_commit;
use kodiak::id::{CommitId, ObjectId, TagId};
use kodiak::object::{Commit, Kind, Tag};
use kodiak::refs::RefValue;
use kodiak::repo::Repo;
use serde_json::json;

use crate::cli::error::{CliError, CliResult};
use crate::cli::format::TextOrJson;
use crate::cli::history::{sig_json, to_json};
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

    /// When listing, show the first line of each annotated tag's message (else the commit's)
    #[arg(short = 'n')]
    pub lines: bool,

    /// Listing format
    #[arg(long, value_enum, default_value = "text")]
    pub format: TextOrJson,

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
        let tags = repo.refs().list("refs/tags/")?;
        if args.format == TextOrJson::Json {
            let mut items = Vec::new();
            for (name, value) in tags {
                let RefValue::Direct(id) = value else {
                    continue;
                };
                let (tag, commit) = describe(&repo, id, name.short())?;
                items.push(json!({
                    "name": name.short(),
                    "target": id.to_hex(),
                    "commit": commit.map(|c| c.to_hex()),
                    "annotated": tag.is_some(),
                    "tagger": tag.as_ref().map(|t| sig_json(&t.tagger)),
                    "message": tag.as_ref().map(|t| t.message.clone()),
                }));
            }
            writeln!(out, "{}", to_json(&serde_json::Value::Array(items))?)?;
            return Ok(());
        }
        let width = tags
            .iter()
            .map(|(n, _)| n.short().chars().count())
            .max()
            .unwrap_or(0);
        for (name, value) in tags {
            if !args.lines {
                writeln!(out, "{}", name.short())?;
                continue;
            }
            let line = match value {
                RefValue::Direct(id) => match describe(&repo, id, name.short())? {
                    (Some(t), _) => ops::subject(&t.message).to_string(),
                    (None, Some(c)) => {
                        let commit: Commit = repo.store().get(&c)?;
                        ops::subject(&commit.message).to_string()
                    }
                    (None, None) => String::new(),
                },
                RefValue::Symbolic(_) => String::new(),
            };
            writeln!(out, "{:width$} {line}", name.short())?;
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

/// The tag object (for an annotated tag) and the commit a tag finally names, if any.
fn describe(repo: &Repo, id: ObjectId, name: &str) -> CliResult<(Option<Tag>, Option<CommitId>)> {
    let tag = if repo.store().kind_of(&id)? == Some(Kind::Tag) {
        Some(repo.store().get::<Tag>(&TagId::new(id))?)
    } else {
        None
    };
    let commit = peel_to_commit(repo, id, &format!("tag '{name}'")).ok();
    Ok((tag, commit))
}
