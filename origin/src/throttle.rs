//! Login throttling: fixed windows of failed attempts per account and per client IP.
//!
//! Checked before the password is verified, so a locked-out account costs no argon2
//! work. An attempt reserves its place (`begin`) until its outcome is known, so parallel
//! requests cannot all pass the check before the first failure is counted: at most
//! `limit` password checks per key and window, however many arrive at once. Kept in memory (per node): a restart forgets it, and with several nodes an
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
    /// Attempts begun and not yet finished (their password check is running).
    pending: u32,
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

    /// Reserves one attempt against every `(key, limit)`, or `Err(retry_after_seconds)` if
    /// the failures so far plus the attempts still running reach a limit. The attempt
    /// ends with [`Attempt::failed`] or [`Attempt::succeeded`]; dropped (request
    /// cancelled), it only releases its reservation.
    pub fn begin<'a>(&'a self, keys: &[(&str, u32)], now: u64) -> Result<Attempt<'a>, u64> {
        let mut map = self.lock();
        let mut retry = 0;
        for (key, limit) in keys {
            if let Some(w) = map.get_mut(*key) {
                let end = w.start.saturating_add(self.window);
                if now >= end && w.pending == 0 {
                    *w = Window { start: now, failures: 0, pending: 0 };
                } else if now >= end {
                    // Expired, but attempts are still running: a fresh window that keeps them.
                    *w = Window { start: now, failures: 0, pending: w.pending };
                }
                let end = w.start.saturating_add(self.window);
                if w.failures >= *limit {
                    retry = retry.max(end - now);
                } else if w.failures.saturating_add(w.pending) >= *limit {
                    // Only running attempts stand in the way: ask to retry very soon.
                    retry = retry.max(1);
                }
            }
        }
        if retry > 0 {
            return Err(retry);
        }
        if map.len().saturating_add(keys.len()) > MAX_TRACKED {
            let window = self.window;
            map.retain(|_, w| w.pending > 0 || now < w.start.saturating_add(window));
        }
        let mut tracked = Vec::with_capacity(keys.len());
        for (key, _) in keys {
            if let Some(w) = map.get_mut(*key) {
                w.pending = w.pending.saturating_add(1);
            } else if map.len() < MAX_TRACKED {
                map.insert((*key).to_string(), Window { start: now, failures: 0, pending: 1 });
            } else {
                // Full: not tracked (argon2's cost still bounds the rate).
                continue;
            }
            tracked.push((*key).to_string());
        }
        Ok(Attempt { throttle: self, keys: tracked, now })
    }

    fn finish(&self, keys: &[String], now: u64, outcome: Option<bool>, reset: Option<&str>) {
        let mut map = self.lock();
        for key in keys {
            if let Some(w) = map.get_mut(key.as_str()) {
                w.pending = w.pending.saturating_sub(1);
                if outcome == Some(false) {
                    if now >= w.start.saturating_add(self.window) {
                        *w = Window { start: now, failures: 0, pending: w.pending };
                    }
                    w.failures = w.failures.saturating_add(1);
                }
            }
        }
        if let Some(k) = reset {
            if let Some(w) = map.get_mut(k) {
                w.failures = 0;
            }
        }
    }

    /// Counts one failure against every key.
    pub fn fail(&self, keys: &[&str], now: u64) {
        let mut map = self.lock();
        if map.len() >= MAX_TRACKED {
            let window = self.window;
            map.retain(|_, w| w.pending > 0 || now < w.start.saturating_add(window));
        }
        for key in keys {
            if let Some(w) = map.get_mut(*key) {
                if now >= w.start.saturating_add(self.window) {
                    *w = Window { start: now, failures: 0, pending: w.pending };
                }
                w.failures = w.failures.saturating_add(1);
            } else if map.len() < MAX_TRACKED {
                map.insert((*key).to_string(), Window { start: now, failures: 1, pending: 0 });
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
        map.retain(|_, w| w.pending > 0 || now < w.start.saturating_add(window));
        map.len()
    }
}

/// A reserved login attempt (see [`Throttle::begin`]).
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    keys: Vec<String>,
    now: u64,
}

impl Attempt<'_> {
    /// The password was wrong: one failure against every key.
    pub fn failed(mut self) {
        let keys = std::mem::take(&mut self.keys);
        self.throttle.finish(&keys, self.now, Some(false), None);
    }

    /// The password was right: releases the reservation and clears `reset`'s failures.
    pub fn succeeded(mut self, reset: &str) {
        let keys = std::mem::take(&mut self.keys);
        self.throttle.finish(&keys, self.now, Some(true), Some(reset));
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.keys.is_empty() {
            let keys = std::mem::take(&mut self.keys);
            self.throttle.finish(&keys, self.now, None, None);
        }
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

    #[test]
    fn running_attempts_count_against_the_limit_and_release_on_drop() {
        let t = Throttle::new(100);
        let a: Vec<_> = (0..3).map(|_| t.begin(&[("a", 3)], 10).unwrap()).collect();
        assert_eq!(t.begin(&[("a", 3)], 10).err(), Some(1), "three running attempts fill the limit");
        let mut a = a.into_iter();
        a.next().unwrap().failed();
        drop(a.next()); // cancelled: no failure counted
        a.next().unwrap().succeeded("other");
        let b = t.begin(&[("a", 3)], 10).unwrap();
        b.failed();
        t.begin(&[("a", 3)], 10).unwrap().failed();
        assert_eq!(t.begin(&[("a", 3)], 10).err(), Some(100));
        assert!(t.begin(&[("a", 3)], 110).is_ok(), "a new window");
    }
}
