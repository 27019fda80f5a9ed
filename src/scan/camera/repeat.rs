//! Reporting a code once while it stays in view.

use std::collections::HashMap;

use crate::scan::decode::{Decoded, Symbology};

/// Passes each code through the first time it is seen, then withholds it
/// until it has been missing from `forget_after` frames in a row.
///
/// A phone held under the camera shows its code in most frames but not all
/// (blur, glare), so a short gap must not count as taking it away.
pub struct RepeatFilter {
    forget_after: u32,
    /// Frames since each code in view was last decoded.
    missing_for: HashMap<(Symbology, String), u32>,
}

impl RepeatFilter {
    pub fn new(forget_after: u32) -> Self {
        RepeatFilter { forget_after: forget_after.max(1), missing_for: HashMap::new() }
    }

    /// Takes the codes decoded from one frame and returns those not reported
    /// while they stayed in view.
    pub fn admit(&mut self, decoded: Vec<Decoded>) -> Vec<Decoded> {
        for missing in self.missing_for.values_mut() {
            *missing += 1;
        }
        let mut fresh = Vec::new();
        for symbol in decoded {
            let key = (symbol.symbology, symbol.text.clone());
            if self.missing_for.insert(key, 0).is_none() {
                fresh.push(symbol);
            }
        }
        let forget_after = self.forget_after;
        self.missing_for.retain(|_, missing| *missing < forget_after);
        fresh
    }

    /// Forgets every code, for when the stream restarts.
    pub fn clear(&mut self) {
        self.missing_for.clear();
    }
}
