//! [`Format`] and its detection from magic bytes or the file extension.

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use super::InterchangeError;

/// A supported file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Comma-separated values.
    Csv,
    /// Tab-separated values.
    Tsv,
    /// Arrow IPC file format (`ARROW1` magic; also called Feather v2).
    Arrow,
    /// Arrow IPC stream format.
    ArrowStream,
    /// Apache ORC.
    Orc,
    /// Apache Parquet.
    Parquet,
    /// Newline-delimited JSON objects.
    Jsonl,
}

impl Format {
    /// Every format, in a stable order.
    pub const ALL: [Format; 7] = [
        Format::Csv,
        Format::Tsv,
        Format::Arrow,
        Format::ArrowStream,
        Format::Orc,
        Format::Parquet,
        Format::Jsonl,
    ];

    /// The canonical lower-case name (`csv`, `tsv`, `arrow`, `arrows`, `orc`, `parquet`, `jsonl`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Arrow => "arrow",
            Format::ArrowStream => "arrows",
            Format::Orc => "orc",
            Format::Parquet => "parquet",
            Format::Jsonl => "jsonl",
        }
    }

    /// The format a file extension (without the dot, any case) conventionally names.
    pub fn from_extension(ext: &str) -> Option<Format> {
        match ext.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "tsv" | "tab" => Some(Format::Tsv),
            "arrow" | "feather" | "ipc" => Some(Format::Arrow),
            "arrows" => Some(Format::ArrowStream),
            "orc" => Some(Format::Orc),
            "parquet" | "pq" => Some(Format::Parquet),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }

    /// The format a file's first bytes identify, if any.
    pub fn from_magic(head: &[u8]) -> Option<Format> {
        if head.starts_with(b"ARROW1") {
            Some(Format::Arrow)
        } else if head.starts_with(b"PAR1") {
            Some(Format::Parquet)
        } else if head.starts_with(b"ORC") {
            Some(Format::Orc)
        } else if head.len() >= 8 && head[..4] == [0xFF; 4] {
            // Continuation marker then a little-endian metadata length; a real message has a
            // positive length (a zero length is only the end-of-stream marker).
            let len = i32::from_le_bytes([head[4], head[5], head[6], head[7]]);
            (len >= 0).then_some(Format::ArrowStream)
        } else {
            None
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Csv => "CSV",
            Format::Tsv => "TSV",
            Format::Arrow => "Arrow IPC",
            Format::ArrowStream => "Arrow IPC stream",
            Format::Orc => "ORC",
            Format::Parquet => "Parquet",
            Format::Jsonl => "JSONL",
        })
    }
}

impl FromStr for Format {
    type Err = String;

    /// Parses a format name or extension alias (`csv`, `tsv`, `arrow`, `feather`, `ipc`,
    /// `arrows`, `arrow-stream`, `orc`, `parquet`, `jsonl`, `ndjson`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        if lower == "arrow-stream" || lower == "arrow_stream" || lower == "stream" {
            return Ok(Format::ArrowStream);
        }
        Format::from_extension(&lower).ok_or_else(|| {
            format!(
                "unknown format '{s}' (expected one of: {})",
                Format::ALL.map(Format::name).join(", ")
            )
        })
    }
}

/// Detects a file's format: magic bytes first, then the extension, else CSV.
pub fn detect_format(path: &Path) -> Result<Format, InterchangeError> {
    let mut head = [0u8; 8];
    let mut file =
        std::fs::File::open(path).map_err(|e| InterchangeError::io(path, "cannot open", e))?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(InterchangeError::io(path, "cannot read", e)),
        }
    }
    let by_ext = path
        .extension()
        .and_then(|e| e.to_str())
        .and_then(Format::from_extension);
    match Format::from_magic(&head[..n]) {
        // "ORC" is a weak 3-byte magic that a text header line can start with ("ORCA,…"),
        // so a text extension wins over it.
        Some(Format::Orc) if matches!(by_ext, Some(Format::Csv | Format::Tsv | Format::Jsonl)) => {
            Ok(by_ext.unwrap_or(Format::Csv))
        }
        Some(f) => Ok(f),
        None => Ok(by_ext.unwrap_or(Format::Csv)),
    }
}
