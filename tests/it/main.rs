//! Integration tests, collected into one binary: each module drives the real
//! program or its screens against real files, loopback sockets or a headless
//! window.

mod screens;
