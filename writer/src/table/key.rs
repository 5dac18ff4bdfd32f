//! Row keys, formatted byte for byte as laredo's Go `RowKey` does, so Go
//! readers of our archives (cold replay, archive source, `reconstruct`) find
//! the rows our diffs name.
//!
//! Go rules (reference/laredo.md §2.6): one key field prints as `%v` of the
//! value ([`laredo_wire::push_go_value`]); several key fields print as a Go
//! slice, `[a b c]`. A missing value prints `<nil>`, as a null does.

use laredo_wire::{StructEntries, ValueRef, WireError, find_field, push_go_value};

/// The formatted key of a row.
pub type RowKey = Box<str>;

/// The columns that identify a row, in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    fields: Vec<String>,
}

impl KeySpec {
    /// A key made of these columns; laredo's default is `["id"]`.
    ///
    /// # Panics
    /// Never for a validated config; an empty list is replaced by `["id"]`.
    pub fn new(fields: Vec<String>) -> Self {
        if fields.is_empty() {
            Self::default()
        } else {
            Self { fields }
        }
    }

    /// The key columns.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// Whether `name` is one of the key columns.
    pub fn contains(&self, name: &str) -> bool {
        self.fields.iter().any(|f| f == name)
    }

    /// The key of an encoded `Struct` row.
    pub fn key_of(&self, row: &[u8]) -> Result<RowKey, WireError> {
        with_scratch(|key| {
            self.write_key(row, key)?;
            Ok(RowKey::from(key.as_str()))
        })
    }

    /// Appends the key of an encoded `Struct` row to `out`.
    pub fn write_key(&self, row: &[u8], out: &mut String) -> Result<(), WireError> {
        if let [field] = self.fields.as_slice() {
            let value = find_field(row, field)?;
            return push_go_value(out, &value.unwrap_or(ValueRef::Null));
        }
        let mut values = vec![ValueRef::Null; self.fields.len()];
        for entry in StructEntries::new(row) {
            let (name, encoded) = entry?;
            if let Some(slot) = self.slot(name) {
                values[slot] = ValueRef::parse(encoded)?;
            }
        }
        self.write_values(&values, out)
    }

    /// Position of `name` among the key columns.
    pub fn slot(&self, name: &str) -> Option<usize> {
        self.slot_of_name(name.as_bytes())
    }

    /// [`slot`](Self::slot) by the name's bytes.
    pub fn slot_of_name(&self, name: &[u8]) -> Option<usize> {
        self.fields.iter().position(|f| f.as_bytes() == name)
    }

    /// Appends the key made of these values, one per key column in order.
    pub fn write_values(&self, values: &[ValueRef<'_>], out: &mut String) -> Result<(), WireError> {
        if let [value] = values {
            return push_go_value(out, value);
        }
        out.push('[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            push_go_value(out, value)?;
        }
        out.push(']');
        Ok(())
    }
}

impl Default for KeySpec {
    fn default() -> Self {
        Self {
            fields: vec!["id".to_owned()],
        }
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Runs `format` with an empty reused `String`, so a key is formatted
/// without growing a fresh one and then copied into one exact-size
/// allocation (`into_boxed_str` would reallocate to shrink it).
pub(crate) fn with_scratch<T>(format: impl FnOnce(&mut String) -> T) -> T {
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        format(scratch)
    })
}

/// The decimal digits of `n` (hot paths format integers this way instead of
/// through `core::fmt`).
#[inline]
pub fn decimal_digits(n: u64, buf: &mut itoa::Buffer) -> &[u8] {
    buf.format(n).as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    use laredo_wire::encode_struct;

    fn key(fields: &[&str], row: &[u8]) -> String {
        KeySpec::new(fields.iter().map(|f| (*f).to_owned()).collect())
            .key_of(row)
            .unwrap()
            .into()
    }

    #[test]
    fn single_field_keys_match_go() {
        let golden: &[(ValueRef<'_>, &str)] = &[
            (ValueRef::Number(42.0), "42"),
            (ValueRef::Number(1_234_567.0), "1.234567e+06"),
            (ValueRef::Number(-3.0), "-3"),
            (ValueRef::Number(2.5), "2.5"),
            (ValueRef::String("abc"), "abc"),
            (ValueRef::String("1234567"), "1234567"),
            (ValueRef::String(""), ""),
            (ValueRef::Bool(true), "true"),
            (ValueRef::Bool(false), "false"),
            (ValueRef::Null, "<nil>"),
        ];
        for (value, expected) in golden {
            let encoded = encode_struct(&[("name", ValueRef::String("x")), ("id", *value)]);
            assert_eq!(key(&["id"], &encoded), *expected, "{value:?}");
        }
        assert_eq!(
            key(&["id"], &encode_struct(&[("name", ValueRef::String("x"))])),
            "<nil>",
            "missing"
        );
    }

    #[test]
    fn composite_keys_print_as_go_slices() {
        let encoded = encode_struct(&[
            ("tenant", ValueRef::String("acme")),
            ("id", ValueRef::Number(1e6)),
            ("flag", ValueRef::Bool(true)),
        ]);
        assert_eq!(key(&["tenant", "id"], &encoded), "[acme 1e+06]");
        assert_eq!(
            key(&["id", "tenant", "flag"], &encoded),
            "[1e+06 acme true]"
        );
        assert_eq!(key(&["tenant", "missing"], &encoded), "[acme <nil>]");
    }

    #[test]
    fn the_last_duplicate_field_wins_as_in_protobuf_maps() {
        let encoded =
            encode_struct(&[("id", ValueRef::Number(1.0)), ("id", ValueRef::Number(2.0))]);
        assert_eq!(key(&["id"], &encoded), "2");
    }
}
