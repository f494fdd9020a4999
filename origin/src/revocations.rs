//! The revocation filter: window query, build with the core's `FilterSpec`, and the
//! rebuild task (debounced after each revocation, and at least every interval).
//!
//! `GET /revocations` serves the latest artifact unless it is older than the interval, was
//! signed by a key that is no longer the active one, or was built from an older revision
//! than the one observed when the request started: every committed revocation bumps the
//! revision (`mark_dirty`), and a build records the revision it read *before* reading the
//! store. So a client that saw a revocation succeed always gets a filter containing it,
//! even while a background build that started earlier is still running.
//!
//! The sequence (a persisted counter) is bumped only when the content changes; an
//! unchanged set is re-signed with a fresh `built_at` under the same sequence (the core
//! accepts an equal sequence) and a new ETag (the ETag names the bytes).

use crate::app::App;
use crate::store::{RevocationSet, StoreError};
use crate::tokens::strong_etag;
use edgetoken::revocation::SALT_LEN;
use edgetoken::sign::FilterSpec;
use edgetoken::UnixTime;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Strong ETag (names these bytes).
    pub etag: String,
    /// The kid of the key that signed it.
    pub kid: String,
    /// The revision observed before the store was read: every revocation committed
    /// before that revision was bumped is in it.
    pub revision: u64,
    /// The revocations it holds (to tell whether the next build changes the content).
    pub content: RevocationSet,
}

/// Latest artifact and the rebuild signal.
#[derive(Default)]
pub struct Revocations {
    current: RwLock<Option<Arc<Artifact>>>,
    revision: AtomicU64,
    notify: tokio::sync::Notify,
    // One build at a time: sequences are handed out and artifacts installed in build order.
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
    /// Records that a revocation was committed (call it after the commit): the next read
    /// rebuilds, and the task is woken.
    pub fn mark_dirty(&self) {
        self.revision.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_one();
    }

    /// The latest artifact, if any was built.
    pub fn latest(&self) -> Option<Arc<Artifact>> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The artifact to serve now: rebuilt unless the latest one holds every revocation
    /// committed before this call, is signed by the active key and is younger than the
    /// interval.
    pub fn current(&self, app: &App) -> Result<Arc<Artifact>, BuildError> {
        let wanted = self.revision.load(Ordering::SeqCst);
        if let Some(a) = self.usable(app, wanted) {
            return Ok(a);
        }
        let _guard = self.build_lock.lock().unwrap_or_else(|p| p.into_inner());
        // Another request may have rebuilt while this one waited for the lock.
        if let Some(a) = self.usable(app, wanted) {
            return Ok(a);
        }
        self.build_locked(app)
    }

    fn usable(&self, app: &App, wanted: u64) -> Option<Arc<Artifact>> {
        let active_kid = app.keys.current().active_kid.clone();
        self.latest().filter(|a| {
            a.revision >= wanted
                && a.kid == active_kid
                && app.now() < a.built_at.saturating_add(app.config.revocation_interval)
        })
    }

    /// Builds and installs a new artifact from the revocations in the window.
    pub fn rebuild(&self, app: &App) -> Result<Arc<Artifact>, BuildError> {
        let _guard = self.build_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.build_locked(app)
    }

    fn build_locked(&self, app: &App) -> Result<Arc<Artifact>, BuildError> {
        // Read before the store: a revocation committed later bumps it past this value.
        let revision = self.revision.load(Ordering::SeqCst);
        let artifact = Arc::new(build(app, revision, self.latest().as_deref())?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(artifact.clone());
        Ok(artifact)
    }
}

fn build(app: &App, revision: u64, previous: Option<&Artifact>) -> Result<Artifact, BuildError> {
    let now = app.now();
    let content = app.store.revocations_in_window(now).map_err(BuildError::Store)?;
    let sequence = match previous {
        Some(p) if p.content == content => p.sequence,
        _ => app.store.next_counter(SEQUENCE_COUNTER).map_err(BuildError::Store)?,
    };
    let window = u32::try_from(app.config.revocation_window()).unwrap_or(u32::MAX);
    let mut spec = FilterSpec::new(&app.config.issuer, sequence, UnixTime::from_secs(now), app.config.revocation_ttl, window);
    spec.sids = content.sids.clone();
    spec.jtis = content.jtis.clone();
    spec.users = content.users.clone();
    spec.global_not_before = content.global_not_before;
    spec.false_positive_rate = app.config.false_positive_rate;
    // Filters are signed by the active key only.
    let ring = app.keys.current();
    let salt = crate::tokens::random_bytes::<SALT_LEN>();
    let bytes = spec.build(&ring.active, &ring.active_kid, salt).map_err(|e| BuildError::Builder(format!("{e:?}")))?;
    Ok(Artifact {
        etag: strong_etag(&format!("rv-{sequence}"), &bytes),
        bytes,
        sequence,
        built_at: now,
        kid: ring.active_kid.clone(),
        revision,
        content,
    })
}

/// Background task: rebuild shortly after a revocation (debounced) and at least every
/// interval; on the same beat, apply due key transitions and reload the signing keys
/// (the scheduled rotation, and changes by other nodes or the CLI).
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
            // Due key transitions (promotion, scheduled rotation) and changes made by the
            // CLI or other nodes; the filter below is then signed by the active key.
            if let Err(e) = a.keys.reload(a.store.as_ref(), a.now()) {
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
