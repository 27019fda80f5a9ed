//! Tones that go with every outcome, so the clerk hears the result without
//! looking.

use std::cell::Cell;

/// The sound of an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Success,
    Warning,
    Error,
}

/// Output of tones, recording the last one so tests can check it.
#[derive(Debug, Default)]
pub struct ToneSink {
    last: Cell<Option<Tone>>,
    count: Cell<u32>,
}

impl ToneSink {
    pub fn play(&self, tone: Tone) {
        self.last.set(Some(tone));
        self.count.set(self.count.get() + 1);
        // NOTE: no audio device is driven yet; the tone is only logged.
        tracing::debug!(?tone, "ui: tone");
    }

    pub fn last(&self) -> Option<Tone> {
        self.last.get()
    }

    pub fn count(&self) -> u32 {
        self.count.get()
    }
}
