//! PostgreSQL column types (as the handshake names them) mapped to Arrow
//! types, and the Parquet schema of a table's snapshots and diffs.
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
//!
//! A key column of a timestamp, date, `uuid`, `bytea` or array type is kept
//! as text: a key must read back as the very text it was keyed by, and the
//! text of such a value has many forms.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::archive::manifest::ManifestColumn;

/// Field metadata key holding the column's PostgreSQL type as announced.
pub const TYPE_METADATA: &str = "laredo.type";
/// The diff's operation column: `INSERT`, `UPDATE`, `DELETE`, `TRUNCATE`.
pub const OP_COLUMN: &str = "_op";
/// The diff's source position column: the diff's `to_position`.
pub const POSITION_COLUMN: &str = "_position";
/// The diff's position as a number in LSN order (`hi << 32 | lo`), to order
/// the changes of several diffs.
pub const LSN_COLUMN: &str = "_lsn";

/// The time zone of `timestamptz` columns.
pub const UTC: &str = "UTC";

/// The scalar kinds values are converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    /// `smallint`.
    Int16,
    /// `integer`.
    Int32,
    /// `bigint`.
    Int64,
    /// `real`.
    Float32,
    /// `double precision`.
    Float64,
    /// `numeric(p, s)`.
    Decimal {
        /// Digits in all.
        precision: u8,
        /// Digits after the point.
        scale: i8,
    },
    /// `numeric` of unknown precision: text, read back as numbers.
    NumericText,
    /// `boolean`.
    Bool,
    /// Text of any kind (also `json`, and untyped columns).
    Text,
    /// `timestamp` (no time zone): microseconds of wall time.
    Timestamp,
    /// `timestamptz`: microseconds since the epoch, UTC.
    TimestampTz,
    /// `date`: days since the epoch.
    Date,
    /// `uuid`: 16 bytes.
    Uuid,
    /// `bytea`.
    Bytes,
}

/// A column's type: a scalar, or a one-dimensional array of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// One value.
    Scalar(Scalar),
    /// An array of values (PostgreSQL `T[]`).
    List(Scalar),
}

impl ColumnType {
    /// The type of a column announced as `data_type` (PostgreSQL's names,
    /// as `format_type` or the catalog spells them); unknown types are text.
    pub fn of_postgres(data_type: &str) -> Self {
        let lower = data_type.trim().to_ascii_lowercase();
        if let Some(element) = lower.strip_suffix("[]") {
            return match scalar_of(element) {
                Some(scalar) => ColumnType::List(scalar),
                None => ColumnType::Scalar(Scalar::Text),
            };
        }
        // The catalog's name of an array type is its element's, prefixed `_`.
        if let Some(element) = lower.strip_prefix('_')
            && let Some(scalar) = scalar_of(element)
        {
            return ColumnType::List(scalar);
        }
        ColumnType::Scalar(scalar_of(&lower).unwrap_or(Scalar::Text))
    }

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

/// The scalar of a PostgreSQL type name (lower case, no `[]`).
fn scalar_of(name: &str) -> Option<Scalar> {
    let (base, modifiers) = match name.split_once('(') {
        Some((base, rest)) => {
            // `timestamp(3) with time zone`: the modifier sits inside.
            let (inside, after) = rest.split_once(')').unwrap_or((rest, ""));
            let base = format!("{} {}", base.trim(), after.trim());
            (base.trim().to_owned(), Some(inside.to_owned()))
        }
        None => (name.trim().to_owned(), None),
    };
    Some(match base.as_str() {
        "smallint" | "int2" | "smallserial" | "serial2" => Scalar::Int16,
        "integer" | "int" | "int4" | "serial" | "serial4" => Scalar::Int32,
        "bigint" | "int8" | "bigserial" | "serial8" | "oid" => Scalar::Int64,
        "real" | "float4" => Scalar::Float32,
        "float" => match modifiers.as_deref().map(str::trim).map(str::parse::<u8>) {
            Some(Ok(bits)) if bits <= 24 => Scalar::Float32,
            _ => Scalar::Float64,
        },
        "double precision" | "float8" => Scalar::Float64,
        "numeric" | "decimal" => decimal(modifiers.as_deref()),
        "boolean" | "bool" => Scalar::Bool,
        "text" | "varchar" | "character varying" | "char" | "character" | "bpchar" | "name"
        | "citext" | "json" | "jsonb" => Scalar::Text,
        "timestamp" | "timestamp without time zone" => Scalar::Timestamp,
        "timestamptz" | "timestamp with time zone" => Scalar::TimestampTz,
        "date" => Scalar::Date,
        "uuid" => Scalar::Uuid,
        "bytea" => Scalar::Bytes,
        _ => return None,
    })
}

/// `numeric(p, s)` / `numeric(p)`: a decimal when it fits Arrow's 128-bit
/// one, else text.
fn decimal(modifiers: Option<&str>) -> Scalar {
    let Some(modifiers) = modifiers else {
        return Scalar::NumericText;
    };
    let mut parts = modifiers.split(',').map(|p| p.trim().parse::<i64>());
    let precision = parts.next().and_then(Result::ok);
    let scale = parts.next().map_or(Some(0), Result::ok);
    match (precision, scale, parts.next()) {
        (Some(p @ 1..=38), Some(s), None) if (0..=p).contains(&s) => Scalar::Decimal {
            precision: p as u8,
            scale: s as i8,
        },
        _ => Scalar::NumericText,
    }
}

/// Whether every value a key column of `ty` holds reads back as the very
/// value it was keyed by. Numbers and booleans are normalized by the writer
/// before they are keyed, and text is text; a timestamp, date, UUID or
/// `bytea` has several text forms of one stored value, and a list is text.
fn reads_back_exactly(ty: ColumnType) -> bool {
    matches!(
        ty,
        ColumnType::Scalar(
            Scalar::Int16
                | Scalar::Int32
                | Scalar::Int64
                | Scalar::Float32
                | Scalar::Float64
                | Scalar::Decimal { .. }
                | Scalar::NumericText
                | Scalar::Bool
                | Scalar::Text
        )
    )
}

/// One column of a Parquet schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaColumn {
    /// Its name.
    pub name: String,
    /// The PostgreSQL type announced (`""` when none was).
    pub postgres: String,
    /// What its values are stored as.
    pub ty: ColumnType,
    /// Whether it is one of the key columns.
    pub key: bool,
}

/// The columns of a table's Parquet objects, in the source's order.
#[derive(Debug, Clone)]
pub struct ParquetSchema {
    columns: Vec<SchemaColumn>,
    by_name: HashMap<Box<[u8]>, usize>,
    /// By [`name_hash`]: 0 for no column, [`SHARED`] for several (look in
    /// `by_name`), else the column's index plus one. Every value of every
    /// row is looked up: this is a few instructions, hashing is not.
    by_hash: Box<[u16; 256]>,
    key: Vec<usize>,
}

/// A [`ParquetSchema::by_hash`] entry shared by several names.
const SHARED: u16 = u16::MAX;

/// A cheap hash of a column name: its length and its first and last bytes.
fn name_hash(name: &[u8]) -> usize {
    let first = name.first().copied().unwrap_or(0) as usize;
    let last = name.last().copied().unwrap_or(0) as usize;
    (name.len().wrapping_mul(31) ^ first.wrapping_mul(7) ^ last.wrapping_mul(131)) & 0xff
}

/// Why a schema cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// Two columns of one name.
    #[error("column {0:?} is announced twice")]
    Duplicate(String),
    /// A column's name is one of the diff's own columns.
    #[error("column {0:?} has the name of a column Parquet diffs add (_op, _position, _lsn)")]
    Reserved(String),
    /// A key column that is not among the columns.
    #[error("key column {0:?} is not among the table's columns")]
    MissingKey(String),
    /// No columns at all.
    #[error("the table has no columns")]
    Empty,
}

impl ParquetSchema {
    /// The schema of `columns` (in `OrdinalPosition` order, then as
    /// listed), keyed by `key_fields`. A key column of a type whose text has
    /// several forms is stored as text (module docs).
    pub fn new(columns: &[ManifestColumn], key_fields: &[String]) -> Result<Self, SchemaError> {
        let mut ordered: Vec<&ManifestColumn> = columns.iter().collect();
        ordered.sort_by_key(|c| c.ordinal_position);
        let columns = ordered
            .into_iter()
            .map(|c| {
                let key = key_fields.contains(&c.name);
                let mut ty = ColumnType::of_postgres(&c.data_type);
                if key && !reads_back_exactly(ty) {
                    ty = ColumnType::Scalar(Scalar::Text);
                }
                SchemaColumn {
                    name: c.name.clone(),
                    postgres: c.data_type.clone(),
                    ty,
                    key,
                }
            })
            .collect();
        Self::from_columns(columns, key_fields)
    }

    /// A schema of exactly these columns.
    fn from_columns(
        columns: Vec<SchemaColumn>,
        key_fields: &[String],
    ) -> Result<Self, SchemaError> {
        if columns.is_empty() {
            return Err(SchemaError::Empty);
        }
        let mut by_name = HashMap::with_capacity(columns.len());
        for (index, column) in columns.iter().enumerate() {
            if [OP_COLUMN, POSITION_COLUMN, LSN_COLUMN].contains(&column.name.as_str()) {
                return Err(SchemaError::Reserved(column.name.clone()));
            }
            if by_name
                .insert(Box::from(column.name.as_bytes()), index)
                .is_some()
            {
                return Err(SchemaError::Duplicate(column.name.clone()));
            }
        }
        let mut by_hash = Box::new([0u16; 256]);
        for (index, column) in columns.iter().enumerate() {
            let entry = &mut by_hash[name_hash(column.name.as_bytes())];
            *entry = match (*entry, u16::try_from(index + 1)) {
                (0, Ok(slot)) if slot != SHARED => slot,
                _ => SHARED,
            };
        }
        let key = key_fields
            .iter()
            .map(|name| {
                by_name
                    .get(name.as_bytes())
                    .copied()
                    .ok_or_else(|| SchemaError::MissingKey(name.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            columns,
            by_name,
            by_hash,
            key,
        })
    }

    /// The columns, in order.
    pub fn columns(&self) -> &[SchemaColumn] {
        &self.columns
    }

    /// The index of the column named `name`.
    #[inline]
    pub fn index_of(&self, name: &[u8]) -> Option<usize> {
        match self.by_hash[name_hash(name)] {
            0 => None,
            SHARED => self.by_name.get(name).copied(),
            slot => {
                let index = usize::from(slot - 1);
                (self.columns[index].name.as_bytes() == name).then_some(index)
            }
        }
    }

    /// Indices of the key columns, in key order.
    pub fn key_columns(&self) -> &[usize] {
        &self.key
    }

    /// The Arrow fields of the table's columns (all nullable: a diff's
    /// delete holds only the key, and sources omit values).
    fn fields(&self) -> Vec<Field> {
        self.columns
            .iter()
            .map(|c| {
                let field = match c.ty {
                    ColumnType::Scalar(scalar) => scalar_field(&c.name, scalar),
                    ColumnType::List(_) => Field::new(&c.name, c.ty.arrow(), true),
                };
                let mut metadata = field.metadata().clone();
                metadata.insert(TYPE_METADATA.to_owned(), c.postgres.clone());
                field.with_metadata(metadata)
            })
            .collect()
    }

    /// The Arrow schema of a snapshot: the table's columns.
    pub fn snapshot_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(self.fields()))
    }

    /// The Arrow schema of a diff: `_op`, `_position`, `_lsn`, then the
    /// table's columns.
    pub fn diff_schema(&self) -> SchemaRef {
        let mut fields = vec![
            Field::new(OP_COLUMN, DataType::Utf8, false),
            Field::new(POSITION_COLUMN, DataType::Utf8, false),
            Field::new(LSN_COLUMN, DataType::Int64, false),
        ];
        fields.extend(self.fields());
        Arc::new(Schema::new(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_names_map_to_arrow_types() {
        use ColumnType::{List, Scalar as S};
        for (name, expected) in [
            ("bigint", S(Scalar::Int64)),
            ("INT4", S(Scalar::Int32)),
            ("smallserial", S(Scalar::Int16)),
            ("double precision", S(Scalar::Float64)),
            ("float(10)", S(Scalar::Float32)),
            ("float(40)", S(Scalar::Float64)),
            (
                "numeric(12,2)",
                S(Scalar::Decimal {
                    precision: 12,
                    scale: 2,
                }),
            ),
            (
                "numeric(7)",
                S(Scalar::Decimal {
                    precision: 7,
                    scale: 0,
                }),
            ),
            ("numeric", S(Scalar::NumericText)),
            ("numeric(60,2)", S(Scalar::NumericText)),
            ("numeric(5,-2)", S(Scalar::NumericText)),
            ("boolean", S(Scalar::Bool)),
            ("character varying(255)", S(Scalar::Text)),
            ("jsonb", S(Scalar::Text)),
            ("timestamp with time zone", S(Scalar::TimestampTz)),
            ("timestamp(3) with time zone", S(Scalar::TimestampTz)),
            ("timestamp(6) without time zone", S(Scalar::Timestamp)),
            ("timestamptz", S(Scalar::TimestampTz)),
            ("date", S(Scalar::Date)),
            ("uuid", S(Scalar::Uuid)),
            ("bytea", S(Scalar::Bytes)),
            ("integer[]", List(Scalar::Int32)),
            ("_text", List(Scalar::Text)),
            ("text[][]", S(Scalar::Text)),
            ("interval", S(Scalar::Text)),
            ("", S(Scalar::Text)),
        ] {
            assert_eq!(ColumnType::of_postgres(name), expected, "{name}");
        }
    }

    fn column(name: &str, data_type: &str, ordinal: i64) -> ManifestColumn {
        ManifestColumn {
            name: name.into(),
            data_type: data_type.into(),
            ordinal_position: ordinal,
            ..ManifestColumn::default()
        }
    }

    #[test]
    fn schemas_order_columns_and_keep_timestamp_keys_as_text() {
        let columns = [
            column("at", "timestamptz", 2),
            column("id", "bigint", 1),
            column("n", "integer", 3),
            column("u", "uuid", 4),
            column("d", "numeric(5,1)", 5),
        ];
        let key = ["id", "at", "u", "d"].map(String::from);
        let schema = ParquetSchema::new(&columns, &key).unwrap();
        let names: Vec<_> = schema.columns().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "at", "n", "u", "d"]);
        assert_eq!(schema.key_columns(), [0, 1, 3, 4]);
        let types: Vec<_> = schema.columns().iter().map(|c| c.ty).collect();
        assert_eq!(
            types,
            [
                ColumnType::Scalar(Scalar::Int64),
                ColumnType::Scalar(Scalar::Text),
                ColumnType::Scalar(Scalar::Int32),
                ColumnType::Scalar(Scalar::Text),
                ColumnType::Scalar(Scalar::Decimal {
                    precision: 5,
                    scale: 1
                }),
            ]
        );
        let diff = schema.diff_schema();
        assert_eq!(diff.field(0).name(), OP_COLUMN);
        assert_eq!(diff.field(3).name(), "id");
        assert_eq!(
            diff.field(3)
                .metadata()
                .get(TYPE_METADATA)
                .map(String::as_str),
            Some("bigint")
        );

        let missing = ParquetSchema::new(&columns, &["nope".into()]).unwrap_err();
        assert_eq!(missing, SchemaError::MissingKey("nope".into()));
        let reserved = ParquetSchema::new(&[column("_op", "text", 1)], &[]).unwrap_err();
        assert_eq!(reserved, SchemaError::Reserved("_op".into()));
    }
}
