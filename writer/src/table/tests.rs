use super::*;
use laredo_wire::{ValueRef, encode_scalar, write_struct_entry};

fn row(id: ValueRef<'_>, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    write_struct_entry(&mut out, "id", &encode_scalar(&id));
    write_struct_entry(&mut out, "name", &encode_scalar(&ValueRef::String(name)));
    out
}

fn apply(table: &mut Table, action: &str, old: Option<&[u8]>, new: Option<&[u8]>) -> Vec<Change> {
    let mut changes = Vec::new();
    table
        .apply(action, old, new, &mut |c| changes.push(c))
        .unwrap();
    changes
}

fn names(table: &Table) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = table
        .iter()
        .map(|(k, r)| {
            let name = laredo_wire::find_field(r.as_bytes(), "name")
                .unwrap()
                .unwrap();
            (k.to_string(), name.to_string())
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn insert_update_delete_truncate() {
    let mut table = Table::new(KeySpec::default());
    let a = row(ValueRef::Number(1.0), "a");
    let a2 = row(ValueRef::Number(1.0), "a2");
    let b = row(ValueRef::Number(2.0), "b");
    assert!(matches!(
        &apply(&mut table, "INSERT", None, Some(&a))[..],
        [Change::Upsert { old: None, .. }]
    ));
    apply(&mut table, "INSERT", None, Some(&b));
    let changes = apply(&mut table, "UPDATE", Some(&a), Some(&a2));
    assert!(matches!(
        &changes[..],
        [Change::Upsert { old: Some(_), .. }]
    ));
    assert_eq!(
        names(&table),
        [("1".into(), "a2".into()), ("2".into(), "b".into())]
    );
    let changes = apply(&mut table, "DELETE", Some(&b), None);
    assert!(matches!(&changes[..], [change @ Change::Delete { .. }] if change.key() == Some("2")));
    assert_eq!(
        apply(&mut table, "TRUNCATE", None, None),
        [Change::Truncate]
    );
    assert!(table.is_empty());
}

#[test]
fn delete_of_a_missing_row_changes_nothing_and_is_not_a_truncate() {
    let mut table = Table::new(KeySpec::default());
    let a = row(ValueRef::Number(1.0), "a");
    apply(&mut table, "INSERT", None, Some(&a));
    let ghost = row(ValueRef::Number(9.0), "ghost");
    assert!(apply(&mut table, "DELETE", Some(&ghost), None).is_empty());
    assert_eq!(table.len(), 1);
    assert_eq!(table.stats().deletes_of_missing_rows, 1);
}

#[test]
fn key_change_deletes_the_old_key() {
    let mut table = Table::new(KeySpec::default());
    let before = row(ValueRef::Number(1.0), "a");
    let after = row(ValueRef::Number(5.0), "a");
    apply(&mut table, "INSERT", None, Some(&before));
    let changes = apply(&mut table, "UPDATE", Some(&before), Some(&after));
    assert!(
        matches!(&changes[..], [delete @ Change::Delete { .. }, upsert @ Change::Upsert { old: None, .. }] if delete.key() == Some("1") && upsert.key() == Some("5"))
    );
    assert_eq!(names(&table), [("5".into(), "a".into())]);
    assert_eq!(table.stats().key_changes, 1);
}

#[test]
fn baseline_number_and_live_string_ids_are_one_row() {
    let mut table = Table::new(KeySpec::default());
    apply(
        &mut table,
        "INSERT",
        None,
        Some(&row(ValueRef::Number(1_234_567.0), "baseline")),
    );
    apply(
        &mut table,
        "UPDATE",
        None,
        Some(&row(ValueRef::String("1234567"), "live")),
    );
    assert_eq!(names(&table), [("1.234567e+06".into(), "live".into())]);
}

#[test]
fn malformed_entries_are_errors() {
    let mut table = Table::new(KeySpec::default());
    let a = row(ValueRef::Number(1.0), "a");
    let mut sink = |_| {};
    assert_eq!(
        table.apply("UPSERT", None, Some(&a), &mut sink),
        Err(RowError::UnknownAction("UPSERT".into()))
    );
    assert_eq!(
        table.apply("INSERT", None, None, &mut sink),
        Err(RowError::MissingRow {
            action: "INSERT",
            missing: "new_values"
        })
    );
    assert_eq!(
        table.apply("DELETE", None, None, &mut sink),
        Err(RowError::MissingRow {
            action: "DELETE",
            missing: "old_values"
        })
    );
    assert!(matches!(
        table.apply("INSERT", None, Some(&[0x0a, 0x09]), &mut sink),
        Err(RowError::Malformed(_))
    ));
    assert!(table.is_empty());
}

#[test]
fn rows_in_memory_order_hold_every_row_once_in_address_order() {
    for count in [0u32, 1, 1_000, 70_000] {
        let mut table = Table::new(KeySpec::default());
        for id in 0..count {
            table
                .upsert_encoded(&row(ValueRef::Number(id.into()), "x"))
                .unwrap();
        }
        let mut expected: Vec<&[u8]> = table.iter().map(|(_, row)| row.as_bytes()).collect();
        expected.sort_unstable_by_key(|row| row.as_ptr().addr());
        let same_rows = |rows: &[&[u8]]| {
            rows.len() == expected.len()
                && rows
                    .iter()
                    .zip(&expected)
                    .all(|(a, b)| std::ptr::eq(*a, *b))
        };
        // Whole, and in ranges of several sizes: each range is sorted, and
        // the ranges in turn hold every row once, as its encoded bytes.
        let ordered = table.rows_in_memory_order();
        assert!(same_rows(&ordered), "{count} rows in memory order");
        for rows_per_range in [1, 100, 4096, 100_000] {
            let ranges = table.rows_by_address(rows_per_range);
            assert!(!ranges.is_empty());
            let joined: Vec<&[u8]> = (0..ranges.len()).flat_map(|i| ranges.sorted(i)).collect();
            assert!(
                same_rows(&joined),
                "{count} rows in ranges of {rows_per_range}"
            );
            assert!(ranges.sorted(ranges.len()).is_empty());
            if count >= 70_000 && rows_per_range == 4096 {
                let sizes: Vec<usize> = (0..ranges.len()).map(|i| ranges.sorted(i).len()).collect();
                assert!(sizes.len() >= 10, "{sizes:?}");
                assert!(sizes.iter().all(|size| *size < 3 * 4096), "{sizes:?}");
            }
        }
    }
}

/// Shuffles `order` with a xorshift generator kept in `state`.
fn shuffle(order: &mut [usize], state: &mut u64) {
    for i in (1..order.len()).rev() {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        order.swap(i, (*state % (i as u64 + 1)) as usize);
    }
}

/// The key and row of the one upsert in `changes`.
fn upserted(changes: Vec<Change>) -> (String, Vec<u8>) {
    match changes.as_slice() {
        [Change::Upsert { new, .. }] => (new.key_str().to_owned(), new.as_bytes().to_vec()),
        other => panic!("{other:?}"),
    }
}

/// The key and row of inserting `encoded` into the fresh table `alone`,
/// and into `shared`.
fn upserted_alone_and_shared(
    mut alone: Table,
    shared: &mut Table,
    encoded: &[u8],
) -> ((String, Vec<u8>), (String, Vec<u8>)) {
    (
        upserted(apply(&mut alone, "INSERT", None, Some(encoded))),
        upserted(apply(shared, "INSERT", None, Some(encoded))),
    )
}

/// Rows that list their columns in changing orders (Go writes a map's
/// entries in random order) key and normalize through one table as each
/// would in a fresh one, and a name that is not UTF-8 is refused wherever
/// it stands. Names of one and of 16 bytes, longer ones, and pairs that
/// differ only in their last byte or in their length are told apart.
#[test]
fn rows_in_any_column_order_key_alike() {
    let spec = || {
        KeySpec::new(
            ["b", "a", "sixteen_bytes_ac", "created_at_timestamp_y"]
                .map(String::from)
                .to_vec(),
        )
    };
    let members = [
        ("a", ValueRef::String("x")),
        ("b", ValueRef::String("7")),
        ("c", ValueRef::Bool(true)),
        ("d", ValueRef::Number(2.5)),
        ("ab", ValueRef::String("y")),
        ("sixteen_bytes_ab", ValueRef::Number(1.0)),
        ("sixteen_bytes_ac", ValueRef::Number(2.0)),
        ("created_at_timestamp_x", ValueRef::String("p")),
        ("created_at_timestamp_y", ValueRef::String("q")),
    ];
    let mut shared = Table::new(spec());
    let mut order: Vec<usize> = (0..members.len()).collect();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for round in 0..200 {
        shuffle(&mut order, &mut state);
        let mut encoded = Vec::new();
        for &i in &order {
            let (name, value) = &members[i];
            write_struct_entry(&mut encoded, name, &encode_scalar(value));
        }
        let (alone, through_shared) =
            upserted_alone_and_shared(Table::new(spec()), &mut shared, &encoded);
        assert_eq!(alone, through_shared, "{order:?}");
        assert_eq!(shared.iter().next().unwrap().0, "[7 x 2 q]");
        if round % 10 == 0 {
            let mut bad = encoded.clone();
            let at = bad.iter().position(|b| *b == b'c').unwrap();
            bad[at] = 0xFF;
            assert!(matches!(
                shared.apply("INSERT", None, Some(&bad), &mut |_| {}),
                Err(RowError::Malformed(_))
            ));
        }
    }
    assert_eq!(shared.len(), 1);
}

/// The same for a row of 150 columns, wider than any small cache, in a
/// fixed order and then shuffled.
#[test]
fn wide_rows_in_any_column_order_key_alike() {
    let spec = || KeySpec::new(vec!["c7".into(), "c140".into()]);
    let names: Vec<String> = (0..150).map(|i| format!("c{i}")).collect();
    let mut shared = Table::new(spec());
    let mut order: Vec<usize> = (0..names.len()).collect();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for round in 0..60u32 {
        if round >= 20 {
            shuffle(&mut order, &mut state);
        }
        let mut encoded = Vec::new();
        for &i in &order {
            let value = match i {
                7 => ValueRef::String("42"),
                140 => ValueRef::Number(f64::from(round % 3)),
                _ => ValueRef::Bool(i % 2 == 0),
            };
            write_struct_entry(&mut encoded, &names[i], &encode_scalar(&value));
        }
        let (alone, through_shared) =
            upserted_alone_and_shared(Table::new(spec()), &mut shared, &encoded);
        assert_eq!(alone, through_shared, "round {round}");
        assert_eq!(&*alone.0, format!("[42 {}]", round % 3));
    }
    assert_eq!(shared.len(), 3);
}
