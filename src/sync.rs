//! The locks the core uses, with and without std.
//!
//! With `std`, [`Mutex`] and [`RwLock`] are std's (OS-backed: a waiting thread sleeps);
//! without it they are `spin`'s, so the token cache, the trust-state cell and the fast
//! path's lazy tables work on `no_std` targets too. Every critical section in the crate is
//! short (a map lookup, an `Arc` clone, a pointer swap), so spinning there is cheap.
//! A poisoned std lock is recovered: nothing the crate guards can be left half-updated by
//! a panic (values are replaced whole).

pub(crate) use mutex::Mutex;

/// A once-cell (`spin::Once`), available with and without std.
#[cfg(feature = "precomputed-tables")]
pub(crate) type Once<T> = spin::Once<T>;

#[cfg(feature = "std")]
mod mutex {
    pub(crate) type MutexGuard<'a, T> = std::sync::MutexGuard<'a, T>;

    /// std's mutex, poison-tolerant.
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(std::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) const fn new(value: T) -> Self {
            Mutex(std::sync::Mutex::new(value))
        }
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
        }
        #[cfg_attr(not(feature = "precomputed-tables"), allow(dead_code))]
        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            match self.0.try_lock() {
                Ok(g) => Some(g),
                Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => None,
            }
        }
    }
}

#[cfg(not(feature = "std"))]
mod mutex {
    pub(crate) type MutexGuard<'a, T> = spin::MutexGuard<'a, T>;

    /// `spin`'s mutex (no OS to sleep on).
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(spin::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) const fn new(value: T) -> Self {
            Mutex(spin::Mutex::new(value))
        }
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock()
        }
        #[cfg_attr(not(feature = "precomputed-tables"), allow(dead_code))]
        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock()
        }
    }
}

/// The trust-state cell's lock: readers clone an `Arc`, writers swap it.
#[cfg(feature = "std")]
#[derive(Debug, Default)]
pub(crate) struct RwLock<T>(std::sync::RwLock<T>);

#[cfg(feature = "std")]
impl<T> RwLock<T> {
    pub(crate) fn new(value: T) -> Self {
        RwLock(std::sync::RwLock::new(value))
    }
    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, T> {
        self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
    pub(crate) fn write(&self) -> std::sync::RwLockWriteGuard<'_, T> {
        self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The trust-state cell's lock: readers clone an `Arc`, writers swap it.
#[cfg(not(feature = "std"))]
#[derive(Debug, Default)]
pub(crate) struct RwLock<T>(spin::RwLock<T>);

#[cfg(not(feature = "std"))]
impl<T> RwLock<T> {
    pub(crate) fn new(value: T) -> Self {
        RwLock(spin::RwLock::new(value))
    }
    pub(crate) fn read(&self) -> spin::RwLockReadGuard<'_, T> {
        self.0.read()
    }
    pub(crate) fn write(&self) -> spin::RwLockWriteGuard<'_, T> {
        self.0.write()
    }
}
