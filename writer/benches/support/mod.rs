//! Shared by the benches: CPU time of the current thread and of the process,
//! and their environment knobs.

use std::time::{Duration, Instant};

/// CPU time of this thread (Linux schedstat, nanoseconds), so the figure
/// is per core even on a machine busy with other work.
pub fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// Wall and CPU time of `work`.
pub fn timed(work: impl FnOnce()) -> (Duration, Option<Duration>) {
    let cpu = thread_cpu();
    let start = Instant::now();
    work();
    let wall = start.elapsed();
    (wall, thread_cpu().zip(cpu).map(|(end, start)| end - start))
}

/// CPU time of the whole process, every thread including those that have
/// ended (user + system, `/proc/self/stat`, in ticks of 10 ms).
pub fn process_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name: state is the 3rd, utime the 14th.
    let mut fields = text.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((user + system) * 10))
}

/// Process CPU time since `before` (a [`process_cpu`] reading).
pub fn process_cpu_since(before: Option<Duration>) -> Option<Duration> {
    process_cpu().zip(before).map(|(end, start)| end - start)
}

/// The number in environment variable `name`, else `default`.
pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Whether environment variable `name` is `random` (rows in a random member
/// order per row, as laredo-server's Go protobuf writes a map's entries).
pub fn random_order(name: &str) -> bool {
    std::env::var(name).is_ok_and(|order| order == "random")
}
