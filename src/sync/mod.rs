//! Sync with the mall backend: the typed HTTP client of the protocol and the
//! engine that drains the outbox and pulls changes off the UI thread.

pub mod client;
pub mod engine;
pub mod enrolment;

pub use engine::{SyncConfig, SyncError, SyncHandle, SyncReport, sync_once, sync_once_via};
pub use enrolment::{enroll, enroll_with};
