//! Running blocking or CPU-heavy work off the async runtime's worker threads,
//! and how many threads CPU-heavy work splits over.

/// Threads for work split over the cores (encoding and loading snapshots,
/// sorting a table, reading a large file): one per core, at most eight
/// (beyond that the disk or memory is the limit).
pub fn worker_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 8)
}

/// Runs `work` on tokio's blocking pool when a tokio runtime is current,
/// else inline (a caller on another executor), in the caller's span (so its
/// log lines name the table). `Err` says how `work` panicked.
pub async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    match tokio::runtime::Handle::try_current() {
        Ok(_) => {
            let span = tracing::Span::current();
            tokio::task::spawn_blocking(move || span.in_scope(work))
                .await
                .map_err(|e| e.to_string())
        }
        Err(_) => Ok(work()),
    }
}
