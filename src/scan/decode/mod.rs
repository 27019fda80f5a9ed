//! Decoding QR codes and linear barcodes from 8-bit grayscale frames.
//!
//! rqrr reads QR codes, and rxing reads the linear symbologies and gives a
//! second opinion on QR codes that rqrr misses. A frame is read in passes
//! that stop at the first pass that finds anything:
//!
//! 1. the frame shrunk to about [`DecodeOptions::first_pass_long_side`]
//!    pixels on its long side (frames already that small are read as they
//!    are), then its inverse for light codes on dark phone screens, then its
//!    mirror image for QR codes;
//! 2. the same at full resolution, when the frame was shrunk and
//!    [`DecodeOptions::full_resolution`] allows it;
//! 3. rxing's try-harder mode at full resolution, which scans more rows and
//!    also reads linear codes turned by 90 degrees, when
//!    [`DecodeOptions::try_harder`] is set.
//!
//! A panic inside either library is caught, logged and counted in
//! [`Decoder::panic_count`], and the pass goes on without that library.

mod engines;
mod frame;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

pub use frame::{LumaFrame, LumaImage};

use engines::{Reading, RxingReader};

/// A barcode symbology the terminal reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Symbology {
    #[serde(rename = "qr_code")]
    Qr,
    #[serde(rename = "code_128")]
    Code128,
    #[serde(rename = "ean_13")]
    Ean13,
    #[serde(rename = "ean_8")]
    Ean8,
    #[serde(rename = "upc_a")]
    UpcA,
    #[serde(rename = "upc_e")]
    UpcE,
    #[serde(rename = "itf")]
    Itf,
    #[serde(rename = "code_39")]
    Code39,
}

impl Symbology {
    /// Returns the identifier used in JSON output, e.g. `qr_code` or `ean_13`.
    pub fn as_str(self) -> &'static str {
        match self {
            Symbology::Qr => "qr_code",
            Symbology::Code128 => "code_128",
            Symbology::Ean13 => "ean_13",
            Symbology::Ean8 => "ean_8",
            Symbology::UpcA => "upc_a",
            Symbology::UpcE => "upc_e",
            Symbology::Itf => "itf",
            Symbology::Code39 => "code_39",
        }
    }
}

impl fmt::Display for Symbology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Symbology::Qr => "QR Code",
            Symbology::Code128 => "Code 128",
            Symbology::Ean13 => "EAN-13",
            Symbology::Ean8 => "EAN-8",
            Symbology::UpcA => "UPC-A",
            Symbology::UpcE => "UPC-E",
            Symbology::Itf => "ITF",
            Symbology::Code39 => "Code 39",
        };
        f.write_str(name)
    }
}

/// One symbol read from a frame.
///
/// `Debug` prints the length of the text, never the text itself, because a
/// customer's verification code must not reach a log.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Decoded {
    pub text: String,
    pub symbology: Symbology,
}

impl fmt::Debug for Decoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoded")
            .field("text_len", &self.text.chars().count())
            .field("symbology", &self.symbology)
            .finish()
    }
}

/// Why a frame could not be decoded at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error(
        "invalid luma frame: {width}x{height} pixels need {} bytes but the buffer holds {len}",
        (*width as u64) * (*height as u64)
    )]
    FrameSize { width: u32, height: u32, len: usize },
}

/// When to read a shrunk frame again at full resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullResolution {
    /// Whenever the shrunk frame gave nothing.
    Always,
    /// Only when rqrr located a QR code in the shrunk frame but could not
    /// read it. This keeps empty camera frames cheap.
    WhenLocated,
    Never,
}

/// How hard [`Decoder::decode`] tries before it gives up on a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Frames whose long side is at least twice this many pixels are first
    /// read shrunk by an integer factor, to between one and two times it.
    pub first_pass_long_side: u32,
    pub full_resolution: FullResolution,
    /// Adds a last pass with rxing's try-harder mode.
    pub try_harder: bool,
}

impl DecodeOptions {
    /// Settings for still images such as photos given on the command line:
    /// every pass.
    pub fn still() -> Self {
        DecodeOptions {
            first_pass_long_side: 640,
            full_resolution: FullResolution::Always,
            try_harder: true,
        }
    }

    /// Settings for a live camera, where the next frame comes within tens of
    /// milliseconds: no full-resolution or try-harder pass on frames where
    /// nothing code-like was seen.
    pub fn camera() -> Self {
        DecodeOptions {
            first_pass_long_side: 640,
            full_resolution: FullResolution::WhenLocated,
            try_harder: false,
        }
    }
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions::still()
    }
}

/// A reusable frame decoder. It is `Send`, so a worker thread can own it.
pub struct Decoder {
    options: DecodeOptions,
    panics: Arc<AtomicU64>,
    linear: RxingReader,
    qr: RxingReader,
    linear_harder: RxingReader,
    qr_harder: RxingReader,
}

impl Decoder {
    pub fn new(options: DecodeOptions) -> Self {
        Decoder {
            options,
            panics: Arc::new(AtomicU64::new(0)),
            linear: RxingReader::linear(false),
            qr: RxingReader::qr(false),
            linear_harder: RxingReader::linear(true),
            qr_harder: RxingReader::qr(true),
        }
    }

    /// Returns how many panics inside the decoder libraries this decoder has
    /// caught so far.
    pub fn panic_count(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }

    /// Returns the shared counter behind [`Decoder::panic_count`], for a
    /// caller that keeps reading it after the decoder moved to another
    /// thread.
    pub fn panic_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.panics)
    }

    /// Decodes a row-major luma buffer of `width` x `height` pixels.
    ///
    /// Fails only when the buffer does not match the dimensions. A frame
    /// with no readable code, including an all-black or noisy one, returns an
    /// empty list.
    pub fn decode_luma(
        &self,
        pixels: &[u8],
        width: u32,
        height: u32,
    ) -> Result<Vec<Decoded>, DecodeError> {
        Ok(self.decode(LumaFrame::new(pixels, width, height)?))
    }

    /// Returns every distinct symbol found by the first pass that finds
    /// any, or an empty list.
    pub fn decode(&self, frame: LumaFrame<'_>) -> Vec<Decoded> {
        let factor = frame.long_side() / self.options.first_pass_long_side.max(1);
        if factor >= 2 {
            let small = frame::downscale(frame, factor);
            let reading = self.read_variants(small.view());
            if !reading.decoded.is_empty() {
                return reading.decoded;
            }
            let retry = match self.options.full_resolution {
                FullResolution::Always => true,
                FullResolution::WhenLocated => reading.located,
                FullResolution::Never => false,
            };
            if !retry {
                return Vec::new();
            }
        }

        let reading = self.read_variants(frame);
        if !reading.decoded.is_empty() || !self.options.try_harder {
            return reading.decoded;
        }
        self.read_harder(frame)
    }

    /// Reads `frame`, then its inverse, then its mirror image.
    fn read_variants(&self, frame: LumaFrame<'_>) -> Reading {
        let mut located = false;
        let plain = self.read_all(frame);
        if !plain.decoded.is_empty() {
            return plain;
        }
        located |= plain.located;

        let inverted = frame::invert(frame);
        let reading = self.read_all(inverted.view());
        if !reading.decoded.is_empty() {
            return reading;
        }
        located |= reading.located;

        // rqrr already tries each grid mirrored, and the linear readers scan
        // every row in both directions, so only rxing's QR reader needs this.
        let mirrored = frame::mirror(frame);
        let mut reading = self.read_with("rxing", || self.qr.read(mirrored.view()));
        reading.located |= located;
        reading
    }

    /// Reads QR codes with rqrr, then with rxing if rqrr found none, and
    /// linear codes with rxing.
    fn read_all(&self, frame: LumaFrame<'_>) -> Reading {
        let mut reading = self.read_with("rqrr", || engines::read_qr_rqrr(frame));
        if reading.decoded.is_empty() {
            let second = self.read_with("rxing", || self.qr.read(frame));
            merge(&mut reading, second);
        }
        let linear = self.read_with("rxing", || self.linear.read(frame));
        merge(&mut reading, linear);
        reading
    }

    fn read_harder(&self, frame: LumaFrame<'_>) -> Vec<Decoded> {
        let mut reading = self.read_with("rxing", || self.qr_harder.read(frame));
        let linear = self.read_with("rxing", || self.linear_harder.read(frame));
        merge(&mut reading, linear);
        if reading.decoded.is_empty() {
            let inverted = frame::invert(frame);
            let linear = self.read_with("rxing", || self.linear_harder.read(inverted.view()));
            merge(&mut reading, linear);
        }
        reading.decoded
    }

    fn read_with(&self, decoder: &'static str, read: impl FnOnce() -> Reading) -> Reading {
        engines::guarded(decoder, &self.panics, read).unwrap_or_default()
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DecodeOptions::default())
    }
}

/// Adds the symbols of `other` that `reading` does not have yet.
fn merge(reading: &mut Reading, other: Reading) {
    reading.located |= other.located;
    for decoded in other.decoded {
        if !reading.decoded.contains(&decoded) {
            reading.decoded.push(decoded);
        }
    }
}
