//! Property tests: rows of every type, in the forms sources send them, read
//! back as they were sent.

use proptest::prelude::*;

use super::*;
use crate::archive::format::parquet::text;

/// A value of each column of [`every_type`], in the form a source
/// sends it and `read` prints it (numbers as numbers, as the writer
/// normalizes them; the other types in their canonical text).
#[derive(Debug, Clone)]
enum Value {
    Null,
    Number(f64),
    Bool(bool),
    Text(String),
}

fn nullable(value: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
    prop_oneof![1 => Just(Value::Null), 6 => value]
}

fn text_of(format: impl Fn(&mut String)) -> Value {
    let mut out = String::new();
    format(&mut out);
    Value::Text(out)
}

fn values() -> Vec<BoxedStrategy<Value>> {
    let number = |range: std::ops::RangeInclusive<i64>| {
        nullable(range.prop_map(|n| Value::Number(n as f64))).boxed()
    };
    vec![
        // id is the key: never null, unique (fixed by the row index).
        Just(Value::Null).boxed(),
        number(i64::from(i16::MIN)..=i64::from(i16::MAX)),
        number(i64::from(i32::MIN)..=i64::from(i32::MAX)),
        nullable(any::<f32>().prop_map(|f| {
            if f.is_finite() {
                Value::Number(ryu::Buffer::new().format(f).parse().unwrap())
            } else if f.is_nan() {
                Value::Text("NaN".into())
            } else {
                Value::Text(if f > 0.0 { "Infinity" } else { "-Infinity" }.into())
            }
        }))
        .boxed(),
        nullable(
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::Number),
        )
        .boxed(),
        nullable((-99_999_999_999i64..=99_999_999_999).prop_map(|cents| {
            let mut out = String::new();
            text::format_decimal(&mut out, i128::from(cents), 2);
            Value::Number(out.parse().unwrap())
        }))
        .boxed(),
        nullable(prop_oneof![
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::Number),
            Just(Value::Text("NaN".into())),
        ])
        .boxed(),
        nullable(any::<bool>().prop_map(Value::Bool)).boxed(),
        nullable(any::<String>().prop_map(Value::Text)).boxed(),
        nullable(
            (-62_135_596_800_000_000i64..=253_402_300_799_999_999)
                .prop_map(|micros| text_of(|out| text::format_timestamp(out, micros, true))),
        )
        .boxed(),
        nullable(
            (-62_135_596_800_000_000i64..=253_402_300_799_999_999)
                .prop_map(|micros| text_of(|out| text::format_timestamp(out, micros, false))),
        )
        .boxed(),
        nullable(
            (-719_162i32..=2_932_896).prop_map(|days| text_of(|out| text::format_date(out, days))),
        )
        .boxed(),
        nullable(any::<[u8; 16]>().prop_map(|b| text_of(|out| text::format_uuid(out, &b)))).boxed(),
        nullable(
            proptest::collection::vec(any::<u8>(), 0..20)
                .prop_map(|b| text_of(|out| text::format_bytea(out, &b))),
        )
        .boxed(),
        nullable(any::<String>().prop_map(Value::Text)).boxed(),
        nullable(
            proptest::collection::vec(proptest::option::of(any::<String>()), 0..5)
                .prop_map(|elements| text_of(|out| text::format_array(out, &elements))),
        )
        .boxed(),
        nullable(
            proptest::collection::vec(proptest::option::of(any::<i32>()), 0..5).prop_map(
                |elements| {
                    let elements: Vec<_> =
                        elements.iter().map(|e| e.map(|n| n.to_string())).collect();
                    text_of(|out| text::format_array(out, &elements))
                },
            ),
        )
        .boxed(),
        nullable(any::<String>().prop_map(Value::Text)).boxed(),
    ]
}

fn rows() -> impl Strategy<Value = Vec<Vec<Value>>> {
    proptest::collection::vec(values(), 0..40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Every value of every type reads back as it was sent, in key
    /// order, through a snapshot and through a diff.
    #[test]
    fn rows_of_every_type_read_back_as_sent(rows in rows()) {
        let (columns, schema) = every_type();
        let encoded: Vec<Vec<u8>> = rows
            .iter()
            .enumerate()
            .map(|(index, values)| {
                let mut members: Vec<(&str, ValueRef<'_>)> = columns
                    .iter()
                    .zip(values)
                    .map(|(column, value)| {
                        let value = match value {
                            _ if column.name == "id" => ValueRef::Number(index as f64),
                            Value::Null => ValueRef::Null,
                            Value::Number(n) => ValueRef::Number(*n),
                            Value::Bool(b) => ValueRef::Bool(*b),
                            Value::Text(t) => ValueRef::String(t),
                        };
                        (column.name.as_str(), value)
                    })
                    .collect();
                // Members in an order of each row's own, as Go writes a
                // map's entries: the remembered layout is searched.
                members.rotate_left(index % columns.len());
                if index % 2 == 1 {
                    members.reverse();
                }
                let mut out = Vec::new();
                for (name, value) in members {
                    write_struct_entry(&mut out, name, &encode_scalar(&value));
                }
                out
            })
            .collect();
        // Reversed: the snapshot puts them back in key order.
        let refs: Vec<&[u8]> = encoded.iter().rev().map(Vec::as_slice).collect();
        let object = snapshot(&refs, &schema).unwrap();
        let expected: Vec<String> = encoded.iter().map(|row| json(row)).collect();
        prop_assert_eq!(read_back(&object), expected.clone());

        let keys: Vec<String> = (0..encoded.len()).map(|i| i.to_string()).collect();
        let entries = inserts(&encoded, &keys);
        let key = KeySpec::default();
        let diff =
            Bytes::from(write_diff(Vec::new(), &entries, "0/1", &schema, naming(&key)).unwrap());
        let (_, records) = diff_records(&diff, &key).unwrap();
        let read: Vec<String> = records
            .iter()
            .map(|r| match &r.new {
                Some(StoredRow::Struct(row)) => json(row),
                other => format!("{other:?}"),
            })
            .collect();
        prop_assert_eq!(read, expected);
        prop_assert!(records.iter().zip(&keys).all(|(r, k)| &r.key == k));
    }
}
