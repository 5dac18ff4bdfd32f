use super::*;
use laredo_wire::{encode_scalar, write_struct_entry};

fn go_float(v: f64) -> String {
    let mut out = Vec::new();
    write_go_float(&mut out, v);
    String::from_utf8(out).unwrap()
}

/// The layout rules spelled out with `core::fmt`'s shortest digits (the
/// encoder before it used `ryu`), as a reference for random values.
fn reference_go_float(v: f64) -> String {
    let abs = v.abs();
    if !v.is_finite() {
        return "null".into();
    }
    if v.fract() == 0.0 && abs < 1e15 {
        return if v == 0.0 && v.is_sign_negative() {
            "-0".into()
        } else {
            format!("{}", v as i64)
        };
    }
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{v:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap();
        return match exponent.strip_prefix('-') {
            Some(digits) => format!("{mantissa}e-{digits}"),
            None => format!("{mantissa}e+{exponent:0>2}"),
        };
    }
    format!("{v}")
}

#[test]
fn random_floats_format_as_the_reference() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..200_000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Raw bit patterns cover every exponent; scaled integers cover
        // the common decimal values.
        let sign = if x & 1 == 0 { 1.0 } else { -1.0 };
        let v = match i % 6 {
            0 => f64::from_bits(x),
            1 => (x % 100_000_000) as f64 / 100.0,
            2 => (x >> 11) as f64 * 1e-3,
            // Decimals of one to six places, up to 16 digits, and small ones.
            3 => sign * (x % 10_000_000_000_000_000) as f64 / 10f64.powi((x % 6) as i32 + 1),
            4 => sign * (x % 100_000) as f64 / 10f64.powi((x % 9) as i32 + 1),
            _ => sign * (x % 1_000_000_000_000_000) as f64 / 10_000.0,
        };
        let (ours, reference) = (go_float(v), reference_go_float(v));
        if ours != reference {
            // `core::fmt` rounds an exact tie at the 17th digit up; Go
            // (and ryu) round it to even. Only that may differ.
            let (a, b) = (ours.as_bytes(), reference.as_bytes());
            let last = a.iter().zip(b).position(|(x, y)| x != y).unwrap();
            assert_eq!(a.len(), b.len(), "{ours} vs {reference}");
            assert_eq!(ours.parse::<f64>().unwrap(), v, "{ours} round-trips");
            assert!(
                (a[last] - b'0').is_multiple_of(2) && b[last] == a[last] + 1,
                "{v:e}: {ours} vs {reference}"
            );
        }
    }
}

/// Expected strings are what Go's `json.Marshal(float64)` produces.
#[test]
fn floats_match_go_encoding_json() {
    let golden: &[(f64, &str)] = &[
        (0.0, "0"),
        (-0.0, "-0"),
        (1.0, "1"),
        (-42.0, "-42"),
        (1e6, "1000000"),
        (1_234_567.0, "1234567"),
        (1.5, "1.5"),
        (0.1, "0.1"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1.5e21, "1.5e+21"),
        (123_456_789_012_345_680.0, "123456789012345680"),
        (0.000001, "0.000001"),
        (0.0000001, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (-2.5e-10, "-2.5e-10"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (9_007_199_254_740_993.0, "9007199254740992"),
        (0.30000000000000004, "0.30000000000000004"),
        (0.00001, "0.00001"),
        (0.000012345, "0.000012345"),
        (0.0000099, "0.0000099"),
        (-0.5, "-0.5"),
        (123_456_789_012.5, "123456789012.5"),
        (999_999_999_999_999.9, "999999999999999.9"),
        (1_234_567_890_123_456.8, "1234567890123456.8"),
    ];
    for (v, expected) in golden {
        assert_eq!(go_float(*v), *expected, "{v:e}");
    }
    assert_eq!(go_float(f64::NAN), "null");
}

#[test]
fn strings_are_escaped_as_go_does() {
    let mut out = Vec::new();
    write_string(
        &mut out,
        "a<b>&\"\\\n\r\t\u{8}\u{c}\u{1}\u{7f}é\u{2028}\u{2029}\u{2027}",
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#""a\u003cb\u003e\u0026\"\\\n\r\t\b\f\u0001"#.to_owned()
            + "\u{7f}é\\u2028\\u2029\u{2027}\""
    );
}

#[test]
fn rows_have_sorted_keys_and_the_last_duplicate_wins() {
    let mut row = Vec::new();
    write_struct_entry(&mut row, "z", &encode_scalar(&ValueRef::Number(1.0)));
    write_struct_entry(&mut row, "a", &encode_scalar(&ValueRef::String("x")));
    write_struct_entry(&mut row, "z", &encode_scalar(&ValueRef::Bool(true)));
    let mut out = Vec::new();
    encode_snapshot_row(&mut ColumnCache::default(), &mut out, &row).unwrap();
    assert_eq!(out, b"{\"a\":\"x\",\"z\":true}\n");
}

fn encoded_row(members: &[(&str, ValueRef<'_>)]) -> Vec<u8> {
    let mut row = Vec::new();
    for (name, value) in members {
        write_struct_entry(&mut row, name, &encode_scalar(value));
    }
    row
}

/// Rows whose layouts change from one row to the next, through one cache,
/// come out as each would alone.
#[test]
fn a_changing_column_layout_is_relearned() {
    use ValueRef::{Bool, Number, String as Text};
    let rows = [
        encoded_row(&[("id", Number(1.0)), ("b", Text("x")), ("a", Bool(true))]),
        encoded_row(&[("id", Number(2.0)), ("b", Text("y")), ("a", Bool(false))]),
        encoded_row(&[("id", Number(3.0)), ("a", Bool(true))]),
        encoded_row(&[("id", Number(4.0)), ("a", Bool(true)), ("b", Text("z"))]),
        encoded_row(&[("i", Number(5.0)), ("b", Text("y")), ("a", Bool(false))]),
        encoded_row(&[("id", Number(6.0)), ("id", Number(7.0)), ("a<", Bool(true))]),
        encoded_row(&[]),
        encoded_row(&[("id", Number(8.0)), ("b", Text("y")), ("a", Bool(false))]),
        // Prefixes of 16 bytes and longer (`,"twelve_chars":`), and the
        // last one, whose padding follows it.
        encoded_row(&[
            ("a_column_name_of_30_characters", Number(9.0)),
            ("twelve_chars", Bool(true)),
            ("thirteen_char", Bool(false)),
        ]),
    ];
    let expected = [
        r#"{"a":true,"b":"x","id":1}"#,
        r#"{"a":false,"b":"y","id":2}"#,
        r#"{"a":true,"id":3}"#,
        r#"{"a":true,"b":"z","id":4}"#,
        r#"{"a":false,"b":"y","i":5}"#,
        r#"{"a\u003c":true,"id":7}"#,
        r#"{}"#,
        r#"{"a":false,"b":"y","id":8}"#,
        r#"{"a_column_name_of_30_characters":9,"thirteen_char":false,"twelve_chars":true}"#,
    ];
    let mut cache = ColumnCache::default();
    for (row, expected) in rows.iter().zip(expected) {
        let mut shared = Vec::new();
        encode_snapshot_row(&mut cache, &mut shared, row).unwrap();
        let mut alone = Vec::new();
        encode_snapshot_row(&mut ColumnCache::default(), &mut alone, row).unwrap();
        assert_eq!(shared, alone);
        assert_eq!(String::from_utf8(shared).unwrap(), format!("{expected}\n"));
    }
}

/// A row whose member name is not UTF-8 is refused every time, even right
/// after a row of the same shape was encoded.
#[test]
fn a_bad_member_name_is_refused_every_time() {
    let good = encoded_row(&[("ab", ValueRef::Null)]);
    let mut bad = good.clone();
    let at = bad.iter().position(|b| *b == b'a').unwrap();
    bad[at] = 0xFF;
    let mut cache = ColumnCache::default();
    let mut out = Vec::new();
    let empty = Vec::new();
    for row in [&good, &bad, &bad, &good, &bad, &empty] {
        let result = encode_snapshot_row(&mut cache, &mut out, row);
        assert_eq!(result.is_err(), row == &bad);
    }
    assert_eq!(out, b"{\"ab\":null}\n{\"ab\":null}\n{}\n");
}

/// Go's escaping spelled out one character at a time.
fn reference_escape(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' | '\0'..='\u{1f}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[test]
fn random_strings_escape_as_the_reference() {
    let alphabet: Vec<char> =
        "abcXYZ019 \"\\<>&\n\t\u{1}\u{1f}\u{7f}é€\u{2028}\u{2029}\u{2027}\u{20ac}😀"
            .chars()
            .collect();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..20_000 {
        let len = (next() % 40) as usize;
        // Mostly plain text, so runs of eight plain bytes are common.
        let text: String = (0..len)
            .map(|_| match next() % 4 {
                0 => alphabet[(next() % alphabet.len() as u64) as usize],
                _ => 'q',
            })
            .collect();
        let mut out = Vec::new();
        write_string(&mut out, &text);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            reference_escape(&text),
            "{text:?}"
        );
        // Bytes not yet known to be UTF-8: the same text, or an error when
        // a byte is broken.
        let mut out = Vec::new();
        write_text(&mut out, text.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), reference_escape(&text));
        if !text.is_empty() {
            let mut broken = text.clone().into_bytes();
            let at = (next() % broken.len() as u64) as usize;
            broken[at] = 0xFF;
            assert_eq!(
                write_text(&mut Vec::new(), &broken),
                Err(WireError::Utf8),
                "{broken:?}"
            );
        }
    }
}

#[test]
fn diff_lines_keep_go_field_order_and_omit_absent_rows() {
    let mut row = Vec::new();
    write_struct_entry(&mut row, "id", &encode_scalar(&ValueRef::Number(7.0)));
    let mut out = Vec::new();
    let columns = &mut ColumnCache::default();
    let entry = |action, old, new| DiffEntry {
        action,
        key: "7",
        old,
        new,
    };
    encode_diff_entry(
        columns,
        &mut out,
        &entry(Action::Update, Some(&row), Some(&row)),
    )
    .unwrap();
    encode_diff_entry(columns, &mut out, &entry(Action::Delete, Some(&row), None)).unwrap();
    encode_diff_entry(columns, &mut out, &DiffEntry::TRUNCATE).unwrap();
    assert_eq!(
        String::from_utf8(out.clone()).unwrap(),
        "{\"action\":\"UPDATE\",\"key\":\"7\",\"old\":{\"id\":7},\"new\":{\"id\":7}}\n\
         {\"action\":\"DELETE\",\"key\":\"7\",\"old\":{\"id\":7}}\n\
         {\"action\":\"TRUNCATE\",\"key\":\"\"}\n"
    );
    let mut records = Vec::new();
    decode_diff(&Bytes::from(out), |r| {
        records.push(r);
        Ok(())
    })
    .unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(
        records[0].new,
        Some(StoredRow::Json(Bytes::from_static(b"{\"id\":7}")))
    );
    assert_eq!(records[1].action, Action::Delete);
    assert_eq!(records[2].action, Action::Truncate);
}

#[test]
fn bad_diff_lines_name_the_line() {
    let object = Bytes::from_static(
        b"\n{\"action\":\"INSERT\",\"key\":\"1\",\"new\":{}}\n{\"action\":\"MERGE\"}\n",
    );
    let err = decode_diff(&object, |_| Ok(())).unwrap_err();
    assert_eq!(err.record, 3);
    assert!(err.message.contains("MERGE"), "{err}");
}

/// A xorshift generator: the same numbers on every run.
fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// Random rows through one cache come out as each would alone: layouts
/// repeated, reordered and changed, names longer than the 16-byte comparison, values
/// long enough for two-byte lengths, repeated names, unknown fields and
/// lengths written in more bytes than needed.
#[test]
fn random_rows_through_one_cache_encode_as_alone() {
    use laredo_wire::read_varint;
    let names = [
        "id",
        "a",
        "b",
        "name",
        "a_name_longer_than_sixteen_bytes",
        "é<",
    ];
    let long = "x".repeat(130);
    let mut next = xorshift(0x2545_f491_4f6c_dd1d);
    let mut cache = ColumnCache::default();
    let mut layout: Vec<&str> = Vec::new();
    for _ in 0..5_000 {
        match next() % 3 {
            0 => {
                let width = (next() % 6) as usize;
                layout = (0..width)
                    .map(|_| names[(next() % names.len() as u64) as usize])
                    .collect();
            }
            // The same names in another order, as Go writes map entries.
            1 => {
                for i in (1..layout.len()).rev() {
                    layout.swap(i, (next() % (i as u64 + 1)) as usize);
                }
            }
            _ => {}
        }
        let mut row = Vec::new();
        for name in &layout {
            let value = match next() % 4 {
                0 => ValueRef::Number((next() % 10_000) as f64 / 8.0),
                1 => ValueRef::String("short & sweet"),
                2 => ValueRef::String(&long),
                _ => ValueRef::Bool(next().is_multiple_of(2)),
            };
            let mut entry = Vec::new();
            write_struct_entry(&mut entry, name, &encode_scalar(&value));
            match next() % 16 {
                0 => row.extend_from_slice(&[0x10, 0x01]), // unknown field 2
                1 => {
                    let mut pos = 1;
                    let len = read_varint(&entry, &mut pos).unwrap();
                    entry = [
                        &[0x0a, (len as u8) | 0x80, (len >> 7) as u8 | 0x80, 0x00],
                        &entry[pos..],
                    ]
                    .concat();
                }
                _ => {}
            }
            row.extend_from_slice(&entry);
        }
        let mut shared = Vec::new();
        encode_snapshot_row(&mut cache, &mut shared, &row).unwrap();
        let mut alone = Vec::new();
        encode_snapshot_row(&mut ColumnCache::default(), &mut alone, &row).unwrap();
        assert_eq!(shared, alone, "{layout:?}");
    }
}

/// Rows of a table wider than the one-by-one search, in random member
/// order and now and then with one name twice and another missing, through
/// one cache come out as each would alone.
#[test]
fn wide_rows_in_random_order_encode_as_alone() {
    let names: Vec<String> = (0..80).map(|i| format!("column_{i}")).collect();
    let mut order: Vec<usize> = (0..names.len()).collect();
    let mut next = xorshift(0x2545_f491_4f6c_dd1d);
    let mut cache = ColumnCache::default();
    for round in 0..300 {
        for i in (1..order.len()).rev() {
            order.swap(i, (next() % (i as u64 + 1)) as usize);
        }
        let mut members: Vec<usize> = order.clone();
        if round % 7 == 3 {
            members[5] = members[6];
        }
        let mut row = Vec::new();
        for &i in &members {
            let value = ValueRef::Number(f64::from(round) + i as f64);
            write_struct_entry(&mut row, &names[i], &encode_scalar(&value));
        }
        let mut shared = Vec::new();
        encode_snapshot_row(&mut cache, &mut shared, &row).unwrap();
        let mut alone = Vec::new();
        encode_snapshot_row(&mut ColumnCache::default(), &mut alone, &row).unwrap();
        assert_eq!(shared, alone, "round {round}");
    }
}

/// Rows of 100 and 300 columns (past the 64 a bitmask held) in a new
/// member order each time stay on the located path once their layout is
/// learnt, and come out as each would alone, in Go's sorted order.
#[test]
fn very_wide_rows_in_any_order_stay_on_the_located_path() {
    for width in [100, 300] {
        let names: Vec<String> = (0..width)
            .map(|i| match i % 3 {
                0 => format!("c{i}"),
                1 => format!("a_column_name_longer_than_sixteen_bytes_{i}"),
                _ => format!("col_{i:04}"),
            })
            .collect();
        let mut order: Vec<usize> = (0..width).collect();
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        let mut cache = ColumnCache::default();
        for round in 0..50usize {
            let mut row = Vec::new();
            for &i in &order {
                let value = ValueRef::Number((round + i) as f64);
                write_struct_entry(&mut row, &names[i], &encode_scalar(&value));
            }
            // The first row teaches the layout; every later one, in another
            // order, is located.
            assert_eq!(
                cache.locate_values(&row),
                round > 0,
                "width {width}, round {round}"
            );
            let mut shared = Vec::new();
            encode_snapshot_row(&mut cache, &mut shared, &row).unwrap();
            let mut alone = Vec::new();
            encode_snapshot_row(&mut ColumnCache::default(), &mut alone, &row).unwrap();
            assert_eq!(shared, alone, "width {width}, round {round}");
            let mut sorted: Vec<usize> = (0..width).collect();
            sorted.sort_by_key(|&i| &names[i]);
            let members: Vec<String> = sorted
                .iter()
                .map(|&i| format!("\"{}\":{}", names[i], round + i))
                .collect();
            assert_eq!(shared, format!("{{{}}}\n", members.join(",")).into_bytes());
            for i in (1..order.len()).rev() {
                order.swap(i, (next() % (i as u64 + 1)) as usize);
            }
        }
    }
}

#[test]
fn a_line_longer_than_go_accepts_is_an_error() {
    let long = |first: &[u8]| {
        let mut object = first.to_vec();
        object.extend_from_slice(b"{\"action\":\"INSERT\",\"key\":\"2\",\"new\":{\"v\":\"");
        object.resize(object.len() + MAX_LINE_BYTES, b'x');
        object.extend_from_slice(b"\"}}\n");
        object
    };
    let error = snapshot_rows(&long(b"{\"id\":1}\n"), |_, _| Ok(())).unwrap_err();
    assert_eq!(error.record, 2);
    assert!(error.message.contains("longer than the"), "{error}");
    let diff = Bytes::from(long(b"{\"action\":\"TRUNCATE\",\"key\":\"\"}\n"));
    let error = decode_diff(&diff, |_| Ok(())).unwrap_err();
    assert_eq!(error.record, 2);
    assert!(error.message.contains("longer than the"), "{error}");
}
