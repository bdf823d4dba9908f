//! Data shared by the benchmarks: the `items` table as Arrow batches.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use kodiak::interchange::DEFAULT_BATCH_SIZE;

/// `items(id INT, name TEXT, qty INT, price FLOAT)` with `rows` rows in batches of the default
/// size: row `i` has id `id_of(i)`, name `name <id>`, qty `id * qty_factor % 1000` and price
/// `id * 0.37 + 0.01`.
pub fn items_batches(
    rows: usize,
    id_of: impl Fn(usize) -> i64,
    qty_factor: i64,
) -> (SchemaRef, Vec<RecordBatch>) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("qty", DataType::Int64, true),
        Field::new("price", DataType::Float64, true),
    ]));
    let mut out = Vec::new();
    let mut start = 0;
    while start < rows {
        let n = DEFAULT_BATCH_SIZE.min(rows - start);
        let ids: Vec<i64> = (start..start + n).map(&id_of).collect();
        let names: Vec<String> = ids.iter().map(|i| format!("name {i}")).collect();
        let qty: Vec<i64> = ids.iter().map(|i| (i * qty_factor) % 1000).collect();
        let price: Vec<f64> = ids.iter().map(|i| (*i as f64) * 0.37 + 0.01).collect();
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(StringArray::from(names)),
            Arc::new(Int64Array::from(qty)),
            Arc::new(Float64Array::from(price)),
        ];
        out.push(RecordBatch::try_new(schema.clone(), cols).expect("batch"));
        start += n;
    }
    (schema, out)
}
