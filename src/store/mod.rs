//! SQLite persistence: users, refresh tokens (as hashes) and notes.
//!
//! The only module that runs SQL. Every method takes a connection from a small
//! bounded pool, so any number of threads may call it at once: SQLite in WAL
//! mode lets readers run beside the one writer, and `busy_timeout` makes a
//! second writer wait instead of failing. Past the pool's size, a caller waits
//! for a connection to come back rather than open one more.
//!
//! Times are Unix seconds, decided by the caller (the auth layer owns the clock).

use std::prelude::rust_2021::*;

mod schema;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, MAIN_DB};

/// How long a writer waits for another writer before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Users kept in [`Store::user_by_id`]'s cache before it starts over.
pub const MAX_CACHED_USERS: usize = 10_000;

/// SQLite connections open at once. The server serves each client on a
/// thread of its own, so more threads than this may want the database at
/// once: they wait for a connection rather than open one, since a new
/// connection starts with an empty statement cache and each keeps a page
/// cache of its own (up to 2 MB). Measured with 64 clients refreshing
/// (examples/loadgen.rs): opening past 16 idle ones cost 10% of refresh
/// throughput.
const MAX_CONNECTIONS: usize = 16;

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
    /// for too long, or its file is unreachable. Worth retrying later.
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

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            // Only a UNIQUE rule is a conflict the caller can explain (a name
            // taken); a failed CHECK, foreign key or trigger is a bug.
            Some(ErrorCode::ConstraintViolation) if breaks_uniqueness(&error) => StoreError::Conflict,
            Some(ErrorCode::DiskFull) => StoreError::Unavailable("database is full".into()),
            Some(ErrorCode::ReadOnly) => StoreError::Unavailable("database is read-only".into()),
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreError::Unavailable("database is busy".into())
            }
            Some(ErrorCode::CannotOpen | ErrorCode::SystemIoFailure | ErrorCode::PermissionDenied) => {
                StoreError::Unavailable(format!("database I/O failed: {error}"))
            }
            _ => StoreError::Internal(error.to_string()),
        }
    }
}

fn breaks_uniqueness(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error().map(|e| e.extended_code),
        Some(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
    )
}

/// A user as the rest of the program sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Row id; the `sub` of the user's tokens.
    pub id: i64,
    /// The name as registered (compared without regard to case).
    pub username: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// A user with the PHC string of their password hash, for logging in.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The user.
    pub user: User,
    /// Argon2id PHC string.
    pub password_hash: String,
}

/// One refresh token as stored: never the token, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    /// The token's `jti`.
    pub jti: String,
    /// SHA-256 of the token's text.
    pub token_hash: [u8; 32],
    /// Whose token it is.
    pub user_id: i64,
    /// One family per login; rotation keeps it.
    pub family: String,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds; a rotated token inherits its family's.
    pub expires_at: i64,
}

/// A live session: one login's refresh-token family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The family's id; access tokens carry it as `sid`.
    pub id: String,
    /// When the login happened (Unix seconds).
    pub created_at: i64,
    /// The last login or rotation.
    pub last_used_at: i64,
    /// When the family ends.
    pub expires_at: i64,
    /// The login's `User-Agent` (cut short by the caller).
    pub user_agent: String,
}

/// One entry of the audit trail: a security event. Never a password or token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Unix seconds.
    pub at: i64,
    /// What happened: `login_ok`, `login_failed`, `refresh`, `reuse_detected`, ...
    pub event: String,
    /// The user's id, when known.
    pub user_id: Option<i64>,
    /// The username, when known (kept after the user is deleted).
    pub username: Option<String>,
    /// The client's address, when known.
    pub address: Option<String>,
    /// The session (refresh-token family), when one is concerned.
    pub session: Option<String>,
}

/// What happened to a refresh token presented for rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current; it is now rotated and `0` was stored in its place.
    Rotated(RefreshRecord),
    /// No stored token has this `jti` and hash.
    Unknown,
    /// The token (or its family) was revoked.
    Revoked,
    /// The token had been rotated moments ago (within the grace window) and
    /// its successor, `0`, has not been used: a retry, answered with that
    /// same successor. Nothing was changed.
    Retried(RefreshRecord),
    /// The token had already been rotated: its whole family is now revoked.
    Reused,
    /// The family's lifetime is over.
    Expired,
}

/// A note: the per-user resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Row id.
    pub id: i64,
    /// The text.
    pub text: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// What [`Store::set_page_limit`] and [`Store::set_read_only`] ask of every
/// connection, as last applied to one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Limits {
    /// Pages; 0 means no cap.
    page_limit: u64,
    read_only: bool,
}

/// Where the data lives: a file, or memory (tests, fuzzing).
#[derive(Debug, Clone)]
enum Location {
    File(PathBuf),
    /// A shared-cache in-memory database; `keeper` holds it alive.
    Memory(String),
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
    location: Location,
    /// Connections not in use, each with the limits last applied to it.
    pool: Mutex<Pool>,
    /// Signalled when a connection goes back to the pool or is closed.
    returned: Condvar,
    /// See [`Store::set_page_limit`]; 0 means none.
    page_limit: AtomicU64,
    /// See [`Store::set_read_only`].
    read_only: AtomicBool,
    /// Taken by every write; see [`Store::write`].
    writer: Mutex<()>,
    /// Users by id; see [`Store::user_by_id`].
    users: RwLock<HashMap<i64, User>>,
    /// Users deleted so far; see [`Store::user_by_id`].
    deletions: AtomicU64,
    /// Operations that failed other than by a conflict; see [`Store::errors`].
    errors: AtomicU64,
    /// For an in-memory store: one connection always open, so the data lives.
    _keeper: Option<Mutex<Connection>>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// The database holds password hashes: it is created readable by its owner
/// only (0600), before SQLite opens it, and SQLite gives the `-wal` and
/// `-shm` files it creates the database's mode. An existing database and
/// those files lose any group and other permission bits. Best effort: where
/// the mode cannot be changed (a file of another user, an immutable one),
/// opening goes on, and SQLite says what it can and cannot do with the file.
#[cfg(unix)]
fn make_private(path: &Path) {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    if created.is_ok() {
        return;
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let Ok(meta) = std::fs::metadata(&file) else {
            continue;
        };
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            let _ = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode & 0o700));
        }
    }
}

#[cfg(not(unix))]
fn make_private(_: &Path) {}

/// A stored refresh token and what has happened to it.
struct RefreshRow {
    record: RefreshRecord,
    rotated_at: Option<i64>,
    revoked: bool,
    /// The `jti` of the token it was rotated into.
    replaced_by: Option<String>,
}

fn refresh_row(c: &Connection, jti: &str) -> Result<Option<RefreshRow>, StoreError> {
    Ok(query_row(
        c,
        "SELECT jti, token_hash, user_id, family, issued_at, expires_at,
                rotated_at, revoked_at IS NOT NULL, replaced_by
         FROM refresh_tokens WHERE jti = ?1",
        [jti],
        |row| {
            let hash: Vec<u8> = row.get(1)?;
            Ok(RefreshRow {
                record: RefreshRecord {
                    jti: row.get(0)?,
                    token_hash: hash.try_into().unwrap_or([0; 32]),
                    user_id: row.get(2)?,
                    family: row.get(3)?,
                    issued_at: row.get(4)?,
                    expires_at: row.get(5)?,
                },
                rotated_at: row.get(6)?,
                revoked: row.get(7)?,
                replaced_by: row.get(8)?,
            })
        },
    )
    .optional()?)
}

/// The connections not in use, and how many are open in all.
#[derive(Default)]
struct Pool {
    idle: Vec<(Connection, Limits)>,
    open: usize,
}

/// A connection taken from the pool; dropping it gives it back (or, unless
/// `keep` was set, closes it and frees its place), whatever happened while
/// it was out, a panic included.
struct Checkout<'s> {
    store: &'s Store,
    conn: Option<(Connection, Limits)>,
    keep: bool,
}

impl Drop for Checkout<'_> {
    fn drop(&mut self) {
        self.store.give_back(self.conn.take(), self.keep);
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema
    /// up to date.
    ///
    /// ```no_run
    /// let store = minijwt::store::Store::open("minijwt.db").unwrap();
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        make_private(path.as_ref());
        let store = Store {
            location: Location::File(path.as_ref().to_owned()),
            pool: Mutex::default(),
            returned: Condvar::new(),
            page_limit: AtomicU64::new(0),
            read_only: AtomicBool::new(false),
            writer: Mutex::new(()),
            users: RwLock::default(),
            deletions: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            _keeper: None,
        };
        store.run(false, |conn| {
            conn.pragma_update(None, "journal_mode", "WAL")?;
            schema::migrate(conn)
        })?;
        Ok(store)
    }

    /// A fresh private in-memory database, for tests and fuzzing.
    ///
    /// ```
    /// let store = minijwt::store::Store::open_in_memory().unwrap();
    /// assert!(store.ping().is_ok());
    /// ```
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let mut name = [0u8; 12];
        getrandom::fill(&mut name).map_err(|e| StoreError::Internal(e.to_string()))?;
        let uri = format!(
            "file:minijwt-{}?mode=memory&cache=shared",
            crate::base64url::encode(&name)
        );
        let mut keeper = open_connection(Path::new(&uri), true)?;
        schema::migrate(&mut keeper)?;
        Ok(Store {
            location: Location::Memory(uri),
            pool: Mutex::default(),
            returned: Condvar::new(),
            page_limit: AtomicU64::new(0),
            read_only: AtomicBool::new(false),
            writer: Mutex::new(()),
            users: RwLock::default(),
            deletions: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            _keeper: Some(Mutex::new(keeper)),
        })
    }

    /// Takes a connection: an idle one, a new one while fewer than
    /// [`MAX_CONNECTIONS`] are open, or else the next one given back (within
    /// [`POOL_WAIT`]).
    fn connect(&self, deadline: Instant) -> Result<Checkout<'_>, StoreError> {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        let pooled = loop {
            if let Some(idle) = pool.idle.pop() {
                break Some(idle);
            }
            if pool.open < MAX_CONNECTIONS {
                pool.open += 1;
                break None;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError::Unavailable("the database is busy".into()));
            }
            pool = match self.returned.wait_timeout(pool, left) {
                Ok((pool, _)) => pool,
                Err(poisoned) => poisoned.into_inner().0,
            };
        };
        drop(pool);
        // From here the checkout counts as open: if opening fails, or a
        // pragma does, dropping it gives its place back.
        let mut checkout = Checkout {
            store: self,
            conn: None,
            keep: false,
        };
        // A new connection has had nothing applied, but may share a pager
        // (in memory) that another connection capped: it gets both pragmas.
        let (conn, applied) = match pooled {
            Some((conn, applied)) => (conn, Some(applied)),
            None => match &self.location {
                Location::File(path) => (open_connection(path, false)?, None),
                Location::Memory(uri) => (open_connection(Path::new(uri), true)?, None),
            },
        };
        // Both pragmas belong to each connection: bring this one up to date.
        let wanted = Limits {
            page_limit: self.page_limit.load(Ordering::Relaxed),
            read_only: self.read_only.load(Ordering::Relaxed),
        };
        if applied.map(|a| a.page_limit) != Some(wanted.page_limit) {
            let pages = if wanted.page_limit == 0 {
                i64::from(u32::MAX - 1)
            } else {
                i64::try_from(wanted.page_limit).unwrap_or(i64::MAX)
            };
            conn.pragma_update_and_check(None, "max_page_count", pages, |row| row.get::<_, i64>(0))?;
        }
        if applied.map(|a| a.read_only) != Some(wanted.read_only) {
            conn.pragma_update(None, "query_only", wanted.read_only)?;
        }
        checkout.conn = Some((conn, wanted));
        Ok(checkout)
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
    /// store.set_page_limit(Some(1)); // below the current size: no page may be added
    /// let big = "x".repeat(10_000);
    /// assert_eq!(
    ///     store.create_note(user.id, &big, 0).unwrap_err(),
    ///     StoreError::Unavailable("database is full".into())
    /// );
    /// store.set_page_limit(None);
    /// assert!(store.create_note(user.id, &big, 0).is_ok());
    /// ```
    pub fn set_page_limit(&self, pages: Option<u64>) {
        self.page_limit.store(pages.unwrap_or(0), Ordering::Relaxed);
    }

    /// Makes the database read-only for this process (`PRAGMA query_only` on
    /// every connection), or writable again. A write then fails with
    /// [`StoreError::Unavailable`] ("database is read-only"), as it does when
    /// the file itself cannot be written; reads go on. Returns once the
    /// writes already under way have finished. For maintenance, and for
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
        // Every write holds the writers' turn: taking it waits them out.
        let _turn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        self.read_only.store(read_only, Ordering::Relaxed);
    }

    /// Takes back a connection from a [`Checkout`]: into the pool when it
    /// may be used again, closed otherwise.
    fn give_back(&self, conn: Option<(Connection, Limits)>, keep: bool) {
        // SQLite opens a file it cannot write read-only, for good: such a
        // connection would refuse writes after the file is writable again.
        let conn = conn.filter(|(c, _)| keep && !c.is_readonly(MAIN_DB).unwrap_or(true));
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        match conn {
            Some(conn) => pool.idle.push(conn),
            None => pool.open -= 1,
        }
        drop(pool);
        self.returned.notify_one();
    }

    /// Runs `f` on a pooled connection. A connection whose work panicked is
    /// dropped rather than returned to the pool.
    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        // A shared-cache in-memory database locks tables, and a reader that
        // meets a writer fails at once (SQLITE_LOCKED; no busy timeout
        // applies): in memory, every operation takes the writers' turn.
        self.run(matches!(self.location, Location::Memory(_)), f)
    }

    /// Runs `f` on a connection from the pool, after taking the writers'
    /// turn when `exclusive`. The connection is taken first, always: a
    /// thread holding the turn never waits for the pool, so the turn is
    /// held only while SQL runs, and no two threads can wait for each other.
    fn run<T>(
        &self,
        exclusive: bool,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.run_by(Instant::now() + POOL_WAIT, exclusive, false, f)
    }

    /// [`Store::run`] with the pool waited for until `deadline`; when
    /// `bounded`, the writers' turn too (else it is waited for as long as the
    /// write holding it takes, itself bounded by SQLite's busy timeout).
    /// Every failure other than a conflict is counted ([`Store::errors`]).
    fn run_by<T>(
        &self,
        deadline: Instant,
        exclusive: bool,
        bounded: bool,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let result = self.run_counted(deadline, exclusive, bounded, f);
        if matches!(result, Err(StoreError::Unavailable(_) | StoreError::Internal(_))) {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    fn run_counted<T>(
        &self,
        deadline: Instant,
        exclusive: bool,
        bounded: bool,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut checkout = self.connect(deadline)?;
        let _turn = match (exclusive, bounded) {
            (false, _) => None,
            (true, false) => Some(self.writer.lock().unwrap_or_else(|p| p.into_inner())),
            (true, true) => Some(self.turn_by(deadline)?),
        };
        let Some((conn, _)) = checkout.conn.as_mut() else {
            return Err(StoreError::Internal("no connection".into()));
        };
        let result = f(conn);
        // A connection that met a fault (a full or read-only disk, an I/O
        // error) is not kept: whatever state the fault left it in, a new one
        // costs a few microseconds and starts clean. One whose work panicked
        // is not kept either (`keep` stays false while unwinding).
        checkout.keep = !matches!(result, Err(StoreError::Unavailable(_)));
        result
    }

    /// The writers' turn, waited for until `deadline` at most.
    fn turn_by(&self, deadline: Instant) -> Result<std::sync::MutexGuard<'_, ()>, StoreError> {
        loop {
            match self.writer.try_lock() {
                Ok(turn) => return Ok(turn),
                Err(std::sync::TryLockError::Poisoned(p)) => return Ok(p.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(std::sync::TryLockError::WouldBlock) => {
                    return Err(StoreError::Unavailable("the database is busy".into()))
                }
            }
        }
    }

    /// Like [`Store::with`] for work that writes: writers of this process take
    /// turns on a mutex before SQLite's lock, rather than meet in SQLite's
    /// busy handler, which makes a writer that finds the lock taken sleep and
    /// retry (1 ms, 2 ms, 5 ms, ...). Measured with 64 clients refreshing
    /// (examples/loadgen.rs): p99 14–21 ms with the mutex, 39 ms without, at
    /// about the same throughput. `busy_timeout` still covers other processes.
    fn write<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.run(true, f)
    }

    /// Checks the database answers.
    ///
    /// ```
    /// # let store = minijwt::store::Store::open_in_memory().unwrap();
    /// assert!(store.ping().is_ok());
    /// ```
    pub fn ping(&self) -> Result<(), StoreError> {
        self.with(|c| Ok(query_row(c, "SELECT count(*) FROM users", [], |_| Ok(()))?))
    }

    /// The readiness check: one trivial read of the database file (a row of
    /// `users` at most, whatever their number), answered or failed within
    /// [`POOL_WAIT`] in all: the wait for a connection, for the writers'
    /// turn (in memory) and SQLite's busy wait share that one deadline.
    ///
    /// ```
    /// # let store = minijwt::store::Store::open_in_memory().unwrap();
    /// assert!(store.ready().is_ok());
    /// ```
    pub fn ready(&self) -> Result<(), StoreError> {
        let deadline = Instant::now() + POOL_WAIT;
        let exclusive = matches!(self.location, Location::Memory(_));
        self.run_by(deadline, exclusive, true, |c| {
            let left = deadline.saturating_duration_since(Instant::now());
            c.busy_timeout(left.max(Duration::from_millis(1)))?;
            let read = query_row(c, "SELECT 1 FROM users LIMIT 1", [], |_| Ok(())).optional();
            // Restored before the connection goes back to the pool.
            c.busy_timeout(BUSY_TIMEOUT)?;
            read?;
            Ok(())
        })
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

    /// Adds a user; [`StoreError::Conflict`] if the name is taken in any case.
    ///
    /// ```
    /// # let store = minijwt::store::Store::open_in_memory().unwrap();
    /// let user = store.create_user("bob", "hash", 5).unwrap();
    /// assert_eq!((user.username.as_str(), user.created_at), ("bob", 5));
    /// ```
    pub fn create_user(&self, username: &str, password_hash: &str, now: i64) -> Result<User, StoreError> {
        self.write(|c| {
            execute(
                c,
                "INSERT INTO users (username, password_hash, created_at) VALUES (?1, ?2, ?3)",
                params![username, password_hash, now],
            )?;
            Ok(User {
                id: c.last_insert_rowid(),
                username: username.to_owned(),
                created_at: now,
            })
        })
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
        self.with(|c| {
            Ok(query_row(
                c,
                "SELECT id, username, created_at, password_hash FROM users WHERE username = ?1",
                [username],
                |row| {
                    Ok(Credentials {
                        user: User {
                            id: row.get(0)?,
                            username: row.get(1)?,
                            created_at: row.get(2)?,
                        },
                        password_hash: row.get(3)?,
                    })
                },
            )
            .optional()?)
        })
    }

    /// The user with row id `id`.
    ///
    /// A user's id, name and creation time never change (no endpoint renames
    /// one), so found users are cached: `GET /me` then costs no SQL. A
    /// deleted user leaves the cache at once, and a lookup that raced with a
    /// deletion does not put them back (`deletions` counts them). The cache
    /// is bounded by [`MAX_CACHED_USERS`] and starts over when full.
    ///
    /// ```
    /// # let store = minijwt::store::Store::open_in_memory().unwrap();
    /// assert!(store.user_by_id(42).unwrap().is_none());
    /// let user = store.create_user("kim", "hash", 3).unwrap();
    /// assert_eq!(store.user_by_id(user.id).unwrap(), Some(user.clone()));
    /// assert_eq!(store.user_by_id(user.id).unwrap(), Some(user)); // from the cache
    /// ```
    pub fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        if let Some(user) = self.users.read().unwrap_or_else(|p| p.into_inner()).get(&id) {
            return Ok(Some(user.clone()));
        }
        let deletions = self.deletions.load(Ordering::SeqCst);
        let found = self.with(|c| {
            Ok(query_row(
                c,
                "SELECT id, username, created_at FROM users WHERE id = ?1",
                [id],
                |row| {
                    Ok(User {
                        id: row.get(0)?,
                        username: row.get(1)?,
                        created_at: row.get(2)?,
                    })
                },
            )
            .optional()?)
        })?;
        if let Some(user) = &found {
            let mut users = self.users.write().unwrap_or_else(|p| p.into_inner());
            if users.len() >= MAX_CACHED_USERS {
                users.clear();
            }
            // A user deleted since this lookup began may be the one read.
            if self.deletions.load(Ordering::SeqCst) == deletions {
                users.insert(id, user.clone());
            }
        }
        Ok(found)
    }

    /// Stores a new refresh token (a login).
    ///
    /// ```
    /// # use minijwt::store::{RefreshRecord, Store};
    /// # let store = Store::open_in_memory().unwrap();
    /// let user = store.create_user("erin", "hash", 0).unwrap();
    /// let record = RefreshRecord {
    ///     jti: "j1".into(), token_hash: [1; 32], user_id: user.id,
    ///     family: "f1".into(), issued_at: 0, expires_at: 100,
    /// };
    /// store.insert_refresh(&record).unwrap();
    /// ```
    pub fn insert_refresh(&self, record: &RefreshRecord) -> Result<(), StoreError> {
        self.write(|c| {
            insert_refresh(c, record)?;
            Ok(())
        })
    }

    /// Starts a session: its row, its first refresh token and, if given, the
    /// audit event that records the login, in one transaction. A full disk
    /// or an I/O error during the event's insert fails the whole login, with
    /// nothing kept; only an error that aborts just that insert leaves the
    /// session started without the event (see
    /// [`Store::rotate_refresh_recorded`]).
    ///
    /// ```
    /// # use minijwt::store::{RefreshRecord, Store};
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
        self.write(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let started = execute(
                &tx,
                "INSERT INTO sessions (id, user_id, created_at, last_used_at, user_agent)
                 SELECT ?1, ?2, ?3, ?3, ?4 WHERE EXISTS (SELECT 1 FROM users WHERE id = ?2 AND username = ?5)",
                params![first.family, first.user_id, first.issued_at, user_agent, username],
            )?;
            if started == 0 {
                return Err(StoreError::Conflict);
            }
            insert_refresh(&tx, first)?;
            if let Some(event) = audit {
                record_within(&tx, event)?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// The user's live sessions at `now` (a current refresh token neither
    /// revoked nor expired), the most recently used first.
    pub fn sessions(&self, user_id: i64, now: i64) -> Result<Vec<Session>, StoreError> {
        self.with(|c| {
            Ok(query_all(
                c,
                "SELECT s.id, s.created_at, s.last_used_at, MAX(t.expires_at), s.user_agent
                 FROM sessions s JOIN refresh_tokens t ON t.family = s.id
                 WHERE s.user_id = ?1 AND t.rotated_at IS NULL AND t.revoked_at IS NULL
                       AND t.expires_at > ?2
                 GROUP BY s.id ORDER BY s.last_used_at DESC, s.id",
                params![user_id, now],
                |row| {
                    Ok(Session {
                        id: row.get(0)?,
                        created_at: row.get(1)?,
                        last_used_at: row.get(2)?,
                        expires_at: row.get(3)?,
                        user_agent: row.get(4)?,
                    })
                },
            )?)
        })
    }

    /// Ends session `id` of `user_id` (its refresh tokens are revoked).
    /// Returns false when the user has no such session.
    pub fn revoke_session(&self, user_id: i64, id: &str, now: i64) -> Result<bool, StoreError> {
        self.write(|c| {
            let known = query_row(
                c,
                "SELECT count(*) FROM sessions WHERE id = ?1 AND user_id = ?2",
                params![id, user_id],
                |row| row.get::<_, i64>(0),
            )? > 0;
            if known {
                revoke_family(c, id, now)?;
            }
            Ok(known)
        })
    }

    /// Ends every session of `user_id` but `keep`; returns how many refresh
    /// tokens were revoked.
    pub fn revoke_other_sessions(
        &self,
        user_id: i64,
        keep: Option<&str>,
        now: i64,
    ) -> Result<usize, StoreError> {
        self.write(|c| {
            Ok(execute(
                c,
                "UPDATE refresh_tokens SET revoked_at = ?1
                 WHERE user_id = ?2 AND revoked_at IS NULL AND family IS NOT ?3",
                params![now, user_id, keep],
            )?)
        })
    }

    /// Adds an event to the audit trail.
    ///
    /// ```
    /// # use minijwt::store::{AuditEvent, Store};
    /// # let store = Store::open_in_memory().unwrap();
    /// let event = AuditEvent { at: 10, event: "login_ok".into(), user_id: Some(1),
    ///     username: Some("ann".into()), address: Some("192.0.2.1".into()), session: None };
    /// store.record(&event).unwrap();
    /// assert_eq!(store.audit_trail(Some("ANN"), 0).unwrap(), vec![event]);
    /// assert_eq!(store.prune_audit(11).unwrap(), 1);
    /// assert!(store.audit_trail(None, 0).unwrap().is_empty());
    /// ```
    pub fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.write(|c| insert_audit(c, event))
    }

    /// The audit trail since `since` (Unix seconds), oldest first; only the
    /// events of `username` (any case) when given.
    pub fn audit_trail(&self, username: Option<&str>, since: i64) -> Result<Vec<AuditEvent>, StoreError> {
        self.with(|c| {
            Ok(query_all(
                c,
                "SELECT at, event, user_id, username, address, session FROM audit
                 WHERE at >= ?1 AND (?2 IS NULL OR username = ?2 COLLATE NOCASE)
                 ORDER BY at, id",
                params![since, username],
                |row| {
                    Ok(AuditEvent {
                        at: row.get(0)?,
                        event: row.get(1)?,
                        user_id: row.get(2)?,
                        username: row.get(3)?,
                        address: row.get(4)?,
                        session: row.get(5)?,
                    })
                },
            )?)
        })
    }

    /// Deletes the audit events older than `before`; returns how many.
    pub fn prune_audit(&self, before: i64) -> Result<usize, StoreError> {
        self.write(|c| Ok(execute(c, "DELETE FROM audit WHERE at < ?1", [before])?))
    }

    /// Replaces the password hash of `user_id`.
    pub fn set_password(&self, user_id: i64, password_hash: &str) -> Result<(), StoreError> {
        self.write(|c| {
            execute(
                c,
                "UPDATE users SET password_hash = ?1 WHERE id = ?2",
                params![password_hash, user_id],
            )?;
            Ok(())
        })
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
        let deleted = self.write(|c| Ok(execute(c, "DELETE FROM users WHERE id = ?1", [user_id])? > 0))?;
        let mut users = self.users.write().unwrap_or_else(|p| p.into_inner());
        self.deletions.fetch_add(1, Ordering::SeqCst);
        users.remove(&user_id);
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
    /// # use minijwt::store::{RefreshRecord, Rotation, Store};
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
        next: impl FnOnce(&RefreshRecord) -> RefreshRecord,
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
    /// [`Store::record`].
    ///
    /// ```
    /// # use minijwt::store::{AuditEvent, RefreshRecord, Rotation, Store};
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
        next: impl FnOnce(&RefreshRecord) -> RefreshRecord,
        audit: impl FnOnce(&Rotation) -> Option<AuditEvent>,
    ) -> Result<Rotation, StoreError> {
        self.write(|c| {
            // IMMEDIATE takes the write lock first, so two rotations of one
            // token cannot both read it as current.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let outcome = match refresh_row(&tx, jti)? {
                Some(row) if !constant_time_eq(&row.record.token_hash, token_hash) => Rotation::Unknown,
                None => Rotation::Unknown,
                Some(row) if row.revoked => Rotation::Revoked,
                Some(RefreshRow {
                    record,
                    rotated_at: Some(rotated_at),
                    replaced_by,
                    ..
                }) => {
                    // A retry of a rotation whose answer was lost (or two
                    // tabs at once) within the grace window, while the
                    // successor is unused: the same successor again.
                    let unused_successor = match replaced_by {
                        Some(successor) if now - rotated_at < grace => refresh_row(&tx, &successor)?
                            .filter(|s| s.rotated_at.is_none() && !s.revoked && s.record.expires_at > now),
                        _ => None,
                    };
                    match unused_successor {
                        Some(successor) => Rotation::Retried(successor.record),
                        None => {
                            revoke_family(&tx, &record.family, now)?;
                            Rotation::Reused
                        }
                    }
                }
                Some(row) if row.record.expires_at <= now => Rotation::Expired,
                Some(row) => {
                    let new = next(&row.record);
                    execute(
                        &tx,
                        "UPDATE refresh_tokens SET rotated_at = ?1, replaced_by = ?2 WHERE jti = ?3",
                        params![now, new.jti, jti],
                    )?;
                    insert_refresh(&tx, &new)?;
                    execute(
                        &tx,
                        "UPDATE sessions SET last_used_at = ?1 WHERE id = ?2",
                        params![now, new.family],
                    )?;
                    Rotation::Rotated(new)
                }
            };
            if let Some(event) = audit(&outcome) {
                record_within(&tx, &event)?;
            }
            tx.commit()?;
            Ok(outcome)
        })
    }

    /// Revokes the family of refresh token `jti` (logout). Returns whether the
    /// token was known.
    ///
    /// ```
    /// # let store = minijwt::store::Store::open_in_memory().unwrap();
    /// assert!(!store.revoke_family_of("nope", &[0; 32], 5).unwrap());
    /// ```
    pub fn revoke_family_of(&self, jti: &str, token_hash: &[u8; 32], now: i64) -> Result<bool, StoreError> {
        self.write(|c| {
            let family: Option<(String, Vec<u8>)> = c
                .query_row(
                    "SELECT family, token_hash FROM refresh_tokens WHERE jti = ?1",
                    [jti],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            match family {
                Some((family, hash)) if constant_time_eq(&hash, token_hash) => {
                    revoke_family(c, &family, now)?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
    }

    /// Revokes every refresh token of `user_id` (logout everywhere).
    ///
    /// ```
    /// # let store = minijwt::store::Store::open_in_memory().unwrap();
    /// assert_eq!(store.revoke_user(1, 5).unwrap(), 0);
    /// ```
    pub fn revoke_user(&self, user_id: i64, now: i64) -> Result<usize, StoreError> {
        self.write(|c| {
            Ok(execute(
                c,
                "UPDATE refresh_tokens SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL",
                params![now, user_id],
            )?)
        })
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
        self.write(|c| {
            execute(
                c,
                "INSERT INTO notes (user_id, text, created_at) VALUES (?1, ?2, ?3)",
                params![user_id, text, now],
            )?;
            Ok(Note {
                id: c.last_insert_rowid(),
                text: text.to_owned(),
                created_at: now,
            })
        })
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
        self.with(|c| {
            Ok(query_all(
                c,
                "SELECT id, text, created_at FROM notes WHERE user_id = ?1 ORDER BY created_at DESC, id DESC",
                [user_id],
                |row| {
                    Ok(Note {
                        id: row.get(0)?,
                        text: row.get(1)?,
                        created_at: row.get(2)?,
                    })
                },
            )?)
        })
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
        self.with(|c| {
            Ok(query_row(
                c,
                "SELECT id, text, created_at FROM notes WHERE id = ?1 AND user_id = ?2",
                [id, user_id],
                |row| {
                    Ok(Note {
                        id: row.get(0)?,
                        text: row.get(1)?,
                        created_at: row.get(2)?,
                    })
                },
            )
            .optional()?)
        })
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
        self.write(|c| {
            Ok(execute(
                c,
                "DELETE FROM notes WHERE id = ?1 AND user_id = ?2",
                [id, user_id],
            )? == 1)
        })
    }
}

/// `query_row` through the connection's statement cache: parsing the SQL on
/// every call would cost more than running it.
fn query_row<T, P: rusqlite::Params>(
    c: &Connection,
    sql: &str,
    params: P,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    c.prepare_cached(sql)?.query_row(params, f)
}

/// Every row of a query through the statement cache, each mapped by `f`.
fn query_all<T, P: rusqlite::Params>(
    c: &Connection,
    sql: &str,
    params: P,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    c.prepare_cached(sql)?.query_map(params, f)?.collect()
}

/// `execute` through the statement cache.
fn execute<P: rusqlite::Params>(c: &Connection, sql: &str, params: P) -> rusqlite::Result<usize> {
    c.prepare_cached(sql)?.execute(params)
}

fn open_connection(location: &Path, uri: bool) -> Result<Connection, StoreError> {
    let mut flags =
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if uri {
        flags |= OpenFlags::SQLITE_OPEN_URI;
    }
    let conn = Connection::open_with_flags(location, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // In WAL mode NORMAL survives a crash of this process (kill -9): a commit
    // is in the WAL file before the call returns. Only power loss can undo the
    // last commits.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

fn insert_refresh(c: &Connection, r: &RefreshRecord) -> Result<(), StoreError> {
    execute(
        c,
        "INSERT INTO refresh_tokens (jti, token_hash, user_id, family, issued_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            r.jti,
            &r.token_hash[..],
            r.user_id,
            r.family,
            r.issued_at,
            r.expires_at
        ],
    )?;
    Ok(())
}

fn insert_audit(c: &Connection, event: &AuditEvent) -> Result<(), StoreError> {
    execute(
        c,
        "INSERT INTO audit (at, event, user_id, username, address, session)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            event.at,
            event.event,
            event.user_id,
            event.username,
            event.address,
            event.session
        ],
    )?;
    Ok(())
}

/// Inserts `event` inside the open transaction `tx`, best effort where SQLite
/// allows it. An error that aborts only the insert (a constraint,
/// `SQLITE_TOOBIG`, a trigger's `RAISE(ABORT)`) leaves the transaction open:
/// the error is dropped and the transaction goes on without the event. On
/// `SQLITE_FULL`, `SQLITE_IOERR` or `SQLITE_NOMEM`, SQLite rolls back the
/// whole transaction for a one-row insert without triggers (it has no
/// statement journal to undo just that statement): `tx` is back in
/// autocommit, nothing is left to commit, and the error is returned.
fn record_within(tx: &Connection, event: &AuditEvent) -> Result<(), StoreError> {
    match insert_audit(tx, event) {
        Err(e) if tx.is_autocommit() => Err(e),
        _ => Ok(()),
    }
}

fn revoke_family(c: &Connection, family: &str, now: i64) -> Result<(), StoreError> {
    execute(
        c,
        "UPDATE refresh_tokens SET revoked_at = ?1 WHERE family = ?2 AND revoked_at IS NULL",
        params![now, family],
    )?;
    Ok(())
}

/// Compares two hashes without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
