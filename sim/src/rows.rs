//! The simulated table: eight typed columns keyed by `id`, rows of about
//! 200 encoded bytes with their columns in random order (as a Go server's
//! protobuf writes them), generated from a seed; and the text form a
//! PostgreSQL-backed laredo-server sends for live changes.

use bytes::Bytes;
use laredo_proto::replication::v1::ColumnDefinition;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use laredo_wire::{StructEntries, ValueRef, encode_scalar, push_go_float, write_struct_entry};

use crate::Row;

/// Columns and their PostgreSQL types, in ordinal order.
pub const COLUMNS: [(&str, &str); 8] = [
    ("id", "bigint"),
    ("name", "text"),
    ("email", "text"),
    ("region", "text"),
    ("balance", "numeric(12,2)"),
    ("visits", "integer"),
    ("active", "boolean"),
    ("updated_at", "timestamp with time zone"),
];

/// Regions, fixed per id (so a filter on `region` never sees a row move
/// in or out of it).
pub const REGIONS: [&str; 4] = ["eu-west", "us-east", "ap-south", "sa-east"];

/// The handshake's column definitions.
pub fn columns() -> Vec<ColumnDefinition> {
    COLUMNS
        .iter()
        .zip(1..)
        .map(|(&(name, data_type), ordinal)| ColumnDefinition {
            ordinal_position: ordinal,
            column_name: name.to_owned(),
            data_type: data_type.to_owned(),
            not_null: name == "id",
            is_primary_key: name == "id",
            primary_key_ordinal: i32::from(name == "id"),
        })
        .collect()
}

/// The region of an id.
pub fn region_of(id: i64) -> &'static str {
    REGIONS[id.rem_euclid(REGIONS.len() as i64) as usize]
}

/// The row key (Go `%v`) of an id.
pub fn key_of_id(id: i64) -> String {
    let mut key = String::new();
    push_go_float(&mut key, id as f64);
    key
}

/// A row holding only `id`, enough to name a row to delete.
pub fn id_row(id: i64) -> Row {
    let mut out = Vec::new();
    write_struct_entry(&mut out, "id", &encode_scalar(&ValueRef::Number(id as f64)));
    Row::from_encoded(Bytes::from(out))
}

/// One generated change.
#[derive(Debug, Clone, PartialEq)]
pub enum Generated {
    /// A new row.
    Insert(Row),
    /// New values for an existing id.
    Update(Row),
    /// Remove this id.
    Delete(i64),
}

/// Seeded rows and changes. Ids it created are tracked so updates and
/// deletes pick existing rows; ids removed behind its back are skipped.
#[derive(Debug)]
pub struct Generator {
    rng: StdRng,
    next_id: i64,
    ids: Vec<i64>,
    tick: i64,
}

impl Generator {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            next_id: 1,
            ids: Vec::new(),
            tick: 0,
        }
    }

    /// A row for `id` with fresh random values.
    pub fn row(&mut self, id: i64) -> Row {
        self.tick += 1;
        let suffix: String = (0..20)
            .map(|_| char::from(self.rng.sample(rand::distr::Alphanumeric)))
            .collect();
        let name = format!("customer {id} {suffix}");
        let email = format!("customer.{id}@example.com");
        let balance = f64::from(self.rng.random_range(0..10_000_000)) / 100.0;
        let visits = f64::from(self.rng.random_range(0..100_000));
        let active = self.rng.random_bool(0.8);
        // 2026-01-01T00:00:00Z plus one second per generated row.
        let updated_at = jiff::Timestamp::from_second(1_767_225_600 + self.tick)
            .map(|t| t.to_string())
            .unwrap_or_default();
        let mut out = Vec::with_capacity(224);
        let values = [
            ValueRef::Number(id as f64),
            ValueRef::String(&name),
            ValueRef::String(&email),
            ValueRef::String(region_of(id)),
            ValueRef::Number(balance),
            ValueRef::Number(visits),
            ValueRef::Bool(active),
            ValueRef::String(&updated_at),
        ];
        // In an order of the row's own, as laredo-server's Go protobuf writes
        // a map's entries.
        let mut order: [usize; COLUMNS.len()] = std::array::from_fn(|i| i);
        order.shuffle(&mut self.rng);
        for i in order {
            write_struct_entry(&mut out, COLUMNS[i].0, &encode_scalar(&values[i]));
        }
        Row::from_encoded(Bytes::from(out))
    }

    /// A row with a new id.
    pub fn insert(&mut self) -> Row {
        let id = self.next_id;
        self.next_id += 1;
        self.ids.push(id);
        self.row(id)
    }

    /// The next random change: about 70% updates, 15% inserts, 15% deletes.
    /// `exists` tells whether the table still holds an id.
    pub fn next_change(&mut self, exists: impl Fn(i64) -> bool) -> Generated {
        let roll = self.rng.random_range(0..100);
        if roll < 15 {
            return Generated::Insert(self.insert());
        }
        let Some(index) = self.pick(exists) else {
            return Generated::Insert(self.insert());
        };
        if roll < 30 {
            Generated::Delete(self.ids.swap_remove(index))
        } else {
            let id = self.ids[index];
            Generated::Update(self.row(id))
        }
    }

    fn pick(&mut self, exists: impl Fn(i64) -> bool) -> Option<usize> {
        while !self.ids.is_empty() {
            let index = self.rng.random_range(0..self.ids.len());
            if exists(self.ids[index]) {
                return Some(index);
            }
            self.ids.swap_remove(index);
        }
        None
    }
}

/// The row as pgoutput text: numbers and booleans become strings (`"42"`,
/// `"t"`), as laredo-server sends live changes from PostgreSQL.
pub fn as_text(row: &Row) -> Row {
    let mut out = Vec::with_capacity(row.as_bytes().len() + 32);
    for entry in StructEntries::new(row.as_bytes()) {
        let Ok((name, encoded)) = entry else {
            return row.clone();
        };
        let text = match ValueRef::parse(encoded) {
            Ok(ValueRef::Number(n)) => Some(n.to_string()),
            Ok(ValueRef::Bool(b)) => Some(if b { "t" } else { "f" }.to_owned()),
            _ => None,
        };
        match text {
            Some(text) => {
                write_struct_entry(&mut out, name, &encode_scalar(&ValueRef::String(&text)))
            }
            None => write_struct_entry(&mut out, name, encoded),
        }
    }
    Row::from_encoded(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_about_200_bytes_and_deterministic() {
        let mut a = Generator::new(7);
        let mut b = Generator::new(7);
        let rows: Vec<Row> = (0..100).map(|_| a.insert()).collect();
        assert_eq!(rows, (0..100).map(|_| b.insert()).collect::<Vec<_>>());
        let mean = rows.iter().map(|r| r.as_bytes().len()).sum::<usize>() / rows.len();
        assert!((180..=240).contains(&mean), "mean row size {mean}");
        assert_eq!(rows[0].to_struct().unwrap().fields.len(), 8);
    }
}
