//! Ref names and workspace names, validated by git's `check-ref-format` rules.

use std::fmt;

use crate::error::{Error, Result};

/// Namespaces a full ref name may live under (besides the special `HEAD`).
pub const NAMESPACES: [&str; 6] = [
    "refs/heads/",
    "refs/tags/",
    "refs/workspaces/",
    "refs/snapshots/",
    "refs/reviews/",
    "refs/remotes/",
];

/// The special name of the current workspace's HEAD.
pub const HEAD: &str = "HEAD";

/// A validated full ref name: `HEAD` or `refs/<namespace>/<rest>`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RefName(String);

impl RefName {
    /// Validates a full ref name (`HEAD`, `refs/heads/main`, …).
    pub fn new(name: &str) -> Result<Self> {
        if name == HEAD {
            return Ok(RefName(HEAD.to_string()));
        }
        check_ref_format(name)
            .map_err(|why| Error::Invalid(format!("invalid ref name '{name}': {why}")))?;
        let Some(ns) = NAMESPACES.iter().find(|ns| name.starts_with(*ns)) else {
            return Err(Error::Invalid(format!(
                "invalid ref name '{name}': full ref names live under {}",
                NAMESPACES.map(|n| format!("{n}*")).join(", ")
            )));
        };
        if name.len() == ns.len() {
            return Err(Error::Invalid(format!(
                "invalid ref name '{name}': nothing after '{ns}'"
            )));
        }
        Ok(RefName(name.to_string()))
    }

    /// The special ref `HEAD`.
    pub fn head() -> Self {
        RefName(HEAD.to_string())
    }

    /// `refs/heads/<short>`, validating `short`.
    pub fn branch(short: &str) -> Result<Self> {
        Self::new(&format!("refs/heads/{short}"))
    }

    /// `refs/tags/<short>`, validating `short`.
    pub fn tag(short: &str) -> Result<Self> {
        Self::new(&format!("refs/tags/{short}"))
    }

    /// Whether this is `HEAD`.
    pub fn is_head(&self) -> bool {
        self.0 == HEAD
    }

    /// Whether this is a branch (`refs/heads/*`).
    pub fn is_branch(&self) -> bool {
        self.0.starts_with("refs/heads/")
    }

    /// Whether HEAD may be symbolic to this ref: a branch or a workspace tip
    /// (`refs/workspaces/*`).
    pub fn can_be_head(&self) -> bool {
        self.is_branch() || self.0.starts_with("refs/workspaces/")
    }

    /// `refs/workspaces/<name>`: the tip of a workspace.
    pub fn workspace_tip(workspace: &WorkspaceName) -> Self {
        RefName(format!("refs/workspaces/{workspace}"))
    }

    /// The full name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name without its namespace (`main` for `refs/heads/main`; `HEAD` stays `HEAD`).
    pub fn short(&self) -> &str {
        NAMESPACES
            .iter()
            .find_map(|ns| self.0.strip_prefix(ns))
            .unwrap_or(&self.0)
    }
}

impl fmt::Display for RefName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RefName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RefName({})", self.0)
    }
}

/// Checks git's `check-ref-format` rules; the error says which rule `name` breaks.
pub fn check_ref_format(name: &str) -> std::result::Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name == "@" {
        return Err("'@' alone is not a ref name");
    }
    if name.ends_with('/') {
        return Err("it ends with '/'");
    }
    if name.ends_with('.') {
        return Err("it ends with '.'");
    }
    if name.contains("..") {
        return Err("it contains '..'");
    }
    if name.contains("@{") {
        return Err("it contains '@{'");
    }
    if name.starts_with('/') || name.contains("//") {
        return Err("it has an empty path component");
    }
    for c in name.chars() {
        if c.is_ascii_control() || c == '\u{7f}' {
            return Err("it contains an ASCII control character");
        }
        if matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\') {
            return Err("it contains one of ' ', '~', '^', ':', '?', '*', '[', '\\'");
        }
    }
    for component in name.split('/') {
        if component.starts_with('.') {
            return Err("a path component starts with '.'");
        }
        if component.ends_with(".lock") {
            return Err("a path component ends with '.lock'");
        }
    }
    Ok(())
}

/// A validated workspace name: one ref-name component (no `/`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkspaceName(String);

/// Name of the workspace every repository starts with.
pub const DEFAULT_WORKSPACE: &str = "default";

impl WorkspaceName {
    /// Validates a workspace name: a valid single ref-name component.
    pub fn new(name: &str) -> Result<Self> {
        if name.contains('/') {
            return Err(Error::Invalid(format!(
                "invalid workspace name '{name}': it contains '/'"
            )));
        }
        if name == HEAD {
            return Err(Error::Invalid(format!(
                "invalid workspace name '{name}': reserved"
            )));
        }
        check_ref_format(name)
            .map_err(|why| Error::Invalid(format!("invalid workspace name '{name}': {why}")))?;
        Ok(WorkspaceName(name.to_string()))
    }

    /// The `default` workspace.
    pub fn default_workspace() -> Self {
        WorkspaceName(DEFAULT_WORKSPACE.to_string())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkspaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for WorkspaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WorkspaceName({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_names() {
        for name in [
            "HEAD",
            "refs/heads/main",
            "refs/heads/feature/x-1",
            "refs/tags/v1.0",
            "refs/workspaces/alice",
            "refs/snapshots/2024-01-01",
            "refs/reviews/42",
            "refs/remotes/origin/main",
            "refs/heads/a@b",
            "refs/heads/ünïcode",
            "refs/heads/x.lockx",
            "refs/heads/a.b",
        ] {
            assert!(RefName::new(name).is_ok(), "{name} should be valid");
        }
    }

    #[test]
    fn bad_names() {
        for (name, why) in [
            ("", "empty"),
            ("@", "'@'"),
            ("refs/heads/", "ends with '/'"),
            ("refs/heads/a/", "ends with '/'"),
            ("refs/heads/a.", "ends with '.'"),
            ("refs/heads/a..b", "'..'"),
            ("refs/heads/a@{1}", "'@{'"),
            ("refs/heads//a", "empty path component"),
            ("/refs/heads/a", "empty path component"),
            ("refs/heads/a b", "' '"),
            ("refs/heads/a~1", "' '"),
            ("refs/heads/a^", "' '"),
            ("refs/heads/a:b", "' '"),
            ("refs/heads/a?", "' '"),
            ("refs/heads/a*", "' '"),
            ("refs/heads/a[", "' '"),
            ("refs/heads/a\\b", "' '"),
            ("refs/heads/a\tb", "control"),
            ("refs/heads/a\u{7f}", "control"),
            ("refs/heads/.hidden", "starts with '.'"),
            ("refs/heads/x.lock", "'.lock'"),
            ("refs/heads/x.lock/y", "'.lock'"),
            ("refs/other/x", "live under"),
            ("main", "live under"),
            ("head", "live under"),
            ("refs/heads", "live under"),
        ] {
            match RefName::new(name) {
                Ok(_) => panic!("{name:?} should be invalid"),
                Err(e) => assert!(e.to_string().contains(why), "{name:?}: {e} lacks {why:?}"),
            }
        }
    }

    #[test]
    fn helpers() {
        let b = RefName::branch("main").unwrap();
        assert_eq!(b.as_str(), "refs/heads/main");
        assert_eq!(b.short(), "main");
        assert!(b.is_branch() && !b.is_head());
        assert_eq!(RefName::tag("v1").unwrap().short(), "v1");
        assert!(RefName::head().is_head());
        assert!(RefName::branch("a..b").is_err());
    }

    #[test]
    fn workspace_names() {
        assert!(WorkspaceName::new("default").is_ok());
        assert!(WorkspaceName::new("alice-2").is_ok());
        for bad in ["", "a/b", ".x", "x.lock", "a b", "HEAD", "@"] {
            assert!(WorkspaceName::new(bad).is_err(), "{bad:?}");
        }
    }
}
