//! PostgreSQL column types (as the handshake names them) mapped to Arrow
//! types (the Parquet schema of a table is built from them in `schema`).
//!
//! | PostgreSQL | Arrow (Parquet) |
//! |---|---|
//! | `smallint`, `integer`, `bigint` (and `int2/4/8`, `serial`s), `oid` | `Int16`, `Int32`, `Int64` |
//! | `real`, `double precision` (`float4/8`, `float`) | `Float32`, `Float64` |
//! | `numeric(p,s)` / `decimal(p,s)`, `p ≤ 38`, `0 ≤ s ≤ p` | `Decimal128(p, s)` |
//! | `numeric` without a precision (or one beyond 38) | `Utf8`, read back as numbers |
//! | `boolean` | `Boolean` |
//! | `text`, `varchar(n)`, `char(n)`, `name`, `citext` | `Utf8` |
//! | `timestamp`, `timestamptz` | `Timestamp(µs)`, `Timestamp(µs, "UTC")` |
//! | `date` | `Date32` |
//! | `uuid` | `FixedSizeBinary(16)`, Parquet logical type `UUID` |
//! | `bytea` | `Binary` |
//! | `json`, `jsonb` | `Utf8` |
//! | `T[]` / `_t` of a type above | `List<T>` |
//! | anything else, or no type | `Utf8` |

use std::sync::Arc;

use arrow_schema::{DataType, Field, TimeUnit};

pub use crate::pg_type::{ColumnType, Scalar};

/// The time zone of `timestamptz` columns.
pub const UTC: &str = "UTC";

impl ColumnType {
    /// The Arrow type values of this type are stored as.
    pub fn arrow(self) -> DataType {
        match self {
            ColumnType::Scalar(scalar) => scalar.arrow(),
            ColumnType::List(scalar) => DataType::List(Arc::new(element_field(scalar))),
        }
    }

    /// The scalar of a value or of an array's elements.
    pub fn scalar(self) -> Scalar {
        match self {
            ColumnType::Scalar(scalar) | ColumnType::List(scalar) => scalar,
        }
    }
}

impl Scalar {
    /// The Arrow type.
    pub fn arrow(self) -> DataType {
        match self {
            Scalar::Int16 => DataType::Int16,
            Scalar::Int32 => DataType::Int32,
            Scalar::Int64 => DataType::Int64,
            Scalar::Float32 => DataType::Float32,
            Scalar::Float64 => DataType::Float64,
            Scalar::Decimal { precision, scale } => DataType::Decimal128(precision, scale),
            Scalar::NumericText | Scalar::Text => DataType::Utf8,
            Scalar::Bool => DataType::Boolean,
            Scalar::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            Scalar::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
            Scalar::Date => DataType::Date32,
            Scalar::Uuid => DataType::FixedSizeBinary(16),
            Scalar::Bytes => DataType::Binary,
        }
    }
}

impl Scalar {
    /// The scalar stored as Arrow's `data_type` (the inverse of
    /// [`Scalar::arrow`]): Arrow text is `numeric` text when the column was
    /// announced so (`numeric_text`). `None` for a type the writer does not
    /// write.
    pub fn of_arrow(data_type: &DataType, numeric_text: bool) -> Option<Scalar> {
        Some(match data_type {
            DataType::Int16 => Scalar::Int16,
            DataType::Int32 => Scalar::Int32,
            DataType::Int64 => Scalar::Int64,
            DataType::Float32 => Scalar::Float32,
            DataType::Float64 => Scalar::Float64,
            DataType::Decimal128(precision, scale) => Scalar::Decimal {
                precision: *precision,
                scale: *scale,
            },
            DataType::Utf8 if numeric_text => Scalar::NumericText,
            DataType::Utf8 => Scalar::Text,
            DataType::Boolean => Scalar::Bool,
            DataType::Timestamp(TimeUnit::Microsecond, None) => Scalar::Timestamp,
            DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => Scalar::TimestampTz,
            DataType::Date32 => Scalar::Date,
            DataType::FixedSizeBinary(16) => Scalar::Uuid,
            DataType::Binary => Scalar::Bytes,
            _ => return None,
        })
    }
}

/// A field holding values of `scalar` named `name` (nullable); a `uuid`
/// one carries Arrow's UUID extension type, which Parquet writes as its
/// `UUID` logical type.
pub fn scalar_field(name: &str, scalar: Scalar) -> Field {
    let field = Field::new(name, scalar.arrow(), true);
    match scalar {
        Scalar::Uuid => field.with_extension_type(arrow_schema::extension::Uuid),
        _ => field,
    }
}

/// The element field of a list of `scalar`.
pub fn element_field(scalar: Scalar) -> Field {
    scalar_field("element", scalar)
}
