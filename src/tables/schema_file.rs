//! Schema description files for `table import --schema`: the DDL `schema show` prints.
//!
//! ```text
//! CREATE TABLE t (          -- optional header line
//!   id INT NOT NULL,        -- one column per line: name TYPE [NOT NULL] [DEFAULT literal]
//!   "odd name" TEXT,
//!   PRIMARY KEY (id)        -- optional
//! );
//! ```
//! Trailing commas, blank lines and `--` comments are ignored; names may be double-quoted
//! (with `""` for a quote); a DEFAULT literal is a number, `true`/`false`, or a single-quoted
//! string (`''` for a quote) parsed as the column's type.

use crate::error::{Error, Result};
use crate::schema::{ColumnDef, Type, Value};

/// A parsed schema description: column definitions and primary key column names.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaSpec {
    /// Columns in order.
    pub columns: Vec<ColumnDef>,
    /// Primary key column names in key order (empty: none given).
    pub primary_key: Vec<String>,
}

/// Splits off a leading identifier (bare or double-quoted); returns it and the rest.
fn ident(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start();
    if let Some(rest) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            if c == '"' {
                if rest[i + 1..].starts_with('"') {
                    out.push('"');
                    chars.next();
                } else {
                    return Some((out, &rest[i + 1..]));
                }
            } else {
                out.push(c);
            }
        }
        None
    } else {
        let end = s
            .find(|c: char| c.is_whitespace() || c == ',' || c == ')' || c == '(')
            .unwrap_or(s.len());
        (end > 0).then(|| (s[..end].to_string(), &s[end..]))
    }
}

/// Parses a schema description (see the module documentation); `file` names it in errors.
pub fn parse_schema_spec(text: &str, file: &str) -> Result<SchemaSpec> {
    let mut spec = SchemaSpec {
        columns: Vec::new(),
        primary_key: Vec::new(),
    };
    for (n, raw) in text.lines().enumerate() {
        let line_no = n + 1;
        let bad = |why: String| Error::Invalid(format!("{file} line {line_no}: {why}"));
        let mut line = raw.trim();
        if let Some((before, _)) = split_comment(line) {
            line = before.trim();
        }
        let line = line.trim_end_matches(',').trim();
        if line.is_empty() || line == ");" || line == ")" {
            continue;
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("CREATE TABLE") {
            continue;
        }
        if let Some(rest) = upper.strip_prefix("PRIMARY KEY") {
            let start = line.len() - rest.len();
            let inner = line[start..]
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.trim_end().strip_suffix(')'))
                .ok_or_else(|| bad("expected PRIMARY KEY (col, …)".into()))?;
            let mut rest = inner;
            loop {
                let (name, r) = ident(rest).ok_or_else(|| bad("expected a column name".into()))?;
                spec.primary_key.push(name);
                let r = r.trim_start();
                match r.strip_prefix(',') {
                    Some(r) => rest = r,
                    None if r.is_empty() => break,
                    None => return Err(bad(format!("unexpected '{r}' in PRIMARY KEY"))),
                }
            }
            continue;
        }
        let (name, rest) = ident(line).ok_or_else(|| bad("expected a column name".into()))?;
        let rest = rest.trim();
        let upper_rest = rest.to_ascii_uppercase();
        let default_at = upper_rest
            .find(" DEFAULT ")
            .or_else(|| upper_rest.starts_with("DEFAULT ").then_some(0));
        let (head, default) = match default_at {
            Some(i) => (&rest[..i], Some(rest[i..].trim_start()[7..].trim())),
            None => (rest, None),
        };
        let head_upper = head.trim().to_ascii_uppercase();
        let (type_text, not_null) = match head_upper.strip_suffix("NOT NULL") {
            Some(t) => (&head.trim()[..t.len()], true),
            None => (head.trim(), false),
        };
        let ty: Type = type_text
            .trim()
            .parse()
            .map_err(|e| bad(format!("column {name}: {e}")))?;
        let mut def = ColumnDef::new(name.clone(), ty);
        if not_null {
            def = def.not_null();
        }
        if let Some(d) = default {
            let literal = match d.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
                Some(q) => q.replace("''", "'"),
                None => d.to_string(),
            };
            let v = Value::parse(&ty, &literal)
                .map_err(|e| bad(format!("default of column {name}: {e}")))?;
            def = def.with_default(v);
        }
        spec.columns.push(def);
    }
    if spec.columns.is_empty() {
        return Err(Error::Invalid(format!("{file}: no columns defined")));
    }
    Ok(spec)
}

/// Splits a line at a `--` comment outside quotes.
fn split_comment(line: &str) -> Option<(&str, &str)> {
    let mut quote: Option<char> = None;
    let bytes: Vec<char> = line.chars().collect();
    let mut pos = 0;
    for (i, c) in bytes.iter().enumerate() {
        match quote {
            Some(q) if *c == q => quote = None,
            Some(_) => {}
            None if *c == '"' || *c == '\'' => quote = Some(*c),
            None if *c == '-' && bytes.get(i + 1) == Some(&'-') => {
                return Some((&line[..pos], &line[pos..]));
            }
            None => {}
        }
        pos += c.len_utf8();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Schema;

    #[test]
    fn parses_the_ddl_schema_show_prints() {
        let s = Schema::new(
            "t",
            vec![
                ColumnDef::new("id", Type::Int).not_null(),
                ColumnDef::new("odd \"name\"", Type::Text).with_default(Value::Text("it's".into())),
                ColumnDef::new("price", Type::decimal(10, 2).unwrap_or(Type::Int)),
            ],
            &["id"],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let ddl = s.to_ddl("t");
        let spec = parse_schema_spec(&ddl, "s.sql").unwrap_or_else(|e| panic!("{e}\n{ddl}"));
        let names: Vec<&str> = spec.columns.iter().map(|c| c.name.as_str()).collect();
        let pk: Vec<&str> = spec.primary_key.iter().map(String::as_str).collect();
        let back = Schema::new("t", spec.columns.clone(), &pk).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, s, "{ddl}\n{names:?}");
    }

    #[test]
    fn simple_lines_and_errors() {
        let spec = parse_schema_spec("a int not null\nb text -- note\n\nPRIMARY KEY (a)\n", "f")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spec.columns.len(), 2);
        assert!(!spec.columns[0].nullable);
        assert_eq!(spec.primary_key, vec!["a".to_string()]);
        let e = parse_schema_spec("a int\nb nosuchtype\n", "f")
            .err()
            .map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|m| m.contains("f line 2") && m.contains("nosuchtype")),
            "{e:?}"
        );
        assert!(parse_schema_spec("-- nothing\n", "f").is_err());
    }
}
