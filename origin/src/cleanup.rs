//! Cleanup: deletes dead rows in bounded batches so no table grows without bound.
//!
//! Dead rows: sessions ended (revoked or expired) longer than the retention ago and their
//! refresh records; refresh records rotated longer than the rotated-token retention ago
//! (after that, presenting one is "unknown" rather than "reuse"); revocation records past
//! their window; retired keys no longer published.

use crate::app::App;
use crate::store::{CleanupCounts, CleanupCutoffs, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// Most batches per pass; the next pass continues.
const MAX_BATCHES_PER_PASS: usize = 1000;

/// Runs batches until nothing is left to delete (or the per-pass cap); returns the totals.
pub fn run_once(app: &App) -> Result<CleanupCounts, StoreError> {
    let now = app.now();
    let c = &app.config;
    let cutoffs = CleanupCutoffs {
        sessions_ended_before: now.saturating_sub(c.ended_session_retention),
        rotated_before: now.saturating_sub(c.rotated_token_retention),
        revocations_expired_before: now,
        keys_unpublished_at: now,
        batch: c.cleanup_batch,
    };
    let mut total = CleanupCounts::default();
    for _ in 0..MAX_BATCHES_PER_PASS {
        let n = app.store.cleanup(&cutoffs)?;
        total.sessions += n.sessions;
        total.refresh_tokens += n.refresh_tokens;
        total.revocations += n.revocations;
        total.keys += n.keys;
        if n == CleanupCounts::default() {
            break;
        }
    }
    app.throttle.prune(now);
    Ok(total)
}

/// Background task: a cleanup pass every `cleanup_interval` seconds.
pub async fn run(app: Arc<App>) {
    let interval = Duration::from_secs(app.config.cleanup_interval);
    loop {
        tokio::time::sleep(interval).await;
        let a = app.clone();
        match tokio::task::spawn_blocking(move || run_once(&a)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => eprintln!("edgetoken-origin: cleanup failed: {e}"),
            Err(e) => eprintln!("edgetoken-origin: cleanup task failed: {e}"),
        }
    }
}
