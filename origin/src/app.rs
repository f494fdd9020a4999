//! The application state shared by the HTTP handlers and the background tasks.

use crate::clock::Clock;
use crate::config::Config;
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
        let throttle = Throttle::new(config.login_window);
        Ok(Arc::new(App { config, clock, store, keys, refresh_secret, revocations: Revocations::default(), throttle }))
    }

    /// The current time.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Creates a user; the e-mail address is lower-cased.
    pub fn create_user(&self, email: &str, password: &str, role: Role) -> Result<User, StoreError> {
        let hash = passwords::hash(password).map_err(StoreError::Backend)?;
        let user = User {
            id: tokens::random_id(),
            email: normalize_email(email),
            password_hash: hash,
            role,
            not_before: None,
            created_at: self.now(),
        };
        self.store.create_user(&user)?;
        Ok(user)
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
                    self.create_user(email, &password, role)?;
                }
            }
            out.push((email.to_string(), password, role));
        }
        Ok(out)
    }
}

/// Lower-cases and trims an e-mail address (the login name).
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Starts the background tasks (revocation rebuild, cleanup) on the current runtime.
pub fn spawn_background(app: &Arc<App>) -> Vec<tokio::task::JoinHandle<()>> {
    vec![tokio::spawn(crate::revocations::run(app.clone())), tokio::spawn(crate::cleanup::run(app.clone()))]
}
