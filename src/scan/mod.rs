//! Scan input: barcodes and QR codes read from camera frames.

pub mod camera;
pub mod decode;
