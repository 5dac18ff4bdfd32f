//! How a snapshot and a diff are cut into row groups: whole rounds of the
//! workers, bounded in bytes, each in key order with its statistics.

use super::*;

#[test]
fn row_groups_make_whole_rounds_of_workers_within_guidance() {
    let count = |rows, workers| write::group_count(rows, rows * 200, write::GROUP_SIZE, workers);
    assert_eq!(count(1_000_000, 2), 10);
    assert_eq!(count(1_000_000, 1), 9);
    assert_eq!(count(200_000, 2), 2);
    // Four groups would hold 75,000 rows each: below DuckDB's guidance.
    assert_eq!(count(300_000, 2), 3);
    assert_eq!(count(0, 2), 1);
}

/// Rows of wide values are cut into more row groups, so no text column
/// of a group nears the 2 GiB its 32-bit offsets address.
#[test]
fn row_groups_of_wide_rows_are_cut_by_bytes() {
    let gib = 1usize << 30;
    // 1,000 rows of 10 MiB each: 40 groups of 256 MiB, not one.
    assert_eq!(write::group_count(1000, 10 * gib, write::GROUP_SIZE, 2), 40);

    let columns = [column("id", "bigint"), column("doc", "text")];
    let schema = ParquetSchema::new(&columns, &["id".into()]).unwrap();
    let doc = "x".repeat(1000);
    let rows: Vec<Vec<u8>> = (0..100)
        .map(|id| {
            row(&[
                ("id", ValueRef::Number(f64::from(id))),
                ("doc", ValueRef::String(&doc)),
            ])
        })
        .collect();
    let refs: Vec<&[u8]> = rows.iter().map(Vec::as_slice).collect();
    let key = KeySpec::default();
    let naming = naming(&key);
    // About ten rows' bytes a group.
    let size = write::GroupSize {
        rows: 1000,
        bytes: 10_500,
    };
    let object = Bytes::from(
        write::write_snapshot_in_groups(Vec::new(), refs.as_slice(), &schema, naming, 2, size)
            .unwrap(),
    );
    let groups = |object: &Bytes| {
        parquet::arrow::arrow_reader::ArrowReaderMetadata::load(object, Default::default())
            .unwrap()
            .metadata()
            .num_row_groups()
    };
    assert!(groups(&object) >= 10, "{} row groups", groups(&object));
    let expected: Vec<String> = rows.iter().map(|row| json(row)).collect();
    assert_eq!(read_back(&object), expected);

    let keys: Vec<String> = (0..rows.len()).map(|i| i.to_string()).collect();
    let entries = inserts(&rows, &keys);
    let diff = Bytes::from(
        write::write_diff_in_groups(Vec::new(), &entries, "0/1", &schema, naming, size).unwrap(),
    );
    assert_eq!(groups(&diff), 10);
    let (_, records) = diff_records(&diff, &key).unwrap();
    assert_eq!(records.len(), rows.len());
    assert!(
        records
            .iter()
            .zip(&keys)
            .all(|(record, key)| &record.key == key)
    );
}

#[test]
fn snapshots_are_sorted_by_key_with_statistics_per_row_group() {
    let columns = [column("id", "bigint"), column("name", "text")];
    let schema = ParquetSchema::new(&columns, &["id".into()]).unwrap();
    let count = 2010;
    let rows: Vec<Vec<u8>> = (0..count)
        .map(|i| {
            // Scrambled ids: the snapshot must sort them.
            let id = (i * 7919) % count;
            row(&[
                ("id", ValueRef::Number(id as f64)),
                ("name", ValueRef::String(&format!("n{id}"))),
            ])
        })
        .collect();
    let refs: Vec<&[u8]> = rows.iter().map(Vec::as_slice).collect();
    let key = KeySpec::default();
    let naming = naming(&key);
    let object = write::write_snapshot_in_groups(
        Vec::new(),
        refs.as_slice(),
        &schema,
        naming,
        2,
        write::GroupSize {
            rows: 1000,
            bytes: usize::MAX,
        },
    )
    .unwrap();
    let object = Bytes::from(object);
    let metadata =
        parquet::arrow::arrow_reader::ArrowReaderMetadata::load(&object, Default::default())
            .unwrap();
    let metadata = metadata.metadata();
    assert_eq!(metadata.num_row_groups(), 3);
    let mut expected_min = 0i64;
    for group in metadata.row_groups() {
        let Some(Statistics::Int64(stats)) = group.column(0).statistics() else {
            panic!("no Int64 statistics on the key column");
        };
        assert_eq!(*stats.min_opt().unwrap(), expected_min);
        assert_eq!(
            *stats.max_opt().unwrap(),
            expected_min + group.num_rows() - 1
        );
        expected_min += group.num_rows();
        assert!(matches!(
            group.column(0).compression(),
            parquet::basic::Compression::ZSTD(_)
        ));
    }
    let sorting = metadata.row_group(0).sorting_columns().unwrap();
    assert_eq!(sorting[0].column_idx, 0);
    // Read back in key order, every row.
    let back = read_back(&object);
    assert_eq!(back.len(), count);
    assert_eq!(
        back[count - 1],
        format!(r#"{{"id":{},"name":"n{}"}}"#, count - 1, count - 1)
    );
}
