//! The two decoder libraries behind one shape, a luma frame in and decoded
//! symbols out, and the guard that turns a panic inside either into a
//! counted, logged miss.

use std::any::Any;
use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};

use rxing::common::HybridBinarizer;
use rxing::{BarcodeFormat, BinaryBitmap, DecodeHints, Luma8Source, MultiFormatReader};
use rxing::{LuminanceSource, RXingResult, Reader};

use super::frame::LumaFrame;
use super::{Decoded, Symbology};

/// Panics logged at warn level before the rest drop to debug, so a camera
/// feeding the same bad scene at 30 frames a second cannot flood the log.
const LOUD_PANICS: u64 = 5;

/// Runs `decode`, catching a panic inside it.
///
/// A panic increments `panics`, is logged with the decoder's name and the
/// panic message, and yields `None`. Note that the default panic hook still
/// prints its own line to stderr, and that a build with `panic = "abort"`
/// cannot catch anything.
pub fn guarded<T>(
    decoder: &'static str,
    panics: &AtomicU64,
    decode: impl FnOnce() -> T,
) -> Option<T> {
    match panic::catch_unwind(AssertUnwindSafe(decode)) {
        Ok(value) => Some(value),
        Err(payload) => {
            let count = panics.fetch_add(1, Ordering::Relaxed) + 1;
            let message = panic_message(payload.as_ref());
            if count <= LOUD_PANICS || count.is_multiple_of(100) {
                tracing::warn!(decoder, panics = count, message, "decoder panicked: frame skipped");
            } else {
                tracing::debug!(
                    decoder,
                    panics = count,
                    message,
                    "decoder panicked: frame skipped"
                );
            }
            None
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "non-text panic payload"
    }
}

/// The symbols one decoder found in one image.
#[derive(Default)]
pub struct Reading {
    pub decoded: Vec<Decoded>,
    /// True when the decoder located a symbol that it could not read, a hint
    /// that a sharper or larger image may succeed.
    pub located: bool,
}

impl Reading {
    /// Adds the symbols of `other` that are not in `self` yet.
    pub fn merged(mut self, other: Reading) -> Reading {
        self.located |= other.located;
        for decoded in other.decoded {
            if !self.decoded.contains(&decoded) {
                self.decoded.push(decoded);
            }
        }
        self
    }
}

/// Whether a symbol is dark on light, as printed, or light on dark, as on a
/// phone screen in dark mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polarity {
    Normal,
    Inverted,
}

/// Reads every QR code that rqrr finds. rqrr also tries each grid mirrored.
pub fn read_qr_rqrr(frame: LumaFrame<'_>, polarity: Polarity) -> Reading {
    let (width, height) = (frame.width() as usize, frame.height() as usize);
    let mask = if polarity == Polarity::Inverted { u8::MAX } else { 0 };
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| frame.pixel(x, y) ^ mask);
    let grids = image.detect_grids();
    let decoded: Vec<Decoded> = grids
        .iter()
        .filter_map(|grid| grid.decode().ok())
        .map(|(_, text)| Decoded { text, symbology: Symbology::Qr })
        .collect();
    Reading { located: decoded.len() < grids.len(), decoded }
}

/// A reusable rxing configuration for one family of symbologies.
pub struct RxingReader {
    hints: DecodeHints,
}

impl RxingReader {
    /// Reads the linear symbologies the terminal accepts.
    pub fn linear(try_harder: bool) -> Self {
        let formats = [
            BarcodeFormat::CODE_128,
            BarcodeFormat::EAN_13,
            BarcodeFormat::EAN_8,
            BarcodeFormat::UPC_A,
            BarcodeFormat::UPC_E,
            BarcodeFormat::ITF,
            BarcodeFormat::CODE_39,
        ];
        Self::for_formats(&formats, try_harder)
    }

    /// Reads QR codes, with rxing's port of the zxing-cpp detector first and
    /// the zxing Java port second. Each call also tries the inverse, which
    /// costs less than a second call because rxing inverts the image it
    /// already binarized.
    pub fn qr(try_harder: bool) -> Self {
        let mut reader = Self::for_formats(&[BarcodeFormat::QR_CODE], try_harder);
        reader.hints.AlsoInverted = Some(true);
        reader
    }

    fn for_formats(formats: &[BarcodeFormat], try_harder: bool) -> Self {
        let hints = DecodeHints {
            PossibleFormats: Some(formats.iter().copied().collect::<HashSet<_>>()),
            TryHarder: Some(try_harder),
            ..DecodeHints::default()
        };
        RxingReader { hints }
    }

    /// Returns the first symbol found, if any. rxing reports at most one
    /// symbol per call.
    pub fn read(&self, frame: LumaFrame<'_>, polarity: Polarity) -> Reading {
        let Ok(mut source) =
            Luma8Source::new_with_slice(frame.pixels(), frame.width(), frame.height())
        else {
            return Reading::default();
        };
        // Inverting the source only flips a flag, so no buffer is copied.
        if polarity == Polarity::Inverted {
            source.invert();
        }
        let mut bitmap = BinaryBitmap::new(HybridBinarizer::new(source));
        let mut reader = MultiFormatReader::default();
        match reader.decode_with_hints(&mut bitmap, &self.hints) {
            Ok(result) => {
                Reading { decoded: to_decoded(&result).into_iter().collect(), located: false }
            }
            Err(_) => Reading::default(),
        }
    }
}

fn to_decoded(result: &RXingResult) -> Option<Decoded> {
    let symbology = match result.getBarcodeFormat() {
        BarcodeFormat::QR_CODE => Symbology::Qr,
        BarcodeFormat::CODE_128 => Symbology::Code128,
        BarcodeFormat::EAN_13 => Symbology::Ean13,
        BarcodeFormat::EAN_8 => Symbology::Ean8,
        BarcodeFormat::UPC_A => Symbology::UpcA,
        BarcodeFormat::UPC_E => Symbology::UpcE,
        BarcodeFormat::ITF => Symbology::Itf,
        BarcodeFormat::CODE_39 => Symbology::Code39,
        _ => return None,
    };
    Some(Decoded { text: result.getText().to_owned(), symbology })
}
