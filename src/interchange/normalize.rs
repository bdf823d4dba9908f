//! Canonical Arrow types (what Kodiak's column types map to) and conversion of decoded batches
//! into them, exactly or not at all.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date64Type, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, Date32Array, Int64Array, RecordBatch, RecordBatchOptions,
    TimestampMicrosecondArray, new_null_array,
};
use arrow_buffer::NullBuffer;
use arrow_cast::CastOptions;
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};

use super::error::at_row_col;
use super::{BatchIter, Format, InterchangeError, catch_quietly, clean_arrow_message};

/// Microseconds per day.
const DAY_MS: i64 = 86_400_000;

/// The canonical Arrow type that values of `dt` are read as, or `None` if Kodiak has no
/// column type for it.
///
/// Canonical types: `Boolean`, `Int64`, `Float64`, `Decimal128`, `Utf8`, `Binary`,
/// `FixedSizeBinary`, `Date32`, `Timestamp(Microsecond, None)` and
/// `Timestamp(Microsecond, Some("UTC"))`. Narrower integers and floats widen; `UInt64`
/// becomes `Int64` (values above `i64::MAX` are refused when read); `LargeUtf8`/`Utf8View`
/// become `Utf8`; large/view binaries become `Binary`; `Date64` becomes `Date32` (values that
/// are not whole days are refused); any timestamp unit becomes microseconds (sub-microsecond
/// or overflowing values are refused) and any time zone becomes `UTC` (Arrow timestamps are
/// UTC instants, so the values do not change); dictionaries take their value type; the
/// `Null` type becomes `Utf8`.
pub fn canonical_type(dt: &DataType) -> Option<DataType> {
    use DataType as D;
    Some(match dt {
        D::Boolean => D::Boolean,
        D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::UInt8 | D::UInt16 | D::UInt32 | D::UInt64 => {
            D::Int64
        }
        D::Float16 | D::Float32 | D::Float64 => D::Float64,
        D::Decimal32(p, s) | D::Decimal64(p, s) | D::Decimal128(p, s) => D::Decimal128(*p, *s),
        D::Decimal256(p, s) if *p <= 38 => D::Decimal128(*p, *s),
        D::Utf8 | D::LargeUtf8 | D::Utf8View | D::Null => D::Utf8,
        D::Binary | D::LargeBinary | D::BinaryView => D::Binary,
        D::FixedSizeBinary(n) => D::FixedSizeBinary(*n),
        D::Date32 | D::Date64 => D::Date32,
        D::Timestamp(_, tz) => {
            D::Timestamp(TimeUnit::Microsecond, tz.as_ref().map(|_| Arc::from("UTC")))
        }
        D::Dictionary(_, value) => return canonical_type(value),
        _ => return None,
    })
}

/// `schema` with every field's type made canonical (field metadata and nullability kept,
/// schema-level metadata dropped); the error names the first column with no canonical type.
pub fn canonical_schema(schema: &Schema) -> Result<Schema, String> {
    let mut fields = Vec::with_capacity(schema.fields().len());
    for f in schema.fields() {
        let Some(dt) = canonical_type(f.data_type()) else {
            return Err(format!(
                "column {}: type {} has no Kodiak equivalent",
                f.name(),
                f.data_type()
            ));
        };
        fields.push(Field::new(f.name(), dt, f.is_nullable()).with_metadata(f.metadata().clone()));
    }
    Ok(Schema::new(fields))
}

/// Converts `array` to the canonical `target` type exactly. On failure returns the index of the
/// offending row (if one is to blame) and a message.
pub(crate) fn convert_array(
    array: &ArrayRef,
    target: &DataType,
) -> Result<ArrayRef, (Option<usize>, String)> {
    use DataType as D;
    let source = array.data_type();
    if source == target {
        return Ok(array.clone());
    }
    match (source, target) {
        (D::Null, _) => Ok(new_null_array(target, array.len())),
        (D::Dictionary(_, value), _) => {
            let plain = cast(array, value)?;
            convert_array(&plain, target)
        }
        (D::UInt64, D::Int64) => {
            let a = array.as_primitive::<UInt64Type>();
            let values =
                checked_map(a.values(), a.nulls(), |v| i64::try_from(v).ok()).map_err(|row| {
                    (
                        Some(row),
                        format!("{} is out of range for INT", a.value(row)),
                    )
                })?;
            Ok(Arc::new(Int64Array::new(values.into(), a.nulls().cloned())))
        }
        (D::Date64, D::Date32) => {
            let a = array.as_primitive::<Date64Type>();
            let values = checked_map(a.values(), a.nulls(), |v| {
                if v % DAY_MS == 0 {
                    i32::try_from(v / DAY_MS).ok()
                } else {
                    None
                }
            })
            .map_err(|row| {
                (
                    Some(row),
                    format!(
                        "Date64 value {} ms is not a whole day; DATE would lose its time",
                        a.value(row)
                    ),
                )
            })?;
            Ok(Arc::new(Date32Array::new(
                values.into(),
                a.nulls().cloned(),
            )))
        }
        (D::Timestamp(unit, _), D::Timestamp(TimeUnit::Microsecond, tz)) => {
            let (raw, nulls): (Vec<i64>, Option<&NullBuffer>) = match unit {
                TimeUnit::Second => {
                    let a = array.as_primitive::<TimestampSecondType>();
                    (
                        scale(a.values(), a.nulls(), |v| v.checked_mul(1_000_000))?,
                        a.nulls(),
                    )
                }
                TimeUnit::Millisecond => {
                    let a = array.as_primitive::<TimestampMillisecondType>();
                    (
                        scale(a.values(), a.nulls(), |v| v.checked_mul(1_000))?,
                        a.nulls(),
                    )
                }
                TimeUnit::Microsecond => {
                    let a = array.as_primitive::<TimestampMicrosecondType>();
                    (a.values().to_vec(), a.nulls())
                }
                TimeUnit::Nanosecond => {
                    let a = array.as_primitive::<TimestampNanosecondType>();
                    let out = checked_map(a.values(), a.nulls(), |v| {
                        (v % 1000 == 0).then_some(v / 1000)
                    })
                    .map_err(|row| {
                        (
                            Some(row),
                            format!(
                                "timestamp {} ns has sub-microsecond precision that TIMESTAMP \
                                 cannot hold",
                                a.value(row)
                            ),
                        )
                    })?;
                    (out, a.nulls())
                }
            };
            Ok(Arc::new(
                TimestampMicrosecondArray::new(raw.into(), nulls.cloned())
                    .with_timezone_opt(tz.clone()),
            ))
        }
        _ => cast(array, target),
    }
}

/// Multiplies timestamps into microseconds, refusing overflow.
fn scale(
    values: &[i64],
    nulls: Option<&NullBuffer>,
    f: impl Fn(i64) -> Option<i64>,
) -> Result<Vec<i64>, (Option<usize>, String)> {
    checked_map(values, nulls, &f).map_err(|row| {
        (
            Some(row),
            format!(
                "timestamp {} is outside the range of microsecond TIMESTAMP",
                values[row]
            ),
        )
    })
}

/// Applies `f` to every non-null value (nulls map to the default); `Err(row)` for the first
/// value `f` rejects.
fn checked_map<T: Copy, U: Default>(
    values: &[T],
    nulls: Option<&NullBuffer>,
    f: impl Fn(T) -> Option<U>,
) -> Result<Vec<U>, usize> {
    let mut out = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        if nulls.is_some_and(|n| n.is_null(i)) {
            out.push(U::default());
        } else {
            out.push(f(*v).ok_or(i)?);
        }
    }
    Ok(out)
}

/// An exact (non-saturating, erroring) arrow cast.
fn cast(array: &ArrayRef, target: &DataType) -> Result<ArrayRef, (Option<usize>, String)> {
    let options = CastOptions {
        safe: false,
        ..CastOptions::default()
    };
    arrow_cast::cast_with_options(array, target, &options)
        .map_err(|e: ArrowError| (None, clean_arrow_message(&e)))
}

/// Converts a decoder's batch stream into canonical types, catching decoder panics and naming
/// the file and row in every error.
pub(crate) fn normalized(
    file: String,
    format: Format,
    source: SchemaRef,
    batches: impl Iterator<Item = Result<RecordBatch, ArrowError>> + Send + 'static,
) -> Result<(SchemaRef, BatchIter), InterchangeError> {
    let target = canonical_schema(&source)
        .map_err(|m| InterchangeError::data(&file, Default::default(), m))?;
    let target = Arc::new(target);
    let iter = Normalizing {
        inner: batches,
        file,
        format,
        target: target.clone(),
        row: 0,
        done: false,
    };
    Ok((target, Box::new(iter)))
}

/// Iterator adapter behind [`normalized`].
struct Normalizing<I> {
    inner: I,
    file: String,
    format: Format,
    target: SchemaRef,
    /// Rows yielded so far (the next batch's first row number).
    row: u64,
    /// Set after an error: a decoder that failed or panicked is not called again.
    done: bool,
}

impl<I: Iterator<Item = Result<RecordBatch, ArrowError>>> Iterator for Normalizing<I> {
    type Item = Result<RecordBatch, InterchangeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = match catch_quietly(|| self.inner.next()) {
            Ok(None) => return None,
            Ok(Some(Ok(batch))) => self.convert(batch),
            Ok(Some(Err(e))) => Err(InterchangeError::corrupt(
                &self.file,
                self.format,
                Some(self.row),
                clean_arrow_message(&e),
            )),
            Err(panic) => Err(InterchangeError::corrupt(
                &self.file,
                self.format,
                Some(self.row),
                format!("decoder failed: {panic}"),
            )),
        };
        if item.is_err() {
            self.done = true;
        }
        Some(item)
    }
}

impl<I> Normalizing<I> {
    /// Converts one decoded batch to the target schema.
    fn convert(&mut self, batch: RecordBatch) -> Result<RecordBatch, InterchangeError> {
        if batch.num_columns() != self.target.fields().len() {
            return Err(InterchangeError::corrupt(
                &self.file,
                self.format,
                Some(self.row),
                format!(
                    "batch has {} columns, schema has {}",
                    batch.num_columns(),
                    self.target.fields().len()
                ),
            ));
        }
        let mut columns = Vec::with_capacity(batch.num_columns());
        for (array, field) in batch.columns().iter().zip(self.target.fields()) {
            let converted = convert_array(array, field.data_type()).map_err(|(row, msg)| {
                let at = at_row_col(self.row + row.unwrap_or(0) as u64, field.name());
                InterchangeError::data(&self.file, at, msg)
            })?;
            columns.push(converted);
        }
        let n = batch.num_rows();
        let options = RecordBatchOptions::new().with_row_count(Some(n));
        let out = RecordBatch::try_new_with_options(self.target.clone(), columns, &options)
            .map_err(|e| {
                InterchangeError::corrupt(&self.file, self.format, Some(self.row), e.to_string())
            })?;
        self.row += n as u64;
        Ok(out)
    }
}
