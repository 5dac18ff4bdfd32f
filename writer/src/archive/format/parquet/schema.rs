//! The Parquet schema of a table's snapshots and diffs: its columns in
//! ordinal order, typed by [`ColumnType`], the key columns, and the diff's
//! own columns.
//!
//! A key column of a timestamp, date, `uuid`, `bytea` or array type is kept
//! as text: a key must read back as the very text it was keyed by, and the
//! text of such a value has many forms.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::types::{ColumnType, Scalar, scalar_field};
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

/// Whether every value a key column of `ty` holds reads back as the very
/// value it was keyed by. Numbers and booleans are normalized by the writer
/// before they are keyed, and text is text; a timestamp, date, UUID or
/// `bytea` has several text forms of one stored value, and a list is text.
fn reads_back_exactly(ty: ColumnType) -> bool {
    match ty {
        ColumnType::Scalar(scalar) => {
            scalar.is_number() || matches!(scalar, Scalar::Bool | Scalar::Text)
        }
        ColumnType::List(_) => false,
    }
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
