#![allow(clippy::unwrap_used)]

use super::*;
use crate::archive::manifest::ManifestColumn;
use laredo_wire::{encode_scalar, write_struct_entry};

fn schema(columns: &[(&str, &str)], key: &[&str]) -> ParquetSchema {
    let columns: Vec<ManifestColumn> = columns
        .iter()
        .map(|(name, data_type)| ManifestColumn {
            name: (*name).into(),
            data_type: (*data_type).into(),
            ..ManifestColumn::default()
        })
        .collect();
    let key: Vec<String> = key.iter().map(|k| (*k).to_owned()).collect();
    ParquetSchema::new(&columns, &key).unwrap()
}

fn row(values: &[(&str, ValueRef<'_>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in values {
        write_struct_entry(&mut out, name, &encode_scalar(value));
    }
    out
}

/// Every bucket's rows, bucket after bucket.
fn in_order<'a>(order: &KeyOrder<'a>) -> Vec<&'a [u8]> {
    let (mut scratch, mut rows, mut all) = (SortScratch::default(), Vec::new(), Vec::new());
    for index in 0..order.len() {
        order.sorted_into(index, &mut scratch, &mut rows);
        all.extend_from_slice(&rows);
    }
    all
}

/// Scrambled 0..count.
fn scrambled(count: usize) -> impl Iterator<Item = usize> {
    (0..count).map(move |i| (i * 7919) % count)
}

#[test]
fn integer_keys_given_as_text_order_as_integers() {
    let schema = schema(&[("id", "bigint")], &["id"]);
    let texts: Vec<String> = scrambled(5000)
        .map(|i| (i as i64 - 2500).to_string())
        .collect();
    let rows: Vec<Vec<u8>> = texts
        .iter()
        .map(|t| row(&[("id", ValueRef::String(t))]))
        .collect();
    let refs: Vec<&[u8]> = rows.iter().map(Vec::as_slice).collect();
    let order = KeyOrder::new(refs.as_slice(), &schema, 3, 8).unwrap();
    assert_eq!(order.len(), 8);
    let ids: Vec<i64> = in_order(&order)
        .iter()
        .map(|row| match find_field(row, "id").unwrap() {
            Some(ValueRef::String(t)) => t.parse().unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, (-2500..2500).collect::<Vec<_>>());
}

#[test]
fn a_tables_formatted_keys_order_as_their_values() {
    let schema = schema(&[("id", "bigint"), ("v", "text")], &["id"]);
    let mut table = crate::table::Table::new(crate::table::KeySpec::default());
    // Go prints 1e6 as "1e+06"; PostgreSQL-text keys are digits.
    let numbers = [1e6, -3.0, 42.0, 7e15];
    let texts = ["9", "10", "-12", "1000001"];
    for n in numbers {
        table
            .upsert_encoded(&row(&[("id", ValueRef::Number(n))]))
            .unwrap();
    }
    for t in texts {
        table
            .upsert_encoded(&row(&[
                ("id", ValueRef::String(t)),
                ("v", ValueRef::String(t)),
            ]))
            .unwrap();
    }
    let rows = table.keyed_rows();
    let order = KeyOrder::new(&rows, &schema, 2, 3).unwrap();
    let ids: Vec<i64> = in_order(&order)
        .iter()
        .map(|row| match find_field(row, "id").unwrap() {
            Some(ValueRef::Number(n)) => n as i64,
            Some(ValueRef::String(t)) => t.parse().unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        ids,
        [
            -12,
            -3,
            9,
            10,
            42,
            1_000_000,
            1_000_001,
            7_000_000_000_000_000
        ]
    );
}

#[test]
fn keys_of_several_columns_order_column_by_column() {
    let schema = schema(&[("region", "text"), ("n", "bigint")], &["region", "n"]);
    let regions = ["eu", "ap", "us"];
    let rows: Vec<Vec<u8>> = scrambled(3000)
        .map(|i| {
            row(&[
                ("n", ValueRef::Number((i / 3) as f64)),
                ("region", ValueRef::String(regions[i % 3])),
            ])
        })
        .collect();
    let refs: Vec<&[u8]> = rows.iter().map(Vec::as_slice).collect();
    let order = KeyOrder::new(refs.as_slice(), &schema, 2, 8).unwrap();
    let keys: Vec<(String, f64)> = in_order(&order)
        .iter()
        .map(|row| {
            let key = key_values(row, &schema).unwrap().0;
            match key.as_slice() {
                [ValueRef::String(r), ValueRef::Number(n)] => ((*r).to_owned(), *n),
                other => panic!("{other:?}"),
            }
        })
        .collect();
    let mut expected = keys.clone();
    expected.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    assert_eq!(keys.len(), 3000);
    assert_eq!(keys, expected);
}

#[test]
fn a_value_that_is_not_an_integer_orders_by_values_and_loses_no_row() {
    let schema = schema(&[("id", "integer")], &["id"]);
    let mut rows: Vec<Vec<u8>> = (0..100)
        .map(|i| row(&[("id", ValueRef::Number(f64::from(i)))]))
        .collect();
    rows.push(row(&[("id", ValueRef::String("not a number"))]));
    let refs: Vec<&[u8]> = rows.iter().rev().map(Vec::as_slice).collect();
    let order = KeyOrder::new(refs.as_slice(), &schema, 2, 4).unwrap();
    let sorted = in_order(&order);
    assert_eq!(sorted.len(), 101);
    assert_eq!(sorted.first(), Some(&rows[0].as_slice()));
    assert_eq!(sorted.last(), Some(&rows[100].as_slice()));
}

#[test]
fn an_empty_table_has_one_empty_bucket() {
    let schema = schema(&[("id", "bigint")], &["id"]);
    let none: [&[u8]; 0] = [];
    let order = KeyOrder::new(none.as_slice(), &schema, 2, 1).unwrap();
    assert_eq!(order.len(), 1);
    assert!(in_order(&order).is_empty());
}

#[test]
fn ordered_floats_order_numbers() {
    let numbers = [-1e300, -2.5, -0.0, 0.0, 1e-300, 3.0, 1e300];
    for pair in numbers.windows(2) {
        assert!(ordered_float(pair[0]) < ordered_float(pair[1]), "{pair:?}");
    }
}

#[test]
fn ordered_integers_order_integers() {
    let numbers = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
    for pair in numbers.windows(2) {
        assert!(
            ordered_integer(pair[0]) < ordered_integer(pair[1]),
            "{pair:?}"
        );
    }
}
