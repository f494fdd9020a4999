//! The application state shared by the HTTP handlers and the background tasks.

use crate::clock::Clock;
use crate::config::Config;
use crate::identifiers;
use crate::keys::Keys;
use crate::passwords;
use crate::revocations::Revocations;
use crate::store::sqlite::SqliteStore;
use crate::store::{Role, Store, StoreError, User};
use crate::throttle::Throttle;
use crate::tokens;
use std::sync::Arc;

/// Name of the stored secret that keys the refresh-token derivation.
pub const REFRESH_SECRET: &str = "refresh_token_hmac_key";

/// Everything a request needs.
pub struct App {
    /// Settings.
    pub config: Config,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Persistent state.
    pub store: Arc<dyn Store>,
    /// Signing keys.
    pub keys: Keys,
    /// Key of the refresh-token derivation (see `crate::tokens`).
    pub refresh_secret: Vec<u8>,
    /// The revocation filter.
    pub revocations: Revocations,
    /// Login throttle.
    pub throttle: Throttle,
    /// Test-only pause points (see [`test_hook`]); absent from non-test builds.
    #[cfg(test)]
    pub(crate) hook: std::sync::Mutex<Option<TestHook>>,
}

/// A test hook: called at each [`HookPoint`]; may block to pause the request.
#[cfg(test)]
pub(crate) type TestHook = Box<dyn Fn(HookPoint) + Send>;

/// A point in a grant where tests can pause the origin (unit tests only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookPoint {
    /// After the grant's checks (password, authentication), before its transaction.
    BeforeGrant(&'static str),
}

/// Calls the test hook, if one is set. Compiled to nothing outside `cargo test` of this
/// crate, so production paths cannot be paused.
#[inline(always)]
pub fn test_hook(app: &App, point: HookPoint) {
    #[cfg(test)]
    {
        // Taken out while it runs: a hook may block, and other requests must not wait on it.
        let hook = app.hook.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(hook) = hook {
            hook(point);
            let mut slot = app.hook.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert(hook);
        }
    }
    #[cfg(not(test))]
    let _ = (app, point);
}

/// Why a user could not be created.
#[derive(Debug)]
pub enum CreateUserError {
    /// The address is refused (see [`crate::identifiers`]).
    InvalidEmail(String),
    /// The address, or one that looks like it, is taken.
    Taken,
    /// Hashing or storage failed.
    Store(StoreError),
}

impl std::fmt::Display for CreateUserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CreateUserError::InvalidEmail(m) => write!(f, "invalid e-mail address: {m}"),
            CreateUserError::Taken => write!(f, "a user with this address, or one that looks like it, exists"),
            CreateUserError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl App {
    /// Opens the SQLite database named in `config` (creating and migrating it) and loads
    /// or creates the keys and secrets.
    pub fn open(config: Config, clock: Arc<dyn Clock>) -> Result<Arc<App>, String> {
        config.validate()?;
        let store = SqliteStore::open(&config.db).map_err(|e| match e {
            StoreError::Unavailable(_) => format!(
                "opening {}: {e}. The database file and its directory must be writable (SQLite keeps \
                 -wal and -shm files beside it) and the disk must have free space",
                config.db.display()
            ),
            e => format!("opening {}: {e}", config.db.display()),
        })?;
        Self::with_store(config, clock, Arc::new(store))
    }

    /// Builds the state on any store.
    pub fn with_store(config: Config, clock: Arc<dyn Clock>, store: Arc<dyn Store>) -> Result<Arc<App>, String> {
        config.validate()?;
        let now = clock.now();
        let keys = Keys::load(store.as_ref(), now, &config)
            .map_err(|e| format!("loading keys: {e}"))?;
        let refresh_secret = store
            .secret(REFRESH_SECRET, &mut || tokens::random_bytes::<32>().to_vec())
            .map_err(|e| format!("loading secrets: {e}"))?;
        store
            .fill_missing_skeletons(&crate::identifiers::skeleton)
            .map_err(|e| format!("indexing e-mail addresses: {e}"))?;
        let throttle = Throttle::new(config.login_window);
        Ok(Arc::new(App {
            config,
            clock,
            store,
            keys,
            refresh_secret,
            revocations: Revocations::default(),
            throttle,
            #[cfg(test)]
            hook: std::sync::Mutex::new(None),
        }))
    }

    /// The current time.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Creates a user; the e-mail address is stored in its normalised form (see
    /// [`crate::identifiers`]), and refused if it, or a look-alike, is taken.
    pub fn create_user(&self, email: &str, password: &str, role: Role) -> Result<User, CreateUserError> {
        let email = identifiers::normalize_email(email).map_err(CreateUserError::InvalidEmail)?;
        let hash = passwords::hash(password).map_err(|e| CreateUserError::Store(StoreError::Backend(e)))?;
        let user = User {
            id: tokens::random_id(),
            password_hash: hash,
            role,
            not_before: None,
            created_at: self.now(),
            credential_version: 0,
            email,
        };
        match self.store.create_user(&user, &identifiers::skeleton(&user.email)) {
            Ok(()) => Ok(user),
            Err(StoreError::Conflict(_)) => Err(CreateUserError::Taken),
            Err(e) => Err(CreateUserError::Store(e)),
        }
    }

    /// Creates the demo admin and user, or gives them new passwords if they exist.
    /// Returns `(email, password, role)` to print.
    pub fn ensure_demo_users(&self) -> Result<Vec<(String, String, Role)>, StoreError> {
        let mut out = Vec::new();
        for (email, role) in [("admin@demo.edgetoken.invalid", Role::Admin), ("user@demo.edgetoken.invalid", Role::User)] {
            let password = passwords::generate();
            match self.store.user_by_email(email)? {
                Some(u) => self.store.set_password_hash(&u.id, &passwords::hash(&password).map_err(StoreError::Backend)?)?,
                None => {
                    self.create_user(email, &password, role).map_err(|e| match e {
                        CreateUserError::Store(e) => e,
                        e => StoreError::Backend(e.to_string()),
                    })?;
                }
            }
            out.push((email.to_string(), password, role));
        }
        Ok(out)
    }
}

/// The form of a login name to look up: the normalised address, or for an address that
/// normalisation refuses (never stored), the trimmed, lower-cased input, which then finds
/// no user and fails like an unknown one.
pub fn login_name(email: &str) -> String {
    identifiers::normalize_email(email).unwrap_or_else(|_| email.trim().to_lowercase())
}

/// Starts the background tasks (revocation rebuild, cleanup) on the current runtime.
pub fn spawn_background(app: &Arc<App>) -> Vec<tokio::task::JoinHandle<()>> {
    vec![tokio::spawn(crate::revocations::run(app.clone())), tokio::spawn(crate::cleanup::run(app.clone()))]
}
