//! Time is an input: the core never reads a clock.

/// Seconds since the Unix epoch, supplied by the caller (the host clock).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(u64);

impl UnixTime {
    /// A point in time, in whole seconds since 1970-01-01T00:00:00Z.
    pub const fn from_secs(secs: u64) -> Self {
        UnixTime(secs)
    }

    /// Whole seconds since the epoch.
    pub const fn as_secs(self) -> u64 {
        self.0
    }
}
