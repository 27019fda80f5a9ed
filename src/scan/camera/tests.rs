//! Worker tests against a scripted frame source, plus the pure parts:
//! repeat filtering, format choice and luma conversion.

use std::collections::VecDeque;
use std::time::Instant;

use nokhwa::utils::{CameraFormat, FrameFormat};
use rxing::{BarcodeFormat, MultiFormatWriter, Writer};

use super::repeat::RepeatFilter;
use super::source::{choose_format, to_luma};
use super::*;
use crate::scan::decode::{LumaImage, Symbology};

/// A camera that plays back a script of open results and frames.
struct ScriptedSource {
    opens: VecDeque<Result<(u32, u32), CameraError>>,
    frames: VecDeque<Result<LumaImage, CameraError>>,
}

impl FrameSource for ScriptedSource {
    fn open(&mut self) -> Result<(u32, u32), CameraError> {
        self.opens.pop_front().unwrap_or(Err(CameraError::NotFound))
    }

    fn frame(&mut self) -> Result<LumaImage, CameraError> {
        self.frames.pop_front().unwrap_or(Err(CameraError::Capture("script ended".to_owned())))
    }

    fn close(&mut self) {}
}

fn fast_config() -> CameraConfig {
    CameraConfig {
        forget_after: 3,
        retry_min: Duration::from_millis(1),
        retry_max: Duration::from_millis(4),
        ..CameraConfig::default()
    }
}

fn qr_frame(text: &str) -> LumaImage {
    let matrix = MultiFormatWriter.encode(text, &BarcodeFormat::QR_CODE, 0, 0).unwrap();
    let module = 4;
    let (width, height) = (matrix.width() * module, matrix.height() * module);
    let mut pixels = Vec::with_capacity((width * height) as usize);
    for y in 0..height {
        for x in 0..width {
            pixels.push(if matrix.get(x / module, y / module) { 0 } else { 255 });
        }
    }
    LumaImage::new(pixels, width, height).unwrap()
}

fn blank_frame() -> LumaImage {
    LumaImage::new(vec![200; 160 * 120], 160, 120).unwrap()
}

fn start(source: ScriptedSource) -> CameraScanner {
    CameraScanner::start_with(fast_config(), move || source).unwrap()
}

fn drain(scanner: &CameraScanner) -> Vec<Decoded> {
    let mut codes = Vec::new();
    while let Some(code) = scanner.recv_timeout(Duration::from_secs(5)) {
        codes.push(code);
    }
    codes
}

fn wait_for_state(scanner: &CameraScanner, expected: impl Fn(&CameraState) -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if expected(&scanner.state()) {
            return true;
        }
        thread::sleep(Duration::from_millis(2));
    }
    false
}

fn decoded(text: &str) -> Decoded {
    Decoded { text: text.to_owned(), symbology: Symbology::Qr }
}

#[test]
fn code_in_consecutive_frames_reported_once() {
    let frames = (0..5).map(|_| Ok(qr_frame("483920"))).collect();
    let scanner = start(ScriptedSource { opens: [Ok((100, 100))].into(), frames });
    let codes = drain(&scanner);
    assert_eq!(codes.len(), 1);
    assert_eq!(codes[0].text, "483920");
}

#[test]
fn code_reported_again_after_gap() {
    let mut frames = VecDeque::new();
    frames.push_back(Ok(qr_frame("483920")));
    frames.extend((0..3).map(|_| Ok(blank_frame())));
    frames.push_back(Ok(qr_frame("483920")));
    let scanner = start(ScriptedSource { opens: [Ok((100, 100))].into(), frames });
    assert_eq!(drain(&scanner).len(), 2);
}

#[test]
fn code_missing_briefly_not_repeated() {
    let mut frames = VecDeque::new();
    frames.push_back(Ok(qr_frame("483920")));
    frames.extend((0..2).map(|_| Ok(blank_frame())));
    frames.push_back(Ok(qr_frame("483920")));
    let scanner = start(ScriptedSource { opens: [Ok((100, 100))].into(), frames });
    assert_eq!(drain(&scanner).len(), 1);
}

#[test]
fn two_codes_both_reported() {
    let frames = [Ok(qr_frame("483920")), Ok(qr_frame("115577"))].into();
    let scanner = start(ScriptedSource { opens: [Ok((100, 100))].into(), frames });
    let texts: Vec<String> = drain(&scanner).into_iter().map(|code| code.text).collect();
    assert_eq!(texts, ["483920", "115577"]);
}

#[test]
fn bad_frame_skipped_stream_continues() {
    let frames =
        [Err(CameraError::BadFrame("corrupt MJPEG".to_owned())), Ok(qr_frame("483920"))].into();
    let scanner = start(ScriptedSource { opens: [Ok((100, 100))].into(), frames });
    assert_eq!(drain(&scanner).len(), 1);
}

#[test]
fn missing_camera_reports_no_camera() {
    let scanner = start(ScriptedSource { opens: VecDeque::new(), frames: VecDeque::new() });
    let no_camera = wait_for_state(&scanner, |state| matches!(state, CameraState::NoCamera { .. }));
    assert!(no_camera, "state: {:?}", scanner.state());
    assert_eq!(scanner.state().to_string(), "no camera found");
}

#[test]
fn busy_camera_retried_until_open() {
    let busy = || Err(CameraError::Busy("Device or resource busy (os error 16)".to_owned()));
    let opens = [busy(), busy(), busy(), Ok((100, 100))].into();
    let scanner = start(ScriptedSource { opens, frames: [Ok(qr_frame("483920"))].into() });
    assert_eq!(drain(&scanner).len(), 1);
}

#[test]
fn busy_camera_shows_busy_state() {
    let busy = || Err(CameraError::Busy("Device or resource busy (os error 16)".to_owned()));
    let opens = (0..10_000).map(|_| busy()).collect();
    let scanner = start(ScriptedSource { opens, frames: VecDeque::new() });
    let is_busy = wait_for_state(&scanner, |state| matches!(state, CameraState::Busy { .. }));
    assert!(is_busy, "state: {:?}", scanner.state());
}

#[test]
fn stop_ends_worker_and_state() {
    let mut scanner = start(ScriptedSource { opens: VecDeque::new(), frames: VecDeque::new() });
    scanner.stop();
    assert_eq!(scanner.state(), CameraState::Stopped);
    assert_eq!(scanner.recv(), None);
}

#[test]
fn streaming_state_carries_frame_size() {
    let frames = (0..100_000).map(|_| Ok(blank_frame())).collect();
    let scanner = start(ScriptedSource { opens: [Ok((160, 120))].into(), frames });
    let streaming = wait_for_state(&scanner, |state| {
        *state == CameraState::Streaming { width: 160, height: 120 }
    });
    assert!(streaming, "state: {:?}", scanner.state());
}

#[test]
fn retry_delay_doubles_up_to_max() {
    let (_stop, stop_receiver) = mpsc::channel();
    let (results, _receiver) = mpsc::sync_channel(1);
    let (frames, _frame_receiver) = mpsc::sync_channel(1);
    let config = CameraConfig::default();
    let worker = Worker {
        repeats: RepeatFilter::new(1),
        decoder: Decoder::default(),
        state: Arc::new(Mutex::new(CameraState::Starting)),
        config,
        results,
        capture: Arc::new(AtomicBool::new(false)),
        frames,
        stop: stop_receiver,
    };
    assert_eq!(worker.retry_delay(1), Duration::from_millis(500));
    assert_eq!(worker.retry_delay(2), Duration::from_secs(1));
    assert_eq!(worker.retry_delay(4), Duration::from_secs(4));
    assert_eq!(worker.retry_delay(40), Duration::from_secs(10));
}

#[test]
fn real_camera_absent_reports_no_camera() {
    // Only meaningful on a machine without a camera, such as CI.
    if std::path::Path::new("/dev/video0").exists() {
        return;
    }
    let scanner = CameraScanner::start(CameraConfig::default()).unwrap();
    let no_camera = wait_for_state(&scanner, |state| matches!(state, CameraState::NoCamera { .. }));
    assert!(no_camera, "state: {:?}", scanner.state());
}

#[test]
fn repeat_filter_passes_new_code() {
    let mut filter = RepeatFilter::new(2);
    assert_eq!(filter.admit(vec![decoded("1")]), vec![decoded("1")]);
}

#[test]
fn repeat_filter_holds_code_in_view() {
    let mut filter = RepeatFilter::new(2);
    filter.admit(vec![decoded("1")]);
    filter.admit(vec![]);
    assert_eq!(filter.admit(vec![decoded("1")]), vec![]);
}

#[test]
fn repeat_filter_forgets_after_gap() {
    let mut filter = RepeatFilter::new(2);
    filter.admit(vec![decoded("1")]);
    filter.admit(vec![]);
    filter.admit(vec![]);
    assert_eq!(filter.admit(vec![decoded("1")]), vec![decoded("1")]);
}

#[test]
fn repeat_filter_tells_symbologies_apart() {
    let mut filter = RepeatFilter::new(2);
    filter.admit(vec![decoded("1")]);
    let linear = Decoded { text: "1".to_owned(), symbology: Symbology::Code128 };
    assert_eq!(filter.admit(vec![linear.clone()]), vec![linear]);
}

fn format(width: u32, height: u32, format: FrameFormat, rate: u32) -> CameraFormat {
    CameraFormat::new_from(width, height, format, rate)
}

#[test]
fn format_choice_prefers_closest_size() {
    let offered = [
        format(640, 480, FrameFormat::YUYV, 30),
        format(1280, 720, FrameFormat::MJPEG, 30),
        format(1920, 1080, FrameFormat::MJPEG, 30),
    ];
    let chosen = choose_format(&offered, &CameraConfig::default());
    assert_eq!(chosen, Some(offered[1]));
}

#[test]
fn format_choice_prefers_uncompressed_at_same_size() {
    let offered =
        [format(1280, 720, FrameFormat::MJPEG, 30), format(1280, 720, FrameFormat::YUYV, 30)];
    let chosen = choose_format(&offered, &CameraConfig::default());
    assert_eq!(chosen, Some(offered[1]));
}

#[test]
fn format_choice_skips_unknown_formats() {
    let offered = [format(1280, 720, FrameFormat::RAWRGB, 30)];
    assert_eq!(choose_format(&offered, &CameraConfig::default()), None);
}

#[test]
fn yuyv_keeps_luma_bytes() {
    let bytes = [10, 128, 20, 128, 30, 128, 40, 128];
    let luma = to_luma(FrameFormat::YUYV, 2, 2, &bytes).unwrap();
    assert_eq!(luma.view().pixels(), [10, 20, 30, 40]);
}

#[test]
fn rgb_weighted_to_luma() {
    let bytes = [255, 255, 255, 255, 0, 0];
    let luma = to_luma(FrameFormat::RAWRGB, 2, 1, &bytes).unwrap();
    assert_eq!(luma.view().pixels(), [255, 76]);
}

#[test]
fn bgr_weighted_to_luma() {
    let bytes = [0, 0, 255];
    let luma = to_luma(FrameFormat::RAWBGR, 1, 1, &bytes).unwrap();
    assert_eq!(luma.view().pixels(), [76]);
}

#[test]
fn truncated_yuyv_is_bad_frame() {
    let result = to_luma(FrameFormat::YUYV, 2, 2, &[0; 7]);
    assert!(matches!(result, Err(CameraError::BadFrame(_))));
}

#[test]
fn invalid_mjpeg_is_bad_frame() {
    let result = to_luma(FrameFormat::MJPEG, 2, 2, b"not a jpeg");
    assert!(matches!(result, Err(CameraError::BadFrame(_))));
}

#[test]
fn busy_error_classified_as_busy() {
    let error =
        nokhwa::NokhwaError::OpenStreamError("Device or resource busy (os error 16)".into());
    assert!(matches!(source::classify(error), CameraError::Busy(_)));
}

#[test]
fn missing_device_classified_as_not_found() {
    let error = nokhwa::NokhwaError::OpenDeviceError(
        "0".into(),
        "V4L2 Error: No such file or directory (os error 2)".into(),
    );
    assert_eq!(source::classify(error), CameraError::NotFound);
}

/// A camera that shows the same blank frame forever, a little slowly.
struct SteadySource;

impl FrameSource for SteadySource {
    fn open(&mut self) -> Result<(u32, u32), CameraError> {
        Ok((160, 120))
    }

    fn frame(&mut self) -> Result<LumaImage, CameraError> {
        thread::sleep(Duration::from_millis(5));
        Ok(blank_frame())
    }

    fn close(&mut self) {}
}

#[test]
fn captured_frame_arrives_once() {
    let scanner = CameraScanner::start_with(fast_config(), || SteadySource).unwrap();
    assert!(scanner.try_frame().is_none(), "no frame before one is asked for");
    scanner.capture_frame();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut frame = None;
    while frame.is_none() && Instant::now() < deadline {
        frame = scanner.try_frame();
        thread::sleep(Duration::from_millis(2));
    }
    let frame = frame.expect("the worker sent the requested frame");
    assert_eq!((frame.view().width(), frame.view().height()), (160, 120));
    thread::sleep(Duration::from_millis(50));
    assert!(scanner.try_frame().is_none(), "one request sends one frame");
}
