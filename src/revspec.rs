//! Revision syntax: `<name>[@{n}][~n|^n]…[:<table>]`, parsed without touching a repository.
//!
//! A name is `HEAD`, a branch, a tag, a full ref (`refs/…`) or a full or abbreviated commit id;
//! which one is decided when the spec is resolved against a repository.

use std::fmt;

/// One navigation step applied after the base revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// `~n`: the n-th generation ancestor along first parents (`~` alone is `~1`).
    Ancestor(u32),
    /// `^n`: the n-th parent (`^` alone is `^1`; `^0` is the commit itself).
    Parent(u32),
}

/// A parsed revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevSpec {
    /// `HEAD`, a ref name, or an id prefix; `@` alone is shorthand for `HEAD`.
    pub name: String,
    /// `@{n}`: the value the ref had n moves ago, from its reflog.
    pub reflog: Option<u32>,
    /// Steps applied in order.
    pub steps: Vec<Step>,
    /// `:<table>`: a table at that revision.
    pub table: Option<String>,
}

/// Why a revision string does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid revision '{input}': {reason}")]
pub struct RevParseError {
    /// The text given.
    pub input: String,
    /// What is wrong.
    pub reason: String,
}

impl RevSpec {
    /// Parses a revision string.
    pub fn parse(input: &str) -> Result<RevSpec, RevParseError> {
        let err = |reason: &str| RevParseError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        // Ref names may not contain ':', so the first ':' starts the table part.
        let (rev, table) = match input.split_once(':') {
            Some((r, t)) => {
                if t.is_empty() {
                    return Err(err("empty table name after ':'"));
                }
                (r, Some(t.to_string()))
            }
            None => (input, None),
        };
        let name_end = rev.find(['~', '^']).unwrap_or(rev.len());
        let (mut name, rest) = rev.split_at(name_end);
        let mut reflog = None;
        if let Some(at) = name.find("@{") {
            let inner = &name[at + 2..];
            let Some(num) = inner.strip_suffix('}') else {
                return Err(err("unterminated '@{'"));
            };
            let n: u32 = num
                .parse()
                .map_err(|_| err("'@{…}' takes a non-negative number of moves"))?;
            reflog = Some(n);
            name = &name[..at];
            if name.is_empty() {
                name = "HEAD";
            }
        }
        if name.is_empty() {
            return Err(err("missing a revision name"));
        }
        let name = if name == "@" { "HEAD" } else { name };
        let mut steps = Vec::new();
        let bytes = rest.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let op = bytes[i];
            i += 1;
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let n = if start == i {
                1
            } else {
                rest[start..i]
                    .parse::<u32>()
                    .map_err(|_| err("number after '~' or '^' is too large"))?
            };
            match op {
                b'~' => steps.push(Step::Ancestor(n)),
                b'^' => steps.push(Step::Parent(n)),
                _ => return Err(err("unexpected character after a '~' or '^' step")),
            }
        }
        Ok(RevSpec {
            name: name.to_string(),
            reflog,
            steps,
            table,
        })
    }
}

impl fmt::Display for RevSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(n) = self.reflog {
            write!(f, "@{{{n}}}")?;
        }
        for s in &self.steps {
            match s {
                Step::Ancestor(n) => write!(f, "~{n}")?,
                Step::Parent(n) => write!(f, "^{n}")?,
            }
        }
        if let Some(t) = &self.table {
            write!(f, ":{t}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RevSpec {
        RevSpec::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn parses_names_steps_reflog_and_tables() {
        assert_eq!(p("main").name, "main");
        assert_eq!(p("@").name, "HEAD");
        assert_eq!(p("HEAD~").steps, vec![Step::Ancestor(1)]);
        assert_eq!(
            p("main~2^2~").steps,
            vec![Step::Ancestor(2), Step::Parent(2), Step::Ancestor(1)]
        );
        assert_eq!(p("HEAD^0").steps, vec![Step::Parent(0)]);
        let r = p("main@{3}~1:orders");
        assert_eq!(r.name, "main");
        assert_eq!(r.reflog, Some(3));
        assert_eq!(r.steps, vec![Step::Ancestor(1)]);
        assert_eq!(r.table.as_deref(), Some("orders"));
        assert_eq!(p("@{2}").name, "HEAD");
        assert_eq!(p("@{2}").reflog, Some(2));
        assert_eq!(p("refs/tags/v1.0").name, "refs/tags/v1.0");
        assert_eq!(p("abc123:t").to_string(), "abc123:t");
        assert_eq!(p("main@{3}~1^2:orders").to_string(), "main@{3}~1^2:orders");
    }

    #[test]
    fn rejects_malformed_revisions() {
        for bad in [
            "",
            "~1",
            "main@{x}",
            "main@{1",
            "main:",
            "main~x",
            "main~99999999999",
        ] {
            assert!(RevSpec::parse(bad).is_err(), "{bad:?} parsed");
        }
        let e = RevSpec::parse("main@{x}").unwrap_err();
        assert!(e.to_string().contains("invalid revision 'main@{x}'"), "{e}");
    }
}
