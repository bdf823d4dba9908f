//! JSONL (newline-delimited JSON objects): arrow-json decodes; our own encoder writes, because
//! arrow-json's writes NaN and infinities as `null`.

use std::fs::File;
use std::io::{BufReader, Seek, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::csv::View;
use super::normalize::{canonical_schema, normalized};
use super::{BatchIter, Counting, Format, InterchangeError, clean_arrow_message, guarded};

/// Reads a JSONL file. Without a declared schema, types are inferred over the whole file by
/// arrow-json (BOOL, INT, FLOAT, TEXT; nested values are refused).
pub(crate) fn read_jsonl(
    path: &Path,
    declared: Option<SchemaRef>,
    batch_size: usize,
    bytes_read: Option<Arc<AtomicU64>>,
) -> Result<(SchemaRef, BatchIter), InterchangeError> {
    let file_name = path.display().to_string();
    let file = File::open(path).map_err(|e| InterchangeError::io(path, "cannot open", e))?;
    let mut reader = BufReader::with_capacity(1 << 16, Counting::new(file, bytes_read));
    let schema = match declared {
        Some(s) => canonical_schema(&s)
            .map_err(|m| InterchangeError::data(&file_name, Default::default(), m))?,
        None => {
            let (inferred, _) = guarded(&file_name, Format::Jsonl, || {
                arrow_json::reader::infer_json_schema(&mut reader, None)
            })
            .map_err(|e| as_data_error(e, &file_name))?;
            reader
                .rewind()
                .map_err(|e| InterchangeError::io(path, "cannot read", e))?;
            reader.get_ref().reset();
            canonical_schema(&inferred)
                .map_err(|m| InterchangeError::data(&file_name, Default::default(), m))?
        }
    };
    // arrow-json decodes hex strings into Binary but not FixedSizeBinary: read those as Binary
    // and let normalization check the length.
    let decode_fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::FixedSizeBinary(_) => f.as_ref().clone().with_data_type(DataType::Binary),
            _ => f.as_ref().clone(),
        })
        .collect();
    let decode_schema = Arc::new(Schema::new(decode_fields));
    let decoder = guarded(&file_name, Format::Jsonl, || {
        arrow_json::ReaderBuilder::new(decode_schema.clone())
            .with_batch_size(batch_size)
            .build(reader)
    })?;
    let target = Arc::new(schema);
    let (_, iter) = normalized(file_name.clone(), Format::Jsonl, decode_schema, decoder)?;
    let name = file_name;
    let target2 = target.clone();
    let iter = iter.map(move |r| {
        // arrow-json reports neither line nor row; the batch's first row would mislead.
        let b = r.map_err(|e| match as_data_error(e, &name) {
            InterchangeError::Data { file, at, message } => InterchangeError::Data {
                file,
                at: super::error::Location { row: None, ..at },
                message,
            },
            other => other,
        })?;
        let cols = b
            .columns()
            .iter()
            .zip(target2.fields())
            .map(|(a, f)| {
                if a.data_type() == f.data_type() {
                    Ok(a.clone())
                } else {
                    arrow_cast::cast_with_options(
                        a,
                        f.data_type(),
                        &arrow_cast::CastOptions {
                            safe: false,
                            ..Default::default()
                        },
                    )
                    .map_err(|e| {
                        InterchangeError::data(
                            &name,
                            super::error::Location {
                                column: Some(f.name().clone()),
                                ..Default::default()
                            },
                            clean_arrow_message(&e),
                        )
                    })
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        RecordBatch::try_new(target2.clone(), cols)
            .map_err(|e| InterchangeError::data(&name, Default::default(), e.to_string()))
    });
    Ok((target, Box::new(iter)))
}

/// JSON syntax errors are data errors, not corruption of a binary file.
fn as_data_error(e: InterchangeError, file: &str) -> InterchangeError {
    match e {
        InterchangeError::Corrupt { message, at, .. } => InterchangeError::Data {
            file: file.to_string(),
            at,
            message,
        },
        other => other,
    }
}

/// Appends `s` as a JSON string literal.
pub(crate) fn push_json_string(s: &str, out: &mut Vec<u8>) {
    use std::fmt::Write as _;
    out.push(b'"');
    let mut start = 0;
    let bytes = s.as_bytes();
    for (i, &c) in bytes.iter().enumerate() {
        let esc: Option<&[u8]> = match c {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match esc {
            Some(e) => out.extend_from_slice(e),
            None => {
                let mut u = String::new();
                let _ = write!(u, "\\u{c:04x}");
                out.extend_from_slice(u.as_bytes());
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Streaming JSONL writer over canonical batches.
pub(crate) struct JsonlWriter<W: Write> {
    out: W,
    /// Every column name, already encoded as `"name":`.
    keys: Vec<Vec<u8>>,
    line: Vec<u8>,
    scratch: String,
}

impl<W: Write> JsonlWriter<W> {
    /// Starts a file.
    pub(crate) fn new(out: W, schema: &Schema) -> Self {
        let keys = schema
            .fields()
            .iter()
            .map(|f| {
                let mut k = Vec::new();
                push_json_string(f.name(), &mut k);
                k.push(b':');
                k
            })
            .collect();
        JsonlWriter {
            out,
            keys,
            line: Vec::with_capacity(1 << 16),
            scratch: String::new(),
        }
    }

    /// Writes every row of a canonical batch: numbers, booleans and NULL natively; non-finite
    /// floats as the strings `"NaN"`, `"inf"`, `"-inf"`; decimals, dates, timestamps and hex
    /// bytes as strings (exact, and parsed back by arrow-json given the schema).
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), String> {
        let views = View::columns(batch, "JSONL")?;
        for row in 0..batch.num_rows() {
            self.line.push(b'{');
            for (c, v) in views.iter().enumerate() {
                if c > 0 {
                    self.line.push(b',');
                }
                self.line.extend_from_slice(&self.keys[c]);
                if v.is_null(row) {
                    self.line.extend_from_slice(b"null");
                    continue;
                }
                let mut scratch = std::mem::take(&mut self.scratch);
                scratch.clear();
                match v.format(row, &mut scratch) {
                    Some(text) => push_json_string(text, &mut self.line),
                    None => {
                        if v.is_json_native(row) {
                            self.line.extend_from_slice(scratch.as_bytes());
                        } else {
                            push_json_string(&scratch, &mut self.line);
                        }
                    }
                }
                self.scratch = scratch;
            }
            self.line.extend_from_slice(b"}\n");
            if self.line.len() >= 1 << 16 {
                self.out.write_all(&self.line).map_err(|e| e.to_string())?;
                self.line.clear();
            }
        }
        Ok(())
    }

    /// Flushes buffered lines.
    pub(crate) fn finish(mut self) -> std::io::Result<W> {
        self.out.write_all(&self.line)?;
        self.out.flush()?;
        Ok(self.out)
    }
}
