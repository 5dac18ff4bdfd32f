//! [`Row`]: one row as the simulator holds and sends it.

use bytes::Bytes;
use laredo_proto::prost_types;
use laredo_wire::{DebugStruct, ValueRef, WireError, find_field, push_go_value};

/// The name of the simulated table's key column.
pub const KEY_COLUMN: &str = "id";

/// A row: the encoded bytes of a `google.protobuf.Struct`, as a journal
/// entry or snapshot row carries it; cheap to clone. Equal when the bytes
/// are.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Row(Bytes);

impl Row {
    /// Wraps encoded `Struct` bytes without checking them.
    pub fn from_encoded(bytes: Bytes) -> Self {
        Self(bytes)
    }

    /// Encodes a prost `Struct`.
    pub fn from_struct(row: &prost_types::Struct) -> Self {
        Self(Bytes::from(prost::Message::encode_to_vec(row)))
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The encoded bytes, sharing this row's buffer (to send it).
    pub fn to_bytes(&self) -> Bytes {
        self.0.clone()
    }

    /// Decodes into a prost `Struct` (slow; for tests).
    pub fn to_struct(&self) -> Result<prost_types::Struct, prost::DecodeError> {
        prost::Message::decode(self.as_bytes())
    }

    /// The row's key as laredo's Go `RowKey` prints it: Go's `%v` of its
    /// [`KEY_COLUMN`] (`<nil>` when it has none).
    pub fn key(&self) -> Result<String, WireError> {
        let mut key = String::new();
        let id = find_field(self.as_bytes(), KEY_COLUMN)?;
        push_go_value(&mut key, &id.unwrap_or(ValueRef::Null))?;
        Ok(key)
    }
}

impl AsRef<[u8]> for Row {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        DebugStruct(self.as_bytes()).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use laredo_wire::encode_struct;

    #[test]
    fn the_key_is_go_percent_v_of_the_id() {
        let row = |id: ValueRef<'_>| {
            let fields = [("name", ValueRef::String("a")), (KEY_COLUMN, id)];
            Row::from_encoded(Bytes::from(encode_struct(&fields)))
        };
        assert_eq!(row(ValueRef::Number(1e6)).key().unwrap(), "1e+06");
        assert_eq!(row(ValueRef::String("x")).key().unwrap(), "x");
        assert_eq!(Row::from_encoded(Bytes::new()).key().unwrap(), "<nil>");
        assert!(
            Row::from_encoded(Bytes::from_static(&[0x0a, 0x05]))
                .key()
                .is_err()
        );
    }
}
