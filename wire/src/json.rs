//! JSON values as protobuf `Value`s: how the writer sends the filter values
//! of its config and the simulator reads the rows of a script.

use prost_types::value::Kind;

/// The protobuf `Value` of a JSON value (numbers as `f64`, as protobuf's
/// JSON mapping has them).
pub fn json_value(value: &serde_json::Value) -> prost_types::Value {
    let kind = match value {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(*b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Kind::StringValue(s.clone()),
        serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(json_value).collect(),
        }),
        serde_json::Value::Object(map) => Kind::StructValue(prost_types::Struct {
            fields: map
                .iter()
                .map(|(k, v)| (k.clone(), json_value(v)))
                .collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_json_kind_maps_to_its_protobuf_kind() {
        let value = json_value(&serde_json::json!({
            "n": 5, "s": "x", "b": true, "z": null, "l": [1.5]
        }));
        let Some(Kind::StructValue(row)) = value.kind else {
            panic!("an object is a Struct: {value:?}");
        };
        let kind = |name: &str| row.fields[name].kind.clone();
        assert_eq!(kind("n"), Some(Kind::NumberValue(5.0)));
        assert_eq!(kind("s"), Some(Kind::StringValue("x".into())));
        assert_eq!(kind("b"), Some(Kind::BoolValue(true)));
        assert_eq!(kind("z"), Some(Kind::NullValue(0)));
        assert_eq!(
            kind("l"),
            Some(Kind::ListValue(prost_types::ListValue {
                values: vec![prost_types::Value {
                    kind: Some(Kind::NumberValue(1.5))
                }]
            }))
        );
    }
}
