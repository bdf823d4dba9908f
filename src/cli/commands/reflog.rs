//! `kodiak reflog`: show the history of a ref.

use std::io::Write;

use kodiak::refs::{RefName, RefValue};
use serde_json::json;

use crate::cli::error::{CliError, CliResult};
use crate::cli::format::rfc3339;
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak reflog`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A ref: HEAD, a full ref name, or a branch, tag, workspace or snapshot name
    #[arg(value_name = "REF", default_value = "HEAD")]
    pub name: String,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

fn value_text(v: &Option<RefValue>) -> String {
    v.as_ref()
        .map_or_else(|| "(deleted)".to_string(), |v| v.to_string())
}

fn value_json(v: &Option<RefValue>) -> serde_json::Value {
    match v {
        None => serde_json::Value::Null,
        Some(RefValue::Direct(id)) => json!({"id": id.to_hex()}),
        Some(RefValue::Symbolic(n)) => json!({"symbolic": n.as_str()}),
    }
}

/// Runs `kodiak reflog`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Read)?;
    // A short name means the first existing ref among refs/heads/, refs/tags/, … (a deleted
    // ref's log is still reachable by its full name).
    let name = match kodiak::history::revision::find_ref(&repo, &args.name)? {
        Some(r) => r,
        None => RefName::new(&args.name)?,
    };
    let entries = repo.refs().reflog(&name)?;
    drop(repo);
    if args.json {
        let items: Vec<_> = entries
            .iter()
            .map(|e| {
                json!({
                    "old": value_json(&e.old),
                    "new": value_json(&e.new),
                    "who": e.who,
                    "time": e.time,
                    "tz_offset_min": e.tz_offset_min,
                    "date": rfc3339(e.time, e.tz_offset_min),
                    "message": e.message,
                })
            })
            .collect();
        let s = serde_json::to_string_pretty(&items)
            .map_err(|e| CliError::internal(format!("encoding JSON: {e}")))?;
        writeln!(out, "{s}")?;
        return Ok(());
    }
    for (i, e) in entries.iter().enumerate() {
        writeln!(
            out,
            "{name}@{{{i}}}: {} -> {} ({}, {})",
            e.message,
            value_text(&e.new),
            e.who,
            rfc3339(e.time, e.tz_offset_min)
        )?;
    }
    Ok(())
}
