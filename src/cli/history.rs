//! Output helpers shared by the history commands: commit headers, decorations, JSON.

use std::collections::BTreeMap;
use std::io::Write;

use kodiak::history::rows::table_stats;
use kodiak::history::{TableChange, read_root};
use kodiak::id::{CommitId, ObjectId, TableId};
use kodiak::object::{Commit, Kind, Signature, Tag};
use kodiak::refs::RefValue;
use kodiak::repo::Repo;
use serde_json::{Value, json};

use crate::cli::error::{CliError, CliResult};
use crate::cli::format::rfc3339;

/// Ref names pointing at each commit, for `(HEAD -> main, tag: v1)` decorations.
pub fn decorations(repo: &Repo) -> CliResult<BTreeMap<ObjectId, Vec<String>>> {
    let mut out: BTreeMap<ObjectId, Vec<String>> = BTreeMap::new();
    let head = repo.head()?;
    let head_target = repo.refs().resolve(&kodiak::refs::RefName::head())?;
    let head_ref = match &head {
        RefValue::Symbolic(r) => Some(r.clone()),
        RefValue::Direct(_) => None,
    };
    if head_ref.is_none()
        && let Some(id) = head_target.target
    {
        out.entry(id).or_default().push("HEAD".into());
    }
    for (name, value) in repo.refs().list("refs/")? {
        let RefValue::Direct(mut id) = value else {
            continue;
        };
        if name.as_str().starts_with("refs/snapshots/") {
            continue;
        }
        if name.as_str().starts_with("refs/tags/") && repo.store().kind_of(&id)? == Some(Kind::Tag)
        {
            let tag: Tag = repo.store().get(&kodiak::id::TagId::new(id))?;
            id = tag.target;
        }
        let label = if Some(&name) == head_ref.as_ref() {
            format!("HEAD -> {}", name.short())
        } else if name.as_str().starts_with("refs/tags/") {
            format!("tag: {}", name.short())
        } else if name.as_str().starts_with("refs/workspaces/") {
            format!("workspace: {}", name.short())
        } else {
            name.short().to_string()
        };
        let list = out.entry(id).or_default();
        if label.starts_with("HEAD ->") {
            list.insert(0, label);
        } else {
            list.push(label);
        }
    }
    Ok(out)
}

/// ` (a, b)` or nothing.
pub fn decoration_text(decor: &BTreeMap<ObjectId, Vec<String>>, id: &ObjectId) -> String {
    match decor.get(id) {
        Some(v) if !v.is_empty() => format!(" ({})", v.join(", ")),
        _ => String::new(),
    }
}

/// A signature as JSON.
pub fn sig_json(s: &Signature) -> Value {
    json!({
        "name": s.name,
        "email": s.email,
        "time": s.time,
        "tz_offset_min": s.tz_offset_min,
        "date": rfc3339(s.time, s.tz_offset_min),
    })
}

/// A commit's change id as a ULID string.
pub fn change_id_text(c: &Commit) -> String {
    ulid::Ulid::from_bytes(c.change_id).to_string()
}

/// A commit as JSON.
pub fn commit_json(id: CommitId, c: &Commit, refs: &[String]) -> Value {
    json!({
        "id": id.to_hex(),
        "short": id.short(),
        "parents": c.parents.iter().map(|p| p.to_hex()).collect::<Vec<_>>(),
        "root": c.root.to_hex(),
        "author": sig_json(&c.author),
        "committer": sig_json(&c.committer),
        "message": c.message,
        "change_id": change_id_text(c),
        "refs": refs,
    })
}

/// A git-like commit header and indented message.
pub fn write_commit_text(
    out: &mut dyn Write,
    prefix: &str,
    id: CommitId,
    c: &Commit,
    decor: &str,
) -> CliResult {
    writeln!(out, "commit {}{decor}", id.to_hex())?;
    let mut lines = Vec::new();
    if c.parents.len() > 1 {
        lines.push(format!(
            "Merge: {}",
            c.parents
                .iter()
                .map(|p| p.short())
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    lines.push(format!("Author: {}", c.author));
    lines.push(format!(
        "Date:   {}",
        rfc3339(c.author.time, c.author.tz_offset_min)
    ));
    lines.push(String::new());
    for l in c.message.lines() {
        lines.push(format!("    {l}"));
    }
    lines.push(String::new());
    for l in lines {
        writeln!(out, "{}{l}", prefix)?;
    }
    Ok(())
}

/// The old and new table versions of a change.
pub fn change_versions(change: &TableChange) -> (Option<TableId>, Option<TableId>) {
    match change {
        TableChange::New { id } => (None, Some(*id)),
        TableChange::Deleted { id } => (Some(*id), None),
        TableChange::Modified { old, new } => (Some(*old), Some(*new)),
        TableChange::Renamed { id, .. } => (Some(*id), Some(*id)),
    }
}

/// A table change line: `modified:   orders`, with `(+A ~M -D rows)` when `stats`.
pub fn change_line(
    repo: &Repo,
    name: &str,
    change: &TableChange,
    stats: bool,
) -> CliResult<String> {
    let label = match change {
        TableChange::Renamed { from, .. } => format!("renamed:    {from} -> {name}"),
        other => format!("{:<12}{name}", format!("{}:", other.label())),
    };
    if !stats {
        return Ok(label);
    }
    let (old, new) = change_versions(change);
    let s = table_stats(repo.store(), old, new)?;
    Ok(format!("{label} ({})", s.summary()))
}

/// A table change as JSON: `{"table", "change", …ids, "schema_changed", "rows": {…}}`.
pub fn change_json(repo: &Repo, name: &str, change: &TableChange) -> CliResult<Value> {
    let mut v = serde_json::to_value(change)
        .map_err(|e| CliError::internal(format!("encoding JSON: {e}")))?;
    let (old, new) = change_versions(change);
    let s = table_stats(repo.store(), old, new)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("table".into(), json!(name));
        o.insert("schema_changed".into(), json!(s.schema_changed));
        o.insert(
            "rows".into(),
            json!({"added": s.added, "modified": s.modified, "deleted": s.deleted}),
        );
    }
    Ok(v)
}

/// The table changes a commit made relative to its first parent.
pub fn commit_changes(repo: &Repo, c: &Commit) -> CliResult<BTreeMap<String, TableChange>> {
    let store = repo.store();
    let old = match c.parents.first() {
        Some(p) => read_root(store, store.get::<Commit>(p)?.root)?,
        None => kodiak::object::Root::default(),
    };
    let new = read_root(store, c.root)?;
    Ok(kodiak::history::diff_roots(&old, &new))
}

/// Pretty JSON text.
pub fn to_json(v: &Value) -> CliResult<String> {
    serde_json::to_string_pretty(v).map_err(|e| CliError::internal(format!("encoding JSON: {e}")))
}
