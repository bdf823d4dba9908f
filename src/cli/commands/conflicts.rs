//! `kodiak conflicts`: list, show and resolve the conflicts of an unfinished merge.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use kodiak::merge::resolve::{self, Resolution, Shown};
use kodiak::schema::Value;
use serde_json::{Map, json};

use crate::cli::error::{CliError, CliResult};
use crate::cli::format::TextOrJson;
use crate::cli::history::to_json;
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak conflicts`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// What to do (default: list the tables with conflicts)
    #[command(subcommand)]
    pub action: Option<Action>,
}

/// `conflicts` subcommands.
#[derive(Subcommand, Debug)]
pub enum Action {
    /// Show the conflicting rows of a table: base, ours and theirs per cell
    Show {
        /// The table
        table: String,
        /// Output format
        #[arg(long, value_enum, default_value = "text")]
        format: TextOrJson,
    },
    /// Resolve conflicts of a table with one side's version or with rows from a file
    Resolve {
        /// The table
        table: String,
        /// Keep our version
        #[arg(long, conflicts_with_all = ["theirs", "from_file"], required_unless_present_any = ["theirs", "from_file"])]
        ours: bool,
        /// Take their version
        #[arg(long, conflicts_with = "from_file")]
        theirs: bool,
        /// Take the rows in this file (CSV, TSV, JSONL, Parquet, … with the table's columns),
        /// each of which must be a conflicting row
        #[arg(long, value_name = "FILE")]
        from_file: Option<PathBuf>,
        /// Only the row with this key (values joined by ',' for a composite key); repeatable
        #[arg(long, value_name = "KEY")]
        key: Vec<String>,
    },
}

fn plural(n: u64, one: &str) -> String {
    format!("{n} {one}{}", if n == 1 { "" } else { "s" })
}

fn shown_value(v: &Option<Value>) -> String {
    match v {
        None => "-".to_string(),
        Some(v) => v.render(),
    }
}

fn json_value(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        v => serde_json::Value::String(v.render()),
    }
}

fn show_json(table: &str, s: &Shown) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = s
        .rows
        .iter()
        .map(|r| {
            let side = |pick: fn(&kodiak::merge::resolve::ShownCell) -> &Option<Value>| {
                let mut m = Map::new();
                let mut present = false;
                for c in &r.cells {
                    if let Some(v) = pick(c) {
                        present = true;
                        m.insert(c.column.clone(), json_value(v));
                    }
                }
                if present {
                    serde_json::Value::Object(m)
                } else {
                    serde_json::Value::Null
                }
            };
            json!({
                "key": r.key,
                "kind": r.kind,
                "base": side(|c| &c.base),
                "ours": side(|c| &c.ours),
                "theirs": side(|c| &c.theirs),
                "conflicting_columns": r.cells.iter().filter(|c| c.conflict).map(|c| c.column.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let table_conflict = s.table.as_ref().map(|t| {
        json!({
            "reason": t.reason,
            "base": t.base.map(|i| i.to_hex()),
            "ours": t.ours.map(|i| i.to_hex()),
            "theirs": t.theirs.map(|i| i.to_hex()),
        })
    });
    json!({
        "table": table,
        "key_columns": s.key_columns,
        "table_conflict": table_conflict,
        "rows": rows,
    })
}

fn show_text(out: &mut dyn Write, table: &str, s: &Shown) -> CliResult {
    if let Some(t) = &s.table {
        writeln!(out, "Table {table}: {}", t.reason)?;
        let id = |i: &Option<kodiak::id::TableId>| i.map_or("(absent)".to_string(), |i| i.short());
        writeln!(
            out,
            "  base {}, ours {}, theirs {}",
            id(&t.base),
            id(&t.ours),
            id(&t.theirs)
        )?;
    }
    if s.rows.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "Table {table}: {} (key: {})",
        plural(s.rows.len() as u64, "conflicting row"),
        s.key_columns.join(", ")
    )?;
    for r in &s.rows {
        writeln!(out, "({}) {}", r.key.join(", "), r.kind)?;
        for c in &r.cells {
            if c.base == c.ours && c.ours == c.theirs {
                continue;
            }
            writeln!(
                out,
                "  {} {}: base {} | ours {} | theirs {}",
                if c.conflict { "*" } else { " " },
                c.column,
                shown_value(&c.base),
                shown_value(&c.ours),
                shown_value(&c.theirs)
            )?;
        }
    }
    Ok(())
}

/// Runs `kodiak conflicts`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    match args.action {
        None => {
            let repo = ctx.open_repo(Access::Read)?;
            let Some((m, sets)) = resolve::current(&repo)? else {
                writeln!(out, "No merge in progress")?;
                return Ok(());
            };
            if sets.is_empty() {
                writeln!(
                    out,
                    "All conflicts of the merge of {} are resolved; run 'kodiak commit' to conclude it",
                    m.other.short()
                )?;
            }
            for (name, set) in &sets {
                let mut parts = Vec::new();
                if let Some(t) = &set.table {
                    parts.push(format!("table conflict: {}", t.reason));
                }
                if !set.rows.is_empty() {
                    parts.push(plural(set.rows.len() as u64, "conflicting row"));
                }
                writeln!(out, "{name}\t{}", parts.join("; "))?;
            }
        }
        Some(Action::Show { table, format }) => {
            let repo = ctx.open_repo(Access::Read)?;
            let shown = resolve::show(&repo, &table)?;
            match format {
                TextOrJson::Json => writeln!(out, "{}", to_json(&show_json(&table, &shown))?)?,
                TextOrJson::Text => show_text(out, &table, &shown)?,
            }
        }
        Some(Action::Resolve {
            table,
            ours,
            theirs,
            from_file,
            key,
        }) => {
            let how = match (ours, theirs, from_file) {
                (true, _, _) => Resolution::Ours,
                (_, true, _) => Resolution::Theirs,
                (_, _, Some(f)) => Resolution::File(ctx.cwd.join(f)),
                _ => {
                    return Err(CliError::usage(
                        "conflicts resolve needs --ours, --theirs or --from-file",
                    ));
                }
            };
            let repo = ctx.open_repo(Access::Write)?;
            let r = resolve::resolve(&repo, &table, &how, &key)?;
            writeln!(
                out,
                "Resolved {} in {table}; {} left",
                plural(r.resolved, "conflict"),
                r.remaining
            )?;
            if let Some((_, sets)) = resolve::current(&repo)?
                && sets.is_empty()
            {
                writeln!(
                    out,
                    "All conflicts resolved; run 'kodiak commit -m MESSAGE' to conclude"
                )?;
            }
            repo.close()?;
        }
    }
    Ok(())
}
