//! Integration tests, collected into one binary: each module drives the real
//! program, server or screens against real files, loopback sockets or a
//! headless window.

mod backend;
mod cli;
mod day;
mod flows;
mod language;
mod ops;

mod proxy;
mod reliability;
mod reliability_backend;
mod reliability_crash;
mod reliability_net;
mod reliability_security;
mod reliability_store;
mod screens;
mod sessions_screens;
mod sync;
mod window;
