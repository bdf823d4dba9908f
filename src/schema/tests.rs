//! Property and example tests for types, schemas and the row codec.

use proptest::prelude::*;

use super::*;
use crate::id::{BlobId, ObjectId};
use crate::object::{decode, encode};

fn small_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!['\0', '\u{1}', 'a', 'b', '\u{ff}', 'é', '\u{10ffff}']),
        0..6,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

fn small_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(vec![0u8, 1, 0x7f, 0xfe, 0xff]), 0..6)
}

fn arb_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        prop::sample::select(vec![
            0.0,
            -0.0,
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
            1.5,
            -1.5,
        ]),
        any::<f64>(),
    ]
}

fn arb_type() -> impl Strategy<Value = Type> {
    prop_oneof![
        Just(Type::Bool),
        Just(Type::Int),
        Just(Type::Float),
        (1u8..=38)
            .prop_flat_map(|p| (Just(p), 0..=p))
            .prop_map(|(precision, scale)| Type::Decimal { precision, scale }),
        Just(Type::Text),
        Just(Type::Bytes),
        Just(Type::Date),
        any::<bool>().prop_map(|with_tz| Type::Timestamp { with_tz }),
        Just(Type::Json),
        Just(Type::Blob),
    ]
}

fn json_text() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "null".to_string(),
        "0".into(),
        "-1.5e3".into(),
        "\"a\\u0000b\"".into(),
        "[1,[2,{}]]".into(),
        "{\"k\": true}".into(),
        " [ ] ".into(),
    ])
}

/// A non-NULL value of type `ty`.
fn arb_value(ty: Type) -> BoxedStrategy<Value> {
    match ty {
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::Int => prop_oneof![
            any::<i64>(),
            prop::sample::select(vec![i64::MIN, i64::MAX, -1, 0, 1])
        ]
        .prop_map(Value::Int)
        .boxed(),
        Type::Float => arb_float().prop_map(Value::Float).boxed(),
        Type::Decimal { precision, scale } => {
            let max = 10i128.pow(u32::from(precision)) - 1;
            prop_oneof![
                -max..=max,
                prop::sample::select(vec![-max, max, 0, 1, -1]),
                -1000i128..1000,
            ]
            .prop_map(move |u| Value::Decimal(Decimal::new(u.clamp(-max, max), scale).unwrap()))
            .boxed()
        }
        Type::Text => small_text().prop_map(Value::Text).boxed(),
        Type::Bytes => small_bytes().prop_map(Value::Bytes).boxed(),
        Type::Date => prop_oneof![any::<i32>(), -800_000i32..3_000_000]
            .prop_map(Value::Date)
            .boxed(),
        Type::Timestamp { with_tz } => any::<i64>()
            .prop_map(move |m| {
                if with_tz {
                    Value::TimestampTz(m)
                } else {
                    Value::Timestamp(m)
                }
            })
            .boxed(),
        Type::Json => json_text().prop_map(Value::Json).boxed(),
        Type::Blob => any::<[u8; 32]>()
            .prop_map(|b| Value::Blob(BlobId::new(ObjectId(b))))
            .boxed(),
    }
}

fn key_codec(types: &[Type]) -> RowCodec {
    let cols: Vec<ColumnDef> = types
        .iter()
        .enumerate()
        .map(|(i, t)| ColumnDef::new(format!("k{i}"), *t).not_null())
        .collect();
    let names: Vec<String> = (0..types.len()).map(|i| format!("k{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    RowCodec::new(&Schema::new("t", cols, &names).unwrap())
}

/// A type and two values of it.
fn type_and_pair() -> impl Strategy<Value = (Type, Value, Value)> {
    arb_type().prop_flat_map(|t| (Just(t), arb_value(t), arb_value(t)))
}

/// A row schema: column types with nullability, the first `nkey` (≥ 0) of them the key.
fn arb_table() -> impl Strategy<Value = (Vec<(Type, bool)>, usize)> {
    prop::collection::vec((arb_type(), any::<bool>()), 1..6).prop_flat_map(|cols| {
        let n = cols.len();
        (Just(cols), 0..=n.min(3))
    })
}

fn build_table(cols: &[(Type, bool)], nkey: usize) -> Schema {
    let defs = cols
        .iter()
        .enumerate()
        .map(|(i, (t, nullable))| {
            let d = ColumnDef::new(format!("c{i}"), *t);
            if i < nkey || !nullable {
                d.not_null()
            } else {
                d
            }
        })
        .collect();
    let names: Vec<String> = (0..nkey).map(|i| format!("c{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    Schema::new("tbl", defs, &names).unwrap()
}

fn arb_row(schema: &Schema) -> BoxedStrategy<Vec<Value>> {
    let key = schema.primary_key();
    schema
        .columns()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if c.nullable && !key.contains(&i) {
                prop_oneof![1 => Just(Value::Null), 3 => arb_value(c.ty)].boxed()
            } else {
                arb_value(c.ty)
            }
        })
        .collect::<Vec<_>>()
        .boxed()
}

fn table_and_rows() -> impl Strategy<Value = (Schema, Vec<Vec<Value>>)> {
    arb_table().prop_flat_map(|(cols, nkey)| {
        let s = build_table(&cols, nkey);
        let rows = prop::collection::vec(arb_row(&s), 1..4);
        (Just(s), rows)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn key_order_matches_value_order((t, a, b) in type_and_pair()) {
        let c = key_codec(&[t]);
        let ka = c.encode_key(std::slice::from_ref(&a)).unwrap();
        let kb = c.encode_key(std::slice::from_ref(&b)).unwrap();
        prop_assert_eq!(a.cmp(&b), ka.cmp(&kb), "{:?} vs {:?}", a, b);
        prop_assert_eq!(c.decode_key(&ka).unwrap(), vec![a]);
    }

    #[test]
    fn composite_key_order(
        (types, a, b) in prop::collection::vec(arb_type(), 1..4).prop_flat_map(|ts| {
            let va: Vec<_> = ts.iter().map(|t| arb_value(*t)).collect();
            let vb: Vec<_> = ts.iter().map(|t| arb_value(*t)).collect();
            (Just(ts), va, vb)
        })
    ) {
        let c = key_codec(&types);
        let ka = c.encode_key(&a).unwrap();
        let kb = c.encode_key(&b).unwrap();
        prop_assert_eq!(a.cmp(&b), ka.cmp(&kb));
        prop_assert_eq!(c.decode_key(&ka).unwrap(), a);
    }

    #[test]
    fn text_keys_with_nul_bytes_sort(a in small_text(), b in small_text(), x in any::<i64>(), y in any::<i64>()) {
        let c = key_codec(&[Type::Text, Type::Int]);
        let ka = c.encode_key(&[Value::Text(a.clone()), Value::Int(x)]).unwrap();
        let kb = c.encode_key(&[Value::Text(b.clone()), Value::Int(y)]).unwrap();
        prop_assert_eq!((a, x).cmp(&(b, y)), ka.cmp(&kb));
    }

    #[test]
    fn value_parse_render_round_trip((t, v, _) in type_and_pair()) {
        let text = v.render();
        let back = Value::parse(&t, &text).unwrap();
        prop_assert_eq!(&back, &v, "text {:?}", text);
        if let (Value::Float(a), Value::Float(b)) = (&back, &v) {
            prop_assert_eq!(a.to_bits(), b.to_bits());
        }
    }

    #[test]
    fn type_name_round_trip(t in arb_type()) {
        prop_assert_eq!(t.to_string().parse::<Type>().unwrap(), t);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn rows_round_trip((schema, rows) in table_and_rows()) {
        let c = RowCodec::new(&schema);
        for row in &rows {
            let (k, v) = c.encode_row(row).unwrap();
            let back = c.decode_row(&k, &v).unwrap();
            prop_assert_eq!(&back, row);
            // Bit-exact: re-encoding the decoded row gives the same bytes.
            prop_assert_eq!(c.encode_row(&back).unwrap(), (k, v));
        }
    }

    #[test]
    fn schema_object_round_trips((schema, rows) in table_and_rows()) {
        let mut s = schema;
        // Defaults from the generated rows exercise the Value payload encoding.
        for (i, v) in rows[0].iter().enumerate() {
            if !v.is_null() {
                let c = &s.columns()[i];
                let def = ColumnDef::new(format!("d{i}"), c.ty).with_default(v.clone());
                s.add_column("tbl", def).unwrap();
            }
        }
        let bytes = encode(&s);
        let back: Schema = decode(&bytes).unwrap();
        prop_assert_eq!(&back, &s);
        prop_assert_eq!(encode(&back), bytes);
    }

    #[test]
    fn corrupt_bytes_never_panic(
        (schema, rows) in table_and_rows(),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        noise in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        let c = RowCodec::new(&schema);
        let (k, v) = c.encode_row(&rows[0]).unwrap();
        let _ = c.decode_row(&k[..cut.index(k.len() + 1)], &v);
        let _ = c.decode_row(&k, &v[..cut.index(v.len() + 1)]);
        let mut v2 = v.clone();
        if !v2.is_empty() {
            let i = flip.index(v2.len());
            v2[i] ^= 0x5a;
        }
        let _ = c.decode_row(&k, &v2);
        let _ = c.decode_row(&noise, &noise);
        let _ = c.decode_key(&noise);
        let _ = RowCodec::keyless_split(&noise);
        let _ = decode::<Schema>(&[&[3u8, 1][..], &noise].concat());
    }

    #[test]
    fn evolution_reads_old_rows((schema, rows) in table_and_rows(), add_default in arb_value(Type::Int)) {
        let old = RowCodec::new(&schema);
        let encoded: Vec<_> = rows.iter().map(|r| old.encode_row(r).unwrap()).collect();

        // Add two columns (one with a default), rename one, drop a non-key column.
        let mut s = schema.clone();
        s.add_column("tbl", ColumnDef::new("added_null", Type::Text)).unwrap();
        s.add_column("tbl", ColumnDef::new("added_def", Type::Int).not_null().with_default(add_default.clone())).unwrap();
        let key = schema.primary_key();
        let drop = (0..schema.columns().len()).rev().find(|i| !key.contains(i));
        if let Some(d) = drop {
            s.drop_column(&format!("c{d}")).unwrap();
        }
        let first = s.columns()[0].name.clone();
        s.rename_column(&first, "renamed").unwrap();
        let new = RowCodec::new(&s);
        for ((k, v), row) in encoded.iter().zip(&rows) {
            let mut want: Vec<Value> = row.clone();
            if let Some(d) = drop {
                want.remove(d);
            }
            want.push(Value::Null);
            want.push(add_default.clone());
            prop_assert_eq!(new.decode_row(k, v).unwrap(), want);
        }
    }
}

fn sample_schema() -> Schema {
    Schema::new(
        "people",
        vec![
            ColumnDef::new("id", Type::Int).not_null(),
            ColumnDef::new("name", Type::Text),
            ColumnDef::parse("balance", "decimal(10,2)").unwrap(),
            ColumnDef::new("active", Type::Bool)
                .not_null()
                .with_default(Value::Bool(true)),
        ],
        &["id"],
    )
    .unwrap()
}

#[test]
fn invalid_schemas_are_rejected() {
    let err =
        |cols: Vec<ColumnDef>, key: &[&str]| Schema::new("t", cols, key).unwrap_err().to_string();
    assert_eq!(err(vec![], &[]), "table 't' must have at least one column");
    assert_eq!(
        err(
            vec![
                ColumnDef::new("a", Type::Int),
                ColumnDef::new("A", Type::Text)
            ],
            &[]
        ),
        "duplicate column name 'A'"
    );
    assert_eq!(
        err(vec![ColumnDef::new("a", Type::Int)], &["a"]),
        "primary key column 'a' must be NOT NULL"
    );
    assert_eq!(
        err(vec![ColumnDef::new("a", Type::Int).not_null()], &["b"]),
        "primary key names unknown column 'b'"
    );
    assert_eq!(
        err(vec![ColumnDef::new("a", Type::Int).not_null()], &["a", "a"]),
        "primary key lists column 'a' twice"
    );
    assert_eq!(
        err(
            vec![ColumnDef::new("a", Type::Int).with_default(Value::Text("x".into()))],
            &[]
        ),
        "default for column 'a' (INT): expected INT, got TEXT x"
    );
    assert_eq!(
        err(
            vec![
                ColumnDef::parse("d", "DECIMAL(4,1)")
                    .unwrap()
                    .with_default(Value::Decimal(Decimal::new(12345, 1).unwrap()))
            ],
            &[]
        ),
        "default for column 'd' (DECIMAL(4,1)): decimal 1234.5 does not fit DECIMAL(4,1)"
    );
    assert_eq!(
        err(
            vec![ColumnDef::new("j", Type::Json).with_default(Value::Json("{".into()))],
            &[]
        ),
        "default for column 'j' (JSON): invalid JSON: expected a string key at byte 1"
    );
    assert_eq!(
        err(
            vec![
                ColumnDef::new("a", Type::Int)
                    .not_null()
                    .with_default(Value::Null)
            ],
            &[]
        ),
        "column 'a' is NOT NULL but its default is NULL"
    );
    assert_eq!(
        err(vec![ColumnDef::new("", Type::Int)], &[]),
        "column names must not be empty"
    );
    assert_eq!(
        ColumnDef::parse("x", "VARCHAR2").unwrap_err().to_string(),
        "column 'x': unknown type 'VARCHAR2'"
    );
    assert!(
        err(
            vec![ColumnDef::new(
                "d",
                Type::Decimal {
                    precision: 40,
                    scale: 0
                }
            )],
            &[]
        )
        .contains("precision")
    );
}

#[test]
fn evolution_errors() {
    let mut s = sample_schema();
    assert_eq!(
        s.add_column("people", ColumnDef::new("age", Type::Int).not_null())
            .unwrap_err()
            .to_string(),
        "adding NOT NULL column 'age' needs a default for the existing rows"
    );
    assert_eq!(
        s.add_column("people", ColumnDef::new("NAME", Type::Int))
            .unwrap_err()
            .to_string(),
        "duplicate column name 'NAME'"
    );
    assert_eq!(
        s.drop_column("id").unwrap_err().to_string(),
        "cannot drop primary key column 'id'; change the primary key first"
    );
    assert_eq!(
        s.drop_column("nope").unwrap_err().to_string(),
        "no column named 'nope'"
    );
    assert_eq!(
        s.rename_column("name", "id").unwrap_err().to_string(),
        "duplicate column name 'id'"
    );
    s.rename_column("name", "Name").unwrap();
    assert_eq!(
        s.set_primary_key(&["Name"]).unwrap_err().to_string(),
        "primary key column 'Name' must be NOT NULL"
    );
    s.set_primary_key(&[]).unwrap();
    assert!(s.is_keyless());
    s.drop_column("id").unwrap();
    s.drop_column("name").unwrap();
    s.drop_column("balance").unwrap();
    assert_eq!(
        s.drop_column("active").unwrap_err().to_string(),
        "cannot drop 'active', the table's only column"
    );
}

#[test]
fn tags_are_stable_and_slots_never_reused() {
    let a = sample_schema();
    let b = sample_schema();
    assert_eq!(a, b, "schema construction is deterministic");
    let tags: Vec<u64> = a.columns().iter().map(|c| c.tag).collect();
    let mut s = a.clone();
    s.rename_column("name", "full_name").unwrap();
    assert_eq!(s.column("full_name").unwrap().1.tag, tags[1]);
    assert_eq!(s.column("full_name").unwrap().1.slot, 1);
    s.drop_column("balance").unwrap();
    s.add_column(
        "people",
        ColumnDef::parse("balance", "DECIMAL(10,2)").unwrap(),
    )
    .unwrap();
    let re = s.column("balance").unwrap().1;
    assert_eq!(re.slot, 4, "a dropped slot is never handed out again");
    assert_ne!(re.tag, tags[2], "a re-added column gets a fresh tag");
    assert_eq!(s.next_slot(), 5);
    // Same definitions in another table give other tags.
    let other = Schema::new(
        "other",
        vec![ColumnDef::new("id", Type::Int).not_null()],
        &["id"],
    )
    .unwrap();
    assert_ne!(other.columns()[0].tag, tags[0]);
}

#[test]
fn ddl_rendering() {
    let mut s = sample_schema();
    s.add_column(
        "people",
        ColumnDef::new("Order", Type::Text).with_default(Value::Text("it's".into())),
    )
    .unwrap();
    assert_eq!(
        s.to_ddl("people"),
        "CREATE TABLE people (\n  id INT NOT NULL,\n  name TEXT,\n  balance DECIMAL(10,2),\n  \
         active BOOL NOT NULL DEFAULT TRUE,\n  \"Order\" TEXT DEFAULT 'it''s',\n  PRIMARY KEY (id)\n);\n"
    );
}

#[test]
fn codec_errors_name_the_column() {
    let c = RowCodec::new(&sample_schema());
    let e = |row: Vec<Value>| c.encode_row(&row).unwrap_err().to_string();
    assert_eq!(
        e(vec![Value::Int(1)]),
        "row has 1 values but the table has 4 columns (id, name, balance, active)"
    );
    assert_eq!(
        e(vec![
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Bool(true)
        ]),
        "column 'id' is part of the primary key and cannot be NULL"
    );
    assert_eq!(
        e(vec![
            Value::Int(1),
            Value::Int(2),
            Value::Null,
            Value::Bool(true)
        ]),
        "column 'name' (TEXT): expected TEXT, got INT 2"
    );
    assert_eq!(
        e(vec![
            Value::Int(1),
            Value::Null,
            Value::Decimal(Decimal::new(5, 1).unwrap()),
            Value::Bool(true)
        ]),
        "column 'balance' (DECIMAL(10,2)): decimal 0.5 has scale 1, the column needs scale 2"
    );
    assert_eq!(
        e(vec![Value::Int(1), Value::Null, Value::Null, Value::Null]),
        "column 'active' is NOT NULL"
    );
    assert!(
        c.decode_row(&[0; 3], &[0])
            .unwrap_err()
            .to_string()
            .starts_with("corrupt row key")
    );
}

#[test]
fn value_layout_is_as_documented() {
    let c = RowCodec::new(&sample_schema());
    let row = vec![
        Value::Int(-1),
        Value::Text("hi".into()),
        Value::Null,
        Value::Bool(true),
    ];
    let (k, v) = c.encode_row(&row).unwrap();
    assert_eq!(k, [0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    // 4 slots covered; slots 1 and 3 present; "hi"; true.
    assert_eq!(v, [4, 0b1010, 2, b'h', b'i', 1]);
}

#[test]
fn keyless_rows() {
    let s = Schema::new(
        "log",
        vec![
            ColumnDef::new("msg", Type::Text),
            ColumnDef::new("n", Type::Int),
        ],
        &[],
    )
    .unwrap();
    let c = RowCodec::new(&s);
    let row = vec![Value::Text("x".into()), Value::Int(3)];
    let (k, v) = c.encode_row(&row).unwrap();
    assert_eq!(k.len(), KEYLESS_KEY_LEN);
    let (count, body) = RowCodec::keyless_split(&v).unwrap();
    assert_eq!(count, 1);
    assert_eq!(k, RowCodec::keyless_key(body));
    assert_eq!(k, RowCodec::keyless_key(&c.encode_value(&row).unwrap()));
    let v3 = RowCodec::keyless_join(3, body);
    assert_eq!(RowCodec::keyless_split(&v3).unwrap(), (3, body));
    assert_eq!(c.decode_row(&k, &v3).unwrap(), row);
    assert!(RowCodec::keyless_split(&[0, 2, 0]).is_err());
    assert!(c.decode_row(&k[..4], &v).is_err());
}

#[test]
fn dropped_slots_are_skipped() {
    let mut s = Schema::new(
        "t",
        vec![
            ColumnDef::new("k", Type::Int).not_null(),
            ColumnDef::new("f", Type::Float),
            ColumnDef::parse("d", "DECIMAL(38,0)").unwrap(),
            ColumnDef::new("b", Type::Blob),
            ColumnDef::new("j", Type::Json),
            ColumnDef::new("z", Type::Bool),
        ],
        &["k"],
    )
    .unwrap();
    let big = Decimal::new(-(10i128.pow(38) - 1), 0).unwrap();
    let row = vec![
        Value::Int(7),
        Value::Float(-0.0),
        Value::Decimal(big),
        Value::Blob(BlobId::new(ObjectId([9; 32]))),
        Value::Json("[1]".into()),
        Value::Bool(false),
    ];
    let (k, v) = RowCodec::new(&s).encode_row(&row).unwrap();
    for name in ["f", "d", "b", "j"] {
        s.drop_column(name).unwrap();
    }
    let got = RowCodec::new(&s).decode_row(&k, &v).unwrap();
    assert_eq!(got, vec![Value::Int(7), Value::Bool(false)]);
}

#[test]
fn value_order_basics() {
    assert!(Value::Null < Value::Bool(false));
    assert!(Value::Float(-0.0) < Value::Float(0.0));
    assert!(Value::Float(f64::INFINITY) < Value::Float(f64::NAN));
    assert!(Value::Float(-f64::NAN) < Value::Float(f64::NEG_INFINITY));
    assert!(Value::Text("a".into()) < Value::Text("a\0".into()));
    assert_eq!(Value::Float(f64::NAN), Value::Float(f64::NAN));
}

/// Pins the Schema payload layout documented in `objects_format.md`.
#[test]
fn schema_payload_layout() {
    let s = Schema::new(
        "t",
        vec![
            ColumnDef::new("id", Type::Int).not_null(),
            ColumnDef::parse("price", "DECIMAL(10,2)")
                .unwrap()
                .with_default(Value::Decimal(Decimal::new(150, 2).unwrap())),
        ],
        &["id"],
    )
    .unwrap();
    let varint = |mut v: u64| {
        let mut out = Vec::new();
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
        out
    };
    let (t0, t1) = (s.columns()[0].tag, s.columns()[1].tag);
    let mut want = vec![3u8, 1, 2, 2, b'i', b'd', 1, 0, 0];
    want.extend(varint(t0));
    want.extend([
        0, 5, b'p', b'r', b'i', b'c', b'e', 3, 10, 2, 1, 1, 4, 0xac, 0x02, 2,
    ]);
    want.extend(varint(t1));
    want.extend([1, 1]);
    want.extend(varint(t0));
    want.extend([2, 0]);
    assert_eq!(encode(&s), want);
    // A float default is stored as its bit pattern, so -0.0 and NaN payloads survive.
    let f = Schema::new(
        "t",
        vec![ColumnDef::new("f", Type::Float).with_default(Value::Float(-0.0))],
        &[],
    )
    .unwrap();
    let bytes = encode(&f);
    let back: Schema = decode(&bytes).unwrap();
    assert_eq!(back.columns()[0].default, Some(Value::Float(-0.0)));
    // Value::Float is variant 3, then the bits 0x8000_0000_0000_0000 as a varint.
    let needle = [
        1u8, 3, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
    ];
    assert!(bytes.windows(needle.len()).any(|w| w == needle));
}

#[test]
fn schema_decoder_rejects_invalid_and_non_canonical_payloads() {
    let s = Schema::new(
        "t",
        vec![ColumnDef::new("id", Type::Int).not_null()],
        &["id"],
    )
    .unwrap();
    let bytes = encode(&s);
    // Layout: kind, version, 1 column, name "id", type INT, nullable …
    assert_eq!(&bytes[..8], &[3, 1, 1, 2, b'i', b'd', 1, 0]);
    let mut nullable_key = bytes.clone();
    nullable_key[7] = 1;
    let err = decode::<Schema>(&nullable_key).unwrap_err().to_string();
    assert_eq!(
        err,
        "malformed schema payload: primary key column 'id' must be NOT NULL"
    );
    // next_slot (second-to-last byte, 1) spelled as an over-long varint.
    let n = bytes.len();
    let mut long = bytes[..n - 2].to_vec();
    long.extend([0x81, 0x00, 0x00]);
    assert!(decode::<Schema>(&long).is_err());
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(decode::<Schema>(&trailing).is_err());
}

#[test]
fn floats_use_the_compact_decimal_form_when_exact() {
    use crate::schema::{ColumnDef, RowCodec, Schema, Type, Value};
    let schema = Schema::new(
        "f",
        vec![
            ColumnDef::new("id", Type::Int).not_null(),
            ColumnDef::new("x", Type::Float),
        ],
        &["id"],
    )
    .unwrap();
    let codec = RowCodec::new(&schema);
    let len = |x: f64| {
        let (_, v) = codec.encode_row(&[Value::Int(1), Value::Float(x)]).unwrap();
        v.len()
    };
    // Header (slot count + bitmap) is 2 bytes; 123.45 then takes 3, 0.1 takes 1, 1e300 takes 9.
    assert_eq!(len(123.45), 2 + 3);
    assert_eq!(len(0.1), 2 + 1);
    assert_eq!(len(1e300), 2 + 9);
    assert_eq!(len(-0.0), 2 + 9);
    for x in [
        123.45,
        0.1,
        -0.0,
        0.0,
        1e300,
        f64::NAN,
        f64::from_bits(0x7ff8_0000_0000_1234),
        f64::INFINITY,
        f64::MIN_POSITIVE / 3.0,
        9_007_199_254_740_993.0,
        -12.5,
        0.000_001,
        1.0 / 3.0,
    ] {
        let (_, v) = codec.encode_row(&[Value::Int(1), Value::Float(x)]).unwrap();
        let key = codec.encode_key(&[Value::Int(1)]).unwrap();
        let row = codec.decode_row(&key, &v).unwrap();
        match row[1] {
            Value::Float(y) => assert_eq!(y.to_bits(), x.to_bits(), "{x:?}"),
            ref other => panic!("{other:?}"),
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
    /// Any f64 bit pattern survives the compact float encoding, and so does any short decimal.
    #[test]
    fn float_values_round_trip_bit_exact(bits in proptest::num::u64::ANY, cents in -10_000_000i64..10_000_000) {
        use crate::schema::{ColumnDef, RowCodec, Schema, Type, Value};
        let schema = Schema::new(
            "f",
            vec![ColumnDef::new("id", Type::Int).not_null(), ColumnDef::new("x", Type::Float)],
            &["id"],
        ).unwrap();
        let codec = RowCodec::new(&schema);
        let key = codec.encode_key(&[Value::Int(1)]).unwrap();
        for x in [f64::from_bits(bits), cents as f64 / 100.0] {
            let (_, v) = codec.encode_row(&[Value::Int(1), Value::Float(x)]).unwrap();
            let row = codec.decode_row(&key, &v).unwrap();
            match row[1] {
                Value::Float(y) => proptest::prop_assert_eq!(y.to_bits(), x.to_bits()),
                ref other => proptest::prop_assert!(false, "{other:?}"),
            }
        }
    }
}
