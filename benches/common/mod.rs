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

/// The signature benchmark commits carry, at `time` (seconds since the epoch, UTC).
#[allow(dead_code)] // each bench binary compiles this module; not all of them write commits
pub fn sig(time: i64) -> kodiak::object::Signature {
    kodiak::object::Signature {
        name: "Bench".into(),
        email: "bench@example.com".into(),
        time,
        tz_offset_min: 0,
    }
}

/// Writes `row(id)` for each of `ids` into table `table` of the working state of the
/// repository at `dir`, through the library (the binary then commits it).
#[allow(dead_code)] // each bench binary compiles this module; not all of them edit tables
pub fn put_working_rows(
    dir: &std::path::Path,
    table: &str,
    ids: impl Iterator<Item = i64>,
    row: impl Fn(i64) -> Vec<kodiak::schema::Value>,
) {
    use kodiak::history::WorkState;
    use kodiak::object::Table;
    use kodiak::repo::{LockWait, Repo, RepoPaths};
    use kodiak::schema::{RowCodec, Schema};
    use kodiak::table::NodeStore;

    let repo = Repo::open(RepoPaths::new(dir), LockWait::Forever).expect("open");
    let store = repo.store();
    let st = WorkState::load(&repo).expect("state");
    let mut root = st.working(store).expect("root");
    let t: Table = store.get(&root.tables[table]).expect("table");
    let schema: Schema = store.get(&t.schema).expect("schema");
    let codec = RowCodec::new(&schema);
    let edits: Vec<(Vec<u8>, Option<Vec<u8>>)> = ids
        .map(|i| {
            let (k, v) = codec.encode_row(&row(i)).expect("encode");
            (k, Some(v))
        })
        .collect();
    let rows = NodeStore::new(store.clone())
        .apply(t.rows, edits)
        .expect("apply");
    let table_id = store.put(&Table { rows, ..t }).expect("put");
    root.tables.insert(table.into(), table_id);
    st.set_working(&repo, &root, "bench: edit rows")
        .expect("set working");
    repo.close().expect("close");
}
