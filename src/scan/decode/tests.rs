//! Decoding tests on images drawn here with rxing's writers, then rotated,
//! inverted, mirrored, blurred, noised or shrunk.

use std::sync::atomic::AtomicU64;

use rxing::{BarcodeFormat, MultiFormatWriter, Writer};

use super::*;

const CODE: &str = "483920";
const EAN13: &str = "4006381333931";

/// A test image: white background, black symbol.
#[derive(Clone)]
struct Picture {
    pixels: Vec<u8>,
    width: u32,
    height: u32,
}

impl Picture {
    fn frame(&self) -> LumaFrame<'_> {
        LumaFrame::new(&self.pixels, self.width, self.height).unwrap()
    }

    fn map(&self, change: impl Fn(u32, u32) -> u8) -> Picture {
        let mut pixels = Vec::with_capacity(self.pixels.len());
        for y in 0..self.height {
            for x in 0..self.width {
                pixels.push(change(x, y));
            }
        }
        Picture { pixels, width: self.width, height: self.height }
    }

    fn at(&self, x: i64, y: i64) -> f64 {
        if x < 0 || y < 0 || x >= i64::from(self.width) || y >= i64::from(self.height) {
            return 255.0;
        }
        f64::from(self.pixels[(y as u32 * self.width + x as u32) as usize])
    }
}

/// Draws `text` as `format` with `module` pixels per module and a quiet zone
/// of `margin` pixels. Linear codes get bars 60 pixels plus 20 modules
/// tall.
fn draw(format: BarcodeFormat, text: &str, module: u32, margin: u32) -> Picture {
    let matrix = MultiFormatWriter.encode(text, &format, 0, 0).unwrap();
    let rows = if matrix.height() == 1 { 60 / module.max(1) + 20 } else { matrix.height() };
    let width = matrix.width() * module + 2 * margin;
    let height = rows * module + 2 * margin;
    let blank = Picture { pixels: vec![255; (width * height) as usize], width, height };
    blank.map(|x, y| {
        if x < margin || y < margin || x >= width - margin || y >= height - margin {
            return 255;
        }
        let column = (x - margin) / module;
        let row = ((y - margin) / module).min(matrix.height() - 1);
        if matrix.get(column, row) { 0 } else { 255 }
    })
}

fn qr(module: u32) -> Picture {
    draw(BarcodeFormat::QR_CODE, CODE, module, 4 * module)
}

fn code128(module: u32) -> Picture {
    draw(BarcodeFormat::CODE_128, CODE, module, 10 * module)
}

fn ean13(module: u32) -> Picture {
    draw(BarcodeFormat::EAN_13, EAN13, module, 10 * module)
}

/// Turns `picture` by `degrees` about its centre onto a canvas large enough
/// for any angle, sampling bilinearly. Corners fill with white.
fn rotate(picture: &Picture, degrees: f64) -> Picture {
    let side = f64::from(picture.width).hypot(f64::from(picture.height)).ceil() as u32;
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (cx, cy) = (f64::from(picture.width) / 2.0, f64::from(picture.height) / 2.0);
    let half = f64::from(side) / 2.0;
    let canvas = Picture { pixels: vec![255; (side * side) as usize], width: side, height: side };
    canvas.map(|x, y| {
        let (dx, dy) = (f64::from(x) - half, f64::from(y) - half);
        let sx = cos * dx + sin * dy + cx;
        let sy = -sin * dx + cos * dy + cy;
        sample(picture, sx, sy)
    })
}

fn sample(picture: &Picture, x: f64, y: f64) -> u8 {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (x0, y0) = (x0 as i64, y0 as i64);
    let top = picture.at(x0, y0) * (1.0 - fx) + picture.at(x0 + 1, y0) * fx;
    let bottom = picture.at(x0, y0 + 1) * (1.0 - fx) + picture.at(x0 + 1, y0 + 1) * fx;
    (top * (1.0 - fy) + bottom * fy).round() as u8
}

fn invert(picture: &Picture) -> Picture {
    picture.map(|x, y| 255 - picture.at(x.into(), y.into()) as u8)
}

fn mirror(picture: &Picture) -> Picture {
    picture.map(|x, y| picture.at(i64::from(picture.width - 1 - x), y.into()) as u8)
}

/// Averages each pixel with its neighbours within `radius`.
fn blur(picture: &Picture, radius: i64) -> Picture {
    picture.map(|x, y| {
        let mut sum = 0.0;
        for dy in -radius..=radius {
            for dx in -radius..=radius {
                sum += picture.at(i64::from(x) + dx, i64::from(y) + dy);
            }
        }
        (sum / ((2 * radius + 1) * (2 * radius + 1)) as f64).round() as u8
    })
}

/// Adds uniform noise of up to `amplitude` either way, from a fixed seed.
fn add_noise(picture: &Picture, amplitude: i32) -> Picture {
    let mut state = 0x2545_f491_u32;
    let noise: Vec<i32> = (0..picture.pixels.len())
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state % (2 * amplitude as u32 + 1)) as i32 - amplitude
        })
        .collect();
    let mut noisy = picture.clone();
    for (pixel, delta) in noisy.pixels.iter_mut().zip(noise) {
        *pixel = (i32::from(*pixel) + delta).clamp(0, 255) as u8;
    }
    noisy
}

/// Pastes `picture` at `(left, top)` on a gray `width` x `height` frame.
fn place(picture: &Picture, width: u32, height: u32, left: u32, top: u32) -> Picture {
    let canvas = Picture { pixels: vec![128; (width * height) as usize], width, height };
    canvas.map(|x, y| {
        let inside = x >= left && y >= top && x < left + picture.width && y < top + picture.height;
        if inside { picture.at(i64::from(x - left), i64::from(y - top)) as u8 } else { 128 }
    })
}

fn decode_still(picture: &Picture) -> Vec<Decoded> {
    Decoder::new(DecodeOptions::still()).decode(picture.frame())
}

fn decode_camera(picture: &Picture) -> Vec<Decoded> {
    Decoder::new(DecodeOptions::camera()).decode(picture.frame())
}

fn found(decoded: &[Decoded], text: &str, symbology: Symbology) -> bool {
    decoded.iter().any(|symbol| symbol.text == text && symbol.symbology == symbology)
}

#[test]
fn qr_code_decodes_upright() {
    let decoded = decode_camera(&qr(4));
    assert!(found(&decoded, CODE, Symbology::Qr), "{decoded:?}");
}

#[test]
fn code128_decodes_upright() {
    let decoded = decode_camera(&code128(3));
    assert!(found(&decoded, CODE, Symbology::Code128), "{decoded:?}");
}

#[test]
fn ean13_decodes_upright() {
    let decoded = decode_camera(&ean13(3));
    assert!(found(&decoded, EAN13, Symbology::Ean13), "{decoded:?}");
}

#[test]
fn upright_qr_code_yields_one_symbol() {
    assert_eq!(decode_camera(&qr(4)).len(), 1);
}

#[test]
fn qr_code_decodes_at_any_rotation() {
    for degrees in [17.0, 45.0, 90.0, 160.0, 180.0, 270.0, 333.0] {
        let decoded = decode_camera(&rotate(&qr(5), degrees));
        assert!(found(&decoded, CODE, Symbology::Qr), "{degrees} degrees: {decoded:?}");
    }
}

#[test]
fn code128_decodes_upside_down() {
    let decoded = decode_camera(&rotate(&code128(3), 180.0));
    assert!(found(&decoded, CODE, Symbology::Code128), "{decoded:?}");
}

#[test]
fn code128_decodes_tilted_slightly() {
    let decoded = decode_camera(&rotate(&code128(3), 8.0));
    assert!(found(&decoded, CODE, Symbology::Code128), "{decoded:?}");
}

#[test]
fn sideways_code128_needs_still_options() {
    let sideways = rotate(&code128(3), 90.0);
    let decoded = decode_still(&sideways);
    assert!(found(&decoded, CODE, Symbology::Code128), "{decoded:?}");
}

#[test]
fn ean13_decodes_upside_down() {
    let decoded = decode_camera(&rotate(&ean13(3), 180.0));
    assert!(found(&decoded, EAN13, Symbology::Ean13), "{decoded:?}");
}

#[test]
fn inverted_qr_code_decodes() {
    let decoded = decode_camera(&invert(&qr(4)));
    assert!(found(&decoded, CODE, Symbology::Qr), "{decoded:?}");
}

#[test]
fn inverted_code128_decodes() {
    let decoded = decode_camera(&invert(&code128(3)));
    assert!(found(&decoded, CODE, Symbology::Code128), "{decoded:?}");
}

#[test]
fn inverted_ean13_decodes() {
    let decoded = decode_camera(&invert(&ean13(3)));
    assert!(found(&decoded, EAN13, Symbology::Ean13), "{decoded:?}");
}

#[test]
fn mirrored_qr_code_decodes() {
    let decoded = decode_camera(&mirror(&qr(4)));
    assert!(found(&decoded, CODE, Symbology::Qr), "{decoded:?}");
}

#[test]
fn mirrored_code128_decodes() {
    let decoded = decode_camera(&mirror(&code128(3)));
    assert!(found(&decoded, CODE, Symbology::Code128), "{decoded:?}");
}

#[test]
fn mirrored_inverted_qr_code_decodes_still() {
    let decoded = decode_still(&mirror(&invert(&qr(4))));
    assert!(found(&decoded, CODE, Symbology::Qr), "{decoded:?}");
}

#[test]
fn blurred_qr_code_decodes() {
    let decoded = decode_camera(&blur(&qr(6), 2));
    assert!(found(&decoded, CODE, Symbology::Qr), "{decoded:?}");
}

#[test]
fn blurred_code128_decodes() {
    let decoded = decode_camera(&blur(&code128(4), 1));
    assert!(found(&decoded, CODE, Symbology::Code128), "{decoded:?}");
}

#[test]
fn blurred_ean13_decodes() {
    let decoded = decode_camera(&blur(&ean13(4), 1));
    assert!(found(&decoded, EAN13, Symbology::Ean13), "{decoded:?}");
}

#[test]
fn noisy_qr_code_decodes() {
    let decoded = decode_camera(&add_noise(&qr(4), 60));
    assert!(found(&decoded, CODE, Symbology::Qr), "{decoded:?}");
}

#[test]
fn noisy_code128_decodes() {
    let decoded = decode_camera(&add_noise(&code128(3), 40));
    assert!(found(&decoded, CODE, Symbology::Code128), "{decoded:?}");
}

#[test]
fn noisy_ean13_decodes() {
    let decoded = decode_camera(&add_noise(&ean13(3), 40));
    assert!(found(&decoded, EAN13, Symbology::Ean13), "{decoded:?}");
}

#[test]
fn qr_code_with_two_pixel_modules_decodes() {
    let decoded = decode_camera(&qr(2));
    assert!(found(&decoded, CODE, Symbology::Qr), "{decoded:?}");
}

#[test]
fn code128_with_one_pixel_modules_decodes() {
    let decoded = decode_camera(&code128(1));
    assert!(found(&decoded, CODE, Symbology::Code128), "{decoded:?}");
}

#[test]
fn ean13_with_one_pixel_modules_decodes() {
    let decoded = decode_camera(&ean13(1));
    assert!(found(&decoded, EAN13, Symbology::Ean13), "{decoded:?}");
}

#[test]
fn qr_code_in_720p_frame_decodes() {
    let frame = place(&qr(6), 1280, 720, 500, 200);
    let decoded = decode_camera(&frame);
    assert!(found(&decoded, CODE, Symbology::Qr), "{decoded:?}");
}

#[test]
fn code128_in_720p_frame_decodes() {
    let frame = place(&code128(3), 1280, 720, 300, 300);
    let decoded = decode_camera(&frame);
    assert!(found(&decoded, CODE, Symbology::Code128), "{decoded:?}");
}

#[test]
fn fine_code128_in_1080p_frame_decodes() {
    let frame = place(&code128(1), 1920, 1080, 800, 500);
    let decoded = decode_still(&frame);
    assert!(found(&decoded, CODE, Symbology::Code128), "{decoded:?}");
}

#[test]
fn qr_and_code128_both_decode() {
    let label = place(&qr(4), 640, 480, 40, 40);
    let barcode = code128(2);
    let frame = label.map(|x, y| {
        let (left, top) = (300, 300);
        let inside = x >= left && y >= top && x < left + barcode.width && y < top + barcode.height;
        if inside {
            barcode.at(i64::from(x - left), i64::from(y - top)) as u8
        } else {
            label.at(x.into(), y.into()) as u8
        }
    });
    let decoded = decode_camera(&frame);
    assert!(found(&decoded, CODE, Symbology::Qr), "{decoded:?}");
    assert!(found(&decoded, CODE, Symbology::Code128), "{decoded:?}");
}

#[test]
fn all_black_frame_finds_nothing() {
    let pixels = vec![0; 640 * 480];
    let decoded = Decoder::default().decode_luma(&pixels, 640, 480);
    assert_eq!(decoded, Ok(Vec::new()));
}

#[test]
fn all_white_frame_finds_nothing() {
    let pixels = vec![255; 1280 * 720];
    let decoded = Decoder::default().decode_luma(&pixels, 1280, 720);
    assert_eq!(decoded, Ok(Vec::new()));
}

#[test]
fn noise_frame_finds_nothing() {
    let gray = Picture { pixels: vec![128; 640 * 480], width: 640, height: 480 };
    let decoded = decode_still(&add_noise(&gray, 127));
    assert_eq!(decoded, Vec::new());
}

#[test]
fn one_pixel_frame_finds_nothing() {
    let decoded = Decoder::default().decode_luma(&[0], 1, 1);
    assert_eq!(decoded, Ok(Vec::new()));
}

#[test]
fn one_row_frame_finds_nothing() {
    let pixels: Vec<u8> = (0..2000).map(|x| if x % 7 < 3 { 0 } else { 255 }).collect();
    let decoded = Decoder::default().decode_luma(&pixels, 2000, 1);
    assert_eq!(decoded, Ok(Vec::new()));
}

#[test]
fn truncated_buffer_is_rejected() {
    let pixels = vec![0; 640 * 479];
    let decoded = Decoder::default().decode_luma(&pixels, 640, 480);
    assert_eq!(decoded, Err(DecodeError::FrameSize { width: 640, height: 480, len: 640 * 479 }));
}

#[test]
fn oversized_buffer_is_rejected() {
    let pixels = vec![0; 100];
    let decoded = Decoder::default().decode_luma(&pixels, 9, 9);
    assert_eq!(decoded, Err(DecodeError::FrameSize { width: 9, height: 9, len: 100 }));
}

#[test]
fn zero_width_frame_is_rejected() {
    let decoded = Decoder::default().decode_luma(&[], 0, 480);
    assert_eq!(decoded, Err(DecodeError::FrameSize { width: 0, height: 480, len: 0 }));
}

#[test]
fn overflowing_dimensions_are_rejected() {
    let decoded = Decoder::default().decode_luma(&[0; 16], u32::MAX, u32::MAX);
    assert!(decoded.is_err());
}

#[test]
fn frame_size_error_names_both_sizes() {
    let error = DecodeError::FrameSize { width: 4, height: 3, len: 5 };
    assert_eq!(
        error.to_string(),
        "invalid luma frame: 4x3 pixels need 12 bytes but the buffer holds 5"
    );
}

#[test]
fn panicking_decoder_returns_none() {
    let panics = AtomicU64::new(0);
    let result: Option<u8> = engines::guarded("test", &panics, || panic!("decoder bug"));
    assert_eq!(result, None);
}

#[test]
fn panicking_decoder_is_counted() {
    let panics = AtomicU64::new(0);
    let _ = engines::guarded("test", &panics, || -> u8 { panic!("decoder bug") });
    let _ = engines::guarded("test", &panics, || -> u8 { panic!("{}", String::from("again")) });
    assert_eq!(panics.load(Ordering::Relaxed), 2);
}

#[test]
fn working_decoder_passes_through() {
    let panics = AtomicU64::new(0);
    let result = engines::guarded("test", &panics, || 7);
    assert_eq!(result, Some(7));
    assert_eq!(panics.load(Ordering::Relaxed), 0);
}

#[test]
fn decoder_panic_count_starts_at_zero() {
    let decoder = Decoder::default();
    let _ = decoder.decode(qr(3).frame());
    assert_eq!(decoder.panic_count(), 0);
}

#[test]
fn decoder_read_with_catches_panic() {
    let decoder = Decoder::default();
    let reading = decoder.read_with("test", || panic!("decoder bug"));
    assert!(reading.decoded.is_empty());
    assert_eq!(decoder.panic_count(), 1);
    assert_eq!(decoder.panic_counter().load(Ordering::Relaxed), 1);
}

#[test]
fn decoded_debug_hides_text() {
    let decoded = Decoded { text: CODE.to_owned(), symbology: Symbology::Qr };
    let printed = format!("{decoded:?}");
    assert!(!printed.contains(CODE), "{printed}");
    assert!(printed.contains("text_len: 6"), "{printed}");
}

#[test]
fn symbology_names_are_standard() {
    assert_eq!(Symbology::Ean13.to_string(), "EAN-13");
    assert_eq!(Symbology::Qr.as_str(), "qr_code");
    assert_eq!(serde_json::to_string(&Symbology::Code128).unwrap(), "\"code_128\"");
}

#[test]
fn downscale_averages_blocks() {
    let pixels = [0, 100, 200, 255, 50, 150, 250, 255, 9, 9, 9, 9];
    let frame = LumaFrame::new(&pixels, 4, 3).unwrap();
    let small = frame::downscale(frame, 2);
    assert_eq!((small.width, small.height), (2, 1));
    assert_eq!(small.pixels, vec![75, 240]);
}

/// Both loops of `downscale` (factor 2, any other factor) give the plain
/// block average, edges dropped, on odd sizes too.
#[test]
fn downscale_matches_block_average() {
    for (width, height) in [(7, 5), (8, 6), (13, 9)] {
        let pixels: Vec<u8> = (0..width * height).map(|i| (i * 37 % 256) as u8).collect();
        let frame = LumaFrame::new(&pixels, width, height).unwrap();
        for factor in 1..=4u32 {
            let small = frame::downscale(frame, factor);
            let (w, h) = (width / factor, height / factor);
            assert_eq!((small.width, small.height), (w, h), "{width}x{height} by {factor}");
            for y in 0..h {
                for x in 0..w {
                    let mut sum = 0u32;
                    for dy in 0..factor {
                        for dx in 0..factor {
                            let index = (y * factor + dy) * width + x * factor + dx;
                            sum += u32::from(pixels[index as usize]);
                        }
                    }
                    let expected = (sum / (factor * factor)) as u8;
                    let actual = small.pixels[(y * w + x) as usize];
                    assert_eq!(actual, expected, "{width}x{height} by {factor} at ({x}, {y})");
                }
            }
        }
    }
}

#[test]
fn mirror_reverses_each_row() {
    let pixels = [1, 2, 3, 4, 5, 6];
    let frame = LumaFrame::new(&pixels, 3, 2).unwrap();
    assert_eq!(frame::mirror(frame).pixels, vec![3, 2, 1, 6, 5, 4]);
}

#[test]
fn rows_view_selects_band() {
    let pixels = [1, 2, 3, 4, 5, 6];
    let frame = LumaFrame::new(&pixels, 2, 3).unwrap();
    let band = frame.rows(1, 3);
    assert_eq!(band.pixels(), [3, 4, 5, 6]);
    assert_eq!(band.height(), 2);
}

#[test]
fn ean13_near_top_edge_decodes() {
    let frame = place(&ean13(1), 640, 480, 100, 0);
    let decoded = decode_camera(&frame);
    assert!(found(&decoded, EAN13, Symbology::Ean13), "{decoded:?}");
}
