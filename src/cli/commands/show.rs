//! `kodiak show`: one commit (header, message, changed tables), a tag, or a table at a revision.

use std::io::Write;

use kodiak::history::resolve;
use kodiak::object::{Commit, Kind, Table, Tag};
use serde_json::json;

use crate::cli::error::CliResult;
use crate::cli::format::rfc3339;
use crate::cli::history::{
    change_json, change_line, commit_changes, commit_json, decoration_text, decorations, to_json,
    write_commit_text,
};
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak show`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The revision (default HEAD); REV:TABLE shows a table at that revision
    #[arg(value_name = "REV", default_value = "HEAD")]
    pub rev: String,

    /// Show row counts per changed table
    #[arg(long)]
    pub stat: bool,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// Runs `kodiak show`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Read)?;
    let r = resolve(&repo, &args.rev)?;
    if let Some((name, tid)) = &r.table {
        let t: Table = repo.store().get(tid)?;
        if args.json {
            let v = json!({"table": name, "id": tid.to_hex(), "commit": r.commit.to_hex(),
                "schema": t.schema.to_hex(), "rows": t.rows.to_hex(), "row_count": t.row_count});
            writeln!(out, "{}", to_json(&v)?)?;
        } else {
            writeln!(out, "table {name} at {}", r.commit.short())?;
            writeln!(out, "id:        {}", tid.to_hex())?;
            writeln!(out, "schema:    {}", t.schema.to_hex())?;
            writeln!(out, "rows:      {}", t.rows.to_hex())?;
            writeln!(out, "row count: {}", t.row_count)?;
            let schema: kodiak::schema::Schema = repo.store().get(&t.schema)?;
            writeln!(out)?;
            writeln!(out, "{}", schema.to_ddl(name).trim_end())?;
        }
        return Ok(());
    }
    let c: Commit = repo.store().get(&r.commit)?;
    let changes = commit_changes(&repo, &c)?;
    let decor = decorations(&repo)?;
    if args.json {
        let mut v = commit_json(
            r.commit,
            &c,
            &decor.get(&r.commit.id()).cloned().unwrap_or_default(),
        );
        let mut ch = Vec::new();
        for (n, c) in &changes {
            ch.push(change_json(&repo, n, c)?);
        }
        if let Some(o) = v.as_object_mut() {
            o.insert("changes".into(), json!(ch));
        }
        writeln!(out, "{}", to_json(&v)?)?;
        return Ok(());
    }
    // An annotated tag named on the command line is shown before its commit.
    if let Some(via) = &r.via_ref
        && via.as_str().starts_with("refs/tags/")
        && let Some(kodiak::refs::RefValue::Direct(id)) = repo.refs().get(via)?
        && repo.store().kind_of(&id)? == Some(Kind::Tag)
    {
        let tag: Tag = repo.store().get(&kodiak::id::TagId::new(id))?;
        writeln!(out, "tag {}", tag.name)?;
        writeln!(out, "Tagger: {}", tag.tagger)?;
        writeln!(
            out,
            "Date:   {}",
            rfc3339(tag.tagger.time, tag.tagger.tz_offset_min)
        )?;
        writeln!(out)?;
        for l in tag.message.lines() {
            writeln!(out, "{l}")?;
        }
        writeln!(out)?;
    }
    write_commit_text(
        out,
        "",
        r.commit,
        &c,
        &decoration_text(&decor, &r.commit.id()),
    )?;
    if changes.is_empty() && !args.stat {
        writeln!(out, "(no table changes)")?;
    }
    for (name, ch) in &changes {
        writeln!(out, " {}", change_line(&repo, name, ch, args.stat)?)?;
    }
    if args.stat {
        let n = changes.len();
        writeln!(out, " {n} table{} changed", if n == 1 { "" } else { "s" })?;
    }
    Ok(())
}
