//! Kodiak columns ⇄ Arrow fields, Arrow arrays → typed values, typed values → Arrow arrays.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, FixedSizeBinaryBuilder,
    Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float64Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, FixedSizeBinaryArray,
    Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Field, Schema as ArrowSchema, SchemaRef, TimeUnit};

use crate::error::{Error, Result};
use crate::id::{BlobId, ObjectId};
use crate::schema::{Column, Decimal, Schema, Type, Value};

/// Field metadata key that marks JSON and BLOB columns.
pub const EXTENSION_KEY: &str = "ARROW:extension:name";
/// Extension name of a JSON column (a `Utf8` field).
pub const JSON_EXTENSION: &str = "arrow.json";
/// Extension name of a BLOB reference column (a `FixedSizeBinary(32)` field).
pub const BLOB_EXTENSION: &str = "kodiak.blob_ref";

fn extension(field: &Field) -> Option<&str> {
    field.metadata().get(EXTENSION_KEY).map(String::as_str)
}

/// The Kodiak type of a field whose type is canonical (see [`crate::interchange::canonical_type`]).
pub fn kodiak_type(field: &Field) -> Result<Type> {
    let unsupported = || {
        Error::Invalid(format!(
            "column {}: type {} has no Kodiak equivalent",
            field.name(),
            field.data_type()
        ))
    };
    Ok(match field.data_type() {
        DataType::Boolean => Type::Bool,
        DataType::Int64 => Type::Int,
        DataType::Float64 => Type::Float,
        DataType::Decimal128(p, s) => {
            let scale = u8::try_from(*s).map_err(|_| unsupported())?;
            Type::decimal(*p, scale)
                .map_err(|e| Error::Invalid(format!("column {}: {e}", field.name())))?
        }
        DataType::Utf8 if extension(field) == Some(JSON_EXTENSION) => Type::Json,
        DataType::Utf8 => Type::Text,
        DataType::FixedSizeBinary(32) if extension(field) == Some(BLOB_EXTENSION) => Type::Blob,
        DataType::Binary | DataType::FixedSizeBinary(_) => Type::Bytes,
        DataType::Date32 => Type::Date,
        DataType::Timestamp(TimeUnit::Microsecond, tz) => Type::Timestamp {
            with_tz: tz.is_some(),
        },
        _ => return Err(unsupported()),
    })
}

/// The Arrow type a Kodiak type is exported as.
pub fn arrow_type(ty: &Type) -> DataType {
    match *ty {
        Type::Bool => DataType::Boolean,
        Type::Int => DataType::Int64,
        Type::Float => DataType::Float64,
        // Scale ≤ precision ≤ 38, so it fits an i8.
        Type::Decimal { precision, scale } => DataType::Decimal128(precision, scale as i8),
        Type::Text | Type::Json => DataType::Utf8,
        Type::Bytes => DataType::Binary,
        Type::Date => DataType::Date32,
        Type::Timestamp { with_tz } => {
            DataType::Timestamp(TimeUnit::Microsecond, with_tz.then(|| Arc::from("UTC")))
        }
        Type::Blob => DataType::FixedSizeBinary(32),
    }
}

/// The Arrow field for a column (`nullable` overrides the column's own nullability when set).
pub fn arrow_field(name: &str, ty: &Type, nullable: bool) -> Field {
    let f = Field::new(name, arrow_type(ty), nullable);
    let ext = match ty {
        Type::Json => Some(JSON_EXTENSION),
        Type::Blob => Some(BLOB_EXTENSION),
        _ => None,
    };
    match ext {
        Some(e) => f.with_metadata(HashMap::from([(EXTENSION_KEY.to_string(), e.to_string())])),
        None => f,
    }
}

/// The Arrow schema of a table's rows (NOT NULL columns are non-nullable fields).
pub fn arrow_schema(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .columns()
        .iter()
        .map(|c: &Column| arrow_field(&c.name, &c.ty, c.nullable))
        .collect();
    Arc::new(ArrowSchema::new(fields))
}

/// Reads values of one canonical Arrow column as values of a Kodiak type.
pub(crate) struct ColumnReader {
    nulls: Option<NullBuffer>,
    /// The array, cast to its concrete type once (not for every value).
    data: Typed,
}

/// A column's array as its concrete type, by the Kodiak type it is read as.
enum Typed {
    Bool(BooleanArray),
    Int(Int64Array),
    Float(Float64Array),
    Decimal(Decimal128Array, u8),
    Text(StringArray),
    Json(StringArray),
    Bytes(BinaryArray),
    FixedBytes(FixedSizeBinaryArray),
    Blob(FixedSizeBinaryArray),
    Date(Date32Array),
    Timestamp(TimestampMicrosecondArray, bool),
}

impl ColumnReader {
    /// A reader for `array` into values of `ty`, or an error when the array's type cannot
    /// hold that type's values exactly. TEXT reads as JSON (validated when encoded) and
    /// 32-byte binaries as BLOB, since formats that drop field metadata lose those markers.
    pub(crate) fn new(array: ArrayRef, ty: Type, column: &str) -> Result<ColumnReader> {
        let ok = match (array.data_type(), &ty) {
            (DataType::Boolean, Type::Bool)
            | (DataType::Int64, Type::Int)
            | (DataType::Float64, Type::Float)
            | (DataType::Utf8, Type::Text | Type::Json)
            | (DataType::Binary | DataType::FixedSizeBinary(_), Type::Bytes)
            | (DataType::FixedSizeBinary(32), Type::Blob)
            | (DataType::Date32, Type::Date) => true,
            (DataType::Decimal128(_, s), Type::Decimal { scale, .. }) => {
                i16::from(*s) == i16::from(*scale)
            }
            (DataType::Timestamp(TimeUnit::Microsecond, tz), Type::Timestamp { with_tz }) => {
                tz.is_some() == *with_tz
            }
            _ => false,
        };
        if !ok {
            return Err(Error::Invalid(format!(
                "column {column}: the file has type {} but the table column is {ty}",
                array.data_type()
            )));
        }
        let a = &array;
        let data = match ty {
            Type::Bool => Typed::Bool(a.as_boolean().clone()),
            Type::Int => Typed::Int(a.as_primitive::<Int64Type>().clone()),
            Type::Float => Typed::Float(a.as_primitive::<Float64Type>().clone()),
            Type::Decimal { scale, .. } => {
                Typed::Decimal(a.as_primitive::<Decimal128Type>().clone(), scale)
            }
            Type::Text => Typed::Text(a.as_string::<i32>().clone()),
            Type::Json => Typed::Json(a.as_string::<i32>().clone()),
            Type::Bytes => match a.data_type() {
                DataType::Binary => Typed::Bytes(a.as_binary::<i32>().clone()),
                _ => Typed::FixedBytes(a.as_fixed_size_binary().clone()),
            },
            Type::Blob => Typed::Blob(a.as_fixed_size_binary().clone()),
            Type::Date => Typed::Date(a.as_primitive::<Date32Type>().clone()),
            Type::Timestamp { with_tz } => Typed::Timestamp(
                a.as_primitive::<TimestampMicrosecondType>().clone(),
                with_tz,
            ),
        };
        Ok(ColumnReader {
            nulls: array.nulls().cloned(),
            data,
        })
    }

    /// Stores the value at row `i` in `out`, like [`ColumnReader::value`], reusing the text
    /// or bytes buffer `out` already holds (an import converts every row into one buffer).
    pub(crate) fn value_into(&self, i: usize, out: &mut Value) -> Result<()> {
        if self.nulls.as_ref().is_none_or(|n| n.is_valid(i)) {
            match (&self.data, &mut *out) {
                (Typed::Text(a), Value::Text(s)) | (Typed::Json(a), Value::Json(s)) => {
                    s.clear();
                    s.push_str(a.value(i));
                    return Ok(());
                }
                (Typed::Bytes(a), Value::Bytes(b)) => {
                    b.clear();
                    b.extend_from_slice(a.value(i));
                    return Ok(());
                }
                (Typed::FixedBytes(a), Value::Bytes(b)) => {
                    b.clear();
                    b.extend_from_slice(a.value(i));
                    return Ok(());
                }
                _ => {}
            }
        }
        *out = self.value(i)?;
        Ok(())
    }

    /// The value at row `i` (NULL when the array has a null there).
    pub(crate) fn value(&self, i: usize) -> Result<Value> {
        if self.nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            return Ok(Value::Null);
        }
        Ok(match &self.data {
            Typed::Bool(a) => Value::Bool(a.value(i)),
            Typed::Int(a) => Value::Int(a.value(i)),
            Typed::Float(a) => Value::Float(a.value(i)),
            Typed::Decimal(a, scale) => {
                let u = a.value(i);
                Value::Decimal(Decimal::new(u, *scale).ok_or_else(|| {
                    Error::Invalid(format!("decimal {u}e-{scale} has more than 38 digits"))
                })?)
            }
            Typed::Text(a) => Value::Text(a.value(i).to_string()),
            Typed::Json(a) => Value::Json(a.value(i).to_string()),
            Typed::Bytes(a) => Value::Bytes(a.value(i).to_vec()),
            Typed::FixedBytes(a) => Value::Bytes(a.value(i).to_vec()),
            Typed::Blob(a) => {
                let id = ObjectId::from_slice(a.value(i))
                    .ok_or_else(|| Error::Invalid("a blob id must be 32 bytes".into()))?;
                Value::Blob(BlobId::new(id))
            }
            Typed::Date(a) => Value::Date(a.value(i)),
            Typed::Timestamp(a, true) => Value::TimestampTz(a.value(i)),
            Typed::Timestamp(a, false) => Value::Timestamp(a.value(i)),
        })
    }
}

/// Builds one Arrow column from Kodiak values of one type.
pub(crate) enum ColumnBuilder {
    Bool(BooleanBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Decimal(Decimal128Builder),
    Text(StringBuilder),
    Bytes(BinaryBuilder),
    Fixed(FixedSizeBinaryBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
}

impl ColumnBuilder {
    /// A builder for values of `ty`.
    pub(crate) fn new(ty: &Type) -> Result<ColumnBuilder> {
        Ok(match *ty {
            Type::Bool => ColumnBuilder::Bool(BooleanBuilder::new()),
            Type::Int => ColumnBuilder::Int(Int64Builder::new()),
            Type::Float => ColumnBuilder::Float(Float64Builder::new()),
            Type::Decimal { precision, scale } => ColumnBuilder::Decimal(
                Decimal128Builder::new()
                    .with_precision_and_scale(precision, scale as i8)
                    .map_err(|e| Error::Invalid(format!("{ty}: {e}")))?,
            ),
            Type::Text | Type::Json => ColumnBuilder::Text(StringBuilder::new()),
            Type::Bytes => ColumnBuilder::Bytes(BinaryBuilder::new()),
            Type::Blob => ColumnBuilder::Fixed(FixedSizeBinaryBuilder::new(32)),
            Type::Date => ColumnBuilder::Date(Date32Builder::new()),
            Type::Timestamp { with_tz } => {
                let b = TimestampMicrosecondBuilder::new();
                ColumnBuilder::Timestamp(if with_tz { b.with_timezone("UTC") } else { b })
            }
        })
    }

    /// Appends a value (decoded from a row of this column's type).
    pub(crate) fn push(&mut self, v: &Value) -> Result<()> {
        match (self, v) {
            (ColumnBuilder::Bool(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Int(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Float(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Decimal(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Text(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Bytes(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Fixed(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Date(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Timestamp(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Bool(b), Value::Bool(x)) => b.append_value(*x),
            (ColumnBuilder::Int(b), Value::Int(x)) => b.append_value(*x),
            (ColumnBuilder::Float(b), Value::Float(x)) => b.append_value(*x),
            (ColumnBuilder::Decimal(b), Value::Decimal(d)) => b.append_value(d.unscaled()),
            (ColumnBuilder::Text(b), Value::Text(s) | Value::Json(s)) => b.append_value(s),
            (ColumnBuilder::Bytes(b), Value::Bytes(x)) => b.append_value(x),
            (ColumnBuilder::Fixed(b), Value::Blob(id)) => b
                .append_value(id.id().as_bytes())
                .map_err(|e| Error::Invalid(e.to_string()))?,
            (ColumnBuilder::Date(b), Value::Date(x)) => b.append_value(*x),
            (ColumnBuilder::Timestamp(b), Value::Timestamp(x) | Value::TimestampTz(x)) => {
                b.append_value(*x)
            }
            (_, v) => {
                return Err(Error::Invalid(format!(
                    "unexpected {} value {v} in an export column",
                    v.kind_name()
                )));
            }
        }
        Ok(())
    }

    /// The finished array.
    pub(crate) fn finish(&mut self) -> ArrayRef {
        use arrow_array::builder::ArrayBuilder;
        match self {
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Int(b) => Arc::new(b.finish()),
            ColumnBuilder::Float(b) => Arc::new(b.finish()),
            ColumnBuilder::Decimal(b) => Arc::new(b.finish()),
            ColumnBuilder::Text(b) => Arc::new(b.finish()),
            ColumnBuilder::Bytes(b) => Arc::new(b.finish()),
            ColumnBuilder::Fixed(b) => ArrayBuilder::finish(b),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(b) => Arc::new(b.finish()),
        }
    }
}
