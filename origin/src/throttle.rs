//! Login throttling: fixed windows of failed attempts per account and per client IP.
//!
//! Checked before the password is verified, so a locked-out account costs no argon2
//! work. Kept in memory (per node): a restart forgets it, and with several nodes an
//! attacker gets the limit once per node, which is still a small constant.

use std::collections::HashMap;
use std::sync::Mutex;

/// Most keys tracked; beyond this, expired windows are pruned and then new keys are not
/// tracked (argon2's cost still bounds the attempt rate).
pub const MAX_TRACKED: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct Window {
    start: u64,
    failures: u32,
}

/// Failed-attempt counters.
pub struct Throttle {
    windows: Mutex<HashMap<String, Window>>,
    window: u64,
}

impl Throttle {
    /// Windows of `window` seconds.
    pub fn new(window: u64) -> Self {
        Throttle { windows: Mutex::new(HashMap::new()), window }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Window>> {
        self.windows.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Err(retry_after_seconds)` if any `(key, limit)` has reached its limit at `now`.
    pub fn check(&self, keys: &[(&str, u32)], now: u64) -> Result<(), u64> {
        let map = self.lock();
        let mut retry = 0;
        for (key, limit) in keys {
            if let Some(w) = map.get(*key) {
                let end = w.start.saturating_add(self.window);
                if now < end && w.failures >= *limit {
                    retry = retry.max(end - now);
                }
            }
        }
        if retry > 0 {
            Err(retry)
        } else {
            Ok(())
        }
    }

    /// Counts one failure against every key.
    pub fn fail(&self, keys: &[&str], now: u64) {
        let mut map = self.lock();
        if map.len() >= MAX_TRACKED {
            let window = self.window;
            map.retain(|_, w| now < w.start.saturating_add(window));
        }
        for key in keys {
            if let Some(w) = map.get_mut(*key) {
                if now >= w.start.saturating_add(self.window) {
                    *w = Window { start: now, failures: 0 };
                }
                w.failures = w.failures.saturating_add(1);
            } else if map.len() < MAX_TRACKED {
                map.insert((*key).to_string(), Window { start: now, failures: 1 });
            }
        }
    }

    /// Forgets a key (after a successful login for the account).
    pub fn reset(&self, key: &str) {
        self.lock().remove(key);
    }

    /// Drops expired windows; returns how many remain.
    pub fn prune(&self, now: u64) -> usize {
        let mut map = self.lock();
        let window = self.window;
        map.retain(|_, w| now < w.start.saturating_add(window));
        map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_limit_until_window_ends() {
        let t = Throttle::new(100);
        for _ in 0..3 {
            assert!(t.check(&[("a", 3)], 10).is_ok());
            t.fail(&["a"], 10);
        }
        assert_eq!(t.check(&[("a", 3)], 10), Err(100));
        assert_eq!(t.check(&[("a", 3)], 60), Err(50));
        assert!(t.check(&[("a", 3)], 110).is_ok());
        assert_eq!(t.prune(110), 0);
    }
}
