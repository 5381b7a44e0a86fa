//! The emulator's clock: wall time plus an offset that tests can advance.

use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_secs: i64,
}

impl Clock {
    /// Unix seconds, as the emulator sees them.
    pub fn now(&self) -> i64 {
        wall_clock() + self.offset_secs
    }

    pub fn advance(&mut self, secs: i64) {
        self.offset_secs = self.offset_secs.saturating_add(secs);
    }

    pub fn offset(&self) -> i64 {
        self.offset_secs
    }
}

/// Real unix seconds; webhook signatures use this, since receivers check
/// them against their own real clock.
pub fn wall_clock() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now_forward() {
        let mut clock = Clock::default();
        let before = clock.now();
        clock.advance(3600);
        assert!(clock.now() >= before + 3600);
        assert_eq!(clock.offset(), 3600);
    }
}
