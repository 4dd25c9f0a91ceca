//! The control plane's wall clock: the system clock plus a fixed offset.
//!
//! The offset is 0 in production. Tests set it (hidden `cgnatd --clock-offset-secs`) to make the
//! daemon live in the past, so that a port-block allocation it records "now" is one an abuse
//! lookup can find an hour later without waiting an hour. Only the control plane's times move
//! (registry, log records, API answers); workers keep their own monotonic clock.

use std::time::{Duration, SystemTime};

/// Wall clock with an offset. See the module documentation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    offset_ms: i64,
}

impl Clock {
    /// A clock `offset_secs` seconds ahead of the system clock (behind when negative).
    pub fn with_offset_secs(offset_secs: i64) -> Self {
        Self {
            offset_ms: offset_secs.saturating_mul(1000),
        }
    }

    /// The current time on this clock.
    pub fn now(&self) -> SystemTime {
        let now = SystemTime::now();
        let d = Duration::from_millis(self.offset_ms.unsigned_abs());
        if self.offset_ms >= 0 {
            now.checked_add(d).unwrap_or(now)
        } else {
            now.checked_sub(d).unwrap_or(now)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_moves_the_clock() {
        let c = Clock::with_offset_secs(-3600);
        let behind = SystemTime::now()
            .duration_since(c.now())
            .unwrap_or_default()
            .as_secs();
        assert!((3599..=3601).contains(&behind), "{behind}");
        assert!(Clock::default().now() <= SystemTime::now());
    }
}
