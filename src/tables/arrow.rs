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
use arrow_array::{Array, ArrayRef};
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
    array: ArrayRef,
    ty: Type,
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
        Ok(ColumnReader { array, ty })
    }

    /// Stores the value at row `i` in `out`, like [`ColumnReader::value`], reusing the text
    /// or bytes buffer `out` already holds (an import converts every row into one buffer).
    pub(crate) fn value_into(&self, i: usize, out: &mut Value) -> Result<()> {
        let a = &self.array;
        if !a.is_null(i) {
            match (self.ty, &mut *out) {
                (Type::Text, Value::Text(s)) | (Type::Json, Value::Json(s)) => {
                    s.clear();
                    s.push_str(a.as_string::<i32>().value(i));
                    return Ok(());
                }
                (Type::Bytes, Value::Bytes(b)) => {
                    b.clear();
                    match a.data_type() {
                        DataType::Binary => b.extend_from_slice(a.as_binary::<i32>().value(i)),
                        _ => b.extend_from_slice(a.as_fixed_size_binary().value(i)),
                    }
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
        let a = &self.array;
        if a.is_null(i) {
            return Ok(Value::Null);
        }
        Ok(match self.ty {
            Type::Bool => Value::Bool(a.as_boolean().value(i)),
            Type::Int => Value::Int(a.as_primitive::<Int64Type>().value(i)),
            Type::Float => Value::Float(a.as_primitive::<Float64Type>().value(i)),
            Type::Decimal { scale, .. } => {
                let u = a.as_primitive::<Decimal128Type>().value(i);
                Value::Decimal(Decimal::new(u, scale).ok_or_else(|| {
                    Error::Invalid(format!("decimal {u}e-{scale} has more than 38 digits"))
                })?)
            }
            Type::Text => Value::Text(a.as_string::<i32>().value(i).to_string()),
            Type::Json => Value::Json(a.as_string::<i32>().value(i).to_string()),
            Type::Bytes => match a.data_type() {
                DataType::Binary => Value::Bytes(a.as_binary::<i32>().value(i).to_vec()),
                _ => Value::Bytes(a.as_fixed_size_binary().value(i).to_vec()),
            },
            Type::Blob => {
                let b = a.as_fixed_size_binary().value(i);
                let id = ObjectId::from_slice(b)
                    .ok_or_else(|| Error::Invalid("a blob id must be 32 bytes".into()))?;
                Value::Blob(BlobId::new(id))
            }
            Type::Date => Value::Date(a.as_primitive::<Date32Type>().value(i)),
            Type::Timestamp { with_tz } => {
                let m = a.as_primitive::<TimestampMicrosecondType>().value(i);
                if with_tz {
                    Value::TimestampTz(m)
                } else {
                    Value::Timestamp(m)
                }
            }
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
