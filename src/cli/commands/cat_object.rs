//! `kodiak cat-object`: pretty-print any stored object.

use std::io::Write;

use kodiak::id::ObjectId;
use kodiak::object::{self, Blob, Commit, Kind, Root, Signature, Table, Tag};
use kodiak::schema::Schema;
use kodiak::table::Node;
use serde_json::{Value, json};

use crate::cli::error::{CliError, CliResult};
use crate::cli::format::{hex_dump, rfc3339};
use crate::cli::history::sig_json;
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak cat-object`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Full id (64 hex digits) or a unique prefix of at least 4 hex digits
    #[arg(value_name = "ID")]
    pub id: String,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

fn decode<T: object::Object>(id: ObjectId, bytes: &[u8]) -> CliResult<T> {
    object::decode::<T>(bytes).map_err(|source| kodiak::Error::Decode { id, source }.into())
}

fn sig_text(s: &Signature) -> String {
    format!("{} {}", s, rfc3339(s.time, s.tz_offset_min))
}

fn message_text(out: &mut dyn Write, message: &str) -> CliResult {
    writeln!(out)?;
    for line in message.lines() {
        writeln!(out, "    {line}")?;
    }
    Ok(())
}

/// Blob content shown as text when it is UTF-8 without NULs.
fn as_text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok().filter(|s| !s.contains('\0'))
}

/// Runs `kodiak cat-object`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Read)?;
    let store = repo.store();
    let id = store.resolve_prefix(&args.id)?;
    let bytes = store
        .try_get_canonical(&id)?
        .ok_or_else(|| CliError::user(format!("object {id} is not in the repository")))?;
    let (kind, version, payload) =
        object::split_header(&bytes).map_err(|source| kodiak::Error::Decode { id, source })?;
    let mut j = json!({
        "id": id.to_hex(),
        "kind": kind.name(),
        "version": version,
        "size": payload.len(),
    });
    let fields = j
        .as_object_mut()
        .ok_or_else(|| CliError::internal("JSON object expected"))?;
    let text = args.json.then(String::new);
    let mut w: Vec<u8> = Vec::new();
    writeln!(w, "{kind} {id}")?;
    match kind {
        Kind::Commit => {
            let c: Commit = decode(id, &bytes)?;
            let change_id = ulid::Ulid::from_bytes(c.change_id).to_string();
            writeln!(w, "root {}", c.root)?;
            for p in &c.parents {
                writeln!(w, "parent {p}")?;
            }
            writeln!(w, "author {}", sig_text(&c.author))?;
            writeln!(w, "committer {}", sig_text(&c.committer))?;
            writeln!(w, "change-id {change_id}")?;
            message_text(&mut w, &c.message)?;
            fields.insert("root".into(), json!(c.root.to_hex()));
            fields.insert(
                "parents".into(),
                json!(c.parents.iter().map(|p| p.to_hex()).collect::<Vec<_>>()),
            );
            fields.insert("author".into(), sig_json(&c.author));
            fields.insert("committer".into(), sig_json(&c.committer));
            fields.insert("message".into(), json!(c.message));
            fields.insert("change_id".into(), json!(change_id));
        }
        Kind::Tag => {
            let t: Tag = decode(id, &bytes)?;
            writeln!(w, "object {}", t.target)?;
            writeln!(w, "type {}", t.target_kind)?;
            writeln!(w, "name {}", t.name)?;
            writeln!(w, "tagger {}", sig_text(&t.tagger))?;
            message_text(&mut w, &t.message)?;
            fields.insert("target".into(), json!(t.target.to_hex()));
            fields.insert("target_kind".into(), json!(t.target_kind.name()));
            fields.insert("name".into(), json!(t.name));
            fields.insert("tagger".into(), sig_json(&t.tagger));
            fields.insert("message".into(), json!(t.message));
        }
        Kind::Root => {
            let r: Root = decode(id, &bytes)?;
            for (name, t) in &r.tables {
                writeln!(w, "table {t} {name}")?;
            }
            for (name, b) in &r.blobs {
                writeln!(w, "blob {b} {name}")?;
            }
            let mut packages = serde_json::Map::new();
            for (name, p) in &r.packages {
                writeln!(w, "package {name}")?;
                writeln!(w, "    source {}", p.source)?;
                writeln!(w, "    commit {}", p.commit)?;
                writeln!(w, "    content-hash {}", p.content_hash)?;
                writeln!(w, "    tables {}", p.tables.join(", "))?;
                writeln!(w, "    dependencies {}", p.dependencies.join(", "))?;
                let mut record = json!({
                    "source": p.source,
                    "commit": p.commit.to_hex(),
                    "content_hash": p.content_hash.to_hex(),
                    "tables": p.tables,
                    "dependencies": p.dependencies,
                });
                // Only version-2 roots record refs; version-1 output stays as it was.
                if let Some(r) = &p.source_ref {
                    writeln!(w, "    ref {r}")?;
                    if let Some(m) = record.as_object_mut() {
                        m.insert("ref".into(), json!(r));
                    }
                }
                packages.insert(name.clone(), record);
            }
            let map = |m: Vec<(String, String)>| {
                Value::Object(m.into_iter().map(|(k, v)| (k, json!(v))).collect())
            };
            fields.insert(
                "tables".into(),
                map(r
                    .tables
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_hex()))
                    .collect()),
            );
            fields.insert(
                "blobs".into(),
                map(r
                    .blobs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_hex()))
                    .collect()),
            );
            fields.insert("packages".into(), Value::Object(packages));
        }
        Kind::Table => {
            let t: Table = decode(id, &bytes)?;
            writeln!(w, "schema {}", t.schema)?;
            writeln!(w, "rows {}", t.rows)?;
            writeln!(w, "row-count {}", t.row_count)?;
            fields.insert("schema".into(), json!(t.schema.to_hex()));
            fields.insert("rows".into(), json!(t.rows.to_hex()));
            fields.insert("row_count".into(), json!(t.row_count));
        }
        Kind::Dict => {
            let tag = kodiak::id::hex_encode(&id.as_bytes()[..kodiak::store::TAG_LEN]);
            let level = payload.first().map_or(0, |b| *b as i8);
            writeln!(w, "size {}", payload.len())?;
            writeln!(w, "tag {tag}")?;
            writeln!(w, "level {level}")?;
            fields.insert("tag".into(), json!(tag));
            fields.insert("level".into(), json!(level));
        }
        Kind::Blob => {
            let b: Blob = decode(id, &bytes)?;
            writeln!(w, "size {}", b.data.len())?;
            writeln!(w)?;
            match as_text(&b.data) {
                Some(t) => {
                    w.write_all(t.as_bytes())?;
                    if !t.is_empty() && !t.ends_with('\n') {
                        writeln!(w)?;
                    }
                }
                None => w.write_all(hex_dump(&b.data).as_bytes())?,
            }
            fields.insert("data_hex".into(), json!(kodiak::id::hex_encode(&b.data)));
            fields.insert("text".into(), json!(as_text(&b.data)));
        }
        Kind::Schema => {
            let sc: Schema = decode(id, &bytes)?;
            let key: Vec<&str> = sc
                .primary_key()
                .iter()
                .map(|&i| sc.columns()[i].name.as_str())
                .collect();
            let mut cols = Vec::new();
            for c in sc.columns() {
                let default = c.default.as_ref().map(|d| d.render());
                writeln!(
                    w,
                    "column {} {}{}{} tag={:016x} slot={}",
                    c.name,
                    c.ty,
                    if c.nullable { "" } else { " NOT NULL" },
                    default
                        .as_ref()
                        .map(|d| format!(" DEFAULT {d}"))
                        .unwrap_or_default(),
                    c.tag,
                    c.slot
                )?;
                cols.push(json!({
                    "name": c.name,
                    "type": c.ty.to_string(),
                    "nullable": c.nullable,
                    "default": default,
                    "tag": format!("{:016x}", c.tag),
                    "slot": c.slot,
                }));
            }
            if sc.is_keyless() {
                writeln!(w, "keyless")?;
            } else {
                writeln!(w, "primary-key {}", key.join(", "))?;
            }
            for d in sc.dropped() {
                writeln!(w, "dropped tag={:016x} slot={} {}", d.tag, d.slot, d.ty)?;
            }
            fields.insert("columns".into(), Value::Array(cols));
            fields.insert("primary_key".into(), json!(key));
            fields.insert("keyless".into(), json!(sc.is_keyless()));
        }
        Kind::Node => {
            let n: Node = decode(id, &bytes)?;
            let leaf = n.is_leaf();
            writeln!(w, "level {}", n.level())?;
            writeln!(w, "entries {}", n.len())?;
            writeln!(w, "rows {}", n.row_count())?;
            let mut entries = Vec::with_capacity(n.len());
            for i in 0..n.len() {
                let key = kodiak::id::hex_encode(n.key(i));
                if leaf {
                    let value = kodiak::id::hex_encode(n.value(i));
                    writeln!(w, "{key} {value}")?;
                    entries.push(json!({"key": key, "value": value}));
                } else {
                    let (child, rows) = (n.child(i), n.child_rows(i));
                    writeln!(w, "{key} {child} {rows}")?;
                    entries.push(json!({"last_key": key, "child": child.to_hex(), "rows": rows}));
                }
            }
            fields.insert("level".into(), json!(n.level()));
            fields.insert("rows".into(), json!(n.row_count()));
            fields.insert("entries".into(), Value::Array(entries));
        }
    }
    drop(repo);
    if text.is_some() {
        let s = serde_json::to_string_pretty(&j)
            .map_err(|e| CliError::internal(format!("encoding JSON: {e}")))?;
        writeln!(out, "{s}")?;
    } else {
        out.write_all(&w)?;
    }
    Ok(())
}
