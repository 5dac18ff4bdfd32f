//! Two tables configured onto one place: the table that commits second
//! finds a manifest naming the other and is fenced, instead of retrying the
//! compare-and-swap over it (one process runs both tables under one writer
//! identity, so the identity alone cannot tell them apart).
#![allow(clippy::unwrap_used)]

mod archive_support;

use archive_support::{Contenders, assert_valid, head_rows, local, settings, table_rows};
use snapshot_writer::config::Format;

/// Two tables on one place, in one process (the same writer identity): the
/// second table's commit finds a manifest naming the first and is fenced,
/// instead of retrying the compare-and-swap over it.
#[tokio::test]
async fn a_second_table_on_the_same_place_is_fenced_and_never_overwrites_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let dests = vec![local(dir.path())];
    // Both open an empty place, as two tables of one process starting together.
    let Contenders {
        first: mut items,
        first_source: mut source_a,
        mut second,
        second_source: mut source_b,
        error,
    } = Contenders::race(
        &dests,
        (&settings("public.items"), "one-process"),
        (&settings("public.orders"), "one-process"),
    )
    .await;
    assert!(error.is_fenced(), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("public.items") && message.contains("public.orders"),
        "the error names both tables: {message}"
    );
    assert!(second.is_fenced());
    source_b.insert(3, "b");
    assert!(
        source_b.diff(&mut second).await.unwrap_err().is_fenced(),
        "a fenced table writes nothing more"
    );

    for id in 10..13 {
        source_a.insert(id, "more");
        source_a.diff(&mut items).await.unwrap().unwrap();
    }
    let reader = assert_valid(&dests[0]).await;
    assert_eq!(reader.manifest().table, "public.items");
    assert_eq!(
        head_rows(&reader, &[Format::Protobuf]).await,
        table_rows(&source_a.table)
    );
}
