//! Writers for a diff: a colored grid for people (`table`), JSON, CSV and SQL for programs,
//! and the `--stat`, `--summary` and `--name-only` overviews. Rows are streamed: no writer
//! holds more than a batch of rows in memory. The JSON and CSV layouts and the SQL dialect are
//! documented in `docs/diff.md`.

use std::io::Write;

use serde_json::{Value as Json, json};

use super::rows::{DiffColumns, DiffStats, RowChange, RowKind};
use super::schema::{create_table_sql, ident, literal};
use super::words::{long_texts, word_diff};
use super::{DiffOptions, TableDiff, TableKind};
use crate::error::Error;
use crate::id::{CommitId, RootId};
use crate::schema::Value;
use crate::store::Store;

/// Why writing a diff failed: the output, or reading the data.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Writing the output failed (a closed pipe, a full disk).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Reading or decoding the states failed.
    #[error(transparent)]
    Diff(#[from] Error),
}

type Result<T = ()> = std::result::Result<T, WriteError>;

/// The output format of rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A grid per table, colored on a terminal.
    Table,
    /// One JSON document.
    Json,
    /// CSV, one line per changed cell.
    Csv,
    /// SQL statements turning the old state into the new one.
    Sql,
}

/// What to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Schema and row changes.
    Full,
    /// Per table: rows added, modified and deleted and cells changed.
    Stat,
    /// Per table: how it changed (added, dropped, renamed, modified; data, schema).
    Summary,
    /// The names of the changed tables.
    NameOnly,
}

/// One compared state, for headers.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// What the user named (`HEAD`, `main~2`, `staged`, `working`, …).
    pub label: String,
    /// The commit, for a revision.
    pub commit: Option<CommitId>,
    /// The root.
    pub root: RootId,
}

impl Endpoint {
    fn to_json(&self) -> Json {
        json!({
            "label": self.label,
            "commit": self.commit.map(|c| c.to_hex()),
            "root": self.root.to_hex(),
        })
    }
}

/// Everything a writer needs besides the plan.
pub struct Context<'a> {
    /// The object store.
    pub store: &'a Store,
    /// The old state.
    pub from: &'a Endpoint,
    /// The new state.
    pub to: &'a Endpoint,
    /// Row filters and limit.
    pub options: &'a DiffOptions,
    /// Whether to use ANSI colors (table format only).
    pub color: bool,
}

/// Writes `plan` in `format` (or the overview `mode` asks for).
pub fn write(
    out: &mut dyn Write,
    cx: &Context<'_>,
    plan: &[TableDiff],
    format: Format,
    mode: Mode,
) -> Result {
    match (mode, format) {
        (Mode::NameOnly, _) => {
            for t in plan {
                writeln!(out, "{}", t.name())?;
            }
            Ok(())
        }
        (Mode::Summary, Format::Json) => summary_json(out, cx, plan),
        (Mode::Summary, _) => summary_text(out, plan),
        (Mode::Stat, Format::Json) => stat_json(out, cx, plan),
        (Mode::Stat, _) => stat_text(out, cx, plan),
        (Mode::Full, Format::Table) => table::write(out, cx, plan),
        (Mode::Full, Format::Json) => json_full(out, cx, plan),
        (Mode::Full, Format::Csv) => csv_full(out, cx, plan),
        (Mode::Full, Format::Sql) => sql_full(out, cx, plan),
    }
}

/// `data, schema` / `data` / `schema` / `rename only` for a summary line.
fn what_changed(t: &TableDiff) -> (bool, bool) {
    (t.data_changed(), t.schema_changed())
}

fn summary_text(out: &mut dyn Write, plan: &[TableDiff]) -> Result {
    for t in plan {
        let (data, schema) = what_changed(t);
        let mut parts = Vec::new();
        if data {
            parts.push("data");
        }
        if schema {
            parts.push("schema");
        }
        let name = match t.kind() {
            TableKind::Renamed => format!("{} -> {}", t.old_name().unwrap_or(""), t.name()),
            _ => t.name().to_string(),
        };
        if parts.is_empty() {
            writeln!(out, "{:<9}{name}", t.kind().as_str())?;
        } else {
            writeln!(out, "{:<9}{name} ({})", t.kind().as_str(), parts.join(", "))?;
        }
    }
    Ok(())
}

fn table_head_json(t: &TableDiff) -> serde_json::Map<String, Json> {
    let (data, schema) = what_changed(t);
    let mut m = serde_json::Map::new();
    m.insert("table".into(), json!(t.name()));
    m.insert("from_name".into(), json!(t.old_name()));
    m.insert("to_name".into(), json!(t.new_name()));
    m.insert("change".into(), json!(t.kind().as_str()));
    m.insert("data_changed".into(), json!(data));
    m.insert("schema_changed".into(), json!(schema));
    m
}

fn summary_json(out: &mut dyn Write, cx: &Context<'_>, plan: &[TableDiff]) -> Result {
    let tables: Vec<Json> = plan
        .iter()
        .map(|t| Json::Object(table_head_json(t)))
        .collect();
    let v = json!({"from": cx.from.to_json(), "to": cx.to.to_json(), "tables": tables});
    writeln!(out, "{}", to_text(&v)?)?;
    Ok(())
}

fn to_text(v: &Json) -> Result<String> {
    serde_json::to_string(v)
        .map_err(|e| WriteError::Diff(Error::Invalid(format!("encoding JSON: {e}"))))
}

fn stats_json(s: &DiffStats) -> Json {
    json!({
        "rows_added": s.rows_added,
        "rows_deleted": s.rows_deleted,
        "rows_modified": s.rows_modified,
        "cells_changed": s.cells_changed,
    })
}

fn stat_json(out: &mut dyn Write, cx: &Context<'_>, plan: &[TableDiff]) -> Result {
    let mut total = DiffStats::default();
    let mut tables = Vec::new();
    for t in plan {
        let s = t.stats(cx.store, &cx.options.filters)?;
        total.merge(&s);
        let mut m = table_head_json(t);
        m.insert("stats".into(), stats_json(&s));
        tables.push(Json::Object(m));
    }
    let v = json!({"from": cx.from.to_json(), "to": cx.to.to_json(), "tables": tables,
        "total": stats_json(&total)});
    writeln!(out, "{}", to_text(&v)?)?;
    Ok(())
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn stat_text(out: &mut dyn Write, cx: &Context<'_>, plan: &[TableDiff]) -> Result {
    let names: Vec<String> = plan
        .iter()
        .map(|t| match t.kind() {
            TableKind::Renamed => format!("{} -> {}", t.old_name().unwrap_or(""), t.name()),
            _ => t.name().to_string(),
        })
        .collect();
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let mut total = DiffStats::default();
    for (t, name) in plan.iter().zip(&names) {
        let s = t.stats(cx.store, &cx.options.filters)?;
        total.merge(&s);
        let mut line = format!(
            " {name:<width$} | {} added, {} modified, {} deleted, {}",
            plural(s.rows_added, "row", "rows"),
            s.rows_modified,
            s.rows_deleted,
            plural(s.cells_changed, "cell changed", "cells changed")
        );
        match t.kind() {
            TableKind::Added => line.push_str(" (new table)"),
            TableKind::Dropped => line.push_str(" (table dropped)"),
            _ if t.schema_changed() => line.push_str(" (schema changed)"),
            _ => {}
        }
        writeln!(out, "{line}")?;
    }
    writeln!(
        out,
        " {} changed, {} added, {} modified, {} deleted, {}",
        plural(plan.len() as u64, "table", "tables"),
        plural(total.rows_added, "row", "rows"),
        total.rows_modified,
        total.rows_deleted,
        plural(total.cells_changed, "cell changed", "cells changed")
    )?;
    Ok(())
}

/// A value as JSON: numbers and booleans as themselves (floats only when finite and
/// non-zero, so -0.0 keeps its sign), NULL as null, everything else as its text form.
pub fn json_value(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) if f.is_finite() && *f != 0.0 => Json::from(*f),
        other => Json::String(other.render()),
    }
}

fn row_object(cols: &DiffColumns, row: &[Value], old_side: bool) -> Json {
    let mut m = serde_json::Map::new();
    for (c, v) in cols.cols.iter().zip(row) {
        let present = if old_side {
            c.old.is_some()
        } else {
            c.new.is_some()
        };
        if present {
            m.insert(c.name.clone(), json_value(v));
        }
    }
    Json::Object(m)
}

fn key_object(cols: &DiffColumns, row: &[Value]) -> Json {
    let mut m = serde_json::Map::new();
    for (c, v) in cols.cols.iter().zip(row) {
        if c.key {
            m.insert(c.name.clone(), json_value(v));
        }
    }
    Json::Object(m)
}

/// A row change as JSON (see `docs/diff.md`).
pub fn change_json(cols: &DiffColumns, c: &RowChange) -> Json {
    let mut m = serde_json::Map::new();
    m.insert("change".into(), json!(c.kind.as_str()));
    if cols.keyless {
        m.insert("count".into(), json!(c.count));
    } else {
        m.insert("key".into(), key_object(cols, c.shown()));
    }
    match (c.kind, &c.old, &c.new) {
        (RowKind::Added, _, Some(new)) => {
            m.insert("to".into(), row_object(cols, new, false));
        }
        (RowKind::Deleted, Some(old), _) => {
            m.insert("from".into(), row_object(cols, old, true));
        }
        (RowKind::Modified, Some(old), Some(new)) => {
            let mut cells = serde_json::Map::new();
            for (i, col) in cols.cols.iter().enumerate() {
                if !c.changed[i] {
                    continue;
                }
                let mut cell = serde_json::Map::new();
                cell.insert("from".into(), json_value(&old[i]));
                cell.insert("to".into(), json_value(&new[i]));
                if let Some((a, b)) = long_texts(&old[i], &new[i]) {
                    let words: Vec<Json> = word_diff(a, b)
                        .into_iter()
                        .map(|(op, t)| json!([op.symbol(), t]))
                        .collect();
                    cell.insert("words".into(), Json::Array(words));
                }
                cells.insert(col.name.clone(), Json::Object(cell));
            }
            m.insert("cells".into(), Json::Object(cells));
        }
        _ => {}
    }
    Json::Object(m)
}

fn json_full(out: &mut dyn Write, cx: &Context<'_>, plan: &[TableDiff]) -> Result {
    write!(
        out,
        "{{\"from\":{},\"to\":{},\"tables\":[",
        to_text(&cx.from.to_json())?,
        to_text(&cx.to.to_json())?
    )?;
    for (ti, t) in plan.iter().enumerate() {
        let mut head = table_head_json(t);
        let cols = t.columns();
        head.insert("keyless".into(), json!(cols.keyless));
        let key: Vec<&str> = cols
            .cols
            .iter()
            .filter(|c| c.key)
            .map(|c| c.name.as_str())
            .collect();
        head.insert("primary_key".into(), json!(key));
        let schema = match t.kind() {
            TableKind::Added | TableKind::Dropped => {
                let s = t.new.as_ref().or(t.old.as_ref());
                json!({"columns": s.map(|s| s.schema.columns().iter()
                    .map(super::schema::column_json).collect::<Vec<_>>()), "primary_key": Json::Null})
            }
            _ => t.schema.to_json(),
        };
        head.insert("schema".into(), schema);
        let head_text = to_text(&Json::Object(head))?;
        // The object is left open: rows and stats follow.
        let open = head_text.strip_suffix('}').unwrap_or(&head_text);
        write!(out, "{}\n{open},\"rows\":[", if ti == 0 { "" } else { "," })?;
        let mut stats = DiffStats::default();
        let mut rows = t.rows(cx.store, &cx.options.filters, cx.options.limit)?;
        let mut first = true;
        while let Some(c) = rows.next_change()? {
            stats.add(&c);
            write!(
                out,
                "{}\n{}",
                if first { "" } else { "," },
                to_text(&change_json(rows.columns(), &c))?
            )?;
            first = false;
        }
        write!(out, "\n],\"stats\":{}}}", to_text(&stats_json(&stats))?)?;
    }
    writeln!(out, "\n]}}")?;
    Ok(())
}

/// A CSV field: NULL is an empty unquoted field, the empty string `""`; fields with commas,
/// quotes, line breaks or edge spaces are quoted.
fn csv_field(v: Option<&str>) -> String {
    match v {
        None => String::new(),
        Some("") => "\"\"".into(),
        Some(s) if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') => {
            format!("\"{}\"", s.replace('"', "\"\""))
        }
        Some(s) => s.to_string(),
    }
}

fn value_field(v: &Value) -> String {
    match v {
        Value::Null => csv_field(None),
        other => csv_field(Some(&other.render())),
    }
}

/// The key as `col=value` pairs joined by `, ` (empty for keyless tables).
fn key_text(cols: &DiffColumns, row: &[Value]) -> String {
    cols.cols
        .iter()
        .zip(row)
        .filter(|(c, _)| c.key)
        .map(|(c, v)| format!("{}={}", c.name, v.render()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn csv_full(out: &mut dyn Write, cx: &Context<'_>, plan: &[TableDiff]) -> Result {
    writeln!(out, "table,row,change,key,column,old,new")?;
    for t in plan {
        let table = csv_field(Some(t.name()));
        let mut rows = t.rows(cx.store, &cx.options.filters, cx.options.limit)?;
        let mut n = 0u64;
        while let Some(c) = rows.next_change()? {
            let cols = rows.columns();
            let key = if cols.keyless {
                csv_field(None)
            } else {
                csv_field(Some(&key_text(cols, c.shown())))
            };
            for _ in 0..c.count {
                n += 1;
                for (i, col) in cols.cols.iter().enumerate() {
                    let (old, new) = match c.kind {
                        RowKind::Added if col.new.is_some() => {
                            (String::new(), value_field(&c.shown()[i]))
                        }
                        RowKind::Deleted if col.old.is_some() => {
                            (value_field(&c.shown()[i]), String::new())
                        }
                        RowKind::Modified if c.changed[i] => match (&c.old, &c.new) {
                            (Some(o), Some(nw)) => (value_field(&o[i]), value_field(&nw[i])),
                            _ => continue,
                        },
                        _ => continue,
                    };
                    writeln!(
                        out,
                        "{table},{n},{},{key},{},{old},{new}",
                        c.kind.as_str(),
                        csv_field(Some(&col.name))
                    )?;
                }
                if c.kind == RowKind::Modified {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// `"a" IS x AND "b" IS y` over the columns `which` of `row` that exist on the side.
fn conditions(
    cols: &DiffColumns,
    row: &[Value],
    which: impl Fn(usize) -> bool,
    op: &str,
) -> String {
    let parts: Vec<String> = cols
        .cols
        .iter()
        .enumerate()
        .filter(|(i, _)| which(*i))
        .map(|(i, c)| format!("{} {op} {}", ident(&c.name), literal(&row[i])))
        .collect();
    parts.join(" AND ")
}

fn sql_full(out: &mut dyn Write, cx: &Context<'_>, plan: &[TableDiff]) -> Result {
    writeln!(
        out,
        "-- kodiak diff {} {}",
        cx.from.label.replace('\n', " "),
        cx.to.label.replace('\n', " ")
    )?;
    // Schema first: drops, renames, column changes, then new tables.
    for t in plan {
        if t.kind() == TableKind::Dropped {
            writeln!(out, "DROP TABLE {};", ident(t.name()))?;
        }
    }
    for t in plan {
        if let (Some(o), Some(n)) = (&t.old, &t.new)
            && o.name != n.name
        {
            writeln!(
                out,
                "ALTER TABLE {} RENAME TO {};",
                ident(&o.name),
                ident(&n.name)
            )?;
        }
    }
    for t in plan {
        if t.old.is_some() && t.new.is_some() {
            for s in t.schema.to_sql(t.name()) {
                writeln!(out, "{s}")?;
            }
        }
    }
    for t in plan {
        if let (None, Some(n)) = (&t.old, &t.new) {
            writeln!(out, "{}", create_table_sql(&n.name, &n.schema))?;
        }
    }
    for t in plan {
        if t.new.is_none() {
            continue;
        }
        let table = ident(t.name());
        let mut rows = t.rows(cx.store, &cx.options.filters, cx.options.limit)?;
        while let Some(c) = rows.next_change()? {
            let cols = rows.columns();
            match (c.kind, &c.old, &c.new) {
                (RowKind::Added, _, Some(new)) => {
                    let present: Vec<usize> = (0..cols.cols.len())
                        .filter(|&i| cols.cols[i].new.is_some())
                        .collect();
                    let names: Vec<String> =
                        present.iter().map(|&i| ident(&cols.cols[i].name)).collect();
                    let values: Vec<String> = present.iter().map(|&i| literal(&new[i])).collect();
                    for _ in 0..c.count {
                        writeln!(
                            out,
                            "INSERT INTO {table} ({}) VALUES ({});",
                            names.join(", "),
                            values.join(", ")
                        )?;
                    }
                }
                (RowKind::Deleted, Some(old), _) if cols.keyless => {
                    // Rows are only told apart by their values: delete `count` copies.
                    let cond = conditions(cols, old, |i| cols.cols[i].new.is_some(), "IS");
                    writeln!(
                        out,
                        "DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {cond} LIMIT {});",
                        c.count
                    )?;
                }
                (RowKind::Deleted, Some(old), _) => {
                    let cond = conditions(cols, old, |i| cols.cols[i].key, "=");
                    writeln!(out, "DELETE FROM {table} WHERE {cond};")?;
                }
                (RowKind::Modified, _, Some(new)) => {
                    let sets: Vec<String> = cols
                        .cols
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| c.changed[*i])
                        .map(|(i, col)| format!("{} = {}", ident(&col.name), literal(&new[i])))
                        .collect();
                    let cond = conditions(cols, new, |i| cols.cols[i].key, "=");
                    writeln!(out, "UPDATE {table} SET {} WHERE {cond};", sets.join(", "))?;
                }
                _ => {}
            }
        }
    }
    Ok(())
}

mod table {
    //! The grid format, modelled on `dolt diff`: per table a header, the schema changes, and
    //! a grid of changed rows marked `+` (added), `-` (deleted) and `~` (modified: only the
    //! changed cells, as `old → new`, next to the key).

    use std::io::Write;

    use super::{Context, Result, WriteError};
    use crate::diff::rows::{DiffColumns, RowChange, RowKind};
    use crate::diff::words::{WordOp, long_texts, word_diff};
    use crate::diff::{TableDiff, TableKind};
    use crate::schema::Value;

    /// Rows rendered before column widths are fixed and printed.
    const BATCH: usize = 512;

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Style {
        Plain,
        Bold,
        Added,
        Deleted,
        Changed,
    }

    impl Style {
        fn code(self) -> &'static str {
            match self {
                Style::Plain => "",
                Style::Bold => "\x1b[1m",
                Style::Added => "\x1b[32m",
                Style::Deleted => "\x1b[31m",
                Style::Changed => "\x1b[33m",
            }
        }
    }

    /// A cell: styled pieces of text.
    type Cell = Vec<(Style, String)>;

    fn width(c: &Cell) -> usize {
        c.iter().map(|(_, s)| s.chars().count()).sum()
    }

    /// Text shown in a cell: control characters escaped so a row stays on one line.
    fn shown(v: &Value) -> String {
        let s = v.render();
        if s.chars().any(char::is_control) {
            s.chars()
                .map(|c| match c {
                    '\n' => "\\n".to_string(),
                    '\r' => "\\r".to_string(),
                    '\t' => "\\t".to_string(),
                    c if c.is_control() => c.escape_unicode().to_string(),
                    c => c.to_string(),
                })
                .collect()
        } else {
            s
        }
    }

    fn escape(s: &str) -> String {
        shown(&Value::Text(s.to_string()))
    }

    fn row_cells(cols: &DiffColumns, c: &RowChange) -> Vec<Cell> {
        let (marker, style) = match c.kind {
            RowKind::Added if c.count > 1 => (format!("+{}", c.count), Style::Added),
            RowKind::Added => ("+".to_string(), Style::Added),
            RowKind::Deleted if c.count > 1 => (format!("-{}", c.count), Style::Deleted),
            RowKind::Deleted => ("-".to_string(), Style::Deleted),
            RowKind::Modified => ("~".to_string(), Style::Changed),
        };
        let mut cells = vec![vec![(style, marker)]];
        for (i, col) in cols.cols.iter().enumerate() {
            let cell = match (c.kind, &c.old, &c.new) {
                (RowKind::Added, _, Some(new)) if col.new.is_some() => {
                    vec![(Style::Added, shown(&new[i]))]
                }
                (RowKind::Deleted, Some(old), _) if col.old.is_some() => {
                    vec![(Style::Deleted, shown(&old[i]))]
                }
                (RowKind::Modified, Some(old), Some(new)) if c.changed[i] => {
                    match long_texts(&old[i], &new[i]) {
                        Some((a, b)) => word_diff(a, b)
                            .into_iter()
                            .map(|(op, t)| match op {
                                WordOp::Equal => (Style::Plain, escape(&t)),
                                WordOp::Delete => (Style::Deleted, format!("[-{}-]", escape(&t))),
                                WordOp::Insert => (Style::Added, format!("{{+{}+}}", escape(&t))),
                            })
                            .collect(),
                        None => vec![
                            (Style::Deleted, shown(&old[i])),
                            (Style::Plain, " → ".to_string()),
                            (Style::Added, shown(&new[i])),
                        ],
                    }
                }
                (RowKind::Modified, _, Some(new)) if col.key => {
                    vec![(Style::Plain, shown(&new[i]))]
                }
                _ => Vec::new(),
            };
            cells.push(cell);
        }
        cells
    }

    struct Grid<'o> {
        out: &'o mut dyn Write,
        color: bool,
        widths: Vec<usize>,
        header: Vec<Cell>,
        printed_header: bool,
    }

    impl Grid<'_> {
        fn rule(&mut self) -> Result {
            let mut s = String::from("+");
            for w in &self.widths {
                s.push_str(&"-".repeat(w + 2));
                s.push('+');
            }
            writeln!(self.out, "{s}")?;
            Ok(())
        }

        fn line(&mut self, cells: &[Cell]) -> Result {
            let mut s = String::from("|");
            for (cell, w) in cells.iter().zip(&self.widths) {
                s.push(' ');
                for (style, text) in cell {
                    if self.color && *style != Style::Plain {
                        s.push_str(style.code());
                        s.push_str(text);
                        s.push_str("\x1b[0m");
                    } else {
                        s.push_str(text);
                    }
                }
                s.push_str(&" ".repeat(w.saturating_sub(width(cell)) + 1));
                s.push('|');
            }
            writeln!(self.out, "{s}")?;
            Ok(())
        }

        fn flush(&mut self, batch: &mut Vec<Vec<Cell>>) -> Result {
            let before = self.widths.clone();
            for row in batch.iter() {
                for (w, c) in self.widths.iter_mut().zip(row) {
                    *w = (*w).max(width(c));
                }
            }
            if !self.printed_header {
                self.rule()?;
                let header = self.header.clone();
                self.line(&header)?;
                self.rule()?;
                self.printed_header = true;
            } else if before != self.widths {
                self.rule()?;
            }
            for row in batch.drain(..) {
                self.line(&row)?;
            }
            Ok(())
        }
    }

    fn heading(out: &mut dyn Write, color: bool, text: &str) -> Result {
        if color {
            writeln!(out, "\x1b[1m{text}\x1b[0m")?;
        } else {
            writeln!(out, "{text}")?;
        }
        Ok(())
    }

    pub(super) fn write(out: &mut dyn Write, cx: &Context<'_>, plan: &[TableDiff]) -> Result {
        for t in plan {
            let a = t.old_name().unwrap_or(t.name());
            heading(
                out,
                cx.color,
                &format!("diff --kodiak a/{a} b/{}", t.name()),
            )?;
            match t.kind() {
                TableKind::Added => heading(out, cx.color, "added table")?,
                TableKind::Dropped => heading(out, cx.color, "deleted table")?,
                TableKind::Renamed => {
                    heading(out, cx.color, &format!("rename from {a}"))?;
                    heading(out, cx.color, &format!("rename to {}", t.name()))?;
                }
                TableKind::Modified => {}
            }
            let from = t
                .old_name()
                .map_or("/dev/null".to_string(), |n| format!("a/{n}"));
            let to = t
                .new_name()
                .map_or("/dev/null".to_string(), |n| format!("b/{n}"));
            heading(out, cx.color, &format!("--- {from}"))?;
            heading(out, cx.color, &format!("+++ {to}"))?;
            for line in t.schema.describe() {
                writeln!(out, "  {line}")?;
            }
            write_rows(out, cx, t)?;
        }
        Ok(())
    }

    fn write_rows(out: &mut dyn Write, cx: &Context<'_>, t: &TableDiff) -> Result {
        let mut rows = t.rows(cx.store, &cx.options.filters, cx.options.limit)?;
        let cols = rows.columns().clone();
        let mut header: Vec<Cell> = vec![Vec::new()];
        header.extend(
            cols.cols
                .iter()
                .map(|c| vec![(Style::Bold, escape(&c.name))]),
        );
        let mut grid = Grid {
            widths: header.iter().map(width).collect(),
            out,
            color: cx.color,
            header,
            printed_header: false,
        };
        let mut batch = Vec::new();
        while let Some(c) = rows.next_change()? {
            batch.push(row_cells(&cols, &c));
            if batch.len() == BATCH {
                grid.flush(&mut batch)?;
            }
        }
        if !batch.is_empty() {
            grid.flush(&mut batch)?;
        }
        if grid.printed_header {
            grid.rule()?;
        }
        Ok::<(), WriteError>(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_distinguish_null_and_empty() {
        assert_eq!(csv_field(None), "");
        assert_eq!(csv_field(Some("")), "\"\"");
        assert_eq!(csv_field(Some("a,b")), "\"a,b\"");
        assert_eq!(csv_field(Some("say \"hi\"")), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field(Some(" x")), "\" x\"");
        assert_eq!(csv_field(Some("plain")), "plain");
    }

    #[test]
    fn json_values_keep_types() {
        assert_eq!(json_value(&Value::Int(3)), json!(3));
        assert_eq!(json_value(&Value::Null), Json::Null);
        assert_eq!(json_value(&Value::Float(-0.0)), json!("-0.0"));
        assert_eq!(json_value(&Value::Text("x".into())), json!("x"));
    }
}
