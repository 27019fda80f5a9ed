//! The reference mall backend: an HTTP server that implements the sync
//! protocol of [`crate::protocol`] on one SQLite file, with an admin page
//! for the demo.
//!
//! [`start`] runs the server in-process; the terminal's embedded demo and
//! the integration tests use it that way, and `mall-backend serve` wraps it.
//! [`seed`], [`create_enrolment`] and the read helpers work on the database
//! file directly, with or without a server running on it.
//!
//! Layout: `db` contains the schema, `parcels` the manifest and mall-side
//! actions, `apply` the rules for pushed events, `codes` verification codes
//! and the SMS gateway, `changes` the change log and cursors, `enrol`
//! tokens and terminals, `sessions` the checks of counter-session events
//! and damage photos, `api` and `admin` the HTTP handlers.

mod admin;
mod api;
mod apply;
mod changes;
mod codes;
mod db;
mod enrol;
mod error;
mod inspect;
mod page;
mod parcels;
mod rate_limit;
mod seed;
mod server;
mod sessions;

mod tls;

use std::path::Path;

use chrono::Utc;

pub use codes::{OutboxGateway, SmsGateway, SmsMessage};
pub use enrol::ENROLMENT_TOKEN_LIFETIME;
pub use inspect::{
    ConflictRecord, EventRecord, SmsRecord, StoreRecord, applied_events, conflicts, parcel_states,
    recorded_events, sms_outbox,
};
pub use parcels::{ParcelRecord, ParcelState};
pub use rate_limit::RateLimit;
pub use seed::{manifest, seed};
pub use server::{BackendConfig, RunningBackend, start};
pub use tls::TlsFiles;

/// Creates a one-time enrolment token for `store` in the database at
/// `db_path`, creating the store (and the database) when missing. Returns
/// the token; only its hash is stored, so it cannot be shown again.
///
/// Fails on an invalid store id or when the database cannot be written.
pub fn create_enrolment(db_path: &Path, store: &str) -> anyhow::Result<String> {
    let conn = db::open(db_path)?;
    enrol::create_token(&conn, store, Utc::now())
}
