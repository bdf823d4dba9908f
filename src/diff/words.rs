//! Word-level changes of long text cells.

use similar::{ChangeTag, TextDiff};

use crate::schema::Value;

/// Text cells at least this many characters long (before or after) are shown as word changes.
pub const LONG_TEXT: usize = 40;

/// A piece of a word diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WordOp {
    /// Text in both versions.
    Equal,
    /// Text only in the old version.
    Delete,
    /// Text only in the new version.
    Insert,
}

impl WordOp {
    /// `=`, `-` or `+`, as in the JSON output.
    pub fn symbol(self) -> &'static str {
        match self {
            WordOp::Equal => "=",
            WordOp::Delete => "-",
            WordOp::Insert => "+",
        }
    }
}

/// The old and new text when both cells are TEXT (or JSON) and one is long.
pub fn long_texts<'a>(old: &'a Value, new: &'a Value) -> Option<(&'a str, &'a str)> {
    let text = |v: &'a Value| match v {
        Value::Text(s) | Value::Json(s) => Some(s.as_str()),
        _ => None,
    };
    let (a, b) = (text(old)?, text(new)?);
    (a.chars().count() >= LONG_TEXT || b.chars().count() >= LONG_TEXT).then_some((a, b))
}

/// The word-level changes from `old` to `new`: runs of equal, deleted and inserted text
/// (words with the whitespace around them), adjacent pieces of the same kind merged.
pub fn word_diff(old: &str, new: &str) -> Vec<(WordOp, String)> {
    let diff = TextDiff::from_words(old, new);
    let mut out: Vec<(WordOp, String)> = Vec::new();
    for change in diff.iter_all_changes() {
        let op = match change.tag() {
            ChangeTag::Equal => WordOp::Equal,
            ChangeTag::Delete => WordOp::Delete,
            ChangeTag::Insert => WordOp::Insert,
        };
        let text: &str = change.value();
        match out.last_mut() {
            Some((last, s)) if *last == op => s.push_str(text),
            _ => out.push((op, text.to_string())),
        }
    }
    out
}

/// The word diff as plain text: `[-deleted-]` and `{+inserted+}` around changed words, as
/// `git diff --word-diff=plain` prints them.
pub fn plain(pieces: &[(WordOp, String)]) -> String {
    let mut s = String::new();
    for (op, text) in pieces {
        match op {
            WordOp::Equal => s.push_str(text),
            WordOp::Delete => {
                s.push_str("[-");
                s.push_str(text);
                s.push_str("-]");
            }
            WordOp::Insert => {
                s.push_str("{+");
                s.push_str(text);
                s.push_str("+}");
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_diffed() {
        let d = word_diff("the quick brown fox", "the slow brown fox jumps");
        assert_eq!(plain(&d), "the [-quick-]{+slow+} brown fox{+ jumps+}");
        let joined: String = d
            .iter()
            .filter(|(op, _)| *op != WordOp::Delete)
            .map(|(_, t)| t.as_str())
            .collect();
        assert_eq!(joined, "the slow brown fox jumps");
    }

    #[test]
    fn only_long_text_cells_qualify() {
        let long = Value::Text("x".repeat(LONG_TEXT));
        let short = Value::Text("y".into());
        assert!(long_texts(&long, &short).is_some());
        assert!(long_texts(&short, &short).is_none());
        assert!(long_texts(&long, &Value::Int(1)).is_none());
    }
}
