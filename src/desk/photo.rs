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

    #[test]
    fn empty_photo_is_invalid() {
        assert!(encode_checked(&[]).unwrap_err().to_string().contains("empty"));
    }
}
