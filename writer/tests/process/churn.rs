//! Random changes driven into the simulator by the test, each remembered by
//! its journal sequence, so the table as of any sequence the writer reports
//! (the manifest's source mark) is known exactly.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fanout_sim::rows::{Generator, key_of_id};
use fanout_sim::{ScriptChange, Sim};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio_util::sync::CancellationToken;

use crate::support::service::sim_rows;

/// What one change did to the table.
enum Effect {
    Put {
        key: String,
        row: prost_types::Struct,
    },
    Remove {
        key: String,
    },
    Truncate,
}

/// The changes applied so far, by sequence.
pub struct Churn {
    sim: Sim,
    rows: Generator,
    rng: StdRng,
    truncates: bool,
    baseline: BTreeMap<String, prost_types::Struct>,
    baseline_sequence: i64,
    ids: Vec<i64>,
    next_id: i64,
    log: Vec<(i64, Effect)>,
}

impl Churn {
    /// Starts from the simulator's current table; `truncates` allows a rare
    /// TRUNCATE among the changes.
    pub fn new(sim: &Sim, seed: u64, truncates: bool) -> Self {
        let baseline = sim_rows(sim);
        let ids: Vec<i64> = baseline.keys().map(|k| k.parse().unwrap()).collect();
        Self {
            sim: sim.clone(),
            rows: Generator::new(seed),
            rng: StdRng::seed_from_u64(seed),
            truncates,
            baseline_sequence: sim.sequence(),
            next_id: ids.iter().max().copied().unwrap_or(0) + 1,
            baseline,
            ids,
            log: Vec::new(),
        }
    }

    /// Applies one random change: about 70% updates, 15% inserts, 15%
    /// deletes, and with `truncates` one TRUNCATE in 5,000.
    pub fn step(&mut self) {
        let roll: f64 = self.rng.random();
        let (change, effect) = if self.truncates && roll < 0.0002 {
            self.ids.clear();
            (ScriptChange::truncate(), Effect::Truncate)
        } else if self.ids.is_empty() || roll < 0.15 {
            let id = self.next_id;
            self.next_id += 1;
            self.ids.push(id);
            self.put(id, ScriptChange::insert)
        } else if roll < 0.30 {
            let index = self.rng.random_range(0..self.ids.len());
            let id = self.ids.swap_remove(index);
            let row = self.rows.row(id);
            let key = key_of_id(id);
            (ScriptChange::delete(row), Effect::Remove { key })
        } else {
            let id = self.ids[self.rng.random_range(0..self.ids.len())];
            self.put(id, ScriptChange::update)
        };
        self.sim.apply([change]).unwrap();
        self.log.push((self.sim.sequence(), effect));
    }

    fn put(
        &mut self,
        id: i64,
        change: fn(fanout_sim::Row) -> ScriptChange,
    ) -> (ScriptChange, Effect) {
        let row = self.rows.row(id);
        let effect = Effect::Put {
            key: key_of_id(id),
            row: row.to_struct().unwrap(),
        };
        (change(row), effect)
    }

    /// The table after every change up to and including `sequence`.
    pub fn table_at(&self, sequence: i64) -> BTreeMap<String, prost_types::Struct> {
        assert!(
            sequence >= self.baseline_sequence,
            "sequence {sequence} is before the churn began ({})",
            self.baseline_sequence
        );
        let mut table = self.baseline.clone();
        for (_, effect) in self.log.iter().take_while(|(s, _)| *s <= sequence) {
            match effect {
                Effect::Put { key, row } => {
                    table.insert(key.clone(), row.clone());
                }
                Effect::Remove { key } => {
                    table.remove(key);
                }
                Effect::Truncate => table.clear(),
            }
        }
        table
    }

    /// Changes applied so far.
    pub fn applied(&self) -> usize {
        self.log.len()
    }
}

/// A [`Churn`] applying `rate` changes per second on a task until stopped.
pub struct Running {
    pub churn: Arc<Mutex<Churn>>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Starts applying changes.
    pub fn start(churn: Churn, rate: f64) -> Self {
        let churn = Arc::new(Mutex::new(churn));
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let (churn, stop) = (Arc::clone(&churn), stop.clone());
            async move {
                let start = tokio::time::Instant::now();
                let mut done = 0u64;
                let mut tick = tokio::time::interval(Duration::from_millis(5));
                while !stop.is_cancelled() {
                    tick.tick().await;
                    let due = (start.elapsed().as_secs_f64() * rate) as u64;
                    let mut churn = churn.lock().unwrap();
                    while done < due {
                        churn.step();
                        done += 1;
                    }
                }
            }
        });
        Self { churn, stop, task }
    }

    /// Stops applying changes; the table no longer moves after this returns.
    pub async fn stop(self) -> Arc<Mutex<Churn>> {
        self.stop.cancel();
        self.task.await.unwrap();
        self.churn
    }
}
