//! Integration tests, compiled into one binary. Each module starts the real
//! components it needs on 127.0.0.1 with temporary files.

mod backend;
