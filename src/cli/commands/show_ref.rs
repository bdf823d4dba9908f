//! `kodiak show-ref`: list HEAD and refs with their targets.

use std::io::Write;

use kodiak::refs::{RefName, RefStore, RefValue};
use serde_json::json;

use crate::cli::error::{CliError, CliResult};
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak show-ref`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only list refs whose full name starts with PREFIX (e.g. refs/heads/)
    #[arg(value_name = "PREFIX")]
    pub prefix: Option<String>,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

fn entry(
    refs: &dyn RefStore,
    name: &RefName,
    value: &RefValue,
) -> CliResult<(String, serde_json::Value)> {
    let target = refs.resolve(name)?.target;
    let shown = target.map_or_else(|| "(unborn)".to_string(), |t| t.to_hex());
    Ok(match value {
        RefValue::Direct(id) => (
            format!("{name} {id}"),
            json!({"name": name.as_str(), "symbolic": null, "target": id.to_hex()}),
        ),
        RefValue::Symbolic(to) => (
            format!("{name} -> {to} {shown}"),
            json!({"name": name.as_str(), "symbolic": to.as_str(), "target": target.map(|t| t.to_hex())}),
        ),
    })
}

/// Runs `kodiak show-ref`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Read)?;
    let refs = repo.refs();
    let prefix = args.prefix.unwrap_or_default();
    let mut lines = Vec::new();
    let mut items = Vec::new();
    if "HEAD".starts_with(&prefix) || prefix.is_empty() {
        let head = RefName::head();
        if let Some(value) = refs.get(&head)? {
            let (line, item) = entry(refs, &head, &value)?;
            lines.push(line);
            items.push(item);
        }
    }
    for (name, value) in refs.list(&prefix)? {
        let (line, item) = entry(refs, &name, &value)?;
        lines.push(line);
        items.push(item);
    }
    drop(repo);
    if args.json {
        let s = serde_json::to_string_pretty(&items)
            .map_err(|e| CliError::internal(format!("encoding JSON: {e}")))?;
        writeln!(out, "{s}")?;
    } else {
        for l in lines {
            writeln!(out, "{l}")?;
        }
    }
    Ok(())
}
