//! Luma frames and the cheap pixel transforms the decoding passes need:
//! box downscaling and horizontal mirroring.

use super::DecodeError;

/// A borrowed 8-bit grayscale image, row-major with no row padding: pixel
/// `(x, y)` is `pixels[y * width + x]`, 0 is black and 255 is white.
#[derive(Clone, Copy)]
pub struct LumaFrame<'a> {
    pixels: &'a [u8],
    width: u32,
    height: u32,
}

impl<'a> LumaFrame<'a> {
    /// Wraps `pixels` as a `width` x `height` frame.
    ///
    /// Fails when a dimension is zero or when `pixels` does not contain exactly
    /// `width * height` bytes, so a truncated camera buffer never reaches a
    /// decoder.
    pub fn new(pixels: &'a [u8], width: u32, height: u32) -> Result<Self, DecodeError> {
        let expected = (width as usize).checked_mul(height as usize);
        if width == 0 || height == 0 || expected != Some(pixels.len()) {
            return Err(DecodeError::FrameSize { width, height, len: pixels.len() });
        }
        Ok(LumaFrame { pixels, width, height })
    }

    pub fn pixels(&self) -> &'a [u8] {
        self.pixels
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// Returns the longer of the two sides, in pixels.
    pub fn long_side(&self) -> u32 {
        self.width.max(self.height)
    }

    /// Returns rows `top..bottom` as a frame of their own, without copying.
    pub(super) fn rows(&self, top: u32, bottom: u32) -> LumaFrame<'a> {
        let (top, bottom) = (top.min(bottom), bottom.min(self.height));
        let width = self.width as usize;
        let pixels = &self.pixels[top as usize * width..bottom as usize * width];
        LumaFrame { pixels, width: self.width, height: bottom - top }
    }

    pub(super) fn pixel(&self, x: usize, y: usize) -> u8 {
        self.pixels[y * self.width as usize + x]
    }
}

/// An owned luma image, such as a converted camera frame.
#[derive(Clone)]
pub struct LumaImage {
    pub(super) pixels: Vec<u8>,
    pub(super) width: u32,
    pub(super) height: u32,
}

impl LumaImage {
    /// Takes `pixels` as a `width` x `height` image, with the same checks as
    /// [`LumaFrame::new`].
    pub fn new(pixels: Vec<u8>, width: u32, height: u32) -> Result<Self, DecodeError> {
        LumaFrame::new(&pixels, width, height)?;
        Ok(LumaImage { pixels, width, height })
    }

    pub fn view(&self) -> LumaFrame<'_> {
        LumaFrame { pixels: &self.pixels, width: self.width, height: self.height }
    }
}

/// Shrinks `frame` by the integer `factor`, averaging each `factor` x
/// `factor` block. Edge pixels that do not fill a whole block are dropped.
/// The factor is capped at the short side, so the result is never empty.
pub(super) fn downscale(frame: LumaFrame<'_>, factor: u32) -> LumaImage {
    let factor = factor.clamp(1, frame.width.min(frame.height)) as usize;
    let width = frame.width as usize / factor;
    let height = frame.height as usize / factor;
    let source_width = frame.width as usize;
    let mut pixels = Vec::with_capacity(width * height);
    if factor == 2 {
        // The common case, a 1280x720 camera frame read at 640x360, gets a
        // loop over fixed pairs that the compiler unrolls and vectorises.
        // The general loop below costs about four times as much per frame.
        for pair in frame.pixels.chunks_exact(2 * source_width).take(height) {
            let (upper, lower) = pair.split_at(source_width);
            let blocks = upper.chunks_exact(2).zip(lower.chunks_exact(2)).take(width);
            pixels.extend(blocks.map(|(top, bottom)| {
                let sum = u16::from(top[0]) + u16::from(top[1]);
                let sum = sum + u16::from(bottom[0]) + u16::from(bottom[1]);
                (sum / 4) as u8
            }));
        }
        return LumaImage { pixels, width: width as u32, height: height as u32 };
    }

    let area = (factor * factor) as u32;
    let mut sums = vec![0u32; width];
    for block_row in 0..height {
        sums.fill(0);
        for y in block_row * factor..(block_row + 1) * factor {
            let row = &frame.pixels[y * source_width..y * source_width + width * factor];
            for (sum, block) in sums.iter_mut().zip(row.chunks_exact(factor)) {
                *sum += block.iter().map(|&value| u32::from(value)).sum::<u32>();
            }
        }
        pixels.extend(sums.iter().map(|&sum| (sum / area) as u8));
    }
    LumaImage { pixels, width: width as u32, height: height as u32 }
}

/// Flips `frame` left to right, for codes seen through a mirror or shown
/// mirrored by a front camera preview.
pub(super) fn mirror(frame: LumaFrame<'_>) -> LumaImage {
    let width = frame.width as usize;
    let mut pixels = Vec::with_capacity(frame.pixels.len());
    for row in frame.pixels.chunks_exact(width) {
        pixels.extend(row.iter().rev());
    }
    LumaImage { pixels, width: frame.width, height: frame.height }
}
