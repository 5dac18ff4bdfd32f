//! Why bytes are not a valid encoded `Struct`/`Value`.

/// Why bytes are not a valid encoded `Struct`/`Value`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The buffer ends inside a field.
    #[error("truncated protobuf: {0}")]
    Truncated(&'static str),
    /// A wire type that Struct/Value never use, or an unknown one.
    #[error("unsupported protobuf wire type {0}")]
    WireType(u8),
    /// A varint longer than 10 bytes, or one of 10 bytes above `u64::MAX`.
    #[error("malformed varint")]
    Varint,
    /// A string field that is not UTF-8.
    #[error("string field is not valid UTF-8")]
    Utf8,
    /// A nesting deeper than [`MAX_DEPTH`].
    #[error("values nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// Deepest nesting of structs and lists accepted, so hostile input cannot
/// exhaust the stack.
pub const MAX_DEPTH: usize = 64;
