//! Damage photos attached to a rejection: checked to be a JPEG of bounded
//! size, then carried base64-encoded inside the rejection's event.

use std::io::Cursor;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{DeskError, Result};
use crate::protocol::MAX_PHOTO_BYTES;

/// The bytes every JPEG file starts with (the SOI marker, then a marker).
const JPEG_START: [u8; 3] = [0xFF, 0xD8, 0xFF];

/// Checks that `jpeg` is a JPEG of at most [`MAX_PHOTO_BYTES`] whose header
/// decodes, and returns it as standard base64.
pub fn encode_checked(jpeg: &[u8]) -> Result<String> {
    check(jpeg)?;
    Ok(STANDARD.encode(jpeg))
}

/// Checks a photo without encoding it.
pub fn check(jpeg: &[u8]) -> Result<()> {
    if jpeg.is_empty() {
        return Err(DeskError::Invalid("damage photo is empty: take the photo again".to_owned()));
    }
    if jpeg.len() > MAX_PHOTO_BYTES {
        return Err(DeskError::Invalid(format!(
            "damage photo is {} bytes, more than {MAX_PHOTO_BYTES}: take it at a lower resolution",
            jpeg.len()
        )));
    }
    if !jpeg.starts_with(&JPEG_START) {
        return Err(DeskError::Invalid(
            "damage photo is not a JPEG file: save it as JPEG and try again".to_owned(),
        ));
    }
    let reader = image::ImageReader::with_format(Cursor::new(jpeg), image::ImageFormat::Jpeg);
    reader.into_dimensions().map_err(|error| {
        DeskError::Invalid(format!(
            "damage photo is not a readable JPEG ({error}): take the photo again"
        ))
    })?;
    Ok(())
}

/// JPEG qualities tried in turn until a photo fits [`MAX_PHOTO_BYTES`].
const QUALITIES: [u8; 3] = [85, 70, 50];

/// Encodes a greyscale camera frame (one byte a pixel, row by row) as a
/// JPEG of at most [`MAX_PHOTO_BYTES`]. It lowers the quality step by step
/// and then halves the size, until the JPEG fits.
pub fn encode_frame(pixels: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let expected = width as usize * height as usize;
    if width == 0 || height == 0 || pixels.len() != expected {
        return Err(DeskError::Invalid(format!(
            "camera frame of {} bytes does not match {width} x {height} pixels: take the photo again",
            pixels.len()
        )));
    }
    let mut frame = image::GrayImage::from_raw(width, height, pixels.to_vec())
        .expect("the buffer length was checked against the size");
    loop {
        for quality in QUALITIES {
            let jpeg = encode_jpeg(&frame, quality)?;
            if jpeg.len() <= MAX_PHOTO_BYTES {
                check(&jpeg)?;
                return Ok(jpeg);
            }
        }
        let (width, height) = (frame.width().div_ceil(2), frame.height().div_ceil(2));
        frame =
            image::imageops::resize(&frame, width, height, image::imageops::FilterType::Triangle);
    }
}

fn encode_jpeg(frame: &image::GrayImage, quality: u8) -> Result<Vec<u8>> {
    let mut jpeg = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality);
    frame.write_with_encoder(encoder).map_err(|error| {
        DeskError::Invalid(format!("encoding the damage photo as JPEG failed: {error}"))
    })?;
    Ok(jpeg)
}

/// Decodes the base64 photo of a rejection event.
pub fn decode(base64_text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(base64_text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a 2 x 2 grey JPEG with the `image` crate.
    fn tiny_jpeg() -> Vec<u8> {
        let picture = image::GrayImage::from_pixel(2, 2, image::Luma([128]));
        let mut bytes = Cursor::new(Vec::new());
        picture.write_to(&mut bytes, image::ImageFormat::Jpeg).unwrap();
        bytes.into_inner()
    }

    #[test]
    fn jpeg_round_trips_through_base64() {
        let jpeg = tiny_jpeg();
        let encoded = encode_checked(&jpeg).unwrap();
        assert_eq!(decode(&encoded).unwrap(), jpeg);
    }

    #[test]
    fn png_is_not_a_jpeg() {
        let picture = image::GrayImage::from_pixel(2, 2, image::Luma([128]));
        let mut png = Cursor::new(Vec::new());
        picture.write_to(&mut png, image::ImageFormat::Png).unwrap();
        let error = encode_checked(png.get_ref()).unwrap_err();
        assert!(error.to_string().contains("not a JPEG"), "{error}");
    }

    #[test]
    fn truncated_jpeg_header_is_invalid() {
        let error = encode_checked(&JPEG_START).unwrap_err();
        assert!(error.to_string().contains("not a readable JPEG"), "{error}");
    }

    #[test]
    fn oversized_photo_is_invalid() {
        let mut jpeg = tiny_jpeg();
        jpeg.resize(MAX_PHOTO_BYTES + 1, 0);
        let error = encode_checked(&jpeg).unwrap_err();
        assert!(error.to_string().contains("more than"), "{error}");
    }

    /// Draws a frame of random grey noise, which JPEG compresses badly.
    fn noise_frame(width: u32, height: u32) -> Vec<u8> {
        let mut state: u32 = 0x9E37_79B9;
        (0..width * height)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn frame_encodes_as_readable_jpeg() {
        let pixels: Vec<u8> = (0..64 * 48).map(|index| (index % 256) as u8).collect();
        let jpeg = encode_frame(&pixels, 64, 48).unwrap();
        assert!(jpeg.starts_with(&JPEG_START));
        let decoded = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (64, 48));
    }

    #[test]
    fn large_noisy_frame_shrinks_within_bound() {
        let (width, height) = (1920, 1080);
        let pixels = noise_frame(width, height);
        let first_try = encode_jpeg(
            &image::GrayImage::from_raw(width, height, pixels.clone()).unwrap(),
            QUALITIES[0],
        )
        .unwrap();
        assert!(first_try.len() > MAX_PHOTO_BYTES, "the test frame must need shrinking");

        let jpeg = encode_frame(&pixels, width, height).unwrap();
        assert!(jpeg.len() <= MAX_PHOTO_BYTES, "{} bytes", jpeg.len());
        let decoded = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).unwrap();
        assert!(decoded.width() < width, "width {}", decoded.width());
    }

    #[test]
    fn frame_of_wrong_length_is_invalid() {
        let error = encode_frame(&[0; 10], 4, 4).unwrap_err();
        assert!(error.to_string().contains("does not match 4 x 4"), "{error}");
        assert!(encode_frame(&[], 0, 0).is_err());
    }

    #[test]
    fn empty_photo_is_invalid() {
        assert!(encode_checked(&[]).unwrap_err().to_string().contains("empty"));
    }
}
