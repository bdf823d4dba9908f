//! [`InterchangeError`]: every failure names the file and, where known, the place in it.

use std::fmt;
use std::path::Path;

use super::Format;

/// Where in a file an error happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// 1-based physical line (text formats).
    pub line: Option<u64>,
    /// 0-based data row (binary formats, or rows of a batch being written).
    pub row: Option<u64>,
    /// Column name.
    pub column: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(l) = self.line {
            parts.push(format!("line {l}"));
        }
        if let Some(r) = self.row {
            parts.push(format!("row {r}"));
        }
        if let Some(c) = &self.column {
            parts.push(format!("column {c}"));
        }
        if !parts.is_empty() {
            write!(f, " {}", parts.join(", "))?;
        }
        Ok(())
    }
}

/// Failure reading or writing an interchange file.
#[derive(Debug, thiserror::Error)]
pub enum InterchangeError {
    /// The operating system failed to open, read or write the file.
    #[error("{file}: {op}: {source}")]
    Io {
        /// The file.
        file: String,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The content is not valid for its format or declared type (bad CSV row, bad value…).
    #[error("{file}{at}: {message}")]
    Data {
        /// The file.
        file: String,
        /// Where in the file.
        at: Location,
        /// What is wrong.
        message: String,
    },
    /// A binary file is truncated, corrupt, or its decoder failed.
    #[error("{file}{at}: not a readable {format} file: {message}")]
    Corrupt {
        /// The file.
        file: String,
        /// The format it was read as.
        format: Format,
        /// Where, if known.
        at: Location,
        /// The decoder's message.
        message: String,
    },
    /// A column's type cannot be held (exactly) by the format.
    #[error("{file}: column {column}: {format} cannot hold {data_type}: {reason}")]
    Unsupported {
        /// The file.
        file: String,
        /// The format.
        format: Format,
        /// The column.
        column: String,
        /// The Arrow type.
        data_type: String,
        /// Why, and what to use instead.
        reason: String,
    },
}

impl InterchangeError {
    /// An OS error on `path`.
    pub(crate) fn io(path: &Path, op: &'static str, source: std::io::Error) -> Self {
        InterchangeError::Io {
            file: path.display().to_string(),
            op,
            source,
        }
    }

    /// A content error at a place in a file.
    pub(crate) fn data(file: &str, at: Location, message: impl Into<String>) -> Self {
        InterchangeError::Data {
            file: file.to_string(),
            at,
            message: message.into(),
        }
    }

    /// A corrupt-file error.
    pub(crate) fn corrupt(
        file: &str,
        format: Format,
        row: Option<u64>,
        message: impl Into<String>,
    ) -> Self {
        InterchangeError::Corrupt {
            file: file.to_string(),
            format,
            at: Location {
                row,
                ..Location::default()
            },
            message: message.into(),
        }
    }

    /// A refused column type.
    pub(crate) fn unsupported(
        file: &str,
        format: Format,
        column: &str,
        data_type: &arrow_schema::DataType,
        reason: impl Into<String>,
    ) -> Self {
        InterchangeError::Unsupported {
            file: file.to_string(),
            format,
            column: column.to_string(),
            data_type: data_type.to_string(),
            reason: reason.into(),
        }
    }
}

impl From<InterchangeError> for crate::Error {
    fn from(e: InterchangeError) -> Self {
        match e {
            InterchangeError::Io { file, op, source } => crate::Error::Io {
                op,
                path: file.into(),
                source,
            },
            other => crate::Error::Invalid(other.to_string()),
        }
    }
}

/// Line-only location.
pub(crate) fn at_line(line: u64) -> Location {
    Location {
        line: Some(line),
        ..Location::default()
    }
}

/// Line-and-column location.
pub(crate) fn at_line_col(line: u64, column: &str) -> Location {
    Location {
        line: Some(line),
        row: None,
        column: Some(column.to_string()),
    }
}

/// Row-and-column location.
pub(crate) fn at_row_col(row: u64, column: &str) -> Location {
    Location {
        line: None,
        row: Some(row),
        column: Some(column.to_string()),
    }
}
