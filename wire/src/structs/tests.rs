use super::*;
use prost::Message;
use prost_types::{ListValue, Struct, Value, value::Kind};

fn encoded(fields: Vec<(&str, Kind)>) -> Vec<u8> {
    Struct {
        fields: fields
            .into_iter()
            .map(|(k, kind)| (k.to_owned(), Value { kind: Some(kind) }))
            .collect(),
    }
    .encode_to_vec()
}

#[test]
fn reads_every_value_kind_prost_writes() {
    let inner = encoded(vec![("x", Kind::NumberValue(1.0))]);
    let list = ListValue {
        values: vec![Value {
            kind: Some(Kind::BoolValue(true)),
        }],
    };
    let buf = encoded(vec![
        ("n", Kind::NumberValue(-2.5)),
        ("s", Kind::StringValue("héllo".into())),
        ("b", Kind::BoolValue(true)),
        ("z", Kind::NullValue(0)),
        (
            "m",
            Kind::StructValue(Struct::decode(inner.as_slice()).unwrap()),
        ),
        ("l", Kind::ListValue(list.clone())),
    ]);
    let entries: Vec<(&str, ValueRef<'_>)> = StructEntries::new(&buf)
        .map(|e| e.map(|(k, v)| (k, ValueRef::parse(v).unwrap())).unwrap())
        .collect();
    let get = |name: &str| entries.iter().find(|(k, _)| *k == name).unwrap().1;
    assert_eq!(get("n"), ValueRef::Number(-2.5));
    assert_eq!(get("s"), ValueRef::String("héllo"));
    assert_eq!(get("b"), ValueRef::Bool(true));
    assert_eq!(get("z"), ValueRef::Null);
    assert_eq!(get("m"), ValueRef::Struct(&inner));
    assert_eq!(get("l"), ValueRef::List(&list.encode_to_vec()));
}

#[test]
fn encoders_produce_what_prost_decodes() {
    let mut buf = encode_struct(&[
        ("id", ValueRef::Number(7.0)),
        ("name", ValueRef::String("a")),
        ("gone", ValueRef::Null),
    ]);
    write_struct_entry(&mut buf, "ok", &encode_scalar(&ValueRef::Bool(false)));
    let decoded = Struct::decode(buf.as_slice()).unwrap();
    assert_eq!(decoded.fields["id"].kind, Some(Kind::NumberValue(7.0)));
    assert_eq!(
        decoded.fields["name"].kind,
        Some(Kind::StringValue("a".into()))
    );
    assert_eq!(decoded.fields["gone"].kind, Some(Kind::NullValue(0)));
    assert_eq!(decoded.fields["ok"].kind, Some(Kind::BoolValue(false)));
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let cases: [&[u8]; 6] = [
        &[0x0a],                               // tag, no length
        &[0x0a, 0x05, 0x01],                   // length beyond the buffer
        &[0x0b],                               // start-group wire type
        &[0xff; 11],                           // endless varint
        &[0x0a, 0x04, 0x0a, 0x02, 0xff, 0xfe], // name is not UTF-8
        &[0x0a, 0x02, 0x12, 0x09],             // value length beyond the entry
    ];
    for case in cases {
        let result: Result<Vec<_>, _> = StructEntries::new(case).collect();
        assert!(result.is_err(), "{case:?} should be rejected");
    }
}

#[test]
fn find_field_takes_the_last_duplicate_as_protobuf_maps_do() {
    let mut buf = Vec::new();
    write_struct_entry(&mut buf, "id", &encode_scalar(&ValueRef::Number(1.0)));
    write_struct_entry(&mut buf, "name", &encode_scalar(&ValueRef::String("a")));
    write_struct_entry(&mut buf, "id", &encode_scalar(&ValueRef::Number(2.0)));
    assert_eq!(find_field(&buf, "id"), Ok(Some(ValueRef::Number(2.0))));
    assert_eq!(find_field(&buf, "gone"), Ok(None));
    assert!(find_field(&[0x0a, 0x05], "id").is_err());
}

#[test]
fn a_row_debugs_as_a_map_of_its_values() {
    let mut buf = Vec::new();
    write_struct_entry(&mut buf, "id", &encode_scalar(&ValueRef::Number(7.0)));
    assert_eq!(format!("{:?}", DebugStruct(&buf)), r#"{"id": Number(7.0)}"#);
    buf.extend_from_slice(&[0x0a, 0x05]);
    assert_eq!(
        format!("{:?}", DebugStruct(&buf)),
        r#"{"id": Number(7.0), "<invalid>": Truncated("length-delimited field")}"#
    );
}
