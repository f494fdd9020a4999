//! Configuration: command-line flags, each also readable from an `EDGETOKEN_*` variable.
//!
//! Every default is the safe one from the origin spec (issue 4); `Config::validate`
//! refuses combinations that would weaken it silently.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Access-token lifetime: 15 minutes.
pub const ACCESS_TTL: u64 = 900;
/// Refresh idle timeout of a general session: 7 days.
pub const IDLE_GENERAL: u64 = 7 * 24 * 3600;
/// Refresh idle timeout of a sensitive session (admin, or after step-up): 30 minutes.
pub const IDLE_SENSITIVE: u64 = 30 * 60;
/// Absolute session lifetime: 30 days.
pub const SESSION_ABSOLUTE: u64 = 30 * 24 * 3600;
/// How long a just-rotated refresh token is still honoured (returns the same successor).
pub const REFRESH_GRACE: u64 = 10;
/// Clock tolerance the edges apply (must match their policy; the core's default).
pub const CLOCK_TOLERANCE: u64 = 30;
/// Largest accepted request body.
pub const MAX_BODY: usize = 16 * 1024;
/// How often an edge should revalidate keys and filter (discovery `sync_interval`).
pub const SYNC_INTERVAL: u64 = 2;
/// Largest filter lifetime an edge should accept (discovery `revocation_max_ttl`).
pub const REVOCATION_MAX_TTL: u64 = 3600;
/// Pre-publication of a new signing key: one hour. Far above what an edge caches keys for
/// (the JWKS `max-age` is the sync interval, 2 s), so an edge that could not reach the
/// origin for up to an hour (backing off, redeploying) still learns a key before it signs
/// anything; it equals the longest filter lifetime an edge accepts.
pub const KEY_PREPUBLICATION: u64 = 3600;
/// Scheduled key rotation: every 90 days.
pub const KEY_ROTATION_INTERVAL: u64 = 90 * 24 * 3600;

/// The origin's command line.
#[derive(Debug, Parser)]
#[command(name = "edgetoken-origin", version, about = "edgetoken origin: issues, rotates and revokes ES256 access tokens")]
pub struct Cli {
    /// Server and policy settings.
    #[command(flatten)]
    pub config: Config,
    /// A maintenance command; without one, the origin serves HTTP.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Maintenance commands run against the database, then exit.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Creates a user. The password comes from EDGETOKEN_NEW_PASSWORD or is generated and printed.
    CreateUser {
        /// The user's e-mail address (the login name).
        #[arg(long)]
        email: String,
        /// `user` or `admin`.
        #[arg(long, default_value = "user")]
        role: String,
    },
    /// Publishes a next signing key; it starts signing after --key-prepublication seconds
    /// (a pending next key is kept: the command then changes nothing).
    RotateKey,
    /// Emergency: withdraws the compromised key from the JWKS at once, activates a fresh
    /// key at once and sets the global not_before (kill switch). A running origin applies
    /// it within --revocation-interval seconds.
    EmergencyRotate {
        /// The compromised key's kid (default: the active key).
        #[arg(long, conflicts_with = "all")]
        kid: Option<String>,
        /// Withdraw every key (the database leaked: it holds them all).
        #[arg(long)]
        all: bool,
        /// Also revoke every session (everyone signs in again).
        #[arg(long)]
        revoke_sessions: bool,
    },
}

/// Settings, by flag or environment variable.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "EDGETOKEN_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// SQLite database file (created if missing; WAL mode).
    #[arg(long, env = "EDGETOKEN_DB", default_value = "edgetoken-origin.db")]
    pub db: PathBuf,
    /// `iss` of the access tokens and of the revocation filter.
    #[arg(long, env = "EDGETOKEN_ISSUER", default_value = "edgetoken-origin")]
    pub issuer: String,
    /// `aud` of the access tokens.
    #[arg(long, env = "EDGETOKEN_AUDIENCE", default_value = "edgetoken")]
    pub audience: String,
    /// Access-token lifetime, seconds.
    #[arg(long, env = "EDGETOKEN_ACCESS_TTL", default_value_t = ACCESS_TTL)]
    pub access_ttl: u64,
    /// Refresh idle timeout of general sessions, seconds.
    #[arg(long, env = "EDGETOKEN_IDLE_TIMEOUT", default_value_t = IDLE_GENERAL)]
    pub idle_timeout: u64,
    /// Refresh idle timeout of sensitive sessions (admin, step-up), seconds.
    #[arg(long, env = "EDGETOKEN_SENSITIVE_IDLE_TIMEOUT", default_value_t = IDLE_SENSITIVE)]
    pub sensitive_idle_timeout: u64,
    /// Absolute session lifetime, seconds.
    #[arg(long, env = "EDGETOKEN_SESSION_LIFETIME", default_value_t = SESSION_ABSOLUTE)]
    pub session_lifetime: u64,
    /// Grace during which a just-rotated refresh token still yields the same successor, seconds
    /// (inclusive); 0 turns the grace off: every second use of a token is reuse.
    #[arg(long, env = "EDGETOKEN_REFRESH_GRACE", default_value_t = REFRESH_GRACE)]
    pub refresh_grace: u64,
    /// Clock tolerance of the edges, seconds (widens the revocation window).
    #[arg(long, env = "EDGETOKEN_CLOCK_TOLERANCE", default_value_t = CLOCK_TOLERANCE)]
    pub clock_tolerance: u64,
    /// Freshness of a revocation filter (`not_after - built_at`), seconds.
    #[arg(long, env = "EDGETOKEN_REVOCATION_TTL", default_value_t = 60)]
    pub revocation_ttl: u64,
    /// The filter is rebuilt at least this often, seconds.
    #[arg(long, env = "EDGETOKEN_REVOCATION_INTERVAL", default_value_t = 5)]
    pub revocation_interval: u64,
    /// Debounce after a revocation before the rebuild, milliseconds.
    #[arg(long, env = "EDGETOKEN_REVOCATION_DEBOUNCE_MS", default_value_t = 200)]
    pub revocation_debounce_ms: u64,
    /// Target false-positive rate of the filter's sid/jti lookups.
    #[arg(long, env = "EDGETOKEN_FALSE_POSITIVE_RATE", default_value_t = edgetoken::revocation::DEFAULT_FALSE_POSITIVE_RATE)]
    pub false_positive_rate: f64,
    /// Cleanup runs this often, seconds.
    #[arg(long, env = "EDGETOKEN_CLEANUP_INTERVAL", default_value_t = 60)]
    pub cleanup_interval: u64,
    /// Rows deleted per cleanup statement (bounded batches keep write locks short).
    #[arg(long, env = "EDGETOKEN_CLEANUP_BATCH", default_value_t = 500)]
    pub cleanup_batch: u32,
    /// Ended (revoked or expired) sessions stay listable by admins this long, seconds.
    #[arg(long, env = "EDGETOKEN_ENDED_SESSION_RETENTION", default_value_t = 24 * 3600)]
    pub ended_session_retention: u64,
    /// Rotated refresh-token records are kept this long for reuse detection, seconds.
    #[arg(long, env = "EDGETOKEN_ROTATED_TOKEN_RETENTION", default_value_t = IDLE_GENERAL)]
    pub rotated_token_retention: u64,
    /// Failed logins per account within the throttle window before 429.
    #[arg(long, env = "EDGETOKEN_LOGIN_MAX_FAILURES_ACCOUNT", default_value_t = 5)]
    pub login_max_failures_account: u32,
    /// Failed logins per client IP within the throttle window before 429.
    #[arg(long, env = "EDGETOKEN_LOGIN_MAX_FAILURES_IP", default_value_t = 50)]
    pub login_max_failures_ip: u32,
    /// Login throttle window, seconds.
    #[arg(long, env = "EDGETOKEN_LOGIN_WINDOW", default_value_t = 900)]
    pub login_window: u64,
    /// Largest request body, bytes.
    #[arg(long, env = "EDGETOKEN_MAX_BODY", default_value_t = MAX_BODY)]
    pub max_body: usize,
    /// Number of trusted reverse proxies in front of the origin (0 = none: the client IP is
    /// the peer address). With N, the client IP is the address the N-th proxy from the
    /// origin appended to X-Forwarded-For (as Express's `trust proxy` = N). The bare flag
    /// and the old boolean values mean: `--trust-forwarded-for` / `true` = 1, `false` = 0.
    #[arg(
        long,
        env = "EDGETOKEN_TRUST_FORWARDED_FOR",
        default_value = "0",
        num_args = 0..=1,
        default_missing_value = "1",
        value_parser = parse_trusted_hops,
    )]
    pub trust_forwarded_for: u8,
    /// Create (or reset) a demo admin and a demo user with generated passwords, printed at start.
    #[arg(long, env = "EDGETOKEN_DEMO")]
    pub demo: bool,
    /// Serve the admin UI and demo page from this directory (the repo's `www/`).
    #[arg(long, env = "EDGETOKEN_WWW")]
    pub www: Option<PathBuf>,
    /// Serve the npm package directory (the repo's `pkg/`) at `/pkg/`, for the pages.
    #[arg(long, env = "EDGETOKEN_PKG")]
    pub pkg: Option<PathBuf>,
    /// How often edges should revalidate keys and filter, seconds (published in the
    /// discovery document; the JWKS `max-age`).
    #[arg(long, env = "EDGETOKEN_SYNC_INTERVAL", default_value_t = SYNC_INTERVAL)]
    pub sync_interval: u64,
    /// Largest filter lifetime (`not_after - built_at`) edges should accept, seconds.
    #[arg(long, env = "EDGETOKEN_REVOCATION_MAX_TTL", default_value_t = REVOCATION_MAX_TTL)]
    pub revocation_max_ttl: u64,
    /// How long a new signing key is published before it signs anything, seconds.
    #[arg(long, env = "EDGETOKEN_KEY_PREPUBLICATION", default_value_t = KEY_PREPUBLICATION)]
    pub key_prepublication: u64,
    /// Scheduled key rotation period, seconds; 0 turns the schedule off.
    #[arg(long, env = "EDGETOKEN_KEY_ROTATION_INTERVAL", default_value_t = KEY_ROTATION_INTERVAL)]
    pub key_rotation_interval: u64,
}

/// Parses `--trust-forwarded-for`: a hop count 0..=16, or the old boolean spelling.
fn parse_trusted_hops(s: &str) -> Result<u8, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Ok(1),
        "false" | "no" | "off" => Ok(0),
        n => n
            .parse::<u8>()
            .ok()
            .filter(|n| *n <= 16)
            .ok_or_else(|| format!("{s:?} is not a number of trusted proxies (0..=16, or true = 1, false = 0)")),
    }
}

impl Config {
    /// The defaults, with `db` as the database (tests, embedding).
    pub fn with_db(db: impl Into<PathBuf>) -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            db: db.into(),
            issuer: "edgetoken-origin".into(),
            audience: "edgetoken".into(),
            access_ttl: ACCESS_TTL,
            idle_timeout: IDLE_GENERAL,
            sensitive_idle_timeout: IDLE_SENSITIVE,
            session_lifetime: SESSION_ABSOLUTE,
            refresh_grace: REFRESH_GRACE,
            clock_tolerance: CLOCK_TOLERANCE,
            revocation_ttl: 60,
            revocation_interval: 5,
            revocation_debounce_ms: 200,
            false_positive_rate: edgetoken::revocation::DEFAULT_FALSE_POSITIVE_RATE,
            cleanup_interval: 60,
            cleanup_batch: 500,
            ended_session_retention: 24 * 3600,
            rotated_token_retention: IDLE_GENERAL,
            login_max_failures_account: 5,
            login_max_failures_ip: 50,
            login_window: 900,
            max_body: MAX_BODY,
            trust_forwarded_for: 0,
            demo: false,
            www: None,
            pkg: None,
            sync_interval: SYNC_INTERVAL,
            revocation_max_ttl: REVOCATION_MAX_TTL,
            key_prepublication: KEY_PREPUBLICATION,
            key_rotation_interval: KEY_ROTATION_INTERVAL,
        }
    }

    /// The revocation window: how long after the newest `iat` minted for what it revokes an
    /// entry stays in the filter. It must outlive every access token an edge may still
    /// accept: a token with that `iat` expires at `iat + ttl`, an edge accepts it while its
    /// own clock reads less than `exp + tolerance`, and an edge whose clock lags by up to the
    /// tolerance does so until true time `iat + ttl + 2 * tolerance` (derivation in
    /// docs/revocation-format.md, "Window").
    pub fn revocation_window(&self) -> u64 {
        self.access_ttl + 2 * self.clock_tolerance
    }

    /// Refuses settings that are invalid or would defeat the policy.
    pub fn validate(&self) -> Result<(), String> {
        let check = |ok: bool, msg: &str| if ok { Ok(()) } else { Err(msg.to_string()) };
        check(!self.issuer.is_empty(), "--issuer must not be empty")?;
        check(!self.audience.is_empty(), "--audience must not be empty")?;
        check((1..=86_400).contains(&self.access_ttl), "--access-ttl must be 1..=86400 seconds")?;
        check(self.idle_timeout > 0 && self.sensitive_idle_timeout > 0, "idle timeouts must be > 0")?;
        check(self.session_lifetime > 0, "--session-lifetime must be > 0")?;
        check(self.refresh_grace <= 60, "--refresh-grace must be at most 60 seconds")?;
        check(self.clock_tolerance <= 300, "--clock-tolerance must be at most 300 seconds")?;
        // Tokens minted in the second of a cut-off carry iat = the cut-off, up to this far
        // ahead of the clock; edges (and the origin) must accept that.
        check(
            self.clock_tolerance >= crate::store::KILL_SWITCH_MAX_AHEAD,
            "--clock-tolerance must be at least 2 seconds (tokens minted in the second of a cut-off are issued at the cut-off)",
        )?;
        check(self.revocation_ttl > self.revocation_interval, "--revocation-ttl must exceed --revocation-interval")?;
        check(self.revocation_interval > 0, "--revocation-interval must be > 0")?;
        check(
            (edgetoken::revocation::DEFAULT_FALSE_POSITIVE_RATE / 65_536.0..=0.5).contains(&self.false_positive_rate),
            "--false-positive-rate must be between 2^-32 and 0.5",
        )?;
        check(self.cleanup_batch > 0 && self.cleanup_interval > 0, "cleanup batch and interval must be > 0")?;
        check(self.login_max_failures_account > 0 && self.login_max_failures_ip > 0, "login limits must be > 0")?;
        check(self.login_window > 0, "--login-window must be > 0")?;
        check((256..=1024 * 1024).contains(&self.max_body), "--max-body must be 256..=1048576 bytes")?;
        self.validate_lifecycle()
    }

    // Key lifecycle and edge sync (issue 11).
    fn validate_lifecycle(&self) -> Result<(), String> {
        let check = |ok: bool, msg: &str| if ok { Ok(()) } else { Err(msg.to_string()) };
        check((1..=3600).contains(&self.sync_interval), "--sync-interval must be 1..=3600 seconds")?;
        check(
            (1..=7 * 86_400).contains(&self.revocation_max_ttl),
            "--revocation-max-ttl must be 1..=604800 seconds",
        )?;
        check(
            self.revocation_ttl <= self.revocation_max_ttl,
            "--revocation-ttl must not exceed --revocation-max-ttl (edges refuse longer-lived filters)",
        )?;
        check(
            (self.sync_interval..=30 * 86_400).contains(&self.key_prepublication),
            "--key-prepublication must be at least --sync-interval (edges cache the JWKS that long) and at most 30 days",
        )?;
        check(
            self.key_rotation_interval == 0 || self.key_rotation_interval > self.key_prepublication,
            "--key-rotation-interval must be 0 (off) or longer than --key-prepublication",
        )?;
        Ok(())
    }
}
