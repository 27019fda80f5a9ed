//! Integration tests, collected into one binary: each module drives the real
//! program or server against real files and loopback sockets.

mod cli;
