//! The journal's four actions, as laredo spells them on the wire.

/// The four journal actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// A new row.
    Insert,
    /// A changed row; `old` is the full previous row.
    Update,
    /// A removed row; `old` is the full previous row.
    Delete,
    /// Every row removed (also laredo-server's schema-change marker).
    Truncate,
}

impl Action {
    /// Parses laredo's action string.
    pub fn parse(action: &str) -> Option<Self> {
        Self::parse_bytes(action.as_bytes())
    }

    /// [`parse`](Self::parse) of the string's bytes, as received (no UTF-8
    /// check needed: each action is ASCII).
    pub fn parse_bytes(action: &[u8]) -> Option<Self> {
        Some(match action {
            b"INSERT" => Action::Insert,
            b"UPDATE" => Action::Update,
            b"DELETE" => Action::Delete,
            b"TRUNCATE" => Action::Truncate,
            _ => return None,
        })
    }

    /// laredo's action string.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Insert => "INSERT",
            Action::Update => "UPDATE",
            Action::Delete => "DELETE",
            Action::Truncate => "TRUNCATE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_through_their_strings() {
        for action in [
            Action::Insert,
            Action::Update,
            Action::Delete,
            Action::Truncate,
        ] {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
        assert_eq!(Action::parse("insert"), None, "laredo's are upper case");
        assert_eq!(Action::parse_bytes(b"INS\xffRT"), None);
    }
}
