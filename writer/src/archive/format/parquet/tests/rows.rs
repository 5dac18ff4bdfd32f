//! How a snapshot reads the table's rows: members in any layout, and bytes
//! that are not UTF-8.

use super::*;

/// Rows of changing layouts (members reordered, missing, or a name given
/// twice, where the later value wins as in a protobuf map) each keep their
/// own values.
#[test]
fn rows_of_changing_layouts_keep_their_own_values() {
    let (_, schema) = every_type();
    let rows = [
        row(&[
            ("id", ValueRef::Number(1.0)),
            ("name", ValueRef::String("a")),
            ("n", ValueRef::Number(10.0)),
        ]),
        row(&[
            ("n", ValueRef::Number(20.0)),
            ("id", ValueRef::Number(2.0)),
            ("name", ValueRef::String("b")),
        ]),
        row(&[
            ("id", ValueRef::Number(3.0)),
            ("name", ValueRef::String("c")),
        ]),
        row(&[
            ("id", ValueRef::Number(4.0)),
            ("n", ValueRef::Number(1.0)),
            ("n", ValueRef::Number(40.0)),
        ]),
        row(&[
            ("id", ValueRef::Number(5.0)),
            ("name", ValueRef::String("e")),
            ("n", ValueRef::Number(50.0)),
        ]),
    ];
    let refs: Vec<&[u8]> = rows.iter().map(Vec::as_slice).collect();
    let object = snapshot(&refs, &schema).unwrap();
    let got = read_back(&object);
    let has = |index: usize, member: &str| {
        assert!(
            got[index].contains(member),
            "row {index}: {} lacks {member}",
            got[index]
        );
    };
    has(0, r#""n":10"#);
    has(0, r#""name":"a""#);
    has(1, r#""n":20"#);
    has(1, r#""name":"b""#);
    has(2, r#""name":"c""#);
    assert!(
        !got[2].contains(r#""n":"#) || got[2].contains(r#""n":null"#),
        "row 2 has no n: {}",
        got[2]
    );
    has(3, r#""n":40"#);
    has(4, r#""n":50"#);
    has(4, r#""name":"e""#);
}

/// Text that is not UTF-8 is refused, naming the row it is in, also where
/// the bytes of neighbouring values would together be UTF-8 (text is
/// checked a batch of rows at a time).
#[test]
fn text_that_is_not_utf8_names_its_row() {
    let (_, schema) = every_type();
    let text_row = |id: u32, text: &[u8]| {
        let mut out = Vec::new();
        write_struct_entry(
            &mut out,
            "id",
            &encode_scalar(&ValueRef::Number(f64::from(id))),
        );
        let mut value = vec![0x1a, u8::try_from(text.len()).unwrap()];
        value.extend_from_slice(text);
        write_struct_entry(&mut out, "name", &value);
        out
    };
    // "é" is C3 A9: split over two rows, each half is not UTF-8.
    for (bad_id, first_half, second_half) in [
        (700, &b"\xC3"[..], &b"ok"[..]),
        (701, b"ok", b"\xA9"),
        (700, b"\xC3", b"\xA9"),
    ] {
        let rows: Vec<Vec<u8>> = (0..1000)
            .map(|id| match id {
                700 => text_row(id, first_half),
                701 => text_row(id, second_half),
                _ => text_row(id, b"fine"),
            })
            .collect();
        let rows: Vec<&[u8]> = rows.iter().map(Vec::as_slice).collect();
        let error = snapshot(&rows, &schema).unwrap_err();
        let message = with_causes(&error).to_string();
        assert!(error.is_data(), "{message}");
        assert!(
            message.starts_with(&format!("table public.t, key \"{bad_id}\"")),
            "{message}"
        );
    }
}
