//! Value normalization: one representation per column, whichever path a row
//! came by.
//!
//! laredo-server sends baseline rows with numbers as JSON numbers (float64) and
//! live changes in pgoutput text form, where every value is a string
//! (reference/laredo.md §1.5). Unnormalized, a baseline id `1234567` keys as
//! `1.234567e+06` and the live `"1234567"` as `1234567`: two rows. The rule:
//!
//! 1. A column the handshake declares numeric (`integer`, `bigint`, `numeric`,
//!    `double precision`, … and their `int4`-style aliases) holds numbers: a
//!    string that parses as a finite decimal number becomes that number.
//! 2. A column declared `boolean` holds booleans: `t`/`true` and `f`/`false`
//!    become `true` and `false`.
//! 3. A key column whose type the handshake does not declare: a string that
//!    is a plain decimal integer (`-?[1-9][0-9]*` or `0`) within ±2^53 becomes
//!    that number, which is how the baseline sends integer ids.
//!
//! Everything else is kept as received. Numbers therefore carry float64
//! precision, as the baseline already does; a numeric string that does not
//! parse (e.g. `NaN`) stays a string.

use laredo_proto::replication::v1::ColumnDefinition;

use super::key::KeySpec;
use crate::pg_type::{ColumnType, Scalar};
use laredo_wire::{StructEntries, ValueRef, WireError, encode_scalar, write_struct_entry};

/// The kind a column is normalized to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// JSON numbers.
    Number,
    /// JSON booleans.
    Bool,
}

/// Column kinds from the handshake, keyed by column name. Only numeric and
/// boolean columns are kept. Every row looks each of its columns up, so a
/// few kinds are searched in a list (faster than hashing short names) and
/// many in a map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnTypes {
    kinds: Vec<(Box<[u8]>, ColumnKind)>,
    index: Option<hashbrown::HashMap<Box<[u8]>, ColumnKind>>,
}

/// Above this many kinds, lookups go through a hash map.
const LINEAR_LOOKUP_MAX: usize = 16;

impl ColumnTypes {
    /// Kinds of the columns a handshake declares; other types are left alone.
    pub fn from_columns(columns: &[ColumnDefinition]) -> Self {
        let kinds = columns
            .iter()
            .filter_map(|c| {
                kind_of_type(&c.data_type).map(|kind| (Box::from(c.column_name.as_bytes()), kind))
            })
            .collect::<Vec<_>>();
        let index = (kinds.len() > LINEAR_LOOKUP_MAX).then(|| kinds.iter().cloned().collect());
        Self { kinds, index }
    }

    /// The kind of a column, if it is numeric or boolean.
    pub fn kind(&self, column: &str) -> Option<ColumnKind> {
        self.kind_of_name(column.as_bytes())
    }

    /// [`kind`](Self::kind) by the name's bytes.
    pub fn kind_of_name(&self, column: &[u8]) -> Option<ColumnKind> {
        if let Some(index) = &self.index {
            return index.get(column).copied();
        }
        self.kinds
            .iter()
            .find(|(name, _)| **name == *column)
            .map(|(_, kind)| *kind)
    }
}

/// Maps a PostgreSQL type name (as `format_type` or the catalog spells it) to
/// the kind its values normalize to.
pub fn kind_of_type(data_type: &str) -> Option<ColumnKind> {
    match ColumnType::of_postgres(data_type) {
        ColumnType::Scalar(scalar) if scalar.is_number() => Some(ColumnKind::Number),
        ColumnType::Scalar(Scalar::Bool) => Some(ColumnKind::Bool),
        _ => None,
    }
}

/// The normalized form of one value, or `None` when it is already normal.
pub(crate) fn normalized<'a>(
    column: &str,
    value: &ValueRef<'a>,
    types: &ColumnTypes,
    key: &KeySpec,
) -> Option<ValueRef<'a>> {
    normalize_value(value, types.kind(column), key.contains(column))
}

/// [`normalized`] given the column's kind and whether it is a key column.
pub(crate) fn normalize_value<'a>(
    value: &ValueRef<'a>,
    kind: Option<ColumnKind>,
    is_key: bool,
) -> Option<ValueRef<'a>> {
    let ValueRef::String(text) = value else {
        return None;
    };
    match kind {
        Some(ColumnKind::Number) => {
            let number: f64 = text.trim().parse().ok()?;
            number.is_finite().then_some(ValueRef::Number(number))
        }
        Some(ColumnKind::Bool) => match *text {
            "t" | "true" => Some(ValueRef::Bool(true)),
            "f" | "false" => Some(ValueRef::Bool(false)),
            _ => None,
        },
        None if is_key && is_plain_integer(text) => {
            let number: f64 = text.parse().ok()?;
            (number.abs() <= 9_007_199_254_740_992.0).then_some(ValueRef::Number(number))
        }
        None => None,
    }
}

fn is_plain_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && digits.len() <= 16
}

/// Rewrites an encoded `Struct` row with normalized values. Returns `None`
/// (no allocation) when every value is already normal, which is the case for
/// baseline rows and for sources that send typed values.
pub fn normalize_row(
    row: &[u8],
    types: &ColumnTypes,
    key: &KeySpec,
) -> Result<Option<Vec<u8>>, WireError> {
    let mut first_change = None;
    for (index, entry) in StructEntries::new(row).enumerate() {
        let (name, encoded) = entry?;
        if !might_need_normalizing(encoded) {
            continue;
        }
        if normalized(name, &ValueRef::parse(encoded)?, types, key).is_some() {
            first_change = Some(index);
            break;
        }
    }
    if first_change.is_none() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(row.len());
    for entry in StructEntries::new(row) {
        let (name, encoded) = entry?;
        match normalized(name, &ValueRef::parse(encoded)?, types, key) {
            Some(value) => write_struct_entry(&mut out, name, &encode_scalar(&value)),
            None => write_struct_entry(&mut out, name, encoded),
        }
    }
    Ok(Some(out))
}

/// Only string values (field 3) are ever rewritten, and an encoded string value
/// always contains its tag byte 0x1a; values without that byte (most numbers,
/// bools, nulls) are skipped without decoding.
fn might_need_normalizing(encoded_value: &[u8]) -> bool {
    encoded_value.contains(&0x1a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use laredo_wire::encode_struct;

    fn column(name: &str, data_type: &str) -> ColumnDefinition {
        ColumnDefinition {
            column_name: name.into(),
            data_type: data_type.into(),
            ..Default::default()
        }
    }

    #[test]
    fn numeric_and_boolean_types_are_known_by_every_name() {
        for name in [
            "integer",
            "INT8",
            "smallserial",
            "oid",
            "real",
            "float(10)",
            "double precision",
            "numeric",
            "numeric(12,2)",
            "decimal(60,2)",
        ] {
            assert_eq!(kind_of_type(name), Some(ColumnKind::Number), "{name}");
        }
        assert_eq!(kind_of_type(" Boolean "), Some(ColumnKind::Bool));
        for name in [
            "text",
            "integer[]",
            "_int4",
            "timestamptz",
            "uuid",
            "",
            "interval",
        ] {
            assert_eq!(kind_of_type(name), None, "{name}");
        }
    }

    #[test]
    fn live_text_values_become_the_baseline_types() {
        let types = ColumnTypes::from_columns(&[
            column("id", "bigint"),
            column("price", "numeric(10,2)"),
            column("active", "boolean"),
            column("name", "text"),
        ]);
        let live = encode_struct(&[
            ("id", ValueRef::String("1234567")),
            ("price", ValueRef::String("12.50")),
            ("active", ValueRef::String("t")),
            ("name", ValueRef::String("42")),
        ]);
        let baseline = encode_struct(&[
            ("id", ValueRef::Number(1_234_567.0)),
            ("price", ValueRef::Number(12.5)),
            ("active", ValueRef::Bool(true)),
            ("name", ValueRef::String("42")),
        ]);
        let spec = KeySpec::default();
        assert_eq!(
            normalize_row(&live, &types, &spec).unwrap(),
            Some(baseline.clone())
        );
        assert_eq!(
            normalize_row(&baseline, &types, &spec).unwrap(),
            None,
            "already normal"
        );
        assert_eq!(
            spec.key_of(&normalize_row(&live, &types, &spec).unwrap().unwrap())
                .unwrap(),
            spec.key_of(&baseline).unwrap(),
            "one row, not two"
        );
    }

    #[test]
    fn untyped_integer_keys_become_numbers_and_nothing_else_does() {
        let types = ColumnTypes::default();
        let spec = KeySpec::default();
        let live = encode_struct(&[
            ("id", ValueRef::String("1234567")),
            ("code", ValueRef::String("7")),
        ]);
        let expected = encode_struct(&[
            ("id", ValueRef::Number(1_234_567.0)),
            ("code", ValueRef::String("7")),
        ]);
        assert_eq!(normalize_row(&live, &types, &spec).unwrap(), Some(expected));
        for kept in ["007", "1.50", "abc", "", "-", "12345678901234567"] {
            let r = encode_struct(&[("id", ValueRef::String(kept))]);
            assert_eq!(normalize_row(&r, &types, &spec).unwrap(), None, "{kept:?}");
        }
    }

    #[test]
    fn unparseable_numeric_text_is_kept() {
        let types = ColumnTypes::from_columns(&[column("n", "numeric")]);
        let r = encode_struct(&[("n", ValueRef::String("NaN")), ("m", ValueRef::String("x"))]);
        assert_eq!(
            normalize_row(&r, &types, &KeySpec::default()).unwrap(),
            None
        );
    }

    /// What a PostgreSQL-like fan-out server sends for live changes
    /// (numbers and booleans as text) normalizes back to the typed row it
    /// stands for.
    #[test]
    fn simulated_text_rows_normalize_back_to_the_typed_row() {
        let types = ColumnTypes::from_columns(&fanout_sim::rows::columns());
        let mut generator = fanout_sim::rows::Generator::new(1);
        for _ in 0..200 {
            let typed = generator.insert();
            let text = fanout_sim::rows::as_text(&typed);
            assert_ne!(text, typed);
            let normalized = normalize_row(text.as_bytes(), &types, &KeySpec::default())
                .unwrap()
                .unwrap();
            assert_eq!(normalized, typed.as_bytes());
        }
    }
}
