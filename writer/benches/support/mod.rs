//! Shared by the benches: CPU time of the current thread.

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
