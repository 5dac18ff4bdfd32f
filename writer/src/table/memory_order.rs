//! A table's rows in the order they lie in memory, for reading them all (a
//! snapshot): the hardware then prefetches the next rows, where in hash order
//! each row is a cache miss (~40% of the protobuf snapshot encoder's time).
//!
//! Sorting a million row addresses before any encoding starts cost a
//! snapshot ~50 ms of waiting. Instead the rows are split into many address
//! ranges of about equal size at sampled addresses (one pass, on every core),
//! and each range is sorted by whoever encodes it: the sort becomes a small,
//! cache-resident step of each parallel encoding task.

use super::row::Row;

/// Addresses sampled to split a table's rows into ranges of equal size.
const SAMPLE: usize = 1024;

/// Rows below this are split on one thread.
const PARALLEL_SPLIT_ROWS: usize = 1 << 16;

/// A table's rows split into address ranges, in address order: every row
/// of range `i` lies below every row of range `i + 1`.
#[derive(Debug)]
pub struct AddressRanges<'a> {
    /// `parts[t][i]`: the rows of range `i` that splitting thread `t` found.
    parts: Vec<Vec<Vec<&'a [u8]>>>,
    ranges: usize,
}

impl<'a> AddressRanges<'a> {
    /// Splits `rows` (as [`Row::raw`]) into about `ranges` ranges.
    pub(super) fn split(rows: Vec<&'a [u8]>, ranges: usize, threads: usize) -> Self {
        let addr = |raw: &&[u8]| raw.as_ptr().addr();
        let ranges = ranges.clamp(1, rows.len().div_ceil(SAMPLE / 8).max(1));
        let pivots: Vec<usize> = match ranges {
            1 => Vec::new(),
            _ => {
                let step = (rows.len() / SAMPLE).max(1);
                let mut sample: Vec<usize> = rows.iter().step_by(step).map(addr).collect();
                sample.sort_unstable();
                (1..ranges)
                    .map(|i| sample[i * sample.len() / ranges])
                    .collect()
            }
        };
        let split_part = |part: &[&'a [u8]]| {
            let mut split: Vec<Vec<&'a [u8]>> = (0..ranges)
                .map(|_| Vec::with_capacity(part.len() / ranges + part.len() / ranges / 4 + 4))
                .collect();
            for row in part {
                let address = addr(row);
                split[pivots.partition_point(|pivot| *pivot <= address)].push(row);
            }
            split
        };
        let threads = match rows.len() < PARALLEL_SPLIT_ROWS {
            true => 1,
            false => threads.max(1),
        };
        let parts = match threads {
            1 => vec![split_part(&rows)],
            _ => std::thread::scope(|scope| {
                let splitting: Vec<_> = rows
                    .chunks(rows.len().div_ceil(threads))
                    .map(|part| scope.spawn(|| split_part(part)))
                    .collect();
                splitting
                    .into_iter()
                    .map(|split| {
                        split
                            .join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                    })
                    .collect()
            }),
        };
        Self { parts, ranges }
    }

    /// How many ranges there are.
    pub fn len(&self) -> usize {
        self.ranges
    }

    /// Whether there are none (never: an empty table is one empty range).
    pub fn is_empty(&self) -> bool {
        self.ranges == 0
    }

    /// The encoded bytes of range `index`'s rows, sorted by address (rows
    /// are separate allocations, so the encoded bytes keep the order); empty
    /// past the last range.
    pub fn sorted(&self, index: usize) -> Vec<&'a [u8]> {
        let mut rows = Vec::new();
        self.sorted_into(index, &mut rows);
        rows
    }

    /// [`AddressRanges::sorted`] into `rows` (cleared first), so a worker
    /// reuses one buffer: a fresh one per range cost page faults.
    pub fn sorted_into(&self, index: usize, rows: &mut Vec<&'a [u8]>) {
        rows.clear();
        for split in &self.parts {
            rows.extend(split.get(index).into_iter().flatten());
        }
        rows.sort_unstable_by_key(|raw| raw.as_ptr().addr());
        for row in rows.iter_mut() {
            *row = Row::encoded_in(row);
        }
    }
}
