//! Configuration files in a small git-config-like text format, and identity/time settings.
//!
//! ```text
//! # comment
//! [user]
//!     name = Alice Example
//!     email = "alice@example.com"
//! [remote "origin"]
//!     url = /srv/data
//! ```
//!
//! Keys are `section.name` or `section.subsection.name`; section and name are ASCII
//! case-insensitive (stored lowercase), subsections are case-sensitive. The last value of a key
//! wins. Editing keeps every other line (comments included) as it was, and files are written
//! atomically (temporary file in the same directory, then rename).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A parsed configuration key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigKey {
    /// Section, lowercase.
    pub section: String,
    /// Optional subsection, case kept.
    pub subsection: Option<String>,
    /// Variable name, lowercase.
    pub name: String,
}

fn valid_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
}

impl ConfigKey {
    /// Parses `section.name` or `section.sub.section.name`.
    pub fn parse(key: &str) -> Result<Self> {
        let bad = |why: &str| Error::Invalid(format!("invalid config key '{key}': {why}"));
        let (section, rest) = key
            .split_once('.')
            .ok_or_else(|| bad("expected section.name"))?;
        let (subsection, name) = match rest.rsplit_once('.') {
            Some((sub, name)) => (Some(sub.to_string()), name),
            None => (None, rest),
        };
        if !valid_ident(section) {
            return Err(bad(
                "the section must be letters, digits and '-', starting with a letter",
            ));
        }
        if !valid_ident(name) {
            return Err(bad(
                "the name must be letters, digits and '-', starting with a letter",
            ));
        }
        if let Some(sub) = &subsection
            && (sub.is_empty() || sub.contains(['\n', '"', '\\']))
        {
            return Err(bad(
                "the subsection is empty or contains a newline, '\"' or '\\'",
            ));
        }
        Ok(ConfigKey {
            section: section.to_ascii_lowercase(),
            subsection,
            name: name.to_ascii_lowercase(),
        })
    }

    fn same_section(&self, section: &str, subsection: Option<&str>) -> bool {
        self.section == section && self.subsection.as_deref() == subsection
    }
}

impl std::fmt::Display for ConfigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.subsection {
            Some(sub) => write!(f, "{}.{}.{}", self.section, sub, self.name),
            None => write!(f, "{}.{}", self.section, self.name),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Line {
    /// `[section]` or `[section "sub"]`.
    Section {
        raw: String,
        section: String,
        subsection: Option<String>,
    },
    /// `name = value` inside the preceding section.
    Entry {
        raw: String,
        key: ConfigKey,
        value: String,
    },
    /// Blank line or comment.
    Other(String),
}

/// One configuration file: its lines, parsed, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigFile {
    lines: Vec<Line>,
}

fn strip_comment_and_unquote(text: &str, what: &dyn Fn(&str) -> Error) -> Result<String> {
    let mut out = String::new();
    let mut in_quotes = false;
    let mut pending_space = String::new();
    let mut chars = text.trim().chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push_str(&pending_space);
                pending_space.clear();
                in_quotes = !in_quotes;
            }
            '\\' => {
                out.push_str(&pending_space);
                pending_space.clear();
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    other => {
                        return Err(what(&format!(
                            "unknown escape '\\{}'",
                            other.map_or(String::new(), String::from)
                        )));
                    }
                }
            }
            '#' | ';' if !in_quotes => break,
            c if c.is_whitespace() && !in_quotes => pending_space.push(c),
            c => {
                out.push_str(&pending_space);
                pending_space.clear();
                out.push(c);
            }
        }
    }
    if in_quotes {
        return Err(what("unterminated quote"));
    }
    Ok(out)
}

/// Formats a value so that [`ConfigFile::parse`] reads it back unchanged.
fn quote_value(value: &str) -> String {
    let needs_quotes = value.is_empty()
        || value.starts_with(char::is_whitespace)
        || value.ends_with(char::is_whitespace)
        || value.contains(['#', ';'])
        || value.contains("  ");
    let mut out = String::new();
    if needs_quotes {
        out.push('"');
    }
    for c in value.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    if needs_quotes {
        out.push('"');
    }
    out
}

impl ConfigFile {
    /// Parses config text; `origin` (a path) names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let mut lines = Vec::new();
        let mut current: Option<(String, Option<String>)> = None;
        for (n, raw) in text.lines().enumerate() {
            let at = |why: &str| Error::Invalid(format!("{origin}:{}: {why}", n + 1));
            let t = raw.trim();
            if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
                lines.push(Line::Other(raw.to_string()));
                continue;
            }
            if let Some(rest) = t.strip_prefix('[') {
                let end = rest
                    .find(']')
                    .ok_or_else(|| at("missing ']' in section header"))?;
                let after = rest[end + 1..].trim();
                if !(after.is_empty() || after.starts_with('#') || after.starts_with(';')) {
                    return Err(at("unexpected text after section header"));
                }
                let inner = rest[..end].trim();
                let (section, subsection) = match inner.split_once(char::is_whitespace) {
                    Some((s, sub)) => {
                        let sub = sub.trim();
                        let sub = sub
                            .strip_prefix('"')
                            .and_then(|s| s.strip_suffix('"'))
                            .ok_or_else(|| at("subsection must be in double quotes"))?;
                        (s, Some(sub.replace("\\\"", "\"").replace("\\\\", "\\")))
                    }
                    None => (inner, None),
                };
                if !valid_ident(section) {
                    return Err(at(&format!("invalid section name '{section}'")));
                }
                let section = section.to_ascii_lowercase();
                current = Some((section.clone(), subsection.clone()));
                lines.push(Line::Section {
                    raw: raw.to_string(),
                    section,
                    subsection,
                });
                continue;
            }
            let Some((section, subsection)) = &current else {
                return Err(at("variable outside any [section]"));
            };
            let (name, value) = match t.split_once('=') {
                Some((k, v)) => (k.trim(), strip_comment_and_unquote(v, &at)?),
                // A bare name means boolean true, as in git.
                None => (t, "true".to_string()),
            };
            if !valid_ident(name) {
                return Err(at(&format!("invalid variable name '{name}'")));
            }
            lines.push(Line::Entry {
                raw: raw.to_string(),
                key: ConfigKey {
                    section: section.clone(),
                    subsection: subsection.clone(),
                    name: name.to_ascii_lowercase(),
                },
                value,
            });
        }
        Ok(ConfigFile { lines })
    }

    /// Reads a file; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(Error::io("reading", path, e)),
        }
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            match line {
                Line::Section { raw, .. } | Line::Entry { raw, .. } | Line::Other(raw) => {
                    out.push_str(raw)
                }
            }
            out.push('\n');
        }
        out
    }

    /// Writes the file atomically (temporary file + rename), creating parent directories.
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| Error::io("creating a temporary file in", dir, e))?;
        tmp.write_all(self.to_text().as_bytes())
            .and_then(|_| tmp.as_file().sync_all())
            .map_err(|e| Error::io("writing", tmp.path().to_path_buf(), e))?;
        tmp.persist(path)
            .map_err(|e| Error::io("replacing", path, e.error))?;
        Ok(())
    }

    /// The last value of `key`.
    pub fn get(&self, key: &ConfigKey) -> Option<&str> {
        self.lines.iter().rev().find_map(|l| match l {
            Line::Entry { key: k, value, .. } if k == key => Some(value.as_str()),
            _ => None,
        })
    }

    /// Every `(key, value)` in file order.
    pub fn entries(&self) -> Vec<(ConfigKey, String)> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                Line::Entry { key, value, .. } => Some((key.clone(), value.clone())),
                _ => None,
            })
            .collect()
    }

    /// Sets `key`: replaces its last occurrence, or appends it to its section (created if
    /// missing). Earlier duplicates are removed so the file holds one value.
    pub fn set(&mut self, key: &ConfigKey, value: &str) {
        let raw = format!("\t{} = {}", key.name, quote_value(value));
        let entry = Line::Entry {
            raw,
            key: key.clone(),
            value: value.to_string(),
        };
        let last = self
            .lines
            .iter()
            .rposition(|l| matches!(l, Line::Entry { key: k, .. } if k == key));
        if let Some(i) = last {
            self.lines[i] = entry;
            let mut idx = 0;
            self.lines.retain(|l| {
                let keep = idx >= i || !matches!(l, Line::Entry { key: k, .. } if k == key);
                idx += 1;
                keep
            });
            return;
        }
        // Insert after the last line belonging to the last matching section.
        let mut insert_at = None;
        let mut in_section = false;
        for (i, l) in self.lines.iter().enumerate() {
            match l {
                Line::Section {
                    section,
                    subsection,
                    ..
                } => {
                    in_section = key.same_section(section, subsection.as_deref());
                    if in_section {
                        insert_at = Some(i + 1);
                    }
                }
                Line::Entry { .. } if in_section => insert_at = Some(i + 1),
                _ => {}
            }
        }
        match insert_at {
            Some(i) => self.lines.insert(i, entry),
            None => {
                let header = match &key.subsection {
                    Some(sub) => format!(
                        "[{} \"{}\"]",
                        key.section,
                        sub.replace('\\', "\\\\").replace('"', "\\\"")
                    ),
                    None => format!("[{}]", key.section),
                };
                self.lines.push(Line::Section {
                    raw: header,
                    section: key.section.clone(),
                    subsection: key.subsection.clone(),
                });
                self.lines.push(entry);
            }
        }
    }

    /// Removes every occurrence of `key`; returns whether any existed.
    pub fn unset(&mut self, key: &ConfigKey) -> bool {
        let before = self.lines.len();
        self.lines
            .retain(|l| !matches!(l, Line::Entry { key: k, .. } if k == key));
        self.lines.len() != before
    }
}

/// Where the global configuration lives: `$KODIAK_CONFIG_HOME/config`, else
/// `$XDG_CONFIG_HOME/kodiak/config`, else `$HOME/.config/kodiak/config`.
pub fn global_config_path() -> Result<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = var("KODIAK_CONFIG_HOME") {
        return Ok(dir.join("config"));
    }
    if let Some(dir) = var("XDG_CONFIG_HOME") {
        return Ok(dir.join("kodiak").join("config"));
    }
    if let Some(home) = var("HOME") {
        return Ok(home.join(".config").join("kodiak").join("config"));
    }
    Err(Error::Invalid(
        "cannot locate the global config: none of KODIAK_CONFIG_HOME, XDG_CONFIG_HOME, HOME is set"
            .into(),
    ))
}

/// The global and repository configuration, layered: repository values win.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The global file, if its location is known.
    pub global: ConfigFile,
    /// The repository's file, when inside a repository.
    pub repo: Option<ConfigFile>,
}

impl Config {
    /// Loads the global file and, if given, the repository's `config` file.
    pub fn load(repo_config: Option<&Path>) -> Result<Self> {
        let global = match global_config_path() {
            Ok(p) => ConfigFile::load(&p)?,
            Err(_) => ConfigFile::default(),
        };
        let repo = repo_config.map(ConfigFile::load).transpose()?;
        Ok(Config { global, repo })
    }

    /// The effective value of a key.
    pub fn get(&self, key: &ConfigKey) -> Option<&str> {
        self.repo
            .as_ref()
            .and_then(|r| r.get(key))
            .or_else(|| self.global.get(key))
    }

    /// The effective value of a `section.name` key given as text (invalid keys have no value).
    pub fn get_str(&self, key: &str) -> Option<&str> {
        ConfigKey::parse(key).ok().and_then(|k| self.get(&k))
    }
}

/// Seconds since the epoch and offset in minutes east of UTC.
pub type Timestamp = (i64, i16);

/// Parses `KODIAK_TIMESTAMP`: `<seconds>` or `<seconds> +HHMM` / `-HHMM`.
pub fn parse_timestamp(text: &str) -> Result<Timestamp> {
    let bad = || {
        Error::Invalid(format!(
            "invalid KODIAK_TIMESTAMP '{text}': expected seconds since the epoch, optionally followed by an offset like +0130"
        ))
    };
    let mut parts = text.split_whitespace();
    let secs: i64 = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let offset = match parts.next() {
        None => 0,
        Some(off) => {
            let (sign, digits) = match off.as_bytes().first() {
                Some(b'+') => (1i16, &off[1..]),
                Some(b'-') => (-1i16, &off[1..]),
                _ => return Err(bad()),
            };
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let h: i16 = digits[..2].parse().map_err(|_| bad())?;
            let m: i16 = digits[2..].parse().map_err(|_| bad())?;
            if h > 23 || m > 59 {
                return Err(bad());
            }
            sign * (h * 60 + m)
        }
    };
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok((secs, offset))
}

/// The time to record now: `KODIAK_TIMESTAMP` if set, else the system clock at offset +0000.
pub fn now() -> Result<Timestamp> {
    match std::env::var("KODIAK_TIMESTAMP") {
        Ok(t) if !t.trim().is_empty() => parse_timestamp(&t),
        _ => {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            Ok((secs, 0))
        }
    }
}

/// The configured identity: `KODIAK_AUTHOR_NAME`/`KODIAK_AUTHOR_EMAIL`, else `user.name`/
/// `user.email`. `None` for whichever is unset.
pub fn identity(config: &Config) -> (Option<String>, Option<String>) {
    identity_with(config, |k| std::env::var(k).ok())
}

/// [`identity`] with an explicit environment lookup; blank values count as unset.
pub fn identity_with(
    config: &Config,
    env: impl Fn(&str) -> Option<String>,
) -> (Option<String>, Option<String>) {
    let var = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let conf = |k: &str| {
        config
            .get_str(k)
            .filter(|v| !v.trim().is_empty())
            .map(str::to_string)
    };
    let name = var("KODIAK_AUTHOR_NAME").or_else(|| conf("user.name"));
    let email = var("KODIAK_AUTHOR_EMAIL").or_else(|| conf("user.email"));
    (name, email)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> ConfigKey {
        ConfigKey::parse(s).unwrap()
    }

    #[test]
    fn parse_and_get() {
        let text = "# top\n[user]\n\tname = Alice  Example # trailing\n\temail = \"a@x.org\"\n[User]\n\tNAME = Bob\n[remote \"Origin\"]\n\turl = /srv/x ; c\n\tflag\n";
        let c = ConfigFile::parse(text, "cfg").unwrap();
        assert_eq!(c.get(&key("user.name")), Some("Bob"));
        assert_eq!(c.get(&key("USER.Email")), Some("a@x.org"));
        assert_eq!(c.get(&key("remote.Origin.url")), Some("/srv/x"));
        assert_eq!(c.get(&key("remote.origin.url")), None);
        assert_eq!(c.get(&key("remote.Origin.flag")), Some("true"));
        assert_eq!(c.entries().len(), 5);
        assert_eq!(
            c.to_text(),
            text,
            "unchanged text round-trips byte for byte"
        );
        let c2 = ConfigFile::parse("[a]\n\tv = x  y\n", "cfg").unwrap();
        assert_eq!(c2.get(&key("a.v")), Some("x  y"));
    }

    #[test]
    fn parse_errors_name_the_line() {
        for (text, why) in [
            ("name = x\n", "outside"),
            ("[user\n", "']'"),
            ("[us er]\n", "double quotes"),
            ("[user]\n\t1x = y\n", "variable name"),
            ("[user]\n\tx = \"open\n", "unterminated"),
            ("[user]\n\tx = a\\q\n", "escape"),
        ] {
            let e = ConfigFile::parse(text, "/c/config")
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("/c/config:") && e.contains(why),
                "{text:?}: {e}"
            );
        }
    }

    #[test]
    fn keys() {
        assert_eq!(key("user.name").to_string(), "user.name");
        assert_eq!(key("remote.a.b.url").subsection.as_deref(), Some("a.b"));
        for bad in ["user", "user.", ".name", "1a.b", "a.b c", "a..b"] {
            assert!(ConfigKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn set_and_unset_keep_other_lines() {
        let mut c = ConfigFile::parse(
            "# keep me\n[user]\n\tname = A\n\tname = B\n[core]\n\tx = 1\n",
            "cfg",
        )
        .unwrap();
        c.set(&key("user.name"), "Carol");
        c.set(&key("user.email"), "c@x");
        c.set(&key("new.thing"), " spaced # value \"q\" \\ ");
        c.set(&key("remote.o r.url"), "u");
        let text = c.to_text();
        assert!(
            text.starts_with("# keep me\n[user]\n\tname = Carol\n\temail = c@x\n[core]\n"),
            "{text}"
        );
        let back = ConfigFile::parse(&text, "cfg").unwrap();
        assert_eq!(back.get(&key("user.name")), Some("Carol"));
        assert_eq!(
            back.get(&key("new.thing")),
            Some(" spaced # value \"q\" \\ ")
        );
        assert_eq!(back.get(&key("remote.o r.url")), Some("u"));
        assert_eq!(back.get(&key("core.x")), Some("1"));
        let mut back = back;
        assert!(back.unset(&key("user.name")));
        assert!(!back.unset(&key("user.name")));
        assert_eq!(back.get(&key("user.name")), None);
        assert_eq!(back.get(&key("user.email")), Some("c@x"));
    }

    #[test]
    fn save_and_load_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("config");
        assert_eq!(ConfigFile::load(&path).unwrap(), ConfigFile::default());
        let mut c = ConfigFile::default();
        c.set(&key("user.name"), "Dee");
        c.save(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "[user]\n\tname = Dee\n"
        );
        assert_eq!(
            ConfigFile::load(&path).unwrap().get(&key("user.name")),
            Some("Dee")
        );
        let files: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(files.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn layering() {
        let g = ConfigFile::parse("[user]\nname = G\nemail = g@x\n", "g").unwrap();
        let r = ConfigFile::parse("[user]\nname = R\n", "r").unwrap();
        let c = Config {
            global: g,
            repo: Some(r),
        };
        assert_eq!(c.get_str("user.name"), Some("R"));
        assert_eq!(c.get_str("user.email"), Some("g@x"));
    }

    #[test]
    fn identity_sources() {
        let g = ConfigFile::parse("[user]\nname = Conf\nemail = c@x\n", "g").unwrap();
        let c = Config {
            global: g,
            repo: None,
        };
        assert_eq!(identity_with(&Config::default(), |_| None), (None, None));
        assert_eq!(
            identity_with(&c, |_| None),
            (Some("Conf".into()), Some("c@x".into()))
        );
        let env = |k: &str| (k == "KODIAK_AUTHOR_NAME").then(|| "Env".to_string());
        assert_eq!(
            identity_with(&c, env),
            (Some("Env".into()), Some("c@x".into()))
        );
        let blank = |_: &str| Some("  ".to_string());
        assert_eq!(
            identity_with(&c, blank),
            (Some("Conf".into()), Some("c@x".into()))
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn any_value_round_trips(value in "[ -~\t\né]{0,24}", sub in proptest::option::of("[a-zA-Z0-9 ._-]{1,8}")) {
            let key = ConfigKey {
                section: "sec".into(),
                subsection: sub,
                name: "key".into(),
            };
            let mut c = ConfigFile::parse("# c\n[sec]\n\tother = 1\n", "cfg").unwrap();
            c.set(&key, &value);
            let back = ConfigFile::parse(&c.to_text(), "cfg").unwrap();
            proptest::prop_assert_eq!(back.get(&key), Some(value.as_str()));
            proptest::prop_assert_eq!(back.get(&ConfigKey::parse("sec.other").unwrap()), Some("1"));
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1700000000").unwrap(), (1_700_000_000, 0));
        assert_eq!(
            parse_timestamp("1700000000 +0130").unwrap(),
            (1_700_000_000, 90)
        );
        assert_eq!(parse_timestamp("-5 -0800").unwrap(), (-5, -480));
        for bad in ["", "x", "1 0130", "1 +130", "1 +2460", "1 +0100 z"] {
            assert!(parse_timestamp(bad).is_err(), "{bad:?}");
        }
    }
}
