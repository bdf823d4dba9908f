//! File-format layer for import and export, with Arrow [`RecordBatch`]es as the pivot.
//!
//! [`read`] opens any supported file (CSV, TSV, Arrow IPC file or stream, ORC, Parquet, JSONL)
//! as one Arrow schema plus a bounded-memory stream of batches whose column types are
//! *canonical* (see [`canonical_type`]): narrower integers and floats are widened, timestamps
//! are converted to microseconds (refusing values that would lose precision), and string or
//! binary variants are unified. [`write`] / [`write_path`] stream batches out to any format,
//! refusing (with the column and format named) types a format cannot hold exactly.
//!
//! Every error is an [`InterchangeError`] that names the file and, where known, the line or
//! row and the column. Third-party decoders are called under `catch_unwind`, so a panic on a
//! corrupt file becomes an error too (and is not printed).

mod csv;
mod detect;
mod error;
mod jsonl;
mod normalize;
mod text;
mod write;

#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, SchemaRef};

pub use detect::{Format, detect_format};
pub use error::{InterchangeError, Location};
pub use normalize::{canonical_schema, canonical_type};
pub use write::{WriteOptions, write, write_path};

/// Default number of rows per [`RecordBatch`] produced by readers.
pub const DEFAULT_BATCH_SIZE: usize = 8192;

/// A stream of record batches, all with the schema returned alongside it.
pub type BatchIter = Box<dyn Iterator<Item = Result<RecordBatch, InterchangeError>> + Send>;

/// CSV/TSV dialect options shared by the reader and the writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// Field separator (`,` for CSV, tab for TSV).
    pub delimiter: u8,
    /// Whether the first line names the columns (otherwise columns are `c1, c2, …`).
    pub header: bool,
    /// The text that stands for NULL. `None`: an unquoted empty field is NULL and `""` is the
    /// empty string. `Some(t)`: only an unquoted `t` is NULL and an empty field is the empty
    /// string.
    pub null_token: Option<String>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b',',
            header: true,
            null_token: None,
        }
    }
}

impl CsvOptions {
    /// Options for tab-separated values with a header line.
    pub fn tsv() -> Self {
        CsvOptions {
            delimiter: b'\t',
            ..CsvOptions::default()
        }
    }

    /// These options with the delimiter forced to match `format` (tab for TSV, comma for CSV
    /// unless the caller chose another delimiter).
    fn for_format(&self, format: Format) -> CsvOptions {
        let mut o = self.clone();
        if format == Format::Tsv && o.delimiter == b',' {
            o.delimiter = b'\t';
        }
        o
    }
}

/// Options for [`read`].
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Explicit format; `None` detects it with [`detect_format`].
    pub format: Option<Format>,
    /// CSV/TSV dialect (ignored by other formats). For TSV a comma delimiter means tab.
    pub csv: CsvOptions,
    /// Declared schema for CSV/TSV/JSONL: skips type inference. Its types are made canonical.
    /// Ignored by the self-describing formats (Arrow, ORC, Parquet).
    pub schema: Option<SchemaRef>,
    /// Rows per batch (at least 1).
    pub batch_size: usize,
    /// If set, bytes of the file read so far while producing batches (for progress reports).
    ///
    /// Counted for the sequentially read formats (CSV, TSV, JSONL, Arrow IPC file and stream);
    /// a CSV/JSONL type-inference pass is not counted, so the count runs from 0 to about the
    /// file size once. Parquet and ORC are read by random access and leave it at 0.
    pub bytes_read: Option<Arc<AtomicU64>>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            format: None,
            csv: CsvOptions::default(),
            schema: None,
            batch_size: DEFAULT_BATCH_SIZE,
            bytes_read: None,
        }
    }
}

/// Where each 0-based data row in `rows` of `path` is, for messages: `line N` (1-based
/// physical line, header counted) for CSV/TSV, `row N` (1-based) for other formats.
///
/// CSV/TSV files are scanned again up to the last row asked for, so this is meant for error
/// paths; a row past the end (or a file that can no longer be read) gets `row N`.
pub fn row_places(path: &Path, options: &ReadOptions, rows: &[u64]) -> Vec<String> {
    let by_row = |r: u64| format!("row {}", r + 1);
    let format = options.format.or_else(|| detect_format(path).ok());
    let lines = match format {
        Some(f @ (Format::Csv | Format::Tsv)) => {
            csv::row_lines(path, &options.csv.for_format(f), rows).ok()
        }
        _ => None,
    };
    match lines {
        Some(lines) => rows
            .iter()
            .zip(lines)
            .map(|(&r, l)| l.map_or_else(|| by_row(r), |l| format!("line {l}")))
            .collect(),
        None => rows.iter().map(|&r| by_row(r)).collect(),
    }
}

/// Opens `path` and returns its canonical schema and a stream of batches.
///
/// The file is read lazily; memory stays bounded by a few batches (CSV without a declared
/// schema is read twice: once to infer types, once to convert). Every batch has exactly the
/// returned schema.
pub fn read(
    path: &Path,
    options: &ReadOptions,
) -> Result<(SchemaRef, BatchIter), InterchangeError> {
    let file_name = path.display().to_string();
    let format = match options.format {
        Some(f) => f,
        None => detect_format(path)?,
    };
    let batch_size = options.batch_size.max(1);
    match format {
        Format::Csv | Format::Tsv => {
            let csv_options = options.csv.for_format(format);
            csv::read_csv(
                path,
                &csv_options,
                options.schema.clone(),
                batch_size,
                options.bytes_read.clone(),
            )
        }
        Format::Jsonl => jsonl::read_jsonl(
            path,
            options.schema.clone(),
            batch_size,
            options.bytes_read.clone(),
        ),
        Format::Arrow => {
            let file = Counting::new(open(path)?, options.bytes_read.clone());
            let reader = guarded(&file_name, format, || {
                arrow_ipc::reader::FileReader::try_new_buffered(file, None)
            })?;
            let schema = reader.schema();
            normalize::normalized(file_name, format, schema, reader.map(|r| r.map_err(ext)))
        }
        Format::ArrowStream => {
            let file = Counting::new(open(path)?, options.bytes_read.clone());
            let reader = guarded(&file_name, format, || {
                arrow_ipc::reader::StreamReader::try_new_buffered(file, None)
            })?;
            let schema = reader.schema();
            normalize::normalized(file_name, format, schema, reader.map(|r| r.map_err(ext)))
        }
        Format::Parquet => {
            let file = open(path)?;
            let reader = guarded(&file_name, format, || {
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                    .and_then(|b| b.with_batch_size(batch_size).build())
                    .map_err(ext)
            })?;
            let schema = arrow_array::RecordBatchReader::schema(&reader);
            normalize::normalized(file_name, format, schema, reader.map(|r| r.map_err(ext)))
        }
        Format::Orc => {
            let file = open(path)?;
            let reader = guarded(&file_name, format, || {
                orc_rust::arrow_reader::ArrowReaderBuilder::try_new(file)
                    .map(|b| {
                        b.with_batch_size(batch_size)
                            .with_timestamp_precision(
                                orc_rust::schema::TimestampPrecision::Microsecond,
                            )
                            .build()
                    })
                    .map_err(ext)
            })?;
            let schema = arrow_array::RecordBatchReader::schema(&reader);
            normalize::normalized(file_name, format, schema, reader.map(|r| r.map_err(ext)))
        }
    }
}

/// Opens a file for reading, naming it in the error.
/// A reader adding every byte it reads to an optional shared counter.
pub(crate) struct Counting<R> {
    inner: R,
    counter: Option<Arc<AtomicU64>>,
}

impl<R> Counting<R> {
    /// Wraps `inner`; reads are added to `counter` if there is one.
    pub(crate) fn new(inner: R, counter: Option<Arc<AtomicU64>>) -> Self {
        Counting { inner, counter }
    }

    /// Sets the counter back to 0 (after a pass that should not count).
    pub(crate) fn reset(&self) {
        if let Some(c) = &self.counter {
            c.store(0, Ordering::Relaxed);
        }
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(c) = &self.counter {
            c.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
}

impl<R: Seek> Seek for Counting<R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

fn open(path: &Path) -> Result<File, InterchangeError> {
    File::open(path).map_err(|e| InterchangeError::io(path, "cannot open", e))
}

/// Wraps any displayable error as an [`ArrowError`], for uniform handling of decoder errors.
fn ext(e: impl std::fmt::Display) -> ArrowError {
    ArrowError::ExternalError(Box::new(std::io::Error::other(e.to_string())))
}

/// A decoder error's message without arrow's redundant "External error: " wrapper.
fn clean_arrow_message(e: &ArrowError) -> String {
    match e {
        ArrowError::ExternalError(inner) => inner.to_string(),
        ArrowError::IoError(msg, _) => msg.clone(),
        other => other.to_string(),
    }
}

/// Runs a third-party call that opens a file, turning both errors and panics into
/// [`InterchangeError::Corrupt`].
fn guarded<T>(
    file: &str,
    format: Format,
    f: impl FnOnce() -> Result<T, ArrowError>,
) -> Result<T, InterchangeError> {
    match catch_quietly(f) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(InterchangeError::corrupt(
            file,
            format,
            None,
            clean_arrow_message(&e),
        )),
        Err(panic) => Err(InterchangeError::corrupt(
            file,
            format,
            None,
            format!("decoder failed: {panic}"),
        )),
    }
}

thread_local! {
    /// Set while this thread runs a guarded third-party call: its panics are reported as
    /// errors, so the panic hook stays quiet for them.
    static IN_GUARD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, catching a panic as `Err(message)`. While it runs, panics on this thread are not
/// printed (a process-wide hook, installed once, defers to the previous hook otherwise).
pub(crate) fn catch_quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_GUARD.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    let outer = IN_GUARD.with(|g| g.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    IN_GUARD.with(|g| g.set(outer));
    result.map_err(|p| panic_message(&p))
}

/// The text of a caught panic payload.
fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "internal panic".to_string()
    }
}
