//! Slint screens of the terminal.

slint::include_modules!();
