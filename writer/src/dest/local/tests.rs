use super::*;

#[tokio::test]
async fn create_new_never_replaces_and_overwrite_does() {
    let dir = tempfile::tempdir().unwrap();
    let dest = LocalDestination::new(dir.path().join("root"));
    let source = dir.path().join("a");
    fs::write(&source, b"one").unwrap();
    dest.put_file("t/epoch=1/x.jsonl", &source, PutMode::CreateNew)
        .await
        .unwrap();
    fs::write(dir.path().join("b"), b"two").unwrap();
    let err = dest
        .put_file(
            "t/epoch=1/x.jsonl",
            &dir.path().join("b"),
            PutMode::CreateNew,
        )
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert_eq!(
        &dest.get("t/epoch=1/x.jsonl").await.unwrap().unwrap().body[..],
        b"one"
    );
    dest.put_file(
        "t/epoch=1/x.jsonl",
        &dir.path().join("b"),
        PutMode::Overwrite,
    )
    .await
    .unwrap();
    assert_eq!(
        &dest.get("t/epoch=1/x.jsonl").await.unwrap().unwrap().body[..],
        b"two"
    );
    assert_eq!(dest.size("t/epoch=1/x.jsonl").await.unwrap(), Some(3));
    assert_eq!(
        dest.list("t/").await.unwrap(),
        vec!["t/epoch=1/x.jsonl".to_owned()]
    );
    dest.delete("t/epoch=1/x.jsonl").await.unwrap();
    dest.delete("t/epoch=1/x.jsonl").await.unwrap();
    assert_eq!(dest.size("t/epoch=1/x.jsonl").await.unwrap(), None);
    assert!(dest.list("t/").await.unwrap().is_empty());
}

#[tokio::test]
async fn put_if_is_a_compare_and_swap() {
    let dir = tempfile::tempdir().unwrap();
    let dest = LocalDestination::new(dir.path());
    let first = dest
        .put_if("m.json", Bytes::from_static(b"1"), None)
        .await
        .unwrap();
    assert!(
        dest.put_if("m.json", Bytes::from_static(b"x"), None)
            .await
            .unwrap_err()
            .is_conflict()
    );
    let second = dest
        .put_if("m.json", Bytes::from_static(b"2"), Some(&first))
        .await
        .unwrap();
    assert!(
        dest.put_if("m.json", Bytes::from_static(b"3"), Some(&first))
            .await
            .unwrap_err()
            .is_conflict()
    );
    let stored = dest.get("m.json").await.unwrap().unwrap();
    assert_eq!((&stored.body[..], stored.revision), (&b"2"[..], second));
}

#[tokio::test]
async fn concurrent_swaps_from_one_revision_let_exactly_one_win() {
    let dir = tempfile::tempdir().unwrap();
    let dest = LocalDestination::new(dir.path());
    let base = dest
        .put_if("m.json", Bytes::from_static(b"base"), None)
        .await
        .unwrap();
    let mut handles = Vec::new();
    for i in 0..8 {
        let (dest, base) = (dest.clone(), base.clone());
        handles.push(std::thread::spawn(move || {
            dest.put_if_blocking("m.json", format!("w{i}").as_bytes(), Some(&base))
                .is_ok()
        }));
    }
    let wins = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|ok| *ok)
        .count();
    assert_eq!(wins, 1);
}

#[tokio::test]
async fn a_large_object_reads_back_byte_exact() {
    // Large enough to be read in ranges on several threads, and not a
    // multiple of the range size.
    let dir = tempfile::tempdir().unwrap();
    let dest = LocalDestination::new(dir.path());
    let len = open::PARALLEL_READ_BYTES + 12_345;
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let body: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(dir.path().join("big"), &body).unwrap();
    let read = dest.read("big").await.unwrap().unwrap();
    assert!(read[..] == body[..], "the object reads back as written");
    assert_eq!(dest.read("missing").await.unwrap(), None);
}

#[tokio::test]
async fn keys_cannot_escape_the_root() {
    let dest = LocalDestination::new("/tmp/never-used");
    for key in ["../x", "/etc/passwd", "a/../../b", "", ".tmp/x"] {
        assert!(dest.get(key).await.is_err(), "{key}");
    }
}

#[tokio::test]
async fn reads_refuse_links_special_files_and_objects_over_their_bound() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let dest = LocalDestination::new(dir.path().join("root"));
    fs::create_dir_all(dir.path().join("root/t")).unwrap();
    fs::write(outside.path().join("secret"), b"outside").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("root/t/x")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("root/d")).unwrap();
    fs::write(dir.path().join("root/t/ok"), b"12345").unwrap();
    let refused = |result: Result<_, DestError>| match result {
        Err(DestError::Refused { reason, .. }) => reason,
        other => panic!("not refused: {other:?}"),
    };
    assert_eq!(
        refused(dest.read("t/x").await),
        Refusal::SymbolicLink { path: "t/x".into() }
    );
    assert_eq!(
        refused(dest.get("d/secret").await.map(|v| v.map(|v| v.body))),
        Refusal::SymbolicLink { path: "d".into() }
    );
    assert!(matches!(
        refused(dest.size("t").await.map(|_| None)),
        Refusal::WrongType {
            kind: "directory",
            ..
        }
    ));
    assert_eq!(
        refused(dest.read_bounded("t/ok", 4).await),
        Refusal::TooLarge {
            size: Some(5),
            limit: 4
        }
    );
    assert_eq!(
        &dest.read_bounded("t/ok", 5).await.unwrap().unwrap()[..],
        b"12345"
    );
    assert_eq!(dest.read_bounded("t/none", 5).await.unwrap(), None);
    assert_eq!(dest.read_bounded("none/x", 5).await.unwrap(), None);
}
