//! PostgreSQL column types, as the handshake names them: what a column's
//! values are converted to (a Parquet column's type, `format::parquet`) and
//! normalized to (`table::normalize`).

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

impl Scalar {
    /// Whether values of this type are numbers (the writer normalizes their
    /// PostgreSQL text to JSON numbers).
    pub fn is_number(self) -> bool {
        matches!(
            self,
            Scalar::Int16
                | Scalar::Int32
                | Scalar::Int64
                | Scalar::Float32
                | Scalar::Float64
                | Scalar::Decimal { .. }
                | Scalar::NumericText
        )
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_names_map_to_their_types() {
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
}
