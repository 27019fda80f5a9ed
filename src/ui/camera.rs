//! The camera behind the handover screen's "Camera" button and the receive
//! screen's damage "Photo" button. A [`CameraScanner`] is started on
//! request and polled from a UI timer, so the UI thread does not wait for
//! frames while the camera looks for a code or takes a photo.

use std::cell::RefCell;
use std::time::Duration;

use slint::{Timer, TimerMode};

use super::text::tr;
use crate::scan::camera::{CameraConfig, CameraError, CameraScanner, CameraState};
use crate::scan::decode::LumaImage;
use crate::scan::{PickupCode, parse_pickup_code};

/// How often the screen takes decoded codes and the camera's state.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// A function that starts a camera worker. Tests pass one that plays back
/// generated images.
pub type CameraStarter = Box<dyn Fn() -> Result<CameraScanner, CameraError>>;

/// The result of one poll of the camera.
#[derive(Debug)]
pub enum CameraPoll {
    /// A pickup code was read.
    Code(PickupCode),
    /// No camera is attached.
    NoCamera,
    /// The camera is starting or looking, described for the clerk.
    Looking(String),
    /// The camera is not running.
    Idle,
}

/// The result of one poll of the camera for a photo.
pub enum PhotoPoll {
    /// The frame asked for with [`CameraLink::capture_frame`].
    Frame(LumaImage),
    /// No camera is attached.
    NoCamera,
    /// The camera is starting or has not sent the frame yet.
    Waiting,
}

/// The camera worker of the window, if one runs.
pub struct CameraLink {
    starter: CameraStarter,
    scanner: RefCell<Option<CameraScanner>>,
    timer: Timer,
}

impl CameraLink {
    /// Returns a link that starts cameras with `starter`, or with the first
    /// V4L2 camera when `starter` is `None`.
    pub fn new(starter: Option<CameraStarter>) -> CameraLink {
        let starter =
            starter.unwrap_or_else(|| Box::new(|| CameraScanner::start(CameraConfig::default())));
        CameraLink { starter, scanner: RefCell::new(None), timer: Timer::default() }
    }

    /// Starts the camera worker unless it runs already.
    pub fn start(&self) -> Result<(), CameraError> {
        if self.scanner.borrow().is_some() {
            return Ok(());
        }
        let scanner = (self.starter)()?;
        *self.scanner.borrow_mut() = Some(scanner);
        tracing::info!("ui: camera started");
        Ok(())
    }

    /// Calls `poll` on the UI thread every [`POLL_INTERVAL`] until
    /// [`CameraLink::stop`].
    pub fn poll_every_tick(&self, poll: impl FnMut() + 'static) {
        self.timer.start(TimerMode::Repeated, POLL_INTERVAL, poll);
    }

    /// Stops the poll timer and the worker, which releases the camera. This
    /// waits for the worker, which notices the stop between frames.
    pub fn stop(&self) {
        self.timer.stop();
        let scanner = self.scanner.borrow_mut().take();
        if scanner.is_some() {
            drop(scanner);
            tracing::info!("ui: camera stopped");
        }
    }

    /// Requests the running worker's next frame, for
    /// [`CameraLink::poll_photo`].
    pub fn capture_frame(&self) {
        if let Some(scanner) = self.scanner.borrow().as_ref() {
            scanner.capture_frame();
        }
    }

    /// Returns the frame asked for with [`CameraLink::capture_frame`] once
    /// it has arrived, or else whether a camera is attached.
    pub fn poll_photo(&self) -> PhotoPoll {
        let scanner = self.scanner.borrow();
        let Some(scanner) = scanner.as_ref() else { return PhotoPoll::NoCamera };
        if let Some(frame) = scanner.try_frame() {
            return PhotoPoll::Frame(frame);
        }
        match scanner.state() {
            CameraState::NoCamera { .. } => PhotoPoll::NoCamera,
            _ => PhotoPoll::Waiting,
        }
    }

    /// Takes the codes decoded since the last poll and returns the first
    /// pickup code among them, or else the camera's state.
    pub fn poll(&self) -> CameraPoll {
        let scanner = self.scanner.borrow();
        let Some(scanner) = scanner.as_ref() else { return CameraPoll::Idle };
        let mut other_code = false;
        while let Some(decoded) = scanner.try_recv() {
            match parse_pickup_code(&decoded.text) {
                Ok(code) => return CameraPoll::Code(code),
                Err(_) => other_code = true,
            }
        }
        match scanner.state() {
            CameraState::NoCamera { .. } => CameraPoll::NoCamera,
            CameraState::Starting => CameraPoll::Looking(tr("Starting the camera")),
            CameraState::Streaming { .. } if other_code => CameraPoll::Looking(tr(
                "That is not a pickup code: show the code from the text message",
            )),
            CameraState::Streaming { .. } => {
                CameraPoll::Looking(tr("Looking for a code: hold the phone up to the camera"))
            }
            // NOTE: the camera module's own state text stays in English.
            state => CameraPoll::Looking(state.to_string()),
        }
    }
}
