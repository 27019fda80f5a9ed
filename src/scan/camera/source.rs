//! Frames from a V4L2 camera through nokhwa, converted to luma.

use nokhwa::Camera;
use nokhwa::NokhwaError;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
};

use super::{CameraConfig, CameraError};
use crate::scan::decode::LumaImage;

/// Pixel formats the worker can turn into luma, cheapest first: the
/// uncompressed ones carry luma as it is, MJPEG must be decoded.
const FORMATS: [FrameFormat; 4] =
    [FrameFormat::GRAY, FrameFormat::YUYV, FrameFormat::NV12, FrameFormat::MJPEG];

/// A camera, or a stand-in for one in tests.
pub trait FrameSource {
    /// Opens the device and starts streaming. Returns the frame size.
    fn open(&mut self) -> Result<(u32, u32), CameraError>;

    /// Waits for the next frame. [`CameraError::BadFrame`] means this frame
    /// is lost but the stream goes on. Any other error ends the stream.
    fn frame(&mut self) -> Result<LumaImage, CameraError>;

    /// Stops streaming and releases the device.
    fn close(&mut self);
}

/// The camera at a V4L2 index, opened by nokhwa.
pub struct NokhwaSource {
    config: CameraConfig,
    camera: Option<Camera>,
}

impl NokhwaSource {
    pub fn new(config: CameraConfig) -> Self {
        NokhwaSource { config, camera: None }
    }
}

impl FrameSource for NokhwaSource {
    fn open(&mut self) -> Result<(u32, u32), CameraError> {
        let index = self.config.index;
        let cameras = nokhwa::query(ApiBackend::Video4Linux).map_err(classify)?;
        if !cameras.iter().any(|info| info.index() == &CameraIndex::Index(index)) {
            return Err(CameraError::NotFound);
        }

        let any_format = RequestedFormat::with_formats(RequestedFormatType::None, &FORMATS);
        let mut camera = Camera::new(CameraIndex::Index(index), any_format).map_err(classify)?;
        let formats = camera.compatible_camera_formats().map_err(classify)?;
        let chosen = choose_format(&formats, &self.config).ok_or_else(|| {
            CameraError::Open(format!(
                "camera {index} offers none of the pixel formats GRAY, YUYV, NV12, MJPEG"
            ))
        })?;
        let exact = RequestedFormat::with_formats(RequestedFormatType::Exact(chosen), &FORMATS);
        camera.set_camera_requset(exact).map_err(classify)?;
        camera.open_stream().map_err(classify)?;

        let resolution = camera.resolution();
        tracing::info!(
            camera = index,
            width = resolution.width(),
            height = resolution.height(),
            format = %camera.frame_format(),
            frame_rate = camera.frame_rate(),
            "camera: streaming"
        );
        self.camera = Some(camera);
        Ok((resolution.width(), resolution.height()))
    }

    fn frame(&mut self) -> Result<LumaImage, CameraError> {
        let camera = self.camera.as_mut().ok_or(CameraError::NotFound)?;
        let buffer = camera.frame().map_err(classify)?;
        let resolution = buffer.resolution();
        to_luma(
            buffer.source_frame_format(),
            resolution.width(),
            resolution.height(),
            buffer.buffer(),
        )
    }

    fn close(&mut self) {
        if let Some(mut camera) = self.camera.take()
            && let Err(error) = camera.stop_stream()
        {
            tracing::warn!(camera = self.config.index, %error, "camera: stopping the stream failed");
        }
    }
}

/// Picks the format closest to the configured size and frame rate, and at
/// equal distance the one cheapest to turn into luma.
pub fn choose_format(formats: &[CameraFormat], config: &CameraConfig) -> Option<CameraFormat> {
    let distance = |format: &CameraFormat| {
        let dx = i64::from(format.width()) - i64::from(config.width);
        let dy = i64::from(format.height()) - i64::from(config.height);
        let rate = i64::from(format.frame_rate()) - i64::from(config.frame_rate);
        let cost = FORMATS.iter().position(|known| *known == format.format()).unwrap_or(0);
        (dx * dx + dy * dy, rate.abs(), cost)
    };
    formats
        .iter()
        .filter(|format| FORMATS.contains(&format.format()))
        .min_by_key(|f| distance(f))
        .copied()
}

/// Converts a camera buffer to luma.
///
/// YUYV keeps every other byte, NV12 and GRAY keep the first plane, RGB and
/// BGR are weighted by ITU-R BT.601, and MJPEG goes through the `image`
/// crate's JPEG decoder. Note that some cameras send MJPEG frames without
/// Huffman tables, which that decoder may reject as [`CameraError::BadFrame`].
pub fn to_luma(
    format: FrameFormat,
    width: u32,
    height: u32,
    bytes: &[u8],
) -> Result<LumaImage, CameraError> {
    let pixels = width as usize * height as usize;
    let needed = match format {
        FrameFormat::GRAY | FrameFormat::NV12 | FrameFormat::MJPEG => pixels,
        FrameFormat::YUYV => pixels * 2,
        FrameFormat::RAWRGB | FrameFormat::RAWBGR => pixels * 3,
    };
    if format != FrameFormat::MJPEG && bytes.len() < needed {
        return Err(CameraError::BadFrame(format!(
            "truncated {format} frame: {width}x{height} needs {needed} bytes, got {}",
            bytes.len()
        )));
    }

    let luma = match format {
        FrameFormat::GRAY | FrameFormat::NV12 => bytes[..pixels].to_vec(),
        FrameFormat::YUYV => bytes[..needed].iter().step_by(2).copied().collect(),
        FrameFormat::RAWRGB => {
            bytes[..needed].chunks_exact(3).map(|p| bt601(p[0], p[1], p[2])).collect()
        }
        FrameFormat::RAWBGR => {
            bytes[..needed].chunks_exact(3).map(|p| bt601(p[2], p[1], p[0])).collect()
        }
        FrameFormat::MJPEG => return jpeg_to_luma(bytes),
    };
    LumaImage::new(luma, width, height).map_err(|error| CameraError::BadFrame(error.to_string()))
}

fn bt601(red: u8, green: u8, blue: u8) -> u8 {
    let weighted = 299 * u32::from(red) + 587 * u32::from(green) + 114 * u32::from(blue);
    (weighted / 1000) as u8
}

fn jpeg_to_luma(bytes: &[u8]) -> Result<LumaImage, CameraError> {
    let image = image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg)
        .map_err(|error| CameraError::BadFrame(format!("MJPEG frame: {error}")))?;
    let luma = image.into_luma8();
    let (width, height) = luma.dimensions();
    LumaImage::new(luma.into_raw(), width, height)
        .map_err(|error| CameraError::BadFrame(error.to_string()))
}

/// Sorts a nokhwa error into what the worker does about it.
///
/// A camera that another program streams from makes V4L2 return `EBUSY`
/// ("Device or resource busy", os error 16) when the stream starts. A
/// missing device node gives `ENOENT` (os error 2).
pub fn classify(error: NokhwaError) -> CameraError {
    let message = error.to_string();
    let lower = message.to_lowercase();
    if lower.contains("busy") || lower.contains("os error 16") {
        return CameraError::Busy(message);
    }
    if lower.contains("no such file") || lower.contains("os error 2)") {
        return CameraError::NotFound;
    }
    match error {
        NokhwaError::ReadFrameError(_) => CameraError::Capture(message),
        _ => CameraError::Open(message),
    }
}
