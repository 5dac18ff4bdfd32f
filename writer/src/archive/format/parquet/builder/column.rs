//! A column of scalars or of lists of them; lists are converted value by
//! value (their elements parsed from PostgreSQL array text or a JSON list).

use std::sync::Arc;

use arrow_array::{ArrayRef, ListArray};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, Field};

use super::ScalarBuilder;
use crate::archive::format::parquet::convert::{
    AppendError, ConvertError, describe, expected_name,
};
use crate::archive::format::parquet::text;
use crate::archive::format::parquet::types::{ColumnType, element_field};
use laredo_wire::{ValueRef, list_items};

/// Builds one column: scalars, or lists of them.
#[derive(Debug)]
pub enum ColumnBuilder {
    /// One value per row.
    Scalar(ScalarBuilder),
    /// A list per row (PostgreSQL array text `{…}` or a JSON list).
    List {
        /// The elements of every row, one after another.
        values: ScalarBuilder,
        /// Where each row's elements start, and the end.
        offsets: Vec<i32>,
        /// Which rows are not null.
        nulls: NullBufferBuilder,
        /// The element field of the list type.
        element: Arc<Field>,
    },
}

impl ColumnBuilder {
    /// A builder for `rows` values of `ty`.
    pub fn new(ty: ColumnType, rows: usize) -> Self {
        match ty {
            ColumnType::Scalar(scalar) => Self::Scalar(ScalarBuilder::new(scalar, rows)),
            ColumnType::List(scalar) => {
                let element = Arc::new(element_field(scalar));
                let mut offsets = Vec::with_capacity(rows + 1);
                offsets.push(0);
                Self::List {
                    values: ScalarBuilder::new(scalar, rows * 4),
                    offsets,
                    nulls: NullBufferBuilder::new(rows),
                    element,
                }
            }
        }
    }

    /// Appends each of `values` (encoded `Value`s, `None` for a null),
    /// converted to the column's type; on failure, which of them failed.
    pub fn append_all<'v>(
        &mut self,
        values: impl IntoIterator<Item = Option<&'v [u8]>>,
        scratch: &mut Vec<u8>,
    ) -> Result<(), (usize, AppendError)> {
        if let Self::Scalar(builder) = self {
            return builder.append_all(values, scratch);
        }
        for (at, encoded) in values.into_iter().enumerate() {
            let value = match encoded.map(ValueRef::parse) {
                None => ValueRef::Null,
                Some(Ok(value)) => value,
                Some(Err(error)) => return Err((at, AppendError::Wire(error))),
            };
            self.append_list(&value, scratch)
                .map_err(|error| (at, AppendError::Convert(error)))?;
        }
        Ok(())
    }

    /// Appends a null.
    pub fn append_null(&mut self) {
        match self {
            Self::Scalar(builder) => builder.append_null(),
            Self::List { offsets, nulls, .. } => {
                offsets.push(offsets.last().copied().unwrap_or(0));
                nulls.append_null();
            }
        }
    }

    /// Appends a list value (or a null) to a list column.
    fn append_list(
        &mut self,
        value: &ValueRef<'_>,
        scratch: &mut Vec<u8>,
    ) -> Result<(), ConvertError> {
        let (values, offsets, nulls) = match self {
            Self::Scalar(builder) => return builder.append(value, scratch),
            Self::List {
                values,
                offsets,
                nulls,
                ..
            } => (values, offsets, nulls),
        };
        let invalid = |value: &ValueRef<'_>, values: &ScalarBuilder| ConvertError {
            expected: format!("{}[]", expected_name(values.scalar())),
            value: describe(value),
        };
        let mut count: usize = 0;
        match value {
            ValueRef::Null => {
                offsets.push(offsets.last().copied().unwrap_or(0));
                nulls.append_null();
                return Ok(());
            }
            ValueRef::String(literal) => {
                let elements = text::parse_array(literal).ok_or_else(|| invalid(value, values))?;
                for element in &elements {
                    match element {
                        None => values.append_null(),
                        Some(text) => values
                            .append(&ValueRef::String(text), scratch)
                            .map_err(|_| invalid(value, values))?,
                    }
                    count += 1;
                }
            }
            ValueRef::List(items) => {
                for item in list_items(items) {
                    let item = item
                        .and_then(ValueRef::parse)
                        .map_err(|_| invalid(value, values))?;
                    values
                        .append(&item, scratch)
                        .map_err(|_| invalid(value, values))?;
                    count += 1;
                }
            }
            _ => return Err(invalid(value, values)),
        }
        let end = i64::from(offsets.last().copied().unwrap_or(0)) + count as i64;
        let end = i32::try_from(end).map_err(|_| invalid(value, values))?;
        offsets.push(end);
        nulls.append_non_null();
        Ok(())
    }

    /// The values so far as an array; the builder starts again empty.
    pub fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        match self {
            Self::Scalar(builder) => builder.finish(),
            Self::List {
                values,
                offsets,
                nulls,
                element,
            } => {
                let ends = std::mem::replace(offsets, vec![0]);
                let values = values.finish()?;
                let offsets = OffsetBuffer::new(ScalarBuffer::from(ends));
                let list =
                    ListArray::try_new(Arc::clone(element), offsets, values, nulls.finish())?;
                Ok(Arc::new(list))
            }
        }
    }
}
