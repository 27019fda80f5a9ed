//! Decoding QR codes and linear barcodes from 8-bit grayscale frames.
//!
//! rxing reads QR codes and the linear symbologies, and rqrr gives a second
//! opinion on QR codes that rxing misses. rxing goes first because it is
//! both faster and more accurate: on 81 photos of QR codes it read every
//! one at a median of 0.4 ms of CPU time, and rqrr 55 of them at 7 ms
//! (see BENCHMARKS.md). A frame is read in passes that stop at the first
//! pass that finds anything:
//!
//! 1. QR codes in the frame shrunk to about
//!    [`DecodeOptions::first_pass_long_side`] pixels on its long side, and
//!    linear codes at full resolution, in the whole frame and then in each
//!    half. Smaller frames are read as they are.
//!    Then the same on the inverse, for light codes on dark phone screens,
//!    and then, when [`DecodeOptions::mirror_pass`] is set, QR codes in the
//!    mirror image.
//! 2. QR codes at full resolution, when the frame was shrunk and
//!    [`DecodeOptions::full_resolution`] allows it.
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

use engines::{Polarity, Reading, RxingReader};

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

/// An error that stops a frame from being decoded at all.
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

/// The passes [`Decoder::decode`] may run before it gives up on a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Frames whose long side is at least twice this many pixels are first
    /// read shrunk by an integer factor, to between one and two times it.
    pub first_pass_long_side: u32,
    pub full_resolution: FullResolution,
    /// Long side that frames are shrunk to, at the most, before rqrr gives
    /// its second opinion on a frame where rxing found no QR code. rqrr
    /// takes about ten times as long as rxing on the same frame. 0 turns
    /// rqrr off.
    pub rqrr_long_side: u32,
    /// Adds a pass on the mirror image. Both libraries read most mirrored
    /// QR codes without it: rqrr retries each grid mirrored, and rxing's
    /// port of the zxing decoder retries the format and version bits
    /// mirrored. So this pass helps only where mirroring defeats a detector.
    pub mirror_pass: bool,
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
            rqrr_long_side: u32::MAX,
            mirror_pass: true,
            try_harder: true,
        }
    }

    /// Settings for a live camera, where the next frame comes within tens of
    /// milliseconds: rqrr on a smaller image, no mirror pass, and no
    /// full-resolution or try-harder pass on frames where nothing code-like
    /// was seen.
    pub fn camera() -> Self {
        DecodeOptions {
            first_pass_long_side: 640,
            full_resolution: FullResolution::WhenLocated,
            rqrr_long_side: 240,
            mirror_pass: false,
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
        let small = self.shrink(frame);
        let qr_first = small.as_ref().map_or(frame, LumaImage::view);

        // Linear codes are always read at full resolution: shrinking by 2
        // leaves 1.5 pixels per module for a 3-pixel module, and rxing's
        // linear readers miss those. Their cost is a few rows per frame.
        let first_passes: [&dyn Fn() -> Reading; 3] = [
            &|| self.read_pass(qr_first, frame, Polarity::Normal),
            &|| self.read_pass(qr_first, frame, Polarity::Inverted),
            &|| self.read_mirrored_qr(qr_first),
        ];
        let reading = first_found(&first_passes);
        if !reading.decoded.is_empty() {
            return reading.decoded;
        }

        let retry = match self.options.full_resolution {
            FullResolution::Always => true,
            FullResolution::WhenLocated => reading.located,
            FullResolution::Never => false,
        };
        if small.is_some() && retry {
            let full_passes: [&dyn Fn() -> Reading; 3] = [
                &|| self.read_qr(frame, Polarity::Normal),
                &|| self.read_qr(frame, Polarity::Inverted),
                &|| self.read_mirrored_qr(frame),
            ];
            let reading = first_found(&full_passes);
            if !reading.decoded.is_empty() {
                return reading.decoded;
            }
        }

        if !self.options.try_harder {
            return Vec::new();
        }
        let harder_passes: [&dyn Fn() -> Reading; 2] = [
            &|| {
                let qr = self.read_with("rxing", || self.qr_harder.read(frame, Polarity::Normal));
                let linear = || self.linear_harder.read(frame, Polarity::Normal);
                qr.merged(self.read_with("rxing", linear))
            },
            &|| self.read_with("rxing", || self.linear_harder.read(frame, Polarity::Inverted)),
        ];
        first_found(&harder_passes).decoded
    }

    /// Returns `frame` shrunk for the first pass, or `None` when it is small
    /// enough already.
    fn shrink(&self, frame: LumaFrame<'_>) -> Option<LumaImage> {
        shrink_to(frame, self.options.first_pass_long_side)
    }

    /// Reads linear codes in `linear_frame` and QR codes in `qr_frame` with
    /// rxing. rqrr gives its second opinion only when rxing found nothing.
    fn read_pass(
        &self,
        qr_frame: LumaFrame<'_>,
        linear_frame: LumaFrame<'_>,
        polarity: Polarity,
    ) -> Reading {
        let linear = self.read_linear(linear_frame, polarity);
        if linear.decoded.is_empty() {
            return linear.merged(self.read_qr(qr_frame, polarity));
        }
        // A label may carry a QR code beside its barcode, but with a code
        // found already, rqrr's slower second opinion is not needed.
        match polarity {
            Polarity::Normal => {
                linear.merged(self.read_with("rxing", || self.qr.read(qr_frame, Polarity::Normal)))
            }
            Polarity::Inverted => linear,
        }
    }

    /// Reads linear codes in the whole frame, then, for dark bars on a
    /// light ground, in its top and bottom halves. Without try-harder, rxing
    /// scans 15 rows around the middle of the image it is given, so each
    /// half brings rows that the whole frame skipped.
    fn read_linear(&self, frame: LumaFrame<'_>, polarity: Polarity) -> Reading {
        let height = frame.height();
        let bands = match polarity {
            Polarity::Normal => &[(0, height), (0, height / 2), (height / 2, height)][..],
            Polarity::Inverted => &[(0, height)][..],
        };
        for &(top, bottom) in bands {
            if bottom - top < 2 {
                continue;
            }
            let band = frame.rows(top, bottom);
            let reading = self.read_with("rxing", || self.linear.read(band, polarity));
            if !reading.decoded.is_empty() {
                return reading;
            }
        }
        Reading::default()
    }

    /// Reads QR codes with rxing, then with rqrr if rxing found none.
    ///
    /// rxing's QR reader tries both polarities in one call, so it runs only
    /// for [`Polarity::Normal`].
    fn read_qr(&self, frame: LumaFrame<'_>, polarity: Polarity) -> Reading {
        let reading = match polarity {
            Polarity::Normal => self.read_with("rxing", || self.qr.read(frame, polarity)),
            Polarity::Inverted => Reading::default(),
        };
        if !reading.decoded.is_empty() {
            return reading;
        }
        reading.merged(self.read_rqrr(frame, polarity))
    }

    fn read_rqrr(&self, frame: LumaFrame<'_>, polarity: Polarity) -> Reading {
        if self.options.rqrr_long_side == 0 {
            return Reading::default();
        }
        let smaller = shrink_to(frame, self.options.rqrr_long_side);
        let view = smaller.as_ref().map_or(frame, LumaImage::view);
        self.read_with("rqrr", || engines::read_qr_rqrr(view, polarity))
    }

    /// Reads QR codes in the mirror image, when the options ask for it. The
    /// linear readers scan each row both ways, so only QR codes need this.
    fn read_mirrored_qr(&self, frame: LumaFrame<'_>) -> Reading {
        if !self.options.mirror_pass {
            return Reading::default();
        }
        let mirrored = frame::mirror(frame);
        self.read_with("rxing", || self.qr.read(mirrored.view(), Polarity::Normal))
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

/// Returns `frame` shrunk by the integer factor that brings its long side to
/// between one and two times `long_side`, or `None` when it is shorter than
/// twice that already.
fn shrink_to(frame: LumaFrame<'_>, long_side: u32) -> Option<LumaImage> {
    let factor = frame.long_side() / long_side.max(1);
    let short_side = frame.width().min(frame.height());
    (factor >= 2 && short_side >= factor).then(|| frame::downscale(frame, factor))
}

/// Runs `passes` in order until one finds a symbol. Returns that pass's
/// symbols, and whether any pass located a symbol it could not read.
fn first_found(passes: &[&dyn Fn() -> Reading]) -> Reading {
    let mut located = false;
    for pass in passes {
        let reading = pass();
        located |= reading.located;
        if !reading.decoded.is_empty() {
            return reading;
        }
    }
    Reading { decoded: Vec::new(), located }
}
