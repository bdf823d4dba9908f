//! Typed values, table schemas with stable column tags, and the row codec.
//!
//! - [`Type`] and [`Value`]: the column types, their text forms and a total order.
//! - [`Schema`]: the Schema object (kind 3) — ordered columns, each with a stable `tag` that
//!   survives renames and a physical `slot` in the row value encoding, plus a primary key.
//! - [`RowCodec`]: memcomparable keys and slot-addressed values, so adding, dropping or
//!   renaming a column never rewrites existing rows.
//!
//! The byte layouts are specified in `objects_format.md` ("Schemas", "Row encoding").

pub mod civil;
mod codec;
mod convert;
mod json;
mod table_schema;
mod types;

#[cfg(test)]
mod tests;

pub use codec::{KEYLESS_KEY_LEN, RowCodec};
pub use convert::{convert_value, convertible};
pub use table_schema::{Column, ColumnDef, DroppedColumn, MAX_SLOTS, Schema};
pub use types::{Decimal, MAX_DECIMAL_PRECISION, Type, Value};
