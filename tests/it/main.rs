//! Integration tests, collected into one binary: each module drives the real
//! program, server or screens against real files, loopback sockets or a
//! headless window.

mod backend;
mod cli;
mod day;
mod flows;
mod ops;
mod screens;
mod sync;
mod window;
