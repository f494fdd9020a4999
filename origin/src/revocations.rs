//! The revocation filter: window query, build with the core's `FilterSpec`, and the
//! rebuild task (debounced after each revocation, and at least every interval).
//!
//! `GET /revocations` serves the latest artifact. If a revocation happened since it was
//! built (the dirty flag), or it is older than the interval, the request rebuilds it
//! first, so a client that saw a revocation succeed always gets a filter containing it.

use crate::app::App;
use crate::store::StoreError;
use edgetoken::revocation::SALT_LEN;
use edgetoken::sign::FilterSpec;
use edgetoken::UnixTime;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Name of the persisted counter that numbers filters (monotonic across restarts).
pub const SEQUENCE_COUNTER: &str = "revocation_sequence";

/// One signed artifact.
#[derive(Debug)]
pub struct Artifact {
    /// The signed bytes (format: the core's `edgetoken::revocation`).
    pub bytes: Vec<u8>,
    /// Its sequence number.
    pub sequence: u64,
    /// When it was built.
    pub built_at: u64,
    /// Strong ETag.
    pub etag: String,
}

/// Latest artifact and the rebuild signal.
#[derive(Default)]
pub struct Revocations {
    current: RwLock<Option<Arc<Artifact>>>,
    dirty: AtomicBool,
    notify: tokio::sync::Notify,
    // One build at a time: sequences are handed out in build order.
    build_lock: Mutex<()>,
}

/// Why a build failed.
#[derive(Debug)]
pub enum BuildError {
    /// Reading the revocations or the counter failed.
    Store(StoreError),
    /// The core builder refused the spec.
    Builder(String),
}

impl Revocations {
    /// Records that a revocation happened: the next read rebuilds, and the task is woken.
    pub fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::SeqCst);
        self.notify.notify_one();
    }

    /// The latest artifact, if any was built.
    pub fn latest(&self) -> Option<Arc<Artifact>> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The artifact to serve now: rebuilt if dirty, missing or older than the interval.
    pub fn current(&self, app: &App) -> Result<Arc<Artifact>, BuildError> {
        if let Some(a) = self.fresh(app) {
            return Ok(a);
        }
        let _guard = self.build_lock.lock().unwrap_or_else(|p| p.into_inner());
        // Another request may have rebuilt while this one waited for the lock.
        if let Some(a) = self.fresh(app) {
            return Ok(a);
        }
        self.build_locked(app)
    }

    fn fresh(&self, app: &App) -> Option<Arc<Artifact>> {
        if self.dirty.load(Ordering::SeqCst) {
            return None;
        }
        self.latest().filter(|a| app.now() < a.built_at.saturating_add(app.config.revocation_interval))
    }

    /// Builds and installs a new artifact from the revocations in the window.
    pub fn rebuild(&self, app: &App) -> Result<Arc<Artifact>, BuildError> {
        let _guard = self.build_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.build_locked(app)
    }

    fn build_locked(&self, app: &App) -> Result<Arc<Artifact>, BuildError> {
        // Cleared before reading: a revocation committed during the build sets it again.
        self.dirty.store(false, Ordering::SeqCst);
        let artifact = match build(app) {
            Ok(a) => Arc::new(a),
            Err(e) => {
                self.dirty.store(true, Ordering::SeqCst);
                return Err(e);
            }
        };
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(artifact.clone());
        Ok(artifact)
    }
}

fn build(app: &App) -> Result<Artifact, BuildError> {
    let now = app.now();
    let set = app.store.revocations_in_window(now).map_err(BuildError::Store)?;
    let sequence = app.store.next_counter(SEQUENCE_COUNTER).map_err(BuildError::Store)?;
    let window = u32::try_from(app.config.revocation_window()).unwrap_or(u32::MAX);
    let mut spec = FilterSpec::new(&app.config.issuer, sequence, UnixTime::from_secs(now), app.config.revocation_ttl, window);
    spec.sids = set.sids;
    spec.jtis = set.jtis;
    spec.users = set.users;
    spec.global_not_before = set.global_not_before;
    spec.false_positive_rate = app.config.false_positive_rate;
    let ring = app.keys.current();
    let salt = crate::tokens::random_bytes::<SALT_LEN>();
    let bytes = spec.build(&ring.active, &ring.active_kid, salt).map_err(|e| BuildError::Builder(format!("{e:?}")))?;
    Ok(Artifact { bytes, sequence, built_at: now, etag: format!("\"rv-{sequence}\"") })
}

/// Background task: rebuild shortly after a revocation (debounced) and at least every
/// interval; reload the signing keys on the same beat (rotations by other nodes or the CLI).
pub async fn run(app: Arc<App>) {
    let interval = Duration::from_secs(app.config.revocation_interval);
    let debounce = Duration::from_millis(app.config.revocation_debounce_ms);
    loop {
        tokio::select! {
            _ = app.revocations.notify.notified() => tokio::time::sleep(debounce).await,
            _ = tokio::time::sleep(interval) => {}
        }
        let a = app.clone();
        let result = tokio::task::spawn_blocking(move || {
            let now = a.now();
            if let Err(e) = a.keys.reload(a.store.as_ref(), now) {
                eprintln!("edgetoken-origin: key reload failed: {e}");
            }
            a.revocations.rebuild(&a).map(|_| ())
        })
        .await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("edgetoken-origin: revocation filter build failed: {e:?}"),
            Err(e) => eprintln!("edgetoken-origin: revocation filter task failed: {e}"),
        }
    }
}
