//! Persistence: the [`Store`] the auth domain reads and writes through, over
//! one of two backends: SQLite (a file; the default, embedded) or PostgreSQL
//! (feature `postgres`; several instances sharing one database).
//!
//! The only module that runs SQL. A backend (the `Backend` trait) maps rows to the
//! domain's types ([`crate::auth`]) and decides each operation in the
//! database, in one transaction where it changes more than one row, under
//! the rules the domain writes once (the rotation's, `decide_rotation`, and
//! the throttle's). What both backends share is written here once: the
//! count of failures, the user cache, and which location names which
//! backend ([`Store::open`]).
//!
//! Times are Unix seconds, decided by the caller (the auth layer owns the clock).

use std::prelude::rust_2021::*;

mod pool;
#[cfg(feature = "postgres")]
mod postgres;
mod sqlite;
mod sqlite_schema;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub(crate) use crate::auth::{decide_rotation, RefreshRow, RotationTx};
use crate::auth::{AuditEvent, Credentials, Note, RefreshRecord, Rotation, Session, User};

/// Users kept in [`Store::user_by_id`]'s cache before it starts over.
pub const MAX_CACHED_USERS: usize = 10_000;

/// The longest a caller waits for a pooled connection before the store
/// answers "busy" (503 with Retry-After).
pub const POOL_WAIT: Duration = Duration::from_secs(5);

/// Why a store operation failed.
///
/// ```
/// use minijwt::store::StoreError;
/// let e = StoreError::Unavailable("database is full".into());
/// assert_eq!(e.to_string(), "storage unavailable: database is full");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// A uniqueness rule was broken (a username already taken).
    Conflict,
    /// The database cannot take the operation now: full, read-only, locked
    /// for too long, unreachable. Worth retrying later.
    Unavailable(String),
    /// Anything else: a bug or a damaged database.
    Internal(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Conflict => f.write_str("uniqueness conflict"),
            StoreError::Unavailable(why) => write!(f, "storage unavailable: {why}"),
            StoreError::Internal(why) => write!(f, "storage error: {why}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// What a database must do for the [`Store`]; one implementation per
/// backend (`sqlite.rs`, `postgres.rs`). Each method is one operation of the
/// same name on [`Store`], where its contract is written; a backend only
/// maps rows and decides in the database. A new backend implements this
/// trait and gets a branch in [`Store::open`].
pub(crate) trait Backend: Send + Sync {
    /// Where the data lives, for `Debug` and logs: never a password.
    fn location(&self) -> String;
    /// Whether other processes may change the data.
    fn shared(&self) -> bool;
    /// For a shared store: keeps `cache` told of every user deleted by any
    /// instance (`UserCache::forget`), and of when that news may be missed
    /// (`UserCache::fill`). False if the backend cannot: then no cache.
    fn watch_deletions(&self, _cache: Arc<UserCache>) -> bool {
        false
    }
    fn ready(&self) -> Result<(), StoreError>;
    fn set_page_limit(&self, pages: Option<u64>) -> Result<(), StoreError>;
    fn set_read_only(&self, read_only: bool);
    fn create_user(&self, username: &str, password_hash: &str, now: i64) -> Result<User, StoreError>;
    fn credentials(&self, username: &str) -> Result<Option<Credentials>, StoreError>;
    fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError>;
    fn insert_refresh(&self, record: &RefreshRecord) -> Result<(), StoreError>;
    fn start_session(
        &self,
        first: &RefreshRecord,
        username: &str,
        user_agent: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<(), StoreError>;
    fn sessions(&self, user_id: i64, now: i64) -> Result<Vec<Session>, StoreError>;
    fn revoke_session(&self, user_id: i64, id: &str, now: i64) -> Result<bool, StoreError>;
    fn revoke_other_sessions(&self, user_id: i64, keep: Option<&str>, now: i64) -> Result<usize, StoreError>;
    fn record(&self, event: &AuditEvent) -> Result<(), StoreError>;
    fn audit_trail(&self, username: Option<&str>, since: i64) -> Result<Vec<AuditEvent>, StoreError>;
    fn prune_audit(&self, before: i64) -> Result<usize, StoreError>;
    fn set_password(&self, user_id: i64, password_hash: &str) -> Result<(), StoreError>;
    fn delete_user(&self, user_id: i64) -> Result<bool, StoreError>;
    /// Runs [`decide_rotation`] in one transaction that no other rotation
    /// of the same token can interleave with, then writes the event `audit`
    /// makes of the outcome in that transaction.
    fn rotate_refresh(
        &self,
        jti: &str,
        token_hash: &[u8; 32],
        now: i64,
        grace: i64,
        next: &dyn Fn(&RefreshRecord) -> RefreshRecord,
        audit: &mut dyn FnMut(&Rotation) -> Option<AuditEvent>,
    ) -> Result<Rotation, StoreError>;
    fn revoke_family_of(&self, jti: &str, token_hash: &[u8; 32], now: i64) -> Result<bool, StoreError>;
    fn revoke_user(&self, user_id: i64, now: i64) -> Result<usize, StoreError>;
    fn create_note(&self, user_id: i64, text: &str, now: i64) -> Result<Note, StoreError>;
    fn notes(&self, user_id: i64) -> Result<Vec<Note>, StoreError>;
    fn note(&self, user_id: i64, id: i64) -> Result<Option<Note>, StoreError>;
    fn delete_note(&self, user_id: i64, id: i64) -> Result<bool, StoreError>;
    /// Only a store other processes share keeps login attempts; a store
    /// that does not is never asked (the throttle keeps them in memory).
    fn count_login_attempt(
        &self,
        _keys: &[String],
        _now: i64,
        _since: i64,
        _keep: usize,
        _judge: &dyn Fn(&[Vec<i64>]) -> Option<i64>,
    ) -> Result<Result<Vec<i64>, i64>, StoreError> {
        Err(no_login_attempts())
    }
    fn forget_login_failures(&self, _pair: Option<&str>, _ids: &[i64]) -> Result<(), StoreError> {
        Err(no_login_attempts())
    }
    fn prune_login_failures(&self, _before: i64) -> Result<(), StoreError> {
        Err(no_login_attempts())
    }
}

/// What a store that keeps no login attempts answers if asked for them.
fn no_login_attempts() -> StoreError {
    StoreError::Internal("this store keeps no login attempts".into())
}

/// A token hash as read from a row: one that is not 32 bytes (a damaged
/// row) becomes all zeros, which no token's SHA-256 is, so it matches none.
pub(crate) fn stored_hash(bytes: Vec<u8>) -> [u8; 32] {
    bytes.try_into().unwrap_or([0; 32])
}

/// Compares two hashes without stopping at the first difference.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `location` names a PostgreSQL database (`postgres://` or
/// `postgresql://`) rather than a SQLite file: the one rule [`Store::open`]
/// chooses a backend by.
///
/// ```
/// use minijwt::store::is_database_url;
/// assert!(is_database_url("postgres://app@db:5432/auth"));
/// assert!(!is_database_url("./minijwt.db"));
/// ```
pub fn is_database_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// `location` as it may be shown (in errors and logs): a SQLite path as it
/// is; a PostgreSQL URL rebuilt from what it names, user, hosts, ports and
/// database, so that a password (`user:password@` or `?password=`) never is.
///
/// ```
/// use minijwt::store::display_location;
/// let shown = display_location("postgres://app:s3cret@db:5432/auth?password=other");
/// assert!(!shown.contains("s3cret") && !shown.contains("other"), "{shown}");
/// assert_eq!(display_location("minijwt.db"), "minijwt.db");
/// ```
pub fn display_location(location: &str) -> String {
    if !is_database_url(location) {
        return location.to_owned();
    }
    #[cfg(feature = "postgres")]
    return postgres::shown(location);
    #[cfg(not(feature = "postgres"))]
    return "postgres://(a PostgreSQL URL; this build has no PostgreSQL)".to_owned();
}

/// Users by id, so that an access check (`GET /me`) costs no SQL, and goes
/// on while the database is down. A store no other process changes fills it
/// always; a shared one (PostgreSQL) only while its backend listens for the
/// other instances' deletions (see `Backend::watch_deletions`), and empties
/// it whenever it starts listening again, since it may have missed some.
pub(crate) struct UserCache {
    users: RwLock<HashMap<i64, User>>,
    /// Users forgotten so far; see [`Store::user_by_id`].
    deletions: AtomicU64,
    /// Whether users read may be added.
    filling: AtomicBool,
}

impl UserCache {
    fn new(filling: bool) -> Self {
        UserCache {
            users: RwLock::default(),
            deletions: AtomicU64::new(0),
            filling: AtomicBool::new(filling),
        }
    }

    /// Forgets user `id`, or every user: deleted, maybe by another instance.
    /// A lookup under way when this is called will not add what it read.
    pub(crate) fn forget(&self, id: Option<i64>) {
        let mut users = self.users.write().unwrap_or_else(|p| p.into_inner());
        self.deletions.fetch_add(1, Ordering::SeqCst);
        match id {
            Some(id) => drop(users.remove(&id)),
            None => users.clear(),
        }
    }

    /// Starts (after forgetting every user) or stops filling the cache.
    #[cfg(feature = "postgres")]
    pub(crate) fn fill(&self, filling: bool) {
        if filling {
            self.forget(None);
        }
        self.filling.store(filling, Ordering::SeqCst);
    }
}

/// The database, shareable between threads.
///
/// ```
/// use minijwt::store::Store;
///
/// let store = Store::open_in_memory().unwrap();
/// let alice = store.create_user("alice", "$argon2id$...", 1_000).unwrap();
/// assert_eq!(store.user_by_id(alice.id).unwrap().unwrap().username, "alice");
/// assert!(store.create_user("ALICE", "x", 1_001).is_err()); // case-insensitive
/// ```
pub struct Store {
    backend: Box<dyn Backend>,
    /// `None` for a shared store whose backend cannot say when another
    /// instance deletes a user.
    cache: Option<Arc<UserCache>>,
    /// Operations that failed other than by a conflict; see [`Store::errors`].
    errors: AtomicU64,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.backend.location())
            .finish_non_exhaustive()
    }
}

impl Store {
    fn over(backend: Box<dyn Backend>) -> Store {
        Store {
            cache: match backend.shared() {
                false => Some(Arc::new(UserCache::new(true))),
                true => {
                    let cache = Arc::new(UserCache::new(false));
                    backend.watch_deletions(cache.clone()).then_some(cache)
                }
            },
            backend,
            errors: AtomicU64::new(0),
        }
    }

    /// Opens the database at `location` and brings its schema up to date: a
    /// PostgreSQL database when `location` is a `postgres://` (or
    /// `postgresql://`) URL, which needs the `postgres` feature; otherwise
    /// a SQLite file at that path, created (0600) if needed.
    ///
    /// ```no_run
    /// let store = minijwt::store::Store::open("minijwt.db").unwrap();
    /// ```
    pub fn open(location: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = location.as_ref();
        match path.to_str() {
            Some(url) if is_database_url(url) => Self::open_postgres(url),
            _ => Ok(Store::over(Box::new(sqlite::SqliteStore::open(path)?))),
        }
    }

    #[cfg(feature = "postgres")]
    fn open_postgres(url: &str) -> Result<Store, StoreError> {
        Ok(Store::over(Box::new(postgres::PostgresStore::open(url)?)))
    }

    #[cfg(not(feature = "postgres"))]
    fn open_postgres(_: &str) -> Result<Store, StoreError> {
        Err(StoreError::Internal(
            "this minijwt was built without PostgreSQL support (build it with --features postgres)".into(),
        ))
    }

    /// A fresh private in-memory database, for tests and fuzzing.
    ///
    /// ```
    /// let store = minijwt::store::Store::open_in_memory().unwrap();
    /// assert!(store.ready().is_ok());
    /// ```
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Ok(Store::over(Box::new(sqlite::SqliteStore::open_in_memory()?)))
    }

    /// Whether other processes share the data (PostgreSQL): then nothing
    /// about it may be kept in this process alone (users, login failures).
    ///
    /// ```
    /// # let store = minijwt::store::Store::open_in_memory().unwrap();
    /// assert!(!store.is_shared());
    /// ```
    pub fn is_shared(&self) -> bool {
        self.backend.shared()
    }

    /// Counts a login attempt under `keys` (the throttle's), for a shared
    /// store: in one transaction, locked per key on every instance, drops
    /// the keys' failures at or before `since` and all but each key's
    /// newest `keep` (the most any limit needs), gives `judge` the others
    /// (one list per key, oldest first) and, unless it answers a wait
    /// (`Ok(Err(seconds))`), records the attempt under each key at `now`.
    /// Returns the ids of its rows, for [`Store::forget_login_failures`].
    pub fn count_login_attempt(
        &self,
        keys: &[String],
        now: i64,
        since: i64,
        keep: usize,
        judge: &dyn Fn(&[Vec<i64>]) -> Option<i64>,
    ) -> Result<Result<Vec<i64>, i64>, StoreError> {
        self.counted(self.backend.count_login_attempt(keys, now, since, keep, judge))
    }

    /// Forgets the attempt whose rows are `ids` and, when given, every
    /// failure of the key `pair` (a login that succeeded).
    pub fn forget_login_failures(&self, pair: Option<&str>, ids: &[i64]) -> Result<(), StoreError> {
        self.counted(self.backend.forget_login_failures(pair, ids))
    }

    /// Drops every login failure at or before `before`.
    pub fn prune_login_failures(&self, before: i64) -> Result<(), StoreError> {
        self.counted(self.backend.prune_login_failures(before))
    }

    /// Counts a failure other than a conflict; see [`Store::errors`].
    fn counted<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if matches!(result, Err(StoreError::Unavailable(_) | StoreError::Internal(_))) {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// Caps the database at `pages` pages (of 4 KiB; never below its current
    /// size), or lifts the cap. When a write needs a page past the cap, it fails with [`StoreError::Unavailable`]
    /// ("database is full") and reads go on; raising or lifting it takes
    /// effect at once. For embedded deployments with a fixed budget, and for
    /// testing what a full disk does.
    ///
    /// ```
    /// use minijwt::store::{Store, StoreError};
    ///
    /// let store = Store::open_in_memory().unwrap();
    /// let user = store.create_user("zed", "hash", 0).unwrap();
    /// store.set_page_limit(Some(1)).unwrap(); // below the current size: no page may be added
    /// let big = "x".repeat(10_000);
    /// assert_eq!(
    ///     store.create_note(user.id, &big, 0).unwrap_err(),
    ///     StoreError::Unavailable("database is full".into())
    /// );
    /// store.set_page_limit(None).unwrap();
    /// assert!(store.create_note(user.id, &big, 0).is_ok());
    /// ```
    ///
    /// SQLite only: PostgreSQL has no such cap (set a quota on its server),
    /// and refuses the call with [`StoreError::Internal`].
    pub fn set_page_limit(&self, pages: Option<u64>) -> Result<(), StoreError> {
        self.backend.set_page_limit(pages)
    }

    /// Makes the database read-only for this process (SQLite: `PRAGMA
    /// query_only` on every connection; PostgreSQL: `default_transaction_read_only`
    /// on each connection as it is next used), or writable again. A write
    /// then fails with [`StoreError::Unavailable`] ("database is
    /// read-only"), as it does when the file itself cannot be written; reads
    /// go on. On SQLite, returns once the writes already under way have
    /// finished; on PostgreSQL, those finish as they began. For maintenance, and for
    /// testing what a read-only disk does where file modes cannot (root
    /// ignores them).
    ///
    /// ```
    /// use minijwt::store::{Store, StoreError};
    ///
    /// let store = Store::open_in_memory().unwrap();
    /// let user = store.create_user("ro", "hash", 0).unwrap();
    /// store.set_read_only(true);
    /// assert_eq!(
    ///     store.create_note(user.id, "hi", 0).unwrap_err(),
    ///     StoreError::Unavailable("database is read-only".into())
    /// );
    /// assert_eq!(store.notes(user.id).unwrap(), vec![]); // reads go on
    /// store.set_read_only(false);
    /// assert!(store.create_note(user.id, "hi", 0).is_ok());
    /// ```
    pub fn set_read_only(&self, read_only: bool) {
        self.backend.set_read_only(read_only)
    }

    /// The readiness check: one trivial read of the database (a row of
    /// `users` at most, whatever their number), answered or failed within
    /// [`POOL_WAIT`] in all: the wait for a connection, for the writers'
    /// turn (in memory) and SQLite's busy wait share that one deadline.
    ///
    /// ```
    /// # let store = minijwt::store::Store::open_in_memory().unwrap();
    /// assert!(store.ready().is_ok());
    /// ```
    pub fn ready(&self) -> Result<(), StoreError> {
        self.counted(self.backend.ready())
    }

    /// Operations that failed since the store was opened, other than by a
    /// conflict (a name taken): the database unavailable (full, read-only,
    /// busy past its wait, unreachable) or a statement that failed.
    ///
    /// ```
    /// # let store = minijwt::store::Store::open_in_memory().unwrap();
    /// assert_eq!(store.errors(), 0);
    /// ```
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The user with row id `id`.
    ///
    /// A user's id, name and creation time never change (no endpoint renames
    /// one), so found users are cached: `GET /me` then costs no SQL, and
    /// goes on while the database is down. A deleted user leaves the cache
    /// at once, and a lookup that raced with a deletion does not put them
    /// back (`deletions` counts them). On PostgreSQL, another instance's
    /// deletion reaches this cache by `NOTIFY` when it commits (a few
    /// milliseconds; see the PostgreSQL backend), and the cache is filled
    /// only while that news can arrive. The cache is bounded by
    /// [`MAX_CACHED_USERS`] and starts over when full.
    ///
    /// ```
    /// # let store = minijwt::store::Store::open_in_memory().unwrap();
    /// assert!(store.user_by_id(42).unwrap().is_none());
    /// let user = store.create_user("kim", "hash", 3).unwrap();
    /// assert_eq!(store.user_by_id(user.id).unwrap(), Some(user.clone()));
    /// assert_eq!(store.user_by_id(user.id).unwrap(), Some(user)); // from the cache
    /// ```
    pub fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        let Some(cache) = &self.cache else {
            return self.counted(self.backend.user_by_id(id));
        };
        if let Some(user) = cache.users.read().unwrap_or_else(|p| p.into_inner()).get(&id) {
            return Ok(Some(user.clone()));
        }
        let deletions = cache.deletions.load(Ordering::SeqCst);
        let found = self.counted(self.backend.user_by_id(id))?;
        if let Some(user) = &found {
            let mut users = cache.users.write().unwrap_or_else(|p| p.into_inner());
            if users.len() >= MAX_CACHED_USERS {
                users.clear();
            }
            // A user deleted since this lookup began may be the one read.
            if cache.deletions.load(Ordering::SeqCst) == deletions && cache.filling.load(Ordering::SeqCst) {
                users.insert(id, user.clone());
            }
        }
        Ok(found)
    }

    /// Deletes `user_id` with their notes, sessions and refresh tokens
    /// (foreign keys cascade), and forgets them in the user cache at once.
    /// Returns false when there was no such user.
    ///
    /// ```
    /// # let store = minijwt::store::Store::open_in_memory().unwrap();
    /// let user = store.create_user("hal", "hash", 0).unwrap();
    /// store.create_note(user.id, "bye", 1).unwrap();
    /// assert!(store.user_by_id(user.id).unwrap().is_some()); // cached now
    /// assert!(store.delete_user(user.id).unwrap());
    /// assert!(store.user_by_id(user.id).unwrap().is_none());
    /// assert!(store.notes(user.id).unwrap().is_empty());
    /// ```
    pub fn delete_user(&self, user_id: i64) -> Result<bool, StoreError> {
        let deleted = self.counted(self.backend.delete_user(user_id))?;
        if let Some(cache) = &self.cache {
            cache.forget(Some(user_id));
        }
        Ok(deleted)
    }

    /// Rotates the refresh token `jti` whose text hashes to `token_hash`, in one
    /// transaction: if it is current and unexpired at `now`, marks it rotated
    /// (naming its successor) and stores the record `next` builds from it
    /// (same user and family, the family's expiry). If it was already rotated
    /// no more than `grace` seconds ago and its successor is still unused,
    /// this is a retry: [`Rotation::Retried`] with that successor, nothing
    /// changed. Otherwise a rotated token is reuse: the whole family is
    /// revoked. Of many concurrent calls with one token, exactly one gets
    /// [`Rotation::Rotated`]; within the grace window the others get
    /// `Retried` with the same successor.
    ///
    /// ```
    /// # use minijwt::{auth::{RefreshRecord, Rotation}, store::Store};
    /// # let store = Store::open_in_memory().unwrap();
    /// # let user = store.create_user("erin", "hash", 0).unwrap();
    /// let first = RefreshRecord {
    ///     jti: "j1".into(), token_hash: [1; 32], user_id: user.id,
    ///     family: "f1".into(), issued_at: 0, expires_at: 100,
    /// };
    /// store.insert_refresh(&first).unwrap();
    /// let next = |old: &RefreshRecord| RefreshRecord { jti: "j2".into(), token_hash: [2; 32], issued_at: 10, ..old.clone() };
    /// let Rotation::Rotated(second) = store.rotate_refresh("j1", &[1; 32], 10, 30, next).unwrap() else { panic!() };
    /// // Within 30 s, while j2 is unused: a retry gets j2 again.
    /// assert_eq!(store.rotate_refresh("j1", &[1; 32], 15, 30, next).unwrap(), Rotation::Retried(second));
    /// // Past the window: reuse, and the family (j2 with it) is revoked.
    /// assert_eq!(store.rotate_refresh("j1", &[1; 32], 41, 30, next).unwrap(), Rotation::Reused);
    /// assert_eq!(store.rotate_refresh("j2", &[2; 32], 42, 30, next).unwrap(), Rotation::Revoked);
    /// ```
    pub fn rotate_refresh(
        &self,
        jti: &str,
        token_hash: &[u8; 32],
        now: i64,
        grace: i64,
        next: impl Fn(&RefreshRecord) -> RefreshRecord,
    ) -> Result<Rotation, StoreError> {
        self.rotate_refresh_recorded(jti, token_hash, now, grace, next, |_| None)
    }

    /// [`Store::rotate_refresh`], and the audit event `audit` makes of the
    /// outcome, if any, written in the same transaction: one write per
    /// rotation, and the event is committed with the change it records.
    ///
    /// If the event's insert fails, what happens depends on what SQLite
    /// undid. A full disk, an I/O error or running out of memory makes
    /// SQLite roll back the whole transaction for a plain one-row insert
    /// such as this one: the rotation fails and nothing is kept. An error
    /// that aborts only the statement (a constraint, a row too big, a
    /// trigger's `RAISE(ABORT)`) leaves the transaction open: the rotation
    /// is committed without the event, which is best effort as with
    /// [`Store::record`]. On PostgreSQL, any failure of the event's insert
    /// aborts the transaction: the rotation fails and nothing is kept.
    ///
    /// ```
    /// # use minijwt::{auth::{AuditEvent, RefreshRecord, Rotation}, store::Store};
    /// # let store = Store::open_in_memory().unwrap();
    /// # let user = store.create_user("uma", "hash", 0).unwrap();
    /// # let first = RefreshRecord {
    /// #     jti: "j1".into(), token_hash: [1; 32], user_id: user.id,
    /// #     family: "f1".into(), issued_at: 0, expires_at: 100,
    /// # };
    /// # store.insert_refresh(&first).unwrap();
    /// let next = |old: &RefreshRecord| RefreshRecord { jti: "j2".into(), token_hash: [2; 32], issued_at: 10, ..old.clone() };
    /// let audit = |outcome: &Rotation| {
    ///     matches!(outcome, Rotation::Rotated(_)).then(|| AuditEvent {
    ///         at: 10, event: "refresh".into(), user_id: Some(user.id),
    ///         username: Some("uma".into()), address: None, session: Some("f1".into()),
    ///     })
    /// };
    /// let outcome = store.rotate_refresh_recorded("j1", &[1; 32], 10, 30, next, audit).unwrap();
    /// assert!(matches!(outcome, Rotation::Rotated(_)));
    /// assert_eq!(store.audit_trail(Some("uma"), 0).unwrap()[0].event, "refresh");
    /// ```
    pub fn rotate_refresh_recorded(
        &self,
        jti: &str,
        token_hash: &[u8; 32],
        now: i64,
        grace: i64,
        next: impl Fn(&RefreshRecord) -> RefreshRecord,
        mut audit: impl FnMut(&Rotation) -> Option<AuditEvent>,
    ) -> Result<Rotation, StoreError> {
        self.counted(
            self.backend
                .rotate_refresh(jti, token_hash, now, grace, &next, &mut audit),
        )
    }

    /// Adds a user; [`StoreError::Conflict`] if the name is taken in any case.
    ///
    /// ```
    /// # let store = minijwt::store::Store::open_in_memory().unwrap();
    /// let user = store.create_user("bob", "hash", 5).unwrap();
    /// assert_eq!((user.username.as_str(), user.created_at), ("bob", 5));
    /// ```
    pub fn create_user(&self, username: &str, password_hash: &str, now: i64) -> Result<User, StoreError> {
        self.counted(self.backend.create_user(username, password_hash, now))
    }

    /// The user named `username` (in any case) and their password hash.
    ///
    /// ```
    /// # let store = minijwt::store::Store::open_in_memory().unwrap();
    /// store.create_user("Carol", "hash", 5).unwrap();
    /// assert_eq!(store.credentials("carol").unwrap().unwrap().user.username, "Carol");
    /// assert!(store.credentials("dave").unwrap().is_none());
    /// ```
    pub fn credentials(&self, username: &str) -> Result<Option<Credentials>, StoreError> {
        self.counted(self.backend.credentials(username))
    }

    /// Stores a new refresh token (a login).
    ///
    /// ```
    /// # use minijwt::{auth::RefreshRecord, store::Store};
    /// # let store = Store::open_in_memory().unwrap();
    /// let user = store.create_user("erin", "hash", 0).unwrap();
    /// let record = RefreshRecord {
    ///     jti: "j1".into(), token_hash: [1; 32], user_id: user.id,
    ///     family: "f1".into(), issued_at: 0, expires_at: 100,
    /// };
    /// store.insert_refresh(&record).unwrap();
    /// ```
    pub fn insert_refresh(&self, record: &RefreshRecord) -> Result<(), StoreError> {
        self.counted(self.backend.insert_refresh(record))
    }

    /// Starts a session: its row, its first refresh token and, if given, the
    /// audit event that records the login, in one transaction. A full disk
    /// or an I/O error during the event's insert fails the whole login, with
    /// nothing kept; only an error that aborts just that insert leaves the
    /// session started without the event on SQLite (see
    /// [`Store::rotate_refresh_recorded`]).
    ///
    /// ```
    /// # use minijwt::{auth::RefreshRecord, store::Store};
    /// # let store = Store::open_in_memory().unwrap();
    /// # let user = store.create_user("gil", "hash", 0).unwrap();
    /// let first = RefreshRecord {
    ///     jti: "j1".into(), token_hash: [1; 32], user_id: user.id,
    ///     family: "s1".into(), issued_at: 5, expires_at: 100,
    /// };
    /// store.start_session(&first, "gil", "curl/8", None).unwrap();
    /// let sessions = store.sessions(user.id, 6).unwrap();
    /// assert_eq!((sessions[0].id.as_str(), sessions[0].user_agent.as_str()), ("s1", "curl/8"));
    /// ```
    /// Fails with [`StoreError::Conflict`] when user `first.user_id` is no
    /// longer `username` (deleted while the password was checked, its id
    /// maybe taken by a new user since).
    pub fn start_session(
        &self,
        first: &RefreshRecord,
        username: &str,
        user_agent: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<(), StoreError> {
        self.counted(self.backend.start_session(first, username, user_agent, audit))
    }

    /// The user's live sessions at `now` (a current refresh token neither
    /// revoked nor expired), the most recently used first.
    pub fn sessions(&self, user_id: i64, now: i64) -> Result<Vec<Session>, StoreError> {
        self.counted(self.backend.sessions(user_id, now))
    }

    /// Ends session `id` of `user_id` (its refresh tokens are revoked).
    /// Returns false when the user has no such session.
    pub fn revoke_session(&self, user_id: i64, id: &str, now: i64) -> Result<bool, StoreError> {
        self.counted(self.backend.revoke_session(user_id, id, now))
    }

    /// Ends every session of `user_id` but `keep`; returns how many refresh
    /// tokens were revoked.
    pub fn revoke_other_sessions(
        &self,
        user_id: i64,
        keep: Option<&str>,
        now: i64,
    ) -> Result<usize, StoreError> {
        self.counted(self.backend.revoke_other_sessions(user_id, keep, now))
    }

    /// Adds an event to the audit trail.
    ///
    /// ```
    /// # use minijwt::{auth::AuditEvent, store::Store};
    /// # let store = Store::open_in_memory().unwrap();
    /// let event = AuditEvent { at: 10, event: "login_ok".into(), user_id: Some(1),
    ///     username: Some("ann".into()), address: Some("192.0.2.1".into()), session: None };
    /// store.record(&event).unwrap();
    /// assert_eq!(store.audit_trail(Some("ANN"), 0).unwrap(), vec![event]);
    /// assert_eq!(store.prune_audit(11).unwrap(), 1);
    /// assert!(store.audit_trail(None, 0).unwrap().is_empty());
    /// ```
    pub fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.counted(self.backend.record(event))
    }

    /// The audit trail since `since` (Unix seconds), oldest first; only the
    /// events of `username` (any case) when given.
    pub fn audit_trail(&self, username: Option<&str>, since: i64) -> Result<Vec<AuditEvent>, StoreError> {
        self.counted(self.backend.audit_trail(username, since))
    }

    /// Deletes the audit events older than `before`; returns how many.
    pub fn prune_audit(&self, before: i64) -> Result<usize, StoreError> {
        self.counted(self.backend.prune_audit(before))
    }

    /// Replaces the password hash of `user_id`.
    pub fn set_password(&self, user_id: i64, password_hash: &str) -> Result<(), StoreError> {
        self.counted(self.backend.set_password(user_id, password_hash))
    }

    /// Revokes the family of refresh token `jti` (logout). Returns whether the
    /// token was known.
    ///
    /// ```
    /// # let store = minijwt::store::Store::open_in_memory().unwrap();
    /// assert!(!store.revoke_family_of("nope", &[0; 32], 5).unwrap());
    /// ```
    pub fn revoke_family_of(&self, jti: &str, token_hash: &[u8; 32], now: i64) -> Result<bool, StoreError> {
        self.counted(self.backend.revoke_family_of(jti, token_hash, now))
    }

    /// Revokes every refresh token of `user_id` (logout everywhere).
    ///
    /// ```
    /// # let store = minijwt::store::Store::open_in_memory().unwrap();
    /// assert_eq!(store.revoke_user(1, 5).unwrap(), 0);
    /// ```
    pub fn revoke_user(&self, user_id: i64, now: i64) -> Result<usize, StoreError> {
        self.counted(self.backend.revoke_user(user_id, now))
    }

    /// Adds a note for `user_id`.
    ///
    /// ```
    /// # let store = minijwt::store::Store::open_in_memory().unwrap();
    /// # let user = store.create_user("fay", "hash", 0).unwrap();
    /// let note = store.create_note(user.id, "hello", 7).unwrap();
    /// assert_eq!(store.note(user.id, note.id).unwrap(), Some(note));
    /// ```
    pub fn create_note(&self, user_id: i64, text: &str, now: i64) -> Result<Note, StoreError> {
        self.counted(self.backend.create_note(user_id, text, now))
    }

    /// The notes of `user_id`, newest first.
    ///
    /// ```
    /// # let store = minijwt::store::Store::open_in_memory().unwrap();
    /// # let user = store.create_user("gus", "hash", 0).unwrap();
    /// store.create_note(user.id, "old", 1).unwrap();
    /// store.create_note(user.id, "new", 2).unwrap();
    /// let texts: Vec<_> = store.notes(user.id).unwrap().into_iter().map(|n| n.text).collect();
    /// assert_eq!(texts, ["new", "old"]);
    /// ```
    pub fn notes(&self, user_id: i64) -> Result<Vec<Note>, StoreError> {
        self.counted(self.backend.notes(user_id))
    }

    /// Note `id` if it belongs to `user_id`.
    ///
    /// ```
    /// # let store = minijwt::store::Store::open_in_memory().unwrap();
    /// # let a = store.create_user("hal", "hash", 0).unwrap();
    /// # let b = store.create_user("ivy", "hash", 0).unwrap();
    /// let note = store.create_note(a.id, "mine", 1).unwrap();
    /// assert_eq!(store.note(b.id, note.id).unwrap(), None); // not yours: as if absent
    /// ```
    pub fn note(&self, user_id: i64, id: i64) -> Result<Option<Note>, StoreError> {
        self.counted(self.backend.note(user_id, id))
    }

    /// Deletes note `id` of `user_id`; returns whether it existed.
    ///
    /// ```
    /// # let store = minijwt::store::Store::open_in_memory().unwrap();
    /// # let a = store.create_user("jo", "hash", 0).unwrap();
    /// let note = store.create_note(a.id, "bye", 1).unwrap();
    /// assert!(store.delete_note(a.id, note.id).unwrap());
    /// assert!(!store.delete_note(a.id, note.id).unwrap());
    /// ```
    pub fn delete_note(&self, user_id: i64, id: i64) -> Result<bool, StoreError> {
        self.counted(self.backend.delete_note(user_id, id))
    }
}
