//! Tones that go with every outcome, so the clerk hears the result without
//! looking.
//!
//! The tones are synthesized in code and played on the default audio output
//! through cpal (ALSA on Linux) by a thread of their own, so the UI thread
//! only sends a message. Without an audio device the app logs that once and
//! goes on silently.

use std::cell::Cell;
use std::collections::VecDeque;
use std::f32::consts::TAU;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};

/// The sound of an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Success,
    Warning,
    Error,
}

/// One note of a tone: a frequency in hertz (0 for a rest) and a length in
/// milliseconds.
type Note = (f32, u32);

impl Tone {
    /// Returns the notes: a short rising pair for success, two equal beeps
    /// for a warning and one long low note for an error, so the three differ
    /// in pitch and rhythm.
    fn notes(self) -> &'static [Note] {
        match self {
            Tone::Success => &[(880.0, 70), (1320.0, 90)],
            Tone::Warning => &[(660.0, 110), (0.0, 60), (660.0, 110)],
            Tone::Error => &[(220.0, 320)],
        }
    }

    /// Synthesizes the tone as mono samples from -1 to 1 at `sample_rate`
    /// hertz. Each note fades in and out over 5 ms, so it starts and ends
    /// without a click.
    pub fn samples(self, sample_rate: u32) -> Vec<f32> {
        let rate = sample_rate as f32;
        let fade = (rate * 0.005).max(1.0);
        let mut samples = Vec::new();
        for &(frequency, millis) in self.notes() {
            let count = (rate * millis as f32 / 1000.0) as usize;
            for index in 0..count {
                if frequency == 0.0 {
                    samples.push(0.0);
                    continue;
                }
                let from_edge = index.min(count - 1 - index) as f32;
                let envelope = (from_edge / fade).min(1.0);
                let phase = TAU * frequency * index as f32 / rate;
                samples.push(0.4 * envelope * phase.sin());
            }
        }
        samples
    }
}

/// Output of tones, recording the last one so tests can check it.
#[derive(Debug, Default)]
pub struct ToneSink {
    last: Cell<Option<Tone>>,
    count: Cell<u32>,
    speaker: Option<Speaker>,
}

impl ToneSink {
    /// Returns a sink that also plays every tone on the default audio
    /// output. A sink made with `default()` only records.
    pub fn with_audio() -> ToneSink {
        ToneSink { speaker: Speaker::start(), ..ToneSink::default() }
    }

    /// Records `tone` and queues it for the audio thread, without waiting.
    pub fn play(&self, tone: Tone) {
        self.last.set(Some(tone));
        self.count.set(self.count.get() + 1);
        tracing::debug!(?tone, "ui: tone");
        if let Some(speaker) = &self.speaker {
            speaker.play(tone);
        }
    }

    pub fn last(&self) -> Option<Tone> {
        self.last.get()
    }

    pub fn count(&self) -> u32 {
        self.count.get()
    }
}

/// The sending end of the audio thread.
#[derive(Debug)]
struct Speaker {
    tones: Sender<Tone>,
}

impl Speaker {
    /// Starts the audio thread. Returns `None`, after logging why, only when
    /// the thread cannot be started.
    fn start() -> Option<Speaker> {
        let (tones, receiver) = mpsc::channel();
        let spawned =
            std::thread::Builder::new().name("tones".to_owned()).spawn(move || run_audio(receiver));
        match spawned {
            Ok(_) => Some(Speaker { tones }),
            Err(error) => {
                tracing::warn!(%error, "ui: starting the tone thread failed; tones are not played");
                None
            }
        }
    }

    fn play(&self, tone: Tone) {
        // A closed channel means the audio thread found no device and ended,
        // which it has already logged.
        let _ = self.tones.send(tone);
    }
}

/// Samples waiting for the output callback, shared with the audio thread.
type Pending = Arc<Mutex<VecDeque<f32>>>;

/// Opens the default output and feeds it every tone received. Returns when
/// no output can be opened, or when the UI side drops its sender.
fn run_audio(tones: Receiver<Tone>) {
    let pending = Pending::default();
    let (stream, sample_rate) = match open_output(&pending) {
        Ok(opened) => opened,
        Err(reason) => {
            tracing::warn!(reason, "ui: no audio output; tones are not played");
            return;
        }
    };
    tracing::info!(sample_rate, "ui: audio output open for tones");
    while let Ok(tone) = tones.recv() {
        let samples = tone.samples(sample_rate);
        let mut queue = pending.lock().unwrap_or_else(PoisonError::into_inner);
        // A new outcome replaces a tone still playing, so the sound follows
        // the latest outcome on the screen.
        queue.clear();
        queue.extend(samples);
    }
    drop(stream);
}

/// Opens a stream on the default output device that plays `pending` and
/// silence after it. Returns the stream and its sample rate.
fn open_output(pending: &Pending) -> Result<(cpal::Stream, u32), String> {
    let device = cpal::default_host()
        .default_output_device()
        .ok_or_else(|| "no audio output device found".to_owned())?;
    let supported =
        device.default_output_config().map_err(|error| format!("no output format: {error}"))?;
    let config = supported.config();
    let stream = match supported.sample_format() {
        cpal::SampleFormat::F32 => build_stream::<f32>(&device, config, pending),
        cpal::SampleFormat::I16 => build_stream::<i16>(&device, config, pending),
        cpal::SampleFormat::U16 => build_stream::<u16>(&device, config, pending),
        cpal::SampleFormat::I32 => build_stream::<i32>(&device, config, pending),
        other => return Err(format!("sample format {other} is not supported")),
    }?;
    stream.play().map_err(|error| format!("starting playback failed: {error}"))?;
    Ok((stream, config.sample_rate))
}

fn build_stream<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    pending: &Pending,
) -> Result<cpal::Stream, String>
where
    T: cpal::SizedSample + cpal::FromSample<f32>,
{
    let channels = usize::from(config.channels).max(1);
    let pending = Arc::clone(pending);
    let write = move |data: &mut [T], _: &cpal::OutputCallbackInfo| {
        let mut queue = pending.lock().unwrap_or_else(PoisonError::into_inner);
        for frame in data.chunks_mut(channels) {
            let value = T::from_sample(queue.pop_front().unwrap_or(0.0));
            frame.fill(value);
        }
    };
    let report = |error: cpal::Error| tracing::warn!(%error, "ui: audio output failed");
    device
        .build_output_stream(config, write, report, None)
        .map_err(|error| format!("opening the output stream failed: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts sign changes, which is twice the frequency times the length.
    fn zero_crossings(samples: &[f32]) -> usize {
        samples.windows(2).filter(|pair| (pair[0] < 0.0) != (pair[1] < 0.0)).count()
    }

    #[test]
    fn tones_have_their_lengths() {
        assert_eq!(Tone::Success.samples(48_000).len(), 48 * 160);
        assert_eq!(Tone::Warning.samples(48_000).len(), 48 * 280);
        assert_eq!(Tone::Error.samples(48_000).len(), 48 * 320);
    }

    #[test]
    fn tones_differ_in_pitch() {
        let per_ms = |tone: Tone| {
            let samples = tone.samples(48_000);
            zero_crossings(&samples) as f32 / (samples.len() as f32 / 48.0)
        };
        assert!(per_ms(Tone::Success) > per_ms(Tone::Warning));
        assert!(per_ms(Tone::Warning) > per_ms(Tone::Error));
    }

    #[test]
    fn tones_stay_in_range_and_fade() {
        for tone in [Tone::Success, Tone::Warning, Tone::Error] {
            let samples = tone.samples(44_100);
            assert!(samples.iter().all(|sample| sample.abs() <= 0.4), "{tone:?}");
            assert!(samples.iter().any(|sample| sample.abs() > 0.3), "{tone:?} is silent");
            assert_eq!(samples[0], 0.0, "{tone:?} starts with a click");
            assert!(samples.last().unwrap().abs() < 0.01, "{tone:?} ends with a click");
        }
    }

    #[test]
    fn sink_with_audio_still_records() {
        let sink = ToneSink::with_audio();
        sink.play(Tone::Error);
        sink.play(Tone::Success);
        assert_eq!(sink.last(), Some(Tone::Success));
        assert_eq!(sink.count(), 2);
    }
}
