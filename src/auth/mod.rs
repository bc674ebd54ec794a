//! The auth service: register, log in, authenticate, refresh with rotation,
//! log out, and the notes resource, over a [`Store`] and a [`Clock`].
//!
//! Knows nothing of HTTP. Each method returns a value or an [`AuthError`] that
//! names what went wrong; the HTTP layer maps those to status codes.
//!
//! Two tokens, as in the seed document: a short-lived access token
//! (`typ: at+jwt`, RFC 9068) sent with every request, and a long-lived refresh
//! token (`typ: refresh+jwt`) stored, as a SHA-256 hash, in the database. Each
//! login starts a *family*; each refresh rotates the token within it and keeps
//! the family's expiry, so two weeks after login the user logs in again.
//! Presenting a token that was already rotated revokes the whole family
//! (RFC 9700 §4.14.2): one of the two holders is a thief.

use std::prelude::rust_2021::*;

mod audit;
mod counters;
mod model;
mod password;
mod throttle;

use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{Store, StoreError};
use crate::{Error as JwtError, Header, Hs256Key, KeySet, Validation};
use audit::{Subject, Trail};
pub use counters::AuthCounts;
use counters::Counters;
pub(crate) use model::{decide_rotation, RefreshRow, RotationTx};
pub use model::{AuditEvent, Credentials, Note, RefreshRecord, Rotation, Session, User};
use password::{Busy, PasswordHasher};
pub use throttle::ThrottleLimits;
use throttle::{LoginThrottle, Outcome};

/// `typ` of access tokens (RFC 9068).
///
/// ```
/// assert_eq!(minijwt::auth::ACCESS_TYP, "at+jwt");
/// ```
pub const ACCESS_TYP: &str = "at+jwt";
/// `typ` of refresh tokens.
///
/// ```
/// assert_eq!(minijwt::auth::REFRESH_TYP, "refresh+jwt");
/// ```
pub const REFRESH_TYP: &str = "refresh+jwt";

/// A chore done at most once per `every` seconds (pruning old rows), by
/// whichever caller first finds it due: the others go on without waiting.
#[derive(Debug)]
pub(crate) struct Periodic {
    every: i64,
    last: AtomicI64,
}

impl Periodic {
    pub(crate) const fn new(every: i64) -> Self {
        Periodic {
            every,
            last: AtomicI64::new(i64::MIN),
        }
    }

    /// Whether the chore is due at `now`; a yes counts as done at `now`.
    pub(crate) fn due(&self, now: i64) -> bool {
        let last = self.last.load(Ordering::Relaxed);
        now.saturating_sub(last) >= self.every
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// The source of "now", in Unix seconds. Tests use [`ManualClock`].
pub trait Clock: Send + Sync {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now(&self) -> i64;
}

/// The system clock.
///
/// ```
/// use minijwt::auth::{Clock, SystemClock};
/// assert!(SystemClock.now() > 1_700_000_000);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        Validation::default().now()
    }
}

/// A clock that moves only when told to.
///
/// ```
/// use minijwt::auth::{Clock, ManualClock};
/// let clock = ManualClock::new(100);
/// clock.advance(5);
/// assert_eq!(clock.now(), 105);
/// ```
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock standing at `now`.
    ///
    /// ```
    /// use minijwt::auth::{Clock, ManualClock};
    /// assert_eq!(ManualClock::new(5).now(), 5);
    /// ```
    pub fn new(now: i64) -> Self {
        ManualClock(AtomicI64::new(now))
    }
    /// Moves the clock forward by `seconds`.
    ///
    /// ```
    /// use minijwt::auth::{Clock, ManualClock};
    /// let clock = ManualClock::new(5);
    /// clock.advance(10);
    /// assert_eq!(clock.now(), 15);
    /// ```
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
    /// Sets the clock.
    ///
    /// ```
    /// use minijwt::auth::{Clock, ManualClock};
    /// let clock = ManualClock::new(5);
    /// clock.set(1);
    /// assert_eq!(clock.now(), 1);
    /// ```
    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The most of a login's `User-Agent` a session keeps, in bytes.
pub const MAX_USER_AGENT: usize = 256;

/// `text` cut to at most `max` bytes, at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// [`AuthConfig::refresh_grace`] unless set: long enough for a client to
/// retry a refresh whose answer was lost, short enough that a stolen
/// token replayed later is still caught.
pub const DEFAULT_REFRESH_GRACE: i64 = 30;

/// Settings of the auth service.
///
/// ```
/// let config = minijwt::auth::AuthConfig { access_ttl: 60, ..Default::default() };
/// assert_eq!((config.access_ttl, config.refresh_ttl), (60, 14 * 24 * 3600));
/// ```
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `iss` of every token, checked on the way back in.
    pub issuer: String,
    /// Access token lifetime in seconds (default 3600).
    pub access_ttl: i64,
    /// Refresh token family lifetime in seconds (default 1,209,600: two weeks).
    pub refresh_ttl: i64,
    /// Seconds after a rotation during which the previous refresh token,
    /// presented again while its successor is unused, gets that same
    /// successor instead of counting as reuse (default 30; 0: strict).
    pub refresh_grace: i64,
    /// Whether `register` is allowed.
    pub allow_register: bool,
    /// Password hashes run at once (each takes 19 MiB).
    pub max_concurrent_hashes: usize,
    /// Failed-login limits.
    pub throttle: ThrottleLimits,
    /// Days the audit trail keeps an event (default 90).
    pub audit_days: i64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            issuer: "minijwt".to_owned(),
            access_ttl: 3600,
            refresh_ttl: 14 * 24 * 3600,
            refresh_grace: DEFAULT_REFRESH_GRACE,
            allow_register: true,
            max_concurrent_hashes: std::thread::available_parallelism().map_or(2, |n| n.get()),
            throttle: ThrottleLimits::default(),
            audit_days: 90,
        }
    }
}

/// Why an auth operation failed.
///
/// ```
/// use minijwt::auth::AuthError;
/// assert_eq!(AuthError::ReuseDetected.to_string(), "refresh token reuse detected");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// The input is malformed; the text says which field and how.
    InvalidRequest(String),
    /// Registration is turned off.
    RegistrationClosed,
    /// The username is taken (in any case).
    UsernameTaken,
    /// Wrong username or password (deliberately not saying which).
    InvalidCredentials,
    /// Too many failed logins; retry after this many seconds.
    Throttled {
        /// Seconds until a login may be tried again.
        retry_after: i64,
    },
    /// The refresh token was refused: invalid, unknown, revoked or expired.
    /// It can never work again.
    InvalidGrant(String),
    /// The access token sent with a refresh was refused (seed step 13): not
    /// genuine, or another user's. The refresh token is untouched and still
    /// good.
    ForeignAccessToken(String),
    /// A refresh token that was already rotated came back: its family is revoked.
    ReuseDetected,
    /// The access token was refused; `expired` tells the client to refresh.
    InvalidToken {
        /// Whether the only problem is that it expired.
        expired: bool,
        /// What was wrong.
        description: String,
    },
    /// No such resource (or not this user's).
    NotFound,
    /// Too many password hashes running and queued: retry shortly.
    Busy,
    /// The store failed.
    Store(StoreError),
    /// Something that should not fail did (the OS random source, hashing).
    Internal(String),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::InvalidRequest(why) => f.write_str(why),
            AuthError::RegistrationClosed => f.write_str("registration is closed"),
            AuthError::UsernameTaken => f.write_str("username is already taken"),
            AuthError::InvalidCredentials => f.write_str("wrong username or password"),
            AuthError::Throttled { retry_after } => {
                write!(f, "too many failed logins; try again in {retry_after} s")
            }
            AuthError::InvalidGrant(why) | AuthError::ForeignAccessToken(why) => f.write_str(why),
            AuthError::ReuseDetected => f.write_str("refresh token reuse detected"),
            AuthError::InvalidToken { description, .. } => f.write_str(description),
            AuthError::NotFound => f.write_str("not found"),
            AuthError::Busy => f.write_str("too many logins in progress; retry shortly"),
            AuthError::Store(e) => write!(f, "{e}"),
            AuthError::Internal(why) => write!(f, "internal error: {why}"),
        }
    }
}

impl std::error::Error for AuthError {}

impl From<Busy> for AuthError {
    fn from(_: Busy) -> Self {
        AuthError::Busy
    }
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        AuthError::Store(e)
    }
}

/// What login and refresh hand out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenPair {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The refresh token.
    pub refresh_token: String,
    /// Seconds until the refresh token (its family) expires.
    pub refresh_expires_in: i64,
}

/// Who an access token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user's id.
    pub user_id: i64,
    /// The username in the token.
    pub username: String,
    /// The session the token was issued in (`sid`), if it names one.
    pub session: Option<String>,
}

impl Principal {
    /// What an audit event about this principal names.
    fn subject(&self, address: Option<IpAddr>) -> Subject<'_> {
        Subject {
            user_id: Some(self.user_id),
            username: Some(&self.username),
            address,
            session: self.session.as_deref(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    iss: String,
    sub: String,
    username: String,
    iat: i64,
    exp: i64,
    jti: String,
    /// The session (refresh-token family) the token was issued in; tokens
    /// from before sessions existed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RefreshClaims {
    iss: String,
    sub: String,
    iat: i64,
    exp: i64,
    jti: String,
}

/// The keys tokens are signed and verified with: one signing key (with the
/// `kid` its tokens carry, or none for a legacy key) and every key that
/// verifies. A single [`Hs256Key`] is a ring of one legacy key.
///
/// ```
/// use minijwt::auth::KeyRing;
/// use minijwt::{Hs256Key, KeySet};
/// let old = Hs256Key::new(&[1; 32]).unwrap();
/// let new = Hs256Key::new(&[2; 32]).unwrap();
/// let ring = KeyRing::new(Some("k2".into()), new.clone(), KeySet::new().with_legacy(old).with("k2", new));
/// assert_eq!(ring.signing_kid(), Some("k2"));
/// ```
#[derive(Debug, Clone)]
pub struct KeyRing {
    signing_kid: Option<String>,
    signing: Hs256Key,
    verify: KeySet,
}

impl KeyRing {
    /// A ring that signs with `signing` (its tokens carry `kid`, when given)
    /// and verifies with `verify`.
    pub fn new(signing_kid: Option<String>, signing: Hs256Key, verify: KeySet) -> Self {
        KeyRing {
            signing_kid,
            signing,
            verify,
        }
    }

    /// The `kid` new tokens carry (none for a legacy key).
    pub fn signing_kid(&self) -> Option<&str> {
        self.signing_kid.as_deref()
    }

    fn sign(&self, typ: &str, claims: &impl Serialize) -> Result<String, AuthError> {
        let mut header = Header::new().with_typ(typ);
        if let Some(kid) = &self.signing_kid {
            header = header.with_kid(kid.clone());
        }
        crate::encode_with_header(&self.signing, &header, claims)
            .map_err(|e| AuthError::Internal(e.to_string()))
    }
}

impl From<Hs256Key> for KeyRing {
    fn from(key: Hs256Key) -> Self {
        KeyRing::new(None, key.clone(), KeySet::new().with_legacy(key))
    }
}

/// The auth service. Cheap to share behind an `Arc`; every method may run on
/// many threads at once.
pub struct Auth {
    store: Store,
    /// Swapped whole by [`Auth::set_keys`]; each use takes the current ring.
    keys: RwLock<Arc<KeyRing>>,
    config: AuthConfig,
    clock: Arc<dyn Clock>,
    hasher: PasswordHasher,
    throttle: LoginThrottle,
    trail: Trail,
    counters: Counters,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("store", &self.store)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Builds the service. Computes one password hash (the dummy used for
    /// unknown users), so it takes a few tens of milliseconds.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use minijwt::auth::{Auth, AuthConfig, ManualClock};
    /// use minijwt::{store::Store, Hs256Key};
    ///
    /// let clock = Arc::new(ManualClock::new(1_800_000_000));
    /// let auth = Auth::new(Store::open_in_memory().unwrap(), Hs256Key::new(&[7; 32]).unwrap(),
    ///                      AuthConfig::default(), clock.clone()).unwrap();
    /// auth.register("alice", "correct horse").unwrap();
    /// let tokens = auth.login("alice", "correct horse", None).unwrap();
    /// assert_eq!(auth.authenticate(&tokens.access_token).unwrap().username, "alice");
    ///
    /// clock.advance(3600); // the access token expires...
    /// assert!(auth.authenticate(&tokens.access_token).is_err());
    /// let fresh = auth.refresh(&tokens.refresh_token, Some(&tokens.access_token)).unwrap();
    /// assert!(auth.authenticate(&fresh.access_token).is_ok()); // ...and is replaced
    /// ```
    pub fn new(
        store: Store,
        keys: impl Into<KeyRing>,
        config: AuthConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Auth, String> {
        let hasher = PasswordHasher::new(config.max_concurrent_hashes)?;
        let throttle = LoginThrottle::new(config.throttle).kept_in_store(store.is_shared());
        let trail = Trail::new(config.audit_days);
        Ok(Auth {
            store,
            keys: RwLock::new(Arc::new(keys.into())),
            config,
            clock,
            hasher,
            throttle,
            trail,
            counters: Counters::default(),
        })
    }

    /// The current key ring.
    fn keys(&self) -> Arc<KeyRing> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the key ring (the operator rotated keys): tokens signed from
    /// now on carry the new signing key's `kid`; tokens already issued keep
    /// verifying as long as their key is in the new ring.
    pub fn set_keys(&self, ring: KeyRing) {
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ring);
        self.trail
            .record(&self.store, self.clock.now(), "keys_reloaded", Subject::default());
    }

    /// The settings.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use minijwt::auth::{Auth, AuthConfig, ManualClock};
    /// # let auth = Auth::new(minijwt::store::Store::open_in_memory().unwrap(),
    /// #     minijwt::Hs256Key::new(&[7; 32]).unwrap(), AuthConfig::default(), Arc::new(ManualClock::new(1_800_000_000))).unwrap();
    /// assert_eq!(auth.config().access_ttl, 3600);
    /// ```
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// The store, for operations outside the auth flow (such as
    /// [`Store::set_page_limit`]).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use minijwt::auth::{Auth, AuthConfig, ManualClock};
    /// # let auth = Auth::new(minijwt::store::Store::open_in_memory().unwrap(),
    /// #     minijwt::Hs256Key::new(&[7; 32]).unwrap(), AuthConfig::default(), Arc::new(ManualClock::new(0))).unwrap();
    /// assert!(auth.store().ready().is_ok());
    /// ```
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Checks that the database answers.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use minijwt::auth::{Auth, AuthConfig, ManualClock};
    /// # let auth = Auth::new(minijwt::store::Store::open_in_memory().unwrap(),
    /// #     minijwt::Hs256Key::new(&[7; 32]).unwrap(), AuthConfig::default(), Arc::new(ManualClock::new(1_800_000_000))).unwrap();
    /// assert!(auth.health().is_ok());
    /// ```
    pub fn health(&self) -> Result<(), AuthError> {
        Ok(self.store.ready()?)
    }

    /// The counters of logins and refreshes by outcome, the login queue and
    /// the store's errors, for operators (see [`AuthCounts`]).
    pub fn counts(&self) -> AuthCounts {
        let (running, waiting) = self.hasher.load();
        AuthCounts {
            login_queue: waiting as u64,
            hashes_running: running as u64,
            store_errors: self.store.errors(),
            ..self.counters.read()
        }
    }

    /// Creates a user. Usernames are 3–32 characters of `A–Z a–z 0–9 _ . -`,
    /// unique without regard to case; passwords 8–1024 characters.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use minijwt::auth::{Auth, AuthConfig, ManualClock};
    /// # let auth = Auth::new(minijwt::store::Store::open_in_memory().unwrap(),
    /// #     minijwt::Hs256Key::new(&[7; 32]).unwrap(), AuthConfig::default(), Arc::new(ManualClock::new(1_800_000_000))).unwrap();
    /// assert_eq!(auth.register("alice", "correct horse").unwrap().username, "alice");
    /// assert_eq!(auth.register("ALICE", "correct horse"), Err(minijwt::auth::AuthError::UsernameTaken));
    /// ```
    pub fn register(&self, username: &str, password: &str) -> Result<User, AuthError> {
        if !self.config.allow_register {
            return Err(AuthError::RegistrationClosed);
        }
        check_username(username)?;
        check_new_password(password)?;
        let hash = self.hasher.hash(password)?.map_err(AuthError::Internal)?;
        match self.store.create_user(username, &hash, self.clock.now()) {
            Err(StoreError::Conflict) => Err(AuthError::UsernameTaken),
            other => Ok(other?),
        }
    }

    /// Checks a username and password and starts a new token family.
    ///
    /// An unknown user costs the same password hash as a wrong password. After
    /// too many failures for a username from one address, or from one address
    /// across names, that address is refused for a while, right password or
    /// not; addresses that have not been failing are not (see `throttle`).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use minijwt::auth::{Auth, AuthConfig, ManualClock};
    /// # let auth = Auth::new(minijwt::store::Store::open_in_memory().unwrap(),
    /// #     minijwt::Hs256Key::new(&[7; 32]).unwrap(), AuthConfig::default(), Arc::new(ManualClock::new(1_800_000_000))).unwrap();
    /// auth.register("alice", "correct horse").unwrap();
    /// let tokens = auth.login("alice", "correct horse", None).unwrap();
    /// assert_eq!((tokens.token_type, tokens.expires_in), ("Bearer", 3600));
    /// let wrong = auth.login("alice", "wrong horse", None);
    /// assert_eq!(wrong, Err(minijwt::auth::AuthError::InvalidCredentials));
    /// ```
    pub fn login(
        &self,
        username: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<TokenPair, AuthError> {
        self.login_from(username, password, client, "")
    }

    /// [`Auth::login`] from a client that says what it is (its
    /// `User-Agent`, kept with the session, cut to [`MAX_USER_AGENT`] bytes).
    pub fn login_from(
        &self,
        username: &str,
        password: &str,
        client: Option<IpAddr>,
        user_agent: &str,
    ) -> Result<TokenPair, AuthError> {
        let now = self.clock.now();
        let user = self
            .check_credentials(username, password, client, now)
            .inspect_err(|e| match e {
                AuthError::InvalidCredentials => Counters::bump(&self.counters.logins_failed),
                AuthError::Throttled { .. } => Counters::bump(&self.counters.logins_throttled),
                _ => {}
            })?;
        let expires_at = now + self.config.refresh_ttl;
        let jti = random_id()?;
        let refresh_token = self.mint_refresh(user.id, &jti, now, expires_at)?;
        let record = RefreshRecord {
            jti,
            token_hash: token_hash(&refresh_token),
            user_id: user.id,
            family: random_id()?,
            issued_at: now,
            expires_at,
        };
        let subject = Subject {
            user_id: Some(user.id),
            username: Some(&user.username),
            address: client,
            session: Some(&record.family),
        };
        // The event is written with the session: one write per login.
        let event = self.trail.event(now, "login_ok", subject);
        self.store
            .start_session(
                &record,
                &user.username,
                cut(user_agent, MAX_USER_AGENT),
                Some(&event),
            )
            .map_err(|e| match e {
                // The account was deleted while its password was checked.
                StoreError::Conflict => AuthError::InvalidCredentials,
                other => other.into(),
            })?;
        self.trail.recorded(&self.store, now);
        let pair = self.pair(&user, refresh_token, &record.family, record.expires_at, now)?;
        Counters::bump(&self.counters.logins_ok);
        Ok(pair)
    }

    /// A password check that counts as a login attempt: throttled, and a
    /// wrong password is a failure for the throttle like a failed login.
    fn check_credentials(
        &self,
        username: &str,
        password: &str,
        client: Option<IpAddr>,
        now: i64,
    ) -> Result<User, AuthError> {
        // Only well-formed names are tracked per user (at most 32 bytes each);
        // anything else can only count against the client's address.
        let user_key = check_username(username)
            .ok()
            .map(|()| username.to_ascii_lowercase());
        // The attempt is counted as a failure *before* the slow hash, so that
        // logins already in flight cannot all slip under the limit.
        // Only well-formed names go into the trail, like into the throttle.
        let subject = Subject {
            username: user_key.is_some().then_some(username),
            address: client,
            ..Subject::default()
        };
        let counted = match self
            .throttle
            .start(&self.store, user_key.as_deref(), client, now)?
        {
            Ok(counted) => counted,
            Err(retry_after) => {
                // Free for the client to repeat: kept once a minute per address.
                let key = client.map_or_else(|| format!("name {username}"), |a| a.to_string());
                self.trail
                    .record_sparingly(&self.store, now, "login_throttled", key, subject);
                return Err(AuthError::Throttled { retry_after });
            }
        };
        let checked = self.check_password(user_key.is_some(), username, password);
        let outcome = match &checked {
            Ok(Some(_)) => Outcome::Succeeded,
            Ok(None) => {
                // A failure, already counted by the throttle.
                self.trail.record(&self.store, now, "login_failed", subject);
                Outcome::Failed
            }
            Err(_) => Outcome::Abandoned,
        };
        self.throttle
            .finish(&self.store, counted, user_key.as_deref(), client, outcome);
        checked?.ok_or(AuthError::InvalidCredentials)
    }

    /// The live sessions of the principal's user, the most recent first.
    pub fn sessions(&self, principal: &Principal) -> Result<Vec<Session>, AuthError> {
        Ok(self.store.sessions(principal.user_id, self.clock.now())?)
    }

    /// Ends one of the principal's sessions: it can no longer refresh.
    /// Another user's session, or none, is [`AuthError::NotFound`].
    pub fn revoke_session(&self, principal: &Principal, id: &str) -> Result<(), AuthError> {
        let now = self.clock.now();
        match self.store.revoke_session(principal.user_id, id, now)? {
            true => {
                let subject = Subject {
                    session: Some(id),
                    ..principal.subject(None)
                };
                self.trail.record(&self.store, now, "session_revoked", subject);
                Ok(())
            }
            false => Err(AuthError::NotFound),
        }
    }

    /// Changes the principal's password, checking the current one (a wrong
    /// one counts as a failed login), and ends every other session of the
    /// user; the caller's session goes on.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use minijwt::auth::{Auth, AuthConfig, AuthError, ManualClock};
    /// # let auth = Auth::new(minijwt::store::Store::open_in_memory().unwrap(),
    /// #     minijwt::Hs256Key::new(&[7; 32]).unwrap(), AuthConfig::default(), Arc::new(ManualClock::new(1_800_000_000))).unwrap();
    /// # auth.register("alice", "correct horse").unwrap();
    /// let laptop = auth.login("alice", "correct horse", None).unwrap();
    /// let phone = auth.login("alice", "correct horse", None).unwrap();
    /// let me = auth.authenticate(&laptop.access_token).unwrap();
    /// assert_eq!(auth.change_password(&me, "wrong horse", "battery staple", None), Err(AuthError::InvalidCredentials));
    /// auth.change_password(&me, "correct horse", "battery staple", None).unwrap();
    /// assert!(auth.refresh(&phone.refresh_token, None).is_err()); // ended
    /// assert!(auth.refresh(&laptop.refresh_token, None).is_ok()); // goes on
    /// assert!(auth.login("alice", "battery staple", None).is_ok());
    /// ```
    pub fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
        client: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        check_new_password(new)?;
        let now = self.clock.now();
        let user = self.check_credentials(&principal.username, current, client, now)?;
        if user.id != principal.user_id {
            return Err(AuthError::InvalidCredentials);
        }
        let hash = self.hasher.hash(new)?.map_err(AuthError::Internal)?;
        self.store.set_password(user.id, &hash)?;
        self.store
            .revoke_other_sessions(user.id, principal.session.as_deref(), now)?;
        self.trail
            .record(&self.store, now, "password_changed", principal.subject(client));
        Ok(())
    }

    /// Deletes the principal's account after checking the password (a
    /// wrong one counts as a failed login): the user, their notes and
    /// sessions are gone, and their access tokens are refused from then on.
    pub fn delete_account(
        &self,
        principal: &Principal,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        let now = self.clock.now();
        let user = self.check_credentials(&principal.username, password, client, now)?;
        if user.id != principal.user_id {
            return Err(AuthError::InvalidCredentials);
        }
        self.store.delete_user(user.id)?;
        self.trail
            .record(&self.store, now, "account_deleted", principal.subject(client));
        Ok(())
    }

    /// The user whose password this is, or `None`; an unknown or malformed
    /// username costs the same hash as a wrong password.
    fn check_password(
        &self,
        well_formed: bool,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, AuthError> {
        let credentials = if well_formed {
            self.store.credentials(username)?
        } else {
            None
        };
        let matched = self
            .hasher
            .verify(password, credentials.as_ref().map(|c| c.password_hash.as_str()))?;
        Ok(credentials.filter(|_| matched).map(|c| c.user))
    }

    /// Checks an access token and says whose it is.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use minijwt::auth::{Auth, AuthConfig, ManualClock};
    /// # let auth = Auth::new(minijwt::store::Store::open_in_memory().unwrap(),
    /// #     minijwt::Hs256Key::new(&[7; 32]).unwrap(), AuthConfig::default(), Arc::new(ManualClock::new(1_800_000_000))).unwrap();
    /// # auth.register("alice", "correct horse").unwrap();
    /// # let tokens = auth.login("alice", "correct horse", None).unwrap();
    /// # let alice = auth.authenticate(&tokens.access_token).unwrap();
    /// assert_eq!(alice.username, "alice");
    /// assert!(auth.authenticate(&tokens.refresh_token).is_err()); // not an access token
    /// ```
    pub fn authenticate(&self, access_token: &str) -> Result<Principal, AuthError> {
        let validation = self.access_validation();
        let claims: AccessClaims = crate::decode_with_keys(&self.keys().verify, access_token, &validation)
            .map_err(|e| AuthError::InvalidToken {
                expired: matches!(e, JwtError::Expired { .. }),
                description: e.to_string(),
            })?;
        let user_id = claims.sub.parse().map_err(|_| AuthError::InvalidToken {
            expired: false,
            description: "token subject is not a user id".to_owned(),
        })?;
        // A deleted user's tokens are refused at once, not when they expire,
        // including once their id belongs to someone else: SQLite gives a
        // new row the highest id a deletion freed, so the token must also
        // name the user and be no older than the account.
        let same_user = self
            .store
            .user_by_id(user_id)?
            .is_some_and(|user| user.username == claims.username && claims.iat >= user.created_at);
        if !same_user {
            return Err(AuthError::InvalidToken {
                expired: false,
                description: "the token's user no longer exists".to_owned(),
            });
        }
        Ok(Principal {
            user_id,
            username: claims.username,
            session: claims.sid,
        })
    }

    /// The user an access token speaks for.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use minijwt::auth::{Auth, AuthConfig, ManualClock};
    /// # let auth = Auth::new(minijwt::store::Store::open_in_memory().unwrap(),
    /// #     minijwt::Hs256Key::new(&[7; 32]).unwrap(), AuthConfig::default(), Arc::new(ManualClock::new(1_800_000_000))).unwrap();
    /// # auth.register("alice", "correct horse").unwrap();
    /// # let tokens = auth.login("alice", "correct horse", None).unwrap();
    /// # let alice = auth.authenticate(&tokens.access_token).unwrap();
    /// assert_eq!(auth.me(&alice).unwrap().created_at, 1_800_000_000);
    /// ```
    pub fn me(&self, principal: &Principal) -> Result<User, AuthError> {
        self.store
            .user_by_id(principal.user_id)?
            .ok_or(AuthError::NotFound)
    }

    /// Trades a refresh token for a new access token and a new refresh token
    /// (rotation). If `access_token` is given (the seed's step 13), it must be
    /// genuine (expired is fine) and belong to the same user.
    ///
    /// Presenting the previous token again within
    /// [`AuthConfig::refresh_grace`] of its rotation, while its successor is
    /// unused, is a retry (a lost answer, two tabs): it gets the same
    /// successor, byte for byte, and a fresh access token. Any other use of a
    /// rotated token is reuse: the whole family is revoked.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use minijwt::auth::{Auth, AuthConfig, ManualClock};
    /// let clock = Arc::new(ManualClock::new(1_800_000_000));
    /// # let auth = Auth::new(minijwt::store::Store::open_in_memory().unwrap(),
    /// #     minijwt::Hs256Key::new(&[7; 32]).unwrap(), AuthConfig::default(), clock.clone()).unwrap();
    /// # auth.register("alice", "correct horse").unwrap();
    /// # let tokens = auth.login("alice", "correct horse", None).unwrap();
    /// let next = auth.refresh(&tokens.refresh_token, Some(&tokens.access_token)).unwrap();
    /// assert_ne!(next.refresh_token, tokens.refresh_token); // rotated
    /// // A retry moments later: the same successor.
    /// clock.advance(5);
    /// assert_eq!(auth.refresh(&tokens.refresh_token, None).unwrap().refresh_token, next.refresh_token);
    /// // Once the successor has been used, the old one is reuse: the family is revoked.
    /// let third = auth.refresh(&next.refresh_token, None).unwrap();
    /// assert_eq!(auth.refresh(&tokens.refresh_token, None), Err(minijwt::auth::AuthError::ReuseDetected));
    /// assert!(auth.refresh(&third.refresh_token, None).is_err());
    /// ```
    pub fn refresh(&self, refresh_token: &str, access_token: Option<&str>) -> Result<TokenPair, AuthError> {
        self.refresh_from(refresh_token, access_token, None)
    }

    /// [`Auth::refresh`] for a client at `client` (for the audit trail).
    pub fn refresh_from(
        &self,
        refresh_token: &str,
        access_token: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<TokenPair, AuthError> {
        let now = self.clock.now();
        let claims = self.verify_refresh(refresh_token, self.refresh_validation(now))?;
        if let Some(access_token) = access_token {
            let validation = self.access_validation().at_time(now).dangerous_skip_exp_check();
            let access: AccessClaims =
                crate::decode_with_keys(&self.keys().verify, access_token, &validation)
                    .map_err(|e| AuthError::ForeignAccessToken(format!("access token is invalid: {e}")))?;
            if access.sub != claims.sub {
                return Err(AuthError::ForeignAccessToken(
                    "access token belongs to another user".to_owned(),
                ));
            }
        }

        // A rotated token keeps its family's expiry, which is the presented
        // token's own `exp`: mint the successor before taking the write lock.
        let user_id: i64 = claims
            .sub
            .parse()
            .map_err(|_| AuthError::InvalidGrant("bad subject".to_owned()))?;
        let jti = random_id()?;
        let token = self.mint_refresh(user_id, &jti, now, claims.exp)?;
        let successor = |old: &RefreshRecord| RefreshRecord {
            jti: jti.clone(),
            token_hash: token_hash(&token),
            user_id: old.user_id,
            family: old.family.clone(),
            issued_at: now,
            expires_at: old.expires_at,
        };
        // The user, for the event: from the store's cache, before the write
        // lock is taken. A token's rows go with its user (deleted: the
        // rotation finds no token).
        let user = self.store.user_by_id(user_id)?;
        // The audit event is decided here, from the outcome, and written by
        // the store in the rotation's own transaction: one write per refresh.
        let mut recorded = false;
        let mut retried_token = None;
        let audit = |outcome: &Rotation| {
            let (event, subject) = match outcome {
                Rotation::Rotated(record) => ("refresh", refreshed(owner(&user, record)?, record, client)),
                Rotation::Retried(record) => {
                    // This closure runs inside the rotation's transaction:
                    // the HMAC of `mint_refresh` and the `recent` mutex of
                    // `keeps_repeat` below are taken while the store's
                    // writers' mutex and SQLite's write lock are held. Both
                    // are cheap (one HMAC, a map lookup), and only on a
                    // retry. No lock-order issue: the order is always
                    // writers' mutex, then SQLite's write lock, then
                    // `recent`, and `recent` is a leaf (`keeps_repeat`
                    // releases it before returning; nothing takes the store
                    // while holding it).
                    //
                    // The successor's token is not stored, only its hash: it
                    // is minted again from the stored claims, byte for byte
                    // the same (the same key signs the same claims the same
                    // way). Not the same: no event (see below).
                    let again =
                        self.mint_refresh(record.user_id, &record.jti, record.issued_at, record.expires_at);
                    let same = matches!(&again, Ok(again) if token_hash(again) == record.token_hash);
                    retried_token = Some(again);
                    // A retry can be repeated at will within the window:
                    // kept once a minute per session.
                    let user = owner(&user, record).filter(|_| same)?;
                    if !self
                        .trail
                        .keeps_repeat(now, "refresh_grace", record.family.clone())
                    {
                        return None;
                    }
                    ("refresh_grace", refreshed(user, record, client))
                }
                Rotation::Reused => {
                    let subject = Subject {
                        user_id: Some(user_id),
                        address: client,
                        ..Subject::default()
                    };
                    ("reuse_detected", subject)
                }
                Rotation::Revoked | Rotation::Expired | Rotation::Unknown => return None,
            };
            recorded = true;
            Some(self.trail.event(now, event, subject))
        };
        let grace = self.config.refresh_grace;
        let outcome = self.store.rotate_refresh_recorded(
            &claims.jti,
            &token_hash(refresh_token),
            now,
            grace,
            successor,
            audit,
        )?;
        if recorded {
            self.trail.recorded(&self.store, now);
        }
        match outcome {
            Rotation::Rotated(record) => {
                let user = owner(&user, &record).ok_or(AuthError::NotFound)?;
                let pair = self.pair(user, token, &record.family, record.expires_at, now)?;
                Counters::bump(&self.counters.refreshes_ok);
                Ok(pair)
            }
            Rotation::Retried(record) => {
                let again =
                    retried_token.unwrap_or_else(|| Err(AuthError::Internal("no retry token".into())))?;
                if token_hash(&again) != record.token_hash {
                    // The key or the issuer changed since: cannot be the same.
                    return Err(AuthError::InvalidGrant("refresh token was rotated".to_owned()));
                }
                let user = owner(&user, &record).ok_or(AuthError::NotFound)?;
                let pair = self.pair(user, again, &record.family, record.expires_at, now)?;
                Counters::bump(&self.counters.refreshes_grace);
                Ok(pair)
            }
            Rotation::Reused => {
                Counters::bump(&self.counters.refreshes_reuse);
                Err(AuthError::ReuseDetected)
            }
            Rotation::Revoked => Err(AuthError::InvalidGrant("refresh token was revoked".to_owned())),
            Rotation::Expired => Err(AuthError::InvalidGrant("refresh token expired".to_owned())),
            Rotation::Unknown => Err(AuthError::InvalidGrant("refresh token is not known".to_owned())),
        }
    }

    /// Revokes the family of a refresh token. Idempotent: a genuine token that
    /// is already revoked, expired or unknown is fine.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use minijwt::auth::{Auth, AuthConfig, ManualClock};
    /// # let auth = Auth::new(minijwt::store::Store::open_in_memory().unwrap(),
    /// #     minijwt::Hs256Key::new(&[7; 32]).unwrap(), AuthConfig::default(), Arc::new(ManualClock::new(1_800_000_000))).unwrap();
    /// # auth.register("alice", "correct horse").unwrap();
    /// # let tokens = auth.login("alice", "correct horse", None).unwrap();
    /// # let alice = auth.authenticate(&tokens.access_token).unwrap();
    /// auth.logout(&tokens.refresh_token).unwrap();
    /// auth.logout(&tokens.refresh_token).unwrap(); // idempotent
    /// assert!(auth.refresh(&tokens.refresh_token, None).is_err());
    /// ```
    pub fn logout(&self, refresh_token: &str) -> Result<(), AuthError> {
        let now = self.clock.now();
        let claims = self.verify_refresh(
            refresh_token,
            self.refresh_validation(now).dangerous_skip_exp_check(),
        )?;
        self.store
            .revoke_family_of(&claims.jti, &token_hash(refresh_token), now)?;
        let subject = Subject {
            user_id: claims.sub.parse().ok(),
            ..Subject::default()
        };
        // An old token can log out again and again: kept once a minute per user.
        self.trail
            .record_sparingly(&self.store, now, "logout", claims.sub.clone(), subject);
        Ok(())
    }

    /// Revokes every refresh token of the user.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use minijwt::auth::{Auth, AuthConfig, ManualClock};
    /// # let auth = Auth::new(minijwt::store::Store::open_in_memory().unwrap(),
    /// #     minijwt::Hs256Key::new(&[7; 32]).unwrap(), AuthConfig::default(), Arc::new(ManualClock::new(1_800_000_000))).unwrap();
    /// # auth.register("alice", "correct horse").unwrap();
    /// # let tokens = auth.login("alice", "correct horse", None).unwrap();
    /// # let alice = auth.authenticate(&tokens.access_token).unwrap();
    /// let other = auth.login("alice", "correct horse", None).unwrap();
    /// auth.logout_all(&alice).unwrap();
    /// assert!(auth.refresh(&tokens.refresh_token, None).is_err());
    /// assert!(auth.refresh(&other.refresh_token, None).is_err());
    /// ```
    pub fn logout_all(&self, principal: &Principal) -> Result<(), AuthError> {
        let now = self.clock.now();
        self.store.revoke_user(principal.user_id, now)?;
        self.trail
            .record(&self.store, now, "logout_all", principal.subject(None));
        Ok(())
    }

    /// The user's notes, newest first.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use minijwt::auth::{Auth, AuthConfig, ManualClock};
    /// # let auth = Auth::new(minijwt::store::Store::open_in_memory().unwrap(),
    /// #     minijwt::Hs256Key::new(&[7; 32]).unwrap(), AuthConfig::default(), Arc::new(ManualClock::new(1_800_000_000))).unwrap();
    /// # auth.register("alice", "correct horse").unwrap();
    /// # let tokens = auth.login("alice", "correct horse", None).unwrap();
    /// # let alice = auth.authenticate(&tokens.access_token).unwrap();
    /// auth.create_note(&alice, "first").unwrap();
    /// auth.create_note(&alice, "second").unwrap();
    /// let texts: Vec<_> = auth.notes(&alice).unwrap().into_iter().map(|n| n.text).collect();
    /// assert_eq!(texts, ["second", "first"]); // same second: newest id first
    /// ```
    pub fn notes(&self, principal: &Principal) -> Result<Vec<Note>, AuthError> {
        Ok(self.store.notes(principal.user_id)?)
    }

    /// Adds a note of 1–4096 characters.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use minijwt::auth::{Auth, AuthConfig, ManualClock};
    /// # let auth = Auth::new(minijwt::store::Store::open_in_memory().unwrap(),
    /// #     minijwt::Hs256Key::new(&[7; 32]).unwrap(), AuthConfig::default(), Arc::new(ManualClock::new(1_800_000_000))).unwrap();
    /// # auth.register("alice", "correct horse").unwrap();
    /// # let tokens = auth.login("alice", "correct horse", None).unwrap();
    /// # let alice = auth.authenticate(&tokens.access_token).unwrap();
    /// assert_eq!(auth.create_note(&alice, "hello").unwrap().text, "hello");
    /// assert!(auth.create_note(&alice, "").is_err());
    /// ```
    pub fn create_note(&self, principal: &Principal, text: &str) -> Result<Note, AuthError> {
        let length = text.chars().count();
        if !(1..=4096).contains(&length) {
            return Err(AuthError::InvalidRequest(format!(
                "text must be 1 to 4096 characters, got {length}"
            )));
        }
        Ok(self
            .store
            .create_note(principal.user_id, text, self.clock.now())?)
    }

    /// One of the user's notes; another user's is [`AuthError::NotFound`].
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use minijwt::auth::{Auth, AuthConfig, ManualClock};
    /// # let auth = Auth::new(minijwt::store::Store::open_in_memory().unwrap(),
    /// #     minijwt::Hs256Key::new(&[7; 32]).unwrap(), AuthConfig::default(), Arc::new(ManualClock::new(1_800_000_000))).unwrap();
    /// # auth.register("alice", "correct horse").unwrap();
    /// # let tokens = auth.login("alice", "correct horse", None).unwrap();
    /// # let alice = auth.authenticate(&tokens.access_token).unwrap();
    /// let note = auth.create_note(&alice, "hello").unwrap();
    /// assert_eq!(auth.note(&alice, note.id).unwrap(), note);
    /// assert_eq!(auth.note(&alice, note.id + 1), Err(minijwt::auth::AuthError::NotFound));
    /// ```
    pub fn note(&self, principal: &Principal, id: i64) -> Result<Note, AuthError> {
        self.store.note(principal.user_id, id)?.ok_or(AuthError::NotFound)
    }

    /// Deletes one of the user's notes.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use minijwt::auth::{Auth, AuthConfig, ManualClock};
    /// # let auth = Auth::new(minijwt::store::Store::open_in_memory().unwrap(),
    /// #     minijwt::Hs256Key::new(&[7; 32]).unwrap(), AuthConfig::default(), Arc::new(ManualClock::new(1_800_000_000))).unwrap();
    /// # auth.register("alice", "correct horse").unwrap();
    /// # let tokens = auth.login("alice", "correct horse", None).unwrap();
    /// # let alice = auth.authenticate(&tokens.access_token).unwrap();
    /// let note = auth.create_note(&alice, "bye").unwrap();
    /// auth.delete_note(&alice, note.id).unwrap();
    /// assert_eq!(auth.delete_note(&alice, note.id), Err(minijwt::auth::AuthError::NotFound));
    /// ```
    pub fn delete_note(&self, principal: &Principal, id: i64) -> Result<(), AuthError> {
        if self.store.delete_note(principal.user_id, id)? {
            Ok(())
        } else {
            Err(AuthError::NotFound)
        }
    }

    fn access_validation(&self) -> Validation {
        Validation::default()
            .with_typ(ACCESS_TYP)
            .with_issuer(&self.config.issuer)
            .require("jti")
            .require("sub")
            .at_time(self.clock.now())
    }

    fn refresh_validation(&self, now: i64) -> Validation {
        Validation::default()
            .with_typ(REFRESH_TYP)
            .with_issuer(&self.config.issuer)
            .require("jti")
            .require("sub")
            .at_time(now)
    }

    fn verify_refresh(&self, token: &str, validation: Validation) -> Result<RefreshClaims, AuthError> {
        crate::decode_with_keys(&self.keys().verify, token, &validation).map_err(|e| match e {
            JwtError::Expired { .. } => AuthError::InvalidGrant("refresh token expired".to_owned()),
            e => AuthError::InvalidGrant(format!("refresh token is invalid: {e}")),
        })
    }

    /// Signs a refresh token; returns it and its `jti`.
    /// A refresh token: a function of its claims and the key alone, so that
    /// a successor can be minted again for a retry (see `refresh`).
    fn mint_refresh(
        &self,
        user_id: i64,
        jti: &str,
        issued_at: i64,
        expires_at: i64,
    ) -> Result<String, AuthError> {
        let claims = RefreshClaims {
            iss: self.config.issuer.clone(),
            sub: user_id.to_string(),
            iat: issued_at,
            exp: expires_at,
            jti: jti.to_owned(),
        };
        self.keys().sign(REFRESH_TYP, &claims)
    }

    fn pair(
        &self,
        user: &User,
        refresh_token: String,
        session: &str,
        refresh_exp: i64,
        now: i64,
    ) -> Result<TokenPair, AuthError> {
        let claims = AccessClaims {
            iss: self.config.issuer.clone(),
            sub: user.id.to_string(),
            username: user.username.clone(),
            iat: now,
            exp: now + self.config.access_ttl,
            jti: random_id()?,
            sid: Some(session.to_owned()),
        };
        let access_token = self.keys().sign(ACCESS_TYP, &claims)?;
        Ok(TokenPair {
            access_token,
            token_type: "Bearer",
            expires_in: self.config.access_ttl,
            refresh_token,
            refresh_expires_in: refresh_exp - now,
        })
    }
}

/// `user` if the token `record` is theirs.
fn owner<'a>(user: &'a Option<User>, record: &RefreshRecord) -> Option<&'a User> {
    user.as_ref().filter(|user| user.id == record.user_id)
}

/// What a refresh's audit event names.
fn refreshed<'a>(user: &'a User, record: &'a RefreshRecord, client: Option<IpAddr>) -> Subject<'a> {
    Subject {
        user_id: Some(user.id),
        username: Some(&user.username),
        address: client,
        session: Some(&record.family),
    }
}

/// The rule for a new password, at registration and on a change.
fn check_new_password(password: &str) -> Result<(), AuthError> {
    let length = password.chars().count();
    if !(8..=1024).contains(&length) {
        return Err(AuthError::InvalidRequest(format!(
            "password must be 8 to 1024 characters, got {length}"
        )));
    }
    Ok(())
}

fn check_username(username: &str) -> Result<(), AuthError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if (3..=32).contains(&username.len()) && username.chars().all(allowed) {
        Ok(())
    } else {
        Err(AuthError::InvalidRequest(
            "username must be 3 to 32 characters of A-Z a-z 0-9 _ . -".to_owned(),
        ))
    }
}

/// 16 random bytes as base64url: a `jti` or a family id.
fn random_id() -> Result<String, AuthError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Internal(format!("random source: {e}")))?;
    Ok(crate::base64url::encode(&bytes))
}

/// What the store keeps of a refresh token.
fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}
