//! Fidelity, inference and bad-input tests for the interchange layer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, FixedSizeBinaryArray,
    Float32Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray, TimestampNanosecondArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use proptest::strategy::Strategy as _;

use super::*;

/// A NaN with a non-default payload.
const NAN_PAYLOAD: u64 = 0x7ff8_0000_0000_1234;

/// A batch holding every Kodiak column type with edge-case values.
pub(crate) fn all_types_batch() -> RecordBatch {
    let json_meta: HashMap<String, String> =
        [("ARROW:extension:name".to_string(), "arrow.json".to_string())].into();
    let blob_meta: HashMap<String, String> =
        [("kodiak:type".to_string(), "blob".to_string())].into();
    let schema = Arc::new(Schema::new(vec![
        Field::new("b", DataType::Boolean, true),
        Field::new("i", DataType::Int64, true),
        Field::new("f", DataType::Float64, true),
        Field::new("d", DataType::Decimal128(38, 10), true),
        Field::new("t", DataType::Utf8, true),
        Field::new("bytes", DataType::Binary, true),
        Field::new("day", DataType::Date32, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        Field::new(
            "tsz",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("j", DataType::Utf8, true).with_metadata(json_meta),
        Field::new("blob", DataType::FixedSizeBinary(32), true).with_metadata(blob_meta),
    ]));
    let max38 = 10i128.pow(38) - 1;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(BooleanArray::from(vec![
            Some(true),
            Some(false),
            None,
            Some(true),
            Some(false),
            None,
            Some(true),
            Some(false),
        ])),
        Arc::new(Int64Array::from(vec![
            Some(i64::MIN),
            Some(i64::MAX),
            None,
            Some(0),
            Some(-1),
            Some(1),
            Some(42),
            Some(-9_007_199_254_740_993),
        ])),
        Arc::new(Float64Array::from(vec![
            Some(f64::from_bits(NAN_PAYLOAD)),
            Some(-0.0),
            Some(f64::from_bits(1)),
            Some(f64::INFINITY),
            Some(f64::NEG_INFINITY),
            None,
            Some(0.1),
            Some(1e300),
        ])),
        Arc::new(
            Decimal128Array::from(vec![
                Some(max38),
                Some(-max38),
                Some(0),
                None,
                Some(1),
                Some(-1),
                Some(12_345_678_901_234_567_890_123),
                Some(5),
            ])
            .with_precision_and_scale(38, 10)
            .expect("valid decimal type"),
        ),
        Arc::new(StringArray::from(vec![
            Some("héllo wörld ✓ 日本"),
            Some(""),
            None,
            Some("a,b"),
            Some("quote\"d"),
            Some("line\nbreak\r\n"),
            Some("NULL"),
            Some(" spaced\t"),
        ])),
        Arc::new(BinaryArray::from(vec![
            Some(&b""[..]),
            None,
            Some(&[0u8, 255][..]),
            Some(&b"abc"[..]),
            Some(&b","[..]),
            Some(&[0u8][..]),
            Some(&b"\n"[..]),
            Some(&[1u8, 2, 3][..]),
        ])),
        Arc::new(Date32Array::from(vec![
            Some(0),
            Some(-719_162),
            Some(2_932_896),
            None,
            Some(19_000),
            Some(-1),
            Some(1),
            Some(11_016),
        ])),
        Arc::new(TimestampMicrosecondArray::from(vec![
            Some(0),
            Some(-1),
            Some(253_402_300_799_999_999),
            None,
            Some(1_700_000_000_123_456),
            Some(-62_135_596_800_000_000),
            Some(1),
            Some(999),
        ])),
        Arc::new(
            TimestampMicrosecondArray::from(vec![
                Some(1),
                Some(0),
                None,
                Some(-1_000_000),
                Some(1_700_000_000_000_001),
                Some(253_402_300_799_000_000),
                Some(-62_135_596_800_000_000),
                Some(86_400_000_000),
            ])
            .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from(vec![
            Some("{\"a\":1}"),
            Some("[1,2]"),
            Some("null"),
            None,
            Some("\"s\""),
            Some("3.5"),
            Some("{}"),
            Some("true"),
        ])),
        Arc::new(
            FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                vec![
                    Some(vec![0xABu8; 32]),
                    None,
                    Some(vec![0u8; 32]),
                    Some((0u8..32).collect()),
                    Some(vec![255u8; 32]),
                    None,
                    Some(vec![1u8; 32]),
                    Some(vec![7u8; 32]),
                ]
                .into_iter(),
                32,
            )
            .expect("valid fixed-size binary"),
        ),
    ];
    RecordBatch::try_new(schema, columns).expect("valid batch")
}

/// [`all_types_batch`] without the decimal column and without the instant just before the
/// epoch, which ORC cannot hold.
pub(crate) fn orc_batch() -> RecordBatch {
    let full = all_types_batch();
    let keep: Vec<usize> = (0..full.num_columns()).filter(|&i| i != 3).collect();
    let b = full.project(&keep).expect("project");
    let ts = b
        .column(6)
        .as_primitive::<arrow_array::types::TimestampMicrosecondType>();
    let replaced: TimestampMicrosecondArray = ts
        .iter()
        .map(|v| v.map(|x| if x == -1 { -1_000_001 } else { x }))
        .collect();
    let mut cols = b.columns().to_vec();
    cols[6] = Arc::new(replaced);
    RecordBatch::try_new(b.schema(), cols).expect("batch")
}

/// Reads a whole file into one batch (tests use fewer rows than a batch).
fn read_all(
    path: &Path,
    options: &ReadOptions,
) -> Result<(SchemaRef, Vec<RecordBatch>), InterchangeError> {
    let (schema, iter) = read(path, options)?;
    let batches = iter.collect::<Result<Vec<_>, _>>()?;
    Ok((schema, batches))
}

fn one_batch(path: &Path, options: &ReadOptions) -> RecordBatch {
    let (schema, batches) = read_all(path, options).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(batches.len(), 1, "expected one batch");
    assert_eq!(batches[0].schema(), schema);
    batches[0].clone()
}

fn write_file(format: Format, path: &Path, batch: &RecordBatch) -> Result<u64, InterchangeError> {
    write_path(
        format,
        path,
        &batch.schema(),
        [Ok(batch.clone())],
        &WriteOptions::default(),
    )
}

/// Compares two columns value by value; floats by their bits (any NaN matches any NaN when
/// `nan_payload` is false).
fn assert_same(name: &str, expected: &ArrayRef, actual: &ArrayRef, nan_payload: bool) {
    assert_eq!(
        expected.data_type(),
        actual.data_type(),
        "column {name}: type"
    );
    if let DataType::Float64 = expected.data_type() {
        let e = expected.as_primitive::<Float64Type>();
        let a = actual.as_primitive::<Float64Type>();
        assert_eq!(e.len(), a.len());
        for i in 0..e.len() {
            assert_eq!(e.is_null(i), a.is_null(i), "column {name} row {i}: null");
            if e.is_null(i) {
                continue;
            }
            let (x, y) = (e.value(i), a.value(i));
            if x.is_nan() && !nan_payload {
                assert!(y.is_nan(), "column {name} row {i}: {y} is not NaN");
            } else {
                assert_eq!(
                    x.to_bits(),
                    y.to_bits(),
                    "column {name} row {i}: {x:?} vs {y:?}"
                );
            }
        }
    } else {
        assert_eq!(expected.as_ref(), actual.as_ref(), "column {name}: values");
    }
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn declared(batch: &RecordBatch) -> ReadOptions {
    ReadOptions {
        schema: Some(batch.schema()),
        ..ReadOptions::default()
    }
}

#[test]
fn arrow_parquet_roundtrip_is_exact() {
    let dir = tmp();
    let batch = all_types_batch();
    for (format, file) in [
        (Format::Arrow, "x.arrow"),
        (Format::ArrowStream, "x.arrows"),
        (Format::Parquet, "x.parquet"),
    ] {
        let path = dir.path().join(file);
        assert_eq!(write_file(format, &path, &batch).expect("write"), 8);
        assert_eq!(detect_format(&path).expect("detect"), format);
        let back = one_batch(&path, &ReadOptions::default());
        for (i, f) in batch.schema().fields().iter().enumerate() {
            assert_eq!(
                back.schema().field(i).metadata(),
                f.metadata(),
                "{format}: metadata"
            );
            assert_same(f.name(), batch.column(i), back.column(i), true);
        }
    }
}

#[test]
fn csv_tsv_jsonl_roundtrip_with_declared_schema() {
    let dir = tmp();
    let batch = all_types_batch();
    for (format, file) in [
        (Format::Csv, "x.csv"),
        (Format::Tsv, "x.tsv"),
        (Format::Jsonl, "x.jsonl"),
    ] {
        let path = dir.path().join(file);
        write_file(format, &path, &batch).expect("write");
        let back = one_batch(&path, &declared(&batch));
        for (i, f) in batch.schema().fields().iter().enumerate() {
            assert_same(
                &format!("{format} {}", f.name()),
                batch.column(i),
                back.column(i),
                false,
            );
        }
    }
}

#[test]
fn csv_with_null_token_roundtrips() {
    let dir = tmp();
    let batch = all_types_batch();
    let path = dir.path().join("n.csv");
    let csv = CsvOptions {
        null_token: Some("NULL".into()),
        ..CsvOptions::default()
    };
    let wopts = WriteOptions {
        csv: csv.clone(),
        ..WriteOptions::default()
    };
    write_path(
        Format::Csv,
        &path,
        &batch.schema(),
        [Ok(batch.clone())],
        &wopts,
    )
    .expect("write");
    let ropts = ReadOptions {
        csv,
        ..declared(&batch)
    };
    let back = one_batch(&path, &ropts);
    for (i, f) in batch.schema().fields().iter().enumerate() {
        assert_same(f.name(), batch.column(i), back.column(i), false);
    }
}

#[test]
fn orc_roundtrip_without_decimal() {
    let dir = tmp();
    let full = all_types_batch();
    let path = dir.path().join("x.orc");
    let err = write_file(Format::Orc, &path, &full).expect_err("decimal refused");
    let msg = err.to_string();
    assert!(msg.contains("column d") && msg.contains("ORC"), "{msg}");
    assert!(!path.exists(), "partial file removed");

    let keep: Vec<usize> = (0..full.num_columns()).filter(|&i| i != 3).collect();
    let near_epoch = full.project(&keep).expect("project");
    let msg = write_file(Format::Orc, &path, &near_epoch)
        .expect_err("ORC-763")
        .to_string();
    assert!(
        msg.contains("row 1, column ts") && msg.contains("ORC-763"),
        "{msg}"
    );
    let batch = orc_batch();
    write_file(Format::Orc, &path, &batch).expect("write orc");
    assert_eq!(detect_format(&path).expect("detect"), Format::Orc);
    let back = one_batch(&path, &ReadOptions::default());
    for (i, f) in batch.schema().fields().iter().enumerate() {
        let expected = match f.data_type() {
            // ORC has no fixed-size binary: the values come back as BYTES.
            DataType::FixedSizeBinary(_) => {
                arrow_cast::cast(batch.column(i), &DataType::Binary).expect("cast")
            }
            _ => batch.column(i).clone(),
        };
        assert_same(f.name(), &expected, back.column(i), true);
    }
}

#[test]
fn readers_widen_to_canonical_types() {
    let dir = tmp();
    let schema = Arc::new(Schema::new(vec![
        Field::new("small", DataType::Int32, true),
        Field::new("single", DataType::Float32, true),
        Field::new(
            "ns",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("+01:00".into())),
            true,
        ),
        Field::new("big", DataType::UInt64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int32Array::from(vec![Some(i32::MIN), None])),
            Arc::new(Float32Array::from(vec![
                Some(1.5f32),
                Some(f32::from_bits(1)),
            ])),
            Arc::new(
                TimestampNanosecondArray::from(vec![Some(1_000), Some(-2_000)])
                    .with_timezone("+01:00"),
            ),
            Arc::new(UInt64Array::from(vec![Some(u64::MAX / 2), None])),
        ],
    )
    .expect("batch");
    let path = dir.path().join("w.arrow");
    write_file(Format::Arrow, &path, &batch).expect("write");
    let back = one_batch(&path, &ReadOptions::default());
    let s = back.schema();
    assert_eq!(s.field(0).data_type(), &DataType::Int64);
    assert_eq!(s.field(1).data_type(), &DataType::Float64);
    assert_eq!(
        s.field(2).data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    assert_eq!(s.field(3).data_type(), &DataType::Int64);
    assert_eq!(
        back.column(0)
            .as_primitive::<arrow_array::types::Int64Type>()
            .value(0),
        i64::from(i32::MIN)
    );
    assert_eq!(
        back.column(1).as_primitive::<Float64Type>().value(1),
        f64::from(f32::from_bits(1))
    );
    let ts = back
        .column(2)
        .as_primitive::<arrow_array::types::TimestampMicrosecondType>();
    assert_eq!((ts.value(0), ts.value(1)), (1, -2));

    // Sub-microsecond and out-of-range values are refused with row and column.
    let lossy = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("ns", DataType::Timestamp(TimeUnit::Nanosecond, None), true),
            Field::new("u", DataType::UInt64, true),
        ])),
        vec![
            Arc::new(TimestampNanosecondArray::from(vec![
                Some(1_000),
                Some(1_001),
            ])),
            Arc::new(UInt64Array::from(vec![Some(1), Some(2)])),
        ],
    )
    .expect("batch");
    let path = dir.path().join("lossy.arrow");
    write_file(Format::Arrow, &path, &lossy).expect("write");
    let err = read_all(&path, &ReadOptions::default()).expect_err("lossy");
    let msg = err.to_string();
    assert!(
        msg.contains("lossy.arrow row 1, column ns") && msg.contains("sub-microsecond"),
        "{msg}"
    );

    let over = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("u", DataType::UInt64, true)])),
        vec![Arc::new(UInt64Array::from(vec![
            Some(1),
            None,
            Some(u64::MAX),
        ]))],
    )
    .expect("batch");
    let path = dir.path().join("over.parquet");
    write_file(Format::Parquet, &path, &over).expect("write");
    let msg = read_all(&path, &ReadOptions::default())
        .expect_err("overflow")
        .to_string();
    assert!(
        msg.contains("row 2, column u") && msg.contains("out of range"),
        "{msg}"
    );
}

fn write_text(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write test file");
    p
}

#[test]
fn csv_inference_rules() {
    let dir = tmp();
    let text = "int,float,mixed,bool,date,ts,tsz,text,nulls,bigint,bigmix,zonemix,lead\n\
                1,1.5,1,TRUE,2024-02-29,2024-01-01 10:00:00,2024-01-01T10:00:00Z,a,,9223372036854775807,9007199254740993,2024-01-01T00:00:00,007\n\
                -9223372036854775808,-0.0,2.5,false,1970-01-01,2024-01-01T10:00:00.123456,2024-01-01 10:00:00+02:00,,,1,0.5,2024-01-01T00:00:00Z,8\n\
                ,NaN,,,,,,\"\",,,,,\n";
    let path = write_text(dir.path(), "infer.csv", text.as_bytes());
    let b = one_batch(&path, &ReadOptions::default());
    let types: Vec<DataType> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    let ts = |tz: Option<&str>| DataType::Timestamp(TimeUnit::Microsecond, tz.map(Into::into));
    assert_eq!(
        types,
        vec![
            DataType::Int64,
            DataType::Float64,
            DataType::Float64,
            DataType::Boolean,
            DataType::Date32,
            ts(None),
            ts(Some("UTC")),
            DataType::Utf8,
            DataType::Utf8,
            DataType::Int64,
            DataType::Utf8,
            DataType::Utf8,
            DataType::Int64,
        ]
    );
    let ints = b.column(0).as_primitive::<arrow_array::types::Int64Type>();
    assert_eq!(
        (ints.value(0), ints.value(1), ints.is_null(2)),
        (1, i64::MIN, true)
    );
    let f = b.column(1).as_primitive::<Float64Type>();
    assert_eq!(f.value(1).to_bits(), (-0.0f64).to_bits());
    assert!(f.value(2).is_nan());
    let tsz = b
        .column(6)
        .as_primitive::<arrow_array::types::TimestampMicrosecondType>();
    assert_eq!(tsz.value(0), 1_704_103_200_000_000);
    assert_eq!(tsz.value(1), 1_704_103_200_000_000 - 7_200_000_000);
    let t = b.column(7).as_string::<i32>();
    assert_eq!((t.value(0), t.is_null(1), t.value(2)), ("a", true, ""));
    assert_eq!(b.column(8).null_count(), 3);
}

#[test]
fn csv_floats_roundtrip_bit_exact_through_inference() {
    let dir = tmp();
    let values: Vec<f64> = vec![
        0.1,
        1.0 / 3.0,
        f64::MAX,
        f64::MIN_POSITIVE,
        f64::from_bits(1),
        -0.0,
        1e-7,
        123_456_789.123_456_78,
        2f64.powi(60),
    ];
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)]));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(Float64Array::from(values.clone()))])
        .expect("batch");
    let path = dir.path().join("f.csv");
    write_file(Format::Csv, &path, &batch).expect("write");
    let back = one_batch(&path, &ReadOptions::default());
    assert_same("x", batch.column(0), back.column(0), true);
}

#[test]
fn csv_options_header_delimiter_null_token() {
    let dir = tmp();
    let path = write_text(dir.path(), "h.txt", b"1;x\n2;NA\n;\n");
    let opts = ReadOptions {
        format: Some(Format::Csv),
        csv: CsvOptions {
            delimiter: b';',
            header: false,
            null_token: Some("NA".into()),
        },
        ..ReadOptions::default()
    };
    let b = one_batch(&path, &opts);
    let names: Vec<String> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["c1", "c2"]);
    // With a null token an empty field is an empty string, so c1 is TEXT.
    assert_eq!(b.schema().field(0).data_type(), &DataType::Utf8);
    let c2 = b.column(1).as_string::<i32>();
    assert_eq!((c2.value(0), c2.is_null(1), c2.value(2)), ("x", true, ""));

    // TSV by extension, CRLF line ends, a quoted field spanning lines.
    let path = write_text(dir.path(), "t.tsv", b"a\tb\r\n1\t\"x\r\ny\"\r\n2\tz\r\n");
    let b = one_batch(&path, &ReadOptions::default());
    assert_eq!(b.num_rows(), 2);
    assert_eq!(b.column(1).as_string::<i32>().value(0), "x\r\ny");

    // Single column: a blank line is a NULL row.
    let path = write_text(dir.path(), "one.csv", b"a\n1\n\n3\n");
    let b = one_batch(&path, &ReadOptions::default());
    assert_eq!(b.num_rows(), 3);
    assert!(b.column(0).is_null(1));
}

#[test]
fn csv_streams_in_bounded_batches() {
    let dir = tmp();
    let mut text = String::from("id,name\n");
    for i in 0..20_000 {
        text.push_str(&format!("{i},n{i}\n"));
    }
    let path = write_text(dir.path(), "big.csv", text.as_bytes());
    let opts = ReadOptions {
        batch_size: 8192,
        ..ReadOptions::default()
    };
    let (_, batches) = read_all(&path, &opts).expect("read");
    let sizes: Vec<usize> = batches.iter().map(RecordBatch::num_rows).collect();
    assert_eq!(sizes, [8192, 8192, 3616]);
}

#[test]
fn csv_errors_name_file_line_and_column() {
    let dir = tmp();
    let cases: Vec<(&str, &[u8], &str)> = vec![
        (
            "ragged.csv",
            b"a,b,c,d\n1,2,3,4\n1,2,3\n",
            "ragged.csv line 3: expected 4 fields, found 3",
        ),
        (
            "utf8.csv",
            b"id,name\n1,ok\n2,\xff\xfe\n",
            "utf8.csv line 3, column name: invalid UTF-8",
        ),
        (
            "quote.csv",
            b"a\n\"open\n",
            "quote.csv line 2: unterminated quoted field",
        ),
        (
            "after.csv",
            b"a,b\n\"x\"y,1\n",
            "after.csv line 2: unexpected character after a closing quote",
        ),
        ("empty.csv", b"", "empty.csv: the file is empty"),
        ("dup.csv", b"a,a\n1,2\n", "duplicate column name 'a'"),
    ];
    for (name, text, expected) in cases {
        let path = write_text(dir.path(), name, text);
        let err = read_all(&path, &ReadOptions::default()).expect_err(name);
        assert!(
            err.to_string().contains(expected),
            "{err} does not contain {expected}"
        );
    }
    // A value that does not parse as the declared type.
    let path = write_text(dir.path(), "typed.csv", b"n,when\n1,2024-01-01\n2,soon\n");
    let schema = Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int64, true),
        Field::new("when", DataType::Date32, true),
    ]));
    let opts = ReadOptions {
        schema: Some(schema),
        ..ReadOptions::default()
    };
    let msg = read_all(&path, &opts).expect_err("bad date").to_string();
    assert!(
        msg.contains("typed.csv line 3, column when: 'soon' is not a valid DATE"),
        "{msg}"
    );
    // Out-of-range integer under a declared INT.
    let path = write_text(
        dir.path(),
        "big.csv",
        b"n,when\n9223372036854775808,2024-01-01\n",
    );
    let msg = read_all(&path, &opts).expect_err("overflow").to_string();
    assert!(msg.contains("big.csv line 2, column n"), "{msg}");
}

#[test]
fn jsonl_inference_and_errors() {
    let dir = tmp();
    let path = write_text(
        dir.path(),
        "x.ndjson",
        b"{\"a\":1,\"b\":\"x\",\"c\":1.5,\"d\":true}\n{\"a\":-9223372036854775808,\"b\":null,\"c\":2,\"d\":false}\n",
    );
    let b = one_batch(&path, &ReadOptions::default());
    let types: Vec<DataType> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(
        types,
        [
            DataType::Int64,
            DataType::Utf8,
            DataType::Float64,
            DataType::Boolean
        ]
    );
    assert_eq!(
        b.column(0)
            .as_primitive::<arrow_array::types::Int64Type>()
            .value(1),
        i64::MIN
    );
    let path = write_text(dir.path(), "bad.jsonl", b"{\"a\":1}\n{\"a\":\n");
    let msg = read_all(&path, &ReadOptions::default())
        .expect_err("bad json")
        .to_string();
    assert!(msg.contains("bad.jsonl"), "{msg}");
    let path = write_text(dir.path(), "typed.jsonl", b"{\"a\":1}\n{\"a\":\"x\"}\n");
    let opts = ReadOptions {
        schema: Some(Arc::new(Schema::new(vec![Field::new(
            "a",
            DataType::Int64,
            true,
        )]))),
        ..ReadOptions::default()
    };
    let msg = read_all(&path, &opts).expect_err("not an int").to_string();
    assert!(
        msg.starts_with(&format!("{}: ", path.display())) && msg.contains("'a'"),
        "{msg}"
    );
}

#[test]
fn unsupported_types_are_refused_with_column_and_format() {
    let dir = tmp();
    let schema = Arc::new(Schema::new(vec![Field::new(
        "l",
        DataType::List(Arc::new(Field::new("item", DataType::Int64, true))),
        true,
    )]));
    let batch = RecordBatch::new_empty(schema);
    for format in [Format::Csv, Format::Jsonl, Format::Orc] {
        let path = dir.path().join(format!("u.{}", format.name()));
        let msg = write_file(format, &path, &batch)
            .expect_err("refused")
            .to_string();
        assert!(
            msg.contains("column l") && msg.contains(&format.to_string()),
            "{msg}"
        );
    }
}

#[test]
fn format_detection() {
    let dir = tmp();
    assert_eq!(Format::from_magic(b"PAR1xxxx"), Some(Format::Parquet));
    assert_eq!(Format::from_magic(b"ARROW1\0\0"), Some(Format::Arrow));
    assert_eq!(
        Format::from_magic(&[0xFF, 0xFF, 0xFF, 0xFF, 16, 0, 0, 0]),
        Some(Format::ArrowStream)
    );
    assert_eq!(Format::from_magic(b"ORC\x0a"), Some(Format::Orc));
    assert_eq!(Format::from_magic(b"a,b\n"), None);
    for (name, format) in [
        ("a.feather", Format::Arrow),
        ("a.ipc", Format::Arrow),
        ("a.arrows", Format::ArrowStream),
        ("a.ndjson", Format::Jsonl),
        ("a.TSV", Format::Tsv),
        ("a.txt", Format::Csv),
        ("noext", Format::Csv),
    ] {
        let p = write_text(dir.path(), name, b"x\n");
        assert_eq!(detect_format(&p).expect("detect"), format, "{name}");
    }
    // Magic beats extension, except the weak ORC magic against a text extension.
    let p = write_text(dir.path(), "really.csv", b"PAR1....");
    assert_eq!(detect_format(&p).expect("detect"), Format::Parquet);
    let p = write_text(dir.path(), "orca.csv", b"ORCA,b\n1,2\n");
    assert_eq!(detect_format(&p).expect("detect"), Format::Csv);
    assert_eq!("arrow-stream".parse::<Format>(), Ok(Format::ArrowStream));
    assert!("xls".parse::<Format>().is_err());
}

/// Truncating or flipping bytes of a binary file must give an error (or, for a flipped byte
/// the format cannot detect, different data), never a panic or a hang.
#[test]
fn corrupt_binary_files_give_errors_not_panics() {
    let dir = tmp();
    let full = all_types_batch();
    let orc_batch = orc_batch();
    for (format, batch) in [
        (Format::Arrow, &full),
        (Format::ArrowStream, &full),
        (Format::Parquet, &full),
        (Format::Orc, &orc_batch),
    ] {
        let good = dir.path().join(format!("good.{}", format.name()));
        write_file(format, &good, batch).expect("write");
        let bytes = std::fs::read(&good).expect("read back");
        let bad = dir.path().join(format!("bad.{}", format.name()));
        let opts = ReadOptions {
            format: Some(format),
            ..ReadOptions::default()
        };
        let step = (bytes.len() / 40).max(1);
        for cut in (0..bytes.len()).step_by(step) {
            std::fs::write(&bad, &bytes[..cut]).expect("write truncated");
            let result = read_all(&bad, &opts);
            // A stream cut exactly at a message boundary is a shorter valid stream.
            if format != Format::ArrowStream {
                let err = result.expect_err("truncated file must fail");
                assert!(err.to_string().contains("bad."), "{err}");
            }
        }
        for pos in (0..bytes.len()).step_by(step) {
            let mut flipped = bytes.clone();
            flipped[pos] ^= 0x5A;
            std::fs::write(&bad, &flipped).expect("write flipped");
            if let Err(e) = read_all(&bad, &opts) {
                assert!(e.to_string().contains("bad."), "{e}");
            }
        }
    }
}

#[test]
fn error_converts_into_kodiak_error() {
    let e = InterchangeError::data("f.csv", error::at_line(3), "boom");
    let k: crate::Error = e.into();
    assert_eq!(k.to_string(), "f.csv line 3: boom");
}

/// Appends a JSON string literal (test fixture writer).
fn json_str(s: &str) -> String {
    let mut out = Vec::new();
    super::jsonl::push_json_string(s, &mut out);
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// Describes every column of `batch` as JSON for `scripts/check_pyarrow.py`: kind, Arrow
/// details and values (64-bit integers as strings, floats as hex bits, bytes as hex).
fn expected_json(batch: &RecordBatch) -> String {
    use arrow_array::types::{Date32Type, Decimal128Type, Int64Type, TimestampMicrosecondType};
    let mut cols = Vec::new();
    for (a, f) in batch.columns().iter().zip(batch.schema().fields()) {
        let mut values = Vec::new();
        for i in 0..a.len() {
            if a.is_null(i) {
                values.push("null".to_string());
                continue;
            }
            let mut hex = String::new();
            values.push(match a.data_type() {
                DataType::Boolean => a.as_boolean().value(i).to_string(),
                DataType::Int64 => json_str(&a.as_primitive::<Int64Type>().value(i).to_string()),
                DataType::Float64 => json_str(&format!(
                    "{:016x}",
                    a.as_primitive::<Float64Type>().value(i).to_bits()
                )),
                DataType::Decimal128(..) => {
                    json_str(&a.as_primitive::<Decimal128Type>().value(i).to_string())
                }
                DataType::Utf8 => json_str(a.as_string::<i32>().value(i)),
                DataType::Binary => {
                    super::text::push_hex(a.as_binary::<i32>().value(i), &mut hex);
                    json_str(&hex)
                }
                DataType::FixedSizeBinary(_) => {
                    super::text::push_hex(a.as_fixed_size_binary().value(i), &mut hex);
                    json_str(&hex)
                }
                DataType::Date32 => a.as_primitive::<Date32Type>().value(i).to_string(),
                DataType::Timestamp(..) => json_str(
                    &a.as_primitive::<TimestampMicrosecondType>()
                        .value(i)
                        .to_string(),
                ),
                other => panic!("no fixture form for {other}"),
            });
        }
        let kind = match f.data_type() {
            DataType::Boolean => "bool".to_string(),
            DataType::Int64 => "int".to_string(),
            DataType::Float64 => "float".to_string(),
            DataType::Decimal128(p, s) => format!("decimal:{p}:{s}"),
            DataType::Utf8 if f.metadata().contains_key("ARROW:extension:name") => "json".into(),
            DataType::Utf8 => "text".to_string(),
            DataType::Binary => "bytes".to_string(),
            DataType::FixedSizeBinary(n) => format!("fixed:{n}"),
            DataType::Date32 => "date".to_string(),
            DataType::Timestamp(_, None) => "timestamp".to_string(),
            DataType::Timestamp(_, Some(_)) => "timestamptz".to_string(),
            other => panic!("no fixture kind for {other}"),
        };
        cols.push(format!(
            "{{\"name\":{},\"kind\":{},\"values\":[{}]}}",
            json_str(f.name()),
            json_str(&kind),
            values.join(",")
        ));
    }
    format!("[{}]", cols.join(","))
}

/// Writes every export format plus `expected.json` / `expected_orc.json` into `dir`.
pub(crate) fn write_pyarrow_fixture(dir: &Path) {
    let batch = all_types_batch();
    for (format, file) in [
        (Format::Csv, "data.csv"),
        (Format::Tsv, "data.tsv"),
        (Format::Arrow, "data.arrow"),
        (Format::ArrowStream, "data.arrows"),
        (Format::Parquet, "data.parquet"),
    ] {
        write_file(format, &dir.join(file), &batch).expect("write fixture");
    }
    std::fs::write(dir.join("expected.json"), expected_json(&batch)).expect("expected.json");
    // pyarrow reads ORC timestamps at nanosecond resolution (years 1678–2261 only).
    let orc = map_column(&orc_batch(), 6, |v: i64| {
        if v.abs() > i64::MAX / 1000 { 1 } else { v }
    });
    let orc = map_column(
        &orc,
        7,
        |v: i64| if v.abs() > i64::MAX / 1000 { 2 } else { v },
    );
    write_file(Format::Orc, &dir.join("data.orc"), &orc).expect("write orc fixture");
    std::fs::write(dir.join("expected_orc.json"), expected_json(&orc)).expect("expected_orc");
    // JSON has no NaN/infinity: Kodiak writes them as strings, which pyarrow's reader rejects.
    let finite = map_float(&batch, 2, |v| if v.is_finite() { v } else { 2.5 });
    write_file(Format::Jsonl, &dir.join("data.jsonl"), &finite).expect("write jsonl fixture");
    std::fs::write(dir.join("expected_jsonl.json"), expected_json(&finite)).expect("expected");
}

/// `batch` with the timestamp column `col` mapped through `f` (type and zone kept).
fn map_column(batch: &RecordBatch, col: usize, f: impl Fn(i64) -> i64) -> RecordBatch {
    let ts = batch
        .column(col)
        .as_primitive::<arrow_array::types::TimestampMicrosecondType>();
    let mapped: TimestampMicrosecondArray = ts.iter().map(|v| v.map(&f)).collect();
    let mapped = mapped.with_timezone_opt(ts.timezone().map(Arc::<str>::from));
    let mut cols = batch.columns().to_vec();
    cols[col] = Arc::new(mapped);
    RecordBatch::try_new(batch.schema(), cols).expect("batch")
}

/// `batch` with the float column `col` mapped through `f`.
fn map_float(batch: &RecordBatch, col: usize, f: impl Fn(f64) -> f64) -> RecordBatch {
    let a = batch.column(col).as_primitive::<Float64Type>();
    let mapped: Float64Array = a.iter().map(|v| v.map(&f)).collect();
    let mut cols = batch.columns().to_vec();
    cols[col] = Arc::new(mapped);
    RecordBatch::try_new(batch.schema(), cols).expect("batch")
}

/// Reads every exported format back with pyarrow (`scripts/check_pyarrow.py`), when python3
/// and pyarrow are installed; otherwise says visibly that it was skipped.
#[test]
fn pyarrow_reads_every_export() {
    let python_ok = std::process::Command::new("python3")
        .args(["-c", "import pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !python_ok {
        println!("SKIPPED: pyarrow check (python3/pyarrow not installed)");
        eprintln!("SKIPPED: pyarrow check (python3/pyarrow not installed)");
        return;
    }
    let dir = tmp();
    write_pyarrow_fixture(dir.path());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check_pyarrow.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(dir.path())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "pyarrow check failed:\n{stdout}\n{stderr}"
    );
    println!("{stdout}");
}

/// Writes the pyarrow fixture to `$KODIAK_FIXTURE_DIR` (for running the script by hand).
#[test]
fn pyarrow_fixture_to_env_dir() {
    if let Some(dir) = std::env::var_os("KODIAK_FIXTURE_DIR") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("create fixture dir");
        write_pyarrow_fixture(&dir);
        assert!(dir.join("expected.json").exists());
    }
}

/// A text/float/int table written as CSV (or TSV, with or without a null token) and read back
/// with its schema.
fn csv_roundtrip(
    texts: Vec<Option<String>>,
    floats: Vec<Option<f64>>,
    ints: Vec<Option<i64>>,
    format: Format,
    null_token: Option<String>,
) -> (RecordBatch, RecordBatch) {
    let n = texts.len().min(floats.len()).min(ints.len());
    let schema = Arc::new(Schema::new(vec![
        Field::new("t", DataType::Utf8, true),
        Field::new("f", DataType::Float64, true),
        Field::new("i", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(texts[..n].to_vec())),
            Arc::new(Float64Array::from(floats[..n].to_vec())),
            Arc::new(Int64Array::from(ints[..n].to_vec())),
        ],
    )
    .expect("batch");
    let dir = tmp();
    let path = dir.path().join("p.txt");
    let csv = CsvOptions {
        null_token,
        ..CsvOptions::default()
    };
    let wopts = WriteOptions {
        csv: csv.clone(),
        ..WriteOptions::default()
    };
    write_path(format, &path, &schema, [Ok(batch.clone())], &wopts).expect("write");
    let ropts = ReadOptions {
        format: Some(format),
        csv,
        schema: Some(schema),
        batch_size: 1 << 20,
        ..ReadOptions::default()
    };
    let (_, batches) = read_all(&path, &ropts).unwrap_or_else(|e| panic!("{e}"));
    let back = if batches.is_empty() {
        RecordBatch::new_empty(batch.schema())
    } else {
        assert_eq!(batches.len(), 1);
        batches[0].clone()
    };
    (batch, back)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Any text (quotes, delimiters, CR/LF, empty, the null token), any float bits and any
    /// integer survive a CSV/TSV round trip.
    #[test]
    fn csv_roundtrip_any_values(
        texts in proptest::collection::vec(
            proptest::option::of("[a-z,\t\"\r\n NUL]{0,6}|\\PC{0,4}"), 0..20),
        floats in proptest::collection::vec(
            proptest::option::of(proptest::num::u64::ANY.prop_map(f64::from_bits)), 0..20),
        ints in proptest::collection::vec(proptest::option::of(proptest::num::i64::ANY), 0..20),
        tsv in proptest::bool::ANY,
        token in proptest::option::of(proptest::prelude::Just("NULL".to_string())),
    ) {
        let format = if tsv { Format::Tsv } else { Format::Csv };
        let (batch, back) = csv_roundtrip(texts, floats, ints, format, token);
        for i in 0..batch.num_columns() {
            assert_same(&i.to_string(), batch.column(i), back.column(i), false);
        }
    }
}

/// Quoted fields with embedded newlines and quotes across many read-buffer boundaries.
#[test]
fn csv_quoted_fields_across_buffer_boundaries() {
    let texts: Vec<Option<String>> = (0..30_000)
        .map(|i| match i % 5 {
            0 => Some(format!("line {i}\nnext \"{i}\"")),
            1 => Some(String::new()),
            2 => None,
            3 => Some(format!("{i},{i}\r\n")),
            _ => Some("x".repeat(i % 37)),
        })
        .collect();
    let floats = (0..30_000).map(|i| Some(f64::from(i) / 7.0)).collect();
    let ints = (0..30_000)
        .map(|i| Some(i64::from(i) * 1_000_003))
        .collect();
    let (batch, back) = csv_roundtrip(texts, floats, ints, Format::Csv, None);
    for i in 0..batch.num_columns() {
        assert_same(&i.to_string(), batch.column(i), back.column(i), false);
    }
}

/// One CSV cell for the split-inference test: values of every inferred type, NULLs, and
/// quoted text holding delimiters, quotes and line ends.
fn csv_cell() -> impl proptest::strategy::Strategy<Value = String> {
    proptest::prop_oneof![
        (-1000i64..1000).prop_map(|i| i.to_string()),
        Just("99999999999999999999".to_string()),
        (-100.0f64..100.0).prop_map(|f| format!("{f}")),
        Just("1e5".to_string()),
        Just("true".to_string()),
        Just("FALSE".to_string()),
        Just("2024-02-29".to_string()),
        Just("2024-02-29 12:30:00".to_string()),
        Just("2024-02-29T12:30:00Z".to_string()),
        Just(String::new()),
        "[a-z ]{0,5}",
        "[a-z,\n\r\"]{0,5}".prop_map(|t| format!("\"{}\"", t.replace('"', "\"\""))),
    ]
}

use proptest::prelude::Just;

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Inferring a CSV file in two halves gives the types of a single pass, or declines
    /// (a split inside a quoted field, or a bad file), never a different answer.
    #[test]
    fn split_inference_matches_one_pass(
        // Each column draws from one or two kinds of cell, so that columns end up typed.
        rows in proptest::collection::vec(proptest::collection::vec(csv_cell(), 3), 2..120),
        typed in proptest::collection::vec((csv_cell(), csv_cell(), 0usize..3), 0..3),
        crlf in proptest::bool::ANY,
        blank_every in 0usize..20,
    ) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("t.csv");
        let end = if crlf { "\r\n" } else { "\n" };
        let mut text = format!("a,b,c{end}");
        for (n, row) in rows.iter().enumerate() {
            let mut row = row.clone();
            // Some columns repeat two values only, so they get a type other than TEXT.
            for (x, y, col) in &typed {
                row[*col] = if n % 2 == 0 { x.clone() } else { y.clone() };
            }
            if blank_every > 0 && n % blank_every == 0 {
                text.push_str(end);
            }
            text.push_str(&row.join(","));
            text.push_str(end);
        }
        std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
        let (split, single) = csv::infer_split_and_single(&path, &CsvOptions::default());
        if let Some(split) = split {
            proptest::prop_assert_eq!(Some(split), single.ok());
        }
    }
}

/// A clean file is split (the two-thread path runs), and a quoted line end at the split
/// makes it decline.
#[test]
fn split_inference_runs_and_declines_inside_quotes() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("t.csv");
    let mut text = String::from("id,price,when\n");
    for i in 0..200 {
        text.push_str(&format!("{i},{}.5,2024-01-0{}\n", i, 1 + i % 9));
    }
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let (split, single) = csv::infer_split_and_single(&path, &CsvOptions::default());
    let want = vec![DataType::Int64, DataType::Float64, DataType::Date32];
    assert_eq!(split, Some(want.clone()));
    assert_eq!(single.ok(), Some(want));

    // One text field holding many line ends across the middle of the file.
    let mut text = String::from("id,note\n1,\"");
    text.push_str(&"x\n".repeat(100));
    text.push_str("\"\n2,plain\n");
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let (split, single) = csv::infer_split_and_single(&path, &CsvOptions::default());
    assert_eq!(split, None);
    assert_eq!(single.ok(), Some(vec![DataType::Int64, DataType::Utf8]));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// The field-end search finds what a byte-by-byte search finds.
    #[test]
    fn field_end_search_matches_a_plain_scan(
        bytes in proptest::collection::vec(
            proptest::prop_oneof![Just(b','), Just(b'\t'), Just(b'\n'), Just(b'\r'), proptest::num::u8::ANY, 32u8..127],
            0..70,
        ),
        start in 0usize..70,
        tab in proptest::bool::ANY,
    ) {
        let delim = if tab { b'\t' } else { b',' };
        // Matches are rarer with a long run of plain text first.
        let hay = &bytes[start.min(bytes.len())..];
        let want = hay.iter().position(|&c| c == delim || c == b'\n' || c == b'\r');
        proptest::prop_assert_eq!(csv::find_field_end(hay, delim), want);
        let mut padded = vec![b'x'; 13];
        padded.extend_from_slice(hay);
        proptest::prop_assert_eq!(csv::find_field_end(&padded, delim), want.map(|k| k + 13));
    }
}
