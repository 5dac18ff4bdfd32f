//! Running blocking or CPU-heavy work without stalling the async runtime's
//! other tasks, and how many threads CPU-heavy work splits over.

/// Threads for work split over the cores (encoding and loading snapshots,
/// sorting a table, reading a large file): one per core, at most eight
/// (beyond that the disk or memory is the limit).
pub fn worker_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 8)
}

/// Runs blocking or CPU-heavy `work` (file I/O, encoding, decoding) without
/// stalling the runtime's other tasks: on a multi-threaded Tokio runtime
/// through `block_in_place` (this worker hands its queued tasks to another
/// thread and runs `work`), elsewhere inline (`block_in_place` panics on a
/// current-thread runtime, as tests use; a caller on another executor).
/// Either way it runs on the calling thread, in the caller's span (its log
/// lines name the table). `Err` says how `work` panicked.
///
/// The one blocking helper of the writer, and `block_in_place` rather than
/// `spawn_blocking`: the largest jobs read data where it lies. A snapshot
/// encodes the table the source goes on applying to, a diff the change
/// buffer; `spawn_blocking` takes only `'static` work, so the table would
/// have to be copied for it (a cost per row, for millions of rows) or be
/// shared copy-on-write (a cost on every change applied). The price: the
/// calling task's other futures wait while `work` runs, so a caller that
/// wants several jobs at once gives each a task of its own (a rebuild loads
/// each object in one).
pub fn run<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    let guarded = || std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(message);
    match tokio::runtime::Handle::try_current().map(|handle| handle.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(guarded),
        _ => guarded(),
    }
}

/// `work` of each item, each on a thread of its own (scoped, so the items
/// and `work` may borrow): the results in the items' order. `Err` says how
/// the first `work` to panic panicked.
pub fn on_threads<I: Send, T: Send>(
    items: impl IntoIterator<Item = I>,
    work: impl Fn(I) -> T + Sync,
) -> Result<Vec<T>, String> {
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = items
            .into_iter()
            .map(|item| scope.spawn(move || work(item)))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().map_err(message))
            .collect()
    })
}

/// What a panic said.
fn message(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    /// Runs `check` without a runtime and inside each runtime flavour.
    fn on_every_runtime(check: impl Fn()) {
        check();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(async { check() });
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap()
            .block_on(async { check() });
    }

    /// Work runs and its panic is reported, on both runtime flavours and
    /// without a runtime.
    #[test]
    fn runs_work_and_reports_its_panic_on_every_runtime() {
        on_every_runtime(|| {
            let borrowed = String::from("abc");
            assert_eq!(super::run(|| borrowed.len()), Ok(3));
            let panicked = super::run(|| -> usize { panic!("boom") });
            assert_eq!(panicked, Err("boom".to_owned()));
        });
    }

    /// Each item's work runs on a thread of its own, the results in order;
    /// a panic is reported with its message.
    #[test]
    fn on_threads_keeps_the_order_and_reports_a_panic() {
        let base = 10;
        assert_eq!(
            super::on_threads(0..4, |i| base + i),
            Ok(vec![10, 11, 12, 13])
        );
        let panicked = super::on_threads([1, 2], |i| if i == 2 { panic!("two") } else { i });
        assert_eq!(panicked, Err("two".to_owned()));
    }

    /// Work runs in the caller's span, so its log lines carry the caller's
    /// fields (the table), on both runtime flavours and without a runtime.
    #[test]
    fn work_runs_in_the_callers_span() {
        tracing::subscriber::with_default(tracing_subscriber::registry(), || {
            on_every_runtime(|| {
                let span = tracing::info_span!("table_task", table = "t");
                assert!(span.id().is_some());
                let _entered = span.enter();
                assert_eq!(super::run(|| tracing::Span::current().id()), Ok(span.id()));
            });
        });
    }
}
