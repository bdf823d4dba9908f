//! Streaming writers for every [`Format`].

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::csv::CsvWriter;
use super::error::at_row_col;
use super::jsonl::JsonlWriter;
use super::normalize::{canonical_schema, convert_array};
use super::{CsvOptions, Format, InterchangeError, catch_quietly};

/// Options for [`write`] and [`write_path`].
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// CSV/TSV dialect (header line, delimiter, NULL spelling). For TSV a comma delimiter
    /// means tab.
    pub csv: CsvOptions,
    /// Zstandard level for Parquet (and ORC, which uses orc-rust's default level); `None`
    /// writes uncompressed files.
    pub zstd_level: Option<i32>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            csv: CsvOptions::default(),
            zstd_level: Some(1),
        }
    }
}

/// Writes `batches` (all with `schema`) to a new file at `path` in `format`; returns the number
/// of rows written. On error the partial file is removed.
pub fn write_path(
    format: Format,
    path: &Path,
    schema: &SchemaRef,
    batches: impl IntoIterator<Item = Result<RecordBatch, InterchangeError>>,
    options: &WriteOptions,
) -> Result<u64, InterchangeError> {
    let file = File::create(path).map_err(|e| InterchangeError::io(path, "cannot create", e))?;
    let out = BufWriter::with_capacity(1 << 16, file);
    let name = path.display().to_string();
    let result = write(format, out, &name, schema, batches, options);
    if result.is_err() {
        // Best effort: a half-written file is worse than none.
        let _ = std::fs::remove_file(path);
    }
    result
}

/// Writes `batches` (all with `schema`) to `out` in `format`; `name` names the destination in
/// errors. Returns the number of rows written.
///
/// CSV, TSV, JSONL and ORC first convert batches to canonical types (see
/// [`super::canonical_type`]); Arrow IPC and Parquet write the given types as they are.
/// Types a format cannot hold exactly are refused before anything is written.
pub fn write<W: Write + Send>(
    format: Format,
    out: W,
    name: &str,
    schema: &SchemaRef,
    batches: impl IntoIterator<Item = Result<RecordBatch, InterchangeError>>,
    options: &WriteOptions,
) -> Result<u64, InterchangeError> {
    let fail = |m: String| InterchangeError::data(name, Default::default(), m);
    let io_fail = |e: std::io::Error| InterchangeError::Io {
        file: name.to_string(),
        op: "cannot write",
        source: e,
    };
    let canonical = || -> Result<SchemaRef, InterchangeError> {
        canonical_schema(schema)
            .map(Arc::new)
            .map_err(|m| refuse_message(name, format, schema, m))
    };
    let mut rows = 0u64;
    // The IPC file and stream writers share no trait but have the same methods; the macro
    // takes the constructor.
    macro_rules! write_ipc {
        ($writer:path) => {{
            let mut w = $writer(out, schema).map_err(|e| fail(e.to_string()))?;
            for b in batches {
                let b = b?;
                w.write(&b).map_err(|e| fail(e.to_string()))?;
                rows += b.num_rows() as u64;
            }
            w.finish().map_err(|e| fail(e.to_string()))?;
            w.into_inner()
                .map_err(|e| fail(e.to_string()))?
                .flush()
                .map_err(io_fail)?;
        }};
    }
    match format {
        Format::Csv | Format::Tsv => {
            let target = canonical()?;
            let csv_options = options.csv.for_format(format);
            let mut w = CsvWriter::new(out, &target, &csv_options).map_err(io_fail)?;
            for b in batches {
                let b = to_target(name, &target, &b?, rows)?;
                w.write(&b).map_err(fail)?;
                rows += b.num_rows() as u64;
            }
            w.finish().map_err(io_fail)?;
        }
        Format::Jsonl => {
            let target = canonical()?;
            let mut w = JsonlWriter::new(out, &target);
            for b in batches {
                let b = to_target(name, &target, &b?, rows)?;
                w.write(&b).map_err(fail)?;
                rows += b.num_rows() as u64;
            }
            w.finish().map_err(io_fail)?;
        }
        Format::Arrow => {
            write_ipc!(arrow_ipc::writer::FileWriter::try_new);
        }
        Format::ArrowStream => {
            write_ipc!(arrow_ipc::writer::StreamWriter::try_new);
        }
        Format::Parquet => {
            use parquet::basic::{Compression, ZstdLevel};
            use parquet::file::properties::WriterProperties;
            let compression = match options.zstd_level {
                Some(l) => {
                    Compression::ZSTD(ZstdLevel::try_new(l).map_err(|e| fail(e.to_string()))?)
                }
                None => Compression::UNCOMPRESSED,
            };
            let props = WriterProperties::builder()
                .set_compression(compression)
                .build();
            let mut w = parquet::arrow::ArrowWriter::try_new(out, schema.clone(), Some(props))
                .map_err(|e| refuse_message(name, format, schema, e.to_string()))?;
            for b in batches {
                let b = b?;
                w.write(&b).map_err(|e| fail(e.to_string()))?;
                rows += b.num_rows() as u64;
            }
            w.into_inner()
                .map_err(|e| fail(e.to_string()))?
                .flush()
                .map_err(io_fail)?;
        }
        Format::Orc => {
            let target = orc_schema(name, schema)?;
            let mut builder = orc_rust::arrow_writer::ArrowWriterBuilder::new(out, target.clone());
            if options.zstd_level.is_some() {
                builder = builder.with_compression(orc_rust::compression::CompressionType::Zstd);
            }
            let mut w = orc_call(name, || builder.try_build())?;
            for b in batches {
                let b = to_target(name, &target, &b?, rows)?;
                orc_check(name, &b, rows)?;
                orc_call(name, || w.write(&b))?;
                rows += b.num_rows() as u64;
            }
            orc_call(name, || w.close())?;
        }
    }
    Ok(rows)
}

/// Runs an orc-rust writer call, turning errors and panics into errors naming the file.
fn orc_call<T, E: std::fmt::Display>(
    name: &str,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, InterchangeError> {
    match catch_quietly(f) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(InterchangeError::data(
            name,
            Default::default(),
            format!("ORC writer: {e}"),
        )),
        Err(p) => Err(InterchangeError::data(
            name,
            Default::default(),
            format!("ORC writer failed: {p}"),
        )),
    }
}

/// Refuses timestamps ORC cannot represent: per ORC-763, instants strictly between
/// 1969-12-31 23:59:59.000999 and the epoch read back as different values.
fn orc_check(name: &str, batch: &RecordBatch, first_row: u64) -> Result<(), InterchangeError> {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::TimestampMicrosecondType;
    for (a, f) in batch.columns().iter().zip(batch.schema().fields()) {
        if !matches!(a.data_type(), DataType::Timestamp(..)) {
            continue;
        }
        let ts = a.as_primitive::<TimestampMicrosecondType>();
        for (i, v) in ts.values().iter().enumerate() {
            if ts.is_valid(i) && (-999_000..=-1).contains(v) {
                return Err(InterchangeError::data(
                    name,
                    at_row_col(first_row + i as u64, f.name()),
                    format!(
                        "ORC cannot store the timestamp {v} µs (instants from \
                         1969-12-31 23:59:59.001 to 23:59:59.999999 are ambiguous in ORC, see \
                         ORC-763); export to Parquet or Arrow instead"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Turns a schema-level refusal into an [`InterchangeError::Unsupported`] naming the column.
fn refuse_message(
    name: &str,
    format: Format,
    schema: &Schema,
    message: String,
) -> InterchangeError {
    // canonical_schema's messages start with "column NAME:".
    for f in schema.fields() {
        if message.starts_with(&format!("column {}:", f.name())) {
            return InterchangeError::unsupported(
                name,
                format,
                f.name(),
                f.data_type(),
                "Kodiak has no column type for it",
            );
        }
    }
    InterchangeError::data(name, Default::default(), message)
}

/// The schema an ORC file is written with: canonical types, fixed-size binary as binary
/// (orc-rust has no fixed-size type), decimals refused (orc-rust 0.9 cannot write them).
fn orc_schema(name: &str, schema: &Schema) -> Result<SchemaRef, InterchangeError> {
    let canonical =
        canonical_schema(schema).map_err(|m| refuse_message(name, Format::Orc, schema, m))?;
    let mut fields = Vec::with_capacity(canonical.fields().len());
    for f in canonical.fields() {
        let dt = match f.data_type() {
            DataType::FixedSizeBinary(_) => DataType::Binary,
            DataType::Decimal128(..) => {
                return Err(InterchangeError::unsupported(
                    name,
                    Format::Orc,
                    f.name(),
                    f.data_type(),
                    "the ORC writer (orc-rust 0.9) cannot write decimals; export to Parquet or \
                     Arrow instead",
                ));
            }
            other => other.clone(),
        };
        fields.push(Field::new(f.name(), dt, f.is_nullable()).with_metadata(f.metadata().clone()));
    }
    Ok(Arc::new(Schema::new(fields)))
}

/// Converts a batch to the writer's target schema; `first_row` numbers rows in errors.
fn to_target(
    name: &str,
    target: &SchemaRef,
    batch: &RecordBatch,
    first_row: u64,
) -> Result<RecordBatch, InterchangeError> {
    if batch.num_columns() != target.fields().len() {
        return Err(InterchangeError::data(
            name,
            Default::default(),
            format!(
                "batch has {} columns, schema has {}",
                batch.num_columns(),
                target.fields().len()
            ),
        ));
    }
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (a, f) in batch.columns().iter().zip(target.fields()) {
        let c = convert_array(a, f.data_type()).map_err(|(row, m)| {
            InterchangeError::data(
                name,
                at_row_col(first_row + row.unwrap_or(0) as u64, f.name()),
                m,
            )
        })?;
        columns.push(c);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(target.clone(), columns, &options)
        .map_err(|e| InterchangeError::data(name, Default::default(), e.to_string()))
}
