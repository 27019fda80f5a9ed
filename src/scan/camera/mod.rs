//! Reading codes from the terminal's camera on a worker thread.
//!
//! [`CameraScanner::start`] opens the camera through nokhwa's V4L2 backend
//! and decodes every frame with [`Decoder`]. Each code comes out of the
//! channel once while it stays in view (see [`CameraConfig::forget_after`]).
//! A missing, busy or failing camera never ends the worker: it shows in
//! [`CameraScanner::state`] and the worker tries again with a growing delay.

mod repeat;
mod source;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::scan::decode::{DecodeOptions, Decoded, Decoder, LumaImage};

use repeat::RepeatFilter;
pub use source::FrameSource;
use source::NokhwaSource;

/// Decoded codes the UI has not taken yet. When it is full, new codes are
/// dropped and logged rather than stalling the camera.
const RESULT_CAPACITY: usize = 32;

/// The camera to open and how to read its frames.
#[derive(Debug, Clone)]
pub struct CameraConfig {
    /// V4L2 device index: 0 is `/dev/video0`.
    pub index: u32,
    /// Requested frame width in pixels. The camera's closest size is used.
    pub width: u32,
    /// Requested frame height in pixels.
    pub height: u32,
    /// Requested frames per second.
    pub frame_rate: u32,
    pub decode: DecodeOptions,
    /// Frames in a row a code must be missing from before it is reported
    /// again: about half a second at 30 frames per second.
    pub forget_after: u32,
    /// First delay before opening the camera again after a failure. It
    /// doubles with every failure in a row, up to `retry_max`.
    pub retry_min: Duration,
    pub retry_max: Duration,
}

impl Default for CameraConfig {
    fn default() -> Self {
        CameraConfig {
            index: 0,
            width: 1280,
            height: 720,
            frame_rate: 30,
            decode: DecodeOptions::camera(),
            forget_after: 15,
            retry_min: Duration::from_millis(500),
            retry_max: Duration::from_secs(10),
        }
    }
}

/// A reason the camera cannot be used right now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CameraError {
    #[error("no camera found")]
    NotFound,
    #[error("camera busy, in use by another program: {0}")]
    Busy(String),
    #[error("opening the camera failed: {0}")]
    Open(String),
    #[error("capturing a frame failed: {0}")]
    Capture(String),
    /// One frame could not be converted, but the stream goes on.
    #[error("invalid camera frame: {0}")]
    BadFrame(String),
    #[error("starting the camera thread failed: {0}")]
    Spawn(String),
}

/// The camera worker's activity, for the UI to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraState {
    /// Looking for and opening the camera.
    Starting,
    /// Frames are arriving and being decoded.
    Streaming { width: u32, height: u32 },
    /// No camera at the configured index. The worker looks again after
    /// `retry_in`.
    NoCamera { retry_in: Duration },
    /// Another program has the camera open. `attempt` counts the failed opens
    /// in a row.
    Busy { attempt: u32, retry_in: Duration },
    /// Opening or capturing failed for another reason.
    Failed { error: CameraError, attempt: u32, retry_in: Duration },
    /// [`CameraScanner::stop`] was called, or the scanner was dropped.
    Stopped,
}

impl fmt::Display for CameraState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CameraState::Starting => f.write_str("starting the camera"),
            CameraState::Streaming { width, height } => write!(f, "camera on ({width}x{height})"),
            CameraState::NoCamera { .. } => f.write_str("no camera found"),
            CameraState::Busy { retry_in, .. } => write!(
                f,
                "camera busy, in use by another program: retrying in {} s",
                retry_in.as_secs().max(1)
            ),
            CameraState::Failed { error, retry_in, .. } => {
                write!(f, "{error}: retrying in {} s", retry_in.as_secs().max(1))
            }
            CameraState::Stopped => f.write_str("camera stopped"),
        }
    }
}

/// A running camera worker and the channel of codes it decodes.
///
/// Dropping the scanner stops the worker and waits for it.
pub struct CameraScanner {
    results: Receiver<Decoded>,
    /// Set by [`CameraScanner::capture_frame`], cleared by the worker when it
    /// sends the next frame to `frames`.
    capture: Arc<AtomicBool>,
    frames: Receiver<LumaImage>,
    state: Arc<Mutex<CameraState>>,
    panics: Arc<AtomicU64>,
    stop: Option<Sender<()>>,
    worker: Option<JoinHandle<()>>,
}

impl CameraScanner {
    /// Starts the worker thread for the camera in `config`.
    ///
    /// Fails only when the thread cannot be started. A missing or busy
    /// camera shows in [`CameraScanner::state`] instead.
    pub fn start(config: CameraConfig) -> Result<CameraScanner, CameraError> {
        let source_config = config.clone();
        Self::start_with(config, move || NokhwaSource::new(source_config))
    }

    /// Starts the worker with a frame source built on the worker thread, so
    /// the source need not be `Send`. Tests use it to play back images.
    pub fn start_with<S, F>(
        config: CameraConfig,
        make_source: F,
    ) -> Result<CameraScanner, CameraError>
    where
        S: FrameSource,
        F: FnOnce() -> S + Send + 'static,
    {
        let (results_sender, results) = mpsc::sync_channel(RESULT_CAPACITY);
        let (stop, stop_receiver) = mpsc::channel();
        let (frame_sender, frames) = mpsc::sync_channel(1);
        let capture = Arc::new(AtomicBool::new(false));
        let state = Arc::new(Mutex::new(CameraState::Starting));
        let decoder = Decoder::new(config.decode);
        let panics = decoder.panic_counter();
        let worker = Worker {
            repeats: RepeatFilter::new(config.forget_after),
            config,
            decoder,
            state: Arc::clone(&state),
            results: results_sender,
            capture: Arc::clone(&capture),
            frames: frame_sender,
            stop: stop_receiver,
        };
        let handle = thread::Builder::new()
            .name("camera".to_owned())
            .spawn(move || worker.run(make_source()))
            .map_err(|error| CameraError::Spawn(error.to_string()))?;
        Ok(CameraScanner {
            results,
            capture,
            frames,
            state,
            panics,
            stop: Some(stop),
            worker: Some(handle),
        })
    }

    /// Requests a copy of the worker's next frame, which
    /// [`CameraScanner::try_frame`] then returns. The worker goes on
    /// decoding codes meanwhile.
    pub fn capture_frame(&self) {
        self.capture.store(true, Ordering::Relaxed);
    }

    /// Returns the frame asked for with [`CameraScanner::capture_frame`]
    /// once the worker has sent it.
    pub fn try_frame(&self) -> Option<LumaImage> {
        self.frames.try_recv().ok()
    }

    /// Waits for the next decoded code. Returns `None` once the worker has
    /// stopped and every code has been taken.
    pub fn recv(&self) -> Option<Decoded> {
        self.results.recv().ok()
    }

    /// Waits up to `timeout` for the next decoded code.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Decoded> {
        self.results.recv_timeout(timeout).ok()
    }

    /// Returns the next decoded code if one is waiting.
    pub fn try_recv(&self) -> Option<Decoded> {
        self.results.try_recv().ok()
    }

    pub fn state(&self) -> CameraState {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Returns how many panics inside the decoder libraries the worker has
    /// caught.
    pub fn decoder_panics(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }

    /// Stops the worker, releases the camera and waits for the thread to
    /// end. The worker notices between frames, so this takes up to one
    /// frame interval. Codes still in the channel can be read afterwards.
    ///
    /// NOTE: nokhwa's V4L2 capture waits for a frame without a timeout, so
    /// a camera that stops delivering frames without an error also holds up
    /// this call until its driver gives up.
    pub fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(worker) = self.worker.take()
            && worker.join().is_err()
        {
            tracing::error!("camera: worker thread panicked");
        }
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = CameraState::Stopped;
    }
}

impl Drop for CameraScanner {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The state the worker thread owns.
struct Worker {
    config: CameraConfig,
    decoder: Decoder,
    repeats: RepeatFilter,
    state: Arc<Mutex<CameraState>>,
    results: SyncSender<Decoded>,
    capture: Arc<AtomicBool>,
    frames: SyncSender<LumaImage>,
    stop: Receiver<()>,
}

/// The reason a stream ended.
enum StreamEnd {
    Stopped,
    Failed(CameraError),
}

impl Worker {
    fn run<S: FrameSource>(mut self, mut source: S) {
        let mut failures: u32 = 0;
        loop {
            if self.stop_requested() {
                break;
            }
            self.set_state(CameraState::Starting);
            let error = match source.open() {
                Ok((width, height)) => {
                    self.set_state(CameraState::Streaming { width, height });
                    let (end, frames) = self.stream(&mut source);
                    source.close();
                    self.repeats.clear();
                    if frames > 0 {
                        failures = 0;
                    }
                    match end {
                        StreamEnd::Stopped => break,
                        StreamEnd::Failed(error) => error,
                    }
                }
                Err(error) => error,
            };

            failures = failures.saturating_add(1);
            let retry_in = self.retry_delay(failures);
            self.report_failure(error, failures, retry_in);
            if self.wait_or_stop(retry_in) {
                break;
            }
        }
        source.close();
        self.set_state(CameraState::Stopped);
    }

    /// Reads and decodes frames until the source fails or a stop arrives.
    /// Returns why it ended and how many frames arrived.
    fn stream<S: FrameSource>(&mut self, source: &mut S) -> (StreamEnd, u64) {
        let mut frames = 0;
        let mut bad_frames: u64 = 0;
        loop {
            if self.stop_requested() {
                return (StreamEnd::Stopped, frames);
            }
            let image = match source.frame() {
                Ok(image) => image,
                Err(CameraError::BadFrame(reason)) => {
                    bad_frames += 1;
                    if bad_frames.is_power_of_two() {
                        tracing::warn!(bad_frames, reason, "camera: frame skipped");
                    }
                    continue;
                }
                Err(error) => return (StreamEnd::Failed(error), frames),
            };
            frames += 1;
            if self.capture.swap(false, Ordering::Relaxed) {
                // A full channel already contains an untaken frame, which
                // serves the request as well.
                let _ = self.frames.try_send(image.clone());
            }
            let decoded = self.decoder.decode(image.view());
            for symbol in self.repeats.admit(decoded) {
                self.send(symbol);
            }
        }
    }

    fn send(&self, symbol: Decoded) {
        // The length and symbology only: the text may be a customer's code.
        tracing::debug!(symbology = %symbol.symbology, len = symbol.text.len(), "camera: decoded");
        match self.results.try_send(symbol) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(symbol)) => {
                tracing::warn!(
                    symbology = %symbol.symbology,
                    capacity = RESULT_CAPACITY,
                    "camera: result channel full, code dropped"
                );
            }
        }
    }

    fn report_failure(&self, error: CameraError, attempt: u32, retry_in: Duration) {
        let retry_ms = retry_in.as_millis() as u64;
        let state = match error {
            CameraError::NotFound => {
                if attempt == 1 {
                    tracing::warn!(camera = self.config.index, retry_ms, "camera: no camera found");
                }
                CameraState::NoCamera { retry_in }
            }
            CameraError::Busy(reason) => {
                tracing::warn!(
                    camera = self.config.index,
                    attempt,
                    retry_ms,
                    reason,
                    "camera: busy"
                );
                CameraState::Busy { attempt, retry_in }
            }
            error => {
                tracing::warn!(camera = self.config.index, attempt, retry_ms, %error, "camera: failed");
                CameraState::Failed { error, attempt, retry_in }
            }
        };
        self.set_state(state);
    }

    fn retry_delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(16);
        self.config.retry_min.saturating_mul(1 << doublings).min(self.config.retry_max)
    }

    /// Sleeps for `delay` unless a stop arrives first. Returns true on stop.
    fn wait_or_stop(&self, delay: Duration) -> bool {
        !matches!(self.stop.recv_timeout(delay), Err(RecvTimeoutError::Timeout))
    }

    fn stop_requested(&self) -> bool {
        !matches!(self.stop.try_recv(), Err(mpsc::TryRecvError::Empty))
    }

    fn set_state(&self, state: CameraState) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
    }
}
