//! `kodiak blame`: the commit that last changed each row of a table.

use std::io::Write;

use kodiak::history::{blame, resolve};
use kodiak::object::Commit;
use kodiak::schema::RowCodec;
use serde_json::json;

use crate::cli::error::{CliError, CliResult};
use crate::cli::format::rfc3339;
use crate::cli::history::to_json;
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak blame`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The table, or REV:TABLE
    #[arg(value_name = "TABLE")]
    pub table: String,

    /// The revision to start from (default HEAD)
    #[arg(long, value_name = "REV")]
    pub at: Option<String>,

    /// Only rows whose COLUMN equals VALUE (repeatable; all must match)
    #[arg(long = "where", value_name = "COLUMN=VALUE")]
    pub filters: Vec<String>,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// Runs `kodiak blame`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Read)?;
    let (rev, table) = match args.table.split_once(':') {
        Some((r, t)) => {
            if args.at.is_some() {
                return Err(CliError::usage(
                    "give the revision either as REV:TABLE or with --at",
                ));
            }
            (r.to_string(), t.to_string())
        }
        None => (
            args.at.clone().unwrap_or_else(|| "HEAD".into()),
            args.table.clone(),
        ),
    };
    let start = resolve(&repo, &rev)?.commit;
    let (schema, rows) = blame::blame(&repo, start, &table, &args.filters)?;
    let codec = RowCodec::new(&schema);
    let names: Vec<&str> = schema.columns().iter().map(|c| c.name.as_str()).collect();
    let mut commits: std::collections::BTreeMap<kodiak::id::CommitId, Commit> = Default::default();
    if args.json {
        let mut items = Vec::new();
        for r in &rows {
            if let std::collections::btree_map::Entry::Vacant(e) = commits.entry(r.commit) {
                e.insert(repo.store().get(&r.commit)?);
            }
            let c = &commits[&r.commit];
            let values = codec.decode_row(&r.key, &r.value)?;
            let row: serde_json::Map<String, serde_json::Value> = names
                .iter()
                .zip(&values)
                .map(|(n, v)| {
                    (
                        n.to_string(),
                        if v.is_null() {
                            serde_json::Value::Null
                        } else {
                            json!(v.render())
                        },
                    )
                })
                .collect();
            items.push(json!({
                "commit": r.commit.to_hex(),
                "author": c.author.to_string(),
                "date": rfc3339(c.author.time, c.author.tz_offset_min),
                "row": row,
            }));
        }
        writeln!(out, "{}", to_json(&json!(items))?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<12}  {:<24}  {:<10}  {}",
        "commit",
        "author",
        "date",
        names.join("\t")
    )?;
    for r in &rows {
        if let std::collections::btree_map::Entry::Vacant(e) = commits.entry(r.commit) {
            e.insert(repo.store().get(&r.commit)?);
        }
        let c = &commits[&r.commit];
        let values = codec.decode_row(&r.key, &r.value)?;
        let date = rfc3339(c.author.time, c.author.tz_offset_min);
        let mut author = c.author.name.clone();
        if author.chars().count() > 24 {
            author = author.chars().take(23).collect::<String>() + "…";
        }
        writeln!(
            out,
            "{}  {:<24}  {}  {}",
            r.commit.short(),
            author,
            &date[..10],
            values
                .iter()
                .map(|v| v.render())
                .collect::<Vec<_>>()
                .join("\t")
        )?;
    }
    Ok(())
}
