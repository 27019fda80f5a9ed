//! Parcel pickup terminal: the rules of a store's parcel desk, its local
//! store, the sync engine that talks to the mall, and the reference mall
//! backend.
//!
//! Data flows one way: [`scan`] turns scanner text into a classified scan,
//! [`desk`] applies the lifecycle rules and writes each clerk action through
//! [`store`], and [`sync`] pushes the outbox to the mall and pulls changes.
//! The Slint screens in [`ui`] and the command line in [`cli`] are thin front
//! ends over [`desk`]. The reference backend in [`backend`] shares only the
//! wire types of [`protocol`] with the terminal.

pub mod backend;
pub mod cli;
pub mod config;
pub mod demo;
pub mod desk;
pub mod logs;
pub mod protocol;
pub mod scan;
pub mod store;
pub mod support;
pub mod sync;
pub mod ui;
