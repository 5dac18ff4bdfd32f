//! The bytes of laredo's replication protocol that the snapshot writer and
//! the fan-out simulator (`fanout-sim`) both read and write, and nothing of
//! either: the 5-byte stream envelope ([`frame`]); rows as encoded
//! `google.protobuf.Struct`s, read zero-copy ([`StructEntries`],
//! [`ValueRef`]) and written ([`write_struct_entry`], [`encode_scalar`]);
//! the one protobuf varint reader ([`read_varint`]); Go's `%v` of row values
//! ([`push_go_value`]), which laredo's row keys and filters are made of;
//! PostgreSQL LSNs as laredo formats and orders positions ([`lsn`]); and the
//! journal's action strings ([`Action`]).
//!
//! The messages themselves are `laredo-proto`'s (prost); this crate is the
//! hand-written part, kept apart so the writer's hot paths and the
//! simulator's fault injection share one codec.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod action;
mod error;
mod fields;
pub mod frame;
mod go;
mod json;
pub mod lsn;
mod structs;
mod varint;

pub use action::Action;
pub use error::{MAX_DEPTH, WireError};
pub use fields::{Field, Fields, is_utf8, utf8, write_bytes_field};
pub use go::{is_integer_below, push_go_float, push_go_value};
pub use json::json_value;
pub use structs::{
    DebugStruct, RawStructEntries, StructEntries, ValueRef, check_value, encode_scalar,
    encode_struct, find_field, list_items, short_string, write_scalar, write_struct_entry,
};
pub use varint::{read_varint, varint_len, write_varint};
