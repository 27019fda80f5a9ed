//! `pickup-terminal decode IMAGE...`: the codes found in still images, for
//! checking a photo of a label or a phone screen that the camera will not
//! read.
//!
//! Exit status: 0 when every image gave at least one code, 1 when some image
//! gave none, 2 when some file could not be read as an image. The other
//! images are still decoded and printed.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;
use serde_json::json;

use crate::scan::decode::{DecodeOptions, Decoded, Decoder, LumaFrame};

/// Exit status when an image gave no code.
const EXIT_NOT_FOUND: i32 = 1;

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// PNG or JPEG files to read
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
}

/// The outcome for one file.
#[derive(Serialize)]
struct ImageReport {
    file: String,
    decoded: Vec<Decoded>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Decodes each image, prints what it found and returns the exit status.
pub fn run(args: &DecodeArgs, json: bool) -> i32 {
    let decoder = Decoder::new(DecodeOptions::still());
    let mut status = 0;
    let mut reports = Vec::with_capacity(args.images.len());
    for path in &args.images {
        let report = decode_file(&decoder, path);
        status = status.max(match (&report.error, report.decoded.is_empty()) {
            (Some(_), _) => super::EXIT_INVALID,
            (None, true) => EXIT_NOT_FOUND,
            (None, false) => 0,
        });
        if !json {
            print_text(&report);
        }
        reports.push(report);
    }
    if json {
        print_json(&reports);
    }
    status
}

fn decode_file(decoder: &Decoder, path: &Path) -> ImageReport {
    let file = path.display().to_string();
    match load_luma(path) {
        Ok(image) => {
            let frame = LumaFrame::new(image.as_raw(), image.width(), image.height());
            let decoded = frame.map(|frame| decoder.decode(frame)).unwrap_or_default();
            ImageReport { file, decoded, error: None }
        }
        Err(error) => ImageReport {
            error: Some(format!("{file}: reading the image failed: {error}")),
            file,
            decoded: Vec::new(),
        },
    }
}

/// Reads a PNG or JPEG file, whatever its name ends in, as 8-bit luma.
fn load_luma(path: &Path) -> Result<image::GrayImage, String> {
    let reader = image::ImageReader::open(path)
        .and_then(|reader| reader.with_guessed_format())
        .map_err(|error| error.to_string())?;
    let image = reader.decode().map_err(|error| match error {
        image::ImageError::Unsupported(_) => format!("{error} (only PNG and JPEG are supported)"),
        other => other.to_string(),
    })?;
    Ok(image.into_luma8())
}

fn print_text(report: &ImageReport) {
    if let Some(error) = &report.error {
        eprintln!("error: {error}");
        return;
    }
    if report.decoded.is_empty() {
        println!("{}: no code found", report.file);
    }
    for symbol in &report.decoded {
        println!("{}: {}: {}", report.file, symbol.symbology, symbol.text);
    }
}

fn print_json(reports: &[ImageReport]) {
    for report in reports {
        if let Some(error) = &report.error {
            eprintln!("{}", json!({ "error": error, "exit_code": super::EXIT_INVALID }));
        }
    }
    match serde_json::to_string_pretty(reports) {
        Ok(text) => println!("{text}"),
        Err(error) => eprintln!("error: result cannot be written as JSON: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use rxing::{BarcodeFormat, MultiFormatWriter, Writer};

    use super::*;

    /// Writes a PNG of a QR code for `text`, 4 pixels per module.
    fn write_qr_png(dir: &Path, name: &str, text: &str) -> PathBuf {
        let matrix = MultiFormatWriter.encode(text, &BarcodeFormat::QR_CODE, 0, 0).unwrap();
        let image = image::GrayImage::from_fn(matrix.width() * 4, matrix.height() * 4, |x, y| {
            image::Luma([if matrix.get(x / 4, y / 4) { 0 } else { 255 }])
        });
        let path = dir.join(name);
        image.save(&path).unwrap();
        path
    }

    fn write_blank_png(dir: &Path) -> PathBuf {
        let path = dir.join("blank.png");
        image::GrayImage::from_pixel(64, 64, image::Luma([255])).save(&path).unwrap();
        path
    }

    fn run_on(images: Vec<PathBuf>) -> i32 {
        run(&DecodeArgs { images }, false)
    }

    #[test]
    fn decoded_images_exit_zero() {
        let dir = tempfile::tempdir().unwrap();
        let first = write_qr_png(dir.path(), "first.png", "483920");
        let second = write_qr_png(dir.path(), "second.png", "115577");
        assert_eq!(run_on(vec![first, second]), 0);
    }

    #[test]
    fn image_without_code_exits_one() {
        let dir = tempfile::tempdir().unwrap();
        let code = write_qr_png(dir.path(), "code.png", "483920");
        assert_eq!(run_on(vec![code, write_blank_png(dir.path())]), EXIT_NOT_FOUND);
    }

    #[test]
    fn missing_file_exits_two() {
        let dir = tempfile::tempdir().unwrap();
        let code = write_qr_png(dir.path(), "code.png", "483920");
        assert_eq!(run_on(vec![dir.path().join("missing.png"), code]), super::super::EXIT_INVALID);
    }

    #[test]
    fn json_output_also_exits_two() {
        let dir = tempfile::tempdir().unwrap();
        let args = DecodeArgs { images: vec![dir.path().join("missing.png")] };
        assert_eq!(run(&args, true), super::super::EXIT_INVALID);
    }

    #[test]
    fn png_named_jpg_still_decodes() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_qr_png(dir.path(), "code.png", "483920");
        let renamed = dir.path().join("code.jpg");
        std::fs::rename(&path, &renamed).unwrap();
        let report = decode_file(&Decoder::default(), &renamed);
        assert_eq!(report.decoded.len(), 1);
        assert_eq!(report.decoded[0].text, "483920");
    }

    #[test]
    fn unreadable_file_error_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.png");
        std::fs::write(&path, "not an image").unwrap();
        let report = decode_file(&Decoder::default(), &path);
        let error = report.error.unwrap_or_default();
        assert!(error.contains("notes.png"), "{error}");
        assert!(error.contains("reading the image failed"), "{error}");
    }

    #[test]
    fn gif_error_names_supported_formats() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("code.gif");
        std::fs::write(&path, b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").unwrap();
        let error = decode_file(&Decoder::default(), &path).error.unwrap_or_default();
        assert!(error.contains("only PNG and JPEG are supported"), "{error}");
    }

    #[test]
    fn json_report_lists_symbology() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_qr_png(dir.path(), "code.png", "483920");
        let report = decode_file(&Decoder::default(), &path);
        let value = serde_json::to_value(&report).unwrap();
        assert_eq!(value["decoded"][0]["symbology"], "qr_code");
        assert_eq!(value["decoded"][0]["text"], "483920");
        assert!(value.get("error").is_none());
    }
}
