//! Running tables: one task per table (source → table → archive), the handles
//! the HTTP API uses, and shutdown.

pub mod handle;
