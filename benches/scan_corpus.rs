//! Decoding rate and time over a folder of barcode photos, plus the time per
//! synthetic camera frame.
//!
//! Run with `PICKUP_BARCODES_DIR=DIR cargo bench --bench scan_corpus`. The
//! photos are read from that folder, which contains a `MANIFEST.tsv`
//! (columns `file` and `category` first) and, beside each image, a `.txt`
//! file with its exact expected text. When
//! the variable is unset or the folder is missing, the corpus part is
//! skipped with a message and the run still succeeds.
//!
//! Every figure is the CPU time of the calling thread in `Decoder::decode`
//! alone, which other processes on the machine barely change, unlike wall
//! time. Loading and converting an image to luma is not timed. The decoders
//! run on the calling thread only.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::thread_cpu_time;
use pickup_terminal::scan::decode::{DecodeOptions, Decoder, LumaFrame};
use rxing::common::HybridBinarizer;
use rxing::{BarcodeFormat, BinaryBitmap, DecodeHints, Luma8Source, MultiFormatReader};
use rxing::{MultiFormatWriter, Reader, Writer};

/// The linear symbologies the terminal reads.
const LINEAR: [BarcodeFormat; 7] = [
    BarcodeFormat::CODE_128,
    BarcodeFormat::EAN_13,
    BarcodeFormat::EAN_8,
    BarcodeFormat::UPC_A,
    BarcodeFormat::UPC_E,
    BarcodeFormat::ITF,
    BarcodeFormat::CODE_39,
];

/// How often each synthetic frame is decoded; once in a smoke run.
const FRAME_RUNS: usize = 60;

struct Photo {
    category: String,
    path: PathBuf,
    expected: String,
}

#[derive(Default)]
struct Tally {
    images: usize,
    unreadable: usize,
    exact: usize,
    times: Vec<Duration>,
}

fn main() {
    let full = common::full_run();
    let dir = std::env::var_os("PICKUP_BARCODES_DIR").map(PathBuf::from);
    let manifest = dir.as_ref().map(|dir| dir.join("MANIFEST.tsv"));
    // Other processes on the machine slow every figure, so record the load.
    common::print_machine();
    if !full {
        println!("skipping the corpus in a smoke run");
    } else if let (Some(dir), Some(manifest)) = (&dir, manifest.filter(|path| path.is_file())) {
        let photos = load_manifest(dir, &manifest);
        for (name, options) in
            [("still", DecodeOptions::still()), ("camera", DecodeOptions::camera())]
        {
            println!("\n## Corpus, `DecodeOptions::{name}()`, {}\n", dir.display());
            report_corpus(&photos, options);
        }
        println!("\n## Each library alone, one call per photo, {}\n", dir.display());
        report_libraries(&photos);
    } else {
        let folder = dir.map_or("PICKUP_BARCODES_DIR is not set".to_owned(), |dir| {
            format!("{} contains no MANIFEST.tsv", dir.display())
        });
        println!("skipping the corpus: {folder}; set PICKUP_BARCODES_DIR to a photo folder");
    }
    report_frames(if full { FRAME_RUNS } else { 1 });
}

fn load_manifest(dir: &Path, manifest: &Path) -> Vec<Photo> {
    let text = std::fs::read_to_string(manifest).expect("MANIFEST.tsv is readable UTF-8");
    let mut photos = Vec::new();
    for line in text.lines().skip(1) {
        let mut columns = line.split('\t');
        let (Some(file), Some(category)) = (columns.next(), columns.next()) else {
            continue;
        };
        let path = dir.join(file);
        let expected = std::fs::read_to_string(path.with_extension("txt"))
            .unwrap_or_else(|error| panic!("{}: expected text unreadable: {error}", file));
        photos.push(Photo { category: category.to_owned(), path, expected });
    }
    photos
}

fn report_corpus(photos: &[Photo], options: DecodeOptions) {
    let decoder = Decoder::new(options);
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for photo in photos {
        let tally = tallies.entry(photo.category.clone()).or_default();
        tally.images += 1;
        let Ok(image) = image::open(&photo.path) else {
            tally.unreadable += 1;
            continue;
        };
        let luma = image.to_luma8();
        let frame = LumaFrame::new(luma.as_raw(), luma.width(), luma.height())
            .expect("an image buffer matches its dimensions");
        let start = thread_cpu_time();
        let decoded = decoder.decode(frame);
        tally.times.push(thread_cpu_time() - start);
        if decoded.iter().any(|symbol| symbol.text == photo.expected) {
            tally.exact += 1;
        }
    }

    println!("| folder | images | not loaded | exact | rate | median ms | p95 ms |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (category, tally) in &mut tallies {
        print_tally_row(category, tally);
    }
    for (group, prefix) in [("all QR", "qr"), ("all Code 128", "code128"), ("all EAN-13", "ean13")]
    {
        let mut total = Tally::default();
        for (category, tally) in &tallies {
            let is_qr_group = prefix == "qr" && category.starts_with("rqrr");
            if category.contains(prefix) || is_qr_group {
                total.images += tally.images;
                total.unreadable += tally.unreadable;
                total.exact += tally.exact;
                total.times.extend(&tally.times);
            }
        }
        print_tally_row(&format!("**{group}**"), &mut total);
    }
    println!("\ndecoder panics caught: {}", decoder.panic_count());
}

/// Times one plain call of each library per photo, with no shrinking,
/// inversion or retries: rxing's QR reader, rqrr, and rxing's linear
/// readers.
fn report_libraries(photos: &[Photo]) {
    let qr_hints = hints(&[BarcodeFormat::QR_CODE]);
    let linear_hints = hints(&LINEAR);
    let mut tallies: BTreeMap<String, [Tally; 3]> = BTreeMap::new();
    for photo in photos {
        let row = tallies.entry(photo.category.clone()).or_default();
        let Ok(image) = image::open(&photo.path) else {
            row.iter_mut().for_each(|tally| tally.unreadable += 1);
            continue;
        };
        let luma = image.to_luma8();
        let (width, height, pixels) = (luma.width(), luma.height(), luma.as_raw());
        let readers: [&dyn Fn() -> Option<String>; 3] = [
            &|| read_rxing(pixels, width, height, &qr_hints),
            &|| read_rqrr(pixels, width, height),
            &|| read_rxing(pixels, width, height, &linear_hints),
        ];
        for (tally, read) in row.iter_mut().zip(readers) {
            tally.images += 1;
            let start = thread_cpu_time();
            let text = read();
            tally.times.push(thread_cpu_time() - start);
            if text.as_deref() == Some(photo.expected.as_str()) {
                tally.exact += 1;
            }
        }
    }

    println!(
        "| folder | rxing QR exact | median ms | rqrr exact | median ms | rxing linear exact | median ms |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (category, row) in &mut tallies {
        let cells: Vec<String> = row
            .iter_mut()
            .map(|tally| {
                let median = millis(percentile(&mut tally.times, 50));
                format!("{} of {} | {median}", tally.exact, tally.images)
            })
            .collect();
        println!("| {category} | {} |", cells.join(" | "));
    }
}

fn hints(formats: &[BarcodeFormat]) -> DecodeHints {
    DecodeHints {
        PossibleFormats: Some(formats.iter().copied().collect()),
        TryHarder: Some(false),
        ..DecodeHints::default()
    }
}

fn read_rxing(pixels: &[u8], width: u32, height: u32, hints: &DecodeHints) -> Option<String> {
    let source = Luma8Source::new_with_slice(pixels, width, height).ok()?;
    let mut bitmap = BinaryBitmap::new(HybridBinarizer::new(source));
    let result = MultiFormatReader::default().decode_with_hints(&mut bitmap, hints).ok()?;
    Some(result.getText().to_owned())
}

fn read_rqrr(pixels: &[u8], width: u32, height: u32) -> Option<String> {
    let stride = width as usize;
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(stride, height as usize, |x, y| {
        pixels[y * stride + x]
    });
    let grids = image.detect_grids();
    grids.iter().find_map(|grid| grid.decode().ok()).map(|(_, text)| text)
}

fn print_tally_row(name: &str, tally: &mut Tally) {
    let rate = 100.0 * tally.exact as f64 / tally.images.max(1) as f64;
    println!(
        "| {name} | {} | {} | {} | {rate:.1} % | {} | {} |",
        tally.images,
        tally.unreadable,
        tally.exact,
        millis(percentile(&mut tally.times, 50)),
        millis(percentile(&mut tally.times, 95)),
    );
}

fn report_frames(runs: usize) {
    println!("\n## Synthetic frames, {runs} runs each\n");
    println!("| frame | options | found | median ms | p95 ms |");
    println!("| --- | --- | --- | --- | --- |");
    for (width, height) in [(640, 480), (1280, 720)] {
        let empty = scene(width, height);
        let mut with_qr = empty.clone();
        stamp(&mut with_qr, width, BarcodeFormat::QR_CODE, 4);
        let mut with_code128 = empty.clone();
        stamp(&mut with_code128, width, BarcodeFormat::CODE_128, 3);
        let frames = [("no code", &empty), ("QR code", &with_qr), ("Code 128", &with_code128)];
        for (label, pixels) in frames {
            for (name, options) in
                [("still", DecodeOptions::still()), ("camera", DecodeOptions::camera())]
            {
                let label = format!("{width}x{height}, {label}");
                time_frame(&label, name, options, pixels, width, runs);
            }
        }
    }
}

fn time_frame(
    label: &str,
    name: &str,
    options: DecodeOptions,
    pixels: &[u8],
    width: u32,
    runs: usize,
) {
    let height = pixels.len() as u32 / width;
    let frame = LumaFrame::new(pixels, width, height).expect("synthetic frame size");
    let decoder = Decoder::new(options);
    let mut times = Vec::with_capacity(runs);
    let mut found = 0;
    for _ in 0..runs {
        let start = thread_cpu_time();
        found = decoder.decode(frame).len();
        times.push(thread_cpu_time() - start);
    }
    let (median, p95) = (percentile(&mut times, 50), percentile(&mut times, 95));
    println!("| {label} | {name} | {found} | {} | {} |", millis(median), millis(p95));
}

/// Draws a textured background like a counter top under shop lighting: a
/// slow gradient with a fixed pseudo-random grain.
fn scene(width: u32, height: u32) -> Vec<u8> {
    let mut state: u32 = 0x9e37_79b9;
    let mut pixels = Vec::with_capacity((width * height) as usize);
    for y in 0..height {
        for x in 0..width {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let gradient = 90 + (x * 80 / width) + (y * 40 / height);
            pixels.push((gradient + state % 24) as u8);
        }
    }
    pixels
}

/// Encodes a six-digit code and paints it black on white in the centre of
/// the frame, `module` pixels per module.
fn stamp(pixels: &mut [u8], width: u32, format: BarcodeFormat, module: u32) {
    let matrix = MultiFormatWriter
        .encode("483920", &format, 0, 0)
        .expect("a six-digit code encodes as this symbology");
    let bar_height = if format == BarcodeFormat::QR_CODE { 1 } else { 30 };
    let (code_width, code_height) =
        (matrix.width() * module, matrix.height() * bar_height * module);
    let height = pixels.len() as u32 / width;
    let (left, top) = ((width - code_width) / 2, (height - code_height) / 2);
    let quiet = 4 * module;
    for y in top.saturating_sub(quiet)..(top + code_height + quiet).min(height) {
        for x in left.saturating_sub(quiet)..(left + code_width + quiet).min(width) {
            pixels[(y * width + x) as usize] = 235;
        }
    }
    for y in 0..code_height {
        for x in 0..code_width {
            let row = (y / module / bar_height).min(matrix.height() - 1);
            if matrix.get(x / module, row) {
                pixels[((top + y) * width + left + x) as usize] = 25;
            }
        }
    }
}

fn percentile(times: &mut [Duration], percent: usize) -> Duration {
    if times.is_empty() {
        return Duration::ZERO;
    }
    times.sort();
    times[(times.len() - 1) * percent / 100]
}

fn millis(duration: Duration) -> String {
    format!("{:.2}", duration.as_secs_f64() * 1000.0)
}
