//! Data shared by the benchmarks: the `items` table as Arrow batches.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use kodiak::interchange::DEFAULT_BATCH_SIZE;

/// `items(id INT, name TEXT, qty INT, price FLOAT)` with `rows` rows in batches of the default
/// size: row `i` has id `id_of(i)`, name `name <id>`, qty `id * qty_factor % 1000` and price
/// `id * 0.37 + 0.01`.
#[allow(dead_code)] // each bench binary compiles this module; not all of them build tables
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

/// Runs the `kodiak` binary in `dir` as the bench author, panicking with its stderr if it
/// fails; returns the wall time of the whole process and its stdout.
#[allow(dead_code)] // each bench binary compiles this module; not all of them run commands
pub fn kodiak(dir: &std::path::Path, args: &[&str]) -> (std::time::Duration, String) {
    let start = std::time::Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kodiak"))
        .args(args)
        .current_dir(dir)
        .env("KODIAK_AUTHOR_NAME", "bench")
        .env("KODIAK_AUTHOR_EMAIL", "bench@example.com")
        .output()
        .expect("running kodiak");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "kodiak {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (took, String::from_utf8_lossy(&out.stdout).into_owned())
}
