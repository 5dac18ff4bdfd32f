//! Running blocking or CPU-heavy work off the async runtime's worker threads.

/// Runs `work` on tokio's blocking pool when a tokio runtime is current,
/// else inline (a caller on another executor). `Err` says how `work` panicked.
pub async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    match tokio::runtime::Handle::try_current() {
        Ok(_) => tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| e.to_string()),
        Err(_) => Ok(work()),
    }
}
