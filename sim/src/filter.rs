//! laredo's row filters (`FieldPredicate`, AND-combined): `equals`, `prefix`
//! and `in`. Numbers compare numerically, also against a column holding the
//! number as text (live pgoutput values); a prefix applies only to strings;
//! a missing or null column never matches.

use laredo_proto::prost_types::{self, value::Kind};
use laredo_proto::replication::v1::{FieldPredicate, field_predicate::Match};

use laredo_wire::{ValueRef, find_field};

/// A parsed filter list; an empty one passes every row.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    predicates: Vec<(String, Predicate)>,
}

#[derive(Debug, Clone)]
enum Predicate {
    OneOf(Vec<Kind>),
    Prefix(String),
}

impl Filter {
    /// Validates the request's predicates as laredo-server does.
    pub fn parse(predicates: &[FieldPredicate]) -> Result<Self, String> {
        let predicates = predicates
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if p.field.is_empty() {
                    return Err(format!("filter {i}: field is empty"));
                }
                let predicate = match &p.r#match {
                    Some(Match::Equals(value)) => Predicate::OneOf(vec![kind(value, i)?]),
                    Some(Match::In(list)) => Predicate::OneOf(
                        list.values
                            .iter()
                            .map(|v| kind(v, i))
                            .collect::<Result<_, _>>()?,
                    ),
                    Some(Match::Prefix(prefix)) => Predicate::Prefix(prefix.clone()),
                    None => return Err(format!("filter {i} on {:?}: no match set", p.field)),
                };
                Ok((p.field.clone(), predicate))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { predicates })
    }

    /// Whether an encoded row passes every predicate.
    pub fn matches(&self, row: &[u8]) -> bool {
        self.predicates.iter().all(|(field, predicate)| {
            let Ok(Some(value)) = find_field(row, field) else {
                return false;
            };
            match predicate {
                Predicate::Prefix(prefix) => {
                    matches!(value, ValueRef::String(s) if s.starts_with(prefix.as_str()))
                }
                Predicate::OneOf(wanted) => wanted.iter().any(|w| equals(&value, w)),
            }
        })
    }

    /// Whether there is no predicate.
    pub fn is_empty(&self) -> bool {
        self.predicates.is_empty()
    }
}

fn kind(value: &prost_types::Value, index: usize) -> Result<Kind, String> {
    value
        .kind
        .clone()
        .ok_or_else(|| format!("filter {index}: value has no kind"))
}

fn equals(value: &ValueRef<'_>, wanted: &Kind) -> bool {
    let as_number = |v: &ValueRef<'_>| match v {
        ValueRef::Number(n) => Some(*n),
        ValueRef::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match wanted {
        Kind::NumberValue(n) => as_number(value) == Some(*n),
        Kind::StringValue(s) => match value {
            ValueRef::String(text) => text == s,
            ValueRef::Number(n) => s.trim().parse::<f64>().ok() == Some(*n),
            _ => false,
        },
        Kind::BoolValue(b) => match value {
            ValueRef::Bool(v) => v == b,
            ValueRef::String(t) => {
                matches!((*t, *b), ("t" | "true", true) | ("f" | "false", false))
            }
            _ => false,
        },
        Kind::NullValue(_) | Kind::StructValue(_) | Kind::ListValue(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use laredo_wire::encode_struct;

    fn pred(field: &str, matcher: Match) -> FieldPredicate {
        FieldPredicate {
            field: field.into(),
            r#match: Some(matcher),
        }
    }

    fn value(kind: Kind) -> prost_types::Value {
        prost_types::Value { kind: Some(kind) }
    }

    #[test]
    fn predicates_follow_laredos_rules() {
        let typed = encode_struct(&[
            ("id", ValueRef::Number(7.0)),
            ("region", ValueRef::String("eu-west")),
        ]);
        let text = encode_struct(&[
            ("id", ValueRef::String("7")),
            ("region", ValueRef::String("eu-west")),
        ]);
        let null = encode_struct(&[("id", ValueRef::Null)]);
        let equals_7 =
            Filter::parse(&[pred("id", Match::Equals(value(Kind::NumberValue(7.0))))]).unwrap();
        assert!(equals_7.matches(&typed));
        assert!(equals_7.matches(&text), "numbers compare numerically");
        assert!(!equals_7.matches(&null), "null never matches");
        assert!(
            !equals_7.matches(&encode_struct(&[])),
            "missing never matches"
        );
        let prefix = Filter::parse(&[pred("region", Match::Prefix("eu".into()))]).unwrap();
        assert!(prefix.matches(&typed));
        let prefix_on_number = Filter::parse(&[pred("id", Match::Prefix("7".into()))]).unwrap();
        assert!(
            !prefix_on_number.matches(&typed),
            "prefix applies to strings only"
        );
        let one_of = prost_types::ListValue {
            values: vec![
                value(Kind::StringValue("us".into())),
                value(Kind::StringValue("eu-west".into())),
            ],
        };
        let both = Filter::parse(&[
            pred("region", Match::In(one_of)),
            pred("id", Match::Equals(value(Kind::NumberValue(8.0)))),
        ])
        .unwrap();
        assert!(!both.matches(&typed), "AND-combined");
        assert!(
            Filter::parse(&[FieldPredicate {
                field: "x".into(),
                r#match: None
            }])
            .is_err()
        );
        assert!(Filter::parse(&[pred("", Match::Prefix("a".into()))]).is_err());
    }
}
